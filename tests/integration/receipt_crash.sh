#!/bin/bash
# A receipt is committed with the ack that produces it (issue 12): the node
# is killed right after the commit of bob's ack (an LD_PRELOAD shim SIGKILLs
# cascaded after its first commit once bob's callback has written its line,
# i.e. before anything else can commit). Restarted on the same journal, the
# node still sends alice her receipt, exactly once, and bob is not handed the
# packet again. When the receipt commits in a transaction after the ack,
# the crash loses it and alice waits in vain.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init receipt_crash
N_SYNC=yes
PEER=${SDKPEER:-$top_builddir/tests/sdk/sdkpeer}
n_ackshim
t_check "the shim is built" test -f "$SHIM_SO"

n_node m fj master
n_client m alice; n_client m bob
_n_write_conf m
ACKSHIM_LOG=$T_DIR/m.events ACKSHIM_DIE_AFTER=$T_DIR/bob.txt LD_PRELOAD=$SHIM \
	t_bg m "$CASCADED" -d -f "$T_DIR/m.conf"
t_wait_for "the node listens" 10 t_port_open "$PORT_m"

peer_bg() {
	local tag=$1 mode=$2 client=$3; shift 3
	t_bg "$tag" "$PEER" "$mode" -u "$(n_url m)" -a "fj/$client" -s "$T_DIR/$client.secret" "$@"
}
notices() { if [ -f "$1" ]; then awk '$5 == 1' "$1" | wc -l; else echo 0; fi; }
datas() { if [ -f "$1" ]; then awk '$5 == 0' "$1" | wc -l; else echo 0; fi; }

# alice sends one packet with a receipt and waits for it across the crash
peer_bg alice send alice -t fj/bob -n 1 -R -S "$T_DIR/alice.state" -W 60
# bob takes it: the node dies right after the commit of his ack
peer_bg bob recv bob -n 1 -o "$T_DIR/bob.txt" -S "$T_DIR/bob.state" -W 30
t_check "the node dies right after a commit once bob has the packet" t_wait m 30
t_eq "killed by the shim (SIGKILL)" 137 "$T_STATUS"
t_check "the shim says it killed the node" grep -q '^DIE' "$T_DIR/m.events"
t_eq "bob got the packet once" 1 "$(datas "$T_DIR/bob.txt")"
t_wait bob 30 || true

# restarted on the same journal, without the shim
n_start m
t_check "alice gets her receipt after the restart" t_wait alice 40
t_eq "alice's sender exits 0 (the receipt came)" 0 "$T_STATUS"
t_check "alice's sender counted it" grep -q "receipts 1 of 1" "$T_DIR/alice.log"

# nothing more: no second receipt for alice, no second delivery to bob
peer_bg alice2 recv alice -n 1 -o "$T_DIR/alice2.txt" -S "$T_DIR/alice.state" -W 4
peer_bg bob2 recv bob -n 2 -o "$T_DIR/bob.txt" -S "$T_DIR/bob.state" -W 4
t_wait alice2 20 || true
t_wait bob2 20 || true
t_eq "no second receipt reaches alice" 0 "$(notices "$T_DIR/alice2.txt")"
t_eq "bob is not handed the packet again" 1 "$(datas "$T_DIR/bob.txt")"
t_check "the node logged no lost notice" t_not grep -q "notice .* lost" "$T_DIR/m.log"
t_done
