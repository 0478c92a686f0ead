/*
 * Initial sequence numbers (RFC 6528 §3):
 *
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a clock ticking every 4 microseconds, so successive connections of
 * one four-tuple get increasing ISNs (old duplicates of an earlier
 * incarnation fall behind the new one, RFC 9293 §3.4.1); F is a keyed hash,
 * so an off-path attacker who does not know the secret cannot guess the ISN
 * of anybody else's connection. F is SipHash-2-4 keyed from st->cfg.secret.
 */
#include "tcp/tcp_int.h"

#include "tcp/tcp_hash.h"

uint32_t tcp_isn(const struct tcp_state *t, uint32_t laddr, uint16_t lport,
                 uint32_t raddr, uint16_t rport, uint64_t now)
{
    uint32_t f = (uint32_t)tcp_tuple_hash(&t->isn_key, laddr, lport, raddr, rport);
    uint32_t m = (uint32_t)(now / 4);
    uint32_t isn = m + f;
    /* Zero is a valid ISN on the wire, but some peers and tools treat it
     * as "unset"; one step on costs nothing. */
    return isn ? isn : 1;
}

uint32_t tcp_select_iss(struct ustack *st, const struct tcp_conn *c)
{
    struct tcp_state *t = st->tcp;
    if (t->debug_iss_set) {
        t->debug_iss_set = false;
        return t->debug_iss;
    }
    return tcp_isn(t, c->local_addr, c->local_port, c->remote_addr,
                   c->remote_port, st->now);
}

void tcp_debug_set_next_iss(struct ustack *st, uint32_t iss)
{
    st->tcp->debug_iss_set = true;
    st->tcp->debug_iss = iss;
}
