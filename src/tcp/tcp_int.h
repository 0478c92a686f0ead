/*
 * TCP internals shared by the files of src/tcp (RFC 9293).
 *
 * The files follow the RFC's own division:
 *   tcp_input.c    §3.10.7   SEGMENT ARRIVES, step by step
 *   tcp_user.c     §3.10.1-6 OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS
 *   tcp_output.c   building and sending segments
 *   tcp_timer.c    §3.10.8   timeouts; RFC 6298 retransmission timer
 *   tcp_reass.c    §3.10.7.4 holding out-of-order text (seventh step)
 *   tcp_options.c  §3.2      options: MSS; RFC 7323 window scale and
 *                            timestamps; RFC 2018 SACK
 *   tcp_sack.c     RFC 6675  the SACK scoreboard, SACK-based recovery
 *   tcp_cc.c       RFC 5681, RFC 6582: what every congestion control
 *                            algorithm shares (cc.h says who does what)
 *   cc_cubic.c     RFC 9438  CUBIC, the default
 *   cc_newreno.c   RFC 5681  NewReno
 *   tcp_tlp.c      RFC 8985 §7 tail loss probe; lost retransmissions
 *   tcp_conn.c     connection blocks, lookup tables, ports (RFC 6056),
 *                  listener queues
 *   tcp_hash.h     the keyed hash of a four-tuple (SipHash)
 *   isn.c          RFC 6528  initial sequence numbers
 *   syncookie.c    RFC 4987 §3.6 SYN cookies
 *   tcp_batch.c    batched input: output once per batch of frames
 *   tcp_info.c     the connection listing for observers
 *   tcp_icmp.c     RFC 1122 §4.2.3.9, RFC 1191, RFC 5927: ICMP errors
 *   tcp_trace.c    per-connection trace rows for observers
 *   seq.h          §3.4      sequence number arithmetic
 */
#ifndef USTACK_TCP_TCP_INT_H
#define USTACK_TCP_TCP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ratelimit.h"
#include "core/ringbuf.h"
#include "core/siphash.h"
#include "core/stack.h"
#include "core/timerheap.h"
#include "tcp/cc.h"
#include "tcp/seq.h"
#include "tcp/tcp.h"
#include "tcp/tcp_sack.h"
#include "tcp/tcp_tlp.h"
#include "tcp/tcp_trace.h"

/* ---- The wire format (RFC 9293 §3.1) ------------------------------------ */

#define TCP_HDR_MIN 20 /* header without options */
#define TCP_HDR_MAX 60 /* data offset is 4 bits of 32-bit words */

/* Control bits. */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

/* The largest window a 16-bit field can carry: in SYNs (never scaled)
 * and on connections without window scaling this caps what we advertise. */
#define TCP_MAX_WINDOW 65535u
/* RFC 7323 §2.3: the largest shift; windows stay below 2^30 so that the
 * sequence space test of old and new data keeps working. */
#define TCP_MAX_WSCALE 14

/* RFC 9293 §3.7.1: the send MSS when the peer sends no MSS option. */
#define TCP_DEFAULT_MSS 536
/* Smallest peer MSS we honour: a peer asking for tiny segments would make
 * us spend a packet per handful of bytes (a resource attack). */
#define TCP_MIN_MSS 64

/* Most SACK blocks one segment can carry: 4 fill the 40-byte option
 * space (2 + 4 * 8 = 34 bytes), 3 when timestamps take 12 (RFC 2018 §3). */
#define TCP_SACK_MAX_BLOCKS 4

/* Options seen in a segment (tcp_options.c). */
struct tcp_opts {
    bool has_mss;
    uint16_t mss;
    bool has_wscale;       /* window scale (RFC 7323 §2.2), SYNs only */
    uint8_t wscale;        /* ... the shift as sent (clamped at use) */
    bool sack_permitted;   /* SACK-permitted (RFC 2018 §2), SYNs only */
    bool has_ts;           /* timestamps (RFC 7323 §3.2) */
    uint32_t tsval, tsecr; /* ... TSval and TSecr as sent */
    /* SACK blocks (RFC 2018 §3), in the order the segment lists them.
     * The parser only checks the option's shape; input validates the
     * blocks against the connection before anyone uses them: once
     * other_states() has run the ACK checks, sack[0 .. sack_count) are
     * the blocks with SND.UNA =< start < end =< SND.NXT, the others
     * dropped (and counted). Each block is [start, end): the sequence
     * numbers the peer holds. Meaningful only when the connection
     * negotiated SACK (otherwise sack_count is 0). */
    uint8_t sack_count;
    struct {
        uint32_t start, end;
    } sack[TCP_SACK_MAX_BLOCKS];
};

/* A received segment after parsing: the fields of the header by the names
 * RFC 9293 §3.3.1 uses (SEG.SEQ, SEG.ACK, ...), and the text. Steps of the
 * input path may trim it (seq, data, flags change; the header does not). */
