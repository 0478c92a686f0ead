/*
 * Sequence number arithmetic (src/tcp/seq.h), with the 2^32 wrap, and the
 * byte ring and timer heap TCP builds on.
 */
#include <stdlib.h>
#include <string.h>

#include "core/ringbuf.h"
#include "core/timerheap.h"
#include "tcp/seq.h"
#include "test.h"

TEST(tcp_seq_compare_plain)
{
    CHECK(seq_lt(1, 2));
    CHECK(!seq_lt(2, 1));
    CHECK(!seq_lt(5, 5));
    CHECK(seq_leq(5, 5));
    CHECK(seq_gt(2, 1));
    CHECK(seq_geq(2, 2));
    CHECK(!seq_geq(1, 2));
}

TEST(tcp_seq_compare_across_wrap)
{
    /* 0xfffffff0 comes 0x20 numbers before 0x10. */
    CHECK(seq_lt(0xfffffff0u, 0x10));
    CHECK(seq_gt(0x10, 0xfffffff0u));
    CHECK(seq_leq(0xffffffffu, 0));
    CHECK(seq_lt(0xffffffffu, 0));
    CHECK(!seq_lt(0, 0xffffffffu));
    CHECK_EQ(seq_max(0xfffffff0u, 0x10), 0x10);
    CHECK_EQ(seq_min(0xfffffff0u, 0x10), 0xfffffff0u);
    /* Up to 2^31 - 1 apart the order is well defined, in both halves. */
    CHECK(seq_lt(0x80000000u, 0xffffffffu));
    CHECK(seq_lt(0xc0000000u, 0x3fffffffu));
    CHECK(!seq_lt(0x3fffffffu, 0xc0000000u));
}

TEST(tcp_seq_in_range_across_wrap)
{
    /* A window of 0x30 starting at 0xfffffff0: [0xfffffff0, 0x20). */
    uint32_t lo = 0xfffffff0u, hi = lo + 0x30;
    CHECK_EQ(hi, 0x20);
    CHECK(seq_in_range(0xfffffff0u, lo, hi));
    CHECK(seq_in_range(0xffffffffu, lo, hi));
    CHECK(seq_in_range(0, lo, hi));
    CHECK(seq_in_range(0x1f, lo, hi));
    CHECK(!seq_in_range(0x20, lo, hi));
    CHECK(!seq_in_range(0xffffffefu, lo, hi));
    /* An empty range holds nothing (RCV.WND = 0). */
    CHECK(!seq_in_range(lo, lo, lo));
}

/* seq_lt agrees with the signed distance for random pairs. */
TEST(tcp_seq_matches_signed_difference)
{
    uint32_t x = 12345;
    for (int i = 0; i < 100000; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t a = x;
        x = x * 1103515245u + 12345u;
        uint32_t d = x % 0x7fffffffu + 1; /* 1 .. 2^31-1 */
        CHECK(seq_lt(a, a + d));
        CHECK(seq_gt(a + d, a));
        CHECK(!seq_lt(a + d, a));
        if (test_failed())
            return;
    }
}

/* ---- The byte ring --------------------------------------------------------- */

TEST(tcp_ringbuf_wraps_and_peeks)
{
    struct ringbuf rb = {0};
    REQUIRE(ringbuf_alloc(&rb, 10) == 0);
    CHECK_EQ(ringbuf_write(&rb, "abcdefgh", 8), 8);
    char out[16];
    CHECK_EQ(ringbuf_read(&rb, out, 6), 6);
    CHECK_MEM(out, "abcdef", 6);
    /* 2 bytes left at the end of storage; this write wraps. */
    CHECK_EQ(ringbuf_write(&rb, "ijklmnopqr", 10), 8);
    CHECK_EQ(ringbuf_used(&rb), 10);
    CHECK_EQ(ringbuf_free_space(&rb), 0);
    CHECK_EQ(ringbuf_peek(&rb, 1, out, 5), 5);
    CHECK_MEM(out, "hijkl", 5);
    CHECK_EQ(ringbuf_peek(&rb, 8, out, 5), 2);
    CHECK_MEM(out, "op", 2);
    CHECK_EQ(ringbuf_peek(&rb, 10, out, 5), 0);
    CHECK_EQ(ringbuf_consume(&rb, 3), 3);
    CHECK_EQ(ringbuf_read(&rb, out, 16), 7);
    CHECK_MEM(out, "jklmnop", 7);
    ringbuf_release(&rb);
}

