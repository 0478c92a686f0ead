/*
 * TCP options (RFC 9293 §3.1, §3.2): the MSS, window scaling and
 * timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018).
 *
 * The options area is a list of kind-length-value entries, except the two
 * single-byte kinds End of Option List (0) and No-Operation (1). Every
 * option we do not know is skipped by its length (MUST-64). A list whose
 * length bytes do not add up (length 0 or 1, or running past the header)
 * cannot be walked further: we stop there, keep what was read before, and
 * let the caller count it (MUST-7 asks us to be ready for exactly this).
 *
 * Besides parsing and writing, this file owns what the options decide for
 * a connection (c->opt): which were agreed in the SYN exchange, the
 * timestamp clock, TS.Recent and PAWS, the RTT samples timestamps give,
 * and the checks on SACK blocks a peer sends. Each option is used only
 * when both SYNs carried it; an option that means nothing in a segment
 * (window scale outside a SYN, timestamps never agreed) is ignored.
 */
#include "tcp/tcp_int.h"

#include "core/bytes.h"
#include "tcp/tcp_hash.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2            /* RFC 9293 §3.2, length 4 */
#define OPT_MSS_LEN 4
#define OPT_WSCALE 3         /* RFC 7323 §2.2, length 3 */
#define OPT_WSCALE_LEN 3
#define OPT_SACK_PERM 4      /* RFC 2018 §2, length 2 */
#define OPT_SACK_PERM_LEN 2
#define OPT_SACK 5           /* RFC 2018 §3, length 2 + 8 per block */
#define OPT_SACK_BLOCK_LEN 8
#define OPT_TS 8             /* RFC 7323 §3.2, length 10 */
#define OPT_TS_LEN 10

/* SACK blocks: each a pair of 32-bit sequence numbers, 1 to 4 of them
 * (4 fill the whole 40-byte option space with the kind and length). */
static void parse_sack(const uint8_t *val, size_t len, struct tcp_opts *out)
{
    size_t n = len / OPT_SACK_BLOCK_LEN;
    if (len % OPT_SACK_BLOCK_LEN || n == 0 || n > TCP_SACK_MAX_BLOCKS)
        return;
    for (size_t i = 0; i < n; i++) {
        out->sack[i].start = get_be32(val + i * OPT_SACK_BLOCK_LEN);
        out->sack[i].end = get_be32(val + i * OPT_SACK_BLOCK_LEN + 4);
    }
    out->sack_count = (uint8_t)n;
}

/* One option with a length field: apply it if we know it. A known option
 * with the wrong length is ignored, like an unknown one. Whether an
 * option means anything in this segment (window scale and SACK-permitted
 * only in a SYN, the others only once negotiated) is for input to say. */
static void apply_option(uint8_t kind, const uint8_t *val, size_t len,
                         struct tcp_opts *out)
{
    switch (kind) {
    case OPT_MSS:
        if (len == OPT_MSS_LEN - 2) {
            out->has_mss = true;
            out->mss = get_be16(val);
        }
        break;
    case OPT_WSCALE:
        if (len == OPT_WSCALE_LEN - 2) {
            out->has_wscale = true;
            out->wscale = val[0];
        }
        break;
    case OPT_SACK_PERM:
        if (len == OPT_SACK_PERM_LEN - 2)
            out->sack_permitted = true;
        break;
    case OPT_SACK:
        parse_sack(val, len, out);
        break;
    case OPT_TS:
        if (len == OPT_TS_LEN - 2) {
            out->has_ts = true;
            out->tsval = get_be32(val);
            out->tsecr = get_be32(val + 4);
        }
        break;
    default:
        break; /* unknown: skipped (MUST-64) */
    }
}

bool tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *out)
{
    size_t i = 0;
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == OPT_EOL)
            return true;
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        /* Every other kind has a length byte counting kind and length. */
        if (i + 1 >= len)
            return false;
        uint8_t olen = p[i + 1];
        if (olen < 2 || olen > len - i)
            return false;
        apply_option(kind, p + i + 2, (size_t)olen - 2, out);
        i += olen;
    }
    return true;
}

/* ---- Writing ----------------------------------------------------------- */

static uint8_t *put_nops(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *p++ = OPT_NOP;
    return p;
}

