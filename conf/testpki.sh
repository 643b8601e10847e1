#!/bin/sh
# testpki.sh DIR [HOST...] — a throwaway PKI for tests and demos: a CA, one
# server certificate for the given host names (default: localhost) and one
# client certificate (for mutual TLS: tls-ca on the listeners, cert and key
# in the child's parent block), P-256 keys (nng's mbedTLS 2.28 takes RSA or
# P-256, not Ed25519).
# Writes DIR/ca.crt, DIR/ca.key, DIR/node.crt, DIR/node.key, DIR/client.crt,
# DIR/client.key (keys 0600).
# Never use these for real traffic: the CA key sits next to its certificate.
set -e
dir=${1:?usage: testpki.sh DIR [HOST...]}
shift
[ $# -gt 0 ] || set -- localhost
mkdir -p "$dir"
umask 077
san=
for h in "$@"; do san="${san:+$san,}DNS:$h"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-keyout "$dir/ca.key" -out "$dir/ca.crt" -subj "/CN=cascade test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/node.key" -out "$dir/node.csr" -subj "/CN=$1" 2>/dev/null
printf 'subjectAltName=%s\n' "$san" >"$dir/node.ext"
openssl x509 -req -in "$dir/node.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
	-CAcreateserial -days 30 -out "$dir/node.crt" -extfile "$dir/node.ext" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/client.key" -out "$dir/client.csr" -subj "/CN=cascade test client" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$dir/client.ext"
openssl x509 -req -in "$dir/client.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
	-CAcreateserial -days 30 -out "$dir/client.crt" -extfile "$dir/client.ext" 2>/dev/null
rm -f "$dir/node.csr" "$dir/node.ext" "$dir/client.csr" "$dir/client.ext" "$dir/ca.srl"
chmod 644 "$dir/ca.crt" "$dir/node.crt" "$dir/client.crt"
echo "testpki: CA $dir/ca.crt, certificate $dir/node.crt for $*, client certificate $dir/client.crt"
