/*
 * `ustack serve`: classic TCP services on the event API.
 *
 *   echo     RFC 862: send back everything received
 *   discard  RFC 863: throw everything away
 *   chargen  RFC 864: send the rotating character pattern until the peer
 *            closes, ignoring whatever it sends
 *   http     a small HTTP/1.1 file server (http.c)
 *
 * Everything runs on the runner's thread: the after_io hook drains
 * ustack_poll() and lets each ready socket make as much progress as it can
 * without blocking. Readiness is edge-style, so a handler always works
 * until the stack says -EAGAIN (or until our own bounded buffer is full,
 * in which case the socket's WRITABLE edge brings us back).
 *
 * Resources: at most --max-clients connections (beyond that, new ones wait
 * in the listen backlog), each echo connection holds at most
 * --echo-buffer bytes, each HTTP connection a fixed 24 KiB; connections
 * idle for --idle-timeout seconds are closed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "http.h"
#include "options.h"
#include "session.h"
#include "udp_echo.h"
#include "ustack/socket.h"

enum service { SVC_ECHO, SVC_DISCARD, SVC_CHARGEN, SVC_HTTP, SVC_COUNT };

static const char *const service_names[SVC_COUNT] = {"echo", "discard", "chargen", "http"};

/* RFC 864: 95 printable characters (32..126), 72 per line, each line
 * starting one character further on; 95 lines make one full cycle. */
#define CHARGEN_FIRST 32
#define CHARGEN_CHARS 95
#define CHARGEN_LINE 72
#define CHARGEN_CYCLE (CHARGEN_CHARS * (CHARGEN_LINE + 2))

#define DEFAULT_MAX_CLIENTS 1024
#define DEFAULT_ECHO_BUFFER (32 * 1024)
#define DEFAULT_IDLE_TIMEOUT 120
#define DEFAULT_BACKLOG 128
#define POLL_BATCH 64
/* Poll rounds per loop iteration before yielding to the runner (which
 * then iterates again at once, see drain_events). */
#define POLL_ROUNDS 256
#define SCRATCH_SIZE 65536

enum {
    KEY_ECHO = CLI_LONG_ONLY + 1,
    KEY_DISCARD,
    KEY_CHARGEN,
    KEY_HTTP,
    KEY_MAX_CLIENTS,
    KEY_ECHO_BUFFER,
    KEY_IDLE_TIMEOUT,
    KEY_BACKLOG,
    KEY_UDP_ECHO,
};

static const struct cli_option serve_options[] = {
    {"echo", KEY_ECHO, "PORT", "RFC 862 echo service on PORT"},
    {"discard", KEY_DISCARD, "PORT", "RFC 863 discard service on PORT"},
    {"chargen", KEY_CHARGEN, "PORT", "RFC 864 character generator on PORT"},
    {"http", KEY_HTTP, "PORT[:DIR]", "HTTP/1.1 server: files from DIR, or a status page"},
    {"max-clients", KEY_MAX_CLIENTS, "N", "connections at once (default 1024)"},
    {"echo-buffer", KEY_ECHO_BUFFER, "BYTES", "echo bytes held per client (default 32768)"},
    {"idle-timeout", KEY_IDLE_TIMEOUT, "SECONDS", "close idle connections (default 120; 0 never)"},
    {"backlog", KEY_BACKLOG, "N", "listen backlog per service (default 128)"},
    {"udp-echo", KEY_UDP_ECHO, "PORT", "RFC 862 echo over UDP on PORT (udp_echo.c)"},
    {0, 0, 0, 0},
};

