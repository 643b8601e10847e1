# lib.sh: what cascade's integration tests share (bash).
#
# A test sources it, calls t_init, records checks, and ends with t_done:
#
#	#!/bin/bash
#	. "$(dirname "$0")/lib.sh"
#	t_init relay
#	port=$(t_free_port)
#	t_bg parent "$top_builddir/node/cascaded" -d -f "$T_DIR/parent.conf"
#	t_wait_for "parent listens" 10 t_port_open "$port"
#	t_proxy link "$port"			# sets link_PORT and link_CTL
#	t_proxy_cmd link cut
#	t_check "child notices" grep -q 'link down' "$T_DIR/child.log"
#	t_done
#
# Every check prints "ok - DESC" or "not ok - DESC ..." and returns 0 or 1,
# so a test under set -e stops at its first failed check; without set -e it
# goes on.  t_done, or the EXIT trap if the script ends any other way
# (set -e, a signal, exit), stops every process started with t_bg, shows
# the tail of every log in $T_DIR when something failed, removes $T_DIR
# unless T_KEEP=1, and prints "RESULT: N passed, N failed" as the last line.
# An early end counts as one more failure.
#
# Variables: T_NAME, T_DIR (private temp dir), top_builddir, top_srcdir,
# T_FAULTPROXY, T_FREEPORT, T_ECHOSRV, T_TCPCLIENT (the helpers' paths),
# T_STATUS (exit status found by t_wait / t_kill).
#
# The integration tests run under bash (SH_LOG_COMPILER in tests/local.mk);
# if /bin/sh sources this file anyway, start the script again under bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

declare -gA T_PIDS=()		# name -> pid of every t_bg process
declare -gA T_REAPED=()		# name -> exit status, once waited for
declare -ga T_BG_ORDER=()	# names, in start order
T_PASS=0
T_FAIL=0
T_DONE=0
T_STATUS=
T_LAST_ERR=

# t_init NAME: makes $T_DIR, sets the counters and the EXIT trap.
t_init() {
	local here

	T_NAME=${1:?usage: t_init NAME}
	T_OWNER=$$		# the test's shell, also in $(...) subshells
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) || exit 1
	: "${top_srcdir:=$here}" "${top_builddir:=$here}"
	export top_srcdir top_builddir
	T_FAULTPROXY=$top_builddir/tests/tools/faultproxy
	T_FREEPORT=$top_builddir/tests/tools/freeport
	T_ECHOSRV=$top_builddir/tests/tools/echosrv
	T_TCPCLIENT=$top_builddir/tests/tools/tcpclient
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cascade-$T_NAME.XXXXXX") || {
		echo "t_init: cannot make a temporary directory" >&2
		exit 1
	}
	trap _t_exit EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# Remembers the last top-level command that failed, for the report
	# of a script that set -e ended.
	trap 'T_LAST_ERR="line $LINENO: $BASH_COMMAND (exit $?)"' ERR
	# A block of 100 ports of its own (20000-32699, by the test's name), so
	# tests running side by side never pick the same port. A test that needs
	# more sets T_PORT_BASE and T_PORT_SPAN after t_init (a block below 20000).
	T_PORT_BASE=$((20000 + $(printf '%s' "$T_NAME" | cksum | cut -d' ' -f1) % 127 * 100))
	T_PORT_SPAN=100
	# Under --enable-sanitizers every process writes its reports to files
	# in $T_DIR/sanitizer; _t_exit counts each one as a failure, also from
	# a process whose failure was expected (t_not) or that ran in the
	# background.
	if [ "${CASCADE_SANITIZERS:-}" = yes ]; then
		mkdir -p "$T_DIR/sanitizer"
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T_DIR/sanitizer/asan"
		UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T_DIR/sanitizer/ubsan"
		export ASAN_OPTIONS UBSAN_OPTIONS
	fi
	echo "# $T_NAME: in $T_DIR, top_builddir=$top_builddir, ports from $T_PORT_BASE"
}

