/*
 * SEGMENT ARRIVES (RFC 9293 §3.10.7), step by step.
 *
 * The code follows the RFC's structure so that the two can be read side by
 * side:
 *
 *   §3.10.7.1  CLOSED (no TCB)             closed_state()
 *   §3.10.7.2  LISTEN                      listen_state()
 *   §3.10.7.3  SYN-SENT                    syn_sent_state()
 *   §3.10.7.4  every other state           other_states(), whose steps are
 *              first   sequence number     check_sequence()
 *              second  RST bit             check_rst()
 *              third   security            (not implemented, see below)
 *              fourth  SYN bit             check_syn()
 *              fifth   ACK field           check_ack()
 *              sixth   URG bit             (urgent data is not supported)
 *              seventh segment text        process_text()
 *              eighth  FIN bit             check_fin()
 *
 * Each step's per-state behaviour is a switch on the state with one case
 * per RFC paragraph. RFC 5961's hardening is built into the second, fourth
 * and fifth steps, as RFC 9293 itself describes.
 *
 * A step returns false when processing of the segment stops there (the
 * segment was dropped, or the connection closed and may have been freed:
 * the caller must not touch c afterwards).
 */
#include "tcp/tcp_int.h"

#include <errno.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "net/ipv4.h"

/* ---- Parsing ----------------------------------------------------------------- */

/* Validate the header (length, data offset, checksum) and fill seg.
 * Every rejection is counted. */
static bool parse_segment(struct ustack *st, const struct ip4_rx *ip,
                          struct tcp_seg *seg)
{
    const uint8_t *p = ip->payload;
    size_t len = ip->payload_len;
    if (len < TCP_HDR_MIN) {
        STAT_INC(st, tcp_drop_truncated);
        return false;
    }
    size_t hdr_len = (size_t)(p[12] >> 4) * 4;
    if (hdr_len < TCP_HDR_MIN || hdr_len > len) {
        STAT_INC(st, tcp_drop_bad_offset);
        return false;
    }
    uint32_t sum = cksum_pseudo_ipv4(ip->src, ip->dst, IP_PROTO_TCP, (uint16_t)len);
    if (cksum_finish(cksum_add(sum, p, len)) != 0) {
        STAT_INC(st, tcp_drop_bad_checksum);
        return false;
    }
    /* TCP is unicast only: a segment to a broadcast address, a SYN above
     * all, must be ignored (RFC 1122 §4.2.3.10). */
    if (ip->dst_broadcast) {
        STAT_INC(st, tcp_drop_broadcast);
        return false;
    }
    memset(seg, 0, sizeof(*seg));
    seg->src = ip->src;
    seg->dst = ip->dst;
    seg->sport = get_be16(p);
    seg->dport = get_be16(p + 2);
    seg->seq = get_be32(p + 4);
    seg->ack = get_be32(p + 8);
    seg->flags = p[13] & (TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG);
    seg->wnd = get_be16(p + 14);
    seg->up = get_be16(p + 18);
    if (!tcp_parse_options(p + TCP_HDR_MIN, hdr_len - TCP_HDR_MIN, &seg->opts))
        STAT_INC(st, tcp_bad_options);
    seg->data = p + hdr_len;
    seg->data_len = (uint32_t)(len - hdr_len);
    seg->wire_len = seg->data_len;
    return true;
}

/* SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK */
static void set_send_window(struct tcp_conn *c, const struct tcp_seg *seg)
{
    c->snd.wnd = seg->wnd;
    c->snd.wl1 = seg->seq;
    c->snd.wl2 = seg->ack;
    if (seg->wnd > c->max_snd_wnd)
        c->max_snd_wnd = seg->wnd;
}

static void process_text_and_fin(struct ustack *st, struct tcp_conn *c,
                                 struct tcp_seg *seg);

/* ---- §3.10.7.1 CLOSED ---------------------------------------------------------- */

/* No connection and no listener. "All data in the incoming segment is
 * discarded. An incoming segment containing a RST is discarded. An
 * incoming segment not containing a RST causes a RST to be sent." */
static void closed_state(struct ustack *st, const struct tcp_seg *seg)
{
    if (seg->flags & TCP_RST) {
        STAT_INC(st, tcp_drop_in_state);
        return;
    }
    STAT_INC(st, tcp_rst_closed_port);
    tcp_send_rst_reply(st, seg);
}

/* ---- §3.10.7.2 LISTEN ------------------------------------------------------------ */

/* A child connection of listener l for the four-tuple of seg. It inherits
 * l's options and holds l's port. */
static struct tcp_conn *new_child(struct ustack *st, struct tcp_conn *l,
                                  const struct tcp_seg *seg)
{
    struct tcp_conn *c = tcp_conn_create(st);
    if (!c)
        return NULL;
    c->passive = true;
    c->listener = l;
    c->local_addr = seg->dst;
    c->local_port = seg->dport;
    c->remote_addr = seg->src;
    c->remote_port = seg->sport;
    c->sndbuf_size = l->sndbuf_size;
    c->sndbuf_set = l->sndbuf_set;
    c->rcvbuf_size = l->rcvbuf_size;
    c->nodelay = l->nodelay;
    c->reuse = l->reuse;
    c->linger_zero = l->linger_zero;
    c->keepalive = l->keepalive;
    c->ka.idle_s = l->ka.idle_s;
    c->ka.intvl_s = l->ka.intvl_s;
    c->ka.count = l->ka.count;
    c->user_timeout_ms = l->user_timeout_ms;
    tcp_cc_select(st, c, l->cc.ops);
    tcp_trace_inherit(c, l);
    tcp_port_bind_child(st, c);
    return c;
}

