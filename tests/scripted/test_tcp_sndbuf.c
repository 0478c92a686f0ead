/*
 * Send buffer autotuning (tcp_user.c, sndbuf_autotune): unless the user
 * set SO_SNDBUF, the send buffer doubles until it holds twice what may be
 * in flight, min(cwnd, the peer's window), when that is more than the
 * configured sndbuf, up to sndbuf_auto_max. A small configured sndbuf (16 KiB) makes
 * the initial window (10 segments) enough to see it.
 */
#include <errno.h>

#include "tcpopts.h"
#include "tcpscript.h"
#include "test.h"

#define SMALL_SNDBUF 16384

static struct ts *small_sndbuf_stack(unsigned auto_max)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.sndbuf = SMALL_SNDBUF;
    cfg.tcp.sndbuf_auto_max = auto_max;
    return ts_new_with(&cfg);
}

/* The send buffer as autotuning should size it now, from what it was:
 * doubled until it holds twice min(cwnd, the peer's window). */
static uint32_t expected_buffer(struct ts *ts, uint32_t was)
{
    struct ustack_tcp_info i = tso_conn(ts);
    uint32_t flight = i.cwnd < i.snd_wnd ? i.cwnd : i.snd_wnd;
    while (was < 2 * flight)
        was *= 2;
    return was;
}

static void ack_all_sent(struct ts *ts)
{
    uint32_t end = 1;
    while (!ts_failed(ts) && ts_out_maybe(ts, "P?. *:*(*) ack 1"))
        end = ts_last(ts)->seq + (uint32_t)ts_last(ts)->data_len - ts_cur(ts)->stack_isn;
    /* One ACK per two segments, as a receiver does: cwnd grows per ACK. */
    for (uint32_t a = 1 + 2 * 1460; a < end; a += 2 * 1460)
        ts_in(ts, ts_fmt(ts, ". 1:1(0) ack %u win 65535", a));
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack %u win 65535", end));
}

TEST(test_tcp_sndbuf_autotune_follows_the_window)
{
    struct ts *ts = small_sndbuf_stack(0);
    int sd = ts_passive_open(ts, NULL);
    /* Initial window 14600, peer window 65535: the buffer must hold
     * 29200 bytes; it doubles from 16384 to 32768. */
    TS_CHECK_EQ(ts, tso_conn(ts).cwnd, 14600);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100000), 32768);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100000), -EAGAIN);
    /* Round after round, cwnd grows (slow start) and the buffer with it,
     * in powers of two, until the peer's window (65535) caps what may be
     * in flight: 131072 holds twice that. */
    uint32_t buffer = 32768, sent = 32768;
    for (int round = 0; round < 6 && !ts_failed(ts); round++) {
        ack_all_sent(ts);
        buffer = expected_buffer(ts, buffer);
        uint32_t room = buffer - tso_conn(ts).send_queue;
        TS_CHECK_EQ(ts, ts_send(ts, sd, 1000000), room);
        sent += room;
    }
    TS_CHECK_EQ(ts, buffer, 131072);
    TS_CHECK(ts, sent > 6 * 32768);
    ts_free(ts);
}

TEST(test_tcp_sndbuf_autotune_capped)
{
    struct ts *ts = small_sndbuf_stack(20000);
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100000), 20000);
    ts_free(ts);
}

TEST(test_tcp_sndbuf_set_by_user_is_kept)
{
    struct ts *ts = small_sndbuf_stack(0);
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_SO_SNDBUF, SMALL_SNDBUF);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100000), SMALL_SNDBUF);
    /* cwnd grows, the buffer does not: it stays full at SO_SNDBUF. */
    ack_all_sent(ts);
    TS_CHECK(ts, tso_conn(ts).cwnd > 14600);
    uint32_t queued = tso_conn(ts).send_queue;
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100000), SMALL_SNDBUF - queued);
    ts_free(ts);
}

/* A listener's SO_SNDBUF holds for the connections it accepts. */
TEST(test_tcp_sndbuf_set_on_listener_is_inherited)
{
    struct ts *ts = small_sndbuf_stack(0);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_setopt(ts, lsd, USTACK_SO_SNDBUF, 8192);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100000), 8192);
    ts_free(ts);
}
