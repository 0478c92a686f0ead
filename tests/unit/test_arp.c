/*
 * ARP (RFC 826, RFC 1122 §2.3.2, RFC 5227): the announcement at start,
 * answering requests, what is learned and what is not, resolution with a
 * bounded queue, retries and giving up, expiry and re-checking, and the
 * bound on the cache.
 */
#include <errno.h>

#include "core/stack.h"
#include "eth_fixture.h"
#include "net/arp.h"

static const uint8_t ZERO_MAC[6];

#define SEC 1000000ull

/* Feed an ARP frame. */
static void arp_in(struct ip_fixture *fx, uint16_t op, const uint8_t *sha, uint32_t spa,
                   uint32_t tpa)
{
    uint8_t f[64];
    fx_input(fx, f, arp_frame(f, op, sha, spa, tpa));
}

/* The next frame must be a broadcast request for ip. */
static void expect_request(struct ip_fixture *fx, const uint8_t *to, uint32_t ip, int line)
{
    uint8_t f[100];
    size_t m = fx_sent(fx, f, sizeof(f));
    if (!is_arp_from_us(f, m, to, 1, ZERO_MAC, ip))
        test_fail(__FILE__, line, "expected an ARP request for %08x (got %zu bytes)", ip, m);
}

#define EXPECT_REQUEST(fx, to, ip) expect_request((fx), (to), (ip), __LINE__)

/* Send a ping with sequence number seq to FX_PEER. */
static int ping(struct ip_fixture *fx, uint16_t seq)
{
    return ustack_ping_send(fx->st, FX_PEER, 0x4242, seq, "arp!", 4);
}

/* The next frame must be our echo request with sequence seq, to mac. */
static void expect_ping(struct ip_fixture *fx, const uint8_t *mac, uint16_t seq, int line)
{
    uint8_t f[200];
    size_t m = fx_sent(fx, f, sizeof(f));
    if (!is_ip_from_us(f, m, mac) || !fx_is_ip(f + ETH_HDR, m - ETH_HDR, 1, FX_ADDR, FX_PEER) ||
        f[ETH_HDR + 20] != 8 || get_be16(f + ETH_HDR + 26) != seq)
        test_fail(__FILE__, line, "expected echo request seq %u (got %zu bytes)", seq, m);
}

#define EXPECT_PING(fx, mac, seq) expect_ping((fx), (mac), (seq), __LINE__)

/* Advance time and run the timers. */
static void advance(struct ip_fixture *fx, uint64_t us)
{
    fx->now += us;
    ustack_timer(fx->st, fx->now);
}

TEST(arp_announces_at_start)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, false));
    /* RFC 5227 §2.3: a broadcast request with our address as sender and
     * target, target MAC zero. Exactly one. */
    uint8_t f[100];
    size_t m = fx_sent(&fx, f, sizeof(f));
    CHECK(is_arp_from_us(f, m, BCAST_MAC, 1, ZERO_MAC, FX_ADDR));
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(fx.st->stats.arp_tx_announce, 1);
    CHECK_EQ(fx.st->stats.arp_tx, 1);
    fx_close(&fx);
}

TEST(arp_answers_requests_for_us)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    fx_snapshot(&fx);
    arp_in(&fx, 1, PEER_MAC, FX_PEER, FX_ADDR);
    FX_CHECK_MOVED(&fx, "arp.rx", "arp.rx_request", "arp.tx", "arp.tx_reply", "arp.learned",
                   "arp.confirmed");
    /* The reply goes to the asker, with our MAC for our address. */
    uint8_t f[100];
    size_t m = fx_sent(&fx, f, sizeof(f));
    CHECK(is_arp_from_us(f, m, PEER_MAC, 2, PEER_MAC, FX_PEER));
    /* RFC 826: we are the target, so the asker is learned. */
    uint8_t mac[6];
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, mac), ARP_REACHABLE);
    CHECK_MEM(mac, PEER_MAC, 6);
    /* And used at once: no request before the ping. */
    CHECK_EQ(ping(&fx, 1), 0);
    EXPECT_PING(&fx, PEER_MAC, 1);
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

