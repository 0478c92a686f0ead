/*
 * Connection blocks and the tables that find them.
 *
 *  - conn_hash: synchronized and half-open connections by four-tuple. The
 *    bucket is a keyed hash (SipHash) of the tuple, so a remote host cannot
 *    choose addresses and ports that all land in one bucket.
 *  - listen_hash: listeners by local port; an exact local address wins over
 *    the wildcard (0).
 *  - bind_hash: every connection that holds a local port, for bind()'s
 *    conflict check and for choosing ephemeral ports.
 *  - all: every block, for teardown and for the connection listing.
 *
 * Every list is doubly linked through a pointer to the previous link
 * (pprev), so removal is O(1) without knowing the bucket.
 */
#include "tcp/tcp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_hash.h"

/* ---- Configuration -------------------------------------------------------- */

#define KIB 1024u
#define DEFAULT_MAX_CONNECTIONS 16384
#define DEFAULT_BUF (256 * KIB)
/* Send buffer autotuning's ceiling (tcp_user.c): Linux's tcp_wmem[2]. */
#define DEFAULT_SNDBUF_AUTO_MAX (4096 * KIB)
/* 16 MiB: enough window for 1 Gbit/s over 130 ms (RFC 7323 §1.1, the
 * "long fat pipe"). This is only a limit: a ring's storage grows (by
 * doubling) as bytes queue in it, so a connection pays for what it holds. */
#define DEFAULT_BUF_MAX (16384 * KIB)
/* RFC 7323 §2.3: a window is below 2^30 bytes (65535 << 14). */
#define MAX_BUF_MAX (1u << 30)
#define DEFAULT_SYN_BACKLOG 256
#define DEFAULT_BACKLOG_MAX 4096
#define DEFAULT_MSL_MS 30000
#define DEFAULT_FIN_WAIT_2_MS 60000
#define DEFAULT_RTO_INITIAL_MS 1000 /* RFC 6298 §2.1 */
#define DEFAULT_RTO_MIN_MS 1000     /* RFC 6298 §2.4 */
#define DEFAULT_RTO_MAX_MS 60000    /* RFC 6298 §2.5 allows a maximum >= 60 s */
/* RFC 1122 §4.2.3.5 (MUST-23 of RFC 9293): a SYN must be retransmitted
 * for at least 3 minutes. With RTOs of 1, 2, 4, ... capped at 60 s, the
 * 7th retransmission goes at 123 s and the attempt fails at 183 s. */
#define DEFAULT_SYN_RETRIES 7
#define DEFAULT_DATA_RETRIES 12
#define DEFAULT_CHALLENGE_BURST 10
#define DEFAULT_CHALLENGE_RATE 10
/* Delayed ACKs (RFC 9293 §3.8.6.3): "an ACK should not be excessively
 * delayed; in particular, the delay MUST be less than 0.5 seconds". 40 ms
 * (Linux's shortest) batches the ACKs of back-to-back segments while
 * costing a peer whose Nagle algorithm waits for our ACK little. */
#define DEFAULT_DELACK_MS 40
#define MAX_DELACK_MS 200
/* Keep-alive (RFC 1122 §4.2.3.6): the interval "MUST be configurable and
 * MUST default to no less than two hours"; 75 s between probes and 9
 * probes are the values BSD and Linux chose. */
#define DEFAULT_KEEPALIVE_IDLE_S 7200
#define DEFAULT_KEEPALIVE_INTVL_S 75
#define DEFAULT_KEEPALIVE_COUNT 9
/* The retry counters are 8 bits wide. */
#define MAX_RETRIES 255

static void default_unsigned(unsigned *v, unsigned def)
{
    if (*v == 0)
        *v = def;
}

