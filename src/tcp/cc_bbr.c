/*
 * BBR (version 1, draft-cardwell-iccrg-bbr-congestion-control-00): a
 * congestion control that builds a model of the path, its bottleneck
 * bandwidth (BtlBw) and round-trip propagation time (RTprop), and keeps
 * about a bandwidth-delay product (BDP = BtlBw * RTprop) in flight,
 * rather than reading every loss as congestion. A random loss of 5%
 * leaves the model, and so the window, where it was; CUBIC and NewReno
 * settle at a few segments there.
 *
 * The model:
 *   BtlBw   the largest delivery rate seen over the last 5 to 10 rounds
 *           (a windowed max filter of two buckets of 5 rounds);
 *   RTprop  the smallest round-trip time seen over the last 10 s.
 *
 * The states (the draft's state machine):
 *   Startup   cwnd grows by what each ACK delivers, capped at 2/ln2 *
 *             BDP, until BtlBw grew less than 25% in 3 rounds in a row
 *             (the pipe is full), or a retransmission timeout says the
 *             window already overflowed the path;
 *   Drain     cwnd = 1 * BDP until the flight is down to it (the queue
 *             Startup built drains);
 *   ProbeBW   cwnd = 1.5 * BDP, with an 8-round gain cycle that adds a
 *             quarter BDP for one round (probing for more bandwidth) and
 *             takes a quarter away the next (draining what that queued);
 *   ProbeRTT  when RTprop is 10 s old: cwnd 4 segments for at least
 *             200 ms and one round, to see the path without our queue.
 * Every cwnd gets 3 send quanta more (the draft's BBRInflight: delayed
 * and stretched ACKs, hosts that batch; see "Short paths"), and never
 * goes below 4 segments.
 *
 * What differs from the draft, because ustack is not Linux:
 *
 *  - No pacing. ustack has no pacer: segments leave as the window opens
 *    (the ACK clock). The draft's pacing gains become cwnd gains: the
 *    quarter BDP that pacing at 1.25 * BtlBw adds to the flight over one
 *    round is added to cwnd for that round instead, and Drain uses cwnd
 *    = BDP where the draft paces at 1/2.89. Startup cannot grow faster
 *    than the ACK clock allows (2x per round, as slow start).
 *    And ProbeBW's cwnd_gain is 1.5, not 2. Paced, the flight stays near
 *    one BDP and cwnd_gain 2 is only a cap for ACK aggregation; unpaced,
 *    the ACK clock always fills cwnd, so gain 2 keeps a whole BDP queued
 *    at the bottleneck all the time, filling a buffer of one BDP or less
 *    so that every probe overflows it. 1.5 keeps half a BDP of headroom
 *    for delayed and stretched ACKs and halves the standing queue
 *    (tests/sim/test_sim_cc_table.c, 1G/1ms with a one-BDP buffer: 873
 *    Mbit/s without loss and 409 at 5% loss with 2; 965 and 828 with 1.5).
 *
 *  - Per-round delivery samples. The draft samples the delivery rate on
 *    every ACK from per-packet send records (draft-cheng-iccrg-delivery-
 *    rate-estimation); ustack's send queue is a byte ring without them.
 *    Here a round begins on an ACK, remembering SND.NXT, and ends when the
 *    peer has that byte (SND.UNA passed it, or it was SACKed): the first
 *    byte sent after the round began has made the round trip. The round's
 *    rate sample is the bytes delivered in it (acknowledged or SACKed,
 *    each once; tcp_cc_ack_end) over its duration. Averaged over a round,
 *    ACK compression cannot inflate it. The price: the estimate trails the
 *    path by one round more than per-packet sampling, so Startup's cap
 *    (2.89 * the previous round's rate) lets cwnd grow about 1.8x a round
 *    rather than 2x.
 *    A round in which the sender had nothing to send while cwnd had room
 *    is app-limited: its sample may raise BtlBw, never lower it. So is a
 *    ProbeRTT round. A timeout drops the round in progress, and rounds
 *    that begin before its recovery is over give no sample at all: the
 *    timeout forgot the SACK scoreboard, so bytes SACKed before it are
 *    counted again when the cumulative ACK covers them.
 *
 *  - RTT from rounds. ustack's RTT samples come from timestamps at 1 ms
 *    resolution (0 on a path of microseconds), too coarse for BDP. The
 *    round's duration is a round-trip time measured in microseconds of
 *    `now`: the byte that ends the round was sent at or after its start,
 *    so the duration is never below that byte's round trip, and the
 *    minimum over rounds is RTprop once one round's byte went out at
 *    once over an empty queue (Startup's first rounds, ProbeRTT). A round
 *    whose byte may have waited (nothing to send, or no room in cwnd,
 *    when it began; an idle stretch) only ever lowers RTprop: it cannot
 *    replace an expired one.
 *
 *  - Loss (the draft's "modulating cwnd in loss recovery", BBR v1). A
 *    fast retransmit does not cut cwnd to a fraction: for the first
 *    round of recovery cwnd follows packet conservation (the flight plus
 *    what each ACK delivered, never less), then the model's cwnd again;
 *    when recovery ends cwnd is at least what it was before
 *    (owns_recovery_cwnd: tcp_cc.c's RFC 5681/6582 window arithmetic
 *    stays out). After a timeout tcp_cc.c sets cwnd to one segment (RFC
 *    5681 §3.1); BBR then grows it by what ACKs deliver, up to the
 *    model's (see "Timeouts"). ssthresh is never set (BBR has no slow
 *    start threshold).
 *
 *  - Short paths. The draft's cwnd is gain * BDP + 3 send quanta, the
 *    quantum being 1 ms of the pacing rate (at most 64 KB, Linux's TSO
 *    autosizing): room for the bursts in which hosts send and receive.
 *    This file had 3 segments instead, which is nothing on a path of
 *    tens of microseconds, where the hosts are the path: a TUN device to
 *    the local kernel answers a small flight in about 40 us when the
 *    receiver was asleep and in 13 us when it happened to be awake. The
 *    rare 13 us round sets RTprop (a minimum over 10 s), the usual 40 us
 *    rounds set BtlBw (a maximum over 10 rounds), and their product is a
 *    third of the flight that made the rate: with cwnd = 1.5 * BDP + 3
 *    segments, cwnd = 0.5 * cwnd + 3 segments a few rounds later, so the
 *    window sank to its floor (4-10 segments, measured live and in
 *    tests/sim/test_sim_bbr_lan.c) where a whole flight is one burst and
 *    a tail loss costs a loss probe timeout (2 ms, 50 round trips). None
 *    of the 27 us above RTprop is queue: more flight brings more rate.
 *    Here the quantum is QUANTUM_US (25 us) of BtlBw, between one SMSS
 *    and 64 KB: 1 ms is too much without a pacer (the draft paces
 *    within it; here cwnd is the only limit, and 3 ms of rate would sit
 *    in the bottleneck's queue), 25 us is the scale of host latency
 *    that the round trips above show. Then cwnd >= 75 us of BtlBw, which
 *    grows while rounds take less than that, so the window holds the
 *    rate of a round trip that is mostly host latency; the queue this
 *    can build is at most 75 us of the rate (64 KB beyond 7 Gbit/s). It
 *    is the old 3 segments below 460 Mbit/s (the 10M and 100M paths of
 *    the cc table), about 6.5 at 1 Gbit/s, where the BDP term dominates
 *    anyway.
 *
 *  - Timeouts. After a timeout the peer SACKs again what it had before
 *    (the scoreboard was forgotten), and one cumulative ACK may cover
 *    hundreds of segments that had arrived. Counted as delivered, either
 *    took cwnd from one segment back to the model's in one ACK, and the
 *    go-back-N that follows a timeout sent it at line rate: a burst of
 *    1.5 BDP into a one-BDP queue, losses in it that only the next
 *    timeout repairs (RFC 6582 §3.2: no fast retransmit before the
 *    timeout's recovery point), and so on (a 2 s run of the cc table's
 *    1G/1ms path at 1% loss: ten timeouts in a row). So in a timeout's
 *    recovery cwnd grows by what is cumulatively acknowledged, at most
 *    two SMSS per ACK (RFC 3465 §2.2's L), and at the recovery point
 *    cwnd stays what the ACK clock rebuilt rather than jumping back to
 *    the window from before (BBRRestoreCwnd stays for fast recovery,
 *    whose flight is still about that window).
 *
 * Arithmetic is integer: rates in bytes per second (32 bits: up to
 * 34 Gbit/s), gains in 1/256ths, times from `now` only. The private state
 * fits the 64 bytes of tcp_cc_priv.
 */
