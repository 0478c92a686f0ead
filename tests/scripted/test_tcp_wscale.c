/*
 * RFC 7323 §2: the window scale option.
 *
 * The option is an offer: windows are scaled only when both SYNs carry it
 * (§2.2), our shift comes from the receive buffer (the default 256 KiB
 * needs 3: 65535 << 3 >= 262144), a peer's shift above 14 is used as 14
 * (§2.3), the window field of a SYN is never scaled, and every other
 * segment's is, in both directions. Our advertised window is rounded so
 * that its right edge (SEG.ACK + SEG.WND << shift) never moves left
 * (§2.4).
 */
#include "tcpopts.h"
#include "tcpscript.h"
#include "test.h"

#define OUR_SHIFT 3 /* the default SO_RCVBUF, 256 KiB */

/* Listen, take a SYN with these options, expect this SYN-ACK, complete
 * the handshake with the peer's window field `win`; returns the socket. */
static int passive(struct ts *ts, const char *syn, const char *synack, unsigned win)
{
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, syn);
    ts_out(ts, synack);
    ts_in(ts, ts_fmt(ts, ". 1:1(0) ack 1 win %u", win));
    ts_out_none(ts);
    int sd = ts_accept(ts, lsd);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    return sd;
}

/* How many bytes the stack sends (full segments) before it stops. */
static uint32_t drain(struct ts *ts)
{
    uint32_t bytes = 0;
    while (!ts_failed(ts) && ts_out_maybe(ts, "P?. *:*(*) ack *"))
        bytes += (uint32_t)ts_last(ts)->data_len;
    return bytes;
}

TEST(test_tcp_wscale_passive_offered)
{
    struct ts *ts = ts_new();
    int sd = passive(ts, "S 0:0(0) win 65535 <mss 1460, nop, wscale 2>",
                     "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, wscale 3>", 2920);
    /* The peer's field 2920 means 2920 << 2 = 11680 bytes: 8 segments
     * (within the initial congestion window of 10). */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 20000), 20000);
    ts_out(ts, "P?. 1:1461(1460) ack 1 win 32768");
    TS_CHECK_EQ(ts, drain(ts) + 1460, 11680);
    TS_CHECK_EQ(ts, tso_conn(ts).snd_wnd, 11680);
    /* Our window: the whole 256 KiB buffer, in units of 8 (32768 << 3). */
    TS_CHECK_EQ(ts, tso_conn(ts).rcv_wnd, 262144);
    /* The peer's data (its window shut for now): our ACK says 261144
     * bytes, 32643 << 3. */
    ts_in(ts, "P. 1:1001(1000) ack 11681 win 0");
    ts_out_within(ts, 500, ". 11681:11681(0) ack 1001 win 32643");
    ts_recv_data(ts, sd, 1000);
    /* The window opens to 2190 << 2 = 8760 bytes: the rest (8320) goes. */
    ts_in(ts, ". 1001:1001(0) ack 11681 win 2190");
    ts_out(ts, "P?. 11681:13141(1460) ack 1001");
    TS_CHECK_EQ(ts, drain(ts) + 1460, 20000 - 11680);
    TS_CHECK_EQ(ts, tso_conn(ts).snd_wnd, 8760);
    ts_free(ts);
}

TEST(test_tcp_wscale_passive_not_offered)
{
    struct ts *ts = ts_new();
    /* No option in the SYN: none in the SYN-ACK, nothing scaled. */
    int sd = passive(ts, "S 0:0(0) win 65535 <mss 1460, sackOK>",
                     "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, nop, sackOK>", 2920);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 5000), 5000);
    ts_out(ts, "P?. 1:1461(1460) ack 1 win 65535");
    ts_out(ts, "P?. 1461:2921(1460) ack 1 win 65535"); /* 2920 exactly */
    ts_out_none(ts);
    /* 65535 at most, whatever the buffer. */
    ts_in(ts, "P. 1:1001(1000) ack 2921 win 0");
    ts_out_within(ts, 500, ". 2921:2921(0) ack 1001 win 64535");
    ts_free(ts);
}

