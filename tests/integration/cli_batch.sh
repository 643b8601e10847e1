#!/bin/bash
# cascade batch (issue 12): one session for many packets. A county with
# alice below a city (the master) with bob; one `cascade batch` as alice
# sends N requests (JSON lines on stdin), one `cascade batch` as bob answers
# each incoming packet with a reply line. Each request is answered exactly
# once, with its own answer; the results come in input order; a line that
# is not JSON and one with an unknown op are reported with their line
# numbers and the rest goes on; a send with a receipt gets its custody and
# receipt events; bad base64, a ttl that is no number, a reply to a packet
# never received and a bad destination are results of their own; EOF ends
# both cleanly; an answerer that collects 2000 requests before it answers
# them all does not deadlock with bob's batch; a stdout that cannot be
# written ends batch with exit 6 (/dev/full). The same run measures request/replies per second through
# batch against one `cascade request` process per request (a "# " line: no
# speed is asserted).
. "$(dirname "$0")/lib.sh"
t_init cli_batch
. "$(dirname "$0")/nodes.sh"
CLI=$top_builddir/client-sdk/cascade
N=${CLI_BATCH_N:-2000}          # requests through batch
M=${CLI_BATCH_M:-50}            # requests one process each, for the comparison

n_node city fj-xm master
n_node cy fj-xm-a
n_link cy city
n_client cy alice; n_client city bob; n_client city carol
n_start city
n_start cy
t_wait_for "the county is up" 10 grep -q "link fj-xm: session .* up over" "$T_DIR/cy.log"
[ "$T_FAIL" -eq 0 ] || exit 1

# cli NODE CLIENT ARGS...: cascade as NODE's client CLIENT
cli() {
	local name=$1 client=$2; shift 2
	"$CLI" -u "$(n_url "$name")" -a "${N_ID[$name]}/$client" -s "$T_DIR/$client.secret" "$@"
}

