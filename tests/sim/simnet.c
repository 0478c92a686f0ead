/*
 * simnet: the simulated wire between two stacks (see simnet.h).
 *
 * The loop is the classic discrete-event one: find the earliest event,
 * jump the clock to it, perform it, repeat. Frames on the wire sit in a
 * small unordered array; the earliest is found by a linear scan, which is
 * plenty for the few hundred frames a test keeps in flight.
 */
#include "simnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

struct simnet_frame {
    uint64_t at;   /* arrival time */
    uint64_t seq;  /* order of scheduling, to break ties */
    int to;        /* SIMNET_A or SIMNET_B */
    size_t len;
    uint8_t *data; /* a buffer of mtu bytes owned by this slot */
};

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

/* True with probability p. Draws nothing when p is 0, so turning one
 * impairment on does not disturb runs that leave it off. */
static bool chance(struct simnet *net, double p)
{
    if (p <= 0)
        return false;
    return (double)(simnet_rand(net) >> 11) * 0x1.0p-53 < p;
}

/* Uniform in 0..max (inclusive). */
static uint64_t uniform(struct simnet *net, uint64_t max)
{
    if (max == 0)
        return 0;
    return simnet_rand(net) % (max + 1);
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

static bool alloc_wire(struct simnet *net)
{
    unsigned n = net->cfg.max_in_flight;
    net->wire = calloc(n, sizeof(*net->wire));
    net->scratch = malloc(net->cfg.mtu);
    if (!net->wire || !net->scratch)
        return false;
    for (unsigned i = 0; i < n; i++)
        if (!(net->wire[i].data = malloc(net->cfg.mtu)))
            return false;
    return true;
}

struct simnet *simnet_new(const struct simnet_config *cfg)
{
    struct simnet *net = calloc(1, sizeof(*net));
    if (!net)
        return NULL;
    net->cfg = *cfg;
    apply_defaults(&net->cfg);
    net->rng = cfg->seed;
    if (!alloc_wire(net) ||
        ustack_memlink_pair(USTACK_LINK_IP, net->cfg.mtu, net->cfg.link_capacity,
                            &net->node[SIMNET_A].link, &net->node[SIMNET_B].link) < 0)
        goto fail;
    for (int i = 0; i < 2; i++) {
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
        ustack_link_close(net->node[i].link);
    }
    if (net->wire)
        for (unsigned i = 0; i < net->cfg.max_in_flight; i++)
            free(net->wire[i].data);
    free(net->wire);
    free(net->scratch);
    free(net);
}

/* ---- The wire ----------------------------------------------------------- */

static void trace(struct simnet *net, int from, size_t len, const char *what)
{
    if (net->cfg.verbose)
        fprintf(stderr, "simnet %12llu us  %c>%c %5zu bytes  %s\n",
                (unsigned long long)net->now, "AB"[from], "BA"[from], len, what);
}

/* When a frame of len bytes sent now by `from` has left the transmitter:
 * with a bandwidth limit, frames queue behind each other. */
static uint64_t departure(struct simnet *net, int from, size_t len)
{
    struct simnet_node *n = &net->node[from];
    uint64_t bps = net->cfg.impair[from].bandwidth_bps;
    if (!bps)
        return net->now;
    uint64_t start = n->wire_free_at > net->now ? n->wire_free_at : net->now;
    uint64_t bits = (uint64_t)len * 8;
    n->wire_free_at = start + (bits * 1000000 + bps - 1) / bps;
    return n->wire_free_at;
}

/* Put one copy of the frame on the wire towards the other stack. */
static void put_on_wire(struct simnet *net, int from, const uint8_t *data,
                        size_t len, uint64_t left_at)
{
    const struct simnet_impair *imp = &net->cfg.impair[from];
    struct simnet_wire_stats *ws = &net->node[from].tx;
    if (net->in_flight == net->cfg.max_in_flight) {
        ws->overflowed++;
        trace(net, from, len, "dropped: wire full");
        return;
    }
    struct simnet_frame *f = &net->wire[net->in_flight++];
    f->at = left_at + imp->delay_us + uniform(net, imp->jitter_us);
    f->seq = net->next_seq++;
    f->to = 1 - from;
    f->len = len;
    memcpy(f->data, data, len);
    if (chance(net, imp->reorder)) {
        f->at += imp->reorder_us;
        ws->reordered++;
        trace(net, from, len, "held back (reorder)");
    }
    if (len > 0 && chance(net, imp->corrupt)) {
        /* XOR with 1..255 so the byte really changes. */
        f->data[uniform(net, len - 1)] ^= (uint8_t)(1 + uniform(net, 254));
        ws->corrupted++;
        trace(net, from, len, "corrupted");
    }
}

/* A frame stack `from` just sent: lose it, or put one or two copies on
 * the wire. */
static void transmit(struct simnet *net, int from, const uint8_t *data, size_t len)
{
    const struct simnet_impair *imp = &net->cfg.impair[from];
    struct simnet_wire_stats *ws = &net->node[from].tx;
    ws->sent++;
    uint64_t left_at = departure(net, from, len);
    if (chance(net, imp->loss)) {
        ws->lost++;
        trace(net, from, len, "lost");
        return;
    }
    trace(net, from, len, "sent");
    put_on_wire(net, from, data, len, left_at);
    if (chance(net, imp->duplicate)) {
        ws->duplicated++;
        trace(net, from, len, "duplicated");
        put_on_wire(net, from, data, len, left_at);
    }
}

/* Take everything the stacks sent off their links. */
static void collect(struct simnet *net)
{
    for (int from = 0; from < 2; from++) {
        /* What `from` sent is received on the other end of the pair. */
        struct ustack_link *far_end = net->node[1 - from].link;
        ssize_t n;
        while ((n = ustack_link_recv(far_end, net->scratch, net->cfg.mtu)) > 0)
            transmit(net, from, net->scratch, (size_t)n);
    }
}

/* Index of the frame that arrives first (ties: the one sent first). */
static int earliest_frame(const struct simnet *net)
{
    int best = -1;
    for (unsigned i = 0; i < net->in_flight; i++) {
        const struct simnet_frame *f = &net->wire[i];
        if (best < 0 || f->at < net->wire[best].at ||
            (f->at == net->wire[best].at && f->seq < net->wire[best].seq))
            best = (int)i;
    }
    return best;
}

/* Hand frame i to its stack and take it off the wire. */
static void deliver(struct simnet *net, int i)
{
    struct simnet_frame f = net->wire[i];
    /* Swap the last live slot into i; the delivered slot's buffer moves to
     * the free end so no buffer is lost. */
    net->wire[i] = net->wire[--net->in_flight];
    net->wire[net->in_flight] = f;
    net->node[1 - f.to].tx.delivered++;
    trace(net, 1 - f.to, f.len, "delivered");
    ustack_input(net->node[f.to].st, f.data, f.len, net->now);
}

/* ---- The event loop ----------------------------------------------------- */

/* Run the stacks' due timers, refresh their deadlines, collect output. */
static void poll_stacks(struct simnet *net)
{
    for (int i = 0; i < 2; i++)
        net->node[i].deadline = ustack_timer(net->node[i].st, net->now);
    collect(net);
}

static uint64_t next_event(const struct simnet *net, int *frame)
{
    uint64_t next = USTACK_NEVER;
    for (int i = 0; i < 2; i++)
        if (net->node[i].deadline < next)
            next = net->node[i].deadline;
    *frame = earliest_frame(net);
    if (*frame >= 0 && net->wire[*frame].at <= next)
        return net->wire[*frame].at;
    *frame = -1; /* a timer comes first */
    return next;
}

int simnet_run(struct simnet *net, simnet_until_fn until, void *ctx,
               uint64_t max_virtual_us)
{
    uint64_t end = net->now + max_virtual_us;
    if (end < net->now)
        end = UINT64_MAX - 1; /* saturate */
    for (uint64_t step = 0; step < net->cfg.max_steps; step++) {
        poll_stacks(net);
        if (until && until(net, ctx))
            return 1;
        int frame;
        uint64_t next = next_event(net, &frame);
        if (next > end) {
            net->now = end;
            poll_stacks(net);
            return 0;
        }
        if (next > net->now)
            net->now = next;
        if (frame >= 0)
            deliver(net, frame);
    }
    fprintf(stderr, "simnet: %llu events at t=%llu us without progress: livelock?\n",
            (unsigned long long)net->cfg.max_steps, (unsigned long long)net->now);
    return -1;
}

bool simnet_idle(struct simnet *net, void *ctx)
{
    (void)ctx;
    return net->in_flight == 0 && ustack_memlink_pending(net->node[0].link) == 0 &&
           ustack_memlink_pending(net->node[1].link) == 0;
}
