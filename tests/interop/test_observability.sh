#!/bin/bash
# Observability against the real kernel: `ustack serve --trace DIR --ctl
# PATH`, a kernel client holding an echo connection, then:
#   interop_obs_stat_live     `ustack stat --ctl PATH` lists the live
#                             connection: ESTABLISHED, ustack's and the
#                             client's address and port, bytes received
#   interop_obs_stat_json     `ustack stat --json` parses as JSON with the
#                             same connection and the listener
#   interop_obs_trace_file    the transfer left one trace file named by the
#                             four-tuple, with the CSV header
#   interop_obs_trace_sane    its rows: time never goes back, SND.UNA never
#                             goes back and ends past every byte echoed,
#                             SND.UNA <= SND.NXT, in flight <= SND.NXT -
#                             SND.UNA, a congestion window once established,
#                             the handshake, ESTABLISHED, data sent
#                             and acknowledged, an end row last
#   interop_obs_plot_svg      `ustack plot` turns it into an SVG that is
#                             well-formed XML (xmllint, else Python's parser)
#                             with the connection in its title
#   interop_obs_ctl_removed   the control socket is gone after exit
. "$(dirname "$0")/lib.sh"

ustk_init observability interop_obs_stat_live interop_obs_stat_json \
    interop_obs_trace_file interop_obs_trace_sane interop_obs_plot_svg \
    interop_obs_ctl_removed
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
ustk_netns_create

TRACES=$USTK_DIR/traces
CTL=$USTK_DIR/ctl.sock
SPORT=40123
NBYTES=$((1024 * 1024))
USTK_CMD=serve ustk_start_or_fail --echo 7 --trace "$TRACES" --ctl "$CTL"

# ---- a kernel client that holds its connection open -------------------------
# Echoes NBYTES, then says so in READY and keeps the connection until DONE
# appears (at most 30 s), then closes.
READY=$USTK_DIR/client.ready
DONE=$USTK_DIR/client.done
timeout 60 ip netns exec "$USTK_NS" "$USTK_PY" - "$USTK_ADDR" "$SPORT" "$NBYTES" \
    "$READY" "$DONE" >"$USTK_DIR/client.log" 2>&1 <<'EOF' &
import os, socket, sys, threading, time
host, sport, n, ready, done = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = socket.socket()
s.settimeout(20)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", sport))
s.connect((host, 7))
data = os.urandom(n)
sender = threading.Thread(target=s.sendall, args=(data,))
sender.start()
got = bytearray()
while len(got) < n:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
sender.join(20)
ok = bytes(got) == data
print(f"client: echoed {len(got)} bytes, {'intact' if ok else 'WRONG'}")
open(ready, "w").write("ok\n" if ok else "bad\n")
deadline = time.monotonic() + 30
while not os.path.exists(done) and time.monotonic() < deadline:
    time.sleep(0.05)
s.close()
EOF
CLIENT_PID=$!
ustk_track "$CLIENT_PID"

for i in $(seq 400); do # 20 s
    [ -s "$READY" ] && break
    sleep 0.05
done
if ! grep -q ok "$READY" 2>/dev/null; then
    sed 's/^/    /' "$USTK_DIR/client.log"
    for t in "${USTK_TESTS[@]}"; do
        ustk_fail "$t" "the kernel client's echo did not complete"
    done
    exit 1
fi

# ---- ustack stat while the connection lives ---------------------------------
"$USTACK" stat --ctl "$CTL" >"$USTK_DIR/stat.txt" 2>&1
stat_rc=$?
sed 's/^/    /' "$USTK_DIR/stat.txt"
# State, local, remote, send-Q, recv-Q, ... received is the 15th column.
if [ "$stat_rc" -eq 0 ] && head -1 "$USTK_DIR/stat.txt" | grep -q '^State  *Local  *Remote' &&
    awk -v r="$USTK_KADDR:$SPORT" -v l="$USTK_ADDR:7" \
        '$1 == "ESTABLISHED" && $2 == l && $3 == r { found = 1 } END { exit !found }' \
        "$USTK_DIR/stat.txt"; then
    ustk_pass interop_obs_stat_live
else
    ustk_fail interop_obs_stat_live "no ESTABLISHED $USTK_ADDR:7 <- $USTK_KADDR:$SPORT line (status $stat_rc)"
fi

