/*
 * UDP (RFC 768, RFC 1122 §4.1).
 *
 * Input validates the header (length, checksum), finds the socket that takes
 * the datagram, and copies the data into that socket's receive queue: a byte
 * ring of its own (its storage grown as datagrams queue, bounded by
 * SO_RCVBUF and by a datagram count) holding each datagram behind a small
 * record of its length and source. The frame itself is only borrowed, so the copy is what
 * lets the application read later; when the queue is full the datagram is
 * dropped and counted, and the stack never waits for a reader.
 *
 * Output builds the header and checksum in a packet buffer and hands it to
 * IP at once: UDP keeps no send buffer. Datagrams larger than the MTU are
 * IP's business (ip4_alloc either gives a buffer able to hold them, which IP
 * then fragments, or says -EMSGSIZE).
 *
 * Ports live in a small hash table, one socket per port. A datagram for a
 * port nobody takes gets an ICMP port unreachable (RFC 1122 §4.1.3.1), and
 * ICMP errors about datagrams we sent reach the connected socket they
 * concern (RFC 1122 §4.1.3.3).
 */
#include "udp/udp.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/checksum.h"
#include "core/ringbuf.h"
#include "core/siphash.h"
#include "core/stack.h"
#include "net/icmp.h"
#include "net/ipv4.h"
#include "ustack/socket.h"

/* Header field offsets (RFC 768). */
#define UDP_OFF_SPORT 0
#define UDP_OFF_DPORT 2
#define UDP_OFF_LEN 4
#define UDP_OFF_CHECKSUM 6

#define DEFAULT_RCVQ_DATAGRAMS 256
#define DEFAULT_RCVBUF (256u * 1024)
#define DEFAULT_BUF_MAX (4u * 1024 * 1024)
#define RCVBUF_MIN 256          /* smallest SO_RCVBUF we honour */
#define DEFAULT_SNDBUF 65535    /* reported for SO_SNDBUF until one is set */

#define PORT_BUCKETS 1024       /* hash chains of bound sockets, by port */
#define EPHEMERAL_FIRST 49152   /* RFC 6335 §6: the dynamic port range */
#define EPHEMERAL_COUNT 16384

/* What precedes each datagram in a receive queue. Our own memory, never
 * wire bytes, so it is copied in and out as a struct. */
struct dgram_rec {
    uint32_t len;   /* data bytes that follow */
    uint32_t addr;  /* source address, host order */
    uint16_t port;  /* source port */
    uint16_t unused;
};
_Static_assert(sizeof(struct dgram_rec) == 12,
               "ustack.h documents 12 bytes of bookkeeping per datagram");

struct udp_pcb {
    struct ustack *st;
    void *owner;                 /* the socket layer's handle, or NULL */
    struct udp_pcb *port_next;   /* chain of its port bucket, when bound */
    struct udp_pcb *prev, *next; /* every control block, for udp_destroy */
    uint32_t laddr;              /* bound address; 0 = any of ours */
    uint16_t lport;              /* bound port; 0 = unbound */
    uint32_t raddr;              /* connected peer ... */
    uint16_t rport;              /* ... and its port; 0 = not connected */
    int error;                   /* pending errno from an ICMP error */
    bool reuseaddr;              /* SO_REUSEADDR, remembered only */
    int sndbuf;                  /* SO_SNDBUF, remembered only */
    size_t rcvbuf;               /* SO_RCVBUF: byte bound of the queue */
    unsigned rcvq_count;         /* datagrams in the queue */
    struct ringbuf rcvq;         /* records and data; its limit is at
                                    least rcvbuf, its storage grows */
};

struct udp_state {
    struct udp_pcb *by_port[PORT_BUCKETS];
    struct udp_pcb *all;
    struct siphash_key port_key; /* ephemeral port choice (RFC 6056) */
    uint64_t port_picks;         /* ephemeral ports chosen so far */
};

/* A validated datagram: ports and where its data is in the frame. */
struct udp_dgram {
    uint16_t sport, dport;
    const uint8_t *data;
    size_t len;
};

/* ---- setup ------------------------------------------------------------- */

void udp_config_defaults(struct ustack_udp_config *cfg)
{
    if (!cfg->rcvq_datagrams)
        cfg->rcvq_datagrams = DEFAULT_RCVQ_DATAGRAMS;
    if (!cfg->rcvbuf)
        cfg->rcvbuf = DEFAULT_RCVBUF;
    if (!cfg->buf_max)
        cfg->buf_max = DEFAULT_BUF_MAX;
    if (cfg->buf_max > INT_MAX) /* SO_RCVBUF values are ints */
        cfg->buf_max = INT_MAX;
    if (cfg->rcvbuf > cfg->buf_max)
        cfg->rcvbuf = cfg->buf_max;
    if (cfg->rcvbuf < RCVBUF_MIN)
        cfg->rcvbuf = RCVBUF_MIN;
}

