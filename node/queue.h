/*
 * queue.h — the wait/wake registry of node/queue.c (a header of its own
 * because struct sreq in carrier.h embeds a waiter).
 */
#ifndef CASCADE_QUEUE_H
#define CASCADE_QUEUE_H

#include <sys/queue.h>
#include <stdint.h>

/*
 * Who waits for packets in which queue. Loop thread only. The caller owns
 * a waiter (zeroed, then qid, fn and arg set; embedded in struct sreq and
 * struct uplink) and keeps it until it is unwaited. queue_wake(qid) runs
 * every waiter of qid once, in the order they waited. A one-shot waiter is
 * unlinked before its fn runs (fn may wait again, or free what arg points
 * at); a persistent one stays until queue_unwait.
 */
struct qwaiter;
TAILQ_HEAD(qwaiters, qwaiter);
struct qwaiter {
	uint32_t qid;
	void (*fn)(void *arg, uint32_t qid);
	void *arg;
	unsigned persistent:1, linked:1;
	TAILQ_ENTRY(qwaiter) entry;
	struct qwaiters *on;            /* the list it is on while linked */
};
void queue_wait(struct qwaiter *w);     /* again while linked: moves it to the end */
void queue_unwait(struct qwaiter *w);   /* a no-op when not linked */
void queue_wake(uint32_t qid);          /* queue qid has new packets */

#endif
