#!/bin/bash
# Mutual TLS (issue 8, item 16): with tls-ca set, the tls+tcp:// and https://
# listeners ask for a client certificate and verify it against that CA.
# openssl s_client and curl without a certificate, and with one from another
# CA, are refused (and the https refusal is logged with the address); with
# one from the right CA they get through. A child presents its certificate
# from its parent block (cert, key), a client through cascade(1) --cert /
# --key; without one the child never gets a session.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init mtls
PBGEN=$top_builddir/tests/tools/pbgen
CLI=$top_builddir/client-sdk/cascade

t_check "test PKI" n_pki "$T_DIR/pki"
t_check "another CA" n_pki "$T_DIR/other"
for f in link alice carol; do
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/$f.secret"
	chmod 600 "$T_DIR/$f.secret"
done
PORT=$(t_free_port); HPORT=$(t_free_port); CPORT=$(t_free_port)
cat >"$T_DIR/master.conf" <<CONF
node fj
role master
data-dir $T_DIR/master
sync no
listen tls+tcp://127.0.0.1:$PORT
listen https://127.0.0.1:$HPORT
tls-cert $T_DIR/pki/node.crt
tls-key $T_DIR/pki/node.key
tls-ca $T_DIR/pki/ca.crt
child fj-xm {
    secret $T_DIR/link.secret
}
client carol {
    secret $T_DIR/carol.secret
}
CONF
# county CERT_LINES: the child, over tls+tcp, with or without its certificate
county() {
	cat >"$T_DIR/county.conf" <<CONF
node fj-xm
data-dir $T_DIR/county
sync no
allow-plain yes
listen tcp://127.0.0.1:$CPORT
parent fj {
    url tls+tcp://localhost:$PORT
    secret $T_DIR/link.secret
    ca $T_DIR/pki/ca.crt
$1
    reconnect 100ms 1s
    dead-timeout 3s
}
client alice {
    secret $T_DIR/alice.secret
}
CONF
	chmod 600 "$T_DIR"/*.conf
}
county ""
t_bg master "$CASCADED" -d -f "$T_DIR/master.conf"
t_wait_for "master listens" 10 t_port_open "$PORT"
t_check "the master says it asks for client certificates" \
	grep -q "https listeners require a client certificate signed by $T_DIR/pki/ca.crt" "$T_DIR/master.log"

# s_client LISTENER_PORT [OPTIONS]: a handshake, then a second for the server to
# refuse it; its output in $T_DIR/sc.txt. Refused: an alert (OpenSSL, https) or
# the connection closed right after (nng's mbedTLS, tls+tcp, sends no alert).
s_client() {
	local port=$1
	shift
	sleep 1 | timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
		-CAfile "$T_DIR/pki/ca.crt" "$@" >"$T_DIR/sc.txt" 2>&1
	grep -q "Verify return code: 0" "$T_DIR/sc.txt" &&
		! grep -Eqi "alert|unexpected eof" "$T_DIR/sc.txt"
}
# the handshake only fails on the client's next read with TLS 1.3: ask for 1.2 (nng's too)
for l in "https $HPORT" "tls+tcp $PORT"; do
	set -- $l
	t_check "$1: the server asks for a certificate signed by our CA" \
		eval 's_client '"$2"' -tls1_2; grep -q "^Acceptable client certificate CA names" "$T_DIR/sc.txt" && grep -q "cascade test CA" "$T_DIR/sc.txt"'
	t_check "$1: s_client without a certificate is refused" t_not s_client "$2" -tls1_2
	t_check "$1: s_client with another CA's certificate is refused" \
		t_not s_client "$2" -tls1_2 -cert "$T_DIR/other/client.crt" -key "$T_DIR/other/client.key"
	t_check "$1: s_client with our CA's certificate gets through" \
		s_client "$2" -tls1_2 -cert "$T_DIR/pki/client.crt" -key "$T_DIR/pki/client.key"
done
t_check "https: the refusal is logged with the address" \
	grep -q "http: 127.0.0.1: tls handshake refused" "$T_DIR/master.log"

# curl [OPTIONS]: a Hello over https; prints the http status (000: no answer)
"$PBGEN" hello -a fj/carol -K client >"$T_DIR/hello.bin"
hello() {
	curl -s -m 10 -o /dev/null -w '%{http_code}' --cacert "$T_DIR/pki/ca.crt" \
		-H 'Content-Type: application/x-protobuf' --data-binary @"$T_DIR/hello.bin" "$@" \
		"https://localhost:$HPORT/v1/hello"
}
t_eq "curl without a certificate: no answer" 000 "$(hello)"
t_eq "curl with another CA's certificate: no answer" 000 \
	"$(hello --cert "$T_DIR/other/client.crt" --key "$T_DIR/other/client.key")"
t_eq "curl with our CA's certificate: 200" 200 \
	"$(hello --cert "$T_DIR/pki/client.crt" --key "$T_DIR/pki/client.key")"

# a child without a certificate never gets a session
t_bg county "$CASCADED" -d -f "$T_DIR/county.conf"
t_wait_for "county listens" 10 t_port_open "$CPORT"
sleep 3
t_check "a child without a certificate gets no session" \
	t_not grep -q "link fj: session .* up" "$T_DIR/county.log"
t_kill county
# with one (cert, key in its parent block) it does
county "    cert $T_DIR/pki/client.crt
    key $T_DIR/pki/client.key"
t_bg county "$CASCADED" -d -f "$T_DIR/county.conf"
t_wait_for "a child with its certificate: link up over tls" 15 \
	grep -q "link fj: session .* up over tcp to tls+tcp://localhost" "$T_DIR/county.log"
out=$("$T_TCLIENT" send -u "tcp://127.0.0.1:$CPORT" -a fj-xm/alice -s "$T_DIR/alice.secret" -t fj/carol -n 20 -b 10)
t_eq "alice's packets are taken over the link" "sent 20 acked 20" "$out"

# cascade(1) (the SDK) presents its certificate on both carriers
for u in "tls+tcp://localhost:$PORT" "https://localhost:$HPORT"; do
	t_check "cascade(1) over $u without a certificate is refused" t_not timeout 20 "$CLI" \
		-u "$u" -a fj/carol -s "$T_DIR/carol.secret" --ca "$T_DIR/pki/ca.crt" -T 3 \
		send fj/carol test.ping hello
	t_check "cascade(1) over $u with --cert / --key sends" timeout 20 "$CLI" \
		-u "$u" -a fj/carol -s "$T_DIR/carol.secret" --ca "$T_DIR/pki/ca.crt" -T 10 \
		--cert "$T_DIR/pki/client.crt" --key "$T_DIR/pki/client.key" \
		send fj/carol test.ping hello
done
t_check "the master is still running" t_alive master
t_done
