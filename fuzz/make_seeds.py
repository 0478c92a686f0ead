#!/usr/bin/python3
"""Write the seed corpus for fuzz/fuzz_input.c into a directory.

    make_seeds.py OUTDIR

Seeds are generated, not stored, so the tree holds no binary blobs and a
reader can see what each seed is. The format is the one fuzz_input.c
parses: a flags byte (bit 0: Ethernet link), then records of
[time step byte][16-bit big-endian length][frame].

The stack is 10.0.0.2/24; the peer is 10.0.0.1. The harness listens on TCP
port 80, opens one connection to 10.0.0.1:5000 and echoes UDP on port 7. TCP seeds set the
"relative TCP" flag (see fuzz_input.c): numbers the stack chose count from
its choice. Acknowledgment numbers and SACK block edges count from the
stack's ISN (ack 1 acknowledges its SYN), a timestamp echo (TSecr) from
the stack's last TSval (0 echoes it), and the sequence number quoted in an
ICMP error from the ISN too; destination port 0 (or quoted source port 0)
means the port of the stack's active open.

Timestamps (RFC 7323): once both SYNs carried them, every later segment
must carry one too (§3.2) with a TSval that does not go back (PAWS, §5.3),
or the stack drops it. TcpPeer below keeps that bookkeeping.

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
BATCHED = 4               # flag bit: records with time step 0 join a batch
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


def tcp(sport, dport, seq, ack, flags, options=b"", data=b"", src=PEER, dst=US,
        window=65535):
    """A TCP segment; options must be padded to a multiple of 4 bytes."""
    off = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags,
                      window, 0, 0) + options + data
    s = checksum(pseudo_header(src, dst, PROTO_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", s) + seg[18:]


TCP_SYN, TCP_ACK, TCP_PSH, TCP_FIN, TCP_RST = 0x02, 0x10, 0x08, 0x01, 0x04
MSS_1460 = b"\x02\x04\x05\xb4"
SACK_PERMITTED = b"\x04\x02"
WSCALE_7 = b"\x01\x03\x03\x07"                # NOP, window scale 7
SYN_OPTIONS = (MSS_1460 + SACK_PERMITTED
               + b"\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00"  # timestamps 1, 0
               + WSCALE_7)
# Everything but timestamps: later segments need none.
SYN_OPTIONS_NO_TS = MSS_1460 + b"\x01\x01" + SACK_PERMITTED + WSCALE_7
# The stack's MSS with timestamps on every segment: 1460 - 12.
TS_MSS = 1448


def ts_option(tsval, tsecr=0):
    """NOP, NOP, timestamps (RFC 7323 Appendix A). In a relative seed,
    TSecr 0 echoes the stack's last TSval."""
    return b"\x01\x01\x08\x0a" + struct.pack("!II", tsval, tsecr)


def sack_option(*blocks):
    """NOP, NOP, SACK (RFC 2018 §3); block edges are relative (see top)."""
    body = b"".join(struct.pack("!II", a, b) for a, b in blocks)
    return b"\x01\x01\x05" + bytes([2 + len(body)]) + body


def offers_timestamps(options):
    """Does a SYN's option list hold a timestamp option?"""
    i = 0
    while i < len(options) and options[i] != 0:
        if options[i] == 1:
            i += 1
            continue
        if options[i] == 8:
            return True
        i += max(options[i + 1], 2)
    return False


class TcpPeer:
    """The far end of one connection, as seed frames.

    It keeps its own sequence number (advanced by the data, SYN and FIN it
    sends) and, when timestamps are on, a TSval that goes up by one per
    segment, so each segment passes PAWS. Acknowledgment numbers are the
    caller's: they count the stack's bytes, relative to its ISN.

    The echo service takes a chunk starting with Q, C or R as a request to
    close (see fuzz_input.c): data meant to be echoed starts otherwise."""

    def __init__(self, sport, dport, isn, syn_options=SYN_OPTIONS, window=65535):
        self.sport, self.dport = sport, dport
        self.seq = isn
        self.syn_options = syn_options
        self.ts = offers_timestamps(syn_options)
        self.tsval = 1  # what SYN_OPTIONS carries
        self.window = window

    def syn(self, ack=None):
        """The SYN (with ack: the SYN-ACK answering the stack's SYN)."""
        flags = TCP_SYN | (TCP_ACK if ack is not None else 0)
        frame = ipv4(PROTO_TCP, tcp(self.sport, self.dport, self.seq, ack or 0, flags,
                                    self.syn_options, window=self.window))
        self.seq += 1
        return frame

    def seg(self, ack, flags=TCP_ACK, data=b"", sack=(), window=None, tsval=None,
            ts=None, seq=None):
        """A segment after the SYN. tsval overrides the clock (PAWS tests),
        ts=False leaves the option out, seq sends from elsewhere (out of
        order) without moving the peer's own sequence number."""
        options = b""
        if self.ts if ts is None else ts:
            self.tsval += 1
            options += ts_option(self.tsval if tsval is None else tsval)
        if sack:
            options += sack_option(*sack)
        at = self.seq if seq is None else seq
        frame = ipv4(PROTO_TCP, tcp(self.sport, self.dport, at, ack, flags, options, data,
                                    window=self.window if window is None else window))
        if seq is None:
            self.seq += len(data) + (1 if flags & TCP_FIN else 0)
        return frame


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


