/*
 * Binary min-heap: items[i]'s children are items[2i+1] and items[2i+2], and
 * no child has an earlier deadline than its parent.
 */
#include "core/timerheap.h"

#include <errno.h>
#include <stdlib.h>

int timer_heap_init(struct timer_heap *h, uint32_t cap)
{
    h->items = calloc(cap ? cap : 1, sizeof(*h->items));
    if (!h->items)
        return -ENOMEM;
    h->count = 0;
    h->cap = cap;
    return 0;
}

void timer_heap_destroy(struct timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->count = h->cap = 0;
}

static void place(struct timer_heap *h, uint32_t i, struct heap_timer *t)
{
    h->items[i] = t;
    t->slot = i + 1;
}

/* Move the timer at i towards the root while it is earlier than its parent. */
static void sift_up(struct timer_heap *h, uint32_t i)
{
    struct heap_timer *t = h->items[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->items[parent]->when <= t->when)
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

/* Move the timer at i towards the leaves while a child is earlier. */
static void sift_down(struct timer_heap *h, uint32_t i)
{
    struct heap_timer *t = h->items[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->items[child + 1]->when < h->items[child]->when)
            child++;
        if (t->when <= h->items[child]->when)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

bool timer_heap_set(struct timer_heap *h, struct heap_timer *t, uint64_t when)
{
    if (!timer_scheduled(t)) {
        if (h->count == h->cap)
            return false;
        t->when = when;
        place(h, h->count++, t);
        sift_up(h, h->count - 1);
        return true;
    }
    uint64_t old = t->when;
    t->when = when;
    if (when < old)
        sift_up(h, t->slot - 1);
    else
        sift_down(h, t->slot - 1);
    return true;
}

void timer_heap_cancel(struct timer_heap *h, struct heap_timer *t)
{
    if (!timer_scheduled(t))
        return;
    uint32_t i = t->slot - 1;
    t->slot = 0;
    struct heap_timer *last = h->items[--h->count];
    if (last == t)
        return;
    /* Fill the hole with the last timer, then restore the order from
     * there: it may belong above or below its new place. */
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->slot - 1);
}
