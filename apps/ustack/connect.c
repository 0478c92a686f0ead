/*
 * `ustack connect HOST PORT`: a netcat-like TCP client on the blocking API.
 *
 * Two threads move the data, as blocking sockets want:
 *   the main thread  connection -> stdout, until the peer's FIN;
 *   the stdin thread stdin -> connection; at end of input it shuts down our
 *                    sending side (SHUT_WR), so the peer sees our FIN and
 *                    can still answer (half-close, RFC 9293 §3.6).
 * The program ends when both directions are done: a peer's FIN alone does
 * not stop the upload, since the peer may still be reading.
 * The stack itself runs on the blocking API's own thread. A third thread
 * takes SIGINT/SIGTERM (blocked everywhere else) and aborts the connection,
 * which wakes the others; it also prints the counters on SIGUSR1 (to
 * stderr, since stdout carries the data).
 *
 * Exit status: 0 when the peer closed and everything it sent was written;
 * 1 when the connection was refused, timed out, was reset or an output
 * write failed; 2 on a usage error; 130 after SIGINT/SIGTERM.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "session.h"
#include "ustack/bsd.h"
#include "ustack/socket.h"
#include "ustack/tcp_info.h"

#define IO_CHUNK 65536
/* After our close: wait this long at most for the FIN exchange to finish
 * before the stack thread (and with it our retransmissions) stops. */
#define LINGER_MS 2000
#define LINGER_STEP_MS 10

enum { KEY_TIMEOUT = CLI_LONG_ONLY + 1 };

static const struct cli_option connect_options[] = {
    {"timeout", KEY_TIMEOUT, "SECONDS", "give up connecting after SECONDS (default: TCP's)"},
    {0, 0, 0, 0},
};

static const struct cli_command connect_command = {
    .name = "connect",
    .synopsis = "[OPTIONS] HOST PORT",
    .description =
        "Bring ustack up like `ustack up`, open a TCP connection from ustack to\n"
        "HOST:PORT (normally a server on the kernel side, --kernel-addr) and relay:\n"
        "standard input to the connection, the connection to standard output. At\n"
        "the end of input ustack half-closes (sends FIN) and keeps printing what the\n"
        "peer sends until the peer closes too; when the peer closes first, ustack\n"
        "keeps sending its input until the end, then closes.\n"
        "Exit status: 0 when both sides closed and all output was written; 1 when the\n"
        "connection was refused, timed out or failed; 2 on a usage error.\n\n"
        "Example:\n"
        "  nc -l 10.0.0.1 5000 &    # in the namespace\n"
        "  echo hello | ustack connect 10.0.0.1 5000",
    .options = connect_options,
    .stack_options = true,
    .obs_options = true,
    .tcp_options = true,
    .min_operands = 2,
    .max_operands = 2,
};

struct connect {
    struct ustack_bsd *b;
    int fd;
    unsigned long timeout_s;
    struct sockaddr_in peer;

    /* stdin thread */
    pthread_t reader;
    int stop_pipe[2];     /* written by main: the reader must stop */
    int send_errno;       /* the reader's failure, if any */
    bool stdin_done;      /* the reader saw end of input and sent FIN */

    /* signal thread */
    pthread_t signals;
    sigset_t sigset;
    volatile sig_atomic_t interrupted;
};

static int connect_option(void *ctx, int key, const char *arg, char *err, size_t errlen)
{
    struct connect *c = ctx;
    if (key == KEY_TIMEOUT) {
        if (cli_parse_uint(arg, 1, 86400, &c->timeout_s) == 0)
            return 0;
        snprintf(err, errlen, "--timeout wants seconds from 1 to 86400, not '%s'", arg);
        return -1;
    }
    snprintf(err, errlen, "unhandled option %d", key);
    return -1;
}

