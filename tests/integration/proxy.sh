#!/bin/bash
# proxy.sh: the fault-injecting proxy and lib.sh do what the integration
# tests rely on.  An echo server stands in for a parent node; tcpclient
# counts the bytes that come back and tells a reset from a close.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
t_init proxy

# kv STRING KEY...: "KEY=VALUE ..." for the KEYs picked out of STRING.
kv() {
	local s=$1 k out=()
	shift
	for k; do
		out+=("$k=$(t_kv "$s" "$k")")
	done
	echo "${out[*]}"
}
stats() { t_proxy_cmd px stats; }
stat_is() { [ "$(t_kv "$(stats)" "$1")" = "$2" ]; }
client() {
	local out
	out=$("$T_TCPCLIENT" "$@" "$px_PORT")
	echo "# tcpclient $*: $out" >&2
	echo "$out"
}
# read_status FD SECS: the status of one read (0 line, 1 EOF or error,
# >128 timeout); the line read goes to $line.
read_status() {
	IFS= read -r -t "$2" line <&"$1"
}

echo "# --- tools: t_free_port, echo server, proxy start"
ports=$(t_free_port 3)
t_eq "t_free_port 3 prints 3 distinct ports" 3 \
    "$(printf '%s\n' $ports | sort -u | grep -c '^[0-9][0-9]*$')"
p=$(t_free_port)
t_check "port $p from t_free_port is in 1024-65535" \
    test "$p" -ge 1024 -a "$p" -le 65535
t_check "nothing listens on port $p" t_not t_port_open "$p"

echo_port=$(t_free_port)
t_bg echo "$T_ECHOSRV" -P "$echo_port"
t_wait_for "echo server listens on $echo_port" 5 t_port_open "$echo_port"
t_proxy px "$echo_port"
t_check "proxy wrote its listen and control ports" \
    test "${px_PORT:-0}" -gt 0 -a "${px_CTL:-0}" -gt 0
t_check "proxy listens on $px_PORT" t_port_open "$px_PORT"

echo "# --- pass"
out=$(client -n 100000 -e 100000)
t_eq "pass: 100000 bytes come back intact" "recv=100000 end=done match=1" \
    "$(kv "$out" recv end match)"
t_wait_for "pass: the proxy closes after both peers did" 5 stat_is conns 0
# total_conns also counts the t_port_open probe above.
t_eq "stats counts bytes both ways and the connections" \
    "ok conns=0 total_conns=2 up=100000 down=100000" "$(stats)"
t_check "the log shows dated connection events" grep -Eq \
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+ faultproxy: conn 1: accepted' \
    "$T_DIR/px.log"

echo "# --- delay"
out=$(client -s ping -e 4)
fast=$(t_kv "$out" ms)
t_check "an undelayed round trip is under 300 ms ($fast ms)" \
    test "$fast" -lt 300
t_eq "delay 300 is taken" "ok delay 300" "$(t_proxy_cmd px delay 300)"
out=$(client -s ping -e 4)
t_eq "delay 300: the echo still comes back" "recv=4 end=done match=1" \
    "$(kv "$out" recv end match)"
slow=$(t_kv "$out" ms)
t_check "delay 300: the round trip takes >= 300 ms ($slow ms)" \
    test "$slow" -ge 300
# Each direction is delayed, so the round trip pays twice.
t_check "delay 300: both directions are delayed ($slow >= 600 ms)" \
    test "$slow" -ge 600
t_proxy_cmd px delay 20 >/dev/null
out=$(client -n 400000 -e 400000 -t 20000)
t_eq "delay 20: 400000 bytes in many chunks come back complete, in order" \
    "recv=400000 end=done match=1" "$(kv "$out" recv end match)"
t_eq "delay 0 turns it off" "ok delay 0" "$(t_proxy_cmd px delay 0)"
t_wait_for "delay: connections closed" 5 stat_is conns 0
t_eq "stats: up and down add up over connections" \
    "up=500008 down=500008" "$(kv "$(stats)" up down)"

