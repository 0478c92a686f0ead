/*
 * Repairing tail losses and lost retransmissions before the RTO (see
 * tcp_tlp.h for what and why).
 *
 * Tail loss probe, RFC 8985 §7:
 *   - §7.2 the probe timer runs while data is out on a SACK connection
 *     that is not recovering (no fast recovery, no timeout recovery, no
 *     SACKed data), no probe is out yet, and the retransmission timer (not
 *     the persist timer) watches the data. New data or an ACK of new data
 *     re-arms it. PTO = 2 SRTT, plus WCDelAckT (200 ms) when only one
 *     segment is out (the peer may delay its ACK); 1 s before the first
 *     RTT sample; at least 2 ms (twice the clock granularity G of RFC
 *     6298 §2: a shorter wait is below what we can measure); and never
 *     later than the RTO would fire: a probe due then goes instead of
 *     the timeout.
 *   - §7.3 the probe: §7.3 prefers a new segment when one may go, because
 *     RACK then infers every earlier loss from its SACK. ustack detects
 *     losses by RFC 6675's DupThresh, for which one SACKed new segment is
 *     not enough; so the probe is the other segment §7.3 names, the
 *     highest-sequence one sent, again (as the original TLP did). It is
 *     sent whatever cwnd says, and the RTO is re-armed from now.
 *   - More than one probe: §7.2 allows one per episode and leaves the
 *     rest to the RTO. When the probe or its ACK is lost as well, the
 *     flight waits for the RTO, which RFC 6298 puts at 1 s at least: on a
 *     path whose round trip is tens of microseconds (a TUN device, a LAN)
 *     that is tens of thousands of round trips, and with 5% random loss
 *     it happened about once per MiB sent. So up to TCP_TLP_MAX_TRIES
 *     probes go, the PTO doubling before each further one (as the RTO
 *     backs off), each re-arming the RTO; three unanswered probes of one
 *     segment each cost the path little, and the RTO still decides after
 *     them. With more than one probe out, a D-SACK alone no longer
 *     proves that the original had arrived (a later probe may duplicate
 *     an earlier one that repaired the loss); the timestamp it echoes does
 *     (only_acks_lost()).
 *   - §7.4 the episode ends when an ACK covers TLP.end_seq. A D-SACK of the
 *     probe (RFC 2883) says the original had arrived and only ACKs were
 *     lost: nothing to do. Otherwise the probe repaired a loss and
 *     congestion control reacts as to a fast retransmit (the window of
 *     when the probe went). Recovery or a timeout meanwhile ends the
 *     episode: they make their own response.
 *
 * Reordering timeout: §7.2 runs no probe timer while SACKed data is out,
 * because RACK (RFC 8985 §6) then decides by time: data sent before data
 * that arrived, and still missing a reordering window later, is lost.
 * ustack decides by RFC 6675's DupThresh instead, which small flights
 * never reach: with three or four segments out, one lost and the rest
 * SACKed, no third duplicate comes, and the RTO would have to repair it.
 * So with SACKed data the same timer runs, and when a PTO (about two round
 * trips) passes with the hole still there, RACK's conclusion is drawn:
 * the data at SND.UNA is lost, and fast recovery begins (RFC 6675 §5
 * step 4, as at DupThresh). This may also follow a probe whose SACK
 * showed a hole below it.
 *
 * Recovery stall: in SACK recovery the same timer runs too. If a whole
 * PTO passes with no ACK that moves anything, what recovery sent last is
 * lost as well, and RFC 6675 would wait for the RTO, which cuts cwnd to
 * one segment and starts over from SND.UNA. Instead RACK's conclusion is
 * drawn for every retransmission (RFC 8985 §6.2: sent a PTO, about two
 * round trips, ago and neither acknowledged nor SACKed, so lost):
 * HighRxt goes back to SND.UNA, which takes them out of the pipe and
 * makes NextSeg() name them again. The segment at SND.UNA, which holds
 * everything up, goes at once whatever cwnd says; the other holes follow
 * as cwnd allows, so many holes (a slow start that overshot a queue by
 * hundreds of segments) are resent at the pace of the window, not one per
 * PTO. A lost retransmission is a loss in a later window than the one
 * recovery began for, so congestion control hears of it again, as a fast
 * retransmit (as for the lost retransmissions below). This matters most when the peer's window is full: no new
 * data can go, so no SACK of later data can reveal the lost
 * retransmission. Up to TCP_TLP_MAX_TRIES times in one recovery, the PTO
 * doubling each time; then the RTO's go-back-N decides. (Not per SND.UNA:
 * when the scoreboard overflows, hundreds of holes look "in flight" to
 * SetPipe, and each stall would repair one hole, move SND.UNA a little and
 * start over, crawling for seconds where a timeout's slow start takes
 * milliseconds.)
 *
 * Lost retransmissions (during RFC 6675 recovery): RFC 6675 marks a hole
 * lost once DupThresh segments above it are SACKed, and HighRxt keeps it
 * from being sent twice, so a retransmission lost again waits for the
 * RTO (or here, the stall timeout). The same rule is applied to each
 * retransmission, by time of sending rather than by sequence (RACK's
 * view, RFC 8985 §6.2): SND.NXT is noted when it goes; once more than
 * (DupThresh - 1) * SMSS bytes from there on are SACKed while it is
 * neither acknowledged nor SACKed, data sent after it arrived and it did
 * not, so it goes again (and congestion control is told, as the loss
 * happened in a window after recovery began). Every repeat needs another
 * DupThresh segments' worth of new data SACKed, so it cannot run away.
 * Not only the one at SND.UNA: with 5% random loss, the retransmission
 * lost is as often that of a higher hole, which reaches SND.UNA only
 * once the holes below it are repaired, and by then its mark is what
 * tells whether the data the peer has SACKed since was sent after it.
 * Without it each such loss waited for the stall timeout (at least 2 ms,
 * tens of round trips on a LAN) while the send buffer filled up behind
 * the hole.
 */
