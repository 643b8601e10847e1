#!/bin/bash
# chaos.sh: a seven-node tree with every carrier, under overlapping random
# faults (issue 14). The tree (ids carry their parent's as a prefix):
#
#	master fj ==tls+tcp== province fj-p --tcp-- city fj-p-a --http-- county fj-p-a-x
#	                                   |                    `--auto-- county fj-p-a-y
#	                                   `-https-- city fj-p-b --tcp--- county fj-p-b-z
#
# Every link goes through a faultproxy (the auto link through two: its tcp
# and its http path). Six tclient flows cross the tree at every level (one
# urgent, one with a ttl), an SDK request/echo pair, an SDK sender with
# receipts to an SDK receiver with a state directory, SDK cancels of
# packets for a client that never comes (one answer each), a flow with a
# ttl short enough (CHAOS_TTL_MS, default 2500) that some packets expire in
# the faults (each delivered once or its source told "expired" once), and
# cancel races: a packet, then its cancel 0 to 0.6 s later (either
# "cancelled" and never delivered, or delivered once and "too late"). For CHAOS_SECONDS (default 120) a
# driver, seeded by CHAOS_SEED (default random, printed), at random moments
# kills -9 and restarts a node (the master too), SIGSTOPs one for a while,
# cuts, blackholes, resets mid-frame, delays and SYN-drops links, blocks the
# auto link's tcp path so it falls back to http, and restarts clients (the
# SDK receiver with its state directory). Faults overlap. Then the faults
# stop, the tree drains, and: every packet delivered exactly once and in
# order per flow, every receipt and reply back, every cancel answered,
# every journal opens (mdb_stat), every hash chain verifies (cascadectl audit verify
# -v), every node stops cleanly, no process left behind. The last line
# before RESULT is the summary:
#	chaos: N sent, N delivered, 0 lost, 0 duplicated, 0 out of order, K kills, ...
#
# CHAOS_PACKETS (default 10 000) is the tclient total. make check runs the
# short form; make chaos the long one (tests/chaos/local.mk).
. "$(dirname "$0")/../integration/lib.sh"
t_init chaos
. "$(dirname "$0")/../integration/nodes.sh"
SECONDS_RUN=${CHAOS_SECONDS:-120}
PACKETS=${CHAOS_PACKETS:-10000}
SEED=${CHAOS_SEED:-$RANDOM$RANDOM}
RANDOM=$SEED
echo "# chaos: seed $SEED, $SECONDS_RUN s of faults, $PACKETS packets (replay: CHAOS_SEED=$SEED CHAOS_SECONDS=$SECONDS_RUN CHAOS_PACKETS=$PACKETS)"
N_DEAD=2s
PEER=$top_builddir/tests/sdk/sdkpeer
DRAIN_S=$((SECONDS_RUN + 600))

t_check "test PKI" n_pki "$T_DIR/pki"

NODES="master prov ca cb cx cy cz"
n_node master fj master
n_node prov fj-p
n_node ca fj-p-a
n_node cb fj-p-b
n_node cx fj-p-a-x
n_node cy fj-p-a-y
n_node cz fj-p-b-z
n_tls master "$T_DIR/pki"
n_tls prov "$T_DIR/pki"
# the proxies in front of every link
t_proxy pprov "$TPORT_master"
t_proxy pca "$PORT_prov"
t_proxy pcb "$SPORT_prov"
t_proxy pcx "$HPORT_ca"
t_proxy pcyt "$PORT_ca"
t_proxy pcyh "$HPORT_ca"
t_proxy pcz "$PORT_cb"
PROXIES="pprov pca pcb pcx pcyt pcyh pcz"
n_link prov master; n_transport prov tls "$pprov_PORT"
n_link ca prov "$pca_PORT"
n_link cb prov; n_transport cb https "$pcb_PORT"
n_link cx ca; n_transport cx http "$pcx_PORT"
n_link cy ca "$pcyt_PORT"; n_transport cy auto "$pcyh_PORT"
n_link cz cb "$pcz_PORT"

