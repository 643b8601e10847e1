check_PROGRAMS += tests/unit/journal_test tests/unit/journal_full_test
TESTS += tests/unit/journal_test tests/unit/journal_full_test
UNIT_TESTS += tests/unit/journal_test tests/unit/journal_full_test
tests_unit_journal_test_SOURCES = tests/unit/journal_test.c tests/unit/jtest.h
tests_unit_journal_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_journal_test_LDADD = tests/unit/libcu.la node/libnode.la
# Full disk: backpressure with a map that may not grow, and growth.
tests_unit_journal_full_test_SOURCES = tests/unit/journal_full_test.c tests/unit/jtest.h
tests_unit_journal_full_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_journal_full_test_LDADD = tests/unit/libcu.la node/libnode.la
# Payloads at rest: seal/open, key files, a journal with keys.
check_PROGRAMS += tests/unit/journal_crypt_test
TESTS += tests/unit/journal_crypt_test
UNIT_TESTS += tests/unit/journal_crypt_test
tests_unit_journal_crypt_test_SOURCES = tests/unit/journal_crypt_test.c tests/unit/jtest.h
tests_unit_journal_crypt_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_journal_crypt_test_LDADD = tests/unit/libcu.la node/libnode.la
# Replay: journal_requeue puts a delivered packet in a queue again.
check_PROGRAMS += tests/unit/journal_replay_test
TESTS += tests/unit/journal_replay_test
UNIT_TESTS += tests/unit/journal_replay_test
tests_unit_journal_replay_test_SOURCES = tests/unit/journal_replay_test.c tests/unit/jtest.h
tests_unit_journal_replay_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_journal_replay_test_LDADD = tests/unit/libcu.la node/libnode.la
# Priority lanes: the window, urgent before routine, flow order, restart.
check_PROGRAMS += tests/unit/journal_lane_test
TESTS += tests/unit/journal_lane_test
UNIT_TESTS += tests/unit/journal_lane_test
tests_unit_journal_lane_test_SOURCES = tests/unit/journal_lane_test.c tests/unit/jtest.h
tests_unit_journal_lane_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_journal_lane_test_LDADD = tests/unit/libcu.la node/libnode.la
