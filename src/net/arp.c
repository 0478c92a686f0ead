/*
 * ARP (RFC 826, RFC 1122 §2.3.2): the IPv4 neighbour cache of an Ethernet
 * link.
 *
 * One fixed array of entries, allocated when the stack is created
 * (cfg.arp.cache_size), each in one of four states:
 *
 *   RESOLVING  a request went out; up to queue_len packets wait for the
 *              answer. Requests are repeated every retry_ms; after
 *              max_requests unanswered ones the packets are dropped and the
 *              entry becomes FAILED.
 *   KNOWN      we have the MAC. For reachable_ms after the last answer it
 *              is used as is; after that it is still used, but the first
 *              use sends a unicast request to re-check it (RFC 1122
 *              §2.3.2.1, "unicast poll"), and if max_requests of those go
 *              unanswered the entry becomes FAILED.
 *   FAILED     the neighbour did not answer: packets for it are refused at
 *              once with EHOSTUNREACH for max_requests * retry_ms, so a
 *              dead neighbour costs at most max_requests requests per such
 *              period, however fast packets for it come.
 *   FREE       unused.
 *
 * When every entry is in use, a new neighbour takes the place of the one
 * touched (created or confirmed) longest ago among those that never
 * answered (resolving or failed), or among all if every one answered. A
 * neighbour that answered is far more likely in use, so packets to many
 * silent addresses (SYN-ACKs to a flood's spoofed sources) cycle through
 * the unanswered entries and leave the real neighbours' entries alone.
 *
 * Held packets come from the one packet pool that every layer sends from,
 * and cache_size * queue_len can exceed it: a flood of SYNs from spoofed
 * on-link sources would have every entry resolving, holding SYN-ACKs for
 * neighbours that never answer, until the pool is empty and nothing can be
 * sent any more, a real client's SYN-ACK included. So all queues together
 * hold at most a quarter of the pool; past that the packet held longest
 * anywhere is dropped, keeping the latest ones (RFC 1122 §2.3.2.2 asks to
 * save "the latest" packet for an unresolved address).
 *
 * Learning follows RFC 826's merge rule: any ARP packet from a neighbour
 * we already have updates its MAC; a new entry is made only from a request
 * addressed to us (whose sender will surely talk to us next). Unsolicited
 * replies create nothing, which keeps strangers from filling the cache.
 *
 * Lookups scan the array: the cache is small (256 by default) and a scan
 * of it costs far less than the copy of the packet it resolves.
 */
#include "net/arp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/stack.h"
#include "net/ethernet.h"
#include "net/ipv4.h"

#define DEFAULT_CACHE_SIZE 256
#define DEFAULT_REACHABLE_MS 60000
#define DEFAULT_QUEUE_LEN 3
#define DEFAULT_MAX_REQUESTS 3
#define DEFAULT_RETRY_MS 1000

/* Field offsets of an Ethernet/IPv4 ARP packet (RFC 826). */
#define ARP_OFF_HTYPE 0
#define ARP_OFF_PTYPE 2
#define ARP_OFF_HLEN 4
#define ARP_OFF_PLEN 5
#define ARP_OFF_OP 6
#define ARP_OFF_SHA 8
#define ARP_OFF_SPA 14
#define ARP_OFF_THA 18
#define ARP_OFF_TPA 24
#define ARP_HTYPE_ETHERNET 1

enum entry_kind { E_FREE, E_RESOLVING, E_KNOWN, E_FAILED };

struct arp_entry {
    uint32_t ip;
    uint8_t kind;               /* enum entry_kind */
    uint8_t requests;           /* sent in the current resolution/check */
    bool checking;              /* KNOWN, stale, re-check under way */
    uint8_t mac[ETH_ADDR_LEN];  /* KNOWN */
    uint64_t touched;           /* created or last confirmed: eviction order */
    uint64_t reachable_until;   /* KNOWN: trusted without a check until */
    uint64_t deadline;          /* RESOLVING or checking: next request or
                                   give-up; FAILED: when it is forgotten */
    struct pbuf *head, *tail;   /* RESOLVING: packets waiting, oldest first */
    unsigned queued;
};

