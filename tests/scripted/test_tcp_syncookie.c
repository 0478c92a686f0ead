/*
 * SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, a SYN
 * is answered with a SYN-ACK whose ISS encodes the connection, and no
 * state is kept. A returning ACK that acknowledges a valid cookie
 * (SEG.ACK - 1) completes the connection; any other ACK is what it would
 * be without cookies: an ACK arriving at a LISTEN socket, answered with
 * <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.2).
 */
#include <errno.h>

#include "tcpscript.h"
#include "test.h"

#define BACKLOG 2

static struct ts *new_ts(bool cookies)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.syn_backlog = BACKLOG;
    cfg.tcp.syncookies_off = !cookies;
    return ts_new_with(&cfg);
}

/* Fill the SYN queue with BACKLOG half-open connections (ports 40001..). */
static void fill_syn_queue(struct ts *ts)
{
    for (int i = 1; i <= BACKLOG; i++) {
        ts_flow(ts, (uint16_t)(40000 + i));
        ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
        ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    }
}

/* A SYN from `port` that must be answered with a cookie SYN-ACK. */
static void cookie_syn(struct ts *ts, uint16_t port)
{
    ts_flow(ts, port);
    uint64_t sent = ts_stat(ts, "tcp.syncookies_sent");
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.syncookies_sent") - sent, 1);
}

TEST(test_tcp_syncookie_valid_ack_completes)
{
    struct ts *ts = new_ts(true);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    fill_syn_queue(ts);
    uint64_t full = ts_stat(ts, "tcp.syn_queue_full");
    cookie_syn(ts, 40003);
    TS_CHECK(ts, ts_stat(ts, "tcp.syn_queue_full") > full);
    ts_accept_none(ts, lsd);
    /* The ACK of the cookie: established without any stored state. */
    uint64_t valid = ts_stat(ts, "tcp.syncookies_valid");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.syncookies_valid") - valid, 1);
    int sd = ts_accept(ts, lsd);
    /* A working connection in both directions, on flow 40003. */
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    ts_recv_data(ts, sd, 100);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1000), 1000);
    ts_out(ts, "P. 1:1001(1000) ack 101");
    ts_in(ts, ". 101:101(0) ack 1001 win 65535");
    ts_out_none(ts);
    /* The connections in the SYN queue still complete normally. */
    ts_flow(ts, 40001);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    TS_CHECK(ts, ts_accept(ts, lsd) >= 0);
    ts_free(ts);
}

TEST(test_tcp_syncookie_cookie_ack_with_data)
{
    struct ts *ts = new_ts(true);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    fill_syn_queue(ts);
    cookie_syn(ts, 40003);
    /* The third segment of the handshake may carry data. */
    ts_in(ts, "P. 1:51(50) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 51");
    int sd = ts_accept(ts, lsd);
    ts_recv_data(ts, sd, 50);
    ts_free(ts);
}

TEST(test_tcp_syncookie_invalid_ack_rst)
{
    struct ts *ts = new_ts(true);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    fill_syn_queue(ts);
    uint64_t bad = ts_stat(ts, "tcp.syncookies_invalid");
    /* An ACK nobody sent a SYN-ACK for. */
    ts_flow(ts, 40004);
    ts_in(ts, ". 1:1(0) ack @12345 win 65535");
    ts_out(ts, "R @12345:@12345(0)");
    /* A cookie acknowledged off by one. */
    cookie_syn(ts, 40005);
    ts_in(ts, ". 1:1(0) ack 2 win 65535");
    ts_out(ts, "R 2:2(0)");
    /* The right cookie with the wrong sequence number (a cookie is bound
     * to the ISN of the SYN it answered). */
    cookie_syn(ts, 40006);
    uint32_t cookie = ts_cur(ts)->stack_isn;
    ts_in(ts, ". 5:5(0) ack 1 win 65535");
    ts_out(ts, "R 1:1(0)");
    /* The right cookie from another port. */
    ts_flow(ts, 40007);
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack @%u win 65535", cookie + 1));
    ts_out(ts, ts_fmt(ts, "R @%u:@%u(0)", cookie + 1, cookie + 1));
    ts_out_none(ts);
    ts_accept_none(ts, lsd);
    TS_CHECK(ts, ts_stat(ts, "tcp.syncookies_invalid") - bad >= 3);
    ts_free(ts);
}

TEST(test_tcp_syncookie_stale_cookie_rejected)
{
    struct ts *ts = new_ts(true);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    fill_syn_queue(ts);
    cookie_syn(ts, 40003);
    /* Let the queued handshakes finish so nothing else is pending. */
    for (int i = 1; i <= BACKLOG; i++) {
        ts_flow(ts, (uint16_t)(40000 + i));
        ts_in(ts, ". 1:1(0) ack 1 win 65535");
        ts_out_none(ts);
    }
    /* Ten minutes later the cookie must no longer open a connection. */
    ts_advance(ts, 10 * 60 * 1000);
    ts_flow(ts, 40003);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "R 1:1(0)");
    TS_CHECK(ts, ts_accept(ts, lsd) >= 0);
    TS_CHECK(ts, ts_accept(ts, lsd) >= 0);
    ts_accept_none(ts, lsd);
    ts_free(ts);
}

TEST(test_tcp_syncookie_off_drops_syn)
{
    struct ts *ts = new_ts(false);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    fill_syn_queue(ts);
    uint64_t d0 = ts_stat(ts, "tcp.drop_syn_no_cookie");
    ts_flow(ts, 40003);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_syn_no_cookie") - d0, 1);
    ts_accept_none(ts, lsd);
    ts_free(ts);
}

TEST(test_tcp_syncookie_mss_not_exceeded)
{
    struct ts *ts = new_ts(true);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    fill_syn_queue(ts);
    /* The cookie must carry the peer's MSS (RFC 4987 §3.6), or something
     * smaller: never a larger segment than the peer allowed. */
    ts_flow(ts, 40003);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1000>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3000), 3000);
    uint32_t total = 0;
    int segs = 0;
    while (!ts_failed(ts) && total < 3000 && segs < 100) {
        ts_out_within(ts, 2000, ts_fmt(ts, "P?. %u:*(*) ack 1", 1 + total));
        size_t len = ts_last(ts)->data_len;
        TS_CHECK(ts, len >= 1 && len <= 1000);
        total += (uint32_t)len;
        segs++;
        ts_in(ts, ts_fmt(ts, ". 1:1(0) ack %u win 65535", 1 + total));
    }
    TS_CHECK_EQ(ts, total, 3000);
    ts_free(ts);
}
