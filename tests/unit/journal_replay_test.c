/*
 * journal_replay_test.c — journal_requeue (cascadectl replay): a delivered
 * packet goes into its queue again as a new entry, its record says where,
 * REPLAYED is logged; what cannot go again (absent, body gone, expired,
 * still waiting) is left alone with its reason; sealed bodies survive;
 * move takes what waits (not in flight) to the end.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "journal.h"
#include "journal_crypt.h"
#include "jtest.h"

#define RC(expr) CHECK_RC(expr, journal_strerror)

/* One packet from t into queues q[0..nq), accepted at now with deadline. */
static void
put_one(struct journal *j, struct tpkt *t, const uint32_t *q, unsigned nq, int64_t now,
    int64_t deadline)
{
	struct jitem it;
	struct jbatch b;
	unsigned i;

	memset(&it, 0, sizeof(it));
	it.pkt = &t->p;
	it.leg = JLEG_DOWN;
	it.deadline_ms = deadline;
	for (i = 0; i < nq; i++)
		it.queues[i] = q[i];
	it.nqueues = nq;
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = &it;
	b.n = 1;
	b.now_ms = now;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(it.result, JR_ACCEPTED);
}

static void
rq_of(struct jrequeue *rq, const struct tpkt *t, uint32_t qid)
{
	memset(rq, 0, sizeof(*rq));
	memcpy(rq->key.id, t->id, CID_LEN);
	rq->key.leg = JLEG_DOWN;
	rq->qid = qid;
}

struct last_replayed {
	char peer[96], text[256];
	uint8_t id[CID_LEN];
	unsigned leg;
	int n;
};

static int
replayed_fn(const struct jevent *ev, void *arg)
{
	struct last_replayed *l = arg;

	if (ev->type != JEV_REPLAYED)
		return 0;
	l->n++;
	snprintf(l->peer, sizeof(l->peer), "%s", ev->peer);
	snprintf(l->text, sizeof(l->text), "%s", ev->text);
	memcpy(l->id, ev->id, CID_LEN);
	l->leg = ev->leg;
	return 0;
}

static void
TEST_requeue_delivered(void)
{
	char *dir = cu_tmpdir("jreplay");
	struct journal *j = jt_open(dir);
	struct last_replayed l;
	struct jqueue_info qi;
	struct jrequeue rq;
	struct jentry e;
	struct jwhere w;
	struct tpkt t;
	Cascade__Packet *p;
	uint32_t q;
	unsigned n;

	RC(journal_queue(j, "child:county-a", JQ_LINK, &q));
	RC(jt_insert(j, q, 3, 10, 1, 0, NULL));         /* seqs 1-3 */
	tpkt_init(&t, "county-a/dr-lin", "city-b/dr-wang", 40);
	put_one(j, &t, &q, 1, 5, 90000);                /* seq 4 */
	RC(journal_ack(j, q, 4, 10, &n));
	CHECK_EQ(n, 4);
	CHECK_EQ(journal_next_deadline(j), 0);

	rq_of(&rq, &t, q);
	RC(journal_requeue(j, &rq, 1, "replay --link county-a by uid 7 (op)", 20));
	CHECK_EQ(rq.result, JRQ_REQUEUED);
	CHECK_EQ(rq.seq, 5);                            /* the stream's next seq */
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 1);
	CHECK_EQ(qi.next_seq, 6);
	CHECK_EQ(qi.acked_seq, 4);
	CU_ASSERT(qi.bytes > 40);
	CHECK_EQ(journal_next_deadline(j), 90000);     /* it can expire from there again */

	/* the record says where it waits now */
	RC(journal_packet_where(j, &rq.key, &w));
	CHECK_EQ(w.nq, 1);
	CHECK_EQ(w.qid[0], q);
	CHECK_EQ(w.qseq[0], 5);
	CHECK_EQ(w.waiting[0], 1);
	CHECK_EQ(w.accepted_ms, 5);                     /* custody time unchanged */
	free(w.body);

	/* what the link sends: the same packet */
	RC(journal_peek(j, q, 5, 1, 1 << 20, &e, &n));
	CHECK_EQ(n, 1);
	CU_ASSERT(memcmp(e.key.id, t.id, CID_LEN) == 0);
	p = cpkt_decode(e.bytes, e.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CHECK_EQ(p->payload.len, 40);
	CU_ASSERT(memcmp(p->payload.data, t.payload, 40) == 0);
	cpkt_free(p);
	journal_entries_free(&e, n);

	memset(&l, 0, sizeof(l));
	RC(journal_events(j, 1, replayed_fn, &l));
	CHECK_EQ(l.n, 1);
	CU_ASSERT_STRING_EQUAL(l.peer, "child:county-a");
	CU_ASSERT_STRING_EQUAL(l.text, "seq 5: replay --link county-a by uid 7 (op)");
	CU_ASSERT(memcmp(l.id, t.id, CID_LEN) == 0);
	CHECK_EQ(l.leg, JLEG_DOWN);

	/* still waiting: a second requeue leaves it */
	RC(journal_requeue(j, &rq, 1, "again", 21));
	CHECK_EQ(rq.result, JRQ_WAITING);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 1);
	CHECK_EQ(jt_events(j, JEV_REPLAYED), 1);

	/* acked again: forwarded twice, the queue empty, the deadline unindexed */
	RC(journal_ack(j, q, 5, 30, &n));
	CHECK_EQ(n, 1);
	CHECK_EQ(jt_events(j, JEV_FORWARDED), 5);
	CHECK_EQ(journal_next_deadline(j), 0);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 0);
	CHECK_EQ(qi.bytes, 0);
	tpkt_free(&t);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* What cannot go again is left alone, each with its reason; the rest of the call goes. */
