/*
 * The event API: non-blocking sockets for single-threaded embedding.
 *
 * Everything here runs on the caller's thread, in between calls to
 * ustack_input() and ustack_timer(); nothing blocks and nothing is called
 * back from inside the stack. Calls return a value >= 0 on success and a
 * negative errno on failure (-EAGAIN, -EINPROGRESS, -ECONNREFUSED, ...), so
 * they are safe to use from any code without touching the global errno.
 *
 * Readiness works like epoll in edge mode: the stack remembers every socket
 * whose state changed, and ustack_poll() hands that list over. The event
 * bits are the socket's full current readiness, not only what changed.
 *
 *   int sd = ustack_socket(st, USTACK_SOCK_STREAM);
 *   ustack_bind(st, sd, (struct sockaddr *)&addr, sizeof(addr));
 *   ustack_listen(st, sd, 128);
 *   for (;;) {
 *       ... feed frames with ustack_input(), call ustack_timer() ...
 *       struct ustack_event ev[64];
 *       int n = ustack_poll(st, ev, 64);
 *       for (int i = 0; i < n; i++)
 *           if (ev[i].sd == sd && (ev[i].events & USTACK_EV_READABLE))
 *               ... ustack_accept(st, sd, NULL, NULL) until -EAGAIN ...
 *   }
 *
 * Addresses are struct sockaddr_in, as with BSD sockets.
 *
 * Datagram (UDP) sockets keep datagram boundaries: one send is one
 * datagram, one recv takes one whole datagram. They work like BSD's:
 *  - bind is optional: the first send (or connect) binds an ephemeral port.
 *  - connect sets the default peer for send and makes the socket take
 *    datagrams from that peer only; connect again to change it, or with
 *    AF_UNSPEC to forget it. Nothing goes on the wire.
 *  - send/recv need no connection when sendto/recvfrom give the address.
 *    A datagram leaves at once (there is no send buffer): send returns its
 *    whole length or an error (-EMSGSIZE past 65,507 bytes or what IP can
 *    send, -ENOBUFS when the packet pool is empty, -EDESTADDRREQ without a
 *    peer, -EACCES to a broadcast address).
 *  - recv returns the length it copied: a datagram longer than the buffer
 *    is cut to it and the rest discarded (recv(2) without MSG_TRUNC; the
 *    counter udp.read_truncated counts those). 0 is an empty datagram, not
 *    an end of stream.
 *  - each socket queues at most ustack_config.udp.rcvq_datagrams datagrams
 *    and SO_RCVBUF bytes; more are dropped and counted, never waited for.
 *  - an ICMP error about a datagram a connected socket sent (port
 *    unreachable: ECONNREFUSED; host/net unreachable: EHOSTUNREACH,
 *    ENETUNREACH; ...) sets USTACK_EV_ERROR and is returned once by the
 *    next send or recv, or read with USTACK_SO_ERROR.
 *  - readiness: READABLE while a datagram waits, WRITABLE while the packet
 *    pool has a buffer (no edge is reported when it refills), ERROR while
 *    an error is pending. listen, accept and shutdown: -EOPNOTSUPP.
 */
#ifndef USTACK_SOCKET_H
#define USTACK_SOCKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ustack;

enum ustack_sock_type {
    USTACK_SOCK_STREAM = 1, /* TCP */
    USTACK_SOCK_DGRAM = 2,  /* UDP */
};

/* Readiness bits. */
#define USTACK_EV_READABLE 0x1 /* data, EOF, or a connection to accept */
#define USTACK_EV_WRITABLE 0x2 /* room in the send buffer; connect finished */
#define USTACK_EV_ERROR 0x4    /* an error is pending (see USTACK_SO_ERROR) */
#define USTACK_EV_HUP 0x8      /* both directions closed or connection reset */

struct ustack_event {
    int sd;
    unsigned events;
};

/* Flags for ustack_send. */
#define USTACK_MSG_MORE 0x1 /* more data follows soon: hold a partial segment */

/* Socket options (level is ignored; names are ours, values int). */
enum ustack_sockopt {
    USTACK_SO_SNDBUF = 1,   /* send buffer size, bytes */
    USTACK_SO_RCVBUF,       /* receive buffer size (the window we offer) */
    USTACK_SO_ERROR,        /* get and clear the pending error (errno) */
    USTACK_SO_REUSEADDR,    /* bind even if TIME-WAIT connections hold the port */
    USTACK_SO_LINGER_ZERO,  /* close() sends RST at once (abortive close) */
    USTACK_TCP_NODELAY,     /* disable Nagle's algorithm */
    USTACK_SO_KEEPALIVE,    /* RFC 1122 §4.2.3.6 keep-alive probes (off by
                               default); a peer that answers none of them
                               fails the connection with ETIMEDOUT */
    USTACK_SO_TYPE,         /* get: USTACK_SOCK_STREAM or _DGRAM */
    USTACK_TCP_KEEPIDLE,    /* keep-alive: seconds idle before the first
                               probe, 1..32767 (default 7200) */
    USTACK_TCP_KEEPINTVL,   /* keep-alive: seconds between probes, 1..32767
                               (default 75) */
    USTACK_TCP_KEEPCNT,     /* keep-alive: unanswered probes before
                               ETIMEDOUT, 1..127 (default 9) */
    USTACK_TCP_USER_TIMEOUT, /* ms that sent data may stay unacknowledged
                                (or window probes unanswered) before the
                                connection fails with ETIMEDOUT; replaces
                                the retry count; 0 = the stack's default
                                (config tcp.user_timeout_ms) */
    USTACK_TCP_TRACE,       /* 1: produce trace rows for this connection
                               (ustack/trace.h; needs a sink registered
                               with ustack_set_trace_sink); 0: stop */
    USTACK_TCP_CONGESTION,  /* congestion control algorithm, an enum
                               ustack_tcp_cc value (0 = the stack's default,
                               config tcp.congestion); may change on a live
                               connection, which keeps its window; -EINVAL
                               for an unknown value */
    USTACK_SOCKOPT_COUNT    /* not an option: one past the last (new options
                               go above it) */
};

