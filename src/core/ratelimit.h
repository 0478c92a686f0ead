/*
 * A token bucket: at most `burst` events at once, refilled at `rate` tokens
 * per second. Used for ICMP errors (RFC 1812 §4.3.2.8) and TCP challenge
 * ACKs (RFC 5961 §7). Time is passed in, never read.
 */
#ifndef USTACK_CORE_RATELIMIT_H
#define USTACK_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
    uint32_t burst;     /* bucket size, in tokens */
    uint32_t rate;      /* tokens added per second */
    uint64_t tokens_us; /* tokens * 1e6: a refill of a fraction of a token
                           per microsecond stays exact */
    uint64_t last;      /* time of the last refill, microseconds */
};

static inline void ratelimit_init(struct ratelimit *rl, uint32_t burst,
                                  uint32_t rate, uint64_t now)
{
    rl->burst = burst;
    rl->rate = rate;
    rl->tokens_us = (uint64_t)burst * 1000000u;
    rl->last = now;
}

/* Take one token if there is one. */
static inline bool ratelimit_allow(struct ratelimit *rl, uint64_t now)
{
    uint64_t cap = (uint64_t)rl->burst * 1000000u;
    if (now > rl->last) {
        /* elapsed * rate tokens_us are due, but the product could wrap
         * after a long enough jump of `now` (an idle stack, a fuzzer's
         * clock): compare against the room left before multiplying. */
        uint64_t elapsed = now - rl->last, room = cap - rl->tokens_us;
        if (rl->rate && elapsed > room / rl->rate)
            rl->tokens_us = cap;
        else
            rl->tokens_us += elapsed * rl->rate;
        rl->last = now;
    }
    if (rl->tokens_us < 1000000u)
        return false;
    rl->tokens_us -= 1000000u;
    return true;
}

#endif
