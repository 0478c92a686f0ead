/*
 * Self-tests of the tcpscript framework: the line parser, the segment
 * builder, the matcher and the formatter. They need no TCP at all, so they
 * pin down the framework before any suite relies on it.
 */
#include <string.h>

#include "tcpscript.h"
#include "test.h"

static struct ts_line parse_ok(const char *text)
{
    struct ts_line l;
    char err[160] = "";
    if (ts_parse_line(text, &l, err, sizeof(err)) < 0)
        test_fail(__FILE__, __LINE__, "\"%s\" did not parse: %s", text, err);
    return l;
}

TEST(test_tcp_script_parse_fields)
{
    struct ts_line l = parse_ok("S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>");
    CHECK_EQ(l.flags, TS_SYN | TS_ACK);
    CHECK_EQ(l.flags_opt, 0);
    CHECK_EQ(l.seq.kind, TS_REL);
    CHECK_EQ(l.seq.v, 0);
    CHECK_EQ(l.len.v, 0);
    CHECK_EQ(l.ack.kind, TS_REL);
    CHECK_EQ(l.ack.v, 1);
    CHECK_EQ(l.win.v, 65535);
    CHECK_EQ(l.urg.kind, TS_NONE);
    CHECK(l.has_opts);
    const uint8_t opts[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7};
    CHECK_EQ(l.opts_len, sizeof(opts));
    CHECK_MEM(l.opts, opts, sizeof(opts));

    l = parse_ok("FP?.  100:300(200)  ack @4294967295 win * <*>");
    CHECK_EQ(l.flags, TS_FIN | TS_ACK);
    CHECK_EQ(l.flags_opt, TS_PSH);
    CHECK_EQ(l.end.v, 300);
    CHECK_EQ(l.len.v, 200);
    CHECK_EQ(l.ack.kind, TS_ABS);
    CHECK_EQ(l.ack.v, 0xffffffffu);
    CHECK_EQ(l.win.kind, TS_ANY);
    CHECK(l.opts_any);

    l = parse_ok("R. @0:@0(0) ack -499 doff 3 <raw fd 04 aa bb, ts val 7 ecr 9, ...>");
    CHECK_EQ(l.flags, TS_RST | TS_ACK);
    CHECK_EQ(l.seq.kind, TS_ABS);
    CHECK_EQ(l.ack.v, (uint32_t)-499);
    CHECK_EQ(l.doff, 3);
    CHECK(l.opts_more);
    const uint8_t raw[] = {0xfd, 4, 0xaa, 0xbb, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9};
    CHECK_EQ(l.opts_len, sizeof(raw));
    CHECK_MEM(l.opts, raw, sizeof(raw));

    l = parse_ok("URPEW 5:5(0) urg 3");
    CHECK_EQ(l.flags, TS_URG | TS_RST | TS_PSH | TS_ECE | TS_CWR);
    CHECK_EQ(l.urg.v, 3);
}

TEST(test_tcp_script_parse_rejects_bad_lines)
{
    static const char *const bad[] = {
        "",                          /* no flags */
        "X 0:0(0)",                  /* unknown flag */
        "S 0:5(3)",                  /* END - SEQ != LEN */
        "S 0:0",                     /* no LEN */
        "S 0:0(0) ack",              /* number missing */
        "S 0:0(0) win 70000",        /* does not fit */
        "S 0:0(0) bogus 1",          /* unknown word */
        "S 0:0(0) <mss 1460",        /* unterminated options */
        "S 0:0(0) <mss>",            /* option without value */
        "S 0:0(0) <raw zz>",         /* bad hex */
        "S 0:0(0) <frob 1>",         /* unknown option */
        "S 0:0(@3)",                 /* absolute length */
        "S 0:0(0) doff 16",          /* too large */
        "S 0:0(0) <mss 1460> ack 1", /* options must come last */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ts_line l;
        char err[160] = "";
        if (ts_parse_line(bad[i], &l, err, sizeof(err)) == 0)
            test_fail(__FILE__, __LINE__, "\"%s\" parsed but should not", bad[i]);
        else if (!err[0])
            test_fail(__FILE__, __LINE__, "\"%s\" rejected without a reason", bad[i]);
    }
}

