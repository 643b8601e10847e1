/*
 * journal_crash_test.c — the journal survives SIGKILL at any moment.
 *
 * Round after round, a child process opens one journal (sync on) and
 * commits numbered batches of recognisable packets from a stream, acking
 * part of the queue now and then; after each call returns it tells the
 * parent through a pipe. The parent kills it with SIGKILL after a random
 * delay, reopens the journal and checks:
 *   - every batch the child reported is there, whole; no batch is there in
 *     part; batches are there in order (none after a missing one);
 *   - every packet reads back byte for byte;
 *   - the queue is numbered 1..N without a hole, N = packets stored, and
 *     holds exactly the unacked ones, in commit order; every reported ack
 *     is there; the stream mark is N;
 *   - the event log has one ACCEPTED per packet and one FORWARDED per acked
 *     one, and journal_verify finds the hash chain intact.
 * The next round continues where the journal stands.
 *
 * CRASH_SEED=n replays a run; CRASH_ROUNDS=n changes the number of rounds.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cu.h"
#include "journal.h"

#define ROUNDS          60
#define MAX_BATCH       12
#define EPOCH           0xc4a5bULL
#define PEER            "child:clinic-crash"
#define QNAME           "child:city-crash"
#define MAGIC           "CRSH"

enum { REP_BATCH = 1, REP_ACK, REP_ERROR };

struct report {
	uint64_t kind, value;
};

/* ------------------------------------------------ the batches, recomputable */

static uint32_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

static unsigned
batch_size(uint64_t b)
{
	return 1 + mix(b) % MAX_BATCH;
}

static size_t
payload_len(uint64_t b, unsigned i)
{
	return 8 + mix(b * 64 + i + 7) % 400;
}

static uint8_t
payload_byte(uint64_t b, unsigned i, size_t k)
{
	return (uint8_t)(b * 131 + i * 17 + k * 3 + (k >> 8));
}

static void
packet_id(uint64_t b, unsigned i, uint8_t id[CID_LEN])
{
	int k;

	for (k = 0; k < 8; k++)
		id[k] = (uint8_t)(b >> (56 - 8 * k));
	id[8] = (uint8_t)(i >> 24);
	id[9] = (uint8_t)(i >> 16);
	id[10] = (uint8_t)(i >> 8);
	id[11] = (uint8_t)i;
	memcpy(id + 12, MAGIC, 4);
}

struct tp {
	Cascade__Packet p;
	Cascade__Hop hop;
	Cascade__Hop *hops[1];
	uint8_t id[CID_LEN];
	uint8_t payload[512];
};

static void
tp_build(struct tp *t, uint64_t b, unsigned i)
{
	Cascade__Packet p = CASCADE__PACKET__INIT;
	Cascade__Hop h = CASCADE__HOP__INIT;
	size_t k, n = payload_len(b, i);

	t->p = p;
	t->hop = h;
	packet_id(b, i, t->id);
	for (k = 0; k < n; k++)
		t->payload[k] = payload_byte(b, i, k);
	t->p.version = 1;
	t->p.id.data = t->id;
	t->p.id.len = CID_LEN;
	t->p.src = "clinic-crash/dr-a";
	t->p.dst = "master/dr-b";
	t->p.command = "crash.test";
	t->p.payload.data = t->payload;
	t->p.payload.len = n;
	t->p.ttl_ms = 3600000;
	t->hop.node = "county-a";
	t->hops[0] = &t->hop;
	t->p.trace = t->hops;
	t->p.n_trace = 1;
}

static int
jopen(const char *dir, struct journal **j, char *err, size_t errlen)
{
	struct journal_opts o;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node_id = "county-a";
	o.map_size = 64 * 1024 * 1024;
	o.sync = 1;
	return journal_open(j, &o, err, errlen);
}

/* ----------------------------------------------------------------- child */

static void
say(int fd, uint64_t kind, uint64_t value)
{
	struct report r = { kind, value };

	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(4);
}

/*
 * Commits batch after batch from batch number b and stream seq seq until
 * killed. Packets of batch b get stream seqs seq.., so the queue seq of
 * every packet equals its stream seq.
 */
