/*
 * UDP (RFC 768, RFC 1122 §4.1) through the event API.
 *
 * The stack under test is 10.0.0.1/24 on one end of a memlink (see
 * ip_fixture.h); the test plays 10.0.0.2 on the other end, building UDP
 * frames by hand and reading what the stack sends. A last test runs the
 * blocking API across threads between two stacks.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ip_fixture.h"
#include "ustack/bsd.h"
#include "ustack/socket.h"

#define UT_PROTO 17
#define UT_OTHER 0x0a000003u      /* 10.0.0.3: another host on the subnet */
#define UT_BCAST 0x0a0000ffu      /* 10.0.0.255: the subnet's broadcast */
#define UT_LIMITED 0xffffffffu    /* 255.255.255.255 */
#define UT_PORT 5000
#define UT_PEER_PORT 7000

/* ---- helpers ------------------------------------------------------------- */

static bool ut_open_cfg(struct ip_fixture *fx, unsigned rcvq_datagrams)
{
    memset(fx, 0, sizeof(*fx));
    if (ustack_memlink_pair(USTACK_LINK_IP, FX_MTU, 64, &fx->ours, &fx->peer) != 0)
        return false;
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = FX_ADDR;
    cfg.netmask = FX_MASK;
    cfg.has_secret = true;
    memset(cfg.secret, 0x5a, sizeof(cfg.secret));
    if (rcvq_datagrams)
        cfg.udp.rcvq_datagrams = rcvq_datagrams;
    fx->now = 1000000;
    fx->st = ustack_new(&cfg, fx->ours, fx->now);
    return fx->st != NULL;
}

static bool ut_open(struct ip_fixture *fx)
{
    return ut_open_cfg(fx, 0);
}

static struct sockaddr_in ut_sin(uint32_t addr, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(addr);
    sin.sin_port = htons(port);
    return sin;
}

#define SA(sin) ((const struct sockaddr *)&(sin))

/* A UDP socket bound to addr:port (addr 0 = any). */
static int ut_bound(struct ip_fixture *fx, uint32_t addr, uint16_t port)
{
    int sd = ustack_socket(fx->st, USTACK_SOCK_DGRAM);
    if (sd < 0)
        return sd;
    struct sockaddr_in sin = ut_sin(addr, port);
    int rc = ustack_bind(fx->st, sd, SA(sin), sizeof(sin));
    return rc < 0 ? rc : sd;
}

/* The UDP checksum over pseudo-header, header and data, as it should be
 * stored (a computed 0 is sent as 0xffff). */
static uint16_t ut_cksum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t ulen)
{
    uint16_t c = cksum_finish(cksum_add(cksum_pseudo_ipv4(src, dst, UT_PROTO, (uint16_t)ulen),
                                        udp, ulen));
    return c ? c : 0xffff;
}

/* A whole IP frame carrying a UDP datagram with a correct checksum. */
static size_t ut_build(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t sport,
                       uint16_t dport, const void *data, size_t len)
{
    uint8_t *u = buf + 20;
    put_be16(u, sport);
    put_be16(u + 2, dport);
    put_be16(u + 4, (uint16_t)(8 + len));
    put_be16(u + 6, 0);
    if (len)
        memcpy(u + 8, data, len);
    put_be16(u + 6, ut_cksum(src, dst, u, 8 + len));
    return fx_build_ip(buf, src, dst, UT_PROTO, u, 8 + len);
}

static void ut_deliver(struct ip_fixture *fx, uint32_t src, uint32_t dst, uint16_t sport,
                       uint16_t dport, const void *data, size_t len)
{
    uint8_t frame[FX_MTU];
    size_t n = ut_build(frame, src, dst, sport, dport, data, len);
    fx_input(fx, frame, n);
}

static uint64_t ut_stat(struct ip_fixture *fx, size_t offset)
{
    struct ustack_stats s;
    ustack_get_stats(fx->st, &s);
    uint64_t v;
    memcpy(&v, (const uint8_t *)&s + offset, sizeof(v));
    return v;
}

#define STAT(fx, field) ut_stat((fx), offsetof(struct ustack_stats, field))

/* Is frame an ICMP port unreachable to dst quoting the IP header of
 * `quoted` (its first 28 bytes at least)? */
static bool ut_is_port_unreach(const uint8_t *frame, size_t len, uint32_t dst,
                               const uint8_t *quoted)
{
    if (!fx_is_ip(frame, len, 1, FX_ADDR, dst) || len < 20 + 8 + 28)
        return false;
    const uint8_t *icmp = frame + 20;
    return icmp[0] == 3 && icmp[1] == 3 && cksum_finish(cksum_add(0, icmp, len - 20)) == 0 &&
           memcmp(icmp + 8, quoted, 28) == 0;
}

/* ---- parsing malformed input --------------------------------------------- */

TEST(udp_rx_truncated_header)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    uint8_t frame[64], udp[7] = {0x1b, 0x58, 0x13, 0x88, 0, 7, 0};
    size_t n = fx_build_ip(frame, FX_PEER, FX_ADDR, UT_PROTO, udp, sizeof(udp));
    fx_snapshot(&fx);
    fx_input(&fx, frame, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.drop_truncated");
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(ustack_events(fx.st, sd) & USTACK_EV_READABLE, 0);
    fx_close(&fx);
}

TEST(udp_rx_length_field_checked)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    static const uint16_t bad_lengths[] = {0, 7, 8 + 10 + 1, 0xffff};
    for (size_t i = 0; i < sizeof(bad_lengths) / sizeof(bad_lengths[0]); i++) {
        uint8_t frame[128];
        size_t n = ut_build(frame, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "0123456789", 10);
        put_be16(frame + 24, bad_lengths[i]);
        put_be16(frame + 26, 0); /* no checksum: only the length is wrong */
        fx_snapshot(&fx);
        fx_input(&fx, frame, n);
        FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.drop_bad_length");
    }
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(ustack_events(fx.st, sd) & USTACK_EV_READABLE, 0);
    fx_close(&fx);
}

