#!/bin/bash
# Issue 8.18: a tls+tcp link that cannot come up says why. The master's
# certificate is for localhost; a county dials tls+tcp://127.0.0.1:PORT
# (the name is not on the certificate), then localhost with another CA. The
# county's log and the cascade client's state (-v) name the reason; through
# the SDK's API (sdkpeer) over tls+tcp:// and https:// it is the state
# CASCADE_STATE_UNTRUSTED with the reason in cascade_last_error(), not
# "connecting"; the master logs the failed handshakes it can see.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init tls_why
CASCADED=$top_builddir/node/cascaded
CLI=$top_builddir/client-sdk/cascade

t_check "test PKI" n_pki "$T_DIR/pki"
t_check "another CA" n_pki "$T_DIR/other"
for s in link alice; do head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/$s.secret"; chmod 600 "$T_DIR/$s.secret"; done
read -r PORT CPORT HPORT <<<"$(echo $(t_free_port 3))"

cat >"$T_DIR/master.conf" <<CONF
node fj
role master
data-dir $T_DIR/master
sync no
listen tls+tcp://127.0.0.1:$PORT
listen https://127.0.0.1:$HPORT
tls-cert $T_DIR/pki/node.crt
tls-key $T_DIR/pki/node.key
child fj-xm {
    secret $T_DIR/link.secret
}
client alice {
    secret $T_DIR/alice.secret
}
CONF
county() {  # county HOST CAFILE
	cat >"$T_DIR/county.conf" <<CONF
node fj-xm
data-dir $T_DIR/county
sync no
allow-plain yes
listen tcp://127.0.0.1:$CPORT
parent fj {
    url tls+tcp://$1:$PORT
    secret $T_DIR/link.secret
    ca $2
    reconnect 100ms 1s
    dead-timeout 2s
}
CONF
	chmod 600 "$T_DIR"/*.conf
}
chmod 600 "$T_DIR/master.conf"
t_bg master "$CASCADED" -d -f "$T_DIR/master.conf"
t_wait_for "master listens" 10 t_port_open "$PORT"

echo "# --- the url names an address the certificate is not for"
county 127.0.0.1 "$T_DIR/pki/ca.crt"
t_bg county "$CASCADED" -d -f "$T_DIR/county.conf"
t_wait_for "the county names the mismatch" 20 grep -q \
	"link fj: tls+tcp://127.0.0.1:$PORT: .*certificate is for localhost, the url names 127.0.0.1" \
	"$T_DIR/county.log"
t_wait_for "the master logs failed tls handshakes" 20 grep -q "tcp: tls+tcp://127.0.0.1:$PORT: .*tls handshake.* failed" "$T_DIR/master.log"
t_kill county

echo "# --- a certificate from another CA"
county localhost "$T_DIR/other/ca.crt"
t_bg county "$CASCADED" -d -f "$T_DIR/county.conf"
t_wait_for "the county says the certificate does not verify against its ca" 20 grep -q \
	"link fj: tls+tcp://localhost:$PORT: .*does not verify against ca $T_DIR/other/ca.crt" \
	"$T_DIR/county.log"
t_kill county

echo "# --- the cascade client"
t_eq "cascade gives up after -T" 4 "$("$CLI" -v -u "tls+tcp://127.0.0.1:$PORT" --ca "$T_DIR/pki/ca.crt" \
	-a fj/alice -s "$T_DIR/alice.secret" -T 8 send fj/alice test.x x >/dev/null 2>"$T_DIR/cli.err"; echo $?)"
t_check "and its state says why" grep -q "state [a-z ]*: .*certificate is for localhost, the url names 127.0.0.1" \
	"$T_DIR/cli.err"
t_check "the same client with localhost connects" "$CLI" -u "tls+tcp://localhost:$PORT" \
	--ca "$T_DIR/pki/ca.crt" -a fj/alice -s "$T_DIR/alice.secret" -T 10 send fj/alice test.x x

echo "# --- the SDK's state and cascade_last_error() (tests/sdk/sdkpeer): CASCADE_STATE_UNTRUSTED (9), not connecting"
# sdkpeer_untrusted TAG URL CAFILE REASON: a send that cannot get custody, and what the SDK said
sdkpeer_untrusted() {
	local tag=$1 url=$2 ca=$3 reason=$4
	"$PEER" send -u "$url" -C "$ca" -a fj/alice -s "$T_DIR/alice.secret" -t fj/alice -n 1 -W 7 \
		>"$T_DIR/$tag.out" 2>"$T_DIR/$tag.err"
	t_eq "$tag: no custody" "flush timed out" "$(grep -o 'flush timed out' "$T_DIR/$tag.out")"
	t_check "$tag: the state callback gets state 9 (untrusted) naming the reason" \
		grep -q "state 9: $url: .*$reason" "$T_DIR/$tag.err"
	t_check "$tag: cascade_last_error() names it" grep -q "last error: $url: .*$reason" "$T_DIR/$tag.err"
	t_check "$tag: never up" t_not grep -q "state 2:" "$T_DIR/$tag.err"
}
PEER=$top_builddir/tests/sdk/sdkpeer
sdkpeer_untrusted mismatch "tls+tcp://127.0.0.1:$PORT" "$T_DIR/pki/ca.crt" \
	"the certificate is for localhost, the url names 127.0.0.1"
sdkpeer_untrusted otherca "tls+tcp://localhost:$PORT" "$T_DIR/other/ca.crt" \
	"does not verify against ca $T_DIR/other/ca.crt"
t_wait_for "master serves https" 10 t_port_open "$HPORT"
sdkpeer_untrusted https_otherca "https://localhost:$HPORT" "$T_DIR/other/ca.crt" \
	"does not verify against ca $T_DIR/other/ca.crt"
sdkpeer_untrusted https_mismatch "https://127.0.0.1:$HPORT" "$T_DIR/pki/ca.crt" \
	"the certificate is for localhost, the url names 127.0.0.1"
t_check "the right CA and name: up" "$PEER" send -u "tls+tcp://localhost:$PORT" -C "$T_DIR/pki/ca.crt" \
	-a fj/alice -s "$T_DIR/alice.secret" -t fj/alice -n 1 -W 10

echo "# --- https: a client that does not accept the master's certificate"
t_wait_for "master serves https" 10 t_port_open "$HPORT"
t_check "curl with another CA fails" t_not curl -s -o /dev/null -m 5 --cacert "$T_DIR/other/ca.crt" \
	--resolve "localhost:$HPORT:127.0.0.1" --data-binary x "https://localhost:$HPORT/v1/hello"
t_wait_for "the master logs the client's alert" 5 grep -q \
	'http: tls handshake from 127.0.0.1 failed: it sent the alert "unknown CA"' "$T_DIR/master.log"
t_check "the master still serves https" curl -s -o /dev/null -m 5 --cacert "$T_DIR/pki/ca.crt" \
	--resolve "localhost:$HPORT:127.0.0.1" -H 'Content-Type: application/x-protobuf' \
	--data-binary x "https://localhost:$HPORT/v1/hello"
t_done
