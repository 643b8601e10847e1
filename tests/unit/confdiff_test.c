/*
 * confdiff_test.c — node/confdiff.c: conf_diff on pairs of configurations
 * loaded by the real loader from files in a temporary directory: nothing
 * changed, clients added/removed/secret/carriers changed (live), node id,
 * role and data-dir (immutable), children and parent (restart), and the
 * file:line each change names.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cu.h"
#include "conf.h"
#include "confdiff.h"

static char *tmp;

static char *
tpath(const char *name)
{
	static char buf[8][4096];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmp, name);
	return buf[i];
}

static void
write_file(const char *name, const char *text)
{
	int fd = open(tpath(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void
setup(void)
{
	tmp = cu_tmpdir("confdiff");
	CU_ASSERT_FATAL(tmp != NULL);
	write_file("a.secret", "1111111111111111111111111111111111111111111111111111111111111111\n");
	write_file("b.secret", "2222222222222222222222222222222222222222222222222222222222222222\n");
	write_file("c.secret", "3333333333333333333333333333333333333333333333333333333333333333\n");
}

static void
teardown(void)
{
	cu_rmtree(tmp);
	free(tmp);
}

/* The base config with extra lines appended; node id and data-dir given. */
static struct conf *
load(const char *name, const char *node, const char *dir, const char *body)
{
	struct conf_errors errs;
	struct conf *c = NULL;
	char text[8192];

	snprintf(text, sizeof(text),
	    "node %s\n"
	    "data-dir %s\n"
	    "allow-plain yes\n"
	    "listen tcp://127.0.0.1:4700\n"
	    "parent fj-xm {\n"
	    "\turl tcp://127.0.0.1:4800\n"
	    "\tsecret a.secret\n"
	    "}\n"
	    "%s", node, tpath(dir), body);
	write_file(name, text);
	memset(&errs, 0, sizeof(errs));
	if (conf_load(tpath(name), &c, &errs) != 0)
		conf_errors_print(&errs, stderr);
	conf_errors_free(&errs);
	CU_ASSERT_FATAL(c != NULL);
	return c;
}

static const char base_clients[] =
    "child fj-xm-a {\n\tsecret a.secret\n}\n"
    "client his {\n\tsecret b.secret\n}\n"
    "client lab {\n\tsecret b.secret\n}\n";

static int
has(const struct conf_changes *ch, enum conf_change_kind kind, const char *text)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (ch->v[i].kind == kind && strstr(ch->v[i].text, text) != NULL)
			return 1;
	return 0;
}

static void
TEST_no_change(void)
{
	struct conf_changes ch;
	struct conf *o, *n;

	setup();
	o = load("old.conf", "fj-xm-b", "data", base_clients);
	n = load("new.conf", "fj-xm-b", "data", base_clients);
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 0);
	CU_ASSERT_EQUAL(ch.nrefused, 0);
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

static void
TEST_clients_live(void)
{
	struct conf_changes ch;
	struct conf *o, *n;
	char *text, where[4200];

	setup();
	o = load("old.conf", "fj-xm-b", "data", base_clients);
	n = load("new.conf", "fj-xm-b", "data",
	    "child fj-xm-a {\n\tsecret a.secret\n}\n"
	    "client his {\n\tsecret c.secret\n}\n"          /* line 12: secret changed */
	    "client pacs {\n\tsecret b.secret\n\tcarriers http\n}\n");  /* added; lab removed */
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 3);
	CU_ASSERT_EQUAL(ch.nrefused, 0);
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "client his: secret changed"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "client pacs: added"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "client lab: removed"));
	/* an added or changed one is named where the new file defines it, a
	 * removed one where the old file did */
	snprintf(where, sizeof(where), "%s:12: client his", tpath("new.conf"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, where));
	snprintf(where, sizeof(where), "%s:15: client lab", tpath("old.conf"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, where));
	text = conf_changes_text(&ch);
	CU_ASSERT(strstr(text, "REFUSED") == NULL);
	free(text);
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

