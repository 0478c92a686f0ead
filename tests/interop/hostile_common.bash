# Helpers shared by the hostile-network interop tests (tests/interop/
# test_hostile_*.sh), sourced after lib.sh. Not a test itself (run.sh runs
# only *.sh).
#
# The impairments live on the kernel's side of the TUN link, inside the
# test's namespace: iptables rules on the device (random loss, blackouts,
# a cut) and the NFQUEUE impairer tests/tools/nfq_impair (delay, reordering,
# duplication, corruption); or on ustack's side with its own --impair.

HOSTILE_TOOL=$USTK_ROOT/tests/interop/hostile_tool.py
# Built by `make tests` next to the ustack under test (when the
# libnetfilter_queue headers are installed).
NFQ_IMPAIR=${NFQ_IMPAIR:-$(dirname "$USTACK")/tools/nfq_impair}

# iptables inside our namespace, waiting (bounded) for the xtables lock.
ipt() { # IPTABLES-ARGS...
    ip netns exec "$USTK_NS" iptables -w 5 "$@"
}

# Skip everything unless iptables works inside a namespace here.
hostile_need_iptables() {
    ustk_need iptables timeout
    ipt -L -n >/dev/null 2>&1 || ustk_skip_all "iptables does not work inside a namespace here"
}

# Run a hostile_tool.py command in the namespace, bounded by SECONDS,
# showing its summary line indented. Returns the tool's status (124 on
# timeout).
hostile_run() { # SECONDS TOOL-ARGS...
    local secs=$1
    shift
    timeout -k 5 "$secs" ip netns exec "$USTK_NS" "$USTK_PY" "$HOSTILE_TOOL" "$@" 2>&1 |
        tail -5 | sed 's/^/    /'
    return "${PIPESTATUS[0]}"
}

# Packets counted by rule number N of CHAIN, 0 if there is none.
ipt_packets() { # CHAIN N
    ipt -L "$1" -v -n -x --line-numbers 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }' |
        grep -E '^[0-9]+$' || echo 0
}

# A kernel counter of our namespace (nstat name, e.g. TcpInCsumErrors).
kernel_counter() { # NAME
    ip netns exec "$USTK_NS" nstat -az "$1" 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }' |
        grep -E '^[0-9]+$' || echo 0
}

# Start nfq_impair in the background (tracked for cleanup; its pid in
# NFQ_PID) and wait (bounded: 5 s) until its queue is bound. It prints its
# summary to OUT when stopped (SIGTERM, e.g. with ustk_reap after kill).
NFQ_PID=
hostile_nfq_start() { # OUT NFQ-ARGS...
    local out=$1 ready=$USTK_DIR/nfq-ready.$RANDOM i pid
    shift
    rm -f "$ready"
    timeout -k 5 300 ip netns exec "$USTK_NS" "$NFQ_IMPAIR" --ready "$ready" "$@" >"$out" 2>&1 &
    pid=$!
    NFQ_PID=$pid
    ustk_track "$pid"
    for i in $(seq 100); do
        [ -s "$ready" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "    nfq_impair $* did not start:"
    sed 's/^/      /' "$out"
    return 1
}

# A number from nfq_impair's summary line ("... 12 corrupted, ...").
nfq_count() { # OUT WORD
    sed -n "s/.* \([0-9][0-9]*\) $2.*/\1/p" "$1" | head -1 | grep -E '^[0-9]+$' || echo 0
}

# Stop an nfq_impair started by hostile_nfq_start (it lets what it holds go
# and prints its summary).
hostile_nfq_stop() { # PID
    kill -TERM "$1" 2>/dev/null
    ustk_reap "$1" 5
}
