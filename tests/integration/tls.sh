#!/bin/bash
# tls+tcp:// links: the child verifies the parent against its configured CA;
# with the wrong CA it refuses the parent and says why. Keys are P-256 (nng's
# mbedTLS 2.28 takes RSA or P-256, not Ed25519).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init tls

t_check "test PKI" n_pki "$T_DIR/pki"
t_check "another CA" n_pki "$T_DIR/other"

write_confs() {  # write_confs CAFILE
	local s=$T_DIR/link.secret
	[ -f "$s" ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$s"; chmod 600 "$s"; }
	cat >"$T_DIR/master.conf" <<CONF
node fj
role master
data-dir $T_DIR/master
sync no
listen tls+tcp://127.0.0.1:$PORT
tls-cert $T_DIR/pki/node.crt
tls-key $T_DIR/pki/node.key
child fj-xm {
    secret $s
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
    url tls+tcp://localhost:$PORT
    secret $s
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
for c in alice carol; do head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/$c.secret"; chmod 600 "$T_DIR/$c.secret"; done
PORT=$(t_free_port); CPORT=$(t_free_port)
write_confs "$T_DIR/pki/ca.crt"
t_bg master "$top_builddir/node/cascaded" -d -f "$T_DIR/master.conf"
t_wait_for "master listens" 10 t_port_open "$PORT"
t_bg county "$top_builddir/node/cascaded" -d -f "$T_DIR/county.conf"
t_wait_for "county listens" 10 t_port_open "$CPORT"
t_wait_for "link up over tls" 10 grep -q "link fj: session .* up over tcp to tls+tcp://localhost" "$T_DIR/county.log"
t_check "the master sees a tls session" grep -q "fj-xm: session .* up over tcp from 127.0.0.1:[0-9]* (tls)" "$T_DIR/master.log"

t_bg carol "$T_TCLIENT" recv -u "tcp://127.0.0.1:$PORT" -a fj/carol -s "$T_DIR/carol.secret" -n 1 -o "$T_DIR/carol.txt" -W 5
t_wait carol 10
t_check "a plain tcp client cannot speak to the tls listener" test "$T_STATUS" -ne 0

out=$("$T_TCLIENT" send -u "tcp://127.0.0.1:$CPORT" -a fj-xm/alice -s "$T_DIR/alice.secret" -t fj/carol -n 200 -b 20)
t_eq "alice's packets are taken over the tls link" "sent 200 acked 200" "$out"
t_wait_for "the master holds them" 10 grep -q "fj-xm: session" "$T_DIR/master.log"

# the wrong CA: the county refuses the master and says so
t_kill county
write_confs "$T_DIR/other/ca.crt"
t_bg county "$top_builddir/node/cascaded" -d -f "$T_DIR/county.conf"
t_wait_for "county listens" 10 t_port_open "$CPORT"
t_wait_for "the county says why" 15 grep -q "does not verify against ca $T_DIR/other/ca.crt" "$T_DIR/county.log"
t_check "no session with a parent signed by another CA" \
	test "$(grep -c "link fj: session .* up" "$T_DIR/county.log")" -eq 1
t_done
