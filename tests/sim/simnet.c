/*
 * simnet: the simulated wire between two stacks (see simnet.h).
 *
 * The loop is the classic discrete-event one: find the earliest event,
 * jump the clock to it, perform it, repeat. The wire itself is two
 * impairment wrappers (src/link/impair.c), one per direction, on the
 * simulated clock: each holds the frames its stack sent until they are
 * due and then passes them to the memlink, where they have "arrived".
 * One arrived frame is handed to its stack per event.
 */
#include "simnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ustack/impair.h"

#define DEFAULT_MAX_IN_FLIGHT 4096
#define DEFAULT_LINK_CAPACITY 1024
#define DEFAULT_MAX_STEPS 20000000ull
#define DEFAULT_REORDER_US 1000

/* ---- Randomness --------------------------------------------------------- */

/* splitmix64: tiny, fast, and every seed (even 0) gives a good stream. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t simnet_rand(struct simnet *net)
{
    return splitmix64(&net->rng);
}

bool simnet_seed_arg(uint64_t *seed)
{
    const char *s = test_arg(0);
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *seed = v;
    return true;
}

/* ---- Setup -------------------------------------------------------------- */

void simnet_config_init(struct simnet_config *cfg, uint64_t seed)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->seed = seed;
    /* The secrets come from their own stream of the seed so they do not
     * shift when impairments change. */
    uint64_t secret_rng = seed ^ 0x5ec7e75ec7e7ull;
    for (int i = 0; i < 2; i++) {
        struct ustack_config *sc = &cfg->stack[i];
        ustack_config_init(sc);
        sc->addr = i == SIMNET_A ? SIMNET_ADDR_A : SIMNET_ADDR_B;
        sc->netmask = 0xffffff00u;
        sc->has_secret = true;
        for (size_t j = 0; j < sizeof(sc->secret); j += 8) {
            uint64_t r = splitmix64(&secret_rng);
            memcpy(sc->secret + j, &r, 8);
        }
    }
}

static void apply_defaults(struct simnet_config *cfg)
{
    if (!cfg->mtu)
        cfg->mtu = 1500;
    if (!cfg->max_in_flight)
        cfg->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
    if (!cfg->link_capacity)
        cfg->link_capacity = DEFAULT_LINK_CAPACITY;
    if (!cfg->max_steps)
        cfg->max_steps = DEFAULT_MAX_STEPS;
    for (int i = 0; i < 2; i++)
        if (!cfg->impair[i].reorder_us)
            cfg->impair[i].reorder_us = DEFAULT_REORDER_US;
}

/* ---- The wire ----------------------------------------------------------- */

static uint64_t sim_clock(void *ctx)
{
    return ((const struct simnet *)ctx)->now;
}

static void trace(struct simnet *net, int from, size_t len, const char *what)
{
    if (net->cfg.verbose)
        fprintf(stderr, "simnet %12llu us  %c>%c %5zu bytes  %s\n",
                (unsigned long long)net->now, "AB"[from], "BA"[from], len, what);
}

/* The wrappers' reports of each frame's fate, by sender. */
static void trace_a(void *ctx, bool out, size_t len, const char *what)
{
    (void)out;
    trace(ctx, SIMNET_A, len, what);
}

static void trace_b(void *ctx, bool out, size_t len, const char *what)
{
    (void)out;
    trace(ctx, SIMNET_B, len, what);
}

static struct ustack_impair_dir impair_dir(const struct simnet_impair *imp, unsigned limit)
{
    return (struct ustack_impair_dir){
        .loss = imp->loss,
        .duplicate = imp->duplicate,
        .reorder = imp->reorder,
        .reorder_us = imp->reorder_us ? imp->reorder_us : DEFAULT_REORDER_US,
        .corrupt = imp->corrupt,
        .delay_us = imp->delay_us,
        .jitter_us = imp->jitter_us,
        .rate_bps = imp->bandwidth_bps,
        .limit = limit,
    };
}

