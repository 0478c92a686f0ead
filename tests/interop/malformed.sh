#!/bin/bash
# Malformed IPv4/ICMP frames from the kernel side (tests/interop/inject.py):
# each must be dropped and counted under its own reason, none answered except
# the unknown protocol (an ICMP protocol unreachable), and ping still works.
#   interop_malformed_<case>      the case's drop counter moved by exactly the
#                                 number of frames sent
#   interop_malformed_unknown_protocol_reply   the kernel got a correct ICMP
#                                 protocol unreachable quoting our packet
#   interop_malformed_no_echo_replies          no malformed echo was answered
#   interop_malformed_ping_after  ustack still answers a normal ping
. "$(dirname "$0")/lib.sh"

# case -> counters that together must grow by the number of frames sent.
# A version-5 frame may be turned away by the link layer's dispatch (which
# looks at the version nibble first) or by IPv4 itself: either is right.
declare -A EXPECT=(
    [ip_bad_version]="link.drop_unknown_proto ip.drop_bad_version"
    [ip_ihl_below_5]="ip.drop_bad_ihl"
    [ip_ihl_past_frame]="ip.drop_bad_ihl"
    [ip_truncated]="ip.drop_truncated"
    [ip_length_past_frame]="ip.drop_bad_length"
    [ip_length_below_header]="ip.drop_bad_length"
    [ip_bad_options]="ip.drop_bad_options"
    [ip_bad_checksum]="ip.drop_bad_checksum"
    [icmp_bad_checksum]="icmp.drop_bad_checksum"
    [icmp_truncated]="icmp.drop_truncated"
    [ip_unknown_protocol]="ip.drop_unknown_protocol"
    [ip_fragments]="ip.reasm_bad_fragment"
)
CASES="ip_bad_version ip_ihl_below_5 ip_ihl_past_frame ip_truncated
       ip_length_past_frame ip_length_below_header ip_bad_options ip_bad_checksum
       icmp_bad_checksum icmp_truncated ip_unknown_protocol ip_fragments"

names=()
for c in $CASES; do names+=("interop_malformed_$c"); done
ustk_init malformed "${names[@]}" interop_malformed_unknown_protocol_reply \
    interop_malformed_no_echo_replies interop_malformed_ping_after
ustk_need ping
ustk_have_scapy || ustk_skip_all "$USTK_PY has no scapy (apt-get install python3-scapy)"
ustk_netns_create
ustk_start_or_fail

ping_once() {
    ustk_ns ping -n -c 1 -W 2 "$USTK_ADDR" >"$USTK_DIR/ping.out" 2>&1
}

# A first ping proves the path works before anything is judged.
if ! ping_once; then
    sed 's/^/    /' "$USTK_DIR/ping.out"
    for t in "${USTK_TESTS[@]}"; do ustk_fail "$t" "the first ping failed"; done
    exit 1
fi

# Send one case's frames and wait (bounded) until ustack has read them all;
# counter snapshots before and after go to $USTK_DIR/<case>.{before,after}.
inject_case() { # CASE
    local c=$1 before=$USTK_DIR/$1.before after=$USTK_DIR/$1.after i
    ustk_counters_refresh || echo "    no counters after SIGUSR1"
    ustk_counters_save "$before"
    ustk_ns timeout 60 "$USTK_PY" "$(dirname "$0")/inject.py" \
        --ifname "$USTK_IFNAME" --src "$USTK_KADDR" --dst "$USTK_ADDR" "$c" \
        >"$USTK_DIR/$c.out" 2>&1
    local rc=$? sent
    sent=$(awk -v c="$c" '$1 == "sent" && $2 == c { print $3 }' "$USTK_DIR/$c.out")
    for i in $(seq 20); do
        ustk_counters_refresh
        [ $(($(ustk_counter link.rx_frames) - $(ustk_counter link.rx_frames "$before"))) \
            -ge "${sent:-0}" ] && break
        sleep 0.1
    done
    ustk_counters_save "$after"
    [ "$rc" -eq 0 ] && [ -n "$sent" ]
}

first=
for c in $CASES; do
    name=interop_malformed_$c
    [ -n "$first" ] || first=$USTK_DIR/$c.before
    if ! inject_case "$c"; then
        sed 's/^/    /' "$USTK_DIR/$c.out"
        ustk_fail "$name" "inject.py did not send it"
        continue
    fi
    sent=$(awk -v c="$c" '$1 == "sent" && $2 == c { print $3 }' "$USTK_DIR/$c.out")
    grew=0
    for counter in ${EXPECT[$c]}; do
        grew=$((grew + $(ustk_counter_delta "$counter" "$USTK_DIR/$c.before" \
            "$USTK_DIR/$c.after")))
    done
    ustk_expect "$name" "sent $sent frame(s); ${EXPECT[$c]// / + } grew by $grew" \
        "$grew" -eq "$sent"
done
last=$USTK_DIR/$c.after

c=ip_unknown_protocol
reply=$(awk -v c="$c" '$1 == "reply" && $2 == c' "$USTK_DIR/$c.out")
unreach=$(ustk_counter_delta icmp.tx_dest_unreach "$USTK_DIR/$c.before" \
    "$USTK_DIR/$c.after")
[ "${reply##* }" = ok ] || sed 's/^/    /' "$USTK_DIR/$c.out"
ustk_expect interop_malformed_unknown_protocol_reply \
    "kernel saw '${reply:-no answer}'; icmp.tx_dest_unreach grew by $unreach" \
    "${reply##* }-$unreach" = "ok-1"

# Across all cases: nothing malformed was answered as an echo request, and
# no ICMP error went out except the protocol unreachable.
replies=$(ustk_counter_delta icmp.tx_echo_reply "$first" "$last")
errors=$(ustk_counter_delta icmp.tx_dest_unreach "$first" "$last")
ustk_expect interop_malformed_no_echo_replies \
    "ustack answered $replies malformed echo request(s), sent $errors ICMP errors" \
    "$replies-$errors" = "0-1"

if ping_once && ustk_counters_refresh; then
    ustk_pass interop_malformed_ping_after
else
    sed 's/^/    /' "$USTK_DIR/ping.out"
    ustk_fail interop_malformed_ping_after "no answer to a ping after the bad frames"
fi

ustk_finish
