/*
 * The SACK scoreboard and SACK-based loss recovery (RFC 6675); see
 * tcp_sack.h for the variables and the bounds.
 *
 * The scoreboard is a short sorted array of SACKed ranges. Everything
 * RFC 6675 asks of it works hole by hole rather than octet by octet: the
 * SACKed bytes above any octet of a hole are the same for the whole hole,
 * so IsLost() has one answer per hole, and SetPipe() adds whole holes.
 */
#include "tcp/tcp_int.h"

#include <string.h>

#define BOARD_SIZE(b) ((unsigned)(b)->count)

void tcp_sack_clear(struct tcp_conn *c)
{
    c->sacked.count = 0;
    c->sacked.bytes = 0;
}

static void recount(struct tcp_sack_board *b)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < BOARD_SIZE(b); i++)
        n += b->range[i].end - b->range[i].start;
    b->bytes = n;
}

/* SND.UNA moved: what it covers is acknowledged, not merely SACKed. */
static void forget_acked(struct tcp_conn *c)
{
    struct tcp_sack_board *b = &c->sacked;
    unsigned keep = 0;
    for (unsigned i = 0; i < BOARD_SIZE(b); i++) {
        uint32_t start = b->range[i].start, end = b->range[i].end;
        if (seq_leq(end, c->snd.una))
            continue;
        b->range[keep].start = seq_max(start, c->snd.una);
        b->range[keep].end = end;
        keep++;
    }
    b->count = (uint8_t)keep;
}

/* Add [start, end), merging with every range it touches. False when the
 * board is full and the block is above every range (it is forgotten);
 * a full board with a lower block forgets its highest range instead. */
static bool board_insert(struct tcp_sack_board *b, uint32_t start, uint32_t end)
{
    unsigned n = BOARD_SIZE(b), i = 0;
    while (i < n && seq_lt(b->range[i].end, start))
        i++;
    unsigned j = i;
    while (j < n && seq_leq(b->range[j].start, end)) {
        start = seq_min(start, b->range[j].start);
        end = seq_max(end, b->range[j].end);
        j++;
    }
    if (j > i) { /* ranges i .. j-1 become one */
        b->range[i].start = start;
        b->range[i].end = end;
        memmove(&b->range[i + 1], &b->range[j], (n - j) * sizeof(b->range[0]));
        b->count = (uint8_t)(n - (j - i - 1));
        return true;
    }
    bool dropped = false;
    if (n == TCP_SACK_RANGES) {
        if (i == n)
            return false;
        n--; /* forget the highest range */
        dropped = true;
    }
    memmove(&b->range[i + 1], &b->range[i], (n - i) * sizeof(b->range[0]));
    b->range[i].start = start;
    b->range[i].end = end;
    b->count = (uint8_t)(n + 1);
    return !dropped;
}

/* How many bytes of [start, end) the board holds already. */
static uint32_t known_within(const struct tcp_sack_board *b, uint32_t start,
                             uint32_t end)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < BOARD_SIZE(b); i++) {
        uint32_t s = seq_max(start, b->range[i].start), e = seq_min(end, b->range[i].end);
        if (seq_lt(s, e))
            n += e - s;
    }
    return n;
}

uint32_t tcp_sack_update(struct ustack *st, struct tcp_conn *c,
                         const struct tcp_seg *seg)
{
    struct tcp_sack_board *b = &c->sacked;
    uint32_t fresh = 0;
    forget_acked(c);
    unsigned blocks = seg->opts.sack_count;
    if (blocks > TCP_SACK_MAX_BLOCKS)
        blocks = TCP_SACK_MAX_BLOCKS;
    for (unsigned k = 0; k < blocks; k++) {
        uint32_t start = seg->opts.sack[k].start, end = seg->opts.sack[k].end;
        /* Input validated the blocks against SND.UNA..SND.NXT when the
         * segment arrived; SND.UNA may have moved since. */
        if (!seq_lt(start, end) || seq_gt(end, c->snd.nxt) ||
            !seq_gt(end, c->snd.una))
            continue;
        start = seq_max(start, c->snd.una);
        fresh += end - start - known_within(b, start, end);
        if (!board_insert(b, start, end))
            STAT_INC(st, tcp_sack_board_full);
    }
    recount(b);
    return fresh;
}

