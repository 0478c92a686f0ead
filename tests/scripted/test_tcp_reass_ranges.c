/*
 * The reassembly queue with many holes: it records as many separate
 * ranges as a sender's SACK scoreboard holds (TCP_REASS_RANGES, 32), so
 * a burst that lost every other segment is described in full, and the
 * SACK blocks (RFC 2018 §4) still lead with the range of the segment
 * that triggered the ACK, then the most recently changed ones.
 */
#include "tcp/tcp_int.h"
#include "tcpopts.h"
#include "tcpscript.h"
#include "test.h"

#define SEG 1000u
#define HOLES 20u /* more than the 8 ranges the queue once had */

/* Passive open with SACK and no timestamps: 4 blocks fit in an ACK. */
static int reass_open(struct ts *ts)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, nop, sackOK>");
    ts_out(ts, "S. 0:0(0) ack 1 win 65535 <*>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    return ts_accept(ts, lsd);
}

/* The k-th held piece: [2000k + 1001, 2000k + 2001), a hole before it. */
static uint32_t piece(unsigned k)
{
    return 2 * SEG * k + SEG + 1;
}

/* The stack's immediate ACK acknowledges `ack` and carries exactly these
 * SACK blocks (n pairs, relative sequence numbers), in this order. */
static void reass_expect(struct ts *ts, uint32_t ack, unsigned n, const uint32_t *blocks)
{
    ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u <*>", ack));
    uint32_t got[4][2];
    unsigned m = tso_sack(ts_last(ts), ts_cur(ts)->peer_isn, got);
    TS_CHECK_EQ(ts, m, n);
    for (unsigned i = 0; i < m && i < n && !ts_failed(ts); i++)
        if (got[i][0] != blocks[2 * i] || got[i][1] != blocks[2 * i + 1])
            ts_fail(ts, "block %u is %u:%u, expected %u:%u", i, got[i][0], got[i][1],
                    blocks[2 * i], blocks[2 * i + 1]);
}

static void reass_in(struct ts *ts, uint32_t seq, uint32_t len)
{
    ts_in(ts, ts_fmt(ts, "P. %u:%u(%u) ack 1 win 65535", seq, seq + len, len));
}

TEST(test_tcp_reass_ranges_many_holes_reported_and_filled)
{
    struct ts *ts = ts_new();
    int sd = reass_open(ts);
    uint64_t dropped = ts_stat(ts, "tcp.drop_out_of_order");
    /* Every other segment lost: each piece is a range of its own, and the
     * newest four lead every ACK, the latest first. */
    for (unsigned k = 0; k < HOLES && !ts_failed(ts); k++) {
        reass_in(ts, piece(k), SEG);
        uint32_t want[8];
        unsigned n = k + 1 < 4 ? k + 1 : 4;
        for (unsigned i = 0; i < n; i++) {
            want[2 * i] = piece(k - i);
            want[2 * i + 1] = piece(k - i) + SEG;
        }
        reass_expect(ts, 1, n, want);
    }
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_out_of_order") - dropped, 0);
    /* An old range changes (the hole between pieces 3 and 4 fills, they
     * merge): it leads, then the three most recent ones. */
    reass_in(ts, piece(3) + SEG, SEG);
    reass_expect(ts, 1, 4,
                 (const uint32_t[]){piece(3), piece(4) + SEG, piece(19), piece(19) + SEG,
                                    piece(18), piece(18) + SEG, piece(17), piece(17) + SEG});
    /* The retransmissions fill the other holes in order; each ACK moves
     * RCV.NXT past the next held range, and no range was lost. */
    for (unsigned k = 0; k < HOLES && !ts_failed(ts); k++) {
        if (k == 4)
            continue; /* filled above */
        reass_in(ts, piece(k) - SEG, SEG);
        uint32_t ack = (k == 3 ? piece(4) : piece(k)) + SEG;
        if (k + 1 == HOLES)
            ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u win 65535", ack)); /* no SACK left */
        else
            ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u <*>", ack));
    }
    ts_recv_data(ts, sd, 2 * SEG * HOLES);
    ts_recv_none(ts, sd);
    ts_free(ts);
}

