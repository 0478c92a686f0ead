/*
 * ARP under a flood of packets to many on-link neighbours that never
 * answer (SYN-ACKs to spoofed sources, as in the TAP SYN-flood interop
 * test), src/net/arp.c: all held packets together take at most a quarter
 * of the packet pool, the latest stay held, the silent addresses evict each
 * other rather than a neighbour that answered, and the stack still reaches
 * that neighbour at once.
 */
#include "core/stack.h"
#include "eth_fixture.h"
#include "net/arp.h"

/* 10.0.0.N: a neighbour on the fixture's /24. */
static uint32_t host(unsigned n)
{
    return (FX_ADDR & FX_MASK) | n;
}

/* Read and discard everything the stack sent; how many frames. */
static unsigned drain(struct ip_fixture *fx)
{
    uint8_t f[200];
    unsigned n = 0;
    while (fx_sent(fx, f, sizeof(f)))
        n++;
    return n;
}

static int ping_to(struct ip_fixture *fx, uint32_t dst, uint16_t seq)
{
    return ustack_ping_send(fx->st, dst, 0x4242, seq, "held", 4);
}

TEST(arp_held_bounded_by_pool_share)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    const unsigned total = fx.st->pool.total;
    const unsigned bound = total / 4;
    const unsigned first = 3, last = 250; /* 248 silent neighbours */
    const unsigned per_host = 3;          /* the default queue_len: each fills */
    REQUIRE(bound > 0 && (last - first + 1) * per_host > bound);

    for (unsigned n = first; n <= last; n++) {
        for (unsigned k = 0; k < per_host; k++)
            CHECK_EQ(ping_to(&fx, host(n), (uint16_t)k), 0);
        drain(&fx); /* the requests; the memlink queue is short */
    }
    const unsigned wanted = (last - first + 1) * per_host;
    CHECK_EQ(fx.st->stats.arp_queued, wanted);
    CHECK_EQ(fx.st->stats.arp_drop_queue_full, wanted - bound);
    /* Only the held packets are out of the pool. */
    CHECK_EQ(fx.st->pool.available, total - bound);
    /* The latest neighbour keeps all its packets, the first none. */
    CHECK_EQ(arp_queued(fx.st, host(last)), per_host);
    CHECK_EQ(arp_queued(fx.st, host(first)), 0);
    CHECK_EQ(arp_lookup(fx.st, host(first), NULL), ARP_RESOLVING);

    /* A neighbour that answers gets its packet, and the pool has room. */
    CHECK_EQ(ping_to(&fx, FX_PEER, 7), 0);
    CHECK_EQ(drain(&fx), 1); /* its request */
    uint8_t f[64];
    fx.now += 1000;
    fx_input(&fx, f, arp_frame(f, 2, PEER_MAC, FX_PEER, FX_ADDR));
    uint8_t out[200];
    size_t m = fx_sent(&fx, out, sizeof(out));
    CHECK(is_ip_from_us(out, m, PEER_MAC));
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_REACHABLE);
    fx_close(&fx);
}

TEST(arp_held_released_when_giving_up)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    const unsigned total = fx.st->pool.total;
    for (unsigned n = 3; n <= 200; n++) {
        CHECK_EQ(ping_to(&fx, host(n), 1), 0);
        drain(&fx);
    }
    CHECK_EQ(fx.st->pool.available, total - total / 4);
    /* max_requests (3) requests a retry_ms (1 s) apart, then give up: every
     * held packet goes back to the pool, counted as unresolved. */
    for (int i = 0; i < 4; i++) {
        fx.now += 1000000;
        ustack_timer(fx.st, fx.now);
        drain(&fx);
    }
    CHECK_EQ(fx.st->pool.available, total);
    CHECK_EQ(fx.st->stats.arp_drop_unresolved, total / 4);
    CHECK_EQ(fx.st->stats.arp_drop_queue_full, 198 - total / 4);
    fx_close(&fx);
}

TEST(arp_eviction_spares_neighbours_that_answered)
{
    /* A full cache: one neighbour that answered, then packets to many
     * silent addresses. They take each other's places, not its. */
    struct ustack_arp_config c = {.cache_size = 4};
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, &c, true));
    uint8_t f[64];
    fx_input(&fx, f, arp_frame(f, 1, PEER_MAC, FX_PEER, FX_ADDR)); /* learned */
    CHECK_EQ(drain(&fx), 1);                                       /* our reply */
    for (unsigned n = 3; n < 23; n++) {
        fx.now += 1000;
        CHECK_EQ(ping_to(&fx, host(n), 1), 0);
        CHECK_EQ(drain(&fx), 1); /* a request */
    }
    CHECK_EQ(fx.st->stats.arp_evicted, 17); /* 20 silent in 3 entries */
    CHECK_EQ(arp_lookup(fx.st, FX_PEER, NULL), ARP_REACHABLE);
    CHECK_EQ(arp_lookup(fx.st, host(22), NULL), ARP_RESOLVING);
    CHECK_EQ(arp_lookup(fx.st, host(19), NULL), ARP_NONE);
    /* Its packets go straight out, no request first. */
    CHECK_EQ(ping_to(&fx, FX_PEER, 2), 0);
    uint8_t out[200];
    size_t m = fx_sent(&fx, out, sizeof(out));
    CHECK(is_ip_from_us(out, m, PEER_MAC));
    fx_close(&fx);
}
