/*
 * Building and sending segments.
 *
 * Every segment leaves through xmit(): header, options, text copied from the
 * send ring, checksum over the IPv4 pseudo-header (RFC 9293 §3.1), then
 * ip4_output(). tcp_output() decides what data may go now: it never sends
 * past the peer's window (SND.UNA + SND.WND), cuts segments to the
 * effective MSS, and applies Nagle's algorithm and sender-side silly window
 * avoidance.
 */
#include "tcp/tcp_int.h"

#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "net/ipv4.h"

/* The header fields of a segment to send. */
struct tcp_hdr_out {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    bool no_df; /* send without Don't Fragment (see xmit) */
};

/* Options (opts, opt_len: a multiple of 4) and text (data_len bytes of
 * ring `data` from data_off on) may be absent. Returns 0 or -errno; the
 * segment is counted either way (a failed send is a lost segment, which
 * the retransmission timer recovers like any other loss). */
static int xmit(struct ustack *st, const struct tcp_hdr_out *h,
                const uint8_t *opts, size_t opt_len,
                const struct ringbuf *data, size_t data_off, size_t data_len)
{
    size_t hdr_len = TCP_HDR_MIN + opt_len;
    size_t total = hdr_len + data_len;
    int err;
    struct pbuf *pb = ip4_alloc(st, total, &err);
    if (!pb) {
        STAT_INC(st, tcp_drop_no_buffer);
        return err;
    }
    uint8_t *p = pbuf_put(pb, total);
    put_be16(p, h->sport);
    put_be16(p + 2, h->dport);
    put_be32(p + 4, h->seq);
    put_be32(p + 8, (h->flags & TCP_ACK) ? h->ack : 0);
    p[12] = (uint8_t)((hdr_len / 4) << 4); /* data offset, reserved bits 0 */
    p[13] = h->flags;
    put_be16(p + 14, h->wnd);
    put_be16(p + 16, 0); /* checksum, filled in below */
    put_be16(p + 18, 0); /* urgent pointer: we never send urgent data */
    if (opt_len)
        memcpy(p + TCP_HDR_MIN, opts, opt_len);
    if (data_len)
        ringbuf_peek(data, data_off, p + hdr_len, data_len);
    uint32_t sum = cksum_pseudo_ipv4(h->src, h->dst, IP_PROTO_TCP, (uint16_t)total);
    put_be16(p + 16, cksum_finish(cksum_add(sum, p, total)));
    STAT_INC(st, tcp_tx);
    STAT_ADD(st, tcp_tx_data_bytes, data_len);
    /* RFC 1191 §3: Don't Fragment on every segment, so that a hop with a
     * smaller MTU drops it and tells us (ICMP "fragmentation needed",
     * tcp_icmp.c lowers the MSS) instead of fragmenting every segment.
     * Only a path that reported an MTU below our floor is sent to
     * without DF (tcp_icmp.c). */
    return ip4_output(st, pb, IP_PROTO_TCP, h->src, h->dst,
                      h->no_df ? 0 : IP4_OUT_DF);
}

/* A segment of connection c: its options (timestamps, SACK blocks) go
 * between the header and the text. */
static int xmit_conn(struct ustack *st, struct tcp_conn *c,
                     const struct tcp_hdr_out *h, const struct ringbuf *data,
                     size_t data_off, size_t data_len)
{
    uint8_t opts[TCP_HDR_MAX - TCP_HDR_MIN];
    size_t opt_len = tcp_write_options(st, c, opts, h->flags, (uint32_t)data_len);
    return xmit(st, h, opts, opt_len, data, data_off, data_len);
}

/* A segment carrying our ACK is leaving: whatever ACK was owed, delayed
 * or not, rides on it. */
static void ack_sent(struct ustack *st, struct tcp_conn *c)
{
    c->opt.last_ack_sent = c->rcv.nxt; /* Last.ACK.sent, RFC 7323 §4.3 */
    c->ack_pending = false;
    c->ack_delayed = false;
    c->rcv_segs_unacked = 0;
    tcp_reass_ack_sent(c);
    tcp_timer_stop(st, c, TCP_TIMER_DELACK);
}

static uint32_t syn_window(struct tcp_conn *c);

/* Rcv.Wind.Shift once both SYNs agreed on window scaling, else 0. */
static uint8_t rcv_shift(const struct tcp_conn *c)
{
    return c->opt.wscale ? c->opt.rcv_shift : 0;
}