static const struct cli_command serve_command = {
    .name = "serve",
    .synopsis = "[OPTIONS] [--echo PORT] [--discard PORT] [--chargen PORT] [--http PORT[:DIR]]",
    .description =
        "Bring ustack up like `ustack up` and serve TCP on ustack's address, any\n"
        "combination of:\n"
        "  echo     RFC 862: every byte received is sent back\n"
        "  discard  RFC 863: every byte received is thrown away\n"
        "  chargen  RFC 864: lines of rotating printable ASCII, sent until the peer\n"
        "           closes\n"
        "  http     GET and HEAD of the regular files below DIR; without DIR, a page\n"
        "           with the stack's counters and connections (/, /stats.txt)\n"
        "and over UDP:\n"
        "  udp-echo RFC 862: every datagram received is sent back to its sender\n"
        "On SIGINT or SIGTERM, prints per-service totals and the counters.\n\n"
        "Example:\n"
        "  ustack serve --echo 7 --discard 9 --chargen 19 --http 80:/srv/www\n"
        "  nc 10.0.0.2 7            # in another terminal",
    .options = serve_options,
    .stack_options = true,
    .obs_options = true,
    .tcp_options = true,
    .min_operands = 0,
    .max_operands = 0,
};

struct listener {
    enum service svc;
    unsigned port;
    int sd; /* -1 when the service is off */
};

struct client {
    int sd;
    enum service svc;
    uint64_t last_active_us;
    uint64_t bytes_in, bytes_out;
    /* echo: received bytes not yet accepted by the send buffer,
     * buf[off .. off+len) */
    uint8_t *buf;
    size_t off, len;
    bool peer_eof;
    /* chargen: position in the pattern cycle */
    size_t pattern_pos;
    /* http */
    struct http_conn *http;
};

struct service_totals {
    uint64_t connections, bytes_in, bytes_out;
};

struct serve {
    struct cli_session *s;
    struct ustack *st;
    struct listener listeners[SVC_COUNT];
    const char *http_dir;
    struct http_server *http;
    unsigned udp_echo_port;
    struct udp_echo *udp_echo;

    unsigned long max_clients, echo_buffer, idle_timeout_s, backlog;
    struct client **by_sd; /* clients indexed by socket descriptor */
    size_t by_sd_len;
    size_t nclients;
    bool accept_blocked; /* a listener holds connections we could not take */
    int timerfd;

    struct service_totals totals[SVC_COUNT];
    uint8_t scratch[SCRATCH_SIZE];
    char pattern[2 * CHARGEN_CYCLE]; /* two cycles: any offset reads a full one */
};

/* ---- options --------------------------------------------------------------- */

static int parse_port(const char *s, unsigned *port)
{
    unsigned long v;
    if (cli_parse_uint(s, 1, 65535, &v) < 0)
        return -1;
    *port = (unsigned)v;
    return 0;
}

/* "PORT" or "PORT:DIR". */
static int parse_http(struct serve *sv, const char *arg, char *err, size_t errlen)
{
    char port[8];
    const char *colon = strchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
    if (n == 0 || n >= sizeof(port)) {
        snprintf(err, errlen, "--http wants PORT or PORT:DIR, not '%s'", arg);
        return -1;
    }
    memcpy(port, arg, n);
    port[n] = '\0';
    if (parse_port(port, &sv->listeners[SVC_HTTP].port) < 0) {
        snprintf(err, errlen, "--http wants a port from 1 to 65535, not '%s'", port);
        return -1;
    }
    if (colon && !colon[1]) {
        snprintf(err, errlen, "--http '%s': the directory after ':' is empty", arg);
        return -1;
    }
    sv->http_dir = colon ? colon + 1 : NULL;
    return 0;
}

