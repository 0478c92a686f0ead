/*
 * CUBIC (RFC 9438): the window after a loss follows
 *
 *     W_cubic(t) = C * (t - K)^3 + W_max,  K = cbrt((W_max - cwnd_epoch) / C)
 *
 * (C = 0.4, t in seconds since congestion avoidance began, windows in
 * segments), and the Reno-friendly estimate W_est when that is larger.
 * The expected values are computed here from the RFC's formulas, with
 * W_max and cwnd_epoch observed on the connection; the stack's window
 * must stay within TOLERANCE_SEGS (1 segment) of them at the chosen times.
 * Why a tolerance at all: the RFC grows cwnd by (target - cwnd) / cwnd per
 * ACK towards target = W_cubic(t + RTT), so cwnd follows the curve in
 * steps, not exactly.
 *
 * The peer is a model receiver with an ACK clock: every segment the stack
 * sends arrives RTT later (unless the script drops it) and is answered at
 * once, cumulatively, with SACK blocks for what it holds out of order.
 * The handshake takes an RTT too, so the stack's SRTT is exactly RTT. MSS
 * 1000 (the peer's), window 65535 (no scaling): windows up to 65 segments.
 */
#include <stdio.h>
#include <string.h>

#include "cc_script.h"
#include "tcpscript.h"
#include "test.h"
#include "ustack/socket.h"

#define MSS 1000u
#define SEG_US 1000000ull
#define TOLERANCE_SEGS 1.0
#define C_CUBIC 0.4
#define BETA_CUBIC 0.7
#define ALPHA_CUBIC (3 * (1 - BETA_CUBIC) / (1 + BETA_CUBIC))

/* ---- The model peer ---------------------------------------------------------- */

#define MAX_PENDING 256
#define MAX_HELD 8

struct peer {
    struct ts *ts;
    uint64_t rtt_us;
    struct {
        uint64_t at;         /* when it arrives (and is acknowledged) */
        uint32_t start, end; /* relative sequence numbers */
    } pending[MAX_PENDING];  /* in order of arrival */
    unsigned npending;
    uint32_t rcv_nxt;                      /* relative */
    struct { uint32_t start, end; } held[MAX_HELD]; /* most recent first */
    unsigned nheld;
    uint32_t drop_start;                   /* drop the segment starting here */
    bool drop_armed;
    uint64_t acks;                         /* ACKs sent */
    int sd;                                /* the stack's socket, kept fed */
};

/* Take every segment the stack sent; each arrives rtt_us later. */
static void peer_collect(struct peer *p)
{
    while (!ts_failed(p->ts) && ts_out_maybe(p->ts, "P?. *:*(*) ack 1")) {
        const struct ts_seg *s = ts_last(p->ts);
        uint32_t start = s->seq - ts_cur(p->ts)->stack_isn;
        if (p->drop_armed && start == p->drop_start) {
            p->drop_armed = false;
            continue;
        }
        if (p->npending == MAX_PENDING) {
            ts_fail(p->ts, "model peer: too many segments in flight");
            return;
        }
        p->pending[p->npending].at = ts_now_us(p->ts) + p->rtt_us;
        p->pending[p->npending].start = start;
        p->pending[p->npending].end = start + (uint32_t)s->data_len;
        p->npending++;
    }
}

/* Hold [start, end) out of order, merged with what touches it, as the
 * most recent block. */
static void peer_hold(struct peer *p, uint32_t start, uint32_t end)
{
    unsigned keep = 0;
    for (unsigned i = 0; i < p->nheld; i++) {
        if (p->held[i].end < start || p->held[i].start > end) {
            p->held[keep++] = p->held[i];
            continue;
        }
        start = p->held[i].start < start ? p->held[i].start : start;
        end = p->held[i].end > end ? p->held[i].end : end;
    }
    if (keep == MAX_HELD)
        keep--;
    memmove(&p->held[1], &p->held[0], keep * sizeof(p->held[0]));
    p->held[0].start = start;
    p->held[0].end = end;
    p->nheld = keep + 1;
}

static void peer_receive(struct peer *p, uint32_t start, uint32_t end)
{
    if (start != p->rcv_nxt) {
        peer_hold(p, start, end);
        return;
    }
    p->rcv_nxt = end;
    for (bool more = true; more;) { /* held text that now follows */
        more = false;
        for (unsigned i = 0; i < p->nheld; i++)
            if (p->held[i].start == p->rcv_nxt) {
                p->rcv_nxt = p->held[i].end;
                memmove(&p->held[i], &p->held[i + 1], (p->nheld - i - 1) * sizeof(p->held[0]));
                p->nheld--;
                more = true;
                break;
            }
    }
}

