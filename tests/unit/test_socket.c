/*
 * The socket layer: the event API (ustack/socket.h) between two stacks on a
 * memlink pair, driven by hand with a virtual clock, and the blocking API
 * (ustack/bsd.h) with real threads.
 *
 * Stack A is 10.0.0.1, stack B 10.0.0.2, on one /24. pair_pump() carries
 * frames both ways and runs both stacks' timers until the wire is quiet.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "ustack/bsd.h"
#include "ustack/socket.h"
#include "ustack/ustack.h"

#define SK_ADDR_A 0x0a000001u
#define SK_ADDR_B 0x0a000002u
#define SK_MASK 0xffffff00u
#define SK_MTU 1500
#define SK_PORT 8080

/* ---- two stacks on a memlink --------------------------------------------- */

struct pair {
    struct ustack_link *la, *lb;
    struct ustack *a, *b;
    uint64_t now;
};

static struct ustack *pair_stack(struct ustack_link *link, uint32_t addr,
                                 unsigned max_sockets, uint64_t now)
{
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = addr;
    cfg.netmask = SK_MASK;
    cfg.has_secret = true;
    memset(cfg.secret, (int)(addr & 0xff), sizeof(cfg.secret));
    if (max_sockets)
        cfg.max_sockets = max_sockets;
    return ustack_new(&cfg, link, now);
}

static bool pair_open_sized(struct pair *p, unsigned max_a, unsigned max_b)
{
    memset(p, 0, sizeof(*p));
    if (ustack_memlink_pair(USTACK_LINK_IP, SK_MTU, 256, &p->la, &p->lb) != 0)
        return false;
    p->now = 1000000;
    p->a = pair_stack(p->la, SK_ADDR_A, max_a, p->now);
    p->b = pair_stack(p->lb, SK_ADDR_B, max_b, p->now);
    return p->a && p->b;
}

static bool pair_open(struct pair *p)
{
    return pair_open_sized(p, 0, 0);
}

static void pair_close(struct pair *p)
{
    ustack_free(p->a);
    ustack_free(p->b);
    ustack_link_close(p->la);
    ustack_link_close(p->lb);
}

/* Deliver every frame waiting on link end `at` to its stack `to`; returns
 * how many. */
static unsigned carry(struct pair *p, struct ustack_link *at, struct ustack *to)
{
    static uint8_t frame[SK_MTU + 64];
    unsigned moved = 0;
    ssize_t n;
    while ((n = ustack_link_recv(at, frame, sizeof(frame))) > 0) {
        ustack_input(to, frame, (size_t)n, p->now);
        moved++;
    }
    return moved;
}

/* Exchange frames (1 ms of virtual time per round) until the wire is quiet. */
static void pair_pump(struct pair *p)
{
    for (int round = 0; round < 1000; round++) {
        p->now += 1000;
        ustack_timer(p->a, p->now);
        ustack_timer(p->b, p->now);
        /* What A sent waits on B's end of the link, and vice versa. */
        unsigned moved = carry(p, p->lb, p->b) + carry(p, p->la, p->a);
        if (!moved && !ustack_memlink_pending(p->la) && !ustack_memlink_pending(p->lb))
            return;
    }
}

/* Let `us` of virtual time pass (timers fire), exchanging frames. */
static void pair_advance(struct pair *p, uint64_t us)
{
    uint64_t end = p->now + us;
    while (p->now < end) {
        pair_pump(p);
        p->now += 10000;
    }
    pair_pump(p);
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(addr);
    sin.sin_port = htons(port);
    return sin;
}

#define SA(sin) ((const struct sockaddr *)&(sin))

static int listen_on(struct ustack *st, uint16_t port)
{
    int sd = ustack_socket(st, USTACK_SOCK_STREAM);
    struct sockaddr_in sin = sin_of(0, port);
    if (sd < 0 || ustack_bind(st, sd, SA(sin), sizeof(sin)) != 0 ||
        ustack_listen(st, sd, 16) != 0)
        return -1;
    return sd;
}

/* Find sd in a poll result: its events, or 0 when not reported. */
static unsigned polled(const struct ustack_event *ev, int n, int sd)
{
    for (int i = 0; i < n; i++)
        if (ev[i].sd == sd)
            return ev[i].events;
    return 0;
}

static unsigned poll_for(struct ustack *st, int sd)
{
    struct ustack_event ev[64];
    int n = ustack_poll(st, ev, 64);
    return n > 0 ? polled(ev, n, sd) : 0;
}

/* A connected pair of sockets: *client on A, *server on B (accepted), and
 * the listener on B. Both poll lists are drained afterwards. */
static bool connect_pair(struct pair *p, int *client, int *server, int *listener)
{
    *listener = listen_on(p->b, SK_PORT);
    *client = ustack_socket(p->a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    if (*listener < 0 || *client < 0 ||
        ustack_connect(p->a, *client, SA(to), sizeof(to)) != -EINPROGRESS)
        return false;
    pair_pump(p);
    *server = ustack_accept(p->b, *listener, NULL, NULL);
    struct ustack_event ev[64];
    while (ustack_poll(p->a, ev, 64) > 0) {
    }
    while (ustack_poll(p->b, ev, 64) > 0) {
    }
    return *server >= 0;
}

/* ---- descriptors and the table ------------------------------------------- */

TEST(socket_descriptors_lowest_free_first)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int s0 = ustack_socket(p.a, USTACK_SOCK_STREAM);
    int s1 = ustack_socket(p.a, USTACK_SOCK_STREAM);
    int s2 = ustack_socket(p.a, USTACK_SOCK_STREAM);
    CHECK_EQ(s0, 0);
    CHECK_EQ(s1, 1);
    CHECK_EQ(s2, 2);
    CHECK_EQ(ustack_close(p.a, s1), 0);
    CHECK_EQ(ustack_socket(p.a, USTACK_SOCK_STREAM), 1);
    CHECK_EQ(ustack_close(p.a, s0), 0);
    CHECK_EQ(ustack_close(p.a, s2), 0);
    CHECK_EQ(ustack_socket(p.a, USTACK_SOCK_STREAM), 0);
    CHECK_EQ(ustack_socket(p.a, USTACK_SOCK_STREAM), 2);
    pair_close(&p);
}

