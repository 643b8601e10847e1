#!/bin/bash
# Issue 8.3: a man in the middle on a plain link rewrites the parent's Auth
# reply. Raising marks[].seq made the child take packets the parent never had
# as acked and delete them; rewriting the carrier moved the link. The child
# must notice (the parent's proof covers the whole reply), start over, and
# lose nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init mitm_auth
MITM=$top_builddir/tests/tools/linkmitm

n_node master fj master
n_node ca fj-a
mport=$(t_free_port)
n_link ca master "$mport"
n_client ca alice
n_client master bob
pv=PORT_master

# 1. marks: five packets wait at the child while its link is down; the first
# Auth reply says the parent holds five more than it does
n_start ca
t_check "alice hands 5 packets to the child" tc_send ca alice fj/bob 5
n_start master
t_bg mitm "$MITM" -l "$mport" -t "127.0.0.1:${!pv}" -n 1 -a 5
tc_recv_bg bob1 master bob 5 -W 30
t_wait_for "the man in the middle rewrote a mark" 15 grep -q 'tampered auth reply: mark' "$T_DIR/mitm.log"
t_check "bob's receiver ends" t_wait bob1 35
t_eq "bob received all 5" 0 "$T_STATUS"
t_check "each exactly once, in order" check_exactly_once "$T_DIR/bob1.txt" 5
t_check "the child says why it refused that reply" \
	grep -q 'link fj: auth: .*reply.*not authenticated' "$T_DIR/ca.log"
t_check "the child did not resume past what it sent" t_not grep -q 'resuming up stream at 6' "$T_DIR/ca.log"

# 2. carrier: the first Auth reply says "use http"; a child on transport
# auto with an http url would move there
t_kill mitm
n_stop ca
n_stop master
n_transport ca auto
n_start master
t_bg mitm "$MITM" -l "$mport" -t "127.0.0.1:${!pv}" -n 1 -c 2
n_start ca
t_wait_for "the man in the middle rewrote the carrier" 15 grep -q 'tampered auth reply: carrier' "$T_DIR/mitm.log"
tc_recv_bg bob2 master bob 3 -W 30
t_check "alice sends 3 more" tc_send ca alice fj/bob 3
t_check "bob's receiver ends" t_wait bob2 35
t_eq "bob received all 3" 0 "$T_STATUS"
t_check "each exactly once" check_exactly_once "$T_DIR/bob2.txt" 3
t_check "the child did not obey the forged carrier" t_not grep -q 'the parent prefers http' "$T_DIR/ca.log"
t_check "master and child still up" t_alive master
t_check "child still up" t_alive ca
t_done
