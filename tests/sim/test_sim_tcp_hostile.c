/*
 * TCP over a hostile network, many seeds (tests/sim/simnet.h).
 *
 * Each seed draws a scenario: loss up to 20% per direction, duplication,
 * reordering, corruption, delay with jitter, sometimes a bandwidth limit;
 * an MTU; both sides' buffer sizes (small ones shut the window, so zero
 * windows, probes and silly window avoidance come into play), Nagle on or
 * off, keep-alive on or off, a user timeout or none; how much each side
 * sends (0 .. 192 KiB) in what pieces; and readers and writers that stop
 * for a while (a peer that stops reading). Then it connects, transfers
 * both ways at once through the socket API, half-closes each direction
 * when its data is out, reads to the end and closes.
 *
 * Checked for every seed: every byte arrives, exactly once and in order
 * (a pattern that depends on the position and the seed); both sides see
 * the end of the stream; nobody gets an error; and both stacks are back
 * to nothing but the listener (TIME-WAIT over) within the virtual-time
 * bound. The retry limits are set high enough that 20% loss cannot
 * exhaust them by chance (a failure is a bug, not bad luck).
 *
 *   build/tests/sim tcp_hostile          the first 1000 seeds (fewer under
 *                                         ASan, see HOSTILE_SEEDS)
 *   build/tests/sim tcp_hostile 1234     replay one seed, with a report
 *   USTACK_HOSTILE_SEEDS=20000 USTACK_HOSTILE_FIRST=1 build/tests/sim tcp_hostile
 *                                        more (`make soak` does this)
 *   USTACK_HOSTILE_TRACE=1 ...           with a replay: every frame's fate
 *
 * Both stacks offer every TCP option by default (RFC 7323 window scaling
 * and timestamps, RFC 2018 SACK), so these scenarios run with them. Two
 * variants sharpen that: sim_tcp_hostile_options checks on every seed that
 * both sides negotiated all three and gives them room (buffers up to
 * 4 MiB, so window shifts up to 7, and longer streams), and
 * sim_tcp_hostile_no_options turns them off on one side (each seed picks
 * which), so the plain RFC 9293 path keeps its coverage.
 *
 * sim_tcp_bbr_hostile runs the same scenarios with both stacks on BBR
 * (src/tcp/cc_bbr.c), the model-based congestion control that keeps its
 * window through losses (`build/tests/sim bbr_hostile 1234` replays).
 *
 * Another test here watches a peer that vanishes: the user timeout and
 * keep-alive report ETIMEDOUT on time, and a peer that stops reading for
 * a long time (answering window probes) is never given up on.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/stack.h"
#include "simnet.h"
#include "tcp/tcp_int.h"
#include "test.h"
#include "ustack/socket.h"
#include "ustack/tcp_info.h"
#include "ustack/ustack.h"

#define MS SIMNET_MS
#define SEC SIMNET_SEC
#define PORT 80

/* Seeds per `make test` run. ASan+UBSan makes the stack ~5x slower;
 * running 1000 there too keeps the run well under a minute on two cores
 * (see the timing the test prints). */
#define HOSTILE_SEEDS 1000
/* A scenario must end within this much virtual time. The slowest seeds
 * (a 256-byte window, up to 20% loss each way, so that most losses cost a
 * timeout, long stalls, 100 ms round trips) take up to about 75 minutes
 * (the largest in 20,000 seeds); the test prints the largest it saw. A
 * hang runs into the bound. */
#define HOSTILE_BOUND (4 * 3600 * SEC)
#define MAX_STREAM (192 * 1024)

/* Which TCP options the scenarios run with (see the top comment). */
enum options_mode {
    OPTIONS_DEFAULT,  /* as configured: all offered by both */
    OPTIONS_ALL,      /* all, checked, with large buffers and streams */
    OPTIONS_NONE,     /* none: one side offers nothing */
};
static enum options_mode options_mode = OPTIONS_DEFAULT;
#define OPTIONS_SEEDS 200  /* seeds of each option variant per run */
/* The congestion control both stacks use (0: the default, CUBIC). */
static int cc_algo;
#define BIG_STREAM (512 * 1024)

/* ---- The scenario ------------------------------------------------------- */

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint64_t pick(uint64_t *s, uint64_t lo, uint64_t hi)
{
    return lo + mix(s) % (hi - lo + 1);
}

static double pick_p(uint64_t *s, double max)
{
    return (double)(mix(s) >> 11) * 0x1.0p-53 * max;
}

/* Mostly small, sometimes large: 2^k times a uniform fraction. */
static uint64_t pick_log(uint64_t *s, unsigned max_bits)
{
    unsigned bits = (unsigned)pick(s, 0, max_bits);
    return pick(s, 0, (1ull << bits) - 1);
}

struct side_plan {
    uint64_t bytes;        /* what this side sends */
    unsigned sndbuf, rcvbuf;
    bool nodelay;
    unsigned max_write, max_read; /* largest single call */
    uint64_t stall_max;    /* longest stall of reader or writer, us;
                              0: they never stall */
};

struct scenario {
    uint64_t seed;
    struct side_plan side[2]; /* [0]: the client on A, [1]: the server on B */
    bool keepalive;
    unsigned keep_idle_s, keep_intvl_s, keep_cnt;
    unsigned user_timeout_ms;
};

