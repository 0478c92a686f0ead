/*
 * Connection tracing (include/ustack/trace.h, src/tcp/tcp_trace.h): rows
 * of a connection's sender state for the registered sink.
 */
#include "tcp/tcp_int.h"

#include <errno.h>

/* ---- What observers see of congestion control ------------------------------ */

/* Congestion control (tcp_cc.c) keeps these in c->cc: cwnd is 0 until the
 * connection is established, ssthresh TCP_CC_SSTHRESH_NONE (UINT32_MAX)
 * until the first loss. */
uint32_t tcp_obs_cwnd(const struct tcp_conn *c)
{
    return c->cc.cwnd;
}

uint32_t tcp_obs_ssthresh(const struct tcp_conn *c)
{
    return c->cc.ssthresh;
}

/* In flight as congestion control counts it, the figure cwnd limits:
 * sent and neither acknowledged nor SACKed (RFC 6675's pipe during SACK
 * recovery); after a timeout, what has not been sent again is not in
 * flight. */
uint32_t tcp_obs_in_flight(const struct tcp_conn *c)
{
    return tcp_cc_in_flight(c);
}

/* ---- Switching it on ----------------------------------------------------------- */

void ustack_set_trace_sink(struct ustack *st, ustack_trace_fn fn, void *ctx)
{
    st->tcp->trace.fn = fn;
    st->tcp->trace.ctx = ctx;
}

void ustack_set_trace_all(struct ustack *st, bool on)
{
    st->tcp->trace.all = on;
}

void tcp_trace_init(struct ustack *st, struct tcp_conn *c)
{
    c->trace.on = st->tcp->trace.all;
}

void tcp_trace_inherit(struct tcp_conn *child, const struct tcp_conn *l)
{
    child->trace.on |= l->trace.on;
}

int tcp_trace_setopt(struct ustack *st, struct tcp_conn *c, int value)
{
    (void)st;
    if (value != 0 && value != 1)
        return -EINVAL;
    c->trace.on = value;
    return 0;
}

/* ---- Rows ------------------------------------------------------------------------ */

const char *ustack_trace_event_name(enum ustack_trace_event ev)
{
    static const char *const names[] = {
        [USTACK_TRACE_STATE] = "state", [USTACK_TRACE_SEND] = "send",
        [USTACK_TRACE_ACK] = "ack",     [USTACK_TRACE_CWND] = "cwnd",
        [USTACK_TRACE_RTX] = "rtx",     [USTACK_TRACE_TIMEOUT] = "timeout",
        [USTACK_TRACE_END] = "end",
    };
    return (unsigned)ev < sizeof(names) / sizeof(names[0]) ? names[ev] : "?";
}

/* Does this moment deserve a row? Trace points sit where an event may
 * happen; this keeps only the ones where something moved. An ACK trace
 * point that finds SND.UNA where it was reports a change of the
 * congestion window instead, if there was one (*ev becomes CWND). */
static bool worth_a_row(const struct tcp_conn *c, enum ustack_trace_event *ev,
                        uint32_t cwnd, uint32_t ssthresh)
{
    const struct tcp_trace *t = &c->trace;
    if (c->state == TCP_LISTEN)
        return false;
    switch (*ev) {
    case USTACK_TRACE_SEND:
        return !t->emitted || c->snd.nxt != t->last_nxt;
    case USTACK_TRACE_ACK:
        if (!t->emitted || c->snd.una != t->last_una)
            return true;
        *ev = USTACK_TRACE_CWND;
        /* fall through */
    case USTACK_TRACE_CWND:
        return cwnd != t->last_cwnd || ssthresh != t->last_ssthresh;
    case USTACK_TRACE_END:
        return t->emitted; /* the sink has heard of this connection */
    default:
        return true;
    }
}

void tcp_trace_emit(struct ustack *st, struct tcp_conn *c, enum ustack_trace_event ev)
{
    struct tcp_trace_sink *sink = &st->tcp->trace;
    struct tcp_trace *t = &c->trace;
    uint32_t cwnd = tcp_obs_cwnd(c), ssthresh = tcp_obs_ssthresh(c);
    if (!sink->fn || !worth_a_row(c, &ev, cwnd, ssthresh))
        return;
    if (!t->emitted) {
        t->emitted = true;
        t->id = ++sink->next_id;
    }
    t->last_una = c->snd.una;
    t->last_nxt = c->snd.nxt;
    t->last_cwnd = cwnd;
    t->last_ssthresh = ssthresh;
    struct ustack_trace_row row = {
        .conn_id = t->id,
        .time_us = st->now,
        .event = ev,
        .state = tcp_state_name(c->state),
        .local_addr = c->local_addr,
        .remote_addr = c->remote_addr,
        .local_port = c->local_port,
        .remote_port = c->remote_port,
        .iss = c->snd.iss,
        .snd_una = c->snd.una,
        .snd_nxt = c->snd.nxt,
        .cwnd = cwnd,
        .ssthresh = ssthresh,
        .in_flight = tcp_obs_in_flight(c),
        .srtt_us = c->rtt.srtt,
        .rttvar_us = c->rtt.rttvar,
        .rto_us = c->rtt.rto,
        .snd_wnd = c->snd.wnd,
        .retransmissions = c->retransmissions,
    };
    sink->fn(sink->ctx, &row);
}
