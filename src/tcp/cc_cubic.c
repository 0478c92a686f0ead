/*
 * CUBIC (RFC 9438), the default congestion control.
 *
 * In congestion avoidance the window follows a cubic function of the time
 * t since the current congestion avoidance stage began (§4.2):
 *
 *     W_cubic(t) = C * (t - K)^3 + W_max,   K = cbrt((W_max - cwnd_epoch) / C)
 *
 * with C = 0.4 (segments per second cubed) and W_max the window before
 * the last reduction. Below W_max the curve is concave (fast at first,
 * flattening out at W_max, §4.4), above it convex (probing for more,
 * §4.5). On each ACK cwnd moves a 1/cwnd share of the way to
 * target = W_cubic(t + RTT), clamped to [cwnd, 1.5 * cwnd].
 *
 * Reno-friendly region (§4.3): alongside, W_est grows like Reno with
 * alpha = 3 * (1 - beta) / (1 + beta) segments per round trip (1 once it
 * passes cwnd_prior); while W_cubic(t) is below W_est, cwnd is W_est, so
 * on short round trips CUBIC is never slower than Reno.
 *
 * On a loss (§4.6) ssthresh = FlightSize * beta, beta = 0.7, and cwnd
 * = ssthresh after fast retransmit; with fast convergence (§4.7) a loss
 * below the previous W_max remembers W_max = cwnd * (1 + beta) / 2, to
 * make room for newer flows. After a timeout (§4.8) the next congestion
 * avoidance stage starts with K = 0 and W_max = cwnd at its start. Slow
 * start is the standard one (§4.10, tcp_cc_slow_start).
 *
 * Arithmetic is integer: windows in bytes (a segment is SMSS bytes), time
 * in milliseconds, K from an integer cube root; the cubic term is exact
 * to well under a byte (see w_cubic). No libm.
 */
#include "tcp/tcp_int.h"

#include <string.h>

/* beta_cubic = 0.7 */
#define BETA_NUM 7u
#define BETA_DEN 10u
/* (1 + beta) / 2 = 0.85, fast convergence */
#define FAST_CONV_NUM 17u
#define FAST_CONV_DEN 20u
/* alpha_cubic = 3 * (1 - beta) / (1 + beta) = 0.9 / 1.7 = 9/17 */
#define ALPHA_NUM 9u
#define ALPHA_DEN 17u
/* C = 0.4 = 2/5: C * d^3 segments for d seconds is d_ms^3 * 2 / 5e9. */
#define US_PER_MS 1000u
/* |t - K| beyond 2^19 ms (8.7 minutes) counts as 2^19 ms: the curve there
 * is millions of segments away, far past the 1.5 * cwnd clamp, and the
 * cube stays below 2^57. */
#define MAX_DT_MS (1 << 19)
/* An ACK counts for at most this many bytes, which keeps the products
 * below 2^64 (an ACK covering more is a rare jump after a long hole). */
#define MAX_ACKED (1u << 24)

struct cubic {
    bool in_epoch;        /* a congestion avoidance stage is running */
    bool after_rto;       /* the next stage follows a timeout (§4.8) */
    uint64_t epoch_start; /* when the stage began, µs */
    int64_t k_ms;         /* K, milliseconds (negative: past W_max) */
    uint32_t w_max;       /* W_max, bytes; 0 before the first loss */
    uint32_t cwnd_prior;  /* cwnd when ssthresh was last set, bytes */
    uint32_t cwnd_epoch;  /* cwnd at the start of the stage */
    uint32_t w_est;       /* W_est, bytes (§4.3) */
    uint64_t grow_rem;    /* fractions of a byte of cwnd growth, / cwnd */
    uint64_t est_rem;     /* ... of W_est growth, / (ALPHA_DEN * cwnd) */
};

_Static_assert(sizeof(struct cubic) <= TCP_CC_PRIV_BYTES,
               "CUBIC state must fit in struct tcp_cc's private area");

