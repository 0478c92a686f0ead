/*
 * IPv4 fragments: reassembly in every order, duplicates, overlaps, the
 * timeout (and its ICMP time exceeded), the memory and size limits; and
 * fragmentation on output at the MTU boundaries.
 *
 * The stack under test is 10.0.0.1 on a memlink (ip_fixture.h). Requests
 * are echo requests, so a reassembled datagram proves itself by the reply,
 * which the stack fragments in turn; collect_datagram() puts the reply's
 * fragments back together and checks every one of them.
 */
#include <errno.h>

#include "core/stack.h"
#include "ip_fixture.h"
#include "net/frag.h"
#include "net/icmp.h"
#include "net/ipv4.h"

#define BIG 65536

/* A stack like fx_open's, with reassembly limits of our choosing. */
static bool frag_open(struct ip_fixture *fx, unsigned mtu, const struct ustack_reasm_config *r)
{
    memset(fx, 0, sizeof(*fx));
    if (ustack_memlink_pair(USTACK_LINK_IP, mtu, 256, &fx->ours, &fx->peer) != 0)
        return false;
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = FX_ADDR;
    cfg.netmask = FX_MASK;
    cfg.has_secret = true;
    memset(cfg.secret, 0x5a, sizeof(cfg.secret));
    if (r)
        cfg.reasm = *r;
    fx->now = 1000000;
    fx->st = ustack_new(&cfg, fx->ours, fx->now);
    return fx->st != NULL;
}

/* The ICMP message of an echo request with `len` data bytes, a pattern
 * that depends on seq. Returns the message length. */
static size_t echo_msg(uint8_t *msg, uint16_t seq, size_t len)
{
    static uint8_t data[BIG];
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + seq + (i >> 8));
    return fx_build_icmp(msg, 8, 0, (uint32_t)0x4242 << 16 | seq, data, len);
}

/* One fragment of the datagram whose payload is msg: bytes [off, off+len),
 * MF as given, identification id. Returns the frame length. */
static size_t frag_frame(uint8_t *frame, uint16_t id, const uint8_t *msg, size_t off,
                         size_t len, bool more)
{
    size_t n = fx_build_ip(frame, FX_PEER, FX_ADDR, 1, msg + off, len);
    put_be16(frame + 4, id);
    put_be16(frame + 6, (uint16_t)((more ? IP4_FRAG_MF : 0) | off / 8));
    fx_fix_ip_checksum(frame);
    return n;
}

/* Feed fragment [off, off+len) of msg (msg_len bytes in all). */
static void feed(struct ip_fixture *fx, uint16_t id, const uint8_t *msg, size_t msg_len,
                 size_t off, size_t len)
{
    static uint8_t frame[BIG + 100];
    fx_input(fx, frame, frag_frame(frame, id, msg, off, len, off + len < msg_len));
}

/* Read everything the stack sent as the fragments (or the single packet)
 * of one datagram from FX_ADDR; check each (checksum, size <= mtu, same
 * ID, offsets adjoining, MF on all but the last) and put the payload
 * together in out. Returns the payload length, 0 after reporting a
 * failure (or when nothing was sent). */