/* A key of our own from the stack's secret, so the ports we pick say
 * nothing about the ISNs or cookies TCP derives from the same secret. */
static struct siphash_key derive_port_key(const uint8_t *secret)
{
    struct siphash_key base = siphash_key_from_bytes(secret + SIPHASH_KEY_LEN);
    struct siphash_key k;
    k.k0 = siphash24(&base, "udp-port-0", 10);
    k.k1 = siphash24(&base, "udp-port-1", 10);
    return k;
}

int udp_init(struct ustack *st)
{
    struct udp_state *us = calloc(1, sizeof(*us));
    if (!us)
        return -ENOMEM;
    udp_config_defaults(&st->cfg.udp);
    us->port_key = derive_port_key(st->cfg.secret);
    st->udp = us;
    return 0;
}

void udp_destroy(struct ustack *st)
{
    struct udp_state *us = st->udp;
    if (!us)
        return;
    while (us->all)
        udp_close(st, us->all);
    free(us);
    st->udp = NULL;
}

/* ---- ports ------------------------------------------------------------- */

static struct udp_pcb **port_bucket(struct udp_state *us, uint16_t port)
{
    return &us->by_port[port % PORT_BUCKETS];
}

static struct udp_pcb *pcb_on_port(struct udp_state *us, uint16_t port)
{
    for (struct udp_pcb *u = *port_bucket(us, port); u; u = u->port_next)
        if (u->lport == port)
            return u;
    return NULL;
}

static void port_unlink(struct udp_state *us, struct udp_pcb *u)
{
    struct udp_pcb **pp = port_bucket(us, u->lport);
    while (*pp && *pp != u)
        pp = &(*pp)->port_next;
    if (*pp)
        *pp = u->port_next;
    u->port_next = NULL;
}

/* RFC 6056 §3.3.1 (simple port randomization): start each search at a
 * pseudo-random point of the range, so an off-path attacker cannot guess
 * the port of a datagram exchange (e.g. a DNS query) from earlier ones.
 * 0 when every port of the range is taken. */
static uint16_t pick_ephemeral(struct udp_state *us)
{
    uint64_t r = siphash24(&us->port_key, &us->port_picks, sizeof(us->port_picks));
    us->port_picks++;
    unsigned start = (unsigned)(r % EPHEMERAL_COUNT);
    for (unsigned i = 0; i < EPHEMERAL_COUNT; i++) {
        uint16_t port = (uint16_t)(EPHEMERAL_FIRST + (start + i) % EPHEMERAL_COUNT);
        if (!pcb_on_port(us, port))
            return port;
    }
    return 0;
}

int udp_bind(struct ustack *st, struct udp_pcb *u, uint32_t addr, uint16_t port)
{
    struct udp_state *us = st->udp;
    if (u->lport)
        return -EINVAL;
    if (addr != 0 && !ip4_is_local(st, addr))
        return -EADDRNOTAVAIL;
    if (port == 0)
        port = pick_ephemeral(us);
    else if (pcb_on_port(us, port))
        port = 0;
    if (port == 0)
        return -EADDRINUSE;
    u->laddr = addr;
    u->lport = port;
    struct udp_pcb **head = port_bucket(us, port);
    u->port_next = *head;
    *head = u;
    return 0;
}

/* ---- control blocks ---------------------------------------------------- */

struct udp_pcb *udp_pcb_create(struct ustack *st)
{
    struct udp_pcb *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    struct udp_state *us = st->udp;
    u->st = st;
    u->rcvbuf = st->cfg.udp.rcvbuf;
    ringbuf_init(&u->rcvq, u->rcvbuf); /* no storage until a datagram */
    u->sndbuf = DEFAULT_SNDBUF;
    u->next = us->all;
    if (us->all)
        us->all->prev = u;
    us->all = u;
    return u;
}

void udp_close(struct ustack *st, struct udp_pcb *u)
{
    struct udp_state *us = st->udp;
    if (u->lport)
        port_unlink(us, u);
    if (u->prev)
        u->prev->next = u->next;
    else
        us->all = u->next;
    if (u->next)
        u->next->prev = u->prev;
    ringbuf_release(&u->rcvq);
    free(u);
}

