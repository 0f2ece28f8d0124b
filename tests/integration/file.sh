#!/usr/bin/env bash
# File service: round trips, streams, mode/mtime, every escape we can think
# of, interrupted put/get, a corrupted upload, concurrency with echo still
# answered, and a large sparse file moved with bounded memory.
. "$(dirname "$0")/../lib.sh"

CHUNK=$((1 << 20))
# make test streams 1G (16 times the memory bound); make soak past 4 GiB.
SPARSE_SIZE=${FILE_TEST_SPARSE:-1G}
W=$T/work
OUT=$T/outside
mkdir -p "$W" "$OUT"

start_rpcd f || exit 1
R=$T/root-f
A=$ADDR_f

# The test client that sends what rpcc never would (bad checksum, NUL paths).
BAD=$T/badclient
SAN_FLAGS=
MEM_LIMIT_KB=65536
if nm "$B/lib/libpbrpc.a" 2>/dev/null | grep -q __asan_; then
	# ASan's shadow memory and quarantine, and its slower code, move the bounds.
	SAN_FLAGS="-fsanitize=address,undefined"
	MEM_LIMIT_KB=$((512 * 1024))
fi
cc -std=c11 -D_GNU_SOURCE -O2 $SAN_FLAGS -I"$ROOT/include" -I"$B/gen" "$ROOT/tests/file/badclient.c" \
	"$B/lib/libpbrpc.a" $(pkg-config --libs libprotobuf-c libsodium libuv) -lpthread \
	-o "$BAD" || fail "build badclient"

# wait_until SECONDS CMD...: polls CMD; returns 1 if it is not true within
# SECONDS of wall time (tests/lib.sh wait_for: a safety net, not a speed).
wait_until() { wait_for "$@"; }

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
nonempty() { [ "$(file_size "$1")" -gt 0 ]; }
# visible_files DIR: what a user would see there, hidden files included.
visible_files() { (cd "$1" && find . -mindepth 1 | sort); }

# ---- round trips ---------------------------------------------------------------
for n in 0 1 $((CHUNK - 1)) $CHUNK $((CHUNK + 1)) $((100 * 1000 * 1000)); do
	head -c "$n" /dev/urandom >"$W/src-$n"
	if rpcc --server "$A" put -q "$W/src-$n" "rt-$n" &&
		rpcc --server "$A" get -q "rt-$n" "$W/back-$n" &&
		cmp -s "$W/src-$n" "$R/rt-$n" && cmp -s "$W/src-$n" "$W/back-$n"; then
		pass "round trip of $n bytes"
	else
		fail "round trip of $n bytes"
	fi
done
rm -f "$W"/back-*
expect_eq "no part file left after get" "" "$(find "$W" -name '*.pbrpc-part')"
expect_eq "no temporary file left after put" "" "$(find "$R" -name '.pbrpc-put.*')"

# ---- stdin and stdout -------------------------------------------------------------
n=$((3 * CHUNK + 17))
if head -c $n /dev/urandom | tee "$W/piped" | rpcc --server "$A" put -q - from-stdin &&
	cmp -s "$W/piped" "$R/from-stdin"; then pass "put from stdin"; else fail "put from stdin"; fi
if rpcc --server "$A" get -q from-stdin - | cmp -s - "$W/piped"; then
	pass "get to stdout"
else
	fail "get to stdout"
fi

# ---- mode and mtime, both ways ----------------------------------------------------
echo "kept" >"$W/meta"
chmod 640 "$W/meta"
touch -d '2001-02-03 04:05:06.123456789' "$W/meta"
rpcc --server "$A" put -q "$W/meta" meta
expect_eq "put keeps mode and mtime" "$(stat -c '%a %y' "$W/meta")" "$(stat -c '%a %y' "$R/meta")"
chmod 604 "$R/meta"
touch -d '1999-12-31 23:59:58.5' "$R/meta"
rpcc --server "$A" get -q meta "$W/meta-back"
expect_eq "get keeps mode and mtime" "$(stat -c '%a %y' "$R/meta")" \
	"$(stat -c '%a %y' "$W/meta-back")"

