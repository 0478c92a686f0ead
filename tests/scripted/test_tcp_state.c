/*
 * Every transition of the RFC 9293 §3.3.2 state diagram, driven by exact
 * segments: passive, active and simultaneous open; the close paths through
 * FIN-WAIT-1/2, CLOSING, TIME-WAIT (and its 2*MSL expiry), CLOSE-WAIT and
 * LAST-ACK; CLOSE in LISTEN, SYN-SENT and SYN-RECEIVED (§3.10.4).
 *
 * TIME-WAIT is observed from the outside: an old duplicate segment is
 * unacceptable there and draws an ACK (§3.10.7.4 first check, which does
 * not restart the 2*MSL timer); once the connection is gone the same
 * segment draws a RST (§3.10.7.1).
 */
#include <errno.h>

#include "tcpscript.h"
#include "test.h"

#define MSL_MS 1000
#define TWO_MSL_US (2ull * MSL_MS * 1000)

static struct ts *new_ts(void)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.msl_ms = MSL_MS;
    return ts_new_with(&cfg);
}

/* The peer's old duplicate: unacceptable in TIME-WAIT (seq < RCV.NXT). */
#define OLD_DUP ". 0:0(0) ack 2 win 65535"

/* Check that the connection whose TIME-WAIT began at t0 answers the old
 * duplicate with an ACK until t0 + 2*MSL and with a RST after it. */
static void expect_time_wait_until(struct ts *ts, uint64_t t0)
{
    ts_advance_to(ts, t0 + TWO_MSL_US - TS_SLACK_MS * 1000);
    ts_in(ts, OLD_DUP);
    ts_out(ts, ". 2:2(0) ack 2");
    ts_advance_to(ts, t0 + TWO_MSL_US + TS_SLACK_MS * 1000);
    ts_in(ts, OLD_DUP);
    ts_out(ts, "R 2:2(0)");
    ts_out_none(ts);
}

TEST(test_tcp_state_passive_open)
{
    struct ts *ts = new_ts();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    /* LISTEN -> SYN-RECEIVED: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_accept_none(ts, lsd); /* not established yet */
    int ev = ts_poll(ts, lsd);
    TS_CHECK(ts, ev < 0 || !(ev & USTACK_EV_READABLE));
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    /* SYN-RECEIVED -> ESTABLISHED: the listener becomes readable. */
    ev = ts_poll(ts, lsd);
    TS_CHECK(ts, ev > 0 && (ev & USTACK_EV_READABLE));
    int sd = ts_accept(ts, lsd);
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_WRITABLE);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    ts_recv_data(ts, sd, 100);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 50), 50);
    ts_out(ts, "P. 1:51(50) ack 101");
    ts_in(ts, ". 101:101(0) ack 51 win 65535");
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_state_active_open)
{
    struct ts *ts = new_ts();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    /* CLOSED -> SYN-SENT: <SEQ=ISS><CTL=SYN>, MSS announced (SHLD-5). */
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    TS_CHECK(ts, !(ts_events(ts, sd) & USTACK_EV_WRITABLE));
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    /* SYN-SENT -> ESTABLISHED: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. */
    ts_out(ts, ". 1:1(0) ack 1");
    int ev = ts_poll(ts, sd);
    TS_CHECK(ts, ev > 0 && (ev & USTACK_EV_WRITABLE));
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_WRITABLE);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_in(ts, "P. 1:51(50) ack 101 win 65535");
    ts_out_within(ts, 500, ". 101:101(0) ack 51");
    ts_recv_data(ts, sd, 50);
    ts_free(ts);
}

TEST(test_tcp_state_simultaneous_open)
{
    struct ts *ts = new_ts();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    /* The peer's SYN crosses ours: SYN-SENT -> SYN-RECEIVED, and the
     * answer is <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (§3.10.7.3 fourth). */
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460, ...>");
    TS_CHECK(ts, !(ts_events(ts, sd) & USTACK_EV_WRITABLE));
    /* The peer's SYN-ACK repeats its SYN (seq < RCV.NXT, unacceptable),
     * so it draws <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. */
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    /* Its ACK of our SYN-ACK completes the open (if not already). */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_WRITABLE);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 1");
    ts_in(ts, "P. 1:21(20) ack 11 win 65535");
    ts_out_within(ts, 500, ". 11:11(0) ack 21");
    ts_recv_data(ts, sd, 20);
    ts_free(ts);
}

TEST(test_tcp_state_active_close_fin_wait_2_time_wait)
{
    struct ts *ts = new_ts();
    int sd = ts_active_open(ts);
    /* ESTABLISHED -> FIN-WAIT-1. */
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 1");
    /* FIN-WAIT-1 -> FIN-WAIT-2: our FIN is acknowledged. */
    ts_in(ts, ". 1:1(0) ack 2 win 65535");
    ts_out_none(ts);
    /* FIN-WAIT-2 -> TIME-WAIT on the peer's FIN, which is acknowledged. */
    ts_in(ts, "F. 1:1(0) ack 2 win 65535");
    uint64_t t0 = ts_now_us(ts);
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    /* TIME-WAIT -> CLOSED after 2*MSL. */
    expect_time_wait_until(ts, t0);
    ts_free(ts);
}

