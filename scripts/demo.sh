#!/bin/sh
# ustack demo: a TCP/IP stack in a process, talking to the Linux kernel.
#
# Run it with `make demo` (as root). It needs nothing prepared: it creates a
# private network namespace, runs ustack on a TUN device inside it, pings in
# both directions, shows the packet capture and ustack's counters, and
# removes everything again, even when interrupted.
#
# Environment: USTACK (binary, default $BUILD/ustack or build/ustack).
#
# Each step is a small function; main() at the bottom runs them in order.

set -u

cd "$(dirname "$0")/.." || exit 1
USTACK=${USTACK:-${BUILD:-build}/ustack}

NS=ustk-demo-$$          # our private network namespace
IFNAME=ustack0           # the TUN device `ustack up` creates in it
KERNEL_ADDR=10.0.0.1     # the kernel's end of the link
USTACK_ADDR=10.0.0.2     # ustack's address
PREFIX=24
IFNAME2=ustack1          # a second device for `ustack ping`
KERNEL_ADDR2=10.0.1.1
USTACK_ADDR2=10.0.1.2

WORK=                    # temp dir: capture and log
UP_PID=                  # the ustack we run in the background (up, then serve)
SERVER_PID=              # the kernel-side nc server of the TCP client step
NS_CREATED=

# ---- presentation -----------------------------------------------------------

if [ -t 1 ]; then
    BOLD=$(printf '\033[1m'); DIM=$(printf '\033[2m'); RESET=$(printf '\033[0m')
else
    BOLD=; DIM=; RESET=
fi
STEP=0

step() {
    STEP=$((STEP + 1))
    printf '\n%s== %d. %s%s\n' "$BOLD" "$STEP" "$1" "$RESET"
}

say() {
    printf '%s\n' "$@" | sed 's/^/   /'
}

# Show a command, then run it with its output indented; returns its status.
run() {
    printf '%s   $ %s%s\n' "$DIM" "$*" "$RESET"
    { "$@" 2>&1; echo $? >"$WORK/status"; } | sed 's/^/     /'
    return "$(cat "$WORK/status")"
}

die() {
    printf 'demo: %s\n' "$*" >&2
    exit 1
}

# ---- setup and cleanup --------------------------------------------------------

cleanup() {
    if [ -n "$UP_PID" ] && kill -0 "$UP_PID" 2>/dev/null; then
        kill -TERM "$UP_PID" 2>/dev/null
        wait "$UP_PID" 2>/dev/null
    fi
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null
    [ -n "$NS_CREATED" ] && ip netns del "$NS" 2>/dev/null
    [ -n "$WORK" ] && rm -rf "$WORK"
}

on_signal() { # EXIT-STATUS
    printf '\ndemo: interrupted, cleaning up\n' >&2
    exit "$1" # the EXIT trap cleans up
}

check_requirements() {
    if [ "$(id -u)" -ne 0 ]; then
        cat >&2 <<EOF
This demo needs root: it creates a network namespace and a TUN device inside
it (CAP_SYS_ADMIN and CAP_NET_ADMIN). Nothing outside that namespace is
touched, and everything is removed at the end. Run it as:

    sudo make demo
EOF
        exit 1
    fi
    command -v ip >/dev/null || die "the 'ip' command (iproute2) is missing"
    command -v ping >/dev/null || die "the 'ping' command (iputils-ping) is missing"
    [ -x "$USTACK" ] || die "$USTACK not found; build it first with: make"
    [ -e /dev/net/tun ] || die "/dev/net/tun is missing; load the module: modprobe tun"
}

# ---- steps ------------------------------------------------------------------------

step_namespace() {
    step "A private network namespace"
    say "Everything happens inside a fresh network namespace, so the demo cannot" \
        "disturb this machine's own networking."
    run ip netns add "$NS" || die "cannot create network namespace $NS"
    NS_CREATED=1
}

