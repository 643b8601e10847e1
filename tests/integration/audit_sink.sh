#!/bin/bash
# audit-sink postgresql://... against a real PostgreSQL server the test
# starts in $T_DIR (tests/integration/pg.sh): county fj-xm under master fj,
# the master's sink on. Traffic alice -> bob goes by the master.
# 1. every record of the master's log arrives in order: positions and
#    hashes equal `cascadectl audit --json`, the rows verify as a hash chain
#    in SQL alone, and the other columns equal the JSON;
# 2. the server stopped (pg_ctl stop -m immediate) mid-stream: custody goes
#    on, status and metrics show the sink down and lagging, the outage is
#    logged once with libpq's text; started again: no gap, no duplicate;
# 3. cascaded killed (-9) mid-stream and started again: it resumes, still
#    no gap, no duplicate, the lag goes back to 0;
# 4. a SQL query for src + type gives the rows `cascadectl audit --src
#    --type --json` gives; a record that is not UTF-8 does not stop it; a
#    server that hangs holds up neither custody nor cascaded's stop;
# 5. a table whose last row has another hash than the journal's, and a
#    master made again under the same id (a new journal), are refused, not
#    extended; bad URLs are config errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
. "$(dirname "$0")/pg.sh"
t_init audit_sink
CTL=$top_builddir/node/cascadectl

if ! pg_init; then
	t_check "a PostgreSQL server of the test's own runs (see above)" false
	t_done
fi

n_node master fj master
n_node county fj-xm
n_link county master
n_client county alice; n_client county bob; n_client master carol
MPORT=$(t_free_port)
n_set master "audit-sink $PG_URL"
n_set master "metrics-listen 127.0.0.1:$MPORT"

# cascaded -n: the directive parses (and this cascaded has libpq)
_n_write_conf master
"$CASCADED" -n -f "$T_DIR/master.conf" >"$T_DIR/check.out" 2>&1
rc=$?
sed 's/^/# /' "$T_DIR/check.out"
if ! t_eq "cascaded -n accepts audit-sink $PG_URL (this cascaded has libpq)" 0 $rc; then
	t_done
fi

n_start master; n_start county

st() { "$CTL" -f "$T_DIR/master.conf" status --json; }
lag0() { [ "$(st | jq -r '"\(.audit_sink_error)|\(.audit_sink_lag_records)"')" = "|0" ]; }
# the journal's records up to the table's last position: "seq|hash"
jrows() {
	local max
	max=$(pg_sql "SELECT coalesce(max(pos), 0) FROM cascade_events WHERE node = 'fj'")
	"$CTL" -f "$T_DIR/master.conf" audit --json | jq -r --argjson max "$max" \
		'select(.seq <= $max) | "\(.seq)|\(.hash)"'
}
trows() { pg_sql "SELECT pos, encode(hash, 'hex') FROM cascade_events WHERE node = 'fj' ORDER BY pos"; }
# no gap, no duplicate: count = distinct = max, from 1
contiguous() {
	[ "$(pg_sql "SELECT count(*) = count(DISTINCT pos) AND count(*) = max(pos) AND min(pos) = 1
		FROM cascade_events WHERE node = 'fj'")" = t ]
}
# the chain recomputed in SQL: sha256(previous hash || record) = hash, from 32 zero bytes
chain_bad() {
	pg_sql "SELECT count(*) FROM (SELECT hash, record, lag(hash, 1, '\\x$(printf '0%.0s' {1..64})'::bytea)
		OVER (ORDER BY pos) AS prev FROM cascade_events WHERE node = 'fj') t
		WHERE sha256(prev || record) <> hash"
}

# 1. in order, equal to the journal
tc_recv_bg bob1 county bob 200 -W 60
t_check "alice sends 200 to bob" tc_send county alice fj-xm/bob 200 -b 20 -M lab.order
t_wait bob1 60
t_check "bob got 200 once each" check_exactly_once "$T_DIR/bob1.txt" 200
t_wait_for "the sink catches up: no error, lag 0" 20 lag0
t_eq "the table was created with its 15 columns" 15 \
	"$(pg_sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'cascade_events'")"