static uint8_t *put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
    p[0] = OPT_TS;
    p[1] = OPT_TS_LEN;
    put_be32(p + 2, tsval);
    put_be32(p + 6, tsecr);
    return p + OPT_TS_LEN;
}

/* The layout every major stack uses, so middleboxes that look at option
 * bytes see nothing unusual: MSS, then SACK-permitted in the two bytes
 * that would otherwise pad the timestamps, then NOP + window scale
 * (4 + 12 + 4 = 20 bytes with everything). */
size_t tcp_write_syn_options(uint8_t *p, const struct tcp_syn_options *o)
{
    uint8_t *start = p;
    p[0] = OPT_MSS;
    p[1] = OPT_MSS_LEN;
    put_be16(p + 2, o->mss);
    p += OPT_MSS_LEN;
    if (o->ts) {
        if (o->sack) {
            p[0] = OPT_SACK_PERM;
            p[1] = OPT_SACK_PERM_LEN;
            p += OPT_SACK_PERM_LEN;
        } else {
            p = put_nops(p, 2);
        }
        p = put_ts(p, o->tsval, o->tsecr);
    } else if (o->sack) {
        p = put_nops(p, 2);
        p[0] = OPT_SACK_PERM;
        p[1] = OPT_SACK_PERM_LEN;
        p += OPT_SACK_PERM_LEN;
    }
    if (o->wscale) {
        p = put_nops(p, 1);
        p[0] = OPT_WSCALE;
        p[1] = OPT_WSCALE_LEN;
        p[2] = o->shift;
        p += OPT_WSCALE_LEN;
    }
    return (size_t)(p - start);
}

/* How many SACK blocks fit beside the other options of a segment of c. */
unsigned tcp_sack_room(const struct tcp_conn *c)
{
    return c->opt.ts ? TCP_SACK_MAX_BLOCKS - 1 : TCP_SACK_MAX_BLOCKS;
}

/* RFC 2018 §4: "If the data receiver has not received any out-of-order
 * data ... it SHOULD NOT send SACK options"; while it holds some, every
 * ACK carries blocks. */
static unsigned sack_blocks_due(const struct tcp_conn *c, uint8_t flags)
{
    if (!c->opt.sack || !(flags & TCP_ACK) || (flags & TCP_SYN))
        return 0;
    unsigned n = c->reass.count;
    return n < tcp_sack_room(c) ? n : tcp_sack_room(c);
}

/* Two NOPs, kind, length and the blocks. */
static size_t sack_option_len(unsigned blocks)
{
    return blocks ? 4 + (size_t)blocks * OPT_SACK_BLOCK_LEN : 0;
}

size_t tcp_sack_option_len(const struct tcp_conn *c)
{
    return sack_option_len(sack_blocks_due(c, TCP_ACK));
}

uint32_t tcp_seg_mss(const struct tcp_conn *c)
{
    return c->snd_mss - (uint32_t)tcp_sack_option_len(c);
}

/* Every segment but a SYN: the timestamps once negotiated (RFC 7323 §3.2:
 * "in every non-<RST> segment", and in RSTs too, as it SHOULD), then SACK
 * blocks on ACKs while we hold out-of-order text. Each is preceded by two
 * NOPs, which keeps the 32-bit fields aligned (RFC 7323 Appendix A). */
size_t tcp_write_options(struct ustack *st, struct tcp_conn *c, uint8_t *p,
                         uint8_t flags, uint32_t data_len)
{
    uint8_t *start = p;
    if (c->opt.ts) {
        /* §3.2: "The TSecr field is valid if the ACK bit is set ... When
         * the ACK bit is not set, the receiver MUST ignore [it]"; we send
         * zero there. */
        uint32_t tsecr = (flags & TCP_ACK) ? c->opt.ts_recent : 0;
        p = put_ts(put_nops(p, 2), tcp_ts_now(st, c), tsecr);
    }
    /* Output cuts text to tcp_seg_mss(), leaving room for the blocks; a
     * segment cut to the plain MSS gets fewer blocks (or none) instead of
     * growing past it. */
    unsigned n = sack_blocks_due(c, flags);
    while (n && data_len + sack_option_len(n) > c->snd_mss)
        n--;
    if (n) {
        STAT_INC(st, tcp_sack_acks_tx);
        uint32_t blocks[TCP_SACK_MAX_BLOCKS][2];
        n = tcp_reass_sack_blocks(c, blocks, n);
        p = put_nops(p, 2);
        p[0] = OPT_SACK;
        p[1] = (uint8_t)(2 + n * OPT_SACK_BLOCK_LEN);
        p += 2;
        for (unsigned i = 0; i < n; i++, p += OPT_SACK_BLOCK_LEN) {
            put_be32(p, blocks[i][0]);
            put_be32(p + 4, blocks[i][1]);
        }
    }
    return (size_t)(p - start);
}

