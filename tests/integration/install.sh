#!/usr/bin/env bash
# make install into a staging DESTDIR, then use pbrpc the way a user would:
# pkg-config (pointed at the stage) and protoc --pbrpc_out build the examples,
# which run against each other and against a real rpcd; then make uninstall.
# Never touches the real system: everything lives under $T.
# ADDR_x, SOCK_x and PID_x are set by start_rpcd; flag lists are split on purpose.
# shellcheck disable=SC2154,SC2046,SC2086,SC2016,SC2034
. "$(dirname "$0")/../lib.sh"

STAGE=$T/stage
P=$STAGE/usr/local
VERSION=0.1.0
# Under make check-asan the library is built with sanitizers: whatever links it
# needs the same runtime.
SAN_FLAGS=
if nm -D "$B/lib/libpbrpc.so.0" 2>/dev/null | grep -q ' U __asan_init'; then
	SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
fi

# check_out NAME WANT CMD...: PASS if CMD's stdout contains WANT (a fixed string).
check_out() {
	local name=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	if [[ $out == *"$want"* ]]; then pass "$name"; else fail "$name" "want: $want" "got: $out"; fi
}

if ! make -s -C "$ROOT" B="$B" ${SAN_FLAGS:+SAN=1} install DESTDIR="$STAGE" PREFIX=/usr/local \
	>"$T/install.log" 2>&1; then
	fail "make install DESTDIR=... PREFIX=/usr/local" "$(tail -20 "$T/install.log")"
	finish
fi
pass "make install DESTDIR=... PREFIX=/usr/local"

# --- the layout ------------------------------------------------------------------
missing=()
want_files=(bin/rpcc bin/protoc-gen-pbrpc sbin/rpcd "lib/libpbrpc.so.$VERSION" lib/libpbrpc.a
	lib/pkgconfig/pbrpc.pc include/pbrpc.h share/man/man1/rpcc.1 share/man/man3/pbrpc.3
	share/man/man8/rpcd.8)
