/*
 * notify_test.c — what offline notices and delay warnings keep: their
 * directives (cascade.conf(5)) and the housekeeping of their journal marks
 * (journal_notify_gc). The POSTs and notices themselves are tested with real
 * daemons: tests/integration/offline_notify.sh and delay_warning.sh.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "conf.h"
#include "journal.h"
#include "jtest.h"

#define RC(expr) CHECK_RC(expr, journal_strerror)

/* Loads a master's config with extra lines; returns conf_load's result. */
static int
load(const char *dir, const char *extra, struct conf **c, struct conf_errors *errs)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cascade.conf", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "node fj\nrole master\ndata-dir %s/data\n%s", dir, extra);
	fclose(f);
	chmod(path, 0600);
	memset(errs, 0, sizeof(*errs));
	return conf_load(path, c, errs);
}

static int
has_error(const struct conf_errors *e, const char *text)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strstr(e->v[i].text, text) != NULL)
			return 1;
	return 0;
}

static void
TEST_directives(void)
{
	char *dir = cu_tmpdir("notify");
	struct conf_errors errs;
	struct conf *c = NULL;

	/* defaults: off, 5 minutes */
	CHECK_EQ(load(dir, "", &c, &errs), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NULL(c->offline_notify_url);
	CHECK_EQ(c->offline_notify_after_ms, 5 * 60 * 1000);
	CHECK_EQ(c->delay_warning_after_ms, 0);
	conf_free(c);
	conf_errors_free(&errs);

	CHECK_EQ(load(dir, "offline-notify-url https://pager.example/x\n"
	    "offline-notify-after 90s\ndelay-warning-after 1h\n", &c, &errs), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->offline_notify_url, "https://pager.example/x");
	CHECK_EQ(c->offline_notify_after_ms, 90 * 1000);
	CHECK_EQ(c->delay_warning_after_ms, 3600 * 1000);
	conf_free(c);
	conf_errors_free(&errs);

	/* every error, with its line */
	c = NULL;
	CHECK_EQ(load(dir, "offline-notify-url ftp://x/\noffline-notify-after 50ms\n"
	    "delay-warning-after soon\n", &c, &errs), -1);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(has_error(&errs, ":4: offline-notify-url: \"ftp://x/\" is not an http:// or "
	    "https:// URL"));
	CU_ASSERT(has_error(&errs, ":5: offline-notify-after: 50ms is out of range"));
	CU_ASSERT(has_error(&errs, ":6: delay-warning-after: bad duration \"soon\""));
	conf_errors_free(&errs);
	cu_rmtree(dir);
	free(dir);
}

static int
mark(struct journal *j, const char *kind, const uint8_t *id, const char *who)
{
	char key[128], idt[CID_TEXT_LEN];

	snprintf(key, sizeof(key), "nf:%s:%s%s%s", kind, cid_format(id, idt), who ? ":" : "",
	    who ? who : "");
	return journal_meta_put(j, key, "", 0);
}

static int
has_mark(struct journal *j, const char *kind, const uint8_t *id, const char *who)
{
	char key[128], idt[CID_TEXT_LEN];
	void *v;
	size_t len;

	snprintf(key, sizeof(key), "nf:%s:%s%s%s", kind, cid_format(id, idt), who ? ":" : "",
	    who ? who : "");
	if (journal_meta_get(j, key, &v, &len) != 0)
		return 0;
	free(v);
	return 1;
}

/* Marks stay while their packet waits; after the ack they go, a few per call. */
static void
TEST_marks_gc(void)
{
	char *dir = cu_tmpdir("notify"), from[512] = "";
	struct jentry e[8];
	struct journal *j;
	uint8_t gone[CID_LEN];
	unsigned n, del, total, calls, i;
	uint32_t q;

	j = jt_open(dir);
	RC(journal_queue(j, "client:city-b/dr-wang", JQ_CLIENT, &q));
	RC(jt_insert(j, q, 4, 16, 1, 0, NULL));
	RC(journal_peek(j, q, 1, 8, 1 << 20, e, &n));
	CHECK_EQ(n, 4);
	for (i = 0; i < n; i++) {
		RC(mark(j, "o", e[i].key.id, "city-b/dr-wang"));
		RC(mark(j, "d", e[i].key.id, NULL));
	}
	/* a mark of a packet this journal never held; and a key that is not a mark */
	memset(gone, 0x5a, sizeof(gone));
	RC(mark(j, "d", gone, NULL));
	RC(journal_meta_put(j, "nf", "", 0));

	RC(journal_notify_gc(j, from, sizeof(from), 100, &del));
	CHECK_EQ(del, 1);
	CU_ASSERT(from[0] == '\0');
	CU_ASSERT(!has_mark(j, "d", gone, NULL));
	for (i = 0; i < n; i++)
		CU_ASSERT(has_mark(j, "o", e[i].key.id, "city-b/dr-wang") &&
		    has_mark(j, "d", e[i].key.id, NULL));

	/* the first two are delivered: their four marks go, two at a time */
	RC(journal_ack(j, q, 2, 5, NULL));
	total = calls = 0;
	do {
		RC(journal_notify_gc(j, from, sizeof(from), 2, &del));
		total += del;
		calls++;
	} while (from[0] != '\0' && calls < 20);
	CHECK_EQ(total, 4);
	CU_ASSERT(calls >= 4);
	for (i = 0; i < n; i++) {
		CHECK_EQ(has_mark(j, "o", e[i].key.id, "city-b/dr-wang"), i >= 2);
		CHECK_EQ(has_mark(j, "d", e[i].key.id, NULL), i >= 2);
	}
	{
		void *v;
		size_t len;

		RC(journal_meta_get(j, "nf", &v, &len));
		free(v);
	}
	journal_entries_free(e, n);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_directives),
	CU_TEST(TEST_marks_gc),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("notify", tests, argc, argv);
}