/* Every seed mixes every impairment, in both directions, each at its own
 * strength (a few are mild, a few harsh): loss up to 20%, duplication up
 * to 5%, reordering up to 20% (held back 0.1..30 ms), corruption up to 5%,
 * delay up to 50 ms plus jitter up to 20 ms (more reordering); sometimes a
 * rate limit, which queues frames behind each other. */
static void draw_impairments(uint64_t *r, struct simnet_impair *imp, bool rate)
{
    imp->loss = pick_p(r, 0.20);
    imp->duplicate = pick_p(r, 0.05);
    imp->reorder = pick_p(r, 0.20);
    imp->reorder_us = pick(r, 100, 30000);
    imp->corrupt = pick_p(r, 0.05);
    imp->delay_us = pick(r, 100, 50000);
    imp->jitter_us = pick(r, 0, 20000);
    imp->bandwidth_bps = rate ? pick(r, 1, 100) * 1000000ull : 0;
}

static void draw_side(uint64_t *r, struct side_plan *p)
{
    p->bytes = pick(r, 0, 7) ? pick_log(r, 17) + pick(r, 0, MAX_STREAM - (1 << 17)) / 4
                             : 0;
    if (p->bytes > MAX_STREAM)
        p->bytes = MAX_STREAM;
    p->sndbuf = (unsigned)(256 + pick_log(r, 17));
    p->rcvbuf = (unsigned)(256 + pick_log(r, 17));
    if (options_mode == OPTIONS_ALL) {
        /* Windows past 64 KiB: shifts 1 to 7. */
        p->bytes = pick(r, 0, BIG_STREAM);
        p->sndbuf = (unsigned)pick(r, 4096, 4u << 20);
        p->rcvbuf = (unsigned)pick(r, 65536, 4u << 20);
    }
    p->nodelay = pick(r, 0, 1);
    p->max_write = (unsigned)(1 + pick_log(r, 15));
    p->max_read = (unsigned)(1 + pick_log(r, 15));
    p->stall_max = pick(r, 0, 2) ? 0 : pick(r, 1, 30) * SEC;
}

static void draw_scenario(uint64_t seed, struct scenario *sc, struct simnet_config *cfg)
{
    uint64_t r = seed * 0x2545f4914f6cdd1dull + 1;
    memset(sc, 0, sizeof(*sc));
    sc->seed = seed;
    simnet_config_init(cfg, seed);
    cfg->mtu = (unsigned)(pick(&r, 0, 3) ? 1500 : pick(&r, 296, 1500));
    cfg->max_in_flight = 512;
    bool rate = pick(&r, 0, 7) == 0;
    for (int i = 0; i < 2; i++)
        draw_impairments(&r, &cfg->impair[i], rate);
    for (int i = 0; i < 2; i++)
        draw_side(&r, &sc->side[i]);
    sc->keepalive = pick(&r, 0, 3) == 0;
    sc->keep_idle_s = (unsigned)pick(&r, 1, 20);
    sc->keep_intvl_s = (unsigned)pick(&r, 1, 5);
    /* 20% loss each way loses a probe or its answer 36% of the time: 40
     * probes all fail with probability 1e-18. */
    sc->keep_cnt = 40;
    sc->user_timeout_ms = pick(&r, 0, 3) == 0 ? 600 * 1000 : 0;
    for (int i = 0; i < 2; i++) {
        struct ustack_config *s = &cfg->stack[i];
        s->pbuf_count = 128;
        s->max_sockets = 8;
        s->tcp.max_connections = 8;
        s->tcp.msl_ms = 1000;
        /* Generous limits: 40 timeouts of one segment at 20% loss never
         * happen by chance, and backed-off RTOs stay at 10 s at most. */
        s->tcp.syn_retries = 40;
        s->tcp.data_retries = 40;
        s->tcp.rto_max_ms = 10000;
        if (cc_algo)
            s->tcp.congestion = (unsigned)cc_algo;
    }
    if (options_mode == OPTIONS_NONE) {
        struct ustack_tcp_config *plain = &cfg->stack[pick(&r, 0, 1)].tcp;
        plain->wscale_off = plain->timestamps_off = plain->sack_off = true;
    }
}

static void print_scenario(const struct scenario *sc, const struct simnet_config *cfg)
{
    printf("    seed %llu: mtu %u\n", (unsigned long long)sc->seed, cfg->mtu);
    for (int i = 0; i < 2; i++) {
        const struct simnet_impair *m = &cfg->impair[i];
        const struct side_plan *p = &sc->side[i];
        printf("    %c sends %llu bytes (writes <= %u, reads <= %u, sndbuf %u, rcvbuf %u,"
               " nodelay %d, stalls up to %llu s)\n",
               "AB"[i], (unsigned long long)p->bytes, p->max_write, p->max_read, p->sndbuf,
               p->rcvbuf, p->nodelay, (unsigned long long)(p->stall_max / SEC));
        printf("    wire %c>%c: loss %.3f dup %.3f reorder %.3f (%llu us) corrupt %.3f"
               " delay %llu us jitter %llu us bandwidth %llu bit/s\n",
               "AB"[i], "BA"[i], m->loss, m->duplicate, m->reorder,
               (unsigned long long)m->reorder_us, m->corrupt,
               (unsigned long long)m->delay_us, (unsigned long long)m->jitter_us,
               (unsigned long long)m->bandwidth_bps);
    }
    printf("    keep-alive %s (%u s, %u s, %u), user timeout %u ms\n",
           sc->keepalive ? "on" : "off", sc->keep_idle_s, sc->keep_intvl_s, sc->keep_cnt,
           sc->user_timeout_ms);
}

