/*
 * TCP between two stacks on simnet's simulated wire (tests/sim/simnet.h),
 * driven through the calls of src/tcp/tcp.h (no socket layer), in virtual
 * time: minutes of retransmission timeouts run in milliseconds.
 *
 * Impairments (loss, reordering, duplication, corruption, delay) come from
 * a seeded generator, so a failing run replays exactly: tests that take a
 * seed print it on failure, and `build/tests/sim <test> <seed>` reruns it.
 */
#include <errno.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "core/stack.h"
#include "tcp/tcp.h"
#include "tcp/tcp_int.h"
#include "simnet.h"
#include "test.h"
#include "ustack/socket.h"
#include "ustack/tcp_info.h"
#include "ustack/ustack.h"

#define ADDR_A SIMNET_ADDR_A /* 10.0.0.1 */
#define ADDR_B SIMNET_ADDR_B /* 10.0.0.2 */
#define MS 1000ull
#define SEC 1000000ull

/* The two stacks on simnet's wire (tests/sim/simnet.h): stack a
 * (10.0.0.1) is st[0], stack b (10.0.0.2) is st[1]. */
struct net {
    struct simnet *sim;
    struct ustack *st[2];
};

/* Both stacks with a short MSL (TIME-WAIT lasts 2 s), a one-way delay
 * and a loss rate (per million frames, both directions). */
static int net_init_with(struct net *n, struct simnet_config *cfg)
{
    for (int i = 0; i < 2; i++) {
        cfg->stack[i].pbuf_count = 512;
        cfg->stack[i].tcp.msl_ms = 1000;
    }
    n->sim = simnet_new(cfg);
    if (!n->sim)
        return -1;
    n->st[0] = n->sim->node[SIMNET_A].st;
    n->st[1] = n->sim->node[SIMNET_B].st;
    return 0;
}

static int net_init(struct net *n, uint64_t latency, unsigned loss_ppm,
                    uint64_t seed)
{
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    for (int i = 0; i < 2; i++) {
        cfg.impair[i].delay_us = latency;
        cfg.impair[i].loss = loss_ppm / 1e6;
    }
    return net_init_with(n, &cfg);
}

static void net_free(struct net *n)
{
    simnet_free(n->sim);
}

static void set_loss(struct net *n, double loss)
{
    n->sim->cfg.impair[0].loss = loss;
    n->sim->cfg.impair[1].loss = loss;
}

static uint64_t frames_lost(const struct net *n)
{
    return n->sim->node[0].tx.lost + n->sim->node[1].tx.lost;
}

static uint32_t rnd(struct net *n)
{
    return (uint32_t)simnet_rand(n->sim);
}

/* simnet_run's stop condition is checked after every event; this one
 * lets exactly one event happen (the first check comes before any). */
static bool one_event(struct simnet *sim, void *ctx)
{
    (void)sim;
    return ++*(int *)ctx >= 2;
}

/* Run until step(n, ctx) holds (true) or `limit` microseconds of virtual
 * time pass (false). step may call the TCP API (send, receive, close):
 * it runs between events, so that simnet sees the frames and timers those
 * calls create before it picks the next event. */
static bool run(struct net *n, bool (*step)(struct net *, void *), void *ctx,
                uint64_t limit)
{
    uint64_t end = n->sim->now + limit;
    for (long events = 0; events < 50000000; events++) {
        if (step && step(n, ctx))
            return true;
        int seen = 0;
        int rc = simnet_run(n->sim, one_event, &seen, end - n->sim->now);
        if (rc < 0)
            break;
        if (rc == 0) /* the time is up */
            return step && step(n, ctx);
    }
    CHECK(!"livelock: too many events");
    return false;
}

static void run_for(struct net *n, uint64_t dt)
{
    run(n, NULL, NULL, dt);
}

/* ---- Connection setup helpers --------------------------------------------- */

struct pair {
    struct tcp_conn *client, *server, *listener;
};

static bool accepted(struct net *n, void *ctx)
{
    struct pair *p = ctx;
    if (!p->server)
        p->server = tcp_accept(n->st[1], p->listener);
    return p->server && tcp_events(p->client) & 0x2 /* WRITABLE */;
}

/* Listen on b:port, connect from a, accept. */
static bool open_pair(struct net *n, struct pair *p, uint16_t port)
{
    memset(p, 0, sizeof(*p));
    p->listener = tcp_conn_create(n->st[1]);
    if (!p->listener || tcp_bind(n->st[1], p->listener, 0, port, false) != 0 ||
        tcp_listen(n->st[1], p->listener, 16) != 0)
        return false;
    p->client = tcp_conn_create(n->st[0]);
    if (!p->client || tcp_connect(n->st[0], p->client, ADDR_B, port) != -EINPROGRESS)
        return false;
    return run(n, accepted, p, 30 * SEC);
}

static const char *state_of(const struct tcp_conn *c)
{
    return tcp_state_name(c->state);
}

#define CHECK_STATE(c, name)                                                  \
    do {                                                                      \
        if (strcmp(state_of(c), name) != 0)                                   \
            test_fail(__FILE__, __LINE__, "state %s, expected %s",           \
                      state_of(c), name);                                     \
    } while (0)

TEST(sim_tcp_connect_accept)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    CHECK_STATE(p.client, "ESTABLISHED");
    CHECK_STATE(p.server, "ESTABLISHED");
    uint32_t addr;
    uint16_t port;
    tcp_remote_addr(p.server, &addr, &port);
    CHECK_EQ(addr, ADDR_A);
    tcp_local_addr(p.client, &addr, &port);
    CHECK(port >= 49152);
    CHECK_EQ(n.st[1]->stats.tcp_passive_opens, 1);
    CHECK_EQ(n.st[0]->stats.tcp_active_opens, 1);
    /* One round trip measured on each side: SRTT = 10 ms. */
    CHECK_EQ(p.client->rtt.srtt, 10 * MS);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}

/* ---- Bulk transfer ----------------------------------------------------------- */

/* Byte i of a stream: a pattern that catches reordering and duplication. */
static uint8_t pattern(uint64_t i, unsigned salt)
{
    return (uint8_t)((i * 2654435761u + salt) >> 13);
}

