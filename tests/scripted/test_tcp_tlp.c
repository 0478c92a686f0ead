/*
 * Loss repair before the retransmission timeout (tcp_tlp.c):
 *   - the tail loss probe of RFC 8985 §7 on SACK connections: after a PTO
 *     of 2 SRTT (at least 2 ms; +200 ms with one segment out) without an
 *     ACK, the last segment goes again, once per episode, and the RTO is
 *     re-armed from then; its ACK either repairs a lost tail (congestion
 *     response of a fast retransmit) or, D-SACKed, shows that only ACKs
 *     were lost (no response); no probe without SACK, in recovery, or
 *     when turned off;
 *   - a lost retransmission in SACK recovery is sent again once DupThresh
 *     segments sent after it are SACKed.
 *
 * Segments cross the virtual wire in no time, so SRTT is ~0 and the PTO
 * is its 2 ms floor (200 ms with one segment out).
 */

#include "cc_script.h"
#include "tcpscript.h"
#include "tcpopts.h"
#include "test.h"
#include "ustack/socket.h"

#define MSS 1460u
#define MS 1000ull

static struct ts *new_ts_tlp(bool off)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.congestion = USTACK_TCP_CC_NEWRENO; /* ssthresh = FlightSize / 2 */
    cfg.tcp.tlp_off = off;
    return ts_new_with(&cfg);
}

/* Handshake, SACK-permitted both ways unless sack is false. */
static int tlp_open(struct ts *ts, bool sack)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    if (sack) {
        ts_in(ts, "S 0:0(0) win 65535 <mss 1460, sackOK>");
        ts_out(ts, "S. 0:0(0) ack 1 <mss 1460, nop, nop, sackOK>");
    } else {
        ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
        ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    }
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    return ts_accept(ts, lsd);
}

/* Ten segments out (the initial window) of `segs` written, nothing
 * acknowledged yet. */
static int ten_out(struct ts *ts, uint32_t segs, uint64_t *sent_at)
{
    int sd = tlp_open(ts, true);
    TS_CHECK_EQ(ts, ts_send(ts, sd, segs * MSS), segs * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    *sent_at = ts_last_time(ts);
    ts_out_none(ts);
    return sd;
}

TEST(test_tcp_tlp_probe_repairs_lost_tail)
{
    struct ts *ts = new_ts_tlp(false);
    uint64_t t0;
    ten_out(ts, 10, &t0);
    uint64_t rtx0 = ts_stat(ts, "tcp.retransmits");
    /* No ACK: at the PTO (2 ms) segment 10 goes again, and only it. */
    ts_out_at(ts, t0 + 2 * MS, "P?. 13141:14601(1460) ack 1");
    ts_none_for(ts, 3); /* a second probe would be due 4 ms later */
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_probes"), 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.retransmits") - rtx0, 1);
    /* Only 10 had been lost: the probe's ACK covers everything, without
     * a D-SACK. The probe repaired a loss: cwnd and ssthresh are what a
     * fast retransmit of that flight would leave (NewReno: 10 / 2). */
    cc_ack_to(ts, 11, MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_repairs"), 1);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 5 * MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 5 * MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 0);
    ts_none_for(ts, 3000);
    ts_free(ts);
}

TEST(test_tcp_tlp_dsack_means_only_acks_were_lost)
{
    struct ts *ts = new_ts_tlp(false);
    uint64_t t0;
    ten_out(ts, 10, &t0);
    uint32_t cwnd = cc_cwnd(ts);
    ts_out_at(ts, t0 + 2 * MS, "P?. 13141:14601(1460) ack 1");
    /* Everything had arrived; the ACKs were lost. The peer answers the
     * duplicate with a D-SACK of it, below the cumulative ACK. */
    cc_sack_ack(ts, MSS, 11, 1, 10, 11);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_ack_losses"), 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_repairs"), 0);
    TS_CHECK(ts, cc_cwnd(ts) >= cwnd); /* no congestion response */
    TS_CHECK_EQ(ts, cc_ssthresh(ts), TCP_CC_SSTHRESH_NONE);
    ts_none_for(ts, 3000);
    ts_free(ts);
}

/* When a probe's ACK does not come either (the probe or the ACK lost as
 * well), another probe goes, twice the PTO later, up to three; then the
 * RTO decides, one RTO (1 s) after the last probe, which re-armed it. */
