#!/bin/bash
# The http endpoints driven by the real curl(1), with protobuf bodies built
# by tests/tools/pbgen: Hello/Auth, Push, Pull answer as they should; a text body,
# a wrong content type, a wrong method or path, a missing session get our
# 4xx (with a log line naming the peer); an oversized body gets libevent's
# 413, garbage its 400, and a half-sent request is closed. After each, the
# master keeps serving its other children: alice (at county A, over tcp)
# sends to bob (at county B, over tcp) through it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init http_endpoints
PBGEN=$top_builddir/tests/tools/pbgen

n_topo_pair
n_client master carol
n_http master
N_PULLWAIT[master]=8s
# session-idle 6s: the request timeout is 5 s (session-idle / 2, 5 s at least)
n_set master "session-idle 6s"; n_set master "max-packet 64k"; n_set master "max-batch 16"
n_start master ca cb
URL=$(n_http_url master)
t_check "the master says it serves http" grep -q "http: listening on $URL" "$T_DIR/master.log"

# bob takes everything for him in the background; each step sends him more
tc_recv_bg bob cb bob 0 -W 120
SENT=0
received_is() { [ "$(tc_ids "$T_DIR/bob.txt")" -eq "$1" ]; }
# others_served WHAT: alice's 10 packets reach bob through the master
others_served() {
	local out
	out=$(tc_send ca alice fj-b/bob 10 -b 5 -W 20)
	SENT=$((SENT + 10))
	t_eq "after $1: alice's packets are taken" "sent 10 acked 10" "$out"
	t_wait_for "after $1: the master still routes to bob ($SENT)" 20 received_is $SENT
}

# post ENDPOINT FILE [CURL OPTIONS]: prints the status; body in $T_DIR/out,
# headers in $T_DIR/hdr
post() {
	local ep=$1 f=$2
	shift 2
	curl -s -o "$T_DIR/out" -D "$T_DIR/hdr" -w '%{http_code}' \
		-H 'Content-Type: application/x-protobuf' --data-binary @"$f" "$@" "$URL/v1/$ep"
}
decode() { "$PBGEN" decode "$T_DIR/out"; }
header() { tr -d '\r' <"$T_DIR/hdr" | awk -v h="$1" 'tolower($0) ~ "^" tolower(h) ":" { sub(/^[^:]*: */, ""); print }'; }
logged() { grep -q "$1" "$T_DIR/master.log"; }

echo "# --- Hello, Auth"
"$PBGEN" hello -a fj/carol -K client >"$T_DIR/hello.bin"
t_eq "Hello: 200" 200 "$(post hello "$T_DIR/hello.bin")"
t_eq "Hello: the body is a protobuf" application/x-protobuf "$(header Content-Type)"
r=$(decode)
t_check "Hello: a nonce from node fj ($r)" grep -Eq '^type=hello status=OK nonce=[0-9a-f]{64} node=fj$' <<<"$r"
SN=$(t_kv "$r" nonce)
CN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
EPOCH=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
K=(-a fj/carol -s "$T_DIR/carol.secret" -N "$SN" -C "$CN")
"$PBGEN" auth "${K[@]}" -e "$EPOCH" >"$T_DIR/auth.bin"
t_eq "Auth: 200" 200 "$(post auth "$T_DIR/auth.bin")"
r=$(decode)
t_check "Auth: a session over http (carrier 2) ($r)" grep -Eq '^type=auth status=OK session=[0-9a-f]{16} carrier=2$' <<<"$r"
SESS=$(t_kv "$r" session)
t_check "the master logs the http session (a prefix of its id)" \
	logged "fj/carol: session ${SESS:0:4}\.\.\. up over http from 127.0.0.1:"
t_eq "the same Auth again (replayed): 403" 403 "$(post auth "$T_DIR/auth.bin")"
t_check "... with the reason in X-Cascade-Error" grep -q "authentication failed" <<<"$(header X-Cascade-Error)"
t_check "... the detail only in the node's log" logged "fj/carol (127.0.0.1:[0-9]*): login refused: Auth without a matching Hello"
t_check "... and a protobuf Reply saying so" grep -q "status=authentication failed" <<<"$(decode)"

echo "# --- keep-alive"
conns=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' -H 'Content-Type: application/x-protobuf' \
	--data-binary @"$T_DIR/hello.bin" "$URL/v1/hello" "$URL/v1/hello" "$URL/v1/hello")