static void peer_ack(struct peer *p)
{
    char opt[200] = "";
    unsigned n = p->nheld < 4 ? p->nheld : 4;
    if (n) {
        uint32_t iss = ts_cur(p->ts)->stack_isn;
        size_t at = (size_t)snprintf(opt, sizeof(opt), " <nop, nop, raw 05 %02x", 2 + 8 * n);
        for (unsigned i = 0; i < n; i++) {
            uint32_t v[2] = {iss + p->held[i].start, iss + p->held[i].end};
            for (int j = 0; j < 2; j++)
                at += (size_t)snprintf(opt + at, sizeof(opt) - at, " %02x %02x %02x %02x",
                                       v[j] >> 24, (v[j] >> 16) & 0xff, (v[j] >> 8) & 0xff,
                                       v[j] & 0xff);
        }
        snprintf(opt + at, sizeof(opt) - at, ">");
    }
    ts_in(p->ts, ts_fmt(p->ts, ". 1:1(0) ack %u win 65535%s", p->rcv_nxt, opt));
    p->acks++;
}

/* Lose the segment that starts at `start`: taken off the wire if it is
 * on it, else when it is sent. */
static void peer_drop(struct peer *p, uint32_t start)
{
    peer_collect(p);
    for (unsigned i = 0; i < p->npending; i++)
        if (p->pending[i].start == start) {
            memmove(&p->pending[i], &p->pending[i + 1],
                    (p->npending - i - 1) * sizeof(p->pending[0]));
            p->npending--;
            return;
        }
    p->drop_start = start;
    p->drop_armed = true;
}

/* Run the ACK clock: deliver the next arrival, answer it; false when
 * nothing is in flight or the script failed. */
static bool peer_step(struct peer *p)
{
    /* The application always has data: 100 to 200 KB queued. */
    struct tcp_conn *c = cc_conn(p->ts);
    if (c && ts_cur(p->ts)->app_sent - (c->snd.una - ts_cur(p->ts)->stack_isn - 1) < 100000)
        ts_send(p->ts, p->sd, 100000);
    peer_collect(p);
    if (ts_failed(p->ts) || p->npending == 0)
        return false;
    if (p->pending[0].at > ts_now_us(p->ts))
        ts_advance_to(p->ts, p->pending[0].at);
    uint32_t start = p->pending[0].start, end = p->pending[0].end;
    memmove(&p->pending[0], &p->pending[1], (p->npending - 1) * sizeof(p->pending[0]));
    p->npending--;
    peer_receive(p, start, end);
    peer_ack(p);
    peer_collect(p);
    return !ts_failed(p->ts);
}

/* ---- The formulas -------------------------------------------------------------- */

static double cube_root(double x)
{
    if (x == 0)
        return 0;
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 200; i++)
        r = (2 * r + x / (r * r)) / 3;
    return r;
}

/* RFC 9438 Figure 1, segments; t and K in seconds. */
static double w_cubic(double t, double k, double w_max)
{
    double d = t - k;
    return C_CUBIC * d * d * d + w_max;
}

static double square_root(double x)
{
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 200; i++)
        r = (r + x / r) / 2;
    return r;
}

/* W_est after n segments acknowledged since the stage began, in the
 * continuous form of §4.3's per-ACK rule W_est += alpha / cwnd with cwnd
 * = W_est: dW/dN = alpha / W, so W = sqrt(W0^2 + 2 * alpha * N). */
static double w_est_after(double w0, double n)
{
    return square_root(w0 * w0 + 2 * ALPHA_CUBIC * n);
}

static double segs(uint32_t bytes)
{
    return (double)bytes / MSS;
}

static double distance(double a, double b)
{
    return a > b ? a - b : b - a;
}

/* ---- The scenario ---------------------------------------------------------------- */

/* Handshake (one RTT, SACK-permitted, MSS 1000), then a window of 40
 * segments by slow start (10, 20, 40), then the first segment of the
 * next round lost. Runs until fast recovery ends; *w_max gets cwnd at the
 * loss, *flight the FlightSize then, *t_exit the time recovery ended. */