#include "tcp/tcp_int.h"

#include <string.h>

enum bbr_state {
    BBR_STARTUP,
    BBR_DRAIN,
    BBR_PROBE_BW,
    BBR_PROBE_RTT,
};

#define GAIN_UNIT 256
#define STARTUP_GAIN 739     /* 2 / ln 2 = 2.885 (739/256 = 2.887) */
#define DRAIN_GAIN 256       /* cwnd = BDP: the flight drains to it */
#define PROBE_BW_GAIN 384    /* 1.5 (not the draft's 2: see the top) */
#define CYCLE_LEN 8
#define PROBE_GAIN_STEP 64   /* a quarter BDP up, then down */
#define QUANTA 3             /* cwnd headroom: 3 send quanta (the draft's
                                BBRInflight), for delayed ACKs and hosts
                                that batch */
#define QUANTUM_US 25        /* a send quantum is 25 us of BtlBw ... */
#define QUANTUM_MAX 65536    /* ... at most 64 KB, at least one SMSS */
#define MIN_CWND_SEGS 4      /* never less; ProbeRTT's window */
#define BW_BUCKET_ROUNDS 5   /* BtlBw: max over 5 to 10 rounds */
#define RTPROP_WINDOW_MS 10000
#define PROBE_RTT_MS 200
#define FULL_BW_NUM 5        /* "grew" means by 25% (5/4) ... */
#define FULL_BW_DEN 4
#define FULL_BW_ROUNDS 3     /* ... and not for 3 rounds: pipe full */
#define US_PER_S 1000000u