TEST(test_tcp_tlp_three_probes_then_rto)
{
    struct ts *ts = new_ts_tlp(false);
    uint64_t t0;
    ten_out(ts, 10, &t0);
    ts_out_at(ts, t0 + 2 * MS, "P?. 13141:14601(1460) ack 1");
    ts_out_at(ts, t0 + 6 * MS, "P?. 13141:14601(1460) ack 1");
    ts_out_at(ts, t0 + 14 * MS, "P?. 13141:14601(1460) ack 1");
    uint64_t probe_at = ts_last_time(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_probes"), TCP_TLP_MAX_TRIES);
    ts_out_at(ts, probe_at + 1000 * MS, "P?. 1:1461(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_probes"), TCP_TLP_MAX_TRIES);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 1);
    TS_CHECK_EQ(ts, cc_cwnd(ts), MSS);
    ts_free(ts);
}

/* The second probe's ACK repairs the tail. With two probes out, a D-SACK
 * cannot say that the original had arrived (it may report the second
 * probe as a duplicate of the first), so the episode ends with the
 * congestion response of a repaired loss. */
TEST(test_tcp_tlp_second_probe_repairs)
{
    struct ts *ts = new_ts_tlp(false);
    uint64_t t0;
    ten_out(ts, 10, &t0);
    ts_out_at(ts, t0 + 2 * MS, "P?. 13141:14601(1460) ack 1");
    ts_out_at(ts, t0 + 6 * MS, "P?. 13141:14601(1460) ack 1");
    cc_sack_ack(ts, MSS, 11, 1, 10, 11); /* everything, and a D-SACK of 10 */
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_ack_losses"), 0);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_repairs"), 1);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 5 * MSS);
    ts_none_for(ts, 3000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 0);
    ts_free(ts);
}

/* With timestamps (and SACK): the handshake, ten segments (of MSS_WITH_TS:
 * the option takes 12 bytes of each), and the TSval of the last one. */
#define MSS_WITH_TS 1448u
static uint32_t ten_out_ts(struct ts *ts, uint64_t *sent_at)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, sackOK, ts val 100 ecr 0>");
    ts_out(ts, "S. 0:0(0) ack 1 <*>");
    uint32_t v = 0, e = 0;
    TS_CHECK(ts, tso_ts(ts_last(ts), &v, &e));
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 1 win 65535 <nop, nop, ts val 101 ecr %u>", v));
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10 * MSS_WITH_TS), 10 * MSS_WITH_TS);
    for (unsigned i = 0; i < 10; i++)
        ts_out(ts, ts_fmt(ts, "P?. %u:%u(1448) ack 1 <*>", 1 + i * MSS_WITH_TS, 1 + (i + 1) * MSS_WITH_TS));
    TS_CHECK(ts, tso_ts(ts_last(ts), &v, &e));
    *sent_at = ts_last_time(ts);
    return v;
}

/* The peer's ACK of everything with a D-SACK of segment 10 and a TSecr. */
static void dsack_ack_ts(struct ts *ts, uint32_t ecr)
{
    uint32_t iss = ts_cur(ts)->stack_isn, s = iss + 1 + 9 * MSS_WITH_TS, e = s + MSS_WITH_TS;
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack %u win 65535 <nop, nop, ts val 200 ecr %u, nop, nop, "
                     "raw 05 0a %02x %02x %02x %02x %02x %02x %02x %02x>",
                     1 + 10 * MSS_WITH_TS, ecr, s >> 24, (s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff,
                     e >> 24, (e >> 16) & 0xff, (e >> 8) & 0xff, e & 0xff));
}

/* Two probes, then a D-SACK of one. Which one it names the D-SACK cannot
 * say; the echoed TSval can (RFC 3522's reasoning): one from before the
 * first probe means the data had arrived before any probe, so only ACKs
 * were lost; the first probe's TSval means that probe repaired a loss. */
TEST(test_tcp_tlp_two_probes_dsack_timestamp_decides)
{
    for (int repaired = 0; repaired < 2; repaired++) {
        struct ts *ts = new_ts_tlp(false);
        uint64_t t0;
        uint32_t sent_tsval = ten_out_ts(ts, &t0);
        ts_out_at(ts, t0 + 2 * MS, "P?. 13033:14481(1448) ack 1 <*>");
        uint32_t v = 0, e = 0;
        TS_CHECK(ts, tso_ts(ts_last(ts), &v, &e));
        TS_CHECK(ts, v != sent_tsval); /* 2 ms later on a 1 ms clock */
        ts_out_at(ts, t0 + 6 * MS, "P?. 13033:14481(1448) ack 1 <*>");
        dsack_ack_ts(ts, repaired ? v : sent_tsval);
        TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_ack_losses"), repaired ? 0 : 1);
        TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_repairs"), repaired ? 1 : 0);
        TS_CHECK_EQ(ts, cc_ssthresh(ts), repaired ? 5 * MSS_WITH_TS : TCP_CC_SSTHRESH_NONE);
        ts_free(ts);
    }
}

