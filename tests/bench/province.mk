# tests/bench/province.mk: issue 13's "province on one machine" (make
# bench-province; not part of make bench or make check: at full size it runs
# for minutes). province.sh starts 1 master, PROV_CITIES cities and
# PROV_COUNTIES counties (durable, some links over http), PROV_CLIENTS
# clients held by provload (one process per city, tcp and http clients
# mixed), measures route convergence and PROV_PACKETS packets between random
# clients (exactly once), and writes its table to stdout and
# tests/bench/results-province.txt. Knobs: see the top of province.sh.
noinst_PROGRAMS += tests/bench/provload
tests_bench_provload_SOURCES = tests/bench/provload.c tests/bench/benchutil.h
tests_bench_provload_LDADD = client-sdk/libcascade.la $(PTHREAD_LIBS)
EXTRA_DIST += tests/bench/province.sh
CLEANFILES += tests/bench/results-province.txt

bench-province: node/cascaded$(EXEEXT) tests/tools/freeport$(EXEEXT) tests/bench/provload$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/province.sh
.PHONY: bench-province