/* SEG.WND (RFC 7323 §2.3): as a SYN carries it (never scaled, at most
 * 65535), or shifted right by Rcv.Wind.Shift. */
static uint16_t window_field(struct ustack *st, struct tcp_conn *c, uint8_t flags)
{
    if (flags & TCP_SYN)
        return (uint16_t)syn_window(c);
    return (uint16_t)(tcp_rcv_window(st, c) >> rcv_shift(c));
}

/* The header every segment of connection c starts from. */
static struct tcp_hdr_out conn_header(struct ustack *st, struct tcp_conn *c,
                                      uint32_t seq, uint8_t flags)
{
    struct tcp_hdr_out h = {
        .src = c->local_addr,
        .dst = c->remote_addr,
        .sport = c->local_port,
        .dport = c->remote_port,
        .seq = seq,
        .ack = c->rcv.nxt,
        .flags = flags,
        .wnd = window_field(st, c, flags),
        .no_df = c->icmp.df_off,
    };
    if (flags & TCP_ACK)
        ack_sent(st, c); /* this segment carries the ACK */
    return h;
}

/* ---- Windows and positions ---------------------------------------------- */

/* With window scaling the receive ring is larger than SO_RCVBUF by this
 * fraction: room for the window to be rounded up to the scale unit (see
 * round_to_unit). A reader that has stopped sees its window rounded up
 * once per ACK, by up to a unit, until the window closes: about
 * window * unit / (2 * MSS) bytes in all, which 1/32 of the buffer
 * covers for shifts up to 7 (buffers up to 8 MiB). */
#define RCV_RESERVE_DIV 32

uint32_t tcp_rcv_ring_size(const struct tcp_conn *c, uint32_t rcvbuf)
{
    return rcvbuf + (rcv_shift(c) ? rcvbuf / RCV_RESERVE_DIV : 0);
}

/* Free space in the receive ring (before it exists: its size to be). */
static uint32_t rcv_space(const struct tcp_conn *c)
{
    return c->rcvbuf.buf ? (uint32_t)ringbuf_free_space(&c->rcvbuf)
                         : tcp_rcv_ring_size(c, c->rcvbuf_size);
}

uint32_t tcp_rcv_window_unit(const struct tcp_conn *c)
{
    return (uint32_t)1 << rcv_shift(c);
}

uint32_t tcp_rcv_window_max(const struct tcp_conn *c)
{
    uint32_t max = TCP_MAX_WINDOW << rcv_shift(c);
    return c->rcvbuf_size < max ? c->rcvbuf_size : max;
}

/* A SYN's window is never scaled (RFC 7323 §2.2): at most 65535. */
static uint32_t syn_window(struct tcp_conn *c)
{
    uint32_t space = rcv_space(c);
    if (space > TCP_MAX_WINDOW)
        space = TCP_MAX_WINDOW;
    if (space > c->rcv.wnd)
        c->rcv.wnd = space;
    return c->rcv.wnd < TCP_MAX_WINDOW ? c->rcv.wnd : TCP_MAX_WINDOW;
}

/* RFC 7323 §2.4: with a shift, the window goes out in units of 2^shift.
 * Truncating it (the plain right shift) would move the edge the peer sees
 * left by up to a unit whenever RCV.NXT has advanced by other than whole
 * units (Appendix F works through an example), so the window is rounded up
 * instead: the edge stays or moves right. That offers up to a unit more
 * than the buffer space counted, which the ring's reserve holds
 * (RCV_RESERVE_DIV). Only when a stalled reader has let the roundings use
 * up the reserve does the edge go back, by less than a unit, counted:
 * promising bytes we cannot store would be worse, as the window could
 * then never close. */
static uint32_t round_to_unit(struct ustack *st, struct tcp_conn *c,
                              uint32_t wnd, uint32_t space)
{
    uint32_t unit = tcp_rcv_window_unit(c);
    uint32_t up = (wnd + unit - 1) & ~(unit - 1);
    if (up <= space)
        return up;
    uint32_t down = wnd & ~(unit - 1);
    if (down < c->rcv.wnd)
        STAT_INC(st, tcp_rcv_wnd_retracted);
    return down;
}

/* RFC 9293 §3.8.6.2.2, receiver-side silly window avoidance: the window's
 * right edge (RCV.NXT + RCV.WND) only moves on when it can move by at least
 * min(half the buffer, one MSS). It never moves back, because arriving data
 * advances RCV.NXT and fills the buffer by the same amount (with window
 * scaling, see round_to_unit). The window grows with the buffer, up to
 * 65535 << Rcv.Wind.Shift. */
