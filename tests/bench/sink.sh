#!/bin/bash
# sink.sh (make bench-sink): the PostgreSQL audit sink's records/s into
# cascade_events beside the rate at which the event log's chain grows, in
# the same run. One node (master fj-a, sync yes) takes SINK_COUNT packets
# from the C SDK (tests/bench/sdk_send) for a client that never comes: one
# accepted record each, the chain as fast as custody goes. A PostgreSQL
# server of the bench's own (tests/integration/pg.sh: fsync and
# synchronous_commit on, as shipped) holds the table.
#
#   live      the sink on while the packets come: the chain's records/s,
#             the sink's records/s over the same time until it has caught
#             up, the largest lag seen (status every 0.2 s), how long after
#             the last packet the lag was 0
#             (polled every 0.1 s through cascadectl: a little under the truth)
#   backlog   the table emptied and cascaded started again: the sink copies
#             the whole log from position 1, its sustained records/s against
#             the fastest chain of the live runs; and the CPU per record of
#             cascaded and of the server's backend for the sink, which on a
#             shared machine says more than the wall clock (the load
#             average is printed beside it)
#
# Target: the sink keeps up with the chain (ratio >= 1 for the backlog;
# live, the lag back to 0 within a second of the last packet).
# Environment: SINK_COUNT (100000), SINK_SIZE (100 bytes), SINK_RUNS (3).
# The table goes to stdout and to $top_builddir/tests/bench/results-sink.txt.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/nodes.sh"
. "$(dirname "$0")/../integration/pg.sh"
t_init bench_sink
COUNT=${SINK_COUNT:-100000} SIZE=${SINK_SIZE:-100} RUNS=${SINK_RUNS:-3}
N_SYNC=yes
OUT=$top_builddir/tests/bench/results-sink.txt
CTL=$top_builddir/node/cascadectl

pg_init || { t_check "a PostgreSQL server of the bench's own (see above)" false; t_done; }
n_node m fj-a master
n_client m cbench; n_client m sink
n_set m "quota-packets 0"
n_set m "quota-bytes 0"
n_set m "push-rate 0"
n_set m "journal-map-size 1G"
n_set m "audit-sink $PG_URL"
n_start m || t_done

now() { echo "${EPOCHREALTIME/[.,]/}"; }           # microseconds
# "head confirmed lag_ms" from status
sample() { "$CTL" -f "$T_DIR/m.conf" status --json |
	jq -r '"\(.audit_sink_confirmed + .audit_sink_lag_records) \(.audit_sink_confirmed) \(.audit_sink_lag_ms) \(.audit_sink_error)"'; }
caught_up() { local s; s=$(sample); set -- $s; [ "$1" = "$2" ] && [ -z "${4:-}" ]; }
t_wait_for "the sink is up and caught up" 30 caught_up

rate() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", (us > 0 ? n * 1e6 / us : 0) }'; }
for ((r = 1; r <= RUNS; r++)); do
	read -r head0 conf0 _ <<<"$(sample)"
	# the lag while the packets come, sampled
	( while :; do sample; sleep 0.2; done ) >"$T_DIR/samples.$r" 2>/dev/null &
	spid=$!
	t0=$(now)
	line=$("$top_builddir/tests/bench/sdk_send" -u "$(n_url m)" -a fj-a/cbench -s "$T_DIR/cbench.secret" \
		-t fj-a/sink -n "$COUNT" -z "$SIZE" 2>"$T_DIR/send.err")
	t1=$(now)
	t_check "run $r: $COUNT sends taken into custody ($line)" test -n "$line" || cat "$T_DIR/send.err"
	read -r head1 _ <<<"$(sample)"
	t_wait_for "run $r: the sink catches up" 120 caught_up
	t2=$(now)
	kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
	read -r _ conf2 _ <<<"$(sample)"
	chain=$(rate $((head1 - head0)) $((t1 - t0)))
	sinkr=$(rate $((conf2 - conf0)) $((t2 - t0)))
	maxlag=$(awk '{ l = $1 - $2; if (l > m) m = l; if ($3 > ms) ms = $3 } END { printf "%d records, %d ms", m, ms }' "$T_DIR/samples.$r")
	echo "# run $r: chain $head0 -> $head1 in $(((t1 - t0) / 1000)) ms; confirmed $conf0 -> $conf2 in $(((t2 - t0) / 1000)) ms"
	LIVE+=("$chain $sinkr $(((t2 - t1) / 1000)) $maxlag")
done

# backlog: the whole log again, from position 1
n_stop m
records=$(pg_sql "SELECT count(*) FROM cascade_events WHERE node = 'fj-a'")
pg_sql "TRUNCATE cascade_events" >/dev/null
t0=$(now)
n_start m
t_wait_for "backlog: the sink copies the whole log again" 600 caught_up
t3=$(now)
read -r head3 conf3 _ <<<"$(sample)"
t_check "backlog: every record back in the table" \
	test "$(pg_sql "SELECT count(*) FROM cascade_events WHERE node = 'fj-a'")" -ge "$records"
backlog=$(rate "$conf3" $((t3 - t0)))
# CPU each side spent on it (clock ticks, utime + stime): cascaded since its
# start, the server's backend for the sink's connection since it came
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
bpid=$(pg_sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'cascaded'" | head -n 1)
hz=$(getconf CLK_TCK)
cpu_us() { awk -v t="$1" -v n="$conf3" -v hz="$hz" 'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }
cpu_line="cpu per record: cascaded $(cpu_us "$(cpu "$(t_pid m)")") us, postgres backend $(cpu_us "$(cpu "${bpid:-0}")") us"
echo "# $cpu_line"

best_chain=$(for l in "${LIVE[@]}"; do echo "${l%% *}"; done | sort -n | tail -n 1)
{
	echo "sink: audit-sink into PostgreSQL ($("$PG_BIN/postgres" --version | awk '{ print $3 }'), fsync on)"
	echo "      $COUNT packets of $SIZE bytes per run from the C SDK, one node, sync yes"
	printf '%-8s %14s %14s %8s %12s  %s\n' run "chain rec/s" "sink rec/s" ratio "0 lag after" "max lag"
	r=1
	for l in "${LIVE[@]}"; do
		read -r c s after a b c2 d <<<"$l"
		printf '%-8s %14s %14s %8s %9s ms  %s\n' "live $r" "$c" "$s" \
			"$(awk -v s="$s" -v c="$c" 'BEGIN { printf "%.2f", (c > 0 ? s / c : 0) }')" "$after" "$a $b $c2 $d"
		r=$((r + 1))
	done
	printf '%-8s %14s %14s %8s   (%s records from position 1 in %d ms)\n' backlog "$best_chain" "$backlog" \
		"$(awk -v s="$backlog" -v c="$best_chain" 'BEGIN { printf "%.2f", (c > 0 ? s / c : 0) }')" \
		"$conf3" $(((t3 - t0) / 1000))
	echo "backlog $cpu_line; load average $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
t_done
