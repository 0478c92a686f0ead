/*
 * ICMP errors about our segments (src/tcp/tcp_icmp.c): path MTU discovery
 * (RFC 1191), soft and hard errors (RFC 1122 §4.2.3.9), and the blind
 * attack check on the quoted sequence number (RFC 5927 §4.1).
 *
 * The ICMP messages quote a segment the stack really sent: a tap on the
 * stack records every outgoing frame, and the test builds the error around
 * the recorded IP header and TCP header, as a router would. The same tap
 * shows the Don't Fragment bit of each segment.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "tcpscript.h"
#include "test.h"
#include "ustack/tcp_info.h"

#define SEC 1000000ull
#define ROUTER_ADDR 0x0a0000feu /* 10.0.0.254: a router on the path */

/* ---- A tap that remembers what the stack sent -------------------------------- */

#define CAP_FRAMES 64
#define CAP_BYTES 68 /* IP header + 48 bytes of TCP: more than any quote */

struct cap_frame {
    uint8_t b[CAP_BYTES];
    size_t len;       /* bytes kept */
    size_t total_len; /* the frame's length */
};

struct capture {
    struct cap_frame f[CAP_FRAMES]; /* the last CAP_FRAMES TCP frames out */
    unsigned count;
    unsigned tcp_out, tcp_out_df; /* TCP segments sent, ... with DF */
    size_t largest;               /* the largest IP packet sent */
};

static void cap_tap(void *ctx, enum ustack_dir dir, uint64_t now,
                    const void *frame, size_t len)
{
    struct capture *cap = ctx;
    const uint8_t *p = frame;
    (void)now;
    if (dir != USTACK_DIR_OUT || len < 40 || p[9] != 6)
        return;
    cap->tcp_out++;
    if (get_be16(p + 6) & 0x4000)
        cap->tcp_out_df++;
    if (len > cap->largest)
        cap->largest = len;
    struct cap_frame *f = &cap->f[cap->count++ % CAP_FRAMES];
    f->len = len < CAP_BYTES ? len : CAP_BYTES;
    f->total_len = len;
    memcpy(f->b, p, f->len);
}

/* The last recorded segment whose sequence number is seq (absolute). */
static const struct cap_frame *cap_find(const struct capture *cap, uint32_t seq)
{
    unsigned n = cap->count < CAP_FRAMES ? cap->count : CAP_FRAMES;
    for (unsigned i = 1; i <= n; i++) {
        const struct cap_frame *f = &cap->f[(cap->count - i) % CAP_FRAMES];
        if (get_be32(f->b + 20 + 4) == seq)
            return f;
    }
    return NULL;
}

static struct ts *new_ts_cap(struct capture *cap, unsigned data_retries)
{
    memset(cap, 0, sizeof(*cap));
    struct ustack_config cfg;
    ts_config_default(&cfg);
    cfg.tap = cap_tap;
    cfg.tap_ctx = cap;
    if (data_retries) {
        cfg.tcp.data_retries = data_retries;
        cfg.tcp.syn_retries = data_retries;
    }
    return ts_new_with(&cfg);
}

/* ---- ICMP errors -------------------------------------------------------------------- */

/* Send the stack an ICMP error from `from` quoting frame f (a segment it
 * sent): its IP header and quote_tcp bytes of TCP header (8 is RFC 792's
 * minimum). info: the 4 bytes after the checksum (the next-hop MTU in the
 * low 16 bits for "fragmentation needed"). */
static void icmp_quote(struct ts *ts, uint32_t from, uint8_t type, uint8_t code,
                       uint32_t info, const struct cap_frame *f, size_t quote_tcp)
{
    size_t quote = 20 + quote_tcp;
    uint8_t pkt[20 + 8 + CAP_BYTES];
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0x45;
    put_be16(pkt + 2, (uint16_t)(28 + quote));
    pkt[8] = 64;
    pkt[9] = 1; /* ICMP */
    put_be32(pkt + 12, from);
    put_be32(pkt + 16, TS_STACK_ADDR);
    put_be16(pkt + 10, cksum_finish(cksum_add(0, pkt, 20)));
    uint8_t *icmp = pkt + 20;
    icmp[0] = type;
    icmp[1] = code;
    put_be32(icmp + 4, info);
    memcpy(icmp + 8, f->b, quote);
    put_be16(icmp + 2, cksum_finish(cksum_add(0, icmp, 8 + quote)));
    ustack_input(ts_stack(ts), pkt, 28 + quote, ts_now_us(ts));
    ts_advance(ts, 0); /* run what the error scheduled */
}