_t_ok() {
	T_PASS=$((T_PASS + 1))
	echo "ok - $1"
}

_t_notok() {
	T_FAIL=$((T_FAIL + 1))
	echo "not ok - $1"
}

# t_check DESC CMD...: passes if CMD exits 0.  CMD's output is shown.
t_check() {
	local desc=${1:?usage: t_check DESC CMD...} rc
	shift
	if "$@"; then
		_t_ok "$desc"
		return 0
	else
		rc=$?
	fi
	_t_notok "$desc (exit $rc: $*)"
	return 1
}

# t_eq DESC EXPECTED ACTUAL: passes if the two strings are equal.
t_eq() {
	if [ "$#" -ne 3 ]; then
		_t_notok "t_eq needs DESC EXPECTED ACTUAL, got $# arguments: $*"
		return 1
	fi
	if [ "$2" = "$3" ]; then
		_t_ok "$1"
		return 0
	fi
	_t_notok "$1 (expected '$2', got '$3')"
	return 1
}

# t_not CMD...: exits 0 if CMD fails ("t_check DESC t_not t_port_open 80").
t_not() {
	! "$@"
}

# t_lines FILE: prints FILE's number of lines; 0 while there is no FILE
# (a receiver's output not written yet).
t_lines() {
	if [ -f "${1:?usage: t_lines FILE}" ]; then wc -l <"$1"; else echo 0; fi
}

# t_lines_over FILE N: exits 0 if FILE has more than N lines
# ("t_wait_for "traffic flows" 30 t_lines_over "$T_DIR/bob.txt" 100").
t_lines_over() {
	[ "$(t_lines "$1")" -gt "${2:?usage: t_lines_over FILE N}" ]
}

