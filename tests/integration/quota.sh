#!/bin/bash
# Quotas per peer (issue 8, item 11): a client that sends to someone who does
# not take his packets can fill the node's journal for everyone. With
# quota-packets 50 its pushes are refused for now once 50 of its packets wait
# here ("quota", backpressure: it keeps the rest), while another client keeps
# getting custody; when the receiver comes and takes them, the quota frees
# and all of the flooder's packets are delivered exactly once.
# QUOTA_CONF replaces the test's directive (empty: a build without it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init quota

n_node county fj-xm-a master
for c in alice bob mallory carol; do n_client county $c; done
n_set county "${QUOTA_CONF-quota-packets 50}"
n_start county

tc_recv_bg carol county carol 20 -W 120
# bob is away: mallory's packets wait for him
t_bg mallory "$T_TCLIENT" send -u "$(n_url county)" -a fj-xm-a/mallory -s "$T_DIR/mallory.secret" \
	-t fj-xm-a/bob -n 200 -b 10 -W 120
t_wait_for "mallory's pushes are refused for now: logged" 10 \
	grep -q "server: fj-xm-a/mallory (127.0.0.1:[0-9]*): push refused: quota: 50 packets held here (quota-packets 50)" "$T_DIR/county.log"
t_check "mallory's tclient was told why" grep -q "push refused for now: quota" "$T_DIR/mallory.log"
t_check "mallory keeps the rest" t_alive mallory
out=$(tc_send county alice fj-xm-a/carol 20 -b 5 -W 10)
t_eq "alice's packets are taken meanwhile" "sent 20 acked 20" "$out"
t_check "carol gets them" t_wait carol 30
# bob comes: as he takes mallory's packets, the quota frees
tc_recv_bg bob county bob 200 -W 120
t_check "mallory: all 200 acked in the end" t_wait mallory 120
t_eq "mallory's tclient saw every packet acked" 0 "$T_STATUS"
t_check "bob: all 200 received" t_wait bob 120
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob.txt" 200
n_stop county
t_check "the refusals counted" \
	grep -Eq "server: refused since start: [0-9]+ pushes over push-rate, [1-9][0-9]* over quota" "$T_DIR/county.log"
t_done
