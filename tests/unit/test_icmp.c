/*
 * ICMP: echo replies byte for byte, drops, the errors we send and when we
 * must not send them, the rate limit in virtual time, and the ping API.
 */
#include <errno.h>

#include "core/stack.h"
#include "ip_fixture.h"
#include "net/icmp.h"
#include "net/ipv4.h"

static uint64_t rng_state = 792;

static uint8_t rnd8(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint8_t)(rng_state >> 24);
}

/* Check that out/m is a byte-exact echo reply to the request frame req/n
 * (whose IP header is 20 bytes). */
static void check_echo_reply(const uint8_t *out, size_t m, const uint8_t *req,
                             size_t n, int line)
{
    if (!fx_is_ip(out, m, 1, FX_ADDR, FX_PEER) || m != n) {
        test_fail(__FILE__, line, "reply of %zu bytes is not a %zu-byte ICMP packet", m, n);
        return;
    }
    const uint8_t *icmp = out + 20;
    if (icmp[0] != 0 || icmp[1] != 0)
        test_fail(__FILE__, line, "type %u code %u, want 0 0", icmp[0], icmp[1]);
    if (cksum_finish(cksum_add(0, icmp, m - 20)) != 0)
        test_fail(__FILE__, line, "bad ICMP checksum in reply");
    /* Identifier, sequence number and data unchanged. */
    if (memcmp(icmp + 4, req + 24, n - 24) != 0)
        test_fail(__FILE__, line, "id, seq or data differ");
}

TEST(icmp_echo_every_size_byte_exact)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    static uint8_t data[FX_MTU], req[FX_MTU], out[FX_MTU];
    for (size_t len = 0; len <= FX_MTU - 28; len++) {
        for (size_t i = 0; i < len; i++)
            data[i] = rnd8();
        uint16_t id = (uint16_t)(rnd8() << 8 | rnd8());
        size_t n = fx_build_echo(req, FX_PEER, FX_ADDR, id, (uint16_t)len, data, len);
        fx_input(&fx, req, n);
        size_t m = fx_sent(&fx, out, sizeof(out));
        check_echo_reply(out, m, req, n, __LINE__);
        if (test_failed()) {
            printf("    first failure at payload size %zu\n", len);
            break;
        }
    }
    CHECK_EQ(fx.st->stats.icmp_tx_echo_reply, FX_MTU - 28 + 1);
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

/* An echo request whose ICMP checksum field ends up as `want`: two data
 * bytes are chosen to make it so. */
static size_t echo_with_checksum(uint8_t *req, uint16_t want)
{
    uint8_t data[16];
    for (int i = 0; i < 14; i++)
        data[i] = rnd8();
    put_be16(data + 14, 0);
    uint8_t icmp[32];
    size_t len = fx_build_icmp(icmp, 8, 0, 0x01020304, data, sizeof(data));
    /* Adding d to the data sum lowers the checksum by d (one's
     * complement), so d = current - want. */
    uint16_t cur = get_be16(icmp + 2);
    uint16_t target = want == 0xffff ? 0 : want;
    uint32_t d = (uint32_t)cur + (uint16_t)~target;
    d = (d & 0xffff) + (d >> 16);
    put_be16(data + 14, (uint16_t)d);
    len = fx_build_icmp(icmp, 8, 0, 0x01020304, data, sizeof(data));
    /* A checksum of 0x0000 may also be sent as 0xffff ("-0"): both
     * verify, and a receiver must accept either. */
    if (want == 0xffff)
        put_be16(icmp + 2, 0xffff);
    return fx_build_ip(req, FX_PEER, FX_ADDR, 1, icmp, len);
}

TEST(icmp_echo_reply_checksum_corners)
{
    /* The reply's checksum is patched incrementally (RFC 1624): check the
     * cases where the result is 0x0000, and where the request's is. */
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint16_t wants[] = {0xf800, 0x0000, 0xffff, 0xf7ff, 0x0800, 0x1234};
    uint8_t req[64], out[FX_MTU];
    for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
        size_t n = echo_with_checksum(req, wants[i]);
        CHECK_EQ(get_be16(req + 22), wants[i]);
        fx_input(&fx, req, n);
        size_t m = fx_sent(&fx, out, sizeof(out));
        check_echo_reply(out, m, req, n, __LINE__);
        /* Must equal a full recomputation (no 0xffff for 0x0000). */
        uint16_t got = get_be16(out + 22);
        put_be16(out + 22, 0);
        CHECK_EQ(got, cksum_finish(cksum_add(0, out + 20, m - 20)));
    }
    fx_close(&fx);
}

