check_PROGRAMS += tests/unit/journal_test
TESTS += tests/unit/journal_test
UNIT_TESTS += tests/unit/journal_test
tests_unit_journal_test_SOURCES = tests/unit/journal_test.c
tests_unit_journal_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_journal_test_LDADD = tests/unit/libcu.la node/libnode.la
