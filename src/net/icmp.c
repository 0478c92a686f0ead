/*
 * ICMPv4 (RFC 792, RFC 1122 §3.2.2).
 *
 * We answer echo requests, pass echo replies to the ping API, count the
 * errors other hosts send us and hand them to the transport that sent the
 * packet they quote (TCP, UDP), and send destination unreachable errors
 * when IP or a transport has nowhere to deliver a packet (and time exceeded
 * when reassembly gives up, src/net/frag.c).
 */
#include "net/icmp.h"

#include <errno.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "core/stack.h"
#include "net/ipv4.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

/* RFC 1812 §4.3.2.3: an error quotes as much of the offending packet as
 * fits in a 576-byte IP packet, the size every host must accept. RFC 792
 * requires only the IP header and the first 8 data bytes; more helps the
 * receiver (e.g. the whole TCP header). */
#define ICMP_ERROR_MAX_PACKET 576

/* ---- Received errors ---------------------------------------------------- */

/* ===== TRANSPORT HOOK =====
 * Where received ICMP errors reach the transport that sent the quoted
 * packet (RFC 1122 §3.2.2.1): TCP (src/tcp/tcp_icmp.c, RFC 1122
 * §4.2.3.9, RFC 1191, RFC 5927) and UDP (§4.1.3.3). */
static void deliver_error_to_transport(struct ustack *st,
                                       const struct icmp4_error *err)
{
    switch (err->proto) {
    case IP_PROTO_TCP: tcp_icmp_error(st, err); break;
    case IP_PROTO_UDP: udp_icmp_error(st, err); break;
    default:
        break;
    }
}

/* Parse the IP header quoted in an error message into err. The quote is
 * as untrusted as the rest of the packet: check it before anyone uses it.
 * RFC 792 promises the header plus 8 bytes of the transport header. */
static bool parse_quote(const uint8_t *q, size_t len, struct icmp4_error *err)
{
    if (len < IPV4_HDR_MIN || q[IP4_OFF_VER_IHL] >> 4 != 4)
        return false;
    size_t hdr_len = (size_t)(q[IP4_OFF_VER_IHL] & 0x0f) * 4;
    if (hdr_len < IPV4_HDR_MIN || len < hdr_len + 8)
        return false;
    err->proto = q[IP4_OFF_PROTO];
    err->quoted_total_len = get_be16(q + IP4_OFF_TOTAL_LEN);
    err->src = get_be32(q + IP4_OFF_SRC);
    err->dst = get_be32(q + IP4_OFF_DST);
    err->transport = q + hdr_len;
    err->transport_len = len - hdr_len;
    return true;
}

static int unreach_errno(uint8_t code)
{
    switch (code) {
    case ICMP_UNREACH_NET:
    case ICMP_UNREACH_NET_UNKNOWN:
    case ICMP_UNREACH_NET_PROHIBITED:
    case ICMP_UNREACH_NET_TOS:
        return ENETUNREACH;
    case ICMP_UNREACH_PROTOCOL:
        return ENOPROTOOPT;
    case ICMP_UNREACH_PORT:
        return ECONNREFUSED;
    case ICMP_UNREACH_FRAG_NEEDED:
        return EMSGSIZE;
    default:
        return EHOSTUNREACH; /* host (1), source route (5), the others */
    }
}

int icmp4_error_errno(const struct icmp4_error *err)
{
    switch (err->type) {
    case ICMP_DEST_UNREACH:
        return unreach_errno(err->code);
    case ICMP_PARAM_PROBLEM:
        return EPROTO;
    default:
        return EHOSTUNREACH; /* time exceeded: the route loops or is long */
    }
}

/* Destination unreachable, time exceeded, parameter problem: errors about
 * a packet we sent, which the transport should hear about. */
