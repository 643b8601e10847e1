#!/bin/bash
# cascadectl replay, against real daemons: city fj-xm (the root here) with
# client alice, county fj-xm-a below it with clients bob (the cascade CLI
# with a state directory: it remembers what it was handed) and carol.
#
# 1. A county loses its disk: bob takes 3 of alice's packets, goes offline,
#    4 more reach the county's journal; the county is stopped, its data
#    directory deleted, started again empty (same config). replay --link at
#    the city requeues all 7 that went over the link; bob then gets exactly
#    the 4 he had not had, once each, in order, and none of the first 3.
# 2. A replay toward the county that still has its journal: the county
#    drops all 7 as duplicates (id, leg), nothing reaches bob twice.
# 3. replay --id: one packet again, into carol's inbox (she gets it again);
#    audit show lists the replays; a packet whose record retention pruned
#    (tests/tools/evtamper unstore): replay --id exits 1 saying so, replay --link
#    exits 6 naming it and requeues the rest.
# 4. audit show --payload goes through the daemon, which records a
#    payload-read event (who, when, which packet) shown by audit show and
#    audit --type payload-read (also with --journal DIR of the running
#    node); against a stopped node it needs --journal DIR, and then says
#    the access could not be recorded in the chain.
# 5. Replayed while the county is still down, with newer packets waiting
#    for it: the replayed ones go first, the flow keeps its order.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init replay
CTL=$top_builddir/node/cascadectl
CLI=$top_builddir/client-sdk/cascade
TAMPER=$top_builddir/tests/tools/evtamper

n_node city fj-xm master
n_node county fj-xm-a
n_link county city
n_client city alice
n_client county bob; n_client county carol
n_start city; n_start county

ctl() { local n=$1; shift; "$CTL" -f "$T_DIR/$n.conf" "$@"; }
# bob NAME ARGS...: bob's cascade CLI (state in $T_DIR/bob-state), JSON lines in $T_DIR/NAME.json
bob() {
	local name=$1; shift
	"$CLI" -u "$(n_url county)" -a fj-xm-a/bob -s "$T_DIR/bob.secret" -S "$T_DIR/bob-state" \
		-j listen "$@" >"$T_DIR/$name.json" 2>"$T_DIR/$name.err"
}
carol() {
	"$CLI" -u "$(n_url county)" -a fj-xm-a/carol -s "$T_DIR/carol.secret" -j listen "$@"
}
# send N TO FILE: alice sends N lab.order to TO; their ids, one a line, in FILE
send() {
	"$T_TCLIENT" send -u "$(n_url city)" -a fj-xm/alice -s "$T_DIR/alice.secret" -t "$2" \
		-n "$1" -M lab.order -I | awk '$1 == "id" {print $2}' >"$3"
}
depth() {   # depth NODE QUEUE
	ctl "$1" queue --json | jq -r --arg q "$2" '[.[] | select(.name == $q)][0].depth // 0'
}
depth_is() { [ "$(depth "$1" "$2")" = "$3" ]; }
count() {   # count NODE AUDIT-ARGS...: events matching
	local n=$1; shift
	ctl "$n" audit --json "$@" | wc -l
}
count_is() { local want=$1; shift; [ "$(count "$@")" = "$want" ]; }
ids_of() { jq -r .id "$1" | sort; }

# --- 1. the county loses its disk
t_check "alice sends 3 to bob" send 3 fj-xm-a/bob "$T_DIR/ids1"
t_check "bob takes the 3 (and remembers them)" bob first --count 3 -T 30
t_eq "... those 3" "$(sort "$T_DIR/ids1")" "$(ids_of "$T_DIR/first.json")"
t_check "alice sends 4 more while bob is offline" send 4 fj-xm-a/bob "$T_DIR/ids2"
t_wait_for "the county holds them in bob's inbox" 20 depth_is county client:bob 4
t_wait_for "the city forwarded all 7 over the link" 20 \
	count_is 7 city --type forwarded --dst fj-xm-a/bob
n_stop county
t_check "the county's data directory is deleted" rm -rf "$T_DIR/county"
n_start county
t_eq "the county came back empty: none of alice's packets" 0 \
	"$(count county --type accepted --src fj-xm/alice)"
t_check "bob gets nothing now (the county lost them)" bob lost -T 3
t_eq "... nothing" 0 "$(wc -l <"$T_DIR/lost.json")"

