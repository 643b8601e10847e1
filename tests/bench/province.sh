#!/bin/bash
# province.sh: issue 13's "a province on one machine" (make bench-province).
#
#   1 master, PROV_CITIES (10) cities under it, PROV_COUNTIES (100) counties
#   spread over the cities, PROV_CLIENTS (2 000) clients spread over the
#   counties; every node durable (sync yes, as in production). Every third
#   county links to its city over http, the others over tcp; even clients
#   attach over tcp, odd ones over http long-poll. The clients are held by
#   tests/bench/provload, one process per city (its counties' clients).
#
#   1. convergence: the nodes start all at once (their starts are not
#      waited for one by one); provload probe, started right after, sends
#      from client 0 to the first client of every other county, which each
#      answer. "converge" is the time from the first node's start to the
#      last answer: every county reached from client 0 and reaching it.
#   2. load: PROV_PACKETS (100 000) packets of PROV_SIZE (1 024) bytes, each
#      from a random client to another random client (the same pairs in
#      every provload process, from PROV_SEED), sent as fast as custody
#      takes them. Every packet is checked at its receiver by its index: to
#      that client and once. A lost, duplicated or misaddressed packet, or a
#      notice, fails the run (exit 1). Packets/s = packets / (last receive
#      - first send).
#   3. per node RssAnon (median and max per level) after the load, the
#      master's CPU seconds during the load and per packet, all daemons'
#      CPU, the load processes' CPU.
#
# The table goes to stdout and $top_builddir/tests/bench/results-province.txt
# (PROV_OUT). A small run for development (well under a minute):
#   PROV_CITIES=2 PROV_COUNTIES=6 PROV_CLIENTS=20 PROV_PACKETS=2000 make bench-province
#
# Environment (all optional): PROV_CITIES, PROV_COUNTIES, PROV_CLIENTS,
# PROV_PACKETS, PROV_SIZE, PROV_SEED, PROV_WAIT (seconds a phase may take,
# default 900), PROV_SYNC (yes), PROV_OUT, PROV_PORT_BASE (16000: the first
# of the 2 000 ports it draws from), PROV_HOLD=SECONDS (keep the tree running
# that long after the table, to look at it), T_KEEP=1 (keep logs, journals).
. "$(dirname "$0")/../integration/lib.sh"
t_init bench-province
. "$(dirname "$0")/../integration/nodes.sh"

CITIES=${PROV_CITIES:-10}
COUNTIES=${PROV_COUNTIES:-100}
CLIENTS=${PROV_CLIENTS:-2000}
PACKETS=${PROV_PACKETS:-100000}
SIZE=${PROV_SIZE:-1024}
SEED=${PROV_SEED:-13}
WAIT=${PROV_WAIT:-900}
OUT=${PROV_OUT:-$top_builddir/tests/bench/results-province.txt}
LOAD=$top_builddir/tests/bench/provload

for f in "$LOAD" "$CASCADED" "$T_FREEPORT"; do
	if [ ! -x "$f" ]; then
		echo "province.sh: $f is not built (make bench-province builds it)" >&2
		exit 1
	fi
done
if [ "$CITIES" -lt 1 ] || [ "$COUNTIES" -lt "$CITIES" ] || [ "$CLIENTS" -lt "$COUNTIES" ] ||
    [ "$CLIENTS" -lt 2 ]; then
	echo "province.sh: want 1 <= PROV_CITIES <= PROV_COUNTIES <= PROV_CLIENTS, 2 clients or more" >&2
	exit 1
fi
# Two ports a node: 222 at full size, more than the 100 of lib.sh's block
# for one test; a block of 2 000 below those of the integration tests
# (20000-32699) and the kernel's ephemeral ports.
T_PORT_BASE=${PROV_PORT_BASE:-16000}
T_PORT_SPAN=2000
echo "# ports from $T_PORT_BASE to $((T_PORT_BASE + T_PORT_SPAN - 1))"
# every node and client session holds descriptors; 2 000 clients in a few
# processes need more than the usual 1 024 in each of them
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ------------------------------------------------------------- the tree
# Shell names m, cI, cI_kJ; node ids master, cI, cI-kJ (a county's id is
# prefixed by its city's, as the claims expect); clients uN.
SETUP_MS=$(t_now_ms)
N_SYNC=${PROV_SYNC:-yes}
N_DEAD=30s
n_node m master master
CITY_NAMES=() COUNTY_NAMES=()
declare -A COUNTY_CITY=()
for ((c = 0; c < CITIES; c++)); do
	n_node "c$c" "c$c"
	n_link "c$c" m
	CITY_NAMES+=("c$c")
