#!/usr/bin/python3
"""Kernel-side UDP peer for the ustack interop tests (tests/interop/test_udp.sh).

Every command runs inside the test's network namespace, prints one summary
line (plus a line per problem), and exits 0 when what it saw is right, 1
otherwise. Every wait has a timeout and every loop a bound, so nothing here
can hang a test run.

  echo HOST PORT SIZE...    for each SIZE (bytes; "A-B" is every size from A
                            to B), send a datagram of random bytes from a
                            connected socket and expect exactly it back
  echo-nocsum HOST PORT SIZE...
                            the same with SO_NO_CHECK: the kernel sends
                            the datagrams with a zero checksum (RFC 768:
                            "no checksum"), which ustack must accept
  refused HOST PORT         a connected socket sends to a closed port and
                            must then get ConnectionRefusedError
"""
import os
import socket
import sys

TIMEOUT = 1.0     # seconds to wait for one echo
TRIES = 3         # sends of one datagram before giving up (UDP may drop)
SO_NO_CHECK = 11  # Linux: send UDP without a checksum


def parse_sizes(args):
    sizes = []
    for a in args:
        if "-" in a:
            lo, hi = (int(x) for x in a.split("-", 1))
            sizes.extend(range(lo, hi + 1))
        else:
            sizes.append(int(a))
    return sizes


def echo_one(sock, size):
    """Send `size` random bytes and wait for them back. Returns a problem
    description, or None when the echo was exact."""
    data = os.urandom(size)
    last = "no answer"
    for _ in range(TRIES):
        sock.send(data)
        try:
            # Bounded: at most a few stale echoes of earlier tries.
            for _ in range(TRIES + 1):
                got = sock.recv(65535)
                if got == data:
                    return None
                last = "a different datagram came back (%d bytes)" % len(got)
        except socket.timeout:
            continue
    return last


def cmd_echo(host, port, sizes, nocsum=False):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if nocsum:
        sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
    sock.settimeout(TIMEOUT)
    sock.connect((host, port))
    bad = silent = 0
    for size in sizes:
        problem = echo_one(sock, size)
        if problem:
            bad += 1
            if bad <= 10:
                print("size %d: %s" % (size, problem))
        silent = silent + 1 if problem == "no answer" else 0
        if silent == 3:
            print("three sizes in a row without an answer: giving up")
            bad += len(sizes) - sizes.index(size) - 1
            break
    print("echo%s: %d of %d sizes (%d..%d bytes) came back byte-exact"
          % (" without checksums" if nocsum else "", len(sizes) - bad, len(sizes),
             min(sizes), max(sizes)))
    return 0 if bad == 0 else 1


def cmd_refused(host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(TIMEOUT)
    sock.connect((host, port))
    for _ in range(TRIES):
        try:
            sock.send(b"anyone there?")
            sock.recv(100)
            print("refused: got an answer from a port that should be closed")
            return 1
        except ConnectionRefusedError:
            print("refused: ConnectionRefusedError, as expected")
            return 0
        except socket.timeout:
            continue
    print("refused: no ICMP port unreachable came back")
    return 1


def main(argv):
    if len(argv) >= 4 and argv[1] in ("echo", "echo-nocsum"):
        return cmd_echo(argv[2], int(argv[3]), parse_sizes(argv[4:]),
                        nocsum=argv[1] == "echo-nocsum")
    if len(argv) == 4 and argv[1] == "refused":
        return cmd_refused(argv[2], int(argv[3]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