static int serve_option(void *ctx, int key, const char *arg, char *err, size_t errlen)
{
    struct serve *sv = ctx;
    const char *what = NULL;
    switch (key) {
    case KEY_ECHO:
    case KEY_DISCARD:
    case KEY_CHARGEN: {
        enum service svc = key == KEY_ECHO ? SVC_ECHO : key == KEY_DISCARD ? SVC_DISCARD
                                                                           : SVC_CHARGEN;
        if (parse_port(arg, &sv->listeners[svc].port) == 0)
            return 0;
        snprintf(err, errlen, "--%s wants a port from 1 to 65535, not '%s'",
                 service_names[svc], arg);
        return -1;
    }
    case KEY_HTTP:
        return parse_http(sv, arg, err, errlen);
    case KEY_UDP_ECHO:
        if (parse_port(arg, &sv->udp_echo_port) == 0)
            return 0;
        what = "--udp-echo wants a port from 1 to 65535";
        break;
    case KEY_MAX_CLIENTS:
        if (cli_parse_uint(arg, 1, 1000000, &sv->max_clients) == 0)
            return 0;
        what = "--max-clients wants a number from 1 to 1000000";
        break;
    case KEY_ECHO_BUFFER:
        if (cli_parse_uint(arg, 1, 64ul << 20, &sv->echo_buffer) == 0)
            return 0;
        what = "--echo-buffer wants a byte count from 1 to 67108864";
        break;
    case KEY_IDLE_TIMEOUT:
        if (cli_parse_uint(arg, 0, 86400, &sv->idle_timeout_s) == 0)
            return 0;
        what = "--idle-timeout wants seconds from 0 to 86400";
        break;
    case KEY_BACKLOG:
        if (cli_parse_uint(arg, 1, 65535, &sv->backlog) == 0)
            return 0;
        what = "--backlog wants a number from 1 to 65535";
        break;
    default:
        snprintf(err, errlen, "unhandled option %d", key);
        return -1;
    }
    snprintf(err, errlen, "%s, not '%s'", what, arg);
    return -1;
}

/* ---- the client table ------------------------------------------------------ */

static struct client *client_of(struct serve *sv, int sd)
{
    return sd >= 0 && (size_t)sd < sv->by_sd_len ? sv->by_sd[sd] : NULL;
}

/* Make room in by_sd for descriptor sd (descriptors are small integers
 * bounded by the stack's socket table). */
static int table_reserve(struct serve *sv, int sd)
{
    if ((size_t)sd < sv->by_sd_len)
        return 0;
    size_t len = sv->by_sd_len ? sv->by_sd_len : 64;
    while (len <= (size_t)sd)
        len *= 2;
    struct client **t = realloc(sv->by_sd, len * sizeof(*t));
    if (!t)
        return -1;
    memset(t + sv->by_sd_len, 0, (len - sv->by_sd_len) * sizeof(*t));
    sv->by_sd = t;
    sv->by_sd_len = len;
    return 0;
}

static void client_log(struct serve *sv, const struct client *c, const char *what)
{
    if (!sv->s->opts.verbose)
        return;
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    char addr[16] = "?";
    unsigned port = 0;
    if (ustack_getpeername(sv->st, c->sd, (struct sockaddr *)&peer, &len) == 0) {
        ustack_format_ipv4(ntohl(peer.sin_addr.s_addr), addr);
        port = ntohs(peer.sin_port);
    }
    printf("%s: %s:%u %s", service_names[c->svc], addr, port, what);
    if (c->bytes_in || c->bytes_out)
        printf(" (%llu bytes in, %llu out)", (unsigned long long)c->bytes_in,
               (unsigned long long)c->bytes_out);
    printf("\n");
}

static void client_close(struct serve *sv, struct client *c)
{
    client_log(sv, c, "closed");
    struct service_totals *t = &sv->totals[c->svc];
    t->bytes_in += c->bytes_in;
    t->bytes_out += c->bytes_out;
    ustack_close(sv->st, c->sd);
    sv->by_sd[c->sd] = NULL;
    sv->nclients--;
    if (c->svc == SVC_HTTP)
        http_conn_free(c->http);
    free(c->buf);
    free(c);
}

/* ---- the services ---------------------------------------------------------- */

/* Send out what echo holds. 0 = all sent or the buffer is full, -1 = the
 * connection failed. */
