#!/usr/bin/env bash
# exec: real rpcd, real rpcc. Exit codes and signals, stdout/stderr apart and
# in order, binary stdin, 1 GB of output in bounded server memory, timeouts and
# dead clients that leave no process behind, policy (--no-exec, --exec-allow,
# --max-exec), echo answered while programs run, the library convenience.
# Every wait is bounded. Programs we must find again carry EXEC_TEST_TAG in
# their environment (children inherit it), so other test runs on the same
# machine neither confuse the checks nor get killed by our cleanup.
. "$(dirname "$0")/../lib.sh"

RUN=$$
BG_PIDS=()
# tagged NAME: pids of the processes started with "tag NAME" (and their children).
tagged() { grep -lszx "EXEC_TEST_TAG=$RUN-$1" /proc/[0-9]*/environ | cut -d/ -f3; }
# tag NAME: the rpcc exec option that marks a program as NAME.
tag() { echo "--env=EXEC_TEST_TAG=$RUN-$1"; }
exec_cleanup() {
	local pid
	signal_own KILL "${BG_PIDS[@]}" # (their PIDs may be another's by now)
	for pid in $(grep -lsz "^EXEC_TEST_TAG=$RUN-" /proc/[0-9]*/environ | cut -d/ -f3); do
		kill -KILL "$pid" 2>/dev/null
	done
	cleanup
}
trap exec_cleanup EXIT

start_rpcd a || exit 1