def tcp_handshake_and_echo(sport=40000, syn_options=SYN_OPTIONS):
    """A client of the port-80 listener: handshake, data, its echo acked,
    FIN, the stack's FIN acked."""
    p = TcpPeer(sport, 80, 1000, syn_options)
    return [
        p.syn(),
        p.seg(1),
        p.seg(1, TCP_ACK | TCP_PSH, b"hello\n"),
        (STEP_1MS, p.seg(7)),
        p.seg(7, TCP_ACK | TCP_FIN),
        (STEP_1S, p.seg(8)),
    ]


def tcp_close_request(cmd, sport):
    """A client asking the echo service to end the connection its way:
    b"Q" half-close (the stack's FIN first), b"C" close, b"R" abort."""
    p = TcpPeer(sport, 80, 1)
    return [p.syn(),
            p.seg(1),
            p.seg(1, TCP_ACK | TCP_PSH, cmd),
            (STEP_1MS, p.seg(2)),
            (STEP_1MS, p.seg(2, TCP_ACK | TCP_FIN)),
            (STEP_10MIN, p.seg(2))]


def tcp_active_open():
    """The far end of the harness's connect() to 10.0.0.1:5000."""
    p = TcpPeer(5000, 0, 7000)
    return [
        p.syn(ack=1),
        p.seg(1, TCP_ACK | TCP_PSH, b"from the peer"),
        (STEP_1MS, p.seg(14, TCP_ACK | TCP_FIN)),
        (STEP_10MIN, p.seg(15)),
    ]


def tcp_syn_flood_then_ack(n=12):
    """More SYNs than the SYN backlog (4): the later ones get SYN cookies;
    the last client then completes its handshake against its cookie. A
    cookie SYN-ACK offers no timestamps (syncookie.c), so the rest of that
    connection goes without; it echoes a line and closes."""
    syns = [ipv4(PROTO_TCP, tcp(41000 + i, 80, 5000 + i, 0, TCP_SYN, SYN_OPTIONS))
            for i in range(n)]
    last = TcpPeer(41000 + n - 1, 80, 5000 + n - 1, syn_options=b"")
    last.syn()
    return syns + [last.seg(1), last.seg(1, TCP_ACK | TCP_PSH, b"cookie\n"),
                   (STEP_1MS, last.seg(8, TCP_ACK | TCP_FIN)), (STEP_1S, last.seg(9))]


def tcp_out_of_order(syn_options=SYN_OPTIONS, sport=40001):
    """Data arriving out of order after a handshake (the stack's ACKs carry
    SACK blocks, RFC 2018 §4), then the holes filled."""
    p = TcpPeer(sport, 80, 100, syn_options)
    frames = [p.syn(), p.seg(1)]
    start = p.seq
    frames += [p.seg(1, TCP_ACK | TCP_PSH, b"B" * 10, seq=start + 10),
               p.seg(1, TCP_ACK | TCP_PSH, b"D" * 10, seq=start + 30),
               p.seg(1, TCP_ACK | TCP_PSH | TCP_FIN, b"F" * 10, seq=start + 50),
               p.seg(1, TCP_ACK | TCP_PSH, b"C" * 10, seq=start + 20),
               p.seg(1, TCP_ACK | TCP_PSH, b"E" * 10, seq=start + 40),
               p.seg(1, TCP_ACK | TCP_PSH, b"A" * 10, seq=start)]
    return frames


def tcp_established(sport, syn_options=SYN_OPTIONS, isn=1, window=65535):
    """A peer of the port-80 listener and the frames of its handshake."""
    p = TcpPeer(sport, 80, isn, syn_options, window=window)
    return p, [p.syn(), p.seg(1)]


