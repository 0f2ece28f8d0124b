#!/usr/bin/env bash
# Memory a key holder can make rpcd hold (issue 12, part 2): Gets and Puts
# that are never read or finished, from several connections. rpcd's buffers
# for calls are bounded by --max-memory (per connection: an eighth), calls
# past a connection's share wait, calls past the whole budget get
# RESOURCE_EXHAUSTED with a clear message, honest calls work throughout, and
# the memory goes back to the system once the attackers are gone.
#
# Memory is rpcd's VmRSS/VmHWM from /proc/PID/status. Every wait polls a
# condition in a bounded loop; no assertion is about time. Under ASan the
# figures are not checked (its allocator moves them); valgrind does not suit
# this test (as file.sh, it lacks openat2, so no get or put can open a file).
. "$(dirname "$0")/../lib.sh"

HOARD=$B/tests/fault_hoard
if [ ! -x "$HOARD" ]; then
	fail "fault_hoard is built" "missing $HOARD (make test-progs)"
	finish
fi
MIB=1024 # in kB, as /proc shows memory
MAX_MEMORY_MIB=32
SHARE_CHUNKS=4 # an eighth of 32 MiB, in 1 MiB chunks
# The library's own buffers per connection (output high-water 1 MiB plus
# one record, the input record) are outside --max-memory; so are the heap's
# bits and pieces. Generous: the attack without the budget takes 1.5 GB.
MARGIN_KB=$((16 * MIB))
PER_CONN_KB=$((3 * MIB))
NEAR_BASELINE_KB=$((8 * MIB))
RSS_CHECKS=1
if nm "$B/lib/libpbrpc.a" 2>/dev/null | grep -q __asan_; then
	# ASan's shadow memory and allocator move every figure: behaviour only.
	RSS_CHECKS=0
fi
[ -n "${PBRPC_SANITIZER:-}${PBRPC_VALGRIND:-}" ] && RSS_CHECKS=0