/* ---- The SYN exchange ------------------------------------------------------ */

/* RFC 7323 §2.3: the smallest shift that lets the window cover the whole
 * receive buffer, so precision is lost only where it must be. */
static uint8_t shift_for_buffer(uint32_t bytes)
{
    uint8_t shift = 0;
    while (shift < TCP_MAX_WSCALE && ((uint32_t)TCP_MAX_WINDOW << shift) < bytes)
        shift++;
    return shift;
}

/* RFC 7323 §5.4: a clock offset per connection, so that a TSval tells
 * nothing about how long the host has been up and the clocks of two
 * connections cannot be compared. It is a keyed hash of the four-tuple:
 * a later connection of the same four-tuple keeps a clock running ahead of
 * the old one's, so PAWS still tells their segments apart. */
static uint32_t ts_offset(const struct ustack *st, const struct tcp_conn *c)
{
    return (uint32_t)tcp_tuple_hash(&st->tcp->ts_key, c->local_addr, c->local_port,
                                    c->remote_addr, c->remote_port);
}

void tcp_options_init(const struct ustack *st, struct tcp_conn *c)
{
    struct tcp_optstate fresh = {
        .rcv_shift = st->cfg.tcp.wscale_off ? 0 : shift_for_buffer(c->rcvbuf_size),
        .ts_offset = ts_offset(st, c),
    };
    c->opt = fresh;
}

uint32_t tcp_ts_now(const struct ustack *st, const struct tcp_conn *c)
{
    return c->opt.ts_offset + (uint32_t)(st->now / 1000);
}

void tcp_syn_options(const struct ustack *st, const struct tcp_conn *c,
                     struct tcp_syn_options *o)
{
    /* In SYN-SENT we offer what we support; a SYN-ACK (or our SYN again
     * in a simultaneous open) carries only what the peer offered too. */
    bool offer = c->state == TCP_SYN_SENT;
    const struct ustack_tcp_config *cfg = &st->cfg.tcp;
    o->mss = c->rcv_mss;
    o->wscale = offer ? !cfg->wscale_off : c->opt.wscale;
    o->shift = c->opt.rcv_shift;
    o->sack = offer ? !cfg->sack_off : c->opt.sack;
    o->ts = offer ? !cfg->timestamps_off : c->opt.ts;
    o->tsval = tcp_ts_now(st, c);
    o->tsecr = offer ? 0 : c->opt.ts_recent;
}

/* RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt
 * value larger than 14, the TCP SHOULD log the error but MUST use 14
 * instead of the specified value." */
static uint8_t peer_shift(struct ustack *st, const struct tcp_opts *o)
{
    if (o->wscale <= TCP_MAX_WSCALE)
        return o->wscale;
    STAT_INC(st, tcp_wscale_clamped);
    stack_log(st, LOG_INFO, "tcp: window scale %u in a SYN, using %u",
              o->wscale, TCP_MAX_WSCALE);
    return TCP_MAX_WSCALE;
}

void tcp_options_negotiate(struct ustack *st, struct tcp_conn *c,
                           const struct tcp_seg *syn)
{
    const struct tcp_opts *o = &syn->opts;
    const struct ustack_tcp_config *cfg = &st->cfg.tcp;
    struct tcp_optstate *n = &c->opt;
    /* §2.2: "both sides MUST send Window Scale options in their <SYN>
     * segments to enable window scaling in either direction". */
    n->wscale = !cfg->wscale_off && o->has_wscale;
    n->snd_shift = n->wscale ? peer_shift(st, o) : 0;
    if (!n->wscale)
        n->rcv_shift = 0;
    n->sack = !cfg->sack_off && o->sack_permitted;
    /* §3.2: timestamps are on when both SYNs carry them; the peer's TSval
     * is the first TS.Recent. */
    n->ts = !cfg->timestamps_off && o->has_ts;
    if (n->ts) {
        n->ts_recent = o->tsval;
        n->ts_recent_at = st->now;
    }
    c->snd_mss = tcp_effective_mss(st, o);
    /* RFC 9293 §3.7.1: the options every segment carries come out of the
     * MSS (RFC 6691): 12 bytes of timestamps leave 12 fewer for data. */
    if (n->ts)
        c->snd_mss = (uint16_t)(c->snd_mss - (OPT_TS_LEN + 2));
}

