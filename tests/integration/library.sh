#!/usr/bin/env bash
# The library as other programs see it, from the build tree: the shared
# library's export list, one client shared by 8 threads x 10,000 calls against
# a real rpcd, a server on the caller's own libuv loop, and docs/library.md's
# code blocks still being verbatim pieces of the files the tests compile.
# ADDR_x, SOCK_x and PID_x are set by start_rpcd; flag lists are split on purpose.
# shellcheck disable=SC2154,SC2046,SC2086,SC2016,SC2034
. "$(dirname "$0")/../lib.sh"

SO=$B/lib/libpbrpc.so.0
# Under make check-asan the library is built with sanitizers: whatever links it
# needs the same runtime.
SAN_FLAGS=
if nm -D "$B/lib/libpbrpc.so.0" 2>/dev/null | grep -q ' U __asan_init'; then
	SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
fi

# --- exports -----------------------------------------------------------------
# Only pbrpc_* (the API, stubs, descriptors) and pbrpc__* (protobuf-c's names for
# the built-in messages) may leave the library: everything else is hidden.
exports=$(nm -D --defined-only "$SO" | awk 'NF == 3 { print $3 }')
foreign=$(grep -v '^pbrpc_' <<<"$exports" | head -5)
if [ -n "$exports" ] && [ -z "$foreign" ]; then
	pass "libpbrpc.so exports only pbrpc_ symbols ($(wc -l <<<"$exports") of them)"
else
	fail "libpbrpc.so exports only pbrpc_ symbols" "foreign: $foreign"
fi
for sym in pbrpc_client_connect pbrpc_server_new pbrpc_echo_echo_say pbrpc_strerror \
	pbrpc__echo__echo_request__descriptor; do
	grep -qx "$sym" <<<"$exports" || fail "libpbrpc.so exports $sym"
done
check "SONAME is libpbrpc.so.0" sh -c "readelf -d '$SO' | grep -q 'SONAME.*\[libpbrpc.so.0\]'"

# --- one client, many threads ------------------------------------------------
start_rpcd t || exit 1
timeout 300 "$B/tests/fault_threads" "$ADDR_t" "$KEY" 8 10000 || FAILED=1
timeout 300 "$B/tests/fault_threads" "$SOCK_t" "$KEY" 8 10000 |
	sed 's/^\(PASS\|FAIL\) /\1 unix: /' || FAILED=1
check "rpcd still running after the threaded clients" kill -0 "$PID_t"

# --- a server on the caller's loop, linked with the static library ------------
if cc -std=c11 -Wall -Wextra -Werror $SAN_FLAGS -I"$ROOT/include" -I"$B/gen" -o "$T/own_loop" \
	"$ROOT/tests/library/own_loop.c" "$B/lib/libpbrpc.a" \
	$(pkg-config --cflags --libs libprotobuf-c libsodium libuv) -lpthread 2>"$T/cc.log"; then
	timeout 60 "$T/own_loop" "$T/own-loop.sock" "$KEY" 2>"$T/own_loop.log" || FAILED=1
else
	fail "own_loop.c compiles" "$(cat "$T/cc.log")"
fi

# --- docs/library.md blocks == the files -------------------------------------
# Every c/proto/make block must follow a "<!-- from PATH -->" line and appear
# verbatim in PATH.
doc=$ROOT/docs/library.md
blocks=0 drifted=0 unsourced=0
from='' in_block=0 block='' first=1
while IFS= read -r line; do
	if [ "$in_block" = 1 ]; then
		if [ "$line" = '```' ]; then
			in_block=0
			[ -z "$from" ] && continue
			blocks=$((blocks + 1))
			content=$(cat "$ROOT/$from" 2>/dev/null)
			if [[ $content != *"$block"* ]]; then
				drifted=$((drifted + 1))
				fail "library.md block $blocks is verbatim in $from"
			fi
			from=""
		else
			if [ "$first" = 1 ]; then block=$line first=0; else block+=$'\n'$line; fi
		fi
		continue
	fi
	case $line in
	'<!-- from '*' -->')
		from=${line#<!-- from }
		from=${from% -->}
		;;
	'```c' | '```proto' | '```make')
		in_block=1 block='' first=1
		if [ -z "$from" ]; then
			unsourced=$((unsourced + 1))
			fail "library.md: a ${line#\`\`\`} block with no <!-- from FILE --> line"
		fi
		;;
	'```'*) from='' in_block=2 ;;
	*) [ -n "$line" ] && from= ;;
	esac
	# Skip the body of other fenced blocks (sh, plain output).
	if [ "$in_block" = 2 ]; then
		while IFS= read -r line && [ "$line" != '```' ]; do :; done
		in_block=0
	fi
done <"$doc"
if [ "$blocks" -ge 10 ] && [ "$drifted" = 0 ] && [ "$unsourced" = 0 ]; then
	pass "library.md: all $blocks code blocks are verbatim in the compiled files"
else
	fail "library.md: $blocks sourced blocks, $drifted drifted, $unsourced unsourced"
fi
one_command='protoc --plugin=protoc-gen-pbrpc=$(command -v protoc-gen-pbrpc) --c_out=. --pbrpc_out=. my.proto'
if grep -qF "$one_command" "$doc"; then
	pass "library.md gives the one stub-generation command"
else
	fail "library.md gives the one stub-generation command"
fi

finish
