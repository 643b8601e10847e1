/*
 * journal_sync_test.c — the journal's durability contract, seen from the
 * system calls: with sync on, every journal_commit_batch / journal_ack
 * (and the other writers) syncs the data file and then writes the meta page
 * through LMDB's O_DSYNC descriptor before it returns; with sync off it does
 * neither; NOSYNC-kind flags are refused while sync is on.
 *
 * The calls are observed by syncshim.so (tests/unit/syncshim.c). This
 * program re-executes itself with it in LD_PRELOAD (the path comes from
 * $SYNCSHIM_SO or the build tree); if the shim still is not there, every
 * test fails rather than passing without having looked.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "cu.h"
#include "journal.h"

#ifndef SYNCSHIM_SO
#define SYNCSHIM_SO "tests/unit/.libs/syncshim.so"
#endif

/* syncshim's read side (see syncshim.c for the kinds and classes). */
static unsigned long (*ss_count)(void);
static int (*ss_event)(unsigned long, int *, int *, int *);

#define SS_MAX 65536            /* SYNCSHIM_MAX in syncshim.c */

static const char *node = "county-a";

/* --------------------------------------------------------------- helpers */

static int
shim_loaded(void)
{
	ss_count = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "syncshim_count");
	ss_event = (int (*)(unsigned long, int *, int *, int *))dlsym(RTLD_DEFAULT,
	    "syncshim_event");
	return ss_count != NULL && ss_event != NULL;
}

/* What one window of the log holds. */
struct win {
	unsigned long from, to;
	unsigned syncs;         /* fdatasync/fsync on the data file */
	unsigned metas;         /* writes on the O_DSYNC data descriptor */
	unsigned pages;         /* writes on the plain data descriptor */
	unsigned other;         /* any other sync, msync or recorded write */
	unsigned failed;        /* failed syncs */
	long last_page;         /* index of the last page write, -1: none */
	long sync_after;        /* the first data-file sync after it, -1: none */
	long last_meta;         /* the last meta write, -1: none */
};

static void
win_open(struct win *w)
{
	memset(w, 0, sizeof(*w));
	CU_ASSERT_FATAL(ss_count != NULL);
	w->from = ss_count();
}

static void
win_close(struct win *w)
{
	unsigned long i;
	int kind, fd, cls;

	w->to = ss_count();
	w->last_page = w->sync_after = w->last_meta = -1;
	CU_ASSERT_FATAL(w->to - w->from < SS_MAX);
	for (i = w->from; i < w->to; i++) {
		CU_ASSERT_EQUAL_FATAL(ss_event(i, &kind, &fd, &cls), 0);
		switch (kind) {
		case 'F':
		case 'S':
			if (cls == 'd') {
				w->syncs++;
				if (w->sync_after < 0)
					w->sync_after = (long)i;
			} else
				w->other++;
			break;
		case 'W':
			if (cls == 'D') {
				w->metas++;
				w->last_meta = (long)i;
			} else if (cls == 'd') {
				w->pages++;
				w->last_page = (long)i;
				w->sync_after = -1;
			} else
				w->other++;
			break;
		case 'f':
		case 's':
		case 'm':
			w->failed++;
			break;
		case 'M':
			w->other++;
			break;
		default:
			break;
		}
	}
}

/*
 * A durable commit: pages written, then the data file synced, then the meta
 * page written through O_DSYNC. The sync must come after the last page
 * write and before the last meta write: otherwise a crash could leave a
 * meta page pointing at pages that never reached the disk.
 */
static void
expect_durable(const struct win *w, const char *what)
{
	int ok = w->syncs >= 1 && w->metas >= 1 && w->failed == 0 &&
	    w->sync_after >= 0 && w->last_meta > w->sync_after;

	if (!ok)
		fprintf(stderr, "%s: not durable: %u syncs of the data file, %u meta writes "
		    "(O_DSYNC), %u page writes, %u failed; last page write #%ld, first sync "
		    "after it #%ld, last meta write #%ld\n", what, w->syncs, w->metas, w->pages,
		    w->failed, w->last_page, w->sync_after, w->last_meta);
	CU_ASSERT(ok);
}

