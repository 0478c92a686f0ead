# Helpers shared by the TCP interop tests (tests/interop/test_tcp_*.sh),
# sourced after lib.sh. Not a test itself (run.sh runs only *.sh).

TCP_TOOL=$USTK_ROOT/tests/interop/tcp_tool.py

# Run a tcp_tool.py command in the namespace, bounded by SECONDS, showing its
# summary line indented. Returns the tool's status (124 on timeout).
tool_run() { # SECONDS TOOL-ARGS...
    local secs=$1
    shift
    timeout "$secs" ip netns exec "$USTK_NS" "$USTK_PY" "$TCP_TOOL" "$@" 2>&1 |
        head -5 | sed 's/^/    /'
    return "${PIPESTATUS[0]}"
}

# PASS/FAIL on a tcp_tool.py command.
tool_check() { # NAME SECONDS TOOL-ARGS...
    local name=$1
    shift
    if tool_run "$@"; then
        ustk_pass "$name"
    else
        ustk_fail "$name" "tcp_tool $2 failed"
    fi
}

# Start a tcp_tool.py server in the namespace in the background and wait
# (bounded: 10 s) until it listens. Its output goes to OUT; its pid is in
# TOOL_PID (tracked for cleanup).
TOOL_PID=
tool_server() { # OUT TOOL-ARGS-BEFORE-READY...
    local out=$1 ready=$USTK_DIR/ready.$RANDOM i
    shift
    rm -f "$ready"
    timeout 200 ip netns exec "$USTK_NS" "$USTK_PY" "$TCP_TOOL" "$@" "$ready" \
        >"$out" 2>&1 &
    TOOL_PID=$!
    ustk_track "$TOOL_PID"
    for i in $(seq 200); do
        [ -s "$ready" ] && return 0
        kill -0 "$TOOL_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "    tcp_tool $1 did not start listening:"
    sed 's/^/      /' "$out"
    return 1
}

# sha256 of a file, hex only.
sha_of() { # FILE
    sha256sum "$1" | cut -d' ' -f1
}

# The link options of `ustack` for USTK_LINK (see ustk_start in lib.sh):
# --tap (and --mac USTK_MAC) for TAP, nothing for TUN.
ustk_link_args() {
    if [ "${USTK_LINK:-tun}" = tap ]; then
        printf '%s\n' --tap
        [ -n "${USTK_MAC:-}" ] && printf '%s\n' --mac "$USTK_MAC"
    fi
    return 0
}

# Run `ustack connect HOST PORT` on its own device in the namespace, with
# stdin from IN, stdout to OUT, stderr to ERR, bounded by SECONDS; over TUN,
# or TAP when USTK_LINK=tap. Extra ustack options come first. The exit
# status lands in CONNECT_RC.
CONNECT_RC=
run_connect() { # SECONDS IN OUT ERR [OPTIONS...] HOST PORT
    local secs=$1 in=$2 out=$3 err=$4 link
    shift 4
    mapfile -t link < <(ustk_link_args)
    timeout "$secs" "$USTACK" connect --ifname "$USTK_IFNAME" "${link[@]}" \
        --kernel-addr "$USTK_KADDR/$USTK_PREFIX" --addr "$USTK_ADDR" \
        --netns "$USTK_NS" "$@" <"$in" >"$out" 2>"$err"
    CONNECT_RC=$?
}

# NAME passes when `ustack connect` and a kernel tcp_tool server exchange
# BYTES of random data each way at once on PORT (sha256 both ways) and both
# exit 0 after the server closed.
connect_exchange_check() { # NAME BYTES PORT
    local name=$1 big=$2 port=$3 summary got_sha sent_sha out_sha server_rc
    local input=$USTK_DIR/input.bin output=$USTK_DIR/output.bin
    head -c "$big" /dev/urandom >"$input"
    if ! tool_server "$USTK_DIR/server.out" server "$port" "$big"; then
        ustk_fail "$name" "the kernel server did not start"
        rm -f "$input"
        return
    fi
    run_connect 120 "$input" "$output" "$USTK_DIR/connect.err" "$USTK_KADDR" "$port"
    ustk_reap "$TOOL_PID" 10
    server_rc=$USTK_REAPED
    summary=$(cat "$USTK_DIR/server.out")
    echo "    $summary"
    # "server: received N sha256 X; sent M sha256 Y"
    read -r got_sha sent_sha < <(echo "$summary" |
        sed -n 's/.*received [0-9]* sha256 \([0-9a-f]*\); sent [0-9]* sha256 \([0-9a-f]*\).*/\1 \2/p')
    out_sha=$(sha_of "$output")
    if [ "$CONNECT_RC" -eq 0 ] && [ "$server_rc" -eq 0 ] &&
        [ "$got_sha" = "$(sha_of "$input")" ] && [ "$out_sha" = "$sent_sha" ]; then
        ustk_pass "$name"
    else
        sed 's/^/    /' "$USTK_DIR/connect.err" | tail -5
        ustk_fail "$name" "connect exit $CONNECT_RC, server exit" \
            "$server_rc; output $(stat -c %s "$output") bytes sha256 ${out_sha:0:16}," \
            "server sent ${sent_sha:0:16}; server got ${got_sha:0:16}"
    fi
    rm -f "$input" "$output"
}

