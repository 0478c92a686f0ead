/*
 * RFC 7323 §3-§5: the timestamps option.
 *
 * Negotiated when both SYNs carry it (§3.2), then in every segment we
 * send (RSTs included), never when not negotiated. Our TSval is a
 * millisecond clock with a per-connection offset: the tests learn it from
 * the first segment and predict every later TSval from the virtual time.
 * TSecr echoes TS.Recent, which only in-window segments at or before
 * Last.ACK.sent update (§4.3). Each ACK of new data gives one RTT sample
 * from its TSecr (§4, Appendix G), fed to the RFC 6298 estimator. PAWS
 * (§5.3) drops a segment with an older TSval and answers with an ACK,
 * but not an RST; after 24 days idle TS.Recent no longer counts (§5.5).
 * The 12 option bytes come out of the MSS.
 */
#include <errno.h>

#include "tcpopts.h"
#include "tcpscript.h"
#include "test.h"

#define PEER_TS0 1000u /* the peer's TSval in its SYN */

/* Our timestamp clock: a TSval seen at a time. */
struct clock {
    uint32_t v0;
    uint64_t t0;
};

static uint32_t tsval_at(const struct clock *k, uint64_t t)
{
    return k->v0 + (uint32_t)(t / 1000 - k->t0 / 1000);
}

/* The last stack segment carries exactly NOP, NOP, TS (and nothing else
 * unless more is allowed), with the TSval our clock predicts for the time
 * it left and this TSecr. */
static void check_ts(struct ts *ts, const struct clock *k, uint32_t ecr)
{
    const struct ts_seg *s = ts_last(ts);
    uint32_t v = 0, e = 0;
    TS_CHECK(ts, s->opts_len >= 12 && s->opts[0] == 1 && s->opts[1] == 1 && s->opts[2] == 8);
    TS_CHECK(ts, tso_ts(s, &v, &e));
    TS_CHECK_EQ(ts, v, tsval_at(k, ts_last_time(ts)));
    TS_CHECK_EQ(ts, e, ecr);
}

/* Passive open with timestamps (and nothing else besides the MSS): our
 * SYN-ACK is MSS, NOP, NOP, TS, echoing the SYN's TSval. The peer's ACK
 * carries TSval PEER_TS0 + 1. Returns the socket; *k learns our clock. */
static int open_ts(struct ts *ts, struct clock *k)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, ts_fmt(ts, "S 0:0(0) win 65535 <mss 1460, nop, nop, ts val %u ecr 0>", PEER_TS0));
    ts_out(ts, ts_fmt(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460, ts val * ecr %u>", PEER_TS0));
    uint32_t v = 0, e = 0;
    TS_CHECK(ts, tso_ts(ts_last(ts), &v, &e));
    const uint8_t want[] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, (uint8_t)(v >> 24), (uint8_t)(v >> 16),
                            (uint8_t)(v >> 8), (uint8_t)v, 0, 0, PEER_TS0 >> 8, PEER_TS0 & 0xff};
    TS_CHECK(ts, tso_opts_are(ts, want, sizeof(want)));
    k->v0 = v;
    k->t0 = ts_last_time(ts);
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 1 win 65535 <nop, nop, ts val %u ecr %u>", PEER_TS0 + 1, v));
    ts_out_none(ts);
    int sd = ts_accept(ts, lsd);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    return sd;
}

/* A peer segment with timestamps: "P. 1:101(100) ack 1" + TS. */
static void in_ts(struct ts *ts, const char *line, uint32_t val, uint32_t ecr)
{
    ts_in(ts, ts_fmt(ts, "%s <nop, nop, ts val %u ecr %u>", line, val, ecr));
}

