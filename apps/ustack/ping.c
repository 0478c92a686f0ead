/*
 * `ustack ping`: ustack sends ICMP echo requests (RFC 792) and reports the
 * replies the way ping(8) does.
 *
 * Requests go out on a timerfd watched by the runner; replies arrive via
 * the stack's echo reply handler with the stack's receive time. Send times
 * are kept in a ring indexed by sequence number, so memory stays bounded
 * however long the ping runs; a reply older than the ring is ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "options.h"
#include "session.h"
#include "ustack/icmp.h"

#define ICMP_ECHO_HDR 8
#define IPV4_HDR 20
#define MAX_PAYLOAD (65535 - IPV4_HDR - ICMP_ECHO_HDR)
#define RING 1024 /* requests remembered for matching replies */

enum { KEY_TIMEOUT = CLI_LONG_ONLY + 1 };

static const struct cli_option ping_options[] = {
    {"count", 'c', "COUNT", "send COUNT requests (default 0: until Ctrl-C)"},
    {"size", 's', "BYTES", "data bytes per request (default 56)"},
    {"interval", 'i', "MS", "milliseconds between requests (default 1000)"},
    {"timeout", KEY_TIMEOUT, "MS", "wait for replies after the last (default 2000)"},
    {0, 0, 0, 0},
};

static const struct cli_command ping_command = {
    .name = "ping",
    .synopsis = "[OPTIONS] DEST",
    .description =
        "Bring ustack up like `ustack up`, then have ustack itself ping DEST (normally\n"
        "the kernel side, --kernel-addr) and print one line per reply with its\n"
        "round-trip time, then a summary. ustack keeps answering pings meanwhile.\n"
        "Exit status: 0 if any reply arrived, 1 if none, 2 on a usage error.\n\n"
        "Example:\n"
        "  ustack ping -c 3 10.0.0.1",
    .options = ping_options,
    .stack_options = true,
    .min_operands = 1,
    .max_operands = 1,
};

struct ping {
    struct cli_session *s;
    uint32_t dst;
    uint16_t id;
    unsigned long count, size, interval_ms, timeout_ms;
    int timerfd;
    bool lingering;            /* all requests sent; waiting for the rest */

    unsigned long sent, received, duplicates, corrupted, send_errors;
    uint64_t start_us;
    uint64_t sent_at[RING];    /* 0: slot unused */
    uint16_t seq_of[RING];
    bool answered[RING];
    double rtt_min, rtt_max, rtt_sum, rtt_sum2; /* milliseconds */

    uint8_t *payload;          /* the pattern every request carries */
};

/* ---- options ------------------------------------------------------------- */

static int ping_option(void *ctx, int key, const char *arg, char *err, size_t errlen)
{
    struct ping *p = ctx;
    switch (key) {
    case 'c':
        if (cli_parse_uint(arg, 0, 1000000000, &p->count) == 0)
            return 0;
        snprintf(err, errlen, "-c wants a count (0 = no limit), not '%s'", arg);
        return -1;
    case 's':
        if (cli_parse_uint(arg, 0, MAX_PAYLOAD, &p->size) == 0)
            return 0;
        snprintf(err, errlen, "-s wants a size from 0 to %d, not '%s'", MAX_PAYLOAD, arg);
        return -1;
    case 'i':
        if (cli_parse_uint(arg, 1, 3600000, &p->interval_ms) == 0)
            return 0;
        snprintf(err, errlen, "-i wants milliseconds from 1 to 3600000, not '%s'", arg);
        return -1;
    case KEY_TIMEOUT:
        if (cli_parse_uint(arg, 0, 3600000, &p->timeout_ms) == 0)
            return 0;
        snprintf(err, errlen, "--timeout wants milliseconds up to 3600000, not '%s'", arg);
        return -1;
    }
    snprintf(err, errlen, "unhandled option %d", key);
    return -1;
}

/* ---- timer --------------------------------------------------------------- */

static int arm_timer(struct ping *p, unsigned long first_ms, unsigned long every_ms)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    /* A zero it_value disarms the timer, so "now" is one nanosecond. */
    its.it_value.tv_sec = (time_t)(first_ms / 1000);
    its.it_value.tv_nsec = first_ms ? (long)(first_ms % 1000) * 1000000 : 1;
    its.it_interval.tv_sec = (time_t)(every_ms / 1000);
    its.it_interval.tv_nsec = (long)(every_ms % 1000) * 1000000;
    return timerfd_settime(p->timerfd, 0, &its, NULL);
}

/* ---- sending ------------------------------------------------------------- */

static bool all_sent(const struct ping *p)
{
    return p->count && p->sent + p->send_errors >= p->count;
}

static bool finished(const struct ping *p)
{
    return all_sent(p) && p->received >= p->sent;
}

static void send_one(struct ping *p)
{
    /* ping(8) numbers from 1; the field wraps after 65535. */
    uint16_t seq = (uint16_t)(p->sent + p->send_errors + 1);
    size_t slot = seq % RING;
    uint64_t now = ustack_clock_us();
    int rc = ustack_ping_send(p->s->st, p->dst, p->id, seq, p->payload, p->size);
    if (rc < 0) {
        p->send_errors++;
        cli_error("ping", "icmp_seq=%u: cannot send: %s", seq, strerror(-rc));
        return;
    }
    p->sent++;
    p->sent_at[slot] = now;
    p->seq_of[slot] = seq;
    p->answered[slot] = false;
}

/* The interval timer fired: next request, or the end of the wait. */
static void on_timer(void *ctx, int fd, uint32_t events)
{
    struct ping *p = ctx;
    uint64_t expirations;
    (void)events;
    if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
        return; /* spurious wake-up */
    if (p->lingering) {
        ustack_runner_stop(p->s->runner);
        return;
    }
    send_one(p);
    if (all_sent(p)) {
        p->lingering = true;
        if (finished(p) || arm_timer(p, p->timeout_ms ? p->timeout_ms : 1, 0) < 0)
            ustack_runner_stop(p->s->runner);
    }
}

