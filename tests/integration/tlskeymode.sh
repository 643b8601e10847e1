#!/bin/bash
# A private key readable by group or others is refused like a secret file
# (issue 8, item 14): the listener's tls-key and the child's client-certificate
# key (parent block "key") at config load (cascaded -n and start-up), and the
# SDK's client-certificate key (cascade(1) --key), each naming the file and
# what to do. With mode 0600 the same files are accepted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init tlskeymode
CASCADED=$top_builddir/node/cascaded
CLI=$top_builddir/client-sdk/cascade

t_check "test PKI" n_pki "$T_DIR/pki"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/up.secret"; chmod 600 "$T_DIR/up.secret"
PORT=$(t_free_port)
cat >"$T_DIR/node.conf" <<CONF
node fj-xm
data-dir $T_DIR/data
sync no
listen tls+tcp://127.0.0.1:$PORT
tls-cert $T_DIR/pki/node.crt
tls-key $T_DIR/pki/node.key
parent fj {
    url tls+tcp://localhost:1
    secret $T_DIR/up.secret
    ca $T_DIR/pki/ca.crt
    cert $T_DIR/pki/client.crt
    key $T_DIR/pki/client.key
}
CONF
chmod 600 "$T_DIR/node.conf"
t_check "with keys of mode 0600 the config passes -n" "$CASCADED" -n -f "$T_DIR/node.conf"

# the listener's tls-key, readable by others
chmod 644 "$T_DIR/pki/node.key"
"$CASCADED" -n -f "$T_DIR/node.conf" >"$T_DIR/out" 2>&1
t_eq "a tls-key of mode 0644: -n fails" 1 $?
cat "$T_DIR/out"
t_check "the error names the line, the file and chmod 600" \
	grep -q "^$T_DIR/node.conf:6: tls-key: $T_DIR/pki/node.key: .*(mode 0644); chmod 600 it" "$T_DIR/out"
timeout 10 "$CASCADED" -d -f "$T_DIR/node.conf" >"$T_DIR/start.out" 2>&1
t_eq "start-up refuses it too" 1 $?
t_check "and says why" grep -q "tls-key: $T_DIR/pki/node.key: .*chmod 600 it" "$T_DIR/start.out"
t_check "nothing listens" t_not t_port_open "$PORT"
chmod 600 "$T_DIR/pki/node.key"

# the child's client-certificate key, readable by its group
chmod 640 "$T_DIR/pki/client.key"
"$CASCADED" -n -f "$T_DIR/node.conf" >"$T_DIR/out" 2>&1
t_eq "a parent key of mode 0640: -n fails" 1 $?
cat "$T_DIR/out"
t_check "the error names the line, the file and chmod 600" \
	grep -q "^$T_DIR/node.conf:12: key: $T_DIR/pki/client.key: .*(mode 0640); chmod 600 it" "$T_DIR/out"

# the SDK (cascade(1) --key) refuses it before connecting
out=$(timeout 20 "$CLI" -u "tls+tcp://localhost:$PORT" -a fj-xm/alice -s "$T_DIR/up.secret" \
	--ca "$T_DIR/pki/ca.crt" --cert "$T_DIR/pki/client.crt" --key "$T_DIR/pki/client.key" \
	-T 3 send fj-xm/bob test.ping hello 2>&1)
rc=$?
echo "$out"
t_check "cascade(1) with a --key of mode 0640 fails" test "$rc" -ne 0 -a "$rc" -ne 124
t_check "and names the file and chmod 600" grep -q "$T_DIR/pki/client.key: .*(mode 0640); chmod 600 it" <<<"$out"
chmod 600 "$T_DIR/pki/client.key"
t_check "with mode 0600 the config passes -n again" "$CASCADED" -n -f "$T_DIR/node.conf"
t_done
