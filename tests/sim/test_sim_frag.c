/*
 * Fragments and Ethernet between two stacks: 64 KiB pings that each stack
 * fragments and the other reassembles, over a bare-IP link and over an
 * Ethernet link where ARP must resolve the peer first, on clean and lossy,
 * reordering, duplicating wires. Replies are checked byte for byte, and at
 * the end every buffer and every byte of reassembly memory is back.
 *
 * A failing seed is printed with the command that replays it:
 *     build/tests/sim sim_frag <seed>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/stack.h"
#include "net/arp.h"
#include "net/frag.h"
#include "simnet.h"
#include "test.h"
#include "ustack/icmp.h"

#define MAX_PING 65507 /* 65535 - 20 (IP) - 8 (ICMP) */
#define PING_ID 0x6b66

struct pinger {
    uint64_t seed;
    uint16_t want_seq;
    size_t want_len;
    bool got;
    unsigned replies, bad;
};

/* Request `seq`'s payload: a function of seed and seq. */
static void payload_for(uint64_t seed, uint16_t seq, uint8_t *out, size_t len)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + seq + 1;
    for (size_t i = 0; i < len; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        out[i] = (uint8_t)s;
    }
}

static void on_reply(void *ctx, uint32_t from, uint16_t id, uint16_t seq, const void *data,
                     size_t len, uint64_t now)
{
    (void)now;
    struct pinger *p = ctx;
    static uint8_t expect[MAX_PING];
    p->replies++;
    if (from != SIMNET_ADDR_B || id != PING_ID || len > MAX_PING) {
        p->bad++;
        return;
    }
    payload_for(p->seed, seq, expect, len);
    if (memcmp(data, expect, len) != 0) {
        p->bad++;
        return;
    }
    if (seq == p->want_seq && len == p->want_len)
        p->got = true;
}

static bool got_reply(struct simnet *net, void *ctx)
{
    (void)net;
    return ((struct pinger *)ctx)->got;
}

static int send_ping(struct simnet *net, struct pinger *p, uint16_t seq, size_t len)
{
    static uint8_t data[MAX_PING + 1]; /* + 1: the test of one too many */
    payload_for(p->seed, seq, data, len);
    p->want_seq = seq;
    p->want_len = len;
    p->got = false;
    return ustack_ping_send(net->node[SIMNET_A].st, SIMNET_ADDR_B, PING_ID, seq, data, len);
}

/* Both stacks: no reassembly memory held, every buffer back in its pool. */
static void check_all_returned(struct simnet *net, uint64_t seed, int line)
{
    for (int i = 0; i < 2; i++) {
        struct ustack *st = net->node[i].st;
        if (frag_bytes_held(st) || frag_datagrams_held(st) ||
            st->pool.available != st->pool.total ||
            st->large_pool.available != st->large_pool.total)
            test_fail(__FILE__, line,
                      "seed %llu: stack %c holds %zu reassembly bytes, %u of %u buffers, "
                      "%u of %u large ones",
                      (unsigned long long)seed, "AB"[i], frag_bytes_held(st),
                      st->pool.total - st->pool.available, st->pool.total,
                      st->large_pool.total - st->large_pool.available, st->large_pool.total);
    }
}

static struct simnet *frag_net(uint64_t seed, enum ustack_link_kind kind, double loss,
                               struct pinger *p)
{
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    cfg.link_kind = kind;
    for (int i = 0; i < 2; i++) {
        cfg.impair[i].loss = loss;
        cfg.impair[i].delay_us = 1 * SIMNET_MS;
        cfg.impair[i].jitter_us = 500;
        /* 100 Mbit/s: a 64 KiB ping takes 5 ms to serialize. */
        cfg.impair[i].bandwidth_bps = 100000000;
    }
    struct simnet *net = simnet_new(&cfg);
    memset(p, 0, sizeof(*p));
    p->seed = seed;
    if (net)
        ustack_set_echo_reply_handler(net->node[SIMNET_A].st, on_reply, p);
    return net;
}

