#!/bin/bash
# IPv4 fragments and the TAP link against the real kernel:
#   interop_frag_tun_ping_4000     ping -s 4000 over TUN: the kernel fragments
#                                  the request, ustack reassembles it and
#                                  fragments the reply; 3 of 3 answered intact
#   interop_frag_tun_ping_65000    the same with 65,000 data bytes (45 fragments
#                                  each way)
#   interop_frag_tun_counters      ustack counted what ping saw: datagrams
#                                  reassembled and replies fragmented, nothing
#                                  dropped as overlapping or evicted
#   interop_frag_tap_ping_4000     ping -s 4000 over TAP (Ethernet + ARP)
#   interop_frag_tap_ping_65000    ping -s 65000 over TAP
#   interop_frag_tap_neigh         the kernel's neighbour table has ustack's
#                                  MAC for its address, REACHABLE or STALE
#   interop_frag_tap_arping        arping -I <tap> gets answers, from the MAC
#                                  ustack was given
#   interop_frag_tap_announce      ustack's first frame is its gratuitous ARP
#                                  (tshark reads the capture; no malformed
#                                  frame in it)
#   interop_frag_tap_cli_errors    --mac without --tap, and MACs a host cannot
#                                  use, are refused with status 2 and a reason
. "$(dirname "$0")/lib.sh"

ustk_init frag_tap interop_frag_tun_ping_4000 interop_frag_tun_ping_65000 \
    interop_frag_tun_counters interop_frag_tap_ping_4000 interop_frag_tap_ping_65000 \
    interop_frag_tap_neigh interop_frag_tap_arping interop_frag_tap_announce \
    interop_frag_tap_cli_errors
ustk_need ping
ustk_netns_create

MAC=02:75:73:74:6b:02 # what ustack gets on the TAP link (locally administered)

# Ping with SIZE data bytes COUNT times; PASS NAME if every reply came back
# intact (ping reports wrong data, duplicates and truncation itself).
ping_sizes() { # NAME SIZE
    local out=$USTK_DIR/$1.out
    if ! kill -0 "$USTK_PID" 2>/dev/null; then
        ustk_fail "$1" "ustack is not running"
        return
    fi
    ustk_ns ping -n -c 3 -i 0.3 -W 3 -s "$2" "$USTK_ADDR" >"$out" 2>&1
    local rc=$?
    if [ "$rc" -eq 0 ] && grep -q ' 3 received' "$out" &&
        ! grep -qE 'wrong data|DUP!|truncated' "$out"; then
        ustk_pass "$1"
    else
        sed 's/^/    /' "$out" | tail -5
        ustk_fail "$1" "not every ${2}-byte ping was answered intact"
    fi
}

# ---- TUN ------------------------------------------------------------------------
USTK_LOG=$USTK_DIR/tun.log
USTK_PCAP=$USTK_DIR/tun.pcap
if ustk_start; then
    ping_sizes interop_frag_tun_ping_4000 4000
    ping_sizes interop_frag_tun_ping_65000 65000
    if ustk_stop; then
        ok=$(ustk_counter ip.reasm_ok)
        frag=$(ustk_counter ip.frag_datagrams)
        bad=$(($(ustk_counter ip.reasm_overlap) + $(ustk_counter ip.reasm_evicted) +
            $(ustk_counter ip.reasm_timeout) + $(ustk_counter ip.reasm_too_big)))
        # 3 pings of each size; the kernel fragments both (4028 > 1500).
        ustk_expect interop_frag_tun_counters \
            "reassembled $ok, fragmented $frag replies, $bad dropped or timed out" \
            "$ok-$frag-$bad" = "6-6-0"
    else
        ustk_fail interop_frag_tun_counters "ustack exited with status $USTK_STATUS"
    fi
else
    for t in interop_frag_tun_ping_4000 interop_frag_tun_ping_65000 \
        interop_frag_tun_counters; do
        ustk_fail "$t" "ustack did not start on TUN"
    done
