# The route decision (node/route.c) and the route table (node/routes.c) on a
# node built on the stack: spoofing, loops, the turn, audit copies, cancels.
check_PROGRAMS += tests/unit/route_test
TESTS += tests/unit/route_test
UNIT_TESTS += tests/unit/route_test
tests_unit_route_test_SOURCES = tests/unit/route_test.c tests/unit/cupkt.h
tests_unit_route_test_CFLAGS = $(UNIT_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_route_test_LDADD = tests/unit/libcu.la node/libcascaded.la

# The root's rules (master/rules.c): turn, audit copies, bounce policy.
check_PROGRAMS += tests/unit/master_rules_test
TESTS += tests/unit/master_rules_test
UNIT_TESTS += tests/unit/master_rules_test
tests_unit_master_rules_test_SOURCES = tests/unit/master_rules_test.c
tests_unit_master_rules_test_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/master
tests_unit_master_rules_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_master_rules_test_LDADD = tests/unit/libcu.la master/librules.la
