/*
 * IPv4 reassembly (RFC 791 §3.2, RFC 815, RFC 1122 §3.3.2).
 *
 * Fragments of one datagram share source, destination, protocol and
 * identification (RFC 791). Each incomplete datagram has a descriptor in a
 * fixed table (cfg.reasm.max_datagrams) and holds its data in blocks of
 * FRAG_BLOCK bytes taken from one pool allocated with the stack
 * (cfg.reasm.max_bytes), so reassembly allocates nothing per fragment or
 * per datagram, and its memory has a hard ceiling.
 *
 * What has arrived is tracked per 8-byte unit (offsets count 8-byte units,
 * and every fragment but the last carries a multiple of 8 bytes) in three
 * bitmaps: units covered, units where a fragment started, and unit
 * boundaries where one ended. That is the hole list of RFC 815 in a form
 * that needs no allocation and makes overlap checks cheap.
 *
 * Rules, each counted when it bites:
 *  - Overlap is an attack, not an accident (RFC 5722 makes this a MUST for
 *    IPv6; the same reasoning holds for IPv4: overlapping fragments are how
 *    filters are evaded, and no honest sender produces them). A fragment
 *    that overlaps what we hold drops the whole datagram, as does one that
 *    disagrees about where the datagram ends.
 *  - An exact copy of a fragment we hold (same offset, same length, same
 *    bytes) is ignored and the datagram goes on: networks duplicate
 *    packets, and a copy adds no ambiguity.
 *  - A datagram may not grow past cfg.reasm.max_size (65535 at most: the
 *    total length field cannot describe more; the "ping of death" is a
 *    fragment ending past it).
 *  - A new datagram when the table is full, or a fragment when the block
 *    pool is empty, makes room by dropping the oldest incomplete datagrams
 *    (so a flood of junk fragments cannot shut out real traffic for a
 *    whole timeout); a datagram larger than all of the memory is dropped.
 *  - An incomplete datagram is freed cfg.reasm.timeout_ms after its first
 *    fragment arrived, a fixed time as RFC 1122 §3.3.2 asks (not taken
 *    from the TTL). RFC 1122 recommends 60 to 120 s; the default is 30 s,
 *    as in Linux: shorter holds less memory hostage, and a fragment that
 *    arrives 30 s late belongs to a datagram its sender has given up on.
 *    If fragment zero had arrived, the sender hears of it with an ICMP
 *    time exceeded, code 1 (RFC 792; RFC 1122 §3.3.2 says none is needed
 *    without fragment zero, and without it we could not quote the header).
 *
 * A complete datagram is copied into one contiguous buffer (also allocated
 * once) behind fragment zero's header, with the total length and
 * fragment field rewritten, and goes through ip4_deliver() like any packet.
 */
#include "net/frag.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "core/stack.h"
#include "net/icmp.h"
#include "net/ipv4.h"

#define DEFAULT_MAX_BYTES (4u << 20)
#define DEFAULT_MAX_DATAGRAMS 64
#define DEFAULT_TIMEOUT_MS 30000
#define MIN_MAX_SIZE 576 /* RFC 1122 §3.3.2: every host reassembles 576 */

/* The most payload a datagram can have: 65535 minus a minimal header. */
#define MAX_PAYLOAD (IP4_MAX_TOTAL - IPV4_HDR_MIN)
#define BLOCKS_PER_DGRAM ((MAX_PAYLOAD + FRAG_BLOCK - 1) / FRAG_BLOCK)
/* 8-byte units of MAX_PAYLOAD, plus one for the end mark after the last. */
#define UNITS ((MAX_PAYLOAD + 7) / 8 + 1)
#define WORDS ((UNITS + 63) / 64)

struct reasm {
    bool used;
    bool have_first, have_last;  /* fragment zero / the one without MF */
    bool dst_broadcast;
    uint8_t proto;
    uint8_t hdr_len;             /* of fragment zero */
    uint16_t id;
    uint32_t src, dst;
    uint32_t total;              /* payload length, once have_last */
    uint32_t max_end;            /* furthest byte any fragment reached */
    uint32_t received;           /* payload bytes held */
    uint32_t first_len;          /* fragment zero's payload length */
    uint64_t created, deadline;
    uint8_t hdr[IPV4_HDR_MAX];   /* fragment zero's header, as received */
    uint32_t block[BLOCKS_PER_DGRAM]; /* pool index + 1; 0 = none yet */
    uint64_t covered[WORDS];     /* 8-byte units received */
    uint64_t starts[WORDS];      /* units where a fragment began */
    uint64_t ends[WORDS];        /* unit boundaries where one ended */
};

