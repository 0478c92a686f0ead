/*
 * The event loop (src/api/runner.c), driven without root: the "device" is
 * one end of an AF_UNIX SOCK_SEQPACKET pair, which like a TUN fd delivers
 * one whole frame per read and can be polled. The test plays the kernel on
 * the other end.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "test.h"
#include "ustack/icmp.h"
#include "ustack/runner.h"
#include "ustack/ustack.h"

#define RT_ADDR 0x0a000002u /* the stack */
#define RT_PEER 0x0a000001u /* the test */

/* ---- a pollable link over a socket pair ---------------------------------- */

static int sock_send(struct ustack_link *l, const void *f, size_t n)
{
    return send(l->fd, f, n, MSG_DONTWAIT) == (ssize_t)n ? 0 : -errno;
}

static ssize_t sock_recv(struct ustack_link *l, void *b, size_t cap)
{
    ssize_t n = recv(l->fd, b, cap, MSG_DONTWAIT);
    if (n > 0)
        return n;
    if (n == 0)
        return -ECONNRESET; /* peer gone: a device that disappeared */
    return errno == EAGAIN ? 0 : -errno;
}

static void sock_close(struct ustack_link *l)
{
    close(l->fd);
    free(l);
}

static const struct ustack_link_ops sock_ops = {.send = sock_send, .recv = sock_recv,
                                                .close = sock_close};

struct rt {
    struct ustack_link *link;
    int peer; /* the test's end */
    struct ustack *st;
    struct ustack_runner *r;
};

static int rt_open(struct rt *t)
{
    memset(t, 0, sizeof(*t));
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    t->link = calloc(1, sizeof(*t->link));
    t->link->ops = &sock_ops;
    t->link->kind = USTACK_LINK_IP;
    t->link->mtu = 1500;
    t->link->fd = sv[0];
    t->peer = sv[1];
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = RT_ADDR;
    cfg.netmask = 0xffffff00u;
    cfg.has_secret = true;
    t->st = ustack_new(&cfg, t->link, ustack_clock_us());
    t->r = t->st ? ustack_runner_new(t->st, t->link) : NULL;
    return t->r ? 0 : -1;
}

static void rt_close(struct rt *t)
{
    ustack_runner_free(t->r);
    ustack_free(t->st);
    ustack_link_close(t->link);
    if (t->peer >= 0)
        close(t->peer);
}

/* An ICMP echo request from the peer to the stack, `data` bytes of data. */
static size_t echo_request(uint8_t *f, uint16_t seq, size_t data)
{
    size_t len = 20 + 8 + data;
    memset(f, 0, len);
    f[0] = 0x45;
    put_be16(f + 2, (uint16_t)len);
    f[8] = 64;
    f[9] = 1;
    put_be32(f + 12, RT_PEER);
    put_be32(f + 16, RT_ADDR);
    put_be16(f + 10, cksum_finish(cksum_add(0, f, 20)));
    uint8_t *icmp = f + 20;
    icmp[0] = 8;
    put_be16(icmp + 4, 0x1234);
    put_be16(icmp + 6, seq);
    for (size_t i = 0; i < data; i++)
        icmp[8 + i] = (uint8_t)i;
    put_be16(icmp + 2, cksum_finish(cksum_add(0, icmp, 8 + data)));
    return len;
}

/* Read one frame from the peer end, waiting at most 2 s. */
static ssize_t peer_read(struct rt *t, uint8_t *buf, size_t cap)
{
    struct pollfd p = {t->peer, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1)
        return -1;
    return recv(t->peer, buf, cap, MSG_DONTWAIT);
}

/* Run the runner on a thread. */
static void *run_thread(void *arg)
{
    struct rt *t = arg;
    return (void *)(intptr_t)ustack_runner_run(t->r);
}

static uint64_t stat_of(struct rt *t, const char *name)
{
    struct ustack_stats s;
    size_t n;
    ustack_get_stats(t->st, &s);
    const struct ustack_stat_info *tab = ustack_stat_table(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tab[i].name, name))
            return ustack_stat_value(&s, &tab[i]);
    return UINT64_MAX;
}

/* ---- tests ------------------------------------------------------------------ */

TEST(runner_clock_is_monotonic_microseconds)
{
    uint64_t a = ustack_clock_us();
    usleep(2000);
    uint64_t b = ustack_clock_us();
    CHECK(b >= a + 2000);
    CHECK(b < a + 2000000); /* microseconds, not nanoseconds */
    /* Unix time now: after 2020-01-01, before 2100-01-01. */
    int64_t unix_us = (int64_t)ustack_clock_us() + ustack_clock_unix_offset_us();
    CHECK(unix_us > 1577836800LL * 1000000);
    CHECK(unix_us < 4102444800LL * 1000000);
}

TEST(runner_stop_before_run_returns_at_once)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    ustack_runner_stop(t.r);
    CHECK_EQ(ustack_runner_run(t.r), 0);
    CHECK_EQ(ustack_runner_run(t.r), 0); /* stays stopped */
    rt_close(&t);
}

