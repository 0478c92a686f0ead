/*
 * Ethernet II framing (RFC 894 for IPv4 over Ethernet) on TAP links.
 */
#ifndef USTACK_NET_ETHERNET_H
#define USTACK_NET_ETHERNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ustack;
struct pbuf;

#define ETH_ADDR_LEN 6
#define ETH_HDR_LEN 14 /* destination, source, EtherType */

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd

extern const uint8_t eth_broadcast_addr[ETH_ADDR_LEN];

/* Our MAC for this configuration: cfg->mac when has_mac, otherwise a
 * locally administered unicast address derived from the secret. */
void eth_choose_mac(const struct ustack *st, uint8_t mac[ETH_ADDR_LEN]);

/* Can a host use this as its own or a neighbour's address: unicast (the
 * group bit clear) and not all zeros? */
bool eth_is_unicast(const uint8_t mac[ETH_ADDR_LEN]);

/* One received Ethernet frame: keep it if it is for our MAC or broadcast,
 * and hand the payload to IPv4 or ARP by EtherType. Every drop counted. */
void eth_input(struct ustack *st, const uint8_t *frame, size_t len);

/* Prepend the Ethernet header (to dst, from our MAC) and send. Takes
 * ownership of pb, whose headroom must hold ETH_HDR_LEN bytes. */
void eth_output(struct ustack *st, struct pbuf *pb, const uint8_t *dst,
                uint16_t ethertype);

#endif