/* A full queue records no new range (counted), but a segment that joins
 * a recorded range is still taken, and leads the SACK blocks. */
TEST(test_tcp_reass_ranges_full_queue)
{
    struct ts *ts = ts_new();
    int sd = reass_open(ts);
    uint64_t dropped = ts_stat(ts, "tcp.drop_out_of_order");
    for (unsigned k = 0; k < TCP_REASS_RANGES && !ts_failed(ts); k++) {
        reass_in(ts, piece(k), SEG / 2);
        ts_out(ts, ". 1:1(0) ack 1 <*>");
    }
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_out_of_order") - dropped, 0);
    /* One range more: not recorded, not reported. */
    reass_in(ts, piece(TCP_REASS_RANGES), SEG);
    uint32_t top = piece(TCP_REASS_RANGES - 1);
    reass_expect(ts, 1, 4,
                 (const uint32_t[]){top, top + SEG / 2, top - 2 * SEG, top - 2 * SEG + SEG / 2,
                                    top - 4 * SEG, top - 4 * SEG + SEG / 2, top - 6 * SEG,
                                    top - 6 * SEG + SEG / 2});
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_out_of_order") - dropped, 1);
    /* The second half of the first piece joins its range. */
    reass_in(ts, piece(0) + SEG / 2, SEG / 2);
    reass_expect(ts, 1, 4,
                 (const uint32_t[]){piece(0), piece(0) + SEG, top, top + SEG / 2,
                                    top - 2 * SEG, top - 2 * SEG + SEG / 2, top - 4 * SEG,
                                    top - 4 * SEG + SEG / 2});
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_out_of_order") - dropped, 1);
    /* The first hole fills: the first range comes along. */
    reass_in(ts, 1, SEG);
    ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u <*>", piece(0) + SEG));
    ts_recv_data(ts, sd, 2 * SEG);
    ts_free(ts);
}

/* A larger receive buffer records more ranges (one per
 * TCP_REASS_BYTES_PER_RANGE of SO_RCVBUF, in storage of its own beyond
 * the TCB's): a window with more in flight has more holes at one loss
 * rate. Past that bound, a new range is dropped (counted) as before. */
TEST(test_tcp_reass_ranges_grow_with_the_buffer)
{
    struct ts *ts = ts_new();
    const unsigned rcvbuf = 1024 * 1024, max = rcvbuf / TCP_REASS_BYTES_PER_RANGE;
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_setopt(ts, lsd, USTACK_SO_RCVBUF, (int)rcvbuf);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, nop, sackOK>");
    ts_out(ts, "S. 0:0(0) ack 1 win 65535 <*>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    TS_CHECK(ts, max > TCP_REASS_RANGES);
    uint64_t dropped = ts_stat(ts, "tcp.drop_out_of_order");
    /* 100-byte pieces after 100-byte holes (the window is 65535: no
     * scaling): two more than the bound. */
    for (unsigned k = 0; k < max + 2 && !ts_failed(ts); k++) {
        unsigned s = 101 + 200 * k;
        ts_in(ts, ts_fmt(ts, "P. %u:%u(100) ack 1 win 65535", s, s + 100));
        ts_out(ts, ". 1:1(0) ack 1 <*>");
    }
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_out_of_order") - dropped, 2);
    /* The repairs deliver everything held, range after range. */
    for (unsigned k = 0; k < max && !ts_failed(ts); k++) {
        unsigned s = 1 + 200 * k;
        ts_in(ts, ts_fmt(ts, "P. %u:%u(100) ack 1 win 65535", s, s + 100));
        ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u <*>", s + 200));
    }
    ts_recv_data(ts, sd, 200 * max);
    ts_free(ts);
}
