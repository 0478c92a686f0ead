#!/bin/bash
# The TUN link, the runner and the CLI around them, against the real kernel:
#   interop_link_device_config   the kernel side is configured as asked:
#                                up, address/prefix, subnet route, MTU,
#                                transmit queue 4096, IPv6 off (and no IPv6
#                                address)
#   interop_link_mtu             the kernel enforces our MTU: a DF ping that
#                                fills it is answered, one byte more is refused
#   interop_link_quiet           with nothing pinging, the kernel sends ustack
#                                nothing at all (no router solicitations, no
#                                MLD reports: IPv6 really is off)
#   interop_link_sigusr1         SIGUSR1 prints counters, ustack keeps running
#                                and answering
#   interop_link_pcap_live       the capture holds the frames while ustack is
#                                still running, with Unix timestamps of now
#   interop_link_stop_removes    SIGTERM: exit 0, counters printed, the device
#                                is gone
#   interop_link_sigint          SIGINT stops it just as cleanly
#   interop_link_errors          clear one-line errors and non-zero exits: the
#                                namespace is missing, the name is taken by a
#                                running ustack or by another interface type,
#                                a bad option
#   interop_link_device_deleted  deleting the device under a running ustack
#                                ends it with an error, not a spin or a hang
. "$(dirname "$0")/lib.sh"

ustk_init link interop_link_device_config interop_link_mtu interop_link_quiet \
    interop_link_sigusr1 interop_link_pcap_live interop_link_stop_removes \
    interop_link_sigint interop_link_errors interop_link_device_deleted
ustk_need ping
ustk_netns_create

MTU=1400
ustk_start_or_fail --mtu "$MTU"

# ---- interop_link_device_config ----------------------------------------------
link=$(ustk_ns ip -o link show dev "$USTK_IFNAME")
addr4=$(ustk_ns ip -o -4 addr show dev "$USTK_IFNAME" | awk '{ print $4 }')
addr6=$(ustk_ns ip -o -6 addr show dev "$USTK_IFNAME")
route=$(ustk_ns ip -4 route show dev "$USTK_IFNAME")
v6off=$(ustk_ns cat "/proc/sys/net/ipv6/conf/$USTK_IFNAME/disable_ipv6" 2>/dev/null)
why="link: $link | addr: $addr4 | route: $route | inet6: $addr6 | disable_ipv6: $v6off"
# qlen: ustack_tun_open's transmit queue length (4096, not the kernel's 500).
if [[ $link == *",UP"* && $link == *" mtu $MTU "* && $link == *" qlen 4096"* &&
    $addr4 == "$USTK_KADDR/$USTK_PREFIX" &&
    $route == "10.0.0.0/24 "* && -z $addr6 && ${v6off:-1} == 1 ]]; then
    ustk_pass interop_link_device_config
else
    ustk_fail interop_link_device_config "$why"
fi

# ---- interop_link_quiet -------------------------------------------------------
# Before anyone pings: give the kernel a second to send whatever it would
# (an IPv6 router solicitation comes within about a second of link-up).
sleep 1
if ustk_counters_refresh; then
    rx=$(ustk_counter link.rx_frames)
    ustk_expect interop_link_quiet "the kernel sent $rx frames unprompted" "$rx" -eq 0
else
    ustk_fail interop_link_quiet "no counters after SIGUSR1"
fi

# ---- interop_link_mtu -----------------------------------------------------------
# -M do: Don't Fragment, so the kernel must fit each packet into the MTU.
fit=$((MTU - 28))
out=$USTK_DIR/mtu.out
ustk_ns ping -n -c 1 -W 2 -M do -s "$fit" "$USTK_ADDR" >"$out" 2>&1
ok_fit=$?
ustk_ns ping -n -c 1 -W 2 -M do -s $((fit + 1)) "$USTK_ADDR" >>"$out" 2>&1
ok_over=$?
if [ "$ok_fit" -eq 0 ] && [ "$ok_over" -ne 0 ] && grep -q "mtu = $MTU\|mtu=$MTU" "$out"; then
    ustk_pass interop_link_mtu
else
    sed 's/^/    /' "$out"
    ustk_fail interop_link_mtu "ping -s $fit: status $ok_fit; -s $((fit + 1)): status $ok_over"
fi

