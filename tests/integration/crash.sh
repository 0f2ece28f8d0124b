#!/usr/bin/env bash
# Crashes, with real rpcd and rpcc processes:
#   a) kill -9 of rpcd during 16 puts: every target is whole (old or new),
#      never partial; the kept part files resume with put --continue and
#      leave nothing behind; --partial-max-age 0 removes them at startup.
#      rpcd runs in short slices, stopped (SIGSTOP) in between, and is killed
#      while stopped at a moment when some uploads are done and others are
#      being written: no race between what the test saw and the kill, on an
#      idle machine (where 16 puts end within a second) or a busy one.
#   b) kill -9 of rpcc during an exec whose program has a child: nothing of
#      the run is left, and rpcd keeps serving.
#   c) a full disk during a put (root only: a small tmpfs as the root):
#      RESOURCE_EXHAUSTED, the old file intact, no temporary file.
#   d) descriptors run out (ulimit -n): rpcd neither dies nor spins, says so
#      in its log, and serves again once they are free.
# Every wait is for a condition, bounded in time as a safety net only;
# programs we must find again carry a marker unique to this run.
. "$(dirname "$0")/../lib.sh"

RUN=$$
MNT=
BG_PIDS=()
crash_cleanup() {
	local pid
	signal_own KILL "${BG_PIDS[@]}" # (their PIDs may be another's by now)
	for pid in $(pgrep -f "sleep 30\\.$RUN[0-9]( |\$)"); do
		kill -KILL "$pid" 2>/dev/null
	done
	cleanup_mount
	cleanup
}
cleanup_mount() {
	if [ -n "$MNT" ]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
		MNT=
	fi
}
trap crash_cleanup EXIT

# wait_until SECONDS CMD...: polls CMD; returns 1 if it is not true within
# SECONDS of wall time (tests/lib.sh wait_for).
wait_until() { wait_for "$@"; }
sum() { sha256sum <"$1" | cut -c1-64; }
temp_files() { find "$1" -name '.pbrpc-put.*' 2>/dev/null; }
temp_count() { temp_files "$1" | wc -l; }
no_temp_files() { [ "$(temp_count "$1")" -eq 0 ]; }
# at_least_temp N DIR: N or more non-empty temporary files in DIR.
at_least_temp() { [ "$(find "$2" -name '.pbrpc-put.*' -size +0 2>/dev/null | wc -l)" -ge "$1" ]; }
# mid_flight: at least one upload renamed into place and another one part
# written. (How many run at once is up to the scheduler: on a busy machine
# the clients may well take turns.)
mid_flight() {
	local i done=0 sizes
	mapfile -t sizes < <(stat -c %s "${TARGETS[@]}")
	for ((i = 1; i <= N; i++)); do
		[ "${sizes[i - 1]}" = "${NEW_SIZE[i]}" ] && done=$((done + 1))
	done
	[ $done -ge 1 ] && at_least_temp 1 "$R"
}
serves() { [ "$(rpcc --server "$1" echo still-here 2>/dev/null)" = still-here ]; }

W=$T/work
mkdir -p "$W"
N=16
MIB=$((1 << 20))

# ---- a) kill -9 of rpcd during 16 puts -----------------------------------------
start_rpcd a || exit 1
R=$T/root-a
TARGETS=()
for i in $(seq 1 $N); do
	head -c $((MIB / 2 + i)) /dev/urandom >"$R/f$i"
	head -c $((i * MIB + i)) /dev/urandom >"$W/new$i" # 1..16 MiB: some finish first
	OLD[i]=$(sum "$R/f$i")
	NEW[i]=$(sum "$W/new$i")
	NEW_SIZE[i]=$((i * MIB + i))
	TARGETS+=("$R/f$i")
done

