#!/bin/bash
# Work bounded before and after authentication, on the tcp carrier (issue 8,
# items 7, 8, 10, 12): requests that are cheap to send and costly to unpack
# (an oversized Hello, an envelope and an Auth padded with millions of empty
# entries before any login, a Push of millions of empty packets and a packet
# of millions of empty hops after one), a Hello flood, and failed logins.
# Each time a legitimate login completes within 2 s during the attack, the
# node's peak memory stays bounded, the refusal is logged, and a flow
# between two other clients goes on, exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init limits

BOMB=${LIMITS_BOMB_BYTES:-8388608}      # 8 MiB: 4 M entries of two bytes
n_node county fj-xm-a master
for c in alice bob mallory carol; do n_client county $c; done
n_start county
pid=$(t_pid county)

# peak and current anonymous memory of the node, in kB
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"; }
hwm0=$(hwm)
echo "# county pid $pid, VmHWM at start ${hwm0} kB"

# a flow that must not notice any of this
tc_recv_bg bob county bob 2000 -W 120
t_bg alice "$T_TCLIENT" send -u "$(n_url county)" -a fj-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-xm-a/bob -n 2000 -b 4 -W 120

# login_within MS: carol logs in (Hello + Auth) within MS milliseconds
login_within() {
	local start end out
	start=$(t_now_ms)
	out=$(timeout 30 "$T_TCLIENT" auth -u "$(n_url county)" -a fj-xm-a/carol -s "$T_DIR/carol.secret")
	end=$(t_now_ms)
	echo "login: $out in $((end - start)) ms"
	[ "$out" = "auth ok" ] && [ $((end - start)) -le "$1" ]
}

# attack NAME KIND: sends the bomb in the background, logs carol in while the
# node deals with it, then checks the node's memory and its answer
attack() {
	local name=$1 kind=$2 out
	shift 2
	t_bg "$name" "$T_TCLIENT" bomb -u "$(n_url county)" -B "$kind" -z "$BOMB" "$@"
	sleep 0.5
	t_check "$kind bomb: a login completes within 2 s meanwhile" login_within 2000
	t_check "$kind bomb: answered" t_wait "$name" 60
	out=$(grep '^bomb' "$T_DIR/$name.log")
	echo "# $out; VmHWM now $(hwm) kB"
	t_check "$kind bomb: the node's peak memory grew by less than 64 MiB (the bombs are 8 MiB)" \
		test $(($(hwm) - hwm0)) -lt 65536
	t_check "$kind bomb: the node is still running" t_alive county
	ANSWER=$out
}

attack hellobomb hello -a fj-xm-a/mallory
t_check "hello bomb: refused as too large" grep -q "bomb hello too large: Hello of" <<<"$ANSWER"
t_check "hello bomb: logged with the peer address" \
	grep -q "server: 127.0.0.1:[0-9]*: Hello of [0-9]* bytes before a session exists" "$T_DIR/county.log"

attack envbomb envelope -a fj-xm-a/mallory
t_check "envelope bomb: refused as too large" grep -q "bomb envelope too large" <<<"$ANSWER"

attack authbomb auth
t_check "auth bomb: refused as too large" grep -q "bomb auth too large: Auth of" <<<"$ANSWER"
t_check "auth bomb: logged with the peer address" \
	grep -q "server: 127.0.0.1:[0-9]*: Auth of [0-9]* bytes before a session exists" "$T_DIR/county.log"

# after a login: mallory's own session
attack pushbomb push -a fj-xm-a/mallory -s "$T_DIR/mallory.secret"
t_check "push bomb: refused as too large" grep -q "bomb push too large: batch of [0-9]* packets (max-batch is 256)" <<<"$ANSWER"
t_check "push bomb: logged with the peer" \
	grep -q "fj-xm-a/mallory (127.0.0.1:[0-9]*): batch of [0-9]* packets (max-batch is 256)" "$T_DIR/county.log"

attack hopsbomb hops -a fj-xm-a/mallory -s "$T_DIR/mallory.secret"
t_check "hops bomb: refused as too large" grep -q "bomb hops too large: packet 1 of the batch has [0-9]* bytes (max-packet is 1048576)" <<<"$ANSWER"
t_check "hops bomb: logged with the peer" \
	grep -q "fj-xm-a/mallory (127.0.0.1:[0-9]*): packet 1 of the batch has [0-9]* bytes" "$T_DIR/county.log"
# within max-packet: 512 K empty hops
attack hopsbomb2 hops -a fj-xm-a/mallory -s "$T_DIR/mallory.secret" -z 1048576
t_check "1 MiB hops bomb: refused for its hop count" grep -q "bomb hops too large: packet 1 of the batch has 524288 hops (at most 32)" <<<"$ANSWER"

# a login over a slow link (2.5 s between Hello and Auth) during a flood of
# Hellos from another client and from names nobody knows
t_bg flood1 "$T_TCLIENT" hflood -u "$(n_url county)" -a fj-xm-a/mallory -n 8000
t_bg flood2 "$T_TCLIENT" hflood -u "$(n_url county)" -a fj-xm-a/nobody -n 8000
sleep 0.3
out=$("$T_TCLIENT" auth -u "$(n_url county)" -a fj-xm-a/carol -s "$T_DIR/carol.secret" -D 2500)
t_eq "a slow login during a Hello flood succeeds" "auth ok" "$out"
t_check "the floods ended" t_wait flood1 60
t_check "the floods ended" t_wait flood2 60
echo "# $(grep hellos "$T_DIR/flood1.log") / $(grep hellos "$T_DIR/flood2.log")"
t_check "an unknown name gets a challenge like a known one" grep -q "hellos 8000 ok 8000" "$T_DIR/flood2.log"
t_check "logged: Hello from an unknown name" \
	grep -q 'server: 127.0.0.1:[0-9]*: Hello from unknown client "fj-xm-a/nobody"' "$T_DIR/county.log"
out=$("$T_TCLIENT" auth -u "$(n_url county)" -a fj-xm-a/nobody -s "$T_DIR/alice.secret")
t_eq "an unknown name's Auth fails like a wrong secret" "auth authentication failed" "$out"

t_check "the other flow: all 2000 acked" t_wait alice 120
t_check "the other flow: all 2000 received" t_wait bob 120
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob.txt" 2000

# failed logins (last: they lock 127.0.0.1 out): logged with the address,
# then refused for the rest of the minute (auth-fail-max, 10 by default)
for i in $(seq 12); do
	"$T_TCLIENT" auth -u "$(n_url county)" -a fj-xm-a/carol -s "$T_DIR/alice.secret" >>"$T_DIR/fails.txt"
done
# (the unknown name's Auth above was the address's first failure)
t_eq "nine more wrong secrets fail" 9 "$(grep -c 'auth authentication failed' "$T_DIR/fails.txt")"
t_eq "then logins from the address are refused for now" 3 "$(grep -c 'auth busy' "$T_DIR/fails.txt")"
t_check "failures logged with the address" \
	grep -q "server: fj-xm-a/carol (127.0.0.1:[0-9]*): login refused: wrong secret" "$T_DIR/county.log"
t_check "the lockout logged" \
	grep -q "server: 127.0.0.1: 10 failed logins within 60 s: logins from this address refused" "$T_DIR/county.log"
out=$("$T_TCLIENT" auth -u "$(n_url county)" -a fj-xm-a/carol -s "$T_DIR/carol.secret")
t_eq "even the right secret waits until the minute is over" "auth busy" "$out"
t_check "the county is still running" t_alive county
t_done