struct stream {
    struct tcp_conn *from, *to;
    struct ustack *st_from, *st_to;
    uint64_t total, sent, received;
    unsigned salt;
    bool bad;
};

static void stream_pump(struct stream *s)
{
    uint8_t buf[4096];
    while (s->sent < s->total) {
        size_t len = sizeof(buf);
        if (len > s->total - s->sent)
            len = (size_t)(s->total - s->sent);
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(s->sent + i, s->salt);
        ssize_t r = tcp_send(s->st_from, s->from, buf, len, 0);
        if (r <= 0)
            break;
        s->sent += (uint64_t)r;
    }
    ssize_t r;
    while ((r = tcp_recv(s->st_to, s->to, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(s->received + (uint64_t)i, s->salt))
                s->bad = true;
        s->received += (uint64_t)r;
    }
}

static bool streams_done(struct net *n, void *ctx)
{
    (void)n;
    struct stream *s = ctx;
    stream_pump(&s[0]);
    stream_pump(&s[1]);
    return s[0].received == s[0].total && s[1].received == s[1].total;
}

static void transfer_both_ways(struct net *n, struct pair *p, uint64_t bytes,
                               uint64_t limit)
{
    struct stream s[2] = {
        {p->client, p->server, n->st[0], n->st[1], bytes, 0, 0, 1, false},
        {p->server, p->client, n->st[1], n->st[0], bytes, 0, 0, 2, false},
    };
    CHECK(run(n, streams_done, s, limit));
    CHECK_EQ(s[0].received, bytes);
    CHECK_EQ(s[1].received, bytes);
    CHECK(!s[0].bad);
    CHECK(!s[1].bad);
}

TEST(sim_tcp_transfer_1mib_both_ways)
{
    struct net n;
    REQUIRE(net_init(&n, 1 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 5001));
    transfer_both_ways(&n, &p, 1024 * 1024, 120 * SEC);
    run_for(&n, 1 * SEC); /* the last ACKs arrive */
    CHECK_EQ(n.st[0]->stats.tcp_retransmits, 0);
    CHECK_EQ(p.client->bytes_acked, 1024 * 1024);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}

TEST(sim_tcp_transfer_with_loss)
{
    const char *arg = test_arg(0);
    uint64_t seed = arg ? strtoull(arg, NULL, 0) : 12345;
    struct net n;
    REQUIRE(net_init(&n, 2 * MS, 20000 /* 2% */, seed) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 5002));
    transfer_both_ways(&n, &p, 1024 * 1024, 3600 * SEC);
    CHECK(frames_lost(&n) > 0);
    CHECK(n.st[0]->stats.tcp_retransmits + n.st[1]->stats.tcp_retransmits > 0);
    if (test_failed())
        printf("    (replay: sim sim_tcp_transfer_with_loss %llu)\n",
               (unsigned long long)seed);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}

/* ---- Sequence numbers across 2^32 -------------------------------------------- */

TEST(sim_tcp_transfer_across_sequence_wrap)
{
    struct net n;
    REQUIRE(net_init(&n, 1 * MS, 0, 1) == 0);
    /* Both sides start 100 KiB before the wrap, so 1 MiB crosses it. */
    tcp_debug_set_next_iss(n.st[0], 0xffffffffu - 100000);
    tcp_debug_set_next_iss(n.st[1], 0xfffffff0u);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 5003));
    CHECK_EQ(p.client->snd.iss, 0xffffffffu - 100000);
    CHECK_EQ(p.server->snd.iss, 0xfffffff0u);
    transfer_both_ways(&n, &p, 1024 * 1024, 120 * SEC);
    run_for(&n, 1 * SEC);
    CHECK(seq_lt(p.client->snd.iss, 0x10) && p.client->snd.una < 0x80000000u);
    CHECK_EQ(p.client->snd.una, p.client->snd.iss + 1 + 1024 * 1024);
    CHECK_EQ(p.server->rcv.nxt, p.client->snd.una);
    CHECK_EQ(n.st[0]->stats.tcp_drop_unacceptable + n.st[1]->stats.tcp_drop_unacceptable, 0);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}

/* ---- Closing, in every order ----------------------------------------------------- */

static unsigned conns(struct net *n, int i)
{
    return n->st[i]->tcp->conn_count;
}

/* The side that closes first ends in TIME-WAIT for 2*MSL (2 s here); the
 * other goes through CLOSE-WAIT and LAST-ACK and is freed at once. */
TEST(sim_tcp_close_client_first)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 7));
    tcp_close(n.st[1], p.listener);
    struct tcp_conn *client = p.client; /* freed by TCP later: look, don't keep */
    tcp_shutdown(n.st[0], client, SHUT_WR);
    run_for(&n, 100 * MS);
    CHECK_STATE(client, "FIN-WAIT-2");
    CHECK_STATE(p.server, "CLOSE-WAIT");
    uint8_t buf[16];
    CHECK_EQ(tcp_recv(n.st[1], p.server, buf, sizeof(buf)), 0); /* EOF */
    CHECK(tcp_events(p.server) & 0x1);                            /* READABLE */
    /* The server may still send in CLOSE-WAIT (half-close). */
    CHECK_EQ(tcp_send(n.st[1], p.server, "bye", 3, 0), 3);
    run_for(&n, 100 * MS);
    CHECK_EQ(tcp_recv(n.st[0], client, buf, sizeof(buf)), 3);
    CHECK_EQ(tcp_send(n.st[0], client, "x", 1, 0), -EPIPE);
    tcp_close(n.st[0], client);
    tcp_close(n.st[1], p.server);
    CHECK_STATE(p.server, "LAST-ACK");
    run_for(&n, 100 * MS);
    CHECK_EQ(conns(&n, 1), 0); /* LAST-ACK -> CLOSED, freed */
    CHECK_EQ(conns(&n, 0), 1); /* TIME-WAIT */
    CHECK_STATE(n.st[0]->tcp->all, "TIME-WAIT");
    run_for(&n, 1900 * MS);
    CHECK_EQ(conns(&n, 0), 1); /* 2 MSL not over yet */
    run_for(&n, 200 * MS);
    CHECK_EQ(conns(&n, 0), 0);
    CHECK_EQ(n.st[0]->stats.tcp_time_wait_expired, 1);
    net_free(&n);
}