t_eq "three requests in one curl run share one connection" "1 0 0" "${conns% }"

echo "# --- Push"
"$PBGEN" push "${K[@]}" -i "$SESS" -q 1 -e "$EPOCH" -f 1 -n 3 -t fj-b/bob >"$T_DIR/push.bin"
t_eq "Push of 3: 200" 200 "$(post push "$T_DIR/push.bin")"
t_eq "Push: all 3 acked" "type=push status=OK acked=3 rejects=0 refused=0" "$(decode)"
SENT=3
t_wait_for "bob gets carol's 3 packets" 20 received_is 3
t_eq "bob's packets came from carol" 3 "$(awk '$4 == "fj/carol"' "$T_DIR/bob.txt" | wc -l)"
"$PBGEN" push "${K[@]}" -i "$SESS" -q 2 -e "$EPOCH" -f 1 -n 3 -t fj-b/bob >"$T_DIR/resend.bin"
t_eq "the same packets resent (a new request): 200, nothing new" \
	"200 type=push status=OK acked=3 rejects=0 refused=0" "$(post push "$T_DIR/resend.bin") $(decode)"
t_eq "the same request again (a replay): 401" "401 replayed request" \
	"$(post push "$T_DIR/push.bin") $(header X-Cascade-Error | grep -o 'replayed request')"

echo "# --- Pull"
out=$(tc_send ca alice fj/carol 5 -W 20)
t_eq "alice sends carol 5" "sent 5 acked 5" "$out"
"$PBGEN" pull "${K[@]}" -i "$SESS" -q 3 -w 5000 >"$T_DIR/pull.bin"
code=$(post pull "$T_DIR/pull.bin")
r=$(decode)
t_eq "Pull: 200" 200 "$code"
t_check "Pull: alice's 5 packets, in order ($r)" grep -Eq 'status=OK epoch=[0-9a-f]{16} first=1 last=5 packets=5 ns=1,2,3,4,5$' <<<"$r"
DEPOCH=$(t_kv "$r" epoch)
# acknowledged, and nothing more: held until the 7 s wait ends, past the
# 5 s request timeout (libevent does not time out a request in hand) and
# past session-idle (a held pull is activity)
"$PBGEN" pull "${K[@]}" -i "$SESS" -q 4 -e "$DEPOCH" -k 5 -w 7000 >"$T_DIR/pull2.bin"
start=$(t_now_ms)
code=$(post pull "$T_DIR/pull2.bin")
took=$(($(t_now_ms) - start))
t_eq "an acking Pull with nothing new: 200, empty" \
	"200 type=pull status=OK epoch=$DEPOCH first=6 last=5 packets=0 ns=" "$code $(decode)"
t_check "... held for its wait (7 s), not cut by the request timeout ($took ms)" \
	test "$took" -ge 6800 -a "$took" -lt 9000
"$PBGEN" push "${K[@]}" -i "$SESS" -q 5 -e "$EPOCH" -f 4 -n 1 -t fj-b/bob >"$T_DIR/push4.bin"
t_eq "the session outlived session-idle while the pull was held" 200 "$(post push "$T_DIR/push4.bin")"
SENT=4
"$PBGEN" push "${K[@]}" -i "$SESS" -q 6 -e "$EPOCH" -f 5 -n 1 -t fj-b/bob -M >"$T_DIR/nomac.bin"
t_eq "a Push without its mac on plain http: 401" 401 "$(post push "$T_DIR/nomac.bin")"
t_eq "... X-Cascade-Error" "request mac does not match the session key" "$(header X-Cascade-Error)"
t_check "... logged with the peer" logged "fj/carol (127.0.0.1:[0-9]*): request mac does not match"
others_served "Hello, Auth, Push, Pull over http"

echo "# --- what our handlers refuse"
printf 'hello world\n' >"$T_DIR/text.bin"
t_eq "a text body: 400" 400 "$(post hello "$T_DIR/text.bin")"
t_check "... a Reply saying it is undecodable" grep -q "status=bad request error=undecodable request" <<<"$(decode)"
t_check "... X-Cascade-Error says the same" grep -q "undecodable request" <<<"$(header X-Cascade-Error)"
t_check "... and the log names the peer" logged "server: 127.0.0.1:[0-9]*: undecodable request"
others_served "a text body"

