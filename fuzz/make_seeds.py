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


def ethernet(ethertype, payload, dst=b"\xff" * 6, src=b"\x02\0\0\0\0\x01"):
    return dst + src + struct.pack("!H", ethertype) + payload


def arp_request(target=US, sender=PEER):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1,
                       b"\x02\0\0\0\0\x01", sender, b"\0" * 6, target)


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
        "eth_arp_request": seed(LINK_ETHERNET, ethernet(0x0806, arp_request())),
        "eth_ping": seed(LINK_ETHERNET, ethernet(0x0800, ping, dst=b"\x02\0\0\0\0\x02")),
    }
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
