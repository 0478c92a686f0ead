/*
 * Delayed ACKs (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2, RFC 5681 §4.2).
 *
 * In-order text may wait for its ACK, at most delack_ms (40 ms by
 * default, at most 200 ms; MUST-40 says under 0.5 s), so the ACK can ride
 * on data going back; but every second segment is acknowledged at once
 * (SHLD-19), and an ACK is never delayed for out-of-order text, for a
 * segment that fills a gap, for a FIN, or for a window update.
 */
#include <errno.h>
#include <sys/socket.h>

#include "core/stack.h"
#include "tcpscript.h"
#include "test.h"

static struct ts *new_ts_delack(unsigned delack_ms)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.delack_ms = delack_ms;
    return ts_new_with(&cfg);
}

TEST(test_tcp_delack_default_40ms)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t delayed = ts_stat(ts, "tcp.delayed_acks");
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_after(ts, 40, ". 1:1(0) ack 101");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.delayed_acks") - delayed, 1);
    ts_none_for(ts, 1000); /* one ACK, not more */
    ts_recv_data(ts, sd, 100);
    ts_free(ts);
}

TEST(test_tcp_delack_configurable_and_capped)
{
    struct ts *ts = new_ts_delack(150);
    ts_passive_open(ts, NULL);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_after(ts, 150, ". 1:1(0) ack 101");
    ts_free(ts);
    /* Past 200 ms is cut to 200 ms (MUST-40: below 0.5 s in any case). */
    ts = new_ts_delack(450);
    TS_CHECK_EQ(ts, ts_stack(ts)->cfg.tcp.delack_ms, 200);
    ts_passive_open(ts, NULL);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_after(ts, 200, ". 1:1(0) ack 101");
    ts_free(ts);
}

TEST(test_tcp_delack_every_second_segment)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* SHLD-19: "an ACK should be generated for at least every second
     * full-sized segment": the second goes unacknowledged not a moment. */
    for (unsigned i = 0; i < 4 && !ts_failed(ts); i++) {
        unsigned s = 1 + 2 * i * 1460;
        ts_in(ts, ts_fmt(ts, "P. %u:%u(1460) ack 1 win 65535", s, s + 1460));
        ts_out_none(ts);
        ts_advance(ts, 5);
        ts_out_none(ts);
        ts_in(ts, ts_fmt(ts, "P. %u:%u(1460) ack 1 win 65535", s + 1460, s + 2920));
        ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u", s + 2920));
    }
    /* Small segments count too. */
    ts_in(ts, "P. 11681:11691(10) ack 1 win 65535");
    ts_out_none(ts);
    ts_in(ts, "P. 11691:11701(10) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 11701");
    ts_recv_data(ts, sd, 11700);
    ts_free(ts);
}

TEST(test_tcp_delack_piggybacks_on_data)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t delayed = ts_stat(ts, "tcp.delayed_acks");
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_advance(ts, 20);
    ts_out_none(ts);
    /* The answer goes within the delay: it carries the ACK, and no bare
     * ACK follows. */
    ts_recv_data(ts, sd, 100);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 50), 50);
    ts_out(ts, "P. 1:51(50) ack 101");
    ts_none_for(ts, 500);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.delayed_acks") - delayed, 0);
    ts_free(ts);
}

TEST(test_tcp_delack_never_for_out_of_order_or_gap_fill)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* RFC 5681 §4.2: an out-of-order segment draws an immediate
     * duplicate ACK... */
    ts_in(ts, "P. 101:201(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    /* ...and so does every further one. */
    ts_in(ts, "P. 301:401(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    /* "an immediate ACK should be generated when a segment arrives that
     * fills in all or part of a gap": part... */
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 201");
    /* ...and the rest. */
    ts_in(ts, "P. 201:301(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 401");
    ts_recv_data(ts, sd, 400);
    /* In order again: delayed as usual. */
    ts_in(ts, "P. 401:501(100) ack 1 win 65535");
    ts_out_none(ts);
    ts_out_after(ts, 40, ". 1:1(0) ack 501");
    ts_free(ts);
}

TEST(test_tcp_delack_never_for_fin)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_none(ts); /* delayed... */
    ts_in(ts, "F. 101:101(0) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 102"); /* ...until the FIN: at once */
    ts_recv_data(ts, sd, 100);
    ts_recv_eof(ts, sd);
    ts_none_for(ts, 500);
    ts_free(ts);
}

TEST(test_tcp_delack_never_for_window_update)
{
    struct ts *ts = ts_new();
    int sd = ts_socket(ts);
    ts_setopt(ts, sd, USTACK_SO_RCVBUF, 2000);
    ts_active_open_on(ts, sd);
    /* Fill the 2000-byte window. */
    ts_in(ts, "P. 1:1001(1000) ack 1 win 65535");
    ts_in(ts, "P. 1001:2001(1000) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 2001 win 0");
    /* The application reads: the window opens (by at least
     * min(RCV.BUFF/2, MSS) = 1000), and the peer, which is waiting for
     * it, learns at once. */
    ts_recv_data(ts, sd, 1000);
    ts_out(ts, ". 1:1(0) ack 2001 win 1000");
    ts_free(ts);
}

TEST(test_tcp_delack_timer_is_not_restarted_by_later_data)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* The delay counts from the first unacknowledged segment: a second
     * one would be ACKed at once anyway, so the bound is per ACK. */
    uint64_t t0 = ts_now_us(ts);
    ts_in(ts, "P. 1:11(10) ack 1 win 65535");
    ts_advance(ts, 30);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 0), 0); /* an unrelated call */
    ts_out_at(ts, t0 + 40 * 1000, ". 1:1(0) ack 11");
    ts_free(ts);
}