def tcp_sack_recovery(options=None, sport=40010, ack_step=STEP_1MS):
    """The stack sends a flight (the echo of six full segments), the peer
    loses its first segment and reports the rest in SACK blocks: three
    duplicate ACKs start SACK loss recovery (RFC 6675), a partial ACK
    leaves a second hole, a full ACK ends recovery. With options, the
    connection first sets those socket options (see tcp_options_request);
    ack_step STEP_NONE puts the duplicate ACKs in one batch (BATCHED)."""
    if options:
        p, frames = tcp_options_request(options, sport)
    else:
        p, frames = tcp_established(sport)
    n = 6
    frames += [p.seg(1, TCP_ACK | TCP_PSH, bytes([0x61 + i]) * TS_MSS) for i in range(n)]
    seg = lambda i: 1 + i * TS_MSS  # where the stack's segment i starts
    frames += [p.seg(1, sack=[(seg(1), seg(2))]),
               (ack_step, p.seg(1, sack=[(seg(1), seg(3))])),
               (ack_step, p.seg(1, sack=[(seg(1), seg(3)), (seg(4), seg(5))])),
               (ack_step, p.seg(1, sack=[(seg(1), seg(3)), (seg(4), seg(6))])),
               p.seg(seg(3), sack=[(seg(4), seg(6))]),
               p.seg(seg(n), TCP_ACK | TCP_FIN),
               (STEP_1MS, p.seg(seg(n) + 1))]
    return frames


def tcp_sack_after_timeout():
    """A flight that goes unacknowledged until the retransmission timer
    fires; SACK blocks arrive after the timeout, then the rest."""
    p, frames = tcp_established(40011)
    frames += [p.seg(1, TCP_ACK | TCP_PSH, b"x" * TS_MSS) for _ in range(4)]
    end = 1 + 4 * TS_MSS
    frames += [(STEP_1S, p.seg(1, sack=[(1 + TS_MSS, end)])),
               (STEP_1S, p.seg(1 + TS_MSS, sack=[(1 + 2 * TS_MSS, end)])),
               p.seg(end)]
    return frames


def tcp_newreno_recovery():
    """No SACK, no timestamps: duplicate ACKs alone start NewReno fast
    recovery (RFC 6582), a partial ACK retransmits the next hole."""
    p, frames = tcp_established(40012, syn_options=MSS_1460 + WSCALE_7)
    mss = 1460
    frames += [p.seg(1, TCP_ACK | TCP_PSH, b"y" * mss) for _ in range(6)]
    frames += [p.seg(1) for _ in range(4)]
    frames += [p.seg(1 + 2 * mss), p.seg(1 + 2 * mss), p.seg(1 + 6 * mss)]
    return frames


def tcp_zero_window():
    """Window scaling: the peer's window field counts 128-byte units (shift
    7). It offers 128 bytes (too little to send into: sender silly-window
    avoidance), then none: the stack probes it (RFC 9293 §3.8.6.1) while
    the peer keeps answering "window 0"; then the window opens, in two
    steps, and everything is acknowledged."""
    p, frames = tcp_established(40013)
    data = b"z" * 2000
    frames += [p.seg(1, TCP_ACK | TCP_PSH, data[:1000], window=1),
               p.seg(1, TCP_ACK | TCP_PSH, data[1000:], window=0)]
    frames += [(STEP_1S, p.seg(1, window=0)) for _ in range(4)]
    sent = [1 + 512, 1 + 512 + TS_MSS, 1 + len(data)]  # what the stack sends then
    frames += [p.seg(1, window=4)] + [(STEP_1MS, p.seg(a, window=512)) for a in sent]
    return frames


def tcp_wscale_clamped():
    """A window scale above 14 in the SYN (RFC 7323 §2.3: use 14)."""
    syn_options = MSS_1460 + SACK_PERMITTED + ts_option(1)[2:] + b"\x01\x03\x03\x0f"
    p, frames = tcp_established(40014, syn_options=syn_options)
    return frames + [p.seg(1, TCP_ACK | TCP_PSH, b"big window\n", window=1),
                     (STEP_1MS, p.seg(12, window=1))]


