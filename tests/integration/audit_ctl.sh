#!/bin/bash
# cascadectl audit against real daemons: master fj, county fj-xm with
# clients alice and bob (alice -> bob goes by the master). Queries of the
# master's event log by src (client and node), dst, command, type, time
# window, id and limit match what was sent; the county's log has the
# deliveries; verify says intact, then names exactly the record whose byte
# was flipped and, separately, the one deleted (tests/tools/evtamper); export
# gives as many rows as the query and states its first and last hash;
# show ID gives one packet's record, hop trace, events and payload hash,
# the payload itself only with --payload, through the daemon, which records
# the access as a payload-read event (replay.sh checks the rest of it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init audit_ctl
CTL=$top_builddir/node/cascadectl
TAMPER=$top_builddir/tests/tools/evtamper

n_node master fj master
n_node county fj-xm
n_link county master
n_client county alice; n_client county bob
n_start master; n_start county
MJ=$T_DIR/master/journal

m() { "$CTL" -f "$T_DIR/master.conf" audit "$@"; }
# n ARGS...: the number of JSON lines `audit --json ARGS` gives for the master
n() { m --json "$@" | wc -l; }

tc_recv_bg bob1 county bob 5 -W 30
tc_recv_bg alice1 county alice 3 -W 30
t_check "alice sends 5 lab.order to bob" bash -c "'$T_TCLIENT' send -u '$(n_url county)' -a fj-xm/alice \
	-s '$T_DIR/alice.secret' -t fj-xm/bob -n 5 -M lab.order -I > '$T_DIR/ids_ab'"
t_wait "bob1" 40
sleep 1.2
T1=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.2
t_check "bob sends 3 lab.result to alice" bash -c "'$T_TCLIENT' send -u '$(n_url county)' -a fj-xm/bob \
	-s '$T_DIR/bob.secret' -t fj-xm/alice -n 3 -M lab.result -I > '$T_DIR/ids_ba'"
t_wait "alice1" 40
t_check "bob got 5" check_exactly_once "$T_DIR/bob1.txt" 5
t_check "alice got 3" check_exactly_once "$T_DIR/alice1.txt" 3

# 1. queries: by src (a client, a node), dst, command, type, window, id, limit
t_eq "src fj-xm/alice: 5 accepted at the master" 5 "$(n --src fj-xm/alice --type accepted)"
t_eq "the ids are the ones sent" "$(awk '$1 == "id" {print $2}' "$T_DIR/ids_ab" | sort)" \
	"$(m --json --src fj-xm/alice --type accepted | jq -r .id | sort)"
t_eq "src fj-xm (the node: all its clients): 8" 8 "$(n --src fj-xm --type accepted)"
t_eq "src fj-x (not a node here): 0" 0 "$(n --src fj-x --type accepted)"
t_eq "dst fj-xm/alice: 3" 3 "$(n --dst fj-xm/alice --type accepted)"
t_eq "command lab.result: 3" 3 "$(n --command lab.result --type accepted)"
t_eq "command lab.order, all types: accepted and forwarded of 5" 10 "$(n --command lab.order)"
t_eq "--since T1: bob's 3" 3 "$(n --since "$T1" --type accepted)"
t_eq "--until T1: alice's 5" 5 "$(n --until "$T1" --type accepted)"
t_eq "--since -1h: all 8" 8 "$(n --since -1h --type accepted)"
t_eq "--since yesterday --until now: all 8" 8 "$(n --since yesterday --until now --type accepted)"
t_eq "--until -1m (before the traffic): none" 0 "$(n --until -1m --type accepted)"
ID=$(awk '$1 == "id" {print $2}' "$T_DIR/ids_ab" | sed -n 2p)
t_eq "--id: accepted and forwarded of that packet" "accepted $ID
forwarded $ID" "$(m --json --id "$ID" | jq -r '"\(.type) \(.id)"')"
t_eq "--id: its src, dst, command" "fj-xm/alice fj-xm/bob lab.order" \
	"$(m --json --id "$ID" --type accepted | jq -r '"\(.src) \(.dst) \(.command)"')"