# tclient flows: sender client@node -> receiver; name:node:client:dst-node:dst-client:opts
FLOWS="ax:cx:ax:cz:bz: ez:cz:ez:cy:dy:-T_3600000 ey:cy:ey:master:mm:-U
mf:master:mf:cx:gx: ha:ca:ha:cb:ib: jp:prov:jp:cy:ky:-U"
for f in $FLOWS; do
	IFS=: read -r s sn sc dn dc _ <<<"$f"
	n_client "$sn" "$sc"; n_client "$dn" "$dc"
done
n_client cz echo; n_client cx req		# request/reply
n_client cb rs; n_client prov rr		# receipts, SDK state directory
n_client master cl; n_client cy nobody		# cancels (nobody never logs in)
n_client cz tt; n_client cx tu			# ttls that expire in the faults
n_client ca kc; n_client cb kd			# cancels racing their packets
for n in $NODES; do n_start "$n"; done
up() { grep -q "link $2: session .* up over" "$T_DIR/$1.log"; }
t_wait_for "the province is up over tls+tcp" 20 grep -q "link fj: session .* up over tcp to tls+tcp://" "$T_DIR/prov.log"
t_wait_for "city b is up over https" 20 grep -q "link fj-p: session .* up over http to https://" "$T_DIR/cb.log"
t_wait_for "county x is up over http" 20 grep -q "link fj-p-a: session .* up over http" "$T_DIR/cx.log"
t_wait_for "county y (auto) is up over tcp" 20 grep -q "link fj-p-a: session .* up over tcp" "$T_DIR/cy.log"
t_wait_for "city a and county z are up" 20 eval 'up ca fj-p && up cz fj-p-b'
[ "$T_FAIL" -eq 0 ] || exit 1		# no tree, no chaos

