#!/bin/bash
# ustack over a delaying, reordering, duplicating and corrupting path, in
# both directions, made twice: once on the kernel's side of the TUN link
# (tests/tools/nfq_impair on NFQUEUE), once on ustack's side (--impair):
#   interop_hostile_nfqueue_echo  echo of 10 MiB through nfq_impair
#                                 (25 ms each way, so 50 ms more round
#                                 trip; 25% held back 10 ms more; 5%
#                                 duplicated; 1% corrupted): sha256 intact,
#                                 and both sides dropped the corrupted
#                                 segments on their checksums
#   interop_hostile_impair_echo   the same echo with the same impairments
#                                 made by ustack --impair: sha256 intact,
#                                 the impair.* counters show each one
# All 10 MiB must go out and come back (about 70 s a run here); sending
# stops after HOSTILE_NETEM_SEND_SECS (default 150) per run, which then fails
# the test unless HOSTILE_NETEM_MIN_BYTES says less is enough. ustack runs
# with --rto-min 200 (HOSTILE_NETEM_RTO_MIN; empty for RFC 6298's 1 s), the
# minimum RTO Linux uses, as the 20 MiB loss test does: a retransmission
# that is itself corrupted waits for a timeout.
. "$(dirname "$0")/lib.sh"

ustk_init hostile_netem interop_hostile_nfqueue_echo interop_hostile_impair_echo
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/hostile_common.bash"
ustk_need nstat
ustk_netns_create
hostile_need_iptables

BYTES=$((10 * 1024 * 1024))
SEND_SECS=${HOSTILE_NETEM_SEND_SECS:-150}
MIN_BYTES=${HOSTILE_NETEM_MIN_BYTES:-$BYTES}
RTO_MIN=${HOSTILE_NETEM_RTO_MIN-200}
ECHO_ARGS=(echo "$USTK_ADDR" 7 "$BYTES" $((SEND_SECS + 60)) --ahead 131072
    --send-for "$SEND_SECS" --min "$MIN_BYTES")
MARK=0x2a # nfq_impair's duplicates carry it, and pass without queueing

# ---- 1. on the kernel's side: NFQUEUE ------------------------------------
if [ ! -x "$NFQ_IMPAIR" ]; then
    ustk_skip interop_hostile_nfqueue_echo "$NFQ_IMPAIR not built (libnetfilter-queue-dev missing?)"
else
    ipt -A INPUT -i "$USTK_IFNAME" -j NFQUEUE --queue-num 1 --queue-bypass &&
        ipt -A OUTPUT -m mark --mark "$MARK" -j ACCEPT &&
        ipt -A OUTPUT -o "$USTK_IFNAME" -j NFQUEUE --queue-num 2 --queue-bypass ||
        ustk_skip_all "no NFQUEUE target in iptables"
    NFQ_ARGS=(--delay 25 --reorder 25 --reorder-delay 10 --dup 5 --corrupt 1 --mark "$MARK")
    nfq_ok=1
    hostile_nfq_start "$USTK_DIR/nfq-in.txt" --queue 1 --seed 1 "${NFQ_ARGS[@]}" || nfq_ok=0
    nfq_in=$NFQ_PID
    hostile_nfq_start "$USTK_DIR/nfq-out.txt" --queue 2 --seed 2 "${NFQ_ARGS[@]}" || nfq_ok=0
    nfq_out=$NFQ_PID
    csum_before=$(kernel_counter TcpInCsumErrors)
    USTK_CMD=serve ustk_start_or_fail --echo 7 ${RTO_MIN:+--rto-min "$RTO_MIN"}
    hostile_run $((SEND_SECS + 70)) "${ECHO_ARGS[@]}"
    rc=$?
    hostile_nfq_stop "$nfq_in"
    hostile_nfq_stop "$nfq_out"
    ustk_stop
    cp "$USTK_LOG" "$USTK_DIR/ustack-nfqueue.log"
    sed 's/^/    /' "$USTK_DIR/nfq-in.txt" "$USTK_DIR/nfq-out.txt"
    kernel_bad=$(($(kernel_counter TcpInCsumErrors) - csum_before))
    ustack_bad=$(ustk_counter tcp.drop_bad_checksum)
    ok=1
    for f in "$USTK_DIR/nfq-in.txt" "$USTK_DIR/nfq-out.txt"; do
        for what in delayed reordered duplicated corrupted; do
            [ "$(nfq_count "$f" "$what")" -gt 0 ] || ok=0
        done
    done
    echo "    checksum drops: kernel $kernel_bad, ustack $ustack_bad"
    ustk_expect interop_hostile_nfqueue_echo \
        "echo status $rc; tools started: $nfq_ok; every impairment seen: $ok" \
        "$rc" -eq 0 -a "$nfq_ok" -eq 1 -a "$ok" -eq 1 -a "$kernel_bad" -gt 0 \
        -a "$ustack_bad" -gt 0
    ipt -F INPUT
    ipt -F OUTPUT
fi

# ---- 2. on ustack's side: --impair --------------------------------------
csum_before=$(kernel_counter TcpInCsumErrors)
hdr_before=$(kernel_counter IpInHdrErrors)
USTK_CMD=serve ustk_start_or_fail --echo 7 ${RTO_MIN:+--rto-min "$RTO_MIN"} \
    --impair delay=25ms,reorder=25%,reorder-delay=10ms,dup=5%,corrupt=1%,seed=7
hostile_run $((SEND_SECS + 70)) "${ECHO_ARGS[@]}"
rc=$?
ustk_stop
grep '^ustack serve: impair' "$USTK_LOG" | sed 's/^/    /'
ok=1
for dir in out in; do
    for what in delayed reordered duplicated corrupted; do
        [ "$(ustk_counter "impair.${dir}_$what")" -gt 0 ] || ok=0
    done
done
# ustack corrupts any byte of a frame: the kernel's IP or TCP checksum
# catches it.
kernel_bad=$(($(kernel_counter TcpInCsumErrors) - csum_before + \
    $(kernel_counter IpInHdrErrors) - hdr_before))
ustack_bad=$(($(ustk_counter tcp.drop_bad_checksum) + $(ustk_counter ip.drop_bad_checksum)))
echo "    checksum drops: kernel $kernel_bad, ustack $ustack_bad"
ustk_expect interop_hostile_impair_echo \
    "echo status $rc; every impairment counted both ways: $ok" \
    "$rc" -eq 0 -a "$ok" -eq 1 -a "$kernel_bad" -gt 0 -a "$ustack_bad" -gt 0

ustk_finish