echo "# --- cut"
exec 4<>"/dev/tcp/127.0.0.1/$px_PORT"
printf 'hello\n' >&4
read_status 4 2
t_eq "a held connection echoes" hello "$line"
t_wait_for "only the held connection is open" 5 stat_is conns 1
t_eq "cut closes the held connection" "ok cut closed=1" \
    "$(t_proxy_cmd px cut)"
read_status 4 2 2>/dev/null
t_eq "cut: the client reads the end of its stream at once" 1 "$?"
exec 4>&-
out=$(client -t 2000)
t_eq "cut: a new connection is accepted, then closed at once" \
    "recv=0 end=eof" "$(kv "$out" recv end)"
t_check "cut: closed before the 2 s timeout ($(t_kv "$out" ms) ms)" \
    test "$(t_kv "$out" ms)" -lt 1500
t_eq "cut: refused connections are counted" "mode=cut refused=1" \
    "$(kv "$(t_proxy_cmd px show)" mode refused)"
t_eq "pass ends cut" "ok pass closed=0" "$(t_proxy_cmd px pass)"
out=$(client -s again -e 5)
t_eq "pass after cut: forwarding again" "recv=5 end=done match=1" \
    "$(kv "$out" recv end match)"
t_wait_for "cut: connections closed" 5 stat_is conns 0

echo "# --- blackhole"
exec 4<>"/dev/tcp/127.0.0.1/$px_PORT"
printf 'one\n' >&4
read_status 4 2
t_eq "before blackhole: the held connection echoes" one "$line"
before=$(kv "$(stats)" up down)
t_eq "blackhole takes the held connection" "ok blackhole conns=1" \
    "$(t_proxy_cmd px blackhole)"
printf 'two\n' >&4
read_status 4 1
rc=$?
t_check "blackhole: no echo within 1 s, connection still open (read $rc)" \
    test "$rc" -gt 128
out=$(client -s three -e 5 -t 1000)
t_eq "blackhole: a new connection is accepted but silent" \
    "recv=0 end=timeout" "$(kv "$out" recv end)"
t_eq "blackhole: both connections still counted" 2 "$(t_kv "$(stats)" conns)"
t_eq "blackhole: no byte forwarded" "$before" "$(kv "$(stats)" up down)"
t_eq "pass closes the blackholed connections" "ok pass closed=2" \
    "$(t_proxy_cmd px pass)"
read_status 4 2 2>/dev/null
t_eq "pass: the held blackholed connection reads its end" 1 "$?"
exec 4>&-
out=$(client -s four -e 4)
t_eq "pass after blackhole: forwarding again" "recv=4 end=done match=1" \
    "$(kv "$out" recv end match)"
t_wait_for "blackhole: connections closed" 5 stat_is conns 0

echo "# --- reset-after"
t_eq "reset-after 100 arms new connections" "ok reset-after 100 armed=0" \
    "$(t_proxy_cmd px reset-after 100)"
before_up=$(t_kv "$(stats)" up)
before_down=$(t_kv "$(stats)" down)
# 60 bytes up and their echo: the 100th byte is the 40th one down.
out=$(client -n 60 -t 3000)
t_eq "reset-after 100: 60 up, 40 down, then a reset" \
    "sent=60 recv=40 end=reset match=1" "$(kv "$out" sent recv end match)"
t_eq "reset-after 100: stats count the bytes that went through" \
    "up=$((before_up + 60)) down=$((before_down + 40))" \
    "$(kv "$(stats)" up down)"
t_proxy_cmd px reset-after 30 >/dev/null
out=$(client -n 60 -t 3000)
t_eq "reset-after 30: cut mid-chunk going up, nothing comes back" \
    "recv=0 end=reset" "$(kv "$out" recv end)"
t_wait_for "reset-after: connections gone" 5 stat_is conns 0
t_eq "both resets counted" 2 "$(t_kv "$(t_proxy_cmd px show)" resets)"
t_check "the log shows the reset" grep -q 'conn [0-9]*: reset (both sides)' \
    "$T_DIR/px.log"
t_proxy_cmd px reset-after 0 >/dev/null
# Arming a connection that is already open: it waits 1 s before sending.
t_bg late "$T_TCPCLIENT" -w 1000 -n 60 -t 5000 "$px_PORT"
t_wait_for "the late client is connected" 5 stat_is conns 1
t_eq "reset-after 100 arms the open connection" \
    "ok reset-after 100 armed=1" "$(t_proxy_cmd px reset-after 100)"