bool tcp_sack_is_lost(const struct tcp_conn *c, uint32_t seq)
{
    const struct tcp_sack_board *b = &c->sacked;
    unsigned ranges = 0;
    uint32_t bytes = 0;
    for (unsigned i = 0; i < BOARD_SIZE(b); i++) {
        if (!seq_gt(b->range[i].end, seq + 1))
            continue;
        ranges++;
        bytes += b->range[i].end - seq_max(b->range[i].start, seq + 1);
    }
    return ranges >= TCP_DUPTHRESH ||
           bytes > (uint32_t)(TCP_DUPTHRESH - 1) * c->snd_mss;
}

uint32_t tcp_sack_bytes_below(const struct tcp_conn *c, uint32_t seq)
{
    const struct tcp_sack_board *b = &c->sacked;
    uint32_t n = 0;
    for (unsigned i = 0; i < BOARD_SIZE(b) && seq_lt(b->range[i].start, seq); i++)
        n += seq_min(b->range[i].end, seq) - b->range[i].start;
    return n;
}

uint32_t tcp_sack_skip(const struct tcp_conn *c, uint32_t seq)
{
    const struct tcp_sack_board *b = &c->sacked;
    for (unsigned i = 0; i < BOARD_SIZE(b); i++)
        if (seq_in_range(seq, b->range[i].start, b->range[i].end))
            return b->range[i].end;
    return seq;
}

uint32_t tcp_sack_next_sacked(const struct tcp_conn *c, uint32_t seq,
                              uint32_t limit)
{
    const struct tcp_sack_board *b = &c->sacked;
    for (unsigned i = 0; i < BOARD_SIZE(b); i++)
        if (seq_gt(b->range[i].start, seq))
            return seq_lt(b->range[i].start, limit) ? b->range[i].start : limit;
    return limit;
}

/* ---- Recovery --------------------------------------------------------------- */

/* SetPipe()'s count for the hole [start, end): "(a) If IsLost (S1)
 * returns false: Pipe is incremented by 1 octet. (b) If S1 <= HighRxt:
 * Pipe is incremented by 1 octet." */
static uint32_t hole_pipe(const struct tcp_conn *c, uint32_t start, uint32_t end)
{
    uint32_t n = tcp_sack_is_lost(c, start) ? 0 : end - start;
    if (seq_lt(start, c->rec.rxt_high))
        n += seq_min(end, c->rec.rxt_high) - start;
    return n;
}

uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
    const struct tcp_sack_board *b = &c->sacked;
    uint32_t pipe = 0, pos = c->snd.una;
    for (unsigned i = 0; i <= BOARD_SIZE(b); i++) {
        uint32_t next = i < BOARD_SIZE(b) ? b->range[i].start : c->snd.nxt;
        if (seq_lt(pos, next))
            pipe += hole_pipe(c, pos, next);
        if (i < BOARD_SIZE(b))
            pos = seq_max(pos, b->range[i].end);
    }
    return pipe;
}

bool tcp_sack_recovering(const struct tcp_conn *c)
{
    return c->rec.active && c->rec.fast && c->rec.sack;
}

/* Retransmit up to one segment of the hole from seq to hole_end; HighRxt
 * moves past it (RFC 6675 §5 (C.2)). False when nothing could go. */
static bool retransmit_hole(struct ustack *st, struct tcp_conn *c, uint32_t seq,
                            uint32_t hole_end)
{
    uint32_t len = hole_end - seq;
    uint32_t sent = tcp_retransmit_range(st, c, seq, len < c->snd_mss ? len : c->snd_mss);
    if (!sent)
        return false;
    c->rec.rxt_high = seq_max(c->rec.rxt_high, seq + sent);
    return true;
}