# answer COUNT FIFO: reads bob's batch output on stdin (a copy in bob.out)
# and writes to FIFO, bob's batch's input, a reply line for each incoming
# packet ("re:" and the request's payload); after COUNT it closes FIFO (bob's
# batch reads EOF, flushes, exits) and drains the rest.
answer() {
	local n=0 l re='^\{"event":"packet","id":"([0-9a-f-]+)".*"payload":"([^"]*)"'

	exec 3>"$2"
	while IFS= read -r l; do
		printf '%s\n' "$l" >>"${ANS_OUT:-$T_DIR/bob.out}"
		[[ $l =~ $re ]] || continue
		printf '{"op":"reply","to":"%s","payload":"re:%s"}\n' "${BASH_REMATCH[1]}" \
			"${BASH_REMATCH[2]}" >&3
		n=$((n + 1))
		[ "$n" -ge "$1" ] && break
	done
	exec 3>&-
	cat >>"${ANS_OUT:-$T_DIR/bob.out}"
}
# With jq the answers come faster than bash's read (a byte per read(2) on a
# pipe) can: jq stops after COUNT, and tee -p goes on writing bob.out.
if [ -z "${CLI_NO_JQ:-}" ] && command -v jq >/dev/null 2>&1; then
	answer() {
		tee -p -a "${ANS_OUT:-$T_DIR/bob.out}" | jq -n -c --unbuffered "limit($1; inputs |
		    select(.event == \"packet\")) | {op: \"reply\", to: .id,
		    payload: (\"re:\" + .packet.payload)}" >"$2"
	}
fi
mkfifo "$T_DIR/bob.in"
# timeout: should the test die early, bob's batch (not one of t_bg's) ends too
( timeout 300 "$CLI" -u "$(n_url city)" -a fj-xm/bob -s "$T_DIR/bob.secret" batch \
	<"$T_DIR/bob.in" 2>"$T_DIR/bob.err"; echo $? >"$T_DIR/bob.rc" ) |
	answer $((N + M)) "$T_DIR/bob.in" &
ANSWERER=$!
t_wait_for "bob's batch session is up" 10 grep -q '"event":"state","state":"up"' "$T_DIR/bob.out"

# 1. one process per request: M runs of cascade request
t0=$(t_now_ms)
ok=0
for i in $(seq 1 "$M"); do
	r=$(cli cy alice -T 20 request fj-xm/bob t.ask "p-$i" 2>>"$T_DIR/single.err") &&
		[ "$r" = "re:p-$i" ] && ok=$((ok + 1))
done
t1=$(t_now_ms)
t_eq "$M cascade request runs, each with its own answer" "$M" "$ok"

# 2. N requests through one batch process, a bad line and an unknown op in between
{
	for i in $(seq 1 "$N"); do
		printf '{"op":"request","dst":"fj-xm/bob","command":"t.ask","payload":"q-%d","tag":%d}\n' \
			"$i" "$i"
		if [ "$i" -eq 10 ]; then
			echo '{"op":"request","dst":'                  # line 11: not JSON
			echo '{"op":"frobnicate","tag":"x"}'           # line 12: unknown op
		fi
	done
} >"$T_DIR/alice.in"
t2=$(t_now_ms)
cli cy alice -T 60 batch <"$T_DIR/alice.in" >"$T_DIR/alice.out" 2>"$T_DIR/alice.err"
arc=$?
t3=$(t_now_ms)
t_eq "alice's batch exits 1 (two bad lines), after all the answers" 1 "$arc"
wait "$ANSWERER"
t_eq "bob's batch exits 0 at EOF" 0 "$(cat "$T_DIR/bob.rc")"

# results: one per input line, in input order
t_eq "a result line per input line" $((N + 2)) "$(grep -c '^{"line":' "$T_DIR/alice.out")"
t_check "results in input order" cmp -s <(grep -o '^{"line":[0-9]*' "$T_DIR/alice.out" |
	cut -d: -f2) <(seq 1 $((N + 2)))
t_eq "$N requests queued" "$N" "$(grep -c '^{"line":[0-9]*,"op":"request","tag":[0-9]*,"ok":true,"id":"[0-9a-f-]*","state":"queued"}$' "$T_DIR/alice.out")"
t_check "the bad line is reported with its number" grep -q \
	'^{"line":11,"ok":false,"error":"bad input","text":"stdin line 11: not JSON: ' "$T_DIR/alice.out"
t_check "... on stderr too" grep -q '^cascade: batch: stdin line 11: not JSON' "$T_DIR/alice.err"
t_check "the unknown op is reported with its number and tag" grep -q \
	'^{"line":12,"op":"frobnicate","tag":"x","ok":false,"error":"bad input","text":"unknown op' \
	"$T_DIR/alice.out"
# replies: each request answered once, with its own answer, after its result
t_eq "$N reply events, all ok" "$N" "$(grep -c '^{"event":"reply","line":[0-9]*,"tag":[0-9]*,"id":"[0-9a-f-]*","ok":true' "$T_DIR/alice.out")"
sed -n 's/^{"event":"reply","line":[0-9]*,"tag":\([0-9]*\),.*"payload":"re:q-\([0-9]*\)".*/\1 \2/p' \
	"$T_DIR/alice.out" >"$T_DIR/pairs"
t_eq "each reply carries its own request's answer" "$N" "$(awk '$1 == $2' "$T_DIR/pairs" | wc -l)"
t_eq "each request answered exactly once" "$N" "$(cut -d' ' -f1 "$T_DIR/pairs" | sort -u | wc -l)"
t_check "every reply event comes after its request's result" awk '
	/^{"line":/ { match($0, /"id":"[0-9a-f-]*"/); seen[substr($0, RSTART, RLENGTH)] = 1 }
	/^{"event":"reply"/ { match($0, /"id":"[0-9a-f-]*"/); if (!(substr($0, RSTART, RLENGTH) in seen)) bad++ }
	END { exit bad > 0 }' "$T_DIR/alice.out"
t_eq "custody of every request told" "$N" "$(grep -c '^{"event":"custody","line":[0-9]*,"tag":[0-9]*,"id":"[0-9a-f-]*","ok":true}$' "$T_DIR/alice.out")"
# bob: each request once (no redelivery), each reply taken
t_eq "bob got $((N + M)) packets" $((N + M)) "$(grep -c '^{"event":"packet"' "$T_DIR/bob.out")"
t_eq "... each once" $((N + M)) "$(grep -o '^{"event":"packet","id":"[0-9a-f-]*"' "$T_DIR/bob.out" | sort -u | wc -l)"
t_eq "... none flagged as a redelivery" 0 "$(grep -c '"redelivery"' "$T_DIR/bob.out")"
t_eq "bob's replies all queued" $((N + M)) "$(grep -c '^{"line":[0-9]*,"op":"reply","ok":true' "$T_DIR/bob.out")"
t_eq "... and all in the node's custody" $((N + M)) "$(grep -c '^{"event":"custody",.*"ok":true}$' "$T_DIR/bob.out")"
t_check "bob's session closed cleanly" grep -q '"event":"state","state":"closed"' "$T_DIR/bob.out"

single=$((t1 - t0)) batch=$((t3 - t2))
[ "$single" -gt 0 ] && [ "$batch" -gt 0 ] &&
	echo "# request/replies per second: one process each $((M * 1000000 / single / 1000)).$((M * 1000000 / single % 1000 / 100)) ($M in $single ms), batch $((N * 1000000 / batch / 1000)) ($N in $batch ms), ratio $(((N * single) / (M * batch)))x"

# 3. sends with a receipt; a bad destination is a result of its own
printf '%s\n' '{"op":"send","dst":"fj-xm/bob","command":"t.note","payload_b64":"AAEC/w==","receipt":true,"tag":"r1"}' \
	'{"op":"send","dst":"no such/address","command":"t.note","tag":"r2"}' \
	'{"op":"flush","tag":"f"}' \
	'{"op":"send","dst":"fj-xm/bob","command":"t.note","payload_b64":"#!"}' \
	'{"op":"send","dst":"fj-xm/bob","command":"t.note","ttl":"soon"}' \
	'{"op":"reply","to":"01a23c0a961b-75a1572a33c7296a4e08","payload":"x"}' >"$T_DIR/r.in"
cli city bob listen --count 1 -j -T 20 >"$T_DIR/bob2.out" 2>"$T_DIR/bob2.err" &
LPID=$!
cli cy alice -T 20 batch --wait-replies 10 <"$T_DIR/r.in" >"$T_DIR/r.out" 2>"$T_DIR/r.err"
t_eq "a batch with a bad destination exits 1" 1 "$?"
wait "$LPID"
t_eq "the listener got the binary packet" 1 "$(grep -c '"payload":"AAEC/w==","payload_encoding":"base64"' "$T_DIR/bob2.out")"
t_check "the bad destination: its error and the SDK's text" grep -q \
	'^{"line":2,"op":"send","tag":"r2","ok":false,"error":"not a valid cascade address","code":-3,"text":"send to no such/address: destination \\"no such/address\\" is not a valid address' \
	"$T_DIR/r.out"
t_check "flush: custody" grep -q '^{"line":3,"op":"flush","tag":"f","ok":true,"state":"custody"}$' "$T_DIR/r.out"
t_check "bad base64 is bad input" grep -q \
	'^{"line":4,"op":"send","ok":false,"error":"bad input","text":"stdin line 4: \\"payload_b64\\" is not base64"}$' \
	"$T_DIR/r.out"
t_check "so is a ttl that is not a number" grep -q \
	'^{"line":5,"op":"send","ok":false,"error":"bad input","text":"stdin line 5: \\"ttl\\" must be a number of milliseconds"}$' \
	"$T_DIR/r.out"
t_check "a reply to a packet this session never got" grep -q \
	'^{"line":6,"op":"reply","ok":false,"error":"[^"]*","code":-14,"text":"reply to 01a23c0a961b-75a1572a33c7296a4e08: not one of the last 10000 packets received in this session, or answered already"}$' \
	"$T_DIR/r.out"
rid=$(sed -n 's/^{"line":1,"op":"send","tag":"r1","ok":true,"id":"\([0-9a-f-]*\)".*/\1/p' "$T_DIR/r.out")
t_check "the receipt of the send came before the end ($rid)" grep -q \
	"^{\"event\":\"receipt\",\"id\":\"$rid\",\"notice\":\"delivered\"" "$T_DIR/r.out"
t_eq "six results" 6 "$(grep -c '^{"line":' "$T_DIR/r.out")"
t_check "custody of the send comes before the flush's result" awk '
	/^{"event":"custody","line":1,"tag":"r1",.*"ok":true}$/ { c = NR }
	/^{"line":3,"op":"flush"/ { f = NR }
	END { exit !(c > 0 && c < f) }' "$T_DIR/r.out"

# 4. cancel: a packet for carol (no session: it waits in her inbox at the
# city), then a cancel line with its id, once its result gave the id; with
# a state directory (the outbox on disk)
mkfifo "$T_DIR/c.in"
cli cy alice -T 20 -S "$T_DIR/alice-state" batch <"$T_DIR/c.in" >"$T_DIR/c.out" 2>"$T_DIR/c.err" &
CPID=$!
exec 4>"$T_DIR/c.in"
printf '%s\n' '{"op":"send","dst":"fj-xm/carol","command":"t.c","payload":"x","tag":"c1"}' \
	'{"op":"flush"}' >&4
t_wait_for "custody of the packet for carol" 10 grep -q '^{"line":2,"op":"flush","ok":true' \
	"$T_DIR/c.out"
cid=$(sed -n 's/^{"line":1,"op":"send","tag":"c1","ok":true,"id":"\([0-9a-f-]*\)".*/\1/p' \
	"$T_DIR/c.out")
printf '{"op":"cancel","id":"%s","tag":"k"}\n' "$cid" >&4
t_wait_for "the cancel's outcome: cancelled ($cid)" 10 grep -q \
	"^{\"event\":\"notice\",\"id\":\"$cid\",\"notice\":\"cancelled\"" "$T_DIR/c.out"
exec 4>&-
wait "$CPID"
t_eq "a batch whose cancel worked exits 0" 0 "$?"
t_check "the cancel line's result names the cancel packet" grep -q \
	'^{"line":3,"op":"cancel","tag":"k","ok":true,"id":"[0-9a-f-]*","state":"queued"}$' "$T_DIR/c.out"
t_eq "custody of the packet and of the cancel, from the state directory's outbox" 2 \
	"$(grep -c '^{"event":"custody",.*"ok":true}$' "$T_DIR/c.out")"

# 5. an answerer that collects K requests and then answers them all at once:
# while it writes K replies to bob's stdin it reads nothing, and bob writes
# a result for each reply. A batch that waited for its reader before reading
# on would fill its stdout pipe and stop reading, the answerer would fill
# bob's stdin and stop too: both blocked for good (seen: exit 124 below).
# answer_all COUNT FIFO: as answer, all replies after the COUNTth packet
answer_all() {
	local n=0 l ids=() re='^\{"event":"packet","id":"([0-9a-f-]+)".*"payload":"([^"]*)"'

	exec 3>"$2"
	while [ "$n" -lt "$1" ] && IFS= read -r l; do
		[[ $l =~ $re ]] || continue
		ids+=("${BASH_REMATCH[1]} ${BASH_REMATCH[2]}")
		n=$((n + 1))
	done
	for l in "${ids[@]}"; do
		printf '{"op":"reply","to":"%s","payload":"re:%s"}\n' "${l% *}" "${l#* }"
	done >&3
	exec 3>&-
	cat >/dev/null
}
K=${CLI_BATCH_K:-2000}
mkfifo "$T_DIR/bob2.in"
( timeout 120 "$CLI" -u "$(n_url city)" -a fj-xm/bob -s "$T_DIR/bob.secret" batch \
	<"$T_DIR/bob2.in" 2>"$T_DIR/bob2.err"; echo $? >"$T_DIR/bob2.rc" ) |
	answer_all "$K" "$T_DIR/bob2.in" &
SLOW=$!
for i in $(seq 1 "$K"); do
	printf '{"op":"request","dst":"fj-xm/bob","command":"t.ask","payload":"s-%d","tag":%d}\n' \
		"$i" "$i"
done >"$T_DIR/slow.in"
timeout 120 "$CLI" -u "$(n_url cy)" -a fj-xm-a/alice -s "$T_DIR/alice.secret" -T 60 batch \
	<"$T_DIR/slow.in" >"$T_DIR/slow.out" 2>"$T_DIR/slow.err"
t_eq "$K requests answered all at once: alice's batch exits 0" 0 "$?"
t_eq "... each answered" "$K" "$(grep -c '^{"event":"reply","line":[0-9]*,"tag":[0-9]*,"id":"[0-9a-f-]*","ok":true' "$T_DIR/slow.out")"
wait "$SLOW"
t_eq "bob's batch exits 0" 0 "$(cat "$T_DIR/bob2.rc")"

# 6. standard output that cannot be written: exit 6, said on stderr
echo '{"op":"send","dst":"fj-xm/bob","command":"t.full","payload":"x"}' |
	cli cy alice -T 20 batch >/dev/full 2>"$T_DIR/full.err"
t_eq "batch into a full disk exits 6" 6 "$?"
t_check "... and says why" grep -q '^cascade: batch: standard output: No space left on device' \
	"$T_DIR/full.err"
t_done
