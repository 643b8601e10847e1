/*
 * ctl_queue.c — cascadectl queue: the journal's queues, or one page of the
 * packets waiting in one of them.
 *
 * A page is read with journal_peek: one read transaction, a cursor set at
 * the page's first seq, at most --limit entries. Nothing counts or walks
 * the rest of the queue (its depth is the queue's own state record), so a
 * page costs the same behind a backlog of a million packets. Queues of a
 * child or client removed from the config stay in the journal and are
 * listed by their journal name. A page lists the numbered entries, then
 * those waiting in the priority lanes (journal_lane.c), in send order.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cascaded.h"

#define CTL(x) CASCADE__CTL_RESULT__CTL_##x
#define PAGE_DEFAULT 50
#define PAGE_MAX 1000
#define PAGE_BYTES (64u << 20)  /* what one page may read, whatever the packets' size */

/* Who a journal queue goes to: the parent for "up", a child, a client's address. */
static char *
queue_peer(const char *name)
{
	const char *c = strchr(name, ':');
	char *s;

	if (strcmp(name, "up") == 0)
		return xstrdup(node->up != NULL ? node->conf->parent->id : "");
	if (strncmp(name, "client:", 7) == 0) {
		xasprintf(&s, "%s/%s", node->id, name + 7);
		return s;
	}
	return xstrdup(c != NULL ? c + 1 : name);
}

struct qlist {
	Cascade__CtlQueueSummary **v;
	size_t n, cap;
};

static int
list_one(const struct jqueue_info *qi, void *arg)
{
	struct qlist *l = arg;
	Cascade__CtlQueueSummary *s;
	struct jentry e;
	unsigned n = 0;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	s = xcalloc(1, sizeof(*s));
	cascade__ctl_queue_summary__init(s);
	s->name = xstrdup(qi->name);
	s->peer = queue_peer(qi->name);
	s->depth = qi->depth;
	s->bytes = qi->bytes;
	if (qi->depth > 0 && journal_peek(node->j, qi->qid, qi->acked_seq + 1, 1, 1, &e, &n) == 0 &&
	    n == 1) {
		s->oldest_age_ms = cnow_ms() - e.accepted_ms;
		if (s->oldest_age_ms < 0)
			s->oldest_age_ms = 0;
		journal_entries_free(&e, n);
	}
	l->v[l->n++] = s;
	return 0;
}

struct qfind {
	char want[4][160];
	uint32_t qid;
	int found;
};

static int
find_one(const struct jqueue_info *qi, void *arg)
{
	struct qfind *f = arg;
	unsigned i;

	for (i = 0; i < 4; i++)
		if (f->want[i][0] != '\0' && strcmp(qi->name, f->want[i]) == 0) {
			f->qid = qi->qid;
			f->found = 1;
			return 1;
		}
	return 0;
}

/*
 * The queue arg names: the parent's id, a child's id, a client's address
 * (with or without this node's id in front), or a journal queue name.
 */
static int
queue_find(const char *arg, uint32_t *qid)
{
	struct qfind f;

	memset(&f, 0, sizeof(f));
	if (node->up != NULL && strcmp(arg, node->conf->parent->id) == 0) {
		*qid = node->q_up;
		return 0;
	}
	snprintf(f.want[0], sizeof(f.want[0]), "%s", arg);
	snprintf(f.want[1], sizeof(f.want[1]), "child:%s", arg);
	snprintf(f.want[2], sizeof(f.want[2]), "client:%s", arg);
	/* a client's queue is named by its name at this node */
	if (strncmp(arg, node->id, strlen(node->id)) == 0 && arg[strlen(node->id)] == '/')
		snprintf(f.want[3], sizeof(f.want[3]), "client:%s", arg + strlen(node->id) + 1);
	if (journal_queues(node->j, find_one, &f) != 0 && !f.found)
		return -1;
	if (!f.found)
		return -1;
	*qid = f.qid;
	return 0;
}

