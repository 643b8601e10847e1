#!/bin/bash
# sdk.sh: the SDK's local throughput in C, Python and Java, measured in the
# same run (make bench-sdk): sends per second to custody, N sends of SIZE
# bytes then a flush, against one node with a durable journal (sync yes) on
# loopback. Each language runs SDK_RUNS (3) times, in turns (C, Python,
# Java, C, ...), on the same node; the median run is reported with its ratio
# to C. Python and Java go through their bindings (client-sdk/python,
# client-sdk/java): the difference to C is the cost of ctypes / JNA per call.
#
# Environment: SDK_RUNS (3), SDK_COUNT (20000), SDK_SIZE (100 bytes).
# The table goes to stdout and to $top_builddir/tests/bench/results-sdk.txt.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/nodes.sh"
t_init bench_sdk
RUNS=${SDK_RUNS:-3} COUNT=${SDK_COUNT:-20000} SIZE=${SDK_SIZE:-100}
N_SYNC=yes
PY=${PYTEST_PYTHON:-python3}
JAVA=${JAVA:-java}
JNA_JAR=${JNA_JAR:-/usr/share/java/jna.jar}
JDIR=$top_builddir/client-sdk/java
export CASCADE_LIBRARY=$top_builddir/client-sdk/.libs/libcascade.so
OUT=$top_builddir/tests/bench/results-sdk.txt

n_node county fj-a master
for c in cbench pybench jbench sink; do n_client county $c; done
# no quota or push-rate limit: the packets wait for sink, who never comes
n_set county "quota-packets 0"
n_set county "quota-bytes 0"
n_set county "push-rate 0"
n_start county || exit 1

args() { echo "$(n_url county)" "fj-a/$1" "$T_DIR/$1.secret" fj-a/sink "$COUNT" "$SIZE"; }
run_c() {
	local a; read -r -a a <<<"$(args cbench)"
	"$top_builddir/tests/bench/sdk_send" -u "${a[0]}" -a "${a[1]}" -s "${a[2]}" -t "${a[3]}" \
		-n "$COUNT" -z "$SIZE"
}
run_python() {
	# shellcheck disable=SC2046
	"$PY" "$top_srcdir/tests/bench/sdk_send.py" $(args pybench)
}
run_java() {
	# shellcheck disable=SC2046
	"$JAVA" -cp "$JDIR/cascade.jar:$JNA_JAR:$top_builddir/tests/bench/sdk-bench.jar" SdkSend \
		$(args jbench)
}
declare -A RATES=()
for ((r = 1; r <= RUNS; r++)); do
	for l in c python java; do
		line=$(run_$l 2>"$T_DIR/$l.err")
		if t_check "$l run $r" test -n "$line"; then
			echo "# $line"
			RATES[$l]="${RATES[$l]} $(echo "$line" | awk '{ print $4 }')"
		else
			cat "$T_DIR/$l.err"
		fi
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
c_rate=$(echo "${RATES[c]}" | median)
{
	echo "sdk: sends/s to custody, $COUNT sends of $SIZE bytes then flush, one node, sync yes,"
	echo "     median of $RUNS runs per language (all runs: sends/s)"
	printf '%-8s %12s %8s   %s\n' language sends/s "vs C" runs
	for l in c python java; do
		m=$(echo "${RATES[$l]}" | median)
		printf '%-8s %12s %8s   %s\n' "$l" "${m:--}" \
			"$(awk -v m="${m:-0}" -v c="${c_rate:-0}" 'BEGIN { if (c > 0) printf "%.2f", m / c; else print "-" }')" \
			"${RATES[$l]# }"
	done
} | tee "$OUT"
t_done
