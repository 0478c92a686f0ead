/*
 * ustack: a TCP/IP stack that runs inside an ordinary process.
 *
 * The core is a deterministic state machine. You give it frames
 * (ustack_input) and the time (ustack_timer); it answers through the link
 * you attached and tells you when it next wants to be woken. It never reads
 * a clock, sleeps, or does I/O of its own. Time is a monotonic count of
 * microseconds chosen by the caller (a real clock, or a simulated one).
 *
 * Threading: a struct ustack is not thread-safe. The single-threaded event
 * API uses it directly; the blocking socket API (ustack/socket.h) wraps it
 * with a lock and a stack thread.
 */
#ifndef USTACK_USTACK_H
#define USTACK_USTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/link.h"
#include "ustack/stats.h"

/* "No deadline": returned by ustack_timer when nothing is scheduled. */
#define USTACK_NEVER UINT64_MAX

/* Direction of a frame handed to the tap (capture) callback. */
enum ustack_dir { USTACK_DIR_IN, USTACK_DIR_OUT };

/* Observer of every frame in and out (e.g. the pcap writer). `now` is the
 * stack's time in microseconds. Must not call back into the stack. */
typedef void (*ustack_tap_fn)(void *ctx, enum ustack_dir dir, uint64_t now,
                              const void *frame, size_t len);

/* Log sink for -v output; level 0 = errors, 1 = info, 2 = debug. */
typedef void (*ustack_log_fn)(void *ctx, int level, const char *msg);

/* TCP tunables (RFC 9293). Zero means "the default" in every field, so a
 * zeroed struct works; ustack_config_init writes the defaults out. */
struct ustack_tcp_config {
    unsigned max_connections; /* connections at once, in every state, SYN-
                                 RECEIVED and TIME-WAIT included; 0 = 16384 */
    unsigned sndbuf;          /* default SO_SNDBUF in bytes; 0 = 256 KiB */
    unsigned sndbuf_auto_max; /* a connection whose SO_SNDBUF was not set
                                 grows its send buffer past sndbuf, up to
                                 this, to twice what may be in flight
                                 (min(cwnd, peer's window)); 0 = 4 MiB;
                                 sndbuf or less turns growing off */
    unsigned rcvbuf;          /* default SO_RCVBUF in bytes; 0 = 256 KiB */
    unsigned buf_max;         /* largest SO_SNDBUF/SO_RCVBUF; 0 = 16 MiB.
                                 Windows above 64 KiB need window scaling
                                 (RFC 7323), negotiated with the peer; our
                                 shift is chosen from the connection's
                                 SO_RCVBUF when its SYN goes out */
    unsigned syn_backlog;     /* SYN-RECEIVED connections per listener; past
                                 it SYNs get cookies; 0 = 256 */
    unsigned backlog_max;     /* cap on listen()'s backlog; 0 = 4096 */
    unsigned msl_ms;          /* Maximum Segment Lifetime: TIME-WAIT lasts
                                 2*MSL (RFC 9293 §3.4.2); 0 = 30000 */
    unsigned fin_wait_2_ms;   /* how long a closed (orphaned) connection may
                                 wait in FIN-WAIT-2 for the peer's FIN;
                                 0 = 60000 */
    unsigned rto_initial_ms;  /* RFC 6298 §2.1; 0 = 1000 */
    unsigned rto_min_ms;      /* lower bound on the RTO; 0 = 1000 (RFC 6298
                                 §2.4; Linux uses 200) */
    unsigned rto_max_ms;      /* upper bound on the RTO; 0 = 60000 */
    unsigned syn_retries;     /* SYN or SYN-ACK retransmissions before the
                                 attempt fails (ETIMEDOUT); 0 = 7, which
                                 keeps trying for 3 minutes (RFC 1122
                                 §4.2.3.5) */
    unsigned data_retries;    /* retransmissions of one data or FIN segment,
                                 or unanswered window probes, before the
                                 connection fails (ETIMEDOUT); 0 = 12;
                                 at most 255 (as is syn_retries) */
    unsigned user_timeout_ms; /* default USTACK_TCP_USER_TIMEOUT: how long
                                 data (or a SYN, a FIN, window probes) may
                                 go unacknowledged before the connection
                                 fails with ETIMEDOUT, replacing the retry
                                 counts (RFC 9293 §3.8.3, RFC 5482);
                                 0 = none, the retry counts decide */
    unsigned delack_ms;       /* longest wait of a delayed ACK (RFC 9293
                                 §3.8.6.3); 0 = 40, at most 200. Every
                                 second segment is acknowledged at once */
    unsigned keepalive_idle_s;  /* keep-alive (off by default, per socket
                                   USTACK_SO_KEEPALIVE, RFC 1122 §4.2.3.6):
                                   idle time before the first probe;
                                   0 = 7200 */
    unsigned keepalive_intvl_s; /* between unanswered probes; 0 = 75 */
    unsigned keepalive_count;   /* unanswered probes before ETIMEDOUT;
                                   0 = 9 */
    unsigned challenge_ack_burst; /* RFC 5961 §7 challenge ACKs per
                                     connection: burst (0 = 10) and */
    unsigned challenge_ack_rate;  /* sustained rate per second (0 = 10) */
    bool syncookies_off;      /* drop SYNs instead of answering with SYN
                                 cookies when a SYN queue is full */
    unsigned congestion;      /* congestion control of new connections, an
                                 enum ustack_tcp_cc value (ustack/socket.h);
                                 0 (or unknown) = USTACK_TCP_CC_CUBIC */
    /* Options offered in our SYNs and accepted in the peer's (each is
     * used only when both sides offer it): RFC 7323 window scaling and
     * timestamps (RTT measurement, PAWS), RFC 2018 selective
     * acknowledgments. All on by default; these turn one off. */
    bool wscale_off;
    bool timestamps_off;
    bool sack_off;
    /* Loss repair before the RTO (src/tcp/tcp_tlp.c), on by default on
     * connections that negotiated SACK: the tail loss probe (RFC 8985
     * §7: when no ACK comes for about two round trips, the last segment
     * goes again), recovery begun by the same timer when SACKed data sits
     * above a hole, SND.UNA resent when SACK recovery stalls, and lost
     * retransmissions resent. This turns all of it off: RFC 6675 and RFC
     * 6298's timer alone. */
    bool tlp_off;
};

