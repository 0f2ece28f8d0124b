#!/usr/bin/env bash
# scripts/cpu_hog.sh [-n N] CMD...: runs CMD while N busy loops (default: one
# per core) keep every core busy, then stops those loops by their PIDs and
# exits with CMD's status. make test-loaded runs make test this way: the
# suite must pass on a machine whose cores are all taken (issue 12 part 8),
# like `stress-ng --cpu N` alongside, with nothing to install.
set -u
n=$(nproc)
if [ "${1:-}" = -n ]; then
	n=$2
	shift 2
fi
if [ $# -eq 0 ] || ! [ "$n" -ge 1 ] 2>/dev/null; then
	echo "usage: $0 [-n N] CMD..." >&2
	exit 2
fi

hogs=()
stop_hogs() {
	local pid
	for pid in "${hogs[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${hogs[@]}"; do
		wait "$pid" 2>/dev/null
	done
	hogs=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM

for ((i = 0; i < n; i++)); do
	# A subshell spinning in bash itself: no fork per turn, all user CPU.
	(
		trap 'exit 0' TERM
		while :; do :; done
	) &
	hogs+=($!)
done
echo "cpu_hog: $n busy loops (pids ${hogs[*]}) while: $*" >&2
"$@"
rc=$?
stop_hogs
echo "cpu_hog: stopped the busy loops" >&2
exit $rc
