/*
 * kclient: the kernel-side load generator of `make bench`.
 *
 * Ordinary Linux sockets, run inside a benchmark namespace with
 * `ip netns exec`. The same client measures ustack (over TUN) and the
 * kernel's own stack (over veth), so the two figures compare like for like.
 *
 *   kclient send  HOST --bytes N    bulk to the sink port; the sink's byte
 *                                   count must come back equal to N
 *   kclient recv  HOST --bytes N    bulk from the source port, every byte
 *                                   checked against the pattern
 *   kclient echo  HOST --bytes N    stream N bytes through the echo port,
 *                                   reading the echo as it comes, checked
 *   kclient rr    HOST --iters N    1-byte request/response on the echo port
 *   kclient crr   HOST --seconds S  connect + abortive close, as fast as it can
 *   kclient hold  HOST --conns N [--pid P] [--bind ADDR]
 *                                   open up to N connections to the echo port
 *                                   (spread over processes when N is above
 *                                   the descriptor limit) and keep them idle;
 *                                   report how many, the RSS of process P
 *                                   before and after, and the kernel's slab
 *                                   growth; then check each one with a
 *                                   1-byte echo
 *   kclient udpblast HOST --port P --seconds S
 *                                   1500-byte IP packets (1472 bytes of UDP
 *                                   payload) as fast as possible
 *   kclient udpsink  ADDR --port P --seconds S
 *                                   receive and count UDP datagrams
 *
 * Every mode is bounded by --seconds (the transfer stops there and the
 * result says status=timeout) and by socket timeouts on every blocking call.
 * The result is one line: "RESULT mode=... status=ok|timeout|error k=v ...".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

/* Under one pattern period, so pat + offset always holds a whole chunk. */
#define CHUNK (60 * 1024)
#define UDP_PAYLOAD 1472 /* + 8 UDP + 20 IP = 1500 */
#define UDP_BATCH 32

struct opts {
    const char *mode, *host;
    const char *bind; /* local address to connect from, or NULL */
    uint64_t bytes;
    unsigned long iters, conns;
    double seconds;
    unsigned port;
    long pid;
};

static struct sockaddr_in peer_addr(const struct opts *o, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, o->host, &a.sin_addr) != 1) {
        fprintf(stderr, "kclient: bad address %s\n", o->host);
        exit(2);
    }
    return a;
}