/* Bytes past the UDP length (inside the IP payload) are padding. */
TEST(udp_rx_trailing_bytes_ignored)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    uint8_t frame[128];
    size_t n = ut_build(frame, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "hello", 5);
    /* Append 6 bytes of junk to the IP payload; the UDP length stays 13. */
    memcpy(frame + n, "JUNKJU", 6);
    n = fx_build_ip(frame, FX_PEER, FX_ADDR, UT_PROTO, frame + 20, n - 20 + 6);
    fx_snapshot(&fx);
    fx_input(&fx, frame, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.delivered");
    char buf[64];
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 5);
    CHECK_MEM(buf, "hello", 5);
    fx_close(&fx);
}

TEST(udp_rx_checksum_zero_accepted_wrong_dropped)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    uint8_t frame[128];
    char buf[64];

    /* Zero: "the transmitter generated no checksum" (RFC 768). */
    size_t n = ut_build(frame, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "nocsum", 6);
    put_be16(frame + 26, 0);
    fx_snapshot(&fx);
    fx_input(&fx, frame, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.rx_no_checksum",
                   "udp.delivered");
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 6);
    CHECK_MEM(buf, "nocsum", 6);

    /* Wrong: silently discarded (RFC 1122 §4.1.3.4), no ICMP. */
    n = ut_build(frame, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "badsum", 6);
    frame[26] ^= 0x01;
    fx_snapshot(&fx);
    fx_input(&fx, frame, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.drop_bad_checksum");
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), -EAGAIN);

    /* A corrupted data byte is caught the same way. */
    n = ut_build(frame, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "badsum", 6);
    frame[n - 1] ^= 0x40;
    fx_snapshot(&fx);
    fx_input(&fx, frame, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.drop_bad_checksum");
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

/* Data words chosen so that the checksum computes to 0: it goes on the
 * wire as 0xffff (RFC 768), and such a datagram is accepted on input. */
TEST(udp_checksum_zero_sent_as_ffff)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    /* With the last data word 0 the checksum is c; making the last word c
     * adds exactly ~sum to the sum, so the new checksum is 0. */
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 0, 0};
    uint8_t udp[16];
    put_be16(udp, UT_PORT);
    put_be16(udp + 2, UT_PEER_PORT);
    put_be16(udp + 4, 16);
    put_be16(udp + 6, 0);
    memcpy(udp + 8, data, 8);
    uint16_t c = cksum_finish(cksum_add(cksum_pseudo_ipv4(FX_ADDR, FX_PEER, UT_PROTO, 16), udp, 16));
    put_be16(data + 6, c);
    struct sockaddr_in to = ut_sin(FX_PEER, UT_PEER_PORT);
    CHECK_EQ(ustack_sendto(fx.st, sd, data, 8, 0, SA(to), sizeof(to)), 8);
    uint8_t frame[FX_MTU];
    size_t n = fx_sent(&fx, frame, sizeof(frame));
    REQUIRE(n == 20 + 16);
    CHECK_EQ(get_be16(frame + 26), 0xffff);
    CHECK_MEM(frame + 28, data, 8);

    /* The same bytes, mirrored, arrive fine. */
    n = ut_build(frame, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, data, 8);
    fx_snapshot(&fx);
    fx_input(&fx, frame, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.delivered");
    fx_close(&fx);
}

/* ---- port unreachable ------------------------------------------------------ */

TEST(udp_closed_port_gets_port_unreachable)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    uint8_t frame[128], out[FX_MTU];
    size_t n = ut_build(frame, FX_PEER, FX_ADDR, UT_PEER_PORT, 9999, "anyone?", 7);
    fx_snapshot(&fx);
    fx_input(&fx, frame, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "ip.tx", "udp.rx", "udp.no_port", "icmp.tx",
                   "icmp.tx_dest_unreach");
    size_t got = fx_sent(&fx, out, sizeof(out));
    CHECK(ut_is_port_unreach(out, got, FX_PEER, frame));
    /* RFC 1812 §4.3.2.3: the whole small datagram is quoted. */
    CHECK_EQ(got, 20 + 8 + n);
    fx_close(&fx);
}

/* The answers share ICMP's error rate limit (a burst of 10 by default);
 * every datagram is still counted. */
TEST(udp_port_unreachable_rate_limited)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    for (int i = 0; i < 25; i++)
        ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, 9999, "knock", 5);
    CHECK_EQ(STAT(&fx, udp_no_port), 25);
    CHECK_EQ(STAT(&fx, icmp_tx_dest_unreach), 10);
    CHECK_EQ(STAT(&fx, icmp_rate_limited), 15);
    CHECK_EQ(fx_pending(&fx), 10);
    fx_close(&fx);
}

TEST(udp_broadcast_to_closed_port_no_icmp)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    const uint32_t dsts[] = {UT_BCAST, UT_LIMITED};
    for (int i = 0; i < 2; i++) {
        fx_snapshot(&fx);
        ut_deliver(&fx, FX_PEER, dsts[i], UT_PEER_PORT, 9999, "hello all", 9);
        FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.drop_broadcast_no_port");
        CHECK_EQ(fx_pending(&fx), 0);
    }
    fx_close(&fx);
}

/* A socket bound to any address hears broadcasts; one bound to our
 * address does not (and a broadcast never draws an ICMP error). */
TEST(udp_broadcast_reaches_wildcard_socket_only)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int any = ut_bound(&fx, 0, UT_PORT);
    int ours = ut_bound(&fx, FX_ADDR, UT_PORT + 1);
    REQUIRE(any >= 0 && ours >= 0);
    char buf[32];
    struct sockaddr_in from;
    socklen_t flen = sizeof(from);
    ut_deliver(&fx, FX_PEER, UT_BCAST, UT_PEER_PORT, UT_PORT, "b1", 2);
    CHECK_EQ(ustack_recvfrom(fx.st, any, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen), 2);
    CHECK_EQ(ntohl(from.sin_addr.s_addr), FX_PEER);
    fx_snapshot(&fx);
    ut_deliver(&fx, FX_PEER, UT_LIMITED, UT_PEER_PORT, UT_PORT + 1, "b2", 2);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "udp.rx", "udp.drop_broadcast_no_port");
    CHECK_EQ(ustack_recv(fx.st, ours, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_EQ(fx_pending(&fx), 0);
    /* Unicast to it works. */
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT + 1, "u", 1);
    CHECK_EQ(ustack_recv(fx.st, ours, buf, sizeof(buf), 0), 1);
    fx_close(&fx);
}

/* ---- the receive queue ----------------------------------------------------- */