ctl city replay --link fj-xm-a --since -1h --json >"$T_DIR/r1.json" 2>"$T_DIR/r1.err"
t_eq "replay --link fj-xm-a --since -1h at the city: exit 0" 0 $?
t_eq "... 7 requeued, 0 pruned, 0 expired, 0 waiting, to child:fj-xm-a" "7 0 0 0 child:fj-xm-a" \
	"$(jq -r '"\(.requeued) \(.pruned) \(.expired) \(.waiting) \(.queue)"' "$T_DIR/r1.json")"
t_eq "... their ids" "$(sort "$T_DIR/ids1" "$T_DIR/ids2")" "$(jq -r '.requeued_ids[]' "$T_DIR/r1.json" | sort)"
t_check "bob gets the 4 he had not had" bob second --count 4 -T 30
t_eq "... exactly those 4" "$(sort "$T_DIR/ids2")" "$(ids_of "$T_DIR/second.json")"
t_eq "... in the order sent" "$(cat "$T_DIR/ids2")" "$(jq -r .id "$T_DIR/second.json")"
t_check "and nothing more" bob after1 -T 3
t_eq "... nothing (the first 3 not again)" 0 "$(wc -l <"$T_DIR/after1.json")"
t_eq "the new county took all 7 into custody" 7 "$(count county --type accepted --src fj-xm/alice)"
t_wait_for "the city's queue to the county is empty again" 20 depth_is city child:fj-xm-a 0
t_eq "the city logged 7 replayed events toward child:fj-xm-a" "7 child:fj-xm-a" \
	"$(ctl city audit --json --type replayed | jq -rs '"\(length) \(map(.peer) | unique | join(","))"')"
t_check "... each naming the operator's uid and the request" bash -c \
	"[ \$('$CTL' -f '$T_DIR/city.conf' audit --json --type replayed | jq -r .text |
	   grep -c 'replay --link fj-xm-a (forwarded .* to .*) by uid $(id -u) (') = 7 ]"
t_check "... and one note summing the replay up" bash -c \
	"'$CTL' -f '$T_DIR/city.conf' audit --json --type note | jq -r .text |
	 grep -q 'replay toward fj-xm-a (child:fj-xm-a) by uid $(id -u) .*: 7 requeued, 0 pruned, 0 expired, 0 still waiting'"
ctl city replay --link fj-xm-a --since -1h >"$T_DIR/r1.txt"
t_check "the text form says what was done" grep -q \
	'^replay toward fj-xm-a (child:fj-xm-a), forwarded .* to .*: 7 requeued, 0 not replayable' "$T_DIR/r1.txt"

# --- 2. a replay toward a county that still has its journal (the text one above
# was that already; the county drops each copy as a duplicate)
t_wait_for "the county acked the replayed copies: 7 duplicates" 20 count_is 7 county --type duplicate
ctl city replay --link fj-xm-a --since -1h --json >"$T_DIR/r2.json"
t_eq "another replay: 7 requeued (each packet once, however often it went)" 7 \
	"$(jq -r .requeued "$T_DIR/r2.json")"
t_wait_for "the county drops them all: 14 duplicates" 20 count_is 14 county --type duplicate
t_wait_for "the city's queue to the county is empty" 20 depth_is city child:fj-xm-a 0
t_eq "the county accepted nothing new" 7 "$(count county --type accepted --src fj-xm/alice)"
t_eq "bob's inbox at the county is empty" 0 "$(depth county client:bob)"
t_check "bob gets nothing twice" bob after2 -T 3
t_eq "... nothing" 0 "$(wc -l <"$T_DIR/after2.json")"
t_eq "the county delivered 7 to bob in all" 7 "$(count county --type delivered --dst fj-xm-a/bob)"

# --- 3. replay --id, audit show, a pruned packet
t_check "alice sends 1 to carol" send 1 fj-xm-a/carol "$T_DIR/idc"
C=$(cat "$T_DIR/idc")
t_eq "carol gets it" "$C" "$(carol --count 1 -T 30 | jq -r .id)"
# run as root through sudo, the event names sudo's caller beside uid 0
out=$(SUDO_USER=lin ctl county replay --id "$C"); rc=$?
t_eq "replay --id at the county: exit 0" 0 $rc
t_check "... requeued to carol's inbox ($out)" bash -c "echo '$out' | grep -q '^packet $C requeued to client:carol (seq 2)$'"
t_eq "carol gets it again (her CLI keeps no state)" "$C" "$(carol --count 1 -T 30 | jq -r .id)"
t_eq "audit show at the county lists the replay" "replayed client:carol" \
	"$(ctl county audit show "$C" --json | jq -r '.events[] | select(.type == "replayed") | "\(.type) \(.peer)"')"
