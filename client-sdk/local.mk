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
	client-sdk/session_api.c \
	client-sdk/reqs.c \
	client-sdk/idmap.c \
	client-sdk/store.c \
	client-sdk/store_lmdb.c \
	client-sdk/carrier.c \
	client-sdk/carrier_tcp.c \
	client-sdk/carrier_http.c
client_sdk_libcascadeint_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS) \
	$(CURL_CFLAGS)
client_sdk_libcascadeint_la_LIBADD = packets/libpackets.la $(NNG_LIBS) $(LMDB_LIBS) \
	$(CURL_LIBS) $(PTHREAD_LIBS)

lib_LTLIBRARIES += client-sdk/libcascade.la
include_HEADERS += client-sdk/cascade.h
client_sdk_libcascade_la_SOURCES = client-sdk/cascade.h
client_sdk_libcascade_la_LIBADD = client-sdk/libcascadeint.la
client_sdk_libcascade_la_LDFLAGS = -version-info 1:0:1 -export-symbols-regex '^cascade_[a-z]'
pkgconfig_DATA += client-sdk/libcascade.pc
EXTRA_DIST += client-sdk/libcascade.pc.in

# ---------------------------------------------------------------------------
# The command-line client cascade(1) and the consultation example (make demo
# runs it). Both use libcascade's public API only; JSON through jansson.
bin_PROGRAMS += client-sdk/cascade
client_sdk_cascade_SOURCES = \
	client-sdk/cli/cli.h \
	client-sdk/cli/main.c \
	client-sdk/cli/common.c \
	client-sdk/cli/output.c \
	client-sdk/cli/handle.c \
	client-sdk/cli/options.c \
	client-sdk/cli/send.c \
	client-sdk/cli/listen.c \
	client-sdk/cli/cancel.c \
	client-sdk/cli/batch.c \
	client-sdk/cli/outq.c
client_sdk_cascade_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
client_sdk_cascade_LDADD = client-sdk/libcascade.la $(JANSSON_LIBS) $(PTHREAD_LIBS)

noinst_PROGRAMS += client-sdk/examples/consult
client_sdk_examples_consult_SOURCES = client-sdk/examples/consult.c
client_sdk_examples_consult_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS)
client_sdk_examples_consult_LDADD = client-sdk/libcascade.la $(JANSSON_LIBS) $(OPENSSL_LIBS) \
	$(PTHREAD_LIBS)
