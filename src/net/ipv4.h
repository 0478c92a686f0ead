/*
 * IPv4 (RFC 791, RFC 1122 §3.2.1): input validation and demultiplexing,
 * output with header construction.
 */
#ifndef USTACK_NET_IPV4_H
#define USTACK_NET_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ustack;
struct pbuf;

#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17

#define IPV4_HDR_MIN 20
#define IPV4_HDR_MAX 60

/* A validated received IPv4 packet, as handed to transport protocols and
 * ICMP. All pointers borrow the input frame; addresses are host order. */
struct ip4_rx {
    uint32_t src, dst;
    uint8_t proto, ttl, tos;
    bool dst_broadcast;      /* sent to a broadcast address of ours */
    const uint8_t *hdr;      /* the IP header, options included */
    size_t hdr_len;
    const uint8_t *payload;  /* the transport header and data */
    size_t payload_len;      /* from the total length field, not the frame */
};

/* Validate and deliver one IPv4 packet (frame starts at the IP header).
 * Every drop is counted by reason. */
void ip4_input(struct ustack *st, const uint8_t *pkt, size_t len);

/* Flags for ip4_output. */
#define IP4_OUT_DF 0x1 /* set Don't Fragment */

/* Prepend an IPv4 header to pb (which holds the transport header and data)
 * and send it. Takes ownership of pb in every case. src = 0 means our
 * address. Returns 0 or -errno (e.g. -EMSGSIZE when larger than the MTU). */
int ip4_output(struct ustack *st, struct pbuf *pb, uint8_t proto,
               uint32_t src, uint32_t dst, unsigned flags);

/* Is addr one of ours (our unicast address)? */
bool ip4_is_local(const struct ustack *st, uint32_t addr);

/* Is addr a broadcast address for us (limited or directed broadcast)? */
bool ip4_is_broadcast(const struct ustack *st, uint32_t addr);

#endif
