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
