#!/bin/bash
# A kernel UDP client (Debian's python) against `ustack serve --udp-echo` over TUN:
#   interop_udp_echo_small        every size from 0 to 1472 bytes (the largest
#                                 that fits a 1500-byte packet) echoed
#                                 byte-exact
#   interop_udp_echo_fragmented   sizes from 1473 to 8000 bytes, fragmented
#                                 both ways, echoed byte-exact. SKIPs only if
#                                 ustack's counters say it dropped them for
#                                 lack of fragmentation (ip.drop_fragment:
#                                 no reassembly; udp.tx_too_big: no output
#                                 fragmentation)
#   interop_udp_zero_checksum     the kernel sends without checksums
#                                 (SO_NO_CHECK); ustack accepts them (RFC 768)
#                                 and counts them
#   interop_udp_refused_kernel    a closed UDP port of ustack: the kernel
#                                 client's connected socket gets
#                                 ConnectionRefusedError from ustack's ICMP
#                                 port unreachable
#   interop_udp_kernel_counters   the kernel found no bad checksum or length
#                                 in anything ustack sent
#   interop_udp_serve_totals      ustack serve exits cleanly and its echo
#                                 totals match: every datagram in went out
. "$(dirname "$0")/lib.sh"

ustk_init udp interop_udp_echo_small interop_udp_echo_fragmented \
    interop_udp_zero_checksum interop_udp_refused_kernel interop_udp_kernel_counters \
    interop_udp_serve_totals
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
ustk_need nstat
UDP_TOOL=$USTK_ROOT/tests/interop/udp_tool.py
UDP_PORT=7

# Run a udp_tool.py command in the namespace, bounded, output indented.
udp_tool() { # SECONDS TOOL-ARGS...
    local secs=$1
    shift
    timeout "$secs" ip netns exec "$USTK_NS" "$USTK_PY" "$UDP_TOOL" "$@" 2>&1 |
        head -12 | sed 's/^/    /'
    return "${PIPESTATUS[0]}"
}

kernel_counter() { # NAME: the kernel's SNMP counter in our namespace
    ustk_ns nstat -az "$1" | awk -v n="$1" '$1 == n { print $2 }'
}

ustk_netns_create
ustk_ns nstat -n >/dev/null # nstat -a reads absolute values from here on
USTK_CMD=serve ustk_start_or_fail --udp-echo "$UDP_PORT"

if udp_tool 120 echo "$USTK_ADDR" "$UDP_PORT" 0-1472; then
    ustk_pass interop_udp_echo_small
else
    ustk_fail interop_udp_echo_small "not every size came back byte-exact"
fi

# Sizes around the fragment boundaries (1480 data bytes per fragment) and up
# to 8000 bytes.
ustk_counters_refresh
ustk_counters_save "$USTK_DIR/before-large"
if udp_tool 120 echo "$USTK_ADDR" "$UDP_PORT" 1473-1500 2950-2970 4000 5000 6000 7000 7999 8000
then
    ustk_pass interop_udp_echo_fragmented
else
    ustk_counters_refresh
    ustk_counters_save "$USTK_DIR/after-large"
    no_reasm=$(ustk_counter_delta ip.drop_fragment "$USTK_DIR/before-large" "$USTK_DIR/after-large")
    no_frag=$(ustk_counter_delta udp.tx_too_big "$USTK_DIR/before-large" "$USTK_DIR/after-large")
    if [ "$no_reasm" -gt 0 ] || [ "$no_frag" -gt 0 ]; then
        ustk_skip interop_udp_echo_fragmented \
            "fragmentation not yet landed (ustack counted ip.drop_fragment +$no_reasm, udp.tx_too_big +$no_frag)"
    else
        ustk_fail interop_udp_echo_fragmented "large datagrams did not come back byte-exact"
    fi
fi

ustk_counters_refresh
ustk_counters_save "$USTK_DIR/before-nocsum"
udp_tool 30 echo-nocsum "$USTK_ADDR" "$UDP_PORT" 1 100 1472
nocsum_rc=$?
ustk_counters_refresh
ustk_counters_save "$USTK_DIR/after-nocsum"
nocsum=$(ustk_counter_delta udp.rx_no_checksum "$USTK_DIR/before-nocsum" "$USTK_DIR/after-nocsum")
ustk_expect interop_udp_zero_checksum \
    "echo status $nocsum_rc, ustack counted $nocsum datagrams without checksum (expected >= 3)" \
    "$nocsum_rc" -eq 0 -a "$nocsum" -ge 3

udp_tool 15 refused "$USTK_ADDR" 9
refused_rc=$?
ustk_counters_refresh
ustk_expect interop_udp_refused_kernel \
    "tool status $refused_rc; udp.no_port $(ustk_counter udp.no_port)" \
    "$refused_rc" -eq 0 -a "$(ustk_counter udp.no_port)" -ge 1

errors=""
for c in UdpInErrors UdpInCsumErrors IpInHdrErrors IpReasmFails; do
    v=$(kernel_counter "$c")
    [ "${v:-0}" -eq 0 ] || errors="$errors $c=$v"
done
in_datagrams=$(kernel_counter UdpInDatagrams)
ustk_expect interop_udp_kernel_counters \
    "kernel: ${in_datagrams:-0} datagrams in, errors:${errors:- none}" \
    -z "$errors" -a "${in_datagrams:-0}" -ge 1473

if ustk_stop; then
    # "echo 7/udp: N datagrams in, N bytes in, N datagrams out, N bytes out, N not sent"
    totals=$(grep "^echo $UDP_PORT/udp:" "$USTK_LOG")
    read -r d_in b_in d_out b_out not_sent < <(echo "$totals" |
        sed -n 's/.*: \([0-9]*\) datagrams in, \([0-9]*\) bytes in, \([0-9]*\) datagrams out, \([0-9]*\) bytes out, \([0-9]*\) not sent/\1 \2 \3 \4 \5/p')
    ustk_expect interop_udp_serve_totals "totals: ${totals:-missing}" \
        "${d_in:-0}" -ge 1473 -a "${d_in:-0}" -eq "$((${d_out:--1} + ${not_sent:-0}))" \
        -a "${b_in:-0}" -ge "${b_out:--1}"
else
    sed 's/^/      /' "$USTK_LOG" | tail -20
    ustk_fail interop_udp_serve_totals "ustack serve exited with status $USTK_STATUS"
fi

ustk_finish
