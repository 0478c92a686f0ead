/*
 * TCP timers (RFC 9293 §3.10.8) and the retransmission timeout (RFC 6298).
 *
 * A connection has up to four deadlines (enum tcp_timer_kind) and sits in
 * the stack's timer heap once, keyed by the earliest of them. tcp_timer()
 * pops only connections whose deadline has come, so a tick costs
 * O(log n) per due connection and nothing for the others: 10,000 idle
 * connections cost nothing per tick.
 *
 * Retransmission timeout, RFC 6298:
 *   - before any RTT sample, RTO = 1 s (§2.1, configurable);
 *   - first sample R: SRTT = R, RTTVAR = R/2 (§2.2); later samples R':
 *     RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|, SRTT = 7/8 SRTT + 1/8 R' (§2.3);
 *     RTO = SRTT + max(G, 4 RTTVAR), with G our clock granularity (§2.4);
 *   - RTO is clamped to [rto_min, rto_max] (§2.4, §2.5);
 *   - one segment is timed at a time, and never a retransmitted one
 *     (Karn's algorithm, §3);
 *   - on expiry: retransmit, RTO = 2 RTO (back-off, §5.5), restart (§5.6);
 *     the backed-off RTO stays until a new sample arrives (§5.7 note).
 *
 * Deviation, on purpose: the default minimum RTO is 200 ms, not the 1 s of
 * RFC 6298 §2.4. One second was chosen in 2000 for coarse clocks; our clock
 * counts microseconds, and 200 ms (what Linux uses) recovers losses on fast
 * paths five times sooner. rto_min_ms = 1000 restores the RFC's value.
 *
 * Go-back-N: on a timeout everything from SND.UNA is sent again (as the
 * window allows). Fast retransmit and congestion control (RFC 5681) are a
 * later issue.
 */
#include "tcp/tcp_int.h"

#include <errno.h>
#include <stddef.h>

#define USEC_PER_MS 1000u
#define CLOCK_GRANULARITY_US 1000u /* G of RFC 6298 §2.4: 1 ms */
#define SYN_TIMEOUT_RTO_US 3000000u /* RFC 6298 §5.7: 3 s */

static uint64_t ms_to_us(unsigned ms)
{
    return (uint64_t)ms * USEC_PER_MS;
}

/* ---- Scheduling ------------------------------------------------------------ */

/* Put c in the heap at its earliest deadline, or take it out. */
static void reschedule(struct ustack *st, struct tcp_conn *c)
{
    uint64_t first = 0;
    for (int k = 0; k < TCP_TIMER_COUNT; k++)
        if (c->timer_at[k] && (!first || c->timer_at[k] < first))
            first = c->timer_at[k];
    if (first)
        timer_heap_set(&st->tcp->timers, &c->timer, first);
    else
        timer_heap_cancel(&st->tcp->timers, &c->timer);
}

void tcp_timer_set(struct ustack *st, struct tcp_conn *c,
                   enum tcp_timer_kind k, uint64_t when)
{
    c->timer_at[k] = when ? when : 1; /* 0 means "off" */
    reschedule(st, c);
}

void tcp_timer_stop(struct ustack *st, struct tcp_conn *c,
                    enum tcp_timer_kind k)
{
    if (!c->timer_at[k])
        return;
    c->timer_at[k] = 0;
    reschedule(st, c);
}

void tcp_timer_stop_all(struct ustack *st, struct tcp_conn *c)
{
    for (int k = 0; k < TCP_TIMER_COUNT; k++)
        c->timer_at[k] = 0;
    timer_heap_cancel(&st->tcp->timers, &c->timer);
}

/* ---- RFC 6298 ---------------------------------------------------------------- */

static uint32_t clamp_rto(const struct ustack *st, uint64_t rto)
{
    uint64_t lo = ms_to_us(st->cfg.tcp.rto_min_ms);
    uint64_t hi = ms_to_us(st->cfg.tcp.rto_max_ms);
    return (uint32_t)(rto < lo ? lo : rto > hi ? hi : rto);
}

void tcp_rtt_init(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_rtt fresh = {.rto = clamp_rto(st, ms_to_us(st->cfg.tcp.rto_initial_ms))};
    c->rtt = fresh;
}