/* With one segment out the peer may be delaying its ACK: the PTO adds
 * WCDelAckT (200 ms). */
TEST(test_tcp_tlp_one_segment_waits_for_delayed_ack)
{
    struct ts *ts = new_ts_tlp(false);
    int sd = tlp_open(ts, true);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    uint64_t t0 = ts_last_time(ts);
    ts_out_at(ts, t0 + 200 * MS, "P. 1:101(100) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_probes"), 1);
    /* A delayed ACK that crossed the probe acknowledges it all. */
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    ts_none_for(ts, 3000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 0);
    ts_free(ts);
}

/* New data or an ACK of new data re-arms the probe timer (RFC 8985
 * §7.2): the probe comes a PTO after the last of them. */
TEST(test_tcp_tlp_rearmed_by_ack)
{
    struct ts *ts = new_ts_tlp(false);
    uint64_t t0;
    ten_out(ts, 12, &t0);
    ts_advance(ts, 1);
    cc_ack_to(ts, 3, MSS); /* 1 and 2 arrive: two more may go */
    cc_out_segs(ts, 11, 12, MSS);
    uint64_t t1 = ts_last_time(ts);
    ts_out_at(ts, t1 + 2 * MS, "P?. 16061:17521(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_probes"), 1);
    ts_free(ts);
}

/* No probe without SACK, nor when turned off: the RTO alone, at 1 s. */
TEST(test_tcp_tlp_needs_sack_and_can_be_off)
{
    for (int k = 0; k < 2; k++) {
        struct ts *ts = new_ts_tlp(k == 1);
        int sd = tlp_open(ts, k == 1);
        TS_CHECK_EQ(ts, ts_send(ts, sd, 10 * MSS), 10 * MSS);
        cc_out_segs(ts, 1, 10, MSS);
        uint64_t t0 = ts_last_time(ts);
        ts_out_at(ts, t0 + 1000 * MS, "P?. 1:1461(1460) ack 1");
        TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_probes"), 0);
        ts_free(ts);
    }
}

/* No probe during SACK recovery, but a stall timeout: if a PTO passes
 * without an ACK, the retransmissions are taken as lost and the one at
 * SND.UNA goes again; up to three times for one SND.UNA, the wait
 * doubling; after that only the RTO. */
TEST(test_tcp_tlp_recovery_stall)
{
    struct ts *ts = new_ts_tlp(false);
    uint64_t t0;
    ten_out(ts, 12, &t0);
    /* 1 is lost; 2, 3, 4 arrive: recovery retransmits 1 (limited
     * transmit sent 11 and 12 before). */
    cc_sack_ack(ts, MSS, 1, 1, 2, 3);
    cc_out_segs(ts, 11, 11, MSS);
    cc_sack_ack(ts, MSS, 1, 1, 2, 4);
    cc_out_segs(ts, 12, 12, MSS);
    cc_sack_ack(ts, MSS, 1, 1, 2, 5);
    cc_out_segs(ts, 1, 1, MSS);
    uint64_t t1 = ts_last_time(ts);
    /* Silence: a PTO after the last segment went, 1 again; then after
     * twice and four times the PTO. The holes above it (5 to 12) are not
     * lost by RFC 6675's rule and cwnd has no room for them. */
    uint32_t cwnd = cc_cwnd(ts);
    ts_out_at(ts, t1 + 2 * MS, "P?. 1:1461(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_stall_retransmits"), 1);
    TS_CHECK(ts, cc_cwnd(ts) < cwnd); /* a lost retransmission: a new loss */
    ts_out_at(ts, t1 + 6 * MS, "P?. 1:1461(1460) ack 1");
    ts_out_at(ts, t1 + 14 * MS, "P?. 1:1461(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_stall_retransmits"), TCP_TLP_MAX_TRIES);
    /* Then nothing until the RTO, 1 s after the first transmission. */
    ts_out_at(ts, t0 + 1000 * MS, "P?. 1:1461(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_stall_retransmits"), TCP_TLP_MAX_TRIES);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_probes"), 0);
    ts_free(ts);
}

/* A retransmission lost again: once DupThresh segments' worth sent after
 * it are SACKed while SND.UNA stays, it goes again, without a timeout. */
