/*
 * Ephemeral ports of active opens (RFC 6056 §3.3.3, tcp_conn.c
 * pick_ephemeral): unpredictable across destinations, a long reuse cycle
 * towards one, and a search that finds the last free port of the range
 * and fails cleanly when there is none.
 */
#include <errno.h>

#include "core/stack.h"
#include "tcp/tcp_int.h"
#include "test.h"
#include "ustack/link.h"

#define PORTS_FIRST 49152u /* the dynamic range, RFC 6335 §6 */
#define PORTS_COUNT 16384u
#define PORTS_LOCAL 0x0a000001u
#define PORTS_PEER 0x0a000002u

struct ports_net {
    struct ustack_link *a, *b;
    struct ustack *st;
};

/* A stack on 10.0.0.1 whose secret is made from seed: the same ports
 * every run. */
static bool ports_net_open(struct ports_net *n, unsigned max_connections,
                           uint8_t seed)
{
    if (ustack_memlink_pair(USTACK_LINK_IP, 1500, 64, &n->a, &n->b) != 0)
        return false;
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = PORTS_LOCAL;
    cfg.has_secret = true;
    for (size_t i = 0; i < sizeof(cfg.secret); i++)
        cfg.secret[i] = (uint8_t)(seed ^ (i * 11));
    cfg.tcp.max_connections = max_connections;
    n->st = ustack_new(&cfg, n->a, 0);
    return n->st != NULL;
}

static void ports_net_close(struct ports_net *n)
{
    ustack_free(n->st); /* destroys every connection left */
    ustack_link_close(n->a);
    ustack_link_close(n->b);
}

/* How far b is past a, going round the range. */
static unsigned ports_step(uint16_t a, uint16_t b)
{
    return (b - a + PORTS_COUNT) % PORTS_COUNT;
}

/* Open a connection to raddr:80; its local port, 0 if the open failed. */
static uint16_t ports_connect(struct ustack *st, uint32_t raddr)
{
    struct tcp_conn *c = tcp_conn_create(st);
    if (!c || tcp_connect(st, c, raddr, 80) != -EINPROGRESS)
        return 0;
    return c->local_port;
}

#define PORTS_DESTS 16

/* One after another to 16 destinations, then to the first again. With one
 * counter for all (RFC 6056 §2.2) each port would be the last plus one;
 * here each destination's ports start from an offset of their own, and
 * only towards one destination do they follow on from each other. */
TEST(tcp_ports_unpredictable_across_destinations)
{
    struct ports_net n;
    REQUIRE(ports_net_open(&n, 64, 0x3c));
    uint16_t port[PORTS_DESTS];
    for (int i = 0; i < PORTS_DESTS; i++) {
        port[i] = ports_connect(n.st, PORTS_PEER + (uint32_t)i);
        REQUIRE(port[i] >= PORTS_FIRST);
    }
    unsigned sequential = 0;
    for (int i = 1; i < PORTS_DESTS; i++)
        sequential += ports_step(port[i - 1], port[i]) == 1;
    CHECK(sequential <= 1); /* 15 with a shared sequence */
    /* The first destination again: its sequence has moved on by one for
     * every port tried since (16, none of them taken with this secret),
     * so no port comes back soon. */
    uint16_t again = ports_connect(n.st, PORTS_PEER);
    REQUIRE(again >= PORTS_FIRST);
    CHECK_EQ(ports_step(port[0], again), PORTS_DESTS);
    ports_net_close(&n);
}

/* Another secret, another port towards the same destination. */
TEST(tcp_ports_depend_on_secret)
{
    struct ports_net n1, n2;
    REQUIRE(ports_net_open(&n1, 64, 0x3c));
    REQUIRE(ports_net_open(&n2, 64, 0x3d));
    uint16_t p1[4], p2[4];
    unsigned same = 0;
    for (int i = 0; i < 4; i++) {
        p1[i] = ports_connect(n1.st, PORTS_PEER + (uint32_t)i);
        p2[i] = ports_connect(n2.st, PORTS_PEER + (uint32_t)i);
        same += p1[i] == p2[i];
    }
    CHECK(same <= 1);
    ports_net_close(&n1);
    ports_net_close(&n2);
}

/* Every port of the range but one held by bind(): an active open still
 * finds that one; with all held it fails with EADDRNOTAVAIL and stays
 * unbound, and bind() and listen() on port 0 fail with EADDRINUSE. */
TEST(tcp_ports_search_finds_last_free_and_fails_when_full)
{
    struct ports_net n;
    REQUIRE(ports_net_open(&n, PORTS_COUNT + 8, 0x3c));
    const uint16_t last_free = 60001;
    for (uint32_t p = PORTS_FIRST; p < PORTS_FIRST + PORTS_COUNT; p++) {
        if (p == last_free)
            continue;
        struct tcp_conn *c = tcp_conn_create(n.st);
        REQUIRE(c);
        REQUIRE(tcp_bind(n.st, c, 0, (uint16_t)p, false) == 0);
    }
    CHECK_EQ(ports_connect(n.st, PORTS_PEER), last_free);
    struct tcp_conn *c = tcp_conn_create(n.st);
    REQUIRE(c);
    CHECK_EQ(tcp_connect(n.st, c, PORTS_PEER + 1, 80), -EADDRNOTAVAIL);
    CHECK(!c->bound);
    CHECK_EQ(c->local_port, 0);
    CHECK_EQ(tcp_bind(n.st, c, 0, 0, false), -EADDRINUSE);
    CHECK_EQ(tcp_listen(n.st, c, 4), -EADDRINUSE);
    /* A port below the range can still be bound by number. */
    CHECK_EQ(tcp_bind(n.st, c, 0, 8080, false), 0);
    ports_net_close(&n);
}
