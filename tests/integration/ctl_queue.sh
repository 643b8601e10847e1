#!/bin/bash
# cascadectl queue: county fj-a under master fj (not running, so packets
# wait in the county's queue "up"), clients alice and bob (offline, local
# delivery: bob's packets wait in his inbox). The list of queues, a page of
# a link's and of a client's queue with src, dst, command, urgent; paging
# with --limit and --after covers each packet once; unknown queues and bad
# options are refused with their exit codes; and a page from behind a
# backlog of $QUEUE_BACKLOG packets (200 000 by default), whose time is
# printed, not asserted (tests/bench for figures).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init ctl_queue
CTL=$top_builddir/node/cascadectl
BACKLOG=${QUEUE_BACKLOG:-200000}

n_node master fj master
n_node ca fj-a
n_link ca master
n_client ca alice; n_client ca bob
# queue-window: the whole backlog numbered, so seqs are places (the
# lanes' listing beyond the window: priority.sh)
n_set ca "local-delivery direct
queue-window 1000000
quota-packets 0
push-rate 0
max-batch 2000
journal-map-size 1G"
n_start ca
ca() { "$CTL" -f "$T_DIR/ca.conf" "$@"; }
rc() { "$@" >"$T_DIR/out" 2>"$T_DIR/err"; echo $?; }

t_check "alice sends 7 to fj/carol" tc_send ca alice fj/carol 7
t_check "alice sends 3 urgent to bob" tc_send ca alice fj-a/bob 3 -U
t_eq "queue: the list has up with 7 waiting" "up fj 7" \
	"$(ca queue --json | jq -r '.[] | select(.name == "up") | "\(.name) \(.peer) \(.depth)"')"
t_eq "queue: and bob's inbox with 3" "fj-a/bob 3" \
	"$(ca queue --json | jq -r '.[] | select(.name == "client:bob") | "\(.peer) \(.depth)"')"
t_check "queue: the table names both" bash -c "'$CTL' -f '$T_DIR/ca.conf' queue | grep -q '^client:bob  *fj-a/bob  *3 '"
ca queue | sed 's/^/# /'

t_eq "queue fj: 7 entries, from alice to carol" "7 fj-a/alice fj/carol" \
	"$(ca queue fj --json | jq -r '"\(.entries | length) \(.entries[0].src) \(.entries[0].dst)"')"
t_eq "queue fj: the command" "test.echo" "$(ca queue fj --json | jq -r '.entries[0].command')"
t_eq "queue fj: not urgent" false "$(ca queue fj --json | jq -r '.entries[0].urgent')"
t_eq "queue bob (client, short name): 3 urgent" "3 true" \
	"$(ca queue bob --json | jq -r '"\(.entries | length) \([.entries[].urgent] | all)"')"
t_eq "queue fj-a/bob: the same queue" client:bob "$(ca queue fj-a/bob --json | jq -r .name)"
ca queue fj | sed 's/^/# /'

# paging: 3 + 3 + 1, each packet once, the last page says no more
p1=$(ca queue fj --limit 3 --json)
a1=$(jq -r .next_after <<<"$p1")
p2=$(ca queue fj --limit 3 --after "$a1" --json)
a2=$(jq -r .next_after <<<"$p2")
p3=$(ca queue fj --limit 3 --after "$a2" --json)
t_eq "page 1: 3 entries" 3 "$(jq '.entries | length' <<<"$p1")"
t_eq "page 3: the last one" "1 0" "$(jq -r '"\(.entries | length) \(.next_after)"' <<<"$p3")"
t_eq "pages: 7 distinct ids" 7 "$(jq -r '.entries[].id' <<<"$p1$p2$p3" | sort -u | wc -l)"
t_check "the table tells how to get the next page" bash -c "'$CTL' -f '$T_DIR/ca.conf' queue fj --limit 3 | grep -q -- '^more: cascadectl queue fj --after $a1'"

t_eq "queue of nothing known: exit 1" 1 "$(rc ca queue nosuch)"
t_check "... saying what to give" grep -q 'no queue for "nosuch" at fj-a' "$T_DIR/err"
t_eq "--limit 0: usage, exit 2" 2 "$(rc ca queue fj --limit 0)"
t_eq "--after x: usage, exit 2" 2 "$(rc ca queue fj --after x)"

# a backlog: the page after it answers as quickly
t0=$(t_now_ms)
t_check "alice queues $BACKLOG packets for fj" tc_send ca alice fj/carol "$BACKLOG" -b 2000 -z 16
echo "# $BACKLOG packets queued in $(( $(t_now_ms) - t0 )) ms"
t_eq "queue fj: depth $((BACKLOG + 7))" $((BACKLOG + 7)) "$(ca queue fj --limit 1 --json | jq .depth)"
t0=$(t_now_ms)
last=$(ca queue fj --limit 20 --after $((BACKLOG - 13)) --json)
dt=$(( $(t_now_ms) - t0 ))
echo "# cascadectl queue fj --limit 20 --after $((BACKLOG - 13)) behind $((BACKLOG + 7)) packets: $dt ms"
t_eq "the last page: 20 entries, the last ones" "20 0" "$(jq -r '"\(.entries | length) \(.next_after)"' <<<"$last")"
t0=$(t_now_ms)
ca queue >/dev/null
echo "# cascadectl queue (all queues) behind $((BACKLOG + 7)) packets: $(( $(t_now_ms) - t0 )) ms"
t_check "the county still runs" t_alive ca
t_done
