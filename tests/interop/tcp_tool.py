#!/usr/bin/python3
"""Kernel-side TCP peers for the ustack interop tests (tests/interop/test_tcp_*.sh).

Every command runs inside the test's network namespace, prints one summary
line, and exits 0 when what it saw is right, 1 otherwise. Every socket has a
timeout, so nothing here can hang a test run.

  echo HOST PORT BYTES              send random data to an echo service while
                                    reading it back; half-close at the end;
                                    compare sha256 of both directions
  slowecho HOST PORT BYTES [SPORT]  like echo, but the reader is slow: the echo
                                    service must hold back, not lose data
  halfclose HOST PORT BYTES         send everything, shut down our side, and
                                    only then read the echo until EOF
  discard HOST PORT BYTES           send to a discard service, then wait for
                                    its close
  chargen HOST PORT BYTES           read from chargen, check the RFC 864 pattern
  concurrent HOST PORT CONNS BYTES  CONNS echo connections at once (asyncio)
  refused HOST PORT                 expect ConnectionRefusedError
  timed-echo HOST PORT SECONDS      connect within SECONDS, echo 4 KiB back
  server PORT BYTES READY           accept one connection; send BYTES random
                                    bytes while reading until EOF; print both
                                    sha256s; READY is a file touched once
                                    listening
  halfclose-server PORT READY       accept one connection, read until EOF,
                                    then answer "got N bytes\\n", the data and
                                    1 MiB of chargen pattern, and close
  handshake HOST PORT SPORT         one small echo exchange from source port
                                    SPORT with a half-close, for pcap checks
  pcap-check PCAP CLIENT SERVER SPORT
                                    the capture shows a clean three-way
                                    handshake and four-way close on SPORT
  chargen-pattern BYTES             write the first BYTES of the RFC 864 stream
"""
import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 60
CHUNK = 65536

# RFC 864: 95 printable characters (32..126), 72 per line, each line
# starting one character later, lines ending in CRLF.
CHARS = bytes(range(32, 127))
PATTERN = b"".join(
    bytes(CHARS[(line + i) % 95] for i in range(72)) + b"\r\n" for line in range(95)
)
DOUBLE = PATTERN + PATTERN


def chargen_bytes(offset, n):
    """n bytes of the chargen stream starting at offset (n <= len(PATTERN))."""
    pos = offset % len(PATTERN)
    return DOUBLE[pos:pos + n]


