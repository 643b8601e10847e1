#!/bin/bash
# fanin.sh: a county with its clinics (BENCH.md "fan-in": 2 000 clients on one
# node, <= 16 KiB RSS per idle client, p99 <= 20 ms with each sending 10/s).
#
#   A county under a master; FANIN_CLIENTS (2 000) clients of the county, half
#   over tcp and half over http (tests/bench/fanload, one process for each
#   half, a thread and a connection per client), and one consumer client of
#   the county (chainload consume). The clients sign in and hold long polls
#   (idle phase): the county's RssAnon before they came and while they idle
#   gives the memory per idle client. Then each pushes one 256-byte packet
#   every 1/FANIN_RATE s (10/s) for FANIN_SECS (20) to the consumer: one-way
#   p50/p99 (stamped with each packet's due time), lost and duplicated, and
#   the county's CPU seconds (utime + stime) per packet.
#
# The result line goes to stdout and to $top_builddir/tests/bench/results-fanin.txt.
#
# Environment (all optional):
#   FANIN_CLIENTS    clients, half tcp, half http (2000)
#   FANIN_RATE       packets/s per client (10)
#   FANIN_SECS       seconds of sending (20)
#   FANIN_WARM       seconds from the start of the clients to their first send (40)
#   FANIN_SYNC       the county's sync (no)
#   FANIN_CASCADED   the cascaded binary to run (default: the build's)
#   FANIN_OUT        where to write the result instead
#   T_KEEP=1         keep the temporary directory
. "$(dirname "$0")/../integration/lib.sh"
t_init bench-fanin
. "$(dirname "$0")/../integration/nodes.sh"

[ -n "${FANIN_CASCADED:-}" ] && CASCADED=$FANIN_CASCADED
CLIENTS=${FANIN_CLIENTS:-2000}
RATE=${FANIN_RATE:-10}
SECS=${FANIN_SECS:-20}
WARM=${FANIN_WARM:-40}
OUT=${FANIN_OUT:-$top_builddir/tests/bench/results-fanin.txt}
FAN=$top_builddir/tests/bench/fanload
LOAD=$top_builddir/tests/bench/chainload
PER=$(( RATE * SECS ))
HALF=$(( CLIENTS / 2 ))
TOTAL=$(( CLIENTS * PER ))

for f in "$FAN" "$LOAD" "$CASCADED" "$T_FREEPORT"; do
	[ -x "$f" ] || { echo "fanin.sh: $f is not built (make bench-fanin builds it)" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

N_SYNC=${FANIN_SYNC:-no}
N_DEAD=30s
n_node master master master
n_node county pv-ct-cy
n_link county master
n_http county
n_client county consumer
N_PULLWAIT[county]=25s
for l in "http-max-conns $(( CLIENTS * 2 ))" "http-max-conns-per-address $(( CLIENTS * 2 ))" \
    "quota-packets 0" "quota-bytes 0"; do
	n_set county "$l"
done
# the clinics: one secret for all (one file read, not 2 000)
_n_secret clinic >/dev/null
for ((i = 0; i < CLIENTS; i++)); do
	N_EXTRA[county]+="client c$i {
    secret $T_DIR/clinic.secret
}
"
done
n_start master >/dev/null || t_check "master starts" false
n_start county >/dev/null || t_check "county starts" false
pid=$(t_pid county)
rss() { awk '/^RssAnon/ { print $2 }' "/proc/$pid/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }

t_bg consumer "$LOAD" consume -u "$(n_url county)" -a pv-ct-cy/consumer -s "$T_DIR/consumer.secret" \
    -n "$TOTAL" -k $(( TOTAL / 10 )) -W $(( WARM + SECS + 120 )) -o "$T_DIR/lat.txt"
sleep 2
rss0=$(rss)
start=$(( $(date +%s) + WARM ))
t_bg fan_tcp "$FAN" -u "$(n_url county)" -a pv-ct-cy -p c -s "$T_DIR/clinic.secret" -f 0 \
    -c "$HALF" -t pv-ct-cy/consumer -T "$start" -r "$RATE" -n "$PER"
t_bg fan_http "$FAN" -u "$(n_http_url county)" -a pv-ct-cy -p c -s "$T_DIR/clinic.secret" \
    -f "$HALF" -c $(( CLIENTS - HALF )) -t pv-ct-cy/consumer -T "$start" -r "$RATE" -n "$PER"
# idle: every client signed in, holding a pull
while [ $(( $(date +%s) )) -lt $(( start - 3 )) ]; do sleep 1; done
rss1=$(rss)
t0=$(ticks)
t_wait consumer $(( SECS + 120 )) || true
t1=$(ticks)
t_wait fan_tcp 60 || true
t_wait fan_http 60 || true
res=$(grep '^chainload consume' "$T_DIR/consumer.log" | tail -1)
hz=$(getconf CLK_TCK)
line=$(printf 'fanin clients=%s rate=%s secs=%s rss_base_kib=%s rss_idle_kib=%s per_idle_client_kib=%.1f cpu_us_per_pkt=%.1f %s' \
    "$CLIENTS" "$RATE" "$SECS" "$rss0" "$rss1" "$(echo "($rss1 - $rss0) / $CLIENTS" | bc -l)" \
    "$(echo "($t1 - $t0) / $hz * 1000000 / $TOTAL" | bc -l)" \
    "$(echo "$res" | tr ' ' '\n' | grep -E '^(received|lost|dup|p50_us|p99_us|p999_us)=' | tr '\n' ' ')")
echo "$line"
echo "$line" >"$OUT"
for f in fan_tcp fan_http; do echo "$f: $(grep '^fanload' "$T_DIR/$f.log" | tail -1)"; done
t_done
