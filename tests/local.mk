# tests/: unit tests (CUnit), integration tests (real daemons on loopback),
# benchmarks (make bench, never part of make check).
TEST_EXTENSIONS = .sh
# The integration tests and their lib.sh are bash scripts.
SH_LOG_COMPILER = bash
AM_TESTS_ENVIRONMENT = top_builddir='$(abs_top_builddir)'; top_srcdir='$(abs_top_srcdir)'; \
	export top_builddir top_srcdir; $(SAN_TESTS_ENVIRONMENT)
EXTRA_DIST += tests/summary.sh tests/lsan.supp

# --enable-sanitizers: a finding fails the test; leaks inside libraries only
# are suppressed (tests/lsan.supp); lib.sh's t_preload puts the ASan runtime
# first in LD_PRELOAD for the shim tests. A small quarantine: the tests that
# bound a daemon's memory growth measure its RSS, and ASan's default keeps
# 256 MB of freed blocks.
if SANITIZERS
SAN_TESTS_ENVIRONMENT = CASCADE_SANITIZERS=yes; SAN_RUNTIME='$(SAN_RUNTIME)'; \
	ASAN_OPTIONS=detect_leaks=1:exitcode=86:quarantine_size_mb=16; \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87; \
	LSAN_OPTIONS=suppressions='$(abs_top_srcdir)/tests/lsan.supp':print_suppressions=0; \
	export CASCADE_SANITIZERS SAN_RUNTIME ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS;
endif

check_LTLIBRARIES += tests/unit/libcu.la
tests_unit_libcu_la_SOURCES = tests/unit/cu.h tests/unit/cu.c
tests_unit_libcu_la_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_libcu_la_LIBADD = $(CUNIT_LIBS)
UNIT_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS) -I$(top_srcdir)/tests/unit

include tests/unit/packets.mk
include tests/unit/journal.mk
include tests/unit/journal_dur.mk
include tests/unit/conf.mk
include tests/unit/sdk.mk
include tests/unit/sdk_http.mk
include tests/unit/notify.mk
include tests/unit/jthread.mk
include tests/unit/audit_query.mk
include tests/unit/route.mk
include tests/unit/origin.mk
include tests/unit/carrier.mk
include tests/unit/queue.mk
include tests/unit/hashtab.mk
include tests/unit/custody.mk
include tests/tools/local.mk
include tests/integration/local.mk
include tests/integration/node.mk
include tests/integration/cli.mk
include tests/integration/http.mk
include tests/chaos/local.mk
include tests/sdk/local.mk
include tests/bench/chain.mk
include tests/bench/province.mk
include tests/bench/local.mk
