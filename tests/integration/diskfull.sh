#!/bin/bash
# Disk full for real (issue 14): a county's data-dir on a 40 MB tmpfs, its
# parent (the master) down, alice pushing 4 KB packets at it.
#  1. The journal's own limit (journal-max-size 6M): the county refuses
#     pushes with "journal full", alice's tclient logs the refusal and keeps
#     her packets; meanwhile the county serves bob's pulls and acks (50
#     packets the master sent him before it went down). The master back, the
#     queue drains, space returns and the rest of alice's packets go in.
#  2. The filesystem itself full: another file takes all but a few MB of
#     the tmpfs, under a journal whose map (16M) is bigger than what is
#     left. The county refuses with "journal full" again, keeps serving,
#     and once the master is back and the file removed takes everything.
# At the end of each part every accepted packet was delivered exactly once.
#
# Mounting a tmpfs needs root: run by anyone else, the test says it cannot
# run here and is skipped (77). As root, a mount that fails is a failure.
if [ "$(id -u)" -ne 0 ]; then
	echo "diskfull: cannot run here: mounting a tmpfs needs root (skipped)"
	exit 77
fi
. "$(dirname "$0")/lib.sh"
t_init diskfull
. "$(dirname "$0")/nodes.sh"
FS=$T_DIR/cy
mkdir -m 700 "$FS"
if ! t_check "a 40 MB tmpfs for the county's data-dir" mount -t tmpfs -o size=40m,mode=0700 tmpfs "$FS"; then
	echo "diskfull: cannot run here: mount -t tmpfs failed as root"
	exit 1
fi
# lazily: the daemons still hold it open until lib.sh's exit stops them
trap 'rc=$?; umount -l "$FS" 2>/dev/null; (exit $rc); _t_exit' EXIT

n_node master fj master
n_node cy fj-c
n_link cy master
n_client cy alice; n_client cy bob; n_client cy fred; n_client master carol
n_client master erin; n_client master dave
n_set cy "journal-map-size 2M"; n_set cy "journal-max-size 6M"; n_set cy "journal-disk-floor 1M"
n_start master
n_start cy
t_wait_for "the county is up" 10 grep -q "link fj: session .* up over" "$T_DIR/cy.log"
[ "$T_FAIL" -eq 0 ] || exit 1

accepted() {	# accepted SRC: packets from SRC the county's journal accepted
	n_audit "$T_DIR/cy/journal" 2>/dev/null | grep -c "accepted .*src=$1 " || true
}
accepted_is() { [ "$(accepted "$1")" -ge "$2" ]; }
count() { grep -c "$2" "$T_DIR/$1.log" || true; }
free_kb() { df -k --output=avail "$FS" | tail -n 1 | tr -d ' '; }

# part PART COUNT PULLER DST [DAVE_BEFORE]: with the master down alice pushes
# COUNT packets to fj/DST until the county refuses; PULLER takes the 50
# packets dave sent him before meanwhile. (A receiver per part: tclient recv
# leaves its last batch unacked, and the next part would see it again.)
part() {
	local p=$1 n=$2 puller=$3 to=$4 at before
	t_eq "$p: dave's 50 packets to $puller are taken by the master" "sent 50 acked 50" \
		"$(tc_send master dave fj-c/$puller 50 -b 10)"
	t_wait_for "$p: ... and reach the county" 20 accepted_is fj/dave $((${5:-0} + 50))
	n_stop master
	before=$(count cy 'push refused: journal full')
	t_bg "alice$p" "$T_TCLIENT" send -u "$(n_url cy)" -a fj-c/alice -s "$T_DIR/alice.secret" \
		-t "fj/$to" -n "$n" -b 20 -z 4000 -W 300
	t_wait_for "$p: the county refuses alice's pushes" 120 \
		eval "[ \$(count cy 'push refused: journal full') -gt $before ]"
	t_wait_for "$p: alice's tclient is told why" 10 grep -q "push refused for now: journal full" "$T_DIR/alice$p.log"
	at=$(accepted fj-c/alice)
	echo "# $p: refused after $at of alice's packets in all, $(free_kb) KB free on the tmpfs"
	t_check "$p: alice still waits to hand over the rest" t_alive "alice$p"
	t_check "$p: the county still runs" t_alive cy
	tc_recv_bg "$puller" cy "$puller" 50 -W 30
	t_check "$p: $puller pulls his 50 packets from the full county" t_wait "$puller" 40
	t_eq "$p: $puller's exit status" 0 "$T_STATUS"
	t_check "$p: $puller: exactly once, in order" check_exactly_once "$T_DIR/$puller.txt" 50
	t_check "$p: the county still refuses alice (nothing gone up yet)" \
		test "$(accepted fj-c/alice)" -lt $((at + 200))
	AT=$at
}
drain() {	# drain PART COUNT DST: the master back, DST takes everything
	local p=$1 n=$2 to=$3
	n_start master
	tc_recv_bg "$to" master "$to" "$n" -W 300
	t_check "$p: alice: all $n acked in the end" t_wait "alice$p" 300
	t_eq "$p: alice's exit status" 0 "$T_STATUS"
	t_check "$p: more accepted after the refusal ($(accepted fj-c/alice) > $AT)" \
		test "$(accepted fj-c/alice)" -gt "$AT"
	t_check "$p: $to: all $n received" t_wait "$to" 300
	t_eq "$p: $to's exit status" 0 "$T_STATUS"
	t_check "$p: $to: exactly once, in order" check_exactly_once "$T_DIR/$to.txt" "$n"
}

# 1. the journal's own limit: 2000 x 4 KB is more than journal-max-size
part 1 2000 bob carol
t_check "1: the journal kept to journal-max-size" test "$(stat -c %s "$FS/journal/data.mdb")" -le $((6 * 1024 * 1024))
drain 1 2000 carol

# 2. the filesystem full: the map (16M) bigger than what another file leaves
n_stop cy
N_EXTRA[cy]=""
n_set cy "journal-map-size 16M"; n_set cy "journal-disk-floor 1M"
n_start cy
t_wait_for "2: the county is up again" 10 eval '[ $(grep -c "link fj: session .* up over" "$T_DIR/cy.log") -ge 2 ]'
fill=$(($(free_kb) - 3072))
t_check "2: another file fills the tmpfs but 3 MB (${fill} KB)" \
	dd if=/dev/zero of="$FS/filler" bs=1024 count="$fill" status=none
part 2 2000 fred erin 50
t_check "2: the tmpfs is full" test "$(free_kb)" -lt 2048
rm -f "$FS/filler"
echo "# 2: filler removed, $(free_kb) KB free"
drain 2 2000 erin
t_check "2: the county said the disk is full" grep -q "journal .*: the disk is full" "$T_DIR/cy.log"
t_check "2: ... and that it has room again" grep -q "journal .*: the disk has room again" "$T_DIR/cy.log"
t_check "no push failed with a journal error (only refused as full)" \
	t_not grep -E 'server: .*: journal: ' "$T_DIR/cy.log"
n_stop cy
t_eq "the county stops on SIGTERM with status 0" 0 "$T_STATUS"
t_check "its hash chain verifies" "$top_builddir/node/cascadectl" audit verify --journal "$FS/journal"
t_done
