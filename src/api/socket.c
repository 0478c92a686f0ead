/*
 * The event API (include/ustack/socket.h): non-blocking sockets over the
 * transport protocols.
 *
 * A descriptor is an index into a bounded table allocated once
 * (ustack_config.max_sockets slots). The lowest free index is handed out
 * first, as POSIX does for file descriptors; a closed slot answers -EBADF
 * until it is handed out again.
 *
 * A stream socket owns a struct tcp_conn from its first bind, listen,
 * connect (or a getsockopt that needs TCP's answer); options set before then
 * are remembered and applied when the connection block is created, so a
 * socket that is opened and closed again never costs TCP anything.
 *
 * Readiness (edge style, like epoll with EPOLLET): TCP calls
 * st->sock_notify(st, owner) whenever a connection's readiness may have
 * changed; we append the socket to an intrusive ready list (no allocation;
 * a flag keeps each socket on it at most once). API calls that change a
 * socket's readiness themselves (accept draining the queue, send filling
 * the buffer, shutdown, ...) append it too. ustack_poll() drains the list
 * and reports each socket's full current readiness.
 *
 * Each public call looks the descriptor up, then dispatches on the socket
 * type: stream sockets go to the stream_* functions, datagram sockets to the
 * dgram_* functions below.
 *
 * A datagram socket owns a struct udp_pcb from its creation (UDP keeps the
 * addresses, the pending error and the receive queue; see src/udp/udp.h).
 * It is reported WRITABLE as soon as it is created, as epoll reports a new
 * UDP socket, and READABLE whenever a datagram arrives.
 *
 * Choices where socket.h leaves room:
 *  - accept with a full table returns -EMFILE and leaves the connection in
 *    the accept queue (the listener stays readable), instead of dropping it.
 *  - a socket whose connect failed is not reconnected: connect again returns
 *    the pending error once (the "connect twice" idiom), then -EINVAL.
 *  - ustack_events on a descriptor that is not open reports
 *    USTACK_EV_ERROR, as poll(2) reports POLLNVAL.
 *  - ustack_poll skips a socket whose readiness is empty again by the time
 *    it is polled (e.g. its data was read in between).
 *  - connect to a listening socket is -EOPNOTSUPP (POSIX), to 0.0.0.0 or
 *    port 0 -EADDRNOTAVAIL, to a multicast/broadcast address -ENETUNREACH.
 */
#include "api/socket.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack.h"
#include "net/ipv4.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "ustack/socket.h"

enum sock_state {
    SOCK_FREE = 0,    /* slot not in use */
    SOCK_FRESH,       /* created, not bound (may already own a conn) */
    SOCK_BOUND,       /* the conn holds a local address */
    SOCK_LISTENING,
    SOCK_CONNECTING,  /* active open in progress */
    SOCK_CONNECTED,   /* established: accepted, or connect() finished */
    SOCK_FAILED,      /* connect() failed (refused, timed out, reset) */
};

#define NO_SLOT (-1)
/* The highest option number: options set before the connection exists
 * are kept in a bitmask and an array indexed by it (struct sock).
 * stream_setsockopt refuses any option beyond it rather than write past
 * the array. */
#define OPT_MAX (USTACK_SOCKOPT_COUNT - 1)
_Static_assert(OPT_MAX < 32, "struct sock's opt_set is a 32-bit mask");

struct sock {
    struct tcp_conn *conn; /* stream sockets; NULL until first needed */
    struct udp_pcb *udp;   /* datagram sockets, from creation to close */
    uint8_t type;          /* USTACK_SOCK_* */
    uint8_t state;         /* enum sock_state */
    bool reuseaddr;        /* USTACK_SO_REUSEADDR, needed at tcp_bind */
    bool queued;           /* on the ready list */
    int ready_prev, ready_next;
    uint32_t generation;   /* bumped on every open and close of the slot */
    /* Options set before the conn existed: bit n set = opt_value[n] holds
     * option n, applied to the conn when it is created. */
    uint32_t opt_set;
    int opt_value[OPT_MAX + 1];
};

