/*
 * Resets: the RST a closed port sends (RFC 9293 §3.10.7.1, both forms) and
 * what a received RST does in each state (§3.10.7.3 SYN-SENT, §3.10.7.4
 * second check with the RFC 5961 §3 exact-sequence rule).
 *
 * A RST in a synchronized state is only honoured with SEG.SEQ == RCV.NXT,
 * so every RST below carries exactly RCV.NXT; the other cases are in
 * test_tcp_rfc5961.c.
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

static struct ts *new_ts(void)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.msl_ms = 1000;
    return ts_new_with(&cfg);
}

/* ---- Segments for a port nobody listens on (§3.10.7.1) ------------------ */

TEST(test_tcp_rst_closed_port_no_ack_forms)
{
    struct ts *ts = new_ts();
    uint64_t before = ts_stat(ts, "tcp.rst_closed_port");
    /* ACK bit off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, where SYN and
     * FIN count in SEG.LEN. */
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "R. @0:@0(0) ack 1");
    ts_in(ts, "S 0:10(10) win 65535");
    ts_out(ts, "R. @0:@0(0) ack 11");
    ts_in(ts, "P 1:101(100) win 65535");
    ts_out(ts, "R. @0:@0(0) ack 101");
    ts_in(ts, "F 1:1(0) win 65535");
    ts_out(ts, "R. @0:@0(0) ack 2");
    ts_in(ts, "FP 1:51(50) win 65535");
    ts_out(ts, "R. @0:@0(0) ack 52");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rst_closed_port") - before, 5);
    ts_free(ts);
}

TEST(test_tcp_rst_closed_port_ack_forms)
{
    struct ts *ts = new_ts();
    /* ACK bit on: <SEQ=SEG.ACK><CTL=RST>, no ACK bit in the reset. */
    ts_in(ts, ". 1:1(0) ack @12345 win 65535");
    ts_out(ts, "R @12345:@12345(0)");
    ts_in(ts, "P. 1:101(100) ack @4294967295 win 65535");
    ts_out(ts, "R @4294967295:@4294967295(0)");
    ts_in(ts, "S. 0:0(0) ack @777 win 65535 <mss 1460>");
    ts_out(ts, "R @777:@777(0)");
    ts_in(ts, "F. 1:1(0) ack @0 win 65535");
    ts_out(ts, "R @0:@0(0)");
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_rst_closed_port_rst_not_answered)
{
    struct ts *ts = new_ts();
    /* "An incoming segment containing a RST is discarded." */
    ts_in(ts, "R 1:1(0) win 0");
    ts_in(ts, "R. 1:1(0) ack @99 win 0");
    ts_in(ts, "RP. 1:11(10) ack @99 win 0");
    ts_in(ts, "SR 0:0(0) win 0");
    ts_out_none(ts);
    ts_free(ts);
}

/* ---- SYN-SENT (§3.10.7.3) ------------------------------------------------ */

TEST(test_tcp_rst_syn_sent_acceptable_ack_refused)
{
    struct ts *ts = new_ts();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    /* What a closed port answers to our SYN: ACK acceptable, so "error:
     * connection reset" -> ECONNREFUSED, and the TCB is deleted. */
    ts_in(ts, "R. @0:@0(0) ack 1 win 0");
    ts_out_none(ts);
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_ERROR);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ECONNREFUSED);
    ts_none_for(ts, 5000); /* no SYN retransmission */
    /* The TCB is gone: a SYN-ACK now finds a closed port. */
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, "R 1:1(0)");
    ts_free(ts);
}

TEST(test_tcp_rst_syn_sent_unacceptable_ignored)
{
    struct ts *ts = new_ts();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    /* Bad ACK with RST: "unless the RST bit is set, if so drop". */
    ts_in(ts, "R. @0:@0(0) ack 2 win 0");
    ts_in(ts, "R. @0:@0(0) ack 0 win 0");
    /* RST without ACK: "Otherwise (no ACK), drop the segment". */
    ts_in(ts, "R 0:0(0) win 0");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    /* Still in SYN-SENT. */
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_WRITABLE);
    ts_free(ts);
}

/* ---- SYN-RECEIVED ---------------------------------------------------------- */

TEST(test_tcp_rst_syn_received_passive_back_to_listen)
{
    struct ts *ts = new_ts();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    /* Passive OPEN: return to LISTEN, the user need not be informed. */
    ts_in(ts, "R 1:1(0) win 0");
    ts_out_none(ts);
    ts_accept_none(ts, lsd);
    ts_none_for(ts, 5000); /* no SYN-ACK retransmission */
    /* The embryonic connection is gone: its ACK meets the listener. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "R 1:1(0)");
    /* And the listener still works, for the same peer port too. */
    ts_flow_restart(ts, 0x40000000u);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    int sd = ts_accept(ts, lsd);
    TS_CHECK(ts, sd >= 0);
    ts_free(ts);
}

