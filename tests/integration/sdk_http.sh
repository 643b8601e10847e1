#!/bin/bash
# libcascade's http carrier against real daemons, through tests/sdk/sdkpeer
# (the SDK's public API only): request/reply between clients at two
# counties over http:// and over https:// (verified against a test CA; a
# wrong CA gets no session and a log line), the sender's county killed and
# restarted under a client that keeps sending, then the receiver's under a
# client with a held pull (nothing lost, nothing twice, in order), a dead link (a proxy that blackholes) taken for dead and
# dialed again, and a client through an http forward proxy (tests/tools/httpproxy)
# while proxy variables in its environment point nowhere.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init sdk_http
PEER=${SDKPEER:-$top_builddir/tests/sdk/sdkpeer}
HTTPPROXY=$top_builddir/tests/tools/httpproxy

n_topo_city2
# a fresh pair of clients for each case: a handle closed right after a pull
# leaves that batch unacknowledged, and without a state directory the next
# handle of the same client would get it again (cascade.h says so)
for c in carol erin gina ivan kim; do n_client ca $c; done
for c in dan frank hank judy leo; do n_client cb $c; done
n_http ca; n_http cb
# county A also serves https:// below a path
t_check "test PKI" n_pki "$T_DIR/pki"
t_check "another CA" n_pki "$T_DIR/other"
HTTPSPORT=$(t_free_port)
n_set ca "listen https://127.0.0.1:$HTTPSPORT/cascade"
n_set ca "tls-cert $T_DIR/pki/node.crt"
n_set ca "tls-key $T_DIR/pki/node.key"
n_start master city ca cb
t_wait_for "county A listens on http" 10 t_port_open "$HPORT_ca"
t_wait_for "county A listens on https" 10 t_port_open "$HTTPSPORT"
t_wait_for "county B listens on http" 10 t_port_open "$HPORT_cb"

# peer MODE NODE CLIENT [opts]: sdkpeer as NODE's client CLIENT, over http://
peer() {
	local mode=$1 name=$2 client=$3; shift 3
	"$PEER" "$mode" -u "$(n_http_url "$name")" -a "${N_ID[$name]}/$client" \
		-s "$T_DIR/$client.secret" "$@"
}
peer_bg() {
	local tag=$1 mode=$2 name=$3 client=$4; shift 4
	t_bg "$tag" "$PEER" "$mode" -u "$(n_http_url "$name")" -a "${N_ID[$name]}/$client" \
		-s "$T_DIR/$client.secret" "$@"
}
lines() { if [ -f "$1" ]; then awk '$5 == 0' "$1" | wc -l; else echo 0; fi; }
lines_over() { [ "$(lines "$1")" -gt "$2" ]; }
distinct() { awk '$5 == 0 { print $1 }' "$1" | sort -u | wc -l; }
twice() { awk '$5 == 0 { print $1 }' "$1" | sort | uniq -d | wc -l; }
# in order per flow: the n column rises, resends of the same id aside
in_order() {
	awk '$5 == 0 { if ($1 in seen) next; seen[$1] = 1
		if ($3 + 0 <= last[$2] + 0) { printf "%s: %s after %s\n", $2, $3, last[$2]; bad = 1 }
		last[$2] = $3 } END { exit bad }' "$1"
}

# 1. request/reply between counties A and B over http (via the city)
peer_bg echo1 echo cb bob -n 20 -W 60
t_check "over http: alice's 20 requests to bob are answered" \
	peer request ca alice -t fj-xm-b/bob -n 20 -T 10000 -W 60
t_check "bob's echo answered 20" t_wait echo1 30
t_eq "echo exit status" 0 "$T_STATUS"
t_check "county A saw alice's session over http" \
	grep -q "fj-xm-a/alice: session .* up over http" "$T_DIR/ca.log"
t_check "county B saw bob's session over http" \
	grep -q "fj-xm-b/bob: session .* up over http" "$T_DIR/cb.log"

