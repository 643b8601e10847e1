check_PROGRAMS += tests/unit/sdk_test
TESTS += tests/unit/sdk_test
UNIT_TESTS += tests/unit/sdk_test
tests_unit_sdk_test_SOURCES = tests/unit/sdk_test.c
tests_unit_sdk_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_sdk_test_LDADD = tests/unit/libcu.la client-sdk/libcascadeint.la $(LMDB_LIBS) \
	$(PTHREAD_LIBS)
