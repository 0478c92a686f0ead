/*
 * The control socket (ctl.h): a Unix stream socket served from the
 * runner's loop. Everything is non-blocking; each client is a small state
 * machine: read one request line, build the whole answer (bounded), write
 * it out as the socket drains, close.
 */
#include "ctl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "stat_table.h"
#include "ustack/tcp_info.h"

#define CTL_REQUEST_MAX 64
#define CTL_ACCEPTS_PER_CALL 16

struct ctl_client {
    struct ctl_server *srv;
    int fd;              /* -1: slot free */
    uint64_t seq;        /* accept order: the oldest is pushed out first */
    bool writing;        /* the answer is being sent */
    char req[CTL_REQUEST_MAX + 1];
    size_t req_len;
    char *out;
    size_t out_len, out_off;
};

struct ctl_server {
    struct ustack_runner *r;
    struct ustack *st;
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;           /* our socket file, to remove only that */
    ino_t ino;
    uint64_t next_seq;
    struct ctl_client client[CTL_MAX_CLIENTS];
};

/* ---- Paths ---------------------------------------------------------------------- */

/* A device or namespace name usable as part of a file name. */
static bool name_ok(const char *s)
{
    return s && s[0] && s[0] != '.' && !strchr(s, '/') && strlen(s) < 64;
}

int ctl_default_path(const char *ifname, const char *netns, char *buf, size_t len)
{
    if (!name_ok(ifname) || (netns && !name_ok(netns)))
        return -1;
    int n = netns ? snprintf(buf, len, "%s/%s.%s.sock", CTL_DIR, netns, ifname)
                  : snprintf(buf, len, "%s/%s.sock", CTL_DIR, ifname);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* A socket file already at path: another live ustack's (refuse), or one
 * left behind by a process that died (remove it). Anything else that is
 * not a socket is never touched. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
    if (!S_ISSOCK(sb.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen, "%s is in use by another running ustack", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -1;
    }
    unlink(path);
    return 0;
}

/* ---- Clients -------------------------------------------------------------------- */

static void client_drop(struct ctl_client *c)
{
    if (c->fd < 0)
        return;
    ustack_runner_remove_fd(c->srv->r, c->fd);
    close(c->fd);
    free(c->out);
    struct ctl_server *srv = c->srv;
    memset(c, 0, sizeof(*c));
    c->srv = srv;
    c->fd = -1;
}

/* The answer, growing up to what CTL_MAX_CONNS lines need. */
struct answer {
    char *p;
    size_t len, cap;
    size_t listed, total;
    bool failed;
};

static void answer_add(struct answer *a, const char *s, size_t n)
{
    if (a->failed)
        return;
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *p = realloc(a->p, cap);
        if (!p) {
            a->failed = true;
            return;
        }
        a->p = p;
        a->cap = cap;
    }
    memcpy(a->p + a->len, s, n);
    a->len += n;
    a->p[a->len] = '\0';
}

static void answer_conn(void *ctx, const struct ustack_tcp_info *info)
{
    struct answer *a = ctx;
    a->total++;
    if (a->listed >= CTL_MAX_CONNS)
        return;
    struct stat_conn sc;
    char line[STAT_WIRE_MAX];
    stat_conn_from_info(&sc, info);
    int n = stat_conn_to_wire(&sc, line, sizeof(line));
    if (n > 0) {
        answer_add(a, line, (size_t)n);
        a->listed++;
    }
}

static void build_answer(struct ctl_client *c)
{
    struct answer a = {0};
    size_t len = strcspn(c->req, "\r\n");
    if (len == 4 && !strncmp(c->req, "stat", 4)) {
        static const char head[] = "ustack-stat 1\n";
        answer_add(&a, head, sizeof(head) - 1);
        ustack_tcp_connections(c->srv->st, answer_conn, &a);
        char end[64];
        int n = snprintf(end, sizeof(end), "end %zu %zu\n", a.listed, a.total);
        answer_add(&a, end, (size_t)n);
    } else {
        static const char bad[] = "error unknown request (try: stat)\n";
        answer_add(&a, bad, sizeof(bad) - 1);
    }
    if (a.failed) {
        free(a.p);
        a = (struct answer){0};
        static const char oom[] = "error out of memory\n";
        answer_add(&a, oom, sizeof(oom) - 1);
    }
    c->out = a.p;
    c->out_len = a.failed ? 0 : a.len;
    c->out_off = 0;
}

static void on_client(void *ctx, int fd, uint32_t events);

/* Write what the socket takes; drop the client when all went or it is
 * gone. */