TEST(udp_rcvq_datagram_limit_counted)
{
    struct ip_fixture fx;
    REQUIRE(ut_open_cfg(&fx, 4));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    for (uint8_t i = 0; i < 6; i++)
        ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, &i, 1);
    CHECK_EQ(STAT(&fx, udp_delivered), 4);
    CHECK_EQ(STAT(&fx, udp_drop_rcvq_full), 2);
    CHECK_EQ(fx_pending(&fx), 0); /* a full queue is not an unreachable port */
    /* The first four, in order; then nothing. */
    for (uint8_t i = 0; i < 4; i++) {
        uint8_t b = 0xee;
        CHECK_EQ(ustack_recv(fx.st, sd, &b, 1, 0), 1);
        CHECK_EQ(b, i);
    }
    uint8_t b;
    CHECK_EQ(ustack_recv(fx.st, sd, &b, 1, 0), -EAGAIN);
    /* Room again. */
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "z", 1);
    CHECK_EQ(ustack_recv(fx.st, sd, &b, 1, 0), 1);
    CHECK_EQ(b, 'z');
    fx_close(&fx);
}

TEST(udp_rcvq_byte_limit_counted)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    /* 300 bytes hold two 100-byte datagrams with their 12-byte records. */
    CHECK_EQ(ustack_setsockopt(fx.st, sd, USTACK_SO_RCVBUF, 300), 0);
    int v = 0;
    CHECK_EQ(ustack_getsockopt(fx.st, sd, USTACK_SO_RCVBUF, &v), 0);
    CHECK_EQ(v, 300);
    uint8_t data[100];
    for (int i = 0; i < 3; i++) {
        memset(data, 'a' + i, sizeof(data));
        ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, data, sizeof(data));
    }
    CHECK_EQ(STAT(&fx, udp_delivered), 2);
    CHECK_EQ(STAT(&fx, udp_drop_rcvq_full), 1);
    /* A larger buffer keeps what is queued and takes more. */
    CHECK_EQ(ustack_setsockopt(fx.st, sd, USTACK_SO_RCVBUF, 4000), 0);
    memset(data, 'd', sizeof(data));
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, data, sizeof(data));
    CHECK_EQ(STAT(&fx, udp_delivered), 3);
    const char expect[] = {'a', 'b', 'd'};
    for (int i = 0; i < 3; i++) {
        uint8_t buf[200];
        CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 100);
        CHECK_EQ(buf[0], expect[i]);
        CHECK_EQ(buf[99], expect[i]);
    }
    /* SO_RCVBUF is capped at buf_max. */
    CHECK_EQ(ustack_setsockopt(fx.st, sd, USTACK_SO_RCVBUF, 1 << 30), 0);
    CHECK_EQ(ustack_getsockopt(fx.st, sd, USTACK_SO_RCVBUF, &v), 0);
    CHECK_EQ(v, 4 * 1024 * 1024);
    fx_close(&fx);
}

/* A smaller SO_RCVBUF than what is queued keeps the queued datagrams
 * (readable, in order) and refuses new ones until they fit again. */
TEST(udp_rcvq_shrink_keeps_queued)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    uint8_t data[100];
    for (int i = 0; i < 3; i++) {
        memset(data, 'a' + i, sizeof(data));
        ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, data, sizeof(data));
    }
    CHECK_EQ(STAT(&fx, udp_delivered), 3);
    /* 256 bytes (the smallest) hold two of them with their records. */
    CHECK_EQ(ustack_setsockopt(fx.st, sd, USTACK_SO_RCVBUF, 256), 0);
    memset(data, 'x', sizeof(data));
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, data, sizeof(data));
    CHECK_EQ(STAT(&fx, udp_drop_rcvq_full), 1);
    uint8_t buf[200];
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 100);
    CHECK_EQ(buf[0], 'a');
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 100);
    CHECK_EQ(buf[0], 'b');
    /* One datagram left (112 bytes): a second one fits 256 again. */
    memset(data, 'd', sizeof(data));
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, data, sizeof(data));
    CHECK_EQ(STAT(&fx, udp_delivered), 4);
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 100);
    CHECK_EQ(buf[99], 'c');
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 100);
    CHECK_EQ(buf[99], 'd');
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), -EAGAIN);
    fx_close(&fx);
}

/* recv takes one datagram: a short buffer gets its start, the rest is
 * gone, and the next recv gets the next datagram. */
TEST(udp_recv_truncates_to_buffer)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "0123456789", 10);
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "abc", 3);
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "", 0);
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "last", 4);
    char buf[16];
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(ustack_recv(fx.st, sd, buf, 4, 0), 4);
    CHECK_MEM(buf, "0123", 4);
    CHECK_EQ(STAT(&fx, udp_read_truncated), 1);
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 3);
    CHECK_MEM(buf, "abc", 3);
    /* An empty datagram is a datagram, not an end of stream. */
    struct sockaddr_in from;
    socklen_t flen = sizeof(from);
    CHECK_EQ(ustack_recvfrom(fx.st, sd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen), 0);
    CHECK_EQ(ntohs(from.sin_port), UT_PEER_PORT);
    /* A zero-length read consumes a whole datagram too. */
    CHECK_EQ(ustack_recv(fx.st, sd, NULL, 0, 0), 0);
    CHECK_EQ(STAT(&fx, udp_read_truncated), 2);
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), -EAGAIN);
    fx_close(&fx);
}

/* ---- binding --------------------------------------------------------------- */

