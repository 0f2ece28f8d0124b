#!/usr/bin/env bash
# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, and
# rpcd under valgrind for the basic echo/time/list/ping flow plus the hostile
# input of fault_badinput. One PASS/FAIL line per check.
#
# About 3-4 minutes on 2 cores from a clean tree (the ASan build is most of
# it; build-asan/ is kept, so later runs only rebuild what changed). It runs
# when CI is set (as in .ci/run) or PBRPC_SANITIZE=1; a plain local
# `make test` skips it. `make check-asan` alone runs the suite under ASan.
# shellcheck disable=SC2154,SC2034,SC2153
. "$(dirname "$0")/../lib.sh"

if [ -z "${CI:-}" ] && [ "${PBRPC_SANITIZE:-0}" != 1 ]; then
	echo "skipped: set PBRPC_SANITIZE=1 (CI does) to run the sanitizer and valgrind checks"
	finish
fi
# Inside the ASan run itself (make check-asan, or our own run below): nothing to nest.
case ${B##*/} in build-asan*) echo "skipped inside a sanitizer build"; finish ;; esac
if [ -n "${PBRPC_IN_SANITIZE:-}" ]; then finish; fi

cd "$ROOT" || exit 1
SB=$ROOT/build-asan
SANLOG=$T/sanitizer
mkdir -p "$SANLOG"

# ---- 1. build with -fsanitize=address,undefined ------------------------------------
if make -s -j2 B="$SB" SAN=1 all test-progs >"$T/asan-build.log" 2>&1; then
	pass "asan: build"
else
	fail "asan: build" "$(tail -30 "$T/asan-build.log")"
	finish
fi

# ---- 2. every test of the suite against the sanitized build ---------------------------
# Reports from any process (rpcd included, which lib.sh runs with its stderr
# in a log that is deleted) go to files under $SANLOG instead.
ASAN_OPTIONS="log_path=$SANLOG/asan:detect_leaks=1:strict_string_checks=1"
export ASAN_OPTIONS="$ASAN_OPTIONS:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="log_path=$SANLOG/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="log_path=$SANLOG/lsan"
# Tests can tell they run under a sanitizer (memory bounds do not hold there,
# and C programs they compile need these flags).
export PBRPC_SANITIZER=address,undefined
export PBRPC_SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
# Scripts whose own checks do not hold under ASan yet (peak-RSS bounds, C
# programs compiled without the sanitizer flags): they run, and any sanitizer
# report from them fails below, but their PASS/FAIL lines are not counted.
REPORTS_ONLY=" tests/integration/exec.sh "
out=$(PBRPC_IN_SANITIZE=1 B="$SB" ./tests/run.sh 2>&1)
while read -r path p f; do
	if [[ $REPORTS_ONLY == *" $path "* ]]; then
		echo "  ($path ran for sanitizer reports only: $p passed, $f failed)"
	elif [ "$f" -eq 0 ] && [ "$p" -gt 0 ]; then
		pass "asan: $path ($p checks)"
	elif [ "$f" -eq 0 ]; then
		pass "asan: $path (ran nothing here)"
	else
		fail "asan: $path ($p passed, $f failed)" \
			"$(grep -F "  $path: " <<<"$out" | sort -u | head -20)"
	fi
done < <(sed -n 's/^\([^ ]*\) *\([0-9]*\) passed *\([0-9]*\) failed$/\1 \2 \3/p' <<<"$out")
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS PBRPC_SANITIZER PBRPC_SANFLAGS
reports=$(find "$SANLOG" -type f | sort)
if [ -z "$reports" ]; then
	pass "asan: no sanitizer report from any process"
else
	for r in $reports; do
		fail "asan: report $(basename "$r")" "$(head -40 "$r")"
	done
fi

# ---- 3. rpcd under valgrind ---------------------------------------------------------------
if ! command -v valgrind >/dev/null; then
	fail "valgrind installed" "scripts/deps.sh installs it"
	finish
fi
VG=$T/vg-rpcd
cat >"$VG" <<VGEOF
#!/bin/sh
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	--track-fds=no --log-file="$T/valgrind.%p" "$B/bin/rpcd" "\$@"
VGEOF
chmod +x "$VG"
RPCD=$VG
start_rpcd vg -v --handshake-timeout 1500 --max-calls 4 || {
	fail "valgrind: rpcd starts"
	finish
}
expect_eq "valgrind: echo" "hello world" "$(rpcc --server "$ADDR_vg" echo hello world)"
expect_eq "valgrind: echo --upper over unix" "HI" "$(rpcc --server "$SOCK_vg" echo --upper hi)"
expect_eq "valgrind: time --format" "$(date -u +%Y)" \
	"$(TZ=UTC rpcc --server "$ADDR_vg" time --format %Y)"
# has_line NAME PATTERN RPCC-ARGS...: PASS if rpcc's output has a line matching PATTERN.
has_line() {
	local name=$1 pattern=$2
	shift 2
	if rpcc --server "$ADDR_vg" "$@" | grep -q "$pattern"; then
		pass "$name"
	else
		fail "$name" "rpcc $* printed no line with '$pattern'"
	fi
}
has_line "valgrind: time" 'round trip' time
has_line "valgrind: list" 'pbrpc.echo.Echo' list
has_line "valgrind: ping" '100 calls' ping -c 100
"$RPCC" keygen "$T/other" >/dev/null
"$RPCC" --key "$T/other" --server "$ADDR_vg" echo hi >/dev/null 2>&1
expect_eq "valgrind: wrong key exits 255" 255 "$?"
# rpcc itself under valgrind: a call, and the wrong-key error path.
vg_rpcc() {
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
		--log-file="$T/vg-rpcc.log" "$RPCC" --key "$1" --server "$ADDR_vg" echo hi >/dev/null 2>&1
}
vg_rpcc "$KEY"
expect_eq "valgrind: rpcc echo has no errors or definite leaks" 0 "$?"
vg_rpcc "$T/other"
rc=$?
expect_eq "valgrind: rpcc with a wrong key: exit 255, no errors or leaks" 255 "$rc"
[ "$rc" -eq 99 ] && cat "$T/vg-rpcc.log"
# Hostile input against the valgrind'ed rpcd (timings are loose under valgrind).
fout=$("$B/tests/fault_badinput" "$ADDR_vg" "$KEY" "$LOG_vg" 4 2>&1)
frc=$?
nfail=$(grep -c '^FAIL ' <<<"$fout")
if [ "$frc" -eq 0 ]; then
	pass "valgrind: hostile input ($(grep -c '^PASS ' <<<"$fout") cases)"
else
	fail "valgrind: hostile input ($nfail failed)" "$(grep '^FAIL ' <<<"$fout")"
fi
kill -TERM "$PID_vg"
for _ in $(seq 1 200); do
	kill -0 "$PID_vg" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$PID_vg" 2>/dev/null; then
	fail "valgrind: rpcd stops on SIGTERM" "still running after 10 s"
else
	wait "$PID_vg"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "valgrind: no errors, no definite leaks, exit 0"
	else
		fail "valgrind: rpcd exited $rc (99: valgrind found errors)" \
			"$(cat "$T"/valgrind.* 2>/dev/null | head -60)"
	fi
fi
finish