/* The same about the last segment sent with relative sequence number
 * rel_seq on the current flow. */
static void icmp_about(struct ts *ts, const struct capture *cap, uint32_t from,
                       uint8_t type, uint8_t code, uint32_t info,
                       uint32_t rel_seq, size_t quote_tcp)
{
    const struct cap_frame *f = cap_find(cap, ts_cur(ts)->stack_isn + rel_seq);
    if (!f)
        ts_fail(ts, "no segment with relative seq %u was sent", rel_seq);
    else
        icmp_quote(ts, from, type, code, info, f, quote_tcp);
}

static void frag_needed(struct ts *ts, const struct capture *cap, uint16_t mtu,
                        uint32_t rel_seq)
{
    icmp_about(ts, cap, ROUTER_ADDR, 3, 4, mtu, rel_seq, 20);
}

static void take_info(void *ctx, const struct ustack_tcp_info *i)
{
    if (strcmp(i->state, "LISTEN") != 0)
        *(struct ustack_tcp_info *)ctx = *i;
}

/* The one connection that is not a listener, as observers see it. */
static struct ustack_tcp_info conn_info(struct ts *ts)
{
    struct ustack_tcp_info info;
    memset(&info, 0, sizeof(info));
    ustack_tcp_connections(ts_stack(ts), take_info, &info);
    return info;
}

/* A connection from the peer with <mss 1460>, Nagle off. */
static int open_conn(struct ts *ts)
{
    int sd = ts_passive_open(ts, NULL);
    ts_setopt(ts, sd, USTACK_TCP_NODELAY, 1);
    return sd;
}

/* ---- Fragmentation needed (RFC 1191) ----------------------------------------------- */

TEST(test_tcp_icmp_every_segment_has_df)
{
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 3000), 3000);
    ts_out(ts, ". 1:1461(1460) ack 1");
    ts_out(ts, ". 1461:2921(1460) ack 1");
    ts_out(ts, "P. 2921:3001(80) ack 1");
    ts_in(ts, ". 1:1(0) ack 3001 win 65535");
    ts_close(ts, sd);
    ts_out(ts, "F. 3001:3001(0) ack 1");
    /* SYN-ACK, data, FIN: all with DF (RFC 1191 §3). */
    TS_CHECK(ts, cap.tcp_out >= 5);
    TS_CHECK_EQ(ts, cap.tcp_out_df, cap.tcp_out);
    ts_free(ts);
}

TEST(test_tcp_icmp_frag_needed_lowers_mss_and_resends)
{
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 4380), 4380);
    ts_out(ts, ". 1:1461(1460) ack 1");
    ts_out(ts, ". 1461:2921(1460) ack 1");
    ts_out(ts, "P. 2921:4381(1460) ack 1");
    uint64_t rtx_before = ts_stat(ts, "tcp.retransmits");
    uint64_t rto_before = ts_stat(ts, "tcp.rto_expired");
    struct ustack_tcp_info before = conn_info(ts);
    /* 100 ms later a router with a 1280-byte next hop reports the first
     * one (1500 bytes, DF): the flight goes again at once, 1240 bytes a
     * segment (1280 - 40). */
    ts_advance(ts, 100);
    frag_needed(ts, &cap, 1280, 1);
    uint64_t t = ts_now_us(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_frag_needed"), 1);
    ts_out(ts, ". 1:1241(1240) ack 1");
    ts_out(ts, ". 1241:2481(1240) ack 1");
    ts_out(ts, ". 2481:3721(1240) ack 1");
    ts_out(ts, "P. 3721:4381(660) ack 1");
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.retransmits") - rtx_before, 4);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.rto_expired"), rto_before);
    /* No congestion response either: the router said why it dropped. */
    struct ustack_tcp_info after = conn_info(ts);
    TS_CHECK_EQ(ts, after.mss, 1240);
    TS_CHECK_EQ(ts, after.cwnd, before.cwnd);
    TS_CHECK_EQ(ts, after.rto_us, before.rto_us);
    /* Not a timeout: the RTO is not backed off, and the timer restarted
     * for the new copies (1 s from the resend, not from the first send). */
    ts_out_at(ts, t + 1 * SEC, ". 1:1241(1240) ack 1");
    ts_in(ts, ". 1:1(0) ack 4381 win 65535");
    /* New data is cut at the new size too, and goes with DF. */
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2000), 2000);
    ts_out(ts, ". 4381:5621(1240) ack 1");
    ts_out(ts, "P. 5621:6381(760) ack 1");
    TS_CHECK_EQ(ts, cap.tcp_out_df, cap.tcp_out);
    TS_CHECK(ts, cap.largest == 1500);
    ts_free(ts);
}

