/*
 * lanbulk: one bulk transfer from stack A to stack B over simnet, the
 * harness of the tests of short, lossy paths (the benchmark's TUN device
 * to the local kernel): test_sim_tcp_lossy_lan.c and test_sim_bbr_lan.c.
 *
 * A keeps its send buffer full until `bytes` are written, B reads
 * everything at once; the run ends when B has read them all, or after
 * 600 s of virtual time. The harness stops simnet_run whenever it moved
 * data, so that what it sent is on the wire from the next run on.
 *
 * With `trace`, A's TCP trace rows go to stdout as CSV (ustack/trace.h),
 * and with LAN_FRAMES set in the environment every frame's fate too
 * (stderr, simnet's verbose mode).
 */
#ifndef USTACK_TEST_LANBULK_H
#define USTACK_TEST_LANBULK_H

#include <stdbool.h>
#include <stdint.h>

struct simnet;

struct lanbulk_config {
    uint64_t bytes;          /* to move from A to B */
    double loss;             /* random loss, each direction */
    uint64_t bps;            /* rate, each direction */
    uint64_t delay_us[2];    /* one-way delay of what [SIMNET_A] sends
                                (data) and [SIMNET_B] sends (ACKs) */
    unsigned congestion;     /* cfg.tcp.congestion of both (0: default) */
    uint32_t buf;            /* sndbuf and rcvbuf of both (0: default) */
    bool nodelay;            /* A sends without Nagle */
    bool from_established;   /* time from establishment, not from the SYN */
    void (*each_event)(struct simnet *net); /* after every event (e.g. to
                                vary the ACK delay); NULL: nothing */
    bool trace;              /* A's trace rows on stdout */
};

struct lanbulk_result {
    bool ok;                 /* everything arrived */
    uint64_t usec;           /* virtual time of the transfer */
    uint64_t timeouts;       /* A's retransmission timeouts */
    uint64_t probes;         /* A's tail loss probes */
    uint64_t stalls;         /* A's stalled-recovery retransmissions */
    uint64_t lost;           /* frames lost, both directions */
};

struct lanbulk_result lanbulk_run(const struct lanbulk_config *cfg, uint64_t seed);

/* Mbit/s of `bytes` in `usec` (0 for no time). */
double lanbulk_mbps(uint64_t bytes, uint64_t usec);

#endif