struct tcp_seg {
    uint32_t src, dst;       /* IP source (remote) and destination (us) */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint32_t wnd;            /* SEG.WND, scaled once the connection is
                                known (RFC 7323 §2.3; never in a SYN) */
    uint16_t up;
    uint8_t flags;
    struct tcp_opts opts;
    const uint8_t *data;     /* the segment text */
    uint32_t data_len;
    uint32_t wire_len;       /* text length as received, before trimming */
};

/* SEG.LEN: the sequence space a segment occupies; SYN and FIN count. */
static inline uint32_t seg_len(const struct tcp_seg *seg)
{
    return seg->data_len + !!(seg->flags & TCP_SYN) + !!(seg->flags & TCP_FIN);
}

/* ---- Connection state (RFC 9293 §3.3.2) --------------------------------- */

enum tcp_conn_state {
    TCP_CLOSED,
    TCP_LISTEN,
    TCP_SYN_SENT,
    TCP_SYN_RECEIVED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_LAST_ACK,
    TCP_TIME_WAIT,
};

/* "CLOSED", "SYN-SENT", ... as the RFC spells them. */
const char *tcp_state_name(enum tcp_conn_state s);

/* Synchronized states: both sides know each other's ISN (RFC 9293 §3.5.2). */
static inline bool tcp_synchronized(enum tcp_conn_state s)
{
    return s >= TCP_ESTABLISHED;
}

/* States in which the send buffer and our FIN may be (re)transmitted:
 * data queued before CLOSE goes out in FIN-WAIT-1 and CLOSING too, then
 * our FIN; LAST-ACK retransmits the FIN. */
static inline bool tcp_may_send(enum tcp_conn_state s)
{
    switch (s) {
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
    case TCP_FIN_WAIT_1:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
        return true;
    default:
        return false;
    }
}

/* The timers one connection can have running. Each connection sits in the
 * stack's timer heap once, at the earliest of its deadlines. */
enum tcp_timer_kind {
    TCP_TIMER_RTX,        /* retransmission: SYN, SYN-ACK, data, FIN */
    TCP_TIMER_PERSIST,    /* zero-window probe (RFC 9293 §3.8.6.1), and
                             the override timeout of sender SWS avoidance
                             (§3.8.6.2.1) */
    TCP_TIMER_DELACK,     /* a delayed ACK is owed (§3.8.6.3) */
    TCP_TIMER_KEEPALIVE,  /* keep-alive (RFC 1122 §4.2.3.6) */
    TCP_TIMER_TIME_WAIT,  /* 2*MSL in TIME-WAIT (§3.4.2) */
    TCP_TIMER_FIN_WAIT_2, /* orphaned FIN-WAIT-2 gives up */
    TCP_TIMER_LOSS_PROBE, /* tail loss probe (RFC 8985 §7, tcp_tlp.c) */
    TCP_TIMER_COUNT
};

/* RFC 6298 retransmission timer state, in microseconds. */
struct tcp_rtt {
    uint32_t srtt;        /* smoothed round-trip time; 0 until measured */
    uint32_t rttvar;      /* round-trip time variation */
    uint32_t rto;         /* current retransmission timeout, backed off */
    bool timing;          /* a segment is being timed (one at a time) */
    uint32_t timed_seq;   /* ... its first sequence number */
    uint64_t timed_at;    /* ... when it was sent */
    uint8_t retries;      /* consecutive timeouts of the segment at SND.UNA */
    bool syn_timed_out;   /* the SYN needed a retransmission (§5.7) */
    uint64_t waiting_since; /* when the oldest unacknowledged data (or SYN,
                               or FIN) began waiting for its ACK: sent with
                               nothing else outstanding, or left first in
                               line by an ACK. The user timeout counts from
                               here (RFC 9293 §3.8.3). */
};

/* Loss recovery (RFC 5681 §3.2, with the recovery point of RFC 6582 and,
 * when the peer SACKs, RFC 6675). tcp_cc.c runs it; the congestion
 * window it works with is c->cc. */
struct tcp_recovery {
    uint32_t dupacks;     /* duplicate ACKs in a row (RFC 5681 §2) */
    bool active;          /* recovering: until SND.UNA reaches `recover`
                             no (further) fast retransmit */
    bool fast;            /* ... after a fast retransmit (not a timeout):
                             fast recovery (NewReno or SACK) */
    bool sack;            /* ... SACK-based (RFC 6675), not NewReno */
    bool rto_hold;        /* after a timeout, the rest of what was in
                             flight is sent again only once an ACK moves
                             SND.UNA (not on duplicate ACKs) */
    uint32_t recover;     /* SND.NXT when recovery began (RecoveryPoint) */
    uint32_t partial_acks; /* partial ACKs in this NewReno recovery */
    uint32_t lt_bytes;    /* sent by limited transmit (RFC 3042) since the
                             last new ACK: not part of FlightSize when
                             ssthresh is set (RFC 5681 §3.2 step 2) */
    uint32_t rxt_high;    /* RFC 6675 HighRxt, one past the octet */
    uint32_t rescue_rxt;  /* RFC 6675 RescueRxt ... */
    bool rescue_set;      /* ... once defined */
};

