/*
 * Looking at TCP connections from outside: one record per connection, for
 * status pages and `ustack stat`.
 */
#ifndef USTACK_TCP_INFO_H
#define USTACK_TCP_INFO_H

#include <stdint.h>

struct ustack;

struct ustack_tcp_info {
    uint32_t local_addr, remote_addr;  /* host byte order; 0 = any */
    uint16_t local_port, remote_port;  /* host byte order */
    const char *state;                 /* "ESTABLISHED", "TIME-WAIT", ... */

    uint32_t snd_una, snd_nxt;         /* send sequence space */
    uint32_t rcv_nxt;                  /* receive sequence space */
    uint32_t snd_wnd;                  /* the peer's window, bytes */
    uint32_t rcv_wnd;                  /* the window we advertise, bytes */

    uint32_t send_queue;               /* bytes unacknowledged or unsent */
    uint32_t recv_queue;               /* bytes received, not yet read */
    uint64_t bytes_sent;               /* data bytes acknowledged by the peer */
    uint64_t bytes_received;           /* data bytes received in order */
    uint32_t retransmissions;          /* segments retransmitted */

    uint32_t srtt_us;                  /* smoothed RTT (0: no sample yet) */
    uint32_t rto_us;                   /* current retransmission timeout */
    uint32_t mss;                      /* effective send MSS */
    uint32_t listen_backlog;           /* listeners: accept queue length */

    /* Congestion and timing (`ustack stat`). */
    uint32_t rttvar_us;                /* RTT variation (RFC 6298) */
    uint32_t cwnd;                     /* congestion window, bytes; 0 until
                                          established */
    uint32_t ssthresh;                 /* slow start threshold, bytes;
                                          UINT32_MAX = none yet */
    uint32_t in_flight;                /* in flight as congestion control
                                          counts it: sent, neither
                                          acknowledged nor SACKed */
    const char *congestion;            /* the algorithm: "cubic",
                                          "newreno" (static storage) */
};

/* Call fn once per connection (listeners included), in no particular
 * order. fn must not call into the stack. Returns how many were listed. */
int ustack_tcp_connections(struct ustack *st,
                           void (*fn)(void *ctx, const struct ustack_tcp_info *info),
                           void *ctx);

#endif
