/*
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * cksum_add() accumulates 16-bit big-endian words into a 32-bit partial sum
 * (several calls can be chained, e.g. pseudo-header then segment; every
 * chunk but the last must have even length). cksum_finish() folds the carries
 * and complements: the value to store in a header. A received header whose
 * checksum field is included verifies when cksum_finish(...) == 0.
 */
#ifndef USTACK_CORE_CHECKSUM_H
#define USTACK_CORE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Add len bytes at data to the partial sum. */
uint32_t cksum_add(uint32_t sum, const void *data, size_t len);

/* Fold to 16 bits and complement. */
uint16_t cksum_finish(uint32_t sum);

/* Partial sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768) for the
 * transport checksum: addresses in host byte order. */
uint32_t cksum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* RFC 1624 eqn. 3: new checksum after a 16-bit field changed from old to
 * new; all values as they appear on the wire (host-order integers of the
 * big-endian bytes). */
uint16_t cksum_update16(uint16_t cksum, uint16_t old_val, uint16_t new_val);
uint16_t cksum_update32(uint16_t cksum, uint32_t old_val, uint32_t new_val);

#endif
