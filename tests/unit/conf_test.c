/*
 * conf_test.c — node/conf.c: every directive and its default, every kind of
 * error with its file:line, includes, hostile files, secrets, the examples
 * in conf/ and the secret generator.
 *
 * Fixtures live in tests/unit/files/conf/. Each test copies them into a
 * fresh temporary directory (git keeps no 0600 modes, and the loader refuses
 * group-writable files) and creates the secret and TLS files there. In the
 * error fixtures, "#!ERR text" marks an error expected on that line and
 * "#!ERR0 text" one about the file as a whole; the loader must report
 * exactly those.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cu.h"
#include "packets.h"
#include "conf.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static char *tmp;

static const char *
srcdir(void)
{
	const char *s = getenv("top_srcdir");

	return s && *s ? s : TOP_SRCDIR;
}

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
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
	close(fd);
}

static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
run(const char *fmt, const char *a, const char *b)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	CU_ASSERT_FATAL(system(cmd) == 0);
}

/* A secret of n bytes, each b, as hex. */
static void
make_secret(const char *name, int b, int n, mode_t mode)
{
	char text[512];
	int i;

	snprintf(text, sizeof(text), "# test secret\n");
	for (i = 0; i < n; i++)
		snprintf(text + strlen(text), 3, "%02x", b);
	strcat(text, "\n");
	write_file(tpath(name), text, mode);
}

/* Fresh copy of the fixtures, with secrets and TLS files beside them. */
static void
setup(void)
{
	tmp = cu_tmpdir("conf");
	CU_ASSERT_FATAL(tmp != NULL);
	run("cp -R '%s/tests/unit/files/conf/.' '%s/'", srcdir(), tmp);
	run("chmod -R u+w,go-w '%s'%s", tmp, "");
	CU_ASSERT_FATAL(mkdir(tpath("secrets"), 0700) == 0);
	CU_ASSERT_FATAL(mkdir(tpath("tls"), 0700) == 0);
	make_secret("secrets/parent.secret", 0x11, 32, 0600);
	make_secret("secrets/child.secret", 0x22, 32, 0600);
	make_secret("secrets/client.secret", 0x33, 20, 0600);
	make_secret("secrets/open.secret", 0x44, 32, 0644);
	make_secret("secrets/short.secret", 0x55, 8, 0600);
	write_file(tpath("secrets/nothex.secret"), "not hex at all\n", 0600);
	write_file(tpath("tls/cert.pem"), "-----BEGIN CERTIFICATE-----\n", 0644);
	write_file(tpath("tls/key.pem"), "-----BEGIN PRIVATE KEY-----\n", 0600);
	write_file(tpath("tls/ca.pem"), "-----BEGIN CERTIFICATE-----\n", 0644);
}

static void
teardown(void)
{
	cu_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

/* Loads tmp/name; returns conf_load's result. */
static int
load(const char *name, struct conf **c, struct conf_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
	return conf_load(tpath(name), c, errs);
}

static void
dump(const struct conf_errors *errs)
{
	conf_errors_print(errs, stderr);
}

/* The error at file:line whose message holds text, or NULL. */
static const struct conf_error *
find_err(const struct conf_errors *errs, const char *file, int line, const char *text)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		if (strcmp(errs->v[i].file, file) == 0 && errs->v[i].line == line &&
		    strstr(errs->v[i].msg, text) != NULL)
			return &errs->v[i];
	return NULL;
}

static void
expect_err(const struct conf_errors *errs, const char *file, int line, const char *text)
{
	if (find_err(errs, file, line, text) == NULL) {
		fprintf(stderr, "expected %s:%d: ...%s... among:\n", file, line, text);
		dump(errs);
		CU_FAIL("expected error missing");
	}
}

/*
 * Collects "#!ERR text" marks from the files listed, then checks that the
 * load reported each of them (at the file and line of the mark) and nothing
 * else. Returns the number of marks.
 */
static int
check_marks(const struct conf_errors *errs, const char *const *files)
{
	int marks = 0, line, zero;
	char *text, *p, *e, save;

	for (; *files; files++) {
		const char *path = tpath(*files);

		text = read_text(path);
		CU_ASSERT_FATAL(text != NULL);
		line = 1;
		for (p = text; *p; p++) {
			if (*p == '\n') {
				line++;
				continue;
			}
			if (strncmp(p, "#!ERR", 5) != 0)
				continue;
			zero = p[5] == '0';
			p += zero ? 6 : 5;
			while (*p == ' ')
				p++;
			e = p + strcspn(p, "\n");
			if ((e = strstr(p, "#!ERR")) == NULL || e > p + strcspn(p, "\n"))
				e = p + strcspn(p, "\n");
			while (e > p && e[-1] == ' ')
				e--;
			save = *e;
			*e = '\0';
			expect_err(errs, path, zero ? 0 : line, p);
			marks++;
			*e = save;
			p = e - 1;
		}
		free(text);
	}
	if ((size_t)marks != errs->n) {
		fprintf(stderr, "%d marks but %zu errors:\n", marks, errs->n);
		dump(errs);
	}
	CHECK_EQ(errs->n, marks);
	CHECK_EQ(errs->dropped, 0);
	return marks;
}

