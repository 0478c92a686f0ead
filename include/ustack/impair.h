/*
 * Link impairment: a fault injector at ustack's link boundary.
 *
 * ustack_impair_wrap() puts a decorator around any link (TUN, TAP, a
 * memlink). Every frame ustack sends ("out") and every frame it receives
 * ("in") goes through that direction's impairments, in this order:
 *
 *   1. loss        the frame is dropped (probability)
 *   2. duplicate   a second copy follows the first (probability); each copy
 *                  then goes through steps 3-6 on its own
 *   3. limit       the direction holds at most `limit` frames; a copy that
 *                  finds it full is dropped ("overflowed")
 *   4. corrupt     one byte at a random offset anywhere in the frame is
 *                  XORed with a random non-zero value (probability), so
 *                  checksums, headers and payload are all fair game
 *   5. rate        a serializing queue: a copy leaves after every earlier
 *                  one has, taking len * 8 / rate seconds of its own
 *   6. delay       fixed delay plus a uniform random 0..jitter; with the
 *                  reorder probability a copy is held back by reorder_us
 *                  more, so later frames overtake it (jitter larger than
 *                  the gap between frames reorders too)
 *
 * A copy whose time has come is handed on: "out" copies to the inner link,
 * "in" copies to whoever calls recv (the runner, a harness). Frames are
 * ordered by due time, ties in arrival order.
 *
 * Randomness comes from a splitmix64 stream per direction seeded from
 * cfg.seed, and an impairment set to 0 draws nothing, so the same seed and
 * the same frames at the same times give the same fate, frame for frame.
 *
 * Time: send and recv read the clock the config names (cfg.clock: the
 * runner's ustack_clock_us by default, a simulator passes its virtual
 * clock). Held frames leave only when someone asks: the link's poll op
 * (ustack_link_poll, which the runner calls every iteration) sends the
 * "out" frames that are due and returns the next deadline, which the
 * runner includes in its wait.
 *
 * Memory: a direction allocates `limit` slots of MTU + 18 bytes (an
 * Ethernet header with a VLAN tag) when it first has something to impair;
 * nothing is allocated per frame. A direction with every impairment off passes frames
 * straight through, without copying.
 *
 * Captures: the stack's tap sees frames where the stack sees them: what it
 * sends before the "out" impairments, what it receives after the "in" ones.
 *
 * Not thread-safe: it is used under the stack's lock, like the stack.
 */
#ifndef USTACK_IMPAIR_H
#define USTACK_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/link.h"

/* What one direction does to frames. All zero: nothing at all. */
struct ustack_impair_dir {
    double loss;          /* probability 0..1 that a frame is dropped */
    double duplicate;     /* probability 0..1 that a frame arrives twice */
    double reorder;       /* probability 0..1 that a copy is held back... */
    uint64_t reorder_us;  /* ...by this much extra (0 = 1 ms) */
    double corrupt;       /* probability 0..1 that one byte is changed */
    uint64_t delay_us;    /* fixed delay */
    uint64_t jitter_us;   /* plus uniform random 0..jitter_us */
    uint64_t rate_bps;    /* bits per second; 0 = no rate limit */
    unsigned limit;       /* frames held at once (0 = 1000) */
};

/* Bounds the parser and ustack_impair_wrap enforce. */
#define USTACK_IMPAIR_DEFAULT_LIMIT 1000
#define USTACK_IMPAIR_MAX_LIMIT 100000
#define USTACK_IMPAIR_DEFAULT_REORDER_US 1000
#define USTACK_IMPAIR_MAX_TIME_US (60ull * 1000000) /* delay, jitter, reorder */
#define USTACK_IMPAIR_MIN_RATE 1000ull              /* 1 kbit/s */
#define USTACK_IMPAIR_MAX_RATE 1000000000000ull     /* 1000 Gbit/s */

/* Optional observer of each frame's fate (simnet's verbose trace). `out`
 * tells the direction; `what` is "lost", "duplicated", "corrupted",
 * "held back (reorder)", "dropped: queue full"... */
typedef void (*ustack_impair_trace_fn)(void *ctx, bool out, size_t len, const char *what);

struct ustack_impair_config {
    struct ustack_impair_dir out; /* frames ustack sends */
    struct ustack_impair_dir in;  /* frames ustack receives */
    uint64_t seed;                /* for the random streams */
    /* The clock, in microseconds on ustack's time base. NULL: the
     * runner's ustack_clock_us (CLOCK_MONOTONIC). */
    uint64_t (*clock)(void *ctx);
    void *clock_ctx;
    ustack_impair_trace_fn trace; /* NULL: none */
    void *trace_ctx;
};

