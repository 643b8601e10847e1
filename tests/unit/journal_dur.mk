# The journal's durability and crash safety.
#
# syncshim.so is an LD_PRELOAD module that records every fdatasync/fsync and
# every write on an O_DSYNC descriptor; journal_sync_test re-executes itself
# with it preloaded (SYNCSHIM_SO, or the path built in below) and checks
# that each durable commit syncs the data file before it writes the meta
# page. journal_crash_test SIGKILLs a committing child again and again and
# checks what survives.
check_LTLIBRARIES += tests/unit/syncshim.la
tests_unit_syncshim_la_SOURCES = tests/unit/syncshim.c
tests_unit_syncshim_la_CFLAGS = $(AM_CFLAGS)
tests_unit_syncshim_la_LDFLAGS = -module -avoid-version -rpath /nowhere -shared

check_PROGRAMS += tests/unit/journal_sync_test tests/unit/journal_crash_test
TESTS += tests/unit/journal_sync_test tests/unit/journal_crash_test
UNIT_TESTS += tests/unit/journal_sync_test tests/unit/journal_crash_test

tests_unit_journal_sync_test_SOURCES = tests/unit/journal_sync_test.c
tests_unit_journal_sync_test_CPPFLAGS = $(AM_CPPFLAGS) \
	-DSYNCSHIM_SO='"$(abs_top_builddir)/tests/unit/.libs/syncshim.so"'
tests_unit_journal_sync_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_journal_sync_test_LDADD = tests/unit/libcu.la node/libnode.la
EXTRA_tests_unit_journal_sync_test_DEPENDENCIES = tests/unit/syncshim.la

tests_unit_journal_crash_test_SOURCES = tests/unit/journal_crash_test.c
tests_unit_journal_crash_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_journal_crash_test_LDADD = tests/unit/libcu.la node/libnode.la