/* ---- Timestamps on input (RFC 7323 §4, §5) ------------------------------- */

#define TS_RECENT_LIFETIME_US (24ull * 24 * 3600 * 1000000) /* §5.5: 24 days */

/* §5.5: after 24 days of idleness TS.Recent may be older than half the
 * timestamp space and would make every new segment look old. */
static bool ts_recent_valid(const struct ustack *st, const struct tcp_conn *c)
{
    return st->now - c->opt.ts_recent_at <= TS_RECENT_LIFETIME_US;
}

bool tcp_ts_check(struct ustack *st, struct tcp_conn *c, const struct tcp_seg *seg)
{
    if (!c->opt.ts)
        return true;
    bool rst = seg->flags & TCP_RST;
    bool syn = seg->flags & TCP_SYN;
    /* §3.2: "If a non-<RST> segment is received without a TSopt, a TCP
     * SHOULD silently drop the segment." An RST is taken either way, and
     * so is a SYN: RFC 5961 §4 MUST answer it with a challenge ACK (the
     * peer may have restarted, without timestamps this time). */
    if (!seg->opts.has_ts) {
        if (rst || syn)
            return true;
        STAT_INC(st, tcp_drop_no_timestamp);
        return false;
    }
    /* §5.3 R1: "If there is a Timestamps option in the arriving segment,
     * SEG.TSval < TS.Recent, TS.Recent is valid (see Section 5.5), and if
     * the RST bit is not set, then treat the arriving segment as not
     * acceptable: Send an acknowledgment in reply as specified in
     * [RFC793], page 69 and drop the segment." The comparison is modulo
     * 2^32, like sequence numbers. */
    if (rst || !seq_lt(seg->opts.tsval, c->opt.ts_recent) || !ts_recent_valid(st, c))
        return true;
    STAT_INC(st, tcp_drop_paws);
    /* An older pure ACK is one a newer segment overtook (reordering) or a
     * copy of one: the newer segment, processed already, said at least as
     * much. Answering it would only hand the peer a duplicate ACK (and
     * three of those a spurious fast retransmit), so it goes quietly; the
     * ACK R1 asks for is for segments that carry something. */
    if (syn)
        tcp_send_challenge_ack(st, c); /* rate-limited, RFC 5961 §7 */
    else if (seg_len(seg) > 0)
        tcp_send_ack(st, c);
    return false;
}

void tcp_ts_record(struct ustack *st, struct tcp_conn *c, const struct tcp_seg *seg)
{
    /* §4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent,
     * then SEG.TSval is copied to TS.Recent; otherwise, it is ignored."
     * Called for segments that passed the sequence test (§5.3 R3): only
     * in-window segments move TS.Recent. Of a burst acknowledged by one
     * delayed ACK, the first segment's TSval is the one echoed, and a
     * segment past a hole does not count until the hole fills, so the
     * echo covers the whole round trip (§4.3 (1)). */
    if (!c->opt.ts || !seg->opts.has_ts)
        return;
    bool newer = seq_geq(seg->opts.tsval, c->opt.ts_recent) || !ts_recent_valid(st, c);
    if (newer && seq_leq(seg->seq, c->opt.last_ack_sent)) {
        c->opt.ts_recent = seg->opts.tsval;
        c->opt.ts_recent_at = st->now;
    }
}

/* Our TSval ticks once a millisecond (tcp_ts_now: RFC 7323 §5.4 asks for
 * 1 ms to 1 s a tick), so an echo cannot tell a round trip shorter than
 * this apart from no time at all: a LAN's or a TUN device's tens of
 * microseconds come back as 0 or 1 ms, and SRTT, with the loss probe
 * timer that is twice it, wandered between 1 us and 1 ms. Below it the
 * sample comes from the segment timed with the microsecond clock instead
 * (RFC 6298 §3, one at a time, Karn's rule: tcp_rtt_on_ack). */