/* floor(cbrt(x)) */
static uint64_t icbrt(uint64_t x)
{
    uint64_t lo = 0, hi = 2642245; /* 2642245^3 < 2^64 < 2642246^3 */
    while (lo < hi) {
        uint64_t mid = (lo + hi + 1) / 2;
        if (mid * mid * mid <= x)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* K = cbrt((W_max - cwnd_epoch) / C) seconds (§4.2, Figure 2), in ms:
 * cbrt(diff_segments / 0.4 * 10^9) = cbrt(diff_bytes * 2.5e9 / SMSS).
 * Negative when the stage starts above W_max. */
static int64_t cubic_k_ms(uint32_t w_max, uint32_t cwnd_epoch, uint32_t smss)
{
    uint64_t diff = w_max > cwnd_epoch ? w_max - cwnd_epoch : cwnd_epoch - w_max;
    int64_t k = (int64_t)icbrt(diff * 2500000000ull / smss);
    return w_max >= cwnd_epoch ? k : -k;
}

/* W_cubic(t) in bytes for t in ms since the stage began (§4.2, Figure 1). */
static uint32_t w_cubic(const struct cubic *s, int64_t t_ms, uint32_t smss)
{
    int64_t d = t_ms - s->k_ms;
    uint64_t ad = (uint64_t)(d < 0 ? -d : d);
    if (ad > MAX_DT_MS)
        ad = MAX_DT_MS;
    /* C * (d/1000)^3 segments * smss = ad^3 * 2 * smss / (5 * 10^9):
     * first / 5000 (an error below 1/5000 of a ms^3), then the rest. */
    uint64_t delta = ad * ad * ad / 5000 * 2 * smss / 1000000;
    int64_t w = d < 0 ? (int64_t)s->w_max - (int64_t)delta
                      : (int64_t)s->w_max + (int64_t)delta;
    if (w < (int64_t)smss)
        return smss;
    return w > (int64_t)TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)w;
}

/* A congestion avoidance stage begins (§4.2): t starts at 0 here. */
static void begin_epoch(struct tcp_conn *c, struct cubic *s, uint64_t now)
{
    uint32_t cwnd = c->cc.cwnd;
    s->in_epoch = true;
    s->epoch_start = now;
    s->cwnd_epoch = cwnd;
    s->w_est = cwnd; /* §4.3: "W_est is set equal to cwnd_epoch" */
    s->grow_rem = 0;
    s->est_rem = 0;
    if (s->after_rto || s->w_max == 0) {
        /* §4.8 (after a timeout) and §4.10 (no loss yet, W_max
         * undefined): K = 0 and W_max = cwnd at the start of the stage. */
        s->w_max = cwnd;
        if (s->cwnd_prior == 0)
            s->cwnd_prior = cwnd;
        s->k_ms = 0;
    } else {
        s->k_ms = cubic_k_ms(s->w_max, cwnd, c->snd_mss);
    }
    s->after_rto = false;
}

/* §4.3: W_est += alpha * segments_acked / cwnd, in bytes
 * alpha * SMSS * acked / cwnd; alpha = 1 once W_est >= cwnd_prior. */
static void grow_w_est(struct tcp_conn *c, struct cubic *s, uint32_t acked)
{
    uint64_t alpha = s->w_est >= s->cwnd_prior ? ALPHA_DEN : ALPHA_NUM;
    uint64_t den = (uint64_t)ALPHA_DEN * c->cc.cwnd;
    s->est_rem += alpha * c->snd_mss * acked;
    uint64_t add = s->est_rem / den;
    s->est_rem %= den;
    uint64_t w = s->w_est + add;
    s->w_est = w > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)w;
}

static void cubic_init(struct tcp_conn *c, uint64_t now)
{
    (void)now;
    struct cubic *s = tcp_cc_priv(c);
    memset(s, 0, sizeof(*s));
}

