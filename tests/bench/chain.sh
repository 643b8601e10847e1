#!/bin/bash
# chain.sh: the end-to-end benchmark of BENCH.md's "chain" and "latency"
# work, with the references it is judged against measured in the same run.
#
#   county -> city -> province -> master: 4 cascaded on 127.0.0.1, each with
#   a durable journal (sync yes); a producer client (chainload produce) at
#   the county sends to master/consumer; a consumer client (chainload
#   consume) at the master takes the packets and checks them.
#
#   1. references: raw nng req/rep round trip, req/rep with a window of
#      requests in flight, pair1 one way (nngref); the four-journal-writer
#      ceiling of tests/bench/journal_bench (its results-journal.txt when
#      make bench has just written it, else one run of it here).
#   2. throughput: CHAIN_RUNS (3) runs, each on fresh journals, of
#      CHAIN_COUNT (100 000) packets of 1 KiB as fast as custody allows:
#      packets/s from the first send to the last receive, lost, duplicated;
#      the median run is reported.
#   3. latency: a fresh chain at a steady CHAIN_RATE (1 000) packets/s for
#      CHAIN_LAT_SECS (10) s: one-way p50 / p99 / p99.9 (the first 0.2 s
#      left out as warm-up); then the same at CHAIN_FLOOR_RATE (100)
#      packets/s for 3 s, the floor of four durable commits in a row without
#      contention, and at CHAIN_RATE with sync no, what is left without the
#      disk.
#   After each phase: RssAnon and CPU seconds of every node; after the
#   latency phases also each node's journal (from its /metrics): the mean
#   group commit of incoming packets (the journal thread's queue, the LMDB
#   commit and its fsync) and the mean of every LMDB commit with their number
#   per packet, and the four incoming commits' sum as a share of the p50.
#
# The table goes to stdout and to $top_builddir/tests/bench/results-chain.txt.
# Lost or duplicated packets fail the run (exit 1).
#
# Environment (all optional):
#   CHAIN_RUNS, CHAIN_COUNT, CHAIN_RATE, CHAIN_LAT_SECS   see above
#   CHAIN_WINDOW, CHAIN_BATCH   the producer's pushes in flight (4) and
#                               packets per push (256)
#   CHAIN_CEILING=N             the four-journal-writer ceiling in packets/s
#                               per writer, measured elsewhere in this session,
#                               when neither a fresh results-journal.txt nor
#                               tests/bench/journal_bench is there
#   CHAIN_PERF=NODE             perf record one node (county, city,
#                               province, master) during the first throughput
#                               run, or with CHAIN_PERF_PHASE=lat during the
#                               latency phase; the report goes to perf-NODE.txt
#   CHAIN_SYSCOUNT=1            count each node's fdatasync / fsync / pwrite /
#                               writev / sendmsg calls per packet (perf stat on
#                               syscall tracepoints) in throughput run 1 and
#                               in the latency phase
#   CHAIN_REFS=0                skip the nng references and the journal_bench run
#                               of the ceiling (quicker, for profiling)
#   CHAIN_KEY_RUNS=N            throughput runs (default CHAIN_RUNS; 0: none) with a
#                               journal-key on every node (bodies sealed with
#                               AES-256-GCM), after the runs without; the table
#                               gives their median and the ratio to the runs without
#   CHAIN_INDEX=yes|no          audit-index on every node (default: the nodes'
#                               default, the master only); make bench-audit
#                               alternates runs of each
#   CHAIN_LAT=0                 skip the latency phases
#   CHAIN_CASCADED=PATH         the cascaded binary to run (default: the build's)
#   CHAIN_OUT=FILE              where to write the table instead
#   T_KEEP=1                    keep the temporary directory (logs, journals)
. "$(dirname "$0")/../integration/lib.sh"
t_init bench-chain
. "$(dirname "$0")/../integration/nodes.sh"

