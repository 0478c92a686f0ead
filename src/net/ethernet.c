/*
 * Ethernet II framing on TAP links.
 *
 * Input keeps frames addressed to our MAC or to the broadcast address and
 * drops the rest (a TAP device sees only what the kernel sends it, but the
 * kernel floods some frames, e.g. to multicast groups we never joined).
 * IPv4 and ARP go up by EtherType (RFC 894, RFC 826); IPv6 is counted
 * apart, as on a TUN link; any other EtherType (or an 802.3 length field)
 * is counted as an unknown protocol.
 *
 * Frames leave unpadded: the 60-byte minimum is the NIC's business, and a
 * TAP device accepts short frames.
 */
#include "net/ethernet.h"

#include <string.h>

#include "core/bytes.h"
#include "core/siphash.h"
#include "core/stack.h"
#include "net/arp.h"
#include "net/ipv4.h"

const uint8_t eth_broadcast_addr[ETH_ADDR_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#define ETH_OFF_DST 0
#define ETH_OFF_SRC 6
#define ETH_OFF_TYPE 12

/* First octet bits (IEEE 802): I/G = group (multicast, broadcast),
 * U/L = locally administered. */
#define ETH_GROUP_BIT 0x01
#define ETH_LOCAL_BIT 0x02

void eth_choose_mac(const struct ustack *st, uint8_t mac[ETH_ADDR_LEN])
{
    if (st->cfg.has_mac) {
        memcpy(mac, st->cfg.mac, ETH_ADDR_LEN);
        return;
    }
    /* A keyed hash of a fixed label: unpredictable without the secret,
     * and the same for the same secret, so simulations replay exactly. */
    static const char label[] = "ustack ethernet address";
    struct siphash_key key = siphash_key_from_bytes(st->cfg.secret + 16);
    uint64_t h = siphash24(&key, label, sizeof(label) - 1);
    for (int i = 0; i < ETH_ADDR_LEN; i++)
        mac[i] = (uint8_t)(h >> (8 * i));
    mac[0] = (uint8_t)((mac[0] & ~ETH_GROUP_BIT) | ETH_LOCAL_BIT);
}

bool ustack_get_mac(const struct ustack *st, uint8_t mac[6])
{
    if (st->link->kind != USTACK_LINK_ETHERNET)
        return false;
    memcpy(mac, st->mac, ETH_ADDR_LEN);
    return true;
}

bool eth_is_unicast(const uint8_t mac[ETH_ADDR_LEN])
{
    static const uint8_t zero[ETH_ADDR_LEN];
    return !(mac[0] & ETH_GROUP_BIT) && memcmp(mac, zero, ETH_ADDR_LEN) != 0;
}

static bool is_for_us(const struct ustack *st, const uint8_t *dst)
{
    return memcmp(dst, st->mac, ETH_ADDR_LEN) == 0 ||
           memcmp(dst, eth_broadcast_addr, ETH_ADDR_LEN) == 0;
}

void eth_input(struct ustack *st, const uint8_t *frame, size_t len)
{
    if (len < ETH_HDR_LEN) {
        STAT_INC(st, link_drop_short_frame);
        return;
    }
    if (!is_for_us(st, frame + ETH_OFF_DST)) {
        STAT_INC(st, link_drop_not_for_us);
        return;
    }
    const uint8_t *payload = frame + ETH_HDR_LEN;
    size_t plen = len - ETH_HDR_LEN;
    switch (get_be16(frame + ETH_OFF_TYPE)) {
    case ETHERTYPE_IPV4:
        ip4_input(st, payload, plen);
        break;
    case ETHERTYPE_ARP:
        arp_input(st, payload, plen);
        break;
    case ETHERTYPE_IPV6:
        STAT_INC(st, link_drop_ipv6);
        break;
    default:
        STAT_INC(st, link_drop_unknown_proto);
        break;
    }
}

void eth_output(struct ustack *st, struct pbuf *pb, const uint8_t *dst,
                uint16_t ethertype)
{
    uint8_t *h = pbuf_push(pb, ETH_HDR_LEN);
    memcpy(h + ETH_OFF_DST, dst, ETH_ADDR_LEN);
    memcpy(h + ETH_OFF_SRC, st->mac, ETH_ADDR_LEN);
    put_be16(h + ETH_OFF_TYPE, ethertype);
    stack_link_output(st, pb);
}
