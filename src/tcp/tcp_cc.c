/*
 * Congestion control: what every algorithm shares (see cc.h).
 *
 *   RFC 5681 §3.1  initial window, loss window, ssthresh after a timeout
 *                  (eq. 4), slow start and congestion avoidance (the
 *                  algorithms call tcp_cc_slow_start / tcp_cc_reno_avoid)
 *   RFC 6928       initial window of 10 segments (capped at 14600 bytes
 *                  unless 2 segments are more)
 *   RFC 3465       appropriate byte counting, L = 2*SMSS
 *   RFC 5681 §3.2  fast retransmit and fast recovery, with
 *   RFC 6582       NewReno partial ACKs and the recovery point, or
 *   RFC 6675       SACK-based recovery (tcp_sack.c) when the peer SACKs
 *   RFC 3042       limited transmit
 *   RFC 5681 §4.1  restart after idle
 *
 * Loss recovery keeps its state in c->rec (struct tcp_recovery), which
 * the retransmission timer (tcp_timer.c) shares: a timeout ends fast
 * recovery and leaves rec.active set, so that no fast retransmit starts
 * until what was in flight before it is acknowledged (RFC 6582 §3.2 step
 * 2, RFC 6675 §5.1).
 *
 * One rule beyond the RFCs, after RFC 7661's reasoning: cwnd grows only
 * while it is what limits sending (in flight within one SMSS of cwnd).
 * An application- or receiver-limited connection would otherwise build a
 * window it never tested, and CUBIC would take it as W_max on a loss.
 */
#include "tcp/tcp_int.h"

#include <string.h>

#include "ustack/socket.h"

/* ---- The algorithms ---------------------------------------------------------- */

/* enum ustack_tcp_cc value -> algorithm. A new algorithm is one line. */
static const struct tcp_cc_ops *const algorithms[] = {
    [USTACK_TCP_CC_NEWRENO] = &tcp_cc_newreno,
    [USTACK_TCP_CC_CUBIC] = &tcp_cc_cubic,
    [USTACK_TCP_CC_BBR] = &tcp_cc_bbr,
};
#define ALGORITHM_COUNT (sizeof(algorithms) / sizeof(algorithms[0]))

static bool algo_valid(unsigned algo)
{
    return algo < ALGORITHM_COUNT && algorithms[algo] != NULL;
}

void tcp_cc_config_defaults(struct ustack_tcp_config *cfg)
{
    if (!algo_valid(cfg->congestion))
        cfg->congestion = USTACK_TCP_CC_CUBIC;
}

const struct tcp_cc_ops *tcp_cc_lookup(const struct ustack *st, int algo)
{
    if (algo == USTACK_TCP_CC_DEFAULT)
        algo = (int)st->cfg.tcp.congestion;
    return algo > 0 && algo_valid((unsigned)algo) ? algorithms[algo] : NULL;
}

int ustack_tcp_cc_from_name(const char *name)
{
    for (unsigned i = 0; i < ALGORITHM_COUNT; i++)
        if (algorithms[i] && !strcmp(algorithms[i]->name, name))
            return (int)i;
    return -1;
}

const struct tcp_cc_ops *tcp_cc_default(const struct ustack *st)
{
    return tcp_cc_lookup(st, USTACK_TCP_CC_DEFAULT);
}

void tcp_cc_select(struct ustack *st, struct tcp_conn *c,
                   const struct tcp_cc_ops *ops)
{
    for (unsigned i = 0; i < ALGORITHM_COUNT; i++)
        if (algorithms[i] == ops)
            c->cc.algo = (uint8_t)i;
    c->cc.ops = ops;
    memset(&c->cc.priv, 0, sizeof(c->cc.priv));
    if (c->cc.cwnd) /* switching mid-connection: take over its window */
        ops->init(c, st->now);
}

static uint32_t smss(const struct tcp_conn *c)
{
    return c->snd_mss;
}

