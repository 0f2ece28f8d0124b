#!/usr/bin/env bash
# tests/run.sh - runs every test and ends with one line "N passed, N failed".
#   cmocka unit tests:      $B/tests/unit_*        (counted per test case)
#   C fault/load programs:  $B/tests/fault_*       (driven by the shell tests, not run here)
#   shell tests:            tests/integration/*.sh, tests/gen/check.sh (PASS/FAIL lines)
# Any program that exits non-zero without printing a FAIL counts as one failure.
# TESTS='pattern ...' runs only the tests whose path contains one of the patterns.
# TEST_JOBS=N runs up to N test files at once (default: cores + 1; the files
# are independent: own temp dirs, ports, markers). Each file's lines print
# as one block when it ends, the slowest files start first.
# PBRPC_REPORT_DIR: a directory of sanitizer/valgrind reports to count at the end.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export B
pattern=${TESTS:-}

# run_one TEST RESULT: runs TEST; RESULT.counts gets "PASSED FAILED",
# RESULT.fail its failure lines; its summary (and on failure the end of its
# output) prints as one block under a lock, so parallel runs do not mix lines.
run_one() {
	local t=$1 res=$2 log=$2.log rc p f start secs
	start=$SECONDS
	case $t in
	*.sh) timeout 900 bash "$t" >"$log" 2>&1 ;;
	*) timeout 900 "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	secs=$((SECONDS - start))
	: >"$res.fail"
	if grep -q '^\[==========\]' "$log"; then # cmocka
		p=$(grep -c '^\[       OK \]' "$log")
		# A failed case shows twice: where it ran and in the closing list. Count it once.
		f=$(grep '^\[  FAILED  \] [a-z_]' "$log" | sort -u | wc -l)
		grep '^\[  FAILED  \] [a-z_]' "$log" | sort -u | sed "s|^\[  FAILED  \] |$t: |" >>"$res.fail"
	else
		p=$(grep -c '^PASS ' "$log")
		f=$(grep -c '^FAIL ' "$log")
		grep '^FAIL ' "$log" | sed "s|^FAIL |$t: |" >>"$res.fail"
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "$t: exited $rc" >>"$res.fail"
	fi
	{
		printf '%-44s %4d passed %4d failed %5ds\n' "$t" "$p" "$f" "$secs"
		if [ "$f" -ne 0 ]; then
			sed 's/^/    | /' "$log" | tail -40
		fi
	} >"$res.out"
	flock "$results/lock" cat "$res.out"
	echo "$p $f" >"$res.counts"
}

results=$(mktemp -d /tmp/pbrpc-run.XXXXXX)
failfile=$results/failures
trap 'rm -rf "$results"' EXIT
: >"$results/lock"
jobs_max=${TEST_JOBS:-$(($(nproc) + 1))}
[ "$jobs_max" -ge 1 ] 2>/dev/null || jobs_max=1
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
# The slowest files first (measured), so none of them starts last; the rest
# in their usual order.
SLOW="tests/integration/file.sh tests/integration/exec.sh tests/integration/hostile.sh
tests/integration/crash.sh tests/integration/soak.sh tests/integration/install.sh
tests/integration/library.sh"
ordered=()
declare -A is_slow=()
for s in $SLOW; do
	is_slow[$s]=1
	for t in "${tests[@]}"; do [ "$t" = "$s" ] && ordered+=("$t"); done
done
for t in "${tests[@]}"; do
	[ -n "${is_slow[$t]:-}" ] || ordered+=("$t")
done
i=0
for t in "${ordered[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
		wait -n
	done
	i=$((i + 1))
	run_one "$t" "$results/$i" &
done
wait
passed=0
failed=0
for ((k = 1; k <= i; k++)); do
	if [ -s "$results/$k.counts" ]; then
		read -r p f <"$results/$k.counts"
	else
		p=0 f=1
		echo "${ordered[k - 1]}: no result (the runner itself failed)" >>"$results/$k.fail"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	cat "$results/$k.fail" >>"$failfile" 2>/dev/null
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
