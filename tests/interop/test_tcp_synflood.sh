#!/bin/bash
# SYN flood against `ustack serve --echo` over TUN (or TAP with
# USTK_LINK=tap; test_tcp_tap.sh runs it so):
#   interop_tcp_synflood_survives  during and after 20,000 SYNs from random
#                                  spoofed addresses of the subnet, a real
#                                  client connects within 2 s and its data is
#                                  echoed
#   interop_tcp_synflood_cookies   ustack answered the flood with SYN cookies
#                                  (the counter moved), kept running, and
#                                  exits cleanly
# The flood and the checks are synflood_check in tcp_common.bash.
. "$(dirname "$0")/lib.sh"

ustk_init tcp_synflood interop_tcp_synflood_survives interop_tcp_synflood_cookies
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"
ustk_netns_create
# No capture: 40,000 frames of flood would only slow the run down.
USTK_CMD=serve ustk_start_or_fail --echo 7 --pcap /dev/null

synflood_check interop_tcp_synflood_survives interop_tcp_synflood_cookies

ustk_finish
