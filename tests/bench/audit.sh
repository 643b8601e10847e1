#!/bin/bash
# make bench-audit: cascadectl audit over a journal of AUDIT_N events (default
# 1 000 000, one every 2.6 s: a month from 1000 clinics), all in the same run:
#   1. the median time of a query for one src over a one-hour window, with
#      the event indexes and with --scan (the whole log read), same rows;
#   2. audit verify, as records/s;
#   3. what the indexes cost the hash chain's writer: audit_gen's events/s
#      (one event per transaction, sync off: the worst case for them) with
#      and without, and the chain benchmark (tests/bench/chain.sh: four
#      durable nodes, batches) with audit-index yes on every node, with the
#      defaults (the master only) and with no, runs alternated,
#      AUDIT_CHAIN_RUNS (3) each of AUDIT_CHAIN_COUNT (30 000) packets;
#      AUDIT_CHAIN_RUNS=0 skips it.
# BENCH_RUNS: runs of each query (5). BENCH_DIR: where the journals go.
set -e
: "${top_builddir:?}"
: "${top_srcdir:=$top_builddir}"
N=${AUDIT_N:-1000000}
RUNS=${BENCH_RUNS:-5}
CRUNS=${AUDIT_CHAIN_RUNS:-3}
CCOUNT=${AUDIT_CHAIN_COUNT:-30000}
DIR=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/var/tmp}}/cascade-bench-audit.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
CTL=$top_builddir/node/cascadectl
GEN=$top_builddir/tests/bench/audit_gen
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ms() { local t0=${EPOCHREALTIME/[.,]/}; "$@" > /dev/null; echo $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)); }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.1f%%", (1 - a / b) * 100 }'; }

echo "# writing $N events with indexes, then $N without"
gen_ix=$("$GEN" "$DIR/ix" "$N" 2600)
gen_noix=$("$GEN" "$DIR/noix" "$N" 2600 noindex)
# pages in use, free ones not counted (mdb_stat's per-database figures leave
# out the pages of a DUPSORT database's sub-databases)
net() { echo $(($(mdb_stat -e "$1" | awk '/Number of pages used/ { print $5 }') -
	$(mdb_stat -ef "$1" | awk '/Free pages:/ { print $3 }'))); }
ixb=$(( ($(net "$DIR/ix") - $(net "$DIR/noix")) * 4096 / N ))
evb=$(( $(net "$DIR/noix") * 4096 / N ))
rm -rf "$DIR/noix"
Q=(audit --journal "$DIR/ix" --src fj-c007 --since -3h --until -2h --json)
qi=$(for i in $(seq "$RUNS"); do ms "$CTL" "${Q[@]}"; done | median)
qs=$(for i in $(seq "$RUNS"); do ms "$CTL" "${Q[@]}" --scan; done | median)
rows=$("$CTL" "${Q[@]}" | wc -l)
rows_scan=$("$CTL" "${Q[@]}" --scan | wc -l)
v=$(for i in $(seq "$RUNS"); do ms "$CTL" audit verify --journal "$DIR/ix"; done | median)

# chain RUN MODE: one throughput run of the chain, audit-index MODE on every
# node (yes, no) or the nodes' defaults (the master only); its packets/s
chain() {
	local ix=$2
	[ "$ix" = default ] && ix=
	top_builddir=$top_builddir top_srcdir=$top_srcdir CHAIN_RUNS=1 CHAIN_INDEX=$ix \
	    CHAIN_KEY_RUNS=0 CHAIN_LAT=0 CHAIN_REFS=0 CHAIN_COUNT=$CCOUNT \
	    CHAIN_OUT="$DIR/chain-$2-$1.txt" bash "$top_srcdir/tests/bench/chain.sh" \
	    >"$DIR/chain-$2-$1.log" 2>&1 || {
		tail -20 "$DIR/chain-$2-$1.log" >&2; echo "bench-audit: the chain failed" >&2; exit 1; }
	# packets/s, and the CPU us per packet of the four nodes together: the
	# figure the machine's other load disturbs least
	echo "$(sed -nE 's/^chain throughput, .* ([0-9]+) packets\/s \(min.*/\1/p' "$DIR/chain-$2-$1.txt")" \
	    "$(sed -nE 's/^  CPU us per packet, median run +county ([0-9.]+), city ([0-9.]+), province ([0-9.]+), master ([0-9.]+),.*/\1 \2 \3 \4/p' \
	    "$DIR/chain-$2-$1.txt" | awk '{ printf "%.1f", $1 + $2 + $3 + $4 }')"
}
if [ "$CRUNS" -gt 0 ]; then
	# alternated, so that the machine's load drifts alike over the three
	echo "# the chain: $CRUNS runs each with audit-index yes on all nodes, the defaults, no"
	for r in $(seq "$CRUNS"); do
		for mode in yes default no; do
			chain "$r" "$mode" >>"$DIR/chain-$mode.txt"
		done
	done
	col() { awk -v c="$2" '{ print $c }' "$DIR/chain-$1.txt"; }
	cy=$(col yes 1 | median); cdef=$(col default 1 | median); cn=$(col no 1 | median)
	uy=$(col yes 2 | median); udef=$(col default 2 | median); un=$(col no 2 | median)
	runs() { col "$1" 1 | tr '\n' ' ' | sed 's/ $//; s/ /, /g'; }
fi

echo "audit bench: $N events, median of $RUNS runs"
echo "  query --src fj-c007, one hour: indexed $qi ms ($rows rows), --scan $qs ms ($rows_scan rows)" \
    "(target <= 50 ms)"
echo "  verify: $v ms, $((N * 1000 / (v > 0 ? v : 1))) records/s (target >= 500000/s)"
echo "  journal size: $evb bytes per event without indexes, $ixb more with them"
echo "  chain writer (audit_gen, 1 event per txn, sync off): $gen_ix events/s with indexes," \
    "$gen_noix without: $(pct "$gen_ix" "$gen_noix") less"
if [ "$CRUNS" -gt 0 ]; then
	echo "  chain benchmark, $CCOUNT x 1 KiB, median of $CRUNS alternated runs each:"
	echo "    audit-index yes on all 4 nodes: $cy packets/s ($(runs yes)): $(pct "$cy" "$cn") less" \
	    "(target <= 10%); nodes' CPU $uy us/packet, $(pct "$un" "$uy") of it for the indexes"
	echo "    the defaults (the master only): $cdef packets/s ($(runs default)): $(pct "$cdef" "$cn") less;" \
	    "nodes' CPU $udef us/packet, $(pct "$un" "$udef") of it for the indexes"
	echo "    audit-index no on all 4 nodes:  $cn packets/s ($(runs no)); nodes' CPU $un us/packet"
fi
