# node/: the daemon. Everything but main.c lives in a convenience library so
# unit tests link the real modules.
noinst_LTLIBRARIES += node/libnode.la
node_libnode_la_SOURCES = \
	node/journal.h \
	node/journal.c
node_libnode_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS) $(LIBEVENT_CFLAGS)
node_libnode_la_LIBADD = packets/libpackets.la $(LMDB_LIBS) $(NNG_LIBS) \
	$(LIBEVENT_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS) $(PTHREAD_LIBS)
