#!/usr/bin/env bash
# make test-valgrind: the integration tests whose work suits valgrind's speed,
# with every rpcd and rpcc they start running under valgrind (tests/lib.sh
# wraps them when PBRPC_VALGRIND is set). Each process logs its errors and
# definite leaks to a file of its own; tests/run.sh fails on any such report.
set -u
cd "$(dirname "$0")/.." || exit 1
export B=${1:-build}
command -v valgrind >/dev/null || {
	echo "valgrind is missing (scripts/deps.sh installs it)" >&2
	echo "0 passed, 1 failed"
	exit 1
}
reports=$(mktemp -d /tmp/pbrpc-valgrind.XXXXXX)
trap 'rm -rf "$reports"' EXIT
export PBRPC_VALGRIND=$reports PBRPC_REPORT_DIR=$reports
# Timings stretch 20-50x under valgrind: the scripts that time nothing tight.
export TESTS=${TESTS:-"integration/basic.sh integration/daemon.sh integration/fault.sh integration/client_api.sh integration/library.sh integration/hostile.sh integration/startups.sh"}
exec ./tests/run.sh
