/*
 * Silly window syndrome avoidance, both sides (RFC 9293 §3.8.6.2).
 *
 * Receiver (§3.8.6.2.2): the right edge of the window we offer moves only
 * when it can move by min(RCV.BUFF / 2, MSS) or more; the window update
 * goes at once when the peer may be waiting for it (its window was down
 * to half of the buffer or less).
 *
 * Sender (§3.8.6.2.1): a segment shorter than the MSS goes when it holds
 * everything queued (Nagle permitting), or is at least half the largest
 * window the peer ever offered (with nothing in flight, under Nagle), or
 * when the override timeout (the persist timer) runs out; never a sliver
 * of a window otherwise.
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

#define SEC 1000000ull

/* Active open with a small receive buffer, then fill its window. */
static int full_receiver(struct ts *ts, int rcvbuf)
{
    int sd = ts_socket(ts);
    ts_setopt(ts, sd, USTACK_SO_RCVBUF, rcvbuf);
    ts_active_open_on(ts, sd);
    return sd;
}

TEST(test_tcp_sws_receiver_edge_moves_by_mss)
{
    struct ts *ts = ts_new();
    int sd = full_receiver(ts, 8000); /* threshold min(4000, 1460) = 1460 */
    for (unsigned s = 1; s < 8001 && !ts_failed(ts); s += 1000)
        ts_in(ts, ts_fmt(ts, "P. %u:%u(1000) ack 1 win 65535", s, s + 1000));
    ts_advance(ts, 100);
    ts_out_count(ts, ". 1:1(0) ack * win *");
    TS_CHECK_EQ(ts, ts_last(ts)->win, 0);
    uint64_t updates = ts_stat(ts, "tcp.window_updates");
    /* Reading 1000, then 400 bytes: 1400 < 1460, the edge stays. */
    ts_recv_data(ts, sd, 1000);
    ts_recv_data(ts, sd, 400);
    ts_none_for(ts, 1000);
    /* 1460 and more: the window opens, and the peer (shut out) hears of
     * it at once. */
    ts_recv_data(ts, sd, 100);
    ts_out(ts, ". 1:1(0) ack 8001 win 1500");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.window_updates") - updates, 1);
    /* The peer sends 1000: the window left is 500, and reading 200 more
     * (edge could move by 200 < 1460) does not move it. */
    ts_in(ts, "P. 8001:9001(1000) ack 1 win 65535");
    ts_recv_data(ts, sd, 200);
    ts_out_after(ts, 40, ". 1:1(0) ack 9001 win 500");
    ts_free(ts);
}

TEST(test_tcp_sws_receiver_no_update_while_window_half_open)
{
    struct ts *ts = ts_new();
    int sd = full_receiver(ts, 8000);
    /* 2000 bytes in: 6000 of the window left, more than half. */
    ts_in(ts, "P. 1:1001(1000) ack 1 win 65535");
    ts_in(ts, "P. 1001:2001(1000) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 2001 win 6000");
    uint64_t updates = ts_stat(ts, "tcp.window_updates");
    /* Reading them could move the edge by 2000, but the peer is not held
     * back: no update of its own, the next ACK carries the new edge. */
    ts_recv_data(ts, sd, 2000);
    ts_none_for(ts, 500);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.window_updates") - updates, 0);
    ts_in(ts, "P. 2001:3001(1000) ack 1 win 65535");
    ts_out_after(ts, 40, ". 1:1(0) ack 3001 win 7000");
    ts_free(ts);
}

TEST(test_tcp_sws_sender_waits_for_a_useful_window)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL); /* the peer offered 65535 */
    ts_in(ts, ". 1:1(0) ack 1 win 100");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 5000), 5000);
    /* 100 bytes of window: less than the MSS and than half the largest
     * window (32767): nothing goes... */
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 1 win 200");
    ts_out_none(ts);
    /* ...until the override timeout (the persist timer, one RTO) sends
     * what the window takes. */
    ts_out_after(ts, 1000, ". 1:201(200) ack 1");
    /* A real window: full segments at once. */
    ts_in(ts, ". 1:1(0) ack 201 win 65535");
    ts_out(ts, ". 201:1661(1460) ack 1");
    ts_out(ts, ". 1661:3121(1460) ack 1");
    ts_out(ts, ". 3121:4581(1460) ack 1");
    ts_out_none(ts); /* the last 420: Nagle waits for the ACK */
    ts_in(ts, ". 1:1(0) ack 4581 win 65535");
    ts_out(ts, "P. 4581:5001(420) ack 1");
    ts_free(ts);
}

TEST(test_tcp_sws_sender_half_the_largest_window_goes)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    /* A peer that never offers more than 1000 bytes. */
    ts_in(ts, "S 0:0(0) win 1000 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 1000");
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3000), 3000);
    ts_out(ts, ". 1:1001(1000) ack 1");
    /* 400 is less than half of 1000: held. 600 is not: it goes. */
    ts_in(ts, ". 1:1(0) ack 1001 win 400");
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 1001 win 600");
    ts_out(ts, ". 1001:1601(600) ack 1");
    ts_free(ts);
}

TEST(test_tcp_sws_sender_no_sliver_while_data_in_flight)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 1000 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 1000");
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3000), 3000);
    ts_out(ts, ". 1:1001(1000) ack 1");
    /* Half of it acknowledged, the window slides by 500: 500 of room, but
     * with data in flight the Nagle condition of (3) holds it... */
    ts_in(ts, ". 1:1(0) ack 501 win 1000");
    ts_out_none(ts);
    /* ...until the rest is acknowledged: then a full window's worth. */
    ts_in(ts, ". 1:1(0) ack 1001 win 1000");
    ts_out(ts, ". 1001:2001(1000) ack 1");
    /* With TCP_NODELAY the bracketed Nagle condition is off: half the
     * largest window goes even with data in flight. */
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    ts_in(ts, ". 1:1(0) ack 1501 win 1000");
    ts_out(ts, ". 2001:2501(500) ack 1");
    ts_free(ts);
}