TEST(icmp_echo_with_nonzero_code)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t icmp[40], req[64], out[FX_MTU];
    size_t len = fx_build_icmp(icmp, 8, 7, 0xabcd0001, "hello", 5);
    size_t n = fx_build_ip(req, FX_PEER, FX_ADDR, 1, icmp, len);
    fx_input(&fx, req, n);
    check_echo_reply(out, fx_sent(&fx, out, sizeof(out)), req, n, __LINE__);
    fx_close(&fx);
}

TEST(icmp_drops_bad_checksum)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t req[100];
    size_t n = fx_build_echo(req, FX_PEER, FX_ADDR, 1, 2, "abcdefgh", 8);
    req[n - 1] ^= 0x10; /* data changed, checksum not */
    fx_snapshot(&fx);
    fx_input(&fx, req, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "icmp.rx", "icmp.drop_bad_checksum");
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

TEST(icmp_drops_truncated)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t icmp[8], req[64];
    fx_build_icmp(icmp, 8, 0, 0x00010001, NULL, 0);
    for (size_t len = 0; len < 8; len++) {
        size_t n = fx_build_ip(req, FX_PEER, FX_ADDR, 1, icmp, len);
        fx_snapshot(&fx);
        fx_input(&fx, req, n);
        FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "icmp.rx", "icmp.drop_truncated");
        CHECK_EQ(fx_pending(&fx), 0);
    }
    fx_close(&fx);
}

TEST(icmp_unknown_types_counted)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t types[] = {4, 5, 13, 15, 17, 42, 255};
    uint8_t icmp[64], req[100];
    for (size_t i = 0; i < sizeof(types); i++) {
        size_t len = fx_build_icmp(icmp, types[i], 0, 0, "12345678", 8);
        size_t n = fx_build_ip(req, FX_PEER, FX_ADDR, 1, icmp, len);
        fx_snapshot(&fx);
        fx_input(&fx, req, n);
        FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "icmp.rx", "icmp.drop_unknown_type");
        CHECK_EQ(fx_pending(&fx), 0);
    }
    fx_close(&fx);
}

TEST(icmp_broadcast_echo_ignored)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t req[100];
    size_t n = fx_build_echo(req, FX_PEER, 0xffffffffu, 1, 1, "x", 1);
    fx_snapshot(&fx);
    fx_input(&fx, req, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "icmp.rx", "icmp.rx_echo_request",
                   "icmp.drop_broadcast_echo");
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

/* An ICMP error of `type` from the peer, quoting `qlen` bytes of a UDP
 * packet we supposedly sent. */
static size_t error_from_peer(uint8_t *frame, uint8_t type, size_t qlen)
{
    uint8_t quoted[64], icmp[100];
    uint8_t udp[8] = {0x30, 0x39, 0x00, 0x35, 0x00, 0x08, 0, 0};
    fx_build_ip(quoted, FX_ADDR, FX_PEER, 17, udp, sizeof(udp));
    size_t len = fx_build_icmp(icmp, type, 3, 0, quoted, qlen);
    return fx_build_ip(frame, FX_PEER, FX_ADDR, 1, icmp, len);
}

TEST(icmp_received_errors_counted)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    struct { uint8_t type; const char *counter; } kinds[] = {
        {3, "icmp.rx_dest_unreach"}, {11, "icmp.rx_time_exceeded"}, {12, "icmp.rx_param_problem"},
    };
    uint8_t frame[200];
    for (int i = 0; i < 3; i++) {
        /* A proper quote: IP header + 8 bytes. */
        size_t n = error_from_peer(frame, kinds[i].type, 28);
        fx_snapshot(&fx);
        fx_input(&fx, frame, n);
        /* The quoted datagram is UDP's, which has no socket for it. */
        FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "icmp.rx", kinds[i].counter,
                       "udp.icmp_errors_unmatched");
        /* A quote too short to name the transport's ports. */
        n = error_from_peer(frame, kinds[i].type, 27);
        fx_snapshot(&fx);
        fx_input(&fx, frame, n);
        FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "icmp.rx", kinds[i].counter,
                       "icmp.drop_bad_quote");
        CHECK_EQ(fx_pending(&fx), 0); /* never an error about an error */
    }
    fx_close(&fx);
}

static int replies_seen;
static struct {
    uint32_t from;
    uint16_t id, seq;
    uint8_t data[64];
    size_t len;
    uint64_t now;
} last_reply;

