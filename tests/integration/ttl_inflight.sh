#!/bin/bash
# A ttl packet that is in flight on a link (pushed, not yet acked) when its ttl
# runs out is not expired by the sender: the parent may hold it already. The
# session ends before the ack arrives; the resumed session's mark says the
# parent has it, so it is delivered once and its source gets no 'expired'.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init ttl_inflight

n_topo_city2 --proxy ca --start
t_wait_for "ca's link is up" 15 grep -q "link fj-xm: session .* up" "$T_DIR/ca.log"

tc_recv_bg bob cb bob 0 -W 40
tc_recv_bg alice ca alice 0 -W 40
t_check "the link from ca delays each way by 2.5 s" t_proxy_cmd link delay 2500
t_check "alice sends one packet with a 1 s ttl (notices on)" \
	tc_send ca alice fj-xm-b/bob 1 -T 1000 -N
t_wait_for "bob gets it (the city had it before its ttl ran out)" 15 \
	grep -q ' 0 0 ' "$T_DIR/bob.txt"
# The city's ack is still on its way back: end the session before it arrives.
t_check "the link is cut before the ack reaches ca" t_proxy_cmd link cut
sleep 2
t_check "ca has not expired the packet in flight" t_not grep -q "expired" "$T_DIR/ca.log"
t_check "the link passes again" t_proxy_cmd link pass
t_wait_for "ca's link is up again" 30 \
	bash -c "[ \$(grep -c 'link fj-xm: session .* up' '$T_DIR/ca.log') -ge 2 ]"
# the resumed session acks it (mark) or resends it: give either time
sleep 2
t_eq "bob got it exactly once" 1 "$(awk '$6 == 0' "$T_DIR/bob.txt" | wc -l)"
t_eq "alice got no 'expired' notice" 0 "$(grep -c ' 1 2 ' "$T_DIR/alice.txt")"
t_check "ca never logged the packet expired" t_not grep -q "expired" "$T_DIR/ca.log"
t_done
