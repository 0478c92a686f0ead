/*
 * Ethernet framing on a TAP-like link: which frames we keep (our MAC and
 * broadcast), dispatch by EtherType, the header on what we send, our MAC,
 * and the next-hop rules (broadcast, off-subnet).
 */
#include <errno.h>

#include "core/stack.h"
#include "eth_fixture.h"
#include "net/arp.h"
#include "net/ipv4.h"

static const uint8_t ping_data[8] = {'e', 't', 'h', 'e', 'r', 'n', 'e', 't'};

/* Teach the stack PEER_MAC for FX_PEER with a request for our address
 * (and consume the reply). */
static void learn_peer(struct ip_fixture *fx)
{
    uint8_t f[100];
    fx_input(fx, f, arp_frame(f, 1, PEER_MAC, FX_PEER, FX_ADDR));
    while (fx_sent(fx, f, sizeof(f)))
        ;
}

/* An Ethernet frame carrying an echo request from FX_PEER to FX_ADDR. */
static size_t echo_frame(uint8_t *f, const uint8_t *dst_mac)
{
    size_t n = fx_build_echo(f + ETH_HDR, FX_PEER, FX_ADDR, 1, 1, ping_data, 8);
    return eth_frame(f, dst_mac, PEER_MAC, 0x0800, f + ETH_HDR, n);
}

TEST(eth_mac_from_secret_or_config)
{
    struct ustack_link *a, *b;
    REQUIRE(ustack_memlink_pair(USTACK_LINK_ETHERNET, 1500, 8, &a, &b) == 0);
    struct ustack_config cfg;
    ustack_config_init(&cfg);
    cfg.addr = FX_ADDR;
    cfg.has_secret = true;
    memset(cfg.secret, 1, sizeof(cfg.secret));
    struct ustack *s1 = ustack_new(&cfg, a, 0);
    struct ustack *s2 = ustack_new(&cfg, a, 0);
    cfg.secret[20] ^= 1;
    struct ustack *s3 = ustack_new(&cfg, a, 0);
    cfg.has_mac = true;
    memcpy(cfg.mac, PEER_MAC, 6);
    struct ustack *s4 = ustack_new(&cfg, a, 0);
    REQUIRE(s1 && s2 && s3 && s4);
    /* Same secret, same MAC; a locally administered unicast one. */
    CHECK_MEM(s1->mac, s2->mac, 6);
    CHECK_EQ(s1->mac[0] & 0x03, 0x02);
    CHECK(memcmp(s1->mac, s3->mac, 6) != 0);
    CHECK_EQ(s3->mac[0] & 0x03, 0x02);
    CHECK_MEM(s4->mac, PEER_MAC, 6);
    /* Each announced itself from its own MAC. */
    uint8_t f[100];
    struct ustack *all[] = {s1, s2, s3, s4};
    for (int i = 0; i < 4; i++) {
        size_t m = (size_t)ustack_link_recv(b, f, sizeof(f));
        CHECK_EQ(m, ETH_HDR + ARP_LEN);
        CHECK_MEM(f + 6, all[i]->mac, 6);
        CHECK_MEM(f, BCAST_MAC, 6);
        ustack_free(all[i]);
    }
    ustack_link_close(a);
    ustack_link_close(b);
}

TEST(eth_keeps_our_mac_and_broadcast_only)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    learn_peer(&fx);
    uint8_t f[200], out[200];
    /* To our MAC: answered, from our MAC to the peer's. */
    size_t n = echo_frame(f, OUR_MAC);
    fx_snapshot(&fx);
    fx_input(&fx, f, n);
    CHECK_EQ(fx.st->stats.icmp_tx_echo_reply - fx.before.icmp_tx_echo_reply, 1);
    size_t m = fx_sent(&fx, out, sizeof(out));
    REQUIRE(is_ip_from_us(out, m, PEER_MAC));
    CHECK(fx_is_ip(out + ETH_HDR, m - ETH_HDR, 1, FX_ADDR, FX_PEER));
    /* Another unicast MAC, or a multicast one: dropped and counted. */
    const uint8_t other[6] = {0x02, 0x75, 0x73, 0x74, 0x6b, 0x02};
    const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    const uint8_t *not_us[] = {other, mcast};
    for (int i = 0; i < 2; i++) {
        n = echo_frame(f, not_us[i]);
        fx_snapshot(&fx);
        fx_input(&fx, f, n);
        FX_CHECK_MOVED(&fx, "link.drop_not_for_us");
        CHECK_EQ(fx_pending(&fx), 0);
    }
    /* A broadcast frame reaches IP too, which goes by the IP destination
     * (ours here): answered. */
    n = echo_frame(f, BCAST_MAC);
    fx_snapshot(&fx);
    fx_input(&fx, f, n);
    CHECK_EQ(fx.st->stats.ip_rx - fx.before.ip_rx, 1);
    CHECK_EQ(fx_pending(&fx), 1);
    fx_close(&fx);
}

