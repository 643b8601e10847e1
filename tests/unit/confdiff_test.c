/*
 * confdiff_test.c — node/confdiff.c: conf_diff on pairs of configurations
 * loaded by the real loader from files in a temporary directory: nothing
 * changed, clients and children added/removed/changed, the parent block and
 * listen urls (live, with what and id for reload.c to act on), node id, role
 * and data-dir (immutable), control, audit-sink and another parent id
 * (restart), and the file:line each change names.
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

static const struct conf_change *
find(const struct conf_changes *ch, enum conf_change_what what, const char *id)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (ch->v[i].what == what && ch->v[i].id != NULL && strcmp(ch->v[i].id, id) == 0)
			return &ch->v[i];
	return NULL;
}

/* Children apply live: added, removed, changed (its session ends), by id. */
static void
TEST_children_live(void)
{
	struct conf_changes ch;
	struct conf *o, *n;
	const struct conf_change *c;
	char where[4200];

	setup();
	o = load("old.conf", "fj-xm-b", "data",
	    "child fj-xm-a {\n\tsecret a.secret\n}\n"
	    "child fj-xm-e {\n\tsecret a.secret\n}\n"
	    "child fj-xm-f {\n\tsecret b.secret\n}\n"
	    "client his {\n\tsecret b.secret\n}\n");
	n = load("new.conf", "fj-xm-b", "data",
	    "child fj-xm-a {\n\tsecret c.secret\n\tcarriers http\n}\n"
	    "child fj-xm-d {\n\tsecret a.secret\n}\n"
	    "child fj-xm-f {\n\tsecret b.secret\n}\n"
	    "client his {\n\tsecret b.secret\n}\n");
	memset(&ch, 0, sizeof(ch));
	/* carriers http alone makes http its preferred carrier too (conf.c) */
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 5);
	CU_ASSERT_EQUAL(ch.nrefused, 0);
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "child fj-xm-a: prefer tcp -> http"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "child fj-xm-a: secret changed"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "child fj-xm-a: carriers tcp http -> http"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "child fj-xm-d: added"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "child fj-xm-e: removed"));
	c = find(&ch, CONF_CHG_CHILD_CHANGED, "fj-xm-a");
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT(c->end_sessions);
	CU_ASSERT(find(&ch, CONF_CHG_CHILD_ADDED, "fj-xm-d") != NULL);
	CU_ASSERT(find(&ch, CONF_CHG_CHILD_REMOVED, "fj-xm-e") != NULL);
	/* the unchanged child is not named at all */
	CU_ASSERT(!has(&ch, CONF_CHANGE_LIVE, "fj-xm-f"));
	/* the removed one is named where the old file had it */
	snprintf(where, sizeof(where), "%s:12: child fj-xm-e: removed", tpath("old.conf"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, where));
	conf_changes_free(&ch);
	conf_free(n);

	/* claims and prefer */
	n = load("new.conf", "fj-xm-b", "data",
	    "child fj-xm-a {\n\tsecret a.secret\n\tclaim fj-xm-a fj-xm-a-*\n}\n"
	    "child fj-xm-e {\n\tsecret a.secret\n\tprefer http\n}\n"
	    "child fj-xm-f {\n\tsecret b.secret\n}\n"
	    "client his {\n\tsecret b.secret\n}\n");
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 2);
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "child fj-xm-a: claims changed"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "child fj-xm-e: prefer tcp -> http"));
	c = find(&ch, CONF_CHG_CHILD_CHANGED, "fj-xm-e");
	CU_ASSERT(c != NULL && c->end_sessions);
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

