#!/bin/bash
# /metrics (metrics-listen): a county fj-a under master fj, client alice at
# the county and bob at the master. The scrape is valid Prometheus text
# (promtool check metrics, Debian's prometheus package), names the link and
# its state, and its counters follow the traffic: packets in by exactly the
# number sent, the parent link's queue drains, alice counted online, a
# failed authentication counted; other paths answer 404.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init metrics

if ! command -v promtool >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			prometheus >/dev/null 2>&1 || true
	fi
fi
if ! command -v promtool >/dev/null; then
	t_check "promtool is installed (run as root: apt-get install -y prometheus)" false
	t_done
fi

n_node master fj master
n_node ca fj-a
n_link ca master
n_client ca alice; n_client master bob
MPORT=$(t_free_port)
n_set ca "metrics-listen 127.0.0.1:$MPORT"
MMPORT=$(t_free_port)
n_set master "metrics-listen 127.0.0.1:$MMPORT"
n_start master; n_start ca
URL=http://127.0.0.1:$MPORT/metrics
scrape() { curl -sf "$URL" >"$T_DIR/$1.prom"; }
# val FILE SERIES: the value of one series (name with its labels, exactly)
val() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }' "$T_DIR/$1.prom"; }
link_up() { scrape up && [ "$(val up 'cascade_link_up{link="fj",direction="parent"}')" = 1 ]; }

t_wait_for "the county's link to fj is up in /metrics" 10 link_up
t_check "promtool check metrics accepts the scrape" bash -c "promtool check metrics <'$T_DIR/up.prom' >'$T_DIR/promtool.out' 2>&1"
sed 's/^/# promtool: /' "$T_DIR/promtool.out"
t_eq "the link's carrier" 1 "$(val up 'cascade_link_carrier{link="fj",carrier="tcp"}')"
t_eq "the link's state is up" 1 "$(val up 'cascade_link_state{link="fj",state="up"}')"
t_eq "HELP and TYPE for every family" "$(grep -c '^# HELP cascade_' "$T_DIR/up.prom")" \
	"$(grep -c '^# TYPE cascade_' "$T_DIR/up.prom")"
t_check "commit and sync histograms" grep -q '^cascade_journal_sync_seconds_bucket{le="+Inf"}' "$T_DIR/up.prom"
t_check "journal size" grep -q '^cascade_journal_map_bytes [1-9]' "$T_DIR/up.prom"
in0=$(val up cascade_packets_in_total)
out0=$(val up cascade_packets_out_total)
sent0=$(val up 'cascade_sent_bytes_total{side="parent"}')
commits0=$(val up cascade_journal_commit_seconds_count)

t_check "alice sends 37 packets to bob at the master" tc_send ca alice fj/bob 37
drained() { scrape after && [ "$(val after 'cascade_link_queue_packets{link="fj"}')" = 0 ] &&
	[ "$(val after cascade_packets_out_total)" -ge $((out0 + 37)) ]; }
t_wait_for "the county forwards them all" 20 drained
t_eq "packets in went up by 37" $((in0 + 37)) "$(val after cascade_packets_in_total)"
t_check "packets out went up by at least 37" test "$(val after cascade_packets_out_total)" -ge $((out0 + 37))
t_check "bytes sent to the parent went up" test "$(val after 'cascade_sent_bytes_total{side="parent"}')" -gt "$sent0"
t_check "commits were counted" test "$(val after cascade_journal_commit_seconds_count)" -gt "$commits0"
t_check "alice's session bytes are counted" test "$(val after 'cascade_peer_received_bytes_total{peer="fj-a/alice"}')" -gt 0
t_check "the scrape after traffic is valid too" bash -c "promtool check metrics <'$T_DIR/after.prom'"

# a client online, and an authentication failure
tc_recv_bg alice ca alice 0 -W 30
online() { scrape on && [ "$(val on 'cascade_client_online{client="fj-a/alice"}')" = 1 ]; }
t_wait_for "alice online" 10 online
t_eq "one client online" 1 "$(val on cascade_clients_online)"
auth0=$(val on cascade_auth_failures_total)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/wrong.secret"; chmod 600 "$T_DIR/wrong.secret"
"$T_TCLIENT" send -u "$(n_url ca)" -a fj-a/dave -s "$T_DIR/wrong.secret" -t fj/bob -n 1 -W 2 >/dev/null 2>&1
"$T_TCLIENT" send -u "$(n_url ca)" -a fj-a/alice -s "$T_DIR/wrong.secret" -t fj/bob -n 1 -W 2 >/dev/null 2>&1
scrape auth
t_check "auth failures counted" test "$(val auth cascade_auth_failures_total)" -gt "$auth0"

t_eq "another path: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")"
t_eq "POST: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -d x "$URL")"
t_check "the county still runs" t_alive ca

# reconnects on both ends of a link: the county restarted twice
mval() { curl -sf "http://127.0.0.1:$MMPORT/metrics" |
	awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }'; }
t_eq "the master: no reconnect of the child yet" 0 \
	"$(mval 'cascade_link_reconnects_total{link="fj-a",direction="child"}')"
n_stop ca; n_start ca
t_wait_for "the county's link is up again" 10 link_up
n_stop ca; n_start ca
t_wait_for "and again" 10 link_up
t_eq "the master counts the child's 2 reconnects" 2 \
	"$(mval 'cascade_link_reconnects_total{link="fj-a",direction="child"}')"
t_eq "the county's own parent link: 0 since its start" 0 \
	"$(val up 'cascade_link_reconnects_total{link="fj",direction="parent"}')"
t_done