static void on_reply(void *ctx, uint32_t from, uint16_t id, uint16_t seq,
                     const void *data, size_t len, uint64_t now)
{
    (void)ctx;
    replies_seen++;
    last_reply.from = from;
    last_reply.id = id;
    last_reply.seq = seq;
    last_reply.len = len;
    last_reply.now = now;
    memcpy(last_reply.data, data, len < 64 ? len : 64);
}

TEST(icmp_echo_reply_reaches_handler)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t icmp[64], frame[100];
    size_t len = fx_build_icmp(icmp, 0, 0, 0xbeef0007, "pong!", 5);
    size_t n = fx_build_ip(frame, FX_PEER, FX_ADDR, 1, icmp, len);
    /* Without a handler it is only counted. */
    replies_seen = 0;
    fx_input(&fx, frame, n);
    CHECK_EQ(replies_seen, 0);
    CHECK_EQ(fx.st->stats.icmp_rx_echo_reply, 1);
    ustack_set_echo_reply_handler(fx.st, on_reply, NULL);
    fx.now += 5000;
    fx_input(&fx, frame, n);
    CHECK_EQ(replies_seen, 1);
    CHECK_EQ(last_reply.from, FX_PEER);
    CHECK_EQ(last_reply.id, 0xbeef);
    CHECK_EQ(last_reply.seq, 7);
    CHECK_EQ(last_reply.len, 5);
    CHECK_MEM(last_reply.data, "pong!", 5);
    CHECK_EQ(last_reply.now, fx.now);
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

TEST(icmp_ping_send_builds_request)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t out[FX_MTU];
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 0x1234, 0x5678, "abc", 3), 0);
    size_t m = fx_sent(&fx, out, sizeof(out));
    REQUIRE(fx_is_ip(out, m, 1, FX_ADDR, FX_PEER));
    CHECK_EQ(m, 20 + 8 + 3);
    CHECK_EQ(out[20], 8);
    CHECK_EQ(out[21], 0);
    CHECK_EQ(get_be16(out + 24), 0x1234);
    CHECK_EQ(get_be16(out + 26), 0x5678);
    CHECK_MEM(out + 28, "abc", 3);
    CHECK_EQ(cksum_finish(cksum_add(0, out + 20, m - 20)), 0);
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 1, 1, NULL, 0), 0);
    CHECK_EQ(fx_sent(&fx, out, sizeof(out)), 28);
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 1, 1, NULL, 1), -EINVAL);
    fx_close(&fx);
}

/* An unknown-protocol packet of `plen` payload bytes from src to dst. */
static size_t unknown_proto(uint8_t *frame, uint32_t src, uint32_t dst, size_t plen)
{
    uint8_t payload[FX_MTU];
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)i;
    return fx_build_ip(frame, src, dst, 143, payload, plen);
}

TEST(icmp_error_rate_limit_virtual_time)
{
    /* Defaults: a burst of 10, then 100 per second. */
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t frame[100], out[FX_MTU];
    size_t n = unknown_proto(frame, FX_PEER, FX_ADDR, 4);
    for (int i = 0; i < 25; i++)
        fx_input(&fx, frame, n);
    CHECK_EQ(fx.st->stats.icmp_tx_dest_unreach, 10);
    CHECK_EQ(fx.st->stats.icmp_rate_limited, 15);
    CHECK_EQ(fx.st->stats.ip_drop_unknown_protocol, 25);
    /* 10 ms later there is exactly one new token. */
    fx.now += 10000;
    fx_input(&fx, frame, n);
    fx_input(&fx, frame, n);
    CHECK_EQ(fx.st->stats.icmp_tx_dest_unreach, 11);
    CHECK_EQ(fx.st->stats.icmp_rate_limited, 16);
    /* After a long pause the bucket is full again, but holds no more
     * than the burst. */
    fx.now += 60 * 1000000ull;
    for (int i = 0; i < 25; i++)
        fx_input(&fx, frame, n);
    CHECK_EQ(fx.st->stats.icmp_tx_dest_unreach, 21);
    CHECK_EQ(fx.st->stats.icmp_rate_limited, 31);
    unsigned sent = 0;
    while (fx_sent(&fx, out, sizeof(out)))
        sent++;
    CHECK_EQ(sent, 21);
    fx_close(&fx);
}

