/*
 * RFC 5961 blind-attack mitigations, as folded into RFC 9293 §3.10.7.4:
 * RST only with SEG.SEQ == RCV.NXT, a challenge ACK for an in-window RST or
 * for any SYN in a synchronized state (rate limited, §7), out-of-window RST
 * silently dropped, and data whose ACK lies outside
 * [SND.UNA - MAX.SND.WND, SND.NXT] discarded with an ACK (§5).
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

/* The challenge ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. */

TEST(test_tcp_rfc5961_rst_exact_seq_resets)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    ts_in(ts, "R 100:100(0) win 0"); /* left of the window: dropped */
    ts_out_none(ts);
    ts_in(ts, "R 102:102(0) win 0"); /* in it but not RCV.NXT: challenge */
    ts_out(ts, ". 1:1(0) ack 101");
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_in(ts, "R 101:101(0) win 0"); /* exactly RCV.NXT: reset */
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ECONNRESET);
    ts_free(ts);
}

TEST(test_tcp_rfc5961_rst_in_window_challenge_ack)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t c0 = ts_stat(ts, "tcp.challenge_ack");
    ts_in(ts, "R 1001:1001(0) win 0");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_in(ts, "R. 65000:65000(0) ack 1 win 0");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.challenge_ack") - c0, 2);
    /* The connection is untouched. */
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_in(ts, "P. 1:11(10) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 11");
    ts_recv_data(ts, sd, 10);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 11");
    ts_free(ts);
}

TEST(test_tcp_rfc5961_rst_out_of_window_ignored)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint32_t edge = 1 + ts_cur(ts)->stack_win; /* RCV.NXT + RCV.WND */
    uint64_t c0 = ts_stat(ts, "tcp.challenge_ack");
    ts_in(ts, "R 0:0(0) win 0");
    ts_in(ts, ts_fmt(ts, "R %u:%u(0) win 0", edge, edge));
    ts_in(ts, "R. 1073741824:1073741824(0) ack 1 win 0");
    ts_in(ts, "R -5000:-5000(0) win 0");
    /* Silently: no ACK either. */
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.challenge_ack") - c0, 0);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 1");
    ts_free(ts);
}

TEST(test_tcp_rfc5961_challenge_ack_rate_limit)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.challenge_ack_burst = 3;
    cfg.tcp.challenge_ack_rate = 1;
    struct ts *ts = ts_new_with(&cfg);
    int sd = ts_passive_open(ts, NULL);
    uint64_t c0 = ts_stat(ts, "tcp.challenge_ack");
    uint64_t l0 = ts_stat(ts, "tcp.challenge_ack_limited");
    for (int i = 0; i < 10; i++)
        ts_in(ts, ts_fmt(ts, "R %d:%d(0) win 0", 1001 + i, 1001 + i));
    /* §7: throttled to the configured burst. */
    TS_CHECK_EQ(ts, ts_out_count(ts, ". 1:1(0) ack 1"), 3);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.challenge_ack") - c0, 3);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.challenge_ack_limited") - l0, 7);
    /* One token per second comes back. */
    ts_advance(ts, 1000);
    ts_in(ts, "R 2001:2001(0) win 0");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_in(ts, "R 2002:2002(0) win 0");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}

TEST(test_tcp_rfc5961_syn_in_established_challenge_ack)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t c0 = ts_stat(ts, "tcp.challenge_ack");
    /* A SYN "irrespective of the sequence number": in the window, */
    ts_in(ts, "S 5000:5000(0) win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    /* with an ACK, */
    ts_in(ts, "S. 5000:5000(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    /* and the old SYN again (left of the window). */
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_out_none(ts);
    TS_CHECK(ts, ts_stat(ts, "tcp.challenge_ack") - c0 >= 2);
    /* Nothing was reset. */
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_in(ts, "P. 1:11(10) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 11");
    ts_recv_data(ts, sd, 10);
    ts_free(ts);
}

TEST(test_tcp_rfc5961_syn_in_close_wait_challenge_ack)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "F. 1:1(0) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 2");
    ts_in(ts, "S 5000:5000(0) win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 2");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 2");
    ts_free(ts);
}

TEST(test_tcp_rfc5961_syn_in_fin_wait_2_challenge_ack)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_shutdown(ts, sd, SHUT_WR);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_in(ts, ". 1:1(0) ack 2 win 65535");
    ts_in(ts, "S 5000:5000(0) win 65535 <mss 1460>");
    ts_out(ts, ". 2:2(0) ack 1");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}

TEST(test_tcp_rfc5961_ack_below_max_window_dropped)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t d0 = ts_stat(ts, "tcp.drop_bad_ack");
    /* SEG.ACK < SND.UNA - MAX.SND.WND (no window scaling, so MAX.SND.WND
     * is at most 65535): discard and ACK. */
    ts_in(ts, "P. 1:101(100) ack -70000 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_in(ts, "F. 1:1(0) ack -70000 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_out_none(ts);
    ts_recv_none(ts, sd); /* neither data nor EOF delivered */
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_bad_ack") - d0, 2);
    /* An old ACK within MAX.SND.WND is acceptable (a duplicate). */
    ts_in(ts, "P. 1:101(100) ack -500 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    ts_recv_data(ts, sd, 100);
    ts_free(ts);
}

TEST(test_tcp_rfc5961_ack_of_unsent_dropped)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* SEG.ACK > SND.NXT: "send an ACK, drop the segment, and return". */
    ts_in(ts, "P. 1:101(100) ack 2 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_in(ts, "F. 1:1(0) ack 1000 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_out_none(ts);
    ts_recv_none(ts, sd);
    /* The same data with a valid ACK is taken. */
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    ts_recv_data(ts, sd, 100);
    ts_free(ts);
}

TEST(test_tcp_rfc5961_syn_in_time_wait_challenge_ack)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.msl_ms = 1000;
    struct ts *ts = ts_new_with(&cfg);
    int lsd = -1;
    int sd = ts_passive_open(ts, &lsd);
    /* The server closes first and ends in TIME-WAIT; its listener stays. */
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_in(ts, "F. 1:1(0) ack 2 win 65535");
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    /* A new SYN for the same four-tuple, with a higher sequence number and
     * no Timestamp Option: RFC 9293 §3.10.7.4 fourth check admits a new
     * connection from TIME-WAIT only with timestamps; otherwise a
     * challenge ACK. */
    ts_in(ts, "S 100000:100000(0) win 65535 <mss 1460>");
    ts_out(ts, ". 2:2(0) ack 2");
    ts_out_none(ts);
    ts_accept_none(ts, lsd);
    ts_free(ts);
}
