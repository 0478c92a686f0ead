/*
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * The checksum is the one's complement of the one's complement sum of the
 * data taken as 16-bit big-endian words. Two properties of that sum make a
 * fast version simple (RFC 1071 §2):
 *
 *  - It does not care about byte order: summing the words in the machine's
 *    own order gives the byte-swapped result, so we swap once at the end
 *    instead of once per word.
 *  - Carries can be deferred: add wide chunks into a 64-bit accumulator and
 *    fold the carries back into the low 16 bits only at the end
 *    (2^16 = 1 modulo 0xffff, so folding never changes the value).
 *
 * Loads go through memcpy, so the data may start at any address.
 */
#include "core/checksum.h"

#include <string.h>

/* Fold a wide one's complement sum down to 16 bits: add the carries
 * back in until there are none. */
static uint16_t fold64(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

/* Turn a folded sum of native-order words into the sum of big-endian
 * words: on a little-endian machine that is one byte swap. */
static uint16_t native_to_wire(uint16_t sum)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return sum;
#else
    return (uint16_t)(sum << 8 | sum >> 8);
#endif
}

/* The tail of a buffer (and short buffers): 8 bytes per step, added as
 * two 32-bit halves, then what is left. */
static uint64_t sum_tail(const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        acc += (w & 0xffffffffu) + (w >> 32);
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        acc += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        acc += w;
        p += 2;
        len -= 2;
    }
    if (len == 1) {
        /* An odd last byte is the high half of a word padded with zero
         * (RFC 1071 §4.1); loading {byte, 0} keeps that true in any byte
         * order. */
        uint8_t last[2] = {p[0], 0};
        uint16_t w;
        memcpy(&w, last, 2);
        acc += w;
    }
    return acc;
}

/* Two 64-bit lanes (GCC/Clang vector extension: SSE2 on x86-64, NEON on
 * arm64, plain code elsewhere). */
typedef uint64_t u64x2 __attribute__((vector_size(16)));

/* One's complement sum of the bytes as native-order 16-bit words.
 *
 * The checksum is a third of the work TCP does per byte (once on output,
 * once on input), so the loop is written for speed: 64 bytes a step into
 * four vector accumulators, each lane taking the low or the high 32-bit
 * half of a 64-bit word. Deferred carries land in the upper half of each
 * 64-bit lane, which cannot overflow before 2^32 additions (128 GiB). GCC
 * does not vectorize the plain loop by itself at -O2; this runs about
 * twice as fast as the scalar sum_tail there, and as fast with Clang. */
static uint64_t sum_native(const uint8_t *p, size_t len)
{
    const u64x2 low = {0xffffffffu, 0xffffffffu};
    u64x2 a = {0, 0}, b = {0, 0}, c = {0, 0}, d = {0, 0};
    while (len >= 64) {
        u64x2 w0, w1, w2, w3;
        memcpy(&w0, p, 16);
        memcpy(&w1, p + 16, 16);
        memcpy(&w2, p + 32, 16);
        memcpy(&w3, p + 48, 16);
        a += w0 & low;
        b += w0 >> 32;
        c += w1 & low;
        d += w1 >> 32;
        a += w2 & low;
        b += w2 >> 32;
        c += w3 & low;
        d += w3 >> 32;
        p += 64;
        len -= 64;
    }
    a += b + c + d;
    /* The four lanes and the tail: far below 2^64 for any packet. */
    return a[0] + a[1] + sum_tail(p, len);
}

uint32_t cksum_add(uint32_t sum, const void *data, size_t len)
{
    uint16_t part = native_to_wire(fold64(sum_native(data, len)));
    /* Keep the running sum within 32 bits: fold, it costs nothing here. */
    return fold64((uint64_t)sum + part);
}

uint16_t cksum_finish(uint32_t sum)
{
    return (uint16_t)~fold64(sum);
}

uint32_t cksum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    /* Source, destination, zero + protocol, transport length: six 16-bit
     * words (RFC 793 §3.1). */
    uint32_t sum = (src >> 16) + (src & 0xffffu);
    sum += (dst >> 16) + (dst & 0xffffu);
    sum += proto;
    sum += len;
    return sum;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Unlike eqn. 2 (HC - ~m - m')
 * it never produces 0xffff where a full recomputation gives 0x0000
 * (RFC 1624 §3 works through that case). */
uint16_t cksum_update16(uint16_t cksum, uint16_t old_val, uint16_t new_val)
{
    uint32_t sum = (uint16_t)~cksum;
    sum += (uint16_t)~old_val;
    sum += new_val;
    return (uint16_t)~fold64(sum);
}

uint16_t cksum_update32(uint16_t cksum, uint32_t old_val, uint32_t new_val)
{
    uint32_t sum = (uint16_t)~cksum;
    sum += (uint16_t)~(old_val >> 16);
    sum += (uint16_t)~old_val;
    sum += new_val >> 16;
    sum += new_val & 0xffffu;
    return (uint16_t)~fold64(sum);
}