t_eq "--limit 2" 2 "$(n --limit 2)"
t_eq "the county's log: 5 delivered to bob" 5 \
	"$("$CTL" -f "$T_DIR/county.conf" audit --json --type delivered --dst fj-xm/bob | wc -l)"
t_eq "--journal DATA-DIR works as the journal" 8 \
	"$("$CTL" audit --journal "$T_DIR/master" --json --type accepted | wc -l)"
t_check "the table: a header and local times with their zone" bash -c \
	"'$CTL' -f '$T_DIR/master.conf' audit --id $ID > '$T_DIR/table' && head -1 '$T_DIR/table' | grep -q 'SEQ *TIME *TYPE' &&
	 [ \$(grep -cE ' [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ [+-][0-9]{4} +accepted +$ID +fj-xm/alice +fj-xm/bob +lab.order' '$T_DIR/table') -eq 1 ]"
"$CTL" -f "$T_DIR/master.conf" audit --since tomorrow >/dev/null 2>"$T_DIR/err"
t_eq "a bad time: exit 2" 2 $?
t_check "... saying what would do" grep -q "ISO 8601" "$T_DIR/err"
m --since -1m --until -1h >/dev/null 2>&1
t_eq "--since after --until: exit 2" 2 $?
m verify --src fj-xm >/dev/null 2>&1
t_eq "verify with a filter: exit 2" 2 $?
t_check "audit --help: the usage, exit 0" bash -c "'$CTL' audit --help | grep -q '^usage: cascadectl audit'"
t_check "audit --journal takes the data-dir too" bash -c \
	"'$CTL' audit --journal '${MJ%/journal}' --id $ID --json | grep -c '\"accepted\"' | grep -qx 1"
"$CTL" audit --journal "$T_DIR" --id "$ID" >/dev/null 2>"$T_DIR/err"
t_eq "--journal DIR holding no journal: exit 1" 1 $?
t_check "... naming what to give" grep -q "give the node's journal directory or its data-dir" \
	"$T_DIR/err"
t_eq "--scan (the whole log read, no indexes): the same rows" \
	"$(m --src fj-xm --json | md5sum)" "$(m --src fj-xm --json --scan | md5sum)"

# 1b. show ID: the record (src, dst, command), the hop trace, the events, the
# payload's size and SHA-256 (= sha256 of what tclient sent: "n=2 src=..."
# padded with NULs to 64 bytes), the payload only with --payload (hex: it
# holds NULs; text for a printable one), its access logged; its receipt and
# reply found as related packets; unknown id: 1
s() { "$CTL" -f "$T_DIR/$1.conf" audit show "${@:2}"; }
m show "$ID" --json > "$T_DIR/show.json"
t_eq "show --json: exit 0" 0 $?
t_eq "show: src dst command kind of the record" "fj-xm/alice fj-xm/bob lab.order data" \
	"$(jq -r '.records[0] | "\(.src) \(.dst) \(.command) \(.kind)"' "$T_DIR/show.json")"
t_eq "show: the hop trace, county then master (which turned it down), with times" "fj-xm up true
fj down true" "$(jq -r '.records[0].trace[] | "\(.node) \(.leg) \(.arrived_ms > 0)"' "$T_DIR/show.json")"
t_eq "show: its events here, in order" "accepted forwarded" \
	"$(jq -r '[.events[].type] | join(" ")' "$T_DIR/show.json")"
SHA=$({ printf 'n=2 src=fj-xm/alice'; head -c 45 /dev/zero; } | sha256sum | cut -d' ' -f1)
t_eq "show: payload size and sha256 = what was sent" "64 $SHA" \
	"$(jq -r '.records[0] | "\(.payload_size) \(.payload_sha256)"' "$T_DIR/show.json")"
