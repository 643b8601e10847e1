#!/bin/bash
# The Python and Java bindings (client-sdk/python, client-sdk/java) against
# real daemons: the pytest suite (it starts a tree of its own), the JUnit
# suite against this script's tree, and consultations between a C, a
# Python and a Java program attached to one tree, in all six directions,
# each case answered exactly once.
#
# Without python3-pytest or a JDK with JNA and JUnit this test fails and
# says what to install: ./bootstrap installs them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodes.sh"
t_init bindings

# the tools: from configure through make check's environment, else found here
PY=${PYTEST_PYTHON:-}
if [ -z "$PY" ]; then
	for p in python3 /usr/bin/python3; do
		if "$p" -c 'import pytest' 2>/dev/null; then PY=$(command -v "$p"); break; fi
	done
fi
JAVA=${JAVA:-java}
JNA_JAR=${JNA_JAR:-/usr/share/java/jna.jar}
JUNIT_JAR=${JUNIT_JAR:-/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar}
JDIR=$top_builddir/client-sdk/java
LIB=$top_builddir/client-sdk/.libs/libcascade.so
export CASCADE_LIBRARY=$LIB
export PYTHONDONTWRITEBYTECODE=1   # the source tree may be read-only (distcheck)

SAN_ENV=$(t_interp_env)    # the ASan runtime for python and java, if need be

have_py=yes have_java=yes
if [ -z "$PY" ]; then
	_t_notok "no python3 imports pytest: install python3-pytest (./bootstrap does)"
	have_py=no
fi
if ! command -v "$JAVA" >/dev/null || [ ! -f "$JNA_JAR" ]; then
	_t_notok "no java or no $JNA_JAR: install default-jdk-headless libjna-java junit4 (./bootstrap does)"
	have_java=no
elif [ ! -f "$JDIR/cascade.jar" ] || [ ! -f "$JDIR/cascade-test.jar" ] ||
	[ ! -f "$JDIR/cascade-examples.jar" ]; then
	_t_notok "no $JDIR/cascade{,-test,-examples}.jar: configure found no JDK, or run make check (it builds them)"
	have_java=no
fi
t_check "libcascade.so is built" test -f "$LIB"

# count ok/not ok lines "PASS name" / "FAIL name..." as checks
count_results() {
	local prefix=$1 file=$2 n=0 line
	while IFS= read -r line; do
		case $line in
		PASS\ *) _t_ok "$prefix: ${line#PASS }"; n=$((n + 1)) ;;
		FAIL\ *) _t_notok "$prefix: ${line#FAIL }"; n=$((n + 1)) ;;
		esac
	done <"$file"
	[ "$n" -gt 0 ]
}

# 1. pytest: its conftest starts a master and two counties of its own
if [ "$have_py" = yes ]; then
	# shellcheck disable=SC2086
	(cd "$top_srcdir/client-sdk/python" && CASCADE_TEST_PORT_BASE=$T_PORT_BASE \
		$SAN_ENV "$PY" -m pytest -v -p no:cacheprovider --basetemp="$T_DIR/pytest" tests) \
		>"$T_DIR/pytest.out" 2>&1
	echo "# pytest exit $?"
	sed -n 's/^tests\/\([^ ]*\) PASSED.*/PASS \1/p; s/^tests\/\([^ ]*\) \(FAILED\|ERROR\).*/FAIL \1/p' \
		"$T_DIR/pytest.out" >"$T_DIR/pytest.results"
	t_check "pytest reported its tests" count_results pytest "$T_DIR/pytest.results"
	t_check "pytest: all passed" grep -Eq '^=+ [0-9]+ passed in ' "$T_DIR/pytest.out" ||
		tail -40 "$T_DIR/pytest.out"
fi

# 2. one tree for JUnit and the three languages: master fj, counties fj-a and fj-b
n_node master fj master
n_node a fj-a
n_node b fj-b
n_link a master; n_link b master
for c in jalice jamy c-expert java-expert py-clinic; do n_client a $c; done
for c in jbob py-expert c-clinic java-clinic; do n_client b $c; done
for n in master a b; do n_start $n; done

