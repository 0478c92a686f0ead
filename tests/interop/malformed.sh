#!/bin/bash
# Malformed IPv4/ICMP frames and fragments from the kernel side
# (tests/interop/inject.py): each must be counted under its own reason, none
# answered except as listed below, and ping still works afterwards.
#   interop_malformed_<case>      the case's counter(s) moved as expected and,
#                                 where an answer is due, the kernel got a
#                                 correct one
#   interop_malformed_unknown_protocol_reply   the kernel got a correct ICMP
#                                 protocol unreachable quoting our packet
#   interop_malformed_no_stray_answers         no case brought back an echo
#                                 reply or an ICMP error it should not have
#   interop_malformed_ping_after  ustack still answers a normal ping
. "$(dirname "$0")/lib.sh"

# case -> "COUNTER[ COUNTER...]=N": those counters together must grow by N,
# where N "frames" means the number of frames the case sent.
# A version-5 frame may be turned away by the link layer's dispatch (which
# looks at the version nibble first) or by IPv4 itself: either is right.
declare -A EXPECT=(
    [ip_bad_version]="link.drop_unknown_proto ip.drop_bad_version=frames"
    [ip_ihl_below_5]="ip.drop_bad_ihl=frames"
    [ip_ihl_past_frame]="ip.drop_bad_ihl=frames"
    [ip_truncated]="ip.drop_truncated=frames"
    [ip_length_past_frame]="ip.drop_bad_length=frames"
    [ip_length_below_header]="ip.drop_bad_length=frames"
    [ip_bad_options]="ip.drop_bad_options=frames"
    [ip_bad_checksum]="ip.drop_bad_checksum=frames"
    [icmp_bad_checksum]="icmp.drop_bad_checksum=frames"
    [icmp_truncated]="icmp.drop_truncated=frames"
    [ip_unknown_protocol]="ip.drop_unknown_protocol=frames"
    [ip_fragments]="ip.reasm_ok=1"
    [ip_fragment_duplicate]="ip.reasm_duplicate=1"
    [ip_fragment_overlap]="ip.reasm_overlap=1"
    [ip_fragment_bad_length]="ip.reasm_bad_fragment=frames"
    [ip_fragment_past_64k]="ip.reasm_too_big=1"
)
# What each case may bring back: "echo replies, ICMP errors sent"; every
# case not listed must bring back nothing.
declare -A ANSWERS=(
    [ip_unknown_protocol]="0 1"
    [ip_fragments]="1 0"
    [ip_fragment_duplicate]="1 0"
)
CASES="ip_bad_version ip_ihl_below_5 ip_ihl_past_frame ip_truncated
       ip_length_past_frame ip_length_below_header ip_bad_options ip_bad_checksum
       icmp_bad_checksum icmp_truncated ip_unknown_protocol ip_fragments
       ip_fragment_duplicate ip_fragment_overlap ip_fragment_bad_length
       ip_fragment_past_64k"

names=()
for c in $CASES; do names+=("interop_malformed_$c"); done
ustk_init malformed "${names[@]}" interop_malformed_unknown_protocol_reply \
    interop_malformed_no_stray_answers interop_malformed_ping_after
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

# ICMP errors ustack sent, of every kind.
icmp_errors_sent() { # SNAPSHOT
    echo $(($(ustk_counter icmp.tx_dest_unreach "$1") + \
        $(ustk_counter icmp.tx_time_exceeded "$1")))
}

stray=()
for c in $CASES; do
    name=interop_malformed_$c
    before=$USTK_DIR/$c.before
    after=$USTK_DIR/$c.after
    if ! inject_case "$c"; then
        sed 's/^/    /' "$USTK_DIR/$c.out"
        ustk_fail "$name" "inject.py did not send it"
        continue
    fi
    sent=$(awk -v c="$c" '$1 == "sent" && $2 == c { print $3 }' "$USTK_DIR/$c.out")
    counters=${EXPECT[$c]%=*}
    want=${EXPECT[$c]##*=}
    [ "$want" = frames ] && want=$sent
    grew=0
    for counter in $counters; do
        grew=$((grew + $(ustk_counter_delta "$counter" "$before" "$after")))
    done
    # An answer inject.py was told to expect must have arrived intact.
    reply=$(awk -v c="$c" '$1 == "reply" && $2 == c { $1 = $2 = ""; print }' \
        "$USTK_DIR/$c.out")
    reply=${reply#  }
    if [ "$grew" -eq "$want" ] && [ "${reply:-ok}" = ok ]; then
        ustk_pass "$name"
    else
        sed 's/^/    /' "$USTK_DIR/$c.out"
        ustk_fail "$name" "sent $sent frame(s); ${counters// / + } grew by $grew," \
            "expected $want${reply:+; answer: $reply}"
    fi
    replies=$(ustk_counter_delta icmp.tx_echo_reply "$before" "$after")
    errors=$(($(icmp_errors_sent "$after") - $(icmp_errors_sent "$before")))
    [ "$replies $errors" = "${ANSWERS[$c]:-0 0}" ] ||
        stray+=("$c: $replies echo replies, $errors ICMP errors")
done

c=ip_unknown_protocol
reply=$(awk -v c="$c" '$1 == "reply" && $2 == c' "$USTK_DIR/$c.out")
unreach=$(ustk_counter_delta icmp.tx_dest_unreach "$USTK_DIR/$c.before" \
    "$USTK_DIR/$c.after")
ustk_expect interop_malformed_unknown_protocol_reply \
    "kernel saw '${reply:-no answer}'; icmp.tx_dest_unreach grew by $unreach" \
    "${reply##* }-$unreach" = "ok-1"

ustk_expect interop_malformed_no_stray_answers "${stray[*]}" ${#stray[@]} -eq 0

if ping_once && ustk_counters_refresh; then
    ustk_pass interop_malformed_ping_after
else
    sed 's/^/    /' "$USTK_DIR/ping.out"
    ustk_fail interop_malformed_ping_after "no answer to a ping after the bad frames"
fi

ustk_finish
