/*
 * The Internet checksum against a deliberately naive reference, plus the
 * worked examples of RFC 1071 and RFC 1624.
 */
#include <stdlib.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "test.h"

/* RFC 1071 by the book: one byte at a time, even offsets are the high
 * half of a word, carries folded immediately. */
static uint16_t naive_sum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += (i % 2 == 0) ? (uint32_t)p[i] << 8 : p[i];
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)sum;
}

static uint16_t naive_cksum(const uint8_t *p, size_t len)
{
    return (uint16_t)~naive_sum(p, len);
}

static uint16_t cksum(const void *p, size_t len)
{
    return cksum_finish(cksum_add(0, p, len));
}

/* splitmix64: a small deterministic generator for test data. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void fill_random(uint8_t *p, size_t len, uint64_t *seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)rng_next(seed);
}

TEST(checksum_rfc1071_example)
{
    /* RFC 1071 §3: these bytes sum to ddf2 (one's complement). */
    const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK_EQ(naive_sum(b, sizeof(b)), 0xddf2);
    CHECK_EQ(cksum(b, sizeof(b)), (uint16_t)~0xddf2);
    /* Appending the checksum makes the whole verify to zero. */
    uint8_t with[10];
    memcpy(with, b, 8);
    put_be16(with + 8, cksum(b, sizeof(b)));
    CHECK_EQ(cksum(with, sizeof(with)), 0);
}

TEST(checksum_all_zero_and_all_ones)
{
    uint8_t buf[1500];
    memset(buf, 0, sizeof(buf));
    for (size_t len = 0; len <= 64; len++)
        CHECK_EQ(cksum(buf, len), 0xffff);
    CHECK_EQ(cksum(buf, sizeof(buf)), 0xffff);
    /* Whole words of 0xffff are one's complement zero ("-0"): the sum
     * stays 0xffff, so the checksum is 0. */
    memset(buf, 0xff, sizeof(buf));
    for (size_t len = 2; len <= 64; len += 2)
        CHECK_EQ(cksum(buf, len), 0x0000);
    /* An odd last byte 0xff counts as 0xff00. */
    CHECK_EQ(cksum(buf, 1), 0x00ff);
    CHECK_EQ(cksum(buf, 3), 0x00ff);
    for (size_t len = 0; len <= sizeof(buf); len++)
        CHECK_EQ(cksum(buf, len), naive_cksum(buf, len));
}

TEST(checksum_odd_lengths)
{
    const uint8_t b[] = {0xab, 0xcd, 0xef};
    CHECK_EQ(cksum(b, 1), (uint16_t)~0xab00);
    CHECK_EQ(cksum(b, 2), (uint16_t)~0xabcd);
    CHECK_EQ(cksum(b, 3), (uint16_t)~(0xabcd + 0xef00 - 0xffff));
    for (size_t len = 1; len <= 3; len++)
        CHECK_EQ(cksum(b, len), naive_cksum(b, len));
}

TEST(checksum_every_alignment_random)
{
    /* Random data at every start offset 0..15 and every length up to
     * 600: exercises the 8/4/2/1-byte tails and unaligned loads. */
    uint64_t seed = 1071;
    uint8_t *buf = malloc(4096);
    REQUIRE(buf);
    int mismatches = 0;
    for (int round = 0; round < 4; round++) {
        fill_random(buf, 4096, &seed);
        for (size_t off = 0; off < 16; off++)
            for (size_t len = 0; len <= 600; len++)
                mismatches += cksum(buf + off, len) != naive_cksum(buf + off, len);
    }
    CHECK_EQ(mismatches, 0);
    /* Long runs of 0xff push the most carries into the accumulator. */
    memset(buf, 0xff, 4096);
    for (size_t off = 0; off < 8; off++)
        CHECK_EQ(cksum(buf + off, 4096 - off), naive_cksum(buf + off, 4096 - off));
    free(buf);
}

TEST(checksum_large_buffer)
{
    size_t len = 1u << 20;
    uint8_t *buf = malloc(len + 1);
    REQUIRE(buf);
    uint64_t seed = 42;
    fill_random(buf, len + 1, &seed);
    CHECK_EQ(cksum(buf, len), naive_cksum(buf, len));
    CHECK_EQ(cksum(buf + 1, len), naive_cksum(buf + 1, len));
    free(buf);
}

