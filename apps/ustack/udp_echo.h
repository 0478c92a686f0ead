/*
 * `ustack serve --udp-echo PORT`: the echo service (RFC 862) over UDP.
 * Every datagram received on PORT is sent back to where it came from.
 *
 * serve.c opens it, hands it the readiness reports of its socket, and
 * prints its totals; everything else lives in udp_echo.c.
 */
#ifndef USTACK_APP_UDP_ECHO_H
#define USTACK_APP_UDP_ECHO_H

#include <stdbool.h>
#include <stddef.h>

struct ustack;
struct udp_echo;

/* Bind a UDP socket on PORT (any address of ours). NULL on failure, with a
 * one-line reason in err. */
struct udp_echo *udp_echo_open(struct ustack *st, unsigned port, char *err, size_t errlen);

/* A readiness report for socket sd: echo everything waiting if sd is the
 * echo socket (returns true), else do nothing (returns false). */
bool udp_echo_event(struct udp_echo *e, int sd);

/* The port, for the banner. */
unsigned udp_echo_port(const struct udp_echo *e);

/* "echo 7/udp: N datagrams in, N bytes in, N datagrams out, N bytes out,
 * N not sent" on stdout. */
void udp_echo_print_totals(const struct udp_echo *e);

/* Close the socket and free e (NULL is fine). */
void udp_echo_close(struct udp_echo *e);

#endif