struct sock_table {
    struct sock *slots;
    unsigned size;
    /* Bitmap of slots in use (bit set = used). Bits past `size` in the last
     * word are set, so the search never hands them out. */
    uint64_t *used;
    unsigned nwords;
    unsigned hint;         /* every word below this one is full */
    int ready_head, ready_tail;
    sock_wake_fn waker;
    void *waker_ctx;
};

/* ---- slots --------------------------------------------------------------- */

/* Claim the lowest free slot: its index, or NO_SLOT when the table is full. */
static int slot_claim(struct sock_table *t)
{
    for (unsigned w = t->hint; w < t->nwords; w++) {
        if (t->used[w] == UINT64_MAX)
            continue;
        unsigned bit = (unsigned)__builtin_ctzll(~t->used[w]);
        t->used[w] |= (uint64_t)1 << bit;
        t->hint = w;
        return (int)(w * 64 + bit);
    }
    t->hint = t->nwords;
    return NO_SLOT;
}

static void slot_unclaim(struct sock_table *t, int sd)
{
    unsigned w = (unsigned)sd / 64;
    t->used[w] &= ~((uint64_t)1 << ((unsigned)sd % 64));
    if (w < t->hint)
        t->hint = w;
}

static int sock_index(const struct sock_table *t, const struct sock *s)
{
    return (int)(s - t->slots);
}

static struct sock *sock_open(struct sock_table *t, int sd, int type)
{
    struct sock *s = &t->slots[sd];
    uint32_t generation = s->generation + 1;
    memset(s, 0, sizeof(*s));
    s->type = (uint8_t)type;
    s->state = SOCK_FRESH;
    s->ready_prev = s->ready_next = NO_SLOT;
    s->generation = generation;
    return s;
}

/* The socket behind sd, or NULL when sd is not an open descriptor. */
static struct sock *sock_get(struct ustack *st, int sd)
{
    struct sock_table *t = st->socks;
    if (!t || sd < 0 || (unsigned)sd >= t->size)
        return NULL;
    struct sock *s = &t->slots[sd];
    return s->state == SOCK_FREE ? NULL : s;
}

/* ---- readiness ----------------------------------------------------------- */

static void ready_push(struct sock_table *t, struct sock *s)
{
    if (s->queued)
        return;
    int sd = sock_index(t, s);
    s->queued = true;
    s->ready_next = NO_SLOT;
    s->ready_prev = t->ready_tail;
    if (t->ready_tail != NO_SLOT)
        t->slots[t->ready_tail].ready_next = sd;
    else
        t->ready_head = sd;
    t->ready_tail = sd;
}

static void ready_remove(struct sock_table *t, struct sock *s)
{
    if (!s->queued)
        return;
    if (s->ready_prev != NO_SLOT)
        t->slots[s->ready_prev].ready_next = s->ready_next;
    else
        t->ready_head = s->ready_next;
    if (s->ready_next != NO_SLOT)
        t->slots[s->ready_next].ready_prev = s->ready_prev;
    else
        t->ready_tail = s->ready_prev;
    s->queued = false;
    s->ready_prev = s->ready_next = NO_SLOT;
}

static void wake_waiters(struct sock_table *t, int sd)
{
    if (t->waker)
        t->waker(t->waker_ctx, sd);
}

/* s's readiness may have changed: queue it for ustack_poll and wake any
 * blocking-API thread waiting on it. */
static void sock_mark(struct sock_table *t, struct sock *s)
{
    ready_push(t, s);
    wake_waiters(t, sock_index(t, s));
}

/* st->sock_notify: called by TCP and UDP from inside the stack. */
static void sock_notify(struct ustack *st, void *owner)
{
    struct sock *s = owner;
    if (s && st->socks && s->state != SOCK_FREE)
        sock_mark(st->socks, s);
}

/* A connecting socket learns the outcome from TCP's readiness: writable
 * means established; an error or hang-up means the attempt failed. */
static void stream_refresh(struct sock *s)
{
    if (s->state != SOCK_CONNECTING)
        return;
    unsigned ev = tcp_events(s->conn);
    if (ev & (USTACK_EV_ERROR | USTACK_EV_HUP))
        s->state = SOCK_FAILED;
    else if (ev & USTACK_EV_WRITABLE)
        s->state = SOCK_CONNECTED;
}

