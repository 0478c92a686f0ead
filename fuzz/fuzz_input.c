/*
 * libFuzzer target: a sequence of frames into one stack.
 *
 * Input format (fuzz/make_seeds.py writes seeds in it):
 *
 *   byte 0        flags:
 *                   bit 0  Ethernet link (TAP) instead of bare IP (TUN)
 *                   bit 1  relative TCP numbers (see "Relative TCP" below)
 *                   bit 2  batched input: a record whose time step is 0
 *                          joins the batch of the record before it
 *                          (ustack_input_batch_begin/end, as the runner
 *                          feeds what one wake-up read)
 *                 other bits are reserved (ignored)
 *   then records, until the input ends:
 *     1 byte      time step before this frame (see time_step())
 *     2 bytes     frame length, big endian (cut short if the input ends)
 *     N bytes     the frame, starting at the link header
 *
 * For each record the harness advances virtual time, runs the timers, feeds
 * the frame to ustack_input(), lets the application side react (see
 * "Services"), runs the timers again and drains whatever the stack sent
 * (with batched input, services and timers wait for the batch's end). At
 * the end it closes every socket and jumps an hour ahead so every pending
 * timer fires.
 *
 * The stack sits on one end of a memlink pair; the harness drains the other
 * end after every step, so sending always works and nothing accumulates.
 * Each frame is copied into a heap buffer of exactly its length, so ASan
 * catches a read one byte past the frame (inside the fuzzer's input buffer
 * it would go unnoticed).
 *
 * Everything the stack sends is checked too: it must fit the MTU and be a
 * well-formed IPv4 packet (version, header length, total length equal to the
 * frame, correct header checksum); on an Ethernet link, come from the
 * stack's MAC (02:00:00:00:00:02, which the seeds address) and be IPv4 or a
 * well-formed ARP packet from us. A violation aborts, which libFuzzer
 * reports as a crash.
 *
 * Relative TCP: the stack's initial sequence numbers are unpredictable by
 * design (RFC 6528: a keyed hash of the connection and the clock), and so
 * are its timestamps (RFC 7323 §5.4: a keyed offset per connection), so a
 * fuzzer would rarely guess the acknowledgment that completes a handshake,
 * a SACK block that names data the stack sent, or the sequence number an
 * ICMP error must quote to be believed (RFC 5927 §4.1). With flag bit 1,
 * the harness remembers, per connection, the ISN of every SYN the stack
 * sends and the TSval of the last segment it sent, and it turns the
 * numbers of each incoming IPv4 packet (on either link) from relative to
 * absolute:
 *   - a TCP segment to us: destination port 0 becomes the port of the
 *     stack's own active open; with the ACK bit, the ISN is added to the
 *     acknowledgment number and to both edges of every SACK block, and the
 *     stack's last TSval to the timestamp option's TSecr;
 *   - an ICMP error quoting a TCP segment from us: quoted source port 0
 *     becomes the active open's port, and the ISN is added to the quoted
 *     sequence number.
 * A seed then says "ack 1" for "acknowledge the SYN", "SACK 1449-2897" for
 * the second 1448-byte segment, "TSecr 0" for "echo the last TSval" (-1
 * for the one a millisecond older) and "seq 1" in a quote for the first
 * data byte. Checksums (TCP, or ICMP) are adjusted incrementally (RFC
 * 1624), so a valid one stays valid and a wrong one stays exactly as
 * wrong. With the bit clear, frames go in untouched.
 *
 * Tracing: with FUZZ_INPUT_TRACE set in the environment, every frame in
 * (after the relative rewrite) and out is summarized on stderr, and the
 * stack's non-zero counters are printed at the end of each input: run the
 * binary on a seed to see how far it gets.
 *
 * New protocols need no change here: input reaches them through the frames.
 * A protocol that only reacts when something listens opens an endpoint in
 * setup_services() (TCP has a listener and an active open, UDP an echo
 * socket) and adds a seed or two to fuzz/make_seeds.py.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ustack/icmp.h"
#include "ustack/socket.h"
#include "ustack/tcp_info.h"
#include "ustack/trace.h"
#include "ustack/ustack.h"

#define FUZZ_MTU 1500
#define FUZZ_QUEUE 64           /* frames each memlink direction holds */
#define FUZZ_PBUFS 32           /* small, so pool exhaustion gets exercised */
#define FUZZ_MAX_TIMER_RUNS 64  /* bound on timer calls per step */
#define FUZZ_MAX_CONNS 8        /* accepted TCP connections served at once */
#define FUZZ_BACKLOG 4
#define FUZZ_TCP_BUF 16384      /* socket buffers: small, so windows fill */
#define FUZZ_ECHO_CHUNK 2048
#define FUZZ_ISNS 16            /* SYNs remembered for relative TCP */

#define FLAG_ETHERNET 0x1
#define FLAG_RELATIVE_TCP 0x2
#define FLAG_BATCHED 0x4

