/*
 * IPv4 (RFC 791, RFC 1122 §3.2.1).
 *
 * Input checks every field a receiver depends on before anything looks at
 * the payload, in the order the header is laid out, and counts each drop by
 * its reason. A packet that passes is described by a struct ip4_rx that
 * borrows the frame and is handed to the protocol's handler.
 *
 * Output prepends a 20-byte header (we send no options) to a pbuf that the
 * layer above filled, finds the next hop's link address when the link is
 * Ethernet (src/net/arp.c), and hands the packet to the link, split into
 * fragments when it is larger than the MTU.
 *
 * Fragments on input are handed to src/net/frag.c, which delivers the
 * datagram through ip4_deliver() once it is whole: parsing and delivery are
 * separate steps so both paths share the demultiplexer.
 */
#include "net/ipv4.h"

#include <errno.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "core/stack.h"
#include "net/arp.h"
#include "net/ethernet.h"
#include "net/frag.h"
#include "net/icmp.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

/* Option types with a meaning of their own; every other option is
 * type, length, data (RFC 791 §3.1). */
#define IP4_OPT_END 0
#define IP4_OPT_NOP 1

#define IP4_BROADCAST 0xffffffffu

/* ---- Addresses ---------------------------------------------------------- */

bool ip4_is_local(const struct ustack *st, uint32_t addr)
{
    return addr == st->cfg.addr;
}

/* Our subnet's directed broadcast, or 0 when there is none: netmask 0 is
 * a point-to-point /32, and /31 and /32 subnets have no broadcast address
 * (RFC 3021). */
static uint32_t directed_broadcast(const struct ustack *st)
{
    uint32_t mask = st->cfg.netmask;
    if (mask == 0 || ~mask <= 1)
        return 0;
    return (st->cfg.addr & mask) | ~mask;
}

bool ip4_is_broadcast(const struct ustack *st, uint32_t addr)
{
    uint32_t directed = directed_broadcast(st);
    return addr == IP4_BROADCAST || (directed != 0 && addr == directed);
}

/* RFC 1122 §3.2.1.3: 0.0.0.0/8 only as a source while a host learns its
 * address (we run no such protocol), 127.0.0.0/8 never leaves a host,
 * class D is multicast and class E (including 255.255.255.255) is
 * reserved; a directed broadcast is never a source. Our own address
 * arriving from the link means a loop or a spoof. */
bool ip4_is_valid_source(const struct ustack *st, uint32_t addr)
{
    uint8_t first = (uint8_t)(addr >> 24);
    if (first == 0 || first == 127 || first >= 224)
        return false;
    return !ip4_is_broadcast(st, addr) && !ip4_is_local(st, addr);
}

/* Netmask 0 (a /32, no subnet) counts every address as on the link: with
 * no router concept, that is the only way such a stack reaches anyone. */
bool ip4_on_link(const struct ustack *st, uint32_t addr)
{
    uint32_t mask = st->cfg.netmask;
    return (addr & mask) == (st->cfg.addr & mask);
}

/* Is the packet addressed to us: our address, or a broadcast we listen to
 * (RFC 1122 §3.2.1.3 and §3.3.6)? */
static bool is_our_destination(const struct ustack *st, uint32_t addr)
{
    return ip4_is_local(st, addr) || ip4_is_broadcast(st, addr);
}

/* ---- Input -------------------------------------------------------------- */

/* Walk the options without interpreting them: we act on none, but a
 * malformed list means a damaged or hostile header (RFC 1122 §3.2.1.8
 * requires a host to cope with any option in any order). */
static bool options_well_formed(const uint8_t *opt, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t type = opt[i];
        if (type == IP4_OPT_END)
            return true;
        if (type == IP4_OPT_NOP) {
            i++;
            continue;
        }
        /* type, length (which counts both), data */
        if (len - i < 2)
            return false;
        uint8_t optlen = opt[i + 1];
        if (optlen < 2 || optlen > len - i)
            return false;
        i += optlen;
    }
    return true;
}

