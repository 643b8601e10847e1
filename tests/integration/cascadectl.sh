#!/bin/bash
# cascadectl against a running tree: master fj, city fj-xm, counties
# fj-xm-a (alice) and fj-xm-b (bob); fj-xm-a's link to the city runs through
# the fault proxy. status, links and clients say the right things (--json,
# read with jq); a cut link shows down with its error; pause stops traffic
# and loses nothing, resume delivers all once; retry redials at once (the
# backoff is 20 s here); show and cancel; a daemon not running, a socket
# closed to the user, another protocol version; an answer within 1 s while
# the parent link is blackholed with thousands of packets queued.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init cascadectl
CTL=$top_builddir/node/cascadectl

n_topo_city2 --proxy ca
n_client ca dave
# fj-xm-a's control socket in a directory others may enter: its own mode
# is what keeps them out (the data dir is 0700 anyway)
mkdir -m 755 "$T_DIR/ctl"; chmod 711 "$T_DIR"
n_set ca "control $T_DIR/ctl/ca.sock"
n_start master city cb
# a long reconnect backoff: only retry can bring the link back quickly
_n_write_conf ca
sed -i 's/reconnect 100ms 1s/reconnect 20s 30s/' "$T_DIR/ca.conf"
t_bg ca "$CASCADED" -d -f "$T_DIR/ca.conf"
t_wait_for "ca listens" 10 t_port_open "$PORT_ca"

ca() { "$CTL" -f "$T_DIR/ca.conf" "$@"; }
cb() { "$CTL" -f "$T_DIR/cb.conf" "$@"; }
city() { "$CTL" -f "$T_DIR/city.conf" "$@"; }
jq_is() { # jq_is EXPECTED JQ CMD...: jq's raw output of CMD --json is EXPECTED
	local want=$1 q=$2 got; shift 2
	got=$("$@" --json | jq -r "$q") || return 1
	[ "$got" = "$want" ] || { echo "got '$got', want '$want'"; return 1; }
}
# j CMD... JQ: prints jq's output of the command's --json
j() { local q=${*: -1}; "${@:1:$#-1}" --json | jq -r "$q"; }
received_is() { [ "$(tc_data "$T_DIR/$1.txt")" -eq "$2" ]; }
ups() { grep -c "link fj-xm: session .* up" "$T_DIR/ca.log"; }
ups_over() { [ "$(ups)" -gt "$1" ]; }
rc() { "$@" >/dev/null 2>"$T_DIR/err"; echo $?; }

t_wait_for "ca's link is up" 10 jq_is up '.[0].state' ca links

# 1. status, links, clients
t_check "status: node id" jq_is fj-xm-a .node ca status
t_check "status: role" jq_is node .role ca status
t_check "status: config path" jq_is "$T_DIR/ca.conf" .config ca status
t_check "status: journal path" jq_is "$T_DIR/ca/journal" .journal ca status
t_check "status: sync no" jq_is false .sync ca status
t_check "status: the table names the node" bash -c "'$CTL' -f '$T_DIR/ca.conf' status | grep -q '^node *fj-xm-a (node)'"
t_check "links: ca's parent is fj-xm" jq_is "fj-xm parent tcp" '.[0] | "\(.name) \(.direction) \(.carrier)"' ca links
t_check "links: its url is the proxy's" jq_is "tcp://127.0.0.1:$link_PORT" '.[0].url' ca links
t_check "links: the city sees both counties up" jq_is "fj-xm-a up fj-xm-b up" \
	'[.[] | select(.direction == "child") | "\(.name) \(.state)"] | join(" ")' city links
t_check "links: the master has no parent link" jq_is "fj-xm child" '.[0] | "\(.name) \(.direction)"' \
	"$CTL" -f "$T_DIR/master.conf" links
t_check "clients: alice and dave offline" jq_is "fj-xm-a/alice false fj-xm-a/dave false" \
	'[.[] | "\(.name) \(.online)"] | join(" ")' ca clients
ca status | sed 's/^/# /'; city links | sed 's/^/# /'
tc_recv_bg bob cb bob 0 -W 120
t_wait_for "clients: bob online over tcp" 10 jq_is "true tcp" '.[0] | "\(.online) \(.carrier)"' cb clients
t_check "clients: the table says online" bash -c "'$CTL' -f '$T_DIR/cb.conf' clients | grep -q 'fj-xm-b/bob *online *tcp'"

# 2. traffic, and show of a delivered packet
t_check "alice sends 100 to bob" tc_send ca alice fj-xm-b/bob 100
t_wait_for "bob has 100" 20 received_is bob 100
id=$(awk '$6 == 0 { print $3; exit }' "$T_DIR/bob.txt")
t_check "show (at bob's county): delivered to bob" jq_is "client:bob delivered" \
	'.[0].places[0] | "\(.queue) \(.place)"' cb show "$id"
