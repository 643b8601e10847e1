#!/bin/bash
# SIGTERM ends cascaded within 5 s, with status 0, in every state of its
# link to the parent: up, dialing a parent that is down, blackholed, a parent
# stopped with SIGSTOP, and with nng's close wedged (through the
# tests/tools/pipeshim.c LD_PRELOAD shim, nng_close never returns). Each time the
# county is started again and its journal is intact: the packets it held
# arrive, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init shutdown
N_DEAD=1s
SHIM=$(t_preload "$top_builddir/tests/tools/.libs/pipeshim.so")

n_node city fj master
n_node ca fj-a
t_proxy link "$PORT_city"
n_link ca city "$link_PORT"
n_client ca alice; n_client city bob
n_start city
start_ca() { LD_PRELOAD=$SHIM PIPESHIM_HANG_CLOSE=$T_DIR/hang-close n_start ca; }
start_ca
ups() { grep -c 'link fj: session .* up over' "$T_DIR/ca.log"; }
up() { [ "$(ups)" -gt "${1:-0}" ]; }
t_wait_for "the county's link is up" 10 up

sent=0
# term_within DESC: SIGTERM the county, check status 0 within 5 s, start it again.
term_within() {
	local start
	tc_send ca alice fj/bob 20 -W 10 >/dev/null && sent=$((sent + 20))
	start=$(t_now_ms)
	t_kill ca TERM
	t_eq "$1: SIGTERM ends the county with status 0" 0 "$T_STATUS"
	t_check "$1: within 5 s ($(($(t_now_ms) - start)) ms)" test $(($(t_now_ms) - start)) -lt 5000
	rm -f "$T_DIR/hang-close"
	t_proxy_cmd link pass >/dev/null
	before=$(ups)
	start_ca
}

term_within "link up"
t_wait_for "up again" 10 up "$before"
n_stop city
sleep 1.5
term_within "dialing a parent that is down"
n_start city
t_proxy_cmd link blackhole >/dev/null
sleep 1.5
term_within "link blackholed"
kill -STOP "$(t_pid city)"
sleep 1.5
term_within "parent stopped"
kill -CONT "$(t_pid city)"
t_wait_for "up again" 10 up "$before"
touch "$T_DIR/hang-close"
term_within "nng_close wedged"
t_check "the wedge was there" grep -q 'pipeshim: nng_close of socket .* hangs' "$T_DIR/ca.log"

tc_recv_bg bob city bob $sent -W 60
t_check "bob: every packet the county took ($sent)" t_wait bob 60
t_check "exactly once" check_exactly_once_ids "$T_DIR/bob.txt"
t_done
