/*
 * ustack_bench: the ustack side of `make bench`.
 *
 * A server on the event API (ustack/socket.h) over a TUN device, offering
 * the three benchmark services of bench_common.h (sink, source, echo) to
 * the kernel-side load generator. Being a server in every test keeps the
 * kernel side the same for ustack and for the kernel reference; the source
 * service is how ustack -> kernel bulk is measured, with ustack's own send
 * path and nothing else in the way.
 *
 *   ustack_bench --netns NS [--ifname IF] [--kernel-addr A.B.C.D/LEN]
 *                [--addr A.B.C.D] [--max-conns N] [--batch FRAMES]
 *                [--busy-poll USEC] [--status FILE] [--rto-min MS]
 *                [--congestion cubic|newreno|bbr] [--impair SPEC]
 *
 * --busy-poll USEC turns on the runner's busy polling (off by default; see
 * ustack_runner_set_busy_poll): the benchmark's "busy poll" rows use it.
 * --rto-min and --congestion set the stack's configuration of the same
 * names (tcp.rto_min_ms, tcp.congestion): the loss rows use them to match
 * the kernel they are compared with (its 200 ms minimum RTO, and the same
 * algorithm on both sides). --impair wraps the TUN device in the seeded
 * impairment decorator (ustack/impair.h, the spec syntax of `ustack
 * --impair`): the loss rows drop frames ustack receives with it, after
 * the kernel sent them, which is a loss the kernel's TCP sees (iptables
 * in OUTPUT would refuse them inside the kernel's send call instead,
 * which the kernel's TCP takes as "try again", not as a loss).
 *
 * With --status, FILE is rewritten four times a second with the number of
 * TCP connections ustack holds: "active N" (neither listening nor in
 * TIME-WAIT) and "time_wait N", so the benchmark can tell when the
 * connections of a test are all gone.
 *
 * Prints "ready" once listening. On SIGTERM or SIGINT it prints its
 * counters and exits. Per-connection state is one small struct in a table
 * allocated once (its pages are only touched as descriptors are used), and
 * echo holds bytes only while the send buffer is full, so an idle
 * connection costs the application almost nothing: the hold test's RSS
 * growth is ustack's own.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bench_common.h"
#include "ustack/impair.h"
#include "ustack/runner.h"
#include "ustack/socket.h"
#include "ustack/tcp_info.h"
#include "ustack/ustack.h"

#define POLL_BATCH 128
#define POLL_ROUNDS 64
#define SCRATCH_SIZE (64 * 1024)

enum service { SVC_NONE, SVC_SINK, SVC_SOURCE, SVC_ECHO };

struct conn {
    uint8_t svc;        /* enum service; SVC_NONE = slot free */
    uint8_t req_len;    /* source: request bytes received so far */
    bool done_reading;  /* sink: peer's FIN seen */
    uint8_t req[8];
    uint64_t count;     /* sink: bytes received; source: bytes left to send */
    uint64_t pos;       /* source: offset in the pattern */
    uint8_t *pend;      /* echo: bytes the send buffer refused, or NULL */
    uint32_t pend_off, pend_len;
};

struct bench {
    struct ustack *st;
    struct ustack_runner *runner;
    int lsd[4];          /* listeners by service */
    struct conn *conns;  /* indexed by socket descriptor */
    unsigned max_conns;
    uint8_t *pattern;
    const char *status_path; /* --status FILE, or NULL */
    uint8_t scratch[SCRATCH_SIZE];
};

static struct ustack_runner *signal_runner;

static void on_signal(int sig)
{
    (void)sig;
    if (signal_runner)
        ustack_runner_stop(signal_runner);
}

static void conn_close(struct bench *b, int sd)
{
    struct conn *c = &b->conns[sd];
    free(c->pend);
    memset(c, 0, sizeof(*c));
    ustack_close(b->st, sd);
}

/* ---- services ---------------------------------------------------------------- */

/* Read and count until nothing is left; at the FIN, answer with the count.
 * Returns false when the connection is finished. */