# --- traffic
PER=$(((PACKETS + 5) / 6))
BATCH=4
# paced so the senders finish about when the faults stop, outages included
IVAL=$((SECONDS_RUN * 1000 * BATCH * 7 / 10 / PER))
recv_start() {	# recv_start NAME: (re)starts the tclient receiver NAME (see FLOWS)
	local f s sn sc dn dc o
	for f in $FLOWS; do
		IFS=: read -r s sn sc dn dc o <<<"$f"
		[ "$dc" = "$1" ] || continue
		t_bg "$dc" "$T_TCLIENT" recv -u "$(n_url "$dn")" -a "${N_ID[$dn]}/$dc" \
			-s "$T_DIR/$dc.secret" -n 0 -o "$T_DIR/$dc.txt" -W "$DRAIN_S"
	done
}
RECEIVERS=
for f in $FLOWS; do
	IFS=: read -r s sn sc dn dc o <<<"$f"
	RECEIVERS="$RECEIVERS $dc"
	recv_start "$dc"
	t_bg "$s" sh -c '"$@"; echo $? >"$0"' "$T_DIR/$s.rc" \
		"$T_TCLIENT" send -u "$(n_url "$sn")" -a "${N_ID[$sn]}/$sc" -s "$T_DIR/$sc.secret" \
		-t "${N_ID[$dn]}/$dc" -n "$PER" -b "$BATCH" -i "$IVAL" -W "$DRAIN_S" ${o//_/ }
done
# peer_bg TAG MODE NODE CLIENT [opts]: sdkpeer in the background; its exit
# status goes to TAG.rc, since bash may have forgotten the status of a
# child that ended long before a long run's end (wait then says 127)
peer_bg() {
	local tag=$1 mode=$2 name=$3 client=$4; shift 4
	rm -f "$T_DIR/$tag.rc"
	t_bg "$tag" sh -c '"$@"; echo $? >"$0"' "$T_DIR/$tag.rc" "$PEER" "$mode" \
		-u "$(n_url "$name")" -a "${N_ID[$name]}/$client" \
		-s "$T_DIR/$client.secret" -W "$DRAIN_S" "$@"
}
peer_rc() { t_wait "$1" "$2" && cat "$T_DIR/$1.rc" 2>/dev/null; }
# peer_kill9 TAG: kill -9 the sdkpeer itself, then its sh
peer_kill9() {
	local c
	for c in $(pgrep -P "$(t_pid "$1")"); do kill -KILL "$c" 2>/dev/null; done
	t_kill "$1" KILL
}
NREQ=$((SECONDS_RUN / 6)) NRCPT=$((SECONDS_RUN * 2))
peer_bg echo echo cz echo -n "$NREQ"
peer_bg req request cx req -t fj-p-b-z/echo -n "$NREQ" -T $((DRAIN_S * 1000))
peer_bg rr recv prov rr -n "$NRCPT" -o "$T_DIR/rr.txt" -S "$T_DIR/rr-state"
peer_bg rs send cb rs -t fj-p/rr -n "$NRCPT" -i 350 -R -S "$T_DIR/rs-state"
NCANCEL=0
# The ttl flow: cz/tt -> cx/tu across four links, a ttl short enough that
# some packets expire in an outage. Each must be delivered once or its
# source told "expired" once, never both, never neither. tt's notices are
# pulled by a tclient of its own (tt-n).
NTTL=$(((PER + 4) / 5)) TTL_MS=${CHAOS_TTL_MS:-2500}
t_bg ttn "$T_TCLIENT" recv -u "$(n_url cz)" -a fj-p-b-z/tt -s "$T_DIR/tt.secret" \
	-n 0 -o "$T_DIR/tt-n.txt" -W "$DRAIN_S"
t_bg tun "$T_TCLIENT" recv -u "$(n_url cx)" -a fj-p-a-x/tu -s "$T_DIR/tu.secret" \
	-n 0 -o "$T_DIR/tu.txt" -W "$DRAIN_S"
# (its ids on a file of their own: on the log, stderr would cut into them)
t_bg tt sh -c '"$@" >"$0"; echo $? >"$0.rc"' "$T_DIR/tt.out" "$T_TCLIENT" send -u "$(n_url cz)" \
	-a fj-p-b-z/tt -s "$T_DIR/tt.secret" -t fj-p-a-x/tu -n "$NTTL" -b "$BATCH" \
	-i $((IVAL * 5)) -W "$DRAIN_S" -T "$TTL_MS" -N -I
# The cancel race: ca/kc sends one packet to cb/kd, then after 0 to 0.6 s
# cancels it: the cancel wins (kd never gets it, kc hears "cancelled") or
# loses (kd gets it once, kc hears "too late"), exactly one of them.
t_bg kcn "$T_TCLIENT" recv -u "$(n_url ca)" -a fj-p-a/kc -s "$T_DIR/kc.secret" \
	-n 0 -o "$T_DIR/kc-n.txt" -W "$DRAIN_S"
t_bg kdr "$T_TCLIENT" recv -u "$(n_url cb)" -a fj-p-b/kd -s "$T_DIR/kd.secret" \
	-n 0 -o "$T_DIR/kd.txt" -W "$DRAIN_S"
race_one() {	# race_one DELAY_MS: one packet and its cancel; the id goes to races.txt
	local id
	id=$(tc_send ca kc fj-p-b/kd 1 -I -N -W "$DRAIN_S" | awk '/^id / { print $2 }')
	[ -n "$id" ] || { echo "race: the packet was not sent"; return 1; }
	echo "$id" >>"$T_DIR/races.txt"
	sleep "$(printf '0.%03d' "$1")"
	tc_send ca kc fj-p-b/kd 1 -c "$id" -W "$DRAIN_S"
}
# races UNTIL_MS: one race after another, 1 to 3 s apart, until UNTIL_MS
# (one process, not one per race: fewer children for bash to remember)
races() {
	RANDOM=$((SEED + 1))
	while [ "$(t_now_ms)" -lt "$1" ]; do
		race_one $((RANDOM % 600))
		sleep "$((1 + RANDOM % 2)).$((RANDOM % 10))"
	done
	echo done >"$T_DIR/races.done"
}

# --- faults. Each fault is undone by a command due at a time: UNDO_AT[i],
# UNDO[i]; BUSY[target] keeps two faults off one target.
declare -A BUSY=() UNDO_AT=() UNDO=()
KILLS=0 STOPS=0 LINKFAULTS=0 CLIENTRESTARTS=0 BLOCKS=0 STOPPED=
undo_n=0
later() {	# later MS TARGET CMD...: run CMD in MS ms, then free TARGET
	local ms=$1 t=$2; shift 2
	undo_n=$((undo_n + 1))
	UNDO_AT[$undo_n]=$(($(t_now_ms) + ms))
	UNDO[$undo_n]="$*; unset 'BUSY[$t]'"
	BUSY[$t]=1
}
run_due() {	# run_due [all]: the undo commands that are due (or all of them)
	local i now
	now=$(t_now_ms)
	for i in "${!UNDO_AT[@]}"; do
		[ "${1:-}" = all ] || [ "${UNDO_AT[$i]}" -le "$now" ] || continue
		eval "${UNDO[$i]}"
		unset "UNDO_AT[$i]" "UNDO[$i]"
	done
}
pick() { local a=($*); echo "${a[RANDOM % ${#a[@]}]}"; }
T0=$(t_now_ms)
say() { echo "# t=$((($(t_now_ms) - T0) / 1000))s $*"; }
restart_node() { say "restart $1"; n_start "$1" >/dev/null || say "restart $1 FAILED"; }
cont_node() { kill -CONT "$(t_pid "$1")" 2>/dev/null; STOPPED=; say "cont $1"; }
block_tcp() {	# the auto link's tcp path blocked: it falls back to http
	[ -z "${BUSY[pcyt]:-}" ] || return 0
	say "block county y's tcp path"
	t_proxy_cmd pcyt cut >/dev/null; LINKFAULTS=$((LINKFAULTS + 1)) BLOCKS=$((BLOCKS + 1))
	later $((8000 + RANDOM % 10000)) pcyt "t_proxy_cmd pcyt pass >/dev/null; say 'unblock county y tcp'"
}
fault() {
	local t n f
	# one fallback in every run, a third of the way in
	if [ "$BLOCKS" = 0 ] && [ $(($(t_now_ms) - T0)) -gt $((SECONDS_RUN * 333)) ]; then
		block_tcp
		return 0
	fi
	case $((RANDOM % 10)) in
	0 | 1 | 2)	# kill -9 a node, restart it a moment later
		n=$(pick $NODES); [ -z "${BUSY[$n]:-}" ] || return 0
		say "kill -9 $n"
		kill -CONT "$(t_pid "$n")" 2>/dev/null; [ "$STOPPED" != "$n" ] || STOPPED=
		n_kill9 "$n"; KILLS=$((KILLS + 1))
		later $((300 + RANDOM % 2700)) "$n" restart_node "$n" ;;
	3)	# SIGSTOP one node for a while
		[ -z "$STOPPED" ] || return 0
		n=$(pick $NODES); [ -z "${BUSY[$n]:-}" ] || return 0
		say "stop $n"
		kill -STOP "$(t_pid "$n")"; STOPPED=$n; STOPS=$((STOPS + 1))
		later $((1000 + RANDOM % 4000)) "$n" cont_node "$n" ;;
	4 | 5 | 6 | 7)	# a link fault through its proxy
		t=$(pick $PROXIES); [ -z "${BUSY[$t]:-}" ] || return 0
		case $((RANDOM % 5)) in
		0) f=cut ;;
		1) f=blackhole ;;
		2) f="reset-after $((RANDOM % 20000 + 1))" ;;
		3) f="delay $((RANDOM % 300 + 10))" ;;
		4) f=synhole ;;
		esac
		say "link $t: $f"
		t_proxy_cmd "$t" $f >/dev/null; LINKFAULTS=$((LINKFAULTS + 1))
		later $((1000 + RANDOM % 5000)) "$t" "t_proxy_cmd $t pass >/dev/null; say 'link $t: pass'" ;;
	8)	block_tcp ;;
	9)	# restart a client: a tclient receiver, or the SDK receiver with its state
		case $((RANDOM % 3)) in
		0)	[ -z "${BUSY[rr]:-}" ] || return 0
			say "kill -9 the SDK receiver rr"
			peer_kill9 rr
			later $((200 + RANDOM % 2000)) rr "say 'restart rr'; peer_bg rr recv prov rr -n $NRCPT -o $T_DIR/rr.txt -S $T_DIR/rr-state >/dev/null" ;;
		1)	n=$(pick $RECEIVERS); [ -z "${BUSY[$n]:-}" ] || return 0
			say "kill -9 the receiver $n"
			t_kill "$n" KILL
			later $((200 + RANDOM % 2000)) "$n" "say 'restart $n'; recv_start $n >/dev/null" ;;
		2)	# one at a time: two sdkpeers as fj/cl take each other's
			# session, and a handle taken over does not come back (by
			# design), so the first would wait for its answer forever
			[ "$NCANCEL" -eq 0 ] || ! t_alive "cancel$NCANCEL" || return 0
			NCANCEL=$((NCANCEL + 1))
			say "cancel $NCANCEL"
			peer_bg "cancel$NCANCEL" cancel master cl -t fj-p-a-y/nobody >/dev/null ;;
		esac
		CLIENTRESTARTS=$((CLIENTRESTARTS + 1)) ;;
	esac
}