static void
TEST_requeue_refused(void)
{
	char *dir = cu_tmpdir("jreplay");
	struct journal *j = jt_open(dir);
	struct tpkt a, gone, old, ok;
	struct jqueue_info qi;
	struct jrequeue rq[4];
	struct jkey k;
	uint32_t q;
	unsigned n;
	int was;

	RC(journal_queue(j, "child:county-a", JQ_LINK, &q));
	tpkt_init(&a, "county-a/dr-lin", "city-b/dr-wang", 8);    /* never stored */
	tpkt_init(&gone, "county-a/dr-lin", "city-b/dr-wang", 8);
	tpkt_init(&old, "county-a/dr-lin", "city-b/dr-wang", 8);
	tpkt_init(&ok, "county-a/dr-lin", "city-b/dr-wang", 8);
	put_one(j, &gone, &q, 1, 1, 0);
	put_one(j, &old, &q, 1, 1, 100);
	put_one(j, &ok, &q, 1, 1, 0);
	/* gone: cancelled by its source (its body dropped) */
	memcpy(k.id, gone.id, CID_LEN);
	k.leg = JLEG_DOWN;
	RC(journal_cancel(j, &k, "county-a/dr-lin", 2, &was));
	CHECK_EQ(was, 1);
	RC(journal_ack(j, q, 3, 3, &n));

	rq_of(&rq[0], &a, q);
	rq_of(&rq[1], &gone, q);
	rq_of(&rq[2], &old, q);
	rq_of(&rq[3], &ok, q);
	RC(journal_requeue(j, rq, 4, "by test", 500));  /* old's deadline (100) has passed */
	CHECK_EQ(rq[0].result, JRQ_ABSENT);
	CHECK_EQ(rq[1].result, JRQ_PRUNED);
	CHECK_EQ(rq[2].result, JRQ_EXPIRED);
	CHECK_EQ(rq[3].result, JRQ_REQUEUED);
	CHECK_EQ(rq[3].seq, 4);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 1);
	CHECK_EQ(jt_events(j, JEV_REPLAYED), 1);
	/* too many at once */
	CHECK_EQ(journal_requeue(j, rq, JREQUEUE_MAX + 1, "", 500), EINVAL);
	tpkt_free(&a);
	tpkt_free(&gone);
	tpkt_free(&old);
	tpkt_free(&ok);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* Into a queue the record does not name (replay --link toward a new child): added. */
