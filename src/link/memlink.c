/*
 * An in-memory link pair (include/ustack/link.h): what one end sends, the
 * other end receives, in order.
 *
 * Each direction is a ring of preallocated slots, each big enough for one
 * MTU-sized frame, so sending copies into a slot and never allocates. A
 * full ring refuses the frame with -ENOBUFS, like a full device queue.
 *
 * Not thread-safe: both ends must be used from one thread (tests and the
 * simulator drive everything from one loop).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/link.h"

#define ETHERNET_HEADER_LEN 14

/* Frames travelling in one direction. */
struct memlink_ring {
    unsigned capacity; /* number of slots */
    unsigned head;     /* oldest frame */
    unsigned count;    /* frames queued */
    size_t slot_size;  /* largest frame a slot holds */
    size_t *lens;      /* length of the frame in each slot */
    uint8_t *slots;    /* capacity * slot_size bytes */
};

/* One end. Both ends share the pair; it is freed when both are closed. */
struct memlink {
    struct ustack_link base; /* first member: a memlink is a ustack_link */
    struct memlink_pair *pair;
    struct memlink_ring *rx; /* frames for this end */
    struct memlink_ring *tx; /* frames for the other end */
};

struct memlink_pair {
    struct memlink end[2];
    struct memlink_ring ring[2]; /* ring[i] carries frames to end[i] */
    unsigned open_ends;
};

static int ring_init(struct memlink_ring *r, unsigned capacity, size_t slot_size)
{
    r->capacity = capacity;
    r->head = r->count = 0;
    r->slot_size = slot_size;
    r->lens = calloc(capacity, sizeof(*r->lens));
    r->slots = calloc(capacity, slot_size);
    return (r->lens && r->slots) ? 0 : -ENOMEM;
}

static void ring_free(struct memlink_ring *r)
{
    free(r->lens);
    free(r->slots);
}

static uint8_t *ring_slot(const struct memlink_ring *r, unsigned i)
{
    return r->slots + (size_t)(i % r->capacity) * r->slot_size;
}

static int memlink_send(struct ustack_link *link, const void *frame, size_t len)
{
    struct memlink_ring *r = ((struct memlink *)link)->tx;
    if (len > r->slot_size)
        return -EMSGSIZE;
    if (r->count == r->capacity)
        return -ENOBUFS;
    unsigned tail = (r->head + r->count) % r->capacity;
    memcpy(ring_slot(r, tail), frame, len);
    r->lens[tail] = len;
    r->count++;
    return 0;
}

static ssize_t memlink_recv(struct ustack_link *link, void *buf, size_t cap)
{
    struct memlink_ring *r = ((struct memlink *)link)->rx;
    if (r->count == 0)
        return 0;
    size_t len = r->lens[r->head];
    if (len > cap)
        len = cap; /* truncated, as the link interface specifies */
    memcpy(buf, ring_slot(r, r->head), len);
    r->head = (r->head + 1) % r->capacity;
    r->count--;
    return (ssize_t)len;
}

static void pair_free(struct memlink_pair *p)
{
    ring_free(&p->ring[0]);
    ring_free(&p->ring[1]);
    free(p);
}

static void memlink_close(struct ustack_link *link)
{
    struct memlink_pair *p = ((struct memlink *)link)->pair;
    if (--p->open_ends == 0)
        pair_free(p);
}

static const struct ustack_link_ops memlink_ops = {
    .send = memlink_send,
    .recv = memlink_recv,
    .close = memlink_close,
};

static void end_init(struct memlink_pair *p, int i, enum ustack_link_kind kind,
                     unsigned mtu)
{
    struct memlink *e = &p->end[i];
    e->base.ops = &memlink_ops;
    e->base.kind = kind;
    e->base.mtu = mtu;
    e->base.fd = -1; /* nothing to poll: callers check ustack_memlink_pending */
    e->pair = p;
    e->rx = &p->ring[i];
    e->tx = &p->ring[1 - i];
}

int ustack_memlink_pair(enum ustack_link_kind kind, unsigned mtu,
                        unsigned capacity, struct ustack_link **a,
                        struct ustack_link **b)
{
    if (capacity == 0)
        return -EINVAL;
    if (mtu == 0)
        mtu = 1500;
    /* The MTU counts the IP packet; an Ethernet frame adds its header. */
    size_t slot_size = mtu + (kind == USTACK_LINK_ETHERNET ? ETHERNET_HEADER_LEN : 0);
    struct memlink_pair *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    if (ring_init(&p->ring[0], capacity, slot_size) < 0 ||
        ring_init(&p->ring[1], capacity, slot_size) < 0) {
        pair_free(p);
        return -ENOMEM;
    }
    end_init(p, 0, kind, mtu);
    end_init(p, 1, kind, mtu);
    p->open_ends = 2;
    *a = &p->end[0].base;
    *b = &p->end[1].base;
    return 0;
}

unsigned ustack_memlink_pending(const struct ustack_link *link)
{
    return ((const struct memlink *)link)->rx->count;
}