trows >"$T_DIR/t1"; jrows >"$T_DIR/j1"
t_check "rows (pos, hash) = cascadectl audit --json's (seq, hash), in order" cmp "$T_DIR/t1" "$T_DIR/j1"
t_check "... and there are rows: at least the 200 accepted and forwarded" \
	bash -c "[ \$(wc -l <'$T_DIR/t1') -ge 400 ]"
t_check "positions contiguous from 1" contiguous
t_eq "the table verifies as a hash chain in SQL alone" 0 "$(chain_bad)"
t_eq "status confirmed = the table's max(pos)" \
	"$(pg_sql "SELECT max(pos) FROM cascade_events WHERE node = 'fj'")" "$(st | jq .audit_sink_confirmed)"
t_eq "status names the sink (user@socket:port/db, no password)" \
	"cascade@$PG_SOCK:$PG_PORT/audit" "$(st | jq -r .audit_sink)"
"$CTL" -f "$T_DIR/master.conf" status >"$T_DIR/status.txt"
t_check "cascadectl status: the sink streaming, lag 0" \
	grep -qE "^audit +sink cascade@.*: streaming; confirmed [0-9]+, lag 0 records$" "$T_DIR/status.txt"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$T_DIR/m1.prom"
t_check "metrics: sink up, lag 0" bash -c "grep -qx 'cascade_audit_sink_up 1' '$T_DIR/m1.prom' &&
	grep -qx 'cascade_audit_sink_lag_records 0' '$T_DIR/m1.prom' && grep -qx 'cascade_audit_sink_lag_seconds 0.000' '$T_DIR/m1.prom'"
if command -v promtool >/dev/null; then
	t_check "promtool check metrics accepts the scrape with the sink's metrics" \
		bash -c "promtool check metrics <'$T_DIR/m1.prom'"
fi
# every column against the JSON (command, kind and ref are not in the event record)
"$CTL" -f "$T_DIR/master.conf" audit --json | jq -r --argjson max "$(wc -l <"$T_DIR/t1")" \
	'select(.seq <= $max) | [.seq, .time_ms, .type, .id, .leg, .src, .dst, .peer, .reason, .text,
	 (.trace | join(" ")), .hash] | map(tostring) | join("|")' >"$T_DIR/jall"
pg_sql "SELECT pos, (extract(epoch FROM time) * 1000)::bigint, type, coalesce(id, ''), leg, src, dst,
	peer, reason, text, array_to_string(trace, ' '), encode(hash, 'hex')
	FROM cascade_events WHERE node = 'fj' ORDER BY pos" >"$T_DIR/tall"
t_check "every column of every row = the JSON's (time, type, id, leg, src, dst, peer, reason, text, trace)" \
	cmp "$T_DIR/tall" "$T_DIR/jall"

# 2. the database stopped mid-stream
tc_recv_bg bob2 county bob 600 -W 90
t_bg send2 "$T_TCLIENT" send -u "$(n_url county)" -a fj-xm/alice -s "$T_DIR/alice.secret" \
	-t fj-xm/bob -n 600 -b 10 -i 40 -W 90
sleep 1
pg_stop immediate
t_check "pg_ctl stop -m immediate mid-stream: the server is gone" t_not t_alive pg
t_wait_for "status: the sink down, with libpq's reason" 15 \
	bash -c "'$CTL' -f '$T_DIR/master.conf' status --json | jq -e '.audit_sink_error | test(\"connect|server|terminat|closed\")'"
t_wait_for "status: the lag grows while custody goes on" 15 \
	bash -c "[ \$('$CTL' -f '$T_DIR/master.conf' status --json | jq '.audit_sink_lag_records') -gt 50 ]"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$T_DIR/m2.prom"
t_check "metrics: sink down, lag > 0 records and seconds" bash -c "grep -qx 'cascade_audit_sink_up 0' '$T_DIR/m2.prom' &&
	awk '\$1 == \"cascade_audit_sink_lag_records\" && \$2 > 0 { a = 1 } \$1 == \"cascade_audit_sink_lag_seconds\" && \$2 > 0 { b = 1 } END { exit !(a && b) }' '$T_DIR/m2.prom'"
