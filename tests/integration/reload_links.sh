#!/bin/bash
# Live reload of links (issue 10), each step while traffic flows: master fj,
# city fj-c with counties fj-c-a (A) and fj-c-b (B).
#  1. A's carrier tcp -> http on both sides (the city's child block allows
#     only http, which also adds its http listener; A's parent block moves to
#     the http url), each side reloaded: the stream from A goes on over http.
#  2. county fj-c-c (C) with a client is added to the city (reload), started.
#  3. B is stopped, packets for its client queue at the city; B is removed
#     (reload): cascadectl queue still shows them, B's login is refused, more
#     packets for it wait too; B added back (reload): it gets them, once each.
#     A, whose block did not change, keeps its one session through all this.
#     A login as removed B or as a removed client, with a Hello challenge
#     from before the removal and a proof under an empty key, is refused.
#  4. a client's secret changes at A (reload): its old session is closed and
#     its old secret refused; with the new one it gets everything, once.
#  5. C's parent url moves to a second tcp listener the city opens live, and
#     back; a listener that cannot be bound refuses the reload (old config
#     stays); the city closes the second listener. A paused link takes a
#     new parent block and stays paused until resumed.
#  6. the city drops its http listener: A's http connection is closed.
# Every stream arrives exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init reload_links
CTL=$top_builddir/node/cascadectl

n_node master fj master
n_node city fj-c
n_node a fj-c-a
n_node b fj-c-b
n_node c fj-c-c
n_link city master
n_link a city
n_link b city
for x in cx cy cz cw; do n_client city $x; done
n_client a ana; n_client a aki
n_client b bea
n_client c cal
cp "$T_DIR/aki.secret" "$T_DIR/aki.old"; chmod 600 "$T_DIR/aki.old"
n_start master; n_start city; n_start a; n_start b

ctl() { local n=$1; shift; "$CTL" -s "$T_DIR/$n/control.sock" "$@"; }
# link NODE NAME FIELD: a field of one link in NODE's cascadectl links
link() { ctl "$1" links --json | jq -r --arg n "$2" ".[] | select(.name == \$n) | .$3"; }
link_is() { [ "$(link "$1" "$2" "${4:-state}")" = "$3" ]; }
qdepth() { ctl "$1" queue --json | jq -r --arg n "$2" '.[] | select(.name == $n) | .depth'; }
qdepth_is() { [ "$(qdepth "$1" "$2")" = "$3" ]; }
received_ge() { [ "$(tc_ids "$T_DIR/$1.txt")" -ge "$2" ]; }
# reload NODE: rewrites NODE's config, cascadectl reload; output in $OUT, exit in $RC
reload() {
	_n_write_conf "$1"
	OUT=$(ctl "$1" reload 2>&1); RC=$?
	printf '%s\n' "$OUT" | sed "s/^/# $1 reload: /"
}
said() { grep -qF -- "$1" <<<"$OUT"; }

for n in a b; do t_wait_for "$n's link is up" 10 link_is $n fj-c up; done
t_wait_for "the city's link is up" 10 link_is city fj up

# ---- 1. A: tcp -> http, both sides, while A streams to the city's client cy
tc_recv_bg cy city cy 300 -W 180
t_bg send1 "$T_TCLIENT" send -u "$(n_url a)" -a fj-c-a/ana -s "$T_DIR/ana.secret" \
	-t fj-c/cy -n 300 -b 2 -i 100 -W 180
t_wait_for "cy receives the stream from A" 30 received_ge cy 30
t_eq "A is on tcp" tcp "$(link a fj-c carrier)"
n_child_set city a "carriers http"
n_transport a http
reload city
t_eq "city: reload exits 0" 0 "$RC"
t_check "city: names A's carriers" said "child fj-c-a: carriers tcp http -> http"
t_check "city: names its new http listener" said "listen $(n_http_url city): added"
t_check "city: A's session closed (it logs in again)" said "its session is closed"
t_wait_for "the city listens on http now" 10 t_port_open "$HPORT_city"
t_wait_for "A on tcp is refused by the city now" 10 \
	grep -q "carrier tcp refused: this node allows http for fj-c-a" "$T_DIR/a.log"
t_check "the stream from A is still flowing" t_alive send1
reload a
t_eq "A: reload exits 0" 0 "$RC"
t_check "A: names the parent url" said "parent fj-c: url tcp://127.0.0.1:$PORT_city -> $(n_http_url city)"
t_wait_for "A's link is up over http" 20 link_is a fj-c http carrier
t_wait_for "the city sees A over http" 10 link_is city fj-c-a http carrier
t_wait_for "A is up at the city" 10 link_is city fj-c-a up
a_logins=$(link city fj-c-a reconnects)

