/*
 * Closing from the application's side: graceful close sends every queued
 * byte before the FIN (RFC 9293 §3.10.4), shutdown(SHUT_WR) half-closes
 * while data still comes in (§3.6.1), and data that can no longer be
 * delivered makes TCP send a RST (SHLD-2: closing with unread data, or data
 * arriving after close); linger-zero close is an ABORT (§3.10.5).
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

TEST(test_tcp_close_graceful_sends_queued_data_then_fin)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    /* The peer offers a 1000-byte window. */
    ts_in(ts, "S 0:0(0) win 1000 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 1000");
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2500), 2500);
    ts_out(ts, "P?. 1:1001(1000) ack 1");
    ts_out_none(ts);
    /* Close with 1500 bytes still queued: they go first. */
    ts_close(ts, sd);
    ts_out_none(ts); /* window full, FIN waits too */
    ts_in(ts, ". 1:1(0) ack 1001 win 1000");
    ts_out(ts, "P?. 1001:2001(1000) ack 1");
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 2001 win 1000");
    /* The FIN may ride on the last data segment. */
    if (ts_out_oneof(ts, "FP. 2001:2501(500) ack 1", "P. 2001:2501(500) ack 1") == 1)
        ts_out(ts, "F. 2501:2501(0) ack 1");
    ts_in(ts, ". 1:1(0) ack 2502 win 1000");
    ts_out_none(ts);
    ts_in(ts, "F. 1:1(0) ack 2502 win 1000");
    ts_out_within(ts, 500, ". 2502:2502(0) ack 2");
    ts_free(ts);
}

TEST(test_tcp_close_shut_wr_half_close)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    /* SHUT_WR: FIN after the queued data. */
    ts_shutdown(ts, sd, SHUT_WR);
    ts_out(ts, "F. 101:101(0) ack 1");
    TS_CHECK(ts, ts_send(ts, sd, 10) == -EPIPE);
    ts_in(ts, ". 1:1(0) ack 102 win 65535");
    ts_out_none(ts);
    /* FIN-WAIT-2 keeps receiving. */
    ts_in(ts, "P. 1:1001(1000) ack 102 win 65535");
    ts_out_within(ts, 500, ". 102:102(0) ack 1001");
    ts_in(ts, "P. 1001:2001(1000) ack 102 win 65535");
    ts_out_within(ts, 500, ". 102:102(0) ack 2001");
    ts_recv_data(ts, sd, 2000);
    ts_recv_none(ts, sd);
    /* Then the peer closes too. */
    ts_in(ts, "F. 2001:2001(0) ack 102 win 65535");
    ts_out_within(ts, 500, ". 102:102(0) ack 2002");
    ts_recv_eof(ts, sd);
    ts_close(ts, sd);
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_close_unread_data_sends_rst)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t r0 = ts_stat(ts, "tcp.rst_unread_close");
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    /* Closing with received data unread: RST shows data was lost, and
     * the connection is gone (no FIN). */
    ts_close(ts, sd);
    ts_out(ts, "R.? 1:1(0)");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rst_unread_close") - r0, 1);
    ts_none_for(ts, 5000);
    /* The peer's next segment meets only the listener. */
    ts_in(ts, "P. 101:201(100) ack 1 win 65535");
    ts_out(ts, "R 1:1(0)");
    ts_free(ts);
}

TEST(test_tcp_close_data_after_close_sends_rst)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t r0 = ts_stat(ts, "tcp.rst_data_after_close");
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_in(ts, ". 1:1(0) ack 2 win 65535");
    /* New data after CLOSE cannot reach anyone: RST (SHLD-2). */
    ts_in(ts, "P. 1:101(100) ack 2 win 65535");
    ts_out(ts, "R.? 2:2(0)");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rst_data_after_close") - r0, 1);
    ts_free(ts);
}

TEST(test_tcp_close_linger_zero_aborts)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_setopt(ts, sd, USTACK_SO_LINGER_ZERO, 1);
    /* ABORT: <SEQ=SND.NXT><CTL=RST>, queues flushed. */
    ts_close(ts, sd);
    ts_out(ts, "R.? 101:101(0)");
    ts_none_for(ts, 5000); /* no retransmission of the data */
    ts_free(ts);
}

TEST(test_tcp_close_after_peer_fin_is_last_ack)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_maybe(ts, ". 1:1(0) ack 101");
    ts_in(ts, "F. 101:101(0) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 102");
    ts_recv_data(ts, sd, 100);
    ts_recv_eof(ts, sd);
    /* Everything was read, so close is graceful: FIN, not RST. */
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 102");
    ts_in(ts, ". 102:102(0) ack 2 win 65535");
    ts_out_none(ts);
    ts_free(ts);
}
