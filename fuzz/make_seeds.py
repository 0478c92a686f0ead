#!/usr/bin/python3
"""Write the seed corpus for fuzz/fuzz_input.c into a directory.

    make_seeds.py OUTDIR

Seeds are generated, not stored, so the tree holds no binary blobs and a
reader can see what each seed is. The format is the one fuzz_input.c
parses: a flags byte (bit 0: Ethernet link), then records of
[time step byte][16-bit big-endian length][frame].

The stack is 10.0.0.2/24; the peer is 10.0.0.1. The harness listens on TCP
port 80, opens one connection to 10.0.0.1:5000 and echoes UDP on port 7. TCP seeds set the
"relative TCP" flag: their acknowledgment numbers count from the stack's
ISN (ack 1 acknowledges its SYN), and destination port 0 means the port of
the stack's active open (see fuzz_input.c).

Adding a protocol means adding a builder or two below and a line in seeds().
"""

import os
import random
import struct
import sys

US = bytes([10, 0, 0, 2])
PEER = bytes([10, 0, 0, 1])
BROADCAST = bytes([255, 255, 255, 255])
SUBNET_BROADCAST = bytes([10, 0, 0, 255])

PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
UNASSIGNED_PROTO = 253  # RFC 3692 experimental

LINK_IP, LINK_ETHERNET = 0, 1
RELATIVE_TCP = 2          # flag bit: see the docstring
STEP_NONE = 0x00          # time step bytes, see time_step() in fuzz_input.c
STEP_1MS = 0x41
STEP_1S = 0x8A            # 10 x 100 ms
STEP_10MIN = 0xFC         # 60 x 10 s


def checksum(data):
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(proto, payload, src=PEER, dst=US, ident=1, frag=0, ttl=64,
         options=b"", total_len=None, ihl=None, version=4, bad_sum=False):
    """An IPv4 packet; the keyword arguments let one field be wrong."""
    hdr_len = 20 + len(options)
    if ihl is None:
        ihl = hdr_len // 4
    if total_len is None:
        total_len = hdr_len + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, total_len,
                      ident, frag, ttl, proto, 0, src, dst) + options
    s = checksum(hdr)
    if bad_sum:
        s ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", s) + hdr[12:] + payload


def icmp(type_, code, body, bad_sum=False):
    msg = struct.pack("!BBH", type_, code, 0) + body
    s = checksum(msg) ^ (0x5A5A if bad_sum else 0)
    return msg[:2] + struct.pack("!H", s) + msg[4:]


def echo(ident=0x1234, seq=1, data=b"ustack fuzz seed", type_=8, **kw):
    return icmp(type_, 0, struct.pack("!HH", ident, seq) + data, **kw)


def pseudo_header(src, dst, proto, length):
    return struct.pack("!4s4sBBH", src, dst, 0, proto, length)


