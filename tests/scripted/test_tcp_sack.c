/*
 * RFC 2018: selective acknowledgments, the receiver's side, and the
 * checks on the blocks a peer sends us.
 *
 * SACK-permitted goes in our SYN-ACK only when the peer's SYN had it.
 * Then, while we hold out-of-order text, every ACK carries SACK blocks
 * (§4): first the block holding the segment that triggered the ACK, then
 * the other ranges, most recently changed first; 4 blocks fit, 3 beside
 * timestamps. The blocks count against the segment's text (RFC 9293
 * §3.7.1). Blocks from the peer must lie within SND.UNA..SND.NXT and not
 * be empty; others are dropped and counted.
 */
#include "tcpopts.h"
#include "tcpscript.h"
#include "test.h"

/* Passive open; with_sack: the SYN (and so our SYN-ACK) has sackOK. */
static int open_sack(struct ts *ts, bool with_sack)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    if (with_sack) {
        ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, nop, sackOK>");
        ts_out(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, nop, sackOK>");
        const uint8_t want[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};
        TS_CHECK(ts, tso_opts_are(ts, want, sizeof(want)));
    } else {
        ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
        ts_out(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    }
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    return sd;
}

/* A 1000-byte peer segment starting at relative seq. */
static void in_seg(struct ts *ts, uint32_t seq)
{
    ts_in(ts, ts_fmt(ts, "P. %u:%u(1000) ack 1 win 65535", seq, seq + 1000));
}

/* The ACK the stack sends at once must acknowledge `ack` and carry
 * exactly these SACK blocks, in this order (n pairs, relative). */
static void expect_sack(struct ts *ts, uint32_t ack, unsigned n, const uint32_t *blocks)
{
    ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u <*>", ack));
    uint32_t got[4][2];
    unsigned m = tso_sack(ts_last(ts), ts_cur(ts)->peer_isn, got);
    TS_CHECK_EQ(ts, m, n);
    for (unsigned i = 0; i < m && i < n && !ts_failed(ts); i++) {
        if (got[i][0] != blocks[2 * i] || got[i][1] != blocks[2 * i + 1])
            ts_fail(ts, "block %u is %u:%u, expected %u:%u", i, got[i][0], got[i][1],
                    blocks[2 * i], blocks[2 * i + 1]);
    }
}

TEST(test_tcp_sack_not_permitted)
{
    struct ts *ts = ts_new();
    int sd = open_sack(ts, false);
    in_seg(ts, 1001);
    ts_out(ts, ". 1:1(0) ack 1 win 65535"); /* no options at all */
    in_seg(ts, 3001);
    ts_out(ts, ". 1:1(0) ack 1 win 65535");
    in_seg(ts, 1);
    ts_out(ts, ". 1:1(0) ack 2001 win 65535");
    ts_recv_data(ts, sd, 2000);
    ts_free(ts);
}

TEST(test_tcp_sack_one_hole)
{
    struct ts *ts = ts_new();
    int sd = open_sack(ts, true);
    in_seg(ts, 1001);
    /* Exactly: NOP, NOP, SACK with one block. */
    ts_out(ts, ts_fmt(ts, ". 1:1(0) ack 1 win 65535 <nop, nop, %s>",
                      tso_sack_raw(ts, ts_cur(ts)->peer_isn, 1, 1001u, 2001u)));
    TS_CHECK_EQ(ts, ts_last(ts)->opts_len, 12);
    /* More of the same block: it grows. */
    in_seg(ts, 2001);
    expect_sack(ts, 1, 1, (const uint32_t[]){1001, 3001});
    /* The hole fills: a plain ACK again. */
    in_seg(ts, 1);
    ts_out(ts, ". 1:1(0) ack 3001 win 65535");
    ts_recv_data(ts, sd, 3000);
    ts_free(ts);
}

/* Two, three, four and more holes: the block of the latest segment
 * first, then the others, most recently changed first; at most 4. */
TEST(test_tcp_sack_many_holes_newest_first)
{
    struct ts *ts = ts_new();
    int sd = open_sack(ts, true);
    uint64_t tx0 = ts_stat(ts, "tcp.sack_acks_tx");
    in_seg(ts, 1001);
    expect_sack(ts, 1, 1, (const uint32_t[]){1001, 2001});
    in_seg(ts, 3001);
    expect_sack(ts, 1, 2, (const uint32_t[]){3001, 4001, 1001, 2001});
    in_seg(ts, 5001);
    expect_sack(ts, 1, 3, (const uint32_t[]){5001, 6001, 3001, 4001, 1001, 2001});
    in_seg(ts, 7001);
    expect_sack(ts, 1, 4, (const uint32_t[]){7001, 8001, 5001, 6001, 3001, 4001, 1001, 2001});
    /* A fifth range: the oldest one is left out. */
    in_seg(ts, 9001);
    expect_sack(ts, 1, 4, (const uint32_t[]){9001, 10001, 7001, 8001, 5001, 6001, 3001, 4001});
    /* A segment joining the oldest range puts it first again. */
    ts_in(ts, "P. 2001:2501(500) ack 1 win 65535");
    expect_sack(ts, 1, 4, (const uint32_t[]){1001, 2501, 9001, 10001, 7001, 8001, 5001, 6001});
    /* Arriving out of order in the middle: 6001:7001 joins two ranges. */
    in_seg(ts, 6001);
    expect_sack(ts, 1, 4, (const uint32_t[]){5001, 8001, 1001, 2501, 9001, 10001, 3001, 4001});
    /* The first hole fills: RCV.NXT moves to 2501, the rest remain. */
    in_seg(ts, 1);
    expect_sack(ts, 2501, 3, (const uint32_t[]){5001, 8001, 9001, 10001, 3001, 4001});
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_acks_tx") - tx0, 8);
    /* Everything: no SACK option. */
    ts_in(ts, "P. 2501:3001(500) ack 1 win 65535");
    expect_sack(ts, 4001, 2, (const uint32_t[]){5001, 8001, 9001, 10001});
    in_seg(ts, 4001);
    expect_sack(ts, 8001, 1, (const uint32_t[]){9001, 10001});
    in_seg(ts, 8001);
    ts_out(ts, ". 1:1(0) ack 10001 win 65535");
    ts_recv_data(ts, sd, 10000);
    ts_free(ts);
}

/* Beside timestamps (12 bytes), 3 blocks fit: 12 + 4 + 3 * 8 = 40. */
TEST(test_tcp_sack_three_blocks_with_timestamps)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, sackOK, ts val 100 ecr 0>");
    ts_out(ts, "S. 0:0(0) ack 1 win 65535 <*>");
    uint32_t ours = 0, e = 0;
    TS_CHECK(ts, tso_ts(ts_last(ts), &ours, &e) && e == 100);
    uint8_t len = 0;
    TS_CHECK(ts, tso_find(ts_last(ts), 4, &len) && len == 2); /* sackOK */
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 1 win 65535 <nop, nop, ts val 101 ecr %u>", ours));
    int sd = ts_accept(ts, lsd);
    for (uint32_t i = 0; i < 5; i++)
        ts_in(ts, ts_fmt(ts, "P. %u:%u(1000) ack 1 win 65535 <nop, nop, ts val 102 ecr %u>",
                         1001 + 2000 * i, 2001 + 2000 * i, ours));
    /* Five ACKs; the last one: TS, then the three newest blocks. */
    for (int i = 0; i < 4; i++)
        ts_out(ts, ". 1:1(0) ack 1 <*>");
    expect_sack(ts, 1, 3, (const uint32_t[]){9001, 10001, 7001, 8001, 5001, 6001});
    TS_CHECK_EQ(ts, ts_last(ts)->opts_len, 40);
    ts_recv_none(ts, sd);
    ts_free(ts);
}

