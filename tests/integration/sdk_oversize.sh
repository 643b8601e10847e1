#!/bin/bash
# One packet above the node's max-packet among good ones, pushed before the
# SDK knew the limit (sent while the node was down, from the outbox of a
# state directory): the node refuses that packet alone (rejects[], reason
# oversize) and takes the rest of the push. The good ones reach bob once and
# in order, cascade_flush_rejected() names the big one with its size and
# the limit, and nobody resends anything in a loop. (It used to refuse the
# whole push TOO_LARGE, and the SDK pushed it again forever.) Over tcp and
# http. (Once a session is up the SDK knows the limit, and cascade_send()
# refuses such a packet itself with CASCADE_ETOOBIG.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init sdk_oversize
PEER=${SDKPEER:-$top_builddir/tests/sdk/sdkpeer}
LIMIT=65536 BIG=200000

n_node m fj master
for c in alice bob carol dan; do n_client m $c; done
n_http m
n_set m "max-packet $LIMIT"
_n_write_conf m        # the ports, for the urls below; the node starts later

datas() { if [ -f "$1" ]; then awk '$5 == 0' "$1" | wc -l; else echo 0; fi; }
ns() { awk '$5 == 0 { printf "%s ", $3 }' "$1"; }

# case TAG URL SENDER RECEIVER: five packets, the third BIG bytes
case_run() {
	local tag=$1 url=$2 from=$3 to=$4
	t_bg "$tag" "$PEER" send -u "$url" -a "fj/$from" -s "$T_DIR/$from.secret" -t "fj/$to" -n 5 \
		-Z 3:$BIG -S "$T_DIR/$from.state" -W 40 -v
	t_wait_for "$tag: the five are in the outbox" 10 test -d "$T_DIR/$from.state"
}
case_check() {
	local tag=$1 from=$2 to=$3
	t_check "$tag: the sender gets custody of all five" t_wait "$tag" 40
	t_eq "$tag: its exit status" 0 "$T_STATUS"
	t_check "$tag: cascade_flush_rejected() names the big one: oversize, its size, the limit" \
		grep -q "^rejected [0-9a-f-]* 5 oversize: payload: $BIG bytes, over the limit of $LIMIT" \
		"$T_DIR/$tag.log"
	t_eq "$tag: one packet rejected" 1 "$(grep -c '^rejected ' "$T_DIR/$tag.log")"
	t_eq "$tag: the SDK heard of the rejection once (no resend loop)" 1 \
		"$(grep -c 'rejected by the node: oversize' "$T_DIR/$tag.log")"
	t_check "$tag: the receiver gets the four good ones" t_wait "r$tag" 40
	t_eq "$tag: the receiver's exit status" 0 "$T_STATUS"
	t_eq "$tag: the four, once each, in order" "1 2 4 5 " "$(ns "$T_DIR/r$tag.txt")"
}

# sent while the node is down: the SDK does not know the limit yet
case_run tcp "$(n_url m)" alice bob
case_run http "$(n_http_url m)" carol dan
n_start m
t_wait_for "the node listens on http" 10 t_port_open "$HPORT_m"
t_bg rtcp "$PEER" recv -u "$(n_url m)" -a fj/bob -s "$T_DIR/bob.secret" -n 4 -o "$T_DIR/rtcp.txt" -W 40
t_bg rhttp "$PEER" recv -u "$(n_http_url m)" -a fj/dan -s "$T_DIR/dan.secret" -n 4 \
	-o "$T_DIR/rhttp.txt" -W 40
case_check tcp alice bob
case_check http carol dan
t_check "the node refused no whole push as too large" \
	t_not grep -q "packet [0-9]* of the batch has [0-9]* bytes" "$T_DIR/m.log"

t_done
