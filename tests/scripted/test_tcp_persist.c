/*
 * Zero-window probing (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17).
 *
 * When the peer's window is shut and data waits, the persist timer sends
 * a probe (the first waiting byte) after one RTO (SHLD-29), then at
 * exponentially growing intervals (SHLD-30) up to the maximum RTO. A peer
 * that answers is never given up on (MUST-37); one that stops answering
 * fails the connection (ETIMEDOUT) after data_retries probes, or after
 * the user timeout when one is set (see test_tcp_usertimeout.c).
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

#define SEC 1000000ull

static struct ts *new_ts_retries(unsigned data_retries, unsigned rto_max_ms)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.data_retries = data_retries;
    cfg.tcp.rto_max_ms = rto_max_ms;
    return ts_new_with(&cfg);
}

/* Established, the peer's window shut, 100 bytes waiting. */
static int shut_window(struct ts *ts)
{
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out_none(ts);
    return sd;
}

TEST(test_tcp_persist_backoff_and_never_gives_up_while_answered)
{
    /* A retry limit of 3 and a maximum RTO of 8 s: answered probes must
     * not count against the limit. */
    struct ts *ts = new_ts_retries(3, 8000);
    int sd = shut_window(ts);
    uint64_t probes = ts_stat(ts, "tcp.window_probes");
    uint64_t t = ts_now_us(ts);
    /* Probes 1, 2, 4, 8, 8, 8 ... s apart: the first byte, into the shut
     * window. Each answered "still 0". */
    uint64_t gaps[] = {1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8};
    for (unsigned k = 0; k < sizeof(gaps) / sizeof(gaps[0]) && !ts_failed(ts); k++) {
        t += gaps[k] * SEC;
        ts_out_at(ts, t, ". 1:2(1) ack 1");
        t = ts_last_time(ts);
        ts_in(ts, ". 1:1(0) ack 1 win 0");
        ts_out_none(ts);
    }
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.window_probes") - probes, 20);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    /* The window opens: everything goes, no more probes. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    ts_none_for(ts, 60000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.window_probes") - probes, 20);
    ts_free(ts);
}

TEST(test_tcp_persist_gives_up_when_unanswered)
{
    struct ts *ts = new_ts_retries(4, 60000);
    int sd = shut_window(ts);
    uint64_t t0 = ts_now_us(ts);
    ts_out_at(ts, t0 + 1 * SEC, ". 1:2(1) ack 1");
    ts_out_at(ts, t0 + 3 * SEC, ". 1:2(1) ack 1");
    ts_out_at(ts, t0 + 7 * SEC, ". 1:2(1) ack 1");
    ts_out_at(ts, t0 + 15 * SEC, ". 1:2(1) ack 1");
    /* Four unanswered probes: at the fifth's time the connection fails. */
    ts_advance_to(ts, t0 + 31 * SEC - 10000);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_events(ts, sd) & USTACK_EV_ERROR, 0);
    ts_advance_to(ts, t0 + 31 * SEC + 10000);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ETIMEDOUT);
    ts_free(ts);
}

TEST(test_tcp_persist_an_answer_resets_the_count)
{
    struct ts *ts = new_ts_retries(2, 60000);
    int sd = shut_window(ts);
    uint64_t t0 = ts_now_us(ts);
    /* Two unanswered probes (at 1 and 3 s), then an answer: the count
     * restarts there, the back-off goes on. */
    ts_out_at(ts, t0 + 1 * SEC, ". 1:2(1) ack 1");
    ts_out_at(ts, t0 + 3 * SEC, ". 1:2(1) ack 1");
    ts_advance(ts, 100);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    /* Two more unanswered (7 and 15 s): still alive at 15 s, which two
     * unanswered probes without the answer would not be... */
    ts_out_at(ts, t0 + 7 * SEC, ". 1:2(1) ack 1");
    ts_out_at(ts, t0 + 15 * SEC, ". 1:2(1) ack 1");
    TS_CHECK_EQ(ts, ts_events(ts, sd) & USTACK_EV_ERROR, 0);
    /* ...and failed when the third comes due (31 s). */
    ts_advance_to(ts, t0 + 31 * SEC + 10000);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ETIMEDOUT);
    ts_free(ts);
}

TEST(test_tcp_persist_probe_taken_when_window_opened)
{
    struct ts *ts = ts_new();
    shut_window(ts);
    uint64_t t = ts_now_us(ts);
    ts_out_at(ts, t + 1 * SEC, ". 1:2(1) ack 1");
    /* The window had opened (its update was lost): the peer takes the
     * byte, and its ACK lets the rest go at once. */
    ts_in(ts, ". 1:1(0) ack 2 win 65535");
    ts_out(ts, "P. 2:101(99) ack 1");
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    ts_none_for(ts, 10000);
    ts_free(ts);
}

TEST(test_tcp_persist_probe_lost_then_window_opens)
{
    struct ts *ts = ts_new();
    shut_window(ts);
    uint64_t t = ts_now_us(ts);
    ts_out_at(ts, t + 1 * SEC, ". 1:2(1) ack 1");
    /* The probe was lost; then a window update arrives: the byte and the
     * rest go, and the retransmission timer watches them (a later loss is
     * recovered, not a stall). */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "P. 1:101(100) ack 1");
    t = ts_now_us(ts);
    ts_out_at(ts, t + 1 * SEC, "P. 1:101(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_persist_fin_probes_a_shut_window)
{
    struct ts *ts = ts_new();
    int sd = shut_window(ts);
    ts_close(ts, sd);
    uint64_t t = ts_now_us(ts);
    /* Data then our FIN wait; the probe is the first data byte... */
    ts_out_at(ts, t + 1 * SEC, ". 1:2(1) ack 1");
    ts_in(ts, ". 1:1(0) ack 2 win 0");
    /* ...and once all data is taken, the FIN alone probes. */
    ts_in(ts, ". 1:1(0) ack 2 win 99");
    ts_out(ts, "P. 2:101(99) ack 1");
    ts_in(ts, ". 1:1(0) ack 101 win 0");
    t = ts_now_us(ts);
    ts_out_at(ts, t + 1 * SEC, "F. 101:101(0) ack 1");
    ts_in(ts, ". 1:1(0) ack 102 win 0");
    ts_none_for(ts, 5000);
    ts_free(ts);
}