t_eq "show without --payload: no payload" "null null" \
	"$(jq -r '.records[0] | "\(.payload_text) \(.payload_hex)"' "$T_DIR/show.json")"
m show "$ID" > "$T_DIR/show.txt" 2> "$T_DIR/show.err"
sed 's/^/# /' "$T_DIR/show.txt"
t_check "the text form names src, dst, command, trace and sha" bash -c "grep -q 'src fj-xm/alice  dst fj-xm/bob  command lab.order' '$T_DIR/show.txt' &&
	grep -qE '^    2\. fj +leg down +arrived' '$T_DIR/show.txt' && grep -q 'payload: 64 bytes, sha256 $SHA' '$T_DIR/show.txt' &&
	grep -qE ' forwarded +leg ' '$T_DIR/show.txt' && ! grep -q 'payload (' '$T_DIR/show.txt'"
t_eq "... and logs no payload access" "" "$(cat "$T_DIR/show.err")"
m show "$ID" --payload --json > "$T_DIR/showp.json" 2> "$T_DIR/showp.err"
t_eq "show --payload: exit 0" 0 $?
t_eq "--payload: the bytes sent, in hex (not printable)" \
	"$({ printf 'n=2 src=fj-xm/alice'; head -c 45 /dev/zero; } | od -An -v -tx1 | tr -d ' \n')" \
	"$(jq -r '.records[0].payload_hex' "$T_DIR/showp.json")"
t_check "--payload: the access is recorded (the master's event log) with uid, time and packet" \
	grep -qE "payload access: uid $(id -u) read the payload of packet $ID \(leg down\) at [0-9]{4}-[0-9]{2}-[0-9]{2}T.*; recorded in the node's event log as event [0-9]+ \(payload-read" "$T_DIR/showp.err"
t_eq "... a payload-read event of that packet, naming the reader's uid" "$ID uid $(id -u)" \
	"$(m --json --type payload-read | jq -r '"\(.id) \(.peer | split(" ")[0:2] | join(" "))"')"
tc_recv_bg bob2 county bob 1 -W 30
t_check "alice sends a printable payload with a receipt asked" bash -c "'$T_TCLIENT' send -u '$(n_url county)' -a fj-xm/alice \
	-s '$T_DIR/alice.secret' -t fj-xm/bob -n 1 -z 1 -m 'hello, 世界' -M lab.note -R -I > '$T_DIR/ids_txt'"
t_wait "bob2" 40
TID=$(awk '$1 == "id" {print $2}' "$T_DIR/ids_txt")
t_eq "--payload of printable UTF-8: the text" "n=1 src=fj-xm/alice hello, 世界" \
	"$(s county "$TID" --payload --json 2>/dev/null | jq -r '.records[0].payload_text')"
tc_recv_bg alice2 county alice 1 -W 30
t_check "bob replies to it" bash -c "'$T_TCLIENT' send -u '$(n_url county)' -a fj-xm/bob \
	-s '$T_DIR/bob.secret' -t fj-xm/alice -n 1 -M lab.note.ack -y $TID -I > '$T_DIR/ids_reply'"
t_wait "alice2" 40
RID=$(awk '$1 == "id" {print $2}' "$T_DIR/ids_reply")
s county "$TID" --json > "$T_DIR/showr.json"
t_check "the county: bob's reply among the related" bash -c \
	"jq -e '[.related[] | select(.relation == \"reply\" and .id == \"$RID\" and .command == \"lab.note.ack\")] | length > 0' '$T_DIR/showr.json' >/dev/null"
# 'forwarded' is written when the master's push reply arrives, which under
# load can come after the packet is back down and delivered: compare as a set.
# The payload of both legs was read above (--payload): one payload-read each.
t_eq "the county: accepted up, accepted down (from the master), forwarded, delivered, payload-read" \
	"accepted/down accepted/up delivered/down forwarded/up payload-read/down payload-read/up" \
	"$(jq -r '[.events[] | "\(.type)/\(.leg)"] | sort | join(" ")' "$T_DIR/showr.json")"
