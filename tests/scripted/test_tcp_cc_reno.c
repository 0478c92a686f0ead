/*
 * Congestion control, the RFC 5681 rules every algorithm shares, with the
 * NewReno algorithm where the numbers depend on it:
 *   - the initial window of 10 segments (RFC 6928) and of 1 segment after
 *     a lost SYN-ACK (RFC 5681 §3.1);
 *   - slow start with appropriate byte counting, L = 2*SMSS (RFC 3465);
 *   - congestion avoidance: +1 SMSS per window of bytes acknowledged;
 *   - the response to a timeout: ssthresh = max(FlightSize/2, 2*SMSS)
 *     once (eq. 4), cwnd = 1 SMSS, slow start with L = 1*SMSS;
 *   - limited transmit (RFC 3042), fast retransmit and fast recovery with
 *     NewReno's partial ACKs (RFC 6582), cwnd checked after each ACK;
 *   - restart after idle (RFC 5681 §4.1).
 *
 * The peer does not offer SACK, so recovery is NewReno's. Segments cross
 * the virtual wire instantly: the RTO stays at its 1 s floor. The peer's
 * MSS is 1460 and every segment below is full-sized: segment k is
 * [1 + (k-1)*1460, 1 + k*1460) (cc_script.h).
 */
#include <errno.h>

#include "cc_script.h"
#include "tcpscript.h"
#include "test.h"
#include "ustack/socket.h"

#define MSS 1460u
#define SEC 1000000ull

static struct ts *new_ts_algo(int algo)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.congestion = (unsigned)algo;
    return ts_new_with(&cfg);
}

static struct ts *new_ts_reno(void)
{
    return new_ts_algo(USTACK_TCP_CC_NEWRENO);
}

TEST(test_tcp_cc_iw10)
{
    /* RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)) = 14600 for 1460. */
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 20 * MSS), 20 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 10 * MSS);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), TCP_CC_SSTHRESH_NONE);
    ts_free(ts);
}

TEST(test_tcp_cc_iw10_small_mss)
{
    /* MSS 500: 10 segments of 500 (the 14600 cap is above them). */
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 500>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 20 * 500), 20 * 500);
    cc_out_segs(ts, 1, 10, 500);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 10 * 500);
    ts_free(ts);
}

TEST(test_tcp_cc_iw_one_segment_after_lost_synack)
{
    /* RFC 5681 §3.1: "if the SYN or SYN/ACK is lost, the initial window
     * used by a sender after a correctly transmitted SYN MUST be one
     * segment consisting of at most SMSS bytes." */
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_out_after(ts, 1000, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 4 * MSS), 4 * MSS);
    cc_out_segs(ts, 1, 1, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), MSS);
    /* Slow start from there: one ACK, two more segments. */
    cc_ack_to(ts, 2, MSS);
    cc_out_segs(ts, 2, 3, MSS);
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_cc_slow_start_abc)
{
    /* RFC 3465 §2.2: in slow start cwnd grows by the bytes an ACK
     * acknowledges, at most L = 2*SMSS per ACK. */
    struct ts *ts = new_ts_reno();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 60 * MSS), 60 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    ts_out_none(ts);
    /* Two segments acknowledged: +2 SMSS; 8 in flight of 12: 4 go. */
    cc_ack_to(ts, 3, MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 12 * MSS);
    cc_out_segs(ts, 11, 14, MSS);
    ts_out_none(ts);
    /* Three acknowledged: still +2 SMSS (L caps it); 9 in flight of 14. */
    cc_ack_to(ts, 6, MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 14 * MSS);
    cc_out_segs(ts, 15, 19, MSS);
    ts_out_none(ts);
    /* One acknowledged: +1 SMSS; 13 in flight of 15. */
    cc_ack_to(ts, 7, MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 15 * MSS);
    cc_out_segs(ts, 20, 21, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), TCP_CC_SSTHRESH_NONE);
    ts_free(ts);
}

TEST(test_tcp_cc_slow_start_stops_growing_when_not_cwnd_limited)
{
    /* An application that sends less than the window allows does not
     * build up a window it never used (see tcp_cc.c, after RFC 7661). */
    struct ts *ts = new_ts_reno();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2 * MSS), 2 * MSS);
    cc_out_segs(ts, 1, 2, MSS);
    cc_ack_to(ts, 3, MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 10 * MSS);
    ts_free(ts);
}