TEST(eth_dispatch_by_ethertype)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    uint8_t f[200], payload[60] = {0x60};
    struct {
        uint16_t type;
        const char *counter;
    } cases[] = {
        {0x86dd, "link.drop_ipv6"},
        {0x88cc, "link.drop_unknown_proto"}, /* LLDP */
        {0x8100, "link.drop_unknown_proto"}, /* a VLAN tag */
        {0x0040, "link.drop_unknown_proto"}, /* 802.3 length, not a type */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = eth_frame(f, OUR_MAC, PEER_MAC, cases[i].type, payload, sizeof(payload));
        fx_snapshot(&fx);
        fx_input(&fx, f, n);
        FX_CHECK_MOVED(&fx, cases[i].counter);
    }
    /* Shorter than the header; exactly the header with nothing inside. */
    for (size_t len = 1; len < ETH_HDR; len++) {
        fx_snapshot(&fx);
        fx_input(&fx, f, len);
        FX_CHECK_MOVED(&fx, "link.drop_short_frame");
    }
    size_t n = eth_frame(f, OUR_MAC, PEER_MAC, 0x0800, payload, 0);
    fx_snapshot(&fx);
    fx_input(&fx, f, n);
    FX_CHECK_MOVED(&fx, "ip.rx", "ip.drop_truncated");
    n = eth_frame(f, OUR_MAC, PEER_MAC, 0x0806, payload, 0);
    fx_snapshot(&fx);
    fx_input(&fx, f, n);
    FX_CHECK_MOVED(&fx, "arp.rx", "arp.drop_malformed");
    CHECK_EQ(fx_pending(&fx), 0);
    fx_close(&fx);
}

TEST(eth_padding_ignored)
{
    /* Ethernet pads short frames to 60 bytes: IP trusts its total length
     * and ARP its fixed size, so the padding changes nothing. */
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    uint8_t f[100], out[100];
    size_t n = arp_frame(f, 1, PEER_MAC, FX_PEER, FX_ADDR);
    memset(f + n, 0xee, 60 - n);
    fx_input(&fx, f, 60);
    size_t m = fx_sent(&fx, out, sizeof(out));
    CHECK(is_arp_from_us(out, m, PEER_MAC, 2, PEER_MAC, FX_PEER));
    uint8_t icmp[8];
    size_t il = fx_build_icmp(icmp, 8, 0, 0x00010001, NULL, 0);
    n = fx_build_ip(f + ETH_HDR, FX_PEER, FX_ADDR, 1, icmp, il);
    eth_frame(f, OUR_MAC, PEER_MAC, 0x0800, f + ETH_HDR, n);
    memset(f + ETH_HDR + n, 0xee, 60 - ETH_HDR - n);
    fx_input(&fx, f, 60);
    m = fx_sent(&fx, out, sizeof(out));
    REQUIRE(is_ip_from_us(out, m, PEER_MAC));
    CHECK_EQ(m, ETH_HDR + 28);
    fx_close(&fx);
}

TEST(eth_next_hop_rules)
{
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    uint8_t out[200];
    /* Off our subnet: no router, so EHOSTUNREACH at once, counted. */
    fx_snapshot(&fx);
    CHECK_EQ(ustack_ping_send(fx.st, 0x0a000102u, 1, 1, ping_data, 8), -EHOSTUNREACH);
    FX_CHECK_MOVED(&fx, "ip.drop_no_route");
    CHECK_EQ(fx_pending(&fx), 0);
    /* Broadcast addresses go to the broadcast MAC, with no ARP. */
    uint32_t bcasts[] = {0xffffffffu, 0x0a0000ffu};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(ustack_ping_send(fx.st, bcasts[i], 1, 2, ping_data, 8), 0);
        size_t m = fx_sent(&fx, out, sizeof(out));
        CHECK(is_ip_from_us(out, m, BCAST_MAC));
        CHECK_EQ(fx.st->stats.arp_tx_request, 0);
    }
    /* On the subnet: ARP first. */
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 1, 3, ping_data, 8), 0);
    size_t m = fx_sent(&fx, out, sizeof(out));
    static const uint8_t zero[6];
    CHECK(is_arp_from_us(out, m, BCAST_MAC, 1, zero, FX_PEER));
    CHECK_EQ(arp_queued(fx.st, FX_PEER), 1);
    fx_close(&fx);
}

TEST(eth_fragments_carry_headers)
{
    /* A 4000-byte echo reply over Ethernet: three fragments, each an
     * Ethernet frame to the peer no larger than MTU + 14. */
    struct ip_fixture fx;
    REQUIRE(eth_open(&fx, NULL, true));
    learn_peer(&fx);
    static uint8_t data[4000];
    CHECK_EQ(ustack_ping_send(fx.st, FX_PEER, 1, 1, data, sizeof(data)), 0);
    uint8_t out[FX_MTU + ETH_HDR + 10];
    size_t m, count = 0, bytes = 0;
    while ((m = fx_sent(&fx, out, sizeof(out))) > 0) {
        count++;
        CHECK(is_ip_from_us(out, m, PEER_MAC));
        CHECK(m <= FX_MTU + ETH_HDR);
        bytes += m - ETH_HDR - 20;
    }
    CHECK_EQ(count, 3);
    CHECK_EQ(bytes, sizeof(data) + 8);
    fx_close(&fx);
}
