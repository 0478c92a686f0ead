/*
 * ICMPv4 (RFC 792, RFC 1122 §3.2.2): echo, and the errors we generate.
 */
#ifndef USTACK_NET_ICMP_H
#define USTACK_NET_ICMP_H

#include <stddef.h>
#include <stdint.h>

struct ustack;
struct ip4_rx;

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT 5
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
#define ICMP_TIMESTAMP 13
#define ICMP_TIMESTAMP_REPLY 14
#define ICMP_INFO_REQUEST 15
#define ICMP_INFO_REPLY 16
#define ICMP_ADDRESS_MASK 17
#define ICMP_ADDRESS_MASK_REPLY 18

/* Destination unreachable codes (RFC 792, RFC 1191, RFC 1122 §3.2.2.1,
 * RFC 1812 §5.2.7.1). */
#define ICMP_UNREACH_NET 0
#define ICMP_UNREACH_HOST 1
#define ICMP_UNREACH_PROTOCOL 2
#define ICMP_UNREACH_PORT 3
#define ICMP_UNREACH_FRAG_NEEDED 4
#define ICMP_UNREACH_SRC_ROUTE 5
#define ICMP_UNREACH_NET_UNKNOWN 6
#define ICMP_UNREACH_NET_PROHIBITED 9
#define ICMP_UNREACH_NET_TOS 11

/* Time exceeded codes (RFC 792). */
#define ICMP_TIMXCEED_TTL 0
#define ICMP_TIMXCEED_REASSEMBLY 1

/* Every ICMP message starts with type, code, checksum and 4 more bytes
 * (identifier + sequence for echo, unused or next-hop MTU for errors). */
#define ICMP_HDR_LEN 8
#define ICMP_OFF_TYPE 0
#define ICMP_OFF_CODE 1
#define ICMP_OFF_CHECKSUM 2
#define ICMP_OFF_INFO 4     /* errors: unused, or the next-hop MTU */
#define ICMP_OFF_ECHO_ID 4  /* echo: identifier */
#define ICMP_OFF_ECHO_SEQ 6 /* echo: sequence number */

/* Handle a received ICMP message (ip->payload). */
void icmp4_input(struct ustack *st, const struct ip4_rx *ip);

/* Send an ICMP error about the received packet `ip` (RFC 1122 §3.2.2:
 * never about an ICMP error, a broadcast, a non-first fragment...).
 * Rate-limited by a token bucket; suppressed errors are counted.
 * `info` fills the 4 bytes after the checksum (0, or e.g. the next-hop MTU
 * in the low 16 bits for ICMP_UNREACH_FRAG_NEEDED, RFC 1191). */
void icmp4_send_error(struct ustack *st, const struct ip4_rx *ip,
                      uint8_t type, uint8_t code, uint32_t info);

/* A received ICMP error about a packet we sent, as it will be handed to
 * the transport that sent it (RFC 1122 §3.2.2.1, §3.2.2.4, §3.2.2.5). The
 * quoted header has been checked: version 4, sane header length, and at
 * least 8 bytes of the transport header (ports, TCP sequence number). */
struct icmp4_error {
    uint8_t type, code;
    uint32_t info;             /* the 4 bytes after the ICMP checksum */
    uint16_t next_hop_mtu;     /* fragmentation needed (type 3 code 4):
                                  the MTU of the link that refused the
                                  packet (RFC 1191 §4), 0 if the router
                                  did not say (an RFC 792 router); 0 for
                                  every other error */
    uint32_t src, dst;         /* the quoted packet's addresses (host order) */
    uint16_t quoted_total_len; /* the quoted header's total length field, as
                                  sent (RFC 1191 §5 plateau search) */
    uint8_t proto;             /* the quoted packet's protocol */
    const uint8_t *transport;  /* start of the quoted transport header */
    size_t transport_len;      /* bytes available there, at least 8 */
};

/* The errno a received error means for the socket that sent the quoted
 * packet, the same choice for TCP and UDP (and as Linux's): ENETUNREACH for
 * the network codes, ENOPROTOOPT for protocol and ECONNREFUSED for port
 * unreachable, EMSGSIZE for fragmentation needed, EHOSTUNREACH for host
 * unreachable, the other codes and time exceeded, EPROTO for a parameter
 * problem. */
int icmp4_error_errno(const struct icmp4_error *err);

/* An echo reply arrived (src/net/ping.c passes it to the user's handler).
 * ip->payload is a checksummed ICMP message of at least ICMP_HDR_LEN. */
void ping_echo_reply_input(struct ustack *st, const struct ip4_rx *ip);

#endif