end=$((T0 + SECONDS_RUN * 1000))
t_bg races races "$end"
next=$((T0 + 2000))
while [ "$(t_now_ms)" -lt "$end" ]; do
	run_due
	if [ "$(t_now_ms)" -ge "$next" ]; then
		fault
		next=$(($(t_now_ms) + 500 + RANDOM % 2500))
	fi
	sleep 0.2
done
say "faults stop"
run_due all
for n in $NODES; do t_alive "$n" || restart_node "$n"; done
for n in $RECEIVERS; do t_alive "$n" || recv_start "$n"; done
t_alive rr || peer_bg rr recv prov rr -n "$NRCPT" -o "$T_DIR/rr.txt" -S "$T_DIR/rr-state"

# --- drain
for f in $FLOWS; do
	IFS=: read -r s _ <<<"$f"
	# its status from its file: in a long run pids wrap, and bash may
	# have forgotten a child that ended long ago or its pid gone to another
	t_wait_for "sender $s: all $PER acked" 300 test -s "$T_DIR/$s.rc"
	t_eq "sender $s exit status" 0 "$(cat "$T_DIR/$s.rc" 2>/dev/null)"
done
distinct() { [ -f "$1" ] && awk '$6 == 0 { print $3 }' "$1" | sort -u | wc -l || echo 0; }
has_all() { [ "$(distinct "$T_DIR/$1.txt")" -ge "$PER" ]; }
for n in $RECEIVERS; do
	t_wait_for "receiver $n: all $PER arrived" 300 has_all "$n"