static unsigned stream_events(struct sock *s)
{
    stream_refresh(s);
    /* Before listen/connect a socket has nothing to report, even if TCP
     * already holds a connection block for it. */
    if (!s->conn || s->state < SOCK_LISTENING)
        return 0;
    return tcp_events(s->conn);
}

static unsigned sock_events(struct sock *s)
{
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_events(s);
    case USTACK_SOCK_DGRAM:
        return udp_events(s->udp);
    }
    return 0;
}

/* After an API call: if it changed s's readiness from `before`, report s. */
static void sock_changed_since(struct ustack *st, struct sock *s, unsigned before)
{
    if (sock_events(s) != before)
        sock_mark(st->socks, s);
}

/* ---- addresses ----------------------------------------------------------- */

static int sin_parse(const struct sockaddr *addr, socklen_t len, uint32_t *ip,
                     uint16_t *port)
{
    if (!addr)
        return -EFAULT;
    if (len < sizeof(struct sockaddr_in))
        return -EINVAL;
    struct sockaddr_in sin;
    memcpy(&sin, addr, sizeof(sin)); /* the caller's buffer may be unaligned */
    if (sin.sin_family != AF_INET)
        return -EAFNOSUPPORT;
    *ip = ntohl(sin.sin_addr.s_addr);
    *port = ntohs(sin.sin_port);
    return 0;
}

/* Write ip:port to addr, truncated to *len as POSIX says; *len gets the
 * full size. */
static void sin_store(struct sockaddr *addr, socklen_t *len, uint32_t ip, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(ip);
    size_t n = *len < sizeof(sin) ? *len : sizeof(sin);
    memcpy(addr, &sin, n);
    *len = sizeof(sin);
}

/* A destination no connection can reach: "this host" (0.0.0.0/8),
 * multicast, reserved class E, and broadcast addresses: a TCP peer is a
 * unicast host (RFC 1122 §4.2.3.10 has receivers drop SYNs to the others). */
static bool bad_destination(const struct ustack *st, uint32_t ip)
{
    return (ip >> 24) == 0 || ip >= 0xe0000000u || ip4_is_broadcast(st, ip);
}

/* ---- stream sockets ------------------------------------------------------ */

/* Create s's connection block on first need, with the options set so far. */
static int stream_ensure_conn(struct ustack *st, struct sock *s)
{
    if (s->conn)
        return 0;
    struct tcp_conn *c = tcp_conn_create(st);
    if (!c)
        return -ENOBUFS;
    for (int opt = 1; opt <= OPT_MAX; opt++) {
        if (!(s->opt_set & (1u << opt)))
            continue;
        int err = tcp_setopt(st, c, opt, s->opt_value[opt]);
        if (err < 0) {
            tcp_abort(st, c);
            return err;
        }
    }
    s->opt_set = 0;
    s->conn = c;
    tcp_set_owner(c, s);
    return 0;
}

/* addr 0 = our address; port 0 = an ephemeral port. */
static int stream_bind(struct ustack *st, struct sock *s, uint32_t ip, uint16_t port)
{
    if (s->state != SOCK_FRESH)
        return -EINVAL; /* already bound, listening or connected */
    if (ip != 0 && ip != st->cfg.addr)
        return -EADDRNOTAVAIL;
    int err = stream_ensure_conn(st, s);
    if (err < 0)
        return err;
    err = tcp_bind(st, s->conn, ip, port, s->reuseaddr);
    if (err < 0)
        return err;
    s->state = SOCK_BOUND;
    return 0;
}

/* An unbound socket gets an ephemeral port from TCP. Listening again only
 * changes the backlog, as with listen(2). */
static int stream_listen(struct ustack *st, struct sock *s, int backlog)
{
    if (s->state != SOCK_FRESH && s->state != SOCK_BOUND && s->state != SOCK_LISTENING)
        return -EINVAL;
    int err = stream_ensure_conn(st, s);
    if (err < 0)
        return err;
    /* As listen(2): a backlog below 1 still admits one connection. TCP
     * applies its own upper bound (backlog_max). */
    err = tcp_listen(st, s->conn, backlog < 1 ? 1 : backlog);
    if (err < 0)
        return err;
    s->state = SOCK_LISTENING;
    return 0;
}

