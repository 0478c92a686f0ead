/*
 * nfq_impair: impair the kernel's side of an interop test with NFQUEUE.
 *
 * A test-only helper (tests/interop/test_hostile_*.sh). iptables rules in
 * the test's namespace send packets to queue N; this program takes them
 * from the queue and decides each one's fate, netem-style:
 *
 *   loss       verdict NF_DROP at once
 *   delay      the verdict (NF_ACCEPT) is held back until the packet is
 *              due: delay + uniform 0..jitter, plus reorder-delay for the
 *              reordered share, so later packets overtake those
 *   corrupt    one byte past the IP header (the transport header or the
 *              payload) is XORed with a random non-zero value and the
 *              packet is accepted with that payload: its TCP/UDP/ICMP
 *              checksum is now wrong, which a single changed byte always
 *              makes detectable, and the receiver must drop it. The kernel
 *              finished any offloaded checksum before queueing the packet
 *              (the queue is not in GSO mode), so the damage survives.
 *   duplicate  after the verdict, a pristine copy is sent through a raw
 *              socket (IP_HDRINCL) to the packet's destination: towards
 *              ustack it leaves through the TUN device again, towards the
 *              kernel it is delivered locally through lo. The copy carries
 *              a firewall mark (--mark) so the rules can let it pass
 *              instead of queueing it a second time.
 *
 * Why held verdicts and not re-injection for delay: the kernel keeps the
 * packet while we hold its id, so a delayed packet keeps its route, its
 * socket and its checksum state, and NF_ACCEPT continues the hook
 * traversal exactly where it stopped; only duplicates are re-injected,
 * because a verdict cannot clone a packet. One thread: poll the queue
 * descriptor with a timeout that ends at the next due verdict.
 *
 * Usage: nfq_impair --queue N [--loss PCT] [--delay MS] [--jitter MS]
 *            [--reorder PCT] [--reorder-delay MS] [--dup PCT]
 *            [--corrupt PCT] [--seed N] [--mark M] [--max-held N]
 *            [--ready FILE] [--max-seconds S]
 * Percentages are plain numbers ("25" is 25%). Runs until SIGTERM/SIGINT
 * (or --max-seconds, default 600), then accepts whatever it still holds
 * and prints one summary line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOT_BYTES 2048  /* a copy for corruption or duplication */
#define RECV_BUF (1 << 16)
#define DEFAULT_MAX_HELD 8192

struct params {
    unsigned queue;
    double loss, reorder, dup, corrupt; /* probabilities 0..1 */
    uint64_t delay_us, jitter_us, reorder_us;
    uint64_t seed;
    uint32_t mark;
    unsigned max_held;
    const char *ready;
    unsigned max_seconds;
};

/* A packet whose verdict waits. */
struct held {
    uint64_t due, seq;
    uint32_t id;
    bool modified;  /* accept with data[] (corrupted) */
    bool duplicate; /* send a copy of orig[] afterwards */
    uint32_t len;
    uint8_t *data;  /* SLOT_BYTES: the corrupted payload */
    uint8_t *orig;  /* SLOT_BYTES: the pristine payload, for the copy */
};

struct counts {
    uint64_t packets, dropped, delayed, reordered, corrupted, duplicated;
    uint64_t overflow, verdict_errors, inject_errors, too_big;
};

