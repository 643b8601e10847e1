# tests/sdk/: programs built on libcascade's public API only, driven by
# tests/integration/sdk.sh against real daemons on loopback.
check_PROGRAMS += tests/sdk/sdkpeer
tests_sdk_sdkpeer_SOURCES = tests/sdk/sdkpeer.c
tests_sdk_sdkpeer_CPPFLAGS = -I$(top_srcdir)/client-sdk -I$(top_builddir)
tests_sdk_sdkpeer_LDADD = client-sdk/libcascade.la $(PTHREAD_LIBS)

SDK_TESTS = tests/integration/sdk.sh
SDK_TESTS += tests/integration/sdk_http.sh
SDK_TESTS += tests/integration/sdk_stall.sh
# takeover, close and request ttl as two real programs see them (issue 15)
SDK_TESTS += tests/integration/sdk_takeover.sh
# pause keeps the inbox at the node, close acks the last batch (issue 12)
SDK_TESTS += tests/integration/sdk_pause.sh
# "no session" over http (node restarted, session idled out): a new session, said so (issue 12)
SDK_TESTS += tests/integration/sdk_nosession.sh
# an oversize packet among good ones: only it is refused, no resend loop (issue 12)
SDK_TESTS += tests/integration/sdk_oversize.sh
# a receipt survives a crash right after the ack that produces it (issue 12)
SDK_TESTS += tests/integration/receipt_crash.sh
# a pull answered before its ack commits: a crash then loses nothing, duplicates nothing (issue 13)
SDK_TESTS += tests/integration/ack_early.sh
TESTS += $(SDK_TESTS)
EXTRA_DIST += $(SDK_TESTS)