static int echo_flush(struct serve *sv, struct client *c)
{
    while (c->len > 0) {
        ssize_t n = ustack_send(sv->st, c->sd, c->buf + c->off, c->len, 0);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return -1;
        c->off += (size_t)n;
        c->len -= (size_t)n;
        c->bytes_out += (size_t)n;
    }
    c->off = 0;
    return 0;
}

/* RFC 862. Backpressure: only read while our bounded buffer has room, so a
 * peer that sends faster than it reads fills our receive window instead of
 * our memory. Half-close: after the peer's FIN, finish sending what we
 * hold, then close, which sends our FIN once the send buffer is empty. */
static bool echo_run(struct serve *sv, struct client *c)
{
    for (;;) {
        if (echo_flush(sv, c) < 0)
            return false;
        if (c->peer_eof)
            return c->len > 0; /* closing once everything is queued */
        if (c->off + c->len == sv->echo_buffer && c->off > 0) {
            memmove(c->buf, c->buf + c->off, c->len);
            c->off = 0;
        }
        size_t room = sv->echo_buffer - (c->off + c->len);
        if (room == 0)
            return true; /* full: WRITABLE brings us back */
        ssize_t n = ustack_recv(sv->st, c->sd, c->buf + c->off + c->len, room, 0);
        if (n == -EAGAIN)
            return true;
        if (n < 0)
            return false;
        if (n == 0)
            c->peer_eof = true;
        c->len += (size_t)n;
        c->bytes_in += (size_t)n;
    }
}

/* Read and count whatever is waiting. 0 = nothing more now, 1 = end of
 * stream, -1 = the connection failed. */
static int drain_input(struct serve *sv, struct client *c)
{
    for (;;) {
        ssize_t n = ustack_recv(sv->st, c->sd, sv->scratch, sizeof(sv->scratch), 0);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return -1;
        if (n == 0)
            return 1;
        c->bytes_in += (size_t)n;
    }
}

/* RFC 863. */
static bool discard_run(struct serve *sv, struct client *c)
{
    return drain_input(sv, c) == 0;
}

/* RFC 864: data received is thrown away; the pattern flows until the send
 * buffer is full, and again on every WRITABLE. A FIN from the peer means
 * it is done with us (RFC 864 runs "until the calling user terminates"). */
static bool chargen_run(struct serve *sv, struct client *c)
{
    if (drain_input(sv, c) != 0)
        return false;
    for (;;) {
        ssize_t n = ustack_send(sv->st, c->sd, sv->pattern + c->pattern_pos,
                                CHARGEN_CYCLE, 0);
        if (n == -EAGAIN)
            return true;
        if (n < 0)
            return false;
        c->pattern_pos = (c->pattern_pos + (size_t)n) % CHARGEN_CYCLE;
        c->bytes_out += (size_t)n;
    }
}

static bool http_run(struct serve *sv, struct client *c)
{
    (void)sv;
    enum http_status status = http_conn_run(c->http);
    http_conn_bytes(c->http, &c->bytes_in, &c->bytes_out);
    return status == HTTP_CONN_OPEN;
}

/* Let client c make all the progress it can; close it when it is done. */
static void client_run(struct serve *sv, struct client *c)
{
    static bool (*const run[SVC_COUNT])(struct serve *, struct client *) = {
        [SVC_ECHO] = echo_run,
        [SVC_DISCARD] = discard_run,
        [SVC_CHARGEN] = chargen_run,
        [SVC_HTTP] = http_run,
    };
    c->last_active_us = ustack_clock_us();
    if (!run[c->svc](sv, c))
        client_close(sv, c);
}

static void build_pattern(char *p)
{
    size_t k = 0;
    for (int line = 0; line < CHARGEN_CHARS; line++) {
        for (int i = 0; i < CHARGEN_LINE; i++)
            p[k++] = (char)(CHARGEN_FIRST + (line + i) % CHARGEN_CHARS);
        p[k++] = '\r';
        p[k++] = '\n';
    }
    memcpy(p + CHARGEN_CYCLE, p, CHARGEN_CYCLE);
}

