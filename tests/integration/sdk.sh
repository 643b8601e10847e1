#!/bin/bash
# libcascade against real daemons, through programs that use only its public
# API (tests/sdk/sdkpeer): request/reply between clients at two counties
# over tcp:// and tls+tcp://, late replies, undeliverable requests, a county restarted under a sending
# client, receivers killed with SIGKILL after delivery and inside their
# callback, session takeover, refused credentials, cancel, and 200 clients
# on one county.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init sdk
N_SYNC=yes
# SDKPEER: another build of sdkpeer (e.g. with -fsanitize=thread)
PEER=${SDKPEER:-$top_builddir/tests/sdk/sdkpeer}
SWARM=${SDK_SWARM:-200}

n_topo_city2
n_client ca tk
# the swarm: c001..c200 at county A, one client block each
for ((i = 1; i <= SWARM; i++)); do n_client ca "$(printf 'c%03d' $i)"; done
# county A also listens on tls+tcp://
t_check "test PKI" n_pki "$T_DIR/pki"
t_check "another CA" n_pki "$T_DIR/other"
TLSPORT=$(t_free_port)
n_set ca "listen tls+tcp://127.0.0.1:$TLSPORT"
n_set ca "tls-cert $T_DIR/pki/node.crt"
n_set ca "tls-key $T_DIR/pki/node.key"
n_start master city ca cb

# peer MODE NODE CLIENT [opts]: sdkpeer as NODE's client CLIENT
peer() {
	local mode=$1 name=$2 client=$3; shift 3
	"$PEER" "$mode" -u "$(n_url "$name")" -a "${N_ID[$name]}/$client" \
		-s "$T_DIR/$client.secret" "$@"
}
peer_bg() {
	local tag=$1 mode=$2 name=$3 client=$4; shift 4
	t_bg "$tag" "$PEER" "$mode" -u "$(n_url "$name")" -a "${N_ID[$name]}/$client" \
		-s "$T_DIR/$client.secret" "$@"
}
lines() { if [ -f "$1" ]; then awk '$5 == 0' "$1" | wc -l; else echo 0; fi; }
lines_over() { [ "$(lines "$1")" -gt "$2" ]; }
# distinct data ids in a recv file
distinct() { awk '$5 == 0 { print $1 }' "$1" | sort -u | wc -l; }
# ids handed over twice without the redelivery flag (must be none)
unflagged_twice() { awk '$5 == 0 && $4 !~ /R/ { print $1 }' "$1" | sort | uniq -d | wc -l; }
flagged() { awk '$5 == 0 && $4 ~ /R/' "$1" | wc -l; }
# in order per flow: the n column rises, resends of the same id aside
in_order() {
	awk '$5 == 0 { if ($1 in seen) next; seen[$1] = 1
		if ($3 + 0 <= last[$2] + 0) { printf "%s: %s after %s\n", $2, $3, last[$2]; bad = 1 }
		last[$2] = $3 } END { exit bad }' "$1"
}

# 1. request/reply between counties A and B (via the master)
peer_bg echo1 echo cb bob -n 20 -W 60
t_check "alice's 20 requests to bob are answered" \
	peer request ca alice -t fj-xm-b/bob -n 20 -T 10000 -W 60
t_check "bob's echo answered 20" t_wait echo1 30
t_eq "echo exit status" 0 "$T_STATUS"

# a reply after its request timed out reaches the packet callback, flagged late
# (one request: a second would wait behind the slow first and expire)
peer_bg echo2 echo cb bob -n 1 -D 1500 -W 60
t_check "a request times out, its answer comes later, flagged late" \
	peer request ca alice -t fj-xm-b/bob -n 1 -T 600 -L -W 60
t_check "bob's slow echo ends" t_wait echo2 30

# over tls+tcp://, verified against the CA; a wrong CA gets no session, and a log line
peer_bg echo3 echo cb bob -n 5 -W 60
t_check "over tls+tcp: alice's 5 requests are answered" \
	"$PEER" request -u "tls+tcp://localhost:$TLSPORT" -a fj-xm-a/alice -s "$T_DIR/alice.secret" \
	-C "$T_DIR/pki/ca.crt" -t fj-xm-b/bob -n 5 -T 10000 -W 30
t_check "bob's echo ends" t_wait echo3 30
t_check "county A saw alice over tls" grep -q "fj-xm-a/alice: session .* up over tcp from .* (tls)" "$T_DIR/ca.log"
t_check "with another CA, no session" t_not "$PEER" request -u "tls+tcp://localhost:$TLSPORT" \
	-a fj-xm-a/alice -s "$T_DIR/alice.secret" -C "$T_DIR/other/ca.crt" -t fj-xm-b/bob -n 1 \
	-T 5000 -W 7 -v >"$T_DIR/wrongca.out" 2>&1