# ---- ls and stat, and the errors that name the path ----------------------------
mkdir -p "$R/dir/sub"
echo hi >"$R/dir/a.txt"
expect_eq "ls lists a directory" "a.txt
sub" "$(rpcc --server "$A" ls dir)"
check "ls -l shows mode, size and a / on directories" \
	grep -q '^drwx.* sub/$' <<<"$(rpcc --server "$A" ls -l dir)"
check "stat shows size" grep -q 'Size: 3' <<<"$(rpcc --server "$A" stat dir/a.txt)"
out=$(rpcc --server "$A" get nothere "$W/x" 2>&1)
expect_eq "missing file: exit 1" 1 $?
check "missing file: NOT_FOUND naming the path" grep -q 'nothere.*(NOT_FOUND)' <<<"$out"
out=$(rpcc --server "$A" get dir "$W/x" 2>&1)
check "a directory to get: FAILED_PRECONDITION" grep -q 'dir.*(FAILED_PRECONDITION)' <<<"$out"
out=$(rpcc --server "$A" put "$W/meta" dir/sub/ 2>&1 && rpcc --server "$A" stat dir/sub/meta)
check "put into a directory uses the local name" grep -q 'Size: 5' <<<"$out"
echo new >"$W/new"
out=$(rpcc --server "$A" put --no-clobber "$W/new" dir/a.txt 2>&1)
check "--no-clobber: ALREADY_EXISTS" grep -q '(ALREADY_EXISTS)' <<<"$out"
expect_eq "--no-clobber left the file" "hi" "$(cat "$R/dir/a.txt")"
check "without --no-clobber put replaces" rpcc --server "$A" put -q "$W/new" dir/a.txt
expect_eq "replaced" "new" "$(cat "$R/dir/a.txt")"
[ "$(id -u)" != 0 ] && {
	echo secret >"$R/locked" && chmod 000 "$R/locked"
	out=$(rpcc --server "$A" get locked "$W/x" 2>&1)
	check "no permission: PERMISSION_DENIED" grep -q '(PERMISSION_DENIED)' <<<"$out"
}

# ---- escapes -------------------------------------------------------------------------
echo "outside secret" >"$OUT/canary"
canary_sum=$(sha256sum <"$OUT/canary")
before=$(visible_files "$OUT")
ln -s "$OUT/canary" "$R/link-file"
ln -s "$OUT" "$R/link-dir"
ln -s /etc "$R/link-etc"
ln -s ../../.. "$R/dir/sub/up"
ESC=$T/escape-target
expect_refused() { # NAME STATUS-REGEX rpcc-args...
	local name=$1 want=$2 got
	shift 2
	got=$(rpcc --server "$A" "$@" 2>&1 </dev/null)
	if [ $? -ne 0 ] && grep -Eq "\\(($want)\\)" <<<"$got"; then
		pass "refused: $name"
	else
		fail "refused: $name" "got: $got"
	fi
}
expect_refused "get absolute" INVALID_ARGUMENT get /etc/passwd "$ESC"
expect_refused "put absolute" INVALID_ARGUMENT put "$W/new" "$OUT/new"
expect_refused "get .." PERMISSION_DENIED get ../outside/canary "$ESC"
expect_refused "get a/../../x" PERMISSION_DENIED get dir/../../outside/canary "$ESC"
expect_refused "put .." PERMISSION_DENIED put "$W/new" ../outside/new
expect_refused "put a/../../x" PERMISSION_DENIED put "$W/new" dir/../../outside/new
expect_refused "ls .." PERMISSION_DENIED ls ..
expect_refused "stat .." PERMISSION_DENIED stat ../outside/canary
expect_refused "get via symlink to a file outside" PERMISSION_DENIED get link-file "$ESC"
expect_refused "get via symlink to a dir outside" PERMISSION_DENIED get link-dir/canary "$ESC"
expect_refused "get /etc via symlink" PERMISSION_DENIED get link-etc/passwd "$ESC"
expect_refused "get via relative symlink up" PERMISSION_DENIED get dir/sub/up/outside/canary "$ESC"
expect_refused "put through symlink to a dir outside" PERMISSION_DENIED put "$W/new" link-dir/new
expect_refused "ls symlink to a dir outside" PERMISSION_DENIED ls link-dir
expect_refused "stat through symlink outside" PERMISSION_DENIED stat link-dir/canary
expect_refused "put of a reserved temp name" INVALID_ARGUMENT put "$W/new" .pbrpc-put.x.part
# Encoded dots are just characters: the path stays inside.
expect_refused "get %2e%2e is literal (not found)" NOT_FOUND get %2e%2e/outside/canary "$ESC"
rpcc --server "$A" put -q "$W/new" %2e%2e
expect_eq "put %2e%2e makes a file of that name inside" "new" "$(cat "$R/%2e%2e" 2>&1)"
# A NUL byte cannot be in argv: the test client sends it.
expect_eq "NUL in the path is refused by every method" \
	"stat INVALID_ARGUMENT list INVALID_ARGUMENT get INVALID_ARGUMENT put INVALID_ARGUMENT" \
	"$("$BAD" "$A" "$KEY" nul | tr '\n' ' ' | sed 's/ $//')"
