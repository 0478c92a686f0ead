/*
 * Ping between two stacks over simnet: every size byte-exact on a clean
 * wire, and exact accounting of what survives a lossy or damaging one.
 *
 * A failing seed is printed with the command that replays it:
 *     build/tests/sim sim_icmp <seed>
 */
#include <errno.h>
#include <stdlib.h>

#include "core/bytes.h"
#include "simnet.h"
#include "test.h"
#include "ustack/icmp.h"

#define MAX_PAYLOAD 1472 /* 1500 - 20 (IP) - 8 (ICMP) */
#define PING_ID 0x5157

/* What A sent and what came back. Requests carry seq = their index. */
struct pinger {
    uint8_t sent[MAX_PAYLOAD];
    size_t sent_len;
    uint16_t want_seq;
    bool got;           /* reply to want_seq arrived */
    unsigned replies;   /* every reply, expected or late */
    unsigned bad;       /* replies that did not match what was sent */
    uint64_t rtt;       /* of the last expected reply */
    uint64_t sent_at;
    uint64_t seed;      /* to regenerate any request's payload */
};

/* The payload of request `seq` is a function of the seed and seq, so a
 * late reply can be checked against it too. */
static size_t payload_for(uint64_t seed, uint16_t seq, size_t len, uint8_t *out)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + seq;
    for (size_t i = 0; i < len; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        out[i] = (uint8_t)s;
    }
    return len;
}

static void on_reply(void *ctx, uint32_t from, uint16_t id, uint16_t seq,
                     const void *data, size_t len, uint64_t now)
{
    struct pinger *p = ctx;
    uint8_t expect[MAX_PAYLOAD];
    p->replies++;
    if (from != SIMNET_ADDR_B || id != PING_ID || len > MAX_PAYLOAD) {
        p->bad++;
        return;
    }
    payload_for(p->seed, seq, len, expect);
    if (memcmp(data, expect, len) != 0) {
        p->bad++;
        return;
    }
    if (seq == p->want_seq && len == p->sent_len) {
        p->got = true;
        p->rtt = now - p->sent_at;
    }
}

static bool got_reply(struct simnet *net, void *ctx)
{
    (void)net;
    return ((struct pinger *)ctx)->got;
}

static int send_ping(struct simnet *net, struct pinger *p, uint16_t seq, size_t len)
{
    p->want_seq = seq;
    p->sent_len = payload_for(p->seed, seq, len, p->sent);
    p->got = false;
    p->sent_at = net->now;
    return ustack_ping_send(net->node[SIMNET_A].st, SIMNET_ADDR_B, PING_ID, seq,
                            p->sent, len);
}

static struct simnet *setup(struct simnet_config *cfg, struct pinger *p)
{
    memset(p, 0, sizeof(*p));
    p->seed = cfg->seed;
    struct simnet *net = simnet_new(cfg);
    if (net)
        ustack_set_echo_reply_handler(net->node[SIMNET_A].st, on_reply, p);
    return net;
}

static void stats_of(struct simnet *net, int node, struct ustack_stats *s)
{
    ustack_get_stats(net->node[node].st, s);
}

TEST(sim_icmp_ping_every_size)
{
    uint64_t seed = 1;
    simnet_seed_arg(&seed);
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    cfg.impair[SIMNET_A].delay_us = 3 * SIMNET_MS;
    cfg.impair[SIMNET_B].delay_us = 2 * SIMNET_MS;
    struct pinger p;
    struct simnet *net = setup(&cfg, &p);
    REQUIRE(net);
    for (size_t len = 0; len <= MAX_PAYLOAD; len++) {
        REQUIRE(send_ping(net, &p, (uint16_t)len, len) == 0);
        if (simnet_run(net, got_reply, &p, SIMNET_SEC) != 1) {
            test_fail(__FILE__, __LINE__, "no reply to a %zu-byte ping (seed %llu)",
                      len, (unsigned long long)seed);
            break;
        }
        if (p.rtt != 5 * SIMNET_MS) {
            test_fail(__FILE__, __LINE__, "rtt %llu us for size %zu", (unsigned long long)p.rtt, len);
            break;
        }
    }
    CHECK_EQ(p.bad, 0);
    CHECK_EQ(p.replies, MAX_PAYLOAD + 1);
    struct ustack_stats a, b;
    stats_of(net, SIMNET_A, &a);
    stats_of(net, SIMNET_B, &b);
    CHECK_EQ(a.icmp_tx_echo_request, MAX_PAYLOAD + 1);
    CHECK_EQ(b.icmp_rx_echo_request, MAX_PAYLOAD + 1);
    CHECK_EQ(b.icmp_tx_echo_reply, MAX_PAYLOAD + 1);
    CHECK_EQ(a.icmp_rx_echo_reply, MAX_PAYLOAD + 1);
    /* Up to the MTU nothing was fragmented. */
    CHECK_EQ(a.ip_frag_tx + b.ip_frag_tx, 0);
    simnet_free(net);
}

