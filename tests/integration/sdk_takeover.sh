#!/bin/bash
# libcascade's sessions as two real programs see them (issue 15, issue 17
# item 4): a batch handed to a program that is then taken over reaches the
# new program flagged as a possible redelivery, never as new; the program
# taken over does not take the session back; a clean close acknowledges
# what it delivered, so the next session of the address gets none of it
# again; a request's ttl apart from its timeout ends in CASCADE_EEXPIRED;
# a state directory in use says by which process; cascade(1) taken over
# ends with exit 3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init sdk_takeover
PEER=${SDKPEER:-$top_builddir/tests/sdk/sdkpeer}

n_node hq hq master
for c in tx rx rxh cl away; do n_client hq $c; done
n_http hq
n_start hq

peer() {
	local mode=$1 client=$2; shift 2
	"$PEER" "$mode" -u "$(n_url hq)" -a "hq/$client" -s "$T_DIR/$client.secret" "$@"
}
peer_bg() {
	local tag=$1 mode=$2 client=$3; shift 3
	t_bg "$tag" "$PEER" "$mode" -u "$(n_url hq)" -a "hq/$client" -s "$T_DIR/$client.secret" "$@"
}
distinct() { cat "$@" 2>/dev/null | awk '$5 == 0 { print $1 }' | sort -u | wc -l; }
# at_least N FILE...: the files hold at least N distinct data ids (for t_wait_for)
at_least() { local n=$1; shift; [ "$(distinct "$@")" -ge "$n" ]; }
# ids handed to the applications more than once with no copy flagged redelivery
unflagged_twice() {
	cat "$@" | awk '$5 == 0 { n[$1]++; if ($4 ~ /R/) r[$1] = 1 }
		END { for (i in n) if (n[i] > 1 && !(i in r)) c++; print c + 0 }'
}
# ids that reached both files
in_both() { comm -12 <(awk '$5 == 0 { print $1 }' "$1" | sort -u) <(awk '$5 == 0 { print $1 }' "$2" | sort -u) | wc -l; }
sessions_up() { grep -c "hq/$1: session .* up" "$T_DIR/hq.log"; }

# 1. takeover in the middle of a batch, over tcp:// and http://. 400
# packets wait for CLIENT; program A (its own state directory) takes them
# slowly, 10 ms each; program B (its own state directory) attaches as the
# same address while A is inside a batch and stays (it waits for one packet
# more than there are).
# takeover_case TAG URL CLIENT
takeover_case() {
	local tag=$1 url=$2 c=$3 a=$T_DIR/$1-a.txt b=$T_DIR/$1-b.txt
	t_check "$tag: 400 packets for $c are in the node's custody" peer send tx -t "hq/$c" -n 400 -W 30
	t_bg "${tag}A" "$PEER" recv -u "$url" -a "hq/$c" -s "$T_DIR/$c.secret" -n 400 -D 10 \
		-S "$T_DIR/$tag-stA" -o "$a" -W 40
	t_wait_for "$tag: A is taking packets" 10 at_least 10 "$a"
	t_bg "${tag}B" "$PEER" recv -u "$url" -a "hq/$c" -s "$T_DIR/$c.secret" -n 401 -D 2 \
		-S "$T_DIR/$tag-stB" -o "$b" -W 60
	t_wait_for "$tag: every packet reached one of the programs" 30 at_least 400 "$a" "$b"
	t_wait_for "$tag: A is told it was taken over" 20 grep -q "state 4:" "$T_DIR/${tag}A.log"
	# a ping-pong would show within its first pause (1 s, then 2 s, 4 s)
	sleep 4
	t_eq "$tag: no packet reached both programs unflagged" 0 "$(unflagged_twice "$a" "$b")"
	t_check "$tag: B got the batch A was handed, flagged as a possible redelivery" \
		test "$(awk '$5 == 0 && $4 ~ /R/' "$b" | wc -l)" -ge 1
	t_eq "$tag: only two sessions of $c came up (A's, then B's): no ping-pong" 2 \
		"$(sessions_up "$c")"
	t_eq "$tag: A did not come up again after it was taken over" 0 \
		"$(sed -n '/state 4:/,$p' "$T_DIR/${tag}A.log" | grep -c 'state 2:')"
	t_check "$tag: B keeps its session: it still runs" t_alive "${tag}B"
	t_kill "${tag}A" TERM
	t_kill "${tag}B" TERM
}
takeover_case tcp "$(n_url hq)" rx
takeover_case http "$(n_http_url hq)" rxh