/* Loads name, which must fail with exactly the marked errors of files. */
static void
check_fixture(const char *name, const char *const *files)
{
	struct conf_errors errs;
	struct conf *c = (struct conf *)1;

	setup();
	CHECK_EQ(load(name, &c, &errs), -1);
	CU_ASSERT(c == NULL);
	CU_ASSERT(check_marks(&errs, files) > 0);
	conf_errors_free(&errs);
	teardown();
}

static void
check_key(const struct conf_secret *s, int b, size_t n)
{
	size_t i;

	CHECK_EQ(s->len, n);
	for (i = 0; i < n && i < sizeof(s->key); i++)
		CHECK_EQ(s->key[i], b);
}

/* ------------------------------------------------------------ good files */

static void
TEST_every_directive(void)
{
	struct conf_errors errs;
	const struct conf_child *ch;
	const struct conf_parent *pa;
	struct conf *c;

	setup();
	if (load("full.conf", &c, &errs) != 0)
		dump(&errs);
	CU_ASSERT_FATAL(c != NULL);
	CHECK_EQ(errs.n, 0);
	CU_ASSERT_STRING_EQUAL(c->node, "fj-xm-siming");
	CHECK_EQ(c->role, CONF_ROLE_NODE);
	CU_ASSERT_STRING_EQUAL(c->data_dir, tpath("data"));
	CHECK_EQ(c->journal_map_size, 128ULL << 20);
	CHECK_EQ(c->journal_max_size, 2ULL << 30);
	CHECK_EQ(c->journal_disk_floor, 512ULL << 20);
	CHECK_EQ(c->sync, 0);
	CHECK_EQ(c->retention_ms, 7LL * 86400 * 1000);
	CHECK_EQ(c->local_delivery, CONF_DELIVERY_DIRECT);
	CHECK_EQ(c->audit_copy, 1);
	CHECK_EQ(c->allow_plain, 1);
	CU_ASSERT_STRING_EQUAL(c->tls_cert, tpath("tls/cert.pem"));
	CU_ASSERT_STRING_EQUAL(c->tls_key, tpath("tls/key.pem"));
	CU_ASSERT_STRING_EQUAL(c->tls_ca, tpath("tls/ca.pem"));
	CU_ASSERT_STRING_EQUAL(c->control, "/run/cascade/control.sock");
	CHECK_EQ(c->max_packet, 512 * 1024);
	CHECK_EQ(c->max_batch, 64);
	CHECK_EQ(c->pull_wait_ms, 1500);
	CHECK_EQ(c->session_idle_ms, 120000);

	CHECK_EQ(c->nlisten, 4);
	CU_ASSERT_FATAL(c->nlisten == 4);
	CHECK_EQ(c->listen[0].scheme, CONF_URL_TLS_TCP);
	CHECK_EQ(c->listen[0].carrier, CONF_CARRIER_TCP);
	CHECK_EQ(c->listen[0].tls, 1);
	CU_ASSERT_STRING_EQUAL(c->listen[0].host, "0.0.0.0");
	CHECK_EQ(c->listen[0].port, 4700);
	CHECK_EQ(c->listen[0].where.line, 12);
	CU_ASSERT_STRING_EQUAL(c->listen[0].where.file, tpath("full.conf"));
	CHECK_EQ(c->listen[1].scheme, CONF_URL_HTTPS);
	CU_ASSERT_STRING_EQUAL(c->listen[1].url, "https://[::1]:4780/cascade");
	CU_ASSERT_STRING_EQUAL(c->listen[1].host, "::1");
	CU_ASSERT_STRING_EQUAL(c->listen[1].path, "/cascade");
	CHECK_EQ(c->listen[1].carrier, CONF_CARRIER_HTTP);
	CHECK_EQ(c->listen[2].scheme, CONF_URL_TCP);
	CHECK_EQ(c->listen[2].tls, 0);
	CHECK_EQ(c->listen[3].scheme, CONF_URL_HTTP);
	CU_ASSERT_STRING_EQUAL(c->listen[3].host, "");
	CU_ASSERT_STRING_EQUAL(c->listen[3].path, "/");
	CHECK_EQ(c->listen[3].port, 4781);

	pa = c->parent;
	CU_ASSERT_FATAL(pa != NULL);
	CU_ASSERT_STRING_EQUAL(pa->id, "fj-xm");
	CHECK_EQ(pa->where.line, 26);
	CHECK_EQ(pa->nurls, 2);
	CHECK_EQ(pa->urls[0].scheme, CONF_URL_TLS_TCP);
	CU_ASSERT_STRING_EQUAL(pa->urls[0].host, "fj-xm.example.org");
	CHECK_EQ(pa->urls[1].scheme, CONF_URL_HTTPS);
	CHECK_EQ(pa->urls[1].where.line, 28);
	CHECK_EQ(pa->transport, CONF_TRANSPORT_TCP);
	CU_ASSERT_STRING_EQUAL(pa->secret.path, tpath("secrets/parent.secret"));
	check_key(&pa->secret, 0x11, 32);
	CU_ASSERT_STRING_EQUAL(pa->ca, tpath("tls/ca.pem"));
	CU_ASSERT_STRING_EQUAL(pa->proxy, "http://proxy.example.org:3128");
	CHECK_EQ(pa->reconnect_min_ms, 500);
	CHECK_EQ(pa->reconnect_max_ms, 120000);
	CHECK_EQ(pa->dead_timeout_ms, 3600000);
	CHECK_EQ(pa->push_window, 8);

	CHECK_EQ(c->nchildren, 1);
	ch = conf_child_find(c, "fj-xm-siming-gly");
	CU_ASSERT_FATAL(ch != NULL);
	CHECK_EQ(ch->where.line, 38);
	check_key(&ch->secret, 0x22, 32);
	CHECK_EQ(ch->carriers, CONF_CARRIER_HTTP);
	CHECK_EQ(ch->prefer, CONF_CARRIER_HTTP);
	CHECK_EQ(ch->nclaims, 3);
	CU_ASSERT_STRING_EQUAL(ch->claims[2], "fj-xm-siming-[ab]?");
	CHECK_EQ(conf_child_may_claim(ch, "fj-xm-siming-gly"), 1);
	CHECK_EQ(conf_child_may_claim(ch, "fj-xm-siming-gly-clinic3"), 1);
	CHECK_EQ(conf_child_may_claim(ch, "fj-xm-siming-a7"), 1);
	CHECK_EQ(conf_child_may_claim(ch, "fj-xm-siming-c7"), 0);
	CHECK_EQ(conf_child_may_claim(ch, "fj-xm-huli"), 0);
	CHECK_EQ(ch->nadvertise, 2);
	CU_ASSERT_STRING_EQUAL(ch->advertise[0].url, "https://siming.example.org:4780/cascade");
	CHECK_EQ(ch->advertise[1].scheme, CONF_URL_TLS_TCP);

	CHECK_EQ(c->nclients, 2);
	CU_ASSERT(conf_client_find(c, "dr-lin") != NULL);
	CU_ASSERT(conf_client_find(c, "dr-wu") == NULL);
	CU_ASSERT(conf_child_find(c, "dr-lin") == NULL);
	CHECK_EQ(conf_client_find(c, "dr-lin")->carriers, CONF_CARRIER_TCP);
	check_key(&conf_client_find(c, "dr-lin")->secret, 0x33, 20);
	CHECK_EQ(conf_client_find(c, "his.server_01")->carriers,
	    CONF_CARRIER_TCP | CONF_CARRIER_HTTP);
	CHECK_EQ(conf_client_find(c, "his.server_01")->where.line, 51);
	/* a client's own offline-notify-after; 0 for the others: the node's */
	CHECK_EQ(conf_client_find(c, "his.server_01")->offline_notify_after_ms, 2 * 3600 * 1000LL);
	CHECK_EQ(conf_client_find(c, "dr-lin")->offline_notify_after_ms, 0);
	CHECK_EQ(c->nfiles, 1);
	conf_free(c);
	teardown();
}

