/*
 * Helpers for the congestion control scripts (test_tcp_cc_*.c): the
 * connection's congestion state read straight from the TCB, segment
 * lines for runs of full-sized data segments, and SACKing ACKs.
 *
 * Segment k (1-based) of a connection with send MSS m is the relative
 * sequence range [1 + (k-1)*m, 1 + k*m).
 */
#ifndef USTACK_TESTS_CC_SCRIPT_H
#define USTACK_TESTS_CC_SCRIPT_H

#include <stdarg.h>
#include <stdio.h>

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

/* The peer's ACK of everything before segment ack_seg with n SACK blocks
 * given as {first, end} segment numbers; a block may also name a range
 * below ack_seg (a D-SACK, RFC 2883). */
static inline void cc_sack_ack(struct ts *ts, uint32_t mss, uint32_t ack_seg, unsigned n, ...)
{
    char opt[256];
    uint32_t iss = ts_cur(ts)->stack_isn;
    size_t at = (size_t)snprintf(opt, sizeof(opt), "nop, nop, raw 05 %02x", 2 + 8 * n);
    va_list ap;
    va_start(ap, n);
    for (unsigned i = 0; i < 2 * n && at < sizeof(opt); i++) {
        uint32_t v = iss + cc_seg(va_arg(ap, uint32_t), mss);
        at += (size_t)snprintf(opt + at, sizeof(opt) - at, " %02x %02x %02x %02x",
                               v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
    }
    va_end(ap);
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack %u win 65535 <%s>", cc_seg(ack_seg, mss), opt));
}

#endif