/* Keep-alive (RFC 1122 §4.2.3.6): per-connection settings and state. */
#define TCP_KEEPALIVE_MAX_S 32767   /* largest idle time and interval */
#define TCP_KEEPALIVE_MAX_COUNT 127 /* most probes */
struct tcp_keepalive {
    uint32_t idle_s;      /* idle time before the first probe */
    uint32_t intvl_s;     /* between unanswered probes */
    uint32_t count;       /* unanswered probes before ETIMEDOUT */
    uint32_t probes;      /* probes sent since the peer was last heard */
    uint64_t last_heard;  /* when an acceptable segment last arrived */
};

/* Options agreed in the SYN exchange (tcp_options.c): each is in use
 * only when both SYNs carried it (RFC 7323 §2.2, §3.2; RFC 2018 §2). */
struct tcp_optstate {
    bool wscale;            /* windows are scaled, both directions */
    uint8_t snd_shift;      /* Snd.Wind.Shift: the peer's SEG.WND << it */
    uint8_t rcv_shift;      /* Rcv.Wind.Shift: our windows go out >> it
                               (chosen before our SYN, 0 if not in use) */
    bool sack;              /* SACK-permitted both ways: our ACKs carry
                               SACK blocks, the peer's are parsed */
    bool ts;                /* timestamps in every segment (RFC 7323 §3) */
    uint32_t ts_offset;     /* our TSval = ts_offset + milliseconds of
                               st->now; keyed per four-tuple (§5.4) */
    uint32_t ts_recent;     /* TS.Recent (§4.3): the TSval we echo */
    uint64_t ts_recent_at;  /* when TS.Recent was set (§5.5: invalid after
                               24 days idle) */
    uint32_t last_ack_sent; /* Last.ACK.sent (§4.3) */
    bool ts_rto_set;        /* the retransmission timer has fired: */
    uint32_t ts_at_rto;     /* ... our TSval then (tcp_ts_rtt) */
};

/* What ICMP errors about our segments taught a connection (tcp_icmp.c). */
struct tcp_icmp {
    uint16_t pmtu;   /* path MTU (RFC 1191); 0 until a router reports one */
    bool df_off;     /* the path reported an MTU below our floor: send
                        without DF so that routers may fragment */
    int soft_error;  /* last soft error (EHOSTUNREACH, ...), reported
                        instead of ETIMEDOUT (RFC 1122 §4.2.3.9) */
};

/* Out-of-order text held in the receive ring (tcp_reass.c). As many
 * ranges as a sender's scoreboard (TCP_SACK_RANGES) in every TCB: after a
 * slow-start overshoot drops every other segment of a burst, each hole the
 * queue cannot record is one the sender cannot learn of and must time out
 * on. 12 bytes a range, 384 in every TCB. A larger receive buffer lets
 * more of the window be in flight, and so more holes at one loss rate: a
 * connection may record one range per TCP_REASS_BYTES_PER_RANGE of its
 * SO_RCVBUF, beyond the inline ones in storage of its own, allocated
 * (doubling) when the inline ranges are all used and freed with the
 * buffers. The default 256 KiB buffer stays within the inline 32. */
#define TCP_REASS_RANGES 32
#define TCP_REASS_BYTES_PER_RANGE 8192
struct tcp_reass_range {
    uint32_t start, end; /* a filled range [start, end) past RCV.NXT */
    uint32_t stamp;      /* `clock` when a segment last went into it */
};
struct tcp_reass {
    struct tcp_reass_range inline_range[TCP_REASS_RANGES];
    struct tcp_reass_range *more; /* NULL, or `cap` ranges in use instead */
    unsigned cap;              /* ranges of `more`; 0 while inline */
    unsigned count;            /* ranges used, sorted, apart from each other */
    uint32_t clock;            /* counts held segments (SACK block order) */
    uint32_t acked_clock;      /* `clock` when our last ACK went out: ranges
                                  stamped later are news to the sender */
    uint32_t dupack_nxt;       /* RCV.NXT of the ACKs counted in dupacks */
    uint8_t dupacks;           /* ACKs sent with text held at that RCV.NXT */
    bool fin;                  /* a FIN arrived early ... */
    uint32_t fin_seq;          /* ... at this sequence number */
};

/* A queue of connections waiting on a listener. */
struct tcp_queue {
    struct tcp_conn *head, *tail;
    unsigned len;
};