/* flags */
#define F_FILLED_PIPE 0x001    /* Startup found the bandwidth */
#define F_IN_RECOVERY 0x002    /* after a fast retransmit or a timeout */
#define F_CONSERVING 0x004     /* ... its first round: packet conservation */
#define F_ENTERING 0x008       /* ... just began: the next ACK sets cwnd */
#define F_ROUND_APP 0x010      /* the round is app-limited */
#define F_ROUND_VOID 0x020     /* the round gives no rate sample */
#define F_PROBE_RTT_TIMED 0x040 /* ProbeRTT's flight reached the floor */
#define F_PROBE_RTT_ROUND 0x080 /* ... and a round ended since */
#define F_IDLE_RESTART 0x100   /* sending restarted after idle */
#define F_ROUND_LOOSE 0x200    /* the round's first byte may have left late:
                                  its duration only bounds the RTT */
#define F_ROUND_FRESH 0x400    /* the round began on this ACK */
#define F_AFTER_RTO 0x800      /* the recovery is a timeout's */

struct bbr {
    uint64_t round_start;     /* when the current round began, us */
    uint32_t round_end;       /* SND.NXT then: the round ends when the
                                 peer has this byte */
    uint32_t round_delivered; /* bytes delivered in the round so far */
    uint32_t bw_cur, bw_prev; /* BtlBw buckets, bytes/s: this one, the last */
    uint32_t rtprop_us;       /* RTprop; 0 before the first round */
    uint32_t rtprop_ms;       /* when it was measured (ms of now, wraps) */
    uint32_t probe_rtt_end_ms; /* ProbeRTT lasts until then (ms of now) */
    uint32_t full_bw;         /* Startup: BtlBw 25% growth was measured from */
    uint32_t prior_cwnd;      /* cwnd before recovery or ProbeRTT */
    uint32_t conserve_end;    /* SND.NXT when recovery began */
    uint32_t last_una;        /* SND.UNA after the last ACK */
    uint16_t rounds;          /* rounds counted (wraps) */
    uint16_t bucket_round;    /* when bw_cur's bucket began */
    uint16_t flags;
    uint8_t state;            /* enum bbr_state */
    uint8_t cycle;            /* ProbeBW's phase, 0 .. CYCLE_LEN - 1 */
    uint8_t full_bw_rounds;   /* rounds without 25% growth */
};