t_check "and the log says why" grep -q "certificate (localhost, issued by cascade test CA) does not verify against ca $T_DIR/other/ca.crt" "$T_DIR/wrongca.out"

# nobody routes fj-nowhere: the request ends undeliverable, not by timeout
t_check "a request to an unknown node ends undeliverable" \
	peer request ca alice -t fj-nowhere/x -n 1 -T 20000 -X -W 30

# 2. county A (alice's node) is killed and restarted while alice keeps sending
rm -f "$T_DIR/bob2.txt"
peer_bg bob2 recv cb bob -n 300 -o "$T_DIR/bob2.txt" -S "$T_DIR/bob-state" -W 120
peer_bg alice2 send ca alice -t fj-xm-b/bob -n 300 -i 10 -W 120
t_wait_for "traffic flows" 30 lines_over "$T_DIR/bob2.txt" 50
n_kill9 ca
echo "# county A killed after $(lines "$T_DIR/bob2.txt") received"
sleep 0.5
n_restart ca
t_check "alice: all 300 in the node's custody" t_wait alice2 120
t_eq "alice's exit status" 0 "$T_STATUS"
t_check "bob: all 300 received" t_wait bob2 120
t_eq "bob's exit status" 0 "$T_STATUS"
t_eq "300 distinct packets" 300 "$(distinct "$T_DIR/bob2.txt")"
t_eq "none handed over twice" 0 "$(awk '$5 == 0 { print $1 }' "$T_DIR/bob2.txt" | sort | uniq -d | wc -l)"
t_check "in order" in_order "$T_DIR/bob2.txt"

# 2b. a dead link (a proxy that blackholes, then resets mid-frame) between
# alice and her county: the SDK takes it for dead, dials again, loses nothing
t_proxy px "$PORT_ca"
rm -f "$T_DIR/bob2b.txt"
peer_bg bob2b recv cb bob -n 400 -o "$T_DIR/bob2b.txt" -W 120
t_bg alice2b "$PEER" send -u "tcp://127.0.0.1:$px_PORT" -a fj-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-xm-b/bob -n 400 -i 25 -W 120 -v
t_wait_for "traffic flows through the proxy" 30 lines_over "$T_DIR/bob2b.txt" 30
t_check "blackhole" t_proxy_cmd px blackhole
sleep 6
t_check "pass" t_proxy_cmd px pass
t_wait_for "traffic flows again" 30 lines_over "$T_DIR/bob2b.txt" 220
# alice is still sending: her connection, and new ones, are reset mid-frame
t_check "reset mid-frame" t_proxy_cmd px reset-after 300
sleep 1
t_check "pass" t_proxy_cmd px pass
t_check "alice: all 400 in custody" t_wait alice2b 120
t_eq "alice's exit status" 0 "$T_STATUS"
t_check "alice's SDK took the link for dead" grep -q "no answer from the node within the dead-link timeout" "$T_DIR/alice2b.log"
t_check "the resets cost alice her session too" \
	test "$(grep -c 'state 3: session lost' "$T_DIR/alice2b.log")" -ge 2
t_check "bob: all 400 received" t_wait bob2b 120
t_eq "400 distinct packets" 400 "$(distinct "$T_DIR/bob2b.txt")"
t_eq "none handed over twice" 0 "$(awk '$5 == 0 { print $1 }' "$T_DIR/bob2b.txt" | sort | uniq -d | wc -l)"
t_check "in order" in_order "$T_DIR/bob2b.txt"

# 3a. bob killed with SIGKILL after the node logged his packets delivered
# (alice's receipts say so), then restarted on his state directory
rm -f "$T_DIR/bob3.txt"
peer_bg bob3 recv cb bob -n 100 -o "$T_DIR/bob3.txt" -S "$T_DIR/bob-state" -W 120
t_check "alice sends 50 with receipts and gets all 50 receipts" \
	peer send ca alice -t fj-xm-b/bob -n 50 -R -W 60
t_kill bob3 KILL
t_eq "bob got the 50 before the kill" 50 "$(distinct "$T_DIR/bob3.txt")"
peer_bg bob3b recv cb bob -n 100 -o "$T_DIR/bob3.txt" -S "$T_DIR/bob-state" -W 120
t_check "alice sends 50 more" peer send ca alice -t fj-xm-b/bob -n 50 -W 60
t_check "restarted bob receives the rest" t_wait bob3b 60
t_eq "restarted bob's exit status" 0 "$T_STATUS"
t_eq "100 distinct packets" 100 "$(distinct "$T_DIR/bob3.txt")"
t_eq "nothing delivered twice" 100 "$(awk '$5 == 0' "$T_DIR/bob3.txt" | wc -l)"

