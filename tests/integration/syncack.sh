#!/bin/bash
# Sync before ack: every PushReply a node sends follows the fdatasync and the
# O_DSYNC meta-page write of a commit of its own (an LD_PRELOAD shim records
# the order inside the daemon). A SIGKILL test would pass without fsync; this
# one cannot: with sync no the same check fails, as it must.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init syncack
n_ackshim

# check_order LOG: every ACK has a SYNC and a DSYNC since the previous ACK
check_order() {
	awk '$1 == "SYNC" { s = 1 } $1 == "DSYNC" { d = 1 }
		$1 == "ACK" { n++; if (!s || !d) { printf "ack %d without a sync of its own\n", n; bad = 1 }; s = d = 0 }
		END { if (n == 0) { print "no acks seen"; bad = 1 }; exit bad }' "$1"
}

run() {  # run SYNC TAG: a master with two clients; alice pushes 20 batches of one
	local sync=$1 tag=$2
	n_node "$tag" fj master
	n_client "$tag" alice; n_client "$tag" bob
	N_SYNC=$sync
	_n_write_conf "$tag"
	local pv=PORT_$tag
	ACKSHIM_LOG=$T_DIR/$tag.events LD_PRELOAD=$SHIM t_bg "$tag" "$CASCADED" -d -f "$T_DIR/$tag.conf"
	t_wait_for "$tag listens" 10 t_port_open "${!pv}"
	t_check "alice sends 20 packets, one per push" tc_send "$tag" alice fj/bob 20 -b 1
	n_stop "$tag"
	echo "# $tag: $(grep -c ACK "$T_DIR/$tag.events") acks, $(grep -c '^SYNC' "$T_DIR/$tag.events") fdatasyncs, $(grep -c DSYNC "$T_DIR/$tag.events") meta writes"
}

t_check "the shim is built" test -f "$SHIM_SO"
run yes durable
t_eq "20 push acks seen" 20 "$(grep -c ACK "$T_DIR/durable.events")"
t_check "every ack follows its own fdatasync and meta-page write" check_order "$T_DIR/durable.events"

run no nosync
t_eq "20 push acks seen (sync no)" 20 "$(grep -c ACK "$T_DIR/nosync.events")"
t_check "with sync no the same check fails" t_not check_order "$T_DIR/nosync.events"
t_done
