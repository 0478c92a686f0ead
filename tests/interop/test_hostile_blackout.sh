#!/bin/bash
# Every frame through the TUN device dropped for 3 s in the middle of a
# transfer (iptables DROP on the kernel's side, both ways), then let through
# again:
#   interop_hostile_blackout_echo  a 16 MiB echo goes dark after 2 MiB have
#                                  come back and completes once the link is
#                                  back: sha256 intact; ustack's
#                                  retransmission timer fired meanwhile
. "$(dirname "$0")/lib.sh"

ustk_init hostile_blackout interop_hostile_blackout_echo
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/hostile_common.bash"
ustk_netns_create
hostile_need_iptables

USTK_CMD=serve ustk_start_or_fail --echo 7
# The tool inserts and deletes the DROP rules itself, at the right moment.
hostile_run 100 echo "$USTK_ADDR" 7 $((16 * 1024 * 1024)) 90 \
    --blackout "$USTK_IFNAME" $((2 * 1024 * 1024)) 3
rc=$?
ustk_stop
rto=$(ustk_counter tcp.rto_expired)
echo "    ustack: $rto timeouts, $(ustk_counter tcp.retransmits) retransmissions"
left=$(ipt -S | grep -c -- '-j DROP')
ustk_expect interop_hostile_blackout_echo \
    "echo status $rc; $rto retransmission timeouts; $left DROP rules left" \
    "$rc" -eq 0 -a "$rto" -gt 0 -a "$left" -eq 0

ustk_finish