/* One round-trip measurement r (µs): RFC 6298 §2.2 - §2.5. */
static void rtt_sample(struct ustack *st, struct tcp_conn *c, uint64_t r)
{
    struct tcp_rtt *t = &c->rtt;
    if (r == 0)
        r = 1; /* srtt == 0 means "no sample yet" */
    if (r > ms_to_us(st->cfg.tcp.rto_max_ms))
        r = ms_to_us(st->cfg.tcp.rto_max_ms);
    if (t->srtt == 0) {
        t->srtt = (uint32_t)r;
        t->rttvar = (uint32_t)(r / 2);
    } else {
        uint64_t delta = t->srtt > r ? t->srtt - r : r - t->srtt;
        t->rttvar = (uint32_t)((3 * (uint64_t)t->rttvar + delta) / 4);
        t->srtt = (uint32_t)((7 * (uint64_t)t->srtt + r) / 8);
    }
    uint64_t var = 4 * (uint64_t)t->rttvar;
    t->rto = clamp_rto(st, t->srtt + (var > CLOCK_GRANULARITY_US ? var : CLOCK_GRANULARITY_US));
}

void tcp_rtt_start(struct ustack *st, struct tcp_conn *c, uint32_t seq)
{
    if (c->rtt.timing)
        return;
    c->rtt.timing = true;
    c->rtt.timed_seq = seq;
    c->rtt.timed_at = st->now;
}

void tcp_rtx_timer_start(struct ustack *st, struct tcp_conn *c)
{
    tcp_timer_set(st, c, TCP_TIMER_RTX, st->now + c->rtt.rto);
}

void tcp_rtt_on_ack(struct ustack *st, struct tcp_conn *c, uint32_t ack)
{
    struct tcp_rtt *t = &c->rtt;
    if (t->timing && seq_gt(ack, t->timed_seq)) {
        t->timing = false;
        rtt_sample(st, c, st->now - t->timed_at);
    }
    t->retries = 0;
    if (c->snd.una == c->snd.nxt)
        tcp_timer_stop(st, c, TCP_TIMER_RTX); /* §5.2: all data acked */
    else
        tcp_rtx_timer_start(st, c); /* §5.3: new data acked, restart */
}

void tcp_rtt_handshake_done(struct ustack *st, struct tcp_conn *c)
{
    /* RFC 6298 §5.7: the SYN (or SYN-ACK) needed a retransmission, so the
     * path may be slower than the initial RTO assumed. */
    if (c->rtt.syn_timed_out && c->rtt.srtt == 0 && c->rtt.rto < SYN_TIMEOUT_RTO_US)
        c->rtt.rto = clamp_rto(st, SYN_TIMEOUT_RTO_US);
}

/* ---- Expiry handlers: each returns false when c no longer exists ---------- */

static bool on_retransmit_timeout(struct ustack *st, struct tcp_conn *c)
{
    /* Our SYN is not acknowledged yet: SYN-SENT, SYN-RECEIVED, or a
     * FIN-WAIT-1 entered by a CLOSE in SYN-RECEIVED. */
    bool handshake = !c->syn_acked;
    unsigned limit = handshake ? st->cfg.tcp.syn_retries : st->cfg.tcp.data_retries;
    STAT_INC(st, tcp_rto_expired);
    if (c->rtt.retries >= limit) {
        tcp_conn_fail(st, c, ETIMEDOUT);
        return false;
    }
    c->rtt.retries++;
    c->rtt.rto = clamp_rto(st, 2 * (uint64_t)c->rtt.rto); /* §5.5 */
    c->rtt.timing = false;                               /* Karn */
    if (handshake) {
        c->rtt.syn_timed_out = true;
        STAT_INC(st, tcp_retransmits);
        c->retransmissions++;
        tcp_send_syn(st, c);
    } else {
        c->send_next = c->snd.una; /* go-back-N */
        tcp_output(st, c);
        /* The peer's window shrank below what is outstanding, so nothing
         * could go: probe it (RFC 9293 §3.8.6.1). */
        if (c->send_next == c->snd.una && c->snd.una != c->snd.nxt)
            tcp_send_window_probe(st, c);
    }
    if (handshake || c->snd.una != c->snd.nxt)
        tcp_rtx_timer_start(st, c); /* §5.6 */
    return true;
}

/* The interval before the next zero-window probe: the RTO, doubled for
 * each probe already sent (RFC 9293 §3.8.6.1, SHLD-29/30). */
static uint64_t persist_interval(const struct ustack *st, const struct tcp_conn *c)
{
    uint64_t iv = (uint64_t)c->rtt.rto << c->probe_backoff;
    uint64_t max = ms_to_us(st->cfg.tcp.rto_max_ms);
    return iv < max ? iv : max;
}

static bool on_persist_timeout(struct ustack *st, struct tcp_conn *c)
{
    /* c->probes counts probes since the peer last answered; any ACK from
     * it resets the count, so a peer that keeps answering "window 0" is
     * never given up on (RFC 1122 §4.2.2.17). */
    if (c->probes >= st->cfg.tcp.data_retries) {
        tcp_conn_fail(st, c, ETIMEDOUT);
        return false;
    }
    c->probes++;
    tcp_send_window_probe(st, c);
    if (c->probe_backoff < 16)
        c->probe_backoff++;
    tcp_timer_set(st, c, TCP_TIMER_PERSIST, st->now + persist_interval(st, c));
    return true;
}

