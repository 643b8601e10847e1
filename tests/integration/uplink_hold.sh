#!/bin/bash
# The uplink's hold after "refused for now": a county's packets for a client
# of the master who is away fill the county's quota there (quota-packets 20),
# so the master refuses the county's pushes for now and the county's link
# holds them for a second. When the client comes and takes them, the link
# must push the rest on its own (10 a push, max-batch 10: ten holds or so),
# with no new packet arriving to wake it:
# once the timer fired a little before the hold was over (libevent's cached
# clock) and the link never pushed again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init uplink_hold

n_node master master master
n_node county fj-xm-a
n_link county master
n_client master bob
n_client county alice
n_set master "quota-packets 20"
n_set county "max-batch 10"
n_start master
n_start county

out=$(tc_send county alice master/bob 200 -b 10 -W 30)
t_eq "the county takes all 200" "sent 200 acked 200" "$out"
t_wait_for "the master refuses the county's pushes for now" 20 \
	grep -q "link master: the parent refuses packets for now: quota exceeded; retrying in 1s" \
	"$T_DIR/county.log"
# bob comes: each time he takes what waits at the master, the county's next
# push after its hold brings the next 20
tc_recv_bg bob master bob 200 -W 90
t_check "bob's tclient ends" t_wait bob 100
t_eq "bob: all 200 received" 200 "$(wc -l <"$T_DIR/bob.txt")"
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob.txt" 200
t_eq "nothing left in the county's up queue" 0 \
	"$("$top_builddir/node/cascadectl" -f "$T_DIR/county.conf" queue | awk '$1 == "up" { print $3 }')"
n_stop county
n_stop master
t_done