static void set_timeouts(int fd, double secs)
{
    struct timeval tv = {.tv_sec = (time_t)secs,
                         .tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A connected TCP socket whose blocking calls give up after `timeout` s,
 * or -1. */
static int tcp_connect(const struct opts *o, unsigned port, double timeout)
{
    struct sockaddr_in a = peer_addr(o, port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    set_timeouts(fd, timeout);
    bench_set_congestion(fd);
    if (o->bind) {
        /* The port is still chosen at connect, per destination. */
        int one = 1;
        struct sockaddr_in l = {.sin_family = AF_INET};
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (inet_pton(AF_INET, o->bind, &l.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&l, sizeof(l)) < 0) {
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static double secs_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e9;
}

static void result_transfer(const char *mode, const char *status, uint64_t bytes, double secs)
{
    printf("RESULT mode=%s status=%s bytes=%llu secs=%.6f gbps=%.6f\n", mode, status,
           (unsigned long long)bytes, secs, secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0);
}

static int fail(const char *mode, const char *what)
{
    printf("RESULT mode=%s status=error why=%s errno=%d\n", mode, what, errno);
    return 1;
}

/* ---- bulk ------------------------------------------------------------------ */

static int run_send(const struct opts *o)
{
    static uint8_t pat[2 * BENCH_PATTERN_PERIOD];
    bench_pattern_fill(pat, sizeof(pat));
    int fd = tcp_connect(o, BENCH_PORT_SINK, 5.0);
    if (fd < 0)
        return fail(o->mode, "connect");
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    uint64_t sent = 0;
    const char *status = "ok";
    while (sent < o->bytes) {
        if (bench_now_ns() > deadline) {
            status = "timeout";
            break;
        }
        size_t off = (size_t)(sent % BENCH_PATTERN_PERIOD);
        size_t n = o->bytes - sent < CHUNK ? (size_t)(o->bytes - sent) : CHUNK;
        ssize_t w = write(fd, pat + off, n);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w < 0)
            return fail(o->mode, "write");
        sent += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    /* The sink answers our FIN with its byte count: the end of the
     * transfer is when the last byte was really received. */
    uint8_t cnt[8];
    size_t got = 0;
    while (got < sizeof(cnt) && bench_now_ns() < deadline + 10000000000ull) {
        ssize_t r = read(fd, cnt + got, sizeof(cnt) - got);
        if (r == 0)
            break;
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0)
            return fail(o->mode, "read");
        got += (size_t)r;
    }
    double secs = secs_since(t0);
    close(fd);
    if (got != sizeof(cnt))
        return fail(o->mode, "no-count");
    uint64_t received = bench_get_be64(cnt);
    if (received != sent) {
        printf("RESULT mode=send status=error why=count sent=%llu received=%llu\n",
               (unsigned long long)sent, (unsigned long long)received);
        return 1;
    }
    result_transfer(o->mode, status, received, secs);
    return 0;
}

static int run_recv(const struct opts *o)
{
    static uint8_t pat[2 * BENCH_PATTERN_PERIOD];
    static uint8_t buf[CHUNK];
    bench_pattern_fill(pat, sizeof(pat));
    int fd = tcp_connect(o, BENCH_PORT_SOURCE, 5.0);
    if (fd < 0)
        return fail(o->mode, "connect");
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    uint8_t req[8];
    bench_put_be64(req, o->bytes);
    if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req))
        return fail(o->mode, "request");
    uint64_t got = 0;
    const char *status = "ok";
    for (;;) {
        if (bench_now_ns() > deadline) {
            status = "timeout";
            break;
        }
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == 0)
            break;
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0)
            return fail(o->mode, "read");
        size_t off = (size_t)(got % BENCH_PATTERN_PERIOD);
        for (size_t done = 0; done < (size_t)r;) {
            size_t n = (size_t)r - done;
            if (n > BENCH_PATTERN_PERIOD)
                n = BENCH_PATTERN_PERIOD;
            if (memcmp(buf + done, pat + off, n) != 0)
                return fail(o->mode, "corrupt");
            done += n;
            off = (off + n) % BENCH_PATTERN_PERIOD;
        }
        got += (size_t)r;
    }
    double secs = secs_since(t0);
    close(fd);
    if (!strcmp(status, "ok") && got != o->bytes) {
        printf("RESULT mode=recv status=error why=short got=%llu\n", (unsigned long long)got);
        return 1;
    }
    result_transfer(o->mode, status, got, secs);
    return 0;
}

/* ---- echo ------------------------------------------------------------------ */

/* Write and read at once (poll), at most `window` bytes unanswered, so
 * neither side can deadlock on full buffers. */
static int run_echo(const struct opts *o)
{
    static uint8_t pat[2 * BENCH_PATTERN_PERIOD];
    static uint8_t buf[CHUNK];
    const uint64_t window = 512 * 1024;
    bench_pattern_fill(pat, sizeof(pat));
    int fd = tcp_connect(o, BENCH_PORT_ECHO, 5.0);
    if (fd < 0)
        return fail(o->mode, "connect");
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    uint64_t sent = 0, got = 0;
    const char *status = "ok";
    while (got < o->bytes) {
        if (bench_now_ns() > deadline) {
            status = "timeout";
            break;
        }
        bool want_out = sent < o->bytes && sent - got < window;
        struct pollfd p = {.fd = fd, .events = POLLIN | (want_out ? POLLOUT : 0)};
        if (poll(&p, 1, 100) < 0 && errno != EINTR)
            return fail(o->mode, "poll");
        if (want_out && (p.revents & POLLOUT)) {
            size_t off = (size_t)(sent % BENCH_PATTERN_PERIOD);
            uint64_t n = o->bytes - sent;
            if (n > window - (sent - got))
                n = window - (sent - got);
            if (n > CHUNK)
                n = CHUNK;
            ssize_t w = write(fd, pat + off, (size_t)n);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN)
                return fail(o->mode, "write");
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r == 0)
                return fail(o->mode, "eof");
            if (r < 0 && errno != EAGAIN)
                return fail(o->mode, "read");
            if (r > 0) {
                size_t off = (size_t)(got % BENCH_PATTERN_PERIOD);
                if (memcmp(buf, pat + off, (size_t)r) != 0)
                    return fail(o->mode, "corrupt");
                got += (size_t)r;
            }
        }
    }
    double secs = secs_since(t0);
    close(fd);
    result_transfer(o->mode, status, got, secs);
    return 0;
}