TEST(icmp_error_quotes_up_to_576_bytes)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t frame[FX_MTU], out[FX_MTU];
    size_t n = unknown_proto(frame, FX_PEER, FX_ADDR, 1400);
    fx_input(&fx, frame, n);
    size_t m = fx_sent(&fx, out, sizeof(out));
    REQUIRE(fx_is_ip(out, m, 1, FX_ADDR, FX_PEER));
    CHECK_EQ(m, 576);
    CHECK_MEM(out + 28, frame, 576 - 28);
    CHECK_EQ(cksum_finish(cksum_add(0, out + 20, m - 20)), 0);
    fx_close(&fx);
    /* On a link with a smaller MTU the error shrinks to fit. */
    REQUIRE(fx_open(&fx, 300));
    n = unknown_proto(frame, FX_PEER, FX_ADDR, 280);
    fx_input(&fx, frame, n);
    m = fx_sent(&fx, out, sizeof(out));
    REQUIRE(fx_is_ip(out, m, 1, FX_ADDR, FX_PEER));
    CHECK_EQ(m, 300);
    CHECK_MEM(out + 28, frame, 300 - 28);
    fx_close(&fx);
}

TEST(icmp_no_error_about_broadcast)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t frame[100];
    uint32_t dsts[] = {0xffffffffu, 0x0a0000ffu};
    for (int i = 0; i < 2; i++) {
        size_t n = unknown_proto(frame, FX_PEER, dsts[i], 8);
        fx_snapshot(&fx);
        fx_input(&fx, frame, n);
        FX_CHECK_MOVED(&fx, "ip.rx", "ip.drop_unknown_protocol", "icmp.error_not_allowed");
        CHECK_EQ(fx_pending(&fx), 0);
    }
    fx_close(&fx);
}

/* icmp4_send_error is also called by transports (port unreachable), so
 * its own rules are tested directly with hand-made packets. */
static struct ip4_rx make_rx(const uint8_t *frame, size_t n)
{
    struct ip4_rx rx;
    memset(&rx, 0, sizeof(rx));
    rx.hdr = frame;
    rx.hdr_len = 20;
    rx.payload = frame + 20;
    rx.payload_len = n - 20;
    rx.proto = frame[9];
    rx.src = get_be32(frame + 12);
    rx.dst = get_be32(frame + 16);
    rx.frag = get_be16(frame + 6);
    return rx;
}

static bool error_sent_for(struct ip_fixture *fx, struct ip4_rx *rx)
{
    uint8_t out[FX_MTU];
    icmp4_send_error(fx->st, rx, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0);
    return fx_sent(fx, out, sizeof(out)) > 0;
}

TEST(icmp_no_error_about_icmp_error)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t icmp[64], frame[100];
    /* Errors (and unknown types, to be safe) never get an error... */
    uint8_t error_types[] = {3, 4, 5, 11, 12, 42};
    for (size_t i = 0; i < sizeof(error_types); i++) {
        size_t n = fx_build_ip(frame, FX_PEER, FX_ADDR, 1, icmp,
                               fx_build_icmp(icmp, error_types[i], 0, 0, "12345678", 8));
        struct ip4_rx rx = make_rx(frame, n);
        fx_snapshot(&fx);
        CHECK(!error_sent_for(&fx, &rx));
        FX_CHECK_MOVED(&fx, "icmp.error_not_allowed");
    }
    /* ...but a query may get one. */
    size_t n = fx_build_ip(frame, FX_PEER, FX_ADDR, 1, icmp,
                           fx_build_icmp(icmp, 8, 0, 0, "12345678", 8));
    struct ip4_rx rx = make_rx(frame, n);
    CHECK(error_sent_for(&fx, &rx));
    fx_close(&fx);
}

TEST(icmp_no_error_about_fragment_or_bad_source)
{
    struct ip_fixture fx;
    REQUIRE(fx_open(&fx, FX_MTU));
    uint8_t frame[100];
    size_t n = unknown_proto(frame, FX_PEER, FX_ADDR, 16);
    struct ip4_rx rx = make_rx(frame, n);
    rx.frag = 3; /* a later fragment */
    CHECK(!error_sent_for(&fx, &rx));
    rx.frag = IP4_FRAG_MF; /* the first fragment may get one */
    CHECK(error_sent_for(&fx, &rx));
    rx.frag = 0;
    uint32_t bad_src[] = {0, 0x7f000001u, 0xe0000001u, 0xffffffffu, 0x0a0000ffu, 0xf0000001u};
    for (size_t i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
        rx.src = bad_src[i];
        CHECK(!error_sent_for(&fx, &rx));
    }
    rx.src = FX_PEER;
    rx.dst = 0xe0000001u; /* multicast destination */
    CHECK(!error_sent_for(&fx, &rx));
    CHECK_EQ(fx.st->stats.icmp_error_not_allowed, 8);
    CHECK_EQ(fx.st->stats.icmp_tx_dest_unreach, 1);
    fx_close(&fx);
}
