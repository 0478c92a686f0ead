/*
 * The link impairment decorator (src/link/impair.c): each impairment's
 * statistics over many frames against its configured rate, timing of
 * delay, jitter, reordering and the rate limit on a virtual clock, the
 * queue bound, determinism for a seed, the spec parser, and the runner
 * honouring the decorator's deadlines on a real descriptor.
 *
 * Statistical bounds are loose (several standard deviations) but fail
 * when an impairment is off, doubled or ignored.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "test.h"
#include "ustack/impair.h"
#include "ustack/runner.h"
#include "ustack/ustack.h"

#define NEVER UINT64_MAX

/* ---- a bench: a wrapper around one end of a memlink, on a virtual clock --- */

struct vclock {
    uint64_t now;
};

static uint64_t vclock_read(void *ctx)
{
    return ((struct vclock *)ctx)->now;
}

struct bench {
    struct vclock clk;
    struct ustack_link *w;    /* the wrapper: what a stack would use */
    struct ustack_link *peer; /* the far end of the memlink: "the network" */
    bool feed_in;             /* drive() also sends each frame the other way */
};

/* What the far end received, in order. */
struct arrival {
    uint32_t seq;
    uint64_t at;
    size_t len;
    uint8_t data[100];
};

static bool bench_open(struct bench *b, struct ustack_impair_config *cfg)
{
    memset(b, 0, sizeof(*b));
    struct ustack_link *ours;
    if (ustack_memlink_pair(USTACK_LINK_IP, 1500, 4096, &ours, &b->peer) < 0)
        return false;
    cfg->clock = vclock_read;
    cfg->clock_ctx = &b->clk;
    b->w = ustack_impair_wrap(ours, cfg);
    if (!b->w) {
        ustack_link_close(ours);
        ustack_link_close(b->peer);
        return false;
    }
    return true;
}

static void bench_close(struct bench *b)
{
    ustack_link_close(b->w); /* closes its memlink end too */
    ustack_link_close(b->peer);
}

/* Frame number `seq`: its number, then a pattern, `len` bytes (>= 4). */
static void make_frame(uint8_t *f, uint32_t seq, size_t len)
{
    put_be32(f, seq);
    for (size_t i = 4; i < len; i++)
        f[i] = (uint8_t)(seq * 7 + i);
}

/* Take everything the far end has, stamped with the current time. */
static unsigned drain(struct bench *b, struct arrival *arr, unsigned *n, unsigned cap)
{
    uint8_t buf[1600];
    unsigned got = 0;
    ssize_t len;
    while ((len = ustack_link_recv(b->peer, buf, sizeof(buf))) > 0) {
        got++;
        if (*n >= cap)
            continue;
        struct arrival *a = &arr[(*n)++];
        a->seq = get_be32(buf);
        a->at = b->clk.now;
        a->len = (size_t)len;
        memcpy(a->data, buf, (size_t)len < sizeof(a->data) ? (size_t)len : sizeof(a->data));
    }
    return got;
}

/* Send `count` frames of `len` bytes, one every `gap` us from the current
 * time, moving the clock from event to event (a send or the wrapper's
 * deadline) until nothing is held. Records arrivals; returns how many. */
static unsigned drive(struct bench *b, unsigned count, uint64_t gap, size_t len,
                      struct arrival *arr, unsigned cap)
{
    uint64_t t0 = b->clk.now;
    unsigned sent = 0, n = 0;
    uint8_t f[1500];
    for (unsigned step = 0; step < 10 * count + 1000; step++) {
        while (sent < count && t0 + sent * gap <= b->clk.now) {
            make_frame(f, sent++, len);
            CHECK_EQ(ustack_link_send(b->w, f, len), 0);
            if (b->feed_in)
                CHECK_EQ(ustack_link_send(b->peer, f, len), 0);
        }
        uint8_t sink[1600];
        while (b->feed_in && ustack_link_recv(b->w, sink, sizeof(sink)) > 0)
            ;
        uint64_t due = ustack_impair_poll(b->w, b->clk.now);
        drain(b, arr, &n, cap);
        uint64_t next_send = sent < count ? t0 + sent * gap : NEVER;
        uint64_t next = due < next_send ? due : next_send;
        if (next == NEVER)
            return n;
        CHECK(next >= b->clk.now);
        b->clk.now = next;
    }
    CHECK(!"drive did not finish");
    return n;
}

