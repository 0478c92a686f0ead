#!/usr/bin/python3
"""SYN flood for the ustack interop tests: COUNT TCP SYNs from random spoofed
addresses of a subnet, written straight onto the TUN device.

  synflood.py IFNAME DST DPORT COUNT SUBNET/LEN [EXCLUDE...]

Packets are built with struct (scapy is far too slow for tens of thousands)
and sent with an AF_PACKET socket on IFNAME: that bypasses the kernel's IP
output path, which would refuse spoofed sources, and a TUN device hands
what it transmits to its reader, ustack. Addresses in EXCLUDE (the real
hosts) and the subnet's network and broadcast addresses are never used.
Sends are paced in bursts so the device queue (txqueuelen) is not simply
overrun. Prints how many packets were sent and how long it took.
"""
import ipaddress
import os
import random
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
BURST = 256          # packets per burst
BURST_PAUSE = 0.002  # seconds between bursts


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


def main(argv):
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
    dst_packed = socket.inet_aton(dst)
    rng = random.Random(os.getpid())

    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind((ifname, ETH_P_IP))
    addr = (ifname, ETH_P_IP)
    sent = dropped = 0
    start = time.monotonic()
    for i in range(count):
        pkt = syn_packet(rng.choice(sources), dst_packed, rng.randint(1024, 65535),
                         dport, rng.getrandbits(32), i & 0xFFFF)
        try:
            s.sendto(pkt, addr)
            sent += 1
        except (BlockingIOError, OSError):
            dropped += 1
        if i % BURST == BURST - 1:
            time.sleep(BURST_PAUSE)
    elapsed = time.monotonic() - start
    s.close()
    print(f"synflood: sent {sent} SYNs to {dst}:{dport} from {len(sources)} spoofed "
          f"addresses in {elapsed:.2f} s ({dropped} refused by the device)")
    return 0 if sent > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
