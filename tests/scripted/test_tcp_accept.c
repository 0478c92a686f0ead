/*
 * Segment acceptability: unacceptable segments in LISTEN and SYN-SENT
 * (RFC 9293 §3.10.7.2-3), the four cases of the §3.10.7.4 sequence test
 * with the ACK sent for an unacceptable segment, and the trimming of
 * segments that start before RCV.NXT or end past the right window edge
 * (only the in-window bytes are delivered).
 */
#include <errno.h>

#include "tcpscript.h"
#include "test.h"

/* ---- LISTEN (§3.10.7.2) ------------------------------------------------------ */

TEST(test_tcp_accept_listen_rst_ignored)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    /* "An incoming RST should be ignored." */
    ts_in(ts, "R 0:0(0) win 0");
    ts_in(ts, "R. 0:0(0) ack @100 win 0");
    ts_in(ts, "SR 0:0(0) win 0");
    ts_out_none(ts);
    ts_accept_none(ts, lsd);
    /* The listener is unaffected. */
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_free(ts);
}

TEST(test_tcp_accept_listen_ack_draws_rst)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    /* "Any acknowledgment is bad ... <SEQ=SEG.ACK><CTL=RST>". The ACK
     * check comes before the SYN check, so a SYN-ACK gets it too. */
    ts_in(ts, ". 1:1(0) ack @5000 win 65535");
    ts_out(ts, "R @5000:@5000(0)");
    ts_in(ts, "P. 1:11(10) ack @6000 win 65535");
    ts_out(ts, "R @6000:@6000(0)");
    ts_in(ts, "S. 0:0(0) ack @7000 win 65535 <mss 1460>");
    ts_out(ts, "R @7000:@7000(0)");
    ts_in(ts, "F. 1:1(0) ack @8000 win 65535");
    ts_out(ts, "R @8000:@8000(0)");
    ts_out_none(ts);
    ts_accept_none(ts, lsd);
    ts_free(ts);
}

TEST(test_tcp_accept_listen_no_syn_dropped)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    /* Fourth: neither RST, ACK nor SYN: drop. */
    ts_in(ts, "P 1:11(10) win 65535");
    ts_in(ts, "F 1:1(0) win 65535");
    ts_in(ts, "U 1:2(1) win 65535 urg 1");
    ts_out_none(ts);
    ts_accept_none(ts, lsd);
    ts_free(ts);
}

/* ---- SYN-SENT (§3.10.7.3) ------------------------------------------------------ */

static int connect_syn_sent(struct ts *ts)
{
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    return sd;
}

TEST(test_tcp_accept_syn_sent_bad_ack_draws_rst)
{
    struct ts *ts = ts_new();
    int sd = connect_syn_sent(ts);
    /* SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>. */
    ts_in(ts, "S. 0:0(0) ack 0 win 65535 <mss 1460>");
    ts_out(ts, "R 0:0(0)");
    ts_in(ts, "S. 0:0(0) ack 2 win 65535 <mss 1460>");
    ts_out(ts, "R 2:2(0)");
    ts_in(ts, ". 0:0(0) ack -1000 win 65535");
    ts_out(ts, "R -1000:-1000(0)");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), 0);
    /* The connection is still in SYN-SENT. */
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    TS_CHECK(ts, ts_events(ts, sd) & USTACK_EV_WRITABLE);
    ts_free(ts);
}

TEST(test_tcp_accept_syn_sent_no_syn_dropped)
{
    struct ts *ts = ts_new();
    int sd = connect_syn_sent(ts);
    /* Fifth: neither SYN nor RST: drop, even with an acceptable ACK. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_in(ts, "P. 1:11(10) ack 1 win 65535");
    ts_in(ts, "P 1:11(10) win 65535");
    ts_in(ts, "F. 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    TS_CHECK(ts, !(ts_events(ts, sd) & USTACK_EV_WRITABLE));
    /* None of that data was taken: RCV.NXT is IRS + 1. */
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_recv_none(ts, sd);
    ts_free(ts);
}

/* ---- Synchronized states: the four cases of §3.10.7.4 ---------------------------- */

/* Active open with a small receive buffer; *wnd gets the window the stack
 * offers (RCV.WND), *edge the right edge RCV.NXT + RCV.WND (relative). */
static int open_small_window(struct ts *ts, uint32_t *wnd)
{
    int sd = ts_socket(ts);
    ts_setopt(ts, sd, USTACK_SO_RCVBUF, 4000);
    ts_active_open_on(ts, sd);
    *wnd = ts_cur(ts)->stack_win;
    TS_CHECK(ts, *wnd > 200 && *wnd < 65535);
    return sd;
}

/* Send peer data from relative seq `from` up to (not including) `to`, in
 * segments of at most 1460 bytes advertising window peer_win, taking any
 * ACKs the stack sends meanwhile. */
