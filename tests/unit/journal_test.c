/* journal_test.c — the LMDB journal: open, batches, marks, queues, events. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "cu.h"
#include "journal.h"
#include "jtest.h"

#define RC(expr) CHECK_RC(expr, journal_strerror)

/* Rewrites one value of a named database with the raw LMDB API. */
static void
raw_put(const char *dir, const char *db, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;

	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, db, 0, &dbi), 0);
	k.mv_size = klen;
	k.mv_data = (void *)key;
	v.mv_size = vlen;
	v.mv_data = (void *)val;
	CU_ASSERT_EQUAL_FATAL(mdb_put(txn, dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Reads one value (copied into buf, at most len bytes); returns its size. */
static size_t
raw_get(const char *dir, const char *db, const void *key, size_t klen, void *buf, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, db, 0, &dbi), 0);
	k.mv_size = klen;
	k.mv_data = (void *)key;
	CU_ASSERT_EQUAL_FATAL(mdb_get(txn, dbi, &k, &v), 0);
	n = v.mv_size < len ? v.mv_size : len;
	memcpy(buf, v.mv_data, n);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return v.mv_size;
}

static void
TEST_open_reopen(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jqueue_info qi;
	struct jstats st;
	uint32_t q1, q2;

	j = jt_open(dir);
	RC(journal_stats(j, &st));
	CHECK_EQ(st.format, JOURNAL_FORMAT);
	CHECK_EQ(st.packets, 0);
	CHECK_EQ(st.events, 0);
	RC(journal_queue(j, "up", JQ_LINK, &q1));
	journal_close(j);

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q2));
	CHECK_EQ(q1, q2);
	RC(journal_queue_info(j, q1, &qi));
	CU_ASSERT_STRING_EQUAL(qi.name, "up");
	CHECK_EQ(qi.kind, JQ_LINK);
	CU_ASSERT(qi.epoch != 0);
	journal_close(j);
	journal_close(NULL);

	/* A directory that cannot be created is reported with its name. */
	{
		struct journal_opts o;
		char err[256], path[512];

		snprintf(path, sizeof(path), "%s/data.mdb/sub", dir);
		jt_opts(&o, path);
		CU_ASSERT(journal_open(&j, &o, err, sizeof(err)) != 0);
		CU_ASSERT_PTR_NULL(j);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	}
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_node_mismatch(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal_opts o;
	struct journal *j;
	char err[512];

	j = jt_open(dir);
	journal_close(j);
	jt_opts(&o, dir);
	o.node_id = "city-b";
	CHECK_EQ(journal_open(&j, &o, err, sizeof(err)), JOURNAL_BAD_NODE);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "county-a"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, dir));
	/* the right node still opens it */
	o.node_id = "county-a";
	RC(journal_open(&j, &o, err, sizeof(err)));
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_format_version(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal_opts o;
	struct journal *j;
	struct jstats st;
	uint8_t fmt[4], got[4];
	char err[512];

	j = jt_open(dir);
	journal_close(j);
	CHECK_EQ(raw_get(dir, "meta", "format", 6, got, sizeof(got)), 4);
	CHECK_EQ(got[3], JOURNAL_FORMAT);

	/* written by a newer cascade: refused, with a message that says so */
	memset(fmt, 0, sizeof(fmt));
	fmt[3] = JOURNAL_FORMAT + 1;
	raw_put(dir, "meta", "format", 6, fmt, 4);
	jt_opts(&o, dir);
	CHECK_EQ(journal_open(&j, &o, err, sizeof(err)), JOURNAL_FORMAT_NEWER);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "newer"));

	/* an older format still opens and is reported as such */
	fmt[3] = JOURNAL_FORMAT - 1;
	raw_put(dir, "meta", "format", 6, fmt, 4);
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_stats(j, &st));
	CHECK_EQ(st.format, JOURNAL_FORMAT - 1);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_sync_flags(void)
{
	const unsigned bad[] = { MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC };
	char *dir = cu_tmpdir("journal");
	struct journal_opts o;
	struct journal *j;
	struct jevent ev;
	char err[512];
	unsigned i;

	jt_opts(&o, dir);
	o.sync = 1;
	for (i = 0; i < 3; i++) {
		o.env_flags = bad[i];
		CHECK_EQ(journal_open(&j, &o, err, sizeof(err)), JOURNAL_BAD_OPTS);
		CU_ASSERT_PTR_NULL(j);
	}
	o.env_flags = MDB_WRITEMAP;
	CHECK_EQ(journal_open(&j, &o, err, sizeof(err)), JOURNAL_BAD_OPTS);
	o.env_flags = MDB_NOSUBDIR;
	CHECK_EQ(journal_open(&j, &o, err, sizeof(err)), JOURNAL_BAD_OPTS);

	/* sync on, no such flag: opens and commits */
	o.env_flags = 0;
	RC(journal_open(&j, &o, err, sizeof(err)));
	memset(&ev, 0, sizeof(ev));
	ev.type = JEV_STARTED;
	ev.time_ms = 1;
	RC(journal_log(j, &ev));
	journal_close(j);

	/* sync off: the flag is allowed */
	o.sync = 0;
	o.env_flags = MDB_NOMETASYNC;
	RC(journal_open(&j, &o, err, sizeof(err)));
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static int
find_accepted(const struct jevent *ev, void *arg)
{
	struct jevent *want = arg;

	if (ev->type == JEV_ACCEPTED && memcmp(ev->id, want->id, CID_LEN) == 0) {
		want->seq = ev->seq;
		want->ntrace = ev->ntrace;
		want->reason = strcmp(ev->src, "county-a/dr-lin") == 0 &&
		    strcmp(ev->dst, "city-b/dr-wang") == 0 && strcmp(ev->peer, "child:a") == 0 &&
		    ev->ntrace == 1 && strcmp(ev->trace[0], "county-a") == 0;
		memcpy(want->hash, ev->payload_sha, CSHA256_LEN);
		return 1;
	}
	return 0;
}

static void
TEST_commit_batch(void)
{
	char *dir = cu_tmpdir("journal");
	struct tpkt t[3];
	struct jitem it[3];
	struct jbatch b;
	struct jevent want;
	struct journal *j;
	struct jqueue_info qi;
	struct jkey key;
	uint8_t *bytes, sha[CSHA256_LEN];
	size_t len, plen;
	int64_t acc;
	uint32_t q;
	unsigned i;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	memset(it, 0, sizeof(it));
	for (i = 0; i < 3; i++) {
		tpkt_init(&t[i], "county-a/dr-lin", "city-b/dr-wang", 100 + i);
		it[i].pkt = &t[i].p;
		it[i].seq = i + 1;
		it[i].queues[0] = q;
		it[i].nqueues = 1;
	}
	memset(&b, 0, sizeof(b));
	b.peer = "child:a";
	b.epoch = 0x1234;
	b.first_seq = 1;
	b.last_seq = 3;
	b.items = it;
	b.n = 3;
	b.now_ms = 5000;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(b.accepted, 3);
	CHECK_EQ(b.mark, 3);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(it[i].result, JR_ACCEPTED);
		CHECK_EQ(it[i].qseq[0], i + 1);
	}
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 3);
	CHECK_EQ(qi.next_seq, 4);

	/* stored as encoded, with its acceptance time */
	memcpy(key.id, t[1].id, CID_LEN);
	key.leg = JLEG_UP;
	RC(journal_packet_get(j, &key, &bytes, &len, &acc));
	plen = cascade__packet__get_packed_size(&t[1].p);
	CHECK_EQ(len, plen);
	CHECK_EQ(acc, 5000);
	{
		Cascade__Packet *p = cascade__packet__unpack(NULL, len, bytes);

		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CHECK_EQ(p->payload.len, 101);
		CU_ASSERT(memcmp(p->payload.data, t[1].payload, 101) == 0);
		cascade__packet__free_unpacked(p, NULL);
	}
	free(bytes);
	key.leg = JLEG_DOWN;
	CHECK_EQ(journal_packet_get(j, &key, &bytes, &len, NULL), JOURNAL_NOT_FOUND);

	/* ACCEPTED logged with peer, src, dst, trace and the payload's hash */
	CHECK_EQ(jt_events(j, JEV_ACCEPTED), 3);
	memset(&want, 0, sizeof(want));
	memcpy(want.id, t[2].id, CID_LEN);
	RC(journal_events(j, 1, find_accepted, &want));
	CHECK_EQ(want.seq, 3);
	CHECK_EQ(want.reason, 1);
	csha256(t[2].payload, 102, sha);
	CU_ASSERT(memcmp(want.hash, sha, CSHA256_LEN) == 0);
	for (i = 0; i < 3; i++)
		tpkt_free(&t[i]);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_duplicates(void)
{
	char *dir = cu_tmpdir("journal");
	struct tpkt t;
	struct jitem it[2];
	struct jbatch b;
	struct journal *j;
	struct jstats st;
	uint32_t q;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	tpkt_init(&t, "county-a/dr-lin", "city-b/dr-wang", 50);
	memset(it, 0, sizeof(it));
	it[0].pkt = &t.p;
	it[0].queues[0] = q;
	it[0].nqueues = 1;
	it[1] = it[0];          /* the same (id, leg) twice in one batch */
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = it;
	b.n = 2;
	b.now_ms = 1;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(it[0].result, JR_ACCEPTED);
	CHECK_EQ(it[1].result, JR_DUPLICATE);
	CHECK_EQ(b.accepted, 1);
	CHECK_EQ(b.duplicates, 1);

	/* again in a later batch */
	b.n = 1;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(it[0].result, JR_DUPLICATE);
	CHECK_EQ(jt_events(j, JEV_DUPLICATE), 2);

	/* the same id on the other leg is another packet */
	it[0].leg = JLEG_DOWN;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(it[0].result, JR_ACCEPTED);
	CHECK_EQ(it[0].qseq[0], 2);
	RC(journal_stats(j, &st));
	CHECK_EQ(st.packets, 2);
	CHECK_EQ(st.queued, 2);
	tpkt_free(&t);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* A stream batch of packets with seqs seq[0..n-1] covering first..last. */
static int
stream_batch(struct journal *j, uint64_t epoch, uint64_t first, uint64_t last,
    const uint64_t *seq, unsigned n, uint32_t q, struct jbatch *b, struct jitem *it)
{
	struct tpkt t[16];
	unsigned i;
	int rc;

	memset(it, 0, n * sizeof(*it));
	for (i = 0; i < n; i++) {
		tpkt_init(&t[i], "clinic-x/app", "master/audit", 20);
		it[i].pkt = &t[i].p;
		it[i].seq = seq[i];
		it[i].queues[0] = q;
		it[i].nqueues = 1;
	}
	memset(b, 0, sizeof(*b));
	b->peer = "child:clinic-x";
	b->epoch = epoch;
	b->first_seq = first;
	b->last_seq = last;
	b->items = it;
	b->n = n;
	b->now_ms = 10;
	rc = journal_commit_batch(j, b);
	for (i = 0; i < n; i++)
		tpkt_free(&t[i]);
	return rc;
}

static void
TEST_epochs_marks(void)
{
	char *dir = cu_tmpdir("journal");
	const uint64_t s1[] = { 5, 6, 7 }, s2[] = { 6, 7, 8, 9 }, s3[] = { 11 };
	struct jitem it[4];
	struct jbatch b;
	struct journal *j;
	uint64_t mark;
	uint32_t q;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	CHECK_EQ(journal_mark_get(j, "child:clinic-x", 77, &mark), JOURNAL_NOT_FOUND);
	/* unknown epoch: lowest unacked - 1 */
	RC(journal_mark_resolve(j, "child:clinic-x", 77, 5, &mark));
	CHECK_EQ(mark, 4);
	RC(journal_mark_get(j, "child:clinic-x", 77, &mark));
	CHECK_EQ(mark, 4);
	/* known now: a second resolve does not move it */
	RC(journal_mark_resolve(j, "child:clinic-x", 77, 9, &mark));
	CHECK_EQ(mark, 4);
	/* another peer with the same epoch is another stream */
	CHECK_EQ(journal_mark_get(j, "child:other", 77, &mark), JOURNAL_NOT_FOUND);
	RC(journal_mark_resolve(j, "child:fresh", 78, 0, &mark));
	CHECK_EQ(mark, 0);

	RC(stream_batch(j, 77, 5, 7, s1, 3, q, &b, it));
	CHECK_EQ(b.mark, 7);
	CHECK_EQ(b.accepted, 3);

	/* overlap: 6 and 7 were committed already */
	RC(stream_batch(j, 77, 6, 9, s2, 4, q, &b, it));
	CHECK_EQ(it[0].result, JR_SKIPPED);
	CHECK_EQ(it[1].result, JR_SKIPPED);
	CHECK_EQ(it[2].result, JR_ACCEPTED);
	CHECK_EQ(it[3].result, JR_ACCEPTED);
	CHECK_EQ(b.accepted, 2);
	CHECK_EQ(b.mark, 9);

	/* the stream covers 10..12 with one packet: the mark ends at last_seq */
	RC(stream_batch(j, 77, 10, 12, s3, 1, q, &b, it));
	CHECK_EQ(b.mark, 12);
	RC(journal_mark_get(j, "child:clinic-x", 77, &mark));
	CHECK_EQ(mark, 12);

	/* a batch of an epoch never resolved starts its mark below itself */
	RC(stream_batch(j, 99, 40, 40, (const uint64_t[]){ 40 }, 1, q, &b, it));
	CHECK_EQ(b.mark, 40);
	CHECK_EQ(it[0].result, JR_ACCEPTED);
	journal_close(j);

	/* marks survive a reopen */
	j = jt_open(dir);
	RC(journal_mark_get(j, "child:clinic-x", 77, &mark));
	CHECK_EQ(mark, 12);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_out_of_order(void)
{
	char *dir = cu_tmpdir("journal");
	const uint64_t s1[] = { 1, 2, 3 }, s2[] = { 5, 6 };
	struct jitem it[3];
	struct jbatch b;
	struct journal *j;
	struct jstats before, after;
	uint64_t mark;
	uint32_t q;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(journal_mark_resolve(j, "child:clinic-x", 5, 1, &mark));
	RC(stream_batch(j, 5, 1, 3, s1, 3, q, &b, it));
	CHECK_EQ(b.mark, 3);
	RC(journal_stats(j, &before));
	/* 4 is missing: overtaken by this one */
	CHECK_EQ(stream_batch(j, 5, 5, 6, s2, 2, q, &b, it), JOURNAL_OUT_OF_ORDER);
	CHECK_EQ(b.mark, 3);
	RC(journal_stats(j, &after));
	CHECK_EQ(after.packets, before.packets);
	CHECK_EQ(after.queued, before.queued);
	CHECK_EQ(after.events, before.events);
	RC(journal_mark_get(j, "child:clinic-x", 5, &mark));
	CHECK_EQ(mark, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(journal_errmsg(j), "mark is 3"));
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* Group commit: three batches in one transaction, one of them overtaking. */
static void
TEST_group_commit(void)
{
	char *dir = cu_tmpdir("journal");
	struct tpkt t[7];
	struct jitem it[7];
	struct jbatch b[3], *bs[3] = { &b[0], &b[1], &b[2] };
	struct journal *j;
	struct jqueue_info qi;
	uint64_t mark;
	uint32_t q;
	int rcs[3], i;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	memset(it, 0, sizeof(it));
	memset(b, 0, sizeof(b));
	for (i = 0; i < 7; i++) {
		tpkt_init(&t[i], "clinic-x/app", "master/audit", 20);
		it[i].pkt = &t[i].p;
		it[i].queues[0] = q;
		it[i].nqueues = 1;
	}
	/* stream 9: seqs 1-3, then 4-5 in the next batch of the same group */
	for (i = 0; i < 5; i++)
		it[i].seq = (uint64_t)i + 1;
	b[0] = (struct jbatch){ .peer = "child:clinic-x", .epoch = 9, .first_seq = 1,
	    .last_seq = 3, .items = &it[0], .n = 3, .now_ms = 10 };
	b[1] = (struct jbatch){ .peer = "child:clinic-x", .epoch = 9, .first_seq = 4,
	    .last_seq = 5, .items = &it[3], .n = 2, .now_ms = 10 };
	/* stream 8 already at mark 0: a batch from 5 overtook 1-4 */
	RC(journal_mark_resolve(j, "child:clinic-y", 8, 1, &mark));
	it[5].seq = 5;
	it[6].seq = 6;
	b[2] = (struct jbatch){ .peer = "child:clinic-y", .epoch = 8, .first_seq = 5,
	    .last_seq = 6, .items = &it[5], .n = 2, .now_ms = 10 };
	RC(journal_commit_batches(j, bs, 3, rcs));
	CHECK_EQ(rcs[0], 0);
	CHECK_EQ(rcs[1], 0);
	CHECK_EQ(rcs[2], JOURNAL_OUT_OF_ORDER);
	CHECK_EQ(b[0].mark, 3);
	CHECK_EQ(b[1].mark, 5);
	CHECK_EQ(b[2].mark, 0);
	for (i = 0; i < 5; i++)
		CHECK_EQ(it[i].result, JR_ACCEPTED);
	CHECK_EQ(it[4].qseq[0], 5);
	RC(journal_mark_get(j, "child:clinic-x", 9, &mark));
	CHECK_EQ(mark, 5);
	RC(journal_mark_get(j, "child:clinic-y", 8, &mark));
	CHECK_EQ(mark, 0);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 5);
	CHECK_EQ(jt_events(j, JEV_ACCEPTED), 5);
	{
		uint64_t count, bad;

		RC(journal_verify(j, &count, &bad));
	}
	for (i = 0; i < 7; i++)
		tpkt_free(&t[i]);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/*
 * Group commit with acks: a batch, the ack of an inbox with a receipt-like
 * local packet and a second batch in one transaction; then a group whose
 * ack is beyond the queue's end, which goes piece by piece: the batches
 * commit, the ack alone fails with JOURNAL_RANGE.
 */
static void
TEST_group_commit_with_acks(void)
{
	char *dir = cu_tmpdir("journal");
	struct tpkt t[4];
	struct jitem it[4];
	struct jbatch b[3];
	struct jack a[2];
	struct jwork ws[3];
	struct journal *j;
	struct jqueue_info qi;
	uint32_t inbox, up;
	int i;

	j = jt_open(dir);
	RC(journal_queue(j, "client:county-a/dr-lin", JQ_CLIENT, &inbox));
	RC(journal_queue(j, "up", JQ_LINK, &up));
	CHECK_EQ(jt_insert(j, inbox, 3, 16, 10, 0, NULL), 0);
	memset(it, 0, sizeof(it));
	memset(b, 0, sizeof(b));
	memset(a, 0, sizeof(a));
	for (i = 0; i < 4; i++) {
		tpkt_init(&t[i], "county-a/dr-lin", "city-b/dr-wang", 20);
		it[i].pkt = &t[i].p;
		it[i].queues[0] = up;
		it[i].nqueues = 1;
	}
	b[0] = (struct jbatch){ .peer = "", .items = &it[0], .n = 1, .now_ms = 20 };
	b[1] = (struct jbatch){ .peer = "", .items = &it[1], .n = 1, .now_ms = 20 };
	b[2] = (struct jbatch){ .peer = "", .items = &it[2], .n = 1, .now_ms = 20 };
	a[0] = (struct jack){ .qid = inbox, .upto = 2, .now_ms = 20, .with = &b[1] };
	ws[0] = (struct jwork){ .batch = &b[0] };
	ws[1] = (struct jwork){ .ack = &a[0] };
	ws[2] = (struct jwork){ .batch = &b[2] };
	RC(journal_commit_group(j, ws, 3));
	CHECK_EQ(ws[0].rc, 0);
	CHECK_EQ(ws[1].rc, 0);
	CHECK_EQ(ws[2].rc, 0);
	CHECK_EQ(a[0].nacked, 2);
	CHECK_EQ(a[0].together, 1);
	CHECK_EQ(it[1].result, JR_ACCEPTED);
	RC(journal_queue_info(j, inbox, &qi));
	CHECK_EQ(qi.acked_seq, 2);
	CHECK_EQ(qi.depth, 1);
	RC(journal_queue_info(j, up, &qi));
	CHECK_EQ(qi.depth, 3);
	CHECK_EQ(jt_events(j, JEV_DELIVERED), 2);

	/* an ack beyond the end: the group goes piece by piece */
	a[1] = (struct jack){ .qid = inbox, .upto = 9, .now_ms = 30 };
	b[0] = (struct jbatch){ .peer = "", .items = &it[3], .n = 1, .now_ms = 30 };
	ws[0] = (struct jwork){ .ack = &a[1] };
	ws[1] = (struct jwork){ .batch = &b[0] };
	RC(journal_commit_group(j, ws, 2));
	CHECK_EQ(ws[0].rc, JOURNAL_RANGE);
	CHECK_EQ(a[1].nacked, 0);
	CHECK_EQ(ws[1].rc, 0);
	CHECK_EQ(it[3].result, JR_ACCEPTED);
	RC(journal_queue_info(j, inbox, &qi));
	CHECK_EQ(qi.acked_seq, 2);
	RC(journal_queue_info(j, up, &qi));
	CHECK_EQ(qi.depth, 4);
	{
		uint64_t count, bad;

		RC(journal_verify(j, &count, &bad));
	}
	for (i = 0; i < 4; i++)
		tpkt_free(&t[i]);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

struct find_rej {
	uint32_t reason;
	char text[64];
	int found;
};

static int
find_rejected(const struct jevent *ev, void *arg)
{
	struct find_rej *f = arg;

	if (ev->type == JEV_REJECTED) {
		f->found++;
		f->reason = ev->reason;
		snprintf(f->text, sizeof(f->text), "%s", ev->text);
	}
	return 0;
}

static void
TEST_rejected(void)
{
	char *dir = cu_tmpdir("journal");
	struct tpkt t[2];
	struct jitem it[2];
	struct jbatch b;
	struct journal *j;
	struct jkey key;
	struct find_rej f;
	uint8_t *bytes;
	size_t len;
	uint32_t q;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	memset(it, 0, sizeof(it));
	tpkt_init(&t[0], "fj-xm/spoof", "master", 10);
	tpkt_init(&t[1], "county-a/dr-lin", "master", 10);
	it[0].pkt = &t[0].p;
	it[0].seq = 1;
	it[0].reject = CASCADE__REASON__REASON_SPOOFED;
	it[0].reject_text = "src outside the child's subtree";
	it[1].pkt = &t[1].p;
	it[1].seq = 2;
	it[1].queues[0] = q;
	it[1].nqueues = 1;
	memset(&b, 0, sizeof(b));
	b.peer = "child:a";
	b.epoch = 3;
	b.first_seq = 1;
	b.last_seq = 2;
	b.items = it;
	b.n = 2;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(it[0].result, JR_REJECTED);
	CHECK_EQ(it[1].result, JR_ACCEPTED);
	CHECK_EQ(b.rejected, 1);
	CHECK_EQ(b.mark, 2);        /* a rejection for good is acked */
	memcpy(key.id, t[0].id, CID_LEN);
	key.leg = JLEG_UP;
	CHECK_EQ(journal_packet_get(j, &key, &bytes, &len, NULL), JOURNAL_NOT_FOUND);
	memset(&f, 0, sizeof(f));
	RC(journal_events(j, 1, find_rejected, &f));
	CHECK_EQ(f.found, 1);
	CHECK_EQ(f.reason, CASCADE__REASON__REASON_SPOOFED);
	CU_ASSERT_STRING_EQUAL(f.text, "src outside the child's subtree");

	/* a packet too broken to decode can be rejected without one */
	it[0].pkt = NULL;
	it[0].seq = 3;
	it[0].reject = CASCADE__REASON__REASON_MALFORMED;
	it[0].reject_text = "does not decode";
	b.first_seq = b.last_seq = 3;
	b.n = 1;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(it[0].result, JR_REJECTED);
	CHECK_EQ(jt_events(j, JEV_REJECTED), 2);
	tpkt_free(&t[0]);
	tpkt_free(&t[1]);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_queue_numbering(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jqueue_info qi, qi2;
	struct jbatch b;
	uint32_t up, inbox, again;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &up));
	RC(journal_queue(j, "client:county-a/dr-lin", JQ_CLIENT, &inbox));
	CHECK_EQ(up, 1);
	CHECK_EQ(inbox, 2);
	CU_ASSERT(journal_queue(j, "", JQ_LINK, &again) != 0);
	RC(jt_insert(j, up, 5, 10, 1, 0, &b));
	CHECK_EQ(b.accepted, 5);
	RC(journal_queue_info(j, up, &qi));
	CHECK_EQ(qi.next_seq, 6);
	CHECK_EQ(qi.depth, 5);
	journal_close(j);

	j = jt_open(dir);
	RC(journal_queue(j, "client:county-a/dr-lin", JQ_CLIENT, &again));
	CHECK_EQ(again, inbox);
	RC(journal_queue_info(j, up, &qi2));
	CHECK_EQ(qi2.epoch, qi.epoch);          /* the stream keeps its epoch */
	CHECK_EQ(qi2.next_seq, 6);
	{
		struct tpkt t;
		struct jitem it;

		tpkt_init(&t, "county-a/dr-lin", "master", 10);
		memset(&it, 0, sizeof(it));
		it.pkt = &t.p;
		it.queues[0] = up;
		it.queues[1] = inbox;
		it.nqueues = 2;
		memset(&b, 0, sizeof(b));
		b.peer = "";
		b.items = &it;
		b.n = 1;
		RC(journal_commit_batch(j, &b));
		CHECK_EQ(it.qseq[0], 6);        /* continues, never renumbered */
		CHECK_EQ(it.qseq[1], 1);
		tpkt_free(&t);
	}
	RC(journal_queue(j, "down", JQ_LINK, &again));
	CHECK_EQ(again, 3);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static int
count_queues(const struct jqueue_info *qi, void *arg)
{
	(*(unsigned *)arg)++;
	return qi->qid == 2;        /* stops at the second */
}

static void
TEST_peek(void)
{
	char *dir = cu_tmpdir("journal");
	struct jentry e[16];
	struct journal *j;
	unsigned n, nq = 0, i;
	uint32_t q, q2;
	size_t one;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(journal_queue(j, "other", JQ_LINK, &q2));
	RC(journal_queue(j, "third", JQ_LINK, &q2));
	RC(journal_queues(j, count_queues, &nq));
	CHECK_EQ(nq, 2);
	RC(jt_insert(j, q, 10, 100, 7, 9000, NULL));

	RC(journal_peek(j, q, 1, 4, 1 << 20, e, &n));
	CHECK_EQ(n, 4);
	for (i = 0; i < n; i++) {
		Cascade__Packet *p = cascade__packet__unpack(NULL, e[i].len, e[i].bytes);

		CHECK_EQ(e[i].seq, i + 1);
		CHECK_EQ(e[i].accepted_ms, 7);
		CHECK_EQ(e[i].deadline_ms, 9000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT(memcmp(p->id.data, e[i].key.id, CID_LEN) == 0);
		cascade__packet__free_unpacked(p, NULL);
	}
	one = e[0].len;
	journal_entries_free(e, n);

	RC(journal_peek(j, q, 5, 16, one * 2 + one / 2, e, &n));
	CHECK_EQ(n, 2);
	CHECK_EQ(e[0].seq, 5);
	journal_entries_free(e, n);
	/* at least one entry even when it alone is over max_bytes */
	RC(journal_peek(j, q, 9, 16, 1, e, &n));
	CHECK_EQ(n, 1);
	CHECK_EQ(e[0].seq, 9);
	journal_entries_free(e, n);
	RC(journal_peek(j, q, 11, 16, 1 << 20, e, &n));
	CHECK_EQ(n, 0);
	RC(journal_peek(j, q2, 1, 16, 1 << 20, e, &n));
	CHECK_EQ(n, 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

struct find_ack {
	uint32_t type;
	unsigned n, good;
};

static int
find_ack(const struct jevent *ev, void *arg)
{
	struct find_ack *f = arg;

	if (ev->type != f->type)
		return 0;
	f->n++;
	if (strcmp(ev->peer, f->type == JEV_FORWARDED ? "up" : "client:city-b/dr-wang") == 0 &&
	    strcmp(ev->src, "county-a/dr-lin") == 0 && strcmp(ev->dst, "city-b/dr-wang") == 0 &&
	    ev->ntrace == 1 && strcmp(ev->trace[0], "county-a") == 0 && ev->time_ms == 777)
		f->good++;
	return 0;
}

static void
TEST_ack(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jqueue_info qi, qi0;
	struct find_ack f;
	struct jentry e[4];
	uint32_t q, inbox;
	unsigned n, k;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(journal_queue(j, "client:city-b/dr-wang", JQ_CLIENT, &inbox));
	RC(jt_insert(j, q, 10, 64, 1, 0, NULL));
	RC(journal_queue_info(j, q, &qi0));
	CHECK_EQ(qi0.depth, 10);
	CU_ASSERT(qi0.bytes > 10 * 64);

	RC(journal_ack(j, q, 3, 777, &n));
	CHECK_EQ(n, 3);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.acked_seq, 3);
	CHECK_EQ(qi.depth, 7);
	CHECK_EQ(qi.bytes, qi0.bytes / 10 * 7);
	RC(journal_peek(j, q, 1, 4, 1 << 20, e, &k));
	CHECK_EQ(k, 4);
	CHECK_EQ(e[0].seq, 4);
	journal_entries_free(e, k);

	/* below the current ack: nothing happens */
	RC(journal_ack(j, q, 2, 777, &n));
	CHECK_EQ(n, 0);
	/* above the highest seq: refused, nothing changes */
	CHECK_EQ(journal_ack(j, q, 11, 777, &n), JOURNAL_RANGE);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.acked_seq, 3);
	CHECK_EQ(qi.depth, 7);

	RC(journal_ack(j, q, 10, 777, &n));
	CHECK_EQ(n, 7);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 0);
	CHECK_EQ(qi.bytes, 0);
	CHECK_EQ(qi.acked_seq, 10);
	memset(&f, 0, sizeof(f));
	f.type = JEV_FORWARDED;
	RC(journal_events(j, 1, find_ack, &f));
	CHECK_EQ(f.n, 10);
	CHECK_EQ(f.good, 10);

	/* a client inbox logs DELIVERED */
	RC(jt_insert(j, inbox, 2, 10, 1, 0, NULL));
	RC(journal_ack(j, inbox, 2, 777, &n));
	CHECK_EQ(n, 2);
	memset(&f, 0, sizeof(f));
	f.type = JEV_DELIVERED;
	RC(journal_events(j, 1, find_ack, &f));
	CHECK_EQ(f.n, 2);
	CHECK_EQ(f.good, 2);
	CHECK_EQ(jt_events(j, JEV_FORWARDED), 10);

	/* a large cumulative ack goes through in several transactions */
	RC(jt_insert(j, q, 1200, 8, 1, 0, NULL));
	RC(journal_ack(j, q, 1210, 777, &n));
	CHECK_EQ(n, 1200);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 0);
	CHECK_EQ(qi.acked_seq, 1210);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* journal_ack_with: the ack and the receipts it produces commit together. */
static void
TEST_ack_with(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jqueue_info qi;
	struct jitem it;
	struct jbatch b;
	struct tpkt t;
	uint32_t inbox, other;
	unsigned n;
	int together = 0;

	j = jt_open(dir);
	RC(journal_queue(j, "client:county-a/bob", JQ_CLIENT, &inbox));
	RC(journal_queue(j, "client:county-a/alice", JQ_CLIENT, &other));
	RC(jt_insert(j, inbox, 3, 16, 1, 0, NULL));
	tpkt_init(&t, "county-a", "county-a/alice", 8);
	memset(&it, 0, sizeof(it));
	it.pkt = &t.p;
	it.queues[0] = other;
	it.nqueues = 1;
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = &it;
	b.n = 1;
	b.now_ms = 777;
	RC(journal_ack_with(j, inbox, 2, 777, &b, &n, &together));
	CHECK_EQ(n, 2);
	CHECK_EQ(together, 1);
	CHECK_EQ(it.result, JR_ACCEPTED);
	RC(journal_queue_info(j, inbox, &qi));
	CHECK_EQ(qi.acked_seq, 2);
	CHECK_EQ(qi.depth, 1);
	RC(journal_queue_info(j, other, &qi));
	CHECK_EQ(qi.depth, 1);
	CHECK_EQ(jt_events(j, JEV_DELIVERED), 2);

	/* without a batch: journal_ack */
	RC(journal_ack_with(j, inbox, 3, 777, NULL, &n, &together));
	CHECK_EQ(n, 1);
	CHECK_EQ(together, 0);
	/* above the highest seq: refused, the batch not stored */
	tpkt_free(&t);
	tpkt_init(&t, "county-a", "county-a/alice", 8);
	CHECK_EQ(journal_ack_with(j, inbox, 9, 777, &b, &n, &together), JOURNAL_RANGE);
	RC(journal_queue_info(j, other, &qi));
	CHECK_EQ(qi.depth, 1);
	tpkt_free(&t);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_cancel(void)
{
	char *dir = cu_tmpdir("journal");
	struct tpkt t;
	struct jitem it;
	struct jbatch b;
	struct journal *j;
	struct jqueue_info qi;
	struct jentry e[4];
	struct jkey key;
	uint32_t q, q2;
	unsigned n;
	int was;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(journal_queue(j, "client:x/y", JQ_CLIENT, &q2));
	RC(jt_insert(j, q, 1, 10, 1, 0, NULL));
	tpkt_init(&t, "county-a/dr-lin", "city-b/dr-wang", 30);
	memset(&it, 0, sizeof(it));
	it.pkt = &t.p;
	it.deadline_ms = 50000;
	it.queues[0] = q;
	it.queues[1] = q2;
	it.nqueues = 2;
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = &it;
	b.n = 1;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(journal_next_deadline(j), 50000);

	memcpy(key.id, t.id, CID_LEN);
	key.leg = JLEG_UP;
	/* anyone but the source: refused, nothing removed, REJECTED logged */
	CHECK_EQ(journal_cancel(j, &key, "county-a/eve", 2, &was), JOURNAL_NOT_YOURS);
	CHECK_EQ(was, 0);
	CHECK_EQ(journal_cancel(j, &key, "county-a", 2, &was), JOURNAL_NOT_YOURS);
	CHECK_EQ(jt_events(j, JEV_REJECTED), 2);
	CHECK_EQ(jt_events(j, JEV_CANCELLED), 0);
	RC(journal_queue_info(j, q2, &qi));
	CHECK_EQ(qi.depth, 1);
	CHECK_EQ(journal_next_deadline(j), 50000);
	RC(journal_cancel(j, &key, "county-a/dr-lin", 3, &was));
	CHECK_EQ(was, 1);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 1);
	CHECK_EQ(qi.next_seq, 3);       /* numbering kept */
	RC(journal_queue_info(j, q2, &qi));
	CHECK_EQ(qi.depth, 0);
	CHECK_EQ(qi.bytes, 0);
	RC(journal_peek(j, q, 1, 4, 1 << 20, e, &n));
	CHECK_EQ(n, 1);
	CHECK_EQ(e[0].seq, 1);
	journal_entries_free(e, n);
	CHECK_EQ(journal_next_deadline(j), 0);

	/* a second cancel finds it no longer waiting */
	RC(journal_cancel(j, &key, "county-a/dr-lin", 4, &was));
	CHECK_EQ(was, 0);
	CHECK_EQ(jt_events(j, JEV_CANCELLED), 2);
	/* an unknown packet */
	key.leg = JLEG_DOWN;
	CHECK_EQ(journal_cancel(j, &key, "county-a/dr-lin", 4, &was), JOURNAL_NOT_FOUND);
	CHECK_EQ(was, 0);
	tpkt_free(&t);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* journal_packet_where: the record and, per queue, whether it still waits (cascadectl show). */
static void
TEST_packet_where(void)
{
	char *dir = cu_tmpdir("journal");
	struct tpkt t;
	struct jitem it;
	struct jbatch b;
	struct journal *j;
	struct jwhere w;
	struct jkey key;
	Cascade__Packet *p;
	uint32_t q, q2;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(journal_queue(j, "client:x/y", JQ_CLIENT, &q2));
	RC(jt_insert(j, q, 1, 10, 1, 0, NULL));
	tpkt_init(&t, "county-a/dr-lin", "city-b/dr-wang", 30);
	memset(&it, 0, sizeof(it));
	it.pkt = &t.p;
	it.deadline_ms = 50000;
	it.queues[0] = q;
	it.queues[1] = q2;
	it.nqueues = 2;
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = &it;
	b.n = 1;
	RC(journal_commit_batch(j, &b));

	memcpy(key.id, t.id, CID_LEN);
	key.leg = JLEG_UP;
	RC(journal_packet_where(j, &key, &w));
	CHECK_EQ(w.nq, 2);
	CHECK_EQ(w.qid[0], q);
	CHECK_EQ(w.qseq[0], 2);
	CHECK_EQ(w.qid[1], q2);
	CHECK_EQ(w.qseq[1], 1);
	CHECK_EQ(w.waiting[0], 1);
	CHECK_EQ(w.waiting[1], 1);
	CHECK_EQ(w.deadline_ms, 50000);
	CHECK_EQ(w.pruned, 0);
	p = cpkt_decode(w.body, w.bodylen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->src, "county-a/dr-lin");
	cpkt_free(p);
	free(w.body);

	/* the client acked it: gone from its inbox, still waiting up */
	RC(journal_ack(j, q2, 1, 5, NULL));
	RC(journal_packet_where(j, &key, &w));
	CHECK_EQ(w.waiting[0], 1);
	CHECK_EQ(w.waiting[1], 0);
	free(w.body);

	key.leg = JLEG_DOWN;
	CHECK_EQ(journal_packet_where(j, &key, &w), JOURNAL_NOT_FOUND);
	CU_ASSERT_PTR_NULL(w.body);
	tpkt_free(&t);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_expiry(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jexpired x[8];
	struct jqueue_info qi;
	struct jentry e[8];
	uint32_t q;
	unsigned n, i;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	CHECK_EQ(journal_next_deadline(j), 0);
	RC(jt_insert(j, q, 1, 10, 1, 0, NULL));         /* seq 1: no ttl */
	RC(jt_insert(j, q, 2, 10, 1, 1000, NULL));      /* 2, 3 */
	RC(jt_insert(j, q, 1, 10, 1, 2000, NULL));      /* 4 */
	RC(jt_insert(j, q, 1, 10, 1, 3000, NULL));      /* 5: acked before it expires */
	CHECK_EQ(journal_next_deadline(j), 1000);

	RC(journal_sweep_expired(j, 999, 8, x, &n));
	CHECK_EQ(n, 0);
	RC(journal_sweep_expired(j, 1500, 1, x, &n));  /* max 1: call again */
	CHECK_EQ(n, 1);
	CU_ASSERT(x[0].len > 10);
	{
		Cascade__Packet *p = cascade__packet__unpack(NULL, x[0].len, x[0].bytes);

		CU_ASSERT_PTR_NOT_NULL(p);
		if (p != NULL) {
			CU_ASSERT(memcmp(p->id.data, x[0].key.id, CID_LEN) == 0);
			cascade__packet__free_unpacked(p, NULL);
		}
	}
	free(x[0].bytes);
	RC(journal_sweep_expired(j, 1500, 8, x, &n));
	CHECK_EQ(n, 1);
	free(x[0].bytes);
	CHECK_EQ(journal_next_deadline(j), 2000);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 3);
	CHECK_EQ(jt_events(j, JEV_EXPIRED), 2);

	/* an acked packet leaves the index with its queue: 1 and 4 go */
	RC(journal_ack(j, q, 4, 1600, &n));
	CHECK_EQ(n, 2);
	CHECK_EQ(journal_next_deadline(j), 3000);
	RC(journal_sweep_expired(j, 10000, 8, x, &n));
	CHECK_EQ(n, 1);         /* only 5 */
	for (i = 0; i < n; i++)
		free(x[i].bytes);
	CHECK_EQ(journal_next_deadline(j), 0);
	RC(journal_peek(j, q, 1, 8, 1 << 20, e, &n));
	CHECK_EQ(n, 0);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 0);
	CHECK_EQ(qi.bytes, 0);
	CHECK_EQ(jt_events(j, JEV_EXPIRED), 3);

	/* a packet without a deadline is never swept */
	RC(jt_insert(j, q, 1, 10, 1, 0, NULL));
	RC(journal_sweep_expired(j, INT64_MAX, 8, x, &n));
	CHECK_EQ(n, 0);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 1);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/*
 * In flight across a restart: what was queued when the journal opens counts
 * as sent and not acked (the last run may have sent it) until the link's
 * session lowers the mark; what is queued after the open expires as usual.
 */
static void
TEST_inflight_reopen(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jexpired x[8];
	struct jqueue_info qi;
	struct jentry e[8];
	struct jkey key;
	uint32_t q, qc;
	unsigned n, i;
	int was;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(journal_queue(j, "client:x/y", JQ_CLIENT, &qc));
	RC(jt_insert(j, q, 2, 10, 1, 1000, NULL));      /* seq 1, 2 */
	RC(jt_insert(j, qc, 1, 10, 1, 1000, NULL));     /* the client's 1 */
	RC(journal_peek_sent(j, q, 1, 1, 1 << 20, e, &n));      /* 1 goes out */
	CHECK_EQ(n, 1);
	journal_entries_free(e, n);
	journal_close(j);       /* as after a kill -9: the marks were in memory */

	j = jt_open(dir);
	RC(jt_insert(j, q, 1, 10, 1, 1000, NULL));      /* seq 3, after the open */
	RC(journal_sweep_expired(j, 5000, 8, x, &n));
	CHECK_EQ(n, 1);         /* only 3: 1 and 2 (and the client's) may be at the peer */
	for (i = 0; i < n; i++)
		free(x[i].bytes);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 2);
	RC(journal_queue_info(j, qc, &qi));
	CHECK_EQ(qi.depth, 1);
	/* a cancel of one of them is too late here: it stays queued */
	RC(journal_peek(j, q, 1, 1, 1 << 20, e, &n));
	CHECK_EQ(n, 1);
	key = e[0].key;
	journal_entries_free(e, n);
	RC(journal_cancel(j, &key, "county-a/dr-lin", 5000, &was));
	CHECK_EQ(was, 0);
	CHECK_EQ(jt_events(j, JEV_CANCELLED), 0);

	/* the session resumes: the peer has 1, never got 2 */
	journal_sent_set(j, q, 1);
	RC(journal_sweep_expired(j, 5000, 8, x, &n));
	CHECK_EQ(n, 1);         /* 2 */
	for (i = 0; i < n; i++)
		free(x[i].bytes);
	RC(journal_ack(j, q, 1, 5000, &n));
	CHECK_EQ(n, 1);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 0);
	/* the client pulls with nothing acked: its packet may expire now */
	journal_sent_set(j, qc, 0);
	RC(journal_sweep_expired(j, 5000, 8, x, &n));
	CHECK_EQ(n, 1);
	for (i = 0; i < n; i++)
		free(x[i].bytes);
	CHECK_EQ(jt_events(j, JEV_EXPIRED), 3);
	journal_close(j);

	/* nothing queued at the open: nothing held */
	j = jt_open(dir);
	RC(jt_insert(j, q, 1, 10, 1, 1000, NULL));
	RC(journal_sweep_expired(j, 5000, 8, x, &n));
	CHECK_EQ(n, 1);
	for (i = 0; i < n; i++)
		free(x[i].bytes);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_prune(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jstats st;
	uint64_t np, ev;
	unsigned n;
	uint32_t q, q2, q3;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(journal_queue(j, "down", JQ_LINK, &q2));
	RC(journal_queue(j, "client:x/y", JQ_CLIENT, &q3));
	RC(jt_insert(j, q, 5, 10, 1000, 7000, NULL));   /* old, acked below */
	RC(jt_insert(j, q2, 3, 10, 1000, 0, NULL));     /* old, still queued */
	RC(jt_insert(j, 0, 4, 10, 1000, 0, NULL));      /* old, never queued */
	RC(jt_insert(j, q3, 2, 10, 9000, 0, NULL));     /* new, acked below */
	RC(journal_ack(j, q, 5, 9500, &n));
	CHECK_EQ(n, 5);
	RC(journal_ack(j, q3, 2, 9500, &n));
	CHECK_EQ(n, 2);
	RC(journal_stats(j, &st));
	CHECK_EQ(st.packets, 14);
	ev = st.events;

	RC(journal_prune(j, 2000, 2, &np));     /* two per transaction */
	CHECK_EQ(np, 9);
	RC(journal_stats(j, &st));
	CHECK_EQ(st.packets, 5);
	CHECK_EQ(st.events, ev);        /* the events stay */
	CHECK_EQ(st.queued, 3);
	CHECK_EQ(st.expiring, 0);
	RC(journal_prune(j, 2000, 100, &np));
	CHECK_EQ(np, 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_meta(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	void *val;
	size_t len;

	j = jt_open(dir);
	CHECK_EQ(journal_meta_get(j, "routes:fj-xm", &val, &len), JOURNAL_NOT_FOUND);
	RC(journal_meta_put(j, "routes:fj-xm", "a\0b", 3));
	RC(journal_meta_get(j, "routes:fj-xm", &val, &len));
	CHECK_EQ(len, 3);
	CU_ASSERT(memcmp(val, "a\0b", 3) == 0);
	free(val);
	RC(journal_meta_put(j, "routes:fj-xm", "", 0));
	RC(journal_meta_get(j, "routes:fj-xm", &val, &len));
	CHECK_EQ(len, 0);
	free(val);
	/* the journal's own keys are not for callers */
	CU_ASSERT(journal_meta_put(j, "format", "x", 1) != 0);
	CU_ASSERT(journal_meta_put(j, "node", "x", 1) != 0);
	CU_ASSERT(journal_meta_put(j, "qn:00000001", "x", 1) != 0);
	RC(journal_meta_get(j, "node", &val, &len));
	CHECK_EQ(len, 8);
	CU_ASSERT(memcmp(val, "county-a", 8) == 0);
	free(val);
	journal_close(j);
	j = jt_open(dir);
	RC(journal_meta_get(j, "routes:fj-xm", &val, &len));
	free(val);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

struct collect {
	uint64_t seqs[64];
	unsigned n, stop_after;
	char texts[64][32];
	uint8_t hash[64][CSHA256_LEN];
};

static int
collect_fn(const struct jevent *ev, void *arg)
{
	struct collect *c = arg;

	c->seqs[c->n] = ev->seq;
	snprintf(c->texts[c->n], sizeof(c->texts[0]), "%s", ev->text);
	memcpy(c->hash[c->n], ev->hash, CSHA256_LEN);
	c->n++;
	return c->stop_after != 0 && c->n == c->stop_after;
}

static void
log_notes(struct journal *j, unsigned n, uint64_t first)
{
	const char *trace[] = { "clinic-x", "county-a" };
	struct jevent ev;
	char text[32];
	unsigned i;

	for (i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = JEV_NOTE;
		ev.time_ms = 100 + i;
		snprintf(text, sizeof(text), "note %u", i);
		ev.text = text;
		ev.peer = "ctl";
		ev.trace = trace;
		ev.ntrace = 2;
		RC(journal_log(j, &ev));
		CHECK_EQ(ev.seq, first + i);
	}
}

static void
TEST_events_verify(void)
{
	char *dir = cu_tmpdir("journal");
	uint8_t zero[CSHA256_LEN] = { 0 }, h[CSHA256_LEN];
	struct journal *j;
	struct collect c;
	uint64_t count, bad;

	j = jt_open(dir);
	RC(journal_verify(j, &count, &bad));
	CHECK_EQ(count, 0);
	log_notes(j, 10, 1);
	memset(&c, 0, sizeof(c));
	RC(journal_events(j, 1, collect_fn, &c));
	CHECK_EQ(c.n, 10);
	CHECK_EQ(c.seqs[9], 10);
	CU_ASSERT_STRING_EQUAL(c.texts[3], "note 3");
	CU_ASSERT(memcmp(c.hash[0], zero, CSHA256_LEN) != 0);
	CU_ASSERT(memcmp(c.hash[0], c.hash[1], CSHA256_LEN) != 0);
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	RC(journal_events(j, 7, collect_fn, &c));
	CHECK_EQ(c.n, 2);
	CHECK_EQ(c.seqs[0], 7);
	CHECK_EQ(c.seqs[1], 8);
	RC(journal_verify(j, &count, &bad));
	CHECK_EQ(count, 10);
	CHECK_EQ(bad, 0);
	journal_close(j);

	/* the chain goes on across a reopen, from the last record's hash */
	j = jt_open(dir);
	log_notes(j, 1, 11);
	RC(journal_verify(j, &count, &bad));
	CHECK_EQ(count, 11);
	journal_close(j);

	/* the first record hooks on 32 zero bytes */
	{
		uint8_t val[4096], key[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
		size_t len = raw_get(dir, "events", key, 8, val, sizeof(val));

		csha256_2(zero, CSHA256_LEN, val + CSHA256_LEN, len - CSHA256_LEN, h);
		CU_ASSERT(memcmp(h, val, CSHA256_LEN) == 0);
	}
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_verify_tamper(void)
{
	char *dir = cu_tmpdir("journal");
	uint8_t val[4096], key[8] = { 0, 0, 0, 0, 0, 0, 0, 3 };
	struct journal *j;
	uint64_t count, bad;
	size_t len;

	j = jt_open(dir);
	log_notes(j, 6, 1);
	journal_close(j);
	/* change one byte of record 3's text ("note 2" -> "note 9") */
	len = raw_get(dir, "events", key, 8, val, sizeof(val));
	CU_ASSERT_FATAL(len > 40 && len < sizeof(val));
	{
		size_t i;

		for (i = CSHA256_LEN; i + 6 <= len; i++)
			if (memcmp(val + i, "note 2", 6) == 0)
				break;
		CU_ASSERT_FATAL(i + 6 <= len);
		val[i + 5] = '9';
	}
	raw_put(dir, "events", key, 8, val, len);
	j = jt_open(dir);
	CHECK_EQ(journal_verify(j, &count, &bad), JOURNAL_CORRUPT);
	CHECK_EQ(bad, 3);
	CHECK_EQ(count, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(journal_errmsg(j), "event 3"));
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_stats(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jstats st;
	unsigned n;
	uint32_t q;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(jt_insert(j, q, 6, 10, 1, 5000, NULL));
	RC(jt_insert(j, q, 2, 10, 1, 0, NULL));
	RC(journal_ack(j, q, 2, 2, &n));
	RC(journal_stats(j, &st));
	CHECK_EQ(st.format, JOURNAL_FORMAT);
	CHECK_EQ(st.packets, 8);
	CHECK_EQ(st.queued, 6);
	CHECK_EQ(st.events, 10);
	CHECK_EQ(st.expiring, 4);
	CHECK_EQ(st.map_size, 8 * 1024 * 1024);
	CHECK_EQ(st.page_size * st.pages_total, st.map_size);
	CU_ASSERT(st.pages_used > 4 && st.pages_used < st.pages_total / 10);
	CHECK_EQ(st.full, 0);
	CHECK_EQ(st.grows, 0);
	CHECK_EQ(journal_is_full(j), 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* A second thread for TEST_errmsg_per_thread: it fails, waits for main to fail, reads. */
struct errthr {
	struct journal *j;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int step;                       /* 1: this thread failed; 2: main failed after it */
	int rc;
	char fresh[512], after[512];
};

static void *
errthr_main(void *arg)
{
	struct errthr *t = arg;
	struct jqueue_info qi;

	snprintf(t->fresh, sizeof(t->fresh), "%s", journal_errmsg(t->j));
	t->rc = journal_queue_info(t->j, 999, &qi);
	pthread_mutex_lock(&t->mu);
	t->step = 1;
	pthread_cond_signal(&t->cv);
	while (t->step < 2)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	snprintf(t->after, sizeof(t->after), "%s", journal_errmsg(t->j));
	return NULL;
}

/*
 * journal_errmsg is the calling thread's own last failure: a failure on
 * another thread in between (the loop reading while the journal thread
 * writes) does not replace it, and a thread that never failed sees none.
 */
static void
TEST_errmsg_per_thread(void)
{
	char *dir = cu_tmpdir("journal");
	struct jqueue_info qi;
	struct errthr t;
	pthread_t th;

	memset(&t, 0, sizeof(t));
	t.j = jt_open(dir);
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	/* main fails first: the new thread must not see it */
	CHECK_EQ(journal_queue_info(t.j, 777, &qi), JOURNAL_NOT_FOUND);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, errthr_main, &t), 0);
	pthread_mutex_lock(&t.mu);
	while (t.step < 1)
		pthread_cond_wait(&t.cv, &t.mu);
	pthread_mutex_unlock(&t.mu);
	CHECK_EQ(journal_queue_info(t.j, 888, &qi), JOURNAL_NOT_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(journal_errmsg(t.j), "queue 888: not found"));
	pthread_mutex_lock(&t.mu);
	t.step = 2;
	pthread_cond_signal(&t.cv);
	pthread_mutex_unlock(&t.mu);
	CU_ASSERT_EQUAL_FATAL(pthread_join(th, NULL), 0);
	CHECK_EQ(t.rc, JOURNAL_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(t.fresh, "no error");
	CU_ASSERT_PTR_NOT_NULL(strstr(t.after, "queue 999: not found"));
	CU_ASSERT_PTR_NULL(strstr(t.after, "queue 888"));
	if (strstr(t.after, "queue 999") == NULL)
		fprintf(stderr, "errmsg_per_thread: the thread read \"%s\"\n", t.after);
	CU_ASSERT_STRING_EQUAL(journal_errmsg(NULL), "journal: not open");
	pthread_cond_destroy(&t.cv);
	pthread_mutex_destroy(&t.mu);
	journal_close(t.j);
	cu_rmtree(dir);
	free(dir);
}

/* Leaf pages and entries of one named database, with the raw LMDB API. */
static void
raw_stat(const char *dir, const char *db, size_t *leaf, size_t *entries)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;

	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, db, 0, &dbi), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_stat(txn, dbi, &ms), 0);
	*leaf = ms.ms_leaf_pages;
	*entries = ms.ms_entries;
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/*
 * Records put in ascending key order fill their pages (MDB_APPEND,
 * jput_append): ~1.2 KiB packet records fit 3 to a 4 KiB page, and a
 * plain put's split left 2 a page. Keys below the last (an id from a
 * slower clock, an earlier deadline) still go in, by a normal put.
 */
static void
TEST_page_fill(void)
{
	char *dir = cu_tmpdir("journal");
	struct journal *j;
	struct jstats st;
	struct tpkt t;
	struct jitem it;
	struct jbatch b;
	struct jkey key;
	uint8_t *bytes;
	size_t len, leaf, n;
	uint32_t q;
	unsigned i;

	j = jt_open(dir);
	RC(journal_queue(j, "up", JQ_LINK, &q));
	for (i = 0; i < 10; i++)
		RC(jt_insert(j, q, 30, 1024, 1000, 90000, NULL));
	RC(journal_stats(j, &st));
	CHECK_EQ(st.page_size, 4096);
	/* an id and a deadline below every other: the fallback put */
	tpkt_init(&t, "county-a/dr-lin", "city-b/dr-wang", 1024);
	memset(t.id, 0, 6);
	memset(&it, 0, sizeof(it));
	it.pkt = &t.p;
	it.queues[0] = q;
	it.nqueues = 1;
	it.deadline_ms = 80000;
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = &it;
	b.n = 1;
	b.now_ms = 1000;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(b.accepted, 1);
	memcpy(key.id, t.id, CID_LEN);
	key.leg = JLEG_UP;
	RC(journal_packet_get(j, &key, &bytes, &len, NULL));
	CHECK_EQ(len, cascade__packet__get_packed_size(&t.p));
	free(bytes);
	tpkt_free(&t);
	RC(journal_stats(j, &st));
	CHECK_EQ(st.packets, 301);
	CHECK_EQ(st.queued, 301);
	CHECK_EQ(st.expiring, 301);
	journal_close(j);

	raw_stat(dir, "packets", &leaf, &n);
	CHECK_EQ(n, 301);
	/* 3 a page, and the one below the last split a page: 101 or 102 (was 150) */
	CU_ASSERT(leaf <= 102);
	if (leaf > 102)
		fprintf(stderr, "page_fill: %zu leaf pages for 301 packet records\n", leaf);
	cu_rmtree(dir);
	free(dir);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_open_reopen),
	CU_TEST(TEST_node_mismatch),
	CU_TEST(TEST_format_version),
	CU_TEST(TEST_sync_flags),
	CU_TEST(TEST_commit_batch),
	CU_TEST(TEST_duplicates),
	CU_TEST(TEST_epochs_marks),
	CU_TEST(TEST_out_of_order),
	CU_TEST(TEST_group_commit),
	CU_TEST(TEST_group_commit_with_acks),
	CU_TEST(TEST_rejected),
	CU_TEST(TEST_queue_numbering),
	CU_TEST(TEST_peek),
	CU_TEST(TEST_ack),
	CU_TEST(TEST_ack_with),
	CU_TEST(TEST_cancel),
	CU_TEST(TEST_packet_where),
	CU_TEST(TEST_expiry),
	CU_TEST(TEST_inflight_reopen),
	CU_TEST(TEST_prune),
	CU_TEST(TEST_meta),
	CU_TEST(TEST_events_verify),
	CU_TEST(TEST_verify_tamper),
	CU_TEST(TEST_stats),
	CU_TEST(TEST_page_fill),
	CU_TEST(TEST_errmsg_per_thread),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("journal", tests, argc, argv);
}
