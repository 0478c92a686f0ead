/*
 * BBR (src/tcp/cc_bbr.c) against a model path with a bottleneck.
 *
 * The peer plays a path: every segment the stack sends waits for a
 * bottleneck that forwards one MSS every seg_us (a queue without limit),
 * then travels rtt_us more before its ACK reaches the stack; the peer
 * answers each segment at once, cumulatively, with SACK blocks for what
 * it holds out of order. The true bandwidth-delay product is then
 * (rtt_us + seg_us) / seg_us segments, and the tests check the window
 * BBR keeps against it, from the outside (cwnd only): Startup's growth
 * and cap, Drain, ProbeBW's cycle, ProbeRTT, and the answers to a fast
 * retransmit (contrasted with CUBIC on the same path) and to a timeout.
 *
 * MSS 1000 (the peer's), window scaling (shift 6: a 4 MiB window never
 * limits), SACK; a 4 MiB send buffer kept full.
 */
#include <string.h>

#include "cc_script.h"
#include "tcpscript.h"
#include "test.h"
#include "ustack/socket.h"

#define MSS 1000u
#define MAX_PENDING 4096
#define MAX_HELD 8
#define STARTUP_GAIN 2.885 /* 2 / ln 2 */
#define EXTRA_SEGS 3.0     /* cc_bbr.c's headroom */

/* ---- The model path ------------------------------------------------------------ */

struct path {
    struct ts *ts;
    int sd;
    uint64_t rtt_us;  /* propagation, both ways */
    uint64_t seg_us;  /* the bottleneck's time per MSS */
    uint64_t free_at; /* when the bottleneck has sent what it holds */
    struct {
        uint64_t at;         /* when its ACK reaches the stack */
        uint32_t start, end; /* relative sequence numbers */
    } pending[MAX_PENDING];  /* in order of arrival */
    unsigned head, count;    /* a ring */
    uint32_t rcv_nxt;
    struct { uint32_t start, end; } held[MAX_HELD]; /* most recent first */
    unsigned nheld;
    uint32_t drop_start; /* drop the segment starting here ... */
    bool drop_armed;     /* ... once */
    bool blackhole;      /* drop everything */
    bool sack;           /* the peer SACKs */
    uint64_t acks;
};

static struct tcp_conn *path_conn(struct path *p)
{
    return cc_conn(p->ts);
}

static double segs(uint32_t bytes)
{
    return (double)bytes / MSS;
}

/* The path's bandwidth-delay product in segments. */
static double path_bdp(const struct path *p)
{
    return (double)(p->rtt_us + p->seg_us) / (double)p->seg_us;
}

/* Keep the application's data queued well ahead of the window. */
static void path_feed(struct path *p)
{
    struct tcp_conn *c = path_conn(p);
    if (!c)
        return;
    uint32_t acked = c->snd.una - ts_cur(p->ts)->stack_isn - 1;
    if (ts_cur(p->ts)->app_sent - acked < (1u << 20))
        ts_send(p->ts, p->sd, 1u << 20);
}

/* Put every segment the stack sent on the path. */
static void path_collect(struct path *p)
{
    while (!ts_failed(p->ts) && ts_out_maybe(p->ts, "P?. *:*(*) ack 1")) {
        const struct ts_seg *s = ts_last(p->ts);
        uint32_t start = s->seq - ts_cur(p->ts)->stack_isn;
        if (p->blackhole || (p->drop_armed && start == p->drop_start)) {
            if (!p->blackhole)
                p->drop_armed = false;
            continue;
        }
        if (p->count == MAX_PENDING) {
            ts_fail(p->ts, "model path: too many segments in flight");
            return;
        }
        uint64_t now = ts_now_us(p->ts);
        uint64_t begin = p->free_at > now ? p->free_at : now;
        p->free_at = begin + p->seg_us * s->data_len / MSS;
        unsigned i = (p->head + p->count++) % MAX_PENDING;
        p->pending[i].at = p->free_at + p->rtt_us;
        p->pending[i].start = start;
        p->pending[i].end = start + (uint32_t)s->data_len;
    }
}

/* Hold [start, end) out of order, merged with what touches it, as the
 * most recent block. */
static void path_hold(struct path *p, uint32_t start, uint32_t end)
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

