# tests/lib.sh - shared by the shell tests: a real rpcd in a temp dir, the
# real rpcc, and PASS/FAIL reporting. Source it; it cleans up on exit.
# shellcheck shell=bash
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
RPCD=$B/bin/rpcd
RPCC=$B/bin/rpcc
T=$(mktemp -d /tmp/pbrpc-test.XXXXXX)
# make test-valgrind sets PBRPC_VALGRIND to a directory: rpcd and rpcc then run
# under valgrind, each process writing its errors (none, if clean) to a file
# there, which tests/run.sh counts at the end.
# START_WAIT: seconds rpcd may take to start listening. A safety net only (a
# loaded machine or valgrind is slow): the wait ends as soon as it listens.
START_WAIT=60
if [ -n "${PBRPC_VALGRIND:-}" ]; then
	for prog in rpcd rpcc; do
		cat >"$T/vg-$prog" <<VGEOF
#!/bin/sh
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--track-fds=no --log-file="$PBRPC_VALGRIND/$prog.%p" "$B/bin/$prog" "\$@"
VGEOF
		chmod +x "$T/vg-$prog"
	done
	RPCD=$T/vg-rpcd
	RPCC=$T/vg-rpcc
	START_WAIT=300
fi
KEY=$T/key
FAILED=0
RPCD_PIDS=()

# own_children PID...: prints those of the PIDs that are still children of
# this shell. A PID whose process has ended (and been reaped) may by now
# belong to anything on the machine, another test's rpcd included, with test
# files running in parallel: signal only our own (signal_own SIGNAL PID...).
own_children() {
	local pid
	for pid; do
		[ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f2)" = "$$" ] && echo "$pid"
	done
}
signal_own() {
	local sig=$1 pid
	shift
	for pid in $(own_children "$@"); do
		kill "-$sig" "$pid" 2>/dev/null
	done
}

cleanup() {
	local pid
	for pid in $(own_children "${RPCD_PIDS[@]}"); do
		kill -TERM "$pid" 2>/dev/null
		kill -CONT "$pid" 2>/dev/null # one a test left stopped (freeze) must see the TERM
	done
	for pid in "${RPCD_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

# Two ways in: the shared key (protocol 1, which the byte-level C fault
# programs speak) and a client identity in rpcd's authorized keys (protocol
# 2, which the rpcc() below uses). Every rpcd started here accepts both.
"$RPCC" keygen --shared "$KEY" >/dev/null
ID=$T/id
"$RPCC" keygen -C tester "$ID" >/dev/null
HOST_KEY=$T/host_key
AUTHORIZED=$T/authorized_keys
printf '%s tester\n' "$(cut -d' ' -f1,2 "$ID.pub")" >"$AUTHORIZED"

pass() { echo "PASS $1"; }
fail() {
	echo "FAIL $1"
	[ $# -gt 1 ] && printf '  | %s\n' "${@:2}"
	FAILED=1
}

# check NAME CMD...: PASS if CMD exits 0.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

# expect_eq NAME WANT GOT
expect_eq() {
	if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "want: $2" "got:  $3"; fi
}

# start_rpcd NAME [rpcd options...]: starts rpcd on a free loopback port and a
# Unix socket in $T; sets ADDR_NAME (TCP), SOCK_NAME (unix:...), PID_NAME, LOG_NAME.
start_rpcd() {
	local name=$1 log=$T/rpcd-$1.log i port
	shift
	mkdir -p "$T/root-$name"
	: >"$log" # exists before rpcd starts, so the wait below never reads a missing file
	"$RPCD" --listen 127.0.0.1:0 --listen "unix:$T/sock-$name" --key "$KEY" \
		--host-key "$HOST_KEY" --authorized-keys "$AUTHORIZED" \
		--root "$T/root-$name" "$@" 2>"$log" &
	local pid=$!
	RPCD_PIDS+=("$pid")
	local end=$((SECONDS + START_WAIT))
	for ((i = 0; i < START_WAIT * 100; i++)); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		[ $SECONDS -lt $end ] || break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "rpcd did not start:" >&2
		cat "$log" >&2
		return 1
	fi
	printf -v "ADDR_$name" '127.0.0.1:%s' "$port"
	printf -v "SOCK_$name" 'unix:%s' "$T/sock-$name"
	printf -v "PID_$name" '%s' "$pid"
	printf -v "LOG_$name" '%s' "$log"
}

# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds; returns 1
# if it has not after SECONDS of wall time. The limit is a safety net for a
# stuck test, never a speed the test asserts: it counts time, not tries, so a
# check that is itself slow on a busy machine does not stretch it (and the
# tries are bounded too).
wait_for() {
	local end=$((SECONDS + $1 + 1)) i
	shift
	for ((i = 0; i < 100000; i++)); do
		"$@" && return 0
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
	return 1
}

# process_gone PID: the process has exited (or is a zombie not yet reaped).
process_gone() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -z "$state" ] || [ "$state" = Z ]
}