struct frag_state {
    struct reasm *dgram;         /* cfg.reasm.max_datagrams descriptors */
    unsigned max_dgrams, in_use;
    uint8_t *mem;                /* nblocks * FRAG_BLOCK bytes */
    uint32_t *free_blocks;       /* stack of free block indexes */
    uint32_t nblocks, nfree;
    uint8_t *whole;              /* a complete datagram, for delivery */
    uint64_t next_deadline;      /* no datagram expires before this */
};

/* One arriving fragment, in bytes. */
struct piece {
    uint32_t start, end;         /* payload bytes [start, end) */
    bool more;                   /* MF */
    const uint8_t *data;
};

/* ---- Setup ---------------------------------------------------------------- */

void frag_config_defaults(struct ustack_reasm_config *c)
{
    if (!c->max_bytes)
        c->max_bytes = DEFAULT_MAX_BYTES;
    if (!c->max_datagrams)
        c->max_datagrams = DEFAULT_MAX_DATAGRAMS;
    if (!c->max_size || c->max_size > IP4_MAX_TOTAL)
        c->max_size = IP4_MAX_TOTAL;
    if (c->max_size < MIN_MAX_SIZE)
        c->max_size = MIN_MAX_SIZE;
    if (!c->timeout_ms)
        c->timeout_ms = DEFAULT_TIMEOUT_MS;
}

int frag_init(struct ustack *st)
{
    frag_config_defaults(&st->cfg.reasm);
    const struct ustack_reasm_config *c = &st->cfg.reasm;
    struct frag_state *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return -ENOMEM;
    st->frag = fs;
    fs->max_dgrams = c->max_datagrams;
    fs->nblocks = c->max_bytes / FRAG_BLOCK ? c->max_bytes / FRAG_BLOCK : 1;
    fs->next_deadline = USTACK_NEVER;
    /* Large and mostly untouched until fragments arrive: the pages cost
     * nothing until then. */
    fs->dgram = calloc(fs->max_dgrams, sizeof(*fs->dgram));
    fs->mem = malloc((size_t)fs->nblocks * FRAG_BLOCK);
    fs->free_blocks = malloc((size_t)fs->nblocks * sizeof(*fs->free_blocks));
    fs->whole = malloc(IPV4_HDR_MAX + MAX_PAYLOAD);
    if (!fs->dgram || !fs->mem || !fs->free_blocks || !fs->whole)
        return -ENOMEM; /* frag_destroy frees what was allocated */
    for (uint32_t i = 0; i < fs->nblocks; i++)
        fs->free_blocks[i] = fs->nblocks - 1 - i;
    fs->nfree = fs->nblocks;
    return 0;
}

void frag_destroy(struct ustack *st)
{
    struct frag_state *fs = st->frag;
    if (!fs)
        return;
    free(fs->dgram);
    free(fs->mem);
    free(fs->free_blocks);
    free(fs->whole);
    free(fs);
    st->frag = NULL;
}

size_t frag_bytes_held(const struct ustack *st)
{
    const struct frag_state *fs = st->frag;
    return fs ? (size_t)(fs->nblocks - fs->nfree) * FRAG_BLOCK : 0;
}

unsigned frag_datagrams_held(const struct ustack *st)
{
    return st->frag ? st->frag->in_use : 0;
}

/* ---- Bitmaps of 8-byte units ---------------------------------------------- */

/* The mask of bits [b, b + span) of one word. */
static uint64_t word_mask(unsigned b, unsigned span)
{
    return (span >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << span) - 1)) << b;
}

/* Bits set in [from, to). */
static unsigned bits_count(const uint64_t *bm, unsigned from, unsigned to)
{
    unsigned n = 0;
    while (from < to) {
        unsigned b = from % 64, span = 64 - b;
        if (span > to - from)
            span = to - from;
        n += (unsigned)__builtin_popcountll(bm[from / 64] & word_mask(b, span));
        from += span;
    }
    return n;
}

static void bits_set(uint64_t *bm, unsigned from, unsigned to)
{
    while (from < to) {
        unsigned b = from % 64, span = 64 - b;
        if (span > to - from)
            span = to - from;
        bm[from / 64] |= word_mask(b, span);
        from += span;
    }
}

static bool bit_test(const uint64_t *bm, unsigned i)
{
    return (bm[i / 64] >> (i % 64)) & 1;
}

/* Units [first, last) that bytes [start, end) touch. */
static unsigned unit_first(uint32_t start)
{
    return start / 8;
}

static unsigned unit_last(uint32_t end)
{
    return (end + 7) / 8;
}

/* ---- Blocks ----------------------------------------------------------------- */

