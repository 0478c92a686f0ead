/*
 * Shared helpers for the IPv4 and ICMP unit tests: a stack on one end of a
 * memlink pair, frame builders, and a check that exactly the expected
 * counters moved.
 *
 * The stack under test is 10.0.0.1/24 on link end `ours`; the test plays
 * the network on end `peer`: frames go in with ustack_input(), and what the
 * stack sent is read with ustack_link_recv(peer, ...).
 */
#ifndef USTACK_TEST_IP_FIXTURE_H
#define USTACK_TEST_IP_FIXTURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "test.h"
#include "ustack/icmp.h"
#include "ustack/ustack.h"

#define FX_ADDR 0x0a000001u   /* 10.0.0.1: the stack under test */
#define FX_PEER 0x0a000002u   /* 10.0.0.2: the test, on the same subnet */
#define FX_MASK 0xffffff00u
#define FX_MTU 1500

struct ip_fixture {
    struct ustack_link *ours, *peer;
    struct ustack *st;
    uint64_t now;
    struct ustack_stats before; /* snapshot taken by fx_snapshot */
};

/* A stack with a fixed secret (reproducible IP IDs) on a fresh memlink. */
static inline bool fx_open(struct ip_fixture *fx, unsigned mtu)
{
    memset(fx, 0, sizeof(*fx));
    if (ustack_memlink_pair(USTACK_LINK_IP, mtu, 64, &fx->ours, &fx->peer) != 0)
        return false;
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = FX_ADDR;
    cfg.netmask = FX_MASK;
    cfg.has_secret = true;
    memset(cfg.secret, 0x5a, sizeof(cfg.secret));
    fx->now = 1000000;
    fx->st = ustack_new(&cfg, fx->ours, fx->now);
    return fx->st != NULL;
}

static inline void fx_close(struct ip_fixture *fx)
{
    ustack_free(fx->st);
    ustack_link_close(fx->ours);
    ustack_link_close(fx->peer);
}

static inline void fx_input(struct ip_fixture *fx, const void *frame, size_t len)
{
    ustack_input(fx->st, frame, len, fx->now);
}

/* The next frame the stack sent, or 0 if none. */
static inline size_t fx_sent(struct ip_fixture *fx, uint8_t *buf, size_t cap)
{
    ssize_t n = ustack_link_recv(fx->peer, buf, cap);
    return n > 0 ? (size_t)n : 0;
}

static inline unsigned fx_pending(const struct ip_fixture *fx)
{
    return ustack_memlink_pending(fx->peer);
}

static inline void fx_snapshot(struct ip_fixture *fx)
{
    ustack_get_stats(fx->st, &fx->before);
}

static inline bool fx_name_listed(const char *name, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(*names, name) == 0)
            return true;
    return false;
}

/* Since the last fx_snapshot, did exactly the listed counters move (each
 * by exactly one), ignoring the link layer's byte and frame counts? Any
 * difference is reported as a test failure at `line`. */
static inline void fx_check_moved(struct ip_fixture *fx, int line,
                                  const char *const *names)
{
    struct ustack_stats now;
    size_t n;
    ustack_get_stats(fx->st, &now);
    const struct ustack_stat_info *t = ustack_stat_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(t[i].name, "link.rx_", 8) == 0 ||
            strncmp(t[i].name, "link.tx_", 8) == 0)
            continue;
        uint64_t d = ustack_stat_value(&now, &t[i]) - ustack_stat_value(&fx->before, &t[i]);
        uint64_t want = fx_name_listed(t[i].name, names) ? 1 : 0;
        if (d != want)
            test_fail(__FILE__, line, "counter %s moved by %llu, expected %llu",
                      t[i].name, (unsigned long long)d, (unsigned long long)want);
    }
}

#define FX_CHECK_MOVED(fx, ...)                                               \
    do {                                                                      \
        const char *const fx_names_[] = {__VA_ARGS__, NULL};                  \
        fx_check_moved((fx), __LINE__, fx_names_);                            \
    } while (0)

/* ---- Frame builders ------------------------------------------------------ */

static inline void fx_fix_ip_checksum(uint8_t *ip)
{
    size_t hl = (size_t)(ip[0] & 0x0f) * 4;
    put_be16(ip + 10, 0);
    put_be16(ip + 10, cksum_finish(cksum_add(0, ip, hl)));
}

/* A 20-byte IPv4 header followed by payload; returns the frame length. */
static inline size_t fx_build_ip(uint8_t *buf, uint32_t src, uint32_t dst,
                                 uint8_t proto, const void *payload, size_t plen)
{
    memset(buf, 0, 20);
    buf[0] = 0x45;
    put_be16(buf + 2, (uint16_t)(20 + plen));
    put_be16(buf + 4, 0x1234);
    buf[8] = 64;
    buf[9] = proto;
    put_be32(buf + 12, src);
    put_be32(buf + 16, dst);
    if (plen)
        memmove(buf + 20, payload, plen); /* payload may already be there */
    fx_fix_ip_checksum(buf);
    return 20 + plen;
}

/* An ICMP message: type, code, checksum, 4 bytes of `rest`, data. */
static inline size_t fx_build_icmp(uint8_t *buf, uint8_t type, uint8_t code,
                                   uint32_t rest, const void *data, size_t len)
{
    buf[0] = type;
    buf[1] = code;
    put_be16(buf + 2, 0);
    put_be32(buf + 4, rest);
    if (len)
        memcpy(buf + 8, data, len);
    put_be16(buf + 2, cksum_finish(cksum_add(0, buf, 8 + len)));
    return 8 + len;
}

/* An echo request from src to dst, as a whole IP frame. */
static inline size_t fx_build_echo(uint8_t *buf, uint32_t src, uint32_t dst,
                                   uint16_t id, uint16_t seq,
                                   const void *data, size_t len)
{
    uint8_t icmp[FX_MTU];
    size_t n = fx_build_icmp(icmp, 8, 0, (uint32_t)id << 16 | seq, data, len);
    return fx_build_ip(buf, src, dst, 1, icmp, n);
}

/* Does buf hold a well-formed IPv4 packet (header checksum right, total
 * length == len) with this protocol and these addresses? */
static inline bool fx_is_ip(const uint8_t *buf, size_t len, uint8_t proto,
                            uint32_t src, uint32_t dst)
{
    return len >= 20 && buf[0] == 0x45 && get_be16(buf + 2) == len &&
           cksum_finish(cksum_add(0, buf, 20)) == 0 && buf[9] == proto &&
           get_be32(buf + 12) == src && get_be32(buf + 16) == dst;
}

#endif
