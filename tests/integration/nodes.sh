# nodes.sh: building and running trees of cascaded for the integration tests.
# Source after lib.sh and t_init.
#
#	n_node NAME ID [master]      a node: config $T_DIR/NAME.conf, data in $T_DIR/NAME,
#	                             listens on a free port (PORT_NAME)
#	n_link CHILD PARENT [PORT]   CHILD's parent is PARENT (through PORT, e.g. a proxy's)
#	n_client NAME CLIENT         a client of node NAME; secret $T_DIR/CLIENT.secret
#	n_set NAME LINE...           adds top-level lines to NAME's config
#	n_start NAME... / n_stop NAME / n_kill9 NAME / n_restart NAME
#	n_url NAME                   tcp://127.0.0.1:PORT_NAME
#	n_transport CHILD tcp|http|auto [HTTP_PORT]
#	                             CHILD's link carrier (default: tcp url only, as
#	                             before); http and auto give the parent an http
#	                             listener on HPORT_PARENT (through HTTP_PORT, e.g.
#	                             a proxy's) and CHILD a "transport" line
#	n_http NAME                  NAME listens on http://127.0.0.1:HPORT_NAME too
#	n_http_url NAME              http://127.0.0.1:HPORT_NAME
#	n_parent_set CHILD LINE...   adds lines to CHILD's parent block
#	n_tls NAME PKI               NAME also listens on tls+tcp://127.0.0.1:TPORT_NAME and
#	                             https://127.0.0.1:SPORT_NAME/cascade with PKI's node
#	                             certificate (conf/testpki.sh PKI); a child of NAME
#	                             then links with n_transport CHILD tls|https [PORT]
#	                             (through PORT, e.g. a proxy's), verifying PKI's CA
#	n_child_set PARENT CHILD LINE  a line inside PARENT's child block of CHILD
#	N_PULLWAIT[NAME]=DURATION    NAME's pull-wait (default 2s)
#	N_LINK_TRANSPORT=tcp|http|auto   (environment) every n_link gets this
#	                             transport, e.g. to run a test with http links
#	n_pki DIR                    a test PKI for localhost in DIR (conf/testpki.sh)
#
# Topologies, each in one line (nodes, links, clients; started with --start,
# else the caller adds to them and starts them itself, n_start NAME...):
#	n_topo_chain4                county -> city -> province -> master
#	n_topo_city2 [--proxy NODE] [--start]   master, city, counties ca and cb
#	n_topo_prov [--start]        master, province, city, counties ca and cb
#	n_topo_pair [--proxy NODE] [--start]    master, counties ca and cb
#
# The config is written when the node starts (n_start), so links and clients
# can be added in any order.
T_TCLIENT=$top_builddir/tests/tools/tclient
# CASCADED from the environment runs another build of the daemon (e.g. one without a fix)
CASCADED=${CASCADED:-$top_builddir/node/cascaded}
declare -gA N_ID=() N_ROLE=() N_PARENT=() N_PARENT_PORT=() N_EXTRA=() N_CHILDREN=() N_CLIENTS=()
declare -gA N_TRANSPORT=() N_PARENT_HPORT=() N_HTTP=() N_PARENT_EXTRA=() N_PULLWAIT=()
declare -gA N_TLS=()

_n_secret() {
	local f=$T_DIR/$1.secret
	[ -f "$f" ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f"; echo >>"$f"; chmod 600 "$f"; }
	echo "$f"
}

n_node() {
	local name=$1 id=$2 role=${3:-node}
	N_ID[$name]=$id
	N_ROLE[$name]=$role
	eval "PORT_$name=$(t_free_port)"
	eval "HPORT_$name=$(t_free_port)"
	N_EXTRA[$name]=""
	N_CHILDREN[$name]=""
	N_CLIENTS[$name]=""
}

n_link() {
	local child=$1 parent=$2 port=${3:-}
	N_PARENT[$child]=$parent
	N_PARENT_PORT[$child]=$port
	N_CHILDREN[$parent]="${N_CHILDREN[$parent]} $child"
	[ -z "${N_LINK_TRANSPORT:-}" ] || N_TRANSPORT[$child]=$N_LINK_TRANSPORT
}

n_client() {
	N_CLIENTS[$1]="${N_CLIENTS[$1]} $2"
	_n_secret "$2" >/dev/null
}

# n_topo_chain4: county -> city -> province -> master (ids pv-ct-cy, pv-ct,
# pv, master), client producer at the county and consumer at the master;
# the benchmark's chain (BENCH.md). N_SYNC, N_DEAD etc. apply as set.
n_topo_chain4() {
	n_node master master master
	n_node province pv
	n_node city pv-ct
	n_node county pv-ct-cy
	n_link province master
	n_link city province
	n_link county city
	n_client county producer
	n_client master consumer
}

# _n_topo_args ARGS...: the options of the n_topo_* helpers below, into
# their locals proxy and start. --proxy NODE: NODE's link to its parent runs
# through the fault proxy "link" (t_proxy: link_PORT, link_CTL; t_proxy_cmd
# link cut ...); --start: start every node of the topology, parents first.
_n_topo_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--proxy) proxy=${2:?"${FUNCNAME[1]}: --proxy needs a node"}; shift 2 ;;
		--start) start=1; shift ;;
		*) echo "${FUNCNAME[1]}: unknown argument '$1'" >&2; return 1 ;;
		esac
	done
}