struct arp_state {
    struct arp_entry *entries;
    unsigned size;
    unsigned held;          /* packets waiting in all entries' queues */
    unsigned max_held;      /* bound on held: a share of the packet pool */
    uint64_t next_deadline; /* no entry is due before this */
};

/* A parsed ARP packet. */
struct arp_msg {
    uint16_t op;
    const uint8_t *sha;
    uint32_t spa, tpa;
};

static uint64_t ms(unsigned v)
{
    return (uint64_t)v * 1000;
}

/* ---- Cache -------------------------------------------------------------- */

void arp_config_defaults(struct ustack_arp_config *c)
{
    if (!c->cache_size)
        c->cache_size = DEFAULT_CACHE_SIZE;
    if (!c->reachable_ms)
        c->reachable_ms = DEFAULT_REACHABLE_MS;
    if (!c->queue_len)
        c->queue_len = DEFAULT_QUEUE_LEN;
    if (!c->max_requests)
        c->max_requests = DEFAULT_MAX_REQUESTS;
    if (c->max_requests > 255)
        c->max_requests = 255; /* counted in a byte */
    if (!c->retry_ms)
        c->retry_ms = DEFAULT_RETRY_MS;
}

int arp_init(struct ustack *st)
{
    arp_config_defaults(&st->cfg.arp);
    struct arp_state *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->size = st->cfg.arp.cache_size;
    a->entries = calloc(a->size, sizeof(*a->entries));
    if (!a->entries) {
        free(a);
        return -ENOMEM;
    }
    a->max_held = st->pool.total / 4 ? st->pool.total / 4 : 1;
    a->next_deadline = USTACK_NEVER;
    st->arp = a;
    return 0;
}

/* Drop every packet held for e, counting each under `reason`. */
static void drop_queue(struct ustack *st, struct arp_entry *e, uint64_t *reason)
{
    while (e->head) {
        struct pbuf *pb = e->head;
        e->head = pb->next;
        pbuf_free(&st->pool, pb);
        st->arp->held--;
        if (reason)
            (*reason)++;
    }
    e->tail = NULL;
    e->queued = 0;
}

void arp_destroy(struct ustack *st)
{
    struct arp_state *a = st->arp;
    if (!a)
        return;
    for (unsigned i = 0; i < a->size; i++)
        drop_queue(st, &a->entries[i], NULL);
    free(a->entries);
    free(a);
    st->arp = NULL;
}

static struct arp_entry *find(const struct arp_state *a, uint32_t ip)
{
    for (unsigned i = 0; i < a->size; i++)
        if (a->entries[i].kind != E_FREE && a->entries[i].ip == ip)
            return &a->entries[i];
    return NULL;
}

static void set_deadline(struct arp_state *a, struct arp_entry *e, uint64_t when)
{
    e->deadline = when;
    if (when < a->next_deadline)
        a->next_deadline = when;
}

/* A free entry, or the one touched longest ago, preferring those that
 * never answered (its packets dropped). */
static struct arp_entry *take_entry(struct ustack *st)
{
    struct arp_state *a = st->arp;
    struct arp_entry *oldest = &a->entries[0], *oldest_silent = NULL;
    for (unsigned i = 0; i < a->size; i++) {
        struct arp_entry *e = &a->entries[i];
        if (e->kind == E_FREE)
            return e;
        if (e->touched < oldest->touched)
            oldest = e;
        if (e->kind != E_KNOWN && (!oldest_silent || e->touched < oldest_silent->touched))
            oldest_silent = e;
    }
    if (oldest_silent)
        oldest = oldest_silent;
    STAT_INC(st, arp_evicted);
    drop_queue(st, oldest, &st->stats.arp_drop_unresolved);
    return oldest;
}

static void entry_reset(struct arp_entry *e, uint32_t ip, uint8_t kind, uint64_t now)
{
    memset(e, 0, sizeof(*e));
    e->ip = ip;
    e->kind = kind;
    e->touched = now;
    e->deadline = USTACK_NEVER;
}