/* ---- The applications ---------------------------------------------------- */

/* Byte i of the stream side `dir` sends, for this seed. */
static uint8_t stream_byte(uint64_t seed, int dir, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ (seed << 1 | (uint64_t)dir);
    return (uint8_t)(x >> 29 ^ x >> 47);
}

struct stall {
    uint64_t until;             /* stalled until then */
    uint64_t next;              /* the next stall starts then (0: not drawn) */
};

struct app {
    struct ustack *st;
    const struct side_plan *plan;
    int sd;                     /* connected socket, -1 before */
    int dir;                    /* 0: A's stream, 1: B's */
    uint64_t sent, received, expect;
    struct stall read_stall, write_stall;
    bool connected, shut, eof, closed;
    int error;                  /* first error seen (errno), 0 */
    const char *what;           /* what went wrong, for the report */
};

struct run {
    struct simnet *net;
    struct scenario *sc;
    struct app app[2];
    int listener;
    uint64_t rng;               /* the applications' own choices */
    bool opts_all[2], opts_any[2]; /* what each side's connection negotiated */
};

static void app_fail(struct app *a, int err, const char *what)
{
    if (!a->what) {
        a->error = err;
        a->what = what;
    }
}

/* Stalls come at random times, 1 to 20 s of activity apart: a writer
 * that pauses, a reader that stops reading (its window shuts). True while
 * one lasts. */
static bool stalled(struct run *r, const struct side_plan *p, struct stall *s)
{
    uint64_t now = r->net->now;
    if (!p->stall_max || now < s->until)
        return p->stall_max && now < s->until;
    if (!s->next)
        s->next = now + pick(&r->rng, 1 * SEC, 20 * SEC);
    if (now < s->next)
        return false;
    s->until = now + pick(&r->rng, 1, p->stall_max);
    s->next = s->until + pick(&r->rng, 1 * SEC, 20 * SEC);
    return true;
}

static void app_write(struct run *r, struct app *a)
{
    uint8_t buf[1 << 15];
    if (!a->connected) /* the client: writable once connected */
        a->connected = ustack_events(a->st, a->sd) & USTACK_EV_WRITABLE;
    if (!a->connected)
        return;
    if (stalled(r, a->plan, &a->write_stall))
        return;
    for (int calls = 0; calls < 64 && a->sent < a->plan->bytes; calls++) {
        uint64_t n = pick(&r->rng, 1, a->plan->max_write);
        if (n > a->plan->bytes - a->sent)
            n = a->plan->bytes - a->sent;
        for (uint64_t i = 0; i < n; i++)
            buf[i] = stream_byte(r->sc->seed, a->dir, a->sent + i);
        ssize_t w = ustack_send(a->st, a->sd, buf, (size_t)n, 0);
        if (w == -EAGAIN)
            break;
        if (w <= 0) {
            app_fail(a, (int)-w, "send failed");
            return;
        }
        a->sent += (uint64_t)w;
    }
    if (a->sent == a->plan->bytes && !a->shut) {
        int rc = ustack_shutdown(a->st, a->sd, SHUT_WR);
        if (rc < 0)
            app_fail(a, -rc, "shutdown failed");
        a->shut = true;
    }
}

static void app_read(struct run *r, struct app *a)
{
    uint8_t buf[1 << 15];
    const struct side_plan *p = a->plan;
    if (a->eof || stalled(r, p, &a->read_stall))
        return;
    int other = 1 - a->dir;
    for (int calls = 0; calls < 64; calls++) {
        size_t n = (size_t)pick(&r->rng, 1, p->max_read);
        ssize_t got = ustack_recv(a->st, a->sd, buf, n, 0);
        if (got == -EAGAIN)
            return;
        if (got < 0) {
            app_fail(a, (int)-got, "recv failed");
            return;
        }
        if (got == 0) {
            a->eof = true;
            if (a->received != a->expect)
                app_fail(a, 0, "end of stream before all the data");
            return;
        }
        for (ssize_t i = 0; i < got; i++)
            if (buf[i] != stream_byte(r->sc->seed, other, a->received + (uint64_t)i)) {
                app_fail(a, 0, "wrong byte received");
                break;
            }
        a->received += (uint64_t)got;
        if (a->received > a->expect)
            app_fail(a, 0, "more bytes than were sent");
    }
}

static void app_step(struct run *r, struct app *a)
{
    if (a->sd < 0 || a->closed)
        return;
    int err = 0;
    if (ustack_getsockopt(a->st, a->sd, USTACK_SO_ERROR, &err) == 0 && err)
        app_fail(a, err, "connection failed");
    app_write(r, a);
    app_read(r, a);
    if (a->eof && a->shut) {
        ustack_close(a->st, a->sd);
        a->closed = true;
    }
}