static int parse_target(struct connect *c, const char *host, const char *port)
{
    uint32_t addr;
    unsigned long p;
    if (ustack_parse_ipv4(host, &addr) < 0) {
        cli_error(connect_command.name, "HOST must be an IPv4 address A.B.C.D, not '%s' "
                                        "(ustack has no resolver)", host);
        return -1;
    }
    if (cli_parse_uint(port, 1, 65535, &p) < 0) {
        cli_error(connect_command.name, "PORT must be from 1 to 65535, not '%s'", port);
        return -1;
    }
    c->peer.sin_family = AF_INET;
    c->peer.sin_addr.s_addr = htonl(addr);
    c->peer.sin_port = htons((uint16_t)p);
    return 0;
}

/* ---- moving data ------------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Wait for stdin to be readable. False when main asked us to stop. */
static bool wait_input(struct connect *c)
{
    struct pollfd pf[2] = {
        {.fd = STDIN_FILENO, .events = POLLIN},
        {.fd = c->stop_pipe[0], .events = POLLIN},
    };
    for (;;) {
        int n = poll(pf, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || pf[1].revents)
            return false;
        /* POLLHUP/POLLERR: read() reports the end or the error. */
        return true;
    }
}

/* The stdin thread: stdin -> connection, then FIN. */
static void *stdin_main(void *arg)
{
    struct connect *c = arg;
    char *buf = malloc(IO_CHUNK);
    if (!buf) {
        c->send_errno = ENOMEM;
        return NULL;
    }
    while (wait_input(c)) {
        ssize_t n = read(STDIN_FILENO, buf, IO_CHUNK);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            /* End of input (or an unreadable stdin): our side is done. */
            if (n < 0)
                cli_error(connect_command.name, "reading standard input: %s",
                          strerror(errno));
            if (ustack_bsd_shutdown(c->b, c->fd, SHUT_WR) < 0)
                c->send_errno = errno;
            c->stdin_done = true;
            break;
        }
        /* ustack_bsd_send blocks until all n bytes are queued. */
        if (ustack_bsd_send(c->b, c->fd, buf, (size_t)n, 0) < 0) {
            c->send_errno = errno;
            break;
        }
    }
    free(buf);
    return NULL;
}

/* The main thread's half: connection -> stdout until the peer's FIN.
 * Returns 0, or an errno value. */
static int copy_to_stdout(struct connect *c)
{
    char *buf = malloc(IO_CHUNK);
    if (!buf)
        return ENOMEM;
    int err = 0;
    for (;;) {
        ssize_t n = ustack_bsd_recv(c->b, c->fd, buf, IO_CHUNK, 0);
        if (n == 0)
            break;
        if (n < 0) {
            err = errno;
            break;
        }
        if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
            cli_error(connect_command.name, "writing standard output: %s", strerror(errno));
            err = EPIPE;
            break;
        }
    }
    free(buf);
    return err;
}

/* ---- signals ----------------------------------------------------------------- */

/* SIGINT/SIGTERM are blocked in every thread and taken here, so the stop
 * is an ordinary call instead of work inside a signal handler: abort the
 * connection (RST), which wakes the threads blocked on it. */
static void print_counters(void *ctx, struct ustack *st)
{
    (void)ctx;
    /* stderr: stdout carries the connection's data. */
    fprintf(stderr, "counters (SIGUSR1):\n");
    ustack_print_stats(st, stderr, false);
}

static void *signal_main(void *arg)
{
    struct connect *c = arg;
    int sig;
    for (;;) {
        if (sigwait(&c->sigset, &sig) != 0 || sig == SIGUSR2) /* SIGUSR2: normal exit */
            return NULL;
        if (sig != SIGUSR1)
            break;
        ustack_bsd_call(c->b, print_counters, NULL);
    }
    c->interrupted = 1;
    ustack_bsd_setsockopt(c->b, c->fd, USTACK_SO_LINGER_ZERO, 1);
    ustack_bsd_shutdown(c->b, c->fd, SHUT_RDWR);
    /* Wakes a recv or send blocked on fd; they fail with EBADF. */
    ustack_bsd_close(c->b, c->fd);
    return NULL;
}