#define OUR_ADDR 0x0a000002u    /* 10.0.0.2, the seeds' destination */
#define OUR_NETMASK 0xffffff00u
#define PEER_ADDR 0x0a000001u   /* 10.0.0.1, the seeds' source */
#define LISTEN_PORT 80          /* where the TCP listener is */
#define UDP_ECHO_PORT 7         /* where the UDP echo socket is */
#define FUZZ_UDP_PER_STEP 8     /* datagrams echoed per step, at most */
#define PEER_PORT 5000          /* where the active open goes */

#define ETH_HEADER_LEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ARP_LEN 28
/* The stack's MAC on an Ethernet link: the seeds send to it. */
static const uint8_t OUR_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define TCP_HDR_MIN 20
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define TCP_OPT_END 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_WSCALE 3        /* RFC 7323 §2 */
#define TCP_OPT_SACK_PERMITTED 4
#define TCP_OPT_SACK 5          /* RFC 2018 §3 */
#define TCP_OPT_TIMESTAMP 8     /* RFC 7323 §3.2 */
#define TCP_OPT_TIMESTAMP_LEN 10
#define ICMP_HDR_LEN 8
#define ICMP_DEST_UNREACH 3     /* the errors that quote a packet (RFC 792) */
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
#define QUOTE_MIN 8             /* RFC 792: the quote holds 8 transport bytes */

/* A connection the stack opened a SYN for, as seen from the stack: its
 * ISN, and the TSval of the last segment it sent there (RFC 7323 §3.2). */
struct sent_syn {
    uint16_t our_port;
    uint32_t peer_addr;
    uint16_t peer_port;
    uint32_t isn;
    bool has_tsval;
    uint32_t tsval;
};

/* The application side (see setup_services). */
struct services {
    int udp;                   /* UDP echo socket on port 7, or -1 */
    int listener;
    int client;                /* the active open, -1 once closed */
    uint16_t client_port;      /* its local port, 0 if unknown */
    int conns[FUZZ_MAX_CONNS]; /* accepted connections, -1 when free */
    unsigned touch_sum;        /* what callbacks read, summed: ASan sees every byte */
};

/* Everything one input's run needs. */
struct fuzz_run {
    struct ustack *st;
    struct ustack_link *link, *peer;
    bool relative_tcp;
    bool trace;                /* FUZZ_INPUT_TRACE: see the top */
    struct sent_syn syns[FUZZ_ISNS];
    unsigned syn_count;        /* ever recorded; slot = count % FUZZ_ISNS */
    struct services sv;
};

/* ---- byte helpers ------------------------------------------------------------ */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t sum_words(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* RFC 1624 eqn. 3: the checksum after one 16-bit word changed from old to
 * new: HC' = ~(~HC + ~m + m'). */
static uint16_t checksum_adjust(uint16_t hc, uint16_t old, uint16_t new_word)
{
    uint32_t sum = (uint16_t)~hc + (uint32_t)(uint16_t)~old + new_word;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Rewrite the 16-bit word at p inside a TCP segment (or ICMP message)
 * whose checksum is at sum, keeping the checksum's validity (or
 * invalidity) as it was. p must lie at an even offset from the start of
 * the checksummed bytes. */
static void patch16(uint8_t *sum, uint8_t *p, uint16_t v)
{
    put16(sum, checksum_adjust(get16(sum), get16(p), v));
    put16(p, v);
}

/* Rewrite the 32-bit value at offset off of the checksummed bytes starting
 * at base, at any alignment (TCP options need not be aligned). The 16-bit
 * words it touches change one at a time; the caller makes sure they all
 * lie inside the checksummed bytes (a TCP header's length is a multiple
 * of 4, so for an option inside it they do). */
static void patch32(uint8_t *base, uint8_t *sum, size_t off, uint32_t v)
{
    uint8_t bytes[4];
    put32(bytes, v);
    size_t end = off + sizeof(bytes);
    for (size_t w = off & ~(size_t)1; w < end; w += 2) {
        uint16_t old = get16(base + w);
        for (size_t i = w; i < w + 2; i++)
            if (i >= off && i < end)
                base[i] = bytes[i - off];
        put16(sum, checksum_adjust(get16(sum), old, get16(base + w)));
    }
}

/* The option at offset pos of a TCP header of hdr_len bytes: its kind,
 * with *optlen set to its length (1 for NOP). -1 at the end of the list or
 * at a malformed option (as in the stack's parser, the list ends there).
 * Loop: `for (pos = TCP_HDR_MIN; (kind = next_option(...)) >= 0; pos += optlen)`. */
