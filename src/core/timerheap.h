/*
 * A min-heap of timers, ordered by deadline.
 *
 * Each timer is a small struct embedded in its owner (a TCP connection
 * embeds one); the heap stores pointers to them and each timer remembers
 * its own position, so setting, moving and cancelling a timer are
 * O(log n) and finding the earliest deadline is O(1). That lets a stack with
 * tens of thousands of connections run its timers without looking at every
 * connection on each tick.
 *
 * The heap's capacity is fixed at init (one slot per possible owner), so
 * scheduling never allocates and never fails.
 */
#ifndef USTACK_CORE_TIMERHEAP_H
#define USTACK_CORE_TIMERHEAP_H

#include <stdbool.h>
#include <stdint.h>

struct heap_timer {
    uint64_t when;  /* deadline, microseconds */
    uint32_t slot;  /* position in the heap + 1; 0 when not scheduled */
};

struct timer_heap {
    struct heap_timer **items; /* items[0] has the earliest deadline */
    uint32_t count;
    uint32_t cap;
};

/* Room for cap timers. 0 or -ENOMEM. */
int timer_heap_init(struct timer_heap *h, uint32_t cap);
void timer_heap_destroy(struct timer_heap *h);

static inline bool timer_scheduled(const struct heap_timer *t)
{
    return t->slot != 0;
}

/* Schedule t at `when`, or move it there if already scheduled. Returns
 * false only when the heap is full (more timers than its capacity). */
bool timer_heap_set(struct timer_heap *h, struct heap_timer *t, uint64_t when);

/* Unschedule t (nothing happens if it is not scheduled). */
void timer_heap_cancel(struct timer_heap *h, struct heap_timer *t);

/* The timer with the earliest deadline, or NULL when the heap is empty. */
static inline struct heap_timer *timer_heap_first(const struct timer_heap *h)
{
    return h->count ? h->items[0] : 0;
}

#endif
