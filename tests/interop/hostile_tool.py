#!/usr/bin/python3
"""Kernel-side clients for the hostile interop tests (tests/interop/test_hostile_*.sh).

Each command runs inside the test's network namespace, prints one summary
line, and exits 0 when what it saw is right, 1 otherwise. Every socket has a
timeout and every command an overall deadline, so nothing here can hang.

  echo HOST PORT BYTES DEADLINE [--ahead N] [--send-for S] [--min N]
                                [--blackout IFNAME AT SECONDS]
        Send BYTES of random data to an echo service while reading it back,
        then half-close and read the rest; compare sha256 of both
        directions. --ahead: the sender stays at most N bytes ahead of what
        came back. --send-for: stop sending after S seconds even if BYTES
        are not all out (the check then covers what was sent, and at least
        --min bytes must have been). --blackout: once AT bytes have come
        back, every packet through IFNAME is dropped (iptables DROP, both
        ways) for SECONDS, then let through again.
  chargen HOST PORT BYTES DEADLINE [--rcvbuf N] [--stall-at N --stall-secs S
                                   [--max-after S]]
        Read BYTES from chargen and check that the RFC 864 pattern runs on
        without a gap or a repeat. With --stall-at, stop reading for S
        seconds once N bytes are in (a small --rcvbuf makes our window close
        quickly), then read on; with --max-after, the rest must come within
        that many seconds of reading again.
  hold HOST PORT SPORT BYTES READY STOP DEADLINE
        Connect to chargen from SPORT, read BYTES, write READY, then keep
        reading until the connection fails, the file STOP exists, or
        DEADLINE seconds pass; report how it ended.
"""
import hashlib
import os
import select
import socket
import subprocess
import sys
import threading
import time

CHUNK = 65536
SOCK_TIMEOUT = 30

# RFC 864: 95 printable characters (32..126), 72 per line, each line
# starting one character later, lines ending in CRLF.
CHARS = bytes(range(32, 127))
PATTERN = b"".join(
    bytes(CHARS[(line + i) % 95] for i in range(72)) + b"\r\n" for line in range(95)
)
DOUBLE = PATTERN + PATTERN


def connect(host, port, sport=0, rcvbuf=0, timeout=SOCK_TIMEOUT):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if rcvbuf:
        # Before connect, so the window scale and the first window match.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
    s.connect((host, port))
    return s


def iptables_drop(ifname, on):
    """Insert (on) or delete the DROP rules for everything through ifname."""
    op = "-I" if on else "-D"
    for chain, flag in (("INPUT", "-i"), ("OUTPUT", "-o")):
        args = ["iptables", "-w", "5", op, chain]
        if on:
            args.append("1")
        subprocess.run(args + [flag, ifname, "-j", "DROP"], check=True, timeout=10)


