# Integration tests of cascaded: real daemons on loopback (see tests/integration/lib.sh).
check_PROGRAMS += tests/tclient
tests_tclient_SOURCES = tests/tclient.c
tests_tclient_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) -I$(top_srcdir)/tests/tools
tests_tclient_LDADD = tests/tools/libtlink.la packets/libpackets.la $(NNG_LIBS)


NODE_TESTS = \
	tests/integration/tree.sh \
	tests/integration/restart.sh \
	tests/integration/outage.sh \
	tests/integration/ttl.sh \
	tests/integration/ttl_inflight.sh \
	tests/integration/inflight_restart.sh \
	tests/integration/epochs.sh \
	tests/integration/badinput.sh \
	tests/integration/confcheck.sh \
	tests/integration/tls.sh \
	tests/integration/cancel.sh \
	tests/integration/cancel_inflight.sh \
	tests/integration/syncack.sh \
	tests/integration/manlint.sh \
	tests/integration/stall.sh \
	tests/integration/shutdown.sh \
	tests/integration/uplink_callfail.sh \
	tests/integration/tcp_resets.sh
TESTS += $(NODE_TESTS)
EXTRA_DIST += tests/integration/nodes.sh $(NODE_TESTS)

# LD_PRELOAD shim for syncack.sh
check_LTLIBRARIES += tests/ackshim.la
tests_ackshim_la_SOURCES = tests/ackshim.c
tests_ackshim_la_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes
tests_ackshim_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_ackshim_la_LIBADD = -ldl

# LD_PRELOAD shim for stall.sh, shutdown.sh and uplink_callfail.sh: pipe events
# held back or swallowed, a close that hangs, a context that cannot be opened
check_LTLIBRARIES += tests/pipeshim.la
tests_pipeshim_la_SOURCES = tests/pipeshim.c
tests_pipeshim_la_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes
tests_pipeshim_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_pipeshim_la_LIBADD = -ldl $(PTHREAD_LIBS)

# Offline notices (notify.c) and delay warnings (delaywarn.c)
TESTS += tests/integration/offline_notify.sh tests/integration/delay_warning.sh
EXTRA_DIST += tests/integration/offline_notify.sh tests/integration/delay_warning.sh \
	tests/integration/notify_recv.py