/* Answer a SYN statelessly (RFC 4987 §3.6, see syncookie.c). */
static void answer_with_cookie(struct ustack *st, struct tcp_conn *l,
                               const struct tcp_seg *seg)
{
    if (st->cfg.tcp.syncookies_off) {
        STAT_INC(st, tcp_drop_syn_no_cookie);
        return;
    }
    uint16_t peer_mss = seg->opts.has_mss ? seg->opts.mss : TCP_DEFAULT_MSS;
    uint16_t mss;
    uint32_t iss = syncookie_make(st->tcp, seg, peer_mss, st->now, &mss);
    uint32_t wnd = l->rcvbuf_size < TCP_MAX_WINDOW ? l->rcvbuf_size : TCP_MAX_WINDOW;
    tcp_send_synack_cookie(st, seg, iss, (uint16_t)wnd);
    l->listen.last_cookie = st->now;
    l->listen.cookies_used = true;
    STAT_INC(st, tcp_syncookies_sent);
}

/* A valid cookie came back: build the connection the SYN would have made,
 * already ESTABLISHED, then process the rest of the segment as usual. */
static void cookie_establish(struct ustack *st, struct tcp_conn *l,
                             struct tcp_seg *seg, uint16_t mss)
{
    if (l->listen.accept_q.len >= l->listen.backlog) {
        STAT_INC(st, tcp_accept_queue_full);
        return;
    }
    struct tcp_conn *c = new_child(st, l, seg);
    if (!c)
        return;
    c->snd.iss = seg->ack - 1;
    c->snd.una = c->snd.nxt = c->send_next = seg->ack;
    c->syn_acked = true;
    c->rcv.irs = seg->seq - 1;
    c->rcv.nxt = seg->seq;
    uint16_t ours = tcp_local_mss(st);
    c->snd_mss = mss < ours ? mss : ours;
    set_send_window(c, seg);
    tcp_rcv_window(st, c); /* the window our cookie SYN-ACK offered */
    tcp_conn_init_buffers(c);
    tcp_conn_hash_insert(st, c);
    tcp_set_state(st, c, TCP_ESTABLISHED);
    tcp_queue_push(&l->listen.accept_q, c);
    tcp_notify(st, l);
    process_text_and_fin(st, c, seg);
}

/* Could an ACK at listener l carry one of our cookies? Only if we sent
 * cookies recently; otherwise every stray ACK would cost a hash. */
static bool cookies_recent(const struct ustack *st, const struct tcp_conn *l)
{
    return l->listen.cookies_used &&
           st->now - l->listen.last_cookie <= syncookie_lifetime();
}

static void listen_ack(struct ustack *st, struct tcp_conn *l,
                       struct tcp_seg *seg)
{
    if (!(seg->flags & TCP_SYN) && cookies_recent(st, l)) {
        uint16_t mss;
        if (syncookie_check(st->tcp, seg, st->now, &mss)) {
            STAT_INC(st, tcp_syncookies_valid);
            cookie_establish(st, l, seg, mss);
            return;
        }
        STAT_INC(st, tcp_syncookies_invalid);
    }
    /* "Any acknowledgment is bad if it arrives on a connection still in
     * the LISTEN state. An acceptable reset segment should be formed for
     * any arriving ACK-bearing segment: <SEQ=SEG.ACK><CTL=RST>". */
    STAT_INC(st, tcp_rst_closed_port);
    tcp_send_rst_reply(st, seg);
}

static void listen_syn(struct ustack *st, struct tcp_conn *l,
                       const struct tcp_seg *seg)
{
    if (l->listen.syn_q.len >= st->cfg.tcp.syn_backlog) {
        STAT_INC(st, tcp_syn_queue_full);
        answer_with_cookie(st, l, seg);
        return;
    }
    struct tcp_conn *c = new_child(st, l, seg);
    if (!c) {
        answer_with_cookie(st, l, seg); /* a cookie needs no memory */
        return;
    }
    /* "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ, ... ISS should be
     * selected and a SYN segment sent of the form
     * <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to ISS+1 and
     * SND.UNA to ISS. The connection state should be changed to
     * SYN-RECEIVED." */
    c->rcv.irs = seg->seq;
    c->rcv.nxt = seg->seq + 1;
    tcp_options_init(st, c);
    tcp_options_negotiate(st, c, seg); /* and the send MSS */
    c->snd.iss = tcp_select_iss(st, c);
    c->snd.una = c->snd.iss;
    c->snd.nxt = c->send_next = c->snd.iss + 1;
    set_send_window(c, seg);
    tcp_set_state(st, c, TCP_SYN_RECEIVED);
    tcp_conn_hash_insert(st, c);
    tcp_queue_push(&l->listen.syn_q, c);
    STAT_INC(st, tcp_passive_opens);
    tcp_send_syn(st, c);
    tcp_rtt_start(st, c, c->snd.iss);
    c->rtt.waiting_since = st->now;
    tcp_rtx_timer_start(st, c);
    /* Text and FIN in the SYN are not acknowledged: a half-open
     * connection has no buffers (so a SYN flood costs little), and the
     * peer sends them again once the connection is established. */
}