_Static_assert(sizeof(struct bbr) <= TCP_CC_PRIV_BYTES,
               "BBR state must fit in struct tcp_cc's private area");

static uint32_t ms_of(uint64_t now)
{
    return (uint32_t)(now / 1000);
}

static uint32_t btlbw(const struct bbr *s)
{
    return s->bw_cur > s->bw_prev ? s->bw_cur : s->bw_prev;
}

/* Has the peer got the byte at seq: SND.UNA passed it, or it is SACKed? */
static bool peer_has(const struct tcp_conn *c, uint32_t seq)
{
    if (seq_gt(c->snd.una, seq))
        return true;
    return c->sacked.count > 0 && tcp_sack_skip(c, seq) != seq;
}

/* ---- The model ------------------------------------------------------------ */

/* BtlBw's windowed max filter: the max of the samples in this bucket
 * and the last; a bucket holds BW_BUCKET_ROUNDS rounds. Only
 * recorded samples move the buckets, so an app-limited stretch (no
 * samples) keeps the last estimate, as the draft's filter does. */
static void bw_record(struct bbr *s, uint32_t bw)
{
    uint16_t age = (uint16_t)(s->rounds - s->bucket_round);
    if (age >= BW_BUCKET_ROUNDS) {
        s->bw_prev = age >= 2 * BW_BUCKET_ROUNDS ? 0 : s->bw_cur;
        s->bw_cur = 0;
        s->bucket_round = s->rounds;
    }
    if (bw > s->bw_cur)
        s->bw_cur = bw;
}

/* BDP in bytes, for the model as it stands; 0 while it has no RTprop or
 * BtlBw yet. */
static uint64_t bdp(const struct bbr *s)
{
    return (uint64_t)btlbw(s) * s->rtprop_us / US_PER_S;
}

/* The draft's send quantum (BBRSetSendQuantum), from BtlBw rather than
 * a pacing rate: QUANTUM_US of BtlBw, between one SMSS and QUANTUM_MAX
 * (see "Short paths" at the top). */
static uint64_t send_quantum(const struct tcp_conn *c, const struct bbr *s)
{
    uint64_t q = (uint64_t)btlbw(s) * QUANTUM_US / US_PER_S;
    if (q > QUANTUM_MAX)
        q = QUANTUM_MAX;
    return q > c->snd_mss ? q : c->snd_mss;
}

/* The window the state asks for (the draft's target cwnd, BBRInflight):
 * gain * BDP + QUANTA send quanta, or the initial window before there is
 * a model. */
static uint64_t target_cwnd(const struct tcp_conn *c, const struct bbr *s,
                            uint32_t gain)
{
    uint64_t b = bdp(s);
    if (b == 0)
        return 10ull * c->snd_mss;
    return b * gain / GAIN_UNIT + QUANTA * send_quantum(c, s);
}