# NAME passes when `ustack connect` to a closed kernel port PORT exits
# non-zero saying "refused".
connect_refused_check() { # NAME PORT
    run_connect 20 /dev/null "$USTK_DIR/refused.out" "$USTK_DIR/refused.err" \
        "$USTK_KADDR" "$2"
    sed 's/^/    /' "$USTK_DIR/refused.err"
    if [ "$CONNECT_RC" -ne 0 ] && [ "$CONNECT_RC" -ne 124 ] &&
        grep -q 'refused' "$USTK_DIR/refused.err"; then
        ustk_pass "$1"
    else
        ustk_fail "$1" "exit $CONNECT_RC, expected non-zero with 'refused'"
    fi
}

# curl in the namespace, bounded.
ns_curl() {
    timeout 60 ip netns exec "$USTK_NS" curl -sS --max-time 50 "$@"
}

# ---- SYN flood (test_tcp_synflood.sh; over TAP also test_tcp_tap.sh) --------

SYNFLOOD_TOOL=$USTK_ROOT/tests/interop/synflood.py

# Print how much each non-zero arp.* counter grew between two snapshots:
# over TAP every SYN-ACK to a spoofed source needs its address resolved.
arp_deltas() { # BEFORE-FILE AFTER-FILE
    local name delta line=
    for name in $(awk '$1 ~ /^arp\./ { print $1 }' "$2"); do
        delta=$(ustk_counter_delta "$name" "$1" "$2")
        [ "$delta" -gt 0 ] && line="$line $name +$delta"
    done
    echo "    ARP during the flood:${line:- nothing}"
}