static bool sink_run(struct bench *b, int sd, struct conn *c)
{
    for (;;) {
        ssize_t n = ustack_recv(b->st, sd, b->scratch, sizeof(b->scratch), 0);
        if (n == -EAGAIN)
            return true;
        if (n < 0)
            return false;
        if (n == 0) {
            uint8_t cnt[8];
            bench_put_be64(cnt, c->count);
            /* Nothing else was ever sent, so the buffer has room. */
            ustack_send(b->st, sd, cnt, sizeof(cnt), 0);
            return false; /* close: FIN follows the count */
        }
        c->count += (uint64_t)n;
    }
}

static bool source_run(struct bench *b, int sd, struct conn *c)
{
    while (c->req_len < sizeof(c->req)) {
        ssize_t n = ustack_recv(b->st, sd, c->req + c->req_len, sizeof(c->req) - c->req_len, 0);
        if (n == -EAGAIN)
            return true;
        if (n <= 0)
            return false;
        c->req_len += (uint8_t)n;
        if (c->req_len == sizeof(c->req))
            c->count = bench_get_be64(c->req);
    }
    while (c->count > 0) {
        size_t off = (size_t)(c->pos % BENCH_PATTERN_PERIOD);
        size_t len = c->count < BENCH_PATTERN_PERIOD ? (size_t)c->count : BENCH_PATTERN_PERIOD;
        ssize_t n = ustack_send(b->st, sd, b->pattern + off, len, 0);
        if (n == -EAGAIN)
            return true;
        if (n < 0)
            return false;
        c->pos += (uint64_t)n;
        c->count -= (uint64_t)n;
    }
    return false; /* all queued: close sends FIN after it */
}

/* Push out held echo bytes; false when the connection failed. */
static bool echo_flush(struct bench *b, int sd, struct conn *c)
{
    while (c->pend_len > 0) {
        ssize_t n = ustack_send(b->st, sd, c->pend + c->pend_off, c->pend_len, 0);
        if (n == -EAGAIN)
            return true;
        if (n < 0)
            return false;
        c->pend_off += (uint32_t)n;
        c->pend_len -= (uint32_t)n;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_off = 0;
    return true;
}

/* Echo reads only while nothing is held back, so a client that does not
 * read fills TCP's window, not our memory. */
static bool echo_run(struct bench *b, int sd, struct conn *c)
{
    for (;;) {
        if (!echo_flush(b, sd, c))
            return false;
        if (c->pend_len > 0)
            return true; /* WRITABLE brings us back */
        if (c->done_reading)
            return false;
        ssize_t n = ustack_recv(b->st, sd, b->scratch, sizeof(b->scratch), 0);
        if (n == -EAGAIN)
            return true;
        if (n < 0)
            return false;
        if (n == 0) {
            c->done_reading = true;
            continue;
        }
        ssize_t w = ustack_send(b->st, sd, b->scratch, (size_t)n, 0);
        if (w < 0 && w != -EAGAIN)
            return false;
        size_t sent = w > 0 ? (size_t)w : 0;
        if (sent < (size_t)n) {
            c->pend_len = (uint32_t)((size_t)n - sent);
            c->pend = malloc(c->pend_len);
            if (!c->pend)
                return false;
            memcpy(c->pend, b->scratch + sent, c->pend_len);
        }
    }
}

static void conn_run(struct bench *b, int sd)
{
    struct conn *c = &b->conns[sd];
    bool open;
    switch (c->svc) {
    case SVC_SINK: open = sink_run(b, sd, c); break;
    case SVC_SOURCE: open = source_run(b, sd, c); break;
    case SVC_ECHO: open = echo_run(b, sd, c); break;
    default: return;
    }
    if (!open)
        conn_close(b, sd);
}

/* ---- accepting and events ------------------------------------------------------ */

static void accept_all(struct bench *b, enum service svc)
{
    for (;;) {
        int sd = ustack_accept(b->st, b->lsd[svc], NULL, NULL);
        if (sd < 0)
            return;
        if ((unsigned)sd >= b->max_conns) {
            ustack_close(b->st, sd);
            continue;
        }
        ustack_setsockopt(b->st, sd, USTACK_TCP_NODELAY, 1);
        b->conns[sd].svc = (uint8_t)svc;
        conn_run(b, sd); /* data may have come with the handshake */
    }
}

static void dispatch(struct bench *b, int sd)
{
    for (int s = SVC_SINK; s <= SVC_ECHO; s++)
        if (b->lsd[s] == sd) {
            accept_all(b, (enum service)s);
            return;
        }
    if (sd >= 0 && (unsigned)sd < b->max_conns)
        conn_run(b, sd);
}

/* The runner's after_io hook: work through every socket whose readiness
 * changed, including those our own calls changed. */
static void drain_events(void *ctx)
{
    struct bench *b = ctx;
    struct ustack_event ev[POLL_BATCH];
    for (int round = 0; round < POLL_ROUNDS; round++) {
        int n = ustack_poll(b->st, ev, POLL_BATCH);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++)
            dispatch(b, ev[i].sd);
    }
    ustack_runner_wake(b->runner); /* more to do after the next read */
}

