/*
 * Congestion control throughput table: one bulk transfer per (path, loss
 * rate, algorithm) over simnet's wire in virtual time, so every number is
 * deterministic, checked against a snapshot (cc_throughput.snapshot, next
 * to this file) so that a congestion control regression fails.
 *
 *   build/tests/sim sim_cc_table            run and compare (±15%)
 *   build/tests/sim sim_cc_table --update   run and rewrite the snapshot
 *   USTACK_CC_TABLE_ALGO=bbr build/tests/sim sim_cc_table
 *                                           only that algorithm's rows
 *                                           (compared, never written)
 *
 * The setup, per row:
 *  - the path: a rate-limited wire with a fixed one-way delay of RTT/2 in
 *    each direction and a drop-tail queue of one bandwidth-delay product
 *    (simnet's max_in_flight counts frames queued and on the wire);
 *  - the loss: random, on the data direction only (ACKs arrive);
 *  - both stacks with 4 MiB buffers (the window never limits), a minimum
 *    RTO of 200 ms (Linux's; RFC 6298's 1 s would make the high-loss rows
 *    mostly idle time), everything else the defaults;
 *  - stack A sends as fast as its send buffer takes data, stack B reads
 *    everything at once; throughput = bytes B's application read during
 *    the measured time (after the handshake) * 8 / that time;
 *  - a lossy row is the mean of LOSSY_RUNS runs with different seeds (one
 *    loss pattern alone swings a long path's number by tens of percent).
 * The stacks negotiate what they always do (window scaling, timestamps,
 * SACK), so "newreno" and "cubic" differ only in the window arithmetic;
 * recovery is SACK-based in all three ("bbr" keeps its own window through
 * it, see src/tcp/cc_bbr.c). Seeds derive from a row's place in the
 * table: rows are independent of each other and of the order they run in.
 *
 * Any change to TCP's sending shifts these numbers a little (the same
 * seed then loses different segments); the tolerance absorbs that, a
 * congestion control regression does not pass it. After a deliberate
 * change, rerun with --update and commit the new snapshot with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack.h"
#include "simnet.h"
#include "tcp/tcp.h"
#include "tcp/tcp_int.h"
#include "test.h"
#include "ustack/socket.h"
#include "ustack/ustack.h"

#define MS 1000ull
#define SEC 1000000ull
#define FRAME_BITS (1500 * 8)
#define TOLERANCE 0.15     /* relative */
#define TOLERANCE_ABS 0.05 /* Mbit/s: rows near zero */

struct cc_path {
    const char *name;
    uint64_t bps;
    uint64_t rtt_us;
    uint64_t measure_us; /* virtual time measured */
};

static const struct cc_path cc_paths[] = {
    {"10M/10ms", 10000000, 10 * MS, 20 * SEC},
    {"100M/50ms", 100000000, 50 * MS, 30 * SEC},
    {"1G/1ms", 1000000000, 1 * MS, 2 * SEC},
};
static const double cc_losses[] = {0, 0.005, 0.01, 0.02, 0.05, 0.10, 0.20};
static const struct {
    const char *name;
    int algo;
} cc_algos[] = {
    {"cubic", USTACK_TCP_CC_CUBIC},
    {"newreno", USTACK_TCP_CC_NEWRENO},
    {"bbr", USTACK_TCP_CC_BBR},
};

#define N_PATHS (sizeof(cc_paths) / sizeof(cc_paths[0]))
#define N_LOSSES (sizeof(cc_losses) / sizeof(cc_losses[0]))
#define N_ALGOS (sizeof(cc_algos) / sizeof(cc_algos[0]))
#define N_ROWS (N_PATHS * N_LOSSES * N_ALGOS)
/* Runs averaged per lossy row: one run's loss pattern makes the number
 * swing by tens of percent on the long path; the mean of 8 is steady
 * enough for the tolerance. Without loss every run is the same. */
#define LOSSY_RUNS 8

/* ---- One transfer ------------------------------------------------------------- */

struct bulk {
    struct simnet *net;
    struct ustack *sa, *sb;
    struct tcp_conn *tx, *rx, *listener;
    uint64_t received;
    uint8_t buf[65536];
};