static int cubic_setup(struct peer *p, uint64_t rtt_us, double *w_max, double *flight,
                       uint64_t *t_exit)
{
    struct ts *ts = p->ts;
    memset(p, 0, sizeof(*p));
    p->ts = ts;
    p->rtt_us = rtt_us;
    p->rcv_nxt = 1;
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1000, sackOK>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460, nop, nop, sackOK>");
    ts_advance_us(ts, rtt_us);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    p->sd = sd;
    /* Slow start: 10 + 20 segments acknowledged, 40 in the air. */
    while (p->acks < 30 && peer_step(p))
        ;
    TS_CHECK_EQ(ts, cc_cwnd(ts), 40 * MSS);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), TCP_CC_SSTHRESH_NONE);
    *w_max = segs(cc_cwnd(ts));
    peer_drop(p, cc_seg(31, MSS)); /* the first of the 40 */
    struct tcp_conn *c = cc_conn(ts);
    while (!ts_failed(ts) && !c->rec.active && peer_step(p))
        ;
    /* Fast recovery began on the third duplicate; FlightSize leaves out
     * the two limited-transmit segments (RFC 5681 §3.2). */
    TS_CHECK(ts, c->rec.active && c->rec.fast && c->rec.sack);
    *flight = segs(c->snd.nxt - c->snd.una) - 2;
    while (!ts_failed(ts) && c->rec.active && peer_step(p))
        ;
    *t_exit = ts_now_us(ts);
    return sd;
}

TEST(test_tcp_cc_cubic_window_follows_the_curve)
{
    /* W_max = 40 segments, cwnd_epoch = 28: K = cbrt(30) = 3.107 s. With
     * RTT 200 ms the Reno estimate (0.53 segment per round trip) stays
     * below the curve for the 4.5 s checked, so this is the cubic region:
     * concave up to K (t < K, cwnd < W_max), flat at K, convex after.
     *
     * Where the curve is steep, cwnd trails it in steps: ACKs come in
     * bursts one RTT apart, and each burst moves cwnd part of the way to
     * W_cubic(t + RTT). The error is then about the growth in one round
     * trip, 3 * C * (t - K)^2 * RTT, 2.3 segments at t = 0. The chosen
     * times start at K/2, where that is below 0.6 segment: there the
     * window must be within 1 segment of W_cubic(t). Before, it may only
     * trail the curve (never pass W_max). */
    struct ts *ts = ts_new();
    struct peer p = {.ts = ts};
    uint64_t rtt = 200000;
    double w_max, flight;
    uint64_t t0;
    cubic_setup(&p, rtt, &w_max, &flight, &t0);
    /* §4.6: ssthresh = FlightSize * beta_cubic, cwnd = ssthresh (SACK
     * recovery never inflated it). */
    double epoch = segs(cc_cwnd(ts));
    TS_CHECK_EQ(ts, cc_ssthresh(ts), (uint32_t)(flight * BETA_CUBIC * MSS));
    TS_CHECK(ts, distance(epoch, flight * BETA_CUBIC) < 0.01);
    double k = cube_root((w_max - epoch) / C_CUBIC);
    const double at[] = {k / 2, 2.0, 2.5, 3.0, k, 3.5, 4.0, 4.5};
    unsigned next = 0;
    uint32_t una0 = cc_conn(ts)->snd.una;
    while (next < sizeof(at) / sizeof(at[0]) && peer_step(&p)) {
        double t = (double)(ts_now_us(ts) - t0) / SEG_US;
        double want = w_cubic(t, k, w_max), got = segs(cc_cwnd(ts));
        if (t < k && got > w_max + TOLERANCE_SEGS)
            ts_fail(ts, "t = %.3f s: cwnd %.2f segments passed W_max %.0f before K %.3f",
                    t, got, w_max, k);
        if (t < at[next])
            continue;
        /* The scenario must stay in the cubic region to test it. */
        double w_est = w_est_after(epoch, segs(cc_conn(ts)->snd.una - una0));
        if (distance(got, want) > TOLERANCE_SEGS || w_est >= want)
            ts_fail(ts, "t = %.3f s: cwnd %.2f segments, W_cubic(t) = %.2f (K %.3f, W_max "
                    "%.0f, cwnd_epoch %.1f, W_est ~%.1f)", t, got, want, k, w_max, epoch, w_est);
        next++;
    }
    TS_CHECK_EQ(ts, next, sizeof(at) / sizeof(at[0]));
    /* Past K the curve is convex: the window is above W_max now. */
    TS_CHECK(ts, segs(cc_cwnd(ts)) > w_max);
    ts_free(ts);
}