static int stream_accept(struct ustack *st, struct sock *s, struct sockaddr *peer,
                         socklen_t *len)
{
    struct sock_table *t = st->socks;
    if (s->state != SOCK_LISTENING)
        return -EINVAL;
    if (peer && !len)
        return -EFAULT;
    unsigned before = sock_events(s);
    /* Claim the slot first: when the table is full the connection stays in
     * the accept queue (and the listener stays readable), so the caller can
     * close something and accept it later instead of losing it. */
    int sd = slot_claim(t);
    if (sd == NO_SLOT)
        return (before & USTACK_EV_READABLE) ? -EMFILE : -EAGAIN;
    struct tcp_conn *c = tcp_accept(st, s->conn);
    if (!c) {
        slot_unclaim(t, sd);
        return -EAGAIN;
    }
    struct sock *ns = sock_open(t, sd, USTACK_SOCK_STREAM);
    ns->conn = c;
    ns->state = SOCK_CONNECTED;
    tcp_set_owner(c, ns);
    if (peer) {
        uint32_t ip;
        uint16_t port;
        tcp_remote_addr(c, &ip, &port);
        sin_store(peer, len, ip, port);
    }
    /* Data (or even a FIN) may have arrived before the accept. */
    if (sock_events(ns))
        sock_mark(t, ns);
    sock_changed_since(st, s, before);
    return sd;
}

static int stream_connect(struct ustack *st, struct sock *s, uint32_t ip, uint16_t port)
{
    stream_refresh(s);
    switch (s->state) {
    case SOCK_LISTENING:
        return -EOPNOTSUPP; /* POSIX: a listening socket cannot connect */
    case SOCK_CONNECTING:
        return -EALREADY;
    case SOCK_CONNECTED:
        return -EISCONN;
    case SOCK_FAILED: {
        /* The attempt is over; report how it ended. A socket is not
         * reconnected: open a new one. */
        int err = tcp_take_error(s->conn);
        return err ? -err : -EINVAL;
    }
    }
    if (ip == 0 || port == 0)
        return -EADDRNOTAVAIL;
    if (bad_destination(st, ip))
        return -ENETUNREACH;
    /* An unbound socket gets an ephemeral port from tcp_connect, which
     * picks one that makes the four-tuple unique. */
    int err = stream_ensure_conn(st, s);
    if (err < 0)
        return err;
    err = tcp_connect(st, s->conn, ip, port);
    if (err == 0) {
        s->state = SOCK_CONNECTED;
        sock_mark(st->socks, s);
    } else if (err == -EINPROGRESS) {
        s->state = SOCK_CONNECTING;
    }
    return err;
}

/* Send and receive are TCP's business once the connection exists (it knows
 * about resets, shutdown and FIN); we only answer for the states before. */
static int stream_io_state(struct sock *s)
{
    stream_refresh(s);
    switch (s->state) {
    case SOCK_CONNECTED:
    case SOCK_FAILED:
        return 0;
    case SOCK_CONNECTING:
        return -EAGAIN; /* usable once WRITABLE says the handshake is done */
    default:
        return -ENOTCONN;
    }
}

static ssize_t stream_send(struct ustack *st, struct sock *s, const void *buf,
                           size_t len, int flags)
{
    int err = stream_io_state(s);
    if (err < 0)
        return err;
    if (len == 0)
        return 0;
    unsigned before = sock_events(s);
    ssize_t n = tcp_send(st, s->conn, buf, len, flags);
    sock_changed_since(st, s, before);
    return n;
}

static ssize_t stream_recv(struct ustack *st, struct sock *s, void *buf, size_t len)
{
    int err = stream_io_state(s);
    if (err < 0)
        return err;
    if (len == 0)
        return 0;
    unsigned before = sock_events(s);
    ssize_t n = tcp_recv(st, s->conn, buf, len);
    sock_changed_since(st, s, before);
    return n;
}

static int stream_shutdown(struct ustack *st, struct sock *s, int how)
{
    stream_refresh(s);
    if (s->state != SOCK_CONNECTED)
        return -ENOTCONN;
    unsigned before = sock_events(s);
    int err = tcp_shutdown(st, s->conn, how);
    sock_changed_since(st, s, before);
    return err;
}

