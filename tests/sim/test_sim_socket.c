/*
 * The event API under a bad network: several echo connections at once over
 * a lossy, reordering, duplicating wire, with both applications driven by
 * ustack_poll() alone.
 *
 * The applications touch a socket only when poll reports it (edge style:
 * on a report they read and write until -EAGAIN). So a readiness change the
 * socket layer fails to report stalls a connection, and the run ends
 * without all echoes done: this checks that no edge is ever lost, under
 * retransmissions, out-of-order arrival and window stalls.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "sim/simnet.h"
#include "test.h"
#include "ustack/socket.h"

#define SS_CLIENTS 8
#define SS_BYTES 40000
#define SS_PORT 7007
#define SS_MAX_SOCKETS 32

struct ss_client {
    int sd;
    size_t sent, got;
    bool done;
};

struct ss_server {
    bool open;
    uint8_t staged[1500]; /* received, not yet echoed */
    size_t staged_len, staged_off;
};

struct ss_app {
    int listener;
    struct ss_client client[SS_CLIENTS];
    struct ss_server server[SS_MAX_SOCKETS]; /* indexed by descriptor on B */
    int done;
    const char *error; /* first thing that went wrong */
};

static uint8_t ss_byte(int client, size_t i)
{
    return (uint8_t)(i * 31 + (size_t)client * 7 + i / 977);
}

static void ss_fail(struct ss_app *app, const char *what)
{
    if (!app->error)
        app->error = what;
}

/* Client: send the pattern, then FIN; check the echo until end of stream. */
static void ss_client_pump(struct ustack *st, struct ss_app *app, int i)
{
    struct ss_client *c = &app->client[i];
    uint8_t buf[2048];
    while (c->sent < SS_BYTES) {
        size_t n = SS_BYTES - c->sent;
        if (n > sizeof(buf))
            n = sizeof(buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = ss_byte(i, c->sent + k);
        ssize_t r = ustack_send(st, c->sd, buf, n, 0);
        if (r == -EAGAIN)
            break;
        if (r <= 0)
            return ss_fail(app, "client send failed");
        c->sent += (size_t)r;
        if (c->sent == SS_BYTES && ustack_shutdown(st, c->sd, SHUT_WR) != 0)
            return ss_fail(app, "client shutdown failed");
    }
    for (;;) {
        ssize_t r = ustack_recv(st, c->sd, buf, sizeof(buf), 0);
        if (r == -EAGAIN)
            return;
        if (r < 0)
            return ss_fail(app, "client recv failed");
        if (r == 0) {
            if (c->got != SS_BYTES)
                return ss_fail(app, "client: early end of stream");
            c->done = true;
            app->done++;
            ustack_close(st, c->sd);
            return;
        }
        for (ssize_t k = 0; k < r; k++)
            if (buf[k] != ss_byte(i, c->got + (size_t)k))
                return ss_fail(app, "client: echo differs");
        c->got += (size_t)r;
    }
}

/* Server: echo everything; close after the client's FIN. */
static void ss_server_pump(struct ustack *st, struct ss_app *app, int sd)
{
    struct ss_server *s = &app->server[sd];
    for (;;) {
        if (s->staged_off < s->staged_len) {
            ssize_t r = ustack_send(st, sd, s->staged + s->staged_off,
                                    s->staged_len - s->staged_off, 0);
            if (r == -EAGAIN)
                return; /* WRITABLE will be reported */
            if (r <= 0)
                return ss_fail(app, "server send failed");
            s->staged_off += (size_t)r;
            continue;
        }
        ssize_t r = ustack_recv(st, sd, s->staged, sizeof(s->staged), 0);
        if (r == -EAGAIN)
            return; /* READABLE will be reported */
        if (r < 0)
            return ss_fail(app, "server recv failed");
        if (r == 0) {
            s->open = false;
            ustack_close(st, sd);
            return;
        }
        s->staged_len = (size_t)r;
        s->staged_off = 0;
    }
}

static void ss_accept_all(struct ustack *st, struct ss_app *app)
{
    int sd;
    while ((sd = ustack_accept(st, app->listener, NULL, NULL)) >= 0) {
        if (sd >= SS_MAX_SOCKETS)
            return ss_fail(app, "descriptor out of range");
        app->server[sd] = (struct ss_server){.open = true};
        /* Data may already be waiting; the accept reported the socket. */
    }
    if (sd != -EAGAIN)
        ss_fail(app, "accept failed");
}

/* Runs after every simulated event: both applications react to poll. */
static bool ss_step(struct simnet *net, void *ctx)
{
    struct ss_app *app = ctx;
    struct ustack *a = net->node[SIMNET_A].st, *b = net->node[SIMNET_B].st;
    struct ustack_event ev[16];
    int n;
    while ((n = ustack_poll(b, ev, 16)) > 0) {
        for (int i = 0; i < n; i++) {
            if (ev[i].sd == app->listener)
                ss_accept_all(b, app);
            else if (ev[i].sd >= 0 && ev[i].sd < SS_MAX_SOCKETS && app->server[ev[i].sd].open)
                ss_server_pump(b, app, ev[i].sd);
        }
    }
    while ((n = ustack_poll(a, ev, 16)) > 0) {
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < SS_CLIENTS; c++)
                if (app->client[c].sd == ev[i].sd && !app->client[c].done)
                    ss_client_pump(a, app, c);
        }
    }
    return app->done == SS_CLIENTS || app->error;
}

