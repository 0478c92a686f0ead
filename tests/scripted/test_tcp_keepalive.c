/*
 * Keep-alive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4).
 *
 * Switched per connection (MUST-24), off by default (MUST-25):
 * USTACK_SO_KEEPALIVE; USTACK_TCP_KEEPIDLE (seconds idle before the first
 * probe, configurable, MUST-27, default 7200: "no less than two hours",
 * MUST-28), sent only with nothing outstanding (MUST-26);
 * USTACK_TCP_KEEPINTVL (seconds between unanswered probes, default 75)
 * and USTACK_TCP_KEEPCNT (unanswered probes before the connection is
 * declared dead with ETIMEDOUT, default 9). The probe is
 * <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK> without data; any acceptable
 * segment from the peer counts as an answer.
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

#define SEC 1000000ull

/* Established with keep-alive 10 s idle, 2 s interval, 3 probes. */
static int open_keepalive(struct ts *ts)
{
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_KEEPIDLE, 10);
    ts_setopt(ts, sd, USTACK_TCP_KEEPINTVL, 2);
    ts_setopt(ts, sd, USTACK_TCP_KEEPCNT, 3);
    ts_setopt(ts, sd, USTACK_SO_KEEPALIVE, 1);
    return sd;
}

TEST(test_tcp_keepalive_defaults_and_option_ranges)
{
    struct ts *ts = ts_new();
    struct ustack *st = ts_stack(ts);
    int sd = ts_passive_open(ts, NULL);
    int v = -1;
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_SO_KEEPALIVE, &v), 0);
    TS_CHECK_EQ(ts, v, 0);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_KEEPIDLE, &v), 0);
    TS_CHECK_EQ(ts, v, 7200);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_KEEPINTVL, &v), 0);
    TS_CHECK_EQ(ts, v, 75);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_KEEPCNT, &v), 0);
    TS_CHECK_EQ(ts, v, 9);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_KEEPIDLE, 0), -EINVAL);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_KEEPIDLE, 32768), -EINVAL);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_KEEPINTVL, -1), -EINVAL);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_KEEPCNT, 128), -EINVAL);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, sd, USTACK_TCP_KEEPCNT, 127), 0);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, sd, USTACK_TCP_KEEPCNT, &v), 0);
    TS_CHECK_EQ(ts, v, 127);
    /* Set before the connection exists: kept and applied. */
    int s2 = ts_socket(ts);
    TS_CHECK_EQ(ts, ustack_setsockopt(st, s2, USTACK_TCP_KEEPIDLE, 30), 0);
    TS_CHECK_EQ(ts, ustack_getsockopt(st, s2, USTACK_TCP_KEEPIDLE, &v), 0);
    TS_CHECK_EQ(ts, v, 30);
    ts_free(ts);
}

TEST(test_tcp_keepalive_probe_form_and_answered)
{
    struct ts *ts = ts_new();
    int sd = open_keepalive(ts);
    uint64_t t = ts_now_us(ts);
    /* SEG.SEQ = SND.NXT - 1, no data, after 10 s of silence. */
    ts_out_at(ts, t + 10 * SEC, ". 0:0(0) ack 1");
    /* The peer answers (its ACK repeats its RCV.NXT): quiet for another
     * idle period, then the next probe. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    t = ts_now_us(ts);
    ts_out_at(ts, t + 10 * SEC, ". 0:0(0) ack 1");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    /* Answered for an hour: it stays. */
    for (int i = 0; i < 360 && !ts_failed(ts); i++) {
        ts_out_within(ts, 10001, ". 0:0(0) ack 1");
        ts_in(ts, ". 1:1(0) ack 1 win 65535");
    }
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}

TEST(test_tcp_keepalive_dead_peer_etimedout)
{
    struct ts *ts = ts_new();
    int sd = open_keepalive(ts);
    uint64_t aborts = ts_stat(ts, "tcp.keepalive_aborts");
    uint64_t t = ts_now_us(ts);
    ts_out_at(ts, t + 10 * SEC, ". 0:0(0) ack 1");
    ts_out_at(ts, t + 12 * SEC, ". 0:0(0) ack 1");
    ts_out_at(ts, t + 14 * SEC, ". 0:0(0) ack 1");
    /* Three unanswered: at +16 s the peer is declared dead. */
    ts_advance_to(ts, t + 16 * SEC - 10000);
    TS_CHECK_EQ(ts, ts_events(ts, sd) & USTACK_EV_ERROR, 0);
    ts_advance_to(ts, t + 16 * SEC + 10000);
    ts_out_none(ts);
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_ERROR);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ETIMEDOUT);
    ts_recv_err(ts, sd, ETIMEDOUT);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.keepalive_aborts") - aborts, 1);
    ts_none_for(ts, 60000);
    ts_free(ts);
}