[ -n "${CHAIN_CASCADED:-}" ] && CASCADED=$CHAIN_CASCADED
RUNS=${CHAIN_RUNS:-3}
COUNT=${CHAIN_COUNT:-100000}
RATE=${CHAIN_RATE:-1000}
FLOOR_RATE=${CHAIN_FLOOR_RATE:-100}
LAT_SECS=${CHAIN_LAT_SECS:-10}
WINDOW=${CHAIN_WINDOW:-4}
BATCH=${CHAIN_BATCH:-256}
OUT=${CHAIN_OUT:-$top_builddir/tests/bench/results-chain.txt}
LOAD=$top_builddir/tests/bench/chainload
NNGREF=$top_builddir/tests/bench/nngref
JBENCH=$top_builddir/tests/bench/journal_bench
NODES="county city province master"

for f in "$LOAD" "$NNGREF" "$CASCADED" "$T_FREEPORT"; do
	if [ ! -x "$f" ]; then
		echo "chain.sh: $f is not built (make bench-chain builds it)" >&2
		exit 1
	fi
done

# The chain. Node ids are prefixed by their parent's, as the claims expect.
N_SYNC=yes
N_DEAD=30s
n_topo_chain4
PRODUCER=pv-ct-cy/producer
CONSUMER=master/consumer

# Each node serves /metrics: the latency phases read its journal histograms.
declare -A MPORT=()
for n in $NODES; do
	MPORT[$n]=$(t_free_port)
	n_set "$n" "metrics-listen 127.0.0.1:${MPORT[$n]}"
done

# ------------------------------------------------------------- helpers

# median of the numbers on stdin
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
		else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# kv LINE KEY: the value of KEY=VALUE in LINE
kv() {
	t_kv "$1" "$2" || echo nan
}

# The session line of the link to the parent, logged since the last start.
link_up() {
	awk '/^=== / { up = 0 } /link .*: session .* up over/ { up = 1 } END { exit !up }' \
		"$T_DIR/$1.log"
}

# rss_kib NAME: RssAnon of a running node, in KiB.
rss_kib() {
	awk '/^RssAnon:/ { print $2 }' "/proc/$(t_pid "$1")/status"
}

# cpu_s NAME: user + system CPU seconds of a running node (all threads).
cpu_s() {
	local stat
	stat=$(<"/proc/$(t_pid "$1")/stat")
	stat=${stat##*) }
	# fields 14 and 15 of stat are the 12th and 13th after "(comm) "
	awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / t }' <<<"$stat"
}

# perf_start PHASE / perf_stop: with CHAIN_PERF=NODE, profiles that node
# (call graphs through DWARF) during the first throughput run (PHASE tput)
# or the latency phase at CHAIN_RATE (lat), as CHAIN_PERF_PHASE says; the
# report goes to perf-NODE.txt in $T_DIR and beside the results file
PERF_PID=
perf_start() {
	[ -n "${CHAIN_PERF:-}" ] && [ "${CHAIN_PERF_PHASE:-tput}" = "$1" ] || return 0
	perf record -F 1000 --call-graph dwarf,16384 -o "$T_DIR/perf.data" \
		-p "$(t_pid "$CHAIN_PERF")" >"$T_DIR/perf.log" 2>&1 &
	PERF_PID=$!
	sleep 0.5
}
perf_stop() {
	local f=$T_DIR/perf-$CHAIN_PERF.txt
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID"
	wait "$PERF_PID"
	PERF_PID=
	{
		echo "# threads"
		perf report -i "$T_DIR/perf.data" --stdio --no-children -g none --sort pid,comm
		echo "# functions, with what they call"
		perf report -i "$T_DIR/perf.data" --stdio --children -g none --percent-limit 0.5 \
			--sort symbol
		echo "# libraries"
		perf report -i "$T_DIR/perf.data" --stdio --no-children -g none --sort dso
	} >"$f" 2>/dev/null
	cp "$f" "$(dirname "$OUT")/" 2>/dev/null
}

