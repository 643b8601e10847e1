#!/bin/bash
# A temporary refusal reaches the sender (issue 12): a county whose journal
# is full (journal-max-size, its parent down) refuses pushes for now.
# cascade send, without -v, says so on stderr as it happens and in its
# timeout message (exit 4), instead of only "the session is up"; the SDK
# reports it as CASCADE_STATE_HELD with the reason in cascade_last_error()
# (sdkpeer shows both). cascade batch tells it per packet: each send's
# custody event fails with the same words, and a "held" state event comes
# as it happens. Once the parent is back and the queue
# drains, a send goes through again (exit 0).
. "$(dirname "$0")/lib.sh"
t_init cli_held
. "$(dirname "$0")/nodes.sh"
CLI=$top_builddir/client-sdk/cascade

n_node master fj master
n_node cy fj-c
n_link cy master
n_client cy alice; n_client cy fred; n_client master carol
n_set cy "journal-map-size 1M"; n_set cy "journal-max-size 1M"
n_start master
n_start cy
t_wait_for "the county is up" 10 grep -q "link fj: session .* up over" "$T_DIR/cy.log"
[ "$T_FAIL" -eq 0 ] || exit 1

n_stop master
# alice fills the county's journal with packets for the master's carol
t_bg alice "$T_TCLIENT" send -u "$(n_url cy)" -a fj-c/alice -s "$T_DIR/alice.secret" \
	-t fj/carol -n 2000 -b 20 -z 4000 -W 120
t_wait_for "the county refuses pushes: journal full" 90 grep -q "push refused: journal full" "$T_DIR/cy.log"

"$CLI" -u "$(n_url cy)" -a fj-c/fred -s "$T_DIR/fred.secret" -T 3 send fj/carol t.held hello \
	>"$T_DIR/send.out" 2>"$T_DIR/send.err"
t_eq "cascade send waits, then exits 4" 4 "$?"
t_check "without -v, the timeout message says why" \
	grep -q "has not taken custody within 3 s (the session is up, but the node at .* refuses packets for now: journal full)" "$T_DIR/send.err"
t_check "... and the refusal is told as it happens" \
	grep -q "^cascade: the node at .* refuses packets for now: journal full; waiting" "$T_DIR/send.err"
t_check "... not as 'connecting'" sh -c "! grep -q connecting '$T_DIR/send.err'"
# the same through the SDK's own API (tests/sdk/sdkpeer): the state callback
# and cascade_last_error()
"$top_builddir/tests/sdk/sdkpeer" send -u "$(n_url cy)" -a fj-c/fred -s "$T_DIR/fred.secret" \
	-t fj/carol -n 1 -W 4 >"$T_DIR/peer.out" 2>"$T_DIR/peer.err"
t_eq "sdkpeer: no custody within 4 s" "flush timed out" "$(grep -o 'flush timed out' "$T_DIR/peer.out")"
t_check "the state callback gets CASCADE_STATE_HELD (7) with the reason" \
	grep -q "state 7: the node at .* refuses packets for now: journal full" "$T_DIR/peer.err"
t_check "cascade_last_error() says it" \
	grep -q "last error: the node at .* refuses packets for now: journal full" "$T_DIR/peer.err"
# cascade batch: the refusal per packet, and as a state event
printf '{"op":"send","dst":"fj/carol","command":"t.held","payload":"b%d","tag":%d}\n' 1 1 2 2 \
	>"$T_DIR/held.in"
"$CLI" -u "$(n_url cy)" -a fj-c/fred -s "$T_DIR/fred.secret" -T 3 batch <"$T_DIR/held.in" \
	>"$T_DIR/batch.out" 2>"$T_DIR/batch.err"
t_eq "cascade batch exits 4" 4 "$?"
t_eq "both sends queued" 2 "$(grep -c '^{"line":[12],"op":"send","tag":[12],"ok":true,"id":"[0-9a-f-]*","state":"queued"}$' "$T_DIR/batch.out")"
t_eq "each packet's custody event says why it failed" 2 "$(grep -c '^{"event":"custody","line":[12],"tag":[12],"id":"[0-9a-f-]*","ok":false,"error":"[^"]*","code":-5,"text":"node [^ ]* has not taken custody within 3 s (the session is up, but the node at [^ ]* refuses packets for now: journal full)"}$' "$T_DIR/batch.out")"
t_check "the held state as an event" grep -q \
	'^{"event":"state","state":"held","detail":"the node at [^ ]* refuses packets for now: journal full"}$' \
	"$T_DIR/batch.out"
t_check "... and on stderr, without -v" grep -q \
	"^cascade: the node at .* refuses packets for now: journal full; waiting" "$T_DIR/batch.err"
t_check "... with the count of packets left" grep -q \
	"^cascade: batch: 2 packets: node .* has not taken custody within 3 s (the session is up, but the node at .* refuses packets for now: journal full)" \
	"$T_DIR/batch.err"
t_kill alice TERM
n_start master
t_wait_for "the county's link is up again" 20 sh -c "[ \$(grep -c 'link fj: session .* up over' '$T_DIR/cy.log') -ge 2 ]"
"$CLI" -u "$(n_url cy)" -a fj-c/fred -s "$T_DIR/fred.secret" -T 60 send fj/carol t.held again \
	>"$T_DIR/send2.out" 2>"$T_DIR/send2.err"
t_eq "with room again, cascade send exits 0" 0 "$?"
t_done
