check_PROGRAMS += tests/unit/packets_test
TESTS += tests/unit/packets_test
UNIT_TESTS += tests/unit/packets_test
tests_unit_packets_test_SOURCES = tests/unit/packets_test.c
tests_unit_packets_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_packets_test_LDADD = tests/unit/libcu.la packets/libpackets.la