void udp_set_owner(struct udp_pcb *u, void *owner)
{
    u->owner = owner;
}

static void notify(struct ustack *st, struct udp_pcb *u)
{
    if (u->owner && st->sock_notify)
        st->sock_notify(st, u->owner);
}

/* A destination a datagram of ours may go to. Broadcast needs permission
 * (SO_BROADCAST on BSD sockets), which we do not offer; there is no
 * loopback and no multicast. */
static int check_destination(const struct ustack *st, uint32_t addr, uint16_t port)
{
    if (addr == 0 || port == 0)
        return -EADDRNOTAVAIL;
    if (ip4_is_broadcast(st, addr))
        return -EACCES;
    uint8_t first = (uint8_t)(addr >> 24);
    if (first == 0 || first == 127 || first >= 224)
        return -ENETUNREACH;
    return 0;
}

int udp_connect(struct ustack *st, struct udp_pcb *u, uint32_t addr, uint16_t port)
{
    int err = check_destination(st, addr, port);
    if (err < 0)
        return err;
    if (!u->lport && (err = udp_bind(st, u, 0, 0)) < 0)
        return err;
    u->raddr = addr;
    u->rport = port;
    return 0;
}

void udp_disconnect(struct udp_pcb *u)
{
    u->raddr = 0;
    u->rport = 0;
}

/* ---- output ------------------------------------------------------------ */

/* One datagram from u's port to dst:dport, checksummed (RFC 1122 §4.1.3.4
 * leaves generating it to an option that MUST default to on; we have no
 * option). */
static int udp_output(struct ustack *st, const struct udp_pcb *u, uint32_t dst,
                      uint16_t dport, const void *data, size_t len)
{
    uint32_t src = st->cfg.addr;
    size_t ulen = UDP_HDR_LEN + len;
    int err;
    struct pbuf *pb = ip4_alloc(st, ulen, &err);
    if (!pb) {
        if (err == -EMSGSIZE)
            STAT_INC(st, udp_tx_too_big);
        else
            STAT_INC(st, udp_tx_no_buffer);
        return err ? err : -ENOBUFS;
    }
    uint8_t *h = pbuf_put(pb, ulen);
    put_be16(h + UDP_OFF_SPORT, u->lport);
    put_be16(h + UDP_OFF_DPORT, dport);
    put_be16(h + UDP_OFF_LEN, (uint16_t)ulen);
    put_be16(h + UDP_OFF_CHECKSUM, 0);
    if (len)
        memcpy(h + UDP_HDR_LEN, data, len);
    uint32_t sum = cksum_pseudo_ipv4(src, dst, IP_PROTO_UDP, (uint16_t)ulen);
    uint16_t cksum = cksum_finish(cksum_add(sum, h, ulen));
    /* RFC 768: zero on the wire means "no checksum", so a computed zero is
     * sent as its other one's complement form, all ones. */
    put_be16(h + UDP_OFF_CHECKSUM, cksum ? cksum : 0xffff);
    err = ip4_output(st, pb, IP_PROTO_UDP, src, dst, 0);
    if (err == 0)
        STAT_INC(st, udp_tx);
    return err;
}

ssize_t udp_sendto(struct ustack *st, struct udp_pcb *u, const void *buf, size_t len,
                   bool to_peer, uint32_t addr, uint16_t port)
{
    if (u->error)
        return -udp_take_error(u);
    if (to_peer) {
        if (!u->rport)
            return -EDESTADDRREQ;
        addr = u->raddr;
        port = u->rport;
    } else {
        int err = check_destination(st, addr, port);
        if (err < 0)
            return err;
    }
    if (len > UDP_MAX_PAYLOAD) {
        STAT_INC(st, udp_tx_too_big);
        return -EMSGSIZE;
    }
    if (!u->lport) {
        int err = udp_bind(st, u, 0, 0);
        if (err < 0)
            return err;
    }
    int err = udp_output(st, u, addr, port, buf, len);
    return err < 0 ? err : (ssize_t)len;
}

/* ---- the receive queue ------------------------------------------------- */

/* Queue d (from src) on u, within both bounds. Returns false after counting
 * the drop. */