static void stream_close(struct ustack *st, struct sock *s)
{
    if (!s->conn)
        return;
    /* Detach first: TCP finishes the close in the background and must not
     * report to a slot that may belong to another socket by then. */
    tcp_set_owner(s->conn, NULL);
    tcp_close(st, s->conn);
    s->conn = NULL;
}

static int stream_getsockname(struct sock *s, uint32_t *ip, uint16_t *port)
{
    *ip = 0;
    *port = 0;
    if (s->conn && s->state != SOCK_FRESH)
        tcp_local_addr(s->conn, ip, port);
    return 0;
}

static int stream_getpeername(struct sock *s, uint32_t *ip, uint16_t *port)
{
    stream_refresh(s);
    if (s->state != SOCK_CONNECTED)
        return -ENOTCONN;
    tcp_remote_addr(s->conn, ip, port);
    return 0;
}

static int stream_setsockopt(struct ustack *st, struct sock *s, int opt, int value)
{
    if (opt < 1 || opt > OPT_MAX)
        return -ENOPROTOOPT;
    if (opt == USTACK_SO_REUSEADDR)
        s->reuseaddr = value != 0;
    if (!s->conn) {
        s->opt_set |= 1u << opt;
        s->opt_value[opt] = value;
        return 0;
    }
    /* A bigger send buffer can make the socket writable. */
    unsigned before = sock_events(s);
    int err = tcp_setopt(st, s->conn, opt, value);
    sock_changed_since(st, s, before);
    return err;
}

static int stream_getsockopt(struct ustack *st, struct sock *s, int opt, int *value)
{
    if (opt == USTACK_SO_ERROR) {
        *value = s->conn ? tcp_take_error(s->conn) : 0;
        return 0;
    }
    if (opt == USTACK_SO_REUSEADDR) {
        *value = s->reuseaddr;
        return 0;
    }
    if (!s->conn && (s->opt_set & (1u << opt))) {
        *value = s->opt_value[opt];
        return 0;
    }
    /* Only TCP knows its defaults (buffer sizes come from its config). */
    int err = stream_ensure_conn(st, s);
    if (err < 0)
        return err;
    return tcp_getopt(s->conn, opt, value);
}

/* ---- datagram sockets ---------------------------------------------------- */

/* The control block comes with the socket: UDP needs nothing else before
 * the first datagram, and a new socket can send at once. */
static int dgram_open(struct ustack *st, struct sock *s)
{
    s->udp = udp_pcb_create(st);
    if (!s->udp)
        return -ENOBUFS;
    udp_set_owner(s->udp, s);
    sock_mark(st->socks, s); /* WRITABLE from the start */
    return 0;
}

/* connect(2) with AF_UNSPEC dissolves a datagram socket's association. */
static bool sockaddr_is_unspec(const struct sockaddr *addr, socklen_t len)
{
    sa_family_t family;
    if (!addr || len < offsetof(struct sockaddr, sa_family) + sizeof(family))
        return false;
    memcpy(&family, (const char *)addr + offsetof(struct sockaddr, sa_family),
           sizeof(family));
    return family == AF_UNSPEC;
}

/* to_peer: send to the connected peer (send); else to ip:port (sendto). */
static ssize_t dgram_sendto(struct ustack *st, struct sock *s, const void *buf,
                            size_t len, int flags, bool to_peer, uint32_t ip,
                            uint16_t port)
{
    if (flags & USTACK_MSG_MORE)
        return -EOPNOTSUPP; /* datagrams are not corked */
    unsigned before = sock_events(s);
    ssize_t n = udp_sendto(st, s->udp, buf, len, to_peer, ip, port);
    sock_changed_since(st, s, before); /* a pending error may be gone */
    return n;
}

/* from may be NULL; when it is not, fromlen is too (checked by callers). */
static ssize_t dgram_recvfrom(struct ustack *st, struct sock *s, void *buf, size_t len,
                              struct sockaddr *from, socklen_t *fromlen)
{
    unsigned before = sock_events(s);
    uint32_t ip = 0;
    uint16_t port = 0;
    ssize_t n = udp_recvfrom(s->udp, buf, len, &ip, &port);
    if (n >= 0 && from)
        sin_store(from, fromlen, ip, port);
    sock_changed_since(st, s, before);
    return n;
}

