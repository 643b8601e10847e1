#!/bin/bash
# Issue 8.17: a refused Auth tells the (unauthenticated) peer only
# "authentication failed" (the same for an unknown name, issue 8.10); that it
# was a wrong secret, and which secret file did not match, go to the node's
# log alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init auth_refusal

n_node master fj master
n_client master alice
n_start master
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/wrong.secret"
chmod 600 "$T_DIR/wrong.secret"
"$T_TCLIENT" auth -u "$(n_url master)" -a fj/alice -s "$T_DIR/wrong.secret" >"$T_DIR/out" 2>"$T_DIR/err"
t_eq "the Auth is refused" "auth authentication failed" "$(cat "$T_DIR/out")"
t_check "the peer hears 'authentication failed'" grep -q "auth: authentication failed: authentication failed" "$T_DIR/err"
t_check "... and not the secret file's path" t_not grep -q "$T_DIR" "$T_DIR/err"
t_check "the node's log names the file and the peer" \
	grep -q "server: fj/alice (127.0.0.1:[0-9]*): login refused: wrong secret (proof does not match $T_DIR/alice.secret)" \
	"$T_DIR/master.log"
t_check "the right secret still works" "$T_TCLIENT" auth -u "$(n_url master)" -a fj/alice -s "$T_DIR/alice.secret"
t_done
