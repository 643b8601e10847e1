#!/bin/bash
# chain_http.sh: tests/bench/chain.sh twice in one run, first with every
# link of the chain (county -> city -> province -> master) on tcp, then on
# http (N_LINK_TRANSPORT=http, see tests/integration/nodes.sh), and the two
# side by side: throughput (median of CHAIN_RUNS) and the one-way latency at
# CHAIN_RATE packets/s. Targets (issue 4): http throughput >= 0.3 of tcp;
# http p99 at 1 000 packets/s under 50 ms.
#
# chain.sh's environment applies to both runs (CHAIN_RUNS, CHAIN_COUNT,
# CHAIN_RATE, CHAIN_LAT_SECS, ...); CHAIN_REFS defaults to 0 here (the nng
# references do not change between the two). The clients (chainload) speak
# tcp to their nodes in both runs: only the links change carrier.
# The comparison goes to stdout and $top_builddir/tests/bench/results-chain-http.txt;
# each run's full table next to it (results-chain-http-tcp.txt, -http.txt).
# Exit 1 when either run lost or duplicated a packet.
here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$(cd "$here/../.." && pwd)}" "${top_srcdir:=$(cd "$here/../.." && pwd)}"
export top_builddir top_srcdir
export CHAIN_REFS=${CHAIN_REFS:-0}
RES=$top_builddir/tests/bench
OUT=${CHAIN_HTTP_OUT:-$RES/results-chain-http.txt}
mkdir -p "$RES"

rc=0
for carrier in tcp http; do
	echo "== chain.sh, every link on $carrier"
	N_LINK_TRANSPORT=$carrier CHAIN_OUT="$RES/results-chain-http-$carrier.txt" \
		bash "$here/chain.sh" || rc=1
done

# fig FILE: "throughput p50_us p99_us lost dup" from a chain.sh table
fig() {
	awk '
		/^chain throughput,/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "packets/s") { t = $i; break } }
		/^  lost \/ duplicated \(all runs\)/ { lost = $(NF - 2); dup = $NF }
		/^chain latency at / { for (i = 1; i <= NF; i++) { if ($i == "p50") p50 = $(i + 1); if ($i == "p99") p99 = $(i + 1) } }
		END { if (t == "") t = "nan"; if (p50 == "") p50 = "nan"; if (p99 == "") p99 = "nan"
			if (lost == "") lost = "nan"; if (dup == "") dup = "nan"
			print t, p50, p99, lost, dup }' "$1" 2>/dev/null
}
read -r tt tp50 tp99 tlost tdup <<<"$(fig "$RES/results-chain-http-tcp.txt")"
read -r ht hp50 hp99 hlost hdup <<<"$(fig "$RES/results-chain-http-http.txt")"
[ "$tlost$tdup$hlost$hdup" = 0000 ] || rc=1
{
	echo "cascade chain benchmark, tcp links vs http links, $(date '+%Y-%m-%d %H:%M'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "chain: county -> city -> province -> master, sync yes, 127.0.0.1; clients on tcp"
	echo
	printf '%-44s %18s %18s\n' "figure" "tcp links" "http links"
	printf '%-44s %18s %18s\n' "throughput, packets/s (median of runs)" "$tt" "$ht"
	printf '%-44s %18s %18s\n' "latency p50 at ${CHAIN_RATE:-1000}/s, us" "$tp50" "$hp50"
	printf '%-44s %18s %18s\n' "latency p99 at ${CHAIN_RATE:-1000}/s, us" "$tp99" "$hp99"
	printf '%-44s %18s %18s\n' "lost / duplicated" "$tlost / $tdup" "$hlost / $hdup"
	echo
	awk -v t="$tt" -v h="$ht" -v p="$hp99" 'BEGIN {
		if (t + 0 > 0 && h != "nan") printf "%-44s %.2f (target >= 0.3: %s)\n", "http / tcp throughput", h / t, ((h / t >= 0.3) ? "met" : "not met")
		else printf "%-44s n/a\n", "http / tcp throughput"
		if (p != "nan") printf "%-44s %.1f ms (target < 50 ms: %s)\n", "http p99 latency", p / 1000, ((p < 50000) ? "met" : "not met")
		else printf "%-44s n/a\n", "http p99 latency" }'
} >"$OUT"
echo
cat "$OUT"
echo "# written to $OUT (full tables: $RES/results-chain-http-{tcp,http}.txt)"
exit $rc
