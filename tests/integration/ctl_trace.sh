#!/bin/bash
# cascadectl trace: master fj (client carol, offline), city fj-x, counties
# fj-x-a (alice) and fj-x-b (bob). A packet from alice to carol is traced
# from alice's county: three lines, the county and the city forwarded it up,
# the master holds it in carol's inbox; after carol takes it, delivered.
# Asked at the city: two lines. bob's packet asked from alice's county: the
# county has not got it, the city refuses (not of fj-x-a's subtree) and says
# so in its line, without asking further. A bad id is a usage error; a
# down parent link is named in the trace. fj-x-b's link runs over http.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init ctl_trace
CTL=$top_builddir/node/cascadectl

n_node master fj master
n_node city fj-x
n_node ca fj-x-a
n_node cb fj-x-b
n_link city master; n_link ca city; n_link cb city
n_transport cb http             # bob's county asks over the http carrier (/v1/trace)
n_client master carol; n_client ca alice; n_client cb bob
for n in master city ca cb; do n_start $n; done
ca() { "$CTL" -f "$T_DIR/ca.conf" "$@"; }
linkup() { [ "$("$CTL" -f "$T_DIR/$1.conf" links --json | jq -r '.[] | select(.direction == "parent") | .state')" = up ]; }
for n in city ca cb; do t_wait_for "$n's link is up" 10 linkup $n; done
t_eq "fj-x-b's link runs over http" http "$("$CTL" -f "$T_DIR/cb.conf" links --json | jq -r '.[0].carrier')"

id=$(tc_send ca alice fj/carol 1 -I | awk '/^id / { print $2 }')
t_check "alice's packet has an id" test -n "$id"
bid=$(tc_send cb bob fj/carol 1 -I | awk '/^id / { print $2 }')
t_check "bob's packet has an id" test -n "$bid"
at_master() { [ "$("$CTL" -f "$T_DIR/master.conf" queue carol --json | jq .depth)" = 2 ]; }
t_wait_for "both wait in carol's inbox at the master" 10 at_master

ca trace "$id" >"$T_DIR/trace1"; sed 's/^/# /' "$T_DIR/trace1"
t_eq "trace from the county: three lines" 3 "$(wc -l <"$T_DIR/trace1")"
t_check "the county forwarded it up" grep -q '^fj-x-a  *up forwarded' "$T_DIR/trace1"
t_check "the city forwarded it up" grep -q '^fj-x  *up forwarded' "$T_DIR/trace1"
t_check "the master holds it for carol" grep -q '^fj  *client:carol queued' "$T_DIR/trace1"
t_eq "--json: the nodes in route order" "fj-x-a fj-x fj" "$(ca trace "$id" --json | jq -r '[.[].node] | join(" ")')"
t_eq "asked at the city: two lines" 2 "$("$CTL" -f "$T_DIR/city.conf" trace "$id" | wc -l)"

ca trace "$bid" >"$T_DIR/trace2"; sed 's/^/# /' "$T_DIR/trace2"
t_check "bob's packet: not at alice's county" grep -q '^fj-x-a  *not in the journal here' "$T_DIR/trace2"
t_check "the city refuses: not of fj-x-a's subtree" grep -q "^fj-x  *refused: not a packet of fj-x-a's subtree" "$T_DIR/trace2"
t_eq "and it went no further" 2 "$(wc -l <"$T_DIR/trace2")"
t_check "the city logged the refusal" grep -q "trace: fj-x-a asked about a packet outside its subtree: refused" "$T_DIR/city.log"
t_check "bob's county may ask" bash -c "'$CTL' -f '$T_DIR/cb.conf' trace '$bid' | grep -q '^fj  *client:carol queued'"

tc_recv_bg carol master carol 2 -W 20
t_check "carol takes both" t_wait carol 30
t_wait_for "then: delivered at the master" 10 eval "ca trace '$id' | grep -q '^fj  *client:carol delivered'"

t_eq "a bad id: exit 1 (bad request)" 1 "$(ca trace nosuch >/dev/null 2>"$T_DIR/err"; echo $?)"
t_check "... saying what an id is" grep -q "is not a packet id" "$T_DIR/err"
t_eq "trace without an id: usage, exit 2" 2 "$(ca trace >/dev/null 2>&1; echo $?)"
n_stop city
t_wait_for "the county sees its link down" 10 eval '! linkup ca'
t_check "with the city down, the trace says so" bash -c "'$CTL' -f '$T_DIR/ca.conf' trace '$id' | grep -q '^fj-x  *no answer: the link to the parent is not up'"
t_check "the county still runs" t_alive ca
t_done