/* Wrap node i's memlink end: its outgoing impairments, on our clock. The
 * wrappers' random streams have their own seeds, derived from the config's
 * (so tests drawing from simnet_rand do not shift the impairments). */
static int wrap_node(struct simnet *net, int i)
{
    uint64_t seeds = net->cfg.seed ^ 0x77697265ull; /* "wire" */
    struct ustack_impair_config ic;
    ustack_impair_config_init(&ic);
    for (int j = 0; j <= i; j++)
        ic.seed = splitmix64(&seeds);
    ic.out = impair_dir(&net->cfg.impair[i], net->cfg.max_in_flight);
    ic.clock = sim_clock;
    ic.clock_ctx = net;
    if (net->cfg.verbose) {
        ic.trace = i == SIMNET_A ? trace_a : trace_b;
        ic.trace_ctx = net;
    }
    struct simnet_node *n = &net->node[i];
    n->link = ustack_impair_wrap(n->mem, &ic);
    if (!n->link)
        return -1;
    net->applied[i] = net->cfg.impair[i];
    return 0;
}

/* Tests may change net->cfg.impair between events: pass it on. */
static void apply_impairments(struct simnet *net)
{
    for (int i = 0; i < 2; i++) {
        if (!memcmp(&net->applied[i], &net->cfg.impair[i], sizeof(net->applied[i])))
            continue;
        struct ustack_impair_dir d = impair_dir(&net->cfg.impair[i], 0);
        if (ustack_impair_set(net->node[i].link, &d, NULL) < 0)
            fprintf(stderr, "simnet: impairment of %c refused (bad value?)\n", "AB"[i]);
        net->applied[i] = net->cfg.impair[i];
    }
}

/* Copy the wrappers' counters into the nodes' wire statistics. */
static void sync_stats(struct simnet *net)
{
    for (int i = 0; i < 2; i++) {
        struct ustack_impair_counters c;
        if (ustack_impair_counters(net->node[i].link, &c, NULL) < 0)
            continue;
        struct simnet_wire_stats *ws = &net->node[i].tx;
        ws->sent = c.frames;
        ws->lost = c.dropped;
        /* Frames the memlink refused were also dropped for lack of room. */
        ws->overflowed = c.overflowed + c.link_errors;
        ws->duplicated = c.duplicated;
        ws->reordered = c.reordered;
        ws->corrupted = c.corrupted;
    }
}

/* Let both wires hand on what is due; returns the next time one has
 * something to do. */
static uint64_t release(struct simnet *net)
{
    uint64_t next = USTACK_NEVER;
    for (int i = 0; i < 2; i++) {
        uint64_t t = ustack_impair_poll(net->node[i].link, net->now);
        if (t < next)
            next = t;
    }
    return next;
}

/* A node with an arrived frame waiting, or -1. Alternates between the two
 * when both have one, so neither direction waits behind the other. */
static int arrived(struct simnet *net)
{
    for (unsigned k = 0; k < 2; k++) {
        int to = (int)((net->turn + k) % 2);
        if (ustack_memlink_pending(net->node[to].mem)) {
            net->turn = (unsigned)(1 - to);
            return to;
        }
    }
    return -1;
}

/* The largest frame on the wire: the MTU counts the IP packet, and an
 * Ethernet link adds its 14-byte header. */
static size_t frame_max(const struct simnet *net)
{
    return net->cfg.mtu + (net->cfg.link_kind == USTACK_LINK_ETHERNET ? 14 : 0);
}

/* Hand one arrived frame to stack `to`. */
static void deliver(struct simnet *net, int to)
{
    ssize_t n = ustack_link_recv(net->node[to].link, net->scratch, frame_max(net));
    if (n <= 0)
        return;
    net->node[1 - to].tx.delivered++;
    trace(net, 1 - to, (size_t)n, "delivered");
    ustack_input(net->node[to].st, net->scratch, (size_t)n, net->now);
}