static bool on_time_wait_timeout(struct ustack *st, struct tcp_conn *c)
{
    STAT_INC(st, tcp_time_wait_expired);
    tcp_conn_closed(st, c);
    return false;
}

static bool on_fin_wait_2_timeout(struct ustack *st, struct tcp_conn *c)
{
    STAT_INC(st, tcp_fin_wait_2_timeout);
    tcp_conn_closed(st, c);
    return false;
}

/* ---- The tick ---------------------------------------------------------------- */

static bool (*const handlers[TCP_TIMER_COUNT])(struct ustack *, struct tcp_conn *) = {
    [TCP_TIMER_RTX] = on_retransmit_timeout,
    [TCP_TIMER_PERSIST] = on_persist_timeout,
    [TCP_TIMER_TIME_WAIT] = on_time_wait_timeout,
    [TCP_TIMER_FIN_WAIT_2] = on_fin_wait_2_timeout,
};

static int first_due(const struct tcp_conn *c, uint64_t now)
{
    int due = -1;
    for (int k = 0; k < TCP_TIMER_COUNT; k++)
        if (c->timer_at[k] && c->timer_at[k] <= now &&
            (due < 0 || c->timer_at[k] < c->timer_at[due]))
            due = k;
    return due;
}

static void run_due(struct ustack *st, struct tcp_conn *c, uint64_t now)
{
    int k;
    while ((k = first_due(c, now)) >= 0) {
        c->timer_at[k] = 0;
        if (!handlers[k](st, c))
            return; /* c was closed (and perhaps freed) */
    }
    reschedule(st, c);
}

uint64_t tcp_timer(struct ustack *st, uint64_t now)
{
    struct timer_heap *h = &st->tcp->timers;
    struct heap_timer *t;
    while ((t = timer_heap_first(h)) && t->when <= now) {
        struct tcp_conn *c = (struct tcp_conn *)((char *)t - offsetof(struct tcp_conn, timer));
        run_due(st, c, now);
    }
    t = timer_heap_first(h);
    return t ? t->when : USTACK_NEVER;
}

/* ---- TIME-WAIT and the persist timer ---------------------------------------- */

void tcp_enter_time_wait(struct ustack *st, struct tcp_conn *c)
{
    tcp_set_state(st, c, TCP_TIME_WAIT);
    tcp_timer_stop(st, c, TCP_TIMER_RTX);
    tcp_timer_stop(st, c, TCP_TIMER_PERSIST);
    tcp_timer_stop(st, c, TCP_TIMER_FIN_WAIT_2);
    tcp_timer_set(st, c, TCP_TIMER_TIME_WAIT,
                  st->now + 2 * ms_to_us(st->cfg.tcp.msl_ms));
    if (c->released)
        tcp_conn_release_buffers(c); /* TIME-WAIT only answers FINs */
    tcp_notify(st, c);
}

/* Is output stuck on a zero window: the window is shut, something (data
 * or our FIN) waits at SND.UNA, and at most one unit is in flight (the
 * last probe, or a last small segment)? Then the persist timer, not the
 * retransmission timer, keeps the connection going: its probes are not
 * retransmissions of lost data, so they never exhaust the retry limit
 * while the peer keeps answering (RFC 9293 §3.8.6.1, MUST-37). */
static bool window_blocked(const struct tcp_conn *c)
{
    if (c->snd.wnd != 0 || seq_gt(c->snd.nxt, c->snd.una + 1))
        return false;
    bool data = ringbuf_used(&c->sndbuf) > 0;
    bool fin = c->fin_pending && !tcp_fin_acked(c);
    return data || fin;
}

void tcp_persist_update(struct ustack *st, struct tcp_conn *c)
{
    bool sending_state = c->state == TCP_ESTABLISHED ||
                         c->state == TCP_CLOSE_WAIT ||
                         c->state == TCP_FIN_WAIT_1 || c->state == TCP_LAST_ACK;
    if (sending_state && window_blocked(c)) {
        tcp_timer_stop(st, c, TCP_TIMER_RTX);
        if (!tcp_timer_running(c, TCP_TIMER_PERSIST))
            tcp_timer_set(st, c, TCP_TIMER_PERSIST,
                          st->now + persist_interval(st, c));
        return;
    }
    tcp_timer_stop(st, c, TCP_TIMER_PERSIST);
    c->probe_backoff = 0;
}
