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
    /* No DF: without path MTU discovery (RFC 1191, a later issue) a DF
     * packet too big for some hop would vanish without a trace. */
    return ip4_output(st, pb, IP_PROTO_TCP, h->src, h->dst, 0);
}

/* The header every segment of connection c starts from. */
static struct tcp_hdr_out conn_header(struct tcp_conn *c, uint32_t seq,
                                      uint8_t flags)
{
    struct tcp_hdr_out h = {
        .src = c->local_addr,
        .dst = c->remote_addr,
        .sport = c->local_port,
        .dport = c->remote_port,
        .seq = seq,
        .ack = c->rcv.nxt,
        .flags = flags,
        .wnd = (uint16_t)tcp_rcv_window(c),
    };
    if (flags & TCP_ACK)
        c->ack_pending = false; /* this segment carries the ACK */
    return h;
}

/* ---- Windows and positions ---------------------------------------------- */

/* RFC 9293 §3.8.6.2.2, receiver-side silly window avoidance: the window's
 * right edge (RCV.NXT + RCV.WND) only moves on when it can move by at least
 * min(half the buffer, one MSS). It never moves back, because arriving data
 * advances RCV.NXT and fills the buffer by the same amount. */
uint32_t tcp_rcv_window(struct tcp_conn *c)
{
    uint32_t space = c->rcvbuf.buf ? (uint32_t)ringbuf_free_space(&c->rcvbuf)
                                   : c->rcvbuf_size;
    if (space > TCP_MAX_WINDOW)
        space = TCP_MAX_WINDOW;
    uint32_t threshold = c->rcvbuf_size / 2 < c->rcv_mss ? c->rcvbuf_size / 2
                                                          : c->rcv_mss;
    if (space > c->rcv.wnd && space - c->rcv.wnd >= threshold)
        c->rcv.wnd = space;
    return c->rcv.wnd;
}

uint32_t tcp_snd_data_seq(const struct tcp_conn *c)
{
    /* Until our SYN is acknowledged, SND.UNA is the SYN itself. */
    return c->syn_acked ? c->snd.una : c->snd.iss + 1;
}

bool tcp_fin_acked(const struct tcp_conn *c)
{
    return c->fin_sent && seq_gt(c->snd.una, c->fin_seq);
}

/* ---- Control segments ------------------------------------------------------ */

void tcp_send_syn(struct ustack *st, struct tcp_conn *c)
{
    uint8_t opts[TCP_HDR_MAX - TCP_HDR_MIN];
    size_t opt_len = tcp_write_syn_options(opts, c->rcv_mss);
    /* Once the peer's SYN is in (every state but SYN-SENT), ours carries
     * its acknowledgment: a SYN-ACK. */
    uint8_t flags = TCP_SYN;
    if (c->state != TCP_SYN_SENT)
        flags |= TCP_ACK;
    struct tcp_hdr_out h = conn_header(c, c->snd.iss, flags);
    xmit(st, &h, opts, opt_len, NULL, 0, 0);
}

