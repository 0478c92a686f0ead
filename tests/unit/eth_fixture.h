/*
 * Helpers for the Ethernet and ARP unit tests: the ip_fixture stack
 * (10.0.0.1/24) on an Ethernet memlink, with a fixed MAC, and builders for
 * Ethernet frames and ARP packets. The test plays the neighbour 10.0.0.2
 * with MAC PEER_MAC.
 */
#ifndef USTACK_TEST_ETH_FIXTURE_H
#define USTACK_TEST_ETH_FIXTURE_H

#include "ip_fixture.h"

#define ETH_HDR 14
#define ARP_LEN 28

static const uint8_t OUR_MAC[6] = {0x02, 0x75, 0x73, 0x74, 0x6b, 0x01};
static const uint8_t PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t BCAST_MAC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* An Ethernet stack; arp may be NULL (defaults). The gratuitous ARP the
 * stack sends when it starts is left on the link unless `drain` is set. */
static inline bool eth_open(struct ip_fixture *fx, const struct ustack_arp_config *arp,
                            bool drain)
{
    memset(fx, 0, sizeof(*fx));
    if (ustack_memlink_pair(USTACK_LINK_ETHERNET, FX_MTU, 128, &fx->ours, &fx->peer) != 0)
        return false;
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = FX_ADDR;
    cfg.netmask = FX_MASK;
    cfg.has_secret = true;
    memset(cfg.secret, 0x5a, sizeof(cfg.secret));
    cfg.has_mac = true;
    memcpy(cfg.mac, OUR_MAC, 6);
    if (arp)
        cfg.arp = *arp;
    fx->now = 1000000;
    fx->st = ustack_new(&cfg, fx->ours, fx->now);
    if (fx->st && drain) {
        uint8_t buf[64];
        while (fx_sent(fx, buf, sizeof(buf)))
            ;
    }
    return fx->st != NULL;
}

/* dst, src, type, then payload. Returns the frame length. */
static inline size_t eth_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
                               uint16_t type, const void *payload, size_t len)
{
    memmove(f + ETH_HDR, payload, len); /* payload may already be there */
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    put_be16(f + 12, type);
    return ETH_HDR + len;
}

/* An Ethernet/IPv4 ARP packet (RFC 826). */
static inline size_t arp_pkt(uint8_t *p, uint16_t op, const uint8_t *sha, uint32_t spa,
                             const uint8_t *tha, uint32_t tpa)
{
    put_be16(p, 1);
    put_be16(p + 2, 0x0800);
    p[4] = 6;
    p[5] = 4;
    put_be16(p + 6, op);
    memcpy(p + 8, sha, 6);
    put_be32(p + 14, spa);
    memcpy(p + 18, tha, 6);
    put_be32(p + 24, tpa);
    return ARP_LEN;
}

/* A whole frame: ARP from PEER_MAC / spa to tpa, broadcast for requests. */
static inline size_t arp_frame(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa,
                               uint32_t tpa)
{
    static const uint8_t zero[6];
    uint8_t p[ARP_LEN];
    arp_pkt(p, op, sha, spa, op == 1 ? zero : OUR_MAC, tpa);
    return eth_frame(f, op == 1 ? BCAST_MAC : OUR_MAC, sha, 0x0806, p, ARP_LEN);
}

/* Is f (m bytes) an ARP frame from us with these fields? */
static inline bool is_arp_from_us(const uint8_t *f, size_t m, const uint8_t *eth_dst,
                                  uint16_t op, const uint8_t *tha, uint32_t tpa)
{
    return m == ETH_HDR + ARP_LEN && memcmp(f, eth_dst, 6) == 0 &&
           memcmp(f + 6, OUR_MAC, 6) == 0 && get_be16(f + 12) == 0x0806 &&
           get_be16(f + 14) == 1 && get_be16(f + 16) == 0x0800 && f[18] == 6 &&
           f[19] == 4 && get_be16(f + 20) == op && memcmp(f + 22, OUR_MAC, 6) == 0 &&
           get_be32(f + 28) == FX_ADDR && memcmp(f + 32, tha, 6) == 0 &&
           get_be32(f + 38) == tpa;
}

/* Is f an IPv4 frame from us to eth_dst? */
static inline bool is_ip_from_us(const uint8_t *f, size_t m, const uint8_t *eth_dst)
{
    return m > ETH_HDR && memcmp(f, eth_dst, 6) == 0 && memcmp(f + 6, OUR_MAC, 6) == 0 &&
           get_be16(f + 12) == 0x0800;
}

#endif