/* ---- request/response ------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int run_rr(const struct opts *o)
{
    int fd = tcp_connect(o, BENCH_PORT_ECHO, 2.0);
    if (fd < 0)
        return fail(o->mode, "connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint32_t *lat = malloc(o->iters * sizeof(*lat));
    if (!lat)
        return fail(o->mode, "malloc");
    /* A few warm-up exchanges: the first ones pay for page faults. */
    unsigned long n = 0;
    uint8_t c = 'x';
    for (int i = 0; i < 100; i++)
        if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
            return fail(o->mode, "warmup");
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    const char *status = "ok";
    for (; n < o->iters; n++) {
        uint64_t a = bench_now_ns();
        if (a > deadline) {
            status = "timeout";
            break;
        }
        if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
            return fail(o->mode, "exchange");
        uint64_t d = bench_now_ns() - a;
        lat[n] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    double secs = secs_since(t0);
    close(fd);
    if (n == 0)
        return fail(o->mode, "none");
    qsort(lat, n, sizeof(*lat), cmp_u32);
    printf("RESULT mode=rr status=%s iters=%lu secs=%.6f mean_us=%.3f p50_us=%.3f "
           "p99_us=%.3f\n",
           status, n, secs, secs * 1e6 / (double)n, lat[n / 2] / 1e3,
           lat[(n * 99) / 100] / 1e3);
    free(lat);
    return 0;
}

/* ---- connection rate ------------------------------------------------------- */

/* Each connection: three-way handshake, then an abortive close (RST), so
 * neither side keeps a TIME-WAIT and the ports never run out; what is
 * measured is connection setup and teardown, as in a TCP_CRR test minus
 * the request. */
static int run_crr(const struct opts *o)
{
    struct sockaddr_in a = peer_addr(o, BENCH_PORT_ECHO);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    unsigned long ok = 0, failed = 0;
    while (bench_now_ns() < deadline && (!o->conns || ok < o->conns)) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return fail(o->mode, "socket");
        set_timeouts(fd, 1.0);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            ok++;
        else
            failed++;
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fd);
        if (failed > 100)
            break;
    }
    double secs = secs_since(t0);
    /* A rare lost SYN (a full queue somewhere) costs a retry and shows in
     * the rate; only a failing server makes the run an error. */
    bool bad = failed * 100 > ok;
    printf("RESULT mode=crr status=%s conns=%lu failed=%lu secs=%.6f cps=%.1f\n",
           bad ? "error" : "ok", ok, failed, secs, (double)ok / secs);
    return bad ? 1 : 0;
}

/* ---- many idle connections --------------------------------------------------- */

/* VmRSS of process pid in KiB, or -1. */
static long rss_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Slab memory of the whole kernel in KiB (the kernel's socket structures
 * live there), from /proc/meminfo. */