/* ---- status file ------------------------------------------------------------------- */

struct conn_count {
    int active, time_wait;
};

static void count_one(void *ctx, const struct ustack_tcp_info *info)
{
    struct conn_count *n = ctx;
    if (!strcmp(info->state, "TIME-WAIT"))
        n->time_wait++;
    else if (strcmp(info->state, "LISTEN") != 0)
        n->active++;
}

/* Runs on the runner's thread (lock held) four times a second: write the
 * connection count to a temporary file and rename it over the status file,
 * so a reader never sees half a line. */
static void on_status_tick(void *ctx, int fd, uint32_t events)
{
    struct bench *b = ctx;
    uint64_t expirations;
    (void)events;
    if (read(fd, &expirations, sizeof(expirations)) < 0)
        return;
    struct conn_count n = {0, 0};
    ustack_tcp_connections(b->st, count_one, &n);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", b->status_path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "active %d\ntime_wait %d\n", n.active, n.time_wait);
    if (fclose(f) == 0)
        rename(tmp, b->status_path);
}

static int start_status(struct bench *b)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {{0, 250000000}, {0, 1000000}};
    if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0 ||
        ustack_runner_add_fd(b->runner, fd, EPOLLIN, on_status_tick, b) < 0) {
        fprintf(stderr, "ustack_bench: cannot start the status timer\n");
        return -1;
    }
    return 0;
}

/* ---- setup ------------------------------------------------------------------------ */

struct args {
    const char *netns, *ifname, *kernel_cidr, *addr, *status;
    unsigned max_conns, batch, busy_poll_us, rto_min_ms;
    int congestion; /* enum ustack_tcp_cc; 0: the default */
    const char *impair; /* --impair SPEC, or NULL */
};

static int open_listener(struct bench *b, enum service svc, uint16_t port)
{
    int sd = ustack_socket(b->st, USTACK_SOCK_STREAM);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (sd < 0 || ustack_setsockopt(b->st, sd, USTACK_SO_REUSEADDR, 1) < 0 ||
        ustack_bind(b->st, sd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        ustack_listen(b->st, sd, 4096) < 0) {
        fprintf(stderr, "ustack_bench: cannot listen on port %u\n", port);
        return -1;
    }
    b->lsd[svc] = sd;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    *a = (struct args){.ifname = "ubench0", .kernel_cidr = "10.77.0.1/24",
                       .addr = "10.77.0.2", .max_conns = 65536, .batch = 0};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--netns"))
            a->netns = v;
        else if (!strcmp(k, "--ifname"))
            a->ifname = v;
        else if (!strcmp(k, "--kernel-addr"))
            a->kernel_cidr = v;
        else if (!strcmp(k, "--addr"))
            a->addr = v;
        else if (!strcmp(k, "--max-conns"))
            a->max_conns = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--batch"))
            a->batch = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--busy-poll"))
            a->busy_poll_us = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--status"))
            a->status = v;
        else if (!strcmp(k, "--rto-min"))
            a->rto_min_ms = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--congestion"))
            a->congestion = ustack_tcp_cc_from_name(v);
        else if (!strcmp(k, "--impair"))
            a->impair = v;
        else
            return -1;
        if (a->congestion < 0)
            return -1;
    }
    return argc % 2 == 1 && a->max_conns >= 16 ? 0 : -1;
}

