/*
 * journal_full_test.c — full disk is backpressure, not loss: a map that may
 * not grow refuses new packets at its soft limit while acks still commit,
 * early pruning of delivered bodies lets inserts resume, a map that may
 * grow never refuses, and a map that fills in the middle of a batch keeps
 * what fit.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "journal.h"
#include "jtest.h"

#define RC(expr) CHECK_RC(expr, journal_strerror)

static void
TEST_full_backpressure(void)
{
	char *dir = cu_tmpdir("jfull");
	struct journal_opts o;
	struct journal *j;
	struct jqueue_info qi;
	struct jstats st;
	struct jbatch b;
	uint64_t events, verified, bad, queued_at_full = 0;
	unsigned i, n, big = 0;
	char err[512];
	uint32_t q;
	int rc = 0;

	jt_opts(&o, dir);
	o.map_size = 24 * 1024 * 1024;
	o.disk_floor = UINT64_MAX / 2;          /* no filesystem has that: never grow */
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));

	/* 10 000 small packets first, well under the limit */
	for (i = 0; i < 100; i++) {
		RC(jt_insert(j, q, 100, 16, 1000, 0, &b));
		CHECK_EQ(b.accepted, 100);
	}
	CHECK_EQ(journal_is_full(j), 0);
	/* then bigger ones (their bodies take pages of their own) until refused */
	for (i = 0; i < 5000; i++) {
		rc = jt_insert(j, q, 1, 16 * 1024, 2000, 0, &b);
		if (rc == JOURNAL_FULL)
			break;
		RC(rc);
		big++;
	}
	CHECK_EQ(rc, JOURNAL_FULL);
	CHECK_EQ(b.full, 1);
	CU_ASSERT(big > 100);
	CHECK_EQ(journal_is_full(j), 1);
	RC(journal_stats(j, &st));
	queued_at_full = st.queued;
	CU_ASSERT(queued_at_full >= 10000);
	/* the soft limit as the journal counts it (whole pages, rounded down) */
	CU_ASSERT(st.pages_used >= st.pages_total * 80 / 100);
	CHECK_EQ(st.full, 1);
	CHECK_EQ(st.grows, 0);
	CHECK_EQ(st.map_size, o.map_size);
	events = st.events;
	/* still refused, and the refusal stores nothing */
	CHECK_EQ(jt_insert(j, q, 3, 10, 3000, 0, &b), JOURNAL_FULL);
	CHECK_EQ(b.full, 3);
	CHECK_EQ(b.accepted, 0);

	/* 10 000 acks, each its own transaction with its event, still commit */
	for (i = 1; i <= 10000; i++) {
		rc = journal_ack(j, q, i, 4000, &n);
		if (rc != 0 || n != 1) {
			fprintf(stderr, "ack %u: %s (n %u)\n", i, journal_errmsg(j), n);
			break;
		}
	}
	CHECK_EQ(i, 10001);
	RC(journal_queue_info(j, q, &qi));
	CHECK_EQ(qi.acked_seq, 10000);
	CHECK_EQ(qi.depth, big);
	RC(journal_stats(j, &st));
	CHECK_EQ(st.events, events + 10000);
	CHECK_EQ(jt_events(j, JEV_FORWARDED), 10000);
	/* the rest are big ones, acked too so their bodies may go */
	RC(journal_ack(j, q, 10000 + big, 4000, &n));
	CHECK_EQ(n, big);
	/* still over the limit: acks added more than their deletes freed */
	CHECK_EQ(journal_is_full(j), 1);

	/* maintain drops delivered bodies early: inserts resume */
	RC(journal_maintain(j, 5000));
	RC(journal_stats(j, &st));
	CU_ASSERT(st.body_prunes > 0);
	CHECK_EQ(st.full, 0);
	CHECK_EQ(jt_events(j, JEV_BODY_PRUNED), st.body_prunes);
	CHECK_EQ(st.packets, 10000 + big);     /* records stay, bodies went */
	RC(jt_insert(j, q, 5, 100, 6000, 0, &b));
	CHECK_EQ(b.accepted, 5);
	RC(journal_verify(j, &verified, &bad));
	CHECK_EQ(bad, 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static void
TEST_full_grow(void)
{
	char *dir = cu_tmpdir("jfull");
	struct journal_opts o;
	struct journal *j;
	struct jstats st;
	struct jbatch b;
	char err[512];
	unsigned i;
	uint32_t q;

	jt_opts(&o, dir);
	o.map_size = 1024 * 1024;
	o.disk_floor = 0;
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));
	for (i = 0; i < 150; i++) {
		RC(jt_insert(j, q, 20, 2000, 1000, 0, &b));
		CHECK_EQ(b.accepted, 20);
		CHECK_EQ(b.full, 0);
		CHECK_EQ(journal_is_full(j), 0);
	}
	RC(journal_stats(j, &st));
	CHECK_EQ(st.packets, 3000);
	CU_ASSERT(st.map_size >= 6 * o.map_size);
	CU_ASSERT(st.grows >= 4);
	CHECK_EQ(st.full, 0);
	journal_close(j);

	/* the grown map is kept on reopen even when a smaller one is asked for */
	RC(journal_open(&j, &o, err, sizeof(err)));
	{
		struct jstats st2;

		RC(journal_stats(j, &st2));
		CHECK_EQ(st2.map_size, st.map_size);
	}
	journal_close(j);

	/* map_max stops growth: then the journal is full */
	jt_opts(&o, dir);
	o.map_size = 1024 * 1024;
	o.map_max = st.map_size;
	RC(journal_open(&j, &o, err, sizeof(err)));
	for (i = 0; i < 200 && !journal_is_full(j); i++)
		(void)jt_insert(j, q, 20, 2000, 1000, 0, &b);
	CHECK_EQ(journal_is_full(j), 1);
	RC(journal_stats(j, &st));
	CHECK_EQ(st.map_size, o.map_max);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* The map fills in the middle of a batch: what fit is committed. */
