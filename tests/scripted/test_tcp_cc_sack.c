/*
 * SACK-based loss recovery (RFC 6675) with NewReno's window arithmetic
 * (ssthresh = FlightSize / 2): several losses in one window repaired in
 * about one round trip, in sequence order, SACKed data never sent again.
 *
 * The peer offers SACK-permitted (no timestamps, no window scale) and
 * SACKs what it holds; the blocks are written in segment numbers: segment
 * k is [1 + (k-1)*1460, 1 + k*1460) (cc_script.h), a block {a, b} covers
 * segments a .. b-1, and the most recent block comes first (RFC 2018 §4).
 */
#include <stdio.h>

#include "cc_script.h"
#include "tcpscript.h"
#include "test.h"
#include "ustack/socket.h"

#define MSS 1460u

static struct ts *new_ts_sack_tlp(bool tlp)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.congestion = USTACK_TCP_CC_NEWRENO;
    cfg.tcp.tlp_off = !tlp;
    return ts_new_with(&cfg);
}

static struct ts *new_ts_sack(void)
{
    return new_ts_sack_tlp(true);
}

/* Handshake with SACK-permitted both ways; returns the accepted socket. */
static int sack_open(struct ts *ts)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, sackOK>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460, nop, nop, sackOK>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    return ts_accept(ts, lsd);
}

TEST(test_tcp_cc_sack_three_losses_one_round_trip)
{
    struct ts *ts = new_ts_sack();
    int sd = sack_open(ts);
    uint64_t rtx0 = ts_stat(ts, "tcp.retransmits");
    uint64_t rec0 = ts_stat(ts, "tcp.sack_recoveries");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 30 * MSS), 30 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    ts_out_none(ts);
    /* Segments 1, 4 and 7 are lost. The arrival of 2 and 3: duplicate
     * ACKs 1 and 2; each SACKed segment has left the network, so one new
     * segment goes for each (RFC 6675 §5 (3.c), limited transmit). */
    cc_sack_ack(ts, MSS, 1, 1, 2, 3);
    cc_out_segs(ts, 11, 11, MSS);
    ts_out_none(ts);
    cc_sack_ack(ts, MSS, 1, 1, 2, 4);
    cc_out_segs(ts, 12, 12, MSS);
    ts_out_none(ts);
    /* 5 arrives: DupThresh. Recovery (§5 step 4): RecoveryPoint = 12's
     * end, ssthresh = cwnd = FlightSize / 2 (10 segments, the 2 of limited
     * transmit left out), and segment 1 goes again. pipe = 9 segments
     * (1 retransmitted, 4 not yet lost, 6..12) > cwnd: nothing more. */
    cc_sack_ack(ts, MSS, 1, 2, 5, 6, 2, 4);
    cc_out_segs(ts, 1, 1, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 5 * MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 5 * MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_recoveries") - rec0, 1);
    /* 6, 8, 9: 4 becomes lost (three segments SACKed above it), pipe
     * falls to 5 = cwnd: still nothing. */
    cc_sack_ack(ts, MSS, 1, 2, 5, 7, 2, 4);
    cc_sack_ack(ts, MSS, 1, 3, 8, 9, 5, 7, 2, 4);
    cc_sack_ack(ts, MSS, 1, 3, 8, 10, 5, 7, 2, 4);
    ts_out_none(ts);
    /* 10: 7 is lost too; pipe = 3 (1 resent, 11, 12): two segments of
     * room, NextSeg rule (1) names the lost holes in order. */
    cc_sack_ack(ts, MSS, 1, 3, 8, 11, 5, 7, 2, 4);
    cc_out_segs(ts, 4, 4, MSS);
    cc_out_segs(ts, 7, 7, MSS);
    ts_out_none(ts);
    /* 11 and 12 (limited transmit) arrive: no hole left to fill, so rule
     * (2), new data, one segment each. */
    cc_sack_ack(ts, MSS, 1, 3, 8, 12, 5, 7, 2, 4);
    cc_out_segs(ts, 13, 13, MSS);
    cc_sack_ack(ts, MSS, 1, 3, 8, 13, 5, 7, 2, 4);
    cc_out_segs(ts, 14, 14, MSS);
    ts_out_none(ts);
    /* One round trip after the recovery began the retransmissions arrive,
     * in the order they went: each cumulative ACK (a partial ACK: below
     * the recovery point) leaves room for one new segment. */
    cc_sack_ack(ts, MSS, 4, 2, 5, 7, 8, 13);
    cc_out_segs(ts, 15, 15, MSS);
    ts_out_none(ts);
    cc_sack_ack(ts, MSS, 7, 1, 8, 13);
    cc_out_segs(ts, 16, 16, MSS);
    ts_out_none(ts);
    /* 7 fills the last hole: the ACK reaches the recovery point (the end
     * of 12), recovery ends with cwnd = ssthresh (it was never inflated). */
    cc_ack_to(ts, 13, MSS);
    cc_out_segs(ts, 17, 17, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 5 * MSS);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 5 * MSS);
    /* Three retransmissions in all (1, 4, 7): no SACKed segment again. */
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.retransmits") - rtx0, 3);
    ts_free(ts);
}