def cmd_echo(host, port, nbytes, deadline, *opts):
    port, nbytes, deadline = int(port), int(nbytes), float(deadline)
    blackout, ahead, send_for, minimum = None, 0, deadline, nbytes
    args = list(opts)
    while args:
        name = args.pop(0)
        if name == "--ahead":
            ahead = int(args.pop(0))
        elif name == "--send-for":
            send_for = float(args.pop(0))
        elif name == "--min":
            minimum = int(args.pop(0))
        elif name == "--blackout":
            blackout = (args.pop(0), int(args.pop(0)), float(args.pop(0)))
        else:
            raise ValueError(f"echo: unknown option {name}")
    start = time.monotonic()
    # Sends may wait out long retransmission back-offs: the deadline bounds
    # them. Reads poll, so the deadline bounds them too.
    s = connect(host, port, timeout=deadline)
    sent, got = hashlib.sha256(), hashlib.sha256()
    errors = []
    received = [0]  # what came back so far, for --ahead
    total = [0]     # what was sent

    def sender():
        try:
            while total[0] < nbytes and time.monotonic() - start < send_for:
                if ahead and total[0] - received[0] >= ahead:
                    time.sleep(0.001)
                    continue
                data = os.urandom(min(CHUNK, nbytes - total[0], ahead or CHUNK))
                sent.update(data)
                s.sendall(data)
                total[0] += len(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    n = 0
    dark = None  # (began, ended) of the blackout
    dropping = False
    eof = False
    try:
        while not eof and time.monotonic() - start < deadline:
            if blackout and dark is None and n >= blackout[1]:
                iptables_drop(blackout[0], True)
                dropping = True
                began = time.monotonic()
                # Keep reading meanwhile: little can arrive, which is the point.
                while not eof and time.monotonic() - began < blackout[2]:
                    if select.select([s], [], [], 0.1)[0]:
                        data = s.recv(CHUNK)
                        eof = not data
                        got.update(data)
                        n += len(data)
                        received[0] = n
                iptables_drop(blackout[0], False)
                dropping = False
                dark = (began - start, time.monotonic() - start)
            if not select.select([s], [], [], 0.5)[0]:
                continue
            data = s.recv(CHUNK)
            eof = not data
            got.update(data)
            n += len(data)
            received[0] = n
    except OSError as e:
        errors.append(e)
    finally:
        if dropping:
            iptables_drop(blackout[0], False)
    t.join(5)
    s.close()
    took = time.monotonic() - start
    ok = not errors and eof and n == total[0] and sent.hexdigest() == got.hexdigest()
    ok = ok and total[0] >= minimum and (blackout is None or dark is not None)
    extra = ""
    if total[0] < nbytes:
        extra += f", sending stopped at {send_for:.0f} s with {total[0]} of {nbytes} out"
    if dark:
        extra += f", dark from {dark[0]:.1f} s to {dark[1]:.1f} s"
    print(f"echo: sent {total[0]} sha256 {sent.hexdigest()[:16]}, received {n} "
          f"sha256 {got.hexdigest()[:16]} in {took:.1f} s "
          f"({n * 8 / took / 1e6:.2f} Mbit/s each way){extra}"
          f"{' error ' + repr(errors[0]) if errors else ''}")
    return 0 if ok else 1


def check_pattern(data, offset):
    """Index of the first byte that breaks the chargen pattern, or None."""
    off = 0
    while off < len(data):
        pos = (offset + off) % len(PATTERN)
        piece = data[off:off + len(PATTERN) - pos]
        if piece != DOUBLE[pos:pos + len(piece)]:
            for i in range(len(piece)):
                if piece[i] != DOUBLE[pos + i]:
                    return off + i
        off += len(piece)
    return None


def cmd_chargen(host, port, nbytes, deadline, *opts):
    port, nbytes, deadline = int(port), int(nbytes), float(deadline)
    rcvbuf, stall_at, stall_secs, max_after = 0, None, 0.0, None
    args = list(opts)
    while args:
        name = args.pop(0)
        if name == "--rcvbuf":
            rcvbuf = int(args.pop(0))
        elif name == "--max-after":
            max_after = float(args.pop(0))
        elif name == "--stall-at":
            stall_at = int(args.pop(0))
        elif name == "--stall-secs":
            stall_secs = float(args.pop(0))
        else:
            raise ValueError(f"chargen: unknown option {name}")
    start = time.monotonic()
    s = connect(host, port, rcvbuf=rcvbuf)
    got, bad_at, stalled = 0, None, None
    while got < nbytes and time.monotonic() - start < deadline:
        if stall_at is not None and stalled is None and got >= stall_at:
            began = time.monotonic()
            time.sleep(stall_secs)
            stalled = (began - start, time.monotonic() - start)
        data = s.recv(min(CHUNK, nbytes - got))
        if not data:
            break
        if bad_at is None:
            i = check_pattern(data, got)
            if i is not None:
                bad_at = got + i
        got += len(data)
    s.close()
    took = time.monotonic() - start
    ok = got == nbytes and bad_at is None and (stall_at is None or stalled is not None)
    where = f", pattern broken at byte {bad_at}" if bad_at is not None else ", pattern continuous"
    extra = ""
    if stalled:
        after = took - stalled[1]
        extra = (f", stopped reading from {stalled[0]:.1f} s to {stalled[1]:.1f} s, "
                 f"the rest came in {after:.1f} s")
        ok = ok and (max_after is None or after <= max_after)
    print(f"chargen: read {got} of {nbytes} bytes in {took:.1f} s{where}{extra}")
    return 0 if ok else 1


def cmd_hold(host, port, sport, nbytes, ready, stop, deadline):
    port, sport, nbytes, deadline = int(port), int(sport), int(nbytes), float(deadline)
    start = time.monotonic()
    s = connect(host, port, sport=sport)
    got = 0
    while got < nbytes:
        data = s.recv(CHUNK)
        if not data:
            print(f"hold: chargen closed after {got} bytes")
            return 1
        got += len(data)
    with open(ready, "w") as f:
        f.write(f"{got}\n")
    s.settimeout(0.5)
    how = "deadline"
    while time.monotonic() - start < deadline:
        if os.path.exists(stop):
            how = "told to stop"
            break
        try:
            data = s.recv(CHUNK)
        except socket.timeout:
            continue
        except OSError as e:
            how = repr(e)
            break
        if not data:
            how = "closed"
            break
        got += len(data)
    s.close()
    print(f"hold: read {got} bytes, then {how} after {time.monotonic() - start:.1f} s")
    return 0


COMMANDS = {"echo": cmd_echo, "chargen": cmd_chargen, "hold": cmd_hold}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    try:
        sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))
    except Exception as e:  # a summary line, whatever went wrong
        print(f"{sys.argv[1]}: {e!r}")
        sys.exit(1)