uint32_t tcp_rcv_window(struct ustack *st, struct tcp_conn *c)
{
    uint32_t space = rcv_space(c);
    uint32_t reserve = tcp_rcv_ring_size(c, c->rcvbuf_size) - c->rcvbuf_size;
    uint32_t max = TCP_MAX_WINDOW << rcv_shift(c);
    uint32_t offer = space > reserve ? space - reserve : 0;
    if (offer > max)
        offer = max;
    uint32_t threshold = c->rcvbuf_size / 2 < c->rcv_mss ? c->rcvbuf_size / 2
                                                          : c->rcv_mss;
    uint32_t wnd = c->rcv.wnd;
    if (offer > wnd && offer - wnd >= threshold)
        wnd = offer;
    c->rcv.wnd = round_to_unit(st, c, wnd, space);
    return c->rcv.wnd;
}

uint32_t tcp_snd_data_seq(const struct tcp_conn *c)
{
    /* Until our SYN is acknowledged, SND.UNA is the SYN itself. */
    return c->syn_acked ? c->snd.una : c->snd.iss + 1;
}

uint32_t tcp_snd_data_end(const struct tcp_conn *c)
{
    return tcp_snd_data_seq(c) + (uint32_t)ringbuf_used(&c->sndbuf);
}

bool tcp_fin_acked(const struct tcp_conn *c)
{
    return c->fin_sent && seq_gt(c->snd.una, c->fin_seq);
}

/* ---- Control segments ------------------------------------------------------ */

void tcp_send_syn(struct ustack *st, struct tcp_conn *c)
{
    uint8_t opts[TCP_HDR_MAX - TCP_HDR_MIN];
    struct tcp_syn_options so;
    tcp_syn_options(st, c, &so);
    size_t opt_len = tcp_write_syn_options(opts, &so);
    /* Once the peer's SYN is in (every state but SYN-SENT), ours carries
     * its acknowledgment: a SYN-ACK. */
    uint8_t flags = TCP_SYN;
    if (c->state != TCP_SYN_SENT)
        flags |= TCP_ACK;
    struct tcp_hdr_out h = conn_header(st, c, c->snd.iss, flags);
    xmit(st, &h, opts, opt_len, NULL, 0, 0);
}

void tcp_send_ack(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_hdr_out h = conn_header(st, c, c->snd.nxt, TCP_ACK);
    xmit_conn(st, c, &h, NULL, 0, 0);
}

/* RFC 1122 §4.2.3.6: "Such a segment generally contains SEG.SEQ =
 * SND.NXT-1 and may or may not contain one garbage octet of data." The
 * sequence number is one the peer has already acknowledged, so whatever
 * its window, the segment is unacceptable there and it must answer with
 * an ACK (RFC 9293 §3.10.7.4, first check). We send no garbage octet:
 * every peer of today answers the empty form. */
void tcp_send_keepalive(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_hdr_out h = conn_header(st, c, c->snd.nxt - 1, TCP_ACK);
    STAT_INC(st, tcp_keepalive_probes);
    xmit_conn(st, c, &h, NULL, 0, 0);
}

/* RFC 5961 §7: challenge ACKs are rate-limited so that a blind attacker
 * cannot turn us into an ACK generator. The budget is per connection
 * rather than the RFC's single global counter: a shared counter lets an
 * off-path attacker learn, from how many challenge ACKs a victim
 * connection still gets, whether its guesses hit (CVE-2016-5696). */
void tcp_send_challenge_ack(struct ustack *st, struct tcp_conn *c)
{
    if (!ratelimit_allow(&c->challenge, st->now)) {
        STAT_INC(st, tcp_challenge_ack_limited);
        return;
    }
    STAT_INC(st, tcp_challenge_ack);
    tcp_send_ack(st, c);
}

void tcp_send_rst(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_hdr_out h = conn_header(st, c, c->snd.nxt, TCP_RST);
    STAT_INC(st, tcp_rst_sent);
    xmit_conn(st, c, &h, NULL, 0, 0);
}

void tcp_send_rst_reply(struct ustack *st, const struct tcp_seg *seg)
{
    if (seg->flags & TCP_RST)
        return; /* never answer a reset with a reset */
    struct tcp_hdr_out h = {
        .src = seg->dst,
        .dst = seg->src,
        .sport = seg->dport,
        .dport = seg->sport,
    };
    if (seg->flags & TCP_ACK) {
        h.seq = seg->ack;
        h.flags = TCP_RST;
    } else {
        h.seq = 0;
        h.ack = seg->seq + seg_len(seg);
        h.flags = TCP_RST | TCP_ACK;
    }
    STAT_INC(st, tcp_rst_sent);
    xmit(st, &h, NULL, 0, NULL, 0, 0);
}