done
t_eq "SDK requests: all $NREQ answered (sdkpeer request's exit status)" 0 "$(peer_rc req 300)"
t_eq "SDK echo ends (its exit status)" 0 "$(peer_rc echo 60)"
t_eq "SDK sender: all $NRCPT receipts back (sdkpeer send -R's exit status)" 0 "$(peer_rc rs 300)"
t_eq "SDK receiver: all $NRCPT received (sdkpeer recv's exit status)" 0 "$(peer_rc rr 300)"
t_eq "SDK receiver: $NRCPT distinct" "$NRCPT" "$(awk '$5 == 0 { print $1 }' "$T_DIR/rr.txt" | sort -u | wc -l)"
t_eq "SDK receiver: none handed over twice unflagged" 0 \
	"$(awk '$5 == 0 && $4 !~ /R/ { print $1 }' "$T_DIR/rr.txt" | sort | uniq -d | wc -l)"
t_check "SDK receiver: in order" awk '$5 == 0 { if ($1 in seen) next; seen[$1] = 1
	if ($3 + 0 <= last[$2] + 0) { printf "%s: %s after %s\n", $2, $3, last[$2]; bad = 1 }
	last[$2] = $3 } END { exit bad }' "$T_DIR/rr.txt"
for ((i = 1; i <= NCANCEL; i++)); do
	t_eq "cancel $i answered CANCELLED (its exit status)" 0 "$(peer_rc "cancel$i" 300)"