TEST(test_tcp_ts_passive_negotiated)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    ts_advance(ts, 250);
    /* Data carries TS; 12 bytes less text per segment (1448). */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3000), 3000);
    ts_out(ts, "P?. 1:1449(1448) ack 1 <*>");
    check_ts(ts, &k, PEER_TS0 + 1);
    ts_out(ts, "P?. 1449:2897(1448) ack 1 <*>");
    check_ts(ts, &k, PEER_TS0 + 1);
    ts_out(ts, "P. 2897:3001(104) ack 1 <*>");
    check_ts(ts, &k, PEER_TS0 + 1);
    TS_CHECK_EQ(ts, tso_conn(ts).mss, 1448);
    /* The clock runs in milliseconds: 250 ms after the SYN-ACK. */
    uint32_t v = 0, e = 0;
    tso_ts(ts_last(ts), &v, &e);
    TS_CHECK_EQ(ts, v - k.v0, 250);
    ts_free(ts);
}

TEST(test_tcp_ts_active_negotiated)
{
    struct ts *ts = ts_new();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) win 65535 <mss 1460, sackOK, ts val * ecr 0, nop, wscale 3>");
    struct clock k = {0, 0};
    uint32_t ecr = 1;
    TS_CHECK(ts, tso_ts(ts_last(ts), &k.v0, &ecr));
    TS_CHECK_EQ(ts, ecr, 0); /* nothing to echo in a SYN */
    k.t0 = ts_last_time(ts);
    ts_advance(ts, 30);
    ts_in(ts, ts_fmt(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, nop, ts val 7000 ecr %u>",
                     k.v0));
    ts_out(ts, ". 1:1(0) ack 1 win 65535 <*>");
    check_ts(ts, &k, 7000);
    TS_CHECK_EQ(ts, ts_last(ts)->opts_len, 12);
    /* The SYN-ACK's echo was the first RTT sample: 30 ms. */
    TS_CHECK_EQ(ts, tso_conn(ts).srtt_us, 30000);
    ts_free(ts);
}

/* Every option only when the peer offered it: a SYN-ACK without TS, and
 * nothing we send afterwards has one. */
TEST(test_tcp_ts_active_not_offered)
{
    struct ts *ts = ts_new();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) win 65535 <mss 1460, sackOK, ts val * ecr 0, nop, wscale 3>");
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1 win 65535");
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1460), 1460);
    ts_out(ts, "P. 1:1461(1460) ack 1"); /* a full 1460: no option bytes */
    /* A peer that puts TS in later segments changes nothing. */
    ts_in(ts, "P. 1:101(100) ack 1461 win 65535 <nop, nop, ts val 5 ecr 6>");
    ts_out_within(ts, 500, ". 1461:1461(0) ack 101");
    ts_shutdown(ts, sd, SHUT_WR);
    ts_out(ts, "F. 1461:1461(0) ack 101");
    ts_free(ts);
}

TEST(test_tcp_ts_passive_not_offered)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, wscale 2>");
    ts_out(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, wscale 3>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    int sd = ts_accept(ts, lsd);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2000), 2000);
    ts_out(ts, "P?. 1:1461(1460) ack 1 win 32768");
    ts_out(ts, "P. 1461:2001(540) ack 1 win 32768");
    ts_close(ts, sd);
    ts_out(ts, "F. 2001:2001(0) ack 1");
    ts_free(ts);
}

/* §3.2: once negotiated, "the TSopt MUST be sent in every non-<RST>
 * segment ... and SHOULD be sent in an <RST> segment": data, pure ACKs,
 * keep-alive probes, window probes, FIN and RST. */
