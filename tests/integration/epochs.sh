#!/bin/bash
# Epochs keep links from wedging: a client restarted with a new epoch, a city
# whose data directory was wiped, and pushes that overtake each other.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init epochs

n_topo_city2 --start

lines_over() { [ "$(tc_data "$1")" -gt "$2" ]; }

# 1. a client killed in mid-stream comes back with a new epoch
tc_recv_bg bob1 cb bob 0 -W 60
t_bg alice1 "$T_TCLIENT" send -u "$(n_url ca)" -a fj-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-xm-b/bob -n 2000 -b 5
t_wait_for "traffic flows" 20 lines_over "$T_DIR/bob1.txt" 100
t_kill alice1 KILL
t_check "the restarted client (new epoch) gets all 500 acked" tc_send ca alice fj-xm-b/bob 500 -b 20 -W 30
t_wait_for "bob has them" 30 lines_over "$T_DIR/bob1.txt" 599
t_check "no packet delivered twice" check_exactly_once_ids "$T_DIR/bob1.txt"

# 2. the city loses its disk (after everything it held was forwarded: the
# killed client's packets already taken by its county still arrive)
settled() {  # settled FILE: no new line for 2 s
	local a b
	a=$(tc_data "$1"); sleep 2; b=$(tc_data "$1")
	[ "$a" -eq "$b" ]
}
t_wait_for "the first flow has drained" 60 settled "$T_DIR/bob1.txt"
t_kill bob1
n_stop city
rm -rf "$T_DIR/city"
n_start city
tc_recv_bg bob2 cb bob 1000 -W 60
t_check "alice sends 1000 through the wiped city" tc_send ca alice fj-xm-b/bob 1000 -b 20 -W 60
t_check "bob receives them all" t_wait bob2 60
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob2.txt" 1000
t_check "the county resumed its stream at the city" grep -q "link fj-xm: session .* up" "$T_DIR/ca.log"

# 3. pushes out of order: the overtaking batch is not stored, then resent
tc_recv_bg bob3 cb bob 1000 -W 60
t_check "alice sends 1000 with every second batch overtaking" \
	tc_send ca alice fj-xm-b/bob 1000 -b 50 -r -W 60
t_check "bob receives them all" t_wait bob3 60
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob3.txt" 1000
t_done
