#!/bin/bash
# ustack under 10% random loss in each direction, made on the kernel's side
# of the TUN link by iptables' statistic match (INPUT and OUTPUT):
#   interop_hostile_loss_echo  echo of 20 MiB: every byte sent comes back,
#                              in order (sha256), within a hard deadline
#                              (HOSTILE_LOSS_DEADLINE, default 60 s; it
#                              takes 3-5 s), and both chains really
#                              dropped about a tenth of the frames
# The client keeps at most 128 KiB unechoed, so the transfer is a long
# series of small flights (cwnd settles at a few segments at this loss
# rate), nearly each of which loses something, data or ACKs, either way.
# Whatever duplicate ACKs, the loss probe and SACK recovery cannot repair
# waits for a retransmission timeout, so ustack runs with --rto-min 200
# (HOSTILE_LOSS_RTO_MIN; empty for its RFC 6298 default of 1 s), the
# minimum RTO Linux uses. docs/TESTING.md has the measurements.
. "$(dirname "$0")/lib.sh"

ustk_init hostile_loss interop_hostile_loss_echo
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/hostile_common.bash"
ustk_netns_create
hostile_need_iptables

BYTES=${HOSTILE_LOSS_BYTES:-$((20 * 1024 * 1024))}
DEADLINE=${HOSTILE_LOSS_DEADLINE:-60}
RTO_MIN=${HOSTILE_LOSS_RTO_MIN-200}

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

USTK_CMD=serve ustk_start_or_fail --echo 7 ${RTO_MIN:+--rto-min "$RTO_MIN"}
# The tool stops at DEADLINE by itself; timeout is the backstop.
hostile_run $((DEADLINE + 30)) echo "$USTK_ADDR" 7 "$BYTES" "$DEADLINE" --ahead 131072
rc=$?
in_all=$(ipt_packets INPUT 1)
in_lost=$(ipt_packets INPUT 2)
out_all=$(ipt_packets OUTPUT 1)
out_lost=$(ipt_packets OUTPUT 2)
ustk_stop
echo "    dropped $in_lost of $in_all frames from ustack, $out_lost of $out_all to it;" \
    "ustack: $(ustk_counter tcp.retransmits) retransmissions," \
    "$(ustk_counter tcp.rto_expired) timeouts, $(ustk_counter tcp.fast_retransmits) fast," \
    "$(ustk_counter tcp.tlp_probes) loss probes, $(ustk_counter tcp.lost_retransmits) lost" \
    "retransmissions resent, $(ustk_counter tcp.tlp_stall_retransmits) after a recovery stall," \
    "$(ustk_counter tcp.rx_probe_acks) ACKs from window probes"
# About 10% each way: between 5% and 15% of at least a few hundred frames.
share_ok() { # LOST ALL
    [ "$2" -ge 300 ] && [ $(($1 * 100)) -ge $(($2 * 5)) ] && [ $(($1 * 100)) -le $(($2 * 15)) ]
}
ok=0
share_ok "$in_lost" "$in_all" && share_ok "$out_lost" "$out_all" && ok=1
ustk_expect interop_hostile_loss_echo "echo status $rc; loss shares right: $ok" \
    "$rc" -eq 0 -a "$ok" -eq 1 -a "$(ustk_counter tcp.retransmits)" -gt 0

ustk_finish
