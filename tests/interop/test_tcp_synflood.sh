#!/bin/bash
# SYN flood against `ustack serve --echo` over TUN:
#   interop_tcp_synflood_survives  during and after 20,000 SYNs from random
#                                  spoofed addresses of the subnet, a real
#                                  client connects within 2 s and its data is
#                                  echoed
#   interop_tcp_synflood_cookies   ustack answered the flood with SYN cookies
#                                  (the counter moved), kept running, and
#                                  exits cleanly
. "$(dirname "$0")/lib.sh"

ustk_init tcp_synflood interop_tcp_synflood_survives interop_tcp_synflood_cookies
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"
COOKIE_COUNTER=tcp.syncookies_sent
ustk_netns_create
# No capture: 40,000 frames of flood would only slow the run down.
USTK_CMD=serve ustk_start_or_fail --echo 7 --pcap /dev/null

ustk_counters_refresh
before=$USTK_DIR/before.counters
ustk_counters_save "$before"

# The spoofed sources: the whole /24 but the network, broadcast and the two
# real hosts. One real client connects while the flood is on, one after it.
flood_out=$USTK_DIR/synflood.out
timeout 60 ip netns exec "$USTK_NS" "$USTK_PY" "$USTK_ROOT/tests/interop/synflood.py" \
    "$USTK_IFNAME" "$USTK_ADDR" 7 20000 "$USTK_KADDR/$USTK_PREFIX" "$USTK_KADDR" \
    "$USTK_ADDR" >"$flood_out" 2>&1 &
flood_pid=$!
ustk_track "$flood_pid"
sleep 0.1
tool_run 10 timed-echo "$USTK_ADDR" 7 2
during_rc=$?
ustk_reap "$flood_pid" 60
flood_rc=$USTK_REAPED
sed 's/^/    /' "$flood_out"
tool_run 10 timed-echo "$USTK_ADDR" 7 2
after_rc=$?
if [ "$flood_rc" -eq 0 ] && [ "$during_rc" -eq 0 ] && [ "$after_rc" -eq 0 ]; then
    ustk_pass interop_tcp_synflood_survives
else
    ustk_fail interop_tcp_synflood_survives "flood status $flood_rc; client during the" \
        "flood: status $during_rc, after it: $after_rc"
fi

ustk_counters_refresh
after=$USTK_DIR/after.counters
ustk_counters_save "$after"
cookies=$(ustk_counter_delta "$COOKIE_COUNTER" "$before" "$after")
syns=$(ustk_counter_delta tcp.rx "$before" "$after")
echo "    $syns TCP segments received, $cookies SYN cookies sent during the flood"
if ustk_stop && [ "$cookies" -gt 0 ]; then
    ustk_pass interop_tcp_synflood_cookies
else
    ustk_fail interop_tcp_synflood_cookies "$COOKIE_COUNTER moved by $cookies;" \
        "ustack exit status $USTK_STATUS"
fi

ustk_finish
