/*
 * Out-of-order segments, both ways.
 *
 * Receiving (RFC 9293 §3.10.7.4 SHLD-31, RFC 5681 §4.2): text past a gap
 * is held in a bounded reassembly queue and delivered in order once the
 * gap fills; duplicates and overlaps never corrupt it; every out-of-order
 * segment draws an immediate duplicate ACK, a gap fill an immediate ACK.
 *
 * Sending (RFC 5681 §3.2, RFC 6582 §3.2): three duplicate ACKs retransmit
 * the first unacknowledged segment at once, once per loss episode; a
 * partial ACK retransmits the next hole; what is not a duplicate ACK by
 * RFC 5681's definition does not count.
 */
#include <errno.h>
#include <sys/socket.h>

#include "tcp/tcp_int.h"
#include "tcpscript.h"
#include "test.h"

#define SEC 1000000ull

TEST(test_tcp_ooo_held_and_delivered_in_order)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t held = ts_stat(ts, "tcp.rx_out_of_order");
    /* Three segments past a gap: each is held, each draws a duplicate ACK
     * at once, none is readable. */
    ts_in(ts, "P. 301:401(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_in(ts, "P. 101:201(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_in(ts, "P. 501:601(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_recv_none(ts, sd);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rx_out_of_order") - held, 3);
    /* The first gap fills: 1..201 are readable, the ACK is immediate. */
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 201");
    ts_recv_data(ts, sd, 200);
    ts_recv_none(ts, sd);
    /* The next: up to 401. The last: up to 601. */
    ts_in(ts, "P. 201:301(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 401");
    ts_in(ts, "P. 401:501(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 601");
    ts_recv_data(ts, sd, 400); /* checked byte for byte */
    ts_free(ts);
}

TEST(test_tcp_ooo_duplicates_and_overlaps)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    /* Overlapping and duplicated pieces past the gap, in every relation:
     * inside, straddling either edge, covering, identical, adjacent. */
    const char *pieces[] = {
        "P. 201:401(200) ack 1 win 65535", "P. 301:351(50) ack 1 win 65535",
        "P. 351:501(150) ack 1 win 65535", "P. 151:251(100) ack 1 win 65535",
        "P. 201:401(200) ack 1 win 65535", "P. 101:601(500) ack 1 win 65535",
        "P. 601:701(100) ack 1 win 65535", "P. 681:801(120) ack 1 win 65535",
        "P. 901:1001(100) ack 1 win 65535", "P. 901:1001(100) ack 1 win 65535",
    };
    for (unsigned i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        ts_in(ts, pieces[i]);
        ts_out(ts, ". 1:1(0) ack 1");
    }
    ts_recv_none(ts, sd);
    /* A fill that overlaps what is held: up to 801 (801..901 missing). */
    ts_in(ts, "P. 1:251(250) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 801");
    ts_recv_data(ts, sd, 800);
    /* Old data again (entirely before RCV.NXT): an immediate ACK. */
    ts_in(ts, "P. 501:701(200) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 801");
    /* The last hole, straddling the held piece. */
    ts_in(ts, "P. 751:951(200) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1001");
    ts_recv_data(ts, sd, 200);
    ts_recv_none(ts, sd);
    ts_free(ts);
}

TEST(test_tcp_ooo_queue_is_bounded)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    uint64_t dropped = ts_stat(ts, "tcp.drop_out_of_order");
    /* Two separate pieces (101..201, 301..401, ...) more than the queue
     * holds ranges. Every one still gets its duplicate ACK. */
    for (unsigned k = 0; k < TCP_REASS_RANGES + 2 && !ts_failed(ts); k++) {
        unsigned s = 101 + 200 * k;
        ts_in(ts, ts_fmt(ts, "P. %u:%u(100) ack 1 win 65535", s, s + 100));
        ts_out(ts, ". 1:1(0) ack 1");
    }
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_out_of_order") - dropped, 2);
    /* Filling the holes delivers everything that was held; what was not
     * held must come again. */
    for (unsigned k = 0; k < TCP_REASS_RANGES && !ts_failed(ts); k++) {
        unsigned s = 1 + 200 * k;
        ts_in(ts, ts_fmt(ts, "P. %u:%u(100) ack 1 win 65535", s, s + 100));
        ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u", s + 200));
    }
    unsigned held = 200 * TCP_REASS_RANGES, total = held + 400;
    ts_in(ts, ts_fmt(ts, "P. %u:%u(400) ack 1 win 65535", held + 1, total + 1));
    ts_out_after(ts, 40, ts_fmt(ts, ". 1:1(0) ack %u", total + 1)); /* no gap left: delayed */
    ts_recv_data(ts, sd, total);
    ts_free(ts);
}