step_start_ustack() {
    step "Start ustack"
    say "'ustack up' creates the TUN device $IFNAME in the namespace, gives the kernel's" \
        "end the address $KERNEL_ADDR/$PREFIX and runs the stack, at $USTACK_ADDR, on the" \
        "other end, inside this ordinary process. Every frame goes into a pcap file."
    printf '%s   $ %s%s\n' "$DIM" "$USTACK up --netns $NS --ifname $IFNAME \
--kernel-addr $KERNEL_ADDR/$PREFIX --addr $USTACK_ADDR --pcap $WORK/ustack.pcap &" "$RESET"
    "$USTACK" up --netns "$NS" --ifname "$IFNAME" --kernel-addr "$KERNEL_ADDR/$PREFIX" \
        --addr "$USTACK_ADDR" --pcap "$WORK/ustack.pcap" >"$WORK/ustack.log" 2>&1 &
    UP_PID=$!
    # Wait (at most 5 s) for the device to appear.
    i=0
    until ip netns exec "$NS" ip link show "$IFNAME" >/dev/null 2>&1; do
        if ! kill -0 "$UP_PID" 2>/dev/null || [ $i -ge 50 ]; then
            sed 's/^/     /' "$WORK/ustack.log" >&2
            die "ustack did not come up"
        fi
        sleep 0.1
        i=$((i + 1))
    done
    sed 's/^/     /' "$WORK/ustack.log"
    say "" "The kernel now sees an ordinary interface, with a route to the subnet:"
    run ip netns exec "$NS" ip -brief address show dev "$IFNAME"
    run ip netns exec "$NS" ip route show dev "$IFNAME"
}

step_kernel_pings() {
    step "The kernel pings ustack"
    say "Linux's own ping, run inside the namespace, sends ICMP echo requests into the" \
        "TUN device; ustack answers them. Sizes 0 to 1472 bytes of data: 1472 + 8" \
        "(ICMP header) + 20 (IP header) is exactly the 1500-byte MTU."
    for size in 0 56 1000 1472; do
        run ip netns exec "$NS" ping -n -c 2 -i 0.2 -W 1 -s "$size" "$USTACK_ADDR"
    done
    say "" "(With -s 0 there is no room for ping's timestamp, so it prints no time.)"
    say "" "One byte more no longer fits in one packet: the kernel splits it into two IP" \
        "fragments. The counters at the end show what ustack did with them."
    run ip netns exec "$NS" ping -n -c 1 -W 1 -s 1473 "$USTACK_ADDR"
}

step_ustack_ping() {
    step "ustack pings the kernel"
    say "The other direction: 'ustack ping' brings up a second stack on its own device" \
        "($IFNAME2, $USTACK_ADDR2) and sends echo requests to the kernel side, timing" \
        "the replies itself."
    run "$USTACK" ping --netns "$NS" --ifname "$IFNAME2" \
        --kernel-addr "$KERNEL_ADDR2/$PREFIX" --addr "$USTACK_ADDR2" -c 3 -i 200 "$KERNEL_ADDR2"
}

# Show the first lines of the capture matching a display filter (tshark
# syntax) or, without tshark, a capture filter (tcpdump syntax).
show_capture() {
    if command -v tshark >/dev/null; then
        printf '%s   $ tshark -n -r ustack.pcap %s| head -n %s%s\n' "$DIM" \
            "${1:+-Y '$1' }" "$3" "$RESET"
        tshark -n -r "$WORK/ustack.pcap" ${1:+-Y "$1"} 2>/dev/null | head -n "$3" |
            sed 's/^/     /'
    else
        printf '%s   $ tcpdump -n -r ustack.pcap %s| head -n %s%s\n' "$DIM" \
            "${2:+'$2' }" "$3" "$RESET"
        tcpdump -n -r "$WORK/ustack.pcap" ${2:+"$2"} 2>/dev/null | head -n "$3" |
            sed 's/^/     /'
    fi
}

step_capture() {
    step "The packet capture"
    if ! command -v tshark >/dev/null && ! command -v tcpdump >/dev/null; then
        say "(install tshark or tcpdump to read $WORK/ustack.pcap)"
        return
    fi
    say "ustack recorded every frame it received and sent in a pcap file (raw IP," \
        "readable by Wireshark). Each request and its reply share a timestamp: ustack" \
        "answers within the same event-loop turn. The first frames:"
    show_capture "" "" 6
    say "" "And the two fragments of the 1473-byte ping:"
    show_capture "ip.flags.mf == 1 || ip.frag_offset > 0" "ip[6:2] & 0x3fff != 0" 4
}

