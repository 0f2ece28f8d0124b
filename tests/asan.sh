#!/usr/bin/env bash
# make test-asan: the whole suite against a build with AddressSanitizer and
# UndefinedBehaviorSanitizer (B=build-asan, made by the Makefile first). Every
# process (rpcd and rpcc included, whose stderr the tests often discard)
# writes its reports to files in one directory; tests/run.sh fails on any.
set -u
cd "$(dirname "$0")/.." || exit 1
export B=${1:-build-asan}
reports=$(mktemp -d /tmp/pbrpc-asan.XXXXXX)
trap 'rm -rf "$reports"' EXIT
export PBRPC_REPORT_DIR=$reports
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="log_path=$reports/lsan"
# Tests can tell they run under a sanitizer (memory bounds do not hold there,
# and C programs they compile need these flags).
export PBRPC_SANITIZER=address,undefined
export PBRPC_SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
exec ./tests/run.sh
