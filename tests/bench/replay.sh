#!/bin/bash
# make bench-replay: cascadectl replay at a city (the root here) toward its
# county fj-xm-a, REPLAY_N packets (default 20 000) that went to bob there:
#  1. toward the county that kept its journal: the time to the answer (the
#     event-log scan and the requeues) and until the county acked them all
#     as duplicates;
#  2. after the county lost its disk (stopped, data directory deleted,
#     started empty): until bob (tclient, no state) has all of them again,
#     exactly once, in order.
# REPLAY_SYNC=yes runs the nodes with sync on (default: off, as the tests).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/nodes.sh"
t_init bench_replay
CTL=$top_builddir/node/cascadectl
N=${REPLAY_N:-20000}
N_SYNC=${REPLAY_SYNC:-no}
n_node city fj-xm master
n_node county fj-xm-a
n_link county city
n_client city alice; n_client county bob
n_start city; n_start county
ctl() { local n=$1; shift; "$CTL" -f "$T_DIR/$n.conf" "$@"; }
depth0() { [ "$(ctl city queue --json | jq -r '.[] | select(.name == "child:fj-xm-a") | .depth')" = 0 ]; }

tc_recv_bg bob county bob "$N" -W 300
t_check "alice sends $N to bob" "$T_TCLIENT" send -u "$(n_url city)" -a fj-xm/alice \
	-s "$T_DIR/alice.secret" -t fj-xm-a/bob -n "$N" -b 64 -W 300
t_check "bob got $N" t_wait bob 300
ev=$(ctl city audit --json | wc -l)

t0=$(t_now_ms)
t_check "replay toward the intact county" bash -c "'$CTL' -f '$T_DIR/city.conf' replay \
	--link fj-xm-a --since -1h --json | jq -e '.requeued == $N' >/dev/null"
t1=$(t_now_ms)
t_wait_for "the county acked them all" 300 depth0
t2=$(t_now_ms)
t_eq "... as duplicates" "$N" "$(ctl county audit --json --type duplicate | wc -l)"

n_stop county
rm -rf "$T_DIR/county"
n_start county
tc_recv_bg bob2 county bob "$N" -W 300
t3=$(t_now_ms)
t_check "replay toward the county that lost its disk" bash -c "'$CTL' -f '$T_DIR/city.conf' \
	replay --link fj-xm-a --since -1h --json | jq -e '.requeued == $N' >/dev/null"
t4=$(t_now_ms)
t_check "bob got $N again" t_wait bob2 300
t5=$(t_now_ms)
t_check "exactly once each, in order" check_exactly_once "$T_DIR/bob2.txt" "$N"
echo "replay bench: $N packets, the city's event log $ev records before, sync $N_SYNC"
echo "  intact county: answer $((t1 - t0)) ms, all acked as duplicates $((t2 - t0)) ms"
echo "  lost disk: answer $((t4 - t3)) ms, all at bob again $((t5 - t3)) ms"
t_done