static void
TEST_defaults(void)
{
	struct conf_errors errs;
	const struct conf_child *ch;
	struct conf *c;

	setup();
	if (load("minimal.conf", &c, &errs) != 0)
		dump(&errs);
	CU_ASSERT_FATAL(c != NULL);
	CHECK_EQ(c->role, CONF_ROLE_NODE);
	CHECK_EQ(c->journal_map_size, 64ULL << 20);
	CHECK_EQ(c->journal_max_size, 0);
	CHECK_EQ(c->journal_disk_floor, 256ULL << 20);
	CHECK_EQ(c->sync, 1);
	CHECK_EQ(c->retention_ms, 30LL * 86400 * 1000);
	CHECK_EQ(c->local_delivery, CONF_DELIVERY_VIA_MASTER);
	CHECK_EQ(c->audit_copy, 0);
	CHECK_EQ(c->allow_plain, 0);
	CU_ASSERT(c->tls_ca == NULL);
	CU_ASSERT_STRING_EQUAL(c->control, "/var/lib/cascade/control.sock");
	CHECK_EQ(c->max_packet, 1024 * 1024);
	CHECK_EQ(c->max_batch, 256);
	CHECK_EQ(c->pull_wait_ms, 25000);
	CHECK_EQ(c->session_idle_ms, 60000);
	CU_ASSERT_FATAL(c->parent != NULL);
	CHECK_EQ(c->parent->transport, CONF_TRANSPORT_AUTO);
	CU_ASSERT(c->parent->proxy == NULL);
	CHECK_EQ(c->parent->reconnect_min_ms, 1000);
	CHECK_EQ(c->parent->reconnect_max_ms, 60000);
	CHECK_EQ(c->parent->dead_timeout_ms, 30000);
	CHECK_EQ(c->parent->push_window, 4);
	ch = conf_child_find(c, "fj-xm-siming-gly");
	CU_ASSERT_FATAL(ch != NULL);
	CHECK_EQ(ch->carriers, CONF_CARRIER_TCP | CONF_CARRIER_HTTP);
	CHECK_EQ(ch->prefer, CONF_CARRIER_TCP);
	CHECK_EQ(ch->nclaims, 1);
	CU_ASSERT_STRING_EQUAL(ch->claims[0], "fj-xm-siming-gly");
	CHECK_EQ(conf_child_may_claim(ch, "fj-xm-siming-gly"), 1);
	CHECK_EQ(conf_child_may_claim(ch, "fj-xm-siming-gly-x"), 0);
	/* advertise defaults to the node's own listen urls */
	CHECK_EQ(ch->nadvertise, 1);
	CU_ASSERT_STRING_EQUAL(ch->advertise[0].url, "tls+tcp://0.0.0.0:4700");
	CHECK_EQ(c->clients[0].carriers, CONF_CARRIER_TCP | CONF_CARRIER_HTTP);
	CU_ASSERT_STRING_EQUAL(conf_carriers_str(c->clients[0].carriers), "tcp http");
	conf_free(c);

	/* The master needs no parent, and nothing else but its id and data-dir. */
	CHECK_EQ(load("master.conf", &c, &errs), 0);
	CU_ASSERT_FATAL(c != NULL);
	CHECK_EQ(c->role, CONF_ROLE_MASTER);
	CU_ASSERT(c->parent == NULL);
	CHECK_EQ(c->nlisten + c->nchildren + c->nclients, 0);
	conf_free(c);

	/* A UTF-8 byte order mark and CRLF line ends (Windows editors) are fine;
	 * comments may be in any language. */
	write_file(tpath("bom.conf"), "\xef\xbb\xbfnode fj-xm\r\n# 厦门市 — 思明区\r\n"
	    "role master\r\ndata-dir \"/var/lib/cascade db\"\r\n", 0600);
	CHECK_EQ(load("bom.conf", &c, &errs), 0);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_STRING_EQUAL(c->node, "fj-xm");
	CU_ASSERT_STRING_EQUAL(c->data_dir, "/var/lib/cascade db");
	CU_ASSERT_STRING_EQUAL(c->control, "/var/lib/cascade db/control.sock");
	conf_free(c);
	teardown();
}