static size_t collect_datagram(struct ip_fixture *fx, unsigned mtu, uint8_t *out,
                               unsigned *nfrags, int line)
{
    static uint8_t f[BIG + 100];
    size_t m, next = 0;
    unsigned count = 0;
    int id = -1;
    bool last_seen = false;
    while ((m = fx_sent(fx, f, sizeof(f))) > 0) {
        count++;
        if (!fx_is_ip(f, m, 1, FX_ADDR, FX_PEER) || m > mtu || last_seen) {
            test_fail(__FILE__, line, "frame %u: %zu bytes, not a fragment that fits %u", count,
                      m, mtu);
            return 0;
        }
        uint16_t frag = get_be16(f + 6);
        if (id >= 0 && get_be16(f + 4) != id) {
            test_fail(__FILE__, line, "frame %u: identification changed", count);
            return 0;
        }
        id = get_be16(f + 4);
        if ((size_t)(frag & IP4_FRAG_OFFSET) * 8 != next || (frag & IP4_FRAG_DF)) {
            test_fail(__FILE__, line, "frame %u: offset %u, want %zu", count,
                      (frag & IP4_FRAG_OFFSET) * 8, next);
            return 0;
        }
        if ((frag & IP4_FRAG_MF) && (m - 20) % 8) {
            test_fail(__FILE__, line, "frame %u: %zu data bytes, not a multiple of 8", count,
                      m - 20);
            return 0;
        }
        memcpy(out + next, f + 20, m - 20);
        next += m - 20;
        last_seen = !(frag & IP4_FRAG_MF);
    }
    if (count && !last_seen)
        test_fail(__FILE__, line, "no last fragment (MF set on all %u)", count);
    if (nfrags)
        *nfrags = count;
    return last_seen ? next : 0;
}

/* Did the stack answer the echo request msg/len with a byte-exact reply
 * (in one or more fragments)? */
static void expect_reply(struct ip_fixture *fx, unsigned mtu, const uint8_t *msg, size_t len,
                         int line)
{
    static uint8_t reply[BIG];
    size_t n = collect_datagram(fx, mtu, reply, NULL, line);
    if (n != len) {
        test_fail(__FILE__, line, "reply of %zu bytes to a %zu-byte request", n, len);
        return;
    }
    if (reply[0] != 0 || cksum_finish(cksum_add(0, reply, n)) != 0 ||
        memcmp(reply + 4, msg + 4, len - 4) != 0)
        test_fail(__FILE__, line, "reply is not the request echoed");
}

#define EXPECT_REPLY(fx, mtu, msg, len) expect_reply((fx), (mtu), (msg), (len), __LINE__)

/* Deterministic shuffle (xorshift, Fisher-Yates). */
static void shuffle(size_t *v, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = n; i > 1; i--) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t j = (size_t)(s % i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static void check_nothing_held(struct ip_fixture *fx, int line)
{
    if (frag_bytes_held(fx->st) != 0 || frag_datagrams_held(fx->st) != 0)
        test_fail(__FILE__, line, "reassembly still holds %zu bytes in %u datagrams",
                  frag_bytes_held(fx->st), frag_datagrams_held(fx->st));
}

#define CHECK_NOTHING_HELD(fx) check_nothing_held((fx), __LINE__)

/* ---- Reassembly ------------------------------------------------------------ */

TEST(frag_reassembles_in_order)
{
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG];
    size_t len = echo_msg(msg, 1, 3000);
    for (size_t off = 0; off < len; off += 1480)
        feed(&fx, 77, msg, len, off, len - off < 1480 ? len - off : 1480);
    CHECK_EQ(fx.st->stats.ip_frag_rx, 3);
    CHECK_EQ(fx.st->stats.ip_reasm_ok, 1);
    CHECK_EQ(fx.st->stats.ip_delivered, 1);
    EXPECT_REPLY(&fx, FX_MTU, msg, len);
    CHECK_NOTHING_HELD(&fx);
    fx_close(&fx);
}

TEST(frag_reassembles_reversed)
{
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG];
    size_t len = echo_msg(msg, 2, 5000);
    /* Last fragment first: the end is known before the start. */
    size_t off = (len - 1) / 1000 * 1000;
    for (;;) {
        feed(&fx, 78, msg, len, off, len - off < 1000 ? len - off : 1000);
        if (off == 0)
            break;
        CHECK_EQ(fx_pending(&fx), 0);
        off -= 1000;
    }
    CHECK_EQ(fx.st->stats.ip_reasm_ok, 1);
    EXPECT_REPLY(&fx, FX_MTU, msg, len);
    CHECK_NOTHING_HELD(&fx);
    fx_close(&fx);
}