/* ARP (RFC 826, RFC 1122 §2.3.2): Ethernet links only. Zero means "the
 * default" in every field. */
struct ustack_arp_config {
    unsigned cache_size;   /* neighbours remembered at once; when full the
                              oldest entry makes room; 0 = 256 */
    unsigned reachable_ms; /* an answer is trusted this long; a later use
                              sends a fresh request while the old address
                              stays in use; 0 = 60000 */
    unsigned queue_len;    /* packets held per neighbour being resolved
                              (the oldest is dropped); 0 = 3 */
    unsigned max_requests; /* requests per resolution before giving up (the
                              held packets are dropped); 0 = 3 */
    unsigned retry_ms;     /* between two requests; 0 = 1000. After giving
                              up, sending to that neighbour fails with
                              EHOSTUNREACH for max_requests * retry_ms */
};

/* IPv4 reassembly (RFC 791 §3.2, RFC 815, RFC 1122 §3.3.2). Zero means
 * "the default" in every field. */
struct ustack_reasm_config {
    unsigned max_bytes;     /* fragment data held at once, all datagrams
                               together (allocated once); 0 = 4 MiB */
    unsigned max_datagrams; /* incomplete datagrams at once; 0 = 64 */
    unsigned max_size;      /* largest reassembled datagram, header
                               included, 576..65535; 0 = 65535 */
    unsigned timeout_ms;    /* an incomplete datagram is freed this long
                               after its first fragment; 0 = 30000 */
};

/* UDP tunables (RFC 768). Zero means "the default" in every field. Each
 * socket queues received datagrams until the application reads them, in
 * storage of its own allocated at the first datagram; past either bound a
 * datagram is dropped (and counted: udp.drop_rcvq_full). */
struct ustack_udp_config {
    unsigned rcvq_datagrams;  /* datagrams queued per socket; 0 = 256 */
    unsigned rcvbuf;          /* default SO_RCVBUF: bytes queued per socket,
                                 12 bytes of bookkeeping per datagram
                                 included; 0 = 256 KiB */
    unsigned buf_max;         /* largest SO_RCVBUF; 0 = 4 MiB */
};

struct ustack_config {
    uint32_t addr;          /* our IPv4 address, host byte order (required) */
    uint32_t netmask;       /* host byte order; 0 means /32 point-to-point */
    uint8_t ttl;            /* IPv4 TTL of packets we originate; 0 = 64 */

    /* Packet buffers: how many, each large enough for MTU + headroom. The
     * pool is allocated once; no allocation per packet afterwards. 0 = 256. */
    unsigned pbuf_count;