static Cascade__CtlQueueEntry *
entry_of(const struct jentry *e)
{
	Cascade__CtlQueueEntry *q = xcalloc(1, sizeof(*q));
	Cascade__Packet *p = cpkt_decode(e->bytes, e->len);
	char idt[CID_TEXT_LEN];

	cascade__ctl_queue_entry__init(q);
	q->seq = e->seq;
	q->id = xstrdup(cid_format(e->key.id, idt));
	q->src = xstrdup(p != NULL ? p->src : "?");
	q->dst = xstrdup(p != NULL ? p->dst : "?");
	q->command = xstrdup(p != NULL ? p->command : "?");
	q->urgent = p != NULL && (p->flags & CASCADE__PACKET_FLAG__FLAG_URGENT) != 0;
	q->accepted_ms = e->accepted_ms;
	q->deadline_ms = e->deadline_ms;
	q->size = e->len;
	cpkt_free(p);
	return q;
}

static void
page(uint32_t qid, const Cascade__CtlRequest *req, Cascade__CtlReply *rep)
{
	unsigned limit = req->limit == 0 ? PAGE_DEFAULT : req->limit, n = 0, m = 0, i;
	Cascade__CtlQueuePage *pg;
	struct jqueue_info qi;
	struct jentry *es;
	uint64_t from;

	if (limit > PAGE_MAX)
		limit = PAGE_MAX;
	if (journal_queue_info(node->j, qid, &qi) != 0) {
		reply_set(rep, CTL(FAILED), journal_errmsg(node->j), NULL);
		return;
	}
	from = req->after + 1 > qi.acked_seq + 1 ? req->after + 1 : qi.acked_seq + 1;
	es = xcalloc(limit, sizeof(*es));
	if (from < qi.next_seq && journal_peek(node->j, qid, from, limit, PAGE_BYTES, es, &n) != 0)
		goto fail;
	/* then what waits unnumbered, in its lanes (journal.h): the send order */
	if (n < limit && qi.lanes > 0 && journal_peek(node->j, qid,
	    from > JSEQ_LANE ? from : JSEQ_LANE, limit - n, PAGE_BYTES, es + n, &m) != 0) {
		journal_entries_free(es, n);
		goto fail;
	}
	n += m;
	pg = xcalloc(1, sizeof(*pg));
	cascade__ctl_queue_page__init(pg);
	pg->name = xstrdup(qi.name);
	pg->depth = qi.depth;
	pg->entries = xcalloc(n + 1, sizeof(*pg->entries));
	for (i = 0; i < n; i++)
		pg->entries[pg->n_entries++] = entry_of(&es[i]);
	/* more after this page: numbered ones above its last, or lane entries */
	if (n > 0 && (es[n - 1].seq < JSEQ_LANE ? es[n - 1].seq + 1 < qi.next_seq || qi.lanes > 0 :
	    n == limit))
		pg->next_after = es[n - 1].seq;
	journal_entries_free(es, n);
	free(es);
	rep->page = pg;
	return;
fail:
	free(es);
	reply_set(rep, CTL(FAILED), journal_errmsg(node->j), NULL);
}

void
ctl_queue(const Cascade__CtlRequest *req, Cascade__CtlReply *rep)
{
	struct qlist l = { NULL, 0, 0 };
	uint32_t qid;
	char why[320];

	if (req->arg[0] == '\0') {
		if (journal_queues(node->j, list_one, &l) != 0) {
			reply_set(rep, CTL(FAILED), journal_errmsg(node->j), NULL);
			for (; l.n > 0; l.n--)
				protobuf_c_message_free_unpacked(&l.v[l.n - 1]->base, NULL);
			free(l.v);
			return;
		}
		rep->queues = l.v;
		rep->n_queues = l.n;
		return;
	}
	if (queue_find(req->arg, &qid) != 0) {
		snprintf(why, sizeof(why), "no queue for \"%.100s\" at %s: give the parent's or a "
		    "child's id, a client, or a name from \"cascadectl queue\"", req->arg, node->id);
		reply_set(rep, CTL(NOT_FOUND), why, NULL);
		return;
	}
	page(qid, req, rep);
}