def connect(host, port, sport=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    if sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
    s.connect((host, port))
    return s


def recv_all(s, digest):
    """Read until EOF; return the byte count."""
    n = 0
    while True:
        data = s.recv(CHUNK)
        if not data:
            return n
        digest.update(data)
        n += len(data)


def send_random(s, nbytes, digest):
    left = nbytes
    while left:
        data = os.urandom(min(CHUNK, left))
        digest.update(data)
        s.sendall(data)
        left -= len(data)


def cmd_echo(host, port, nbytes, read_pause=0.0, sport=0):
    s = connect(host, int(port), int(sport))
    nbytes = int(nbytes)
    sent, got = hashlib.sha256(), hashlib.sha256()
    error = []

    def sender():
        try:
            send_random(s, nbytes, sent)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            error.append(e)

    t = threading.Thread(target=sender)
    t.start()
    if read_pause:
        # Small reads with pauses: far slower than the sender, so every
        # buffer on the way back fills and the echo service must stop reading.
        n = 0
        while True:
            data = s.recv(16384)
            if not data:
                break
            got.update(data)
            n += len(data)
            time.sleep(read_pause)
    else:
        n = recv_all(s, got)
    t.join(TIMEOUT)
    s.close()
    ok = not error and n == nbytes and sent.hexdigest() == got.hexdigest()
    print(f"echo: sent {nbytes} sha256 {sent.hexdigest()[:16]}, received {n} "
          f"sha256 {got.hexdigest()[:16]}{' error ' + str(error[0]) if error else ''}")
    return 0 if ok else 1


def cmd_slowecho(host, port, nbytes, sport=0):
    return cmd_echo(host, port, nbytes, read_pause=0.002, sport=sport)


def cmd_halfclose(host, port, nbytes):
    s = connect(host, int(port))
    nbytes = int(nbytes)
    sent, got = hashlib.sha256(), hashlib.sha256()
    send_random(s, nbytes, sent)
    s.shutdown(socket.SHUT_WR)
    n = recv_all(s, got)
    s.close()
    ok = n == nbytes and sent.hexdigest() == got.hexdigest()
    print(f"halfclose: sent {nbytes} then FIN, received {n} afterwards, "
          f"{'same' if ok else 'different'} sha256")
    return 0 if ok else 1


def cmd_discard(host, port, nbytes):
    s = connect(host, int(port))
    nbytes = int(nbytes)
    send_random(s, nbytes, hashlib.sha256())
    s.shutdown(socket.SHUT_WR)
    n = recv_all(s, hashlib.sha256())  # the server closes after our FIN
    s.close()
    print(f"discard: sent {nbytes}, server closed, it sent {n} bytes back")
    return 0 if n == 0 else 1


def cmd_chargen(host, port, nbytes):
    s = connect(host, int(port))
    nbytes = int(nbytes)
    got = 0
    bad_at = None
    while got < nbytes:
        data = s.recv(min(CHUNK, nbytes - got))
        if not data:
            break
        if bad_at is None:
            off = 0
            while off < len(data):
                piece = data[off:off + len(PATTERN)]
                if piece != chargen_bytes(got + off, len(piece)):
                    bad_at = got + off
                    break
                off += len(piece)
        got += len(data)
    s.close()
    ok = got == nbytes and bad_at is None
    where = f", pattern broken near byte {bad_at}" if bad_at is not None else ", pattern right"
    print(f"chargen: read {got} of {nbytes} bytes{where}")
    return 0 if ok else 1


def cmd_concurrent(host, port, conns, nbytes):
    port, conns, nbytes = int(port), int(conns), int(nbytes)

    async def one(i):
        reader, writer = await asyncio.open_connection(host, port)
        data = os.urandom(nbytes)
        writer.write(data)
        await writer.drain()
        writer.write_eof()
        back = bytearray()
        while True:
            chunk = await reader.read(CHUNK)
            if not chunk:
                break
            back += chunk
        writer.close()
        return bytes(back) == data

    async def all_of_them():
        tasks = [asyncio.wait_for(one(i), TIMEOUT) for i in range(conns)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(all_of_them())
    good = sum(1 for r in results if r is True)
    errors = [r for r in results if isinstance(r, BaseException)]
    print(f"concurrent: {good}/{conns} connections echoed {nbytes} bytes intact"
          + (f"; first error: {errors[0]!r}" if errors else ""))
    return 0 if good == conns else 1


def cmd_refused(host, port):
    try:
        s = connect(host, int(port))
    except ConnectionRefusedError:
        print("refused: ConnectionRefusedError, as expected")
        return 0
    except OSError as e:
        print(f"refused: expected ConnectionRefusedError, got {e!r}")
        return 1
    s.close()
    print("refused: the connection was accepted")
    return 1


def cmd_timed_echo(host, port, seconds):
    limit = float(seconds)
    start = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(limit)
    try:
        s.connect((host, int(port)))
    except OSError as e:
        print(f"timed-echo: no connection within {limit:g} s: {e!r}")
        return 1
    connected = time.monotonic() - start
    s.settimeout(TIMEOUT)
    data = os.urandom(4096)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    back = bytearray()
    while True:
        chunk = s.recv(CHUNK)
        if not chunk:
            break
        back += chunk
    s.close()
    ok = bytes(back) == data
    print(f"timed-echo: connected in {connected * 1000:.0f} ms, "
          f"echo {'intact' if ok else 'wrong'} after {(time.monotonic() - start) * 1000:.0f} ms")
    return 0 if ok else 1


def listen(port, ready):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", int(port)))
    ls.listen(1)
    ls.settimeout(TIMEOUT)
    with open(ready, "w") as f:
        f.write("ready\n")
    s, _ = ls.accept()
    ls.close()
    s.settimeout(TIMEOUT)
    return s


def cmd_server(port, nbytes, ready):
    s = listen(port, ready)
    nbytes = int(nbytes)
    sent, got = hashlib.sha256(), hashlib.sha256()
    error = []

    def sender():
        try:
            send_random(s, nbytes, sent)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            error.append(e)

    t = threading.Thread(target=sender)
    t.start()
    n = recv_all(s, got)
    t.join(TIMEOUT)
    s.close()
    print(f"server: received {n} sha256 {got.hexdigest()}; sent {nbytes} sha256 "
          f"{sent.hexdigest()}{'; error ' + str(error[0]) if error else ''}")
    return 1 if error else 0


def cmd_halfclose_server(port, ready):
    s = listen(port, ready)
    data = bytearray()
    while True:
        chunk = s.recv(CHUNK)
        if not chunk:
            break
        data += chunk
    # The client has half-closed; everything from here on travels after its FIN.
    s.sendall(b"got %d bytes\n" % len(data) + bytes(data))
    s.sendall(chargen_bytes(0, len(PATTERN)) * (1048576 // len(PATTERN)))
    s.close()
    print(f"halfclose-server: got {len(data)} bytes, answered after the client's FIN")
    return 0


def cmd_handshake(host, port, sport):
    s = connect(host, int(port), int(sport))
    s.sendall(b"hello, ustack\n")
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(CHUNK)
        if not chunk:
            break
        data += chunk
    s.close()
    print(f"handshake: echoed {data!r}")
    return 0 if data == b"hello, ustack\n" else 1


def cmd_pcap_check(pcap, client, server, sport):
    """Three-way handshake, data, four-way close, no RST, on one connection."""
    # tshark takes long over a capture of a bulk transfer; tcpdump's BPF
    # filter cuts it down to the one connection first, when available.
    small = None
    if shutil.which("tcpdump"):
        small = tempfile.NamedTemporaryFile(suffix=".pcap", delete=False)
        small.close()
        subprocess.run(["tcpdump", "-n", "-r", pcap, "-w", small.name, f"tcp port {sport}"],
                       capture_output=True, timeout=60, check=True)
        pcap = small.name
    try:
        out = subprocess.run(
            ["tshark", "-n", "-r", pcap, "-Y", f"tcp.port == {sport}",
             "-o", "tcp.relative_sequence_numbers:TRUE",
             "-T", "fields", "-e", "ip.src", "-e", "tcp.flags", "-e", "tcp.seq",
             "-e", "tcp.ack", "-e", "tcp.len"],
            capture_output=True, text=True, timeout=60)
    finally:
        if small:
            os.unlink(small.name)
    segs = []
    for line in out.stdout.splitlines():
        f = line.split("\t")
        if len(f) != 5:
            continue
        segs.append((f[0], int(f[1], 16), int(f[2]), int(f[3] or 0), int(f[4] or 0)))
    SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04
    problems = []
    marks = [("C>" if src == client else "S>") +
             "".join(n for b, n in ((SYN, "S"), (FIN, "F"), (RST, "R"), (ACK, ".")) if fl & b)
             for src, fl, _, _, _ in segs]
    flow = " ".join(marks if len(marks) <= 16 else marks[:8] + ["..."] + marks[-6:])
    if len(segs) < 3:
        problems.append(f"only {len(segs)} segments")
    else:
        hs = [(src, fl & (SYN | ACK | FIN | RST)) for src, fl, _, _, _ in segs[:3]]
        want = [(client, SYN), (server, SYN | ACK), (client, ACK)]
        if hs != want:
            problems.append("the first three segments are not SYN, SYN-ACK, ACK")
    if any(fl & RST for _, fl, _, _, _ in segs):
        problems.append("a RST was sent")
    for side, other in ((client, server), (server, client)):
        fins = [(seq, ln) for src, fl, seq, _, ln in segs if src == side and fl & FIN]
        if not fins:
            problems.append(f"no FIN from {side}")
            continue
        if len(set(fins)) != 1:
            problems.append(f"{side} sent FINs at different sequence numbers")
        seq, ln = fins[0]
        acked = [a for src, fl, _, a, _ in segs if src == other and fl & ACK and a >= seq + ln + 1]
        if not acked:
            problems.append(f"the FIN from {side} was never acknowledged")
    print(f"pcap: {len(segs)} segments: {flow}" + ("; " + "; ".join(problems) if problems else ""))
    return 1 if problems else 0


def cmd_chargen_pattern(nbytes):
    n = int(nbytes)
    out = sys.stdout.buffer
    while n > 0:
        piece = PATTERN[:min(n, len(PATTERN))]
        out.write(piece)
        n -= len(piece)
    return 0


COMMANDS = {
    "echo": cmd_echo,
    "slowecho": cmd_slowecho,
    "halfclose": cmd_halfclose,
    "discard": cmd_discard,
    "chargen": cmd_chargen,
    "concurrent": cmd_concurrent,
    "refused": cmd_refused,
    "timed-echo": cmd_timed_echo,
    "server": cmd_server,
    "halfclose-server": cmd_halfclose_server,
    "handshake": cmd_handshake,
    "pcap-check": cmd_pcap_check,
    "chargen-pattern": cmd_chargen_pattern,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))
    except (OSError, asyncio.TimeoutError) as e:
        print(f"{sys.argv[1]}: {e!r}")
        sys.exit(1)