#include <string.h>

#include "tcp/tcp_int.h"

#define TLP_PTO_NO_RTT_US 1000000u /* RFC 8985 §7.2: 1 s without an SRTT */
#define TLP_WCDELACK_US 200000u    /* WCDelAckT, the worst delayed ACK */
#define TLP_PTO_MIN_US 2000u       /* 2 G, G = 1 ms (RFC 6298 §2) */

/* ---- Tail loss probe -------------------------------------------------------- */

/* Stalls of the current SACK recovery. */
static unsigned stalls(const struct tcp_conn *c)
{
    return c->tlp.stall_recover == c->rec.recover ? c->tlp.stalls : 0;
}

/* Should the probe timer run? With SACKed data it is the reordering
 * timeout (see the top), which may also follow a probe. */
static bool timer_applies(const struct ustack *st, const struct tcp_conn *c)
{
    if (st->cfg.tcp.tlp_off || !c->opt.sack || !tcp_may_send(c->state) ||
        c->cc.cwnd == 0 || c->snd.una == c->snd.nxt ||
        !tcp_timer_running(c, TCP_TIMER_RTX))
        return false;
    if (tcp_sack_recovering(c)) /* the stall timeout */
        return stalls(c) < TCP_TLP_MAX_TRIES;
    return !c->rec.active && (c->sacked.count > 0 || !c->tlp.episode ||
                              c->tlp.probes < TCP_TLP_MAX_TRIES);
}

/* RFC 8985 §7.2 TLP_calc_PTO, with our floor, doubled for each probe or
 * stall retransmission already made (see the top). */
static uint64_t probe_timeout(const struct tcp_conn *c)
{
    if (c->rtt.srtt == 0)
        return TLP_PTO_NO_RTT_US;
    uint64_t pto = 2 * (uint64_t)c->rtt.srtt;
    if (c->snd.nxt - c->snd.una <= c->snd_mss) /* FlightSize: one segment */
        pto += TLP_WCDELACK_US;
    if (pto < TLP_PTO_MIN_US)
        pto = TLP_PTO_MIN_US;
    unsigned tries = tcp_sack_recovering(c) ? stalls(c) : c->tlp.episode ? c->tlp.probes : 0;
    return pto << tries;
}

