/*
 * nngclose.c — closing an nng socket without letting nng hang its caller.
 *
 * nng 1.5.2 as Debian 12 ships it can hang nng_close for good: its reaper
 * wedges tearing down a tls pipe (nng issue 1543), and a dialer can stop
 * redialing while its socket stays open (cascade issue 17). The daemon's
 * loop, its shutdown and cascade_close must not hang with it, so the close
 * runs on a thread of its own; the caller waits for it a bounded time (or
 * not at all) and, when it does not return, goes on without it: the socket's
 * memory and one thread leak, nothing else.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>

#include "packets.h"

/* Closes running in the background, for cnng_close_drain. */
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pending_cv = PTHREAD_COND_INITIALIZER;
static int pending;

static void
pending_add(int n)
{
	pthread_mutex_lock(&pending_mu);
	pending += n;
	if (pending == 0)
		pthread_cond_broadcast(&pending_cv);
	pthread_mutex_unlock(&pending_mu);
}

/* The absolute CLOCK_REALTIME time wait_ms from now. */
static struct timespec
deadline_in(int wait_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

struct closer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, refs;
	nng_socket sock;
	void (*after)(void *);
	void *arg;
};

static void
closer_rele(struct closer *k)
{
	int last;

	pthread_mutex_lock(&k->mu);
	last = --k->refs == 0;
	pthread_mutex_unlock(&k->mu);
	if (last) {
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->cv);
		free(k);
	}
}

static void *
closer_main(void *arg)
{
	struct closer *k = arg;

	nng_close(k->sock);
	if (k->after != NULL)
		k->after(k->arg);
	pthread_mutex_lock(&k->mu);
	k->done = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	closer_rele(k);
	pending_add(-1);
	return NULL;
}

int
cnng_close_bounded(nng_socket sock, int wait_ms, void (*after)(void *), void *arg)
{
	struct closer *k;
	struct timespec ts;
	pthread_attr_t attr;
	pthread_t thr;
	int done;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		/* no memory for a thread's state: close right here, unguarded */
		nng_close(sock);
		if (after != NULL)
			after(arg);
		return 1;
	}
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->sock = sock;
	k->after = after;
	k->arg = arg;
	k->refs = 2;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pending_add(1);         /* closer_main takes it off */
	if (pthread_create(&thr, &attr, closer_main, k) != 0) {
		pthread_attr_destroy(&attr);
		k->refs = 1;
		closer_main(k);         /* frees k */
		return 1;
	}
	pthread_attr_destroy(&attr);
	ts = deadline_in(wait_ms);
	pthread_mutex_lock(&k->mu);
	while (!k->done && wait_ms > 0)
		if (pthread_cond_timedwait(&k->cv, &k->mu, &ts) == ETIMEDOUT)
			break;
	done = k->done;
	pthread_mutex_unlock(&k->mu);
	closer_rele(k);
	return done;
}

int
cnng_close_drain(int wait_ms)
{
	struct timespec ts = deadline_in(wait_ms);
	int left;

	pthread_mutex_lock(&pending_mu);
	while (pending > 0)
		if (pthread_cond_timedwait(&pending_cv, &pending_mu, &ts) == ETIMEDOUT)
			break;
	left = pending;
	pthread_mutex_unlock(&pending_mu);
	return left == 0;
}

/* nng_fini on a thread of its own, counted with the closes for cnng_close_drain. */
static void *
fini_main(void *arg)
{
	nng_fini();
	pending_add(-1);
	return arg;
}

int
cnng_fini_bounded(int wait_ms)
{
	pthread_attr_t attr;
	pthread_t thr;
	int rc;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pending_add(1);
	rc = pthread_create(&thr, &attr, fini_main, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		pending_add(-1);
		return 0;
	}
	return cnng_close_drain(wait_ms);
}
