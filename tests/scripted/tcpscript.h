/*
 * tcpscript: packetdrill-style scripted-segment tests for ustack's TCP.
 *
 * One stack "under test" (10.0.0.2, MTU 1500, fixed secret) sits on one end
 * of an in-memory link pair; the test plays the remote peer 10.0.0.1 on the
 * other end. Time is virtual (microseconds) and moves only when the script
 * says so. Segments are written in a short tcpdump-like syntax:
 *
 *   ts_in(ts,  "S 0:0(0) win 65535 <mss 1460>");     peer -> stack
 *   ts_out(ts, "S. 0:0(0) ack 1 win * <mss 1460>");   stack -> peer, exact
 *   ts_in(ts,  ". 1:1(0) ack 1 win 65535");
 *   ts_in(ts,  "P. 1:101(100) ack 1 win 65535");
 *   ts_out_within(ts, 500, ". 1:1(0) ack 101");       delayed ACK allowed
 *   ts_out_none(ts);                                  nothing was sent
 *
 * Line syntax:  FLAGS SEQ:END(LEN) [ack N] [win N] [urg N] [doff N] [<OPTS>]
 *
 *   FLAGS  S F R P U E W (SYN FIN RST PSH URG ECE CWR) and '.' for ACK, in
 *          any order. In expected lines a flag followed by '?' may be either
 *          set or clear ("P?." = ACK, PSH optional); every other flag must
 *          match exactly.
 *   Numbers are relative to the ISN of the side that owns them, as in
 *          packetdrill: SEQ/END of peer lines to the peer's ISN, of stack
 *          lines to the stack's ISS; "ack" the other way round. "@N" is an
 *          absolute value, "*" (expected lines only) matches anything.
 *          LEN is the payload length (SYN and FIN not counted); the payload
 *          of peer segments is generated from the sequence numbers, and the
 *          payload of stack segments is checked against what ts_send()
 *          wrote, byte for byte.
 *   Omitted in an expected line: ack/win/urg are not checked; omitted
 *          <OPTS> means "no options" (NOP/EOL padding aside).
 *   OPTS   comma separated: mss N, nop, eol, wscale N, sackOK,
 *          ts VAL ECR, raw XX XX ... (hex bytes, written as they are);
 *          in expected lines "..." allows further options and "*" any,
 *          and "ts val * ecr N" (or "ts * N", either value) matches any
 *          TSval (the stack's timestamp clock has a secret offset).
 *          Options of peer lines are padded with zero bytes (EOL) to a
 *          multiple of 4.
 *   doff N (peer lines) writes N into the data offset field whatever the
 *          real header length is: for malformed-segment tests.
 *
 * The stack's ISS is learned from the first SYN it sends on a flow (so
 * SYN-ACKs from SYN cookies work too), or fixed beforehand with
 * ts_set_stack_iss(). Segment checks also verify the IPv4 header, both
 * checksums and the ports of the current flow.
 *
 * On the first mismatch the test fails with the expected and the actual
 * segment in this syntax plus file:line, and every later ts_* call of that
 * script does nothing (like packetdrill, a script stops at its first error).
 */
#ifndef USTACK_TESTS_TCPSCRIPT_H
#define USTACK_TESTS_TCPSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ustack/socket.h"
#include "ustack/ustack.h"

#define TS_STACK_ADDR 0x0a000002u /* 10.0.0.2, the stack under test */
#define TS_PEER_ADDR 0x0a000001u  /* 10.0.0.1, played by the script */
#define TS_MTU 1500
#define TS_MSS (TS_MTU - 40) /* what the stack should announce */
#define TS_STACK_PORT 8080   /* port the helpers listen on */
#define TS_PEER_PORT 40000   /* peer port of the first flow */
#define TS_PEER_ISN 0x2d00a000u

/* Time tolerance for "exactly after N ms" expectations (timer slack). */
#define TS_SLACK_MS 10