# _n_topo_link CHILD PARENT PROXIED: n_link CHILD PARENT, through the fault
# proxy "link" in front of PARENT's port if PROXIED is CHILD
_n_topo_link() {
	local pv=PORT_$2
	if [ "$3" = "$1" ]; then
		t_proxy link "${!pv}" || return 1
		n_link "$1" "$2" "$link_PORT"
	else
		n_link "$1" "$2"
	fi
}

# n_topo_city2 [--proxy city|ca] [--start]: a master (fj), a city (fj-xm)
# below it and two counties ca (fj-xm-a) and cb (fj-xm-b) below the city;
# client alice at ca, bob at cb.
n_topo_city2() {
	local proxy= start=
	_n_topo_args "$@" || return 1
	n_node master fj master
	n_node city fj-xm
	n_node ca fj-xm-a
	n_node cb fj-xm-b
	_n_topo_link city master "$proxy" || return 1
	_n_topo_link ca city "$proxy" || return 1
	n_link cb city
	n_client ca alice; n_client cb bob
	[ -z "$start" ] || n_start master city ca cb
}

# n_topo_prov [--start]: n_topo_city2 one level deeper: a master (fj), a
# province (fj-p1), its city (fj-p1-xm), two counties ca (fj-p1-xm-a) and cb
# (fj-p1-xm-b); client alice at ca, bob at cb.
n_topo_prov() {
	local proxy= start=
	_n_topo_args "$@" || return 1
	n_node master fj master
	n_node prov fj-p1
	n_node city fj-p1-xm
	n_node ca fj-p1-xm-a
	n_node cb fj-p1-xm-b
	n_link prov master; n_link city prov; n_link ca city; n_link cb city
	n_client ca alice; n_client cb bob
	[ -z "$start" ] || n_start master prov city ca cb
}

# n_topo_pair [--proxy ca|cb] [--start]: a master (fj) and two counties ca
# (fj-a) and cb (fj-b) right below it; client alice at ca, bob at cb.
n_topo_pair() {
	local proxy= start=
	_n_topo_args "$@" || return 1
	n_node master fj master
	n_node ca fj-a
	n_node cb fj-b
	_n_topo_link ca master "$proxy" || return 1
	_n_topo_link cb master "$proxy" || return 1
	n_client ca alice; n_client cb bob
	[ -z "$start" ] || n_start master ca cb
}

# n_ackshim: sets SHIM_SO, the ackshim LD_PRELOAD library (it records fsync,
# the meta page's write and the ack's send; it can stall fsync), and SHIM,
# what to preload for it (with the ASan runtime first under the sanitizers).
n_ackshim() {
	SHIM_SO=$top_builddir/tests/tools/.libs/ackshim.so
	SHIM=$(t_preload "$SHIM_SO")
}

# n_pki DIR: a throwaway PKI for the host name localhost in DIR (a CA, a node
# and a client certificate: conf/testpki.sh), for n_tls and tls-ca.
n_pki() {
	sh "$top_srcdir/conf/testpki.sh" "${1:?usage: n_pki DIR}" localhost
}

# n_notify_recv: starts notify_recv.py (an offline-notice receiver) as
# background job recv; sets RPORT (its port) and POSTS (its posts.txt)
n_notify_recv() {
	RPORT=$(t_free_port)
	POSTS=$T_DIR/posts.txt
	touch "$POSTS"
	t_bg recv python3 "$top_srcdir/tests/integration/notify_recv.py" "$T_DIR" "$RPORT"
	t_wait_for "the receiver listens" 10 t_port_open "$RPORT"
}

# n_client_set NODE CLIENT LINE: a line inside that client's block
declare -gA N_CLIENT_EXTRA=()
n_client_set() {
	N_CLIENT_EXTRA[$1/$2]="${N_CLIENT_EXTRA[$1/$2]:-}    $3
"
}

# n_child_set PARENT CHILD LINE: a line inside PARENT's block for child CHILD
declare -gA N_CHILD_EXTRA=()
n_child_set() {
	N_CHILD_EXTRA[$1/$2]="${N_CHILD_EXTRA[$1/$2]:-}    $3
"
}

n_set() {
	local name=$1; shift
	N_EXTRA[$name]="${N_EXTRA[$name]}$*
"
}

