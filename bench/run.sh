#!/usr/bin/env bash
# bench/run.sh [--quick] - the make bench driver. Starts rpcd on loopback
# port 0, runs every pbrpc figure beside its raw-socket baseline from the same
# run, prints one table, writes bench/results/latest.json and (full runs
# only) regenerates docs/performance.md below its marker line.
# Every step runs under `timeout`; the full run takes about 2 minutes, --quick
# under 30 s. Raw logs of each step are kept in bench/results/.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
B=${B:-build}
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
RAW=$B/bench/raw
PB=$B/bench/pbrpc_bench
RPCD=$B/bin/rpcd
RPCC=$B/bin/rpcc
RES=bench/results
DOC=docs/performance.md
MARKER='<!-- make bench writes everything below this line; edit above it. -->'
mkdir -p "$RES"
rm -f "$RES"/*.txt "$RES"/*.err

if [ $QUICK = 1 ]; then
	LAT_N=3000 DUR=1 HS_DUR=1 IDLE_N=1000 BULK_MIB=128 SPAWN_N=200 EXEC_N=100 RPCC_N=20
else
	LAT_N=20000 DUR=3 HS_DUR=3 IDLE_N=10000 BULK_MIB=1024 SPAWN_N=1000 EXEC_N=500 RPCC_N=100
fi

T=$(mktemp -d /tmp/pbrpc-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
CORES=$(nproc)
# Latency is measured with the client on CPU 0 and the server on CPU 1, for
# raw and pbrpc alike: left alone, the scheduler sometimes puts both ends on
# one core (a round trip of ~15 µs) and sometimes not (~50 µs), and a ratio of
# two such runs would mean nothing.
PIN=0
if [ "$CORES" -ge 2 ] && command -v taskset >/dev/null; then PIN=1; fi
HS_THREADS=4
# Clients use an identity (protocol 2) pinning the host key; the shared key
# (protocol 1) is measured beside it for the handshake rate.
KEY=$T/id
PSK=$T/psk
HOST_KEY=$T/host_key
"$RPCC" keygen "$KEY" >/dev/null || exit 1
"$RPCC" keygen --shared "$PSK" >/dev/null || exit 1
printf '%s bench\n' "$(cut -d' ' -f1,2 "$KEY.pub")" >"$T/authorized_keys"
NOFILE=$(ulimit -Hn)
ulimit -n "$NOFILE" 2>/dev/null

# start_rpcd NAME [options]: rpcd on 127.0.0.1:0; sets RPCD_PID and RPCD_ADDR.
start_rpcd() {
	local name=$1 log=$RES/rpcd-$1.log port="" i
	shift
	mkdir -p "$T/root-$name"
	"$RPCD" --listen 127.0.0.1:0 --key "$PSK" --host-key "$HOST_KEY" \
		--authorized-keys "$T/authorized_keys" --root "$T/root-$name" "$@" 2>"$log" &
	RPCD_PID=$!
	PIDS+=("$RPCD_PID")
	for i in $(seq 1 100); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
		[ -n "$port" ] && break
		kill -0 "$RPCD_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "bench: rpcd did not start:" >&2
		cat "$log" >&2
		exit 1
	fi
	RPCD_ADDR=127.0.0.1:$port
}

# stop_rpcd: SIGTERM, then SIGKILL if it has not exited within 15 s.
stop_rpcd() {
	local i
	kill -TERM "$RPCD_PID" 2>/dev/null
	for i in $(seq 1 150); do
		kill -0 "$RPCD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$RPCD_PID" 2>/dev/null; then
		echo "bench: rpcd did not stop on SIGTERM within 15 s; killed" >&2
		kill -KILL "$RPCD_PID" 2>/dev/null
	fi
	wait "$RPCD_PID" 2>/dev/null
}

# step NAME SECONDS CMD...: runs CMD under a time limit; output in $RES/NAME.txt.
step() {
	local name=$1 limit=$2 rc
	shift 2
	printf 'bench: %-22s' "$name" >&2
	timeout -k 5 "$limit" "$@" >"$RES/$name.txt" 2>"$RES/$name.err"
	rc=$?
	case $rc in
	0) echo " ok" >&2 ;;
	3) echo " n/a" >&2 ;;
	124) echo " timed out" >&2 ;;
	*) echo " failed ($rc): $(tail -1 "$RES/$name.err")" >&2 ;;
	esac
	return $rc
}

# val NAME KEY: a value printed by a step, or "n/a (...)" if there is none.
val() {
	local v
	v=$(awk -v k="$2" '$1 == k { print $2; exit }' "$RES/$1.txt" 2>/dev/null)
	if [ -n "$v" ]; then
		echo "$v"
	elif grep -q '^na ' "$RES/$1.txt" 2>/dev/null ||
		grep -qi 'unimplemented\|unknown command\|not built' "$RES/$1.err" 2>/dev/null; then
		echo "n/a (service not built)"
	else
		echo "n/a (failed: see $RES/$1.err)"
	fi
}

# ---- the raw floors ---------------------------------------------------------------
step raw_pingpong 60 "$RAW" pingpong -n "$LAT_N" -s 64 $([ $PIN = 1 ] && echo -P)
step raw_1x16 60 "$RAW" pipelined -c 16 -f 1 -t 16 -d "$DUR"
step raw_16x16 60 "$RAW" pipelined -c 16 -f 16 -t 2 -d "$DUR"
step raw_256 60 "$RAW" pipelined -c 256 -f 1 -t 2 -d "$DUR"
step raw_connect 60 "$RAW" connect -n 100000 -d "$HS_DUR" -t "$HS_THREADS"
step raw_bulk 120 "$RAW" bulk -m "$BULK_MIB"
step raw_spawn 60 "$RAW" spawn -n "$SPAWN_N" -d 10

# ---- pbrpc ---------------------------------------------------------------------
start_rpcd main --max-connections 2048
A=(-a "$RPCD_ADDR" -k "$KEY" -K "$HOST_KEY.pub")
if [ $PIN = 1 ]; then
	taskset -a -p -c 1 "$RPCD_PID" >/dev/null
	step pb_latency 60 taskset -c 0 "$PB" latency "${A[@]}" -n "$LAT_N" -s 64
	taskset -a -p -c "0-$((CORES - 1))" "$RPCD_PID" >/dev/null
else
	step pb_latency 60 "$PB" latency "${A[@]}" -n "$LAT_N" -s 64
fi
step pb_1x16 60 "$PB" load "${A[@]}" -c 16 -f 1 -t 16 -d "$DUR" -p "$RPCD_PID"
step pb_16x16 60 "$PB" load "${A[@]}" -c 16 -f 16 -t 2 -d "$DUR" -p "$RPCD_PID"
step pb_256 60 "$PB" load "${A[@]}" -c 256 -f 1 -t 2 -d "$DUR" -p "$RPCD_PID"
step x25519 30 "$PB" x25519 -d "$HS_DUR"
step pb_handshake 60 "$PB" handshake "${A[@]}" -n 100000 -d "$HS_DUR" -t "$HS_THREADS"
step pb_handshake_v1 60 "$PB" handshake -a "$RPCD_ADDR" -k "$PSK" -n 100000 -d "$HS_DUR" -t "$HS_THREADS"
step pb_exec_kept 60 "$PB" exec "${A[@]}" -n "$EXEC_N" -d 10
step pb_rpcc_exec 60 "$PB" cmd -n "$RPCC_N" -d 10 -- \
	"$RPCC" --server "$RPCD_ADDR" --key "$KEY" --server-key "$HOST_KEY.pub" exec -- true

# Bulk: the file is created before the clock starts (and so sits in the page
# cache); get writes to stdout, which the bench points at /dev/null.
BULK_BYTES=$((BULK_MIB << 20))
head -c "$BULK_BYTES" /dev/zero >"$T/bulk.src"
TIMEOUT=$(command -v timeout)
step pb_put 120 "$PB" cmd -n 1 -d 120 -b "$BULK_BYTES" -- \
	"$TIMEOUT" 100 "$RPCC" --server "$RPCD_ADDR" --key "$KEY" --server-key "$HOST_KEY.pub" put -q "$T/bulk.src" bulk.dat
step pb_get 120 "$PB" cmd -n 1 -d 120 -b "$BULK_BYTES" -- \
	"$TIMEOUT" 100 "$RPCC" --server "$RPCD_ADDR" --key "$KEY" --server-key "$HOST_KEY.pub" get -q bulk.dat -
rm -f "$T/bulk.src" "$T/root-main/bulk.dat"
stop_rpcd

# Idle connections get a fresh daemon, so earlier work does not blur its RSS.
start_rpcd idle --max-connections $((IDLE_N + 100))
step pb_idle 120 "$PB" idle -a "$RPCD_ADDR" -k "$KEY" -K "$HOST_KEY.pub" -n "$IDLE_N" -d 90 -p "$RPCD_PID"
stop_rpcd

# Echo latency while three attackers with no crypto of their own flood rpcd
# with hellos that ask for key work (and leave), on a fresh daemon with its
# default limits. The honest client comes over the daemon's Unix socket (the
# floods come from 127.0.0.1, which the penalty soon refuses: an honest TCP
# client there would be refused with them), measured on the same socket
# before and during the floods.
start_rpcd attacked --listen "unix:$T/attacked.sock"
AU=(-a "unix:$T/attacked.sock" -k "$KEY" -K "$HOST_KEY.pub" -n "$LAT_N" -s 64)
step pb_latency_unix 60 "$PB" latency "${AU[@]}"
FLOOD_S=$([ $QUICK = 1 ] && echo 4 || echo 12)
# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CPU0=$(cpu_ticks "$RPCD_PID")
T0=$(date +%s%N)
FLOODS=()
for i in 1 2 3; do
	"$PB" flood -a "$RPCD_ADDR" -d "$FLOOD_S" >"$RES/flood$i.txt" 2>"$RES/flood$i.err" &
	FLOODS+=($!)
	PIDS+=($!)
done
step pb_latency_attacked 60 "$PB" latency "${AU[@]}"
for p in "${FLOODS[@]}"; do wait "$p"; done
FLOOD_CPU=$(awk -v c0="$CPU0" -v c1="$(cpu_ticks "$RPCD_PID")" -v t0="$T0" -v t1="$(date +%s%N)" \
	-v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 100 * (c1 - c0) / hz / ((t1 - t0) / 1e9) }')
FLOOD_RATE=$(cat "$RES"/flood?.txt | awk '$1 == "attempts_per_s" { s += $2 } END { printf "%.0f", s }')
FLOOD_WORK=$(cat "$RES"/flood?.txt | awk '$1 == "key_work_per_s" { s += $2 } END { printf "%.0f", s }')
SUPPRESSED=$(awk '/similar lines suppressed/ { s += $(NF - 3) } END { print s + 0 }' "$RES/rpcd-attacked.log")
LOGLINES=$(wc -l <"$RES/rpcd-attacked.log")
stop_rpcd

# ---- the table -----------------------------------------------------------------
ROWS=()
# row FIGURE PBRPC RAW TARGET_TEXT KIND [LIMIT]: KIND is le/ge (ratio to raw),
# abs_le/abs_ge (the pbrpc figure itself) or none.
row() {
	local fig=$1 pb=$2 raw=$3 target=$4 kind=$5 limit=${6:-0} ratio="—" met="—"
	local num='^[0-9]+(\.[0-9]+)?$'
	if [[ $pb =~ $num && $raw =~ $num ]] && awk -v r="$raw" 'BEGIN { exit !(r > 0) }'; then
		ratio=$(awk -v p="$pb" -v r="$raw" 'BEGIN { printf "%.2f", p / r }')
	fi
	if [[ $pb =~ $num ]]; then
		case $kind in
		le) [ "$ratio" != "—" ] && met=$(awk -v x="$ratio" -v l="$limit" 'BEGIN { print (x <= l) ? "yes" : "NO" }') ;;
		ge) [ "$ratio" != "—" ] && met=$(awk -v x="$ratio" -v l="$limit" 'BEGIN { print (x >= l) ? "yes" : "NO" }') ;;
		abs_le) met=$(awk -v x="$pb" -v l="$limit" 'BEGIN { print (x <= l) ? "yes" : "NO" }') ;;
		abs_ge) met=$(awk -v x="$pb" -v l="$limit" 'BEGIN { print (x >= l) ? "yes" : "NO" }') ;;
		esac
	fi
	ROWS+=("$fig|$pb|$raw|$ratio|$target|$met")
}

per_conn_kib() {
	local b
	b=$(val pb_idle bytes_per_conn)
	if [[ $b =~ ^-?[0-9]+$ ]]; then awk -v b="$b" 'BEGIN { printf "%.1f", b / 1024 }'; else echo "$b"; fi
}
us_to_ms() {
	local v
	v=$(val "$1" "$2")
	if [[ $v =~ ^[0-9.]+$ ]]; then awk -v v="$v" 'BEGIN { printf "%.2f", v / 1000 }'; else echo "$v"; fi
}

PINNED=$([ $PIN = 1 ] && echo ", 2 CPUs" || echo "")
row "echo 64 B p50, 1 conn$PINNED (µs)" "$(val pb_latency p50_us)" "$(val raw_pingpong p50_us)" "≤ 1.2× raw" le 1.2
row "echo 64 B p99, 1 conn$PINNED (µs)" "$(val pb_latency p99_us)" "$(val raw_pingpong p99_us)" "" none
row "echo 64 B p99, Unix socket, under 3 hello floods (µs)" "$(val pb_latency_attacked p99_us)" "$(val pb_latency_unix p99_us)" "" none
row "  floods: attempts/s, of them answered with key work/s" "$FLOOD_RATE" "$FLOOD_WORK" "" none
row "  rpcd log lines during the floods (suppressed)" "$LOGLINES" "$SUPPRESSED" "" none
row "  rpcd CPU during the floods (% of one core)" "$FLOOD_CPU" "—" "" none
row "echo 64 B p999, 1 conn$PINNED (µs)" "$(val pb_latency p999_us)" "$(val raw_pingpong p999_us)" "" none
row "calls/s 1 conn × 1$PINNED" "$(val pb_latency calls_per_s)" "$(val raw_pingpong calls_per_s)" "" none
row "calls/s 16 threads × 1" "$(val pb_1x16 calls_per_s)" "$(val raw_1x16 calls_per_s)" "≥ 0.8× raw" ge 0.8
row "calls/s 16 conns × 16 in flight" "$(val pb_16x16 calls_per_s)" "$(val raw_16x16 calls_per_s)" "≥ 0.25× raw" ge 0.25
row "calls/s 256 conns × 1" "$(val pb_256 calls_per_s)" "$(val raw_256 calls_per_s)" "" none
row "server CPU per call, 16×16 (µs)" "$(val pb_16x16 server_cpu_us_per_call)" "$(val raw_16x16 server_cpu_us_per_call)" "" none
# Each side of a version 2 handshake does 4 X25519 operations (a key pair
# and 3 DH); client and server run on the 2 cores in parallel, so those
# operations alone allow X25519/s ÷ 4 handshakes a second.
X_PER_HS=$(awk -v x="$(val x25519 ops_per_s)" 'BEGIN { if (x > 0) printf "%.0f", x / 4; else print "n/a" }')
row "handshakes/s, protocol 2, $HS_THREADS client threads" "$(val pb_handshake per_s)" "$X_PER_HS" "≥ 0.7× X25519/s÷4" ge 0.7
# The same with the kernel's TCP connect and close added to the floor (the
# raw connect rate of this run): what the machine allows with no code of ours.
X_TCP=$(awk -v x="$(val x25519 ops_per_s)" -v c="$(val raw_connect per_s)" \
	'BEGIN { if (x > 0 && c > 0) printf "%.0f", 1 / (4 / x + 1 / c); else print "n/a" }')
row "  the same against X25519 + TCP connect alone" "$(val pb_handshake per_s)" "$X_TCP" "" none
row "X25519 operations/s, one core" "$(val x25519 ops_per_s)" "—" "" none
row "handshakes/s, protocol 1 (shared key)" "$(val pb_handshake_v1 per_s)" "$(val raw_connect per_s)" "" none
row "rpcd KiB per idle conn ($(val pb_idle connections) open)" "$(per_conn_kib)" "—" "≤ 16 KiB" abs_le 16
row "put $BULK_MIB MiB (MB/s)" "$(val pb_put mb_per_s)" "$(val raw_bulk mb_per_s)" "≥ 0.5× raw" ge 0.5
row "get $BULK_MIB MiB (MB/s)" "$(val pb_get mb_per_s)" "$(val raw_bulk mb_per_s)" "≥ 0.5× raw" ge 0.5
row "rpcc exec -- true, new conn, p50 (ms)" "$(us_to_ms pb_rpcc_exec p50_us)" "$(us_to_ms raw_spawn p50_us)" "≤ 5 ms" abs_le 5
row "exec true, kept conn, p50 (ms)" "$(us_to_ms pb_exec_kept p50_us)" "$(us_to_ms raw_spawn p50_us)" "≤ 1.3× raw" le 1.3

MODEL=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
KERNEL=$(uname -r)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
SUITE=$(val pb_latency suite)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

print_table() { # print_table SEP_STYLE: "text" or "md"
	local r f1 f2 f3 f4 f5 f6
	if [ "$1" = md ]; then
		echo "| figure | pbrpc | raw baseline | ratio | target | met? |"
		echo "|---|--:|--:|--:|---|---|"
	else
		printf '%-42s %14s %14s %7s %-12s %s\n' figure pbrpc "raw baseline" ratio target "met?"
	fi
	for r in "${ROWS[@]}"; do
		IFS='|' read -r f1 f2 f3 f4 f5 f6 <<<"$r"
		if [ "$1" = md ]; then
			echo "| $f1 | $f2 | $f3 | $f4 | ${f5:-—} | $f6 |"
		else
			printf '%-42s %14s %14s %7s %-12s %s\n' "$f1" "$f2" "$f3" "$f4" "${f5:-—}" "$f6"
		fi
	done
}

echo
echo "pbrpc $( [ $QUICK = 1 ] && echo 'bench-quick' || echo bench ): $MODEL, $CORES cores, Linux $KERNEL, $DATE, AEAD $SUITE, load average at start $LOAD0"
print_table text

# JSON: every value is a string the table shows, plus a number where there is one.
json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
json_num() { if [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then echo "$1"; else echo null; fi; }
{
	echo "{"
	echo "  \"quick\": $([ $QUICK = 1 ] && echo true || echo false),"
	echo "  \"date\": $(json_str "$DATE"), \"commit\": $(json_str "$COMMIT"),"
	echo "  \"machine\": {\"cpu\": $(json_str "$MODEL"), \"cores\": $CORES, \"kernel\": $(json_str "$KERNEL")},"
	echo "  \"suite\": $(json_str "$SUITE"), \"loadavg_start\": $(json_str "$LOAD0"),"
	echo "  \"rows\": ["
	n=${#ROWS[@]} i=0
	for r in "${ROWS[@]}"; do
		IFS='|' read -r f1 f2 f3 f4 f5 f6 <<<"$r"
		i=$((i + 1))
		case $f6 in yes) met=true ;; NO) met=false ;; *) met=null ;; esac
		printf '    {"figure": %s, "pbrpc": %s, "raw": %s, "ratio": %s, "target": %s, "met": %s}%s\n' \
			"$(json_str "$f1")" "$(json_num "$f2")" "$(json_num "$f3")" "$(json_num "$f4")" \
			"$(json_str "$f5")" "$met" "$([ $i -lt $n ] && echo ,)"
	done
	echo "  ]"
	echo "}"
} >"$RES/latest.json"
echo "bench: wrote $RES/latest.json" >&2

[ $QUICK = 1 ] && exit 0
if [ -f "$DOC" ] && grep -qF "$MARKER" "$DOC"; then
	sed "/^$(printf '%s' "$MARKER" | sed 's/[][\/.*^$]/\\&/g')\$/q" "$DOC" >"$T/doc"
else
	{ [ -f "$DOC" ] && cat "$DOC"; echo; echo "$MARKER"; } >"$T/doc"
fi
{
	echo
	echo "## The last run"
	echo
	echo "- Machine: $MODEL, $CORES cores (client and server share them), Linux $KERNEL"
	echo "- Date: $DATE, commit $COMMIT; AEAD in use: $SUITE"
	echo "- Load average when the run started: $LOAD0 (anything above 0 is other work on the same 2 cores)"
	echo "- Bulk size: $BULK_MIB MiB; latency: $LAT_N sequential calls; throughput runs: $DUR s each"
	echo
	print_table md
	echo
	echo "Ratios are pbrpc ÷ raw from this same run. MB = 10^6 bytes. The raw logs"
	echo "of each step are in bench/results/ (not committed)."
} >>"$T/doc"
mv "$T/doc" "$DOC"
echo "bench: regenerated $DOC" >&2