    /* Buffers for packets larger than the MTU (e.g. the reply to a 64 KiB
     * ping), 64 KiB each, fragmented on output (RFC 791 §3.2). Allocated
     * once; a packet finds none free: dropped and counted. 0 = 8. */
    unsigned large_pbuf_count;

    struct ustack_reasm_config reasm; /* IPv4 reassembly, see above */

    /* Ethernet links: our MAC address. Without has_mac, a locally
     * administered unicast address derived from the secret (so a test
     * with a fixed secret always gets the same one). */
    bool has_mac;
    uint8_t mac[6];
    struct ustack_arp_config arp; /* neighbour resolution, see above */

    /* ICMP error rate limit (RFC 1812 §4.3.2.8 token bucket):
     * burst size and tokens per second. 0 = defaults (10, 100/s). */
    unsigned icmp_error_burst;
    unsigned icmp_error_rate;

    /* Size of the socket table: the most sockets open at once (descriptors
     * are 0 .. max_sockets-1). Allocated once. 0 = 16384. */
    unsigned max_sockets;

    struct ustack_tcp_config tcp; /* TCP tunables, see above */
    struct ustack_udp_config udp; /* UDP tunables, see above */

    /* 32 bytes of secret for ISNs and SYN cookies (RFC 6528). When
     * has_secret is false, ustack_new draws one from getrandom(). Tests set
     * it so runs are reproducible. */
    bool has_secret;
    uint8_t secret[32];

    ustack_tap_fn tap;      /* optional: sees every frame in and out */
    void *tap_ctx;
    ustack_log_fn log;      /* optional: diagnostic messages */
    void *log_ctx;
    int log_level;          /* messages above this level are not produced */
};

struct ustack;

/* Fill cfg with defaults (everything zero but what has a default). */
void ustack_config_init(struct ustack_config *cfg);

/* Create a stack that sends through `link` (which it does not own).
 * `now` is the current time in microseconds. NULL on allocation failure. */
struct ustack *ustack_new(const struct ustack_config *cfg,
                          struct ustack_link *link, uint64_t now);
void ustack_free(struct ustack *st);

/* Process one received frame. The frame is only borrowed for the call. */
void ustack_input(struct ustack *st, const void *frame, size_t len,
                  uint64_t now);

/* Batched input, for a caller that reads several frames per wake-up (the
 * runner does): frames given between ustack_input_batch_begin() and
 * ustack_input_batch_end() are processed as they come, but what TCP would
 * send in answer (the ACK owed every second segment, the data an ACK lets
 * go) waits for the end of the batch and goes once per connection: one
 * ACK for all the segments of a connection in the batch, one pass over
 * its send window for all its ACKs. Duplicate ACKs for out-of-order text
 * are never held (the sender counts them), nor are RSTs, SYN-ACKs and
 * other control answers. Batches do not nest; end a batch before the
 * application's own calls (timers may run inside one). */
void ustack_input_batch_begin(struct ustack *st);
void ustack_input_batch_end(struct ustack *st);

/* Advance time: run every timer due at `now`. Returns the next deadline
 * (absolute, microseconds) or USTACK_NEVER. Call it after ustack_input and
 * after API calls too, since both can schedule work. */
uint64_t ustack_timer(struct ustack *st, uint64_t now);

/* The stack's current time: the latest `now` it was given. */
uint64_t ustack_now(const struct ustack *st);

/* The link this stack sends through. */
struct ustack_link *ustack_link(struct ustack *st);

/* Our MAC address on an Ethernet link (configured, or derived from the
 * secret). Returns false, leaving mac alone, on a bare-IP link. */
bool ustack_get_mac(const struct ustack *st, uint8_t mac[6]);

/* Snapshot of every counter. */
void ustack_get_stats(const struct ustack *st, struct ustack_stats *out);

/* Write every non-zero counter ("name value", one per line) to `out`
 * (a FILE *, declared void * here to keep stdio out of this header).
 * With all = true, zero counters are printed too. */
void ustack_print_stats(const struct ustack *st, void *out, bool all);

/* Parse "a.b.c.d" (host byte order result) and "a.b.c.d/len".
 * Return 0 on success, -1 on malformed input. */
int ustack_parse_ipv4(const char *s, uint32_t *addr);
int ustack_parse_cidr(const char *s, uint32_t *addr, unsigned *prefix_len);
/* Format a host-order address into buf (at least 16 bytes); returns buf. */
char *ustack_format_ipv4(uint32_t addr, char *buf);

#endif