static void cubic_on_ack(struct tcp_conn *c, uint32_t acked, uint32_t srtt_us,
                         uint64_t now)
{
    struct cubic *s = tcp_cc_priv(c);
    uint32_t cwnd = c->cc.cwnd, smss = c->snd_mss;
    if (cwnd < c->cc.ssthresh) {
        tcp_cc_slow_start(c, acked);
        return;
    }
    if (acked > MAX_ACKED)
        acked = MAX_ACKED;
    if (!s->in_epoch)
        begin_epoch(c, s, now);
    int64_t t_ms = (int64_t)((now - s->epoch_start) / US_PER_MS);
    grow_w_est(c, s, acked);
    if (w_cubic(s, t_ms, smss) < s->w_est) {
        /* §4.3, the Reno-friendly region: "cwnd SHOULD be set to W_est"
         * (never lowered by an ACK). */
        if (s->w_est > cwnd)
            c->cc.cwnd = s->w_est;
        return;
    }
    /* §4.4, §4.5: target = W_cubic(t + RTT) within [cwnd, 1.5 * cwnd];
     * "cwnd MUST be incremented by (target - cwnd) / cwnd" per segment
     * acknowledged: (target - cwnd) * acked / cwnd bytes. */
    uint32_t target = w_cubic(s, t_ms + srtt_us / US_PER_MS, smss);
    uint64_t most = (uint64_t)cwnd + cwnd / 2;
    if (target < cwnd)
        target = cwnd;
    if (target > most)
        target = (uint32_t)most;
    s->grow_rem += (uint64_t)(target - cwnd) * acked;
    uint64_t add = s->grow_rem / cwnd;
    s->grow_rem %= cwnd;
    tcp_cc_grow(c, add > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)add);
}

static void cubic_on_congestion(struct tcp_conn *c, enum tcp_cc_signal sig,
                                uint32_t flight, uint64_t now)
{
    (void)now;
    struct cubic *s = tcp_cc_priv(c);
    uint32_t cwnd = c->cc.cwnd, floor = 2u * c->snd_mss;
    /* §4.7 fast convergence: a loss before reaching the old W_max means
     * the flow's share shrank; remember a lower plateau. */
    if (s->w_max && cwnd < s->w_max)
        s->w_max = (uint32_t)((uint64_t)cwnd * FAST_CONV_NUM / FAST_CONV_DEN);
    else
        s->w_max = cwnd;
    /* §4.6: ssthresh = flight_size * beta_cubic, at least 2 segments;
     * cwnd = max(ssthresh, 2) after a loss found by ACKs. */
    s->cwnd_prior = cwnd;
    uint32_t ss = (uint32_t)((uint64_t)flight * BETA_NUM / BETA_DEN);
    c->cc.ssthresh = ss > floor ? ss : floor;
    if (sig == TCP_CC_LOSS_FAST)
        c->cc.cwnd = c->cc.ssthresh;
    else
        s->after_rto = true; /* §4.8 */
    s->in_epoch = false;
}

static void cubic_on_recovery_exit(struct tcp_conn *c, uint64_t now)
{
    /* Congestion avoidance begins now, from the reduced window; unless
     * NewReno's exit left cwnd below ssthresh, when slow start comes
     * first and the stage begins with the first ACK above it. */
    struct cubic *s = tcp_cc_priv(c);
    if (c->cc.cwnd >= c->cc.ssthresh)
        begin_epoch(c, s, now);
    else
        s->in_epoch = false;
}

static void cubic_on_idle_restart(struct tcp_conn *c, uint64_t now)
{
    (void)now;
    /* The idle time must not count as time on the curve (§5.8: an
     * application-limited flow): the next ACK in congestion avoidance
     * starts a fresh stage from the restart window, W_max kept. */
    struct cubic *s = tcp_cc_priv(c);
    s->in_epoch = false;
}

const struct tcp_cc_ops tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_congestion = cubic_on_congestion,
    .on_recovery_exit = cubic_on_recovery_exit,
    .on_idle_restart = cubic_on_idle_restart,
};
