/*
 * The ACK inside a peer's zero-window probe (RFC 9293 §3.10.7.4).
 *
 * Linux (and others) probe a shut window, and send keep-alives, with no
 * text and SEG.SEQ = RCV.NXT - 1: outside the window on purpose, so that
 * the receiver answers with an ACK. "If the RCV.WND is zero, no segments
 * will be acceptable, but special allowance should be made to accept
 * valid ACKs, URGs, and RSTs": ustack takes the probe's ACK field and
 * window (after the RFC 5961 §5.2 ACK checks), answers with an ACK, and
 * does not count the probe as a duplicate ACK. When the peer's real ACK
 * was lost and our window is shut, the probes are the only ACKs it sends;
 * without this we would retransmit acknowledged data, backing off.
 *
 * Segments of any other shape outside the window are still only answered
 * (their ACK field is not used), as test_tcp_accept.c checks.
 */
#include "tcpscript.h"
#include "test.h"

#define SEC 1000000ull

/* Active open with a small receive buffer; the stack sends 1000 bytes
 * (unacknowledged), then the peer fills our window with text whose ACK
 * field still says 1: the peer's ACK of our data was lost. Returns the
 * sd; *rcv_nxt gets our RCV.NXT (relative), where the window is shut,
 * and *sent_at (optional) the time the 1000 bytes went. */
static int shut_our_window_with_data_out(struct ts *ts, uint32_t *rcv_nxt,
                                         uint64_t *sent_at)
{
    int sd = ts_socket(ts);
    ts_setopt(ts, sd, USTACK_SO_RCVBUF, 4000);
    ts_active_open_on(ts, sd);
    uint32_t wnd = ts_cur(ts)->stack_win;
    TS_CHECK(ts, wnd > 200 && wnd < 65535);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1000), 1000);
    ts_out(ts, "P. 1:1001(1000) ack 1");
    if (sent_at)
        *sent_at = ts_last_time(ts);
    uint32_t from = 1, to = 1 + wnd;
    while (from < to && !ts_failed(ts)) {
        uint32_t n = to - from > 1460 ? 1460 : to - from;
        ts_in(ts, ts_fmt(ts, "P. %u:%u(%u) ack 1 win 65535", from, from + n, n));
        ts_out_count(ts, ". 1001:1001(0) ack * win *");
        from += n;
    }
    if (!ts_failed(ts) && ts_last(ts)->ack != ts_cur(ts)->peer_isn + to)
        ts_out_within(ts, 500, ts_fmt(ts, ". 1001:1001(0) ack %u win 0", to));
    TS_CHECK_EQ(ts, ts_cur(ts)->stack_win, 0);
    *rcv_nxt = to;
    return sd;
}

TEST(test_tcp_zwp_ack_taken_from_probe)
{
    struct ts *ts = ts_new();
    uint32_t nxt;
    shut_our_window_with_data_out(ts, &nxt, NULL);
    uint64_t probes = ts_stat(ts, "tcp.rx_probe_acks");
    uint64_t retrans = ts_stat(ts, "tcp.retransmits");
    /* The peer's probe acknowledges our 1000 bytes: answered with an ACK
     * that repeats our shut window, and nothing is retransmitted. */
    ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack 1001 win 65535", nxt - 1, nxt - 1));
    ts_out(ts, ts_fmt(ts, ". 1001:1001(0) ack %u win 0", nxt));
    ts_none_for(ts, 10000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rx_probe_acks") - probes, 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.retransmits") - retrans, 0);
    /* The next probe acknowledges nothing new: answered all the same. */
    ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack 1001 win 65535", nxt - 1, nxt - 1));
    ts_out(ts, ts_fmt(ts, ". 1001:1001(0) ack %u win 0", nxt));
    ts_out_none(ts);
    ts_free(ts);
}

/* The allowance is for the probe's exact shape: an older sequence number
 * is a stale segment, answered, its ACK field not used; our data goes
 * again when the RTO runs out. */