TEST(test_tcp_ts_in_every_segment)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    uint32_t ecr = PEER_TS0 + 1;
    /* Pure ACK. */
    in_ts(ts, "P. 1:101(100) ack 1 win 65535", 2000, k.v0);
    ts_out_within(ts, 500, ". 1:1(0) ack 101 <*>");
    check_ts(ts, &k, 2000);
    ecr = 2000;
    /* Keep-alive probe. */
    ts_setopt(ts, sd, USTACK_SO_KEEPALIVE, 1);
    ts_setopt(ts, sd, USTACK_TCP_KEEPIDLE, 10);
    ts_out_within(ts, 11000, ". 0:0(0) ack 101 <*>");
    check_ts(ts, &k, ecr);
    in_ts(ts, ". 101:101(0) ack 1 win 0", 2010, tsval_at(&k, ts_now_us(ts)));
    ts_setopt(ts, sd, USTACK_SO_KEEPALIVE, 0);
    /* Window probe (the peer's window is shut). */
    ecr = 2010;
    TS_CHECK_EQ(ts, ts_send(ts, sd, 10), 10);
    ts_out_within(ts, 2000, ". 1:2(1) ack 101 <*>");
    check_ts(ts, &k, ecr);
    in_ts(ts, ". 101:101(0) ack 1 win 65535", 2020, tsval_at(&k, ts_now_us(ts)));
    ecr = 2020;
    /* Data. */
    ts_out(ts, "P. 1:11(10) ack 101 <*>");
    check_ts(ts, &k, ecr);
    /* FIN. */
    ts_shutdown(ts, sd, SHUT_WR);
    ts_out(ts, "F. 11:11(0) ack 101 <*>");
    check_ts(ts, &k, ecr);
    /* RST (linger zero): no ACK bit, so TSecr is zero (§3.2). */
    ts_setopt(ts, sd, USTACK_SO_LINGER_ZERO, 1);
    ts_close(ts, sd);
    ts_out(ts, "R 12:12(0) <*>");
    check_ts(ts, &k, 0);
    ts_free(ts);
}

/* §4.3: TS.Recent takes SEG.TSval only from a segment that passed the
 * sequence test and starts at or before Last.ACK.sent; so a burst covered
 * by one delayed ACK echoes its first segment, and a segment past a hole
 * does not count until the hole fills. */
TEST(test_tcp_ts_recent_update_rules)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    /* In window, in order: echoed. */
    in_ts(ts, "P. 1:101(100) ack 1 win 65535", 2000, k.v0);
    ts_out_within(ts, 500, ". 1:1(0) ack 101 <*>");
    check_ts(ts, &k, 2000);
    /* An old duplicate (fails the sequence test), newer TSval: answered
     * with an ACK that still echoes 2000. */
    in_ts(ts, "P. 1:101(100) ack 1 win 65535", 9000, k.v0);
    ts_out(ts, ". 1:1(0) ack 101 <*>");
    check_ts(ts, &k, 2000);
    /* Past the window: the same. */
    in_ts(ts, "P. 300001:300101(100) ack 1 win 65535", 9001, k.v0);
    ts_out(ts, ". 1:1(0) ack 101 <*>");
    check_ts(ts, &k, 2000);
    /* Past a hole (SEG.SEQ > Last.ACK.sent): held, not echoed. */
    in_ts(ts, "P. 201:301(100) ack 1 win 65535", 3000, k.v0);
    ts_out(ts, ". 1:1(0) ack 101 <*>");
    check_ts(ts, &k, 2000);
    /* The segment that fills the hole starts at Last.ACK.sent: echoed. */
    in_ts(ts, "P. 101:201(100) ack 1 win 65535", 2500, k.v0);
    ts_out(ts, ". 1:1(0) ack 301 <*>");
    check_ts(ts, &k, 2500);
    /* Two segments, one (immediate) ACK for both: the first one's TSval. */
    in_ts(ts, "P. 301:401(100) ack 1 win 65535", 4000, k.v0);
    ts_out_none(ts);
    in_ts(ts, "P. 401:501(100) ack 1 win 65535", 4001, k.v0);
    ts_out(ts, ". 1:1(0) ack 501 <*>");
    check_ts(ts, &k, 4000);
    /* The next in-order segment moves it on. */
    in_ts(ts, "P. 501:601(100) ack 1 win 65535", 4002, k.v0);
    ts_out_within(ts, 500, ". 1:1(0) ack 601 <*>");
    check_ts(ts, &k, 4002);
    ts_recv_data(ts, sd, 600);
    ts_free(ts);
}

/* §4 and Appendix G: every ACK of new data is an RTT sample, measured
 * from the TSval it echoes, and RFC 6298 §2 folds each into SRTT and
 * RTTVAR. One segment at a time (Karn's timing) would have seen only the
 * first of two segments in flight. */