TEST(test_tcp_state_fin_wait_1_fin_and_ack_to_time_wait)
{
    struct ts *ts = new_ts();
    int sd = ts_active_open(ts);
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 1");
    /* FIN that also acknowledges ours: FIN-WAIT-1 -> TIME-WAIT directly
     * (§3.10.7.4 eighth, "our FIN has been ACKed (perhaps in this
     * segment)"). */
    ts_in(ts, "F. 1:1(0) ack 2 win 65535");
    uint64_t t0 = ts_now_us(ts);
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    expect_time_wait_until(ts, t0);
    ts_free(ts);
}

TEST(test_tcp_state_simultaneous_close_closing)
{
    struct ts *ts = new_ts();
    int sd = ts_active_open(ts);
    ts_close(ts, sd);
    uint64_t fin_time = ts_now_us(ts);
    ts_out(ts, "F. 1:1(0) ack 1");
    /* The peer's FIN crosses ours (it does not acknowledge our FIN):
     * FIN-WAIT-1 -> CLOSING, and the FIN is acknowledged. */
    ts_in(ts, "F. 1:1(0) ack 1 win 65535");
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    /* In CLOSING our FIN is still unacknowledged: it is retransmitted
     * after the RTO (1 s, RFC 6298). */
    ts_out_at(ts, fin_time + 1000000, "F. 1:1(0) ack 2");
    /* CLOSING -> TIME-WAIT when the ACK of our FIN arrives. */
    ts_in(ts, ". 2:2(0) ack 2 win 65535");
    uint64_t t0 = ts_now_us(ts);
    ts_out_none(ts);
    expect_time_wait_until(ts, t0);
    ts_free(ts);
}

TEST(test_tcp_state_time_wait_fin_restarts_2msl)
{
    struct ts *ts = new_ts();
    int sd = ts_active_open(ts);
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_in(ts, "F. 1:1(0) ack 2 win 65535");
    uint64_t t0 = ts_now_us(ts);
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    /* A retransmitted FIN in TIME-WAIT is acknowledged and restarts the
     * 2*MSL timeout (§3.10.7.4 fifth and eighth). */
    ts_advance_to(ts, t0 + TWO_MSL_US * 3 / 4);
    ts_in(ts, "F. 1:1(0) ack 2 win 65535");
    uint64_t t1 = ts_now_us(ts);
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    /* Past the first deadline the connection must still be there. */
    ts_advance_to(ts, t0 + TWO_MSL_US + 100000);
    ts_in(ts, OLD_DUP);
    ts_out(ts, ". 2:2(0) ack 2");
    expect_time_wait_until(ts, t1);
    ts_free(ts);
}

TEST(test_tcp_state_passive_close_close_wait_last_ack)
{
    struct ts *ts = new_ts();
    int sd = ts_passive_open(ts, NULL);
    /* ESTABLISHED -> CLOSE-WAIT on the peer's FIN. */
    ts_in(ts, "F. 1:1(0) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 2");
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_READABLE);
    ts_recv_eof(ts, sd);
    /* CLOSE-WAIT still sends (§3.10.2). */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 2");
    ts_in(ts, ". 2:2(0) ack 101 win 65535");
    ts_out_none(ts);
    /* CLOSE-WAIT -> LAST-ACK. */
    ts_close(ts, sd);
    ts_out(ts, "F. 101:101(0) ack 2");
    /* LAST-ACK -> CLOSED when our FIN is acknowledged. */
    ts_in(ts, ". 2:2(0) ack 102 win 65535");
    ts_out_none(ts);
    /* Nothing of the connection is left: the listener answers the same
     * ACK with <SEQ=SEG.ACK><CTL=RST> (§3.10.7.2). */
    ts_in(ts, ". 2:2(0) ack 102 win 65535");
    ts_out(ts, "R 102:102(0)");
    ts_free(ts);
}

TEST(test_tcp_state_close_in_syn_sent_deletes_tcb)
{
    struct ts *ts = new_ts();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    /* §3.10.4 SYN-SENT: delete the TCB; nothing is sent. */
    ts_close(ts, sd);
    ts_out_none(ts);
    ts_none_for(ts, 5000); /* and the SYN is not retransmitted */
    /* A late SYN-ACK finds no connection: <SEQ=SEG.ACK><CTL=RST>. */
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, "R 1:1(0)");
    ts_free(ts);
}

TEST(test_tcp_state_close_in_syn_received_sends_fin)
{
    struct ts *ts = new_ts();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460, ...>");
    /* §3.10.4 SYN-RECEIVED with nothing to send: send FIN, enter
     * FIN-WAIT-1. */
    ts_close(ts, sd);
    ts_out(ts, "F. 1:1(0) ack 1");
    /* The peer acknowledges SYN and FIN, then closes too. */
    ts_in(ts, ". 1:1(0) ack 2 win 65535");
    ts_out_none(ts);
    ts_in(ts, "F. 1:1(0) ack 2 win 65535");
    uint64_t t0 = ts_now_us(ts);
    ts_out_within(ts, 500, ". 2:2(0) ack 2");
    expect_time_wait_until(ts, t0);
    ts_free(ts);
}

TEST(test_tcp_state_close_listener)
{
    struct ts *ts = new_ts();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_close(ts, lsd);
    /* §3.10.4 LISTEN: the TCB is gone, so a SYN finds a closed port:
     * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "R. @0:@0(0) ack 1");
    ts_free(ts);
}