static void error_input(struct ustack *st, const struct ip4_rx *ip)
{
    const uint8_t *msg = ip->payload;
    struct icmp4_error err;
    err.type = msg[ICMP_OFF_TYPE];
    err.code = msg[ICMP_OFF_CODE];
    err.info = get_be32(msg + ICMP_OFF_INFO);
    /* RFC 1191 §4: the next-hop MTU is the low-order 16 bits. */
    err.next_hop_mtu = err.type == ICMP_DEST_UNREACH && err.code == ICMP_UNREACH_FRAG_NEEDED
                           ? (uint16_t)(err.info & 0xffff)
                           : 0;
    if (!parse_quote(msg + ICMP_HDR_LEN, ip->payload_len - ICMP_HDR_LEN, &err)) {
        STAT_INC(st, icmp_drop_bad_quote);
        return;
    }
    deliver_error_to_transport(st, &err);
}

/* ---- Echo --------------------------------------------------------------- */

/* RFC 1122 §3.2.2.6: answer with the same identifier, sequence number and
 * data, from the address the request was sent to. (Record Route and
 * Timestamp options are not copied into the reply: we send no options.) */
static void echo_request_input(struct ustack *st, const struct ip4_rx *ip)
{
    STAT_INC(st, icmp_rx_echo_request);
    if (ip->dst_broadcast) {
        /* §3.2.2.6 lets a host ignore echo requests to a broadcast
         * address; answering invites amplification attacks. */
        STAT_INC(st, icmp_drop_broadcast_echo);
        return;
    }
    struct pbuf *pb = ip4_alloc(st, ip->payload_len, NULL);
    if (!pb)
        return; /* counted by ip4_alloc */
    uint8_t *msg = pbuf_put(pb, ip->payload_len);
    memcpy(msg, ip->payload, ip->payload_len);
    /* Only the type/code word changes, so patch the verified checksum
     * (RFC 1624) instead of summing the whole payload again. */
    uint16_t old_word = get_be16(msg + ICMP_OFF_TYPE);
    uint16_t new_word = ICMP_ECHO_REPLY << 8; /* type 0, code 0 */
    uint16_t sum = get_be16(msg + ICMP_OFF_CHECKSUM);
    put_be16(msg + ICMP_OFF_TYPE, new_word);
    put_be16(msg + ICMP_OFF_CHECKSUM, cksum_update16(sum, old_word, new_word));
    if (ip4_output(st, pb, IP_PROTO_ICMP, ip->dst, ip->src, 0) == 0) {
        STAT_INC(st, icmp_tx);
        STAT_INC(st, icmp_tx_echo_reply);
    }
}

/* ---- Input -------------------------------------------------------------- */

void icmp4_input(struct ustack *st, const struct ip4_rx *ip)
{
    const uint8_t *msg = ip->payload;
    STAT_INC(st, icmp_rx);
    if (ip->payload_len < ICMP_HDR_LEN) {
        STAT_INC(st, icmp_drop_truncated);
        return;
    }
    if (cksum_finish(cksum_add(0, msg, ip->payload_len)) != 0) {
        STAT_INC(st, icmp_drop_bad_checksum);
        return;
    }
    switch (msg[ICMP_OFF_TYPE]) {
    case ICMP_ECHO_REQUEST:
        echo_request_input(st, ip);
        break;
    case ICMP_ECHO_REPLY:
        STAT_INC(st, icmp_rx_echo_reply);
        ping_echo_reply_input(st, ip);
        break;
    case ICMP_DEST_UNREACH:
        STAT_INC(st, icmp_rx_dest_unreach);
        error_input(st, ip);
        break;
    case ICMP_TIME_EXCEEDED:
        STAT_INC(st, icmp_rx_time_exceeded);
        error_input(st, ip);
        break;
    case ICMP_PARAM_PROBLEM:
        STAT_INC(st, icmp_rx_param_problem);
        error_input(st, ip);
        break;
    default:
        /* RFC 1122 §3.2.2: unknown types are silently discarded. Source
         * quench (RFC 6633) and redirects (we have no routes to change)
         * are ignored the same way. */
        STAT_INC(st, icmp_drop_unknown_type);
        break;
    }
}

/* ---- Sending errors ----------------------------------------------------- */

/* Is this ICMP message an error? Only the query types are known not to
 * be; an unknown type is treated as an error, the safe side of the rule
 * "never an error about an error". */
