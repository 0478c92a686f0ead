/*
 * The blocking API: BSD-like sockets for multi-threaded programs.
 *
 * ustack_bsd_start() runs the stack on its own thread (the runner: device
 * I/O and timers). Any number of application threads may then call the
 * functions below, which block like their BSD namesakes and return -1 with
 * errno set on failure (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE,
 * EAGAIN with a timeout or USTACK_BSD_NONBLOCK, ...).
 *
 *   struct ustack_bsd *b = ustack_bsd_start(st, link, err, sizeof(err));
 *   int fd = ustack_bsd_socket(b, USTACK_SOCK_STREAM);
 *   ustack_bsd_connect(b, fd, (struct sockaddr *)&peer, sizeof(peer));
 *   ustack_bsd_send(b, fd, "hello", 5, 0);
 *
 * Descriptors are the event API's socket descriptors: they are not kernel
 * file descriptors and cannot be passed to read(2) or poll(2).
 */
#ifndef USTACK_BSD_H
#define USTACK_BSD_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ustack/socket.h"
#include "ustack/ustack.h"

struct ustack_bsd;

/* Start the stack thread. The stack and link stay owned by the caller and
 * must outlive ustack_bsd_stop(). NULL on failure, with a reason in err. */
struct ustack_bsd *ustack_bsd_start(struct ustack *st, struct ustack_link *link,
                                    char *err, size_t errlen);

/* Stop the stack thread; blocked calls return with errno ECANCELED. */
void ustack_bsd_stop(struct ustack_bsd *b);

/* Run fn(ctx, st) on the stack with the stack lock held, for anything not
 * covered below (reading counters, ustack_ping_send, ...). */
void ustack_bsd_call(struct ustack_bsd *b, void (*fn)(void *ctx, struct ustack *st),
                     void *ctx);

/* Extra flags for ustack_bsd_send / ustack_bsd_recv. */
#define USTACK_BSD_NONBLOCK 0x100 /* fail with EAGAIN instead of waiting */

/* Extra options for ustack_bsd_setsockopt (milliseconds; 0 = wait forever). */
#define USTACK_BSD_RCVTIMEO 0x1001
#define USTACK_BSD_SNDTIMEO 0x1002 /* also bounds connect() */

int ustack_bsd_socket(struct ustack_bsd *b, int type);
int ustack_bsd_bind(struct ustack_bsd *b, int fd, const struct sockaddr *addr,
                    socklen_t len);
int ustack_bsd_listen(struct ustack_bsd *b, int fd, int backlog);
int ustack_bsd_accept(struct ustack_bsd *b, int fd, struct sockaddr *peer,
                      socklen_t *len);
int ustack_bsd_connect(struct ustack_bsd *b, int fd, const struct sockaddr *addr,
                       socklen_t len);
/* Blocks until all len bytes are queued (or an error), like send(2) on a
 * blocking socket. */
ssize_t ustack_bsd_send(struct ustack_bsd *b, int fd, const void *buf,
                        size_t len, int flags);
/* Blocks until at least one byte or end of stream (returns 0). */
ssize_t ustack_bsd_recv(struct ustack_bsd *b, int fd, void *buf, size_t len,
                        int flags);
/* Datagram sockets: sendto sends one datagram (it waits only when the
 * event API says -EAGAIN, which UDP never does: see ustack/socket.h);
 * recvfrom blocks until a datagram arrives and returns its length, cut to
 * len. With a stream socket sendto is ustack_bsd_send (the address is
 * ignored) and recvfrom is ustack_bsd_recv with *fromlen set to 0. */
ssize_t ustack_bsd_sendto(struct ustack_bsd *b, int fd, const void *buf,
                          size_t len, int flags, const struct sockaddr *to,
                          socklen_t tolen);
ssize_t ustack_bsd_recvfrom(struct ustack_bsd *b, int fd, void *buf, size_t len,
                            int flags, struct sockaddr *from, socklen_t *fromlen);
int ustack_bsd_shutdown(struct ustack_bsd *b, int fd, int how);
int ustack_bsd_close(struct ustack_bsd *b, int fd);
int ustack_bsd_getsockname(struct ustack_bsd *b, int fd, struct sockaddr *addr,
                           socklen_t *len);
int ustack_bsd_getpeername(struct ustack_bsd *b, int fd, struct sockaddr *addr,
                           socklen_t *len);
int ustack_bsd_setsockopt(struct ustack_bsd *b, int fd, int opt, int value);
int ustack_bsd_getsockopt(struct ustack_bsd *b, int fd, int opt, int *value);

#endif