static struct ustack_impair_counters out_counters(struct bench *b)
{
    struct ustack_impair_counters c;
    memset(&c, 0, sizeof(c));
    CHECK_EQ(ustack_impair_counters(b->w, &c, NULL), 0);
    return c;
}

/* Within [lo, hi]? Reported with the value on failure. */
#define CHECK_RANGE(v, lo, hi)                                                      \
    do {                                                                            \
        unsigned long long rv_ = (unsigned long long)(v);                           \
        if (rv_ < (unsigned long long)(lo) || rv_ > (unsigned long long)(hi))       \
            test_fail(__FILE__, __LINE__, "%s = %llu, outside [%llu, %llu]", #v,    \
                      rv_, (unsigned long long)(lo), (unsigned long long)(hi));     \
    } while (0)

#define MANY 20000
static struct arrival arrivals[2 * MANY + 100];

/* ---- nothing configured ----------------------------------------------------- */

TEST(impair_off_is_transparent_both_ways)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    CHECK(ustack_link_is_impair(b.w));
    CHECK(!ustack_link_is_impair(b.peer));
    CHECK_EQ(b.w->mtu, 1500);
    CHECK_EQ(b.w->kind, USTACK_LINK_IP);
    CHECK_EQ(b.w->fd, -1);
    uint8_t f[200], got[1600];
    make_frame(f, 42, sizeof(f));
    CHECK_EQ(ustack_link_send(b.w, f, sizeof(f)), 0);
    CHECK_EQ(ustack_link_recv(b.peer, got, sizeof(got)), sizeof(f));
    CHECK_MEM(got, f, sizeof(f));
    CHECK_EQ(ustack_link_send(b.peer, f, 100), 0);
    CHECK_EQ(ustack_link_recv(b.w, got, sizeof(got)), 100);
    CHECK_MEM(got, f, 100);
    CHECK_EQ(ustack_link_recv(b.w, got, sizeof(got)), 0);
    CHECK_EQ(ustack_impair_poll(b.w, 0), NEVER);
    CHECK_EQ(ustack_impair_held(b.w), 0);
    struct ustack_impair_counters out, in;
    CHECK_EQ(ustack_impair_counters(b.w, &out, &in), 0);
    CHECK_EQ(out.frames, 1);
    CHECK_EQ(out.passed, 1);
    CHECK_EQ(in.frames, 1);
    CHECK_EQ(in.passed, 1);
    /* Not a wrapper: the queries say so. */
    CHECK_EQ(ustack_impair_counters(b.peer, &out, &in), -EINVAL);
    CHECK_EQ(ustack_impair_poll(b.peer, 0), NEVER);
    bench_close(&b);
}

TEST(impair_wrap_rejects_bad_values)
{
    struct ustack_link *a, *p;
    REQUIRE(ustack_memlink_pair(USTACK_LINK_IP, 1500, 8, &a, &p) == 0);
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.out.loss = 1.5;
    errno = 0;
    CHECK(ustack_impair_wrap(a, &cfg) == NULL);
    CHECK_EQ(errno, EINVAL);
    cfg.out.loss = 0;
    cfg.in.rate_bps = 10; /* below 1 kbit/s */
    CHECK(ustack_impair_wrap(a, &cfg) == NULL);
    cfg.in.rate_bps = 0;
    cfg.in.limit = USTACK_IMPAIR_MAX_LIMIT + 1;
    CHECK(ustack_impair_wrap(a, &cfg) == NULL);
    cfg.in.limit = 0;
    cfg.out.delay_us = USTACK_IMPAIR_MAX_TIME_US + 1;
    CHECK(ustack_impair_wrap(a, &cfg) == NULL);
    /* The inner link was left alone and still works. */
    uint8_t f[10] = {1}, got[10];
    CHECK_EQ(ustack_link_send(a, f, sizeof(f)), 0);
    CHECK_EQ(ustack_link_recv(p, got, sizeof(got)), 10);
    ustack_link_close(a);
    ustack_link_close(p);
}

/* ---- each impairment's rate ------------------------------------------------- */