"$CTL" -f "$T_DIR/master.conf" status >"$T_DIR/status2.txt"
t_check "cascadectl status: DOWN, the lag, the reason" \
	grep -qE "^audit +sink .*: DOWN; confirmed [0-9]+, lag [1-9][0-9]* records \(oldest .*\)$" "$T_DIR/status2.txt"
sleep 2
pg_start
t_wait send2 90
t_eq "alice's 600 all acked (custody never waited for the database)" 0 "$T_STATUS"
t_wait bob2 90
t_check "bob got the 600 once each" check_exactly_once "$T_DIR/bob2.txt" 600
t_wait_for "the sink catches up after the outage" 40 lag0
t_eq "the outage was logged once (one warning with libpq's text)" 1 \
	"$(grep -c 'warning: audit-sink .*; the sink lags (cascadectl status)' "$T_DIR/master.log")"
t_check "... and the reconnect, with where it resumed" \
	grep -qE "audit-sink .*: connected again after [0-9]+ s; resuming after position [0-9]+" "$T_DIR/master.log"
trows >"$T_DIR/t2"; jrows >"$T_DIR/j2"
t_check "after the outage: rows = the journal's, no gap, no duplicate" bash -c "cmp '$T_DIR/t2' '$T_DIR/j2' && [ \$(wc -l <'$T_DIR/t2') -ge 1600 ]"
t_check "positions contiguous" contiguous
t_eq "still a hash chain" 0 "$(chain_bad)"

# 3. cascaded killed mid-stream
tc_recv_bg bob3 county bob 600 -W 90
t_bg send3 "$T_TCLIENT" send -u "$(n_url county)" -a fj-xm/alice -s "$T_DIR/alice.secret" \
	-t fj-xm/bob -n 600 -b 10 -i 40 -W 90
sleep 1.5
n_kill9 master
sleep 0.5
n_start master
t_wait send3 90
t_eq "alice's 600 acked across the master's restart" 0 "$T_STATUS"
t_wait bob3 90
t_check "bob got them once each" check_exactly_once_ids "$T_DIR/bob3.txt"
t_wait_for "the restarted sink catches up" 40 lag0
trows >"$T_DIR/t3"; jrows >"$T_DIR/j3"
t_check "after kill -9: rows = the journal's, no gap, no duplicate" cmp "$T_DIR/t3" "$T_DIR/j3"
t_eq "... every record of the journal is there" \
	"$("$CTL" -f "$T_DIR/master.conf" audit --json | wc -l)" "$(wc -l <"$T_DIR/t3")"
t_check "positions contiguous" contiguous
t_eq "still a hash chain" 0 "$(chain_bad)"
t_check "the restart resumed where the table ended" \
	grep -qE "audit-sink .*: streaming the event log into cascade_events after position [1-9][0-9]*" "$T_DIR/master.log"

# 4. one filter, both ways
"$CTL" -f "$T_DIR/master.conf" audit --src fj-xm --type forwarded --json |
	jq -r '[.seq, .id, .src, .dst, .peer, .hash] | map(tostring) | join("|")' >"$T_DIR/qj"
pg_sql "SELECT pos, id, src, dst, peer, encode(hash, 'hex') FROM cascade_events
	WHERE node = 'fj' AND (src = 'fj-xm' OR src LIKE 'fj-xm/%') AND type = 'forwarded'
	ORDER BY pos" >"$T_DIR/qt"
t_check "SQL src fj-xm + type forwarded = cascadectl audit --src fj-xm --type forwarded" \
	cmp "$T_DIR/qt" "$T_DIR/qj"
t_check "... at least 1400 rows (every packet the master forwarded to the county)" \
	bash -c "[ \$(wc -l <'$T_DIR/qt') -ge 1400 ]"

# 4b. a record holding bytes that are not UTF-8 (a hostile client's dst)
# must not stop the sink: its text columns get '?', its record stays exact
tc_send master carol "$(printf 'fj-xm/x\377y')" 1 -W 5 >/dev/null 2>&1
t_wait_for "the master logged the rejection" 10 bash -c \
	"'$CTL' -f '$T_DIR/master.conf' audit --type rejected --src fj/carol 2>/dev/null | grep -q rejected"
