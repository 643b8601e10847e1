#!/bin/bash
# A pull is answered without waiting for the commit of the ack it carries
# (issue 13), and that costs nothing in custody: bob's program takes alice's
# packet (with a receipt), and while it sits in its callback carol's packet
# comes. An LD_PRELOAD shim then stalls every fsync of the node for good, so
# the ack bob's next pull carries is never committed; that pull is answered
# with carol's packet all the same. The node is killed (SIGKILL) in the middle
# of the ack's commit and restarted: it hands both packets to bob again, and
# bob's program (running on) drops them, so each reaches it once; alice gets
# her receipt once, only after the restart (the receipt commits with the ack,
# so none can leave before it). On a node that answers a pull only after its
# ack's commit, bob never gets carol's packet before the kill.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init ack_early
N_SYNC=yes
PEER=${SDKPEER:-$top_builddir/tests/sdk/sdkpeer}
n_ackshim
t_check "the shim is built" test -f "$SHIM_SO"

n_node m fj master
n_client m alice; n_client m bob; n_client m carol
_n_write_conf m
STALL=$T_DIR/stall
ACKSHIM_LOG=$T_DIR/m.events ACKSHIM_STALL=$STALL LD_PRELOAD=$SHIM \
	t_bg m "$CASCADED" -d -f "$T_DIR/m.conf"
t_wait_for "the node listens" 10 t_port_open "$PORT_m"

peer() {
	local client=$1 mode=$2; shift 2
	"$PEER" "$mode" -u "$(n_url m)" -a "fj/$client" -s "$T_DIR/$client.secret" "$@"
}
peer_bg() {
	local tag=$1 mode=$2 client=$3; shift 3
	t_bg "$tag" "$PEER" "$mode" -u "$(n_url m)" -a "fj/$client" -s "$T_DIR/$client.secret" "$@"
}
datas() { if [ -f "$1" ]; then awk '$5 == 0' "$1" | wc -l; else echo 0; fi; }
notices() { if [ -f "$1" ]; then awk '$5 == 1' "$1" | wc -l; else echo 0; fi; }
at_least() { [ "$(datas "$2")" -ge "$1" ]; }

# alice sends one packet with a receipt and waits for it across the crash
peer_bg alice send alice -t fj/bob -n 1 -R -S "$T_DIR/alice.state" -W 90
# bob's program takes packets slowly (4 s in each callback) and runs on
peer_bg bob recv bob -n 3 -D 4000 -o "$T_DIR/bob.txt" -S "$T_DIR/bob.state" -W 90
t_wait_for "bob is in the callback of alice's packet" 20 at_least 1 "$T_DIR/bob.txt"
t_check "carol's packet is in the node's custody" peer carol send -t fj/bob -n 1 -W 20
# from now on no commit of the node completes: the ack of alice's packet hangs
touch "$STALL"
t_wait_for "bob is handed carol's packet while his ack of alice's is not committed" 20 \
	at_least 2 "$T_DIR/bob.txt"
t_check "the node's commit of that ack hangs in its fsync" grep -q '^STALL' "$T_DIR/m.events"
t_check "alice has no receipt yet" t_alive alice
n_kill9 m
rm -f "$STALL"

# restarted on the same journal (without the shim): the ack was lost
n_start m
t_check "alice gets her receipt after the restart" t_wait alice 40
t_eq "alice's sender exits 0 (the receipt came)" 0 "$T_STATUS"
t_check "alice's sender counted it" grep -q "receipts 1 of 1" "$T_DIR/alice.log"
t_check "a third packet for bob is in the node's custody" peer carol send -t fj/bob -n 1 -W 20
t_check "bob's program ends with its three packets" t_wait bob 40
t_eq "bob's program got three packets, each once" 3 "$(datas "$T_DIR/bob.txt")"
t_eq "none of them flagged as a redelivery" 0 "$(awk '$5 == 0 && $4 ~ /R/' "$T_DIR/bob.txt" | wc -l)"
t_eq "three distinct ids" 3 "$(awk '$5 == 0 { print $1 }' "$T_DIR/bob.txt" | sort -u | wc -l)"

# nothing more: no second receipt for alice, nothing again for bob
peer_bg alice2 recv alice -n 1 -o "$T_DIR/alice2.txt" -S "$T_DIR/alice.state" -W 4
peer_bg bob2 recv bob -n 4 -o "$T_DIR/bob.txt" -S "$T_DIR/bob.state" -W 4
t_wait alice2 20 || true
t_wait bob2 20 || true
t_eq "no second receipt reaches alice" 0 "$(notices "$T_DIR/alice2.txt")"
t_eq "bob is handed nothing again" 3 "$(datas "$T_DIR/bob.txt")"
t_done
