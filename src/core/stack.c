/*
 * The stack object: creation, the input entry point, time, and the link.
 */
#include "core/stack.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/socket.h"
#include "net/arp.h"
#include "net/ethernet.h"
#include "net/frag.h"
#include "net/ipv4.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

#define DEFAULT_PBUF_COUNT 256
#define DEFAULT_LARGE_PBUF_COUNT 8
#define DEFAULT_TTL 64
#define DEFAULT_ICMP_BURST 10
#define DEFAULT_ICMP_RATE 100
#define DEFAULT_MAX_SOCKETS SOCK_DEFAULT_MAX

void ustack_config_init(struct ustack_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ttl = DEFAULT_TTL;
    cfg->pbuf_count = DEFAULT_PBUF_COUNT;
    cfg->large_pbuf_count = DEFAULT_LARGE_PBUF_COUNT;
    frag_config_defaults(&cfg->reasm);
    arp_config_defaults(&cfg->arp);
    cfg->icmp_error_burst = DEFAULT_ICMP_BURST;
    cfg->icmp_error_rate = DEFAULT_ICMP_RATE;
    cfg->max_sockets = DEFAULT_MAX_SOCKETS;
    tcp_config_defaults(&cfg->tcp);
    udp_config_defaults(&cfg->udp);
}

/* Zero fields mean "default", so a zeroed config works as well. */
static void apply_defaults(struct ustack_config *cfg)
{
    if (!cfg->ttl)
        cfg->ttl = DEFAULT_TTL;
    if (!cfg->pbuf_count)
        cfg->pbuf_count = DEFAULT_PBUF_COUNT;
    if (!cfg->large_pbuf_count)
        cfg->large_pbuf_count = DEFAULT_LARGE_PBUF_COUNT;
    frag_config_defaults(&cfg->reasm);
    arp_config_defaults(&cfg->arp);
    if (!cfg->icmp_error_burst)
        cfg->icmp_error_burst = DEFAULT_ICMP_BURST;
    if (!cfg->icmp_error_rate)
        cfg->icmp_error_rate = DEFAULT_ICMP_RATE;
    if (!cfg->max_sockets)
        cfg->max_sockets = DEFAULT_MAX_SOCKETS;
    tcp_config_defaults(&cfg->tcp);
}

static int fill_secret(struct ustack_config *cfg)
{
    if (cfg->has_secret)
        return 0;
    size_t got = 0;
    while (got < sizeof(cfg->secret)) {
        ssize_t n = getrandom(cfg->secret + got, sizeof(cfg->secret) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    cfg->has_secret = true;
    return 0;
}

struct ustack *ustack_new(const struct ustack_config *cfg,
                          struct ustack_link *link, uint64_t now)
{
    struct ustack *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->cfg = *cfg;
    apply_defaults(&st->cfg);
    st->link = link;
    st->now = now;
    if (fill_secret(&st->cfg) < 0)
        goto fail;
    /* Output buffers hold one MTU-sized packet; link headers go in the
     * headroom. */
    unsigned mtu = link->mtu ? link->mtu : 1500;
    if (pbuf_pool_init(&st->pool, st->cfg.pbuf_count, mtu) < 0)
        goto fail;
    /* Packets larger than the MTU, fragmented on output (src/net/ipv4.c). */
    if (pbuf_pool_init(&st->large_pool, st->cfg.large_pbuf_count, 65535) < 0)
        goto fail;
    if (frag_init(st) < 0)
        goto fail;
    if (link->kind == USTACK_LINK_ETHERNET) {
        eth_choose_mac(st, st->mac);
        if (arp_init(st) < 0)
            goto fail;
    }
    /* Start IP identification somewhere unpredictable (RFC 6864 §4). */
    st->ip_id = (uint16_t)(st->cfg.secret[0] << 8 | st->cfg.secret[1]);
    ratelimit_init(&st->icmp_errors, st->cfg.icmp_error_burst,
                   st->cfg.icmp_error_rate, now);
    if (tcp_init(st) < 0)
        goto fail;
    if (udp_init(st) < 0)
        goto fail;
    if (sock_table_init(st) < 0)
        goto fail;
    /* The interface is up: tell the neighbours who we are (RFC 5227 §2.3). */
    if (st->arp)
        arp_announce(st);
    return st;
fail:
    ustack_free(st);
    return NULL;
}

void ustack_free(struct ustack *st)
{
    if (!st)
        return;
    sock_table_free(st); /* first: detaches sockets from TCP's connections */
    tcp_destroy(st);
    udp_destroy(st);
    arp_destroy(st); /* before the pools: it holds packets */
    frag_destroy(st);
    pbuf_pool_destroy(&st->large_pool);
    pbuf_pool_destroy(&st->pool);
    free(st);
}

static void advance_time(struct ustack *st, uint64_t now)
{
    /* Time never goes backwards, even if a caller's clock does. */
    if (now > st->now)
        st->now = now;
}

void ustack_input(struct ustack *st, const void *frame, size_t len, uint64_t now)
{
    const uint8_t *p = frame;
    advance_time(st, now);
    STAT_INC(st, link_rx_frames);
    STAT_ADD(st, link_rx_bytes, len);
    if (st->cfg.tap)
        st->cfg.tap(st->cfg.tap_ctx, USTACK_DIR_IN, st->now, frame, len);
    if (len == 0) {
        STAT_INC(st, link_drop_empty);
        return;
    }
    if (st->link->kind == USTACK_LINK_ETHERNET) {
        eth_input(st, p, len);
        return;
    }
    switch (p[0] >> 4) {
    case 4:
        ip4_input(st, p, len);
        break;
    case 6:
        STAT_INC(st, link_drop_ipv6);
        break;
    default:
        STAT_INC(st, link_drop_unknown_proto);
        break;
    }
}

void ustack_input_batch_begin(struct ustack *st)
{
    tcp_batch_begin(st);
}

void ustack_input_batch_end(struct ustack *st)
{
    tcp_batch_end(st);
}

uint64_t ustack_timer(struct ustack *st, uint64_t now)
{
    advance_time(st, now);
    uint64_t next = USTACK_NEVER;
    /* Each layer with timers reports its next deadline here. */
    uint64_t tcp_next = tcp_timer(st, st->now);
    if (tcp_next < next)
        next = tcp_next;
    uint64_t frag_next = frag_timer(st, st->now);
    if (frag_next < next)
        next = frag_next;
    uint64_t arp_next = arp_timer(st, st->now);
    if (arp_next < next)
        next = arp_next;
    return next;
}

uint64_t ustack_now(const struct ustack *st)
{
    return st->now;
}

struct ustack_link *ustack_link(struct ustack *st)
{
    return st->link;
}

void stack_link_output(struct ustack *st, struct pbuf *pb)
{
    if (st->cfg.tap)
        st->cfg.tap(st->cfg.tap_ctx, USTACK_DIR_OUT, st->now, pb->data, pb->len);
    if (ustack_link_send(st->link, pb->data, pb->len) == 0) {
        STAT_INC(st, link_tx_frames);
        STAT_ADD(st, link_tx_bytes, pb->len);
    } else {
        STAT_INC(st, link_tx_errors);
    }
    pbuf_free(&st->pool, pb);
}

void stack_log(struct ustack *st, int level, const char *fmt, ...)
{
    if (!st->cfg.log || level > st->cfg.log_level)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st->cfg.log(st->cfg.log_ctx, level, msg);
}
