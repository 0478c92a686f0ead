#!/bin/bash
# curl and raw requests against `ustack serve --http` over TUN:
#   interop_tcp_http_get_10m      a 10 MiB file arrives byte-exact, with the
#                                 right Content-Length and Content-Type
#   interop_tcp_http_head         HEAD: 200, the length, no body
#   interop_tcp_http_404          a missing file: 404
#   interop_tcp_http_keepalive    two URLs in one curl call share one connection
#                                 (curl says so, and the capture has one SYN)
#   interop_tcp_http_traversal    "..", "%2e%2e" and a symlink out of the
#                                 directory: all refused, the secret never sent
#   interop_tcp_http_errors       malformed request 400, no Host 400, POST 405
#                                 with Allow, unknown method 501, HTTP/2.0 505,
#                                 a 9 KiB header 431
#   interop_tcp_http_close        HTTP/1.0 and "Connection: close" end the
#                                 connection after the response
#   interop_tcp_http_status_page  without DIR: the page lists counters and
#                                 connections; /stats.txt has the counters
. "$(dirname "$0")/lib.sh"

ustk_init tcp_http interop_tcp_http_get_10m interop_tcp_http_head interop_tcp_http_404 \
    interop_tcp_http_keepalive interop_tcp_http_traversal interop_tcp_http_errors \
    interop_tcp_http_close interop_tcp_http_status_page
ustk_need curl nc
[ -x "$USTK_PY" ] || ustk_skip_all "$USTK_PY not installed"
. "$(dirname "$0")/tcp_common.bash"
ustk_netns_create

www=$USTK_DIR/www
mkdir -p "$www/sub"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
printf '<html><body>ustack</body></html>\n' >"$www/index.html"
printf 'hello\n' >"$www/sub/hello.txt"
echo "top secret" >"$USTK_DIR/secret.txt"
ln -s ../secret.txt "$www/escape.txt"
URL=http://$USTK_ADDR:8080

USTK_CMD=serve ustk_start_or_fail --http "8080:$www"

# Send raw request bytes (printf format) with nc; print the status code of
# the first response.
raw_status() { # PRINTF-FORMAT
    # shellcheck disable=SC2059
    printf "$1" | timeout 10 ip netns exec "$USTK_NS" nc -N -w 5 "$USTK_ADDR" 8080 |
        head -1 | cut -d' ' -f2
}

# ---- interop_tcp_http_get_10m --------------------------------------------------
headers=$USTK_DIR/get.headers
ns_curl -D "$headers" -o "$USTK_DIR/big.out" "$URL/big.bin"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(sha_of "$USTK_DIR/big.out")" = "$(sha_of "$www/big.bin")" ] &&
    grep -qi '^Content-Length: 10485760' "$headers" &&
    grep -qi '^Content-Type: application/octet-stream' "$headers"; then
    ustk_pass interop_tcp_http_get_10m
else
    sed 's/^/    /' "$headers"
    ustk_fail interop_tcp_http_get_10m "curl status $rc," \
        "$(stat -c %s "$USTK_DIR/big.out" 2>/dev/null || echo 0) bytes"
fi
rm -f "$USTK_DIR/big.out"

# ---- interop_tcp_http_head -------------------------------------------------------
ns_curl -I -o "$USTK_DIR/head.out" "$URL/big.bin"
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^HTTP/1.1 200' "$USTK_DIR/head.out" &&
    grep -qi '^Content-Length: 10485760' "$USTK_DIR/head.out" &&
    [ "$(stat -c %s "$USTK_DIR/head.out")" -lt 1000 ]; then
    ustk_pass interop_tcp_http_head
else
    sed 's/^/    /' "$USTK_DIR/head.out" | head -10
    ustk_fail interop_tcp_http_head "curl -I status $rc"
fi

# ---- interop_tcp_http_404 --------------------------------------------------------
code=$(ns_curl -o /dev/null -w '%{http_code}' "$URL/no/such/file")
ustk_expect interop_tcp_http_404 "status $code, expected 404" "$code" = 404

# ---- interop_tcp_http_keepalive ----------------------------------------------------
# Two transfers in one curl call: one connection (num_connects 1 then 0, the
# same local port), and curl says it reused it. The capture is checked for a
# single SYN from that port once ustack has stopped.
ns_curl -v -o /dev/null -o /dev/null -w '%{num_connects} %{local_port}\n' \
    "$URL/index.html" "$URL/sub/hello.txt" >"$USTK_DIR/keepalive.out" \
    2>"$USTK_DIR/keepalive.err"
rc=$?
connects=$(awk '{ n += $1 } END { print n + 0 }' "$USTK_DIR/keepalive.out")
ka_ports=$(awk '{ print $2 }' "$USTK_DIR/keepalive.out" | sort -u)
if [ "$rc" -eq 0 ] && [ "$connects" -eq 1 ] && [ "$(echo "$ka_ports" | wc -l)" -eq 1 ] &&
    grep -q 'Re-using existing connection' "$USTK_DIR/keepalive.err"; then
    keepalive_curl=ok