def tcp_paws():
    """Timestamps against old and missing ones (RFC 7323 §3.2, §5.3): an
    older data segment (dropped, answered), an older pure ACK (dropped
    quietly), one without the option (dropped), a SYN without it
    (challenge ACK), then the connection goes on; a RST ends it."""
    p, frames = tcp_established(40015)
    frames += [p.seg(1, TCP_ACK | TCP_PSH, b"one\n"),
               p.seg(5, TCP_ACK | TCP_PSH, b"old\n", tsval=1, seq=p.seq),
               p.seg(5, tsval=1),
               p.seg(5, TCP_ACK | TCP_PSH, b"none\n", ts=False, seq=p.seq),
               ipv4(PROTO_TCP, tcp(40015, 80, p.seq, 0, TCP_SYN, MSS_1460)),
               p.seg(5, TCP_ACK | TCP_PSH, b"two\n"),
               (STEP_1MS, p.seg(9)),
               p.seg(9, TCP_RST, ts=False)]
    return frames


TICK = b""  # an empty frame: the stack drops it, but time moves and timers run


def tcp_options_request(letters, sport):
    """A connection whose first chunk asks the echo service to set socket
    options ("#" and letters, see set_options in fuzz_input.c), and the
    frames so far; the chunk is not echoed."""
    p, frames = tcp_established(sport)
    return p, frames + [p.seg(1, TCP_ACK | TCP_PSH, b"#" + letters)]


def tcp_keepalive():
    """Keep-alive (RFC 1122 §4.2.3.6) after one second idle: the first probe
    is answered, the next ones are not, and the connection fails."""
    p, frames = tcp_options_request(b"K", 40030)
    return frames + [(STEP_1S, TICK), (STEP_1MS, p.seg(1)), (STEP_1S, TICK),
                     (STEP_1S, TICK), (STEP_1S, TICK), (STEP_1S, TICK)]


def tcp_user_timeout():
    """A 3 s user timeout: the echo goes unacknowledged and the connection
    fails before the retry count would end it."""
    p, frames = tcp_options_request(b"UD", 40031)
    return frames + [p.seg(1, TCP_ACK | TCP_PSH, b"never acked\n")] + \
        [(STEP_1S, TICK)] * 5


def tcp_small_buffers():
    """2 KiB buffers asked for on a live connection: the receive side keeps
    the window it offered (no retraction), the send side takes 2 KiB, so
    the echo of 4000 bytes stops at 2048 (the harness drops the rest)."""
    p, frames = tcp_options_request(b"B", 40032)
    chunk = b"s" * 1000
    frames += [p.seg(1, TCP_ACK | TCP_PSH, chunk) for _ in range(4)]
    return frames + [(STEP_1MS, p.seg(1 + len(chunk))), (STEP_1MS, p.seg(1 + 2048)),
                     p.seg(1 + 2048, TCP_ACK | TCP_FIN), (STEP_1MS, p.seg(2 + 2048))]


def tcp_fin_wait_2_timeout():
    """The echo service closes ("C"); the peer acknowledges the FIN but
    never sends its own: the orphaned FIN-WAIT-2 connection times out."""
    p, frames = tcp_established(40033)
    return frames + [p.seg(1, TCP_ACK | TCP_PSH, b"C"), (STEP_1MS, p.seg(2)),
                     (STEP_10MIN, TICK)]


def tcp_delayed_ack():
    """After a half-close ("Q") the service has nothing to send back: the
    peer's further data is acknowledged by the delayed-ACK timer."""
    p, frames = tcp_established(40034)
    return frames + [p.seg(1, TCP_ACK | TCP_PSH, b"Q"), (STEP_1MS, p.seg(2)),
                     p.seg(2, TCP_ACK | TCP_PSH, b"more"), (STEP_1S, TICK),
                     p.seg(2, TCP_ACK | TCP_PSH, b"and more"), (STEP_1S, TICK),
                     p.seg(2, TCP_ACK | TCP_FIN), (STEP_1S, p.seg(2))]


