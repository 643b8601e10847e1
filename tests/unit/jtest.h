/*
 * jtest.h — helpers shared by the journal's unit tests: a temporary
 * journal, test packets and event counting.
 */
#ifndef CASCADE_JTEST_H
#define CASCADE_JTEST_H

#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "journal.h"

/* A packet built in place: its pointers refer to its own fields. */
struct tpkt {
	Cascade__Packet p;
	Cascade__Hop hop;
	Cascade__Hop *hops[1];
	uint8_t id[CID_LEN];
	uint8_t *payload;
};

static inline void
tpkt_init(struct tpkt *t, const char *src, const char *dst, size_t paylen)
{
	Cascade__Packet p = CASCADE__PACKET__INIT;
	Cascade__Hop h = CASCADE__HOP__INIT;
	size_t i;

	t->p = p;
	t->hop = h;
	cid_next(t->id);
	t->payload = malloc(paylen ? paylen : 1);
	for (i = 0; i < paylen; i++)
		t->payload[i] = (uint8_t)(i * 7 + t->id[15]);
	t->p.version = 1;
	t->p.id.data = t->id;
	t->p.id.len = CID_LEN;
	t->p.src = (char *)src;
	t->p.dst = (char *)dst;
	t->p.command = "consult.request";
	t->p.payload.data = t->payload;
	t->p.payload.len = paylen;
	t->p.ttl_ms = 60000;
	t->hop.node = "county-a";
	t->hop.leg = 0;
	t->hops[0] = &t->hop;
	t->p.trace = t->hops;
	t->p.n_trace = 1;
}

static inline void
tpkt_free(struct tpkt *t)
{
	free(t->payload);
	t->payload = NULL;
}

static inline void
jt_opts(struct journal_opts *o, const char *dir)
{
	memset(o, 0, sizeof(*o));
	o->dir = dir;
	o->node_id = "county-a";
	o->map_size = 8 * 1024 * 1024;
	o->sync = 0;            /* thousands of commits: no fsync in unit tests */
}

static inline struct journal *
jt_open(const char *dir)
{
	struct journal_opts o;
	struct journal *j = NULL;
	char err[512];
	int rc;

	jt_opts(&o, dir);
	rc = journal_open(&j, &o, err, sizeof(err));
	if (rc)
		fprintf(stderr, "jt_open: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return j;
}

/* Counts events of one type (0: all) seen by journal_events. */
struct jt_count {
	uint32_t type;
	uint64_t n;
	uint64_t last_seq;
};

static inline int
jt_count_fn(const struct jevent *ev, void *arg)
{
	struct jt_count *c = arg;

	if (c->type == 0 || ev->type == c->type)
		c->n++;
	c->last_seq = ev->seq;
	return 0;
}

static inline uint64_t
jt_events(struct journal *j, uint32_t type)
{
	struct jt_count c = { type, 0, 0 };

	CHECK_RC(journal_events(j, 1, jt_count_fn, &c), journal_strerror);
	return c.n;
}

/* Commits n local packets (no stream) into queue qid; returns the journal's rc. */
static inline int
jt_insert(struct journal *j, uint32_t qid, unsigned n, size_t paylen, int64_t now,
    int64_t deadline, struct jbatch *out)
{
	struct tpkt *t = calloc(n, sizeof(*t));
	struct jitem *it = calloc(n, sizeof(*it));
	struct jbatch b;
	unsigned i;
	int rc;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < n; i++) {
		tpkt_init(&t[i], "county-a/dr-lin", "city-b/dr-wang", paylen);
		it[i].pkt = &t[i].p;
		it[i].deadline_ms = deadline;
		it[i].queues[0] = qid;
		it[i].nqueues = qid ? 1 : 0;
	}
	b.peer = "";
	b.items = it;
	b.n = n;
	b.now_ms = now;
	rc = journal_commit_batch(j, &b);
	for (i = 0; i < n; i++)
		tpkt_free(&t[i]);
	if (out != NULL)
		*out = b;
	free(t);
	free(it);
	if (out != NULL)
		out->items = NULL;
	return rc;
}

#endif