step_counters() {
    step "Stop ustack and read its counters"
    say "SIGINT or SIGTERM stops ustack, which then prints its counters: every frame" \
        "is counted as received, sent, or dropped for a named reason. (kill -USR1" \
        "prints them without stopping.)"
    run kill -TERM "$UP_PID"
    wait "$UP_PID"
    rc=$?
    UP_PID=
    sed -n '/^ustack stopped/,$p' "$WORK/ustack.log" | sed 's/^/     /'
    [ "$rc" -eq 0 ] || die "ustack exited with status $rc"
}

step_done() {
    step "Done"
    say "Cleaning up: the devices vanished when ustack exited; the namespace and" \
        "temporary files go now. Next: ustack help"
}

# ---- TCP steps: ustack serve and ustack connect ---------------------------------

# Show a capture file through tshark (or tcpdump), one line per segment.
show_tcp_capture() { # FILE TSHARK-FILTER TCPDUMP-FILTER LINES
    if command -v tshark >/dev/null; then
        printf '%s   $ tshark -n -r %s -Y %s%s\n' "$DIM" "$(basename "$1")" "'$2'" "$RESET"
        tshark -n -r "$1" -Y "$2" 2>/dev/null | head -n "$4" | sed 's/^/     /'
    elif command -v tcpdump >/dev/null; then
        printf '%s   $ tcpdump -n -r %s %s%s\n' "$DIM" "$(basename "$1")" "'$3'" "$RESET"
        tcpdump -n -r "$1" "$3" 2>/dev/null | head -n "$4" | sed 's/^/     /'
    else
        say "(install tshark or tcpdump to read $1)"
    fi
}

step_tcp_serve() {
    step "ustack serves TCP"
    say "'ustack serve' brings the stack up again on $IFNAME, this time with TCP services" \
        "on $USTACK_ADDR: echo (port 7), discard (9), chargen (19) and a small HTTP" \
        "server (80) for the files of a directory."
    mkdir -p "$WORK/www"
    echo "Hello over ustack's TCP." >"$WORK/www/hello.txt"
    printf '%s   $ %s%s\n' "$DIM" "$USTACK serve --netns $NS --ifname $IFNAME \
--kernel-addr $KERNEL_ADDR/$PREFIX --addr $USTACK_ADDR --echo 7 --discard 9 --chargen 19 \
--http 80:$WORK/www --pcap $WORK/tcp.pcap &" "$RESET"
    "$USTACK" serve --netns "$NS" --ifname "$IFNAME" --kernel-addr "$KERNEL_ADDR/$PREFIX" \
        --addr "$USTACK_ADDR" --echo 7 --discard 9 --chargen 19 --http "80:$WORK/www" \
        --pcap "$WORK/tcp.pcap" >"$WORK/serve.log" 2>&1 &
    UP_PID=$!
    i=0
    until ip netns exec "$NS" ip -o -4 address show dev "$IFNAME" 2>/dev/null |
        grep -q "$KERNEL_ADDR/"; do
        if ! kill -0 "$UP_PID" 2>/dev/null || [ $i -ge 50 ]; then
            sed 's/^/     /' "$WORK/serve.log" >&2
            die "ustack serve did not come up"
        fi
        sleep 0.1
        i=$((i + 1))
    done
    sed -n 1p "$WORK/serve.log" | sed 's/^/     /'
}

step_tcp_kernel_clients() {
    step "Kernel clients talk to ustack's services"
    if ! command -v nc >/dev/null; then
        say "(install netcat-openbsd to try echo, discard and chargen)"
    else
        say "Linux's TCP, through nc, to ustack's echo service. -N sends FIN at the end of" \
            "input; echo sends everything back, then closes too:"
        printf '%s   $ echo "hello, ustack" | nc -N %s 7%s\n' "$DIM" "$USTACK_ADDR" "$RESET"
        echo "hello, ustack" | timeout 5 ip netns exec "$NS" nc -N "$USTACK_ADDR" 7 2>&1 |
            sed 's/^/     /'
        say "" "A megabyte into discard, which keeps nothing:"
        printf '%s   $ head -c 1000000 /dev/zero | nc -N %s 9%s\n' "$DIM" "$USTACK_ADDR" \
            "$RESET"
        head -c 1000000 /dev/zero | timeout 5 ip netns exec "$NS" nc -N "$USTACK_ADDR" 9
        say "" "chargen streams lines of rotating printable ASCII (RFC 864) until we hang up:"
        printf '%s   $ nc -d %s 19 | head -n 4%s\n' "$DIM" "$USTACK_ADDR" "$RESET"
        timeout 5 ip netns exec "$NS" nc -d "$USTACK_ADDR" 19 2>/dev/null | head -n 4 |
            sed 's/^/     /'
    fi
    if command -v curl >/dev/null; then
        say "" "curl fetches a file from ustack's HTTP server, then a missing one:"
        run ip netns exec "$NS" curl -sS -i --max-time 5 "http://$USTACK_ADDR/hello.txt"
        run ip netns exec "$NS" curl -sS -o /dev/null -w 'HTTP status %{http_code}\n' \
            --max-time 5 "http://$USTACK_ADDR/missing.txt"
    fi
}

