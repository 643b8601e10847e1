#!/bin/bash
# cascade(1), the command-line client, and the consultation example against
# real daemons (a master, a city, two counties): send exits 0 once the node
# has custody and prints the id; listen prints text and JSON lines (payloads
# as text or base64, the hop trace); --reply-with answers a request; receipts;
# cancel in time and too late; the environment variables; the exit codes
# (usage 1, config 2, refused 3, timeout 4, delivery failure 5); consult
# expert + clinic.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init cli
CLI=$top_builddir/client-sdk/cascade
CONSULT=$top_builddir/client-sdk/examples/consult

n_topo_city2
for c in carol clinic; do n_client ca $c; done
for c in bert dora expert; do n_client cb $c; done
n_start master city ca cb

# cli NODE CLIENT ARGS...: cascade as NODE's client CLIENT
cli() {
	local name=$1 client=$2; shift 2
	"$CLI" -u "$(n_url "$name")" -a "${N_ID[$name]}/$client" -s "$T_DIR/$client.secret" "$@"
}
# rc CMD...: runs CMD, prints its exit status (its stdout in $T_DIR/out, stderr in $T_DIR/err)
rc() { "$@" >"$T_DIR/out" 2>"$T_DIR/err"; echo $?; }
ID_RE='^[0-9a-f]{12}-[0-9a-f]{20}$'
is_id() { [[ $1 =~ $ID_RE ]]; }
# to FILE CMD...: runs CMD with its stdout and stderr in FILE
to() { local f=$1; shift; "$@" >"$f" 2>&1; }

# JSON checks: jq when there is one, else a field-by-field grep that knows
# the compact form cascade prints ("key":"value" / "key":number). CLI_NO_JQ=1
# forces the grep path.
if [ -z "${CLI_NO_JQ:-}" ] && command -v jq >/dev/null 2>&1; then
	HAVE_JQ=1
else
	HAVE_JQ=0
	echo "# no jq: checking JSON with grep"
fi
# jstr LINE KEY: the string value of top-level KEY
jstr() {
	if [ $HAVE_JQ = 1 ]; then
		jq -er --arg k "$2" '.[$k] | strings' <<<"$1"
	else
		grep -o "\"$2\":\"[^\"]*\"" <<<"$1" | head -n 1 | sed 's/^"[^"]*":"//; s/"$//'
	fi
}
# jvalid LINE: LINE is one JSON object (jq 1.6 -e passes empty input: check it)
jvalid() {
	[ -n "$1" ] || return 1
	if [ $HAVE_JQ = 1 ]; then
		jq -e 'type == "object"' <<<"$1" >/dev/null
	else
		[[ $1 == \{*\} ]]
	fi
}
# jhops LINE: hops in the trace with a node, a leg and numeric times
jhops() {
	if [ $HAVE_JQ = 1 ]; then
		jq -r '[.trace[] | select((.node | type) == "string" and (.leg == "up" or .leg == "down")
		    and (.arrived_ms | type) == "number" and (.held_ms | type) == "number")] | length' <<<"$1"
	else
		grep -o '{"node":"[a-z0-9-]*","leg":"\(up\|down\)","arrived_ms":[0-9]*,"held_ms":[0-9]*}' \
		    <<<"$1" | wc -l
	fi
}
# jnoflag LINE FLAG: LINE is an object whose flags lack FLAG
jnoflag() { jvalid "$1" && ! jflag "$1" "$2"; }
# jtrue FILTER LINE: jq's FILTER is true on LINE (jq only)
jtrue() { [ -n "$2" ] && jq -e "$1" <<<"$2" >/dev/null; }
# jflag LINE FLAG: the flags array holds FLAG
jflag() {
	[ -n "$1" ] || return 1
	if [ $HAVE_JQ = 1 ]; then
		jq -e --arg f "$2" '.flags | index($f) != null' <<<"$1" >/dev/null
	else
		grep -q "\"flags\":\[[^]]*\"$2\"" <<<"$1"
	fi
}