t_wait late 10
t_eq "the late client exits 0" 0 "$T_STATUS"
t_eq "reset-after 100 on an open connection: 40 down, then a reset" \
    "sent=60 recv=40 end=reset" \
    "$(kv "$(tail -n 1 "$T_DIR/late.log")" sent recv end)"
t_eq "pass disarms reset-after" "ok pass closed=0" "$(t_proxy_cmd px pass)"
out=$(client -n 1000 -e 1000)
t_eq "pass after reset-after: 1000 bytes intact" \
    "recv=1000 end=done match=1" "$(kv "$out" recv end match)"

echo "# --- control errors, target down, SIGTERM, quit"
t_eq "an unknown command is an error" "error unknown command 'bogus'" \
    "$(t_proxy_cmd px bogus)"
t_check "delay needs a number" t_not t_proxy_cmd px delay abc
t_check "reset-after needs a number" t_not t_proxy_cmd px reset-after -5
t_check "cut takes no argument" t_not t_proxy_cmd px cut now

dead=$(t_free_port)
t_proxy px2 "$dead"
out=$("$T_TCPCLIENT" -t 2000 "$px2_PORT")
t_eq "target down: the client's connection is closed" "recv=0 end=eof" \
    "$(kv "$out" recv end)"
t_wait_for "target down: the proxy logs it" 5 \
    grep -q 'target connect failed: Connection refused' "$T_DIR/px2.log"
t_kill px2 TERM
t_eq "SIGTERM: faultproxy exits 0" 0 "$T_STATUS"

t_eq "quit replies" "ok quit" "$(t_proxy_cmd px quit)"
t_wait px 5
t_eq "quit: faultproxy exits 0" 0 "$T_STATUS"
t_check "quit: its port is closed" t_not t_port_open "$px_PORT"

echo "# --- lib.sh: how a test ends"
cat >"$T_DIR/dies.sh" <<EOF
. "$top_srcdir/tests/integration/lib.sh"
set -e
t_init dies
echo "\$T_DIR" >"$T_DIR/dies.dir"
t_check "a passing check" true
t_bg sleeper bash -c 'echo marker-in-log; exec sleep 30'
t_pid sleeper >"$T_DIR/dies.pid"
t_wait_for "sleeper logged" 5 grep -q "^marker-in-log" "\$T_DIR/sleeper.log"	# not t_bg's "=== ... start:" line
false
t_done
EOF
out=$(T_KEEP= bash "$T_DIR/dies.sh" 2>&1)
rc=$?
t_eq "a test that dies under set -e exits 1" 1 "$rc"
t_eq "... its last line counts the crash as a failure" \
    "RESULT: 2 passed, 1 failed" "$(printf '%s\n' "$out" | tail -n 1)"
t_check "... it says where it died" grep -q \
    "ended before t_done (exit 1, last failed: line 9: false" <<<"$out"
t_check "... it shows the tail of its process logs" \
    grep -q '^#   | marker-in-log' <<<"$out"
t_check "... its background process was killed" \
    t_not kill -0 "$(cat "$T_DIR/dies.pid")" 2>/dev/null
t_check "... its directory was removed" t_not test -d "$(cat "$T_DIR/dies.dir")"

cat >"$T_DIR/fails.sh" <<EOF
. "$top_srcdir/tests/integration/lib.sh"
t_init fails
t_eq "strings differ" a b
t_wait_for "never true" 0.3 false
t_check "exit code shown" sh -c 'exit 3'
t_done
EOF
out=$(T_KEEP= bash "$T_DIR/fails.sh" 2>&1)
rc=$?
t_eq "a test with failed checks exits 1" 1 "$rc"
t_eq "... and reports them" "RESULT: 0 passed, 3 failed" \
    "$(printf '%s\n' "$out" | tail -n 1)"
t_check "... t_eq shows both strings" \
    grep -q "^not ok - strings differ (expected 'a', got 'b')" <<<"$out"
t_check "... t_check shows the exit code" \
    grep -q "^not ok - exit code shown (exit 3: sh -c exit 3)" <<<"$out"

t_done