static void __attribute__((noreturn))
child(const char *dir, uint64_t b, uint64_t seq, unsigned salt, int fd)
{
	struct tp t[MAX_BATCH];
	struct jitem it[MAX_BATCH];
	struct jqueue_info qi;
	struct journal *j;
	struct jbatch bt;
	char err[512];
	uint32_t qid;
	uint64_t upto;
	unsigned i, n, nacked;
	int rc;

	if ((rc = jopen(dir, &j, err, sizeof(err))) != 0) {
		fprintf(stderr, "child: %s\n", err);
		say(fd, REP_ERROR, (uint64_t)(int64_t)rc);
		_exit(3);
	}
	if ((rc = journal_queue(j, QNAME, JQ_LINK, &qid)) != 0)
		goto fail;
	for (;; b++) {
		n = batch_size(b);
		memset(it, 0, sizeof(it));
		for (i = 0; i < n; i++) {
			tp_build(&t[i], b, i);
			it[i].pkt = &t[i].p;
			it[i].seq = seq + i;
			it[i].queues[0] = qid;
			it[i].nqueues = 1;
		}
		memset(&bt, 0, sizeof(bt));
		bt.peer = PEER;
		bt.epoch = EPOCH;
		bt.first_seq = seq;
		bt.last_seq = seq + n - 1;
		bt.items = it;
		bt.n = n;
		bt.now_ms = cnow_ms();
		if ((rc = journal_commit_batch(j, &bt)) != 0)
			goto fail;
		if (bt.accepted != n || bt.mark != seq + n - 1) {
			fprintf(stderr, "child: batch %llu: %u of %u accepted, mark %llu\n",
			    (unsigned long long)b, bt.accepted, n, (unsigned long long)bt.mark);
			say(fd, REP_ERROR, 1);
			_exit(3);
		}
		say(fd, REP_BATCH, b);
		seq += n;
		/* now and then ack part of what waits */
		if (mix(b ^ salt) % 4 == 0) {
			if ((rc = journal_queue_info(j, qid, &qi)) != 0)
				goto fail;
			if (qi.next_seq - 1 > qi.acked_seq) {
				/* a quarter at most: a few hundred stay queued */
				upto = qi.acked_seq + 1 + mix(b + salt) %
				    ((qi.next_seq - 1 - qi.acked_seq + 3) / 4);
				if ((rc = journal_ack(j, qid, upto, (uint64_t)cnow_ms(),
				    &nacked)) != 0)
					goto fail;
				say(fd, REP_ACK, upto);
			}
		}
	}
fail:
	fprintf(stderr, "child: %s\n", journal_errmsg(j));
	say(fd, REP_ERROR, (uint64_t)(int64_t)rc);
	_exit(3);
}

/* ---------------------------------------------------------------- parent */

/* What the parent knows: batches 1..batches are stored, packets in all. */
struct state {
	uint64_t batches;
	uint64_t packets;
	uint64_t acked;         /* the highest ack a child reported */
	uint64_t *seq_batch;    /* seq -> batch number (index 0 unused) */
	unsigned *seq_index;    /* seq -> index in its batch */
	size_t cap;
};

static void
state_add(struct state *s, uint64_t b)
{
	unsigned i, n = batch_size(b);

	if (s->packets + n + 1 > s->cap) {
		s->cap = (s->packets + n + 1) * 2;
		s->seq_batch = realloc(s->seq_batch, s->cap * sizeof(*s->seq_batch));
		s->seq_index = realloc(s->seq_index, s->cap * sizeof(*s->seq_index));
		CU_ASSERT_FATAL(s->seq_batch != NULL && s->seq_index != NULL);
	}
	for (i = 0; i < n; i++) {
		s->packets++;
		s->seq_batch[s->packets] = b;
		s->seq_index[s->packets] = i;
	}
	s->batches = b;
}

/* Checks stored bytes against packet i of batch b; 1 when they match. */
static int
bytes_match(const uint8_t *bytes, size_t len, uint64_t b, unsigned i)
{
	Cascade__Packet *p;
	uint8_t id[CID_LEN];
	size_t k;
	int ok;

	if ((p = cascade__packet__unpack(NULL, len, bytes)) == NULL)
		return 0;
	packet_id(b, i, id);
	ok = p->id.len == CID_LEN && memcmp(p->id.data, id, CID_LEN) == 0 &&
	    p->payload.len == payload_len(b, i) && strcmp(p->command, "crash.test") == 0;
	for (k = 0; ok && k < p->payload.len; k++)
		ok = p->payload.data[k] == payload_byte(b, i, k);
	cascade__packet__free_unpacked(p, NULL);
	return ok;
}

/* How many packets of batch b are stored; *bad counts any that read back wrong. */
static unsigned
batch_present(struct journal *j, uint64_t b, unsigned *bad)
{
	unsigned i, n = batch_size(b), found = 0;
	struct jkey k;
	uint8_t *bytes;
	size_t len;
	int64_t acc;
	int rc;

	memset(&k, 0, sizeof(k));
	for (i = 0; i < n; i++) {
		packet_id(b, i, k.id);
		rc = journal_packet_get(j, &k, &bytes, &len, &acc);
		if (rc == JOURNAL_NOT_FOUND)
			continue;
		if (rc) {
			fprintf(stderr, "batch %llu packet %u: %s\n", (unsigned long long)b, i,
			    journal_errmsg(j));
			(*bad)++;
			continue;
		}
		found++;
		if (!bytes_match(bytes, len, b, i))
			(*bad)++;
		free(bytes);
	}
	return found;
}