t_wait_for "the sink goes past it" 20 lag0
t_eq "its row: dst with '?' for the byte that is not UTF-8" "fj-xm/x?y" \
	"$(pg_sql "SELECT dst FROM cascade_events WHERE node = 'fj' AND type = 'rejected' AND src = 'fj/carol'")"
t_check "positions contiguous" contiguous
t_eq "still a hash chain (the record column holds the exact bytes)" 0 "$(chain_bad)"

# 4c. a server that hangs (the sink's backend stopped with SIGSTOP) never
# holds up custody nor cascaded's stop
BPID=$(pg_sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'cascaded'")
t_check "the sink's backend: pid $BPID" test -n "$BPID"
kill -STOP "$BPID"
t_check "alice sends 50 while the server hangs" tc_send county alice fj-xm/bob 50 -b 10
t_wait_for "the lag grows while the server hangs" 15 \
	bash -c "[ \$('$CTL' -f '$T_DIR/master.conf' status --json | jq '.audit_sink_lag_records') -gt 50 ]"
T0=$(t_now_ms)
n_stop master
T1=$(t_now_ms)
t_eq "SIGTERM: cascaded stops by itself (not the KILL after 10 s)" 0 "$T_STATUS"
t_check "... within 3 s ($((T1 - T0)) ms)" test $((T1 - T0)) -lt 3000
kill -CONT "$BPID"
n_start master
t_wait_for "started again, the sink catches up" 30 lag0
t_check "positions contiguous" contiguous

# 5. another chain under the same node id is refused: a last row whose hash
# is not the journal's, then a journal made again (the table ahead of it)
n_stop master
LAST="(SELECT max(pos) FROM cascade_events WHERE node = 'fj')"
H=$(pg_sql "SELECT encode(hash, 'hex') FROM cascade_events WHERE node = 'fj' AND pos = $LAST")
pg_sql "UPDATE cascade_events SET hash = sha256(hash) WHERE node = 'fj' AND pos = $LAST" >/dev/null
n_start master
t_wait_for "a last row with another hash: the sink refuses to resume" 15 \
	grep -q "audit-sink .*: refusing to resume: the table holds another chain: row [0-9]* of node fj has another hash" "$T_DIR/master.log"
n_stop master
pg_sql "UPDATE cascade_events SET hash = decode('$H', 'hex') WHERE node = 'fj' AND pos = $LAST" >/dev/null
n_start master
t_wait_for "the hash put back: the sink resumes" 20 lag0
n_stop master
mv "$T_DIR/master" "$T_DIR/master.old"
: >"$T_DIR/master.log"
n_start master
t_wait_for "a new journal for fj: the sink refuses the table's chain" 15 \
	grep -q "audit-sink .*: refusing to resume: the table holds positions up to" "$T_DIR/master.log"
t_check "status says why" bash -c "'$CTL' -f '$T_DIR/master.conf' status --json | jq -e '.audit_sink_error | test(\"refusing\")'"
t_eq "the table is as before, but for the old master's stop" "$(cat "$T_DIR/t3")" "$(trows | head -n "$(wc -l <"$T_DIR/t3")")"
t_check "alice sends 5 more" tc_send county alice fj-xm/bob 5
t_wait_for "custody goes on meanwhile: the new master takes them" 20 \
	bash -c "[ \$('$CTL' -f '$T_DIR/master.conf' audit --json --type accepted | wc -l) -ge 5 ]"
n_stop master
for u in mysql://h/db 'postgresql://h/db?nosuchparam=1'; do
	printf 'node x\nrole master\ndata-dir %s/x\naudit-sink %s\n' "$T_DIR" "$u" >"$T_DIR/bad.conf"
	chmod 600 "$T_DIR/bad.conf"
	"$CASCADED" -n -f "$T_DIR/bad.conf" >"$T_DIR/bad.out" 2>&1
	t_eq "cascaded -n refuses audit-sink $u" 1 $?
	sed 's/^/# /' "$T_DIR/bad.out"
done
t_check "... naming file:line and what is wrong" grep -q 'bad.conf:4: audit-sink: bad URL: invalid URI query parameter: "nosuchparam"' "$T_DIR/bad.out"
t_done
