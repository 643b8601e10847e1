/*
 * journal_lane_test.c — priority lanes (journal_lane.c): a queue numbers at
 * most its window of waiting packets; the rest wait unnumbered, urgent
 * before routine, and are numbered as room is made, keeping each flow's
 * order.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "cu.h"
#include "journal.h"
#include "jtest.h"

#define RC(expr) CHECK_RC(expr, journal_strerror)

#define FLOW_A "county-a/dr-lin", "master/dr-wang"
#define FLOW_B "county-a/dr-zhao", "master/dr-wang"

static struct journal *
lane_open(const char *dir, unsigned window)
{
	struct journal_opts o;
	struct journal *j = NULL;
	char err[512];
	int rc;

	jt_opts(&o, dir);
	o.queue_window = window;
	if ((rc = journal_open(&j, &o, err, sizeof(err))) != 0)
		fprintf(stderr, "lane_open: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return j;
}

/* Commits one packet of flow (src, dst) into q; its id goes to id. */
static void
put1(struct journal *j, uint32_t q, const char *src, const char *dst, int urgent,
    int64_t deadline, uint8_t *id)
{
	struct tpkt t;
	struct jitem it;
	struct jbatch b;

	tpkt_init(&t, src, dst, 20);
	if (urgent)
		t.p.flags |= CASCADE__PACKET_FLAG__FLAG_URGENT;
	memset(&it, 0, sizeof(it));
	it.pkt = &t.p;
	it.deadline_ms = deadline;
	it.queues[0] = q;
	it.nqueues = 1;
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = &it;
	b.n = 1;
	b.now_ms = 1;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(it.result, JR_ACCEPTED);
	memcpy(id, t.id, CID_LEN);
	tpkt_free(&t);
}

/* The ids of the numbered entries from seq from on, in order; returns how many. */
static unsigned
numbered(struct journal *j, uint32_t q, uint64_t from, uint8_t ids[][CID_LEN], unsigned max)
{
	struct jentry e[64];
	unsigned n, i;

	RC(journal_peek(j, q, from, max < 64 ? max : 64, 1 << 20, e, &n));
	for (i = 0; i < n; i++) {
		CU_ASSERT(e[i].seq < JSEQ_LANE);
		memcpy(ids[i], e[i].key.id, CID_LEN);
	}
	journal_entries_free(e, n);
	return n;
}