/* The checks on the header's own structure, in field order. Returns false
 * after counting the drop. On success rx->hdr_len and rx->payload_len are
 * set. */
static bool check_header(struct ustack *st, const uint8_t *pkt, size_t len,
                         struct ip4_rx *rx)
{
    if (len < IPV4_HDR_MIN) {
        STAT_INC(st, ip_drop_truncated);
        return false;
    }
    if (pkt[IP4_OFF_VER_IHL] >> 4 != 4) {
        STAT_INC(st, ip_drop_bad_version);
        return false;
    }
    size_t hdr_len = (size_t)(pkt[IP4_OFF_VER_IHL] & 0x0f) * 4;
    if (hdr_len < IPV4_HDR_MIN || hdr_len > len) {
        STAT_INC(st, ip_drop_bad_ihl);
        return false;
    }
    /* The link may pad short frames: trust the total length, not the
     * frame length, for where the packet ends. */
    size_t total_len = get_be16(pkt + IP4_OFF_TOTAL_LEN);
    if (total_len > len || total_len < hdr_len) {
        STAT_INC(st, ip_drop_bad_length);
        return false;
    }
    if (cksum_finish(cksum_add(0, pkt, hdr_len)) != 0) {
        STAT_INC(st, ip_drop_bad_checksum);
        return false;
    }
    if (!options_well_formed(pkt + IPV4_HDR_MIN, hdr_len - IPV4_HDR_MIN)) {
        STAT_INC(st, ip_drop_bad_options);
        return false;
    }
    rx->hdr_len = hdr_len;
    rx->payload_len = total_len - hdr_len;
    return true;
}

/* The checks on addresses, once the header is sound. */
static bool check_delivery(struct ustack *st, const struct ip4_rx *rx)
{
    if (!ip4_is_valid_source(st, rx->src)) {
        STAT_INC(st, ip_drop_bad_source);
        return false;
    }
    if (!is_our_destination(st, rx->dst)) {
        STAT_INC(st, ip_drop_not_ours);
        return false;
    }
    return true;
}

/* Validate pkt and describe it in rx. Every failure is counted. */
static bool ip4_parse(struct ustack *st, const uint8_t *pkt, size_t len,
                      struct ip4_rx *rx)
{
    if (!check_header(st, pkt, len, rx))
        return false;
    rx->hdr = pkt;
    rx->payload = pkt + rx->hdr_len;
    rx->tos = pkt[IP4_OFF_TOS];
    rx->frag = get_be16(pkt + IP4_OFF_FRAG);
    rx->ttl = pkt[IP4_OFF_TTL];
    rx->proto = pkt[IP4_OFF_PROTO];
    rx->src = get_be32(pkt + IP4_OFF_SRC);
    rx->dst = get_be32(pkt + IP4_OFF_DST);
    rx->dst_broadcast = ip4_is_broadcast(st, rx->dst);
    return check_delivery(st, rx);
}

/* No handler for rx->proto: RFC 1122 §3.2.2.1 says tell the sender with a
 * protocol unreachable (icmp4_send_error applies the rate limit and the
 * cases where no error may be sent). */
static void no_protocol_handler(struct ustack *st, const struct ip4_rx *rx)
{
    STAT_INC(st, ip_drop_unknown_protocol);
    icmp4_send_error(st, rx, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTOCOL, 0);
}

void ip4_deliver(struct ustack *st, const struct ip4_rx *rx)
{
    /* The demultiplexer: one line per protocol that has a handler. */
    switch (rx->proto) {
    case IP_PROTO_ICMP: icmp4_input(st, rx); break;
    case IP_PROTO_TCP: tcp_input(st, rx); break;
    case IP_PROTO_UDP: udp_input(st, rx); break;
    default:
        no_protocol_handler(st, rx);
        return;
    }
    STAT_INC(st, ip_delivered);
}

