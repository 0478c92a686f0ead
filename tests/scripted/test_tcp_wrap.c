/*
 * Sequence numbers wrap at 2^32 (RFC 9293 §3.4: all arithmetic is modulo
 * 2^32). Both ISNs sit just below the wrap so that data, ACKs, FINs and
 * the acceptability tests cross it in both directions.
 */
#include <errno.h>

#include "tcpscript.h"
#include "test.h"

TEST(test_tcp_wrap_passive_both_directions)
{
    struct ts *ts = ts_new();
    if (!ts_set_stack_iss(ts, 0xfffffff0u)) {
        ts_free(ts);
        SKIP("the stack has no tcp_debug_set_next_iss hook");
    }
    ts_set_peer_isn(ts, 0xffffffc0u); /* peer data crosses at rel 64 */
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_last(ts)->seq, 0xfffffff0u); /* the SYN-ACK */
    /* Peer -> stack across the wrap. */
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    TS_CHECK_EQ(ts, ts_last(ts)->ack, 0xffffffc0u + 101); /* wrapped: 0x25 */
    ts_in(ts, "P. 101:201(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 201");
    /* An old duplicate from before the wrap is still "old". */
    ts_in(ts, "P. 1:51(50) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 201");
    ts_recv_data(ts, sd, 200);
    /* Stack -> peer across the wrap (ISS + 16 = 2^32). */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 201");
    ts_in(ts, ". 201:201(0) ack 101 win 65535");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1000), 1000);
    ts_out(ts, "P. 101:1101(1000) ack 201");
    ts_in(ts, ". 201:201(0) ack 1101 win 65535");
    ts_out_none(ts);
    /* An in-window RST past the wrap is challenged, not obeyed. */
    ts_in(ts, "R 1000:1000(0) win 0");
    ts_out(ts, ". 1101:1101(0) ack 201");
    /* An ACK for data not yet sent, just past SND.NXT across the wrap. */
    ts_in(ts, "P. 201:211(10) ack 1102 win 65535");
    ts_out(ts, ". 1101:1101(0) ack 201");
    /* FINs in both directions. */
    ts_close(ts, sd);
    ts_out(ts, "F. 1101:1101(0) ack 201");
    ts_in(ts, "F. 201:201(0) ack 1102 win 65535");
    ts_out_within(ts, 500, ". 1102:1102(0) ack 202");
    ts_free(ts);
}

TEST(test_tcp_wrap_active_iss_last_value)
{
    struct ts *ts = ts_new();
    /* ISS = 2^32 - 1: the SYN takes the last number, the first data byte
     * is sequence number 0. */
    if (!ts_set_stack_iss(ts, 0xffffffffu)) {
        ts_free(ts);
        SKIP("the stack has no tcp_debug_set_next_iss hook");
    }
    ts_set_peer_isn(ts, 0xffffffffu);
    int sd = ts_active_open(ts);
    TS_CHECK_EQ(ts, ts_last(ts)->seq, 0); /* the ACK: SND.NXT wrapped */
    TS_CHECK_EQ(ts, ts_last(ts)->ack, 0);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 300), 300);
    ts_out(ts, "P. 1:301(300) ack 1");
    ts_in(ts, "P. 1:301(300) ack 301 win 65535");
    ts_out_within(ts, 500, ". 301:301(0) ack 301");
    ts_recv_data(ts, sd, 300);
    /* Retransmission across the wrap keeps the numbers. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 301:311(10) ack 301");
    ts_out_after(ts, 1000, "P. 301:311(10) ack 301");
    ts_in(ts, ". 301:301(0) ack 311 win 65535");
    ts_none_for(ts, 5000);
    ts_free(ts);
}