JCP=$JDIR/cascade.jar:$JNA_JAR
if [ "$have_java" = yes ]; then
	# shellcheck disable=SC2086
	$SAN_ENV "$JAVA" -Dcascade.test.a="$(n_url a)" -Dcascade.test.b="$(n_url b)" \
		-Dcascade.test.secrets="$T_DIR" -cp "$JCP:$JDIR/cascade-test.jar:$JUNIT_JAR" \
		org.cascade.TestMain org.cascade.ClientTest >"$T_DIR/junit.out" 2>&1
	echo "# junit exit $?"
	t_check "JUnit reported its tests" count_results junit "$T_DIR/junit.out"
	t_check "JUnit: all passed" grep -q '^junit: [0-9]* run, 0 failed' "$T_DIR/junit.out" ||
		cat "$T_DIR/junit.out"
fi

# 3. C, Python and Java consult: each clinic asks the two experts of the other
# languages N cases; each expert answers 2N (the two other clinics)
if [ "$have_py" = yes ] && [ "$have_java" = yes ]; then
	N=5
	C_CONSULT=$top_builddir/client-sdk/examples/consult
	PY_CONSULT="$SAN_ENV $PY $top_srcdir/client-sdk/examples/consult.py"
	J_CONSULT="$SAN_ENV $JAVA -cp $JCP:$JDIR/cascade-examples.jar Consult"
	# lang NODE CLIENT: the consult program of CLIENT's language, attached to NODE
	run() {
		local node=$1 client=$2 prog; shift 2
		case $client in
		c-*) prog=$C_CONSULT ;; py-*) prog=$PY_CONSULT ;; java-*) prog=$J_CONSULT ;;
		esac
		# shellcheck disable=SC2086
		$prog "$1" -u "$(n_url "$node")" -a "${N_ID[$node]}/$client" -s "$T_DIR/$client.secret" "${@:2}"
	}
	t_bg c_expert run a c-expert expert -n $((2 * N)) -T 90
	t_bg py_expert run b py-expert expert -n $((2 * N)) -T 90
	t_bg java_expert run a java-expert expert -n $((2 * N)) -T 90
	# clinic NODE CLIENT EXPERT1 EXPERT2: N cases to each, one run after the other
	clinic() {
		run "$1" "$2" clinic -t "$3" -n $N -w 30 && run "$1" "$2" clinic -t "$4" -n $N -w 30
	}
	# the three languages' clinics at once
	t_bg c_clinic clinic b c-clinic fj-b/py-expert fj-a/java-expert
	t_bg py_clinic clinic a py-clinic fj-a/c-expert fj-a/java-expert
	t_bg java_clinic clinic b java-clinic fj-a/c-expert fj-b/py-expert
	for l in c py java; do
		t_check "the $l clinic ends" t_wait ${l}_clinic 120
		t_eq "the $l clinic: every case answered in time" 0 "$T_STATUS"
		t_eq "the $l clinic: two runs of $N, all answered" 2 \
			"$(grep -c "^sent $N answered $N lost 0 late 0" "$T_DIR/${l}_clinic.log")"
	done
	for l in c py java; do
		t_check "the $l expert ends" t_wait ${l}_expert 60
		t_eq "the $l expert exits 0" 0 "$T_STATUS"
	done
	# each expert saw each case of the two other clinics exactly once
	for pair in c-expert:py-clinic c-expert:java-clinic py-expert:c-clinic \
		py-expert:java-clinic java-expert:c-clinic java-expert:py-clinic; do
		e=${pair%%:*} c=${pair#*:}
		t_eq "$c -> $e: $N cases, once each" "$N $N" \
			"$(grep " from fj-[ab]/$c\$" "$T_DIR/${e/-/_}.log" | awk '{ print $2 }' | sort -u | wc -l) $(grep -c " from fj-[ab]/$c\$" "$T_DIR/${e/-/_}.log")"
	done
else
	_t_notok "the C, Python and Java exchange needs both bindings (see above)"
fi
t_done
