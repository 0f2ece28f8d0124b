#!/usr/bin/env bash
# A hostile peer and crypto misuse against a real rpcd: tests/fault/hostile.c
# drives every case over TCP and over a Unix socket; rpcc at the connection
# limit is checked here. rpcd must stay up, keep serving and stop cleanly.
# shellcheck disable=SC2154,SC2034
. "$(dirname "$0")/../lib.sh"

PROG=$B/tests/fault_hostile
MAX_CALLS=10000 # fault_hostile keeps 10000 calls in flight and 100 more refused
MAX_CONNS=24
HANDSHAKE_MS=2500 # long enough for a byte every second to get several bytes in
# How much rpcd may grow while clients do not read (hostile.c's default: 64 MiB).
if nm "$B/lib/libpbrpc.a" 2>/dev/null | grep -q __asan_; then
	export HOSTILE_MEM_BOUND_KB=$((512 << 10)) # ASan's quarantine keeps freed memory
fi
if [ ! -x "$PROG" ]; then
	fail "fault_hostile is built" "missing $PROG (make test-progs)"
	finish
fi

start_rpcd h -v --handshake-timeout "$HANDSHAKE_MS" --max-calls "$MAX_CALLS" \
	--max-connections "$MAX_CONNS" || exit 1

# At the connection limit rpcc says so clearly (docs/protocol.md 3.6): hold
# every slot with idle sockets (bash's /dev/tcp), then call.
port=${ADDR_h##*:}
rpcd_sockets() { find "/proc/$PID_h/fd" -lname 'socket:*' 2>/dev/null | wc -l; }
holds_sockets() { [ "$(rpcd_sockets)" -ge "$1" ]; }
sockets_before=$(rpcd_sockets)
fds=()
for _ in $(seq 1 "$MAX_CONNS"); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" && fds+=("$fd")
done
# rpcd has accepted them all (a descriptor each), however busy the machine.
wait_for 60 holds_sockets $((sockets_before + MAX_CONNS))
out=$(rpcc --server "$ADDR_h" echo busy 2>&1)
rc=$?
expect_eq "rpcc at the connection limit exits 255" 255 "$rc"
want="rpcc: echo: $ADDR_h is busy: server refused: too many connections (RESOURCE_EXHAUSTED)"
expect_eq "rpcc at the connection limit says RESOURCE_EXHAUSTED" "$want" "$out"
out=$(rpcc --server "$SOCK_h" echo busy 2>&1)
expect_eq "rpcc at the connection limit, Unix socket" \
	"rpcc: echo: $SOCK_h is busy: server refused: too many connections (RESOURCE_EXHAUSTED)" "$out"
if grep -q "refused: too many connections (limit $MAX_CONNS)" "$LOG_h"; then
	pass "rpcd logs the refusal"
else
	fail "rpcd logs the refusal" "$(tail -5 "$LOG_h")"
fi
for fd in "${fds[@]}"; do
	exec {fd}>&-
done
got=""
echo_back() { got=$(rpcc --server "$ADDR_h" echo back 2>/dev/null); }
wait_for 60 echo_back # bounded: rpcd sees the idle sockets go
expect_eq "rpcc gets in once the idle sockets are gone" "back" "$got"

for label in tcp unix; do
	addr=$ADDR_h
	[ $label = unix ] && addr=$SOCK_h
	run_labelled $label timeout 300 "$PROG" "$addr" "$KEY" "$LOG_h" "$PID_h" "$MAX_CALLS" \
		"$MAX_CONNS" "$HANDSHAKE_MS"
done
stop_rpcd_checked h "the hostile cases"
finish