/* The parent block applies live (the link is rebuilt) but for its id. */
static void
TEST_parent_live(void)
{
	struct conf_changes ch;
	struct conf *o, *n;
	struct conf_errors errs;
	char text[4096];
	size_t i;

	setup();
	o = load("old.conf", "fj-xm-b", "data", base_clients);
	/* the base parent block with its url on another port, http, a new secret */
	snprintf(text, sizeof(text),
	    "node fj-xm-b\ndata-dir %s\nallow-plain yes\nlisten tcp://127.0.0.1:4700\n"
	    "parent fj-xm {\n\turl http://127.0.0.1:4801/\n\ttransport http\n"
	    "\tsecret c.secret\n\tpush-window 8\n}\n%s", tpath("data"), base_clients);
	write_file("new.conf", text);
	memset(&errs, 0, sizeof(errs));
	n = NULL;
	if (conf_load(tpath("new.conf"), &n, &errs) != 0)
		conf_errors_print(&errs, stderr);
	conf_errors_free(&errs);
	CU_ASSERT_FATAL(n != NULL);
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 4);
	CU_ASSERT_EQUAL(ch.nrefused, 0);
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE,
	    "parent fj-xm: url tcp://127.0.0.1:4800 -> http://127.0.0.1:4801/ (the link is rebuilt)"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "parent fj-xm: secret changed"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "parent fj-xm: transport changed"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "parent fj-xm: push-window changed"));
	for (i = 0; i < ch.n; i++) {
		CU_ASSERT_EQUAL(ch.v[i].what, CONF_CHG_PARENT);
		CU_ASSERT_STRING_EQUAL(ch.v[i].id, "fj-xm");
	}
	conf_changes_free(&ch);
	conf_free(n);

	/* another parent id: refused, by name */
	snprintf(text, sizeof(text),
	    "node fj-xm-b\ndata-dir %s\nallow-plain yes\nlisten tcp://127.0.0.1:4700\n"
	    "parent fj-qz {\n\turl tcp://127.0.0.1:4800\n\tsecret a.secret\n}\n%s",
	    tpath("data"), base_clients);
	write_file("new.conf", text);
	memset(&errs, 0, sizeof(errs));
	n = NULL;
	CU_ASSERT_FATAL(conf_load(tpath("new.conf"), &n, &errs) == 0);
	conf_errors_free(&errs);
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 1);
	CU_ASSERT_EQUAL(ch.nrefused, 1);
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "parent: changed from fj-xm to fj-qz"));
	CU_ASSERT_EQUAL(ch.v[0].what, CONF_CHG_OTHER);
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

/* listen urls added and removed, by url; control and tls-cert refused. */
static int
urls_differ(const struct conf_child *a, const struct conf_child *b)
{
	size_t i;

	if (a->nadvertise != b->nadvertise)
		return 1;
	for (i = 0; i < a->nadvertise; i++)
		if (strcmp(a->advertise[i].url, b->advertise[i].url) != 0)
			return 1;
	return 0;
}

static void
TEST_listen_live(void)
{
	struct conf_changes ch;
	struct conf *o, *o2, *n;
	const struct conf_change *c;

	setup();
	o = load("old.conf", "fj-xm-b", "data", "listen http://127.0.0.1:4701/\n"
	    "child fj-xm-a {\n\tsecret a.secret\n}\n");
	n = load("new.conf", "fj-xm-b", "data", "listen tcp://127.0.0.1:4702\n"
	    "child fj-xm-a {\n\tsecret a.secret\n}\n");
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 2);
	CU_ASSERT_EQUAL(ch.nrefused, 0);
	c = find(&ch, CONF_CHG_LISTEN_ADDED, "tcp://127.0.0.1:4702");
	CU_ASSERT(c != NULL && c->kind == CONF_CHANGE_LIVE);
	c = find(&ch, CONF_CHG_LISTEN_REMOVED, "http://127.0.0.1:4701/");
	CU_ASSERT(c != NULL && c->kind == CONF_CHANGE_LIVE);
	/* the base listen url is in both: not named */
	CU_ASSERT(find(&ch, CONF_CHG_LISTEN_ADDED, "tcp://127.0.0.1:4700") == NULL);
	CU_ASSERT(find(&ch, CONF_CHG_LISTEN_REMOVED, "tcp://127.0.0.1:4700") == NULL);
	/* the child's advertised urls follow the listen urls by default: not a
	 * change of the child (its session stays) */
	CU_ASSERT(!has(&ch, CONF_CHANGE_LIVE, "fj-xm-a"));
	CU_ASSERT_NOT_EQUAL(urls_differ(conf_child_find(o, "fj-xm-a"),
	    conf_child_find(n, "fj-xm-a")), 0);
	conf_changes_free(&ch);
	conf_free(n);

	/* given ones that change are named, the session left alone */
	o2 = load("old2.conf", "fj-xm-b", "data",
	    "child fj-xm-a {\n\tsecret a.secret\n\tadvertise tcp://192.0.2.1:4700\n}\n");
	n = load("new.conf", "fj-xm-b", "data",
	    "child fj-xm-a {\n\tsecret a.secret\n\tadvertise tcp://192.0.2.2:4700\n}\n");
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o2, n, &ch), 1);
	c = find(&ch, CONF_CHG_CHILD_CHANGED, "fj-xm-a");
	CU_ASSERT(c != NULL && !c->end_sessions);
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "child fj-xm-a: advertised urls changed"));
	conf_changes_free(&ch);
	conf_free(o2);
	conf_free(n);

	n = load("new.conf", "fj-xm-b", "data", "listen http://127.0.0.1:4701/\n"
	    "control ctl.sock\n" "child fj-xm-a {\n\tsecret a.secret\n}\n");
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 1);
	CU_ASSERT_EQUAL(ch.nrefused, 1);
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "control: changed"));
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	teardown();
}