TEST(test_tcp_tlp_lost_retransmission_resent)
{
    struct ts *ts = new_ts_tlp(false);
    int sd = tlp_open(ts, true);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 30 * MSS), 30 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    /* 1 is lost; recovery begins on the third SACKed segment. */
    cc_sack_ack(ts, MSS, 1, 1, 2, 3);
    cc_out_segs(ts, 11, 11, MSS);
    cc_sack_ack(ts, MSS, 1, 1, 2, 4);
    cc_out_segs(ts, 12, 12, MSS);
    cc_sack_ack(ts, MSS, 1, 1, 2, 5);
    cc_out_segs(ts, 1, 1, MSS); /* sent when SND.NXT was 13's start */
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 5 * MSS);
    /* 2..12 arrive; the retransmission of 1 does not. pipe = 1 segment
     * (the retransmission), cwnd 5: four new segments. */
    cc_sack_ack(ts, MSS, 1, 1, 2, 13);
    cc_out_segs(ts, 13, 16, MSS);
    ts_out_none(ts);
    /* 13 and 14 arrive: not yet three segments after the retransmission;
     * each leaves room for one new one. */
    cc_sack_ack(ts, MSS, 1, 1, 2, 15);
    uint64_t lost0 = ts_stat(ts, "tcp.lost_retransmits");
    cc_out_segs(ts, 17, 18, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.lost_retransmits"), lost0);
    /* 15 too: three segments sent after it arrived, 1 did not: 1 goes
     * again (then the new segment 15's room allows). */
    cc_sack_ack(ts, MSS, 1, 1, 2, 16);
    cc_out_segs(ts, 1, 1, MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.lost_retransmits"), lost0 + 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 0);
    /* Not again before another three segments arrive. */
    ts_out_count(ts, "P?. *:*(1460) ack 1");
    cc_sack_ack(ts, MSS, 1, 1, 2, 17);
    ts_out_maybe(ts, "P?. *:*(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.lost_retransmits"), lost0 + 1);
    /* This time it arrives: everything up to 17 is acknowledged. */
    cc_ack_to(ts, 17, MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 0);
    ts_free(ts);
}

/* Congestion control that counts its congestion signals (the window
 * floor of two segments would hide a second cut in cwnd itself). */
static const struct tcp_cc_ops *counted_ops;
static struct tcp_cc_ops counting_ops;
static unsigned congestion_signals;

static void count_congestion(struct tcp_conn *c, enum tcp_cc_signal sig, uint32_t flight,
                             uint64_t now)
{
    congestion_signals++;
    counted_ops->on_congestion(c, sig, flight, now);
}

static void count_congestion_signals(struct ts *ts)
{
    struct tcp_conn *c = cc_conn(ts);
    counted_ops = c->cc.ops;
    counting_ops = *c->cc.ops;
    counting_ops.on_congestion = count_congestion;
    c->cc.ops = &counting_ops;
    congestion_signals = 0;
}

/* The retransmission of a hole above SND.UNA is lost again. It reaches
 * SND.UNA only once the hole below is repaired, and then what was SACKed
 * since says whether data sent after it arrived: once DupThresh segments
 * sent after it are SACKed, it goes again, without waiting for the stall
 * timeout. (The rule once applied only to a retransmission sent while its
 * segment was at SND.UNA; at 5% random loss against Linux, most lost
 * retransmissions were of higher holes, each costing a stall of at least
 * 2 ms while the send buffer filled behind it.) */