/* ------------------------------------------------------------ errors */

static void
TEST_bad_values(void)
{
	static const char *const f[] = { "errors-values.conf", NULL };

	check_fixture(f[0], f);
}

static void
TEST_bad_blocks(void)
{
	static const char *const f[] = { "errors-blocks.conf", NULL };

	check_fixture(f[0], f);
}

static void
TEST_master_and_parent(void)
{
	static const char *const f1[] = { "errors-master.conf", NULL };
	static const char *const f2[] = { "errors-parent.conf", NULL };
	static const char *const f3[] = { "errors-transport.conf", NULL };

	check_fixture(f1[0], f1);
	check_fixture(f2[0], f2);
	check_fixture(f3[0], f3);
}

static void
TEST_plain_and_tls(void)
{
	static const char *const f[] = { "errors-plain.conf", NULL };

	check_fixture(f[0], f);
}

static void
TEST_secret_refused(void)
{
	static const char *const f[] = { "errors-secrets.conf", NULL };

	check_fixture(f[0], f);
}

static void
TEST_include_errors(void)
{
	static const char *const f[] = { "errors-include.conf", "loop-a.conf", "loop-b.conf",
	    "self-loop.conf", NULL };

	check_fixture(f[0], f);
}

static void
TEST_braces(void)
{
	static const char *const f1[] = { "unterminated.conf", NULL };
	static const char *const f2[] = { "brace-alone.conf", NULL };

	check_fixture(f1[0], f1);
	check_fixture(f2[0], f2);
}

static void
TEST_three_errors(void)
{
	struct conf_errors errs;
	const struct conf_error *e;
	char want[4200];
	struct conf *c;
	const char *f;

	setup();
	CHECK_EQ(load("errors-three.conf", &c, &errs), -1);
	f = tpath("errors-three.conf");
	CHECK_EQ(errs.n, 3);
	expect_err(&errs, f, 4, "max-batch: bad value \"lots\"");
	expect_err(&errs, f, 12, "unknown directive \"keepalive\"");
	snprintf(want, sizeof(want), "defined twice (first at %s:14)", f);
	expect_err(&errs, f, 17, want);
	/* text is ready to print: file:line: message */
	e = find_err(&errs, f, 12, "keepalive");
	CU_ASSERT_FATAL(e != NULL);
	snprintf(want, sizeof(want), "%s:12: unknown directive \"keepalive\"", f);
	CU_ASSERT_STRING_EQUAL(e->text, want);
	conf_errors_free(&errs);
	CHECK_EQ(errs.n, 0);
	teardown();
}

