#!/bin/bash
# restart.sh with the carriers mixed per link: province -> master over tcp,
# city -> province over http, county A -> city over tcp, county B -> city
# over http. 10 000 packets from a client at county A to a client at county
# B (via the master) while the city is killed with SIGKILL and restarted
# twice and the master once: every packet arrives exactly once, in order.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init http_tree
N_SYNC=yes

n_topo_prov
n_transport prov tcp; n_transport city http; n_transport ca tcp; n_transport cb http
n_start master prov city ca cb
up_over() { grep -q "link .*: session .* up over $2" "$T_DIR/$1.log"; }
for l in "prov tcp" "city http" "ca tcp" "cb http"; do
	t_wait_for "link of ${l% *} up over ${l#* }" 10 up_over $l
done
t_check "the province serves http to the city" grep -q "fj-p1-xm: session .* up over http" "$T_DIR/prov.log"
t_check "the city serves tcp to county A" grep -q "fj-p1-xm-a: session .* up over tcp" "$T_DIR/city.log"
t_check "the city serves http to county B" grep -q "fj-p1-xm-b: session .* up over http" "$T_DIR/city.log"

COUNT=10000
tc_recv_bg bob cb bob $COUNT -W 240
t_bg alice "$T_TCLIENT" send -u "$(n_url ca)" -a fj-p1-xm-a/alice -s "$T_DIR/alice.secret" \
	-t fj-p1-xm-b/bob -n $COUNT -b 10 -W 240

t_wait_for "traffic flows" 30 t_lines_over "$T_DIR/bob.txt" 200
n_kill9 city
echo "# city killed after $(t_lines "$T_DIR/bob.txt") received"
sleep 0.5
n_restart city
t_wait_for "traffic flows again" 60 t_lines_over "$T_DIR/bob.txt" 3000
n_kill9 city
echo "# city killed again after $(t_lines "$T_DIR/bob.txt") received"
n_restart city
t_wait_for "traffic flows once more" 60 t_lines_over "$T_DIR/bob.txt" 6000
n_kill9 master
echo "# master killed after $(t_lines "$T_DIR/bob.txt") received"
sleep 1
n_restart master

t_check "alice: all $COUNT acked by her county" t_wait alice 240
t_check "bob: all $COUNT received" t_wait bob 240
t_check "exactly once, in order" check_exactly_once "$T_DIR/bob.txt" $COUNT
t_check "no other node restarted" test "$(grep -c '=== .* start:' "$T_DIR/ca.log")" -eq 1
t_check "county B came back over http each time" \
	test "$(grep -c "link fj-p1-xm: session .* up over http" "$T_DIR/cb.log")" -ge 3
t_check "the city came back to the province over http" \
	test "$(grep -c "link fj-p1: session .* up over http" "$T_DIR/city.log")" -ge 3
t_done