TEST(sim_tcp_close_server_first)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 7));
    tcp_close(n.st[1], p.listener);
    CHECK_EQ(tcp_send(n.st[1], p.server, "hello", 5, 0), 5);
    tcp_close(n.st[1], p.server); /* data first, then FIN */
    run_for(&n, 100 * MS);
    uint8_t buf[16];
    CHECK_EQ(tcp_recv(n.st[0], p.client, buf, sizeof(buf)), 5);
    CHECK_MEM(buf, "hello", 5);
    CHECK_EQ(tcp_recv(n.st[0], p.client, buf, sizeof(buf)), 0);
    CHECK_STATE(p.client, "CLOSE-WAIT");
    CHECK_STATE(n.st[1]->tcp->all, "FIN-WAIT-2");
    tcp_close(n.st[0], p.client);
    run_for(&n, 100 * MS);
    CHECK_EQ(conns(&n, 0), 0);
    CHECK_STATE(n.st[1]->tcp->all, "TIME-WAIT");
    run_for(&n, 2100 * MS);
    CHECK_EQ(conns(&n, 1), 0);
    net_free(&n);
}

/* Both FINs cross on the wire: FIN-WAIT-1 -> CLOSING -> TIME-WAIT on both
 * sides (RFC 9293 §3.6, figure 13). */
TEST(sim_tcp_close_simultaneous)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 7));
    tcp_close(n.st[1], p.listener);
    struct tcp_conn *a = p.client, *b = p.server;
    tcp_shutdown(n.st[0], a, SHUT_WR);
    tcp_shutdown(n.st[1], b, SHUT_WR);
    CHECK_STATE(a, "FIN-WAIT-1");
    CHECK_STATE(b, "FIN-WAIT-1");
    /* One-way delay 5 ms: at 5 ms each FIN arrives before its ACK. */
    run_for(&n, 5 * MS);
    CHECK_STATE(a, "CLOSING");
    CHECK_STATE(b, "CLOSING");
    run_for(&n, 50 * MS);
    CHECK_STATE(a, "TIME-WAIT");
    CHECK_STATE(b, "TIME-WAIT");
    tcp_close(n.st[0], a);
    tcp_close(n.st[1], b);
    run_for(&n, 2100 * MS);
    CHECK_EQ(conns(&n, 0), 0);
    CHECK_EQ(conns(&n, 1), 0);
    net_free(&n);
}

/* The user keeps the block after the connection is over: it stays CLOSED,
 * reads give EOF, until tcp_close. */
TEST(sim_tcp_closed_block_stays_for_its_owner)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 7));
    tcp_shutdown(n.st[0], p.client, SHUT_WR);
    tcp_shutdown(n.st[1], p.server, SHUT_WR);
    run_for(&n, 5 * SEC);
    CHECK_STATE(p.client, "CLOSED");
    CHECK_STATE(p.server, "CLOSED");
    uint8_t buf[4];
    CHECK_EQ(tcp_recv(n.st[0], p.client, buf, sizeof(buf)), 0);
    CHECK(tcp_events(p.client) & 0x8); /* HUP */
    CHECK_EQ(tcp_take_error(p.client), 0);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    CHECK_EQ(conns(&n, 0), 0);
    CHECK_EQ(conns(&n, 1), 0);
    net_free(&n);
}

/* ---- Failures --------------------------------------------------------------------- */

static bool failed_conn(struct net *n, void *ctx)
{
    (void)n;
    return ((struct tcp_conn *)ctx)->fail != 0;
}

TEST(sim_tcp_connect_refused)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct tcp_conn *c = tcp_conn_create(n.st[0]);
    REQUIRE(c);
    CHECK_EQ(tcp_connect(n.st[0], c, ADDR_B, 9), -EINPROGRESS);
    CHECK(run(&n, failed_conn, c, 1 * SEC));
    CHECK_EQ(c->fail, ECONNREFUSED);
    CHECK(tcp_events(c) & 0x4); /* ERROR */
    CHECK_EQ(tcp_take_error(c), ECONNREFUSED);
    CHECK_EQ(tcp_take_error(c), 0);
    CHECK_EQ(n.st[1]->stats.tcp_rst_closed_port, 1);
    CHECK_EQ(tcp_send(n.st[0], c, "x", 1, 0), -ECONNREFUSED);
    tcp_close(n.st[0], c);
    net_free(&n);
}

/* Every frame lost: the SYN is sent 1 + syn_retries (7) times, with the
 * RTO doubling from 1 s and capped at 60 s: retransmissions at 1, 3, 7,
 * 15, 31, 63 and 123 s, then ETIMEDOUT at 183 s (RFC 1122 §4.2.3.5 asks
 * for at least 3 minutes). */
TEST(sim_tcp_syn_timeout)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 1000000, 1) == 0);
    struct tcp_conn *c = tcp_conn_create(n.st[0]);
    REQUIRE(c);
    CHECK_EQ(tcp_connect(n.st[0], c, ADDR_B, 80), -EINPROGRESS);
    CHECK(!run(&n, failed_conn, c, 182 * SEC));
    CHECK(run(&n, failed_conn, c, 2 * SEC));
    CHECK_EQ(c->fail, ETIMEDOUT);
    CHECK_EQ(n.st[0]->stats.tcp_retransmits, 7);
    CHECK_EQ(n.st[0]->stats.tcp_timeout_aborts, 1);
    tcp_close(n.st[0], c);
    net_free(&n);
}

