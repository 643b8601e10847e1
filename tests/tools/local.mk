# tests/tools/: the C programs and LD_PRELOAD shims that the integration
# tests, the chaos test and the benchmarks drive. Built as
# $(top_builddir)/tests/tools/NAME, the shims as tests/tools/.libs/NAME.so
# (lib.sh's T_FAULTPROXY etc., nodes.sh's T_TCLIENT).

# libtlink: the one test-side link client (Hello + Auth + requests over a
# blocking nng req socket), linked by tclient and the benchmark's chainload.
# Not check_: chainload (noinst_PROGRAMS, built by make) links it.
noinst_LTLIBRARIES += tests/tools/libtlink.la
tests_tools_libtlink_la_SOURCES = tests/tools/tlink.h tests/tools/tlink.c
tests_tools_libtlink_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_tools_libtlink_la_LIBADD = packets/libpackets.la $(NNG_LIBS)

# tclient: a client (or, with -k, a child node) of a node over tcp: send,
# recv, raw requests (nodes.sh: tc_send, tc_recv_bg)
check_PROGRAMS += tests/tools/tclient
tests_tools_tclient_SOURCES = tests/tools/tclient.c
tests_tools_tclient_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_tools_tclient_LDADD = tests/tools/libtlink.la packets/libpackets.la $(NNG_LIBS)

# faultproxy injects faults between two nodes (lib.sh t_proxy), freeport
# picks ports (t_free_port), echosrv and tcpclient test the proxy itself
# (proxy.sh; tcpclient also http_limits.sh)
check_PROGRAMS += tests/tools/faultproxy tests/tools/freeport tests/tools/echosrv \
	tests/tools/tcpclient
tests_tools_faultproxy_SOURCES = tests/tools/faultproxy.c
tests_tools_faultproxy_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_tools_faultproxy_LDADD = $(LIBEVENT_LIBS)
tests_tools_freeport_SOURCES = tests/tools/freeport.c
tests_tools_echosrv_SOURCES = tests/tools/echosrv.c
tests_tools_echosrv_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_tools_echosrv_LDADD = $(LIBEVENT_LIBS)
tests_tools_tcpclient_SOURCES = tests/tools/tcpclient.c

# pbgen builds the protobuf bodies curl sends to the http carrier and decodes
# what comes back (http_endpoints.sh, http_limits.sh, http_replay.sh,
# mtls.sh); httpproxy is a small forward proxy that counts what it carried
# (http_proxy.sh, sdk_http.sh)
check_PROGRAMS += tests/tools/pbgen tests/tools/httpproxy
tests_tools_pbgen_SOURCES = tests/tools/pbgen.c
tests_tools_pbgen_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_tools_pbgen_LDADD = packets/libpackets.la
tests_tools_httpproxy_SOURCES = tests/tools/httpproxy.c
tests_tools_httpproxy_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_tools_httpproxy_LDADD = $(LIBEVENT_LIBS)

# linkmitm: a man in the middle on a plain tcp link that rewrites the
# parent's replies (the link-protocol attack tests mitm_*.sh)
check_PROGRAMS += tests/tools/linkmitm
tests_tools_linkmitm_SOURCES = tests/tools/linkmitm.c
tests_tools_linkmitm_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_tools_linkmitm_LDADD = packets/libpackets.la $(PTHREAD_LIBS)

# evtamper changes a journal's event log behind the daemon's back
# (audit_ctl.sh: verify; replay.sh: unstore plays retention)
check_PROGRAMS += tests/tools/evtamper
tests_tools_evtamper_SOURCES = tests/tools/evtamper.c
tests_tools_evtamper_LDADD = $(LMDB_LIBS)

# LD_PRELOAD shim for syncack.sh and receipt_crash.sh
check_LTLIBRARIES += tests/tools/ackshim.la
tests_tools_ackshim_la_SOURCES = tests/tools/ackshim.c
tests_tools_ackshim_la_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes
tests_tools_ackshim_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_tools_ackshim_la_LIBADD = -ldl

# LD_PRELOAD shim for stall.sh, shutdown.sh, uplink_callfail.sh and
# sdk_stall.sh: pipe events held back or swallowed, a close that hangs, a
# context that cannot be opened
check_LTLIBRARIES += tests/tools/pipeshim.la
tests_tools_pipeshim_la_SOURCES = tests/tools/pipeshim.c
tests_tools_pipeshim_la_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes
tests_tools_pipeshim_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_tools_pipeshim_la_LIBADD = -ldl $(PTHREAD_LIBS)
