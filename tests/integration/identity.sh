#!/usr/bin/env bash
# Client identities (protocol 2): per-key policies, revocation on SIGHUP,
# pinned server keys, and every bad authorized_keys / known_servers input.
. "$(dirname "$0")/../lib.sh"

# keyline FILE: the "x25519 BASE64" of an identity's .pub.
keyline() { cut -d' ' -f1,2 "$1.pub"; }
for who in alice bob carol dave erin; do "$RPCC" keygen -C "$who" "$T/$who" >/dev/null; done
# as WHO ARGS...: rpcc with WHO's identity, pinning the test host key.
as() {
	local who=$1
	shift
	"$RPCC" --key "$T/$who" --server-key "$HOST_KEY.pub" "$@"
}

mkdir -p "$T/bobroot"
echo "bob's own" >"$T/bobroot/mine.txt"
cat >"$T/ak" <<AK
# alice may do everything; bob only reads, and only beneath his own root
$(keyline "$T/alice") alice
$(keyline "$ID") tester
read-only,no-exec $(keyline "$T/bob") bob
services=pbrpc.echo.Echo,max-calls=4 $(keyline "$T/dave") dave
from=10.0.0.0/8:[fd00::]/8 $(keyline "$T/erin") erin
AK
start_rpcd id --authorized-keys "$T/ak" || exit 1
A=$ADDR_id
echo "hello" >"$T/src.txt"

# --- two clients, two policies ----------------------------------------------
expect_eq "alice: echo" "hi" "$(as alice --server "$A" echo hi)"
check "alice: put" as alice --server "$A" put "$T/src.txt" a.txt
expect_eq "alice: exec" "ok" "$(as alice --server "$A" exec -- echo ok)"
out=$(as bob --server "$A" put "$T/src.txt" b.txt 2>&1)
rc=$?
expect_eq "bob (read-only): put exits 1" 1 "$rc"
check "bob: put is PERMISSION_DENIED, naming read-only" grep -q "read-only.*PERMISSION_DENIED" <<<"$out"
check "bob: nothing written" test ! -e "$T/root-id/b.txt"
out=$(as bob --server "$A" exec -- touch "$T/root-id/c.txt" 2>&1)
rc=$?
check "bob (no-exec): exec refused" grep -q "exec is off for key bob.*PERMISSION_DENIED" <<<"$out"
check "bob: exec exits non-zero and ran nothing" test "$rc" -ne 0 -a ! -e "$T/root-id/c.txt"
expect_eq "bob: get works" "hello" "$(as bob --server "$A" get a.txt - 2>&1)"
check "the server log names each client" grep -q "alice SHA256:" "$LOG_id"

# --- an unknown key ------------------------------------------------------------
out=$(as carol --server "$A" echo hi 2>&1)
rc=$?
expect_eq "unknown key: exit 255" 255 "$rc"
check "unknown key: client told 'not authorized'" grep -q "not authorized" <<<"$out"
carol_fp=$("$RPCC" keygen --help >/dev/null; ssh_fp() { :; }; sed -n 's/.*key \(SHA256:[^ ]*\) is not in.*/\1/p' <<<"$out")
check "unknown key: its fingerprint in the server log" grep -q "refused key $carol_fp" "$LOG_id"

# --- services=, max-calls=, from= ------------------------------------------------
expect_eq "services=: the listed service works" "x" "$(as dave --server "$A" echo x)"
out=$(as dave --server "$A" time 2>&1)
check "services=: another service is PERMISSION_DENIED" \
	grep -q "may not call pbrpc.time.Time (services=).*PERMISSION_DENIED" <<<"$out"
out=$(as erin --server "$A" echo hi 2>&1)
rc=$?
expect_eq "from=: a key used from elsewhere exits 255" 255 "$rc"
check "from=: refused naming the address" grep -q "not authorized from 127.0.0.1" <<<"$out"
out=$(as erin --server "$SOCK_id" echo hi 2>&1)
check "from=: a Unix-socket client does not match a from= list" grep -q "not authorized from unix" <<<"$out"

# --- root=: a key confined to its own directory ----------------------------------
printf '/usr/bin/env\n' >"$T/eve-allow"
cat >"$T/ak-root" <<AK
root=$T/bobroot $(keyline "$T/bob") bob
exec-allow=$T/eve-allow,env=LC_*:TZ $(keyline "$T/erin") eve
AK
start_rpcd rt --authorized-keys "$T/ak-root" || exit 1
echo top >"$T/root-rt/top.txt"
expect_eq "root=: get reads the key's root" "bob's own" "$(as bob --server "$ADDR_rt" get mine.txt - 2>&1)"
out=$(as bob --server "$ADDR_rt" get top.txt - 2>&1)
check "root=: the server's root is out of reach" grep -q "NOT_FOUND" <<<"$out"
check "root=: put lands in the key's root" as bob --server "$ADDR_rt" put "$T/src.txt" new.txt
check "root=: ... and not in the server's" test -e "$T/bobroot/new.txt" -a ! -e "$T/root-rt/new.txt"
expect_eq "root=: exec runs in the key's root" "$T/bobroot" "$(as bob --server "$ADDR_rt" exec -- pwd 2>&1)"
out=$(as bob --server "$ADDR_rt" get ../root-rt/top.txt - 2>&1)
check "root=: no escape with .." grep -q "not allowed in paths (PERMISSION_DENIED)" <<<"$out"