# ---- 2. county C added to the city, with a client
n_link c city
reload city
t_eq "city: adding C: reload exits 0" 0 "$RC"
t_check "city: names C added" said "child fj-c-c: added"
n_start c
t_wait_for "C's link is up" 20 link_is c fj-c up
t_wait_for "the city lists C up" 10 link_is city fj-c-c up
t_check "cy sends 20 to C's client" tc_send city cy fj-c-c/cal 20
tc_recv_bg cal c cal 20 -W 60
t_wait cal 70
t_eq "cal received the 20" 0 "$T_STATUS"
t_check "cal: each once, in order" check_exactly_once "$T_DIR/cal.txt" 20

# ---- 3. B removed with packets queued for it, then added back
n_stop b
t_wait_for "the city sees B down" 15 link_is city fj-c-b down
t_check "ana sends 20 to B's client" tc_send a ana fj-c-b/bea 20
t_wait_for "20 wait for B at the city" 20 qdepth_is city child:fj-c-b 20
# forgers holding a Hello challenge from before the removal of B and of the
# city's client cw: after it, a proof under an empty key must not log in
forge() { "$T_TCLIENT" auth -u "$(n_url city)" -D 2500 -E "$@"; }
t_bg forge_b forge -k -a fj-c-b -s "$T_DIR/link-b.secret"
t_bg forge_w forge -a fj-c/cw -s "$T_DIR/cw.secret"
sleep 0.5
N_CHILDREN[city]=" a c"
N_CLIENTS[city]=" cx cy cz"
reload city
t_eq "city: removing B: reload exits 0" 0 "$RC"
t_check "city: names B removed" said "child fj-c-b: removed"
t_check "city: names cw removed" said "client cw: removed"
t_wait forge_b 10; t_wait forge_w 10
t_check "a forged login as removed B is refused" grep -q "^auth authentication failed" "$T_DIR/forge_b.log"
t_check "a forged login as removed client cw is refused" grep -q "^auth authentication failed" "$T_DIR/forge_w.log"
t_check "city: nothing about A (unchanged)" t_not said fj-c-a
t_eq "B's queue stays: cascadectl queue shows 20" 20 "$(qdepth city child:fj-c-b)"
t_eq "cascadectl links no longer lists B" "" "$(link city fj-c-b state)"
n_start b
t_wait_for "B's login is refused" 15 grep -q 'auth: "authentication failed" from' "$T_DIR/b.log"
t_check "ana sends 10 more to B's client" tc_send a ana fj-c-b/bea 10
t_wait_for "they wait in B's queue too: 30" 20 qdepth_is city child:fj-c-b 30
N_CHILDREN[city]=" a c b"
reload city
t_eq "city: B back: reload exits 0" 0 "$RC"
t_check "city: names B added" said "child fj-c-b: added"
t_wait_for "B logs in again" 20 link_is city fj-c-b up
tc_recv_bg bea b bea 30 -W 60
t_wait bea 70
t_eq "bea gets the 30 kept for B" 0 "$T_STATUS"
t_check "bea: nothing twice" check_exactly_once_ids "$T_DIR/bea.txt"
t_eq "bea: 30 distinct" 30 "$(tc_ids "$T_DIR/bea.txt")"
t_wait_for "B's queue at the city is empty" 10 qdepth_is city child:fj-c-b 0

# ---- 4. a client's secret changes at A while a stream flows to it
t_bg aki1 "$T_TCLIENT" recv -u "$(n_url a)" -a fj-c-a/aki -s "$T_DIR/aki.old" -n 200 \
	-o "$T_DIR/aki1.txt" -W 120
t_bg send3 "$T_TCLIENT" send -u "$(n_url city)" -a fj-c/cx -s "$T_DIR/cx.secret" \
	-t fj-c-a/aki -n 200 -b 2 -i 100 -W 180
t_wait_for "aki receives with its old secret" 30 received_ge aki1 20
rm "$T_DIR/aki.secret"; _n_secret aki >/dev/null
reload a
t_eq "A: aki's secret: reload exits 0" 0 "$RC"
t_check "A: names aki's secret" said "client aki: secret changed"
t_eq "aki's old secret is refused" "auth authentication failed" \
	"$("$T_TCLIENT" auth -u "$(n_url a)" -a fj-c-a/aki -s "$T_DIR/aki.old")"
t_check "the stream to aki is still flowing" t_alive send3
t_kill aki1
tc_recv_bg aki2 a aki 200 -W 120
both() { cat "$T_DIR/aki1.txt" "$T_DIR/aki2.txt" >"$T_DIR/aki.txt"; received_ge aki 200; }
t_wait_for "with the new secret aki gets the rest: 200 in all" 60 both
t_check "aki: nothing twice across both sessions" check_exactly_once_ids "$T_DIR/aki.txt"

