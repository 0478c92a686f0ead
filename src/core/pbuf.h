/*
 * Packet buffers for output.
 *
 * A pbuf is one contiguous buffer with headroom in front of the data, so each
 * layer prepends its header in place (pbuf_push) without copying the payload
 * that the layer above already wrote. Buffers come from a pool allocated
 * once when the stack is created: the steady state allocates nothing.
 *
 * Input frames are not pbufs: the stack only borrows them for the duration
 * of ustack_input().
 */
#ifndef USTACK_CORE_PBUF_H
#define USTACK_CORE_PBUF_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the largest header chain we prepend:
 * Ethernet (14) + IPv6 (40) or IPv4 (20) + TCP with options (60), rounded. */
#define PBUF_HEADROOM 128

struct pbuf_pool;

struct pbuf {
    struct pbuf *next; /* link in a queue (free list, ARP wait queue, ...) */
    struct pbuf_pool *owner; /* the pool it returns to */
    uint8_t *data;     /* first valid byte */
    size_t len;        /* number of valid bytes */
    size_t size;       /* bytes in buf[] */
    uint8_t buf[];
};

struct pbuf_pool {
    struct pbuf *free;  /* free list */
    unsigned total;     /* buffers owned by the pool */
    unsigned available; /* buffers on the free list */
    size_t buf_size;    /* size of each buffer, headroom included */
    void *memory;       /* one allocation holding every buffer */
};

/* Allocate `count` buffers able to hold `payload_max` bytes after the
 * headroom. Returns 0 or -ENOMEM. */
int pbuf_pool_init(struct pbuf_pool *pool, unsigned count, size_t payload_max);
void pbuf_pool_destroy(struct pbuf_pool *pool);

/* A fresh empty buffer with PBUF_HEADROOM in front, or NULL if the pool is
 * empty (the caller counts the drop). */
struct pbuf *pbuf_alloc(struct pbuf_pool *pool);
/* Return pb to the pool it came from. A stack has more than one pool
 * (MTU-sized and 64 KiB buffers); each buffer knows its owner, so `pool`
 * only needs to be one of the stack's pools. NULL pb is ignored. */
void pbuf_free(struct pbuf_pool *pool, struct pbuf *pb);

/* Bytes that can still be appended / prepended. */
static inline size_t pbuf_tailroom(const struct pbuf *pb)
{
    return pb->size - (size_t)(pb->data - pb->buf) - pb->len;
}

static inline size_t pbuf_headroom(const struct pbuf *pb)
{
    return (size_t)(pb->data - pb->buf);
}

/* Append n bytes at the end; returns where to write them. */
static inline uint8_t *pbuf_put(struct pbuf *pb, size_t n)
{
    assert(n <= pbuf_tailroom(pb));
    uint8_t *p = pb->data + pb->len;
    pb->len += n;
    return p;
}

/* Prepend n bytes (a header); returns the new start of data. */
static inline uint8_t *pbuf_push(struct pbuf *pb, size_t n)
{
    assert(n <= pbuf_headroom(pb));
    pb->data -= n;
    pb->len += n;
    return pb->data;
}

#endif
