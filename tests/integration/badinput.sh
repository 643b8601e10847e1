#!/bin/bash
# Bad input on a county's tcp port: each is refused or closed, logged with the
# peer where our code sees it, and a flow on another session carries on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init badinput

n_topo_city2
n_node evil fj-xm-b          # a node under A that calls itself B
n_link evil ca
n_client ca dave
n_start master city ca cb

# a flow that must not notice any of this
tc_recv_bg bob cb bob 3000 -W 120
t_bg dave "$T_TCLIENT" send -u "$(n_url ca)" -a fj-xm-a/dave -s "$T_DIR/dave.secret" \
	-t fj-xm-b/bob -n 3000 -b 2 -W 120

# garbage before nng's handshake: nng closes it without an event
exec 3<>/dev/tcp/127.0.0.1/$PORT_ca
printf 'GET / HTTP/1.0\r\n\r\n\x00\xff\xfe garbage' >&3
t_check "garbage connection is closed by the node" timeout 5 cat <&3 >/dev/null
exec 3<&-

out=$("$T_TCLIENT" raw -u "$(n_url ca)" -x ffffffff0102)
t_eq "malformed protobuf: bad request" "status bad request: undecodable request (6 bytes)" "$out"
t_check "logged with the peer address" grep -q "server: 127.0.0.1:[0-9]*: undecodable request" "$T_DIR/ca.log"

out=$("$T_TCLIENT" raw -u "$(n_url ca)" -x 08021003)
t_eq "push without a session: no session" "status no session: no such session" "$out"

out=$(tc_send ca alice fj-xm-b/bob 300 -b 300)
t_check "oversized batch refused: too large" grep -q "push-status too large" <<<"$out"
t_check "logged: batch of 300" grep -q "fj-xm-a/alice (127.0.0.1:[0-9]*): batch of 300 packets (max-batch is 256)" "$T_DIR/ca.log"

out=$("$T_TCLIENT" auth -u "$(n_url ca)" -a fj-xm-a/nobody -s "$T_DIR/alice.secret")
t_eq "unknown peer refused like a wrong secret" "auth authentication failed" "$out"
t_check "logged: unknown client" grep -q 'Hello from unknown client "fj-xm-a/nobody"' "$T_DIR/ca.log"

out=$("$T_TCLIENT" auth -u "$(n_url ca)" -a fj-xm-a/alice -s "$T_DIR/bob.secret")
t_eq "wrong secret refused" "auth authentication failed" "$out"
t_check "logged: wrong secret" grep -q "fj-xm-a/alice (127.0.0.1:[0-9]*): login refused: wrong secret" "$T_DIR/ca.log"

out=$("$T_TCLIENT" auth -u "$(n_url ca)" -a fj-xm-a/alice -s "$T_DIR/alice.secret" -P)
t_eq "replayed Auth refused" "replay authentication failed
auth ok" "$out"
t_check "logged: replayed" grep -q "without a matching Hello" "$T_DIR/ca.log"

out=$(tc_send ca alice fj-xm-b/bob 1 -S fj-xm-b/bob)
t_check "spoofed src rejected" grep -q "reason=spoofed source" <<<"$out"
t_check "logged: spoofed" grep -q "src fj-xm-b/bob is not this client" "$T_DIR/ca.log"

# a node below A claims B's id: the city refuses the claim and B keeps its route
n_start evil
t_wait_for "the city refuses A's claim of fj-xm-b" 15 \
	grep -q "fj-xm-a: claims node id fj-xm-b, which its child block does not allow" "$T_DIR/city.log"

t_check "the other flow: all 3000 acked" t_wait dave 120
t_check "the other flow: all 3000 received by the real B" t_wait bob 120
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob.txt" 3000
t_check "the county is still running" t_alive ca
t_done
