#include "core/ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ringbuf_init(struct ringbuf *rb, size_t limit)
{
    rb->buf = NULL;
    rb->cap = 0;
    rb->limit = limit;
    rb->head = 0;
    rb->used = 0;
}

int ringbuf_alloc(struct ringbuf *rb, size_t cap)
{
    /* malloc, not calloc: pages the ring never reaches stay untouched. */
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return -ENOMEM;
    rb->buf = buf;
    rb->cap = cap;
    rb->limit = cap;
    rb->head = 0;
    rb->used = 0;
    return 0;
}

void ringbuf_release(struct ringbuf *rb)
{
    free(rb->buf);
    ringbuf_init(rb, 0);
}

/* Index in buf of the byte `offset` bytes after the head (offset < cap). */
static size_t ring_index(const struct ringbuf *rb, size_t offset)
{
    size_t i = rb->head + offset;
    return i >= rb->cap ? i - rb->cap : i;
}

/* Copy len bytes into the ring at logical position pos (pos + len <= cap):
 * at most two pieces, before and after the end of the storage. */
static void copy_in(struct ringbuf *rb, size_t pos, const uint8_t *src,
                    size_t len)
{
    size_t i = ring_index(rb, pos);
    size_t first = rb->cap - i < len ? rb->cap - i : len;
    memcpy(rb->buf + i, src, first);
    memcpy(rb->buf, src + first, len - first);
}

static void copy_out(const struct ringbuf *rb, size_t pos, uint8_t *dst,
                     size_t len)
{
    size_t i = ring_index(rb, pos);
    size_t first = rb->cap - i < len ? rb->cap - i : len;
    memcpy(dst, rb->buf + i, first);
    memcpy(dst + first, rb->buf, len - first);
}

/* Move the ring into new storage of cap bytes, head first, keeping the
 * first min(cap, rb->cap) bytes after the head: the readable ones and any
 * stored past the tail. */
static int move_storage(struct ringbuf *rb, size_t cap)
{
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    if (rb->cap)
        copy_out(rb, 0, buf, rb->cap < cap ? rb->cap : cap);
    free(rb->buf);
    rb->buf = buf;
    rb->cap = cap;
    rb->head = 0;
    return 0;
}

/* Make the storage hold at least `need` bytes from the head (need <=
 * limit), doubling so that a ring filled a segment at a time is copied
 * only log2(limit / RINGBUF_MIN_STORAGE) times. False when out of memory. */
static bool reserve(struct ringbuf *rb, size_t need)
{
    if (need <= rb->cap)
        return true;
    size_t cap = rb->cap ? rb->cap : RINGBUF_MIN_STORAGE;
    while (cap < need)
        cap *= 2;
    if (cap > rb->limit)
        cap = rb->limit;
    return move_storage(rb, cap) == 0;
}

int ringbuf_set_limit(struct ringbuf *rb, size_t limit)
{
    if (limit < rb->used)
        limit = rb->used;
    if (limit == 0) {
        ringbuf_release(rb); /* empty, and may hold nothing */
        return 0;
    }
    if (limit < rb->cap && move_storage(rb, limit) < 0)
        return -ENOMEM;
    rb->limit = limit;
    return 0;
}

size_t ringbuf_write(struct ringbuf *rb, const void *src, size_t len)
{
    size_t n = ringbuf_write_at(rb, 0, src, len);
    rb->used += n;
    return n;
}

size_t ringbuf_peek(const struct ringbuf *rb, size_t offset, void *dst,
                    size_t len)
{
    if (offset >= rb->used)
        return 0;
    size_t n = rb->used - offset < len ? rb->used - offset : len;
    if (n)
        copy_out(rb, offset, dst, n);
    return n;
}

size_t ringbuf_consume(struct ringbuf *rb, size_t len)
{
    size_t n = len < rb->used ? len : rb->used;
    /* The head only ever moves forward, even when the ring empties:
     * bytes stored past the tail (ringbuf_write_at) stay where they are. */
    rb->head = rb->cap ? ring_index(rb, n) : 0;
    rb->used -= n;
    return n;
}

size_t ringbuf_read(struct ringbuf *rb, void *dst, size_t len)
{
    size_t n = ringbuf_peek(rb, 0, dst, len);
    return ringbuf_consume(rb, n);
}

size_t ringbuf_write_at(struct ringbuf *rb, size_t offset, const void *src,
                        size_t len)
{
    size_t space = ringbuf_free_space(rb);
    if (offset >= space)
        return 0;
    size_t n = space - offset < len ? space - offset : len;
    if (n == 0)
        return 0;
    size_t end = rb->used + offset + n;
    if (!reserve(rb, end)) {
        /* Out of memory: store what the present storage holds. */
        if (rb->used + offset >= rb->cap)
            return 0;
        n = rb->cap - rb->used - offset;
    }
    copy_in(rb, rb->used + offset, src, n);
    return n;
}

void ringbuf_commit(struct ringbuf *rb, size_t len)
{
    /* Only bytes in the storage can have been stored. */
    size_t stored = rb->cap - rb->used;
    rb->used += len < stored ? len : stored;
}
