/*
 * ICMP errors about our segments (RFC 1122 §4.2.3.9, RFC 1191, RFC 5927).
 *
 * net/icmp.c has checked the ICMP message and the IP header it quotes
 * (with at least 8 bytes of our TCP header: the ports and the sequence
 * number); here TCP decides what the error means for the connection that
 * sent the segment.
 *
 *  - Acceptance (RFC 5927 §4.1): the quoted four-tuple must name one of
 *    our connections, and the quoted sequence number must lie in
 *    SND.UNA =< SEG.SEQ < SND.NXT, data we sent that is still
 *    unacknowledged. Anyone can send an ICMP message; to be heard, a blind
 *    attacker now has to guess the four-tuple and a number inside the
 *    flight, as for a RST (RFC 5961). Anything else is ignored and counted.
 *  - Fragmentation needed (type 3 code 4, RFC 1191): a router dropped a
 *    segment too big for its next hop. The connection's send MSS drops to
 *    what fits (never below a floor, and never up) and what was in flight
 *    goes again at the new size at once (§6.5). It is no congestion
 *    signal: no back-off, no retry counted, no congestion response.
 *  - Soft errors (RFC 1122 §4.2.3.9: destination unreachable codes 0, 1
 *    and 5, time exceeded, parameter problem): the connection MUST NOT be
 *    aborted, the route may come back. We remember the last one and, like
 *    Linux, report it instead of ETIMEDOUT if the connection later times
 *    out (EHOSTUNREACH says more than "timed out"). An ACK of new data
 *    forgets it (tcp_rtt_on_ack).
 *  - Hard errors (codes 2 protocol and 3 port unreachable): before the
 *    handshake completes, they end it: connect() fails with ECONNREFUSED,
 *    a half-open passive connection goes away quietly. Once synchronized
 *    we treat them as soft errors. RFC 1122 §4.2.3.9 says an established
 *    connection SHOULD be aborted, but RFC 5927 §4.2 explains why stacks
 *    do not: a forged "port unreachable" would be the cheapest way to kill
 *    other people's connections, and a real peer that lost the connection
 *    answers with a RST anyway. Linux, the BSDs and Windows all behave so.
 *  - Every other code (the newer unreachable codes of RFC 1812 §5.2.7.1,
 *    e.g. administratively prohibited) is soft: only the codes RFC 1122
 *    names hard may end a connection.
 *
 * Path MTU floor: RFC 1191 §3 forbids estimates below 68 bytes, but a
 * forged message with a tiny MTU would then make us send a packet per
 * handful of bytes. Every IPv4 host accepts 576-byte datagrams (RFC 791,
 * RFC 1122 §3.3.3), so 576 (MSS 536, RFC 9293's default) is our floor; a
 * path reporting less gets 576-byte segments without DF, so that its
 * routers fragment them (Linux does the same below its min_pmtu).
 *
 * The estimate belongs to the connection: there is no route cache to
 * share it, and it is never raised again (RFC 1191 §6.3's periodic probe
 * for increases is not done).
 */
#include "tcp/tcp_int.h"

#include <errno.h>

#include "core/bytes.h"
#include "net/icmp.h"

/* Offsets in the quoted TCP header. */
#define QUOTE_SPORT 0
#define QUOTE_DPORT 2
#define QUOTE_SEQ 4

#define IP_TCP_HEADERS 40     /* IPv4 + TCP headers without options */
#define TS_OPTION_BYTES 12    /* NOP, NOP, timestamps (RFC 7323 App. A) */
#define TCP_PMTU_FLOOR 576    /* see above */

/* RFC 1191 §7: the plateaus of common MTUs, largest first. A router that
 * does not report its next-hop MTU (RFC 792's "unused" field, 0) leaves
 * us to guess the next plateau below what we sent (§5). */
static const uint16_t mtu_plateaus[] = {
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
};

static unsigned plateau_below(unsigned len)
{
    for (size_t i = 0; i < sizeof(mtu_plateaus) / sizeof(mtu_plateaus[0]); i++)
        if (mtu_plateaus[i] < len)
            return mtu_plateaus[i];
    return 68; /* RFC 791: every IPv4 link carries 68 bytes */
}

/* ---- Fragmentation needed (RFC 1191) --------------------------------------------- */

/* The send MSS for a path MTU: headers and the options every segment
 * carries (timestamps, once negotiated, as tcp_options.c counts them)
 * come off (RFC 9293 §3.7.1); SACK blocks, which come and go, are taken
 * off per segment by output. */
static unsigned mss_for_mtu(const struct tcp_conn *c, unsigned mtu)
{
    return mtu - IP_TCP_HEADERS - (c->opt.ts ? TS_OPTION_BYTES : 0);
}

/* RFC 1191 §6.5: the segment was dropped; rather than wait for the
 * retransmission timer (once per step, if the path needs several), send
 * again at once. Every full-sized segment in flight met the same router,
 * so go back to SND.UNA and let output cut the flight anew at the new MSS.
 * The timer restarts for the new copies; nothing else changes: this loss
 * says nothing about congestion. */
