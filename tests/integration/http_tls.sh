#!/bin/bash
# https:// links: the master serves https (libevent_openssl) with a
# certificate from a test CA; a county on transport http verifies it against
# its configured ca and its packets flow; with another CA the county refuses
# the master and says why. P-256 keys, like tls.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init http_tls

t_check "test PKI" n_pki "$T_DIR/pki"
t_check "another CA" n_pki "$T_DIR/other"

secret() {
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1"
	chmod 600 "$1"
}
for s in link alice carol; do secret "$T_DIR/$s.secret"; done
read -r PORT HPORT CPORT <<<"$(echo $(t_free_port 3))"

write_confs() {  # write_confs CAFILE
	cat >"$T_DIR/master.conf" <<CONF
node fj
role master
data-dir $T_DIR/master
sync no
allow-plain yes
listen tcp://127.0.0.1:$PORT
listen https://127.0.0.1:$HPORT/cascade
tls-cert $T_DIR/pki/node.crt
tls-key $T_DIR/pki/node.key
pull-wait 2s
child fj-xm {
    secret $T_DIR/link.secret
}
client carol {
    secret $T_DIR/carol.secret
}
CONF
	cat >"$T_DIR/county.conf" <<CONF
node fj-xm
data-dir $T_DIR/county
sync no
allow-plain yes
listen tcp://127.0.0.1:$CPORT
parent fj {
    url https://localhost:$HPORT/cascade/
    transport http
    secret $T_DIR/link.secret
    ca $1
    reconnect 100ms 1s
    dead-timeout 3s
}
client alice {
    secret $T_DIR/alice.secret
}
CONF
	chmod 600 "$T_DIR"/*.conf
}
CASCADED=$top_builddir/node/cascaded

write_confs "$T_DIR/pki/ca.crt"
t_bg master "$CASCADED" -d -f "$T_DIR/master.conf"
t_wait_for "master listens on https" 10 t_port_open "$HPORT"
t_check "the master serves its endpoints under the url's path" \
	grep -q "http: listening on https://127.0.0.1:$HPORT/cascade (endpoints /cascade/v1/...)" "$T_DIR/master.log"
t_bg county "$CASCADED" -d -f "$T_DIR/county.conf"
t_wait_for "county listens" 10 t_port_open "$CPORT"
t_wait_for "link up over https" 10 \
	grep -q "link fj: session .* up over http to https://localhost:$HPORT/cascade/" "$T_DIR/county.log"
t_check "the master sees an http session over tls" \
	grep -q "fj-xm: session .* up over http from 127.0.0.1:[0-9]* (tls)" "$T_DIR/master.log"

t_bg carol "$T_TCLIENT" recv -u "tcp://127.0.0.1:$PORT" -a fj/carol -s "$T_DIR/carol.secret" \
	-n 300 -o "$T_DIR/carol.txt" -W 60
out=$("$T_TCLIENT" send -u "tcp://127.0.0.1:$CPORT" -a fj-xm/alice -s "$T_DIR/alice.secret" \
	-t fj/carol -n 300 -b 20)
t_eq "alice's packets are taken over the https link" "sent 300 acked 300" "$out"
t_check "carol gets them" t_wait carol 60
t_eq "... all of them, once" 0 "$T_STATUS"
t_check "... in order" check_exactly_once "$T_DIR/carol.txt" 300

# curl itself: plain http to the https port gets nowhere; https with the CA works
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H 'Content-Type: application/x-protobuf' \
	--data-binary x "http://127.0.0.1:$HPORT/cascade/v1/hello")
t_eq "plain http to the https listener: no http answer" 000 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$T_DIR/pki/ca.crt" \
	-H 'Content-Type: application/x-protobuf' --data-binary x \
	"https://localhost:$HPORT/cascade/v1/hello")
t_eq "https with the CA: our 400 for a body that is no Request" 400 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$T_DIR/pki/ca.crt" \
	-H 'Content-Type: application/x-protobuf' --data-binary x "https://localhost:$HPORT/v1/hello")
t_eq "the endpoints live under the url's path only" 404 "$code"

# the wrong CA: the county refuses the master and says so
t_kill county
write_confs "$T_DIR/other/ca.crt"
t_bg county "$CASCADED" -d -f "$T_DIR/county.conf"
t_wait_for "county listens" 10 t_port_open "$CPORT"
t_wait_for "the county says why" 15 grep -q \
	"http: https://localhost:$HPORT/cascade/v1/hello: the parent's certificate does not verify against ca $T_DIR/other/ca.crt" \
	"$T_DIR/county.log"
sleep 2
t_check "no session with a parent signed by another CA" \
	test "$(grep -c "link fj: session .* up" "$T_DIR/county.log")" -eq 1
t_check "the master saw no new session" \
	test "$(grep -c "fj-xm: session .* up" "$T_DIR/master.log")" -eq 1
t_check "the county logs the reason once, not at every retry" \
	test "$(grep -c "does not verify against ca" "$T_DIR/county.log")" -eq 1
t_done