# 1. send: exit 0 once the node has custody, the id on stdout
t_eq "send exits 0" 0 "$(rc cli ca alice send fj-xm-b/bob test.hello "hello bob")"
id1=$(cat "$T_DIR/out")
t_check "send printed a packet id ($id1)" is_id "$id1"
t_check "and nothing else" test "$(wc -l <"$T_DIR/out")" -eq 1 -a ! -s "$T_DIR/err"
# binary payload from a file, urgent, JSON output; the environment instead of flags
head -c 3000 /dev/urandom >"$T_DIR/blob"
printf '\377\376 not utf-8' >>"$T_DIR/blob"
t_eq "send --file --urgent -j, settings from CASCADE_* variables, exits 0" 0 "$(rc env \
	CASCADE_URL="$(n_url ca)" CASCADE_ADDRESS=fj-xm-a/alice CASCADE_SECRET="$T_DIR/alice.secret" \
	"$CLI" send -j --urgent --ttl 600000 --file "$T_DIR/blob" fj-xm-b/bob test.blob)"
j2=$(cat "$T_DIR/out")
t_check "its JSON is one object" jvalid "$j2"
id2=$(jstr "$j2" id)
t_check "with the id ($id2)" is_id "$id2"
t_check "and custody true" grep -q '"custody":true' "$T_DIR/out"
# a payload from stdin, with a newline and a tab
t_eq "send --stdin exits 0" 0 "$(printf 'line one\n\tline two' | rc cli ca alice send --stdin fj-xm-b/bob test.stdin)"
id3=$(cat "$T_DIR/out")

# 2. listen --count 3 --json: three JSON lines, in order, with their payloads and traces
t_eq "listen --count 3 --json exits 0" 0 "$(rc cli cb bob listen --count 3 --json -T 20)"
t_eq "three lines" 3 "$(wc -l <"$T_DIR/out")"
mapfile -t L <"$T_DIR/out"
t_check "line 1 is a JSON object" jvalid "${L[0]}"
t_check "line 2 is a JSON object" jvalid "${L[1]}"
t_check "line 3 is a JSON object" jvalid "${L[2]}"
t_eq "line 1: the first id" "$id1" "$(jstr "${L[0]}" id)"
t_eq "line 2: the second id" "$id2" "$(jstr "${L[1]}" id)"
t_eq "line 3: the third id" "$id3" "$(jstr "${L[2]}" id)"
t_eq "src" fj-xm-a/alice "$(jstr "${L[0]}" src)"
t_eq "dst" fj-xm-b/bob "$(jstr "${L[0]}" dst)"
t_eq "command" test.hello "$(jstr "${L[0]}" command)"
t_eq "kind" data "$(jstr "${L[0]}" kind)"
t_eq "a text payload as text" "hello bob" "$(jstr "${L[0]}" payload)"
t_eq "its encoding" utf-8 "$(jstr "${L[0]}" payload_encoding)"
t_eq "a binary payload in base64" base64 "$(jstr "${L[1]}" payload_encoding)"
t_check "that decodes to the bytes sent" cmp -s "$T_DIR/blob" <(jstr "${L[1]}" payload | base64 -d)
t_check "the urgent flag" jflag "${L[1]}" urgent
t_check "no-ttl on the one sent without --ttl" jflag "${L[0]}" no-ttl
t_check "not on the one with a ttl" jnoflag "${L[1]}" no-ttl
t_check "county A -> city -> master -> city -> county B: 5 hops with times" \
	test "$(jhops "${L[0]}")" -eq 5
if [ $HAVE_JQ = 1 ]; then
	t_eq "the stdin payload, newline and tab intact" "$(printf 'line one\n\tline two')" \
		"$(jq -r .payload <<<"${L[2]}")"
	t_eq "hops in order: county A first, county B last" "fj-xm-a fj-xm-b" \
		"$(jq -r '[.trace[0].node, .trace[-1].node] | join(" ")' <<<"${L[0]}")"
	t_check "reply_to and notice are null on a plain data packet" \
		jtrue '.reply_to == null and .notice == null' "${L[0]}"
fi

# text form: ID SRC COMMAND FLAGS REF PAYLOAD, one line, escapes in the payload
t_eq "send for the text form" 0 "$(printf 'a\nb' | rc cli ca alice send --stdin fj-xm-b/bob test.text)"
idt=$(cat "$T_DIR/out")
t_eq "listen --count 1 (text) exits 0" 0 "$(rc cli cb bob listen --count 1 -T 20)"
t_eq "one text line" "$idt fj-xm-a/alice test.text no-ttl,down - a\\nb" "$(cat "$T_DIR/out")"