static void
TEST_config_writable_by_others(void)
{
	struct conf_errors errs;
	struct conf *c;

	setup();
	CU_ASSERT_FATAL(chmod(tpath("minimal.conf"), 0664) == 0);
	CHECK_EQ(load("minimal.conf", &c, &errs), -1);
	CHECK_EQ(errs.n, 1);
	expect_err(&errs, tpath("minimal.conf"), 0, "writable by group or others (mode 0664)");
	conf_errors_free(&errs);

	/* An included file is refused the same way, named at the include line. */
	CU_ASSERT_FATAL(chmod(tpath("incl.d/20-b.conf"), 0646) == 0);
	CHECK_EQ(load("incl-dir.conf", &c, &errs), -1);
	CHECK_EQ(errs.n, 1);
	expect_err(&errs, tpath("incl-dir.conf"), 6, "20-b.conf: writable by group or others");
	conf_errors_free(&errs);

	/* A missing main file is one error, not a cascade of missing directives. */
	CHECK_EQ(load("no-such.conf", &c, &errs), -1);
	CHECK_EQ(errs.n, 1);
	expect_err(&errs, tpath("no-such.conf"), 0, "No such file or directory");
	conf_errors_free(&errs);
	teardown();
}

/* ------------------------------------------------------------ hostile files */

static void
TEST_binary_garbage(void)
{
	struct conf_errors errs;
	struct conf *c;
	size_t i;

	setup();
	CHECK_EQ(load("garbage.conf", &c, &errs), -1);
	CU_ASSERT(c == NULL);
	CU_ASSERT(errs.n >= 1 && errs.n <= CONF_MAX_ERRORS);
	for (i = 0; i < errs.n; i++)
		CU_ASSERT(strstr(errs.v[i].text, tpath("garbage.conf")) == errs.v[i].text);
	CU_ASSERT(find_err(&errs, tpath("garbage.conf"), 0, "no node id") != NULL);
	conf_errors_free(&errs);
	teardown();
}

/* Random bytes without NULs: never a crash, a bounded number of errors. */
static void
TEST_random_garbage(void)
{
	struct conf_errors errs;
	unsigned seed = 7;
	char buf[3000];
	struct conf *c;
	int round;
	size_t i;

	setup();
	for (round = 0; round < 300; round++) {
		size_t n = 1 + (size_t)(rand_r(&seed) % (sizeof(buf) - 1));

		for (i = 0; i < n; i++) {
			int r = rand_r(&seed) % 16;

			/* bias towards the parser's own alphabet */
			buf[i] = r < 4 ? " {}\n"[r] : r < 6 ? "\"#"[r - 4] : r < 10 ?
			    "node child url listen"[rand_r(&seed) % 21] :
			    (char)(1 + rand_r(&seed) % 255);
		}
		buf[n] = '\0';
		write_file(tpath("random.conf"), buf, 0600);
		c = NULL;
		CHECK_EQ(load("random.conf", &c, &errs), -1);
		CU_ASSERT(c == NULL);
		CU_ASSERT(errs.n >= 1 && errs.n <= CONF_MAX_ERRORS);
		conf_errors_free(&errs);
	}
	teardown();
}

static void
TEST_long_line(void)
{
	struct conf_errors errs;
	struct conf *c;

	setup();
	CHECK_EQ(load("long-line.conf", &c, &errs), -1);
	CHECK_EQ(errs.n, 1);
	expect_err(&errs, tpath("long-line.conf"), 3, "line too long (5015 bytes");
	conf_errors_free(&errs);
	teardown();
}

/* A file with more than MAX_FILE_ERRORS mistakes stops, and says so. */
static void
TEST_error_cap(void)
{
	struct conf_errors errs;
	char text[8192] = "";
	struct conf *c;
	int i;

	setup();
	for (i = 0; i < 200; i++)
		strcat(text, "bogus x\n");
	write_file(tpath("many.conf"), text, 0600);
	CHECK_EQ(load("many.conf", &c, &errs), -1);
	CU_ASSERT(errs.n > 20 && errs.n < 30);
	expect_err(&errs, tpath("many.conf"), 1, "unknown directive \"bogus\"");
	CU_ASSERT(find_err(&errs, tpath("many.conf"), 50, "bogus") == NULL);
	CU_ASSERT(find_err(&errs, tpath("many.conf"), 20, "the rest of this file is skipped")
	    != NULL);
	conf_errors_free(&errs);
	teardown();
}

/* ------------------------------------------------------------ includes */