static void
expect_no_sync(const struct win *w, const char *what)
{
	int ok = w->syncs == 0 && w->metas == 0 && w->other == 0 && w->failed == 0;

	if (!ok)
		fprintf(stderr, "%s: sync off, yet %u syncs, %u O_DSYNC writes, %u others\n",
		    what, w->syncs, w->metas, w->other);
	CU_ASSERT(ok);
}

static struct journal *
open_j(const char *dir, int sync)
{
	struct journal_opts o;
	struct journal *j = NULL;
	char err[512];
	int rc;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node_id = node;
	o.map_size = 16 * 1024 * 1024;
	o.sync = sync;
	rc = journal_open(&j, &o, err, sizeof(err));
	if (rc)
		fprintf(stderr, "open %s: %s\n", dir, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	return j;
}

/* Packets with their own storage. */
struct tp {
	Cascade__Packet p;
	Cascade__Hop hop;
	Cascade__Hop *hops[1];
	uint8_t id[CID_LEN];
	uint8_t payload[256];
};

static void
tp_init(struct tp *t, unsigned salt)
{
	Cascade__Packet p = CASCADE__PACKET__INIT;
	Cascade__Hop h = CASCADE__HOP__INIT;

	t->p = p;
	t->hop = h;
	CU_ASSERT_EQUAL_FATAL(cid_next(t->id), 0);
	memset(t->payload, (int)(salt & 0xff), sizeof(t->payload));
	t->p.version = 1;
	t->p.id.data = t->id;
	t->p.id.len = CID_LEN;
	t->p.src = "county-a/dr-lin";
	t->p.dst = "city-b/dr-wang";
	t->p.command = "consult.request";
	t->p.payload.data = t->payload;
	t->p.payload.len = 16 + salt % (sizeof(t->payload) - 16);
	t->p.ttl_ms = 60000;
	t->hop.node = "county-a";
	t->hops[0] = &t->hop;
	t->p.trace = t->hops;
	t->p.n_trace = 1;
}

/*
 * Commits n packets of t into qid (fresh ones, or t again when !fresh),
 * watching the call; returns its rc.
 */
static int
commit_n(struct journal *j, uint32_t qid, struct tp *t, unsigned n, int fresh,
    struct win *w)
{
	struct jitem *it = calloc(n, sizeof(*it));
	struct jbatch b;
	unsigned i;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(it);
	for (i = 0; i < n; i++) {
		if (fresh)
			tp_init(&t[i], i * 37 + n);
		it[i].pkt = &t[i].p;
		it[i].queues[0] = qid;
		it[i].nqueues = 1;
	}
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = it;
	b.n = n;
	b.now_ms = cnow_ms();
	win_open(w);
	rc = journal_commit_batch(j, &b);
	win_close(w);
	if (rc)
		fprintf(stderr, "commit of %u: %s\n", n, journal_errmsg(j));
	if (rc == 0)
		CHECK_EQ(fresh ? b.accepted : b.duplicates, n);
	free(it);
	return rc;
}

/* ----------------------------------------------------------------- tests */

/*
 * The shim is really there and really sees both the test's own calls and
 * LMDB's: without this the other tests could pass on an empty log.
 */
static void
TEST_shim_intercepts(void)
{
	char *dir = cu_tmpdir("jsync"), path[512], note[32];
	struct win w;
	struct journal *j;
	struct tp t[1];
	uint32_t qid;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	if (!shim_loaded())
		fprintf(stderr, "syncshim is not preloaded (LD_PRELOAD=%s): nothing can be "
		    "observed\n", getenv("SYNCSHIM_SO") ? getenv("SYNCSHIM_SO") : SYNCSHIM_SO);
	CU_ASSERT_FATAL(ss_count != NULL && ss_event != NULL);

	/* our own calls: a data.mdb opened with O_DSYNC, written and synced */
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	win_open(&w);
	fd = open(path, O_WRONLY | O_CREAT | O_DSYNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	memset(note, 'x', sizeof(note));
	CU_ASSERT_EQUAL(pwrite(fd, note, sizeof(note), 0), (ssize_t)sizeof(note));
	CU_ASSERT_EQUAL(write(fd, note, sizeof(note)), (ssize_t)sizeof(note));
	CU_ASSERT_EQUAL(fdatasync(fd), 0);
	CU_ASSERT_EQUAL(fsync(fd), 0);
	close(fd);
	win_close(&w);
	CHECK_EQ(w.metas, 2);           /* the two writes on an O_DSYNC data file */
	CHECK_EQ(w.other, 2);           /* its syncs: not on the plain data descriptor */
	CHECK_EQ(w.syncs, 0);
	/* a plain descriptor of the same file: its sync counts as the data file's */
	win_open(&w);
	fd = open(path, O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, note, sizeof(note), 0), (ssize_t)sizeof(note));
	CU_ASSERT_EQUAL(fdatasync(fd), 0);
	close(fd);
	win_close(&w);
	CHECK_EQ(w.pages, 1);
	CHECK_EQ(w.syncs, 1);
	CHECK_EQ(w.metas, 0);
	unlink(path);

	/* LMDB's calls: one durable commit leaves a trace */
	j = open_j(dir, 1);
	CHECK_RC(journal_queue(j, "child:city-b", JQ_LINK, &qid), journal_strerror);
	CHECK_RC(commit_n(j, qid, t, 1, 1, &w), journal_strerror);
	CU_ASSERT(w.syncs > 0);
	CU_ASSERT(w.metas > 0);
	CU_ASSERT(w.pages > 0);
	expect_durable(&w, "first commit");
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* Every batch, whatever its size, and a batch of duplicates (it logs events). */
static void
TEST_commit_durable(void)
{
	static const unsigned sizes[] = { 1, 2, 3, 7, 16, 31, 64, 100, 1, 5 };
	char *dir = cu_tmpdir("jsync"), what[64];
	struct tp *t = calloc(100, sizeof(*t));
	struct journal *j;
	struct jbatch b;
	struct jitem it[4];
	struct win w;
	uint32_t q1, q2;
	unsigned i, k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_FATAL(shim_loaded());
	j = open_j(dir, 1);
	CHECK_RC(journal_queue(j, "up", JQ_LINK, &q1), journal_strerror);
	CHECK_RC(journal_queue(j, "client:county-a/dr-lin", JQ_CLIENT, &q2), journal_strerror);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			CHECK_RC(commit_n(j, k == 1 ? q2 : q1, t, sizes[i], 1, &w),
			    journal_strerror);
			snprintf(what, sizeof(what), "batch of %u (round %u)", sizes[i], k);
			expect_durable(&w, what);
		}
	}
	/* the last batch again: all duplicates, DUPLICATE events committed */
	CHECK_RC(commit_n(j, q1, t, 5, 0, &w), journal_strerror);
	expect_durable(&w, "batch of duplicates");

	/* a stream batch (marks move) putting each packet in two queues */
	memset(&b, 0, sizeof(b));
	memset(it, 0, sizeof(it));
	for (i = 0; i < 4; i++) {
		tp_init(&t[i], i);
		it[i].pkt = &t[i].p;
		it[i].seq = 10 + i;
		it[i].queues[0] = q1;
		it[i].queues[1] = q2;
		it[i].nqueues = 2;
	}
	it[3].reject = CASCADE__REASON__REASON_UNROUTABLE;   /* a REJECTED event too */
	b.peer = "child:clinic-7";
	b.epoch = 0x1234;
	b.first_seq = 10;
	b.last_seq = 13;
	b.items = it;
	b.n = 4;
	b.now_ms = cnow_ms();
	win_open(&w);
	CHECK_RC(journal_commit_batch(j, &b), journal_strerror);
	win_close(&w);
	CHECK_EQ(b.accepted, 3);
	CHECK_EQ(b.rejected, 1);
	CHECK_EQ(b.mark, 13);
	expect_durable(&w, "stream batch");
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
	free(t);
}

