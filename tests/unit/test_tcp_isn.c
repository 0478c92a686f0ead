/*
 * SipHash-2-4, initial sequence numbers (RFC 6528) and SYN cookies
 * (RFC 4987 §3.6).
 */
#include <errno.h>
#include <string.h>

#include "core/siphash.h"
#include "core/stack.h"
#include "tcp/tcp_int.h"
#include "test.h"

/* Test vectors of the SipHash paper (appendix A) and reference code:
 * key 00 01 .. 0f, message 00 01 .. (len-1). */
TEST(tcp_siphash_reference_vectors)
{
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    struct siphash_key k = siphash_key_from_bytes(key);
    CHECK_EQ(siphash24(&k, msg, 0), 0x726fdb47dd0e0e31ull);
    CHECK_EQ(siphash24(&k, msg, 15), 0xa129ca6149be45e5ull);
}

static struct tcp_state *fake_tcp(uint8_t fill)
{
    static struct tcp_state t;
    uint8_t key[16];
    memset(key, fill, sizeof(key));
    memset(&t, 0, sizeof(t));
    t.isn_key = siphash_key_from_bytes(key);
    key[0] ^= 0x55;
    t.cookie_key = siphash_key_from_bytes(key);
    return &t;
}

TEST(tcp_isn_depends_on_tuple_and_secret)
{
    struct tcp_state *t = fake_tcp(7);
    uint32_t a = tcp_isn(t, 0x0a000001, 1000, 0x0a000002, 80, 0);
    CHECK(a != tcp_isn(t, 0x0a000001, 1001, 0x0a000002, 80, 0));
    CHECK(a != tcp_isn(t, 0x0a000001, 1000, 0x0a000003, 80, 0));
    CHECK(a != tcp_isn(t, 0x0a000001, 1000, 0x0a000002, 81, 0));
    CHECK_EQ(a, tcp_isn(t, 0x0a000001, 1000, 0x0a000002, 80, 0));
    t = fake_tcp(8);
    CHECK(a != tcp_isn(t, 0x0a000001, 1000, 0x0a000002, 80, 0));
}

/* The clock part: 1 per 4 microseconds, so one four-tuple's ISNs
 * increase with time (RFC 6528 §3: M is a 4 µs timer). */
TEST(tcp_isn_clock_component)
{
    struct tcp_state *t = fake_tcp(9);
    uint32_t base = tcp_isn(t, 1, 2, 3, 4, 1000000);
    CHECK_EQ(tcp_isn(t, 1, 2, 3, 4, 1000004), base + 1);
    CHECK_EQ(tcp_isn(t, 1, 2, 3, 4, 1000000 + 4000000), base + 1000000);
}

TEST(tcp_isn_never_zero)
{
    struct tcp_state *t = fake_tcp(10);
    uint32_t f = tcp_isn(t, 1, 2, 3, 4, 0); /* M = 0: F itself */
    REQUIRE(f != 1); /* (astronomically unlikely; keeps the test exact) */
    /* At now = (2^32 - F) * 4 microseconds, M + F = 2^32 = 0. */
    uint64_t now = ((1ull << 32) - f) * 4;
    CHECK_EQ(tcp_isn(t, 1, 2, 3, 4, now), 1);
    CHECK_EQ(tcp_isn(t, 1, 2, 3, 4, now + 4), 1);
}

static struct tcp_seg syn_from(uint32_t src, uint16_t sport, uint32_t seq)
{
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.src = src;
    s.dst = 0x0a000002;
    s.sport = sport;
    s.dport = 80;
    s.seq = seq;
    s.flags = TCP_SYN;
    return s;
}

/* The ACK a client sends back for a SYN-ACK with ISS = cookie. */
static struct tcp_seg ack_for(struct tcp_seg syn, uint32_t cookie)
{
    syn.flags = TCP_ACK;
    syn.seq += 1;
    syn.ack = cookie + 1;
    return syn;
}