/* TCP header flag bits. */
#define TS_FIN 0x01
#define TS_SYN 0x02
#define TS_RST 0x04
#define TS_PSH 0x08
#define TS_ACK 0x10
#define TS_URG 0x20
#define TS_ECE 0x40
#define TS_CWR 0x80

/* ---- Parsed lines (exposed for the framework's self-tests) -------------- */

enum ts_num_kind { TS_NONE, TS_REL, TS_ABS, TS_ANY };

struct ts_num {
    enum ts_num_kind kind;
    uint32_t v;
};

#define TS_OPTS_MAX 40

struct ts_line {
    uint8_t flags;     /* flags that must be set */
    uint8_t flags_opt; /* flags that may be either */
    struct ts_num seq, end, len;
    struct ts_num ack, win, urg;
    int doff;          /* data offset override in words, -1 = none */
    bool has_opts;     /* <...> written */
    bool opts_any;     /* <*> */
    bool opts_more;    /* "..." inside <...> */
    uint8_t opts[TS_OPTS_MAX]; /* option bytes as written (unpadded) */
    uint8_t opts_any_byte[TS_OPTS_MAX]; /* 1: that byte matches anything */
    size_t opts_len;
};

/* Parse one line. 0 on success, -1 with a reason in err. */
int ts_parse_line(const char *text, struct ts_line *out, char *err, size_t errlen);

/* A segment taken apart (host byte order). */
struct ts_seg {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t doff; /* header length in bytes */
    uint8_t flags;
    uint16_t win, urg;
    const uint8_t *opts;
    size_t opts_len;
    const uint8_t *data;
    size_t data_len;
};

/* Split a TCP header + payload (len bytes). -1 when it cannot be parsed. */
int ts_seg_parse(const uint8_t *tcp, size_t len, struct ts_seg *out);

/* The sequence bases of one connection as the script sees it. */
struct ts_flow {
    uint16_t peer_port;
    uint16_t stack_port;  /* 0 until learned (active open, ephemeral) */
    uint32_t peer_isn;    /* absolute ISN of the peer side */
    uint32_t stack_isn;   /* absolute ISS of the stack, when known */
    bool stack_isn_known;
    uint32_t app_sent;    /* bytes written by ts_send() */
    uint32_t app_read;    /* bytes read by ts_recv_data() */
    uint16_t stack_win;   /* window field of the last matched stack segment */
};

/* Build the TCP header + payload for a peer line on flow f (checksum for
 * TS_PEER_ADDR -> TS_STACK_ADDR filled in). Returns the length, or 0 on a
 * line that cannot be built, with a reason in err. */
size_t ts_build_seg(const struct ts_line *l, const struct ts_flow *f,
                    uint8_t *buf, size_t cap, char *err, size_t errlen);

/* Does the stack segment s (checksums already verified) match expected
 * line l on flow f? f's ISS is learned from a SYN when not yet known. On a
 * mismatch, why names the field. */
bool ts_seg_match(const struct ts_line *l, struct ts_flow *f,
                  const struct ts_seg *s, char *why, size_t whylen);

/* Write s in the line syntax, relative to f (NULL: absolute). */
void ts_seg_format(const struct ts_seg *s, const struct ts_flow *f,
                   bool from_stack, char *buf, size_t cap);

/* The payload byte at relative sequence number k of each direction. */
uint8_t ts_peer_byte(uint32_t k);
uint8_t ts_stack_byte(uint32_t k);

/* ---- The script --------------------------------------------------------- */

struct ts;

/* The configuration ts_new() uses: 10.0.0.2/24, fixed secret, RFC 6298
 * RTO values (initial and minimum 1 s), project defaults elsewhere. Tweak it (e.g. cfg.tcp.msl_ms) and pass it to ts_new_with(). */
void ts_config_default(struct ustack_config *cfg);
struct ts *ts_new(void);
struct ts *ts_new_with(const struct ustack_config *cfg);
void ts_free(struct ts *ts);

