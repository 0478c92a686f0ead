/*
 * The user calls (RFC 9293 §3.10.1 - §3.10.6): OPEN (tcp_listen,
 * tcp_connect), SEND, RECEIVE, CLOSE, ABORT, STATUS (tcp_events), as the
 * socket layer drives them, plus bind, accept, shutdown and options.
 *
 * Each call returns at once: nothing here waits for the network. Errors
 * are negative errno values (see tcp.h and ustack/socket.h).
 */
#include "tcp/tcp_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ustack/socket.h"

#define BUF_MIN 256 /* smallest SO_SNDBUF / SO_RCVBUF */

void tcp_set_owner(struct tcp_conn *c, void *owner)
{
    c->owner = owner;
}

/* ---- OPEN ---------------------------------------------------------------------- */

int tcp_bind(struct ustack *st, struct tcp_conn *c, uint32_t addr,
             uint16_t port, bool reuse)
{
    if (c->state != TCP_CLOSED || c->bound || c->opened)
        return -EINVAL;
    if (addr != 0 && addr != st->cfg.addr)
        return -EADDRNOTAVAIL;
    return tcp_port_bind(st, c, addr, port, reuse || c->reuse);
}

int tcp_listen(struct ustack *st, struct tcp_conn *c, int backlog)
{
    unsigned max = st->cfg.tcp.backlog_max;
    unsigned bl = backlog < 1 ? 1 : (unsigned)backlog > max ? max : (unsigned)backlog;
    if (c->state == TCP_LISTEN) {
        c->listen.backlog = bl; /* listen() again changes the backlog */
        return 0;
    }
    if (c->state != TCP_CLOSED || c->opened)
        return -EINVAL;
    if (!c->bound) {
        int err = tcp_port_bind(st, c, 0, 0, c->reuse);
        if (err)
            return err;
    }
    if (tcp_listener_conflict(st, c))
        return -EADDRINUSE;
    c->listen.backlog = bl;
    tcp_set_state(st, c, TCP_LISTEN);
    tcp_listener_insert(st, c);
    return 0;
}

struct tcp_conn *tcp_accept(struct ustack *st, struct tcp_conn *l)
{
    (void)st;
    if (l->state != TCP_LISTEN)
        return NULL;
    struct tcp_conn *c = tcp_queue_pop(&l->listen.accept_q);
    if (c)
        c->listener = NULL; /* the user owns it now */
    return c;
}

/* §3.10.1 OPEN, active: "A SYN segment of the form <SEQ=ISS><CTL=SYN> is
 * sent. Set SND.UNA to ISS, SND.NXT to ISS+1, enter SYN-SENT state". */
int tcp_connect(struct ustack *st, struct tcp_conn *c, uint32_t raddr,
                uint16_t rport)
{
    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED)
        return -EALREADY;
    if (c->state == TCP_LISTEN)
        return -EINVAL;
    if (c->state != TCP_CLOSED || c->opened)
        return -EISCONN;
    if (raddr == 0 || rport == 0)
        return -EINVAL;
    /* An unbound connection gets its port now that the peer is known:
     * the choice depends on it (RFC 6056 §3.3.3). */
    if (!c->bound && tcp_port_bind_for_peer(st, c, raddr, rport) < 0)
        return -EADDRNOTAVAIL;
    uint32_t laddr = c->local_addr ? c->local_addr : st->cfg.addr;
    if (tcp_conn_lookup(st, laddr, c->local_port, raddr, rport))
        return -EADDRNOTAVAIL;
    c->local_addr = laddr;
    c->remote_addr = raddr;
    c->remote_port = rport;
    tcp_options_init(st, c); /* what our SYN offers */
    c->snd.iss = tcp_select_iss(st, c);
    c->snd.una = c->snd.iss;
    c->snd.nxt = c->send_next = c->snd.iss + 1;
    tcp_set_state(st, c, TCP_SYN_SENT);
    tcp_conn_hash_insert(st, c);
    STAT_INC(st, tcp_active_opens);
    tcp_send_syn(st, c);
    tcp_rtt_start(st, c, c->snd.iss);
    c->rtt.waiting_since = st->now;
    tcp_rtx_timer_start(st, c);
    return -EINPROGRESS;
}

/* ---- SEND, RECEIVE --------------------------------------------------------------- */