static void
TEST_requeue_other_queue(void)
{
	char *dir = cu_tmpdir("jreplay");
	struct journal *j = jt_open(dir);
	struct jrequeue rq;
	struct jwhere w;
	struct tpkt t;
	uint32_t q[2];
	unsigned n;

	RC(journal_queue(j, "child:county-a", JQ_LINK, &q[0]));
	RC(journal_queue(j, "child:county-b", JQ_LINK, &q[1]));
	tpkt_init(&t, "county-a/dr-lin", "city-b/dr-wang", 8);
	put_one(j, &t, &q[0], 1, 1, 0);
	RC(journal_ack(j, q[0], 1, 2, &n));
	rq_of(&rq, &t, q[1]);
	RC(journal_requeue(j, &rq, 1, "", 3));
	CHECK_EQ(rq.result, JRQ_REQUEUED);
	CHECK_EQ(rq.seq, 1);
	RC(journal_packet_where(j, &rq.key, &w));
	CHECK_EQ(w.nq, 2);
	CHECK_EQ(w.qid[0], q[0]);
	CHECK_EQ(w.waiting[0], 0);
	CHECK_EQ(w.qid[1], q[1]);
	CHECK_EQ(w.qseq[1], 1);
	CHECK_EQ(w.waiting[1], 1);
	free(w.body);
	/* and a cancel now finds it waiting there */
	{
		int was;

		RC(journal_cancel(j, &rq.key, "county-a/dr-lin", 4, &was));
		CHECK_EQ(was, 1);
	}
	tpkt_free(&t);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* A sealed body is bound to its key, not to the rewritten header: it still opens. */
static void
TEST_requeue_sealed(void)
{
	char *dir = cu_tmpdir("jreplay");
	uint8_t sha[CSHA256_LEN];
	struct journal_opts o;
	struct jkeyring ring;
	struct journal *j = NULL;
	struct jrequeue rq;
	struct jentry e;
	struct tpkt t;
	Cascade__Packet *p;
	char err[512];
	uint32_t q;
	unsigned n;

	memset(&ring, 0, sizeof(ring));
	ring.n = 1;
	memset(ring.keys[0].key, 0x5a, JCRYPT_KEY_LEN);
	csha256(ring.keys[0].key, JCRYPT_KEY_LEN, sha);
	memcpy(ring.keys[0].kid, sha, JCRYPT_KID_LEN);
	jt_opts(&o, dir);
	o.keys = &ring;
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_queue(j, "child:county-a", JQ_LINK, &q));
	tpkt_init(&t, "county-a/dr-lin", "city-b/dr-wang", 33);
	put_one(j, &t, &q, 1, 1, 0);
	RC(journal_ack(j, q, 1, 2, &n));
	rq_of(&rq, &t, q);
	RC(journal_requeue(j, &rq, 1, "", 3));
	CHECK_EQ(rq.result, JRQ_REQUEUED);
	RC(journal_peek(j, q, rq.seq, 1, 1 << 20, &e, &n));
	CHECK_EQ(n, 1);
	p = cpkt_decode(e.bytes, e.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(p->payload.len == 33 && memcmp(p->payload.data, t.payload, 33) == 0);
	cpkt_free(p);
	journal_entries_free(&e, n);
	journal_close(j);
	/* and after a reopen (the key count of the sealed body unchanged) */
	j = NULL;
	RC(journal_open(&j, &o, err, sizeof(err)));
	journal_close(j);
	tpkt_free(&t);
	cu_rmtree(dir);
	free(dir);
}

/*
 * move: what waits leaves its place for the end (behind the replayed),
 * unless a link may have sent it; no event; depth and bytes unchanged.
 */
static void
TEST_requeue_move(void)
{
	char *dir = cu_tmpdir("jreplay");
	struct journal *j = jt_open(dir);
	struct jqueue_info qi0, qi;
	struct tpkt t[3];
	struct jrequeue rq[3];
	struct jentry e[4];
	uint32_t q;
	unsigned i, n;

	RC(journal_queue(j, "child:county-a", JQ_LINK, &q));
	for (i = 0; i < 3; i++) {
		tpkt_init(&t[i], "county-a/dr-lin", "city-b/dr-wang", 8);
		put_one(j, &t[i], &q, 1, 1, 0);                 /* seqs 1, 2, 3 */
	}
	RC(journal_queue_info(j, q, &qi0));
	journal_sent_set(j, q, 1);                          /* seq 1 is on the wire */
	for (i = 0; i < 3; i++) {
		rq_of(&rq[i], &t[i], q);
		rq[i].move = 1;
	}
	RC(journal_requeue(j, rq, 3, "", 5));
	CHECK_EQ(rq[0].result, JRQ_WAITING);               /* in flight: stays in front */
	CHECK_EQ(rq[1].result, JRQ_MOVED);
	CHECK_EQ(rq[1].seq, 4);
	CHECK_EQ(rq[2].result, JRQ_MOVED);
	CHECK_EQ(rq[2].seq, 5);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.depth, 3);
	CHECK_EQ(qi.bytes, qi0.bytes);
	CHECK_EQ(qi.next_seq, 6);
	CHECK_EQ(jt_events(j, JEV_REPLAYED), 0);
	RC(journal_peek(j, q, 1, 4, 1 << 20, e, &n));
	CHECK_EQ(n, 3);
	CHECK_EQ(e[0].seq, 1);
	CHECK_EQ(e[1].seq, 4);
	CU_ASSERT(memcmp(e[1].key.id, t[1].id, CID_LEN) == 0);
	CHECK_EQ(e[2].seq, 5);
	CU_ASSERT(memcmp(e[2].key.id, t[2].id, CID_LEN) == 0);
	journal_entries_free(e, n);
	/* acked: a move finds it gone */
	journal_sent_set(j, q, 0);
	RC(journal_ack(j, q, 5, 6, &n));
	CHECK_EQ(n, 3);
	RC(journal_requeue(j, &rq[1], 1, "", 7));
	CHECK_EQ(rq[1].result, JRQ_GONE);
	for (i = 0; i < 3; i++)
		tpkt_free(&t[i]);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_requeue_delivered),
	CU_TEST(TEST_requeue_refused),
	CU_TEST(TEST_requeue_other_queue),
	CU_TEST(TEST_requeue_sealed),
	CU_TEST(TEST_requeue_move),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("journal_replay", tests, argc, argv);
}