TEST(arp_ignores_requests_for_others)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    fx_snapshot(&fx);
    arp_in(&fx, 1, PEER_MAC, FX_PEER, 0x0a000003u);
    FX_CHECK_MOVED(&fx, "arp.rx", "arp.ignored");
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_NONE);
    /* Nor do unsolicited replies make entries (only update them). */
    fx_snapshot(&fx);
    arp_in(&fx, 2, PEER_MAC, FX_PEER, FX_ADDR);
    FX_CHECK_MOVED(&fx, "arp.rx", "arp.rx_reply", "arp.ignored");
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_NONE);
    /* A request from a sender off our subnet is answered, not learned. */
    arp_in(&fx, 1, PEER_MAC, 0x0a000102u, FX_ADDR);
    CHECK_EQ(fx_pending(&fx), 1);
    CHECK_EQ(arp_lookup(fx.st, 0x0a000102u, NULL), ARP_NONE);
    fx_close(&fx);
}

TEST(arp_answers_probes_without_learning)
{
    /* RFC 5227 §2.1.1: a probe has sender address 0.0.0.0; we defend our
     * address by answering it, and learn nothing from it. */
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    arp_in(&fx, 1, PEER_MAC, 0, FX_ADDR);
    uint8_t f[100];
    size_t m = fx_sent(&fx, f, sizeof(f));
    CHECK(is_arp_from_us(f, m, PEER_MAC, 2, PEER_MAC, 0));
    CHECK_EQ(fx.st->stats.arp_learned, 0);
    fx_close(&fx);
}

TEST(arp_drops_malformed_and_impossible)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    uint8_t f[100];
    size_t n = arp_frame(f, 1, PEER_MAC, FX_PEER, FX_ADDR);
    /* Every truncation. */
    for (size_t len = ETH_HDR; len < n; len++) {
        fx_snapshot(&fx);
        fx_input(&fx, f, len);
        FX_CHECK_MOVED(&fx, "arp.rx", "arp.drop_malformed");
    }
    /* Wrong hardware type, protocol type, lengths, operation. */
    struct {
        size_t at;
        uint8_t value;
    } bad[] = {{15, 6}, {16, 0x86}, {18, 8}, {19, 16}, {21, 3}, {21, 0}, {20, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        arp_frame(f, 1, PEER_MAC, FX_PEER, FX_ADDR);
        f[bad[i].at] = bad[i].value;
        fx_snapshot(&fx);
        fx_input(&fx, f, n);
        FX_CHECK_MOVED(&fx, "arp.rx", "arp.drop_malformed");
    }
    /* Impossible senders: broadcast, multicast, zero or our own MAC; a
     * loopback, multicast or broadcast address. */
    const uint8_t mcast[6] = {0x01, 0, 0x5e, 0, 0, 1};
    const uint8_t *macs[] = {BCAST_MAC, mcast, ZERO_MAC, OUR_MAC};
    for (int i = 0; i < 4; i++) {
        fx_snapshot(&fx);
        arp_in(&fx, 1, macs[i], FX_PEER, FX_ADDR);
        FX_CHECK_MOVED(&fx, "arp.rx", "arp.drop_bad_sender");
    }
    uint32_t ips[] = {0x7f000001u, 0xe0000001u, 0xffffffffu, 0x0a0000ffu};
    for (int i = 0; i < 4; i++) {
        fx_snapshot(&fx);
        arp_in(&fx, 1, PEER_MAC, ips[i], FX_ADDR);
        FX_CHECK_MOVED(&fx, "arp.rx", "arp.drop_bad_sender");
    }
    /* Someone else claiming our address (RFC 5227 §2.4 conflict). */
    fx_snapshot(&fx);
    arp_in(&fx, 1, PEER_MAC, FX_ADDR, FX_ADDR);
    FX_CHECK_MOVED(&fx, "arp.rx", "arp.conflict");
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

TEST(arp_queue_while_resolving)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    /* The first packet triggers one broadcast request and waits. */
    CHECK_EQ(ping(&fx, 1), 0);
    EXPECT_REQUEST(&fx, BCAST_MAC, FX_PEER);
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_RESOLVING);
    /* Four more: the queue holds 3, the oldest go. No more requests. */
    for (uint16_t seq = 2; seq <= 5; seq++)
        CHECK_EQ(ping(&fx, seq), 0);
    CHECK_EQ(arp_queued(fx.st, FX_PEER), 3);
    CHECK_EQ(fx.st->stats.arp_queued, 5);
    CHECK_EQ(fx.st->stats.arp_drop_queue_full, 2);
    CHECK_EQ(fx.st->stats.arp_tx_request, 1);
    CHECK_EQ(fx_pending(&fx), 0);
    /* The reply releases them, in order, to the right MAC. */
    fx.now += 1000;
    arp_in(&fx, 2, PEER_MAC, FX_PEER, FX_ADDR);
    EXPECT_PING(&fx, PEER_MAC, 3);
    EXPECT_PING(&fx, PEER_MAC, 4);
    EXPECT_PING(&fx, PEER_MAC, 5);
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(arp_queued(fx.st, FX_PEER), 0);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_REACHABLE);
    /* No timer is left running for it (past the retry time the stack
     * had asked to be woken for, nothing is due any more). */
    advance(&fx, SEC);
    CHECK_EQ(ustack_timer(fx.st, fx.now), USTACK_NEVER);
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(fx.st->pool.available, fx.st->pool.total);
    fx_close(&fx);
}

