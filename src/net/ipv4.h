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

/* Header field offsets (RFC 791 §3.1), for the layers that read or patch
 * an IPv4 header (reassembly, quotes in ICMP errors). */
#define IP4_OFF_VER_IHL 0
#define IP4_OFF_TOS 1
#define IP4_OFF_TOTAL_LEN 2
#define IP4_OFF_ID 4
#define IP4_OFF_FRAG 6
#define IP4_OFF_TTL 8
#define IP4_OFF_PROTO 9
#define IP4_OFF_CHECKSUM 10
#define IP4_OFF_SRC 12
#define IP4_OFF_DST 16

/* The flags + fragment offset field (RFC 791 §3.1). */
#define IP4_FRAG_DF 0x4000     /* don't fragment */
#define IP4_FRAG_MF 0x2000     /* more fragments */
#define IP4_FRAG_OFFSET 0x1fff /* offset, in 8-byte units */

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
    uint16_t frag;           /* flags and fragment offset field, as sent */
};

/* The largest IPv4 packet: the total length field has 16 bits. */
#define IP4_MAX_TOTAL 65535

/* Validate one IPv4 packet (frame starts at the IP header) and deliver it,
 * or hand it to reassembly if it is a fragment. Every drop is counted by
 * reason. */
void ip4_input(struct ustack *st, const uint8_t *pkt, size_t len);

/* Hand a validated, whole datagram to its protocol (the demultiplexer):
 * packets that arrived in one piece and reassembled ones alike. */
void ip4_deliver(struct ustack *st, const struct ip4_rx *rx);

/* A buffer for an outgoing IPv4 packet carrying payload_len bytes, with
 * headroom for the IP header (and a link header). Packets larger than the
 * MTU get one of the stack's few 64 KiB buffers and are fragmented by
 * ip4_output. NULL (and counted: ip.drop_too_big or link.drop_no_buffer)
 * when the packet would exceed 65535 bytes or no buffer is free; *err then
 * says which (-EMSGSIZE or -ENOBUFS) if err is not NULL. */
struct pbuf *ip4_alloc(struct ustack *st, size_t payload_len, int *err);

/* Flags for ip4_output. */
#define IP4_OUT_DF 0x1 /* set Don't Fragment */

/* Prepend an IPv4 header to pb (which holds the transport header and data)
 * and send it, in fragments if it is larger than the MTU. Takes ownership
 * of pb in every case. src = 0 means our address. Returns 0 (sent, or held
 * while ARP resolves the next hop) or -errno: -EMSGSIZE (larger than the
 * MTU with IP4_OUT_DF, or than 65535 bytes), -ENOBUFS (not enough buffers
 * for the fragments), -EHOSTUNREACH (Ethernet: off our subnet, or the
 * neighbour recently failed to answer ARP). */
int ip4_output(struct ustack *st, struct pbuf *pb, uint8_t proto,
               uint32_t src, uint32_t dst, unsigned flags);

/* Send a finished IPv4 packet (header included) whose next hop is known:
 * `mac` is the next hop's Ethernet address on an Ethernet link, NULL on a
 * bare-IP link. Fragments it when larger than the MTU. Takes ownership.
 * Returns 0 or -ENOBUFS. Used by ip4_output and by ARP for the packets it
 * held while resolving. */
int ip4_send_resolved(struct ustack *st, struct pbuf *pb, const uint8_t *mac);

/* Is addr one of ours (our unicast address)? */
bool ip4_is_local(const struct ustack *st, uint32_t addr);

/* Is addr a broadcast address for us (limited or directed broadcast)? */
bool ip4_is_broadcast(const struct ustack *st, uint32_t addr);

/* Is addr on our subnet, so reachable directly over the link? */
bool ip4_on_link(const struct ustack *st, uint32_t addr);

/* Could addr be the source of a packet from another host: not zero,
 * loopback, multicast, reserved, broadcast or ours (RFC 1122 §3.2.1.3)? */
bool ip4_is_valid_source(const struct ustack *st, uint32_t addr);

#endif
