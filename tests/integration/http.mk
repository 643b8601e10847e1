# The http carrier's integration tests (http_*.sh): real daemons on
# loopback, links over http and https, the endpoints driven by curl(1) with
# bodies from tests/tools/pbgen, a forward proxy (tests/tools/httpproxy).
HTTP_TESTS = \
	tests/integration/http_tree.sh \
	tests/integration/http_fallback.sh \
	tests/integration/http_endpoints.sh \
	tests/integration/http_tls.sh \
	tests/integration/http_proxy.sh \
	tests/integration/http_limits.sh
TESTS += $(HTTP_TESTS)
EXTRA_DIST += $(HTTP_TESTS)