def tcp(sport, dport, seq, ack, flags, options=b"", data=b"", src=PEER, dst=US):
    off = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags,
                      65535, 0, 0) + options + data
    s = checksum(pseudo_header(src, dst, PROTO_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", s) + seg[18:]


TCP_SYN, TCP_ACK, TCP_PSH, TCP_FIN, TCP_RST = 0x02, 0x10, 0x08, 0x01, 0x04
SYN_OPTIONS = (b"\x02\x04\x05\xb4"             # MSS 1460
               b"\x04\x02"                     # SACK permitted
               b"\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00"  # timestamps
               b"\x01\x03\x03\x07")            # NOP, window scale 7


def udp(sport, dport, data, src=PEER, dst=US):
    dgram = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    s = checksum(pseudo_header(src, dst, PROTO_UDP, len(dgram)) + dgram) or 0xFFFF
    return dgram[:6] + struct.pack("!H", s) + dgram[8:]


OUR_MAC = b"\x02\0\0\0\0\x02"   # the harness gives the stack this MAC
PEER_MAC = b"\x02\0\0\0\0\x01"
ETH_BROADCAST = b"\xff" * 6
ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_IPV6 = 0x0800, 0x0806, 0x86DD
IP_MF = 0x2000


def ethernet(ethertype, payload, dst=ETH_BROADCAST, src=PEER_MAC):
    return dst + src + struct.pack("!H", ethertype) + payload


def eth_ip(packet):
    """An IPv4 packet in a frame to the stack's MAC."""
    return ethernet(ETHERTYPE_IPV4, packet, dst=OUR_MAC)


def arp(op, sender=PEER, target=US, sha=PEER_MAC, tha=b"\0" * 6, htype=1):
    """An Ethernet/IPv4 ARP packet (RFC 826); op 1 request, 2 reply."""
    return struct.pack("!HHBBH6s4s6s4s", htype, 0x0800, 6, 4, op, sha, sender, tha,
                       target)


def arp_request(target=US, sender=PEER, sha=PEER_MAC):
    return arp(1, sender=sender, target=target, sha=sha)


def arp_reply():
    """The peer answering the stack's request for it."""
    return ethernet(ETHERTYPE_ARP, arp(2, target=US, tha=OUR_MAC), dst=OUR_MAC)


def seed(link, *frames, step=STEP_1MS):
    """One input: a flags byte, then each frame as a record."""
    out = bytes([link])
    for f in frames:
        if isinstance(f, tuple):  # (time step, frame)
            s, f = f
        else:
            s = step
        out += bytes([s]) + struct.pack("!H", len(f)) + f
    return out


def fragments():
    """An echo request in two fragments (offsets in 8-byte units)."""
    whole = echo(data=bytes(range(48)))
    return [ipv4(PROTO_ICMP, whole[:32], ident=7, frag=0x2000),  # MF
            ipv4(PROTO_ICMP, whole[32:], ident=7, frag=32 // 8)]


def fragment_train(msg, piece, ident=9, proto=PROTO_ICMP):
    """The transport message msg as IPv4 fragments of `piece` bytes (a
    multiple of 8; the last one shorter), in order."""
    out = []
    for off in range(0, len(msg), piece):
        more = IP_MF if off + piece < len(msg) else 0
        out.append(ipv4(proto, msg[off:off + piece], ident=ident, frag=more | off // 8))
    return out


def shuffled(frames, seed):
    """The same frames in a fixed pseudo-random order."""
    frames = list(frames)
    random.Random(seed).shuffle(frames)
    return frames


def fragment_seeds():
    """Reassembly: every order, copies, overlaps, limits, timeouts."""
    big = echo(data=bytes(i & 0xFF for i in range(3000)))
    small = echo(data=bytes(range(200)) * 3)
    train = fragment_train(big, 1480)
    tiny = fragment_train(small, 64, ident=10)
    return {
        "frag_in_order": seed(LINK_IP, *train),
        "frag_reversed": seed(LINK_IP, *reversed(train)),
        "frag_tiny_shuffled": seed(LINK_IP, *shuffled(tiny, 1), step=STEP_NONE),
        "frag_duplicates": seed(LINK_IP, *[f for f in tiny for _ in (0, 1)], step=STEP_NONE),
        # [0, 64) then [32, 96): the whole datagram goes.
        "frag_overlap": seed(LINK_IP, ipv4(PROTO_ICMP, small[:64], ident=11, frag=IP_MF),
                             ipv4(PROTO_ICMP, small[32:96], ident=11, frag=IP_MF | 4),
                             *fragment_train(small, 64, ident=11)[1:]),
        # Same place, other bytes.
        "frag_copy_differs": seed(LINK_IP, tiny[0], tiny[0][:-1] + b"\xff", *tiny[1:]),
        # Only fragment zero: at the timeout, an ICMP time exceeded.
        "frag_timeout": seed(LINK_IP, train[0], (STEP_10MIN, ping_frame())),
        # Past 65535 bytes (the "ping of death"), and more-follows fragments
        # whose data is not a multiple of 8.
        "frag_too_big": seed(LINK_IP, train[0],
                             ipv4(PROTO_ICMP, b"x" * 100, ident=9, frag=8185)),
        "frag_bad_length": seed(LINK_IP, ipv4(PROTO_ICMP, big[:30], ident=12, frag=IP_MF),
                                ipv4(PROTO_ICMP, b"", ident=12, frag=IP_MF | 4)),
        "frag_udp_echo": seed(LINK_IP, *fragment_train(
            udp(40000, 7, bytes(range(256)) * 10), 1480, ident=13, proto=PROTO_UDP)),
        "frag_unknown_protocol": seed(LINK_IP, *fragment_train(
            b"y" * 700, 512, ident=14, proto=UNASSIGNED_PROTO)),
        "frag_many_datagrams": seed(LINK_IP, *[ipv4(PROTO_ICMP, big[:64], ident=100 + i,
                                                    frag=IP_MF) for i in range(70)],
                                    step=STEP_NONE),
    }


def ping_frame():
    return ipv4(PROTO_ICMP, echo(seq=77))


def ethernet_seeds():
    """Ethernet framing and ARP on a TAP-like link."""
    ping = eth_ip(ipv4(PROTO_ICMP, echo()))
    return {
        "eth_arp_request": seed(LINK_ETHERNET, ethernet(ETHERTYPE_ARP, arp_request())),
        "eth_ping": seed(LINK_ETHERNET, ping),
        # The stack must resolve the peer before it can answer; the reply
        # releases the held echo reply.
        "eth_ping_then_arp_reply": seed(LINK_ETHERNET, ping, arp_reply()),
        # Nobody answers: requests repeat each second, then give up; a ping
        # meanwhile is refused, a later one starts again.
        "eth_ping_unanswered": seed(LINK_ETHERNET, ping, (STEP_1S, ping), (STEP_1S, ping),
                                    (STEP_1S, ping), (STEP_1S, ping), (STEP_10MIN, ping)),
        "eth_arp_unicast_request": seed(LINK_ETHERNET, ethernet(ETHERTYPE_ARP, arp_request(),
                                                                dst=OUR_MAC)),
        "eth_arp_probe": seed(LINK_ETHERNET, ethernet(ETHERTYPE_ARP,
                                                      arp(1, sender=b"\0" * 4))),
        "eth_arp_gratuitous": seed(LINK_ETHERNET, ethernet(ETHERTYPE_ARP, arp_request()),
                                   ethernet(ETHERTYPE_ARP, arp(1, target=PEER,
                                                               sha=b"\x02\0\0\0\0\x09"))),
        "eth_arp_other_target": seed(LINK_ETHERNET, ethernet(ETHERTYPE_ARP,
                                                             arp_request(target=PEER))),
        "eth_arp_conflict": seed(LINK_ETHERNET, ethernet(ETHERTYPE_ARP, arp_request(sender=US))),
        "eth_arp_bad_htype": seed(LINK_ETHERNET, ethernet(ETHERTYPE_ARP, arp(1, htype=6))),
        "eth_arp_unsolicited_reply": seed(LINK_ETHERNET, arp_reply()),
        # A fragmented ping over Ethernet, answered once ARP resolves.
        "eth_frag_ping": seed(LINK_ETHERNET, *[eth_ip(f) for f in fragment_train(
            echo(data=bytes(3000)), 1480)], arp_reply()),
        "eth_not_for_us": seed(LINK_ETHERNET, ping[:0] + b"\x02\0\0\0\0\x07" + ping[6:],
                               ethernet(ETHERTYPE_IPV4, ping[14:],
                                        dst=b"\x01\0\x5e\0\0\x01")),
        "eth_ipv6_and_others": seed(LINK_ETHERNET, ethernet(ETHERTYPE_IPV6, b"\x60" + bytes(39),
                                                            dst=OUR_MAC),
                                    ethernet(0x88CC, bytes(20), dst=OUR_MAC),
                                    ethernet(0x0040, bytes(20), dst=OUR_MAC), b"\x02\0\0"),
        "eth_broadcast_ping": seed(LINK_ETHERNET, ethernet(ETHERTYPE_IPV4, ping[14:])),
        # Resolved first: replies go straight out; ten minutes later the
        # entry is stale and re-checked while still in use.
        "eth_arp_reply_then_pings": seed(LINK_ETHERNET, arp_reply(), ping, (STEP_10MIN, ping),
                                         (STEP_1S, ping), (STEP_1S, arp_reply()), ping),
        # Neighbours other than the peer, learned from their requests (a
        # few more than the harness's small cache holds), and answered.
        "eth_arp_learn_many": seed(LINK_ETHERNET, *[
            f for i in range(3, 9) for f in (
                ethernet(ETHERTYPE_ARP, arp_request(sender=bytes([10, 0, 0, i]),
                                                    sha=bytes([2, 0, 0, 0, 0, i])),
                         src=bytes([2, 0, 0, 0, 0, i])),
                eth_ip(ipv4(PROTO_ICMP, echo(seq=i), src=bytes([10, 0, 0, i]))))]),
    }


def tcp_handshake_and_echo(sport=40000):
    """A client of the port-80 listener: handshake, data, its echo acked,
    FIN, the stack's FIN acked."""
    c = 1000  # client ISN
    seg = lambda seq, ack, flags, **kw: ipv4(PROTO_TCP, tcp(sport, 80, seq, ack, flags, **kw))
    return [
        seg(c, 0, TCP_SYN, options=SYN_OPTIONS),
        seg(c + 1, 1, TCP_ACK),
        seg(c + 1, 1, TCP_ACK | TCP_PSH, data=b"hello\n"),
        (STEP_1MS, seg(c + 7, 7, TCP_ACK)),
        seg(c + 7, 7, TCP_ACK | TCP_FIN),
        (STEP_1S, seg(c + 8, 8, TCP_ACK)),
    ]


def tcp_close_request(cmd, sport):
    """A client asking the echo service to end the connection its way:
    b"Q" half-close (the stack's FIN first), b"C" close, b"R" abort."""
    seg = lambda seq, ack, flags, **kw: ipv4(PROTO_TCP, tcp(sport, 80, seq, ack, flags, **kw))
    return [seg(1, 0, TCP_SYN, options=SYN_OPTIONS),
            seg(2, 1, TCP_ACK),
            seg(2, 1, TCP_ACK | TCP_PSH, data=cmd),
            (STEP_1MS, seg(3, 2, TCP_ACK)),
            (STEP_1MS, seg(3, 2, TCP_ACK | TCP_FIN)),
            (STEP_10MIN, seg(4, 2, TCP_ACK))]


def tcp_active_open():
    """The far end of the harness's connect() to 10.0.0.1:5000."""
    seg = lambda seq, ack, flags, **kw: ipv4(PROTO_TCP, tcp(5000, 0, seq, ack, flags, **kw))
    p = 7000  # peer ISN
    return [
        seg(p, 1, TCP_SYN | TCP_ACK, options=SYN_OPTIONS),
        seg(p + 1, 1, TCP_ACK | TCP_PSH, data=b"from the peer"),
        (STEP_1MS, seg(p + 14, 14, TCP_ACK | TCP_FIN)),
        (STEP_10MIN, seg(p + 15, 15, TCP_ACK)),
    ]


def tcp_syn_flood_then_ack(n=12):
    """More SYNs than the SYN backlog (4): the later ones get SYN cookies;
    the last client then completes its handshake against its cookie."""
    syns = [ipv4(PROTO_TCP, tcp(41000 + i, 80, 5000 + i, 0, TCP_SYN, SYN_OPTIONS))
            for i in range(n)]
    last = n - 1
    ack = ipv4(PROTO_TCP, tcp(41000 + last, 80, 5000 + last + 1, 1, TCP_ACK))
    return syns + [ack]


def tcp_out_of_order():
    """Data arriving out of order after a handshake, then the hole filled."""
    seg = lambda seq, flags, data=b"": ipv4(PROTO_TCP, tcp(40001, 80, seq, 1, flags, data=data))
    return [ipv4(PROTO_TCP, tcp(40001, 80, 100, 0, TCP_SYN, SYN_OPTIONS)),
            seg(101, TCP_ACK),
            seg(111, TCP_ACK | TCP_PSH, b"B" * 10),
            seg(121, TCP_ACK | TCP_PSH | TCP_FIN, b"C" * 10),
            seg(101, TCP_ACK | TCP_PSH, b"A" * 10)]


def seeds():
    ping = ipv4(PROTO_ICMP, echo())
    quoted = ipv4(PROTO_UDP, udp(5000, 53, b"q"), src=US, dst=PEER)[:28]
    record_route = b"\x07\x07\x04\0\0\0\0\x00"  # RR with room for one, END
    syn = ipv4(PROTO_TCP, tcp(40000, 80, 1000, 0, TCP_SYN, SYN_OPTIONS))
    tcp_ip = LINK_IP | RELATIVE_TCP
    malformed = {
        "bad_version": ipv4(PROTO_ICMP, echo(), version=5),
        "ihl_below_5": ipv4(PROTO_ICMP, echo(), ihl=4),
        "ihl_past_frame": ipv4(PROTO_ICMP, b"", ihl=15),
        "length_past_frame": ipv4(PROTO_ICMP, echo(), total_len=200),
        "length_below_header": ipv4(PROTO_ICMP, echo(), total_len=12),
        "bad_ip_checksum": ipv4(PROTO_ICMP, echo(), bad_sum=True),
        "bad_icmp_checksum": ipv4(PROTO_ICMP, echo(bad_sum=True)),
        "icmp_truncated": ipv4(PROTO_ICMP, b"\x08\x00\xf7"),
        "unknown_protocol": ipv4(UNASSIGNED_PROTO, b"hello"),
        "bad_option_length": ipv4(PROTO_ICMP, echo(), options=b"\x07\x00\x00\x00"),
        "truncated_header": ping[:12],
        "tcp_truncated": ipv4(PROTO_TCP, tcp(40000, 80, 1, 0, TCP_SYN)[:12]),
        "tcp_bad_offset": ipv4(PROTO_TCP, bytes([0x9c, 0x40, 0, 80]) + bytes(8) +
                               b"\xf0\x02" + bytes(6)),
    }
    out = {
        "ping": seed(LINK_IP, ping),
        "ping_empty": seed(LINK_IP, ipv4(PROTO_ICMP, echo(data=b""))),
        "ping_full_mtu": seed(LINK_IP, ipv4(PROTO_ICMP, echo(data=b"x" * 1472))),
        "ping_twice": seed(LINK_IP, ping, (STEP_1S, ipv4(PROTO_ICMP, echo(seq=2)))),
        "ping_burst": seed(LINK_IP, *[ipv4(PROTO_ICMP, echo(seq=i), ident=i)
                                      for i in range(40)], step=STEP_NONE),
        "ping_broadcast": seed(LINK_IP, ipv4(PROTO_ICMP, echo(), dst=BROADCAST),
                               ipv4(PROTO_ICMP, echo(), dst=SUBNET_BROADCAST)),
        "ping_not_ours": seed(LINK_IP, ipv4(PROTO_ICMP, echo(), dst=PEER)),
        "ping_with_options": seed(LINK_IP, ipv4(PROTO_ICMP, echo(),
                                                options=record_route)),
        "echo_reply": seed(LINK_IP, ipv4(PROTO_ICMP, echo(type_=0))),
        "dest_unreachable": seed(LINK_IP, ipv4(PROTO_ICMP, icmp(3, 3, b"\0" * 4 + quoted))),
        "fragments": seed(LINK_IP, *fragments()),
        "tcp_syn": seed(tcp_ip, syn),
        "tcp_handshake_echo_close": seed(tcp_ip, *tcp_handshake_and_echo()),
        "tcp_active_open": seed(tcp_ip, *tcp_active_open()),
        "tcp_half_close": seed(tcp_ip, *tcp_close_request(b"Q", 42001)),
        "tcp_close": seed(tcp_ip, *tcp_close_request(b"C", 42002)),
        "tcp_abort": seed(tcp_ip, *tcp_close_request(b"R", 42003)),
        "tcp_syn_flood_cookie": seed(tcp_ip, *tcp_syn_flood_then_ack(), step=STEP_NONE),
        "tcp_out_of_order": seed(tcp_ip, *tcp_out_of_order()),
        "tcp_rst": seed(tcp_ip, ipv4(PROTO_TCP, tcp(40000, 80, 5, 0, TCP_RST))),
        "tcp_closed_port": seed(tcp_ip, ipv4(PROTO_TCP, tcp(40000, 81, 5, 0, TCP_SYN))),
        "udp": seed(LINK_IP, ipv4(PROTO_UDP, udp(40000, 7, b"echo me"))),
        "udp_closed_port": seed(LINK_IP, ipv4(PROTO_UDP, udp(40000, 9, b"nobody"))),
        "udp_no_checksum": seed(LINK_IP, ipv4(PROTO_UDP, struct.pack("!HHHH", 40000, 7, 12, 0) +
                                              b"zero")),
        "udp_bad_length": seed(LINK_IP, ipv4(PROTO_UDP, struct.pack("!HHHH", 40000, 7, 99, 0) +
                                             b"long")),
        "ipv6_header": seed(LINK_IP, bytes([0x60]) + b"\0" * 39),
        "empty_frame": seed(LINK_IP, b""),
        "all_malformed": seed(LINK_IP, *malformed.values()),
    }
    out.update(fragment_seeds())
    out.update(ethernet_seeds())
    for name, pkt in malformed.items():
        out["malformed_" + name] = seed(LINK_IP, pkt, ping)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_seeds.py OUTDIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