for proto in "$ROOT"/proto/pbrpc/*.proto; do
	name=$(basename "$proto" .proto)
	want_files+=("include/pbrpc/$name.pb-c.h")
	[ "$name" = wire ] || want_files+=("include/pbrpc/$name.pbrpc.h")
done
for f in "${want_files[@]}"; do
	[ -f "$P/$f" ] && [ ! -L "$P/$f" ] || missing+=("$f")
done
if [ ${#missing[@]} -eq 0 ]; then
	pass "layout: all ${#want_files[@]} files in place"
else
	fail "layout: all ${#want_files[@]} files in place" "missing: ${missing[*]}"
fi
expect_eq "libpbrpc.so.0 -> libpbrpc.so.$VERSION" "libpbrpc.so.$VERSION" \
	"$(readlink "$P/lib/libpbrpc.so.0")"
expect_eq "libpbrpc.so -> libpbrpc.so.0" "libpbrpc.so.0" "$(readlink "$P/lib/libpbrpc.so")"
expect_eq "SONAME of the installed library" "libpbrpc.so.0" \
	"$(readelf -d "$P/lib/libpbrpc.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
expect_eq "modes: programs 755, headers and pc 644" "755 755 755 755 644 644 644" \
	"$(stat -c %a "$P/bin/rpcc" "$P/bin/protoc-gen-pbrpc" "$P/sbin/rpcd" \
		"$P/lib/libpbrpc.so.$VERSION" "$P/include/pbrpc.h" "$P/include/pbrpc/echo.pbrpc.h" \
		"$P/lib/pkgconfig/pbrpc.pc" | xargs)"
check_out "installed rpcd runs" "rpcd (pbrpc) $VERSION" "$P/sbin/rpcd" --version
check_out "installed protoc-gen-pbrpc runs" "protoc-gen-pbrpc $VERSION" \
	"$P/bin/protoc-gen-pbrpc" --version
if command -v groff >/dev/null; then
	for page in share/man/man1/rpcc.1 share/man/man3/pbrpc.3 share/man/man8/rpcd.8; do
		warnings=$(groff -man -ww -z "$P/$page" 2>&1)
		if [ -z "$warnings" ]; then pass "$(basename "$page") renders without warnings"
		else fail "$(basename "$page") renders without warnings" "$warnings"; fi
	done
fi

# --- exports ---------------------------------------------------------------------
foreign=$(nm -D --defined-only "$P/lib/libpbrpc.so.$VERSION" | awk 'NF == 3 { print $3 }' |
	grep -v '^pbrpc_' | head -5)
if [ -z "$foreign" ]; then pass "installed libpbrpc.so exports only pbrpc_ symbols"
else fail "installed libpbrpc.so exports only pbrpc_ symbols" "foreign: $foreign"; fi

# --- pkg-config, pointed at the stage ----------------------------------------------
# pbrpc.pc writes libdir and includedir relative to ${prefix}, so a copy with
# prefix= rewritten describes the stage exactly (PKG_CONFIG_SYSROOT_DIR would also
# rewrite libprotobuf-c's system paths).
mkdir -p "$T/pc"
sed "s|^prefix=.*|prefix=$P|" "$P/lib/pkgconfig/pbrpc.pc" >"$T/pc/pbrpc.pc"
export PKG_CONFIG_PATH=$T/pc
expect_eq "pkg-config --modversion pbrpc" "$VERSION" "$(pkg-config --modversion pbrpc)"
expect_eq "pkg-config --cflags --libs pbrpc points at the stage" \
	"-I$P/include -L$P/lib -lpbrpc -lprotobuf-c" "$(pkg-config --cflags --libs pbrpc | xargs)"
expect_eq "pbrpc.pc Requires" "libprotobuf-c" "$(pkg-config --print-requires pbrpc | xargs)"
expect_eq "pbrpc.pc Requires.private" "libsodium libuv" \
	"$(pkg-config --print-requires-private pbrpc | xargs)"
check_out "pbrpc.pc Libs.private" "-lpthread" pkg-config --static --libs pbrpc

# Everything below is built from copies, with the staged tools first in PATH and
# the staged library found at run time.
export PATH=$P/bin:$PATH
export LD_LIBRARY_PATH=$P/lib
WERROR="-O2 -g -Wall -Wextra -Werror $SAN_FLAGS"
cp -r "$ROOT/examples" "$T/examples"
rm -f "$T"/examples/kv/{kv-server,kv-client,*.o,kv.pb-c.*,kv.pbrpc.*}

# --- stubs for a .proto with all four kinds: deterministic, warning-free ---------
mkdir -p "$T/gen1" "$T/gen2"
cp "$ROOT/examples/kv/kv.proto" "$T/gen1/" && cp "$ROOT/examples/kv/kv.proto" "$T/gen2/"
for d in "$T/gen1" "$T/gen2"; do
	(cd "$d" && protoc --plugin=protoc-gen-pbrpc="$(command -v protoc-gen-pbrpc)" \
		--c_out=. --pbrpc_out=. kv.proto) >"$T/gen.log" 2>&1 || fail "protoc --pbrpc_out" \
		"$(cat "$T/gen.log")"
done
same=1
for f in kv.pb-c.c kv.pb-c.h kv.pbrpc.c kv.pbrpc.h; do
	cmp -s "$T/gen1/$f" "$T/gen2/$f" || same=0
done
if [ -s "$T/gen1/kv.pbrpc.c" ] && [ $same = 1 ]; then
	pass "stubs generated twice are byte-identical"
else
	fail "stubs generated twice are byte-identical"
fi
check "stubs compile with -std=c11 -Wall -Wextra -Werror -pedantic" sh -c \
	'cd "$1" && cc -std=c11 -pedantic $2 $(pkg-config --cflags pbrpc) -c kv.pbrpc.c kv.pb-c.c' \
	sh "$T/gen1" "$WERROR"

# --- the examples, built the way a user would ----------------------------------------
for ex in kv hello; do
	if make -s -C "$T/examples/$ex" CFLAGS="$WERROR" LDFLAGS="$SAN_FLAGS" >"$T/make-$ex.log" 2>&1
	then
		pass "examples/$ex builds with pkg-config and the staged pbrpc (-Werror)"
	else
		fail "examples/$ex builds with pkg-config and the staged pbrpc (-Werror)" \
			"$(tail -20 "$T/make-$ex.log")"
	fi
done
check_out "kv-client links the staged libpbrpc.so.0" "$P/lib/libpbrpc.so.0" \
	ldd "$T/examples/kv/kv-client"

# --- kv: server and client together on a unix socket ----------------------------------
KV=$T/examples/kv
kv() { "$KV/kv-client" -s "unix:$T/kv.sock" -k "$KEY" "$@"; }
"$KV/kv-server" "unix:$T/kv.sock" "$KEY" >"$T/kv-server.out" 2>"$T/kv-server.log" &
KV_PID=$!
wait_for 60 test -S "$T/kv.sock"
check_out "kv-server starts" "serving kv.KeyValue on unix:$T/kv.sock" cat "$T/kv-server.out"
check_out "kv get of a missing key: NOT_FOUND" "kv-client: get: no key 'color' (NOT_FOUND)" \
	kv get color
kv get color >/dev/null 2>&1
expect_eq "kv get of a missing key exits 1" 1 $?
expect_eq "kv set (unary)" "ok, version 1" "$(kv set color red)"
expect_eq "kv get (unary)" "red" "$(kv get color)"
# Watch prints the current value first: wait for it, so the writes below are seen.
kv watch color 3 >"$T/watch.out" 2>&1 &
WATCH_PID=$!
wait_for 60 test -s "$T/watch.out"
expect_eq "kv set-many (client-streaming)" "ok, 3 written, version 4" \
	"$(kv set-many color=green size=L color=blue)"
wait "$WATCH_PID"
expect_eq "kv watch (server-streaming): current value, then each change" \
	"color = red (version 1)|color = green (version 2)|color = blue (version 4)" \
	"$(paste -sd'|' "$T/watch.out")"
expect_eq "kv session (bidirectional)" \
	"color = blue (version 4)|shape = round (version 5)|deleted size|NOT_FOUND size" \
	"$(printf 'get color\nset shape round\ndel size\nget size\n' | kv session | paste -sd'|')"
check_out "kv watch with a deadline ends DEADLINE_EXCEEDED" "(DEADLINE_EXCEEDED)" \
	kv -t 0.2 watch color 5
kill -TERM "$KV_PID"
wait "$KV_PID"
expect_eq "kv-server exits 0 on SIGTERM" 0 $?
check_out "kv-server says it stopped" "kv-server: stopped" cat "$T/kv-server.out"

# --- the tiny client against a real rpcd, and the minimal server -------------------
start_rpcd h || exit 1
HELLO=$T/examples/hello
expect_eq "hello-client calls rpcd's echo" "echo: HELLO, WORLD" \
	"$("$HELLO/hello-client" "$SOCK_h" "$KEY" | head -1)"
check_out "hello-client calls rpcd's time" "time: " "$HELLO/hello-client" "$ADDR_h" "$KEY"
"$HELLO/hello-server" "unix:$T/hello.sock" "$KEY" 2>"$T/hello-server.log" &
HELLO_PID=$!
wait_for 60 test -S "$T/hello.sock"
check_out "hello-server answers Say in reverse" "echo: dlrow ,olleh" \
	"$HELLO/hello-client" "unix:$T/hello.sock" "$KEY"
check_out "hello-server has no Time: UNIMPLEMENTED" "(UNIMPLEMENTED)" \
	"$HELLO/hello-client" "unix:$T/hello.sock" "$KEY"
kill -TERM "$HELLO_PID"
wait "$HELLO_PID"
expect_eq "hello-server exits 0 on SIGTERM" 0 $?
check_out "hello-server's handler saw the peer and the deadline" "Say from unix: 12 bytes" \
	cat "$T/hello-server.log"

# --- fully static, from the Libs.private / Requires.private of pbrpc.pc ---------------
if cc $WERROR -o "$T/hello-static" "$HELLO/hello_client.c" $(pkg-config --cflags pbrpc) \
	-Wl,-Bstatic -lpbrpc -Wl,-Bdynamic $(pkg-config --static --libs pbrpc | sed 's/-lpbrpc//') \
	2>"$T/static.log"; then
	pass "hello-client links libpbrpc.a with pkg-config --static"
	if ldd "$T/hello-static" | grep -q libpbrpc; then
		fail "the static hello-client does not need libpbrpc.so"
	else
		expect_eq "the static hello-client calls rpcd" "echo: HELLO, WORLD" \
			"$("$T/hello-static" "$SOCK_h" "$KEY" | head -1)"
	fi
else
	fail "hello-client links libpbrpc.a with pkg-config --static" "$(cat "$T/static.log")"
fi

# --- a server on the program's own libuv loop ------------------------------------------
if cc -std=c11 $WERROR -o "$T/own_loop" "$ROOT/tests/library/own_loop.c" \
	$(pkg-config --cflags --libs pbrpc libuv) -lpthread 2>"$T/own_loop.log"; then
	timeout 60 "$T/own_loop" "$T/own-loop.sock" "$KEY" 2>/dev/null |
		sed 's/^\(PASS\|FAIL\) /\1 staged: /'
	[ "${PIPESTATUS[0]}" = 0 ] || FAILED=1
else
	fail "own_loop.c builds with pkg-config pbrpc libuv" "$(cat "$T/own_loop.log")"
fi

# --- uninstall ---------------------------------------------------------------------------
if make -s -C "$ROOT" B="$B" uninstall DESTDIR="$STAGE" PREFIX=/usr/local \
	>"$T/uninstall.log" 2>&1; then
	left=$(find "$STAGE" ! -type d)
	if [ -z "$left" ]; then pass "make uninstall removes every installed file"
	else fail "make uninstall removes every installed file" "left: $left"; fi
	if [ ! -e "$P/include/pbrpc" ]; then pass "make uninstall removes include/pbrpc/"
	else fail "make uninstall removes include/pbrpc/"; fi
else
	fail "make uninstall DESTDIR=..." "$(tail -20 "$T/uninstall.log")"
fi

finish