TEST(frag_reassembles_shuffled)
{
    /* 8-byte to 1480-byte fragments in random orders, many seeds. */
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG];
    static size_t order[8192];
    size_t sizes[] = {8, 64, 256, 1480};
    for (uint64_t seed = 1; seed <= 40; seed++) {
        size_t piece = sizes[seed % 4];
        size_t len = echo_msg(msg, (uint16_t)seed, 100 + (size_t)(seed * 997) % 9000);
        size_t n = (len + piece - 1) / piece;
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        shuffle(order, n, seed);
        for (size_t i = 0; i < n; i++) {
            size_t off = order[i] * piece;
            feed(&fx, (uint16_t)(1000 + seed), msg, len, off,
                 len - off < piece ? len - off : piece);
        }
        CHECK_EQ(fx.st->stats.ip_delivered, seed); /* n == 1: not a fragment */
        EXPECT_REPLY(&fx, FX_MTU, msg, len);
        if (test_failed()) {
            printf("    seed %llu, %zu fragments of %zu\n", (unsigned long long)seed, n, piece);
            break;
        }
    }
    CHECK_NOTHING_HELD(&fx);
    fx_close(&fx);
}

TEST(frag_duplicates_ignored)
{
    /* Every fragment twice (exact copies): counted, ignored, one reply. */
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG];
    size_t len = echo_msg(msg, 3, 2000);
    size_t offs[] = {0, 512, 1024, 1536};
    for (int copy = 0; copy < 2; copy++)
        for (int i = 0; i < 3; i++) /* all but the last, twice */
            feed(&fx, 79, msg, len, offs[i], 512);
    CHECK_EQ(fx.st->stats.ip_reasm_duplicate, 3);
    CHECK_EQ(fx_pending(&fx), 0);
    feed(&fx, 79, msg, len, 1536, len - 1536);
    EXPECT_REPLY(&fx, FX_MTU, msg, len);
    /* A copy that arrives after completion starts a new datagram, which
     * times out quietly (fragment zero missing: no ICMP). */
    feed(&fx, 79, msg, len, 512, 512);
    CHECK_EQ(frag_datagrams_held(fx.st), 1);
    fx.now += 31 * 1000000ull;
    ustack_timer(fx.st, fx.now);
    CHECK_EQ(fx.st->stats.ip_reasm_timeout, 1);
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(fx.st->stats.ip_reasm_ok, 1);
    CHECK_NOTHING_HELD(&fx);
    fx_close(&fx);
}

/* Feed fragments (offset, length) of a 600-byte datagram and expect the
 * whole datagram to be dropped as an overlap at the last one. */
struct span {
    size_t off, len;
    int more; /* 1 = MF, 0 = last, -1 = as the datagram's end implies */
};

static void expect_overlap(const struct span *s, size_t n, int line)
{
    struct ip_fixture fx;
    if (!frag_open(&fx, FX_MTU, NULL)) {
        test_fail(__FILE__, line, "no stack");
        return;
    }
    static uint8_t msg[BIG], frame[2000];
    size_t len = echo_msg(msg, 4, 600 - 8);
    for (size_t i = 0; i < n; i++) {
        bool more = s[i].more < 0 ? s[i].off + s[i].len < len : s[i].more == 1;
        fx_input(&fx, frame, frag_frame(frame, 80, msg, s[i].off, s[i].len, more));
        if (i + 1 < n && fx.st->stats.ip_reasm_overlap != 0)
            test_fail(__FILE__, line, "dropped early, at fragment %zu", i);
    }
    if (fx.st->stats.ip_reasm_overlap != 1)
        test_fail(__FILE__, line, "ip.reasm_overlap is %llu, want 1",
                  (unsigned long long)fx.st->stats.ip_reasm_overlap);
    if (fx_pending(&fx) || fx.st->stats.ip_reasm_ok || fx.st->stats.ip_delivered)
        test_fail(__FILE__, line, "something was delivered or sent");
    check_nothing_held(&fx, line);
    /* The rest of the datagram, arriving afterwards, cannot complete it:
     * it starts a fresh datagram that lacks what came before. */
    fx_close(&fx);
}

