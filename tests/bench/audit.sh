#!/bin/bash
# make bench-audit: cascadectl audit over a journal of AUDIT_N events (default
# 1 000 000, one every 2.6 s: a month from 1000 clinics), all in the same run:
#   1. the median time of a query for one src over a one-hour window, with
#      the event indexes and with --scan (the whole log read), same rows;
#   2. audit verify, as records/s;
#   3. what the indexes cost the hash chain's writer: audit_gen's events/s
#      (one event per transaction, sync off: the worst case for them) with
#      and without, and the chain benchmark (tests/bench/chain.sh: four
#      durable nodes, batches) with audit-index yes on every node (the
#      default indexes only on the master) and with no, AUDIT_CHAIN_RUNS
#      (3) runs each of AUDIT_CHAIN_COUNT (30 000) packets; AUDIT_CHAIN_RUNS=0
#      skips it.
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
rm -rf "$DIR/noix"
Q=(audit --journal "$DIR/ix" --src fj-c007 --since -3h --until -2h --json)
qi=$(for i in $(seq "$RUNS"); do ms "$CTL" "${Q[@]}"; done | median)
qs=$(for i in $(seq "$RUNS"); do ms "$CTL" "${Q[@]}" --scan; done | median)
rows=$("$CTL" "${Q[@]}" | wc -l)
rows_scan=$("$CTL" "${Q[@]}" --scan | wc -l)
v=$(for i in $(seq "$RUNS"); do ms "$CTL" audit verify --journal "$DIR/ix"; done | median)
ixb=$(mdb_stat -a "$DIR/ix" 2>/dev/null | sed -n '/^Status of evidx/,/Entries/p' |
	awk '/pages:/ { p += $3 } END { print p + 0 }')

if [ "$CRUNS" -gt 0 ]; then
	echo "# the chain, $CRUNS runs with indexes and $CRUNS with audit-index no"
	top_builddir=$top_builddir top_srcdir=$top_srcdir CHAIN_RUNS=$CRUNS \
	    CHAIN_INDEX=yes CHAIN_NOINDEX_RUNS=$CRUNS CHAIN_KEY_RUNS=0 CHAIN_LAT=0 CHAIN_REFS=0 \
	    CHAIN_COUNT=$CCOUNT CHAIN_OUT="$DIR/chain.txt" \
	    bash "$top_srcdir/tests/bench/chain.sh" >"$DIR/chain.log" 2>&1 || {
		tail -20 "$DIR/chain.log" >&2; echo "bench-audit: the chain failed" >&2; exit 1; }
	cw=$(sed -nE 's/^chain throughput, .* ([0-9]+) packets\/s \(min.*/\1/p' "$DIR/chain.txt")
	cn=$(sed -nE 's/^  the same with audit-index no .* ([0-9]+) packets\/s \(.*/\1/p' "$DIR/chain.txt")
fi

echo "audit bench: $N events, median of $RUNS runs, in $DIR"
echo "  query --src fj-c007, one hour: indexed $qi ms ($rows rows), --scan $qs ms ($rows_scan rows)" \
    "(target <= 50 ms)"
echo "  verify: $v ms, $((N * 1000 / (v > 0 ? v : 1))) records/s (target >= 500000/s)"
echo "  index size: $ixb pages, $((ixb * 4096 / N)) bytes per event"
echo "  chain writer (audit_gen, 1 event per txn, sync off): $gen_ix events/s with indexes," \
    "$gen_noix without: $(pct "$gen_ix" "$gen_noix") less"
if [ "$CRUNS" -gt 0 ]; then
	echo "  chain benchmark, $CCOUNT x 1 KiB, median of $CRUNS: $cw packets/s with indexes on all 4 nodes," \
	    "$cn without: $(pct "$cw" "$cn") less (target <= 10%)"
fi