void tcp_send_synack_cookie(struct ustack *st, const struct tcp_seg *syn,
                            uint32_t iss, uint16_t wnd)
{
    /* Only the MSS: the cookie has no room for the other options (see
     * syncookie.c). */
    uint8_t opts[TCP_HDR_MAX - TCP_HDR_MIN];
    struct tcp_syn_options so = {.mss = tcp_local_mss(st)};
    size_t opt_len = tcp_write_syn_options(opts, &so);
    struct tcp_hdr_out h = {
        .src = syn->dst,
        .dst = syn->src,
        .sport = syn->dport,
        .dport = syn->sport,
        .seq = iss,
        .ack = syn->seq + 1,
        .flags = TCP_SYN | TCP_ACK,
        .wnd = wnd,
    };
    xmit(st, &h, opts, opt_len, NULL, 0, 0);
}

/* RFC 9293 §3.8.6.1: "The sending TCP peer must regularly transmit at
 * least one octet of new data (if available), or retransmit to the
 * receiving TCP peer even if the send window is zero". The probe is the
 * first unit at SND.UNA: one byte of data, or our FIN when only the FIN is
 * left. A receiver whose window is still shut drops it and answers with
 * an ACK that reports its window; one whose window opened takes it.
 * Either way the probe's unit is part of what output (re)sends once the
 * window opens, so the cursor goes back to SND.UNA. */
void tcp_send_window_probe(struct ustack *st, struct tcp_conn *c)
{
    uint32_t seq = c->snd.una;
    uint32_t offset = seq - tcp_snd_data_seq(c);
    bool data = ringbuf_used(&c->sndbuf) > offset;
    bool fin = !data && c->fin_pending && !tcp_fin_acked(c);
    uint8_t flags = TCP_ACK | (fin ? TCP_FIN : 0);
    struct tcp_hdr_out h = conn_header(st, c, data || fin ? seq : seq - 1, flags);
    STAT_INC(st, tcp_window_probes);
    xmit_conn(st, c, &h, &c->sndbuf, offset, data ? 1 : 0);
    if (!data && !fin)
        return; /* nothing to carry: SEG.SEQ = SND.UNA-1 still draws an ACK */
    if (fin) {
        c->fin_sent = true;
        c->fin_seq = seq;
    }
    if (seq_gt(seq + 1, c->snd.nxt))
        c->snd.nxt = seq + 1;
    c->send_next = c->snd.una;
}

/* ---- Data ------------------------------------------------------------------ */

/* Is a segment of len < MSS bytes worth sending now? RFC 9293 §3.8.6.2.1
 * (sender-side silly window avoidance) with Nagle's algorithm (§3.7.4,
 * RFC 1122 §4.2.3.4) in its bracketed conditions. With D the data queued
 * and U the usable window, send
 *   (1) a full segment: min(D, U) >= MSS (never gets here);
 *   (2) or everything queued, "if the data is pushed and all queued data
 *       can be sent now", D <= U, and (Nagle) nothing unacknowledged is
 *       in flight, unless TCP_NODELAY turned Nagle off;
 *   (3) or, when the window is what cuts the segment short, at least half
 *       the largest window the peer ever offered, and (Nagle) nothing in
 *       flight;
 *   (4) or when the override timeout fires: the persist timer, see
 *       tcp_output_override().
 * Every send is "pushed" here, except under USTACK_MSG_MORE. A
 * retransmission always goes. */
static bool small_segment_ok(const struct tcp_conn *c, uint32_t seq,
                             uint32_t len, uint32_t queued)
{
    bool nagle_ok = c->nodelay || c->snd.una == c->snd.nxt;
    if (seq_lt(seq, c->snd.nxt))
        return true;
    if (len == queued) /* (2) */
        return !c->more_pending && nagle_ok;
    return len >= c->max_snd_wnd / 2 && nagle_ok; /* (3) */
}

/* Transmit [seq, seq+len) of the send ring, with our FIN after it if fin,
 * and do the bookkeeping: retransmission count and Karn, RTT timing of
 * new data, SND.NXT, the retransmission timer (RFC 6298 §5.1). Returns
 * the sequence number after the segment. */