t_check "show (at alice's county): forwarded up" jq_is "up forwarded" \
	'.[0].places[0] | "\(.queue) \(.place)"' ca show "$id"
t_check "show: src, dst, payload size and hash, no payload" jq_is \
	"fj-xm-a/alice fj-xm-b/bob 64 true false" \
	'.[0] | "\(.src) \(.dst) \(.payload_sha256 | length) \(.payload_size > 0) \(has("payload"))"' cb show "$id"
t_check "status: packets out counted" test "$(j ca status .packets_out)" -ge 100

# 3. pause: nothing moves, nothing is lost; resume delivers all, once
tc_recv_bg alice ca alice 0 -W 120
t_wait_for "clients: alice online" 10 jq_is true '.[0].online' ca clients
t_check "pause fj-xm" ca pause fj-xm
t_check "links: paused" jq_is paused '.[0].state' ca links
ids=$(tc_send ca alice fj-xm-b/bob 50 -I | awk '/^id / { print $2 }')
t_check "50 more taken in while paused" test "$(echo "$ids" | wc -l)" -eq 50
t_check "links: 50 queued on the paused link" jq_is 50 '.[0].depth' ca links
qid=$(echo "$ids" | sed -n 7p)
t_check "show: a queued packet waits in up" jq_is "up queued" '.[0].places[0] | "\(.queue) \(.place)"' ca show "$qid"
t_check "cancel it" ca cancel "$qid"
t_check "the log says who cancelled it" grep -q "control: packet $qid (from fj-xm-a/alice) cancelled by the operator" "$T_DIR/ca.log"
t_check "show: it is cancelled" jq_is "up cancelled" '.[0].places[0] | "\(.queue) \(.place)"' ca show "$qid"
t_eq "cancel again: it failed (exit 1)" 1 "$(rc ca cancel "$qid")"
sleep 3
t_check "nothing reached bob while paused" received_is bob 100
t_check "the proxy saw no new connection" t_not grep -q "link fj-xm: session .* up" \
	<(sed -n '/paused by the operator/,$p' "$T_DIR/ca.log")
t_eq "pause again: exit 1" 1 "$(rc ca pause fj-xm)"
t_check "resume fj-xm" ca resume fj-xm
t_wait_for "bob gets the other 49" 20 received_is bob 149
# notices go by the master like every packet: it went once the link was back
t_wait_for "alice hears 'cancelled'" 10 grep -q " 1 5 " "$T_DIR/alice.txt"
t_check "exactly once, in order, none lost" check_exactly_once_ids "$T_DIR/bob.txt"
t_check "the cancelled one never arrived" t_not grep -q "$qid" "$T_DIR/bob.txt"
t_check "links: up again" jq_is up '.[0].state' ca links
t_check "no such link: exit 1 and why" bash -c \
	"'$CTL' -f '$T_DIR/ca.conf' pause fj 2>&1 | grep -q 'no link fj: the parent of fj-xm-a is fj-xm'"

# 4. a cut link shows down with its last error; retry brings it back at once
before=$(ups)
t_proxy_cmd link cut
t_wait_for "links: down" 15 jq_is down '.[0].state' ca links
t_check "links: the last error says why" bash -c \
	"'$CTL' -f '$T_DIR/ca.conf' --json links | jq -e '.[0].last_error | length > 0' >/dev/null"
t_check "links: the table shows the error" bash -c \
	"'$CTL' -f '$T_DIR/ca.conf' links | grep -q '^fj-xm .*down.*ago)'"
# nng redials at a random time within the backoff (20 s): right after the
# proxy heals the link is still down, and retry brings it up at once
t_proxy_cmd link pass
t_check "healed, but the backoff keeps it down" jq_is down '.[0].state' ca links
t0=$(t_now_ms)
t_check "retry fj-xm" ca retry fj-xm
t_wait_for "up within 2 s of retry" 2 ups_over "$before"
t_check "links: up, one more reconnect" test "$(j ca links '.[0].reconnects')" -ge 1
echo "# retry to up: $(($(t_now_ms) - t0)) ms"
# a rebuild while calls are in flight (the held pull) closed their nng
# contexts while the old socket was closing: nng 1.5.2 panicked
for i in $(seq 30); do ca retry fj-xm >/dev/null; sleep 0.02; done
t_wait_for "30 retries in a row: up, the daemon alive" 10 jq_is up '.[0].state' ca links

