/*
 * Shared by the benchmark tools (the C files in bench/): the clock, the byte pattern
 * that bulk transfers carry, size parsing, and the little wire protocol
 * between the load generators and the servers.
 *
 * The servers (ustack_bench on ustack, kserver on the kernel) offer the same
 * three services, so one client (kclient) measures both:
 *
 *   BENCH_PORT_SINK    read everything; at the peer's FIN send the byte
 *                      count as 8 bytes (big-endian), then close. The client
 *                      checks that every byte arrived.
 *   BENCH_PORT_SOURCE  read an 8-byte big-endian count, send that many
 *                      bytes of the pattern, then close.
 *   BENCH_PORT_ECHO    send back every byte (RFC 862 style). Idle
 *                      connections on it are what the hold test counts.
 */
#ifndef USTACK_BENCH_COMMON_H
#define USTACK_BENCH_COMMON_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* BENCH_TCP_CC=NAME in the environment: a kernel TCP socket uses that
 * congestion control (TCP_CONGESTION; root may pick any algorithm the
 * kernel has, even one a namespace's sysctl does not allow), so the loss
 * rows can run the kernel with the algorithm ustack runs. */
static inline void bench_set_congestion(int fd)
{
    const char *cc = getenv("BENCH_TCP_CC");
    if (cc && *cc)
        setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc));
}

#define BENCH_PORT_SINK 5001
#define BENCH_PORT_SOURCE 5002
#define BENCH_PORT_ECHO 5003

/* The pattern repeats every BENCH_PATTERN_PERIOD bytes (a prime, so it
 * never lines up with segment or buffer sizes). A buffer holding two
 * periods gives a contiguous view of up to one period from any offset. */
#define BENCH_PATTERN_PERIOD 65521u

static inline void bench_pattern_fill(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint32_t k = (uint32_t)(i % BENCH_PATTERN_PERIOD);
        buf[i] = (uint8_t)((k * 2654435761u) >> 24);
    }
}

/* A heap copy of two periods of the pattern, or NULL. */
static inline uint8_t *bench_pattern_new(void)
{
    uint8_t *p = malloc(2 * (size_t)BENCH_PATTERN_PERIOD);
    if (p)
        bench_pattern_fill(p, 2 * (size_t)BENCH_PATTERN_PERIOD);
    return p;
}

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t bench_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* "1048576", "64K", "256M", "1G" (binary multiples). 0 on success. */
static inline int bench_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (*end || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

#endif
