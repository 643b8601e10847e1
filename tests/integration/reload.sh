#!/bin/bash
# Live reload of a county's clients (SIGHUP, cascadectl reload) and
# cascadectl check, with traffic flowing: master fj, county fj-a with clients
# alice (sends), bob (receives), dave (offline, packets queued), erin.
# While alice streams to bob: dave is removed (his queue stays, shown by
# cascadectl queue, his login refused), frank is added, erin's secret
# changes (the old one refused, the new one works). bob gets everything
# exactly once; dave gets his queue after he is added back. A config with
# errors is refused with every file:line, the old one keeps serving and
# status shows the refusal; a changed node id is refused by name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init reload
CTL=$top_builddir/node/cascadectl

n_node master fj master
n_node ca fj-a
n_link ca master
for c in alice bob dave erin; do n_client ca $c; done
n_start master; n_start ca
# by socket: a broken config cannot name it
ca() { "$CTL" -s "$T_DIR/ca/control.sock" "$@"; }
auth() { "$T_TCLIENT" auth -u "$(n_url ca)" -a "fj-a/$1" -s "$2"; }
received_is() { [ "$(tc_data "$T_DIR/$1.txt")" -eq "$2" ]; }
reloads() { grep -c "reload: .*: reloaded" "$T_DIR/ca.log"; }
reloads_are() { [ "$(reloads)" -eq "$1" ]; }
t_wait_for "ca's link is up" 10 bash -c "'$CTL' -f '$T_DIR/ca.conf' links --json | jq -e '.[0].state == \"up\"' >/dev/null"

# dave is offline: 20 wait in his queue
t_check "alice sends 20 to dave" tc_send ca alice fj-a/dave 20
t_wait_for "dave's queue holds 20" 10 bash -c "'$CTL' -f '$T_DIR/ca.conf' queue --json | jq -e '.[] | select(.name == \"client:dave\") | .depth == 20' >/dev/null"
t_check "no changes: check says so" bash -c "'$CTL' -f '$T_DIR/ca.conf' check | grep -q ': no changes'"

# traffic flows to bob through the reloads
tc_recv_bg bob ca bob 400 -W 120
t_bg send1 "$T_TCLIENT" send -u "$(n_url ca)" -a fj-a/alice -s "$T_DIR/alice.secret" \
	-t fj-a/bob -n 200 -b 2 -i 100 -W 120

# the new config: dave removed, frank added, erin's secret changed
cp "$T_DIR/erin.secret" "$T_DIR/erin.old"; chmod 600 "$T_DIR/erin.old"
rm "$T_DIR/erin.secret"; _n_secret erin >/dev/null
N_CLIENTS[ca]=" alice bob erin"; n_client ca frank
_n_write_conf ca
out=$(ca check); rc=$?
echo "$out" | sed 's/^/# check: /'
t_eq "check: exit 0 (the reload would be applied)" 0 "$rc"
t_check "check names frank added" grep -q "ca.conf:[0-9]*: client frank: added" <<<"$out"
t_check "check names dave removed" grep -q "ca.conf:[0-9]*: client dave: removed" <<<"$out"
t_check "check names erin's secret" grep -q "ca.conf:[0-9]*: client erin: secret changed" <<<"$out"
t_check "check applied nothing: the old secret still works" auth erin "$T_DIR/erin.old"

t_check "the stream to bob is still flowing at the reload" t_alive send1
kill -HUP "$(t_pid ca)"
t_wait_for "SIGHUP: reloaded" 10 reloads_are 1
t_check "the log names the change" grep -q "reload: .*client frank: added" "$T_DIR/ca.log"
t_eq "erin's old secret is refused" "auth authentication failed" "$(auth erin "$T_DIR/erin.old")"
t_eq "erin's new secret works" "auth ok" "$(auth erin "$T_DIR/erin.secret")"
t_eq "frank logs in" "auth ok" "$(auth frank "$T_DIR/frank.secret")"
t_eq "dave is refused" "auth authentication failed" "$(auth dave "$T_DIR/dave.secret")"
t_check "dave's queue stays: cascadectl queue shows 20" bash -c \
	"'$CTL' -f '$T_DIR/ca.conf' queue --json | jq -e '.[] | select(.name == \"client:dave\") | .depth == 20' >/dev/null"
t_eq "clients: dave no longer listed, frank is" "alice bob erin frank" \
	"$(ca clients --json | jq -r '[.[] | .name | sub("fj-a/"; "")] | sort | join(" ")')"