/* ---- Sending ------------------------------------------------------------ */

static void send_arp(struct ustack *st, uint16_t op, const uint8_t *eth_dst,
                     const uint8_t *tha, uint32_t tpa)
{
    struct pbuf *pb = pbuf_alloc(&st->pool);
    if (!pb) {
        STAT_INC(st, link_drop_no_buffer);
        return;
    }
    uint8_t *p = pbuf_put(pb, ARP_PKT_LEN);
    put_be16(p + ARP_OFF_HTYPE, ARP_HTYPE_ETHERNET);
    put_be16(p + ARP_OFF_PTYPE, ETHERTYPE_IPV4);
    p[ARP_OFF_HLEN] = ETH_ADDR_LEN;
    p[ARP_OFF_PLEN] = 4;
    put_be16(p + ARP_OFF_OP, op);
    memcpy(p + ARP_OFF_SHA, st->mac, ETH_ADDR_LEN);
    put_be32(p + ARP_OFF_SPA, st->cfg.addr);
    memcpy(p + ARP_OFF_THA, tha, ETH_ADDR_LEN);
    put_be32(p + ARP_OFF_TPA, tpa);
    STAT_INC(st, arp_tx);
    eth_output(st, pb, eth_dst, ETHERTYPE_ARP);
}

/* A request for e->ip: broadcast while resolving, unicast to the MAC we
 * have when re-checking a stale entry (RFC 1122 §2.3.2.1). The target
 * hardware address is unknown, so zero (RFC 5227 §2.1.1). */
static void send_request(struct ustack *st, struct arp_entry *e)
{
    static const uint8_t unknown[ETH_ADDR_LEN];
    const uint8_t *to = e->kind == E_KNOWN ? e->mac : eth_broadcast_addr;
    e->requests++;
    set_deadline(st->arp, e, st->now + ms(st->cfg.arp.retry_ms));
    STAT_INC(st, arp_tx_request);
    send_arp(st, ARP_OP_REQUEST, to, unknown, e->ip);
}

void arp_announce(struct ustack *st)
{
    /* RFC 5227 §2.3: an ARP Announcement is a request with our address as
     * both sender and target, broadcast. */
    static const uint8_t unknown[ETH_ADDR_LEN];
    STAT_INC(st, arp_tx_announce);
    send_arp(st, ARP_OP_REQUEST, eth_broadcast_addr, unknown, st->cfg.addr);
}

/* ---- Resolution --------------------------------------------------------- */

/* Drop the oldest packet held for e (which holds at least one). */
static void drop_oldest(struct ustack *st, struct arp_entry *e)
{
    struct pbuf *old = e->head;
    e->head = old->next;
    if (!e->head)
        e->tail = NULL;
    e->queued--;
    st->arp->held--;
    pbuf_free(&st->pool, old);
    STAT_INC(st, arp_drop_queue_full);
}

/* The entry whose held packets have waited longest: among those holding
 * any, the one created (touched) first. */
static struct arp_entry *longest_waiting(struct arp_state *a)
{
    struct arp_entry *best = NULL;
    for (unsigned i = 0; i < a->size; i++) {
        struct arp_entry *e = &a->entries[i];
        if (e->queued && (!best || e->touched < best->touched))
            best = e;
    }
    return best;
}

/* Hold pb until e resolves; a full queue, or all queues together at their
 * bound, lose the packet that has waited longest and is the least likely
 * to still be wanted. */
static void enqueue(struct ustack *st, struct arp_entry *e, struct pbuf *pb)
{
    struct arp_entry *waiting;
    if (e->queued >= st->cfg.arp.queue_len)
        drop_oldest(st, e);
    else if (st->arp->held >= st->arp->max_held && (waiting = longest_waiting(st->arp)))
        drop_oldest(st, waiting);
    pb->next = NULL;
    if (e->tail)
        e->tail->next = pb;
    else
        e->head = pb;
    e->tail = pb;
    e->queued++;
    st->arp->held++;
    STAT_INC(st, arp_queued);
}