static bool is_icmp_error(const struct ip4_rx *ip)
{
    if (ip->proto != IP_PROTO_ICMP)
        return false;
    if (ip->payload_len == 0)
        return true; /* cannot tell: assume the worst */
    switch (ip->payload[ICMP_OFF_TYPE]) {
    case ICMP_ECHO_REPLY:
    case ICMP_ECHO_REQUEST:
    case ICMP_TIMESTAMP:
    case ICMP_TIMESTAMP_REPLY:
    case ICMP_INFO_REQUEST:
    case ICMP_INFO_REPLY:
    case ICMP_ADDRESS_MASK:
    case ICMP_ADDRESS_MASK_REPLY:
        return false;
    default:
        return true;
    }
}

/* RFC 1122 §3.2.2: an error MUST NOT be sent about an ICMP error, a
 * packet to a broadcast or multicast address, a non-initial fragment, or
 * a packet whose source is not a single unicast host. The rules stop
 * error storms and keep us from being used to flood a third party. */
static bool error_allowed(const struct ustack *st, const struct ip4_rx *ip)
{
    bool multicast_dst = (ip->dst >> 28) == 0xe;
    if (is_icmp_error(ip) || ip->dst_broadcast || multicast_dst)
        return false;
    if (ip->frag & IP4_FRAG_OFFSET)
        return false;
    return ip4_is_valid_source(st, ip->src);
}

/* How much of the offending packet to quote: all of it if it fits in
 * ICMP_ERROR_MAX_PACKET (and the MTU), else as much as fits. */
static size_t quote_len(const struct ustack *st, const struct ip4_rx *ip)
{
    size_t room = ICMP_ERROR_MAX_PACKET;
    unsigned mtu = st->link->mtu ? st->link->mtu : 1500;
    if (mtu < room)
        room = mtu;
    room = room > IPV4_HDR_MIN + ICMP_HDR_LEN ? room - IPV4_HDR_MIN - ICMP_HDR_LEN : 0;
    size_t whole = ip->hdr_len + ip->payload_len;
    return whole < room ? whole : room;
}

static void send_error(struct ustack *st, const struct ip4_rx *ip,
                       uint8_t type, uint8_t code, uint32_t info)
{
    size_t qlen = quote_len(st, ip);
    struct pbuf *pb = ip4_alloc(st, ICMP_HDR_LEN + qlen, NULL);
    if (!pb)
        return; /* counted by ip4_alloc */
    uint8_t *msg = pbuf_put(pb, ICMP_HDR_LEN + qlen);
    msg[ICMP_OFF_TYPE] = type;
    msg[ICMP_OFF_CODE] = code;
    put_be16(msg + ICMP_OFF_CHECKSUM, 0);
    put_be32(msg + ICMP_OFF_INFO, info);
    /* The header and payload are contiguous in the received frame. */
    memcpy(msg + ICMP_HDR_LEN, ip->hdr, qlen);
    put_be16(msg + ICMP_OFF_CHECKSUM,
             cksum_finish(cksum_add(0, msg, ICMP_HDR_LEN + qlen)));
    if (ip4_output(st, pb, IP_PROTO_ICMP, 0, ip->src, 0) == 0) {
        STAT_INC(st, icmp_tx);
        if (type == ICMP_DEST_UNREACH)
            STAT_INC(st, icmp_tx_dest_unreach);
        else if (type == ICMP_TIME_EXCEEDED)
            STAT_INC(st, icmp_tx_time_exceeded);
    }
}

void icmp4_send_error(struct ustack *st, const struct ip4_rx *ip,
                      uint8_t type, uint8_t code, uint32_t info)
{
    if (!error_allowed(st, ip)) {
        STAT_INC(st, icmp_error_not_allowed);
        return;
    }
    /* RFC 1812 §4.3.2.8, RFC 1122 §3.2.2: limit the rate of errors. */
    if (!ratelimit_allow(&st->icmp_errors, st->now)) {
        STAT_INC(st, icmp_rate_limited);
        return;
    }
    send_error(st, ip, type, code, info);
}
