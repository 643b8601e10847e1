#!/bin/bash
# A packet sent on a link and not yet acked stays "in flight" across a
# kill -9 of its sender: the restarted node neither expires nor cancels it
# until the peer's next session says whether it has it. Each packet gets
# exactly one outcome: delivered, or an expired/cancelled notice, never both.
#  1. ttl, up a link: ca pushes a ttl packet to the city, whose ack is held
#     by a delaying proxy; ca dies by SIGKILL before the ack, restarts with
#     the link cut and the ttl run out, and expires nothing; the link's
#     Auth then says the city has it.
#  2. cancel, to a client: cb answers bob's pull with a packet, bob's ack is
#     held by a delaying proxy; cb dies by SIGKILL before the ack, restarts
#     with bob cut off, and the source's cancel is "too late", not
#     "cancelled"; bob's next pull acks it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init inflight_restart

n_topo_city2 --proxy ca
# ca must still be waiting for the city's ack when it is killed. With the
# default 3 s dead-timeout its push timed out just as the 3 s proxy delay
# let it through: ca dropped the connection and the city got the push and
# the connection's end within a millisecond, two nng callbacks in either
# order, so whether the session was still there for the push was luck.
# 10 s outlasts the 6 s round trip.
N_DEAD_CA=10s
n_start master city cb
N_DEAD=$N_DEAD_CA n_start ca
t_wait_for "ca's link is up" 15 grep -q "link fj-xm: session .* up" "$T_DIR/ca.log"
t_proxy bobpx "$PORT_cb"
t_bg bob "$T_TCLIENT" recv -u "tcp://127.0.0.1:$bobpx_PORT" -a fj-xm-b/bob \
	-s "$T_DIR/bob.secret" -n 0 -o "$T_DIR/bob.txt" -W 90
tc_recv_bg alice ca alice 0 -W 90
t_wait_for "bob is attached to cb" 15 grep -q "fj-xm-b/bob: session .* up" "$T_DIR/cb.log"

# bob's data packets, counted by id (a resend of the same one counts once)
bob_got() { awk '$6 == 0 { print $3 }' "$T_DIR/bob.txt" 2>/dev/null | sort -u | wc -l; }
bob_has() { [ "$(bob_got)" -ge "$1" ]; }
# depth NODE QUEUE: how many packets wait in QUEUE at NODE (cascadectl queue)
depth() {
	"$top_builddir/node/cascadectl" -f "$T_DIR/$1.conf" queue --json 2>/dev/null |
	    jq -r --arg q "$2" '.[] | select(.name == $q) | .depth'
}
depth_is() { [ "$(depth "$1" "$2")" = "$3" ]; }
# the lines of alice's notices with code $1 (2 expired, 5 cancelled, 6 too late)
alice_notices() { awk -v c="$1" '$6 != 0 && $7 == c' "$T_DIR/alice.txt" 2>/dev/null | wc -l; }
alice_answered() { [ $(($(alice_notices 5) + $(alice_notices 6))) -ge 1 ]; }

echo "# --- 1. ttl: ca killed between its push and the city's ack"
t_check "the link from ca delays each way by 3 s" t_proxy_cmd link delay 3000
t_check "alice sends one packet with a 1 s ttl (notices on)" \
	tc_send ca alice fj-xm-b/bob 1 -T 1000 -N
t_wait_for "bob gets it (the city had it before its ttl ran out)" 15 bob_has 1
# the city's ack is still on its way back (3 s): ca dies before it arrives
t_check "ca is still waiting for the ack" t_not grep -q "session lost" "$T_DIR/ca.log"
t_check "ca is killed with SIGKILL before the ack" n_kill9 ca
t_eq "ca died by SIGKILL" 137 "$T_STATUS"
t_check "the link is cut" t_proxy_cmd link cut
N_DEAD=$N_DEAD_CA n_restart ca
sleep 3		# the ttl ran out long ago; a sweep runs at least every second
t_check "the restarted ca has not expired the packet in flight" t_not grep -q expired "$T_DIR/ca.log"
t_check "the link passes again" t_proxy_cmd link pass
t_wait_for "ca's link is up after the restart" 30 \
	bash -c "[ \$(grep -c 'link fj-xm: session .* up' '$T_DIR/ca.log') -ge 2 ]"
sleep 3		# the resumed session acks it (the city's mark); give a late expiry time
t_eq "bob got it exactly once" 1 "$(bob_got)"
t_eq "alice got no 'expired' notice" 0 "$(alice_notices 2)"
t_check "ca never logged the packet expired" t_not grep -q "expired" "$T_DIR/ca.log"
t_eq "ca's up queue is empty (acked by the city's mark)" 0 "$(depth ca up)"

echo "# --- 2. cancel: cb killed between its pull reply to bob and bob's ack"
t_check "bob's connection delays each way by 3 s" t_proxy_cmd bobpx delay 3000
id=$(tc_send ca alice fj-xm-b/bob 1 -I -N | awk '/^id / { print $2 }')
t_check "alice sent a second packet ($id)" test -n "$id"
t_wait_for "bob gets it" 20 bob_has 2
t_check "cb is killed with SIGKILL before bob's ack" n_kill9 cb
t_eq "cb died by SIGKILL" 137 "$T_STATUS"
t_check "bob is cut off from cb" t_proxy_cmd bobpx cut
n_restart cb
t_wait_for "cb's link is up after the restart" 30 \
	bash -c "[ \$(grep -c 'link fj-xm: session .* up' '$T_DIR/cb.log') -ge 2 ]"
t_check "alice cancels it" tc_send ca alice fj-xm-b/bob 1 -c "$id"
t_wait_for "alice gets an answer to the cancel" 30 alice_answered
t_check "bob reaches cb again" t_proxy_cmd bobpx pass
t_wait_for "bob's pull acks it at cb (his inbox is empty)" 30 depth_is cb client:bob 0
sleep 3		# time for a second answer or a redelivery
t_eq "alice's answer is 'too late' (bob has it), not 'cancelled'" "0 1" \
	"$(alice_notices 5) $(alice_notices 6)"
t_eq "bob got it exactly once" 2 "$(bob_got)"
t_eq "bob saw each packet once on the wire" 2 "$(awk '$6 == 0' "$T_DIR/bob.txt" | wc -l)"
t_check "cb did not log it cancelled" t_not grep -q "cancelled by" "$T_DIR/cb.log"
t_done
