#!/bin/bash
# ustack pings the kernel (`ustack ping`), the other direction from ping.sh:
#   interop_ustack_ping          20 echo requests, 20 replies, exit status 0
#   interop_ustack_ping_full_mtu 1472 data bytes (a 1500-byte packet) answered
#   interop_ustack_ping_kernel   the kernel's own counters (nstat, per
#                                namespace) saw exactly those echo requests
#                                and no IP or ICMP errors from ustack
#   interop_ustack_ping_no_reply pinging an address nobody has: no reply,
#                                exit status 1
. "$(dirname "$0")/lib.sh"

ustk_init ustack_ping interop_ustack_ping interop_ustack_ping_full_mtu \
    interop_ustack_ping_kernel interop_ustack_ping_no_reply
ustk_need nstat
ustk_netns_create

# Run `ustack ping` on a fresh TUN device in our namespace (bounded).
ustack_ping() { # OUTPUT-FILE PING-ARGS...
    local out=$1
    shift
    timeout -k 5 60 "$USTACK" ping --ifname "$USTK_IFNAME" \
        --kernel-addr "$USTK_KADDR/$USTK_PREFIX" --addr "$USTK_ADDR" \
        --netns "$USTK_NS" "$@" >"$out" 2>&1
}

kernel_counter() { # NAME: the kernel's SNMP counter in our namespace
    ustk_ns nstat -az "$1" | awk -v n="$1" '$1 == n { print $2 }'
}

ustk_ns nstat -n >/dev/null # reset nstat's history: -a reads absolute values
echos_before=$(kernel_counter IcmpInEchos)

out=$USTK_DIR/ping.out
ustack_ping "$out" -c 20 -i 10 "$USTK_KADDR"
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^20 packets transmitted, 20 received' "$out"; then
    ustk_pass interop_ustack_ping
else
    sed 's/^/    /' "$out"
    ustk_fail interop_ustack_ping "status $rc, expected 20 of 20 replies"
fi

big=$USTK_DIR/ping-full-mtu.out
ustack_ping "$big" -c 2 -i 10 -s 1472 "$USTK_KADDR"
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^2 packets transmitted, 2 received' "$big"; then
    ustk_pass interop_ustack_ping_full_mtu
else
    sed 's/^/    /' "$big"
    ustk_fail interop_ustack_ping_full_mtu "status $rc, expected 2 of 2 replies"
fi

echos=$(($(kernel_counter IcmpInEchos) - ${echos_before:-0}))
errors=""
for c in IpInHdrErrors IpInAddrErrors IcmpInErrors IcmpInCsumErrors; do
    v=$(kernel_counter "$c")
    [ "${v:-0}" -eq 0 ] || errors="$errors $c=$v"
done
ustk_expect interop_ustack_ping_kernel \
    "kernel counted $echos echo requests (expected 22), errors:${errors:- none}" \
    "$echos-${errors:-none}" = "22-none"

# 10.0.0.3 is inside the namespace's subnet but nobody answers for it.
none=$USTK_DIR/ping-no-reply.out
ustack_ping "$none" -c 2 -i 10 --timeout 300 10.0.0.3
rc=$?
if [ "$rc" -eq 1 ] && grep -q '^2 packets transmitted, 0 received' "$none"; then
    ustk_pass interop_ustack_ping_no_reply
else
    sed 's/^/    /' "$none"
    ustk_fail interop_ustack_ping_no_reply "status $rc, expected 1 and no replies"
fi

ustk_finish