TEST(sim_tcp_data_timeout)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    set_loss(&n, 1.0); /* the path dies */
    CHECK_EQ(tcp_send(n.st[0], p.client, "data", 4, 0), 4);
    CHECK(run(&n, failed_conn, p.client, 3600 * SEC));
    CHECK_EQ(p.client->fail, ETIMEDOUT);
    /* data_retries timeouts, and before the first one the tail loss
     * probes (RFC 8985 §7; SACK is negotiated): all TCP_TLP_MAX_TRIES go
     * unanswered. */
    CHECK_EQ(n.st[0]->stats.tcp_tlp_probes, TCP_TLP_MAX_TRIES);
    CHECK_EQ(n.st[0]->stats.tcp_retransmits, 12 + TCP_TLP_MAX_TRIES);
    uint8_t buf[4];
    CHECK_EQ(tcp_recv(n.st[0], p.client, buf, 4), -ETIMEDOUT);
    tcp_close(n.st[0], p.client);
    net_free(&n);
}

/* Closing with unread data resets the connection (RFC 2525 §2.17). */
TEST(sim_tcp_close_with_unread_data_resets)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    CHECK_EQ(tcp_send(n.st[1], p.server, "unread", 6, 0), 6);
    run_for(&n, 100 * MS);
    tcp_close(n.st[0], p.client);
    CHECK_EQ(n.st[0]->stats.tcp_rst_unread_close, 1);
    CHECK(run(&n, failed_conn, p.server, 1 * SEC));
    CHECK_EQ(p.server->fail, ECONNRESET);
    uint8_t buf[8];
    CHECK_EQ(tcp_recv(n.st[1], p.server, buf, sizeof(buf)), -ECONNRESET);
    CHECK_EQ(tcp_send(n.st[1], p.server, "x", 1, 0), -ECONNRESET);
    CHECK_EQ(conns(&n, 0), 0);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}

/* ---- Flow control ---------------------------------------------------------------- */

struct slow_reader {
    struct stream s;
    uint64_t resume_at;
};

static bool slow_reader_step(struct net *n, void *ctx)
{
    struct slow_reader *r = ctx;
    if (n->sim->now >= r->resume_at) {
        stream_pump(&r->s);
    } else {
        /* Only send; the reader sleeps. */
        uint64_t received = r->s.received;
        struct tcp_conn *to = r->s.to;
        r->s.to = NULL;
        uint8_t buf[1024];
        while (r->s.sent < r->s.total) {
            for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = pattern(r->s.sent + i, r->s.salt);
            ssize_t k = tcp_send(r->s.st_from, r->s.from, buf, sizeof(buf), 0);
            if (k <= 0)
                break;
            r->s.sent += (uint64_t)k;
        }
        r->s.to = to;
        r->s.received = received;
    }
    return r->s.received == r->s.total;
}

/* A receiver with a 4 KiB buffer that stops reading for 10 s: the window
 * closes, the sender probes it (persist timer), and the transfer finishes
 * byte-exact once the reader resumes. */
TEST(sim_tcp_zero_window_probe)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    memset(&p, 0, sizeof(p));
    p.listener = tcp_conn_create(n.st[1]);
    REQUIRE(p.listener);
    CHECK_EQ(tcp_setopt(n.st[1], p.listener, USTACK_SO_RCVBUF, 4096), 0);
    REQUIRE(tcp_bind(n.st[1], p.listener, 0, 80, false) == 0);
    REQUIRE(tcp_listen(n.st[1], p.listener, 4) == 0);
    p.client = tcp_conn_create(n.st[0]);
    REQUIRE(tcp_connect(n.st[0], p.client, ADDR_B, 80) == -EINPROGRESS);
    REQUIRE(run(&n, accepted, &p, 5 * SEC));
    struct slow_reader r = {
        {p.client, p.server, n.st[0], n.st[1], 64 * 1024, 0, 0, 7, false},
        n.sim->now + 10 * SEC,
    };
    CHECK(run(&n, slow_reader_step, &r, 120 * SEC));
    CHECK_EQ(r.s.received, 64 * 1024);
    CHECK(!r.s.bad);
    CHECK(n.st[0]->stats.tcp_window_probes >= 2);
    CHECK_EQ(p.client->fail, 0);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}

/* ---- Crafted segments --------------------------------------------------------------- */

struct raw_seg {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    const uint8_t *opts; /* length a multiple of 4 */
    size_t opt_len;
    const void *data;
    size_t len;
};

/* An IPv4 packet carrying s, with correct checksums; returns its length. */
static size_t build_frame(uint8_t *f, const struct raw_seg *s)
{
    size_t tcp_len = 20 + s->opt_len + s->len;
    size_t total = 20 + tcp_len;
    memset(f, 0, 40);
    f[0] = 0x45;
    put_be16(f + 2, (uint16_t)total);
    f[8] = 64;
    f[9] = 6;
    put_be32(f + 12, s->src);
    put_be32(f + 16, s->dst);
    put_be16(f + 10, cksum_finish(cksum_add(0, f, 20)));
    uint8_t *t = f + 20;
    put_be16(t, s->sport);
    put_be16(t + 2, s->dport);
    put_be32(t + 4, s->seq);
    put_be32(t + 8, s->ack);
    t[12] = (uint8_t)(((20 + s->opt_len) / 4) << 4);
    t[13] = s->flags;
    put_be16(t + 14, s->wnd);
    if (s->opt_len)
        memcpy(t + 20, s->opts, s->opt_len);
    if (s->len)
        memcpy(t + 20 + s->opt_len, s->data, s->len);
    uint32_t sum = cksum_pseudo_ipv4(s->src, s->dst, 6, (uint16_t)tcp_len);
    put_be16(t + 16, cksum_finish(cksum_add(sum, t, tcp_len)));
    return total;
}

static void inject(struct net *n, int to, const struct raw_seg *s)
{
    uint8_t f[1600];
    size_t len = build_frame(f, s);
    ustack_input(n->st[to], f, len, n->sim->now);
}

static bool client_established(struct net *n, void *ctx)
{
    (void)n;
    return ((struct tcp_conn *)ctx)->state == TCP_ESTABLISHED;
}

/* 20,000 spoofed SYNs fill the SYN queue; from then on the listener
 * answers with SYN cookies, so a real client still gets in at once. */