static long slab_kib(void)
{
    char line[256];
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Slab: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Descriptors one process may open, less a few for stdio and pipes. A
 * sandbox without CAP_SYS_RESOURCE cannot raise the hard limit, so the
 * connections are spread over as many processes as that takes. */
static unsigned long conns_per_process(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur > 1064 ? (unsigned long)rl.rlim_cur - 64 : 1000;
}

/* Write one byte on each connection, then read each echo back, a batch
 * at a time: tens of thousands of segments at once would overflow the
 * device queues, and this checks the connections, not the queues. */
static unsigned long verify_echo(const int *fds, unsigned long n)
{
    const unsigned long batch = 128;
    unsigned long ok = 0;
    uint8_t c = 'h';
    for (unsigned long first = 0; first < n; first += batch) {
        unsigned long end = first + batch < n ? first + batch : n;
        for (unsigned long i = first; i < end; i++)
            if (write(fds[i], &c, 1) != 1)
                return ok;
        for (unsigned long i = first; i < end; i++) {
            if (read(fds[i], &c, 1) != 1)
                return ok; /* bounded: one timeout, not one per connection */
            ok++;
        }
    }
    return ok;
}

struct holder {
    pid_t pid;
    FILE *from;   /* the child's reports */
    int to;       /* one byte: "go on" */
    unsigned long opened, verified;
    char why[32];
};

/* A holder process: open up to `want` connections, report "N WHY", wait
 * for the parent to read the server's memory, verify, report the count,
 * wait again, exit (closing every connection). */
static void holder_main(const struct opts *o, unsigned long want, uint64_t deadline, int in,
                        int out)
{
    int *fds = calloc(want, sizeof(*fds));
    unsigned long n = 0;
    const char *why = "all";
    while (fds && n < want) {
        if (bench_now_ns() > deadline) {
            why = "time";
            break;
        }
        int fd = tcp_connect(o, BENCH_PORT_ECHO, 3.0);
        if (fd < 0) {
            why = errno == EMFILE ? "fd-limit" : "connect-failed";
            break;
        }
        fds[n++] = fd;
    }
    char go;
    dprintf(out, "%lu %s\n", n, why);
    if (read(in, &go, 1) == 1)
        dprintf(out, "%lu\n", verify_echo(fds, n));
    if (read(in, &go, 1) < 0)
        _exit(1);
    _exit(0);
}

static int holders_start(const struct opts *o, struct holder *h, int nh, unsigned long per,
                         uint64_t deadline)
{
    unsigned long left = o->conns;
    for (int i = 0; i < nh; i++) {
        unsigned long want = left < per ? left : per;
        left -= want;
        int down[2], up[2];
        if (pipe(down) < 0 || pipe(up) < 0)
            return -1;
        fflush(stdout);
        h[i].pid = fork();
        if (h[i].pid < 0)
            return -1;
        if (h[i].pid == 0) {
            close(down[1]);
            close(up[0]);
            holder_main(o, want, deadline, down[0], up[1]);
        }
        close(down[0]);
        close(up[1]);
        h[i].to = down[1];
        h[i].from = fdopen(up[0], "r");
    }
    return 0;
}

static void holders_tell(struct holder *h, int nh)
{
    for (int i = 0; i < nh; i++)
        if (write(h[i].to, "g", 1) < 0)
            h[i].verified = 0;
}

static int run_hold(const struct opts *o)
{
    unsigned long per = conns_per_process();
    int nh = (int)((o->conns + per - 1) / per);
    struct holder *h = calloc((size_t)nh, sizeof(*h));
    if (!h)
        return fail(o->mode, "malloc");
    long rss0 = o->pid ? rss_kib(o->pid) : -1, slab0 = slab_kib();
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    if (holders_start(o, h, nh, per, deadline) < 0)
        return fail(o->mode, "fork");
    unsigned long n = 0, verified = 0;
    const char *why = "all";
    for (int i = 0; i < nh; i++) {
        if (!h[i].from || fscanf(h[i].from, "%lu %31s", &h[i].opened, h[i].why) != 2)
            snprintf(h[i].why, sizeof(h[i].why), "holder-failed");
        n += h[i].opened;
        if (strcmp(h[i].why, "all") != 0)
            why = h[i].why;
    }
    double open_secs = secs_since(t0);
    /* Let the server accept the last ones before its memory is read. */
    usleep(1000000);
    long rss1 = o->pid ? rss_kib(o->pid) : -1, slab1 = slab_kib();
    holders_tell(h, nh); /* verify */
    for (int i = 0; i < nh; i++)
        if (h[i].from && fscanf(h[i].from, "%lu", &h[i].verified) == 1)
            verified += h[i].verified;
    holders_tell(h, nh); /* close and exit */
    for (int i = 0; i < nh; i++) {
        waitpid(h[i].pid, NULL, 0);
        if (h[i].from)
            fclose(h[i].from);
        close(h[i].to);
    }
    double per_conn = n && rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) * 1024 / (double)n : -1;
    double slab_per_conn = n ? (double)(slab1 - slab0) * 1024 / (double)n : -1;
    printf("RESULT mode=hold status=%s held=%lu verified=%lu stop=%s processes=%d "
           "open_secs=%.3f rss_before_kib=%ld rss_after_kib=%ld bytes_per_conn=%.0f "
           "slab_bytes_per_conn=%.0f\n",
           verified == n && n > 0 ? "ok" : "error", n, verified, why, nh, open_secs, rss0, rss1,
           per_conn, slab_per_conn);
    free(h);
    return 0;
}

