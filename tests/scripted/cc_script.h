/*
 * Helpers for the congestion control scripts (test_tcp_cc_*.c): the
 * connection's congestion state read straight from the TCB, and segment
 * lines for runs of full-sized data segments.
 *
 * Segment k (1-based) of a connection with send MSS m is the relative
 * sequence range [1 + (k-1)*m, 1 + k*m).
 */
#ifndef USTACK_TESTS_CC_SCRIPT_H
#define USTACK_TESTS_CC_SCRIPT_H

#include "core/stack.h"
#include "tcp/tcp_int.h"
#include "tcpscript.h"

/* The connection of the current flow (not a listener), or NULL. */
static inline struct tcp_conn *cc_conn(struct ts *ts)
{
    struct ustack *st = ts_stack(ts);
    uint16_t port = ts_cur(ts)->peer_port;
    for (struct tcp_conn *c = st->tcp->all; c; c = c->all_next)
        if (c->state != TCP_LISTEN && c->remote_port == port)
            return c;
    return NULL;
}

static inline uint32_t cc_cwnd(struct ts *ts)
{
    struct tcp_conn *c = cc_conn(ts);
    return c ? c->cc.cwnd : 0;
}

static inline uint32_t cc_ssthresh(struct ts *ts)
{
    struct tcp_conn *c = cc_conn(ts);
    return c ? c->cc.ssthresh : 0;
}

/* First relative sequence number of segment k. */
static inline uint32_t cc_seg(uint32_t k, uint32_t mss)
{
    return 1 + (k - 1) * mss;
}

/* Expect segments first..last (full-sized, PSH either way), in order. */
#define cc_out_segs(ts, first, last, mss)                                     \
    do {                                                                      \
        for (uint32_t cc_k_ = (first); cc_k_ <= (last); cc_k_++)              \
            ts_out(ts, ts_fmt(ts, "P?. %u:%u(%u) ack 1", cc_seg(cc_k_, mss),  \
                              cc_seg(cc_k_ + 1, mss), (unsigned)(mss)));      \
    } while (0)

/* The peer acknowledges everything before segment k (ack = its start). */
#define cc_ack_to(ts, k, mss)                                                 \
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack %u win 65535", cc_seg(k, mss)))

#endif