TEST(test_tcp_icmp_frag_needed_rfc792_router_uses_plateaus)
{
    /* A router that does not say its MTU (the field is 0): RFC 1191 §5,
     * the next plateau below the 1500 bytes we sent is 1492. */
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1460), 1460);
    ts_out(ts, "P. 1:1461(1460) ack 1");
    frag_needed(ts, &cap, 0, 1);
    ts_out(ts, ". 1:1453(1452) ack 1");
    ts_out(ts, "P. 1453:1461(8) ack 1");
    /* Still too big at the next router: 1492 -> 1006. */
    frag_needed(ts, &cap, 0, 1);
    ts_out(ts, ". 1:967(966) ack 1");
    ts_out(ts, "P. 967:1461(494) ack 1");
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_frag_needed"), 2);
    ts_free(ts);
}

TEST(test_tcp_icmp_frag_needed_never_raises_the_mss)
{
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2920), 2920);
    ts_out(ts, ". 1:1461(1460) ack 1");
    ts_out(ts, "P. 1461:2921(1460) ack 1");
    struct cap_frame first = *cap_find(&cap, ts_cur(ts)->stack_isn + 1);
    /* An MTU as large as the packet we sent describes no drop. */
    frag_needed(ts, &cap, 1500, 1);
    ts_out_none(ts);
    frag_needed(ts, &cap, 1000, 1461);
    ts_out(ts, ". 1:961(960) ack 1");
    ts_out(ts, ". 961:1921(960) ack 1");
    ts_out(ts, ". 1921:2881(960) ack 1");
    ts_out(ts, "P. 2881:2921(40) ack 1");
    /* A late report about the first 1500-byte copy, with an MTU above
     * what we use now: ignored, the MSS stays 960. */
    icmp_quote(ts, ROUTER_ADDR, 3, 4, 1400, &first, 20);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_frag_needed"), 1);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_frag_ignored"), 2);
    ts_in(ts, ". 1:1(0) ack 2921 win 65535");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1000), 1000);
    ts_out(ts, ". 2921:3881(960) ack 1");
    ts_out(ts, "P. 3881:3921(40) ack 1");
    ts_free(ts);
}

TEST(test_tcp_icmp_frag_needed_below_floor_clears_df)
{
    /* A (forged or real) tiny MTU: the MSS stops at 536 (576-byte
     * packets), and segments go without DF so routers may fragment. */
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1460), 1460);
    ts_out(ts, "P. 1:1461(1460) ack 1");
    unsigned df_before = cap.tcp_out_df;
    frag_needed(ts, &cap, 296, 1);
    ts_out(ts, ". 1:537(536) ack 1");
    ts_out(ts, ". 537:1073(536) ack 1");
    ts_out(ts, "P. 1073:1461(388) ack 1");
    TS_CHECK_EQ(ts, cap.tcp_out_df, df_before); /* none of the three */
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_pmtu_floor"), 1);
    /* An MTU of 68, the legal minimum, changes nothing more. */
    frag_needed(ts, &cap, 68, 1);
    ts_out_none(ts);
    ts_free(ts);
}

TEST(test_tcp_icmp_frag_needed_rfc792_minimum_quote)
{
    /* RFC 792 only promises the IP header and 8 bytes of ours: the ports
     * and the sequence number are all TCP needs. */
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1460), 1460);
    ts_out(ts, "P. 1:1461(1460) ack 1");
    icmp_about(ts, &cap, ROUTER_ADDR, 3, 4, 1400, 1, 8);
    ts_out(ts, ". 1:1361(1360) ack 1");
    ts_out(ts, "P. 1361:1461(100) ack 1");
    ts_free(ts);
}

/* ---- The blind attack check (RFC 5927 §4.1) ------------------------------------------ */

