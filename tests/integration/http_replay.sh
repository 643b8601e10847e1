#!/bin/bash
# Issue 8.4 and 8.5, driven by curl(1) as an attacker would:
# - a signed Push and a signed Pull that carol sent over plain http are
#   posted again, byte for byte: each is refused as a replay, and carol's
#   packets reach bob exactly once;
# - dave's session was made over https; its id alone must not let an
#   unsigned Push through the plain http listener; and the id is not in the
#   log in full.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init http_replay
PBGEN=$top_builddir/tests/tools/pbgen

t_check "test PKI" n_pki "$T_DIR/pki"
n_node master fj master
n_node ca fj-a
n_link ca master
n_client master carol; n_client master dave; n_client master bob; n_client ca alice
n_http master
SPORT=$(t_free_port)
n_set master "listen https://127.0.0.1:$SPORT"
n_set master "tls-cert $T_DIR/pki/node.crt"
n_set master "tls-key $T_DIR/pki/node.key"
n_start master
n_start ca
URL=$(n_http_url master)
SURL=https://localhost:$SPORT
t_wait_for "master serves https" 10 t_port_open "$SPORT"

# post BASEURL ENDPOINT FILE: prints the http status; the body goes to $T_DIR/out
post() {
	curl -s -o "$T_DIR/out" -w '%{http_code}' -m 10 --cacert "$T_DIR/pki/ca.crt" \
		--resolve "localhost:$SPORT:127.0.0.1" \
		-H 'Content-Type: application/x-protobuf' --data-binary @"$3" "$1/v1/$2"
}
decode() { "$PBGEN" decode "$T_DIR/out"; }
hexrand() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# login BASEURL CLIENT: Hello + Auth; sets K (pbgen options) and SESS
login() {
	local r sn
	"$PBGEN" hello -a "fj/$2" -K client >"$T_DIR/hello.bin"
	t_eq "$2: Hello over $1" 200 "$(post "$1" hello "$T_DIR/hello.bin")"
	r=$(decode)
	sn=$(t_kv "$r" nonce)
	K=(-a "fj/$2" -s "$T_DIR/$2.secret" -N "$sn" -C "$(hexrand 32)")
	"$PBGEN" auth "${K[@]}" -e "$EPOCH" >"$T_DIR/auth.bin"
	t_eq "$2: Auth over $1" 200 "$(post "$1" auth "$T_DIR/auth.bin")"
	r=$(decode)
	SESS=$(t_kv "$r" session)
}

tc_recv_bg bob master bob 3 -W 40

echo "# --- 8.5: replayed signed requests on plain http"
EPOCH=$(hexrand 8)
login "$URL" carol
"$PBGEN" push "${K[@]}" -i "$SESS" -e "$EPOCH" -f 1 -n 3 -t fj/bob >"$T_DIR/push.bin"
t_eq "carol's signed Push of 3" "200 acked=3" "$(post "$URL" push "$T_DIR/push.bin") $(decode | grep -o 'acked=[0-9]*')"
for i in 1 2; do
	code=$(post "$URL" push "$T_DIR/push.bin")
	t_eq "the same Push posted again ($i): refused" "401 replayed request" \
		"$code $(decode | grep -o 'replayed request' | head -n 1)"
done
t_check "the master logs the replay, naming carol" \
	grep -q "server: fj/carol (127.0.0.1:[0-9]*): .*replayed request" "$T_DIR/master.log"
"$PBGEN" pull "${K[@]}" -i "$SESS" -q 2 -w 0 >"$T_DIR/pull.bin"
t_eq "carol's signed Pull" 200 "$(post "$URL" pull "$T_DIR/pull.bin")"
t_eq "the same Pull again: refused" "401 replayed request" \
	"$(post "$URL" pull "$T_DIR/pull.bin") $(decode | grep -o 'replayed request' | head -n 1)"
t_check "bob's receiver ends" t_wait bob 40
t_eq "bob got carol's 3" 0 "$T_STATUS"
t_check "each exactly once" check_exactly_once "$T_DIR/bob.txt" 3

echo "# --- 8.4: an https session's id on the plain http listener"
EPOCH=$(hexrand 8)
login "$SURL" dave
t_check "dave has an https session ($SESS)" test -n "$SESS"
t_check "the master logs only a prefix of the session id" t_not grep -q "$SESS" "$T_DIR/master.log"
"$PBGEN" push "${K[@]}" -M -i "$SESS" -e "$EPOCH" -f 1 -n 2 -t fj/bob >"$T_DIR/nomac.bin"
code=$(post "$URL" push "$T_DIR/nomac.bin")
t_eq "an unsigned Push for it over plain http: refused" 401 "$code"
t_check "... and not acked" t_not grep -q 'acked=2' <<<"$(decode)"
t_check "the master says why" grep -q "server: fj/dave (127.0.0.1:[0-9]*): .*session .* is bound to https" \
	"$T_DIR/master.log"
"$PBGEN" push "${K[@]}" -M -i "$SESS" -q 2 -e "$EPOCH" -f 1 -n 2 -t fj/bob >"$T_DIR/tls.bin"
t_eq "over https the same session still works" "200 acked=2" \
	"$(post "$SURL" push "$T_DIR/tls.bin") $(decode | grep -o 'acked=[0-9]*')"

echo "# --- the master keeps serving"
tc_recv_bg bob2 master bob 5 -W 30
t_eq "alice sends 3 through the child" "sent 3 acked 3" "$(tc_send ca alice fj/bob 3)"
t_check "bob's receiver ends" t_wait bob2 30
t_eq "bob got dave's 2 (over https) and alice's 3" 0 "$T_STATUS"
t_check "dave's packets once each" test "$(grep -c ' fj/dave ' "$T_DIR/bob2.txt")" -eq 2
t_done
