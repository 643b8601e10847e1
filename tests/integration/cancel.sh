#!/bin/bash
# Cancel: a packet still waiting (its link is cut) is removed where it waits
# and its source hears "cancelled"; one already delivered gets "too late".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init cancel

n_topo_city2 --proxy city --start
tc_recv_bg bob cb bob 0 -W 40
tc_recv_bg alice ca alice 0 -W 40

# 1. in time: the city holds it while its link is cut
t_proxy_cmd link cut
id=$(tc_send ca alice fj-xm-b/bob 1 -I | awk '/^id / { print $2 }')
t_check "alice sent a packet" test -n "$id"
t_wait_for "it waits at the city" 10 grep -q "server: fj-xm-a: session" "$T_DIR/city.log"
sleep 1
t_check "alice cancels it" tc_send ca alice fj-xm-b/bob 1 -c "$id"
t_wait_for "the city removed it" 10 grep -q "packet $id cancelled by fj-xm-a/alice" "$T_DIR/city.log"
t_proxy_cmd link pass
t_wait_for "alice hears 'cancelled'" 15 grep -q ' 1 5 ' "$T_DIR/alice.txt"

# 2. too late: bob has it already
id2=$(tc_send ca alice fj-xm-b/bob 1 -I | awk '/^id / { print $2 }')
t_wait_for "bob receives the second packet" 15 grep -q "$id2" "$T_DIR/bob.txt"
sleep 1
t_check "alice cancels it anyway" tc_send ca alice fj-xm-b/bob 1 -c "$id2"
t_wait_for "alice hears 'too late'" 15 grep -q ' 1 6 ' "$T_DIR/alice.txt"

sleep 1
t_check "bob never got the cancelled packet" t_not grep -q "$id" "$T_DIR/bob.txt"
t_check "bob never got a cancel packet" t_not grep -q ' 2 0 ' "$T_DIR/bob.txt"
t_done