# put_all TAG ADDR: starts the 16 puts in the background; their pids in PUTS.
put_all() {
	local i
	PUTS=()
	for i in $(seq 1 $N); do
		timeout 120 "$RPCC" --key "$KEY" --server "$2" put -q "$W/new$i" "f$i" \
			2>"$W/put-$1-$i.err" &
		PUTS+=($!)
	done
	BG_PIDS+=("${PUTS[@]}")
	CLIENTS=("${PUTS[@]}")
}
# whole_or_none: every target is its old or its new version, never a mix.
check_whole() {
	local i bad=() got old=0 new=0
	for i in $(seq 1 $N); do
		got=$(sum "$R/f$i")
		if [ "$got" = "${OLD[i]}" ]; then
			old=$((old + 1))
		elif [ "$got" = "${NEW[i]}" ]; then
			new=$((new + 1))
		else
			bad+=("f$i: $(stat -c %s "$R/f$i") bytes, neither version")
		fi
	done
	if [ ${#bad[@]} -eq 0 ]; then
		pass "$1: all $N targets whole ($old old, $new new)"
	else
		fail "$1: all $N targets whole" "${bad[@]}"
	fi
}

# The puts start against a stopped rpcd, which then runs in slices until
# one upload is done and others are not; it is killed while still stopped.
freeze "$PID_a"
put_all a "$ADDR_a"
if stopped_when "$PID_a" 300 mid_flight; then
	kill -9 "$PID_a"
	wait "$PID_a" 2>/dev/null
	for p in "${PUTS[@]}"; do wait "$p" 2>/dev/null; done
	check_whole "rpcd killed mid-put"
	kept=$(temp_count "$R")
	kept_data=$(find "$R" -name '.pbrpc-put.*' -size +0 | wc -l)
	if [ "$kept" -gt 0 ]; then
		pass "rpcd killed mid-put: $kept interrupted uploads kept for resuming"
	else
		fail "rpcd killed mid-put: interrupted uploads kept for resuming" "none kept"
	fi
	# The same root again, default --partial-max-age: the part files are
	# kept, and --continue finishes each upload from where it stopped.
	start_rpcd a || exit 1
	ok=1
	for i in $(seq 1 $N); do
		timeout 120 "$RPCC" --key "$KEY" --server "$ADDR_a" put -q --continue \
			"$W/new$i" "f$i" || ok=0
	done
	expect_eq "put --continue completed all $N uploads" 1 "$ok"
	ok=1
	for i in $(seq 1 $N); do [ "$(sum "$R/f$i")" = "${NEW[i]}" ] || ok=0; done
	expect_eq "every target is now its new version" 1 "$ok"
	# The startup sweep with the default age kept every part file that had
	# data: each such upload resumed past 0 (one the sweep had removed would
	# start again from 0, whenever the sweep ran).
	expect_eq "restart keeps the part files (default age): every one with data resumed past 0" \
		"$kept_data" "$(grep -Ec 'put f[0-9]+: [0-9]+ bytes from [1-9]' "$LOG_a")"
	expect_eq "no temporary file after the resumes" "" "$(temp_files "$R")"
else
	thaw "$PID_a"
	fail "rpcd killed mid-put: never one upload done and others under way" \
		"$(cat "$W"/put-a-*.err | sort | uniq -c)" "$(ls -l "$R")"
fi

# Once more, and this time the restart has --partial-max-age 0.
for i in $(seq 1 $N); do
	cp "$W/new$i" "$R/f$i"
	OLD[i]=${NEW[i]}
	head -c $((i * MIB + 2 * i)) /dev/urandom >"$W/new$i"
	NEW[i]=$(sum "$W/new$i")
	NEW_SIZE[i]=$((i * MIB + 2 * i))
done
freeze "$PID_a"
put_all b "$ADDR_a"
if stopped_when "$PID_a" 300 mid_flight; then
	kill -9 "$PID_a"
	wait "$PID_a" 2>/dev/null
	for p in "${PUTS[@]}"; do wait "$p" 2>/dev/null; done
	check_whole "rpcd killed mid-put (2)"
	kept=$(temp_count "$R")
	start_rpcd a --partial-max-age 0 || exit 1
	if wait_until 10 no_temp_files "$R"; then
		pass "restart with --partial-max-age 0 removed all $kept part files"
	else
		fail "restart with --partial-max-age 0 removed the part files" "$(temp_files "$R")"
	fi
	check_whole "after the restart with --partial-max-age 0"
	# With 0, a client that vanishes mid-put leaves nothing either. It is
	# killed while rpcd, stopped, holds less than half of the upload: what
	# the client had written into the Unix socket (a few hundred KiB) cannot
	# complete it, whenever rpcd reads it.
	before=$(sum "$R/f$N")
	head -c $((32 * MIB)) /dev/urandom >"$W/dropped"
	freeze "$PID_a"
	"$RPCC" --key "$KEY" --server "$SOCK_a" put -q "$W/dropped" "f$N" &
	putter=$!
	BG_PIDS+=("$putter")
	CLIENTS=("$putter")
	# under_half: one part file, with data, of at most 16 MiB.
	under_half() {
		[ "$(find "$R" -name '.pbrpc-put.*' -size +0 -size -$((16 * 1024 + 1))k | wc -l)" = 1 ]
	}
	if stopped_when "$PID_a" 120 under_half; then
		kill -9 "$putter"
		wait "$putter" 2>/dev/null
		thaw "$PID_a"
		if wait_until 30 no_temp_files "$R"; then
			pass "--partial-max-age 0: a dropped upload keeps no part file"
		else
			fail "--partial-max-age 0: a dropped upload keeps no part file" "$(temp_files "$R")"
		fi
	else
		signal_own KILL "$putter"
		wait "$putter" 2>/dev/null
		fail "--partial-max-age 0: never caught with part of the upload written" \
			"$(ls -la "$R")"
	fi
	expect_eq "--partial-max-age 0: the old file intact" "$before" "$(sum "$R/f$N")"
	check "rpcd serves after the restarts" serves "$ADDR_a"
else
	thaw "$PID_a"
	fail "rpcd killed mid-put (2): never one upload done and others under way" \
		"$(cat "$W"/put-b-*.err | sort | uniq -c)" "$(ls -l "$R")"
fi
kill -TERM "$PID_a" 2>/dev/null

# A small age is swept when a put begins in the directory (no restart).
start_rpcd age --partial-max-age 1 || exit 1
mkdir -p "$T/root-age/d"
stale=$T/root-age/d/.pbrpc-put.0123456789abcdef0123456789abcdef.part
echo stale >"$stale"
# Stale means its ctime (which no client can set) is over 1 s old: whole
# seconds apart by 2 is past that for sure.
ctime_older_than_1s() { [ $(($(date +%s) - $(stat -c %Z "$1"))) -ge 2 ]; }
wait_until 30 ctime_older_than_1s "$stale"
echo x >"$W/small"
rpcc --server "$ADDR_age" put -q "$W/small" d/small
check "--partial-max-age 1: a put sweeps a stale part file beside it" test ! -e "$stale"
kill -TERM "$PID_age" 2>/dev/null

# ---- b) kill -9 of rpcc during an exec whose program has a child ---------------------
start_rpcd x || exit 1
# marked N: the processes whose command line carries marker N of this run.
marked() { pgrep -f "sleep 30\\.$RUN$1( |\$)"; }
marked_count() { marked "$1" | wc -l; }
none_marked() { [ "$(marked_count "$1")" -eq 0 ]; }
at_least_marked() { [ "$(marked_count "$2")" -ge "$1" ]; }
# kill_client_mid_exec NAME MARKER SHELL-PREFIX: the program is sh with a
# background sleep and a foreground one, both carrying the marker.
kill_client_mid_exec() {
	local name=$1 m=$2 prefix=$3 client
	"$RPCC" --key "$KEY" --server "$ADDR_x" exec -- \
		sh -c "$prefix sleep 30.$RUN$m & sleep 30.$RUN$m; echo done" >/dev/null 2>&1 &
	client=$!
	BG_PIDS+=("$client")
	# rpcc, sh and its two sleeps carry the marker.
	if ! wait_until 10 at_least_marked 4 "$m"; then
		signal_own KILL "$client"
		fail "$name: the program never started" "$(marked "$m")"
		return
	fi
	kill -9 "$client"
	wait "$client" 2>/dev/null
	if wait_until 10 none_marked "$m"; then
		pass "$name: no process of the run is left"
	else
		fail "$name: no process of the run is left" "$(ps -o pid,args -p "$(marked "$m" | tr '\n' ,)0")"
	fi
}
kill_client_mid_exec "rpcc killed mid-exec" 1 ""
kill_client_mid_exec "rpcc killed mid-exec, program ignores SIGTERM" 2 "trap '' TERM;"
check "rpcd serves after the killed exec clients" serves "$ADDR_x"
expect_eq "rpcd exec still works" "ok 3" "$(rpcc --server "$ADDR_x" exec -- sh -c 'echo ok; exit 3' | tr '\n' ' '; echo "${PIPESTATUS[0]}")"

# ---- c) a full disk during a put -------------------------------------------------------
DISK=$T/root-disk
mkdir -p "$DISK"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP disk full: needs root to mount a tmpfs (skipped, not passed)"
elif ! mount -t tmpfs -o size=8m,mode=0755 pbrpc-crash-test "$DISK" 2>"$W/mount.err"; then
	echo "SKIP disk full: cannot mount a tmpfs: $(cat "$W/mount.err") (skipped, not passed)"
else
	MNT=$DISK
	start_rpcd disk || exit 1
	head -c 100000 /dev/urandom >"$W/disk-old"
	rpcc --server "$ADDR_disk" put -q "$W/disk-old" victim
	old_sum=$(sum "$W/disk-old")
	expect_eq "disk full: the old version is stored" "$old_sum" "$(sum "$DISK/victim")"
	head -c $((12 * MIB)) /dev/urandom >"$W/disk-new"
	out=$(timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_disk" put -q "$W/disk-new" victim 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then
		pass "disk full: rpcc exits non-zero ($rc)"
	else
		fail "disk full: rpcc exits non-zero" "rc $rc: $out"
	fi
	check "disk full: RESOURCE_EXHAUSTED reported" grep -q '(RESOURCE_EXHAUSTED)' <<<"$out"
	expect_eq "disk full: the old file intact" "$old_sum" "$(sum "$DISK/victim")"
	if wait_until 5 no_temp_files "$DISK"; then
		pass "disk full: no temporary file left"
	else
		fail "disk full: no temporary file left" "$(ls -la "$DISK")"
	fi
	check "disk full: rpcd serves" serves "$ADDR_disk"
	check "disk full: a put that fits still works" rpcc --server "$ADDR_disk" put -q "$W/disk-old" again
	kill -TERM "$PID_disk" 2>/dev/null
	wait "$PID_disk" 2>/dev/null
	cleanup_mount
fi

# ---- d) descriptors run out ----------------------------------------------------------
FD_LIMIT=40
LOWFD=$T/rpcd-lowfd
printf '#!/bin/sh\nulimit -n %d || exit 1\nexec "%s" "$@"\n' $FD_LIMIT "$RPCD" >"$LOWFD"
chmod +x "$LOWFD"
REAL_RPCD=$RPCD
RPCD=$LOWFD
# Raw sockets must keep their descriptors: no handshake timeout for a minute.
start_rpcd fd --handshake-timeout 60000 || exit 1
RPCD=$REAL_RPCD
check "rpcd runs with $FD_LIMIT descriptors" grep -Eq "^Max open files +$FD_LIMIT " "/proc/$PID_fd/limits"
port=${ADDR_fd##*:}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID_fd/stat"; }
fd_count() { find "/proc/$PID_fd/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# Honest clients first, each in the middle of a call, then raw sockets.
HONEST=()
for i in 1 2 3 4; do
	timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_fd" exec -- sleep "30.${RUN}5" >/dev/null 2>&1 &
	HONEST+=($!)
done
BG_PIDS+=("${HONEST[@]}")
wait_until 10 at_least_marked 8 5 # each rpcc and its sleep
RAW=()
for i in $(seq 1 $((FD_LIMIT + 20))); do
	exec {sock}<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null && RAW+=("$sock")
done
# A run still setting up (its pidfd, its pipes) when the table filled gives
# its descriptors back as it fails: top up until rpcd holds every one, and
# stays so for a moment (bounded: 200 sockets, 20 rounds).
for _ in $(seq 1 20); do
	while [ "$(fd_count)" -lt "$FD_LIMIT" ] && [ ${#RAW[@]} -lt 200 ]; do
		exec {sock}<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null && RAW+=("$sock")
		sleep 0.05
	done
	sleep 0.3
	[ "$(fd_count)" -ge "$FD_LIMIT" ] && break
done
t0=$(cpu_ticks)
ms0=$(($(date +%s%N) / 1000000))
refused=0
for i in $(seq 1 20); do
	timeout 20 "$RPCC" --key "$KEY" --server "$ADDR_fd" echo x >/dev/null 2>&1 || refused=$((refused + 1))
done
sleep 1
ticks=$(($(cpu_ticks) - t0))
ms=$(($(date +%s%N) / 1000000 - ms0))
echo "# descriptors in use: $(fd_count) of $FD_LIMIT; $refused of 20 echo clients refused"
check "descriptors ran out: rpcd is alive" kill -0 "$PID_fd"
# How many get in is not checked: a slot that frees for a moment (a run still
# setting up that fails and gives its descriptors back) lets a client in, and
# rightly. That the table did run out is what the log check below shows.
# A spinning loop burns all of the wall time; allow a tenth (100 ticks/s).
if [ $((ticks * 10 * 10)) -le "$ms" ]; then
	pass "descriptors ran out: rpcd does not spin ($ticks ticks of CPU in $ms ms)"
else
	fail "descriptors ran out: rpcd does not spin" "$ticks ticks of CPU in $ms ms"
fi
check "descriptors ran out: rpcd says so in its log" \
	grep -Eq 'out of file descriptors|[Tt]oo many open files' "$LOG_fd"
for sock in "${RAW[@]}"; do exec {sock}>&-; done
if wait_until 20 serves "$ADDR_fd"; then
	pass "descriptors free again: rpcd serves new clients"
else
	fail "descriptors free again: rpcd serves new clients" "$(tail -5 "$LOG_fd")"
fi
ok=1
signal_own TERM "${HONEST[@]}"
for p in "${HONEST[@]}"; do wait "$p" 2>/dev/null; done
wait_until 10 none_marked 5 || ok=0
expect_eq "descriptors free again: the honest clients' programs are gone" 1 "$ok"
echo x >"$W/fd-small"
check "descriptors free again: put works" rpcc --server "$ADDR_fd" put -q "$W/fd-small" small
expect_eq "descriptors free again: exec works" ok "$(rpcc --server "$ADDR_fd" exec -- echo ok)"

# ---- e) descriptors run out and libuv has lost its spare one -----------------------------
# (another thread took the slot while libuv reopened it): without rpcd's own
# spare, libuv 1.44's accept loop spins for ever. In process, on its own loop.
run_labelled "lost spare" timeout 30 "$B/tests/fault_emfile"

finish
