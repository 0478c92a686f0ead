#!/bin/bash
# The kernel pings ustack over TUN:
#   interop_ping_sizes     100 pings, payloads spread from 0 to 1472 bytes
#                          (1500-byte packets at the top), every one answered
#                          with the right data
#   interop_ping_burst     100 back-to-back pings (-i 0.01), all answered
#   interop_ping_fragmented  pings of 2000 to 8000 bytes: the kernel
#                          fragments them, ustack reassembles, answers and
#                          fragments its replies, which the kernel reassembles
#   interop_ping_counters  ustack's exit counters agree with what ping saw
#   interop_ping_pcap      tshark reads ustack's capture back: as many echo
#                          requests and replies as ping sent and got, every
#                          ICMP checksum good, nothing malformed
. "$(dirname "$0")/lib.sh"

ustk_init ping interop_ping_sizes interop_ping_burst interop_ping_fragmented \
    interop_ping_counters interop_ping_pcap
ustk_need ping
ustk_netns_create
ustk_start_or_fail

sent=0     # echo requests ping says it transmitted
received=0 # replies ping accepted

# Add one ping run's "N packets transmitted, M received" to the totals.
tally_ping() { # PING-OUTPUT-FILE
    local t r
    t=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$1")
    r=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$1")
    sent=$((sent + ${t:-0}))
    received=$((received + ${r:-0}))
}

# A reply counts only if ping found it intact: same size, same data, once.
bad_reply() { # PING-OUTPUT-FILE
    grep -E 'wrong data|DUP!|BAD CHECKSUM|truncated' "$1"
}

# ---- interop_ping_sizes ------------------------------------------------------
out=$USTK_DIR/ping.out
missing=()
for i in $(seq 0 99); do
    size=$((i * 1472 / 99))
    if ! kill -0 "$USTK_PID" 2>/dev/null; then # no point waiting on each ping
        missing+=("$size")
        continue
    fi
    ustk_ns ping -n -c 1 -W 2 -s "$size" "$USTK_ADDR" >"$out" 2>&1
    rc=$?
    tally_ping "$out"
    if [ "$rc" -ne 0 ] || bad_reply "$out" >/dev/null; then
        missing+=("$size")
        bad_reply "$out" | head -3 | sed 's/^/    /'
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    ustk_pass interop_ping_sizes
else
    ustk_fail interop_ping_sizes \
        "${#missing[@]}/100 sizes not answered correctly: ${missing[*]}"
fi

# ---- interop_ping_burst --------------------------------------------------------
ustk_ns ping -n -q -c 100 -i 0.01 -W 2 "$USTK_ADDR" >"$out" 2>&1
rc=$?
tally_ping "$out"
if [ "$rc" -eq 0 ] && grep -q ' 100 received' "$out" && ! bad_reply "$out"; then
    ustk_pass interop_ping_burst
else
    sed 's/^/    /' "$out"
    ustk_fail interop_ping_burst "not every one of 100 pings was answered"
fi

# ---- interop_ping_fragmented -----------------------------------------------------
ustk_counters_refresh
ustk_counters_save "$USTK_DIR/counters.before-fragmented"
failed_sizes=()
for size in 2000 3000 4000 6000 8000; do
    ustk_ns ping -n -c 1 -W 2 -s "$size" "$USTK_ADDR" >"$out" 2>&1
    rc=$?
    tally_ping "$out"
    if [ "$rc" -ne 0 ] || bad_reply "$out" >/dev/null; then
        failed_sizes+=("$size")
    fi
done
ustk_counters_refresh
ustk_counters_save "$USTK_DIR/counters.after-fragmented"
reasm=$(ustk_counter_delta ip.reasm_ok "$USTK_DIR/counters.before-fragmented" \
    "$USTK_DIR/counters.after-fragmented")
split=$(ustk_counter_delta ip.frag_datagrams "$USTK_DIR/counters.before-fragmented" \
    "$USTK_DIR/counters.after-fragmented")
ustk_expect interop_ping_fragmented \
    "unanswered sizes: ${failed_sizes[*]:-none}; ustack reassembled $reasm and fragmented $split (expected 5 and 5)" \
    "${#failed_sizes[@]}-$reasm-$split" = "0-5-5"

# ---- interop_ping_counters -------------------------------------------------------
# SIGTERM: ustack prints its final counters and closes the capture.
if ! ustk_stop; then
    ustk_fail interop_ping_counters "ustack exited with status $USTK_STATUS"
else
    rx=$(ustk_counter icmp.rx_echo_request)
    tx=$(ustk_counter icmp.tx_echo_reply)
    ustk_expect interop_ping_counters \
        "ping sent $sent and got $received; ustack counted $rx requests, $tx replies" \
        "$rx-$tx" = "$sent-$received" -a "$sent" -gt 0
fi

# ---- interop_ping_pcap -------------------------------------------------------------
if ! command -v tshark >/dev/null; then
    ustk_skip interop_ping_pcap "tshark not installed"
elif [ ! -s "$USTK_PCAP" ]; then
    ustk_fail interop_ping_pcap "no capture written at $USTK_PCAP"
else
    # One line per ICMP message: type and checksum status (1 = good).
    fields=$USTK_DIR/pcap.fields
    timeout 60 tshark -n -r "$USTK_PCAP" -Y icmp \
        -T fields -e icmp.type -e icmp.checksum.status \
        >"$fields" 2>"$USTK_DIR/tshark.err"
    rc=$?
    requests=$(awk '$1 == 8' "$fields" | wc -l)
    replies=$(awk '$1 == 0' "$fields" | wc -l)
    bad_sums=$(awk '$2 != 1' "$fields" | wc -l)
    malformed=$(timeout 60 tshark -n -r "$USTK_PCAP" -Y _ws.malformed \
        2>/dev/null | wc -l)
    if [ "$rc" -eq 0 ] && [ "$requests" -eq "$sent" ] &&
        [ "$replies" -eq "$received" ] && [ "$bad_sums" -eq 0 ] &&
        [ "$malformed" -eq 0 ] && [ "$sent" -gt 0 ]; then
        ustk_pass interop_ping_pcap
    else
        sed 's/^/    /' "$USTK_DIR/tshark.err" | grep -v 'Running as user'
        ustk_fail interop_ping_pcap "tshark (status $rc) saw $requests requests," \
            "$replies replies, $bad_sums bad checksums, $malformed malformed;" \
            "ping sent $sent and got $received"
    fi
fi

ustk_finish