void tcp_config_defaults(struct ustack_tcp_config *cfg)
{
    default_unsigned(&cfg->max_connections, DEFAULT_MAX_CONNECTIONS);
    default_unsigned(&cfg->sndbuf, DEFAULT_BUF);
    default_unsigned(&cfg->sndbuf_auto_max, DEFAULT_SNDBUF_AUTO_MAX);
    default_unsigned(&cfg->rcvbuf, DEFAULT_BUF);
    default_unsigned(&cfg->buf_max, DEFAULT_BUF_MAX);
    default_unsigned(&cfg->syn_backlog, DEFAULT_SYN_BACKLOG);
    default_unsigned(&cfg->backlog_max, DEFAULT_BACKLOG_MAX);
    default_unsigned(&cfg->msl_ms, DEFAULT_MSL_MS);
    default_unsigned(&cfg->fin_wait_2_ms, DEFAULT_FIN_WAIT_2_MS);
    default_unsigned(&cfg->rto_initial_ms, DEFAULT_RTO_INITIAL_MS);
    default_unsigned(&cfg->rto_min_ms, DEFAULT_RTO_MIN_MS);
    default_unsigned(&cfg->rto_max_ms, DEFAULT_RTO_MAX_MS);
    default_unsigned(&cfg->syn_retries, DEFAULT_SYN_RETRIES);
    default_unsigned(&cfg->data_retries, DEFAULT_DATA_RETRIES);
    default_unsigned(&cfg->challenge_ack_burst, DEFAULT_CHALLENGE_BURST);
    default_unsigned(&cfg->challenge_ack_rate, DEFAULT_CHALLENGE_RATE);
    default_unsigned(&cfg->delack_ms, DEFAULT_DELACK_MS);
    default_unsigned(&cfg->keepalive_idle_s, DEFAULT_KEEPALIVE_IDLE_S);
    default_unsigned(&cfg->keepalive_intvl_s, DEFAULT_KEEPALIVE_INTVL_S);
    default_unsigned(&cfg->keepalive_count, DEFAULT_KEEPALIVE_COUNT);
    /* user_timeout_ms: 0 is the default (the retry counts decide). */
    tcp_cc_config_defaults(cfg);
    /* Keep the values consistent whatever the caller wrote. */
    if (cfg->delack_ms > MAX_DELACK_MS)
        cfg->delack_ms = MAX_DELACK_MS;
    if (cfg->syn_retries > MAX_RETRIES)
        cfg->syn_retries = MAX_RETRIES;
    if (cfg->data_retries > MAX_RETRIES)
        cfg->data_retries = MAX_RETRIES;
    if (cfg->keepalive_idle_s > TCP_KEEPALIVE_MAX_S)
        cfg->keepalive_idle_s = TCP_KEEPALIVE_MAX_S;
    if (cfg->keepalive_intvl_s > TCP_KEEPALIVE_MAX_S)
        cfg->keepalive_intvl_s = TCP_KEEPALIVE_MAX_S;
    if (cfg->keepalive_count > TCP_KEEPALIVE_MAX_COUNT)
        cfg->keepalive_count = TCP_KEEPALIVE_MAX_COUNT;
    if (cfg->buf_max > MAX_BUF_MAX)
        cfg->buf_max = MAX_BUF_MAX;
    if (cfg->sndbuf > cfg->buf_max)
        cfg->sndbuf = cfg->buf_max;
    if (cfg->rcvbuf > cfg->buf_max)
        cfg->rcvbuf = cfg->buf_max;
    if (cfg->sndbuf_auto_max > cfg->buf_max)
        cfg->sndbuf_auto_max = cfg->buf_max;
    if (cfg->rto_min_ms > cfg->rto_max_ms)
        cfg->rto_min_ms = cfg->rto_max_ms;
    if (cfg->max_connections > (1u << 24))
        cfg->max_connections = 1u << 24;
}

/* ---- Setup and teardown --------------------------------------------------- */

/* Separate keys for separate purposes, all from the one 32-byte secret: a
 * SipHash keyed with the first half, over the second half and a label. */
static struct siphash_key derive_key(const uint8_t secret[32], uint8_t label)
{
    struct siphash_key k = siphash_key_from_bytes(secret);
    uint8_t msg[18];
    memcpy(msg, secret + 16, 16);
    msg[16] = label;
    msg[17] = 0;
    uint64_t k0 = siphash24(&k, msg, sizeof(msg));
    msg[17] = 1;
    uint64_t k1 = siphash24(&k, msg, sizeof(msg));
    struct siphash_key out = {k0, k1};
    return out;
}

