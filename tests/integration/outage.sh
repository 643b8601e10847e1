#!/bin/bash
# Link outages: the city's link to the master runs through the fault proxy.
# A blackhole longer than the dead-link timeout, then healing; then the
# master stopped (SIGSTOP) and continued. Packets keep their guarantees and
# the city reconnects by itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init outage
N_DEAD=2s

n_topo_city2 --proxy city --start

sessions_up() { grep -c "link fj: session .* up" "$T_DIR/city.log"; }
sessions_over() { [ "$(sessions_up)" -gt "$1" ]; }

# 1. blackhole for longer than the dead-link timeout, then heal
tc_recv_bg bob1 cb bob 3000 -W 120
t_bg alice1 "$T_TCLIENT" send -u "$(n_url ca)" -a fj-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-xm-b/bob -n 3000 -b 5 -W 120
t_wait_for "traffic flows" 30 t_lines_over "$T_DIR/bob1.txt" 100
before=$(sessions_up)
t_proxy_cmd link blackhole
echo "# blackhole after $(t_lines "$T_DIR/bob1.txt") received"
sleep 5
t_check "the city noticed the dead link" grep -q "session lost" "$T_DIR/city.log"
t_proxy_cmd link pass
t_wait_for "the city reconnects by itself" 20 sessions_over "$before"
t_check "alice: all acked" t_wait alice1 120
t_check "bob: all received" t_wait bob1 120
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob1.txt" 3000
stats=$(t_proxy_cmd link stats)
t_check "traffic went through the proxy" test "$(t_kv "$stats" up)" -gt 100000

# 2. the master stopped and continued
tc_recv_bg bob2 cb bob 3000 -W 120
t_bg alice2 "$T_TCLIENT" send -u "$(n_url ca)" -a fj-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-xm-b/bob -n 3000 -b 5 -W 120
t_wait_for "traffic flows" 30 t_lines_over "$T_DIR/bob2.txt" 100
before=$(sessions_up)
kill -STOP "$(t_pid master)"
echo "# master stopped after $(t_lines "$T_DIR/bob2.txt") received"
sleep 5
kill -CONT "$(t_pid master)"
t_wait_for "the city is back in session" 20 sessions_over "$before"
t_check "alice: all acked" t_wait alice2 120
t_check "bob: all received" t_wait bob2 120
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob2.txt" 3000
t_done