/* Congestion control algorithms (USTACK_TCP_CONGESTION,
 * ustack_tcp_config.congestion). */
enum ustack_tcp_cc {
    USTACK_TCP_CC_DEFAULT = 0, /* the stack's default */
    USTACK_TCP_CC_NEWRENO = 1, /* RFC 5681 with RFC 6582 NewReno */
    USTACK_TCP_CC_CUBIC = 2,   /* RFC 9438 (the default) */
    USTACK_TCP_CC_BBR = 3,     /* BBR v1 model (no pacing: see README) */
};

/* The algorithm named `name` ("newreno", "cubic", "bbr"), or -1 if there
 * is none. */
int ustack_tcp_cc_from_name(const char *name);

/* Create a socket. Returns its descriptor (sd >= 0) or -errno
 * (-EMFILE when the socket table is full). */
int ustack_socket(struct ustack *st, int type);

int ustack_bind(struct ustack *st, int sd, const struct sockaddr *addr,
                socklen_t len);
int ustack_listen(struct ustack *st, int sd, int backlog);

/* A new connected socket from the accept queue, or -EAGAIN. */
int ustack_accept(struct ustack *st, int sd, struct sockaddr *peer,
                  socklen_t *len);

/* Start an active open: returns -EINPROGRESS; the socket becomes WRITABLE
 * when established, or gets ERROR (USTACK_SO_ERROR gives ECONNREFUSED,
 * ETIMEDOUT, ...). Binds an ephemeral port when the socket is unbound. */
int ustack_connect(struct ustack *st, int sd, const struct sockaddr *addr,
                   socklen_t len);

/* Copy data into the send buffer: bytes accepted (possibly fewer than len),
 * -EAGAIN when the buffer is full, -EPIPE after shutdown/close by us,
 * -ECONNRESET when the peer reset, -ENOTCONN before the connection exists. */
ssize_t ustack_send(struct ustack *st, int sd, const void *buf, size_t len,
                    int flags);

/* Bytes received, 0 at end of stream (peer sent FIN), -EAGAIN when nothing
 * is waiting, -ECONNRESET / -ETIMEDOUT when the connection failed. */
ssize_t ustack_recv(struct ustack *st, int sd, void *buf, size_t len,
                    int flags);

/* Send to `to` (a datagram socket; NULL means ustack_send's peer). A
 * stream socket ignores the address, as POSIX says. */
ssize_t ustack_sendto(struct ustack *st, int sd, const void *buf, size_t len,
                      int flags, const struct sockaddr *to, socklen_t tolen);

/* Receive and learn the source (a datagram socket): *fromlen works as with
 * recvfrom(2). A stream socket sets *fromlen to 0 (getpeername tells the
 * peer). from NULL: just ustack_recv. */
ssize_t ustack_recvfrom(struct ustack *st, int sd, void *buf, size_t len,
                        int flags, struct sockaddr *from, socklen_t *fromlen);

/* how: SHUT_RD, SHUT_WR (send FIN after queued data), SHUT_RDWR. */
int ustack_shutdown(struct ustack *st, int sd, int how);

/* Release the descriptor. The connection closes gracefully in the
 * background (queued data, then FIN), or with RST when received data was
 * left unread (RFC 9293 §3.6.1, RFC 2525 §2.17). */
int ustack_close(struct ustack *st, int sd);

int ustack_getsockname(struct ustack *st, int sd, struct sockaddr *addr,
                       socklen_t *len);
int ustack_getpeername(struct ustack *st, int sd, struct sockaddr *addr,
                       socklen_t *len);
int ustack_setsockopt(struct ustack *st, int sd, int opt, int value);
int ustack_getsockopt(struct ustack *st, int sd, int opt, int *value);

/* Current readiness of one socket (USTACK_EV_* bits). */
unsigned ustack_events(struct ustack *st, int sd);

/* Sockets whose readiness changed since the last call, at most max.
 * Returns how many were written to evs. */
int ustack_poll(struct ustack *st, struct ustack_event *evs, int max);

#endif