static void
TEST_include_directory(void)
{
	struct conf_errors errs;
	struct conf *c;

	setup();
	if (load("incl-dir.conf", &c, &errs) != 0)
		dump(&errs);
	CU_ASSERT_FATAL(c != NULL);
	/* 10-a.conf before 20-b.conf; notes.txt and .hidden.conf are not read */
	CHECK_EQ(c->nchildren, 2);
	CU_ASSERT_FATAL(c->nchildren == 2);
	CU_ASSERT_STRING_EQUAL(c->children[0].id, "fj-xm-a");
	CU_ASSERT_STRING_EQUAL(c->children[0].where.file, tpath("incl.d/10-a.conf"));
	CHECK_EQ(c->children[0].where.line, 2);
	CU_ASSERT_STRING_EQUAL(c->children[0].secret.path, tpath("incl.d/../secrets/child.secret"));
	check_key(&c->children[0].secret, 0x22, 32);
	CHECK_EQ(c->children[0].nclaims, 2);
	CU_ASSERT_STRING_EQUAL(c->children[1].id, "fj-xm-b");
	CU_ASSERT_STRING_EQUAL(c->children[1].where.file, tpath("incl.d/20-b.conf"));
	CHECK_EQ(c->nclients, 1);
	CHECK_EQ(c->clients[0].where.line, 4);
	CHECK_EQ(c->nfiles, 3);
	CU_ASSERT_STRING_EQUAL(c->files[0], tpath("incl-dir.conf"));
	conf_free(c);

	/* A child defined twice across files names the first definition. */
	CHECK_EQ(load("dup-incl.conf", &c, &errs), -1);
	CHECK_EQ(errs.n, 1);
	{
		char want[4200];

		snprintf(want, sizeof(want), "child fj-xm-a: defined twice (first at %s:6)",
		    tpath("dup-incl.conf"));
		expect_err(&errs, tpath("incl.d/10-a.conf"), 2, want);
	}
	conf_errors_free(&errs);

	/* An error inside an included file carries that file's name and line. */
	write_file(tpath("incl.d/15-bad.conf"), "\n\nclient bad {\n\tsecrett x\n}\n", 0644);
	CHECK_EQ(load("incl-dir.conf", &c, &errs), -1);
	expect_err(&errs, tpath("incl.d/15-bad.conf"), 4, "unknown directive \"secrett\"");
	expect_err(&errs, tpath("incl.d/15-bad.conf"), 3, "client bad: no secret");
	CHECK_EQ(errs.n, 2);
	conf_errors_free(&errs);
	teardown();
}

static void
TEST_include_glob(void)
{
	struct conf_errors errs;
	struct conf *c;

	setup();
	if (load("incl-glob.conf", &c, &errs) != 0)
		dump(&errs);
	CU_ASSERT_FATAL(c != NULL);
	CHECK_EQ(c->nchildren, 1);
	CU_ASSERT_STRING_EQUAL(c->children[0].id, "fj-xm-b");
	CHECK_EQ(c->nclients, 1);
	CHECK_EQ(c->nfiles, 2);
	conf_free(c);
	teardown();
}

static void
TEST_include_depth(void)
{
	struct conf_errors errs;
	char name[64], text[128];
	struct conf *c;
	int i;

	setup();
	write_file(tpath("d0.conf"), "node fj\nrole master\ndata-dir /x\ninclude d1.conf\n",
	    0600);
	for (i = 1; i < 30; i++) {
		snprintf(name, sizeof(name), "d%d.conf", i);
		snprintf(text, sizeof(text), "# depth %d\ninclude d%d.conf\n", i, i + 1);
		write_file(tpath(name), text, 0600);
	}
	write_file(tpath("d30.conf"), "sync yes\n", 0600);
	CHECK_EQ(load("d0.conf", &c, &errs), -1);
	CHECK_EQ(errs.n, 1);
	snprintf(name, sizeof(name), "d%d.conf", CONF_MAX_INCLUDE_DEPTH);
	expect_err(&errs, tpath(name), 2, "nested more than 16 deep");
	conf_errors_free(&errs);
	teardown();
}

/* ------------------------------------------------------------ examples */

/*
 * Installs conf/NAME the way an operator would, under tmp/etc/cascade
 * instead of /etc/cascade, creating every secret and TLS file it names.
 */