n_url() {
	local v=PORT_$1
	echo "tcp://127.0.0.1:${!v}"
}

n_transport() {
	N_TRANSPORT[$1]=$2
	N_PARENT_HPORT[$1]=${3:-}
}

n_http() { N_HTTP[$1]=1; }

n_tls() {
	N_TLS[$1]=$2
	eval "TPORT_$1=$(t_free_port)"
	eval "SPORT_$1=$(t_free_port)"
}

n_http_url() {
	local v=HPORT_$1
	echo "http://127.0.0.1:${!v}"
}

n_parent_set() {
	local name=$1; shift
	N_PARENT_EXTRA[$name]="${N_PARENT_EXTRA[$name]:-}    $*
"
}

# Whether NAME listens on http: asked for, or a child links over http.
_n_wants_http() {
	local c
	[ -n "${N_HTTP[$1]:-}" ] && return 0
	for c in ${N_CHILDREN[$1]}; do
		case ${N_TRANSPORT[$c]:-} in http | auto) return 0 ;; esac
	done
	return 1
}

# The claim patterns a parent allows a child: its id and everything below
# (ids in these tests are prefixed by their parent's).
_n_write_conf() {
	local name=$1 f=$T_DIR/$1.conf c p port pv
	{
		echo "node ${N_ID[$name]}"
		echo "role ${N_ROLE[$name]}"
		echo "data-dir $T_DIR/$name"
		echo "sync ${N_SYNC:-no}"
		echo "allow-plain yes"
		pv=PORT_$name
		echo "listen tcp://127.0.0.1:${!pv}"
		if _n_wants_http "$name"; then
			pv=HPORT_$name
			echo "listen http://127.0.0.1:${!pv}"
		fi
		if [ -n "${N_TLS[$name]:-}" ]; then
			pv=TPORT_$name
			echo "listen tls+tcp://127.0.0.1:${!pv}"
			pv=SPORT_$name
			echo "listen https://127.0.0.1:${!pv}/cascade"
			echo "tls-cert ${N_TLS[$name]}/node.crt"
			echo "tls-key ${N_TLS[$name]}/node.key"
		fi
		echo "pull-wait ${N_PULLWAIT[$name]:-2s}"
		printf '%s' "${N_EXTRA[$name]}"
		p=${N_PARENT[$name]:-}
		if [ -n "$p" ]; then
			pv=PORT_$p
			port=${N_PARENT_PORT[$name]:-${!pv}}
			echo "parent ${N_ID[$p]} {"
			case ${N_TRANSPORT[$name]:-} in
			tls)
				pv=TPORT_$p
				echo "    url tls+tcp://localhost:${N_PARENT_HPORT[$name]:-${!pv}}"
				echo "    ca ${N_TLS[$p]}/ca.crt" ;;
			https)
				pv=SPORT_$p
				echo "    url https://localhost:${N_PARENT_HPORT[$name]:-${!pv}}/cascade/"
				echo "    transport http"
				echo "    ca ${N_TLS[$p]}/ca.crt" ;;
			http) ;;
			*) echo "    url tcp://127.0.0.1:$port" ;;
			esac
			if [ "${N_TRANSPORT[$name]:-tls}" != tls ] && [ "${N_TRANSPORT[$name]}" != https ]; then
				pv=HPORT_$p
				[ "${N_TRANSPORT[$name]}" = tcp ] ||
					echo "    url http://127.0.0.1:${N_PARENT_HPORT[$name]:-${!pv}}"
				echo "    transport ${N_TRANSPORT[$name]}"
			fi
			echo "    secret $(_n_secret "link-$name")"
			echo "    reconnect 100ms 1s"
			echo "    dead-timeout ${N_DEAD:-3s}"
			printf '%s' "${N_PARENT_EXTRA[$name]:-}"
			echo "}"
		fi
		for c in ${N_CHILDREN[$name]}; do
			echo "child ${N_ID[$c]} {"
			echo "    secret $(_n_secret "link-$c")"
			echo "    claim ${N_ID[$c]} ${N_ID[$c]}-*${N_CLAIM_EXTRA[$c]:-}"
			printf '%s' "${N_CHILD_EXTRA[$name/$c]:-}"
			echo "}"
		done
		for c in ${N_CLIENTS[$name]}; do
			echo "client $c {"
			echo "    secret $T_DIR/$c.secret"
			printf '%s' "${N_CLIENT_EXTRA[$name/$c]:-}"
			echo "}"
		done
	} >"$f"
	chmod 600 "$f"
}
declare -gA N_CLAIM_EXTRA=()