TEST(tcp_ringbuf_write_at_and_commit)
{
    struct ringbuf rb = {0};
    REQUIRE(ringbuf_alloc(&rb, 8) == 0);
    CHECK_EQ(ringbuf_write(&rb, "ab", 2), 2);
    /* Out of order: bytes 2..3 past the tail first, then the gap. */
    CHECK_EQ(ringbuf_write_at(&rb, 2, "EF", 2), 2);
    CHECK_EQ(ringbuf_used(&rb), 2);
    CHECK_EQ(ringbuf_write_at(&rb, 0, "CD", 2), 2);
    ringbuf_commit(&rb, 4);
    char out[8];
    CHECK_EQ(ringbuf_read(&rb, out, 8), 6);
    CHECK_MEM(out, "abCDEF", 6);
    /* Emptying the ring keeps bytes stored past the tail in place. */
    CHECK_EQ(ringbuf_write_at(&rb, 1, "Z", 1), 1);
    CHECK_EQ(ringbuf_write(&rb, "Y", 1), 1);
    ringbuf_commit(&rb, 1);
    CHECK_EQ(ringbuf_read(&rb, out, 8), 2);
    CHECK_MEM(out, "YZ", 2);
    CHECK_EQ(ringbuf_used(&rb), 0);
    /* Past the capacity is cut off. */
    CHECK_EQ(ringbuf_write_at(&rb, 6, "xyz", 3), 2);
    CHECK_EQ(ringbuf_write_at(&rb, 8, "xyz", 3), 0);
    ringbuf_release(&rb);
}

/* ---- The timer heap --------------------------------------------------------- */

/* Random set/move/cancel against a brute-force model: the heap's first
 * timer is always the earliest scheduled one. */
TEST(tcp_timerheap_matches_model)
{
    enum { N = 500 };
    static struct heap_timer t[N];
    static bool on[N];
    memset(t, 0, sizeof(t));
    memset(on, 0, sizeof(on));
    struct timer_heap h;
    REQUIRE(timer_heap_init(&h, N) == 0);
    uint32_t x = 99;
    for (int step = 0; step < 200000; step++) {
        x = x * 1103515245u + 12345u;
        unsigned i = (x >> 8) % N;
        if ((x & 3) == 0) {
            timer_heap_cancel(&h, &t[i]);
            on[i] = false;
        } else {
            CHECK(timer_heap_set(&h, &t[i], (x >> 4) % 100000));
            on[i] = true;
        }
        uint64_t min = UINT64_MAX;
        unsigned count = 0;
        for (unsigned k = 0; k < N; k++)
            if (on[k]) {
                count++;
                if (t[k].when < min)
                    min = t[k].when;
            }
        CHECK_EQ(h.count, count);
        struct heap_timer *first = timer_heap_first(&h);
        CHECK_EQ(first ? first->when : UINT64_MAX, min);
        if (test_failed())
            break;
    }
    timer_heap_destroy(&h);
}

TEST(tcp_timerheap_full_refuses)
{
    struct heap_timer a = {0}, b = {0};
    struct timer_heap h;
    REQUIRE(timer_heap_init(&h, 1) == 0);
    CHECK(timer_heap_set(&h, &a, 5));
    CHECK(!timer_heap_set(&h, &b, 3));
    CHECK(timer_heap_set(&h, &a, 7)); /* moving a scheduled one is fine */
    CHECK_EQ(timer_heap_first(&h)->when, 7);
    timer_heap_destroy(&h);
}