static uint32_t state_gain(const struct bbr *s)
{
    switch (s->state) {
    case BBR_STARTUP:
        return STARTUP_GAIN;
    case BBR_PROBE_BW:
        if (s->cycle == 0)
            return PROBE_BW_GAIN + PROBE_GAIN_STEP;
        if (s->cycle == 1)
            return PROBE_BW_GAIN - PROBE_GAIN_STEP;
        return PROBE_BW_GAIN;
    default:
        return DRAIN_GAIN;
    }
}

/* ---- Rounds --------------------------------------------------------------- */

static void start_round(const struct tcp_conn *c, struct bbr *s, uint64_t now)
{
    s->round_start = now;
    s->round_end = c->snd.nxt;
    s->round_delivered = 0;
    s->flags &= (uint16_t)~(F_ROUND_APP | F_ROUND_VOID | F_ROUND_LOOSE);
    s->flags |= F_ROUND_FRESH;
    if (s->state == BBR_PROBE_RTT)
        s->flags |= F_ROUND_APP; /* a small window on purpose */
    /* In the recovery after a timeout the scoreboard was forgotten, and
     * go-back-N resends before the round's byte leaves. */
    if (c->rec.active && !c->rec.fast)
        s->flags |= F_ROUND_VOID | F_ROUND_LOOSE;
}

/* Keep the larger of the window and the one before recovery or ProbeRTT
 * (the draft's BBRSaveCwnd). */
static void save_cwnd(const struct tcp_conn *c, struct bbr *s)
{
    if (!(s->flags & F_IN_RECOVERY) && s->state != BBR_PROBE_RTT)
        s->prior_cwnd = c->cc.cwnd;
    else if (c->cc.cwnd > s->prior_cwnd)
        s->prior_cwnd = c->cc.cwnd;
}

static void enter_probe_bw(const struct tcp_conn *c, struct bbr *s)
{
    s->state = BBR_PROBE_BW;
    /* The draft starts the cycle at a random phase other than the
     * draining one, so that flows do not probe in step; the ISS is
     * random and keeps this deterministic. */
    uint8_t phase = (uint8_t)((c->snd.iss >> 8) % (CYCLE_LEN - 1));
    s->cycle = phase == 0 ? 0 : (uint8_t)(phase + 1);
}

static void enter_probe_rtt(const struct tcp_conn *c, struct bbr *s)
{
    save_cwnd(c, s);
    s->state = BBR_PROBE_RTT;
    s->flags &= (uint16_t)~(F_PROBE_RTT_TIMED | F_PROBE_RTT_ROUND);
    s->flags |= F_ROUND_APP;
}

/* A round-trip time sample (the draft's RTprop filter): the minimum over
 * RTPROP_WINDOW_MS; once that is older, the sample replaces it and
 * ProbeRTT looks for the path's own again. A loose sample (an idle or
 * application-limited round, whose duration may be mostly waiting) only
 * ever lowers RTprop. */
static void rtprop_update(const struct tcp_conn *c, struct bbr *s, uint64_t rtt,
                          bool loose, uint64_t now)
{
    uint32_t now_ms = ms_of(now);
    bool expired = s->rtprop_us && now_ms - s->rtprop_ms > RTPROP_WINDOW_MS;
    if (rtt > UINT32_MAX)
        rtt = UINT32_MAX;
    if (s->rtprop_us == 0 || rtt < s->rtprop_us || (expired && !loose)) {
        s->rtprop_us = rtt ? (uint32_t)rtt : 1;
        s->rtprop_ms = now_ms;
    }
    if (expired && s->state != BBR_PROBE_RTT && !(s->flags & F_IDLE_RESTART))
        enter_probe_rtt(c, s);
}

/* Startup is over when BtlBw stopped growing by 25% a round for 3 rounds
 * (the draft's "filled pipe" estimate); checked on rounds that were not
 * app-limited. */