def tcp_batched():
    """Batched input (flag BATCHED: frames with time step 0 join the batch
    of the frame before): four data segments in one batch get one ACK; the
    echo's first segment is acknowledged in a batch with more data, and
    what the ACK lets go and the ACK the data owes wait for the batch's end;
    an out-of-order segment in a batch is answered at once (a duplicate
    ACK), then the hole is filled and the connection closes in one batch."""
    p, frames = tcp_established(40035)
    chunk = b"b" * 500
    frames += [p.seg(1, TCP_ACK | TCP_PSH, chunk)]
    frames += [(STEP_NONE, p.seg(1, TCP_ACK | TCP_PSH, chunk)) for _ in range(3)]
    # The echo: 1448 bytes, then (Nagle) the other 552 once that is acked.
    frames += [(STEP_1MS, p.seg(1 + TS_MSS)),
               (STEP_NONE, p.seg(1 + TS_MSS, TCP_ACK | TCP_PSH, b"tail\n")),
               (STEP_1MS, p.seg(1 + 2000))]
    hole = p.seq
    frames += [(STEP_1MS, p.seg(1 + 2005, TCP_ACK | TCP_PSH, b"late\n", seq=hole + 5)),
               (STEP_NONE, p.seg(1 + 2005, TCP_ACK | TCP_PSH, b"5 by\n")),
               (STEP_1MS, p.seg(1 + 2015, seq=hole + 10)),
               (STEP_NONE, p.seg(1 + 2015, TCP_ACK | TCP_FIN, seq=hole + 10)),
               (STEP_1MS, p.seg(1 + 2016, seq=hole + 11))]
    return frames


def on_ethernet(frames):
    """IPv4 seed frames (some (step, frame) pairs) in Ethernet frames."""
    return [(f[0], eth_ip(f[1])) if isinstance(f, tuple) else eth_ip(f) for f in frames]


def tcp_over_ethernet():
    """TCP on a TAP link: the peer's ARP request teaches the stack its MAC
    (RFC 826: the target learns the sender), then a handshake, echo and
    close as on the IP link, and the far end of the active open, whose
    SYN waited for the ARP reply."""
    learn = ethernet(ETHERTYPE_ARP, arp_request())
    return [learn] + on_ethernet(tcp_handshake_and_echo(40006)) + \
        [arp_reply()] + on_ethernet(tcp_active_open())


def icmp_error(type_, code, quoted_segment, info=0, src=PEER, total_len=None, quote=None):
    """An ICMP error about a TCP segment the stack sent (from 10.0.0.2 to
    the peer), quoting the IP header and `quote` bytes of the segment
    (default: all of it)."""
    packet = ipv4(PROTO_TCP, quoted_segment, src=US, dst=PEER, total_len=total_len)
    if quote is not None:
        packet = packet[:20 + quote]
    return ipv4(PROTO_ICMP, icmp(type_, code, struct.pack("!I", info) + packet), src=src)


ROUTER = bytes([10, 0, 0, 254])


def our_segment(sport, dport, seq, ack=0, flags=TCP_ACK, data=b""):
    """What a segment the stack sent looks like, for a quote. seq counts
    from the stack's ISN (relative seeds: the harness makes it absolute)."""
    return tcp(sport, dport, seq, ack, flags, data=data, src=US, dst=PEER)


def tcp_icmp_frag_needed(mtu=1006, sport=40020):
    """Path MTU discovery (RFC 1191): the stack's full-sized segment (the
    echo of the peer's) is too big for a router, which says so; the stack
    lowers its MSS and sends again at once. mtu 0: a router that does not
    say (the stack picks the plateau below); below 576: the floor."""
    p, frames = tcp_established(sport)
    frames += [p.seg(1, TCP_ACK | TCP_PSH, b"m" * TS_MSS),
               p.seg(1, TCP_ACK | TCP_PSH, b"n" * TS_MSS)]
    quoted = our_segment(80, sport, 1, p.seq, data=b"m" * 8)
    frames += [icmp_error(3, 4, quoted, info=mtu, src=ROUTER, total_len=40 + 12 + TS_MSS,
                          quote=28),
               (STEP_1MS, p.seg(1 + 2 * TS_MSS))]
    return frames


def tcp_icmp_soft_errors():
    """Errors that must not end an established connection (RFC 1122
    §4.2.3.9): time exceeded, host unreachable, parameter problem, and
    port unreachable once synchronized (RFC 5927 §4.2); then one quoting a
    sequence number outside the flight, one for no connection, and one
    with a quote too short. The connection outlives them."""
    p, frames = tcp_established(40021)
    frames.append(p.seg(1, TCP_ACK | TCP_PSH, b"q" * 100))
    quoted = our_segment(80, 40021, 1, p.seq, flags=TCP_ACK | TCP_PSH)
    frames += [icmp_error(11, 0, quoted, src=ROUTER, quote=8),
               icmp_error(3, 1, quoted, src=ROUTER),
               icmp_error(12, 0, quoted, info=0x14000000, src=ROUTER),
               icmp_error(3, 3, quoted),
               icmp_error(3, 13, quoted, src=ROUTER),
               icmp_error(3, 1, our_segment(80, 40021, 101, p.seq), src=ROUTER),
               icmp_error(3, 1, our_segment(80, 40999, 1, p.seq), src=ROUTER),
               icmp_error(3, 1, quoted, src=ROUTER, quote=4),
               p.seg(101, TCP_ACK | TCP_PSH, b"still here\n"),
               (STEP_1MS, p.seg(112))]
    return frames