done
for n in $RECEIVERS; do
	t_check "receiver $n: exactly once, in order" check_exactly_once "$T_DIR/$n.txt" "$PER"
done

# outcomes IDS DATA NOTICES: one line per packet id of IDS: "id delivered
# expired cancelled too-late other", counting each delivery once per
# (epoch, seq) and each notice once per notice id (a resend is no second one)
outcomes() {
	touch "$2" "$3"
	awk 'FILENAME == ARGV[1] { if (!($1 in want)) { want[$1] = 1; ids[++n] = $1 }; next }
		FILENAME == ARGV[2] { if ($6 != 0 || ($3 SUBSEP $1 SUBSEP $2) in k) next
			k[$3, $1, $2] = 1; d[$3]++; next }
		{ ref = substr($9, 5); if ($6 == 0 || !(ref in want) || ($3 in nid)) next
		  nid[$3] = 1; if ($7 == 2) e[ref]++; else if ($7 == 5) c[ref]++
		  else if ($7 == 6) l[ref]++; else o[ref]++ }
		END { for (i = 1; i <= n; i++) { x = ids[i]
			printf "%s %d %d %d %d %d\n", x, d[x], e[x], c[x], l[x], o[x] } }' "$@"
}
# every ttl packet delivered once or expired once at its source, not both
t_wait_for "ttl sender: all $NTTL taken by its node" 300 test -s "$T_DIR/tt.out.rc"
t_eq "ttl sender exit status" 0 "$(cat "$T_DIR/tt.out.rc" 2>/dev/null)"
awk '/^id [0-9a-f]+-[0-9a-f]+$/ { print $2 }' "$T_DIR/tt.out" >"$T_DIR/tt.ids"
t_eq "ttl sender: $NTTL ids" "$NTTL" "$(sort -u "$T_DIR/tt.ids" | wc -l)"
ttl_open() { outcomes "$T_DIR/tt.ids" "$T_DIR/tu.txt" "$T_DIR/tt-n.txt" | awk '$2 + $3 == 0' | wc -l; }
t_wait_for "ttl: every packet delivered or expired" 120 eval '[ "$(ttl_open)" -eq 0 ]'
t_wait_for "cancel races: the last one ended" 300 test -s "$T_DIR/races.done"
touch "$T_DIR/races.txt"
NRACE=$(sort -u "$T_DIR/races.txt" | wc -l)
t_check "cancel races: some ran ($NRACE)" test "$NRACE" -gt 0
t_eq "cancel races: no race failed to send" 0 "$(grep -c '^race: ' "$T_DIR/races.log")"
race_open() { outcomes "$T_DIR/races.txt" "$T_DIR/kd.txt" "$T_DIR/kc-n.txt" | awk '$4 + $5 == 0' | wc -l; }
t_wait_for "cancel races: every cancel answered" 120 eval '[ "$(race_open)" -eq 0 ]'
sleep 5		# time for a second notice or a late delivery to show
outcomes "$T_DIR/tt.ids" "$T_DIR/tu.txt" "$T_DIR/tt-n.txt" >"$T_DIR/ttl.outcomes"
t_eq "ttl: each packet delivered at most once, expired at most once, never neither" "" \
	"$(awk '!($2 <= 1 && $3 <= 1 && $2 + $3 >= 1 && $4 + $5 + $6 == 0)' "$T_DIR/ttl.outcomes" | head -5)"
TTL_D=$(awk '$2 == 1 && $3 == 0' "$T_DIR/ttl.outcomes" | wc -l)
TTL_E=$(awk '$2 == 0 && $3 == 1' "$T_DIR/ttl.outcomes" | wc -l)
TTL_B=$(awk '$2 == 1 && $3 == 1' "$T_DIR/ttl.outcomes" | wc -l)
# a packet pushed whose ack was lost is not expired by its sender until the
# next session's mark says whether the parent took it (journal.c sweep_try)
t_eq "ttl: never both delivered and expired" 0 "$TTL_B"
outcomes "$T_DIR/races.txt" "$T_DIR/kd.txt" "$T_DIR/kc-n.txt" >"$T_DIR/race.outcomes"
t_eq "cancel races: each cancelled (never delivered) or too late (delivered once), exactly one notice" "" \
	"$(awk '!(($2 == 0 && $4 == 1 && $5 == 0 || $2 == 1 && $4 == 0 && $5 == 1) && $3 + $6 == 0)' \
	"$T_DIR/race.outcomes" | head -5)"