/* ---- replies ------------------------------------------------------------- */

static void record_rtt(struct ping *p, double ms)
{
    if (p->received == 0 || ms < p->rtt_min)
        p->rtt_min = ms;
    if (ms > p->rtt_max)
        p->rtt_max = ms;
    p->rtt_sum += ms;
    p->rtt_sum2 += ms * ms;
}

static void on_reply(void *ctx, uint32_t from, uint16_t id, uint16_t seq, const void *data,
                     size_t len, uint64_t now)
{
    struct ping *p = ctx;
    size_t slot = seq % RING;
    if (id != p->id || p->seq_of[slot] != seq || !p->sent_at[slot])
        return; /* not ours, or too old to remember */
    char addr[16];
    double ms = (double)(now - p->sent_at[slot]) / 1000.0;
    bool dup = p->answered[slot];
    bool bad = len != p->size || (len && memcmp(data, p->payload, len) != 0);
    printf("%zu bytes from %s: icmp_seq=%u time=%.3f ms%s%s\n", len + ICMP_ECHO_HDR,
           ustack_format_ipv4(from, addr), seq, ms, dup ? " (DUP!)" : "",
           bad ? " (wrong data)" : "");
    if (bad)
        p->corrupted++;
    if (dup) {
        p->duplicates++;
        return;
    }
    p->answered[slot] = true;
    record_rtt(p, ms);
    p->received++;
    if (p->lingering && finished(p))
        ustack_runner_stop(p->s->runner);
}

/* ---- report -------------------------------------------------------------- */

/* Square root by Newton's method: enough for printing, and it spares
 * linking libm (ustack depends on libc and pthreads only). */
static double square_root(double x)
{
    if (x <= 0)
        return 0;
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 64; i++)
        r = (r + x / r) / 2;
    return r;
}

static void print_summary(const struct ping *p, const char *dest)
{
    unsigned long total = p->sent;
    unsigned loss = total ? (unsigned)((total - p->received) * 100 / total) : 0;
    double elapsed_ms = (double)(ustack_clock_us() - p->start_us) / 1000.0;
    printf("\n--- %s ping statistics ---\n", dest);
    printf("%lu packets transmitted, %lu received", total, p->received);
    if (p->duplicates)
        printf(", +%lu duplicates", p->duplicates);
    if (p->corrupted)
        printf(", %lu with wrong data", p->corrupted);
    if (p->send_errors)
        printf(", %lu send errors", p->send_errors);
    printf(", %u%% packet loss, time %.0fms\n", loss, elapsed_ms);
    if (p->received) {
        double avg = p->rtt_sum / (double)p->received;
        double var = p->rtt_sum2 / (double)p->received - avg * avg;
        printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", p->rtt_min, avg, p->rtt_max,
               square_root(var));
    }
}

/* ---- command ------------------------------------------------------------- */

static int run_ping(struct ping *p, const char *dest)
{
    struct cli_session *s = p->s;
    /* Requests larger than the MTU leave in fragments (up to MAX_PAYLOAD). */
    p->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (p->timerfd < 0 || arm_timer(p, 0, p->interval_ms) < 0) {
        cli_error("ping", "cannot create a timer: %s", strerror(errno));
        return 1;
    }
    int rc = ustack_runner_add_fd(s->runner, p->timerfd, EPOLLIN, on_timer, p);
    if (rc < 0) {
        cli_error("ping", "cannot watch the timer: %s", strerror(-rc));
        return 1;
    }
    ustack_set_echo_reply_handler(s->st, on_reply, p);

    char where[96], src[16];
    printf("PING %s from %s %s: %lu data bytes\n", dest, ustack_format_ipv4(s->opts.addr, src),
           cli_session_where(s, where, sizeof(where)), p->size);
    p->start_us = ustack_clock_us();
    rc = cli_session_run(s);
    print_summary(p, dest);
    if (s->opts.verbose)
        cli_session_print_stats(s, "counters");
    if (rc < 0)
        return 1;
    return p->received ? 0 : 1;
}

int cmd_ping(int argc, char **argv)
{
    struct ping *p = calloc(1, sizeof(*p));
    if (!p) {
        cli_error("ping", "out of memory");
        return 1;
    }
    p->size = 56;
    p->interval_ms = 1000;
    p->timeout_ms = 2000;
    p->timerfd = -1;
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    int first, rc = cli_parse(&ping_command, argc, argv, &so, ping_option, p, &first);
    if (rc != CLI_PARSED) {
        free(p);
        return rc == CLI_HELP_SHOWN ? 0 : 2;
    }
    const char *dest = argv[first];
    if (ustack_parse_ipv4(dest, &p->dst) < 0) {
        cli_error("ping", "DEST must be an IPv4 address A.B.C.D, not '%s'", dest);
        free(p);
        return 2;
    }
    p->id = (uint16_t)getpid();
    p->payload = malloc(p->size ? p->size : 1);
    struct cli_session s;
    if (!p->payload || cli_session_open(&s, ping_command.name, &so) < 0) {
        free(p->payload);
        free(p);
        return 1;
    }
    /* ping(8)'s pattern: byte i is i mod 256, easy to spot in a capture. */
    for (size_t i = 0; i < p->size; i++)
        p->payload[i] = (uint8_t)i;
    p->s = &s;
    rc = run_ping(p, dest);
    cli_session_close(&s);
    if (p->timerfd >= 0)
        close(p->timerfd);
    free(p->payload);
    free(p);
    return rc;
}
