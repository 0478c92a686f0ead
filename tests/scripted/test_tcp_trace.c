/*
 * Connection traces (include/ustack/trace.h): which rows a scripted
 * connection produces, and with what in them. A listener with
 * USTACK_TCP_TRACE passes it to the connection it accepts; the peer drops
 * a data segment, so the retransmission timer fires.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcpscript.h"
#include "test.h"
#include "ustack/trace.h"

#define SEC 1000000ull
#define TRACE_MAX 64

struct rows {
    struct ustack_trace_row row[TRACE_MAX];
    char state[TRACE_MAX][16]; /* row.state points into the stack's table */
    size_t n, dropped;
};

static void collect(void *ctx, const struct ustack_trace_row *row)
{
    struct rows *r = ctx;
    if (r->n == TRACE_MAX) {
        r->dropped++;
        return;
    }
    r->row[r->n] = *row;
    snprintf(r->state[r->n], sizeof(r->state[0]), "%s", row->state);
    r->n++;
}

/* Index of the first row with event ev at or after `from`, or -1. */
static int find(const struct rows *r, size_t from, enum ustack_trace_event ev)
{
    for (size_t i = from; i < r->n; i++)
        if (r->row[i].event == ev)
            return (int)i;
    return -1;
}

/* Passive open with tracing set on the listener; returns the accepted sd. */
static int traced_open(struct ts *ts, struct rows *r, int trace)
{
    struct ustack *st = ts_stack(ts);
    ustack_set_trace_sink(st, collect, r);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_setopt(ts, lsd, USTACK_TCP_TRACE, trace);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535");
    return ts_accept(ts, lsd);
}

TEST(tcp_trace_rows_at_retransmission)
{
    struct ts *ts = ts_new();
    struct rows *r = calloc(1, sizeof(*r));
    REQUIRE(r);
    int sd = traced_open(ts, r, 1);
    int value = -1;
    CHECK_EQ(ustack_getsockopt(ts_stack(ts), sd, USTACK_TCP_TRACE, &value), 0);
    CHECK_EQ(value, 1);

    /* The handshake: SYN-RECEIVED, then ESTABLISHED, each a state row;
     * the listener itself made none. */
    REQUIRE(r->n >= 2);
    CHECK_EQ(r->row[0].event, USTACK_TRACE_STATE);
    CHECK(!strcmp(r->state[0], "SYN-RECEIVED"));
    int est = -1;
    for (size_t i = 0; i < r->n; i++)
        if (r->row[i].event == USTACK_TRACE_STATE && !strcmp(r->state[i], "ESTABLISHED"))
            est = (int)i;
    REQUIRE(est >= 0);
    uint32_t iss = r->row[0].iss;
    CHECK_EQ(r->row[0].snd_una, iss);
    /* The ACK of our SYN moves SND.UNA past it: an ACK row. */
    int syn_acked = find(r, 0, USTACK_TRACE_ACK);
    REQUIRE(syn_acked >= 0);
    CHECK_EQ(r->row[syn_acked].snd_una, iss + 1);
    CHECK_EQ(r->row[est].local_port, TS_STACK_PORT);
    CHECK_EQ(r->row[est].remote_port, TS_PEER_PORT);
    CHECK_EQ(r->row[est].local_addr, TS_STACK_ADDR);
    CHECK_EQ(r->row[est].remote_addr, TS_PEER_ADDR);
    uint64_t id = r->row[0].conn_id;
    CHECK(id != 0);

    /* 100 bytes go out: one SEND row with SND.NXT moved and 100 bytes in
     * flight. */
    size_t before = r->n;
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    int send = find(r, before, USTACK_TRACE_SEND);
    REQUIRE(send >= 0);
    CHECK_EQ(r->row[send].snd_nxt - iss, 101);
    CHECK_EQ(r->row[send].snd_una - iss, 1);
    CHECK_EQ(r->row[send].in_flight, 100);
    CHECK_EQ(r->row[send].retransmissions, 0);
    CHECK_EQ(r->row[send].rto_us, 1 * SEC);
    CHECK_EQ(r->row[send].time_us, t0);
    CHECK_EQ(r->row[send].snd_wnd, 65535);
    CHECK_EQ(r->n, before + 1); /* one row for the burst, nothing else */

    /* The segment is lost: at t0 + 1 s the timer fires; a TIMEOUT row with
     * the backed-off RTO, then an RTX row counting the retransmission. */
    before = r->n;
    ts_out_at(ts, t0 + 1 * SEC, "P?. 1:101(100) ack 1");
    int timeout = find(r, before, USTACK_TRACE_TIMEOUT);
    int rtx = find(r, before, USTACK_TRACE_RTX);
    REQUIRE(timeout >= 0 && rtx > timeout);
    CHECK_EQ(r->row[timeout].rto_us, 2 * SEC);
    CHECK(r->row[timeout].time_us >= t0 + 1 * SEC);
    CHECK_EQ(r->row[rtx].retransmissions, 1);
    /* Congestion control's view: the initial window (RFC 6928) until the
     * timeout; then ssthresh = max(FlightSize / 2, 2 * SMSS) and cwnd =
     * one segment, the loss window (RFC 5681 §3.1). */
    CHECK_EQ(r->row[send].cwnd, 10 * 1460);
    CHECK_EQ(r->row[send].ssthresh, USTACK_TRACE_SSTHRESH_NONE);
    CHECK_EQ(r->row[rtx].cwnd, 1460);
    CHECK_EQ(r->row[rtx].ssthresh, 2 * 1460);
    CHECK_EQ(r->row[rtx].snd_una - iss, 1);
    CHECK_EQ(r->row[rtx].snd_nxt - iss, 101);
    CHECK_EQ(r->row[rtx].conn_id, id);
    CHECK(!strcmp(r->state[rtx], "ESTABLISHED"));

    /* The ACK moves SND.UNA: an ACK row with nothing in flight. A
     * duplicate of it moves nothing: no row. */
    before = r->n;
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    int ack = find(r, before, USTACK_TRACE_ACK);
    REQUIRE(ack >= 0);
    CHECK_EQ(r->row[ack].snd_una - iss, 101);
    CHECK_EQ(r->row[ack].in_flight, 0);
    before = r->n;
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    CHECK_EQ(r->n, before);

    /* Time only moves rows forward. */
    for (size_t i = 1; i < r->n; i++)
        CHECK(r->row[i].time_us >= r->row[i - 1].time_us);
    CHECK_EQ(r->dropped, 0);
    ts_free(ts);
    /* Freeing the stack freed the connection: its last row says so. */
    REQUIRE(r->n > 0);
    CHECK_EQ(r->row[r->n - 1].event, USTACK_TRACE_END);
    CHECK_EQ(r->row[r->n - 1].conn_id, id);
    free(r);
}