TEST(sim_frag_ping_sizes_across_the_mtu)
{
    /* Clean bare-IP wire: sizes around each multiple of the fragment
     * payload (1480), and the largest; each reply byte-exact. */
    struct pinger p;
    struct simnet *net = frag_net(1, USTACK_LINK_IP, 0, &p);
    REQUIRE(net);
    size_t sizes[] = {1471, 1472, 1473, 1474, 2951, 2952, 2953, 4000, 8000, 30000,
                      65000, MAX_PING - 1, MAX_PING};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        REQUIRE(send_ping(net, &p, (uint16_t)i, sizes[i]) == 0);
        if (simnet_run(net, got_reply, &p, SIMNET_SEC) != 1) {
            test_fail(__FILE__, __LINE__, "no reply to a %zu-byte ping", sizes[i]);
            break;
        }
    }
    CHECK_EQ(p.bad, 0);
    struct ustack_stats a, b;
    ustack_get_stats(net->node[SIMNET_A].st, &a);
    ustack_get_stats(net->node[SIMNET_B].st, &b);
    /* Everything but the first two went as fragments, both ways. */
    CHECK_EQ(a.ip_frag_datagrams, 11);
    CHECK_EQ(b.ip_reasm_ok, 11);
    CHECK_EQ(b.ip_frag_datagrams, 11);
    CHECK_EQ(a.ip_reasm_ok, 11);
    CHECK_EQ(a.ip_frag_tx, b.ip_frag_rx);
    CHECK_EQ(a.ip_reasm_overlap + b.ip_reasm_overlap + a.ip_reasm_evicted + b.ip_reasm_evicted,
             0);
    /* One byte more than the largest IPv4 packet is refused. */
    CHECK_EQ(send_ping(net, &p, 99, MAX_PING + 1), -EMSGSIZE);
    simnet_run(net, NULL, NULL, SIMNET_SEC);
    check_all_returned(net, 1, __LINE__);
    simnet_free(net);
}

/* Does st have mac for ip (fresh or due for a re-check)? */
static bool knows(const struct ustack *st, uint32_t ip, const uint8_t *mac)
{
    uint8_t got[6];
    enum arp_entry_state s = arp_lookup(st, ip, got);
    return (s == ARP_REACHABLE || s == ARP_STALE) && memcmp(got, mac, 6) == 0;
}

/* One run: A pings B with 64 KiB over Ethernet, a ping a second, until
 * `want` replies came back or `tries` pings went out. */
static bool ping_64k_run(uint64_t seed, double loss, unsigned want, unsigned tries)
{
    struct pinger p;
    struct simnet *net = frag_net(seed, USTACK_LINK_ETHERNET, loss, &p);
    if (!net) {
        test_fail(__FILE__, __LINE__, "no simnet");
        return false;
    }
    struct ustack *a = net->node[SIMNET_A].st, *b = net->node[SIMNET_B].st;
    /* Both announced themselves at start; let that settle. Only B's own
     * announcement reached A, and an announcement creates no entry: A
     * still has to ask. */
    simnet_run(net, NULL, NULL, 10 * SIMNET_MS);
    CHECK_EQ(arp_lookup(a, SIMNET_ADDR_B, NULL), ARP_NONE);
    unsigned answered = 0, sent = 0;
    for (uint16_t seq = 1; seq <= tries && answered < want; seq++) {
        int rc = send_ping(net, &p, seq, MAX_PING);
        if (rc == -EHOSTUNREACH) {
            /* Every ARP request was lost: A says so for a while. */
            simnet_run(net, NULL, NULL, SIMNET_SEC);
            continue;
        }
        if (rc != 0) {
            test_fail(__FILE__, __LINE__, "seed %llu: ping_send: %d", (unsigned long long)seed,
                      rc);
            break;
        }
        sent++;
        if (simnet_run(net, got_reply, &p, SIMNET_SEC) == 1) {
            answered++;
            simnet_run(net, NULL, NULL, SIMNET_SEC - 1); /* keep the pace */
        }
    }
    bool ok = true;
    if (answered < want || p.bad) {
        test_fail(__FILE__, __LINE__, "seed %llu: %u of %u pings answered, %u bad replies",
                  (unsigned long long)seed, answered, sent, p.bad);
        ok = false;
    }
    /* ARP did its job: A asked, and B learned A from the request
     * addressed to it, so B never needed to ask (until its entry aged
     * past the reachable time, 60 s); both know the other's MAC. */
    CHECK(knows(a, SIMNET_ADDR_B, b->mac));
    CHECK(knows(b, SIMNET_ADDR_A, a->mac));
    CHECK(a->stats.arp_tx_request >= 1);
    if (net->now < 60 * SIMNET_SEC)
        CHECK_EQ(b->stats.arp_tx_request, 0);
    CHECK_EQ(a->stats.ip_reasm_overlap + b->stats.ip_reasm_overlap, 0);
    /* After the reassembly timeout, every incomplete datagram is gone
     * (B told A about those whose first fragment it had). */
    simnet_run(net, NULL, NULL, 31 * SIMNET_SEC);
    check_all_returned(net, seed, __LINE__);
    CHECK(a->stats.icmp_rx_time_exceeded <= b->stats.icmp_tx_time_exceeded);
    CHECK(b->stats.icmp_rx_time_exceeded <= a->stats.icmp_tx_time_exceeded);
    if (test_failed())
        ok = false;
    simnet_free(net);
    return ok;
}

