/*
 * UDP as the rest of ustack sees it (RFC 768, RFC 1122 §4.1).
 *
 * The socket layer (src/api/socket.c) owns one struct udp_pcb per datagram
 * socket (a "protocol control block": the socket's addresses, its pending
 * error and its queue of received datagrams) and drives it through these
 * calls; the IP layer hands datagrams to udp_input() and ICMP hands errors
 * to udp_icmp_error(). UDP tells the socket layer that a socket's readiness
 * may have changed through st->sock_notify(st, owner), like TCP does
 * (src/tcp/tcp.h), so UDP knows nothing about sockets.
 *
 * Ports: one socket per local port (SO_REUSEADDR is accepted but shares
 * nothing: UDP has no TIME-WAIT for it to skip). A socket bound to address 0
 * takes datagrams for our address and our broadcast addresses; one bound to
 * our address only those for it. A connected socket takes datagrams only
 * from its peer.
 *
 * All functions return 0 / a count on success and -errno on failure.
 */
#ifndef USTACK_UDP_UDP_H
#define USTACK_UDP_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ustack;
struct ip4_rx;
struct icmp4_error;
struct udp_pcb;
struct ustack_udp_config;

#define UDP_HDR_LEN 8
/* The largest payload of one datagram: 65,535 bytes of IPv4 packet less a
 * 20-byte IP header and the UDP header. */
#define UDP_MAX_PAYLOAD (65535 - 20 - UDP_HDR_LEN)

/* Set up and tear down UDP's state in st (st->udp). udp_destroy frees
 * every control block still open. */
int udp_init(struct ustack *st);
void udp_destroy(struct ustack *st);

/* Fill the zero fields of cfg with their defaults. */
void udp_config_defaults(struct ustack_udp_config *cfg);

/* A datagram for us (ip->payload is the UDP header and data). */
void udp_input(struct ustack *st, const struct ip4_rx *ip);

/* An ICMP error quoting a datagram we sent (src/net/icmp.c). */
void udp_icmp_error(struct ustack *st, const struct icmp4_error *err);

/* A new unbound control block, or NULL when memory is short. */
struct udp_pcb *udp_pcb_create(struct ustack *st);
/* Unbind and free u and every datagram it still holds. */
void udp_close(struct ustack *st, struct udp_pcb *u);

/* Attach the socket layer's handle (NULL detaches: no more notifications). */
void udp_set_owner(struct udp_pcb *u, void *owner);

/* addr 0 = every address of ours, else our address (-EADDRNOTAVAIL
 * otherwise); port 0 = an ephemeral port (49152-65535). -EINVAL when
 * already bound, -EADDRINUSE when the port is taken. */
int udp_bind(struct ustack *st, struct udp_pcb *u, uint32_t addr, uint16_t port);

/* Set the default peer and take datagrams only from it; binds an ephemeral
 * port when unbound. May be called again for another peer.
 * -EADDRNOTAVAIL for address or port 0, -EACCES for a broadcast address
 * (there is no SO_BROADCAST), -ENETUNREACH for loopback, multicast and
 * reserved addresses. udp_disconnect forgets the peer (connect with
 * AF_UNSPEC); the port stays bound. */
int udp_connect(struct ustack *st, struct udp_pcb *u, uint32_t addr, uint16_t port);
void udp_disconnect(struct udp_pcb *u);

/* Send one datagram of len bytes to addr:port, or to the connected peer
 * when to_peer is true. Returns len, or: the pending error (once);
 * -EDESTADDRREQ with no peer; -EMSGSIZE past UDP_MAX_PAYLOAD or past what
 * IP can send; -ENOBUFS when the packet pool is empty; the errors of
 * udp_connect for a bad destination (port 0 too). Binds an ephemeral port
 * when unbound. */
ssize_t udp_sendto(struct ustack *st, struct udp_pcb *u, const void *buf, size_t len,
                   bool to_peer, uint32_t addr, uint16_t port);

/* Take the oldest queued datagram: copy up to len bytes of it to buf (the
 * rest of a longer datagram is discarded, as recv(2) does without
 * MSG_TRUNC) and return how many were copied; addr and port (either may
 * be NULL) get its source. Returns the pending error (once) first, and
 * -EAGAIN when nothing is queued. */
ssize_t udp_recvfrom(struct udp_pcb *u, void *buf, size_t len, uint32_t *addr,
                     uint16_t *port);

/* USTACK_EV_* readiness bits: READABLE while a datagram is queued,
 * WRITABLE while the packet pool has a buffer, ERROR while an error is
 * pending. */
unsigned udp_events(const struct udp_pcb *u);
/* The pending error (an errno value, 0 if none), cleared by reading. */
int udp_take_error(struct udp_pcb *u);

/* Local address (0.0.0.0:0 before bind; our address once connected). */
void udp_local_addr(const struct udp_pcb *u, uint32_t *addr, uint16_t *port);
/* The connected peer, or -ENOTCONN. */
int udp_remote_addr(const struct udp_pcb *u, uint32_t *addr, uint16_t *port);

/* USTACK_SO_RCVBUF (queue bytes, up to buf_max), USTACK_SO_SNDBUF
 * (remembered only: datagrams leave at once, nothing is buffered),
 * USTACK_SO_REUSEADDR (remembered only); anything else -ENOPROTOOPT. */
int udp_setopt(struct udp_pcb *u, int opt, int value);
int udp_getopt(const struct udp_pcb *u, int opt, int *value);

/* Datagrams and bytes (bookkeeping included) in u's receive queue. */
unsigned udp_rcvq_datagrams(const struct udp_pcb *u);
size_t udp_rcvq_bytes(const struct udp_pcb *u);

#endif
