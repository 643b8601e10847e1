# packets/: the internal library shared by cascaded, libcascade and the tools.
noinst_LTLIBRARIES += packets/libpackets.la
packets_libpackets_la_SOURCES = \
	packets/packets.h \
	packets/clock.c \
	packets/id.c \
	packets/addr.c \
	packets/packet.c \
	packets/crypto.c \
	packets/envelope.c \
	packets/nngclose.c \
	packets/wire.c \
	packets/link.c \
	packets/tlsprobe.c
nodist_packets_libpackets_la_SOURCES = packets/cascade.pb-c.c packets/cascade.pb-c.h
packets_libpackets_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS)
packets_libpackets_la_LIBADD = $(PROTOBUF_C_LIBS) $(OPENSSL_LIBS) $(NNG_LIBS) $(PTHREAD_LIBS)

EXTRA_DIST += packets/cascade.proto
BUILT_SOURCES += packets/cascade.pb-c.c packets/cascade.pb-c.h
CLEANFILES += packets/cascade.pb-c.c packets/cascade.pb-c.h

# protoc-c writes both files at once; the header follows the source.
packets/cascade.pb-c.c: $(top_srcdir)/packets/cascade.proto
	@$(MKDIR_P) packets
	$(AM_V_GEN)$(PROTOC_C) --proto_path=$(top_srcdir)/packets --c_out=packets $(top_srcdir)/packets/cascade.proto
packets/cascade.pb-c.h: packets/cascade.pb-c.c
	@test -f $@ || { rm -f packets/cascade.pb-c.c; $(MAKE) $(AM_MAKEFLAGS) packets/cascade.pb-c.c; }
