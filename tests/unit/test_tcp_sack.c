/*
 * The SACK scoreboard (src/tcp/tcp_sack.c): RFC 6675's Update(), IsLost()
 * and SetPipe() on a connection block made up here (no stack around it),
 * in units of 1000-byte segments: segment k is [1000k, 1000(k+1)),
 * SND.UNA = segment 0.
 */
#include <stdlib.h>
#include <string.h>

#include "core/stack.h"
#include "tcp/tcp_int.h"
#include "test.h"

#define SMSS 1000u
#define BASE 0xfffff000u /* sequence numbers wrap inside the tests */

static uint32_t seg(uint32_t k)
{
    return BASE + k * SMSS;
}

struct board_fixture {
    struct ustack st;
    struct tcp_conn c;
    struct tcp_seg s;
};

/* SND.UNA at segment 0, SND.NXT after segment n - 1. */
static struct board_fixture *fixture(uint32_t n)
{
    struct board_fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->c.snd_mss = SMSS;
    f->c.snd.una = seg(0);
    f->c.snd.nxt = seg(n);
    return f;
}

/* An ACK at segment `ack` with blocks {first, end} in segments. */
static uint32_t sack(struct board_fixture *f, uint32_t ack, unsigned n,
                     const uint32_t (*blocks)[2])
{
    memset(&f->s, 0, sizeof(f->s));
    f->c.snd.una = seg(ack);
    f->s.opts.sack_count = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        f->s.opts.sack[i].start = seg(blocks[i][0]);
        f->s.opts.sack[i].end = seg(blocks[i][1]);
    }
    return tcp_sack_update(&f->st, &f->c, &f->s);
}

static bool range_is(const struct tcp_conn *c, unsigned i, uint32_t first, uint32_t end)
{
    return i < c->sacked.count && c->sacked.range[i].start == seg(first) &&
           c->sacked.range[i].end == seg(end);
}

TEST(tcp_sack_update_merges_and_counts_new_bytes)
{
    struct board_fixture *f = fixture(20);
    REQUIRE(f);
    CHECK_EQ(sack(f, 0, 1, (const uint32_t[][2]){{2, 4}}), 2 * SMSS);
    CHECK_EQ(sack(f, 0, 2, (const uint32_t[][2]){{6, 7}, {2, 4}}), SMSS); /* 2-4 known */
    /* Adjacent to 2-4 and overlapping 6-7: one range. */
    CHECK_EQ(sack(f, 0, 1, (const uint32_t[][2]){{4, 7}}), 2 * SMSS);
    CHECK_EQ(f->c.sacked.count, 1);
    CHECK(range_is(&f->c, 0, 2, 7));
    CHECK_EQ(f->c.sacked.bytes, 5 * SMSS);
    /* The same again: nothing new (not a duplicate ACK for RFC 6675). */
    CHECK_EQ(sack(f, 0, 1, (const uint32_t[][2]){{2, 7}}), 0);
    free(f);
}

TEST(tcp_sack_update_forgets_what_snd_una_covers)
{
    struct board_fixture *f = fixture(20);
    REQUIRE(f);
    sack(f, 0, 3, (const uint32_t[][2]){{2, 4}, {6, 8}, {10, 12}});
    CHECK_EQ(f->c.sacked.count, 3);
    /* SND.UNA moves to 7, inside the second range. */
    sack(f, 7, 0, NULL);
    CHECK_EQ(f->c.sacked.count, 2);
    CHECK(range_is(&f->c, 0, 7, 8));
    CHECK(range_is(&f->c, 1, 10, 12));
    CHECK_EQ(f->c.sacked.bytes, 3 * SMSS);
    free(f);
}

TEST(tcp_sack_update_ignores_blocks_outside_the_flight)
{
    struct board_fixture *f = fixture(10);
    REQUIRE(f);
    /* Past SND.NXT, below SND.UNA (a D-SACK), empty, reversed. */
    CHECK_EQ(sack(f, 3, 4, (const uint32_t[][2]){{8, 11}, {1, 2}, {5, 5}, {7, 6}}), 0);
    CHECK_EQ(f->c.sacked.count, 0);
    /* Straddling SND.UNA: only the part above it counts. */
    CHECK_EQ(sack(f, 3, 1, (const uint32_t[][2]){{2, 5}}), 2 * SMSS);
    CHECK(range_is(&f->c, 0, 3, 5));
    free(f);
}