# x ARGS...: rpcc exec against server a, bounded in time.
x() { timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_a" exec "$@"; }

# wait_until SECONDS CMD...: polls CMD; returns 1 if it is not true within
# SECONDS of wall time (tests/lib.sh wait_for: a safety net, not a speed).
wait_until() { wait_for "$@"; }
count_tagged() { tagged "$1" | wc -l; }
alive() { [ "$(count_tagged "$1")" -gt 0 ]; }
gone() { [ "$(count_tagged "$1")" -eq 0 ]; }
at_least() { [ "$(count_tagged "$2")" -ge "$1" ]; }
ps_tagged() { local p; for p in $(tagged "$1"); do ps -o pid=,args= -p "$p"; done; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
vm_hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

# ---- exit codes and signals ---------------------------------------------------
x -- true
expect_eq "exit 0" 0 $?
x -- false
expect_eq "exit 1" 1 $?
x -- sh -c 'exit 3'
expect_eq "exit 3" 3 $?
x -- sh -c 'exit 255'
expect_eq "exit 255 from the program" 255 $?
x -- sh -c 'kill -TERM $$'
expect_eq "killed by SIGTERM -> 143" 143 $?
x -- sh -c 'kill -KILL $$'
expect_eq "killed by SIGKILL -> 137" 137 $?

# ---- must show: stdout and stderr apart, exit 3 ---------------------------------
x -- sh -c 'echo out; echo err >&2; exit 3' >"$T/out" 2>"$T/err"
rc=$?
expect_eq "must show: exit 3" 3 "$rc"
expect_eq "must show: stdout is only 'out'" out "$(cat "$T/out")"
expect_eq "must show: stderr is only 'err'" err "$(cat "$T/err")"

# Both of rpcc's outputs into one file: the order the program wrote in survives.
# The program writes each line only once the one before reached rpcc's file
# (bounded: 30 s each, then it exits 1), so the order is the program's on a
# busy machine too, and every line came through while the program ran.
x -- sh -c 'arrived() { n=0; until grep -qx "$1" "$2"; do [ $n -ge 600 ] && exit 1; sleep 0.05; n=$((n + 1)); done; }
	for i in 1 2 3 4 5; do echo out$i; arrived out$i "$1"; echo err$i >&2; arrived err$i "$1"; done' \
	sh "$T/both" >"$T/both" 2>&1
expect_eq "stdout/stderr interleaving kept" \
	"0: out1 err1 out2 err2 out3 err3 out4 err4 out5 err5" "$?: $(tr '\n' ' ' <"$T/both" | sed 's/ $//')"

# Output arrives as it is produced, not at exit: the program waits (bounded)
# for a file the reader creates only once it has the first line.
released=$T/first-line-read
first=$(x -- sh -c 'echo first; n=0; until [ -e "$1" ] || [ $n -ge 1200 ]; do sleep 0.05; n=$((n + 1)); done
	[ -e "$1" ] && echo "second, after the first was read"' sh "$released" |
	{ read -r line; touch "$released"; echo "$line|$(cat)"; })
if [ "$first" = "first|second, after the first was read" ]; then
	pass "output streamed before the program ends"
else
	fail "output streamed before the program ends" "got '$first'"
fi

# ---- stdin ------------------------------------------------------------------------
head -c 5000000 /dev/urandom >"$T/random"
x -- cat <"$T/random" >"$T/copy"
rc=$?
if [ "$rc" = 0 ] && cmp -s "$T/random" "$T/copy"; then
	pass "must show: 5 MB binary stdin through cat, byte for byte"
else
	fail "must show: 5 MB binary stdin through cat, byte for byte" "rc $rc" \
		"$(cmp "$T/random" "$T/copy" 2>&1)"
fi
expect_eq "-n sends no stdin" "" "$(echo data | x -n -- cat)"
expect_eq "stdin from a pipe, then EOF" "3" "$(printf 'a\nb\nc\n' | x -- wc -l | tr -d ' ')"
# A program that stops reading early: the rest of stdin is dropped, no hang.
expect_eq "program that ignores most of stdin" "x" \
	"$(head -c 20000000 /dev/zero | tr '\0' x | x -- head -c 1)"

# ---- environment, directory, descriptors ------------------------------------------
expect_eq "--env adds a variable" "bar" "$(x --env FOO=bar -- sh -c 'echo $FOO')"
expect_eq "base PATH" "/usr/local/bin:/usr/bin:/bin" "$(x -- sh -c 'echo $PATH')"
expect_eq "--env overrides the base" "/bin" "$(x --env PATH=/bin -- sh -c 'echo $PATH')"
expect_eq "default cwd is the root" "$T/root-a" "$(x -- pwd)"
mkdir -p "$T/root-a/sub"
expect_eq "--cwd relative to the root" "$T/root-a/sub" "$(x --cwd sub -- pwd)"
# ls lists its own fds: 0 1 2, and 3 for the directory it is reading.
expect_eq "child gets only its three pipes" "0 1 2 3" "$(x -- ls /proc/self/fd | tr '\n' ' ' | sed 's/ $//')"
expect_eq "child gets only its pipes (-n)" "0 1 2 3" "$(x -n -- ls /proc/self/fd | tr '\n' ' ' | sed 's/ $//')"
expect_eq "own process group and session" "yes" \
	"$(x -- sh -c 'set -- $(ps -o pgid=,sid= -p $$); [ $1 = $$ ] && [ $2 = $$ ] && echo yes')"
# Signals 1-31 (POSIX_SPAWN_SETSIGDEF resets them all; glibc keeps 32 and 33 for itself).
ignored=$(x -- sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status)
expect_eq "signals at their defaults in the child (SIGPIPE too)" 0 \
	"$((0x${ignored:-1} & 0x7fffffff))"
blocked=$(x -- sed -n 's/^SigBlk:[[:space:]]*//p' /proc/self/status)
expect_eq "no signal blocked in the child" 0 "$((0x${blocked:-1}))"
expect_eq "yes | head dies quietly of SIGPIPE" "y|" "$(x --shell 'yes | head -1' 2>&1 | tr '\n' '|')"
expect_eq "--shell runs a pipeline" "3" "$(x --shell 'printf "a\nb\nc\n" | wc -l' | tr -d ' ')"

# The program is looked for in the child's PATH (the client's, when it sets one), with
# execvp's rules: a relative entry is relative to the run's directory, a file without
# "#!" runs with /bin/sh, a match that cannot be executed is skipped but reported.
mkdir -p "$T/root-a/bin/adir"
printf '#!/bin/sh\necho found\n' >"$T/root-a/bin/onlyhere"
printf 'echo no shebang "$1"\n' >"$T/root-a/bin/noshebang"
chmod 755 "$T/root-a/bin/onlyhere" "$T/root-a/bin/noshebang"
expect_eq "PATH from --env is searched" found "$(x --env PATH="$T/root-a/bin" -- onlyhere)"
expect_eq "relative PATH entry: from the run's directory" found \
	"$(x --env PATH=/nonexistent:bin -- onlyhere)"
expect_eq "a file without #! runs with /bin/sh" "no shebang arg" \
	"$(x --env PATH=bin -- noshebang arg)"
x --env PATH=bin:/bin -- adir 2>/dev/null
expect_eq "only a directory by that name in PATH: 126" 126 $?

# ---- failures to start ---------------------------------------------------------------
out=$(x -- no-such-program-xyz 2>&1)
rc=$?
expect_eq "missing program exits 127" 127 "$rc"
check "missing program names it" grep -q "no such program: no-such-program-xyz (NOT_FOUND)" <<<"$out"
printf '#!/bin/sh\necho hi\n' >"$T/root-a/notexec"
chmod 644 "$T/root-a/notexec"
out=$(x -- ./notexec 2>&1)
expect_eq "not executable exits 126" 126 $?
check "not executable is PERMISSION_DENIED" grep -q "(PERMISSION_DENIED)" <<<"$out"
out=$(x --cwd no-such-dir -- true 2>&1)
expect_eq "missing --cwd exits 127" 127 $?
out=$(x -- echo $(seq 1 300) 2>&1)
expect_eq "more than 256 arguments exits 125" 125 $?
check "more than 256 arguments is INVALID_ARGUMENT" grep -q "(INVALID_ARGUMENT)" <<<"$out"
"$RPCC" --key "$KEY" --server "$ADDR_a" exec --env NOEQUALS -- true 2>/dev/null
expect_eq "--env without = is a usage error" 2 $?

# ---- timeouts and dead clients leave nothing behind -------------------------------------
start=$(now_ms)
x --timeout 1 "$(tag grandchild)" -- sh -c 'sleep 1001 & sleep 1002; wait'
rc=$?
took=$(($(now_ms) - start))
expect_eq "timeout exits 124" 124 "$rc"
# Not before 1 s; the upper bound is only a safety net (the program sleeps
# for 1001 s, and exit 124 says the timeout ended it): no speed is asserted.
if [ "$took" -ge 900 ] && [ "$took" -lt 60000 ]; then pass "timeout fires after 1 s ($took ms)"; else
	fail "timeout fires after 1 s" "took $took ms"; fi
if wait_until 30 gone grandchild; then pass "timeout kills the grandchild too"; else
	fail "timeout kills the grandchild too" "$(ps_tagged grandchild)"; fi

# Must show: the issue's own command line.
start=$(now_ms)
x --timeout 1 "$(tag mustshow)" -- sh -c 'sleep 100 & sleep 100; wait'
rc=$?
took=$(($(now_ms) - start))
if [ "$rc" = 124 ] && [ "$took" -lt 60000 ] && wait_until 30 gone mustshow; then
	pass "must show: --timeout 1 returns in about a second ($took ms), no sleep left"
else
	fail "must show: --timeout 1 returns in about a second, no sleep left" "rc $rc, $took ms" \
		"$(ps_tagged mustshow)"
fi

# SIGTERM ignored (inherited by sleep): SIGKILL follows after the grace.
start=$(now_ms)
x --timeout 0.3 "$(tag noterm)" -- sh -c 'trap "" TERM; sleep 1003'
rc=$?
took=$(($(now_ms) - start))
if [ "$rc" = 124 ] && [ "$took" -ge 2000 ] && [ "$took" -lt 60000 ] && wait_until 30 gone noterm; then
	pass "SIGTERM ignored: SIGKILL after the grace ($took ms)"
else
	fail "SIGTERM ignored: SIGKILL after the grace" "rc $rc, $took ms"
fi

# Nothing outlives its run: background jobs left in the group are killed.
x "$(tag leftover)" -- sh -c 'sleep 1010 >/dev/null 2>&1 &'
expect_eq "background job: the run still ends at once" 0 $?
if wait_until 30 gone leftover; then pass "background job left in the group is killed"; else
	fail "background job left in the group is killed" "$(ps_tagged leftover)"; fi
x "$(tag leftover2)" -- sh -c 'trap "" TERM; sleep 1011 >/dev/null 2>&1 &'
if wait_until 30 gone leftover2; then pass "background job ignoring SIGTERM gets SIGKILL"; else
	fail "background job ignoring SIGTERM gets SIGKILL" "$(ps_tagged leftover2)"; fi

# A client killed mid-run.
"$RPCC" --key "$KEY" --server "$ADDR_a" exec "$(tag victim)" -- \
	sh -c 'sleep 1004 & sleep 1005; wait' &
victim=$!
BG_PIDS+=("$victim")
if wait_until 30 at_least 3 victim; then
	kill -KILL "$victim"
	wait "$victim" 2>/dev/null
	if wait_until 30 gone victim; then pass "killed client leaves no process behind"; else
		fail "killed client leaves no process behind" "$(ps_tagged victim)"; fi
else
	fail "killed client leaves no process behind" "the program never started"
fi

# The call deadline (rpcc --timeout) cancels the call; the program goes with it.
out=$(timeout 30 "$RPCC" --key "$KEY" --server "$ADDR_a" --timeout 0.5 exec "$(tag deadline)" -- \
	sleep 1006 2>&1)
expect_eq "call deadline exits 125" 125 $?
check "call deadline is DEADLINE_EXCEEDED" grep -q "DEADLINE_EXCEEDED" <<<"$out"
if wait_until 30 gone deadline; then pass "call deadline kills the program"; else
	fail "call deadline kills the program"; fi

# ---- echo answered while 8 long programs run ----------------------------------------------
# They never end by themselves: an echo answered while all 8 still run shows
# rpcd's loop is not held by them. How fast is not asserted (a busy machine
# may stretch it); the time is printed.
for i in 1 2 3 4 5 6 7 8; do
	timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_a" exec "$(tag eight)" -- sh -c \
		"while :; do echo tick; sleep 0.01; done & sleep 1007; kill \$!" >/dev/null &
	BG_PIDS+=($!)
done
if wait_until 60 at_least 24 eight; then # 8 x (sh, its loop, sleep 1007)
	start=$(now_ms)
	got=$(timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_a" echo still here)
	took=$(($(now_ms) - start))
	if [ "$got" = "still here" ] && at_least 24 eight; then
		pass "echo answered in $took ms while 8 programs run"
	else
		fail "echo answered while 8 programs run" "got '$got' in $took ms" \
			"$(count_tagged eight)/24 processes running"
	fi
else
	fail "echo answered at once while 8 programs run" "only $(count_tagged eight)/24 processes started"
fi
signal_own TERM "${BG_PIDS[@]}" # earlier ones ended: their PIDs may be another's
if wait_until 60 gone eight; then pass "8 programs gone with their clients"; else
	fail "8 programs gone with their clients"; fi

# ---- the log line, and no zombies -------------------------------------------------------------
check "a log line per run" grep -q "exec sh: exit 3 after [0-9]* ms" "$LOG_a"
check "log says timeout" grep -q "exec sh: killed by signal 15 (Terminated), timeout after" "$LOG_a"
check "log says client gone" grep -q "exec sh: .*client gone after" "$LOG_a"
zombies=$(ps --ppid "$PID_a" -o stat= | grep -c Z)
expect_eq "no zombie children of rpcd" 0 "$zombies"

# ---- policy -------------------------------------------------------------------------------------
start_rpcd off --no-exec || exit 1
out=$(timeout 30 "$RPCC" --key "$KEY" --server "$ADDR_off" exec -- true 2>&1)
expect_eq "--no-exec exits 126" 126 $?
expect_eq "--no-exec message" "rpcc: exec: exec is disabled on this server (PERMISSION_DENIED)" "$out"

cat >"$T/allow" <<'EOF'
# programs clients may run
/bin/echo
   /usr/bin/printf   
EOF
start_rpcd allow --exec-allow "$T/allow" || exit 1
y() { timeout 30 "$RPCC" --key "$KEY" --server "$ADDR_allow" exec "$@"; }
expect_eq "allow-list: listed path runs" "hi" "$(y -- /bin/echo hi)"
expect_eq "allow-list: trimmed entry runs" "ok" "$(y -- /usr/bin/printf ok)"
out=$(y -- echo hi 2>&1)
expect_eq "allow-list: bare name refused (126)" 126 $?
check "allow-list: refusal says why" grep -q "allow-list.*(PERMISSION_DENIED)" <<<"$out"
y -- /bin/cat </dev/null 2>/dev/null
expect_eq "allow-list: unlisted program refused" 126 $?
y --shell 'echo hi' 2>/dev/null
expect_eq "allow-list: --shell refused unless /bin/sh is listed" 126 $?
# A library uploaded with put must not be loadable into a listed program.
for var in LD_PRELOAD=/x.so LD_LIBRARY_PATH=. PATH=/tmp GCONV_PATH=. GLIBC_TUNABLES=x=1 \
	BASH_ENV=/x.sh 'BASH_FUNC_ls%%=() { :; }' PYTHONPATH=. HOME=/tmp XDG_CONFIG_HOME=.; do
	out=$(y --env "$var" -- /bin/echo hi 2>&1)
	expect_eq "allow-list: --env ${var%%=*} refused (126)" "126 rpcc: exec: ${var%%=*}: this server does not accept that environment variable (PERMISSION_DENIED)" "$? $out"
done
# Without --exec-env no name at all is accepted (exec_policy.sh tests --exec-env).
y --env V=v -- /usr/bin/printf '%s' v 2>/dev/null
expect_eq "allow-list: any other --env entry refused too" 126 $?
echo /bin/sh >>"$T/allow"
start_rpcd allowsh --exec-allow "$T/allow" || exit 1
expect_eq "allow-list: --shell runs when /bin/sh is listed" "sh ok" \
	"$(timeout 30 "$RPCC" --key "$KEY" --server "$ADDR_allowsh" exec --shell 'echo sh ok')"
echo "relative/path" >"$T/badallow"
timeout 10 "$RPCD" --key "$KEY" --root "$T" --listen 127.0.0.1:0 --exec-allow "$T/badallow" \
	2>"$T/badallow.log"
expect_eq "allow-list with a relative path: rpcd refuses to start" 1 $?
check "allow-list error names the line" grep -q "badallow:1: not an absolute path" "$T/badallow.log"

# The concurrency limit: 2 runs, the third refused, a slot frees when one ends.
start_rpcd lim --max-exec 2 || exit 1
for i in 1 2; do
	timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_lim" exec "$(tag limit)" -- sleep 1009 &
	BG_PIDS+=($!)
done
if wait_until 60 at_least 2 limit; then
	out=$(timeout 30 "$RPCC" --key "$KEY" --server "$ADDR_lim" exec -- true 2>&1)
	expect_eq "--max-exec 2: third run exits 125" 125 $?
	check "--max-exec 2: third run is RESOURCE_EXHAUSTED" grep -q "(RESOURCE_EXHAUSTED)" <<<"$out"
	kill -TERM $(tagged limit)
	wait_until 30 gone limit
	timeout 30 "$RPCC" --key "$KEY" --server "$ADDR_lim" exec -- true
	expect_eq "--max-exec 2: a slot frees when a run ends" 0 $?
else
	fail "--max-exec 2" "the two long runs did not start"
fi

# ---- 1 GB of output with a small server ----------------------------------------------------
# Under AddressSanitizer (make check-asan) freed memory waits in a 256 MB
# quarantine; a small one keeps the bound about our memory, not ASan's. Its
# shadow memory and allocator still add tens of MB, so the bounds are looser.
HWM_300M_KB=$((128 * 1024)) HWM_1G_KB=$((64 * 1024))
if [ -n "${PBRPC_SANITIZER:-}" ]; then
	HWM_300M_KB=$((512 * 1024)) HWM_1G_KB=$((512 * 1024))
fi
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4 start_rpcd big || exit 1
z() { timeout 120 "$RPCC" --key "$KEY" --server "$ADDR_big" exec "$@"; }
# A slow reader first: the program must wait for it, not rpcd's memory.
got=$(z -- head -c 200000000 /dev/zero | { sleep 2; wc -c; })
expect_eq "slow reader gets all 200 MB" 200000000 "$got"
got=$(z -- head -c 300000000 /dev/zero | wc -c)
expect_eq "must show: 300000000 bytes arrive" 300000000 "$got"
hwm=$(vm_hwm_kb "$PID_big")
if [ -n "$hwm" ] && [ "$hwm" -lt "$HWM_300M_KB" ]; then
	pass "must show: rpcd peak RSS under $((HWM_300M_KB / 1024)) MB (${hwm} kB)"
else
	fail "must show: rpcd peak RSS under $((HWM_300M_KB / 1024)) MB" "VmHWM ${hwm} kB"
fi
start=$(now_ms)
got=$(z -- head -c 1000000000 /dev/zero | wc -c)
took=$(($(now_ms) - start))
expect_eq "1 GB of output arrives whole ($took ms)" 1000000000 "$got"
hwm=$(vm_hwm_kb "$PID_big")
if [ -n "$hwm" ] && [ "$hwm" -lt "$HWM_1G_KB" ]; then
	pass "1 GB: rpcd peak RSS under $((HWM_1G_KB / 1024)) MB (${hwm} kB)"
else
	fail "1 GB: rpcd peak RSS under $((HWM_1G_KB / 1024)) MB" "VmHWM ${hwm} kB"
fi

# ---- a server with the smallest record limit: chunks are split to fit ---------------------
start_rpcd small --max-record 1024 || exit 1
head -c 200000 /dev/urandom >"$T/r200k"
timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_small" exec -- cat <"$T/r200k" >"$T/r200k.copy"
if [ $? = 0 ] && cmp -s "$T/r200k" "$T/r200k.copy"; then pass "--max-record 1024: stdin and output split"; else
	fail "--max-record 1024: stdin and output split"; fi

# ---- the library convenience (pbrpc/exec.h) ---------------------------------------------------
LIBPROG=$T/exec_lib
# A sanitizer build needs its runtime linked in too: the flags the suite was
# given (tests/asan.sh sets PBRPC_SANFLAGS), else ASan's if the library was
# built with it (make test-asan).
read -r -a SAN_FLAGS <<<"${PBRPC_SANFLAGS:-}"
if [ ${#SAN_FLAGS[@]} = 0 ] && nm "$B/lib/libpbrpc.a" 2>/dev/null | grep -q __asan_; then
	SAN_FLAGS=(-fsanitize=address,undefined)
fi
if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "${SAN_FLAGS[@]}" -I"$ROOT/include" \
	-I"$B/gen" $(pkg-config --cflags libprotobuf-c) -o "$LIBPROG" "$ROOT/tests/exec/exec_lib.c" \
	"$B/lib/libpbrpc.a" $(pkg-config --libs libprotobuf-c libsodium libuv) -lpthread \
	2>"$T/cc.log"; then
	pass "lib: a C program using pbrpc/exec.h builds"
	out=$(timeout 60 "$LIBPROG" "$ADDR_a" "$KEY" 2>&1)
	rc=$?
	echo "$out" | grep -E '^(PASS|FAIL) '
	grep -q '^FAIL ' <<<"$out" && FAILED=1
	[ "$rc" != 0 ] && ! grep -q '^FAIL ' <<<"$out" && fail "lib: exec_lib exited $rc" "$out"
else
	fail "lib: a C program using pbrpc/exec.h builds" "$(cat "$T/cc.log")"
fi

# Many small stdin messages to a slow reader: rpcd pauses and resumes the
# connection again and again with records held back (a resume once read more
# before handling them and closed the connection, "out of memory").
timeout 120 "$B/tests/fault_small_stdin" "$ADDR_a" "$KEY" 64 | grep -E '^(PASS|FAIL) '
[ "${PIPESTATUS[0]}" = 0 ] || FAILED=1

finish
