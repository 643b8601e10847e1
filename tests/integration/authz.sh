#!/bin/bash
# Authorization of what a peer may say (issue 8: items 1, 2, 13, 19), against
# real daemons: a master, a city (its link to the master through a fault
# proxy), counties A and B, a node "evil" that the city allows below it but
# the master does not, and a child node fj-xm-c played by tclient -k.
#
# Each attack uses an ordinary client's (or child's) valid credentials:
#  1. eve cancels alice's waiting packet          -> refused, logged as spoofing;
#     alice cancelling her own is told "cancelled"
#  2. eve pushes a notice, an audit copy, a packet with a prefilled trace
#                                                 -> rejected at her node
#     a child node pushes a notice from a client address, a trace hop
#     outside its subtree                         -> rejected; its own notice passes
#  3. eve answers ann's pending request (reply_to) -> the SDK does not complete
#     ann's request with it; bob's real reply does
#  4. a ttl near INT64_MAX                        -> the packet waits, no expiry
#  5. mallory's packet is refused at the master as spoofed (src evil/...): the
#     city hears it in rejects[] and tells mallory: cascade exits 5, not 4
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init authz
CLI=$top_builddir/client-sdk/cascade

n_topo_city2 --proxy city
n_node cc fj-xm-c       # never started: tclient -k speaks for it
n_node ev evil          # the master allows the city fj-xm and fj-xm-* only
n_link cc city; n_link ev city
for c in eve ann; do n_client ca $c; done
n_client ev mallory
n_start master city ca cb ev

tc_recv_bg alice ca alice 0 -W 150
tc_recv_bg bob cb bob 0 -W 150
# child NAME ARGS...: tclient send as the child node fj-xm-c, through the city
child() {
	"$T_TCLIENT" send -k -u "$(n_url city)" -a fj-xm-c -s "$T_DIR/link-cc.secret" "$@"
}
# lines FILE AWK: the lines of FILE that AWK selects
lines() { awk "$2" "$1"; }
sent_id() { awk '/^id / { print $2 }'; }
t_wait_for "bob is attached" 10 grep -q "server: fj-xm-b/bob: session" "$T_DIR/cb.log"
t_wait_for "alice is attached" 10 grep -q "server: fj-xm-a/alice: session" "$T_DIR/ca.log"

# ------------------------------------------------------------ 1. cancel
t_proxy_cmd link cut
x1=$(tc_send ca alice fj-xm-b/bob 1 -I -N | sent_id)
x2=$(tc_send ca alice fj-xm-b/bob 1 -I -N | sent_id)
x3=$(tc_send ca alice fj-xm-b/bob 1 -I -T 9223372036854775000 | sent_id)
t_check "alice sent three packets while the city's uplink is cut" test -n "$x1" -a -n "$x2" -a -n "$x3"
sleep 1
t_check "eve's cancel of alice's packet is taken (custody)" tc_send ca eve fj-xm-b/bob 1 -c "$x1"
t_wait_for "the city refuses it as spoofing" 10 \
	grep -q "origin: fj-xm-a/eve: cancel of packet $x1 refused: spoofed" "$T_DIR/city.log"
t_check "county A refuses it too" \
	grep -q "origin: fj-xm-a/eve: cancel of packet $x1 refused: spoofed" "$T_DIR/ca.log"
t_check "the refusal is journaled at the city" \
	grep -q "rejected id=$x1 .*reason=3 .*cancel from fj-xm-a/eve refused" \
	<(n_audit "$T_DIR/city/journal" --id "$x1")
t_check "nobody removed it for eve" t_not grep -q "packet $x1 cancelled by" "$T_DIR/city.log"
t_check "alice cancels her own second packet" tc_send ca alice fj-xm-b/bob 1 -c "$x2"
t_wait_for "the city removed it for alice" 10 grep -q "packet $x2 cancelled by fj-xm-a/alice" \
	"$T_DIR/city.log"

# 4. a ttl near INT64_MAX must not wrap into "expired" while it waits
sleep 1.5
t_check "the long-ttl packet did not expire at the city" t_not grep -q "packet $x3 .*expired" \
	"$T_DIR/city.log"
t_proxy_cmd link pass
t_wait_for "bob gets alice's first packet (eve could not cancel it)" 20 grep -q " $x1 " "$T_DIR/bob.txt"
t_wait_for "bob gets the long-ttl packet" 20 grep -q " $x3 " "$T_DIR/bob.txt"
t_wait_for "alice hears 'cancelled' about her own packet, from the destination's node" 15 \
	grep -Eq "^[0-9a-f]+ [0-9]+ [^ ]+ fj-xm-b - 1 5 .* ref=$x2 " "$T_DIR/alice.txt"
sleep 1
t_check "bob never got the packet alice cancelled" t_not grep -q " $x2 " "$T_DIR/bob.txt"
t_check "alice heard nothing about a cancel of her first packet" \
	t_not grep -Eq " 1 [56] .*ref=$x1 " "$T_DIR/alice.txt"