TEST(impair_loss_rate)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.out.loss = 0.10;
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    unsigned n = drive(&b, MANY, 10, 64, arrivals, MANY);
    struct ustack_impair_counters c = out_counters(&b);
    CHECK_EQ(c.frames, MANY);
    CHECK_RANGE(c.dropped, MANY / 10 - 400, MANY / 10 + 400); /* sd ~42 */
    CHECK_EQ(c.passed, MANY - c.dropped);
    CHECK_EQ(n, c.passed);
    /* Loss alone neither delays nor reorders. */
    CHECK_EQ(c.delayed, 0);
    for (unsigned i = 1; i < n; i++)
        CHECK(arrivals[i].seq > arrivals[i - 1].seq);
    bench_close(&b);
}

TEST(impair_duplicate_rate)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.out.duplicate = 0.05;
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    unsigned n = drive(&b, MANY, 10, 64, arrivals, 2 * MANY);
    struct ustack_impair_counters c = out_counters(&b);
    CHECK_RANGE(c.duplicated, MANY / 20 - 300, MANY / 20 + 300); /* sd ~31 */
    CHECK_EQ(n, MANY + c.duplicated);
    /* A duplicate follows its original at once, identical. */
    unsigned twins = 0;
    for (unsigned i = 1; i < n; i++) {
        CHECK(arrivals[i].seq >= arrivals[i - 1].seq);
        if (arrivals[i].seq == arrivals[i - 1].seq) {
            twins++;
            CHECK_MEM(arrivals[i].data, arrivals[i - 1].data, 64);
        }
    }
    CHECK_EQ(twins, c.duplicated);
    bench_close(&b);
}

TEST(impair_corrupt_rate_and_offsets)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.out.corrupt = 0.20;
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    enum { COUNT = 5000, LEN = 100 };
    unsigned n = drive(&b, COUNT, 10, LEN, arrivals, COUNT);
    REQUIRE(n == COUNT); /* corruption loses nothing, and keeps order */
    unsigned changed = 0, first_part = 0, last_part = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t want[LEN];
        make_frame(want, i, LEN);
        unsigned diffs = 0, at = 0;
        for (unsigned j = 0; j < LEN; j++)
            if (arrivals[i].data[j] != want[j]) {
                diffs++;
                at = j;
            }
        CHECK(diffs <= 1); /* one byte, never more */
        if (diffs) {
            changed++;
            first_part += at < 10;
            last_part += at >= LEN - 10;
        }
    }
    struct ustack_impair_counters c = out_counters(&b);
    CHECK_EQ(changed, c.corrupted);
    CHECK_RANGE(c.corrupted, COUNT / 5 - 200, COUNT / 5 + 200); /* sd ~28 */
    /* Anywhere in the frame, headers included: ~10% of hits in each end. */
    CHECK_RANGE(first_part, 40, 200);
    CHECK_RANGE(last_part, 40, 200);
    bench_close(&b);
}

TEST(impair_reorder_rate_and_hold_time)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.out.reorder = 0.10;
    cfg.out.reorder_us = 5000;
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    enum { COUNT = 10000, GAP = 100 };
    unsigned n = drive(&b, COUNT, GAP, 64, arrivals, COUNT);
    REQUIRE(n == COUNT);
    struct ustack_impair_counters c = out_counters(&b);
    CHECK_RANGE(c.reordered, COUNT / 10 - 250, COUNT / 10 + 250); /* sd 30 */
    /* Every held-back frame is overtaken and arrives exactly 5 ms late;
     * every other one arrives at once. */
    unsigned late = 0;
    uint32_t highest = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t sent_at = (uint64_t)arrivals[i].seq * GAP;
        if (arrivals[i].at == sent_at + 5000)
            late++;
        else
            CHECK_EQ(arrivals[i].at, sent_at);
        if (i > 0 && arrivals[i].seq < highest)
            CHECK_EQ(arrivals[i].at, sent_at + 5000);
        if (arrivals[i].seq > highest)
            highest = arrivals[i].seq;
    }
    CHECK_EQ(late, c.reordered);
    bench_close(&b);
}

