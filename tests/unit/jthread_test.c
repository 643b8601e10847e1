/*
 * jthread_test.c — the journal thread's order of work: jobs in submission
 * order; batch commits and acks queued one after another share one
 * transaction (one LMDB commit), except two acks of one queue.
 *
 * The real jthread and loop on a real journal in a temporary directory; a
 * first job holds the thread until the rest is queued, so the queue's order
 * at pick time is the one each test sets up. The order of done() callbacks
 * on the loop is the order the jobs ran in.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "cu.h"
#include "jtest.h"
#include "cascaded.h"

#define MAXJOBS 8

static struct event_base *base;
static struct journal *jr;
static char dir[] = "/tmp/cascade-jthread-test.XXXXXX";

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_running, gate_open;

static char order[MAXJOBS + 1];         /* names of finished jobs, in order */
static int ndone, nwant;

static uint32_t ackq;                   /* the queue the ack jobs ack */
static uint64_t ack_upto;

struct tjob {
	struct jjob job;
	struct jbatch b;
	struct jack ack;
	char name;
};

/* The first job: says it runs, then waits until the test opens the gate. */
static int
gate_run(struct journal *j, struct jjob *job)
{
	pthread_mutex_lock(&gate_lock);
	gate_running = 1;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	return 0;
}

static int
plain_run(struct journal *j, struct jjob *job)
{
	return 0;
}

static void
tjob_done(struct jjob *job)
{
	struct tjob *t = (struct tjob *)job;

	order[ndone++] = t->name;
	if (ndone == nwant)
		event_base_loopbreak(base);
}

static void
tjob_init(struct tjob *t, char name)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->job.done = tjob_done;
	if (name >= 'A' && name <= 'Z') {
		t->b.peer = "";         /* local, no items: an empty group commit */
		t->job.batch = &t->b;
	} else if (name == 'k') {
		t->ack.qid = ackq;
		t->ack.upto = ack_upto;
		t->job.ack = &t->ack;
	} else
		t->job.run = plain_run;
}

/* LMDB commits so far. */
static uint64_t
commits(void)
{
	struct jhist c, s;

	journal_latency(jr, &c, &s);
	return s.count;
}

/*
 * Runs spec with the thread held by a gate job "g" until all are queued:
 * one letter per job, upper case a batch, 'k' an ack of ackq up to
 * ack_upto, any other lower case letter a plain run job. Returns the order
 * they finished.
 */
static const char *
run_spec(const char *spec)
{
	struct tjob jobs[MAXJOBS];
	struct timeval limit = { 10, 0 };
	size_t i, n = strlen(spec);

	CU_ASSERT_FATAL(n + 1 <= MAXJOBS);
	memset(order, 0, sizeof(order));
	ndone = 0;
	nwant = (int)n + 1;
	gate_running = gate_open = 0;
	tjob_init(&jobs[0], 'g');
	jobs[0].job.run = gate_run;
	jthread_submit(&jobs[0].job);
	pthread_mutex_lock(&gate_lock);
	while (!gate_running)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	for (i = 0; i < n; i++) {
		tjob_init(&jobs[i + 1], spec[i]);
		jthread_submit(&jobs[i + 1].job);
	}
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	event_base_loopexit(base, &limit);      /* a stuck thread fails, not hangs */
	event_base_dispatch(base);
	CHECK_EQ(ndone, nwant);
	for (i = 0; i < n; i++)
		if (jobs[i + 1].job.rc != 0)
			CU_FAIL("a job failed");
	return order;
}

/* Puts n local packets in ackq; ack_upto becomes its last seq. */
static void
queue_packets(unsigned n)
{
	struct jqueue_info qi;

	CHECK_EQ(jt_insert(jr, ackq, n, 16, cnow_ms(), 0, NULL), 0);
	CHECK_EQ(journal_queue_info(jr, ackq, &qi), 0);
	ack_upto = qi.next_seq - 1;
}

static void
TEST_plain_jobs_keep_their_order(void)
{
	CU_ASSERT_STRING_EQUAL(run_spec("aBcD"), "gaBcD");
}

static void
TEST_acks_and_batches_keep_their_order(void)
{
	queue_packets(2);
	CU_ASSERT_STRING_EQUAL(run_spec("kBxCk"), "gkBxCk");
}

static void
TEST_an_ack_shares_the_batch_commit(void)
{
	struct jqueue_info qi;
	uint64_t before;

	queue_packets(3);
	before = commits();
	CU_ASSERT_STRING_EQUAL(run_spec("kB"), "gkB");
	/* one transaction for both: the ack costs no commit of its own */
	CHECK_EQ(commits() - before, 1);
	CHECK_EQ(journal_queue_info(jr, ackq, &qi), 0);
	CHECK_EQ(qi.acked_seq, ack_upto);
	CHECK_EQ(qi.depth, 0);
}

static void
TEST_batches_and_acks_go_as_one_group(void)
{
	uint64_t before;

	queue_packets(1);
	before = commits();
	CU_ASSERT_STRING_EQUAL(run_spec("BkC"), "gBkC");
	CHECK_EQ(commits() - before, 1);
}

static void
TEST_a_plain_job_ends_the_group(void)
{
	uint64_t before;

	queue_packets(1);
	before = commits();
	CU_ASSERT_STRING_EQUAL(run_spec("kaB"), "gkaB");
	CHECK_EQ(commits() - before, 2);
}

static void
TEST_a_second_ack_of_one_queue_starts_a_group(void)
{
	uint64_t before;

	queue_packets(1);
	before = commits();
	/* k B, then the second k (a no-op: acked already) with C */
	CU_ASSERT_STRING_EQUAL(run_spec("kBkC"), "gkBkC");
	CHECK_EQ(commits() - before, 2);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_plain_jobs_keep_their_order),
	CU_TEST(TEST_acks_and_batches_keep_their_order),
	CU_TEST(TEST_an_ack_shares_the_batch_commit),
	CU_TEST(TEST_batches_and_acks_go_as_one_group),
	CU_TEST(TEST_a_plain_job_ends_the_group),
	CU_TEST(TEST_a_second_ack_of_one_queue_starts_a_group),
	CU_END
};

int
main(int argc, char **argv)
{
	struct journal_opts o;
	char err[512], cmd[64];
	int rc;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	evthread_use_pthreads();
	base = event_base_new();
	loop_init(base);
	jt_opts(&o, dir);
	if (journal_open(&jr, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "jthread_test: %s\n", err);
		return 1;
	}
	if (journal_queue(jr, "client:county-a/dr-lin", JQ_CLIENT, &ackq) != 0) {
		fprintf(stderr, "jthread_test: queue: %s\n", journal_errmsg(jr));
		return 1;
	}
	jthread_start(jr);
	rc = cu_main("jthread", tests, argc, argv);
	jthread_stop();
	loop_shutdown();
	journal_close(jr);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
