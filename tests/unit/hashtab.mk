# node/hashtab.c: the chained hash table sessions, peers, nonces and http connections are found in
check_PROGRAMS += tests/unit/hashtab_test
TESTS += tests/unit/hashtab_test
UNIT_TESTS += tests/unit/hashtab_test
tests_unit_hashtab_test_SOURCES = tests/unit/hashtab_test.c
tests_unit_hashtab_test_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/node
tests_unit_hashtab_test_LDADD = tests/unit/libcu.la node/libcascaded.la node/libnode.la \
	master/libauditq.la packets/libpackets.la
