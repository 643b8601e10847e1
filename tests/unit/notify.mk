# Offline notices and delay warnings: their directives and journal marks.
check_PROGRAMS += tests/unit/notify_test
TESTS += tests/unit/notify_test
UNIT_TESTS += tests/unit/notify_test
tests_unit_notify_test_SOURCES = tests/unit/notify_test.c tests/unit/jtest.h
tests_unit_notify_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_notify_test_LDADD = tests/unit/libcu.la node/libnode.la