# ------------------------------------------- 2. notices, audit, traces
out=$(tc_send ca eve fj-xm-a/alice 1 -I -K notice -C 1 -F "$x1")
t_check "eve's fake 'delivered' notice is rejected" grep -q "rejected seq=1 reason=not allowed" <<<"$out"
out=$(tc_send ca eve fj-xm-a/alice 1 -I -K notice -C 2 -F "$x1")
t_check "eve's fake 'expired' notice is rejected" grep -q "rejected seq=1 reason=not allowed" <<<"$out"
t_check "county A logs it, naming eve" \
	grep -q "server: fj-xm-a/eve: packet .* rejected: not allowed: a client cannot send notices" \
	"$T_DIR/ca.log"
out=$(tc_send ca eve fj-xm-b/bob 1 -I -K audit -F "$x1")
t_check "eve's audit copy is rejected" grep -q "rejected seq=1 reason=not allowed" <<<"$out"
hops=$(seq -f 'fake-%g' -s, 1 20)
out=$(tc_send ca eve fj-xm-b/bob 1 -I -H "$hops")
t_check "eve's packet with a prefilled trace is rejected" grep -q "rejected seq=1 reason=spoofed" <<<"$out"
xt=$(sent_id <<<"$out")
out=$(child -t fj-xm-a/alice -n 1 -I -K notice -C 1 -F "$x1" -S fj-xm-c/x)
t_check "a child's notice from a client address is rejected" \
	grep -q "rejected seq=1 reason=not allowed" <<<"$out"
out=$(child -t fj-xm-b/bob -n 1 -I -K audit -F "$x1" -S fj-xm-c/x)
t_check "a child's audit copy from a client address is rejected" \
	grep -q "rejected seq=1 reason=not allowed" <<<"$out"
out=$(child -t fj-xm-b/bob -n 1 -I -S fj-xm-c/x -H fj-xm-c,fj-xm-b)
t_check "a child's trace hop outside its subtree is rejected" grep -q "rejected seq=1 reason=spoofed" <<<"$out"
t_check "the city logs it, naming the child" \
	grep -q "server: fj-xm-c: packet .* rejected: spoofed source: trace hop fj-xm-b (up leg) is not below child fj-xm-c" \
	"$T_DIR/city.log"
xo=$(child -t fj-xm-b/bob -n 1 -I -S fj-xm-c/x -H fj-xm-c | sent_id)
t_check "a child's packet with its own hop is taken" test -n "$xo"
xn=$(child -t fj-xm-a/alice -n 1 -I -K notice -C 1 -F "$x2" -S fj-xm-c | sent_id)
t_check "a notice from the child node itself is taken" test -n "$xn"
t_wait_for "bob gets the child's packet, its own hop first" 20 \
	grep -q " $xo fj-xm-c/x .* fj-xm-c:up,fj-xm:up" "$T_DIR/bob.txt"
t_wait_for "alice gets the child node's notice" 20 grep -q " $xn fj-xm-c " "$T_DIR/alice.txt"
t_check "alice got no notice from eve" t_not grep -q " fj-xm-a/eve " "$T_DIR/alice.txt"
t_check "bob never got the packet with invented hops" t_not grep -q "fake-" "$T_DIR/bob.txt"
t_check "no trace packet of eve's reached bob" t_not grep -q " ${xt:-none} " "$T_DIR/bob.txt"
t_check "the master's audit holds no audit copy from eve" \
	t_not grep -q "kind=audit.*src=fj-xm-a/eve" <(n_audit "$T_DIR/master/journal" --id "$x1")

# ----------------------------------------------- 3. replies (the SDK)
t_bg req "$CLI" -u "$(n_url ca)" -a fj-xm-a/ann -s "$T_DIR/ann.secret" -T 40 \
	request fj-xm-b/bob consult.ask "is this a fracture?"
t_wait_for "bob gets ann's request" 15 grep -q " fj-xm-a/ann " "$T_DIR/bob.txt"
rid=$(awk '$4 == "fj-xm-a/ann" { print $3; exit }' "$T_DIR/bob.txt")
t_check "eve sends ann a 'reply' to it" tc_send ca eve fj-xm-a/ann 1 -y "$rid"
sleep 2
t_check "ann's request is still waiting" t_alive req
t_check "eve's answer did not complete it" t_not grep -q "^n=1 src=fj-xm-a/eve" "$T_DIR/req.log"
t_check "bob replies" tc_send cb bob fj-xm-a/ann 1 -y "$rid"
t_check "ann's request ends" t_wait req 15
t_eq "with exit 0" 0 "$T_STATUS"
t_check "with bob's reply" grep -q "^n=1 src=fj-xm-b/bob" "$T_DIR/req.log"

# --------------------------------- 5. refused upstream, told downstream
rc=0
"$CLI" -u "$(n_url ev)" -a evil/mallory -s "$T_DIR/mallory.secret" -T 15 \
	send --receipt fj-xm-b/bob consult.ask "hello" >"$T_DIR/mallory.out" 2>&1 || rc=$?
sed 's/^/# mallory: /' "$T_DIR/mallory.out"
t_eq "mallory's cascade send exits 5 (rejected), not 4 (timeout)" 5 "$rc"
t_check "it says rejected" grep -q "rejected" "$T_DIR/mallory.out"
t_check "the master refused it as spoofed" grep -q "packet .* rejected: spoofed source: src evil/mallory" \
	"$T_DIR/master.log"
t_check "the master sent no notice to the unroutable src" \
	t_not grep -q "local packet to evil/mallory rejected" "$T_DIR/master.log"
t_done