# n_start NAME...: starts each NAME's daemon in turn and waits until this
# run of it logs "running", which it does once every listener is bound. Not
# a connect to its port: nng 1.5.2 can lose a connection that closes in its
# SP handshake as the node stops, and keep the listener for good
# (LeakSanitizer saw it in metrics.sh, a node stopped 100 ms after its
# start); nor would a connect tell our daemon from another process on that
# port. Bash builtins only: callers may run n_start with LD_PRELOAD set
# (shutdown.sh's shim). Exits 1 if one did not start (the others are still
# started).
n_start() {
	local name lines rc=0
	for name in "$@"; do
		lines=()
		_n_write_conf "$name"
		[ -f "$T_DIR/$name.log" ] && mapfile -t lines <"$T_DIR/$name.log"
		t_bg "$name" "$CASCADED" -d -f "$T_DIR/$name.conf"
		t_wait_for "$name listens" 10 _n_running "$name" "${#lines[@]}" || rc=1
	done
	return $rc
}

# _n_running NAME SKIP: NAME's log after its first SKIP lines says the
# daemon runs.
_n_running() {
	local lines=() l

	mapfile -t -s "$2" lines <"$T_DIR/$1.log" 2>/dev/null || return 1
	for l in "${lines[@]}"; do
		[[ $l =~ ^[0-9:.]+\ cascaded:\ .*\ running ]] && return 0
	done
	return 1
}

n_stop() { t_kill "$1" TERM; }
n_kill9() { t_kill "$1" KILL; }
n_restart() { n_start "$1"; }

# tc_send NAME NODE CLIENT DST COUNT [opts]: tclient send through node NAME.
tc_send() {
	local name=$1 client=$2 dst=$3 count=$4; shift 4
	"$T_TCLIENT" send -u "$(n_url "$name")" -a "${N_ID[$name]}/$client" \
		-s "$T_DIR/$client.secret" -t "$dst" -n "$count" "$@"
}

# tc_recv_bg TAG NAME CLIENT COUNT [opts]: tclient recv in the background into $T_DIR/TAG.txt
tc_recv_bg() {
	local tag=$1 name=$2 client=$3 count=$4; shift 4
	t_bg "$tag" "$T_TCLIENT" recv -u "$(n_url "$name")" -a "${N_ID[$name]}/$client" \
		-s "$T_DIR/$client.secret" -n "$count" -o "$T_DIR/$tag.txt" "$@"
}

# check_exactly_once FILE COUNT: every n in 1..COUNT once, in order; a repeated
# id only as a resend of the same (epoch, seq).
check_exactly_once() {
	local file=$1 count=$2
	awk -v count="$count" '
		$6 != 0 { next }                      # notices
		{ key = $1 " " $2
		  if ($3 in first) { if (first[$3] != key) { printf "id %s delivered twice: %s and %s\n", $3, first[$3], key; bad = 1 }; next }
		  first[$3] = key; n++
		  if ($5 + 0 <= last[$4] + 0) { printf "out of order in flow %s: %s after %s\n", $4, $5, last[$4]; bad = 1 }
		  last[$4] = $5
		}
		END { if (n != count) { printf "%d distinct packets, expected %d\n", n, count; bad = 1 }
		      exit bad }' "$file"
}

# tc_data FILE: how many data packets (not notices) tclient recv wrote into
# FILE; 0 while there is no FILE.
tc_data() {
	if [ -f "$1" ]; then awk '$6 == 0' "$1" | wc -l; else echo 0; fi
}

# tc_ids FILE: how many distinct data packet ids are in FILE (a resend of
# the same packet counts once); 0 while there is no FILE.
tc_ids() {
	if [ -f "$1" ]; then awk '$6 == 0 { print $3 }' "$1" | sort -u | wc -l; else echo 0; fi
}

# check_exactly_once_ids FILE: no data packet id delivered under two (epoch, seq).
check_exactly_once_ids() {
	awk '$6 != 0 { next }
		{ key = $1 " " $2
		  if ($3 in first && first[$3] != key) { printf "id %s twice: %s and %s\n", $3, first[$3], key; bad = 1 }
		  first[$3] = key }
		END { exit bad }' "$1"
}

# n_audit DIR [cascadectl audit options]: the event log of the journal (or
# data-dir) DIR, read beside the running node or of a stopped one, one event
# a line: "SEQ TIME TYPE [id=ID leg=L [kind=K] [ref=R]] peer=.. src=.. dst=..
# reason=N text=..". cascadectl audit --journal --json underneath.
n_audit() {
	local dir=$1
	shift
	"$top_builddir/node/cascadectl" audit --journal "$dir" --json "$@" | jq -r '
		"\(.seq) \(.time) \(.type)" +
		(if .id != "" then " id=\(.id) leg=\(.leg)" +
			(if .kind != "" then " kind=\(.kind)" else "" end) +
			(if .ref != "" then " ref=\(.ref)" else "" end) else "" end) +
		" peer=\(.peer) src=\(.src) dst=\(.dst) reason=\(.reason) text=\(.text)"'
}