static void block_signals(struct connect *c)
{
    sigemptyset(&c->sigset);
    sigaddset(&c->sigset, SIGINT);
    sigaddset(&c->sigset, SIGTERM);
    sigaddset(&c->sigset, SIGUSR1);
    sigaddset(&c->sigset, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &c->sigset, NULL);
    /* A closed stdout must fail write() with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
}

/* ---- connecting and lingering ------------------------------------------------- */

static const char *connection_error_text(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return "connection refused";
    case ETIMEDOUT:
    case EAGAIN:
    case EINPROGRESS: /* a connect() cut short by SNDTIMEO, as on Linux */
        return "connection timed out";
    case ECONNRESET:
        return "connection reset by peer";
    default:
        return strerror(err);
    }
}

static void report_connect_error(struct connect *c, int err)
{
    char a[16];
    ustack_format_ipv4(ntohl(c->peer.sin_addr.s_addr), a);
    cli_error(connect_command.name, "%s:%u: %s", a, ntohs(c->peer.sin_port),
              connection_error_text(err));
}

static int open_connection(struct connect *c, const struct cli_stack_opts *so)
{
    c->fd = ustack_bsd_socket(c->b, USTACK_SOCK_STREAM);
    if (c->fd < 0) {
        cli_error(connect_command.name, "socket: %s", strerror(errno));
        return -1;
    }
    struct cli_sockopt o[CLI_TCP_SOCKOPTS_MAX]; /* --user-timeout, --keepalive */
    for (size_t i = 0, n = cli_tcp_sockopts(so, o); i < n; i++)
        ustack_bsd_setsockopt(c->b, c->fd, o[i].opt, o[i].value);
    /* SNDTIMEO bounds connect(); lift it again afterwards so a slow reader
     * on the other side does not make our sends fail. */
    if (c->timeout_s)
        ustack_bsd_setsockopt(c->b, c->fd, USTACK_BSD_SNDTIMEO, (int)c->timeout_s * 1000);
    if (ustack_bsd_connect(c->b, c->fd, (struct sockaddr *)&c->peer, sizeof(c->peer)) < 0) {
        if (!c->interrupted)
            report_connect_error(c, errno);
        return -1;
    }
    if (c->timeout_s)
        ustack_bsd_setsockopt(c->b, c->fd, USTACK_BSD_SNDTIMEO, 0);
    return 0;
}

struct linger_check {
    uint16_t local_port;
    const struct sockaddr_in *peer;
    bool busy; /* our connection still has a FIN exchange to finish */
};

static void check_conn(void *ctx, const struct ustack_tcp_info *ci)
{
    struct linger_check *lc = ctx;
    if (ci->local_port != lc->local_port ||
        ci->remote_port != ntohs(lc->peer->sin_port) ||
        ci->remote_addr != ntohl(lc->peer->sin_addr.s_addr) || !ci->state)
        return;
    /* Once the peer has acknowledged our FIN, all our data arrived. */
    if (strcmp(ci->state, "TIME-WAIT") != 0 && strcmp(ci->state, "FIN-WAIT-2") != 0 &&
        strcmp(ci->state, "CLOSED") != 0)
        lc->busy = true;
}

static void linger_probe(void *ctx, struct ustack *st)
{
    struct linger_check *lc = ctx;
    lc->busy = false;
    ustack_tcp_connections(st, check_conn, lc);
}

/* Close our socket, then give TCP a bounded moment to deliver what is
 * queued and finish the FIN exchange before the stack thread stops. */
static void close_and_linger(struct connect *c)
{
    struct sockaddr_in local;
    socklen_t len = sizeof(local);
    struct linger_check lc = {0, &c->peer, false};
    if (ustack_bsd_getsockname(c->b, c->fd, (struct sockaddr *)&local, &len) == 0)
        lc.local_port = ntohs(local.sin_port);
    ustack_bsd_close(c->b, c->fd);
    if (!lc.local_port)
        return;
    struct timespec step = {0, LINGER_STEP_MS * 1000000L};
    for (int waited = 0; waited < LINGER_MS; waited += LINGER_STEP_MS) {
        ustack_bsd_call(c->b, linger_probe, &lc);
        if (!lc.busy)
            return;
        nanosleep(&step, NULL);
    }
}