TEST(socket_type_checked)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    CHECK_EQ(ustack_socket(p.a, 0), -EINVAL);
    CHECK_EQ(ustack_socket(p.a, 99), -EINVAL);
    int sd = ustack_socket(p.a, USTACK_SOCK_STREAM);
    int type = 0;
    CHECK_EQ(ustack_getsockopt(p.a, sd, USTACK_SO_TYPE, &type), 0);
    CHECK_EQ(type, USTACK_SOCK_STREAM);
    pair_close(&p);
}

TEST(socket_table_limit)
{
    struct pair p;
    REQUIRE(pair_open_sized(&p, 70, 0)); /* not a multiple of 64 on purpose */
    for (int i = 0; i < 70; i++)
        CHECK_EQ(ustack_socket(p.a, USTACK_SOCK_STREAM), i);
    CHECK_EQ(ustack_socket(p.a, USTACK_SOCK_STREAM), -EMFILE);
    CHECK_EQ(ustack_close(p.a, 5), 0);
    CHECK_EQ(ustack_close(p.a, 69), 0);
    CHECK_EQ(ustack_socket(p.a, USTACK_SOCK_STREAM), 5);
    CHECK_EQ(ustack_socket(p.a, USTACK_SOCK_STREAM), 69);
    CHECK_EQ(ustack_socket(p.a, USTACK_SOCK_STREAM), -EMFILE);
    pair_close(&p);
}

TEST(socket_use_after_close_is_ebadf)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int sd = ustack_socket(p.a, USTACK_SOCK_STREAM);
    REQUIRE(sd >= 0);
    CHECK_EQ(ustack_close(p.a, sd), 0);
    struct sockaddr_in sin = sin_of(0, 1234);
    socklen_t len = sizeof(sin);
    char buf[4];
    int v = 0;
    CHECK_EQ(ustack_close(p.a, sd), -EBADF);
    CHECK_EQ(ustack_bind(p.a, sd, SA(sin), sizeof(sin)), -EBADF);
    CHECK_EQ(ustack_listen(p.a, sd, 1), -EBADF);
    CHECK_EQ(ustack_accept(p.a, sd, NULL, NULL), -EBADF);
    CHECK_EQ(ustack_connect(p.a, sd, SA(sin), sizeof(sin)), -EBADF);
    CHECK_EQ(ustack_send(p.a, sd, "x", 1, 0), -EBADF);
    CHECK_EQ(ustack_recv(p.a, sd, buf, sizeof(buf), 0), -EBADF);
    CHECK_EQ(ustack_shutdown(p.a, sd, SHUT_WR), -EBADF);
    CHECK_EQ(ustack_getsockname(p.a, sd, (struct sockaddr *)&sin, &len), -EBADF);
    CHECK_EQ(ustack_getpeername(p.a, sd, (struct sockaddr *)&sin, &len), -EBADF);
    CHECK_EQ(ustack_setsockopt(p.a, sd, USTACK_TCP_NODELAY, 1), -EBADF);
    CHECK_EQ(ustack_getsockopt(p.a, sd, USTACK_SO_TYPE, &v), -EBADF);
    CHECK_EQ(ustack_events(p.a, sd), USTACK_EV_ERROR);
    /* Out-of-range descriptors too. */
    CHECK_EQ(ustack_close(p.a, -1), -EBADF);
    CHECK_EQ(ustack_close(p.a, 1 << 30), -EBADF);
    CHECK_EQ(ustack_send(p.a, 16384, "x", 1, 0), -EBADF);
    pair_close(&p);
}

/* ---- argument and state errors ------------------------------------------- */

TEST(socket_bind_errors)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int sd = ustack_socket(p.a, USTACK_SOCK_STREAM);
    struct sockaddr_in sin = sin_of(0, 2000);
    CHECK_EQ(ustack_bind(p.a, sd, NULL, sizeof(sin)), -EFAULT);
    CHECK_EQ(ustack_bind(p.a, sd, SA(sin), sizeof(sin) - 1), -EINVAL);
    struct sockaddr_in bad = sin;
    bad.sin_family = AF_INET6;
    CHECK_EQ(ustack_bind(p.a, sd, SA(bad), sizeof(bad)), -EAFNOSUPPORT);
    struct sockaddr_in other = sin_of(SK_ADDR_B, 2000); /* not our address */
    CHECK_EQ(ustack_bind(p.a, sd, SA(other), sizeof(other)), -EADDRNOTAVAIL);
    struct sockaddr_in ours = sin_of(SK_ADDR_A, 2000);
    CHECK_EQ(ustack_bind(p.a, sd, SA(ours), sizeof(ours)), 0);
    CHECK_EQ(ustack_bind(p.a, sd, SA(sin), sizeof(sin)), -EINVAL); /* twice */
    int sd2 = ustack_socket(p.a, USTACK_SOCK_STREAM);
    CHECK_EQ(ustack_bind(p.a, sd2, SA(sin), sizeof(sin)), -EADDRINUSE);
    /* A failed bind leaves the socket usable. */
    struct sockaddr_in next = sin_of(0, 2001);
    CHECK_EQ(ustack_bind(p.a, sd2, SA(next), sizeof(next)), 0);
    struct sockaddr_in got;
    socklen_t len = sizeof(got);
    CHECK_EQ(ustack_getsockname(p.a, sd2, (struct sockaddr *)&got, &len), 0);
    CHECK_EQ(len, sizeof(got));
    CHECK_EQ(ntohs(got.sin_port), 2001);
    CHECK_EQ(got.sin_family, AF_INET);
    pair_close(&p);
}

