#!/usr/bin/env bash
# File service hardening (issue 12, parts 5-7): upload part files are
# untrusted (a planted hard link or symlink is never written through) and
# private (no method may name them); put applies the client's mode under
# rpcd's umask, and mode/mtime 0 mean defaults; Get adapts its chunks to a
# client's smaller record limit; List pages with a cursor; put chunks above
# 1 MiB are refused; the documented outcomes of the odd cases.
. "$(dirname "$0")/../lib.sh"

# The byte-level client (badclient) speaks the shared key; rpcc here does too,
# so that both are the same client (part files belong to one client).
rpcc_identity() { "$RPCC" --key "$ID" --server-key "$HOST_KEY.pub" "$@"; }
rpcc() { "$RPCC" --key "$KEY" "$@"; }

CHUNK=$((1 << 20))
W=$T/work
OUT=$T/outside
mkdir -p "$W" "$OUT"

# Under the systemd unit's UMask=0077: nothing rpcd stores may be wider.
umask 077
start_rpcd h || exit 1
umask 022
R=$T/root-h
A=$ADDR_h

BAD=$T/badclient
SAN_FLAGS=
if nm "$B/lib/libpbrpc.a" 2>/dev/null | grep -q __asan_; then
	SAN_FLAGS="-fsanitize=address,undefined"
fi
cc -std=c11 -D_GNU_SOURCE -O2 $SAN_FLAGS -I"$ROOT/include" -I"$B/gen" "$ROOT/tests/file/badclient.c" \
	"$B/lib/libpbrpc.a" $(pkg-config --libs libprotobuf-c libsodium libuv) -lpthread \
	-o "$BAD" || fail "build badclient"

# wait_until SECONDS CMD...: polls CMD every 20 ms; returns 1 on timeout.
wait_until() {
	local limit=$(($1 * 50)) i
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}

part_files() { find "$R" -name '.pbrpc-put.*' 2>/dev/null; }
have_part() { [ -n "$(part_files)" ]; }
# rpcd has closed every part file (its abandoned upload's last job ran).
parts_closed() { ! ls -l "/proc/$PID_h/fd" 2>/dev/null | grep -q '\.pbrpc-put\.'; }
fingerprint() { echo "$(sha256sum <"$1") $(stat -c '%Y %h %a' "$1")"; }

# abandon REMOTE: an upload of $W/up to REMOTE that the client drops after its
# first 64 KiB; waits until rpcd kept and closed its part file.
abandon() {
	local got
	got=$("$BAD" "$A" "$KEY" abandon "$W/up" "$1" 2>&1)
	[ "$got" = OK ] || echo "abandon: $got" >&2
	wait_until 20 have_part && wait_until 20 parts_closed
}

# put_continue REMOTE: rpcc put --continue of $W/up; retried while rpcd still
# lists the dropped upload as running (ABORTED: nothing was touched).
put_continue() {
	local i out rc
	for i in $(seq 1 100); do
		out=$(rpcc --server "$A" put -q --continue "$W/up" "$1" 2>&1)
		rc=$?
		grep -q '(ABORTED)' <<<"$out" || break
		sleep 0.05
	done
	[ -n "$out" ] && echo "$out" >&2
	return $rc
}

head -c $((3 * CHUNK + 12345)) /dev/urandom >"$W/up"
touch -d '2020-01-02 03:04:05' "$W/up"

# ---- part files belong to the client that made them -------------------------------------
if abandon private; then
	other=$(rpcc_identity --server "$A" put -q --continue "$W/up" private 2>&1)
	check "another client's put --continue of the same file succeeds" test -z "$other"
	check "... starting from 0: the first client's part file was not its to resume" \
		grep -q "tester SHA256:.* put private: $(stat -c %s "$W/up") bytes from 0" "$LOG_h"
	check "... which stays, for its owner" have_part
	check "the owner resumes it" put_continue private
	expect_eq "... and leaves no part file" "" "$(part_files)"
else
	fail "private: the abandoned upload kept no part file"
fi

