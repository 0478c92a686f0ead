/*
 * TCP timers (RFC 9293 §3.10.8) and the retransmission timeout (RFC 6298).
 *
 * A connection has up to six deadlines (enum tcp_timer_kind) and sits in
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
 * The minimum RTO defaults to RFC 6298 §2.4's 1 s (rto_min_ms; Linux uses
 * 200 ms, which recovers losses on fast paths sooner but retransmits
 * spuriously more often).
 *
 * On a timeout only the earliest segment is sent again (§5.4); the rest
 * of what was in flight follows, from SND.UNA on, once an ACK moves
 * SND.UNA (go-back-N, started by the path working again), as far as the
 * congestion window allows: after a timeout it is one segment and slow
 * start begins again (RFC 5681 §3.1, tcp_cc.c). Duplicate ACKs or SACK
 * retransmit sooner (fast retransmit, tcp_cc.c).
 *
 * A connection gives up (ETIMEDOUT) after data_retries timeouts of the
 * same segment, or, with a user timeout (RFC 9293 §3.8.3, RFC 5482), once
 * its oldest data has waited that long for an ACK, however many
 * retransmissions that took.
 *
 * The other timers: the persist timer (zero-window probes, and the
 * override timeout of sender SWS avoidance), the delayed ACK, keep-alive
 * (RFC 1122 §4.2.3.6), TIME-WAIT and the orphaned FIN-WAIT-2 limit.
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
void tcp_rtt_sample(struct ustack *st, struct tcp_conn *c, uint64_t r)
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

/* The user timeout in microseconds, 0 when none is set. */
static uint64_t user_timeout_us(const struct tcp_conn *c)
{
    return ms_to_us(c->user_timeout_ms);
}

/* RFC 6298 §5.1: the timer runs for one RTO; with a user timeout it never
 * runs past the moment that gives up, so the abort comes on time. */
void tcp_rtx_timer_start(struct ustack *st, struct tcp_conn *c)
{
    uint64_t when = st->now + c->rtt.rto;
    uint64_t ut = user_timeout_us(c);
    if (ut && c->rtt.waiting_since + ut < when)
        when = c->rtt.waiting_since + ut;
    tcp_timer_set(st, c, TCP_TIMER_RTX, when);
}

/* Pull a running timer in to `limit` if it would fire later. */
static void timer_cap(struct ustack *st, struct tcp_conn *c, enum tcp_timer_kind k,
                      uint64_t limit)
{
    if (tcp_timer_running(c, k) && c->timer_at[k] > limit)
        tcp_timer_set(st, c, k, limit);
}

void tcp_user_timeout_changed(struct ustack *st, struct tcp_conn *c)
{
    uint64_t ut = user_timeout_us(c);
    if (!ut)
        return;
    timer_cap(st, c, TCP_TIMER_RTX, c->rtt.waiting_since + ut);
    if (c->probes)
        timer_cap(st, c, TCP_TIMER_PERSIST, c->probe_since + ut);
}

void tcp_rtt_retransmitted(struct tcp_conn *c, uint32_t seq, uint32_t end)
{
    if (c->rtt.timing && seq_in_range(c->rtt.timed_seq, seq, end))
        c->rtt.timing = false;
}

/* Did the ACK now arriving wait behind a hole below the timed segment
 * (SACKed data above SND.UNA, duplicate ACKs, recovery)? Then it came
 * when the hole was repaired, and its delay measures the repair, not a
 * round trip: a timed segment sent just after a loss would fold a probe
 * timeout or two into SRTT. (A timestamp echo has no such problem: the
 * ACK that fills a hole echoes the repair's TSval, RFC 7323 §4.3.) */
static bool ack_waited_for_repair(const struct tcp_conn *c)
{
    return c->rec.active || c->rec.dupacks > 0 || c->sacked.count > 0;
}

