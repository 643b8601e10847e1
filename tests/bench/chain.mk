# tests/bench/chain.mk: the end-to-end benchmark of a chain of real daemons
# (make bench-chain, part of make bench; never part of make check).
# chain.sh starts county -> city -> province -> master on loopback with a
# durable journal each, drives them with chainload (a producer client at the
# county, a consumer client at the master) and measures the raw nng
# references with nngref in the same run. Results: the table on stdout and
# tests/bench/results-chain.txt (CHAIN_PERF=NODE adds a profile, perf-NODE.txt).
noinst_PROGRAMS += tests/bench/chainload tests/bench/nngref
tests_bench_chainload_SOURCES = tests/bench/chainload.c tests/bench/benchutil.h
tests_bench_chainload_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) -I$(top_srcdir)/tests/tools
tests_bench_chainload_LDADD = tests/tools/libtlink.la packets/libpackets.la $(NNG_LIBS) \
	$(PTHREAD_LIBS)
tests_bench_nngref_SOURCES = tests/bench/nngref.c
tests_bench_nngref_CFLAGS = $(AM_CFLAGS)
tests_bench_nngref_LDADD = $(NNG_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += tests/bench/chain.sh tests/bench/chain_instr.sh
CLEANFILES += tests/bench/results-chain.txt tests/bench/perf-*.txt \
	tests/bench/results-instr.txt

# Knobs (CHAIN_RUNS, CHAIN_PERF, CHAIN_SYSCOUNT...): see the top of chain.sh.
bench-chain: node/cascaded$(EXEEXT) tests/tools/freeport$(EXEEXT) \
	tests/bench/chainload$(EXEEXT) tests/bench/nngref$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/chain.sh

.PHONY: bench-chain

# bench-chain-http: the chain benchmark (chain.sh) with tcp links, then with
# http links, side by side (tests/bench/chain_http.sh). Not part of make bench.
EXTRA_DIST += tests/bench/chain_http.sh
CLEANFILES += tests/bench/results-chain-http.txt tests/bench/results-chain-http-tcp.txt \
	tests/bench/results-chain-http-http.txt
bench-chain-http: node/cascaded$(EXEEXT) tests/tools/freeport$(EXEEXT) \
	tests/bench/chainload$(EXEEXT) tests/bench/nngref$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/chain_http.sh

.PHONY: bench-chain-http

# bench-instr: the chain's user-space instructions per packet and node under
# valgrind, for comparing two builds on a noisy machine (INSTR_BASE=old
# cascaded; knobs at the top of chain_instr.sh). Not part of make bench.
bench-instr: node/cascaded$(EXEEXT) tests/tools/freeport$(EXEEXT) \
	tests/bench/chainload$(EXEEXT) tests/bench/nngref$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/chain_instr.sh

.PHONY: bench-instr
