# The http carrier's integration tests (tests/integration/http_*.sh): real
# daemons on loopback, links over http and https, the endpoints driven by
# curl(1). pbgen builds the protobuf bodies curl sends and decodes what comes
# back; httpproxy is a small forward proxy that counts what it carried.
check_PROGRAMS += tests/pbgen tests/httpproxy
tests_pbgen_SOURCES = tests/pbgen.c
tests_pbgen_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_pbgen_LDADD = packets/libpackets.la
tests_httpproxy_SOURCES = tests/httpproxy.c
tests_httpproxy_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_httpproxy_LDADD = $(LIBEVENT_LIBS)

HTTP_TESTS = \
	tests/integration/http_tree.sh \
	tests/integration/http_fallback.sh \
	tests/integration/http_endpoints.sh \
	tests/integration/http_tls.sh \
	tests/integration/http_proxy.sh \
	tests/integration/http_limits.sh
TESTS += $(HTTP_TESTS)
EXTRA_DIST += $(HTTP_TESTS) tests/bench/chain_http.sh
CLEANFILES += tests/bench/results-chain-http.txt tests/bench/results-chain-http-tcp.txt \
	tests/bench/results-chain-http-http.txt

# tests/bench/chain_http.sh: the chain benchmark (chain.sh) with tcp links,
# then with http links, side by side. Not part of make check.
bench-chain-http: node/cascaded$(EXEEXT) tests/freeport$(EXEEXT) \
	tests/bench/chainload$(EXEEXT) tests/bench/nngref$(EXEEXT)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	    bash $(top_srcdir)/tests/bench/chain_http.sh

.PHONY: bench-chain-http
