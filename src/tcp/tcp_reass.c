/*
 * The reassembly queue: text that arrives past RCV.NXT, after a gap, is
 * held until the gap fills (RFC 9293 §3.10.7.4, seventh step: such
 * segments "should be held for later processing", SHLD-31).
 *
 * Holding costs no buffer of its own. Everything we accept lies inside
 * the window we advertised, and that window is free space of the receive
 * ring, so out-of-order text is written straight to its final place past
 * the readable bytes (ringbuf_write_at). The queue only records which
 * sequence ranges past RCV.NXT are filled: [start, end) ranges, sorted,
 * never overlapping or touching, TCP_REASS_RANGES of them in the TCB and,
 * with a receive buffer larger than the default, up to one per
 * TCP_REASS_BYTES_PER_RANGE of it in storage that grows when needed. When text
 * reaches the first range, that range becomes readable at once
 * (ringbuf_commit). A FIN that arrived early is remembered by its place.
 *
 * The ranges are also what our SACK blocks report (RFC 2018 §4): each
 * remembers when a segment last went into it, so the block holding the
 * latest arrival can go first and the others follow from the most
 * recently changed on.
 */
#include "tcp/tcp_int.h"

#include <stdlib.h>
#include <string.h>

/* The ranges in use: inline, or the connection's own storage. */
static struct tcp_reass_range *ranges(struct tcp_reass *q)
{
    return q->more ? q->more : q->inline_range;
}

static const struct tcp_reass_range *const_ranges(const struct tcp_reass *q)
{
    return q->more ? q->more : q->inline_range;
}

static unsigned capacity(const struct tcp_reass *q)
{
    return q->more ? q->cap : TCP_REASS_RANGES;
}

/* Make room for one range more, within the bound SO_RCVBUF sets
 * (TCP_REASS_BYTES_PER_RANGE): twice the storage, the ranges copied
 * over. Rare: a few times in a connection's life at most. False when the
 * bound is reached or memory is short. */
static bool grow(struct tcp_conn *c)
{
    struct tcp_reass *q = &c->reass;
    unsigned limit = c->rcvbuf_size / TCP_REASS_BYTES_PER_RANGE;
    unsigned cap = capacity(q);
    if (cap >= limit)
        return false;
    unsigned next = cap * 2 < limit ? cap * 2 : limit;
    struct tcp_reass_range *r = malloc(next * sizeof(*r));
    if (!r)
        return false;
    memcpy(r, ranges(q), q->count * sizeof(*r));
    free(q->more);
    q->more = r;
    q->cap = next;
    return true;
}

void tcp_reass_release(struct tcp_conn *c)
{
    struct tcp_reass *q = &c->reass;
    free(q->more);
    q->more = NULL;
    q->cap = 0;
    q->count = 0;
    q->fin = false;
}

static void remove_range(struct tcp_reass *q, unsigned i)
{
    struct tcp_reass_range *r = ranges(q);
    memmove(&r[i], &r[i + 1], (q->count - i - 1) * sizeof(*r));
    q->count--;
}

/* Add [start, end), merging it with every range it overlaps or touches.
 * False when that needs one range more than the queue may have. */
static bool insert_range(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    struct tcp_reass *q = &c->reass;
    struct tcp_reass_range *r = ranges(q);
    unsigned i = 0;
    while (i < q->count && seq_lt(r[i].end, start))
        i++;
    while (i < q->count && seq_leq(r[i].start, end)) {
        start = seq_min(start, r[i].start);
        end = seq_max(end, r[i].end);
        remove_range(q, i);
    }
    if (q->count == capacity(q)) {
        if (!grow(c))
            return false;
        r = ranges(q);
    }
    memmove(&r[i + 1], &r[i], (q->count - i) * sizeof(*r));
    r[i].start = start;
    r[i].end = end;
    r[i].stamp = ++q->clock;
    q->count++;
    return true;
}

bool tcp_reass_hold(struct tcp_conn *c, const struct tcp_seg *seg)
{
    uint32_t offset = seg->seq - c->rcv.nxt;
    uint32_t end = seg->seq + seg->data_len;
    /* The first step trimmed the text to the window, which is free ring
     * space: it fits, unless the ring's storage could not grow (out of
     * memory); then nothing is recorded and the peer sends it again. */
    if (ringbuf_write_at(&c->rcvbuf, offset, seg->data, seg->data_len) < seg->data_len)
        return false;
    if (!insert_range(c, seg->seq, end))
        return false; /* stays unrecorded: the peer will send it again */
    if (seg->flags & TCP_FIN) {
        c->reass.fin = true;
        c->reass.fin_seq = end;
    }
    return true;
}