done
for ((k = 0; k < COUNTIES; k++)); do
	c=$((k % CITIES))
	name=c${c}_k$k
	n_node "$name" "c$c-k$k"
	n_link "$name" "c$c"
	# every third county over http to its city
	[ $((k % 3)) -eq 2 ] && n_transport "$name" http
	n_http "$name"
	COUNTY_NAMES+=("$name")
	COUNTY_CITY[$name]=c$c
done

# Clients in city order, so that each provload process holds one range:
# client n belongs to county n % COUNTIES. Their secrets are written here
# in one go (n_client only makes the files that are missing: four
# processes a client otherwise).
CFILE=$T_DIR/clients.txt
od -An -v -tx1 -N $((32 * CLIENTS)) /dev/urandom | tr -d ' \n' |
    awk -v n="$CLIENTS" -v dir="$T_DIR" '{ for (i = 0; i < n; i++) {
	f = dir "/u" i ".secret"; print substr($0, i * 64 + 1, 64) >f; close(f) } }'
chmod 600 "$T_DIR"/u*.secret
declare -A CITY_FIRST=() CITY_LAST=()
: >"$CFILE"
idx=0
for city in "${CITY_NAMES[@]}"; do
	CITY_FIRST[$city]=$idx
	for ((n = 0; n < CLIENTS; n++)); do
		county=${COUNTY_NAMES[$((n % COUNTIES))]}
		[ "${COUNTY_CITY[$county]}" = "$city" ] || continue
		n_client "$county" "u$n"
		if [ $((n % 2)) -eq 0 ]; then url=$(n_url "$county"); else url=$(n_http_url "$county"); fi
		echo "$url ${N_ID[$county]}/u$n $T_DIR/u$n.secret $county" >>"$CFILE"
		idx=$((idx + 1))
	done
	CITY_LAST[$city]=$((idx - 1))
done
ALL_NODES="m ${CITY_NAMES[*]} ${COUNTY_NAMES[*]}"
for n in $ALL_NODES; do
	pv=PORT_$n hv=HPORT_$n
	if [ -z "${!pv}" ] || [ -z "${!hv}" ]; then
		echo "province.sh: no free port for $n between $T_PORT_BASE and $((T_PORT_BASE + T_PORT_SPAN - 1)) (PROV_PORT_BASE moves the block)" >&2
		exit 1
	fi
done
echo "# the tree and its $CLIENTS clients set up in $(($(t_now_ms) - SETUP_MS)) ms"

# ------------------------------------------------------------- helpers

# RssAnon of a pid in KiB
rss_anon() {
	awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# CPU seconds (user + system) of a pid
cpu_of() {
	local stat f
	read -r stat <"/proc/$1/stat" || { echo 0; return; }
	read -r -a f <<<"${stat##*) }"
	# after "(comm) ": state is field 0; utime 11, stime 12
	echo "$(((f[11] + f[12]))) $(getconf CLK_TCK)" | awk '{ printf "%.2f", $1 / $2 }'
}

# "median max" of the numbers on stdin
med_max() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan nan"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m, v[NR] }'
}

kv() { t_kv "$1" "$2" || echo nan; }

# ------------------------------------------------------------- 1. convergence
echo "# province: 1 master, $CITIES cities, $COUNTIES counties, $CLIENTS clients, sync $N_SYNC"
START_NS=${EPOCHREALTIME/[.,]/}000
for n in $ALL_NODES; do
	_n_write_conf "$n"
	t_bg "$n" "$CASCADED" -d -f "$T_DIR/$n.conf" >/dev/null
done
t_bg probe "$LOAD" probe -c "$CFILE" -T "$START_NS" -W "$WAIT"
for n in $ALL_NODES; do
	t_wait_for "$n runs" 120 _n_running "$n" 0 >/dev/null || {
		_t_notok "$n did not start"
		exit 1
	}