/* ---- Windows --------------------------------------------------------------------- */

/* RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)). */
static uint32_t initial_window(const struct tcp_conn *c)
{
    uint32_t ten = 10 * smss(c), two = 2 * smss(c);
    uint32_t cap = two > 14600 ? two : 14600;
    return ten < cap ? ten : cap;
}

void tcp_cc_grow(struct tcp_conn *c, uint32_t n)
{
    uint64_t w = (uint64_t)c->cc.cwnd + n;
    c->cc.cwnd = w > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)w;
}

/* After a timeout, until what was in flight is acknowledged. */
static bool after_timeout(const struct tcp_conn *c)
{
    return c->rec.active && !c->rec.fast;
}

void tcp_cc_slow_start(struct tcp_conn *c, uint32_t acked)
{
    /* RFC 3465 §2.2 (L = 2*SMSS), §2.3: L = 1*SMSS in the slow start
     * after a timeout, where one ACK may cover segments that reached the
     * peer before it and would otherwise release a burst. */
    uint32_t limit = (after_timeout(c) ? 1 : 2) * smss(c);
    tcp_cc_grow(c, acked < limit ? acked : limit);
}

void tcp_cc_reno_avoid(struct tcp_conn *c, uint32_t acked)
{
    /* RFC 3465 §2.1: "When bytes_acked becomes greater than or equal to
     * the value of the congestion window, bytes_acked is reduced by the
     * value of cwnd. Next, cwnd is incremented by a full-sized segment". */
    c->cc.ca_acked += acked < c->cc.cwnd ? acked : c->cc.cwnd;
    if (c->cc.ca_acked >= c->cc.cwnd) {
        c->cc.ca_acked -= c->cc.cwnd;
        tcp_cc_grow(c, smss(c));
    }
}

void tcp_cc_established(struct ustack *st, struct tcp_conn *c)
{
    /* RFC 5681 §3.1: "if the SYN or SYN/ACK is lost, the initial window
     * used by a sender after a correctly transmitted SYN MUST be one
     * segment consisting of at most SMSS bytes." */
    c->cc.cwnd = c->rtt.syn_timed_out ? smss(c) : initial_window(c);
    c->cc.ssthresh = TCP_CC_SSTHRESH_NONE;
    c->cc.ca_acked = 0;
    c->cc.last_send = st->now;
    memset(&c->cc.priv, 0, sizeof(c->cc.priv));
    c->cc.ops->init(c, st->now);
}

uint32_t tcp_cc_in_flight(const struct tcp_conn *c)
{
    if (tcp_sack_recovering(c))
        return tcp_sack_pipe(c);
    if (!seq_lt(c->snd.una, c->send_next))
        return 0;
    /* What lies past the output cursor is not in flight: after a timeout
     * the cursor went back to SND.UNA and everything beyond counts as
     * lost until it is sent again. */
    return c->send_next - c->snd.una - tcp_sack_bytes_below(c, c->send_next);
}

/* RFC 3042: on the first and second duplicate ACK, one new segment each
 * may go beyond cwnd ("the amount of outstanding data would remain less
 * than or equal to the congestion window plus 2*SMSS"). When the peer
 * SACKs, the SACKed segments leave the flight instead (RFC 6675 §5 step
 * 3 (c)), which does the same. */
static uint32_t limited_transmit_allowance(const struct tcp_conn *c)
{
    const struct tcp_recovery *r = &c->rec;
    if (r->active || c->sacked.count > 0 || r->dupacks == 0 ||
        r->dupacks >= TCP_DUPTHRESH)
        return 0;
    return r->dupacks * smss(c);
}

uint32_t tcp_cc_send_room(const struct tcp_conn *c)
{
    uint64_t allowed = (uint64_t)c->cc.cwnd + limited_transmit_allowance(c);
    uint32_t flight = tcp_cc_in_flight(c);
    return allowed > flight ? (uint32_t)(allowed - flight) : 0;
}