TEST(udp_bind_conflicts)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int a = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(a >= 0);
    CHECK_EQ(ut_bound(&fx, 0, UT_PORT), -EADDRINUSE);
    CHECK_EQ(ut_bound(&fx, FX_ADDR, UT_PORT), -EADDRINUSE);
    /* SO_REUSEADDR shares nothing for UDP. */
    int r = ustack_socket(fx.st, USTACK_SOCK_DGRAM);
    CHECK_EQ(ustack_setsockopt(fx.st, r, USTACK_SO_REUSEADDR, 1), 0);
    struct sockaddr_in sin = ut_sin(0, UT_PORT);
    CHECK_EQ(ustack_bind(fx.st, r, SA(sin), sizeof(sin)), -EADDRINUSE);
    /* Not our address; already bound. */
    sin = ut_sin(FX_PEER, UT_PORT + 1);
    CHECK_EQ(ustack_bind(fx.st, r, SA(sin), sizeof(sin)), -EADDRNOTAVAIL);
    sin = ut_sin(0, UT_PORT + 2);
    CHECK_EQ(ustack_bind(fx.st, a, SA(sin), sizeof(sin)), -EINVAL);
    /* TCP has a port space of its own. */
    int t = ustack_socket(fx.st, USTACK_SOCK_STREAM);
    sin = ut_sin(0, UT_PORT);
    CHECK_EQ(ustack_bind(fx.st, t, SA(sin), sizeof(sin)), 0);
    /* Closing frees the port. */
    CHECK_EQ(ustack_close(fx.st, a), 0);
    CHECK_EQ(ustack_bind(fx.st, r, SA(sin), sizeof(sin)), 0);
    struct sockaddr_in name;
    socklen_t nlen = sizeof(name);
    CHECK_EQ(ustack_getsockname(fx.st, r, (struct sockaddr *)&name, &nlen), 0);
    CHECK_EQ(ntohs(name.sin_port), UT_PORT);
    CHECK_EQ(name.sin_addr.s_addr, 0);
    fx_close(&fx);
}

TEST(udp_ephemeral_ports)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    uint16_t seen[64];
    for (int i = 0; i < 64; i++) {
        int sd = ut_bound(&fx, 0, 0);
        REQUIRE(sd >= 0);
        struct sockaddr_in name;
        socklen_t nlen = sizeof(name);
        CHECK_EQ(ustack_getsockname(fx.st, sd, (struct sockaddr *)&name, &nlen), 0);
        seen[i] = ntohs(name.sin_port);
        CHECK(seen[i] >= 49152);
        for (int j = 0; j < i; j++)
            CHECK(seen[j] != seen[i]);
    }
    /* RFC 6056: not simply consecutive. */
    int consecutive = 0;
    for (int i = 1; i < 64; i++)
        consecutive += seen[i] == seen[i - 1] + 1;
    CHECK(consecutive < 8);
    fx_close(&fx);
}

/* ---- sending --------------------------------------------------------------- */

TEST(udp_sendto_recvfrom_addresses)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ustack_socket(fx.st, USTACK_SOCK_DGRAM);
    REQUIRE(sd >= 0);
    /* Unbound: the first send picks an ephemeral port. */
    struct sockaddr_in to = ut_sin(FX_PEER, UT_PEER_PORT);
    CHECK_EQ(ustack_sendto(fx.st, sd, "question", 8, 0, SA(to), sizeof(to)), 8);
    struct sockaddr_in name;
    socklen_t nlen = sizeof(name);
    CHECK_EQ(ustack_getsockname(fx.st, sd, (struct sockaddr *)&name, &nlen), 0);
    uint16_t port = ntohs(name.sin_port);
    CHECK(port >= 49152);
    uint8_t frame[FX_MTU];
    size_t n = fx_sent(&fx, frame, sizeof(frame));
    REQUIRE(n == 20 + 8 + 8);
    CHECK(fx_is_ip(frame, n, UT_PROTO, FX_ADDR, FX_PEER));
    CHECK_EQ(get_be16(frame + 20), port);
    CHECK_EQ(get_be16(frame + 22), UT_PEER_PORT);
    CHECK_EQ(get_be16(frame + 24), 16);
    CHECK_EQ(cksum_finish(cksum_add(cksum_pseudo_ipv4(FX_ADDR, FX_PEER, UT_PROTO, 16),
                                    frame + 20, 16)), 0);
    CHECK(get_be16(frame + 26) != 0);
    CHECK_MEM(frame + 28, "question", 8);
    CHECK_EQ(STAT(&fx, udp_tx), 1);

    /* The answer, and another from elsewhere: recvfrom tells them apart. */
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, port, "answer", 6);
    ut_deliver(&fx, UT_OTHER, FX_ADDR, 53, port, "other", 5);
    char buf[32];
    struct sockaddr_in from;
    socklen_t flen = sizeof(from);
    CHECK_EQ(ustack_recvfrom(fx.st, sd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen), 6);
    CHECK_MEM(buf, "answer", 6);
    CHECK_EQ(flen, sizeof(from));
    CHECK_EQ(from.sin_family, AF_INET);
    CHECK_EQ(ntohl(from.sin_addr.s_addr), FX_PEER);
    CHECK_EQ(ntohs(from.sin_port), UT_PEER_PORT);
    /* A short address buffer is filled as far as it goes; flen tells the
     * full size. */
    struct sockaddr_in small;
    memset(&small, 0xaa, sizeof(small));
    flen = 4;
    CHECK_EQ(ustack_recvfrom(fx.st, sd, buf, sizeof(buf), 0, (struct sockaddr *)&small, &flen), 5);
    CHECK_EQ(flen, sizeof(small));
    CHECK_EQ(small.sin_family, AF_INET);
    CHECK_EQ(ntohs(small.sin_port), 53);
    CHECK_EQ(small.sin_addr.s_addr, 0xaaaaaaaau); /* past the 4 bytes: untouched */
    fx_close(&fx);
}