uint32_t tcp_reass_pull(struct tcp_conn *c)
{
    struct tcp_reass *q = &c->reass;
    const struct tcp_reass_range *r = ranges(q);
    uint32_t n = 0;
    unsigned done = 0;
    while (done < q->count && seq_leq(r[done].start, c->rcv.nxt + n)) {
        if (seq_gt(r[done].end, c->rcv.nxt + n))
            n = r[done].end - c->rcv.nxt;
        done++;
    }
    if (done) {
        memmove(ranges(q), &r[done], (q->count - done) * sizeof(*r));
        q->count -= done;
    }
    ringbuf_commit(&c->rcvbuf, n);
    return n;
}

bool tcp_reass_fin_reached(struct tcp_conn *c)
{
    if (!c->reass.fin || c->reass.fin_seq != c->rcv.nxt)
        return false;
    c->reass.fin = false;
    return true;
}

/* RFC 2018 §4: "The first SACK block ... MUST specify the contiguous block
 * of data containing the segment which triggered this ACK", and the rest
 * repeat the most recently reported ones, so that each range is reported
 * in several ACKs in a row and a lost ACK costs nothing. Newest first by
 * stamp does both: the range the latest segment joined has the highest
 * stamp (when that segment filled the hole at RCV.NXT, its range is gone
 * and the next newest leads). Since every ACK reports the newest ones,
 * newest by stamp is also most recently reported first. Stamps differ
 * from range to range, so block n is the newest range older than block
 * n - 1: at most 4 passes over the ranges, cheap enough. */
unsigned tcp_reass_sack_blocks(const struct tcp_conn *c, uint32_t blocks[][2],
                               unsigned max)
{
    const struct tcp_reass *q = &c->reass;
    const struct tcp_reass_range *r = const_ranges(q);
    uint32_t blocks_stamp = 0;
    unsigned n = 0;
    for (; n < max && n < q->count; n++) {
        /* The newest range older than the previous block's. */
        unsigned best = q->count;
        for (unsigned i = 0; i < q->count; i++)
            if ((n == 0 || seq_lt(r[i].stamp, blocks_stamp)) &&
                (best == q->count || seq_gt(r[i].stamp, r[best].stamp)))
                best = i;
        blocks_stamp = r[best].stamp;
        blocks[n][0] = r[best].start;
        blocks[n][1] = r[best].end;
    }
    return n;
}

/* ---- When the ACK for held text may wait ---------------------------------------- */

void tcp_reass_ack_sent(struct tcp_conn *c)
{
    struct tcp_reass *q = &c->reass;
    q->acked_clock = q->clock;
    if (q->count == 0 || q->dupack_nxt != c->rcv.nxt) {
        q->dupack_nxt = c->rcv.nxt;
        q->dupacks = 0;
    }
    if (q->count > 0 && q->dupacks < UINT8_MAX)
        q->dupacks++;
}

/* Ranges a segment went into since our last ACK: the news the next ACK
 * must carry. */
static unsigned ranges_changed(const struct tcp_reass *q)
{
    const struct tcp_reass_range *r = const_ranges(q);
    unsigned n = 0;
    for (unsigned i = 0; i < q->count; i++)
        if (seq_gt(r[i].stamp, q->acked_clock))
            n++;
    return n;
}

/* RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate duplicate ACK
 * when an out-of-order segment arrives", so that the sender can count
 * DupThresh of them (§3.2) and learn, from the SACK blocks, each arrival
 * (RFC 2018 §4). Within an input batch (tcp_batch.c) the frames were all
 * queued before we read the first, and an ACK per segment costs a write()
 * each, in which the sender's TCP runs on our core, and makes the sender
 * send one segment per ACK. So, with SACK, only the first DupThresh ACKs at
 * one RCV.NXT go at once; after them an ACK waits for the end of the
 * batch, unless the ranges changed since the last ACK fill every block an
 * ACK has room for: one more would push news off the ACK (the blocks go
 * newest first), so it goes now. Every arrival is still reported, within
 * the batch. Linux compresses SACKs the same way (tcp_comp_sack_nr).
 * Without SACK the sender's only signal is the count: never wait. */
bool tcp_reass_ack_may_wait(const struct tcp_conn *c)
{
    const struct tcp_reass *q = &c->reass;
    if (!c->opt.sack)
        return false;
    if (q->dupack_nxt != c->rcv.nxt || q->dupacks < TCP_DUPTHRESH)
        return false;
    return ranges_changed(q) < tcp_sack_room(c);
}
