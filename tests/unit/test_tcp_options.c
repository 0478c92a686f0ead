/*
 * TCP option parsing and writing (src/tcp/tcp_options.c), and the MSS rules
 * of RFC 9293 §3.7.1.
 */
#include <string.h>

#include "core/stack.h"
#include "tcp/tcp_int.h"
#include "test.h"

static bool parse(const uint8_t *p, size_t len, struct tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    return tcp_parse_options(p, len, o);
}

TEST(tcp_options_mss)
{
    const uint8_t p[] = {2, 4, 0x05, 0xb4};
    struct tcp_opts o;
    CHECK(parse(p, sizeof(p), &o));
    CHECK(o.has_mss);
    CHECK_EQ(o.mss, 1460);
}

TEST(tcp_options_nop_known_and_eol)
{
    /* NOP, NOP, SACK-permitted (4,2), timestamps (8,10), window scale
     * (3,3), MSS, EOL, then garbage that must not be read. */
    const uint8_t p[] = {1, 1, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 3, 3, 7,
                         2, 4, 0x02, 0x18, 0, 2, 0};
    struct tcp_opts o;
    CHECK(parse(p, sizeof(p), &o));
    CHECK(o.has_mss);
    CHECK_EQ(o.mss, 536);
    CHECK(o.sack_permitted);
    CHECK(o.has_ts);
    CHECK_EQ(o.tsval, 0x01020304);
    CHECK_EQ(o.tsecr, 0x05060708);
    CHECK(o.has_wscale);
    CHECK_EQ(o.wscale, 7);
}

/* A shift above 14 is kept as sent: input clamps it (and counts). */
TEST(tcp_options_wscale_raw_value)
{
    const uint8_t p[] = {1, 3, 3, 200};
    struct tcp_opts o;
    CHECK(parse(p, sizeof(p), &o));
    CHECK(o.has_wscale);
    CHECK_EQ(o.wscale, 200);
}

/* Known kinds with the wrong length are ignored like unknown ones. */
TEST(tcp_options_wrong_lengths_ignored)
{
    const uint8_t p[] = {3, 4, 7, 0,                      /* wscale, len 4 */
                         4, 3, 0,                         /* sackOK, len 3 */
                         8, 9, 0, 0, 0, 1, 0, 0, 0,       /* ts, len 9 */
                         5, 9, 0, 0, 0, 1, 0, 0, 0,       /* sack, len 9 */
                         5, 2};                           /* sack, no block */
    struct tcp_opts o;
    CHECK(parse(p, sizeof(p), &o));
    CHECK(!o.has_wscale);
    CHECK(!o.sack_permitted);
    CHECK(!o.has_ts);
    CHECK_EQ(o.sack_count, 0);
}

TEST(tcp_options_sack_blocks)
{
    uint8_t p[40] = {1, 1, 5, 2 + 4 * 8};
    for (unsigned i = 0; i < 8; i++) {
        uint32_t v = 0x10000000u * (i + 1) + i;
        p[4 + 4 * i] = (uint8_t)(v >> 24);
        p[5 + 4 * i] = (uint8_t)(v >> 16);
        p[6 + 4 * i] = (uint8_t)(v >> 8);
        p[7 + 4 * i] = (uint8_t)v;
    }
    struct tcp_opts o;
    CHECK(parse(p, 36, &o));
    CHECK_EQ(o.sack_count, 4);
    CHECK_EQ(o.sack[0].start, 0x10000000u);
    CHECK_EQ(o.sack[0].end, 0x20000001u);
    CHECK_EQ(o.sack[3].start, 0x70000006u);
    CHECK_EQ(o.sack[3].end, 0x80000007u);
    /* One block. */
    const uint8_t one[] = {5, 10, 0, 0, 0, 10, 0, 0, 0, 20};
    CHECK(parse(one, sizeof(one), &o));
    CHECK_EQ(o.sack_count, 1);
    CHECK_EQ(o.sack[0].start, 10);
    CHECK_EQ(o.sack[0].end, 20);
}

TEST(tcp_options_empty)
{
    struct tcp_opts o;
    CHECK(parse(NULL, 0, &o));
    CHECK(!o.has_mss);
}

TEST(tcp_options_malformed_length_zero)
{
    const uint8_t p[] = {2, 4, 0x01, 0x00, 99, 0, 1, 1};
    struct tcp_opts o;
    CHECK(!parse(p, sizeof(p), &o));
    CHECK(o.has_mss); /* what came before the bad option is kept */
    CHECK_EQ(o.mss, 256);
}

TEST(tcp_options_malformed_length_one)
{
    const uint8_t p[] = {1, 5, 1, 1};
    struct tcp_opts o;
    CHECK(!parse(p, sizeof(p), &o));
}

TEST(tcp_options_malformed_overrun)
{
    const uint8_t p[] = {1, 2, 4, 0x05}; /* MSS claims 4 bytes, 3 remain */
    struct tcp_opts o;
    CHECK(!parse(p, sizeof(p), &o));
    CHECK(!o.has_mss);
    const uint8_t q[] = {1, 1, 1, 2}; /* a kind with no room for its length */
    CHECK(!parse(q, sizeof(q), &o));
}

TEST(tcp_options_mss_wrong_length_ignored)
{
    const uint8_t p[] = {2, 3, 0x05, 1, 1, 1}; /* MSS with length 3 */
    struct tcp_opts o;
    CHECK(parse(p, sizeof(p), &o));
    CHECK(!o.has_mss);
}