static void listen_state(struct ustack *st, struct tcp_conn *l,
                         struct tcp_seg *seg)
{
    /* First, check for a RST: "An incoming RST segment could not be
     * valid since it could not have been sent in response to anything
     * sent by this incarnation of the connection. An incoming RST should
     * be ignored." */
    if (seg->flags & TCP_RST) {
        STAT_INC(st, tcp_drop_in_state);
        return;
    }
    /* Second, check for an ACK (or a SYN cookie coming back). */
    if (seg->flags & TCP_ACK) {
        listen_ack(st, l, seg);
        return;
    }
    /* Third, check for a SYN (the security check is not implemented). */
    if (seg->flags & TCP_SYN) {
        listen_syn(st, l, seg);
        return;
    }
    /* Fourth, other data or control: "drop the segment and return". */
    STAT_INC(st, tcp_drop_in_state);
}

/* ---- §3.10.7.3 SYN-SENT ------------------------------------------------------------ */

/* Our SYN is acknowledged and the peer's SYN is in: ESTABLISHED. */
static void syn_sent_established(struct ustack *st, struct tcp_conn *c,
                                 struct tcp_seg *seg)
{
    set_send_window(c, seg);
    tcp_conn_init_buffers(c);
    tcp_set_state(st, c, TCP_ESTABLISHED);
    tcp_rtt_handshake_done(st, c);
    /* "form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send
     * it. Data or controls that were queued for transmission MAY be
     * included." tcp_output() sends it, with data if there is any. */
    c->ack_pending = true;
    tcp_notify(st, c);
    /* "If there are other controls or text in the segment, then continue
     * processing at the sixth step": the SYN is consumed, the text starts
     * at IRS+1. */
    seg->flags &= (uint8_t)~TCP_SYN;
    seg->seq += 1;
    process_text_and_fin(st, c, seg);
}

static void syn_sent_syn(struct ustack *st, struct tcp_conn *c,
                         struct tcp_seg *seg)
{
    /* "RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ. SND.UNA should
     * be advanced to equal SEG.ACK (if there is an ACK), and any segments
     * on the retransmission queue that are thereby acknowledged should be
     * removed." */
    c->rcv.irs = seg->seq;
    c->rcv.nxt = seg->seq + 1;
    tcp_options_negotiate(st, c, seg); /* and the send MSS */
    if (seg->flags & TCP_ACK) {
        c->snd.una = seg->ack; /* the first step checked it acks our SYN */
        c->syn_acked = true;
        tcp_ts_rtt(st, c, seg);
        tcp_rtt_on_ack(st, c, seg->ack);
    }
    /* "If SND.UNA > ISS (our SYN has been ACKed), change the connection
     * state to ESTABLISHED" */
    if (c->syn_acked) {
        syn_sent_established(st, c, seg);
        return;
    }
    /* "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
     * <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it. Set the variables
     * SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK."
     * This is a simultaneous open. Text or controls in the segment would
     * have to wait for ESTABLISHED: we drop them and let the peer resend. */
    tcp_set_state(st, c, TCP_SYN_RECEIVED);
    set_send_window(c, seg);
    tcp_send_syn(st, c);
}

static void syn_sent_state(struct ustack *st, struct tcp_conn *c,
                           struct tcp_seg *seg)
{
    bool ack_acceptable = false;
    /* First, check the ACK bit: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT,
     * send a reset (unless the RST bit is set, if so drop the segment and
     * return) <SEQ=SEG.ACK><CTL=RST>". */
    if (seg->flags & TCP_ACK) {
        if (seq_leq(seg->ack, c->snd.iss) || seq_gt(seg->ack, c->snd.nxt)) {
            STAT_INC(st, tcp_drop_bad_ack);
            tcp_send_rst_reply(st, seg);
            return;
        }
        ack_acceptable = seq_lt(c->snd.una, seg->ack) && seq_leq(seg->ack, c->snd.nxt);
    }
    /* Second, check the RST bit: with an acceptable ACK, "signal to the
     * user 'error: connection reset', drop the segment, enter CLOSED
     * state, delete TCB, and return. Otherwise (no ACK), drop the segment
     * and return." (RFC 5961 §3.2 asks the same: the RST must acknowledge
     * our SYN.) */
    if (seg->flags & TCP_RST) {
        if (!ack_acceptable) {
            STAT_INC(st, tcp_drop_rst_bad_seq);
            return;
        }
        STAT_INC(st, tcp_rst_rx);
        tcp_conn_fail(st, c, ECONNREFUSED);
        return;
    }
    /* Third, the security check: not implemented. */
    /* Fourth, check the SYN bit. */
    if (seg->flags & TCP_SYN) {
        syn_sent_syn(st, c, seg);
        return;
    }
    /* Fifth, "if neither of the SYN or RST bits is set, then drop the
     * segment and return." */
    STAT_INC(st, tcp_drop_in_state);
}

/* ---- §3.10.7.4 first: check the sequence number ---------------------------------- */

/* The acceptability test:
 *
 *   Segment  Receive  Test
 *   Length   Window
 *   -------  -------  -------------------------------------------
 *      0        0     SEG.SEQ = RCV.NXT
 *      0       >0     RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
 *     >0        0     not acceptable
 *     >0       >0     RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
 *                  or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
 */
