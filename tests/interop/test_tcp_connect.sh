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

# run_connect, connect_exchange_check and connect_refused_check are in
# tcp_common.bash (test_tcp_tap.sh runs them over TAP too).

# ---- interop_tcp_connect_100m ------------------------------------------------
connect_exchange_check interop_tcp_connect_100m $((100 * 1024 * 1024)) 5001

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
connect_refused_check interop_tcp_connect_refused 5999

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
