/*
 * Congestion control (RFC 5681) with pluggable algorithms.
 *
 * Who does what:
 *
 *   tcp_cc.c   the parts every algorithm shares: the initial window (RFC
 *              6928), restart after idle (RFC 5681 §4.1), loss detection
 *              and recovery (fast retransmit and fast recovery of RFC 5681
 *              §3.2 with NewReno's partial ACKs, RFC 6582; SACK-based
 *              recovery, RFC 6675, with tcp_sack.c), limited transmit (RFC
 *              3042), the loss window after a timeout, and how much the
 *              window lets output send.
 *   an algorithm (cc_newreno.c, cc_cubic.c): how cwnd grows on ACKs and
 *              how far it shrinks on a loss (ssthresh). It sees the
 *              connection only through the hooks below.
 *   a model-based algorithm (cc_bbr.c) also takes every ACK's delivery
 *              sample (on_ack_sample) and may keep cwnd itself during
 *              fast recovery (owns_recovery_cwnd).
 *
 * Adding an algorithm: write cc_<name>.c defining a const struct
 * tcp_cc_ops, give it a value in enum ustack_tcp_cc (ustack/socket.h) and
 * one line in the table of tcp_cc.c. Its per-connection state lives in
 * c->cc.priv (TCP_CC_PRIV_BYTES, no allocation); tcp_cc_priv() hands it
 * over typed.
 *
 * Units: cwnd, ssthresh and every byte count are bytes of sequence space;
 * SMSS is c->snd_mss. Time is the stack's `now` in microseconds.
 */
#ifndef USTACK_TCP_CC_H
#define USTACK_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

struct ustack;
struct tcp_conn;

/* How a loss was detected. */
enum tcp_cc_signal {
    TCP_CC_LOSS_FAST, /* duplicate ACKs or SACK (fast retransmit) */
    TCP_CC_LOSS_RTO,  /* the retransmission timer expired */
};

/* What one ACK told the sender, for on_ack_sample. Taken by tcp_cc.c
 * around input's processing of the ACK (tcp_cc_ack_begin/_end). */
struct tcp_cc_sample {
    uint32_t delivered;    /* bytes that newly reached the peer: newly
                              acknowledged cumulatively or newly SACKed,
                              each byte counted once */
    uint32_t prior_flight; /* tcp_cc_in_flight() before the ACK */
    uint32_t in_flight;    /* ... after it (loss recovery ran) */
    bool cwnd_limited;     /* before the ACK the flight was within one
                              SMSS of cwnd (cwnd was the limit) */
    bool app_limited;      /* before the ACK nothing unsent waited and
                              cwnd had room: the application was the limit */
    bool queue_empty;      /* nothing unsent waits in the send buffer (the
                              FIN aside) */
};

struct tcp_cc_ops {
    const char *name; /* "cubic", "newreno", "bbr" */
    /* The connection starts using the algorithm: at establishment, or
     * when the socket option switches algorithms mid-connection. cwnd and
     * ssthresh are already set; the private state is zeroed. */
    void (*init)(struct tcp_conn *c, uint64_t now);
    /* An ACK newly acknowledged `acked` bytes outside fast recovery while
     * the congestion window was what limited sending: grow cwnd (slow
     * start below ssthresh, else congestion avoidance). srtt_us is the
     * smoothed RTT (0 before the first sample). */
    void (*on_ack)(struct tcp_conn *c, uint32_t acked, uint32_t srtt_us,
                   uint64_t now);
    /* A loss: set ssthresh from `flight` (the bytes in flight when it was
     * detected, RFC 5681's FlightSize) and, for TCP_CC_LOSS_FAST, cwnd.
     * After TCP_CC_LOSS_RTO the caller sets cwnd to the loss window (one
     * segment, RFC 5681 §3.1) whatever the algorithm did. */
    void (*on_congestion)(struct tcp_conn *c, enum tcp_cc_signal sig,
                          uint32_t flight, uint64_t now);
    /* Fast recovery ended (an ACK reached the recovery point); cwnd has
     * its post-recovery value. */
    void (*on_recovery_exit)(struct tcp_conn *c, uint64_t now);
    /* cwnd was cut to the restart window after an idle period. */
    void (*on_idle_restart)(struct tcp_conn *c, uint64_t now);
    /* Optional (NULL: never called). Every acceptable ACK of an
     * established connection, in and out of recovery, after loss
     * recovery and on_ack have seen it. */
    void (*on_ack_sample)(struct tcp_conn *c, const struct tcp_cc_sample *s,
                          uint64_t now);
    /* The algorithm keeps cwnd itself during fast recovery: tcp_cc.c
     * neither inflates nor deflates it (RFC 5681 §3.2 steps 3-4, RFC 6582
     * §3.2 step 5) nor sets it from ssthresh when recovery ends (RFC 6582
     * step 6). The timeout's loss window stays. */
    bool owns_recovery_cwnd;
};

/* Per-connection private state of the algorithm. */
#define TCP_CC_PRIV_BYTES 64

/* Largest cwnd: keeps every product in the algorithms inside 64 bits. */
#define TCP_CC_CWND_MAX (1u << 30)

/* No threshold yet: "the initial value of ssthresh SHOULD be set
 * arbitrarily high" (RFC 5681 §3.1). */
#define TCP_CC_SSTHRESH_NONE UINT32_MAX

/* Congestion state of one connection (c->cc). Owned by tcp_cc.c; the
 * algorithm writes cwnd and ssthresh through its hooks. */
struct tcp_cc {
    const struct tcp_cc_ops *ops;
    uint8_t algo;          /* enum ustack_tcp_cc value of ops */
    uint32_t cwnd;         /* congestion window; 0 until established */
    uint32_t ssthresh;     /* slow start threshold */
    uint32_t ca_acked;     /* RFC 3465 bytes_acked in congestion avoidance */
    uint64_t last_send;    /* when data last went out (restart after idle) */
    union {
        uint64_t align;
        unsigned char bytes[TCP_CC_PRIV_BYTES];
    } priv;
};

