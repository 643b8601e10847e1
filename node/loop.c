/*
 * loop.c — posting work onto the libevent loop from other threads.
 *
 * nng completes its aios on its own threads and the journal thread finishes
 * jobs on its own; both hand results to the loop thread through here, which
 * owns every daemon structure.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "cascaded.h"

struct posted {
	void (*fn)(void *);
	void *arg;
	STAILQ_ENTRY(posted) entry;
};

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static STAILQ_HEAD(, posted) loop_queue = STAILQ_HEAD_INITIALIZER(loop_queue);
static struct event *loop_ev, *flush_ev;
static int loop_pending;

/*
 * The held-back counts of repeated log lines go out even when the errors
 * stop: the timer is armed for the next count due, and only while one is
 * held (log_on_held wakes it when the first line of a window is held back).
 */
static void
loop_log_flush(evutil_socket_t fd, short what, void *unused)
{
	int64_t ms = log_flush();

	if (ms >= 0) {
		struct timeval tv;

		ms += 10;       /* due by then: the window is over */
		tv.tv_sec = (time_t)(ms / 1000);
		tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
		evtimer_add(flush_ev, &tv);
	}
}

/* Any thread (log.c): runs loop_log_flush on the loop, which arms the timer. */
static void
loop_log_held(void)
{
	pthread_mutex_lock(&loop_lock);
	if (flush_ev != NULL)   /* not after loop_shutdown */
		event_active(flush_ev, EV_TIMEOUT, 0);
	pthread_mutex_unlock(&loop_lock);
}

static void
loop_drain(evutil_socket_t fd, short what, void *unused)
{
	STAILQ_HEAD(, posted) batch = STAILQ_HEAD_INITIALIZER(batch);
	struct posted *p;

	pthread_mutex_lock(&loop_lock);
	STAILQ_CONCAT(&batch, &loop_queue);
	loop_pending = 0;
	pthread_mutex_unlock(&loop_lock);
	while ((p = STAILQ_FIRST(&batch)) != NULL) {
		STAILQ_REMOVE_HEAD(&batch, entry);
		p->fn(p->arg);
		free(p);
	}
}

void
loop_init(struct event_base *base)
{
	loop_ev = event_new(base, -1, 0, loop_drain, NULL);
	flush_ev = evtimer_new(base, loop_log_flush, NULL);
	if (loop_ev == NULL || flush_ev == NULL)
		fatalx("loop: event_new failed");
	log_on_held(loop_log_held);
	loop_log_flush(-1, 0, NULL);    /* lines held before the loop was up */
}

void
loop_post(void (*fn)(void *), void *arg)
{
	struct posted *p = xmalloc(sizeof(*p));
	int wake;

	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&loop_lock);
	STAILQ_INSERT_TAIL(&loop_queue, p, entry);
	wake = !loop_pending;
	loop_pending = 1;
	pthread_mutex_unlock(&loop_lock);
	/* thread-safe: evthread_use_pthreads() ran before the base was made */
	if (wake)
		event_active(loop_ev, 0, 0);
}

void
loop_shutdown(void)
{
	if (loop_ev != NULL) {
		event_free(loop_ev);
		loop_ev = NULL;
	}
	log_on_held(NULL);
	pthread_mutex_lock(&loop_lock);
	if (flush_ev != NULL) {
		event_free(flush_ev);
		flush_ev = NULL;
	}
	pthread_mutex_unlock(&loop_lock);
	(void)log_flush();
}
