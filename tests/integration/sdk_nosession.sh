#!/bin/bash
# Over http a request can reach a node that no longer knows the session: the
# node restarted between two requests (curl dials again on its own), or the
# http session idled out (session-idle). The node answers "no session"
# without our session key; the SDK reports CASCADE_STATE_NEW_SESSION (8)
# with the reason in cascade_last_error(), not TAKEN_OVER and not "not
# authenticated", starts a new session at once, and nothing is lost or
# delivered twice (issue 12).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init sdk_nosession
N_SYNC=yes
PEER=${SDKPEER:-$top_builddir/tests/sdk/sdkpeer}

n_node m fj master
for c in alice bob carol dan; do n_client m $c; done
n_http m
n_set m "session-idle 2s"
n_start m
t_wait_for "the node listens on http" 10 t_port_open "$HPORT_m"

peer_bg() {
	local tag=$1 mode=$2 client=$3; shift 3
	t_bg "$tag" "$PEER" "$mode" -u "$(n_http_url m)" -a "fj/$client" -s "$T_DIR/$client.secret" "$@"
}
datas() { if [ -f "$1" ]; then awk '$5 == 0' "$1" | wc -l; else echo 0; fi; }
distinct() { awk '$5 == 0 { print $1 }' "$1" | sort -u | wc -l; }
# check_new_session LOG: the state and the last error say what happened, nothing else does
check_new_session() {
	local log=$1
	t_check "state 8 (new session), naming the node and the lost session" grep -q \
		"state 8: the node at http://127.0.0.1:$HPORT_m no longer knows session .*: it restarted, or the session idled out; starting a new session" "$log"
	t_check "cascade_last_error() says the same" grep -q \
		"last error: the node at http://127.0.0.1:$HPORT_m no longer knows session" "$log"
	t_check "not taken over" t_not grep -q "state 4" "$log"
	t_check "not refused" t_not grep -q "state 5" "$log"
	t_check "not taken for a forgery" t_not grep -q "not authenticated" "$log"
	t_check "up again with a new session" \
		awk '/state 8:/ { s = 1 } s && /state 2: session/ { ok = 1 } END { exit !ok }' "$log"
}

echo "# --- 1. the node restarts between two of alice's pushes"
peer_bg bob recv bob -n 3 -o "$T_DIR/bob.txt" -S "$T_DIR/bob.state" -W 60
peer_bg alice send alice -t fj/bob -n 3 -i 4000 -S "$T_DIR/alice.state" -W 60 -v
t_wait_for "bob has alice's first packet" 20 grep -q . "$T_DIR/bob.txt"
n_stop m
n_start m
t_check "alice: all 3 in the node's custody" t_wait alice 60
t_eq "alice's exit status" 0 "$T_STATUS"
check_new_session "$T_DIR/alice.log"
t_check "bob gets all 3" t_wait bob 60
t_eq "bob's exit status" 0 "$T_STATUS"
t_eq "3 distinct packets, none twice" "3 3" "$(distinct "$T_DIR/bob.txt") $(datas "$T_DIR/bob.txt")"

echo "# --- 2. carol's http session idles out (session-idle 2s) between two pushes"
peer_bg dan recv dan -n 2 -o "$T_DIR/dan.txt" -W 60
peer_bg carol send carol -t fj/dan -n 2 -i 5000 -W 60 -v
t_check "carol: both in the node's custody" t_wait carol 60
t_eq "carol's exit status" 0 "$T_STATUS"
check_new_session "$T_DIR/carol.log"
t_check "the node ended carol's idle session" grep -q "fj/carol: session .* \(ended\|idle\)" "$T_DIR/m.log"
t_check "dan gets both" t_wait dan 60
t_eq "2 distinct packets, none twice" "2 2" "$(distinct "$T_DIR/dan.txt") $(datas "$T_DIR/dan.txt")"
t_done
