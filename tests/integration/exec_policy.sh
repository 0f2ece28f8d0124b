#!/usr/bin/env bash
# exec_policy: the attacks of issue 12 against a restricted exec service, each
# reproduced first. The environment is an allow-list (--exec-env), --cwd stays
# beneath the root, allow-listed programs that can be replaced are refused,
# and nothing a run starts outlives it (a cgroup per run, or rpcd as a child
# subreaper), with a per-run process cap against fork bombs.
. "$(dirname "$0")/../lib.sh"

x_on() { # x_on NAME ARGS...: rpcc exec against server NAME, bounded in time
	local addr_var=ADDR_$1
	shift
	timeout 60 "$RPCC" --key "$KEY" --server "${!addr_var}" exec "$@"
}
put_on() { # put_on NAME LOCAL REMOTE
	local addr_var=ADDR_$1
	timeout 60 "$RPCC" --key "$KEY" --server "${!addr_var}" put "$2" "$3"
}
# Programs we must find again carry EXEC_TEST_TAG in their environment
# (children inherit it, setsid or not), as in exec.sh.
RUN=$$
BG_PIDS=()
tagged() { grep -lszx "EXEC_TEST_TAG=$RUN-$1" /proc/[0-9]*/environ | cut -d/ -f3; }
tag() { echo "--env=EXEC_TEST_TAG=$RUN-$1"; }
count_tagged() { tagged "$1" | wc -l; }
gone() { [ "$(count_tagged "$1")" -eq 0 ]; }
at_least() { [ "$(count_tagged "$2")" -ge "$1" ]; }
ps_tagged() { local p; for p in $(tagged "$1"); do ps -o pid=,stat=,args= -p "$p"; done; }
wait_until() { # wait_until SECONDS CMD...: polls CMD every 0.05 s
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
policy_cleanup() {
	local pid
	for pid in "${BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
	for pid in $(grep -lsz "^EXEC_TEST_TAG=$RUN-" /proc/[0-9]*/environ | cut -d/ -f3); do
		kill -KILL "$pid" 2>/dev/null
	done
	cleanup
}
trap policy_cleanup EXIT
skip() { echo "SKIP $1: $2 (skipped, not passed)"; }

# not_revealed NAME TEXT: TEXT does not hold the absolute path of $T.
not_revealed() {
	if grep -qF "$T" <<<"$2"; then fail "$1" "reveals $T: $2"; else pass "$1"; fi
}

# ---- 1. the environment is an allow-list ---------------------------------------
# The review's attack: the operator lists a wrapper that runs tar; a client
# uploads a script and has tar run it through TAR_OPTIONS.
# The wrapper must be one rpcd's user cannot replace (see part 3 below): as
# root, one of ours in our own directory; as anyone else, a file we create
# is ours and would be left out, so tar itself is listed instead.
mkdir -p "$T/bin"
BACKUP=$T/bin/backup
if [ "$(id -u)" = 0 ]; then
	printf '#!/bin/sh\nexec /usr/bin/tar -cf /dev/null .\n' >"$BACKUP"
	chmod 755 "$BACKUP"
	BACKUP_ARGS=("$BACKUP")
else
	BACKUP=/usr/bin/tar
	BACKUP_ARGS=("$BACKUP" -cf /dev/null .)
fi
printf '%s\n' "$BACKUP" /usr/bin/printenv /bin/pwd >"$T/allow"
start_rpcd tar --exec-allow "$T/allow" || exit 1
MARK=$T/evil-ran
printf '#!/bin/sh\ntouch %s\n' "$MARK" >"$T/evil.sh"
chmod 755 "$T/evil.sh"
put_on tar "$T/evil.sh" evil.sh >/dev/null
check "attack: evil.sh uploaded with put" test -x "$T/root-tar/evil.sh"
out=$(x_on tar --env "TAR_OPTIONS=--checkpoint=1 --checkpoint-action=exec=./evil.sh" \
	-- "${BACKUP_ARGS[@]}" 2>&1)
rc=$?
expect_eq "attack: TAR_OPTIONS refused (126, PERMISSION_DENIED naming it)" \
	"126 rpcc: exec: TAR_OPTIONS: this server does not accept that environment variable (PERMISSION_DENIED)" \
	"$rc $out"
if [ -e "$MARK" ]; then fail "attack: evil.sh did not run" "$MARK exists"; else
	pass "attack: evil.sh did not run (no marker file)"; fi
x_on tar -- "${BACKUP_ARGS[@]}"
expect_eq "attack: the wrapper itself still runs" 0 $?
# Any name not accepted, whether the old deny-list knew it or not.
for var in LD_PRELOAD=/x.so PATH=. GIT_CONFIG_GLOBAL=./c OPENSSL_CONF=./c JAVA_TOOL_OPTIONS=-x \
	LUA_INIT=@x PHPRC=. MAKEFLAGS=x LESSOPEN='|./x %s' 'BASH_FUNC_ls%%=() { :; }' LANG=C; do
	out=$(x_on tar --env "$var" -- /usr/bin/printenv 2>&1)
	expect_eq "allow-list without --exec-env: ${var%%=*} refused" \
		"126 rpcc: exec: ${var%%=*}: this server does not accept that environment variable (PERMISSION_DENIED)" \
		"$? $out"
done

start_rpcd lc --exec-allow "$T/allow" --exec-env 'LC_*' --exec-env TZ,EXEC_TEST_X || exit 1
expect_eq "--exec-env LC_*: LC_ALL passes" "C.UTF-8" "$(x_on lc --env LC_ALL=C.UTF-8 -- /usr/bin/printenv LC_ALL)"
expect_eq "--exec-env repeated: TZ passes" "UTC" "$(x_on lc --env TZ=UTC -- /usr/bin/printenv TZ)"
out=$(x_on lc --env LC_ALL=C --env LANG=C -- /usr/bin/printenv LC_ALL 2>&1)
expect_eq "--exec-env LC_*: LANG refused" \
	"126 rpcc: exec: LANG: this server does not accept that environment variable (PERMISSION_DENIED)" \
	"$? $out"
out=$(x_on lc --env "TAR_OPTIONS=--checkpoint=1 --checkpoint-action=exec=./evil.sh" \
	-- "${BACKUP_ARGS[@]}" 2>&1)
expect_eq "--exec-env LC_*: TAR_OPTIONS still refused" 126 $?
[ -e "$MARK" ] && fail "--exec-env LC_*: evil.sh did not run" "$MARK exists"

# Unrestricted exec: the client may run any program (sh -c 'export X=...'), so
# every name is accepted -- unless --exec-env is given, which always applies.
start_rpcd open || exit 1
expect_eq "no --exec-allow, no --exec-env: any name passes" "v" \
	"$(x_on open --env TAR_OPTIONS=v -- printenv TAR_OPTIONS)"
start_rpcd openenv --exec-env TZ || exit 1
expect_eq "no --exec-allow, --exec-env TZ: TZ passes" "UTC" "$(x_on openenv --env TZ=UTC -- printenv TZ)"
out=$(x_on openenv --env FOO=1 -- true 2>&1)
expect_eq "no --exec-allow, --exec-env TZ: FOO refused" \
	"126 rpcc: exec: FOO: this server does not accept that environment variable (PERMISSION_DENIED)" \
	"$? $out"
for bad in 'TAR-OPTIONS' '' 'LC_[A-Z]' 'A,,B' '9X'; do
	timeout 10 "$RPCD" --key "$KEY" --root "$T" --listen 127.0.0.1:0 --exec-env "$bad" \
		>/dev/null 2>"$T/badenv.log"
	rc=$?
	if [ "$rc" = 1 ] && grep -q "^rpcd: --exec-env '.*': " "$T/badenv.log"; then
		pass "--exec-env '$bad': rpcd refuses to start, naming it"
	else
		fail "--exec-env '$bad': rpcd refuses to start, naming it" "rc $rc" "$(cat "$T/badenv.log")"
	fi
done

# ---- 3. --cwd stays beneath the root; no message reveals where the root is -----
mkdir -p "$T/root-tar/sub" "$T/outside"
ln -s "$T/outside" "$T/root-tar/link"
ln -s ../.. "$T/root-tar/up"
expect_eq "restricted: --cwd sub runs there" "$T/root-tar/sub" "$(x_on tar --cwd sub -- /bin/pwd)"
expect_eq "restricted: --cwd sub/../sub stays beneath" "$T/root-tar/sub" \
	"$(x_on tar --cwd sub/../sub -- /bin/pwd)"
for cwd in .. ../root-tar /tmp "$T/root-tar" "$T/outside" link up link/nosuch sub/../..; do
	out=$(x_on tar --cwd "$cwd" -- /bin/pwd 2>&1)
	rc=$?
	if [ "$rc" = 126 ] && grep -q "cwd must be a directory beneath the server's root.*(PERMISSION_DENIED)" <<<"$out"; then
		pass "restricted: --cwd '$cwd' refused (PERMISSION_DENIED)"
	else
		fail "restricted: --cwd '$cwd' refused (PERMISSION_DENIED)" "rc $rc: $out"
	fi
	not_revealed "restricted: --cwd '$cwd': the root's path not revealed" "$out"
done
out=$(x_on tar --cwd nosuch -- /bin/pwd 2>&1)
expect_eq "restricted: missing --cwd: NOT_FOUND (127)" \
	"127 rpcc: exec: cwd nosuch: no such directory (NOT_FOUND)" "$? $out"
out=$(x_on tar --cwd evil.sh -- /bin/pwd 2>&1)
expect_eq "restricted: --cwd a file: FAILED_PRECONDITION (125)" \
	"125 rpcc: exec: cwd evil.sh: not a directory (FAILED_PRECONDITION)" "$? $out"
out=$(x_on open --cwd nosuch -- pwd 2>&1)
expect_eq "unrestricted: missing --cwd names only what was sent" \
	"127 rpcc: exec: cwd nosuch: no such directory (NOT_FOUND)" "$? $out"
expect_eq "unrestricted: --cwd may leave the root" "$T" "$(x_on open --cwd .. -- pwd)"

# ---- 3. allow-listed programs that could be replaced are left out ---------------
# What a put could replace (beneath the root), what sits in a directory anyone
# may write, what may be created there, what a user other than us owns.
mkdir -p "$T/root-rep" "$T/wdir" "$T/sticky"
chmod 777 "$T/wdir"
chmod 1777 "$T/sticky"
cp /bin/true "$T/root-rep/tool"
cp /bin/true "$T/wdir/tool"
cp /bin/true "$T/sticky/tool"
cp /bin/true "$T/bin/tool"
printf '%s\n' "$T/root-rep/tool" "$T/wdir/tool" "$T/wdir/missing" /bin/true >"$T/allow-rep"
if [ "$(id -u)" = 0 ]; then
	chown nobody "$T/bin/tool" # replaceable by nobody
	echo "$T/sticky/tool" >>"$T/allow-rep"
fi
echo "$T/bin/tool" >>"$T/allow-rep"
start_rpcd rep --exec-allow "$T/allow-rep" || exit 1
for prog in "$T/root-rep/tool" "$T/wdir/tool" "$T/wdir/missing" "$T/bin/tool"; do
	check "replaceable $prog: a warning names it" grep -q "warn.*allow-rep:[0-9]*: $prog left out: " "$LOG_rep"
	out=$(x_on rep -- "$prog" 2>&1)
	expect_eq "replaceable $prog: refused (126)" \
		"126 rpcc: exec: not in this server's exec allow-list: $prog (PERMISSION_DENIED)" "$? $out"
done
check "beneath the root: the warning says a put could replace it" \
	grep -q "root-rep/tool left out: it lies beneath the file root" "$LOG_rep"
check "in a world-writable directory: the warning names the directory" \
	grep -q "wdir/tool left out: the directory $T/wdir is writable by" "$LOG_rep"
x_on rep -- /bin/true
expect_eq "a system program on the same list still runs" 0 $?
if [ "$(id -u)" = 0 ]; then
	x_on rep -- "$T/sticky/tool"
	expect_eq "root's file in a sticky directory still runs" 0 $?
	check "not replaceable: no warning" sh -c "! grep -q 'sticky/tool left out' '$LOG_rep'"
fi

# ---- 2. nothing a run starts outlives it: a cgroup per run, or a subreaper ------
# contained PATH NAME: the tests every run must pass on either path. PATH says
# which one the server NAME took (from its log), in each test's name.
contained() {
	local path=$1 name=$2 out rc
	x_on "$name" --timeout 1 "$(tag "$path-setsid")" -- sh -c 'setsid sleep 1037 & sleep 1030'
	expect_eq "$path: the issue's setsid + --timeout 1: exit 124" 124 $?
	if wait_until 5 gone "$path-setsid"; then pass "$path: the setsid child is killed with its run"; else
		fail "$path: the setsid child is killed with its run" "$(ps_tagged "$path-setsid")"; fi
	# A double fork that detaches, and the run ends at once on its own.
	# The run waits (bounded) until the daemon is up, so that "gone" below
	# cannot be seen before it even started.
	out=$(x_on "$name" "$(tag "$path-daemon")" -- sh -c 'rm -f up-$$
		(setsid sh -c "touch up-$$; exec sleep 1038" >/dev/null 2>&1 &)
		i=0; while [ ! -e up-$$ ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
		[ -e up-$$ ] && echo started; rm -f up-$$')
	expect_eq "$path: a daemonising program's run ends normally" started "$out"
	if wait_until 5 gone "$path-daemon"; then pass "$path: the daemon it left is killed"; else
		fail "$path: the daemon it left is killed" "$(ps_tagged "$path-daemon")"; fi
	# The client killed mid-run: the run is cancelled, its escaped child goes too.
	"$RPCC" --key "$KEY" --server "$(eval echo "\$ADDR_$name")" exec "$(tag "$path-victim")" -- \
		sh -c 'setsid sleep 1039 & sleep 1031' &
	local victim=$!
	BG_PIDS+=("$victim")
	if wait_until 10 at_least 3 "$path-victim"; then
		kill -KILL "$victim"
		wait "$victim" 2>/dev/null
		if wait_until 5 gone "$path-victim"; then pass "$path: cancelled run: its setsid child is killed"; else
			fail "$path: cancelled run: its setsid child is killed" "$(ps_tagged "$path-victim")"; fi
	else
		fail "$path: cancelled run: its setsid child is killed" "the program never started"
	fi
	# Another run ending does not take a running run's detached child with it.
	timeout 60 "$RPCC" --key "$KEY" --server "$(eval echo "\$ADDR_$name")" exec "$(tag "$path-long")" -- \
		sh -c 'setsid sleep 1040 & sleep 1041' &
	local long=$!
	BG_PIDS+=("$long")
	if wait_until 10 at_least 3 "$path-long"; then # sh and its two sleeps
		x_on "$name" "$(tag "$path-short")" -- sh -c '(setsid sleep 1042 >/dev/null 2>&1 &)'
		wait_until 5 gone "$path-short"
		expect_eq "$path: a run's end leaves another run's setsid child alone" 3 "$(count_tagged "$path-long")"
		kill -TERM "$long"
		wait "$long" 2>/dev/null
		if wait_until 5 gone "$path-long"; then pass "$path: ... which goes with its own run"; else
			fail "$path: ... which goes with its own run" "$(ps_tagged "$path-long")"; fi
	else
		fail "$path: a run's end leaves another run's setsid child alone" "the program never started"
	fi
	local pid_var=PID_$name
	expect_eq "$path: no zombie children of rpcd" 0 "$(ps --ppid "${!pid_var}" -o stat= | grep -c Z)"
}

start_rpcd reaper --no-cgroup || exit 1
check "subreaper path: rpcd says so in its log" grep -q "no cgroup for programs (--no-cgroup); rpcd is their child subreaper" "$LOG_reaper"
contained subreaper reaper

start_rpcd cg || exit 1
if grep -q "exec: each program runs in a cgroup of its own beneath" "$LOG_cg"; then
	CG_DIR=$(sed -n 's/.*in a cgroup of its own beneath \([^ ]*\) .*/\1/p' "$LOG_cg")
	got=$(x_on cg -- cat /proc/self/cgroup | sed -n 's/^0:://p')
	case "$CG_DIR" in
	*"$got"*) fail "cgroup path: the program runs in a leaf of its own" "cgroup $got, rpcd's $CG_DIR" ;;
	esac
	if [[ "$got" == */rpcd.${PID_cg}/run-[0-9]* ]]; then pass "cgroup path: the program runs in its own leaf ($got)"; else
		fail "cgroup path: the program runs in its own leaf" "got '$got'"; fi
	contained cgroup cg
	# rpcd killed -9 with a program running: the next rpcd removes the
	# leftover cgroup and ends what is still in it.
	timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_cg" exec "$(tag cg-crash)" -- sh -c 'setsid sleep 1043 & sleep 1044' &
	BG_PIDS+=($!)
	if wait_until 10 at_least 2 cg-crash; then
		kill -KILL "$PID_cg"
		check "cgroup path: rpcd killed -9 leaves its cgroup behind" test -d "$CG_DIR"
		start_rpcd cg2 || exit 1
		if wait_until 10 gone cg-crash && [ ! -d "$CG_DIR" ]; then
			pass "cgroup path: the next rpcd removes it and kills what was left"
		else
			fail "cgroup path: the next rpcd removes it and kills what was left" "$(ps_tagged cg-crash)"
		fi
		kill -TERM "$PID_cg2"
		wait "$PID_cg2" 2>/dev/null
		CG2_DIR=${CG_DIR%/rpcd.*}/rpcd.$PID_cg2
		if [ ! -d "$CG2_DIR" ]; then pass "cgroup path: rpcd removes its cgroup when it stops"; else
			fail "cgroup path: rpcd removes its cgroup when it stops" "$CG2_DIR is still there"; fi
	else
		fail "cgroup path: rpcd killed -9" "the program never started"
	fi
else
	skip "cgroup path" "rpcd could not make a cgroup here: $(grep -o 'no cgroup for programs ([^)]*)' "$LOG_cg")"
fi

# Limits the operator asks for are applied, or rpcd does not start.
timeout 10 "$RPCD" --key "$KEY" --root "$T" --listen 127.0.0.1:0 --no-cgroup --exec-max-pids 10 \
	>/dev/null 2>"$T/nocap.log"
rc=$?
if [ "$rc" = 1 ] && grep -q "exec-max-pids and --exec-max-memory need a cgroup for each program.*--no-cgroup" "$T/nocap.log"; then
	pass "--exec-max-pids without a cgroup: rpcd refuses to start"
else
	fail "--exec-max-pids without a cgroup: rpcd refuses to start" "rc $rc: $(cat "$T/nocap.log")"
fi

# A fork bomb, only where the per-run cap is in force (this machine is shared).
MAX_PIDS=64
start_rpcd bomb --exec-max-pids $MAX_PIDS 2>/dev/null
if [ -n "${PID_bomb:-}" ] && grep -q "pids.max $MAX_PIDS," "$LOG_bomb"; then
	timeout 60 "$RPCC" --key "$KEY" --server "$ADDR_bomb" exec --timeout 5 "$(tag bomb)" \
		--shell ':(){ :|:& };:' 2>"$T/bomb.err" &
	bomb=$!
	BG_PIDS+=("$bomb")
	peak=0
	for ((i = 0; i < 60; i++)); do # 3 s of samples while the bomb runs
		n=$(count_tagged bomb)
		[ "$n" -gt "$peak" ] && peak=$n
		sleep 0.05
	done
	if [ "$peak" -le "$MAX_PIDS" ]; then pass "fork bomb: at most $MAX_PIDS processes at once (peak $peak)"; else
		fail "fork bomb: at most $MAX_PIDS processes at once" "peak $peak"; fi
	expect_eq "rpcd still answers during the bomb" during "$(timeout 10 "$RPCC" --key "$KEY" --server "$ADDR_bomb" echo during)"
	wait "$bomb"
	expect_eq "fork bomb: ended by its timeout (124)" 124 $?
	check "fork bomb: its forks failed at the cap" grep -qi "fork\|resource temporarily unavailable" "$T/bomb.err"
	if wait_until 10 gone bomb; then pass "fork bomb: no process of it left (0 in its cgroup)"; else
		fail "fork bomb: no process of it left" "$(count_tagged bomb) left"; fi
else
	skip "fork bomb" "no per-run process cap here: $(grep -h 'rpcd:\|no cgroup' "$T/rpcd-bomb.log" | head -1)"
fi

finish
