#!/bin/bash
# The kernel's reader stops reading from chargen for 10 s, so its receive
# window closes, and then reads on:
#   interop_hostile_zero_window_probe  ustack probes the closed window
#                                      (tcp.window_probes, and 1-byte probes
#                                      against a zero window in the capture),
#                                      resumes when reading resumes (the
#                                      rest within 10 s), and the
#                                      RFC 864 pattern runs on without a gap
#                                      or a repeat over all 4 MiB
. "$(dirname "$0")/lib.sh"

ustk_init hostile_zero_window interop_hostile_zero_window_probe
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/hostile_common.bash"
ustk_need tcpdump timeout
ustk_netns_create

STALL_SECS=10
USTK_CMD=serve ustk_start_or_fail --chargen 19
# A 16 KiB receive buffer closes the window quickly.
hostile_run 60 chargen "$USTK_ADDR" 19 $((4 * 1024 * 1024)) 50 --rcvbuf 16384 \
    --stall-at $((512 * 1024)) --stall-secs "$STALL_SECS" --max-after 10
rc=$?
ustk_stop
probes=$(ustk_counter tcp.window_probes)
# In the capture: the kernel's zero windows, and ustack's one-byte probes.
zero=$(timeout 30 tcpdump -n -r "$USTK_PCAP" \
    "src host $USTK_KADDR and tcp dst port 19 and tcp[14:2] = 0" 2>/dev/null | wc -l)
onebyte=$(timeout 30 tcpdump -n -r "$USTK_PCAP" \
    "src host $USTK_ADDR and tcp src port 19 and ip[2:2] - ((ip[0] & 15) * 4) - ((tcp[12] & 0xf0) / 4) = 1" \
    2>/dev/null | wc -l)
echo "    ustack: $probes window probes; capture: $zero zero windows from the kernel," \
    "$onebyte one-byte segments from ustack"
ustk_expect interop_hostile_zero_window_probe \
    "chargen status $rc; $probes probes counted, $zero zero windows, $onebyte one-byte probes" \
    "$rc" -eq 0 -a "$probes" -ge 2 -a "$zero" -ge 2 -a "$onebyte" -ge 2

ustk_finish