TEST(udp_send_errors)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ustack_socket(fx.st, USTACK_SOCK_DGRAM);
    REQUIRE(sd >= 0);
    CHECK_EQ(ustack_send(fx.st, sd, "x", 1, 0), -EDESTADDRREQ);
    struct sockaddr_in to = ut_sin(UT_BCAST, 9);
    CHECK_EQ(ustack_sendto(fx.st, sd, "x", 1, 0, SA(to), sizeof(to)), -EACCES);
    to = ut_sin(UT_LIMITED, 9);
    CHECK_EQ(ustack_sendto(fx.st, sd, "x", 1, 0, SA(to), sizeof(to)), -EACCES);
    to = ut_sin(FX_PEER, 0);
    CHECK_EQ(ustack_sendto(fx.st, sd, "x", 1, 0, SA(to), sizeof(to)), -EADDRNOTAVAIL);
    to = ut_sin(0x7f000001u, 9);
    CHECK_EQ(ustack_sendto(fx.st, sd, "x", 1, 0, SA(to), sizeof(to)), -ENETUNREACH);
    to = ut_sin(0xe0000001u, 9);
    CHECK_EQ(ustack_sendto(fx.st, sd, "x", 1, 0, SA(to), sizeof(to)), -ENETUNREACH);
    to = ut_sin(FX_PEER, 9);
    CHECK_EQ(ustack_sendto(fx.st, sd, "x", 1, USTACK_MSG_MORE, SA(to), sizeof(to)), -EOPNOTSUPP);
    /* One datagram holds at most 65,507 bytes. */
    static uint8_t big[65508];
    CHECK_EQ(ustack_sendto(fx.st, sd, big, sizeof(big), 0, SA(to), sizeof(to)), -EMSGSIZE);
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(STAT(&fx, udp_tx), 0);
    /* Nor do datagram sockets listen, accept or shut down. */
    CHECK_EQ(ustack_listen(fx.st, sd, 1), -EOPNOTSUPP);
    CHECK_EQ(ustack_accept(fx.st, sd, NULL, NULL), -EOPNOTSUPP);
    CHECK_EQ(ustack_shutdown(fx.st, sd, SHUT_WR), -EOPNOTSUPP);
    int v = 0;
    CHECK_EQ(ustack_getsockopt(fx.st, sd, USTACK_SO_TYPE, &v), 0);
    CHECK_EQ(v, USTACK_SOCK_DGRAM);
    CHECK_EQ(ustack_setsockopt(fx.st, sd, USTACK_TCP_NODELAY, 1), -ENOPROTOOPT);
    fx_close(&fx);
}

/* A zero-length datagram is a real datagram: 8 bytes of header. */
TEST(udp_send_empty_datagram)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    struct sockaddr_in to = ut_sin(FX_PEER, UT_PEER_PORT);
    CHECK_EQ(ustack_sendto(fx.st, sd, NULL, 0, 0, SA(to), sizeof(to)), 0);
    uint8_t frame[FX_MTU];
    size_t n = fx_sent(&fx, frame, sizeof(frame));
    CHECK_EQ(n, 28);
    CHECK_EQ(get_be16(frame + 24), 8);
    fx_close(&fx);
}

/* ---- connected sockets ----------------------------------------------------- */

TEST(udp_connected_socket_filters)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    struct sockaddr_in peer = ut_sin(FX_PEER, UT_PEER_PORT);
    CHECK_EQ(ustack_connect(fx.st, sd, SA(peer), sizeof(peer)), 0);
    CHECK_EQ(fx_pending(&fx), 0); /* connect sends nothing */
    struct sockaddr_in name;
    socklen_t nlen = sizeof(name);
    CHECK_EQ(ustack_getpeername(fx.st, sd, (struct sockaddr *)&name, &nlen), 0);
    CHECK_EQ(ntohl(name.sin_addr.s_addr), FX_PEER);
    CHECK_EQ(ntohs(name.sin_port), UT_PEER_PORT);
    nlen = sizeof(name);
    CHECK_EQ(ustack_getsockname(fx.st, sd, (struct sockaddr *)&name, &nlen), 0);
    CHECK_EQ(ntohl(name.sin_addr.s_addr), FX_ADDR);

    /* Wrong port, wrong host: for no socket, so port unreachable. */
    uint8_t frame[128], out[FX_MTU];
    size_t n = ut_build(frame, FX_PEER, FX_ADDR, UT_PEER_PORT + 1, UT_PORT, "imposter", 8);
    fx_snapshot(&fx);
    fx_input(&fx, frame, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.delivered", "ip.tx", "udp.rx", "udp.drop_wrong_peer",
                   "icmp.tx", "icmp.tx_dest_unreach");
    size_t got = fx_sent(&fx, out, sizeof(out));
    CHECK(ut_is_port_unreach(out, got, FX_PEER, frame));
    n = ut_build(frame, UT_OTHER, FX_ADDR, UT_PEER_PORT, UT_PORT, "imposter", 8);
    fx_input(&fx, frame, n);
    got = fx_sent(&fx, out, sizeof(out));
    CHECK(ut_is_port_unreach(out, got, UT_OTHER, frame));
    CHECK_EQ(STAT(&fx, udp_drop_wrong_peer), 2);
    char buf[32];
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), -EAGAIN);

    /* The peer gets through; send goes to it. */
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "genuine", 7);
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 7);
    CHECK_MEM(buf, "genuine", 7);
    CHECK_EQ(ustack_send(fx.st, sd, "reply", 5, 0), 5);
    n = fx_sent(&fx, out, sizeof(out));
    CHECK(fx_is_ip(out, n, UT_PROTO, FX_ADDR, FX_PEER));
    CHECK_EQ(get_be16(out + 22), UT_PEER_PORT);
    CHECK_MEM(out + 28, "reply", 5);

    /* AF_UNSPEC dissolves the association: anyone may send again. */
    struct sockaddr unspec;
    memset(&unspec, 0, sizeof(unspec));
    unspec.sa_family = AF_UNSPEC;
    CHECK_EQ(ustack_connect(fx.st, sd, &unspec, sizeof(unspec)), 0);
    nlen = sizeof(name);
    CHECK_EQ(ustack_getpeername(fx.st, sd, (struct sockaddr *)&name, &nlen), -ENOTCONN);
    ut_deliver(&fx, UT_OTHER, FX_ADDR, 1234, UT_PORT, "welcome", 7);
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 7);
    CHECK_EQ(ustack_send(fx.st, sd, "x", 1, 0), -EDESTADDRREQ);
    fx_close(&fx);
}