/* Send buffer autotuning (as Linux does, tcp_sndbuf_expand): the send
 * ring must hold everything in flight (unacknowledged) plus what goes out
 * as the next ACKs open the window, or the sender idles between ACKs
 * whenever the application is not scheduled at once: on a fast path the
 * default 256 KiB is the limit, not the network. So, unless the user set
 * SO_SNDBUF, the ring may grow to twice what may be in flight, min(cwnd,
 * the peer's window), up to sndbuf_auto_max. The limit moves in powers of
 * two: the ring's storage doubles as it fills (ringbuf.h), and a limit
 * creeping up with cwnd a segment at a time would make every growth a
 * copy of the whole ring into fresh pages for a few more bytes. It never
 * shrinks back; its storage only grows as bytes actually queue, so a
 * connection that sends little costs nothing for it. */
static void sndbuf_autotune(struct ustack *st, struct tcp_conn *c)
{
    if (c->sndbuf_set)
        return;
    uint64_t flight = c->cc.cwnd < c->snd.wnd ? c->cc.cwnd : c->snd.wnd;
    if (2 * flight <= c->sndbuf.limit)
        return;
    uint64_t want = c->sndbuf.limit ? c->sndbuf.limit : 1;
    while (want < 2 * flight)
        want *= 2;
    if (want > st->cfg.tcp.sndbuf_auto_max)
        want = st->cfg.tcp.sndbuf_auto_max;
    if (want > c->sndbuf.limit)
        ringbuf_set_limit(&c->sndbuf, (size_t)want); /* only raises: cannot fail */
}

ssize_t tcp_send(struct ustack *st, struct tcp_conn *c, const void *buf,
                 size_t len, int flags)
{
    if (c->fail)
        return -c->fail;
    switch (c->state) {
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
        break;
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
        return -EAGAIN; /* writable once established */
    case TCP_CLOSED:
        return c->opened ? -EPIPE : -ENOTCONN;
    case TCP_LISTEN:
        return -ENOTCONN;
    default:
        return -EPIPE; /* we closed our direction already */
    }
    if (c->fin_pending)
        return -EPIPE;
    if (len == 0)
        return 0;
    sndbuf_autotune(st, c);
    size_t n = ringbuf_write(&c->sndbuf, buf, len);
    if (n == 0)
        return -EAGAIN;
    c->more_pending = (flags & USTACK_MSG_MORE) != 0;
    tcp_output(st, c);
    return (ssize_t)n;
}

/* After the user read, the window may open. The receiver side of silly
 * window avoidance (RFC 9293 §3.8.6.2.2, in tcp_rcv_window) decides
 * whether the right edge moves at all: only by min(RCV.BUFF/2, MSS) or
 * more. Whether that is worth an ACK of its own (a "window update", sent
 * at once, never delayed) depends on what the peer can still send: when
 * the window it knows is down to half of the most we offer, or shut, it
 * may be waiting for exactly this, so the update goes now. With more than
 * half still open, the peer is not held back: the new edge rides on the
 * next ACK, which its next segments draw (every second one at once), so
 * a reader that keeps up costs no extra ACK per read. Only while the
 * peer may still send. */
static void window_update(struct ustack *st, struct tcp_conn *c)
{
    bool peer_sends = c->state == TCP_ESTABLISHED ||
                      c->state == TCP_FIN_WAIT_1 || c->state == TCP_FIN_WAIT_2;
    if (!peer_sends)
        return;
    uint32_t before = c->rcv.wnd;
    uint32_t most = tcp_rcv_window_max(c);
    /* Opened: by at least one unit of the window field (RFC 7323 §2.3),
     * not merely rounded. */
    if (tcp_rcv_window(st, c) >= before + tcp_rcv_window_unit(c) &&
        before <= most / 2) {
        STAT_INC(st, tcp_window_updates);
        tcp_send_ack(st, c);
    }
}

ssize_t tcp_recv(struct ustack *st, struct tcp_conn *c, void *buf, size_t len)
{
    if (!c->rd_shutdown && c->rcvbuf.buf && ringbuf_used(&c->rcvbuf) > 0) {
        size_t n = ringbuf_read(&c->rcvbuf, buf, len);
        window_update(st, c);
        return (ssize_t)n;
    }
    if (c->rd_shutdown)
        return 0;
    if (c->fail)
        return -c->fail;
    if (c->fin_received)
        return 0; /* end of stream */
    if (c->state == TCP_CLOSED || c->state == TCP_LISTEN)
        return -ENOTCONN;
    return -EAGAIN;
}