# 2. over https://, verified against the CA; a wrong CA: no session, a log line
peer_bg echo2 echo cb dan -n 5 -W 60
t_check "over https: carol's 5 requests are answered" \
	"$PEER" request -u "https://localhost:$HTTPSPORT/cascade/" -a fj-xm-a/carol \
	-s "$T_DIR/carol.secret" -C "$T_DIR/pki/ca.crt" -t fj-xm-b/dan -n 5 -T 10000 -W 30
t_check "dan's echo ends" t_wait echo2 30
t_eq "echo exit status" 0 "$T_STATUS"
t_check "county A saw carol's session over http (tls)" \
	grep -q "fj-xm-a/carol: session .* up over http .*(tls)" "$T_DIR/ca.log"
t_check "with another CA, no session" t_not "$PEER" request \
	-u "https://localhost:$HTTPSPORT/cascade" -a fj-xm-a/carol -s "$T_DIR/carol.secret" \
	-C "$T_DIR/other/ca.crt" -t fj-xm-b/dan -n 1 -T 3000 -W 5 -v >"$T_DIR/wrongca.out" 2>&1
t_check "and the log says why" grep -q \
	"https: https://localhost:$HTTPSPORT/cascade/v1/hello: the node's certificate does not verify against CA file $T_DIR/other/ca.crt" \
	"$T_DIR/wrongca.out"
t_check "no session came up" t_not grep -q "state 2:" "$T_DIR/wrongca.out"
t_check "https without a CA file: cascade_open refuses" t_not "$PEER" request \
	-u "https://localhost:$HTTPSPORT/cascade" -a fj-xm-a/carol -s "$T_DIR/carol.secret" \
	-t fj-xm-b/dan -n 1 -W 5 -v >"$T_DIR/noca.out" 2>&1
t_check "and says so" grep -q "https needs a CA file" "$T_DIR/noca.out"

# 3. county A is killed and restarted while erin keeps sending over http
peer_bg frank recv cb frank -n 300 -o "$T_DIR/frank.txt" -S "$T_DIR/frank-state" -W 120
peer_bg erin send ca erin -t fj-xm-b/frank -n 300 -i 10 -S "$T_DIR/erin-state" -W 120 -v
t_wait_for "traffic flows" 30 lines_over "$T_DIR/frank.txt" 50
n_kill9 ca
echo "# county A killed after $(lines "$T_DIR/frank.txt") received"
sleep 0.5
n_restart ca
t_check "erin: all 300 in the node's custody" t_wait erin 120
t_eq "erin's exit status" 0 "$T_STATUS"
t_check "erin's SDK saw the county go" grep -q "state 3: session lost" "$T_DIR/erin.log"
t_check "frank: all 300 received" t_wait frank 120
t_eq "frank's exit status" 0 "$T_STATUS"
t_eq "300 distinct packets" 300 "$(distinct "$T_DIR/frank.txt")"
t_eq "none handed over twice" 0 "$(twice "$T_DIR/frank.txt")"
t_check "in order" in_order "$T_DIR/frank.txt"

# 3b. hank's county restarted under him while he receives (his held pull breaks)
peer_bg hank recv cb hank -n 200 -o "$T_DIR/hank.txt" -S "$T_DIR/hank-state" -W 120 -v
peer_bg gina send ca gina -t fj-xm-b/hank -n 200 -i 10 -W 120
t_wait_for "traffic flows to hank" 30 lines_over "$T_DIR/hank.txt" 40
n_kill9 cb
sleep 0.5
n_restart cb
t_check "gina: all 200 in custody" t_wait gina 120
t_eq "gina's exit status" 0 "$T_STATUS"
t_check "hank's SDK saw his county go" grep -q "state 3: session lost" "$T_DIR/hank.log"
t_check "hank: all 200 received" t_wait hank 120
t_eq "hank's exit status" 0 "$T_STATUS"
t_eq "200 distinct packets" 200 "$(distinct "$T_DIR/hank.txt")"
t_eq "none handed over twice" 0 "$(twice "$T_DIR/hank.txt")"
t_check "in order" in_order "$T_DIR/hank.txt"

