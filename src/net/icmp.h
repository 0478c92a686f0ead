/*
 * ICMPv4 (RFC 792, RFC 1122 §3.2.2): echo, and the errors we generate.
 */
#ifndef USTACK_NET_ICMP_H
#define USTACK_NET_ICMP_H

#include <stdint.h>

struct ustack;
struct ip4_rx;

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11

/* Destination unreachable codes (RFC 792, RFC 1191). */
#define ICMP_UNREACH_NET 0
#define ICMP_UNREACH_HOST 1
#define ICMP_UNREACH_PROTOCOL 2
#define ICMP_UNREACH_PORT 3
#define ICMP_UNREACH_FRAG_NEEDED 4

/* Handle a received ICMP message (ip->payload). */
void icmp4_input(struct ustack *st, const struct ip4_rx *ip);

/* Send an ICMP error about the received packet `ip` (RFC 1122 §3.2.2:
 * never about an ICMP error, a broadcast, a non-first fragment...).
 * Rate-limited by a token bucket; suppressed errors are counted. */
void icmp4_send_error(struct ustack *st, const struct ip4_rx *ip,
                      uint8_t type, uint8_t code, uint32_t info);

#endif
