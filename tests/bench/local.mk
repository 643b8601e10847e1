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
	@$(MAKE) $(AM_MAKEFLAGS) bench-sdk
	@$(MAKE) $(AM_MAKEFLAGS) bench-audit
	@$(MAKE) $(AM_MAKEFLAGS) bench-sink
	@$(MAKE) $(AM_MAKEFLAGS) bench-replay
	@$(MAKE) $(AM_MAKEFLAGS) bench-jsize
	@$(MAKE) $(AM_MAKEFLAGS) bench-chain

.PHONY: bench-journal

# bench-sdk: libcascade's sends/s to custody in C, Python and Java, the three
# in the same run on one node (tests/bench/sdk.sh; results-sdk.txt).
noinst_PROGRAMS += tests/bench/sdk_send
tests_bench_sdk_send_SOURCES = tests/bench/sdk_send.c
tests_bench_sdk_send_LDADD = client-sdk/libcascade.la
EXTRA_DIST += tests/bench/sdk.sh tests/bench/sdk_send.py tests/bench/SdkSend.java
CLEANFILES += tests/bench/results-sdk.txt tests/bench/sdk-bench.jar
bench-sdk: node/cascaded$(EXEEXT) tests/tools/freeport$(EXEEXT) tests/bench/sdk_send$(EXEEXT) \
	client-sdk/libcascade.la tests/bench/sdk-bench.jar
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    PYTEST_PYTHON='$(PYTEST_PYTHON)' JAVA='$(JAVA)' JNA_JAR='$(JNA_JAR)' \
	    bash $(top_srcdir)/tests/bench/sdk.sh
if HAVE_JAVA
tests/bench/sdk-bench.jar: tests/bench/SdkSend.java client-sdk/java/cascade.jar
	$(AM_V_GEN)srcs='tests/bench/SdkSend.java'; cp='client-sdk/java/cascade.jar:$(JNA_JAR)'; \
	    $(JAVA_JAR_RULE)
else
tests/bench/sdk-bench.jar:
	@echo "bench-sdk: configure found no JDK (default-jdk-headless, libjna-java: ./bootstrap)" >&2; exit 1
endif
.PHONY: bench-sdk

# bench-audit: cascadectl audit (a query with and without the indexes, verify)
# over a journal of 1 000 000 events written by audit_gen, and the cost of the
# indexes on the chain (tests/bench/audit.sh; AUDIT_N, BENCH_RUNS,
# AUDIT_CHAIN_RUNS, AUDIT_CHAIN_COUNT).
noinst_PROGRAMS += tests/bench/audit_gen
tests_bench_audit_gen_SOURCES = tests/bench/audit_gen.c
tests_bench_audit_gen_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_bench_audit_gen_LDADD = node/libnode.la
EXTRA_DIST += tests/bench/audit.sh
bench-audit: node/cascadectl$(EXEEXT) tests/bench/audit_gen$(EXEEXT) node/cascaded$(EXEEXT) \
	tests/tools/freeport$(EXEEXT) tests/bench/chainload$(EXEEXT) tests/bench/nngref$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/audit.sh
.PHONY: bench-audit

# bench-sink: audit-sink's records/s into PostgreSQL beside the chain's
# records/s, in the same run, and the CPU per record of each side
# (tests/bench/sink.sh; SINK_COUNT, SINK_RUNS; results-sink.txt). Starts a
# PostgreSQL server of its own (tests/integration/pg.sh).
EXTRA_DIST += tests/bench/sink.sh
CLEANFILES += tests/bench/results-sink.txt
bench-sink: node/cascaded$(EXEEXT) node/cascadectl$(EXEEXT) tests/tools/freeport$(EXEEXT) \
	tests/bench/sdk_send$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/sink.sh
.PHONY: bench-sink
# bench-replay: cascadectl replay of REPLAY_N packets (default 20 000) toward
# a county that kept its journal and one that lost it (tests/bench/replay.sh).
EXTRA_DIST += tests/bench/replay.sh
bench-replay: node/cascaded$(EXEEXT) node/cascadectl$(EXEEXT) tests/tools/freeport$(EXEEXT) \
	tests/tools/tclient$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/replay.sh
.PHONY: bench-replay

# bench-jsize: the journal's bytes on disk per 1 KiB packet held or kept,
# per LMDB database (tests/bench/jsize.sh; JSIZE_COUNT; results-jsize.txt;
# needs mdb_stat from lmdb-utils).
EXTRA_DIST += tests/bench/jsize.sh
CLEANFILES += tests/bench/results-jsize.txt
bench-jsize: node/cascaded$(EXEEXT) tests/tools/freeport$(EXEEXT) tests/bench/chainload$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/jsize.sh
.PHONY: bench-jsize

# bench-fanin: 2 000 clients on one county node (1 000 tcp, 1 000 http long
# poll; tests/bench/fanload holds them in one process), RssAnon per idle
# client, then each sending 10/s to one consumer: p99 one-way latency and
# the county's CPU per packet (tests/bench/fanin.sh; FANIN_CLIENTS,
# FANIN_RATE, FANIN_SECS, FANIN_CASCADED; results-fanin.txt).
noinst_PROGRAMS += tests/bench/fanload
tests_bench_fanload_SOURCES = tests/bench/fanload.c tests/bench/benchutil.h
tests_bench_fanload_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) -I$(top_srcdir)/tests/tools
tests_bench_fanload_LDADD = tests/tools/libtlink.la packets/libpackets.la $(NNG_LIBS) \
	$(PTHREAD_LIBS)
EXTRA_DIST += tests/bench/fanin.sh tests/bench/idle.sh
CLEANFILES += tests/bench/results-fanin.txt
bench-fanin: node/cascaded$(EXEEXT) tests/tools/freeport$(EXEEXT) tests/bench/chainload$(EXEEXT) \
	tests/bench/fanload$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/fanin.sh

# bench-idle: an idle county and master: syscalls/s (strace -c), CPU and
# RssAnon over IDLE_SECS (60) each (tests/bench/idle.sh; IDLE_CASCADED).
bench-idle: node/cascaded$(EXEEXT) tests/tools/freeport$(EXEEXT) tests/tools/tclient$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/idle.sh
.PHONY: bench-fanin bench-idle