TEST(arp_retries_then_gives_up)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    uint64_t t0 = fx.now;
    CHECK_EQ(ping(&fx, 1), 0);
    EXPECT_REQUEST(&fx, BCAST_MAC, FX_PEER);
    /* Requests at 0, 1 and 2 s (the timer says when)... */
    for (int i = 1; i <= 2; i++) {
        CHECK_EQ(ustack_timer(fx.st, fx.now), t0 + (uint64_t)i * SEC);
        advance(&fx, SEC - 1);
        CHECK_EQ(fx_pending(&fx), 0);
        advance(&fx, 1);
        EXPECT_REQUEST(&fx, BCAST_MAC, FX_PEER);
    }
    CHECK_EQ(fx.st->stats.arp_tx_request, 3);
    /* ...then at 3 s the held packet is dropped, counted. */
    fx_snapshot(&fx);
    advance(&fx, SEC);
    FX_CHECK_MOVED(&fx, "arp.resolve_failed", "arp.drop_unresolved");
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_FAILED);
    CHECK_EQ(fx.st->pool.available, fx.st->pool.total);
    /* For the next 3 s, sending there fails at once (the caller sees
     * EHOSTUNREACH) and costs no request. */
    fx_snapshot(&fx);
    CHECK_EQ(ping(&fx, 2), -EHOSTUNREACH);
    FX_CHECK_MOVED(&fx, "arp.drop_failed");
    CHECK_EQ(fx_pending(&fx), 0);
    advance(&fx, 3 * SEC);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_NONE);
    /* Then a packet starts a new resolution. */
    CHECK_EQ(ping(&fx, 3), 0);
    EXPECT_REQUEST(&fx, BCAST_MAC, FX_PEER);
    /* An answer while failed would also have brought it back (merge). */
    fx_close(&fx);
}

TEST(arp_failed_neighbour_comes_back)
{
    struct ustack_arp_config c = {.max_requests = 1, .retry_ms = 500};
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, &c, true));
    CHECK_EQ(ping(&fx, 1), 0);
    EXPECT_REQUEST(&fx, BCAST_MAC, FX_PEER);
    advance(&fx, 500000);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_FAILED);
    /* It speaks up (a gratuitous ARP): RFC 826's merge updates the
     * entry, and traffic flows again. */
    arp_in(&fx, 1, PEER_MAC, FX_PEER, FX_PEER);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_REACHABLE);
    CHECK_EQ(fx_pending(&fx), 0); /* nothing to answer: not for us */
    CHECK_EQ(ping(&fx, 2), 0);
    EXPECT_PING(&fx, PEER_MAC, 2);
    fx_close(&fx);
}

TEST(arp_gratuitous_updates_known_mac)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    arp_in(&fx, 1, PEER_MAC, FX_PEER, FX_ADDR);
    uint8_t f[100];
    fx_sent(&fx, f, sizeof(f));
    const uint8_t moved[6] = {0x02, 0, 0, 0, 0, 0x22};
    fx_snapshot(&fx);
    arp_in(&fx, 2, moved, FX_PEER, FX_PEER); /* gratuitous reply */
    FX_CHECK_MOVED(&fx, "arp.rx", "arp.confirmed");
    CHECK_EQ(ping(&fx, 1), 0);
    EXPECT_PING(&fx, moved, 1);
    fx_close(&fx);
}