static void check_full_pipe(struct bbr *s)
{
    uint32_t bw = btlbw(s);
    if ((uint64_t)bw * FULL_BW_DEN >= (uint64_t)s->full_bw * FULL_BW_NUM) {
        s->full_bw = bw;
        s->full_bw_rounds = 0;
        return;
    }
    if (++s->full_bw_rounds >= FULL_BW_ROUNDS)
        s->flags |= F_FILLED_PIPE;
}

/* The round ended on this ACK: its rate and RTT samples, then the next. */
static void end_round(const struct tcp_conn *c, struct bbr *s, uint64_t now)
{
    uint64_t elapsed = now - s->round_start;
    bool app = s->flags & F_ROUND_APP, valid = !(s->flags & F_ROUND_VOID);
    bool loose = s->flags & F_ROUND_LOOSE;
    if (elapsed > 0) {
        if (valid && s->round_delivered > 0) {
            uint64_t bw = (uint64_t)s->round_delivered * US_PER_S / elapsed;
            if (bw > UINT32_MAX)
                bw = UINT32_MAX;
            if (!app || bw > btlbw(s))
                bw_record(s, (uint32_t)bw);
        }
        rtprop_update(c, s, elapsed, loose, now);
    }
    s->rounds++;
    start_round(c, s, now);
    if (s->state == BBR_PROBE_RTT && (s->flags & F_PROBE_RTT_TIMED))
        s->flags |= F_PROBE_RTT_ROUND;
    if (!(s->flags & F_FILLED_PIPE) && !app) {
        check_full_pipe(s);
        if ((s->flags & F_FILLED_PIPE) && s->state == BBR_STARTUP)
            s->state = BBR_DRAIN;
    }
    if (s->state == BBR_PROBE_BW)
        s->cycle = (uint8_t)((s->cycle + 1) % CYCLE_LEN);
}

/* ---- States that end on an ACK --------------------------------------------- */

static void probe_rtt_step(struct tcp_conn *c, struct bbr *s,
                           const struct tcp_cc_sample *smp, uint64_t now)
{
    uint32_t floor = MIN_CWND_SEGS * (uint32_t)c->snd_mss;
    if (!(s->flags & F_PROBE_RTT_TIMED)) {
        if (smp->in_flight > floor)
            return;
        /* The queue we built is gone: time 200 ms, and a round from now. */
        s->probe_rtt_end_ms = ms_of(now) + PROBE_RTT_MS;
        s->flags |= F_PROBE_RTT_TIMED;
        start_round(c, s, now);
        return;
    }
    if (!(s->flags & F_PROBE_RTT_ROUND) || (int32_t)(ms_of(now) - s->probe_rtt_end_ms) < 0)
        return;
    s->rtprop_ms = ms_of(now); /* RTprop was measured afresh */
    s->flags &= (uint16_t)~(F_PROBE_RTT_TIMED | F_PROBE_RTT_ROUND);
    if (s->flags & F_FILLED_PIPE)
        enter_probe_bw(c, s);
    else
        s->state = BBR_STARTUP;
    s->flags |= F_ROUND_APP; /* this round began with the small window */
    if (c->cc.cwnd < s->prior_cwnd)
        c->cc.cwnd = s->prior_cwnd;
}

static void advance_state(struct tcp_conn *c, struct bbr *s,
                          const struct tcp_cc_sample *smp, uint64_t now)
{
    if (s->state == BBR_DRAIN && smp->in_flight <= target_cwnd(c, s, DRAIN_GAIN))
        enter_probe_bw(c, s);
    if (s->state == BBR_PROBE_RTT)
        probe_rtt_step(c, s, smp, now);
}

/* ---- Loss recovery ----------------------------------------------------------- */

/* Recovery is over. After a fast retransmit the window from before it
 * comes back (the draft's BBRRestoreCwnd): the flight is still about
 * that. After a timeout it does not: the flight is what the slow start
 * since rebuilt, and the difference would leave at once, at line rate
 * (see "Timeouts" at the top); cwnd grows on by what ACKs deliver. */
