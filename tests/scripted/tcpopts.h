/*
 * Helpers for the scripted tests of RFC 7323 (window scale, timestamps)
 * and RFC 2018 (SACK): test_tcp_wscale.c, test_tcp_timestamps.c,
 * test_tcp_sack.c.
 *
 * The stack's timestamp clock has a secret per-connection offset, so a
 * test learns it from a segment (tso_ts) and predicts the next TSvals
 * from the virtual time. SACK blocks and timestamps in lines are written
 * with the framework's "raw" and "ts" option syntax; these helpers build
 * those strings from relative sequence numbers, and take the options of a
 * stack segment apart. Written independently of src/tcp (a test must not
 * share the code it checks).
 */
#ifndef USTACK_TESTS_TCPOPTS_H
#define USTACK_TESTS_TCPOPTS_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tcpscript.h"
#include "ustack/tcp_info.h"

/* Find option `kind` in a stack segment: its bytes (kind and length
 * included) and length, or NULL. */
static inline const uint8_t *tso_find(const struct ts_seg *s, uint8_t kind, uint8_t *len)
{
    size_t i = 0;
    while (i < s->opts_len) {
        uint8_t k = s->opts[i];
        if (k == 0)
            break;
        if (k == 1) {
            i++;
            continue;
        }
        if (i + 1 >= s->opts_len || s->opts[i + 1] < 2 || i + s->opts[i + 1] > s->opts_len)
            break;
        if (k == kind) {
            *len = s->opts[i + 1];
            return s->opts + i;
        }
        i += s->opts[i + 1];
    }
    return NULL;
}

static inline uint32_t tso_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The timestamps option of a stack segment. */
static inline bool tso_ts(const struct ts_seg *s, uint32_t *val, uint32_t *ecr)
{
    uint8_t len;
    const uint8_t *o = tso_find(s, 8, &len);
    if (!o || len != 10)
        return false;
    *val = tso_rd32(o + 2);
    *ecr = tso_rd32(o + 6);
    return true;
}

/* The SACK blocks of a stack segment, relative to base (the peer's ISN);
 * returns how many (0 when there is no SACK option). */
static inline unsigned tso_sack(const struct ts_seg *s, uint32_t base, uint32_t blocks[][2])
{
    uint8_t len;
    const uint8_t *o = tso_find(s, 5, &len);
    if (!o || len < 10 || (len - 2) % 8)
        return 0;
    unsigned n = (unsigned)(len - 2) / 8;
    for (unsigned i = 0; i < n; i++) {
        blocks[i][0] = tso_rd32(o + 2 + 8 * i) - base;
        blocks[i][1] = tso_rd32(o + 6 + 8 * i) - base;
    }
    return n;
}

/* "raw 05 LL ..." for n blocks given as start, end pairs relative to
 * base: for peer lines (base = the stack's ISS) and exact expected lines
 * (base = the peer's ISN). */
static inline const char *tso_sack_raw(struct ts *ts, uint32_t base, unsigned n, ...)
{
    char buf[256];
    size_t at = (size_t)snprintf(buf, sizeof(buf), "raw 05 %02x", 2 + 8 * n);
    va_list ap;
    va_start(ap, n);
    for (unsigned i = 0; i < 2 * n; i++) {
        uint32_t v = base + va_arg(ap, uint32_t);
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, " %02x %02x %02x %02x", v >> 24,
                               (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
    }
    va_end(ap);
    return ts_fmt(ts, "%s", buf);
}

/* The option bytes of the last matched stack segment equal want. */
static inline bool tso_opts_are(const struct ts *ts, const uint8_t *want, size_t n)
{
    const struct ts_seg *s = ts_last(ts);
    return s->opts_len == n && memcmp(s->opts, want, n) == 0;
}

/* The stack's one connection with the peer port, as ustack_tcp_connections
 * lists it (srtt_us, rcv_wnd, snd_wnd, mss, ...). */
struct tso_find_ctx {
    uint16_t peer_port;
    struct ustack_tcp_info info;
    bool found;
};

static inline void tso_find_conn(void *ctx, const struct ustack_tcp_info *i)
{
    struct tso_find_ctx *f = ctx;
    if (i->remote_port == f->peer_port && i->remote_addr == TS_PEER_ADDR) {
        f->info = *i;
        f->found = true;
    }
}

static inline struct ustack_tcp_info tso_conn(struct ts *ts)
{
    struct tso_find_ctx f = {.peer_port = ts_cur(ts)->peer_port};
    ustack_tcp_connections(ts_stack(ts), tso_find_conn, &f);
    if (!f.found)
        ts_fail(ts, "no connection with peer port %u", f.peer_port);
    return f.info;
}

#endif
