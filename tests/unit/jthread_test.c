/*
 * jthread_test.c — the journal thread's order of work: jobs in submission
 * order, except that a batch commit may go ahead of deferrable jobs (the
 * uplink's acks) queued before it, once per such job.
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

struct tjob {
	struct jjob job;
	struct jbatch b;
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
tjob_init(struct tjob *t, char name, int batch, int deferrable)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->job.done = tjob_done;
	t->job.deferrable = deferrable;
	if (batch) {
		t->b.peer = "";         /* local, no items: an empty group commit */
		t->job.batch = &t->b;
	} else
		t->job.run = plain_run;
}

/*
 * Runs spec with the thread held by a gate job "g" until all are queued:
 * one letter per job, upper case a batch, 'd' a deferrable run job, any
 * other lower case letter a plain run job. Returns the order they finished.
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
	tjob_init(&jobs[0], 'g', 0, 0);
	jobs[0].job.run = gate_run;
	jthread_submit(&jobs[0].job);
	pthread_mutex_lock(&gate_lock);
	while (!gate_running)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	for (i = 0; i < n; i++) {
		char c = spec[i];

		tjob_init(&jobs[i + 1], c, c >= 'A' && c <= 'Z', c == 'd');
		jthread_submit(&jobs[i + 1].job);
	}
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	event_base_loopexit(base, &limit);      /* a stuck thread fails, not hangs */
	event_base_dispatch(base);
	CHECK_EQ(ndone, nwant);
	return order;
}

static void
TEST_plain_jobs_keep_their_order(void)
{
	CU_ASSERT_STRING_EQUAL(run_spec("aBcD"), "gaBcD");
}

static void
TEST_batch_overtakes_a_deferrable_job(void)
{
	CU_ASSERT_STRING_EQUAL(run_spec("dB"), "gBd");
}

static void
TEST_the_batches_behind_it_go_as_one_group(void)
{
	/* B and C share a transaction; d after them */
	CU_ASSERT_STRING_EQUAL(run_spec("dBC"), "gBCd");
}

static void
TEST_overtaken_once_at_most(void)
{
	/* B goes first; then d runs before x and C, which keep their order */
	CU_ASSERT_STRING_EQUAL(run_spec("dBxC"), "gBdxC");
}

static void
TEST_no_batch_overtakes_a_plain_job(void)
{
	/* a plain job between the deferrable one and the batch stops the look */
	CU_ASSERT_STRING_EQUAL(run_spec("daB"), "gdaB");
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_plain_jobs_keep_their_order),
	CU_TEST(TEST_batch_overtakes_a_deferrable_job),
	CU_TEST(TEST_the_batches_behind_it_go_as_one_group),
	CU_TEST(TEST_overtaken_once_at_most),
	CU_TEST(TEST_no_batch_overtakes_a_plain_job),
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
