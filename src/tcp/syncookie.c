/*
 * SYN cookies (RFC 4987 §3.6).
 *
 * When a listener's SYN queue is full, we answer a SYN without keeping any
 * state: everything needed to build the connection later is folded into
 * the ISS of our SYN-ACK, and a genuine peer hands it back in its ACK
 * (SEG.ACK = ISS + 1). The ISS is laid out as
 *
 *     bits 31..27  a coarse clock: the 64-second period the cookie was made
 *     bits 26..24  index of the peer's MSS in a small table
 *     bits 23..0   a MAC: keyed hash of the four-tuple, the peer's ISN, the
 *                  period and the MSS index
 *
 * A cookie is accepted during its own period and the next one (64 to 128
 * seconds), only with the MAC recomputed from the ACK's own fields. An
 * attacker must guess 24 bits per try. The price of statelessness: options
 * other than the MSS are lost (window scaling, SACK and timestamps are not
 * offered in a cookie SYN-ACK, so a cookie connection runs without them).
 */
#include "tcp/tcp_int.h"

#include "core/bytes.h"

#define COOKIE_PERIOD_US (64ull * 1000000u)
#define COOKIE_COUNTER_SHIFT 27
#define COOKIE_MSS_SHIFT 24
#define COOKIE_MAC_MASK 0xffffffu
/* Entries of the MSS table: as many as the 3 bits between the MAC and the
 * clock can index. */
#define COOKIE_MSS_COUNT (1u << (COOKIE_COUNTER_SHIFT - COOKIE_MSS_SHIFT))

/* The MSS values a cookie can encode: common link MTUs minus 40 (tunnels,
 * PPPoE, Ethernet, jumbo), and TCP_MIN_MSS so any peer fits. */
static const uint16_t cookie_mss_table[COOKIE_MSS_COUNT] = {
    TCP_MIN_MSS, 536, 1220, 1360, 1400, 1440, 1460, 8960,
};

static uint32_t cookie_mac(const struct tcp_state *t, const struct tcp_seg *seg,
                           uint32_t peer_isn, uint64_t period, unsigned mss_index)
{
    uint8_t msg[12 + 4 + 8 + 1];
    put_be32(msg, seg->dst);
    put_be16(msg + 4, seg->dport);
    put_be32(msg + 6, seg->src);
    put_be16(msg + 10, seg->sport);
    put_be32(msg + 12, peer_isn);
    put_be32(msg + 16, (uint32_t)(period >> 32));
    put_be32(msg + 20, (uint32_t)period);
    msg[24] = (uint8_t)mss_index;
    return (uint32_t)siphash24(&t->cookie_key, msg, sizeof(msg)) & COOKIE_MAC_MASK;
}

uint32_t syncookie_make(const struct tcp_state *t, const struct tcp_seg *syn,
                        uint16_t peer_mss, uint64_t now, uint16_t *mss)
{
    /* The largest table entry the peer can take. */
    unsigned idx = 0;
    for (unsigned i = 0; i < COOKIE_MSS_COUNT; i++)
        if (cookie_mss_table[i] <= peer_mss)
            idx = i;
    *mss = cookie_mss_table[idx];
    uint64_t period = now / COOKIE_PERIOD_US;
    uint32_t mac = cookie_mac(t, syn, syn->seq, period, idx);
    return (uint32_t)(period & 31) << COOKIE_COUNTER_SHIFT |
           (uint32_t)idx << COOKIE_MSS_SHIFT | mac;
}

bool syncookie_check(const struct tcp_state *t, const struct tcp_seg *ack,
                     uint64_t now, uint16_t *mss)
{
    uint32_t cookie = ack->ack - 1;
    uint32_t peer_isn = ack->seq - 1;
    unsigned idx = (cookie >> COOKIE_MSS_SHIFT) & (COOKIE_MSS_COUNT - 1);
    uint64_t current = now / COOKIE_PERIOD_US;
    /* The cookie's period: this one or the one before. */
    for (uint64_t age = 0; age <= 1 && age <= current; age++) {
        uint64_t period = current - age;
        if ((period & 31) != cookie >> COOKIE_COUNTER_SHIFT)
            continue;
        if (cookie_mac(t, ack, peer_isn, period, idx) == (cookie & COOKIE_MAC_MASK)) {
            *mss = cookie_mss_table[idx];
            return true;
        }
    }
    return false;
}

uint64_t syncookie_lifetime(void)
{
    return 2 * COOKIE_PERIOD_US;
}