TEST(impair_delay_and_jitter)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.out.delay_us = 20000;
    cfg.out.jitter_us = 5000;
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    enum { COUNT = 4000, GAP = 1000 };
    unsigned n = drive(&b, COUNT, GAP, 64, arrivals, COUNT);
    REQUIRE(n == COUNT);
    uint64_t sum = 0, lo = NEVER, hi = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t lat = arrivals[i].at - (uint64_t)arrivals[i].seq * GAP;
        CHECK_RANGE(lat, 20000, 25000);
        sum += lat;
        lo = lat < lo ? lat : lo;
        hi = lat > hi ? lat : hi;
    }
    CHECK_RANGE(sum / n, 22500 - 200, 22500 + 200); /* uniform: sd of mean ~23 */
    CHECK(lo < 20100);
    CHECK(hi > 24900);
    CHECK_EQ(out_counters(&b).delayed, COUNT);
    bench_close(&b);

    /* Without jitter: exactly the delay. */
    ustack_impair_config_init(&cfg);
    cfg.out.delay_us = 7000;
    REQUIRE(bench_open(&b, &cfg));
    n = drive(&b, 100, 300, 64, arrivals, 100);
    REQUIRE(n == 100);
    for (unsigned i = 0; i < n; i++) {
        CHECK_EQ(arrivals[i].seq, i);
        CHECK_EQ(arrivals[i].at, i * 300 + 7000);
    }
    bench_close(&b);
}

TEST(impair_rate_limit_serializes)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.out.rate_bps = 1000000; /* 1 Mbit/s: a 1000-byte frame takes 8 ms */
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    unsigned n = drive(&b, 50, 0, 1000, arrivals, 100); /* a burst at t=0 */
    REQUIRE(n == 50);
    for (unsigned i = 0; i < n; i++) {
        CHECK_EQ(arrivals[i].seq, i);
        CHECK_EQ(arrivals[i].at, (i + 1) * 8000ull);
    }
    /* 400,000 bits in 0.4 s: exactly the configured rate. */
    CHECK_EQ(arrivals[49].at, 400000);
    /* After an idle spell a frame only waits for itself. */
    b.clk.now = 1000000;
    n = drive(&b, 1, 0, 125, arrivals, 100); /* 1000 bits: 1 ms */
    REQUIRE(n == 1);
    CHECK_EQ(arrivals[0].at, 1001000);
    bench_close(&b);

    /* Rate, then delay: serialization and propagation add up. */
    ustack_impair_config_init(&cfg);
    cfg.out.rate_bps = 8000000; /* 1000 bytes: 1 ms */
    cfg.out.delay_us = 3000;
    REQUIRE(bench_open(&b, &cfg));
    n = drive(&b, 3, 0, 1000, arrivals, 100);
    REQUIRE(n == 3);
    CHECK_EQ(arrivals[0].at, 4000);
    CHECK_EQ(arrivals[1].at, 5000);
    CHECK_EQ(arrivals[2].at, 6000);
    bench_close(&b);
}

TEST(impair_queue_bound_drops_and_counts)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.out.delay_us = 1000000;
    cfg.out.limit = 10;
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    uint8_t f[64];
    for (uint32_t i = 0; i < 25; i++) {
        make_frame(f, i, sizeof(f));
        CHECK_EQ(ustack_link_send(b.w, f, sizeof(f)), 0);
    }
    CHECK_EQ(ustack_impair_held(b.w), 10);
    struct ustack_impair_counters c = out_counters(&b);
    CHECK_EQ(c.frames, 25);
    CHECK_EQ(c.overflowed, 15);
    CHECK_EQ(ustack_memlink_pending(b.peer), 0);
    CHECK_EQ(ustack_impair_poll(b.w, 999999), 1000000);
    CHECK_EQ(ustack_memlink_pending(b.peer), 0);
    CHECK_EQ(ustack_impair_poll(b.w, 1000000), NEVER);
    CHECK_EQ(ustack_memlink_pending(b.peer), 10); /* the first ten */
    unsigned n = 0;
    drain(&b, arrivals, &n, 100);
    for (unsigned i = 0; i < n; i++)
        CHECK_EQ(arrivals[i].seq, i);
    /* Room again. */
    for (uint32_t i = 0; i < 10; i++)
        CHECK_EQ(ustack_link_send(b.w, f, sizeof(f)), 0);
    CHECK_EQ(out_counters(&b).overflowed, 15);
    CHECK_EQ(ustack_impair_held(b.w), 10);
    bench_close(&b);
}

/* ---- the receive direction ---------------------------------------------------- */