static bool segment_acceptable(const struct tcp_conn *c, const struct tcp_seg *seg)
{
    uint32_t len = seg_len(seg);
    uint32_t wnd_end = c->rcv.nxt + c->rcv.wnd;
    if (len == 0 && c->rcv.wnd == 0)
        return seg->seq == c->rcv.nxt;
    if (len == 0)
        return seq_in_range(seg->seq, c->rcv.nxt, wnd_end);
    if (c->rcv.wnd == 0)
        return false;
    return seq_in_range(seg->seq, c->rcv.nxt, wnd_end) ||
           seq_in_range(seg->seq + len - 1, c->rcv.nxt, wnd_end);
}

/* "If a segment's contents straddle the boundary between old and new,
 * only the new parts are processed": cut what lies before RCV.NXT and
 * what lies past RCV.NXT+RCV.WND (a FIN past the window goes too). Only
 * called for acceptable segments without SYN or RST. */
static void trim_to_window(const struct tcp_conn *c, struct tcp_seg *seg)
{
    if (seq_lt(seg->seq, c->rcv.nxt)) {
        uint32_t skip = c->rcv.nxt - seg->seq;
        if (skip > seg->data_len)
            skip = seg->data_len; /* cannot happen for acceptable segments */
        seg->data += skip;
        seg->data_len -= skip;
        seg->seq += skip;
    }
    uint32_t wnd_end = c->rcv.nxt + c->rcv.wnd;
    uint32_t end = seg->seq + seg_len(seg);
    if (seq_gt(end, wnd_end)) {
        uint32_t excess = end - wnd_end;
        if (seg->flags & TCP_FIN) {
            seg->flags &= (uint8_t)~TCP_FIN;
            excess--;
        }
        seg->data_len -= excess < seg->data_len ? excess : seg->data_len;
    }
}

/* A zero-window probe (or keep-alive) in the form Linux and others send:
 * no text, no SYN, RST or FIN, SEG.SEQ = RCV.NXT - 1. It is outside the
 * window by design, so that we answer with an ACK; but its own ACK field
 * and window are as fresh as any segment's. RFC 9293 §3.10.7.4: "If the
 * RCV.WND is zero, no segments will be acceptable, but special allowance
 * should be made to accept valid ACKs, URGs, and RSTs". When the peer's
 * last real ACK was lost and our window is shut, its probes are the only
 * ACKs it sends: ignoring them would leave us retransmitting acknowledged
 * data with a backed-off timer. A synchronized state that still takes
 * ACKs (not TIME-WAIT, where the first step's ACK is the whole answer). */
static bool is_window_probe(const struct tcp_conn *c, const struct tcp_seg *seg)
{
    return seg->wire_len == 0 && !(seg->flags & (TCP_SYN | TCP_RST | TCP_FIN)) &&
           seg->seq == c->rcv.nxt - 1 && tcp_synchronized(c->state) &&
           c->state != TCP_TIME_WAIT;
}

static bool check_sequence(struct ustack *st, struct tcp_conn *c,
                           struct tcp_seg *seg)
{
    bool control = seg->flags & (TCP_SYN | TCP_RST);
    if (segment_acceptable(c, seg)) {
        if (!control)
            trim_to_window(c, seg);
        return true;
    }
    /* The probe goes on to the ACK checks (RFC 5961 §5.2 included), with
     * no text to process; other_states() answers it with an ACK, as any
     * unacceptable segment is. */
    if (is_window_probe(c, seg)) {
        STAT_INC(st, tcp_rx_probe_acks);
        return true;
    }
    /* "If the RCV.WND is zero, no segments will be acceptable, but special
     * allowance should be made to accept valid ACKs, URGs, and RSTs": a
     * segment at RCV.NXT goes on without its text, and gets an ACK that
     * repeats our zero window. */
    if (c->rcv.wnd == 0 && seg->seq == c->rcv.nxt && !(seg->flags & TCP_SYN)) {
        seg->data_len = 0;
        seg->flags &= (uint8_t)~TCP_FIN;
        if (!(seg->flags & TCP_RST))
            c->ack_pending = true;
        return true;
    }
    /* "If an incoming segment is not acceptable, an acknowledgment should
     * be sent in reply (unless the RST bit is set, if so drop the segment
     * and return)". */
    if (seg->flags & TCP_RST) {
        STAT_INC(st, tcp_drop_rst_bad_seq);
        return false;
    }
    STAT_INC(st, tcp_drop_unacceptable);
    /* In TIME-WAIT this is how a retransmitted FIN arrives (it lies before
     * RCV.NXT): besides the ACK, restart the 2 MSL timeout, as the fifth
     * and eighth steps ask for that FIN. */
    if (c->state == TCP_TIME_WAIT && (seg->flags & TCP_FIN))
        tcp_enter_time_wait(st, c);
    tcp_send_ack(st, c);
    return false;
}

/* ---- second: check the RST bit ------------------------------------------------------- */