/* ---- accepting --------------------------------------------------------------- */

static struct client *client_new(struct serve *sv, int sd, enum service svc)
{
    struct client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->sd = sd;
    c->svc = svc;
    if (svc == SVC_ECHO && !(c->buf = malloc(sv->echo_buffer))) {
        free(c);
        return NULL;
    }
    if (svc == SVC_HTTP && !(c->http = http_conn_new(sv->http, sd))) {
        free(c);
        return NULL;
    }
    return c;
}

/* Take every waiting connection of listener l, up to the client limit. */
static void accept_all(struct serve *sv, struct listener *l)
{
    while (sv->nclients < sv->max_clients) {
        int sd = ustack_accept(sv->st, l->sd, NULL, NULL);
        if (sd == -EMFILE) {
            sv->accept_blocked = true;
            return;
        }
        if (sd < 0)
            return;
        struct client *c = table_reserve(sv, sd) == 0 ? client_new(sv, sd, l->svc) : NULL;
        if (!c) {
            /* Out of memory: refuse this one rather than stall the rest. */
            ustack_setsockopt(sv->st, sd, USTACK_SO_LINGER_ZERO, 1);
            ustack_close(sv->st, sd);
            continue;
        }
        sv->by_sd[sd] = c;
        sv->nclients++;
        sv->totals[l->svc].connections++;
        client_log(sv, c, "connected");
        client_run(sv, c); /* data may have arrived with the handshake */
    }
    sv->accept_blocked = true;
}

/* After a client closed: listeners that had to leave connections waiting
 * will not signal again (edge-style), so retry them now. */
static void retry_accepts(struct serve *sv)
{
    if (!sv->accept_blocked || sv->nclients >= sv->max_clients)
        return;
    sv->accept_blocked = false;
    for (int i = 0; i < SVC_COUNT; i++)
        if (sv->listeners[i].sd >= 0)
            accept_all(sv, &sv->listeners[i]);
    /* accept_all leaves accept_blocked set only when it stopped early. */
}

static struct listener *listener_of(struct serve *sv, int sd)
{
    for (int i = 0; i < SVC_COUNT; i++)
        if (sv->listeners[i].sd == sd)
            return &sv->listeners[i];
    return NULL;
}

/* ---- the loop -------------------------------------------------------------- */

static void dispatch(struct serve *sv, const struct ustack_event *ev)
{
    if (udp_echo_event(sv->udp_echo, ev->sd))
        return;
    struct listener *l = listener_of(sv, ev->sd);
    if (l) {
        accept_all(sv, l);
        return;
    }
    struct client *c = client_of(sv, ev->sd);
    if (c)
        client_run(sv, c);
}

/* The after_io hook: handle every socket whose readiness changed. Our own
 * calls queue sockets too (a recv that empties the buffer changes its
 * readiness), so poll until the list is empty: whatever stays queued would
 * wait for the runner's next wake-up. */
static void drain_events(void *ctx)
{
    struct serve *sv = ctx;
    struct ustack_event ev[POLL_BATCH];
    for (int round = 0; round < POLL_ROUNDS; round++) {
        size_t before = sv->nclients;
        int n = ustack_poll(sv->st, ev, POLL_BATCH);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++)
            dispatch(sv, &ev[i]);
        if (sv->nclients < before)
            retry_accepts(sv);
    }
    /* Still busy: come back right after the runner has read the device. */
    ustack_runner_wake(sv->s->runner);
}

/* Once a second: close connections idle for longer than the timeout. */
static void on_tick(void *ctx, int fd, uint32_t events)
{
    struct serve *sv = ctx;
    (void)events;
    uint64_t expirations;
    if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    if (!sv->idle_timeout_s)
        return;
    uint64_t now = ustack_clock_us();
    uint64_t limit = (uint64_t)sv->idle_timeout_s * 1000000u;
    size_t before = sv->nclients;
    for (size_t sd = 0; sd < sv->by_sd_len; sd++) {
        struct client *c = sv->by_sd[sd];
        if (c && now - c->last_active_us > limit) {
            client_log(sv, c, "idle too long");
            client_close(sv, c);
        }
    }
    if (sv->nclients < before)
        retry_accepts(sv);
}

