/*
 * A byte ring: a bounded FIFO of bytes.
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
 * A ring has a limit (the most bytes it may hold: what SO_SNDBUF and
 * SO_RCVBUF set) and storage, which need not be as large. A ring made with
 * ringbuf_init() has no storage at first and grows it, doubling, only as
 * bytes arrive: an idle TCP connection costs no buffer memory at all, one
 * that only ever holds a few hundred bytes costs a couple of KiB, and a
 * bulk transfer reaches the limit after a handful of copies. Growth keeps
 * every byte, including those stored past the tail. ringbuf_alloc()
 * allocates all the storage at once; the library no longer uses it, tests
 * do (a ring of an exact capacity wraps where they expect).
 *
 * Growing can fail (out of memory): then the write stores fewer bytes than
 * the free space promised, and says so in its return value.
 */
#ifndef USTACK_CORE_RINGBUF_H
#define USTACK_CORE_RINGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Storage a growing ring starts with: one full-sized segment fits. */
#define RINGBUF_MIN_STORAGE 2048

struct ringbuf {
    uint8_t *buf;    /* storage, NULL until needed */
    size_t cap;      /* bytes of storage (<= limit) */
    size_t limit;    /* most bytes the ring may hold */
    size_t head;     /* index in buf of the first byte */
    size_t used;     /* bytes in the ring */
};

/* An empty ring that may hold up to limit bytes; storage comes as bytes
 * arrive. Allocates nothing, cannot fail. */
void ringbuf_init(struct ringbuf *rb, size_t limit);
/* Allocate all the storage for cap bytes now (cap > 0). 0 or -ENOMEM. */
int ringbuf_alloc(struct ringbuf *rb, size_t cap);
/* Release the storage; the ring is empty with limit 0 afterwards. */
void ringbuf_release(struct ringbuf *rb);
/* Change the limit (>= used: the caller keeps what it promised). A limit
 * below the storage size shrinks the storage, keeping the bytes stored up
 * to the new limit. 0 or -ENOMEM (the ring is unchanged). */
int ringbuf_set_limit(struct ringbuf *rb, size_t limit);

static inline size_t ringbuf_used(const struct ringbuf *rb)
{
    return rb->used;
}

static inline size_t ringbuf_free_space(const struct ringbuf *rb)
{
    return rb->limit - rb->used;
}

/* Append up to len bytes; returns how many were stored. */
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
 * how many were stored (bytes past the limit are cut off; fewer when the
 * storage could not grow). */
size_t ringbuf_write_at(struct ringbuf *rb, size_t offset, const void *src,
                        size_t len);
/* Make len bytes after the tail (stored earlier by ringbuf_write_at)
 * readable. len must not exceed what was stored there. */
void ringbuf_commit(struct ringbuf *rb, size_t len);

#endif
