#!/bin/bash
# Routing in a tree: master - province - city - counties A and B, and a second
# province branch. Via the master by default; direct at the city with
# local-delivery direct; with audit-copy the master's journal holds the copy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init tree

n_topo_prov
n_node prov2 fj-p2
n_node cc fj-p2-c
n_link prov2 master; n_link cc prov2
n_client cc carol
n_start master prov prov2 city ca cb cc

# 1. via the master
tc_recv_bg bob1 cb bob 5 -W 30
t_check "alice sends 5 to bob" tc_send ca alice fj-p1-xm-b/bob 5
t_check "bob receives 5" t_wait bob1 30
t_check "each once, in order" check_exactly_once "$T_DIR/bob1.txt" 5
trace=$(awk '$6 == 0 { print $8; exit }' "$T_DIR/bob1.txt")
t_eq "the path goes through the master" \
	"fj-p1-xm-a:up,fj-p1-xm:up,fj-p1:up,fj:down,fj-p1:down,fj-p1-xm:down,fj-p1-xm-b:down" "$trace"

# across provinces
tc_recv_bg carol1 cc carol 3 -W 30
t_check "alice sends 3 to carol" tc_send ca alice fj-p2-c/carol 3
t_check "carol receives 3" t_wait carol1 30
t_check "carol: each once" check_exactly_once "$T_DIR/carol1.txt" 3

# unknown destination: the master bounces it back as undeliverable
tc_recv_bg alice1 ca alice 0 -W 8
t_check "alice sends to a node nobody has" tc_send ca alice fj-nowhere/x 1 -N
t_wait_for "alice gets 'undeliverable'" 15 grep -q ' 1 3 ' "$T_DIR/alice1.txt"

# 2. local-delivery direct at the city: the lowest common ancestor turns it
n_stop city
n_set city "local-delivery direct"
n_set city "audit-copy yes"
n_start city
tc_recv_bg bob2 cb bob 5 -W 30
t_check "alice sends 5 more to bob" tc_send ca alice fj-p1-xm-b/bob 5
t_check "bob receives them" t_wait bob2 30
t_check "each once, in order" check_exactly_once "$T_DIR/bob2.txt" 5
trace=$(awk '$6 == 0 { print $8; exit }' "$T_DIR/bob2.txt")
t_eq "direct: A, city, B" "fj-p1-xm-a:up,fj-p1-xm:down,fj-p1-xm-b:down" "$trace"

# 3. audit-copy: the master's journal holds an audit packet for each of them,
# read beside the running master (a read-only LMDB transaction)
ids=$(awk '$6 == 0 { print $3 }' "$T_DIR/bob2.txt")
has_audit_copies() {
	local id
	for id in $ids; do
		n_audit "$T_DIR/master/journal" --id "$id" | grep -q "accepted .*kind=audit ref=$id" || return 1
	done
}
t_wait_for "the master holds an audit copy of each direct packet" 15 has_audit_copies
first=$(echo "$ids" | head -n1)
t_check "the audit copy names who sent what to whom: src fj-p1-xm-a/alice, dst fj-p1-xm-b/bob" \
	grep -q "accepted .*kind=audit .*src=fj-p1-xm-a/alice dst=fj-p1-xm-b/bob" \
	<(n_audit "$T_DIR/master/journal" --id "$first")
t_check "the master's hash chain verifies while it runs" "$top_builddir/node/cascadectl" audit verify --journal "$T_DIR/master/journal"
t_check "a packet's own events are listed" grep -q "accepted id=$(echo "$ids" | head -n1)" \
	<(n_audit "$T_DIR/city/journal" --id "$(echo "$ids" | head -n1)")
t_done
