#!/bin/bash
# journal-key: patient payloads encrypted at rest (issue 8, item 15). A node
# with a key holds packets while its parent is down: its data.mdb never
# holds a payload marker (a control node without a key does: the check can
# fail); restarted without the key it refuses, naming the key id; restarted
# with a new key plus the old one, old packets are delivered exactly once
# and new ones are sealed under the new key; a cancelled packet's payload is
# gone from what the journal returns; cascadectl audit still reads the
# metadata without any key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init journal_key
CTL=$top_builddir/node/cascadectl

mkkey() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/$1"; echo >>"$T_DIR/$1"; chmod 600 "$T_DIR/$1"; }
mkkey old.key
mkkey new.key
# the key id cascade prints: the first 8 bytes of SHA-256 of the key bytes
kid() { tr -d ' \n' <"$T_DIR/$1" | perl -ne 'print pack("H*", $_)' | sha256sum | cut -c1-16; }

n_node master fj master
n_node enc fj-xm                # with journal-key
n_node ctl fj-xc                # the control: no key
n_link enc master; n_link ctl master
n_client enc alice; n_client ctl carol; n_client master bob
n_set enc "journal-key $T_DIR/old.key"
n_start enc
n_start ctl                     # the master stays down: bodies sit in the journals

M1=MARKER-old-4a1f9e-Li-Wei-ECG
M2=MARKER-new-93bd07-Li-Wei-MRI
MC=MARKER-cancel-5e2c81
t_check "alice: 20 packets taken by fj-xm (its parent down)" \
	tc_send enc alice fj/bob 20 -m "$M1" -W 20
t_check "carol: 20 packets taken by fj-xc" tc_send ctl carol fj/bob 20 -m "$M1" -W 20
count() { grep -a -c -- "$1" "$T_DIR/$2/journal/data.mdb" || true; }
t_check "control: the marker is in fj-xc's data.mdb (so the next check can fail)" \
	test "$(count "$M1" ctl)" -gt 0
t_eq "fj-xm's data.mdb holds no copy of the marker" 0 "$(count "$M1" enc)"
t_check "fj-xm says its bodies are encrypted" \
	grep -q "journal: packet bodies encrypted at rest under key id $(kid old.key)" "$T_DIR/enc.log"

# a cancelled packet: its payload leaves the journal
cid=$(tc_send enc alice fj/bob 1 -m "$MC" -I | awk '/^id / { print $2 }')
t_check "alice sent a packet to cancel" test -n "$cid"
t_check "show: 'waiting' and its payload size before the cancel" \
	bash -c "'$CTL' -f '$T_DIR/enc.conf' show $cid | grep -q 'payload   [0-9]* bytes'"
t_check "alice cancels it" tc_send enc alice fj/bob 1 -c "$cid"
t_wait_for "fj-xm removed it" 10 grep -q "packet $cid cancelled by fj-xm/alice" "$T_DIR/enc.log"
t_check "show: src and dst still known, the payload dropped" bash -c \
	"'$CTL' -f '$T_DIR/enc.conf' show $cid | tee '$T_DIR/show.txt' | grep -q '^src  *fj-xm/alice' &&
	 grep -q 'payload   dropped from the journal' '$T_DIR/show.txt' &&
	 grep -q 'cancelled' '$T_DIR/show.txt'"
t_check "show --json: pruned, no payload" bash -c \
	"'$CTL' -f '$T_DIR/enc.conf' --json show $cid | jq -e '.[0].pruned == true and (.[0].payload_size // 0) == 0' >/dev/null"
# the same on the control node, where the body was in clear: cascade no
# longer returns it, but LMDB's copy-on-write leaves the old page as it was
ccid=$(tc_send ctl carol fj/bob 1 -m "$MC" -I | awk '/^id / { print $2 }')
t_check "carol cancels hers" tc_send ctl carol fj/bob 1 -c "$ccid"
t_wait_for "fj-xc removed it" 10 grep -q "packet $ccid cancelled by fj-xc/carol" "$T_DIR/ctl.log"
echo "# control (no key): copies of the cancelled payload left in data.mdb's pages: $(count "$MC" ctl)"

# without the key: refused, with the key id and what to do
n_stop enc
sed -i '/^journal-key/d' "$T_DIR/enc.conf"
timeout 20 "$CASCADED" -d -f "$T_DIR/enc.conf" >"$T_DIR/nokey.txt" 2>&1
t_check "without journal-key fj-xm refuses to start" test $? -ne 0 -a $? -ne 124
# 20 packets and the cancel packet (on its way to fj, whose node answers
# it: the parent is down); the cancelled packet's body is gone
t_check "... saying why, the key id and the count" grep -q \
	"21 packet bodies are encrypted (key id $(kid old.key)) and no journal-key is configured" \
	"$T_DIR/nokey.txt"
