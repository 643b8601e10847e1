#!/bin/bash
# cascadectl top in a terminal: a detached tmux session of 80x24 runs it
# against county fj-a (under master fj, client alice); the screen shows the
# node, the link to fj and a rate that follows the traffic, fits 80x24, and
# q ends it (its pane closes; the terminal is given back).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init ctl_top
CTL=$top_builddir/node/cascadectl
if ! command -v tmux >/dev/null; then
	t_check "tmux is installed (apt-get install -y tmux; ./bootstrap does)" false
	t_done
fi

n_node master fj master
n_node ca fj-a
n_link ca master
n_client ca alice; n_client master bob
n_start master; n_start ca
TMUX_TMPDIR=$T_DIR; export TMUX_TMPDIR       # our own tmux server, not the user's
S=ctltop$$
tmux new-session -d -s "$S" -x 80 -y 24 \
	"'$CTL' -f '$T_DIR/ca.conf' top; echo \"top exited \$?\" >'$T_DIR/top.exit'; sleep 30"
screen() { tmux capture-pane -p -t "$S" >"$T_DIR/screen.txt"; }
shows() { screen && grep -q "$1" "$T_DIR/screen.txt"; }

t_wait_for "top shows the node" 10 shows "cascade top: fj-a (node)"
t_wait_for "top shows the link to fj up" 10 shows "^fj  *parent up  *tcp"
t_check "top shows alice" shows "^fj-a/alice  *offline"
t_check "the screen has the rate line" shows "^packets  in 0 (0.0/s)"
# traffic: 200 packets over about 2 s, the rate shown goes above 0
t_bg alice "$T_TCLIENT" send -u "$(n_url ca)" -a fj-a/alice -s "$T_DIR/alice.secret" -t fj/bob \
	-n 200 -i 10
t_wait_for "top shows packets coming in at a rate above 0" 10 \
	eval 'screen && grep -Eq "^packets  in [0-9]+ \(([1-9][0-9]*\.[0-9]|0\.[1-9])/s\)" "$T_DIR/screen.txt"'
sed 's/^/# | /' "$T_DIR/screen.txt"
t_check "no line wider than 80" awk 'length > 80 { exit 1 }' "$T_DIR/screen.txt"
t_eq "24 lines" 24 "$(wc -l <"$T_DIR/screen.txt")"
t_wait "alice" 30
tmux send-keys -t "$S" q
t_wait_for "q ends top, exit 0" 5 grep -q "top exited 0" "$T_DIR/top.exit"
t_check "the county still runs" t_alive ca
tmux kill-server 2>/dev/null
t_done
