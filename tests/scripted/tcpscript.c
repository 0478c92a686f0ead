/*
 * tcpscript: the scripted-segment test framework (see tcpscript.h).
 *
 * The framework deliberately carries its own checksum and header code
 * instead of reusing the stack's: a test that shares the code under test
 * cannot catch that code's mistakes.
 */
#include "tcpscript.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tcp/tcp.h"
#include "test.h"


#define TS_MAX_FLOWS 64
#define TS_MAX_SDS 256
#define TS_LINK_CAPACITY 4096
#define TS_FRAME_MAX 2048
#define TS_START_US 1000000u /* virtual clock at creation: 1 s */
#define TS_TIMER_SPIN_MAX 10000 /* timer calls at one instant before we call it a livelock */
#define TS_LINE_MAX 512

struct ts_sdmap {
    int sd;
    struct ts_flow *flow;
};

struct ts {
    struct ustack *st;
    struct ustack_link *stack_end; /* the stack's side of the wire */
    struct ustack_link *peer_end;  /* ours */
    uint64_t now;
    uint64_t deadline; /* what ustack_timer last returned */
    uint8_t ttl;
    uint16_t ip_id;
    bool failed;

    struct ts_flow flows[TS_MAX_FLOWS];
    int nflows;
    struct ts_flow *cur;

    struct ts_sdmap sds[TS_MAX_SDS];
    int nsds;

    struct ts_seg last;              /* last matched stack segment */
    uint64_t last_time;              /* when it was taken */
    char fmt[4][TS_LINE_MAX];        /* ts_fmt buffers */
    unsigned fmt_next;
    uint8_t last_frame[TS_FRAME_MAX]; /* its bytes (last points into them) */
};

/* ---- Small helpers ---------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* RFC 1071 one's complement sum, written independently of src/core. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint16_t tcp_checksum(uint32_t src, uint32_t dst, const uint8_t *tcp, size_t len)
{
    uint8_t pseudo[12];
    wr32(pseudo, src);
    wr32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = 6;
    wr16(pseudo + 10, (uint16_t)len);
    return fold(sum16(sum16(0, pseudo, sizeof(pseudo)), tcp, len));
}

uint8_t ts_peer_byte(uint32_t k)
{
    return (uint8_t)(k * 7u + (k >> 8) * 13u + 0x21u);
}

uint8_t ts_stack_byte(uint32_t k)
{
    return (uint8_t)(k * 11u + (k >> 8) * 3u + 0x5au);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- Parsing lines ------------------------------------------------------------ */