TEST(impair_in_direction_delays_and_drops)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.in.delay_us = 30000;
    struct bench b;
    REQUIRE(bench_open(&b, &cfg));
    uint8_t f[64], got[1600];
    make_frame(f, 1, sizeof(f));
    CHECK_EQ(ustack_link_send(b.peer, f, sizeof(f)), 0);
    CHECK_EQ(ustack_link_recv(b.w, got, sizeof(got)), 0); /* taken, held */
    CHECK_EQ(ustack_impair_held(b.w), 1);
    CHECK_EQ(ustack_impair_poll(b.w, 0), 30000);
    b.clk.now = 29999;
    CHECK_EQ(ustack_link_recv(b.w, got, sizeof(got)), 0);
    b.clk.now = 30000;
    /* Due: the poll deadline says so, and recv gives it. */
    CHECK(ustack_impair_poll(b.w, b.clk.now) <= b.clk.now);
    CHECK_EQ(ustack_link_recv(b.w, got, sizeof(got)), sizeof(f));
    CHECK_MEM(got, f, sizeof(f));
    CHECK_EQ(ustack_impair_poll(b.w, b.clk.now), NEVER);
    /* Out was untouched. */
    CHECK_EQ(ustack_link_send(b.w, f, sizeof(f)), 0);
    CHECK_EQ(ustack_link_recv(b.peer, got, sizeof(got)), sizeof(f));
    bench_close(&b);

    ustack_impair_config_init(&cfg);
    cfg.in.loss = 1.0;
    REQUIRE(bench_open(&b, &cfg));
    for (int i = 0; i < 100; i++)
        CHECK_EQ(ustack_link_send(b.peer, f, sizeof(f)), 0);
    CHECK_EQ(ustack_link_recv(b.w, got, sizeof(got)), 0);
    CHECK_EQ(ustack_link_recv(b.w, got, sizeof(got)), 0);
    struct ustack_impair_counters in;
    CHECK_EQ(ustack_impair_counters(b.w, NULL, &in), 0);
    CHECK_EQ(in.frames, 100);
    CHECK_EQ(in.dropped, 100);
    CHECK_EQ(in.passed, 0);
    bench_close(&b);
}

TEST(impair_set_cuts_and_restores)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    struct bench b;
    REQUIRE(bench_open(&b, &cfg)); /* wrapped with nothing to do */
    uint8_t f[64], got[1600];
    make_frame(f, 1, sizeof(f));
    struct ustack_impair_dir cut = {.loss = 1.0};
    CHECK_EQ(ustack_impair_set(b.w, &cut, &cut), 0);
    CHECK_EQ(ustack_link_send(b.w, f, sizeof(f)), 0);
    CHECK_EQ(ustack_link_recv(b.peer, got, sizeof(got)), 0);
    CHECK_EQ(ustack_link_send(b.peer, f, sizeof(f)), 0);
    CHECK_EQ(ustack_link_recv(b.w, got, sizeof(got)), 0);
    struct ustack_impair_dir none = {0};
    CHECK_EQ(ustack_impair_set(b.w, &none, &none), 0);
    CHECK_EQ(ustack_link_send(b.w, f, sizeof(f)), 0);
    CHECK_EQ(ustack_link_recv(b.peer, got, sizeof(got)), sizeof(f));
    struct ustack_impair_dir bad = {.corrupt = -0.1};
    CHECK_EQ(ustack_impair_set(b.w, &bad, NULL), -EINVAL);
    CHECK_EQ(ustack_impair_set(b.peer, &none, NULL), -EINVAL);
    struct ustack_impair_counters out, in;
    CHECK_EQ(ustack_impair_counters(b.w, &out, &in), 0);
    CHECK_EQ(out.dropped, 1);
    CHECK_EQ(out.passed, 1);
    CHECK_EQ(in.dropped, 1);
    bench_close(&b);
}

/* ---- determinism ---------------------------------------------------------------- */

/* Every impairment at once; a digest of what arrived, when. */
static uint64_t mixed_run(uint64_t seed, bool with_in)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    cfg.seed = seed;
    cfg.out = (struct ustack_impair_dir){
        .loss = 0.05, .duplicate = 0.05, .reorder = 0.1, .reorder_us = 3000,
        .corrupt = 0.05, .delay_us = 2000, .jitter_us = 1500, .rate_bps = 50000000,
    };
    if (with_in)
        cfg.in = cfg.out;
    struct bench b;
    if (!bench_open(&b, &cfg))
        return 0;
    b.feed_in = with_in;
    unsigned n = drive(&b, 3000, 150, 100, arrivals, 2 * MANY);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (unsigned i = 0; i < n; i++) {
        uint8_t rec[12 + 100];
        put_be32(rec, arrivals[i].seq);
        put_be32(rec + 4, (uint32_t)(arrivals[i].at >> 32));
        put_be32(rec + 8, (uint32_t)arrivals[i].at);
        memcpy(rec + 12, arrivals[i].data, 100);
        for (size_t j = 0; j < sizeof(rec); j++)
            h = (h ^ rec[j]) * 1099511628211ull;
    }
    bench_close(&b);
    return h;
}

