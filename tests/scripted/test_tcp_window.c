/*
 * The send window update rule (RFC 9293 §3.10.7.4, fifth check,
 * ESTABLISHED): the window is taken from a segment only when
 * SND.UNA =< SEG.ACK =< SND.NXT and the segment is not older than the one
 * that last set it (SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and
 * SND.WL2 =< SEG.ACK). Old segments must not shrink the window.
 */
#include "tcpscript.h"
#include "test.h"

TEST(test_tcp_window_update_opens_and_closes)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* A newer segment (same SEQ, same ACK) may close the window... */
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out_none(ts);
    /* ...and open it again. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_window_old_ack_does_not_shrink)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 200), 200);
    ts_out(ts, "P. 1:201(200) ack 1");
    /* The newer ACK arrives first... */
    ts_in(ts, ". 1:1(0) ack 201 win 65535");
    /* ...then an older one (SEG.ACK < SND.UNA) with a zero window: it is
     * a duplicate, its window must not be used. */
    ts_in(ts, ". 1:1(0) ack 101 win 0");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 201:301(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_window_old_duplicate_segment_does_not_shrink)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    /* A delayed copy of old data that carried a zero window: it fails
     * the sequence test and is dropped after an ACK, window untouched. */
    ts_in(ts, "P. 1:101(100) ack 1 win 0");
    ts_out(ts, ". 1:1(0) ack 101");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 101");
    ts_free(ts);
}

TEST(test_tcp_window_wl1_newer_seq_wins)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* Data segments move SND.WL1 forward; each newer one sets the window. */
    ts_in(ts, "P. 1:101(100) ack 1 win 0");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out_none(ts); /* window 0 */
    ts_in(ts, "P. 101:201(100) ack 1 win 65535");
    /* Window open: the data goes. The ACK check (fifth) comes before the
     * text (seventh), so the data may leave before RCV.NXT moves; the ACK
     * of 201 then follows. */
    int which = ts_out_oneof(ts, "P. 1:101(100) ack 201", "P. 1:101(100) ack 101",
                             ". 1:1(0) ack 201");
    if (which == 1)
        ts_out_within(ts, 500, ". 101:101(0) ack 201");
    if (which == 2)
        ts_out(ts, "P. 1:101(100) ack 201");
    ts_recv_data(ts, sd, 200);
    ts_free(ts);
}

TEST(test_tcp_window_wl1_reordered_segments)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* Two data segments from the peer arrive out of order: the later one
     * (in sequence) says "window open", the earlier one "window 0". The
     * earlier must not override the later: processed in sequence order
     * the later comes last, and if its ACK fields were used on arrival,
     * SND.WL1 (101 > 1) rejects the older window. Relies on the
     * out-of-order segment being held (SHLD-31). */
    ts_in(ts, "P. 101:201(100) ack 1 win 65535");
    ts_out_maybe(ts, ". 1:1(0) ack 1");
    ts_in(ts, "P. 1:101(100) ack 1 win 0");
    ts_out_within(ts, 500, ". 1:1(0) ack 201");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 201");
    ts_recv_data(ts, sd, 200);
    ts_free(ts);
}
