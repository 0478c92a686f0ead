/*
 * The stack object, as the layers inside ustack see it.
 *
 * One struct ustack owns everything: configuration, the current time,
 * counters, the packet pool and each layer's state. Each layer keeps its
 * state behind its own pointer or struct so the ownership stays clear.
 */
#ifndef USTACK_CORE_STACK_H
#define USTACK_CORE_STACK_H

#include <stdint.h>

#include "core/pbuf.h"
#include "core/ratelimit.h"
#include "ustack/icmp.h"
#include "ustack/ustack.h"

struct tcp_state;
struct frag_state;
struct arp_state;
struct udp_state;
struct sock_table;

struct ustack {
    struct ustack_config cfg;
    struct ustack_link *link;
    uint64_t now;               /* latest time given by the caller, us */
    struct ustack_stats stats;
    struct pbuf_pool pool;      /* output buffers */
    struct pbuf_pool large_pool; /* 64 KiB output buffers (src/net/ipv4.c) */

    uint16_t ip_id;             /* next IPv4 identification field */
    struct ratelimit icmp_errors;
    ustack_echo_reply_fn echo_reply_fn; /* src/net/ping.c */
    void *echo_reply_ctx;

    struct frag_state *frag;    /* IPv4 reassembly, src/net/frag.c */
    uint8_t mac[6];             /* our MAC (Ethernet links), src/net/ethernet.c */
    struct arp_state *arp;      /* neighbour cache, src/net/arp.c */

    struct tcp_state *tcp;      /* src/tcp */
    struct udp_state *udp;      /* src/udp */
    struct sock_table *socks;   /* src/api: socket handles */
    /* Set by the socket layer: TCP/UDP call it when the readiness of the
     * socket `owner` may have changed (see src/tcp/tcp.h). */
    void (*sock_notify)(struct ustack *st, void *owner);
};

#define STAT_INC(st, field) ((st)->stats.field++)
#define STAT_ADD(st, field, n) ((st)->stats.field += (n))

/* Hand a finished frame to the tap and the link. Takes ownership of pb. */
void stack_link_output(struct ustack *st, struct pbuf *pb);

/* printf-style diagnostics, produced only when the level is enabled. */
void stack_log(struct ustack *st, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_ERR 0
#define LOG_INFO 1
#define LOG_DEBUG 2

#endif
