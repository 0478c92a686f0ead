/*
 * The TCP options --congestion, --sndbuf and --rcvbuf of `ustack serve`
 * and `ustack connect` (apps/ustack/options.c, compiled in by
 * cli_options.c): parsed strictly, refused by commands without TCP
 * options, and turned by cli_tcp_sockopts() into the socket options the
 * commands set. The last test applies them the way serve does, on a
 * listener of a stack talking to another over a memlink, and checks what
 * the accepted connection uses and the window its peer is offered.
 */
#include "cli_test.h" /* options.c, compiled in by cli_options.c */

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "ustack/link.h"
#include "ustack/socket.h"
#include "ustack/tcp_info.h"
#include "ustack/ustack.h"

static const struct cli_command tcpopt_serve = {
    .name = "serve", .synopsis = "", .description = "",
    .stack_options = true, .tcp_options = true, .max_operands = 0,
};
static const struct cli_command tcpopt_up = {
    .name = "up", .synopsis = "", .description = "",
    .stack_options = true, .tcp_options = false, .max_operands = 0,
};

TEST(cli_tcp_opts_congestion)
{
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    CHECK_EQ(so.congestion, 0); /* not given: the stack's default */
    CHECK_EQ(cli_test_parse(&tcpopt_serve, &so, "--congestion", "newreno"),
             CLI_PARSED);
    CHECK_EQ(so.congestion, USTACK_TCP_CC_NEWRENO);
    CHECK_EQ(cli_test_parse(&tcpopt_serve, &so, "--congestion", "cubic"), CLI_PARSED);
    CHECK_EQ(so.congestion, USTACK_TCP_CC_CUBIC);
    CHECK_EQ(cli_test_parse(&tcpopt_serve, &so, "--congestion", "bbr"), CLI_PARSED);
    CHECK_EQ(so.congestion, USTACK_TCP_CC_BBR);
    const char *bad[] = {"", "BBR", "reno", "NewReno", "CUBIC", "cubic ", "cubic,newreno", "2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(cli_test_parse(&tcpopt_serve, &so, "--congestion", bad[i]),
                 CLI_ERROR);
        CHECK_EQ(so.congestion, 0);
    }
}

TEST(cli_tcp_opts_buffer_sizes)
{
    static const struct {
        const char *arg;
        unsigned bytes;
    } good[] = {
        {"256", 256},          {"65536", 65536},     {"4M", 4u << 20},
        {"4m", 4u << 20},      {"256K", 256u << 10}, {"1k", 1024},
        {"16M", 16u << 20},    {"16384K", 16u << 20}, {"16777216", 16u << 20},
    };
    struct cli_stack_opts so;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK_EQ(cli_test_parse(&tcpopt_serve, &so, "--sndbuf", good[i].arg, "--rcvbuf",
                              good[i].arg),
                 CLI_PARSED);
        CHECK_EQ(so.sndbuf, good[i].bytes);
        CHECK_EQ(so.rcvbuf, good[i].bytes);
    }
    /* Below the stack's smallest buffer or above its largest, which it
     * would clamp silently; anything not a whole number with at most a K
     * or M after it. */
    const char *bad[] = {"0",   "255",  "0K",  "16777217", "16385K", "17M", "4MiB", "4KB",
                         "4 M", " 4M",  "-4M", "+4M",      "M",      "K",   "",     "1.5M",
                         "4G",  "0x10", "4MM", "99999999999999999999M"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(cli_test_parse(&tcpopt_serve, &so, "--sndbuf", bad[i]), CLI_ERROR);
        CHECK_EQ(cli_test_parse(&tcpopt_serve, &so, "--rcvbuf", bad[i]), CLI_ERROR);
        CHECK_EQ(so.sndbuf + so.rcvbuf, 0);
    }
}

TEST(cli_tcp_opts_only_with_tcp_options)
{
    struct cli_stack_opts so;
    CHECK_EQ(cli_test_parse(&tcpopt_up, &so, "--congestion", "newreno"), CLI_ERROR);
    CHECK_EQ(cli_test_parse(&tcpopt_up, &so, "--sndbuf", "4M"), CLI_ERROR);
    CHECK_EQ(cli_test_parse(&tcpopt_up, &so, "--rcvbuf", "4M"), CLI_ERROR);
    /* Not given: no socket options at all. */
    struct cli_sockopt o[CLI_TCP_SOCKOPTS_MAX];
    cli_stack_opts_init(&so);
    CHECK_EQ(cli_tcp_sockopts(&so, o), 0);
}

/* ---- Applied: two stacks on a memlink ------------------------------------- */

#define TCPOPT_ADDR_A 0x0a000001u
#define TCPOPT_ADDR_B 0x0a000002u
#define TCPOPT_PORT 9
#define TCPOPT_MTU 1500

struct tcpopt_net {
    struct ustack_link *la, *lb;
    struct ustack *a, *b;
    uint64_t now;
};

static struct ustack *tcpopt_stack(struct ustack_link *link, uint32_t addr, uint64_t now)
{
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = addr;
    cfg.netmask = 0xffffff00u;
    return ustack_new(&cfg, link, now);
}