# standard output fails (a full disk): listen dies inside the handover, the
# packet stays with the node
t_eq "listen with a closed stdout: exit 6 at once" 6 "$(cli cb bob listen -T 10 >&- 2>&-; echo $?)"
for i in 1 2 3; do cli ca alice send fj-xm-b/bob test.out "n=$i" >/dev/null; done
t_eq "listen into /dev/full: exit 6" 6 \
	"$(cli cb bob -S "$T_DIR/bob-state" listen -T 10 >/dev/full 2>"$T_DIR/err"; echo $?)"
t_check "it says which packet stays" grep -q "standard output: .*; packet .* stays with the node" "$T_DIR/err"
t_eq "the next listen gets all three" 0 "$(rc cli cb bob -S "$T_DIR/bob-state" listen --count 3 -T 20)"
t_eq "n=1 n=2 n=3, in order" "n=1 n=2 n=3" "$(awk '{ print $6 }' "$T_DIR/out" | paste -sd ' ')"
t_check "the first one flagged as a redelivery" grep -q "^[^ ]* fj-xm-a/alice test.out no-ttl,down,redelivery - n=1$" "$T_DIR/out"

# 3. --reply-with answers requests; cascade request prints the answer
t_bg bert "$CLI" -u "$(n_url cb)" -a fj-xm-b/bert -s "$T_DIR/bert.secret" \
	listen --count 2 --reply-with 'tr a-z A-Z; printf " for %s" "$CASCADE_SRC"' -T 30
t_eq "request exits 0" 0 "$(rc cli ca alice request fj-xm-b/bert test.upper "make me loud")"
t_eq "and prints the answer" "MAKE ME LOUD for fj-xm-a/alice" "$(cat "$T_DIR/out")"
t_eq "request -j exits 0" 0 "$(rc cli ca alice request -j fj-xm-b/bert test.upper "again")"
rj=$(cat "$T_DIR/out")
t_check "request -j: one JSON object" jvalid "$rj"
if [ $HAVE_JQ = 1 ]; then
	t_eq "the reply inside, its command and payload" "test.upper.reply AGAIN for fj-xm-a/alice" \
		"$(jq -r '.reply.command + " " + .reply.payload' <<<"$rj")"
	t_eq "the reply answers the request's id" "$(jq -r .id <<<"$rj")" \
		"$(jq -r .reply.reply_to <<<"$rj")"
else
	t_check "the reply inside" grep -q '"payload":"AGAIN for fj-xm-a/alice"' "$T_DIR/out"
fi
t_check "the replying listener ends after 2" t_wait bert 20
t_eq "its exit status" 0 "$T_STATUS"
t_eq "it printed both requests" 2 "$(grep -c 'fj-xm-a/alice test.upper' "$T_DIR/bert.log")"

# send --wait-reply: the id, then the reply's payload
t_bg bert2 "$CLI" -u "$(n_url cb)" -a fj-xm-b/bert -s "$T_DIR/bert.secret" \
	listen --count 1 --reply-with 'echo pong' -T 30
t_eq "send --wait-reply exits 0" 0 "$(rc cli ca alice send --wait-reply fj-xm-b/bert test.ping ping)"
t_check "the id first" is_id "$(head -n 1 "$T_DIR/out")"
t_eq "then the reply" pong "$(sed -n 2p "$T_DIR/out")"
t_check "bert's listener ends" t_wait bert2 20

# 4. receipts: exit 0 once delivered; without a receiver, a timeout (4) after custody
t_bg dora "$CLI" -u "$(n_url cb)" -a fj-xm-b/dora -s "$T_DIR/dora.secret" listen --count 1 -T 30
t_eq "send --receipt exits 0 once dora took it" 0 \
	"$(rc cli ca alice send --receipt fj-xm-b/dora test.receipt "sign here")"