TEST(runner_answers_echo_and_stops_from_another_thread)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, run_thread, &t) == 0);
    uint8_t f[1600];
    size_t len = echo_request(f, 7, 100);
    CHECK(send(t.peer, f, len, 0) == (ssize_t)len);
    uint8_t got[1600];
    ssize_t n = peer_read(&t, got, sizeof(got));
    CHECK_EQ(n, len);
    if (n == (ssize_t)len) {
        CHECK_EQ(get_be32(got + 12), RT_ADDR); /* from the stack */
        CHECK_EQ(got[20], 0);                  /* echo reply */
        CHECK_EQ(get_be16(got + 26), 7);
        CHECK_MEM(got + 28, f + 28, 100);
    }
    ustack_runner_stop(t.r);
    void *rc;
    pthread_join(th, &rc);
    CHECK_EQ((intptr_t)rc, 0);
    rt_close(&t);
}

static struct ustack_runner *signal_target;

static void stop_on_signal(int sig)
{
    (void)sig;
    ustack_runner_stop(signal_target);
}

static void *send_signal(void *arg)
{
    usleep(20000);
    pthread_kill(*(pthread_t *)arg, SIGUSR2);
    return NULL;
}

TEST(runner_stops_from_a_signal_handler)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    signal_target = t.r;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = stop_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, &old);
    pthread_t self = pthread_self(), th;
    REQUIRE(pthread_create(&th, NULL, send_signal, &self) == 0);
    uint64_t start = ustack_clock_us();
    CHECK_EQ(ustack_runner_run(t.r), 0);
    CHECK(ustack_clock_us() - start < 2000000);
    pthread_join(th, NULL);
    sigaction(SIGUSR2, &old, NULL);
    rt_close(&t);
}

/* The hook records how many frames the stack had seen at each iteration. */
struct batch_probe {
    struct rt *t;
    uint64_t seen[16];
    int calls;
};

static void record_batch(void *ctx)
{
    struct batch_probe *b = ctx;
    uint64_t rx = stat_of(b->t, "link.rx_frames");
    if (b->calls < 16)
        b->seen[b->calls++] = rx;
    if (rx >= 10 || b->calls >= 16)
        ustack_runner_stop(b->t->r);
}

TEST(runner_reads_at_most_batch_frames_per_iteration)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    uint8_t f[128];
    for (uint16_t i = 0; i < 10; i++) {
        size_t len = echo_request(f, i, 8);
        REQUIRE(send(t.peer, f, len, 0) == (ssize_t)len);
    }
    struct batch_probe b = {.t = &t};
    ustack_runner_set_batch(t.r, 4);
    ustack_runner_set_after_io(t.r, record_batch, &b);
    CHECK_EQ(ustack_runner_run(t.r), 0);
    REQUIRE(b.calls == 3);
    CHECK_EQ(b.seen[0], 4);
    CHECK_EQ(b.seen[1], 8);
    CHECK_EQ(b.seen[2], 10);
    CHECK_EQ(stat_of(&t, "link.rx_batch_limit"), 2);
    CHECK_EQ(stat_of(&t, "icmp.tx_echo_reply"), 10);
    rt_close(&t);
}

struct fd_probe {
    struct rt *t;
    int calls_a, calls_b;
    int fd_a, fd_b;
};

static void on_a(void *ctx, int fd, uint32_t events)
{
    struct fd_probe *p = ctx;
    char c;
    CHECK(events & EPOLLIN);
    CHECK(read(fd, &c, 1) == 1);
    p->calls_a++;
    /* Removing itself and another ready descriptor from inside a
     * callback: neither may be called again. */
    CHECK_EQ(ustack_runner_remove_fd(p->t->r, p->fd_a), 0);
    ustack_runner_remove_fd(p->t->r, p->fd_b);
    ustack_runner_stop(p->t->r);
}

static void on_b(void *ctx, int fd, uint32_t events)
{
    struct fd_probe *p = ctx;
    (void)events;
    char c;
    CHECK(read(fd, &c, 1) == 1);
    p->calls_b++;
    CHECK_EQ(ustack_runner_remove_fd(p->t->r, p->fd_a), 0);
    CHECK_EQ(ustack_runner_remove_fd(p->t->r, p->fd_b), 0);
    ustack_runner_stop(p->t->r);
}

TEST(runner_app_fds_call_back_and_can_be_removed_inside_callbacks)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    int a[2], b[2];
    REQUIRE(pipe(a) == 0 && pipe(b) == 0);
    struct fd_probe p = {.t = &t, .fd_a = a[0], .fd_b = b[0]};
    CHECK_EQ(ustack_runner_add_fd(t.r, a[0], EPOLLIN, on_a, &p), 0);
    CHECK_EQ(ustack_runner_add_fd(t.r, b[0], EPOLLIN, on_b, &p), 0);
    CHECK_EQ(ustack_runner_add_fd(t.r, a[0], EPOLLIN, on_a, &p), -EEXIST);
    CHECK_EQ(ustack_runner_add_fd(t.r, t.link->fd, EPOLLIN, on_a, &p), -EEXIST);
    CHECK_EQ(ustack_runner_add_fd(t.r, -1, EPOLLIN, on_a, &p), -EINVAL);
    /* Both ready at once: whichever runs first removes both. */
    CHECK(write(a[1], "x", 1) == 1);
    CHECK(write(b[1], "y", 1) == 1);
    CHECK_EQ(ustack_runner_run(t.r), 0);
    CHECK_EQ(p.calls_a + p.calls_b, 1);
    CHECK_EQ(ustack_runner_remove_fd(t.r, a[0]), -ENOENT);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    rt_close(&t);
}

