/*
 * Link impairment decorator (include/ustack/impair.h): loss, duplication,
 * reordering, corruption, delay with jitter, a rate limit and a bounded
 * queue, in each direction, seeded.
 *
 * Each direction is a queue of preallocated slots ordered by due time in a
 * binary min-heap (ties broken by arrival order), so holding, releasing and
 * overtaking frames costs O(log n) and never allocates. A direction that
 * impairs nothing, with nothing held, passes frames straight through.
 */
#include "ustack/impair.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ustack/runner.h"

/* Room in a slot beyond the MTU: an Ethernet header plus one VLAN tag. */
#define SLOT_EXTRA 18
/* Largest frame read from the inner link: a maximal IPv4 packet plus that
 * header, so nothing is truncated before it is judged. */
#define RX_MAX (65535 + SLOT_EXTRA)
/* Frames taken from the inner link per recv call: a bound, so one call
 * cannot run forever against a peer that never stops sending. */
#define PULL_BATCH 64

enum { DIR_OUT, DIR_IN };

/* A frame in a slot. */
struct held {
    uint64_t due; /* when it leaves */
    uint64_t seq; /* arrival order, to break ties */
    size_t len;
};

/* One direction. */
struct impair_queue {
    struct ustack_impair_dir cfg;
    struct ustack_impair_counters cnt;
    bool out;             /* DIR_OUT, for traces */
    uint64_t rng;         /* splitmix64 state */
    unsigned limit;       /* slots */
    size_t slot_size;
    uint8_t *data;        /* limit * slot_size bytes; NULL until needed */
    struct held *held;    /* per slot */
    uint32_t *heap;       /* held slots, min-heap by (due, seq) */
    uint32_t *free_slots; /* a stack of free slot numbers */
    unsigned count;       /* frames held */
    unsigned nfree;
    uint64_t busy_until;  /* rate: the serializer is busy until then */
    uint64_t next_seq;
};

struct impair_link {
    struct ustack_link base; /* first member: a wrapper is a ustack_link */
    struct ustack_link *inner;
    struct impair_queue q[2]; /* [DIR_OUT], [DIR_IN] */
    uint64_t (*clock)(void *ctx);
    void *clock_ctx;
    ustack_impair_trace_fn trace;
    void *trace_ctx;
    uint8_t *rx; /* RX_MAX bytes for reading the inner link (with q[DIR_IN]) */
};

static const struct ustack_link_ops impair_ops;

/* ---- randomness ------------------------------------------------------------ */

/* splitmix64: tiny, and every seed (0 included) gives a good stream. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* True with probability p. Draws nothing when p is 0, so an impairment
 * that is off does not shift the stream the others see. */
static bool chance(struct impair_queue *q, double p)
{
    if (p <= 0)
        return false;
    return (double)(next_random(&q->rng) >> 11) * 0x1.0p-53 < p;
}

/* Uniform in 0..max, inclusive; draws nothing when max is 0. */
static uint64_t uniform(struct impair_queue *q, uint64_t max)
{
    if (max == 0)
        return 0;
    return next_random(&q->rng) % (max + 1);
}

/* ---- configuration ---------------------------------------------------------- */

void ustack_impair_config_init(struct ustack_impair_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->seed = 1;
}

bool ustack_impair_active(const struct ustack_impair_dir *d)
{
    return d->loss > 0 || d->duplicate > 0 || d->reorder > 0 || d->corrupt > 0 ||
           d->delay_us > 0 || d->jitter_us > 0 || d->rate_bps > 0;
}

static bool probability_ok(double p)
{
    return p >= 0 && p <= 1; /* false for NaN too */
}

static bool dir_ok(const struct ustack_impair_dir *d)
{
    return probability_ok(d->loss) && probability_ok(d->duplicate) &&
           probability_ok(d->reorder) && probability_ok(d->corrupt) &&
           d->delay_us <= USTACK_IMPAIR_MAX_TIME_US &&
           d->jitter_us <= USTACK_IMPAIR_MAX_TIME_US &&
           d->reorder_us <= USTACK_IMPAIR_MAX_TIME_US &&
           (d->rate_bps == 0 ||
            (d->rate_bps >= USTACK_IMPAIR_MIN_RATE && d->rate_bps <= USTACK_IMPAIR_MAX_RATE)) &&
           d->limit <= USTACK_IMPAIR_MAX_LIMIT;
}