else
    sed 's/^/    /' "$USTK_DIR/keepalive.out"
    keepalive_curl="curl status $rc, $connects connections, reuse not reported"
fi

# ---- interop_tcp_http_traversal ------------------------------------------------------
bad=
for path in /../secret.txt /sub/../../secret.txt /%2e%2e/secret.txt /sub/%2E%2E/%2e%2e/secret.txt \
    /escape.txt "/..%2fsecret.txt"; do
    body=$(ns_curl --path-as-is -o - -w '\n%{http_code}' "$URL$path")
    code=$(echo "$body" | tail -1)
    if echo "$body" | grep -q 'top secret' || [ "$code" = 200 ]; then
        bad="$bad $path($code)"
    fi
done
ustk_expect interop_tcp_http_traversal "served outside the directory:$bad" -z "$bad"

# ---- interop_tcp_http_errors ---------------------------------------------------------
long=$(head -c 9000 /dev/zero | tr '\0' 'a')
got="$(raw_status 'GARBAGE\r\n\r\n')"
got="$got $(raw_status 'GET /index.html HTTP/1.1\r\n\r\n')"
got="$got $(raw_status 'POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')"
got="$got $(raw_status 'BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n')"
got="$got $(raw_status 'GET / HTTP/2.0\r\nHost: x\r\n\r\n')"
got="$got $(raw_status "GET / HTTP/1.1\r\nHost: x\r\nX-Long: $long\r\n\r\n")"
allow=$(printf 'DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n' |
    timeout 10 ip netns exec "$USTK_NS" nc -N -w 5 "$USTK_ADDR" 8080 | tr -d '\r' |
    grep -i '^Allow:')
ustk_expect interop_tcp_http_errors \
    "statuses '$got', expected '400 400 405 501 505 431'; Allow: '$allow'" \
    "$got|$allow" = "400 400 405 501 505 431|Allow: GET, HEAD"

# ---- interop_tcp_http_close ------------------------------------------------------------
# nc -N half-closes after the request but would wait (-w 5) for the server:
# a quick return means the server closed first.
t0=$(date +%s%N)
r10=$(printf 'GET /sub/hello.txt HTTP/1.0\r\n\r\n' |
    timeout 10 ip netns exec "$USTK_NS" nc -w 5 "$USTK_ADDR" 8080 | tr -d '\r')
r11=$(printf 'GET /sub/hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    timeout 10 ip netns exec "$USTK_NS" nc -w 5 "$USTK_ADDR" 8080 | tr -d '\r')
ms=$((($(date +%s%N) - t0) / 1000000))
if echo "$r10" | grep -q '^HTTP/1.1 200' && echo "$r10" | tail -1 | grep -q '^hello$' &&
    echo "$r11" | grep -qi '^Connection: close' && [ "$ms" -lt 4000 ]; then
    ustk_pass interop_tcp_http_close
else
    ustk_fail interop_tcp_http_close "the server did not close promptly ($ms ms for both)"
fi

# ---- the keep-alive capture ------------------------------------------------------------
ustk_stop || echo "    ustack serve exited with status $USTK_STATUS"
if [ "$keepalive_curl" != ok ]; then
    ustk_fail interop_tcp_http_keepalive "$keepalive_curl"
elif command -v tshark >/dev/null; then
    syns=$(timeout 60 tshark -n -r "$USTK_PCAP" \
        -Y "tcp.srcport == $ka_ports && tcp.flags.syn == 1 && tcp.flags.ack == 0" \
        2>/dev/null | wc -l)
    ustk_expect interop_tcp_http_keepalive \
        "$syns SYNs from port $ka_ports in the capture, expected 1" "$syns" -eq 1
else
    ustk_pass interop_tcp_http_keepalive
fi

# ---- interop_tcp_http_status_page --------------------------------------------------------
USTK_CMD=serve ustk_start_or_fail --http 8080 --echo 7
page=$(ns_curl "$URL/")
stats=$(ns_curl "$URL/stats.txt")
if echo "$page" | grep -q 'TCP connections' && echo "$page" | grep -q 'tcp.rx' &&
    echo "$page" | grep -q "$USTK_ADDR:8080" &&
    echo "$stats" | grep -Eq '^tcp\.rx [1-9][0-9]*$' &&
    echo "$stats" | grep -Eq '^link\.rx_frames [1-9][0-9]*$'; then
    ustk_pass interop_tcp_http_status_page
else
    echo "$page" | head -20 | sed 's/^/    /'
    ustk_fail interop_tcp_http_status_page "the page or /stats.txt lacks counters or connections"
fi
ustk_stop

ustk_finish
