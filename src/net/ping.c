/*
 * The ping API (include/ustack/icmp.h): send echo requests, hear replies.
 */
#include <errno.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "core/stack.h"
#include "net/icmp.h"
#include "net/ipv4.h"
#include "ustack/icmp.h"

int ustack_ping_send(struct ustack *st, uint32_t dst, uint16_t id,
                     uint16_t seq, const void *data, size_t len)
{
    if (!data && len > 0)
        return -EINVAL;
    int err;
    struct pbuf *pb = ip4_alloc(st, ICMP_HDR_LEN + len, &err);
    if (!pb)
        return err;
    /* Echo request (RFC 792): type 8, code 0, checksum, identifier,
     * sequence number, then the data the peer must echo back. */
    uint8_t *msg = pbuf_put(pb, ICMP_HDR_LEN + len);
    msg[ICMP_OFF_TYPE] = ICMP_ECHO_REQUEST;
    msg[ICMP_OFF_CODE] = 0;
    put_be16(msg + ICMP_OFF_CHECKSUM, 0);
    put_be16(msg + ICMP_OFF_ECHO_ID, id);
    put_be16(msg + ICMP_OFF_ECHO_SEQ, seq);
    if (len)
        memcpy(msg + ICMP_HDR_LEN, data, len);
    put_be16(msg + ICMP_OFF_CHECKSUM,
             cksum_finish(cksum_add(0, msg, ICMP_HDR_LEN + len)));
    int rc = ip4_output(st, pb, IP_PROTO_ICMP, 0, dst, 0);
    if (rc == 0) {
        STAT_INC(st, icmp_tx);
        STAT_INC(st, icmp_tx_echo_request);
    }
    return rc;
}

void ustack_set_echo_reply_handler(struct ustack *st, ustack_echo_reply_fn fn,
                                   void *ctx)
{
    st->echo_reply_fn = fn;
    st->echo_reply_ctx = ctx;
}

void ping_echo_reply_input(struct ustack *st, const struct ip4_rx *ip)
{
    if (!st->echo_reply_fn)
        return;
    const uint8_t *msg = ip->payload;
    st->echo_reply_fn(st->echo_reply_ctx, ip->src, get_be16(msg + ICMP_OFF_ECHO_ID),
                      get_be16(msg + ICMP_OFF_ECHO_SEQ), msg + ICMP_HDR_LEN,
                      ip->payload_len - ICMP_HDR_LEN, st->now);
}
