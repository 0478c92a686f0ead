#!/bin/bash
# The kernel's side of the link is cut for good (iptables DROP on the TUN
# device, both ways) while ustack streams chargen to a kernel reader, so
# ustack holds unacknowledged data that can never be acknowledged:
#   interop_hostile_link_cut_timeout  with --user-timeout 3000, ustack gives
#                                     the connection up with ETIMEDOUT
#                                     (tcp.user_timeout_aborts) 3 s after the
#                                     cut (2.5 to 5 s allowed), chargen
#                                     closes it, and the stack's connection
#                                     list (the HTTP status page, read once
#                                     the link is back) no longer has it
. "$(dirname "$0")/lib.sh"

ustk_init hostile_link_cut interop_hostile_link_cut_timeout
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/hostile_common.bash"
ustk_need curl
ustk_netns_create
hostile_need_iptables

SPORT=40019
USER_TIMEOUT_MS=3000
USTK_CMD=serve ustk_start_or_fail --chargen 19 --http 80 --user-timeout "$USER_TIMEOUT_MS" -v

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# A reader that reads 1 MiB, says so, and reads on until the connection
# fails or it is told to stop (bounded: 30 s).
ready=$USTK_DIR/hold-ready
stop=$USTK_DIR/hold-stop
rm -f "$ready" "$stop"
timeout -k 5 40 ip netns exec "$USTK_NS" "$USTK_PY" "$HOSTILE_TOOL" hold "$USTK_ADDR" 19 \
    "$SPORT" $((1024 * 1024)) "$ready" "$stop" 30 >"$USTK_DIR/hold.txt" 2>&1 &
hold=$!
ustk_track "$hold"
for i in $(seq 200); do
    [ -s "$ready" ] && break
    kill -0 "$hold" 2>/dev/null || break
    sleep 0.05
done
if [ ! -s "$ready" ]; then
    sed 's/^/    /' "$USTK_DIR/hold.txt"
    ustk_fail interop_hostile_link_cut_timeout "the reader never got its first MiB"
    ustk_finish
fi

ipt -I INPUT 1 -i "$USTK_IFNAME" -j DROP
ipt -I OUTPUT 1 -o "$USTK_IFNAME" -j DROP
cut_at=$(ms_now)
# Watch ustack's counters (SIGUSR1) until the user timeout fires (10 s).
aborted_after=
while [ $(($(ms_now) - cut_at)) -lt 10000 ]; do
    ustk_counters_refresh
    if [ "$(ustk_counter tcp.user_timeout_aborts)" -ge 1 ]; then
        aborted_after=$(($(ms_now) - cut_at))
        break
    fi
    sleep 0.1
done
# The link comes back so we can look at ustack's connection list.
ipt -D INPUT -i "$USTK_IFNAME" -j DROP
ipt -D OUTPUT -o "$USTK_IFNAME" -j DROP
page=$USTK_DIR/status.html
timeout 20 ip netns exec "$USTK_NS" curl -s --max-time 10 -o "$page" "http://$USTK_ADDR/"
curl_rc=$?
listed=$(grep -c ":$SPORT<" "$page" 2>/dev/null)
touch "$stop"
ustk_reap "$hold" 5
sed 's/^/    /' "$USTK_DIR/hold.txt"
ustk_stop
closed=$(grep -c "chargen: $USTK_KADDR:$SPORT closed" "$USTK_LOG")
echo "    cut at 0 ms, ETIMEDOUT after ${aborted_after:-(never)} ms; status page: curl" \
    "status $curl_rc, $listed rows for port $SPORT; chargen logged the close: $closed"
in_time=0
[ -n "$aborted_after" ] && [ "$aborted_after" -ge 2500 ] && [ "$aborted_after" -le 5000 ] &&
    in_time=1
ustk_expect interop_hostile_link_cut_timeout \
    "timeout in 2.5..5 s: $in_time; page fetched: $curl_rc; rows: $listed; closes logged: $closed;" \
    "$in_time" -eq 1 -a "$curl_rc" -eq 0 -a "${listed:-1}" -eq 0 -a "$closed" -eq 1 \
    -a "$(ustk_counter tcp.timeout_aborts)" -eq 1

ustk_finish