TEST(test_tcp_keepalive_late_answer_saves_it)
{
    struct ts *ts = ts_new();
    int sd = open_keepalive(ts);
    uint64_t t = ts_now_us(ts);
    ts_out_at(ts, t + 10 * SEC, ". 0:0(0) ack 1");
    ts_out_at(ts, t + 12 * SEC, ". 0:0(0) ack 1");
    /* An answer to the second probe: the count starts over, and the next
     * probe waits a whole idle period. */
    ts_advance(ts, 500);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    t = ts_now_us(ts);
    ts_out_at(ts, t + 10 * SEC, ". 0:0(0) ack 1");
    ts_out_at(ts, t + 12 * SEC, ". 0:0(0) ack 1");
    ts_out_at(ts, t + 14 * SEC, ". 0:0(0) ack 1");
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}

TEST(test_tcp_keepalive_traffic_defers_probes)
{
    struct ts *ts = ts_new();
    int sd = open_keepalive(ts);
    /* Data from the peer every 8 s: never 10 s of silence, never a
     * probe (only our delayed ACKs). */
    for (unsigned i = 0; i < 5 && !ts_failed(ts); i++) {
        ts_advance(ts, 8000);
        ts_out_count(ts, ". 1:1(0) ack *");
        ts_in(ts, ts_fmt(ts, "P. %u:%u(10) ack 1 win 65535", 1 + 10 * i, 11 + 10 * i));
        ts_out_after(ts, 40, ts_fmt(ts, ". 1:1(0) ack %u", 11 + 10 * i));
    }
    ts_recv_data(ts, sd, 50);
    /* Silence: the probe comes 10 s after the last segment heard. */
    uint64_t t = ts_now_us(ts) - 40000;
    ts_out_at(ts, t + 10 * SEC, ". 0:0(0) ack 51");
    ts_free(ts);
}

TEST(test_tcp_keepalive_not_while_data_is_unacknowledged)
{
    struct ts *ts = ts_new();
    int sd = open_keepalive(ts);
    /* Data in flight, never acknowledged: retransmissions (1, 2, 4, 8 s),
     * no keep-alive probe in between; the retransmission timer is what
     * watches the peer now. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 1 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 3 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 7 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 15 * SEC, "P. 1:101(100) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.keepalive_probes"), 0);
    /* Acknowledged: idle again, and after 10 s the probe (SND.NXT - 1). */
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    t = ts_now_us(ts);
    ts_out_at(ts, t + 10 * SEC, ". 100:100(0) ack 1");
    ts_free(ts);
}

TEST(test_tcp_keepalive_new_idle_time_applies_at_once)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_SO_KEEPALIVE, 1);
    uint64_t t = ts_now_us(ts);
    ts_none_for(ts, 60000); /* two hours to go */
    ts_setopt(ts, sd, USTACK_TCP_KEEPIDLE, 100);
    /* Idle since t: the first probe at t + 100 s. */
    ts_out_at(ts, t + 100 * SEC, ". 0:0(0) ack 1");
    /* Turning it off stops the probes. */
    ts_setopt(ts, sd, USTACK_SO_KEEPALIVE, 0);
    ts_none_for(ts, 3u * 3600 * 1000);
    ts_free(ts);
}

TEST(test_tcp_keepalive_inherited_from_listener)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_setopt(ts, lsd, USTACK_SO_KEEPALIVE, 1);
    ts_setopt(ts, lsd, USTACK_TCP_KEEPIDLE, 5);
    ts_setopt(ts, lsd, USTACK_TCP_KEEPINTVL, 1);
    ts_setopt(ts, lsd, USTACK_TCP_KEEPCNT, 2);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    uint64_t t = ts_now_us(ts);
    ts_out_at(ts, t + 5 * SEC, ". 0:0(0) ack 1");
    ts_out_at(ts, t + 6 * SEC, ". 0:0(0) ack 1");
    ts_advance_to(ts, t + 7 * SEC + 10000);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ETIMEDOUT);
    ts_free(ts);
}

TEST(test_tcp_keepalive_off_is_silent)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* Settings without SO_KEEPALIVE do nothing (MUST-25: off unless the
     * application asks). */
    ts_setopt(ts, sd, USTACK_TCP_KEEPIDLE, 1);
    ts_none_for(ts, 3u * 3600 * 1000);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}