done
# from the nodes' own "running" lines (times of day in ms, as the log has
# them), not from when this script's polling saw them
RUNNING_MS=$(for n in $ALL_NODES; do grep -m1 -E '^[0-9:.]+ cascaded: .* running' "$T_DIR/$n.log"; done |
    awk -v s="$(date -d "@$((START_NS / 1000000000))" '+%H %M %S')" -v ms="$((START_NS / 1000000 % 1000))" '
	BEGIN { split(s, a, " "); t0 = (a[1] * 3600 + a[2] * 60 + a[3]) * 1000 + ms }
	{ split($1, b, ":"); t = (b[1] * 3600 + b[2] * 60 + b[3]) * 1000
	  if (t < t0) t += 86400000; if (t > mx) mx = t }
	END { printf "%.0f", mx - t0 }')
echo "# every node logged running ${RUNNING_MS} ms after the first start"
t_wait probe "$WAIT" || true
t_eq "the probe went round every county" 0 "$T_STATUS" || exit 1
PROBE=$(grep '^provload probe' "$T_DIR/probe.log" | tail -1)
echo "# $PROBE"
CONVERGE_MS=$(kv "$PROBE" converge_ms)

# "MASTER CITY_MEDIAN CITY_MAX COUNTY_MEDIAN COUNTY_MAX ALL" RssAnon in KiB
rss_levels() {
	echo "$(rss_anon "$(t_pid m)")" \
	    "$(for n in "${CITY_NAMES[@]}"; do rss_anon "$(t_pid "$n")"; done | med_max)" \
	    "$(for n in "${COUNTY_NAMES[@]}"; do rss_anon "$(t_pid "$n")"; done | med_max)" \
	    "$(for n in $ALL_NODES; do rss_anon "$(t_pid "$n")"; done | awk '{ s += $1 } END { print s }')"
}
RSS_IDLE=$(rss_levels)

# ------------------------------------------------------------- 2. load
MPID=$(t_pid m)
M_CPU0=$(cpu_of "$MPID")
ALL_CPU0=0
for n in $ALL_NODES; do ALL_CPU0=$(echo "$ALL_CPU0 $(cpu_of "$(t_pid "$n")")" | awk '{ print $1 + $2 }'); done
for city in "${CITY_NAMES[@]}"; do
	t_bg "load_$city" "$LOAD" load -c "$CFILE" -f "${CITY_FIRST[$city]}" -l "${CITY_LAST[$city]}" \
		-n "$PACKETS" -S "$SEED" -z "$SIZE" -W "$WAIT"
done
failed=0
for city in "${CITY_NAMES[@]}"; do
	t_wait "load_$city" "$WAIT" || true
	[ "$T_STATUS" = 0 ] || { echo "# load_$city ended with $T_STATUS" >&2; failed=1; }
done
M_CPU1=$(cpu_of "$MPID")
ALL_CPU1=0
for n in $ALL_NODES; do ALL_CPU1=$(echo "$ALL_CPU1 $(cpu_of "$(t_pid "$n")")" | awk '{ print $1 + $2 }'); done
grep -h '^provload load' "$T_DIR"/load_*.log >"$T_DIR/load.txt" || true
cat "$T_DIR/load.txt" | sed 's/^/# /'
SUM=$(awk '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	sent += v["sent"]; ex += v["expected"]; got += v["received"]; lost += v["lost"]
	dup += v["dup"]; nt += v["notices"]; fo += v["foreign"]; cpu += v["cpu_s"]
	if (first == 0 || v["first_send_ns"] < first) first = v["first_send_ns"]
	if (v["last_recv_ns"] > last) last = v["last_recv_ns"]
	if (v["p99_ms"] > p99) p99 = v["p99_ms"]; if (v["max_ms"] > mx) mx = v["max_ms"]
	n = NR }
	END { secs = (last - first) / 1e9
	      printf "sent=%d expected=%d received=%d lost=%d dup=%d notices=%d foreign=%d secs=%.2f per_s=%.0f p50_ms=%s p99_ms=%s max_ms=%s load_cpu_s=%.1f procs=%d\n",
		sent, ex, got, lost, dup, nt, fo, secs, (secs > 0 ? got / secs : 0),
		P50, p99, mx, cpu, n }' P50="$(grep -o 'p50_ms=[0-9.]*' "$T_DIR/load.txt" | cut -d= -f2 | med_max | cut -d' ' -f1)" "$T_DIR/load.txt")
echo "# $SUM"
[ "$(kv "$SUM" sent)" = "$PACKETS" ] && [ "$(kv "$SUM" received)" = "$PACKETS" ] &&
    [ "$(kv "$SUM" lost)" = 0 ] && [ "$(kv "$SUM" dup)" = 0 ] && [ "$(kv "$SUM" notices)" = 0 ] &&
    [ "$(kv "$SUM" foreign)" = 0 ] || failed=1
t_eq "every packet arrived once, at its client" 0 "$failed"

# ------------------------------------------------------------- 3. memory, CPU
RSS_LOAD=$(rss_levels)
M_CPU=$(echo "$M_CPU0 $M_CPU1" | awk '{ printf "%.2f", $2 - $1 }')
ALL_CPU=$(echo "$ALL_CPU0 $ALL_CPU1" | awk '{ printf "%.1f", $2 - $1 }')

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
{
	echo "# make bench-province: a province on one machine ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
	echo "| figure | value |"
	echo "| --- | --- |"
	echo "| tree | 1 master, $CITIES cities, $COUNTIES counties ($(( COUNTIES / 3 )) linked over http), sync $N_SYNC |"
	echo "| clients | $CLIENTS ($(( (CLIENTS + 1) / 2 )) tcp, $(( CLIENTS / 2 )) http long-poll) in $(kv "$SUM" procs) provload processes |"
	echo "| every node logged running, after the first start | $RUNNING_MS ms |"
	echo "| routes converge (first start -> client 0 and every county reached each other) | $CONVERGE_MS ms |"
	echo "| packets between random clients | $PACKETS x $SIZE B: $(kv "$SUM" received) received, $(kv "$SUM" lost) lost, $(kv "$SUM" dup) dup, $(kv "$SUM" notices) notices |"
	echo "| end to end (first send -> last receive) | $(kv "$SUM" secs) s, $(kv "$SUM" per_s) packets/s |"
	echo "| one-way latency (all packets sent at once: mostly queueing) | p50 $(kv "$SUM" p50_ms) ms (median of the processes), p99 $(kv "$SUM" p99_ms) ms (worst process), max $(kv "$SUM" max_ms) ms |"
	echo "| master CPU during the load | $M_CPU s, $(awk -v c="$M_CPU" -v n="$PACKETS" 'BEGIN { printf "%.1f", c / n * 1e6 }') us per packet |"
	echo "| all $(( 1 + CITIES + COUNTIES )) daemons' CPU during the load | $ALL_CPU s, $(awk -v c="$ALL_CPU" -v n="$PACKETS" 'BEGIN { printf "%.0f", c / n * 1e6 }') us per packet |"
	echo "| load processes' CPU | $(kv "$SUM" load_cpu_s) s |"
	read -r a b c d e f <<<"$RSS_IDLE"
	read -r A B C D E F <<<"$RSS_LOAD"
	echo "| RssAnon master: converged, idle / after the load | $(mib "$a") / $(mib "$A") |"
	echo "| RssAnon city, median and max: idle / after | $(mib "$b"), $(mib "$c") / $(mib "$B"), $(mib "$C") |"
	echo "| RssAnon county, median and max: idle / after | $(mib "$d"), $(mib "$e") / $(mib "$D"), $(mib "$E") |"
	echo "| RssAnon of all daemons: idle / after | $(mib "$f") / $(mib "$F") |"
	[ "$failed" = 0 ] || echo "| VOID | lost, duplicated, misaddressed packets or notices: see above |"
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
if [ -n "${PROV_HOLD:-}" ]; then
	echo "# PROV_HOLD: the tree runs for ${PROV_HOLD} s more (clients: $CFILE; pids: ps -C cascaded)"
	sleep "$PROV_HOLD"
fi
[ "$failed" = 0 ] || exit 1
t_done