/* Start resolving ip, holding pb. */
static void resolve(struct ustack *st, uint32_t ip, struct pbuf *pb)
{
    struct arp_entry *e = take_entry(st);
    entry_reset(e, ip, E_RESOLVING, st->now);
    enqueue(st, e, pb);
    send_request(st, e);
}

int arp_output(struct ustack *st, struct pbuf *pb, uint32_t next_hop)
{
    struct arp_entry *e = find(st->arp, next_hop);
    if (!e) {
        resolve(st, next_hop, pb);
        return 0;
    }
    switch (e->kind) {
    case E_RESOLVING:
        enqueue(st, e, pb);
        return 0;
    case E_FAILED:
        STAT_INC(st, arp_drop_failed);
        pbuf_free(&st->pool, pb);
        return -EHOSTUNREACH;
    default: /* E_KNOWN */
        if (st->now >= e->reachable_until && !e->checking) {
            STAT_INC(st, arp_stale);
            e->checking = true;
            e->requests = 0;
            send_request(st, e);
        }
        return ip4_send_resolved(st, pb, e->mac);
    }
}

/* An answer (or any ARP packet) from e's neighbour: RFC 826's merge. */
static void confirm(struct ustack *st, struct arp_entry *e, const uint8_t *mac)
{
    memcpy(e->mac, mac, ETH_ADDR_LEN);
    e->kind = E_KNOWN;
    e->checking = false;
    e->requests = 0;
    e->touched = st->now;
    e->reachable_until = st->now + ms(st->cfg.arp.reachable_ms);
    e->deadline = USTACK_NEVER;
    STAT_INC(st, arp_confirmed);
    /* Send what waited, oldest first. */
    while (e->head) {
        struct pbuf *pb = e->head;
        e->head = pb->next;
        e->queued--;
        st->arp->held--;
        ip4_send_resolved(st, pb, e->mac);
    }
    e->tail = NULL;
}

/* ---- Input -------------------------------------------------------------- */

/* RFC 826 packet format, restricted to what we speak: Ethernet hardware
 * addresses and IPv4 protocol addresses. Trailing bytes (Ethernet padding)
 * are ignored. */
static bool parse(const uint8_t *p, size_t len, struct arp_msg *m)
{
    if (len < ARP_PKT_LEN || get_be16(p + ARP_OFF_HTYPE) != ARP_HTYPE_ETHERNET ||
        get_be16(p + ARP_OFF_PTYPE) != ETHERTYPE_IPV4 || p[ARP_OFF_HLEN] != ETH_ADDR_LEN ||
        p[ARP_OFF_PLEN] != 4)
        return false;
    m->op = get_be16(p + ARP_OFF_OP);
    if (m->op != ARP_OP_REQUEST && m->op != ARP_OP_REPLY)
        return false;
    m->sha = p + ARP_OFF_SHA;
    m->spa = get_be32(p + ARP_OFF_SPA);
    m->tpa = get_be32(p + ARP_OFF_TPA);
    return true;
}

/* Is the sender believable? Its MAC must be a unicast one that is not
 * ours; its address a possible host (RFC 1122 §3.2.1.3), or 0.0.0.0 for an
 * RFC 5227 probe from a host choosing its address. Someone else claiming
 * our own address is counted apart (a conflict, RFC 5227 §2.4). */
static bool sender_ok(struct ustack *st, const struct arp_msg *m)
{
    if (!eth_is_unicast(m->sha) || memcmp(m->sha, st->mac, ETH_ADDR_LEN) == 0) {
        STAT_INC(st, arp_drop_bad_sender);
        return false;
    }
    if (m->spa == st->cfg.addr) {
        STAT_INC(st, arp_conflict);
        return false;
    }
    if (m->spa != 0 && !ip4_is_valid_source(st, m->spa)) {
        STAT_INC(st, arp_drop_bad_sender);
        return false;
    }
    return true;
}

