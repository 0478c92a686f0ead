#include "core/ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ringbuf_alloc(struct ringbuf *rb, size_t cap)
{
    /* malloc, not calloc: pages the ring never reaches stay untouched. */
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return -ENOMEM;
    rb->buf = buf;
    rb->cap = cap;
    rb->head = 0;
    rb->used = 0;
    return 0;
}

void ringbuf_release(struct ringbuf *rb)
{
    free(rb->buf);
    rb->buf = NULL;
    rb->cap = rb->head = rb->used = 0;
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
    if (n)
        copy_in(rb, rb->used + offset, src, n);
    return n;
}

void ringbuf_commit(struct ringbuf *rb, size_t len)
{
    size_t space = ringbuf_free_space(rb);
    rb->used += len < space ? len : space;
}
