/*
 * One bulk transfer over a short simulated path (see lanbulk.h).
 */
#include "lanbulk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/stack.h"
#include "simnet.h"
#include "tcp/tcp.h"
#include "tcp/tcp_int.h"
#include "ustack/socket.h"
#include "ustack/trace.h"
#include "ustack/ustack.h"

#define LANBULK_LIMIT_US (600 * SIMNET_SEC)

struct lanbulk {
    const struct lanbulk_config *cfg;
    struct simnet *net;
    struct ustack *sa, *sb;
    struct tcp_conn *tx, *rx, *listener;
    uint64_t sent, received;
    uint8_t buf[65536];
};

/* Keep A's send buffer full and B's receive buffer empty. True when
 * anything moved. */
static bool pump(struct lanbulk *b)
{
    uint64_t before = b->sent + b->received, total = b->cfg->bytes;
    if (b->tx && b->sent < total && (tcp_events(b->tx) & USTACK_EV_WRITABLE)) {
        size_t want = total - b->sent < sizeof(b->buf) ? (size_t)(total - b->sent) : sizeof(b->buf);
        ssize_t n = tcp_send(b->sa, b->tx, b->buf, want, 0);
        if (n > 0)
            b->sent += (uint64_t)n;
    }
    if (!b->rx && b->listener)
        b->rx = tcp_accept(b->sb, b->listener);
    ssize_t n;
    while (b->rx && (n = tcp_recv(b->sb, b->rx, b->buf, sizeof(b->buf))) > 0)
        b->received += (uint64_t)n;
    return b->sent + b->received != before;
}

static void each_event(struct lanbulk *b)
{
    if (b->cfg->each_event)
        b->cfg->each_event(b->net);
}

/* Stop the run whenever the pump moved data: frames it sent are on the
 * wire only from the next simnet_run on. */
static bool pumped(struct simnet *net, void *ctx)
{
    (void)net;
    each_event(ctx);
    return pump(ctx);
}

static bool established(struct simnet *net, void *ctx)
{
    (void)net;
    const struct lanbulk *b = ctx;
    each_event(ctx);
    return tcp_synchronized(b->tx->state);
}

static void trace_row(void *ctx, const struct ustack_trace_row *row)
{
    (void)ctx;
    char line[USTACK_TRACE_CSV_MAX];
    ustack_trace_csv_row(row, line, sizeof(line));
    fputs(line, stdout);
}

static void configure(struct simnet_config *sc, const struct lanbulk_config *cfg)
{
    for (int i = 0; i < 2; i++) {
        sc->stack[i].pbuf_count = 1024;
        if (cfg->congestion)
            sc->stack[i].tcp.congestion = cfg->congestion;
        if (cfg->buf)
            sc->stack[i].tcp.sndbuf = sc->stack[i].tcp.rcvbuf = cfg->buf;
        sc->impair[i].loss = cfg->loss;
        sc->impair[i].delay_us = cfg->delay_us[i];
        sc->impair[i].bandwidth_bps = cfg->bps;
    }
    sc->max_steps = 50000000;
    sc->verbose = cfg->trace && getenv("LAN_FRAMES");
}

/* Open the connection; then the transfer, timed from the SYN or from
 * establishment. */
static void transfer(struct lanbulk *b, struct lanbulk_result *res)
{
    b->listener = tcp_conn_create(b->sb);
    b->tx = tcp_conn_create(b->sa);
    if (b->tx)
        b->tx->nodelay = b->cfg->nodelay;
    if (!b->listener || !b->tx || tcp_bind(b->sb, b->listener, 0, 5001, false) != 0 ||
        tcp_listen(b->sb, b->listener, 4) != 0 ||
        tcp_connect(b->sa, b->tx, SIMNET_ADDR_B, 5001) != -EINPROGRESS)
        return;
    uint64_t end = b->net->now + LANBULK_LIMIT_US;
    if (b->cfg->from_established && simnet_run(b->net, established, b, end - b->net->now) < 0)
        return;
    uint64_t start = b->net->now;
    pump(b);
    while (b->received < b->cfg->bytes && b->net->now < end)
        if (simnet_run(b->net, pumped, b, end - b->net->now) < 0)
            break;
    res->usec = b->net->now - start;
    res->ok = b->received == b->cfg->bytes;
}

struct lanbulk_result lanbulk_run(const struct lanbulk_config *cfg, uint64_t seed)
{
    struct lanbulk_result res = {0};
    struct simnet_config sc;
    simnet_config_init(&sc, seed);
    configure(&sc, cfg);
    struct lanbulk *b = calloc(1, sizeof(*b));
    if (!b || !(b->net = simnet_new(&sc))) {
        free(b);
        return res;
    }
    b->cfg = cfg;
    b->sa = b->net->node[SIMNET_A].st;
    b->sb = b->net->node[SIMNET_B].st;
    if (cfg->trace) {
        ustack_set_trace_sink(b->sa, trace_row, NULL);
        ustack_set_trace_all(b->sa, true);
    }
    transfer(b, &res);
    res.timeouts = b->sa->stats.tcp_rto_expired;
    res.probes = b->sa->stats.tcp_tlp_probes;
    res.stalls = b->sa->stats.tcp_tlp_stall_retransmits;
    res.lost = b->net->node[SIMNET_A].tx.lost + b->net->node[SIMNET_B].tx.lost;
    simnet_free(b->net);
    free(b);
    return res;
}

double lanbulk_mbps(uint64_t bytes, uint64_t usec)
{
    return usec ? (double)bytes * 8 / (double)usec : 0.0;
}