static uint8_t *block_data(const struct frag_state *fs, uint32_t ref)
{
    return fs->mem + (size_t)(ref - 1) * FRAG_BLOCK;
}

/* Blocks bytes [start, end) need that d does not have yet. */
static unsigned blocks_missing(const struct reasm *d, uint32_t start, uint32_t end)
{
    unsigned n = 0;
    for (uint32_t b = start / FRAG_BLOCK; b <= (end - 1) / FRAG_BLOCK; b++)
        n += d->block[b] == 0;
    return n;
}

static void blocks_take(struct frag_state *fs, struct reasm *d, uint32_t start, uint32_t end)
{
    for (uint32_t b = start / FRAG_BLOCK; b <= (end - 1) / FRAG_BLOCK; b++)
        if (d->block[b] == 0)
            d->block[b] = fs->free_blocks[--fs->nfree] + 1;
}

static void blocks_release(struct frag_state *fs, struct reasm *d)
{
    for (unsigned b = 0; b < BLOCKS_PER_DGRAM; b++)
        if (d->block[b])
            fs->free_blocks[fs->nfree++] = d->block[b] - 1;
}

/* The stretch of bytes [off, off + len) that lies in one block: where it
 * is, and how long (at most len). */
static uint8_t *chunk(const struct frag_state *fs, const struct reasm *d, uint32_t off,
                      size_t len, size_t *n)
{
    uint32_t in = off % FRAG_BLOCK;
    *n = FRAG_BLOCK - in < len ? FRAG_BLOCK - in : len;
    return block_data(fs, d->block[off / FRAG_BLOCK]) + in;
}

static void copy_in(struct frag_state *fs, struct reasm *d, uint32_t off,
                    const uint8_t *src, size_t len)
{
    while (len) {
        size_t n;
        uint8_t *at = chunk(fs, d, off, len, &n);
        memcpy(at, src, n);
        off += (uint32_t)n, src += n, len -= n;
    }
}

static void copy_out(const struct frag_state *fs, const struct reasm *d, uint8_t *dst,
                     uint32_t off, size_t len)
{
    while (len) {
        size_t n;
        const uint8_t *at = chunk(fs, d, off, len, &n);
        memcpy(dst, at, n);
        off += (uint32_t)n, dst += n, len -= n;
    }
}

static bool same_bytes(const struct frag_state *fs, const struct reasm *d, uint32_t off,
                       const uint8_t *src, size_t len)
{
    while (len) {
        size_t n;
        const uint8_t *at = chunk(fs, d, off, len, &n);
        if (memcmp(at, src, n) != 0)
            return false;
        off += (uint32_t)n, src += n, len -= n;
    }
    return true;
}

/* ---- The datagram table ------------------------------------------------------ */

static void dgram_free(struct frag_state *fs, struct reasm *d)
{
    blocks_release(fs, d);
    d->used = false;
    fs->in_use--;
}

static struct reasm *dgram_find(struct frag_state *fs, const struct ip4_rx *rx, uint16_t id)
{
    for (unsigned i = 0; i < fs->max_dgrams; i++) {
        struct reasm *d = &fs->dgram[i];
        if (d->used && d->id == id && d->src == rx->src && d->dst == rx->dst &&
            d->proto == rx->proto)
            return d;
    }
    return NULL;
}

/* The incomplete datagram that started longest ago, other than `keep`. */
static struct reasm *dgram_oldest(struct frag_state *fs, const struct reasm *keep)
{
    struct reasm *oldest = NULL;
    for (unsigned i = 0; i < fs->max_dgrams; i++) {
        struct reasm *d = &fs->dgram[i];
        if (d->used && d != keep && (!oldest || d->created < oldest->created))
            oldest = d;
    }
    return oldest;
}

static void evict(struct ustack *st, struct reasm *d)
{
    STAT_INC(st, ip_reasm_evicted);
    dgram_free(st->frag, d);
}

static struct reasm *dgram_new(struct ustack *st, const struct ip4_rx *rx, uint16_t id)
{
    struct frag_state *fs = st->frag;
    if (fs->in_use == fs->max_dgrams)
        evict(st, dgram_oldest(fs, NULL));
    struct reasm *d = fs->dgram;
    while (d->used)
        d++;
    memset(d, 0, sizeof(*d));
    d->used = true;
    d->id = id;
    d->src = rx->src;
    d->dst = rx->dst;
    d->proto = rx->proto;
    d->dst_broadcast = rx->dst_broadcast;
    d->created = st->now;
    d->deadline = st->now + (uint64_t)st->cfg.reasm.timeout_ms * 1000;
    if (d->deadline < fs->next_deadline)
        fs->next_deadline = d->deadline;
    fs->in_use++;
    return d;
}

