#!/usr/bin/env bash
# Hostile input against a real rpcd: tests/fault/badinput.c drives every case
# over TCP and over a Unix socket; rpcd must stay up and stop cleanly after.
# shellcheck disable=SC2154,SC2034
. "$(dirname "$0")/../lib.sh"

PROG=$B/tests/fault_badinput
MAX_CALLS=4
if [ ! -x "$PROG" ]; then
	fail "fault_badinput is built" "missing $PROG (make test-progs)"
	finish
fi

start_rpcd f -v --handshake-timeout 500 --max-calls "$MAX_CALLS" || exit 1

# run_prog LABEL ADDR: the program's PASS/FAIL lines, labelled.
run_prog() {
	local label=$1 addr=$2 out rc
	out=$(timeout 120 "$PROG" "$addr" "$KEY" "$LOG_f" "$MAX_CALLS" 2>&1)
	rc=$?
	sed -n "s/^\(PASS\|FAIL\) /\1 $label: /p; /^  /p" <<<"$out"
	grep -q '^FAIL ' <<<"$out" && FAILED=1
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		fail "$label: fault_badinput exited $rc" "$out"
	fi
}
run_prog tcp "$ADDR_f"
run_prog unix "$SOCK_f"

if kill -0 "$PID_f" 2>/dev/null; then
	pass "rpcd survived every case"
else
	fail "rpcd survived every case" "$(tail -20 "$LOG_f")"
fi
expect_eq "rpcc still served after the faults" "after" "$(rpcc --server "$ADDR_f" echo after)"

kill -TERM "$PID_f"
for _ in $(seq 1 100); do
	kill -0 "$PID_f" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$PID_f" 2>/dev/null; then
	fail "rpcd stops on SIGTERM" "still running after 5 s"
else
	wait "$PID_f"
	expect_eq "rpcd exits 0 on SIGTERM after the faults" 0 "$?"
fi
san='AddressSanitizer|runtime error|LeakSanitizer'
if grep -qE "$san" "$LOG_f"; then
	fail "no sanitizer report in rpcd's log" "$(grep -A20 -E "$san" "$LOG_f" | head -40)"
else
	pass "no sanitizer report in rpcd's log"
fi
finish
