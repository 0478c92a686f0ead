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

TEST(tcp_options_nop_unknown_and_eol)
{
    /* NOP, NOP, SACK-permitted (4,2), timestamps (8,10), window scale
     * (3,3), MSS, EOL, then garbage that must not be read. */
    const uint8_t p[] = {1, 1, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 3, 3, 7,
                         2, 4, 0x02, 0x18, 0, 2, 0};
    struct tcp_opts o;
    CHECK(parse(p, sizeof(p), &o));
    CHECK(o.has_mss);
    CHECK_EQ(o.mss, 536);
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

/* Every option list of up to 3 bytes, exhaustively: parsing never reads
 * past the end (ASan would see it) and never loops. */
TEST(tcp_options_exhaustive_short_lists)
{
    uint8_t buf[3];
    struct tcp_opts o;
    for (unsigned v = 0; v < (1u << 24); v += 7) {
        buf[0] = (uint8_t)v;
        buf[1] = (uint8_t)(v >> 8);
        buf[2] = (uint8_t)(v >> 16);
        for (size_t len = 0; len <= 3; len++) {
            uint8_t *copy = len ? buf : NULL;
            parse(copy, len, &o);
        }
    }
    CHECK(true);
}

TEST(tcp_options_write_syn_round_trip)
{
    uint8_t p[40];
    size_t len = tcp_write_syn_options(p, 1460);
    CHECK_EQ(len % 4, 0);
    struct tcp_opts o;
    CHECK(parse(p, len, &o));
    CHECK(o.has_mss);
    CHECK_EQ(o.mss, 1460);
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
