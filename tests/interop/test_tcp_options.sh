#!/bin/bash
# RFC 7323 (window scale, timestamps) and RFC 2018 (SACK) between ustack and
# the kernel over TUN, checked in the captures with tshark:
#   interop_tcp_options_passive     kernel client -> ustack serve: the
#                                   kernel's SYN and ustack's SYN-ACK both
#                                   carry MSS, SACK-permitted, timestamps and
#                                   window scale (ustack's shift 3 for the
#                                   default 256 KiB buffer)
#   interop_tcp_options_big_window  in that transfer (8 MiB into discard),
#                                   ustack's window as tshark computes it
#                                   (field << shift) exceeds 65535, and every
#                                   ustack segment carries a timestamp
#   interop_tcp_options_active      `ustack connect` -> kernel server: ustack's
#                                   SYN (MSS, SACK-permitted, TS, NOP, wscale:
#                                   20 option bytes) and the kernel's SYN-ACK
#                                   both carry all of them; data exchanged
#                                   intact
#   interop_tcp_options_cli_bufs    `ustack serve --rcvbuf 4M --sndbuf 1M
#                                   --congestion newreno`: ustack's SYN-ACK
#                                   has shift 7, its window passes 1 MiB
#                                   (the default buffer stops at 256 KiB),
#                                   `ustack stat --json` shows the listener
#                                   with newreno
#   interop_tcp_options_lossy_100m  100 MiB through ustack's echo from a kernel
#                                   client one router away, the router
#                                   dropping 2% of the packets each way
#                                   (iptables statistic in FORWARD, so the
#                                   kernel's TCP sees real losses): both
#                                   directions intact (sha256); SACK blocks in
#                                   the capture from both sides; ustack
#                                   counted SACK blocks received and sent
#
# The lossy test's path (the others use the TUN link alone):
#
#   ustack ==TUN== [B: kernel router, iptables drops] ==veth== [C: client]
#   10.0.0.2     10.0.0.1               10.0.3.1       10.0.3.2
. "$(dirname "$0")/lib.sh"

ustk_init tcp_options interop_tcp_options_passive interop_tcp_options_big_window \
    interop_tcp_options_cli_bufs interop_tcp_options_active interop_tcp_options_lossy_100m
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
ustk_need tshark tcpdump iptables
. "$(dirname "$0")/tcp_common.bash"

