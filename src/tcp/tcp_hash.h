/*
 * A keyed hash of a TCP four-tuple (SipHash-2-4, src/core/siphash.h).
 *
 * Four things in TCP must be unpredictable for anyone without the secret
 * yet fixed for one four-tuple: the bucket of the connection table and
 * the F() of RFC 6056 §3.3.3's ephemeral port choice, which hashes the
 * tuple with local port 0 (tcp_conn.c), the F() of RFC 6528's ISN (isn.c)
 * and the timestamp clock offset of RFC 7323 §5.4 (tcp_options.c). Each
 * has its own key; this is the one way the tuple is laid out for hashing.
 */
#ifndef USTACK_TCP_TCP_HASH_H
#define USTACK_TCP_TCP_HASH_H

#include <stdint.h>

#include "core/bytes.h"
#include "core/siphash.h"

/* Local address and port, then remote, in network byte order. */
static inline uint64_t tcp_tuple_hash(const struct siphash_key *key, uint32_t laddr,
                                      uint16_t lport, uint32_t raddr, uint16_t rport)
{
    uint8_t tuple[12];
    put_be32(tuple, laddr);
    put_be16(tuple + 4, lport);
    put_be32(tuple + 6, raddr);
    put_be16(tuple + 10, rport);
    return siphash24(key, tuple, sizeof(tuple));
}

#endif