/* ---- UDP, for the TUN bound ----------------------------------------------- */

static int run_udpblast(const struct opts *o)
{
    static uint8_t payload[UDP_PAYLOAD];
    struct sockaddr_in a = peer_addr(o, o->port);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return fail(o->mode, "socket");
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iov = {.iov_base = payload, .iov_len = sizeof(payload)};
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < UDP_BATCH; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    unsigned long long sent = 0;
    while (bench_now_ns() < deadline) {
        int n = sendmmsg(fd, msgs, UDP_BATCH, 0);
        if (n > 0)
            sent += (unsigned)n;
    }
    double secs = secs_since(t0);
    printf("RESULT mode=udpblast status=ok packets=%llu secs=%.6f pps=%.0f\n", sent, secs,
           (double)sent / secs);
    return 0;
}

static int run_udpsink(const struct opts *o)
{
    static uint8_t buf[2048];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    inet_pton(AF_INET, o->host, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int big = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return fail(o->mode, "bind");
    set_timeouts(fd, 0.1);
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    unsigned long long got = 0;
    while (bench_now_ns() < deadline)
        if (recv(fd, buf, sizeof(buf), 0) > 0)
            got++;
    double secs = secs_since(t0);
    printf("RESULT mode=udpsink status=ok packets=%llu secs=%.6f pps=%.0f\n", got, secs,
           (double)got / secs);
    return 0;
}

/* ---- options ---------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: kclient send|recv|echo HOST --bytes N [--seconds S]\n"
            "       kclient rr HOST --iters N [--seconds S]\n"
            "       kclient crr HOST --seconds S [--conns N]\n"
            "       kclient hold HOST --conns N [--pid P] [--bind ADDR] [--seconds S]\n"
            "       kclient udpblast|udpsink ADDR --port P --seconds S\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    if (argc < 3)
        usage();
    *o = (struct opts){.mode = argv[1], .host = argv[2], .bytes = 1 << 20, .iters = 10000,
                       .conns = 0, .seconds = 30, .port = 9, .pid = 0};
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--bytes")) {
            if (bench_parse_size(v, &o->bytes) < 0)
                usage();
        } else if (!strcmp(k, "--iters")) {
            o->iters = strtoul(v, NULL, 10);
        } else if (!strcmp(k, "--conns")) {
            o->conns = strtoul(v, NULL, 10);
        } else if (!strcmp(k, "--seconds")) {
            o->seconds = strtod(v, NULL);
        } else if (!strcmp(k, "--port")) {
            o->port = (unsigned)strtoul(v, NULL, 10);
        } else if (!strcmp(k, "--pid")) {
            o->pid = strtol(v, NULL, 10);
        } else if (!strcmp(k, "--bind")) {
            o->bind = v;
        } else {
            usage();
        }
    }
    if (argc % 2 == 0 || o->seconds <= 0 || o->iters == 0)
        usage();
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a reset connection: EPIPE, reported */
    if (!strcmp(o.mode, "send"))
        return run_send(&o);
    if (!strcmp(o.mode, "recv"))
        return run_recv(&o);
    if (!strcmp(o.mode, "echo"))
        return run_echo(&o);
    if (!strcmp(o.mode, "rr"))
        return run_rr(&o);
    if (!strcmp(o.mode, "crr"))
        return run_crr(&o);
    if (!strcmp(o.mode, "hold"))
        return o.conns ? run_hold(&o) : (usage(), 2);
    if (!strcmp(o.mode, "udpblast"))
        return run_udpblast(&o);
    if (!strcmp(o.mode, "udpsink"))
        return run_udpsink(&o);
    usage();
    return 2;
}