static void send_range(struct ts *ts, uint32_t from, uint32_t to, unsigned peer_win)
{
    while (from < to && !ts_failed(ts)) {
        uint32_t n = to - from > 1460 ? 1460 : to - from;
        ts_in(ts, ts_fmt(ts, "P. %u:%u(%u) ack 1 win %u", from, from + n, n, peer_win));
        ts_out_count(ts, ". 1:1(0) ack * win *");
        from += n;
    }
}

/* Fill the stack's receive window; afterwards RCV.WND == 0. */
static void fill_window(struct ts *ts, uint32_t wnd, unsigned peer_win)
{
    send_range(ts, 1, 1 + wnd, peer_win);
    if (!ts_failed(ts) && ts_last(ts)->ack != ts_cur(ts)->peer_isn + 1 + wnd)
        ts_out_within(ts, 500, ts_fmt(ts, ". 1:1(0) ack %u win 0", 1 + wnd));
    TS_CHECK_EQ(ts, ts_cur(ts)->stack_win, 0);
}

TEST(test_tcp_accept_len0_wnd0)
{
    struct ts *ts = ts_new();
    uint32_t w;
    int sd = open_small_window(ts, &w);
    /* The peer fills our window and closes its own. */
    fill_window(ts, w, 0);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out_none(ts); /* peer window is zero */
    /* RCV.WND = 0, SEG.LEN = 0: acceptable only if SEG.SEQ = RCV.NXT.
     * One past it is not: ACK it, drop it (its window is not used). */
    ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack 1 win 65535", 2 + w, 2 + w));
    ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u win 0", 1 + w));
    ts_out_none(ts);
    /* At RCV.NXT it is acceptable, and its window update lets data go. */
    ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack 1 win 65535", 1 + w, 1 + w));
    ts_out(ts, ts_fmt(ts, "P. 1:101(100) ack %u win 0", 1 + w));
    ts_free(ts);
}

TEST(test_tcp_accept_len_gt0_wnd0_not_acceptable)
{
    struct ts *ts = ts_new();
    uint32_t w;
    int sd = open_small_window(ts, &w);
    fill_window(ts, w, 65535);
    /* RCV.WND = 0, SEG.LEN > 0: never acceptable; the ACK shows RCV.NXT
     * and the zero window (§3.8.6.1). */
    ts_in(ts, ts_fmt(ts, "P. %u:%u(1) ack 1 win 65535", 1 + w, 2 + w));
    ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u win 0", 1 + w));
    ts_in(ts, ts_fmt(ts, "P. %u:%u(100) ack 1 win 65535", 1 + w, 101 + w));
    ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u win 0", 1 + w));
    ts_out_none(ts);
    /* Only the window's worth was delivered. */
    ts_recv_data(ts, sd, w);
    ts_recv_none(ts, sd);
    ts_free(ts);
}

TEST(test_tcp_accept_len0_wnd_gt0)
{
    struct ts *ts = ts_new();
    uint32_t w;
    int sd = open_small_window(ts, &w);
    /* At RCV.NXT: acceptable; the peer closes its window. */
    ts_in(ts, ". 1:1(0) ack 1 win 0");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out_none(ts);
    /* SEG.SEQ = RCV.NXT + RCV.WND: just outside, unacceptable. */
    ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack 1 win 65535", 1 + w, 1 + w));
    ts_out(ts, ". 1:1(0) ack 1");
    ts_out_none(ts);
    /* SEG.SEQ = RCV.NXT - 1: unacceptable, answered with an ACK. (As a
     * window probe its ACK field and window still count, so it keeps the
     * window shut here: test_tcp_zwp_ack.c.) */
    ts_in(ts, ". 0:0(0) ack 1 win 0");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_out_none(ts);
    /* At RCV.NXT again: acceptable, the window opens, data goes. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_free(ts);
}

TEST(test_tcp_accept_len_gt0_wnd_gt0_edges)
{
    struct ts *ts = ts_new();
    uint32_t w;
    int sd = open_small_window(ts, &w);
    /* Starting at the right edge: unacceptable. */
    ts_in(ts, ts_fmt(ts, "P. %u:%u(10) ack 1 win 65535", 1 + w, 11 + w));
    ts_out(ts, ". 1:1(0) ack 1");
    /* Far beyond it: unacceptable. */
    ts_in(ts, ts_fmt(ts, "P. %u:%u(10) ack 1 win 65535", 100001 + w, 100011 + w));
    ts_out(ts, ". 1:1(0) ack 1");
    /* Inside, starting at RCV.NXT: acceptable. */
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    /* Ending at RCV.NXT - 1 (all old): unacceptable. */
    ts_in(ts, "P. 51:101(50) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 101");
    /* An exact old duplicate: unacceptable. */
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 101");
    ts_out_none(ts);
    ts_recv_data(ts, sd, 100);
    ts_recv_none(ts, sd);
    ts_free(ts);
}

