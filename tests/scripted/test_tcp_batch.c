/*
 * Batched input (tcp_batch.c, ustack_input_batch_begin/end): during a
 * batch a connection's output waits for the end and then runs once; ACKs
 * for out-of-order text (duplicate ACKs) go at once; a connection reset
 * later in the batch answers nothing.
 */
#include <errno.h>

#include "tcpopts.h"
#include "tcpscript.h"
#include "test.h"

TEST(test_tcp_batch_one_ack_for_the_batch)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ustack_input_batch_begin(ts_stack(ts));
    for (unsigned i = 0; i < 6; i++)
        ts_in(ts, ts_fmt(ts, ". %u:%u(1000) ack 1 win 65535", 1 + i * 1000, 1001 + i * 1000));
    ts_out_none(ts); /* unbatched: an ACK after every second segment */
    ustack_input_batch_end(ts_stack(ts));
    ts_out(ts, ". 1:1(0) ack 6001");
    ts_out_none(ts);
    ts_recv_data(ts, sd, 6000);
    /* Outside a batch, as before: every second segment at once. */
    ts_in(ts, ". 6001:7001(1000) ack 1 win 65535");
    ts_out_none(ts);
    ts_in(ts, ". 7001:8001(1000) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 8001");
    ts_free(ts);
}

TEST(test_tcp_batch_duplicate_acks_not_held)
{
    struct ts *ts = ts_new();
    ts_passive_open(ts, NULL);
    ustack_input_batch_begin(ts_stack(ts));
    ts_in(ts, ". 1:1001(1000) ack 1 win 65535");
    ts_out_none(ts);
    /* 1001:2001 is missing: each later segment draws its duplicate ACK
     * at once, so the sender can count three. */
    ts_in(ts, ". 2001:3001(1000) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1001");
    ts_in(ts, ". 3001:4001(1000) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1001");
    ts_in(ts, ". 4001:5001(1000) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1001");
    ustack_input_batch_end(ts_stack(ts));
    ts_out_none(ts); /* the duplicate ACKs carried what was owed */
    /* The repair is acknowledged once the batch ends. */
    ustack_input_batch_begin(ts_stack(ts));
    ts_in(ts, ". 1001:2001(1000) ack 1 win 65535");
    ustack_input_batch_end(ts_stack(ts));
    ts_out(ts, ". 1:1(0) ack 5001");
    ts_out_none(ts);
    ts_free(ts);
}

/* Sending: the ACKs of a batch open the congestion window; the segments
 * they let go leave in one pass at the end. */
TEST(test_tcp_batch_acks_release_data_once)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 60000), 60000);
    TS_CHECK_EQ(ts, ts_out_count(ts, "P?. *:*(1460) ack 1"), 10); /* initial window */
    ustack_input_batch_begin(ts_stack(ts));
    ts_in(ts, ". 1:1(0) ack 2921 win 65535");
    ts_in(ts, ". 1:1(0) ack 5841 win 65535");
    ts_in(ts, ". 1:1(0) ack 8761 win 65535");
    ts_out_none(ts);
    ustack_input_batch_end(ts_stack(ts));
    /* However much cwnd grew, the segments go back to back at the end
     * and fill it: 6 were acknowledged, so at least 6 new ones. */
    int sent = ts_out_count(ts, "P?. *:*(1460) ack 1");
    struct ustack_tcp_info i = tso_conn(ts);
    TS_CHECK(ts, sent >= 6);
    TS_CHECK(ts, i.cwnd > 10 * 1460);
    TS_CHECK_EQ(ts, i.snd_nxt - i.snd_una, i.cwnd / 1460 * 1460);
    TS_CHECK_EQ(ts, i.snd_nxt - i.snd_una, (unsigned)(4 + sent) * 1460);
    ts_free(ts);
}

TEST(test_tcp_batch_reset_in_batch_answers_nothing)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ustack_input_batch_begin(ts_stack(ts));
    ts_in(ts, ". 1:1001(1000) ack 1 win 65535");
    ts_in(ts, ". 1001:2001(1000) ack 1 win 65535");
    ts_in(ts, "R. 2001:2001(0) ack 1 win 0");
    ustack_input_batch_end(ts_stack(ts));
    ts_out_none(ts);
    ts_recv_data(ts, sd, 2000); /* what arrived before stays readable */
    ts_recv_err(ts, sd, ECONNRESET);
    ts_free(ts);
}
