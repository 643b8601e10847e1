#!/bin/bash
# The push rate per peer (issue 8, item 11, its request-rate part): a client
# that floods the node with small pushes is answered "refused: rate limit"
# once over push-rate, as backpressure: it keeps its packets and sends them
# again, so all of them are delivered exactly once, later. Another client
# keeps getting custody at its own pace meanwhile. Refusals are logged with
# the peer (one a second) and counted.
# PUSHRATE_CONF replaces the test's directive (empty: a build without it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init pushrate

n_node county fj-xm-a master
for c in alice bob mallory carol; do n_client county $c; done
n_set county "${PUSHRATE_CONF-push-rate 20}"
n_start county

tc_recv_bg bob county bob 2000 -W 120
tc_recv_bg carol county carol 100 -W 120
# mallory: 2000 packets, 5 to a push, as fast as the node takes them
t_bg mallory "$T_TCLIENT" send -u "$(n_url county)" -a fj-xm-a/mallory -s "$T_DIR/mallory.secret" \
	-t fj-xm-a/bob -n 2000 -b 5 -W 120
sleep 1
start=$(t_now_ms)
out=$(tc_send county alice fj-xm-a/carol 100 -b 10 -W 30)
ms=$(($(t_now_ms) - start))
t_eq "alice's 100 packets are taken meanwhile" "sent 100 acked 100" "$out"
t_check "within 3 s ($ms ms)" test "$ms" -le 3000
t_check "mallory is still at it" t_alive mallory
t_check "mallory's pushes refused for now: logged with the peer" \
	grep -q "server: fj-xm-a/mallory (127.0.0.1:[0-9]*): push refused: rate limit (push-rate 20 a second)" "$T_DIR/county.log"
t_check "mallory's tclient was told why" grep -q "push refused for now: rate limit" "$T_DIR/mallory.log"
t_check "mallory: all 2000 acked in the end" t_wait mallory 120
t_eq "mallory's tclient saw every packet acked" 0 "$T_STATUS"
t_check "bob: all 2000 received" t_wait bob 120
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob.txt" 2000
t_check "carol: alice's 100" t_wait carol 60
n_stop county
t_check "the refusals counted" \
	grep -Eq "server: refused since start: [1-9][0-9]* pushes over push-rate" "$T_DIR/county.log"
t_done