/* Independent checksum for verifying the builder. */
static uint16_t csum(const uint8_t *tcp, size_t len, uint32_t src, uint32_t dst)
{
    uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)len;
    for (size_t i = 0; i < len; i++)
        s += (i & 1) ? tcp[i] : (uint32_t)tcp[i] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static struct ts_flow test_flow(void)
{
    struct ts_flow f;
    memset(&f, 0, sizeof(f));
    f.peer_port = 40000;
    f.stack_port = 8080;
    f.peer_isn = 0xfffffff0u; /* so relative numbers wrap */
    f.stack_isn = 1000;
    f.stack_isn_known = true;
    return f;
}

TEST(test_tcp_script_build_peer_segment)
{
    struct ts_flow f = test_flow();
    struct ts_line l = parse_ok("P. 10:30(20) ack 5 win 1234 <mss 536,nop>");
    uint8_t buf[200];
    char err[160] = "";
    size_t n = ts_build_seg(&l, &f, buf, sizeof(buf), err, sizeof(err));
    REQUIRE(n == 20 + 8 + 20); /* 5 option bytes padded to 8 */
    struct ts_seg s;
    REQUIRE(ts_seg_parse(buf, n, &s) == 0);
    CHECK_EQ(s.sport, 40000);
    CHECK_EQ(s.dport, 8080);
    CHECK_EQ(s.seq, 0xfffffff0u + 10); /* 0xfffffffa */
    CHECK_EQ(s.ack, 1005);
    CHECK_EQ(s.flags, TS_PSH | TS_ACK);
    CHECK_EQ(s.win, 1234);
    CHECK_EQ(s.doff, 28);
    const uint8_t opts[] = {2, 4, 0x02, 0x18, 1, 0, 0, 0};
    CHECK_MEM(s.opts, opts, sizeof(opts));
    CHECK_EQ(s.data_len, 20);
    for (uint32_t i = 0; i < 20; i++)
        CHECK_EQ(s.data[i], ts_peer_byte(10 + i));
    CHECK_EQ(csum(buf, n, TS_PEER_ADDR, TS_STACK_ADDR), 0);

    /* SYN data starts one after the SYN; doff override is written as is. */
    l = parse_ok("S 0:3(3) doff 15");
    n = ts_build_seg(&l, &f, buf, sizeof(buf), err, sizeof(err));
    REQUIRE(n == 23);
    CHECK_EQ(buf[12] >> 4, 15);
    CHECK_EQ(buf[20], ts_peer_byte(1));
    CHECK_EQ(csum(buf, n, TS_PEER_ADDR, TS_STACK_ADDR), 0);

    /* Wildcards cannot be sent. */
    l = parse_ok(". 1:1(0) ack *");
    CHECK_EQ(ts_build_seg(&l, &f, buf, sizeof(buf), err, sizeof(err)), 0);
    CHECK(err[0] != 0);
}