TEST(udp_connect_binds_and_checks)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ustack_socket(fx.st, USTACK_SOCK_DGRAM);
    struct sockaddr_in sin = ut_sin(UT_BCAST, 9);
    CHECK_EQ(ustack_connect(fx.st, sd, SA(sin), sizeof(sin)), -EACCES);
    sin = ut_sin(0, 9);
    CHECK_EQ(ustack_connect(fx.st, sd, SA(sin), sizeof(sin)), -EADDRNOTAVAIL);
    sin = ut_sin(FX_PEER, 9);
    CHECK_EQ(ustack_connect(fx.st, sd, SA(sin), sizeof(sin)), 0);
    struct sockaddr_in name;
    socklen_t nlen = sizeof(name);
    CHECK_EQ(ustack_getsockname(fx.st, sd, (struct sockaddr *)&name, &nlen), 0);
    uint16_t port = ntohs(name.sin_port);
    CHECK(port >= 49152);
    /* Connecting again moves the association, not the port. */
    sin = ut_sin(UT_OTHER, 10);
    CHECK_EQ(ustack_connect(fx.st, sd, SA(sin), sizeof(sin)), 0);
    nlen = sizeof(name);
    CHECK_EQ(ustack_getsockname(fx.st, sd, (struct sockaddr *)&name, &nlen), 0);
    CHECK_EQ(ntohs(name.sin_port), port);
    CHECK_EQ(ustack_getpeername(fx.st, sd, (struct sockaddr *)&name, &nlen), 0);
    CHECK_EQ(ntohl(name.sin_addr.s_addr), UT_OTHER);
    /* sendto another address on a connected socket is allowed, as on
     * Linux. */
    sin = ut_sin(FX_PEER, 11);
    CHECK_EQ(ustack_sendto(fx.st, sd, "y", 1, 0, SA(sin), sizeof(sin)), 1);
    uint8_t out[FX_MTU];
    size_t n = fx_sent(&fx, out, sizeof(out));
    CHECK(fx_is_ip(out, n, UT_PROTO, FX_ADDR, FX_PEER));
    CHECK_EQ(get_be16(out + 22), 11);
    fx_close(&fx);
}

/* ---- ICMP errors ----------------------------------------------------------- */

/* Send one datagram from sd and answer it with ICMP type/code from the
 * peer, quoting what the stack sent. */
static void ut_icmp_answer(struct ip_fixture *fx, int sd, uint8_t type, uint8_t code)
{
    uint8_t sent[FX_MTU], icmp[FX_MTU], frame[FX_MTU];
    CHECK_EQ(ustack_send(fx->st, sd, "probe", 5, 0), 5);
    size_t n = fx_sent(fx, sent, sizeof(sent));
    REQUIRE(n == 33);
    size_t len = fx_build_icmp(icmp, type, code, 0, sent, n);
    size_t flen = fx_build_ip(frame, FX_PEER, FX_ADDR, 1, icmp, len);
    fx_input(fx, frame, flen);
}

TEST(udp_port_unreachable_refuses_connected_socket)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ustack_socket(fx.st, USTACK_SOCK_DGRAM);
    struct sockaddr_in peer = ut_sin(FX_PEER, UT_PEER_PORT);
    REQUIRE(ustack_connect(fx.st, sd, SA(peer), sizeof(peer)) == 0);
    struct ustack_event ev[8];
    while (ustack_poll(fx.st, ev, 8) > 0)
        ;
    fx_snapshot(&fx);
    ut_icmp_answer(&fx, sd, 3, 3);
    CHECK_EQ(STAT(&fx, udp_icmp_errors), 1);
    /* The socket reports the error through readiness... */
    CHECK(ustack_events(fx.st, sd) & USTACK_EV_ERROR);
    int n = ustack_poll(fx.st, ev, 8);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].sd, sd);
    CHECK(ev[0].events & USTACK_EV_ERROR);
    /* ...and the next call returns it, once. */
    char buf[16];
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), -ECONNREFUSED);
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_EQ(ustack_events(fx.st, sd) & USTACK_EV_ERROR, 0);

    /* Again: this time send returns it, then sends normally. */
    ut_icmp_answer(&fx, sd, 3, 3);
    CHECK_EQ(ustack_send(fx.st, sd, "again", 5, 0), -ECONNREFUSED);
    CHECK_EQ(ustack_send(fx.st, sd, "again", 5, 0), 5);
    uint8_t out[FX_MTU];
    size_t sent = fx_sent(&fx, out, sizeof(out));
    CHECK(fx_is_ip(out, sent, UT_PROTO, FX_ADDR, FX_PEER));

    /* And SO_ERROR reads (and clears) it. */
    ut_icmp_answer(&fx, sd, 3, 3);
    int v = 0;
    CHECK_EQ(ustack_getsockopt(fx.st, sd, USTACK_SO_ERROR, &v), 0);
    CHECK_EQ(v, ECONNREFUSED);
    CHECK_EQ(ustack_getsockopt(fx.st, sd, USTACK_SO_ERROR, &v), 0);
    CHECK_EQ(v, 0);
    fx_close(&fx);
}

TEST(udp_icmp_errors_mapped_and_matched)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ustack_socket(fx.st, USTACK_SOCK_DGRAM);
    struct sockaddr_in peer = ut_sin(FX_PEER, UT_PEER_PORT);
    REQUIRE(ustack_connect(fx.st, sd, SA(peer), sizeof(peer)) == 0);
    static const struct {
        uint8_t type, code;
        int err;
    } cases[] = {
        {3, 0, ENETUNREACH}, {3, 1, EHOSTUNREACH}, {3, 2, ENOPROTOOPT},
        {3, 4, EMSGSIZE},    {3, 13, EHOSTUNREACH}, {11, 0, EHOSTUNREACH},
        {12, 0, EPROTO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ut_icmp_answer(&fx, sd, cases[i].type, cases[i].code);
        int v = -1;
        CHECK_EQ(ustack_getsockopt(fx.st, sd, USTACK_SO_ERROR, &v), 0);
        if (v != cases[i].err)
            test_fail(__FILE__, __LINE__, "ICMP %u/%u gave errno %d, expected %d",
                      cases[i].type, cases[i].code, v, cases[i].err);
    }

    /* An unconnected socket hears nothing: it could not tell which send
     * failed. */
    CHECK_EQ(STAT(&fx, udp_icmp_errors_unmatched), 0);
    struct sockaddr_in unspec_sin;
    memset(&unspec_sin, 0, sizeof(unspec_sin));
    unspec_sin.sin_family = AF_UNSPEC;
    CHECK_EQ(ustack_connect(fx.st, sd, SA(unspec_sin), sizeof(unspec_sin)), 0);
    uint8_t sent[FX_MTU], icmp[FX_MTU], frame[FX_MTU];
    CHECK_EQ(ustack_sendto(fx.st, sd, "probe", 5, 0, SA(peer), sizeof(peer)), 5);
    size_t n = fx_sent(&fx, sent, sizeof(sent));
    size_t len = fx_build_icmp(icmp, 3, 3, 0, sent, n);
    size_t flen = fx_build_ip(frame, FX_PEER, FX_ADDR, 1, icmp, len);
    fx_input(&fx, frame, flen);
    CHECK_EQ(STAT(&fx, udp_icmp_errors_unmatched), 1);
    CHECK_EQ(ustack_events(fx.st, sd) & USTACK_EV_ERROR, 0);

    /* Connected to another port of the peer: the quote does not match. */
    struct sockaddr_in other = ut_sin(FX_PEER, UT_PEER_PORT + 1);
    CHECK_EQ(ustack_connect(fx.st, sd, SA(other), sizeof(other)), 0);
    fx_input(&fx, frame, flen);
    CHECK_EQ(STAT(&fx, udp_icmp_errors_unmatched), 2);
    CHECK_EQ(ustack_send(fx.st, sd, "ok", 2, 0), 2);
    fx_close(&fx);
}