TEST(tcp_syncookie_round_trip)
{
    struct tcp_state *t = fake_tcp(11);
    const uint64_t now = 1000ull * 1000000;
    struct tcp_seg syn = syn_from(0x0a000001, 40000, 0xfffffffeu);
    uint16_t mss = 0, back = 0;
    uint32_t cookie = syncookie_make(t, &syn, 1460, now, &mss);
    CHECK_EQ(mss, 1460);
    struct tcp_seg ack = ack_for(syn, cookie);
    CHECK(syncookie_check(t, &ack, now + 1000, &back));
    CHECK_EQ(back, 1460);
    /* Still valid one period later, not two periods later. */
    CHECK(syncookie_check(t, &ack, now + 64ull * 1000000, &back));
    CHECK(!syncookie_check(t, &ack, now + 129ull * 1000000, &back));
    /* Nor from the past. */
    CHECK(!syncookie_check(t, &ack, now - 65ull * 1000000, &back));
}

TEST(tcp_syncookie_bound_to_tuple_and_isn)
{
    struct tcp_state *t = fake_tcp(12);
    const uint64_t now = 5000ull * 1000000;
    struct tcp_seg syn = syn_from(0x0a000001, 40000, 777);
    uint16_t mss, back;
    uint32_t cookie = syncookie_make(t, &syn, 1460, now, &mss);
    struct tcp_seg ack = ack_for(syn, cookie);
    ack.sport++;
    CHECK(!syncookie_check(t, &ack, now, &back));
    ack = ack_for(syn, cookie);
    ack.src++;
    CHECK(!syncookie_check(t, &ack, now, &back));
    ack = ack_for(syn, cookie);
    ack.seq++; /* not the ISN the cookie was made for */
    CHECK(!syncookie_check(t, &ack, now, &back));
    ack = ack_for(syn, cookie + 1);
    CHECK(!syncookie_check(t, &ack, now, &back));
    ack = ack_for(syn, cookie ^ (1u << 24)); /* another MSS index */
    CHECK(!syncookie_check(t, &ack, now, &back));
}

TEST(tcp_syncookie_mss_table)
{
    struct tcp_state *t = fake_tcp(13);
    struct tcp_seg syn = syn_from(1, 2, 3);
    uint16_t mss;
    syncookie_make(t, &syn, 536, 0, &mss);
    CHECK_EQ(mss, 536);
    syncookie_make(t, &syn, 1459, 0, &mss);
    CHECK_EQ(mss, 1440); /* never more than the peer's */
    syncookie_make(t, &syn, 65535, 0, &mss);
    CHECK_EQ(mss, 8960);
    syncookie_make(t, &syn, 100, 0, &mss);
    CHECK_EQ(mss, TCP_MIN_MSS);
}

/* The test hook fixes the ISS of the next connection, once. */
TEST(tcp_isn_debug_hook)
{
    struct ustack_link *a, *b;
    REQUIRE(ustack_memlink_pair(USTACK_LINK_IP, 1500, 64, &a, &b) == 0);
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = 0x0a000001;
    struct ustack *st = ustack_new(&cfg, a, 0);
    REQUIRE(st);
    tcp_debug_set_next_iss(st, 0xfffffff0u);
    struct tcp_conn *c1 = tcp_conn_create(st), *c2 = tcp_conn_create(st);
    REQUIRE(c1 && c2);
    CHECK_EQ(tcp_connect(st, c1, 0x0a000002, 80), -EINPROGRESS);
    CHECK_EQ(tcp_connect(st, c2, 0x0a000002, 80), -EINPROGRESS);
    CHECK_EQ(c1->snd.iss, 0xfffffff0u);
    CHECK_EQ(c1->snd.nxt, 0xfffffff1u);
    CHECK(c2->snd.iss != 0xfffffff0u);
    CHECK(c1->local_port != c2->local_port);
    tcp_close(st, c1);
    tcp_close(st, c2);
    ustack_free(st);
    ustack_link_close(a);
    ustack_link_close(b);
}