# 4. a dead link: a tcp proxy in front of county A's http port blackholes;
# the SDK's requests time out, it drops its connections and dials again
t_proxy px "$HPORT_ca"
peer_bg judy recv cb judy -n 300 -o "$T_DIR/judy.txt" -W 120
t_bg ivan "$PEER" send -u "http://127.0.0.1:$px_PORT" -a fj-xm-a/ivan -s "$T_DIR/ivan.secret" \
	-t fj-xm-b/judy -n 300 -i 20 -W 120 -v
t_wait_for "traffic flows through the tcp proxy" 30 lines_over "$T_DIR/judy.txt" 30
t_check "blackhole" t_proxy_cmd px blackhole
sleep 6
t_check "pass" t_proxy_cmd px pass
t_check "ivan: all 300 in custody" t_wait ivan 120
t_eq "ivan's exit status" 0 "$T_STATUS"
t_check "ivan's SDK took the link for dead" \
	grep -q "no answer from the node within the dead-link timeout" "$T_DIR/ivan.log"
t_check "and dropped its connections" \
	grep -q "http: dropped the connections to http://127.0.0.1:$px_PORT" "$T_DIR/ivan.log"
t_check "judy: all 300 received" t_wait judy 120
t_eq "300 distinct packets" 300 "$(distinct "$T_DIR/judy.txt")"
t_eq "none handed over twice" 0 "$(twice "$T_DIR/judy.txt")"
t_check "in order" in_order "$T_DIR/judy.txt"

# 5. through an http forward proxy (-P), with proxy variables in the
# environment pointing at a dead port: only the configured proxy is used
rm -f "$T_DIR/proxy.port"
t_bg proxy "$HTTPPROXY" -l 127.0.0.1:0 -p "$T_DIR/proxy.port"
t_wait_for "the proxy listens" 5 test -s "$T_DIR/proxy.port"
PPORT=$(cat "$T_DIR/proxy.port")
DEAD=$(t_free_port)
export http_proxy=http://127.0.0.1:$DEAD HTTP_PROXY=http://127.0.0.1:$DEAD \
	https_proxy=http://127.0.0.1:$DEAD ALL_PROXY=http://127.0.0.1:$DEAD all_proxy=http://127.0.0.1:$DEAD
peer_bg leo recv cb leo -n 100 -o "$T_DIR/leo.txt" -W 60
t_check "kim sends 100 through the proxy" \
	peer send ca kim -t fj-xm-b/leo -n 100 -P "http://127.0.0.1:$PPORT" -W 60 -v \
	2>"$T_DIR/kim.err"
t_check "leo (no -P, proxy variables set) receives all 100" t_wait leo 60
t_eq "leo's exit status" 0 "$T_STATUS"
unset http_proxy HTTP_PROXY https_proxy ALL_PROXY all_proxy
t_eq "100 distinct packets" 100 "$(distinct "$T_DIR/leo.txt")"
t_check "kim's SDK says it uses the proxy" grep -q \
	"http: requests to $(n_http_url ca) go through proxy http://127.0.0.1:$PPORT" "$T_DIR/kim.err"
for ep in hello auth push; do
	t_check "the proxy carried kim's $ep" \
		grep -q "POST $(n_http_url ca)/v1/$ep -> 200" "$T_DIR/proxy.log"
done
t_eq "the proxy carried nothing of leo's" 0 "$(grep -c "$(n_http_url cb)" "$T_DIR/proxy.log")"
t_kill proxy
t_check "with the proxy gone, kim's packets do not reach the node" t_not \
	peer send ca kim -t fj-xm-b/leo -n 1 -P "http://127.0.0.1:$PPORT" -W 3 -v \
	2>"$T_DIR/kim-noproxy.err"
t_check "and the log names the proxy" \
	grep -q "through proxy http://127.0.0.1:$PPORT" "$T_DIR/kim-noproxy.err"
t_done
