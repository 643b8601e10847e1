#!/bin/bash
# A county stopped and continued, again and again, under traffic, through a
# proxy that also refuses and resets its connections: after every resume its
# link to the city is up again within reconnect max + dead timeout (plus the
# held pull's wait and scheduling slack), and at the end every packet arrived
# exactly once, in order. Issue 17: a county whose session was lost at a
# SIGCONT never dialed its parent again. Then, on purpose through an
# LD_PRELOAD shim: the end of a connection delivered after the next one came
# up, and a carrier that says nothing of a new connection; and a parent
# whose SYNs are dropped.
#
# STALL_CYCLES (default 50) and STALL_SEED (default: random, printed) make a
# failing run repeatable.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init stall
N_DEAD=1s
DEAD_MS=1000 RECONNECT_MAX_MS=1000 WAIT_MS=500	# pull wait: min(pull-wait, dead/2)
CYCLES=${STALL_CYCLES:-50}
SEED=${STALL_SEED:-$RANDOM}
RANDOM=$SEED
echo "# seed $SEED, $CYCLES cycles"

n_topo_city2 --proxy ca
N_PULLWAIT[ca]=1s
n_client ca dave; n_client cb carol
n_start master city cb
LD_PRELOAD="$(t_preload "$top_builddir/tests/tools/.libs/pipeshim.so")" PIPESHIM_LATE_REM=$T_DIR/late-rem \
    PIPESHIM_SWALLOW_ADD=$T_DIR/swallow-add n_start ca

# Steady traffic both ways across the county's link: ~40 packets/s each.
COUNT=4000
tc_recv_bg bob cb bob $COUNT -W 600
tc_recv_bg dave ca dave $COUNT -W 600
t_bg alice "$T_TCLIENT" send -u "$(n_url ca)" -a fj-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-xm-b/bob -n $COUNT -b 2 -i 50 -W 600
t_bg carol "$T_TCLIENT" send -u "$(n_url cb)" -a fj-xm-b/carol -s "$T_DIR/carol.secret" \
	-t fj-xm-a/dave -n $COUNT -b 2 -i 50 -W 600

t_wait_for "traffic flows up" 30 t_lines_over "$T_DIR/bob.txt" 50
t_wait_for "traffic flows down" 30 t_lines_over "$T_DIR/dave.txt" 50

# The county's link lines: "session ... up" is up, the other warnings down.
# The log's count of held repeats ("... N more in the last minute", see
# cascaded(8)) is written up to 5 s later and says nothing of the state now.
link_lines() {
	grep -n 'link fj-xm: \(session\|no \|.*refused\|hello\|auth\|push\|pull\|routes\|connection\|carrier\|.*rebuild\)' \
	    "$T_DIR/ca.log" | grep -v 'link fj-xm: carrier ' |
	    grep -v ' more in the last minute$' || true
}
# link_up_since LINE START_MS: the link's last state line says up, and either
# it came after LINE (a new session) or the old one has outlived every timeout
# that was running when the county stopped.
link_up_since() {
	local last lineno
	last=$(link_lines | tail -n 1)
	[[ $last == *"link fj-xm: session "*" up over"* ]] || return 1
	lineno=${last%%:*}
	[ "$lineno" -gt "$1" ] && return 0
	[ $(($(t_now_ms) - $2)) -gt $((WAIT_MS + DEAD_MS + 200)) ]
}
log_len() { wc -l <"$T_DIR/ca.log"; }

bound_ms=$((WAIT_MS + DEAD_MS + RECONNECT_MAX_MS + DEAD_MS + 1500))
late=0 faults=
for ((i = 1; i <= CYCLES; i++)); do
	pause_ms=$((DEAD_MS / 2 + RANDOM % (DEAD_MS * 3 / 2 + 1)))
	case $((RANDOM % 3)) in
	0) fault=none ;;
	1) fault=cut ;;
	2) fault=reset ;;
	esac
	faults="$faults $fault"
	kill -STOP "$(t_pid ca)"
	case $fault in
	cut) t_proxy_cmd link cut >/dev/null ;;
	reset) t_proxy_cmd link reset-after $((RANDOM % 4000 + 1)) >/dev/null ;;
	esac
	sleep "$((pause_ms / 1000)).$(printf '%03d' $((pause_ms % 1000)))"
	n=$(log_len)
	kill -CONT "$(t_pid ca)"
	start=$(t_now_ms)
	# the county meets the fault for a moment before it clears
	[ "$fault" = none ] || { sleep 0.3; t_proxy_cmd link pass >/dev/null; }
	if ! t_wait_for "cycle $i ($fault, stopped $pause_ms ms): the link is up again" \
	    "$((bound_ms / 1000)).$(printf '%03d' $((bound_ms % 1000)))" link_up_since "$n" "$start"; then
		late=$((late + 1))
		link_lines | tail -n 3 | sed 's/^/#   /'
		# one wedge is enough to know; don't wait out 50 of them
		[ "$late" -ge 3 ] && break
	fi