/* Ping `count` times with random sizes, waiting up to 50 ms for each reply
 * (a lost one is simply not waited for any longer), then let the wire
 * drain. */
static void ping_many(struct simnet *net, struct pinger *p, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        size_t len = simnet_rand(net) % (MAX_PAYLOAD + 1);
        if (send_ping(net, p, (uint16_t)i, len) != 0) {
            p->bad++;
            return;
        }
        simnet_run(net, got_reply, p, 50 * SIMNET_MS);
    }
    simnet_run(net, simnet_idle, NULL, 10 * SIMNET_SEC);
}

/* Lossy wire, both ways: every request that survived was answered, and
 * every reply that survived was received, byte-exact. */
static bool loss_run(uint64_t seed)
{
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    for (int i = 0; i < 2; i++) {
        cfg.impair[i].loss = 0.2;
        cfg.impair[i].delay_us = 4 * SIMNET_MS;
        cfg.impair[i].jitter_us = 2 * SIMNET_MS;
    }
    struct pinger p;
    struct simnet *net = setup(&cfg, &p);
    if (!net)
        return false;
    ping_many(net, &p, 400);
    int failed_before = test_failed();
    struct ustack_stats a, b;
    stats_of(net, SIMNET_A, &a);
    stats_of(net, SIMNET_B, &b);
    const struct simnet_wire_stats *ab = &net->node[SIMNET_A].tx, *ba = &net->node[SIMNET_B].tx;
    CHECK_EQ(p.bad, 0);
    CHECK_EQ(ab->sent, 400);
    CHECK_EQ(ab->sent, ab->lost + ab->delivered);
    CHECK_EQ(b.icmp_rx_echo_request, ab->delivered);   /* requests that survived */
    CHECK_EQ(b.icmp_tx_echo_reply, b.icmp_rx_echo_request);
    CHECK_EQ(ba->sent, b.icmp_tx_echo_reply);
    CHECK_EQ(a.icmp_rx_echo_reply, ba->delivered);     /* replies that survived */
    CHECK_EQ(p.replies, a.icmp_rx_echo_reply);
    CHECK_EQ(a.icmp_rx_echo_reply, b.icmp_rx_echo_request - ba->lost);
    /* The impairment really bit: roughly 20% each way. */
    CHECK(ab->lost > 40 && ab->lost < 130);
    CHECK(ba->lost > 20 && ba->lost < 110);
    simnet_free(net);
    return test_failed() == failed_before;
}

TEST(sim_icmp_ping_with_loss)
{
    uint64_t seed;
    if (simnet_seed_arg(&seed)) {
        loss_run(seed);
        return;
    }
    for (seed = 1; seed <= 5; seed++) {
        if (!loss_run(seed)) {
            printf("    seed %llu failed; replay: build/tests/sim sim_icmp %llu\n",
                   (unsigned long long)seed, (unsigned long long)seed);
            return;
        }
    }
}

/* Corruption, duplication, reordering, jitter and a bandwidth limit: no
 * damaged request is ever answered and no damaged reply ever accepted;
 * every intact copy is. */
static bool damage_run(uint64_t seed)
{
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    for (int i = 0; i < 2; i++) {
        cfg.impair[i].corrupt = 0.3;
        cfg.impair[i].duplicate = 0.1;
        cfg.impair[i].reorder = 0.1;
        cfg.impair[i].delay_us = 2 * SIMNET_MS;
        cfg.impair[i].jitter_us = 3 * SIMNET_MS;
        cfg.impair[i].bandwidth_bps = 10000000;
    }
    struct pinger p;
    struct simnet *net = setup(&cfg, &p);
    if (!net)
        return false;
    ping_many(net, &p, 300);
    int failed_before = test_failed();
    struct ustack_stats a, b;
    stats_of(net, SIMNET_A, &a);
    stats_of(net, SIMNET_B, &b);
    const struct simnet_wire_stats *ab = &net->node[SIMNET_A].tx, *ba = &net->node[SIMNET_B].tx;
    CHECK_EQ(p.bad, 0);
    CHECK_EQ(ab->delivered, ab->sent + ab->duplicated);
    CHECK_EQ(b.icmp_rx_echo_request, ab->delivered - ab->corrupted);
    CHECK_EQ(b.icmp_tx_echo_reply, b.icmp_rx_echo_request);
    CHECK_EQ(a.icmp_rx_echo_reply, ba->delivered - ba->corrupted);
    CHECK_EQ(p.replies, a.icmp_rx_echo_reply);
    CHECK(ab->corrupted > 0 && ab->duplicated > 0 && ab->reordered > 0);
    simnet_free(net);
    return test_failed() == failed_before;
}