/* Carry frames both ways, 1 ms of virtual time a round, until quiet. */
static void tcpopt_pump(struct tcpopt_net *n)
{
    static uint8_t frame[TCPOPT_MTU + 64];
    for (int round = 0; round < 1000; round++) {
        n->now += 1000;
        ustack_timer(n->a, n->now);
        ustack_timer(n->b, n->now);
        unsigned moved = 0;
        ssize_t len;
        while ((len = ustack_link_recv(n->lb, frame, sizeof(frame))) > 0 && ++moved)
            ustack_input(n->b, frame, (size_t)len, n->now);
        while ((len = ustack_link_recv(n->la, frame, sizeof(frame))) > 0 && ++moved)
            ustack_input(n->a, frame, (size_t)len, n->now);
        if (!moved && !ustack_memlink_pending(n->la) && !ustack_memlink_pending(n->lb))
            return;
    }
}

struct tcpopt_found {
    uint16_t local_port;
    struct ustack_tcp_info info;
    int count;
};

static void tcpopt_find(void *ctx, const struct ustack_tcp_info *i)
{
    struct tcpopt_found *f = ctx;
    if (i->local_port == f->local_port && i->state && !strcmp(i->state, "ESTABLISHED")) {
        f->info = *i;
        f->count++;
    }
}

/* The established connection of st on local_port (count: how many). */
static struct tcpopt_found tcpopt_conn(struct ustack *st, uint16_t local_port)
{
    struct tcpopt_found f = {.local_port = local_port};
    ustack_tcp_connections(st, tcpopt_find, &f);
    return f;
}

TEST(cli_tcp_opts_take_effect)
{
    struct cli_stack_opts so;
    REQUIRE(cli_test_parse(&tcpopt_serve, &so, "--congestion", "newreno", "--sndbuf", "1M",
                         "--rcvbuf", "4M") == CLI_PARSED);
    struct cli_sockopt o[CLI_TCP_SOCKOPTS_MAX];
    size_t nopts = cli_tcp_sockopts(&so, o);
    CHECK_EQ(nopts, 3);

    struct tcpopt_net n = {.now = 1000000};
    REQUIRE(ustack_memlink_pair(USTACK_LINK_IP, TCPOPT_MTU, 256, &n.la, &n.lb) == 0);
    n.a = tcpopt_stack(n.la, TCPOPT_ADDR_A, n.now);
    n.b = tcpopt_stack(n.lb, TCPOPT_ADDR_B, n.now);
    REQUIRE(n.a && n.b);
    /* B listens the way `ustack serve` does: the options on the listener,
     * which its connections inherit. */
    int lsd = ustack_socket(n.b, USTACK_SOCK_STREAM);
    for (size_t i = 0; i < nopts; i++)
        CHECK_EQ(ustack_setsockopt(n.b, lsd, o[i].opt, o[i].value), 0);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(TCPOPT_PORT)};
    CHECK_EQ(ustack_bind(n.b, lsd, (struct sockaddr *)&any, sizeof(any)), 0);
    CHECK_EQ(ustack_listen(n.b, lsd, 4), 0);
    /* A connects with the defaults and sends a little. */
    int csd = ustack_socket(n.a, USTACK_SOCK_STREAM);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(TCPOPT_PORT),
                             .sin_addr.s_addr = htonl(TCPOPT_ADDR_B)};
    CHECK_EQ(ustack_connect(n.a, csd, (struct sockaddr *)&to, sizeof(to)), -EINPROGRESS);
    tcpopt_pump(&n);
    int ssd = ustack_accept(n.b, lsd, NULL, NULL);
    REQUIRE(ssd >= 0);
    static const char hello[1000];
    CHECK_EQ(ustack_send(n.a, csd, hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
    tcpopt_pump(&n);
    n.now += 500000; /* B's delayed ACK, with its scaled window, goes out */
    tcpopt_pump(&n);

    int v = -1;
    CHECK(ustack_getsockopt(n.b, ssd, USTACK_TCP_CONGESTION, &v) == 0 &&
          v == USTACK_TCP_CC_NEWRENO);
    CHECK(ustack_getsockopt(n.b, ssd, USTACK_SO_RCVBUF, &v) == 0 && v == 4 << 20);
    CHECK(ustack_getsockopt(n.b, ssd, USTACK_SO_SNDBUF, &v) == 0 && v == 1 << 20);
    struct tcpopt_found server = tcpopt_conn(n.b, TCPOPT_PORT);
    CHECK_EQ(server.count, 1);
    CHECK(server.info.congestion && !strcmp(server.info.congestion, "newreno"));
    /* A, with no options, keeps the default algorithm and is offered the
     * 4 MiB window (the default buffer offers at most 256 KiB). */
    int ports = 0;
    struct sockaddr_in me;
    socklen_t melen = sizeof(me);
    if (ustack_getsockname(n.a, csd, (struct sockaddr *)&me, &melen) == 0)
        ports = ntohs(me.sin_port);
    struct tcpopt_found client = tcpopt_conn(n.a, (uint16_t)ports);
    CHECK_EQ(client.count, 1);
    CHECK(client.info.congestion && !strcmp(client.info.congestion, "cubic"));
    CHECK(client.info.snd_wnd > (4u << 20) - 4096);

    ustack_free(n.a);
    ustack_free(n.b);
    ustack_link_close(n.la);
    ustack_link_close(n.lb);
}