TEST(test_tcp_ooo_fin_held_until_the_gap_fills)
{
    struct ts *ts = ts_new();
    int sd = ts_passive_open(ts, NULL);
    ts_in(ts, "FP. 101:201(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 1");
    ts_recv_none(ts, sd);
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_out(ts, ". 1:1(0) ack 202"); /* data and FIN, at once */
    ts_recv_data(ts, sd, 200);
    ts_recv_eof(ts, sd);
    ts_free(ts);
}

/* Our side sends four full segments; the peer lost the first. */
static int send_four(struct ts *ts)
{
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 5840), 5840);
    ts_out(ts, ". 1:1461(1460) ack 1");
    ts_out(ts, ". 1461:2921(1460) ack 1");
    ts_out(ts, ". 2921:4381(1460) ack 1");
    ts_out(ts, "P. 4381:5841(1460) ack 1");
    return sd;
}

TEST(test_tcp_ooo_fast_retransmit_on_third_duplicate)
{
    struct ts *ts = ts_new();
    send_four(ts);
    uint64_t fast = ts_stat(ts, "tcp.fast_retransmits");
    /* RFC 5681 §3.2: the third duplicate ACK retransmits at once... */
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, ". 1:1461(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.fast_retransmits") - fast, 1);
    /* ...once: further duplicates of the same episode do not repeat it. */
    for (int i = 0; i < 5; i++)
        ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    /* The retransmission filled the hole: everything is acknowledged. */
    ts_in(ts, ". 1:1(0) ack 5841 win 65535");
    ts_none_for(ts, 3000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.dup_acks_rx") >= 8, 1);
    ts_free(ts);
}

TEST(test_tcp_ooo_partial_ack_retransmits_next_hole)
{
    struct ts *ts = ts_new();
    send_four(ts);
    /* Segments 1 and 3 were lost. */
    for (int i = 0; i < 3; i++)
        ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out(ts, ". 1:1461(1460) ack 1");
    /* RFC 6582 §3.2 step 5: the ACK after the retransmission stops at
     * the second hole (a partial ACK): that segment goes at once. */
    ts_in(ts, ". 1:1(0) ack 2921 win 65535");
    ts_out(ts, ". 2921:4381(1460) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.partial_ack_retransmits"), 1);
    /* The full ACK ends the episode: a new loss later may be fast
     * retransmitted again. */
    ts_in(ts, ". 1:1(0) ack 5841 win 65535");
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_ooo_what_is_not_a_duplicate_ack)
{
    struct ts *ts = ts_new();
    send_four(ts);
    uint64_t dups = ts_stat(ts, "tcp.dup_acks_rx");
    /* RFC 5681 §2: not duplicates: an ACK carrying data (b), a FIN (c),
     * one whose window differs from the last (e). */
    ts_in(ts, "P. 1:11(10) ack 1 win 65535");
    ts_in(ts, "P. 11:21(10) ack 1 win 65535");
    ts_out(ts, ". 5841:5841(0) ack 21"); /* every second segment */
    ts_in(ts, ". 21:21(0) ack 1 win 60000");
    ts_in(ts, ". 21:21(0) ack 1 win 50000");
    ts_in(ts, ". 21:21(0) ack 1 win 40000");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.dup_acks_rx") - dups, 0);
    /* Then three real ones (same window as the last) do count. */
    for (int i = 0; i < 3; i++)
        ts_in(ts, ". 21:21(0) ack 1 win 40000");
    ts_out(ts, ". 1:1461(1460) ack 21");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.dup_acks_rx") - dups, 3);
    ts_free(ts);
}

TEST(test_tcp_ooo_no_fast_retransmit_for_old_window_after_timeout)
{
    struct ts *ts = ts_new();
    send_four(ts);
    uint64_t t = ts_now_us(ts);
    /* Nothing came back: the timeout retransmits the first segment. */
    ts_out_at(ts, t + 1 * SEC, ". 1:1461(1460) ack 1");
    /* Duplicate ACKs now (from segments of before the timeout) must not
     * start a fast retransmit: RFC 6582 §3.2 step 2's recovery point is
     * SND.NXT at the timeout. */
    for (int i = 0; i < 4; i++)
        ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.fast_retransmits"), 0);
    ts_free(ts);
}