/* ---- CLOSE, ABORT, shutdown ------------------------------------------------------ */

/* Queue our FIN after the data ("Queue this until all preceding SENDs
 * have been segmentized, then form a FIN segment and send it") and move
 * to the state the RFC names. */
static void send_fin(struct ustack *st, struct tcp_conn *c, enum tcp_conn_state next)
{
    c->fin_pending = true;
    c->more_pending = false;
    tcp_set_state(st, c, next);
    tcp_output(st, c);
}

/* Close our direction: the part of CLOSE that SHUT_WR shares. */
static void close_sending(struct ustack *st, struct tcp_conn *c)
{
    switch (c->state) {
    case TCP_ESTABLISHED:
        send_fin(st, c, TCP_FIN_WAIT_1);
        break;
    case TCP_CLOSE_WAIT:
        send_fin(st, c, TCP_LAST_ACK);
        break;
    case TCP_SYN_RECEIVED:
        /* "If no SENDs have been issued and there is no pending data to
         * send, then form a FIN segment and send it, and enter FIN-WAIT-1
         * state; otherwise, queue for processing after entering
         * ESTABLISHED state." No SEND can have been issued (tcp_send
         * refuses until ESTABLISHED), so on CLOSE the FIN goes now. After
         * SHUT_WR the user may still read, which needs the buffers of
         * ESTABLISHED: then the FIN waits for it. */
        if (c->released)
            send_fin(st, c, TCP_FIN_WAIT_1);
        else
            c->fin_pending = true;
        break;
    default:
        break; /* already closing, or never opened */
    }
}

/* Abort: RST if the peer thinks we are connected (§3.10.5), then the TCB
 * goes. */
static void abort_conn(struct ustack *st, struct tcp_conn *c)
{
    switch (c->state) {
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT_1:
    case TCP_FIN_WAIT_2:
    case TCP_CLOSE_WAIT:
        tcp_send_rst(st, c);
        break;
    default:
        break; /* CLOSING, LAST-ACK, TIME-WAIT: "delete the TCB" only */
    }
    tcp_conn_closed(st, c);
}

/* A listener goes: every connection waiting on it is reset. */
static void close_listener(struct ustack *st, struct tcp_conn *l)
{
    struct tcp_conn *c;
    while ((c = tcp_queue_pop(&l->listen.syn_q)) ||
           (c = tcp_queue_pop(&l->listen.accept_q))) {
        tcp_send_rst(st, c);
        tcp_conn_destroy(st, c);
    }
    tcp_conn_destroy(st, l);
}

/* The cases where CLOSE becomes an abort: unread data (RFC 1122
 * §4.2.2.13, RFC 2525 §2.17: the peer must learn that data was lost) or
 * SO_LINGER with zero time. */
static bool close_aborts(struct ustack *st, const struct tcp_conn *c)
{
    bool unread = c->rcvbuf.buf && ringbuf_used(&c->rcvbuf) > 0;
    if (unread && !c->linger_zero)
        STAT_INC(st, tcp_rst_unread_close);
    return unread || c->linger_zero;
}

void tcp_close(struct ustack *st, struct tcp_conn *c)
{
    c->owner = NULL; /* no notifications from now on */
    c->released = true;
    switch (c->state) {
    case TCP_CLOSED:
        tcp_conn_destroy(st, c);
        return;
    case TCP_LISTEN:
        close_listener(st, c);
        return;
    case TCP_SYN_SENT:
        tcp_conn_closed(st, c); /* "Delete the TCB" */
        return;
    case TCP_SYN_RECEIVED:
        close_sending(st, c);
        return;
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT_1:
    case TCP_FIN_WAIT_2:
    case TCP_CLOSE_WAIT:
        if (close_aborts(st, c)) {
            abort_conn(st, c);
            return;
        }
        break;
    default:
        break;
    }
    close_sending(st, c);
    if (c->state == TCP_FIN_WAIT_2)
        tcp_timer_set(st, c, TCP_TIMER_FIN_WAIT_2,
                      st->now + (uint64_t)st->cfg.tcp.fin_wait_2_ms * 1000);
    if (c->state == TCP_TIME_WAIT)
        tcp_conn_release_buffers(c);
}

