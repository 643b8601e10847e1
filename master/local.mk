# master/: what only the root does. libauditq: the event-log queries (time
# parsing, filters, the indexed or full read) behind cascadectl audit.
noinst_LTLIBRARIES += master/libauditq.la
master_libauditq_la_SOURCES = master/audit_query.h master/audit_query.c
master_libauditq_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
master_libauditq_la_LIBADD = node/libnode.la
