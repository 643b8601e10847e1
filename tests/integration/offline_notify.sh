#!/bin/bash
# Offline notices (offline-notify-url, offline-notify-after): a packet that
# waited for an offline client longer than the delay is POSTed as a JSON
# notice (never its payload) to a local receiver; a client that comes online
# in time gets none; a receiver that answers 500 is retried with backoff
# until one success; a restart between "due" and "sent" neither loses the
# notice nor, once it was recorded, repeats it; the packet itself is still
# delivered once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init offline_notify

# The receiver (notify_recv.py): every POST one line of posts.txt; the
# file fail makes it answer 500.
n_notify_recv

n_node m fj master
for c in alice bob carol dave erin fred gina; do n_client m $c; done
n_client_set m gina "offline-notify-after 1h"   # her own delay, not the node's 2s
n_set m "offline-notify-url http://127.0.0.1:$RPORT/notify"
n_set m "offline-notify-after 2s"
n_start m

# posts ID [STATUS]: how many POSTs about packet ID (with that status)
posts() { awk -v id="$1" -v st="${2:-}" '$3 == id && (st == "" || $1 == st)' "$POSTS" | wc -l; }
has_posts() { [ "$(posts "$@")" -ge "${N:-1}" ]; }
send1() { tc_send m alice "fj/$1" 1 -I | awk '/^id / { print $2 }'; }

# 1. bob is offline: one notice, with the packet's facts and no payload
id=$(send1 bob)
t_check "alice sent a packet to bob" test -n "$id"
t_wait_for "a notice about bob's packet arrives" 10 has_posts "$id" 200
line=$(awk -v id="$id" '$3 == id' "$POSTS" | head -n 1)
body=${line#* * * * }
echo "# notice: $line"
t_eq "it is JSON" application/json "$(awk '{ print $4 }' <<<"$line")"
t_eq "client" fj/bob "$(jq -r .client <<<"$body")"
t_eq "packet id (and Idempotency-Key)" "$id" "$(jq -r .packet <<<"$body")"
t_eq "src" fj/alice "$(jq -r .src <<<"$body")"
t_eq "command" test.echo "$(jq -r .command <<<"$body")"
t_eq "node" fj "$(jq -r .node <<<"$body")"
t_check "age is at least the delay" test "$(jq -r .age_ms <<<"$body")" -ge 2000
t_check "no payload in it" t_not grep -q "n=1 src=" "$POSTS"
t_eq "no payload field" false "$(jq 'has("payload")' <<<"$body")"

# 2. carol comes online in time: no notice
tc_recv_bg carol m carol 1 -W 20
t_wait_for "carol is online" 10 grep -q "fj/carol: session" "$T_DIR/m.log"
idc=$(send1 carol)
t_check "carol's listener ends with her packet" t_wait carol 15
t_check "carol got it" grep -q "$idc" "$T_DIR/carol.txt"
sleep 3.5
t_eq "no notice for carol" 0 "$(posts "$idc")"
t_eq "still one notice for bob" 1 "$(posts "$id")"

# 3. a receiver that fails twice: retried with backoff, one success
echo 2 >"$T_DIR/fail"
idd=$(send1 dave)
N=3 t_wait_for "dave's notice: two 500s, then accepted" 20 has_posts "$idd"
sleep 2
t_eq "two failures" 2 "$(posts "$idd" 500)"
t_eq "one success" 1 "$(posts "$idd" 200)"
gaps=$(awk -v id="$idd" '$3 == id { if (t) printf "%d ", $2 - t; t = $2 }' "$POSTS")
echo "# gaps between attempts (ms): $gaps"
read -r g1 g2 <<<"$gaps"
t_check "the first retry waited about 1 s" test "$g1" -ge 900
t_check "the second waited longer (backoff)" test "$g2" -ge 1800
t_check "the failures were logged" grep -q "answered HTTP 500 for the notice of packet $idd" "$T_DIR/m.log"
CTL=$top_builddir/node/cascadectl
"$CTL" -f "$T_DIR/m.conf" status --json >"$T_DIR/status.json"
t_eq "status: two notices sent" 2 "$(jq -r .notify_sent "$T_DIR/status.json")"
t_eq "status: two failed attempts" 2 "$(jq -r .notify_failures "$T_DIR/status.json")"
t_check "status table: the notices line" bash -c "'$CTL' -f '$T_DIR/m.conf' status | \
	grep -q '^notices   offline: 2 sent, 2 failed attempts, 0 pending'"

# 4. a receiver that keeps failing while fred comes online and takes his
# packet: the retries stop
echo always >"$T_DIR/fail"
idf=$(send1 fred)
t_wait_for "fred's notice fails" 10 has_posts "$idf" 500
tc_recv_bg fred m fred 1 -W 20
t_check "fred's listener ends with his packet" t_wait fred 20
t_wait_for "the node drops fred's notice" 10 \
	grep -q "packet $idf for fj/fred waits no more" "$T_DIR/m.log"
nf=$(posts "$idf")
sleep 3
t_eq "no more attempts for fred" "$nf" "$(posts "$idf")"

# 4b. a client's own offline-notify-after overrides the node's
idg=$(send1 gina)
t_check "alice sent a packet to gina" test -n "$idg"
sleep 5
t_eq "no notice for gina after 5 s (her delay is 1h, the node's 2s)" 0 "$(posts "$idg")"

# 5. restart between due and sent: the notice is not lost
ide=$(send1 erin)
t_wait_for "erin's notice fails at least once" 10 has_posts "$ide" 500
n_stop m
t_eq "the node stopped cleanly" 0 "$T_STATUS"
rm -f "$T_DIR/fail"
n_start m
t_wait_for "after the restart erin's notice is accepted" 15 has_posts "$ide" 200
# ... and what was recorded as sent is not sent again
sleep 3.5
n_stop m
n_start m
sleep 3.5
t_eq "one success for erin" 1 "$(posts "$ide" 200)"
t_eq "one notice for bob, after two restarts" 1 "$(posts "$id")"
t_eq "one success for dave" 1 "$(posts "$idd" 200)"

# 6. the notices are no delivery: bob comes online and gets his packet once
tc_recv_bg bob m bob 1 -W 20
t_check "bob's listener ends" t_wait bob 20
t_check "bob got his packet exactly once" check_exactly_once "$T_DIR/bob.txt" 1
t_eq "no notices for the clients themselves" 0 "$(awk '$6 != 0' "$T_DIR/bob.txt" | wc -l)"
t_done