struct ustack *ts_stack(struct ts *ts);
bool ts_failed(const struct ts *ts);
uint64_t ts_now_us(const struct ts *ts);

/* Select the flow whose peer port is peer_port (created on first use, with
 * TS_PEER_ISN + a per-flow offset as its ISN). A new script starts on
 * TS_PEER_PORT. */
void ts_flow(struct ts *ts, uint16_t peer_port);
struct ts_flow *ts_cur(struct ts *ts);
/* Set the current flow's peer ISN (before its first SYN). */
void ts_set_peer_isn(struct ts *ts, uint32_t isn);
/* Fix the ISS of the stack's next connection (tcp_debug_set_next_iss) and
 * use it as the current flow's base. False when the stack has no such hook. */
bool ts_set_stack_iss(struct ts *ts, uint32_t iss);

/* Start a new connection on the current flow (same ports): forget the
 * stack's ISS and the byte counters, and use peer_isn from now on. */
void ts_flow_restart(struct ts *ts, uint32_t peer_isn);

/* The last stack segment matched by ts_out*() (for ad-hoc checks), and the
 * virtual time at which it was taken from the wire. */
const struct ts_seg *ts_last(const struct ts *ts);
uint64_t ts_last_time(const struct ts *ts);

/* printf into one of a few rotating buffers owned by ts, for lines with
 * computed numbers: ts_in(ts, ts_fmt(ts, ". %u:%u(0) ack 1", a, a)). */
