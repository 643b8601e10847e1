#!/bin/bash
# cascade_pause() / cascade_resume() against a real node (issue 12), through
# the Python binding: bob takes 10 packets, pauses; 10 more wait in his inbox
# at the node (cascadectl clients: online, INBOX 10) and none reaches him;
# after resume he gets them, in order, each once. Then cascade_close() acks
# the last batch: bob opened again on the same state directory is handed
# nothing again.
. "$(dirname "$0")/lib.sh"
t_init sdk_pause
. "$(dirname "$0")/nodes.sh"
CTL=$top_builddir/node/cascadectl
PY=${PYTEST_PYTHON:-}
for p in $PY /usr/bin/python3 python3; do
	if "$p" -c 'import ctypes' 2>/dev/null; then PY=$p; break; fi
done
export CASCADE_LIBRARY=$top_builddir/client-sdk/.libs/libcascade.so
export PYTHONPATH=$top_srcdir/client-sdk/python PYTHONDONTWRITEBYTECODE=1
SAN_ENV=$(t_interp_env)    # the ASan runtime for python, if need be

n_node ca fj-a master
n_client ca alice; n_client ca bob
n_start ca

cat >"$T_DIR/bob.py" <<'PY'
import os, sys, threading, time
import cascade
url, secret, state, out, mark = sys.argv[1:6]
want = int(sys.argv[6])
got, lock, more = [], threading.Lock(), threading.Condition()
def on_packet(c, p):
    if p.is_notice:
        return
    with more:
        got.append(p.id_text)
        with open(out, "a") as f:
            f.write("%s %d\n" % (p.id_text, 1 if p.flags & cascade.Flag.REDELIVERY else 0))
        more.notify_all()
def wait_for(n, secs):
    with more:
        return more.wait_for(lambda: len(got) >= n, secs)
c = cascade.Client(url, "fj-a/bob", secret, state_dir=state, on_packet=on_packet)
if want == 0:                    # the reopen: anything handed over again is a failure
    time.sleep(3)
    c.close()
    sys.exit(0)
ok = wait_for(10, 20)
c.pause()
open(mark + ".paused", "w").close()
while not os.path.exists(mark + ".resume"):
    time.sleep(0.05)
with open(mark + ".during", "w") as f:
    f.write("%d\n" % len(got))
c.resume()
ok = wait_for(want, 20) and ok
c.close()
sys.exit(0 if ok else 1)
PY

t_bg bob $SAN_ENV "$PY" "$T_DIR/bob.py" "$(n_url ca)" "$T_DIR/bob.secret" "$T_DIR/bob.state" \
	"$T_DIR/bob.txt" "$T_DIR/mark" 20
t_check "alice sends 10 to bob" tc_send ca alice fj-a/bob 10
t_wait_for "bob took 10 and paused" 20 test -f "$T_DIR/mark.paused"
t_check "alice sends 10 more" tc_send ca alice fj-a/bob 10
inbox() { "$CTL" -f "$T_DIR/ca.conf" clients | awk '$1 == "fj-a/bob" { print $2, $4 }'; }
t_wait_for "cascadectl clients: bob online, 10 in his inbox" 10 eval '[ "$(inbox)" = "online 10" ]'
sleep 2
t_eq "the inbox is kept while paused" "online 10" "$(inbox)"
t_eq "bob got nothing while paused" 10 "$(wc -l <"$T_DIR/bob.txt")"
touch "$T_DIR/mark.resume"
t_check "bob resumed and got all 20" t_wait bob 30
t_eq "bob's exit status" 0 "$T_STATUS"
t_eq "none was handed over while paused" 10 "$(cat "$T_DIR/mark.during")"
# alice's two batches, in the order sent: her ids only grow
t_eq "20 packets, each once, in order, none flagged as a redelivery" "20 20 0 0" \
	"$(awk '{ n++; if (!s[$1]++) u++; r += $2; if ($1 <= prev) o++; prev = $1 }
		END { print n, u, r, o + 0 }' "$T_DIR/bob.txt")"
t_wait_for "the inbox is empty" 10 eval '[ "$(inbox)" = "offline 0" ]'
: >"$T_DIR/bob2.txt"
t_bg bob2 $SAN_ENV "$PY" "$T_DIR/bob.py" "$(n_url ca)" "$T_DIR/bob.secret" "$T_DIR/bob.state" \
	"$T_DIR/bob2.txt" "$T_DIR/mark2" 0
t_check "bob opened again" t_wait bob2 20
t_eq "... is handed nothing again (close acked the last batch)" 0 "$(wc -l <"$T_DIR/bob2.txt")"
t_done