# syscount_start / syscount_stop TAG COUNT: with CHAIN_SYSCOUNT=1, counts
# each node's fdatasync, fsync, pwrite64 (LMDB's meta page, O_DSYNC), writev
# (its data pages) and sendmsg calls in between, per packet, into
# $T_DIR/syscount.txt
SC_PIDS=
syscount_start() {
	local n
	[ "${CHAIN_SYSCOUNT:-0}" = 1 ] || return 0
	SC_PIDS=
	for n in $NODES; do
		perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync \
			-e syscalls:sys_enter_pwrite64,syscalls:sys_enter_writev \
			-e syscalls:sys_enter_sendmsg \
			-o "$T_DIR/syscount-$n.txt" -p "$(t_pid "$n")" 2>/dev/null &
		SC_PIDS="$SC_PIDS $!"
	done
	sleep 0.5
}
syscount_stop() {
	local n
	[ -n "$SC_PIDS" ] || return 0
	kill -INT $SC_PIDS
	wait $SC_PIDS
	SC_PIDS=
	for n in $NODES; do
		awk -F, -v n="$n" -v c="$2" -v t="$1" '$3 ~ /sys_enter_/ {
			sub(/.*sys_enter_/, "", $3); printf "%s|%s|%s|%.3f\n", t, n, $3, $1 / c }' \
			"$T_DIR/syscount-$n.txt"
	done >>"$T_DIR/syscount.txt"
}

# Starts the four nodes on fresh journals and waits until every link is up.
chain_start() {
	local n
	for n in $NODES; do
		t_alive "$n" && n_stop "$n"
		rm -rf "${T_DIR:?}/$n"
	done
	for n in master province city county; do
		n_start "$n" >/dev/null || return 1
	done
	for n in county city province; do
		t_wait_for "$n: link to its parent up" 20 link_up "$n" >/dev/null || return 1
	done
	# the city announces the county to the province as soon as it attaches
	# (Routes); give that request time to land before packets need it
	sleep 0.5
}

chain_stop() {
	local n
	for n in $NODES; do
		t_alive "$n" && n_stop "$n"
	done
	return 0
}

# wchar NAME: bytes a running node passed to write-type system calls
# (journal and sockets alike)
wchar() {
	awk '/^wchar:/ { print $2 }' "/proc/$(t_pid "$1")/io"
}

# phase_mem TAG: RssAnon, CPU seconds and bytes written of every node now
# (each phase starts its nodes afresh), into $T_DIR/mem.txt
phase_mem() {
	local n
	for n in $NODES; do
		echo "$1 $n $(rss_kib "$n") $(cpu_s "$n") $(wchar "$n")" >>"$T_DIR/mem.txt"
	done
}

# cpustat: "busy iowait total" jiffies of the whole machine, from /proc/stat
cpustat() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

# load TAG COUNT [PRODUCER OPTIONS]: a consumer at the master, a producer at
# the county; leaves their result lines in $T_DIR/TAG.prod and TAG.cons.
load() {
	local tag=$1 count=$2 rc
	shift 2
	rm -f "$T_DIR/$tag.lat"
	cpustat >"$T_DIR/$tag.cpu0"
	t_bg "$tag" "$LOAD" consume -u "$(n_url master)" -a "$CONSUMER" \
		-s "$T_DIR/consumer.secret" -n "$count" -W 600 -k "${SKIP:-0}" \
		-o "$T_DIR/$tag.lat" >/dev/null
	"$LOAD" produce -u "$(n_url county)" -a "$PRODUCER" -s "$T_DIR/producer.secret" \
		-t "$CONSUMER" -n "$count" -w "$WINDOW" -b "$BATCH" -W 600 "$@" \
		>"$T_DIR/$tag.prod" 2>>"$T_DIR/$tag.prod.log"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "# $tag: the producer failed (exit $rc):" >&2
		tail -n 5 "$T_DIR/$tag.prod.log" >&2
	fi
	t_wait "$tag" 600 || { t_kill "$tag"; echo "# $tag: the consumer did not finish" >&2; }
	# the whole machine meanwhile (other programs included): busy and iowait %
	echo "$(cat "$T_DIR/$tag.cpu0") $(cpustat)" | awk '{ t = $6 - $3; if (t > 0)
		printf "%.0f %.0f\n", 100 * ($4 - $1) / t, 100 * ($5 - $2) / t }' >"$T_DIR/$tag.cpu"
	grep '^chainload consume' "$T_DIR/$tag.log" | tail -n 1 >"$T_DIR/$tag.cons"
	return $rc
}

