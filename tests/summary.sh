#!/bin/sh
# Sums the "RESULT: N passed, N failed" lines that every test writes into its
# automake log, and prints one line over all tests. Exits 1 if any failed or
# if a test log has no RESULT line (a test that crashed before reporting).
top=${1:-.}
passed=0 failed=0 silent=0
for log in $(find "$top/tests" -name '*.log' ! -name 'test-suite.log' 2>/dev/null | sort); do
	line=$(grep -a '^RESULT: [0-9]* passed, [0-9]* failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "no RESULT line in $log" >&2
		silent=$((silent + 1))
		continue
	fi
	p=$(echo "$line" | sed 's/^RESULT: \([0-9]*\) passed.*/\1/')
	f=$(echo "$line" | sed 's/.* \([0-9]*\) failed.*/\1/')
	passed=$((passed + p))
	failed=$((failed + f + 0))
done
failed=$((failed + silent))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
