#!/usr/bin/env bash
# The public client API (threads, streams, deadlines, cancel, limits) against a real rpcd.
. "$(dirname "$0")/../lib.sh"
start_rpcd c || exit 1
"$B/tests/fault_client_api" "$ADDR_c" "$KEY" || FAILED=1
"$B/tests/fault_client_api" "$SOCK_c" "$KEY" | sed 's/^\(PASS\|FAIL\) /\1 unix: /' || FAILED=1
check "rpcd still running" kill -0 "$PID_c"
finish