t_check "status: the config was loaded after the start" bash -c \
	"'$CTL' -s '$T_DIR/ca/control.sock' status --json | jq -e '.config_loaded_ms > .started_ms' >/dev/null"

t_check "alice sends 5 to frank" tc_send ca alice fj-a/frank 5
tc_recv_bg frank ca frank 5 -W 30
t_wait "frank" 40
t_eq "frank received 5" 5 "$(tc_data "$T_DIR/frank.txt")"

# a config with two errors: refused, every file:line listed, the old config serves
cp "$T_DIR/ca.conf" "$T_DIR/ca.good"
printf 'max-batch lots\nclient bad/id {\n    secret %s\n}\n' "$T_DIR/alice.secret" >>"$T_DIR/ca.conf"
bad1=$(grep -n '^max-batch lots' "$T_DIR/ca.conf" | cut -d: -f1)
bad2=$(grep -n '^client bad/id' "$T_DIR/ca.conf" | cut -d: -f1)
ca reload >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
sed 's/^/# reload: /' "$T_DIR/err"
t_eq "a bad config: reload exits 1" 1 "$rc"
t_check "its first error, by file:line" grep -q "ca.conf:$bad1: " "$T_DIR/err"
t_check "its second error, by file:line" grep -q "ca.conf:$bad2: " "$T_DIR/err"
t_check "it says the running configuration stays" grep -q "running configuration stays" "$T_DIR/err"
t_check "status shows the refused reload and its errors" bash -c \
	"'$CTL' -s '$T_DIR/ca/control.sock' status --json | jq -e '.reload_failed_ms > 0 and (.reload_failed_text | test(\"ca.conf:$bad1: \"))' >/dev/null"
t_check "status table shows it" bash -c "'$CTL' -s '$T_DIR/ca/control.sock' status | grep -q '^reload *refused'"
t_eq "frank still logs in (old config serves)" "auth ok" "$(auth frank "$T_DIR/frank.secret")"

# a changed node id: refused by name
sed "s/^node fj-a\$/node fj-z/" "$T_DIR/ca.good" >"$T_DIR/ca.conf"
ca reload >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
sed 's/^/# reload: /' "$T_DIR/err"
t_eq "a new node id: reload exits 1" 1 "$rc"
t_check "it names the node id" grep -q "node: fj-a -> fj-z cannot change live" "$T_DIR/err"
t_eq "still fj-a" fj-a "$(ca status --json | jq -r .node)"

# dave back: his queue is delivered
cp "$T_DIR/ca.good" "$T_DIR/ca.conf"
N_CLIENTS[ca]=" alice bob erin frank dave"
_n_write_conf ca
out=$(ca reload); rc=$?
echo "$out" | sed 's/^/# reload: /'
t_eq "dave added back: reload exits 0" 0 "$rc"
t_check "it says dave is added" grep -q "client dave: added" <<<"$out"
tc_recv_bg dave ca dave 20 -W 30
t_wait "dave" 40
t_eq "dave gets his 20 kept packets" 0 "$T_STATUS"
t_check "dave: each once" check_exactly_once "$T_DIR/dave.txt" 20

t_wait send1 120
t_eq "the stream to bob was all acked" 0 "$T_STATUS"
t_check "alice sends 200 more to bob after the reloads" tc_send ca alice fj-a/bob 200
t_wait_for "bob has 400" 60 received_is bob 400
t_check "bob: nothing twice" check_exactly_once_ids "$T_DIR/bob.txt"
t_eq "bob: nothing lost (400 distinct ids)" 400 "$(awk '$6 == 0 { print $3 }' "$T_DIR/bob.txt" | sort -u | wc -l)"

# a child's reconnects are counted (cascadectl links RECON, /metrics)
mctl() { "$CTL" -f "$T_DIR/master.conf" "$@"; }
t_eq "the master saw fj-a log in once: 0 reconnects" 0 \
	"$(mctl links --json | jq -r '.[] | select(.name == "fj-a") | .reconnects')"
n_stop ca; n_start ca
t_wait_for "after a restart of fj-a the master counts 1 reconnect" 15 bash -c \
	"'$CTL' -f '$T_DIR/master.conf' links --json | jq -e '.[] | select(.name == \"fj-a\") | .reconnects == 1' >/dev/null"
t_done
