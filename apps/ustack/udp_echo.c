/*
 * The UDP echo service of `ustack serve` (RFC 862: "Once a datagram is
 * received, the data from it is sent back in an answering datagram").
 *
 * It runs on the runner's thread like the TCP services: a READABLE report
 * drains the socket, each datagram answered at once with sendto. UDP has
 * no send buffer to wait for, so nothing is held between reports; a reply
 * that cannot be sent (no packet buffer, or larger than the stack can send)
 * is counted and dropped, as a datagram may be.
 */
#include "udp_echo.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/socket.h"

/* The largest UDP payload (65,535 - 20 - 8): no datagram is cut short. */
#define UDP_ECHO_BUF 65507

struct udp_echo {
    struct ustack *st;
    int sd;
    unsigned port;
    uint64_t in, bytes_in, out, bytes_out, not_sent;
    uint8_t buf[UDP_ECHO_BUF];
};

struct udp_echo *udp_echo_open(struct ustack *st, unsigned port, char *err, size_t errlen)
{
    struct udp_echo *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->st = st;
    e->port = port;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    e->sd = ustack_socket(st, USTACK_SOCK_DGRAM);
    int rc = e->sd;
    if (rc >= 0)
        rc = ustack_bind(st, e->sd, (struct sockaddr *)&sin, sizeof(sin));
    if (rc < 0) {
        snprintf(err, errlen, "echo on port %u/udp: %s", port, strerror(-rc));
        if (e->sd >= 0)
            ustack_close(st, e->sd);
        free(e);
        return NULL;
    }
    return e;
}

/* Answer every datagram waiting. The receive queue is bounded, so this
 * ends. */
static void echo_all(struct udp_echo *e)
{
    int errors = 0;
    while (errors < 2) {
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = ustack_recvfrom(e->st, e->sd, e->buf, sizeof(e->buf), 0,
                                    (struct sockaddr *)&from, &flen);
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            errors++; /* a pending error is reported once: go on */
            continue;
        }
        e->in++;
        e->bytes_in += (uint64_t)n;
        ssize_t r = ustack_sendto(e->st, e->sd, e->buf, (size_t)n, 0,
                                  (struct sockaddr *)&from, flen);
        if (r == n) {
            e->out++;
            e->bytes_out += (uint64_t)n;
        } else {
            e->not_sent++;
        }
    }
}

bool udp_echo_event(struct udp_echo *e, int sd)
{
    if (!e || sd != e->sd)
        return false;
    echo_all(e);
    return true;
}

unsigned udp_echo_port(const struct udp_echo *e)
{
    return e->port;
}

void udp_echo_print_totals(const struct udp_echo *e)
{
    printf("echo %u/udp: %llu datagrams in, %llu bytes in, %llu datagrams out, "
           "%llu bytes out, %llu not sent\n",
           e->port, (unsigned long long)e->in, (unsigned long long)e->bytes_in,
           (unsigned long long)e->out, (unsigned long long)e->bytes_out,
           (unsigned long long)e->not_sent);
}

void udp_echo_close(struct udp_echo *e)
{
    if (!e)
        return;
    ustack_close(e->st, e->sd);
    free(e);
}