static void
TEST_carriers(void)
{
	struct conf_changes ch;
	struct conf *o, *n;

	setup();
	o = load("old.conf", "fj-xm-b", "data", base_clients);
	n = load("new.conf", "fj-xm-b", "data",
	    "child fj-xm-a {\n\tsecret a.secret\n}\n"
	    "client his {\n\tsecret b.secret\n\tcarriers http\n}\n"
	    "client lab {\n\tsecret b.secret\n}\n");
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 1);
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "client his: carriers tcp http -> http"));
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

static void
TEST_immutable(void)
{
	struct conf_changes ch;
	struct conf *o, *n;
	char *text;

	setup();
	o = load("old.conf", "fj-xm-b", "data", base_clients);
	n = load("new.conf", "fj-xm-c", "data2", base_clients);
	memset(&ch, 0, sizeof(ch));
	/* the default control socket lives in the data-dir: it moves too */
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 3);
	CU_ASSERT_EQUAL(ch.nrefused, 3);
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "control: changed"));
	CU_ASSERT(has(&ch, CONF_CHANGE_IMMUTABLE, "node: fj-xm-b -> fj-xm-c cannot change live"));
	CU_ASSERT(has(&ch, CONF_CHANGE_IMMUTABLE, "data-dir:"));
	text = conf_changes_text(&ch);
	CU_ASSERT(strncmp(text, "REFUSED: ", 9) == 0);
	free(text);
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

static void
TEST_children_restart(void)
{
	struct conf_changes ch;
	struct conf *o, *n;

	setup();
	o = load("old.conf", "fj-xm-b", "data", base_clients);
	n = load("new.conf", "fj-xm-b", "data",
	    "child fj-xm-a {\n\tsecret c.secret\n\tcarriers http\n}\n"
	    "child fj-xm-d {\n\tsecret a.secret\n}\n"
	    "client his {\n\tsecret b.secret\n}\n"
	    "client lab {\n\tsecret b.secret\n}\n");
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 3);
	CU_ASSERT_EQUAL(ch.nrefused, 3);
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "child fj-xm-a: secret changed"));
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "child fj-xm-a: carriers tcp http -> http"));
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "child fj-xm-d: added"));
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

/* A client's own offline-notify-after (conf.c), and its change (live). */
static void
TEST_client_notify_after(void)
{
	struct conf_changes ch;
	struct conf *o, *n;

	setup();
	o = load("old.conf", "fj-xm-b", "data", "offline-notify-after 10m\n"
	    "client his {\n\tsecret b.secret\n\toffline-notify-after 30s\n}\n"
	    "client lab {\n\tsecret b.secret\n}\n");
	CU_ASSERT_EQUAL(o->offline_notify_after_ms, 600000);
	CU_ASSERT_EQUAL(conf_client_find(o, "his")->offline_notify_after_ms, 30000);
	CU_ASSERT_EQUAL(conf_client_find(o, "lab")->offline_notify_after_ms, 0);
	n = load("new.conf", "fj-xm-b", "data", "offline-notify-after 10m\n"
	    "client his {\n\tsecret b.secret\n\toffline-notify-after 1h\n}\n"
	    "client lab {\n\tsecret b.secret\n}\n");
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 1);
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "client his: offline-notify-after changed"));
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

/* the audit settings are read at start: a change is refused, saying so */
static void
TEST_audit_restart(void)
{
	struct conf_changes ch;
	struct conf *o, *n;
	char body[4096];

	setup();
	o = load("old.conf", "fj-xm-b", "data", base_clients);
	snprintf(body, sizeof(body), "audit-index yes\naudit-anchor-interval 10m\n%s",
	    base_clients);
	n = load("new.conf", "fj-xm-b", "data", body);
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 2);
	CU_ASSERT_EQUAL(ch.nrefused, 2);
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "audit-index: no -> yes"));
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "audit-anchor-interval: changed"));
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_audit_restart),
	CU_TEST(TEST_client_notify_after),
	CU_TEST(TEST_no_change),
	CU_TEST(TEST_clients_live),
	CU_TEST(TEST_carriers),
	CU_TEST(TEST_immutable),
	CU_TEST(TEST_children_restart),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("confdiff", tests, argc, argv);
}
