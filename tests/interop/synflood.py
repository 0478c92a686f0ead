#!/usr/bin/python3
"""SYN flood for the ustack interop tests: COUNT TCP SYNs from random spoofed
addresses of a subnet, written straight onto ustack's TUN or TAP device.

  synflood.py [--dst-mac MAC] [--started FILE] IFNAME DST DPORT COUNT
              SUBNET/LEN [EXCLUDE...]

Packets are built with struct (scapy is far too slow for tens of thousands)
and sent with an AF_PACKET socket on IFNAME: that bypasses the kernel's IP
output path, which would refuse spoofed sources, and the device hands what
it transmits to its reader, ustack.

What the reader expects depends on the device, so its hardware type is
asked (SIOCGIFHWADDR, answered in the namespace of the socket, however the
namespace was entered):
  - TUN (ARPHRD_NONE): the bare IPv4 packet;
  - TAP (ARPHRD_ETHER): an Ethernet II frame around it, from the device's
    own MAC to ustack's MAC, ethertype 0x0800. ustack's MAC is --dst-mac, or
    else the kernel's neighbour entry for DST on IFNAME (/proc/net/arp, what
    `ip neigh` shows): the caller pings DST first so the kernel has it.

Addresses in EXCLUDE (the real hosts) and the subnet's network and
broadcast addresses are never used. --started FILE creates FILE just before
the first packet goes, so a test can start its real client during the
flood rather than before it. Sends are paced in bursts so the device
queue (txqueuelen) is not simply overrun. Prints how many packets were sent,
how they were framed and how long it took.
"""
import fcntl
import ipaddress
import os
import random
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
ARPHRD_ETHER = 1       # <linux/if_arp.h>: an Ethernet device (TAP)
ARPHRD_NONE = 65534    # no link-layer header (TUN)
SIOCGIFHWADDR = 0x8927
ATF_COM = 0x2          # /proc/net/arp flag: the entry is complete
BURST = 256            # packets per burst
BURST_PAUSE = 0.002    # seconds between bursts


def checksum(data):
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn_packet(src, dst, sport, dport, seq, ip_id):
    # TCP header with one option, MSS 1460, as a real SYN would carry.
    options = struct.pack("!BBH", 2, 4, 1460)
    offset = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, offset << 4, 0x02,
                      64240, 0, 0) + options
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    total = 20 + len(tcp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ip_id, 0x4000, 64,
                     socket.IPPROTO_TCP, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def device_hw(ifname):
    """(hardware type, hardware address) of IFNAME, from SIOCGIFHWADDR."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH14s", ifname.encode(), 0, b"")
        res = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, ifr)
    hwtype, = struct.unpack_from("H", res, 16)
    return hwtype, res[18:24]


def parse_mac(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def neighbour_mac(ifname, dst):
    """The kernel's complete neighbour entry for dst on ifname, or None.
    /proc/net/arp: IP address, HW type, Flags, HW address, Mask, Device."""
    with open("/proc/net/arp") as f:
        next(f)  # the heading
        for line in f:
            fields = line.split()
            if (len(fields) >= 6 and fields[0] == dst and fields[5] == ifname
                    and int(fields[2], 16) & ATF_COM):
                return parse_mac(fields[3])
    return None


def link_header(ifname, dst, dst_mac):
    """The bytes to put before each IPv4 packet on ifname: nothing for a
    TUN device, an Ethernet II header for a TAP device. Raises ValueError
    when it cannot be built."""
    hwtype, own_mac = device_hw(ifname)
    if hwtype == ARPHRD_NONE:
        return b""
    if hwtype != ARPHRD_ETHER:
        raise ValueError(f"{ifname} has hardware type {hwtype}, neither TUN nor Ethernet")
    if dst_mac is None:
        dst_mac = neighbour_mac(ifname, dst)
    if dst_mac is None:
        raise ValueError(f"no neighbour entry for {dst} on {ifname}: "
                         "ping it first, or give --dst-mac")
    return struct.pack("!6s6sH", dst_mac, own_mac, ETH_P_IP)


def mac_text(b):
    return ":".join(f"{x:02x}" for x in b)


def describe(header):
    if not header:
        return "bare IP"
    return f"Ethernet frames {mac_text(header[6:12])} -> {mac_text(header[:6])}"


def main(argv):
    dst_mac = started = None
    while len(argv) > 2 and argv[1] in ("--dst-mac", "--started"):
        if argv[1] == "--dst-mac":
            dst_mac = parse_mac(argv[2])
        else:
            started = argv[2]
        argv = argv[:1] + argv[3:]
    if len(argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    ifname, dst, dport, count, subnet = argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5]
    net = ipaddress.ip_network(subnet, strict=False)
    exclude = {ipaddress.ip_address(a) for a in argv[6:]}
    exclude |= {net.network_address, net.broadcast_address}
    sources = [a.packed for a in net.hosts() if a not in exclude]
    if not sources:
        print("synflood: no source addresses left in the subnet", file=sys.stderr)
        return 2
    try:
        header = link_header(ifname, dst, dst_mac)
    except (OSError, ValueError) as e:
        print(f"synflood: {e}", file=sys.stderr)
        return 2
    dst_packed = socket.inet_aton(dst)
    rng = random.Random(os.getpid())

    # A raw socket with the link header written by us on a TAP device; a
    # datagram socket (no header) on TUN. Protocol 0: it receives nothing.
    kind = socket.SOCK_RAW if header else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_PACKET, kind, 0)
    addr = (ifname, ETH_P_IP)
    sent = dropped = 0
    used = set()
    if started:
        open(started, "w").close()
    start = time.monotonic()
    for i in range(count):
        src = rng.choice(sources)
        used.add(src)
        pkt = syn_packet(src, dst_packed, rng.randint(1024, 65535),
                         dport, rng.getrandbits(32), i & 0xFFFF)
        try:
            s.sendto(header + pkt, addr)
            sent += 1
        except (BlockingIOError, OSError):
            dropped += 1
        if i % BURST == BURST - 1:
            time.sleep(BURST_PAUSE)
    elapsed = time.monotonic() - start
    s.close()
    print(f"synflood: sent {sent} SYNs to {dst}:{dport} as {describe(header)} from "
          f"{len(used)} of {len(sources)} spoofed addresses in {elapsed:.2f} s "
          f"({dropped} refused by the device)")
    return 0 if sent > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