TEST(tcp_sack_board_full_forgets_the_highest)
{
    /* 32 ranges at even segments 2, 4, ..., 64 fill the board; a 33rd
     * above them is forgotten; one below them pushes the highest out.
     * Forgetting never claims unSACKed data: no merging. */
    struct board_fixture *f = fixture(100);
    REQUIRE(f);
    for (uint32_t k = 2; k <= 2 * TCP_SACK_RANGES; k += 2)
        sack(f, 0, 1, (const uint32_t[][2]){{k, k + 1}});
    CHECK_EQ(f->c.sacked.count, TCP_SACK_RANGES);
    CHECK_EQ(f->st.stats.tcp_sack_board_full, 0);
    /* New to us, so still news (a duplicate ACK), though not kept. */
    CHECK_EQ(sack(f, 0, 1, (const uint32_t[][2]){{90, 91}}), SMSS);
    CHECK_EQ(f->st.stats.tcp_sack_board_full, 1);
    CHECK(range_is(&f->c, TCP_SACK_RANGES - 1, 64, 65));
    /* Below every range: in, and 64-65 out. */
    CHECK_EQ(sack(f, 0, 1, (const uint32_t[][2]){{0, 1}}), SMSS);
    CHECK_EQ(f->st.stats.tcp_sack_board_full, 2);
    CHECK_EQ(f->c.sacked.count, TCP_SACK_RANGES);
    CHECK(range_is(&f->c, 0, 0, 1));
    CHECK(range_is(&f->c, TCP_SACK_RANGES - 1, 62, 63));
    /* A block that joins two ranges makes room. */
    sack(f, 0, 1, (const uint32_t[][2]){{1, 2}});
    CHECK_EQ(f->c.sacked.count, TCP_SACK_RANGES - 1);
    CHECK(range_is(&f->c, 0, 0, 3));
    free(f);
}

TEST(tcp_sack_is_lost_thresholds)
{
    /* RFC 6675 IsLost: DupThresh (3) SACKed ranges above, or more than
     * (DupThresh - 1) * SMSS SACKed bytes above. */
    struct board_fixture *f = fixture(20);
    REQUIRE(f);
    sack(f, 0, 1, (const uint32_t[][2]){{1, 3}});
    CHECK(!tcp_sack_is_lost(&f->c, seg(0))); /* 2 segments above: not more */
    sack(f, 0, 1, (const uint32_t[][2]){{3, 4}});
    CHECK(tcp_sack_is_lost(&f->c, seg(0))); /* 3 segments */
    /* Three small ranges: 3 discontiguous SACKed sequences. */
    struct board_fixture *g = fixture(20);
    REQUIRE(g);
    g->c.snd_mss = 4 * SMSS;
    sack(g, 0, 3, (const uint32_t[][2]){{2, 3}, {5, 6}, {8, 9}});
    CHECK(tcp_sack_is_lost(&g->c, seg(1)));
    CHECK(!tcp_sack_is_lost(&g->c, seg(4)));
    free(f);
    free(g);
}

TEST(tcp_sack_pipe_counts_holes)
{
    /* SetPipe: holes not lost count, and retransmitted octets count
     * (again). Segments 0..9 sent, 1-3 and 5 SACKed: hole 0 is lost (4
     * segments above), hole 4 is not (1 above), 6..9 are not. */
    struct board_fixture *f = fixture(10);
    REQUIRE(f);
    sack(f, 0, 2, (const uint32_t[][2]){{5, 6}, {1, 4}});
    f->c.rec.rxt_high = seg(0);
    CHECK_EQ(tcp_sack_pipe(&f->c), 5 * SMSS);
    f->c.rec.rxt_high = seg(1); /* hole 0 retransmitted */
    CHECK_EQ(tcp_sack_pipe(&f->c), 6 * SMSS);
    CHECK_EQ(tcp_sack_bytes_below(&f->c, seg(5)), 3 * SMSS);
    CHECK_EQ(tcp_sack_bytes_below(&f->c, seg(10)), 4 * SMSS);
    CHECK_EQ(tcp_sack_skip(&f->c, seg(2)), seg(4));
    CHECK_EQ(tcp_sack_skip(&f->c, seg(4)), seg(4));
    CHECK_EQ(tcp_sack_next_sacked(&f->c, seg(4), seg(10)), seg(5));
    CHECK_EQ(tcp_sack_next_sacked(&f->c, seg(6), seg(10)), seg(10));
    tcp_sack_clear(&f->c);
    f->c.rec.rxt_high = seg(0);
    CHECK_EQ(f->c.sacked.count, 0);
    CHECK_EQ(tcp_sack_pipe(&f->c), 10 * SMSS);
    free(f);
}
