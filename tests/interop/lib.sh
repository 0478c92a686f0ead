# Helpers for interop tests: ustack against the real Linux kernel over a TUN
# device, inside a network namespace that the test creates and removes.
# Sourced by bash scripts in tests/interop/.
#
# A script looks like this:
#
#   . "$(dirname "$0")/lib.sh"
#   ustk_init ping interop_ping_sizes interop_ping_counters
#   ustk_netns_create            # ustk-ping-$$, removed on exit
#   ustk_start                   # ustack up ... in the background, pcap on
#   ustk_ns ping -c 1 -W 2 "$USTK_ADDR" >/dev/null && ustk_pass interop_ping_sizes ...
#   ustk_stop                    # SIGTERM; its final counters land in $USTK_LOG
#   [ "$(ustk_counter icmp.rx_echo_request)" -eq 1 ] ...
#   ustk_finish                  # exit status: 1 if any ustk_fail
#
# Safety rules (docs/TESTING.md): everything happens inside the namespace the
# test created; the only addresses used are the 10.0.0.0/24 pair below, which
# exist only inside it (and spoofed sources of their subnet, written onto the
# device by synflood.py, which never leave it; test_tcp_tap.sh widens the
# subnet to 10.0.0.0/16 for that); every wait is bounded; the EXIT/INT/TERM
# trap removes the namespace and kills only processes this script started.

USTK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
USTACK=${USTACK:-$USTK_ROOT/build/ustack}
# Debian's python has scapy; a python3 earlier on PATH may not.
USTK_PY=/usr/bin/python3

USTK_IFNAME=ustk0          # the TUN device, created inside the namespace
USTK_KADDR=10.0.0.1        # the kernel's side of the TUN link
USTK_ADDR=10.0.0.2         # ustack's address
USTK_PREFIX=24

USTK_TEST=                 # short name of this script, e.g. "ping"
USTK_TESTS=()              # test names it reports, for SKIP lines
USTK_NS=                   # namespace we created, or empty
USTK_PID=                  # the ustack we started, or empty
USTK_STATUS=               # ustack's exit status once stopped
USTK_PIDS=()               # other background processes we started
USTK_FAILED=0
USTK_DIR=                  # artifacts: <ustack's folder>/interop/<test>/
USTK_LOG=                  # ustack's stdout + stderr (counters, errors)
USTK_PCAP=                 # the capture ustack writes

# ---- reporting -------------------------------------------------------------

ustk_pass() { # NAME
    echo "PASS $1"
}

