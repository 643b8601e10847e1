#!/bin/bash
# A request the tcp carrier cannot make at run time (nng_ctx_open fails,
# through the LD_PRELOAD shim tests/tools/pipeshim.c): the county says so, its
# session ends like one with no reply, the link comes back by itself, and no
# packet is lost or repeated. Before issue 9 S6 the daemon exited there
# ("tcp: request: Out of memory").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init uplink_callfail
N_DEAD=2s

n_topo_city2
n_start master city cb
LD_PRELOAD="$(t_preload "$top_builddir/tests/tools/.libs/pipeshim.so")" \
    PIPESHIM_FAIL_CTX=$T_DIR/fail-ctx n_start ca

sessions_up() { grep -c "link fj-xm: session .* up" "$T_DIR/ca.log"; }
sessions_over() { [ "$(sessions_up)" -gt "$1" ]; }
no_file() { [ ! -e "$1" ]; }

t_wait_for "the county's link is up" 20 sessions_over 0
COUNT=2000
tc_recv_bg bob cb bob $COUNT -W 120
t_bg alice "$T_TCLIENT" send -u "$(n_url ca)" -a fj-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-xm-b/bob -n $COUNT -b 5 -i 5 -W 120
t_wait_for "traffic flows" 30 t_lines_over "$T_DIR/bob.txt" 100
before=$(sessions_up)
: >"$T_DIR/fail-ctx"
t_wait_for "the shim failed one request" 20 no_file "$T_DIR/fail-ctx"
t_check "the shim said so" grep -q "pipeshim: nng_ctx_open on socket .* fails" "$T_DIR/ca.log"
t_check "the county says why" grep -q "link fj-xm: tcp: cannot make a request: Out of memory" \
	"$T_DIR/ca.log"
t_wait_for "the link comes back by itself" 30 sessions_over "$before"
t_check "the county is still running" kill -0 "$(t_pid ca)"
t_check "alice: all acked" t_wait alice 120
t_check "bob: all received" t_wait bob 120
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob.txt" $COUNT
t_check "the county never exited" bash -c "! grep -q 'fatal\|exiting' '$T_DIR/ca.log'"
t_done
