#!/bin/bash
# demo.sh — `make demo`: a small cascade on loopback, a consultation sent and
# answered, a node killed in the middle of a burst, and the master's audit.
#
#   master fj  <-tls+tcp-  province fj-p  <-http-  city fj-p-xm  <-tcp-  county fj-p-xm-a (clinic)
#                                 (expert)                      <-tcp-  county fj-p-xm-b
#
# Everything lives in a throwaway directory that is removed at the end
# (DEMO_KEEP=1 keeps it). Needs the built tree: make demo builds it first.
set -u
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
CASCADED=$top_builddir/node/cascaded
CONSULT=$top_builddir/client-sdk/examples/consult
AUDIT=$top_builddir/node/cascadectl
CTL=$top_builddir/node/cascadectl
FREEPORT=$top_builddir/tests/tools/freeport
D=$(mktemp -d "${TMPDIR:-/tmp}/cascade-demo.XXXXXX")
declare -A PID=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

cleanup() {
	local n
	for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
	wait 2>/dev/null
	if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: kept $D"; else rm -rf "$D"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for f in "$CASCADED" "$CONSULT" "$AUDIT"; do
	[ -x "$f" ] || die "$f is missing: run 'make' first"
done

port() {  # a free port on 127.0.0.1 (bound, released, unlikely to be reused at once)
	if [ -x "$FREEPORT" ]; then "$FREEPORT"; else shuf -i 20000-30000 -n 1; fi
}
secret() {  # secret NAME: a 32-byte hex secret, mode 0600
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$D/$1.secret"
	echo >>"$D/$1.secret"
	chmod 600 "$D/$1.secret"
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start() {  # start NAME: cascaded -d with NAME.conf, log in NAME.log
	"$CASCADED" -d -f "$D/$1.conf" >>"$D/$1.log" 2>&1 &
	PID[$1]=$!
	local p=$2 i
	for ((i = 0; i < 100; i++)); do listening "$p" && return 0; sleep 0.1; done
	die "$1 did not start; its log:
$(tail -n 20 "$D/$1.log")"
}

say "setting up in $D"
mkdir -p "$D/pki"
sh "$top_srcdir/conf/testpki.sh" "$D/pki" localhost >/dev/null || die "test PKI failed"
for s in link-prov link-city link-ca link-cb clinic clinic-b expert; do secret "$s"; done
P_MASTER=$(port); P_PROV=$(port); P_PROV_HTTP=$(port); P_CITY=$(port); P_CA=$(port); P_CB=$(port)

common() {  # common ID DATADIR
	cat <<EOF
node $1
data-dir $D/$2
sync yes
allow-plain yes          # loopback demo: links are authenticated by HMAC, not encrypted
pull-wait 10s
EOF
}
{ common fj master; cat <<EOF
role master
listen tls+tcp://127.0.0.1:$P_MASTER
tls-cert $D/pki/node.crt
tls-key $D/pki/node.key
child fj-p {
    secret $D/link-prov.secret
    claim fj-p fj-p-*
}
EOF
} >"$D/master.conf"
{ common fj-p prov; cat <<EOF
listen tcp://127.0.0.1:$P_PROV
listen http://127.0.0.1:$P_PROV_HTTP
parent fj {
    url tls+tcp://localhost:$P_MASTER
    ca $D/pki/ca.crt
    secret $D/link-prov.secret
    reconnect 100ms 2s
    dead-timeout 5s
}
child fj-p-xm {
    secret $D/link-city.secret
    carriers http
    prefer http
    claim fj-p-xm fj-p-xm-*
}
client expert {
    secret $D/expert.secret
}
EOF
} >"$D/prov.conf"
{ common fj-p-xm city; cat <<EOF
listen tcp://127.0.0.1:$P_CITY
parent fj-p {
    url http://127.0.0.1:$P_PROV_HTTP
    transport http
    secret $D/link-city.secret
    reconnect 100ms 2s
    dead-timeout 5s
}
child fj-p-xm-a {
    secret $D/link-ca.secret
}
child fj-p-xm-b {
    secret $D/link-cb.secret
}
EOF
} >"$D/city.conf"
for c in a b; do
	pv=P_C${c^^}; cl=clinic; [ $c = b ] && cl=clinic-b
	{ common "fj-p-xm-$c" "county-$c"; cat <<EOF
listen tcp://127.0.0.1:${!pv}
parent fj-p-xm {
    url tcp://127.0.0.1:$P_CITY
    secret $D/link-c$c.secret
    reconnect 100ms 1s
    dead-timeout 5s
}
client $cl {
    secret $D/$cl.secret
}
EOF
	} >"$D/county-$c.conf"
done
chmod 600 "$D"/*.conf
for n in master prov city county-a county-b; do
	"$CASCADED" -n -f "$D/$n.conf" 2>&1 | sed 's/^/  /' || die "bad config $n.conf"
done

say "starting master, province, city and two counties"
start master "$P_MASTER"
start prov "$P_PROV"
start city "$P_CITY"
start county-a "$P_CA"
start county-b "$P_CB"
echo "  master fj        tls+tcp://127.0.0.1:$P_MASTER"
echo "  province fj-p    tcp://127.0.0.1:$P_PROV, http://127.0.0.1:$P_PROV_HTTP (expert)"
echo "  city fj-p-xm     tcp://127.0.0.1:$P_CITY   (its link to the province: http)"
echo "  counties         fj-p-xm-a (clinic) :$P_CA, fj-p-xm-b :$P_CB"

"$CONSULT" expert -u "tcp://127.0.0.1:$P_PROV" -a fj-p/expert -s "$D/expert.secret" \
	-S "$D/expert-state" -T 120 >"$D/expert.out" 2>&1 &
PID[expert]=$!

say "a township clinic asks the provincial expert"
"$CONSULT" clinic -u "tcp://127.0.0.1:$P_CA" -a fj-p-xm-a/clinic -s "$D/clinic.secret" \
	-t fj-p/expert -S "$D/clinic-state" -n 1 -T 60 | tee "$D/first.out" ||
	die "the first consultation was not answered; logs in $D (DEMO_KEEP=1)"
echo
echo "  the expert saw:"
sed 's/^/    /' "$D/expert.out"

say "a burst of 200 consultations; the city node is killed (SIGKILL) in the middle and restarted"
"$CONSULT" clinic -u "tcp://127.0.0.1:$P_CA" -a fj-p-xm-a/clinic -s "$D/clinic.secret" \
	-t fj-p/expert -S "$D/clinic-state" -n 200 -T 120 --quiet >"$D/burst.out" 2>&1 &
burst=$!
sleep 1.5
kill -KILL "${PID[city]}"
wait "${PID[city]}" 2>/dev/null
echo "  city killed; the county and the province keep their packets"
sleep 1
start city "$P_CITY"
echo "  city restarted"
wait "$burst"
rc=$?
sed 's/^/  /' "$D/burst.out" | tail -n 3
[ $rc -eq 0 ] || die "the burst lost consultations; logs in $D (DEMO_KEEP=1)"

say "what an operator sees: cascadectl links at the city, cascadectl status at a county"
"$CTL" -f "$D/city.conf" links | sed 's/^/  /'
echo
"$CTL" -f "$D/county-a.conf" status | sed 's/^/  /'

say "what the master's journal holds for the first consultation (read beside the running master)"
id=$(grep -o '[0-9a-f]\{12\}-[0-9a-f]\{20\}' "$D/first.out" | head -n 1)
if [ -n "$id" ]; then
	"$AUDIT" audit --journal "$D/master/journal" --id "$id" | sed 's/^/  /'
fi
"$AUDIT" audit verify --journal "$D/master/journal" | sed 's/^/  master event log: /'

say "stopping"
for n in expert county-a county-b city prov master; do kill "${PID[$n]}" 2>/dev/null; done
wait 2>/dev/null
PID=()
echo "  done; everything ran in $D"
