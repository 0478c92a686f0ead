/*
 * sim_bench: the cost of ustack's TCP path alone, with no device and no
 * kernel: two stacks joined by an in-memory link (memlink, nothing lost,
 * nothing delayed), one sending --bytes to the other over one connection,
 * in virtual time.
 *
 *   sim_bench [--bytes N] [--runs R]
 *
 * Prints wall time per MiB (the median of R runs). Under
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=sim_transfer
 * the instructions counted are exactly those of the transfer (handshake,
 * data, ACKs, the application's send and receive copies), which is
 * repeatable from run to run, unlike time: `make bench` divides them by the
 * MiB moved. Everything is deterministic (fixed secrets, virtual clock).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "ustack/socket.h"
#include "ustack/ustack.h"

#define ADDR_A 0x0a000001u /* 10.0.0.1 */
#define ADDR_B 0x0a000002u /* 10.0.0.2 */
#define PORT 5001
#define LINK_CAPACITY 4096
#define ROUND_US 5          /* virtual time one round of the loop takes */
#define MAX_ROUNDS 50000000 /* livelock guard */

struct sim {
    struct ustack_link *la, *lb; /* A sends on la, B receives on lb */
    struct ustack *a, *b;
    uint64_t now;
    uint8_t frame[2048];
    uint8_t scratch[64 * 1024];
    uint8_t *pattern;
};

static struct ustack *make_stack(struct ustack_link *link, uint32_t addr, uint8_t seed,
                                 uint64_t now)
{
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = addr;
    cfg.netmask = 0xffffff00u;
    cfg.has_secret = true;
    memset(cfg.secret, seed, sizeof(cfg.secret));
    return ustack_new(&cfg, link, now);
}

/* Deliver every frame waiting on `from` to stack `to`; returns how many. */
static unsigned deliver(struct sim *s, struct ustack_link *from, struct ustack *to)
{
    unsigned n = 0;
    ssize_t len;
    while ((len = ustack_link_recv(from, s->frame, sizeof(s->frame))) > 0) {
        ustack_input(to, s->frame, (size_t)len, s->now);
        n++;
    }
    return n;
}

static void drain_poll(struct ustack *st)
{
    struct ustack_event ev[16];
    while (ustack_poll(st, ev, 16) == 16)
        ;
}

/* Connect A to B and move `bytes` from A to B. Returns bytes B received,
 * or 0 on failure. Its own function so callgrind can count just this. */
__attribute__((noinline)) static uint64_t sim_transfer(struct sim *s, uint64_t bytes)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT),
                              .sin_addr.s_addr = htonl(ADDR_B)};
    int lsd = ustack_socket(s->b, USTACK_SOCK_STREAM);
    if (ustack_bind(s->b, lsd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        ustack_listen(s->b, lsd, 8) < 0)
        return 0;
    int csd = ustack_socket(s->a, USTACK_SOCK_STREAM);
    ustack_connect(s->a, csd, (struct sockaddr *)&sin, sizeof(sin));
    int asd = -1;
    uint64_t sent = 0, got = 0;
    bool closed = false;
    for (long round = 0; round < MAX_ROUNDS && got < bytes; round++) {
        unsigned moved = deliver(s, s->lb, s->b) + deliver(s, s->la, s->a);
        uint64_t next_a = ustack_timer(s->a, s->now), next_b = ustack_timer(s->b, s->now);
        if (asd < 0)
            asd = ustack_accept(s->b, lsd, NULL, NULL);
        while (sent < bytes) {
            size_t off = (size_t)(sent % BENCH_PATTERN_PERIOD);
            uint64_t len = bytes - sent < BENCH_PATTERN_PERIOD ? bytes - sent
                                                               : BENCH_PATTERN_PERIOD;
            ssize_t n = ustack_send(s->a, csd, s->pattern + off, (size_t)len, 0);
            if (n <= 0)
                break;
            sent += (uint64_t)n;
            moved++;
        }
        if (sent == bytes && !closed) {
            ustack_close(s->a, csd);
            closed = true;
        }
        ssize_t n;
        while (asd >= 0 && (n = ustack_recv(s->b, asd, s->scratch, sizeof(s->scratch), 0)) > 0) {
            got += (uint64_t)n;
            moved++;
        }
        drain_poll(s->a);
        drain_poll(s->b);
        /* Idle: jump to the next timer (a delayed ACK, a retransmission). */
        uint64_t next = next_a < next_b ? next_a : next_b;
        if (!moved && ustack_memlink_pending(s->la) + ustack_memlink_pending(s->lb) == 0)
            s->now = next != USTACK_NEVER && next > s->now ? next : s->now + ROUND_US;
        else
            s->now += ROUND_US;
    }
    if (asd >= 0)
        ustack_close(s->b, asd);
    ustack_close(s->b, lsd);
    return got;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    uint64_t bytes = 64ull << 20;
    int runs = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--bytes") && bench_parse_size(argv[i + 1], &bytes) == 0)
            continue;
        if (!strcmp(argv[i], "--runs") && (runs = atoi(argv[i + 1])) > 0 && runs <= 99)
            continue;
        fprintf(stderr, "usage: sim_bench [--bytes N] [--runs R]\n");
        return 2;
    }
    double ns_per_mib[99];
    uint64_t virt_us = 0;
    for (int r = 0; r < runs; r++) {
        static struct sim s;
        memset(&s, 0, sizeof(s));
        s.now = 1000000;
        s.pattern = bench_pattern_new();
        if (!s.pattern || ustack_memlink_pair(USTACK_LINK_IP, 1500, LINK_CAPACITY, &s.la, &s.lb) < 0)
            return 1;
        s.a = make_stack(s.la, ADDR_A, 0x11, s.now);
        s.b = make_stack(s.lb, ADDR_B, 0x22, s.now);
        if (!s.a || !s.b)
            return 1;
        uint64_t v0 = s.now, t0 = bench_now_ns();
        uint64_t got = sim_transfer(&s, bytes);
        uint64_t t1 = bench_now_ns();
        virt_us = s.now - v0;
        if (got != bytes) {
            printf("RESULT mode=sim status=error got=%llu\n", (unsigned long long)got);
            return 1;
        }
        ns_per_mib[r] = (double)(t1 - t0) / ((double)bytes / (1 << 20));
        ustack_free(s.a);
        ustack_free(s.b);
        ustack_link_close(s.la);
        ustack_link_close(s.lb);
        free(s.pattern);
    }
    qsort(ns_per_mib, (size_t)runs, sizeof(double), cmp_double);
    printf("RESULT mode=sim status=ok bytes=%llu runs=%d us_per_mib=%.1f virtual_us=%llu\n",
           (unsigned long long)bytes, runs, ns_per_mib[runs / 2] / 1e3,
           (unsigned long long)virt_us);
    return 0;
}