static void
TEST_window(void)
{
	char *dir = cu_tmpdir("jlane");
	struct journal *j = lane_open(dir, 4);
	uint8_t id[8][CID_LEN], got[8][CID_LEN];
	struct jqueue_info qi;
	struct jentry e[8];
	unsigned n, i;
	uint32_t q;

	RC(journal_queue(j, "up", JQ_LINK, &q));
	for (i = 0; i < 6; i++)
		put1(j, q, FLOW_A, 0, 0, id[i]);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 6);
	CHECK_EQ(qi.lanes, 2);
	CHECK_EQ(qi.next_seq, 5);       /* 4 numbered: the window */
	n = numbered(j, q, 1, got, 8);
	CHECK_EQ(n, 4);
	for (i = 0; i < n; i++)
		CU_ASSERT(memcmp(got[i], id[i], CID_LEN) == 0);
	/* the lanes are read on their own, in order: both routine */
	RC(journal_peek(j, q, JSEQ_LANE, 8, 1 << 20, e, &n));
	CHECK_EQ(n, 2);
	for (i = 0; i < n; i++) {
		CU_ASSERT(e[i].seq >= JSEQ_ROUTINE);
		CU_ASSERT(memcmp(e[i].key.id, id[4 + i], CID_LEN) == 0);
	}
	journal_entries_free(e, n);

	/* an ack makes room: the lane's entries are numbered 5, 6 */
	RC(journal_ack(j, q, 3, 2, &n));
	CHECK_EQ(n, 3);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.lanes, 0);
	CHECK_EQ(qi.depth, 3);
	CHECK_EQ(qi.next_seq, 7);
	n = numbered(j, q, 4, got, 8);
	CHECK_EQ(n, 3);
	for (i = 0; i < n; i++)
		CU_ASSERT(memcmp(got[i], id[3 + i], CID_LEN) == 0);
	/* with room and empty lanes a packet is numbered at once again */
	put1(j, q, FLOW_A, 0, 0, id[6]);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.lanes, 0);
	CHECK_EQ(qi.next_seq, 8);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_urgent_order(void)
{
	char *dir = cu_tmpdir("jlane");
	struct journal *j = lane_open(dir, 4);
	uint8_t a[8][CID_LEN], b[2][CID_LEN], ua[CID_LEN], got[8][CID_LEN];
	struct jqueue_info qi;
	struct jwhere w;
	struct jkey k;
	unsigned n, i;
	uint32_t q;

	RC(journal_queue(j, "up", JQ_LINK, &q));
	for (i = 0; i < 7; i++)         /* 1-4 numbered, 3 in the routine lane */
		put1(j, q, FLOW_A, 0, 0, a[i]);
	put1(j, q, FLOW_B, 1, 0, b[0]); /* flow B: nothing waiting, urgent lane */
	put1(j, q, FLOW_B, 1, 0, b[1]);
	put1(j, q, FLOW_A, 1, 0, ua);   /* urgent, but behind its flow's routine ones */
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.lanes, 6);
	CHECK_EQ(qi.depth, 10);

	RC(journal_ack(j, q, 4, 2, &n));
	n = numbered(j, q, 5, got, 8);
	CHECK_EQ(n, 4);
	/* urgent B first, then A in its own order */
	CU_ASSERT(memcmp(got[0], b[0], CID_LEN) == 0);
	CU_ASSERT(memcmp(got[1], b[1], CID_LEN) == 0);
	CU_ASSERT(memcmp(got[2], a[4], CID_LEN) == 0);
	CU_ASSERT(memcmp(got[3], a[5], CID_LEN) == 0);
	/* the record knows its new seq (where, cancel and acks use it) */
	memcpy(k.id, b[0], CID_LEN);
	k.leg = 0;
	RC(journal_packet_where(j, &k, &w));
	CHECK_EQ(w.nq, 1);
	CHECK_EQ(w.qseq[0], 5);
	CU_ASSERT(w.waiting[0]);
	free(w.body);

	RC(journal_ack(j, q, 8, 3, &n));
	n = numbered(j, q, 9, got, 8);
	CHECK_EQ(n, 2);
	CU_ASSERT(memcmp(got[0], a[6], CID_LEN) == 0);
	CU_ASSERT(memcmp(got[1], ua, CID_LEN) == 0);    /* after a[6], its predecessor */
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.lanes, 0);

	/* flow A has nothing left in the routine lane: an urgent one overtakes again */
	for (i = 0; i < 3; i++)         /* window full (2 + 2), then 1 routine B in the lane */
		put1(j, q, FLOW_B, 0, 0, b[0]);
	put1(j, q, FLOW_A, 1, 0, ua);
	RC(journal_ack(j, q, 11, 4, &n));
	n = numbered(j, q, 12, got, 8);
	CHECK_EQ(n, 3);
	CU_ASSERT(memcmp(got[1], ua, CID_LEN) == 0);
	CU_ASSERT(memcmp(got[2], b[0], CID_LEN) == 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_cancel_expire(void)
{
	char *dir = cu_tmpdir("jlane");
	struct journal *j = lane_open(dir, 2);
	uint8_t a[6][CID_LEN], u[CID_LEN], got[8][CID_LEN];
	struct jqueue_info qi;
	struct jexpired x[8];
	struct jkey k;
	unsigned n, i;
	uint32_t q;
	int was;

	RC(journal_queue(j, "up", JQ_LINK, &q));
	put1(j, q, FLOW_A, 0, 0, a[0]);         /* 1 */
	put1(j, q, FLOW_A, 0, 1000, a[1]);      /* 2: expires */
	put1(j, q, FLOW_A, 0, 0, a[2]);         /* lane */
	put1(j, q, FLOW_A, 0, 0, a[3]);         /* lane: cancelled */
	put1(j, q, FLOW_A, 0, 1000, a[4]);      /* lane: expires there */
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.lanes, 3);

	/* a cancel deletes a lane entry: no seq is used, no gap */
	memcpy(k.id, a[3], CID_LEN);
	k.leg = 0;
	RC(journal_cancel(j, &k, "county-a/dr-lin", 5, &was));
	CU_ASSERT(was);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.lanes, 2);
	CHECK_EQ(qi.depth, 4);
	CHECK_EQ(qi.next_seq, 3);

	/* expiry: seq 2 leaves, so a[2] is numbered in its place's room; a[4] leaves its lane */
	RC(journal_sweep_expired(j, 1500, 8, x, &n));
	CHECK_EQ(n, 2);
	for (i = 0; i < n; i++)
		free(x[i].bytes);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.lanes, 0);
	CHECK_EQ(qi.depth, 2);
	CHECK_EQ(qi.next_seq, 4);
	n = numbered(j, q, 1, got, 8);
	CHECK_EQ(n, 2);
	CU_ASSERT(memcmp(got[0], a[0], CID_LEN) == 0);
	CU_ASSERT(memcmp(got[1], a[2], CID_LEN) == 0);

	/* the routine lane's count of flow A went with them: urgent A overtakes B */
	put1(j, q, FLOW_B, 0, 0, a[5]);         /* lane */
	put1(j, q, FLOW_A, 1, 0, u);            /* urgent lane */
	RC(journal_ack(j, q, 3, 6, &n));
	n = numbered(j, q, 4, got, 8);
	CHECK_EQ(n, 2);
	CU_ASSERT(memcmp(got[0], u, CID_LEN) == 0);
	CU_ASSERT(memcmp(got[1], a[5], CID_LEN) == 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_reopen(void)
{
	char *dir = cu_tmpdir("jlane");
	struct journal *j = lane_open(dir, 2);
	uint8_t a[4][CID_LEN], u[CID_LEN], got[8][CID_LEN];
	struct jqueue_info qi;
	unsigned n;
	uint32_t q;

	RC(journal_queue(j, "up", JQ_LINK, &q));
	put1(j, q, FLOW_A, 0, 0, a[0]);
	put1(j, q, FLOW_A, 0, 0, a[1]);
	put1(j, q, FLOW_A, 0, 0, a[2]);
	put1(j, q, FLOW_B, 1, 0, u);
	journal_close(j);

	j = lane_open(dir, 2);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 4);
	CHECK_EQ(qi.lanes, 2);
	CHECK_EQ(qi.next_seq, 3);
	n = numbered(j, q, 1, got, 8);
	CHECK_EQ(n, 2);
	CU_ASSERT(memcmp(got[0], a[0], CID_LEN) == 0);
	CU_ASSERT(memcmp(got[1], a[1], CID_LEN) == 0);
	RC(journal_ack(j, q, 2, 2, &n));
	n = numbered(j, q, 3, got, 8);
	CHECK_EQ(n, 2);
	CU_ASSERT(memcmp(got[0], u, CID_LEN) == 0);
	CU_ASSERT(memcmp(got[1], a[2], CID_LEN) == 0);
	journal_close(j);

	/* the numbering given stays: a restart never renumbers */
	j = lane_open(dir, 2);
	n = numbered(j, q, 3, got, 8);
	CHECK_EQ(n, 2);
	CU_ASSERT(memcmp(got[0], u, CID_LEN) == 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* Rewrites one value of the meta database with the raw LMDB API. */
static void
raw_meta_put(const char *dir, const char *key, const void *val, size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(key), (void *)key }, v = { vlen, (void *)val };

	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_put(txn, dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* A queue state of version 1 (before the lanes) reads as one without lanes. */
static void
TEST_qstate_v1(void)
{
	char *dir = cu_tmpdir("jlane");
	struct journal *j = lane_open(dir, 1);
	uint8_t v1[48 + 2], id[2][CID_LEN];
	struct jqueue_info qi;
	char key[16];
	uint32_t q;

	RC(journal_queue(j, "up", JQ_LINK, &q));
	journal_close(j);
	memset(v1, 0, sizeof(v1));
	v1[0] = 1;
	v1[7] = JQ_LINK;
	v1[15] = 7;             /* epoch 7 */
	v1[23] = 3;             /* next_seq 3 */
	v1[31] = 2;             /* acked_seq 2 */
	memcpy(v1 + 48, "up", 2);
	snprintf(key, sizeof(key), "qn:%08x", q);
	raw_meta_put(dir, key, v1, sizeof(v1));

	j = lane_open(dir, 1);
	RC(journal_queue_info(j, q, &qi));
	CU_ASSERT_STRING_EQUAL(qi.name, "up");
	CHECK_EQ(qi.epoch, 7);
	CHECK_EQ(qi.next_seq, 3);
	CHECK_EQ(qi.acked_seq, 2);
	CHECK_EQ(qi.lanes, 0);
	put1(j, q, FLOW_A, 0, 0, id[0]);        /* seq 3 */
	put1(j, q, FLOW_A, 0, 0, id[1]);        /* the window is 1: a lane */
	RC(journal_queue_info(j, q, &qi));
	CU_ASSERT_STRING_EQUAL(qi.name, "up");
	CHECK_EQ(qi.epoch, 7);
	CHECK_EQ(qi.next_seq, 4);
	CHECK_EQ(qi.lanes, 1);
	CHECK_EQ(qi.depth, 2);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_window),
	CU_TEST(TEST_urgent_order),
	CU_TEST(TEST_cancel_expire),
	CU_TEST(TEST_reopen),
	CU_TEST(TEST_qstate_v1),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("journal_lane", tests, argc, argv);
}
