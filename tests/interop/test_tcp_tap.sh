#!/bin/bash
# TCP over a TAP device: the kernel sees an Ethernet interface and finds
# ustack with ARP, and everything above IP must work exactly as over TUN.
# A representative subset of the TCP interop checks, with the same helpers
# (tcp_common.bash, tcp_tool.py, synflood.py) as test_tcp_services.sh,
# test_tcp_http.sh, test_tcp_connect.sh, test_tcp_portscan.sh and
# test_tcp_synflood.sh:
#   interop_tcp_tap_portscan       nmap -sS -sV sees echo and chargen open and
#                                  three other ports closed (a short list:
#                                  every port nmap probes adds run time); the
#                                  checks below then run on the scanned stack
#   interop_tcp_tap_echo_10m       10 MiB through echo, sha256 both directions
#   interop_tcp_tap_discard_10m    10 MiB into discard; ustack counted every byte
#   interop_tcp_tap_chargen_10m    10 MiB from chargen, all of it the pattern
#   interop_tcp_tap_concurrent     100 connections at once, 64 KiB echoed on each
#   interop_tcp_tap_halfclose      the kernel sends, shuts down its side, then
#                                  reads: the whole echo still comes
#   interop_tcp_tap_refused        a closed port of ustack: refused
#   interop_tcp_tap_http_10m       curl fetches a 10 MiB file byte-exact
#   interop_tcp_tap_neighbour      the kernel resolved ustack's MAC with ARP
#                                  (ip neigh) and ustack answered (arp.*)
#   interop_tcp_tap_connect_10m    `ustack connect --tap` to a kernel server:
#                                  10 MiB each way at once, sha256 both ways
#   interop_tcp_tap_connect_refused `ustack connect --tap` to a closed kernel
#                                  port: "connection refused"
#   interop_tcp_tap_synflood_survives  20,000 SYNs in Ethernet frames from
#                                  random spoofed addresses of a /16 link: a
#                                  real client connects within 2 s during
#                                  and after the flood, and is echoed
#   interop_tcp_tap_synflood_cookies   ustack answered with SYN cookies, never
#                                  lacked a packet buffer while resolving the
#                                  spoofed sources with ARP, and exits cleanly
. "$(dirname "$0")/lib.sh"

export USTK_LINK=tap
USTK_MAC=02:75:73:74:6b:02 # fixed, so the neighbour check knows what to expect
ustk_init tcp_tap interop_tcp_tap_echo_10m interop_tcp_tap_discard_10m \
    interop_tcp_tap_chargen_10m interop_tcp_tap_concurrent interop_tcp_tap_halfclose \
    interop_tcp_tap_refused interop_tcp_tap_http_10m interop_tcp_tap_neighbour \
    interop_tcp_tap_connect_10m interop_tcp_tap_connect_refused \
    interop_tcp_tap_portscan interop_tcp_tap_synflood_survives \
    interop_tcp_tap_synflood_cookies
ustk_need curl
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"
ustk_netns_create

MIB=$((1024 * 1024))
www=$USTK_DIR/www
mkdir -p "$www"
head -c $((10 * MIB)) /dev/urandom >"$www/big.bin"

# ---- ustack as the server ---------------------------------------------------
USTK_CMD=serve ustk_start_or_fail --echo 7 --discard 9 --chargen 19 --http "8080:$www"

# Version detection takes ~6 s for echo and chargen; discard and HTTP,
# whose answers nmap waits out, would make it ~27 s (test_tcp_portscan.sh
# scans them over TUN).
if command -v nmap >/dev/null; then
    portscan_check interop_tcp_tap_portscan "7 19" "21 81 1234"
else
    ustk_skip interop_tcp_tap_portscan "nmap not installed"
fi

tool_check interop_tcp_tap_echo_10m 60 echo "$USTK_ADDR" 7 $((10 * MIB))
tool_run 60 discard "$USTK_ADDR" 9 $((10 * MIB))
discard_rc=$? # judged with ustack's totals, printed at exit
tool_check interop_tcp_tap_chargen_10m 60 chargen "$USTK_ADDR" 19 $((10 * MIB))
tool_check interop_tcp_tap_concurrent 60 concurrent "$USTK_ADDR" 7 100 65536
tool_check interop_tcp_tap_halfclose 30 halfclose "$USTK_ADDR" 7 $((200 * 1024))
tool_check interop_tcp_tap_refused 15 refused "$USTK_ADDR" 1

out=$USTK_DIR/big.out
ns_curl -o "$out" "http://$USTK_ADDR:8080/big.bin"
rc=$?
ustk_expect interop_tcp_tap_http_10m "curl status $rc, $(stat -c %s "$out" 2>/dev/null || echo 0) bytes" \
    "$rc" -eq 0 -a "$(sha_of "$out")" = "$(sha_of "$www/big.bin")"
rm -f "$out"

# The kernel's neighbour entry, while the device still exists.
neigh=$(ip -n "$USTK_NS" neigh show "$USTK_ADDR" dev "$USTK_IFNAME")
echo "    ip neigh: $neigh"

ustk_stop || echo "    ustack serve exited with status $USTK_STATUS"
# "discard 9/tcp: 1 connections, 10485760 bytes in, 0 bytes out"
counted=$(sed -n 's|^discard 9/tcp: [0-9]* connections, \([0-9]*\) bytes in.*|\1|p' "$USTK_LOG")
ustk_expect interop_tcp_tap_discard_10m \
    "discard status $discard_rc; ustack counted ${counted:-nothing} of $((10 * MIB))" \
    "$discard_rc" -eq 0 -a "${counted:-0}" -eq $((10 * MIB))
replies=$(ustk_counter arp.tx_reply)
ustk_expect interop_tcp_tap_neighbour \
    "neighbour '$neigh', ustack sent $replies ARP replies" \
    -n "$(echo "$neigh" | grep -i "lladdr $USTK_MAC")" -a "$replies" -ge 1

# ---- ustack as the client (its own stack on a new TAP device) -----------------
connect_exchange_check interop_tcp_tap_connect_10m $((10 * MIB)) 5001
connect_refused_check interop_tcp_tap_connect_refused 5999

# ---- SYN flood, ustack resolving thousands of spoofed sources ------------------
# On a /16 the spoofed sources are ~17,000 different on-link addresses, so
# each SYN-ACK makes ustack ARP for a new one: its cache (256 entries) turns
# over ~80 times and the packets held while resolving stay within their
# bound (a quarter of the packet pool), while the real client connects.
USTK_PREFIX=16
USTK_CMD=serve ustk_start_or_fail --echo 7 --pcap /dev/null
synflood_check interop_tcp_tap_synflood_survives interop_tcp_tap_synflood_cookies

ustk_finish