/* Ten segments out, the peer silent: the RTO (1 s) retransmits the first
 * with cwnd = LW = 1 SMSS. Returns the time of the timeout. */
static uint64_t timeout_after_iw(struct ts *ts, int sd)
{
    TS_CHECK_EQ(ts, ts_send(ts, sd, 60 * MSS), 60 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    ts_out_none(ts);
    ts_out_after(ts, 1000, "P?. 1:1461(1460) ack 1");
    ts_out_none(ts);
    return ts_now_us(ts);
}

TEST(test_tcp_cc_rto_response)
{
    struct ts *ts = new_ts_reno();
    int sd = ts_passive_open(ts, NULL);
    timeout_after_iw(ts, sd);
    /* RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS) with
     * FlightSize = 10 segments; cwnd = LW = 1 SMSS. */
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 5 * MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), MSS);
    /* The backed-off timeout of the same segment (2 s later) leaves
     * ssthresh alone ("has not yet been resent by way of the
     * retransmission timer"). */
    ts_out_after(ts, 2000, "P?. 1:1461(1460) ack 1");
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 5 * MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), MSS);
    /* Slow start after the timeout: L = 1*SMSS (RFC 3465 §2.3), so an
     * ACK of two segments (one held by the peer) adds one SMSS. The rest
     * of the old window goes again from SND.UNA (go-back-N). */
    cc_ack_to(ts, 3, MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 2 * MSS);
    cc_out_segs(ts, 3, 4, MSS);
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_cc_rto_response_cubic)
{
    /* CUBIC sets ssthresh with beta_cubic = 0.7 (RFC 9438 §4.8, §4.6). */
    struct ts *ts = new_ts_algo(USTACK_TCP_CC_CUBIC);
    int sd = ts_passive_open(ts, NULL);
    timeout_after_iw(ts, sd);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 10 * MSS * 7 / 10);
    TS_CHECK_EQ(ts, cc_cwnd(ts), MSS);
    ts_free(ts);
}

TEST(test_tcp_cc_congestion_avoidance)
{
    /* After a timeout (ssthresh 5 segments), slow start to ssthresh, then
     * congestion avoidance: cwnd grows by one SMSS each time a whole
     * cwnd of bytes was acknowledged (RFC 5681 §3.1, RFC 3465 §2.1),
     * one segment per round trip. The peer acknowledges each segment. */
    struct ts *ts = new_ts_reno();
    int sd = ts_passive_open(ts, NULL);
    timeout_after_iw(ts, sd);
    static const struct {
        uint32_t cwnd_segs;       /* cwnd after the ACK of segment k */
        uint32_t first, last;     /* segments it releases */
    } steps[] = {
        {2, 2, 3}, {3, 4, 5}, {4, 6, 7}, {5, 8, 9},  /* slow start */
        {5, 10, 10}, {5, 11, 11}, {5, 12, 12}, {5, 13, 13},
        {6, 14, 15},                                 /* +1 after 5 ACKs */
        {6, 16, 16}, {6, 17, 17}, {6, 18, 18}, {6, 19, 19}, {6, 20, 20},
        {7, 21, 22},                                 /* +1 after 6 ACKs */
    };
    for (uint32_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        cc_ack_to(ts, i + 2, MSS);
        TS_CHECK_EQ(ts, cc_cwnd(ts), steps[i].cwnd_segs * MSS);
        cc_out_segs(ts, steps[i].first, steps[i].last, MSS);
        ts_out_none(ts);
    }
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 5 * MSS);
    ts_free(ts);
}