t_eq "the county: delivered to bob" "client:bob" \
	"$(jq -r '[.events[] | select(.type == "delivered")][0].peer' "$T_DIR/showr.json")"
t_check "the county: its receipt (a delivered notice to alice) among the related" bash -c \
	"jq -e '[.related[] | select(.relation == \"notice\" and .notice == \"delivered\" and .dst == \"fj-xm/alice\")] | length > 0' '$T_DIR/showr.json' >/dev/null"
s master 000000000001-00000000000000000001 > /dev/null 2> "$T_DIR/nf.err"
t_eq "unknown id: exit 1" 1 $?
t_check "... saying not found" grep -q "not found" "$T_DIR/nf.err"
s master nonsense >/dev/null 2>&1
t_eq "show of a non-id: exit 2" 2 $?
s master >/dev/null 2>&1
t_eq "show without an id: exit 2" 2 $?
m --payload >/dev/null 2>&1
t_eq "--payload without show: exit 2" 2 $?

# 2. verify: intact, a flipped byte, a deleted record
ALL=$(n)
out=$(m verify); rc=$?
t_eq "verify: exit 0" 0 $rc
t_check "verify: N records, intact, head" bash -c "echo '$out' | grep -qE '^[0-9]+ records verified, chain intact, head [0-9a-f]{64}$'"
t_check "verify: at least every event queried" test "${out%% *}" -ge "$ALL"
t_check "flip a byte of record 4" "$TAMPER" "$MJ" flip 4
out=$(m verify); rc=$?
t_eq "verify after the flip: exit 1" 1 $rc
t_check "names record 4: its content changed ($out)" bash -c "echo '$out' | grep -q '^chain broken at record 4 (at [0-9]\{4\}-.*content does not match its hash.*; 3 records before it verified'"
t_eq "--json names record 4" "false 4 false" "$(m verify --json | jq -r '"\(.intact) \(.broken_at) \(.missing)"')"
t_check "flip it back" "$TAMPER" "$MJ" flip 4
t_check "intact again" m verify
t_check "delete record 6" "$TAMPER" "$MJ" delete 6
out=$(m verify); rc=$?
t_eq "verify after the delete: exit 1" 1 $rc
t_check "names record 6 as missing ($out)" bash -c "echo '$out' | grep -q '^chain broken at record 6 (after [0-9]\{4\}-.*missing: the log jumps from 5 to 7'"

# 3. export: as many rows as the query, its first and last hash stated
Q=$(n --src fj-xm)
m export --since -1h --src fj-xm --format jsonl > "$T_DIR/x.jsonl" 2> "$T_DIR/x.err"
t_eq "export jsonl: exit 0" 0 $?
t_eq "export jsonl: rows = query rows" "$Q" "$(wc -l < "$T_DIR/x.jsonl")"
m export --since -1h --src fj-xm --format csv > "$T_DIR/x.csv" 2>/dev/null
t_eq "export csv: header + rows" "$((Q + 1))" "$(wc -l < "$T_DIR/x.csv")"
t_check "csv header" grep -qx 'seq,time,type,id,leg,kind,ref,command,src,dst,peer,reason,text,trace,hash' "$T_DIR/x.csv"
first=$(head -1 "$T_DIR/x.jsonl" | jq -r .hash); last=$(tail -1 "$T_DIR/x.jsonl" | jq -r .hash)
t_check "stderr states the first and last record's hash" grep -q \
	"export: $Q records, first seq [0-9]* hash $first, last seq [0-9]* hash $last" "$T_DIR/x.err"
m export --format csv >/dev/null 2>&1
t_eq "export without --since: exit 2" 2 $?

t_done
