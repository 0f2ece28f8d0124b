#!/usr/bin/env bash
# tests/fuzz/run.sh DIR SECONDS NAME:MAXLEN... - runs each libFuzzer target
# DIR/fuzz_NAME for SECONDS on a fresh copy of tests/fuzz/corpus/NAME (the
# committed corpus never grows), one after the other (the machine is shared).
# Prints one PASS/FAIL line per target and a summary; exits 1 if any target
# crashed, leaked, timed out or printed a sanitizer report. A failing input is
# kept in DIR/run/NAME/artifacts/.
set -u
cd "$(dirname "$0")/../.."
dir=$1
seconds=$2
shift 2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

passed=0
failed=0
for spec in "$@"; do
	name=${spec%%:*}
	max_len=${spec#*:}
	bin=$dir/fuzz_$name
	work=$dir/run/$name
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	cp tests/fuzz/corpus/"$name"/* "$work/corpus/" 2>/dev/null
	"$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
		-malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
		"$work/corpus" >"$work/log" 2>&1
	rc=$?
	# The last status line: "#N  DONE/pulse/...  cov: C ft: F corp: K/S ... exec/s: E ..."
	stats=$(grep -E '^#[0-9]+' "$work/log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$stats")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$stats")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$stats")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
	line=$(printf 'fuzz_%-18s %3ss  runs %-9s exec/s %-7s cov %-5s ft %-6s corpus %s' "$name" \
		"$seconds" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
	if [ "$rc" -eq 0 ] && [ -z "$(ls -A "$work/artifacts")" ] &&
		! grep -qE 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY: ' "$work/log"; then
		echo "PASS $line"
		passed=$((passed + 1))
	else
		echo "FAIL $line (exit $rc; log $work/log)"
		grep -E 'runtime error:|ERROR:|SUMMARY:|Test unit written' "$work/log" | head -5 | sed 's/^/    | /'
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
