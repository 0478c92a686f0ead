/*
 * ACKs for out-of-order text within an input batch (tcp_batch.c,
 * tcp_reass_ack_may_wait): with SACK, the first DupThresh (3) duplicate
 * ACKs at one RCV.NXT go at once (RFC 5681 §4.2); after them an ACK waits
 * for the end of the batch unless the ranges changed since the last ACK
 * fill its SACK blocks (RFC 2018 §4: every arrival is still reported).
 * A segment that fills part of the gap is acknowledged at once; without
 * SACK every duplicate ACK goes at once.
 */
#include "tcpopts.h"
#include "tcpscript.h"
#include "test.h"

#define SEG 1000u

/* Passive open with SACK and no timestamps: 4 blocks fit in an ACK. */
static void bsack_open(struct ts *ts, bool sack)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    if (sack) {
        ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, nop, sackOK>");
    } else {
        ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    }
    ts_out(ts, "S. 0:0(0) ack 1 win 65535 <*>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    ts_accept(ts, lsd);
}

static void bsack_in(struct ts *ts, uint32_t seq)
{
    ts_in(ts, ts_fmt(ts, "P. %u:%u(%u) ack 1 win 65535", seq, seq + SEG, SEG));
}

/* The stack's next segment is an ACK of `ack` with exactly these SACK
 * blocks (n pairs, relative sequence numbers), in this order. */
static void bsack_expect(struct ts *ts, uint32_t ack, unsigned n, const uint32_t *blocks)
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

/* 1:1001 arrives, 1001:2001 is lost, then 2001:5001 in three segments:
 * three duplicate ACKs at once, each reporting the growing range. */
static void three_dupacks(struct ts *ts)
{
    bsack_in(ts, 1);
    ts_out_none(ts);
    for (uint32_t k = 0; k < 3 && !ts_failed(ts); k++) {
        bsack_in(ts, 2001 + k * SEG);
        bsack_expect(ts, 1001, 1, (const uint32_t[]){2001, 3001 + k * SEG});
    }
}

TEST(test_tcp_batch_sack_later_dupacks_wait_for_the_end)
{
    struct ts *ts = ts_new();
    bsack_open(ts, true);
    ustack_input_batch_begin(ts_stack(ts));
    three_dupacks(ts);
    /* The fourth and fifth only grow the range the last ACK reported. */
    bsack_in(ts, 5001);
    bsack_in(ts, 6001);
    ts_out_none(ts);
    ustack_input_batch_end(ts_stack(ts));
    bsack_expect(ts, 1001, 1, (const uint32_t[]){2001, 7001});
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_batch_sack_news_that_fills_the_blocks_goes_at_once)
{
    struct ts *ts = ts_new();
    bsack_open(ts, true);
    ustack_input_batch_begin(ts_stack(ts));
    three_dupacks(ts);
    /* Three new ranges past new holes: news the next ACK can carry. */
    bsack_in(ts, 6001);
    bsack_in(ts, 8001);
    bsack_in(ts, 10001);
    ts_out_none(ts);
    /* A fourth fills the four blocks: one more would push one off. */
    bsack_in(ts, 12001);
    bsack_expect(ts, 1001, 4,
                 (const uint32_t[]){12001, 13001, 10001, 11001, 8001, 9001, 6001, 7001});
    /* The next one waits again; the batch's end reports it first. */
    bsack_in(ts, 14001);
    ts_out_none(ts);
    ustack_input_batch_end(ts_stack(ts));
    bsack_expect(ts, 1001, 4,
                 (const uint32_t[]){14001, 15001, 12001, 13001, 10001, 11001, 8001, 9001});
    ts_out_none(ts);
    ts_free(ts);
}

/* RFC 5681 §4.2: "an immediate ACK ... when the incoming segment fills in
 * all or part of a gap", in a batch too. */
TEST(test_tcp_batch_sack_partial_repair_acked_at_once)
{
    struct ts *ts = ts_new();
    bsack_open(ts, true);
    ustack_input_batch_begin(ts_stack(ts));
    three_dupacks(ts);
    bsack_in(ts, 6001); /* a second hole at 5001:6001 */
    ts_out_none(ts);
    bsack_in(ts, 1001); /* the first hole fills */
    bsack_expect(ts, 5001, 1, (const uint32_t[]){6001, 7001});
    ustack_input_batch_end(ts_stack(ts));
    ts_out_none(ts);
    ts_free(ts);
}

/* Without SACK, the count of duplicate ACKs is all the sender has. */
TEST(test_tcp_batch_sack_without_sack_every_dupack_at_once)
{
    struct ts *ts = ts_new();
    bsack_open(ts, false);
    ustack_input_batch_begin(ts_stack(ts));
    bsack_in(ts, 1);
    for (uint32_t k = 0; k < 6 && !ts_failed(ts); k++) {
        bsack_in(ts, 2001 + k * SEG);
        ts_out(ts, ". 1:1(0) ack 1001 win *");
    }
    ustack_input_batch_end(ts_stack(ts));
    ts_out_none(ts);
    ts_free(ts);
}
