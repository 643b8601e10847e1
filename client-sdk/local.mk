# client-sdk/: libcascade, the public C API for clinics' applications.
#
# Everything lives in a convenience library, so the unit tests link the
# real internal modules; libcascade.la wraps it and exports only the public
# cascade_* names ('^cascade_[a-z]' leaves out protobuf-c's cascade__*).
noinst_LTLIBRARIES += client-sdk/libcascadeint.la
client_sdk_libcascadeint_la_SOURCES = \
	client-sdk/cascade.h \
	client-sdk/sdk_int.h \
	client-sdk/carrier.h \
	client-sdk/sdk.c \
	client-sdk/session.c \
	client-sdk/reqs.c \
	client-sdk/idmap.c \
	client-sdk/store.c \
	client-sdk/store_lmdb.c \
	client-sdk/carrier.c \
	client-sdk/carrier_tcp.c
client_sdk_libcascadeint_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS)
client_sdk_libcascadeint_la_LIBADD = packets/libpackets.la $(NNG_LIBS) $(LMDB_LIBS) \
	$(PTHREAD_LIBS)

lib_LTLIBRARIES += client-sdk/libcascade.la
include_HEADERS += client-sdk/cascade.h
client_sdk_libcascade_la_SOURCES = client-sdk/cascade.h
client_sdk_libcascade_la_LIBADD = client-sdk/libcascadeint.la
client_sdk_libcascade_la_LDFLAGS = -version-info 0:0:0 -export-symbols-regex '^cascade_[a-z]'
pkgconfig_DATA += client-sdk/libcascade.pc
EXTRA_DIST += client-sdk/libcascade.pc.in