t_eq "a protobuf body as text/plain: 415" 415 "$(curl -s -o "$T_DIR/out" -D "$T_DIR/hdr" \
	-w '%{http_code}' -H 'Content-Type: text/plain' --data-binary @"$T_DIR/hello.bin" "$URL/v1/hello")"
t_check "... a one-line text reason" grep -q "^content type text/plain not taken" "$T_DIR/out"
t_eq "... as text/plain" "text/plain; charset=utf-8" "$(header Content-Type)"
t_check "... logged with the peer" logged "http: 127.0.0.1:[0-9]*: POST /v1/hello: 415 content type"
t_eq "no content type at all: 415" 415 "$(curl -s -o "$T_DIR/out" -w '%{http_code}' \
	-H 'Content-Type:' --data-binary @"$T_DIR/hello.bin" "$URL/v1/hello")"
others_served "a wrong content type"

"$PBGEN" push "${K[@]}" -i 0 -e "$EPOCH" -f 5 -n 1 -t fj-b/bob >"$T_DIR/nosess.bin"
t_eq "a Push without a session: 401" 401 "$(post push "$T_DIR/nosess.bin")"
t_eq "... X-Cascade-Error" "no such session" "$(header X-Cascade-Error)"
t_check "... a Reply with status no session" grep -q "^type=push status=no session" <<<"$(decode)"
others_served "a missing session"

t_eq "Hello on /v1/push: 400" 400 "$(post push "$T_DIR/hello.bin")"
t_check "... the path names another message" grep -q "/v1/push carries a hello request" <<<"$(header X-Cascade-Error)"
t_eq "GET /v1/push: 405" 405 "$(curl -s -o "$T_DIR/out" -D "$T_DIR/hdr" -w '%{http_code}' "$URL/v1/push")"
t_eq "... Allow: POST" POST "$(header Allow)"
t_check "... logged" logged "http: 127.0.0.1:[0-9]*: GET /v1/push: 405 method GET not allowed"
t_eq "POST /v2/push: 404" 404 "$(curl -s -o "$T_DIR/out" -w '%{http_code}' \
	-H 'Content-Type: application/x-protobuf' --data-binary @"$T_DIR/push.bin" "$URL/v2/push")"
t_check "... says which endpoints exist" grep -q "no such endpoint: /v2/push" "$T_DIR/out"
others_served "a wrong method and path"

echo "# --- what libevent refuses by itself"
# max-packet 64k x max-batch 16 + 64 KiB: 1.06 MiB at most
head -c $((2 << 20)) /dev/zero >"$T_DIR/big.bin"
t_eq "a 2 MiB body: 413" 413 "$(post push "$T_DIR/big.bin")"
t_eq "... even without waiting for 100-continue" 413 "$(post push "$T_DIR/big.bin" -H 'Expect:')"
others_served "an oversized body"

exec 5<>"/dev/tcp/127.0.0.1/${URL##*:}"
printf 'NONSENSE\r\n\r\n' >&5
IFS= read -r -t 5 line <&5
t_check "a garbage request line: 400 ($line)" grep -q "^HTTP/1.1 400" <<<"$line"
exec 5>&-
others_served "a garbage request"

exec 5<>"/dev/tcp/127.0.0.1/${URL##*:}"
printf 'POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789' >&5
start=$(t_now_ms)
got=$(timeout 15 cat <&5 | wc -c)
took=$(($(t_now_ms) - start))
exec 5>&-
t_eq "a half-sent request: closed without an answer" 0 "$got"
t_check "... after the 5 s request timeout ($took ms)" test "$took" -ge 4500 -a "$took" -lt 12000
others_served "a half-sent request"

echo "# --- session-idle"
sleep 7
t_check "carol's idle http session ended" logged "fj/carol: session ${SESS:0:4}\.\.\. ended: no request for"
t_eq "... and is gone: 401" 401 "$(post push "$T_DIR/push4.bin")"
t_check "tcp sessions do not idle out" t_not grep -q "fj-a: session .* ended" "$T_DIR/master.log"

t_check "the master never crashed" test "$(grep -c '=== .* start:' "$T_DIR/master.log")" -eq 1
t_check "bob got every packet exactly once" check_exactly_once_ids "$T_DIR/bob.txt"
t_eq "bob got them all" "$SENT" "$(tc_ids "$T_DIR/bob.txt")"
t_done