# ---------------------------------------------------------- references

echo "# references (median of 3 each)"
: >"$T_DIR/ref.txt"
[ "${CHAIN_REFS:-1}" = 0 ] && echo "# CHAIN_REFS=0: no nng references"
for r in $([ "${CHAIN_REFS:-1}" = 0 ] || echo 1 2 3); do
	"$NNGREF" rtt -n 10000 >>"$T_DIR/ref.txt"
	"$NNGREF" window -n 100000 -w 8 >>"$T_DIR/ref.txt"
	"$NNGREF" oneway -n 200000 >>"$T_DIR/ref.txt"
	"$NNGREF" oneway -n 200000 -B 1024 >>"$T_DIR/ref.txt"
done
ref() {	# ref MODE [FILTER-REGEX] KEY: the median of KEY over the lines of MODE
	grep "^nngref $1 " "$T_DIR/ref.txt" | grep -E -- "${3:-.}" |
		while read -r line; do kv "$line" "$2"; done | median
}
RTT_P50=$(ref rtt p50_us)
RTT_P99=$(ref rtt p99_us)
RTT_PER_S=$(ref rtt per_s)
WIN_PER_S=$(ref window per_s)
ONEWAY0=$(ref oneway per_s 'buf=0 ')
ONEWAY1024=$(ref oneway per_s 'buf=1024 ')
cat "$T_DIR/ref.txt"

# The ceiling: journal_bench's "ceiling: 4 journal-shaped writers at once,
# batch 256: 39.5k pkt/s each (total 158k)". make bench runs bench-journal
# just before this, so its table is from the same session; otherwise (or
# when it is over an hour old) journal_bench runs here, once.
CEILING=
CEILING_SRC=
JRES=$top_builddir/tests/bench/results-journal.txt
ceiling_of() {
	sed -nE 's/^ceiling: .* ([0-9.]+)([kM]?) pkt\/s each.*/\1 \2/p' "$1" | head -n 1 |
		awk '{ m = $2 == "k" ? 1e3 : $2 == "M" ? 1e6 : 1; printf "%.0f", $1 * m }'
}
if [ -s "$JRES" ] && [ -n "$(find "$JRES" -mmin -60 2>/dev/null)" ]; then
	CEILING=$(ceiling_of "$JRES")
	CEILING_SRC="tests/bench/results-journal.txt, $(( ($(date +%s) - $(stat -c %Y "$JRES")) / 60 )) min old"
fi
if [ -z "$CEILING" ] && [ -x "$JBENCH" ] && [ "${CHAIN_REFS:-1}" != 0 ]; then
	echo "# the four-journal-writer ceiling: tests/bench/journal_bench, one run"
	BENCH_RUNS=1 "$JBENCH" >"$T_DIR/jbench.txt" 2>/dev/null
	CEILING=$(ceiling_of "$T_DIR/jbench.txt")
	CEILING_SRC="tests/bench/journal_bench, this run, 1 run of it"
fi
if [ -z "$CEILING" ] && [ -n "${CHAIN_CEILING:-}" ]; then
	CEILING=$CHAIN_CEILING
	CEILING_SRC="CHAIN_CEILING from the environment"
fi
[ -n "$CEILING" ] && echo "# ceiling: $CEILING packets/s per writer ($CEILING_SRC)"

# ---------------------------------------------------------- throughput

if [ -n "${CHAIN_INDEX:-}" ]; then
	for n in $NODES; do
		N_EXTRA[$n]="${N_EXTRA[$n]}audit-index $CHAIN_INDEX
