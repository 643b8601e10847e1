#!/bin/bash
# idle.sh: what an idle node costs (BENCH.md "idle node": RssAnon <= 4 MiB,
# no busy polling, no periodic wake-ups at all).
#
#   A county under a master, the county on tcp and http with a client that
#   signed in once and left; no packet moves. After IDLE_SETTLE seconds each
#   node is watched for IDLE_SECS (60): syscalls per second of all its
#   threads (strace -c -f, the top five by count), CPU seconds used
#   (utime + stime from /proc/PID/stat) and RssAnon at the end.
#
# Environment (all optional):
#   IDLE_SECS       how long each node is watched (60)
#   IDLE_SETTLE     seconds after the start before watching (3)
#   IDLE_CASCADED   the cascaded binary to run (default: the build's)
#   T_KEEP=1        keep the temporary directory (logs, strace output)
. "$(dirname "$0")/../integration/lib.sh"
t_init bench-idle
. "$(dirname "$0")/../integration/nodes.sh"

[ -n "${IDLE_CASCADED:-}" ] && CASCADED=$IDLE_CASCADED
SECS=${IDLE_SECS:-60}
SETTLE=${IDLE_SETTLE:-3}
command -v strace >/dev/null || { echo "idle.sh: strace is not installed" >&2; exit 1; }

n_node master master master
n_node county pv-ct-cy
# the production defaults of pull-wait (nodes.sh's is 2s)
# and dead-timeout: the uplink's held pull (its keepalive) is answered every 15 s
N_PULLWAIT[county]=25s
N_PULLWAIT[master]=25s
N_DEAD=30s
n_link county master
n_http county
n_client county clinic
n_start master >/dev/null || t_check "master starts" false
n_start county >/dev/null || t_check "county starts" false
t_wait_for "county linked" 10 grep -q "session .* up\|signed in\|logged in" "$T_DIR/county.log" || true
# a client that signs in once (a session that may idle out) and leaves
tc_send county clinic master/nobody 1 -W 5 >/dev/null 2>&1 || true
sleep "$SETTLE"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for n in county master; do
	pid=$(t_pid "$n")
	t0=$(ticks "$pid")
	timeout -s INT "$SECS" strace -c -f -q -p "$pid" -o "$T_DIR/$n.strace" >/dev/null 2>&1
	t1=$(ticks "$pid")
	calls=$(awk '$NF == "total" { print $4 }' "$T_DIR/$n.strace")
	rss=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status")
	printf 'idle %-7s secs=%s syscalls=%s per_s=%.2f cpu_s=%.2f rss_anon_kib=%s\n' "$n" "$SECS" \
	    "${calls:-0}" "$(echo "${calls:-0} / $SECS" | bc -l)" \
	    "$(echo "($t1 - $t0) / $hz" | bc -l)" "$rss"
	awk 'f && /^-/ { exit } f { printf "    %-16s %s\n", $NF, $4 } /^-/ { f = 1 }' \
	    "$T_DIR/$n.strace" | sort -k2 -nr | head -5
done
t_done