t_check "... and nothing listens" t_not t_port_open "$PORT_enc"
# the new key alone: refused too, naming the old key id
N_EXTRA[enc]="journal-key $T_DIR/new.key
"
_n_write_conf enc
timeout 20 "$CASCADED" -d -f "$T_DIR/enc.conf" >"$T_DIR/newonly.txt" 2>&1
t_check "with only the new key fj-xm refuses too, naming the old key id" grep -q \
	"21 packet bodies are encrypted under journal key id $(kid old.key), which journal-key does not list" \
	"$T_DIR/newonly.txt"

# a key file others may read is refused with file:line, like a secret
cp "$T_DIR/new.key" "$T_DIR/open.key"; chmod 644 "$T_DIR/open.key"
sed "s|^journal-key .*|journal-key $T_DIR/open.key|" "$T_DIR/enc.conf" >"$T_DIR/open.conf"
chmod 600 "$T_DIR/open.conf"
"$CASCADED" -n -f "$T_DIR/open.conf" >"$T_DIR/open.txt" 2>&1
t_check "cascaded -n refuses a key file readable by others" test $? -ne 0
t_check "... with file:line and the fix" grep -q \
	"open.conf:[0-9]*: journal-key: .*open.key: readable or writable by group or others (mode 0644); chmod 600 it" \
	"$T_DIR/open.txt"

# rotated: the new key first, the old one still readable
N_EXTRA[enc]="journal-key $T_DIR/new.key $T_DIR/old.key
"
n_start enc
t_check "alice: 20 more under the new key" tc_send enc alice fj/bob 20 -m "$M2" -W 20
t_eq "no copy of the new marker in fj-xm's data.mdb" 0 "$(count "$M2" enc)"
t_eq "nor of the old one" 0 "$(count "$M1" enc)"
t_eq "nor of the cancelled one" 0 "$(count "$MC" enc)"

# the parent comes back: everything but the cancelled packets arrives, once
tc_recv_bg bob master bob 0 -W 25
n_start master
recv_n() { [ -f "$T_DIR/bob.txt" ] && [ "$(awk '$6 == 0' "$T_DIR/bob.txt" | wc -l)" -ge "$1" ]; }
t_wait_for "bob receives 60 packets" 30 recv_n 60
sleep 2
# two runs of tclient number their payloads from 1 each: ids, not n, are checked
distinct() { awk -v src="$1" '$6 == 0 && $4 == src { print $3 }' "$T_DIR/bob.txt" | sort -u | wc -l; }
grep ' fj-xm/alice ' "$T_DIR/bob.txt" >"$T_DIR/bob-xm.txt"
t_eq "bob: 40 distinct packets from fj-xm, old key and new" 40 "$(distinct fj-xm/alice)"
t_check "... none twice" check_exactly_once_ids "$T_DIR/bob-xm.txt"
t_check "bob: from fj-xc, 20 exactly once" bash -c \
	". '$top_srcdir/tests/integration/nodes.sh'; grep ' fj-xc/carol ' '$T_DIR/bob.txt' >'$T_DIR/bob-xc.txt'; check_exactly_once '$T_DIR/bob-xc.txt' 20"
t_check "bob never got a cancelled packet" t_not grep -q -e "$cid" -e "$ccid" "$T_DIR/bob.txt"

# the audit reads the metadata with no key at all (read only, beside the daemon)
n_audit "$T_DIR/enc/journal" >"$T_DIR/audit.txt" 2>&1
t_check "cascadectl audit runs on fj-xm's journal without the key" test $? -eq 0
t_eq "... and lists the 42 accepted packets (a cancel among them) with src and dst" 42 \
	"$(grep -c 'accepted id=.* src=fj-xm/alice dst=fj/bob' "$T_DIR/audit.txt")"
t_check "... the forwarded ones" grep -q 'forwarded id=.* peer=up src=fj-xm/alice' "$T_DIR/audit.txt"
t_check "... and the cancel" grep -q "cancelled id=$cid .*src=fj-xm/alice" "$T_DIR/audit.txt"
t_check "cascadectl audit verify: the chain is intact" "$top_builddir/node/cascadectl" audit verify \
	--journal "$T_DIR/enc/journal"
t_done
