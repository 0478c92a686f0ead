/*
 * `ustack stat`: the connection table of a running ustack (up, serve,
 * connect), like `ss -ti`, read from its control socket (ctl.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "options.h"
#include "stat_table.h"

#define STAT_TIMEOUT_S 5
#define STAT_ANSWER_MAX (8u << 20) /* far above CTL_MAX_CONNS lines */

enum {
    KEY_IFNAME = CLI_LONG_ONLY + 1,
    KEY_NETNS,
    KEY_CTL,
    KEY_JSON,
};

static const struct cli_option stat_options[] = {
    {"ifname", KEY_IFNAME, "NAME", "the ustack running on device NAME (default ustack0)"},
    {"netns", KEY_NETNS, "NAME", "... started with --netns NAME"},
    {"ctl", KEY_CTL, "PATH", "the ustack serving the control socket PATH"},
    {"json", KEY_JSON, NULL, "print JSON instead of a table"},
    {0, 0, 0, 0},
};

static const struct cli_command stat_command = {
    .name = "stat",
    .synopsis = "[--ifname NAME [--netns NAME] | --ctl PATH] [--json]",
    .description =
        "List the TCP connections of a running `ustack up`, `serve` or `connect`, like\n"
        "`ss -ti`: state, addresses, send and receive queues, congestion window and\n"
        "slow start threshold, smoothed RTT and its variation, retransmission timeout,\n"
        "bytes in flight, the peer's window, MSS, bytes sent (acknowledged) and\n"
        "received, and retransmitted segments. A '-' is a value not known yet.\n\n"
        "The running command answers on its control socket, by default\n"
        "/run/ustack/IFNAME.sock (/run/ustack/NETNS.IFNAME.sock with --netns).\n\n"
        "Example:\n"
        "  ustack serve --echo 7 &\n"
        "  ustack stat",
    .options = stat_options,
    .min_operands = 0,
    .max_operands = 0,
};

struct stat_args {
    const char *ifname, *netns, *ctl;
    bool json;
};

static int stat_option(void *ctx, int key, const char *arg, char *err, size_t errlen)
{
    struct stat_args *a = ctx;
    switch (key) {
    case KEY_IFNAME: a->ifname = arg; return 0;
    case KEY_NETNS: a->netns = arg; return 0;
    case KEY_CTL: a->ctl = arg; return 0;
    case KEY_JSON: a->json = true; return 0;
    }
    snprintf(err, errlen, "unhandled option %d", key);
    return -1;
}

/* Send the request and read the whole answer (NUL-terminated, malloc'd). */
static char *ask(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: path too long", path);
        return NULL;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {STAT_TIMEOUT_S, 0};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        send(fd, "stat\n", 5, MSG_NOSIGNAL) != 5) {
        snprintf(err, errlen, "cannot ask %s: %s (is a ustack up, serve or connect running "
                 "with this control socket?)", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            snprintf(err, errlen, "out of memory");
            break;
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n == 0) {
            close(fd);
            buf[len] = '\0';
            return buf;
        }
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", path,
                     errno == EAGAIN ? "no answer in time" : strerror(errno));
            break;
        }
        len += (size_t)n;
        if (len == cap) {
            if (cap >= STAT_ANSWER_MAX) {
                snprintf(err, errlen, "%s: answer too long", path);
                break;
            }
            cap *= 2;
            char *b = realloc(buf, cap + 1);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    free(buf);
    close(fd);
    return NULL;
}

int cmd_stat(int argc, char **argv)
{
    struct stat_args a = {.ifname = "ustack0"};
    int first;
    int rc = cli_parse(&stat_command, argc, argv, NULL, stat_option, &a, &first);
    if (rc != CLI_PARSED)
        return rc == CLI_HELP_SHOWN ? 0 : 2;
    char path[256];
    if (a.ctl) {
        snprintf(path, sizeof(path), "%s", a.ctl);
    } else if (ctl_default_path(a.ifname, a.netns, path, sizeof(path)) < 0) {
        cli_error(stat_command.name, "'%s' cannot name a control socket", a.ifname);
        return 2;
    }
    char err[512];
    char *answer = ask(path, err, sizeof(err));
    if (!answer) {
        cli_error(stat_command.name, "%s", err);
        return 1;
    }
    struct stat_conn *conns;
    size_t n, total;
    rc = stat_parse_answer(answer, &conns, &n, &total, err, sizeof(err));
    free(answer);
    if (rc < 0) {
        cli_error(stat_command.name, "%s: %s", path, err);
        return 1;
    }
    if (a.json) {
        stat_print_json(stdout, conns, n, total);
    } else {
        stat_print_table(stdout, conns, n);
        if (total > n)
            printf("... and %zu more connections (the answer lists at most %d)\n", total - n,
                   CTL_MAX_CONNS);
    }
    free(conns);
    return 0;
}
