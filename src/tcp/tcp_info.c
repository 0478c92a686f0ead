/*
 * The connection listing (include/ustack/tcp_info.h): a snapshot of each
 * connection block for status pages and `ustack stat`.
 */
#include "tcp/tcp_int.h"

#include "ustack/tcp_info.h"

static void fill_info(const struct tcp_conn *c, struct ustack_tcp_info *info)
{
    *info = (struct ustack_tcp_info){
        .local_addr = c->local_addr,
        .remote_addr = c->remote_addr,
        .local_port = c->local_port,
        .remote_port = c->remote_port,
        .state = tcp_state_name(c->state),
        .snd_una = c->snd.una,
        .snd_nxt = c->snd.nxt,
        .rcv_nxt = c->rcv.nxt,
        .snd_wnd = c->snd.wnd,
        .rcv_wnd = c->rcv.wnd,
        .send_queue = (uint32_t)ringbuf_used(&c->sndbuf),
        .recv_queue = (uint32_t)ringbuf_used(&c->rcvbuf),
        .bytes_sent = c->bytes_acked,
        .bytes_received = c->bytes_received,
        .retransmissions = c->retransmissions,
        .srtt_us = c->rtt.srtt,
        .rto_us = c->rtt.rto,
        .mss = c->snd_mss,
        .listen_backlog = c->state == TCP_LISTEN ? c->listen.accept_q.len : 0,
        .rttvar_us = c->rtt.rttvar,
        .cwnd = tcp_obs_cwnd(c),
        .ssthresh = tcp_obs_ssthresh(c),
        .in_flight = tcp_obs_in_flight(c),
        .congestion = c->cc.ops ? c->cc.ops->name : NULL,
    };
}

int ustack_tcp_connections(struct ustack *st,
                           void (*fn)(void *ctx, const struct ustack_tcp_info *info),
                           void *ctx)
{
    int n = 0;
    if (!st->tcp)
        return 0;
    for (const struct tcp_conn *c = st->tcp->all; c; c = c->all_next) {
        struct ustack_tcp_info info;
        fill_info(c, &info);
        fn(ctx, &info);
        n++;
    }
    return n;
}
