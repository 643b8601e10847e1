# tests/chaos/: the chaos test (issue 14). The short form (about 2 minutes
# of faults, 10 000 packets) is part of make check; make chaos runs the long
# one: CHAOS_SECONDS (default 1200) of faults, CHAOS_PACKETS (default
# 100 000), CHAOS_SEED to replay a run.
TESTS += tests/chaos/chaos.sh
EXTRA_DIST += tests/chaos/chaos.sh

chaos: all $(check_PROGRAMS) $(check_LTLIBRARIES)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	CHAOS_SECONDS=$${CHAOS_SECONDS:-1200} CHAOS_PACKETS=$${CHAOS_PACKETS:-100000} \
	bash $(srcdir)/tests/chaos/chaos.sh
.PHONY: chaos
