#!/bin/bash
# A storm of cascadectl retry while packets flow both ways: each retry
# rebuilds the county's tcp carrier with calls in flight (pushes and the held
# pull). An aborted call's completion could reach the loop after the old
# carrier was freed (a use-after-free in tcall_loop that ASan caught in
# cascadectl.sh); the carrier now lives until the last of its calls and
# pipe events has run. Checks: the county stays up, the link comes back,
# every packet arrives once; under --enable-sanitizers any report fails it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init retry_storm
CTL=$top_builddir/node/cascadectl

n_topo_pair --start
tc_recv_bg bobr cb bob 0
tc_recv_bg alicer ca alice 0
t_wait_for "ca's link is up" 20 grep -q "link fj: session .* up" "$T_DIR/ca.log"

t_bg alice_send "$T_TCLIENT" send -u "$(n_url ca)" -a fj-a/alice -s "$T_DIR/alice.secret" \
	-t fj-b/bob -n 3000 -b 20 -W 120
t_bg bob_send "$T_TCLIENT" send -u "$(n_url cb)" -a fj-b/bob -s "$T_DIR/bob.secret" \
	-t fj-a/alice -n 3000 -b 20 -W 120
for i in $(seq 150); do "$CTL" -f "$T_DIR/ca.conf" retry fj >/dev/null 2>&1; done
t_check "ca is alive after 150 retries" t_alive ca
t_check "alice's 3000 are acked" t_wait alice_send 120
t_check "bob's 3000 are acked" t_wait bob_send 120
t_wait_for "bob gets alice's 3000" 60 eval '[ "$(tc_ids "$T_DIR/bobr.txt")" -ge 3000 ]'
t_wait_for "alice gets bob's 3000" 60 eval '[ "$(tc_ids "$T_DIR/alicer.txt")" -ge 3000 ]'
t_check "bob: each once, in order" check_exactly_once "$T_DIR/bobr.txt" 3000
t_check "alice: each once, in order" check_exactly_once "$T_DIR/alicer.txt" 3000
t_done