# 3a'. killed at an arbitrary moment of a stream: nothing lost, nothing twice
# (a kill that lands inside the callback may leave one flagged redelivery)
rm -f "$T_DIR/bob4.txt"
peer_bg bob4 recv cb bob -n 400 -o "$T_DIR/bob4.txt" -S "$T_DIR/bob-state" -W 120
peer_bg alice4 send ca alice -t fj-xm-b/bob -n 400 -i 3 -W 120
t_wait_for "traffic flows" 30 lines_over "$T_DIR/bob4.txt" 150
t_kill bob4 KILL
echo "# bob killed after $(lines "$T_DIR/bob4.txt") lines"
peer_bg bob4b recv cb bob -n 400 -o "$T_DIR/bob4.txt" -S "$T_DIR/bob-state" -W 120
t_check "alice: all 400 in custody" t_wait alice4 120
t_check "restarted bob receives all 400" t_wait bob4b 120
t_eq "restarted bob's exit status" 0 "$T_STATUS"
t_eq "400 distinct packets" 400 "$(distinct "$T_DIR/bob4.txt")"
t_eq "no packet handed over twice unflagged" 0 "$(unflagged_twice "$T_DIR/bob4.txt")"
t_check "at most one flagged redelivery" test "$(flagged "$T_DIR/bob4.txt")" -le 1

# 3b. bob dies (SIGKILL) inside his callback at the 10th packet: after the
# restart that packet comes once more, flagged, and nothing else twice
rm -f "$T_DIR/bob5.txt"
peer_bg bob5 recv cb bob -n 30 -o "$T_DIR/bob5.txt" -S "$T_DIR/bob-state" -K 10 -W 60
t_check "alice sends 30" peer send ca alice -t fj-xm-b/bob -n 30 -W 60
t_wait bob5 30
t_eq "bob died by SIGKILL" 137 "$T_STATUS"
t_eq "bob saw 10 before dying" 10 "$(lines "$T_DIR/bob5.txt")"
peer_bg bob5b recv cb bob -n 30 -o "$T_DIR/bob5.txt" -S "$T_DIR/bob-state" -W 60
t_check "restarted bob receives the rest" t_wait bob5b 60
t_eq "restarted bob's exit status" 0 "$T_STATUS"
t_eq "30 distinct packets" 30 "$(distinct "$T_DIR/bob5.txt")"
t_eq "exactly one flagged redelivery" 1 "$(flagged "$T_DIR/bob5.txt")"
tenth=$(awk '$5 == 0 { n++; if (n == 10) print $1 }' "$T_DIR/bob5.txt")
t_eq "the redelivery is the 10th packet" "$tenth" "$(awk '$5 == 0 && $4 ~ /R/ { print $1 }' "$T_DIR/bob5.txt")"
t_eq "31 handed over in all" 31 "$(lines "$T_DIR/bob5.txt")"
t_eq "no packet twice unflagged" 0 "$(unflagged_twice "$T_DIR/bob5.txt")"

# 4. one session per client: the second program takes over, the first steps back
t_check "a second session takes over; the first is told and does not fight" \
	peer takeover ca tk -W 30
t_check "the node logged the takeover" grep -q "fj-xm-a/tk: session .* ended: taken over" "$T_DIR/ca.log"

# 5. a wrong secret is refused, and said so
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/wrong.secret"
chmod 600 "$T_DIR/wrong.secret"
t_check "a wrong secret ends in CASCADE_STATE_REFUSED" \
	"$PEER" refused -u "$(n_url ca)" -a fj-xm-a/alice -s "$T_DIR/wrong.secret" -W 20

# 6. cancel: in time while bob is away; too late once he took it
t_check "a packet waiting for bob is cancelled: CANCELLED notice" \
	peer cancel ca alice -t fj-xm-b/bob -W 30
rm -f "$T_DIR/bob6.txt"
peer_bg bob6 recv cb bob -n 1 -o "$T_DIR/bob6.txt" -W 30
t_check "a delivered packet cannot be cancelled: CANCEL_TOO_LATE notice" \
	peer cancel ca alice -t fj-xm-b/bob -L -W 30
t_check "bob's receiver ends" t_wait bob6 30
t_eq "bob got only the packet that was not cancelled" 1 "$(lines "$T_DIR/bob6.txt")"

# 7. 200 clients on one county, each sending 5 to the next and receiving 5
t_check "$SWARM clients at county A each send 5 and receive 5" \
	"$PEER" swarm -u "$(n_url ca)" -N fj-xm-a -d "$T_DIR" -c "$SWARM" -n 5 -W 120
t_done