void tcp_tlp_update(struct ustack *st, struct tcp_conn *c)
{
    if (!timer_applies(st, c)) {
        tcp_timer_stop(st, c, TCP_TIMER_LOSS_PROBE);
        return;
    }
    if (tcp_timer_running(c, TCP_TIMER_LOSS_PROBE) && c->tlp.armed_una == c->snd.una &&
        c->tlp.armed_nxt == c->snd.nxt)
        return; /* nothing new sent or acknowledged: keep the deadline */
    uint64_t when = st->now + probe_timeout(c);
    uint64_t rto_at = c->timer_at[TCP_TIMER_RTX];
    if (when >= rto_at) {
        if (rto_at <= st->now + 1) { /* the timeout is due now anyway */
            tcp_timer_stop(st, c, TCP_TIMER_LOSS_PROBE);
            return;
        }
        when = rto_at - 1; /* the probe goes instead of the timeout */
    }
    c->tlp.armed_una = c->snd.una;
    c->tlp.armed_nxt = c->snd.nxt;
    tcp_timer_set(st, c, TCP_TIMER_LOSS_PROBE, when);
}

/* A hole below SACKed data went unrepaired for a whole PTO: what lies
 * above it was sent after it and arrived, so it is lost. */
static void reorder_timeout(struct ustack *st, struct tcp_conn *c)
{
    STAT_INC(st, tcp_tlp_sack_recoveries);
    tcp_cc_loss_detected(st, c); /* retransmits SND.UNA's segment */
    tcp_output(st, c);           /* and what recovery's pipe allows */
}

/* Send [seq, the next SACKed byte) again, one segment at most, whatever
 * cwnd says. Returns the bytes sent. */
static uint32_t resend_hole(struct ustack *st, struct tcp_conn *c, uint32_t seq)
{
    uint32_t hole_end = tcp_sack_next_sacked(c, seq, c->snd.nxt);
    uint32_t len = hole_end - seq;
    return tcp_retransmit_range(st, c, seq, len < c->snd_mss ? len : c->snd_mss);
}

/* SACK recovery made no progress for a PTO: nothing came back for what
 * it sent, so its retransmissions are lost too (see the top). */
static void recovery_stall(struct ustack *st, struct tcp_conn *c)
{
    c->tlp.stalls = (uint8_t)(stalls(c) + 1);
    c->tlp.stall_recover = c->rec.recover;
    STAT_INC(st, tcp_tlp_stall_retransmits);
    uint32_t flight = tcp_cc_in_flight(c);
    c->cc.ops->on_congestion(c, TCP_CC_LOSS_FAST, flight, st->now);
    c->cc.ca_acked = 0;
    c->rec.rxt_high = c->snd.una; /* nothing retransmitted is in flight */
    uint32_t sent = resend_hole(st, c, c->snd.una);
    c->rec.rxt_high = c->snd.una + sent;
    tcp_sack_output(st, c); /* the other lost holes, as cwnd allows */
}