void tcp_cc_before_send(struct ustack *st, struct tcp_conn *c)
{
    /* RFC 5681 §4.1: "a TCP SHOULD set cwnd to no more than RW before
     * beginning transmission if the TCP has not sent data in an interval
     * exceeding the retransmission timeout", RW = min(IW, cwnd). The ACK
     * clock has stopped; a whole old window at once would be a burst the
     * path may no longer take. */
    uint32_t iw = initial_window(c);
    if (c->cc.cwnd <= iw || st->now - c->cc.last_send <= c->rtt.rto)
        return;
    c->cc.cwnd = iw;
    STAT_INC(st, tcp_idle_restarts);
    c->cc.ops->on_idle_restart(c, st->now);
}

void tcp_cc_sent(struct ustack *st, struct tcp_conn *c, uint32_t seq,
                 uint32_t len)
{
    c->cc.last_send = st->now;
    /* New data on the first or second duplicate ACK: limited transmit. */
    if (!c->rec.active && c->rec.dupacks > 0 && seq_geq(seq, c->snd.nxt) && len) {
        c->rec.lt_bytes += len;
        STAT_INC(st, tcp_limited_transmits);
    }
}

/* ---- Acknowledgments ---------------------------------------------------------- */

/* Grow cwnd by the algorithm's rule, if it was the limit (see the top). */
static void grow(struct ustack *st, struct tcp_conn *c, uint32_t acked,
                 uint32_t flight)
{
    if ((uint64_t)flight + smss(c) <= c->cc.cwnd)
        return;
    c->cc.ops->on_ack(c, acked, c->rtt.srtt, st->now);
}

static void reset_recovery(struct tcp_recovery *r)
{
    r->active = false;
    r->fast = false;
    r->sack = false;
    r->partial_acks = 0;
    r->rescue_set = false;
}

/* An ACK reached the recovery point. */
static void end_recovery(struct ustack *st, struct tcp_conn *c, uint32_t acked,
                         uint32_t flight)
{
    struct tcp_recovery *r = &c->rec;
    if (!r->fast) {
        /* After a timeout: slow start simply goes on, this ACK still
         * counted as one of the slow start after the timeout. */
        grow(st, c, acked, flight);
        reset_recovery(r);
        return;
    }
    bool sack = r->sack;
    reset_recovery(r);
    /* RFC 6582 §3.2 step 6, option (1): "Set cwnd to min (ssthresh,
     * max(FlightSize, SMSS) + SMSS)", which deflates the window without
     * letting a burst out when little is left in flight. SACK recovery
     * never inflated cwnd (RFC 6675 sends by pipe): it stays ssthresh.
     * An algorithm that keeps cwnd itself in recovery sets it in
     * on_recovery_exit. */
    if (!sack && !c->cc.ops->owns_recovery_cwnd) {
        uint32_t fs = c->snd.nxt - c->snd.una;
        uint64_t w = (uint64_t)(fs > smss(c) ? fs : smss(c)) + smss(c);
        c->cc.cwnd = w < c->cc.ssthresh ? (uint32_t)w : c->cc.ssthresh;
    }
    c->cc.ca_acked = 0;
    c->cc.ops->on_recovery_exit(c, st->now);
}

/* RFC 6582 §3.2 step 5: a partial ACK during NewReno fast recovery. */
static void partial_ack(struct ustack *st, struct tcp_conn *c, uint32_t acked)
{
    c->rec.partial_acks++;
    /* "retransmit the first unacknowledged segment" */
    if (tcp_retransmit_first(st, c))
        STAT_INC(st, tcp_partial_ack_retransmits);
    if (c->cc.ops->owns_recovery_cwnd)
        return;
    /* "Deflate the congestion window by the amount of new data
     * acknowledged by the Cumulative Acknowledgment field. If the partial
     * ACK acknowledges at least one SMSS of new data, then add back SMSS
     * bytes to the congestion window." The window never drops below one
     * segment. */
    uint32_t w = c->cc.cwnd > acked ? c->cc.cwnd - acked : 0;
    if (acked >= smss(c))
        w += smss(c);
    c->cc.cwnd = w > smss(c) ? w : smss(c);
}

