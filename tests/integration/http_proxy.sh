#!/bin/bash
# Through a forward proxy: a county on transport http with "proxy URL" in
# its parent block reaches the master only through it (tests/tools/httpproxy
# logs every request it carried): its packets flow, stop while the proxy is
# down, and all arrive once when it is back. Another county without a proxy
# line goes straight to the master even with proxy variables in its
# environment pointing nowhere.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init http_proxy
HTTPPROXY=$top_builddir/tests/tools/httpproxy

proxy_start() {  # proxy_start PORT (0: any)
	rm -f "$T_DIR/proxy.port"
	t_bg proxy "$HTTPPROXY" -l "127.0.0.1:$1" -p "$T_DIR/proxy.port"
	t_wait_for "the proxy listens" 5 test -s "$T_DIR/proxy.port"
	PPORT=$(cat "$T_DIR/proxy.port")
}
proxy_start 0

n_node master fj master
n_node cy fj-y
n_node cz fj-z
n_link cy master; n_link cz master
n_transport cy http; n_transport cz http
n_parent_set cy "proxy http://127.0.0.1:$PPORT"
n_client cy alice; n_client cz zoe; n_client master carol
n_start master
n_start cy
DEAD=$(t_free_port)
export http_proxy=http://127.0.0.1:$DEAD HTTP_PROXY=http://127.0.0.1:$DEAD \
	https_proxy=http://127.0.0.1:$DEAD ALL_PROXY=http://127.0.0.1:$DEAD all_proxy=http://127.0.0.1:$DEAD
n_start cz
unset http_proxy HTTP_PROXY https_proxy ALL_PROXY all_proxy

HURL=$(n_http_url master)
t_wait_for "cy's link is up over http" 10 grep -q "link fj: session .* up over http" "$T_DIR/cy.log"
t_check "cy says it uses the proxy" grep -q "link fj: http requests to $HURL go through proxy http://127.0.0.1:$PPORT" "$T_DIR/cy.log"
for ep in hello auth pull; do
	t_wait_for "the proxy carried cy's $ep" 5 grep -q "POST $HURL/v1/$ep -> 200" "$T_DIR/proxy.log"
done
t_wait_for "cz's link is up over http, proxy variables or not" 10 \
	grep -q "link fj: session .* up over http" "$T_DIR/cz.log"

received_is() { [ "$(tc_ids "$T_DIR/carol.txt")" -eq "$1" ]; }
tc_recv_bg carol master carol 900 -W 120
t_eq "alice sends 500 at cy" "sent 500 acked 500" "$(tc_send cy alice fj/carol 500 -b 25)"
t_wait_for "carol gets them through the proxy" 30 received_is 500
pushes=$(grep -c "POST $HURL/v1/push -> 200" "$T_DIR/proxy.log")
t_check "the proxy carried cy's pushes ($pushes)" test "$pushes" -ge 1
t_eq "zoe sends 100 at cz" "sent 100 acked 100" "$(tc_send cz zoe fj/carol 100 -b 25)"
t_wait_for "carol gets zoe's too, not through the proxy" 30 received_is 600
t_eq "the proxy carried no more pushes" "$pushes" "$(grep -c "POST $HURL/v1/push -> 200" "$T_DIR/proxy.log")"

kill -USR1 "$(t_pid proxy)"
t_wait_for "the proxy reports its counts" 5 grep -q "httpproxy: stats requests=[1-9]" "$T_DIR/proxy.log"

echo "# --- the proxy goes down"
t_kill proxy
t_eq "alice sends 300 more at cy" "sent 300 acked 300" "$(tc_send cy alice fj/carol 300 -b 25)"
t_wait_for "cy notices" 15 grep -q "link fj: http: $HURL/v1/.*127.0.0.1 port $PPORT" "$T_DIR/cy.log"
sleep 1
t_eq "nothing reaches carol while the proxy is down" 600 "$(tc_ids "$T_DIR/carol.txt")"
proxy_start "$PPORT"
t_wait_for "after the proxy is back, carol gets all 900" 30 received_is 900
t_check "carol's packets: none twice" check_exactly_once_ids "$T_DIR/carol.txt"
t_check "the new proxy carried cy's pushes" \
	grep -q "POST $HURL/v1/push -> 200" <<<"$(tac "$T_DIR/proxy.log" | sed '/^=== /q')"
t_done