TEST(socket_state_errors)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int c, s, l;
    REQUIRE(connect_pair(&p, &c, &s, &l));
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    char buf[8];
    /* Connected sockets. */
    CHECK_EQ(ustack_listen(p.a, c, 4), -EINVAL);
    CHECK_EQ(ustack_connect(p.a, c, SA(to), sizeof(to)), -EISCONN);
    CHECK_EQ(ustack_accept(p.a, c, NULL, NULL), -EINVAL);
    CHECK_EQ(ustack_bind(p.a, c, SA(to), sizeof(to)), -EINVAL);
    CHECK_EQ(ustack_shutdown(p.a, c, 7), -EINVAL);
    CHECK_EQ(ustack_send(p.a, c, "x", 1, 0x80), -EINVAL);
    CHECK_EQ(ustack_recv(p.a, c, buf, sizeof(buf), 0x80), -EINVAL);
    CHECK_EQ(ustack_send(p.a, c, NULL, 1, 0), -EFAULT);
    /* The listener. */
    CHECK_EQ(ustack_connect(p.b, l, SA(to), sizeof(to)), -EOPNOTSUPP);
    CHECK_EQ(ustack_send(p.b, l, "x", 1, 0), -ENOTCONN);
    CHECK_EQ(ustack_recv(p.b, l, buf, sizeof(buf), 0), -ENOTCONN);
    CHECK_EQ(ustack_listen(p.b, l, 8), 0); /* listening again is harmless */
    /* A fresh socket. */
    int f = ustack_socket(p.a, USTACK_SOCK_STREAM);
    socklen_t len = sizeof(to);
    CHECK_EQ(ustack_send(p.a, f, "x", 1, 0), -ENOTCONN);
    CHECK_EQ(ustack_recv(p.a, f, buf, sizeof(buf), 0), -ENOTCONN);
    CHECK_EQ(ustack_shutdown(p.a, f, SHUT_RDWR), -ENOTCONN);
    CHECK_EQ(ustack_accept(p.a, f, NULL, NULL), -EINVAL);
    CHECK_EQ(ustack_getpeername(p.a, f, (struct sockaddr *)&to, &len), -ENOTCONN);
    CHECK_EQ(ustack_getsockname(p.a, f, NULL, &len), -EFAULT);
    struct sockaddr_in zero = sin_of(0, SK_PORT), noport = sin_of(SK_ADDR_B, 0);
    struct sockaddr_in mcast = sin_of(0xe0000001u, SK_PORT);
    struct sockaddr_in bcast = sin_of(0x0a0000ffu, SK_PORT);
    CHECK_EQ(ustack_connect(p.a, f, SA(zero), sizeof(zero)), -EADDRNOTAVAIL);
    CHECK_EQ(ustack_connect(p.a, f, SA(noport), sizeof(noport)), -EADDRNOTAVAIL);
    CHECK_EQ(ustack_connect(p.a, f, SA(mcast), sizeof(mcast)), -ENETUNREACH);
    CHECK_EQ(ustack_connect(p.a, f, SA(bcast), sizeof(bcast)), -ENETUNREACH);
    CHECK_EQ(ustack_connect(p.a, f, SA(to), 3), -EINVAL);
    /* Connecting. */
    CHECK_EQ(ustack_connect(p.a, f, SA(to), sizeof(to)), -EINPROGRESS);
    CHECK_EQ(ustack_connect(p.a, f, SA(to), sizeof(to)), -EALREADY);
    CHECK_EQ(ustack_listen(p.a, f, 1), -EINVAL);
    CHECK_EQ(ustack_poll(p.a, NULL, 1), -EINVAL);
    CHECK_EQ(ustack_poll(p.a, NULL, -1), -EINVAL);
    pair_close(&p);
}

