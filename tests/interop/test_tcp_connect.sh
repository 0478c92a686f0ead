#!/bin/bash
# `ustack connect` (the blocking API) against kernel servers over TUN:
#   interop_tcp_connect_100m       100 MiB each way at once, sha256 both ways,
#                                  exit status 0 after the server closed
#   interop_tcp_connect_halfclose  at the end of stdin ustack sends FIN; the
#                                  server (which answers only after that FIN)
#                                  still gets its whole answer through
#   interop_tcp_connect_pcap       that connection in the capture: three-way
#                                  handshake, both FINs acknowledged, no RST
#   interop_tcp_connect_refused    to a closed kernel port: non-zero exit and
#                                  "connection refused"
#   interop_tcp_connect_timeout    to an address nobody answers, --timeout 2:
#                                  non-zero exit and "timed out", in time
. "$(dirname "$0")/lib.sh"

ustk_init tcp_connect interop_tcp_connect_100m interop_tcp_connect_halfclose \
    interop_tcp_connect_pcap interop_tcp_connect_refused interop_tcp_connect_timeout
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"
ustk_netns_create

# Run `ustack connect HOST PORT` with stdin from IN, stdout to OUT, stderr
# to ERR, bounded by SECONDS. Extra ustack options come first.
CONNECT_RC=
run_connect() { # SECONDS IN OUT ERR [OPTIONS...] HOST PORT
    local secs=$1 in=$2 out=$3 err=$4
    shift 4
    timeout "$secs" "$USTACK" connect --ifname "$USTK_IFNAME" \
        --kernel-addr "$USTK_KADDR/$USTK_PREFIX" --addr "$USTK_ADDR" \
        --netns "$USTK_NS" "$@" <"$in" >"$out" 2>"$err"
    CONNECT_RC=$?
}

# ---- interop_tcp_connect_100m ------------------------------------------------
big=$((100 * 1024 * 1024))
input=$USTK_DIR/input.bin
output=$USTK_DIR/output.bin
head -c "$big" /dev/urandom >"$input"
if tool_server "$USTK_DIR/server.out" server 5001 "$big"; then
    run_connect 120 "$input" "$output" "$USTK_DIR/connect.err" "$USTK_KADDR" 5001
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
        ustk_pass interop_tcp_connect_100m
    else
        sed 's/^/    /' "$USTK_DIR/connect.err" | tail -5
        ustk_fail interop_tcp_connect_100m "connect exit $CONNECT_RC, server exit" \
            "$server_rc; output $(stat -c %s "$output") bytes sha256 ${out_sha:0:16}," \
            "server sent ${sent_sha:0:16}; server got ${got_sha:0:16}"
    fi
else
    ustk_fail interop_tcp_connect_100m "the kernel server did not start"
fi
rm -f "$input" "$output"

# ---- interop_tcp_connect_halfclose and _pcap ------------------------------------
request=$USTK_DIR/request.txt
expected=$USTK_DIR/expected.txt
printf 'hello from ustack\n' >"$request"
{
    printf 'got 18 bytes\nhello from ustack\n'
    "$USTK_PY" "$TCP_TOOL" chargen-pattern $((1048576 / 7030 * 7030))
} >"$expected"
pcap=$USTK_DIR/halfclose.pcap
if tool_server "$USTK_DIR/halfclose-server.out" halfclose-server 5002; then
    run_connect 30 "$request" "$USTK_DIR/answer.txt" "$USTK_DIR/halfclose.err" \
        --pcap "$pcap" "$USTK_KADDR" 5002
    ustk_reap "$TOOL_PID" 10
    sed 's/^/    /' "$USTK_DIR/halfclose-server.out"
    if [ "$CONNECT_RC" -eq 0 ] && cmp -s "$expected" "$USTK_DIR/answer.txt"; then
        ustk_pass interop_tcp_connect_halfclose
    else
        sed 's/^/    /' "$USTK_DIR/halfclose.err" | tail -5
        ustk_fail interop_tcp_connect_halfclose "connect exit $CONNECT_RC;" \
            "$(stat -c %s "$USTK_DIR/answer.txt") bytes of answer, expected" \
            "$(stat -c %s "$expected"): $(cmp "$expected" "$USTK_DIR/answer.txt" 2>&1)"
    fi
    if ! command -v tshark >/dev/null; then
        ustk_skip interop_tcp_connect_pcap "tshark not installed"
    else
        # ustack is the client here.
        tool_check interop_tcp_connect_pcap 60 pcap-check "$pcap" "$USTK_ADDR" \
            "$USTK_KADDR" 5002
    fi
else
    ustk_fail interop_tcp_connect_halfclose "the kernel server did not start"
    ustk_fail interop_tcp_connect_pcap "the kernel server did not start"
fi

# ---- interop_tcp_connect_refused ---------------------------------------------------
run_connect 20 /dev/null "$USTK_DIR/refused.out" "$USTK_DIR/refused.err" "$USTK_KADDR" 5999
sed 's/^/    /' "$USTK_DIR/refused.err"
if [ "$CONNECT_RC" -ne 0 ] && [ "$CONNECT_RC" -ne 124 ] &&
    grep -q 'refused' "$USTK_DIR/refused.err"; then
    ustk_pass interop_tcp_connect_refused
else
    ustk_fail interop_tcp_connect_refused "exit $CONNECT_RC, expected non-zero with 'refused'"
fi

# ---- interop_tcp_connect_timeout ---------------------------------------------------
# 10.0.0.3 is on the link but nobody has it: the kernel (not a router here)
# drops the SYNs silently.
start=$(date +%s%N)
run_connect 20 /dev/null "$USTK_DIR/timeout.out" "$USTK_DIR/timeout.err" --timeout 2 \
    10.0.0.3 5000
ms=$((($(date +%s%N) - start) / 1000000))
sed 's/^/    /' "$USTK_DIR/timeout.err"
if [ "$CONNECT_RC" -ne 0 ] && [ "$CONNECT_RC" -ne 124 ] &&
    grep -q 'timed out' "$USTK_DIR/timeout.err" && [ "$ms" -lt 6000 ]; then
    ustk_pass interop_tcp_connect_timeout
else
    ustk_fail interop_tcp_connect_timeout "exit $CONNECT_RC after $ms ms, expected" \
        "non-zero with 'timed out' within about 2 s"
fi

ustk_finish