void tcp_abort(struct ustack *st, struct tcp_conn *c)
{
    c->owner = NULL;
    c->released = true;
    if (c->state == TCP_LISTEN)
        close_listener(st, c);
    else if (c->state == TCP_CLOSED)
        tcp_conn_destroy(st, c);
    else
        abort_conn(st, c);
}

int tcp_shutdown(struct ustack *st, struct tcp_conn *c, int how)
{
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return -EINVAL;
    if (c->state == TCP_CLOSED || c->state == TCP_LISTEN || c->state == TCP_SYN_SENT)
        return -ENOTCONN;
    if (how != SHUT_WR) {
        /* Received and future text is dropped (and still acknowledged, so
         * the peer is not stalled). */
        c->rd_shutdown = true;
        if (c->rcvbuf.buf)
            ringbuf_consume(&c->rcvbuf, ringbuf_used(&c->rcvbuf));
    }
    if (how != SHUT_RD)
        close_sending(st, c);
    tcp_notify(st, c);
    return 0;
}

/* ---- STATUS ------------------------------------------------------------------------ */

unsigned tcp_events(const struct tcp_conn *c)
{
    if (c->state == TCP_LISTEN)
        return c->listen.accept_q.len ? USTACK_EV_READABLE : 0;
    unsigned ev = 0;
    bool data = c->rcvbuf.buf && ringbuf_used(&c->rcvbuf) > 0;
    if (data || c->fin_received || c->fail || c->rd_shutdown)
        ev |= USTACK_EV_READABLE;
    bool sending = c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT;
    /* (The free space of a ring not set up yet is 0.) */
    if (sending && !c->fin_pending && ringbuf_free_space(&c->sndbuf) > 0)
        ev |= USTACK_EV_WRITABLE;
    if (c->error)
        ev |= USTACK_EV_ERROR;
    if (c->fail || (c->fin_received && c->fin_pending) ||
        (c->state == TCP_CLOSED && c->opened))
        ev |= USTACK_EV_HUP;
    return ev;
}

int tcp_take_error(struct tcp_conn *c)
{
    int err = c->error;
    c->error = 0;
    return err;
}

void tcp_local_addr(const struct tcp_conn *c, uint32_t *addr, uint16_t *port)
{
    *addr = c->local_addr;
    *port = c->local_port;
}

void tcp_remote_addr(const struct tcp_conn *c, uint32_t *addr, uint16_t *port)
{
    *addr = c->remote_addr;
    *port = c->remote_port;
}

/* ---- Options ------------------------------------------------------------------------ */

/* SO_SNDBUF / SO_RCVBUF: clamped to [BUF_MIN, buf_max], like Linux does.
 * A buffer already in use never shrinks below what it holds, and the
 * receive buffer never below what we promised in our window. */
static int set_buffer_size(struct ustack *st, struct tcp_conn *c, int opt,
                           int value)
{
    uint32_t size = value < BUF_MIN ? BUF_MIN : (uint32_t)value;
    if (size > st->cfg.tcp.buf_max)
        size = st->cfg.tcp.buf_max;
    bool snd = opt == USTACK_SO_SNDBUF;
    struct ringbuf *rb = snd ? &c->sndbuf : &c->rcvbuf;
    uint32_t committed = (uint32_t)ringbuf_used(rb) + (snd ? 0 : c->rcv.wnd);
    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED)
        committed = snd ? 0 : c->rcv.wnd; /* the window in our SYN */
    if (size < committed)
        size = committed;
    size_t cap = snd ? size : tcp_rcv_ring_size(c, size);
    /* A ring in use takes the new limit in place; its storage only moves
     * when it shrinks, and then keeps held out-of-order text, which lies
     * within the window (committed). */
    if (rb->limit && cap != rb->limit && ringbuf_set_limit(rb, cap) < 0)
        return -ENOMEM;
    if (snd) {
        c->sndbuf_size = size;
        c->sndbuf_set = true;
    } else {
        c->rcvbuf_size = size;
    }
    return 0;
}

