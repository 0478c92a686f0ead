/*
 * tun_bound: how many packets a TUN device itself moves, with no stack.
 *
 * The ceiling under any stack on a TUN device: one read(2) or write(2) per
 * packet. `make bench` compares ustack's throughput with it.
 *
 *   tun_bound read  --netns NS --seconds S [--ifname IF]
 *       Only reads packets (the kernel side blasts 1500-byte UDP packets
 *       at this end's address) and counts them.
 *   tun_bound write --netns NS --seconds S [--ifname IF]
 *       Only writes 1500-byte IPv4/UDP packets addressed to the kernel
 *       side (a UDP sink there receives them) and counts them.
 *
 * The device is created with ustack's own TUN code (ustack_tun_open:
 * kernel side 10.79.0.1/24, this end 10.79.0.2, MTU 1500). Prints
 * "ready", then after S seconds "RESULT ... pps=... gbps=..." (gbps counts
 * whole 1500-byte IP packets).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "ustack/link.h"
#include "ustack/ustack.h"

#define PKT 1500
#define SINK_PORT 9999

static uint16_t ip_checksum(const uint8_t *h, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* IPv4 + UDP, 1500 bytes, from 10.79.0.2:9998 to 10.79.0.1:SINK_PORT.
 * UDP checksum 0 means "none" (RFC 768). */
static void build_packet(uint8_t *p)
{
    memset(p, 0, PKT);
    p[0] = 0x45;
    p[2] = PKT >> 8;
    p[3] = PKT & 0xff;
    p[6] = 0x40; /* DF */
    p[8] = 64;
    p[9] = 17;
    const uint8_t src[4] = {10, 79, 0, 2}, dst[4] = {10, 79, 0, 1};
    memcpy(p + 12, src, 4);
    memcpy(p + 16, dst, 4);
    uint16_t c = ip_checksum(p, 20);
    p[10] = (uint8_t)(c >> 8);
    p[11] = (uint8_t)c;
    uint8_t *u = p + 20;
    u[0] = 9998 >> 8;
    u[1] = 9998 & 0xff;
    u[2] = SINK_PORT >> 8;
    u[3] = SINK_PORT & 0xff;
    u[4] = (PKT - 20) >> 8;
    u[5] = (PKT - 20) & 0xff;
}

static void report(const char *mode, unsigned long long pkts, unsigned long long errs,
                   uint64_t t0)
{
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    double pps = (double)pkts / secs;
    printf("RESULT mode=%s status=ok packets=%llu errors=%llu secs=%.6f pps=%.0f gbps=%.6f\n",
           mode, pkts, errs, secs, pps, pps * PKT * 8 / 1e9);
}

/* Count packets read; only whole-MTU ones (the blaster's) count. */
static void run_read(int fd, double seconds)
{
    static uint8_t buf[65536];
    unsigned long long pkts = 0, other = 0;
    /* The clock starts at the first packet: the blaster starts after us. */
    struct pollfd first = {.fd = fd, .events = POLLIN};
    if (poll(&first, 1, 5000) != 1) {
        printf("RESULT mode=read status=error why=no-packets\n");
        return;
    }
    uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    while (bench_now_ns() < end) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == PKT) {
            pkts++;
        } else if (n > 0) {
            other++;
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            poll(&p, 1, 10);
        }
    }
    report("read", pkts, other, t0);
}

static void run_write(int fd, double seconds)
{
    static uint8_t pkt[PKT];
    build_packet(pkt);
    unsigned long long pkts = 0, errs = 0;
    uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    while (bench_now_ns() < end) {
        if (write(fd, pkt, PKT) == PKT)
            pkts++;
        else
            errs++;
    }
    report("write", pkts, errs, t0);
}

int main(int argc, char **argv)
{
    const char *netns = NULL, *ifname = "ubound0";
    double seconds = 3;
    if (argc < 2)
        goto usage;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--netns"))
            netns = argv[i + 1];
        else if (!strcmp(argv[i], "--ifname"))
            ifname = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds"))
            seconds = strtod(argv[i + 1], NULL);
        else
            goto usage;
    }
    struct ustack_tun_config tc = {.ifname = ifname, .netns = netns,
                                   .kernel_addr = 0x0a4f0001u /* 10.79.0.1 */,
                                   .prefix_len = 24, .mtu = PKT};
    char err[256];
    struct ustack_link *link = ustack_tun_open(&tc, err, sizeof(err));
    if (!link) {
        fprintf(stderr, "tun_bound: %s\n", err);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    if (!strcmp(argv[1], "read"))
        run_read(link->fd, seconds);
    else if (!strcmp(argv[1], "write"))
        run_write(link->fd, seconds);
    else
        goto usage;
    ustack_link_close(link);
    return 0;
usage:
    fprintf(stderr, "usage: tun_bound read|write --netns NS --seconds S [--ifname IF]\n");
    return 2;
}
