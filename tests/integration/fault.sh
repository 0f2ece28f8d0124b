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

for label in tcp unix; do
	addr=$ADDR_f
	[ $label = unix ] && addr=$SOCK_f
	run_labelled $label timeout 120 "$PROG" "$addr" "$KEY" "$LOG_f" "$MAX_CALLS"
done
stop_rpcd_checked f "every case"
finish