# With `ustack serve --echo 7` running (started with --pcap /dev/null: a
# capture of the flood would only slow the run down), write COUNT SYNs from
# random spoofed addresses of the link's subnet onto the device (synflood.py;
# over TAP framed in Ethernet to the MAC the kernel learned by ARP, so the
# kernel pings ustack first). A real client connects as soon as the flood
# has begun and again after it. SURVIVES passes when the flood was sent and both clients
# connected within 2 s and were echoed; COOKIES when ustack answered the
# flood with SYN cookies, never lacked a packet buffer to send, and exits
# cleanly. Over TAP the arp.* counters show what resolving the spoofed
# sources cost. Stops ustack.
synflood_check() { # SURVIVES-NAME COOKIES-NAME [COUNT]
    local survives=$1 cookies_name=$2 count=${3:-20000}
    local before=$USTK_DIR/before.counters after=$USTK_DIR/after.counters
    local flood_out=$USTK_DIR/synflood.out started=$USTK_DIR/synflood.started
    local flood_pid flood_rc during_rc after_rc still_on=no cookies syns nobuf i
    ustk_ns ping -c 1 -W 2 "$USTK_ADDR" >/dev/null ||
        echo "    the kernel's ping to $USTK_ADDR before the flood got no answer"
    ustk_counters_refresh
    ustk_counters_save "$before"

    # The spoofed sources: the whole subnet but the network, broadcast and
    # the two real hosts.
    rm -f "$started"
    timeout 60 ip netns exec "$USTK_NS" "$USTK_PY" "$SYNFLOOD_TOOL" \
        --started "$started" "$USTK_IFNAME" "$USTK_ADDR" 7 "$count" \
        "$USTK_KADDR/$USTK_PREFIX" "$USTK_KADDR" "$USTK_ADDR" >"$flood_out" 2>&1 &
    flood_pid=$!
    ustk_track "$flood_pid"
    for i in $(seq 200); do # 10 s
        if [ -e "$started" ] || ! kill -0 "$flood_pid" 2>/dev/null; then
            break
        fi
        sleep 0.05
    done
    tool_run 10 timed-echo "$USTK_ADDR" 7 2
    during_rc=$?
    # The client counts as "during" only if the flood outlasted it.
    kill -0 "$flood_pid" 2>/dev/null && still_on=yes
    ustk_reap "$flood_pid" 60
    flood_rc=$USTK_REAPED
    sed 's/^/    /' "$flood_out"
    tool_run 10 timed-echo "$USTK_ADDR" 7 2
    after_rc=$?
    if [ "$flood_rc" -eq 0 ] && [ "$during_rc" -eq 0 ] && [ "$still_on" = yes ] &&
        [ "$after_rc" -eq 0 ]; then
        ustk_pass "$survives"
    else
        ustk_fail "$survives" "flood status $flood_rc; client during the" \
            "flood: status $during_rc (flood still on when it was done: $still_on)," \
            "after it: $after_rc"
    fi

    ustk_counters_refresh
    ustk_counters_save "$after"
    cookies=$(ustk_counter_delta tcp.syncookies_sent "$before" "$after")
    syns=$(ustk_counter_delta tcp.rx "$before" "$after")
    # Nothing may hold the packet pool: a segment or frame not sent for
    # want of a buffer would be the real client's as likely as the flood's.
    nobuf=$(($(ustk_counter_delta tcp.drop_no_buffer "$before" "$after") +
        $(ustk_counter_delta link.drop_no_buffer "$before" "$after")))
    echo "    $syns TCP segments received, $cookies SYN cookies sent during the" \
        "flood, $nobuf not sent for want of a packet buffer"
    [ "${USTK_LINK:-tun}" = tap ] && arp_deltas "$before" "$after"
    if ustk_stop && [ "$cookies" -gt 0 ] && [ "$nobuf" -eq 0 ]; then
        ustk_pass "$cookies_name"
    else
        ustk_fail "$cookies_name" "tcp.syncookies_sent moved by $cookies;" \
            "tcp.drop_no_buffer + link.drop_no_buffer moved by $nobuf;" \
            "ustack exit status $USTK_STATUS"
    fi
}

# ---- port scan (test_tcp_portscan.sh; over TAP also test_tcp_tap.sh) -------

# nmap's SYN scan with version detection (-sS -sV) of the running ustack:
# NAME passes when nmap succeeds and sees every port of OPEN open and every
# port of CLOSED closed (space-separated lists). Version detection waits on
# services that never answer its probes (discard, chargen), so each such
# open port adds seconds.
portscan_check() { # NAME OPEN-PORTS CLOSED-PORTS
    local name=$1 open=$2 closed=$3 ports rc p wrong=
    local grepable=$USTK_DIR/nmap.gnmap
    ports=$(echo $open $closed | tr ' ' ',')
    # -Pn: no host discovery; -n: no DNS. Bounded twice: nmap's own host
    # timeout and timeout(1).
    timeout 150 ip netns exec "$USTK_NS" nmap -n -Pn -sS -sV --version-light \
        --max-retries 2 --host-timeout 120s -p "$ports" -oG "$grepable" "$USTK_ADDR" \
        >"$USTK_DIR/nmap.out" 2>&1
    rc=$?
    sed -n 's/^\([0-9]*\/tcp.*\)/    \1/p' "$USTK_DIR/nmap.out"
    for p in $open; do
        [ "$(port_state "$grepable" "$p")" = open ] ||
            wrong="$wrong $p:$(port_state "$grepable" "$p")"
    done
    for p in $closed; do
        [ "$(port_state "$grepable" "$p")" = closed ] ||
            wrong="$wrong $p:$(port_state "$grepable" "$p")"
    done
    if [ "$rc" -eq 0 ] && [ -z "$wrong" ]; then
        ustk_pass "$name"
    else
        ustk_fail "$name" "nmap status $rc; wrong states:$wrong"
    fi
}

# PORT's state in nmap's grepable output:
# "Ports: 7/open/tcp//echo///, 9/open/tcp//discard?///, ..."
port_state() { # GNMAP-FILE PORT
    grep -oE "[ ,]$2/[a-z|]+/tcp" "$1" | head -1 | cut -d/ -f2
}
