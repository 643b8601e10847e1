/*
 * queue.c — who waits for packets in which queue. Custody wakes a queue
 * (queue_wake) when it has taken packets into it; the waiters are a held
 * pull (server.c, one-shot) and the uplink's pusher (uplink.c, persistent),
 * so the code that fills a queue need not know who empties it.
 *
 * Loop thread only. Waiters are owned by their callers (embedded in struct
 * sreq and struct uplink): nothing here allocates.
 */
#include "config.h"

#include "cascaded.h"

#define QUEUE_BUCKETS 256               /* by qid & 255: a wake looks at one short list */

static struct qwaiters buckets[QUEUE_BUCKETS];
static int buckets_ready;

static struct qwaiters *
bucket_of(uint32_t qid)
{
	if (!buckets_ready) {
		unsigned i;

		for (i = 0; i < QUEUE_BUCKETS; i++)
			TAILQ_INIT(&buckets[i]);
		buckets_ready = 1;
	}
	return &buckets[qid & (QUEUE_BUCKETS - 1)];
}

void
queue_wait(struct qwaiter *w)
{
	if (w->linked)
		queue_unwait(w);
	w->on = bucket_of(w->qid);
	TAILQ_INSERT_TAIL(w->on, w, entry);
	w->linked = 1;
}

void
queue_unwait(struct qwaiter *w)
{
	if (!w->linked)
		return;
	/* on is the bucket, or the list of a wake in progress that has not run w yet */
	TAILQ_REMOVE(w->on, w, entry);
	w->on = NULL;
	w->linked = 0;
}

/*
 * The waiters of qid are first moved to a list of this wake, so that one a
 * fn registers (a pull that finds nothing after all waits again) waits for
 * the next wake, not this one. A waiter unwaited by an earlier fn (its
 * session ended, its sreq is freed) is taken off that list and not run.
 */
void
queue_wake(uint32_t qid)
{
	struct qwaiters *b = bucket_of(qid), due = TAILQ_HEAD_INITIALIZER(due);
	struct qwaiter *w, *t;

	TAILQ_FOREACH_SAFE(w, b, entry, t) {
		if (w->qid != qid)
			continue;
		TAILQ_REMOVE(b, w, entry);
		TAILQ_INSERT_TAIL(&due, w, entry);
		w->on = &due;
	}
	while ((w = TAILQ_FIRST(&due)) != NULL) {
		TAILQ_REMOVE(&due, w, entry);
		if (w->persistent) {
			/* back in the bucket before fn runs: fn may unwait it */
			w->on = b;
			TAILQ_INSERT_TAIL(b, w, entry);
		} else {
			/* unlinked before fn runs: fn may wait again or free w */
			w->on = NULL;
			w->linked = 0;
		}
		w->fn(w->arg, qid);
	}
}