TEST(sim_tcp_syn_flood_cookies)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct tcp_conn *l = tcp_conn_create(n.st[1]);
    REQUIRE(l && tcp_bind(n.st[1], l, 0, 80, false) == 0);
    REQUIRE(tcp_listen(n.st[1], l, 128) == 0);
    uint8_t mss_opt[4] = {2, 4, 0x05, 0xb4};
    for (uint32_t i = 0; i < 20000; i++) {
        struct raw_seg syn = {
            .src = 0x0a020000u + i + 1, /* 10.2.x.y: nobody */
            .dst = ADDR_B, .sport = (uint16_t)(1024 + i), .dport = 80,
            .seq = i * 7919u, .flags = TCP_SYN, .wnd = 65535,
            .opts = mss_opt, .opt_len = 4,
        };
        inject(&n, 1, &syn);
        /* Drain b's link: the SYN-ACKs go to addresses that do not exist. */
        uint8_t f[1600];
        while (ustack_link_recv(n.sim->node[SIMNET_A].link, f, sizeof(f)) > 0)
            ;
    }
    CHECK_EQ(l->listen.syn_q.len, n.st[1]->cfg.tcp.syn_backlog);
    CHECK_EQ(n.st[1]->stats.tcp_passive_opens, n.st[1]->cfg.tcp.syn_backlog);
    CHECK_EQ(n.st[1]->stats.tcp_syncookies_sent, 20000 - n.st[1]->cfg.tcp.syn_backlog);

    struct tcp_conn *c = tcp_conn_create(n.st[0]);
    REQUIRE(c && tcp_connect(n.st[0], c, ADDR_B, 80) == -EINPROGRESS);
    uint64_t start = n.sim->now;
    CHECK(run(&n, client_established, c, 2 * SEC));
    CHECK(n.sim->now - start < 1 * SEC);
    run_for(&n, 100 * MS);
    CHECK_EQ(n.st[1]->stats.tcp_syncookies_valid, 1);
    struct tcp_conn *s = tcp_accept(n.st[1], l);
    REQUIRE(s);
    CHECK_EQ(s->snd_mss, 1460);
    /* The cookie connection carries data like any other. */
    struct pair p = {c, s, l};
    transfer_both_ways(&n, &p, 100000, 60 * SEC);
    /* The half-open entries time out (SYN-ACK retried syn_retries times). */
    run_for(&n, 200 * SEC);
    CHECK_EQ(l->listen.syn_q.len, 0);
    CHECK_EQ(conns(&n, 1), 2); /* the listener and the accepted connection */
    tcp_close(n.st[0], c);
    tcp_close(n.st[1], s);
    tcp_close(n.st[1], l);
    net_free(&n);
}

/* An ACK that looks like it answers a cookie but does not: counted, and
 * answered with a RST as any ACK to a listener is. */
TEST(sim_tcp_forged_cookie_rejected)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    n.st[1]->cfg.tcp.syn_backlog = 1;
    struct tcp_conn *l = tcp_conn_create(n.st[1]);
    REQUIRE(l && tcp_bind(n.st[1], l, 0, 80, false) == 0);
    REQUIRE(tcp_listen(n.st[1], l, 8) == 0);
    for (uint32_t i = 0; i < 2; i++) {
        struct raw_seg syn = {.src = 0x0a020001u + i, .dst = ADDR_B, .sport = 999,
                              .dport = 80, .seq = 1000, .flags = TCP_SYN, .wnd = 1000};
        inject(&n, 1, &syn);
    }
    CHECK_EQ(n.st[1]->stats.tcp_syncookies_sent, 1);
    struct raw_seg ack = {.src = 0x0a020002u, .dst = ADDR_B, .sport = 999, .dport = 80,
                          .seq = 1001, .ack = 0x12345678, .flags = TCP_ACK, .wnd = 1000};
    inject(&n, 1, &ack);
    CHECK_EQ(n.st[1]->stats.tcp_syncookies_invalid, 1);
    CHECK_EQ(n.st[1]->stats.tcp_syncookies_valid, 0);
    CHECK_EQ(l->listen.accept_q.len, 0);
    tcp_close(n.st[1], l);
    net_free(&n);
}

/* ---- RFC 5961 --------------------------------------------------------------------- */

/* A segment "from the client" to the server of pair p. */
static struct raw_seg from_client(const struct pair *p, uint32_t seq, uint32_t ack,
                                  uint8_t flags)
{
    struct raw_seg s = {
        .src = ADDR_A, .dst = ADDR_B, .sport = p->client->local_port,
        .dport = p->server->local_port, .seq = seq, .ack = ack, .flags = flags,
        .wnd = 65535,
    };
    return s;
}

TEST(sim_tcp_rfc5961_rst_and_syn)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    /* The raw segments below carry no options: without timestamps (RFC
     * 7323 §3.2 would have them dropped) and window scaling (so the
     * window stays below the "outside" sequence number). */
    n.st[0]->cfg.tcp.timestamps_off = true;
    n.st[0]->cfg.tcp.wscale_off = true;
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    struct ustack *b = n.st[1];
    uint32_t nxt = p.server->rcv.nxt;
    /* In the window but not RCV.NXT: challenge ACK, connection lives. */
    struct raw_seg rst = from_client(&p, nxt + 1000, 0, TCP_RST);
    inject(&n, 1, &rst);
    CHECK_STATE(p.server, "ESTABLISHED");
    CHECK_EQ(b->stats.tcp_challenge_ack, 1);
    /* Outside the window: dropped silently. */
    rst.seq = nxt + 200000;
    inject(&n, 1, &rst);
    CHECK_STATE(p.server, "ESTABLISHED");
    CHECK_EQ(b->stats.tcp_challenge_ack, 1);
    /* A SYN on a synchronized connection, any sequence number: challenge. */
    struct raw_seg syn = from_client(&p, 12345, 0, TCP_SYN);
    inject(&n, 1, &syn);
    syn.seq = nxt;
    inject(&n, 1, &syn);
    CHECK_STATE(p.server, "ESTABLISHED");
    CHECK_EQ(b->stats.tcp_challenge_ack, 2); /* the out-of-window one got a plain ACK */
    /* Data whose ACK is far below SND.UNA - MAX.SND.WND: ignored. */
    struct raw_seg data = from_client(&p, nxt, p.server->snd.una - 0x40000000u, TCP_ACK);
    data.data = "evil";
    data.len = 4;
    inject(&n, 1, &data);
    CHECK_EQ(p.server->rcv.nxt, nxt);
    CHECK_EQ(b->stats.tcp_drop_bad_ack, 1);
    /* The exact RST closes. */
    rst.seq = nxt;
    inject(&n, 1, &rst);
    CHECK_EQ(p.server->fail, ECONNRESET);
    CHECK_EQ(b->stats.tcp_rst_rx, 1);
    tcp_close(n.st[0], p.client);
    tcp_close(b, p.server);
    tcp_close(b, p.listener);
    net_free(&n);
}

