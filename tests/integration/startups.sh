#!/usr/bin/env bash
# Before authentication a connection costs rpcd little and is bounded: a cap
# on handshakes open at once per address, a time out for an address whose
# handshakes keep failing, and log lines that do not flood.
. "$(dirname "$0")/../lib.sh"

start_rpcd s --max-startups 4:64 || exit 1
port=${ADDR_s##*:}

# Four idle sockets from 127.0.0.1 fill its handshake slots.
fds=()
for _ in 1 2 3 4; do
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" || break
	fds+=("$fd")
done
expect_eq "four idle sockets open" 4 "${#fds[@]}"
out=$(rpcc --server "$ADDR_s" echo hi 2>&1)
rc=$?
expect_eq "a fifth handshake from that address: exit 255" 255 "$rc"
check "... told why" grep -q "too many unauthenticated connections from this address" <<<"$out"
expect_eq "a client on the Unix socket is not held up" "hi" "$(rpcc --server "$SOCK_s" echo hi)"
check "the refusal was logged" grep -q "refused: too many unauthenticated connections" "$LOG_s"
for fd in "${fds[@]}"; do exec {fd}>&-; done
# serves ADDR: an echo through ADDR comes back.
serves() { [ "$(rpcc --server "$1" echo back 2>/dev/null)" = back ]; }
check "the slots free when the idle sockets go" wait_for 60 serves "$ADDR_s"

# Handshakes that fail (connect, say nothing, leave) earn the address a time
# out. Failures are counted over 10 minutes (so a slow machine still gathers
# them) and earn 15 s (long enough that the checks below run inside it).
start_rpcd p --penalty 12:600:15 || exit 1
port=${ADDR_p##*:}
for _ in $(seq 1 12); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" && exec {fd}>&-
done
wait_for 60 grep -q "failed handshakes within" "$LOG_p"
check "the penalty is logged once, naming the address" grep -q "127.0.0.1: 12 failed handshakes within 600000 ms: refusing its connections for 15000 ms" "$LOG_p"
out=$(rpcc --server "$ADDR_p" echo hi 2>&1)
check "a penalized address is refused with a reason" grep -q "penalized for failed handshakes" <<<"$out"
expect_eq "... while the Unix socket still serves" "hi" "$(rpcc --server "$SOCK_p" echo hi)"
check "the address is served again once its time out (15 s) is over" \
	wait_for 75 serves "$ADDR_p"

# A flood of failing handshakes does not flood the log. (--penalty 0: none.)
start_rpcd f --penalty 0 || exit 1
port=${ADDR_f##*:}
t0=$(date +%s)
for _ in $(seq 1 300); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" && exec {fd}>&-
done
elapsed=$(($(date +%s) - t0))
# At most 10 such lines a second are written: 300 failures within 10 s
# must have had some suppressed, which the next second's line counts.
wait_for 60 grep -q "closed: disconnected during handshake" "$LOG_f"
wait_for 60 grep -q "similar lines suppressed" "$LOG_f"
lines=$(grep -c "closed: disconnected during handshake" "$LOG_f")
if [ "$elapsed" -ge 10 ]; then
	pass "log lines limited (not measurable: 300 connections took ${elapsed} s here)"
else
	check "log lines limited: fewer than one per failed handshake ($lines for 300)" test "$lines" -lt 300
	check "... and the rest counted" grep -q "similar lines suppressed" "$LOG_f"
fi
stop_rpcd_checked s "unauthenticated floods"
finish
