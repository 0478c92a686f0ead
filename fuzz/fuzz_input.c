/*
 * libFuzzer target: a sequence of frames into one stack.
 *
 * Input format (fuzz/make_seeds.py writes seeds in it):
 *
 *   byte 0        link flags: bit 0 set = Ethernet link (TAP), else IP (TUN);
 *                 the other bits are reserved (ignored)
 *   then records, until the input ends:
 *     1 byte      time step before this frame (see time_step())
 *     2 bytes     frame length, big endian (cut short if the input ends)
 *     N bytes     the frame, starting at the link header
 *
 * For each record the harness advances virtual time, runs the timers, feeds
 * the frame to ustack_input(), runs the timers again and drains whatever the
 * stack sent. At the end it jumps an hour ahead so every pending timer fires.
 *
 * The stack sits on one end of a memlink pair; the harness drains the other
 * end after every step, so sending always works and nothing accumulates.
 * Each frame is copied into a heap buffer of exactly its length, so ASan
 * catches a read one byte past the frame (inside the fuzzer's input buffer
 * it would go unnoticed).
 *
 * Everything the stack sends is checked too: it must fit the MTU and be a
 * well-formed IPv4 packet (version, header length, total length equal to the
 * frame, correct header checksum). A violation aborts, which libFuzzer
 * reports as a crash.
 *
 * New protocols need no change here: input reaches them through the frames.
 * A protocol that only reacts when something listens (a TCP listener, a UDP
 * socket) opens it in setup_services(), and adds a seed or two to
 * fuzz/make_seeds.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/icmp.h"
#include "ustack/ustack.h"

#define FUZZ_MTU 1500
#define FUZZ_QUEUE 64           /* frames each memlink direction holds */
#define FUZZ_PBUFS 32           /* small, so pool exhaustion gets exercised */
#define FUZZ_MAX_TIMER_RUNS 64  /* bound on timer calls per step */
#define ETH_HEADER_LEN 14
#define ETHERTYPE_IPV4 0x0800

#define OUR_ADDR 0x0a000002u    /* 10.0.0.2, the seeds' destination */
#define OUR_NETMASK 0xffffff00u

/* Stop the run with a message: libFuzzer saves the input as a crash. */
static void fuzz_fail(const char *what, const uint8_t *frame, size_t len)
{
    fprintf(stderr, "fuzz_input: output frame of %zu bytes: %s\n ", len, what);
    for (size_t i = 0; i < len && i < 64; i++)
        fprintf(stderr, " %02x", frame[i]);
    fputc('\n', stderr);
    abort();
}

/*
 * Virtual time between frames, from one byte: the low 6 bits count units,
 * the top 2 bits pick the unit (1 us, 1 ms, 100 ms, 10 s), so one byte can
 * be a back-to-back burst or a 10-minute idle gap that expires timers.
 */
static uint64_t time_step(uint8_t b)
{
    static const uint64_t unit_us[4] = {1, 1000, 100000, 10000000};
    return (uint64_t)(b & 0x3f) * unit_us[b >> 6];
}