TEST(test_tcp_icmp_quoted_seq_outside_flight_ignored)
{
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1460), 1460);
    ts_out(ts, "P. 1:1461(1460) ack 1");
    ts_in(ts, ". 1:1(0) ack 1461 win 65535");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2920), 2920);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, ". 1461:2921(1460) ack 1");
    ts_out(ts, "P. 2921:4381(1460) ack 1");
    /* The first segment is acknowledged: below SND.UNA. */
    frag_needed(ts, &cap, 1280, 1);
    icmp_about(ts, &cap, ROUTER_ADDR, 3, 1, 0, 1, 20);
    /* Our pure ACKs carry SND.NXT, which is not in flight either. */
    ts_in(ts, "P. 1:11(10) ack 1461 win 65535");
    ts_out_within(ts, 100, ". 4381:4381(0) ack 11");
    frag_needed(ts, &cap, 1280, 4381);
    ts_out_none(ts);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_bad_seq"), 3);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_frag_needed"), 0);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_soft"), 0);
    /* A quote with a sequence number in flight but another peer port. */
    struct cap_frame other = *cap_find(&cap, ts_cur(ts)->stack_isn + 2921);
    put_be16(other.b + 20 + 2, TS_PEER_PORT + 1);
    icmp_quote(ts, ROUTER_ADDR, 3, 4, 1280, &other, 20);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_unmatched"), 1);
    ts_out_none(ts);
    /* Nothing changed: the retransmission is still 1460 bytes. */
    ts_out_at(ts, t + 1 * SEC, ". 1461:2921(1460) ack 11");
    ts_free(ts);
}

/* ---- Hard errors (RFC 1122 §4.2.3.9) ------------------------------------------------- */

TEST(test_tcp_icmp_port_unreachable_refuses_connect)
{
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    icmp_about(ts, &cap, TS_PEER_ADDR, 3, 3, 0, 0, 20);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), ECONNREFUSED);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_refused"), 1);
    ts_none_for(ts, 10000); /* no more SYNs */
    ts_free(ts);
}

TEST(test_tcp_icmp_port_unreachable_ends_half_open_child)
{
    /* Quoting our SYN-ACK: the half-open connection goes, the listener
     * takes the next SYN as usual. */
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    icmp_about(ts, &cap, TS_PEER_ADDR, 3, 2, 0, 0, 20);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_refused"), 1);
    ts_none_for(ts, 5000); /* no SYN-ACK retransmission */
    ts_accept_none(ts, lsd);
    ts_flow_restart(ts, TS_PEER_ISN + 1000000);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    ts_free(ts);
}

TEST(test_tcp_icmp_port_unreachable_established_is_soft)
{
    /* RFC 5927 §4.2: no abort once synchronized; if the connection times
     * out, it says why. */
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 2);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    icmp_about(ts, &cap, TS_PEER_ADDR, 3, 3, 0, 1, 20);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_hard_as_soft"), 1);
    TS_CHECK_EQ(ts, ts_events(ts, sd) & USTACK_EV_ERROR, 0);
    ts_out_at(ts, t + 1 * SEC, "P. 1:101(100) ack 1");
    ts_out_at(ts, t + 3 * SEC, "P. 1:101(100) ack 1");
    ts_advance_to(ts, t + 8 * SEC);
    ts_recv_err(ts, sd, ECONNREFUSED);
    ts_free(ts);
}

/* ---- Soft errors (RFC 1122 §4.2.3.9) ------------------------------------------------- */

TEST(test_tcp_icmp_host_unreachable_no_abort_then_timeout_reports_it)
{
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 2);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 100), 100);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, "P. 1:101(100) ack 1");
    icmp_about(ts, &cap, ROUTER_ADDR, 3, 1, 0, 1, 20);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_soft"), 1);
    /* The connection carries on as if nothing was said. */
    TS_CHECK_EQ(ts, ts_events(ts, sd) & USTACK_EV_ERROR, 0);
    ts_out_at(ts, t + 1 * SEC, "P. 1:101(100) ack 1");
    icmp_about(ts, &cap, ROUTER_ADDR, 11, 0, 0, 1, 20); /* time exceeded */
    icmp_about(ts, &cap, ROUTER_ADDR, 3, 1, 0, 1, 20);
    ts_out_at(ts, t + 3 * SEC, "P. 1:101(100) ack 1");
    /* Two retries: the third timeout (t + 7 s) gives up, and reports the
     * host unreachable rather than "timed out". */
    ts_advance_to(ts, t + 7 * SEC - 10000);
    TS_CHECK_EQ(ts, ts_events(ts, sd) & USTACK_EV_ERROR, 0);
    ts_advance_to(ts, t + 7 * SEC + 10000);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.timeout_aborts"), 1);
    ts_recv_err(ts, sd, EHOSTUNREACH);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_soft"), 3);
    ts_free(ts);
}

TEST(test_tcp_icmp_soft_error_forgotten_after_progress)
{
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 2);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 200), 200);
    ts_out(ts, "P. 1:201(200) ack 1");
    icmp_about(ts, &cap, ROUTER_ADDR, 3, 0, 0, 1, 20); /* net unreachable */
    /* The route came back: half of it is acknowledged. */
    ts_in(ts, ". 1:1(0) ack 101 win 65535");
    uint64_t t = ts_now_us(ts);
    ts_advance_to(ts, t + 60 * SEC);
    ts_recv_err(ts, sd, ETIMEDOUT);
    ts_free(ts);
}

