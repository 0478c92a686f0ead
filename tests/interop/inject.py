#!/usr/bin/python3
"""Inject hand-made IPv4 frames into ustack from the kernel side of its TUN.

    inject.py --ifname ustk0 --src 10.0.0.1 --dst 10.0.0.2 CASE...
    inject.py --list

Run inside the test's network namespace (needs root). Each CASE starts from
a valid packet built with scapy and changes exactly one thing. The frames are
written to an AF_PACKET socket bound to the TUN device: a TUN device has no
link header, so the bytes reach ustack's read() exactly as built, including
malformations that the kernel's IP output path would refuse or repair.

Prints, for each case, "sent CASE N" (N frames). Cases that expect an answer
from ustack also print "reply CASE ok" or "reply CASE bad: why"; answers are
read from a raw ICMP socket opened before anything is sent.

The expected effect of each case on ustack's counters lives in the calling
script (tests/interop/malformed.sh); this file only builds and sends.
"""

import argparse
import socket
import struct
import sys
import time

from scapy.all import ICMP, IP, Raw, fragment, raw

ETH_P_IP = 0x0800
UNASSIGNED_PROTO = 253  # RFC 3692: reserved for experiments, never handled
IDENT = 0x7573          # IP identification and ICMP id of our packets ("us")


def inet_checksum(data):
    """RFC 1071 Internet checksum of bytes."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def set_ip_checksum(pkt, hdr_len=20):
    """Recompute the IPv4 header checksum over hdr_len bytes (in place)."""
    pkt[10:12] = b"\0\0"
    pkt[10:12] = struct.pack("!H", inet_checksum(bytes(pkt[:hdr_len])))
    return pkt


def set_total_length(pkt, value):
    pkt[2:4] = struct.pack("!H", value)
    return set_ip_checksum(pkt)


def echo_request(a, payload=b"ustack interop test"):
    return bytearray(raw(IP(src=a.src, dst=a.dst, id=IDENT) /
                         ICMP(type=8, id=IDENT, seq=1) / Raw(payload)))


# ---- the cases: each returns a list of frames ---------------------------------

def ip_bad_version(a):
    pkt = echo_request(a)
    pkt[0] = 0x55  # version 5, IHL 5
    return [set_ip_checksum(pkt)]


def ip_ihl_below_5(a):
    pkt = echo_request(a)
    pkt[0] = 0x44  # IHL 4: 16 bytes, less than the fixed header
    return [set_ip_checksum(pkt)]


def ip_ihl_past_frame(a):
    pkt = echo_request(a, b"")  # 28 bytes in all
    pkt[0] = 0x4F  # IHL 15: a 60-byte header in a 28-byte frame
    return [set_ip_checksum(pkt)]


def ip_truncated(a):
    return [echo_request(a)[:12]]  # shorter than any IPv4 header


def ip_length_past_frame(a):
    pkt = echo_request(a)
    return [set_total_length(pkt, len(pkt) + 100)]


def ip_length_below_header(a):
    return [set_total_length(echo_request(a), 16)]


def ip_bad_options(a):
    """An option whose length byte runs past the header (RFC 791 3.1)."""
    pkt = bytearray(raw(IP(src=a.src, dst=a.dst, id=IDENT,
                           options=b"\x07\x27\x04\x00") /
                        ICMP(type=8, id=IDENT, seq=1) / Raw(b"options")))
    return [set_ip_checksum(pkt, (pkt[0] & 0x0F) * 4)]


def ip_bad_checksum(a):
    pkt = echo_request(a)
    pkt[10] ^= 0x5A  # never turns one valid form into the other (0 / 0xffff)
    pkt[11] ^= 0x5A
    return [pkt]


def icmp_bad_checksum(a):
    pkt = echo_request(a)
    pkt[22] ^= 0x5A  # the ICMP checksum; the IP header stays valid
    pkt[23] ^= 0x5A
    return [pkt]


def icmp_truncated(a):
    pkt = echo_request(a)[:23]  # IP header + 3 bytes: less than ICMP's 4/8
    return [set_total_length(pkt, 23)]


def ip_unknown_protocol(a):
    return [bytearray(raw(IP(src=a.src, dst=a.dst, id=IDENT,
                             proto=UNASSIGNED_PROTO) /
                          Raw(b"no such protocol here")))]


def fragment_of(a, ident, offset_units, more, payload):
    """One IPv4 fragment carrying payload (a slice of an ICMP message)."""
    return bytearray(raw(IP(src=a.src, dst=a.dst, id=ident, proto=1,
                            flags="MF" if more else 0, frag=offset_units) /
                         Raw(payload)))


def echo_message(seq, data):
    return raw(ICMP(type=8, id=IDENT, seq=seq) / Raw(data))


FRAGMENTED_SEQ, DUPLICATE_SEQ = 2, 3


def ip_fragments(a):
    """An echo request in two fragments: reassembled and answered."""
    whole = IP(src=a.src, dst=a.dst, id=IDENT) / \
        ICMP(type=8, id=IDENT, seq=FRAGMENTED_SEQ) / Raw(b"f" * 56)
    return [bytearray(raw(f)) for f in fragment(whole, fragsize=32)]


def ip_fragment_duplicate(a):
    """The first fragment twice (a network duplicate), then the last: the
    copy is ignored, the datagram still reassembled and answered."""
    msg = echo_message(DUPLICATE_SEQ, b"d" * 40)  # 48 bytes
    first = fragment_of(a, IDENT + 3, 0, True, msg[:24])
    return [first, first, fragment_of(a, IDENT + 3, 3, False, msg[24:])]


def ip_fragment_overlap(a):
    """A second fragment starting inside the first with other bytes: the
    whole datagram is dropped (overlaps are how filters are evaded)."""
    msg = echo_message(4, b"o" * 24)  # 32 bytes
    return [fragment_of(a, IDENT + 4, 0, True, msg[:16]),
            fragment_of(a, IDENT + 4, 1, False, b"X" * 16)]


def ip_fragment_bad_length(a):
    """More fragments follow, but this one's length is not a multiple of 8
    (RFC 791 3.2): it cannot be placed."""
    return [fragment_of(a, IDENT + 5, 0, True, echo_message(5, b"b" * 5))]


def ip_fragment_past_64k(a):
    """The "ping of death": a fragment that ends past the largest datagram
    the total length field can describe."""
    return [fragment_of(a, IDENT + 6, 8189, False, b"p" * 32)]


CASES = {f.__name__: f for f in (
    ip_bad_version, ip_ihl_below_5, ip_ihl_past_frame, ip_truncated,
    ip_length_past_frame, ip_length_below_header, ip_bad_options, ip_bad_checksum,
    icmp_bad_checksum, icmp_truncated, ip_unknown_protocol, ip_fragments,
    ip_fragment_duplicate, ip_fragment_overlap, ip_fragment_bad_length,
    ip_fragment_past_64k)}


# ---- answers ------------------------------------------------------------------------

def check_protocol_unreachable(a, msg):
    """None if msg (an IP packet) is a correct ICMP protocol unreachable
    about our probe (RFC 792, RFC 1122 3.2.2.1), else why not."""
    ip = IP(msg)
    if ip.src != a.dst or ip.dst != a.src or ip.proto != 1:
        return "not ICMP from ustack"
    icmp_bytes = msg[ip.ihl * 4:ip.len]
    if inet_checksum(bytes(icmp_bytes)) != 0:
        return "bad ICMP checksum"
    icmp = ip[ICMP]
    if icmp.type != 3 or icmp.code != 2:
        return "type %d code %d, not 3/2" % (icmp.type, icmp.code)
    quote = bytes(icmp_bytes[8:])
    # The quote: the offending IP header plus at least 8 bytes of its data.
    if len(quote) < 28:
        return "quotes only %d bytes" % len(quote)
    inner = IP(quote)
    if inner.proto != UNASSIGNED_PROTO or inner.id != IDENT or \
            inner.src != a.src or inner.dst != a.dst:
        return "quotes a different packet"
    return None


def echo_reply_checker(seq, data):
    """A checker for a correct echo reply to our request `seq`."""
    def check(a, msg):
        ip = IP(msg)
        if ip.src != a.dst or ip.dst != a.src or ip.proto != 1:
            return "not ICMP from ustack"
        icmp_bytes = msg[ip.ihl * 4:ip.len]
        if inet_checksum(bytes(icmp_bytes)) != 0:
            return "bad ICMP checksum"
        if icmp_bytes[0] != 0 or icmp_bytes[1] != 0:
            return "type %d code %d, not an echo reply" % (icmp_bytes[0], icmp_bytes[1])
        ident, got_seq = struct.unpack("!HH", bytes(icmp_bytes[4:8]))
        if ident != IDENT or got_seq != seq:
            return "reply to another request (id %#x seq %d)" % (ident, got_seq)
        if bytes(icmp_bytes[8:]) != data:
            return "echoed data differs"
        return None
    return check


REPLY_CHECKS = {
    "ip_unknown_protocol": check_protocol_unreachable,
    "ip_fragments": echo_reply_checker(FRAGMENTED_SEQ, b"f" * 56),
    "ip_fragment_duplicate": echo_reply_checker(DUPLICATE_SEQ, b"d" * 40),
}


def wait_reply(sock, a, case, deadline):
    """Read ICMP from the raw socket until the case's reply shows up."""
    last = "nothing received"
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            msg = sock.recv(65535)
        except socket.timeout:
            break
        why = REPLY_CHECKS[case](a, msg)
        if why is None:
            return None
        last = why
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ifname")
    ap.add_argument("--src", help="kernel-side address")
    ap.add_argument("--dst", help="ustack's address")
    ap.add_argument("--wait", type=float, default=2.0,
                    help="seconds to wait for answers")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return 0
    if not (a.ifname and a.src and a.dst and a.cases):
        ap.error("--ifname, --src, --dst and at least one case are needed")
    unknown = [c for c in a.cases if c not in CASES]
    if unknown:
        ap.error("unknown case(s): " + " ".join(unknown))

    listen = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                        socket.htons(ETH_P_IP))
    out.bind((a.ifname, ETH_P_IP))
    for case in a.cases:
        frames = CASES[case](a)
        for f in frames:
            out.send(bytes(f))
            time.sleep(0.002)  # stay far below the TUN queue length
        print("sent %s %d" % (case, len(frames)), flush=True)
        if case in REPLY_CHECKS:
            why = wait_reply(listen, a, case, time.monotonic() + a.wait)
            print("reply %s %s" % (case, "ok" if why is None else "bad: " + why),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