"$USTACK" stat --ctl "$CTL" --json >"$USTK_DIR/stat.json" 2>&1
if "$USTK_PY" - "$USTK_DIR/stat.json" "$USTK_ADDR:7" "$USTK_KADDR:$SPORT" "$NBYTES" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
conns = doc["connections"]
live = [c for c in conns if c["local"] == sys.argv[2] and c["remote"] == sys.argv[3]]
assert len(live) == 1, conns
c = live[0]
assert c["state"] == "ESTABLISHED", c
assert c["bytes_received"] == int(sys.argv[4]), c
# Acknowledged bytes: the client's last ACK may still be delayed.
assert int(sys.argv[4]) - 65536 <= c["bytes_sent"] <= int(sys.argv[4]), c
assert c["rto_us"] >= 200000 and c["mss"] > 0, c
assert any(x["state"] == "LISTEN" and x["local"] == "0.0.0.0:7" for x in conns), conns
assert doc["total"] == len(conns)
EOF
then
    ustk_pass interop_obs_stat_json
else
    sed 's/^/    /' "$USTK_DIR/stat.json" | head -20
    ustk_fail interop_obs_stat_json "the JSON does not show the connection"
fi

# ---- the client closes; ustack stops ---------------------------------------
touch "$DONE"
ustk_reap "$CLIENT_PID" 10
sleep 0.5 # the close handshake
ustk_stop || echo "    ustack serve exited with status $USTK_STATUS"

files=("$TRACES/$USTK_ADDR"_7-"$USTK_KADDR"_"$SPORT"-*.csv)
trace=${files[0]}
if [ "${#files[@]}" -eq 1 ] && [ -f "$trace" ] &&
    head -1 "$trace" | grep -q '^time_us,event,state,local,remote,snd_una,snd_nxt,'; then
    ustk_pass interop_obs_trace_file
else
    ls -la "$TRACES" 2>&1 | sed 's/^/    /'
    ustk_fail interop_obs_trace_file "no single trace file for port $SPORT"
fi

if [ -f "$trace" ] && "$USTK_PY" - "$trace" "$NBYTES" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
n = int(sys.argv[2])
assert len(rows) >= 5, len(rows)
events = [r["event"] for r in rows]
states = [r["state"] for r in rows]
t = [int(r["time_us"]) for r in rows]
una = [int(r["snd_una_rel"]) for r in rows]
nxt = [int(r["snd_nxt_rel"]) for r in rows]
assert all(b >= a for a, b in zip(t, t[1:])), "time went back"
assert t[-1] - t[0] < 120 * 10**6, "more than two minutes?"
assert all(b >= a for a, b in zip(una, una[1:])), "SND.UNA went back"
assert all(u <= x for u, x in zip(una, nxt)), "SND.UNA past SND.NXT"
for r in rows:
    assert int(r["in_flight"]) <= int(r["snd_nxt_rel"]) - int(r["snd_una_rel"]), r
    if r["state"] == "ESTABLISHED" and r["event"] != "state":
        assert int(r["cwnd"]) > 0, r
    assert (int(r["snd_una"]) - int(r["snd_una_rel"])) % 2**32 == \
           (int(r["snd_nxt"]) - int(r["snd_nxt_rel"])) % 2**32, "two different ISSs"
# SYN (1) + every byte echoed back; the FIN, if acknowledged, adds one more.
assert una[-1] >= n + 1, (una[-1], n)
assert states[0] == "SYN-RECEIVED" and "ESTABLISHED" in states, states[:5]
assert "send" in events and "ack" in events, set(events)
assert events[-1] == "end", events[-3:]
print(f"    {len(rows)} rows over {(t[-1] - t[0]) / 1e6:.3f} s, events {sorted(set(events))}")
EOF
then
    ustk_pass interop_obs_trace_sane
else
    head -5 "$trace" 2>/dev/null | sed 's/^/    /'
    ustk_fail interop_obs_trace_sane "the trace rows are not sane"
fi

svg=$USTK_DIR/trace.svg
if [ -f "$trace" ] && "$USTACK" plot "$trace" -o "$svg" 2>&1 | sed 's/^/    /' &&
    [ -s "$svg" ]; then
    if command -v xmllint >/dev/null; then
        xmllint --noout "$svg"
    else
        "$USTK_PY" -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$svg"
    fi
    xml_rc=$?
    ustk_expect interop_obs_plot_svg "the SVG is not well-formed XML or lacks the connection" \
        "$xml_rc" -eq 0 -a "$(grep -c "$USTK_ADDR:7 .* $USTK_KADDR:$SPORT" "$svg")" -ge 1
else
    ustk_fail interop_obs_plot_svg "ustack plot failed"
fi

ustk_expect interop_obs_ctl_removed "$CTL still exists after exit" ! -e "$CTL"
ustk_finish