# ---- 5. C's parent url to a second city listener and back, with C streaming
P2=$(t_free_port)
tc_recv_bg cz city cz 200 -W 180
t_bg send2 "$T_TCLIENT" send -u "$(n_url c)" -a fj-c-c/cal -s "$T_DIR/cal.secret" \
	-t fj-c/cz -n 200 -b 2 -i 100 -W 180
t_wait_for "cz receives the stream from C" 30 received_ge cz 20
n_set city "listen tcp://127.0.0.1:$P2"
reload city
t_eq "city: a second listener: reload exits 0" 0 "$RC"
t_check "city: names it" said "listen tcp://127.0.0.1:$P2: added"
t_wait_for "the city listens on it" 10 t_port_open "$P2"
N_PARENT_PORT[c]=$P2
reload c
t_eq "C: new parent url: reload exits 0" 0 "$RC"
t_check "C: names the url" said "parent fj-c: url tcp://127.0.0.1:$PORT_city -> tcp://127.0.0.1:$P2"
t_wait_for "C's link is up on the second listener" 20 link_is c fj-c "tcp://127.0.0.1:$P2" url
t_wait_for "and up" 10 link_is c fj-c up
t_check "the stream from C is still flowing" t_alive send2
# a listener that cannot be bound (the master's port) refuses the whole reload
saved=${N_EXTRA[city]}
n_set city "listen tcp://127.0.0.1:$PORT_master"
reload city
t_eq "city: an unbindable listener: reload exits 1" 1 "$RC"
t_check "it names the url and the error" said "listen tcp://127.0.0.1:$PORT_master: "
t_check "it says the running configuration stays" said "the running configuration stays"
t_check "status shows the refusal" bash -c "'$CTL' -s '$T_DIR/city/control.sock' status --json | jq -e '.reload_failed_ms > 0' >/dev/null"
t_check "the second listener still serves C" link_is c fj-c up
N_EXTRA[city]=$saved
N_PARENT_PORT[c]=
reload c
t_eq "C: back to the first url: reload exits 0" 0 "$RC"
t_wait_for "C is up on the first listener" 20 link_is c fj-c "tcp://127.0.0.1:$PORT_city" url
t_wait_for "and up" 10 link_is c fj-c up
N_EXTRA[city]=
reload city
t_eq "city: second listener dropped: reload exits 0" 0 "$RC"
t_check "city: names it removed" said "listen tcp://127.0.0.1:$P2: removed"
t_wait_for "the city no longer listens on it" 10 t_not t_port_open "$P2"

# ---- a paused link takes a new parent block and stays paused until resumed
t_check "C's link paused" ctl c pause fj-c
n_parent_set c "push-window 2"
reload c
t_eq "C: push-window while paused: reload exits 0" 0 "$RC"
t_check "C: names it" said "parent fj-c: push-window changed"
sleep 0.5
t_eq "C's link is still paused" paused "$(link c fj-c state)"
t_check "C's link resumed" ctl c resume fj-c
t_wait_for "and up again" 20 link_is c fj-c up

# ---- every stream once
t_wait send1 120
t_eq "the stream from A was all acked" 0 "$T_STATUS"
t_wait cy 60
t_eq "cy received the 300" 0 "$T_STATUS"
t_check "cy: exactly once, in order" check_exactly_once "$T_DIR/cy.txt" 300
t_wait send2 120
t_eq "the stream from C was all acked" 0 "$T_STATUS"
t_wait cz 60
t_eq "cz received the 200" 0 "$T_STATUS"
t_check "cz: exactly once, in order" check_exactly_once "$T_DIR/cz.txt" 200
t_wait send3 60
t_eq "the stream to aki was all acked" 0 "$T_STATUS"
t_eq "A kept its one session at the city through steps 2-5" "$a_logins" "$(link city fj-c-a reconnects)"

# ---- the city drops its http listener: A's connection to it is closed
N_TRANSPORT[a]=tcp
reload city
t_eq "city: http listener dropped: reload exits 0" 0 "$RC"
t_check "city: names it removed" said "listen $(n_http_url city): removed"
t_wait_for "the city no longer listens on http" 10 t_not t_port_open "$HPORT_city"
t_wait_for "A's link over http is down" 15 t_not link_is a fj-c up
t_check "the city closed its connections" grep -Eq "no longer listening on $(n_http_url city) \([1-9][0-9]* connections? closed\)" "$T_DIR/city.log"
t_done
