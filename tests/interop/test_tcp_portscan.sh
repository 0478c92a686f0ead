#!/bin/bash
# nmap against `ustack serve` over TUN (or TAP with USTK_LINK=tap;
# test_tcp_tap.sh scans a few ports so):
#   interop_tcp_portscan_states   a SYN scan with version detection (-sS -sV)
#                                 sees the four services open and the other
#                                 ports closed
#   interop_tcp_portscan_after    ustack still serves echo afterwards and exits
#                                 cleanly
# The scan and its check are portscan_check in tcp_common.bash.
. "$(dirname "$0")/lib.sh"

ustk_init tcp_portscan interop_tcp_portscan_states interop_tcp_portscan_after
ustk_need nmap
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"
ustk_netns_create
USTK_CMD=serve ustk_start_or_fail --echo 7 --discard 9 --chargen 19 --http 80

portscan_check interop_tcp_portscan_states "7 9 19 80" "21 81 1234"

if tool_run 30 echo "$USTK_ADDR" 7 65536 && ustk_stop; then
    ustk_pass interop_tcp_portscan_after
else
    ustk_fail interop_tcp_portscan_after "echo failed after the scan, or ustack" \
        "exited with status $USTK_STATUS"
fi

ustk_finish
