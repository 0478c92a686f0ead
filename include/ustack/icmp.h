/*
 * Ping: sending ICMP echo requests and hearing the replies (RFC 792).
 *
 * The stack itself answers echo requests addressed to it; this API is for
 * the other direction, e.g. `ustack ping`. Matching replies to requests
 * (by identifier and sequence number) and measuring round-trip times is
 * the caller's business: the handler gets every echo reply that arrives.
 */
#ifndef USTACK_ICMP_H
#define USTACK_ICMP_H

#include <stddef.h>
#include <stdint.h>

struct ustack;

/* Called for every valid echo reply received. `from` is the replying host
 * (host byte order), `data`/`len` the payload echoed back (borrowed for the
 * call), `now` the stack's time in microseconds. The handler runs inside
 * ustack_input() and may call ustack_ping_send(). */
typedef void (*ustack_echo_reply_fn)(void *ctx, uint32_t from, uint16_t id,
                                     uint16_t seq, const void *data,
                                     size_t len, uint64_t now);

/* Send one echo request to dst (host byte order) carrying len bytes of
 * data; a request larger than the link MTU is sent in fragments. Returns 0,
 * -EMSGSIZE when 28 + len exceeds 65535 (the largest IPv4 packet), -ENOBUFS
 * when no buffer is free, -EHOSTUNREACH (Ethernet link: dst is off our
 * subnet, or did not answer ARP lately), or -EINVAL (data NULL with
 * len > 0). */
int ustack_ping_send(struct ustack *st, uint32_t dst, uint16_t id,
                     uint16_t seq, const void *data, size_t len);

/* Install the echo reply handler (fn NULL removes it). */
void ustack_set_echo_reply_handler(struct ustack *st, ustack_echo_reply_fn fn,
                                   void *ctx);

#endif