static bool check_rst(struct ustack *st, struct tcp_conn *c,
                      const struct tcp_seg *seg)
{
    if (!(seg->flags & TCP_RST))
        return true;
    /* RFC 5961 §3.2: the first step let through only RSTs inside the
     * window; of those, only an exact match of RCV.NXT resets. Any other
     * gets a challenge ACK: a genuine peer answers it with an exact RST,
     * a blind attacker cannot. */
    if (seg->seq != c->rcv.nxt) {
        STAT_INC(st, tcp_drop_rst_bad_seq);
        tcp_send_challenge_ack(st, c);
        return false;
    }
    STAT_INC(st, tcp_rst_rx);
    switch (c->state) {
    case TCP_SYN_RECEIVED:
        /* Passive OPEN: "return this connection to LISTEN state": the
         * listener carries on, this half-open child goes away quietly.
         * Active OPEN (simultaneous open): "the connection was refused". */
        if (c->passive)
            tcp_conn_closed(st, c);
        else
            tcp_conn_fail(st, c, ECONNREFUSED);
        break;
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT_1:
    case TCP_FIN_WAIT_2:
    case TCP_CLOSE_WAIT:
        /* "any outstanding RECEIVEs and SEND should receive 'reset'
         * responses ... enter the CLOSED state, delete the TCB". */
        tcp_conn_fail(st, c, ECONNRESET);
        break;
    case TCP_CLOSING:
    case TCP_LAST_ACK:
    case TCP_TIME_WAIT:
        /* "enter the CLOSED state, delete the TCB, and return". (RFC 1337
         * discusses ignoring RSTs in TIME-WAIT; RFC 9293 keeps this rule.) */
        tcp_conn_closed(st, c);
        break;
    default:
        break;
    }
    return false;
}

/* ---- fourth: check the SYN bit ------------------------------------------------------- */

static bool check_syn(struct ustack *st, struct tcp_conn *c,
                      const struct tcp_seg *seg)
{
    if (!(seg->flags & TCP_SYN))
        return true;
    if (c->state == TCP_SYN_RECEIVED && c->passive) {
        /* "If the connection was initiated with a passive OPEN, then
         * return this connection to the LISTEN state and return." */
        STAT_INC(st, tcp_drop_in_state);
        tcp_conn_closed(st, c);
        return false;
    }
    /* Every synchronized state: RFC 5961 §4.2, "irrespective of the
     * sequence number, TCP endpoints MUST send a 'challenge ACK'" and
     * drop the segment. A peer that really restarted answers the
     * challenge with a RST carrying the exact sequence number. */
    tcp_send_challenge_ack(st, c);
    return false;
}

/* ---- fifth: check the ACK field ------------------------------------------------------ */

/* The ACK processing of ESTABLISHED: "If SND.UNA < SEG.ACK =< SND.NXT,
 * then set SND.UNA <- SEG.ACK. Any segments on the retransmission queue
 * that are thereby entirely acknowledged are removed." Our retransmission
 * queue is the send ring: acknowledged bytes leave its head. SYN and FIN
 * take a sequence number but no byte of the ring. Returns the data bytes
 * acknowledged (what congestion control counts, RFC 3465). */
static uint32_t acknowledge(struct ustack *st, struct tcp_conn *c, uint32_t ack)
{
    uint32_t acked = ack - c->snd.una;
    if (!c->syn_acked)
        acked--; /* our SYN */
    c->syn_acked = true;
    if (c->fin_sent && seq_in_range(c->fin_seq, c->snd.una, ack))
        acked--; /* our FIN */
    ringbuf_consume(&c->sndbuf, acked);
    c->bytes_acked += acked;
    c->snd.una = ack;
    if (seq_lt(c->send_next, ack))
        c->send_next = ack;
    tcp_rtt_on_ack(st, c, ack);
    tcp_notify(st, c); /* room in the send buffer */
    return acked;
}

/* RFC 5681 §2: "An acknowledgment is considered a 'duplicate' ... when
 * (a) the receiver of the ACK has outstanding data, (b) the incoming
 * acknowledgment carries no data, (c) the SYN and FIN bits are both off,
 * (d) the acknowledgment number is equal to the greatest acknowledgment
 * received on the given connection (TCP.UNA from RFC 793) and (e) the
 * advertised window in the incoming acknowledgment equals the advertised
 * window in the last incoming acknowledgment." Answers to our window
 * probes are not: the window is shut, nothing was lost. With SACK, RFC
 * 6675 §2 replaces (e): a duplicate is an ACK whose SACK blocks report
 * data not SACKed before (newly_sacked bytes), whatever its window. */
static bool is_duplicate_ack(const struct tcp_conn *c, const struct tcp_seg *seg,
                             uint32_t newly_sacked)
{
    if (c->snd.una == c->snd.nxt || seg->wire_len != 0 ||
        (seg->flags & (TCP_SYN | TCP_FIN)) || seg->ack != c->snd.una)
        return false;
    /* A window probe or keep-alive from the peer is sent by its timer, not
     * caused by a segment of ours arriving out of order. */
    if (is_window_probe(c, seg))
        return false;
    if (c->opt.sack && seg->opts.sack_count > 0)
        return newly_sacked > 0;
    return seg->wnd == c->snd.wnd && c->snd.wnd != 0;
}

