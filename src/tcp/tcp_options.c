/*
 * TCP options (RFC 9293 §3.1, §3.2).
 *
 * The options area is a list of kind-length-value entries, except the two
 * single-byte kinds End of Option List (0) and No-Operation (1). Every
 * option we do not know is skipped by its length (MUST-64). A list whose
 * length bytes do not add up (length 0 or 1, or running past the header)
 * cannot be walked further: we stop there, keep what was read before, and
 * let the caller count it (MUST-7 asks us to be ready for exactly this).
 */
#include "tcp/tcp_int.h"

#include "core/bytes.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2       /* RFC 9293 §3.2, length 4 */
#define OPT_MSS_LEN 4
/* Kinds reserved for later issues: 3 window scale (RFC 7323), 4 SACK
 * permitted and 5 SACK (RFC 2018), 8 timestamps (RFC 7323). */

/* One option with a length field: apply it if we know it. A known option
 * with the wrong length is ignored, like an unknown one. */
static void apply_option(uint8_t kind, const uint8_t *val, size_t len,
                         struct tcp_opts *out)
{
    switch (kind) {
    case OPT_MSS:
        if (len == OPT_MSS_LEN - 2) {
            out->has_mss = true;
            out->mss = get_be16(val);
        }
        break;
    default:
        break; /* unknown: skipped (MUST-64) */
    }
}

bool tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *out)
{
    size_t i = 0;
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == OPT_EOL)
            return true;
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        /* Every other kind has a length byte counting kind and length. */
        if (i + 1 >= len)
            return false;
        uint8_t olen = p[i + 1];
        if (olen < 2 || olen > len - i)
            return false;
        apply_option(kind, p + i + 2, (size_t)olen - 2, out);
        i += olen;
    }
    return true;
}

size_t tcp_write_syn_options(uint8_t *p, uint16_t mss)
{
    p[0] = OPT_MSS;
    p[1] = OPT_MSS_LEN;
    put_be16(p + 2, mss);
    /* Window scale, SACK-permitted and timestamps go here when
     * implemented, each padded with NOPs to a 4-byte boundary. */
    return OPT_MSS_LEN;
}

uint16_t tcp_local_mss(const struct ustack *st)
{
    unsigned mtu = st->link && st->link->mtu ? st->link->mtu : 1500;
    unsigned mss = mtu > 40 + TCP_MIN_MSS ? mtu - 40 : TCP_MIN_MSS;
    return (uint16_t)(mss > 65535 ? 65535 : mss);
}

/* RFC 9293 §3.7.1: Eff.snd.MSS = min(SendMSS+20, MMS_S) - 20 - IP options
 * = min(the peer's MSS, our link MTU - 40), since we send no IP options and
 * no TCP options after the SYN. */
uint16_t tcp_effective_mss(const struct ustack *st, const struct tcp_opts *o)
{
    uint16_t peer = o->has_mss ? o->mss : TCP_DEFAULT_MSS;
    uint16_t ours = tcp_local_mss(st);
    uint16_t mss = peer < ours ? peer : ours;
    return mss < TCP_MIN_MSS ? TCP_MIN_MSS : mss;
}
