#!/bin/bash
# nmap against `ustack serve` over TUN:
#   interop_tcp_portscan_states   a SYN scan with version detection (-sS -sV)
#                                 sees the four services open and the other
#                                 ports closed
#   interop_tcp_portscan_after    ustack still serves echo afterwards and exits
#                                 cleanly
. "$(dirname "$0")/lib.sh"

ustk_init tcp_portscan interop_tcp_portscan_states interop_tcp_portscan_after
ustk_need nmap
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"
ustk_netns_create
USTK_CMD=serve ustk_start_or_fail --echo 7 --discard 9 --chargen 19 --http 80

open_ports="7 9 19 80"
closed_ports="21 81 1234"
ports=$(echo $open_ports $closed_ports | tr ' ' ',')
grepable=$USTK_DIR/nmap.gnmap
# -Pn: no host discovery; -n: no DNS. Bounded twice: nmap's own host
# timeout and timeout(1).
timeout 150 ip netns exec "$USTK_NS" nmap -n -Pn -sS -sV --version-light \
    --max-retries 2 --host-timeout 120s -p "$ports" -oG "$grepable" "$USTK_ADDR" \
    >"$USTK_DIR/nmap.out" 2>&1
rc=$?
sed -n 's/^\([0-9]*\/tcp.*\)/    \1/p' "$USTK_DIR/nmap.out"
# "Ports: 7/open/tcp//echo///, 9/open/tcp//discard?///, ..."
state_of() { # PORT
    grep -oE "[ ,]$1/[a-z|]+/tcp" "$grepable" | head -1 | cut -d/ -f2
}
wrong=
for p in $open_ports; do
    [ "$(state_of "$p")" = open ] || wrong="$wrong $p:$(state_of "$p")"
done
for p in $closed_ports; do
    [ "$(state_of "$p")" = closed ] || wrong="$wrong $p:$(state_of "$p")"
done
if [ "$rc" -eq 0 ] && [ -z "$wrong" ]; then
    ustk_pass interop_tcp_portscan_states
else
    ustk_fail interop_tcp_portscan_states "nmap status $rc; wrong states:$wrong"
fi

if tool_run 30 echo "$USTK_ADDR" 7 65536 && ustk_stop; then
    ustk_pass interop_tcp_portscan_after
else
    ustk_fail interop_tcp_portscan_after "echo failed after the scan, or ustack" \
        "exited with status $USTK_STATUS"
fi

ustk_finish