static void set_tcp_options(struct ustack *st, int sd, const struct scenario *sc,
                            const struct side_plan *p)
{
    ustack_setsockopt(st, sd, USTACK_SO_SNDBUF, (int)p->sndbuf);
    ustack_setsockopt(st, sd, USTACK_SO_RCVBUF, (int)p->rcvbuf);
    ustack_setsockopt(st, sd, USTACK_TCP_NODELAY, p->nodelay);
    if (sc->keepalive) {
        ustack_setsockopt(st, sd, USTACK_SO_KEEPALIVE, 1);
        ustack_setsockopt(st, sd, USTACK_TCP_KEEPIDLE, (int)sc->keep_idle_s);
        ustack_setsockopt(st, sd, USTACK_TCP_KEEPINTVL, (int)sc->keep_intvl_s);
        ustack_setsockopt(st, sd, USTACK_TCP_KEEPCNT, (int)sc->keep_cnt);
    }
    if (sc->user_timeout_ms)
        ustack_setsockopt(st, sd, USTACK_TCP_USER_TIMEOUT, (int)sc->user_timeout_ms);
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
    struct sockaddr_in s;
    memset(&s, 0, sizeof(s));
    s.sin_family = AF_INET;
    s.sin_addr.s_addr = htonl(addr);
    s.sin_port = htons(port);
    return s;
}

static bool start(struct run *r)
{
    struct ustack *a = r->net->node[SIMNET_A].st, *b = r->net->node[SIMNET_B].st;
    for (int i = 0; i < 2; i++) {
        r->app[i] = (struct app){.st = i ? b : a, .plan = &r->sc->side[i], .sd = -1,
                                 .dir = i, .expect = r->sc->side[1 - i].bytes};
    }
    /* The server's options go on the listener; accepted sockets inherit
     * them (buffer sizes included, as the SYN-ACK's window needs). */
    r->listener = ustack_socket(b, USTACK_SOCK_STREAM);
    struct sockaddr_in any = sin_of(0, PORT);
    set_tcp_options(b, r->listener, r->sc, &r->sc->side[1]);
    if (r->listener < 0 || ustack_bind(b, r->listener, (struct sockaddr *)&any, sizeof(any)) ||
        ustack_listen(b, r->listener, 4))
        return false;
    int sd = ustack_socket(a, USTACK_SOCK_STREAM);
    if (sd < 0)
        return false;
    set_tcp_options(a, sd, r->sc, &r->sc->side[0]);
    struct sockaddr_in to = sin_of(SIMNET_ADDR_B, PORT);
    if (ustack_connect(a, sd, (struct sockaddr *)&to, sizeof(to)) != -EINPROGRESS)
        return false;
    r->app[0].sd = sd;
    return true;
}

/* Everything closed and gone: the client stack holds nothing, the server
 * only its listener (TIME-WAIT over on whichever side had it). */
static bool finished(const struct run *r)
{
    return r->app[0].closed && r->app[1].closed &&
           r->net->node[SIMNET_A].st->tcp->conn_count == 0 &&
           r->net->node[SIMNET_B].st->tcp->conn_count == 1;
}

/* The invariant that keeps a connection from stalling (docs/
 * ARCHITECTURE.md): while data or our FIN is queued or unacknowledged in
 * a state that may send, the retransmission or the persist timer runs.
 * NULL when it holds, else the connection breaking it. */
static const struct tcp_conn *stalled_conn(struct ustack *st)
{
    for (const struct tcp_conn *c = st->tcp->all; c; c = c->all_next) {
        bool waiting = c->snd.una != c->snd.nxt || ringbuf_used(&c->sndbuf) > 0 ||
                       (c->fin_pending && !tcp_fin_acked(c));
        if (tcp_may_send(c->state) && waiting && !tcp_timer_running(c, TCP_TIMER_RTX) &&
            !tcp_timer_running(c, TCP_TIMER_PERSIST))
            return c;
    }
    return NULL;
}

static bool one_event(struct simnet *net, void *ctx)
{
    (void)net;
    return ++*(int *)ctx >= 2;
}

/* Note which options the connections negotiated (once synchronized). */
static void note_options(struct run *r)
{
    for (int i = 0; i < 2; i++)
        for (const struct tcp_conn *c = r->net->node[i].st->tcp->all; c; c = c->all_next) {
            if (!tcp_synchronized(c->state))
                continue;
            const struct tcp_optstate *o = &c->opt;
            bool scaled = o->wscale && (o->rcv_shift > 0 || c->rcvbuf_size <= 65535);
            r->opts_all[i] |= scaled && o->ts && o->sack;
            r->opts_any[i] |= o->wscale || o->ts || o->sack;
        }
}

/* Drive the applications between events until the scenario is over, an
 * application failed, or the bound ran out. */
static bool drive(struct run *r, uint64_t bound)
{
    uint64_t end = r->net->now + bound;
    while (r->net->now < end) {
        struct app *server = &r->app[1];
        if (server->sd < 0) {
            int sd = ustack_accept(server->st, r->listener, NULL, NULL);
            if (sd >= 0) {
                server->sd = sd;
                server->connected = true;
            }
        }
        app_step(r, &r->app[0]);
        app_step(r, server);
        note_options(r);
        for (int i = 0; i < 2; i++)
            if (stalled_conn(r->net->node[i].st))
                app_fail(&r->app[i], 0, "data waiting, no timer running");
        if (r->app[0].what || server->what)
            return false;
        if (finished(r))
            return true;
        /* Up to one event; at most 50 ms, so stalled applications wake
         * up even when the stacks have nothing scheduled. */
        int seen = 0;
        uint64_t slice = end - r->net->now < 50 * MS ? end - r->net->now : 50 * MS;
        if (simnet_run(r->net, one_event, &seen, slice) < 0)
            return false;
    }
    return false;
}

/* ---- One seed ------------------------------------------------------------ */

