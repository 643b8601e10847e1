#!/bin/bash
# Issue 8.6: a man in the middle on a plain link turns the parent's replies
# into error replies ("authentication failed", "no session", "not allowed")
# that carry no valid mac. A child or client must take such an error only as
# "start over": not as a final refusal (the cascade client gave up with
# exit 3), not as "another program took the session", and nothing is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init mitm_errors
MITM=$top_builddir/tests/tools/linkmitm
CLI=$top_builddir/client-sdk/cascade

n_node master fj master
n_node ca fj-a
mport=$(t_free_port)
n_link ca master "$mport"
n_client master alice; n_client master bob; n_client ca carol
n_start master
pv=PORT_master
tc_recv_bg bob master bob 3 -W 40
# mitm OPTIONS...: (re)starts the man in the middle in front of the master
mitm() {
	t_alive mitm && t_kill mitm
	t_bg mitm "$MITM" -l "$mport" -t "127.0.0.1:${!pv}" -n 1 "$@"
	t_wait_for "the man in the middle listens" 5 t_port_open "$mport"
}
tampered() { grep -q "tampered reply to request type $1" "$T_DIR/mitm.log"; }
alice() { "$CLI" -u "tcp://127.0.0.1:$mport" -a fj/alice -s "$T_DIR/alice.secret" -T 20 "$@"; }

echo "# --- a forged 'authentication failed' to the cascade client"
mitm -e 2:4
t_eq "alice's packet is taken all the same" 0 "$(alice -v send fj/bob test.x one 2>"$T_DIR/err1" >/dev/null; echo $?)"
t_check "the man in the middle did forge it" tampered 2
t_check "the client says the refusal was not authenticated" grep -q "not authenticated" "$T_DIR/err1"

echo "# --- a forged 'no session' to the cascade client's push"
mitm -e 3:5
t_eq "alice's second packet is taken" 0 "$(alice -v send fj/bob test.x two 2>"$T_DIR/err2" >/dev/null; echo $?)"
t_check "the man in the middle did forge it" tampered 3
t_check "the client does not believe another program took its session" \
	t_not grep -q "state taken over" "$T_DIR/err2"

echo "# --- a forged 'not allowed' to a child node's push"
mitm -e 3:11
n_start ca
t_eq "carol hands a packet to the child" "sent 1 acked 1" "$(tc_send ca carol fj/bob 1)"
t_wait_for "the man in the middle forged a push reply" 15 tampered 3
t_wait_for "the child says the error was not authenticated" 15 \
	grep -q "link fj: .*push: .*not authenticated" "$T_DIR/ca.log"
t_check "bob's receiver ends" t_wait bob 40
t_eq "bob got all 3" 0 "$T_STATUS"
t_check "none twice" check_exactly_once_ids "$T_DIR/bob.txt"
t_eq "three distinct packets" 3 "$(awk '$6 == 0 { print $3 }' "$T_DIR/bob.txt" | sort -u | wc -l)"
t_done
