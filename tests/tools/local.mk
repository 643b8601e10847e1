# tests/tools/: C helpers shared by the test tools. libtlink: the one test-side
# link client (Hello + Auth + requests over a blocking nng req socket).
# Not check_: the benchmark's chainload (noinst_PROGRAMS, built by make) links it.
noinst_LTLIBRARIES += tests/tools/libtlink.la
tests_tools_libtlink_la_SOURCES = tests/tools/tlink.h tests/tools/tlink.c
tests_tools_libtlink_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_tools_libtlink_la_LIBADD = packets/libpackets.la $(NNG_LIBS)