#define EXPECT_OVERLAP(...)                                                   \
    do {                                                                      \
        const struct span s_[] = {__VA_ARGS__};                               \
        expect_overlap(s_, sizeof(s_) / sizeof(s_[0]), __LINE__);             \
    } while (0)

TEST(frag_overlap_drops_datagram)
{
    EXPECT_OVERLAP({0, 64, -1}, {32, 64, -1});               /* tail over head */
    EXPECT_OVERLAP({64, 64, -1}, {0, 72, -1});               /* head over tail */
    EXPECT_OVERLAP({16, 8, -1}, {0, 64, -1});                /* swallows one */
    EXPECT_OVERLAP({0, 64, -1}, {8, 8, -1});                 /* inside one */
    EXPECT_OVERLAP({0, 64, -1}, {64, 64, -1}, {0, 128, -1}); /* spans two */
    EXPECT_OVERLAP({0, 64, -1}, {0, 56, -1});                /* same start */
    EXPECT_OVERLAP({552, 48, -1}, {544, 56, -1});            /* same end */
    /* Disagreements about the end: a second, different last fragment;
     * data past the end; more to follow past the end. */
    EXPECT_OVERLAP({552, 48, 0}, {8, 8, 0});
    EXPECT_OVERLAP({104, 8, 0}, {200, 16, 1});
    EXPECT_OVERLAP({200, 16, 1}, {104, 8, 0});
    EXPECT_OVERLAP({96, 8, 0}, {96, 8, 1}); /* a copy that says more follow */
}

TEST(frag_copy_with_other_bytes_is_overlap)
{
    /* Same offset and length, different bytes: the classic evasion. */
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG], frame[2000];
    size_t len = echo_msg(msg, 5, 1000);
    fx_input(&fx, frame, frag_frame(frame, 81, msg, 0, 512, true));
    msg[100] ^= 0xff;
    fx_input(&fx, frame, frag_frame(frame, 81, msg, 0, 512, true));
    CHECK_EQ(fx.st->stats.ip_reasm_overlap, 1);
    CHECK_EQ(fx.st->stats.ip_reasm_duplicate, 0);
    fx_input(&fx, frame, frag_frame(frame, 81, msg, 512, len - 512, false));
    CHECK_EQ(fx.st->stats.ip_reasm_ok, 0);
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

TEST(frag_bad_fragments_counted)
{
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG], frame[2000];
    size_t len = echo_msg(msg, 6, 1000);
    fx_snapshot(&fx);
    /* More to follow, but not a multiple of 8 bytes (RFC 791 §3.2). */
    fx_input(&fx, frame, frag_frame(frame, 82, msg, 0, 100, true));
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.frag_rx", "ip.reasm_bad_fragment");
    /* Empty, first or last. */
    fx_snapshot(&fx);
    fx_input(&fx, frame, frag_frame(frame, 82, msg, 0, 0, true));
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.frag_rx", "ip.reasm_bad_fragment");
    fx_snapshot(&fx);
    fx_input(&fx, frame, frag_frame(frame, 82, msg, 1000, 0, false));
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.frag_rx", "ip.reasm_bad_fragment");
    CHECK_NOTHING_HELD(&fx);
    /* The good fragments still make the datagram. */
    feed(&fx, 82, msg, len, 0, 504);
    feed(&fx, 82, msg, len, 504, len - 504);
    EXPECT_REPLY(&fx, FX_MTU, msg, len);
    fx_close(&fx);
}