TEST(test_tcp_wscale_active_offered)
{
    struct ts *ts = ts_new();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    /* Our SYN offers everything; the window field of a SYN is unscaled. */
    ts_out(ts, "S 0:0(0) win 65535 <mss 1460, sackOK, ts val * ecr 0, nop, wscale 3>");
    uint32_t val = 0, ecr = 1;
    TS_CHECK(ts, tso_ts(ts_last(ts), &val, &ecr) && ecr == 0);
    const uint8_t want[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, (uint8_t)(val >> 24),
                            (uint8_t)(val >> 16), (uint8_t)(val >> 8), (uint8_t)val,
                            0, 0, 0, 0, 1, 3, 3, OUR_SHIFT};
    TS_CHECK(ts, tso_opts_are(ts, want, sizeof(want)));
    /* The peer scales by 2, and offers nothing else. */
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, wscale 2>");
    ts_out(ts, ". 1:1(0) ack 1 win 32768");
    ts_in(ts, ". 1:1(0) ack 1 win 1095"); /* 1095 << 2 = 4380 bytes */
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 5000), 5000);
    TS_CHECK_EQ(ts, drain(ts), 4380);
    TS_CHECK_EQ(ts, tso_conn(ts).snd_wnd, 4380);
    ts_free(ts);
}

TEST(test_tcp_wscale_active_not_offered)
{
    struct ts *ts = ts_new();
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) win 65535 <mss 1460, sackOK, ts val * ecr 0, nop, wscale 3>");
    /* The SYN-ACK has no window scale: neither side scales. */
    ts_in(ts, "S. 0:0(0) ack 1 win 2920 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1 win 65535");
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 5000), 5000);
    TS_CHECK_EQ(ts, drain(ts), 2920);
    ts_in(ts, "P. 1:1001(1000) ack 2921 win 0");
    ts_out_within(ts, 500, ". 2921:2921(0) ack 1001 win 64535");
    ts_free(ts);
}

/* RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt
 * value larger than 14, the TCP SHOULD log the error but MUST use 14
 * instead of the specified value." */
TEST(test_tcp_wscale_shift_above_14_clamped)
{
    static const unsigned shifts[] = {15, 255};
    for (unsigned i = 0; i < 2; i++) {
        struct ts *ts = ts_new();
        uint64_t c0 = ts_stat(ts, "tcp.wscale_clamped");
        int sd = passive(ts, ts_fmt(ts, "S 0:0(0) win 65535 <mss 1460, nop, wscale %u>", shifts[i]),
                         "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, wscale 3>", 3);
        TS_CHECK_EQ(ts, ts_stat(ts, "tcp.wscale_clamped") - c0, 1);
        /* 3 << 14 = 49152 bytes, not the 98304 (or more) of the shift as
         * sent; the data goes as far as the initial congestion window. */
        TS_CHECK_EQ(ts, tso_conn(ts).snd_wnd, 49152);
        TS_CHECK_EQ(ts, ts_send(ts, sd, 60000), 60000);
        TS_CHECK_EQ(ts, drain(ts), 14600);
        ts_in(ts, ". 1:1(0) ack 14601 win 2");
        TS_CHECK_EQ(ts, tso_conn(ts).snd_wnd, 32768);
        ts_free(ts);
    }
}

/* The shift follows SO_RCVBUF as set before the SYN: 1 MiB needs 5, and
 * the window offered is the whole buffer. */
TEST(test_tcp_wscale_shift_from_buffer)
{
    static const struct {
        int rcvbuf;
        unsigned shift;
    } cases[] = {{65535, 0}, {65536, 1}, {262144, 3}, {1 << 20, 5}, {16 << 20, 9}};
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ts *ts = ts_new();
        int lsd = ts_listen(ts, TS_STACK_PORT, 16);
        ts_setopt(ts, lsd, USTACK_SO_RCVBUF, cases[i].rcvbuf);
        ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, wscale 0>");
        ts_out(ts, ts_fmt(ts, "S. 0:0(0) ack 1 win %u <mss 1460, nop, wscale %u>",
                          cases[i].rcvbuf < 65535 ? cases[i].rcvbuf : 65535, cases[i].shift));
        ts_in(ts, ". 1:1(0) ack 1 win 65535");
        int sd = ts_accept(ts, lsd);
        TS_CHECK_EQ(ts, ts_send(ts, sd, 1), 1);
        ts_out(ts, ts_fmt(ts, "P. 1:2(1) ack 1 win %u", (unsigned)cases[i].rcvbuf >> cases[i].shift));
        if (ts_failed(ts))
            printf("    with SO_RCVBUF %d\n", cases[i].rcvbuf);
        ts_free(ts);
    }
}

/* The peer's window edge as our segment states it. */
static uint32_t edge_of(const struct ts_seg *s, unsigned shift)
{
    return s->ack + ((uint32_t)s->win << shift);
}

/* Take every ACK the stack sends within 500 ms; each one's right edge
 * must be at or past *edge (which moves on). Returns how many. */