static uint32_t emit(struct ustack *st, struct tcp_conn *c, uint32_t seq,
                     uint32_t len, bool fin)
{
    uint32_t end = seq + len + (fin ? 1 : 0);
    bool idle = c->snd.una == c->snd.nxt; /* nothing was waiting for an ACK */
    uint8_t flags = TCP_ACK;
    if (len > 0 && seq + len == tcp_snd_data_end(c))
        flags |= TCP_PSH; /* the last segment of what the user sent */
    if (fin)
        flags |= TCP_FIN;
    struct tcp_hdr_out h = conn_header(st, c, seq, flags);
    xmit_conn(st, c, &h, &c->sndbuf, seq - tcp_snd_data_seq(c), len);
    tcp_cc_sent(st, c, seq, len);
    tcp_tlp_sent(c, seq, seq_lt(seq, c->snd.nxt));
    if (seq_lt(seq, c->snd.nxt)) {
        STAT_INC(st, tcp_retransmits);
        c->retransmissions++;
        tcp_rtt_retransmitted(c, seq, end);
        TCP_TRACE(st, c, USTACK_TRACE_RTX);
    } else {
        tcp_rtt_start(st, c, seq);
    }
    if (fin) {
        c->fin_sent = true;
        c->fin_seq = seq + len;
    }
    if (seq_gt(end, c->snd.nxt))
        c->snd.nxt = end;
    /* After a send with nothing in flight, this segment starts the wait
     * the user timeout measures (a retransmission continues it; after
     * zero-window probing, tcp_persist_update has set it). */
    if (idle)
        c->rtt.waiting_since = st->now;
    if (!tcp_timer_running(c, TCP_TIMER_RTX))
        tcp_rtx_timer_start(st, c);
    return end;
}

/* What may go from seq on: *len bytes of text, and *fin. False when
 * there is nothing (or no room) to send. */
static bool next_segment(const struct tcp_conn *c, uint32_t seq, uint32_t *len,
                         bool *fin, uint32_t *queued)
{
    uint32_t data_end = tcp_snd_data_end(c);
    if (tcp_fin_acked(c) || seq_gt(seq, data_end))
        return false; /* everything is out, FIN included */
    *queued = data_end - seq;
    uint32_t wnd_end = c->snd.una + c->snd.wnd;
    uint32_t room = seq_lt(seq, wnd_end) ? wnd_end - seq : 0;
    *len = *queued;
    if (*len > room)
        *len = room;
    if (*len > tcp_seg_mss(c))
        *len = tcp_seg_mss(c);
    /* The FIN follows the last byte, and needs a place in the window. */
    *fin = c->fin_pending && *len == *queued && room > *len;
    return *len > 0 || *fin;
}

/* Going back over data sent before (after a timeout): skip what the peer
 * SACKed since, and stop each segment short of the next SACKed range, so
 * SACKed data is never sent again (RFC 6675 §5.1 leaves the choice of what
 * to resend after a timeout open; "filling in" the holes it names). */
static uint32_t skip_sacked(struct tcp_conn *c, uint32_t seq)
{
    if (!seq_lt(seq, c->snd.nxt) || c->sacked.count == 0)
        return seq;
    uint32_t next = tcp_sack_skip(c, seq);
    if (next != seq)
        c->send_next = next;
    return next;
}

/* The congestion window's part (RFC 5681 §3): a segment goes only if it
 * fits in what cwnd leaves; it is never cut to fit, which would send
 * small segments. The FIN alone needs one byte of room. */
static bool cwnd_allows(const struct tcp_conn *c, uint32_t len, bool *fin)
{
    uint32_t room = tcp_cc_send_room(c);
    if (len > room)
        return false;
    if (*fin && len == room)
        *fin = false; /* the data fits; the FIN waits for the next ACK */
    return len > 0 || *fin;
}

/* Send the next segment from send_next, if one may go (override: even
 * if Nagle or silly window avoidance would hold it). */