TEST(sim_frag_ping_64k_over_ethernet_clean)
{
    CHECK(ping_64k_run(1, 0, 5, 5));
}

TEST(sim_frag_ping_64k_over_ethernet_with_loss)
{
    /* 1% of frames lost each way: a 64 KiB ping is 45 fragments each way,
     * so about 40% of round trips survive; 5 answers in 60 tries. */
    uint64_t seed;
    if (simnet_seed_arg(&seed)) {
        ping_64k_run(seed, 0.01, 5, 60);
        return;
    }
    for (seed = 1; seed <= 10; seed++)
        if (!ping_64k_run(seed, 0.01, 5, 60))
            return;
}

TEST(sim_frag_reorder_and_duplicates_over_ethernet)
{
    /* Heavy reordering and duplication: every reply still byte-exact,
     * duplicates counted as such and never taken for overlaps. */
    struct simnet_config cfg;
    simnet_config_init(&cfg, 5);
    cfg.link_kind = USTACK_LINK_ETHERNET;
    for (int i = 0; i < 2; i++) {
        cfg.impair[i].delay_us = 1 * SIMNET_MS;
        cfg.impair[i].reorder = 0.3;
        cfg.impair[i].reorder_us = 2 * SIMNET_MS;
        cfg.impair[i].duplicate = 0.1;
    }
    struct simnet *net = simnet_new(&cfg);
    REQUIRE(net);
    struct pinger p;
    memset(&p, 0, sizeof(p));
    p.seed = 5;
    ustack_set_echo_reply_handler(net->node[SIMNET_A].st, on_reply, &p);
    for (uint16_t seq = 1; seq <= 40; seq++) {
        REQUIRE(send_ping(net, &p, seq, 1000 + (size_t)seq * 1500) == 0);
        if (simnet_run(net, got_reply, &p, SIMNET_SEC) != 1) {
            test_fail(__FILE__, __LINE__, "no reply to ping %u", seq);
            break;
        }
    }
    simnet_run(net, NULL, NULL, SIMNET_SEC);
    CHECK_EQ(p.bad, 0);
    struct ustack *a = net->node[SIMNET_A].st, *b = net->node[SIMNET_B].st;
    CHECK(a->stats.ip_reasm_duplicate + b->stats.ip_reasm_duplicate > 0);
    CHECK_EQ(a->stats.ip_reasm_overlap + b->stats.ip_reasm_overlap, 0);
    simnet_run(net, NULL, NULL, 31 * SIMNET_SEC);
    check_all_returned(net, 5, __LINE__);
    simnet_free(net);
}