static int dgram_getsockopt(struct sock *s, int opt, int *value)
{
    if (opt == USTACK_SO_ERROR) {
        *value = udp_take_error(s->udp);
        return 0;
    }
    return udp_getopt(s->udp, opt, value);
}

/* ---- the public API ------------------------------------------------------ */

int ustack_socket(struct ustack *st, int type)
{
    switch (type) {
    case USTACK_SOCK_STREAM:
    case USTACK_SOCK_DGRAM:
        break;
    default:
        return -EINVAL;
    }
    int sd = slot_claim(st->socks);
    if (sd == NO_SLOT)
        return -EMFILE;
    struct sock *s = sock_open(st->socks, sd, type);
    if (type == USTACK_SOCK_DGRAM) {
        int err = dgram_open(st, s);
        if (err < 0) {
            s->state = SOCK_FREE;
            s->generation++;
            slot_unclaim(st->socks, sd);
            return err;
        }
    }
    return sd;
}

int ustack_bind(struct ustack *st, int sd, const struct sockaddr *addr, socklen_t len)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    uint32_t ip;
    uint16_t port;
    int err = sin_parse(addr, len, &ip, &port);
    if (err < 0)
        return err;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_bind(st, s, ip, port);
    case USTACK_SOCK_DGRAM:
        return udp_bind(st, s->udp, ip, port);
    }
    return -EOPNOTSUPP;
}

int ustack_listen(struct ustack *st, int sd, int backlog)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_listen(st, s, backlog);
    }
    return -EOPNOTSUPP; /* datagram sockets do not listen */
}

int ustack_accept(struct ustack *st, int sd, struct sockaddr *peer, socklen_t *len)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_accept(st, s, peer, len);
    }
    return -EOPNOTSUPP;
}

int ustack_connect(struct ustack *st, int sd, const struct sockaddr *addr, socklen_t len)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    if (s->type == USTACK_SOCK_DGRAM && sockaddr_is_unspec(addr, len)) {
        udp_disconnect(s->udp);
        return 0;
    }
    uint32_t ip;
    uint16_t port;
    int err = sin_parse(addr, len, &ip, &port);
    if (err < 0)
        return err;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_connect(st, s, ip, port);
    case USTACK_SOCK_DGRAM:
        return udp_connect(st, s->udp, ip, port);
    }
    return -EOPNOTSUPP;
}

ssize_t ustack_send(struct ustack *st, int sd, const void *buf, size_t len, int flags)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    if (flags & ~USTACK_MSG_MORE)
        return -EINVAL;
    if (!buf && len)
        return -EFAULT;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_send(st, s, buf, len, flags);
    case USTACK_SOCK_DGRAM:
        return dgram_sendto(st, s, buf, len, flags, true, 0, 0);
    }
    return -EOPNOTSUPP;
}

ssize_t ustack_recv(struct ustack *st, int sd, void *buf, size_t len, int flags)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    if (flags != 0)
        return -EINVAL; /* no receive flags are defined */
    if (!buf && len)
        return -EFAULT;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_recv(st, s, buf, len);
    case USTACK_SOCK_DGRAM:
        return dgram_recvfrom(st, s, buf, len, NULL, NULL);
    }
    return -EOPNOTSUPP;
}

ssize_t ustack_sendto(struct ustack *st, int sd, const void *buf, size_t len, int flags,
                      const struct sockaddr *to, socklen_t tolen)
{
    if (!to)
        return ustack_send(st, sd, buf, len, flags);
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    if (flags & ~USTACK_MSG_MORE)
        return -EINVAL;
    if (!buf && len)
        return -EFAULT;
    uint32_t ip;
    uint16_t port;
    int err;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        /* POSIX: a connection-mode socket ignores the address. */
        return stream_send(st, s, buf, len, flags);
    case USTACK_SOCK_DGRAM:
        if ((err = sin_parse(to, tolen, &ip, &port)) < 0)
            return err;
        return dgram_sendto(st, s, buf, len, flags, false, ip, port);
    }
    return -EOPNOTSUPP;
}

