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
 * one segment and starts over from SND.UNA. Instead the segment at
 * SND.UNA (whose retransmission holds everything up) goes once more.
 * Once per recovery episode: when many holes remain (a slow start that
 * overshot a queue by hundreds of segments), one retransmission per PTO
 * would crawl through them while keeping the RTO from firing, so after
 * the one try the RTO's go-back-N decides.
 *
 * Lost retransmissions (during RFC 6675 recovery): RFC 6675 marks a hole
 * lost once DupThresh segments above it are SACKed, and HighRxt keeps it
 * from being sent twice, so a retransmission lost again waits for the
 * RTO. The same rule is applied to the retransmission of the segment at
 * SND.UNA, the one that holds up the cumulative ACK: SND.NXT is noted
 * when it goes; once more than (DupThresh - 1) * SMSS bytes from there on
 * are SACKed while SND.UNA stays put, data sent after it arrived and it
 * did not, so it goes again (and congestion control is told, as the loss
 * happened in a window after recovery began). Every repeat needs another
 * DupThresh segments' worth of new data SACKed, so it cannot run away.
 */
#include "tcp/tcp_int.h"

#define TLP_PTO_NO_RTT_US 1000000u /* RFC 8985 §7.2: 1 s without an SRTT */
#define TLP_WCDELACK_US 200000u    /* WCDelAckT, the worst delayed ACK */
#define TLP_PTO_MIN_US 2000u       /* 2 G, G = 1 ms (RFC 6298 §2) */

/* ---- Tail loss probe -------------------------------------------------------- */

/* Should the probe timer run? With SACKed data it is the reordering
 * timeout (see the top), which may also follow a probe. */
static bool timer_applies(const struct ustack *st, const struct tcp_conn *c)
{
    if (st->cfg.tcp.tlp_off || !c->opt.sack || !tcp_may_send(c->state) ||
        c->cc.cwnd == 0 || c->snd.una == c->snd.nxt ||
        !tcp_timer_running(c, TCP_TIMER_RTX))
        return false;
    if (tcp_sack_recovering(c)) /* the stall timeout, once per recovery */
        return !c->tlp.stall_set || c->tlp.stall_recover != c->rec.recover;
    return !c->rec.active && (c->sacked.count > 0 || !c->tlp.episode);
}

/* RFC 8985 §7.2 TLP_calc_PTO, with our floor. */
static uint64_t probe_timeout(const struct tcp_conn *c)
{
    if (c->rtt.srtt == 0)
        return TLP_PTO_NO_RTT_US;
    uint64_t pto = 2 * (uint64_t)c->rtt.srtt;
    if (c->snd.nxt - c->snd.una <= c->snd_mss) /* FlightSize: one segment */
        pto += TLP_WCDELACK_US;
    return pto > TLP_PTO_MIN_US ? pto : TLP_PTO_MIN_US;
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

/* SACK recovery made no progress for a PTO: nothing came back for what
 * it sent, so the retransmission that holds SND.UNA back is taken as lost
 * too, and sent again; once for each SND.UNA, then the RTO decides. */
static void recovery_stall(struct ustack *st, struct tcp_conn *c)
{
    uint32_t hole_end = tcp_sack_next_sacked(c, c->snd.una, c->snd.nxt);
    uint32_t len = hole_end - c->snd.una;
    if (len > c->snd_mss)
        len = c->snd_mss;
    c->tlp.stall_set = true;
    c->tlp.stall_recover = c->rec.recover;
    if (tcp_retransmit_range(st, c, c->snd.una, len))
        STAT_INC(st, tcp_tlp_stall_retransmits);
}

bool tcp_tlp_timeout(struct ustack *st, struct tcp_conn *c)
{
    if (!timer_applies(st, c))
        return true; /* things changed; the next output re-arms if need be */
    if (tcp_sack_recovering(c)) {
        recovery_stall(st, c);
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
    c->tlp.episode = true;
    c->tlp.end_seq = c->snd.nxt;
    c->tlp.probe_seq = seq;
    c->tlp.dsacked = false;
    c->tlp.flight = out;
    STAT_INC(st, tcp_tlp_probes);
    tcp_rtx_timer_start(st, c); /* §7.3: "re-arm the RTO timer" */
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
    if (c->tlp.dsacked)
        STAT_INC(st, tcp_tlp_ack_losses); /* only ACKs were lost */
    else
        probe_repaired_loss(st, c);
}

void tcp_tlp_reset(struct tcp_conn *c)
{
    c->tlp.episode = false;
}

/* ---- Lost retransmissions ------------------------------------------------------- */

void tcp_tlp_sent(struct tcp_conn *c, uint32_t seq, bool retransmission)
{
    if (!retransmission || seq != c->snd.una)
        return;
    c->tlp.rxt_valid = true;
    c->tlp.rxt_una = seq;
    c->tlp.rxt_mark = c->snd.nxt;
}

void tcp_tlp_lost_retransmit(struct ustack *st, struct tcp_conn *c)
{
    if (st->cfg.tcp.tlp_off || !c->tlp.rxt_valid || c->tlp.rxt_una != c->snd.una || !tcp_sack_recovering(c))
        return;
    uint32_t after = c->sacked.bytes - tcp_sack_bytes_below(c, c->tlp.rxt_mark);
    if (after <= (uint32_t)(TCP_DUPTHRESH - 1) * c->snd_mss)
        return;
    uint32_t hole_end = tcp_sack_next_sacked(c, c->snd.una, c->snd.nxt);
    uint32_t len = hole_end - c->snd.una;
    if (len > c->snd_mss)
        len = c->snd_mss;
    uint32_t flight = tcp_cc_in_flight(c);
    if (!tcp_retransmit_range(st, c, c->snd.una, len))
        return; /* the peer's window; the RTO still watches */
    STAT_INC(st, tcp_lost_retransmits);
    c->cc.ops->on_congestion(c, TCP_CC_LOSS_FAST, flight, st->now);
    c->cc.ca_acked = 0;
}