# ---- part 5: a hard link planted under the part-file name ------------------------------
echo "outside the root: must never change" >"$OUT/victim"
touch -d '2010-05-06 07:08:09' "$OUT/victim"
victim_before=$(fingerprint "$OUT/victim")
if abandon linked; then
	part=$(part_files | head -1)
	check "the part file's name carries the client's tag" \
		grep -Eq '/\.pbrpc-put\.[0-9a-f]{16}-[0-9a-f]{32}\.part$' <<<"$part"
	ln -f "$OUT/victim" "$part"
	check "put --continue over a planted hard link succeeds" put_continue linked
	check "... and stores the file byte for byte" cmp -s "$W/up" "$R/linked"
	expect_eq "... and leaves the linked file outside as it was (content, mtime, links)" \
		"$victim_before" "$(fingerprint "$OUT/victim")"
	expect_eq "... and leaves no part file" "" "$(part_files)"
else
	fail "hard link: the abandoned upload kept no part file"
fi

# ---- a symlink planted under the part-file name ----------------------------------------
echo "outside too" >"$OUT/victim2"
victim2_before=$(fingerprint "$OUT/victim2")
if abandon symlinked; then
	part=$(part_files | head -1)
	ln -sf "$OUT/victim2" "$part"
	check "put --continue over a planted symlink succeeds" put_continue symlinked
	check "... and stores the file byte for byte" cmp -s "$W/up" "$R/symlinked"
	expect_eq "... and leaves the symlink's target alone" "$victim2_before" \
		"$(fingerprint "$OUT/victim2")"
	expect_eq "... and leaves no part file" "" "$(part_files)"
else
	fail "symlink: the abandoned upload kept no part file"
fi

