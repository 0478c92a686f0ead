/*
 * Retransmission (RFC 9293 §3.8.1, §3.8.3; RFC 6298): lost SYN, SYN-ACK,
 * data and FIN are sent again when the RTO expires, the RTO doubles each
 * time (5.5), the backed-off RTO is kept until a valid RTT sample (Karn,
 * §5 note), a retransmitted SYN leaves an RTO of 3 s for the data (5.7),
 * and the retry limit fails the connection with ETIMEDOUT.
 *
 * The framework configures the RFC 6298 values: initial RTO 1 s, minimum
 * 1 s. Segments cross the virtual wire instantly, so every RTT sample is
 * 0 and the RTO stays at its 1 s floor unless backed off.
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"

#define SEC 1000000ull

static struct ts *new_ts_retries(unsigned syn_retries, unsigned data_retries)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.syn_retries = syn_retries;
    cfg.tcp.data_retries = data_retries;
    return ts_new_with(&cfg);
}

/* No error at fail_at - slack, ETIMEDOUT at fail_at + slack, and nothing
 * sent in between but perhaps a RST (not required by the RFC). */
static void expect_timeout_at(struct ts *ts, int sd, uint64_t fail_at, const char *rst)
{
    ts_advance_to(ts, fail_at - TS_SLACK_MS * 1000);
    ts_out_none(ts);
    TS_CHECK(ts, !(ts_events(ts, sd) & USTACK_EV_ERROR));
    ts_advance_to(ts, fail_at + TS_SLACK_MS * 1000);
    if (rst)
        ts_out_maybe(ts, rst);
    ts_out_none(ts);
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_ERROR);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ETIMEDOUT);
    ts_none_for(ts, 300 * 1000); /* and nothing ever after */
}

TEST(test_tcp_retrans_syn_backoff_then_etimedout)
{
    struct ts *ts = new_ts_retries(4, 0);
    uint64_t t0 = ts_now_us(ts);
    uint64_t aborts = ts_stat(ts, "tcp.timeout_aborts");
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    /* RTO 1 s, doubling: retransmissions at 1, 3, 7, 15 s, same ISS. */
    ts_out_at(ts, t0 + 1 * SEC, "S 0:0(0) <mss 1460, ...>");
    ts_out_at(ts, t0 + 3 * SEC, "S 0:0(0) <mss 1460, ...>");
    ts_out_at(ts, t0 + 7 * SEC, "S 0:0(0) <mss 1460, ...>");
    ts_out_at(ts, t0 + 15 * SEC, "S 0:0(0) <mss 1460, ...>");
    /* The fourth retransmission's RTO (16 s) runs out: give up. */
    expect_timeout_at(ts, sd, t0 + 31 * SEC, NULL);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.timeout_aborts") - aborts, 1);
    ts_free(ts);
}

TEST(test_tcp_retrans_syn_default_r2_at_least_3_minutes)
{
    /* MUST-23: "R2 for a SYN segment MUST be set large enough to provide
     * retransmission of the segment for at least 3 minutes". */
    struct ts *ts = ts_new();
    uint64_t t0 = ts_now_us(ts);
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    int syns = 0;
    while (ts_now_us(ts) < t0 + 180 * SEC && !ts_failed(ts)) {
        ts_advance(ts, 1000);
        syns += ts_out_count(ts, "S 0:0(0) <mss 1460, ...>");
        TS_CHECK(ts, !(ts_events(ts, sd) & USTACK_EV_ERROR));
    }
    TS_CHECK(ts, syns >= 2);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}