TEST(checksum_chained_chunks)
{
    /* Summing in even-length pieces (then any last piece) equals summing
     * the whole, whatever the starting partial sum. */
    uint64_t seed = 7;
    uint8_t buf[300];
    fill_random(buf, sizeof(buf), &seed);
    for (size_t split = 0; split <= sizeof(buf); split += 2) {
        for (size_t end = split; end <= sizeof(buf); end += 37) {
            uint32_t s = cksum_add(0, buf, split);
            s = cksum_add(s, buf + split, end - split);
            CHECK_EQ(cksum_finish(s), naive_cksum(buf, end));
        }
    }
    /* A large starting sum (e.g. an unfolded pseudo-header) is fine. */
    uint32_t s = cksum_add(0xfffffff0u, buf, 100);
    uint32_t ref = naive_sum(buf, 100) + 0xfff0u + 0xffffu;
    ref = (ref & 0xffff) + (ref >> 16);
    ref = (ref & 0xffff) + (ref >> 16);
    CHECK_EQ(cksum_finish(s), (uint16_t)~ref);
}

TEST(checksum_pseudo_header)
{
    uint64_t seed = 793;
    for (int i = 0; i < 1000; i++) {
        uint32_t src = (uint32_t)rng_next(&seed), dst = (uint32_t)rng_next(&seed);
        uint8_t proto = (uint8_t)rng_next(&seed);
        uint16_t len = (uint16_t)rng_next(&seed);
        /* RFC 793 §3.1: src, dst, zero, protocol, TCP length. */
        uint8_t ph[12];
        put_be32(ph, src);
        put_be32(ph + 4, dst);
        ph[8] = 0;
        ph[9] = proto;
        put_be16(ph + 10, len);
        CHECK_EQ(cksum_finish(cksum_pseudo_ipv4(src, dst, proto, len)),
                 naive_cksum(ph, sizeof(ph)));
    }
}

/* Place `m` at offset 4 of a 6-byte "header" whose other word is `other`,
 * with a valid checksum at offset 0. */
static void make_header(uint8_t h[6], uint16_t other, uint16_t m)
{
    put_be16(h, 0);
    put_be16(h + 2, other);
    put_be16(h + 4, m);
    put_be16(h, cksum(h, 6));
}

TEST(checksum_incremental_rfc1624_example)
{
    /* RFC 1624 §3: the other words sum to 0xcd7a, m = 0x5555 becomes
     * 0x3285; recomputation gives 0x0000, where eqn. 2 would give
     * 0xffff. */
    uint8_t h[6];
    make_header(h, 0xcd7a, 0x5555);
    CHECK_EQ(get_be16(h), 0xdd2f);
    uint16_t updated = cksum_update16(get_be16(h), 0x5555, 0x3285);
    make_header(h, 0xcd7a, 0x3285);
    CHECK_EQ(get_be16(h), 0x0000);
    CHECK_EQ(updated, get_be16(h));
}

TEST(checksum_incremental_matches_recompute)
{
    uint64_t seed = 1624;
    uint8_t hdr[20];
    int mismatches = 0, zero_results = 0;
    for (int i = 0; i < 200000; i++) {
        fill_random(hdr, sizeof(hdr), &seed);
        put_be16(hdr + 10, 0);
        put_be16(hdr + 10, cksum(hdr, sizeof(hdr)));
        size_t off = 2 * (rng_next(&seed) % 10);
        if (off == 10)
            off = 8; /* never the checksum field itself */
        uint16_t old_val = get_be16(hdr + off);
        uint16_t new_val = (uint16_t)rng_next(&seed);
        if (i % 4 == 0) /* make the result 0x0000 often: the corner case */
            new_val = (uint16_t)(old_val + get_be16(hdr + 10));
        uint16_t upd = cksum_update16(get_be16(hdr + 10), old_val, new_val);
        put_be16(hdr + off, new_val);
        put_be16(hdr + 10, 0);
        uint16_t full = cksum(hdr, sizeof(hdr));
        mismatches += upd != full;
        zero_results += full == 0;
    }
    CHECK_EQ(mismatches, 0);
    CHECK(zero_results > 1000); /* the corner really was exercised */
}

TEST(checksum_incremental_32bit)
{
    uint64_t seed = 3232;
    uint8_t hdr[20];
    int mismatches = 0;
    for (int i = 0; i < 100000; i++) {
        fill_random(hdr, sizeof(hdr), &seed);
        put_be16(hdr + 10, 0);
        put_be16(hdr + 10, cksum(hdr, sizeof(hdr)));
        size_t off = (i & 1) ? 12 : 16; /* an address, as NAT would */
        uint32_t old_val = get_be32(hdr + off);
        uint32_t new_val = (uint32_t)rng_next(&seed);
        uint16_t upd = cksum_update32(get_be16(hdr + 10), old_val, new_val);
        put_be32(hdr + off, new_val);
        put_be16(hdr + 10, 0);
        mismatches += upd != cksum(hdr, sizeof(hdr));
    }
    CHECK_EQ(mismatches, 0);
}