void ip4_input(struct ustack *st, const uint8_t *pkt, size_t len)
{
    struct ip4_rx rx;
    STAT_INC(st, ip_rx);
    if (!ip4_parse(st, pkt, len, &rx))
        return;
    /* A fragment is any packet with more to follow or a non-zero offset
     * (RFC 791 §3.2); DF alone is not one. */
    if (rx.frag & (IP4_FRAG_MF | IP4_FRAG_OFFSET)) {
        frag_input(st, &rx);
        return;
    }
    ip4_deliver(st, &rx);
}

/* ---- Output ------------------------------------------------------------- */

static unsigned link_mtu(const struct ustack *st)
{
    return st->link->mtu ? st->link->mtu : 1500;
}

/* Does an IPv4 packet with this much payload (and our 20-byte header)
 * fit the link? Written to avoid overflow for any payload_len. */
static bool fits_mtu(const struct ustack *st, size_t payload_len)
{
    unsigned mtu = link_mtu(st);
    return payload_len <= mtu && mtu - payload_len >= IPV4_HDR_MIN;
}

/* Can the total length field describe a packet with this payload? */
static bool fits_total_length(size_t payload_len)
{
    return payload_len <= IP4_MAX_TOTAL - IPV4_HDR_MIN;
}

struct pbuf *ip4_alloc(struct ustack *st, size_t payload_len, int *err)
{
    int e = 0;
    struct pbuf *pb = NULL;
    /* Up to the MTU from the ordinary pool; larger packets (fragmented by
     * ip4_output) from the small pool of 64 KiB buffers. */
    struct pbuf_pool *pool = fits_mtu(st, payload_len) ? &st->pool : &st->large_pool;
    if (!fits_total_length(payload_len)) {
        STAT_INC(st, ip_drop_too_big);
        e = -EMSGSIZE;
    } else if (!(pb = pbuf_alloc(pool))) {
        STAT_INC(st, link_drop_no_buffer);
        e = -ENOBUFS;
    }
    if (err)
        *err = e;
    return pb;
}

static void write_header(struct ustack *st, uint8_t *h, size_t total_len,
                         uint8_t proto, uint32_t src, uint32_t dst,
                         unsigned flags)
{
    h[IP4_OFF_VER_IHL] = 0x45; /* version 4, IHL 5: no options */
    h[IP4_OFF_TOS] = 0;
    put_be16(h + IP4_OFF_TOTAL_LEN, (uint16_t)total_len);
    put_be16(h + IP4_OFF_ID, st->ip_id++);
    put_be16(h + IP4_OFF_FRAG, (flags & IP4_OUT_DF) ? IP4_FRAG_DF : 0);
    h[IP4_OFF_TTL] = st->cfg.ttl;
    h[IP4_OFF_PROTO] = proto;
    put_be16(h + IP4_OFF_CHECKSUM, 0);
    put_be32(h + IP4_OFF_SRC, src);
    put_be32(h + IP4_OFF_DST, dst);
    put_be16(h + IP4_OFF_CHECKSUM, cksum_finish(cksum_add(0, h, IPV4_HDR_MIN)));
}

/* One frame to the link: behind an Ethernet header when there is a next
 * hop's MAC, bare otherwise. */
static void emit(struct ustack *st, struct pbuf *pb, const uint8_t *mac)
{
    if (mac)
        eth_output(st, pb, mac, ETHERTYPE_IPV4);
    else
        stack_link_output(st, pb);
}

/* The data bytes each fragment carries: as many as fit the MTU after the
 * header, rounded down to a multiple of 8 because offsets count 8-byte
 * units (RFC 791 §3.2). The MTU is at least 68 (RFC 791), so this is at
 * least 40; the guard keeps a misconfigured link from looping forever. */
static size_t fragment_data_len(const struct ustack *st, size_t hdr_len)
{
    unsigned mtu = link_mtu(st);
    size_t room = mtu > hdr_len ? (mtu - hdr_len) & ~(size_t)7 : 0;
    return room ? room : 8;
}

/* RFC 791 §3.2 fragmentation: each fragment repeats the header with its
 * own total length, offset (in 8-byte units) and MF on every fragment but
 * the last; the identification stays the same. Every fragment comes from
 * the MTU-sized pool; when the pool cannot hold them all, nothing is sent
 * (half a datagram is useless to the receiver). Takes ownership of pb. */
