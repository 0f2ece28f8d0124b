#!/usr/bin/env bash
# scripts/demo.sh BINDIR - the `make demo` tour: in a temp dir, rpcd on a
# free loopback port and a Unix socket with a host key and an authorized key,
# then every rpcc command, each shown as it is typed; then a second client
# authorized with a narrower policy, and revoked. Exits 0 if every command
# behaved as expected.
#
# To add a command to the tour, add one `show` line below ("the tour").
set -u

BIN=${1:-build/bin}
BIN=$(cd "$BIN" && pwd) || exit 1
RPCD=$BIN/rpcd
RPCC_BIN=$BIN/rpcc
T=$(mktemp -d "${TMPDIR:-/tmp}/pbrpc-demo.XXXXXX") || exit 1
RPCD_PID=
BAD=0

cleanup() {
	if [ -n "$RPCD_PID" ] && kill -0 "$RPCD_PID" 2>/dev/null; then
		kill -TERM "$RPCD_PID" 2>/dev/null
		wait "$RPCD_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# quote ARGS...: the arguments as a shell would need them typed.
quote() {
	local a out=
	for a in "$@"; do
		case $a in
		'' | *[!A-Za-z0-9_./:=@%+,-]*) a="'${a//\'/\'\\\'\'}'" ;;
		esac
		out+=" $a"
	done
	printf '%s' "${out# }"
}

# show [-x STATUS] ARGS...: prints "$ rpcc ARGS", runs it, and counts it as
# a failure unless it exits with STATUS (default 0).
show() {
	local want=0 rc
	if [ "${1:-}" = -x ]; then
		want=$2
		shift 2
	fi
	printf '\n$ rpcc %s\n' "$(quote "$@")"
	"$RPCC_BIN" "$@" 2>&1 </dev/null
	rc=$?
	[ "$rc" -ne 0 ] && echo "(exit $rc)"
	if [ "$rc" -ne "$want" ]; then
		echo "demo: expected exit $want" >&2
		BAD=1
	fi
}

echo "== your identity, and rpcd on a free port (temp dir $T)"
mkdir -p "$T/root"
printf '$ rpcc keygen %s\n' "$T/me"
"$RPCC_BIN" keygen -C me "$T/me" || exit 1
printf '$ echo "$(cat %s.pub)" > %s\n' "$T/me" "$T/authorized_keys"
cat "$T/me.pub" >"$T/authorized_keys"
printf '$ rpcd --listen 127.0.0.1:0 --listen unix:%s --host-key %s --authorized-keys %s --root %s &\n' \
	"$T/sock" "$T/host_key" "$T/authorized_keys" "$T/root"
"$RPCD" --listen 127.0.0.1:0 --listen "unix:$T/sock" --host-key "$T/host_key" \
	--authorized-keys "$T/authorized_keys" --root "$T/root" </dev/null 2>"$T/rpcd.log" &
RPCD_PID=$!
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/rpcd.log" | head -1)
	[ -n "$port" ] && break
	kill -0 "$RPCD_PID" 2>/dev/null || break
	sleep 0.05
done
if [ -z "$port" ]; then
	echo "demo: rpcd did not start:" >&2
	cat "$T/rpcd.log" >&2
	exit 1
fi
sed 's/^/  | /' "$T/rpcd.log"

# rpcc finds the server and the identity through the environment, as a
# user's shell would after `export`; the first connection pins the server's
# host key (like ssh's StrictHostKeyChecking=accept-new).
# (XDG_CONFIG_HOME keeps the demo's known_servers in its temp dir.)
export PBRPC_SERVER=127.0.0.1:$port PBRPC_KEY=$T/me XDG_CONFIG_HOME=$T/config
printf '$ export PBRPC_SERVER=%s PBRPC_KEY=%s XDG_CONFIG_HOME=%s\n' "$PBRPC_SERVER" \
	"$PBRPC_KEY" "$XDG_CONFIG_HOME"
show -x 255 echo hello
show --accept-new echo hello
printf '$ cat %s\n' "$T/config/pbrpc/known_servers"
cat "$T/config/pbrpc/known_servers"
"$RPCC_BIN" keygen "$T/stranger" >/dev/null || exit 1

echo
echo "== the tour"
show echo hello world
show echo --upper hello world
show --accept-new --server "unix:$T/sock" echo over the unix socket
show time
show time --format '%Y-%m-%d %X'
show ping -c 1000
show list
show describe pbrpc.echo.Echo
show exec -- uname -sr
show -x 3 exec -- sh -c 'echo out; echo err >&2; exit 3'
show exec --shell 'ls / | head -3'
show -x 124 exec --timeout 1 -- sleep 30
show -x 127 exec -- no-such-program
head -c 3000000 /dev/urandom >"$T/local.bin"
show put -q "$T/local.bin" remote.bin
show ls -l
show stat remote.bin
show get -q remote.bin "$T/back.bin"
printf '$ cmp %s %s && echo identical\n' "$T/local.bin" "$T/back.bin"
cmp "$T/local.bin" "$T/back.bin" && echo identical || BAD=1
show -x 1 get ../../etc/passwd "$T/nope"
show -x 255 --key "$T/stranger" echo hello

echo
echo "== a second client with its own policy: read-only, no exec, its own root"
mkdir -p "$T/shared"
echo "for the laptop" >"$T/shared/readme.txt"
printf '$ rpcc keygen %s\n' "$T/laptop"
"$RPCC_BIN" keygen -C laptop "$T/laptop" | sed 's/^/  /'
line="read-only,no-exec,root=$T/shared $(cut -d' ' -f1,2 "$T/laptop.pub") laptop"
printf '$ echo %s >> %s; kill -HUP $(pidof rpcd)\n' "$(quote "$line")" "$T/authorized_keys"
echo "$line" >>"$T/authorized_keys"
kill -HUP "$RPCD_PID"
for _ in $(seq 1 100); do grep -q "SIGHUP: 2 authorized keys" "$T/rpcd.log" && break; sleep 0.05; done
show --key "$T/laptop" ls -l
show --key "$T/laptop" get readme.txt -
show -x 1 --key "$T/laptop" put "$T/local.bin" x.bin
show -x 126 --key "$T/laptop" exec -- id

echo
echo "== revoking it: remove its line, SIGHUP"
printf '$ sed -i /laptop$/d %s; kill -HUP $(pidof rpcd)\n' "$T/authorized_keys"
sed -i '/laptop$/d' "$T/authorized_keys"
kill -HUP "$RPCD_PID"
for _ in $(seq 1 100); do grep -q "SIGHUP: 1 authorized keys" "$T/rpcd.log" && break; sleep 0.05; done
show -x 255 --key "$T/laptop" echo hello
show echo still here

echo
echo "== stopping rpcd (SIGTERM)"
kill -TERM "$RPCD_PID"
wait "$RPCD_PID"
rc=$?
RPCD_PID=
echo "rpcd exited $rc; the last lines of its log:"
tail -n 8 "$T/rpcd.log" | sed 's/^/  | /'
[ "$rc" -eq 0 ] || BAD=1

if [ "$BAD" -ne 0 ]; then
	echo "demo: some commands did not behave as expected" >&2
	exit 1
fi
echo
echo "demo: done"