TEST(frag_timeout_sends_time_exceeded_with_fragment_zero)
{
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG], frame[2000], out[2000];
    size_t len = echo_msg(msg, 7, 3000);
    size_t n0 = frag_frame(frame, 83, msg, 0, 1480, true);
    fx_input(&fx, frame, n0);
    uint64_t arrived = fx.now;
    /* The deadline is part of the stack's timer. */
    CHECK_EQ(ustack_timer(fx.st, fx.now), arrived + 30 * 1000000ull);
    fx.now = arrived + 29 * 1000000ull;
    feed(&fx, 83, msg, len, 1480, 1480); /* later fragments do not extend it */
    CHECK_EQ(ustack_timer(fx.st, fx.now), arrived + 30 * 1000000ull);
    CHECK_EQ(fx.st->stats.ip_reasm_timeout, 0);
    fx.now = arrived + 30 * 1000000ull;
    fx_snapshot(&fx);
    CHECK_EQ(ustack_timer(fx.st, fx.now), USTACK_NEVER);
    FX_CHECK_MOVED(&fx, "ip.reasm_timeout", "icmp.tx", "icmp.tx_time_exceeded", "ip.tx");
    CHECK_NOTHING_HELD(&fx);
    /* RFC 792: type 11 code 1, quoting fragment zero's header and data. */
    size_t m = fx_sent(&fx, out, sizeof(out));
    REQUIRE(fx_is_ip(out, m, 1, FX_ADDR, FX_PEER));
    CHECK_EQ(out[20], ICMP_TIME_EXCEEDED);
    CHECK_EQ(out[21], ICMP_TIMXCEED_REASSEMBLY);
    CHECK_EQ(cksum_finish(cksum_add(0, out + 20, m - 20)), 0);
    CHECK_EQ(m, 576);
    CHECK_MEM(out + 28, frame, 576 - 28);
    /* The last fragment arrives after the timeout: a new datagram, which
     * never completes. */
    feed(&fx, 83, msg, len, 2960, len - 2960);
    CHECK_EQ(fx.st->stats.ip_reasm_ok, 0);
    fx_close(&fx);
}

TEST(frag_timeout_without_fragment_zero_is_quiet)
{
    struct ustack_reasm_config r = {.timeout_ms = 5000};
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, &r));
    static uint8_t msg[BIG];
    size_t len = echo_msg(msg, 8, 3000);
    feed(&fx, 84, msg, len, 1480, 1480);
    feed(&fx, 84, msg, len, 2960, len - 2960);
    CHECK_EQ(ustack_timer(fx.st, fx.now), fx.now + 5000000);
    fx.now += 5000000;
    fx_snapshot(&fx);
    ustack_timer(fx.st, fx.now);
    FX_CHECK_MOVED(&fx, "ip.reasm_timeout");
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_NOTHING_HELD(&fx);
    fx_close(&fx);
}

TEST(frag_no_time_exceeded_for_broadcast)
{
    /* RFC 1122 §3.2.2: no ICMP error about a broadcast datagram. */
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG], frame[2000];
    echo_msg(msg, 9, 3000);
    size_t n = frag_frame(frame, 85, msg, 0, 1480, true);
    put_be32(frame + 16, 0x0a0000ffu);
    fx_fix_ip_checksum(frame);
    fx_input(&fx, frame, n);
    CHECK_EQ(frag_datagrams_held(fx.st), 1);
    fx.now += 30 * 1000000ull;
    ustack_timer(fx.st, fx.now);
    CHECK_EQ(fx.st->stats.ip_reasm_timeout, 1);
    CHECK_EQ(fx.st->stats.icmp_error_not_allowed, 1);
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

