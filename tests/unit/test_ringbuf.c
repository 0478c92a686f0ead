/*
 * The byte ring's growing storage (src/core/ringbuf.c): a ring made with
 * ringbuf_init() holds no storage until bytes arrive, grows it by
 * doubling up to its limit, and keeps every byte across a growth, those
 * stored past the tail included, wherever the head stood.
 */
#include "core/ringbuf.h"
#include "test.h"

/* Byte i of a test stream. */
static uint8_t pat(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 8));
}

static void fill(uint8_t *p, size_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pat(from + i);
}

TEST(ringbuf_init_allocates_nothing_until_written)
{
    struct ringbuf rb;
    ringbuf_init(&rb, 256 * 1024);
    CHECK(rb.buf == NULL);
    CHECK_EQ(rb.cap, 0);
    CHECK_EQ(ringbuf_free_space(&rb), 256 * 1024);
    uint8_t out[4];
    CHECK_EQ(ringbuf_peek(&rb, 0, out, sizeof(out)), 0);
    CHECK_EQ(ringbuf_consume(&rb, 10), 0);
    CHECK_EQ(ringbuf_write(&rb, "abc", 3), 3);
    CHECK(rb.buf != NULL);
    CHECK_EQ(rb.cap, RINGBUF_MIN_STORAGE); /* small writes, small storage */
    CHECK_EQ(ringbuf_read(&rb, out, sizeof(out)), 3);
    CHECK_MEM(out, "abc", 3);
    ringbuf_release(&rb);
    CHECK(rb.buf == NULL);
    CHECK_EQ(ringbuf_free_space(&rb), 0);
}

/* Stream 1 MiB through a 100,000-byte ring in uneven pieces, reading
 * behind: the storage grows to the limit and no further, and every byte
 * comes out in order although the head stands anywhere when it grows. */
TEST(ringbuf_grows_to_limit_keeping_order)
{
    enum { LIMIT = 100000, TOTAL = 1 << 20 };
    static uint8_t in[8192], out[8192];
    struct ringbuf rb;
    ringbuf_init(&rb, LIMIT);
    size_t wrote = 0, got = 0, step = 1;
    uint32_t rnd = 1;
    while (got < TOTAL) {
        rnd = rnd * 1103515245u + 12345u;
        size_t n = (rnd >> 8) % 5000 + 1;
        if (n > TOTAL - wrote)
            n = TOTAL - wrote;
        fill(in, wrote, n);
        wrote += ringbuf_write(&rb, in, n);
        CHECK(rb.cap <= LIMIT);
        CHECK(ringbuf_used(&rb) <= LIMIT);
        /* Read less than written (on average), so the ring fills up. */
        rnd = rnd * 1103515245u + 12345u;
        size_t r = ringbuf_read(&rb, out, (rnd >> 8) % 4000);
        for (size_t i = 0; i < r; i++)
            if (out[i] != pat(got + i)) {
                CHECK_EQ(out[i], pat(got + i));
                REQUIRE(0);
            }
        got += r;
        step++;
        REQUIRE(step < 10 * TOTAL);
    }
    CHECK_EQ(rb.cap, LIMIT);
    ringbuf_release(&rb);
}

/* Out-of-order bytes stored past the tail survive the growth that a later
 * write causes, with the head in the middle of the old storage. */
TEST(ringbuf_growth_keeps_bytes_past_tail)
{
    struct ringbuf rb;
    ringbuf_init(&rb, 64 * 1024);
    uint8_t buf[6000];
    fill(buf, 0, 1500);
    CHECK_EQ(ringbuf_write(&rb, buf, 1500), 1500);
    CHECK_EQ(ringbuf_consume(&rb, 1000), 1000); /* head at 1000 */
    /* Past the tail, still inside the first storage, wrapping. */
    fill(buf, 2000, 500);
    CHECK_EQ(ringbuf_write_at(&rb, 500, buf, 500), 500);
    size_t before = rb.cap;
    /* Far past the tail: needs more storage. */
    fill(buf, 6000, 3000);
    CHECK_EQ(ringbuf_write_at(&rb, 4500, buf, 3000), 3000);
    CHECK(rb.cap > before);
    /* Fill the holes in order and commit everything. */
    fill(buf, 1500, 500);
    CHECK_EQ(ringbuf_write_at(&rb, 0, buf, 500), 500);
    fill(buf, 2500, 3500);
    CHECK_EQ(ringbuf_write_at(&rb, 1000, buf, 3500), 3500);
    ringbuf_commit(&rb, 7500); /* everything stored past the tail */
    CHECK_EQ(ringbuf_used(&rb), 8000);
    static uint8_t out[8000];
    CHECK_EQ(ringbuf_read(&rb, out, sizeof(out)), 8000);
    size_t bad = 0;
    for (size_t i = 0; i < 8000; i++)
        bad += out[i] != pat(1000 + i);
    CHECK_EQ(bad, 0);
    ringbuf_release(&rb);
}

/* A limit below the storage size shrinks the storage and keeps what it
 * holds (readable and past the tail); a larger one only lets it grow. */
TEST(ringbuf_set_limit_shrinks_and_raises)
{
    struct ringbuf rb;
    ringbuf_init(&rb, 32768);
    uint8_t buf[20000];
    fill(buf, 0, 20000);
    CHECK_EQ(ringbuf_write(&rb, buf, 20000), 20000);
    CHECK_EQ(ringbuf_consume(&rb, 15000), 15000);
    CHECK_EQ(ringbuf_write_at(&rb, 100, buf, 50), 50);
    CHECK_EQ(rb.cap, 32768);
    REQUIRE(ringbuf_set_limit(&rb, 6000) == 0);
    CHECK_EQ(rb.cap, 6000);
    CHECK_EQ(ringbuf_free_space(&rb), 1000);
    uint8_t out[5200];
    CHECK_EQ(ringbuf_peek(&rb, 0, out, 5000), 5000);
    CHECK_MEM(out, buf + 15000, 5000);
    ringbuf_commit(&rb, 150);
    CHECK_EQ(ringbuf_peek(&rb, 5100, out, 50), 50);
    CHECK_MEM(out, buf, 50);
    /* Never below what it holds. */
    REQUIRE(ringbuf_set_limit(&rb, 10) == 0);
    CHECK_EQ(rb.limit, 5150);
    REQUIRE(ringbuf_set_limit(&rb, 1 << 20) == 0);
    CHECK_EQ(ringbuf_free_space(&rb), (1 << 20) - 5150);
    CHECK_EQ(ringbuf_write(&rb, buf, 20000), 20000);
    CHECK(rb.cap >= 25150);
    ringbuf_release(&rb);
}

/* ringbuf_alloc: all the storage at once, as before. */
TEST(ringbuf_alloc_is_eager)
{
    struct ringbuf rb;
    REQUIRE(ringbuf_alloc(&rb, 5000) == 0);
    CHECK(rb.buf != NULL);
    CHECK_EQ(rb.cap, 5000);
    CHECK_EQ(ringbuf_free_space(&rb), 5000);
    uint8_t buf[6000] = {0};
    CHECK_EQ(ringbuf_write(&rb, buf, 6000), 5000);
    CHECK_EQ(rb.cap, 5000);
    ringbuf_release(&rb);
}