TEST(socket_options)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int sd = ustack_socket(p.a, USTACK_SOCK_STREAM);
    int v = -1;
    CHECK_EQ(ustack_setsockopt(p.a, sd, 999, 1), -ENOPROTOOPT);
    CHECK_EQ(ustack_setsockopt(p.a, sd, USTACK_SO_TYPE, 1), -ENOPROTOOPT);
    CHECK_EQ(ustack_setsockopt(p.a, sd, USTACK_SO_ERROR, 1), -ENOPROTOOPT);
    CHECK_EQ(ustack_setsockopt(p.a, sd, USTACK_SO_SNDBUF, 0), -EINVAL);
    CHECK_EQ(ustack_setsockopt(p.a, sd, USTACK_SO_RCVBUF, -5), -EINVAL);
    CHECK_EQ(ustack_getsockopt(p.a, sd, 999, &v), -ENOPROTOOPT);
    CHECK_EQ(ustack_getsockopt(p.a, sd, USTACK_SO_TYPE, NULL), -EFAULT);
    /* Set before the connection exists, visible before and after. */
    CHECK_EQ(ustack_setsockopt(p.a, sd, USTACK_TCP_NODELAY, 7), 0);
    CHECK_EQ(ustack_getsockopt(p.a, sd, USTACK_TCP_NODELAY, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(ustack_setsockopt(p.a, sd, USTACK_SO_REUSEADDR, 1), 0);
    CHECK_EQ(ustack_getsockopt(p.a, sd, USTACK_SO_ERROR, &v), 0);
    CHECK_EQ(v, 0);
    int l = listen_on(p.b, SK_PORT);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    CHECK_EQ(ustack_connect(p.a, sd, SA(to), sizeof(to)), -EINPROGRESS);
    pair_pump(&p);
    v = -1;
    CHECK_EQ(ustack_getsockopt(p.a, sd, USTACK_TCP_NODELAY, &v), 0);
    CHECK_EQ(v, 1);
    v = -1;
    CHECK_EQ(ustack_getsockopt(p.a, sd, USTACK_SO_REUSEADDR, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(ustack_setsockopt(p.a, sd, USTACK_TCP_NODELAY, 0), 0);
    CHECK_EQ(ustack_getsockopt(p.a, sd, USTACK_TCP_NODELAY, &v), 0);
    CHECK_EQ(v, 0);
    (void)l;
    pair_close(&p);
}

/* ---- a connection's life, with readiness --------------------------------- */

TEST(socket_connect_accept_and_names)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int l = listen_on(p.b, SK_PORT);
    REQUIRE(l >= 0);
    CHECK_EQ(ustack_accept(p.b, l, NULL, NULL), -EAGAIN);
    CHECK_EQ(ustack_events(p.b, l), 0);
    int c = ustack_socket(p.a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    CHECK_EQ(ustack_connect(p.a, c, SA(to), sizeof(to)), -EINPROGRESS);
    CHECK_EQ(ustack_events(p.a, c) & USTACK_EV_WRITABLE, 0); /* SYN unanswered */
    pair_pump(&p);

    /* Connect finished: the client is writable, the listener readable. */
    CHECK(poll_for(p.a, c) & USTACK_EV_WRITABLE);
    CHECK(poll_for(p.b, l) & USTACK_EV_READABLE);
    CHECK(ustack_events(p.b, l) & USTACK_EV_READABLE);

    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    int s = ustack_accept(p.b, l, (struct sockaddr *)&peer, &len);
    REQUIRE(s >= 0);
    CHECK(s != l);
    CHECK_EQ(len, sizeof(peer));
    CHECK_EQ(ntohl(peer.sin_addr.s_addr), SK_ADDR_A);
    CHECK_EQ(ustack_accept(p.b, l, NULL, NULL), -EAGAIN);
    CHECK_EQ(ustack_events(p.b, l) & USTACK_EV_READABLE, 0);
    CHECK(ustack_events(p.b, s) & USTACK_EV_WRITABLE);

    /* Names agree on both ends. */
    struct sockaddr_in a_local, a_peer, b_local, b_peer;
    socklen_t n1 = sizeof(a_local), n2 = sizeof(a_peer), n3 = sizeof(b_local),
              n4 = sizeof(b_peer);
    CHECK_EQ(ustack_getsockname(p.a, c, (struct sockaddr *)&a_local, &n1), 0);
    CHECK_EQ(ustack_getpeername(p.a, c, (struct sockaddr *)&a_peer, &n2), 0);
    CHECK_EQ(ustack_getsockname(p.b, s, (struct sockaddr *)&b_local, &n3), 0);
    CHECK_EQ(ustack_getpeername(p.b, s, (struct sockaddr *)&b_peer, &n4), 0);
    CHECK_EQ(ntohl(a_local.sin_addr.s_addr), SK_ADDR_A);
    CHECK(ntohs(a_local.sin_port) != 0); /* ephemeral port bound by connect */
    CHECK_EQ(ntohl(a_peer.sin_addr.s_addr), SK_ADDR_B);
    CHECK_EQ(ntohs(a_peer.sin_port), SK_PORT);
    CHECK_EQ(ntohl(b_local.sin_addr.s_addr), SK_ADDR_B);
    CHECK_EQ(ntohs(b_local.sin_port), SK_PORT);
    CHECK_EQ(b_peer.sin_port, a_local.sin_port);
    CHECK_EQ(ntohs(peer.sin_port), ntohs(a_local.sin_port));

    /* A short address buffer is filled as far as it goes. */
    uint8_t small[4] = {0xee, 0xee, 0xee, 0xee};
    socklen_t slen = 2;
    CHECK_EQ(ustack_getpeername(p.a, c, (struct sockaddr *)small, &slen), 0);
    CHECK_EQ(slen, sizeof(struct sockaddr_in));
    CHECK_EQ(small[2], 0xee);
    pair_close(&p);
}

TEST(socket_send_recv_and_readiness)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int c, s, l;
    REQUIRE(connect_pair(&p, &c, &s, &l));
    char buf[256];
    CHECK_EQ(ustack_recv(p.b, s, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_EQ(ustack_send(p.a, c, "", 0, 0), 0);
    CHECK_EQ(ustack_send(p.a, c, "hello, ", 7, 0), 7);
    CHECK_EQ(ustack_send(p.a, c, "world", 5, 0), 5);
    /* Nagle holds "world" until "hello, " is acknowledged, and B delays
     * that ACK (at most delack_ms, 40 ms by default). */
    pair_advance(&p, 100 * 1000);
    unsigned ev = poll_for(p.b, s);
    CHECK(ev & USTACK_EV_READABLE);
    CHECK_EQ(ev & (USTACK_EV_ERROR | USTACK_EV_HUP), 0);
    CHECK_EQ(ustack_recv(p.b, s, buf, 5, 0), 5);
    CHECK_MEM(buf, "hello", 5);
    CHECK_EQ(ustack_recv(p.b, s, buf, sizeof(buf), 0), 7);
    CHECK_MEM(buf, ", world", 7);
    CHECK_EQ(ustack_recv(p.b, s, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_EQ(ustack_events(p.b, s) & USTACK_EV_READABLE, 0);

    /* The other direction. */
    CHECK_EQ(ustack_send(p.b, s, "pong", 4, 0), 4);
    pair_pump(&p);
    CHECK(poll_for(p.a, c) & USTACK_EV_READABLE);
    CHECK_EQ(ustack_recv(p.a, c, buf, sizeof(buf), 0), 4);
    CHECK_MEM(buf, "pong", 4);
    pair_close(&p);
}

/* Fill the peer's window: send returns -EAGAIN, then writable again after
 * the reader drains. */
TEST(socket_send_buffer_full_then_writable)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int c, s, l;
    REQUIRE(connect_pair(&p, &c, &s, &l));
    static char chunk[4096];
    memset(chunk, 'z', sizeof(chunk));
    size_t queued = 0;
    ssize_t n = 0;
    for (int i = 0; i < 10000; i++) {
        n = ustack_send(p.a, c, chunk, sizeof(chunk), 0);
        if (n < 0)
            break;
        queued += (size_t)n;
        if (i % 8 == 0)
            pair_pump(&p);
    }
    CHECK_EQ(n, -EAGAIN);
    CHECK(queued > 0);
    CHECK_EQ(ustack_events(p.a, c) & USTACK_EV_WRITABLE, 0);
    struct ustack_event evs[8];
    while (ustack_poll(p.a, evs, 8) > 0) {
    }
    /* Drain the reader; the sender becomes writable and is reported. */
    size_t got = 0;
    static char in[8192];
    for (int i = 0; i < 100000 && got < queued; i++) {
        ssize_t r = ustack_recv(p.b, s, in, sizeof(in), 0);
        if (r > 0)
            got += (size_t)r;
        else
            pair_pump(&p);
    }
    CHECK_EQ(got, queued);
    pair_pump(&p);
    CHECK(poll_for(p.a, c) & USTACK_EV_WRITABLE);
    pair_close(&p);
}

TEST(socket_fin_makes_readable_and_eof)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int c, s, l;
    REQUIRE(connect_pair(&p, &c, &s, &l));
    CHECK_EQ(ustack_send(p.a, c, "bye", 3, 0), 3);
    CHECK_EQ(ustack_shutdown(p.a, c, SHUT_WR), 0);
    CHECK_EQ(ustack_send(p.a, c, "x", 1, 0), -EPIPE);
    pair_pump(&p);
    CHECK(poll_for(p.b, s) & USTACK_EV_READABLE);
    char buf[16];
    CHECK_EQ(ustack_recv(p.b, s, buf, sizeof(buf), 0), 3);
    CHECK_EQ(ustack_recv(p.b, s, buf, sizeof(buf), 0), 0); /* end of stream */
    CHECK_EQ(ustack_recv(p.b, s, buf, sizeof(buf), 0), 0); /* and stays so */
    CHECK(ustack_events(p.b, s) & USTACK_EV_READABLE);
    CHECK_EQ(ustack_events(p.b, s) & USTACK_EV_HUP, 0); /* B can still send */
    /* Half-closed: B still sends to A. */
    CHECK_EQ(ustack_send(p.b, s, "ok", 2, 0), 2);
    pair_pump(&p);
    CHECK_EQ(ustack_recv(p.a, c, buf, sizeof(buf), 0), 2);
    /* B closes too: A sees end of stream, and both directions are done. */
    CHECK_EQ(ustack_close(p.b, s), 0);
    pair_pump(&p);
    unsigned ev = poll_for(p.a, c);
    CHECK(ev & USTACK_EV_READABLE);
    CHECK(ev & USTACK_EV_HUP);
    CHECK_EQ(ustack_recv(p.a, c, buf, sizeof(buf), 0), 0);
    CHECK_EQ(ustack_close(p.a, c), 0);
    pair_close(&p);
}

TEST(socket_reset_reported)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int c, s, l;
    REQUIRE(connect_pair(&p, &c, &s, &l));
    CHECK_EQ(ustack_setsockopt(p.b, s, USTACK_SO_LINGER_ZERO, 1), 0);
    CHECK_EQ(ustack_close(p.b, s), 0); /* abortive: RST */
    pair_pump(&p);
    unsigned ev = poll_for(p.a, c);
    CHECK(ev & USTACK_EV_HUP);
    CHECK(ev & (USTACK_EV_ERROR | USTACK_EV_READABLE));
    char buf[8];
    CHECK_EQ(ustack_recv(p.a, c, buf, sizeof(buf), 0), -ECONNRESET);
    CHECK(ustack_send(p.a, c, "x", 1, 0) < 0);
    pair_close(&p);
}

TEST(socket_connect_refused)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int c = ustack_socket(p.a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = sin_of(SK_ADDR_B, 9); /* nobody listens */
    CHECK_EQ(ustack_connect(p.a, c, SA(to), sizeof(to)), -EINPROGRESS);
    pair_pump(&p);
    unsigned ev = poll_for(p.a, c);
    CHECK(ev & USTACK_EV_ERROR);
    int err = 0;
    CHECK_EQ(ustack_getsockopt(p.a, c, USTACK_SO_ERROR, &err), 0);
    CHECK_EQ(err, ECONNREFUSED);
    CHECK_EQ(ustack_getsockopt(p.a, c, USTACK_SO_ERROR, &err), 0);
    CHECK_EQ(err, 0); /* reading cleared it */
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    CHECK_EQ(ustack_getpeername(p.a, c, (struct sockaddr *)&peer, &len), -ENOTCONN);
    CHECK_EQ(ustack_close(p.a, c), 0);

    /* Asking connect again reports the failure (the "connect twice" idiom). */
    c = ustack_socket(p.a, USTACK_SOCK_STREAM);
    CHECK_EQ(ustack_connect(p.a, c, SA(to), sizeof(to)), -EINPROGRESS);
    pair_pump(&p);
    CHECK_EQ(ustack_connect(p.a, c, SA(to), sizeof(to)), -ECONNREFUSED);
    pair_close(&p);
}

/* ---- ustack_poll --------------------------------------------------------- */

TEST(socket_poll_reports_each_socket_once)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int c, s, l;
    REQUIRE(connect_pair(&p, &c, &s, &l));
    /* Several notifications for one socket: reported once. */
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(ustack_send(p.a, c, "abc", 3, 0), 3);
        pair_pump(&p);
    }
    struct ustack_event ev[8];
    int n = ustack_poll(p.b, ev, 8);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].sd, s);
    CHECK(ev[0].events & USTACK_EV_READABLE);
    CHECK_EQ(ustack_poll(p.b, ev, 8), 0); /* drained */
    pair_close(&p);
}