/* ---- readiness ------------------------------------------------------------- */

TEST(udp_readiness_through_poll)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    struct ustack_event ev[8];
    while (ustack_poll(fx.st, ev, 8) > 0)
        ;
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    /* A new datagram socket can send at once. */
    int n = ustack_poll(fx.st, ev, 8);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].sd, sd);
    CHECK_EQ(ev[0].events, USTACK_EV_WRITABLE);
    CHECK_EQ(ustack_poll(fx.st, ev, 8), 0);
    /* A datagram makes it readable. */
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "hi", 2);
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "hi", 2);
    n = ustack_poll(fx.st, ev, 8);
    CHECK_EQ(n, 1); /* once, however many arrived */
    CHECK_EQ(ev[0].events, USTACK_EV_READABLE | USTACK_EV_WRITABLE);
    char buf[8];
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 2);
    CHECK(ustack_events(fx.st, sd) & USTACK_EV_READABLE);
    CHECK_EQ(ustack_recv(fx.st, sd, buf, sizeof(buf), 0), 2);
    CHECK_EQ(ustack_events(fx.st, sd), USTACK_EV_WRITABLE);
    /* Closed: the datagram's port is unreachable again. */
    CHECK_EQ(ustack_close(fx.st, sd), 0);
    CHECK_EQ(ustack_events(fx.st, sd), USTACK_EV_ERROR);
    ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, UT_PORT, "hi", 2);
    CHECK_EQ(STAT(&fx, udp_no_port), 1);
    fx_close(&fx);
}

/* Sockets left open when the stack is freed are freed with it (ASan
 * would see a leak otherwise), queued datagrams included. */
TEST(udp_free_stack_with_open_sockets)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    for (int i = 0; i < 10; i++) {
        int sd = ut_bound(&fx, 0, (uint16_t)(UT_PORT + i));
        REQUIRE(sd >= 0);
        ut_deliver(&fx, FX_PEER, FX_ADDR, UT_PEER_PORT, (uint16_t)(UT_PORT + i), "left", 4);
    }
    CHECK_EQ(STAT(&fx, udp_delivered), 10);
    fx_close(&fx);
}

/* ---- the blocking API ------------------------------------------------------ */

/* Two stacks joined by a socketpair, each run by ustack_bsd_start. */
static int ut_sp_send(struct ustack_link *l, const void *frame, size_t len)
{
    return send(l->fd, frame, len, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static ssize_t ut_sp_recv(struct ustack_link *l, void *buf, size_t cap)
{
    ssize_t n = recv(l->fd, buf, cap, MSG_DONTWAIT);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    return n;
}

static void ut_sp_close(struct ustack_link *l)
{
    close(l->fd);
    free(l);
}

static const struct ustack_link_ops ut_sp_ops = {
    .send = ut_sp_send, .recv = ut_sp_recv, .close = ut_sp_close};

struct ut_bsd {
    struct ustack_link *link[2];
    struct ustack *st[2];
    struct ustack_bsd *b[2];
};

static uint64_t ut_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool ut_bsd_open(struct ut_bsd *p)
{
    int fds[2];
    memset(p, 0, sizeof(*p));
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) < 0)
        return false;
    for (int i = 0; i < 2; i++) {
        struct ustack_link *l = calloc(1, sizeof(*l));
        if (!l)
            return false;
        l->ops = &ut_sp_ops;
        l->kind = USTACK_LINK_IP;
        l->mtu = FX_MTU;
        l->fd = fds[i];
        p->link[i] = l;
        struct ustack_config cfg;
        ustack_config_init(&cfg);
        cfg.addr = i == 0 ? FX_ADDR : FX_PEER;
        cfg.netmask = FX_MASK;
        cfg.max_sockets = 16;
        p->st[i] = ustack_new(&cfg, l, ut_mono_us());
        char err[128];
        if (!p->st[i] || !(p->b[i] = ustack_bsd_start(p->st[i], l, err, sizeof(err))))
            return false;
    }
    return true;
}

static void ut_bsd_close(struct ut_bsd *p)
{
    for (int i = 0; i < 2; i++) {
        ustack_bsd_stop(p->b[i]);
        ustack_free(p->st[i]);
        if (p->link[i])
            ustack_link_close(p->link[i]);
    }
}

struct ut_echo {
    struct ustack_bsd *b;
    int fd;
    int served;
};

/* Echo datagrams back to their sender until an empty one arrives. */
static void *ut_echo_thread(void *arg)
{
    struct ut_echo *e = arg;
    uint8_t buf[2048];
    for (;;) {
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = ustack_bsd_recvfrom(e->b, e->fd, buf, sizeof(buf), 0,
                                        (struct sockaddr *)&from, &flen);
        if (n <= 0)
            break;
        if (ustack_bsd_sendto(e->b, e->fd, buf, (size_t)n, 0, (struct sockaddr *)&from,
                              flen) != n)
            break;
        e->served++;
    }
    return NULL;
}