# 5. busy: the link blackholed, thousands queued; answers within a second
t_proxy_cmd link blackhole
t_check "alice sends 3000 into the blackhole" tc_send ca alice fj-xm-b/bob 3000 -b 100
slow=0
for cmd in status links clients "show $id"; do
	t0=$(t_now_ms)
	ca $cmd >/dev/null || slow=1
	dt=$(($(t_now_ms) - t0))
	echo "# $cmd: $dt ms"
	[ "$dt" -lt 1000 ] || slow=1
done
for cmd in status links clients; do      # the city holds its children's pulls
	t0=$(t_now_ms)
	city $cmd >/dev/null || slow=1
	dt=$(($(t_now_ms) - t0))
	echo "# city $cmd: $dt ms"
	[ "$dt" -lt 1000 ] || slow=1
done
t_check "every answer within 1 s" test "$slow" -eq 0
t_check "links: thousands waiting, the oldest aged" bash -c \
	"'$CTL' -f '$T_DIR/ca.conf' --json links | jq -e '.[0].depth >= 3000 and .[0].oldest_age_ms > 0' >/dev/null"
ca links | sed 's/^/# /'
t_proxy_cmd link pass
ca retry fj-xm >/dev/null
t_wait_for "bob gets all 3149" 60 received_is bob 3149
t_check "still exactly once" check_exactly_once_ids "$T_DIR/bob.txt"

# 6. what goes wrong on the operator's side
t_eq "the socket is mode 0600" 600 "$(stat -c %a "$T_DIR/ctl/ca.sock")"
t_eq "another user: exit 4" 4 "$(rc setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$CTL" -s "$T_DIR/ctl/ca.sock" status)"
t_check "... saying permission denied" grep -q "permission denied (mode 0600, owner root)" "$T_DIR/err"
# a socket opened to everyone by mistake: the daemon checks who asks too
chmod 666 "$T_DIR/ctl/ca.sock"
t_eq "another user, the socket chmod 666: still exit 4" 4 "$(rc setpriv --reuid=65534 \
	--regid=65534 --clear-groups "$CTL" -s "$T_DIR/ctl/ca.sock" status)"
t_check "... the daemon refused it" grep -q "refused: uid 65534 is not cascaded's user" "$T_DIR/err"
t_check "... and logged it" grep -q "control: request from uid 65534 (pid [0-9]*) refused" "$T_DIR/ca.log"
t_check "... and pause from that user did nothing" bash -c "setpriv --reuid=65534 --regid=65534 \
	--clear-groups '$CTL' -s '$T_DIR/ctl/ca.sock' pause fj-xm; '$CTL' -f '$T_DIR/ca.conf' --json links |
	jq -e '.[0].state == \"up\"' >/dev/null"
chmod 600 "$T_DIR/ctl/ca.sock"
t_eq "another protocol version: exit 5" 5 "$(rc env CASCADECTL_PROTOCOL=9 "$CTL" -f "$T_DIR/ca.conf" status)"
t_check "... saying so" grep -q "version mismatch" "$T_DIR/err"
t_check "the daemon logged the refusal" grep -q "control: request refused: control protocol version 9" "$T_DIR/ca.log"
t_eq "no such socket: exit 3" 3 "$(rc "$CTL" -s "$T_DIR/none.sock" status)"
t_check "... saying not running" grep -q "no such file: cascaded is not running" "$T_DIR/err"
t_eq "usage: exit 2" 2 "$(rc "$CTL" -f "$T_DIR/ca.conf" show)"
t_eq "unknown command: exit 2" 2 "$(rc "$CTL" -f "$T_DIR/ca.conf" frobnicate)"
t_eq "not an id: exit 1" 1 "$(rc "$CTL" -f "$T_DIR/ca.conf" show nonsense)"
t_eq "--help: exit 0" 0 "$(rc "$CTL" --help)"
t_check "the daemon still serves" jq_is fj-xm-a .node ca status
n_kill9 cb
t_eq "a killed daemon (its socket left behind): exit 3" 3 "$(rc "$CTL" -f "$T_DIR/cb.conf" status)"
t_check "... saying nobody listens" grep -q "nobody listens: cascaded is not running" "$T_DIR/err"
n_start cb
t_check "restarted over the stale socket: it answers" jq_is fj-xm-b .node cb status
n_stop cb
t_check "a stopped daemon removes its socket" test ! -e "$T_DIR/cb/control.sock"
t_eq "a stopped daemon: exit 3" 3 "$(rc "$CTL" -f "$T_DIR/cb.conf" status)"
t_check "... saying not running" grep -q "cascaded is not running" "$T_DIR/err"
t_done