struct totals {
    unsigned seeds, failed;
    uint64_t max_virtual_us, max_seed;
    uint64_t bytes, frames, lost, corrupted, duplicated, reordered;
    uint64_t retransmits, fast_retransmits, rto_expired, window_probes, keepalive_probes,
        delayed_acks, out_of_order;
    uint64_t sack_blocks, sack_acks, ts_samples, paws;
};

static void add_stats(struct totals *t, const struct simnet *net)
{
    for (int i = 0; i < 2; i++) {
        const struct simnet_wire_stats *w = &net->node[i].tx;
        const struct ustack_stats *s = &net->node[i].st->stats;
        t->frames += w->sent;
        t->lost += w->lost;
        t->corrupted += w->corrupted;
        t->duplicated += w->duplicated;
        t->reordered += w->reordered;
        t->retransmits += s->tcp_retransmits;
        t->fast_retransmits += s->tcp_fast_retransmits;
        t->rto_expired += s->tcp_rto_expired;
        t->window_probes += s->tcp_window_probes;
        t->keepalive_probes += s->tcp_keepalive_probes;
        t->delayed_acks += s->tcp_delayed_acks;
        t->out_of_order += s->tcp_rx_out_of_order;
        t->sack_blocks += s->tcp_sack_blocks_rx;
        t->sack_acks += s->tcp_sack_acks_tx;
        t->ts_samples += s->tcp_ts_rtt_samples;
        t->paws += s->tcp_drop_paws;
    }
}

static void print_conn(void *ctx, const struct ustack_tcp_info *i)
{
    printf("      %c %s una %u nxt %u rcv.nxt %u snd.wnd %u rcv.wnd %u sendq %u recvq %u"
           " retrans %u srtt %u rto %u\n",
           *(const char *)ctx, i->state, i->snd_una, i->snd_nxt, i->rcv_nxt, i->snd_wnd,
           i->rcv_wnd, i->send_queue, i->recv_queue, i->retransmissions, i->srtt_us,
           i->rto_us);
}

static void report_failure(const struct run *r, bool verbose)
{
    printf("    seed %llu FAILED at t=%.3f s:", (unsigned long long)r->sc->seed,
           (double)r->net->now / SEC);
    for (int i = 0; i < 2; i++) {
        const struct app *a = &r->app[i];
        printf(" %c sent %llu/%llu received %llu/%llu%s%s%s%s%s", "AB"[i],
               (unsigned long long)a->sent, (unsigned long long)a->plan->bytes,
               (unsigned long long)a->received, (unsigned long long)a->expect,
               a->eof ? " eof" : "", a->closed ? " closed" : "", a->what ? " [" : "",
               a->what ? a->what : "", a->what ? "]" : "");
        if (a->error)
            printf(" (%s)", strerror(a->error));
        printf(";");
    }
    printf(" connections left: A %u, B %u\n", r->net->node[0].st->tcp->conn_count,
           r->net->node[1].st->tcp->conn_count);
    printf("    replay: build/tests/sim tcp_hostile %llu\n", (unsigned long long)r->sc->seed);
    if (verbose)
        for (int i = 0; i < 2; i++) {
            ustack_tcp_connections(r->net->node[i].st, print_conn, (void *)&"AB"[i]);
            for (const struct tcp_conn *c = r->net->node[i].st->tcp->all; c; c = c->all_next)
                printf("      %c timers rtx %llu persist %llu delack %llu keep %llu;"
                       " send_next %u probes %u fin_pending %d fin_sent %d\n", "AB"[i],
                       (unsigned long long)c->timer_at[TCP_TIMER_RTX],
                       (unsigned long long)c->timer_at[TCP_TIMER_PERSIST],
                       (unsigned long long)c->timer_at[TCP_TIMER_DELACK],
                       (unsigned long long)c->timer_at[TCP_TIMER_KEEPALIVE], c->send_next,
                       c->probes, c->fin_pending, c->fin_sent);
        }
}

/* Run one seed; true when every check passed. */
static bool run_seed(uint64_t seed, bool verbose, struct totals *t)
{
    struct scenario sc;
    struct simnet_config cfg;
    draw_scenario(seed, &sc, &cfg);
    cfg.verbose = verbose && getenv("USTACK_HOSTILE_TRACE");
    if (verbose)
        print_scenario(&sc, &cfg);
    struct run r;
    memset(&r, 0, sizeof(r));
    r.sc = &sc;
    r.rng = seed ^ 0xa99u;
    r.net = simnet_new(&cfg);
    if (!r.net) {
        printf("    seed %llu: simnet_new failed\n", (unsigned long long)seed);
        return false;
    }
    bool ok = start(&r) && drive(&r, HOSTILE_BOUND);
    for (int i = 0; ok && i < 2; i++)
        ok = r.app[i].received == r.app[i].expect && r.app[i].eof && !r.app[i].what;
    for (int i = 0; i < 2; i++) {
        if (options_mode == OPTIONS_ALL && !r.opts_all[i])
            app_fail(&r.app[i], 0, "options not all negotiated");
        if (options_mode == OPTIONS_NONE && r.opts_any[i])
            app_fail(&r.app[i], 0, "an option negotiated though one side offers none");
        ok = ok && !r.app[i].what;
    }
    t->seeds++;
    add_stats(t, r.net);
    t->bytes += sc.side[0].bytes + sc.side[1].bytes;
    if (r.net->now > t->max_virtual_us) {
        t->max_virtual_us = r.net->now;
        t->max_seed = seed;
    }
    if (!ok) {
        t->failed++;
        report_failure(&r, verbose);
    } else if (verbose) {
        printf("    seed %llu passed: done at t=%.3f s\n", (unsigned long long)seed,
               (double)r.net->now / SEC);
    }
    ustack_close(r.net->node[SIMNET_B].st, r.listener);
    simnet_free(r.net);
    return ok;
}