/*
 * The Transmission Control Block (RFC 9293 §3.3.1). The send and receive
 * sequence variables carry the RFC's names: c->snd.una is SND.UNA.
 *
 *      1          2          3          4
 * ----------|----------|----------|----------
 *        SND.UNA    SND.NXT    SND.UNA
 *                             +SND.WND
 * 1 - old sequence numbers that have been acknowledged
 * 2 - sequence numbers of unacknowledged data
 * 3 - sequence numbers allowed for new data transmission
 * 4 - future sequence numbers that are not yet allowed
 */
struct tcp_conn {
    enum tcp_conn_state state;
    uint32_t local_addr, remote_addr; /* host order; local 0 = any */
    uint16_t local_port, remote_port;

    struct {
        uint32_t una; /* oldest unacknowledged sequence number */
        uint32_t nxt; /* next sequence number to be sent */
        uint32_t wnd; /* the window the peer offered */
        uint32_t up;  /* urgent pointer (urgent data is not sent) */
        uint32_t wl1; /* SEG.SEQ of the segment that last updated wnd */
        uint32_t wl2; /* SEG.ACK of the segment that last updated wnd */
        uint32_t iss; /* our initial sequence number */
    } snd;
    struct {
        uint32_t nxt; /* next sequence number expected */
        uint32_t wnd; /* window we advertised: RCV.NXT+RCV.WND is its edge */
        uint32_t up;  /* urgent pointer */
        uint32_t irs; /* the peer's initial sequence number */
    } rcv;

    /* Where output transmits next. Equal to snd.nxt except after a
     * retransmission timeout, which pulls it back to snd.una (go-back-N);
     * snd.nxt keeps the highest sequence number sent, which is what ACKs
     * are checked against. */
    uint32_t send_next;
    uint32_t max_snd_wnd;   /* largest wnd seen: RFC 5961 §5.2 MAX.SND.WND */
    uint32_t fin_seq;       /* sequence number of our FIN, once sent */
    uint16_t snd_mss;       /* effective MSS for sending (§3.7.1) */
    uint16_t rcv_mss;       /* the MSS we announced */

    /* Buffers, set up on reaching ESTABLISHED; their storage grows as
     * bytes arrive (ringbuf_init). The send ring holds the bytes from
     * SND.UNA on (unacknowledged, then unsent); the receive ring holds
     * bytes received in order and not yet read. */
    struct ringbuf sndbuf, rcvbuf;
    uint32_t sndbuf_size, rcvbuf_size;
    struct tcp_reass reass; /* text held past RCV.NXT */
    struct tcp_optstate opt; /* window scale, timestamps, SACK */

    struct tcp_rtt rtt;
    struct tcp_recovery rec;
    struct tcp_cc cc;                    /* congestion window (tcp_cc.c) */
    struct tcp_sack_board sacked;        /* what the peer SACKed (tcp_sack.c) */
    struct tcp_tlp tlp;                  /* loss probe, lost retransmissions
                                            (tcp_tlp.c) */
    struct tcp_keepalive ka;
    struct tcp_icmp icmp;                /* tcp_icmp.c */
    uint32_t user_timeout_ms;            /* 0: the retry counts decide */
    uint8_t probes;                      /* unanswered zero-window probes */
    uint8_t probe_backoff;               /* doublings of the probe interval */
    uint64_t probe_since;                /* when the first unanswered window
                                            probe went out */
    uint8_t rcv_segs_unacked;            /* data segments received since our
                                            last ACK (delayed ACK, §3.8.6.3) */
    bool ack_delayed;                    /* an ACK is owed but may wait for
                                            TCP_TIMER_DELACK */
    uint64_t timer_at[TCP_TIMER_COUNT];  /* deadlines; 0 = not running */
    struct heap_timer timer;             /* the earliest of timer_at[] */

    bool passive;      /* came from a listener (a "passive OPEN") */
    bool syn_acked;    /* SND.UNA has passed our SYN (SND.UNA = ISS only
                          says so until 4 GiB later, when it wraps) */
    bool fin_pending;  /* CLOSE or SHUT_WR: FIN follows the queued data */
    bool fin_sent;     /* our FIN went out (fin_seq is valid) */
    bool fin_received; /* the peer's FIN arrived: end of stream */
    bool rd_shutdown;  /* SHUT_RD: incoming data is discarded */
    bool released;     /* the user called tcp_close: TCP frees c when done */
    bool opened;       /* has left CLOSED once (no second OPEN) */
    bool ack_pending;  /* an ACK must go out now: output sends one if no
                          data carries it (ack_delayed: it may wait) */
    bool more_pending; /* the last send had USTACK_MSG_MORE */
    bool nodelay, reuse, linger_zero, keepalive; /* socket options */
    bool sndbuf_set;   /* SO_SNDBUF was set: no send buffer autotuning */
    bool output_deferred; /* on the batch's list (tcp_batch.c) */
    struct tcp_conn *deferred_next; /* ... its link */
    bool bound;        /* has a local port (in the bind table) */
    bool hashed;       /* in the four-tuple table */