# 2. a clean close acknowledges what it delivered. C (no state directory)
# takes 3 of 10 packets in one batch, slowly, and closes at once; D (no
# state directory either) attaches as the same address next and must get
# only what C did not take.
t_check "10 packets for cl are in the node's custody" peer send tx -t hq/cl -n 10 -W 30
t_check "C takes 3 and closes" peer recv cl -n 3 -D 100 -Q -o "$T_DIR/c.txt" -W 20
rest=$((10 - $(distinct "$T_DIR/c.txt")))
peer_bg progD recv cl -n "$rest" -o "$T_DIR/d.txt" -W 6
t_check "D ends" t_wait progD 20
t_eq "no packet C took reaches D again" 0 "$(in_both "$T_DIR/c.txt" "$T_DIR/d.txt")"
t_eq "C and D got all 10 between them" 10 "$(distinct "$T_DIR/c.txt" "$T_DIR/d.txt")"

# 3. a request's ttl apart from its timeout: hq/away is known but absent,
# so the request waits in its inbox until the ttl ends, and the EXPIRED
# notice ends the request, well within its timeout
t_check "a request with ttl 500 ms and timeout 8 s ends CASCADE_EEXPIRED" \
	peer request tx -t hq/away -n 1 -T 8000 -e 500 -Y -W 20
t_eq "cascade request --ttl 500 -T 8 ends expired: exit 5" 5 \
	"$("$top_builddir/client-sdk/cascade" -u "$(n_url hq)" -a hq/tx -s "$T_DIR/tx.secret" -T 8 \
	request --ttl 500 hq/away test.ask hello >/dev/null 2>"$T_DIR/cli_ttl.err"; echo $?)"
t_check "saying so" grep -q "expired before delivery" "$T_DIR/cli_ttl.err"

# 4. a state directory in use: the second program is told by whom
peer_bg holder recv rx -n 1000 -S "$T_DIR/stH" -o "$T_DIR/h.txt" -W 30
t_wait_for "the holder has its state directory" 10 test -f "$T_DIR/stH/lock"
sleep 0.5
peer recv rx -n 1 -S "$T_DIR/stH" -o "$T_DIR/h2.txt" -W 5 -v >"$T_DIR/busy.out" 2>&1
t_eq "a second program cannot use it" 2 "$?"
t_check "it is told the directory is in use, and by which pid" \
	grep -q "in use by process $(t_pid holder)" "$T_DIR/busy.out"
t_check "and the error says in use, not unusable" grep -q "open hq/rx: state directory in use" "$T_DIR/busy.out"
t_kill holder TERM

# 5. the command-line client taken over ends (exit 3, saying why) instead of
# listening for nothing
CLI=$top_builddir/client-sdk/cascade
ups=$(sessions_up cl)
more_ups() { [ "$(sessions_up cl)" -gt "$ups" ]; }
t_bg cli1 "$CLI" -u "$(n_url hq)" -a hq/cl -s "$T_DIR/cl.secret" listen -T 30
t_wait_for "the first listen is up" 10 more_ups
t_bg cli2 "$CLI" -u "$(n_url hq)" -a hq/cl -s "$T_DIR/cl.secret" listen -T 8
t_check "the listen taken over ends" t_wait cli1 10
t_eq "with exit 3" 3 "$T_STATUS"
t_check "saying another program took the session" grep -q "took over the session" "$T_DIR/cli1.log"
t_check "the second listen keeps the session until its -T" t_alive cli2
t_kill cli2 TERM

t_done