TEST(test_tcp_cc_sack_after_timeout_skips_sacked)
{
    /* Every ACK of the first window is lost: the timeout resends segment
     * 1 and forgets the scoreboard (RFC 6675 §5.1). The peer's answer
     * SACKs 6..10 (it lacks 5): going back from SND.UNA, output resends
     * the hole and skips what is SACKed, straight to new data. The tail
     * loss probe, which would resend 10 first, is off (test_tcp_tlp.c). */
    struct ts *ts = new_ts_sack_tlp(false);
    int sd = sack_open(ts);
    uint64_t rtx0 = ts_stat(ts, "tcp.retransmits");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 30 * MSS), 30 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    ts_out_after(ts, 1000, "P?. 1:1461(1460) ack 1");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), MSS);
    /* Up to 5 acknowledged: cwnd 2 segments (slow start after a timeout,
     * L = 1*SMSS): the hole 5, then new data 11. */
    cc_sack_ack(ts, MSS, 5, 1, 6, 11);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 2 * MSS);
    cc_out_segs(ts, 5, 5, MSS);
    cc_out_segs(ts, 11, 11, MSS);
    ts_out_none(ts);
    cc_ack_to(ts, 12, MSS);
    cc_out_segs(ts, 12, 14, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.retransmits") - rtx0, 2);
    ts_free(ts);
}

TEST(test_tcp_cc_sack_rescue_retransmission)
{
    /* NextSeg rule (4): the tail of the window is lost and nothing above
     * it will be SACKed, so once the first retransmission is acknowledged
     * and no hole is known lost, one segment ending at the highest
     * unSACKed octet goes (RescueRxt), once per recovery. Segments 1 and
     * 10 of 10 lost; 2..9 arrive. */
    struct ts *ts = new_ts_sack();
    int sd = sack_open(ts);
    uint64_t rescue0 = ts_stat(ts, "tcp.sack_rescue_retransmits");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10 * MSS), 10 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    cc_sack_ack(ts, MSS, 1, 1, 2, 3);
    cc_sack_ack(ts, MSS, 1, 1, 2, 4);
    cc_sack_ack(ts, MSS, 1, 1, 2, 5);
    cc_out_segs(ts, 1, 1, MSS); /* DupThresh: recovery, 1 again */
    for (uint32_t k = 6; k <= 10; k++)
        cc_sack_ack(ts, MSS, 1, 1, 2, k);
    ts_out_none(ts);
    /* 1 arrives: ACK up to 10. HighACK passed RescueRxt, no lost hole,
     * no new data: the rescue retransmission of 10. */
    cc_ack_to(ts, 10, MSS);
    cc_out_segs(ts, 10, 10, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_rescue_retransmits") - rescue0, 1);
    ts_free(ts);
}

TEST(test_tcp_cc_sack_peer_without_blocks_gets_newreno)
{
    /* SACK was agreed but the duplicates carry no blocks: RFC 6675 has no
     * holes to work with, so recovery is NewReno's (RFC 6582): cwnd
     * inflated, and a partial ACK resends the next hole at once. */
    struct ts *ts = new_ts_sack();
    int sd = sack_open(ts);
    uint64_t rec0 = ts_stat(ts, "tcp.sack_recoveries");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10 * MSS), 10 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    for (int i = 0; i < 3; i++)
        cc_ack_to(ts, 1, MSS);
    cc_out_segs(ts, 1, 1, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 5 * MSS + 3 * MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_recoveries") - rec0, 0);
    cc_ack_to(ts, 4, MSS); /* partial: 4 is the next hole */
    cc_out_segs(ts, 4, 4, MSS);
    ts_out_none(ts);
    ts_free(ts);
}