static unsigned long env_number(const char *name, unsigned long def)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end ? def : v;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Run the seeds (or replay the one on the command line) and print what
 * happened; the totals for the caller's checks. count 0: none were run. */
static unsigned long run_seeds(struct totals *t, unsigned long default_count)
{
    memset(t, 0, sizeof(*t));
    uint64_t seed;
    if (simnet_seed_arg(&seed)) {
        CHECK(run_seed(seed, true, t));
        return 0;
    }
    unsigned long first = env_number("USTACK_HOSTILE_FIRST", 1);
    unsigned long count = env_number("USTACK_HOSTILE_SEEDS", default_count);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long i = 0; i < count; i++) {
        if (!run_seed(first + i, false, t) && t->failed >= 10) {
            printf("    stopping after 10 failed seeds\n");
            break;
        }
    }
    double secs = seconds_since(&t0);
    printf("    %u seeds (%lu..%lu) in %.1f s, %.0f seeds/s; %u failed; slowest seed %llu "
           "ended at t=%.0f s (bound %.0f s)\n",
           t->seeds, first, first + count - 1, secs, t->seeds / (secs > 0 ? secs : 1),
           t->failed, (unsigned long long)t->max_seed, (double)t->max_virtual_us / SEC,
           (double)HOSTILE_BOUND / SEC);
    printf("    %llu bytes; %llu frames: %llu lost, %llu corrupted, %llu duplicated, "
           "%llu reordered; %llu retransmissions (%llu fast, %llu timeouts), %llu window "
           "probes, %llu keep-alive probes, %llu delayed ACKs, %llu segments held "
           "out of order\n",
           (unsigned long long)t->bytes, (unsigned long long)t->frames,
           (unsigned long long)t->lost, (unsigned long long)t->corrupted,
           (unsigned long long)t->duplicated, (unsigned long long)t->reordered,
           (unsigned long long)t->retransmits, (unsigned long long)t->fast_retransmits,
           (unsigned long long)t->rto_expired, (unsigned long long)t->window_probes,
           (unsigned long long)t->keepalive_probes, (unsigned long long)t->delayed_acks,
           (unsigned long long)t->out_of_order);
    printf("    options: %llu SACK blocks received, %llu ACKs with SACK blocks sent, %llu RTT "
           "samples from timestamps, %llu segments dropped by PAWS\n",
           (unsigned long long)t->sack_blocks, (unsigned long long)t->sack_acks,
           (unsigned long long)t->ts_samples, (unsigned long long)t->paws);
    CHECK_EQ(t->failed, 0);
    /* The impairments really happened (a scenario generator gone dull
     * would pass quietly). */
    CHECK(t->lost > 0 && t->corrupted > 0 && t->duplicated > 0 && t->reordered > 0);
    return count;
}

TEST(sim_tcp_hostile)
{
    struct totals t;
    options_mode = OPTIONS_DEFAULT;
    unsigned long count = run_seeds(&t, HOSTILE_SEEDS);
    /* The mechanisms under test really ran. */
    CHECK(count < 100 || (t.fast_retransmits > 0 && t.rto_expired > 0 && t.window_probes > 0 &&
                          t.keepalive_probes > 0 && t.delayed_acks > 0 && t.out_of_order > 0));
}

/* Every seed negotiates window scaling (with a shift: buffers up to
 * 4 MiB), timestamps and SACK on both sides, and SACK blocks, timestamp
 * RTT samples and large windows carry the transfers. */
TEST(sim_tcp_hostile_options)
{
    struct totals t;
    options_mode = OPTIONS_ALL;
    unsigned long count = run_seeds(&t, OPTIONS_SEEDS);
    options_mode = OPTIONS_DEFAULT;
    CHECK(count < 100 || (t.sack_blocks > 0 && t.sack_acks > 0 && t.ts_samples > 0 &&
                          t.fast_retransmits > 0 && t.rto_expired > 0));
}

/* One side offers no option: none is used, and the plain path copes. */
TEST(sim_tcp_hostile_no_options)
{
    struct totals t;
    options_mode = OPTIONS_NONE;
    unsigned long count = run_seeds(&t, OPTIONS_SEEDS);
    options_mode = OPTIONS_DEFAULT;
    CHECK(count < 100 || (t.sack_blocks == 0 && t.sack_acks == 0 && t.ts_samples == 0 &&
                          t.fast_retransmits > 0 && t.rto_expired > 0));
}

/* The default scenarios with BBR on both sides. */
TEST(sim_tcp_bbr_hostile)
{
    struct totals t;
    cc_algo = USTACK_TCP_CC_BBR;
    unsigned long count = run_seeds(&t, OPTIONS_SEEDS);
    cc_algo = 0;
    CHECK(count < 100 || (t.fast_retransmits > 0 && t.rto_expired > 0 && t.out_of_order > 0));
}

/* ---- A peer that vanishes, a peer that stops reading ------------------------
 *
 * Named sim_tcp_vanish_* so that `tcp_hostile <seed>` replays only the
 * seed. A connected pair through the socket API on a clean 10 ms path;
 * "vanishing" is every frame lost from then on, both ways (a peer that
 * crashed, or a cable pulled). */

