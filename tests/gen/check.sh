#!/usr/bin/env bash
# tests/gen/check.sh - tests protoc-gen-pbrpc: the generated code compiles
# warning-free, runs (against fakes of libpbrpc), is deterministic and equals
# the goldens in tests/golden/. Prints PASS/FAIL per check; exits 1 if any failed.
#
#   B=build tests/gen/check.sh          (B: the build dir holding bin/protoc-gen-pbrpc)
#   UPDATE_GOLDEN=1 tests/gen/check.sh  rewrites tests/golden/ from the current output
# sh -c scripts take their arguments as "$1"...; $CFLAGS is split on purpose.
# shellcheck disable=SC2016,SC2086,SC2317
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$root/$B ;; esac
plugin=$B/bin/protoc-gen-pbrpc
golden=$root/tests/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
	-Wmissing-prototypes -Wvla -O2 -g -I$root/include $(pkg-config --cflags libprotobuf-c)"
LIBS=$(pkg-config --libs libprotobuf-c)
failed=0

pass() { echo "PASS $1"; }
# fail NAME [LOG]: reports a failure, showing LOG's contents if given.
fail() {
	echo "FAIL $1"
	[ -n "${2:-}" ] && [ -s "$2" ] && sed 's/^/  | /' "$2"
	failed=1
}
# check NAME CMD...: runs CMD, PASS if it succeeds, else FAIL with its output.
check() {
	local name=$1
	shift
	if "$@" >"$tmp/log" 2>&1; then pass "$name"; else fail "$name" "$tmp/log"; fi
}

# gen OUT PROTO...: protoc-c and our plugin on tests/gen protos into OUT.
gen() {
	local out=$1
	shift
	mkdir -p "$out" &&
		protoc-c -I"$here" -I/usr/include --c_out="$out" "$@" other/shared.proto &&
		protoc-c -I/usr/include --c_out="$out" google/protobuf/empty.proto &&
		protoc --plugin=protoc-gen-pbrpc="$plugin" -I"$here" -I/usr/include \
			--pbrpc_out="$out" "$@"
}

# compile DIR FILE...: compiles each .c file with include path DIR.
compile() {
	local dir=$1 f
	shift
	for f in "$@"; do
		cc $CFLAGS -I"$dir" -c -o "$tmp/obj.o" "$f" || return 1
	done
}

if [ ! -x "$plugin" ]; then
	fail "plugin-built ($plugin missing: make $B/bin/protoc-gen-pbrpc)"
	exit 1
fi

check version sh -c '"$1" --version | grep -q "^protoc-gen-pbrpc [0-9]" && "$1" --help |
	grep -q usage' sh "$plugin"

a=$tmp/a
check generate gen "$a" allkinds.proto
check compile-allkinds compile "$a" "$a/allkinds.pbrpc.c" "$a/allkinds.pb-c.c" \
	"$a/other/shared.pb-c.c"

# The same input twice, and as part of a bigger request, gives the same bytes.
b=$tmp/b
gen "$b" nopkg.proto allkinds.proto >"$tmp/log" 2>&1
if cmp -s "$a/allkinds.pbrpc.h" "$b/allkinds.pbrpc.h" &&
	cmp -s "$a/allkinds.pbrpc.c" "$b/allkinds.pbrpc.c"; then
	pass deterministic
else
	fail deterministic "$tmp/log"
fi

for ext in h c; do
	name=allkinds.pbrpc.$ext
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		mkdir -p "$golden" && cp "$a/$name" "$golden/$name" && echo "UPDATED $golden/$name"
	elif diff -u "$golden/$name" "$a/$name" >"$tmp/log" 2>&1; then
		pass "golden-$ext"
	else
		fail "golden-$ext (UPDATE_GOLDEN=1 $0 accepts the new output)" "$tmp/log"
	fi
done

run=()
command -v valgrind >/dev/null && run=(valgrind -q --leak-check=full --error-exitcode=1)
check stubs sh -c 'cc $1 -I"$2" -o "$3/stubs_test" "$4/stubs_test.c" "$2/allkinds.pbrpc.c" \
	"$2/allkinds.pb-c.c" "$2/other/shared.pb-c.c" "$2/google/protobuf/empty.pb-c.c" $5 &&
	shift 5 && "$@"' sh "$CFLAGS" "$a" "$tmp" "$here" "$LIBS" "${run[@]}" "$tmp/stubs_test"

mkdir -p "$tmp/n"
check nopkg sh -c 'cd "$1" && protoc-c -I. --c_out="$2" nopkg.proto &&
	protoc --plugin=protoc-gen-pbrpc="$3" -I. --pbrpc_out="$2" nopkg.proto' \
	sh "$here" "$tmp/n" "$plugin"
check compile-nopkg compile "$tmp/n" "$tmp/n/nopkg.pbrpc.c"

e=$tmp/e
mkdir -p "$e"
check echo sh -c 'protoc-c -I"$1/proto" --c_out="$2" pbrpc/echo.proto &&
	protoc --plugin=protoc-gen-pbrpc="$3" -I"$1/proto" --pbrpc_out="$2" pbrpc/echo.proto' \
	sh "$root" "$e" "$plugin"
check compile-echo compile "$e" "$e/pbrpc/echo.pbrpc.c" "$e/pbrpc/echo.pb-c.c"

# expect_error NAME PROTO TEXT: protoc must fail on PROTO, saying TEXT.
expect_error() {
	if protoc --plugin=protoc-gen-pbrpc="$plugin" -I"$here" --pbrpc_out="$tmp" "$2" \
		>"$tmp/log" 2>&1; then
		fail "$1 (protoc succeeded)"
	elif grep -q "$3" "$tmp/log"; then
		pass "$1"
	else
		fail "$1 (no \"$3\")" "$tmp/log"
	fi
}
expect_error error-clash bad_clash.proto "pbrpc.bad.S.GetURL and pbrpc.bad.S.GetUrl would both define pbrpc_bad_s_get_url_fn"
expect_error error-empty bad_empty.proto "service pbrpc.bad.Nothing has no methods"

# The plugin itself: no leaks or memory errors, on success and on error.
# (A sanitizer build checks itself in every run above instead.)
if [ ${#run[@]} -gt 0 ] && ! grep -qa __asan_init "$plugin"; then
	printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${run[*]}" "$plugin" >"$tmp/vg-plugin"
	chmod +x "$tmp/vg-plugin"
	check valgrind-plugin sh -c 'cd "$1" && protoc --plugin=protoc-gen-pbrpc="$2" -I. \
		-I/usr/include --pbrpc_out="$3" allkinds.proto nopkg.proto &&
		! protoc --plugin=protoc-gen-pbrpc="$2" -I. --pbrpc_out="$3" bad_clash.proto 2>&1 |
		grep -i "valgrind\|==[0-9]*=="' sh "$here" "$tmp/vg-plugin" "$tmp/n"
fi

exit $failed
