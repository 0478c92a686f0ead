/*
 * The SACK scoreboard and SACK-based loss recovery (RFC 6675), the
 * sender's side of RFC 2018.
 *
 * The scoreboard remembers which sequence ranges past SND.UNA the peer
 * reported holding, from the SACK blocks of its ACKs (RFC 6675 Update()).
 * From it, loss recovery derives which holes are lost (IsLost), how much
 * is still in the network (SetPipe) and what to send next (NextSeg), so
 * that several losses in one window are repaired in about one round trip
 * and SACKed data is never sent again.
 *
 * RFC 6675's variables and where they live:
 *   HighACK       SND.UNA
 *   HighData      SND.NXT (the highest sequence number sent, plus one)
 *   HighRxt       c->rec.rxt_high, one past the highest octet retransmitted
 *   RescueRxt     c->rec.rescue_rxt (c->rec.rescue_set: defined)
 *   RecoveryPoint c->rec.recover
 *   DupAcks       c->rec.dupacks
 *
 * The scoreboard is bounded (TCP_SACK_RANGES); when it is full the
 * highest range is forgotten, never merged with another: forgetting only
 * costs a retransmission of data the peer may hold, merging would claim
 * data it may not hold. A peer that discards SACKed data (reneging, RFC
 * 2018 §8) is covered by the retransmission timeout, which forgets the
 * whole scoreboard (RFC 6675 §5.1).
 */
#ifndef USTACK_TCP_TCP_SACK_H
#define USTACK_TCP_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

struct ustack;
struct tcp_conn;
struct tcp_seg;

/* RFC 6675 §2: DupThresh, the duplicate ACKs (or SACKed segments above a
 * hole) that mark it lost. */
#define TCP_DUPTHRESH 3

#define TCP_SACK_RANGES 32

struct tcp_sack_board {
    struct {
        uint32_t start, end;     /* [start, end): SACKed, SND.UNA < start */
    } range[TCP_SACK_RANGES];    /* ascending, apart from each other */
    uint8_t count;
    uint32_t bytes;              /* SACKed bytes in all ranges */
};

/* Forget everything (a timeout, or a new connection). */
void tcp_sack_clear(struct tcp_conn *c);
/* RFC 6675 Update(): forget what SND.UNA now covers and record the SACK
 * blocks of seg. Returns how many bytes were newly SACKed. */
uint32_t tcp_sack_update(struct ustack *st, struct tcp_conn *c,
                         const struct tcp_seg *seg);
/* RFC 6675 IsLost(seq) for an unSACKed seq: DupThresh SACKed ranges, or
 * more than (DupThresh - 1) * SMSS SACKed bytes, lie above it. */
bool tcp_sack_is_lost(const struct tcp_conn *c, uint32_t seq);
/* SACKed bytes below seq. */
uint32_t tcp_sack_bytes_below(const struct tcp_conn *c, uint32_t seq);
/* If seq is SACKed, the end of its range; else seq. */
uint32_t tcp_sack_skip(const struct tcp_conn *c, uint32_t seq);
/* The first SACKed sequence number after seq (exclusive of seq), or
 * `limit` if none comes before it. */
uint32_t tcp_sack_next_sacked(const struct tcp_conn *c, uint32_t seq,
                              uint32_t limit);
/* RFC 6675 SetPipe(): the octets still in the network during recovery. */
uint32_t tcp_sack_pipe(const struct tcp_conn *c);

/* Is c in SACK-based loss recovery (RFC 6675 §5)? */
bool tcp_sack_recovering(const struct tcp_conn *c);
/* Enter recovery (RFC 6675 §5 step 4): retransmit the segment at SND.UNA
 * (up to the first SACKed byte) and set HighRxt and RescueRxt. */
void tcp_sack_enter_recovery(struct ustack *st, struct tcp_conn *c);
/* Output during recovery, RFC 6675 §5 (C): while cwnd - pipe >= 1 SMSS,
 * send what NextSeg() names. */
void tcp_sack_output(struct ustack *st, struct tcp_conn *c);

#endif
