/*
 * The token bucket (src/core/ratelimit.h): a burst, then the rate, and a
 * full bucket (never more) after any pause, however long.
 */
#include "core/ratelimit.h"
#include "test.h"

/* How many events the bucket lets through at `now`, taking until refused. */
static unsigned drain(struct ratelimit *rl, uint64_t now)
{
    unsigned n = 0;
    while (n < 1000000 && ratelimit_allow(rl, now))
        n++;
    return n;
}

TEST(ratelimit_burst_then_rate)
{
    struct ratelimit rl;
    ratelimit_init(&rl, 10, 100, 5000);
    CHECK_EQ(drain(&rl, 5000), 10);          /* the burst */
    CHECK_EQ(drain(&rl, 5000 + 9999), 0);    /* 100/s: not quite 10 ms */
    CHECK_EQ(drain(&rl, 5000 + 10000), 1);   /* one token per 10 ms */
    CHECK_EQ(drain(&rl, 5000 + 60000), 5);   /* 50 ms later: 5 more */
    CHECK_EQ(drain(&rl, 5000 + 10000000), 10); /* 10 s idle: the burst, no more */
}

TEST(ratelimit_time_never_goes_back)
{
    struct ratelimit rl;
    ratelimit_init(&rl, 2, 1, 1000000);
    CHECK_EQ(drain(&rl, 1000000), 2);
    CHECK_EQ(drain(&rl, 0), 0); /* an earlier time refills nothing */
    CHECK_EQ(drain(&rl, 2000000), 1);
}

/* A jump of `now` so long that elapsed * rate no longer fits 64 bits must
 * still fill the bucket, not wrap to a few tokens (or none). */
TEST(ratelimit_huge_jump_fills_the_bucket)
{
    struct ratelimit rl;
    ratelimit_init(&rl, 10, 4000000000u, 0);
    CHECK_EQ(drain(&rl, 0), 10);
    /* 2^62 us * 4e9 wraps modulo 2^64 to 0 tokens without the guard. */
    CHECK_EQ(drain(&rl, (uint64_t)1 << 62), 10);
    struct ratelimit slow;
    ratelimit_init(&slow, 3, 100, 0);
    CHECK_EQ(drain(&slow, 0), 3);
    CHECK_EQ(drain(&slow, UINT64_MAX), 3);
}
