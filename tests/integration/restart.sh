#!/bin/bash
# 10 000 packets from a client at county A to a client at county B (via the
# master) while the city node is killed with SIGKILL and restarted twice and
# the master once. Nobody else does anything: every packet arrives exactly
# once, in order, counted at the receiving client's wire.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init restart
N_SYNC=yes

n_topo_prov --start

COUNT=10000
tc_recv_bg bob cb bob $COUNT -W 240
t_bg alice "$T_TCLIENT" send -u "$(n_url ca)" -a fj-p1-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-p1-xm-b/bob -n $COUNT -b 10 -W 240

t_wait_for "traffic flows" 30 t_lines_over "$T_DIR/bob.txt" 200
n_kill9 city
echo "# city killed after $(t_lines "$T_DIR/bob.txt") received"
sleep 0.5
n_restart city
t_wait_for "traffic flows again" 60 t_lines_over "$T_DIR/bob.txt" 3000
n_kill9 city
echo "# city killed again after $(t_lines "$T_DIR/bob.txt") received"
n_restart city
t_wait_for "traffic flows once more" 60 t_lines_over "$T_DIR/bob.txt" 6000
n_kill9 master
echo "# master killed after $(t_lines "$T_DIR/bob.txt") received"
sleep 1
n_restart master

t_check "alice: all $COUNT acked by her county" t_wait alice 240
t_check "bob: all $COUNT received" t_wait bob 240
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob.txt" $COUNT
t_check "no other node restarted" test "$(grep -c '=== .* start:' "$T_DIR/ca.log")" -eq 1
t_done