void tcp_rtt_on_ack(struct ustack *st, struct tcp_conn *c, uint32_t ack)
{
    struct tcp_rtt *t = &c->rtt;
    if (t->timing && seq_gt(ack, t->timed_seq)) {
        t->timing = false;
        if (!ack_waited_for_repair(c))
            tcp_rtt_sample(st, c, st->now - t->timed_at);
    }
    t->retries = 0;
    t->waiting_since = st->now; /* the next byte in line starts waiting */
    c->icmp.soft_error = 0;     /* the path delivers: old ICMP news is stale */
    if (c->snd.una == c->snd.nxt)
        tcp_timer_stop(st, c, TCP_TIMER_RTX); /* §5.2: all data acked */
    else if (!tcp_cc_keep_rtx_timer(c, ack))
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

/* Has the oldest unacknowledged data waited past the user timeout? */
static bool user_timeout_expired(const struct ustack *st, const struct tcp_conn *c)
{
    uint64_t ut = user_timeout_us(c);
    return ut && st->now - c->rtt.waiting_since >= ut;
}

static void fail_timeout(struct ustack *st, struct tcp_conn *c, bool user_timeout)
{
    if (user_timeout)
        STAT_INC(st, tcp_user_timeout_aborts);
    tcp_conn_fail(st, c, ETIMEDOUT);
}

/* RFC 6298 §5.4: "Retransmit the earliest segment that has not been
 * acknowledged". Loss recovery starts over: no fast retransmit until what
 * was sent before the timeout is acknowledged (RFC 6582 §3.2, step 4). */
static void retransmit_after_timeout(struct ustack *st, struct tcp_conn *c)
{
    tcp_cc_timeout(st, c); /* ssthresh, loss window (RFC 5681 §3.1) */
    tcp_tlp_reset(c);      /* a loss probe's episode ends here */
    c->rec.active = true;
    c->rec.fast = false;
    c->rec.rto_hold = true;
    c->rec.recover = c->snd.nxt;
    c->rec.dupacks = 0;
    c->send_next = c->snd.una;
    /* The peer's window shrank below what is outstanding, so nothing
     * could go: probe it (RFC 9293 §3.8.6.1). */
    if (!tcp_retransmit_first(st, c))
        tcp_send_window_probe(st, c);
}

static bool on_retransmit_timeout(struct ustack *st, struct tcp_conn *c)
{
    /* Our SYN is not acknowledged yet: SYN-SENT, SYN-RECEIVED, or a
     * FIN-WAIT-1 entered by a CLOSE in SYN-RECEIVED. */
    bool handshake = !c->syn_acked;
    unsigned limit = handshake ? st->cfg.tcp.syn_retries : st->cfg.tcp.data_retries;
    STAT_INC(st, tcp_rto_expired);
    if (user_timeout_expired(st, c)) {
        fail_timeout(st, c, true);
        return false;
    }
    if (!c->user_timeout_ms && c->rtt.retries >= limit) {
        fail_timeout(st, c, false);
        return false;
    }
    if (c->rtt.retries < UINT8_MAX)
        c->rtt.retries++;
    c->rtt.rto = clamp_rto(st, 2 * (uint64_t)c->rtt.rto); /* §5.5 */
    c->rtt.timing = false;                               /* Karn */
    c->opt.ts_rto_set = c->opt.ts;                       /* ... and for echoes */
    c->opt.ts_at_rto = tcp_ts_now(st, c);
    TCP_TRACE(st, c, USTACK_TRACE_TIMEOUT);
    if (handshake) {
        c->rtt.syn_timed_out = true;
        STAT_INC(st, tcp_retransmits);
        c->retransmissions++;
        tcp_send_syn(st, c);
    } else {
        retransmit_after_timeout(st, c);
    }
    if (handshake || c->snd.una != c->snd.nxt)
        tcp_rtx_timer_start(st, c); /* §5.6 */
    return true;
}

/* The interval before the next zero-window probe: the RTO, doubled for
 * each probe already sent (RFC 9293 §3.8.6.1, SHLD-29/30). With a user
 * timeout, never past the moment unanswered probes make us give up. */
static uint64_t persist_deadline(const struct ustack *st, const struct tcp_conn *c)
{
    uint64_t iv = (uint64_t)c->rtt.rto << c->probe_backoff;
    uint64_t max = ms_to_us(st->cfg.tcp.rto_max_ms);
    uint64_t when = st->now + (iv < max ? iv : max);
    uint64_t ut = user_timeout_us(c);
    if (ut && c->probes && c->probe_since + ut < when)
        when = c->probe_since + ut;
    return when;
}

/* Probes unanswered for too long: past the user timeout if there is one,
 * else data_retries of them. c->probes counts probes since the peer last
 * answered; any ACK from it resets the count, so a peer that keeps
 * answering "window 0" is never given up on (RFC 9293 §3.8.6.1, MUST-37;
 * RFC 1122 §4.2.2.17). */
static bool probes_exhausted(const struct ustack *st, const struct tcp_conn *c)
{
    uint64_t ut = user_timeout_us(c);
    if (ut)
        return c->probes && st->now - c->probe_since >= ut;
    return c->probes >= st->cfg.tcp.data_retries;
}

static bool on_persist_timeout(struct ustack *st, struct tcp_conn *c)
{
    /* The window is open but too small for silly window avoidance, or
     * USTACK_MSG_MORE held the last piece: this is the override timeout
     * of RFC 9293 §3.8.6.2.1 (4), send what the window takes. */
    if (c->snd.wnd > 0 && tcp_output_override(st, c)) {
        tcp_output(st, c);
        return true;
    }
    if (probes_exhausted(st, c)) {
        fail_timeout(st, c, c->user_timeout_ms != 0);
        return false;
    }
    if (c->probes == 0)
        c->probe_since = st->now;
    if (c->probes < UINT8_MAX)
        c->probes++;
    tcp_send_window_probe(st, c);
    if (c->probe_backoff < 16)
        c->probe_backoff++;
    tcp_timer_set(st, c, TCP_TIMER_PERSIST, persist_deadline(st, c));
    return true;
}

/* The delayed ACK's time is up (RFC 9293 §3.8.6.3: "in no case" later
 * than 0.5 s; ours is delack_ms). */
static bool on_delack_timeout(struct ustack *st, struct tcp_conn *c)
{
    if (c->ack_delayed) {
        STAT_INC(st, tcp_delayed_acks);
        c->ack_pending = true;
        tcp_output(st, c);
    }
    return true;
}

/* ---- Keep-alive (RFC 1122 §4.2.3.6) ------------------------------------------- */

/* Keep-alive watches an idle connection that the peer could still be
 * sending on or waiting for: with our FIN in flight (FIN-WAIT-1, CLOSING,
 * LAST-ACK) the retransmission timer already does. */
static bool keepalive_applies(const struct tcp_conn *c)
{
    if (!c->keepalive)
        return false;
    return c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT ||
           c->state == TCP_FIN_WAIT_2;
}

static uint64_t keep_idle_deadline(const struct tcp_conn *c)
{
    return c->ka.last_heard + (uint64_t)c->ka.idle_s * 1000000u;
}

void tcp_keepalive_update(struct ustack *st, struct tcp_conn *c)
{
    if (!keepalive_applies(c)) {
        tcp_timer_stop(st, c, TCP_TIMER_KEEPALIVE);
        c->ka.probes = 0;
        return;
    }
    if (c->ka.probes && tcp_timer_running(c, TCP_TIMER_KEEPALIVE))
        return; /* probing: the interval timer runs */
    tcp_timer_set(st, c, TCP_TIMER_KEEPALIVE, keep_idle_deadline(c));
}

/* The timer is not moved on every segment that arrives (tcp_peer_heard
 * only notes the time); when it fires early, it moves itself to the end
 * of the idle period. */
static bool on_keepalive_timeout(struct ustack *st, struct tcp_conn *c)
{
    if (!keepalive_applies(c))
        return true;
    /* Data in flight or waiting for the window: the retransmission and
     * persist timers watch the peer ("only when no data ... has been
     * sent or received" is the idle case keep-alive is for). */
    if (c->snd.una != c->snd.nxt || ringbuf_used(&c->sndbuf) > 0) {
        c->ka.probes = 0;
        c->ka.last_heard = st->now;
        tcp_timer_set(st, c, TCP_TIMER_KEEPALIVE, keep_idle_deadline(c));
        return true;
    }
    if (c->ka.probes == 0 && st->now < keep_idle_deadline(c)) {
        tcp_timer_set(st, c, TCP_TIMER_KEEPALIVE, keep_idle_deadline(c));
        return true;
    }
    if (c->ka.probes >= c->ka.count) {
        STAT_INC(st, tcp_keepalive_aborts);
        tcp_conn_fail(st, c, ETIMEDOUT); /* the peer is gone */
        return false;
    }
    c->ka.probes++;
    tcp_send_keepalive(st, c);
    tcp_timer_set(st, c, TCP_TIMER_KEEPALIVE,
                  st->now + (uint64_t)c->ka.intvl_s * 1000000u);
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
    [TCP_TIMER_DELACK] = on_delack_timeout,
    [TCP_TIMER_KEEPALIVE] = on_keepalive_timeout,
    [TCP_TIMER_TIME_WAIT] = on_time_wait_timeout,
    [TCP_TIMER_FIN_WAIT_2] = on_fin_wait_2_timeout,
    [TCP_TIMER_LOSS_PROBE] = tcp_tlp_timeout,
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
    for (int k = 0; k < TCP_TIMER_COUNT; k++)
        if (k != TCP_TIMER_TIME_WAIT)
            c->timer_at[k] = 0;
    tcp_timer_set(st, c, TCP_TIMER_TIME_WAIT,
                  st->now + 2 * ms_to_us(st->cfg.tcp.msl_ms));
    if (c->released)
        tcp_conn_release_buffers(c); /* TIME-WAIT only answers FINs */
    tcp_notify(st, c);
}

/* Is output stuck with nothing in flight that an ACK could answer?
 *  - The window is shut, something (data or our FIN) waits at SND.UNA,
 *    and at most one unit is in flight (the last probe, or a last small
 *    segment): zero-window probing, whose probes are not retransmissions
 *    of lost data, so they never exhaust the retry limit while the peer
 *    keeps answering (RFC 9293 §3.8.6.1, MUST-37).
 *  - The window is open, nothing is in flight, yet data waits: sender
 *    SWS avoidance (or USTACK_MSG_MORE) held it, and only the override
 *    timeout of §3.8.6.2.1 will send it.
 * Either way the persist timer, not the retransmission timer, keeps the
 * connection going. */
static bool output_stuck(const struct tcp_conn *c)
{
    bool in_flight = c->snd.wnd == 0 ? seq_gt(c->snd.nxt, c->snd.una + 1)
                                     : c->snd.nxt != c->snd.una;
    if (in_flight)
        return false;
    bool data = ringbuf_used(&c->sndbuf) > 0;
    bool fin = c->fin_pending && !tcp_fin_acked(c);
    return data || fin;
}

void tcp_persist_update(struct ustack *st, struct tcp_conn *c)
{
    if (tcp_may_send(c->state) && output_stuck(c)) {
        /* Persist has its own clock (probe_since); once the window
         * opens, data waits for its ACK from the last sign of life on. */
        c->rtt.waiting_since = st->now;
        tcp_timer_stop(st, c, TCP_TIMER_RTX);
        if (!tcp_timer_running(c, TCP_TIMER_PERSIST))
            tcp_timer_set(st, c, TCP_TIMER_PERSIST, persist_deadline(st, c));
        return;
    }
    tcp_timer_stop(st, c, TCP_TIMER_PERSIST);
    c->probe_backoff = 0;
    /* Out of persist with a unit still unacknowledged (the last probe's,
     * or a small segment sent into a tiny window that then shut): the
     * retransmission timer, which persist had stopped, must watch it, or
     * a lost probe would stall the connection for good. */
    if (tcp_may_send(c->state) && c->snd.una != c->snd.nxt &&
        !tcp_timer_running(c, TCP_TIMER_RTX))
        tcp_rtx_timer_start(st, c);
}
