/*
 * TCP as the rest of ustack sees it (RFC 9293).
 *
 * The socket layer (src/api/socket.c) drives connections through these
 * calls; the IP layer hands segments to tcp_input(); the stack calls
 * tcp_timer(). TCP tells the socket layer that a connection's readiness may
 * have changed through st->sock_notify(st, owner), where owner is the opaque
 * pointer the socket layer attached with tcp_set_owner(). That keeps the
 * dependency pointing downward: TCP knows nothing about sockets.
 *
 * Ownership: the socket layer holds a struct tcp_conn until it calls
 * tcp_close() (or tcp_abort()); from then on TCP owns it, finishes the
 * protocol (FIN exchange, TIME-WAIT) and frees it. A connection waiting in a
 * listener's accept queue is owned by the listener until tcp_accept().
 *
 * All functions return 0 / a count on success and -errno on failure.
 */
#ifndef USTACK_TCP_TCP_H
#define USTACK_TCP_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ustack;
struct ip4_rx;
struct tcp_conn;

/* Set up and tear down TCP's state in st (st->tcp). */
int tcp_init(struct ustack *st);
void tcp_destroy(struct ustack *st);

/* A segment for us (ip->payload is the TCP header and data). */
void tcp_input(struct ustack *st, const struct ip4_rx *ip);

/* An ICMP error about a segment we sent (net/icmp.c's transport hook):
 * path MTU, soft and hard errors (tcp_icmp.c). */
struct icmp4_error;
void tcp_icmp_error(struct ustack *st, const struct icmp4_error *err);

/* Run due timers; returns the next TCP deadline or USTACK_NEVER. */
uint64_t tcp_timer(struct ustack *st, uint64_t now);

/* ustack_input_batch_begin/end (tcp_batch.c): output waits for the end. */
void tcp_batch_begin(struct ustack *st);
void tcp_batch_end(struct ustack *st);

/* A new connection block in CLOSED, with the configured default buffer
 * sizes, or NULL when the connection limit is reached. */
struct tcp_conn *tcp_conn_create(struct ustack *st);

/* Attach the socket layer's handle (NULL detaches: no more notifications). */
void tcp_set_owner(struct tcp_conn *c, void *owner);

/* Local address: addr 0 = any of ours (a listener on 0 takes segments
 * for every local address); port 0 = an ephemeral port (49152-65535).
 * -EADDRINUSE when taken; -EADDRNOTAVAIL for an address not ours. With
 * reuse (SO_REUSEADDR), TIME-WAIT connections never block the port, and
 * other connections only if they were bound without reuse or are
 * listening (accepted connections inherit their listener's flag). */
int tcp_bind(struct ustack *st, struct tcp_conn *c, uint32_t addr,
             uint16_t port, bool reuse);
int tcp_listen(struct ustack *st, struct tcp_conn *c, int backlog);
/* The next established connection from the accept queue, or NULL. */
struct tcp_conn *tcp_accept(struct ustack *st, struct tcp_conn *listener);
/* Active open; returns -EINPROGRESS once the SYN is on its way (binding
 * an ephemeral port first if c is unbound). tcp_send returns -EAGAIN
 * until the connection is established. */
int tcp_connect(struct ustack *st, struct tcp_conn *c, uint32_t raddr,
                uint16_t rport);

/* flags: USTACK_MSG_MORE. See ustack_send/ustack_recv for return values. */
ssize_t tcp_send(struct ustack *st, struct tcp_conn *c, const void *buf,
                 size_t len, int flags);
ssize_t tcp_recv(struct ustack *st, struct tcp_conn *c, void *buf, size_t len);
int tcp_shutdown(struct ustack *st, struct tcp_conn *c, int how);

/* The user is done with c: graceful close, or RST when unread data is
 * waiting or linger-zero is set. TCP frees c when the protocol is done. */
void tcp_close(struct ustack *st, struct tcp_conn *c);
/* Send RST (if synchronized) and free c now. */
void tcp_abort(struct ustack *st, struct tcp_conn *c);

/* USTACK_EV_* readiness bits. */
unsigned tcp_events(const struct tcp_conn *c);
/* The pending error (an errno value, 0 if none), cleared by reading. */
int tcp_take_error(struct tcp_conn *c);

void tcp_local_addr(const struct tcp_conn *c, uint32_t *addr, uint16_t *port);
void tcp_remote_addr(const struct tcp_conn *c, uint32_t *addr, uint16_t *port);

/* USTACK_SO_SNDBUF, _RCVBUF, _REUSEADDR, _LINGER_ZERO, USTACK_TCP_NODELAY... */
int tcp_setopt(struct ustack *st, struct tcp_conn *c, int opt, int value);
int tcp_getopt(const struct tcp_conn *c, int opt, int *value);

/* ---- Additions beyond the socket layer's needs ---------------------------- */

struct ustack_tcp_config;

/* Fill the zero fields of cfg with their defaults (ustack_config_init and
 * ustack_new call it). */
void tcp_config_defaults(struct ustack_tcp_config *cfg);

/* Test hook: the next connection (active or passive, not a SYN cookie)
 * gets iss as its initial send sequence number instead of the RFC 6528
 * value, so tests can put sequence numbers near the 2^32 wrap. */
void tcp_debug_set_next_iss(struct ustack *st, uint32_t iss);

#endif