TEST(sim_tcp_rfc5961_challenge_ack_rate_limit)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    struct ustack *b = n.st[1];
    struct raw_seg rst = from_client(&p, p.server->rcv.nxt + 1, 0, TCP_RST);
    for (int i = 0; i < 100; i++)
        inject(&n, 1, &rst);
    CHECK_EQ(b->stats.tcp_challenge_ack, b->cfg.tcp.challenge_ack_burst);
    CHECK_EQ(b->stats.tcp_challenge_ack_limited, 100 - b->cfg.tcp.challenge_ack_burst);
    CHECK_STATE(p.server, "ESTABLISHED");
    tcp_close(n.st[0], p.client);
    tcp_close(b, p.server);
    tcp_close(b, p.listener);
    net_free(&n);
}

/* ---- Loss during the handshake and the close ----------------------------------------- */

struct lossy_run {
    struct pair p;
    struct stream s[2];
    int phase; /* 0 transfer, 1 closing */
};

static bool lossy_step(struct net *n, void *ctx)
{
    struct lossy_run *r = ctx;
    if (r->phase == 0) {
        stream_pump(&r->s[0]);
        stream_pump(&r->s[1]);
        if (r->s[0].received == r->s[0].total && r->s[1].received == r->s[1].total) {
            tcp_close(n->st[0], r->p.client);
            tcp_close(n->st[1], r->p.server);
            r->phase = 1;
        }
        return false;
    }
    return conns(n, 0) == 0 && conns(n, 1) == 1; /* b keeps its listener */
}

/* With 10% of frames lost in each direction, for many seeds: the
 * handshake, the data and both FINs are recovered by retransmission, and
 * both sides end with nothing left but the listener. */
TEST(sim_tcp_lossy_lifecycle_many_seeds)
{
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct net n;
        REQUIRE(net_init(&n, 3 * MS, 100000, seed) == 0);
        struct lossy_run r;
        memset(&r, 0, sizeof(r));
        REQUIRE(open_pair(&n, &r.p, 80));
        struct stream s0 = {r.p.client, r.p.server, n.st[0], n.st[1], 30000, 0, 0, 3, false};
        struct stream s1 = {r.p.server, r.p.client, n.st[1], n.st[0], 20000, 0, 0, 4, false};
        r.s[0] = s0;
        r.s[1] = s1;
        CHECK(run(&n, lossy_step, &r, 600 * SEC));
        CHECK(!r.s[0].bad && !r.s[1].bad);
        CHECK_EQ(r.phase, 1);
        CHECK(frames_lost(&n) > 0);
        if (test_failed()) {
            printf("    seed %llu: phase %d, received %llu/%llu\n", (unsigned long long)seed,
                   r.phase, (unsigned long long)r.s[0].received,
                   (unsigned long long)r.s[1].received);
            net_free(&n);
            return;
        }
        tcp_close(n.st[1], r.p.listener);
        net_free(&n);
    }
}

/* ---- Scale ---------------------------------------------------------------------------- */

static bool all_accepted(struct net *n, void *ctx)
{
    struct tcp_conn *l = ctx;
    struct tcp_conn *c;
    while ((c = tcp_accept(n->st[1], l)) != NULL)
        tcp_close(n->st[1], c); /* the server closes first: TIME-WAIT on b */
    return n->st[0]->stats.tcp_established == 10000 &&
           n->st[1]->stats.tcp_established == 10000;
}

/* 10,000 connections: idle ones cost no timer at all; 10,000 TIME-WAIT
 * timers run out through the heap. */
TEST(sim_tcp_ten_thousand_connections)
{
    struct net n;
    REQUIRE(net_init(&n, 1 * MS, 0, 1) == 0);
    for (int i = 0; i < 2; i++) {
        n.st[i]->cfg.tcp.sndbuf = 2048;
        n.st[i]->cfg.tcp.rcvbuf = 2048;
    }
    struct tcp_conn *l = tcp_conn_create(n.st[1]);
    REQUIRE(l && tcp_bind(n.st[1], l, 0, 80, false) == 0);
    REQUIRE(tcp_listen(n.st[1], l, 4096) == 0);
    static struct tcp_conn *clients[10000];
    for (int i = 0; i < 10000; i++) {
        clients[i] = tcp_conn_create(n.st[0]);
        REQUIRE(clients[i]);
        REQUIRE(tcp_connect(n.st[0], clients[i], ADDR_B, 80) == -EINPROGRESS);
        if (i % 200 == 199)
            run(&n, all_accepted, l, 5 * MS); /* keep the wire from overflowing */
    }
    CHECK(run(&n, all_accepted, l, 60 * SEC));
    run_for(&n, 1 * SEC);
    /* b closed each connection as it accepted it: b waits in FIN-WAIT-2,
     * the clients in CLOSE-WAIT. Idle connections have no timer. */
    CHECK_EQ(conns(&n, 0), 10000);
    CHECK_EQ(n.st[0]->tcp->timers.count, 0);
    CHECK_EQ(n.st[0]->stats.tcp_retransmits, 0);
    for (int i = 0; i < 10000; i++) {
        tcp_close(n.st[0], clients[i]);
        if (i % 200 == 199)
            run_for(&n, 5 * MS); /* keep the wire from overflowing */
    }
    run_for(&n, 500 * MS);
    CHECK_EQ(conns(&n, 0), 0);
    CHECK_EQ(conns(&n, 1), 10001); /* TIME-WAIT on the side that closed first */
    CHECK_EQ(n.st[1]->tcp->timers.count, 10000);
    run_for(&n, 1600 * MS);
    CHECK_EQ(conns(&n, 1), 1);
    CHECK_EQ(n.st[1]->tcp->timers.count, 0);
    CHECK_EQ(n.st[1]->stats.tcp_time_wait_expired, 10000);
    tcp_close(n.st[1], l);
    net_free(&n);
}

