#!/bin/bash
# A cancel that reaches the destination's node while the packet is on its way
# to the receiver (a pull reply sent, its ack not back yet) is too late: the
# receiver may have it. The source hears exactly one answer, and "cancelled"
# only for a packet the receiver never gets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init cancel_inflight

n_topo_pair --start
t_proxy bobpx "$PORT_cb"
t_bg bob "$T_TCLIENT" recv -u "tcp://127.0.0.1:$bobpx_PORT" -a fj-b/bob \
	-s "$T_DIR/bob.secret" -n 0 -o "$T_DIR/bob.txt" -W 40
tc_recv_bg alice ca alice 0 -W 40
t_wait_for "bob is attached to cb" 15 grep -q "fj-b/bob: session .* up" "$T_DIR/cb.log"
sleep 1
# bob's pull is held at cb (for up to 2 s, then it pulls again at once): the
# delay starts now and the packet comes at once, so cb answers that held pull
# with it and the answer is 3 s on its way when the cancel arrives.
t_check "bob's connection delays each way by 3 s" t_proxy_cmd bobpx delay 3000
id=$(tc_send ca alice fj-b/bob 1 -I -N | awk '/^id / { print $2 }')
t_check "alice sent one packet ($id)" test -n "$id"
sleep 1
t_check "alice cancels it" tc_send ca alice fj-b/bob 1 -c "$id"
t_wait_for "alice gets an answer to the cancel" 20 grep -Eq ' 1 (5|6) ' "$T_DIR/alice.txt"
sleep 5		# time for bob's delayed pull reply, and for a second answer
answer=$(awk '$6 != 0 && ($7 == 5 || $7 == 6) { print $7 }' "$T_DIR/alice.txt" | sort -u | tr '\n' ' ' | sed 's/ $//')
got=$(awk '$6 == 0' "$T_DIR/bob.txt" | wc -l)
# Almost always the packet is in bob's delayed pull reply when the cancel
# comes (too late); if bob's pull was not held just then, the cancel wins.
# Either way the answer must match what bob got.
echo "# answer '$answer', bob got $got"
t_eq "alice got one answer" 1 "$(awk '$6 != 0 && ($7 == 5 || $7 == 6)' "$T_DIR/alice.txt" | wc -l)"
if [ "$answer" = 6 ]; then
	t_eq "'too late': bob got it exactly once" 1 "$got"
else
	t_eq "'cancelled': bob never got it" "5 0" "$answer $got"
fi
t_done