TEST(frag_memory_limit_evicts_oldest)
{
    /* 8 KiB of reassembly memory: fragment zero of many datagrams, each
     * 1480 bytes (two 1 KiB blocks). Memory never grows past the limit,
     * and the oldest datagrams make room. */
    struct ustack_reasm_config r = {.max_bytes = 8192};
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, &r));
    static uint8_t msg[BIG];
    size_t len = echo_msg(msg, 10, 3000);
    for (uint16_t id = 1; id <= 20; id++) {
        fx.now += 1000;
        feed(&fx, id, msg, len, 0, 1480);
        CHECK(frag_bytes_held(fx.st) <= 8192);
    }
    CHECK_EQ(frag_bytes_held(fx.st), 8192);
    CHECK_EQ(frag_datagrams_held(fx.st), 4);
    CHECK_EQ(fx.st->stats.ip_reasm_evicted, 16);
    /* The newest four are still there: completing one works. */
    feed(&fx, 20, msg, len, 1480, 1480);
    feed(&fx, 20, msg, len, 2960, len - 2960);
    EXPECT_REPLY(&fx, FX_MTU, msg, len);
    /* The oldest is gone: its rest cannot complete it. */
    feed(&fx, 1, msg, len, 1480, 1480);
    feed(&fx, 1, msg, len, 2960, len - 2960);
    CHECK_EQ(fx.st->stats.ip_reasm_ok, 1);
    /* A datagram larger than all of the memory is dropped, counted. */
    fx_snapshot(&fx);
    size_t big = echo_msg(msg, 11, 12000);
    for (size_t off = 0; off < big; off += 1480)
        feed(&fx, 99, msg, big, off, big - off < 1480 ? big - off : 1480);
    CHECK_EQ(fx.st->stats.ip_reasm_no_memory - fx.before.ip_reasm_no_memory, 1);
    CHECK(frag_bytes_held(fx.st) <= 8192);
    CHECK_EQ(fx.st->stats.ip_reasm_ok, 1);
    fx_close(&fx);
}

TEST(frag_datagram_limit_evicts_oldest)
{
    struct ustack_reasm_config r = {.max_datagrams = 3};
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, &r));
    static uint8_t msg[BIG];
    size_t len = echo_msg(msg, 12, 3000);
    for (uint16_t id = 1; id <= 5; id++) {
        fx.now += 1000;
        feed(&fx, id, msg, len, 1480, 1480);
        CHECK(frag_datagrams_held(fx.st) <= 3);
    }
    CHECK_EQ(fx.st->stats.ip_reasm_evicted, 2);
    /* 3, 4 and 5 are held; 1 is not. */
    feed(&fx, 3, msg, len, 0, 1480);
    feed(&fx, 3, msg, len, 2960, len - 2960);
    EXPECT_REPLY(&fx, FX_MTU, msg, len);
    CHECK_EQ(fx.st->stats.ip_reasm_evicted, 2);
    fx_close(&fx);
}

TEST(frag_size_limit)
{
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t msg[BIG], frame[2000];
    /* The largest datagram, 65535 bytes: 65507 data bytes of echo. */
    size_t len = echo_msg(msg, 13, 65507);
    for (size_t off = 0; off < len; off += 1480)
        feed(&fx, 86, msg, len, off, len - off < 1480 ? len - off : 1480);
    CHECK_EQ(fx.st->stats.ip_reasm_ok, 1);
    EXPECT_REPLY(&fx, FX_MTU, msg, len);
    /* One byte more is past what the total length field can hold (the
     * "ping of death"): the datagram is dropped as soon as it shows. */
    fx_input(&fx, frame, frag_frame(frame, 87, msg, 0, 1480, true));
    fx_snapshot(&fx);
    fx_input(&fx, frame, frag_frame(frame, 87, msg, 65512, 4, false));
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.frag_rx", "ip.reasm_too_big");
    CHECK_NOTHING_HELD(&fx);
    /* The largest offset the field can hold. */
    fx_snapshot(&fx);
    fx_input(&fx, frame, frag_frame(frame, 88, msg, 8191 * 8, 8, false));
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.frag_rx", "ip.reasm_too_big");
    fx_close(&fx);

    /* A configured limit: 1000 bytes, header included. */
    struct ustack_reasm_config r = {.max_size = 1000};
    REQUIRE(frag_open(&fx, FX_MTU, &r));
    len = echo_msg(msg, 14, 1000 - 28);
    feed(&fx, 89, msg, len, 0, 504);
    feed(&fx, 89, msg, len, 504, len - 504);
    EXPECT_REPLY(&fx, FX_MTU, msg, len);
    len = echo_msg(msg, 15, 1000 - 27);
    feed(&fx, 90, msg, len, 0, 504);
    feed(&fx, 90, msg, len, 504, len - 504);
    CHECK_EQ(fx.st->stats.ip_reasm_too_big, 1);
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_NOTHING_HELD(&fx);
    fx_close(&fx);
}