done
echo "# faults:$faults"
t_eq "every resume brought the link back in time" 0 "$late"

# The county runs with tests/tools/pipeshim.c preloaded (see its start above):
# link_up_after LINE: the last link line says up, and came after LINE.
link_up_after() {
	local last
	last=$(link_lines | tail -n 1)
	[[ $last == *"link fj-xm: session "*" up over"* ]] && [ "${last%%:*}" -gt "$1" ]
}
in_log_after() { tail -n +$(($1 + 1)) "$T_DIR/ca.log" | grep -q "$2"; }
bound_s=$(((RECONNECT_MAX_MS + DEAD_MS + 1500) / 1000)).5

# The storm can leave nng's reaper thread wedged for good (then no pipe
# end is reported, and the link lives on rebuilt carriers): a fresh county
# for the parts below, which need nng's events to flow.
n=$(log_len)
t_kill ca TERM
LD_PRELOAD="$(t_preload "$top_builddir/tests/tools/.libs/pipeshim.so")" PIPESHIM_LATE_REM=$T_DIR/late-rem \
    PIPESHIM_SWALLOW_ADD=$T_DIR/swallow-add n_start ca
t_wait_for "the county is up again" 10 link_up_after "$n"

# 2. The end of a connection reaches the link after the next one came up.
n=$(log_len)
touch "$T_DIR/late-rem"
t_proxy_cmd link cut >/dev/null; t_proxy_cmd link pass >/dev/null
t_wait_for "the old connection's end is delivered after the new one is up" 5 \
    in_log_after "$n" 'REM_POST of pipe .* delivered now, late'
rm -f "$T_DIR/late-rem"
sleep 0.5
t_wait_for "the link is up on the new connection" "$bound_s" link_up_after "$n"
sleep 1.5
t_check "and stays up" link_up_after "$n"

# 3. A carrier that goes silent: a new connection's event never arrives.
n=$(log_len)
touch "$T_DIR/swallow-add"
t_proxy_cmd link cut >/dev/null; t_proxy_cmd link pass >/dev/null
t_wait_for "the new connection's event is swallowed" 5 \
    in_log_after "$n" 'ADD_POST of pipe .* swallowed'
rm -f "$T_DIR/swallow-add"
t_wait_for "the link rebuilds its carrier and is up within reconnect max + dead timeout" \
    "$bound_s" link_up_after "$n"
t_eq "the rebuild is said once in the outage" 1 \
    "$(tail -n +$((n + 1)) "$T_DIR/ca.log" | grep -c 'while the link is down: rebuilding it')"
t_check "the line that says it is up again counts the rebuilds" \
    in_log_after "$n" 'link fj-xm: up again after 1 carrier rebuild'

# 4. A parent whose SYNs are dropped (a firewall that drops, not refuses).
syn_sent() { ss -tn state syn-sent "dport = :$link_PORT" | grep -q "127.0.0.1:$link_PORT"; }
n=$(log_len)
t_check "the proxy drops SYNs" t_proxy_cmd link synhole
t_wait_for "the county's connect hangs in SYN_SENT" 5 syn_sent
sleep 8
t_proxy_cmd link pass >/dev/null
t_wait_for "after the SYN blackhole the link is up within reconnect max + dead timeout" \
    "$bound_s" link_up_after "$n"

t_check "alice: all acked" t_wait alice 300
t_check "carol: all acked" t_wait carol 300
t_check "bob: all received" t_wait bob 300
t_check "dave: all received" t_wait dave 300
t_check "up: exactly once, in order" check_exactly_once "$T_DIR/bob.txt" $COUNT
t_check "down: exactly once, in order" check_exactly_once "$T_DIR/dave.txt" $COUNT
start=$(t_now_ms)
n_stop ca
t_eq "the county stops on SIGTERM with status 0" 0 "$T_STATUS"
t_check "within 5 s" test $(($(t_now_ms) - start)) -lt 5000
t_done