/* Make sure `need` blocks are free, dropping the oldest other datagrams if
 * necessary. False if even all of the memory is not enough. */
static bool make_room(struct ustack *st, const struct reasm *keep, unsigned need)
{
    struct frag_state *fs = st->frag;
    unsigned held = 0;
    for (unsigned b = 0; b < BLOCKS_PER_DGRAM; b++)
        held += keep->block[b] != 0;
    if (held + need > fs->nblocks)
        return false; /* evicting everyone else would not be enough */
    while (fs->nfree < need) {
        struct reasm *victim = dgram_oldest(fs, keep);
        if (!victim)
            return false;
        evict(st, victim);
    }
    return true;
}

/* ---- One fragment ---------------------------------------------------------- */

enum verdict { PLACE, DUPLICATE, OVERLAP };

/* Does p fit what d holds: nothing of it there yet (PLACE), an exact copy
 * of one fragment held (DUPLICATE), or any other overlap or disagreement
 * about the end of the datagram (OVERLAP)? */
static enum verdict judge(const struct frag_state *fs, const struct reasm *d,
                          const struct piece *p)
{
    unsigned first = unit_first(p->start), last = unit_last(p->end);
    unsigned covered = bits_count(d->covered, first, last);
    if (covered == last - first) {
        /* Fragments never overlap, so the ones inside [first, last) tile
         * it; a fragment began at `first`, none began inside, and one
         * ended at `last`: then that one fragment is exactly p's range. */
        bool one_fragment = bit_test(d->starts, first) && bit_test(d->ends, last) &&
                            bits_count(d->starts, first + 1, last) == 0;
        bool same_end = p->more ? !(d->have_last && p->end == d->total)
                                : d->have_last && p->end == d->total;
        if (one_fragment && same_end &&
            same_bytes(fs, d, p->start, p->data, p->end - p->start))
            return DUPLICATE;
        return OVERLAP;
    }
    if (covered)
        return OVERLAP;
    if (!p->more && ((d->have_last && d->total != p->end) || d->max_end > p->end))
        return OVERLAP; /* a second, different end; or data past it */
    if (p->more && d->have_last && p->end >= d->total)
        return OVERLAP; /* more to follow past the end */
    return PLACE;
}

static void place(struct frag_state *fs, struct reasm *d, const struct piece *p,
                  const struct ip4_rx *rx)
{
    blocks_take(fs, d, p->start, p->end);
    copy_in(fs, d, p->start, p->data, p->end - p->start);
    unsigned first = unit_first(p->start), last = unit_last(p->end);
    bits_set(d->covered, first, last);
    bits_set(d->starts, first, first + 1);
    bits_set(d->ends, last, last + 1);
    d->received += p->end - p->start;
    if (p->end > d->max_end)
        d->max_end = p->end;
    if (!p->more) {
        d->have_last = true;
        d->total = p->end;
    }
    if (p->start == 0) {
        /* RFC 791 §3.2: the reassembled header is fragment zero's. */
        d->have_first = true;
        d->hdr_len = (uint8_t)rx->hdr_len;
        memcpy(d->hdr, rx->hdr, rx->hdr_len);
        d->first_len = p->end;
    }
}

/* Copy the complete datagram out, free its descriptor, deliver it. */
static void deliver(struct ustack *st, struct reasm *d)
{
    struct frag_state *fs = st->frag;
    uint8_t *w = fs->whole;
    size_t hl = d->hdr_len;
    memcpy(w, d->hdr, hl);
    copy_out(fs, d, w + hl, 0, d->total);
    /* The header now describes the whole datagram, not fragment zero. */
    put_be16(w + IP4_OFF_TOTAL_LEN, (uint16_t)(hl + d->total));
    put_be16(w + IP4_OFF_FRAG, 0);
    put_be16(w + IP4_OFF_CHECKSUM, 0);
    put_be16(w + IP4_OFF_CHECKSUM, cksum_finish(cksum_add(0, w, hl)));
    struct ip4_rx rx = {
        .src = d->src, .dst = d->dst, .proto = d->proto,
        .ttl = w[IP4_OFF_TTL], .tos = w[IP4_OFF_TOS],
        .dst_broadcast = d->dst_broadcast,
        .hdr = w, .hdr_len = hl, .payload = w + hl, .payload_len = d->total,
        .frag = 0,
    };
    dgram_free(fs, d);
    STAT_INC(st, ip_reasm_ok);
    ip4_deliver(st, &rx);
}