static bool ss_run(uint64_t seed)
{
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    for (int side = 0; side < 2; side++) {
        cfg.impair[side].loss = 0.03;
        cfg.impair[side].reorder = 0.05;
        cfg.impair[side].duplicate = 0.02;
        cfg.impair[side].delay_us = 2 * SIMNET_MS;
        cfg.impair[side].jitter_us = 1 * SIMNET_MS;
        cfg.stack[side].max_sockets = SS_MAX_SOCKETS;
        /* Small buffers: many window stalls, so WRITABLE edges matter. */
        cfg.stack[side].tcp.sndbuf = 4096;
        cfg.stack[side].tcp.rcvbuf = 4096;
    }
    struct simnet *net = simnet_new(&cfg);
    if (!net)
        return false;
    struct ustack *a = net->node[SIMNET_A].st, *b = net->node[SIMNET_B].st;
    struct ss_app app;
    memset(&app, 0, sizeof(app));
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(SS_PORT);
    app.listener = ustack_socket(b, USTACK_SOCK_STREAM);
    CHECK(app.listener >= 0);
    CHECK_EQ(ustack_bind(b, app.listener, (struct sockaddr *)&sin, sizeof(sin)), 0);
    CHECK_EQ(ustack_listen(b, app.listener, SS_CLIENTS), 0);
    sin.sin_addr.s_addr = htonl(SIMNET_ADDR_B);
    for (int i = 0; i < SS_CLIENTS; i++) {
        app.client[i].sd = ustack_socket(a, USTACK_SOCK_STREAM);
        CHECK_EQ(ustack_connect(a, app.client[i].sd, (struct sockaddr *)&sin, sizeof(sin)),
                 -EINPROGRESS);
    }
    int r = simnet_run(net, ss_step, &app, 300 * SIMNET_SEC);
    bool ok = r == 1 && !app.error && app.done == SS_CLIENTS;
    if (!ok) {
        printf("    seed %llu: run %d, %d of %d echoes done, error: %s\n",
               (unsigned long long)seed, r, app.done, SS_CLIENTS,
               app.error ? app.error : "none");
        for (int i = 0; i < SS_CLIENTS; i++)
            printf("      client %d: sent %zu got %zu events %#x\n", i, app.client[i].sent,
                   app.client[i].got, ustack_events(a, app.client[i].sd));
    }
    simnet_free(net);
    return ok;
}

TEST(sim_socket_poll_driven_echo_lossy)
{
    uint64_t seed;
    if (simnet_seed_arg(&seed)) {
        CHECK(ss_run(seed));
        return;
    }
    for (seed = 1; seed <= 12; seed++)
        if (!ss_run(seed)) {
            test_fail(__FILE__, __LINE__, "seed %llu failed (replay: sim "
                      "sim_socket_poll_driven_echo_lossy %llu)",
                      (unsigned long long)seed, (unsigned long long)seed);
            return;
        }
}
