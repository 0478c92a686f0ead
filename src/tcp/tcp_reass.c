/*
 * The reassembly queue: text that arrives past RCV.NXT, after a gap, is
 * held until the gap fills (RFC 9293 §3.10.7.4, seventh step: such
 * segments "should be held for later processing", SHLD-31).
 *
 * Holding costs no memory of its own. Everything we accept lies inside
 * the window we advertised, and that window is free space of the receive
 * ring, so out-of-order text is written straight to its final place past
 * the readable bytes (ringbuf_write_at). The queue only records which
 * sequence ranges past RCV.NXT are filled: at most TCP_REASS_RANGES
 * [start, end) ranges, sorted, never overlapping or touching. When text
 * reaches the first range, that range becomes readable at once
 * (ringbuf_commit). A FIN that arrived early is remembered by its place.
 *
 * The ranges are also what our SACK blocks report (RFC 2018 §4): each
 * remembers when a segment last went into it, so the block holding the
 * latest arrival can go first and the others follow from the most
 * recently changed on.
 */
#include "tcp/tcp_int.h"

static void remove_range(struct tcp_reass *q, unsigned i)
{
    for (unsigned k = i + 1; k < q->count; k++)
        q->range[k - 1] = q->range[k];
    q->count--;
}

/* Add [start, end), merging it with every range it overlaps or touches.
 * False when that needs one range more than the queue has. */
static bool insert_range(struct tcp_reass *q, uint32_t start, uint32_t end)
{
    unsigned i = 0;
    while (i < q->count && seq_lt(q->range[i].end, start))
        i++;
    while (i < q->count && seq_leq(q->range[i].start, end)) {
        start = seq_min(start, q->range[i].start);
        end = seq_max(end, q->range[i].end);
        remove_range(q, i);
    }
    if (q->count == TCP_REASS_RANGES)
        return false;
    for (unsigned k = q->count; k > i; k--)
        q->range[k] = q->range[k - 1];
    q->range[i].start = start;
    q->range[i].end = end;
    q->range[i].stamp = ++q->clock;
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
    if (!insert_range(&c->reass, seg->seq, end))
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
    uint32_t n = 0;
    while (q->count && seq_leq(q->range[0].start, c->rcv.nxt + n)) {
        if (seq_gt(q->range[0].end, c->rcv.nxt + n))
            n = q->range[0].end - c->rcv.nxt;
        remove_range(q, 0);
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
 * newest by stamp is also most recently reported first. At most 4 blocks
 * out of TCP_REASS_RANGES (32) ranges: a simple selection, 128 looks, is
 * cheap enough. */
unsigned tcp_reass_sack_blocks(const struct tcp_conn *c, uint32_t blocks[][2],
                               unsigned max)
{
    const struct tcp_reass *q = &c->reass;
    bool taken[TCP_REASS_RANGES] = {false};
    unsigned n = 0;
    for (; n < max && n < q->count; n++) {
        unsigned best = TCP_REASS_RANGES;
        for (unsigned i = 0; i < q->count; i++)
            if (!taken[i] && (best == TCP_REASS_RANGES ||
                              seq_gt(q->range[i].stamp, q->range[best].stamp)))
                best = i;
        taken[best] = true;
        blocks[n][0] = q->range[best].start;
        blocks[n][1] = q->range[best].end;
    }
    return n;
}