/* ---- Observability ----------------------------------------------------------------------- */

struct listing {
    int count, established, listen;
    uint32_t bytes;
};

static void list_one(void *ctx, const struct ustack_tcp_info *info)
{
    struct listing *l = ctx;
    l->count++;
    if (strcmp(info->state, "ESTABLISHED") == 0) {
        l->established++;
        l->bytes += info->recv_queue;
    }
    if (strcmp(info->state, "LISTEN") == 0 && info->local_port == 80)
        l->listen++;
}

TEST(sim_tcp_connection_listing)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    CHECK_EQ(tcp_send(n.st[0], p.client, "12345", 5, 0), 5);
    run_for(&n, 100 * MS);
    struct listing l = {0};
    CHECK_EQ(ustack_tcp_connections(n.st[1], list_one, &l), 2);
    CHECK_EQ(l.count, 2);
    CHECK_EQ(l.listen, 1);
    CHECK_EQ(l.established, 1);
    CHECK_EQ(l.bytes, 5);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}

/* ---- Bad input ---------------------------------------------------------------------- */

TEST(sim_tcp_malformed_segments_counted)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct ustack *b = n.st[1];
    uint8_t f[1600];
    struct raw_seg s = {.src = ADDR_A, .dst = ADDR_B, .sport = 1, .dport = 2,
                        .seq = 1, .flags = TCP_SYN, .wnd = 100};
    /* Shorter than a TCP header (the IP total length says 19 bytes). */
    size_t len = build_frame(f, &s);
    put_be16(f + 2, 20 + 19);
    f[10] = f[11] = 0;
    put_be16(f + 10, cksum_finish(cksum_add(0, f, 20)));
    ustack_input(b, f, 20 + 19, n.sim->now);
    CHECK_EQ(b->stats.tcp_drop_truncated, 1);
    /* Data offset 4 words, and 15 words in a 20-byte segment. */
    len = build_frame(f, &s);
    f[20 + 12] = 4 << 4;
    ustack_input(b, f, len, n.sim->now);
    f[20 + 12] = 15 << 4;
    ustack_input(b, f, len, n.sim->now);
    CHECK_EQ(b->stats.tcp_drop_bad_offset, 2);
    /* One bit flipped. */
    len = build_frame(f, &s);
    f[20 + 4] ^= 0x10;
    ustack_input(b, f, len, n.sim->now);
    CHECK_EQ(b->stats.tcp_drop_bad_checksum, 1);
    /* A malformed option list (length 0): counted, the segment still
     * handled (a SYN to a closed port: RST). */
    uint8_t bad_opts[4] = {2, 0, 1, 1};
    s.opts = bad_opts;
    s.opt_len = 4;
    inject(&n, 1, &s);
    CHECK_EQ(b->stats.tcp_bad_options, 1);
    CHECK_EQ(b->stats.tcp_rst_closed_port, 1);
    net_free(&n);
}

/* Tens of thousands of random segments, with valid checksums so that they
 * reach the state machine, aimed at a listener and at both ends of an
 * established connection. Nothing may crash or leak (ASan checks), and
 * the stacks must still open and use a new connection afterwards. */