static void path_receive(struct path *p, uint32_t start, uint32_t end)
{
    if (start != p->rcv_nxt) {
        if (start > p->rcv_nxt)
            path_hold(p, start, end);
        return;
    }
    p->rcv_nxt = end;
    for (bool more = true; more;) { /* held text that now follows */
        more = false;
        for (unsigned i = 0; i < p->nheld; i++)
            if (p->held[i].start <= p->rcv_nxt) {
                if (p->held[i].end > p->rcv_nxt)
                    p->rcv_nxt = p->held[i].end;
                memmove(&p->held[i], &p->held[i + 1], (p->nheld - i - 1) * sizeof(p->held[0]));
                p->nheld--;
                more = true;
                break;
            }
    }
}

static void path_ack(struct path *p)
{
    char opt[200] = "";
    unsigned n = !p->sack ? 0 : p->nheld < 4 ? p->nheld : 4;
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

/* Deliver the next arrival and answer it; false when nothing is in
 * flight or the script failed. */
static bool path_step(struct path *p)
{
    path_feed(p);
    path_collect(p);
    if (ts_failed(p->ts) || p->count == 0)
        return false;
    unsigned i = p->head;
    if (p->pending[i].at > ts_now_us(p->ts))
        ts_advance_to(p->ts, p->pending[i].at);
    p->head = (p->head + 1) % MAX_PENDING;
    p->count--;
    path_receive(p, p->pending[i].start, p->pending[i].end);
    path_ack(p);
    path_collect(p);
    return !ts_failed(p->ts);
}

/* Run the path until virtual time `until`. */
static void path_run_until(struct path *p, uint64_t until)
{
    while (ts_now_us(p->ts) < until && path_step(p))
        ;
}

/* A stack using algorithm `algo` accepts the peer's connection over a
 * path of rtt_us and seg_us; the peer SACKs unless told otherwise. */
static struct ts *path_open_with(struct path *p, int algo, uint64_t rtt_us, uint64_t seg_us,
                                 bool sack)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.congestion = (unsigned)algo;
    cfg.tcp.sndbuf = 4u << 20;
    struct ts *ts = ts_new_with(&cfg);
    memset(p, 0, sizeof(*p));
    p->ts = ts;
    p->rtt_us = rtt_us;
    p->seg_us = seg_us;
    p->rcv_nxt = 1;
    p->sack = sack;
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    if (sack)
        ts_in(ts, "S 0:0(0) win 65535 <mss 1000, sackOK, nop, wscale 6>");
    else
        ts_in(ts, "S 0:0(0) win 65535 <mss 1000, nop, wscale 6>");
    ts_out(ts, "S. 0:0(0) ack 1 <*>");
    ts_advance_us(ts, rtt_us);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    p->sd = ts_accept(ts, lsd);
    return ts;
}

static struct ts *path_open(struct path *p, int algo, uint64_t rtt_us, uint64_t seg_us)
{
    return path_open_with(p, algo, rtt_us, seg_us, true);
}

static double cwnd_segs(struct path *p)
{
    return segs(cc_cwnd(p->ts));
}

/* ---- Startup, Drain, ProbeBW --------------------------------------------------- */

/* What one run through Startup into ProbeBW looked like. */
struct startup_trace {
    double per_rtt[64]; /* cwnd (segments) at the end of each round trip */
    unsigned n;
    double peak;        /* the largest cwnd */
    uint64_t peak_at;
    double drained;     /* the smallest cwnd after the peak (Drain) */
    uint64_t drained_at;
};

static void run_startup(struct path *p, struct startup_trace *t, uint64_t for_us)
{
    memset(t, 0, sizeof(*t));
    uint64_t t0 = ts_now_us(p->ts);
    /* A round trip (the draft's round): from an ACK until the first
     * byte sent after it is acknowledged. */
    uint32_t round_end = path_conn(p)->snd.nxt;
    t->drained = 1e9;
    while (ts_now_us(p->ts) < t0 + for_us && path_step(p)) {
        double w = cwnd_segs(p);
        struct tcp_conn *c = path_conn(p);
        if (seq_gt(c->snd.una, round_end) && t->n < 64) {
            t->per_rtt[t->n++] = w;
            round_end = c->snd.nxt;
        }
        if (w > t->peak) {
            t->peak = w;
            t->peak_at = ts_now_us(p->ts);
            t->drained = 1e9;
        } else if (w < t->drained) {
            t->drained = w;
            t->drained_at = ts_now_us(p->ts);
        }
    }
}