static void recovery_over(struct tcp_conn *c, struct bbr *s)
{
    bool after_rto = s->flags & F_AFTER_RTO;
    s->flags &= (uint16_t)~(F_IN_RECOVERY | F_CONSERVING | F_ENTERING | F_AFTER_RTO);
    if (!after_rto && c->cc.cwnd < s->prior_cwnd)
        c->cc.cwnd = s->prior_cwnd;
}

static void track_recovery(struct tcp_conn *c, struct bbr *s)
{
    if (!(s->flags & F_IN_RECOVERY))
        return;
    if (!c->rec.active) {
        /* Fast recovery ends in on_recovery_exit; the recovery after a
         * timeout ends here, on the ACK that passes its recovery point. */
        recovery_over(c, s);
        return;
    }
    if ((s->flags & F_CONSERVING) && !(s->flags & F_ENTERING) && peer_has(c, s->conserve_end))
        s->flags &= (uint16_t)~F_CONSERVING;
}

/* ---- cwnd (the draft's BBRSetCwnd) ------------------------------------------ */

static void set_cwnd(struct tcp_conn *c, struct bbr *s, const struct tcp_cc_sample *smp)
{
    uint64_t floor = (uint64_t)MIN_CWND_SEGS * c->snd_mss;
    uint64_t target = target_cwnd(c, s, state_gain(s));
    uint64_t cwnd = c->cc.cwnd, got = smp->delivered;
    /* In a timeout's recovery only the cumulatively acknowledged bytes
     * count (the peer SACKs again what it had before the timeout), and
     * at most two SMSS per ACK (RFC 3465 §2.2's L): see "Timeouts" at the
     * top. */
    if (s->flags & F_AFTER_RTO) {
        uint32_t acked = c->snd.una - s->last_una;
        got = acked < 2u * c->snd_mss ? acked : 2u * c->snd_mss;
    }
    uint64_t conserve = (uint64_t)smp->in_flight + got;
    if (s->flags & F_ENTERING) {
        /* Recovery began: what is in flight plus what just left. */
        s->flags &= (uint16_t)~F_ENTERING;
        cwnd = conserve;
    }
    if (s->flags & F_CONSERVING) {
        if (cwnd < conserve)
            cwnd = conserve;
    } else if (s->flags & F_FILLED_PIPE) {
        cwnd = cwnd + got < target ? cwnd + got : target;
    } else if (cwnd < target || c->bytes_acked < 10ull * c->snd_mss) {
        cwnd += got; /* Startup: as fast as the ACK clock allows */
    }
    if (cwnd < floor)
        cwnd = floor;
    if (s->state == BBR_PROBE_RTT && cwnd > floor)
        cwnd = floor;
    c->cc.cwnd = cwnd > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)cwnd;
}

/* ---- The hooks ----------------------------------------------------------------- */

static void bbr_init(struct tcp_conn *c, uint64_t now)
{
    struct bbr *s = tcp_cc_priv(c);
    memset(s, 0, sizeof(*s));
    s->state = BBR_STARTUP;
    /* BBR has no slow start threshold; a switch from another algorithm
     * must not leave one that tcp_cc.c would act on. */
    c->cc.ssthresh = TCP_CC_SSTHRESH_NONE;
    /* The first round waits for the application's first bytes. */
    start_round(c, s, now);
    s->flags = (uint16_t)((s->flags & ~F_ROUND_FRESH) | F_ROUND_LOOSE);
    s->last_una = c->snd.una;
}