# Replacing a symlink that points out replaces the link, never its target.
rpcc --server "$A" put -q "$W/new" link-file
check "put onto a symlink replaced the link" test ! -L "$R/link-file"

# The race: a directory swapped for a symlink out while gets run (bounded).
race_loop() {
	local end=$((SECONDS + 4))
	while [ $SECONDS -lt $end ]; do
		rm -rf "$R/race"
		mkdir "$R/race" && echo inside >"$R/race/canary"
		rm -rf "$R/race"
		ln -s "$OUT" "$R/race"
	done
}
race_loop &
racer=$!
leaked=0 served=0
for i in $(seq 1 150); do
	if got=$(rpcc --server "$A" get -q race/canary - 2>/dev/null); then
		served=$((served + 1))
		# "" is fine too: the file inside, caught before its write.
		[ "$got" != "inside" ] && [ -n "$got" ] && leaked=$((leaked + 1))
	fi
done
wait "$racer"
expect_eq "symlink race: nothing from outside was served ($served gets ok)" 0 "$leaked"
expect_eq "canary unchanged" "$canary_sum" "$(sha256sum <"$OUT/canary")"
expect_eq "no new files outside the root" "$before" "$(visible_files "$OUT")"
check "no file at the escape target" test ! -e "$ESC"
expect_eq "nothing written beside the root" "" \
	"$(find "$T" -maxdepth 1 -newer "$KEY" -name 'new*' 2>/dev/null)"

# ---- a corrupted upload ---------------------------------------------------------------
head -c $((2 * CHUNK)) /dev/urandom >"$R/precious"
sum_before=$(sha256sum <"$R/precious")
expect_eq "corrupted chunk: DATA_LOSS" DATA_LOSS "$("$BAD" "$A" "$KEY" corrupt precious 2>/dev/null)"
expect_eq "short upload: DATA_LOSS" DATA_LOSS "$("$BAD" "$A" "$KEY" short precious 2>/dev/null)"
# 16 KiB messages (rpcc sends 1 MiB): many small records behind every pause of
# the put. A 1 GiB run of this closed the connection before the fix in conn.c.
expect_eq "put in 16 KiB messages: OK" OK "$("$BAD" "$A" "$KEY" chunks small16k 64 16 2>&1)"
# 1 MiB messages, the largest a put takes (3 MiB ones are refused since, see
# file_hardening.sh): the put pauses and resumes within the same records,
# read through the connection's own buffer (reading once stopped for good).
expect_eq "put in 1 MiB messages: OK" OK \
	"$(timeout 60 "$BAD" "$A" "$KEY" chunks big1m 48 1024 2>&1)"
expect_eq "corrupted upload replaced nothing" "$sum_before" "$(sha256sum <"$R/precious")"
expect_eq "corrupted upload left no temporary file" "" "$(find "$R" -name '.pbrpc-put.*')"