TEST(test_cc_bbr_startup_grows_per_round_up_to_the_startup_gain)
{
    /* 10 ms, a segment per 100 us (80 Mbit/s): BDP 101 segments. */
    struct path p;
    struct ts *ts = path_open(&p, USTACK_TCP_CC_BBR, 10000, 100);
    struct startup_trace t;
    run_startup(&p, &t, 2000000);
    double bdp = path_bdp(&p);
    /* While the window is below the path's BDP (no queue yet), each
     * round trip grows it by what the ACKs delivered, capped at 2.89
     * times the last round's delivery rate: more than 1.5x and at most
     * 2x (the ACK clock) a round trip. */
    unsigned growing = 0;
    for (unsigned i = 1; i < t.n && t.per_rtt[i] < bdp; i++) {
        double ratio = t.per_rtt[i] / t.per_rtt[i - 1];
        if (ratio < 1.5 || ratio > 2.05)
            ts_fail(ts, "round trip %u: cwnd %.1f -> %.1f segments (x%.2f)", i,
                    t.per_rtt[i - 1], t.per_rtt[i], ratio);
        growing++;
    }
    TS_CHECK(ts, growing >= 3);
    /* Startup keeps going past the BDP, up to its gain times the model's
     * BDP (the bottleneck's rate times the round trip without a queue),
     * plus the headroom; not beyond. */
    double cap = STARTUP_GAIN * bdp + EXTRA_SEGS;
    if (t.peak > cap + 1 || t.peak < 2.5 * bdp)
        ts_fail(ts, "Startup's largest cwnd %.1f segments; the cap is %.1f (BDP %.1f)",
                t.peak, cap, bdp);
    ts_free(ts);
}

