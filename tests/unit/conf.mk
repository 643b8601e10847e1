check_PROGRAMS += tests/unit/conf_test
TESTS += tests/unit/conf_test
UNIT_TESTS += tests/unit/conf_test
tests_unit_conf_test_SOURCES = tests/unit/conf_test.c
tests_unit_conf_test_CFLAGS = $(UNIT_CFLAGS) -DTOP_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_conf_test_LDADD = tests/unit/libcu.la node/libnode.la
# The fixtures, hostile ones included; the test copies them to a temporary
# directory. The examples it loads are distributed by conf/local.mk.
EXTRA_DIST += tests/unit/files/conf

# node/log.c's rate limit of repeated lines
check_PROGRAMS += tests/unit/log_test
TESTS += tests/unit/log_test
UNIT_TESTS += tests/unit/log_test
tests_unit_log_test_SOURCES = tests/unit/log_test.c
tests_unit_log_test_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/node
tests_unit_log_test_LDADD = tests/unit/libcu.la node/libnode.la

# node/confdiff.c: what a reload would change
check_PROGRAMS += tests/unit/confdiff_test
TESTS += tests/unit/confdiff_test
UNIT_TESTS += tests/unit/confdiff_test
tests_unit_confdiff_test_SOURCES = tests/unit/confdiff_test.c
tests_unit_confdiff_test_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/node
tests_unit_confdiff_test_LDADD = tests/unit/libcu.la node/libnode.la