RACE_W=$(awk '$2 == 0 && $4 == 1' "$T_DIR/race.outcomes" | wc -l)
RACE_L=$(awk '$2 == 1 && $5 == 1' "$T_DIR/race.outcomes" | wc -l)
# the SDK cancels: exactly one answer each, also counting what came after
# its sdkpeer had ended (a tclient for fj/cl collects what is left)
if [ "$NCANCEL" -gt 0 ]; then
	"$T_TCLIENT" recv -u "$(n_url master)" -a fj/cl -s "$T_DIR/cl.secret" -n 0 \
		-o "$T_DIR/cl-left.txt" -W 5 >/dev/null 2>&1
	touch "$T_DIR/cl-left.txt"
	t_eq "SDK cancels: one answer per cancel (refs answered more than once)" "" "$(
		{ sed -n 's/^sdkpeer: notice \([0-9]*\) id \([^ ]*\) ref \([^ ]*\) .*/\1 \2 \3/p' \
			"$T_DIR"/cancel*.log
		  awk '$6 != 0 { print $7, $3, substr($9, 5) }' "$T_DIR/cl-left.txt"; } |
		awk '($1 == 5 || $1 == 6) && !($2 in seen) { seen[$2] = 1; n[$3]++ }
			END { for (r in n) if (n[r] > 1) print r, n[r] }')"
fi

# tally FILE: "distinct duplicated out-of-order" of a receiver's data packets
tally() {
	awk '$6 != 0 { next }
		{ key = $1 " " $2
		  if ($3 in first) { if (first[$3] != key) dup++; next }
		  first[$3] = key
		  if ($5 in seen_n) { dup++; next }
		  seen_n[$5] = 1; n++
		  if ($5 + 0 <= last + 0) ooo++
		  last = $5 }
		END { printf "%d %d %d\n", n, dup, ooo }' "$1"
}
sent=0 got=0 dups=0 ooos=0
for n in $RECEIVERS; do
	read -r d u o <<<"$(tally "$T_DIR/$n.txt")"
	sent=$((sent + PER)) got=$((got + d)) dups=$((dups + u)) ooos=$((ooos + o))
done
FALLBACKS=$(grep -c 'link fj-p-a: carrier http, ' "$T_DIR/cy.log")
t_check "county y fell back to http ($FALLBACKS times for $BLOCKS blocks of its tcp path)" test "$FALLBACKS" -gt 0

# --- the end: every process stops, every journal opens, every chain verifies
for n in $RECEIVERS ttn tun kcn kdr; do t_kill "$n" TERM; done
for n in $NODES; do
	n_stop "$n"
	t_eq "$n stops on SIGTERM with status 0" 0 "$T_STATUS"
done
for p in $PROXIES; do t_kill "$p" TERM; done
for n in $NODES; do
	t_check "$n: the journal opens (mdb_stat)" eval "mdb_stat -a '$T_DIR/$n/journal' >'$T_DIR/$n.mdbstat' 2>&1"
	t_check "$n: the hash chain verifies" eval "'$top_builddir/node/cascadectl' audit verify --journal '$T_DIR/$n/journal' >'$T_DIR/$n.verify' 2>&1"
done
left=$(pgrep -f -- "$T_DIR" || true)
t_eq "no process left behind" "" "$left"
echo "chaos: $sent sent, $got delivered, $((sent - got)) lost, $dups duplicated, $ooos out of order," \
	"$KILLS kills, $STOPS stops, $LINKFAULTS link faults, $FALLBACKS fallbacks," \
	"$CLIENTRESTARTS client faults, $NTTL with a ttl: $TTL_D delivered, $TTL_E expired, $TTL_B both," \
	"$NRACE cancel races: $RACE_W cancelled, $RACE_L too late (seed $SEED)"
t_done