static const char *skip_ws(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* A number: "*", "@N" (absolute) or N / -N (relative); decimal or 0x hex.
 * Advances *pp past it. */
static int parse_num(const char **pp, struct ts_num *n)
{
    const char *p = *pp;
    if (*p == '*') {
        n->kind = TS_ANY;
        n->v = 0;
        *pp = p + 1;
        return 0;
    }
    n->kind = TS_REL;
    if (*p == '@') {
        n->kind = TS_ABS;
        p++;
    }
    bool neg = false;
    if (*p == '-' && n->kind == TS_REL) {
        neg = true;
        p++;
    }
    if (!isdigit((unsigned char)*p))
        return -1;
    char *end;
    unsigned long long v = strtoull(p, &end, 0);
    if (end == p || v > 0xffffffffull)
        return -1;
    n->v = neg ? (uint32_t)(0u - (uint32_t)v) : (uint32_t)v;
    *pp = end;
    return 0;
}

static int parse_flags(const char *tok, size_t n, struct ts_line *l, char *err, size_t errlen)
{
    static const char names[] = "FSRP.UEW";
    for (size_t i = 0; i < n; i++) {
        const char *at = strchr(names, tok[i]);
        if (!at || !tok[i]) {
            set_err(err, errlen, "unknown flag '%c'", tok[i]);
            return -1;
        }
        uint8_t bit = (uint8_t)(1u << (at - names));
        if (i + 1 < n && tok[i + 1] == '?') {
            l->flags_opt |= bit;
            i++;
        } else {
            l->flags |= bit;
        }
    }
    return 0;
}

/* "A:B(L)" */
static int parse_range(const char **pp, struct ts_line *l, char *err, size_t errlen)
{
    const char *p = *pp;
    if (parse_num(&p, &l->seq) < 0 || *p++ != ':' || parse_num(&p, &l->end) < 0 ||
        *p++ != '(' || parse_num(&p, &l->len) < 0 || *p++ != ')') {
        set_err(err, errlen, "expected SEQ:END(LEN) at \"%.20s\"", *pp);
        return -1;
    }
    if (l->len.kind == TS_ABS) {
        set_err(err, errlen, "LEN cannot be absolute");
        return -1;
    }
    bool numeric = l->seq.kind != TS_ANY && l->end.kind != TS_ANY && l->len.kind != TS_ANY;
    if (numeric && l->seq.kind == l->end.kind && (uint32_t)(l->end.v - l->seq.v) != l->len.v) {
        set_err(err, errlen, "END - SEQ is %u but LEN is %u",
                (uint32_t)(l->end.v - l->seq.v), l->len.v);
        return -1;
    }
    *pp = p;
    return 0;
}

static int opt_put(struct ts_line *l, const uint8_t *b, size_t n, char *err, size_t errlen)
{
    if (l->opts_len + n > TS_OPTS_MAX) {
        set_err(err, errlen, "options longer than %d bytes", TS_OPTS_MAX);
        return -1;
    }
    memcpy(l->opts + l->opts_len, b, n);
    l->opts_len += n;
    return 0;
}

/* "ts val V ecr E" or "ts V E"; V or E may be "*" (expected lines). */
static int parse_ts_opt(const char *arg, struct ts_line *l, char *err, size_t errlen)
{
    char v[24] = "", e[24] = "";
    if (sscanf(arg, " val %23s ecr %23s", v, e) != 2 && sscanf(arg, " %23s %23s", v, e) != 2) {
        set_err(err, errlen, "bad ts option \"%s\"", arg);
        return -1;
    }
    const char *vals[2] = {v, e};
    uint8_t buf[10] = {8, 10};
    bool any[2];
    for (int i = 0; i < 2; i++) {
        char *end;
        unsigned long n = 0;
        any[i] = !strcmp(vals[i], "*");
        if (!any[i]) {
            n = strtoul(vals[i], &end, 0);
            if (end == vals[i] || *end || n > 0xffffffffull) {
                set_err(err, errlen, "bad ts value \"%s\"", vals[i]);
                return -1;
            }
        }
        wr32(buf + 2 + 4 * i, (uint32_t)n);
    }
    size_t at = l->opts_len;
    if (opt_put(l, buf, 10, err, errlen) < 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (any[i])
            memset(l->opts_any_byte + at + 2 + 4 * i, 1, 4);
    return 0;
}

static int parse_one_opt(const char *s, struct ts_line *l, char *err, size_t errlen)
{
    char name[16] = "";
    int used = 0;
    sscanf(s, "%15s%n", name, &used);
    const char *arg = s + used;
    unsigned long a = 0;
    uint8_t buf[10];
    if (!strcmp(name, "...")) {
        l->opts_more = true;
        return 0;
    }
    if (!strcmp(name, "*")) {
        l->opts_any = true;
        return 0;
    }
    if (!strcmp(name, "nop"))
        return opt_put(l, (const uint8_t[]){1}, 1, err, errlen);
    if (!strcmp(name, "eol"))
        return opt_put(l, (const uint8_t[]){0}, 1, err, errlen);
    if (!strcasecmp(name, "sackOK"))
        return opt_put(l, (const uint8_t[]){4, 2}, 2, err, errlen);
    if (!strcmp(name, "mss") && sscanf(arg, "%lu", &a) == 1 && a <= 0xffff) {
        buf[0] = 2, buf[1] = 4;
        wr16(buf + 2, (uint16_t)a);
        return opt_put(l, buf, 4, err, errlen);
    }
    if (!strcmp(name, "wscale") && sscanf(arg, "%lu", &a) == 1 && a <= 0xff) {
        buf[0] = 3, buf[1] = 3, buf[2] = (uint8_t)a;
        return opt_put(l, buf, 3, err, errlen);
    }
    if (!strcasecmp(name, "ts"))
        return parse_ts_opt(arg, l, err, errlen);
    if (!strcmp(name, "raw")) {
        const char *p = arg;
        int count = 0;
        for (;;) {
            p = skip_ws(p);
            if (!*p)
                break;
            char *end;
            unsigned long v = strtoul(p, &end, 16);
            if (end == p || v > 0xff) {
                set_err(err, errlen, "bad raw byte at \"%.10s\"", p);
                return -1;
            }
            uint8_t byte = (uint8_t)v;
            if (opt_put(l, &byte, 1, err, errlen) < 0)
                return -1;
            p = end;
            count++;
        }
        if (count)
            return 0;
    }
    set_err(err, errlen, "bad option \"%s\"", s);
    return -1;
}

static int parse_opts(const char *s, size_t n, struct ts_line *l, char *err, size_t errlen)
{
    char buf[TS_LINE_MAX];
    if (n >= sizeof(buf)) {
        set_err(err, errlen, "options too long");
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    l->has_opts = true;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = (char *)skip_ws(item);
        size_t len = strlen(item);
        while (len && isspace((unsigned char)item[len - 1]))
            item[--len] = 0;
        if (!len)
            continue;
        if (parse_one_opt(item, l, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int parse_keyword(const char **pp, struct ts_line *l, char *err, size_t errlen)
{
    const char *p = *pp;
    char word[8] = "";
    int used = 0;
    sscanf(p, "%7[a-z]%n", word, &used);
    p = skip_ws(p + used);
    struct ts_num *dst = NULL;
    if (!strcmp(word, "ack"))
        dst = &l->ack;
    else if (!strcmp(word, "win"))
        dst = &l->win;
    else if (!strcmp(word, "urg"))
        dst = &l->urg;
    if (dst) {
        if (parse_num(&p, dst) < 0) {
            set_err(err, errlen, "bad number after \"%s\"", word);
            return -1;
        }
        if ((dst == &l->win || dst == &l->urg) && dst->kind == TS_REL && dst->v > 0xffff) {
            set_err(err, errlen, "%s %u does not fit 16 bits", word, dst->v);
            return -1;
        }
        *pp = p;
        return 0;
    }
    if (!strcmp(word, "doff")) {
        struct ts_num n;
        if (parse_num(&p, &n) < 0 || n.kind != TS_REL || n.v > 15) {
            set_err(err, errlen, "doff wants 0..15");
            return -1;
        }
        l->doff = (int)n.v;
        *pp = p;
        return 0;
    }
    set_err(err, errlen, "unknown word at \"%.20s\"", *pp);
    return -1;
}

int ts_parse_line(const char *text, struct ts_line *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    l->doff = -1;
    const char *lt = strchr(text, '<');
    const char *stop = text + strlen(text);
    if (lt) {
        const char *gt = strrchr(lt, '>');
        if (!gt || *skip_ws(gt + 1)) {
            set_err(err, errlen, "options must end the line with '>'");
            return -1;
        }
        if (parse_opts(lt + 1, (size_t)(gt - lt - 1), l, err, errlen) < 0)
            return -1;
        stop = lt;
    }
    const char *p = skip_ws(text);
    size_t flen = strcspn(p, " \t");
    if (!flen || p + flen > stop) {
        set_err(err, errlen, "missing flags");
        return -1;
    }
    if (parse_flags(p, flen, l, err, errlen) < 0)
        return -1;
    p = skip_ws(p + flen);
    if (parse_range(&p, l, err, errlen) < 0)
        return -1;
    for (p = skip_ws(p); p < stop; p = skip_ws(p))
        if (parse_keyword(&p, l, err, errlen) < 0)
            return -1;
    return 0;
}

/* ---- Segments: parse, build, match, format ------------------------------------ */

int ts_seg_parse(const uint8_t *tcp, size_t len, struct ts_seg *s)
{
    if (len < 20)
        return -1;
    memset(s, 0, sizeof(*s));
    s->sport = rd16(tcp);
    s->dport = rd16(tcp + 2);
    s->seq = rd32(tcp + 4);
    s->ack = rd32(tcp + 8);
    s->doff = (uint8_t)((tcp[12] >> 4) * 4);
    s->flags = tcp[13];
    s->win = rd16(tcp + 14);
    s->urg = rd16(tcp + 18);
    if (s->doff < 20 || s->doff > len)
        return -1;
    s->opts = tcp + 20;
    s->opts_len = s->doff - 20u;
    s->data = tcp + s->doff;
    s->data_len = len - s->doff;
    return 0;
}

/* Resolve a number of a line: relative ones add the base. */
static uint32_t resolve(const struct ts_num *n, uint32_t base)
{
    return n->kind == TS_REL ? base + n->v : n->v;
}

size_t ts_build_seg(const struct ts_line *l, const struct ts_flow *f, uint8_t *buf,
                    size_t cap, char *err, size_t errlen)
{
    const struct ts_num *nums[] = {&l->seq, &l->end, &l->len, &l->ack, &l->win, &l->urg};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (nums[i]->kind == TS_ANY) {
            set_err(err, errlen, "'*' only in expected lines");
            return 0;
        }
    }
    if (l->opts_more || l->opts_any || l->flags_opt ||
        memchr(l->opts_any_byte, 1, l->opts_len)) {
        set_err(err, errlen, "'...', '<*>', 'ts *' and '?' only in expected lines");
        return 0;
    }
    size_t optlen = (l->opts_len + 3) & ~(size_t)3;
    size_t hdr = 20 + optlen;
    size_t total = hdr + l->len.v;
    if (total > cap || hdr > 60) {
        set_err(err, errlen, "segment too large (%zu header, %zu total)", hdr, total);
        return 0;
    }
    uint32_t seq = resolve(&l->seq, f->peer_isn);
    memset(buf, 0, hdr);
    wr16(buf, f->peer_port);
    wr16(buf + 2, f->stack_port);
    wr32(buf + 4, seq);
    wr32(buf + 8, l->ack.kind == TS_NONE ? 0 : resolve(&l->ack, f->stack_isn));
    buf[12] = (uint8_t)((l->doff >= 0 ? (unsigned)l->doff : hdr / 4) << 4);
    buf[13] = l->flags;
    wr16(buf + 14, l->win.kind == TS_NONE ? 65535 : (uint16_t)l->win.v);
    wr16(buf + 18, (uint16_t)l->urg.v);
    memcpy(buf + 20, l->opts, l->opts_len);
    /* Payload: byte i sits at sequence number seq + SYN + i. */
    uint32_t first = seq - f->peer_isn + ((l->flags & TS_SYN) ? 1u : 0u);
    for (uint32_t i = 0; i < l->len.v; i++)
        buf[hdr + i] = ts_peer_byte(first + i);
    wr16(buf + 16, tcp_checksum(TS_PEER_ADDR, TS_STACK_ADDR, buf, total));
    return total;
}

/* Options as a list of (kind, bytes) items; NOP and EOL padding dropped.
 * any: for expected options, which bytes match anything (or NULL). */
struct opt_item {
    const uint8_t *p;
    const uint8_t *any;
    uint8_t len;
};

static bool item_match(const struct opt_item *have, const struct opt_item *want)
{
    if (have->len != want->len)
        return false;
    for (uint8_t i = 0; i < want->len; i++)
        if (have->p[i] != want->p[i] && !(want->any && want->any[i]))
            return false;
    return true;
}

static int opt_items(const uint8_t *o, size_t n, struct opt_item *items, int max)
{
    int count = 0;
    size_t i = 0;
    while (i < n) {
        if (o[i] == 0)
            break;
        if (o[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n || count == max)
            return -1;
        items[count].p = o + i;
        items[count].any = NULL;
        items[count].len = o[i + 1];
        count++;
        i += o[i + 1];
    }
    return count;
}

static bool opts_match(const struct ts_line *l, const struct ts_seg *s, char *why, size_t whylen)
{
    if (l->opts_any)
        return true;
    struct opt_item have[20], want[20];
    int nh = opt_items(s->opts, s->opts_len, have, 20);
    int nw = opt_items(l->opts, l->opts_len, want, 20);
    if (nh < 0) {
        set_err(why, whylen, "malformed options");
        return false;
    }
    if (nw < 0) {
        set_err(why, whylen, "expected options malformed");
        return false;
    }
    for (int w = 0; w < nw; w++)
        want[w].any = l->opts_any_byte + (want[w].p - l->opts);
    bool used[20] = {false};
    for (int w = 0; w < nw; w++) {
        int h = 0;
        while (h < nh && (used[h] || !item_match(&have[h], &want[w])))
            h++;
        if (h == nh) {
            set_err(why, whylen, "option kind %u missing or different", want[w].p[0]);
            return false;
        }
        used[h] = true;
    }
    if (!l->opts_more && nh != nw) {
        set_err(why, whylen, "unexpected options");
        return false;
    }
    return true;
}

static bool num_match(const struct ts_num *n, uint32_t actual, uint32_t base)
{
    return n->kind == TS_NONE || n->kind == TS_ANY || resolve(n, base) == actual;
}

static bool data_match(const struct ts_flow *f, const struct ts_seg *s, char *why, size_t whylen)
{
    uint32_t first = s->seq - f->stack_isn + ((s->flags & TS_SYN) ? 1u : 0u);
    for (size_t i = 0; i < s->data_len; i++) {
        if (s->data[i] != ts_stack_byte(first + (uint32_t)i)) {
            set_err(why, whylen, "payload byte %zu (rel seq %u) is 0x%02x, the app wrote 0x%02x",
                    i, first + (uint32_t)i, s->data[i], ts_stack_byte(first + (uint32_t)i));
            return false;
        }
    }
    return true;
}

bool ts_seg_match(const struct ts_line *l, struct ts_flow *f, const struct ts_seg *s,
                  char *why, size_t whylen)
{
    if (s->dport != f->peer_port || (f->stack_port && s->sport != f->stack_port)) {
        set_err(why, whylen, "ports %u>%u, flow is %u>%u", s->sport, s->dport,
                f->stack_port, f->peer_port);
        return false;
    }
    uint8_t care = (uint8_t)~l->flags_opt;
    if ((s->flags & care) != (l->flags & care)) {
        set_err(why, whylen, "flags");
        return false;
    }
    /* Learn the ISS from the stack's first SYN on this flow. */
    bool learn = (s->flags & TS_SYN) && !f->stack_isn_known;
    uint32_t base = learn ? s->seq - (l->seq.kind == TS_REL ? l->seq.v : 0) : f->stack_isn;
    if (!num_match(&l->seq, s->seq, base)) {
        set_err(why, whylen, "seq");
        return false;
    }
    if (l->len.kind == TS_REL && s->data_len != l->len.v) {
        set_err(why, whylen, "payload length");
        return false;
    }
    if ((s->flags & TS_ACK) && !num_match(&l->ack, s->ack, f->peer_isn)) {
        set_err(why, whylen, "ack");
        return false;
    }
    if (!num_match(&l->win, s->win, 0)) {
        set_err(why, whylen, "win");
        return false;
    }
    if (!num_match(&l->urg, s->urg, 0)) {
        set_err(why, whylen, "urg");
        return false;
    }
    if (!opts_match(l, s, why, whylen))
        return false;
    if (learn) {
        f->stack_isn = base;
        f->stack_isn_known = true;
    }
    if (f->stack_isn_known && !data_match(f, s, why, whylen))
        return false;
    if (!f->stack_port)
        f->stack_port = s->sport;
    f->stack_win = s->win;
    return true;
}

static size_t format_opts(const uint8_t *o, size_t n, char *buf, size_t cap)
{
    size_t at = 0;
    size_t i = 0;
    bool first = true;
#define PUT(...) at += (size_t)snprintf(buf + at, at < cap ? cap - at : 0, __VA_ARGS__)
    PUT("<");
    while (i < n) {
        if (!first)
            PUT(",");
        first = false;
        uint8_t kind = o[i];
        uint8_t len = (kind <= 1 || i + 1 >= n) ? 1 : o[i + 1];
        if (kind == 0) {
            PUT("eol");
        } else if (kind == 1) {
            PUT("nop");
        } else if (len < 2 || i + len > n) {
            PUT("raw");
            for (; i < n; i++)
                PUT(" %02x", o[i]);
            break;
        } else if (kind == 2 && len == 4) {
            PUT("mss %u", rd16(o + i + 2));
        } else if (kind == 3 && len == 3) {
            PUT("wscale %u", o[i + 2]);
        } else if (kind == 4 && len == 2) {
            PUT("sackOK");
        } else if (kind == 8 && len == 10) {
            PUT("ts val %u ecr %u", rd32(o + i + 2), rd32(o + i + 6));
        } else {
            PUT("raw");
            for (uint8_t k = 0; k < len; k++)
                PUT(" %02x", o[i + k]);
        }
        i += len;
    }
    PUT(">");
#undef PUT
    return at;
}

void ts_seg_format(const struct ts_seg *s, const struct ts_flow *f, bool from_stack,
                   char *buf, size_t cap)
{
    static const char names[] = "FSRP.UEW";
    static const int order[] = {1, 0, 2, 3, 5, 6, 7, 4}; /* S F R P U E W . */
    char flags[12];
    size_t k = 0;
    for (size_t i = 0; i < 8; i++)
        if (s->flags & (1u << order[i]))
            flags[k++] = names[order[i]];
    if (!k)
        flags[k++] = '-';
    flags[k] = 0;
    bool seq_rel = f && (!from_stack || f->stack_isn_known);
    uint32_t seq_base = f ? (from_stack ? f->stack_isn : f->peer_isn) : 0;
    uint32_t ack_base = f ? (from_stack ? f->peer_isn : f->stack_isn) : 0;
    bool ack_rel = f && (from_stack || f->stack_isn_known);
    const char *at_seq = seq_rel ? "" : "@";
    uint32_t seq = seq_rel ? s->seq - seq_base : s->seq;
    size_t n = (size_t)snprintf(buf, cap, "%s %s%u:%s%u(%zu)", flags, at_seq, seq, at_seq,
                                seq + (uint32_t)s->data_len, s->data_len);
    if (s->flags & TS_ACK && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " ack %s%u", ack_rel ? "" : "@",
                              ack_rel ? s->ack - ack_base : s->ack);
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " win %u", s->win);
    if (s->flags & TS_URG && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " urg %u", s->urg);
    if (s->opts_len && n + 1 < cap) {
        buf[n++] = ' ';
        format_opts(s->opts, s->opts_len, buf + n, cap - n);
    }
    if (f && s->sport != (from_stack ? f->stack_port : f->peer_port) && n < cap) {
        n = strlen(buf);
        snprintf(buf + n, cap - n, "  [ports %u>%u]", s->sport, s->dport);
    }
}

/* ---- The script --------------------------------------------------------------- */

void ts_config_default(struct ustack_config *cfg)
{
    ustack_config_init(cfg);
    cfg->addr = TS_STACK_ADDR;
    cfg->netmask = 0xffffff00u;
    cfg->max_sockets = 256;
    cfg->has_secret = true;
    for (size_t i = 0; i < sizeof(cfg->secret); i++)
        cfg->secret[i] = (uint8_t)(0xa5 ^ (i * 37));
    /* RFC 6298 §2.4: the RTO SHOULD be at least 1 s. The project's default
     * is lower on purpose (documented in ustack.h); the scripts use the
     * RFC value so that their timing follows the RFC text. */
    cfg->tcp.rto_min_ms = 1000;
    cfg->tcp.rto_initial_ms = 1000;
}

struct ts *ts_new(void)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    return ts_new_with(&cfg);
}

struct ts *ts_new_with(const struct ustack_config *cfg)
{
    struct ts *ts = calloc(1, sizeof(*ts));
    if (!ts)
        return NULL;
    if (ustack_memlink_pair(USTACK_LINK_IP, TS_MTU, TS_LINK_CAPACITY, &ts->stack_end,
                            &ts->peer_end) < 0) {
        free(ts);
        return NULL;
    }
    ts->now = TS_START_US;
    ts->ttl = cfg->ttl ? cfg->ttl : 64;
    ts->ip_id = 0x100;
    ts->st = ustack_new(cfg, ts->stack_end, ts->now);
    if (!ts->st) {
        ustack_link_close(ts->stack_end);
        ustack_link_close(ts->peer_end);
        free(ts);
        return NULL;
    }
    ts->deadline = ustack_timer(ts->st, ts->now);
    ts_flow(ts, TS_PEER_PORT);
    return ts;
}

void ts_free(struct ts *ts)
{
    if (!ts)
        return;
    ustack_free(ts->st);
    ustack_link_close(ts->stack_end);
    ustack_link_close(ts->peer_end);
    free(ts);
}

struct ustack *ts_stack(struct ts *ts)
{
    return ts->st;
}

bool ts_failed(const struct ts *ts)
{
    return ts->failed;
}

uint64_t ts_now_us(const struct ts *ts)
{
    return ts->now;
}

const struct ts_seg *ts_last(const struct ts *ts)
{
    return &ts->last;
}

uint64_t ts_last_time(const struct ts *ts)
{
    return ts->last_time;
}

const char *ts_fmt(struct ts *ts, const char *fmt, ...)
{
    char *buf = ts->fmt[ts->fmt_next++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, TS_LINE_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

void ts_fail_(struct ts *ts, TS_AT, const char *fmt, ...)
{
    if (ts->failed)
        return;
    ts->failed = true;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    test_fail(file, line, "%s  [t=%llu.%06llu s]", msg,
              (unsigned long long)(ts->now / 1000000), (unsigned long long)(ts->now % 1000000));
}

static struct ts_flow *find_flow(struct ts *ts, uint16_t peer_port)
{
    for (int i = 0; i < ts->nflows; i++)
        if (ts->flows[i].peer_port == peer_port)
            return &ts->flows[i];
    if (ts->nflows == TS_MAX_FLOWS)
        return NULL;
    struct ts_flow *f = &ts->flows[ts->nflows];
    memset(f, 0, sizeof(*f));
    f->peer_port = peer_port;
    f->stack_port = TS_STACK_PORT;
    f->peer_isn = TS_PEER_ISN + 0x01000193u * (uint32_t)ts->nflows;
    ts->nflows++;
    return f;
}

void ts_flow(struct ts *ts, uint16_t peer_port)
{
    struct ts_flow *f = find_flow(ts, peer_port);
    if (f)
        ts->cur = f;
}

struct ts_flow *ts_cur(struct ts *ts)
{
    return ts->cur;
}

void ts_set_peer_isn(struct ts *ts, uint32_t isn)
{
    ts->cur->peer_isn = isn;
}

void ts_flow_restart(struct ts *ts, uint32_t peer_isn)
{
    struct ts_flow *f = ts->cur;
    f->peer_isn = peer_isn;
    f->stack_isn = 0;
    f->stack_isn_known = false;
    f->app_sent = f->app_read = 0;
}

bool ts_set_stack_iss(struct ts *ts, uint32_t iss)
{
    tcp_debug_set_next_iss(ts->st, iss);
    ts->cur->stack_isn = iss;
    ts->cur->stack_isn_known = true;
    return true;
}

/* ---- Time --------------------------------------------------------------------- */

static void run_timers(struct ts *ts)
{
    ts->deadline = ustack_timer(ts->st, ts->now);
}

static unsigned pending(struct ts *ts)
{
    return ustack_memlink_pending(ts->peer_end);
}

/* Run every timer due up to `target`, in deadline order. With stop_early,
 * stop at the first instant the stack has sent something (now = that
 * instant). Returns false on a timer livelock. */
static bool advance_to(struct ts *ts, TS_AT, uint64_t target, bool stop_early)
{
    unsigned spins = 0;
    while (ts->deadline <= target) {
        if (stop_early && pending(ts))
            return true;
        if (ts->deadline > ts->now) {
            ts->now = ts->deadline;
            spins = 0;
        } else if (++spins > TS_TIMER_SPIN_MAX) {
            ts_fail_(ts, file, line, "ustack_timer keeps returning a deadline <= now");
            return false;
        }
        run_timers(ts);
    }
    if (stop_early && pending(ts))
        return true;
    if (target > ts->now)
        ts->now = target;
    run_timers(ts);
    return true;
}

void ts_advance_(struct ts *ts, TS_AT, unsigned ms)
{
    if (!ts->failed)
        advance_to(ts, file, line, ts->now + (uint64_t)ms * 1000, false);
}

void ts_advance_us_(struct ts *ts, TS_AT, uint64_t us)
{
    if (!ts->failed)
        advance_to(ts, file, line, ts->now + us, false);
}

void ts_advance_to_(struct ts *ts, TS_AT, uint64_t when_us)
{
    if (ts->failed)
        return;
    if (when_us < ts->now) {
        ts_fail_(ts, file, line, "ts_advance_to %llu us: already at %llu us",
                 (unsigned long long)when_us, (unsigned long long)ts->now);
        return;
    }
    advance_to(ts, file, line, when_us, false);
}

/* ---- Peer -> stack -------------------------------------------------------------- */

static void inject(struct ts *ts, const uint8_t *tcp, size_t len)
{
    uint8_t frame[TS_FRAME_MAX];
    if (len + 20 > sizeof(frame))
        return;
    memset(frame, 0, 20);
    frame[0] = 0x45;
    wr16(frame + 2, (uint16_t)(len + 20));
    wr16(frame + 4, ts->ip_id++);
    wr16(frame + 6, 0x4000); /* DF */
    frame[8] = 64;
    frame[9] = 6;
    wr32(frame + 12, TS_PEER_ADDR);
    wr32(frame + 16, TS_STACK_ADDR);
    wr16(frame + 10, fold(sum16(0, frame, 20)));
    memcpy(frame + 20, tcp, len);
    ustack_input(ts->st, frame, len + 20, ts->now);
    run_timers(ts);
}

static bool parse_or_fail(struct ts *ts, TS_AT, const char *text, struct ts_line *l)
{
    char err[160];
    if (ts_parse_line(text, l, err, sizeof(err)) < 0) {
        ts_fail_(ts, file, line, "bad script line \"%s\": %s", text, err);
        return false;
    }
    return true;
}

size_t ts_build_(struct ts *ts, TS_AT, const char *text, uint8_t *buf, size_t cap)
{
    struct ts_line l;
    if (ts->failed || !parse_or_fail(ts, file, line, text, &l))
        return 0;
    char err[160];
    size_t n = ts_build_seg(&l, ts->cur, buf, cap, err, sizeof(err));
    if (!n)
        ts_fail_(ts, file, line, "cannot build \"%s\": %s", text, err);
    return n;
}

void ts_in_(struct ts *ts, TS_AT, const char *text)
{
    uint8_t buf[TS_FRAME_MAX];
    size_t n = ts_build_(ts, file, line, text, buf, sizeof(buf));
    if (n)
        inject(ts, buf, n);
}

void ts_in_tcp_(struct ts *ts, TS_AT, const uint8_t *tcp, size_t len, unsigned flags)
{
    (void)file;
    (void)line;
    if (ts->failed || len > TS_FRAME_MAX - 20)
        return;
    uint8_t buf[TS_FRAME_MAX];
    memcpy(buf, tcp, len);
    if (!(flags & TS_RAW_KEEP_CSUM) && len >= 18) {
        wr16(buf + 16, 0);
        wr16(buf + 16, tcp_checksum(TS_PEER_ADDR, TS_STACK_ADDR, buf, len));
    }
    if ((flags & TS_RAW_BAD_CSUM) && len >= 18)
        buf[17] ^= 0x5a;
    inject(ts, buf, len);
}

/* ---- Stack -> peer -------------------------------------------------------------- */

/* Take the next frame the stack sent and check everything below TCP.
 * Returns false (and fails the script) if it is not a sane TCP segment. */
static bool take_segment(struct ts *ts, TS_AT, const char *expect, struct ts_seg *s)
{
    uint8_t *frame = ts->last_frame;
    ssize_t n = ustack_link_recv(ts->peer_end, frame, TS_FRAME_MAX);
    const char *bad = NULL;
    size_t ihl = n >= 20 ? (size_t)(frame[0] & 15) * 4 : 0;
    if (n < 20 || frame[0] >> 4 != 4 || ihl < 20 || ihl > (size_t)n)
        bad = "not an IPv4 packet";
    else if (rd16(frame + 2) != (size_t)n)
        bad = "IP total length differs from the frame length";
    else if (fold(sum16(0, frame, ihl)) != 0)
        bad = "bad IP header checksum";
    else if (rd16(frame + 6) & 0x3fff)
        bad = "IP fragment";
    else if (frame[9] != 6)
        bad = "not TCP";
    else if (rd32(frame + 12) != TS_STACK_ADDR || rd32(frame + 16) != TS_PEER_ADDR)
        bad = "wrong IP addresses";
    else if (frame[8] != ts->ttl)
        bad = "unexpected TTL";
    else if (ts_seg_parse(frame + ihl, (size_t)n - ihl, s) < 0)
        bad = "malformed TCP header";
    else if (tcp_checksum(TS_STACK_ADDR, TS_PEER_ADDR, frame + ihl, (size_t)n - ihl) != 0)
        bad = "bad TCP checksum";
    if (bad) {
        ts_fail_(ts, file, line, "expected %s\n      but the stack sent a bad frame (%zd bytes): %s",
                 expect, n, bad);
        return false;
    }
    return true;
}

static void check_segment(struct ts *ts, TS_AT, const struct ts_line *l, const char *text)
{
    struct ts_seg s;
    if (!take_segment(ts, file, line, text, &s))
        return;
    struct ts_flow *f = ts->cur;
    struct ts_flow before = *f;
    char why[160] = "";
    if (ts_seg_match(l, f, &s, why, sizeof(why))) {
        ts->last = s;
        ts->last_time = ts->now;
        return;
    }
    *f = before;
    char got[TS_LINE_MAX];
    ts_seg_format(&s, f, true, got, sizeof(got));
    ts_fail_(ts, file, line, "segment mismatch (%s)\n      expected: %s\n      actual:   %s", why,
             text, got);
}

void ts_out_(struct ts *ts, TS_AT, const char *text)
{
    struct ts_line l;
    if (ts->failed || !parse_or_fail(ts, file, line, text, &l))
        return;
    if (!pending(ts)) {
        ts_fail_(ts, file, line, "expected %s\n      but the stack sent nothing", text);
        return;
    }
    check_segment(ts, file, line, &l, text);
}

void ts_out_within_(struct ts *ts, TS_AT, unsigned ms, const char *text)
{
    struct ts_line l;
    if (ts->failed || !parse_or_fail(ts, file, line, text, &l))
        return;
    uint64_t start = ts->now;
    if (!advance_to(ts, file, line, start + (uint64_t)ms * 1000 - 1, true))
        return;
    if (!pending(ts)) {
        ts_fail_(ts, file, line, "expected %s within %u ms\n      but the stack sent nothing",
                 text, ms);
        return;
    }
    check_segment(ts, file, line, &l, text);
}

void ts_out_at_(struct ts *ts, TS_AT, uint64_t lo, const char *text)
{
    struct ts_line l;
    if (ts->failed || !parse_or_fail(ts, file, line, text, &l))
        return;
    uint64_t start = ts->now;
    uint64_t hi = lo + TS_SLACK_MS * 1000;
    if (!advance_to(ts, file, line, hi, true))
        return;
    long long rel_ms = ((long long)lo - (long long)start) / 1000;
    if (!pending(ts)) {
        ts_fail_(ts, file, line, "expected %s at +%lld ms\n      but nothing came by +%lld ms",
                 text, rel_ms, rel_ms + TS_SLACK_MS);
        return;
    }
    if (ts->now < lo) {
        struct ts_seg s;
        char got[TS_LINE_MAX];
        if (take_segment(ts, file, line, text, &s)) {
            ts_seg_format(&s, ts->cur, true, got, sizeof(got));
            ts_fail_(ts, file, line,
                     "expected %s at +%lld ms\n      but at +%llu.%03llu ms the stack sent %s",
                     text, rel_ms, (unsigned long long)((ts->now - start) / 1000),
                     (unsigned long long)((ts->now - start) % 1000), got);
        }
        return;
    }
    check_segment(ts, file, line, &l, text);
}

void ts_out_after_(struct ts *ts, TS_AT, unsigned ms, const char *text)
{
    ts_out_at_(ts, file, line, ts->now + (uint64_t)ms * 1000, text);
}

int ts_out_oneof_(struct ts *ts, TS_AT, const char *const *texts, int n)
{
    if (ts->failed)
        return -1;
    struct ts_line lines[8];
    int none = -1;
    if (n > 8) {
        ts_fail_(ts, file, line, "ts_out_oneof takes at most 8 lines");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!strcmp(texts[i], "none"))
            none = i;
        else if (!parse_or_fail(ts, file, line, texts[i], &lines[i]))
            return -1;
    }
    if (!pending(ts)) {
        if (none < 0)
            ts_fail_(ts, file, line, "expected one of %d segments (first %s)\n      but the stack sent nothing", n, texts[0]);
        return none;
    }
    struct ts_seg s;
    if (!take_segment(ts, file, line, texts[0], &s))
        return -1;
    struct ts_flow *f = ts->cur;
    for (int i = 0; i < n; i++) {
        if (i == none)
            continue;
        struct ts_flow before = *f;
        char why[160];
        if (ts_seg_match(&lines[i], f, &s, why, sizeof(why))) {
            ts->last = s;
            ts->last_time = ts->now;
            return i;
        }
        *f = before;
    }
    char got[TS_LINE_MAX];
    ts_seg_format(&s, f, true, got, sizeof(got));
    char want[TS_LINE_MAX * 2] = "";
    for (int i = 0; i < n; i++) {
        size_t k = strlen(want);
        snprintf(want + k, sizeof(want) - k, "\n      expected: %s", texts[i]);
    }
    ts_fail_(ts, file, line, "segment matches none of the allowed answers%s\n      actual:   %s",
             want, got);
    return -1;
}

static void fail_unexpected(struct ts *ts, TS_AT, const char *what)
{
    struct ts_seg s;
    if (!take_segment(ts, file, line, what, &s))
        return;
    char got[TS_LINE_MAX];
    ts_seg_format(&s, ts->cur, true, got, sizeof(got));
    ts_fail_(ts, file, line, "expected %s\n      but the stack sent %s", what, got);
}

void ts_out_none_(struct ts *ts, TS_AT)
{
    if (!ts->failed && pending(ts))
        fail_unexpected(ts, file, line, "no segment");
}

void ts_none_for_(struct ts *ts, TS_AT, unsigned ms)
{
    if (ts->failed)
        return;
    uint64_t start = ts->now;
    if (!advance_to(ts, file, line, start + (uint64_t)ms * 1000, true))
        return;
    if (pending(ts)) {
        char what[64];
        snprintf(what, sizeof(what), "no segment for %u ms (this one came at +%llu ms)", ms,
                 (unsigned long long)((ts->now - start) / 1000));
        fail_unexpected(ts, file, line, what);
    }
}

bool ts_out_maybe_(struct ts *ts, TS_AT, const char *text)
{
    if (ts->failed || !pending(ts))
        return false;
    ts_out_(ts, file, line, text);
    return true;
}

int ts_out_count_(struct ts *ts, TS_AT, const char *text)
{
    int n = 0;
    while (!ts->failed && pending(ts)) {
        ts_out_(ts, file, line, text);
        n++;
    }
    return n;
}

/* ---- Application side ---------------------------------------------------------- */

static struct ts_flow *sd_flow(struct ts *ts, int sd)
{
    for (int i = 0; i < ts->nsds; i++)
        if (ts->sds[i].sd == sd)
            return ts->sds[i].flow;
    return NULL;
}

static void map_sd(struct ts *ts, int sd, struct ts_flow *f)
{
    for (int i = 0; i < ts->nsds; i++) {
        if (ts->sds[i].sd == sd) {
            ts->sds[i].flow = f;
            return;
        }
    }
    if (ts->nsds < TS_MAX_SDS)
        ts->sds[ts->nsds++] = (struct ts_sdmap){sd, f};
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(addr);
    a.sin_port = htons(port);
    return a;
}

#define TS_API(ts, expr)                                                      \
    __extension__({                                                           \
        __typeof__(expr) api_r_ = (expr);                                     \
        run_timers(ts);                                                       \
        api_r_;                                                               \
    })

int ts_socket_(struct ts *ts, TS_AT)
{
    if (ts->failed)
        return -1;
    int sd = TS_API(ts, ustack_socket(ts->st, USTACK_SOCK_STREAM));
    if (sd < 0)
        ts_fail_(ts, file, line, "ustack_socket: %s", strerror(-sd));
    return sd;
}

int ts_listen_(struct ts *ts, TS_AT, uint16_t port, int backlog)
{
    int sd = ts_socket_(ts, file, line);
    if (sd < 0)
        return -1;
    struct sockaddr_in a = sin_of(TS_STACK_ADDR, port);
    int r = TS_API(ts, ustack_bind(ts->st, sd, (struct sockaddr *)&a, sizeof(a)));
    if (r == 0)
        r = TS_API(ts, ustack_listen(ts->st, sd, backlog));
    if (r < 0) {
        ts_fail_(ts, file, line, "bind/listen on port %u: %s", port, strerror(-r));
        return -1;
    }
    return sd;
}

int ts_accept_(struct ts *ts, TS_AT, int lsd)
{
    if (ts->failed)
        return -1;
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    int sd = TS_API(ts, ustack_accept(ts->st, lsd, (struct sockaddr *)&peer, &len));
    if (sd < 0) {
        ts_fail_(ts, file, line, "ustack_accept: %s", strerror(-sd));
        return -1;
    }
    struct ts_flow *f = find_flow(ts, ntohs(peer.sin_port));
    if (!f || ntohl(peer.sin_addr.s_addr) != TS_PEER_ADDR) {
        ts_fail_(ts, file, line, "accepted a connection from an unexpected peer");
        return sd;
    }
    map_sd(ts, sd, f);
    return sd;
}

void ts_accept_none_(struct ts *ts, TS_AT, int lsd)
{
    if (ts->failed)
        return;
    int sd = TS_API(ts, ustack_accept(ts->st, lsd, NULL, NULL));
    if (sd != -EAGAIN)
        ts_fail_(ts, file, line, "ustack_accept returned %d, expected -EAGAIN", sd);
}

int ts_connect_(struct ts *ts, TS_AT, int sd, uint16_t local_port, uint16_t peer_port)
{
    if (ts->failed)
        return -1;
    ts_flow(ts, peer_port);
    struct ts_flow *f = ts->cur;
    f->stack_port = local_port;
    if (local_port) {
        struct sockaddr_in a = sin_of(TS_STACK_ADDR, local_port);
        int r = TS_API(ts, ustack_bind(ts->st, sd, (struct sockaddr *)&a, sizeof(a)));
        if (r < 0) {
            ts_fail_(ts, file, line, "bind to port %u: %s", local_port, strerror(-r));
            return -1;
        }
    }
    struct sockaddr_in p = sin_of(TS_PEER_ADDR, peer_port);
    int r = TS_API(ts, ustack_connect(ts->st, sd, (struct sockaddr *)&p, sizeof(p)));
    if (r != -EINPROGRESS) {
        ts_fail_(ts, file, line, "ustack_connect returned %d (%s), expected -EINPROGRESS", r,
                 r < 0 ? strerror(-r) : "ok");
        return -1;
    }
    map_sd(ts, sd, f);
    return sd;
}

ssize_t ts_send_(struct ts *ts, TS_AT, int sd, size_t n)
{
    if (ts->failed)
        return 0;
    struct ts_flow *f = sd_flow(ts, sd);
    if (!f) {
        ts_fail_(ts, file, line, "ts_send on sd %d, which no flow owns", sd);
        return 0;
    }
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = ts_stack_byte(f->app_sent + 1 + (uint32_t)i);
    ssize_t r = TS_API(ts, ustack_send(ts->st, sd, buf, n, 0));
    free(buf);
    if (r > 0)
        f->app_sent += (uint32_t)r;
    return r;
}

void ts_recv_data_(struct ts *ts, TS_AT, int sd, size_t n)
{
    if (ts->failed)
        return;
    struct ts_flow *f = sd_flow(ts, sd);
    if (!f) {
        ts_fail_(ts, file, line, "ts_recv_data on sd %d, which no flow owns", sd);
        return;
    }
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return;
    size_t got = 0;
    while (got < n) {
        ssize_t r = TS_API(ts, ustack_recv(ts->st, sd, buf + got, n - got, 0));
        if (r <= 0) {
            ts_fail_(ts, file, line, "wanted %zu bytes, got %zu, then recv returned %zd", n, got,
                     r);
            break;
        }
        got += (size_t)r;
    }
    for (size_t i = 0; i < got && !ts->failed; i++) {
        uint8_t want = ts_peer_byte(f->app_read + 1 + (uint32_t)i);
        if (buf[i] != want)
            ts_fail_(ts, file, line,
                     "received byte %zu (rel seq %u) is 0x%02x, the peer sent 0x%02x", i,
                     f->app_read + 1 + (uint32_t)i, buf[i], want);
    }
    f->app_read += (uint32_t)got;
    free(buf);
}

static void expect_recv(struct ts *ts, TS_AT, int sd, ssize_t want)
{
    if (ts->failed)
        return;
    uint8_t b[64];
    ssize_t r = TS_API(ts, ustack_recv(ts->st, sd, b, sizeof(b), 0));
    if (r != want)
        ts_fail_(ts, file, line, "ustack_recv returned %zd, expected %zd", r, want);
}

void ts_recv_none_(struct ts *ts, TS_AT, int sd)
{
    expect_recv(ts, file, line, sd, -EAGAIN);
}

void ts_recv_eof_(struct ts *ts, TS_AT, int sd)
{
    expect_recv(ts, file, line, sd, 0);
}

void ts_recv_err_(struct ts *ts, TS_AT, int sd, int err)
{
    expect_recv(ts, file, line, sd, -err);
}

void ts_shutdown_(struct ts *ts, TS_AT, int sd, int how)
{
    if (ts->failed)
        return;
    int r = TS_API(ts, ustack_shutdown(ts->st, sd, how));
    if (r < 0)
        ts_fail_(ts, file, line, "ustack_shutdown: %s", strerror(-r));
}

void ts_close_(struct ts *ts, TS_AT, int sd)
{
    if (ts->failed)
        return;
    int r = TS_API(ts, ustack_close(ts->st, sd));
    if (r < 0)
        ts_fail_(ts, file, line, "ustack_close: %s", strerror(-r));
}

void ts_setopt_(struct ts *ts, TS_AT, int sd, int opt, int value)
{
    if (ts->failed)
        return;
    int r = TS_API(ts, ustack_setsockopt(ts->st, sd, opt, value));
    if (r < 0)
        ts_fail_(ts, file, line, "ustack_setsockopt(%d, %d): %s", opt, value, strerror(-r));
}

int ts_so_error_(struct ts *ts, TS_AT, int sd)
{
    if (ts->failed)
        return 0;
    int v = 0;
    int r = TS_API(ts, ustack_getsockopt(ts->st, sd, USTACK_SO_ERROR, &v));
    if (r < 0)
        ts_fail_(ts, file, line, "getsockopt(USTACK_SO_ERROR): %s", strerror(-r));
    return v;
}

unsigned ts_events_(struct ts *ts, TS_AT, int sd)
{
    (void)file;
    (void)line;
    if (ts->failed)
        return 0;
    return ustack_events(ts->st, sd);
}

int ts_poll_(struct ts *ts, TS_AT, int sd)
{
    (void)file;
    (void)line;
    if (ts->failed)
        return -1;
    struct ustack_event ev[64];
    int result = -1;
    int n;
    do {
        n = ustack_poll(ts->st, ev, 64);
        for (int i = 0; i < n; i++)
            if (ev[i].sd == sd)
                result = (int)ev[i].events;
    } while (n == 64);
    return result;
}

static const struct ustack_stat_info *stat_info(const char *name)
{
    size_t n;
    const struct ustack_stat_info *t = ustack_stat_table(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}

bool ts_has_stat(const char *name)
{
    return stat_info(name) != NULL;
}

uint64_t ts_stat_(struct ts *ts, TS_AT, const char *name)
{
    const struct ustack_stat_info *info = stat_info(name);
    if (!info) {
        ts_fail_(ts, file, line, "no counter named %s", name);
        return 0;
    }
    struct ustack_stats s;
    ustack_get_stats(ts->st, &s);
    return ustack_stat_value(&s, info);
}

/* ---- Common openings ------------------------------------------------------------ */

int ts_passive_open_(struct ts *ts, TS_AT, int *lsd_out)
{
    int lsd = ts_listen_(ts, file, line, TS_STACK_PORT, 16);
    if (lsd_out)
        *lsd_out = lsd;
    ts_in_(ts, file, line, "S 0:0(0) win 65535 <mss 1460>");
    ts_out_(ts, file, line, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in_(ts, file, line, ". 1:1(0) ack 1 win 65535");
    ts_out_none_(ts, file, line);
    return ts->failed ? -1 : ts_accept_(ts, file, line, lsd);
}

int ts_active_open_(struct ts *ts, TS_AT, int sd)
{
    if (sd < 0)
        sd = ts_socket_(ts, file, line);
    if (sd < 0)
        return -1;
    ts_connect_(ts, file, line, sd, 50000, ts->cur->peer_port);
    ts_out_(ts, file, line, "S 0:0(0) <mss 1460, ...>");
    ts_in_(ts, file, line, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out_(ts, file, line, ". 1:1(0) ack 1");
    return ts->failed ? -1 : sd;
}
