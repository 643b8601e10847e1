# tests/unit/sdk_http_test: libcascade's http carrier (client-sdk/carrier_http.c)
# against a small HTTP/1.1 server inside the test, and the proxy option.
check_PROGRAMS += tests/unit/sdk_http_test
TESTS += tests/unit/sdk_http_test
UNIT_TESTS += tests/unit/sdk_http_test
tests_unit_sdk_http_test_SOURCES = tests/unit/sdk_http_test.c
tests_unit_sdk_http_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_sdk_http_test_LDADD = tests/unit/libcu.la client-sdk/libcascadeint.la $(LMDB_LIBS) \
	$(CURL_LIBS) $(PTHREAD_LIBS)