ustk_fail() { # NAME [WHY...]
    local name=$1
    shift
    [ $# -gt 0 ] && echo "    $*"
    echo "FAIL $name"
    USTK_FAILED=1
}

ustk_skip() { # NAME REASON
    echo "SKIP $1: $2"
}

# PASS when the shell test in "$@" succeeds, FAIL with WHY otherwise.
ustk_expect() { # NAME WHY TEST-ARGS...
    local name=$1 why=$2
    shift 2
    if [ "$@" ]; then
        ustk_pass "$name"
    else
        ustk_fail "$name" "$why"
    fi
}

# Report SKIP for every test the script declared, then stop (successfully:
# a skip is not a failure).
ustk_skip_all() { # REASON
    local t
    for t in "${USTK_TESTS[@]}"; do
        ustk_skip "$t" "$1"
    done
    exit 0
}

ustk_finish() {
    exit "$USTK_FAILED"
}

# ---- setup -------------------------------------------------------------------

# Declare the test and the names it reports; check what every interop test
# needs (root, /dev/net/tun, ip netns, the ustack binary) and skip otherwise.
ustk_init() { # TEST NAMES...
    USTK_TEST=$1
    shift
    USTK_TESTS=("$@")
    trap ustk_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    [ "$(id -u)" -eq 0 ] || ustk_skip_all "needs root (network namespaces, TUN)"
    [ -c /dev/net/tun ] || ustk_skip_all "no /dev/net/tun"
    command -v ip >/dev/null || ustk_skip_all "ip (iproute2) not installed"
    [ -x "$USTACK" ] || ustk_skip_all "$USTACK not built"

    # Next to the binary under test (build/interop/, build/asan/interop/...),
    # so runs against different builds never share a folder.
    USTK_DIR=${USTK_ARTIFACTS:-$(dirname "$USTACK")/interop}/$USTK_TEST
    rm -rf "$USTK_DIR"
    mkdir -p "$USTK_DIR" 2>/dev/null ||
        USTK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ustk-$USTK_TEST.XXXXXX") ||
        ustk_skip_all "cannot create a folder for artifacts"
    USTK_LOG=$USTK_DIR/ustack.log
    USTK_PCAP=$USTK_DIR/ustack.pcap
}

# Skip everything unless each command exists.
ustk_need() { # COMMAND...
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || ustk_skip_all "$c not installed"
    done
}

# Does Debian's python have scapy? (Tests that inject frames need it.)
ustk_have_scapy() {
    [ -x "$USTK_PY" ] && "$USTK_PY" -c 'import scapy.all' >/dev/null 2>&1
}

ustk_netns_create() {
    local ns=ustk-$USTK_TEST-$$
    ip netns add "$ns" || ustk_skip_all "cannot create network namespace $ns"
    USTK_NS=$ns
    ip -n "$USTK_NS" link set lo up
}

# Run a command inside our namespace.
ustk_ns() { # COMMAND...
    ip netns exec "$USTK_NS" "$@"
}

# Start `ustack up` in the background on a TUN device in our namespace, with
# a capture, and wait (bounded) until the device is up and addressed.
# Extra arguments go to ustack. Returns non-zero (log shown) if it fails.
# USTK_CMD picks another subcommand that brings the stack up (e.g. serve).
# USTK_LINK=tap runs it on a TAP device (Ethernet and ARP) instead of TUN;
# USTK_MAC then sets ustack's MAC (default: ustack picks one).
ustk_start() { # [USTACK-ARGS...]
    local link=()
    if [ "${USTK_LINK:-tun}" = tap ]; then
        link=(--tap)
        [ -n "${USTK_MAC:-}" ] && link+=(--mac "$USTK_MAC")
    fi
    "$USTACK" "${USTK_CMD:-up}" --ifname "$USTK_IFNAME" "${link[@]}" \
        --kernel-addr "$USTK_KADDR/$USTK_PREFIX" --addr "$USTK_ADDR" \
        --netns "$USTK_NS" --pcap "$USTK_PCAP" "$@" >"$USTK_LOG" 2>&1 &
    USTK_PID=$!
    USTK_STATUS=
    local i
    for i in $(seq 200); do # 10 s
        if ! kill -0 "$USTK_PID" 2>/dev/null; then
            wait "$USTK_PID"
            USTK_STATUS=$?
            USTK_PID=
            echo "    ustack exited early (status $USTK_STATUS):"
            sed 's/^/      /' "$USTK_LOG"
            return 1
        fi
        if ip -n "$USTK_NS" -o link show dev "$USTK_IFNAME" 2>/dev/null |
            grep -q ',UP' &&
            ip -n "$USTK_NS" -o -4 addr show dev "$USTK_IFNAME" 2>/dev/null |
            grep -q " $USTK_KADDR/"; then
            return 0
        fi
        sleep 0.05
    done
    echo "    $USTK_IFNAME did not come up in $USTK_NS within 10 s"
    return 1
}

# Like ustk_start, but a failure to start skips nothing: it fails every
# declared test and ends the script.
ustk_start_or_fail() { # [USTACK-ARGS...]
    ustk_start "$@" && return 0
    local t
    for t in "${USTK_TESTS[@]}"; do
        ustk_fail "$t" "ustack did not start"
    done
    exit 1
}

# Remember a background process we started, so cleanup can stop it.
ustk_track() { # PID
    USTK_PIDS+=("$1")
}

# ---- counters ----------------------------------------------------------------

# Wait until FILE stops growing, having grown past SIZE (bounded: 5 s).
ustk_wait_growth() { # FILE SIZE
    local prev=-1 cur i
    for i in $(seq 100); do
        cur=$(stat -c %s "$1" 2>/dev/null || echo 0)
        if [ "$cur" -gt "$2" ] && [ "$cur" -eq "$prev" ]; then
            return 0
        fi
        prev=$cur
        sleep 0.05
    done
    return 1
}

# Ask the running ustack to print its counters (SIGUSR1) and wait until the
# block is written. Afterwards ustk_counter reads the fresh values.
ustk_counters_refresh() {
    [ -n "$USTK_PID" ] || return 1
    local size
    size=$(stat -c %s "$USTK_LOG" 2>/dev/null || echo 0)
    kill -USR1 "$USTK_PID" 2>/dev/null || return 1
    ustk_wait_growth "$USTK_LOG" "$size"
}

# Current value of counter NAME ("ip.drop_bad_checksum"), as last printed by
# ustack (SIGUSR1 or exit); 0 if never printed (only non-zero ones are).
# Counters only grow, so the last "name value" line is the newest value.
ustk_counter() { # NAME [FILE]
    awk -v n="$1" '$1 == n && $2 ~ /^[0-9]+$/ { v = $2 } END { print v + 0 }' \
        "${2:-$USTK_LOG}"
}

# Save every counter line printed so far (the latest value of each) to FILE,
# to compare snapshots taken at different times.
ustk_counters_save() { # FILE
    awk 'NF == 2 && $1 ~ /^[a-z0-9_]+\.[a-z0-9_]+$/ && $2 ~ /^[0-9]+$/ {
             v[$1] = $2 }
         END { for (n in v) print n, v[n] }' "$USTK_LOG" | sort >"$1"
}