# ---- kill the client mid-put ------------------------------------------------------------
echo "the old content" >"$R/victim"
# The stream stays open, without a fixed sleep, until the test releases it.
(
	head -c $((5 * CHUNK)) /dev/urandom
	wait_for 120 test -e "$W/release-stream"
) | "$RPCC" --key "$KEY" --server "$A" put -q - victim &
putter=$!
if wait_until 60 bash -c "find '$R' -name '.pbrpc-put.*' -size +1k | grep -q ."; then
	kill -9 $putter
	touch "$W/release-stream" # (bash's wait waits for the whole pipeline)
	wait $putter 2>/dev/null
	wait_until 30 bash -c "! find '$R' -name '.pbrpc-put.*' | grep -q ."
	expect_eq "killed put: old file intact" "the old content" "$(cat "$R/victim")"
	expect_eq "killed stream put: no partial file left" "" "$(find "$R" -name '.pbrpc-put.*')"
else
	signal_own KILL "$putter"
	touch "$W/release-stream"
	fail "killed put: upload never started"
fi
# A sized upload keeps what arrived, hidden, and --continue sends only the rest.
# 64 MiB is plenty: the client is killed while rpcd, stopped (tests/lib.sh
# stopped_when), holds at most a quarter of it, so no poll can miss the
# upload or race its end; over the Unix socket, what the client had written
# but rpcd not yet read (a few hundred KiB) cannot complete it either.
BIG=$((64 * CHUNK))
truncate -s $BIG "$W/big"
printf 'head' | dd of="$W/big" conv=notrunc status=none
printf 'tail' | dd of="$W/big" bs=1 seek=$((BIG - 4)) conv=notrunc status=none
echo "old big" >"$R/big"
# part_between_1m_16m DIR: one upload's part file, more than 1 MiB long and
# at least 1 MiB short of the whole (a fast machine writes tens of MiB
# between two of stopped_when's slices, so the window is wide).
part_between_1m_16m() {
	[ "$(find "$1" -maxdepth 1 -name '.pbrpc-put.*' -size +1024k -size -$((63 * 1024))k |
		wc -l)" = 1 ]
}
freeze "$PID_f"
"$RPCC" --key "$KEY" --server "$SOCK_f" put -q "$W/big" big &
putter=$!
CLIENTS=("$putter")
if stopped_when "$PID_f" 120 part_between_1m_16m "$R"; then
	kill -9 $putter
	wait $putter 2>/dev/null
	thaw "$PID_f"
	# rpcd has let go of the part file: the dropped upload is over.
	part_released() { ! holds_file "$PID_f" '*/.pbrpc-put.*'; }
	wait_until 60 part_released
	expect_eq "killed sized put: old file intact" "old big" "$(cat "$R/big")"
	expect_eq "killed sized put: only the hidden temporary file" "1" \
		"$(find "$R" -maxdepth 1 -name '.pbrpc-put.*' | wc -l)"
	check "put --continue finishes it" timeout 120 "$RPCC" --key "$KEY" --server "$A" \
		put -q --continue "$W/big" big
	check "resumed put is byte for byte" cmp -s "$W/big" "$R/big"
	check "resumed put started past 0" grep -Eq 'put big: [0-9]+ bytes from [1-9]' "$LOG_f"
else
	signal_own KILL "$putter"
	wait $putter 2>/dev/null
	fail "killed sized put: never caught with 1 to 63 MiB written" "$(ls -la "$R")"
fi

# ---- kill the server mid-get ---------------------------------------------------------------
# rpcd is killed while stopped with at most half of the file sent: over the
# Unix socket, what it had written but the client not read cannot complete it.
start_rpcd g || exit 1
cp --sparse=always "$W/big" "$T/root-g/big"
# got_part_under_half: the local part file has data, at most 32 MiB.
got_part_under_half() {
	local n
	n=$(file_size "$W/.got-big.pbrpc-part")
	[ "$n" -gt 0 ] && [ "$n" -le $((32 * CHUNK)) ]
}
freeze "$PID_g"
"$RPCC" --key "$KEY" --server "$SOCK_g" get -q big "$W/got-big" &
getter=$!
CLIENTS=("$getter")
if stopped_when "$PID_g" 120 got_part_under_half; then
	kill -9 "$PID_g"
	wait "$getter" 2>/dev/null
	check "killed server: no file at the local target" test ! -e "$W/got-big"
	check "killed server: the part file is kept" test -s "$W/.got-big.pbrpc-part"
	start_rpcd g || exit 1
	check "get --continue finishes it" timeout 120 "$RPCC" --key "$KEY" --server "$ADDR_g" \
		get -q --continue big "$W/got-big"
	check "resumed get is byte for byte" cmp -s "$W/big" "$W/got-big"
	check "resumed get started past 0" grep -Eq 'get big: [0-9]+ bytes from [1-9]' "$LOG_g"
	check "no part file after the resumed get" test ! -e "$W/.got-big.pbrpc-part"