# --- exec-allow= and env=: a key's own exec policy, narrower than the server's --------
expect_eq "exec-allow=: a listed program runs" "TZ=UTC" \
	"$(as erin --server "$ADDR_rt" exec --env TZ=UTC -- /usr/bin/env 2>&1 | grep '^TZ=')"
out=$(as erin --server "$ADDR_rt" exec -- /usr/bin/id 2>&1)
check "exec-allow=: any other program is PERMISSION_DENIED" grep -q "allow-list.*PERMISSION_DENIED" <<<"$out"
out=$(as erin --server "$ADDR_rt" exec --env LC_ALL=C -- /usr/bin/env 2>&1)
check "env=: a name its globs accept (LC_*) is set" grep -q "^LC_ALL=C$" <<<"$out"
out=$(as erin --server "$ADDR_rt" exec --env TAR_OPTIONS=--x -- /usr/bin/env 2>&1)
check "env=: any other name is refused, naming it" grep -q "TAR_OPTIONS.*PERMISSION_DENIED" <<<"$out"
expect_eq "env=: ... and the other key (bob, no exec policy of its own) is unaffected" \
	"TAR_OPTIONS=--x" "$(as bob --server "$ADDR_rt" exec --env TAR_OPTIONS=--x -- /usr/bin/env 2>&1 | grep '^TAR_OPTIONS=')"

# --- pinned server keys -------------------------------------------------------------
"$RPCC" keygen "$T/otherhost" >/dev/null
out=$("$RPCC" --key "$T/alice" --server-key "$T/otherhost.pub" --server "$A" echo hi 2>&1)
rc=$?
expect_eq "another server's key given: exit 255" 255 "$rc"
check "another server's key given: 'server key changed'" grep -q "server key changed" <<<"$out"
check "... and our identity was never sent (no authentication logged)" \
	bash -c "! grep -q 'alice.*authenticated' <(sed -n '/otherhost/,\$p' '$LOG_id')"
kh=$T/known
out=$("$RPCC" --key "$T/alice" --known-servers "$kh" --server "$A" echo hi 2>&1)
rc=$?
expect_eq "unknown server: exit 255" 255 "$rc"
check "unknown server: its fingerprint and how to accept it" grep -q "unknown server.*SHA256:.*--accept-new" <<<"$out"
out=$("$RPCC" --key "$T/alice" --known-servers "$kh" --accept-new --server "$A" echo hi 2>&1)
check "--accept-new pins it and connects" grep -q "^hi$" <<<"$out"
check "--accept-new says so" grep -q "added $A (SHA256:" <<<"$out"
expect_eq "known_servers holds one line for it" 1 "$(grep -c "^$A x25519 " "$kh")"
expect_eq "a pinned server needs no flag" "hi" "$("$RPCC" --key "$T/alice" --known-servers "$kh" --server "$A" echo hi)"
# The server comes back with a new host key: refused loudly, even with --accept-new.
sed -i "s|^$A x25519 .*|$A $(keyline "$T/otherhost")|" "$kh"
out=$("$RPCC" --key "$T/alice" --known-servers "$kh" --accept-new --server "$A" echo hi 2>&1)
rc=$?
expect_eq "changed server key: exit 255 even with --accept-new" 255 "$rc"
check "changed server key: 'server key changed' naming the pinned line" \
	grep -q "server key changed.*$kh:1" <<<"$out"

# --- revocation -------------------------------------------------------------------------
cp "$T/ak" "$T/ak.orig"
as alice --server "$A" exec -- sh -c 'echo started; exec sleep 30' >"$T/revoked.out" 2>"$T/revoked.err" &
victim=$!
wait_for 60 grep -q started "$T/revoked.out"
grep -v " alice$" "$T/ak.orig" >"$T/ak"
t0=$(date +%s%N)
kill -HUP "$PID_id"
wait_for 60 process_gone "$victim"
t1=$(date +%s%N)
if ! process_gone "$victim"; then
	fail "revoked: the running exec ended" "still running 60 s after SIGHUP"
	kill "$victim"
else
	pass "revoked: the running exec ended ($(((t1 - t0) / 1000000)) ms after SIGHUP)"