struct evcount {
	uint64_t accepted, forwarded, other, n, last;
	int holes;
};

static int
ev_fn(const struct jevent *ev, void *arg)
{
	struct evcount *c = arg;

	if (ev->seq != c->last + 1)
		c->holes++;
	c->last = ev->seq;
	c->n++;
	if (ev->type == JEV_ACCEPTED)
		c->accepted++;
	else if (ev->type == JEV_FORWARDED)
		c->forwarded++;
	else
		c->other++;
	return 0;
}

/* Everything the journal must say after a crash; returns the failures. */
static unsigned
check_journal(struct journal *j, struct state *s, uint64_t reported, uint64_t acked,
    unsigned round)
{
	struct jqueue_info qi;
	struct jentry e[64];
	struct evcount ec;
	struct jstats st;
	uint64_t b, from, expect, count = 0, badseq = 0, mark = 0;
	unsigned i, n, found, bad = 0, fails = 0;
	uint32_t qid;
	int rc, gap = 0;

#define FAIL(...) do { fprintf(stderr, "round %u: ", round); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); fails++; } while (0)

	/* 1. batches: whole or absent, in order, every reported one there */
	for (b = s->batches + 1; b <= reported + 2; b++) {
		found = batch_present(j, b, &bad);
		if (found != 0 && found != batch_size(b))
			FAIL("batch %llu partly stored: %u of %u packets",
			    (unsigned long long)b, found, batch_size(b));
		if (found == 0 && b <= reported)
			FAIL("batch %llu was reported committed but is missing",
			    (unsigned long long)b);
		if (found != 0 && gap)
			FAIL("batch %llu stored after a missing one", (unsigned long long)b);
		if (found == 0)
			gap = 1;
		else if (!gap)
			state_add(s, b);
	}
	/* the older ones are still whole and intact */
	for (b = 1; b <= s->batches; b++)
		if (batch_present(j, b, &bad) != batch_size(b))
			FAIL("batch %llu lost packets", (unsigned long long)b);
	if (bad)
		FAIL("%u packets read back wrong", bad);
	if (acked > s->acked)
		s->acked = acked;

	/* 2. the queue: numbered 1..packets, unacked ones waiting in order */
	if ((rc = journal_queue(j, QNAME, JQ_LINK, &qid)) != 0 ||
	    (rc = journal_queue_info(j, qid, &qi)) != 0) {
		FAIL("queue: %s", journal_errmsg(j));
		return fails;
	}
	if (qi.next_seq != s->packets + 1)
		FAIL("queue next seq %llu, %llu packets stored",
		    (unsigned long long)qi.next_seq, (unsigned long long)s->packets);
	if (qi.acked_seq < s->acked || qi.acked_seq > s->packets)
		FAIL("queue acked up to %llu; reported %llu of %llu",
		    (unsigned long long)qi.acked_seq, (unsigned long long)s->acked,
		    (unsigned long long)s->packets);
	if (qi.depth != s->packets - qi.acked_seq)
		FAIL("queue depth %llu, expected %llu", (unsigned long long)qi.depth,
		    (unsigned long long)(s->packets - qi.acked_seq));
	from = 1;
	expect = qi.acked_seq + 1;
	for (;;) {
		if ((rc = journal_peek(j, qid, from, 64, (size_t)-1, e, &n)) != 0) {
			FAIL("peek: %s", journal_errmsg(j));
			break;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (e[i].seq != expect)
				FAIL("queue entry %llu where %llu was due",
				    (unsigned long long)e[i].seq, (unsigned long long)expect);
			expect = e[i].seq + 1;
			if (e[i].seq == 0 || e[i].seq > s->packets ||
			    !bytes_match(e[i].bytes, e[i].len, s->seq_batch[e[i].seq],
			    s->seq_index[e[i].seq]))
				FAIL("queue entry %llu is not packet %llu",
				    (unsigned long long)e[i].seq, (unsigned long long)e[i].seq);
			count++;
		}
		from = e[n - 1].seq + 1;
		journal_entries_free(e, n);
		if (fails > 20)
			break;
	}
	if (count != qi.depth)
		FAIL("%llu entries waiting, depth says %llu", (unsigned long long)count,
		    (unsigned long long)qi.depth);

	/* 3. the stream mark moved with the batches */
	rc = journal_mark_get(j, PEER, EPOCH, &mark);
	if (s->packets > 0 && (rc != 0 || mark != s->packets))
		FAIL("mark %llu (rc %d), %llu packets stored", (unsigned long long)mark, rc,
		    (unsigned long long)s->packets);

	/* 4. the event log: one record per packet taken and per packet acked */
	memset(&ec, 0, sizeof(ec));
	if ((rc = journal_events(j, 1, ev_fn, &ec)) != 0)
		FAIL("events: %s", journal_errmsg(j));
	if (ec.accepted != s->packets || ec.forwarded != qi.acked_seq || ec.other != 0 ||
	    ec.holes)
		FAIL("events: %llu ACCEPTED, %llu FORWARDED, %llu others, %d holes; "
		    "%llu packets, %llu acked", (unsigned long long)ec.accepted,
		    (unsigned long long)ec.forwarded, (unsigned long long)ec.other, ec.holes,
		    (unsigned long long)s->packets, (unsigned long long)qi.acked_seq);
	rc = journal_verify(j, &count, &badseq);
	if (rc != 0 || count != ec.n)
		FAIL("verify: rc %d, %llu records checked of %llu, first bad %llu", rc,
		    (unsigned long long)count, (unsigned long long)ec.n,
		    (unsigned long long)badseq);

	/* 5. the counters agree */
	if ((rc = journal_stats(j, &st)) != 0)
		FAIL("stats: %s", journal_errmsg(j));
	else if (st.packets != s->packets || st.queued != qi.depth || st.events != ec.n)
		FAIL("stats: %llu packets, %llu queued, %llu events",
		    (unsigned long long)st.packets, (unsigned long long)st.queued,
		    (unsigned long long)st.events);
#undef FAIL
	return fails;
}