static int next_option(const uint8_t *tcp, size_t hdr_len, size_t pos, size_t *optlen)
{
    if (pos >= hdr_len || tcp[pos] == TCP_OPT_END)
        return -1;
    *optlen = 1;
    if (tcp[pos] == TCP_OPT_NOP)
        return TCP_OPT_NOP;
    if (pos + 1 >= hdr_len || tcp[pos + 1] < 2 || tcp[pos + 1] > hdr_len - pos)
        return -1;
    *optlen = tcp[pos + 1];
    return tcp[pos];
}

/* Where the TCP header of an IPv4 packet starts (0 if the packet has no
 * whole one), with the length of its header in *hdr_len: only the fixed
 * part if the data offset is unusable. */
static size_t tcp_offset(const uint8_t *ip, size_t len, size_t *hdr_len)
{
    if (len < 20 || ip[0] >> 4 != 4 || ip[9] != IP_PROTO_TCP)
        return 0;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < 20 || len < ihl + TCP_HDR_MIN)
        return 0;
    *hdr_len = (size_t)(ip[ihl + 12] >> 4) * 4;
    if (*hdr_len < TCP_HDR_MIN || *hdr_len > len - ihl)
        *hdr_len = TCP_HDR_MIN;
    return ihl;
}

/* ---- tracing ------------------------------------------------------------------- */

/* One line for an IPv4 frame: TCP in detail, others by protocol. */
static void trace_frame(const char *dir, const uint8_t *ip, size_t len)
{
    size_t hdr_len;
    size_t ihl = tcp_offset(ip, len, &hdr_len);
    if (len < 20 || ip[0] >> 4 != 4) {
        fprintf(stderr, "%s %zu bytes, not IPv4\n", dir, len);
        return;
    }
    if (!ihl) {
        fprintf(stderr, "%s proto %u, %zu bytes", dir, ip[9], len);
        ihl = (size_t)(ip[0] & 0x0f) * 4;
        if (ip[9] == IP_PROTO_ICMP && len >= ihl + 2)
            fprintf(stderr, " (ICMP type %u code %u)", ip[ihl], ip[ihl + 1]);
        fputc('\n', stderr);
        return;
    }
    const uint8_t *tcp = ip + ihl;
    size_t data = len - ihl - hdr_len;
    static const char flag_names[] = "FSRPAU";
    char flags[8] = "";
    for (int i = 0, n = 0; i < 6; i++)
        if (tcp[13] & (1 << i))
            flags[n++] = flag_names[i];
    fprintf(stderr, "%s tcp %u>%u %-4s seq %u ack %u win %u len %zu", dir, get16(tcp),
            get16(tcp + 2), flags, get32(tcp + 4), get32(tcp + 8), get16(tcp + 14), data);
    size_t optlen;
    int kind;
    for (size_t pos = TCP_HDR_MIN; (kind = next_option(tcp, hdr_len, pos, &optlen)) >= 0;
         pos += optlen) {
        if (kind == TCP_OPT_TIMESTAMP && optlen == TCP_OPT_TIMESTAMP_LEN)
            fprintf(stderr, " ts %u/%u", get32(tcp + pos + 2), get32(tcp + pos + 6));
        else if (kind == TCP_OPT_SACK)
            for (size_t b = pos + 2; b + 8 <= pos + optlen; b += 8)
                fprintf(stderr, " sack %u-%u", get32(tcp + b), get32(tcp + b + 4));
        else if (kind == TCP_OPT_MSS && optlen == 4)
            fprintf(stderr, " mss %u", get16(tcp + pos + 2));
        else if (kind == TCP_OPT_WSCALE && optlen == 3)
            fprintf(stderr, " wscale %u", tcp[pos + 2]);
        else if (kind == TCP_OPT_SACK_PERMITTED)
            fprintf(stderr, " sackok");
        else if (kind != TCP_OPT_NOP)
            fprintf(stderr, " opt%d", kind);
    }
    fputc('\n', stderr);
}

/* ---- checking what the stack sends ----------------------------------------- */

/* Stop the run with a message: libFuzzer saves the input as a crash. */
static void fuzz_fail(const char *what, const uint8_t *frame, size_t len)
{
    fprintf(stderr, "fuzz_input: output frame of %zu bytes: %s\n ", len, what);
    for (size_t i = 0; i < len && i < 64; i++)
        fprintf(stderr, " %02x", frame[i]);
    fputc('\n', stderr);
    abort();
}

/* What the stack sends must be a valid IPv4 packet (RFC 791 §3.1). */
static void check_ipv4_packet(const uint8_t *p, size_t len)
{
    if (len < 20)
        fuzz_fail("IPv4 packet shorter than 20 bytes", p, len);
    if (p[0] >> 4 != 4)
        fuzz_fail("IP version is not 4", p, len);
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        fuzz_fail("bad IPv4 header length", p, len);
    if (get16(p + 2) != len)
        fuzz_fail("IPv4 total length differs from the frame length", p, len);
    if (sum_words(p, ihl) != 0xffff)
        fuzz_fail("bad IPv4 header checksum", p, len);
}

