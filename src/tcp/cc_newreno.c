/*
 * NewReno: the congestion control of RFC 5681, with the fast recovery of
 * RFC 6582 (which tcp_cc.c runs for every algorithm).
 *
 *   slow start            cwnd < ssthresh: cwnd += min(acked, 2*SMSS)
 *                         per ACK (RFC 5681 §3.1, RFC 3465)
 *   congestion avoidance  one SMSS per window of bytes acknowledged,
 *                         about one SMSS per round trip
 *   loss                  ssthresh = max(FlightSize / 2, 2*SMSS) (eq. 4);
 *                         after fast retransmit cwnd = ssthresh (tcp_cc.c
 *                         then inflates it by 3*SMSS, RFC 5681 §3.2 step 3)
 */
#include "tcp/tcp_int.h"

/* NewReno keeps no state of its own: its init, recovery exit and idle
 * restart hooks have nothing to do. */
static void newreno_nothing(struct tcp_conn *c, uint64_t now)
{
    (void)c;
    (void)now;
}

static void newreno_on_ack(struct tcp_conn *c, uint32_t acked, uint32_t srtt_us,
                           uint64_t now)
{
    (void)srtt_us;
    (void)now;
    if (c->cc.cwnd < c->cc.ssthresh)
        tcp_cc_slow_start(c, acked);
    else
        tcp_cc_reno_avoid(c, acked);
}

static void newreno_on_congestion(struct tcp_conn *c, enum tcp_cc_signal sig,
                                  uint32_t flight, uint64_t now)
{
    (void)now;
    uint32_t half = flight / 2, floor = 2u * c->snd_mss;
    c->cc.ssthresh = half > floor ? half : floor;
    if (sig == TCP_CC_LOSS_FAST)
        c->cc.cwnd = c->cc.ssthresh;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_nothing,
    .on_ack = newreno_on_ack,
    .on_congestion = newreno_on_congestion,
    .on_recovery_exit = newreno_nothing,
    .on_idle_restart = newreno_nothing,
};