struct ping_from_thread {
    struct rt *t;
    int rc;
    uint64_t stack_now; /* the stack's clock just after taking the lock */
};

static void *ping_thread(void *arg)
{
    struct ping_from_thread *p = arg;
    ustack_runner_lock(p->t->r);
    p->stack_now = ustack_now(p->t->st);
    p->rc = ustack_ping_send(p->t->st, RT_PEER, 1, 1, "hi", 2);
    ustack_runner_unlock(p->t->r);
    return NULL;
}

TEST(runner_lock_lets_other_threads_use_the_stack)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    pthread_t runner, other;
    REQUIRE(pthread_create(&runner, NULL, run_thread, &t) == 0);
    usleep(10000); /* let the runner go to sleep in epoll first */
    struct ping_from_thread p = {.t = &t, .rc = -1};
    uint64_t before = ustack_clock_us();
    REQUIRE(pthread_create(&other, NULL, ping_thread, &p) == 0);
    pthread_join(other, NULL);
    CHECK_EQ(p.rc, 0);
    uint8_t got[128];
    ssize_t n = peer_read(&t, got, sizeof(got));
    CHECK_EQ(n, 20 + 8 + 2);
    CHECK(n > 20 && got[20] == 8); /* an echo request, to the peer */
    /* The runner last looked at the clock before `before`, then slept:
     * only taking the lock can have brought the stack's clock this far. */
    CHECK(p.stack_now >= before);
    ustack_runner_stop(t.r);
    pthread_join(runner, NULL);
    rt_close(&t);
}

TEST(runner_returns_the_link_error)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    close(t.peer); /* the device goes away */
    t.peer = -1;
    CHECK_EQ(ustack_runner_run(t.r), -ECONNRESET);
    rt_close(&t);
}

TEST(runner_batch_is_clamped)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    /* 0 would never read; the runner makes it 1. Proven by a frame being
     * answered with batch 0 requested. */
    ustack_runner_set_batch(t.r, 0);
    uint8_t f[64];
    size_t len = echo_request(f, 1, 0);
    REQUIRE(send(t.peer, f, len, 0) == (ssize_t)len);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, run_thread, &t) == 0);
    uint8_t got[64];
    CHECK_EQ(peer_read(&t, got, sizeof(got)), len);
    ustack_runner_stop(t.r);
    pthread_join(th, NULL);
    rt_close(&t);
}

/* CPU time the runner thread th has used, microseconds. */
static uint64_t thread_cpu_us(pthread_t th)
{
    clockid_t id;
    struct timespec ts;
    if (pthread_getcpuclockid(th, &id) != 0 || clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Busy polling: after a frame the runner keeps checking (spending CPU)
 * for the window, then sleeps (spending none); frames that come during or
 * after the window are answered, and stop() ends the spinning at once. */
TEST(runner_busy_poll_spins_for_the_window_then_sleeps)
{
    struct rt t;
    REQUIRE(rt_open(&t) == 0);
    ustack_runner_set_busy_poll(t.r, 400000); /* 400 ms */
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, run_thread, &t) == 0);
    uint8_t f[256], got[256];
    size_t len = echo_request(f, 1, 10);
    REQUIRE(send(t.peer, f, len, 0) == (ssize_t)len);
    CHECK_EQ(peer_read(&t, got, sizeof(got)), len);
    /* Inside the window: spinning. Even on a busy machine the thread gets
     * a good part of 200 ms of CPU. */
    uint64_t c0 = thread_cpu_us(th);
    usleep(200000);
    uint64_t spun = thread_cpu_us(th) - c0;
    CHECK(spun > 20000);
    /* A frame inside the window is answered. */
    len = echo_request(f, 2, 10);
    REQUIRE(send(t.peer, f, len, 0) == (ssize_t)len);
    CHECK_EQ(peer_read(&t, got, sizeof(got)), len);
    /* Long after the window (400 ms from the last frame): asleep. */
    usleep(600000);
    c0 = thread_cpu_us(th);
    usleep(200000);
    uint64_t slept = thread_cpu_us(th) - c0;
    CHECK(slept < 20000);
    /* A frame wakes it as usual, and stop() ends the next spin at once. */
    len = echo_request(f, 3, 10);
    REQUIRE(send(t.peer, f, len, 0) == (ssize_t)len);
    CHECK_EQ(peer_read(&t, got, sizeof(got)), len);
    uint64_t stop_at = ustack_clock_us();
    ustack_runner_stop(t.r);
    pthread_join(th, NULL);
    CHECK(ustack_clock_us() - stop_at < 200000);
    rt_close(&t);
}