/* A segment as the stack would send it on test_flow(). */
static size_t stack_seg(uint8_t *buf, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                        const uint8_t *opts, size_t optlen, size_t datalen)
{
    size_t hdr = 20 + optlen;
    memset(buf, 0, hdr);
    buf[0] = 8080 >> 8, buf[1] = 8080 & 255;
    buf[2] = 40000 >> 8, buf[3] = 40000 & 255;
    for (int i = 0; i < 4; i++) {
        buf[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        buf[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    buf[12] = (uint8_t)(hdr / 4 << 4);
    buf[13] = flags;
    buf[14] = (uint8_t)(win >> 8), buf[15] = (uint8_t)win;
    if (optlen)
        memcpy(buf + 20, opts, optlen);
    uint32_t first = seq - 1000 + ((flags & TS_SYN) ? 1u : 0u);
    for (size_t i = 0; i < datalen; i++)
        buf[hdr + i] = ts_stack_byte(first + (uint32_t)i);
    return hdr + datalen;
}

static bool matches(const char *text, struct ts_flow *f, const uint8_t *seg, size_t n,
                    char *why, size_t whylen)
{
    struct ts_line l = parse_ok(text);
    struct ts_seg s;
    if (ts_seg_parse(seg, n, &s) < 0)
        return false;
    why[0] = 0;
    return ts_seg_match(&l, f, &s, why, whylen);
}

TEST(test_tcp_script_match_and_mismatch)
{
    struct ts_flow f = test_flow();
    uint8_t seg[200];
    char why[160];
    const uint8_t mss[] = {2, 4, 0x05, 0xb4};
    const uint8_t mss_ws[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7};
    /* ACK of 100 peer bytes (peer ISN 0xfffffff0: the ack field wraps). */
    size_t n = stack_seg(seg, 1001, 0xfffffff0u + 101, TS_ACK, 5000, NULL, 0, 0);
    CHECK(matches(". 1:1(0) ack 101 win 5000", &f, seg, n, why, sizeof(why)));
    CHECK(matches(". 1:1(0) ack 101", &f, seg, n, why, sizeof(why)));
    CHECK(matches(". *:*(0) ack * win *", &f, seg, n, why, sizeof(why)));
    CHECK(matches("P?. 1:1(0) ack 101", &f, seg, n, why, sizeof(why)));
    CHECK(!matches(". 1:1(0) ack 100", &f, seg, n, why, sizeof(why)));
    CHECK(!strcmp(why, "ack"));
    CHECK(!matches(". 1:1(0) ack 101 win 4999", &f, seg, n, why, sizeof(why)));
    CHECK(!strcmp(why, "win"));
    CHECK(!matches("P. 1:1(0) ack 101", &f, seg, n, why, sizeof(why)));
    CHECK(!strcmp(why, "flags"));
    CHECK(!matches(". 2:2(0) ack 101", &f, seg, n, why, sizeof(why)));
    CHECK(!strcmp(why, "seq"));
    CHECK(!matches(". 1:1(0) ack 101 <mss 1460>", &f, seg, n, why, sizeof(why)));

    /* Options: exact, "...", and unexpected extras. */
    n = stack_seg(seg, 1000, 0, TS_SYN, 100, mss_ws, sizeof(mss_ws), 0);
    CHECK(matches("S 0:0(0) <mss 1460, ...>", &f, seg, n, why, sizeof(why)));
    CHECK(matches("S 0:0(0) <wscale 7, mss 1460>", &f, seg, n, why, sizeof(why)));
    CHECK(!matches("S 0:0(0) <mss 1460>", &f, seg, n, why, sizeof(why)));
    CHECK(!matches("S 0:0(0)", &f, seg, n, why, sizeof(why)));
    CHECK(!matches("S 0:0(0) <mss 536, ...>", &f, seg, n, why, sizeof(why)));
    n = stack_seg(seg, 1000, 0, TS_SYN, 100, mss, sizeof(mss), 0);
    CHECK(matches("S 0:0(0) <mss 1460>", &f, seg, n, why, sizeof(why)));
    /* "ts val *": any TSval, the echo still checked (and the other way). */
    const uint8_t mss_ts[] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7};
    n = stack_seg(seg, 1000, 0, TS_SYN, 100, mss_ts, sizeof(mss_ts), 0);
    CHECK(matches("S 0:0(0) <mss 1460, ts val * ecr 7>", &f, seg, n, why, sizeof(why)));
    CHECK(matches("S 0:0(0) <mss 1460, ts 0xdeadbeef *>", &f, seg, n, why, sizeof(why)));
    CHECK(!matches("S 0:0(0) <mss 1460, ts val * ecr 8>", &f, seg, n, why, sizeof(why)));
    CHECK(!matches("S 0:0(0) <mss 1460, ts val 1 ecr *>", &f, seg, n, why, sizeof(why)));

    /* Payload: what the app wrote passes, a changed byte does not. */
    n = stack_seg(seg, 1001, 0xfffffff0u + 1, TS_ACK | TS_PSH, 5000, NULL, 0, 50);
    CHECK(matches("P. 1:51(50) ack 1", &f, seg, n, why, sizeof(why)));
    CHECK(!matches("P. 1:41(40) ack 1", &f, seg, n, why, sizeof(why)));
    seg[20 + 17] ^= 1;
    CHECK(!matches("P. 1:51(50) ack 1", &f, seg, n, why, sizeof(why)));
    CHECK(strstr(why, "payload byte 17") != NULL);

    /* Wrong port. */
    n = stack_seg(seg, 1001, 0xfffffff0u + 1, TS_ACK, 5000, NULL, 0, 0);
    seg[3] ^= 1;
    CHECK(!matches(". 1:1(0) ack 1", &f, seg, n, why, sizeof(why)));
    CHECK(strstr(why, "ports") != NULL);
}

TEST(test_tcp_script_learns_iss_from_syn)
{
    struct ts_flow f = test_flow();
    f.stack_isn_known = false;
    f.stack_isn = 0;
    uint8_t seg[100];
    char why[160];
    /* A mismatch must not teach anything. */
    size_t n = stack_seg(seg, 0x12345678u, 0xfffffff0u + 1, TS_SYN | TS_ACK, 1, NULL, 0, 0);
    CHECK(!matches("S. 0:0(0) ack 2", &f, seg, n, why, sizeof(why)));
    CHECK(!f.stack_isn_known);
    CHECK(matches("S. 0:0(0) ack 1", &f, seg, n, why, sizeof(why)));
    CHECK(f.stack_isn_known);
    CHECK_EQ(f.stack_isn, 0x12345678u);
    /* Later segments are relative to it; a different ISS in a SYN fails. */
    n = stack_seg(seg, 0x12345679u, 0xfffffff0u + 1, TS_ACK, 1, NULL, 0, 0);
    CHECK(matches(". 1:1(0) ack 1", &f, seg, n, why, sizeof(why)));
    n = stack_seg(seg, 0x12345670u, 0xfffffff0u + 1, TS_SYN | TS_ACK, 1, NULL, 0, 0);
    CHECK(!matches("S. 0:0(0) ack 1", &f, seg, n, why, sizeof(why)));
    CHECK(matches("S. @305419888:@305419888(0) ack 1", &f, seg, n, why, sizeof(why)));
}

TEST(test_tcp_script_format)
{
    struct ts_flow f = test_flow();
    uint8_t seg[100];
    const uint8_t mss[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};
    size_t n = stack_seg(seg, 1000, 0xfffffff0u + 1, TS_SYN | TS_ACK, 29200, mss, sizeof(mss), 0);
    struct ts_seg s;
    REQUIRE(ts_seg_parse(seg, n, &s) == 0);
    char buf[200];
    ts_seg_format(&s, &f, true, buf, sizeof(buf));
    CHECK(!strcmp(buf, "S. 0:0(0) ack 1 win 29200 <mss 1460,nop,nop,sackOK>"));
    /* What the formatter prints parses back to a line that matches. */
    struct ts_line l = parse_ok(buf);
    char why[160];
    CHECK(ts_seg_match(&l, &f, &s, why, sizeof(why)));

    n = stack_seg(seg, 77, 0, TS_RST, 0, NULL, 0, 0);
    REQUIRE(ts_seg_parse(seg, n, &s) == 0);
    ts_seg_format(&s, NULL, true, buf, sizeof(buf));
    CHECK(!strcmp(buf, "R @77:@77(0) win 0"));
}