/* RFC 9293 §3.2's rules for a short list, written as a recursion over
 * its first option: End of Option List ends it, a NOP is one byte, any
 * other kind needs a length byte of at least 2 that stays in the list. */
static bool short_list_well_formed(const uint8_t *p, size_t len)
{
    if (len == 0 || p[0] == 0)
        return true;
    if (p[0] == 1)
        return short_list_well_formed(p + 1, len - 1);
    if (len < 2 || p[1] < 2 || p[1] > len)
        return false;
    return short_list_well_formed(p + p[1], len - p[1]);
}

/* Every option list of up to 3 bytes, exhaustively: parsing never reads
 * past the end (ASan would see it), never loops, and calls malformed
 * exactly the lists whose length byte is below 2 or runs past the end. */
TEST(tcp_options_exhaustive_short_lists)
{
    uint8_t buf[3];
    struct tcp_opts o;
    unsigned wrong = 0, malformed = 0;
    for (unsigned v = 0; v < (1u << 24); v += 7) {
        buf[0] = (uint8_t)v;
        buf[1] = (uint8_t)(v >> 8);
        buf[2] = (uint8_t)(v >> 16);
        for (size_t len = 0; len <= 3; len++) {
            uint8_t *copy = len ? buf : NULL;
            bool ok = parse(copy, len, &o);
            wrong += ok != short_list_well_formed(buf, len);
            malformed += !ok;
        }
    }
    CHECK_EQ(wrong, 0);
    CHECK(malformed > 0); /* the loop did reach bad lists */
}

TEST(tcp_options_write_syn_round_trip)
{
    uint8_t p[40];
    struct tcp_syn_options so = {.mss = 1460};
    size_t len = tcp_write_syn_options(p, &so);
    CHECK_EQ(len, 4);
    struct tcp_opts o;
    CHECK(parse(p, len, &o));
    CHECK(o.has_mss);
    CHECK_EQ(o.mss, 1460);
    CHECK(!o.has_wscale && !o.sack_permitted && !o.has_ts);
}

/* Everything: MSS, SACK-permitted, timestamps, NOP, window scale - 20
 * bytes, the layout Linux and the BSDs use. */
TEST(tcp_options_write_syn_all)
{
    uint8_t p[40];
    struct tcp_syn_options so = {.mss = 1460, .wscale = true, .shift = 9,
                                 .sack = true, .ts = true,
                                 .tsval = 0xa1b2c3d4, .tsecr = 0x01020304};
    size_t len = tcp_write_syn_options(p, &so);
    const uint8_t want[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0xa1, 0xb2,
                            0xc3, 0xd4, 1, 2, 3, 4, 1, 3, 3, 9};
    CHECK_EQ(len, sizeof(want));
    CHECK_MEM(p, want, sizeof(want));
    struct tcp_opts o;
    CHECK(parse(p, len, &o));
    CHECK(o.has_wscale && o.wscale == 9 && o.sack_permitted && o.has_ts);
}

/* Each option alone stays 32-bit aligned with NOPs. */
TEST(tcp_options_write_syn_each_alone)
{
    uint8_t p[40];
    struct tcp_syn_options ws = {.mss = 1000, .wscale = true, .shift = 0};
    const uint8_t want_ws[] = {2, 4, 0x03, 0xe8, 1, 3, 3, 0};
    CHECK_EQ(tcp_write_syn_options(p, &ws), sizeof(want_ws));
    CHECK_MEM(p, want_ws, sizeof(want_ws));
    struct tcp_syn_options sack = {.mss = 1000, .sack = true};
    const uint8_t want_sack[] = {2, 4, 0x03, 0xe8, 1, 1, 4, 2};
    CHECK_EQ(tcp_write_syn_options(p, &sack), sizeof(want_sack));
    CHECK_MEM(p, want_sack, sizeof(want_sack));
    struct tcp_syn_options ts = {.mss = 1000, .ts = true, .tsval = 5};
    const uint8_t want_ts[] = {2, 4, 0x03, 0xe8, 1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0};
    CHECK_EQ(tcp_write_syn_options(p, &ts), sizeof(want_ts));
    CHECK_MEM(p, want_ts, sizeof(want_ts));
}

/* RFC 9293 §3.7.1: without the option the send MSS is 536; with it, the
 * smaller of the peer's and ours (link MTU - 40). */
TEST(tcp_options_effective_mss)
{
    struct ustack_link link = {.mtu = 1500};
    struct ustack st;
    memset(&st, 0, sizeof(st));
    st.link = &link;
    struct tcp_opts none = {0};
    CHECK_EQ(tcp_local_mss(&st), 1460);
    CHECK_EQ(tcp_effective_mss(&st, &none), 536);
    struct tcp_opts big = {.has_mss = true, .mss = 9000};
    CHECK_EQ(tcp_effective_mss(&st, &big), 1460);
    struct tcp_opts small = {.has_mss = true, .mss = 1000};
    CHECK_EQ(tcp_effective_mss(&st, &small), 1000);
    struct tcp_opts tiny = {.has_mss = true, .mss = 1};
    CHECK_EQ(tcp_effective_mss(&st, &tiny), TCP_MIN_MSS);
    link.mtu = 9000;
    CHECK_EQ(tcp_effective_mss(&st, &big), 8960);
}
