/*
 * jthread.c — the journal's one writer thread.
 *
 * A county server's disk may take 10-30 ms per fsync; running commits here
 * keeps the network loop and its held pulls responsive meanwhile. Jobs run
 * in submission order, each finished job's done() is posted back to the
 * loop in the order they ran. Batch commits and acks queued one after
 * another share one transaction (group commit): an ack queued with a
 * batch (what the next hop took, what a client or child pulled) costs no
 * fsync of its own. None waits for company: the thread takes what is queued
 * when it gets to it. Between jobs the thread runs journal_maintain (map
 * growth, early prune when the disk is full).
 */
#include "config.h"

#include <pthread.h>

#include "cascaded.h"

#define JGROUP_ITEMS 4096        /* packets in one group commit, at most (but one batch) */

static pthread_t jt_thread;
static pthread_mutex_t jt_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jt_cond = PTHREAD_COND_INITIALIZER;
static TAILQ_HEAD(, jjob) jt_queue = TAILQ_HEAD_INITIALIZER(jt_queue);
static struct journal *jt_journal;
static int jt_stop, jt_running;

static void
jthread_done(void *arg)
{
	struct jjob *job = arg;

	job->done(job);
}

/* Packets (batch items, an ack's receipts) a commit job brings into a group. */
static unsigned
job_items(const struct jjob *job)
{
	if (job->batch != NULL)
		return job->batch->n;
	return job->ack->with != NULL ? job->ack->with->n : 0;
}

/*
 * Takes the commit jobs (batches and acks) queued one after another from
 * the head, jt_lock held, into group[]; returns how many. An ack of a queue
 * already acked in the group ends it: its prep() (the quota keys) reads
 * the journal as committed, which would not yet show the first ack.
 */
static unsigned
group_take(struct jjob **group)
{
	struct jjob *next = TAILQ_FIRST(&jt_queue);
	unsigned n = 0, items = 0, i;

	while (next != NULL && next->run == NULL && n < JGROUP_MAX &&
	    (n == 0 || items + job_items(next) <= JGROUP_ITEMS)) {
		if (next->ack != NULL)
			for (i = 0; i < n; i++)
				if (group[i]->ack != NULL && group[i]->ack->qid == next->ack->qid)
					return n;
		TAILQ_REMOVE(&jt_queue, next, entry);
		items += job_items(next);
		group[n++] = next;
		next = TAILQ_FIRST(&jt_queue);
	}
	return n;
}

/*
 * Commits a group: the acks' prep() first, then every batch and ack whose
 * prep() went well in one transaction.
 */
static void
group_commit(struct jjob **group, unsigned n)
{
	struct jwork ws[JGROUP_MAX];
	struct jjob *in[JGROUP_MAX];
	unsigned i, m = 0;
	int64_t now = cnow_ms();

	for (i = 0; i < n; i++) {
		struct jjob *job = group[i];

		if (job->ack != NULL) {
			if (job->prep != NULL && (job->rc = job->prep(jt_journal, job)) != 0)
				continue;
			job->ack->now_ms = (uint64_t)now;
		} else
			job->batch->now_ms = now;
		ws[m].batch = job->batch;
		ws[m].ack = job->ack;
		in[m++] = job;
	}
	journal_commit_group(jt_journal, ws, m);
	for (i = 0; i < m; i++)
		in[i]->rc = ws[i].rc;
}

static void *
jthread_main(void *unused)
{
	struct jjob *job, *group[JGROUP_MAX];
	unsigned n, i;
	int rc;

	pthread_mutex_lock(&jt_lock);
	for (;;) {
		while (TAILQ_EMPTY(&jt_queue) && !jt_stop)
			pthread_cond_wait(&jt_cond, &jt_lock);
		if (TAILQ_EMPTY(&jt_queue) && jt_stop)
			break;
		job = TAILQ_FIRST(&jt_queue);
		if (job->run != NULL) {
			TAILQ_REMOVE(&jt_queue, job, entry);
			group[0] = job;
			n = 1;
		} else
			n = group_take(group);
		pthread_mutex_unlock(&jt_lock);

		if (job->run != NULL)
			job->rc = job->run(jt_journal, job);
		else
			group_commit(group, n);
		for (i = 0; i < n; i++) {
			/* the message is this thread's: it goes to the loop in the job */
			if (group[i]->rc != 0)
				snprintf(group[i]->err, sizeof(group[i]->err), "%s",
				    journal_errmsg(jt_journal));
			else
				group[i]->err[0] = '\0';
			if (group[i]->done != NULL)
				loop_post(jthread_done, group[i]);
		}
		if ((rc = journal_maintain(jt_journal, cnow_ms())) != 0)
			log_warnx("journal: maintenance: %s", journal_errmsg(jt_journal));

		pthread_mutex_lock(&jt_lock);
	}
	pthread_mutex_unlock(&jt_lock);
	return NULL;
}

void
jthread_start(struct journal *j)
{
	jt_journal = j;
	if (pthread_create(&jt_thread, NULL, jthread_main, NULL) != 0)
		fatal("journal: pthread_create");
	jt_running = 1;
}

void
jthread_submit(struct jjob *job)
{
	pthread_mutex_lock(&jt_lock);
	TAILQ_INSERT_TAIL(&jt_queue, job, entry);
	pthread_cond_signal(&jt_cond);
	pthread_mutex_unlock(&jt_lock);
}

void
jthread_stop(void)
{
	if (!jt_running)
		return;
	pthread_mutex_lock(&jt_lock);
	jt_stop = 1;
	pthread_cond_signal(&jt_cond);
	pthread_mutex_unlock(&jt_lock);
	pthread_join(jt_thread, NULL);
	jt_running = 0;
}
