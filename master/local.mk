# master/: what only the root does. librules: the root's rules (turn at the
# root, where audit copies end, the bounce policy) that every node's route
# decision applies; pure, on packets/ only. libauditq: the event-log queries
# (time parsing, filters, the indexed or full read) behind cascadectl audit.
noinst_LTLIBRARIES += master/librules.la
master_librules_la_SOURCES = master/rules.h master/rules.c
master_librules_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
master_librules_la_LIBADD = packets/libpackets.la

noinst_LTLIBRARIES += master/libauditq.la
master_libauditq_la_SOURCES = master/audit_query.h master/audit_query.c
master_libauditq_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
master_libauditq_la_LIBADD = node/libnode.la