void tcp_sack_enter_recovery(struct ustack *st, struct tcp_conn *c)
{
    /* (4.3) "Retransmit the first data segment presumed dropped -- the
     * segment starting with sequence number HighACK + 1. To prevent
     * repeated retransmission of the same data or a premature rescue
     * retransmission, set both HighRxt and RescueRxt to the highest
     * sequence number in the retransmitted segment." */
    uint32_t seq = tcp_sack_skip(c, c->snd.una);
    c->rec.rxt_high = seq;
    retransmit_hole(st, c, seq, tcp_sack_next_sacked(c, seq, c->snd.nxt));
    c->rec.rescue_rxt = c->rec.rxt_high;
    c->rec.rescue_set = true;
}

/* NextSeg() rules (1) and (3): the first unSACKed octet S past HighRxt
 * and below the highest SACKed octet, (1) only if IsLost(S). A hole's
 * answer to IsLost holds for every hole above it too: fewer SACKed bytes
 * lie above those. */
static bool find_hole(const struct tcp_conn *c, bool lost_only, uint32_t *seq,
                      uint32_t *hole_end)
{
    const struct tcp_sack_board *b = &c->sacked;
    uint32_t pos = c->snd.una;
    for (unsigned i = 0; i < BOARD_SIZE(b); i++) {
        uint32_t start = seq_max(pos, c->rec.rxt_high), end = b->range[i].start;
        pos = seq_max(pos, b->range[i].end);
        if (!seq_lt(start, end))
            continue;
        if (lost_only && !tcp_sack_is_lost(c, start))
            return false;
        *seq = start;
        *hole_end = end;
        return true;
    }
    return false;
}

/* NextSeg() rule (4), the rescue retransmission: "If HighACK > RescueRxt
 * (or RescueRxt is undefined), then one segment of upto SMSS octets that
 * MUST include the highest outstanding unSACKed sequence number SHOULD be
 * returned, and RescueRxt set to RecoveryPoint. HighRxt MUST NOT be
 * updated." It guards against a lost tail, whose holes nothing above
 * would ever reveal. */
static bool rescue(struct ustack *st, struct tcp_conn *c)
{
    const struct tcp_sack_board *b = &c->sacked;
    if (c->rec.rescue_set && !seq_gt(c->snd.una, c->rec.rescue_rxt))
        return false;
    uint32_t top = c->snd.nxt, floor = c->snd.una;
    unsigned n = BOARD_SIZE(b);
    if (n && b->range[n - 1].end == top) { /* the tail is SACKed */
        top = b->range[n - 1].start;
        n--;
    }
    if (n)
        floor = seq_max(floor, b->range[n - 1].end);
    if (!seq_lt(floor, top))
        return false;
    uint32_t start = top - floor > c->snd_mss ? top - c->snd_mss : floor;
    if (!tcp_retransmit_range(st, c, start, top - start))
        return false;
    c->rec.rescue_rxt = c->rec.recover;
    c->rec.rescue_set = true;
    STAT_INC(st, tcp_sack_rescue_retransmits);
    return true;
}

/* One NextSeg() and its transmission. False when nothing went. */
static bool send_next_seg(struct ustack *st, struct tcp_conn *c)
{
    uint32_t seq, hole_end;
    if (find_hole(c, true, &seq, &hole_end)) { /* (1) */
        if (!retransmit_hole(st, c, seq, hole_end))
            return false;
        STAT_INC(st, tcp_sack_retransmits);
        return true;
    }
    if (tcp_output_one(st, c)) /* (2) new data */
        return true;
    if (find_hole(c, false, &seq, &hole_end)) { /* (3) */
        if (!retransmit_hole(st, c, seq, hole_end))
            return false;
        STAT_INC(st, tcp_sack_retransmits);
        return true;
    }
    return rescue(st, c); /* (4) */
}

void tcp_sack_output(struct ustack *st, struct tcp_conn *c)
{
    /* (C) "If cwnd - pipe >= 1 SMSS, the sender SHOULD transmit one or
     * more segments", (C.5) again while that holds. Every transmission
     * raises pipe, so this ends; the bound is a guard. */
    for (unsigned guard = 0; guard < 4096; guard++) {
        if (tcp_cc_send_room(c) < c->snd_mss || !send_next_seg(st, c))
            return;
    }
}