static int start_timer(struct serve *sv)
{
    sv->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (sv->timerfd < 0)
        return -1;
    struct itimerspec its = {{1, 0}, {1, 0}};
    if (timerfd_settime(sv->timerfd, 0, &its, NULL) < 0)
        return -1;
    int rc = ustack_runner_add_fd(sv->s->runner, sv->timerfd, EPOLLIN, on_tick, sv);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}

/* ---- setup and teardown ------------------------------------------------------ */

static int open_listener(struct serve *sv, struct listener *l)
{
    const char *name = service_names[l->svc];
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)l->port),
        .sin_addr.s_addr = htonl(INADDR_ANY),
    };
    int sd = ustack_socket(sv->st, USTACK_SOCK_STREAM);
    int rc = sd;
    if (sd >= 0) {
        ustack_setsockopt(sv->st, sd, USTACK_SO_REUSEADDR, 1);
        struct cli_sockopt o[CLI_TCP_SOCKOPTS_MAX]; /* inherited by accepted ones */
        for (size_t i = 0, n = cli_tcp_sockopts(&sv->s->opts, o); i < n; i++)
            ustack_setsockopt(sv->st, sd, o[i].opt, o[i].value);
        rc = ustack_bind(sv->st, sd, (struct sockaddr *)&sin, sizeof(sin));
        if (rc == 0)
            rc = ustack_listen(sv->st, sd, (int)sv->backlog);
    }
    if (rc < 0) {
        cli_error(serve_command.name, "%s on port %u: %s", name, l->port, strerror(-rc));
        if (sd >= 0)
            ustack_close(sv->st, sd);
        return -1;
    }
    l->sd = sd;
    return 0;
}

static int open_services(struct serve *sv)
{
    if (sv->listeners[SVC_HTTP].port) {
        char err[256];
        sv->http = http_server_new(sv->st, sv->http_dir, err, sizeof(err));
        if (!sv->http) {
            cli_error(serve_command.name, "http: %s", err);
            return -1;
        }
    }
    for (int i = 0; i < SVC_COUNT; i++)
        if (sv->listeners[i].port && open_listener(sv, &sv->listeners[i]) < 0)
            return -1;
    char err[256];
    if (sv->udp_echo_port &&
        !(sv->udp_echo = udp_echo_open(sv->st, sv->udp_echo_port, err, sizeof(err)))) {
        cli_error(serve_command.name, "%s", err);
        return -1;
    }
    return 0;
}

static void print_banner(struct serve *sv)
{
    char where[96], a[16];
    printf("ustack %s serving on %s at %s:", CLI_VERSION,
           cli_session_where(sv->s, where, sizeof(where)),
           ustack_format_ipv4(sv->s->opts.addr, a));
    for (int i = 0; i < SVC_COUNT; i++)
        if (sv->listeners[i].sd >= 0)
            printf(" %s %u/tcp", service_names[i], sv->listeners[i].port);
    if (sv->listeners[SVC_HTTP].sd >= 0)
        printf(" (%s)", sv->http_dir ? sv->http_dir : "status page");
    if (sv->udp_echo)
        printf(" echo %u/udp", udp_echo_port(sv->udp_echo));
    printf("\nStop with Ctrl-C or SIGTERM; `kill -USR1 %ld` prints the counters.\n",
           (long)getpid());
}