void tcp_send_ack(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_hdr_out h = conn_header(c, c->snd.nxt, TCP_ACK);
    xmit(st, &h, NULL, 0, NULL, 0, 0);
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
    struct tcp_hdr_out h = conn_header(c, c->snd.nxt, TCP_RST);
    STAT_INC(st, tcp_rst_sent);
    xmit(st, &h, NULL, 0, NULL, 0, 0);
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
    uint8_t opts[TCP_HDR_MAX - TCP_HDR_MIN];
    size_t opt_len = tcp_write_syn_options(opts, tcp_local_mss(st));
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
    struct tcp_hdr_out h = conn_header(c, data || fin ? seq : seq - 1, flags);
    STAT_INC(st, tcp_window_probes);
    xmit(st, &h, NULL, 0, &c->sndbuf, offset, data ? 1 : 0);
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

/* States in which the send buffer and our FIN may be (re)transmitted. */
static bool may_send_data(enum tcp_conn_state s)
{
    switch (s) {
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
    case TCP_FIN_WAIT_1: /* data queued before CLOSE, then our FIN */
    case TCP_CLOSING:    /* retransmission of our FIN */
    case TCP_LAST_ACK:
        return true;
    default:
        return false;
    }
}

/* A segment of len < MSS bytes is worth sending now when it is a
 * retransmission, or completes what the user queued and either Nagle
 * allows it (RFC 1122 §4.2.3.4: nothing unacknowledged in flight, or
 * TCP_NODELAY) or, when the window is what cuts it short, nothing is in
 * flight (no ACK would come to wake us) or it is at least half the largest
 * window the peer offered (RFC 9293 §3.8.6.2.1). */
static bool small_segment_ok(const struct tcp_conn *c, uint32_t seq,
                             uint32_t len, uint32_t queued)
{
    bool idle = c->snd.una == c->snd.nxt;
    if (seq_lt(seq, c->snd.nxt))
        return true;
    if (len == queued) {
        if (c->more_pending) /* USTACK_MSG_MORE: more is coming */
            return false;
        return c->nodelay || idle;
    }
    return idle || len >= c->max_snd_wnd / 2;
}

/* Bookkeeping after a data/FIN segment [seq, seq+len(+FIN)) went out. */
static void segment_sent(struct ustack *st, struct tcp_conn *c, uint32_t seq,
                         uint32_t len, bool fin)
{
    uint32_t end = seq + len + (fin ? 1 : 0);
    if (seq_lt(seq, c->snd.nxt)) {
        STAT_INC(st, tcp_retransmits);
        c->retransmissions++;
    } else {
        tcp_rtt_start(st, c, seq);
    }
    if (fin) {
        c->fin_sent = true;
        c->fin_seq = seq + len;
    }
    c->send_next = end;
    if (seq_gt(end, c->snd.nxt))
        c->snd.nxt = end;
    if (!tcp_timer_running(c, TCP_TIMER_RTX))
        tcp_rtx_timer_start(st, c); /* RFC 6298 §5.1 */
}

/* Send the next segment from send_next, if one may go. */
static bool send_one(struct ustack *st, struct tcp_conn *c)
{
    uint32_t data_seq = tcp_snd_data_seq(c);
    uint32_t data_end = data_seq + (uint32_t)ringbuf_used(&c->sndbuf);
    uint32_t seq = seq_max(c->send_next, data_seq);
    if (tcp_fin_acked(c) || seq_gt(seq, data_end))
        return false; /* everything is out, FIN included */
    uint32_t queued = data_end - seq;
    uint32_t wnd_end = c->snd.una + c->snd.wnd;
    uint32_t room = seq_lt(seq, wnd_end) ? wnd_end - seq : 0;
    uint32_t len = queued;
    if (len > room)
        len = room;
    if (len > c->snd_mss)
        len = c->snd_mss;
    /* The FIN follows the last byte, and needs a place in the window. */
    bool fin = c->fin_pending && len == queued && room > len;
    if (len == 0 && !fin)
        return false;
    if (!fin && len < c->snd_mss && !small_segment_ok(c, seq, len, queued))
        return false;
    uint8_t flags = TCP_ACK;
    if (len > 0 && len == queued)
        flags |= TCP_PSH; /* the last segment of what the user sent */
    if (fin)
        flags |= TCP_FIN;
    struct tcp_hdr_out h = conn_header(c, seq, flags);
    xmit(st, &h, NULL, 0, &c->sndbuf, seq - data_seq, len);
    segment_sent(st, c, seq, len, fin);
    return true;
}

void tcp_output(struct ustack *st, struct tcp_conn *c)
{
    if (may_send_data(c->state))
        while (send_one(st, c))
            ;
    if (c->ack_pending)
        tcp_send_ack(st, c);
    tcp_persist_update(st, c);
}