# all_threads_stopped PID: every thread of PID is in the stopped state.
# (A process that is gone holds still too.)
all_threads_stopped() {
	! sed 's/.*) //' /proc/"$1"/task/*/stat 2>/dev/null | cut -d' ' -f1 | grep -qv '^[Tt]$'
}

# freeze PID: stops PID (SIGSTOP) and waits until every thread of it has, so
# that what the test then reads of its state (files, logs) holds still: a
# check and the action that depends on it cannot race the process.
# thaw PID: lets it run again.
freeze() {
	kill -STOP "$1" 2>/dev/null || return 1
	wait_for 60 all_threads_stopped "$1"
}
thaw() { kill -CONT "$1" 2>/dev/null; }

# any_running PID...: one of the processes has not exited yet.
any_running() {
	local p
	for p; do process_gone "$p" || return 0; done
	return 1
}

# stopped_when PID SECONDS CMD...: lets PID run in short slices and stops it
# (freeze) after each, until CMD is true of what it left; returns 0 with PID
# stopped, so nothing it does can change the state CMD saw before the test
# acts on it (kills it, or kills a client of it). Returns 1, with PID
# running, if CMD was not true within SECONDS, or as soon as none of the
# processes in the array CLIENTS (when set) is left to make progress.
CLIENTS=()
stopped_when() {
	local pid=$1 end=$(($2 + SECONDS)) i
	shift 2
	for ((i = 0; i < 100000; i++)); do
		freeze "$pid" || return 1
		"$@" && return 0
		thaw "$pid"
		[ $SECONDS -lt $end ] || return 1
		[ ${#CLIENTS[@]} -eq 0 ] || any_running "${CLIENTS[@]}" || return 1
		sleep 0.02
	done
	thaw "$pid"
	return 1
}

# holds_file PID PATTERN: PID has a descriptor open on a path matching the
# shell PATTERN (rpcd still writing an upload's part file, for example).
holds_file() {
	local fd target
	for fd in /proc/"$1"/fd/*; do
		target=$(readlink "$fd" 2>/dev/null) || continue
		# shellcheck disable=SC2053
		[[ $target == $2 ]] && return 0
	done
	return 1
}

# rpcc ARGS...: the real client with the test identity, pinning the test
# servers' host key.
rpcc() { "$RPCC" --key "$ID" --server-key "$HOST_KEY.pub" "$@"; }

# finish: exit status for the script.
finish() { exit "$FAILED"; }

# run_labelled LABEL CMD...: runs a C test program, prints its PASS/FAIL lines
# (and indented detail lines) with LABEL; a non-zero exit without a FAIL line
# is a failure too.
run_labelled() {
	local label=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	sed -n "s/^\(PASS\|FAIL\) /\1 $label: /p; /^  /p" <<<"$out"
	grep -q '^FAIL ' <<<"$out" && FAILED=1
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		fail "$label: $* exited $rc" "$out"
	fi
}

# stop_rpcd_checked NAME WHAT: rpcd NAME survived WHAT, still serves, stops
# with exit 0 on SIGTERM, and left no sanitizer report in its log.
stop_rpcd_checked() {
	local pid_var=PID_$1 log_var=LOG_$1 addr_var=ADDR_$1
	local pid=${!pid_var} log=${!log_var} addr=${!addr_var}
	if kill -0 "$pid" 2>/dev/null; then
		pass "rpcd survived $2"
	else
		fail "rpcd survived $2" "$(tail -20 "$log")"
	fi
	expect_eq "rpcc still served after $2" "after" "$(rpcc --server "$addr" echo after)"
	kill -TERM "$pid"
	wait_for 60 process_gone "$pid"
	if kill -0 "$pid" 2>/dev/null; then
		fail "rpcd stops on SIGTERM" "still running after 60 s"
	else
		wait "$pid"
		expect_eq "rpcd exits 0 on SIGTERM after $2" 0 "$?"
	fi
	local san='AddressSanitizer|runtime error|LeakSanitizer'
	if grep -qE "$san" "$log"; then
		fail "no sanitizer report in rpcd's log" "$(grep -A20 -E "$san" "$log" | head -40)"
	else
		pass "no sanitizer report in rpcd's log"
	fi
}