"
	done
fi

: >"$T_DIR/mem.txt"
: >"$T_DIR/journal.txt"
: >"$T_DIR/tput.txt"
for r in $(seq "$RUNS"); do
	echo "# throughput run $r: $COUNT packets"
	t_check "run $r: chain up on fresh journals" chain_start || break
	[ "$r" = 1 ] && perf_start tput
	[ "$r" = 1 ] && syscount_start
	load "tput$r" "$COUNT"
	t_check "run $r: every packet acked by the county" test $? -eq 0
	perf_stop
	[ "$r" = 1 ] && syscount_stop "run 1" "$COUNT"
	phase_mem "tput$r"
	cons=$(cat "$T_DIR/tput$r.cons")
	prod=$(cat "$T_DIR/tput$r.prod")
	echo "#   $prod"
	echo "#   $cons"
	t_eq "run $r: none lost" 0 "$(kv "$cons" lost)"
	t_eq "run $r: none duplicated" 0 "$(kv "$cons" dup)"
	echo "$r $(kv "$cons" e2e_per_s) $(kv "$prod" per_s) $(kv "$cons" lost) $(kv "$cons" dup)" \
	    "$(kv "$prod" avg_batch) $(kv "$cons" avg_batch) $(kv "$prod" resent)" \
	    "$(kv "$cons" p50_us) $(kv "$cons" p99_us) $(kv "$prod" cpu_s) $(kv "$cons" cpu_s)" \
	    "$(cat "$T_DIR/tput$r.cpu")" \
	    >>"$T_DIR/tput.txt"
	chain_stop
done
TPUT=$(awk '{ print $2 }' "$T_DIR/tput.txt" | median)
TPUT_MIN=$(awk '{ print $2 }' "$T_DIR/tput.txt" | sort -g | head -n 1)
TPUT_MAX=$(awk '{ print $2 }' "$T_DIR/tput.txt" | sort -g | tail -n 1)
# the median run: the one whose figure is the median (the first, when two are)
MRUN=$(awk -v m="$TPUT" '$2 == m { print $1; exit }' "$T_DIR/tput.txt")
[ -n "$MRUN" ] || MRUN=$(sort -g -k2 "$T_DIR/tput.txt" | awk -v h=$(((RUNS + 1) / 2)) 'NR == h { print $1 }')
LOST=$(awk '{ s += $4 } END { print s + 0 }' "$T_DIR/tput.txt")
DUP=$(awk '{ s += $5 } END { print s + 0 }' "$T_DIR/tput.txt")

# ------------------------------------ throughput with journal-key

# The same runs with every node's bodies sealed at rest (journal-key).
KEY_RUNS=${CHAIN_KEY_RUNS:-$RUNS}
: >"$T_DIR/ktput.txt"
if [ "$KEY_RUNS" -gt 0 ]; then
	for n in $NODES; do
		head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/$n.jkey"
		chmod 600 "$T_DIR/$n.jkey"
		N_EXTRA[$n]="${N_EXTRA[$n]}journal-key $T_DIR/$n.jkey