if [ "$(id -u)" = 0 ]; then
	t_check "... naming uid 0 and sudo's caller" bash -c "'$CTL' -f '$T_DIR/county.conf' audit --json \
		--type replayed --id '$C' | jq -r .text | grep -q 'by uid 0 (root) pid [0-9]*, for user lin (cascadectl.s word)'"
else
	t_check "... naming our uid (sudo's caller only counts for root)" bash -c "'$CTL' -f '$T_DIR/county.conf' \
		audit --json --type replayed --id '$C' | jq -r .text | grep -q 'by uid $(id -u) ' "
fi
I1=$(sed -n 1p "$T_DIR/ids2")
out=$(ctl city replay --id "$I1"); rc=$?
t_eq "replay --id at the city: exit 0" 0 $rc
t_check "... requeued toward the county ($out)" bash -c "echo '$out' | grep -q '^packet $I1 requeued to child:fj-xm-a (seq [0-9]*)$'"
t_wait_for "... which drops it: 15 duplicates" 20 count_is 15 county --type duplicate
t_eq "audit show at the city lists its 4 replays (3 of the link, 1 of the id)" "4" \
	"$(ctl city audit show "$I1" --json | jq '[.events[] | select(.type == "replayed")] | length')"
ctl city audit show "$I1" >"$T_DIR/show1.txt"
t_check "... in the text form too" grep -qE ' replayed +leg down +child:fj-xm-a seq [0-9]+: replay --id' "$T_DIR/show1.txt"

P=$(sed -n 2p "$T_DIR/ids2")
t_check "retention prunes packet $P at the city (its events stay)" "$TAMPER" "$T_DIR/city/journal" unstore "$P"
ctl city replay --id "$P" >/dev/null 2>"$T_DIR/rp.err"
t_eq "replay --id of a pruned packet: exit 1" 1 $?
t_check "... saying retention pruned it ($(cat "$T_DIR/rp.err"))" \
	grep -q "packet $P cannot be replayed: retention pruned it from the journal of fj-xm" "$T_DIR/rp.err"
ctl city replay --id 000000000001-00000000000000000001 >/dev/null 2>"$T_DIR/rn.err"
t_eq "replay --id of a packet never here: exit 1" 1 $?
t_check "... saying so" grep -q "not in the journal of fj-xm (never here)" "$T_DIR/rn.err"
ctl city replay --link fj-xm-a --since -1h --json >"$T_DIR/r3.json" 2>"$T_DIR/r3.err"
t_eq "replay --link with one packet pruned: exit 6" 6 $?
t_eq "... 7 requeued (bob's other 6, carol's 1), 1 pruned: that one" "7 1 $P" \
	"$(jq -r '"\(.requeued) \(.pruned) \(.pruned_ids | join(","))"' "$T_DIR/r3.json")"
t_check "... and says so on stderr" grep -q "1 packet of the window could not be replayed" "$T_DIR/r3.err"
t_check "the note names it" bash -c "'$CTL' -f '$T_DIR/city.conf' audit --json --type note |
	jq -r .text | grep -q '7 requeued, 1 pruned, .*not replayable (body gone): $P'"
ctl city replay --link fj-xm-b --since -1h >/dev/null 2>"$T_DIR/rl.err"
t_eq "replay toward no such link: exit 1" 1 $?
t_check "... naming what would do" grep -q "no link fj-xm-b at fj-xm: give .* or a child's" "$T_DIR/rl.err"
ctl city replay --link fj-xm-a >/dev/null 2>&1
t_eq "replay --link without --since: exit 2" 2 $?
ctl city replay --id "$I1" --since -1h >/dev/null 2>&1
t_eq "replay --id with a window: exit 2" 2 $?
t_wait_for "the city's queue to the county is empty once more" 20 depth_is city child:fj-xm-a 0
t_eq "bob's inbox at the county stayed empty" 0 "$(depth county client:bob)"

# --- 4. payload access, recorded by the daemon
ctl city audit show "$I1" --payload --json >"$T_DIR/p.json" 2>"$T_DIR/p.err"
t_eq "audit show --payload through the city: exit 0" 0 $?
t_eq "... the payload: what alice sent (n=1, padded with NULs)" \
	"$({ printf 'n=1 src=fj-xm/alice'; head -c 45 /dev/zero; } | od -An -v -tx1 | tr -d ' \n')" \
	"$(jq -r '.records[0].payload_hex' "$T_DIR/p.json")"
