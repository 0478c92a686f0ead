/*
 * SipHash-2-4: a keyed pseudo-random function with a 128-bit key and a
 * 64-bit output (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012).
 *
 * ustack uses it wherever an attacker must not be able to predict or steer a
 * value computed from packet fields: initial sequence numbers (RFC 6528),
 * SYN cookies (RFC 4987 §3.6) and the bucket of the connection hash table.
 */
#ifndef USTACK_CORE_SIPHASH_H
#define USTACK_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

struct siphash_key {
    uint64_t k0, k1; /* the key's two halves, read little-endian */
};

/* Load a key from 16 bytes. */
struct siphash_key siphash_key_from_bytes(const uint8_t bytes[SIPHASH_KEY_LEN]);

/* SipHash-2-4 of len bytes at data. */
uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);

#endif