TEST(arp_entry_expires_and_is_rechecked)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    arp_in(&fx, 1, PEER_MAC, FX_PEER, FX_ADDR);
    uint8_t f[100];
    fx_sent(&fx, f, sizeof(f));
    /* Within 60 s: used as is. */
    advance(&fx, 60 * SEC - 1);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_REACHABLE);
    CHECK_EQ(ping(&fx, 1), 0);
    EXPECT_PING(&fx, PEER_MAC, 1);
    CHECK_EQ(fx_pending(&fx), 0);
    /* After: still used, but re-checked with a unicast request (RFC 1122
     * §2.3.2.1), once however many packets go meanwhile. */
    advance(&fx, 1);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_STALE);
    fx_snapshot(&fx);
    CHECK_EQ(ping(&fx, 2), 0);
    EXPECT_REQUEST(&fx, PEER_MAC, FX_PEER);
    EXPECT_PING(&fx, PEER_MAC, 2);
    CHECK_EQ(ping(&fx, 3), 0);
    EXPECT_PING(&fx, PEER_MAC, 3);
    CHECK_EQ(fx.st->stats.arp_stale - fx.before.arp_stale, 1);
    /* The answer makes it reachable for another 60 s. */
    arp_in(&fx, 2, PEER_MAC, FX_PEER, FX_ADDR);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_REACHABLE);
    advance(&fx, SEC);
    CHECK_EQ(ustack_timer(fx.st, fx.now), USTACK_NEVER);
    CHECK_EQ(fx_pending(&fx), 0);
    /* Stale again, and this time nobody answers: after 3 unicast
     * requests the neighbour is failed. */
    advance(&fx, 60 * SEC);
    CHECK_EQ(ping(&fx, 4), 0);
    EXPECT_REQUEST(&fx, PEER_MAC, FX_PEER);
    EXPECT_PING(&fx, PEER_MAC, 4);
    advance(&fx, SEC);
    EXPECT_REQUEST(&fx, PEER_MAC, FX_PEER);
    advance(&fx, SEC);
    EXPECT_REQUEST(&fx, PEER_MAC, FX_PEER);
    advance(&fx, SEC);
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_FAILED);
    CHECK_EQ(ping(&fx, 5), -EHOSTUNREACH);
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

TEST(arp_cache_bounded_evicts_oldest)
{
    struct ustack_arp_config c = {.cache_size = 4};
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, &c, true));
    uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0}, f[100];
    for (uint32_t i = 10; i < 20; i++) {
        fx.now += 1000;
        mac[5] = (uint8_t)i;
        arp_in(&fx, 1, mac, 0x0a000000u + i, FX_ADDR);
        fx_sent(&fx, f, sizeof(f));
    }
    CHECK_EQ(fx.st->stats.arp_learned, 10);
    CHECK_EQ(fx.st->stats.arp_evicted, 6);
    for (uint32_t i = 10; i < 16; i++)
        CHECK_EQ(arp_lookup(fx.st, 0x0a000000u + i, NULL), ARP_NONE);
    for (uint32_t i = 16; i < 20; i++) {
        CHECK_EQ(arp_lookup(fx.st, 0x0a000000u + i, mac), ARP_REACHABLE);
        CHECK_EQ(mac[5], i);
    }
    /* Evicting a neighbour being resolved drops what it held. */
    CHECK_EQ(ustack_ping_send(fx.st, 0x0a000030u, 1, 1, "x", 1), 0);
    fx_sent(&fx, f, sizeof(f));
    for (uint32_t i = 40; i < 44; i++) {
        fx.now += 1000;
        arp_in(&fx, 1, mac, 0x0a000000u + i, FX_ADDR);
        fx_sent(&fx, f, sizeof(f));
    }
    CHECK_EQ(arp_lookup(fx.st, 0x0a000030u, NULL), ARP_NONE);
    CHECK_EQ(fx.st->stats.arp_drop_unresolved, 1);
    CHECK_EQ(fx.st->pool.available, fx.st->pool.total);
    fx_close(&fx);
}

TEST(arp_held_packets_freed_with_stack)
{
    /* Packets wait whole (a large one in its large buffer); when the
     * stack goes away with some still waiting, they are returned before
     * the pools are freed (ASan would see the write otherwise). */
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    static uint8_t big[20000];
    CHECK_EQ(ping(&fx, 1), 0);
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 1, 2, big, sizeof(big)), 0);
    CHECK_EQ(arp_queued(fx.st, FX_PEER), 2);
    /* A large packet waits whole, in its large buffer... */
    CHECK_EQ(fx.st->large_pool.available, fx.st->large_pool.total - 1);
    /* ...and is fragmented when the answer comes. */
    uint8_t f[FX_MTU + ETH_HDR];
    fx_sent(&fx, f, sizeof(f));
    arp_in(&fx, 2, PEER_MAC, FX_PEER, FX_ADDR);
    CHECK_EQ(fx_pending(&fx), 1 + 14);
    CHECK_EQ(fx.st->large_pool.available, fx.st->large_pool.total);
    CHECK_EQ(ustack_ping_send(fx.st, 0x0a000009u, 1, 3, big, sizeof(big)), 0);
    fx_close(&fx);
}