TEST(frag_reassembled_header_describes_whole)
{
    /* An unknown protocol in fragments: the protocol unreachable quotes
     * the reassembled header (total length of the whole, no MF, offset 0,
     * good checksum) and the start of the data. */
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t data[800], frame[2000], out[2000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    size_t n = fx_build_ip(frame, FX_PEER, FX_ADDR, 253, data, 400);
    put_be16(frame + 6, IP4_FRAG_MF);
    fx_fix_ip_checksum(frame);
    fx_input(&fx, frame, n);
    n = fx_build_ip(frame, FX_PEER, FX_ADDR, 253, data + 400, 400);
    put_be16(frame + 6, 400 / 8);
    fx_fix_ip_checksum(frame);
    fx_input(&fx, frame, n);
    CHECK_EQ(fx.st->stats.ip_drop_unknown_protocol, 1);
    size_t m = fx_sent(&fx, out, sizeof(out));
    REQUIRE(fx_is_ip(out, m, 1, FX_ADDR, FX_PEER));
    CHECK_EQ(out[20], ICMP_DEST_UNREACH);
    const uint8_t *q = out + 28;
    CHECK_EQ(get_be16(q + 2), 820);
    CHECK_EQ(get_be16(q + 6), 0);
    CHECK_EQ(cksum_finish(cksum_add(0, q, 20)), 0);
    CHECK_MEM(q + 20, data, m - 48);
    fx_close(&fx);
}

TEST(frag_random_trains_never_leak)
{
    /* Random fragments of a few datagrams (random offsets, lengths, MF,
     * ids), with a valid train now and then: memory stays within bounds,
     * every valid train completes, and all memory is returned once the
     * timeout passes. */
    struct ustack_reasm_config r = {.max_bytes = 32768, .max_datagrams = 8};
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, &r));
    static uint8_t msg[BIG], frame[2000], out[BIG];
    size_t len = echo_msg(msg, 16, 4000);
    uint64_t s = 42;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t off = (size_t)(s % 520) * 8;
        size_t n = (size_t)(s >> 12) % 1480;
        if (off + n > len)
            n = len > off ? len - off : 0;
        bool more = (s >> 40) & 1;
        if (more)
            n &= ~(size_t)7;
        fx_input(&fx, frame, frag_frame(frame, (uint16_t)((s >> 48) % 12), msg, off, n, more));
        while (fx_sent(&fx, out, sizeof(out)))
            ;
        CHECK(frag_bytes_held(fx.st) <= 32768);
        if (i % 1000 == 0)
            fx.now += 1000000;
        ustack_timer(fx.st, fx.now);
        if (i % 100 == 0) {
            uint16_t id = (uint16_t)(1000 + i / 100);
            for (size_t o = 0; o < len; o += 1480)
                feed(&fx, id, msg, len, o, len - o < 1480 ? len - o : 1480);
            EXPECT_REPLY(&fx, FX_MTU, msg, len);
        }
        if (test_failed())
            break;
    }
    const struct ustack_stats *c = &fx.st->stats;
    CHECK(c->ip_reasm_ok >= 2000);
    CHECK(c->ip_reasm_overlap > 0);
    CHECK(c->ip_reasm_duplicate > 0);
    fx.now += 31 * 1000000ull;
    ustack_timer(fx.st, fx.now);
    CHECK_NOTHING_HELD(&fx);
    fx_close(&fx);
}

/* ---- Fragmentation on output ---------------------------------------------- */