# ---- interop_link_sigusr1 -----------------------------------------------------------
before=$(grep -c '^counters (SIGUSR1)' "$USTK_LOG")
if ustk_counters_refresh && kill -0 "$USTK_PID" 2>/dev/null &&
    ustk_ns ping -n -c 1 -W 2 "$USTK_ADDR" >/dev/null 2>&1; then
    after=$(grep -c '^counters (SIGUSR1)' "$USTK_LOG")
    ustk_expect interop_link_sigusr1 "SIGUSR1 printed $((after - before)) counter blocks" \
        "$after" -eq $((before + 1))
else
    ustk_fail interop_link_sigusr1 "ustack stopped or stopped answering after SIGUSR1"
fi

# ---- interop_link_pcap_live ---------------------------------------------------------
if ! command -v tshark >/dev/null; then
    ustk_skip interop_link_pcap_live "tshark not installed"
else
    now=$(date +%s)
    # A size no other step uses (321 + 28 = 349 bytes), to find this exchange.
    ustk_ns ping -n -c 1 -W 2 -s 321 "$USTK_ADDR" >/dev/null 2>&1
    # ustack flushes the capture after each batch of frames: no need to stop it.
    sleep 0.2
    times=$(timeout 30 tshark -n -r "$USTK_PCAP" -Y 'ip.len == 349' \
        -T fields -e frame.time_epoch 2>/dev/null)
    n=$(echo "$times" | grep -c .)
    last=$(echo "$times" | tail -n 1 | cut -d. -f1)
    ustk_expect interop_link_pcap_live \
        "capture of a running ustack: $n of 2 frames, last at ${last:-none} (now $now)" \
        "$n" -eq 2 -a "${last:-0}" -ge $((now - 5)) -a "${last:-0}" -le $((now + 5))
fi

# ---- interop_link_errors (while the first ustack holds the device) -----------------
errs=$USTK_DIR/errors.out
: >"$errs"
check_error() { # WANT-TEXT ARGS...: non-zero exit, one line on stderr, WANT-TEXT in it
    local want=$1 rc lines
    shift
    timeout 10 "$USTACK" "$@" >/dev/null 2>"$USTK_DIR/err.one"
    rc=$?
    lines=$(wc -l <"$USTK_DIR/err.one")
    cat "$USTK_DIR/err.one" >>"$errs"
    if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ] || ! grep -q "$want" "$USTK_DIR/err.one" ||
        { [ "$lines" -ne 1 ] && ! grep -q "^Try '" "$USTK_DIR/err.one"; }; then
        echo "    ustack $*: status $rc, stderr:"
        sed 's/^/      /' "$USTK_DIR/err.one"
        return 1
    fi
}
bad=0
check_error "does not exist" up --netns "ustk-missing-$$" || bad=1
check_error "in use" up --netns "$USTK_NS" --ifname "$USTK_IFNAME" || bad=1
check_error "another type" up --netns "$USTK_NS" --ifname lo || bad=1
check_error "unknown option" up --frobnicate || bad=1
check_error "outside" up --netns "$USTK_NS" --ifname ustk9 --addr 10.9.9.9 || bad=1
ustk_expect interop_link_errors "see above" "$bad" -eq 0

# ---- interop_link_stop_removes --------------------------------------------------------
if ustk_stop && grep -q '^ustack stopped; counters:' "$USTK_LOG" &&
    ! ustk_ns ip link show dev "$USTK_IFNAME" >/dev/null 2>&1; then
    ustk_pass interop_link_stop_removes
else
    ustk_fail interop_link_stop_removes "status ${USTK_STATUS:-?}; log:" \
        "$(tail -n 3 "$USTK_LOG")"
fi

# ---- interop_link_sigint ------------------------------------------------------------------
if ustk_start; then
    kill -INT "$USTK_PID"
    ustk_reap "$USTK_PID" 5
    USTK_PID=
    ustk_expect interop_link_sigint "exit status $USTK_REAPED after SIGINT" \
        "$USTK_REAPED" -eq 0
else
    ustk_fail interop_link_sigint "ustack did not start again"
fi

# ---- interop_link_device_deleted ---------------------------------------------------------
if ustk_start; then
    ustk_ns ip link del dev "$USTK_IFNAME"
    ustk_reap "$USTK_PID" 5
    USTK_PID=
    if [ "$USTK_REAPED" -ne 0 ] && [ "$USTK_REAPED" -ne 137 ] &&
        grep -q "event loop failed" "$USTK_LOG"; then
        ustk_pass interop_link_device_deleted
    else
        ustk_fail interop_link_device_deleted "exit status $USTK_REAPED; log:" \
            "$(tail -n 3 "$USTK_LOG")"
    fi
else
    ustk_fail interop_link_device_deleted "ustack did not start again"
fi

ustk_finish
