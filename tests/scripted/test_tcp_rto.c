/*
 * The retransmission timeout (RFC 6298): the estimator's values after
 * measured round trips (§2.2, §2.3), the bounds (§2.4, §2.5), Karn's
 * algorithm (§3), the timer restarted by ACKs of new data (§5.3), only
 * the earliest segment retransmitted (§5.4), and back-off doubling (§5.5)
 * kept until a fresh sample (§5.7 note).
 *
 * To see the estimator's arithmetic these scripts set the minimum RTO to
 * 1 ms; the default, RFC 6298's 1 s, is checked on its own.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tcpscript.h"
#include "test.h"
#include "ustack/tcp_info.h"

#define MS 1000ull
#define SEC 1000000ull

static void take_info(void *ctx, const struct ustack_tcp_info *i)
{
    if (strcmp(i->state, "LISTEN") != 0)
        *(struct ustack_tcp_info *)ctx = *i;
}

/* The one connection that is not a listener. */
static struct ustack_tcp_info conn_info(struct ts *ts)
{
    struct ustack_tcp_info info;
    memset(&info, 0, sizeof(info));
    ustack_tcp_connections(ts_stack(ts), take_info, &info);
    return info;
}

static struct ts *new_ts_rto(unsigned min_ms, unsigned max_ms)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.rto_min_ms = min_ms;
    cfg.tcp.rto_max_ms = max_ms;
    return ts_new_with(&cfg);
}

/* A handshake whose SYN-ACK is answered after rtt_ms: the first sample. */
static int open_with_rtt(struct ts *ts, unsigned rtt_ms)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_advance(ts, rtt_ms);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    return ts_accept(ts, lsd);
}