TEST(impair_same_seed_same_fates)
{
    uint64_t a = mixed_run(42, false);
    CHECK(a != 0);
    CHECK_EQ(mixed_run(42, false), a);
    CHECK(mixed_run(43, false) != a);
    /* Each direction has its own stream: traffic impaired the other way
     * changes nothing here. */
    CHECK_EQ(mixed_run(42, true), a);
}

/* ---- the spec syntax ------------------------------------------------------------- */

TEST(impair_spec_parses_every_key)
{
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    char err[256] = "";
    CHECK_EQ(ustack_impair_parse("loss=5%,dup=1%,reorder=10%,corrupt=0.5%,delay=20ms,"
                                 "jitter=5ms,rate=10mbit,seed=42,limit=1000",
                                 &cfg, err, sizeof(err)),
             0);
    for (int i = 0; i < 2; i++) {
        const struct ustack_impair_dir *d = i ? &cfg.in : &cfg.out;
        CHECK(d->loss > 0.0499 && d->loss < 0.0501);
        CHECK(d->duplicate > 0.0099 && d->duplicate < 0.0101);
        CHECK(d->reorder > 0.0999 && d->reorder < 0.1001);
        CHECK(d->corrupt > 0.00499 && d->corrupt < 0.00501);
        CHECK_EQ(d->delay_us, 20000);
        CHECK_EQ(d->jitter_us, 5000);
        CHECK_EQ(d->rate_bps, 10000000);
        CHECK_EQ(d->limit, 1000);
    }
    CHECK_EQ(cfg.seed, 42);

    /* A direction prefix, applied on top. */
    CHECK_EQ(ustack_impair_parse("in:delay=1s,reorder-delay=250us,rate=64kbit", &cfg, err,
                                 sizeof(err)),
             0);
    CHECK_EQ(cfg.in.delay_us, 1000000);
    CHECK_EQ(cfg.in.reorder_us, 250);
    CHECK_EQ(cfg.in.rate_bps, 64000);
    CHECK_EQ(cfg.out.delay_us, 20000); /* untouched */
    CHECK_EQ(ustack_impair_parse("out:loss=100%,rate=1Gbit,seed=0x10", &cfg, err, sizeof(err)),
             0);
    CHECK(cfg.out.loss == 1.0);
    CHECK_EQ(cfg.out.rate_bps, 1000000000);
    CHECK(cfg.in.loss > 0.0499 && cfg.in.loss < 0.0501);
    CHECK_EQ(cfg.seed, 16);
    CHECK_EQ(ustack_impair_parse("delay=1.5ms,jitter=0us,loss=0%", &cfg, err, sizeof(err)), 0);
    CHECK_EQ(cfg.out.delay_us, 1500);
    CHECK_EQ(cfg.in.jitter_us, 0);
    CHECK(cfg.out.loss == 0);
}