/* The algorithm's state, typed: `struct cubic *s = tcp_cc_priv(c);`. */
#define tcp_cc_priv(c) ((void *)(c)->cc.priv.bytes)

/* The algorithms (one file each). */
extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;
extern const struct tcp_cc_ops tcp_cc_bbr;

/* ---- Shared rules the algorithms build on (tcp_cc.c) --------------------- */

/* Slow start (RFC 5681 §3.1) with appropriate byte counting (RFC 3465
 * §2.2): cwnd += min(acked, L), L = 2*SMSS, or 1*SMSS in the slow start
 * that follows a timeout (§2.3). */
void tcp_cc_slow_start(struct tcp_conn *c, uint32_t acked);
/* Congestion avoidance with byte counting (RFC 5681 §3.1, RFC 3465
 * §2.1): one SMSS more each time a whole cwnd of bytes was acknowledged. */
void tcp_cc_reno_avoid(struct tcp_conn *c, uint32_t acked);
/* cwnd += n, capped at TCP_CC_CWND_MAX. */
void tcp_cc_grow(struct tcp_conn *c, uint32_t n);

/* ---- What the rest of src/tcp calls (tcp_cc.c) --------------------------- */

struct ustack_tcp_config;
/* An unknown or unset cfg->congestion becomes the default, CUBIC. */
void tcp_cc_config_defaults(struct ustack_tcp_config *cfg);
/* The algorithm for value algo (enum ustack_tcp_cc; 0: the stack's
 * default), NULL if there is none. */
const struct tcp_cc_ops *tcp_cc_lookup(const struct ustack *st, int algo);
/* The stack's default algorithm (config tcp.congestion). */
const struct tcp_cc_ops *tcp_cc_default(const struct ustack *st);
/* Use algorithm ops for c (a new connection, or a switch). */
void tcp_cc_select(struct ustack *st, struct tcp_conn *c,
                   const struct tcp_cc_ops *ops);
/* c reached ESTABLISHED: initial window (RFC 6928, RFC 5681 §3.1). */
void tcp_cc_established(struct ustack *st, struct tcp_conn *c);

/* Bytes in flight as congestion control counts them: sent (from SND.UNA
 * to the output cursor) and neither acknowledged nor SACKed; during SACK
 * recovery RFC 6675's pipe (SetPipe). */
uint32_t tcp_cc_in_flight(const struct tcp_conn *c);
/* How many more bytes the congestion window lets output send now,
 * limited transmit (RFC 3042) included. */
uint32_t tcp_cc_send_room(const struct tcp_conn *c);
/* Output is about to send with nothing in flight: restart after idle
 * (RFC 5681 §4.1). */
void tcp_cc_before_send(struct ustack *st, struct tcp_conn *c);
/* [seq, seq+len) went out (new data or a retransmission). */
void tcp_cc_sent(struct ustack *st, struct tcp_conn *c, uint32_t seq,
                 uint32_t len);

/* An ACK moved SND.UNA forward by `acked`; `flight` was
 * tcp_cc_in_flight() before it. Grows cwnd, or carries fast recovery on
 * (partial ACKs) or ends it (RFC 5681 §3.2, RFC 6582 §3.2, RFC 6675 §5). */
void tcp_cc_new_ack(struct ustack *st, struct tcp_conn *c, uint32_t acked,
                    uint32_t flight);
/* What congestion control notes before input processes an ACK, to build
 * the algorithm's tcp_cc_sample afterwards. */
struct tcp_cc_ack_mark {
    bool wanted;          /* the algorithm has on_ack_sample */
    bool cwnd_limited, app_limited, queue_empty;
    uint32_t flight;      /* tcp_cc_in_flight() */
    uint32_t sacked;      /* SACKed bytes on the scoreboard */
    uint64_t bytes_acked; /* c->bytes_acked */
};
/* Input calls these around its processing of an acceptable ACK (RFC
 * 9293 §3.10.7.4, fifth step): begin before, end after (which hands the
 * sample to the algorithm's on_ack_sample, if it has one). */
void tcp_cc_ack_begin(const struct tcp_conn *c, struct tcp_cc_ack_mark *m);
void tcp_cc_ack_end(struct ustack *st, struct tcp_conn *c,
                    const struct tcp_cc_ack_mark *m);
/* A duplicate ACK (RFC 5681 §2, or RFC 6675 §2 with SACK): limited
 * transmit, fast retransmit, fast recovery. */
void tcp_cc_dup_ack(struct ustack *st, struct tcp_conn *c);
/* The segment at SND.UNA was found lost by other means than DupThresh
 * (tcp_tlp.c: SACKed data above it, and no ACK for it within the probe
 * timeout): fast retransmit and recovery as on the third duplicate ACK,
 * unless recovering already. */
void tcp_cc_loss_detected(struct ustack *st, struct tcp_conn *c);
/* The retransmission timer expired with data outstanding, before the
 * retransmission: ssthresh (once per loss, RFC 5681 §3.1 eq. 4), the loss
 * window, the SACK scoreboard forgotten (RFC 6675 §5.1). */
void tcp_cc_timeout(struct ustack *st, struct tcp_conn *c);
/* RFC 6582 §3.2 step 5 and §4.1 ("Impatient"): after the first partial
 * ACK of a NewReno recovery, later partial ACKs do not restart the
 * retransmission timer. True when an ACK up to `ack` must leave it. */
bool tcp_cc_keep_rtx_timer(const struct tcp_conn *c, uint32_t ack);

#endif