static void print_totals(struct serve *sv)
{
    /* Connections still open count too. */
    for (size_t sd = 0; sd < sv->by_sd_len; sd++) {
        struct client *c = sv->by_sd[sd];
        if (c) {
            sv->totals[c->svc].bytes_in += c->bytes_in;
            sv->totals[c->svc].bytes_out += c->bytes_out;
            c->bytes_in = c->bytes_out = 0;
        }
    }
    for (int i = 0; i < SVC_COUNT; i++) {
        if (sv->listeners[i].sd < 0)
            continue;
        const struct service_totals *t = &sv->totals[i];
        printf("%s %u/tcp: %llu connections, %llu bytes in, %llu bytes out\n",
               service_names[i], sv->listeners[i].port, (unsigned long long)t->connections,
               (unsigned long long)t->bytes_in, (unsigned long long)t->bytes_out);
    }
    if (sv->http) {
        struct http_totals ht;
        http_server_totals(sv->http, &ht);
        printf("http: %llu requests, %llu body bytes\n", (unsigned long long)ht.requests,
               (unsigned long long)ht.body_bytes);
    }
    if (sv->udp_echo)
        udp_echo_print_totals(sv->udp_echo);
}

static void close_all(struct serve *sv)
{
    for (size_t sd = 0; sd < sv->by_sd_len; sd++)
        if (sv->by_sd[sd]) {
            sv->by_sd[sd]->bytes_in = sv->by_sd[sd]->bytes_out = 0;
            client_close(sv, sv->by_sd[sd]);
        }
    for (int i = 0; i < SVC_COUNT; i++)
        if (sv->listeners[i].sd >= 0)
            ustack_close(sv->st, sv->listeners[i].sd);
    if (sv->timerfd >= 0) {
        ustack_runner_remove_fd(sv->s->runner, sv->timerfd);
        close(sv->timerfd);
    }
    http_server_free(sv->http);
    udp_echo_close(sv->udp_echo);
    free(sv->by_sd);
}

static struct serve *serve_new(void)
{
    struct serve *sv = calloc(1, sizeof(*sv));
    if (!sv)
        return NULL;
    sv->max_clients = DEFAULT_MAX_CLIENTS;
    sv->echo_buffer = DEFAULT_ECHO_BUFFER;
    sv->idle_timeout_s = DEFAULT_IDLE_TIMEOUT;
    sv->backlog = DEFAULT_BACKLOG;
    sv->timerfd = -1;
    for (int i = 0; i < SVC_COUNT; i++) {
        sv->listeners[i].svc = (enum service)i;
        sv->listeners[i].sd = -1;
    }
    build_pattern(sv->pattern);
    return sv;
}

static int serve_run(struct serve *sv, const struct cli_stack_opts *so)
{
    struct cli_session s;
    if (cli_session_open(&s, serve_command.name, so) < 0)
        return 1;
    sv->s = &s;
    sv->st = s.st;
    int rc = 1;
    if (open_services(sv) < 0)
        goto out;
    if (start_timer(sv) < 0) {
        cli_error(serve_command.name, "idle timer: %s", strerror(errno));
        goto out;
    }
    s.hook = drain_events;
    s.hook_ctx = sv;
    print_banner(sv);
    rc = cli_session_run(&s) < 0 ? 1 : 0;
    s.hook = NULL;
    print_totals(sv);
    cli_session_print_stats(&s, "ustack stopped; counters");
out:
    close_all(sv);
    cli_session_close(&s);
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    struct serve *sv = serve_new();
    if (!sv) {
        cli_error(serve_command.name, "out of memory");
        return 1;
    }
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    int first;
    int rc = cli_parse(&serve_command, argc, argv, &so, serve_option, sv, &first);
    if (rc != CLI_PARSED) {
        free(sv);
        return rc == CLI_HELP_SHOWN ? 0 : 2;
    }
    bool any = false;
    for (int i = 0; i < SVC_COUNT; i++)
        any |= sv->listeners[i].port != 0;
    any |= sv->udp_echo_port != 0;
    if (!any) {
        cli_error(serve_command.name, "no service chosen: give --echo, --discard, "
                                      "--chargen, --http or --udp-echo");
        free(sv);
        return 2;
    }
    rc = serve_run(sv, &so);
    free(sv);
    return rc;
}
