#!/usr/bin/env bash
# bench/profile.sh record|stat NAME CLIENT [ARGS...] - runs CLIENT against a
# fresh rpcd on loopback and profiles both: `record` writes perf.data files
# (bench/results/prof-NAME-{rpcd,client}.data, read with `perf report -i`),
# `stat` counts system calls and context switches on each side, and divides
# them by the calls made when CLIENT prints a "calls N" line (pbrpc_bench does).
# In ARGS, @ADDR@ and @KEY@ become rpcd's address and key file. Example:
#   bench/profile.sh stat l16 build/bench/pbrpc_bench load -a @ADDR@ -k @KEY@ -c 16 -f 16
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
B=${B:-build}
[ $# -ge 3 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
how=$1 name=$2
shift 2
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
RES=bench/results
mkdir -p "$RES"
T=$(mktemp -d /tmp/pbrpc-prof.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$B/bin/rpcc" keygen "$T/key" >/dev/null
mkdir -p "$T/root"
"$B/bin/rpcd" --listen 127.0.0.1:0 --key "$T/key" --root "$T/root" --max-connections 11000 2>"$T/log" &
RP=$!
for _ in $(seq 1 100); do
	ADDR=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$T/log" | head -1)
	[ -n "$ADDR" ] && break
	sleep 0.05
done
[ -n "$ADDR" ] || { cat "$T/log" >&2; kill "$RP"; exit 1; }
args=()
for a in "$@"; do a=${a//@ADDR@/$ADDR}; a=${a//@KEY@/$T/key}; args+=("$a"); done
EV=raw_syscalls:sys_enter,context-switches,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_poll,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait
if [ "$how" = record ]; then
	perf record -F 2000 -o "$RES/prof-$name-rpcd.data" -p "$RP" 2>/dev/null &
else
	perf stat -e "$EV" -x, -o "$T/rpcd.stat" -p "$RP" &
fi
PP=$!
sleep 0.3
if [ "$how" = record ]; then
	timeout 120 perf record -F 2000 -o "$RES/prof-$name-client.data" -- "${args[@]}" 2>/dev/null
else
	timeout 120 perf stat -e "$EV" -x, -o "$T/client.stat" -- "${args[@]}" | tee "$T/client.out"
fi
kill -INT "$PP"
wait "$PP"
kill -TERM "$RP"
wait "$RP"
if [ "$how" = record ]; then
	echo "profile: perf report -i $RES/prof-$name-rpcd.data --no-children --sort dso,sym" >&2
else
	calls=$(awk '$1 == "calls" { print $2; exit }' "$T/client.out")
	for w in client rpcd; do
		echo "-- $w${calls:+ (count, event, per call)}"
		grep -v '^#' "$T/$w.stat" | grep -v '^$' |
			awk -F, -v n="${calls:-0}" '{ if (n > 0) printf "%s,%s,%.3f\n", $1, $3, $1 / n; else print $1 "," $3 }'
	done
fi