/* What one direction did. A frame counts once in `frames`; each copy that
 * leaves counts in `passed`, so passed = frames - dropped + duplicated -
 * overflowed - oversize - (copies still held). */
struct ustack_impair_counters {
    uint64_t frames;      /* frames that entered this direction */
    uint64_t passed;      /* copies handed on */
    uint64_t dropped;     /* lost by the loss impairment */
    uint64_t duplicated;  /* extra copies made */
    uint64_t reordered;   /* copies held back by reorder_us */
    uint64_t corrupted;   /* copies with one byte changed */
    uint64_t delayed;     /* copies held at all (delay, jitter, rate, reorder) */
    uint64_t overflowed;  /* copies dropped: `limit` frames already held */
    uint64_t oversize;    /* frames larger than MTU + 18 bytes, dropped */
    uint64_t link_errors; /* out: released copies the inner link refused */
};

/* Defaults: nothing impaired, limit 1000, seed 1, the runner's clock. */
void ustack_impair_config_init(struct ustack_impair_config *cfg);

/* Parse a spec like "loss=5%,dup=1%,delay=20ms,jitter=5ms,rate=10mbit" into
 * cfg, on top of what it already holds (so several specs can be applied in
 * turn). A leading "in:" or "out:" applies the whole spec to that direction
 * only; without one, to both. Keys:
 *   loss=P  dup=P  reorder=P  corrupt=P     P: a percentage, "5%", "0.5%"
 *   delay=T  jitter=T  reorder-delay=T      T: a time, "20ms", "500us", "1s"
 *   rate=R                                   R: "64kbit", "10mbit", "1gbit"
 *   limit=N                                  frames held, 1..100000
 *   seed=N                                   decimal or 0x hex (both ways)
 * Each key at most once per spec. Returns 0, or -1 with a one-line reason
 * in err (which names the offending item). */
int ustack_impair_parse(const char *spec, struct ustack_impair_config *cfg, char *err,
                        size_t errlen);

/* Describe a direction's impairments in spec syntax ("loss=5%,delay=20ms"),
 * or "none". Returns buf. */
const char *ustack_impair_format(const struct ustack_impair_dir *d, char *buf, size_t len);

/* Does this direction impair anything? */
bool ustack_impair_active(const struct ustack_impair_dir *d);

/* Wrap `inner`, which the wrapper then owns (closing the wrapper closes it).
 * The wrapper has inner's kind, MTU and fd, and a poll op. Returns NULL with
 * errno EINVAL (a probability outside 0..1, a time or rate or limit out of
 * bounds) or ENOMEM; inner is then left open. */
struct ustack_link *ustack_impair_wrap(struct ustack_link *inner,
                                       const struct ustack_impair_config *cfg);

/* Is this link an impairment wrapper? */
bool ustack_link_is_impair(const struct ustack_link *link);

/* Send the "out" frames due by `now` and return the earliest due time of
 * any frame still held (either direction), or UINT64_MAX when none is. An
 * "in" frame that is due waits for recv: a deadline <= now means recv has
 * something to give. Also the link's poll op. */
uint64_t ustack_impair_poll(struct ustack_link *link, uint64_t now);

/* Frames held right now (both directions). */
unsigned ustack_impair_held(const struct ustack_link *link);

/* Change the impairments of a running wrapper (a NULL direction is left as
 * it is), e.g. to cut the link (loss 1.0) and restore it. `limit` cannot
 * change after wrapping and is ignored. A direction that starts impairing
 * for the first time allocates its slots here. Frames already held keep
 * their due times. Returns 0, -EINVAL (not a wrapper, or a bad value) or
 * -ENOMEM. */
int ustack_impair_set(struct ustack_link *link, const struct ustack_impair_dir *out,
                      const struct ustack_impair_dir *in);

/* Copy the counters of each direction (either pointer may be NULL).
 * Returns 0, or -EINVAL when link is not a wrapper. */
int ustack_impair_counters(const struct ustack_link *link, struct ustack_impair_counters *out,
                           struct ustack_impair_counters *in);

/* Print the counters as "impair.out_dropped 12" lines in the format of
 * ustack_print_stats, to `file` (a FILE *); only the non-zero ones unless
 * `all`. Nothing when link is not a wrapper. */
void ustack_impair_print(const struct ustack_link *link, void *file, bool all);

#endif
