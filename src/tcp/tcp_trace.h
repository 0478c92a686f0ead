/*
 * Connection tracing (include/ustack/trace.h): the per-connection and
 * per-stack state, and the trace points the rest of src/tcp calls.
 *
 * A trace point is one line, TCP_TRACE(st, c, USTACK_TRACE_ACK): a single
 * branch on c->trace.on when the connection is not traced. tcp_trace.c
 * builds the row and decides whether the moment deserves one (a SEND row
 * only when SND.NXT moved, an ACK row only when SND.UNA moved, ...), so
 * the trace points can sit wherever the event happens without each
 * repeating those checks.
 */
#ifndef USTACK_TCP_TCP_TRACE_H
#define USTACK_TCP_TCP_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/trace.h"

struct ustack;
struct tcp_conn;

/* Per connection (struct tcp_conn's `trace`). */
struct tcp_trace {
    bool on;              /* rows are produced for this connection */
    bool emitted;         /* at least one row went to the sink */
    uint64_t id;          /* the rows' conn_id, given at the first row */
    uint32_t last_una, last_nxt;        /* as of the last row */
    uint32_t last_cwnd, last_ssthresh;
};

/* Per stack (struct tcp_state's `trace`). */
struct tcp_trace_sink {
    ustack_trace_fn fn;   /* NULL: no rows at all */
    void *ctx;
    bool all;             /* ustack_set_trace_all */
    uint64_t next_id;
};

void tcp_trace_emit(struct ustack *st, struct tcp_conn *c,
                    enum ustack_trace_event ev);

#define TCP_TRACE(st, c, ev)                                                  \
    do {                                                                      \
        if ((c)->trace.on)                                                    \
            tcp_trace_emit((st), (c), (ev));                                  \
    } while (0)

/* A new connection block: traced if ustack_set_trace_all is on. */
void tcp_trace_init(struct ustack *st, struct tcp_conn *c);
/* A listener's child: traced if the listener has USTACK_TCP_TRACE. */
void tcp_trace_inherit(struct tcp_conn *child, const struct tcp_conn *l);
/* USTACK_TCP_TRACE: 0 or 1. */
int tcp_trace_setopt(struct ustack *st, struct tcp_conn *c, int value);

/* The congestion state as observers (traces, ustack_tcp_connections) see
 * it. The one place that knows where congestion control keeps it. */
uint32_t tcp_obs_cwnd(const struct tcp_conn *c);
uint32_t tcp_obs_ssthresh(const struct tcp_conn *c); /* UINT32_MAX: none */
uint32_t tcp_obs_in_flight(const struct tcp_conn *c);

#endif