static void process_ack(struct ustack *st, struct tcp_conn *c,
                        const struct tcp_seg *seg)
{
    c->probes = 0; /* the peer is answering */
    /* "If the ACK is a duplicate (SEG.ACK =< SND.UNA), it can be
     * ignored", except for fast retransmit (RFC 5681), which looks at
     * the window the ACK carries before it is taken. */
    /* Congestion control and loss recovery (tcp_cc.c) see every ACK:
     * new data acknowledged (cwnd growth, partial and full ACKs of RFC
     * 6582), or a duplicate (fast retransmit, RFC 5681 §3.2); the SACK
     * scoreboard first takes the blocks (RFC 6675 Update()). An
     * algorithm that models the path gets the ACK's delivery sample after
     * all of that (tcp_cc_ack_end). */
    struct tcp_cc_ack_mark mark;
    tcp_cc_ack_begin(c, &mark);
    if (seq_lt(c->snd.una, seg->ack)) {
        uint32_t flight = tcp_cc_in_flight(c);
        tcp_ts_rtt(st, c, seg); /* RFC 7323 §4: RTT from the echo */
        uint32_t acked = acknowledge(st, c, seg->ack); /* data bytes */
        tcp_sack_update(st, c, seg);
        tcp_cc_new_ack(st, c, acked, flight);
    } else {
        uint32_t newly_sacked = tcp_sack_update(st, c, seg);
        if (is_duplicate_ack(c, seg, newly_sacked))
            tcp_cc_dup_ack(st, c);
    }
    tcp_cc_ack_end(st, c, &mark);
    /* "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be
     * updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and
     * SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ,
     * and set SND.WL2 <- SEG.ACK." The WL1/WL2 test keeps an old,
     * reordered segment from moving the window back. A window probe's
     * SEG.SEQ is RCV.NXT - 1 on purpose: it stands for RCV.NXT, the next
     * octet its sender has for us, so that its (current) window is taken
     * as a pure ACK's at RCV.NXT would be. */
    uint32_t seq = is_window_probe(c, seg) ? seg->seq + 1 : seg->seq;
    if (seq_leq(c->snd.una, seg->ack) &&
        (seq_lt(c->snd.wl1, seq) ||
         (c->snd.wl1 == seq && seq_leq(c->snd.wl2, seg->ack)))) {
        bool opened = c->snd.wnd == 0 && seg->wnd > 0;
        set_send_window(c, seg);
        c->snd.wl1 = seq;
        if (opened)
            tcp_notify(st, c);
    }
    tcp_tlp_on_ack(st, c, seg); /* after recovery saw the ACK */
    TCP_TRACE(st, c, USTACK_TRACE_ACK); /* if SND.UNA or cwnd moved */
}

/* RFC 5961 §5.2: an ACK is acceptable only if
 * (SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT. Anything else is
 * discarded, with an ACK back (rate-limited like other challenge ACKs):
 * data riding on such a segment is the blind injection the RFC guards
 * against. The upper bound is also RFC 9293's "if the ACK acks something
 * not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment". */
static bool ack_in_limits(struct ustack *st, struct tcp_conn *c,
                          const struct tcp_seg *seg)
{
    if (seq_gt(seg->ack, c->snd.nxt)) {
        STAT_INC(st, tcp_drop_ack_unsent);
        tcp_send_challenge_ack(st, c);
        return false;
    }
    if (seq_lt(seg->ack, c->snd.una - c->max_snd_wnd)) {
        STAT_INC(st, tcp_drop_bad_ack);
        tcp_send_challenge_ack(st, c);
        return false;
    }
    return true;
}

/* SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED
 * state and continue processing with the variables below set to:
 * SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK. If the
 * segment acknowledgment is not acceptable, form a reset segment
 * <SEQ=SEG.ACK><CTL=RST> and send it." */
static bool syn_received_ack(struct ustack *st, struct tcp_conn *c,
                             const struct tcp_seg *seg)
{
    if (!(seq_lt(c->snd.una, seg->ack) && seq_leq(seg->ack, c->snd.nxt))) {
        STAT_INC(st, tcp_drop_bad_ack);
        tcp_send_rst_reply(st, seg);
        return false;
    }
    struct tcp_conn *l = c->listener;
    if (l && l->listen.accept_q.len >= l->listen.backlog) {
        /* No room to hand the connection over: stay half-open; the next
         * segment from the peer (or our SYN-ACK retransmission, which it
         * answers) tries again. */
        STAT_INC(st, tcp_accept_queue_full);
        return false;
    }
    tcp_conn_init_buffers(c);
    tcp_set_state(st, c, TCP_ESTABLISHED);
    set_send_window(c, seg);
    tcp_rtt_handshake_done(st, c);
    if (l) {
        tcp_queue_remove(c);
        tcp_queue_push(&l->listen.accept_q, c);
        tcp_notify(st, l);
    } else {
        tcp_notify(st, c); /* a simultaneous open completed */
    }
    /* A CLOSE (or SHUT_WR) that came during SYN-RECEIVED was queued "for
     * processing after entering ESTABLISHED state" (§3.10.4). */
    if (c->fin_pending)
        tcp_set_state(st, c, TCP_FIN_WAIT_1);
    return true;
}

static void enter_fin_wait_2(struct ustack *st, struct tcp_conn *c)
{
    tcp_set_state(st, c, TCP_FIN_WAIT_2);
    /* A closed connection whose peer never closes would wait forever:
     * give it fin_wait_2_ms (not in the RFC; every stack does this). */
    if (c->released)
        tcp_timer_set(st, c, TCP_TIMER_FIN_WAIT_2,
                      st->now + (uint64_t)st->cfg.tcp.fin_wait_2_ms * 1000);
    tcp_notify(st, c);
}