/* Keep A's send buffer full and B's receive buffer empty. */
static void pump(struct bulk *b)
{
    if (b->tx && (tcp_events(b->tx) & USTACK_EV_WRITABLE))
        tcp_send(b->sa, b->tx, b->buf, sizeof(b->buf), 0);
    if (!b->rx && b->listener)
        b->rx = tcp_accept(b->sb, b->listener);
    if (!b->rx)
        return;
    ssize_t n;
    while ((n = tcp_recv(b->sb, b->rx, b->buf, sizeof(b->buf))) > 0)
        b->received += (uint64_t)n;
}

static bool one_event(struct simnet *net, void *ctx)
{
    (void)net;
    return ++*(int *)ctx >= 2;
}

/* Pump and run events until virtual time `until`. False on a livelock. */
static bool run_until(struct bulk *b, uint64_t until)
{
    while (b->net->now < until) {
        pump(b);
        int seen = 0;
        if (simnet_run(b->net, one_event, &seen, until - b->net->now) < 0)
            return false;
    }
    pump(b);
    return true;
}

static uint64_t bdp_frames(const struct cc_path *p, uint64_t us)
{
    return p->bps * us / SEC / FRAME_BITS + 1;
}

static void configure(struct simnet_config *cfg, const struct cc_path *p,
                      double loss, int algo)
{
    for (int i = 0; i < 2; i++) {
        struct ustack_config *sc = &cfg->stack[i];
        sc->pbuf_count = 1024;
        sc->tcp.sndbuf = sc->tcp.rcvbuf = 4u << 20;
        sc->tcp.rto_min_ms = 200;
        sc->tcp.congestion = (unsigned)algo;
        cfg->impair[i].delay_us = p->rtt_us / 2;
        cfg->impair[i].bandwidth_bps = p->bps;
    }
    cfg->impair[SIMNET_A].loss = loss;
    /* Frames in flight one way plus a queue of one bandwidth-delay
     * product: the drop-tail bottleneck buffer. */
    cfg->max_in_flight = (unsigned)(bdp_frames(p, p->rtt_us / 2) + bdp_frames(p, p->rtt_us) + 8);
    cfg->max_steps = 50000000;
}

/* Throughput in Mbit/s of one row, or a negative value on failure. */
static double measure(const struct cc_path *p, double loss, int algo, uint64_t seed)
{
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    configure(&cfg, p, loss, algo);
    struct bulk *b = calloc(1, sizeof(*b));
    if (!b)
        return -1;
    double result = -1;
    b->net = simnet_new(&cfg);
    if (!b->net)
        goto out;
    b->sa = b->net->node[SIMNET_A].st;
    b->sb = b->net->node[SIMNET_B].st;
    b->listener = tcp_conn_create(b->sb);
    b->tx = tcp_conn_create(b->sa);
    if (!b->listener || !b->tx || tcp_bind(b->sb, b->listener, 0, 5001, false) != 0 ||
        tcp_listen(b->sb, b->listener, 4) != 0 ||
        tcp_connect(b->sa, b->tx, SIMNET_ADDR_B, 5001) != -EINPROGRESS)
        goto out;
    /* The handshake (SYN losses included) is not measured. */
    uint64_t start = 0;
    for (int i = 0; i < 600 && !start; i++) {
        if (!run_until(b, b->net->now + 100 * MS))
            goto out;
        if (b->rx && b->tx->state == TCP_ESTABLISHED)
            start = b->net->now;
    }
    if (!start)
        goto out;
    uint64_t before = b->received;
    if (!run_until(b, start + p->measure_us))
        goto out;
    result = (double)(b->received - before) * 8 / ((double)p->measure_us / SEC) / 1e6;
out:
    if (b->net)
        simnet_free(b->net);
    free(b);
    return result;
}

static double distance(double a, double b)
{
    return a > b ? a - b : b - a;
}

/* ---- The snapshot --------------------------------------------------------------- */

struct cc_row {
    const char *path, *algo;
    double loss_pct;
    double mbps;
};

/* The snapshot sits next to this source file. */
static void snapshot_path(char *out, size_t cap)
{
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 0;
    snprintf(out, cap, "%.*s%scc_throughput.snapshot", dir, file, slash ? "/" : "");
}

static bool write_snapshot(const struct cc_row *rows, size_t n)
{
    char path[512];
    snapshot_path(path, sizeof(path));
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "# Congestion control throughput in Mbit/s (tests/sim/test_sim_cc_table.c).\n"
               "# Regenerate: make BUILD=build tests && build/tests/sim sim_cc_table --update\n"
               "# path       loss%%   algorithm  Mbit/s\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%-11s %5.1f   %-9s  %.3f\n", rows[i].path, rows[i].loss_pct,
                rows[i].algo, rows[i].mbps);
    return fclose(f) == 0;
}

