#!/bin/bash
# Every man page is clean under mandoc -Tlint (warnings and worse; the
# STYLE notes about pages not installed on this machine don't count).
. "$(dirname "$0")/lib.sh"
t_init manlint
for page in "$top_srcdir"/man/*.[0-9] "$top_builddir"/man/gen/*.[0-9]; do
	t_check "$(basename "$page") lints clean" mandoc -Tlint -Wwarning "$page"
done
t_done
