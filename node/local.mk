# node/: the daemon, in two convenience libraries so unit tests link the real
# modules. libnode: logging, the configuration and the journal (cascadectl and
# master/libauditq link it, without nng, libevent, curl or jansson).
# libcascaded: every other module of the daemon but main.c.
noinst_LTLIBRARIES += node/libnode.la
node_libnode_la_SOURCES = \
	node/log.h \
	node/log.c \
	node/conf.h \
	node/conf_int.h \
	node/conf.c \
	node/conf_read.c \
	node/conf_check.c \
	node/secret.c \
	node/confdiff.h \
	node/confdiff.c \
	node/journal.h \
	node/journal_int.h \
	node/journal.c \
	node/journal_txn.c \
	node/journal_rec.c \
	node/journal_queue.c \
	node/journal_lane.c \
	node/journal_commit.c \
	node/journal_flight.c \
	node/journal_expire.c \
	node/journal_space.c \
	node/journal_notify.c \
	node/journal_crypt.h \
	node/journal_crypt.c \
	node/eventlog.c \
	node/evindex.c
node_libnode_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBPQ_CFLAGS)
node_libnode_la_LIBADD = packets/libpackets.la $(LMDB_LIBS) $(NNG_LIBS) \
	$(LIBEVENT_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS) $(LIBPQ_LIBS) $(PTHREAD_LIBS)

# the daemon's modules (all but main.c)
noinst_LTLIBRARIES += node/libcascaded.la
node_libcascaded_la_SOURCES = \
	node/cascaded.h \
	node/node.c \
	node/loop.c \
	node/jthread.c \
	node/routes.c \
	node/route.c \
	node/queue.h \
	node/queue.c \
	node/hashtab.h \
	node/hashtab.c \
	node/custody.h \
	node/custody.c \
	node/origin.h \
	node/origin.c \
	node/server_int.h \
	node/server.c \
	node/server_auth.c \
	node/server_session.c \
	node/server_push.c \
	node/server_pull.c \
	node/server_reply.c \
	node/reload.c \
	node/limits.c \
	node/uplink.c \
	node/carrier.h \
	node/carrier.c \
	node/carrier_tcp.c \
	node/carrier_http.h \
	node/carrier_http.c \
	node/carrier_http_client.c \
	node/snapshot.c \
	node/metrics.c \
	node/ctl_queue.c \
	node/ctl_trace.c \
	node/ctl_replay.c \
	node/ctl_payload.c \
	node/ctl_audit.c \
	node/control.c \
	node/ctl_command.c \
	node/ctl_reply.c \
	node/notify.c \
	node/delaywarn.c
node_libcascaded_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/master -DSYSCONFDIR='"$(sysconfdir)"'
node_libcascaded_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(CURL_CFLAGS) $(JANSSON_CFLAGS)
node_libcascaded_la_LIBADD = master/librules.la master/libauditq.la node/libnode.la $(JANSSON_LIBS)
# audit-sink postgresql://...: only with libpq (configure says whether)
if HAVE_LIBPQ
node_libcascaded_la_SOURCES += node/audit_sink.c
node_libcascaded_la_CFLAGS += $(LIBPQ_CFLAGS)
node_libcascaded_la_LIBADD += $(LIBPQ_LIBS)
endif

# the daemon itself
sbin_PROGRAMS += node/cascaded
node_cascaded_SOURCES = node/main.c
node_cascaded_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/master -DSYSCONFDIR='"$(sysconfdir)"'
node_cascaded_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS) $(LIBEVENT_CFLAGS)
node_cascaded_LDADD = node/libcascaded.la

# the operator's tool: talks to a running cascaded over its control socket
sbin_PROGRAMS += node/cascadectl
node_cascadectl_SOURCES = node/cascadectl.h node/cascadectl.c node/cascadectl_ops.c \
	node/cascadectl_audit.c node/cascadectl_replay.c
node_cascadectl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/master -DSYSCONFDIR='"$(sysconfdir)"'
node_cascadectl_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JANSSON_CFLAGS)
node_cascadectl_LDADD = master/libauditq.la node/libnode.la $(JANSSON_LIBS)