def tcp_icmp_port_unreachable_connect():
    """The stack's connect() to 10.0.0.1:5000 meets "port unreachable"
    quoting its SYN (relative seq 0): the connect fails (ECONNREFUSED)."""
    return [icmp_error(3, 3, our_segment(0, 5000, 0, flags=TCP_SYN))]


def tcp_icmp_host_unreachable_connect():
    """"Host unreachable" for the stack's SYN is soft (RFC 1122 §4.2.3.9):
    the SYN goes on being retransmitted until the connection times out,
    and reports EHOSTUNREACH."""
    err = icmp_error(3, 1, our_segment(0, 5000, 0, flags=TCP_SYN), src=ROUTER)
    return [err, (STEP_1S, err)] + [(STEP_10MIN, err)] * 9


def tcp_icmp_unreachable_half_open():
    """Port unreachable quoting the stack's SYN-ACK to a client: the
    half-open connection goes away quietly."""
    p = TcpPeer(40022, 80, 1)
    return [p.syn(), icmp_error(3, 3, our_segment(80, 40022, 0, p.seq, TCP_SYN | TCP_ACK)),
            p.seg(1)]


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
        "tcp_no_timestamps": seed(tcp_ip, *tcp_handshake_and_echo(40002, SYN_OPTIONS_NO_TS)),
        "tcp_no_options": seed(tcp_ip, *tcp_handshake_and_echo(40003, b"")),
        "tcp_out_of_order_no_timestamps": seed(tcp_ip, *tcp_out_of_order(SYN_OPTIONS_NO_TS,
                                                                         40004)),
        "tcp_sack_recovery": seed(tcp_ip, *tcp_sack_recovery()),
        "tcp_sack_after_timeout": seed(tcp_ip, *tcp_sack_after_timeout()),
        "tcp_newreno_recovery": seed(tcp_ip, *tcp_newreno_recovery()),
        "tcp_zero_window": seed(tcp_ip, *tcp_zero_window()),
        "tcp_wscale_clamped": seed(tcp_ip, *tcp_wscale_clamped()),
        "tcp_paws": seed(tcp_ip, *tcp_paws()),
        "tcp_sack_recovery_newreno_traced": seed(tcp_ip, *tcp_sack_recovery(b"NT", 40016)),
        "tcp_keepalive": seed(tcp_ip, *tcp_keepalive()),
        "tcp_user_timeout": seed(tcp_ip, *tcp_user_timeout()),
        "tcp_small_buffers": seed(tcp_ip, *tcp_small_buffers()),
        "tcp_fin_wait_2_timeout": seed(tcp_ip, *tcp_fin_wait_2_timeout()),
        "tcp_delayed_ack": seed(tcp_ip, *tcp_delayed_ack()),
        "tcp_batched": seed(tcp_ip | BATCHED, *tcp_batched()),
        "tcp_over_ethernet": seed(LINK_ETHERNET | RELATIVE_TCP, *tcp_over_ethernet()),
        "tcp_sack_recovery_batched": seed(tcp_ip | BATCHED, *tcp_sack_recovery(
            sport=40017, ack_step=STEP_NONE)),
        "tcp_icmp_frag_needed": seed(tcp_ip, *tcp_icmp_frag_needed()),
        "tcp_icmp_frag_needed_no_mtu": seed(tcp_ip, *tcp_icmp_frag_needed(0, 40023)),
        "tcp_icmp_frag_needed_floor": seed(tcp_ip, *tcp_icmp_frag_needed(296, 40024)),
        "tcp_icmp_soft_errors": seed(tcp_ip, *tcp_icmp_soft_errors()),
        "tcp_icmp_port_unreachable_connect": seed(tcp_ip, *tcp_icmp_port_unreachable_connect()),
        "tcp_icmp_host_unreachable_connect": seed(tcp_ip, *tcp_icmp_host_unreachable_connect()),
        "tcp_icmp_unreachable_half_open": seed(tcp_ip, *tcp_icmp_unreachable_half_open()),
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
