#!/bin/bash
# Chain anchors, verify --since/--anchor and the event indexes against real
# daemons: master fj (indexes and anchors by default), county fj-xm with
# audit-anchor-interval 2s (and, by default, no indexes).
#   1. cascadectl audit anchor: the master writes an "anchor" event holding
#      its chain's head, logs it, and prints it; verify --anchor HASH passes
#      through it (exit 0), a hash from nowhere does not (exit 1, saying so).
#   2. verify --since T starts at the first record at or after T and states
#      the stored hash it hooks on: that of the record before it.
#   3. the county writes anchors by itself every 2 s.
#   4. the county restarted with audit-index yes indexes its journal at start
#      (logged with the count) and answers as the whole-log read does; the
#      master's journal, indexed from the start, too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init audit_anchor
CTL=$top_builddir/node/cascadectl

n_node master fj master
n_node county fj-xm
n_set county "audit-anchor-interval 2s"
n_link county master
n_client county alice; n_client county bob
n_start master; n_start county
MJ=$T_DIR/master/journal
CJ=$T_DIR/county/journal
m() { "$CTL" -f "$T_DIR/master.conf" audit "$@"; }

send() {	# send N: alice sends N packets to bob, bob takes them
	tc_recv_bg "bob$1" county bob "$1" -W 30
	t_check "alice sends $1 to bob" bash -c "'$T_TCLIENT' send -u '$(n_url county)' -a fj-xm/alice \
		-s '$T_DIR/alice.secret' -t fj-xm/bob -n $1 -M lab.order -I > '$T_DIR/ids$1'"
	t_wait "bob$1" 40
}
send 4

# 1. an anchor on demand
out=$(m anchor); rc=$?
t_eq "audit anchor: exit 0" 0 $rc
H=$(sed -nE 's/.*chain head at record [0-9]+ is ([0-9a-f]{64}).*/\1/p' <<<"$out")
N=$(sed -nE 's/.*chain head at record ([0-9]+) is.*/\1/p' <<<"$out")
t_check "it prints the record and its hash ($out)" test -n "$H" -a -n "$N"
t_check "the master logged it" grep -q "audit: anchor of fj: chain head at record $N is $H" \
	"$T_DIR/master.log"
t_eq "record $N's hash is the anchor" "$H" \
	"$(m --json --since 1970-01-01 | jq -r "select(.seq == $N) | .hash")"
t_eq "an anchor event holds it" 1 "$(m --json --type anchor | jq -r .text | grep -c "$H")"
t_eq "the anchor as JSON" "$((N + 1))" "$(m anchor --json | jq -r '.anchor_seq - 1')"
send 3
out=$(m verify --anchor "$H"); rc=$?
t_eq "verify --anchor: exit 0" 0 $rc
t_check "... the chain passes through it at record $N ($out)" \
	grep -q "passes through anchor $H at record $N " <<<"$out"
NOWHERE=$(printf 'ab%.0s' $(seq 32))
out=$(m verify --anchor "$NOWHERE"); rc=$?
t_eq "verify --anchor of a hash from nowhere: exit 1" 1 $rc
t_check "... saying it is not found ($out)" grep -q "anchor $NOWHERE not found: no record" <<<"$out"
t_eq "... --json: anchor_found false" false "$(m verify --json --anchor "$NOWHERE" | jq -r .anchor_found)"
m verify --anchor xyz >/dev/null 2>&1
t_eq "--anchor that is no hash: exit 2" 2 $?
m --anchor "$H" >/dev/null 2>&1
t_eq "--anchor without verify: exit 2" 2 $?
"$CTL" -s "$T_DIR/nosuch.sock" audit anchor >/dev/null 2>&1
t_eq "audit anchor with no daemon: exit 3" 3 $?

# 2. verify --since T: from the first record at or after T
sleep 1.1
T=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.1
send 2
S=$(m --json --since "$T" | head -n 1 | jq -r .seq)
PREV=$(m --json --since 1970-01-01 | jq -r "select(.seq == $((S - 1))) | .hash")
out=$(m verify --since "$T"); rc=$?
t_eq "verify --since: exit 0" 0 $rc
t_check "... from record $S, hooked on record $((S - 1))'s hash ($out)" \
	grep -qE "^[0-9]+ records verified, from record $S \(.*\), hooked on the stored hash $PREV of the record before it, chain intact, head [0-9a-f]{64}$" <<<"$out"
ALL=$(m verify | cut -d' ' -f1)
t_check "... fewer records than the whole chain (${out%% *} < $ALL)" test "${out%% *}" -lt "$ALL"
t_eq "verify --since with the anchor before T: not reached, exit 1" 1 \
	"$(m verify --since "$T" --anchor "$H" >/dev/null; echo $?)"

# 3. the county's own anchors, every 2 s
t_wait_for "the county writes anchors by itself" 10 \
	bash -c "[ \$(grep -c 'audit: anchor of fj-xm: chain head at record' '$T_DIR/county.log') -ge 2 ]"
t_check "... as events of its log" bash -c \
	"[ \$('$CTL' audit --journal '$CJ' --type anchor --json | wc -l) -ge 2 ]"
t_check "... and its chain verifies" "$CTL" audit verify --journal "$CJ"

# 4. indexes: the county's journal, written without, indexed at a restart
n_stop county
n_set county "audit-index yes"
n_start county
t_wait_for "the county indexed its journal at start" 10 \
	grep -qE "journal .*: [0-9]+ events indexed in [0-9]+ s" "$T_DIR/county.log"
t_check "... having said it would" grep -q "indexing events 1 to [0-9]* for audit queries" \
	"$T_DIR/county.log"
send 2
ID=$(awk 'NR == 1 { print $NF }' "$T_DIR/ids4")
for q in "--src fj-xm/alice" "--src fj-xm" "--dst fj-xm/bob" "--command lab.order" \
    "--since -1m" "--id $ID" "--src fj-xm --since -1m --type forwarded"; do
	# shellcheck disable=SC2086
	"$CTL" audit --journal "$CJ" $q --json >"$T_DIR/q.ix" 2>"$T_DIR/q.err"
	# shellcheck disable=SC2086
	"$CTL" audit --journal "$CJ" $q --json --scan >"$T_DIR/q.scan"
	t_check "county, $q: some events ($(wc -l <"$T_DIR/q.ix"))" test -s "$T_DIR/q.ix"
	t_check "... indexed = whole log" cmp -s "$T_DIR/q.ix" "$T_DIR/q.scan"
	t_check "... and no 'reading the whole log' note" t_not grep -q "whole log" "$T_DIR/q.err"
	# shellcheck disable=SC2086
	m $q --json >"$T_DIR/q.ix"
	# shellcheck disable=SC2086
	m $q --json --scan >"$T_DIR/q.scan"
	t_check "master, $q: some events, indexed = whole log" \
		bash -c "test -s '$T_DIR/q.ix' && cmp -s '$T_DIR/q.ix' '$T_DIR/q.scan'"
done
t_check "the county's query found its packets" bash -c \
	"[ \$('$CTL' audit --journal '$CJ' --src fj-xm/alice --type accepted --json | wc -l) -ge 11 ]"
t_done