static bool check_ack(struct ustack *st, struct tcp_conn *c,
                      const struct tcp_seg *seg)
{
    /* "if the ACK bit is off, drop the segment and return" */
    if (!(seg->flags & TCP_ACK)) {
        STAT_INC(st, tcp_drop_no_ack);
        return false;
    }
    if (c->state == TCP_SYN_RECEIVED && !syn_received_ack(st, c, seg))
        return false;
    if (!ack_in_limits(st, c, seg))
        return false;
    switch (c->state) {
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
        process_ack(st, c, seg);
        return true;
    case TCP_FIN_WAIT_1:
        /* "In addition to the processing for the ESTABLISHED state, if
         * the FIN segment is now acknowledged, then enter FIN-WAIT-2". */
        process_ack(st, c, seg);
        if (tcp_fin_acked(c))
            enter_fin_wait_2(st, c);
        return true;
    case TCP_FIN_WAIT_2:
        /* ESTABLISHED processing; "if the retransmission queue is empty,
         * the user's CLOSE can be acknowledged": tcp_close() never waits,
         * so there is nothing to tell. */
        process_ack(st, c, seg);
        return true;
    case TCP_CLOSING:
        /* "if the ACK acknowledges our FIN, then enter the TIME-WAIT
         * state; otherwise, ignore the segment." */
        process_ack(st, c, seg);
        if (!tcp_fin_acked(c)) {
            /* The ACK may have opened the window for data still queued
             * before our FIN, or for the FIN itself. */
            tcp_output(st, c);
            return false;
        }
        tcp_enter_time_wait(st, c);
        return true;
    case TCP_LAST_ACK:
        /* "The only thing that can arrive in this state is an
         * acknowledgment of our FIN. If our FIN is now acknowledged,
         * delete the TCB, enter the CLOSED state, and return." */
        process_ack(st, c, seg);
        if (!tcp_fin_acked(c))
            return true;
        tcp_conn_closed(st, c);
        return false;
    case TCP_TIME_WAIT:
        /* "The only thing that can arrive in this state is a
         * retransmission of the remote FIN": the eighth step (or the
         * first, for a FIN before RCV.NXT) acknowledges it. */
        return true;
    default:
        return false;
    }
}

/* ---- seventh: process the segment text ----------------------------------------------- */

/* When to acknowledge in-order text (RFC 9293 §3.8.6.3, RFC 1122
 * §4.2.3.2, RFC 5681 §4.2): at once when the segment filled (part of) a
 * gap, so the sender learns of the repair; otherwise the ACK may wait
 * delack_ms for data of ours to ride on, but never past the second
 * segment: "an ACK should be generated for at least every second
 * full-sized segment" (we count every segment, full-sized or not). */
static void ack_in_order_text(struct tcp_conn *c, bool filled_gap)
{
    if (filled_gap || ++c->rcv_segs_unacked >= 2)
        c->ack_pending = true;
    else
        c->ack_delayed = true;
}

/* In-order text: into the receive buffer. The first step trimmed it to
 * the window, and the window never exceeds the free space, so it fits,
 * unless the ring's storage cannot grow (out of memory): then only what
 * was stored is taken and acknowledged, and the peer resends the rest. */
static void receive_in_order(struct ustack *st, struct tcp_conn *c,
                             const struct tcp_seg *seg)
{
    bool gap = c->reass.count > 0; /* held text waits past a hole */
    uint32_t n = seg->data_len;
    if (!c->rd_shutdown) /* after SHUT_RD, text is acknowledged and dropped */
        n = (uint32_t)ringbuf_write(&c->rcvbuf, seg->data, n);
    c->rcv.nxt += n;
    /* Held text this segment has reached follows it into the stream. */
    uint32_t held = c->rd_shutdown ? 0 : tcp_reass_pull(c);
    c->rcv.nxt += held;
    n += held;
    c->rcv.wnd -= n < c->rcv.wnd ? n : c->rcv.wnd;
    c->bytes_received += n;
    STAT_ADD(st, tcp_rx_data_bytes, n);
    /* "Send an acknowledgment of the form <SEQ=SND.NXT><ACK=RCV.NXT>
     * <CTL=ACK>. This acknowledgment should be piggybacked on a segment
     * being transmitted if possible": tcp_output() does that. */
    ack_in_order_text(c, gap);
    tcp_notify(st, c);
}

/* Text beyond RCV.NXT, after a gap: held for later processing (SHLD-31,
 * tcp_reass.c). An immediate duplicate ACK tells the sender where the gap
 * starts (RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate
 * duplicate ACK when an out-of-order segment arrives"); three of them
 * make it retransmit (§3.2). */
static void receive_out_of_order(struct ustack *st, struct tcp_conn *c,
                                 const struct tcp_seg *seg)
{
    if (!c->rd_shutdown && tcp_reass_hold(c, seg))
        STAT_INC(st, tcp_rx_out_of_order);
    else
        STAT_INC(st, tcp_drop_out_of_order);
    c->ack_pending = true;
}

static bool process_text(struct ustack *st, struct tcp_conn *c,
                         const struct tcp_seg *seg)
{
    if (seg->data_len == 0)
        return true;
    switch (c->state) {
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT_1:
    case TCP_FIN_WAIT_2:
        /* After CLOSE nobody can read the text: "If such a host issues a
         * CLOSE call while received data is still pending ..., or if new
         * data is received after CLOSE is called, its TCP SHOULD send a
         * RST to show that data was lost" (RFC 1122 §4.2.2.13). */
        if (c->released) {
            STAT_INC(st, tcp_rst_data_after_close);
            tcp_send_rst(st, c);
            tcp_conn_closed(st, c);
            return false;
        }
        if (seg->seq == c->rcv.nxt)
            receive_in_order(st, c, seg);
        else
            receive_out_of_order(st, c, seg);
        return true;
    default:
        /* CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not
         * occur since a FIN has been received from the remote side.
         * Ignore the segment text." */
        STAT_INC(st, tcp_drop_in_state);
        return true;
    }
}

/* ---- eighth: check the FIN bit ------------------------------------------------------- */

