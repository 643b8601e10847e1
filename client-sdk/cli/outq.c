/*
 * outq.c — standard output through a queue and a writer thread, for
 * cascade batch. The threads that make lines never block on the reader:
 * a script that answers our events on our standard input would otherwise
 * deadlock with us as soon as both pipes are full (we blocked writing our
 * output while it is blocked writing our input, which we no longer read).
 * Lines go out whole, in the order they were put.
 *
 * A write error ends the process at once (exit 6), as SIGPIPE would have:
 * a packet callback that waits for its own line (outq_wait) never returns
 * then, so the SDK never acknowledges that packet and the node keeps it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct qline {
	struct qline *next;
	size_t len;
	char s[];
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* lines put, lines written, stop */
	struct qline *head, *tail;
	uint64_t put, written;          /* lines so far */
	size_t bytes;                   /* queued, not written yet */
	int stop, started;
	pthread_t th;
} Q = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static void
write_failed(void)
{
	fprintf(stderr, "cascade: batch: standard output: %s\n", strerror(errno));
	_exit(EXIT_INTERNAL);
}

static void *
writer(void *arg)
{
	struct qline *l, *next;
	uint64_t n;
	size_t bytes;

	pthread_mutex_lock(&Q.mu);
	for (;;) {
		while (Q.head == NULL && !Q.stop)
			pthread_cond_wait(&Q.cv, &Q.mu);
		if (Q.head == NULL)
			break;
		/* take all that waits, write it without the lock */
		l = Q.head;
		Q.head = Q.tail = NULL;
		pthread_mutex_unlock(&Q.mu);
		for (n = 0, bytes = 0; l != NULL; l = next, n++) {
			if (fwrite(l->s, 1, l->len, stdout) != l->len)
				write_failed();
			bytes += l->len;
			next = l->next;
			free(l);
		}
		if (fflush(stdout) != 0)
			write_failed();
		pthread_mutex_lock(&Q.mu);
		Q.written += n;
		Q.bytes -= bytes;
		pthread_cond_broadcast(&Q.cv);
	}
	pthread_mutex_unlock(&Q.mu);
	return NULL;
}

int
outq_start(void)
{
	if (pthread_create(&Q.th, NULL, writer, NULL) != 0)
		return -1;
	Q.started = 1;
	return 0;
}

uint64_t
outq_put(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
	struct qline *l;
	size_t len;
	uint64_t seq;

	if (s == NULL)
		return 0;
	len = strlen(s);
	if ((l = malloc(sizeof(*l) + len + 1)) == NULL) {
		free(s);
		return 0;
	}
	memcpy(l->s, s, len);
	l->s[len] = '\n';
	l->len = len + 1;
	l->next = NULL;
	free(s);
	pthread_mutex_lock(&Q.mu);
	if (Q.tail != NULL)
		Q.tail->next = l;
	else
		Q.head = l;
	Q.tail = l;
	Q.bytes += l->len;
	seq = ++Q.put;
	pthread_cond_broadcast(&Q.cv);
	pthread_mutex_unlock(&Q.mu);
	return seq;
}

void
outq_wait(uint64_t seq)
{
	pthread_mutex_lock(&Q.mu);
	while (Q.written < seq)
		pthread_cond_wait(&Q.cv, &Q.mu);
	pthread_mutex_unlock(&Q.mu);
}

void
outq_wait_below(size_t bytes)
{
	pthread_mutex_lock(&Q.mu);
	while (Q.bytes > bytes)
		pthread_cond_wait(&Q.cv, &Q.mu);
	pthread_mutex_unlock(&Q.mu);
}

void
outq_close(void)
{
	if (!Q.started)
		return;
	pthread_mutex_lock(&Q.mu);
	Q.stop = 1;
	pthread_cond_broadcast(&Q.cv);
	pthread_mutex_unlock(&Q.mu);
	pthread_join(Q.th, NULL);
	Q.started = 0;
}