static void
TEST_ack_durable(void)
{
	char *dir = cu_tmpdir("jsync"), what[64];
	struct tp *t = calloc(64, sizeof(*t));
	struct jqueue_info qi;
	struct journal *j;
	struct win w;
	uint32_t q1, q2;
	uint64_t upto;
	unsigned n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_FATAL(shim_loaded());
	j = open_j(dir, 1);
	CHECK_RC(journal_queue(j, "child:city-b", JQ_LINK, &q1), journal_strerror);
	CHECK_RC(journal_queue(j, "client:county-a/dr-lin", JQ_CLIENT, &q2), journal_strerror);
	CHECK_RC(commit_n(j, q1, t, 64, 1, &w), journal_strerror);
	CHECK_RC(commit_n(j, q2, t, 64, 1, &w), journal_strerror);
	/* one by one, then in steps, then the rest: each ack its own durable commit */
	for (upto = 1; upto <= 64; upto += upto < 4 ? 1 : upto < 20 ? 5 : 22) {
		win_open(&w);
		CHECK_RC(journal_ack(j, q1, upto, (uint64_t)cnow_ms(), &n), journal_strerror);
		win_close(&w);
		CU_ASSERT(n > 0);
		snprintf(what, sizeof(what), "ack of link queue up to %llu",
		    (unsigned long long)upto);
		expect_durable(&w, what);
	}
	win_open(&w);
	CHECK_RC(journal_ack(j, q2, 64, (uint64_t)cnow_ms(), &n), journal_strerror);
	win_close(&w);
	CHECK_EQ(n, 64);
	expect_durable(&w, "ack of a whole client queue");
	CHECK_RC(journal_queue_info(j, q2, &qi), journal_strerror);
	CHECK_EQ(qi.depth, 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
	free(t);
}

/* The other writers commit durably too (journal.h: "every commit"). */
static void
TEST_other_writes_durable(void)
{
	char *dir = cu_tmpdir("jsync");
	struct journal *j;
	struct jevent ev;
	struct win w;
	uint64_t mark;
	uint32_t qid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_FATAL(shim_loaded());
	j = open_j(dir, 1);
	win_open(&w);
	CHECK_RC(journal_queue(j, "child:city-b", JQ_LINK, &qid), journal_strerror);
	win_close(&w);
	expect_durable(&w, "queue creation");

	memset(&ev, 0, sizeof(ev));
	ev.type = JEV_NOTE;
	ev.time_ms = cnow_ms();
	ev.text = "durability test";
	win_open(&w);
	CHECK_RC(journal_log(j, &ev), journal_strerror);
	win_close(&w);
	expect_durable(&w, "journal_log");

	win_open(&w);
	CHECK_RC(journal_mark_resolve(j, "child:clinic-9", 77, 5, &mark), journal_strerror);
	win_close(&w);
	CHECK_EQ(mark, 4);
	expect_durable(&w, "mark_resolve");

	win_open(&w);
	CHECK_RC(journal_meta_put(j, "routes:city-b", "x", 1), journal_strerror);
	win_close(&w);
	expect_durable(&w, "meta_put");
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* With sync off nothing is synced and the meta page goes the plain way. */
static void
TEST_sync_off_no_sync(void)
{
	char *dir = cu_tmpdir("jsync");
	struct tp *t = calloc(64, sizeof(*t));
	struct journal *j;
	struct win w;
	uint32_t qid;
	unsigned n, i, pages = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_FATAL(shim_loaded());
	j = open_j(dir, 0);
	CHECK_RC(journal_queue(j, "child:city-b", JQ_LINK, &qid), journal_strerror);
	for (i = 1; i <= 64; i *= 4) {
		CHECK_RC(commit_n(j, qid, t, i, 1, &w), journal_strerror);
		expect_no_sync(&w, "commit");
		pages += w.pages;
	}
	/* the shim did see the commits write: a silent log proves nothing */
	CU_ASSERT(pages > 0);
	win_open(&w);
	CHECK_RC(journal_ack(j, qid, 10, (uint64_t)cnow_ms(), &n), journal_strerror);
	win_close(&w);
	CHECK_EQ(n, 10);
	expect_no_sync(&w, "ack");
	CU_ASSERT(w.pages > 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
	free(t);
}

/* NOSYNC kinds are refused with sync on, accepted with sync off. */
static void
TEST_refuses_nosync_flags(void)
{
	static const unsigned bad[] = { MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC,
	    MDB_NOSYNC | MDB_NOMETASYNC, MDB_NOMETASYNC | MDB_NOTLS };
	char *dir = cu_tmpdir("jsync"), err[512];
	struct journal_opts o;
	struct journal *j;
	unsigned i;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node_id = node;
	o.map_size = 4 * 1024 * 1024;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.sync = 1;
		o.env_flags = bad[i];
		j = (struct journal *)(void *)&o;       /* must come back NULL */
		err[0] = '\0';
		rc = journal_open(&j, &o, err, sizeof(err));
		CHECK_EQ(rc, JOURNAL_BAD_OPTS);
		CU_ASSERT_PTR_NULL(j);
		CU_ASSERT(err[0] != '\0');

		/* the same flags are a test's business when sync is off */
		o.sync = 0;
		j = NULL;
		rc = journal_open(&j, &o, err, sizeof(err));
		if (rc)
			fprintf(stderr, "sync off with flags %#x: %s\n", bad[i], err);
		CHECK_EQ(rc, 0);
		journal_close(j);
	}
	/* no MDB_WRITEMAP, sync or not: its msync path is not the one we check */
	o.env_flags = MDB_WRITEMAP;
	for (o.sync = 0; o.sync <= 1; o.sync++) {
		j = NULL;
		CHECK_EQ(journal_open(&j, &o, err, sizeof(err)), JOURNAL_BAD_OPTS);
		CU_ASSERT_PTR_NULL(j);
	}
	/* and the default, durable, opens */
	o.env_flags = 0;
	o.sync = 1;
	j = NULL;
	CHECK_EQ(journal_open(&j, &o, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(j);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* ------------------------------------------------------------------ main */

/* Re-executes this program with syncshim.so preloaded, once. */
static void
preload_shim(char **argv)
{
	const char *so = getenv("SYNCSHIM_SO"), *old = getenv("LD_PRELOAD");
	char *pre;

	if (shim_loaded() || getenv("JOURNAL_SYNC_TEST_REEXEC") != NULL)
		return;
	if (so == NULL || *so == '\0')
		so = SYNCSHIM_SO;
	if (access(so, R_OK) != 0) {
		fprintf(stderr, "journal_sync_test: %s: %s (build tests/unit/syncshim.la)\n",
		    so, strerror(errno));
		return;
	}
	if (old != NULL && *old != '\0') {
		if (asprintf(&pre, "%s:%s", so, old) < 0)
			return;
	} else if ((pre = strdup(so)) == NULL)
		return;
	setenv("LD_PRELOAD", pre, 1);
	setenv("JOURNAL_SYNC_TEST_REEXEC", "1", 1);
	free(pre);
	/* an ASan build insists on its runtime coming first: the shim comes first */
	if ((old = getenv("ASAN_OPTIONS")) == NULL || strstr(old, "verify_asan_link_order") == NULL) {
		if (asprintf(&pre, "%s%sverify_asan_link_order=0", old ? old : "",
		    old && *old ? ":" : "") >= 0) {
			setenv("ASAN_OPTIONS", pre, 1);
			free(pre);
		}
	}
	execv("/proc/self/exe", argv);
	fprintf(stderr, "journal_sync_test: re-exec: %s\n", strerror(errno));
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_shim_intercepts),
	CU_TEST(TEST_commit_durable),
	CU_TEST(TEST_ack_durable),
	CU_TEST(TEST_other_writes_durable),
	CU_TEST(TEST_sync_off_no_sync),
	CU_TEST(TEST_refuses_nosync_flags),
	CU_END
};

int
main(int argc, char **argv)
{
	preload_shim(argv);
	/* a child process (rm -rf in cu_rmtree) need not load the shim */
	unsetenv("LD_PRELOAD");
	return cu_main("journal_sync", tests, argc, argv);
}