    int error; /* pending error for SO_ERROR, cleared by reading */
    int fail;  /* why the connection failed (ECONNRESET, ...), or 0 */

    void *owner;                /* the socket layer's handle, or NULL */
    struct ratelimit challenge; /* RFC 5961 §7 challenge ACK budget */

    /* Listener data (LISTEN state only). */
    struct {
        struct tcp_queue syn_q;    /* SYN-RECEIVED children */
        struct tcp_queue accept_q; /* ESTABLISHED, not yet accepted */
        unsigned backlog;          /* accept queue bound */
        uint64_t last_cookie;      /* when we last sent a SYN cookie */
        bool cookies_used;         /* ... and whether we ever did */
    } listen;
    struct tcp_conn *listener;      /* parent, while in one of its queues */
    struct tcp_queue *queue;        /* ... which queue */
    struct tcp_conn *q_prev, *q_next;

    /* Table links (tcp_conn.c). */
    struct tcp_conn *hash_next, **hash_pprev; /* four-tuple or listener */
    struct tcp_conn *bind_next, **bind_pprev; /* local port */
    struct tcp_conn *all_next, **all_pprev;   /* every connection */

    /* Statistics for ustack_tcp_connections(). */
    uint64_t bytes_acked, bytes_received;
    uint32_t retransmissions;
    struct tcp_trace trace; /* tcp_trace.c */
};

/* TCP's part of the stack (st->tcp). */
struct tcp_state {
    struct tcp_conn **conn_hash;   /* by four-tuple, keyed hash */
    uint32_t conn_hash_mask;
    struct tcp_conn **listen_hash; /* listeners by local port */
    struct tcp_conn **bind_hash;   /* every bound connection by local port */
    struct tcp_conn *all;          /* every connection block */
    uint32_t conn_count;

    struct siphash_key table_key;  /* bucket choice in conn_hash */
    struct siphash_key isn_key;    /* RFC 6528 F() */
    struct siphash_key cookie_key; /* SYN cookie MAC */
    struct siphash_key ts_key;     /* timestamp clock offsets */
    struct siphash_key port_key;   /* RFC 6056 F() of ephemeral ports */

    struct timer_heap timers;
    uint16_t next_ephemeral;       /* RFC 6056 §3.3.3's counter */

    bool debug_iss_set;            /* tcp_debug_set_next_iss() */
    uint32_t debug_iss;

    /* Batched input (tcp_batch.c): connections whose output waits for
     * the end of the batch, most recent first. */
    bool batching;
    struct tcp_conn *deferred;
    /* The connection the last lookup found (tcp_conn.c): a bulk flow's
     * segments find it without hashing. Always one in conn_hash, or NULL. */
    struct tcp_conn *last_lookup;

    struct tcp_trace_sink trace;   /* tcp_trace.c */
};

#define TCP_LISTEN_BUCKETS 256
#define TCP_BIND_BUCKETS 1024

/* ---- tcp_batch.c --------------------------------------------------------- */

/* Called first thing by tcp_output: during a batch, c's output waits for
 * the batch's end unless it must go now. True when it was deferred. */
bool tcp_output_defer(struct ustack *st, struct tcp_conn *c);
/* c is going away: take it off the batch's list. */
void tcp_batch_forget(struct ustack *st, struct tcp_conn *c);

/* ---- tcp_conn.c ---------------------------------------------------------- */

/* Unlink c from every table, queue and timer and free it. */
void tcp_conn_destroy(struct ustack *st, struct tcp_conn *c);
void tcp_set_state(struct ustack *st, struct tcp_conn *c, enum tcp_conn_state s);
/* "Enter the CLOSED state and delete the TCB": c leaves the tables; it is
 * freed unless the user still holds it (then it stays, CLOSED, until
 * tcp_close). */
void tcp_conn_closed(struct ustack *st, struct tcp_conn *c);
/* The connection failed with err (ECONNRESET, ECONNREFUSED, ETIMEDOUT):
 * report it to the user and close. */
void tcp_conn_fail(struct ustack *st, struct tcp_conn *c, int err);
/* Set the send and receive rings' limits; they get storage only as bytes
 * arrive (ringbuf_init), so this cannot fail. */
void tcp_conn_init_buffers(struct tcp_conn *c);
void tcp_conn_release_buffers(struct tcp_conn *c);
/* Tell the socket layer that c's readiness may have changed. */
void tcp_notify(struct ustack *st, struct tcp_conn *c);

struct tcp_conn *tcp_conn_lookup(struct ustack *st, uint32_t laddr,
                                 uint16_t lport, uint32_t raddr, uint16_t rport);
void tcp_conn_hash_insert(struct ustack *st, struct tcp_conn *c);
struct tcp_conn *tcp_listener_lookup(struct ustack *st, uint32_t addr,
                                     uint16_t port);
