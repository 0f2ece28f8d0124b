#!/usr/bin/env bash
# tests/run.sh - runs every test and ends with one line "N passed, N failed".
#   cmocka unit tests:      $B/tests/unit_*        (counted per test case)
#   C fault/load programs:  $B/tests/fault_*       (driven by the shell tests, not run here)
#   shell tests:            tests/integration/*.sh, tests/gen/check.sh (PASS/FAIL lines)
# Any program that exits non-zero without printing a FAIL counts as one failure.
# TESTS='pattern ...' runs only the tests whose path contains one of the patterns.
# PBRPC_REPORT_DIR: a directory of sanitizer/valgrind reports to count at the end.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export B
passed=0
failed=0
failures=()
pattern=${TESTS:-}

run_one() {
	local t=$1 log rc p f
	log=$(mktemp)
	case $t in
	*.sh) timeout 600 bash "$t" >"$log" 2>&1 ;;
	*) timeout 600 "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	if grep -q '^\[==========\]' "$log"; then # cmocka
		p=$(grep -c '^\[       OK \]' "$log")
		# A failed case shows twice: where it ran and in the closing list. Count it once.
		f=$(grep '^\[  FAILED  \] [a-z_]' "$log" | sort -u | wc -l)
		grep '^\[  FAILED  \] [a-z_]' "$log" | sort -u | sed "s|^\[  FAILED  \] |$t: |" >>"$failfile"
	else
		p=$(grep -c '^PASS ' "$log")
		f=$(grep -c '^FAIL ' "$log")
		grep '^FAIL ' "$log" | sed "s|^FAIL |$t: |" >>"$failfile"
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "$t: exited $rc" >>"$failfile"
	fi
	printf '%-44s %4d passed %4d failed\n' "$t" "$p" "$f"
	if [ "$f" -ne 0 ]; then
		sed 's/^/    | /' "$log" | tail -40
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	rm -f "$log"
}

failfile=$(mktemp)
trap 'rm -f "$failfile"' EXIT
tests=()
for t in "$B"/tests/unit_* tests/gen/check.sh tests/integration/*.sh; do
	[ -e "$t" ] || continue
	case $t in *.d | *.o) continue ;; esac
	if [ -n "$pattern" ]; then
		keep=0
		for p in $pattern; do [[ $t == *"$p"* ]] && keep=1; done
		[ $keep = 1 ] || continue
	fi
	tests+=("$t")
done
for t in "${tests[@]}"; do
	run_one "$t"
done
# make test-asan and make test-valgrind point every process's reports at
# PBRPC_REPORT_DIR: any file with a report in it is a failure, whichever test made it.
if [ -n "${PBRPC_REPORT_DIR:-}" ]; then
	# valgrind's own notes ("--PID-- WARNING: unhandled syscall") are not reports.
	reports=$(find "$PBRPC_REPORT_DIR" -type f -size +0 -exec grep -lvE '^--[0-9]+-- ' {} + | sort)
	if [ -z "$reports" ]; then
		printf '%-44s %4d passed %4d failed\n' "(no sanitizer or valgrind report)" 1 0
		passed=$((passed + 1))
	else
		for r in $reports; do
			printf '%-44s %4d passed %4d failed\n' "report ${r##*/}" 0 1
			sed 's/^/    | /' "$r" | head -60
			echo "report: $r" >>"$failfile"
			failed=$((failed + 1))
		done
	fi
fi
if [ -s "$failfile" ]; then
	echo
	echo "failures:"
	sed 's/^/  /' "$failfile"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
