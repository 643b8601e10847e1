# node/carrier.c: the daemon's table of carriers, by url scheme
check_PROGRAMS += tests/unit/carrier_test
TESTS += tests/unit/carrier_test
UNIT_TESTS += tests/unit/carrier_test
tests_unit_carrier_test_SOURCES = tests/unit/carrier_test.c
tests_unit_carrier_test_CFLAGS = $(UNIT_CFLAGS) $(LIBEVENT_CFLAGS) -I$(top_srcdir)/node
tests_unit_carrier_test_LDADD = tests/unit/libcu.la node/libcascaded.la