# How much counter NAME grew between two saved snapshots.
ustk_counter_delta() { # NAME BEFORE-FILE AFTER-FILE
    echo $(($(ustk_counter "$1" "$3") - $(ustk_counter "$1" "$2")))
}

# ---- teardown ------------------------------------------------------------------

# Wait (bounded) for PID, a child of this shell, to exit; KILL it if it
# does not. Its exit status goes to USTK_REAPED.
USTK_REAPED=
ustk_reap() { # PID SECONDS
    local pid=$1 i
    for i in $(seq $(($2 * 20))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "    pid $pid did not exit within $2 s; killing it"
        kill -KILL "$pid" 2>/dev/null
    fi
    USTK_REAPED=0
    wait "$pid" 2>/dev/null || USTK_REAPED=$?
}

# Stop ustack with SIGTERM: it prints its final counters and closes the
# capture. Sets USTK_STATUS; returns non-zero unless it exited cleanly.
ustk_stop() {
    [ -n "$USTK_PID" ] || return 1
    kill -TERM "$USTK_PID" 2>/dev/null
    ustk_reap "$USTK_PID" 5
    USTK_STATUS=$USTK_REAPED
    USTK_PID=
    [ "$USTK_STATUS" -eq 0 ]
}

# The EXIT trap: stop what we started, remove what we created.
ustk_cleanup() {
    local rc=$? pid
    if [ -n "$USTK_PID" ]; then
        kill -TERM "$USTK_PID" 2>/dev/null
        ustk_reap "$USTK_PID" 5
        USTK_PID=
    fi
    for pid in "${USTK_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null && ustk_reap "$pid" 2
    done
    USTK_PIDS=()
    if [ -n "$USTK_NS" ]; then
        # Anything still running inside the namespace was started by this
        # test (the namespace is ours alone).
        for pid in $(ip netns pids "$USTK_NS" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$USTK_NS" 2>/dev/null
        USTK_NS=
    fi
    exit "$rc"
}