TEST(test_tcp_ts_rtt_from_tsecr)
{
    struct ts *ts = ts_new();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) win 65535 <mss 1460, sackOK, ts val * ecr 0, nop, wscale 3>");
    struct clock k = {0, 0};
    uint32_t e;
    TS_CHECK(ts, tso_ts(ts_last(ts), &k.v0, &e));
    k.t0 = ts_last_time(ts);
    ts_advance(ts, 100);
    ts_in(ts, ts_fmt(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, nop, ts val 1 ecr %u>", k.v0));
    ts_out(ts, ". 1:1(0) ack 1 <*>");
    /* RFC 6298 §2.2: SRTT = R = 100 ms, RTTVAR = R / 2. */
    struct ustack_tcp_info i = tso_conn(ts);
    TS_CHECK_EQ(ts, i.srtt_us, 100000);
    TS_CHECK_EQ(ts, i.rttvar_us, 50000);
    uint64_t samples = ts_stat(ts, "tcp.ts_rtt_samples");
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    /* Two segments 20 ms apart. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1 <*>");
    uint32_t tsval1 = 0, tsval2 = 0;
    tso_ts(ts_last(ts), &tsval1, &e);
    ts_advance(ts, 20);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 101:201(100) ack 1 <*>");
    tso_ts(ts_last(ts), &tsval2, &e);
    /* The first is acknowledged 200 ms after it left, the second 280 ms
     * after: samples of 200 and 280 ms. */
    ts_advance(ts, 180);
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 101 win 65535 <nop, nop, ts val 2 ecr %u>", tsval1));
    ts_advance(ts, 100);
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 201 win 65535 <nop, nop, ts val 3 ecr %u>", tsval2));
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.ts_rtt_samples") - samples, 2);
    /* RFC 6298 §2.3 twice (in microseconds):
     *   R = 200 ms: RTTVAR = 3/4 * 50000 + 1/4 * |100000 - 200000| = 62500
     *               SRTT   = 7/8 * 100000 + 1/8 * 200000         = 112500
     *   R = 280 ms: RTTVAR = 3/4 * 62500 + 1/4 * |112500 - 280000| = 88750
     *               SRTT   = 7/8 * 112500 + 1/8 * 280000         = 133437 */
    i = tso_conn(ts);
    TS_CHECK_EQ(ts, i.rttvar_us, 88750);
    TS_CHECK_EQ(ts, i.srtt_us, 133437);
    /* RTO = SRTT + 4 RTTVAR = 488437 us, below the 1 s minimum. */
    TS_CHECK_EQ(ts, i.rto_us, 1000000);
    /* TSecr 0 is no echo: no sample from it. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 201:301(100) ack 1 <*>");
    ts_advance(ts, 10);
    ts_in(ts, ". 1:1(0) ack 301 win 65535 <nop, nop, ts val 4 ecr 0>");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.ts_rtt_samples") - samples, 2);
    ts_free(ts);
}

/* A retransmission carries a fresh TSval, so its ACK is an unambiguous
 * sample (Karn's problem does not arise): here the original was lost and
 * the retransmission is answered 40 ms after it left. */
TEST(test_tcp_ts_rtt_after_retransmission)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1 <*>");
    ts_out_after(ts, 1000, "P. 1:101(100) ack 1 <*>"); /* RTO 1 s */
    uint32_t v = 0, e = 0;
    tso_ts(ts_last(ts), &v, &e);
    TS_CHECK_EQ(ts, v, tsval_at(&k, ts_last_time(ts)));
    /* The handshake gave the first sample (no virtual time passed: SRTT
     * is a microsecond, its floor); RFC 6298 §2.3 folds in 40 ms. */
    uint32_t srtt = tso_conn(ts).srtt_us;
    uint64_t samples = ts_stat(ts, "tcp.ts_rtt_samples");
    ts_advance(ts, 40);
    in_ts(ts, ". 1:1(0) ack 101 win 65535", 2000, v);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.ts_rtt_samples") - samples, 1);
    TS_CHECK_EQ(ts, tso_conn(ts).srtt_us, (7 * (uint64_t)srtt + 40000) / 8);
    ts_free(ts);
}

/* A round trip shorter than the TSval clock's two ticks (2 ms) is timed
 * with the microsecond clock instead: the echo says 0 ms, the timed
 * segment 300 us, and SRTT takes the latter. (From the echo, SRTT was
 * 1 us on every LAN and TUN path.) */
TEST(test_tcp_ts_rtt_short_path_in_microseconds)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    uint32_t srtt = tso_conn(ts).srtt_us; /* the handshake took no time */
    uint64_t samples = ts_stat(ts, "tcp.ts_rtt_samples");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1 <*>");
    uint32_t v = 0, e = 0;
    tso_ts(ts_last(ts), &v, &e);
    ts_advance_us(ts, 300);
    in_ts(ts, ". 1:1(0) ack 101 win 65535", PEER_TS0 + 2, v);
    uint32_t want = srtt ? (uint32_t)((7 * (uint64_t)srtt + 300) / 8) : 300;
    TS_CHECK_EQ(ts, tso_conn(ts).srtt_us, want);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.ts_rtt_samples"), samples); /* not from the echo */
    /* 5 ms: the echo's millisecond resolution is fine again, and it is
     * the sample (the same value here). */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 101:201(100) ack 1 <*>");
    tso_ts(ts_last(ts), &v, &e);
    srtt = tso_conn(ts).srtt_us;
    ts_advance(ts, 5);
    in_ts(ts, ". 1:1(0) ack 201 win 65535", PEER_TS0 + 3, v);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.ts_rtt_samples"), samples + 1);
    TS_CHECK_EQ(ts, tso_conn(ts).srtt_us, (uint32_t)((7 * (uint64_t)srtt + 5000) / 8));
    ts_free(ts);
}

