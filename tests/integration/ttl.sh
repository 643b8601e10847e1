#!/bin/bash
# A packet whose ttl is shorter than an outage expires where it waits; its
# source gets an 'expired' notice; it is never delivered late.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init ttl

n_topo_city2 --proxy city --start

tc_recv_bg bob cb bob 0 -W 25
tc_recv_bg alice ca alice 0 -W 25
t_proxy_cmd link cut
t_check "alice sends one packet with a 1.5 s ttl (notices on)" \
	tc_send ca alice fj-xm-b/bob 1 -T 1500 -N
t_wait_for "it expires at the city" 10 grep -q "expired" "$T_DIR/city.log"
sleep 1
t_proxy_cmd link pass
t_wait_for "alice gets the 'expired' notice" 15 grep -q ' 1 2 ' "$T_DIR/alice.txt"
t_check "alice sends one packet without ttl" tc_send ca alice fj-xm-b/bob 1
t_wait_for "bob gets it" 15 grep -q ' 0 0 ' "$T_DIR/bob.txt"
sleep 1
t_eq "bob got only the packet without ttl" 1 "$(awk '$6 == 0' "$T_DIR/bob.txt" | wc -l)"
t_done