static void bbr_on_ack_sample(struct tcp_conn *c, const struct tcp_cc_sample *smp,
                              uint64_t now)
{
    struct bbr *s = tcp_cc_priv(c);
    uint64_t d = (uint64_t)s->round_delivered + smp->delivered;
    s->round_delivered = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    if (smp->app_limited)
        s->flags |= F_ROUND_APP | F_ROUND_LOOSE;
    if (peer_has(c, s->round_end))
        end_round(c, s, now);
    if (smp->delivered)
        s->flags &= (uint16_t)~F_IDLE_RESTART;
    track_recovery(c, s);
    advance_state(c, s, smp, now);
    set_cwnd(c, s, smp);
    s->last_una = c->snd.una;
    /* A round that began here has its first byte leave now only if
     * there is one and cwnd has room for it; else its duration will
     * include the wait. */
    if (s->flags & F_ROUND_FRESH) {
        s->flags &= (uint16_t)~F_ROUND_FRESH;
        if (smp->queue_empty || (uint64_t)smp->in_flight + c->snd_mss > c->cc.cwnd)
            s->flags |= F_ROUND_LOOSE;
    }
}

static void bbr_on_ack(struct tcp_conn *c, uint32_t acked, uint32_t srtt_us,
                       uint64_t now)
{
    /* Everything happens in on_ack_sample, which sees every ACK. */
    (void)c;
    (void)acked;
    (void)srtt_us;
    (void)now;
}

static void bbr_on_congestion(struct tcp_conn *c, enum tcp_cc_signal sig,
                              uint32_t flight, uint64_t now)
{
    (void)flight;
    struct bbr *s = tcp_cc_priv(c);
    if (sig == TCP_CC_LOSS_FAST) {
        /* A loss found by ACKs, or another one in the same recovery (a
         * lost retransmission): the model stays; the first round of a
         * recovery keeps to packet conservation. */
        if (s->flags & F_IN_RECOVERY)
            return;
        save_cwnd(c, s);
        s->flags |= F_IN_RECOVERY | F_CONSERVING | F_ENTERING;
        s->conserve_end = c->snd.nxt;
        return;
    }
    /* A timeout: tcp_cc.c sets cwnd to one segment next. The round in
     * progress is dropped, and rounds until the timeout's recovery is
     * over yield no rate samples (see the top, and start_round). */
    save_cwnd(c, s);
    s->flags |= F_IN_RECOVERY | F_AFTER_RTO;
    s->flags &= (uint16_t)~(F_CONSERVING | F_ENTERING);
    /* A timeout in Startup: the window outgrew what the path holds by
     * more than recovery could repair. The pipe is full; growing back to
     * Startup's 2.89 * BDP would overflow it again. */
    if (s->state == BBR_STARTUP && btlbw(s)) {
        s->flags |= F_FILLED_PIPE;
        s->state = BBR_DRAIN;
    }
    start_round(c, s, now);
    s->flags |= F_ROUND_VOID | F_ROUND_LOOSE;
    s->flags &= (uint16_t)~F_ROUND_FRESH;
}

static void bbr_on_recovery_exit(struct tcp_conn *c, uint64_t now)
{
    (void)now;
    recovery_over(c, tcp_cc_priv(c));
}

static void bbr_on_idle_restart(struct tcp_conn *c, uint64_t now)
{
    (void)now;
    /* tcp_cc.c cut cwnd to the restart window (RFC 5681 §4.1); the model
     * stays and cwnd grows back to it by what ACKs deliver. A stale
     * RTprop found now does not start ProbeRTT: the queue is empty. */
    struct bbr *s = tcp_cc_priv(c);
    s->flags |= F_IDLE_RESTART;
}

const struct tcp_cc_ops tcp_cc_bbr = {
    .name = "bbr",
    .init = bbr_init,
    .on_ack = bbr_on_ack,
    .on_congestion = bbr_on_congestion,
    .on_recovery_exit = bbr_on_recovery_exit,
    .on_idle_restart = bbr_on_idle_restart,
    .on_ack_sample = bbr_on_ack_sample,
    .owns_recovery_cwnd = true,
};