bool tcp_tlp_timeout(struct ustack *st, struct tcp_conn *c)
{
    if (!timer_applies(st, c))
        return true; /* things changed; the next output re-arms if need be */
    if (tcp_sack_recovering(c)) {
        recovery_stall(st, c);
        tcp_tlp_update(st, c); /* the next try, a doubled PTO later */
        return true;
    }
    if (c->sacked.count > 0) {
        reorder_timeout(st, c);
        return true;
    }
    uint32_t out = c->snd.nxt - c->snd.una;
    uint32_t len = out < c->snd_mss ? out : c->snd_mss;
    uint32_t seq = c->snd.nxt - len;
    if (!tcp_retransmit_range(st, c, seq, len))
        return true; /* a shrunken window: the RTO stays where it was, so
                        that probing cannot put it off for ever */
    if (!c->tlp.episode) {
        c->tlp.episode = true;
        c->tlp.probes = 0;
        c->tlp.dsacked = false;
        c->tlp.probe_tsval = tcp_ts_now(st, c);
        c->tlp.flight = out;
    }
    c->tlp.probes++;
    c->tlp.end_seq = c->snd.nxt;
    c->tlp.probe_seq = seq;
    STAT_INC(st, tcp_tlp_probes);
    tcp_rtx_timer_start(st, c); /* §7.3: "re-arm the RTO timer" */
    tcp_tlp_update(st, c);      /* the next probe, a doubled PTO later */
    return true;
}

void tcp_tlp_check_dsack(struct tcp_conn *c, const struct tcp_seg *seg)
{
    const struct tcp_opts *o = &seg->opts;
    if (!c->tlp.episode || !(seg->flags & TCP_ACK) || o->sack_count == 0)
        return;
    uint32_t s = o->sack[0].start, e = o->sack[0].end;
    if (!seq_lt(s, e))
        return;
    /* RFC 2883 §4: the first block is a D-SACK when it lies below the
     * cumulative ACK, or inside the second block. */
    bool dsack = seq_leq(e, seg->ack) ||
                 (o->sack_count > 1 && seq_leq(o->sack[1].start, s) &&
                  seq_leq(e, o->sack[1].end));
    if (dsack && seq_lt(s, c->tlp.end_seq) && seq_gt(e, c->tlp.probe_seq))
        c->tlp.dsacked = true;
}

/* The probe repaired a loss (RFC 8985 §7.4.2): the congestion response of
 * a fast retransmit, entered and left at once (the loss is repaired). */
static void probe_repaired_loss(struct ustack *st, struct tcp_conn *c)
{
    STAT_INC(st, tcp_tlp_repairs);
    if (!c->cc.cwnd)
        return;
    c->cc.ops->on_congestion(c, TCP_CC_LOSS_FAST, c->tlp.flight, st->now);
    c->cc.ca_acked = 0;
    c->cc.ops->on_recovery_exit(c, st->now);
}

/* Did the data the probes resent arrive before them (§7.4.1), so that
 * only ACKs were lost? A D-SACK of a probe says that copy was a duplicate.
 * With one probe that settles it. With more, the probe it names may be a
 * later one, after an earlier one repaired the loss; then the echoed
 * timestamp tells (the Eifel reasoning, RFC 3522): a peer that had the
 * data before the first probe echoes a TSval from before it, as §4.3 of
 * RFC 7323 keeps TS.Recent from duplicates; one repaired by a probe
 * echoes the probe's or a later one. */
static bool only_acks_lost(const struct tcp_conn *c, const struct tcp_seg *seg)
{
    if (!c->tlp.dsacked)
        return false;
    if (c->tlp.probes == 1)
        return true;
    return c->opt.ts && seg->opts.has_ts && seq_lt(seg->opts.tsecr, c->tlp.probe_tsval);
}

void tcp_tlp_on_ack(struct ustack *st, struct tcp_conn *c, const struct tcp_seg *seg)
{
    if (!c->tlp.episode)
        return;
    if (c->rec.active) { /* recovery or a timeout took over */
        c->tlp.episode = false;
        return;
    }
    if (seq_lt(seg->ack, c->tlp.end_seq))
        return;
    c->tlp.episode = false;
    if (only_acks_lost(c, seg))
        STAT_INC(st, tcp_tlp_ack_losses);
    else
        probe_repaired_loss(st, c);
}

void tcp_tlp_reset(struct tcp_conn *c)
{
    c->tlp.episode = false;
}

/* ---- Lost retransmissions ------------------------------------------------------- */