static int send_fragments(struct ustack *st, struct pbuf *pb, const uint8_t *mac)
{
    const uint8_t *h = pb->data;
    size_t hdr_len = (size_t)(h[IP4_OFF_VER_IHL] & 0x0f) * 4;
    size_t data_len = pb->len - hdr_len;
    size_t per = fragment_data_len(st, hdr_len);
    size_t count = (data_len + per - 1) / per;
    if (st->pool.available < count) {
        STAT_INC(st, link_drop_no_buffer);
        pbuf_free(&st->pool, pb);
        return -ENOBUFS;
    }
    uint16_t keep = get_be16(h + IP4_OFF_FRAG) & ~(IP4_FRAG_MF | IP4_FRAG_OFFSET);
    for (size_t off = 0; off < data_len; off += per) {
        size_t n = data_len - off < per ? data_len - off : per;
        bool more = off + n < data_len;
        struct pbuf *f = pbuf_alloc(&st->pool);
        uint8_t *fh = pbuf_put(f, hdr_len + n);
        memcpy(fh, h, hdr_len);
        memcpy(fh + hdr_len, h + hdr_len + off, n);
        put_be16(fh + IP4_OFF_TOTAL_LEN, (uint16_t)(hdr_len + n));
        put_be16(fh + IP4_OFF_FRAG,
                 (uint16_t)(keep | (more ? IP4_FRAG_MF : 0) | (off / 8)));
        put_be16(fh + IP4_OFF_CHECKSUM, 0);
        put_be16(fh + IP4_OFF_CHECKSUM, cksum_finish(cksum_add(0, fh, hdr_len)));
        STAT_INC(st, ip_frag_tx);
        emit(st, f, mac);
    }
    STAT_INC(st, ip_frag_datagrams);
    pbuf_free(&st->pool, pb);
    return 0;
}

int ip4_send_resolved(struct ustack *st, struct pbuf *pb, const uint8_t *mac)
{
    int rc = 0;
    if (pb->len <= link_mtu(st))
        emit(st, pb, mac);
    else
        rc = send_fragments(st, pb, mac);
    if (rc == 0)
        STAT_INC(st, ip_tx);
    return rc;
}

/* Where the packet goes next. A bare-IP link (TUN) has one destination, the
 * kernel. On Ethernet the next hop is dst itself (there is no router
 * concept yet), found by ARP; broadcasts go to the broadcast MAC. */
static int route(struct ustack *st, struct pbuf *pb, uint32_t dst)
{
    if (st->link->kind != USTACK_LINK_ETHERNET)
        return ip4_send_resolved(st, pb, NULL);
    if (ip4_is_broadcast(st, dst))
        return ip4_send_resolved(st, pb, eth_broadcast_addr);
    if (!ip4_on_link(st, dst) || (dst >> 28) == 0xe) {
        /* Multicast (224/4) needs group membership we do not have. */
        STAT_INC(st, ip_drop_no_route);
        pbuf_free(&st->pool, pb);
        return -EHOSTUNREACH;
    }
    return arp_output(st, pb, dst);
}

int ip4_output(struct ustack *st, struct pbuf *pb, uint8_t proto,
               uint32_t src, uint32_t dst, unsigned flags)
{
    /* Larger than the MTU: fragmented on the way out, unless the sender
     * forbade it (DF; RFC 1191 path MTU discovery relies on this). */
    bool too_big = (flags & IP4_OUT_DF) ? !fits_mtu(st, pb->len)
                                        : !fits_total_length(pb->len);
    if (too_big) {
        STAT_INC(st, ip_drop_too_big);
        pbuf_free(&st->pool, pb);
        return -EMSGSIZE;
    }
    size_t total_len = pb->len + IPV4_HDR_MIN;
    uint8_t *h = pbuf_push(pb, IPV4_HDR_MIN);
    write_header(st, h, total_len, proto, src ? src : st->cfg.addr, dst, flags);
    return route(st, pb, dst);
}