t_check "and printed the id" is_id "$(cat "$T_DIR/out")"
t_check "dora's listener ends" t_wait dora 20
t_eq "send --receipt without a receiver: exit 4" 4 \
	"$(rc cli ca alice -T 2 send --receipt fj-xm-b/dora test.receipt "nobody home")"
t_check "after custody: the id was printed" is_id "$(cat "$T_DIR/out")"
t_check "the message names the id" grep -q "cascade: send $(cat "$T_DIR/out"): no receipt from fj-xm-b/dora" "$T_DIR/err"
# dora takes it now (and the notice of the first one is not hers)
t_eq "dora gets it later" 0 "$(rc cli cb dora listen --count 1 -T 20)"
t_check "the packet that waited" grep -q "test.receipt receipt,no-ttl,down,notify - nobody home" "$T_DIR/out"

# 5. cancel: in time while carol's packet waits for bob; too late once delivered
t_eq "send with a state directory" 0 \
	"$(rc cli ca carol -S "$T_DIR/carol-state" send fj-xm-b/bob test.cancel "cancel me")"
cid=$(cat "$T_DIR/out")
t_eq "cancel in time: exit 0" 0 "$(rc cli ca carol -S "$T_DIR/carol-state" cancel "$cid")"
t_eq "prints the outcome" "$cid cancelled" "$(cat "$T_DIR/out")"
t_eq "send another" 0 "$(rc cli ca carol -S "$T_DIR/carol-state" send fj-xm-b/bob test.cancel "keep me")"
kid=$(cat "$T_DIR/out")
t_eq "bob gets only the one not cancelled" 0 "$(rc cli cb bob listen --count 1 -T 20)"
t_check "the kept one" grep -q "^$kid fj-xm-a/carol test.cancel" "$T_DIR/out"
t_eq "nothing more for bob" 0 "$(rc cli cb bob listen -T 2)"
t_check "(no output)" test ! -s "$T_DIR/out"
t_eq "cancel after delivery: exit 5" 5 "$(rc cli ca carol -S "$T_DIR/carol-state" -j cancel "$kid")"
t_check "outcome too-late" grep -q '"outcome":"too-late"' "$T_DIR/out"
t_eq "cancel without a state directory: usage, exit 1" 1 "$(rc cli ca carol cancel "$kid")"
t_eq "cancel of an id this state directory never sent: exit 2" 2 \
	"$(rc cli ca carol -S "$T_DIR/carol-state" cancel 0193f6c2a1b0-00000000000000000000)"

# 6. exit codes
t_eq "a request to an unknown node: undeliverable, exit 5" 5 \
	"$(rc cli ca alice -T 20 request fj-nowhere/x test.lost "anyone?")"
t_check "the message says so" grep -q "undeliverable" "$T_DIR/err"
t_check "naming the reason and the node that decided" grep -q "unknown node fj-nowhere (decided by fj: not below it)" "$T_DIR/err"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/wrong.secret"
chmod 600 "$T_DIR/wrong.secret"
start=$(t_now_ms)
t_eq "a wrong secret: refused, exit 3" 3 "$("$CLI" -u "$(n_url ca)" -a fj-xm-a/alice \
	-s "$T_DIR/wrong.secret" -T 20 send fj-xm-b/bob test.x x >/dev/null 2>"$T_DIR/err"; echo $?)"
t_check "well before -T (took $(($(t_now_ms) - start)) ms)" test $(($(t_now_ms) - start)) -lt 10000
t_check "one line naming the node's reason" grep -q "^cascade: fj-xm-a/alice: node at .* refused our credentials" "$T_DIR/err"
t_eq "an unknown client: exit 3" 3 "$(rc "$CLI" -u "$(n_url ca)" -a fj-xm-a/nobody \
	-s "$T_DIR/alice.secret" -T 20 listen --count 1)"
t_eq "no node listening: timeout, exit 4" 4 "$(rc "$CLI" -u "tcp://127.0.0.1:$(t_free_port)" \
	-a fj-xm-a/alice -s "$T_DIR/alice.secret" -T 1 send fj-xm-b/bob test.x x)"
