#!/bin/bash
# transport auto: a county whose tcp path to the master is cut moves to
# http, and back to tcp when tcp works again, while 10 000 packets go up
# (alice at the county to carol at the master) and 2 000 come down (dave at
# the master to erin at the county): none lost, none twice, each flow in
# order. Each path goes through its own fault proxy (tcpx, httpx), and
# their byte counts show that the traffic really moved to http and back.
# max-batch 10 at the master and a 20 ms delay on the http path keep the
# stream going long enough to be in the middle of it at both switches.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init http_fallback
N_DEAD=1s

n_node master fj master
n_node cy fj-y
n_http master
n_set master "max-batch 10"
n_client cy alice; n_client cy erin; n_client master carol; n_client master dave
t_proxy tcpx "$PORT_master"
t_proxy httpx "$HPORT_master"
n_link cy master "$tcpx_PORT"
n_transport cy auto "$httpx_PORT"
n_start master
n_start cy
t_wait_for "the county is up over tcp (the master prefers it)" 10 \
	grep -q "link fj: session .* up over tcp" "$T_DIR/cy.log"

st() { t_kv "$(t_proxy_cmd "$1" stats)" "$2"; }
received() { tc_ids "$T_DIR/$1.txt"; }
received_over() { [ "$(received "$1")" -gt "$2" ]; }
UP=10000 DOWN=2000
tc_recv_bg carol master carol $UP -W 180
tc_recv_bg erin cy erin $DOWN -W 180
t_bg alice "$T_TCLIENT" send -u "$(n_url cy)" -a fj-y/alice -s "$T_DIR/alice.secret" \
	-t fj/carol -n $UP -b 50 -W 180
t_bg dave "$T_TCLIENT" send -u "$(n_url master)" -a fj/dave -s "$T_DIR/dave.secret" \
	-t fj-y/erin -n $DOWN -b 5 -W 180
t_wait_for "packets flow over tcp" 20 received_over carol 1000
t_eq "nothing went over http yet" "0 0" "$(st httpx total_conns) $(st httpx up)"
tcp_before=$(st tcpx up)
t_check "tcp carried them ($tcp_before bytes up)" test "$tcp_before" -gt 50000

echo "# --- cut tcp at $(received carol) up, $(received erin) down"
t_proxy_cmd httpx delay 20 >/dev/null
t_check "cut the tcp path" t_proxy_cmd tcpx cut
t_wait_for "the county falls back to http" 30 \
	grep -q "link fj: carrier http, .*(tcp failed 3 times in a row" "$T_DIR/cy.log"
t_wait_for "... and its session is up over http" 10 grep -q "link fj: session .* up over http" "$T_DIR/cy.log"
tcp_cut=$(st tcpx up)
at=$(received carol)
t_wait_for "packets flow over http" 30 received_over carol $((at + 1500))
http_mid=$(st httpx up)
t_check "http carried them ($http_mid bytes up)" test "$http_mid" -gt 100000
t_eq "nothing went over tcp meanwhile" "$tcp_cut" "$(st tcpx up)"
t_check "still packets to move (at $(received carol) up)" t_not received_over carol $((UP - 1000))

echo "# --- tcp back at $(received carol) up, $(received erin) down"
t_check "pass tcp again" t_proxy_cmd tcpx pass
t_wait_for "the county returns to tcp" 20 grep -q "link fj: carrier tcp, .*(tcp works again)" "$T_DIR/cy.log"
http_back=$(st httpx up)
tcp_sessions() { [ "$(grep -c "link fj: session .* up over tcp" "$T_DIR/cy.log")" -ge 2 ]; }
t_wait_for "... and its session is up over tcp again" 10 tcp_sessions
# where each carrier took the up stream over: both switches mid-stream
resumed() { grep "link fj: session .* up over $1" "$T_DIR/cy.log" | tail -n 1 | awk '{ print $NF }'; }
at_http=$(resumed http) at_tcp=$(resumed tcp)
t_check "http took over the stream at $at_http, mid-stream" test "$at_http" -gt 1000 -a "$at_http" -lt "$at_tcp"
t_check "tcp took it back at $at_tcp, with $((UP - at_tcp + 1)) packets still to go" \
	test "$at_tcp" -le $((UP - 1000))
received_is() { [ "$(received "$1")" -eq "$2" ]; }
t_wait_for "carol: all $UP received" 60 received_is carol $UP
tcp_after=$(st tcpx up)
t_check "tcp carried them ($((tcp_after - tcp_cut)) bytes up since the return)" \
	test $((tcp_after - tcp_cut)) -gt 20000
http_end=$(st httpx up)
t_check "http carried next to nothing since ($((http_end - http_back)) bytes)" \
	test $((http_end - http_back)) -lt 5000

t_check "alice: all $UP acked by her county" t_wait alice 180
t_check "carol's receiver ends" t_wait carol 180
t_check "dave: all $DOWN acked by the master" t_wait dave 180
t_check "erin: all $DOWN received" t_wait erin 180
t_check "up: exactly once, in order" check_exactly_once "$T_DIR/carol.txt" $UP
t_check "down: exactly once, in order" check_exactly_once "$T_DIR/erin.txt" $DOWN
sleep 1
t_check "http is idle now" test "$(st httpx up)" -eq "$http_end"
t_check "no node restarted" test "$(cat "$T_DIR"/{master,cy}.log | grep -c '=== .* start:')" -eq 2
t_done
