#!/bin/bash
# Priority (issue 9, FLAG_URGENT): a county's link to the master is cut
# (fault proxy) while 5000 routine packets from alice queue there, then 10
# urgent ones from carol (another flow), then 3 urgent ones from alice (a
# flow with routine packets waiting). When the link returns, bob at the
# master must get every urgent carol packet before 2500 of alice's routine
# ones, every packet exactly once, and each flow in its order: alice's
# urgent three after all 5000 of her routine ones. The county's queue
# listing shows the unnumbered lanes (u+N, r+N) meanwhile, the same after
# a restart of the county. Then the same
# at the master for bob's inbox while he is away.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init priority
CTL=$top_builddir/node/cascadectl
R=${PRIO_ROUTINE:-5000}

n_node master fj master
n_node county fj-xm-a
t_proxy link "$PORT_master"
n_link county master "$link_PORT"
n_client master bob
n_client county alice
n_client county carol
n_start master
n_start county
t_wait_for "the county is up" 10 grep -q "link fj: session .* up" "$T_DIR/county.log"
t_proxy_cmd link cut >/dev/null
t_wait_for "the county lost its link" 10 grep -q "session lost" "$T_DIR/county.log"

out=$(tc_send county alice fj/bob "$R" -b 200 -W 60)
t_eq "alice's $R routine packets are taken" "sent $R acked $R" "$out"
out=$(tc_send county carol fj/bob 10 -b 10 -U -W 20)
t_eq "carol's 10 urgent packets are taken" "sent 10 acked 10" "$out"
tc_send county alice fj/bob 3 -b 3 -U -I -W 20 >"$T_DIR/alice_urgent.out"
t_check "alice's 3 urgent packets are taken" grep -q "sent 3 acked 3" "$T_DIR/alice_urgent.out"
awk '$1 == "id" { print $2 }' "$T_DIR/alice_urgent.out" >"$T_DIR/alice_urgent.ids"
t_eq "their ids" 3 "$(wc -l <"$T_DIR/alice_urgent.ids")"

"$CTL" -f "$T_DIR/county.conf" queue up --limit 1000 --after 2040 >"$T_DIR/queue.txt"
t_check "the listing shows the urgent lane after the numbered ones" \
	grep -q "^u+[0-9]* .*fj-xm-a/carol .* yes$" "$T_DIR/queue.txt"
t_check "and the routine lane after it" grep -q "^r+[0-9]* .*fj-xm-a/alice" "$T_DIR/queue.txt"
t_eq "the urgent lane comes first" "u+" "$(awk 'NR > 2 && $1 !~ /^[0-9]/ { print substr($1, 1, 2); exit }' \
	"$T_DIR/queue.txt")"

# a restart keeps the lanes and the numbering (they are in the journal)
n_stop county
n_start county
"$CTL" -f "$T_DIR/county.conf" queue up --limit 1000 --after 2040 >"$T_DIR/queue2.txt"
noage() { awk '{ print $1, $2, $3, $4, $5, $NF }' "$1"; }
t_check "after a restart the listing is the same (but for the ages)" \
	cmp -s <(noage "$T_DIR/queue.txt") <(noage "$T_DIR/queue2.txt")

# the whole queue page by page (--json, --after next_after): each packet
# once, in the order they will be sent
after=0
: >"$T_DIR/listed.ids"
for i in $(seq 1 20); do
	"$CTL" -f "$T_DIR/county.conf" queue up --limit 1000 --after "$after" --json >"$T_DIR/page.json"
	jq -r '.entries[].id' "$T_DIR/page.json" >>"$T_DIR/listed.ids"
	after=$(jq -r '.next_after // 0' "$T_DIR/page.json")
	[ "$after" != 0 ] || break
done
total=$((R + 13))
t_eq "the listing's pages hold every packet once" "$total $total" \
	"$(wc -l <"$T_DIR/listed.ids") $(sort -u "$T_DIR/listed.ids" | wc -l)"
tc_recv_bg bob master bob "$total" -W 90
t_proxy_cmd link pass >/dev/null
t_check "bob gets all $total" t_wait bob 100

# Arrival order at bob (data packets, first arrival of each id).
awk '$6 == 0 && !seen[$3]++ { print $3, $4, $5 }' "$T_DIR/bob.txt" >"$T_DIR/order.txt"
t_eq "every packet once" "$total" "$(wc -l <"$T_DIR/order.txt")"
t_check "no packet twice under another seq" check_exactly_once_ids "$T_DIR/bob.txt"
t_check "bob got them in the order the listing showed" \
	cmp -s <(awk '{ print $1 }' "$T_DIR/order.txt") "$T_DIR/listed.ids"
before=$(awk '$2 == "fj-xm-a/carol" { last = routine } $2 == "fj-xm-a/alice" { routine++ }
	END { print last + 0 }' "$T_DIR/order.txt")
echo "# alice's packets bob had before carol's last urgent one: $before"
t_check "carol's urgent ones come before half of alice's backlog" test "$before" -lt $((R / 2))
t_check "carol's flow in order" awk '$2 == "fj-xm-a/carol" { if ($3 != ++n) bad = 1 }
	END { exit bad || n != 10 }' "$T_DIR/order.txt"
# alice's flow: 1..R routine in order, then her three urgent ones
t_check "alice's flow in order, her urgent ones after her routine ones" \
	awk -v r="$R" 'NR == FNR { u[$1] = 1; next }
	$2 == "fj-xm-a/alice" { k++
		if (k <= r && ($1 in u || $3 != k)) bad = 1
		if (k > r && !($1 in u)) bad = 1 }
	END { exit bad || k != r + 3 }' "$T_DIR/alice_urgent.ids" "$T_DIR/order.txt"
t_eq "nothing left in the county's up queue" 0 \
	"$("$CTL" -f "$T_DIR/county.conf" queue | awk '$1 == "up" { print $3 }')"

# 2. a client's inbox: bob away, R more routine packets and then 5 urgent ones
# wait for him at the master (its queue client:bob, which he pulls and
# acks); when he comes the urgent ones come before half of the rest.
inbox() { "$CTL" -f "$T_DIR/master.conf" queue | awk '$1 == "client:bob" { print $3 }'; }
inbox_is() { [ "$(inbox)" = "$1" ]; }
out=$(tc_send county alice fj/bob "$R" -b 200 -W 60)
t_eq "alice's $R more are taken" "sent $R acked $R" "$out"
out=$(tc_send county carol fj/bob 5 -b 5 -U -W 20)
t_eq "carol's 5 urgent ones are taken" "sent 5 acked 5" "$out"
t_wait_for "all $((R + 5)) wait in bob's inbox at the master" 30 inbox_is $((R + 5))
tc_recv_bg bob2 master bob $((R + 5)) -W 60
t_check "bob gets all $((R + 5))" t_wait bob2 70
awk '$6 == 0 && !seen[$3]++ { print $3, $4, $5 }' "$T_DIR/bob2.txt" >"$T_DIR/order2.txt"
t_eq "every packet once" $((R + 5)) "$(wc -l <"$T_DIR/order2.txt")"
before=$(awk '$2 == "fj-xm-a/carol" { last = routine } $2 == "fj-xm-a/alice" { routine++ }
	END { print last + 0 }' "$T_DIR/order2.txt")
echo "# alice's packets bob had before carol's last urgent one: $before"
t_check "carol's urgent ones come before half of the inbox" test "$before" -lt $((R / 2))
t_check "each flow in order" awk '{ if ($3 != ++n[$2]) bad = 1 } END { exit bad }' \
	"$T_DIR/order2.txt"
n_stop county
n_stop master
t_done