TEST(test_tcp_cc_limited_transmit)
{
    /* RFC 3042: the first and second duplicate ACK each send one new
     * segment beyond cwnd; the third retransmits, sending nothing new,
     * and ssthresh leaves the limited-transmit segments out of FlightSize
     * (RFC 5681 §3.2 step 2). */
    struct ts *ts = new_ts_reno();
    int sd = ts_passive_open(ts, NULL);
    uint64_t lt = ts_stat(ts, "tcp.limited_transmits");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 30 * MSS), 30 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    ts_out_none(ts);
    /* Segment 1 lost: every arrival draws a duplicate of ack 1. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    cc_out_segs(ts, 11, 11, MSS);
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    cc_out_segs(ts, 12, 12, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 10 * MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.limited_transmits") - lt, 2);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    cc_out_segs(ts, 1, 1, MSS); /* fast retransmit */
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), 5 * MSS); /* 10 segments, not 12 */
    TS_CHECK_EQ(ts, cc_cwnd(ts), 8 * MSS);     /* ssthresh + 3*SMSS */
    ts_free(ts);
}

TEST(test_tcp_cc_newreno_partial_acks)
{
    /* RFC 5681 §3.2 with RFC 6582: segments 2 and 5 of 14 are lost.
     * cwnd and ssthresh after every ACK. */
    struct ts *ts = new_ts_reno();
    int sd = ts_passive_open(ts, NULL);
    uint64_t fr = ts_stat(ts, "tcp.fast_retransmits");
    uint64_t pr = ts_stat(ts, "tcp.partial_ack_retransmits");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 14 * MSS), 14 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    /* Segment 1 acknowledged: slow start, 11 segments, 2 more go. */
    cc_ack_to(ts, 2, MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 11 * MSS);
    cc_out_segs(ts, 11, 12, MSS);
    ts_out_none(ts);
    /* Segments 3, 4 arrive: duplicate ACKs 1 and 2, limited transmit
     * sends 13 and 14 (all there is). */
    cc_ack_to(ts, 2, MSS);
    cc_out_segs(ts, 13, 13, MSS);
    cc_ack_to(ts, 2, MSS);
    cc_out_segs(ts, 14, 14, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 11 * MSS);
    /* Segment 6: the third duplicate. FlightSize = 13 segments less the
     * 2 of limited transmit = 11: ssthresh = 5.5 segments, cwnd =
     * ssthresh + 3*SMSS, and segment 2 goes again. */
    cc_ack_to(ts, 2, MSS);
    cc_out_segs(ts, 2, 2, MSS);
    ts_out_none(ts);
    uint32_t ssthresh = 11 * MSS / 2;
    TS_CHECK_EQ(ts, cc_ssthresh(ts), ssthresh);
    TS_CHECK_EQ(ts, cc_cwnd(ts), ssthresh + 3 * MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.fast_retransmits") - fr, 1);
    /* Segments 7 to 14: each further duplicate inflates cwnd by SMSS
     * (RFC 5681 §3.2 step 4); there is no new data to send. */
    for (uint32_t i = 1; i <= 8; i++) {
        cc_ack_to(ts, 2, MSS);
        TS_CHECK_EQ(ts, cc_cwnd(ts), ssthresh + (3 + i) * MSS);
    }
    ts_out_none(ts);
    /* The retransmitted segment 2 fills the first hole: a partial ACK up
     * to segment 5 (RFC 6582 §3.2 step 5). Segment 5 goes at once; cwnd
     * deflates by the 3 segments acknowledged, plus one SMSS back. */
    cc_ack_to(ts, 5, MSS);
    cc_out_segs(ts, 5, 5, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), ssthresh + 11 * MSS - 3 * MSS + MSS);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), ssthresh);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.partial_ack_retransmits") - pr, 1);
    /* The full ACK ends recovery (step 6): cwnd = min(ssthresh,
     * max(FlightSize, SMSS) + SMSS), FlightSize now 0. */
    cc_ack_to(ts, 15, MSS);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 2 * MSS);
    TS_CHECK_EQ(ts, cc_ssthresh(ts), ssthresh);
    /* Below ssthresh: slow start with the new data. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 4 * MSS), 4 * MSS);
    cc_out_segs(ts, 15, 16, MSS);
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_cc_newreno_partial_acks_keep_timer)
{
    /* RFC 6582 §3.2 step 5 and §4.1 (the "Impatient" variant): only the
     * first partial ACK restarts the retransmission timer; with three
     * holes, the third is resent by the timeout that the first partial
     * ACK started, not a full RTO after the second. */
    struct ts *ts = new_ts_reno();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10 * MSS), 10 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    /* 1, 4, 7 lost: three duplicates (2, 3, 5 arrive). */
    for (int i = 0; i < 3; i++)
        cc_ack_to(ts, 1, MSS);
    cc_out_segs(ts, 1, 1, MSS);
    ts_advance(ts, 100);
    cc_ack_to(ts, 4, MSS); /* first partial ACK: timer restarted */
    uint64_t restarted = ts_now_us(ts);
    cc_out_segs(ts, 4, 4, MSS);
    ts_advance(ts, 500);
    cc_ack_to(ts, 7, MSS); /* second: the timer keeps running */
    cc_out_segs(ts, 7, 7, MSS);
    /* The peer never gets 7's retransmission: the timer fires 1 s after
     * the first partial ACK, not 1 s after the second. */
    ts_out_at(ts, restarted + SEC, "P?. 8761:10221(1460) ack 1");
    ts_free(ts);
}