static uint64_t default_clock(void *ctx)
{
    (void)ctx;
    return ustack_clock_us();
}

/* ---- the queue of one direction -------------------------------------------- */

static uint8_t *slot_data(const struct impair_queue *q, uint32_t slot)
{
    return q->data + (size_t)slot * q->slot_size;
}

static bool earlier(const struct impair_queue *q, uint32_t a, uint32_t b)
{
    const struct held *x = &q->held[a], *y = &q->held[b];
    return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void heap_swap(struct impair_queue *q, unsigned i, unsigned j)
{
    uint32_t t = q->heap[i];
    q->heap[i] = q->heap[j];
    q->heap[j] = t;
}

static void heap_push(struct impair_queue *q, uint32_t slot)
{
    unsigned i = q->count++;
    q->heap[i] = slot;
    while (i > 0 && earlier(q, q->heap[i], q->heap[(i - 1) / 2])) {
        heap_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static uint32_t heap_pop(struct impair_queue *q)
{
    uint32_t top = q->heap[0];
    q->heap[0] = q->heap[--q->count];
    for (unsigned i = 0;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->count && earlier(q, q->heap[l], q->heap[m]))
            m = l;
        if (r < q->count && earlier(q, q->heap[r], q->heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(q, i, m);
        i = m;
    }
    return top;
}

static uint64_t next_due(const struct impair_queue *q)
{
    return q->count ? q->held[q->heap[0]].due : UINT64_MAX;
}

/* Allocate the slots the first time this direction has work. */
static int queue_reserve(struct impair_queue *q)
{
    if (q->data)
        return 0;
    q->data = calloc(q->limit, q->slot_size);
    q->held = calloc(q->limit, sizeof(*q->held));
    q->heap = calloc(q->limit, sizeof(*q->heap));
    q->free_slots = calloc(q->limit, sizeof(*q->free_slots));
    if (!q->data || !q->held || !q->heap || !q->free_slots)
        return -ENOMEM;
    /* Reversed, so slot 0 is used first (tidier in a debugger). */
    for (unsigned i = 0; i < q->limit; i++)
        q->free_slots[i] = q->limit - 1 - i;
    q->nfree = q->limit;
    return 0;
}

static void queue_free(struct impair_queue *q)
{
    free(q->data);
    free(q->held);
    free(q->heap);
    free(q->free_slots);
}

/* ---- the impairments ----------------------------------------------------------- */

static void trace(struct impair_link *w, const struct impair_queue *q, size_t len,
                  const char *what)
{
    if (w->trace)
        w->trace(w->trace_ctx, q->out, len, what);
}

/* When a copy arriving now leaves the serializer: after every earlier copy
 * has, plus its own len * 8 / rate seconds (rounded up: a frame never
 * leaves early). */
static uint64_t serialize(struct impair_queue *q, size_t len, uint64_t now)
{
    uint64_t rate = q->cfg.rate_bps;
    if (!rate)
        return now;
    uint64_t start = q->busy_until > now ? q->busy_until : now;
    uint64_t bits = (uint64_t)len * 8;
    q->busy_until = start + (bits * 1000000 + rate - 1) / rate;
    return q->busy_until;
}

/* Hold one copy of the frame: corruption, rate, delay, jitter, reorder. */
static void hold_copy(struct impair_link *w, struct impair_queue *q, const uint8_t *frame,
                      size_t len, uint64_t now)
{
    if (q->nfree == 0) {
        q->cnt.overflowed++;
        trace(w, q, len, "dropped: queue full");
        return;
    }
    uint32_t slot = q->free_slots[--q->nfree];
    uint8_t *d = slot_data(q, slot);
    memcpy(d, frame, len);
    if (len > 0 && chance(q, q->cfg.corrupt)) {
        /* XOR with 1..255 so the byte really changes. */
        d[uniform(q, len - 1)] ^= (uint8_t)(1 + uniform(q, 254));
        q->cnt.corrupted++;
        trace(w, q, len, "corrupted");
    }
    uint64_t due = serialize(q, len, now) + q->cfg.delay_us + uniform(q, q->cfg.jitter_us);
    if (chance(q, q->cfg.reorder)) {
        due += q->cfg.reorder_us ? q->cfg.reorder_us : USTACK_IMPAIR_DEFAULT_REORDER_US;
        q->cnt.reordered++;
        trace(w, q, len, "held back (reorder)");
    }
    if (due > now)
        q->cnt.delayed++;
    q->held[slot] = (struct held){due, q->next_seq++, len};
    heap_push(q, slot);
}

/* A frame entering direction q: lose it, or hold one or two copies. */
static void admit(struct impair_link *w, struct impair_queue *q, const uint8_t *frame,
                  size_t len, uint64_t now)
{
    q->cnt.frames++;
    if (len > q->slot_size) {
        q->cnt.oversize++;
        trace(w, q, len, "dropped: larger than MTU + 18");
        return;
    }
    if (chance(q, q->cfg.loss)) {
        q->cnt.dropped++;
        trace(w, q, len, "lost");
        return;
    }
    bool twice = chance(q, q->cfg.duplicate);
    hold_copy(w, q, frame, len, now);
    if (twice) {
        q->cnt.duplicated++;
        trace(w, q, len, "duplicated");
        hold_copy(w, q, frame, len, now);
    }
}

/* A slot taken off the heap (heap_pop) is free again once its data was
 * used. */
static void put_back(struct impair_queue *q, uint32_t slot)
{
    q->free_slots[q->nfree++] = slot;
}

/* Send the "out" copies that are due. */
static void release_out(struct impair_link *w, uint64_t now)
{
    struct impair_queue *q = &w->q[DIR_OUT];
    while (q->count && next_due(q) <= now) {
        uint32_t slot = heap_pop(q);
        int rc = ustack_link_send(w->inner, slot_data(q, slot), q->held[slot].len);
        if (rc < 0) {
            q->cnt.link_errors++;
            trace(w, q, q->held[slot].len, "refused by the link");
        } else {
            q->cnt.passed++;
        }
        put_back(q, slot);
    }
}

/* ---- link operations ------------------------------------------------------------- */

/* Nothing to impair and nothing held: frames may skip the queue. */
static bool pass_through(const struct impair_queue *q)
{
    return q->count == 0 && !ustack_impair_active(&q->cfg);
}

static int impair_send(struct ustack_link *link, const void *frame, size_t len)
{
    struct impair_link *w = (struct impair_link *)link;
    struct impair_queue *q = &w->q[DIR_OUT];
    if (pass_through(q)) {
        q->cnt.frames++;
        int rc = ustack_link_send(w->inner, frame, len);
        if (rc < 0)
            q->cnt.link_errors++;
        else
            q->cnt.passed++;
        return rc; /* the stack counts the refusal too */
    }
    uint64_t now = w->clock(w->clock_ctx);
    admit(w, q, frame, len, now);
    release_out(w, now);
    return 0; /* a frame the wire loses was still sent */
}

static ssize_t impair_recv(struct ustack_link *link, void *buf, size_t cap)
{
    struct impair_link *w = (struct impair_link *)link;
    struct impair_queue *q = &w->q[DIR_IN];
    if (pass_through(q)) {
        ssize_t n = ustack_link_recv(w->inner, buf, cap);
        if (n > 0) {
            q->cnt.frames++;
            q->cnt.passed++;
        }
        return n;
    }
    uint64_t now = w->clock(w->clock_ctx);
    ssize_t err = 0;
    for (unsigned i = 0; i < PULL_BATCH; i++) {
        ssize_t n = ustack_link_recv(w->inner, w->rx, RX_MAX);
        if (n <= 0) {
            err = n;
            break;
        }
        admit(w, q, w->rx, (size_t)n, now);
    }
    if (!q->count || next_due(q) > now)
        return err; /* nothing due: 0, or the inner link's error */
    uint32_t slot = heap_pop(q);
    size_t len = q->held[slot].len;
    /* Truncated to cap, as the link interface specifies. */
    memcpy(buf, slot_data(q, slot), len < cap ? len : cap);
    put_back(q, slot);
    q->cnt.passed++;
    return (ssize_t)(len < cap ? len : cap);
}

uint64_t ustack_impair_poll(struct ustack_link *link, uint64_t now)
{
    if (!ustack_link_is_impair(link))
        return UINT64_MAX;
    struct impair_link *w = (struct impair_link *)link;
    release_out(w, now);
    uint64_t out = next_due(&w->q[DIR_OUT]), in = next_due(&w->q[DIR_IN]);
    return out < in ? out : in;
}

static void impair_close(struct ustack_link *link)
{
    struct impair_link *w = (struct impair_link *)link;
    ustack_link_close(w->inner);
    queue_free(&w->q[DIR_OUT]);
    queue_free(&w->q[DIR_IN]);
    free(w->rx);
    free(w);
}

static const struct ustack_link_ops impair_ops = {
    .send = impair_send,
    .recv = impair_recv,
    .close = impair_close,
    .poll = ustack_impair_poll,
};

bool ustack_link_is_impair(const struct ustack_link *link)
{
    return link && link->ops == &impair_ops;
}

/* ---- creation and control ---------------------------------------------------------- */

/* Make direction q do what d says, allocating its slots if it must. */
static int queue_configure(struct impair_link *w, struct impair_queue *q,
                           const struct ustack_impair_dir *d)
{
    unsigned limit = q->limit;
    q->cfg = *d;
    q->cfg.limit = limit; /* fixed at wrap time */
    if (!ustack_impair_active(d))
        return 0;
    if (queue_reserve(q) < 0)
        return -ENOMEM;
    if (!q->out && !w->rx && !(w->rx = malloc(RX_MAX)))
        return -ENOMEM;
    return 0;
}

static void queue_init(struct impair_queue *q, bool out, const struct ustack_impair_dir *d,
                       uint64_t seed, size_t slot_size)
{
    q->out = out;
    /* Each direction has its own stream, so impairing one direction does
     * not change what happens in the other. */
    q->rng = seed ^ (out ? 0x6f7574ull : 0x696eull); /* "out", "in" */
    q->limit = d->limit ? d->limit : USTACK_IMPAIR_DEFAULT_LIMIT;
    q->slot_size = slot_size;
}

struct ustack_link *ustack_impair_wrap(struct ustack_link *inner,
                                       const struct ustack_impair_config *cfg)
{
    if (!inner || !cfg || !dir_ok(&cfg->out) || !dir_ok(&cfg->in)) {
        errno = EINVAL;
        return NULL;
    }
    struct impair_link *w = calloc(1, sizeof(*w));
    if (!w) {
        errno = ENOMEM;
        return NULL;
    }
    w->base.ops = &impair_ops;
    w->base.kind = inner->kind;
    w->base.mtu = inner->mtu;
    w->base.fd = inner->fd;
    w->inner = inner;
    w->clock = cfg->clock ? cfg->clock : default_clock;
    w->clock_ctx = cfg->clock ? cfg->clock_ctx : NULL;
    w->trace = cfg->trace;
    w->trace_ctx = cfg->trace_ctx;
    size_t slot_size = (size_t)inner->mtu + SLOT_EXTRA;
    queue_init(&w->q[DIR_OUT], true, &cfg->out, cfg->seed, slot_size);
    queue_init(&w->q[DIR_IN], false, &cfg->in, cfg->seed, slot_size);
    if (queue_configure(w, &w->q[DIR_OUT], &cfg->out) < 0 ||
        queue_configure(w, &w->q[DIR_IN], &cfg->in) < 0) {
        w->inner = NULL; /* the caller keeps it */
        queue_free(&w->q[DIR_OUT]);
        queue_free(&w->q[DIR_IN]);
        free(w->rx);
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    return &w->base;
}

int ustack_impair_set(struct ustack_link *link, const struct ustack_impair_dir *out,
                      const struct ustack_impair_dir *in)
{
    if (!ustack_link_is_impair(link) || (out && !dir_ok(out)) || (in && !dir_ok(in)))
        return -EINVAL;
    struct impair_link *w = (struct impair_link *)link;
    int rc = 0;
    if (out)
        rc = queue_configure(w, &w->q[DIR_OUT], out);
    if (in && rc == 0)
        rc = queue_configure(w, &w->q[DIR_IN], in);
    return rc;
}

unsigned ustack_impair_held(const struct ustack_link *link)
{
    if (!ustack_link_is_impair(link))
        return 0;
    const struct impair_link *w = (const struct impair_link *)link;
    return w->q[DIR_OUT].count + w->q[DIR_IN].count;
}

int ustack_impair_counters(const struct ustack_link *link, struct ustack_impair_counters *out,
                           struct ustack_impair_counters *in)
{
    if (!ustack_link_is_impair(link))
        return -EINVAL;
    const struct impair_link *w = (const struct impair_link *)link;
    if (out)
        *out = w->q[DIR_OUT].cnt;
    if (in)
        *in = w->q[DIR_IN].cnt;
    return 0;
}

static void print_dir(FILE *f, const char *dir, const struct ustack_impair_counters *c, bool all)
{
    const struct {
        const char *name;
        uint64_t v;
    } rows[] = {
        {"frames", c->frames},         {"passed", c->passed},
        {"dropped", c->dropped},       {"duplicated", c->duplicated},
        {"reordered", c->reordered},   {"corrupted", c->corrupted},
        {"delayed", c->delayed},       {"overflowed", c->overflowed},
        {"oversize", c->oversize},     {"link_errors", c->link_errors},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (!rows[i].v && !all)
            continue;
        char name[40];
        snprintf(name, sizeof(name), "impair.%s_%s", dir, rows[i].name);
        fprintf(f, "%-32s %llu\n", name, (unsigned long long)rows[i].v);
    }
}

void ustack_impair_print(const struct ustack_link *link, void *file, bool all)
{
    struct ustack_impair_counters out, in;
    if (ustack_impair_counters(link, &out, &in) < 0)
        return;
    print_dir(file, "out", &out, all);
    print_dir(file, "in", &in, all);
}

/* ---- the spec syntax ------------------------------------------------------------- */

enum spec_key {
    SK_LOSS, SK_DUP, SK_REORDER, SK_CORRUPT, SK_DELAY, SK_JITTER, SK_REORDER_DELAY,
    SK_RATE, SK_LIMIT, SK_SEED, SK_COUNT
};

static const char *const spec_keys[SK_COUNT] = {
    "loss", "dup", "reorder", "corrupt", "delay", "jitter", "reorder-delay",
    "rate", "limit", "seed",
};

#define SPEC_KEY_LIST "loss, dup, reorder, corrupt, delay, jitter, reorder-delay, rate, limit, seed"

/* A plain decimal number, "12" or "0.5": no sign, no exponent, no spaces
 * (strtod would take all of those, and "inf"). *end points past it. */
static int parse_decimal(const char *s, const char **end, double *v)
{
    double x = 0, scale = 1;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        x = x * 10 + (*s - '0');
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
            scale /= 10;
            x += (*s - '0') * scale;
        }
    }
    if (!digits || x > 1e15)
        return -1;
    *v = x;
    *end = s;
    return 0;
}

/* A number followed by one of the units; *v is scaled by the unit's
 * multiplier. The unit comparison ignores case. */
struct unit {
    const char *name;
    double mult;
};

static int parse_with_unit(const char *s, const struct unit *units, double *v)
{
    const char *u;
    double x;
    if (parse_decimal(s, &u, &x) < 0)
        return -1;
    for (; units->name; units++) {
        if (strcasecmp(u, units->name) == 0) {
            *v = x * units->mult;
            return 0;
        }
    }
    return -1;
}

static const struct unit percent_units[] = {{"%", 0.01}, {NULL, 0}};
static const struct unit time_units[] = {{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {NULL, 0}};
static const struct unit rate_units[] = {
    {"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {NULL, 0}};

static int parse_count(const char *s, uint64_t max, uint64_t *v)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0); /* decimal, or 0x hex */
    if (errno || *end || x > max)
        return -1;
    *v = x;
    return 0;
}

/* The value of one item, checked; its meaning in *num (a probability,
 * microseconds, bits per second or a count). */
static int parse_value(enum spec_key k, const char *item, const char *val, double *num,
                       uint64_t *count, char *err, size_t errlen)
{
    double x;
    switch (k) {
    case SK_LOSS: case SK_DUP: case SK_REORDER: case SK_CORRUPT:
        if (parse_with_unit(val, percent_units, &x) < 0 || x > 1) {
            snprintf(err, errlen,
                     "'%s': %s wants a percentage from 0%% to 100%%, like 5%% or 0.5%%", item,
                     spec_keys[k]);
            return -1;
        }
        *num = x;
        return 0;
    case SK_DELAY: case SK_JITTER: case SK_REORDER_DELAY:
        if (parse_with_unit(val, time_units, &x) < 0 ||
            x > (double)USTACK_IMPAIR_MAX_TIME_US) {
            snprintf(err, errlen, "'%s': %s wants a time up to 60s with a unit, like 20ms, "
                     "500us or 1s", item, spec_keys[k]);
            return -1;
        }
        *count = (uint64_t)(x + 0.5);
        return 0;
    case SK_RATE:
        if (parse_with_unit(val, rate_units, &x) < 0 || x < (double)USTACK_IMPAIR_MIN_RATE ||
            x > (double)USTACK_IMPAIR_MAX_RATE) {
            snprintf(err, errlen, "'%s': rate wants bits per second from 1kbit to 1000gbit, "
                     "like 64kbit, 10mbit or 1gbit", item);
            return -1;
        }
        *count = (uint64_t)(x + 0.5);
        return 0;
    case SK_LIMIT:
        if (parse_count(val, USTACK_IMPAIR_MAX_LIMIT, count) < 0 || *count == 0) {
            snprintf(err, errlen, "'%s': limit wants a number of frames from 1 to %u", item,
                     USTACK_IMPAIR_MAX_LIMIT);
            return -1;
        }
        return 0;
    case SK_SEED:
        if (parse_count(val, UINT64_MAX, count) < 0) {
            snprintf(err, errlen, "'%s': seed wants a whole number (decimal or 0x hex)", item);
            return -1;
        }
        return 0;
    case SK_COUNT:
        break;
    }
    return -1;
}

/* Store a parsed value in one direction. */
static void apply_value(struct ustack_impair_dir *d, enum spec_key k, double num, uint64_t count)
{
    switch (k) {
    case SK_LOSS: d->loss = num; break;
    case SK_DUP: d->duplicate = num; break;
    case SK_REORDER: d->reorder = num; break;
    case SK_CORRUPT: d->corrupt = num; break;
    case SK_DELAY: d->delay_us = count; break;
    case SK_JITTER: d->jitter_us = count; break;
    case SK_REORDER_DELAY: d->reorder_us = count; break;
    case SK_RATE: d->rate_bps = count; break;
    case SK_LIMIT: d->limit = (unsigned)count; break;
    case SK_SEED: case SK_COUNT: break;
    }
}

static int find_key(const char *name, size_t len)
{
    for (int k = 0; k < SK_COUNT; k++)
        if (strlen(spec_keys[k]) == len && strncmp(spec_keys[k], name, len) == 0)
            return k;
    return -1;
}

/* One "key=value" item (NUL-terminated) into cfg, for the directions
 * asked. `seen` catches a key given twice. */
static int parse_item(char *item, struct ustack_impair_config *cfg, bool out, bool in,
                      unsigned *seen, char *err, size_t errlen)
{
    char *eq = strchr(item, '=');
    int k = eq ? find_key(item, (size_t)(eq - item)) : -1;
    if (!eq || eq == item || !eq[1]) {
        snprintf(err, errlen, "'%s' is not key=value (keys: " SPEC_KEY_LIST ")", item);
        return -1;
    }
    if (k < 0) {
        snprintf(err, errlen, "'%.*s' is not a known key (keys: " SPEC_KEY_LIST ")",
                 (int)(eq - item), item);
        return -1;
    }
    if (*seen & (1u << k)) {
        snprintf(err, errlen, "'%s' is given twice", spec_keys[k]);
        return -1;
    }
    *seen |= 1u << k;
    double num = 0;
    uint64_t count = 0;
    if (parse_value((enum spec_key)k, item, eq + 1, &num, &count, err, errlen) < 0)
        return -1;
    if (k == SK_SEED)
        cfg->seed = count;
    if (out)
        apply_value(&cfg->out, (enum spec_key)k, num, count);
    if (in)
        apply_value(&cfg->in, (enum spec_key)k, num, count);
    return 0;
}

int ustack_impair_parse(const char *spec, struct ustack_impair_config *cfg, char *err,
                        size_t errlen)
{
    bool out = true, in = true;
    if (!spec)
        spec = "";
    if (strncmp(spec, "in:", 3) == 0) {
        out = false;
        spec += 3;
    } else if (strncmp(spec, "out:", 4) == 0) {
        in = false;
        spec += 4;
    }
    if (!*spec) {
        snprintf(err, errlen, "empty impairment spec (try e.g. loss=5%%,delay=20ms)");
        return -1;
    }
    char copy[512];
    if (strlen(spec) >= sizeof(copy)) {
        snprintf(err, errlen, "impairment spec longer than %zu characters", sizeof(copy) - 1);
        return -1;
    }
    strcpy(copy, spec);
    /* All or nothing: work on a copy of cfg. */
    struct ustack_impair_config next = *cfg;
    unsigned seen = 0;
    char *item = copy;
    for (;;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        if (!*item) {
            snprintf(err, errlen, "empty item in '%s' (two commas, or one at an end)", spec);
            return -1;
        }
        if (parse_item(item, &next, out, in, &seen, err, errlen) < 0)
            return -1;
        if (!comma)
            break;
        item = comma + 1;
    }
    *cfg = next;
    return 0;
}

/* ---- describing a direction ---------------------------------------------------- */

static void append(char *buf, size_t len, size_t *used, const char *key, double v,
                   const char *unit)
{
    if (*used >= len)
        return;
    int n = snprintf(buf + *used, len - *used, "%s%s=%g%s", *used ? "," : "", key, v, unit);
    if (n > 0)
        *used += (size_t)n;
}

static void append_time(char *buf, size_t len, size_t *used, const char *key, uint64_t us)
{
    if (us % 1000000 == 0)
        append(buf, len, used, key, (double)(us / 1000000), "s");
    else if (us % 1000 == 0)
        append(buf, len, used, key, (double)(us / 1000), "ms");
    else
        append(buf, len, used, key, (double)us, "us");
}

static void append_rate(char *buf, size_t len, size_t *used, uint64_t bps)
{
    if (bps % 1000000000 == 0)
        append(buf, len, used, "rate", (double)(bps / 1000000000), "gbit");
    else if (bps % 1000000 == 0)
        append(buf, len, used, "rate", (double)(bps / 1000000), "mbit");
    else if (bps % 1000 == 0)
        append(buf, len, used, "rate", (double)(bps / 1000), "kbit");
    else
        append(buf, len, used, "rate", (double)bps, "bit");
}

const char *ustack_impair_format(const struct ustack_impair_dir *d, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    if (!ustack_impair_active(d)) {
        snprintf(buf, len, "none");
        return buf;
    }
    if (d->loss > 0)
        append(buf, len, &used, "loss", d->loss * 100, "%");
    if (d->duplicate > 0)
        append(buf, len, &used, "dup", d->duplicate * 100, "%");
    if (d->reorder > 0)
        append(buf, len, &used, "reorder", d->reorder * 100, "%");
    if (d->reorder > 0 && d->reorder_us)
        append_time(buf, len, &used, "reorder-delay", d->reorder_us);
    if (d->corrupt > 0)
        append(buf, len, &used, "corrupt", d->corrupt * 100, "%");
    if (d->delay_us)
        append_time(buf, len, &used, "delay", d->delay_us);
    if (d->jitter_us)
        append_time(buf, len, &used, "jitter", d->jitter_us);
    if (d->rate_bps)
        append_rate(buf, len, &used, d->rate_bps);
    if (d->limit)
        append(buf, len, &used, "limit", d->limit, "");
    return buf;
}