TEST(impair_spec_rejects_mistakes_clearly)
{
    static const struct {
        const char *spec;
        const char *says; /* a piece of the message */
    } bad[] = {
        {"", "empty"},
        {"in:", "empty"},
        {"loss=5", "percentage"},
        {"loss=5 %", "percentage"},
        {"loss=-5%", "percentage"},
        {"loss=101%", "percentage"},
        {"loss=5%%", "percentage"},
        {"loss=inf%", "percentage"},
        {"loss=1e2%", "percentage"},
        {"dup=x", "percentage"},
        {"delay=20", "time"},
        {"delay=20 ms", "time"},
        {"delay=20min", "time"},
        {"delay=61s", "time"},
        {"jitter=-1ms", "time"},
        {"rate=10", "bits per second"},
        {"rate=10mbps", "bits per second"},
        {"rate=999bit", "bits per second"},
        {"rate=2000gbit", "bits per second"},
        {"limit=0", "limit"},
        {"limit=100001", "limit"},
        {"limit=ten", "limit"},
        {"seed=-1", "seed"},
        {"seed=", "key=value"},
        {"seed=99999999999999999999", "seed"},
        {"lose=5%", "not a known key"},
        {"loss", "key=value"},
        {"=5%", "key=value"},
        {"loss=5%,,dup=1%", "empty item"},
        {"loss=5%,", "empty item"},
        {",loss=5%", "empty item"},
        {"loss=5%,loss=6%", "twice"},
        {"both:loss=5%", "not a known key"},
        {"in:out:loss=5%", "not a known key"},
        {"loss=5%,in:delay=1ms", "not a known key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ustack_impair_config cfg, before;
        ustack_impair_config_init(&cfg);
        cfg.out.delay_us = 777;
        before = cfg;
        char err[256] = "";
        if (ustack_impair_parse(bad[i].spec, &cfg, err, sizeof(err)) != -1) {
            test_fail(__FILE__, __LINE__, "'%s' was accepted", bad[i].spec);
            continue;
        }
        if (!strstr(err, bad[i].says))
            test_fail(__FILE__, __LINE__, "'%s': message '%s' lacks '%s'", bad[i].spec, err,
                      bad[i].says);
        /* All or nothing: a failed parse leaves cfg alone. */
        CHECK_MEM(&cfg, &before, sizeof(cfg));
    }
    /* A failure after good items changes nothing either. */
    struct ustack_impair_config cfg;
    ustack_impair_config_init(&cfg);
    char err[256];
    CHECK_EQ(ustack_impair_parse("loss=5%,delay=x", &cfg, err, sizeof(err)), -1);
    CHECK(cfg.out.loss == 0);
}

TEST(impair_format_round_trips)
{
    struct ustack_impair_config cfg, again;
    ustack_impair_config_init(&cfg);
    char err[256], text[256];
    REQUIRE(ustack_impair_parse("loss=5%,dup=1%,reorder=10%,reorder-delay=3ms,corrupt=0.5%,"
                                "delay=20ms,jitter=1500us,rate=64kbit,limit=50",
                                &cfg, err, sizeof(err)) == 0);
    ustack_impair_format(&cfg.out, text, sizeof(text));
    ustack_impair_config_init(&again);
    CHECK_EQ(ustack_impair_parse(text, &again, err, sizeof(err)), 0);
    CHECK_MEM(&again.out, &cfg.out, sizeof(cfg.out));
    struct ustack_impair_dir none = {0};
    CHECK(!strcmp(ustack_impair_format(&none, text, sizeof(text)), "none"));
    CHECK(!ustack_impair_active(&none));
}

/* ---- the runner honours the decorator's deadlines --------------------------------- */

static int sk_send(struct ustack_link *l, const void *f, size_t n)
{
    return send(l->fd, f, n, MSG_DONTWAIT) == (ssize_t)n ? 0 : -errno;
}

static ssize_t sk_recv(struct ustack_link *l, void *b, size_t cap)
{
    ssize_t n = recv(l->fd, b, cap, MSG_DONTWAIT);
    if (n >= 0)
        return n;
    return errno == EAGAIN ? 0 : -errno;
}

static void sk_close(struct ustack_link *l)
{
    close(l->fd);
    free(l);
}

static const struct ustack_link_ops sk_ops = {.send = sk_send, .recv = sk_recv,
                                              .close = sk_close};

/* An ICMP echo request from 10.0.0.1 to the stack at 10.0.0.2. */
static size_t ping_frame(uint8_t *f, uint16_t seq)
{
    size_t len = 20 + 8 + 32;
    memset(f, 0, len);
    f[0] = 0x45;
    put_be16(f + 2, (uint16_t)len);
    f[8] = 64;
    f[9] = 1;
    put_be32(f + 12, 0x0a000001u);
    put_be32(f + 16, 0x0a000002u);
    put_be16(f + 10, cksum_finish(cksum_add(0, f, 20)));
    f[20] = 8;
    put_be16(f + 26, seq);
    put_be16(f + 22, cksum_finish(cksum_add(0, f + 20, len - 20)));
    return len;
}

static void *impair_run_thread(void *arg)
{
    return (void *)(intptr_t)ustack_runner_run(arg);
}

/* Echo round trip through a runner whose link delays 20 ms out and 30 ms
 * in: the reply takes at least 50 ms, so both held frames were released on
 * time by the runner's own wake-ups (nothing else happens on the link). */
TEST(impair_runner_waits_for_held_frames)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    struct ustack_link *raw = calloc(1, sizeof(*raw));
    REQUIRE(raw);
    raw->ops = &sk_ops;
    raw->kind = USTACK_LINK_IP;
    raw->mtu = 1500;
    raw->fd = sv[0];
    struct ustack_impair_config icfg;
    ustack_impair_config_init(&icfg);
    icfg.out.delay_us = 20000;
    icfg.in.delay_us = 30000;
    struct ustack_link *link = ustack_impair_wrap(raw, &icfg);
    REQUIRE(link);
    CHECK_EQ(link->fd, sv[0]);
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = 0x0a000002u;
    cfg.netmask = 0xffffff00u;
    cfg.has_secret = true;
    struct ustack *st = ustack_new(&cfg, link, ustack_clock_us());
    REQUIRE(st);
    struct ustack_runner *r = ustack_runner_new(st, link);
    REQUIRE(r);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, impair_run_thread, r) == 0);
    for (uint16_t seq = 1; seq <= 3; seq++) {
        uint8_t f[100], got[1600];
        size_t len = ping_frame(f, seq);
        uint64_t t0 = ustack_clock_us();
        CHECK(send(sv[1], f, len, 0) == (ssize_t)len);
        struct pollfd p = {sv[1], POLLIN, 0};
        CHECK_EQ(poll(&p, 1, 3000), 1);
        uint64_t rtt = ustack_clock_us() - t0;
        CHECK_EQ(recv(sv[1], got, sizeof(got), MSG_DONTWAIT), len);
        CHECK_EQ(got[20], 0); /* echo reply */
        CHECK_EQ(get_be16(got + 26), seq);
        CHECK(rtt >= 50000);
        CHECK(rtt < 1000000); /* not waiting for some unrelated wake-up */
    }
    ustack_runner_lock(r);
    struct ustack_impair_counters out, in;
    CHECK_EQ(ustack_impair_counters(link, &out, &in), 0);
    ustack_runner_unlock(r);
    CHECK_EQ(out.delayed, 3);
    CHECK_EQ(out.passed, 3);
    CHECK_EQ(in.delayed, 3);
    CHECK_EQ(in.passed, 3);
    ustack_runner_stop(r);
    void *rc;
    pthread_join(th, &rc);
    CHECK_EQ((intptr_t)rc, 0);
    ustack_runner_free(r);
    ustack_free(st);
    ustack_link_close(link);
    close(sv[1]);
}