# t_now_ms: prints the wall clock in milliseconds.
t_now_ms() {
	local t=${EPOCHREALTIME/[.,]/}

	echo $((10#$t / 1000))
}

# Seconds, maybe with a fraction ("2", "0.5"), to milliseconds.
_t_ms() {
	local s=${1%%.*} f=

	[[ $1 == *.* ]] && f=${1#*.}
	f=${f}000
	echo $((10#${s:-0} * 1000 + 10#${f:0:3}))
}

# t_wait_for DESC TIMEOUT_S CMD...: runs CMD every 0.1 s until it exits 0
# (pass) or TIMEOUT_S seconds went by (fail, showing CMD's last output).
# CMD runs in a subshell, its output hidden while polling.
t_wait_for() {
	local desc=${1:?usage: t_wait_for DESC TIMEOUT_S CMD...} \
	    timeout=${2:?usage: t_wait_for DESC TIMEOUT_S CMD...} \
	    start deadline out rc
	shift 2
	start=$(t_now_ms)
	deadline=$((start + $(_t_ms "$timeout")))
	for (( ; ; )); do
		if out=$("$@" 2>&1); then
			_t_ok "$desc ($(($(t_now_ms) - start)) ms)"
			return 0
		else
			rc=$?
		fi
		[ "$(t_now_ms)" -ge "$deadline" ] && break
		sleep 0.1
	done
	_t_notok "$desc (not within ${timeout} s; last exit $rc: $*)"
	[ -n "$out" ] && printf '%s\n' "$out" | tail -n 5 | sed 's/^/#   /'
	return 1
}

# Process names become variable and file names.
_t_name_ok() {
	if [[ ! $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		echo "lib.sh: bad process name '$1' (letters, digits, _)" >&2
		return 1
	fi
}

# t_bg NAME CMD...: starts CMD in the background, stdout and stderr appended
# to $T_DIR/NAME.log (a restart under the same name keeps the old lines).
t_bg() {
	local name=${1:?usage: t_bg NAME CMD...}
	shift
	_t_name_ok "$name" || return 1
	if [ -n "${T_PIDS[$name]:-}" ] && t_alive "$name"; then
		echo "t_bg: $name is already running (pid ${T_PIDS[$name]})" >&2
		return 1
	fi
	# printf, not date(1): a shim test's LD_PRELOAD (t_preload) reaches
	# whatever this function runs, and date leaks under LeakSanitizer
	printf '=== %(%H:%M:%S)T start: %s\n' -1 "$*" >>"$T_DIR/$name.log"
	"$@" >>"$T_DIR/$name.log" 2>&1 &
	T_PIDS[$name]=$!
	unset "T_REAPED[$name]"
	[[ " ${T_BG_ORDER[*]} " == *" $name "* ]] || T_BG_ORDER+=("$name")
	echo "# started $name, pid $!: $*"
}

# t_pid NAME: prints the pid of the process started as NAME.
t_pid() {
	if [ -z "${T_PIDS[${1:-}]:-}" ]; then
		echo "t_pid: no process named '${1:-}'" >&2
		return 1
	fi
	echo "${T_PIDS[$1]}"
}

# t_alive NAME: exits 0 if NAME runs (an unreaped zombie does not).
t_alive() {
	local pid=${T_PIDS[${1:-}]:-} stat

	[ -n "$pid" ] && [ -z "${T_REAPED[$1]+set}" ] || return 1
	IFS= read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# t_wait NAME [TIMEOUT_S]: waits (default 10 s) for NAME to exit and sets
# T_STATUS to its exit status (128+N for signal N).  Returns 1, with
# T_STATUS=timeout, if it still runs.
t_wait() {
	local name=${1:?usage: t_wait NAME [TIMEOUT_S]} deadline rc
	local pid

	pid=$(t_pid "$name") || return 1
	if [ -n "${T_REAPED[$name]+set}" ]; then
		T_STATUS=${T_REAPED[$name]}
		return 0
	fi
	deadline=$(($(t_now_ms) + $(_t_ms "${2:-10}")))
	while t_alive "$name"; do
		if [ "$(t_now_ms)" -ge "$deadline" ]; then
			T_STATUS=timeout
			return 1
		fi
		sleep 0.05
	done
	# Braces so that bash's "Terminated" notice goes to /dev/null too.
	{ wait "$pid"; rc=$?; } 2>/dev/null
	T_REAPED[$name]=$rc
	T_STATUS=$rc
	return 0
}

# t_kill NAME [SIG]: sends SIG (default TERM).  For TERM, INT, QUIT and
# KILL also waits for the exit (KILL after 10 s) and sets T_STATUS.
t_kill() {
	local name=${1:?usage: t_kill NAME [SIG]} sig=${2:-TERM} pid

	pid=$(t_pid "$name") || return 1
	t_alive "$name" || {
		t_wait "$name" 0
		return 0
	}
	kill -s "$sig" "$pid" 2>/dev/null || true
	case ${sig#SIG} in
	TERM | INT | QUIT | KILL | 15 | 2 | 3 | 9)
		if ! t_wait "$name" 10; then
			echo "# $name ignored SIG$sig for 10 s: KILL" >&2
			kill -s KILL "$pid" 2>/dev/null
			t_wait "$name" 5
		fi
		;;
	esac
	return 0
}

# t_free_port [COUNT]: prints COUNT (default 1) distinct free ports.
t_free_port() {
	local want=${1:-1} got=0 p tries=0 used=$T_DIR/ports.used
	# freeport only knows what is bound now: a port handed out before, by
	# this test or by another one running at the same time (a test of the
	# same block, the same test in another build tree), may not be bound
	# yet. So each port is claimed first, machine-wide (_t_port_claim);
	# ports.used lists this test's claims for _t_exit to release. A file,
	# since callers use $(t_free_port), a subshell.
	touch "$used"
	while [ "$got" -lt "$want" ] && [ $((tries += 1)) -lt 200 ]; do
		p=$("$T_FREEPORT" -n 1 -b "$T_PORT_BASE" -s "$T_PORT_SPAN") || return 1
		_t_port_claim "$p" || continue
		echo "$p" >>"$used"
		echo "$p"
		got=$((got + 1))
	done
	[ "$got" -eq "$want" ]
}

# Claims of ports handed out and maybe not bound yet, shared by every
# cascade test of this user on this machine: one directory per port, made
# atomically by mkdir, holding the pid of the test that claimed it.
T_PORT_CLAIMS=${T_PORT_CLAIMS:-/tmp/cascade-ports.$(id -u)}

# _t_port_claim PORT: exits 0 if this test now holds PORT's claim. A claim
# whose test is gone (killed before its EXIT trap) is taken over.
_t_port_claim() {
	local d=$T_PORT_CLAIMS/$1 owner

	mkdir -p "$T_PORT_CLAIMS" 2>/dev/null
	if mkdir "$d" 2>/dev/null; then
		echo "$T_OWNER" >"$d/pid"
		return 0
	fi
	owner=$(cat "$d/pid" 2>/dev/null)
	# no pid yet: its claimer is between its mkdir and its echo
	[ -n "$owner" ] || return 1
	[ "$owner" != "$T_OWNER" ] && ! kill -0 "$owner" 2>/dev/null || return 1
	rm -rf "$d"
	mkdir "$d" 2>/dev/null || return 1
	echo "$T_OWNER" >"$d/pid"
}

# _t_port_release: gives up this test's claims (at exit).
_t_port_release() {
	local p

	[ -f "$T_DIR/ports.used" ] || return 0
	while read -r p; do
		[ "$(cat "$T_PORT_CLAIMS/$p/pid" 2>/dev/null)" = "$T_OWNER" ] &&
		    rm -rf "${T_PORT_CLAIMS:?}/$p"
	done <"$T_DIR/ports.used"
}

# t_port_open PORT: exits 0 if something accepts on 127.0.0.1:PORT.
t_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/${1:?usage: t_port_open PORT}") 2>/dev/null
}

# t_kv STRING KEY: prints the value of KEY=VALUE among STRING's words
# ("t_kv "$(t_proxy_cmd px stats)" up"); exits 1 if KEY is absent.
t_kv() {
	local w words

	read -r -a words <<<"$1"
	for w in "${words[@]}"; do
		if [[ $w == "$2="* ]]; then
			echo "${w#*=}"
			return 0
		fi
	done
	return 1
}

# t_proxy NAME TARGET_PORT: starts faultproxy in front of 127.0.0.1:
# TARGET_PORT and sets ${NAME}_PORT (connect there) and ${NAME}_CTL.
t_proxy() {
	local name=${1:?usage: t_proxy NAME TARGET_PORT} \
	    target=${2:?usage: t_proxy NAME TARGET_PORT} pf lp cp i
	_t_name_ok "$name" || return 1
	pf=$T_DIR/$name.ports
	rm -f "$pf"
	t_bg "$name" "$T_FAULTPROXY" -l 127.0.0.1:0 -t "127.0.0.1:$target" \
	    -p "$pf" || return 1
	for ((i = 0; i < 200; i++)); do
		[ -s "$pf" ] && break
		t_alive "$name" || break
		sleep 0.05
	done
	if ! read -r lp cp <"$pf" 2>/dev/null || [ -z "$cp" ]; then
		echo "t_proxy: $name did not start; its log:" >&2
		tail -n 5 "$T_DIR/$name.log" >&2
		return 1
	fi
	declare -g "${name}_PORT=$lp" "${name}_CTL=$cp"
	echo "# proxy $name: port $lp -> $target, control $cp"
}

# t_proxy_cmd NAME CMD [ARG]: sends a control command, prints the reply;
# exits 0 if the reply is "ok ...".
t_proxy_cmd() {
	local name=${1:?usage: t_proxy_cmd NAME CMD} var reply
	shift
	var=${name}_CTL
	if [ -z "${!var:-}" ]; then
		echo "t_proxy_cmd: no proxy named '$name'" >&2
		return 1
	fi
	# In a subshell: a failed /dev/tcp redirection must not end the test.
	reply=$(
		exec 3<>"/dev/tcp/127.0.0.1/${!var}" || exit 1
		printf '%s\n' "$*" >&3
		IFS= read -r -t 5 line <&3 && printf '%s' "$line"
	) 2>/dev/null
	echo "${reply:-error no reply from proxy $name}"
	[[ $reply == ok* ]]
}

_t_show_logs() {
	local f

	for f in "$T_DIR"/*.log; do
		[ -f "$f" ] || continue
		echo "# --- last ${T_LOG_LINES:-30} lines of ${f##*/} ---"
		tail -n "${T_LOG_LINES:-30}" "$f" | sed 's/^/#   | /'
	done
}

_t_stop_all() {
	local name deadline

	for name in "${T_BG_ORDER[@]}"; do
		t_alive "$name" && kill -s TERM "${T_PIDS[$name]}" 2>/dev/null
	done
	deadline=$(($(t_now_ms) + 5000))
	for name in "${T_BG_ORDER[@]}"; do
		while t_alive "$name" && [ "$(t_now_ms)" -lt "$deadline" ]; do
			sleep 0.05
		done
		if t_alive "$name"; then
			echo "# $name ignored SIGTERM: KILL"
			kill -s KILL "${T_PIDS[$name]}" 2>/dev/null
		fi
		[ -n "${T_REAPED[$name]+set}" ] ||
			{ wait "${T_PIDS[$name]}"; } 2>/dev/null
	done
}

# _t_sanitizer_reports: one failure per sanitizer report a process left.
_t_sanitizer_reports() {
	local f

	for f in "$T_DIR"/sanitizer/*; do
		[ -f "$f" ] || continue
		_t_notok "sanitizer report ${f##*/}: $(grep -a -m1 -E 'ERROR|runtime error' "$f")"
		sed 's/^/#   | /' "$f"
	done
}

# t_preload SHIM: the LD_PRELOAD value for an interposing SHIM. Under
# --enable-sanitizers the ASan runtime must come first in the list, so it
# is put before the shim; the shim's test runs in full either way.
t_preload() {
	if [ "${CASCADE_SANITIZERS:-}" = yes ]; then
		[ -n "${SAN_RUNTIME:-}" ] || { echo "t_preload: no ASan runtime found by configure" >&2; return 1; }
		echo "$SAN_RUNTIME $1"
	else
		echo "$1"
	fi
}

# t_interp_env: what to put before python3 or java when the program loads
# libcascade.so. Under --enable-sanitizers the library is built with ASan,
# whose runtime must come first in the process: it is preloaded, with leak
# checks off (an interpreter does not free everything at exit) and SIGSEGV
# left to the JVM (its null checks use it). A memory error in libcascade
# is still reported (log_path) and fails the test. Empty otherwise.
t_interp_env() {
	[ "${CASCADE_SANITIZERS:-}" = yes ] || return 0
	echo "env LD_PRELOAD=$(t_preload '') ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0:handle_segv=0:allow_user_segv_handler=1"
}

_t_exit() {
	local rc=$?

	trap - ERR EXIT
	set +e
	if [ "$T_DONE" != 1 ]; then
		_t_notok "$T_NAME ended before t_done (exit $rc${T_LAST_ERR:+, last failed: $T_LAST_ERR})"
	fi
	_t_stop_all
	_t_port_release
	_t_sanitizer_reports
	[ "$T_FAIL" -gt 0 ] && _t_show_logs
	if [ "${T_KEEP:-0}" = 1 ]; then
		echo "# kept $T_DIR"
	else
		rm -rf "$T_DIR"
	fi
	echo "RESULT: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ] && exit 0
	exit 1
}

# t_done: ends the test; exits 0 if every check passed, else 1.
t_done() {
	T_DONE=1
	exit 0
}
