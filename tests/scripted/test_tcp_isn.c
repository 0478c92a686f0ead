/*
 * Initial sequence numbers (RFC 9293 §3.4.1, from RFC 6528):
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 * where M is a 4-microsecond timer. For one four-tuple the ISN therefore
 * advances by exactly (elapsed time) / 4 us; other four-tuples get
 * unrelated offsets.
 */
#include "tcpscript.h"
#include "test.h"

/* SYN from the current flow, SYN-ACK back; returns the stack's ISS. The
 * half-open connection is then removed with a RST (back to LISTEN). */
static uint32_t probe_iss(struct ts *ts, uint32_t peer_isn)
{
    ts_flow_restart(ts, peer_isn);
    ts_in(ts, "S 0:0(0) win 65535 <mss 1460>");
    ts_out(ts, "S. 0:0(0) ack 1 <mss 1460>");
    uint32_t iss = ts_cur(ts)->stack_isn;
    ts_in(ts, "R 1:1(0) win 0");
    ts_out_none(ts);
    return iss;
}

TEST(test_tcp_isn_rfc6528_clock_and_tuple)
{
    struct ts *ts = ts_new();
    ts_listen(ts, TS_STACK_PORT, 16);
    uint32_t a1 = probe_iss(ts, 1000);
    ts_advance(ts, 1000);
    uint32_t a2 = probe_iss(ts, 2000);
    /* Same four-tuple, one second later: M moved by 10^6 / 4. */
    TS_CHECK_EQ(ts, (uint32_t)(a2 - a1), 250000);
    ts_advance(ts, 4);
    uint32_t a3 = probe_iss(ts, 3000);
    TS_CHECK_EQ(ts, (uint32_t)(a3 - a2), 1000);
    /* Another peer port at the same moment: F differs. */
    ts_flow(ts, 40001);
    uint32_t b = probe_iss(ts, 4000);
    TS_CHECK(ts, b != a3);
    ts_flow(ts, 40002);
    uint32_t c = probe_iss(ts, 4000);
    TS_CHECK(ts, c != a3 && c != b);
    ts_free(ts);
}

TEST(test_tcp_isn_depends_on_secret)
{
    /* Same tuple and time, different secret: a different ISN (F is keyed
     * by the secret, so an off-path attacker cannot compute it). */
    struct ustack_config cfg;
    ts_config_default(&cfg);
    struct ts *ts1 = ts_new_with(&cfg);
    cfg.secret[0] ^= 1;
    struct ts *ts2 = ts_new_with(&cfg);
    ts_listen(ts1, TS_STACK_PORT, 16);
    ts_listen(ts2, TS_STACK_PORT, 16);
    uint32_t i1 = probe_iss(ts1, 1000);
    uint32_t i2 = probe_iss(ts2, 1000);
    TS_CHECK(ts1, !ts_failed(ts2));
    TS_CHECK(ts1, i1 != i2);
    ts_free(ts1);
    ts_free(ts2);
}