void arp_input(struct ustack *st, const uint8_t *pkt, size_t len)
{
    struct arp_msg m;
    STAT_INC(st, arp_rx);
    if (!parse(pkt, len, &m)) {
        STAT_INC(st, arp_drop_malformed);
        return;
    }
    if (!sender_ok(st, &m))
        return;
    bool for_us = m.tpa == st->cfg.addr;
    /* RFC 826: "If the pair <protocol type, sender protocol address> is
     * already in my translation table, update the sender hardware
     * address field of the entry with the new information". */
    struct arp_entry *e = m.spa ? find(st->arp, m.spa) : NULL;
    if (e) {
        confirm(st, e, m.sha);
    } else if (for_us && m.op == ARP_OP_REQUEST && m.spa && ip4_on_link(st, m.spa)) {
        /* "If I am the target ... add the triplet": only for requests. */
        e = take_entry(st);
        entry_reset(e, m.spa, E_KNOWN, st->now);
        STAT_INC(st, arp_learned);
        confirm(st, e, m.sha);
    }
    if (!for_us) {
        if (!e)
            STAT_INC(st, arp_ignored);
        return;
    }
    if (m.op == ARP_OP_REPLY) {
        STAT_INC(st, arp_rx_reply);
        if (!e)
            STAT_INC(st, arp_ignored); /* unsolicited: nothing to update */
        return;
    }
    /* A request for our address: answer the asker directly. */
    STAT_INC(st, arp_rx_request);
    STAT_INC(st, arp_tx_reply);
    send_arp(st, ARP_OP_REPLY, m.sha, m.sha, m.spa);
}

/* ---- Time --------------------------------------------------------------- */

/* e's neighbour did not answer max_requests requests. */
static void give_up(struct ustack *st, struct arp_entry *e)
{
    STAT_INC(st, arp_resolve_failed);
    drop_queue(st, e, &st->stats.arp_drop_unresolved);
    e->kind = E_FAILED;
    e->checking = false;
    const struct ustack_arp_config *c = &st->cfg.arp;
    set_deadline(st->arp, e, st->now + ms(c->retry_ms) * c->max_requests);
}

static void entry_due(struct ustack *st, struct arp_entry *e)
{
    if (e->kind == E_FAILED) {
        e->kind = E_FREE;
        e->deadline = USTACK_NEVER;
    } else if (e->requests < st->cfg.arp.max_requests) {
        send_request(st, e);
    } else {
        give_up(st, e);
    }
}

uint64_t arp_timer(struct ustack *st, uint64_t now)
{
    struct arp_state *a = st->arp;
    if (!a || now < a->next_deadline)
        return a ? a->next_deadline : USTACK_NEVER;
    uint64_t next = USTACK_NEVER;
    for (unsigned i = 0; i < a->size; i++) {
        struct arp_entry *e = &a->entries[i];
        if (e->kind == E_FREE || e->deadline == USTACK_NEVER)
            continue;
        if (e->deadline <= now)
            entry_due(st, e);
        if (e->kind != E_FREE && e->deadline < next)
            next = e->deadline;
    }
    /* send_request/give_up lowered next_deadline while we scanned; the
     * scan itself saw every deadline, so it has the true minimum. */
    a->next_deadline = next;
    return next;
}

/* ---- Inspection --------------------------------------------------------- */

enum arp_entry_state arp_lookup(const struct ustack *st, uint32_t ip, uint8_t mac[6])
{
    const struct arp_entry *e = st->arp ? find(st->arp, ip) : NULL;
    if (!e)
        return ARP_NONE;
    switch (e->kind) {
    case E_RESOLVING:
        return ARP_RESOLVING;
    case E_FAILED:
        return ARP_FAILED;
    default:
        if (mac)
            memcpy(mac, e->mac, ETH_ADDR_LEN);
        return st->now < e->reachable_until ? ARP_REACHABLE : ARP_STALE;
    }
}

unsigned arp_queued(const struct ustack *st, uint32_t ip)
{
    const struct arp_entry *e = st->arp ? find(st->arp, ip) : NULL;
    return e ? e->queued : 0;
}
