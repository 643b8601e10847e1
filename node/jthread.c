/*
 * jthread.c — the journal's one writer thread.
 *
 * A county server's disk may take 10-30 ms per fsync; running commits here
 * keeps the network loop and its held pulls responsive meanwhile. Jobs run
 * in submission order (but see jthread_pick), each finished job's done()
 * is posted back to the loop in the order they ran. Batch commits queued
 * one after another share one transaction (group commit); none waits for
 * company: the thread takes what is queued when it gets to it. Between jobs the thread runs journal_maintain
 * (map growth, early prune when the disk is full).
 */
#include "config.h"

#include <pthread.h>

#include "cascaded.h"

#define JGROUP_ITEMS 4096        /* packets in one group commit, at most */

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

/*
 * The job to run next, jt_lock held: the first in the queue, unless it and
 * the ones after it are deferrable jobs not yet overtaken and a batch commit
 * follows them. That batch (and the group behind it) goes first: a packet's
 * way through the chain waits for four commits, not also for the acks that
 * come back between them (each a durable commit of its own). A deferrable
 * job is overtaken once at most, so under load acks still run between groups.
 */
static struct jjob *
jthread_pick(void)
{
	struct jjob *head = TAILQ_FIRST(&jt_queue), *j;

	for (j = head; j != NULL && j->deferrable && !j->deferred; j = TAILQ_NEXT(j, entry))
		;
	if (j == head || j == NULL || j->run != NULL)
		return head;
	for (; head != j; head = TAILQ_NEXT(head, entry))
		head->deferred = 1;
	return j;
}

static void *
jthread_main(void *unused)
{
	struct jjob *job, *next, *group[JGROUP_MAX];
	struct jbatch *batches[JGROUP_MAX];
	int rcs[JGROUP_MAX], rc;
	unsigned n, i, items;
	int64_t now;

	pthread_mutex_lock(&jt_lock);
	for (;;) {
		while (TAILQ_EMPTY(&jt_queue) && !jt_stop)
			pthread_cond_wait(&jt_cond, &jt_lock);
		if (TAILQ_EMPTY(&jt_queue) && jt_stop)
			break;
		job = jthread_pick();
		next = TAILQ_NEXT(job, entry);
		TAILQ_REMOVE(&jt_queue, job, entry);
		n = 1;
		group[0] = job;
		if (job->run == NULL) {
			/* batches queued together share a transaction and its fsync */
			items = job->batch->n;
			while (n < JGROUP_MAX && next != NULL && next->run == NULL &&
			    items + next->batch->n <= JGROUP_ITEMS) {
				struct jjob *after = TAILQ_NEXT(next, entry);

				TAILQ_REMOVE(&jt_queue, next, entry);
				items += next->batch->n;
				group[n++] = next;
				next = after;
			}
		}
		pthread_mutex_unlock(&jt_lock);

		if (job->run != NULL)
			job->rc = job->run(jt_journal, job);
		else {
			now = cnow_ms();
			for (i = 0; i < n; i++) {
				group[i]->batch->now_ms = now;
				batches[i] = group[i]->batch;
			}
			journal_commit_batches(jt_journal, batches, n, rcs);
			for (i = 0; i < n; i++)
				group[i]->rc = rcs[i];
		}
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