# ---- the option itself ---------------------------------------------------------
for bad in 0 3M 4095K 1025G 12X -5M ""; do
	out=$("$RPCD" --max-memory "$bad" --key "$KEY" 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "max-memory '$bad': must be 4M..1024G" <<<"$out"; then
		pass "--max-memory '$bad' refused with a usage error"
	else
		fail "--max-memory '$bad' refused with a usage error" "exit $rc: $out"
	fi
done
check "rpcd --help shows --max-memory" grep -q -- '--max-memory BYTES' <("$RPCD" --help)

start_rpcd m -v --max-memory ${MAX_MEMORY_MIB}M --partial-max-age 0 || exit 1
A=$ADDR_m
PID=$PID_m
LOG=$LOG_m
R=$T/root-m
W=$T/work
mkdir -p "$W" "$R/up"
head -c $((8 << 20)) /dev/urandom >"$R/big"
# A file no Get of which the kernel's socket buffers can swallow whole: the
# calls on it hold their memory for as long as their client does not read.
truncate -s 64M "$R/huge"

# wait_until TRIES CMD...: polls CMD every 50 ms, at most TRIES times.
wait_until() {
	local tries=$1 i
	shift
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
rss_kb() { status_kb VmRSS; }
hwm_kb() { status_kb VmHWM; }
# Resets VmHWM to the current RSS, so each attack's peak is its own.
reset_hwm() { echo 5 >"/proc/$PID/clear_refs" 2>/dev/null; }
count_log() { grep -c -- "$1" "$LOG"; }

# start_hoard NAME ARGS...: runs fault_hoard ARGS in the background, its
# stdin a FIFO held open (it holds on until then); waits for "ready".
start_hoard() {
	local name=$1
	shift
	mkfifo "$T/ctl-$name"
	"$HOARD" "$A" "$KEY" "$@" <"$T/ctl-$name" >"$T/out-$name" 2>&1 &
	eval "HOARD_PID_$name=$!"
	eval "exec {HOARD_FD_$name}>\"\$T/ctl-$name\""
	wait_until 1200 grep -q '^ready' "$T/out-$name"
}
# stop_hoard NAME: the hoarder vanishes as a killed client does: the kernel
# closes all its connections at once, no call is cancelled first.
stop_hoard() {
	local pid_var=HOARD_PID_$1
	kill -KILL "${!pid_var}"
	wait "${!pid_var}" 2>/dev/null
	eval "exec {HOARD_FD_$1}>&-"
}

# ---- baseline: one honest get, so the thread pool and buffers exist ---------
check "an honest get before any attack" rpcc --server "$A" get -q big "$W/b0"
cmp -s "$R/big" "$W/b0" || fail "the file came back intact before any attack"
BASE=$(rss_kb)
echo "  | baseline VmRSS ${BASE} kB"

# ---- 4 connections x 128 Gets of an 8 MiB file, never read ------------------
reset_hwm
check "the Get hoarder started its 4 x 128 calls" start_hoard gets get big 4 128
BOUND=$((BASE + MAX_MEMORY_MIB * MIB + MARGIN_KB + 4 * PER_CONN_KB))
# Settled once most of the Gets wait on their connection's share (each of the
# 4 connections holds at most 4 chunks, so at least 100 of its 128 calls wait)
# - or, without a budget, once rpcd holds more than the bound.
settled() {
	[ "$(count_log 'get big: waiting')" -ge 400 ] && return 0
	[ "$RSS_CHECKS" = 1 ] && [ "$(rss_kb)" -gt "$BOUND" ]
}
if wait_until 2400 settled && [ "$(count_log 'get big: waiting')" -ge 400 ]; then
	pass "Gets past a connection's share wait ($(count_log 'get big: waiting') of 512 waited)"
else
	fail "Gets past a connection's share wait" \
		"$(count_log 'get big: waiting') 'waiting' lines in rpcd's log, VmRSS $(rss_kb) kB" \
		"$(tail -3 "$LOG")"
fi
PEAK=$(hwm_kb)
echo "  | 4 x 128 Gets: VmHWM ${PEAK} kB (bound ${BOUND} kB)"
if [ "$RSS_CHECKS" = 1 ]; then
	if [ "$PEAK" -lt "$BOUND" ]; then
		pass "4 x 128 unread Gets: peak RSS within baseline + --max-memory + margin"
	else
		fail "4 x 128 unread Gets: peak RSS within baseline + --max-memory + margin" \
			"VmHWM ${PEAK} kB, baseline ${BASE} kB, bound ${BOUND} kB"
	fi
fi

# Honest calls meanwhile: the attackers hold 4 shares, half the budget.
expect_eq "echo during the Get attack" "during" "$(rpcc --server "$A" echo during)"
if rpcc --server "$A" get -q big "$W/b1" && cmp -s "$R/big" "$W/b1"; then
	pass "an honest get of the 8 MiB file during the Get attack"
else
	fail "an honest get of the 8 MiB file during the Get attack"
fi
# 12 Gets sent at once on one connection: past its share they wait, and are
# served in turn as the client reads the ones before.
run_labelled "during the Get attack" "$HOARD" "$A" "$KEY" read big 1 12 $((8 << 20))

# ---- more connections, until the whole budget is held ------------------------
# Each holds its share (or is refused once the whole budget is held), and no
# call of theirs can end: the budget stays spent until they go.
check "8 more hoarding connections started" start_hoard more get huge 8 16
if wait_until 2400 grep -q 'memory budget spent' "$LOG"; then
	pass "rpcd says when its memory budget is spent"
else
	fail "rpcd says when its memory budget is spent" "$(tail -3 "$LOG")"
fi
out=$(rpcc --server "$A" get -q big "$W/b2" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && grep -q 'RESOURCE_EXHAUSTED' <<<"$out" &&
	grep -q "memory budget is spent" <<<"$out"; then
	pass "a get past the whole budget: RESOURCE_EXHAUSTED with a clear message"
else
	fail "a get past the whole budget: RESOURCE_EXHAUSTED with a clear message" \
		"exit $rc: $out"
fi
echo "  | $out"
expect_eq "echo while the budget is spent" "spent" "$(rpcc --server "$A" echo spent)"
PEAK2=$(hwm_kb)
BOUND2=$((BASE + MAX_MEMORY_MIB * MIB + MARGIN_KB + 12 * PER_CONN_KB))
echo "  | 12 hoarding connections: VmHWM ${PEAK2} kB (bound ${BOUND2} kB)"
if [ "$RSS_CHECKS" = 1 ]; then
	if [ "$PEAK2" -lt "$BOUND2" ]; then
		pass "12 hoarding connections: peak RSS within the budget"
	else
		fail "12 hoarding connections: peak RSS within the budget" \
			"VmHWM ${PEAK2} kB, bound ${BOUND2} kB"
	fi
fi

# ---- the attackers vanish: memory goes back ---------------------------------
stop_hoard gets
stop_hoard more
near_baseline() { [ "$(rss_kb)" -le $((BASE + NEAR_BASELINE_KB)) ]; }
if [ "$RSS_CHECKS" = 1 ]; then
	if wait_until 1200 near_baseline; then
		pass "RSS back near the baseline once the Get attackers are gone"
	else
		fail "RSS back near the baseline once the Get attackers are gone" \
			"VmRSS $(rss_kb) kB, baseline ${BASE} kB"
	fi
fi
echo "  | after the Get attack: VmRSS $(rss_kb) kB"
if rpcc --server "$A" get -q big "$W/b3" && cmp -s "$R/big" "$W/b3"; then
	pass "an honest get after the Get attack"
else
	fail "an honest get after the Get attack"
fi

# ---- 4 connections x 32 Puts that send one chunk and stop -------------------
reset_hwm
BASE=$(rss_kb)
check "the Put hoarder started its 4 x 32 calls" start_hoard puts put up/f 4 32 $((8 << 20))
# Settled once every upload's first chunk is on disk.
chunks_on_disk() { [ "$(find "$R/up" -type f -size +1023k | wc -l)" -ge 128 ]; }
put_settled() {
	chunks_on_disk && return 0
	[ "$RSS_CHECKS" = 1 ] && [ "$(rss_kb)" -gt "$BOUND" ]
}
wait_until 2400 put_settled
check "every upload's first chunk reached the disk" chunks_on_disk
PEAK=$(hwm_kb)
echo "  | 4 x 32 idle Puts: VmHWM ${PEAK} kB (bound ${BOUND} kB)"
if [ "$RSS_CHECKS" = 1 ]; then
	if [ "$PEAK" -lt "$BOUND" ]; then
		pass "4 x 32 idle Puts: peak RSS within baseline + --max-memory + margin"
	else
		fail "4 x 32 idle Puts: peak RSS within baseline + --max-memory + margin" \
			"VmHWM ${PEAK} kB, baseline ${BASE} kB, bound ${BOUND} kB"
	fi
fi
head -c $((3 << 20)) /dev/urandom >"$W/up"
if rpcc --server "$A" put -q "$W/up" up/honest && cmp -s "$W/up" "$R/up/honest"; then
	pass "an honest put during the Put attack"
else
	fail "an honest put during the Put attack"
fi
stop_hoard puts
if [ "$RSS_CHECKS" = 1 ]; then
	if wait_until 1200 near_baseline; then
		pass "RSS back near the baseline once the Put attackers are gone"
	else
		fail "RSS back near the baseline once the Put attackers are gone" \
			"VmRSS $(rss_kb) kB, baseline ${BASE} kB"
	fi
fi
echo "  | after the Put attack: VmRSS $(rss_kb) kB"

stop_rpcd_checked m "the memory attacks"
finish