fi

# ---- TAP --------------------------------------------------------------------------
USTK_LOG=$USTK_DIR/tap.log
USTK_PCAP=$USTK_DIR/tap.pcap
USTK_LINK=tap USTK_MAC=$MAC ustk_start_or_fail
ping_sizes interop_frag_tap_ping_4000 4000
ping_sizes interop_frag_tap_ping_65000 65000

# The kernel resolved ustack's address with ARP to reach it at all.
neigh=$(ustk_ns ip neigh show "$USTK_ADDR" dev "$USTK_IFNAME")
if echo "$neigh" | grep -qi "lladdr $MAC " &&
    echo "$neigh" | grep -qE 'REACHABLE|STALE|DELAY'; then
    ustk_pass interop_frag_tap_neigh
else
    ustk_fail interop_frag_tap_neigh "ip neigh says '$neigh', want lladdr $MAC"
fi

if ! command -v arping >/dev/null; then
    ustk_skip interop_frag_tap_arping "arping not installed (package iputils-arping)"
else
    out=$USTK_DIR/arping.out
    ustk_ns timeout 20 arping -c 3 -w 10 -I "$USTK_IFNAME" "$USTK_ADDR" >"$out" 2>&1
    replies=$(grep -ci "reply from $USTK_ADDR \[$MAC\]" "$out")
    others=$(grep -i "reply from" "$out" | grep -vci "\[$MAC\]")
    ustk_expect interop_frag_tap_arping \
        "$replies replies from $MAC, $others from elsewhere: $(tail -1 "$out")" \
        "$replies-$others" = "3-0"
fi

if ! ustk_stop; then
    ustk_fail interop_frag_tap_announce "ustack exited with status $USTK_STATUS"
elif ! command -v tshark >/dev/null; then
    ustk_skip interop_frag_tap_announce "tshark not installed"
else
    # The first frame ustack sent: who-has our own address, from our MAC,
    # broadcast (RFC 5227 announcement).
    first=$(timeout 60 tshark -n -r "$USTK_PCAP" -Y "eth.src == $MAC" -c 1 -T fields \
        -e eth.dst -e arp.opcode -e arp.src.proto_ipv4 -e arp.dst.proto_ipv4 \
        -e arp.src.hw_mac 2>/dev/null)
    malformed=$(timeout 60 tshark -n -r "$USTK_PCAP" -Y _ws.malformed 2>/dev/null | wc -l)
    want=$(printf 'ff:ff:ff:ff:ff:ff\t1\t%s\t%s\t%s' "$USTK_ADDR" "$USTK_ADDR" "$MAC")
    ustk_expect interop_frag_tap_announce \
        "first frame from ustack: '$first'; $malformed malformed frames" \
        "$first-$malformed" = "$want-0"
fi

# ---- CLI ----------------------------------------------------------------------------
bad=()
for args in "--mac $MAC" "--tap --mac ff:ff:ff:ff:ff:ff" "--tap --mac 01:00:5e:00:00:01" \
    "--tap --mac 00:00:00:00:00:00" "--tap --mac 02:00:00:00:00" "--tap --mac 02-00-00-00-00-01" \
    "--tap --mac 02:00:00:00:00:0g" "--tap --mac 02:00:00:00:00:001"; do
    # shellcheck disable=SC2086 # args is a word list
    "$USTACK" up $args >"$USTK_DIR/cli.out" 2>&1
    rc=$?
    if [ "$rc" -ne 2 ] || ! grep -q -- '--mac' "$USTK_DIR/cli.out"; then
        bad+=("'$args' (status $rc: $(head -1 "$USTK_DIR/cli.out"))")
    fi
done
ustk_expect interop_frag_tap_cli_errors "accepted or unclear: ${bad[*]}" "${#bad[@]}" -eq 0

ustk_finish