struct pair {
    struct simnet *net;
    struct ustack *a, *b;
    int client, server, listener;
};

static bool pair_accepted(struct simnet *net, void *ctx)
{
    struct pair *p = ctx;
    (void)net;
    if (p->server < 0)
        p->server = ustack_accept(p->b, p->listener, NULL, NULL);
    return p->server >= 0 && (ustack_events(p->a, p->client) & USTACK_EV_WRITABLE);
}

/* opts: (option, value) pairs for both sockets, ending with 0. */
static bool pair_open(struct pair *p, uint64_t seed, const int *opts)
{
    struct simnet_config cfg;
    simnet_config_init(&cfg, seed);
    for (int i = 0; i < 2; i++) {
        cfg.impair[i].delay_us = 5 * MS;
        cfg.stack[i].max_sockets = 8;
        cfg.stack[i].tcp.max_connections = 8;
        cfg.stack[i].pbuf_count = 64;
    }
    memset(p, 0, sizeof(*p));
    p->net = simnet_new(&cfg);
    if (!p->net)
        return false;
    p->a = p->net->node[SIMNET_A].st;
    p->b = p->net->node[SIMNET_B].st;
    p->listener = ustack_socket(p->b, USTACK_SOCK_STREAM);
    p->client = ustack_socket(p->a, USTACK_SOCK_STREAM);
    p->server = -1;
    for (const int *o = opts; o && *o; o += 2) {
        ustack_setsockopt(p->a, p->client, o[0], o[1]);
        ustack_setsockopt(p->b, p->listener, o[0], o[1]);
    }
    struct sockaddr_in any = sin_of(0, PORT), to = sin_of(SIMNET_ADDR_B, PORT);
    if (ustack_bind(p->b, p->listener, (struct sockaddr *)&any, sizeof(any)) ||
        ustack_listen(p->b, p->listener, 4) ||
        ustack_connect(p->a, p->client, (struct sockaddr *)&to, sizeof(to)) != -EINPROGRESS)
        return false;
    return simnet_run(p->net, pair_accepted, p, 5 * SEC) == 1;
}

static void pair_free(struct pair *p)
{
    simnet_free(p->net);
}

static void vanish(struct pair *p)
{
    p->net->cfg.impair[0].loss = 1.0;
    p->net->cfg.impair[1].loss = 1.0;
}

static bool client_failed(struct simnet *net, void *ctx)
{
    struct pair *p = ctx;
    (void)net;
    return ustack_events(p->a, p->client) & USTACK_EV_ERROR;
}

static int take_error(struct ustack *st, int sd)
{
    int err = 0;
    ustack_getsockopt(st, sd, USTACK_SO_ERROR, &err);
    return err;
}

/* Queue up to n bytes on the client (as many as its send buffer takes);
 * returns how many. */