static uint32_t round_up_pow2(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int tcp_init(struct ustack *st)
{
    struct tcp_state *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    st->tcp = t;
    tcp_config_defaults(&st->cfg.tcp);
    uint32_t buckets = round_up_pow2(st->cfg.tcp.max_connections);
    t->conn_hash = calloc(buckets, sizeof(*t->conn_hash));
    t->conn_hash_mask = buckets - 1;
    t->listen_hash = calloc(TCP_LISTEN_BUCKETS, sizeof(*t->listen_hash));
    t->bind_hash = calloc(TCP_BIND_BUCKETS, sizeof(*t->bind_hash));
    if (!t->conn_hash || !t->listen_hash || !t->bind_hash ||
        timer_heap_init(&t->timers, st->cfg.tcp.max_connections) < 0) {
        tcp_destroy(st);
        return -ENOMEM;
    }
    t->table_key = derive_key(st->cfg.secret, 'H');
    t->isn_key = derive_key(st->cfg.secret, 'I');
    t->cookie_key = derive_key(st->cfg.secret, 'C');
    t->ts_key = derive_key(st->cfg.secret, 'T');
    t->port_key = derive_key(st->cfg.secret, 'P');
    return 0;
}

void tcp_destroy(struct ustack *st)
{
    struct tcp_state *t = st->tcp;
    if (!t)
        return;
    while (t->all)
        tcp_conn_destroy(st, t->all);
    free(t->conn_hash);
    free(t->listen_hash);
    free(t->bind_hash);
    timer_heap_destroy(&t->timers);
    free(t);
    st->tcp = NULL;
}

/* ---- State ------------------------------------------------------------------ */

const char *tcp_state_name(enum tcp_conn_state s)
{
    static const char *const names[] = {
        [TCP_CLOSED] = "CLOSED",           [TCP_LISTEN] = "LISTEN",
        [TCP_SYN_SENT] = "SYN-SENT",       [TCP_SYN_RECEIVED] = "SYN-RECEIVED",
        [TCP_ESTABLISHED] = "ESTABLISHED", [TCP_FIN_WAIT_1] = "FIN-WAIT-1",
        [TCP_FIN_WAIT_2] = "FIN-WAIT-2",   [TCP_CLOSE_WAIT] = "CLOSE-WAIT",
        [TCP_CLOSING] = "CLOSING",         [TCP_LAST_ACK] = "LAST-ACK",
        [TCP_TIME_WAIT] = "TIME-WAIT",
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

void tcp_set_state(struct ustack *st, struct tcp_conn *c, enum tcp_conn_state s)
{
    stack_log(st, LOG_DEBUG, "tcp %u->%u: %s -> %s", c->local_port,
              c->remote_port, tcp_state_name(c->state), tcp_state_name(s));
    if (s == TCP_ESTABLISHED)
        STAT_INC(st, tcp_established);
    if (s != TCP_CLOSED)
        c->opened = true;
    if (s == TCP_ESTABLISHED)
        tcp_peer_heard(st, c); /* keep-alive counts idle time from here */
    if (tcp_synchronized(s) && !tcp_synchronized(c->state))
        tcp_cc_established(st, c); /* the initial congestion window */
    c->state = s;
    TCP_TRACE(st, c, USTACK_TRACE_STATE);
    tcp_keepalive_update(st, c);
}

void tcp_notify(struct ustack *st, struct tcp_conn *c)
{
    if (st->sock_notify && c->owner)
        st->sock_notify(st, c->owner);
}

/* ---- Allocation ------------------------------------------------------------- */

struct tcp_conn *tcp_conn_create(struct ustack *st)
{
    struct tcp_state *t = st->tcp;
    if (t->conn_count >= st->cfg.tcp.max_connections) {
        STAT_INC(st, tcp_drop_conn_limit);
        return NULL;
    }
    struct tcp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        STAT_INC(st, tcp_drop_no_memory);
        return NULL;
    }
    c->state = TCP_CLOSED;
    c->sndbuf_size = st->cfg.tcp.sndbuf;
    c->rcvbuf_size = st->cfg.tcp.rcvbuf;
    c->rcv_mss = tcp_local_mss(st);
    c->snd_mss = TCP_DEFAULT_MSS;
    c->ka.idle_s = st->cfg.tcp.keepalive_idle_s;
    c->ka.intvl_s = st->cfg.tcp.keepalive_intvl_s;
    c->ka.count = st->cfg.tcp.keepalive_count;
    c->user_timeout_ms = st->cfg.tcp.user_timeout_ms;
    ratelimit_init(&c->challenge, st->cfg.tcp.challenge_ack_burst,
                   st->cfg.tcp.challenge_ack_rate, st->now);
    tcp_rtt_init(st, c);
    tcp_cc_select(st, c, tcp_cc_default(st));
    tcp_trace_init(st, c);
    /* Link into the list of every connection. */
    c->all_next = t->all;
    if (t->all)
        t->all->all_pprev = &c->all_next;
    c->all_pprev = &t->all;
    t->all = c;
    t->conn_count++;
    return c;
}

void tcp_conn_init_buffers(struct tcp_conn *c)
{
    /* The rings get their storage as bytes arrive (ringbuf_init), so an
     * idle connection holds no buffer memory and one that moves little
     * holds little. */
    if (!c->sndbuf.limit)
        ringbuf_init(&c->sndbuf, c->sndbuf_size);
    if (!c->rcvbuf.limit)
        ringbuf_init(&c->rcvbuf, tcp_rcv_ring_size(c, c->rcvbuf_size));
}

void tcp_conn_release_buffers(struct tcp_conn *c)
{
    ringbuf_release(&c->sndbuf);
    ringbuf_release(&c->rcvbuf);
    tcp_reass_release(c);
}

/* Remove c from a pprev-linked list (no-op if it is not on it). */
#define LIST_UNLINK(c, next, pprev)                                           \
    do {                                                                      \
        if ((c)->pprev) {                                                     \
            *(c)->pprev = (c)->next;                                          \
            if ((c)->next)                                                    \
                (c)->next->pprev = (c)->pprev;                                \
            (c)->next = NULL;                                                 \
            (c)->pprev = NULL;                                                \
        }                                                                     \
    } while (0)

#define LIST_PUSH(head, c, next, pprev)                                       \
    do {                                                                      \
        (c)->next = *(head);                                                  \
        if (*(head))                                                          \
            (*(head))->pprev = &(c)->next;                                    \
        (c)->pprev = (head);                                                  \
        *(head) = (c);                                                        \
    } while (0)

void tcp_conn_destroy(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_state *t = st->tcp;
    TCP_TRACE(st, c, USTACK_TRACE_END);
    tcp_timer_stop_all(st, c);
    tcp_batch_forget(st, c);
    if (t->last_lookup == c)
        t->last_lookup = NULL;
    LIST_UNLINK(c, hash_next, hash_pprev); /* four-tuple or listener table */
    LIST_UNLINK(c, bind_next, bind_pprev);
    LIST_UNLINK(c, all_next, all_pprev);
    tcp_queue_remove(c);
    tcp_conn_release_buffers(c);
    t->conn_count--;
    free(c);
}

/* ---- Closing ---------------------------------------------------------------- */

void tcp_conn_closed(struct ustack *st, struct tcp_conn *c)
{
    tcp_timer_stop_all(st, c);
    if (c->hashed) {
        LIST_UNLINK(c, hash_next, hash_pprev);
        c->hashed = false;
        if (st->tcp->last_lookup == c)
            st->tcp->last_lookup = NULL;
    }
    tcp_set_state(st, c, TCP_CLOSED);
    if (c->listener) {
        /* Never accepted: nobody else knows it. The listener's accept
         * queue may have shrunk. */
        struct tcp_conn *l = c->listener;
        tcp_conn_destroy(st, c);
        tcp_notify(st, l);
        return;
    }
    if (c->released) {
        tcp_conn_destroy(st, c);
        return;
    }
    /* The user still holds c: keep it, CLOSED, until tcp_close(). Data
     * received before the end stays readable. */
    ringbuf_release(&c->sndbuf);
    tcp_notify(st, c);
}

void tcp_conn_fail(struct ustack *st, struct tcp_conn *c, int err)
{
    if (err == ETIMEDOUT)
        STAT_INC(st, tcp_timeout_aborts);
    else
        STAT_INC(st, tcp_resets);
    if (err == ETIMEDOUT)
        err = tcp_icmp_timeout_error(c); /* EHOSTUNREACH, ... if ICMP said */
    c->fail = err;
    c->error = err;
    tcp_conn_closed(st, c);
}

/* ---- The four-tuple table ---------------------------------------------------- */

static struct tcp_conn **conn_bucket(struct tcp_state *t, uint32_t laddr,
                                     uint16_t lport, uint32_t raddr,
                                     uint16_t rport)
{
    uint64_t h = tcp_tuple_hash(&t->table_key, laddr, lport, raddr, rport);
    return &t->conn_hash[h & t->conn_hash_mask];
}

static bool conn_matches(const struct tcp_conn *c, uint32_t laddr, uint16_t lport,
                         uint32_t raddr, uint16_t rport)
{
    return c->local_port == lport && c->remote_port == rport &&
           c->local_addr == laddr && c->remote_addr == raddr;
}

/* The last connection found is tried first: the segments of a bulk flow
 * arrive back to back, and SipHash of the tuple was 7% of the receive
 * path's instructions. The cache only ever holds a connection that is in
 * the table (cleared when it leaves), so it changes no answer; the table
 * itself stays keyed against hash flooding. */
struct tcp_conn *tcp_conn_lookup(struct ustack *st, uint32_t laddr,
                                 uint16_t lport, uint32_t raddr, uint16_t rport)
{
    struct tcp_state *t = st->tcp;
    struct tcp_conn *c = t->last_lookup;
    if (c && conn_matches(c, laddr, lport, raddr, rport))
        return c;
    for (c = *conn_bucket(t, laddr, lport, raddr, rport); c; c = c->hash_next)
        if (conn_matches(c, laddr, lport, raddr, rport)) {
            t->last_lookup = c;
            return c;
        }
    return NULL;
}

void tcp_conn_hash_insert(struct ustack *st, struct tcp_conn *c)
{
    struct tcp_conn **b = conn_bucket(st->tcp, c->local_addr, c->local_port,
                                      c->remote_addr, c->remote_port);
    LIST_PUSH(b, c, hash_next, hash_pprev);
    c->hashed = true;
}

/* ---- Listeners ---------------------------------------------------------------- */

struct tcp_conn *tcp_listener_lookup(struct ustack *st, uint32_t addr,
                                     uint16_t port)
{
    struct tcp_conn *wild = NULL;
    struct tcp_conn *l = st->tcp->listen_hash[port % TCP_LISTEN_BUCKETS];
    for (; l; l = l->hash_next) {
        if (l->local_port != port)
            continue;
        if (l->local_addr == addr)
            return l;
        if (l->local_addr == 0)
            wild = l;
    }
    return wild;
}

/* Would l listen on an address and port another listener has? */
bool tcp_listener_conflict(struct ustack *st, const struct tcp_conn *l)
{
    struct tcp_conn *o = st->tcp->listen_hash[l->local_port % TCP_LISTEN_BUCKETS];
    for (; o; o = o->hash_next)
        if (o != l && o->local_port == l->local_port &&
            (o->local_addr == 0 || l->local_addr == 0 ||
             o->local_addr == l->local_addr))
            return true;
    return false;
}

void tcp_listener_insert(struct ustack *st, struct tcp_conn *l)
{
    LIST_PUSH(&st->tcp->listen_hash[l->local_port % TCP_LISTEN_BUCKETS], l,
              hash_next, hash_pprev);
}

/* ---- Local ports --------------------------------------------------------------- */

/* Does holder's claim on the port keep a new bind (addr, reuse) out?
 * Without reuse, any holder with an overlapping address does. With reuse
 * (SO_REUSEADDR), TIME-WAIT never does, and other connections only when
 * they were bound without reuse or are listening: a restarted server can
 * take its port back while its old connections finish. */
static bool port_conflict(const struct tcp_conn *holder, uint32_t addr,
                          bool reuse)
{
    bool overlap = holder->local_addr == 0 || addr == 0 ||
                   holder->local_addr == addr;
    if (!overlap)
        return false;
    if (!reuse)
        return true;
    if (holder->state == TCP_TIME_WAIT)
        return false;
    return !holder->reuse || holder->state == TCP_LISTEN;
}

static bool port_available(struct ustack *st, uint16_t port, uint32_t addr,
                           bool reuse)
{
    struct tcp_conn *h = st->tcp->bind_hash[port % TCP_BIND_BUCKETS];
    for (; h; h = h->bind_next)
        if (h->local_port == port && port_conflict(h, addr, reuse))
            return false;
    return true;
}

#define EPHEMERAL_FIRST 49152 /* RFC 6335 §6: the dynamic port range */
#define EPHEMERAL_COUNT 16384

/* RFC 6056 §3.3.3, the double-hash algorithm (its Algorithm 3 with one
 * counter): port = first + (F(laddr, raddr, rport, secret) + counter) % n,
 * the counter moving on by one with every port tried. Towards one
 * destination the ports go round the whole range before one comes back
 * (a low reuse frequency, §3.1); towards another they start from an
 * offset nobody without the secret knows, so a port seen on the wire
 * tells nothing of the ports used with anyone else. An active open passes
 * its peer; bind() and listen() know none and pass 0 and 0. The port must
 * be free of every holder, not just of this four-tuple. The search tries
 * each port of the range once: 0 if all are taken. */
static uint16_t pick_ephemeral(struct ustack *st, uint32_t addr,
                               uint32_t raddr, uint16_t rport)
{
    struct tcp_state *t = st->tcp;
    uint32_t laddr = addr ? addr : st->cfg.addr;
    uint32_t offset = (uint32_t)tcp_tuple_hash(&t->port_key, laddr, 0, raddr, rport);
    for (unsigned i = 0; i < EPHEMERAL_COUNT; i++) {
        uint32_t k = (offset + t->next_ephemeral++) % EPHEMERAL_COUNT;
        uint16_t port = (uint16_t)(EPHEMERAL_FIRST + k);
        if (port_available(st, port, addr, false))
            return port;
    }
    return 0;
}

static void bind_insert(struct ustack *st, struct tcp_conn *c)
{
    LIST_PUSH(&st->tcp->bind_hash[c->local_port % TCP_BIND_BUCKETS], c,
              bind_next, bind_pprev);
    c->bound = true;
}

static void bind_take(struct ustack *st, struct tcp_conn *c, uint32_t addr,
                      uint16_t port, bool reuse)
{
    c->local_addr = addr;
    c->local_port = port;
    c->reuse = reuse;
    bind_insert(st, c);
}

int tcp_port_bind(struct ustack *st, struct tcp_conn *c, uint32_t addr,
                  uint16_t port, bool reuse)
{
    if (port == 0)
        port = pick_ephemeral(st, addr, 0, 0);
    else if (!port_available(st, port, addr, reuse))
        port = 0;
    if (port == 0)
        return -EADDRINUSE;
    bind_take(st, c, addr, port, reuse);
    return 0;
}

int tcp_port_bind_for_peer(struct ustack *st, struct tcp_conn *c,
                           uint32_t raddr, uint16_t rport)
{
    uint16_t port = pick_ephemeral(st, 0, raddr, rport);
    if (port == 0)
        return -EADDRINUSE;
    bind_take(st, c, 0, port, c->reuse);
    return 0;
}

void tcp_port_bind_child(struct ustack *st, struct tcp_conn *c)
{
    bind_insert(st, c);
}

/* ---- Listener queues ----------------------------------------------------------- */

void tcp_queue_push(struct tcp_queue *q, struct tcp_conn *c)
{
    c->q_next = NULL;
    c->q_prev = q->tail;
    if (q->tail)
        q->tail->q_next = c;
    else
        q->head = c;
    q->tail = c;
    q->len++;
    c->queue = q;
}

void tcp_queue_remove(struct tcp_conn *c)
{
    struct tcp_queue *q = c->queue;
    if (!q)
        return;
    if (c->q_prev)
        c->q_prev->q_next = c->q_next;
    else
        q->head = c->q_next;
    if (c->q_next)
        c->q_next->q_prev = c->q_prev;
    else
        q->tail = c->q_prev;
    c->q_prev = c->q_next = NULL;
    c->queue = NULL;
    q->len--;
}

struct tcp_conn *tcp_queue_pop(struct tcp_queue *q)
{
    struct tcp_conn *c = q->head;
    if (c)
        tcp_queue_remove(c);
    return c;
}