TEST(test_tcp_accept_trim_start_before_rcv_nxt)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 101");
    /* Straddles RCV.NXT: "only the new parts are processed". */
    ts_in(ts, "P. 51:201(150) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 201");
    /* And with a FIN at the end. */
    ts_in(ts, "FP. 151:301(150) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 302");
    ts_recv_data(ts, sd, 300);
    ts_recv_eof(ts, sd);
    ts_free(ts);
}

TEST(test_tcp_accept_trim_past_right_edge)
{
    struct ts *ts = ts_new();
    uint32_t w;
    int sd = open_small_window(ts, &w);
    /* Fill all but 100 bytes, then send 200: the last 100 lie past the
     * right edge and are trimmed; the first 100 are taken. */
    send_range(ts, 1, w - 99, 65535);
    ts_in(ts, ts_fmt(ts, "P. %u:%u(200) ack 1 win 65535", w - 99, w + 101));
    if (!ts_failed(ts) && ts_last(ts)->ack != ts_cur(ts)->peer_isn + 1 + w)
        ts_out_within(ts, 500, ts_fmt(ts, ". 1:1(0) ack %u win 0", 1 + w));
    ts_out_none(ts);
    ts_recv_data(ts, sd, w);
    ts_recv_none(ts, sd);
    ts_free(ts);
}

TEST(test_tcp_accept_out_of_order_held)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* In the window but past RCV.NXT: acceptable, and SHOULD be held for
     * later processing (SHLD-31). A duplicate ACK may be sent (MAY-13,
     * RFC 5681 §4.2 recommends it). */
    ts_in(ts, "P. 101:201(100) ack 1 win 65535");
    ts_out_maybe(ts, ". 1:1(0) ack 1");
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out_within(ts, 500, ". 1:1(0) ack 201");
    ts_recv_data(ts, sd, 200);
    ts_recv_none(ts, sd);
    ts_free(ts);
}

TEST(test_tcp_accept_syn_received_bad_ack)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    /* SEG.ACK = ISS does not acknowledge our SYN (SND.UNA < SEG.ACK fails)
     * yet lies within RFC 5961's range: "form a reset segment
     * <SEQ=SEG.ACK><CTL=RST>" (§3.10.7.4 fifth, SYN-RECEIVED). */
    ts_in(ts, ". 1:1(0) ack 0 win 65535");
    ts_out(ts, "R 0:0(0)");
    /* SEG.ACK > SND.NXT: the same rule, or RFC 5961 §5's "discard and
     * send an ACK" (RFC 9293 lists that check first). */
    ts_in(ts, ". 1:1(0) ack 5 win 65535");
    ts_out_oneof(ts, "R 5:5(0)", ". 1:1(0) ack 1");
    ts_out_none(ts);
    ts_accept_none(ts, lsd);
    /* Neither reset the half-open connection: the right ACK completes it. */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    TS_CHECK(ts, ts_accept(ts, lsd) >= 0);
    ts_free(ts);
}

TEST(test_tcp_accept_syn_with_data)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    /* Text on a SYN "should be queued for processing later" (§3.10.7.2);
     * a stack may also leave it for the peer to retransmit. Either way
     * what it acknowledges must be what it delivers. */
    ts_in(ts, "S 0:10(10) win 65535 <mss 1460>");
    int taken = ts_out_oneof(ts, "S. 0:0(0) ack 1 <mss 1460>", "S. 0:0(0) ack 11 <mss 1460>");
    if (taken == 1) {
        ts_in(ts, ". 11:11(0) ack 1 win 65535");
        ts_out_none(ts);
    } else {
        ts_in(ts, ". 1:1(0) ack 1 win 65535");
        ts_advance(ts, 499);
        if (ts_out_oneof(ts, "none", ". 1:1(0) ack 11") == 0) {
            ts_in(ts, "P. 1:11(10) ack 1 win 65535");
            ts_out_within(ts, 500, ". 1:1(0) ack 11");
        }
    }
    int sd = ts_accept(ts, lsd);
    ts_recv_data(ts, sd, 10);
    ts_recv_none(ts, sd);
    ts_free(ts);
}

TEST(test_tcp_accept_ack_every_second_full_segment)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* SHLD-19: an ACK for at least every second full-sized segment, so
     * the second one is acknowledged without waiting for a timer. */
    ts_in(ts, "P. 1:1461(1460) ack 1 win 65535");
    ts_out_maybe(ts, ". 1:1(0) ack 1461");
    ts_in(ts, "P. 1461:2921(1460) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 2921");
    ts_recv_data(ts, sd, 2920);
    ts_free(ts);
}
