#!/bin/bash
# Quotas along a chain (the chain benchmark's stall): county -> city ->
# province -> master, a producer at the county, a consumer at the master,
# quota-packets 300 at the master. 3000 packets go through: the master
# refuses the province's pushes for now whenever 300 of them wait there, and
# the province must push again once its 1 s hold is over, even when nothing
# new arrives to wake its link (before, a hold timer fired a little early by
# libevent's cached clock left the link waiting for good). The master's
# count of what the province holds (cascade_peer_held_packets) returns to 0
# once the consumer has acked everything.
# Then a restart: the count starts at zero (packets held from before do not
# count), their ack after the restart does not take it below zero, and new
# traffic past the quota still flows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init quota-chain

Q=300
N=3000
n_topo_chain4
MPORT=$(t_free_port)
n_set master "quota-packets $Q"
n_set master "metrics-listen 127.0.0.1:$MPORT"
for n in master province city county; do n_start "$n"; done

# held PEER: the master's cascade_peer_held_packets of PEER
held() {
	curl -sf "http://127.0.0.1:$MPORT/metrics" |
		awk -v m="cascade_peer_held_packets{peer=\"$1\"}" '$1 == m { print $2; f = 1 } END { exit !f }'
}
# in_total: the master's cascade_packets_in_total
in_total() {
	curl -sf "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "cascade_packets_in_total" { print $2 }'
}
held_is() { [ "$(held "$1")" = "$2" ]; }
# ends NAME SECS: background job NAME exits 0 within SECS
ends() { t_wait "$1" "$2" && [ "$T_STATUS" = 0 ]; }
send() { # send COUNT: the producer's packets to master/consumer, all acked
	tc_send county producer master/consumer "$1" -b 100 -W 40
}

t_wait_for "the chain is up to the master" 20 \
	grep -q "link master: session .* up over" "$T_DIR/province.log"
tc_recv_bg cons master consumer $N -W 40
t_bg prod "$T_TCLIENT" send -u "$(n_url county)" -a pv-ct-cy/producer \
	-s "$T_DIR/producer.secret" -t master/consumer -n $N -b 100 -W 40
t_check "the consumer gets all $N" ends cons 50
t_check "the producer had all $N acked" ends prod 10
t_check "exactly once, in order" check_exactly_once "$T_DIR/cons.txt" $N
t_check "the master refused the province's pushes for now on the way" \
	grep -q "server: pv (127.0.0.1:[0-9]*): push refused: quota: [0-9]* packets held here (quota-packets $Q)" \
	"$T_DIR/master.log"
t_check "the province was told to hold its pushes" \
	grep -q "link master: the parent refuses packets for now: quota exceeded; retrying in 1s" \
	"$T_DIR/province.log"
t_eq "the master took in all $N (10 times its quota)" "$N" "$(in_total)"
t_wait_for "the province's held count at the master returns to 0" 10 held_is pv 0
t_eq "the consumer holds nothing there either" 0 "$(held master/consumer)"

# ---- a restart with packets held: the count starts at zero
t_eq "100 more while the consumer is away: acked" "sent 100 acked 100" "$(send 100)"
t_wait_for "the master counts them as held for the province" 10 held_is pv 100
n_stop master
n_start master
t_wait_for "the province is back at the master" 20 \
	bash -c "grep -c 'link master: session .* up over' '$T_DIR/province.log' | grep -qx 2"
t_eq "after the restart the count starts at zero" 0 "$(held pv)"
tc_recv_bg cons2 master consumer 100 -W 30
t_check "the consumer gets the 100 held from before" ends cons2 40
t_check "exactly once" check_exactly_once "$T_DIR/cons2.txt" 100
t_wait_for "their ack leaves the count at 0 (not below)" 10 held_is pv 0
tc_recv_bg cons3 master consumer 1000 -W 60
t_eq "1000 more, past the quota again: all acked" "sent 1000 acked 1000" "$(send 1000)"
t_check "the consumer gets them" ends cons3 60
t_wait_for "and the count returns to 0" 10 held_is pv 0
t_done