static void
TEST_sigkill_rounds(void)
{
	const char *env;
	char *dir = cu_tmpdir("jcrash"), err[512];
	struct state s;
	struct report r;
	struct journal *j;
	struct timespec ts;
	unsigned seed, rounds = ROUNDS, round, killed = 0, fails = 0, delay;
	uint64_t reported, acked, total_reported = 0;
	int fds[2], status, errors;
	ssize_t got;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	memset(&s, 0, sizeof(s));
	seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	if ((env = getenv("CRASH_SEED")) != NULL)
		seed = (unsigned)strtoul(env, NULL, 10);
	if ((env = getenv("CRASH_ROUNDS")) != NULL && atoi(env) > 0)
		rounds = (unsigned)atoi(env);
	printf("\n  seed %u (CRASH_SEED=%u replays it), %u rounds in %s\n", seed, seed,
	    rounds, dir);
	srand(seed);

	for (round = 1; round <= rounds && fails == 0; round++) {
		/* a few rounds die while opening, most while committing */
		delay = round % 10 == 3 ? (unsigned)(rand() % 3000) :
		    2000 + (unsigned)(rand() % 98000);
		CU_ASSERT_FATAL(pipe(fds) == 0);
		fflush(NULL);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child(dir, s.batches + 1, s.packets + 1, (unsigned)rand(), fds[1]);
		}
		close(fds[1]);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)delay * 1000;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			killed++;

		reported = s.batches;
		acked = 0;
		errors = 0;
		while ((got = read(fds[0], &r, sizeof(r))) == (ssize_t)sizeof(r)) {
			if (r.kind == REP_BATCH) {
				if (r.value != reported + 1) {
					fprintf(stderr, "round %u: child reported batch %llu after %llu\n",
					    round, (unsigned long long)r.value,
					    (unsigned long long)reported);
					errors++;
				}
				reported = r.value;
				total_reported++;
			} else if (r.kind == REP_ACK) {
				acked = r.value;
			} else {
				fprintf(stderr, "round %u: the child failed: rc %lld\n", round,
				    (long long)r.value);
				errors++;
			}
		}
		close(fds[0]);
		CHECK_EQ(errors, 0);
		CU_ASSERT_FATAL(got == 0);      /* no torn report */

		j = NULL;
		if (jopen(dir, &j, err, sizeof(err)) != 0) {
			fprintf(stderr, "round %u: reopen: %s\n", round, err);
			fails++;
			break;
		}
		fails += check_journal(j, &s, reported, acked, round);
		journal_close(j);
	}
	printf("  %u rounds, %u killed mid-run, %llu batches reported, %llu stored "
	    "(%llu packets, %llu acked)\n", round - 1, killed,
	    (unsigned long long)total_reported, (unsigned long long)s.batches,
	    (unsigned long long)s.packets, (unsigned long long)s.acked);
	if (fails)
		fprintf(stderr, "seed %u: %u failures; the journal is left in %s\n", seed, fails,
		    dir);
	CHECK_EQ(fails, 0);
	CU_ASSERT(round - 1 >= rounds);
	/* not vacuous: children were killed while working, and work was done */
	CU_ASSERT(killed >= rounds / 2);
	CU_ASSERT(total_reported > 0);
	CU_ASSERT(s.batches >= total_reported);
	CU_ASSERT(s.acked > 0);
	if (fails == 0)
		cu_rmtree(dir);
	free(dir);
	free(s.seq_batch);
	free(s.seq_index);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_sigkill_rounds),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("journal_crash", tests, argc, argv);
}
