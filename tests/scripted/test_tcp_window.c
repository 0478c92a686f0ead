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

TEST(test_tcp_window_receiver_right_edge_never_recedes)
{
    struct ts *ts = ts_new();
    int sd = ts_socket(ts);
    ts_setopt(ts, sd, USTACK_SO_RCVBUF, 8000);
    ts_active_open_on(ts, sd);
    const struct ts_flow *f = ts_cur(ts);
    /* SHLD-14: RCV.NXT + RCV.WND never moves left. Track it over every
     * segment while data arrives, is read, and arrives again. */
    uint32_t edge = 1 + f->stack_win, seq = 1;
    for (int round = 0; round < 3 && !ts_failed(ts); round++) {
        for (int i = 0; i < 6 && !ts_failed(ts); i++) {
            ts_in(ts, ts_fmt(ts, "P. %u:%u(1000) ack 1 win 65535", seq, seq + 1000));
            seq += 1000;
            ts_advance(ts, 499);
            while (!ts_failed(ts) && ts_out_maybe(ts, ". 1:1(0) ack * win *")) {
                uint32_t e = ts_last(ts)->ack - f->peer_isn + ts_last(ts)->win;
                TS_CHECK(ts, (int32_t)(e - edge) >= 0);
                edge = e;
            }
        }
        ts_recv_data(ts, sd, 6000);
        ts_advance(ts, 499);
        while (!ts_failed(ts) && ts_out_maybe(ts, ". 1:1(0) ack * win *")) {
            uint32_t e = ts_last(ts)->ack - f->peer_isn + ts_last(ts)->win;
            TS_CHECK(ts, (int32_t)(e - edge) >= 0);
            edge = e;
        }
        /* Reading opened the window again. */
        TS_CHECK(ts, (int32_t)(edge - seq) >= 1000);
    }
    ts_free(ts);
}

TEST(test_tcp_window_zero_window_probe_carries_data)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out_none(ts);
    /* §3.8.6.1: "The sending TCP peer must regularly transmit at least
     * one octet of new data (if available)"; the first probe after one
     * RTO (SHLD-29). */
    ts_out_at(ts, ts_now_us(ts) + 1000000, "P?. 1:*(*) ack 1");
    TS_CHECK(ts, ts_last(ts)->data_len >= 1);
    ts_free(ts);
}

/* A window probe in either form: new data at SND.NXT, or an old sequence
 * number that draws an ACK (the form is checked above). */
#define PROBE "P?. *:*(*) ack 1"

TEST(test_tcp_window_zero_window_probe_backoff_and_persist)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out_none(ts);
    /* MUST-36 probing, first after one RTO (SHLD-29), then exponentially
     * further apart (SHLD-30). */
    uint64_t t = ts_now_us(ts);
    ts_out_at(ts, t + 1000000, PROBE);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    t = ts_last_time(ts);
    ts_out_at(ts, t + 2000000, PROBE);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    t = ts_last_time(ts);
    ts_out_at(ts, t + 4000000, PROBE);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    /* MUST-37: as long as the probes are answered the connection stays,
     * however long (well past the retry limit for data). */
    for (int i = 0; i < 30 && !ts_failed(ts); i++) {
        ts_out_within(ts, 61000, PROBE);
        ts_in(ts, ". 1:1(0) ack 1 win 0");
    }
    TS_CHECK(ts, !(ts_events(ts, sd) & USTACK_EV_ERROR));
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    /* The window opens: everything goes. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_window_nagle_and_nodelay)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* Nagle (SHLD-7): with unacknowledged data, small writes wait. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 1:11(10) ack 1");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 11 win 65535");
    ts_out(ts, "P. 11:31(20) ack 1");
    ts_in(ts, ". 1:1(0) ack 31 win 65535");
    /* MUST-17: the application can turn it off. */
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 31:41(10) ack 1");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out(ts, "P. 41:51(10) ack 1");
    ts_free(ts);
}

TEST(test_tcp_window_keepalive_off_by_default)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* MUST-25: keep-alives default to off: an idle connection is silent
     * (3 hours is past the 2-hour minimum interval of MUST-28). */
    ts_none_for(ts, 3u * 3600 * 1000);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}
