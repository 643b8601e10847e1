#!/bin/bash
# make bench-audit: cascadectl audit over a journal of AUDIT_N events (default
# 1 000 000, one every 2.6 s: a month from 1000 clinics): the median time of a
# query for one src over a one-hour window, and of audit verify, as records/s.
# No indexes yet: both scan the whole log. BENCH_DIR: where the journal goes.
set -e
: "${top_builddir:?}"
N=${AUDIT_N:-1000000}
RUNS=${BENCH_RUNS:-5}
DIR=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/var/tmp}}/cascade-bench-audit.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
CTL=$top_builddir/node/cascadectl
"$top_builddir/tests/bench/audit_gen" "$DIR" "$N" 2600
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ms() { local t0=${EPOCHREALTIME/[.,]/}; "$@" > /dev/null; echo $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)); }
q=$(for i in $(seq "$RUNS"); do ms "$CTL" audit --journal "$DIR" --src fj-c007 --since -3h --until -2h --json; done | median)
rows=$("$CTL" audit --journal "$DIR" --src fj-c007 --since -3h --until -2h --json | wc -l)
v=$(for i in $(seq "$RUNS"); do ms "$CTL" audit verify --journal "$DIR"; done | median)
echo "audit bench: $N events, median of $RUNS runs"
echo "  query --src fj-c007, one hour ($rows rows): $q ms (target <= 50 ms)"
echo "  verify: $v ms, $((N * 1000 / (v > 0 ? v : 1))) records/s (target >= 500000/s)"