static struct {
    struct params p;
    struct counts c;
    struct nfq_q_handle *qh;
    int raw;            /* raw socket for duplicates */
    uint64_t rng;
    struct held *slots;
    unsigned *heap;     /* slot numbers, min-heap by (due, seq) */
    unsigned *free_slots;
    unsigned count, nfree;
    uint64_t seq;
} g;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* splitmix64, seeded: the same seed gives the same sequence of fates. */
static uint64_t next_random(void)
{
    uint64_t z = (g.rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool chance(double p)
{
    return p > 0 && (double)(next_random() >> 11) * 0x1.0p-53 < p;
}

static uint64_t uniform(uint64_t max)
{
    return max ? next_random() % (max + 1) : 0;
}

/* ---- the held verdicts: a min-heap of slots -------------------------------- */

static bool earlier(unsigned a, unsigned b)
{
    const struct held *x = &g.slots[a], *y = &g.slots[b];
    return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void heap_swap(unsigned i, unsigned j)
{
    unsigned t = g.heap[i];
    g.heap[i] = g.heap[j];
    g.heap[j] = t;
}

static void heap_push(unsigned slot)
{
    unsigned i = g.count++;
    g.heap[i] = slot;
    while (i > 0 && earlier(g.heap[i], g.heap[(i - 1) / 2])) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static unsigned heap_pop(void)
{
    unsigned top = g.heap[0];
    g.heap[0] = g.heap[--g.count];
    for (unsigned i = 0;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < g.count && earlier(g.heap[l], g.heap[m]))
            m = l;
        if (r < g.count && earlier(g.heap[r], g.heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
    return top;
}

/* ---- verdicts ------------------------------------------------------------------ */

static void verdict(uint32_t id, uint32_t v, uint32_t len, const uint8_t *data)
{
    if (nfq_set_verdict(g.qh, id, v, len, data) < 0)
        g.c.verdict_errors++;
}

/* A pristine copy to the packet's destination, marked so the rules let
 * it through instead of queueing it again. */
static void inject_copy(const uint8_t *pkt, uint32_t len)
{
    struct sockaddr_in to;
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    memcpy(&to.sin_addr, pkt + 16, 4);
    if (sendto(g.raw, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
        g.c.inject_errors++;
}

static void release(struct held *h)
{
    verdict(h->id, NF_ACCEPT, h->modified ? h->len : 0, h->modified ? h->data : NULL);
    if (h->duplicate)
        inject_copy(h->orig, h->len);
}

/* Give every due verdict; returns the next due time, or UINT64_MAX. */
static uint64_t release_due(uint64_t now)
{
    while (g.count && g.slots[g.heap[0]].due <= now) {
        unsigned slot = heap_pop();
        release(&g.slots[slot]);
        g.free_slots[g.nfree++] = slot;
    }
    return g.count ? g.slots[g.heap[0]].due : UINT64_MAX;
}

/* One byte past the IP header, so the transport checksum catches it and
 * the (already validated) IP header stays sane. */
static bool corrupt(uint8_t *pkt, uint32_t len)
{
    uint32_t ihl = (uint32_t)(pkt[0] & 0x0f) * 4;
    if (len < 20 || ihl < 20 || len <= ihl)
        return false;
    pkt[ihl + uniform(len - ihl - 1)] ^= (uint8_t)(1 + uniform(254));
    return true;
}

/* The fate of one packet: drop, or hold (and maybe damage or copy) it. */
static void decide(uint32_t id, const uint8_t *pkt, uint32_t len)
{
    g.c.packets++;
    if (chance(g.p.loss)) {
        g.c.dropped++;
        verdict(id, NF_DROP, 0, NULL);
        return;
    }
    bool dup = chance(g.p.dup), bad = chance(g.p.corrupt);
    uint64_t due = now_us() + g.p.delay_us + uniform(g.p.jitter_us);
    if (chance(g.p.reorder)) {
        due += g.p.reorder_us;
        g.c.reordered++;
    }
    if ((dup || bad) && len > SLOT_BYTES) {
        g.c.too_big++;
        dup = bad = false;
    }
    if (g.nfree == 0) { /* cannot hold it: let it go now, untouched */
        g.c.overflow++;
        verdict(id, NF_ACCEPT, 0, NULL);
        return;
    }
    unsigned slot = g.free_slots[--g.nfree];
    struct held *h = &g.slots[slot];
    *h = (struct held){.due = due, .seq = g.seq++, .id = id, .len = len,
                       .data = h->data, .orig = h->orig};
    if (bad) {
        memcpy(h->data, pkt, len);
        h->modified = corrupt(h->data, len);
        g.c.corrupted += h->modified;
    }
    if (dup) {
        memcpy(h->orig, pkt, len);
        h->duplicate = true;
        g.c.duplicated++;
    }
    if (due > now_us())
        g.c.delayed++;
    heap_push(slot);
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *ctx)
{
    (void)qh, (void)msg, (void)ctx;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (!ph)
        return 0;
    unsigned char *pkt;
    int len = nfq_get_payload(nfa, &pkt);
    uint32_t id = ntohl(ph->packet_id);
    if (len < 0) {
        verdict(id, NF_ACCEPT, 0, NULL);
        return 0;
    }
    decide(id, pkt, (uint32_t)len);
    return 0;
}

/* ---- setup --------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr,
            "usage: nfq_impair --queue N [--loss PCT] [--delay MS] [--jitter MS]\n"
            "                  [--reorder PCT] [--reorder-delay MS] [--dup PCT]\n"
            "                  [--corrupt PCT] [--seed N] [--mark M] [--max-held N]\n"
            "                  [--ready FILE] [--max-seconds S]\n");
    return 2;
}

/* A number, whole string, within [0, max]. */
static int number(const char *s, double max, double *v)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || *end || !(x >= 0 && x <= max))
        return -1;
    *v = x;
    return 0;
}

static int parse_args(int argc, char **argv, struct params *p)
{
    static const struct option opts[] = {
        {"queue", required_argument, 0, 'q'},   {"loss", required_argument, 0, 'l'},
        {"delay", required_argument, 0, 'd'},   {"jitter", required_argument, 0, 'j'},
        {"reorder", required_argument, 0, 'r'}, {"reorder-delay", required_argument, 0, 'R'},
        {"dup", required_argument, 0, 'u'},     {"corrupt", required_argument, 0, 'c'},
        {"seed", required_argument, 0, 's'},    {"mark", required_argument, 0, 'm'},
        {"max-held", required_argument, 0, 'H'}, {"ready", required_argument, 0, 'y'},
        {"max-seconds", required_argument, 0, 'S'}, {0, 0, 0, 0},
    };
    memset(p, 0, sizeof(*p));
    p->queue = 65536; /* none yet */
    p->seed = 1;
    p->mark = 0x2a;
    p->max_held = DEFAULT_MAX_HELD;
    p->max_seconds = 600;
    int k;
    double v;
    while ((k = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (k == 'y') {
            p->ready = optarg;
            continue;
        }
        double max = (k == 'l' || k == 'r' || k == 'u' || k == 'c') ? 100
                     : (k == 'd' || k == 'j' || k == 'R') ? 60000
                     : (k == 'q') ? 65535
                     : (k == 'H') ? 1000000
                     : (k == 'S') ? 86400 : 4294967295.0;
        if (k == '?' || number(optarg, k == 's' ? 1.8e19 : max, &v) < 0) {
            fprintf(stderr, "nfq_impair: bad value for option %s\n", argv[optind - 1]);
            return -1;
        }
        switch (k) {
        case 'q': p->queue = (unsigned)v; break;
        case 'l': p->loss = v / 100; break;
        case 'r': p->reorder = v / 100; break;
        case 'u': p->dup = v / 100; break;
        case 'c': p->corrupt = v / 100; break;
        case 'd': p->delay_us = (uint64_t)(v * 1000); break;
        case 'j': p->jitter_us = (uint64_t)(v * 1000); break;
        case 'R': p->reorder_us = (uint64_t)(v * 1000); break;
        case 's': p->seed = (uint64_t)v; break;
        case 'm': p->mark = (uint32_t)v; break;
        case 'H': p->max_held = v >= 1 ? (unsigned)v : 1; break;
        case 'S': p->max_seconds = (unsigned)v; break;
        }
    }
    if (p->queue > 65535 || optind != argc) {
        usage();
        return -1;
    }
    return 0;
}

static int alloc_slots(unsigned n)
{
    g.slots = calloc(n, sizeof(*g.slots));
    g.heap = calloc(n, sizeof(*g.heap));
    g.free_slots = calloc(n, sizeof(*g.free_slots));
    if (!g.slots || !g.heap || !g.free_slots)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        g.slots[i].data = malloc(SLOT_BYTES);
        g.slots[i].orig = malloc(SLOT_BYTES);
        if (!g.slots[i].data || !g.slots[i].orig)
            return -1;
        g.free_slots[g.nfree++] = n - 1 - i;
    }
    return 0;
}

static int open_raw(uint32_t mark)
{
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW); /* IP_HDRINCL */
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct nfq_handle *open_queue(const struct params *p)
{
    struct nfq_handle *h = nfq_open();
    if (!h)
        return NULL;
    nfq_unbind_pf(h, AF_INET); /* harmless on current kernels */
    if (nfq_bind_pf(h, AF_INET) < 0)
        goto fail;
    g.qh = nfq_create_queue(h, (uint16_t)p->queue, on_packet, NULL);
    if (!g.qh)
        goto fail;
    /* The whole packet; held verdicts need room in the kernel's queue. */
    if (nfq_set_mode(g.qh, NFQNL_COPY_PACKET, 0xffff) < 0 ||
        nfq_set_queue_maxlen(g.qh, p->max_held + 1024) < 0)
        goto fail;
    int rcvbuf = 8 << 20;
    setsockopt(nfq_fd(h), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
    return h;
fail:
    nfq_close(h);
    return NULL;
}

static void say_ready(const char *path)
{
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("ready\n", f);
        fclose(f);
    }
}

/* Wait for packets until the next due verdict; handle what came. */
static void serve(struct nfq_handle *h)
{
    static char buf[RECV_BUF];
    int fd = nfq_fd(h);
    uint64_t end = now_us() + (uint64_t)g.p.max_seconds * 1000000u;
    while (!stop && now_us() < end) {
        uint64_t now = now_us();
        uint64_t next = release_due(now);
        struct timespec ts = {0, 100 * 1000 * 1000}; /* re-check stop often */
        if (next != UINT64_MAX && next - now < 100000) {
            ts.tv_sec = 0;
            ts.tv_nsec = (long)(next - now) * 1000;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int n = ppoll(&pfd, 1, &ts, NULL);
        if (n <= 0)
            continue;
        for (int i = 0; i < 256; i++) { /* bounded: timers get their turn */
            ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (len < 0) {
                if (errno == ENOBUFS) {
                    g.c.overflow++; /* the kernel dropped messages: go on */
                    continue;
                }
                break;
            }
            nfq_handle_packet(h, buf, (int)len);
        }
    }
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv, &g.p) < 0)
        return 2;
    g.rng = g.p.seed;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (alloc_slots(g.p.max_held) < 0) {
        fprintf(stderr, "nfq_impair: out of memory\n");
        return 1;
    }
    g.raw = open_raw(g.p.mark);
    if (g.raw < 0) {
        fprintf(stderr, "nfq_impair: raw socket: %s\n", strerror(errno));
        return 1;
    }
    struct nfq_handle *h = open_queue(&g.p);
    if (!h) {
        fprintf(stderr, "nfq_impair: cannot bind NFQUEUE %u: %s\n", g.p.queue, strerror(errno));
        return 1;
    }
    say_ready(g.p.ready);
    serve(h);
    release_due(UINT64_MAX); /* let everything still held go */
    printf("nfq_impair queue %u: %llu packets, %llu dropped, %llu delayed, %llu reordered, "
           "%llu corrupted, %llu duplicated, %llu overflow, %llu verdict errors, "
           "%llu inject errors, %llu too big\n",
           g.p.queue, (unsigned long long)g.c.packets, (unsigned long long)g.c.dropped,
           (unsigned long long)g.c.delayed, (unsigned long long)g.c.reordered,
           (unsigned long long)g.c.corrupted, (unsigned long long)g.c.duplicated,
           (unsigned long long)g.c.overflow, (unsigned long long)g.c.verdict_errors,
           (unsigned long long)g.c.inject_errors, (unsigned long long)g.c.too_big);
    fflush(stdout);
    nfq_destroy_queue(g.qh);
    nfq_close(h);
    close(g.raw);
    return 0;
}