void tcp_listener_insert(struct ustack *st, struct tcp_conn *l);
bool tcp_listener_conflict(struct ustack *st, const struct tcp_conn *l);
/* Take a local port (0 = an ephemeral one). 0 or -EADDRINUSE. */
int tcp_port_bind(struct ustack *st, struct tcp_conn *c, uint32_t addr,
                  uint16_t port, bool reuse);
/* Take an ephemeral port, on every local address, for an active open to
 * raddr:rport (RFC 6056 §3.3.3: chosen with the peer). 0 or -EADDRINUSE. */
int tcp_port_bind_for_peer(struct ustack *st, struct tcp_conn *c,
                           uint32_t raddr, uint16_t rport);
/* Bind a child connection to its listener's port (no conflict check). */
void tcp_port_bind_child(struct ustack *st, struct tcp_conn *c);

void tcp_queue_push(struct tcp_queue *q, struct tcp_conn *c);
/* Take c off whichever queue it is on (no-op if none). */
void tcp_queue_remove(struct tcp_conn *c);
struct tcp_conn *tcp_queue_pop(struct tcp_queue *q);

/* ---- isn.c, syncookie.c --------------------------------------------------- */

/* RFC 6528 ISN for the four-tuple at time now (never 0). */
uint32_t tcp_isn(const struct tcp_state *t, uint32_t laddr, uint16_t lport,
                 uint32_t raddr, uint16_t rport, uint64_t now);
/* The ISS of a new connection: tcp_isn(), unless a test fixed it. */
uint32_t tcp_select_iss(struct ustack *st, const struct tcp_conn *c);

/* A SYN cookie to use as the ISS answering syn; *mss gets the MSS the
 * cookie encodes (at most the peer's). */
uint32_t syncookie_make(const struct tcp_state *t, const struct tcp_seg *syn,
                        uint16_t peer_mss, uint64_t now, uint16_t *mss);
/* Is ack (SEG.ACK - 1) a cookie we made recently for this four-tuple and
 * the peer's ISN SEG.SEQ - 1? On success *mss gets the encoded MSS. */
bool syncookie_check(const struct tcp_state *t, const struct tcp_seg *ack,
                     uint64_t now, uint16_t *mss);
/* How long a cookie stays valid at most, microseconds. */
uint64_t syncookie_lifetime(void);

/* ---- tcp_reass.c ---------------------------------------------------------- */

/* Hold the text of seg (acceptable, trimmed, starting past RCV.NXT) in the
 * receive ring. False if the queue has no range left for it. */
bool tcp_reass_hold(struct tcp_conn *c, const struct tcp_seg *seg);
/* After RCV.NXT advanced: make the held text that now continues the
 * stream readable; returns how many bytes (the caller advances RCV.NXT). */
uint32_t tcp_reass_pull(struct tcp_conn *c);
/* Has RCV.NXT reached a FIN that arrived early? (Clears it.) */
bool tcp_reass_fin_reached(struct tcp_conn *c);
/* The held ranges as SACK blocks (RFC 2018 §4), at most max of them:
 * first the one the latest held segment went into, then the others from
 * the most recently changed on. Returns how many. */
unsigned tcp_reass_sack_blocks(const struct tcp_conn *c, uint32_t blocks[][2],
                               unsigned max);
/* Free the ranges' own storage (the buffers are going): nothing is held
 * any more. */
void tcp_reass_release(struct tcp_conn *c);
/* An ACK of c left: the ranges it reported are no longer news. */
void tcp_reass_ack_sent(struct tcp_conn *c);
/* During an input batch, may an ACK owed while text is held wait for the
 * batch's end (RFC 5681 §4.2; the rule is explained there)? */
bool tcp_reass_ack_may_wait(const struct tcp_conn *c);

/* ---- tcp_options.c -------------------------------------------------------- */

/* Parse the options area; false if it is malformed (parsing stopped at
 * the bad option; what came before is kept). */
bool tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *out);

/* What a SYN or SYN-ACK carries. */
struct tcp_syn_options {
    uint16_t mss;
    bool wscale;           /* window scale, with our shift */
    uint8_t shift;
    bool sack;             /* SACK-permitted */
    bool ts;               /* timestamps */
    uint32_t tsval, tsecr;
};
/* Write them at p: returns their length (a multiple of 4, at most 20). */
size_t tcp_write_syn_options(uint8_t *p, const struct tcp_syn_options *o);
/* The options c's next SYN (SYN-SENT: everything we offer) or SYN-ACK
 * (what both offered) carries. */
void tcp_syn_options(const struct ustack *st, const struct tcp_conn *c,
                     struct tcp_syn_options *o);
/* Options of any other segment of c with these flags and data_len bytes
 * of text (timestamps, SACK blocks: as many as leave the text within the
 * MSS), written at p (room for 40 bytes); returns their length. */
size_t tcp_write_options(struct ustack *st, struct tcp_conn *c, uint8_t *p,
                         uint8_t flags, uint32_t data_len);