/* TCP_KEEPIDLE / TCP_KEEPINTVL (seconds) and TCP_KEEPCNT. A new idle
 * time applies at once: the timer moves. */
static int set_keepalive_param(struct ustack *st, struct tcp_conn *c, int opt,
                               int value)
{
    unsigned max = opt == USTACK_TCP_KEEPCNT ? TCP_KEEPALIVE_MAX_COUNT
                                             : TCP_KEEPALIVE_MAX_S;
    if (value < 1 || (unsigned)value > max)
        return -EINVAL;
    if (opt == USTACK_TCP_KEEPIDLE)
        c->ka.idle_s = (uint32_t)value;
    else if (opt == USTACK_TCP_KEEPINTVL)
        c->ka.intvl_s = (uint32_t)value;
    else
        c->ka.count = (uint32_t)value;
    tcp_keepalive_update(st, c);
    return 0;
}

/* USTACK_TCP_CONGESTION: an algorithm of enum ustack_tcp_cc (cc.h). A
 * live connection switches at once and keeps its window. */
static int set_congestion(struct ustack *st, struct tcp_conn *c, int value)
{
    const struct tcp_cc_ops *ops = tcp_cc_lookup(st, value);
    if (!ops)
        return -EINVAL;
    if (ops != c->cc.ops)
        tcp_cc_select(st, c, ops);
    return 0;
}

int tcp_setopt(struct ustack *st, struct tcp_conn *c, int opt, int value)
{
    switch (opt) {
    case USTACK_SO_SNDBUF:
    case USTACK_SO_RCVBUF:
        return set_buffer_size(st, c, opt, value);
    case USTACK_SO_REUSEADDR:
        c->reuse = value != 0;
        return 0;
    case USTACK_SO_LINGER_ZERO:
        c->linger_zero = value != 0;
        return 0;
    case USTACK_TCP_NODELAY:
        c->nodelay = value != 0;
        if (c->nodelay)
            tcp_output(st, c); /* a held small segment may go now */
        return 0;
    case USTACK_SO_KEEPALIVE:
        c->keepalive = value != 0;
        tcp_keepalive_update(st, c);
        return 0;
    case USTACK_TCP_KEEPIDLE:
    case USTACK_TCP_KEEPINTVL:
    case USTACK_TCP_KEEPCNT:
        return set_keepalive_param(st, c, opt, value);
    case USTACK_TCP_USER_TIMEOUT:
        if (value < 0)
            return -EINVAL;
        c->user_timeout_ms = value ? (uint32_t)value : st->cfg.tcp.user_timeout_ms;
        tcp_user_timeout_changed(st, c);
        return 0;
    case USTACK_TCP_TRACE:
        return tcp_trace_setopt(st, c, value);
    case USTACK_TCP_CONGESTION:
        return set_congestion(st, c, value);
    default:
        return -ENOPROTOOPT;
    }
}

int tcp_getopt(const struct tcp_conn *c, int opt, int *value)
{
    switch (opt) {
    case USTACK_SO_SNDBUF: *value = (int)c->sndbuf_size; return 0;
    case USTACK_SO_RCVBUF: *value = (int)c->rcvbuf_size; return 0;
    case USTACK_SO_ERROR: *value = c->error; return 0;
    case USTACK_SO_REUSEADDR: *value = c->reuse; return 0;
    case USTACK_SO_LINGER_ZERO: *value = c->linger_zero; return 0;
    case USTACK_TCP_NODELAY: *value = c->nodelay; return 0;
    case USTACK_SO_KEEPALIVE: *value = c->keepalive; return 0;
    case USTACK_TCP_KEEPIDLE: *value = (int)c->ka.idle_s; return 0;
    case USTACK_TCP_KEEPINTVL: *value = (int)c->ka.intvl_s; return 0;
    case USTACK_TCP_KEEPCNT: *value = (int)c->ka.count; return 0;
    case USTACK_TCP_USER_TIMEOUT: *value = (int)c->user_timeout_ms; return 0;
    case USTACK_TCP_TRACE: *value = c->trace.on; return 0;
    case USTACK_TCP_CONGESTION: *value = c->cc.algo; return 0;
    case USTACK_SO_TYPE: *value = USTACK_SOCK_STREAM; return 0;
    default: return -ENOPROTOOPT;
    }
}
