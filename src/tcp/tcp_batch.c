/*
 * Batched input (ustack_input_batch_begin/end): while the runner feeds the
 * frames of one wake-up, a connection's output waits for the end of the
 * batch and then runs once.
 *
 * Why: on a TUN device every segment or ACK we send is a write() in which
 * the kernel runs its whole TCP input for it, on our core. Receiving bulk
 * data, the RFC 5681 §4.2 rule of an ACK every second segment costs a
 * write() (and the sender's ACK processing and transmissions) per two
 * segments, although the segments of one wake-up were all queued before we
 * read the first: one ACK at the end says the same thing a few
 * microseconds later, as Linux does for the segments GRO merges. Sending,
 * each ACK of a batch would run an output pass of its own; one pass after
 * the last sends the same segments. So tcp_output() asks tcp_output_defer()
 * first, which puts the connection on a list; tcp_batch_end() runs
 * tcp_output() for each.
 *
 * ACKs while out-of-order text is held mostly do not wait: each duplicate
 * ACK counts at the sender (RFC 5681 §4.2 "an immediate duplicate ACK"),
 * and their SACK blocks report each arrival. With SACK, those after the
 * first DupThresh at one RCV.NXT wait as long as the blocks of one ACK can
 * still report every range changed since the last (tcp_reass_ack_may_wait
 * explains why). Nor does anything wait that is not sent through
 * tcp_output (RSTs, SYN-ACKs, challenge ACKs, window updates after reads).
 * Timers and user calls run outside batches, so they are not affected.
 */
#include "tcp/tcp_int.h"

void tcp_batch_begin(struct ustack *st)
{
    st->tcp->batching = true;
}

bool tcp_output_defer(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_state *t = st->tcp;
    if (!t->batching || (c->reass.count > 0 && !tcp_reass_ack_may_wait(c)))
        return false;
    if (!c->output_deferred) {
        c->output_deferred = true;
        c->deferred_next = t->deferred;
        t->deferred = c;
    }
    return true;
}

void tcp_batch_forget(struct ustack *st, struct tcp_conn *c)
{
    if (!c->output_deferred)
        return;
    /* The list holds the connections of one batch: short. */
    for (struct tcp_conn **p = &st->tcp->deferred; *p; p = &(*p)->deferred_next)
        if (*p == c) {
            *p = c->deferred_next;
            break;
        }
    c->output_deferred = false;
    c->deferred_next = NULL;
}

void tcp_batch_end(struct ustack *st)
{
    struct tcp_state *t = st->tcp;
    t->batching = false;
    struct tcp_conn *c;
    while ((c = t->deferred)) {
        t->deferred = c->deferred_next;
        c->output_deferred = false;
        c->deferred_next = NULL;
        /* A connection closed later in the batch (a RST) answers nothing;
         * one the user still holds stays CLOSED until tcp_close. */
        if (c->state != TCP_CLOSED)
            tcp_output(st, c);
    }
}
