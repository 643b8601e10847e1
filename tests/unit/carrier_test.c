/*
 * carrier_test.c — the daemon's table of carriers (node/carrier.h): every
 * url scheme the config accepts finds its carrier, and each descriptor is
 * whole. The carriers themselves are tested with real daemons
 * (tests/integration/reload_links.sh, http_fallback.sh, uplink_callfail.sh).
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "cascaded.h"

/* Loads a master's config with extra lines; returns conf_load's result. */
static int
load(const char *dir, const char *extra, struct conf **c)
{
	struct conf_errors errs;
	char path[512];
	size_t i;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/cascade.conf", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "node fj\nrole master\ndata-dir %s/data\n%s", dir, extra);
	fclose(f);
	chmod(path, 0600);
	memset(&errs, 0, sizeof(errs));
	rc = conf_load(path, c, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.v[i].text);
	return rc;
}

static void
TEST_for_url(void)
{
	static const struct {
		const char *url;
		const char *carrier;
	} want[] = {
		{ "tcp://127.0.0.1:4701", "tcp" },
		{ "tls+tcp://127.0.0.1:4700", "tcp" },
		{ "http://127.0.0.1:4781/cascade", "http" },
		{ "https://127.0.0.1:4780/cascade", "http" },
	};
	char *dir = cu_tmpdir("carrier");
	char extra[2048], path[512];
	struct conf *c = NULL;
	size_t i, k;
	FILE *f;

	/* tls urls want a certificate and key: files that exist are enough here */
	snprintf(extra, sizeof(extra), "allow-plain yes\n");
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.pem", dir, i ? "key" : "cert");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(path, "w"));
		fclose(f);
		chmod(path, 0600);
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "tls-%s %s\n",
		    i ? "key" : "cert", path);
	}
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "listen %s\n",
		    want[i].url);
	CHECK_EQ(load(dir, extra, &c), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_EQ(c->nlisten, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < c->nlisten; i++) {
		const struct ncarrier *nc = carrier_for_url(&c->listen[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(nc);
		for (k = 0; k < sizeof(want) / sizeof(want[0]); k++)
			if (strcmp(want[k].url, c->listen[i].url) == 0)
				break;
		CU_ASSERT_FATAL(k < sizeof(want) / sizeof(want[0]));
		if (strcmp(nc->name, want[k].carrier) != 0)
			fprintf(stderr, "%s: carrier %s, want %s\n", want[k].url, nc->name,
			    want[k].carrier);
		CU_ASSERT_STRING_EQUAL(nc->name, want[k].carrier);
		CHECK_EQ(nc->conf_carrier, c->listen[i].carrier);
	}
	conf_free(c);
	cu_rmtree(dir);
	free(dir);
}

/* Every descriptor is whole, and its dialing side says the same carrier. */
static void
TEST_table(void)
{
	size_t i, k, n = 0;

	for (i = 0; carriers[i] != NULL; i++) {
		const struct ncarrier *nc = carriers[i];

		n++;
		CU_ASSERT_PTR_NOT_NULL(nc->name);
		CU_ASSERT_PTR_NOT_NULL(nc->start);
		CU_ASSERT_PTR_NOT_NULL(nc->listen);
		CU_ASSERT_PTR_NOT_NULL(nc->unlisten);
		CU_ASSERT_PTR_NOT_NULL(nc->stop);
		CU_ASSERT_PTR_NOT_NULL_FATAL(nc->dial);
		CU_ASSERT_PTR_NOT_NULL(nc->dial->open);
		CU_ASSERT_PTR_NOT_NULL(nc->dial->call);
		CU_ASSERT_PTR_NOT_NULL(nc->dial->redial);
		CU_ASSERT_PTR_NOT_NULL(nc->dial->close);
		CU_ASSERT_STRING_EQUAL(nc->dial->name, nc->name);
		CHECK_EQ(nc->dial->carrier, nc->carrier);
		for (k = 0; k < i; k++) {       /* one carrier per wire and per url kind */
			CU_ASSERT(carriers[k]->carrier != nc->carrier);
			CU_ASSERT(carriers[k]->conf_carrier != nc->conf_carrier);
		}
	}
	CHECK_EQ(n, 2);
	/* tcp first: main.c starts them in this order, as it always did */
	CU_ASSERT_PTR_EQUAL(carriers[0], &carrier_tcp);
	CU_ASSERT_PTR_EQUAL(carriers[1], &carrier_http);
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_for_url),
		CU_TEST(TEST_table),
		CU_END
	};

	return cu_main("carrier", tests, argc, argv);
}