TEST(test_tcp_zwp_ack_only_at_rcv_nxt_minus_1)
{
    struct ts *ts = ts_new();
    uint32_t nxt;
    uint64_t t0;
    shut_our_window_with_data_out(ts, &nxt, &t0);
    uint64_t probes = ts_stat(ts, "tcp.rx_probe_acks");
    ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack 1001 win 65535", nxt - 2, nxt - 2));
    ts_out(ts, ts_fmt(ts, ". 1001:1001(0) ack %u win 0", nxt));
    /* A FIN is no probe either (it is text-like: it takes a number). */
    ts_in(ts, ts_fmt(ts, "F. %u:%u(0) ack 1001 win 65535", nxt - 1, nxt - 1));
    ts_out(ts, ts_fmt(ts, ". 1001:1001(0) ack %u win 0", nxt));
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rx_probe_acks") - probes, 0);
    /* SND.UNA did not move: the 1000 bytes go again one RTO (1 s) after
     * they were sent. */
    ts_out_at(ts, t0 + 1 * SEC, ts_fmt(ts, "P. 1:1001(1000) ack %u win 0", nxt));
    ts_free(ts);
}

/* RFC 5961 §5.2 still applies: an ACK for data we never sent, or older
 * than SND.UNA - MAX.SND.WND, gets a (rate-limited) challenge ACK and the
 * probe goes no further. */
TEST(test_tcp_zwp_ack_rfc5961_limits)
{
    struct ts *ts = ts_new();
    uint32_t nxt;
    uint64_t t0;
    shut_our_window_with_data_out(ts, &nxt, &t0);
    uint64_t unsent = ts_stat(ts, "tcp.drop_ack_unsent");
    uint64_t bad = ts_stat(ts, "tcp.drop_bad_ack");
    uint64_t challenges = ts_stat(ts, "tcp.challenge_ack");
    ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack 1002 win 65535", nxt - 1, nxt - 1));
    ts_out(ts, ts_fmt(ts, ". 1001:1001(0) ack %u win 0", nxt));
    uint32_t stale = ts_cur(ts)->stack_isn + 1 - 70000; /* MAX.SND.WND is 65535 */
    ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack @%u win 65535", nxt - 1, nxt - 1, stale));
    ts_out(ts, ts_fmt(ts, ". 1001:1001(0) ack %u win 0", nxt));
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_ack_unsent") - unsent, 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_bad_ack") - bad, 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.challenge_ack") - challenges, 2);
    /* Nothing was acknowledged. */
    ts_out_at(ts, t0 + 1 * SEC, ts_fmt(ts, "P. 1:1001(1000) ack %u win 0", nxt));
    ts_free(ts);
}

/* The probe's window counts too. Here the peer's window was shut, our
 * data waits, and the window update that opened it was lost: the probe
 * (the keep-alive form, with our window open) carries the open window,
 * and the data goes at once. */
TEST(test_tcp_zwp_ack_window_update_from_probe)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out_none(ts);
    ts_in(ts, ". 0:0(0) ack 1 win 65535");
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_none(ts);
    /* A probe with an older ACK (reordered) does not shut it again. */
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    ts_in(ts, ". 0:0(0) ack 1 win 0");
    ts_out(ts, ". 101:101(0) ack 1");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 50), 50);
    ts_out(ts, "P. 101:151(50) ack 1");
    ts_free(ts);
}

/* Probes come from the peer's timer, not from segments of ours arriving:
 * however many repeat SND.UNA while data is out, they are no duplicate
 * ACKs and start no fast retransmit (RFC 5681 §2). */
TEST(test_tcp_zwp_ack_probe_is_not_a_dup_ack)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2920), 2920);
    ts_out(ts, "P?. 1:1461(1460) ack 1");
    ts_out(ts, "P?. 1461:2921(1460) ack 1");
    uint64_t dups = ts_stat(ts, "tcp.dup_acks_rx");
    uint64_t fast = ts_stat(ts, "tcp.fast_retransmits");
    for (int i = 0; i < 4; i++) {
        ts_in(ts, ". 0:0(0) ack 1 win 65535");
        ts_out(ts, ". 2921:2921(0) ack 1");
    }
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.dup_acks_rx") - dups, 0);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.fast_retransmits") - fast, 0);
    /* Three real duplicates (at RCV.NXT) do. */
    for (int i = 0; i < 3; i++)
        ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "P?. 1:1461(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.fast_retransmits") - fast, 1);
    ts_free(ts);
}