/* Grow cwnd to 22 segments in slow start, keeping it full: 30 segments
 * written, every other one acknowledged (+2 SMSS each), then all. */
static void grow_to_22(struct ts *ts, int sd)
{
    TS_CHECK_EQ(ts, ts_send(ts, sd, 30 * MSS), 30 * MSS);
    cc_out_segs(ts, 1, 10, MSS);
    for (uint32_t k = 3; k <= 11; k += 2) {
        cc_ack_to(ts, k, MSS);
        cc_out_segs(ts, 2 * k + 5, 2 * k + 8, MSS);
    }
    cc_ack_to(ts, 31, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 22 * MSS);
}

TEST(test_tcp_cc_restart_after_idle)
{
    /* RFC 5681 §4.1: after more than an RTO (1 s) without sending, cwnd
     * is cut to RW = min(IW, cwnd) before transmission begins. */
    struct ts *ts = new_ts_reno();
    int sd = ts_passive_open(ts, NULL);
    uint64_t restarts = ts_stat(ts, "tcp.idle_restarts");
    grow_to_22(ts, sd);
    ts_advance(ts, 1500);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 30 * MSS), 30 * MSS);
    cc_out_segs(ts, 31, 40, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 10 * MSS);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.idle_restarts") - restarts, 1);
    ts_free(ts);
}

TEST(test_tcp_cc_no_restart_within_rto)
{
    /* Idle for less than the RTO: the window stays. */
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    grow_to_22(ts, sd);
    ts_advance(ts, 900);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 30 * MSS), 30 * MSS);
    cc_out_segs(ts, 31, 52, MSS);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, cc_cwnd(ts), 22 * MSS);
    ts_free(ts);
}

TEST(test_tcp_cc_socket_option)
{
    /* USTACK_TCP_CONGESTION: per socket, default from the config. */
    struct ts *ts = ts_new();
    struct ustack *st = ts_stack(ts);
    int sd = ustack_socket(st, USTACK_SOCK_STREAM);
    int v = -1;
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_CONGESTION, &v), 0);
    TS_CHECK_EQ(ts, v, USTACK_TCP_CC_CUBIC);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_CONGESTION, USTACK_TCP_CC_NEWRENO), 0);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_CONGESTION, &v), 0);
    TS_CHECK_EQ(ts, v, USTACK_TCP_CC_NEWRENO);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_CONGESTION, 99), -EINVAL);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_CONGESTION, -1), -EINVAL);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_CONGESTION, USTACK_TCP_CC_DEFAULT), 0);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_CONGESTION, &v), 0);
    TS_CHECK_EQ(ts, v, USTACK_TCP_CC_CUBIC);
    ustack_close(st, sd);
    ts_free(ts);

    /* The global default, and a listener's choice passes to the
     * connections it accepts. */
    ts = new_ts_reno();
    st = ts_stack(ts);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, lsd, USTACK_TCP_CONGESTION, &v), 0);
    TS_CHECK_EQ(ts, v, USTACK_TCP_CC_NEWRENO);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, lsd, USTACK_TCP_CONGESTION, USTACK_TCP_CC_CUBIC), 0);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_CONGESTION, &v), 0);
    TS_CHECK_EQ(ts, v, USTACK_TCP_CC_CUBIC);
    ts_free(ts);
}