/* The fragment's own sanity, before any datagram is looked at. */
static bool piece_from(struct ustack *st, const struct ip4_rx *rx, struct piece *p)
{
    p->start = (uint32_t)(rx->frag & IP4_FRAG_OFFSET) * 8;
    p->end = p->start + (uint32_t)rx->payload_len;
    p->more = (rx->frag & IP4_FRAG_MF) != 0;
    p->data = rx->payload;
    /* RFC 791 §3.2: every fragment but the last carries a multiple of 8
     * data bytes. An empty fragment adds nothing and is only ever junk. */
    if (rx->payload_len == 0 || (p->more && rx->payload_len % 8)) {
        STAT_INC(st, ip_reasm_bad_fragment);
        return false;
    }
    return true;
}

/* Would d (with p) exceed the largest datagram we accept? The header is
 * fragment zero's; until it arrives, assume one without options. */
static bool too_big(const struct ustack *st, const struct reasm *d, const struct piece *p,
                    const struct ip4_rx *rx)
{
    size_t hl = IPV4_HDR_MIN;
    if (p->start == 0)
        hl = rx->hdr_len;
    else if (d && d->have_first)
        hl = d->hdr_len;
    size_t end = p->end;
    if (d && d->max_end > end)
        end = d->max_end;
    return hl + end > st->cfg.reasm.max_size;
}

static void drop_datagram(struct ustack *st, struct reasm *d)
{
    if (d)
        dgram_free(st->frag, d);
}

void frag_input(struct ustack *st, const struct ip4_rx *rx)
{
    struct frag_state *fs = st->frag;
    uint16_t id = get_be16(rx->hdr + IP4_OFF_ID);
    struct piece p;
    STAT_INC(st, ip_frag_rx);
    if (!piece_from(st, rx, &p))
        return;
    struct reasm *d = dgram_find(fs, rx, id);
    if (too_big(st, d, &p, rx)) {
        STAT_INC(st, ip_reasm_too_big);
        drop_datagram(st, d);
        return;
    }
    if (!d)
        d = dgram_new(st, rx, id);
    switch (judge(fs, d, &p)) {
    case DUPLICATE:
        STAT_INC(st, ip_reasm_duplicate);
        return;
    case OVERLAP:
        STAT_INC(st, ip_reasm_overlap);
        drop_datagram(st, d);
        return;
    case PLACE:
        break;
    }
    if (!make_room(st, d, blocks_missing(d, p.start, p.end))) {
        STAT_INC(st, ip_reasm_no_memory);
        drop_datagram(st, d);
        return;
    }
    place(fs, d, &p, rx);
    if (d->have_first && d->have_last && d->received == d->total)
        deliver(st, d);
}

/* ---- Time --------------------------------------------------------------------- */

/* RFC 1122 §3.3.2: tell the sender with an ICMP time exceeded (code 1),
 * quoting fragment zero's header and the start of its data. */
static void send_time_exceeded(struct ustack *st, const struct reasm *d)
{
    uint8_t quote[IPV4_HDR_MAX + 576];
    size_t hl = d->hdr_len;
    size_t n = d->first_len < sizeof(quote) - hl ? d->first_len : sizeof(quote) - hl;
    memcpy(quote, d->hdr, hl);
    copy_out(st->frag, d, quote + hl, 0, n);
    struct ip4_rx rx = {
        .src = d->src, .dst = d->dst, .proto = d->proto,
        .ttl = quote[IP4_OFF_TTL], .tos = quote[IP4_OFF_TOS],
        .dst_broadcast = d->dst_broadcast,
        .hdr = quote, .hdr_len = hl, .payload = quote + hl, .payload_len = n,
        .frag = get_be16(quote + IP4_OFF_FRAG),
    };
    icmp4_send_error(st, &rx, ICMP_TIME_EXCEEDED, ICMP_TIMXCEED_REASSEMBLY, 0);
}

uint64_t frag_timer(struct ustack *st, uint64_t now)
{
    struct frag_state *fs = st->frag;
    if (!fs || now < fs->next_deadline)
        return fs ? fs->next_deadline : USTACK_NEVER;
    uint64_t next = USTACK_NEVER;
    for (unsigned i = 0; i < fs->max_dgrams; i++) {
        struct reasm *d = &fs->dgram[i];
        if (!d->used)
            continue;
        if (d->deadline <= now) {
            STAT_INC(st, ip_reasm_timeout);
            if (d->have_first)
                send_time_exceeded(st, d);
            dgram_free(fs, d);
        } else if (d->deadline < next) {
            next = d->deadline;
        }
    }
    fs->next_deadline = next;
    return next;
}