/* Limits read at each use: named as live changes, with both values. */
static void
TEST_limits_live(void)
{
	struct conf_changes ch;
	struct conf *o, *n;

	setup();
	o = load("old.conf", "fj-xm-b", "data", base_clients);
	n = load("new.conf", "fj-xm-b", "data", "push-rate 100\nquota-packets 50\n"
	    "pull-wait 5s\n" "local-delivery direct\n" "max-packet 2M\n");
	memset(&ch, 0, sizeof(ch));
	/* and the three peers of base_clients removed */
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 7);
	CU_ASSERT_EQUAL(ch.nrefused, 0);
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "push-rate: 500 -> 100 (applies at once)"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "quota-packets: 20000 -> 50"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "pull-wait: 25000 ms -> 5000 ms"));
	CU_ASSERT(has(&ch, CONF_CHANGE_LIVE, "local-delivery: changed"));
	/* max-packet is not compared (the http body limit is set at start) */
	CU_ASSERT(!has(&ch, CONF_CHANGE_LIVE, "max-packet"));
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

#ifdef HAVE_LIBPQ
/* audit-sink (audit_sink.c): added, changed or removed takes a restart. */
static void
TEST_audit_sink_restart(void)
{
	struct conf_changes ch;
	struct conf *o, *n, *n2;

	setup();
	o = load("old.conf", "fj-xm-b", "data", "");
	n = load("new.conf", "fj-xm-b", "data", "audit-sink postgresql://h/audit\n");
	n2 = load("new2.conf", "fj-xm-b", "data", "audit-sink postgresql://h2/audit\n");
	CU_ASSERT_FATAL(o != NULL && n != NULL && n2 != NULL);
	CU_ASSERT_STRING_EQUAL(n->audit_sink, "postgresql://h/audit");
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(o, n, &ch), 1);
	CU_ASSERT_EQUAL(ch.nrefused, 1);
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "new.conf:9: audit-sink: changed"));
	conf_changes_free(&ch);
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(n, n2, &ch), 1);
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "new2.conf:9: audit-sink: changed"));
	conf_changes_free(&ch);
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(n, o, &ch), 1);
	CU_ASSERT(has(&ch, CONF_CHANGE_RESTART, "audit-sink: changed"));
	conf_changes_free(&ch);
	memset(&ch, 0, sizeof(ch));
	CU_ASSERT_EQUAL(conf_diff(n, n, &ch), 0);
	conf_changes_free(&ch);
	conf_free(o);
	conf_free(n);
	conf_free(n2);
	teardown();
}
#endif

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
#ifdef HAVE_LIBPQ
	CU_TEST(TEST_audit_sink_restart),
#endif
	CU_TEST(TEST_client_notify_after),
	CU_TEST(TEST_no_change),
	CU_TEST(TEST_clients_live),
	CU_TEST(TEST_carriers),
	CU_TEST(TEST_immutable),
	CU_TEST(TEST_children_live),
	CU_TEST(TEST_parent_live),
	CU_TEST(TEST_listen_live),
	CU_TEST(TEST_limits_live),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("confdiff", tests, argc, argv);
}