TEST(sim_icmp_damaged_frames_never_answered)
{
    uint64_t seed;
    if (simnet_seed_arg(&seed)) {
        damage_run(seed);
        return;
    }
    for (seed = 1; seed <= 3; seed++) {
        if (!damage_run(seed)) {
            printf("    seed %llu failed; replay: build/tests/sim sim_icmp %llu\n",
                   (unsigned long long)seed, (unsigned long long)seed);
            return;
        }
    }
}

/* The same seed gives the same run, event for event. */
TEST(sim_icmp_runs_replay_exactly)
{
    uint64_t totals[2][3];
    for (int run = 0; run < 2; run++) {
        struct simnet_config cfg;
        simnet_config_init(&cfg, 77);
        cfg.impair[SIMNET_A].loss = 0.3;
        cfg.impair[SIMNET_B].jitter_us = 5 * SIMNET_MS;
        cfg.impair[SIMNET_B].corrupt = 0.2;
        struct pinger p;
        struct simnet *net = setup(&cfg, &p);
        REQUIRE(net);
        ping_many(net, &p, 100);
        totals[run][0] = net->now;
        totals[run][1] = p.replies;
        totals[run][2] = net->node[SIMNET_A].tx.lost;
        simnet_free(net);
    }
    CHECK_EQ(totals[0][0], totals[1][0]);
    CHECK_EQ(totals[0][1], totals[1][1]);
    CHECK_EQ(totals[0][2], totals[1][2]);
}

/* Reply arrival times, by sequence number. */
struct arrivals {
    uint64_t at[4];
    unsigned count;
};

static void record_arrival(void *ctx, uint32_t from, uint16_t id, uint16_t seq,
                           const void *data, size_t len, uint64_t now)
{
    struct arrivals *a = ctx;
    (void)from, (void)id, (void)data, (void)len;
    if (seq < 4)
        a->at[seq] = now;
    a->count++;
}

/* The harness's clock: delay and serialization add up as on a real wire,
 * and back-to-back frames queue behind each other. */
TEST(sim_icmp_rtt_reflects_delay_and_bandwidth)
{
    struct simnet_config cfg;
    simnet_config_init(&cfg, 1);
    cfg.impair[SIMNET_A].bandwidth_bps = 1000000; /* 1000 bytes = 8 ms */
    cfg.impair[SIMNET_A].delay_us = 1 * SIMNET_MS;
    cfg.impair[SIMNET_B].delay_us = 1 * SIMNET_MS;
    struct simnet *net = simnet_new(&cfg);
    REQUIRE(net);
    struct arrivals arr = {{0}, 0};
    ustack_set_echo_reply_handler(net->node[SIMNET_A].st, record_arrival, &arr);
    static uint8_t data[972]; /* + 28 = a 1000-byte packet */
    struct ustack *a = net->node[SIMNET_A].st;
    REQUIRE(ustack_ping_send(a, SIMNET_ADDR_B, 1, 0, data, sizeof(data)) == 0);
    REQUIRE(ustack_ping_send(a, SIMNET_ADDR_B, 1, 1, data, sizeof(data)) == 0);
    CHECK_EQ(simnet_run(net, simnet_idle, NULL, SIMNET_SEC), 1);
    CHECK_EQ(arr.count, 2);
    CHECK_EQ(arr.at[0], 8000 + 1000 + 1000);
    CHECK_EQ(arr.at[1], 16000 + 1000 + 1000);
    /* An idle run with no deadline just advances the clock. */
    uint64_t before = net->now;
    CHECK_EQ(simnet_run(net, NULL, NULL, 5 * SIMNET_SEC), 0);
    CHECK_EQ(net->now, before + 5 * SIMNET_SEC);
    simnet_free(net);
}
