#!/usr/bin/env bash
# echo, time, list over 127.0.0.1, [::1] and a Unix socket; a wrong key.
. "$(dirname "$0")/../lib.sh"

start_rpcd a --listen '[::1]:0' || exit 1
expect_eq "echo over tcp" "hello world" "$(rpcc --server "$ADDR_a" echo hello world)"
expect_eq "echo over unix" "HELLO" "$(rpcc --server "$SOCK_a" echo --upper hello)"
v6=$(sed -n 's/.*listening on \(\[::1\]:[0-9]*\).*/\1/p' "$LOG_a" | head -1)
expect_eq "echo over ipv6" "v6" "$(rpcc --server "$v6" echo v6)"
expect_eq "time --format" "$(date -u +%Y)" "$(TZ=UTC rpcc --server "$ADDR_a" time --format %Y)"
check "time shows offset" bash -c "'$RPCC' --key '$KEY' --server '$ADDR_a' time | grep -q 'round trip'"
check "list shows echo" bash -c "'$RPCC' --key '$KEY' --server '$ADDR_a' list | grep -q 'pbrpc.echo.Echo'"
check "ping" bash -c "'$RPCC' --key '$KEY' --server '$ADDR_a' ping -c 200 | grep -q '200 calls'"

"$RPCC" keygen --shared "$T/other" >/dev/null
out=$("$RPCC" --key "$T/other" --server "$ADDR_a" echo hi 2>&1)
rc=$?
expect_eq "wrong key exits 255" 255 "$rc"
check "wrong key says authentication" grep -qi "authentication" <<<"$out"
expect_eq "still serving after wrong key" "ok" "$(rpcc --server "$ADDR_a" echo ok)"
finish
