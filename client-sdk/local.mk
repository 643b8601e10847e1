# client-sdk/: libcascade, the public C API for clinics' applications.
lib_LTLIBRARIES += client-sdk/libcascade.la
include_HEADERS += client-sdk/cascade.h
client_sdk_libcascade_la_SOURCES = client-sdk/cascade.h client-sdk/sdk.c
client_sdk_libcascade_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS)
client_sdk_libcascade_la_LIBADD = packets/libpackets.la
# Only the public API leaves the library; packets/ stays private inside it.
client_sdk_libcascade_la_LDFLAGS = -version-info 0:0:0 -export-symbols-regex '^cascade_'
pkgconfig_DATA += client-sdk/libcascade.pc
EXTRA_DIST += client-sdk/libcascade.pc.in