TEST(test_tcp_retrans_syn_then_data_rto_3s)
{
    struct ts *ts = ts_new();
    uint64_t t0 = ts_now_us(ts);
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    ts_out_at(ts, t0 + 1 * SEC, "S 0:0(0) <mss 1460, ...>");
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    /* RFC 6298 (5.7): the SYN timed out with an RTO below 3 s, so the
     * RTO MUST be 3 s when data transmission begins (Karn: the SYN-ACK
     * gives no sample, the SYN was retransmitted). */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t1 = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t1 + 3 * SEC, "P?. 1:101(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_retrans_synack_backoff_then_dropped)
{
    struct ts *ts = new_ts_retries(2, 0);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    uint64_t t0 = ts_now_us(ts);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_out_at(ts, t0 + 1 * SEC, "S. 0:0(0) ack 1 <mss 1460>");
    ts_out_at(ts, t0 + 3 * SEC, "S. 0:0(0) ack 1 <mss 1460>");
    /* After the last RTO (4 s) the half-open connection is given up. */
    ts_advance_to(ts, t0 + 7 * SEC + TS_SLACK_MS * 1000);
    ts_out_maybe(ts, "R 1:1(0)");
    ts_none_for(ts, 60 * 1000);
    ts_accept_none(ts, lsd);
    /* A late ACK meets only the listener. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "R 1:1(0)");
    ts_accept_none(ts, lsd);
    ts_free(ts);
}

TEST(test_tcp_retrans_data_backoff)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t r0 = ts_stat(ts, "tcp.retransmits");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 1 * SEC, "P?. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 3 * SEC, "P?. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 7 * SEC, "P?. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 15 * SEC, "P?. 1:101(100) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.retransmits") - r0, 4);
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    ts_none_for(ts, 120 * 1000);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}

TEST(test_tcp_retrans_backoff_kept_until_valid_sample)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 1 * SEC, "P?. 1:101(100) ack 1"); /* RTO -> 2 s */
    ts_out_at(ts, t0 + 3 * SEC, "P?. 1:101(100) ack 1"); /* RTO -> 4 s */
    /* The ACK of retransmitted data gives no RTT sample (Karn), so the
     * backed-off RTO of 4 s stays for the next segment (RFC 6298 §5). */
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t1 = ts_now_us(ts);
    ts_out(ts, "P. 101:201(100) ack 1");
    ts_out_at(ts, t1 + 4 * SEC, "P?. 101:201(100) ack 1"); /* RTO -> 8 s */
    ts_in(ts, ". 1:1(0) ack 201 win 65535");
    /* New data acknowledged without retransmission after 100 ms: a valid
     * sample, and the RTO collapses to max(1 s, SRTT + 4 * RTTVAR). */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 201:301(100) ack 1");
    ts_advance(ts, 100);
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 301 win 65535");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t2 = ts_now_us(ts);
    ts_out(ts, "P. 301:401(100) ack 1");
    ts_out_at(ts, t2 + 1 * SEC, "P?. 301:401(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_retrans_data_retry_limit_etimedout)
{
    struct ts *ts = new_ts_retries(0, 3);
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 1 * SEC, "P?. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 3 * SEC, "P?. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 7 * SEC, "P?. 1:101(100) ack 1");
    /* Closing on R2 may be announced with <SEQ=SND.NXT><CTL=RST>. */
    expect_timeout_at(ts, sd, t0 + 15 * SEC, "R.? 101:101(0)");
    ts_free(ts);
}

TEST(test_tcp_retrans_data_default_r2_at_least_100s)
{
    /* SHLD-11: "The value of R2 SHOULD correspond to at least 100
     * seconds." */
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    int copies = 0;
    while (ts_now_us(ts) < t0 + 100 * SEC && !ts_failed(ts)) {
        ts_advance(ts, 1000);
        copies += ts_out_count(ts, "P?. 1:101(100) ack 1");
        TS_CHECK(ts, !(ts_events(ts, sd) & USTACK_EV_ERROR));
    }
    TS_CHECK(ts, copies >= 3);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    ts_free(ts);
}

TEST(test_tcp_retrans_fin_backoff)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_close(ts, sd);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_out_at(ts, t0 + 1 * SEC, "F. 1:1(0) ack 1");
    ts_out_at(ts, t0 + 3 * SEC, "F. 1:1(0) ack 1");
    /* Acknowledged: FIN-WAIT-2, nothing more to send. */
    ts_in(ts, ". 1:1(0) ack 2 win 65535");
    ts_none_for(ts, 20 * 1000);
    ts_free(ts);
}

TEST(test_tcp_retrans_fin_in_last_ack)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "F. 1:1(0) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 2");
    ts_recv_eof(ts, sd);
    ts_close(ts, sd);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "F. 1:1(0) ack 2");
    ts_out_at(ts, t0 + 1 * SEC, "F. 1:1(0) ack 2");
    ts_in(ts, ". 2:2(0) ack 2 win 65535");
    ts_none_for(ts, 20 * 1000);
    /* CLOSED: the listener answers. */
    ts_in(ts, ". 2:2(0) ack 2 win 65535");
    ts_out(ts, "R 2:2(0)");
    ts_free(ts);
}

TEST(test_tcp_retrans_data_after_partial_ack)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1); /* no Nagle for the tail */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2000), 2000);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "P?. 1:1461(1460) ack 1");
    ts_out(ts, "P. 1461:2001(540) ack 1");
    /* The first segment arrives, the second is lost: only it is sent
     * again, when the timer (restarted by the ACK, RFC 6298 5.3) runs
     * out. */
    ts_advance(ts, 200);
    ts_in(ts, ". 1:1(0) ack 1461 win 65535");
    uint64_t t1 = ts_now_us(ts);
    ts_out_none(ts);
    TS_CHECK(ts, t1 - t0 == 200000);
    ts_out_at(ts, t1 + 1 * SEC, "P?. 1461:2001(540) ack 1");
    ts_in(ts, ". 1:1(0) ack 2001 win 65535");
    ts_none_for(ts, 20 * 1000);
    ts_free(ts);
}

TEST(test_tcp_retrans_fin_retry_limit_etimedout)
{
    struct ts *ts = new_ts_retries(0, 2);
    int sd = ts_passive_open(ts, NULL);
    /* Half-close so the socket stays to report the failure. */
    ts_shutdown(ts, sd, SHUT_WR);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "F. 1:1(0) ack 1");
    ts_out_at(ts, t0 + 1 * SEC, "F. 1:1(0) ack 1");
    ts_out_at(ts, t0 + 3 * SEC, "F. 1:1(0) ack 1");
    expect_timeout_at(ts, sd, t0 + 7 * SEC, "R.? 2:2(0)");
    ts_free(ts);
}