fi
wait "$victim"
expect_eq "revoked: rpcc exec exits 255" 255 "$?"
check "revoked: logged with the client's name" grep -q "alice.*revoked" "$LOG_id"
out=$(as alice --server "$A" echo hi 2>&1)
rc=$?
expect_eq "revoked: cannot reconnect (exit 255)" 255 "$rc"
check "revoked: told 'not authorized'" grep -q "not authorized" <<<"$out"
expect_eq "revoked: the other client is unaffected" "hello" "$(as bob --server "$A" get a.txt - 2>&1)"

# A broken file on SIGHUP keeps the keys in force and says where.
printf 'x25519 AAAA bad\n' >>"$T/ak"
kill -HUP "$PID_id"
wait_for 60 grep -q "keeping the authorized keys" "$LOG_id"
check "broken reload: logged FILE:LINE, old keys kept" grep -q "keeping the authorized keys in force: $T/ak:[0-9]*:" "$LOG_id"
expect_eq "broken reload: bob still gets in" "hello" "$(as bob --server "$A" get a.txt - 2>&1)"

# Reloads while 100 calls are in flight (100 threads on one connection):
# none of them fails.
cp "$T/ak.orig" "$T/ak"
"$B/tests/fault_threads" "$A" "$T/alice" 100 100 "$HOST_KEY.pub" >"$T/threads.out" 2>&1 &
loader=$!
reloads=0
while kill -0 "$loader" 2>/dev/null && [ "$reloads" -lt 50 ]; do
	kill -HUP "$PID_id"
	reloads=$((reloads + 1))
	sleep 0.02
done
wait "$loader"
rc=$?
expect_eq "reloads during 100 calls in flight: every call succeeds" 0 "$rc"
check "... every reply was the caller's own" bash -c "! grep -q '^FAIL' '$T/threads.out'"

# --- bad files are refused at startup, naming FILE:LINE ---------------------------------------
bad_start() {
	local name=$1 content=$2 want=$3
	printf '%s\n' "$content" >"$T/bad-ak"
	out=$("$RPCD" --listen 127.0.0.1:0 --host-key "$HOST_KEY" --authorized-keys "$T/bad-ak" \
		--root "$T" 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "$T/bad-ak:$want" <<<"$out"; then
		pass "bad authorized_keys: $name"
	else
		fail "bad authorized_keys: $name" "rc=$rc, want 1 and '$T/bad-ak:$want'" "$out"
	fi
}
good=$(keyline "$T/alice")
other=$(keyline "$T/bob")
bad_start "unknown option" "no-such-thing $good a" "1: unknown option 'no-such-thing'"
bad_start "wrong key type" "ssh-ed25519 AAAAC3Nza a" "1: unknown key type"
bad_start "key too short" "x25519 AAAA a" "1: bad x25519 key"
bad_start "key not base64" "x25519 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!= a" "1: bad x25519 key"
bad_start "missing name" "$good" "1: each key needs a NAME"
bad_start "name with a blank after it" "$good a b" "1: each key needs a NAME"
bad_start "key listed twice" "$(printf '%s a\n# c\n%s b' "$good" "$good")" "3: key listed twice (first on line 1)"
bad_start "name used twice" "$(printf '%s a\n%s a' "$good" "$other")" "2: name 'a' used twice"
bad_start "bad from=" "from=10.0.0.300 $good a" "1: from: '10.0.0.300'"
bad_start "missing root=" "root=$T/nowhere $good a" "1: root=$T/nowhere"
bad_start "bad max-calls=" "max-calls=0 $good a" "1: max-calls must be"
bad_start "option without its value" "services= $good a" "1: services needs a value"
bad_start "bad env= name" "env=LC_*:1BAD $good a" "1: env: "
bad_start "missing exec-allow= file" "exec-allow=$T/nowhere $good a" "1: exec-allow: "
out=$("$RPCD" --listen 127.0.0.1:0 --host-key "$HOST_KEY" --authorized-keys "$T/missing" --root "$T" 2>&1)
check "a missing --authorized-keys file is refused" grep -q "$T/missing: No such file" <<<"$out"

# --- secret files that are too open ----------------------------------------------------------
cp "$T/alice" "$T/loose"
chmod 644 "$T/loose"
out=$("$RPCC" --key "$T/loose" --server-key "$HOST_KEY.pub" --server "$A" echo hi 2>&1)
rc=$?
expect_eq "an identity others can read: exit 255" 255 "$rc"
check "... says chmod 600" grep -q "chmod 600 $T/loose" <<<"$out"
cp "$HOST_KEY" "$T/loosehost"
chmod 640 "$T/loosehost"
out=$("$RPCD" --listen 127.0.0.1:0 --host-key "$T/loosehost" --authorized-keys "$T/ak" --root "$T" 2>&1)
check "a host key others can read is refused" grep -q "accessible by group or others" <<<"$out"
out=$("$RPCC" keygen "$T/alice" 2>&1)
check "keygen never overwrites an identity" grep -q "already exists" <<<"$out"

stop_rpcd_checked id "identities"
finish