/* Bytes of SACK option an ACK of c would carry now (0 when none). */
size_t tcp_sack_option_len(const struct tcp_conn *c);
/* SACK blocks that fit in an ACK of c beside its other options. */
unsigned tcp_sack_room(const struct tcp_conn *c);
/* The most text one segment of c can carry now: the send MSS (timestamps
 * already taken off) less the SACK blocks our ACK carries (RFC 9293
 * §3.7.1: options count against the MSS). */
uint32_t tcp_seg_mss(const struct tcp_conn *c);
/* Before our SYN or SYN-ACK: our window shift (from the receive buffer)
 * and timestamp clock offset; addresses and ports must be set. */
void tcp_options_init(const struct ustack *st, struct tcp_conn *c);
/* The peer's SYN (or SYN-ACK) arrived: settle which options are in use
 * (those both SYNs carried) and the send MSS. */
void tcp_options_negotiate(struct ustack *st, struct tcp_conn *c,
                           const struct tcp_seg *syn);
/* Our timestamp clock for c: milliseconds of st->now plus c's offset. */
uint32_t tcp_ts_now(const struct ustack *st, const struct tcp_conn *c);
/* RFC 7323 §5.3 R1 (PAWS) and §3.2, before the sequence test: false when
 * the segment must go (counted; an old timestamp draws an ACK). */
bool tcp_ts_check(struct ustack *st, struct tcp_conn *c, const struct tcp_seg *seg);
/* RFC 7323 §4.3: an acceptable segment may update TS.Recent. */
void tcp_ts_record(struct ustack *st, struct tcp_conn *c, const struct tcp_seg *seg);
/* RFC 7323 §4: an ACK of new data; take the RTT sample its TSecr gives. */
void tcp_ts_rtt(struct ustack *st, struct tcp_conn *c, const struct tcp_seg *seg);
/* RFC 2018 §3: keep only seg's SACK blocks that lie within
 * [SND.UNA, SND.NXT] and are not empty (all, without SACK negotiated). */
void tcp_sack_validate(struct ustack *st, const struct tcp_conn *c, struct tcp_seg *seg);
/* Our MSS for the link: MTU minus IPv4 and TCP headers (§3.7.1). */
uint16_t tcp_local_mss(const struct ustack *st);
/* The effective send MSS from the peer's option (536 when absent). */
uint16_t tcp_effective_mss(const struct ustack *st, const struct tcp_opts *o);

/* ---- tcp_icmp.c ------------------------------------------------------------ */

/* The error a connection that timed out reports: the last soft ICMP error
 * it received (EHOSTUNREACH, ...), else ETIMEDOUT. */
int tcp_icmp_timeout_error(const struct tcp_conn *c);

/* ---- tcp_output.c --------------------------------------------------------- */

/* Send what the windows and the send buffer allow now (data, FIN), then an
 * ACK if one is pending and nothing else carried it. */
void tcp_output(struct ustack *st, struct tcp_conn *c);
/* <SEQ=ISS><CTL=SYN> in SYN-SENT, else <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>,
 * with our MSS option. */
void tcp_send_syn(struct ustack *st, struct tcp_conn *c);
/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
void tcp_send_ack(struct ustack *st, struct tcp_conn *c);
/* An ACK to a suspicious segment, if the RFC 5961 §7 budget allows. */
void tcp_send_challenge_ack(struct ustack *st, struct tcp_conn *c);
/* <SEQ=SND.NXT><CTL=RST>: we abort a synchronized connection. */
void tcp_send_rst(struct ustack *st, struct tcp_conn *c);
/* A reset answering seg when there is no TCB for it or it is unacceptable
 * in a non-synchronized state (§3.10.7.1): <SEQ=SEG.ACK><CTL=RST> if seg
 * has ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
void tcp_send_rst_reply(struct ustack *st, const struct tcp_seg *seg);
/* A SYN-ACK for a SYN answered with a cookie: no TCB, everything from the
 * SYN; ISS = the cookie, and our MSS option. */
void tcp_send_synack_cookie(struct ustack *st, const struct tcp_seg *syn,
                            uint32_t iss, uint16_t wnd);
/* A zero-window probe: the byte (or FIN) at SND.UNA, sent into a shut
 * window (tcp_timer.c decides when). */
void tcp_send_window_probe(struct ustack *st, struct tcp_conn *c);
/* Send the next segment even though Nagle or sender SWS avoidance would
 * hold it: the override timeout of RFC 9293 §3.8.6.2.1 (4). */
bool tcp_output_override(struct ustack *st, struct tcp_conn *c);
/* Retransmit the earliest unacknowledged segment (RFC 6298 §5.4, RFC
 * 5681 §3.2) without moving the output cursor. False when the window
 * leaves no room for it. */