TEST(test_tcp_rst_syn_received_active_refused)
{
    struct ts *ts = new_ts();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460, ...>");
    /* Active OPEN (came from SYN-SENT): "connection refused". */
    ts_in(ts, "R 1:1(0) win 0");
    ts_out_none(ts);
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_ERROR);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ECONNREFUSED);
    ts_none_for(ts, 5000); /* retransmission queue flushed */
    ts_free(ts);
}

/* ---- Synchronized states: "connection reset" ------------------------------- */

TEST(test_tcp_rst_established_reset)
{
    struct ts *ts = new_ts();
    int sd = ts_passive_open(ts, NULL);
    uint64_t before = ts_stat(ts, "tcp.rst_rx");
    ts_in(ts, "R 1:1(0) win 0");
    ts_out_none(ts);
    TS_CHECK(ts, ts_events(ts, sd) & (USTACK_EV_ERROR | USTACK_EV_HUP));
    ts_recv_err(ts, sd, ECONNRESET);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rst_rx") - before, 1);
    /* The TCB is deleted: the listener answers the connection's ACK. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "R 1:1(0)");
    ts_free(ts);
}

TEST(test_tcp_rst_established_with_queued_data)
{
    struct ts *ts = new_ts();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_in(ts, "R. 1:1(0) ack 1 win 0");
    ts_out_none(ts);
    /* Queues flushed: no retransmission of the unacknowledged data. */
    ts_none_for(ts, 10000);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ECONNRESET);
    TS_CHECK(ts, ts_send(ts, sd, 10) < 0);
    ts_free(ts);
}

TEST(test_tcp_rst_fin_wait_1_reset)
{
    struct ts *ts = new_ts();
    int sd = ts_passive_open(ts, NULL);
    ts_shutdown(ts, sd, SHUT_WR);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_in(ts, "R 1:1(0) win 0");
    ts_out_none(ts);
    ts_recv_err(ts, sd, ECONNRESET);
    ts_none_for(ts, 5000); /* no FIN retransmission */
    ts_free(ts);
}

TEST(test_tcp_rst_fin_wait_2_reset)
{
    struct ts *ts = new_ts();
    int sd = ts_passive_open(ts, NULL);
    ts_shutdown(ts, sd, SHUT_WR);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_in(ts, ". 1:1(0) ack 2 win 65535");
    ts_out_none(ts);
    ts_in(ts, "R 1:1(0) win 0");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ECONNRESET);
    ts_free(ts);
}

TEST(test_tcp_rst_close_wait_reset)
{
    struct ts *ts = new_ts();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "F. 1:1(0) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 2");
    ts_in(ts, "R 2:2(0) win 0");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), -ECONNRESET);
    ts_free(ts);
}

TEST(test_tcp_rst_closing_closes)
{
    struct ts *ts = new_ts();
    int sd = ts_active_open(ts);
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_in(ts, "F. 1:1(0) ack 1 win 65535");
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    /* CLOSING: "If the RST bit is set, then enter the CLOSED state". */
    ts_in(ts, "R 2:2(0) win 0");
    ts_out_none(ts);
    ts_none_for(ts, 5000); /* no FIN retransmission */
    ts_in(ts, ". 2:2(0) ack 2 win 65535");
    ts_out(ts, "R 2:2(0)");
    ts_free(ts);
}

TEST(test_tcp_rst_last_ack_closes)
{
    struct ts *ts = new_ts();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "F. 1:1(0) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 2");
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 2");
    /* LAST-ACK: RST closes. */
    ts_in(ts, "R 2:2(0) win 0");
    ts_out_none(ts);
    ts_none_for(ts, 5000); /* no FIN retransmission */
    ts_in(ts, ". 2:2(0) ack 2 win 65535");
    ts_out(ts, "R 2:2(0)");
    ts_free(ts);
}

TEST(test_tcp_rst_time_wait_closes)
{
    struct ts *ts = new_ts();
    int sd = ts_active_open(ts);
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_in(ts, "F. 1:1(0) ack 2 win 65535");
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    ts_in(ts, ". 0:0(0) ack 2 win 65535"); /* TIME-WAIT answers old dups */
    ts_out(ts, ". 2:2(0) ack 2");
    /* TIME-WAIT: RST (SEG.SEQ == RCV.NXT) enters CLOSED (§3.10.7.4). */
    ts_in(ts, "R 2:2(0) win 0");
    ts_out_none(ts);
    ts_in(ts, ". 0:0(0) ack 2 win 65535");
    ts_out(ts, "R 2:2(0)");
    ts_free(ts);
}
