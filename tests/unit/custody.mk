# node/custody.c's outbound (custody_take_out) on a real journal in a temp dir
check_PROGRAMS += tests/unit/custody_test
TESTS += tests/unit/custody_test
UNIT_TESTS += tests/unit/custody_test
tests_unit_custody_test_SOURCES = tests/unit/custody_test.c tests/unit/jtest.h
tests_unit_custody_test_CFLAGS = $(UNIT_CFLAGS) $(LIBEVENT_CFLAGS) -I$(top_srcdir)/node
tests_unit_custody_test_LDADD = tests/unit/libcu.la node/libcascaded.la node/libnode.la \
	master/libauditq.la packets/libpackets.la