TEST(tcp_trace_nothing_when_off)
{
    struct ts *ts = ts_new();
    struct rows *r = calloc(1, sizeof(*r));
    REQUIRE(r);
    int sd = traced_open(ts, r, 0);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t0 = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    ts_out_at(ts, t0 + 1 * SEC, "P?. 1:101(100) ack 1");
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    ts_close(ts, sd);
    CHECK_EQ(r->n, 0);
    ts_free(ts);
    CHECK_EQ(r->n, 0); /* no END row for a connection never traced */
    free(r);
}

TEST(tcp_trace_option_switches_it_on_and_off)
{
    struct ts *ts = ts_new();
    struct rows *r = calloc(1, sizeof(*r));
    REQUIRE(r);
    int sd = traced_open(ts, r, 0);
    CHECK_EQ(ustack_setsockopt(ts_stack(ts), sd, USTACK_TCP_TRACE, 2), -EINVAL);
    ts_setopt(ts, sd, USTACK_TCP_TRACE, 1);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    CHECK_EQ(r->n, 1); /* the first row of a connection traced mid-way */
    CHECK_EQ(r->row[0].event, USTACK_TRACE_SEND);
    ts_setopt(ts, sd, USTACK_TCP_TRACE, 0);
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    CHECK_EQ(r->n, 1);
    ts_free(ts);
    free(r);
}

TEST(tcp_trace_all_without_option)
{
    struct ts *ts = ts_new();
    struct rows *r = calloc(1, sizeof(*r));
    REQUIRE(r);
    ustack_set_trace_all(ts_stack(ts), true);
    int sd = traced_open(ts, r, 0);
    CHECK(r->n >= 2);
    size_t before = r->n;
    /* No sink: no rows, even for traced connections. */
    ustack_set_trace_sink(ts_stack(ts), NULL, NULL);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    ts_out(ts, "P. 1:101(100) ack 1");
    CHECK_EQ(r->n, before);
    ts_free(ts);
    free(r);
}