const char *ts_fmt(struct ts *ts, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define TS_AT const char *file, int line
#define TS_HERE __FILE__, __LINE__

void ts_in_(struct ts *ts, TS_AT, const char *text);
void ts_out_(struct ts *ts, TS_AT, const char *text);
void ts_out_within_(struct ts *ts, TS_AT, unsigned ms, const char *text);
void ts_out_after_(struct ts *ts, TS_AT, unsigned ms, const char *text);
void ts_out_at_(struct ts *ts, TS_AT, uint64_t when_us, const char *text);
int ts_out_oneof_(struct ts *ts, TS_AT, const char *const *texts, int n);
void ts_out_none_(struct ts *ts, TS_AT);
void ts_none_for_(struct ts *ts, TS_AT, unsigned ms);
bool ts_out_maybe_(struct ts *ts, TS_AT, const char *text);
int ts_out_count_(struct ts *ts, TS_AT, const char *text);
void ts_advance_(struct ts *ts, TS_AT, unsigned ms);
void ts_advance_us_(struct ts *ts, TS_AT, uint64_t us);
void ts_advance_to_(struct ts *ts, TS_AT, uint64_t when_us);
void ts_in_tcp_(struct ts *ts, TS_AT, const uint8_t *tcp, size_t len, unsigned flags);
size_t ts_build_(struct ts *ts, TS_AT, const char *text, uint8_t *buf, size_t cap);
void ts_fail_(struct ts *ts, TS_AT, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Feed a peer segment. */
#define ts_in(ts, text) ts_in_(ts, TS_HERE, text)
/* Expect the stack to have sent exactly this segment, now. */
#define ts_out(ts, text) ts_out_(ts, TS_HERE, text)
/* Expect it within ms milliseconds (strictly less; time advances through
 * the stack's timers and stops when the segment appears). */
#define ts_out_within(ts, ms, text) ts_out_within_(ts, TS_HERE, ms, text)
/* Expect nothing for ms - 1 ms, then the segment at ms (+ TS_SLACK_MS). */
#define ts_out_after(ts, ms, text) ts_out_after_(ts, TS_HERE, ms, text)
/* Expect nothing before absolute time when_us, then the segment at when_us
 * (+ TS_SLACK_MS): for retransmissions timed from an earlier segment. */
#define ts_out_at(ts, when_us, text) ts_out_at_(ts, TS_HERE, when_us, text)
/* Where the RFCs allow several answers: the next segment must match one of
 * the lines (the string "none" matches "nothing was sent"). Returns the
 * index of the line that matched, -1 on failure. */
#define ts_out_oneof(ts, ...)                                                 \
    ts_out_oneof_(ts, TS_HERE, (const char *const[]){__VA_ARGS__},            \
                  (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))
/* Expect that nothing is waiting to be read from the stack. */
#define ts_out_none(ts) ts_out_none_(ts, TS_HERE)
/* Advance ms milliseconds and expect nothing sent meanwhile. */
#define ts_none_for(ts, ms) ts_none_for_(ts, TS_HERE, ms)
/* If a segment is waiting, it must match; returns whether there was one. */
#define ts_out_maybe(ts, text) ts_out_maybe_(ts, TS_HERE, text)
/* Consume every waiting segment; each must match. Returns how many. */
#define ts_out_count(ts, text) ts_out_count_(ts, TS_HERE, text)
#define ts_advance(ts, ms) ts_advance_(ts, TS_HERE, ms)
#define ts_advance_us(ts, us) ts_advance_us_(ts, TS_HERE, us)
/* Advance to absolute virtual time when_us (fails if that is in the past). */
#define ts_advance_to(ts, when_us) ts_advance_to_(ts, TS_HERE, when_us)
/* Raw segments: tcp is a TCP header + payload; the framework adds the IP
 * header and, unless TS_RAW_KEEP_CSUM, fixes the TCP checksum;
 * TS_RAW_BAD_CSUM then breaks it. */
#define TS_RAW_KEEP_CSUM 0x1
#define TS_RAW_BAD_CSUM 0x2
#define ts_in_tcp(ts, tcp, len, flags) ts_in_tcp_(ts, TS_HERE, tcp, len, flags)
/* Build the bytes of a peer line for the current flow, to modify and feed
 * with ts_in_tcp(). Returns the length (0 on failure). */
#define ts_build(ts, text, buf, cap) ts_build_(ts, TS_HERE, text, buf, cap)
#define ts_fail(ts, ...) ts_fail_(ts, TS_HERE, __VA_ARGS__)

/* ---- Application side (event API) ---------------------------------------- */

int ts_listen_(struct ts *ts, TS_AT, uint16_t port, int backlog);
int ts_accept_(struct ts *ts, TS_AT, int lsd);
void ts_accept_none_(struct ts *ts, TS_AT, int lsd);
int ts_socket_(struct ts *ts, TS_AT);
int ts_connect_(struct ts *ts, TS_AT, int sd, uint16_t local_port, uint16_t peer_port);
ssize_t ts_send_(struct ts *ts, TS_AT, int sd, size_t n);
void ts_recv_data_(struct ts *ts, TS_AT, int sd, size_t n);
void ts_recv_none_(struct ts *ts, TS_AT, int sd);
void ts_recv_eof_(struct ts *ts, TS_AT, int sd);
void ts_recv_err_(struct ts *ts, TS_AT, int sd, int err);
void ts_shutdown_(struct ts *ts, TS_AT, int sd, int how);
void ts_close_(struct ts *ts, TS_AT, int sd);
void ts_setopt_(struct ts *ts, TS_AT, int sd, int opt, int value);
int ts_so_error_(struct ts *ts, TS_AT, int sd);
unsigned ts_events_(struct ts *ts, TS_AT, int sd);
int ts_poll_(struct ts *ts, TS_AT, int sd);
uint64_t ts_stat_(struct ts *ts, TS_AT, const char *name);
bool ts_has_stat(const char *name);

/* socket + bind(port) + listen(backlog) on the stack; returns the sd. */
#define ts_listen(ts, port, backlog) ts_listen_(ts, TS_HERE, port, backlog)
/* accept must succeed; the new sd is tied to the flow of its peer port. */
#define ts_accept(ts, lsd) ts_accept_(ts, TS_HERE, lsd)
#define ts_accept_none(ts, lsd) ts_accept_none_(ts, TS_HERE, lsd)
/* A fresh stream socket (to set options before connect). */
#define ts_socket(ts) ts_socket_(ts, TS_HERE)
/* bind(local_port, 0 = ephemeral) + connect to the peer on the current
 * flow, whose peer port becomes peer_port; expects -EINPROGRESS. */
#define ts_connect(ts, sd, local_port, peer_port) \
    ts_connect_(ts, TS_HERE, sd, local_port, peer_port)
/* Write n pattern bytes; returns what the stack accepted (>= 0) or -errno. */
#define ts_send(ts, sd, n) ts_send_(ts, TS_HERE, sd, n)
/* Read exactly n bytes and check them against what the peer sent. */
#define ts_recv_data(ts, sd, n) ts_recv_data_(ts, TS_HERE, sd, n)
#define ts_recv_none(ts, sd) ts_recv_none_(ts, TS_HERE, sd)
#define ts_recv_eof(ts, sd) ts_recv_eof_(ts, TS_HERE, sd)
#define ts_recv_err(ts, sd, err) ts_recv_err_(ts, TS_HERE, sd, err)
#define ts_shutdown(ts, sd, how) ts_shutdown_(ts, TS_HERE, sd, how)
#define ts_close(ts, sd) ts_close_(ts, TS_HERE, sd)
#define ts_setopt(ts, sd, opt, value) ts_setopt_(ts, TS_HERE, sd, opt, value)
/* USTACK_SO_ERROR (reading clears it). */
#define ts_so_error(ts, sd) ts_so_error_(ts, TS_HERE, sd)
#define ts_events(ts, sd) ts_events_(ts, TS_HERE, sd)
/* ustack_poll(): the events it reports for sd, or -1 when sd is not in
 * the list of changed sockets. (Other sockets' reports are dropped.) */
#define ts_poll(ts, sd) ts_poll_(ts, TS_HERE, sd)
/* A counter by its printed name, e.g. "tcp.rx". Fails if unknown. */
#define ts_stat(ts, name) ts_stat_(ts, TS_HERE, name)

/* Expect a condition about the script's state; on failure the script stops
 * like on a segment mismatch. */
#define TS_CHECK(ts, cond)                                                    \
    do {                                                                      \
        if (!ts_failed(ts) && !(cond))                                        \
            ts_fail(ts, "TS_CHECK(%s)", #cond);                               \
    } while (0)
#define TS_CHECK_EQ(ts, a, b)                                                 \
    do {                                                                      \
        long long ts_a_ = (long long)(a), ts_b_ = (long long)(b);             \
        if (!ts_failed(ts) && ts_a_ != ts_b_)                                 \
            ts_fail(ts, "TS_CHECK_EQ(%s, %s): %lld != %lld", #a, #b, ts_a_,   \
                    ts_b_);                                                   \
    } while (0)

/* ---- Common openings ------------------------------------------------------ */

/* Listen on TS_STACK_PORT (backlog 16), complete a handshake from the
 * current flow (peer SYN with <mss 1460>, window 65535) and accept it.
 * Returns the connected sd; *lsd (optional) gets the listener. */
int ts_passive_open_(struct ts *ts, TS_AT, int *lsd);
#define ts_passive_open(ts, lsd) ts_passive_open_(ts, TS_HERE, lsd)
/* Connect from local port 50000 to the current flow's peer port,
 * answer SYN-ACK (<mss 1460>, window 65535) and expect the ACK. sd is a
 * socket prepared by the caller (options set), or -1 for a fresh one. */
int ts_active_open_(struct ts *ts, TS_AT, int sd);
#define ts_active_open(ts) ts_active_open_(ts, TS_HERE, -1)
#define ts_active_open_on(ts, sd) ts_active_open_(ts, TS_HERE, sd)

#endif