/* §5.3 R1: an in-window segment whose TSval is older than TS.Recent is an
 * old duplicate: dropped, and an ACK sent (with our current RCV.NXT and
 * the echo unchanged). A newer one with the same data is then taken. */
TEST(test_tcp_ts_paws_drops_old_segment)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    in_ts(ts, "P. 1:101(100) ack 1 win 65535", 5000, k.v0);
    ts_out_within(ts, 500, ". 1:1(0) ack 101 <*>");
    uint64_t d0 = ts_stat(ts, "tcp.drop_paws");
    in_ts(ts, "P. 101:201(100) ack 1 win 65535", 4999, k.v0);
    ts_out(ts, ". 1:1(0) ack 101 <*>");
    check_ts(ts, &k, 5000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_paws") - d0, 1);
    ts_recv_data(ts, sd, 100);
    ts_recv_none(ts, sd);
    in_ts(ts, "P. 101:201(100) ack 1 win 65535", 5000, k.v0); /* equal: not older */
    ts_out_within(ts, 500, ". 1:1(0) ack 201 <*>");
    check_ts(ts, &k, 5000);
    ts_recv_data(ts, sd, 100);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_paws") - d0, 1);
    /* An older pure ACK (overtaken by a newer one, or a copy) is dropped
     * without an answer: an ACK back would be a duplicate ACK for the
     * peer. It is not a duplicate ACK here either. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 201 <*>");
    uint64_t dup0 = ts_stat(ts, "tcp.dup_acks_rx");
    in_ts(ts, ". 201:201(0) ack 1 win 65535", 4000, k.v0);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_paws") - d0, 2);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.dup_acks_rx") - dup0, 0);
    /* An old SYN gets its ACK from the challenge-ACK budget (RFC 5961 §7),
     * not an unlimited one. */
    uint64_t ch0 = ts_stat(ts, "tcp.challenge_ack");
    in_ts(ts, "S 7000:7000(0) win 65535", 3000, 0);
    ts_out(ts, ". 101:101(0) ack 201 <*>");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.challenge_ack") - ch0, 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_paws") - d0, 3);
    ts_free(ts);
}

/* TSvals compare modulo 2^32, like sequence numbers: 5 is newer than
 * 0xfffffff0. */
