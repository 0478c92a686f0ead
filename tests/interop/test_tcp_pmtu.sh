#!/bin/bash
# Path MTU discovery (RFC 1191) against real kernel routers:
#   interop_tcp_pmtu_10m        a 10 MiB download from `ustack serve --http`
#                               by a kernel client two routers away, across a
#                               1280-byte link, arrives byte-exact
#   interop_tcp_pmtu_frag_needed the kernel router answered ustack's
#                               1500-byte DF segments with "fragmentation
#                               needed" and ustack lowered its MSS
#                               (tcp.icmp_frag_needed moved), and every
#                               segment ustack sent carried DF
#
# Three namespaces, every link honest about its MTU:
#
#   ustack ==TUN 1500== [B: kernel router] ==veth 1280== [R: kernel router]
#     10.0.0.2        10.0.0.1      10.0.1.1         10.0.1.2      10.0.2.1
#                                                         ==veth 1500== [C: client]
#                                                                       10.0.2.2
#
# The client sits on a 1500-byte link, so it announces MSS 1460; ustack's
# full-sized segments (1500 bytes, DF) reach B, whose next hop takes only
# 1280: B drops them and sends ICMP "fragmentation needed" (next-hop MTU
# 1280) back to ustack.
. "$(dirname "$0")/lib.sh"

ustk_init tcp_pmtu interop_tcp_pmtu_10m interop_tcp_pmtu_frag_needed
ustk_need curl
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"

# The two extra namespaces, removed on exit along with lib.sh's.
NS_R=
NS_C=
pmtu_cleanup() {
    local ns pid
    for ns in "$NS_C" "$NS_R"; do
        [ -n "$ns" ] || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
    NS_R=
    NS_C=
}
trap 'rc=$?; pmtu_cleanup; (exit $rc); ustk_cleanup' EXIT

ustk_netns_create # B: the TUN device and the first router
NS_R=ustk-pmtu-r-$$
NS_C=ustk-pmtu-c-$$
ip netns add "$NS_R" || ustk_skip_all "cannot create namespace $NS_R"
ip netns add "$NS_C" || ustk_skip_all "cannot create namespace $NS_C"

# ip -n NS ... with a failure that ends the script.
must() {
    "$@" || { echo "    setup failed: $*"; for t in "${USTK_TESTS[@]}"; do
        ustk_fail "$t" "network setup failed"; done; exit 1; }
}
PMTU=1280
must ip -n "$USTK_NS" link add pmtu-b type veth peer name pmtu-rb netns "$NS_R"
must ip -n "$NS_R" link add pmtu-rc type veth peer name pmtu-c netns "$NS_C"
must ip -n "$USTK_NS" link set pmtu-b mtu "$PMTU" up
must ip -n "$NS_R" link set pmtu-rb mtu "$PMTU" up
must ip -n "$NS_R" link set pmtu-rc mtu 1500 up
must ip -n "$NS_C" link set pmtu-c mtu 1500 up
must ip -n "$NS_R" link set lo up
must ip -n "$NS_C" link set lo up
must ip -n "$USTK_NS" addr add 10.0.1.1/24 dev pmtu-b
must ip -n "$NS_R" addr add 10.0.1.2/24 dev pmtu-rb
must ip -n "$NS_R" addr add 10.0.2.1/24 dev pmtu-rc
must ip -n "$NS_C" addr add 10.0.2.2/24 dev pmtu-c
must ip -n "$USTK_NS" route add 10.0.2.0/24 via 10.0.1.2
must ip -n "$NS_R" route add 10.0.0.0/24 via 10.0.1.1
must ip -n "$NS_C" route add default via 10.0.2.1
must ip netns exec "$USTK_NS" sysctl -qw net.ipv4.ip_forward=1
must ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1

www=$USTK_DIR/www
mkdir -p "$www"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
USTK_CMD=serve ustk_start_or_fail --http "8080:$www"

# ---- interop_tcp_pmtu_10m ------------------------------------------------------
out=$USTK_DIR/big.out
timeout 90 ip netns exec "$NS_C" curl -sS --max-time 80 -o "$out" \
    "http://$USTK_ADDR:8080/big.bin" 2>&1 | sed 's/^/    /'
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ] && [ "$(sha_of "$out")" = "$(sha_of "$www/big.bin")" ]; then
    ustk_pass interop_tcp_pmtu_10m
else
    ustk_fail interop_tcp_pmtu_10m "curl status $rc," \
        "$(stat -c %s "$out" 2>/dev/null || echo 0) bytes"
fi
rm -f "$out"

# ---- interop_tcp_pmtu_frag_needed ------------------------------------------------
ustk_stop || echo "    ustack serve exited with status $USTK_STATUS"
frag=$(ustk_counter tcp.icmp_frag_needed)
icmp=$(ustk_counter tcp.icmp_rx)
# Frames in the capture: ICMP "fragmentation needed" to ustack; ustack's TCP
# segments, all of them, and those without DF.
count() { timeout 60 tcpdump -n -r "$USTK_PCAP" "$1" 2>/dev/null | wc -l; }
if command -v tcpdump >/dev/null; then
    icmp_seen=$(count "icmp and dst host $USTK_ADDR and icmp[0] = 3 and icmp[1] = 4")
    segs=$(count "tcp and src host $USTK_ADDR")
    no_df=$(count "tcp and src host $USTK_ADDR and ip[6] & 0x40 = 0")
else
    icmp_seen=$frag segs=1 no_df=0
fi
echo "    tcp.icmp_rx $icmp, tcp.icmp_frag_needed $frag; capture: $icmp_seen" \
    "frag-needed, $segs segments from ustack, $no_df without DF"
ustk_expect interop_tcp_pmtu_frag_needed \
    "expected frag-needed acted on and DF on every segment" \
    "$frag" -ge 1 -a "$icmp_seen" -ge 1 -a "$segs" -gt 0 -a "$no_df" -eq 0

ustk_finish
