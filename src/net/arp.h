/*
 * ARP (RFC 826, RFC 1122 §2.3.2): IPv4 neighbours on an Ethernet link.
 */
#ifndef USTACK_NET_ARP_H
#define USTACK_NET_ARP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ustack;
struct pbuf;

/* The ARP packet for Ethernet and IPv4 (RFC 826). */
#define ARP_PKT_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

struct ustack_arp_config;

/* Replace zero fields with their defaults (include/ustack/ustack.h). */
void arp_config_defaults(struct ustack_arp_config *c);

/* Allocate the neighbour cache (Ethernet links). 0 or -ENOMEM. */
int arp_init(struct ustack *st);
/* Free the cache and every packet still waiting in it. */
void arp_destroy(struct ustack *st);

/* Announce our address with a gratuitous ARP (RFC 5227 §2.3), so
 * neighbours that knew another MAC for it update their caches. */
void arp_announce(struct ustack *st);

/* One received ARP packet (after the Ethernet header). */
void arp_input(struct ustack *st, const uint8_t *pkt, size_t len);

/* Send the IPv4 packet pb (header included) to neighbour next_hop: at once
 * when its MAC is known, otherwise held (a few per neighbour) while a
 * request goes out. Takes ownership. Returns 0 (sent or held),
 * -EHOSTUNREACH when the neighbour recently failed to answer, or what
 * ip4_send_resolved returns. */
int arp_output(struct ustack *st, struct pbuf *pb, uint32_t next_hop);

/* Retries, give-ups and expiries due at `now`; returns the next deadline
 * or USTACK_NEVER. */
uint64_t arp_timer(struct ustack *st, uint64_t now);

/* What the cache knows about ip, for tests and diagnostics. */
enum arp_entry_state {
    ARP_NONE,       /* no entry */
    ARP_RESOLVING,  /* request sent, no answer yet; packets may be held */
    ARP_REACHABLE,  /* answer within the reachable time */
    ARP_STALE,      /* answer older than that; a re-check is due on use */
    ARP_FAILED,     /* no answer: sending there fails for a while */
};
enum arp_entry_state arp_lookup(const struct ustack *st, uint32_t ip,
                                uint8_t mac[6]);
/* Packets held for ip (0 if none). */
unsigned arp_queued(const struct ustack *st, uint32_t ip);

#endif
