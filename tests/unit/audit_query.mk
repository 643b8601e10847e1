# The audit queries' time parser, type names, address matching (master/audit_query.c).
check_PROGRAMS += tests/unit/audit_query_test
TESTS += tests/unit/audit_query_test
UNIT_TESTS += tests/unit/audit_query_test
tests_unit_audit_query_test_SOURCES = tests/unit/audit_query_test.c
tests_unit_audit_query_test_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/master
tests_unit_audit_query_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_audit_query_test_LDADD = tests/unit/libcu.la master/libauditq.la node/libnode.la

# The event indexes give the scan's answers (node/evindex.c through aq_scan_mode).
check_PROGRAMS += tests/unit/audit_index_test
TESTS += tests/unit/audit_index_test
UNIT_TESTS += tests/unit/audit_index_test
tests_unit_audit_index_test_SOURCES = tests/unit/audit_index_test.c tests/unit/jtest.h
tests_unit_audit_index_test_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/master
tests_unit_audit_index_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_audit_index_test_LDADD = tests/unit/libcu.la master/libauditq.la node/libnode.la