/* ---- the command -------------------------------------------------------------- */

static int relay(struct connect *c)
{
    if (pipe(c->stop_pipe) < 0) {
        cli_error(connect_command.name, "pipe: %s", strerror(errno));
        return 1;
    }
    int rc = pthread_create(&c->reader, NULL, stdin_main, c);
    if (rc) {
        cli_error(connect_command.name, "thread: %s", strerror(rc));
        return 1;
    }
    int err = copy_to_stdout(c);
    if (err == 0 && !c->interrupted) {
        /* The peer's FIN only ends its direction (a half-close, RFC 9293
         * §3.6): keep sending standard input until its end, which the
         * reader answers with our FIN. A peer that closed entirely resets
         * the connection at our next segment, which ends the reader too. */
        pthread_join(c->reader, NULL);
        close_and_linger(c);
    } else {
        /* The connection failed or we were interrupted: stop reading stdin. */
        if (write(c->stop_pipe[1], "x", 1) < 0) { /* the reader polls on it */
        }
        if (!c->interrupted)
            close_and_linger(c); /* also wakes a reader blocked in send */
        pthread_join(c->reader, NULL);
    }
    if (err == 0 && c->send_errno && c->send_errno != EPIPE)
        err = c->send_errno;
    close(c->stop_pipe[0]);
    close(c->stop_pipe[1]);
    if (c->interrupted)
        return 130;
    if (err == ECONNRESET || err == ETIMEDOUT) {
        report_connect_error(c, err);
        return 1;
    }
    if (err) {
        if (err != EPIPE)
            cli_error(connect_command.name, "receiving: %s", strerror(err));
        return 1;
    }
    return 0;
}

static int connect_run(struct connect *c, const struct cli_stack_opts *so)
{
    struct cli_session s;
    if (cli_session_open(&s, connect_command.name, so) < 0)
        return 1;
    char err[256];
    /* The blocking API runs the stack on its own thread, with its own
     * runner; the session's runner stays idle. */
    c->b = ustack_bsd_start(s.st, s.link, err, sizeof(err));
    if (!c->b) {
        cli_error(connect_command.name, "%s", err);
        cli_session_close(&s);
        return 1;
    }
    int rc = pthread_create(&c->signals, NULL, signal_main, c);
    if (rc) {
        cli_error(connect_command.name, "thread: %s", strerror(rc));
        ustack_bsd_stop(c->b);
        cli_session_close(&s);
        return 1;
    }
    if (open_connection(c, so) < 0) {
        rc = c->interrupted ? 130 : 1;
        ustack_bsd_close(c->b, c->fd);
    } else {
        rc = relay(c);
    }
    /* Release the signal thread unless a signal already did. */
    pthread_kill(c->signals, SIGUSR2);
    pthread_join(c->signals, NULL);
    ustack_bsd_stop(c->b);
    if (so->verbose) {
        fprintf(stderr, "counters:\n");
        ustack_print_stats(s.st, stderr, false);
    }
    cli_session_close(&s);
    return rc;
}

int cmd_connect(int argc, char **argv)
{
    struct connect c;
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    struct cli_stack_opts so;
    cli_stack_opts_init(&so);
    int first;
    int rc = cli_parse(&connect_command, argc, argv, &so, connect_option, &c, &first);
    if (rc != CLI_PARSED)
        return rc == CLI_HELP_SHOWN ? 0 : 2;
    if (parse_target(&c, argv[first], argv[first + 1]) < 0)
        return 2;
    /* Before any thread exists, so every thread inherits the mask. */
    block_signals(&c);
    return connect_run(&c, &so);
}
