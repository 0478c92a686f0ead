/*
 * Two ways to repair a loss without waiting for the retransmission timer
 * (tcp_tlp.c):
 *
 *   the tail loss probe (RFC 8985 §7): when the last segments of a flight,
 *     or the ACKs for them, are lost, no duplicate ACK comes back to start
 *     fast retransmit, and only the RTO would resend them, cutting cwnd to
 *     one segment. A probe timeout (PTO) of about two round trips sends
 *     the last segment again first; the ACK it draws either shows that
 *     everything arrived or carries the SACK blocks that let recovery
 *     start. Up to TCP_TLP_MAX_TRIES probes, each after twice the
 *     previous wait, before the RTO decides;
 *   lost retransmissions during SACK recovery: RFC 6675 sends each hole
 *     once, so a retransmission that is lost again costs an RTO. Once
 *     DupThresh segments' worth of data sent after a retransmission has
 *     been SACKed, that retransmission is taken as lost (the reasoning of
 *     RFC 6675's IsLost, applied to the retransmission) and sent again.
 *
 * The probe timer doubles as a reordering timeout: when the peer has
 * SACKed data above a hole that a whole PTO later is still there, fast
 * recovery begins without waiting for DupThresh duplicate ACKs (RACK's
 * time-based reasoning, RFC 8985 §6, for flights too small for three).
 *
 * And in SACK recovery, a PTO without any ACK means what recovery sent
 * last is lost too: its retransmissions go again, the one at SND.UNA
 * first; up to TCP_TLP_MAX_TRIES times in one recovery, each after twice
 * the previous wait, before the RTO decides.
 *
 * All of this works only when the peer SACKs (as Linux's TLP does): without SACK
 * blocks an ACK cannot tell what the probe or the later data found.
 */
#ifndef USTACK_TCP_TCP_TLP_H
#define USTACK_TCP_TCP_TLP_H

#include <stdbool.h>
#include <stdint.h>

struct ustack;
struct tcp_conn;
struct tcp_seg;

/* Probes per episode, and stalled-recovery retransmissions per recovery,
 * before the retransmission timer is left to decide. */
#define TCP_TLP_MAX_TRIES 3
/* Retransmissions watched for loss at a time (8 bytes each in every TCB):
 * the lowest ones, which hold up SND.UNA first. A flight that loses more
 * segments than this at once has its higher ones watched as the lower
 * ones are acknowledged and they go again, or the stall timeout repairs
 * them. */
#define TCP_TLP_RXT_MARKS 8

struct tcp_tlp {
    /* Tail loss probe. */
    uint32_t armed_una;  /* SND.UNA and SND.NXT when the PTO was armed: */
    uint32_t armed_nxt;  /* new data or a new ACK re-arms it (§7.2) */
    bool episode;        /* a probe is out (TLP.end_seq defined) ... */
    uint8_t probes;      /* ... how many so far (1..TCP_TLP_MAX_TRIES) */
    uint32_t end_seq;    /* ... TLP.end_seq: SND.NXT when it went */
    uint32_t probe_seq;  /* ... the retransmitted range [probe_seq, */
                         /*     end_seq) */
    uint32_t flight;     /* ... FlightSize when it went */
    bool dsacked;        /* ... a D-SACK (RFC 2883) reported a probe as
                            a duplicate */
    uint32_t probe_tsval; /* ... the TSval of the first probe */
    /* Lost retransmissions: the latest retransmission of each of the
     * lowest TCP_TLP_RXT_MARKS segments sent again, ascending by seq. */
    struct {
        uint32_t seq;    /* the segment starting here went again ... */
        uint32_t mark;   /* ... when SND.NXT was here */
    } rxt[TCP_TLP_RXT_MARKS];
    uint8_t rxt_count;
    uint8_t stalls;         /* times SACK recovery stalled (no ACK for
                               a PTO) ... */
    uint32_t stall_recover; /* ... in the recovery with this RecoveryPoint */
};

/* After output (new data, ACKs processed): arm, re-arm or stop the probe
 * timer for c's state (RFC 8985 §7.2). */
void tcp_tlp_update(struct ustack *st, struct tcp_conn *c);
/* The probe timer (TCP_TIMER_LOSS_PROBE) expired: send the probe (§7.3).
 * Returns true (c always survives). */
bool tcp_tlp_timeout(struct ustack *st, struct tcp_conn *c);
/* Before the SACK blocks of seg are validated: note a D-SACK that
 * reports the probe as a duplicate. */
void tcp_tlp_check_dsack(struct tcp_conn *c, const struct tcp_seg *seg);
/* An ACK was processed: end the probe's episode once SEG.ACK covers it,
 * with the congestion response if the probe repaired a loss (§7.4). */
void tcp_tlp_on_ack(struct ustack *st, struct tcp_conn *c, const struct tcp_seg *seg);
/* A retransmission timeout: the episode, if any, is over. */
void tcp_tlp_reset(struct tcp_conn *c);

/* A segment starting at seq went out (retransmission: it was sent
 * before): remember what SND.NXT was when it was sent again. */
void tcp_tlp_sent(struct tcp_conn *c, uint32_t seq, bool retransmission);
/* During SACK recovery, before NextSeg(): send again the retransmissions
 * that are lost too. */
void tcp_tlp_lost_retransmit(struct ustack *st, struct tcp_conn *c);

#endif