TEST(test_tcp_cc_cubic_reno_friendly_region)
{
    /* RTT 10 ms: the Reno estimate (§4.3) outgrows the curve at once and
     * cwnd follows W_est. In the continuous form dW/dN = alpha / W (N the
     * segments acknowledged since the stage began) gives
     * W_est = sqrt(cwnd_epoch^2 + 2 * alpha * N), alpha = 3 * (1 - beta)
     * / (1 + beta), until W_est reaches cwnd_prior (the window at the
     * loss) where alpha becomes 1. */
    struct ts *ts = ts_new();
    struct peer p = {.ts = ts};
    double w_max, flight;
    uint64_t t0;
    cubic_setup(&p, 10000, &w_max, &flight, &t0);
    double epoch = segs(cc_cwnd(ts));
    double k = cube_root((w_max - epoch) / C_CUBIC);
    uint32_t una0 = cc_conn(ts)->snd.una;
    unsigned checked = 0;
    for (unsigned i = 0; i < 4000 && peer_step(&p); i++) {
        double n = segs(cc_conn(ts)->snd.una - una0);
        double want = w_est_after(epoch, n);
        double t = (double)(ts_now_us(ts) - t0) / SEG_US;
        if (want >= w_max - 1)
            break;
        if (w_cubic(t, k, w_max) >= want - 1)
            continue; /* too close to the curve to tell which rules */
        double got = segs(cc_cwnd(ts));
        if (distance(got, want) > TOLERANCE_SEGS) {
            ts_fail(ts, "t = %.3f s, %.0f segments acknowledged: cwnd %.2f, W_est %.2f "
                    "(W_cubic %.2f)", t, n, got, want, w_cubic(t, k, w_max));
            break;
        }
        checked++;
    }
    TS_CHECK(ts, checked > 100);
    ts_free(ts);
}

TEST(test_tcp_cc_cubic_fast_convergence)
{
    /* §4.7: a loss before the window is back at W_max means the flow's
     * share shrank: W_max = cwnd * (1 + beta) / 2 (0.85 of the window at
     * the loss), and the new curve flattens out there, at its new K. */
    struct ts *ts = ts_new();
    struct peer p = {.ts = ts};
    uint64_t rtt = 400000;
    double w_max, flight;
    uint64_t t0;
    cubic_setup(&p, rtt, &w_max, &flight, &t0);
    /* Run 1 s along the first curve (the window stays below 40), then
     * lose the next segment sent. */
    while (ts_now_us(ts) < t0 + 1000000 && peer_step(&p))
        ;
    struct tcp_conn *c = cc_conn(ts);
    peer_drop(&p, c->snd.nxt - ts_cur(ts)->stack_isn);
    double cwnd_at_loss = 0;
    while (!ts_failed(ts) && !c->rec.active) {
        cwnd_at_loss = segs(c->cc.cwnd); /* before the ACK that finds it */
        if (!peer_step(&p))
            break;
    }
    TS_CHECK(ts, c->rec.active && cwnd_at_loss > 30 && cwnd_at_loss < w_max - 1);
    /* The window at the loss is what ssthresh came from; the recovery. */
    uint32_t ss = c->cc.ssthresh;
    while (!ts_failed(ts) && c->rec.active && peer_step(&p))
        ;
    uint64_t t1 = ts_now_us(ts);
    double epoch = segs(c->cc.cwnd);
    TS_CHECK_EQ(ts, c->cc.cwnd, ss);
    double w_max2 = cwnd_at_loss * (1 + BETA_CUBIC) / 2;
    double k2 = cube_root((w_max2 - epoch) / C_CUBIC);
    TS_CHECK(ts, k2 > 1);
    /* At K the curve is flat at W_max: the window there shows which
     * W_max the stack took (without fast convergence it would be the
     * full cwnd_at_loss, more than a segment higher). */
    TS_CHECK(ts, cwnd_at_loss - w_max2 > 2 * TOLERANCE_SEGS);
    while (ts_now_us(ts) < t1 + (uint64_t)(k2 * SEG_US) && peer_step(&p))
        ;
    double got = segs(c->cc.cwnd);
    double want = w_cubic((double)(ts_now_us(ts) - t1) / SEG_US, k2, w_max2);
    if (distance(got, want) > TOLERANCE_SEGS)
        ts_fail(ts, "at K = %.3f s: cwnd %.2f segments, W_cubic %.2f (W_max %.2f from %.2f)",
                k2, got, want, w_max2, cwnd_at_loss);
    ts_free(ts);
}