static void client_write(struct ctl_client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            client_drop(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    client_drop(c); /* one request per connection */
}

/* The request line is complete (or the client stopped sending): answer,
 * and from now on wait for room to write instead of for input. */
static void client_answer(struct ctl_client *c)
{
    build_answer(c);
    c->writing = true;
    ustack_runner_remove_fd(c->srv->r, c->fd);
    if (ustack_runner_add_fd(c->srv->r, c->fd, EPOLLOUT, on_client, c) < 0) {
        client_drop(c);
        return;
    }
    client_write(c);
}

static void client_read(struct ctl_client *c)
{
    for (;;) {
        size_t room = CTL_REQUEST_MAX - c->req_len;
        ssize_t n = room ? recv(c->fd, c->req + c->req_len, room, 0) : 0;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            client_drop(c);
            return;
        }
        c->req_len += (size_t)n;
        c->req[c->req_len] = '\0';
        /* A line, a full buffer, or the end of input: that is the request. */
        if (n == 0 || memchr(c->req, '\n', c->req_len)) {
            client_answer(c);
            return;
        }
    }
}

static void on_client(void *ctx, int fd, uint32_t events)
{
    struct ctl_client *c = ctx;
    (void)fd;
    if ((events & (EPOLLERR | EPOLLHUP)) && !(events & (EPOLLIN | EPOLLOUT))) {
        client_drop(c);
        return;
    }
    if (c->writing)
        client_write(c);
    else
        client_read(c);
}

/* A free slot, or the oldest client's (pushed out). */
static struct ctl_client *client_slot(struct ctl_server *s)
{
    struct ctl_client *oldest = &s->client[0];
    for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
        if (s->client[i].fd < 0)
            return &s->client[i];
        if (s->client[i].seq < oldest->seq)
            oldest = &s->client[i];
    }
    client_drop(oldest);
    return oldest;
}

static void on_listen(void *ctx, int fd, uint32_t events)
{
    struct ctl_server *s = ctx;
    (void)events;
    for (int i = 0; i < CTL_ACCEPTS_PER_CALL; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return; /* EAGAIN, or a client that vanished: nothing to do */
        struct ctl_client *c = client_slot(s);
        c->fd = cfd;
        c->seq = s->next_seq++;
        if (ustack_runner_add_fd(s->r, cfd, EPOLLIN, on_client, c) < 0) {
            close(cfd);
            c->fd = -1;
        }
    }
}

/* ---- Server ------------------------------------------------------------------------ */

static int bind_listen(struct ctl_server *s, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(s->path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: path too long for a Unix socket", s->path);
        return -1;
    }
    strcpy(sa.sun_path, s->path);
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    /* Only the owner (root, normally) may ask. */
    struct stat sb;
    if (chmod(s->path, 0600) < 0 || stat(s->path, &sb) < 0 || listen(s->fd, 16) < 0) {
        snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
        unlink(s->path);
        return -1;
    }
    s->dev = sb.st_dev;
    s->ino = sb.st_ino;
    return 0;
}

struct ctl_server *ctl_open(struct ustack_runner *r, struct ustack *st, const char *path,
                            char *err, size_t errlen)
{
    struct ctl_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->r = r;
    s->st = st;
    s->fd = -1;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
        s->client[i].srv = s;
        s->client[i].fd = -1;
    }
    if (strlen(path) >= sizeof(s->path)) {
        snprintf(err, errlen, "%s: path too long for a Unix socket", path);
        free(s);
        return NULL;
    }
    strcpy(s->path, path);
    if (!strncmp(path, CTL_DIR "/", strlen(CTL_DIR) + 1) && mkdir(CTL_DIR, 0755) < 0 &&
        errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", CTL_DIR, strerror(errno));
        free(s);
        return NULL;
    }
    if (clear_stale(path, err, errlen) < 0 || bind_listen(s, err, errlen) < 0) {
        if (s->fd >= 0)
            close(s->fd);
        free(s);
        return NULL;
    }
    int rc = ustack_runner_add_fd(r, s->fd, EPOLLIN, on_listen, s);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        ctl_close(s);
        return NULL;
    }
    return s;
}

void ctl_close(struct ctl_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        client_drop(&s->client[i]);
    if (s->fd >= 0) {
        ustack_runner_remove_fd(s->r, s->fd);
        close(s->fd);
        /* Only our own file: a later ustack may have taken the name. */
        struct stat sb;
        if (stat(s->path, &sb) == 0 && sb.st_dev == s->dev && sb.st_ino == s->ino)
            unlink(s->path);
    }
    free(s);
}
