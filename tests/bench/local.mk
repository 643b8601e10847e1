# tests/bench/: make bench — performance figures against references measured
# in the same run (BENCH.md); never part of make check or TESTS.
#
# journal_bench: the journal module alone against raw LMDB, and the
# four-journal-writer ceiling of this machine (BENCH_SECS, BENCH_RUNS,
# BENCH_DIR tune it). Its table also goes to tests/bench/results-journal.txt.
noinst_PROGRAMS += tests/bench/journal_bench
tests_bench_journal_bench_SOURCES = tests/bench/journal_bench.c
tests_bench_journal_bench_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS)
tests_bench_journal_bench_LDADD = node/libnode.la $(LMDB_LIBS)
CLEANFILES += tests/bench/results-journal.txt

bench-journal: tests/bench/journal_bench$(EXEEXT)
	@echo "== tests/bench/journal_bench"
	@rc=0; tests/bench/journal_bench > tests/bench/results-journal.txt || rc=$$?; \
	    cat tests/bench/results-journal.txt; exit $$rc

# One benchmark after another (never in parallel: they share the disk and
# the two cores); the chain (tests/bench/chain.mk) last.
bench:
	@$(MAKE) $(AM_MAKEFLAGS) bench-journal
	@$(MAKE) $(AM_MAKEFLAGS) bench-chain

.PHONY: bench-journal
