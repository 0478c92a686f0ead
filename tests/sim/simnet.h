/*
 * simnet: two ustack instances on a simulated wire, in virtual time.
 *
 * Stack A (10.0.0.1/24) and stack B (10.0.0.2/24) are joined by a memlink
 * pair. Each stack's link is an impairment wrapper (ustack/impair.h, the
 * same decorator `ustack --impair` puts on a TUN device) around its end of
 * the pair: the wrapper applies that stack's outgoing impairments and holds
 * each frame "on the wire" until its arrival time, then simnet feeds it to
 * the other stack with ustack_input(). Time is virtual: it jumps straight
 * to the next event (a frame arriving or a stack timer falling due), so a
 * minute of TCP retransmissions runs in milliseconds.
 *
 * Everything random (impairments, the stacks' secrets) derives from the
 * config's seed, so a run replays exactly from its seed.
 *
 * Typical use:
 *
 *     struct simnet_config cfg;
 *     simnet_config_init(&cfg, seed);
 *     cfg.impair[SIMNET_A].loss = 0.2;        // 20% of A's frames lost
 *     struct simnet *net = simnet_new(&cfg);
 *     ustack_ping_send(net->node[SIMNET_A].st, SIMNET_ADDR_B, 1, 1, "hi", 2);
 *     int r = simnet_run(net, got_reply, &state, 2 * SIMNET_SEC);
 *     ...
 *     simnet_free(net);
 *
 * simnet_run() returns as soon as until(net, ctx) is true (it is checked
 * after every event), or when max_virtual_us of virtual time have passed.
 * Between runs the test may call any stack API; the next run picks up the
 * frames and timers that caused.
 */
#ifndef USTACK_TEST_SIMNET_H
#define USTACK_TEST_SIMNET_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/ustack.h"

#define SIMNET_A 0
#define SIMNET_B 1
#define SIMNET_ADDR_A 0x0a000001u /* 10.0.0.1 */
#define SIMNET_ADDR_B 0x0a000002u /* 10.0.0.2 */

#define SIMNET_MS 1000ull
#define SIMNET_SEC 1000000ull

/* What the wire does to the frames one stack sends. All default to off.
 * Changes made through net->cfg.impair while a simulation runs take effect
 * at its next event (frames already on the wire keep their times). */
struct simnet_impair {
    double loss;            /* probability a frame is lost */
    double duplicate;       /* probability a frame arrives twice */
    double reorder;         /* probability a frame is held back... */
    uint64_t reorder_us;    /* ...by this much extra delay (0: 1 ms) */
    double corrupt;         /* probability one random byte is changed */
    uint64_t delay_us;      /* fixed one-way delay */
    uint64_t jitter_us;     /* plus a uniform random 0..jitter_us */
    uint64_t bandwidth_bps; /* 0: unlimited; else frames queue behind
                               each other, len * 8 / bandwidth each */
};

struct simnet_config {
    uint64_t seed;
    unsigned mtu;             /* link MTU; 0 = 1500 */
    enum ustack_link_kind link_kind; /* USTACK_LINK_IP (default, like TUN)
                                        or USTACK_LINK_ETHERNET (like TAP) */
    unsigned max_in_flight;   /* frames on the wire at once, per direction;
                                 0 = 4096 */
    unsigned link_capacity;   /* memlink queue per direction; 0 = 1024 */
    uint64_t max_steps;       /* events per simnet_run before it gives up
                                 (a livelock guard); 0 = 20 million */
    bool verbose;             /* print every frame's fate to stderr */
    /* [SIMNET_A]: frames A sends; [SIMNET_B]: frames B sends. */
    struct simnet_impair impair[2];
    /* The stacks' configurations, filled by simnet_config_init (address,
     * /24, a secret derived from the seed); tests may change anything. */
    struct ustack_config stack[2];
};

/* What happened to the frames one stack sent (duplicates count twice in
 * delivered; a frame can be both reordered and corrupted). */
struct simnet_wire_stats {
    uint64_t sent;       /* taken off the stack's link */
    uint64_t lost;       /* dropped by the loss impairment */
    uint64_t overflowed; /* dropped: max_in_flight reached */
    uint64_t duplicated; /* extra copies made */
    uint64_t reordered;  /* held back by reorder_us */
    uint64_t corrupted;  /* copies with one byte changed */
    uint64_t delivered;  /* copies handed to the other stack */
};

struct simnet_node {
    struct ustack *st;
    struct ustack_link *link;     /* the stack's link: an impairment wrapper
                                     around its end of the memlink pair
                                     (reading it takes what the other
                                     stack sent, once it has arrived) */
    struct ustack_link *mem;      /* that memlink end, under the wrapper */
    uint64_t deadline;            /* next timer, as ustack_timer said */
    struct simnet_wire_stats tx;  /* the fate of the frames it sent */
};

struct simnet {
    struct simnet_config cfg;
    uint64_t now;                 /* virtual time, microseconds */
    uint64_t rng;                 /* PRNG state (splitmix64), simnet_rand */
    struct simnet_node node[2];
    struct simnet_impair applied[2]; /* what the wrappers were last told */
    unsigned turn;                /* whose arrived frame goes first */
    uint8_t *scratch;             /* one frame, for receiving */
};

/* Defaults: no impairment, MTU 1500, stacks at 10.0.0.1 and 10.0.0.2. */
void simnet_config_init(struct simnet_config *cfg, uint64_t seed);

/* Create both stacks and the wire at virtual time 0. NULL on failure. */
struct simnet *simnet_new(const struct simnet_config *cfg);
void simnet_free(struct simnet *net);

/* Stop condition for simnet_run, checked after every event. */
typedef bool (*simnet_until_fn)(struct simnet *net, void *ctx);

/* Run until until(net, ctx) is true (returns 1), or max_virtual_us pass
 * (returns 0, with net->now advanced by exactly that much), or max_steps
 * events happen without either (returns -1: something is livelocked).
 * until may be NULL: run for max_virtual_us. */
int simnet_run(struct simnet *net, simnet_until_fn until, void *ctx,
               uint64_t max_virtual_us);

/* An until function: true when no frame is on the wire or in a link. */
bool simnet_idle(struct simnet *net, void *ctx);

/* The harness's PRNG, for tests that want seed-driven choices. */
uint64_t simnet_rand(struct simnet *net);

/* The seed given after the test filter on the command line
 * (`build/tests/sim <filter> <seed>`), for replaying one failing run.
 * Returns false (and leaves *seed alone) when there is none. */
bool simnet_seed_arg(uint64_t *seed);

#endif