t_check "the message names the node" grep -q "has not taken custody within 1 s" "$T_DIR/err"
t_eq "listen --count without packets: exit 4" 4 "$(rc cli cb dora listen --count 1 -T 1)"
chmod 644 "$T_DIR/wrong.secret"
t_eq "a secret readable by others: exit 2" 2 "$(rc "$CLI" -u "$(n_url ca)" -a fj-xm-a/alice \
	-s "$T_DIR/wrong.secret" send fj-xm-b/bob test.x x)"
t_check "naming the file" grep -q "secret file $T_DIR/wrong.secret" "$T_DIR/err"
t_eq "no url: exit 2" 2 "$(rc env -u CASCADE_URL "$CLI" -a fj-xm-a/alice -s "$T_DIR/alice.secret" send fj-xm-b/bob x)"
t_eq "missing arguments: exit 1" 1 "$(rc cli ca alice send fj-xm-b/bob)"
t_eq "a bad destination: exit 1" 1 "$(rc cli ca alice send Not/An/Address test.x)"
t_eq "an unknown command: exit 1" 1 "$(rc cli ca alice frobnicate)"
t_eq "--wait-reply with --receipt: exit 1" 1 "$(rc cli ca alice send --wait-reply --receipt fj-xm-b/bob x)"
t_eq "a payload above the limit: exit 5" 5 "$(head -c 2000000 /dev/zero | rc cli ca alice send --stdin fj-xm-b/bob test.big)"

# 7. the consultation example: an expert at county B, a clinic at county A
t_bg expert "$CONSULT" expert -u "$(n_url cb)" -a fj-xm-b/expert -s "$T_DIR/expert.secret" -n 5 -T 60
t_check "consult clinic -n 5 exits 0" to "$T_DIR/clinic.out" "$CONSULT" clinic -u "$(n_url ca)" \
	-a fj-xm-a/clinic -s "$T_DIR/clinic.secret" -t fj-xm-b/expert -n 5 -T 60
sed 's/^/# | /' "$T_DIR/clinic.out"
t_check "and ends with answered 5" grep -q "^sent 5 answered 5 lost 0 late 0$" "$T_DIR/clinic.out"
t_check "the first answer's hop trace" grep -q "the answer's way back" "$T_DIR/clinic.out"
t_check "the expert exits after 5" t_wait expert 20
t_eq "expert's exit status" 0 "$T_STATUS"
t_eq "the expert printed 5 cases" 5 "$(grep -c '^case ' "$T_DIR/expert.log")"
t_check "each from the clinic" test "$(grep -c '^case T[0-9-]* *from fj-xm-a/clinic' "$T_DIR/expert.log")" -eq 5
t_check "with its trace" test "$(grep -c '^ *1 *fj-xm-a *up ' "$T_DIR/expert.log")" -eq 5
# --quiet, two in flight, and a state directory
t_bg expert2 "$CONSULT" expert -u "$(n_url cb)" -a fj-xm-b/expert -s "$T_DIR/expert.secret" -n 20 -T 60
t_check "consult clinic -n 20 -p 4 --quiet exits 0" to "$T_DIR/clinic2.out" "$CONSULT" clinic \
	-u "$(n_url ca)" -a fj-xm-a/clinic -s "$T_DIR/clinic.secret" -t fj-xm-b/expert \
	-S "$T_DIR/clinic-state" -n 20 -p 4 -T 60 --quiet
t_eq "one count line" "sent 20 answered 20 lost 0 late 0" "$(cat "$T_DIR/clinic2.out")"
t_check "the expert exits after 20" t_wait expert2 20
t_eq "expert's exit status" 0 "$T_STATUS"
# nobody answers: the clinic says so and fails
start=$(t_now_ms)
t_check "without an expert the clinic fails" t_not to "$T_DIR/clinic3.out" "$CONSULT" clinic \
	-u "$(n_url ca)" -a fj-xm-a/clinic -s "$T_DIR/clinic.secret" -t fj-xm-b/expert -n 1 -w 1 \
	-T 30 --quiet
t_eq "and counts it lost" "sent 1 answered 0 lost 1 late 0" "$(cat "$T_DIR/clinic3.out")"
t_check "and ends once the request expired, not at -T (took $(($(t_now_ms) - start)) ms)" \
	test $(($(t_now_ms) - start)) -lt 15000
t_done
