/*
 * queue_test.c — node/queue.c, the wait/wake registry: a wake runs each of
 * its queue's waiters once and only those, one-shot waiters are unlinked
 * before they run (they may wait again, or be freed), a persistent one
 * stays, and a waiter unwaited by an earlier one in the same wake is not run.
 */
#include "config.h"

#include <string.h>

#include "cu.h"
#include "cascaded.h"

#define NRUN 16

/* What the waiters' fn saw, in order. */
static struct qwaiter *ran[NRUN];
static unsigned nran;
/* what a fn does besides recording itself */
static struct qwaiter *rewait;          /* waits again */
static struct qwaiter *unwait_other;    /* unwaits this one (its owner is gone) */

static void
record(void *arg, uint32_t qid)
{
	struct qwaiter *w = arg;

	CHECK_EQ(w->qid, qid);
	if (nran < NRUN)
		ran[nran++] = w;
	if (w == rewait)
		queue_wait(w);
	if (unwait_other != NULL) {
		queue_unwait(unwait_other);
		memset(unwait_other, 0xa5, sizeof(*unwait_other)); /* "freed" */
		unwait_other = NULL;
	}
}

static void
waiter(struct qwaiter *w, uint32_t qid, int persistent)
{
	memset(w, 0, sizeof(*w));
	w->qid = qid;
	w->fn = record;
	w->arg = w;
	w->persistent = persistent ? 1 : 0;
	queue_wait(w);
}

static void
reset(void)
{
	nran = 0;
	rewait = NULL;
	unwait_other = NULL;
}

static void
TEST_wake_runs_once_and_unlinks(void)
{
	struct qwaiter a, b, other, same_bucket;

	reset();
	waiter(&a, 7, 0);
	waiter(&other, 8, 0);
	waiter(&same_bucket, 7 + 256, 0);       /* shares qid 7's bucket */
	waiter(&b, 7, 0);
	queue_wake(7);
	CHECK_EQ(nran, 2);
	CU_ASSERT_PTR_EQUAL(ran[0], &a);        /* in the order they waited */
	CU_ASSERT_PTR_EQUAL(ran[1], &b);
	CHECK_EQ(a.linked, 0);
	CHECK_EQ(b.linked, 0);
	CHECK_EQ(other.linked, 1);
	CHECK_EQ(same_bucket.linked, 1);
	/* a second wake finds nobody: a held pull is answered once */
	queue_wake(7);
	CHECK_EQ(nran, 2);
	queue_wake(7 + 256);
	CHECK_EQ(nran, 3);
	CU_ASSERT_PTR_EQUAL(ran[2], &same_bucket);
	queue_unwait(&other);
	queue_wake(8);
	CHECK_EQ(nran, 3);
}

static void
TEST_persistent_waiter_stays(void)
{
	struct qwaiter up, pull;

	reset();
	waiter(&up, 3, 1);
	waiter(&pull, 3, 0);
	queue_wake(3);
	queue_wake(3);
	queue_wake(3);
	CHECK_EQ(nran, 4);
	CU_ASSERT_PTR_EQUAL(ran[0], &up);
	CU_ASSERT_PTR_EQUAL(ran[1], &pull);
	CU_ASSERT_PTR_EQUAL(ran[2], &up);
	CU_ASSERT_PTR_EQUAL(ran[3], &up);
	CHECK_EQ(up.linked, 1);
	queue_unwait(&up);
	CHECK_EQ(up.linked, 0);
	queue_wake(3);
	CHECK_EQ(nran, 4);
}

/* A pull that finds nothing after all waits again: for the next wake, not this one. */
static void
TEST_fn_may_rewait(void)
{
	struct qwaiter a, b;

	reset();
	waiter(&a, 11, 0);
	waiter(&b, 11, 0);
	rewait = &a;
	queue_wake(11);
	CHECK_EQ(nran, 2);
	CU_ASSERT_PTR_EQUAL(ran[0], &a);
	CU_ASSERT_PTR_EQUAL(ran[1], &b);
	CHECK_EQ(a.linked, 1);
	CHECK_EQ(b.linked, 0);
	rewait = NULL;
	queue_wake(11);
	CHECK_EQ(nran, 3);
	CU_ASSERT_PTR_EQUAL(ran[2], &a);
	CHECK_EQ(a.linked, 0);
}

static void
TEST_unwait_unlinked_noop(void)
{
	struct qwaiter a, b;

	reset();
	memset(&a, 0, sizeof(a));
	a.qid = 5;
	a.fn = record;
	a.arg = &a;
	queue_unwait(&a);               /* never waited */
	CHECK_EQ(a.linked, 0);
	waiter(&a, 5, 0);
	waiter(&b, 5, 0);
	queue_unwait(&a);
	queue_unwait(&a);               /* twice */
	CHECK_EQ(a.linked, 0);
	queue_wake(5);
	CHECK_EQ(nran, 1);
	CU_ASSERT_PTR_EQUAL(ran[0], &b);
	queue_unwait(&b);               /* after its wake */
	CHECK_EQ(b.linked, 0);
}

/* Waiting again while linked moves the waiter to the end, it does not run twice. */
static void
TEST_wait_twice_moves(void)
{
	struct qwaiter a, b;

	reset();
	waiter(&a, 9, 0);
	waiter(&b, 9, 0);
	queue_wait(&a);
	queue_wake(9);
	CHECK_EQ(nran, 2);
	CU_ASSERT_PTR_EQUAL(ran[0], &b);
	CU_ASSERT_PTR_EQUAL(ran[1], &a);
}

/*
 * The first fn of a wake ends the session of a later waiter, whose sreq
 * (and waiter) is freed: that one is taken off the wake's list, not run.
 */
static void
TEST_unwaited_during_wake_not_run(void)
{
	struct qwaiter a, b, c;

	reset();
	waiter(&a, 13, 0);
	waiter(&b, 13, 0);
	waiter(&c, 13, 1);
	unwait_other = &b;
	queue_wake(13);
	CHECK_EQ(nran, 2);
	CU_ASSERT_PTR_EQUAL(ran[0], &a);
	CU_ASSERT_PTR_EQUAL(ran[1], &c);
	/* a persistent waiter may unwait itself in its own fn */
	unwait_other = &c;
	queue_wake(13);
	CHECK_EQ(nran, 3);
	queue_wake(13);
	CHECK_EQ(nran, 3);
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_wake_runs_once_and_unlinks),
		CU_TEST(TEST_persistent_waiter_stays),
		CU_TEST(TEST_fn_may_rewait),
		CU_TEST(TEST_unwait_unlinked_noop),
		CU_TEST(TEST_wait_twice_moves),
		CU_TEST(TEST_unwaited_during_wake_not_run),
		CU_END
	};

	return cu_main("queue", tests, argc, argv);
}
