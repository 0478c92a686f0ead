/*
 * The packet buffer pools (pbuf.h): one allocation per pool, carved into
 * equal buffers that a free list hands out and takes back.
 */
#include "core/pbuf.h"

#include <errno.h>
#include <stdlib.h>

int pbuf_pool_init(struct pbuf_pool *pool, unsigned count, size_t payload_max)
{
    /* Keep every buffer 16-byte aligned so headers land on natural bounds. */
    size_t size = (sizeof(struct pbuf) + PBUF_HEADROOM + payload_max + 15) & ~(size_t)15;
    uint8_t *mem = calloc(count, size);
    if (!mem)
        return -ENOMEM;
    pool->memory = mem;
    pool->free = NULL;
    pool->total = count;
    pool->available = count;
    pool->buf_size = size - sizeof(struct pbuf);
    for (unsigned i = 0; i < count; i++) {
        struct pbuf *pb = (struct pbuf *)(mem + (size_t)i * size);
        pb->size = pool->buf_size;
        pb->owner = pool;
        pb->next = pool->free;
        pool->free = pb;
    }
    return 0;
}

void pbuf_pool_destroy(struct pbuf_pool *pool)
{
    free(pool->memory);
    pool->memory = NULL;
    pool->free = NULL;
    pool->total = pool->available = 0;
}

struct pbuf *pbuf_alloc(struct pbuf_pool *pool)
{
    struct pbuf *pb = pool->free;
    if (!pb)
        return NULL;
    pool->free = pb->next;
    pool->available--;
    pb->next = NULL;
    pb->data = pb->buf + PBUF_HEADROOM;
    pb->len = 0;
    return pb;
}

void pbuf_free(struct pbuf_pool *pool, struct pbuf *pb)
{
    if (!pb)
        return;
    pool = pb->owner; /* the caller's pool may be a sibling */
    pb->next = pool->free;
    pool->free = pb;
    pool->available++;
}