t_check "... stderr: the access recorded as an event ($(cat "$T_DIR/p.err"))" grep -qE \
	"payload access: uid $(id -u) read the payload of packet $I1 \(leg down\) at .*; recorded in the node's event log as event [0-9]+ \(payload-read, by uid $(id -u) \(" "$T_DIR/p.err"
t_eq "audit --type payload-read: that one access, with who" "$I1 down uid $(id -u)" \
	"$(ctl city audit --json --type payload-read | jq -r '"\(.id) \(.leg | if . == 1 then "down" else "up" end) \(.peer | split(" ")[0:2] | join(" "))"')"
t_eq "... its event is in the chain: audit show lists it" "payload-read" \
	"$(jq -r '.events[] | select(.type == "payload-read") | .type' "$T_DIR/p.json")"
t_check "... and the chain verifies" ctl city audit verify
ctl city audit show "$I1" >"$T_DIR/p.txt" 2>&1
t_check "audit show without --payload: no payload, no new access" bash -c \
	"! grep -q 'payload (' '$T_DIR/p.txt' && [ \$('$CTL' -f '$T_DIR/city.conf' audit --json --type payload-read | wc -l) = 1 ]"
t_check "... but the event in its list" grep -qE ' payload-read +leg down +uid ' "$T_DIR/p.txt"
ctl city audit show "$I1" --payload --journal "$T_DIR/city" >/dev/null 2>"$T_DIR/pr.err"
t_eq "--journal DIR of the running city: exit 0" 0 $?
t_check "... the payload still comes from the daemon, recorded" bash -c \
	"grep -q 'the node of this journal runs' '$T_DIR/pr.err' && grep -q 'recorded in the node.s event log as event' '$T_DIR/pr.err'"
t_eq "... 2 payload-read events now" 2 "$(count city --type payload-read)"
n_stop county
ctl county audit show "$C" --payload >/dev/null 2>"$T_DIR/ps.err"
t_eq "the county stopped: --payload without --journal: exit 3" 3 $?
t_check "... saying the access could not be recorded, and what would do" grep -q \
	"cascaded is not running, so the payload access cannot be recorded .*--journal DIR" "$T_DIR/ps.err"
ctl county audit show "$C" --payload --journal "$T_DIR/county" --json >"$T_DIR/pj.json" 2>"$T_DIR/pj.err"
t_eq "--journal DIR of the stopped county: exit 0" 0 $?
t_check "... the payload" bash -c "jq -e '.records[0].payload_hex | length > 0' '$T_DIR/pj.json' >/dev/null"
t_check "... saying the access could not be recorded in the chain" grep -q \
	"the access could not be recorded in the journal's event chain: logged to syslog" "$T_DIR/pj.err"
t_eq "... and the county's log has no payload-read" 0 \
	"$("$CTL" audit --journal "$T_DIR/county" --json --type payload-read | wc -l)"

# --- 5. the county loses its disk again, and alice sends while it is down:
# replayed before it is back, the replayed packets (older) go ahead of those
# that waited (newer), so the flow alice -> bob keeps its order
t_check "the county's data directory is deleted again (it is down)" rm -rf "$T_DIR/county"
t_check "alice sends 2 more to bob meanwhile" send 2 fj-xm-a/bob "$T_DIR/ids3"
t_wait_for "... they wait at the city" 20 depth_is city child:fj-xm-a 2
ctl city replay --link fj-xm-a --since -1h --json >"$T_DIR/r5.json" 2>/dev/null
t_eq "replay before the county is back: exit 6 (the pruned one)" 6 $?
t_eq "... 7 requeued, 1 pruned, the 2 that waited moved behind them" "7 1 2" \
	"$(jq -r '"\(.requeued) \(.pruned) \(.moved)"' "$T_DIR/r5.json")"
n_start county
t_check "bob gets the 2 new ones (his state has the rest)" bob fifth --count 2 -T 30
t_eq "... those, in order" "$(cat "$T_DIR/ids3")" "$(jq -r .id "$T_DIR/fifth.json")"
t_check "and nothing more" bob after5 -T 3
t_eq "... nothing" 0 "$(wc -l <"$T_DIR/after5.json")"
t_eq "the new county took bob's packets in the order alice sent them" \
	"$(cat "$T_DIR/ids1" "$T_DIR/ids2" "$T_DIR/ids3" | grep -vx "$P")" \
	"$(ctl county audit --json --type accepted --dst fj-xm-a/bob | jq -r .id)"
t_done
