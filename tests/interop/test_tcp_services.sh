#!/bin/bash
# Kernel clients against `ustack serve` (echo, discard, chargen) over TUN:
#   interop_tcp_echo_10m          10 MiB through echo, sha256 of both directions
#   interop_tcp_echo_backpressure 4 MiB through echo to a reader far slower
#                                 than the sender: nothing lost or reordered,
#                                 and ustack closed its window meanwhile (echo
#                                 stopped reading instead of buffering)
#   interop_tcp_discard_100m      100 MiB into discard; ustack counted every byte
#   interop_tcp_chargen_50m       50 MiB from chargen, all of it the RFC 864 pattern
#   interop_tcp_echo_concurrent   100 connections at once, 64 KiB echoed on each
#   interop_tcp_halfclose_kernel  the kernel client sends, shuts down its side,
#                                 and only then reads: the whole echo still comes
#   interop_tcp_refused_kernel    a closed port of ustack: ConnectionRefusedError
#   interop_tcp_pcap_handshake    the capture shows SYN, SYN-ACK, ACK and a FIN
#                                 from each side, each acknowledged, no RST
#   interop_tcp_serve_exit        ustack serve exits cleanly on SIGTERM
. "$(dirname "$0")/lib.sh"

ustk_init tcp_services interop_tcp_echo_10m interop_tcp_echo_backpressure \
    interop_tcp_discard_100m \
    interop_tcp_chargen_50m interop_tcp_echo_concurrent interop_tcp_halfclose_kernel \
    interop_tcp_refused_kernel interop_tcp_pcap_handshake interop_tcp_serve_exit
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"
ustk_netns_create
USTK_CMD=serve ustk_start_or_fail --echo 7 --discard 9 --chargen 19

tool_check interop_tcp_echo_10m 60 echo "$USTK_ADDR" 7 $((10 * 1024 * 1024))
tool_run 60 slowecho "$USTK_ADDR" 7 $((4 * 1024 * 1024)) 40004
slowecho_rc=$?

discard_bytes=$((100 * 1024 * 1024))
tool_run 90 discard "$USTK_ADDR" 9 "$discard_bytes"
discard_rc=$? # judged with ustack's totals, printed at exit

tool_check interop_tcp_chargen_50m 60 chargen "$USTK_ADDR" 19 $((50 * 1024 * 1024))
tool_check interop_tcp_echo_concurrent 60 concurrent "$USTK_ADDR" 7 100 65536
tool_check interop_tcp_halfclose_kernel 30 halfclose "$USTK_ADDR" 7 $((200 * 1024))
tool_check interop_tcp_refused_kernel 15 refused "$USTK_ADDR" 1
# A small exchange from a known port, for the capture check below.
tool_run 15 handshake "$USTK_ADDR" 7 40007
handshake_rc=$?

# ---- after SIGTERM: the totals and the capture -----------------------------
if ustk_stop; then
    ustk_pass interop_tcp_serve_exit
else
    sed 's/^/      /' "$USTK_LOG" | tail -20
    ustk_fail interop_tcp_serve_exit "ustack serve exited with status $USTK_STATUS"
fi

# "discard 9/tcp: 1 connections, 104857600 bytes in, 0 bytes out"
counted=$(sed -n 's|^discard 9/tcp: [0-9]* connections, \([0-9]*\) bytes in.*|\1|p' "$USTK_LOG")
if [ "${counted:-0}" -eq "$discard_bytes" ] && [ "$discard_rc" -eq 0 ]; then
    ustk_pass interop_tcp_discard_100m
else
    grep '/tcp:' "$USTK_LOG" | sed 's/^/    /'
    ustk_fail interop_tcp_discard_100m "ustack counted ${counted:-nothing}, sent $discard_bytes"
fi

if ! command -v tcpdump >/dev/null; then
    ustk_expect interop_tcp_echo_backpressure "the slow echo failed" "$slowecho_rc" -eq 0
else
    # Segments in which ustack advertised a zero window to the slow reader.
    zero=$(timeout 60 tcpdump -n -r "$USTK_PCAP" \
        "src host $USTK_ADDR and tcp src port 7 and tcp dst port 40004 and tcp[14:2] = 0" \
        2>/dev/null | wc -l)
    ustk_expect interop_tcp_echo_backpressure \
        "slow echo status $slowecho_rc; $zero zero-window segments from ustack" \
        "$slowecho_rc" -eq 0 -a "$zero" -gt 0
fi

if ! command -v tshark >/dev/null; then
    ustk_skip interop_tcp_pcap_handshake "tshark not installed"
elif [ "$handshake_rc" -ne 0 ]; then
    ustk_fail interop_tcp_pcap_handshake "the exchange on port 40007 failed"
else
    tool_check interop_tcp_pcap_handshake 60 pcap-check "$USTK_PCAP" "$USTK_KADDR" \
        "$USTK_ADDR" 40007
fi

ustk_finish