static struct ustack_link *open_tun(const struct args *a)
{
    uint32_t kaddr;
    unsigned prefix;
    if (ustack_parse_cidr(a->kernel_cidr, &kaddr, &prefix) < 0)
        return NULL;
    struct ustack_tun_config tc = {.ifname = a->ifname, .netns = a->netns,
                                   .kernel_addr = kaddr, .prefix_len = prefix, .mtu = 1500};
    char err[256];
    struct ustack_link *link = ustack_tun_open(&tc, err, sizeof(err));
    if (!link) {
        fprintf(stderr, "ustack_bench: %s\n", err);
        return NULL;
    }
    if (!a->impair)
        return link;
    struct ustack_impair_config ic;
    ustack_impair_config_init(&ic);
    struct ustack_link *w = NULL;
    if (ustack_impair_parse(a->impair, &ic, err, sizeof(err)) < 0)
        fprintf(stderr, "ustack_bench: --impair: %s\n", err);
    else if (!(w = ustack_impair_wrap(link, &ic)))
        fprintf(stderr, "ustack_bench: cannot impair the link\n");
    if (!w)
        ustack_link_close(link);
    return w;
}

static struct ustack *open_stack(const struct args *a, struct ustack_link *link)
{
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    uint32_t kaddr;
    unsigned prefix;
    if (ustack_parse_ipv4(a->addr, &cfg.addr) < 0 ||
        ustack_parse_cidr(a->kernel_cidr, &kaddr, &prefix) < 0)
        return NULL;
    cfg.netmask = prefix ? ~(uint32_t)0 << (32 - prefix) : 0;
    /* The hold test wants every descriptor and connection it can get. */
    cfg.max_sockets = a->max_conns;
    cfg.tcp.max_connections = a->max_conns;
    cfg.tcp.backlog_max = 4096;
    cfg.tcp.rto_min_ms = a->rto_min_ms;        /* 0: the default */
    cfg.tcp.congestion = (unsigned)a->congestion;
    return ustack_new(&cfg, link, ustack_clock_us());
}

int main(int argc, char **argv)
{
    struct args a;
    if (parse_args(argc, argv, &a) < 0) {
        fprintf(stderr, "usage: ustack_bench --netns NS [--ifname IF] [--kernel-addr A/LEN] "
                        "[--addr A] [--max-conns N] [--batch FRAMES] [--busy-poll USEC] "
                        "[--status FILE] [--rto-min MS] [--congestion cubic|newreno|bbr] "
                        "[--impair SPEC]\n");
        return 2;
    }
    static struct bench b;
    b.max_conns = a.max_conns;
    b.conns = calloc(a.max_conns, sizeof(*b.conns));
    b.pattern = bench_pattern_new();
    struct ustack_link *link = open_tun(&a);
    if (!b.conns || !b.pattern || !link)
        return 1;
    b.st = open_stack(&a, link);
    if (!b.st || !(b.runner = ustack_runner_new(b.st, link))) {
        fprintf(stderr, "ustack_bench: cannot create the stack\n");
        return 1;
    }
    if (a.batch)
        ustack_runner_set_batch(b.runner, a.batch);
    ustack_runner_set_busy_poll(b.runner, a.busy_poll_us);
    if (open_listener(&b, SVC_SINK, BENCH_PORT_SINK) < 0 ||
        open_listener(&b, SVC_SOURCE, BENCH_PORT_SOURCE) < 0 ||
        open_listener(&b, SVC_ECHO, BENCH_PORT_ECHO) < 0)
        return 1;
    ustack_runner_set_after_io(b.runner, drain_events, &b);
    b.status_path = a.status;
    if (b.status_path && start_status(&b) < 0)
        return 1;
    signal_runner = b.runner;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("ready\n");
    fflush(stdout);
    int rc = ustack_runner_run(b.runner);
    printf("counters:\n");
    ustack_print_stats(b.st, stdout, false);
    ustack_impair_print(link, stdout, false); /* nothing without --impair */
    ustack_runner_free(b.runner);
    ustack_free(b.st);
    ustack_link_close(link);
    free(b.conns);
    free(b.pattern);
    return rc < 0 ? 1 : 0;
}