else
	thaw "$PID_g"
	signal_own KILL "$getter"
	fail "killed server: download never caught under half way" \
		"$(ls -la "$W" | grep got-big)"
fi
rm -f "$W/got-big" "$T/root-g/big"

# ---- 8 transfers at once while echo is answered --------------------------------------------
# Echo must be answered while the transfers still run (one that waited for
# them to end would not be): that is the condition, not a time, which a
# busy machine may stretch.
head -c $((40 * 1000 * 1000)) /dev/urandom >"$W/par"
for i in 1 2 3 4; do cp "$W/par" "$R/src-par-$i"; done
pids=()
for i in 1 2 3 4; do
	rpcc --server "$A" put -q "$W/par" "par-$i" &
	pids+=($!)
	rpcc --server "$A" get -q "src-par-$i" "$W/par-back-$i" &
	pids+=($!)
done
slowest=0 echo_ok=0 during=0
for i in $(seq 1 10); do
	t0=$(date +%s%N)
	[ "$(timeout 60 "$RPCC" --key "$KEY" --server "$A" echo ping)" = ping ] && echo_ok=$((echo_ok + 1))
	any_running "${pids[@]}" && during=$((during + 1))
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ $ms -gt $slowest ] && slowest=$ms
done
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
for i in 1 2 3 4; do
	cmp -s "$W/par" "$R/par-$i" && cmp -s "$W/par" "$W/par-back-$i" || ok=0
done
expect_eq "8 transfers at once all arrived intact" 1 "$ok"
if [ $echo_ok = 10 ] && [ $during -ge 1 ]; then
	pass "echo answered during 8 transfers ($during of 10 while they ran, slowest ${slowest} ms)"
else
	fail "echo answered during 8 transfers" "$echo_ok of 10 answered, $during while they ran"
fi
rm -f "$W"/par* "$R"/par-* "$R"/src-par-*

# ---- a large sparse file with bounded memory ------------------------------------------------
start_rpcd s || exit 1
# Sizes past 32 bits, without moving them (make soak streams one).
truncate -s 5G "$T/root-s/huge"
check "stat of a 5 GiB file: its size in full" grep -q 'Size: 5368709120' \
	<<<"$(rpcc --server "$ADDR_s" stat huge)"
truncate -s "$SPARSE_SIZE" "$T/root-s/sparse"
if timeout 300 /usr/bin/time -f '%M' -o "$W/rpcc-kb" "$RPCC" --key "$KEY" --server "$ADDR_s" \
	get -q sparse - | cmp -s - <(head -c "$(stat -c %s "$T/root-s/sparse")" /dev/zero); then
	pass "sparse $SPARSE_SIZE file streamed intact"
else
	fail "sparse $SPARSE_SIZE file streamed intact"
fi
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID_s/status")
client_kb=$(tail -1 "$W/rpcc-kb")
if [ "${hwm:-999999}" -lt $MEM_LIMIT_KB ]; then
	pass "rpcd memory bounded during the $SPARSE_SIZE get (VmHWM ${hwm} kB)"
else
	fail "rpcd memory bounded during the $SPARSE_SIZE get" "VmHWM ${hwm} kB"
fi
if [ "${client_kb:-999999}" -lt $MEM_LIMIT_KB ]; then
	pass "rpcc memory bounded during the $SPARSE_SIZE get (max RSS ${client_kb} kB)"
else
	fail "rpcc memory bounded during the $SPARSE_SIZE get" "max RSS ${client_kb} kB"
fi
finish