void tcp_cc_new_ack(struct ustack *st, struct tcp_conn *c, uint32_t acked,
                    uint32_t flight)
{
    struct tcp_recovery *r = &c->rec;
    r->dupacks = 0;
    r->lt_bytes = 0;
    r->rto_hold = false; /* the path works again: go-back-N goes on */
    if (!c->cc.cwnd)
        return;
    if (!r->active)
        grow(st, c, acked, flight);
    else if (seq_geq(c->snd.una, r->recover))
        end_recovery(st, c, acked, flight);
    else if (!r->fast)
        grow(st, c, acked, flight); /* slow start after a timeout */
    else if (!r->sack)
        partial_ack(st, c, acked);
    /* A partial ACK in SACK recovery: RFC 6675 §5 (B), the scoreboard
     * and pipe are updated already; output does (C). */
}

/* ---- Delivery samples (on_ack_sample) -------------------------------------- */

/* Nothing unsent waits in the send buffer (the FIN aside). */
static bool nothing_unsent(const struct tcp_conn *c)
{
    return !seq_lt(c->snd.nxt, tcp_snd_data_end(c));
}

void tcp_cc_ack_begin(const struct tcp_conn *c, struct tcp_cc_ack_mark *m)
{
    m->wanted = c->cc.cwnd && c->cc.ops->on_ack_sample;
    if (!m->wanted)
        return; /* the other algorithms pay one test per ACK */
    m->flight = tcp_cc_in_flight(c);
    m->cwnd_limited = (uint64_t)m->flight + smss(c) > c->cc.cwnd;
    m->queue_empty = nothing_unsent(c);
    m->app_limited = !m->cwnd_limited && m->queue_empty;
    m->sacked = c->sacked.bytes;
    m->bytes_acked = c->bytes_acked;
}

void tcp_cc_ack_end(struct ustack *st, struct tcp_conn *c,
                    const struct tcp_cc_ack_mark *m)
{
    if (!m->wanted || !c->cc.cwnd || !c->cc.ops->on_ack_sample)
        return;
    /* Bytes the cumulative ACK covered that were SACKed before leave the
     * scoreboard as they join bytes_acked, so acknowledged plus the
     * change of the scoreboard counts each byte once. (A scoreboard range
     * forgotten when the board is full can make it negative: nothing.) */
    uint64_t now_known = (c->bytes_acked - m->bytes_acked) + c->sacked.bytes;
    uint64_t delivered = now_known > m->sacked ? now_known - m->sacked : 0;
    struct tcp_cc_sample s = {
        .delivered = delivered > UINT32_MAX ? UINT32_MAX : (uint32_t)delivered,
        .prior_flight = m->flight,
        .in_flight = tcp_cc_in_flight(c),
        .cwnd_limited = m->cwnd_limited,
        .app_limited = m->app_limited,
        .queue_empty = m->queue_empty,
    };
    c->cc.ops->on_ack_sample(c, &s, st->now);
}

/* ---- Loss --------------------------------------------------------------------- */