TEST(socket_poll_max_and_close_removes)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int l = listen_on(p.b, SK_PORT);
    int c[3];
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    for (int i = 0; i < 3; i++) {
        c[i] = ustack_socket(p.a, USTACK_SOCK_STREAM);
        CHECK_EQ(ustack_connect(p.a, c[i], SA(to), sizeof(to)), -EINPROGRESS);
    }
    pair_pump(&p);
    /* Three sockets became writable; a closed one is not reported. */
    CHECK_EQ(ustack_close(p.a, c[1]), 0);
    struct ustack_event ev[3];
    CHECK_EQ(ustack_poll(p.a, ev, 0), 0);
    CHECK_EQ(ustack_poll(p.a, ev, 1), 1);
    CHECK_EQ(ev[0].sd, c[0]);
    CHECK_EQ(ustack_poll(p.a, ev, 3), 1);
    CHECK_EQ(ev[0].sd, c[2]);
    CHECK(ev[0].events & USTACK_EV_WRITABLE);
    CHECK_EQ(ustack_poll(p.a, ev, 3), 0);
    (void)l;
    pair_close(&p);
}

/* Accept when the table is full: -EMFILE, and the connection waits in the
 * queue until a descriptor is free. */
TEST(socket_accept_table_full_keeps_connection)
{
    struct pair p;
    REQUIRE(pair_open_sized(&p, 0, 2));
    int l = listen_on(p.b, SK_PORT);
    int filler = ustack_socket(p.b, USTACK_SOCK_STREAM);
    REQUIRE(l >= 0 && filler >= 0);
    int c = ustack_socket(p.a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    CHECK_EQ(ustack_connect(p.a, c, SA(to), sizeof(to)), -EINPROGRESS);
    pair_pump(&p);
    CHECK(ustack_events(p.b, l) & USTACK_EV_READABLE);
    CHECK_EQ(ustack_accept(p.b, l, NULL, NULL), -EMFILE);
    CHECK(ustack_events(p.b, l) & USTACK_EV_READABLE); /* still queued */
    CHECK_EQ(ustack_send(p.a, c, "hi", 2, 0), 2);
    pair_pump(&p);
    CHECK_EQ(ustack_close(p.b, filler), 0);
    int s = ustack_accept(p.b, l, NULL, NULL);
    CHECK_EQ(s, filler);
    char buf[4];
    CHECK_EQ(ustack_recv(p.b, s, buf, sizeof(buf), 0), 2);
    /* Empty queue and a full table: nothing to accept is -EAGAIN. */
    CHECK_EQ(ustack_accept(p.b, l, NULL, NULL), -EAGAIN);
    pair_close(&p);
}

/* Data that arrived before accept is reported for the new socket. */
TEST(socket_accepted_socket_reports_early_data)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int l = listen_on(p.b, SK_PORT);
    int c = ustack_socket(p.a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    CHECK_EQ(ustack_connect(p.a, c, SA(to), sizeof(to)), -EINPROGRESS);
    pair_pump(&p);
    CHECK_EQ(ustack_send(p.a, c, "early", 5, 0), 5);
    pair_pump(&p);
    struct ustack_event ev[4];
    while (ustack_poll(p.b, ev, 4) > 0) {
    }
    int s = ustack_accept(p.b, l, NULL, NULL);
    REQUIRE(s >= 0);
    CHECK(poll_for(p.b, s) & USTACK_EV_READABLE);
    pair_close(&p);
}

TEST(socket_close_listener_and_connecting)
{
    struct pair p;
    REQUIRE(pair_open(&p));
    int l = listen_on(p.b, SK_PORT);
    int c = ustack_socket(p.a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    CHECK_EQ(ustack_connect(p.a, c, SA(to), sizeof(to)), -EINPROGRESS);
    CHECK_EQ(ustack_close(p.a, c), 0); /* mid-handshake */
    pair_advance(&p, 100000);
    CHECK_EQ(ustack_close(p.b, l), 0);
    pair_advance(&p, 100000);
    /* The port is free again. */
    CHECK(listen_on(p.b, SK_PORT) >= 0);
    pair_close(&p);
}

/* ---- the blocking API ------------------------------------------------------
 *
 * Two stacks, each with its own stack thread (ustack_bsd_start), joined by
 * a link made here from a socketpair: it has real descriptors, so each
 * runner waits on its fd in epoll as it would on a TUN device. Every
 * blocking call in these tests has a timeout, so a bug fails a test instead
 * of hanging the run.
 */

struct sp_link {
    struct ustack_link base;
};

static int sp_send(struct ustack_link *l, const void *frame, size_t len)
{
    return send(l->fd, frame, len, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static ssize_t sp_recv(struct ustack_link *l, void *buf, size_t cap)
{
    ssize_t n = recv(l->fd, buf, cap, MSG_DONTWAIT);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    return n;
}

static void sp_close(struct ustack_link *l)
{
    close(l->fd);
    free(l);
}

static const struct ustack_link_ops sp_ops = {.send = sp_send, .recv = sp_recv,
                                              .close = sp_close};

static bool sp_pair(struct ustack_link **a, struct ustack_link **b)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) < 0)
        return false;
    struct ustack_link *l[2];
    for (int i = 0; i < 2; i++) {
        l[i] = calloc(1, sizeof(struct sp_link));
        if (!l[i])
            return false;
        l[i]->ops = &sp_ops;
        l[i]->kind = USTACK_LINK_IP;
        l[i]->mtu = SK_MTU;
        l[i]->fd = fds[i];
    }
    *a = l[0];
    *b = l[1];
    return true;
}

struct bsd_pair {
    struct ustack_link *la, *lb;
    struct ustack *sa, *sb;
    struct ustack_bsd *a, *b;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool bsd_pair_open(struct bsd_pair *p)
{
    char err[128];
    memset(p, 0, sizeof(*p));
    if (!sp_pair(&p->la, &p->lb))
        return false;
    p->sa = pair_stack(p->la, SK_ADDR_A, 64, mono_us());
    p->sb = pair_stack(p->lb, SK_ADDR_B, 64, mono_us());
    if (!p->sa || !p->sb)
        return false;
    p->a = ustack_bsd_start(p->sa, p->la, err, sizeof(err));
    p->b = ustack_bsd_start(p->sb, p->lb, err, sizeof(err));
    return p->a && p->b;
}

static void bsd_pair_close(struct bsd_pair *p)
{
    ustack_bsd_stop(p->a);
    ustack_bsd_stop(p->b);
    ustack_free(p->sa);
    ustack_free(p->sb);
    ustack_link_close(p->la);
    ustack_link_close(p->lb);
}

static int bsd_listen(struct ustack_bsd *b, uint16_t port)
{
    int fd = ustack_bsd_socket(b, USTACK_SOCK_STREAM);
    struct sockaddr_in sin = sin_of(0, port);
    if (fd < 0 || ustack_bsd_bind(b, fd, SA(sin), sizeof(sin)) != 0 ||
        ustack_bsd_listen(b, fd, 8) != 0)
        return -1;
    ustack_bsd_setsockopt(b, fd, USTACK_BSD_RCVTIMEO, 10000);
    return fd;
}

#define ECHO_BYTES (256 * 1024)

struct echo_server {
    struct ustack_bsd *b;
    int listener;
    size_t echoed;
    int error; /* errno of the first failure, 0 if none */
};

/* Accept one connection and send back everything until end of stream. */
static void *echo_server_main(void *arg)
{
    struct echo_server *e = arg;
    int fd = ustack_bsd_accept(e->b, e->listener, NULL, NULL);
    if (fd < 0) {
        e->error = errno;
        return NULL;
    }
    ustack_bsd_setsockopt(e->b, fd, USTACK_BSD_RCVTIMEO, 10000);
    ustack_bsd_setsockopt(e->b, fd, USTACK_BSD_SNDTIMEO, 10000);
    static char buf[3000];
    for (;;) {
        ssize_t n = ustack_bsd_recv(e->b, fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            if (n < 0)
                e->error = errno;
            break;
        }
        if (ustack_bsd_send(e->b, fd, buf, (size_t)n, 0) != n) {
            e->error = errno;
            break;
        }
        e->echoed += (size_t)n;
    }
    ustack_bsd_close(e->b, fd);
    return NULL;
}

struct sender {
    struct ustack_bsd *b;
    int fd;
    const char *data;
    size_t len;
    ssize_t result;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    s->result = ustack_bsd_send(s->b, s->fd, s->data, s->len, 0);
    if (s->result == (ssize_t)s->len)
        ustack_bsd_shutdown(s->b, s->fd, SHUT_WR);
    return NULL;
}

/* Connect, then send and receive at once from two threads: the echo comes
 * back byte for byte, and end of stream follows. */
TEST(socket_bsd_echo_across_threads)
{
    struct bsd_pair p;
    REQUIRE(bsd_pair_open(&p));
    struct echo_server e = {p.b, bsd_listen(p.b, SK_PORT), 0, 0};
    REQUIRE(e.listener >= 0);
    pthread_t server;
    REQUIRE(pthread_create(&server, NULL, echo_server_main, &e) == 0);

    int fd = ustack_bsd_socket(p.a, USTACK_SOCK_STREAM);
    ustack_bsd_setsockopt(p.a, fd, USTACK_BSD_SNDTIMEO, 10000);
    ustack_bsd_setsockopt(p.a, fd, USTACK_BSD_RCVTIMEO, 10000);
    /* A send buffer far smaller than the data: send must block and resume
     * many times to queue it all. */
    CHECK_EQ(ustack_bsd_setsockopt(p.a, fd, USTACK_SO_SNDBUF, 8192), 0);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    CHECK_EQ(ustack_bsd_connect(p.a, fd, SA(to), sizeof(to)), 0);
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    CHECK_EQ(ustack_bsd_getpeername(p.a, fd, (struct sockaddr *)&peer, &len), 0);
    CHECK_EQ(ntohs(peer.sin_port), SK_PORT);

    char *out = malloc(ECHO_BYTES), *in = malloc(ECHO_BYTES);
    REQUIRE(out && in);
    for (size_t i = 0; i < ECHO_BYTES; i++)
        out[i] = (char)(i * 7 + i / 251);
    struct sender s = {p.a, fd, out, ECHO_BYTES, 0};
    pthread_t sender;
    REQUIRE(pthread_create(&sender, NULL, sender_main, &s) == 0);
    size_t got = 0;
    for (;;) {
        ssize_t n = ustack_bsd_recv(p.a, fd, in + got, ECHO_BYTES - got, 0);
        if (n <= 0) {
            CHECK_EQ(n, 0); /* end of stream, not an error */
            break;
        }
        got += (size_t)n;
        if (got == ECHO_BYTES) {
            char extra;
            CHECK_EQ(ustack_bsd_recv(p.a, fd, &extra, 1, 0), 0);
            break;
        }
    }
    pthread_join(sender, NULL);
    pthread_join(server, NULL);
    CHECK_EQ(s.result, ECHO_BYTES);
    CHECK_EQ(e.error, 0);
    CHECK_EQ(e.echoed, ECHO_BYTES);
    CHECK_EQ(got, ECHO_BYTES);
    CHECK(memcmp(in, out, ECHO_BYTES) == 0);
    CHECK_EQ(ustack_bsd_close(p.a, fd), 0);
    CHECK_EQ(ustack_bsd_close(p.a, fd), -1);
    CHECK_EQ(errno, EBADF);
    free(out);
    free(in);
    bsd_pair_close(&p);
}

TEST(socket_bsd_refused_timeouts_nonblock)
{
    struct bsd_pair p;
    REQUIRE(bsd_pair_open(&p));
    /* Nobody listens on port 9. */
    int fd = ustack_bsd_socket(p.a, USTACK_SOCK_STREAM);
    ustack_bsd_setsockopt(p.a, fd, USTACK_BSD_SNDTIMEO, 10000);
    struct sockaddr_in refused = sin_of(SK_ADDR_B, 9);
    CHECK_EQ(ustack_bsd_connect(p.a, fd, SA(refused), sizeof(refused)), -1);
    CHECK_EQ(errno, ECONNREFUSED);
    ustack_bsd_close(p.a, fd);

    /* Nobody answers for 10.0.0.3: SNDTIMEO ends the wait with EINPROGRESS
     * (the attempt goes on) and a second connect says EALREADY. */
    fd = ustack_bsd_socket(p.a, USTACK_SOCK_STREAM);
    ustack_bsd_setsockopt(p.a, fd, USTACK_BSD_SNDTIMEO, 150);
    struct sockaddr_in silent = sin_of(SK_ADDR_B + 1, SK_PORT);
    uint64_t t_connect = mono_us();
    CHECK_EQ(ustack_bsd_connect(p.a, fd, SA(silent), sizeof(silent)), -1);
    CHECK_EQ(errno, EINPROGRESS);
    uint64_t connect_waited = mono_us() - t_connect;
    CHECK(connect_waited >= 145000 && connect_waited < 5000000);
    CHECK_EQ(ustack_bsd_connect(p.a, fd, SA(silent), sizeof(silent)), -1);
    CHECK_EQ(errno, EALREADY);
    ustack_bsd_close(p.a, fd);

    int l = bsd_listen(p.b, SK_PORT);
    fd = ustack_bsd_socket(p.a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    CHECK_EQ(ustack_bsd_connect(p.a, fd, SA(to), sizeof(to)), 0);
    char buf[16];
    /* Nothing sent yet: NONBLOCK fails at once, a timeout after waiting. */
    CHECK_EQ(ustack_bsd_recv(p.a, fd, buf, sizeof(buf), USTACK_BSD_NONBLOCK), -1);
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(ustack_bsd_setsockopt(p.a, fd, USTACK_BSD_RCVTIMEO, 100), 0);
    int v = 0;
    CHECK_EQ(ustack_bsd_getsockopt(p.a, fd, USTACK_BSD_RCVTIMEO, &v), 0);
    CHECK_EQ(v, 100);
    CHECK_EQ(ustack_bsd_setsockopt(p.a, fd, USTACK_BSD_RCVTIMEO, -1), -1);
    CHECK_EQ(errno, EINVAL);
    uint64_t t0 = mono_us();
    CHECK_EQ(ustack_bsd_recv(p.a, fd, buf, sizeof(buf), 0), -1);
    CHECK_EQ(errno, EAGAIN);
    uint64_t waited = mono_us() - t0;
    CHECK(waited >= 95000 && waited < 5000000);
    /* The accepted side gets the data the client sends. */
    int s = ustack_bsd_accept(p.b, l, NULL, NULL);
    CHECK(s >= 0);
    CHECK_EQ(ustack_bsd_send(p.a, fd, "abc", 3, 0), 3);
    ustack_bsd_setsockopt(p.b, s, USTACK_BSD_RCVTIMEO, 10000);
    CHECK_EQ(ustack_bsd_recv(p.b, s, buf, sizeof(buf), 0), 3);
    CHECK_MEM(buf, "abc", 3);
    /* A new socket in a reused slot starts without timeouts. */
    ustack_bsd_close(p.a, fd);
    int again = ustack_bsd_socket(p.a, USTACK_SOCK_STREAM);
    CHECK_EQ(again, fd);
    CHECK_EQ(ustack_bsd_getsockopt(p.a, again, USTACK_BSD_RCVTIMEO, &v), 0);
    CHECK_EQ(v, 0);
    /* Errors come back as -1 and errno. */
    CHECK_EQ(ustack_bsd_socket(p.a, 99), -1);
    CHECK_EQ(errno, EINVAL);
    bsd_pair_close(&p);
}

struct blocked_call {
    struct ustack_bsd *b;
    int fd;
    bool accept; /* accept instead of recv */
    int rc, err;
};

static void *blocked_main(void *arg)
{
    struct blocked_call *c = arg;
    char buf[8];
    c->rc = c->accept ? ustack_bsd_accept(c->b, c->fd, NULL, NULL)
                      : (int)ustack_bsd_recv(c->b, c->fd, buf, sizeof(buf), 0);
    c->err = errno;
    return NULL;
}

/* Let a thread reach its wait (there is no way to observe it directly; if
 * it has not, the call still ends the same way, just without blocking). */
static void settle(void)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

TEST(socket_bsd_close_and_stop_wake_blocked_threads)
{
    struct bsd_pair p;
    REQUIRE(bsd_pair_open(&p));
    int l = bsd_listen(p.b, SK_PORT);
    REQUIRE(l >= 0);
    ustack_bsd_setsockopt(p.b, l, USTACK_BSD_RCVTIMEO, 0); /* forever */
    int fd = ustack_bsd_socket(p.a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = sin_of(SK_ADDR_B, SK_PORT);
    REQUIRE(ustack_bsd_connect(p.a, fd, SA(to), sizeof(to)) == 0);
    ustack_bsd_setsockopt(p.a, fd, USTACK_BSD_RCVTIMEO, 10000);

    /* A recv blocked on fd fails with EBADF when another thread closes fd. */
    struct blocked_call r = {p.a, fd, false, 0, 0};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, blocked_main, &r) == 0);
    settle();
    uint64_t t0 = mono_us();
    CHECK_EQ(ustack_bsd_close(p.a, fd), 0);
    pthread_join(t, NULL);
    CHECK_EQ(r.rc, -1);
    CHECK_EQ(r.err, EBADF);
    CHECK(mono_us() - t0 < 5000000); /* woken, not timed out */

    /* Accept the connection, then block in accept (no timeout at all):
     * stopping the stack thread cancels it. */
    CHECK(ustack_bsd_accept(p.b, l, NULL, NULL) >= 0);
    struct blocked_call a = {p.b, l, true, 0, 0};
    REQUIRE(pthread_create(&t, NULL, blocked_main, &a) == 0);
    settle();
    ustack_bsd_stop(p.b);
    p.b = NULL;
    pthread_join(t, NULL);
    CHECK_EQ(a.rc, -1);
    CHECK_EQ(a.err, ECANCELED);
    bsd_pair_close(&p);
}