/* The snapshot's value for a row, or -1 when the row is missing. */
static double snapshot_value(FILE *f, const struct cc_row *row)
{
    char line[256];
    rewind(f);
    while (fgets(line, sizeof(line), f)) {
        char path[32], algo[32];
        double loss, mbps;
        if (line[0] == '#' || sscanf(line, "%31s %lf %31s %lf", path, &loss, algo, &mbps) != 4)
            continue;
        if (!strcmp(path, row->path) && !strcmp(algo, row->algo) &&
            distance(loss, row->loss_pct) < 1e-6)
            return mbps;
    }
    return -1;
}

static void print_table(const struct cc_row *rows)
{
    printf("    %-11s", "loss");
    for (size_t a = 0; a < N_ALGOS; a++)
        for (size_t p = 0; p < N_PATHS; p++)
            printf(" %7s:%-10s", cc_algos[a].name, cc_paths[p].name);
    printf("\n");
    for (size_t l = 0; l < N_LOSSES; l++) {
        printf("    %9.1f%% ", cc_losses[l] * 100);
        for (size_t a = 0; a < N_ALGOS; a++)
            for (size_t p = 0; p < N_PATHS; p++)
                printf(" %18.3f", rows[(p * N_LOSSES + l) * N_ALGOS + a].mbps);
        printf("\n");
    }
}

TEST(sim_cc_table)
{
    static struct cc_row rows[N_ROWS];
    const char *only = getenv("USTACK_CC_TABLE_ALGO");
    size_t n = 0;
    for (size_t p = 0; p < N_PATHS; p++)
        for (size_t l = 0; l < N_LOSSES; l++)
            for (size_t a = 0; a < N_ALGOS; a++) {
                struct cc_row *r = &rows[n++];
                if (only && *only && strcmp(only, cc_algos[a].name)) {
                    n--;
                    continue;
                }
                r->path = cc_paths[p].name;
                r->algo = cc_algos[a].name;
                r->loss_pct = cc_losses[l] * 100;
                unsigned runs = cc_losses[l] > 0 ? LOSSY_RUNS : 1;
                double sum = 0;
                for (unsigned i = 0; i < runs; i++) {
                    uint64_t seed = 100000 + p * 10000 + l * 1000 + a * 100 + i;
                    double mbps = measure(&cc_paths[p], cc_losses[l], cc_algos[a].algo, seed);
                    if (mbps < 0)
                        test_fail(__FILE__, __LINE__, "%s loss %.1f%% %s seed %llu: the "
                                  "transfer failed", r->path, r->loss_pct, r->algo,
                                  (unsigned long long)seed);
                    sum += mbps;
                }
                r->mbps = sum / runs;
            }
    if (!only || !*only)
        print_table(rows);
    else
        for (size_t i = 0; i < n; i++)
            printf("    %-11s %5.1f%%  %-8s %10.3f\n", rows[i].path, rows[i].loss_pct,
                   rows[i].algo, rows[i].mbps);
    const char *arg = test_arg(0);
    if (arg && !strcmp(arg, "--update")) {
        if (only && *only) {
            test_fail(__FILE__, __LINE__, "--update needs every row (unset USTACK_CC_TABLE_ALGO)");
            return;
        }
        CHECK(write_snapshot(rows, n));
        return;
    }
    char path[512];
    snapshot_path(path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f) {
        test_fail(__FILE__, __LINE__, "no snapshot %s (run with --update)", path);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double want = snapshot_value(f, &rows[i]);
        double slack = want * TOLERANCE + TOLERANCE_ABS;
        if (want < 0)
            test_fail(__FILE__, __LINE__, "%s loss %.1f%% %s: not in the snapshot",
                      rows[i].path, rows[i].loss_pct, rows[i].algo);
        else if (distance(rows[i].mbps, want) > slack)
            test_fail(__FILE__, __LINE__,
                      "%s loss %.1f%% %s: %.3f Mbit/s, snapshot %.3f (±%.0f%%)",
                      rows[i].path, rows[i].loss_pct, rows[i].algo, rows[i].mbps,
                      want, TOLERANCE * 100);
    }
    fclose(f);
}