static int acks_keep_edge(struct ts *ts, unsigned shift, uint32_t *edge)
{
    int n = 0;
    ts_advance(ts, 500);
    while (!ts_failed(ts) && ts_out_maybe(ts, ". 1:1(0) ack * win *")) {
        uint32_t e = edge_of(ts_last(ts), shift);
        if ((int32_t)(e - *edge) < 0)
            ts_fail(ts, "right edge went back by %u (ack %u win %u)", *edge - e,
                    ts_last(ts)->ack, ts_last(ts)->win);
        *edge = e;
        n++;
    }
    return n;
}

/* RFC 7323 §2.4: segments of sizes that are no multiple of the unit (32
 * bytes with a 1 MiB buffer), some read at once, some left in the buffer:
 * the edge our ACKs state never moves left. */
TEST(test_tcp_wscale_right_edge_never_retreats)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_setopt(ts, lsd, USTACK_SO_RCVBUF, 1 << 20);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, wscale 7>");
    ts_out(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, wscale 5>");
    ts_in(ts, ". 1:1(0) ack 1 win 1000");
    int sd = ts_accept(ts, lsd);
    uint32_t edge = ts_cur(ts)->peer_isn + 1 + 65535;
    static const unsigned sizes[] = {1000, 777, 1460, 13, 1, 999, 1460, 1460, 50, 1459, 333};
    uint32_t seq = 1, unread = 0;
    uint64_t r0 = ts_stat(ts, "tcp.rcv_wnd_retracted");
    for (unsigned round = 0; round < 40 && !ts_failed(ts); round++) {
        unsigned len = sizes[round % 11];
        ts_in(ts, ts_fmt(ts, "P. %u:%u(%u) ack 1 win 1000", seq, seq + len, len));
        seq += len;
        unread += len;
        acks_keep_edge(ts, 5, &edge);
        if (round % 3 == 2) { /* the application reads now and then */
            ts_recv_data(ts, sd, unread);
            unread = 0;
            acks_keep_edge(ts, 5, &edge);
        }
    }
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rcv_wnd_retracted") - r0, 0);
    ts_free(ts);
}

/* A reader that stops: the window closes to zero and the edge never goes
 * back on the way (the ring's reserve takes the roundings), and once the
 * application reads, it all arrives intact and the window reopens. */
TEST(test_tcp_wscale_stalled_reader_window_closes)
{
    struct ts *ts = ts_new();
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_setopt(ts, lsd, USTACK_SO_RCVBUF, 131072); /* shift 2 */
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, wscale 7>");
    ts_out(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460, nop, wscale 2>");
    ts_in(ts, ". 1:1(0) ack 1 win 1000");
    int sd = ts_accept(ts, lsd);
    uint32_t edge = ts_cur(ts)->peer_isn + 1 + 65535;
    uint64_t r0 = ts_stat(ts, "tcp.rcv_wnd_retracted");
    uint32_t seq = 1;
    bool closed = false;
    for (int round = 0; round < 200 && !closed && !ts_failed(ts); round++) {
        /* 1001 bytes, or what is left of the window. */
        uint32_t room = edge - (ts_cur(ts)->peer_isn + seq);
        uint32_t len = room < 1001 ? room : 1001;
        ts_in(ts, ts_fmt(ts, "P. %u:%u(%u) ack 1 win 1000", seq, seq + len, len));
        seq += len;
        acks_keep_edge(ts, 2, &edge);
        closed = ts_last(ts)->win == 0;
    }
    TS_CHECK(ts, closed);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rcv_wnd_retracted") - r0, 0);
    TS_CHECK(ts, seq - 1 >= 131072); /* the whole buffer was offered */
    ts_recv_data(ts, sd, seq - 1);
    /* The window update: the whole buffer again. */
    ts_out(ts, ts_fmt(ts, ". 1:1(0) ack %u win 32768", seq));
    ts_free(ts);
}

/* A SYN answered with a SYN cookie (the SYN queue is full): the cookie
 * has no room for the options, so the SYN-ACK offers only the MSS, and
 * the connection runs without them, whatever the SYN offered. */
TEST(test_tcp_wscale_not_on_cookie_connections)
{
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tcp.syn_backlog = 1;
    struct ts *ts = ts_new_with(&cfg);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_flow(ts, 40001);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_flow(ts, 40002);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, sackOK, ts val 5 ecr 0, nop, wscale 7>");
    ts_out(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.syncookies_sent"), 1);
    ts_in(ts, ". 1:1(0) ack 1 win 100"); /* not scaled: 100 bytes */
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, tso_conn(ts).snd_wnd, 100);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1 win 65535"); /* no TS, window unscaled */
    ts_free(ts);
}
