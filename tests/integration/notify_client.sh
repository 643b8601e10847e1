#!/bin/bash
# A client's own offline-notify-after (cascade.conf(5)): node-wide 1h, ward's
# 1s, batch without one. A packet for the offline ward is noticed within
# seconds, one for the offline batch client is not (it waits the node's 1h);
# a reload changing batch's to 1s makes its notice due too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init notify_client

n_notify_recv

n_node m fj master
for c in alice ward batch; do n_client m $c; done
n_set m "offline-notify-url http://127.0.0.1:$RPORT/notify"
n_set m "offline-notify-after 1h"
_n_write_conf m
# ward's block gets its own delay
sed -i "/^client ward {/a\\    offline-notify-after 1s" "$T_DIR/m.conf"
t_bg m "$CASCADED" -d -f "$T_DIR/m.conf"
t_wait_for "m listens" 10 t_port_open "$PORT_m"

posts() { awk -v id="$1" '$3 == id' "$POSTS" | wc -l; }
has_post() { [ "$(posts "$1")" -ge 1 ]; }
send1() { tc_send m alice "fj/$1" 1 -I | awk '/^id / { print $2 }'; }

wid=$(send1 ward); bid=$(send1 batch)
t_check "two packets sent" test -n "$wid" -a -n "$bid"
t_wait_for "ward's notice arrives (its own 1s)" 15 has_post "$wid"
sleep 3
t_eq "batch's does not (the node's 1h)" 0 "$(posts "$bid")"

sed -i "/^client batch {/a\\    offline-notify-after 1s" "$T_DIR/m.conf"
out=$("$top_builddir/node/cascadectl" -f "$T_DIR/m.conf" reload); rc=$?
echo "$out" | sed 's/^/# reload: /'
t_eq "reload exits 0" 0 "$rc"
t_check "it names batch's change" grep -q "client batch: offline-notify-after changed" <<<"$out"
t_wait_for "after the reload batch's notice arrives" 15 has_post "$bid"
t_eq "ward's notice was sent once" 1 "$(posts "$wid")"
t_done
