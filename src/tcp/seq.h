/*
 * Sequence number arithmetic (RFC 9293 §3.4).
 *
 * Sequence numbers live on a circle of 2^32 values: after 0xffffffff comes
 * 0. "a is before b" therefore cannot be a plain `a < b`; it means "going
 * forward from a, b is less than half the circle away". Computing the
 * distance b - a in unsigned (modulo 2^32) arithmetic and asking whether it
 * lands in the first half does exactly that, and stays well defined in C.
 *
 * The comparison is only meaningful for numbers less than 2^31 apart, which
 * TCP guarantees: windows are far smaller than that. At exactly 2^31 apart
 * the answer is arbitrary (both a < b and b < a hold), as with every
 * modular comparison.
 */
#ifndef USTACK_TCP_SEQ_H
#define USTACK_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* a < b: b is ahead of a by 1 .. 2^31. */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (uint32_t)(a - b) >= 0x80000000u;
}

/* a =< b */
static inline bool seq_leq(uint32_t a, uint32_t b)
{
    return a == b || seq_lt(a, b);
}

/* a > b */
static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return seq_lt(b, a);
}

/* a >= b */
static inline bool seq_geq(uint32_t a, uint32_t b)
{
    return seq_leq(b, a);
}

/* lo =< x < hi: x lies in the half-open range that starts at lo and holds
 * hi - lo numbers (an empty range when lo == hi). This is the shape of every
 * window test in RFC 9293, e.g. "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND". */
static inline bool seq_in_range(uint32_t x, uint32_t lo, uint32_t hi)
{
    return (uint32_t)(x - lo) < (uint32_t)(hi - lo);
}

/* The later / earlier of two sequence numbers. */
static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? b : a;
}

static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? a : b;
}

#endif