# The client's namespace, removed on exit along with lib.sh's.
NS_C=
options_cleanup() {
    local pid
    if [ -n "$NS_C" ]; then
        for pid in $(ip netns pids "$NS_C" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$NS_C" 2>/dev/null
        NS_C=
    fi
}
trap 'rc=$?; options_cleanup; (exit $rc); ustk_cleanup' EXIT
ustk_netns_create

# tshark over a capture: one line per packet matching FILTER, the fields.
tsh() { # PCAP FILTER FIELD...
    local pcap=$1 filter=$2
    shift 2
    local args=() f
    for f in "$@"; do
        args+=(-e "$f")
    done
    timeout 120 tshark -n -r "$pcap" -Y "$filter" -T fields -E separator=' ' \
        -E occurrence=f "${args[@]}" 2>/dev/null
}

# The options of the first packet matching FILTER: "MSS TS WSCALE HDRLEN",
# TS 1 when there is a timestamp, WSCALE the shift or "none".
syn_options() { # PCAP FILTER
    tsh "$1" "$2" tcp.options.mss_val tcp.options.timestamp.tsval \
        tcp.options.wscale.shift tcp.hdr_len | head -1 | {
        read -r mss tsval shift hdr
        echo "${mss:-0} ${tsval:+1} ${shift:-none} ${hdr:-0}"
    }
}

has_sack_perm() { # PCAP FILTER
    [ "$(tsh "$1" "$2 && tcp.options.sack_perm" frame.number | head -1)" != "" ]
}

# ---- the kernel connects to ustack ---------------------------------------------
USTK_CMD=serve ustk_start_or_fail --echo 7 --discard 9
tool_run 60 discard "$USTK_ADDR" 9 $((8 * 1024 * 1024))
discard_rc=$?
ustk_stop || true

k_syn="ip.src == $USTK_KADDR && tcp.dstport == 9 && tcp.flags.syn == 1 && tcp.flags.ack == 0"
u_synack="ip.src == $USTK_ADDR && tcp.srcport == 9 && tcp.flags.syn == 1 && tcp.flags.ack == 1"
read -r kmss kts kws khdr < <(syn_options "$USTK_PCAP" "$k_syn")
read -r umss uts uws uhdr < <(syn_options "$USTK_PCAP" "$u_synack")
echo "    kernel SYN: mss $kmss ts ${kts:-0} wscale $kws; ustack SYN-ACK: mss $umss" \
    "ts ${uts:-0} wscale $uws (header $uhdr bytes)"
if [ "$discard_rc" -eq 0 ] && [ "$kmss" -gt 0 ] && [ "$kts" = 1 ] && [ "$kws" != none ] &&
    has_sack_perm "$USTK_PCAP" "$k_syn" && [ "$umss" -eq 1460 ] && [ "$uts" = 1 ] &&
    [ "$uws" = 3 ] && has_sack_perm "$USTK_PCAP" "$u_synack"; then
    ustk_pass interop_tcp_options_passive
else
    ustk_fail interop_tcp_options_passive "discard exit $discard_rc; an option missing" \
        "(kernel SACK-permitted: $(has_sack_perm "$USTK_PCAP" "$k_syn" && echo yes || echo no)," \
        "ustack's: $(has_sack_perm "$USTK_PCAP" "$u_synack" && echo yes || echo no))"
fi

# tcp.window_size is tshark's calculated window: the field shifted by the
# scale it saw in the handshake.
u_seg="ip.src == $USTK_ADDR && tcp.srcport == 9 && tcp.flags.syn == 0"
max_win=$(tsh "$USTK_PCAP" "$u_seg" tcp.window_size | sort -n | tail -1)
without_ts=$(tsh "$USTK_PCAP" "$u_seg && !tcp.options.timestamp.tsval" frame.number | wc -l)
with_ts=$(tsh "$USTK_PCAP" "$u_seg && tcp.options.timestamp.tsval" frame.number | wc -l)
echo "    ustack's largest window $max_win bytes; $with_ts segments with a timestamp," \
    "$without_ts without"
if [ "${max_win:-0}" -gt 65535 ] && [ "$with_ts" -gt 0 ] && [ "$without_ts" -eq 0 ]; then
    ustk_pass interop_tcp_options_big_window
else
    ustk_fail interop_tcp_options_big_window "window ${max_win:-?}, segments without TS $without_ts"
fi

# ---- the buffer and congestion control options of the command line -----------------
pcap=$USTK_DIR/bufs.pcap
ctl=$USTK_DIR/ctl.sock
USTK_PCAP=$pcap USTK_CMD=serve ustk_start_or_fail --discard 9 --rcvbuf 4M --sndbuf 1M \
    --congestion newreno --ctl "$ctl"
tool_run 60 discard "$USTK_ADDR" 9 $((8 * 1024 * 1024))
discard_rc=$?
listener_cc=$("$USTACK" stat --ctl "$ctl" --json 2>/dev/null | "$USTK_PY" -c '
import json, sys
print(" ".join(c["congestion"] for c in json.load(sys.stdin)["connections"]
               if c["state"] == "LISTEN" and c["local"] == "0.0.0.0:9"))')
ustk_stop || true
read -r _ _ uws _ < <(syn_options "$pcap" "$u_synack")
max_win=$(tsh "$pcap" "$u_seg" tcp.window_size | sort -n | tail -1)
echo "    ustack's SYN-ACK wscale $uws, largest window ${max_win:-?} bytes; listener's" \
    "congestion control '${listener_cc}'"
if [ "$discard_rc" -eq 0 ] && [ "$uws" = 7 ] && [ "${max_win:-0}" -gt $((1024 * 1024)) ] &&
    [ "$listener_cc" = newreno ]; then
    ustk_pass interop_tcp_options_cli_bufs
else
    ustk_fail interop_tcp_options_cli_bufs "discard exit $discard_rc"
fi

# ---- ustack connects to the kernel -------------------------------------------------
pcap=$USTK_DIR/connect.pcap
input=$USTK_DIR/input.bin output=$USTK_DIR/output.bin
head -c $((2 * 1024 * 1024)) /dev/urandom >"$input"
if tool_server "$USTK_DIR/server.out" server 5001 $((2 * 1024 * 1024)); then
    run_connect 60 "$input" "$output" "$USTK_DIR/connect.err" --pcap "$pcap" "$USTK_KADDR" 5001
    ustk_reap "$TOOL_PID" 10
    server_rc=$USTK_REAPED
    summary=$(cat "$USTK_DIR/server.out")
    read -r got_sha sent_sha < <(echo "$summary" |
        sed -n 's/.*received [0-9]* sha256 \([0-9a-f]*\); sent [0-9]* sha256 \([0-9a-f]*\).*/\1 \2/p')
    u_syn="ip.src == $USTK_ADDR && tcp.dstport == 5001 && tcp.flags.syn == 1 && tcp.flags.ack == 0"
    k_synack="ip.src == $USTK_KADDR && tcp.srcport == 5001 && tcp.flags.syn == 1 && tcp.flags.ack == 1"
    read -r umss uts uws uhdr < <(syn_options "$pcap" "$u_syn")
    read -r kmss kts kws khdr < <(syn_options "$pcap" "$k_synack")
    echo "    ustack SYN: mss $umss ts ${uts:-0} wscale $uws (header $uhdr bytes);" \
        "kernel SYN-ACK: mss $kmss ts ${kts:-0} wscale $kws"
    if [ "$CONNECT_RC" -eq 0 ] && [ "$server_rc" -eq 0 ] &&
        [ "$got_sha" = "$(sha_of "$input")" ] && [ "$(sha_of "$output")" = "$sent_sha" ] &&
        [ "$umss" -eq 1460 ] && [ "$uts" = 1 ] && [ "$uws" = 3 ] && [ "$uhdr" -eq 40 ] &&
        has_sack_perm "$pcap" "$u_syn" && [ "$kts" = 1 ] && [ "$kws" != none ] &&
        has_sack_perm "$pcap" "$k_synack"; then
        ustk_pass interop_tcp_options_active
    else
        sed 's/^/    /' "$USTK_DIR/connect.err" | tail -5
        ustk_fail interop_tcp_options_active "connect exit $CONNECT_RC, server exit $server_rc"
    fi
else
    ustk_fail interop_tcp_options_active "the kernel server did not start"
fi
rm -f "$input" "$output"

# ---- 100 MiB through echo, 2% loss each way ----------------------------------------
lossy_setup() {
    NS_C=ustk-options-c-$$
    ip netns add "$NS_C" &&
        ip -n "$USTK_NS" link add opt-b type veth peer name opt-c netns "$NS_C" &&
        ip -n "$USTK_NS" addr add 10.0.3.1/24 dev opt-b &&
        ip -n "$USTK_NS" link set opt-b up &&
        ip -n "$NS_C" addr add 10.0.3.2/24 dev opt-c &&
        ip -n "$NS_C" link set opt-c up &&
        ip -n "$NS_C" link set lo up &&
        ip -n "$NS_C" route add default via 10.0.3.1 &&
        ustk_ns sysctl -qw net.ipv4.ip_forward=1 &&
        ustk_ns iptables -A FORWARD -m statistic --mode random --probability 0.02 -j DROP
}
USTK_PCAP=/dev/null # the bulk is captured by tcpdump, headers only
USTK_CMD=serve ustk_start_or_fail --echo 7
cap=$USTK_DIR/lossy.pcap
if ! lossy_setup; then
    ustk_fail interop_tcp_options_lossy_100m "could not set up the router namespace"
    ustk_finish
fi
ustk_ns tcpdump -i "$USTK_IFNAME" -s 128 -U -w "$cap" tcp port 7 2>/dev/null &
tcpdump_pid=$!
ustk_track "$tcpdump_pid"
sleep 1
start=$(date +%s)
timeout 240 ip netns exec "$NS_C" "$USTK_PY" "$TCP_TOOL" echo "$USTK_ADDR" 7 \
    $((100 * 1024 * 1024)) 2>&1 | head -5 | sed 's/^/    /'
echo_rc=${PIPESTATUS[0]}
secs=$(($(date +%s) - start))
dropped=$(ustk_ns iptables -L FORWARD -v -x -n | awk '$3 == "DROP" { n += $1 } END { print n + 0 }')
ustk_stop || true
kill -TERM "$tcpdump_pid" 2>/dev/null
ustk_reap "$tcpdump_pid" 5
u_sack=$(tsh "$cap" "ip.src == $USTK_ADDR && tcp.options.sack_le" frame.number | wc -l)
k_sack=$(tsh "$cap" "ip.dst == $USTK_ADDR && tcp.options.sack_le" frame.number | wc -l)
rx=$(ustk_counter tcp.sack_blocks_rx)
tx=$(ustk_counter tcp.sack_acks_tx)
echo "    ${secs} s; the router dropped $dropped packets; SACK option in $u_sack ustack" \
    "and $k_sack kernel segments; ustack: tcp.sack_blocks_rx $rx, tcp.sack_acks_tx $tx," \
    "tcp.rx_out_of_order $(ustk_counter tcp.rx_out_of_order)," \
    "tcp.retransmits $(ustk_counter tcp.retransmits), tcp.drop_paws $(ustk_counter tcp.drop_paws)"
if [ "$echo_rc" -eq 0 ] && [ "$dropped" -gt 0 ] && [ "$u_sack" -gt 0 ] && [ "$k_sack" -gt 0 ] &&
    [ "$rx" -gt 0 ] && [ "$tx" -gt 0 ]; then
    ustk_pass interop_tcp_options_lossy_100m
else
    ustk_fail interop_tcp_options_lossy_100m "echo exit $echo_rc"
fi

ustk_finish
