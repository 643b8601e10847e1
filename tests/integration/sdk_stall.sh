#!/bin/bash
# libcascade's own connection never gives up either (issue 17): bob's SDK
# loses its connection when his node is killed and restarted, and the new
# connection's event never reaches it (tests/tools/pipeshim.c swallows nng's
# ADD_POST, a carrier gone silent). After reconnect max + dead timeout the SDK
# rebuilds its carrier, says so once, and every packet arrives exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init sdk_stall
PEER=$top_builddir/tests/sdk/sdkpeer
SHIM=$top_builddir/tests/tools/.libs/pipeshim.so

n_node master fj master
n_client master alice; n_client master bob
n_start master

COUNT=300
# sdkpeer is libtool's wrapper script: libtool --mode=execute runs the real
# program, so the shim (and, under --enable-sanitizers, the ASan runtime)
# reaches only it, not the wrapper's sed (whose exit leak LSan would report)
t_bg bob "$top_builddir/libtool" --mode=execute env LD_PRELOAD="$(t_preload "$SHIM")" \
	PIPESHIM_SWALLOW_ADD="$T_DIR/swallow-add" "$PEER" recv -u "$(n_url master)" -a fj/bob -s "$T_DIR/bob.secret" -n $COUNT \
	-o "$T_DIR/bob.txt" -W 120 -v
t_bg alice "$PEER" send -u "$(n_url master)" -a fj/alice -s "$T_DIR/alice.secret" \
	-t fj/bob -n $COUNT -i 20 -W 120
lines() { if [ -f "$T_DIR/bob.txt" ]; then awk '$5 == 0' "$T_DIR/bob.txt" | wc -l; else echo 0; fi; }
lines_over() { [ "$(lines)" -gt "$1" ]; }
t_wait_for "bob receives" 30 lines_over 30

touch "$T_DIR/swallow-add"
n_kill9 master
n_start master
t_wait_for "bob's new connection goes unheard" 10 grep -q 'pipeshim: ADD_POST of pipe .* swallowed' "$T_DIR/bob.log"
rm -f "$T_DIR/swallow-add"
t_wait_for "bob's SDK rebuilds its carrier (reconnect max 0.5 s + dead timeout 4 s)" 8 \
	grep -q 'no connection to .* rebuilding the carrier' "$T_DIR/bob.log"
t_check "bob: all $COUNT received" t_wait bob 120
t_eq "bob's exit status" 0 "$T_STATUS"
t_check "alice: all sent" t_wait alice 120
distinct=$(awk '$5 == 0 { print $1 }' "$T_DIR/bob.txt" | sort -u | wc -l)
t_eq "exactly $COUNT distinct packets" $COUNT "$distinct"
t_eq "none handed over twice unflagged" 0 \
	"$(awk '$5 == 0 && $4 !~ /R/ { print $1 }' "$T_DIR/bob.txt" | sort | uniq -d | wc -l)"
t_check "said once, and counted when up again" grep -q 'up again after 1 carrier rebuild' "$T_DIR/bob.log"
t_done
