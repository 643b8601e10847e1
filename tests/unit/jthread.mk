# The journal thread's order of work (jthread.c with the real loop and journal).
check_PROGRAMS += tests/unit/jthread_test
TESTS += tests/unit/jthread_test
UNIT_TESTS += tests/unit/jthread_test
tests_unit_jthread_test_SOURCES = tests/unit/jthread_test.c tests/unit/jtest.h
tests_unit_jthread_test_CFLAGS = $(UNIT_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_jthread_test_LDADD = tests/unit/libcu.la node/libcascaded.la node/libnode.la \
	$(LIBEVENT_LIBS)