/* The connection the stack sent a SYN for, by its four-tuple as seen
 * from the stack, or NULL. */
static struct sent_syn *find_syn(struct fuzz_run *run, uint16_t our_port, uint32_t peer_addr,
                                 uint16_t peer_port)
{
    unsigned n = run->syn_count < FUZZ_ISNS ? run->syn_count : FUZZ_ISNS;
    /* Newest first: a reused 4-tuple means a newer connection. */
    for (unsigned i = 0; i < n; i++) {
        struct sent_syn *s = &run->syns[(run->syn_count - 1 - i) % FUZZ_ISNS];
        if (s->our_port == our_port && s->peer_addr == peer_addr &&
            s->peer_port == peer_port)
            return s;
    }
    return NULL;
}

/* The TSval of a TCP segment's timestamp option, if it has one. */
static bool find_tsval(const uint8_t *tcp, size_t hdr_len, uint32_t *tsval)
{
    size_t optlen;
    int kind;
    for (size_t pos = TCP_HDR_MIN; (kind = next_option(tcp, hdr_len, pos, &optlen)) >= 0;
         pos += optlen) {
        if (kind == TCP_OPT_TIMESTAMP && optlen == TCP_OPT_TIMESTAMP_LEN) {
            *tsval = get32(tcp + pos + 2);
            return true;
        }
    }
    return false;
}

/* For relative TCP: remember the ISN of a SYN (or SYN-ACK) the stack sent
 * (a retransmitted SYN reuses its entry), and the TSval of every segment. */
static void note_tcp_output(struct fuzz_run *run, const uint8_t *ip, size_t len)
{
    size_t hdr_len;
    size_t ihl = tcp_offset(ip, len, &hdr_len);
    if (!ihl)
        return;
    const uint8_t *tcp = ip + ihl;
    struct sent_syn *s = find_syn(run, get16(tcp), get32(ip + 16), get16(tcp + 2));
    if ((tcp[13] & TCP_FLAG_SYN) && !(s && s->isn == get32(tcp + 4))) {
        s = &run->syns[run->syn_count++ % FUZZ_ISNS];
        memset(s, 0, sizeof(*s));
        s->our_port = get16(tcp);
        s->peer_addr = get32(ip + 16);
        s->peer_port = get16(tcp + 2);
        s->isn = get32(tcp + 4);
    }
    uint32_t tsval;
    if (s && find_tsval(tcp, hdr_len, &tsval)) {
        s->has_tsval = true;
        s->tsval = tsval;
    }
}

/* What the stack sends as ARP (RFC 826): Ethernet/IPv4, a request or a
 * reply, from our MAC and address, to a unicast or unknown (zero) MAC. */
static void check_arp_packet(const uint8_t *p, size_t len)
{
    if (len != ARP_LEN || get16(p) != 1 || get16(p + 2) != ETHERTYPE_IPV4 || p[4] != 6 ||
        p[5] != 4)
        fuzz_fail("ARP packet of the wrong size or kind", p, len);
    if (get16(p + 6) != 1 && get16(p + 6) != 2)
        fuzz_fail("ARP operation neither request nor reply", p, len);
    if (memcmp(p + 8, OUR_MAC, 6) != 0 || get32(p + 14) != OUR_ADDR)
        fuzz_fail("ARP sender is not us", p, len);
    if (p[18] & 1)
        fuzz_fail("ARP target MAC is a group address", p, len);
}

/* A checked IPv4 packet the stack sent: traced, and noted for relative TCP. */
static void note_ipv4_output(struct fuzz_run *run, const uint8_t *ip, size_t len)
{
    if (run->trace)
        trace_frame("out", ip, len);
    note_tcp_output(run, ip, len);
}