"
	done
	for r in $(seq "$KEY_RUNS"); do
		echo "# throughput run $r with journal-key: $COUNT packets"
		t_check "key run $r: chain up on fresh journals" chain_start || break
		load "ktput$r" "$COUNT"
		t_check "key run $r: every packet acked by the county" test $? -eq 0
		cons=$(cat "$T_DIR/ktput$r.cons")
		echo "#   $cons"
		t_eq "key run $r: none lost" 0 "$(kv "$cons" lost)"
		t_eq "key run $r: none duplicated" 0 "$(kv "$cons" dup)"
		echo "$r $(kv "$cons" e2e_per_s) $(kv "$cons" lost) $(kv "$cons" dup)" >>"$T_DIR/ktput.txt"
		chain_stop
	done
	for n in $NODES; do
		N_EXTRA[$n]=${N_EXTRA[$n]%"journal-key $T_DIR/$n.jkey
"}
	done
fi
KTPUT=$(awk '{ print $2 }' "$T_DIR/ktput.txt" | median)
LOST=$((LOST + $(awk '{ s += $3 } END { print s + 0 }' "$T_DIR/ktput.txt")))
DUP=$((DUP + $(awk '{ s += $4 } END { print s + 0 }' "$T_DIR/ktput.txt")))

# ------------------------------------------------------------- latency

# phase_journal TAG COUNT: each node's journal during the phase, from its
# /metrics (fresh journals, so the histograms cover the phase alone): the
# mean time of a group commit of incoming packets (journal thread queue +
# LMDB commit + fsync), the mean LMDB commit (the same and every other
# writer, the uplink's acks among them) and LMDB commits per packet. Lines
# "TAG NODE incoming_us commit_us commits_per_packet" in journal.txt.
phase_journal() {
	local n
	for n in $NODES; do
		curl -s --max-time 5 "http://127.0.0.1:${MPORT[$n]}/metrics" |
			awk -v t="$1" -v n="$n" -v c="$2" '
			$1 == "cascade_journal_commit_seconds_sum" { is = $2 }
			$1 == "cascade_journal_commit_seconds_count" { ic = $2 }
			$1 == "cascade_journal_sync_seconds_sum" { ss = $2 }
			$1 == "cascade_journal_sync_seconds_count" { sc = $2 }
			END { if (ic > 0 && sc > 0) printf "%s %s %.0f %.0f %.2f\n", t, n,
				1e6 * is / ic, 1e6 * ss / sc, sc / c }' >>"$T_DIR/journal.txt"
	done
}

# lat_phase TAG RATE SECONDS SYNC: a fresh chain (sync yes or no) at a steady
# RATE packets/s for SECONDS; the consumer's line in $T_DIR/TAG.cons.
lat_phase() {
	local tag=$1 rate=$2 secs=$3 count cons
	count=$(awk -v r="$rate" -v s="$secs" 'BEGIN { printf "%d", r * s }')
	echo "# $tag: $count packets at $rate/s, sync $4"
	N_SYNC=$4
	if t_check "$tag: chain up on fresh journals" chain_start; then
		syscount_start
		[ "$tag" = lat ] && perf_start lat
		SKIP=$(awk -v r="$rate" 'BEGIN { printf "%d", r / 5 }') \
			load "$tag" "$count" -r "$rate"
		t_check "$tag: every packet acked by the county" test $? -eq 0
		syscount_stop "$tag" "$count"
		perf_stop
		phase_mem "$tag"
		phase_journal "$tag" "$count"
		cons=$(cat "$T_DIR/$tag.cons")
		echo "#   $(cat "$T_DIR/$tag.prod")"
		echo "#   $cons"
		t_eq "$tag: none lost" 0 "$(kv "$cons" lost)"
		t_eq "$tag: none duplicated" 0 "$(kv "$cons" dup)"
		chain_stop
	fi
	N_SYNC=yes
}
if [ "${CHAIN_LAT:-1}" != 0 ]; then
	# the work of BENCH.md: durable, at RATE
	lat_phase lat "$RATE" "$LAT_SECS" yes
	# the floor: one packet at a time through four durable commits in a row
	lat_phase floor "$FLOOR_RATE" 3 yes
	# what is left without the disk (BENCH.md's target for it: Mosquitto's p50)
	lat_phase nosync "$RATE" "$LAT_SECS" no
fi
lcons=$(cat "$T_DIR/lat.cons" 2>/dev/null)
fcons=$(cat "$T_DIR/floor.cons" 2>/dev/null)
ncons=$(cat "$T_DIR/nosync.cons" 2>/dev/null)

# --------------------------------------------------------------- table

ratio() {	# ratio A B: A / B with 2 decimals, or n/a
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b + 0 == 0)
		print "n/a"; else printf "%.2f", a / b }'
}
mem_row() {	# mem_row TAG: "county X MiB, ..." RssAnon per node at the end of phase TAG
	awk -v t="$1" '$1 == t { printf "%s%s %.1f MiB / %.1f s", sep, $2, $3 / 1024, $4; sep = ", " }' \
		"$T_DIR/mem.txt"
}
{
	echo "cascade chain benchmark, $(date '+%Y-%m-%d %H:%M'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "chain: county -> city -> province -> master, sync yes, tcp on 127.0.0.1;"
	echo "producer window $WINDOW x $BATCH packets, 1 KiB payloads"
	echo
	printf '%-58s %s\n' "figure" "value"
	printf '%-58s %s\n' "----------------------------------------------------------" "--------------------"
	printf '%-58s %.0f packets/s (min %.0f, max %.0f, %d runs)\n' \
		"chain throughput, $COUNT x 1 KiB, first send..last receive" "$TPUT" "$TPUT_MIN" "$TPUT_MAX" "$RUNS"
	printf '%-58s %s / %s\n' "  lost / duplicated (all runs)" "$LOST" "$DUP"
	if [ -s "$T_DIR/ktput.txt" ]; then
		printf '%-58s %.0f packets/s (%s), %s of the runs without\n' \
			"  the same with journal-key (AES-256-GCM at rest)" "$KTPUT" \
			"$(awk '{ printf "%s%.0f", sep, $2; sep = ", " }' "$T_DIR/ktput.txt")" \
			"$(ratio "$KTPUT" "$TPUT")"
	fi
	awk '{ printf "  run %d: %.0f packets/s e2e, producer acked %.0f/s, push batch %.1f, pull batch %.1f, resent %d, machine CPU busy %d%% (iowait %d%%)\n", $1, $2, $3, $6, $7, $8, $13, $14 }' "$T_DIR/tput.txt"
	printf '%-58s %s\n' "  RssAnon / CPU per node, end of median run ($MRUN)" "$(mem_row "tput$MRUN")"
	# CPU per packet of every process of the median run: on a machine of
	# few cores the chain cannot go faster than cores / their sum
	awk -v t="tput$MRUN" -v c="$COUNT" -v r="$MRUN" -v ncpu="$(nproc)" '
		FNR == NR { if ($1 == t) { cpu[$2] = $4 * 1e6 / c; wr[$2] = $5 / c; order[++n] = $2 }; next }
		$1 == r { cpu["producer"] = $11 * 1e6 / c; cpu["consumer"] = $12 * 1e6 / c
			order[++n] = "producer"; order[++n] = "consumer" }
		END { for (i = 1; i <= n; i++) { s = s sep order[i] " " sprintf("%.1f", cpu[order[i]]); sep = ", "; sum += cpu[order[i]] }
			printf "%-58s %s; sum %.1f us = at most %.0f packets/s on %d cores\n",
				"  CPU us per packet, median run", s, sum, (sum > 0 ? ncpu * 1e6 / sum : 0), ncpu
			s = ""; sep = ""
			for (i = 1; i <= n; i++) if (order[i] in wr) { s = s sep order[i] " " sprintf("%.1f", wr[order[i]] / 1024); sep = ", " }
			printf "%-58s %s\n", "  KiB written (write calls, journal + sockets) per packet", s }' \
		"$T_DIR/mem.txt" "$T_DIR/tput.txt"
	printf '%-58s p50 %s us, p99 %s us, p99.9 %s us (max %s us)\n' \
		"chain latency at $RATE/s, $LAT_SECS s, one way" \
		"$(kv "$lcons" p50_us)" "$(kv "$lcons" p99_us)" "$(kv "$lcons" p999_us)" "$(kv "$lcons" max_us)"
	printf '%-58s %s / %s\n' "  lost / duplicated" "$(kv "$lcons" lost)" "$(kv "$lcons" dup)"
	printf '%-58s p50 %s us, p99 %s us, p99.9 %s us (max %s us)\n' \
		"  the same at $FLOOR_RATE/s, 3 s (the floor: no contention)" \
		"$(kv "$fcons" p50_us)" "$(kv "$fcons" p99_us)" "$(kv "$fcons" p999_us)" "$(kv "$fcons" max_us)"
	printf '%-58s p50 %s us, p99 %s us, p99.9 %s us (max %s us)\n' \
		"  the same at $RATE/s with sync no (no disk flushes)" \
		"$(kv "$ncons" p50_us)" "$(kv "$ncons" p99_us)" "$(kv "$ncons" p999_us)" "$(kv "$ncons" max_us)"
	printf '%-58s %s\n' "  RssAnon / CPU per node, end of latency phase" "$(mem_row lat)"
	# where the latency goes: the four journals' share of the one-way p50
	for t in lat floor; do
		awk -v t="$t" -v p50="$(kv "$([ $t = lat ] && echo "$lcons" || echo "$fcons")" p50_us)" '
			$1 == t { s = s sep $2 " " $3 "/" $4 " us x" $5; sep = ", "; sum += $3 }
			END { if (s != "") printf "%-58s %s; the 4 in a row %.0f us = %s of p50\n",
				"  journal (" t "): incoming / any commit, commits per pkt",
				s, sum, (p50 + 0 > 0) ? sprintf("%.0f%%", 100 * sum / p50) : "n/a" }' \
			"$T_DIR/journal.txt"
	done
	if [ -s "$T_DIR/syscount.txt" ]; then
		echo
		echo "system calls per packet and node (CHAIN_SYSCOUNT=1)"
		awk -F'|' '{ k = $1 "|" $2; if (!(k in a)) o[++n] = k; a[k] = a[k] " " $3 "=" $4 }
			END { for (i = 1; i <= n; i++) { split(o[i], p, "|");
				printf "  %-56s%s\n", p[1] ", " p[2], a[o[i]] } }' "$T_DIR/syscount.txt"
	fi
	echo
	echo "references, same run (median of 3)"
	printf '%-58s p50 %s us, p99 %s us (%s round trips/s)\n' "nng req/rep 1 KiB round trip" "$RTT_P50" "$RTT_P99" "$RTT_PER_S"
	printf '%-58s %s msgs/s\n' "nng req/rep 1 KiB, 8 requests in flight" "$WIN_PER_S"
	printf '%-58s %s msgs/s (buffers 1024: %s)\n' "nng pair1 1 KiB one way, default buffers" "$ONEWAY0" "$ONEWAY1024"
	if [ -n "$CEILING" ]; then
		printf '%-58s %s packets/s per writer (%s)\n' "four journal-shaped writers at once (the ceiling)" "$CEILING" "$CEILING_SRC"
	else
		printf '%-58s %s\n' "four journal-shaped writers at once (the ceiling)" \
			"TODO: no tests/bench/journal_bench here; build it or set CHAIN_CEILING"
	fi
	echo
	echo "ratios"
	printf '%-58s %s (target >= 0.6, aim 0.8)\n' "chain throughput / journal ceiling" "$(ratio "$TPUT" "$CEILING")"
	printf '%-58s %s\n' "chain throughput / nng req/rep window 8" "$(ratio "$TPUT" "$WIN_PER_S")"
	printf '%-58s %s\n' "chain latency p50 / nng round trip p50" "$(ratio "$(kv "$lcons" p50_us)" "$RTT_P50")"
	printf '%-58s %s (target p50 <= 2000 us, p99 <= 5000 us)\n' "latency targets" \
		"$(awk -v a="$(kv "$lcons" p50_us)" -v b="$(kv "$lcons" p99_us)" 'BEGIN {
			print ((a + 0 <= 2000 && b + 0 <= 5000 && a != "nan") ? "met" : "not met") }')"
} >"$T_DIR/table.txt"
echo
cat "$T_DIR/table.txt"
mkdir -p "$(dirname "$OUT")" && cp "$T_DIR/table.txt" "$OUT" && echo "# written to $OUT"
t_done