static bool send_one(struct ustack *st, struct tcp_conn *c, bool override)
{
    uint32_t seq = skip_sacked(c, seq_max(c->send_next, tcp_snd_data_seq(c)));
    uint32_t len, queued;
    bool fin;
    if (!next_segment(c, seq, &len, &fin, &queued))
        return false;
    if (seq_lt(seq, c->snd.nxt) && c->sacked.count > 0) {
        uint32_t limit = tcp_sack_next_sacked(c, seq, seq + len);
        if (limit != seq + len) {
            len = limit - seq;
            fin = false;
        }
    }
    if (c->snd.una == c->snd.nxt)
        tcp_cc_before_send(st, c); /* restart after idle */
    if (!cwnd_allows(c, len, &fin))
        return false;
    /* After a timeout, only the earliest segment went again (RFC 6298
     * §5.4); the rest of the old data follows once an ACK shows the path
     * delivers again. Duplicate ACKs do not: they only say the hole is
     * still there. */
    if (c->rec.rto_hold && seq_lt(seq, c->snd.nxt))
        return false;
    if (!override && !fin && len < tcp_seg_mss(c) &&
        !small_segment_ok(c, seq, len, queued))
        return false;
    c->send_next = emit(st, c, seq, len, fin);
    return true;
}

bool tcp_output_override(struct ustack *st, struct tcp_conn *c)
{
    return tcp_may_send(c->state) && send_one(st, c, true);
}

bool tcp_output_one(struct ustack *st, struct tcp_conn *c)
{
    return tcp_may_send(c->state) && send_one(st, c, false);
}

uint32_t tcp_retransmit_range(struct ustack *st, struct tcp_conn *c,
                              uint32_t seq, uint32_t len)
{
    uint32_t data_seq = tcp_snd_data_seq(c), data_end = tcp_snd_data_end(c);
    if (!tcp_may_send(c->state) || !seq_lt(seq, c->snd.nxt) ||
        seq_lt(seq, data_seq))
        return 0;
    if (seq_gt(seq + len, c->snd.nxt))
        len = c->snd.nxt - seq;
    /* The FIN sits right after the last byte of data. */
    bool fin = c->fin_sent && seq_geq(seq + len, data_end + 1);
    if (fin)
        len = data_end - seq;
    /* Within the peer's window, as every segment (RFC 9293 §3.8.6). */
    uint32_t wnd_end = c->snd.una + c->snd.wnd;
    if (!seq_lt(seq, wnd_end))
        return 0;
    if (len > wnd_end - seq) {
        len = wnd_end - seq;
        fin = false;
    } else if (fin && len == wnd_end - seq) {
        fin = false;
    }
    if (len > c->snd_mss) {
        len = c->snd_mss;
        fin = false;
    }
    if (len == 0 && !fin)
        return 0;
    uint32_t end = emit(st, c, seq, len, fin);
    if (seq_lt(c->send_next, end))
        c->send_next = end;
    return end - seq;
}

bool tcp_retransmit_first(struct ustack *st, struct tcp_conn *c)
{
    uint32_t seq = c->snd.una;
    uint32_t len, queued;
    bool fin;
    if (!tcp_may_send(c->state) || seq == c->snd.nxt ||
        !next_segment(c, seq, &len, &fin, &queued))
        return false;
    /* Never past what was sent: this is a retransmission, not new data. */
    if (seq_gt(seq + len, c->snd.nxt)) {
        len = c->snd.nxt - seq;
        fin = false;
    }
    uint32_t end = emit(st, c, seq, len, fin);
    if (seq_lt(c->send_next, end))
        c->send_next = end;
    return true;
}

/* The ACK owed for in-order text may wait (RFC 9293 §3.8.6.3, RFC 1122
 * §4.2.3.2): at most delack_ms, and only while no second segment has
 * arrived since our last ACK (input decides that, see tcp_input.c). */
static void delay_ack(struct ustack *st, struct tcp_conn *c)
{
    if (!tcp_timer_running(c, TCP_TIMER_DELACK))
        tcp_timer_set(st, c, TCP_TIMER_DELACK,
                      st->now + (uint64_t)st->cfg.tcp.delack_ms * 1000);
}

void tcp_output(struct ustack *st, struct tcp_conn *c)
{
    if (tcp_output_defer(st, c)) /* batched input: at the batch's end */
        return;
    /* As much as the windows allow: min(cwnd - in flight, the peer's
     * window), so a burst is at most one congestion window. */
    if (tcp_may_send(c->state) && tcp_sack_recovering(c)) {
        tcp_tlp_lost_retransmit(st, c); /* before NextSeg() */
        tcp_sack_output(st, c);
    } else if (tcp_may_send(c->state))
        while (send_one(st, c, false))
            ;
    if (c->ack_pending)
        tcp_send_ack(st, c);
    else if (c->ack_delayed)
        delay_ack(st, c);
    tcp_persist_update(st, c);
    tcp_tlp_update(st, c); /* after persist: it may have stopped the RTO */
    TCP_TRACE(st, c, USTACK_TRACE_SEND); /* if SND.NXT moved */
}