static uint16_t sum_words(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* What the stack sends must be a valid IPv4 packet (RFC 791 §3.1). */
static void check_ipv4_packet(const uint8_t *p, size_t len)
{
    if (len < 20)
        fuzz_fail("IPv4 packet shorter than 20 bytes", p, len);
    if (p[0] >> 4 != 4)
        fuzz_fail("IP version is not 4", p, len);
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        fuzz_fail("bad IPv4 header length", p, len);
    if (((size_t)p[2] << 8 | p[3]) != len)
        fuzz_fail("IPv4 total length differs from the frame length", p, len);
    if (sum_words(p, ihl) != 0xffff)
        fuzz_fail("bad IPv4 header checksum", p, len);
}

static void check_output(enum ustack_link_kind kind, const uint8_t *f, size_t len)
{
    if (kind == USTACK_LINK_IP) {
        if (len > FUZZ_MTU)
            fuzz_fail("larger than the MTU", f, len);
        if (len > 0 && f[0] >> 4 == 6)
            return; /* IPv6: no checks yet */
        check_ipv4_packet(f, len);
        return;
    }
    if (len < ETH_HEADER_LEN || len > FUZZ_MTU + ETH_HEADER_LEN)
        fuzz_fail("bad Ethernet frame length", f, len);
    if (((unsigned)f[12] << 8 | f[13]) == ETHERTYPE_IPV4)
        check_ipv4_packet(f + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
}

/* Receive and check everything the stack sent. */
static void drain(struct ustack_link *peer)
{
    static uint8_t buf[FUZZ_MTU + ETH_HEADER_LEN];
    ssize_t n;
    while ((n = ustack_link_recv(peer, buf, sizeof(buf))) > 0)
        check_output(peer->kind, buf, (size_t)n);
}

/* Run every timer due at `now` (bounded, in case a deadline never moves). */
static void run_timers(struct ustack *st, struct ustack_link *peer, uint64_t now)
{
    for (int i = 0; i < FUZZ_MAX_TIMER_RUNS; i++) {
        uint64_t next = ustack_timer(st, now);
        drain(peer);
        if (next > now)
            break;
    }
}

static void on_echo_reply(void *ctx, uint32_t from, uint16_t id, uint16_t seq,
                          const void *data, size_t len, uint64_t now)
{
    (void)from, (void)id, (void)seq, (void)now;
    /* Touch every byte the stack claims to hand over. */
    const uint8_t *p = data;
    unsigned *sum = ctx;
    for (size_t i = 0; i < len; i++)
        *sum += p[i];
}

/* Open whatever must listen for input to reach a protocol's deeper states
 * (e.g. a TCP listener once TCP exists). */
static void setup_services(struct ustack *st, unsigned *echo_sum)
{
    ustack_set_echo_reply_handler(st, on_echo_reply, echo_sum);
}

static struct ustack *new_stack(struct ustack_link *link)
{
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = OUR_ADDR;
    cfg.netmask = OUR_NETMASK;
    cfg.pbuf_count = FUZZ_PBUFS;
    cfg.has_secret = true; /* reproducible: no getrandom() */
    memset(cfg.secret, 0x5a, sizeof(cfg.secret));
    return ustack_new(&cfg, link, 0);
}

/* Feed one frame from a buffer of exactly its size. */
static void input_frame(struct ustack *st, const uint8_t *data, size_t len,
                        uint64_t now)
{
    uint8_t *frame = malloc(len ? len : 1);
    if (!frame)
        return;
    memcpy(frame, data, len);
    ustack_input(st, frame, len, now);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum ustack_link_kind kind =
        (data[0] & 1) ? USTACK_LINK_ETHERNET : USTACK_LINK_IP;
    struct ustack_link *link, *peer;
    if (ustack_memlink_pair(kind, FUZZ_MTU, FUZZ_QUEUE, &link, &peer) < 0)
        return 0;
    struct ustack *st = new_stack(link);
    if (!st) {
        ustack_link_close(link);
        ustack_link_close(peer);
        return 0;
    }
    unsigned echo_sum = 0;
    setup_services(st, &echo_sum);

    uint64_t now = 0;
    size_t pos = 1;
    while (pos < size) {
        now += time_step(data[pos++]);
        run_timers(st, peer, now);
        size_t len = 0;
        if (pos + 2 <= size) {
            len = (size_t)data[pos] << 8 | data[pos + 1];
            pos += 2;
        } else {
            pos = size;
        }
        if (len > size - pos)
            len = size - pos;
        input_frame(st, data + pos, len, now);
        pos += len;
        drain(peer);
        run_timers(st, peer, now);
    }
    /* An hour later every timer (retransmission, TIME-WAIT...) has fired. */
    run_timers(st, peer, now + 3600ull * 1000000);

    ustack_free(st);
    ustack_link_close(link);
    ustack_link_close(peer);
    return 0;
}