TEST(test_tcp_ts_paws_wraps)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    /* Half the circle and more from TS.Recent (1001) is the past. */
    uint64_t d0 = ts_stat(ts, "tcp.drop_paws");
    in_ts(ts, "P. 1:101(100) ack 1 win 65535", 0xfffffff0u, k.v0);
    ts_out(ts, ". 1:1(0) ack 1 <*>");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_paws") - d0, 1);
    /* Walk TS.Recent round the circle in steps below 2^31. */
    static const uint32_t steps[] = {0x70000000u, 0xe0000000u, 0xfffffff0u, 5};
    for (uint32_t i = 0; i < 4; i++) {
        in_ts(ts, ts_fmt(ts, "P. %u:%u(100) ack 1 win 65535", 1 + 100 * i, 101 + 100 * i),
              steps[i], k.v0);
        ts_out_within(ts, 500, ts_fmt(ts, ". 1:1(0) ack %u <*>", 101 + 100 * i));
        check_ts(ts, &k, steps[i]);
    }
    in_ts(ts, "P. 401:501(100) ack 1 win 65535", 0xffffff00u, k.v0);
    ts_out(ts, ". 1:1(0) ack 401 <*>"); /* older than 5: PAWS */
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_paws") - d0, 2);
    ts_recv_data(ts, sd, 400);
    ts_free(ts);
}

/* §5.3: the RST bit is exempt from PAWS ("and the RST bit is not set"):
 * an RST at RCV.NXT with an old TSval still resets. */
TEST(test_tcp_ts_paws_spares_rst)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    in_ts(ts, "P. 1:101(100) ack 1 win 65535", 5000, k.v0);
    ts_out_within(ts, 500, ". 1:1(0) ack 101 <*>");
    in_ts(ts, "R. 101:101(0) ack 1 win 0", 10, k.v0);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ECONNRESET);
    ts_free(ts);
}

/* §3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD
 * silently drop the segment"; an RST without one is still taken. */
TEST(test_tcp_ts_missing_option)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    uint64_t d0 = ts_stat(ts, "tcp.drop_no_timestamp");
    ts_in(ts, "P. 1:101(100) ack 1 win 65535");
    ts_none_for(ts, 500);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_no_timestamp") - d0, 1);
    ts_recv_none(ts, sd);
    /* A SYN without the option (a peer restarted without timestamps) is
     * not dropped silently: RFC 5961 §4's challenge ACK answers it. */
    uint64_t ch0 = ts_stat(ts, "tcp.challenge_ack");
    ts_in(ts, "S 5000:5000(0) win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1 <*>");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.challenge_ack") - ch0, 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.drop_no_timestamp") - d0, 1);
    ts_in(ts, "R. 1:1(0) ack 1 win 0");
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ECONNRESET);
    ts_free(ts);
}

/* §5.5: after more than 24 days without a segment, TS.Recent is no
 * longer valid: an older TSval is taken (and becomes TS.Recent). Before
 * that, PAWS still applies. */
TEST(test_tcp_ts_paws_24_days_idle)
{
    struct ts *ts = ts_new();
    struct clock k = {0, 0};
    int sd = open_ts(ts, &k);
    in_ts(ts, "P. 1:101(100) ack 1 win 65535", 5000, k.v0);
    ts_out_within(ts, 500, ". 1:1(0) ack 101 <*>");
    ts_recv_data(ts, sd, 100);
    ts_advance(ts, 23u * 24 * 3600 * 1000); /* 23 days: still valid */
    in_ts(ts, "P. 101:201(100) ack 1 win 65535", 100, k.v0);
    ts_out(ts, ". 1:1(0) ack 101 <*>");
    check_ts(ts, &k, 5000);
    ts_advance(ts, 1u * 24 * 3600 * 1000 + 1000); /* past 24 days */
    in_ts(ts, "P. 101:201(100) ack 1 win 65535", 100, k.v0);
    ts_out_within(ts, 500, ". 1:1(0) ack 201 <*>");
    check_ts(ts, &k, 100);
    ts_recv_data(ts, sd, 100);
    ts_free(ts);
}
