# master/: what only the root does. libauditq: the event-log queries (time
# parsing, filters, the scan) that cascade-audit and cascadectl audit share.
noinst_LTLIBRARIES += master/libauditq.la
master_libauditq_la_SOURCES = master/audit_query.h master/audit_query.c
master_libauditq_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
master_libauditq_la_LIBADD = node/libnode.la

# cascade-audit: reads a node's event log beside the running daemon
sbin_PROGRAMS += master/cascade-audit
master_cascade_audit_SOURCES = master/audit.c
master_cascade_audit_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
master_cascade_audit_LDADD = master/libauditq.la node/libnode.la