TEST(udp_bsd_blocking_echo)
{
    struct ut_bsd p;
    REQUIRE(ut_bsd_open(&p));
    int server = ustack_bsd_socket(p.b[1], USTACK_SOCK_DGRAM);
    struct sockaddr_in sin = ut_sin(0, UT_PORT);
    REQUIRE(ustack_bsd_bind(p.b[1], server, SA(sin), sizeof(sin)) == 0);
    struct ut_echo e = {p.b[1], server, 0};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, ut_echo_thread, &e) == 0);

    int client = ustack_bsd_socket(p.b[0], USTACK_SOCK_DGRAM);
    REQUIRE(client >= 0);
    CHECK_EQ(ustack_bsd_setsockopt(p.b[0], client, USTACK_BSD_RCVTIMEO, 5000), 0);
    struct sockaddr_in to = ut_sin(FX_PEER, UT_PORT);
    uint8_t msg[1000], got[1000];
    for (int i = 0; i < 20; i++) {
        size_t len = (size_t)(i * 50 + 1); /* an empty one stops the echo */
        for (size_t k = 0; k < len; k++)
            msg[k] = (uint8_t)(k * 7 + (size_t)i);
        CHECK_EQ(ustack_bsd_sendto(p.b[0], client, msg, len, 0, SA(to), sizeof(to)),
                 (ssize_t)len);
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = ustack_bsd_recvfrom(p.b[0], client, got, sizeof(got), 0,
                                        (struct sockaddr *)&from, &flen);
        CHECK_EQ(n, (ssize_t)len);
        if (n == (ssize_t)len)
            CHECK_MEM(got, msg, len);
        CHECK_EQ(ntohl(from.sin_addr.s_addr), FX_PEER);
        CHECK_EQ(ntohs(from.sin_port), UT_PORT);
    }
    /* Nothing more: the receive timeout ends the wait with EAGAIN. */
    CHECK_EQ(ustack_bsd_setsockopt(p.b[0], client, USTACK_BSD_RCVTIMEO, 50), 0);
    errno = 0;
    CHECK_EQ(ustack_bsd_recv(p.b[0], client, got, sizeof(got), 0), -1);
    CHECK_EQ(errno, EAGAIN);
    /* Stop the echo thread with an empty datagram. */
    CHECK_EQ(ustack_bsd_sendto(p.b[0], client, "", 0, 0, SA(to), sizeof(to)), 0);
    pthread_join(th, NULL);
    CHECK_EQ(e.served, 20);
    ut_bsd_close(&p);
}

/* ---- datagrams larger than the MTU ------------------------------------------ */

/* Up to 65,507 bytes leave as IP fragments (RFC 791 §3.2); put back
 * together, they are one datagram with a header length and a checksum
 * over all of it. */
TEST(udp_send_larger_than_mtu_fragments)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    static const size_t sizes[] = {1473, 3000, 65507};
    static uint8_t data[65507], whole[65535];
    for (size_t k = 0; k < sizeof(data); k++)
        data[k] = (uint8_t)(k * 13 + k / 256);
    struct sockaddr_in to = ut_sin(FX_PEER, UT_PEER_PORT);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i];
        CHECK_EQ(ustack_sendto(fx.st, sd, data, len, 0, SA(to), sizeof(to)), (ssize_t)len);
        /* Collect the fragments: offsets in 8-byte units, MF on all but the
         * last, every one within the MTU. */
        size_t got = 0, frames = 0;
        bool last_seen = false;
        uint8_t frame[FX_MTU];
        size_t n;
        while (!last_seen && (n = fx_sent(&fx, frame, sizeof(frame))) > 0) {
            frames++;
            CHECK(fx_is_ip(frame, n, UT_PROTO, FX_ADDR, FX_PEER));
            uint16_t fo = get_be16(frame + 6);
            size_t off = (size_t)(fo & 0x1fff) * 8;
            CHECK_EQ(off, got);
            REQUIRE(off + n - 20 <= sizeof(whole));
            memcpy(whole + off, frame + 20, n - 20);
            got = off + n - 20;
            last_seen = !(fo & 0x2000);
        }
        CHECK(last_seen);
        CHECK_EQ(frames, (len + 8 + 1479) / 1480);
        CHECK_EQ(got, len + 8);
        CHECK_EQ(get_be16(whole + 4), len + 8);
        CHECK_EQ(cksum_finish(cksum_add(cksum_pseudo_ipv4(FX_ADDR, FX_PEER, UT_PROTO,
                                                          (uint16_t)(len + 8)),
                                        whole, len + 8)), 0);
        CHECK_MEM(whole + 8, data, len);
    }
    CHECK_EQ(STAT(&fx, udp_tx), 3);
    fx_close(&fx);
}

/* A datagram that arrives in fragments is delivered once reassembled. */
TEST(udp_receive_reassembled_datagram)
{
    struct ip_fixture fx;
    REQUIRE(ut_open(&fx));
    int sd = ut_bound(&fx, 0, UT_PORT);
    REQUIRE(sd >= 0);
    static uint8_t data[4000], dgram[4008], buf[5000];
    for (size_t k = 0; k < sizeof(data); k++)
        data[k] = (uint8_t)(k * 5 + 1);
    put_be16(dgram, UT_PEER_PORT);
    put_be16(dgram + 2, UT_PORT);
    put_be16(dgram + 4, sizeof(dgram));
    put_be16(dgram + 6, 0);
    memcpy(dgram + 8, data, sizeof(data));
    put_be16(dgram + 6, ut_cksum(FX_PEER, FX_ADDR, dgram, sizeof(dgram)));
    /* Three fragments of 1480, 1480 and 1048 bytes, the last sent first. */
    static const size_t offs[] = {2960, 0, 1480};
    for (int i = 0; i < 3; i++) {
        uint8_t frame[FX_MTU];
        size_t off = offs[i], flen = off == 2960 ? sizeof(dgram) - 2960 : 1480;
        memcpy(frame + 20, dgram + off, flen);
        size_t n = fx_build_ip(frame, FX_PEER, FX_ADDR, UT_PROTO, frame + 20, flen);
        put_be16(frame + 4, 0x4242);
        put_be16(frame + 6, (uint16_t)((off / 8) | (off == 2960 ? 0 : 0x2000)));
        fx_fix_ip_checksum(frame);
        CHECK_EQ(ustack_events(fx.st, sd) & USTACK_EV_READABLE, 0);
        fx_input(&fx, frame, n);
    }
    struct sockaddr_in from;
    socklen_t flen = sizeof(from);
    CHECK_EQ(ustack_recvfrom(fx.st, sd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen),
             (ssize_t)sizeof(data));
    CHECK_MEM(buf, data, sizeof(data));
    CHECK_EQ(ntohs(from.sin_port), UT_PEER_PORT);
    CHECK_EQ(STAT(&fx, udp_delivered), 1);
    fx_close(&fx);
}