static void resend_smaller(struct ustack *st, struct tcp_conn *c)
{
    if (!tcp_may_send(c->state) || c->snd.una == c->snd.nxt)
        return;
    c->send_next = c->snd.una;
    c->rec.rto_hold = false; /* a timeout's "wait for an ACK" is moot now */
    tcp_output(st, c);
    if (tcp_timer_running(c, TCP_TIMER_RTX))
        tcp_rtx_timer_start(st, c);
}

static void frag_needed(struct ustack *st, struct tcp_conn *c,
                        const struct icmp4_error *err)
{
    /* A SYN or SYN-ACK (at most 60 bytes) fits every MTU an IPv4 link may
     * have, and the MSS is not settled before ESTABLISHED: a report about
     * one is broken or forged. */
    unsigned sent = err->quoted_total_len;
    unsigned mtu = err->next_hop_mtu ? err->next_hop_mtu : plateau_below(sent);
    /* §4: the next hop's MTU is below the size of the packet it refused;
     * a report that says otherwise does not describe our segment. */
    if (!tcp_synchronized(c->state) || mtu >= sent) {
        STAT_INC(st, tcp_icmp_frag_ignored);
        return;
    }
    bool floor = mtu < TCP_PMTU_FLOOR;
    if (floor)
        mtu = TCP_PMTU_FLOOR;
    uint16_t mss = (uint16_t)mss_for_mtu(c, mtu);
    bool lower = mss < c->snd_mss; /* never raise it (§3: only decreases) */
    if (!lower && !(floor && !c->icmp.df_off)) {
        STAT_INC(st, tcp_icmp_frag_ignored);
        return;
    }
    if (floor) {
        c->icmp.df_off = true;
        STAT_INC(st, tcp_icmp_pmtu_floor);
    }
    if (lower)
        c->snd_mss = mss;
    c->icmp.pmtu = (uint16_t)mtu;
    STAT_INC(st, tcp_icmp_frag_needed);
    stack_log(st, LOG_DEBUG, "tcp %u->%u: path MTU %u, MSS %u%s", c->local_port,
              c->remote_port, mtu, c->snd_mss, c->icmp.df_off ? " (no DF)" : "");
    resend_smaller(st, c);
}

/* ---- Hard and soft errors (RFC 1122 §4.2.3.9) ------------------------------------ */

static bool is_hard(const struct icmp4_error *err)
{
    return err->type == ICMP_DEST_UNREACH &&
           (err->code == ICMP_UNREACH_PROTOCOL || err->code == ICMP_UNREACH_PORT);
}

/* Before the handshake completes, a hard error is the answer to our SYN
 * (or SYN-ACK): the peer has no TCP, or nothing on that port. */
static void hard_error_handshake(struct ustack *st, struct tcp_conn *c)
{
    STAT_INC(st, tcp_icmp_refused);
    if (c->passive)
        tcp_conn_closed(st, c); /* a half-open child: the listener goes on */
    else
        tcp_conn_fail(st, c, ECONNREFUSED);
}

/* ---- The entry point --------------------------------------------------------------- */

/* The connection that sent the quoted segment, or NULL. The quote goes
 * from us (its source) to the peer. */
static struct tcp_conn *quoted_conn(struct ustack *st, const struct icmp4_error *err)
{
    uint16_t lport = get_be16(err->transport + QUOTE_SPORT);
    uint16_t rport = get_be16(err->transport + QUOTE_DPORT);
    return tcp_conn_lookup(st, err->src, lport, err->dst, rport);
}

void tcp_icmp_error(struct ustack *st, const struct icmp4_error *err)
{
    STAT_INC(st, tcp_icmp_rx);
    struct tcp_conn *c = quoted_conn(st, err);
    if (!c) {
        STAT_INC(st, tcp_icmp_unmatched);
        return;
    }
    /* RFC 5927 §4.1: only about a segment in flight. (TIME-WAIT and
     * connections with nothing in flight have an empty range.) */
    uint32_t seq = get_be32(err->transport + QUOTE_SEQ);
    if (!seq_in_range(seq, c->snd.una, c->snd.nxt)) {
        STAT_INC(st, tcp_icmp_bad_seq);
        return;
    }
    if (err->type == ICMP_DEST_UNREACH && err->code == ICMP_UNREACH_FRAG_NEEDED) {
        frag_needed(st, c, err);
        return;
    }
    if (is_hard(err) && !tcp_synchronized(c->state)) {
        hard_error_handshake(st, c);
        return;
    }
    if (is_hard(err))
        STAT_INC(st, tcp_icmp_hard_as_soft);
    else
        STAT_INC(st, tcp_icmp_soft);
    c->icmp.soft_error = icmp4_error_errno(err); /* EHOSTUNREACH, ... */
}

int tcp_icmp_timeout_error(const struct tcp_conn *c)
{
    return c->icmp.soft_error ? c->icmp.soft_error : ETIMEDOUT;
}