TEST(test_cc_bbr_startup_exits_to_drain_then_probe_bw)
{
    struct path p;
    struct ts *ts = path_open(&p, USTACK_TCP_CC_BBR, 10000, 100);
    struct startup_trace t;
    run_startup(&p, &t, 1000000);
    double bdp = path_bdp(&p);
    /* The bandwidth stopped growing: Startup ended within a few round
     * trips of reaching it, and Drain cut cwnd to one BDP (plus the
     * headroom) until the queue Startup built was gone. */
    uint64_t rtt = p.rtt_us + p.seg_us;
    TS_CHECK(ts, t.peak_at > 0 && t.peak_at < 1000000 + 15 * rtt);
    double drain = bdp + EXTRA_SEGS;
    if (t.drained < drain - 2 || t.drained > drain + 2)
        ts_fail(ts, "Drain's cwnd %.1f segments, want %.1f (BDP %.1f)", t.drained, drain, bdp);
    /* Then ProbeBW: over each 8 round trips cwnd visits 1.75, 1.25 and
     * 1.5 BDP (plus the headroom), and the bottleneck stays busy. */
    uint64_t t1 = ts_now_us(ts);
    double lo = 1e9, hi = 0;
    uint64_t acks0 = p.acks;
    while (ts_now_us(ts) < t1 + 40 * rtt && path_step(&p)) {
        double w = cwnd_segs(&p);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    double want_hi = 1.75 * bdp + EXTRA_SEGS, want_lo = 1.25 * bdp + EXTRA_SEGS;
    if (hi < want_hi - 2 || hi > want_hi + 2 || lo < want_lo - 2 || lo > want_lo + 2)
        ts_fail(ts, "ProbeBW's cwnd between %.1f and %.1f segments, want %.1f and %.1f", lo, hi,
                want_lo, want_hi);
    double delivered = (double)(p.acks - acks0), could = (double)(40 * rtt) / (double)p.seg_us;
    if (delivered < 0.97 * could)
        ts_fail(ts, "ProbeBW delivered %.0f segments in 40 round trips, the path %.0f",
                delivered, could);
    ts_free(ts);
}

/* ---- A fast retransmit ------------------------------------------------------------ */

/* Run 1 s, lose one segment, and return cwnd (segments) before the loss,
 * the smallest and the largest during its recovery, and the one after
 * it. */
static void one_loss(struct path *p, double *before, double *during, double *most,
                     double *after)
{
    path_run_until(p, ts_now_us(p->ts) + 1000000);
    struct tcp_conn *c = path_conn(p);
    path_collect(p);
    p->drop_start = c->snd.nxt - ts_cur(p->ts)->stack_isn;
    p->drop_armed = true;
    *before = 0;
    while (!ts_failed(p->ts) && !c->rec.active) {
        *before = cwnd_segs(p);
        if (!path_step(p))
            break;
    }
    TS_CHECK(p->ts, c->rec.active && c->rec.fast);
    *during = *most = cwnd_segs(p);
    while (!ts_failed(p->ts) && c->rec.active && path_step(p)) {
        *during = cwnd_segs(p) < *during ? cwnd_segs(p) : *during;
        *most = cwnd_segs(p) > *most ? cwnd_segs(p) : *most;
    }
    /* One round trip after recovery. */
    path_run_until(p, ts_now_us(p->ts) + p->rtt_us + p->seg_us);
    *after = cwnd_segs(p);
}

/* BBR's window through one_loss() stayed in ProbeBW's range. */
static bool bbr_window_kept(const struct path *p, double before, double during, double most,
                            double after)
{
    double lo = 1.25 * path_bdp(p) + EXTRA_SEGS, hi = 1.75 * path_bdp(p) + EXTRA_SEGS;
    return before >= lo - 1 && during >= lo - 6 && most <= hi + 1 && after >= lo - 1;
}

TEST(test_cc_bbr_fast_retransmit_keeps_the_window)
{
    /* The same path and the same loss, CUBIC then BBR. */
    double before, during, most, after;
    struct path p;
    struct ts *ts = path_open(&p, USTACK_TCP_CC_CUBIC, 10000, 100);
    one_loss(&p, &before, &during, &most, &after);
    /* CUBIC: ssthresh = 0.7 * FlightSize, cwnd = ssthresh (RFC 9438
     * §4.6); the flight was about the window. */
    if (during > 0.75 * before || after > 0.8 * before)
        ts_fail(ts, "cubic: cwnd %.1f before the loss, %.1f in recovery, %.1f after", before,
                during, after);
    ts_free(ts);

    ts = path_open(&p, USTACK_TCP_CC_BBR, 10000, 100);
    one_loss(&p, &before, &during, &most, &after);
    /* BBR: the model saw no less bandwidth and no longer RTprop, so cwnd
     * stays in ProbeBW's range (1.25 to 1.75 BDP plus the headroom, as
     * the gain cycle goes on); in recovery's first round it is what is in
     * flight plus what was delivered (the lost and SACKed segments out: a
     * few less than before). */
    if (!bbr_window_kept(&p, before, during, most, after))
        ts_fail(ts, "bbr: cwnd %.1f before the loss, %.1f to %.1f in recovery, %.1f after",
                before, during, most, after);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), TCP_CC_SSTHRESH_NONE);
    ts_free(ts);
}

TEST(test_cc_bbr_fast_retransmit_without_sack)
{
    /* NewReno's recovery (RFC 6582): tcp_cc.c would inflate cwnd by a
     * segment for each duplicate ACK and deflate it on partial ACKs; BBR
     * keeps its own window there (owns_recovery_cwnd), which is never
     * more than before the loss and is at least that again afterwards. */
    double before, during, most, after;
    struct path p;
    struct ts *ts = path_open_with(&p, USTACK_TCP_CC_BBR, 10000, 100, false);
    one_loss(&p, &before, &during, &most, &after);
    TS_CHECK(ts, !path_conn(&p)->rec.sack);
    if (!bbr_window_kept(&p, before, during, most, after))
        ts_fail(ts, "bbr: cwnd %.1f before the loss, %.1f to %.1f in recovery, %.1f after",
                before, during, most, after);
    ts_free(ts);
}

/* ---- ProbeRTT ----------------------------------------------------------------------- */