#define TS_RTT_COARSE_MS 2u

void tcp_ts_rtt(struct ustack *st, struct tcp_conn *c, const struct tcp_seg *seg)
{
    /* §4.1 and Appendix G: one RTT sample per ACK that acknowledges new
     * data, from the TSval it echoes (which the §4.3 rules make the TSval
     * of the earliest segment this ACK covers). A TSecr of zero is no echo
     * (a SYN's, or a peer that does not set it). Retransmitted segments
     * carry fresh TSvals, so Karn's ambiguity does not arise; the sample
     * replaces the one-segment-at-a-time timing of RFC 6298 §3 (unless it
     * is too short for the clock, below). */
    if (!c->opt.ts || !seg->opts.has_ts || seg->opts.tsecr == 0)
        return;
    /* Karn's rule (RFC 6298 §3) for the echo: an ACK that arrives after
     * a timeout but echoes a TSval from before it took the timeout to
     * come (its predecessors were lost, or it answers our retransmission
     * of data the peer had, echoing an older TS.Recent, §4.3), so its
     * delay is not a round trip. One such sample of a second on a path of
     * microseconds would set SRTT, and the loss probe timer, to 1/8 s. */
    if (c->opt.ts_rto_set && seq_lt(seg->opts.tsecr, c->opt.ts_at_rto))
        return;
    uint32_t ms = tcp_ts_now(st, c) - seg->opts.tsecr;
    if (ms >= 0x80000000u)
        return; /* an echo from our future: not one of our TSvals */
    if (ms < TS_RTT_COARSE_MS)
        return; /* the segment timed in microseconds tells (see above) */
    STAT_INC(st, tcp_ts_rtt_samples);
    c->rtt.timing = false;
    tcp_rtt_sample(st, c, (uint64_t)ms * 1000);
}

/* ---- SACK blocks on input (RFC 2018 §3) ------------------------------- */

void tcp_sack_validate(struct ustack *st, const struct tcp_conn *c, struct tcp_seg *seg)
{
    struct tcp_opts *o = &seg->opts;
    if (o->sack_count == 0)
        return;
    if (!c->opt.sack) {
        STAT_ADD(st, tcp_sack_blocks_invalid, o->sack_count);
        o->sack_count = 0;
        return;
    }
    /* A block names data we sent and the peer holds: SND.UNA =< start <
     * end =< SND.NXT. Anything else is ignored (D-SACK blocks of RFC 2883,
     * below SND.UNA, among them: we do not use them). */
    uint8_t kept = 0;
    for (uint8_t i = 0; i < o->sack_count; i++) {
        uint32_t start = o->sack[i].start, end = o->sack[i].end;
        if (seq_lt(start, end) && seq_leq(c->snd.una, start) && seq_leq(end, c->snd.nxt))
            o->sack[kept++] = o->sack[i];
        else
            STAT_INC(st, tcp_sack_blocks_invalid);
    }
    o->sack_count = kept;
    STAT_ADD(st, tcp_sack_blocks_rx, kept);
}

/* ---- MSS ------------------------------------------------------------------ */

uint16_t tcp_local_mss(const struct ustack *st)
{
    unsigned mtu = st->link && st->link->mtu ? st->link->mtu : 1500;
    unsigned mss = mtu > 40 + TCP_MIN_MSS ? mtu - 40 : TCP_MIN_MSS;
    return (uint16_t)(mss > 65535 ? 65535 : mss);
}

/* RFC 9293 §3.7.1: Eff.snd.MSS = min(SendMSS+20, MMS_S) - 20 - IP options
 * = min(the peer's MSS, our link MTU - 40), since we send no IP options.
 * The TCP options of each segment come off that (tcp_options_negotiate,
 * and tcp_output for SACK blocks). */
uint16_t tcp_effective_mss(const struct ustack *st, const struct tcp_opts *o)
{
    uint16_t peer = o->has_mss ? o->mss : TCP_DEFAULT_MSS;
    uint16_t ours = tcp_local_mss(st);
    uint16_t mss = peer < ours ? peer : ours;
    return mss < TCP_MIN_MSS ? TCP_MIN_MSS : mss;
}