TEST(test_tcp_rto_default_minimum_is_1s)
{
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    CHECK_EQ(cfg.tcp.rto_min_ms, 1000); /* RFC 6298 §2.4 */
    CHECK_EQ(cfg.tcp.rto_initial_ms, 1000); /* §2.1 */
    CHECK(cfg.tcp.rto_max_ms >= 60000); /* §2.5 */
    /* With a 10 ms path the estimate is ~30 ms; the RTO is still 1 s. */
    cfg.addr = TS_STACK_ADDR;
    cfg.netmask = 0xffffff00u;
    cfg.has_secret = true;
    struct ts *ts = ts_new_with(&cfg);
    int sd = open_with_rtt(ts, 10);
    TS_CHECK_EQ(ts, conn_info(ts).srtt_us, 10 * MS);
    TS_CHECK_EQ(ts, conn_info(ts).rto_us, 1 * SEC);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_after(ts, 1000, "P. 1:101(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_rto_estimator_values)
{
    struct ts *ts = new_ts_rto(1, 60000);
    int sd = open_with_rtt(ts, 100);
    /* §2.2, first sample R = 100 ms: SRTT = R, RTTVAR = R/2,
     * RTO = SRTT + max(G, 4 RTTVAR) = 100 + 200 ms. */
    struct ustack_tcp_info i = conn_info(ts);
    TS_CHECK_EQ(ts, i.srtt_us, 100 * MS);
    TS_CHECK_EQ(ts, i.rto_us, 300 * MS);
    /* §2.3, R' = 200 ms: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms,
     * SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms, RTO = 112.5 + 250 ms. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_advance(ts, 200);
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    i = conn_info(ts);
    TS_CHECK_EQ(ts, i.srtt_us, 112500);
    TS_CHECK_EQ(ts, i.rto_us, 362500);
    /* R'' = 20 ms: RTTVAR = 3/4 * 62.5 + 1/4 * 92.5 = 70 ms,
     * SRTT = 7/8 * 112.5 + 1/8 * 20 = 100.9375 ms, RTO = + 280 ms. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 101:201(100) ack 1");
    ts_advance(ts, 20);
    ts_in(ts, ". 1:1(0) ack 201 win 65535");
    i = conn_info(ts);
    TS_CHECK_EQ(ts, i.srtt_us, 100937);
    TS_CHECK_EQ(ts, i.rto_us, 100937 + 280000);
    /* The timer runs for exactly that RTO. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 201:301(100) ack 1");
    ts_out_after(ts, 380, "P. 201:301(100) ack 1");
    ts_free(ts);
}

/* A timed segment whose ACK waited behind a hole below it measured the
 * wait for the repair, not a round trip: no sample. Here the segment
 * before it was delayed (a duplicate ACK said so) and the ACK covering
 * both came 50 ms later; SRTT stays 100 ms (it would be 93.75 ms). */
TEST(test_tcp_rto_no_sample_from_ack_that_waited_for_hole)
{
    struct ts *ts = new_ts_rto(1, 60000);
    int sd = open_with_rtt(ts, 100);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2 * 1460), 2 * 1460);
    ts_out(ts, ". 1:1461(1460) ack 1");
    ts_out(ts, "P. 1461:2921(1460) ack 1");
    ts_advance(ts, 100);
    ts_in(ts, ". 1:1(0) ack 1461 win 65535");
    TS_CHECK_EQ(ts, conn_info(ts).srtt_us, 100 * MS); /* sample: 100 ms */
    /* The next new segment is timed; 1461:2921 is missing at the peer. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1460), 1460);
    ts_out(ts, "P. 2921:4381(1460) ack 1");
    ts_in(ts, ". 1:1(0) ack 1461 win 65535"); /* a duplicate ACK */
    ts_advance(ts, 50);
    ts_in(ts, ". 1:1(0) ack 4381 win 65535");
    TS_CHECK_EQ(ts, conn_info(ts).srtt_us, 100 * MS);
    /* The next one, with no hole, is a sample again (20 ms). */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 4381:4481(100) ack 1");
    ts_advance(ts, 20);
    ts_in(ts, ". 1:1(0) ack 4481 win 65535");
    TS_CHECK(ts, conn_info(ts).srtt_us < 100 * MS);
    ts_free(ts);
}

TEST(test_tcp_rto_backoff_doubles_up_to_the_maximum)
{
    struct ts *ts = new_ts_rto(1, 5000);
    int sd = open_with_rtt(ts, 100); /* RTO 300 ms */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    /* §5.5: 300, 600, 1200, 2400 ms, then the 5 s maximum (§2.5). */
    uint64_t gaps[] = {300, 600, 1200, 2400, 4800, 5000, 5000};
    for (unsigned k = 0; k < sizeof(gaps) / sizeof(gaps[0]); k++) {
        t += gaps[k] * MS;
        ts_out_at(ts, t, "P. 1:101(100) ack 1");
        /* A retransmission's ACK is no sample (Karn): the estimate stays. */
        TS_CHECK_EQ(ts, conn_info(ts).srtt_us, 100 * MS);
    }
    TS_CHECK_EQ(ts, conn_info(ts).rto_us, 5 * SEC);
    TS_CHECK_EQ(ts, conn_info(ts).retransmissions, 7);
    ts_free(ts);
}

TEST(test_tcp_rto_karn_keeps_backoff_until_new_sample)
{
    struct ts *ts = new_ts_rto(1, 60000);
    int sd = open_with_rtt(ts, 100); /* RTO 300 ms */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 300 * MS, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 900 * MS, "P. 1:101(100) ack 1");
    /* Acknowledged after its second retransmission: ambiguous, so no
     * sample (§3), and the backed-off RTO (1200 ms) stays. */
    ts_advance(ts, 50);
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    TS_CHECK_EQ(ts, conn_info(ts).srtt_us, 100 * MS);
    TS_CHECK_EQ(ts, conn_info(ts).rto_us, 1200 * MS);
    /* New data is timed; its ACK (after 100 ms) is a valid sample and
     * collapses the RTO again: RTTVAR = 3/4 * 50 + 0 = 37.5 ms,
     * SRTT = 100 ms, RTO = 100 + 150 ms. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 101:201(100) ack 1");
    ts_advance(ts, 100);
    ts_in(ts, ". 1:1(0) ack 201 win 65535");
    TS_CHECK_EQ(ts, conn_info(ts).rto_us, 250 * MS);
    ts_free(ts);
}

TEST(test_tcp_rto_restarted_by_ack_of_new_data)
{
    struct ts *ts = new_ts_rto(1, 60000);
    int sd = open_with_rtt(ts, 100); /* RTO 300 ms */
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_advance(ts, 200);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 101:201(100) ack 1");
    /* §5.3: an ACK of new data restarts the timer "so that it will
     * expire after RTO seconds (for the current value of RTO)". The first
     * segment's ACK comes 250 ms after it was sent (a sample: RTTVAR =
     * 3/4 * 50 + 1/4 * 150 = 75, SRTT = 118.75, RTO = 418.75 ms). */
    ts_advance(ts, 50);
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    uint64_t t = ts_now_us(ts);
    TS_CHECK_EQ(ts, conn_info(ts).rto_us, 418750);
    /* Not at 300 ms after the first send, but one RTO after the ACK. */
    ts_out_at(ts, t + 418750, "P. 101:201(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_rto_retransmits_only_the_earliest_segment)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 4380), 4380);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, ". 1:1461(1460) ack 1");
    ts_out(ts, ". 1461:2921(1460) ack 1");
    ts_out(ts, "P. 2921:4381(1460) ack 1");
    /* §5.4: "Retransmit the earliest segment that has not been
     * acknowledged": one segment, not the whole window. */
    ts_out_at(ts, t + 1 * SEC, ". 1:1461(1460) ack 1");
    ts_out_none(ts);
    /* The receiver had the rest: its ACK covers everything, nothing more
     * is sent. */
    ts_in(ts, ". 1:1(0) ack 4381 win 65535");
    ts_none_for(ts, 5000);
    ts_free(ts);
}

TEST(test_tcp_rto_go_back_n_after_the_earliest)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 4380), 4380);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, ". 1:1461(1460) ack 1");
    ts_out(ts, ". 1461:2921(1460) ack 1");
    ts_out(ts, "P. 2921:4381(1460) ack 1");
    ts_out_at(ts, t + 1 * SEC, ". 1:1461(1460) ack 1");
    /* Everything was lost: the ACK of the first shows the rest is
     * missing too, and the rest goes again at once, behind it. */
    ts_in(ts, ". 1:1(0) ack 1461 win 65535");
    ts_out(ts, ". 1461:2921(1460) ack 1");
    ts_out(ts, "P. 2921:4381(1460) ack 1");
    ts_in(ts, ". 1:1(0) ack 4381 win 65535");
    ts_none_for(ts, 5000);
    ts_free(ts);
}