TEST(frag_output_boundaries)
{
    /* For MTU 576, 1280, 1500: a request of exactly the MTU leaves whole;
     * one byte more leaves in two fragments, the first carrying the
     * largest multiple of 8 that fits; each is checked and the data
     * reassembles exactly. Large ones too. */
    unsigned mtus[] = {576, 1280, 1500};
    static uint8_t data[BIG], whole[BIG];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i ^ (i >> 8));
    for (size_t k = 0; k < 3; k++) {
        unsigned mtu = mtus[k];
        struct ip_fixture fx;
        REQUIRE(frag_open(&fx, mtu, NULL));
        size_t per = (mtu - 20) & ~(size_t)7;
        size_t sizes[] = {mtu - 28, mtu - 27, per * 2 - 8, per * 2 - 7, 8000, 65507};
        for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
            size_t len = sizes[j];
            CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 7, (uint16_t)j, data, len), 0);
            unsigned nfrags = 0;
            size_t got = collect_datagram(&fx, mtu, whole, &nfrags, __LINE__);
            size_t want = len + 8 <= mtu - 20 ? 1 : (len + 8 + per - 1) / per;
            CHECK_EQ(got, len + 8);
            CHECK_EQ(nfrags, want);
            CHECK_EQ(cksum_finish(cksum_add(0, whole, got)), 0);
            CHECK_MEM(whole + 8, data, len);
            if (test_failed()) {
                printf("    MTU %u, %zu data bytes\n", mtu, len);
                break;
            }
        }
        CHECK_EQ(fx.st->pool.available, fx.st->pool.total);
        CHECK_EQ(fx.st->large_pool.available, fx.st->large_pool.total);
        fx_close(&fx);
    }
}

TEST(frag_output_df_refused)
{
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, 1280, NULL));
    struct pbuf *pb = ip4_alloc(fx.st, 1261, NULL);
    REQUIRE(pb);
    pbuf_put(pb, 1261);
    fx_snapshot(&fx);
    CHECK_EQ(ip4_output(fx.st, pb, 99, 0, FX_PEER, IP4_OUT_DF), -EMSGSIZE);
    FX_CHECK_MOVED(&fx, "ip.drop_too_big");
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(fx.st->large_pool.available, fx.st->large_pool.total);
    /* At the MTU, DF goes out whole. */
    pb = ip4_alloc(fx.st, 1260, NULL);
    REQUIRE(pb);
    pbuf_put(pb, 1260);
    CHECK_EQ(ip4_output(fx.st, pb, 99, 0, FX_PEER, IP4_OUT_DF), 0);
    CHECK_EQ(fx_pending(&fx), 1);
    fx_close(&fx);
}

TEST(frag_output_buffers_bounded)
{
    struct ip_fixture fx;
    REQUIRE(frag_open(&fx, FX_MTU, NULL));
    static uint8_t data[BIG];
    /* Every large buffer taken: a request above the MTU cannot be built. */
    struct pbuf *held[64];
    unsigned n = 0;
    while (n < 64 && (held[n] = pbuf_alloc(&fx.st->large_pool)))
        n++;
    CHECK_EQ(n, 8); /* the default */
    fx_snapshot(&fx);
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 1, 1, data, 3000), -ENOBUFS);
    FX_CHECK_MOVED(&fx, "link.drop_no_buffer");
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 1, 2, data, 1000), 0); /* small ones go */
    while (n)
        pbuf_free(&fx.st->pool, held[--n]); /* back to their own pool */
    CHECK_EQ(fx.st->large_pool.available, fx.st->large_pool.total);
    /* Too few ordinary buffers for all fragments: nothing is sent. */
    struct pbuf *small[512];
    while (fx.st->pool.available > 2)
        small[n++] = pbuf_alloc(&fx.st->pool);
    while (fx_sent(&fx, data, sizeof(data)))
        ;
    fx_snapshot(&fx);
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 1, 3, data, 4000), -ENOBUFS);
    FX_CHECK_MOVED(&fx, "link.drop_no_buffer");
    CHECK_EQ(fx_pending(&fx), 0);
    CHECK_EQ(fx.st->large_pool.available, fx.st->large_pool.total);
    while (n)
        pbuf_free(&fx.st->pool, small[--n]);
    fx_close(&fx);
}