/* Fast retransmit (RFC 5681 §3.2 steps 2 and 3; RFC 6675 §5 step 4). */
static void enter_fast_recovery(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_recovery *r = &c->rec;
    /* FlightSize without the segments limited transmit sent (RFC 5681
     * §3.2 step 2: "additional data sent in limited transmit MUST NOT be
     * included in this calculation"). */
    uint32_t flight = c->snd.nxt - c->snd.una;
    flight -= r->lt_bytes < flight ? r->lt_bytes : flight;
    r->active = true;
    r->fast = true;
    /* RFC 6675 needs the peer's SACK blocks to find the holes; a peer
     * that agreed to SACK but sends none gets NewReno's recovery. */
    r->sack = c->opt.sack && c->sacked.count > 0;
    r->recover = c->snd.nxt;
    r->partial_acks = 0;
    r->rescue_set = false;
    c->cc.ops->on_congestion(c, TCP_CC_LOSS_FAST, flight, st->now);
    c->cc.ca_acked = 0;
    STAT_INC(st, tcp_fast_retransmits);
    if (r->sack) {
        STAT_INC(st, tcp_sack_recoveries);
        tcp_sack_enter_recovery(st, c);
        return;
    }
    /* "set cwnd to ssthresh plus 3*SMSS. This artificially 'inflates'
     * the congestion window by the number of segments (three) that have
     * left the network and which the receiver has buffered." */
    if (!c->cc.ops->owns_recovery_cwnd)
        tcp_cc_grow(c, 3 * smss(c));
    tcp_retransmit_first(st, c);
}

void tcp_cc_dup_ack(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_recovery *r = &c->rec;
    STAT_INC(st, tcp_dup_acks_rx);
    r->dupacks++;
    if (!c->cc.cwnd)
        return;
    if (r->active) {
        /* RFC 5681 §3.2 step 4: "For each additional duplicate ACK
         * received (after the third), cwnd MUST be incremented by SMSS":
         * another segment has left the network. SACK recovery counts that
         * in pipe instead; after a timeout, duplicates start nothing
         * (RFC 6582 §3.2 step 2). */
        if (r->fast && !r->sack && !c->cc.ops->owns_recovery_cwnd)
            tcp_cc_grow(c, smss(c));
        return;
    }
    /* RFC 5681 §3.2: the third duplicate ACK; with SACK also fewer, when
     * enough was SACKed above SND.UNA to call it lost (RFC 6675 §5 step
     * 3 (b)). Before that, limited transmit (tcp_cc_send_room). */
    bool lost = r->dupacks >= TCP_DUPTHRESH ||
                (c->opt.sack && tcp_sack_is_lost(c, c->snd.una));
    if (lost)
        enter_fast_recovery(st, c);
}

void tcp_cc_loss_detected(struct ustack *st, struct tcp_conn *c)
{
    if (c->cc.cwnd && !c->rec.active)
        enter_fast_recovery(st, c);
}

/* ---- Timeouts ------------------------------------------------------------------ */

void tcp_cc_timeout(struct ustack *st, struct tcp_conn *c)
{
    if (!c->cc.cwnd)
        return;
    /* RFC 5681 §3.1: "When a TCP sender detects segment loss using the
     * retransmission timer and the given segment has not yet been resent
     * by way of the retransmission timer, the value of ssthresh MUST be
     * set to no more than" max(FlightSize / 2, 2*SMSS) (eq. 4; the
     * algorithm picks its factor). A backed-off repeat of the same
     * timeout leaves ssthresh alone. */
    if (c->rtt.retries <= 1)
        c->cc.ops->on_congestion(c, TCP_CC_LOSS_RTO, tcp_cc_in_flight(c), st->now);
    /* "Furthermore, upon a timeout cwnd MUST be set to no more than the
     * loss window, LW, which equals 1 full-sized segment". */
    c->cc.cwnd = smss(c);
    c->cc.ca_acked = 0;
    /* RFC 6675 §5.1, RFC 2018 §8: the peer may have discarded what it
     * SACKed (reneging); the timeout is where the sender finds out, so
     * the scoreboard starts over. */
    tcp_sack_clear(c);
    reset_recovery(&c->rec);
}

bool tcp_cc_keep_rtx_timer(const struct tcp_conn *c, uint32_t ack)
{
    const struct tcp_recovery *r = &c->rec;
    return r->active && r->fast && !r->sack && r->partial_acks > 0 &&
           seq_lt(ack, r->recover) && tcp_timer_running(c, TCP_TIMER_RTX);
}