/* A data segment sent while we hold out-of-order text carries the SACK
 * blocks too, and its text is shorter by their size: 1460 - 12. */
TEST(test_tcp_sack_blocks_on_data_segments)
{
    struct ts *ts = ts_new();
    int sd = open_sack(ts, true);
    in_seg(ts, 1001);
    expect_sack(ts, 1, 1, (const uint32_t[]){1001, 2001});
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3000), 3000);
    ts_out(ts, "P?. 1:1449(1448) ack 1 <*>");
    uint32_t got[4][2];
    TS_CHECK_EQ(ts, tso_sack(ts_last(ts), ts_cur(ts)->peer_isn, got), 1);
    TS_CHECK(ts, got[0][0] == 1001 && got[0][1] == 2001);
    ts_out(ts, "P?. 1449:2897(1448) ack 1 <*>");
    ts_out(ts, "P. 2897:3001(104) ack 1 <*>");
    ts_free(ts);
}

/* The blocks a peer sends: only those within SND.UNA..SND.NXT and not
 * empty are kept; the others are counted and ignored. */
TEST(test_tcp_sack_peer_blocks_validated)
{
    struct ts *ts = ts_new();
    int sd = open_sack(ts, true);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 5000), 5000); /* SND.NXT = 5001 */
    ts_out_count(ts, "P?. *:*(*) ack 1");
    uint32_t iss = ts_cur(ts)->stack_isn;
    uint64_t ok0 = ts_stat(ts, "tcp.sack_blocks_rx"), bad0 = ts_stat(ts, "tcp.sack_blocks_invalid");
    /* Valid: 1461:2921. Invalid: past SND.NXT, below SND.UNA, empty, and
     * backwards. */
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 1 win 65535 <nop, nop, %s>",
                     tso_sack_raw(ts, iss, 4, 1461u, 2921u, 4001u, 6001u, 0u, 101u, 2001u, 2001u)));
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_blocks_rx") - ok0, 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_blocks_invalid") - bad0, 3);
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 1 win 65535 <nop, nop, %s>",
                     tso_sack_raw(ts, iss, 2, 3001u, 2001u, 1u, 5001u)));
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_blocks_rx") - ok0, 2);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_blocks_invalid") - bad0, 4);
    ts_free(ts);
}

/* Without SACK negotiated, a peer's SACK blocks are ignored. */
TEST(test_tcp_sack_peer_blocks_without_permission)
{
    struct ts *ts = ts_new();
    int sd = open_sack(ts, false);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2000), 2000);
    ts_out_count(ts, "P?. *:*(*) ack 1");
    uint64_t ok0 = ts_stat(ts, "tcp.sack_blocks_rx"), bad0 = ts_stat(ts, "tcp.sack_blocks_invalid");
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 1 win 65535 <nop, nop, %s>",
                     tso_sack_raw(ts, ts_cur(ts)->stack_isn, 1, 1461u, 2001u)));
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_blocks_rx") - ok0, 0);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.sack_blocks_invalid") - bad0, 1);
    ts_free(ts);
}