TEST(test_tcp_icmp_host_unreachable_in_syn_sent_keeps_trying)
{
    /* Soft errors do not abort a connect() either (RFC 1122 §4.2.3.9);
     * when the SYN retries run out, connect() fails with the reason. */
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 2);
    int sd = ts_socket(ts);
    uint64_t t = ts_now_us(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    icmp_about(ts, &cap, ROUTER_ADDR, 3, 1, 0, 0, 20);
    TS_CHECK_EQ(ts, ts_events(ts, sd) & USTACK_EV_ERROR, 0);
    ts_out_at(ts, t + 1 * SEC, "S 0:0(0) <mss 1460, ...>");
    ts_out_at(ts, t + 3 * SEC, "S 0:0(0) <mss 1460, ...>");
    ts_advance_to(ts, t + 8 * SEC);
    TS_CHECK_EQ(ts, ts_so_error(ts, sd), EHOSTUNREACH);
    ts_free(ts);
}

TEST(test_tcp_icmp_frag_needed_about_syn_ignored)
{
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = ts_socket(ts);
    ts_connect(ts, sd, 50000, TS_PEER_PORT);
    ts_out(ts, "S 0:0(0) <mss 1460, ...>");
    frag_needed(ts, &cap, 40, 0);
    TS_CHECK_EQ(ts, ts_stat(ts, "tcp.icmp_frag_ignored"), 1);
    ts_in(ts, "S. 0:0(0) ack 1 win 65535 <mss 1460>");
    ts_out(ts, ". 1:1(0) ack 1");
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1460), 1460);
    ts_out(ts, "P. 1:1461(1460) ack 1");
    ts_free(ts);
}

TEST(test_tcp_icmp_frag_needed_after_a_timeout_resends_the_flight)
{
    /* The report comes only after the retransmission timer fired (the
     * router's ICMP answers are rate-limited): the flight goes again at
     * the new size, at once as far as the congestion window allows (after
     * the timeout, one segment), without waiting for the ACK that an
     * ordinary timeout waits for. */
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int sd = open_conn(ts);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 2920), 2920);
    uint64_t t = ts_now_us(ts);
    ts_out(ts, ". 1:1461(1460) ack 1");
    ts_out(ts, "P. 1461:2921(1460) ack 1");
    ts_out_at(ts, t + 1 * SEC, ". 1:1461(1460) ack 1");
    frag_needed(ts, &cap, 1280, 1);
    ts_out(ts, ". 1:1241(1240) ack 1");
    bool all = ts_out_maybe(ts, ". 1241:2481(1240) ack 1");
    if (all)
        ts_out(ts, "P. 2481:2921(440) ack 1");
    ts_out_none(ts);
    ts_in(ts, ". 1:1(0) ack 1241 win 65535");
    if (!all) {
        ts_out(ts, ". 1241:2481(1240) ack 1");
        ts_out(ts, "P. 2481:2921(440) ack 1");
    }
    ts_free(ts);
}

TEST(test_tcp_icmp_frag_needed_counts_timestamp_option)
{
    /* With timestamps on every segment (RFC 7323), 12 more bytes of the
     * path MTU go to the header: 1280 - 40 - 12 = 1228 bytes of data. */
    struct capture cap;
    struct ts *ts = new_ts_cap(&cap, 0);
    int lsd = ts_listen(ts, TS_STACK_PORT, 16);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460, nop, nop, ts 100 0>");
    ts_out(ts, "S. 0:0(0) ack 1 <*>");
    ts_in(ts, ". 1:1(0) ack 1 win 65535 <nop, nop, ts 101 0>");
    int sd = ts_accept(ts, lsd);
    TS_CHECK_EQ(ts, ts_send(ts, sd, 1448), 1448);
    ts_out(ts, "P. 1:1449(1448) ack 1 <*>");
    TS_CHECK_EQ(ts, cap.largest, 1500);
    frag_needed(ts, &cap, 1280, 1);
    ts_out(ts, ". 1:1229(1228) ack 1 <*>");
    ts_out(ts, "P. 1229:1449(220) ack 1 <*>");
    const struct cap_frame *f = cap_find(&cap, ts_cur(ts)->stack_isn + 1);
    TS_CHECK(ts, f && f->total_len == 1280); /* the path MTU exactly */
    ts_free(ts);
}
