/*
 * A byte ring: a fixed-capacity FIFO of bytes in one allocation.
 *
 * TCP keeps its send buffer (bytes not yet acknowledged, then bytes not yet
 * sent) and its receive buffer (bytes not yet read by the application) in
 * rings. Besides the usual write-at-the-tail / read-at-the-head, a ring can
 * copy bytes out from any offset without consuming them (retransmission reads
 * the same bytes again until they are acknowledged) and write bytes at an
 * offset past the tail without making them readable yet (where TCP's
 * reassembly queue puts out-of-order data), and the head never jumps, so
 * such bytes stay valid while the readable ones are consumed.
 *
 * The capacity is fixed when the storage is allocated; the storage can be
 * allocated late (ringbuf_alloc), so a ring costs nothing until used.
 */
#ifndef USTACK_CORE_RINGBUF_H
#define USTACK_CORE_RINGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ringbuf {
    uint8_t *buf;    /* storage, NULL until ringbuf_alloc */
    size_t cap;      /* bytes of storage */
    size_t head;     /* index of the first byte */
    size_t used;     /* bytes in the ring */
};

/* Allocate storage for cap bytes (cap > 0). 0 or -ENOMEM. */
int ringbuf_alloc(struct ringbuf *rb, size_t cap);
/* Release the storage; the ring is empty with capacity 0 afterwards. */
void ringbuf_release(struct ringbuf *rb);

static inline size_t ringbuf_used(const struct ringbuf *rb)
{
    return rb->used;
}

static inline size_t ringbuf_free_space(const struct ringbuf *rb)
{
    return rb->cap - rb->used;
}

/* Append up to len bytes; returns how many fit. */
size_t ringbuf_write(struct ringbuf *rb, const void *src, size_t len);

/* Copy up to len bytes starting `offset` bytes after the head into dst,
 * without consuming them. Returns how many were copied. */
size_t ringbuf_peek(const struct ringbuf *rb, size_t offset, void *dst,
                    size_t len);

/* Remove up to len bytes from the head; returns how many were removed. */
size_t ringbuf_consume(struct ringbuf *rb, size_t len);

/* Copy out and remove up to len bytes from the head. */
size_t ringbuf_read(struct ringbuf *rb, void *dst, size_t len);

/* Store len bytes `offset` bytes past the tail, in free space, without
 * making them readable; ringbuf_commit later makes bytes readable. Returns
 * how many fit (bytes past the capacity are cut off). */
size_t ringbuf_write_at(struct ringbuf *rb, size_t offset, const void *src,
                        size_t len);
/* Make len bytes after the tail (stored earlier by ringbuf_write_at)
 * readable. len must not exceed the free space. */
void ringbuf_commit(struct ringbuf *rb, size_t len);

#endif
