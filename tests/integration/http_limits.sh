#!/bin/bash
# The http listener bounded (issue 8, item 9): trickling connections (one
# byte every 300 ms, which restarts libevent's own timeout every time) are
# capped per address and in all, and cut at http-request-timeout; a Hello
# or Auth with a large Content-Length gets a 413 before its body is read,
# so 30 of them at once cost the node no memory. Meanwhile a login from
# another address completes within 2 s. The attackers use other loopback
# addresses (127.0.0.2...) so that the caps per address can be told apart.
# HTTP_LIMITS_CONF replaces the test's limit directives (empty: a build
# without them, to see the attacks work there).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init http_limits
PBGEN=$top_builddir/tests/tools/pbgen
TCPC=$top_builddir/tests/tools/tcpclient

n_node master fj master
n_client master carol
n_http master
n_set master "session-idle 10s"
n_set master "${HTTP_LIMITS_CONF-http-max-conns 60
http-max-conns-per-address 20
http-request-timeout 2s}"
n_start master
URL=$(n_http_url master)
pid=$(t_pid master)
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"; }
hwm0=$(hwm)

# login_within MS: carol's Hello + Auth over http from 127.0.0.1 within MS
login_within() {
	local start r sn cn
	start=$(t_now_ms)
	"$PBGEN" hello -a fj/carol -K client >"$T_DIR/hello.bin"
	curl -s -m 10 -o "$T_DIR/hr" -H 'Content-Type: application/x-protobuf' \
		--data-binary @"$T_DIR/hello.bin" "$URL/v1/hello" || return 1
	sn=$(t_kv "$("$PBGEN" decode "$T_DIR/hr")" nonce) || return 1
	cn=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	"$PBGEN" auth -a fj/carol -s "$T_DIR/carol.secret" -N "$sn" -C "$cn" >"$T_DIR/auth.bin"
	curl -s -m 10 -o "$T_DIR/ar" -H 'Content-Type: application/x-protobuf' \
		--data-binary @"$T_DIR/auth.bin" "$URL/v1/auth" || return 1
	r=$("$PBGEN" decode "$T_DIR/ar")
	echo "login: $r in $(($(t_now_ms) - start)) ms"
	[[ $r == "type=auth status=OK"* ]] && [ $(($(t_now_ms) - start)) -le "$1" ]
}
t_check "a login over http before the attacks" login_within 2000

echo "# --- 100 trickling connections from one address"
t_bg trickle "$TCPC" -c 100 -d 300 -b 127.0.0.2 -t 6000 "$HPORT_master"
sleep 0.5
t_check "a login during the trickle completes within 2 s" login_within 2000
t_check "the trickle ends" t_wait trickle 20
out=$(grep '^conns=' "$T_DIR/trickle.log")
echo "# $out"
t_eq "20 connections taken (http-max-conns-per-address), 80 refused at once" \
	"refused=80 cut=20 open=0" "$(t_kv "$out" refused | sed 's/^/refused=/') cut=$(t_kv "$out" cut) open=$(t_kv "$out" open)"
t_check "the trickling ones cut within 4 s (http-request-timeout 2s)" \
	test "$(t_kv "$out" last_cut_ms)" -le 4000
t_check "the refusal logged" grep -q "http: 127.0.0.2:[0-9]*: connection refused: 20 open from this address" "$T_DIR/master.log"
t_check "the cut logged" grep -q "http: 127.0.0.2:[0-9]*: request not received whole within 2000 ms" "$T_DIR/master.log"

echo "# --- 4 addresses, 30 connections each: 60 at most in all"
for i in 2 3 4; do
	t_bg "trickle$i" "$TCPC" -c 30 -d 300 -b "127.0.0.$i" -t 4000 "$HPORT_master"
done
sleep 0.5
t_bg trickle5 "$TCPC" -c 10 -d 300 -b 127.0.0.5 -t 3000 "$HPORT_master"
taken=0
for i in 2 3 4 5; do
	t_wait "trickle$i" 20
	out=$(grep '^conns=' "$T_DIR/trickle$i.log")
	echo "# 127.0.0.$i: $out"
	taken=$((taken + $(t_kv "$out" cut) + $(t_kv "$out" open)))
done
t_eq "60 connections taken in all (http-max-conns)" 60 "$taken"
t_eq "the fourth address finds no room" "refused=10" "refused=$(t_kv "$out" refused)"
t_check "the global cap logged" grep -q "connection refused: 60 open (http-max-conns)" "$T_DIR/master.log"
t_check "a login afterwards completes within 2 s" login_within 2000

echo "# --- a Hello and an Auth announcing 8 MB: 413 before the body"
for ep in hello auth; do
	"$TCPC" -t 3000 -o "$T_DIR/big-$ep.out" -s $'POST /v1/'$ep$' HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 8000000\r\n\r\n' \
		"$HPORT_master" >"$T_DIR/big-$ep.txt"
	echo "# $ep: $(cat "$T_DIR/big-$ep.txt"): $(head -c 40 "$T_DIR/big-$ep.out" | tr -d '\r' | head -1)"
	t_check "$ep: 413 without waiting for the body" grep -q "^HTTP/1.1 413" "$T_DIR/big-$ep.out"
	t_check "$ep: logged" grep -q "http: 127.0.0.1:[0-9]*: POST /v1/$ep: Content-Length 8000000 over 65536 before a session exists: 413" "$T_DIR/master.log"
done
head -c 8000000 /dev/zero >"$T_DIR/8m.bin"
pids=()
for i in $(seq 30); do
	curl -s -m 20 -o /dev/null -w '%{http_code}\n' --interface "127.0.0.$((10 + i % 3))" \
		-H 'Content-Type: application/x-protobuf' --data-binary @"$T_DIR/8m.bin" \
		"$URL/v1/auth" >>"$T_DIR/bodies.txt" &
	pids+=($!)
done
wait "${pids[@]}"
echo "# 30 Auths of 8 MB: $(sort "$T_DIR/bodies.txt" | uniq -c | tr '\n' ' '); VmHWM $hwm0 -> $(hwm) kB"
t_eq "30 Auths of 8 MB at once: all 413" 30 "$(grep -c '^413$' "$T_DIR/bodies.txt")"
t_check "the node's peak memory grew by less than 32 MiB" test $(($(hwm) - hwm0)) -lt 32768
t_check "a login afterwards completes within 2 s" login_within 2000
t_check "the master is still running" t_alive master
t_done
