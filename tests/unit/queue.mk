# node/queue.c: the wait/wake registry of the queues (held pulls, the uplink)
check_PROGRAMS += tests/unit/queue_test
TESTS += tests/unit/queue_test
UNIT_TESTS += tests/unit/queue_test
tests_unit_queue_test_SOURCES = tests/unit/queue_test.c
tests_unit_queue_test_CFLAGS = $(UNIT_CFLAGS) $(LIBEVENT_CFLAGS) -I$(top_srcdir)/node
tests_unit_queue_test_LDADD = tests/unit/libcu.la node/libcascaded.la node/libnode.la \
	master/libauditq.la packets/libpackets.la
