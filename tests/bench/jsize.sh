#!/bin/bash
# jsize.sh: the journal's size on disk per packet held (BENCH.md "backlog":
# journal on disk <= 1.4x the payload held).
#
#   The chain of chain.sh (county -> city -> province -> master) without the
#   master: a producer at the county sends JSIZE_COUNT (100 000) packets of
#   1 KiB to master/consumer. The county and the city forward them (their
#   records stay for retention, 30d), the province holds them all in its
#   queue to the master. Then the nodes stop and each journal is measured:
#   allocated bytes of data.mdb (du), and per database (mdb_stat -a, and -f
#   for the free list) its leaf, branch and overflow pages and entries, as
#   bytes per packet and as a share of the payload.
#
# The table goes to stdout and to $top_builddir/tests/bench/results-jsize.txt.
#
# Environment (all optional):
#   JSIZE_COUNT      packets (100 000)
#   JSIZE_INDEX      audit-index yes|no on every node (default: the nodes'
#                    default, the master's only, so none here)
#   JSIZE_CASCADED   the cascaded binary to run (default: the build's)
#   JSIZE_OUT        where to write the table instead
#   T_KEEP=1         keep the temporary directory (logs, journals)
. "$(dirname "$0")/../integration/lib.sh"
t_init bench-jsize
. "$(dirname "$0")/../integration/nodes.sh"

[ -n "${JSIZE_CASCADED:-}" ] && CASCADED=$JSIZE_CASCADED
COUNT=${JSIZE_COUNT:-100000}
PAYLOAD=1024
OUT=${JSIZE_OUT:-$top_builddir/tests/bench/results-jsize.txt}
LOAD=$top_builddir/tests/bench/chainload
NODES="county city province"

for f in "$LOAD" "$CASCADED" "$T_FREEPORT"; do
	if [ ! -x "$f" ]; then
		echo "jsize.sh: $f is not built (make bench-jsize builds it)" >&2
		exit 1
	fi
done
if ! command -v mdb_stat >/dev/null; then
	echo "jsize.sh: mdb_stat is not installed (apt-get install lmdb-utils)" >&2
	exit 1
fi

N_SYNC=yes
N_DEAD=30s
n_topo_chain4
MPORT=$(t_free_port)
n_set province "metrics-listen 127.0.0.1:$MPORT"
# the whole backlog from one peer (the quotas' defaults are 20 000 and 256M)
for n in $NODES; do
	n_set "$n" "quota-packets 0"
	n_set "$n" "quota-bytes 0"
	[ -z "${JSIZE_INDEX:-}" ] || n_set "$n" "audit-index $JSIZE_INDEX"
done

# The master never starts: the province's link to it stays down.
for n in province city county; do
	n_start "$n" >/dev/null || t_check "$n starts" false
done
for n in county city; do
	t_wait_for "$n: link to its parent up" 20 grep -q "session .* up over" "$T_DIR/$n.log" \
		>/dev/null
done
sleep 0.5

"$LOAD" produce -u "$(n_url county)" -a pv-ct-cy/producer -s "$T_DIR/producer.secret" \
	-t master/consumer -n "$COUNT" -w 4 -b 256 -W 600 >"$T_DIR/prod.txt" \
	2>"$T_DIR/prod.log" || { tail -n 5 "$T_DIR/prod.log" >&2; t_check "the producer" false; }

# Until the province holds them all in its queue to the master.
held() {
	curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
		awk '/^cascade_link_queue_packets\{/ { n += $2 } END { print n + 0 }'
}
held_all() { [ "$(held)" -ge "$COUNT" ]; }
t_wait_for "the province holds $COUNT" 300 held_all >/dev/null
for n in $NODES; do
	n_stop "$n"
done

# dbstat DIR: "name leaf branch overflow entries" per database, and
# "free pages" for the free list, from mdb_stat
dbstat() {
	mdb_stat -e "$1" | awk '/Page size:/ { print "PSIZE", $3 }'
	mdb_stat -a -f "$1" | awk '
		/^Freelist Status/ { sect = "free"; next }
		/^Status of Main DB/ { sect = "main"; next }
		/^Status of / { sect = $3; next }
		sect == "free" && /Free pages:/ { print "FREE", $3 }
		sect != "" && sect != "free" && /Branch pages:/ { b[sect] = $3 }
		sect != "" && sect != "free" && /Leaf pages:/ { l[sect] = $3 }
		sect != "" && sect != "free" && /Overflow pages:/ { o[sect] = $3 }
		sect != "" && sect != "free" && /Entries:/ { e[sect] = $2 }
		END { for (s in l) print s, l[s], b[s], o[s], e[s] }'
}

{
	echo "# journal size: $COUNT packets of $PAYLOAD bytes; county and city forwarded them"
	echo "# (kept for retention), the province holds them (its parent link down)"
	printf "%-9s %-9s %9s %7s %7s %7s %9s %10s %7s\n" node db leaf branch overflow \
		entries MiB bytes/pkt xpayload
	for n in $NODES; do
		dir=$T_DIR/$n/journal
		stat_out=$(dbstat "$dir")
		psize=$(awk '$1 == "PSIZE" { print $2; exit }' <<<"$stat_out")
		du_b=$(du -B1 "$dir/data.mdb")
		du_b=${du_b%%[[:space:]]*}
		# "rest": the file beyond the pages counted, mostly the sub-databases
		# of evidx's longer duplicate lists (mdb_stat counts a DUPSORT
		# database's main tree only)
		awk -v n="$n" -v ps="$psize" -v c="$COUNT" -v pl="$PAYLOAD" -v b="$du_b" '
			function row(db, l, br, o, e, bytes) {
				printf "%-9s %-9s %9s %7s %7s %7s %9.1f %10.0f %7.3f\n", n, db, l, br, o,
				    e, bytes / 1048576, bytes / c, bytes / c / pl }
			$1 == "PSIZE" { next }
			$1 == "FREE" { free = $2; next }
			{ pages = $2 + $3 + $4; tot += pages
			  row($1, $2, $3, $4, $5, pages * ps) }
			END { tot += free
			      row("free", free, "", "", "", free * ps)
			      row("rest", "", "", "", "", b - tot * ps)
			      row("data.mdb", "", "", "", "", b) }' \
			< <(sort <<<"$stat_out")
	done
} | tee "$OUT"
t_done