static void check_fin(struct ustack *st, struct tcp_conn *c,
                      const struct tcp_seg *seg)
{
    /* Only a FIN in sequence counts, one that every byte before it has
     * reached: this segment's (if its text went in, in order), or one the
     * reassembly queue held until the text before it arrived. */
    bool own = (seg->flags & TCP_FIN) && seg->seq + seg->data_len == c->rcv.nxt;
    if (!tcp_reass_fin_reached(c) && !own)
        return;
    /* "advance RCV.NXT over the FIN, and send an acknowledgment for the
     * FIN". The FIN takes a sequence number but no buffer space; keeping
     * RCV.NXT+RCV.WND in place keeps the window edge where it was. */
    c->rcv.nxt += 1;
    if (c->rcv.wnd)
        c->rcv.wnd--;
    c->fin_received = true;
    c->ack_pending = true;
    switch (c->state) {
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
        tcp_set_state(st, c, TCP_CLOSE_WAIT);
        break;
    case TCP_FIN_WAIT_1:
        /* "If our FIN has been ACKed (perhaps in this segment), then enter
         * TIME-WAIT ...; otherwise, enter the CLOSING state." */
        if (tcp_fin_acked(c))
            tcp_enter_time_wait(st, c);
        else
            tcp_set_state(st, c, TCP_CLOSING);
        break;
    case TCP_FIN_WAIT_2:
        tcp_enter_time_wait(st, c);
        break;
    case TCP_TIME_WAIT:
        tcp_enter_time_wait(st, c); /* "Restart the 2 MSL time-wait timeout" */
        break;
    default:
        break; /* CLOSE-WAIT, CLOSING, LAST-ACK: remain */
    }
    tcp_notify(st, c); /* end of stream is readable */
}

/* The sixth to eighth steps, then whatever output became possible. */
static void process_text_and_fin(struct ustack *st, struct tcp_conn *c,
                                 struct tcp_seg *seg)
{
    /* Sixth, check the URG bit: urgent data is not supported; its bytes
     * are delivered inline like any other (RFC 6093 §4 advises new
     * applications not to rely on urgent data). */
    if (!process_text(st, c, seg))
        return;
    check_fin(st, c, seg);
    tcp_output(st, c);
}

/* ---- §3.10.7.4 Other states --------------------------------------------------------- */

/* Our SYN-ACK was lost and the peer sent its SYN again (SEG.SEQ = IRS):
 * the first step would answer with a bare ACK, which a peer in SYN-SENT
 * ignores, so answer with the SYN-ACK again instead. */
static bool is_retransmitted_syn(const struct tcp_conn *c, const struct tcp_seg *seg)
{
    return c->state == TCP_SYN_RECEIVED && (seg->flags & TCP_SYN) &&
           !(seg->flags & (TCP_ACK | TCP_RST)) && seg->seq == c->rcv.irs;
}

static void other_states(struct ustack *st, struct tcp_conn *c,
                         struct tcp_seg *seg)
{
    if (is_retransmitted_syn(c, seg)) {
        tcp_send_syn(st, c);
        return;
    }
    /* RFC 7323 §2.3: "The window field (SEG.WND) in the header of every
     * incoming segment, with the exception of <SYN> segments, MUST be
     * left-shifted by Snd.Wind.Shift bits before updating SND.WND". */
    if (c->opt.wscale && !(seg->flags & TCP_SYN))
        seg->wnd <<= c->opt.snd_shift;
    if (!tcp_ts_check(st, c, seg)) /* RFC 7323 §5.3 R1: PAWS */
        return;
    bool probe = is_window_probe(c, seg); /* outside the window, by design */
    if (!check_sequence(st, c, seg)) /* first */
        return;
    /* A probe takes the path of an acceptable segment only for its ACK:
     * TS.Recent moves with acceptable segments alone (RFC 7323 §5.3 R3),
     * and our keep-alive still waits for an answer to our own probe. */
    if (!probe) {
        tcp_ts_record(st, c, seg); /* R3: TS.Recent from acceptable segments */
        tcp_peer_heard(st, c); /* an acceptable segment: the peer is alive */
    }
    if (!check_rst(st, c, seg)) /* second */
        return;
    /* third: "check security": RFC 9293 leaves IP security compartments
     * to implementations that use them; we do not. */
    if (!check_syn(st, c, seg)) /* fourth */
        return;
    tcp_tlp_check_dsack(c, seg); /* a D-SACK lies outside what validation keeps */
    tcp_sack_validate(st, c, seg); /* before the fifth step reads them */
    if (!check_ack(st, c, seg)) /* fifth */
        return;
    if (probe)
        c->ack_pending = true; /* the answer the probe asks for */
    process_text_and_fin(st, c, seg); /* sixth, seventh, eighth */
}

void tcp_input(struct ustack *st, const struct ip4_rx *ip)
{
    struct tcp_seg seg;
    STAT_INC(st, tcp_rx);
    if (!parse_segment(st, ip, &seg))
        return;
    struct tcp_conn *c = tcp_conn_lookup(st, seg.dst, seg.dport, seg.src, seg.sport);
    if (c) {
        if (c->state == TCP_SYN_SENT)
            syn_sent_state(st, c, &seg);
        else
            other_states(st, c, &seg);
        return;
    }
    struct tcp_conn *l = tcp_listener_lookup(st, seg.dst, seg.dport);
    if (l)
        listen_state(st, l, &seg);
    else
        closed_state(st, &seg);
}
