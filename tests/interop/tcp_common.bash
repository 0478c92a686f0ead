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