/* ---- Setup -------------------------------------------------------------- */

struct simnet *simnet_new(const struct simnet_config *cfg)
{
    struct simnet *net = calloc(1, sizeof(*net));
    if (!net)
        return NULL;
    net->cfg = *cfg;
    apply_defaults(&net->cfg);
    net->rng = cfg->seed;
    net->scratch = malloc(frame_max(net));
    if (!net->scratch ||
        ustack_memlink_pair(net->cfg.link_kind, net->cfg.mtu, net->cfg.link_capacity,
                            &net->node[SIMNET_A].mem, &net->node[SIMNET_B].mem) < 0)
        goto fail;
    for (int i = 0; i < 2; i++) {
        if (wrap_node(net, i) < 0)
            goto fail;
        net->node[i].st = ustack_new(&net->cfg.stack[i], net->node[i].link, 0);
        if (!net->node[i].st)
            goto fail;
        net->node[i].deadline = USTACK_NEVER;
    }
    return net;
fail:
    simnet_free(net);
    return NULL;
}

void simnet_free(struct simnet *net)
{
    if (!net)
        return;
    for (int i = 0; i < 2; i++) {
        ustack_free(net->node[i].st);
        /* The wrapper closes its memlink end; without one, close it here. */
        if (net->node[i].link)
            ustack_link_close(net->node[i].link);
        else
            ustack_link_close(net->node[i].mem);
    }
    free(net->scratch);
    free(net);
}

/* ---- The event loop ----------------------------------------------------- */

/* Run the stacks' due timers and refresh their deadlines; then let the
 * wires release what is due. Returns the wires' next event. */
static uint64_t poll_stacks(struct simnet *net)
{
    apply_impairments(net);
    for (int i = 0; i < 2; i++)
        net->node[i].deadline = ustack_timer(net->node[i].st, net->now);
    uint64_t wire = release(net);
    sync_stats(net);
    return wire;
}

static uint64_t next_timer(const struct simnet *net)
{
    uint64_t next = USTACK_NEVER;
    for (int i = 0; i < 2; i++)
        if (net->node[i].deadline < next)
            next = net->node[i].deadline;
    return next;
}

int simnet_run(struct simnet *net, simnet_until_fn until, void *ctx,
               uint64_t max_virtual_us)
{
    uint64_t end = net->now + max_virtual_us;
    if (end < net->now)
        end = UINT64_MAX - 1; /* saturate */
    for (uint64_t step = 0; step < net->cfg.max_steps; step++) {
        uint64_t wire = poll_stacks(net);
        if (until && until(net, ctx))
            return 1;
        int to = arrived(net);
        if (to < 0) {
            /* Nothing has arrived: jump to the next timer or arrival. */
            uint64_t timer = next_timer(net);
            uint64_t next = wire < timer ? wire : timer;
            if (next > end) {
                net->now = end;
                poll_stacks(net);
                return 0;
            }
            if (next > net->now)
                net->now = next;
            /* A timer comes first: the next round runs it... */
            if (timer < wire)
                continue;
            /* ...or a frame arrives now (on a tie, before the timers). */
            release(net);
            to = arrived(net);
        }
        if (to >= 0)
            deliver(net, to);
    }
    fprintf(stderr, "simnet: %llu events at t=%llu us without progress: livelock?\n",
            (unsigned long long)net->cfg.max_steps, (unsigned long long)net->now);
    return -1;
}

bool simnet_idle(struct simnet *net, void *ctx)
{
    (void)ctx;
    return ustack_impair_held(net->node[0].link) == 0 &&
           ustack_impair_held(net->node[1].link) == 0 &&
           ustack_memlink_pending(net->node[0].mem) == 0 &&
           ustack_memlink_pending(net->node[1].mem) == 0;
}
