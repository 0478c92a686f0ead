/*
 * The user timeout (RFC 9293 §3.8.3 "the user timeout", RFC 5482's
 * meaning): USTACK_TCP_USER_TIMEOUT (ms) bounds how long sent data may
 * stay unacknowledged, or zero-window probes unanswered, before the
 * connection fails with ETIMEDOUT. It replaces the retry counts: the
 * abort comes when the time is up, not at the next retransmission, and
 * not before even if the retry count would have given up sooner. ACKs
 * that move SND.UNA, and answers to window probes, start the count over.
 * 0 (the config default, tcp.user_timeout_ms) leaves it to the counts.
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

#define SEC 1000000ull

static struct ts *new_ts_ut(unsigned data_retries, unsigned user_timeout_ms)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.data_retries = data_retries;
    cfg.tcp.syn_retries = data_retries;
    cfg.tcp.user_timeout_ms = user_timeout_ms;
    return ts_new_with(&cfg);
}

/* No error just before `when`, ETIMEDOUT (counted as a user timeout)
 * just after, and silence afterwards. */
static void expect_user_timeout_at(struct ts *ts, int sd, uint64_t when)
{
    uint64_t aborts = ts_stat(ts, "tcp.user_timeout_aborts");
    ts_advance_to(ts, when - 10000);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_events(ts, sd) & USTACK_EV_ERROR, 0);
    ts_advance_to(ts, when + 10000);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ETIMEDOUT);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.user_timeout_aborts") - aborts, 1);
    ts_none_for(ts, 60000);
}

TEST(test_tcp_usertimeout_option)
{
    struct ts *ts = new_ts_ut(0, 7000);
    struct ustack *st = ts_stack(ts);
    int sd = ts_passive_open(ts, NULL);
    int v = -1;
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_USER_TIMEOUT, &v), 0);
    TS_CHECK_EQ(ts, v, 7000); /* the config default */
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_USER_TIMEOUT, -1), -EINVAL);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_USER_TIMEOUT, 1234), 0);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_USER_TIMEOUT, &v), 0);
    TS_CHECK_EQ(ts, v, 1234);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_USER_TIMEOUT, 0), 0);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_USER_TIMEOUT, &v), 0);
    TS_CHECK_EQ(ts, v, 7000); /* 0: back to the default */
    ts_free(ts);
}

TEST(test_tcp_usertimeout_unacknowledged_data)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_USER_TIMEOUT, 5000);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 1 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 3 * SEC, "P. 1:101(100) ack 1");
    /* The next retransmission would be at 7 s; the abort comes at 5 s. */
    expect_user_timeout_at(ts, sd, t + 5 * SEC);
    ts_recv_err(ts, sd, ETIMEDOUT);
    ts_free(ts);
}

TEST(test_tcp_usertimeout_outlasts_the_retry_count)
{
    /* Two retries would give up at 7 s; a 20 s user timeout keeps it
     * retransmitting (1, 3, 7, 15 s) until 20 s. */
    struct ts *ts = new_ts_ut(2, 0);
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_USER_TIMEOUT, 20000);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 1 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 3 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 7 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 15 * SEC, "P. 1:101(100) ack 1");
    expect_user_timeout_at(ts, sd, t + 20 * SEC);
    ts_free(ts);
}

TEST(test_tcp_usertimeout_progress_restarts_it)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_USER_TIMEOUT, 5000);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 200), 200);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:201(200) ack 1");
    ts_out_at(ts, t + 1 * SEC, "P. 1:201(200) ack 1");
    ts_out_at(ts, t + 3 * SEC, "P. 1:201(200) ack 1");
    /* At 4 s the peer acknowledges half: the rest waits from now on. */
    ts_advance_to(ts, t + 4 * SEC);
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    uint64_t t2 = ts_now_us(ts);
    /* The backed-off RTO (4 s) stays (Karn); no abort at t + 5 s. */
    ts_out_at(ts, t2 + 4 * SEC, "P. 101:201(100) ack 1");
    expect_user_timeout_at(ts, sd, t2 + 5 * SEC);
    ts_free(ts);
}

TEST(test_tcp_usertimeout_fin)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_USER_TIMEOUT, 2500);
    ts_shutdown(ts, sd, SHUT_WR);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_out_at(ts, t + 1 * SEC, "F. 1:1(0) ack 1");
    expect_user_timeout_at(ts, sd, t + 2500000);
    ts_free(ts);
}

TEST(test_tcp_usertimeout_connect)
{
    struct ts *ts = ts_new();
    int sd = ts_socket(ts);
    ts_setopt(ts, sd, USTACK_TCP_USER_TIMEOUT, 4000);
    uint64_t t = ts_now_us(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    ts_out_at(ts, t + 1 * SEC, "S 0:0(0) <mss 1460, ...>");
    ts_out_at(ts, t + 3 * SEC, "S 0:0(0) <mss 1460, ...>");
    expect_user_timeout_at(ts, sd, t + 4 * SEC);
    ts_free(ts);
}

TEST(test_tcp_usertimeout_unanswered_window_probes)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_USER_TIMEOUT, 10000);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    /* Answered probes, far past the user timeout: never given up. */
    ts_out_at(ts, t + 1 * SEC, ". 1:2(1) ack 1");
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    ts_out_at(ts, t + 3 * SEC, ". 1:2(1) ack 1");
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    for (int i = 0; i < 10 && !ts_failed(ts); i++) {
        ts_out_within(ts, 61000, ". 1:2(1) ack 1");
        ts_in(ts, ". 1:1(0) ack 1 win 0");
    }
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    /* The peer falls silent: 10 s after the first unanswered probe, the
     * connection fails (the next probe would come only after 60 s). */
    ts_out_within(ts, 61000, ". 1:2(1) ack 1");
    uint64_t first = ts_last_time(ts);
    expect_user_timeout_at(ts, sd, first + 10 * SEC);
    ts_free(ts);
}

TEST(test_tcp_usertimeout_default_config_applies)
{
    struct ts *ts = new_ts_ut(0, 2000);
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 1 * SEC, "P. 1:101(100) ack 1");
    expect_user_timeout_at(ts, sd, t + 2 * SEC);
    ts_free(ts);
}

TEST(test_tcp_usertimeout_set_while_waiting)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 1 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 3 * SEC, "P. 1:101(100) ack 1");
    /* At 3 s the next retransmission is due at 7 s; a user timeout of
     * 4 s set now counts from the first send: the abort comes at 4 s. */
    ts_setopt(ts, sd, USTACK_TCP_USER_TIMEOUT, 4000);
    expect_user_timeout_at(ts, sd, t + 4 * SEC);
    ts_free(ts);
}