static bool rcvq_push(struct ustack *st, struct udp_pcb *u, uint32_t src,
                      const struct udp_dgram *d)
{
    size_t need = sizeof(struct dgram_rec) + d->len;
    if (u->rcvq_count >= st->cfg.udp.rcvq_datagrams ||
        ringbuf_used(&u->rcvq) + need > u->rcvbuf) {
        STAT_INC(st, udp_drop_rcvq_full);
        return false;
    }
    /* The ring's storage grows as datagrams queue: a socket that only
     * sends, or is opened and closed again, never pays for a queue, and
     * one that receives little holds little. Record and data go past the
     * tail first and become readable together, so storage that cannot
     * grow (out of memory) leaves no half datagram behind. */
    struct dgram_rec rec = {.len = (uint32_t)d->len, .addr = src, .port = d->sport};
    size_t stored = ringbuf_write_at(&u->rcvq, 0, &rec, sizeof(rec));
    if (stored == sizeof(rec))
        stored += ringbuf_write_at(&u->rcvq, sizeof(rec), d->data, d->len);
    if (stored < need) {
        STAT_INC(st, udp_drop_no_memory);
        return false;
    }
    ringbuf_commit(&u->rcvq, need);
    u->rcvq_count++;
    return true;
}

ssize_t udp_recvfrom(struct udp_pcb *u, void *buf, size_t len, uint32_t *addr,
                     uint16_t *port)
{
    if (u->error)
        return -udp_take_error(u);
    if (u->rcvq_count == 0)
        return -EAGAIN;
    struct dgram_rec rec;
    ringbuf_read(&u->rcvq, &rec, sizeof(rec));
    size_t n = rec.len < len ? rec.len : len;
    if (n)
        ringbuf_read(&u->rcvq, buf, n);
    /* Datagram semantics: what did not fit is gone (recv(2) without
     * MSG_TRUNC); the next call gets the next datagram. */
    ringbuf_consume(&u->rcvq, rec.len - n);
    u->rcvq_count--;
    if (n < rec.len)
        STAT_INC(u->st, udp_read_truncated);
    if (addr)
        *addr = rec.addr;
    if (port)
        *port = rec.port;
    return (ssize_t)n;
}

unsigned udp_rcvq_datagrams(const struct udp_pcb *u)
{
    return u->rcvq_count;
}

size_t udp_rcvq_bytes(const struct udp_pcb *u)
{
    return ringbuf_used(&u->rcvq);
}

/* The ring's limit follows SO_RCVBUF, but never below what is queued: a
 * smaller buffer keeps its datagrams and takes new ones once they fit. */
static int set_rcvbuf(struct udp_pcb *u, int value)
{
    size_t want = (size_t)value;
    size_t max = u->st->cfg.udp.buf_max;
    if (want > max)
        want = max;
    if (want < RCVBUF_MIN)
        want = RCVBUF_MIN;
    size_t used = ringbuf_used(&u->rcvq);
    if (ringbuf_set_limit(&u->rcvq, want > used ? want : used) < 0)
        return -ENOMEM;
    u->rcvbuf = want;
    return 0;
}

/* ---- input ------------------------------------------------------------- */

/* Check the header against the IP payload it arrived in. Returns false
 * after counting the drop. */
static bool udp_parse(struct ustack *st, const struct ip4_rx *ip, struct udp_dgram *d)
{
    const uint8_t *h = ip->payload;
    if (ip->payload_len < UDP_HDR_LEN) {
        STAT_INC(st, udp_drop_truncated);
        return false;
    }
    /* RFC 768: the length covers header and data. It may be shorter than
     * the IP payload (the rest is padding, ignored), never longer. */
    size_t ulen = get_be16(h + UDP_OFF_LEN);
    if (ulen < UDP_HDR_LEN || ulen > ip->payload_len) {
        STAT_INC(st, udp_drop_bad_length);
        return false;
    }
    /* RFC 768: a zero checksum means the sender computed none; accept it
     * (RFC 1122 §4.1.3.4 makes discarding those an option). A non-zero
     * wrong one MUST be discarded silently (RFC 1122 §4.1.3.4). */
    if (get_be16(h + UDP_OFF_CHECKSUM) == 0) {
        STAT_INC(st, udp_rx_no_checksum);
    } else {
        uint32_t sum = cksum_pseudo_ipv4(ip->src, ip->dst, IP_PROTO_UDP, (uint16_t)ulen);
        if (cksum_finish(cksum_add(sum, h, ulen)) != 0) {
            STAT_INC(st, udp_drop_bad_checksum);
            return false;
        }
    }
    d->sport = get_be16(h + UDP_OFF_SPORT);
    d->dport = get_be16(h + UDP_OFF_DPORT);
    d->data = h + UDP_HDR_LEN;
    d->len = ulen - UDP_HDR_LEN;
    return true;
}

