# The packets a node originates (node/origin.c) on a node built on the
# stack: no notice about a notice, a notice routed back to its source.
check_PROGRAMS += tests/unit/origin_test
TESTS += tests/unit/origin_test
UNIT_TESTS += tests/unit/origin_test
tests_unit_origin_test_SOURCES = tests/unit/origin_test.c tests/unit/cupkt.h
tests_unit_origin_test_CFLAGS = $(UNIT_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_origin_test_LDADD = tests/unit/libcu.la node/libcascaded.la