TEST(test_tcp_tlp_lost_retransmission_of_higher_hole_resent)
{
    struct ts *ts = new_ts_tlp(false);
    int sd = tlp_open(ts, true);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 40 * MSS), 40 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    /* 1 and 3 are lost; 2, 4 and 5 arrive (limited transmit sends 11 and
     * 12); on the third SACKed segment recovery resends 1. */
    cc_sack_ack(ts, MSS, 1, 1, 2, 3);
    cc_out_segs(ts, 11, 11, MSS);
    cc_sack_ack(ts, MSS, 1, 2, 4, 5, 2, 3);
    cc_out_segs(ts, 12, 12, MSS);
    cc_sack_ack(ts, MSS, 1, 2, 4, 6, 2, 3);
    cc_out_segs(ts, 1, 1, MSS);
    ts_out_none(ts);
    /* 6 to 12 arrive: 3 is lost by RFC 6675's rule and goes, before new
     * data (sent while SND.NXT was 13's start), then 13 to 15. */
    cc_sack_ack(ts, MSS, 1, 2, 4, 13, 2, 3);
    cc_out_segs(ts, 3, 3, MSS);
    cc_out_segs(ts, 13, 15, MSS);
    ts_out_none(ts);
    /* The retransmission of 1 arrives, that of 3 does not. */
    uint64_t lost0 = ts_stat(ts, "tcp.lost_retransmits");
    cc_sack_ack(ts, MSS, 3, 1, 4, 13);
    ts_out_count(ts, "P?. *:*(1460) ack 1");
    /* 13 and 14 arrive: two segments sent after 3's retransmission. */
    cc_sack_ack(ts, MSS, 3, 1, 4, 15);
    ts_out_count(ts, "P?. *:*(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.lost_retransmits"), lost0);
    /* 15 as well: three, and 3 did not arrive: it goes again at once,
     * and cwnd is cut (a loss in a later window). */
    uint32_t cwnd = cc_cwnd(ts);
    count_congestion_signals(ts);
    cc_sack_ack(ts, MSS, 3, 1, 4, 16);
    uint32_t mark = cc_conn(ts)->snd.nxt; /* SND.NXT as 3 goes again */
    cc_out_segs(ts, 3, 3, MSS);
    ts_out_count(ts, "P?. *:*(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.lost_retransmits"), lost0 + 1);
    TS_CHECK_EQ(ts, congestion_signals, 1);
    TS_CHECK(ts, cc_cwnd(ts) < cwnd);
    /* Lost a third time: the peer SACKs all it gets, 3 never. Once three
     * segments sent after the new mark are SACKed, 3 goes again, and
     * congestion control hears of it again. */
    uint32_t iss = cc_conn(ts)->snd.iss;
    for (int round = 0; round < 10 && ts_stat(ts, "tcp.lost_retransmits") == lost0 + 1; round++) {
        uint32_t nxt = cc_conn(ts)->snd.nxt;
        TS_CHECK(ts, round == 0 || seq_gt(nxt, mark)); /* new data keeps going */
        cc_sack_ack(ts, MSS, 3, 1, 4, (nxt - iss - 1) / MSS + 1);
        if (seq_geq(nxt, mark + 3 * MSS)) /* three past the mark SACKed */
            break;
        ts_out_count(ts, "P?. *:*(1460) ack 1");
    }
    cc_out_segs(ts, 3, 3, MSS);
    ts_out_count(ts, "P?. *:*(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.lost_retransmits"), lost0 + 2);
    TS_CHECK_EQ(ts, congestion_signals, 2);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_stall_retransmits"), 0);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 0);
    ts_free(ts);
}

/* Reordering timeout: three segments out, the first lost, the other two
 * SACKed. Two SACKed segments are below DupThresh, and there is no more
 * data to send, so no third duplicate ACK will come; a PTO after they
 * went (2 ms) the hole is taken as lost and fast recovery begins. */
TEST(test_tcp_tlp_hole_below_sacked_data_recovers)
{
    struct ts *ts = new_ts_tlp(false);
    int sd = tlp_open(ts, true);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3 * MSS), 3 * MSS);
    cc_out_segs(ts, 1, 3, MSS);
    uint64_t t0 = ts_last_time(ts);
    cc_sack_ack(ts, MSS, 1, 1, 2, 4);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_recoveries"), 0);
    ts_out_at(ts, t0 + 2 * MS, "P?. 1:1461(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_sack_recoveries"), 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_recoveries"), 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_probes"), 0);
    cc_ack_to(ts, 4, MSS);
    ts_none_for(ts, 3000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 0);
    ts_free(ts);
}

/* The whole tail of three is lost: the probe resends 3, whose SACK shows
 * the hole 1..2 below it; a PTO later recovery resends 1 (and 2, lost by
 * then too as far as pipe goes: rule 3 of NextSeg). No timeout. */
TEST(test_tcp_tlp_probe_then_hole_recovers)
{
    struct ts *ts = new_ts_tlp(false);
    int sd = tlp_open(ts, true);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3 * MSS), 3 * MSS);
    cc_out_segs(ts, 1, 3, MSS);
    uint64_t t0 = ts_last_time(ts);
    ts_out_at(ts, t0 + 2 * MS, "P?. 2921:4381(1460) ack 1");
    cc_sack_ack(ts, MSS, 1, 1, 3, 4);
    uint64_t t1 = ts_now_us(ts);
    ts_out_at(ts, t1 + 2 * MS, "P?. 1:1461(1460) ack 1");
    ts_out_maybe(ts, "P?. 1461:2921(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.tlp_sack_recoveries"), 1);
    cc_ack_to(ts, 2, MSS);
    ts_out_maybe(ts, "P?. 1461:2921(1460) ack 1");
    cc_ack_to(ts, 4, MSS);
    ts_none_for(ts, 3000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), 0);
    ts_free(ts);
}