static void
install_example(const char *name, const char *as)
{
	char src[4096], dst[4096], root[4096], *text, *p, *out;
	size_t n = 0;

	snprintf(src, sizeof(src), "%s/conf/%s", srcdir(), name);
	text = read_text(src);
	CU_ASSERT_FATAL(text != NULL);
	snprintf(root, sizeof(root), "%s/etc/cascade", tmp);
	out = malloc(strlen(text) * 4 + 1);
	CU_ASSERT_FATAL(out != NULL);
	for (p = text; *p; ) {
		if (strncmp(p, "/etc/cascade", 12) == 0) {
			size_t len = strcspn(p, " \t\n\"#");
			char *file;

			CU_ASSERT_FATAL(asprintf(&file, "%s%.*s", root, (int)(len - 12),
			    p + 12) > 0);
			if (strstr(file, ".secret") || strstr(file, ".pem") ||
			    strstr(file, ".key") || strstr(file, ".crt")) {
				run("mkdir -p \"$(dirname '%s')\"%s", file, "");
				if (access(file, F_OK) != 0) {
					if (strstr(file, ".secret")) {
						write_file(file, "0123456789abcdef0123456789abcdef\n",
						    0600);
					} else if (strstr(file, "/journal-")) {
						write_file(file, "0123456789abcdef0123456789abcdef"
						    "0123456789abcdef0123456789abcdef\n", 0600);
					} else
						write_file(file, "pem\n", 0600);
				}
			}
			free(file);
			memcpy(out + n, root, strlen(root));
			n += strlen(root);
			p += 12;
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	snprintf(dst, sizeof(dst), "%s/%s", root, as);
	run("mkdir -p \"$(dirname '%s')\"%s", dst, "");
	write_file(dst, out, 0644);
	free(out);
	free(text);
}

static struct conf *
load_example(const char *as)
{
	struct conf_errors errs;
	char path[4096];
	struct conf *c = NULL;

	snprintf(path, sizeof(path), "%s/etc/cascade/%s", tmp, as);
	memset(&errs, 0, sizeof(errs));
	if (conf_load(path, &c, &errs) != 0) {
		fprintf(stderr, "example %s:\n", as);
		dump(&errs);
	}
	CHECK_EQ(errs.n, 0);
	conf_errors_free(&errs);
	return c;
}

static void
TEST_examples(void)
{
	struct conf *c;

	setup();
	install_example("master.conf", "master/cascade.conf");
	c = load_example("master/cascade.conf");
	CU_ASSERT_FATAL(c != NULL);
	CHECK_EQ(c->role, CONF_ROLE_MASTER);
	CU_ASSERT(c->parent == NULL);
	CU_ASSERT(conf_child_find(c, "fj") != NULL);
	/* the master indexes its event log and anchors it hourly by default */
	CHECK_EQ(c->audit_index, 1);
	CHECK_EQ(c->audit_anchor_ms, 60 * 60 * 1000);
	conf_free(c);

	install_example("province.conf", "province/cascade.conf");
	c = load_example("province/cascade.conf");
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_STRING_EQUAL(c->node, "fj");
	CU_ASSERT_FATAL(c->parent != NULL);
	CU_ASSERT(conf_child_find(c, "fj-xm") != NULL);
	CHECK_EQ(conf_child_may_claim(conf_child_find(c, "fj-xm"), "fj-xm-siming"), 1);
	CHECK_EQ(conf_child_may_claim(conf_child_find(c, "fj-xm"), "fj-fz-gulou"), 0);
	/* other nodes: neither, unless asked */
	CHECK_EQ(c->audit_index, 0);
	CHECK_EQ(c->audit_anchor_ms, 0);
	conf_free(c);

	install_example("city.conf", "city/cascade.conf");
	c = load_example("city/cascade.conf");
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_STRING_EQUAL(c->node, "fj-xm");
	CU_ASSERT(conf_child_find(c, "fj-xm-siming") != NULL);
	conf_free(c);

	install_example("county.conf", "cascade.conf");
	install_example("county/links.d/fj-xm-siming-gulangyu.conf",
	    "links.d/fj-xm-siming-gulangyu.conf");
	install_example("county/links.d/dr-lin.conf", "links.d/dr-lin.conf");
	install_example("county/links.d/his.conf", "links.d/his.conf");
	c = load_example("cascade.conf");
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_STRING_EQUAL(c->node, "fj-xm-siming");
	CHECK_EQ(c->nchildren, 1);
	CHECK_EQ(c->nclients, 2);
	CHECK_EQ(c->nfiles, 4);
	CHECK_EQ(c->journal_keys.n, 1);
	conf_free(c);
	teardown();
}

/* ------------------------------------------------------------ secrets */

static void
TEST_gen_secret_child(void)
{
	struct conf_errors errs;
	char err[512], path[4096], *out = NULL, *blk, *end;
	uint8_t key[64];
	struct stat st;
	size_t outlen = 0;
	struct conf *c;
	FILE *f;
	int n;

	setup();
	CU_ASSERT_FATAL(mkdir(tpath("gen"), 0700) == 0);
	f = open_memstream(&out, &outlen);
	CU_ASSERT_FATAL(f != NULL);
	CHECK_EQ(conf_gen_secret("child", "fj-xm-siming-new", tpath("gen"), f, err,
	    sizeof(err)), 0);
	fclose(f);
	snprintf(path, sizeof(path), "%s", tpath("gen/fj-xm-siming-new.secret"));
	CU_ASSERT_FATAL(stat(path, &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	n = csecret_load(path, key, sizeof(key), err, sizeof(err));
	CHECK_EQ(n, CONF_SECRET_GEN_LEN);
	CU_ASSERT(strstr(out, "child fj-xm-siming-new {") != NULL);
	CU_ASSERT(strstr(out, "\tclaim fj-xm-siming-new\n") != NULL);
	CU_ASSERT(strstr(out, "parent ") != NULL);
	CU_ASSERT(strstr(out, "\turl ") != NULL);
	CU_ASSERT(strstr(out, path) != NULL);

	/* The printed child block, pasted into the parent's config, loads. */
	blk = strstr(out, "child fj-xm-siming-new {");
	CU_ASSERT_FATAL(blk != NULL);
	end = strstr(blk, "}\n");
	CU_ASSERT_FATAL(end != NULL);
	end[2] = '\0';
	{
		char text[8192];

		snprintf(text, sizeof(text), "node fj-xm-siming\nrole master\ndata-dir /x\n"
		    "allow-plain yes\nlisten tcp://127.0.0.1:4700\n%s", blk);
		write_file(tpath("pasted.conf"), text, 0600);
	}
	free(out);
	out = NULL;
	CHECK_EQ(load("pasted.conf", &c, &errs), 0);
	CU_ASSERT_FATAL(c != NULL);
	CHECK_EQ(c->children[0].secret.len, CONF_SECRET_GEN_LEN);
	CU_ASSERT(memcmp(c->children[0].secret.key, key, CONF_SECRET_GEN_LEN) == 0);
	CHECK_EQ(conf_child_may_claim(&c->children[0], "fj-xm-siming-new"), 1);

	/* With the node's config at hand, the lines name the node and its urls. */
	f = open_memstream(&out, &outlen);
	CHECK_EQ(conf_gen_secret_for(c, "child", "fj-xm-siming-two", tpath("gen"), f, err,
	    sizeof(err)), 0);
	fclose(f);
	CU_ASSERT(strstr(out, "parent fj-xm-siming {") != NULL);
	CU_ASSERT(strstr(out, "\turl tcp://127.0.0.1:4700\n") != NULL);
	free(out);
	out = NULL;
	conf_free(c);

	/* Never overwritten. */
	f = open_memstream(&out, &outlen);
	CHECK_EQ(conf_gen_secret("child", "fj-xm-siming-new", tpath("gen"), f, err,
	    sizeof(err)), -1);
	fclose(f);
	CU_ASSERT(strstr(err, "refusing to overwrite") != NULL);
	CHECK_EQ(outlen, 0);
	free(out);
	out = NULL;
	CHECK_EQ(csecret_load(path, key + 32, 32, err, sizeof(err)), CONF_SECRET_GEN_LEN);
	CU_ASSERT(memcmp(key, key + 32, 32) == 0);
	teardown();
}

static void
TEST_gen_secret_client(void)
{
	char err[512], *out = NULL;
	struct stat st;
	size_t outlen = 0;
	FILE *f;

	setup();
	f = open_memstream(&out, &outlen);
	CHECK_EQ(conf_gen_secret("client", "dr-lin.desk_2", tmp, f, err, sizeof(err)), 0);
	fclose(f);
	CU_ASSERT_FATAL(stat(tpath("dr-lin.desk_2.secret"), &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CU_ASSERT(strstr(out, "client dr-lin.desk_2 {\n\tsecret ") != NULL);
	CU_ASSERT(strstr(out, "address  NODE-ID/dr-lin.desk_2") != NULL);
	CU_ASSERT(strstr(out, tpath("dr-lin.desk_2.secret")) != NULL);
	free(out);
	out = NULL;

	/* Bad kind, bad ids, missing directory: nothing written. */
	f = open_memstream(&out, &outlen);
	CHECK_EQ(conf_gen_secret("peer", "x", tmp, f, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "expected child or client") != NULL);
	CHECK_EQ(conf_gen_secret("child", "Bad_Id", tmp, f, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "Bad_Id") != NULL);
	CHECK_EQ(conf_gen_secret("client", "../evil", tmp, f, err, sizeof(err)), -1);
	CHECK_EQ(conf_gen_secret("client", "ok", tpath("no-such-dir"), f, err, sizeof(err)),
	    -1);
	CU_ASSERT(strstr(err, "no-such-dir") != NULL);
	fclose(f);
	CHECK_EQ(outlen, 0);
	free(out);
	CU_ASSERT(access(tpath("Bad_Id.secret"), F_OK) != 0);
	CU_ASSERT(access(tpath("x.secret"), F_OK) != 0);
	teardown();
}

/* A load that fails leaves errs usable across loads: errors accumulate. */
static void
TEST_errors_accumulate(void)
{
	struct conf_errors errs;
	struct conf *c;

	setup();
	memset(&errs, 0, sizeof(errs));
	CHECK_EQ(conf_load(tpath("errors-three.conf"), &c, &errs), -1);
	CHECK_EQ(errs.n, 3);
	CHECK_EQ(conf_load(tpath("minimal.conf"), &c, &errs), 0);
	CU_ASSERT(c != NULL);
	conf_free(c);
	CHECK_EQ(errs.n, 3);
	CHECK_EQ(conf_load(tpath("long-line.conf"), &c, &errs), -1);
	CHECK_EQ(errs.n, 4);
	conf_errors_free(&errs);
	conf_free(NULL);
	teardown();
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_every_directive),
	CU_TEST(TEST_defaults),
	CU_TEST(TEST_bad_values),
	CU_TEST(TEST_bad_blocks),
	CU_TEST(TEST_master_and_parent),
	CU_TEST(TEST_plain_and_tls),
	CU_TEST(TEST_secret_refused),
	CU_TEST(TEST_include_errors),
	CU_TEST(TEST_braces),
	CU_TEST(TEST_three_errors),
	CU_TEST(TEST_config_writable_by_others),
	CU_TEST(TEST_binary_garbage),
	CU_TEST(TEST_random_garbage),
	CU_TEST(TEST_long_line),
	CU_TEST(TEST_error_cap),
	CU_TEST(TEST_include_directory),
	CU_TEST(TEST_include_glob),
	CU_TEST(TEST_include_depth),
	CU_TEST(TEST_examples),
	CU_TEST(TEST_gen_secret_child),
	CU_TEST(TEST_gen_secret_client),
	CU_TEST(TEST_errors_accumulate),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("conf", tests, argc, argv);
}