static void check_output(struct fuzz_run *run, const uint8_t *f, size_t len)
{
    if (run->peer->kind == USTACK_LINK_IP) {
        if (len > FUZZ_MTU)
            fuzz_fail("larger than the MTU", f, len);
        if (len > 0 && f[0] >> 4 == 6)
            return; /* IPv6: no checks yet */
        check_ipv4_packet(f, len);
        note_ipv4_output(run, f, len);
        return;
    }
    if (len < ETH_HEADER_LEN || len > FUZZ_MTU + ETH_HEADER_LEN)
        fuzz_fail("bad Ethernet frame length", f, len);
    if (memcmp(f + 6, OUR_MAC, 6) != 0)
        fuzz_fail("Ethernet source is not our MAC", f, len);
    if (get16(f + 12) == ETHERTYPE_IPV4) {
        check_ipv4_packet(f + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
        note_ipv4_output(run, f + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
    } else if (get16(f + 12) == ETHERTYPE_ARP)
        check_arp_packet(f + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
    else
        fuzz_fail("EtherType neither IPv4 nor ARP", f, len);
}

/* Receive and check everything the stack sent. */
static void drain(struct fuzz_run *run)
{
    static uint8_t buf[FUZZ_MTU + ETH_HEADER_LEN];
    ssize_t n;
    while ((n = ustack_link_recv(run->peer, buf, sizeof(buf))) > 0)
        check_output(run, buf, (size_t)n);
}

/* Run every timer due at `now` (bounded, in case a deadline never moves). */
static void run_timers(struct fuzz_run *run, uint64_t now)
{
    for (int i = 0; i < FUZZ_MAX_TIMER_RUNS; i++) {
        uint64_t next = ustack_timer(run->st, now);
        drain(run);
        if (next > now)
            break;
    }
}

/* ---- relative TCP ---------------------------------------------------------------- */

/* With the ACK bit, a segment's timestamp echo and SACK blocks count from
 * the connection's last TSval and ISN, like its acknowledgment number. */
static void make_options_absolute(uint8_t *tcp, size_t hdr_len, const struct sent_syn *s)
{
    uint8_t *sum = tcp + 16;
    size_t optlen;
    int kind;
    for (size_t pos = TCP_HDR_MIN; (kind = next_option(tcp, hdr_len, pos, &optlen)) >= 0;
         pos += optlen) {
        if (kind == TCP_OPT_TIMESTAMP && optlen == TCP_OPT_TIMESTAMP_LEN && s->has_tsval)
            patch32(tcp, sum, pos + 6, get32(tcp + pos + 6) + s->tsval);
        if (kind != TCP_OPT_SACK)
            continue;
        for (size_t edge = pos + 2; edge + 4 <= pos + optlen; edge += 4)
            patch32(tcp, sum, edge, get32(tcp + edge) + s->isn);
    }
}

/* A TCP segment to us (see the top). */
static void make_tcp_absolute(struct fuzz_run *run, uint8_t *ip, size_t len)
{
    size_t hdr_len;
    size_t ihl = tcp_offset(ip, len, &hdr_len);
    if (!ihl)
        return;
    uint8_t *tcp = ip + ihl;
    uint8_t *sum = tcp + 16;
    if (get16(tcp + 2) == 0 && get32(ip + 12) == PEER_ADDR && run->sv.client_port)
        patch16(sum, tcp + 2, run->sv.client_port);
    if (!(tcp[13] & TCP_FLAG_ACK))
        return;
    const struct sent_syn *s = find_syn(run, get16(tcp + 2), get32(ip + 12), get16(tcp));
    if (!s)
        return;
    patch32(tcp, sum, 8, get32(tcp + 8) + s->isn);
    make_options_absolute(tcp, hdr_len, s);
}

/* An ICMP error quoting a TCP segment from us (see the top): the quote is
 * what the stack sent, so its numbers are the stack's. */
static void make_icmp_quote_absolute(struct fuzz_run *run, uint8_t *ip, size_t len)
{
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < 20 || len < ihl + ICMP_HDR_LEN + 20)
        return;
    uint8_t *icmp = ip + ihl;
    uint8_t type = icmp[0];
    if (type != ICMP_DEST_UNREACH && type != ICMP_TIME_EXCEEDED && type != ICMP_PARAM_PROBLEM)
        return;
    uint8_t *quote = icmp + ICMP_HDR_LEN;
    size_t qihl = (size_t)(quote[0] & 0x0f) * 4;
    if (quote[0] >> 4 != 4 || qihl < 20 || quote[9] != IP_PROTO_TCP ||
        len < ihl + ICMP_HDR_LEN + qihl + QUOTE_MIN)
        return;
    /* Every field patched lies at an even offset from icmp: the quoted
     * header lengths are multiples of 4. */
    uint8_t *sum = icmp + 2;
    uint8_t *qtcp = quote + qihl;
    uint32_t peer = get32(quote + 16);
    if (get16(qtcp) == 0 && peer == PEER_ADDR && run->sv.client_port)
        patch16(sum, qtcp, run->sv.client_port);
    const struct sent_syn *s = find_syn(run, get16(qtcp), peer, get16(qtcp + 2));
    if (s)
        patch32(icmp, sum, (size_t)(qtcp + 4 - icmp), get32(qtcp + 4) + s->isn);
}

/* Turn the seed's relative numbers into the stack's (see the top). Only
 * frames whose headers are all there are touched; the rest go in as is. */
static void make_absolute(struct fuzz_run *run, uint8_t *ip, size_t len)
{
    if (len < 20 || ip[0] >> 4 != 4)
        return;
    /* The checksums cover what the IP length says, not padding after it. */
    size_t total = get16(ip + 2);
    if (total >= 20 && total < len)
        len = total;
    if (ip[9] == IP_PROTO_TCP)
        make_tcp_absolute(run, ip, len);
    else if (ip[9] == IP_PROTO_ICMP)
        make_icmp_quote_absolute(run, ip, len);
}

/* ---- services -------------------------------------------------------------------- */

static void on_echo_reply(void *ctx, uint32_t from, uint16_t id, uint16_t seq,
                          const void *data, size_t len, uint64_t now)
{
    (void)from, (void)id, (void)seq, (void)now;
    /* Touch every byte the stack claims to hand over. */
    const uint8_t *p = data;
    unsigned *sum = ctx;
    for (size_t i = 0; i < len; i++)
        *sum += p[i];
}

/* Trace rows of connections that asked for them (see set_options): format
 * each as CSV, as a real sink would, and touch the text. */
static void on_trace_row(void *ctx, const struct ustack_trace_row *row)
{
    char line[USTACK_TRACE_CSV_MAX];
    unsigned *sum = ctx;
    int n = ustack_trace_csv_row(row, line, sizeof(line));
    for (int i = 0; i < n && i < (int)sizeof(line); i++)
        *sum += (uint8_t)line[i];
    *sum += (unsigned)strlen(ustack_trace_event_name(row->event));
}

/* What `ustack stat` shows, for every connection (at the end of a run). */
static void on_conn_info(void *ctx, const struct ustack_tcp_info *info)
{
    unsigned *sum = ctx;
    *sum += info->srtt_us + info->rttvar_us;
}

static struct sockaddr_in ipv4_sockaddr(uint32_t addr, uint16_t port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(addr);
    sa.sin_port = htons(port);
    return sa;
}

/*
 * The application side: what listens and talks, so that input reaches the
 * deeper states of each protocol. Driven through the public event API, as
 * an embedder would:
 *   - an echo reply handler (ping replies);
 *   - a TCP listener on port 80 whose connections echo what they receive
 *     and close when the peer does (or when asked, or set socket options
 *     when asked: see echo_some);
 *   - one active open to 10.0.0.1:5000, made at the start, so SYN-SENT and
 *     the client side of the handshake are reachable too (it echoes too);
 *   - a UDP socket on port 7 that echoes datagrams to their sender;
 *   - a trace sink for connections that turn tracing on, and a walk over
 *     every connection's information at the end.
 * A protocol added later opens its own endpoint here.
 */
static void setup_services(struct ustack *st, struct services *sv)
{
    memset(sv, 0, sizeof(*sv));
    for (int i = 0; i < FUZZ_MAX_CONNS; i++)
        sv->conns[i] = -1;
    ustack_set_echo_reply_handler(st, on_echo_reply, &sv->touch_sum);
    ustack_set_trace_sink(st, on_trace_row, &sv->touch_sum);

    struct sockaddr_in echo = ipv4_sockaddr(0, UDP_ECHO_PORT);
    sv->udp = ustack_socket(st, USTACK_SOCK_DGRAM);
    if (sv->udp >= 0 &&
        ustack_bind(st, sv->udp, (struct sockaddr *)&echo, sizeof(echo)) < 0) {
        ustack_close(st, sv->udp);
        sv->udp = -1;
    }

    struct sockaddr_in any = ipv4_sockaddr(0, LISTEN_PORT);
    sv->listener = ustack_socket(st, USTACK_SOCK_STREAM);
    if (sv->listener >= 0 &&
        (ustack_bind(st, sv->listener, (struct sockaddr *)&any, sizeof(any)) < 0 ||
         ustack_listen(st, sv->listener, FUZZ_BACKLOG) < 0)) {
        ustack_close(st, sv->listener);
        sv->listener = -1;
    }

    struct sockaddr_in peer = ipv4_sockaddr(PEER_ADDR, PEER_PORT);
    sv->client = ustack_socket(st, USTACK_SOCK_STREAM);
    if (sv->client >= 0) {
        ustack_connect(st, sv->client, (struct sockaddr *)&peer, sizeof(peer));
        struct sockaddr_in local;
        socklen_t len = sizeof(local);
        if (ustack_getsockname(st, sv->client, (struct sockaddr *)&local, &len) == 0)
            sv->client_port = ntohs(local.sin_port);
    }
}

/* A chunk "#LETTERS" sets socket options on its connection, one per
 * letter, so the fuzzer reaches what only the API turns on: K keep-alive
 * (1 s idle, 1 s apart, 2 probes), N NewReno congestion control, U a 3 s
 * user timeout, D no Nagle, B 2 KiB buffers, T trace rows. Others are
 * ignored. */
static void set_options(struct ustack *st, int sd, const uint8_t *letters, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (letters[i]) {
        case 'K':
            ustack_setsockopt(st, sd, USTACK_TCP_KEEPIDLE, 1);
            ustack_setsockopt(st, sd, USTACK_TCP_KEEPINTVL, 1);
            ustack_setsockopt(st, sd, USTACK_TCP_KEEPCNT, 2);
            ustack_setsockopt(st, sd, USTACK_SO_KEEPALIVE, 1);
            break;
        case 'N':
            ustack_setsockopt(st, sd, USTACK_TCP_CONGESTION, USTACK_TCP_CC_NEWRENO);
            break;
        case 'U':
            ustack_setsockopt(st, sd, USTACK_TCP_USER_TIMEOUT, 3000);
            break;
        case 'D':
            ustack_setsockopt(st, sd, USTACK_TCP_NODELAY, 1);
            break;
        case 'B':
            ustack_setsockopt(st, sd, USTACK_SO_SNDBUF, 2048);
            ustack_setsockopt(st, sd, USTACK_SO_RCVBUF, 2048);
            break;
        case 'T':
            ustack_setsockopt(st, sd, USTACK_TCP_TRACE, 1);
            break;
        }
    }
}

/* Echo what arrived on sd; returns false once sd is finished (EOF, error,
 * or closed on request) and has been closed. The first byte of a chunk can
 * ask for the other ways a connection ends, so the fuzzer reaches them:
 * 'Q' half-closes (our FIN first: FIN-WAIT, TIME-WAIT), 'C' closes at once
 * (with unread data: RST), 'R' aborts (SO_LINGER zero: RST); or it can
 * set socket options ('#', see set_options). */
static bool echo_some(struct ustack *st, int sd)
{
    uint8_t buf[FUZZ_ECHO_CHUNK];
    int err;
    ssize_t n = ustack_recv(st, sd, buf, sizeof(buf), 0);
    if (n == -EAGAIN || n == -ENOTCONN)
        return true;
    if (n <= 0) {
        ustack_getsockopt(st, sd, USTACK_SO_ERROR, &err);
        ustack_close(st, sd);
        return false;
    }
    switch (buf[0]) {
    case 'Q':
        ustack_shutdown(st, sd, SHUT_WR);
        return true;
    case 'R':
        ustack_setsockopt(st, sd, USTACK_SO_LINGER_ZERO, 1);
        /* fall through */
    case 'C':
        ustack_close(st, sd);
        return false;
    case '#':
        set_options(st, sd, buf + 1, (size_t)n - 1);
        return true;
    }
    /* Whatever does not fit the send buffer is dropped: this is a fuzzer,
     * not a correct echo server. */
    ustack_send(st, sd, buf, (size_t)n, 0);
    return true;
}

/* Send datagrams back where they came from (bounded per step). */
static void udp_echo(struct ustack *st, int sd)
{
    uint8_t buf[FUZZ_MTU];
    for (int i = 0; i < FUZZ_UDP_PER_STEP; i++) {
        struct sockaddr_in from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = ustack_recvfrom(st, sd, buf, sizeof(buf), 0,
                                    (struct sockaddr *)&from, &fromlen);
        if (n < 0)
            return;
        ustack_sendto(st, sd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
    }
}

/* One round of application work after every step (bounded). */
static void run_services(struct ustack *st, struct services *sv)
{
    struct ustack_event ev[FUZZ_MAX_CONNS * 2];
    const int max = (int)(sizeof(ev) / sizeof(ev[0]));
    /* Empty the readiness list; it holds at most one entry per socket. */
    for (int i = 0; i < FUZZ_MAX_CONNS + 4 && ustack_poll(st, ev, max) == max; i++)
        ;
    if (sv->udp >= 0)
        udp_echo(st, sv->udp);
    for (int i = 0; i < FUZZ_MAX_CONNS && sv->listener >= 0; i++) {
        if (sv->conns[i] >= 0)
            continue;
        int sd = ustack_accept(st, sv->listener, NULL, NULL);
        if (sd < 0)
            break;
        sv->conns[i] = sd;
    }
    for (int i = 0; i < FUZZ_MAX_CONNS; i++)
        if (sv->conns[i] >= 0 && !echo_some(st, sv->conns[i]))
            sv->conns[i] = -1;
    if (sv->client >= 0 && !echo_some(st, sv->client))
        sv->client = -1;
}

static void close_services(struct ustack *st, struct services *sv)
{
    ustack_tcp_connections(st, on_conn_info, &sv->touch_sum);
    for (int i = 0; i < FUZZ_MAX_CONNS; i++)
        if (sv->conns[i] >= 0)
            ustack_close(st, sv->conns[i]);
    if (sv->client >= 0)
        ustack_close(st, sv->client);
    if (sv->listener >= 0)
        ustack_close(st, sv->listener);
    if (sv->udp >= 0)
        ustack_close(st, sv->udp);
}

/* ---- the run ---------------------------------------------------------------------- */

/*
 * Virtual time between frames, from one byte: the low 6 bits count units,
 * the top 2 bits pick the unit (1 us, 1 ms, 100 ms, 10 s), so one byte can
 * be a back-to-back burst or a 10-minute idle gap that expires timers.
 */
static uint64_t time_step(uint8_t b)
{
    static const uint64_t unit_us[4] = {1, 1000, 100000, 10000000};
    return (uint64_t)(b & 0x3f) * unit_us[b >> 6];
}

static struct ustack *new_stack(struct ustack_link *link)
{
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = OUR_ADDR;
    cfg.netmask = OUR_NETMASK;
    /* Small limits: exhaustion paths get exercised, and each input sets up
     * a stack quickly (the defaults allocate megabytes). */
    cfg.pbuf_count = FUZZ_PBUFS;
    cfg.max_sockets = FUZZ_MAX_CONNS + 4;
    cfg.tcp.max_connections = FUZZ_MAX_CONNS + 4;
    cfg.tcp.sndbuf = FUZZ_TCP_BUF;
    cfg.tcp.rcvbuf = FUZZ_TCP_BUF;
    cfg.tcp.syn_backlog = FUZZ_BACKLOG; /* past it: SYN cookies */
    cfg.large_pbuf_count = 2;           /* 64 KiB each */
    cfg.has_secret = true;              /* reproducible: no getrandom() */
    memset(cfg.secret, 0x5a, sizeof(cfg.secret));
    cfg.reasm.max_datagrams = 8;        /* reassembly evicts early... */
    cfg.reasm.max_bytes = 16384;        /* ...and runs out of memory */
    cfg.arp.cache_size = 4;             /* neighbours evict each other */
    cfg.has_mac = true;                 /* the seeds' Ethernet destination */
    memcpy(cfg.mac, OUR_MAC, sizeof(cfg.mac));
    return ustack_new(&cfg, link, 0);
}

/* Feed one frame from a heap buffer of exactly its size. */
static void input_frame(struct fuzz_run *run, const uint8_t *data, size_t len,
                        uint64_t now)
{
    uint8_t *frame = malloc(len ? len : 1);
    if (!frame)
        return;
    memcpy(frame, data, len);
    /* The IPv4 packet in the frame, if there is one. */
    uint8_t *ip = frame;
    size_t ip_len = len;
    if (run->link->kind == USTACK_LINK_ETHERNET) {
        bool ipv4 = len >= ETH_HEADER_LEN && get16(frame + 12) == ETHERTYPE_IPV4;
        ip = ipv4 ? frame + ETH_HEADER_LEN : NULL;
        ip_len = ipv4 ? len - ETH_HEADER_LEN : 0;
    }
    if (ip && run->relative_tcp)
        make_absolute(run, ip, ip_len);
    if (ip && run->trace)
        trace_frame("in ", ip, ip_len);
    ustack_input(run->st, frame, len, now);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static struct fuzz_run run; /* static: zeroed below, keeps the stack frame small */
    memset(&run, 0, sizeof(run));
    run.relative_tcp = data[0] & FLAG_RELATIVE_TCP;
    bool batched = data[0] & FLAG_BATCHED;
    static int trace = -1;
    if (trace < 0)
        trace = getenv("FUZZ_INPUT_TRACE") != NULL;
    run.trace = trace;
    enum ustack_link_kind kind =
        (data[0] & FLAG_ETHERNET) ? USTACK_LINK_ETHERNET : USTACK_LINK_IP;
    if (ustack_memlink_pair(kind, FUZZ_MTU, FUZZ_QUEUE, &run.link, &run.peer) < 0)
        return 0;
    run.st = new_stack(run.link);
    if (!run.st) {
        ustack_link_close(run.link);
        ustack_link_close(run.peer);
        return 0;
    }
    setup_services(run.st, &run.sv);
    drain(&run);

    uint64_t now = 0;
    size_t pos = 1;
    bool in_batch = false;
    while (pos < size) {
        now += time_step(data[pos++]);
        if (!in_batch)
            run_timers(&run, now);
        size_t len = 0;
        if (pos + 2 <= size) {
            len = get16(data + pos);
            pos += 2;
        } else {
            pos = size;
        }
        if (len > size - pos)
            len = size - pos;
        if (batched && !in_batch) {
            ustack_input_batch_begin(run.st);
            in_batch = true;
        }
        input_frame(&run, data + pos, len, now);
        pos += len;
        drain(&run);
        /* A next record with no time step joins the batch: no timers are
         * due, and the application waits for the batch's end, as the
         * runner's does. */
        if (in_batch && pos < size && data[pos] == 0)
            continue;
        if (in_batch) {
            ustack_input_batch_end(run.st);
            in_batch = false;
            drain(&run);
        }
        run_services(run.st, &run.sv);
        run_timers(&run, now);
    }
    close_services(run.st, &run.sv);
    drain(&run);
    /* An hour later every timer (retransmission, TIME-WAIT...) has fired. */
    run_timers(&run, now + 3600ull * 1000000);

    if (run.trace) {
        fprintf(stderr, "counters:\n");
        ustack_print_stats(run.st, stderr, false);
    }
    ustack_free(run.st);
    ustack_link_close(run.link);
    ustack_link_close(run.peer);
    return 0;
}