step_tcp_capture() {
    step "TCP in the capture"
    say "The echo connection, segment by segment: the three-way handshake (SYN," \
        "SYN-ACK, ACK), the data and its echo, then the four-way close, a FIN from" \
        "each side, each one acknowledged."
    show_tcp_capture "$WORK/tcp.pcap" "tcp.port == 7" "tcp port 7" 14
}

step_tcp_ustack_client() {
    step "ustack as the TCP client"
    if ! command -v nc >/dev/null; then
        say "(install netcat-openbsd for this step)"
        return
    fi
    say "The other direction: a kernel server (nc -l, in the namespace) and 'ustack" \
        "connect', a netcat on ustack's blocking socket API, on its own device" \
        "($IFNAME2, $USTACK_ADDR2). Each side sends a line and half-closes."
    printf '%s   $ echo "hello from the kernel" | nc -N -l 5000 &%s\n' "$DIM" "$RESET"
    echo "hello from the kernel" | timeout 20 ip netns exec "$NS" nc -N -l 5000 \
        >"$WORK/server.out" 2>&1 &
    SERVER_PID=$!
    sleep 0.3 # let nc start listening
    printf '%s   $ echo "hello from ustack" | %s%s\n' "$DIM" "$USTACK connect --netns $NS \
--ifname $IFNAME2 --kernel-addr $KERNEL_ADDR2/$PREFIX --addr $USTACK_ADDR2 \
--pcap $WORK/connect.pcap $KERNEL_ADDR2 5000" "$RESET"
    echo "hello from ustack" | "$USTACK" connect --netns "$NS" --ifname "$IFNAME2" \
        --kernel-addr "$KERNEL_ADDR2/$PREFIX" --addr "$USTACK_ADDR2" \
        --pcap "$WORK/connect.pcap" "$KERNEL_ADDR2" 5000 2>&1 | sed 's/^/     /'
    wait "$SERVER_PID"
    SERVER_PID=
    say "" "What the kernel's nc received:"
    sed 's/^/     /' "$WORK/server.out"
    say "" "ustack's capture of that connection, from its SYN to the last ACK:"
    show_tcp_capture "$WORK/connect.pcap" "tcp" "tcp" 14
}

step_tcp_stop() {
    step "Stop ustack serve"
    say "On SIGTERM, serve prints what each service did, then the counters:"
    run kill -TERM "$UP_PID"
    wait "$UP_PID"
    rc=$?
    UP_PID=
    grep -E '/tcp:|^http:' "$WORK/serve.log" | sed 's/^/     /'
    grep -E '^tcp\.' "$WORK/serve.log" | sed 's/^/     /'
    [ "$rc" -eq 0 ] || die "ustack serve exited with status $rc"
}

main() {
    check_requirements
    WORK=$(mktemp -d /tmp/ustack-demo.XXXXXX) || die "cannot create a temp dir"
    trap cleanup EXIT
    trap 'on_signal 130' INT
    trap 'on_signal 143' TERM
    printf '%sustack demo%s: a TCP/IP stack running in a process, talking to Linux over TUN\n' \
        "$BOLD" "$RESET"
    step_namespace
    step_start_ustack
    step_kernel_pings
    step_ustack_ping
    step_capture
    step_counters
    step_tcp_serve
    step_tcp_kernel_clients
    step_tcp_capture
    step_tcp_ustack_client
    step_tcp_stop
    step_done
}

main "$@"