# ---- part files are invisible to every method ------------------------------------------
if abandon private; then
	part=$(part_files | head -1)
	name=${part##*/}
	expect_refused() { # NAME rpcc-args...
		local what=$1 got
		shift
		got=$(rpcc --server "$A" "$@" 2>&1 </dev/null)
		if [ $? -ne 0 ] && grep -q '(INVALID_ARGUMENT)' <<<"$got"; then
			pass "refused: $what"
		else
			fail "refused: $what" "got: $got"
		fi
	}
	expect_refused "get of a part file" get "$name" "$W/stolen"
	expect_refused "get of a part file from an offset" get --continue "$name" "$W/stolen"
	expect_refused "stat of a part file" stat "$name"
	expect_refused "put onto a part file's name" put "$W/up" "$name"
	mkdir "$R/.pbrpc-put.dir" && echo x >"$R/.pbrpc-put.dir/inner"
	expect_refused "get through a reserved directory name" get .pbrpc-put.dir/inner "$W/stolen"
	expect_refused "ls of a reserved directory name" ls .pbrpc-put.dir
	expect_refused "put into a reserved directory name" put "$W/up" .pbrpc-put.dir/new
	check "nothing of the part file reached the client" test ! -s "$W/stolen"
	expect_eq "ls does not show it" "" "$(rpcc --server "$A" ls -l . 2>&1 | grep pbrpc-put)"
	rm -rf "$R/.pbrpc-put.dir"
	check "the owner resumes it" put_continue private
	check "... byte for byte" cmp -s "$W/up" "$R/private"
else
	fail "private: the abandoned upload kept no part file"
fi

# ---- part 6: the mode under rpcd's umask (077) ------------------------------------------
echo wide >"$W/m777"
chmod 777 "$W/m777"
echo usual >"$W/m644"
chmod 644 "$W/m644"
rpcc --server "$A" put -q "$W/m777" m777
rpcc --server "$A" put -q "$W/m644" m644
expect_eq "put 0777 under umask 077 stores 0700" 700 "$(stat -c %a "$R/m777" 2>&1)"
expect_eq "put 0644 under umask 077 stores 0600" 600 "$(stat -c %a "$R/m644" 2>&1)"

# ---- part 7: mode 0 and mtime 0 mean defaults --------------------------------------------
t0=$(date +%s)
expect_eq "put with mode 0 and mtime 0: OK" OK "$("$BAD" "$A" "$KEY" meta0 zero 2>&1)"
expect_eq "... stored with mode 0644 under the umask (0600)" 600 "$(stat -c %a "$R/zero" 2>&1)"
m=$(stat -c %Y "$R/zero" 2>/dev/null || echo 0)
check "... dated now, not 1970 (mtime $m, test started $t0)" test "$m" -ge "$((t0 - 5))"

# ---- Get adapts to the client's record limit ---------------------------------------------
head -c $((3 * CHUNK + 123)) /dev/urandom >"$R/big"
for rec in 65536 1024; do
	got=$("$BAD" "$A" "$KEY" get big "$rec" 0 "$W/big-$rec" 2>"$W/get-$rec.err")
	expect_eq "get with max_record $rec: OK" OK "$got"
	check "... byte for byte" cmp -s "$R/big" "$W/big-$rec"
	largest=$(sed -n 's/.*largest \([0-9]*\).*/\1/p' "$W/get-$rec.err")
	check "... in data messages that fit ($largest bytes, limit $rec)" test "${largest:-$rec}" -lt "$rec"
done
got=$("$BAD" "$A" "$KEY" get big 4194304 0 "$W/big-default" 2>"$W/get-default.err")
expect_eq "get with the default record limit: OK" OK "$got"
check "... still in 1 MiB chunks" grep -q "largest $CHUNK\$" "$W/get-default.err"
expect_eq "get from past the end: OUT_OF_RANGE" OUT_OF_RANGE \
	"$("$BAD" "$A" "$KEY" get big 65536 $((3 * CHUNK + 124)) "$W/past" 2>/dev/null)"
expect_eq "get from exactly the end: OK, no data" OK \
	"$("$BAD" "$A" "$KEY" get big 65536 $((3 * CHUNK + 123)) "$W/at-end" 2>/dev/null)"

# ---- List in pages --------------------------------------------------------------------------
mkdir "$R/many"
(cd "$R/many" && seq -f 'f%05g' 0 20004 | xargs touch && mkdir sub && touch 'with space')
touch "$R/many/.pbrpc-put.0123456789abcdef-0123456789abcdef0123456789abcdef.part"
want=$(cd "$R/many" && ls -A | grep -v '^\.pbrpc-put\.' | LC_ALL=C sort)
got=$(rpcc --server "$A" ls many 2>"$W/ls.err")
expect_eq "rpcc ls pages through all $(wc -l <<<"$want") entries" "$(wc -l <<<"$want")" "$(wc -l <<<"$got")"
check "... every name once, in byte order" test "$want" = "$got"
expect_eq "... and says nothing was cut" "" "$(cat "$W/ls.err")"
got=$("$BAD" "$A" "$KEY" list many 1024 2>"$W/list.err")
expect_eq "List with max_record 1024: OK" OK "$(tail -1 <<<"$got")"
check "... every name once, in byte order" test "$want" = "$(sed '$d' <<<"$got")"
pages=$(sed -n 's/^pages //p' "$W/list.err")
check "... in many pages ($pages)" test "${pages:-0}" -gt 100

# ---- chunk sizes ------------------------------------------------------------------------------
expect_eq "put in 1 MiB messages: OK" OK "$("$BAD" "$A" "$KEY" chunks max1m 4 1024 2>&1)"
expect_eq "put in 3 MiB messages: INVALID_ARGUMENT" INVALID_ARGUMENT \
	"$("$BAD" "$A" "$KEY" chunks big3m 6 3072 2>/dev/null)"
check "... and stores nothing" test ! -e "$R/big3m"

# ---- the other outcomes the protocol states -------------------------------------------------
out=$(rpcc --server "$A" put "$W/m644" nodir/file 2>&1)
check "put into a missing directory: NOT_FOUND" grep -q 'nodir.*(NOT_FOUND)' <<<"$out"
expect_eq "put without a checksum: INVALID_ARGUMENT" INVALID_ARGUMENT \
	"$("$BAD" "$A" "$KEY" nosum nosum 2>/dev/null)"
check "... and stores nothing" test ! -e "$R/nosum"
expect_eq "no part file is left behind" "" "$(part_files | grep -v '/many/')"

finish
