#!/bin/bash
# ustack under 10% random loss in each direction, made on the kernel's side
# of the TUN link by iptables' statistic match (INPUT and OUTPUT):
#   interop_hostile_loss_echo  echo of up to 20 MiB: every byte sent comes
#                              back, in order (sha256), and both chains
#                              really dropped about a tenth of the frames
# The client keeps at most 128 KiB unechoed and stops sending after
# HOSTILE_LOSS_SEND_SECS (default 45) if the 20 MiB are not out by then: a
# fixed budget of wall time, however fast the stacks recover; at least
# 256 KiB must make it. What went through is printed.
. "$(dirname "$0")/lib.sh"

ustk_init hostile_loss interop_hostile_loss_echo
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/hostile_common.bash"
ustk_netns_create
hostile_need_iptables

BYTES=${HOSTILE_LOSS_BYTES:-$((20 * 1024 * 1024))}
SEND_SECS=${HOSTILE_LOSS_SEND_SECS:-45}

# The first rule of each chain counts every frame, the second drops one in
# ten (the device need not exist yet: names match at packet time).
for chain_dir in INPUT:-i OUTPUT:-o; do
    chain=${chain_dir%%:*}
    dir=${chain_dir#*:}
    ipt -A "$chain" "$dir" "$USTK_IFNAME" &&
        ipt -A "$chain" "$dir" "$USTK_IFNAME" -m statistic --mode random \
            --probability 0.1 -j DROP ||
        ustk_skip_all "no iptables statistic match"
done

USTK_CMD=serve ustk_start_or_fail --echo 7
hostile_run $((SEND_SECS + 100)) echo "$USTK_ADDR" 7 "$BYTES" $((SEND_SECS + 90)) \
    --ahead 131072 --send-for "$SEND_SECS" --min 262144
rc=$?
in_all=$(ipt_packets INPUT 1)
in_lost=$(ipt_packets INPUT 2)
out_all=$(ipt_packets OUTPUT 1)
out_lost=$(ipt_packets OUTPUT 2)
ustk_stop
echo "    dropped $in_lost of $in_all frames from ustack, $out_lost of $out_all to it;" \
    "ustack: $(ustk_counter tcp.retransmits) retransmissions," \
    "$(ustk_counter tcp.rto_expired) timeouts, $(ustk_counter tcp.fast_retransmits) fast"
# About 10% each way: between 5% and 15% of at least a few hundred frames.
share_ok() { # LOST ALL
    [ "$2" -ge 300 ] && [ $(($1 * 100)) -ge $(($2 * 5)) ] && [ $(($1 * 100)) -le $(($2 * 15)) ]
}
ok=0
share_ok "$in_lost" "$in_all" && share_ok "$out_lost" "$out_all" && ok=1
ustk_expect interop_hostile_loss_echo "echo status $rc; loss shares right: $ok" \
    "$rc" -eq 0 -a "$ok" -eq 1 -a "$(ustk_counter tcp.retransmits)" -gt 0

ustk_finish