ssize_t ustack_recvfrom(struct ustack *st, int sd, void *buf, size_t len, int flags,
                        struct sockaddr *from, socklen_t *fromlen)
{
    if (!from)
        return ustack_recv(st, sd, buf, len, flags);
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    if (!fromlen)
        return -EFAULT;
    if (flags != 0)
        return -EINVAL;
    if (!buf && len)
        return -EFAULT;
    ssize_t n = -EOPNOTSUPP;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        /* No source address per read: the peer is getpeername's. */
        n = stream_recv(st, s, buf, len);
        if (n >= 0)
            *fromlen = 0;
        break;
    case USTACK_SOCK_DGRAM:
        n = dgram_recvfrom(st, s, buf, len, from, fromlen);
        break;
    }
    return n;
}

int ustack_shutdown(struct ustack *st, int sd, int how)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return -EINVAL;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_shutdown(st, s, how);
    }
    return -EOPNOTSUPP;
}

int ustack_close(struct ustack *st, int sd)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    struct sock_table *t = st->socks;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        stream_close(st, s);
        break;
    case USTACK_SOCK_DGRAM:
        udp_close(st, s->udp);
        s->udp = NULL;
        break;
    }
    ready_remove(t, s);
    s->state = SOCK_FREE;
    s->generation++;
    slot_unclaim(t, sd);
    /* Threads blocked on sd must notice that it is gone. */
    wake_waiters(t, sd);
    return 0;
}

/* getsockname (peer false) and getpeername (peer true). */
static int sock_name(struct ustack *st, int sd, struct sockaddr *addr,
                     socklen_t *len, bool peer)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    if (!addr || !len)
        return -EFAULT;
    uint32_t ip = 0;
    uint16_t port = 0;
    int err = -EOPNOTSUPP;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        err = peer ? stream_getpeername(s, &ip, &port)
                   : stream_getsockname(s, &ip, &port);
        break;
    case USTACK_SOCK_DGRAM:
        if (peer) {
            err = udp_remote_addr(s->udp, &ip, &port);
        } else {
            udp_local_addr(s->udp, &ip, &port);
            err = 0;
        }
        break;
    }
    if (err == 0)
        sin_store(addr, len, ip, port);
    return err;
}

int ustack_getsockname(struct ustack *st, int sd, struct sockaddr *addr, socklen_t *len)
{
    return sock_name(st, sd, addr, len, false);
}

int ustack_getpeername(struct ustack *st, int sd, struct sockaddr *addr, socklen_t *len)
{
    return sock_name(st, sd, addr, len, true);
}

/* Check a value for a settable option; booleans become 0 or 1. */
static int opt_normalize(int opt, int *value)
{
    switch (opt) {
    case USTACK_SO_SNDBUF:
    case USTACK_SO_RCVBUF:
        return *value > 0 ? 0 : -EINVAL;
    case USTACK_SO_REUSEADDR:
    case USTACK_SO_LINGER_ZERO:
    case USTACK_TCP_NODELAY:
    case USTACK_SO_KEEPALIVE:
        *value = *value != 0;
        return 0;
    case USTACK_TCP_KEEPIDLE: /* ranges: see ustack/socket.h */
    case USTACK_TCP_KEEPINTVL:
        return *value >= 1 && *value <= 32767 ? 0 : -EINVAL;
    case USTACK_TCP_KEEPCNT:
        return *value >= 1 && *value <= 127 ? 0 : -EINVAL;
    case USTACK_TCP_USER_TIMEOUT:
        return *value >= 0 ? 0 : -EINVAL;
    case USTACK_TCP_TRACE:
        return *value == 0 || *value == 1 ? 0 : -EINVAL;
    case USTACK_TCP_CONGESTION: /* TCP knows its algorithms (src/tcp/cc.h) */
        return *value >= 0 ? 0 : -EINVAL;
    default:
        return -ENOPROTOOPT; /* unknown, or read-only (ERROR, TYPE) */
    }
}

int ustack_setsockopt(struct ustack *st, int sd, int opt, int value)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    int err = opt_normalize(opt, &value);
    if (err < 0)
        return err;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_setsockopt(st, s, opt, value);
    case USTACK_SOCK_DGRAM:
        return udp_setopt(s->udp, opt, value);
    }
    return -ENOPROTOOPT;
}

