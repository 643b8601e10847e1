#!/bin/bash
# Delay warnings (delay-warning-after): a packet held at a clinic node while
# its link to the parent is cut gets exactly one `delayed` notice to its
# source (the SDK's callback: `cascade listen` prints notice:delayed), also
# across a restart of the node; a packet that asked for no notices gets
# none; once the link is back the packet is still delivered exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init delay_warning
CLI=$top_builddir/client-sdk/cascade

n_topo_pair --proxy ca
n_set ca "delay-warning-after 2s"
n_start master ca cb
tc_recv_bg bob cb bob 2 -W 60

# listen_alice SECONDS: what alice's `cascade listen` prints in that time
listen_alice() {
	"$CLI" -u "$(n_url ca)" -a fj-a/alice -s "$T_DIR/alice.secret" -S "$T_DIR/alice-state" \
		listen -T "$1" >>"$T_DIR/alice.txt" 2>>"$T_DIR/alice.err"
}
delayed() { grep -c "notice:delayed" "$T_DIR/alice.txt"; }
touch "$T_DIR/alice.txt"

t_proxy_cmd link cut
id=$(tc_send ca alice fj-b/bob 1 -N -I | awk '/^id / { print $2 }')
t_check "alice sent a packet asking for notices" test -n "$id"
id2=$(tc_send ca alice fj-b/bob 1 -I | awk '/^id / { print $2 }')
t_check "and one asking for none" test -n "$id2"
t_wait_for "fj-a warns about the first" 10 grep -q "delaywarn: packet $id .*delayed notice sent" \
	"$T_DIR/ca.log"
sleep 2
listen_alice 3
t_eq "alice's listen printed one delayed notice" 1 "$(delayed)"
t_check "it refers to her packet" grep -q "notice:delayed .* $id waiting [0-9]* s at fj-a (queue up)" \
	"$T_DIR/alice.txt"
t_check "none about the packet without notices" t_not grep -q "$id2" "$T_DIR/alice.txt"
t_check "the node warned once" test "$(grep -c "delaywarn: packet .*delayed notice sent" "$T_DIR/ca.log")" -eq 1
t_eq "cascadectl status counts it" 1 \
	"$("$top_builddir/node/cascadectl" -f "$T_DIR/ca.conf" status --json | jq -r .delayed_sent)"

# a restart while still held: no second warning
n_stop ca
n_start ca
sleep 4
listen_alice 2
t_eq "still one delayed notice after a restart" 1 "$(delayed)"

# the link comes back: delivered once, and the notice was no delivery
t_proxy_cmd link pass
t_check "bob's listener ends with both packets" t_wait bob 40
t_check "no packet twice under two stream positions" check_exactly_once_ids "$T_DIR/bob.txt"
t_eq "bob got the first once" 1 "$(awk -v id="$id" '$3 == id && $6 == 0' "$T_DIR/bob.txt" | sort -u | wc -l)"
t_eq "and the second once" 1 "$(awk -v id="$id2" '$3 == id && $6 == 0' "$T_DIR/bob.txt" | sort -u | wc -l)"
sleep 3
listen_alice 2
t_eq "no more delayed notices, nothing else for alice" 1 "$(grep -c . "$T_DIR/alice.txt")"
t_done