/* Forget the marks of segments SND.UNA has passed. */
static void rxt_drop_acked(struct tcp_conn *c)
{
    unsigned n = 0;
    while (n < c->tlp.rxt_count && seq_lt(c->tlp.rxt[n].seq, c->snd.una))
        n++;
    c->tlp.rxt_count = (uint8_t)(c->tlp.rxt_count - n);
    memmove(c->tlp.rxt, c->tlp.rxt + n, c->tlp.rxt_count * sizeof(c->tlp.rxt[0]));
}

static void rxt_remove(struct tcp_conn *c, unsigned i)
{
    c->tlp.rxt_count--;
    memmove(c->tlp.rxt + i, c->tlp.rxt + i + 1, (c->tlp.rxt_count - i) * sizeof(c->tlp.rxt[0]));
}

void tcp_tlp_sent(struct tcp_conn *c, uint32_t seq, bool retransmission)
{
    if (!retransmission)
        return;
    rxt_drop_acked(c);
    unsigned i = 0; /* where seq belongs: the list stays ascending */
    while (i < c->tlp.rxt_count && seq_lt(c->tlp.rxt[i].seq, seq))
        i++;
    if (i < c->tlp.rxt_count && c->tlp.rxt[i].seq == seq) {
        c->tlp.rxt[i].mark = c->snd.nxt; /* sent again: a new mark */
        return;
    }
    if (i == TCP_TLP_RXT_MARKS)
        return; /* above every watched one, and no room: not watched */
    if (c->tlp.rxt_count == TCP_TLP_RXT_MARKS)
        c->tlp.rxt_count--; /* the highest makes room */
    memmove(c->tlp.rxt + i + 1, c->tlp.rxt + i, (c->tlp.rxt_count - i) * sizeof(c->tlp.rxt[0]));
    c->tlp.rxt[i].seq = seq;
    c->tlp.rxt[i].mark = c->snd.nxt;
    c->tlp.rxt_count++;
}

/* Has more than (DupThresh - 1) * SMSS of what was sent after SND.NXT
 * reached `mark` been SACKed? Then a segment sent just before it, and not
 * SACKed, was lost (RFC 6675's IsLost reasoning, by time of sending). */
static bool sacked_after(const struct tcp_conn *c, uint32_t mark)
{
    uint32_t after = c->sacked.bytes - tcp_sack_bytes_below(c, mark);
    return after > (uint32_t)(TCP_DUPTHRESH - 1) * c->snd_mss;
}

void tcp_tlp_lost_retransmit(struct ustack *st, struct tcp_conn *c)
{
    if (st->cfg.tcp.tlp_off || !tcp_sack_recovering(c))
        return;
    rxt_drop_acked(c);
    uint32_t flight = tcp_cc_in_flight(c);
    bool lost = false;
    for (unsigned i = 0; i < c->tlp.rxt_count;) {
        uint32_t seq = c->tlp.rxt[i].seq;
        if (tcp_sack_skip(c, seq) != seq) { /* it arrived */
            rxt_remove(c, i);
            continue;
        }
        /* Only what this recovery resent (below HighRxt): NextSeg() will
         * name the rest anyway. Sending it again moves its mark to
         * SND.NXT (tcp_tlp_sent, which finds it at index i and changes
         * nothing else, as SND.UNA has not moved), so every repeat needs
         * another DupThresh segments SACKed. */
        if (seq_lt(seq, c->rec.rxt_high) && sacked_after(c, c->tlp.rxt[i].mark) &&
            resend_hole(st, c, seq)) {
            STAT_INC(st, tcp_lost_retransmits);
            lost = true;
        }
        i++;
    }
    /* A loss in a later window than the one recovery began for:
     * congestion control hears of it, once per ACK that reveals any.
     * (Not once per window of data: SND.UNA may sit at the lost
     * retransmission for many round trips, and in the lossy-LAN
     * simulation answering only once per window cost more timeouts, 6
     * against 4 over its 24 seeds.) */
    if (lost) {
        c->cc.ops->on_congestion(c, TCP_CC_LOSS_FAST, flight, st->now);
        c->cc.ca_acked = 0;
    }
}