TEST(sim_tcp_random_segments_do_no_harm)
{
    struct net n;
    REQUIRE(net_init(&n, 1 * MS, 0, 7) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    uint8_t payload[600];
    for (int i = 0; i < 40000; i++) {
        uint32_t r = rnd(&n);
        int to = (int)(r & 1);
        uint8_t opts[12];
        for (size_t k = 0; k < sizeof(opts); k++)
            opts[k] = (uint8_t)(rnd(&n) % 6);
        for (size_t k = 0; k < 16; k++)
            payload[k] = (uint8_t)rnd(&n);
        struct tcp_conn *c = to ? p.server : p.client;
        uint32_t base_seq = c->rcv.nxt, base_ack = c->snd.una;
        struct raw_seg s = {
            .src = to ? ADDR_A : ADDR_B, .dst = to ? ADDR_B : ADDR_A,
            .sport = to ? p.client->local_port : 80,
            .dport = to ? 80 : p.client->local_port,
            /* Near the real numbers half the time, anywhere otherwise. */
            .seq = (r & 2) ? base_seq + rnd(&n) % 70000 - 35000 : rnd(&n),
            .ack = (r & 4) ? base_ack + rnd(&n) % 70000 - 35000 : rnd(&n),
            .flags = (uint8_t)(rnd(&n) & 0x3f),
            .wnd = (uint16_t)rnd(&n),
            .opts = opts, .opt_len = (rnd(&n) % 4) * 4,
            .data = payload, .len = rnd(&n) % 3 ? 0 : rnd(&n) % sizeof(payload),
        };
        if ((r & 0x18) == 0)
            s.sport = (uint16_t)rnd(&n); /* to the listener or nobody */
        inject(&n, to, &s);
        if (i % 64 == 0) {
            run_for(&n, 10 * MS);
        }
    }
    run_for(&n, 300 * SEC);
    /* Whatever happened to it, a new connection works. */
    if (p.client->state == TCP_CLOSED || p.client->fail)
        tcp_close(n.st[0], p.client);
    else
        tcp_abort(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    struct tcp_conn *c;
    while ((c = tcp_accept(n.st[1], p.listener)) != NULL)
        tcp_close(n.st[1], c);
    tcp_close(n.st[1], p.listener);
    run_for(&n, 300 * SEC);
    struct pair q;
    REQUIRE(open_pair(&n, &q, 81));
    transfer_both_ways(&n, &q, 100000, 60 * SEC);
    tcp_close(n.st[0], q.client);
    tcp_close(n.st[1], q.server);
    tcp_close(n.st[1], q.listener);
    net_free(&n);
}

/* ---- Every impairment at once ------------------------------------------------------- */

/* Loss, duplication, reordering, corruption and jitter in both
 * directions, over a 10 Mbit/s wire: 1 MiB each way arrives byte-exact
 * (corrupted frames die at a checksum; duplicates and stale segments fail
 * the sequence test; segments that overtake others wait in the reassembly
 * queue). */
TEST(sim_tcp_transfer_with_every_impairment)
{
    uint64_t seed = 777;
    simnet_seed_arg(&seed);
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    for (int i = 0; i < 2; i++) {
        cfg.impair[i].loss = 0.01;
        cfg.impair[i].duplicate = 0.01;
        cfg.impair[i].reorder = 0.01;
        cfg.impair[i].reorder_us = 3 * MS;
        cfg.impair[i].corrupt = 0.01;
        cfg.impair[i].delay_us = 10 * MS;
        cfg.impair[i].jitter_us = 1 * MS;
        cfg.impair[i].bandwidth_bps = 10000000;
    }
    struct net n;
    REQUIRE(net_init_with(&n, &cfg) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    transfer_both_ways(&n, &p, 1024 * 1024, 3600 * SEC);
    const struct simnet_wire_stats *a = &n.sim->node[0].tx;
    CHECK(a->lost && a->duplicated && a->reordered && a->corrupted);
    CHECK(n.st[0]->stats.tcp_rx_out_of_order + n.st[1]->stats.tcp_rx_out_of_order > 0);
    CHECK(n.st[0]->stats.tcp_drop_bad_checksum + n.st[0]->stats.ip_drop_bad_checksum +
          n.st[1]->stats.tcp_drop_bad_checksum + n.st[1]->stats.ip_drop_bad_checksum > 0);
    if (test_failed())
        printf("    (replay: sim sim_tcp_transfer_with_every_impairment %llu)\n",
               (unsigned long long)seed);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}

/* ---- Graceful and abortive close ----------------------------------------------------- */

struct drain {
    struct tcp_conn *c;
    struct ustack *st;
    uint64_t received;
    bool eof, bad;
};

static bool drain_to_eof(struct net *n, void *ctx)
{
    (void)n;
    struct drain *d = ctx;
    uint8_t buf[4096];
    ssize_t r;
    while ((r = tcp_recv(d->st, d->c, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(d->received + (uint64_t)i, 9))
                d->bad = true;
        d->received += (uint64_t)r;
    }
    d->eof = r == 0;
    return d->eof;
}

/* CLOSE right after queueing 200 KB: every byte still arrives (over a
 * lossy path), then the FIN. */
TEST(sim_tcp_close_flushes_queued_data)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 20000, 99) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    static uint8_t data[200000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = pattern(i, 9);
    CHECK_EQ(tcp_send(n.st[0], p.client, data, sizeof(data), 0), (ssize_t)sizeof(data));
    tcp_close(n.st[0], p.client);
    struct drain d = {p.server, n.st[1], 0, false, false};
    CHECK(run(&n, drain_to_eof, &d, 600 * SEC));
    CHECK_EQ(d.received, sizeof(data));
    CHECK(!d.bad);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    run_for(&n, 300 * SEC);
    CHECK_EQ(conns(&n, 0), 0);
    CHECK_EQ(conns(&n, 1), 0);
    net_free(&n);
}

/* SO_LINGER with zero time, and ABORT: RST at once, the peer sees
 * ECONNRESET, nothing is left behind. */
TEST(sim_tcp_linger_zero_and_abort_reset)
{
    struct net n;
    REQUIRE(net_init(&n, 5 * MS, 0, 1) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    CHECK_EQ(tcp_setopt(n.st[0], p.client, USTACK_SO_LINGER_ZERO, 1), 0);
    tcp_close(n.st[0], p.client);
    CHECK_EQ(conns(&n, 0), 0);
    CHECK(run(&n, failed_conn, p.server, 1 * SEC));
    CHECK_EQ(p.server->fail, ECONNRESET);
    tcp_close(n.st[1], p.server);

    struct pair q;
    REQUIRE(open_pair(&n, &q, 81));
    tcp_abort(n.st[1], q.server);
    CHECK(run(&n, failed_conn, q.client, 1 * SEC));
    CHECK_EQ(q.client->fail, ECONNRESET);
    CHECK(tcp_events(q.client) & 0x8); /* HUP */
    tcp_close(n.st[0], q.client);
    tcp_close(n.st[1], p.listener);
    tcp_close(n.st[1], q.listener);
    CHECK_EQ(conns(&n, 0), 0);
    CHECK_EQ(conns(&n, 1), 0);
    net_free(&n);
}

/* Heavy reordering and nothing lost: the reassembly queue holds what
 * arrives early, so the stream comes out whole without waiting for
 * retransmissions of data that did arrive. */
TEST(sim_tcp_reordering_reassembled)
{
    uint64_t seed = 4242;
    simnet_seed_arg(&seed);
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    for (int i = 0; i < 2; i++) {
        cfg.impair[i].reorder = 0.2;
        cfg.impair[i].reorder_us = 2 * MS;
        cfg.impair[i].delay_us = 5 * MS;
        cfg.impair[i].bandwidth_bps = 50000000;
    }
    struct net n;
    REQUIRE(net_init_with(&n, &cfg) == 0);
    struct pair p;
    REQUIRE(open_pair(&n, &p, 80));
    transfer_both_ways(&n, &p, 1024 * 1024, 600 * SEC);
    uint64_t held = n.st[0]->stats.tcp_rx_out_of_order + n.st[1]->stats.tcp_rx_out_of_order;
    uint64_t dropped = n.st[0]->stats.tcp_drop_out_of_order + n.st[1]->stats.tcp_drop_out_of_order;
    CHECK(held > 100);
    CHECK(dropped < held / 10);
    if (test_failed())
        printf("    held %llu dropped %llu (replay: sim sim_tcp_reordering_reassembled %llu)\n",
               (unsigned long long)held, (unsigned long long)dropped,
               (unsigned long long)seed);
    tcp_close(n.st[0], p.client);
    tcp_close(n.st[1], p.server);
    tcp_close(n.st[1], p.listener);
    net_free(&n);
}
