/*
 * Nagle's algorithm (RFC 9293 §3.7.4, RFC 1122 §4.2.3.4) and its
 * per-socket switch USTACK_TCP_NODELAY (MUST-17).
 *
 * "If there is unacknowledged data (i.e., SND.NXT > SND.UNA), then the
 * sending TCP endpoint buffers all user data (regardless of the PSH bit)
 * until the outstanding data has been acknowledged or until the TCP
 * endpoint can send a full-sized segment."
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

TEST(test_tcp_nagle_on_by_default)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    int v = -1;
    TS_CHECK_EQ(ts, ustack_getsockopt(ts_stack(ts), sd, USTACK_TCP_NODELAY, &v), 0);
    TS_CHECK_EQ(ts, v, 0);
    ts_free(ts);
}

TEST(test_tcp_nagle_small_writes_coalesce_while_unacked)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* Nothing in flight: the first small write goes at once. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 1");
    /* Then every small write waits for the ACK... */
    for (int i = 0; i < 5; i++)
        TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_none_for(ts, 500);
    /* ...and they leave as one segment. */
    ts_in(ts, ". 1:1(0) ack 11 win 65535");
    ts_out(ts, "P. 11:61(50) ack 1");
    ts_in(ts, ". 1:1(0) ack 61 win 65535");
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_nagle_full_segments_are_not_held)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 1");
    /* Unacknowledged data in flight, but "the TCP endpoint can send a
     * full-sized segment": those go; only the short tail waits. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3000), 3000);
    ts_out(ts, ". 11:1471(1460) ack 1");
    ts_out(ts, ". 1471:2931(1460) ack 1");
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 2931 win 65535");
    ts_out(ts, "P. 2931:3011(80) ack 1");
    ts_free(ts);
}

TEST(test_tcp_nagle_nodelay_sends_every_write)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    int v = 0;
    TS_CHECK_EQ(ts, ustack_getsockopt(ts_stack(ts), sd, USTACK_TCP_NODELAY, &v), 0);
    TS_CHECK_EQ(ts, v, 1);
    for (unsigned i = 0; i < 4 && !ts_failed(ts); i++) {
        TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
        ts_out(ts, ts_fmt(ts, "P. %u:%u(10) ack 1", 1 + 10 * i, 11 + 10 * i));
    }
    ts_free(ts);
}

TEST(test_tcp_nagle_nodelay_flushes_held_data)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 1");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 20), 20);
    ts_out_none(ts);
    /* Turning Nagle off sends what it held, at once. */
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    ts_out(ts, "P. 11:31(20) ack 1");
    /* And on again: held again. */
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 0);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 5), 5);
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 31 win 65535");
    ts_out(ts, "P. 31:36(5) ack 1");
    ts_free(ts);
}

TEST(test_tcp_nagle_inherited_from_listener)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_setopt(ts, lsd, USTACK_TCP_NODELAY, 1);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 1");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 11:21(10) ack 1");
    ts_free(ts);
}