bool tcp_retransmit_first(struct ustack *st, struct tcp_conn *c);
/* Retransmit up to len bytes from seq (sent before, not acknowledged),
 * our FIN with them if the range reaches it, without moving the output
 * cursor (SACK recovery, RFC 6675 NextSeg). Returns the bytes of sequence
 * space sent (FIN included), 0 when nothing may go (state, peer window). */
uint32_t tcp_retransmit_range(struct ustack *st, struct tcp_conn *c,
                              uint32_t seq, uint32_t len);
/* Send one segment of what output would send next (RFC 6675 NextSeg rule
 * 2: new data), subject to every window and to Nagle. */
bool tcp_output_one(struct ustack *st, struct tcp_conn *c);
/* A keep-alive probe: <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK>, no text. */
void tcp_send_keepalive(struct ustack *st, struct tcp_conn *c);
/* The window to advertise now (RCV.WND, bytes); may open or round it
 * (receiver SWS avoidance; with window scaling a whole number of units). */
uint32_t tcp_rcv_window(struct ustack *st, struct tcp_conn *c);
/* The granularity of our window field: 2^Rcv.Wind.Shift bytes. */
uint32_t tcp_rcv_window_unit(const struct tcp_conn *c);
/* The largest window we may offer c's peer: the receive buffer, but no
 * more than 65535 << Rcv.Wind.Shift. */
uint32_t tcp_rcv_window_max(const struct tcp_conn *c);
/* The receive ring's capacity for SO_RCVBUF rcvbuf: a little more when
 * windows are scaled (room to round them up, RFC 7323 §2.4). */
uint32_t tcp_rcv_ring_size(const struct tcp_conn *c, uint32_t rcvbuf);
/* Sequence number of the first byte in the send ring. */
uint32_t tcp_snd_data_seq(const struct tcp_conn *c);
/* One past the last byte in the send ring (the FIN, once sent, sits
 * here). */
uint32_t tcp_snd_data_end(const struct tcp_conn *c);
/* Has the peer acknowledged our FIN? */
bool tcp_fin_acked(const struct tcp_conn *c);

/* ---- tcp_timer.c ---------------------------------------------------------- */

void tcp_timer_set(struct ustack *st, struct tcp_conn *c,
                   enum tcp_timer_kind k, uint64_t when);
void tcp_timer_stop(struct ustack *st, struct tcp_conn *c,
                    enum tcp_timer_kind k);
static inline bool tcp_timer_running(const struct tcp_conn *c,
                                     enum tcp_timer_kind k)
{
    return c->timer_at[k] != 0;
}
void tcp_timer_stop_all(struct ustack *st, struct tcp_conn *c);
/* Start the retransmission timer at the current RTO (RFC 6298 §5.1). */
void tcp_rtx_timer_start(struct ustack *st, struct tcp_conn *c);
/* The user timeout changed: a running retransmission or persist timer
 * must not run past its new deadline. */
void tcp_user_timeout_changed(struct ustack *st, struct tcp_conn *c);
/* Initialise RFC 6298 state for a new connection (RTO = initial RTO). */
void tcp_rtt_init(struct ustack *st, struct tcp_conn *c);
/* An ACK arrived that acknowledges new data up to ack: take an RTT sample
 * if the timed segment is covered (Karn), reset the back-off, restart or
 * stop the retransmission timer (RFC 6298 §5.2, §5.3). */
void tcp_rtt_on_ack(struct ustack *st, struct tcp_conn *c, uint32_t ack);
/* The handshake completed: RFC 6298 §5.7 (RTO of 3 s after a SYN
 * timeout). */
void tcp_rtt_handshake_done(struct ustack *st, struct tcp_conn *c);
/* One round-trip time measurement, r microseconds, into the RFC 6298
 * estimator (SRTT, RTTVAR, RTO). */
void tcp_rtt_sample(struct ustack *st, struct tcp_conn *c, uint64_t r);
/* Start timing the segment starting at seq, if none is being timed. */
void tcp_rtt_start(struct ustack *st, struct tcp_conn *c, uint32_t seq);
/* Enter TIME-WAIT: stop other timers, run 2*MSL. */
void tcp_enter_time_wait(struct ustack *st, struct tcp_conn *c);
/* Arm or stop the persist timer for the current windows and queue. */
void tcp_persist_update(struct ustack *st, struct tcp_conn *c);
/* Arm, move or stop the keep-alive timer for c's state and settings. */
void tcp_keepalive_update(struct ustack *st, struct tcp_conn *c);
/* An acceptable segment arrived: the peer is alive (keep-alive). */
static inline void tcp_peer_heard(struct ustack *st, struct tcp_conn *c)
{
    c->ka.last_heard = st->now;
    c->ka.probes = 0;
}
/* A retransmission of [seq, end) left: Karn's algorithm (RFC 6298 §3)
 * forbids timing it. */
void tcp_rtt_retransmitted(struct tcp_conn *c, uint32_t seq, uint32_t end);

#endif
