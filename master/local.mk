# master/: what only the root does. For now cascade-audit, which reads a
# node's event log beside the running daemon (the seed of cascadectl audit).
sbin_PROGRAMS += master/cascade-audit
master_cascade_audit_SOURCES = master/audit.c
master_cascade_audit_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
master_cascade_audit_LDADD = node/libnode.la