static void
TEST_full_mid_batch(void)
{
	char *dir = cu_tmpdir("jfull");
	struct journal_opts o;
	struct journal *j;
	struct tpkt *t;
	struct jitem *it;
	struct jbatch b;
	struct jkey key;
	uint64_t mark, count, bad;
	uint8_t *bytes;
	size_t len;
	unsigned i, n = 200, first_full = 0;
	char err[512];
	uint32_t q;
	int rc;

	jt_opts(&o, dir);
	o.map_size = 1024 * 1024;
	o.disk_floor = UINT64_MAX / 2;
	o.soft_pct = 99;                /* let the map itself fill */
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));
	t = calloc(n, sizeof(*t));
	it = calloc(n, sizeof(*it));
	for (i = 0; i < n; i++) {
		tpkt_init(&t[i], "clinic-x/app", "master", 9000);
		it[i].pkt = &t[i].p;
		it[i].seq = 100 + i;
		it[i].queues[0] = q;
		it[i].nqueues = 1;
	}
	memset(&b, 0, sizeof(b));
	b.peer = "child:clinic-x";
	b.epoch = 42;
	b.first_seq = 100;
	b.last_seq = 100 + n - 1;
	b.items = it;
	b.n = n;
	b.now_ms = 1;
	rc = journal_commit_batch(j, &b);
	CHECK_EQ(rc, JOURNAL_FULL);
	CU_ASSERT(b.accepted > 10);
	CHECK_EQ(b.accepted + b.full, n);
	for (i = 0; i < n && it[i].result == JR_ACCEPTED; i++)
		;
	first_full = i;
	CHECK_EQ(first_full, b.accepted);
	for (; i < n; i++)
		CHECK_EQ(it[i].result, JR_FULL);
	CHECK_EQ(b.mark, 100 + first_full - 1);
	RC(journal_mark_get(j, "child:clinic-x", 42, &mark));
	CHECK_EQ(mark, b.mark);
	/* what fit is really there, what did not is not */
	memcpy(key.id, t[first_full - 1].id, CID_LEN);
	key.leg = JLEG_UP;
	RC(journal_packet_get(j, &key, &bytes, &len, NULL));
	free(bytes);
	memcpy(key.id, t[first_full].id, CID_LEN);
	CHECK_EQ(journal_packet_get(j, &key, &bytes, &len, NULL), JOURNAL_NOT_FOUND);
	CHECK_EQ(jt_events(j, JEV_ACCEPTED), first_full);
	RC(journal_verify(j, &count, &bad));
	CHECK_EQ(count, first_full);
	for (i = 0; i < n; i++)
		tpkt_free(&t[i]);
	free(t);
	free(it);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

struct readers {
	struct journal *j;
	uint32_t q;
	atomic_int stop;
	atomic_uint rounds, errors;
};

static void *
reader_main(void *arg)
{
	struct readers *r = arg;
	struct jentry e[8];
	struct jqueue_info qi;
	struct jstats st;
	unsigned n;

	while (!atomic_load(&r->stop)) {
		if (journal_stats(r->j, &st) != 0 || journal_queue_info(r->j, r->q, &qi) != 0)
			atomic_fetch_add(&r->errors, 1);
		if (journal_peek(r->j, r->q, qi.acked_seq + 1, 8, 1 << 20, e, &n) != 0)
			atomic_fetch_add(&r->errors, 1);
		else
			journal_entries_free(e, n);
		atomic_fetch_add(&r->rounds, 1);
	}
	return NULL;
}

/* Growth waits for read transactions on other threads (MDB_NOTLS, the rwlock). */
static void
TEST_grow_with_readers(void)
{
	char *dir = cu_tmpdir("jfull");
	struct journal_opts o;
	struct readers r;
	struct jstats st;
	struct jbatch b;
	pthread_t th[2];
	char err[512];
	unsigned i, n;

	jt_opts(&o, dir);
	o.map_size = 512 * 1024;
	RC(journal_open(&r.j, &o, err, sizeof(err)));
	RC(journal_queue(r.j, "up", JQ_LINK, &r.q));
	atomic_init(&r.stop, 0);
	atomic_init(&r.rounds, 0);
	atomic_init(&r.errors, 0);
	for (i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, reader_main, &r), 0);
	for (i = 0; i < 100; i++) {
		RC(jt_insert(r.j, r.q, 10, 3000, 1000, 0, &b));
		CHECK_EQ(b.accepted, 10);
		if (i % 10 == 9)
			RC(journal_ack(r.j, r.q, (i + 1) * 10 - 50, 1000, &n));
	}
	atomic_store(&r.stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(atomic_load(&r.errors), 0);
	CU_ASSERT(atomic_load(&r.rounds) > 0);
	RC(journal_stats(r.j, &st));
	CU_ASSERT(st.grows >= 3);
	CHECK_EQ(st.packets, 1000);
	journal_close(r.j);
	cu_rmtree(dir);
	free(dir);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_full_backpressure),
	CU_TEST(TEST_full_grow),
	CU_TEST(TEST_full_mid_batch),
	CU_TEST(TEST_grow_with_readers),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("journal_full", tests, argc, argv);
}