TEST(test_cc_bbr_probe_rtt_after_ten_seconds)
{
    /* 20 ms, a segment per ms: BDP 21 segments. RTprop is measured in
     * Startup's first rounds; ProbeBW's standing queue (half a BDP) never
     * lets a round be as short again, so 10 s later it has expired. */
    struct path p;
    struct ts *ts = path_open(&p, USTACK_TCP_CC_BBR, 20000, 1000);
    uint64_t t0 = ts_now_us(ts), rtt = p.rtt_us + p.seg_us;
    uint64_t floor_from = 0, floor_until = 0;
    double min_flight = 1e9, prior = 0;
    while (ts_now_us(ts) < t0 + 12000000 && path_step(&p)) {
        double w = cwnd_segs(&p);
        if (w == 4 && !floor_from)
            floor_from = ts_now_us(ts);
        if (floor_from && !floor_until) {
            double fl = segs(tcp_cc_in_flight(path_conn(&p)));
            min_flight = fl < min_flight ? fl : min_flight;
            if (w > 4)
                floor_until = ts_now_us(ts);
        }
        if (!floor_from)
            prior = w;
        else if (floor_until && ts_now_us(ts) > floor_until + 2 * rtt)
            break;
    }
    /* Entered once RTprop was 10 s old (measured within Startup's first
     * few round trips), at the floor of 4 segments. */
    if (floor_from < t0 + 10000000 || floor_from > t0 + 10000000 + 10 * rtt)
        ts_fail(ts, "ProbeRTT began %.3f s after the start", (double)(floor_from - t0) / 1e6);
    /* The flight drained to the floor, and the window stayed there for
     * 200 ms and at least a round trip, not much longer. */
    TS_CHECK(ts, min_flight <= 4);
    uint64_t held = floor_until - floor_from;
    if (!floor_until || held < 200000 || held > 200000 + 4 * rtt)
        ts_fail(ts, "cwnd at 4 segments for %.3f s", (double)held / 1e6);
    /* Back to the window from before. */
    double w = cwnd_segs(&p);
    if (w < prior - 1)
        ts_fail(ts, "cwnd %.1f segments after ProbeRTT, %.1f before", w, prior);
    ts_free(ts);
}

/* ---- A timeout ------------------------------------------------------------------------ */

TEST(test_cc_bbr_timeout_one_segment_then_the_window_back)
{
    struct path p;
    struct ts *ts = path_open(&p, USTACK_TCP_CC_BBR, 10000, 100);
    path_run_until(&p, ts_now_us(ts) + 1000000);
    struct tcp_conn *c = path_conn(&p);
    double before = cwnd_segs(&p);
    TS_CHECK(ts, before > 100);
    /* Everything sent from now on is lost, until the timer expires. */
    p.blackhole = true;
    uint64_t timeouts = ts_stat(ts, "tcp.rto_expired");
    while (!ts_failed(ts) && ts_stat(ts, "tcp.rto_expired") == timeouts) {
        if (!path_step(&p))
            ts_advance_us(ts, 10000);
    }
    /* RFC 5681 §3.1: the loss window, one segment. */
    TS_CHECK_EQ(ts, cc_cwnd(ts), MSS);
    p.blackhole = false;
    /* The first ACK (of the retransmission) takes it to BBR's floor of 4
     * segments, and each ACK after that adds what it delivered... */
    uint64_t acks = p.acks;
    while (!ts_failed(ts) && p.acks == acks)
        if (!path_step(&p))
            ts_advance_us(ts, 10000);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 4 * MSS);
    /* ... at most two segments per ACK however much it covers (the peer
     * had most of what go-back-N resends: no line-rate burst of the whole
     * window) until the model's window: once what was outstanding is
     * repaired (the timeout's recovery is over), cwnd is back where it
     * was. */
    uint64_t t1 = ts_now_us(ts);
    uint32_t last = cc_cwnd(ts);
    acks = p.acks;
    while (!ts_failed(ts) && c->rec.active && ts_now_us(ts) < t1 + 2000000) {
        if (!path_step(&p))
            ts_advance_us(ts, 10000);
        if (p.acks != acks && cc_cwnd(ts) > last + 2 * MSS * (p.acks - acks))
            ts_fail(ts, "cwnd %u -> %u in %llu ACKs of the timeout's recovery", last,
                    cc_cwnd(ts), (unsigned long long)(p.acks - acks));
        last = cc_cwnd(ts);
        acks = p.acks;
    }
    TS_CHECK(ts, !c->rec.active);
    double after = cwnd_segs(&p);
    if (after < before - 2)
        ts_fail(ts, "cwnd %.1f segments before the timeout, %.1f after its recovery", before,
                after);
    ts_free(ts);
}
