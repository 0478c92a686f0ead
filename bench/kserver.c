/*
 * kserver: the kernel reference server of `make bench`.
 *
 * The same three services as ustack_bench (bench_common.h: sink, source,
 * echo), on ordinary Linux sockets, single-threaded on epoll like
 * ustack's runner, so "kernel over veth" and "ustack over TUN" differ only
 * in the stack under the server.
 *
 *   kserver [--addr A.B.C.D] [--max-conns N]
 *
 * Prints "ready" once listening; runs until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

#define SCRATCH_SIZE (64 * 1024)

enum service { SVC_NONE, SVC_SINK, SVC_SOURCE, SVC_ECHO };

struct conn {
    uint8_t svc;
    uint8_t req_len;
    bool done_reading;
    uint8_t req[8];
    uint64_t count, pos;
    uint8_t *pend;
    uint32_t pend_off, pend_len;
};

static volatile sig_atomic_t stopping;
static int epfd, lfd[4];
static struct conn *conns;
static unsigned max_fd;
static uint8_t *pattern, scratch[SCRATCH_SIZE];

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static bool listeners_paused;

/* Out of descriptors: stop watching the listeners (level-triggered, they
 * would wake us in a loop) until a connection closes. */
static void listeners_watch(bool on)
{
    for (int s = SVC_SINK; s <= SVC_ECHO; s++) {
        struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.fd = lfd[s]};
        epoll_ctl(epfd, EPOLL_CTL_MOD, lfd[s], &ev);
    }
    listeners_paused = !on;
}

static void conn_close(int fd)
{
    free(conns[fd].pend);
    memset(&conns[fd], 0, sizeof(conns[fd]));
    close(fd); /* also leaves the epoll set */
    if (listeners_paused)
        listeners_watch(true);
}

static bool would_block(ssize_t n)
{
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

static bool sink_run(int fd, struct conn *c)
{
    for (;;) {
        ssize_t n = read(fd, scratch, sizeof(scratch));
        if (would_block(n))
            return true;
        if (n < 0)
            return false;
        if (n == 0) {
            uint8_t cnt[8];
            bench_put_be64(cnt, c->count);
            if (write(fd, cnt, sizeof(cnt)) < 0)
                return false;
            return false;
        }
        c->count += (uint64_t)n;
    }
}

static bool source_run(int fd, struct conn *c)
{
    while (c->req_len < sizeof(c->req)) {
        ssize_t n = read(fd, c->req + c->req_len, sizeof(c->req) - c->req_len);
        if (would_block(n))
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
        ssize_t n = write(fd, pattern + off, len);
        if (would_block(n))
            return true;
        if (n < 0)
            return false;
        c->pos += (uint64_t)n;
        c->count -= (uint64_t)n;
    }
    return false;
}

static bool echo_flush(int fd, struct conn *c)
{
    while (c->pend_len > 0) {
        ssize_t n = write(fd, c->pend + c->pend_off, c->pend_len);
        if (would_block(n))
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

static bool echo_run(int fd, struct conn *c)
{
    for (;;) {
        if (!echo_flush(fd, c))
            return false;
        if (c->pend_len > 0)
            return true;
        if (c->done_reading)
            return false;
        ssize_t n = read(fd, scratch, sizeof(scratch));
        if (would_block(n))
            return true;
        if (n < 0)
            return false;
        if (n == 0) {
            c->done_reading = true;
            continue;
        }
        ssize_t w = write(fd, scratch, (size_t)n);
        if (w < 0 && !would_block(w))
            return false;
        size_t sent = w > 0 ? (size_t)w : 0;
        if (sent < (size_t)n) {
            c->pend_len = (uint32_t)((size_t)n - sent);
            if (!(c->pend = malloc(c->pend_len)))
                return false;
            memcpy(c->pend, scratch + sent, c->pend_len);
        }
    }
}

static void conn_run(int fd)
{
    struct conn *c = &conns[fd];
    bool open;
    switch (c->svc) {
    case SVC_SINK: open = sink_run(fd, c); break;
    case SVC_SOURCE: open = source_run(fd, c); break;
    case SVC_ECHO: open = echo_run(fd, c); break;
    default: return;
    }
    if (!open)
        conn_close(fd);
}

static void accept_all(enum service svc)
{
    for (;;) {
        int fd = accept4(lfd[svc], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE))
            listeners_watch(false);
        if (fd < 0)
            return;
        bench_set_congestion(fd);
        if ((unsigned)fd >= max_fd) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* Edge-triggered, like ustack's readiness: work until EAGAIN. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.fd = fd};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
        conns[fd].svc = (uint8_t)svc;
        conn_run(fd);
    }
}

static int open_listener(enum service svc, const char *addr, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, addr, &sin.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4096) < 0) {
        perror("kserver: listen");
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    lfd[svc] = fd;
    return 0;
}

static void dispatch(int fd)
{
    for (int s = SVC_SINK; s <= SVC_ECHO; s++)
        if (lfd[s] == fd) {
            accept_all((enum service)s);
            return;
        }
    if ((unsigned)fd < max_fd)
        conn_run(fd);
}

int main(int argc, char **argv)
{
    const char *addr = "0.0.0.0";
    max_fd = 65536;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--addr"))
            addr = argv[i + 1];
        else if (!strcmp(argv[i], "--max-conns"))
            max_fd = (unsigned)strtoul(argv[i + 1], NULL, 10) + 64;
    }
    struct rlimit rl = {.rlim_cur = max_fd, .rlim_max = max_fd};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        /* No CAP_SYS_RESOURCE: as many as the hard limit allows. */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        fprintf(stderr, "kserver: descriptors limited to %llu\n",
                (unsigned long long)rl.rlim_cur);
    }
    conns = calloc(max_fd, sizeof(*conns));
    pattern = bench_pattern_new();
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || !pattern || epfd < 0)
        return 1;
    if (open_listener(SVC_SINK, addr, BENCH_PORT_SINK) < 0 ||
        open_listener(SVC_SOURCE, addr, BENCH_PORT_SOURCE) < 0 ||
        open_listener(SVC_ECHO, addr, BENCH_PORT_ECHO) < 0)
        return 1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN); /* a client that gave up: EPIPE, not death */
    printf("ready\n");
    fflush(stdout);
    struct epoll_event ev[128];
    while (!stopping) {
        int n = epoll_wait(epfd, ev, 128, 200);
        for (int i = 0; i < n; i++)
            dispatch(ev[i].data.fd);
    }
    return 0;
}