/* Frames larger than MTU + 18 have no slot: dropped and counted. A frame
 * longer than the caller's buffer is truncated, as links do. */
TEST(impair_oversize_dropped_truncation_kept)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    struct ustack_link *raw = calloc(1, sizeof(*raw));
    REQUIRE(raw);
    raw->ops = &sk_ops;
    raw->kind = USTACK_LINK_IP;
    raw->mtu = 1500;
    raw->fd = sv[0];
    struct vclock clk = {0};
    struct ustack_impair_config icfg;
    ustack_impair_config_init(&icfg);
    icfg.in.delay_us = 10;
    icfg.clock = vclock_read;
    icfg.clock_ctx = &clk;
    struct ustack_link *link = ustack_impair_wrap(raw, &icfg);
    REQUIRE(link);
    static uint8_t f[4000], got[4000];
    memset(f, 0xab, sizeof(f));
    CHECK(send(sv[1], f, 1518, 0) == 1518);
    CHECK(send(sv[1], f, 1519, 0) == 1519);
    CHECK(send(sv[1], f, 1000, 0) == 1000);
    CHECK_EQ(ustack_link_recv(link, got, sizeof(got)), 0);
    clk.now = 10;
    CHECK_EQ(ustack_link_recv(link, got, sizeof(got)), 1518);
    CHECK_EQ(ustack_link_recv(link, got, 100), 100);
    CHECK_EQ(ustack_link_recv(link, got, sizeof(got)), 0);
    struct ustack_impair_counters in;
    CHECK_EQ(ustack_impair_counters(link, NULL, &in), 0);
    CHECK_EQ(in.frames, 3);
    CHECK_EQ(in.oversize, 1);
    CHECK_EQ(in.passed, 2);
    ustack_link_close(link);
    close(sv[1]);
}