int ustack_getsockopt(struct ustack *st, int sd, int opt, int *value)
{
    struct sock *s = sock_get(st, sd);
    if (!s)
        return -EBADF;
    if (!value)
        return -EFAULT;
    if (opt == USTACK_SO_TYPE) {
        *value = s->type;
        return 0;
    }
    if (opt < 1 || opt > OPT_MAX)
        return -ENOPROTOOPT;
    switch (s->type) {
    case USTACK_SOCK_STREAM:
        return stream_getsockopt(st, s, opt, value);
    case USTACK_SOCK_DGRAM:
        return dgram_getsockopt(s, opt, value);
    }
    return -ENOPROTOOPT;
}

/* A descriptor that is not open reports USTACK_EV_ERROR (as poll(2) reports
 * POLLNVAL), so a caller waiting on it wakes and learns -EBADF. */
unsigned ustack_events(struct ustack *st, int sd)
{
    struct sock *s = sock_get(st, sd);
    return s ? sock_events(s) : USTACK_EV_ERROR;
}

int ustack_poll(struct ustack *st, struct ustack_event *evs, int max)
{
    struct sock_table *t = st->socks;
    if (max < 0 || (max > 0 && !evs))
        return -EINVAL;
    int n = 0;
    while (n < max && t->ready_head != NO_SLOT) {
        struct sock *s = &t->slots[t->ready_head];
        ready_remove(t, s);
        /* Readiness may have come and gone again (e.g. data read before
         * the poll): nothing to report then. */
        unsigned events = sock_events(s);
        if (events) {
            evs[n].sd = sock_index(t, s);
            evs[n].events = events;
            n++;
        }
    }
    return n;
}

/* ---- the table ----------------------------------------------------------- */

int sock_table_init(struct ustack *st)
{
    unsigned size = st->cfg.max_sockets ? st->cfg.max_sockets : SOCK_DEFAULT_MAX;
    if (size > (unsigned)INT32_MAX / 2)
        return -EINVAL; /* descriptors must fit an int */
    struct sock_table *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->size = size;
    t->nwords = (size + 63) / 64;
    t->slots = calloc(size, sizeof(*t->slots));
    t->used = calloc(t->nwords, sizeof(*t->used));
    if (!t->slots || !t->used) {
        free(t->slots);
        free(t->used);
        free(t);
        return -ENOMEM;
    }
    if (size % 64)
        t->used[t->nwords - 1] = ~(((uint64_t)1 << (size % 64)) - 1);
    for (unsigned i = 0; i < size; i++)
        t->slots[i].ready_prev = t->slots[i].ready_next = NO_SLOT;
    t->ready_head = t->ready_tail = NO_SLOT;
    st->socks = t;
    st->sock_notify = sock_notify;
    return 0;
}

void sock_table_free(struct ustack *st)
{
    struct sock_table *t = st->socks;
    if (!t)
        return;
    st->sock_notify = NULL;
    /* TCP frees every connection when it is destroyed; it only must not
     * call back into this table, which is about to go. */
    for (unsigned i = 0; i < t->size; i++) {
        if (t->slots[i].state != SOCK_FREE && t->slots[i].conn)
            tcp_set_owner(t->slots[i].conn, NULL);
        /* UDP frees the control blocks (udp_destroy); detach them too. */
        if (t->slots[i].state != SOCK_FREE && t->slots[i].udp)
            udp_set_owner(t->slots[i].udp, NULL);
    }
    free(t->slots);
    free(t->used);
    free(t);
    st->socks = NULL;
}

void sock_table_set_waker(struct ustack *st, sock_wake_fn fn, void *ctx)
{
    st->socks->waker = fn;
    st->socks->waker_ctx = ctx;
}

unsigned sock_table_size(const struct ustack *st)
{
    return st->socks ? st->socks->size : 0;
}

uint32_t sock_generation(const struct ustack *st, int sd)
{
    const struct sock_table *t = st->socks;
    if (!t || sd < 0 || (unsigned)sd >= t->size)
        return 0;
    return t->slots[sd].generation;
}
