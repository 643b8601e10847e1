#!/bin/bash
# chain_instr.sh: the chain's cost in user-space instructions per packet,
# per node, counted by valgrind (cachegrind without cache simulation), for
# this build's cascaded and optionally an older one, interleaved.
#
# Why: on a shared 2-core machine the chain's packets/s and CPU seconds drift
# by 10 % between runs minutes apart, more than a code change moves them,
# and this machine's perf has no hardware counters. Instructions executed
# per packet barely move with a moderate load (about 0.2 % between runs),
# so "not worse than before" can be read off them; on a saturated machine
# the batches grow and the counts fall (seen: -15 % at one node at load 100),
# so compare only runs interleaved in the same sitting. They leave out the
# kernel's share (system calls, fsync) and cache misses: a change that moves
# work into the kernel or thrashes the cache is not seen here, only in
# make bench-chain.
#
# Each measurement is two chain.sh throughput runs, INSTR_SMALL (2 000) and
# INSTR_LARGE (8 000) packets of 1 KiB, with the four nodes under cachegrind;
# the difference of their counts over the difference of the packets takes
# start-up and shut-down out. INSTR_REPS (2) measurements of each binary,
# alternating.
#
# Environment (all optional):
#   INSTR_BASE=PATH     an older cascaded to compare against (e.g. one built
#                       from the commit before a change); the table then
#                       gives new / old per node
#   INSTR_NODES         the nodes to count (default: all four)
#   INSTR_REPS, INSTR_SMALL, INSTR_LARGE   see above
#
# The table goes to stdout and to $top_builddir/tests/bench/results-instr.txt.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
NODES=${INSTR_NODES:-county city province master}
REPS=${INSTR_REPS:-2}
SMALL=${INSTR_SMALL:-2000}
LARGE=${INSTR_LARGE:-8000}
OUT=$top_builddir/tests/bench/results-instr.txt

if ! command -v valgrind >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null ||
			{ echo "chain_instr.sh: valgrind is missing and apt-get failed" >&2; exit 1; }
	else
		echo "chain_instr.sh: needs valgrind (apt-get install -y valgrind)" >&2
		exit 1
	fi
fi
[ "$LARGE" -gt "$SMALL" ] || { echo "chain_instr.sh: INSTR_LARGE must exceed INSTR_SMALL" >&2; exit 1; }

DIR=$(mktemp -d /tmp/cascade-bench-instr.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
# chain.sh starts every node through this wrapper (CHAIN_CASCADED): the
# nodes named in INSTR_NODES run under cachegrind, each writing its counts to
# $VG_OUT.NODE.PID
cat >"$DIR/wrap.sh" <<'EOF'
#!/bin/bash
for n in $INSTR_NODES; do
	case " $* " in
	*"/$n.conf"*)
		exec valgrind --tool=cachegrind --cache-sim=no \
		    --cachegrind-out-file="$VG_OUT.$n.%p" "$REAL_CASCADED" "$@" ;;
	esac
done
exec "$REAL_CASCADED" "$@"
EOF
chmod +x "$DIR/wrap.sh"

# count TAG BIN N: one chain.sh throughput run of N packets with BIN
count() {
	REAL_CASCADED=$2 VG_OUT=$DIR/$1-$3 INSTR_NODES=$NODES CHAIN_CASCADED=$DIR/wrap.sh \
	    CHAIN_COUNT=$3 CHAIN_RUNS=1 CHAIN_REFS=0 CHAIN_LAT=0 CHAIN_KEY_RUNS=0 \
	    CHAIN_CEILING=${CHAIN_CEILING:-24000} CHAIN_OUT=$DIR/$1-$3.txt \
	    bash "$top_srcdir/tests/bench/chain.sh" >"$DIR/$1-$3.log" 2>&1 ||
		{ echo "chain_instr.sh: chain.sh failed for $2 ($3 packets):" >&2
		  tail -n 5 "$DIR/$1-$3.log" >&2; return 1; }
}

# ir TAG N NODE: the instructions NODE executed in that run
ir() {
	cat "$DIR/$1-$2.$3".[0-9]* 2>/dev/null | awk '/^summary:/ { s += $2 } END { printf "%.0f\n", s }'
}

# measure TAG BIN: one line "TAG node=instr/pkt ... total=instr/pkt"
measure() {
	local n a b line total=0
	count "$1" "$2" "$SMALL" && count "$1" "$2" "$LARGE" || return 1
	line=$1
	for n in $NODES; do
		a=$(ir "$1" "$SMALL" "$n")
		b=$(ir "$1" "$LARGE" "$n")
		[ "$a" -gt 0 ] && [ "$b" -gt 0 ] ||
			{ echo "chain_instr.sh: no count for $n in $1" >&2; return 1; }
		line="$line $n=$(( (b - a) / (LARGE - SMALL) ))"
		total=$(( total + (b - a) / (LARGE - SMALL) ))
	done
	echo "$line total=$total"
}

NEW=$top_builddir/node/cascaded
[ -x "$NEW" ] || { echo "chain_instr.sh: $NEW is not built" >&2; exit 1; }
: >"$DIR/m.txt"
for r in $(seq "$REPS"); do
	if [ -n "${INSTR_BASE:-}" ]; then
		measure "old$r" "$INSTR_BASE" >>"$DIR/m.txt" || exit 1
		echo "# $(tail -n 1 "$DIR/m.txt")"
	fi
	measure "new$r" "$NEW" >>"$DIR/m.txt" || exit 1
	echo "# $(tail -n 1 "$DIR/m.txt")"
done

# The table: per node the median over the repetitions of each binary.
{
	echo "# chain: user-space instructions per packet (cachegrind), $SMALL and $LARGE packets, $REPS runs each"
	cat "$DIR/m.txt" | sed 's/^/# /'
	awk -v nodes="$NODES total" '
	function median(arr, k,   t, i, j, x) {
		for (i = 1; i <= k; i++) t[i] = arr[i]
		for (i = 2; i <= k; i++) { x = t[i]; for (j = i - 1; j >= 1 && t[j] > x; j--) t[j + 1] = t[j]; t[j + 1] = x }
		return k % 2 ? t[(k + 1) / 2] : (t[k / 2] + t[k / 2 + 1]) / 2
	}
	{
		bin = substr($1, 1, 3)
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[bin, kv[1], ++c[bin, kv[1]]] = kv[2] }
	}
	END {
		n = split(nodes, nd, " ")
		printf "%-10s %12s %12s %8s\n", "node", "new", "old", "new/old"
		for (i = 1; i <= n; i++) {
			k = c["new", nd[i]]
			for (j = 1; j <= k; j++) a[j] = v["new", nd[i], j]
			mn = median(a, k)
			k = c["old", nd[i]]
			if (k > 0) {
				for (j = 1; j <= k; j++) b[j] = v["old", nd[i], j]
				mo = median(b, k)
				printf "%-10s %12.0f %12.0f %8.3f\n", nd[i], mn, mo, mn / mo
			} else
				printf "%-10s %12.0f %12s %8s\n", nd[i], mn, "-", "-"
		}
	}' "$DIR/m.txt"
} | tee "$OUT"