/* No socket takes the datagram. RFC 1122 §4.1.3.1: tell the sender with a
 * port unreachable, never about a broadcast (§3.2.2; icmp4_send_error
 * refuses those too, but they are common and harmless: count them apart). */
static void no_socket(struct ustack *st, const struct ip4_rx *ip, bool wrong_peer)
{
    if (ip->dst_broadcast) {
        STAT_INC(st, udp_drop_broadcast_no_port);
        return;
    }
    if (wrong_peer)
        STAT_INC(st, udp_drop_wrong_peer);
    else
        STAT_INC(st, udp_no_port);
    icmp4_send_error(st, ip, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0);
}

void udp_input(struct ustack *st, const struct ip4_rx *ip)
{
    struct udp_dgram d;
    STAT_INC(st, udp_rx);
    if (!udp_parse(st, ip, &d))
        return;
    struct udp_pcb *u = pcb_on_port(st->udp, d.dport);
    /* A socket bound to our address does not hear broadcasts. */
    if (!u || (u->laddr != 0 && u->laddr != ip->dst)) {
        no_socket(st, ip, false);
        return;
    }
    /* A connected socket hears only its peer (as on BSD and Linux, the
     * datagram is then for no socket at all). */
    if (u->rport && (ip->src != u->raddr || d.sport != u->rport)) {
        no_socket(st, ip, true);
        return;
    }
    if (!rcvq_push(st, u, ip->src, &d))
        return;
    STAT_INC(st, udp_delivered);
    notify(st, u);
}

/* ---- ICMP errors ------------------------------------------------------- */

/* The error quotes a datagram we sent: its source is us, its destination
 * the peer. Only a connected socket hears about it: an unconnected one
 * could not tell which of its sends failed (BSD and Linux do the same).
 * RFC 1122 §4.1.3.3 asks that every error be passed up; the errno is
 * net/icmp.c's choice, the same as TCP's. */
void udp_icmp_error(struct ustack *st, const struct icmp4_error *err)
{
    const uint8_t *q = err->transport; /* at least 8 bytes, icmp.c checked */
    uint16_t sport = get_be16(q + UDP_OFF_SPORT);
    uint16_t dport = get_be16(q + UDP_OFF_DPORT);
    struct udp_pcb *u = pcb_on_port(st->udp, sport);
    if (!u || !u->rport || u->raddr != err->dst || u->rport != dport ||
        !ip4_is_local(st, err->src)) {
        STAT_INC(st, udp_icmp_errors_unmatched);
        return;
    }
    u->error = icmp4_error_errno(err);
    STAT_INC(st, udp_icmp_errors);
    notify(st, u);
}

/* ---- state for the socket layer ---------------------------------------- */

unsigned udp_events(const struct udp_pcb *u)
{
    unsigned ev = 0;
    if (u->rcvq_count)
        ev |= USTACK_EV_READABLE;
    if (u->st->pool.available > 0)
        ev |= USTACK_EV_WRITABLE;
    if (u->error)
        ev |= USTACK_EV_ERROR;
    return ev;
}

int udp_take_error(struct udp_pcb *u)
{
    int e = u->error;
    u->error = 0;
    return e;
}

void udp_local_addr(const struct udp_pcb *u, uint32_t *addr, uint16_t *port)
{
    *addr = u->laddr;
    *port = u->lport;
    /* Connected: the address our datagrams leave from, as getsockname(2)
     * reports after connect(2). */
    if (*addr == 0 && u->rport)
        *addr = u->st->cfg.addr;
}

int udp_remote_addr(const struct udp_pcb *u, uint32_t *addr, uint16_t *port)
{
    if (!u->rport)
        return -ENOTCONN;
    *addr = u->raddr;
    *port = u->rport;
    return 0;
}

int udp_setopt(struct udp_pcb *u, int opt, int value)
{
    switch (opt) {
    case USTACK_SO_RCVBUF:
        return set_rcvbuf(u, value);
    case USTACK_SO_SNDBUF:
        u->sndbuf = value;
        return 0;
    case USTACK_SO_REUSEADDR:
        u->reuseaddr = value != 0;
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

int udp_getopt(const struct udp_pcb *u, int opt, int *value)
{
    switch (opt) {
    case USTACK_SO_RCVBUF:
        *value = (int)u->rcvbuf;
        return 0;
    case USTACK_SO_SNDBUF:
        *value = u->sndbuf;
        return 0;
    case USTACK_SO_REUSEADDR:
        *value = u->reuseaddr;
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}