static size_t client_send(struct pair *p, size_t n)
{
    static uint8_t junk[4096];
    size_t sent = 0;
    while (sent < n) {
        size_t chunk = n - sent < sizeof(junk) ? n - sent : sizeof(junk);
        ssize_t w = ustack_send(p->a, p->client, junk, chunk, 0);
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    return sent;
}

/* RFC 9293 §3.8.3 / RFC 5482: with a user timeout of 20 s, data that
 * stays unacknowledged fails the connection 20 s after the last ACK that
 * moved it on (not after the retry count, which would take ~8 minutes),
 * with ETIMEDOUT, and the application sees it. */
TEST(sim_tcp_vanish_user_timeout)
{
    const int opts[] = {USTACK_TCP_USER_TIMEOUT, 20000, 0};
    struct pair p;
    REQUIRE(pair_open(&p, 11, opts));
    client_send(&p, 20000);
    simnet_run(p.net, NULL, NULL, 1 * SEC); /* flows, all acknowledged */
    uint64_t aborts = p.a->stats.tcp_user_timeout_aborts;
    vanish(&p);
    uint64_t t0 = p.net->now;
    client_send(&p, 5000);
    CHECK_EQ(simnet_run(p.net, client_failed, &p, 19 * SEC), 0);
    CHECK(simnet_run(p.net, client_failed, &p, 2 * SEC) == 1);
    uint64_t took = p.net->now - t0;
    CHECK(took >= 20 * SEC && took <= 20 * SEC + 10 * MS);
    CHECK_EQ(take_error(p.a, p.client), ETIMEDOUT);
    CHECK_EQ(p.a->stats.tcp_user_timeout_aborts - aborts, 1);
    char buf[16];
    CHECK_EQ(ustack_recv(p.a, p.client, buf, sizeof(buf), 0), -ETIMEDOUT);
    pair_free(&p);
}

/* Without a user timeout the retry count decides: data_retries (12)
 * timeouts of RTOs 1, 2, 4, ... 60 s: the abort comes after 1+2+...+32 +
 * 60*7 = 483 s, never before; the tail loss probes that go first (each
 * re-arms the RTO, RFC 8985 §7.3) add well under a second. */
TEST(sim_tcp_vanish_retry_count)
{
    struct pair p;
    REQUIRE(pair_open(&p, 12, NULL));
    vanish(&p);
    uint64_t t0 = p.net->now;
    client_send(&p, 1000);
    CHECK_EQ(simnet_run(p.net, client_failed, &p, 480 * SEC), 0);
    CHECK(simnet_run(p.net, client_failed, &p, 10 * SEC) == 1);
    uint64_t took = p.net->now - t0;
    CHECK(took >= 483 * SEC && took <= 484 * SEC + 700 * MS);
    CHECK_EQ(take_error(p.a, p.client), ETIMEDOUT);
    /* Besides the 12, the tail loss probes (RFC 8985 §7; tcp_tlp.c). */
    CHECK(p.a->stats.tcp_tlp_probes <= TCP_TLP_MAX_TRIES);
    CHECK_EQ(p.a->stats.tcp_retransmits - p.a->stats.tcp_tlp_probes, 12);
    pair_free(&p);
}

/* RFC 1122 §4.2.3.6: an idle connection with keep-alive (idle 10 s,
 * interval 2 s, 3 probes) stays up as long as the peer answers (an hour
 * here, 359 probes), and fails with ETIMEDOUT once it stops: the probes
 * at +10, +12, +14 s go unanswered, and at +16 s the connection is
 * declared dead. */
TEST(sim_tcp_vanish_keepalive)
{
    const int opts[] = {USTACK_SO_KEEPALIVE, 1, USTACK_TCP_KEEPIDLE, 10,
                        USTACK_TCP_KEEPINTVL, 2, USTACK_TCP_KEEPCNT, 3, 0};
    struct pair p;
    REQUIRE(pair_open(&p, 13, opts));
    CHECK_EQ(simnet_run(p.net, client_failed, &p, 3600 * SEC), 0);
    CHECK(p.a->stats.tcp_keepalive_probes >= 355);
    CHECK_EQ(p.a->stats.tcp_keepalive_aborts, 0);
    CHECK_EQ(ustack_events(p.b, p.server) & USTACK_EV_ERROR, 0);
    uint64_t probes = p.a->stats.tcp_keepalive_probes;
    uint64_t heard = p.net->now;
    /* Let the last probes be answered, then the peer is gone. */
    simnet_run(p.net, NULL, NULL, 20 * MS);
    vanish(&p);
    CHECK_EQ(simnet_run(p.net, client_failed, &p, 25 * SEC), 1);
    CHECK_EQ(take_error(p.a, p.client), ETIMEDOUT);
    CHECK_EQ(p.a->stats.tcp_keepalive_aborts, 1);
    /* The side that kept the probes going learns at most idle + count *
     * interval after it last heard from the peer. */
    CHECK(p.net->now - heard <= 16 * SEC + 20 * MS);
    CHECK(p.a->stats.tcp_keepalive_probes - probes >= 3);
    pair_free(&p);
}

static bool client_blocked(struct simnet *net, void *ctx)
{
    struct pair *p = ctx;
    (void)net;
    return !(ustack_events(p->a, p->client) & USTACK_EV_WRITABLE);
}

/* A peer that stops reading: its window shuts and stays shut for two
 * hours while it keeps answering the zero-window probes. RFC 9293
 * §3.8.6.1 (MUST-37): the sender never gives up on it, though that is far
 * beyond both the retry count and the user timeout (60 s). Then the
 * reader resumes and every byte arrives. Then it vanishes while the
 * window is shut: 60 s of unanswered probes end the connection. */
TEST(sim_tcp_vanish_stalled_reader)
{
    const int opts[] = {USTACK_TCP_USER_TIMEOUT, 60000, USTACK_SO_RCVBUF, 4096,
                        USTACK_SO_SNDBUF, 8192, 0};
    struct pair p;
    REQUIRE(pair_open(&p, 14, opts));
    /* Fill the peer's window and our buffer. */
    size_t queued = 0;
    for (int i = 0; i < 50; i++) {
        queued += client_send(&p, 100000);
        simnet_run(p.net, NULL, NULL, 100 * MS);
    }
    CHECK(client_blocked(p.net, &p));
    CHECK_EQ(queued, 4096 + 8192);
    CHECK_EQ(simnet_run(p.net, client_failed, &p, 7200 * SEC), 0);
    CHECK(p.a->stats.tcp_window_probes >= 100); /* backed off to 60 s */
    /* The reader comes back. */
    uint8_t buf[4096];
    size_t got = 0;
    for (int i = 0; i < 2000 && got < queued; i++) {
        ssize_t r = ustack_recv(p.b, p.server, buf, sizeof(buf), 0);
        if (r > 0)
            got += (size_t)r;
        else
            simnet_run(p.net, NULL, NULL, 50 * MS);
    }
    CHECK_EQ(got, queued); /* the window's worth, then the send buffer */
    CHECK_EQ(take_error(p.a, p.client), 0);
    /* Shut again, and now nobody answers. */
    for (int i = 0; i < 50; i++) {
        client_send(&p, 100000);
        simnet_run(p.net, NULL, NULL, 100 * MS);
    }
    CHECK(client_blocked(p.net, &p));
    /* Probing has begun (probes 1, 2, 4 s apart); the next one, 2 s
     * after the peer vanished, is the first that goes unanswered. */
    vanish(&p);
    uint64_t t0 = p.net->now;
    CHECK_EQ(simnet_run(p.net, client_failed, &p, 300 * SEC), 1);
    CHECK(p.net->now - t0 >= 60 * SEC && p.net->now - t0 <= 64 * SEC);
    CHECK_EQ(take_error(p.a, p.client), ETIMEDOUT);
    pair_free(&p);
}
