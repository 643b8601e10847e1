/*
 * ctl_replay.c — cascadectl replay: journaled packets sent over a link
 * again, for a peer that lost its disk; replay --id: one packet again
 * toward where it went from here.
 *
 * What "went through link L in the window" means: the event log's
 * forwarded events whose peer is L's queue ("child:ID", or "up" for the
 * parent) and whose time is in [since, until]. Each packet goes once,
 * however often it went before, in the order it first went (the order
 * within a flow is kept). journal_requeue puts it at the end of L's
 * stream as a new entry: a receiver that still holds (id, leg) drops it as
 * a duplicate and acks it; one that lost its journal knows neither the
 * stream's epoch nor a mark, so it takes the sender's lowest unacked as
 * its start (DESIGN.md, streams) and commits it. Packets whose bodies are
 * gone (retention, disk room, cancel, expiry) are counted and named, never
 * skipped silently. Each requeue is a "replayed" event naming the
 * operator; the replay as a whole, a note. What already waited toward the
 * link, unsent, is moved behind the replayed packets (it is newer): a flow
 * keeps its order when the replay comes before the peer takes it.
 *
 * The scan walks the whole event log (no time index yet) on a thread of
 * its own, in read transactions of SCAN_CHUNK events (LMDB readers never
 * block the writer; short ones do not hold up map growth or page reuse), so
 * packets keep flowing meanwhile; only the requeues go through the journal
 * thread. The control socket answers one request at a time: other
 * cascadectl commands wait for the replay's answer.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cascaded.h"
#include "origin.h"

#define CTL(x) CASCADE__CTL_RESULT__CTL_##x
#define IDS_MAX 10000           /* ids per list in the reply; the event log has all */
#define NOTE_IDS 20             /* pruned ids named in the replay's note */
#define SCAN_CHUNK 20000        /* events per read transaction of the scan */

static pthread_t scan_thread;
static int scan_running;        /* loop thread only */

struct replay {
	struct jjob job;
	Cascade__CtlReply *rep;
	char who[320];
	char what[400];                 /* the request, for the events */
	/* --link */
	char link[CADDR_NODE_MAX + 1];
	char qname[96];
	uint32_t qid;
	int64_t since_ms, until_ms;
	/* --id */
	int one;
	uint8_t id[CID_LEN];
	int had_events;                 /* --id, not held: its events are still here */
	int no_queue;                   /* --id: held, but it went into no queue here */
	/* what was found, then done, in order */
	struct jrequeue *rq;
	size_t n, cap;
	/* the scan (its thread) */
	int scan_rc;
	char scan_err[512];             /* its journal message: journal_errmsg() is per thread */
	uint64_t moved;                 /* waiting entries moved behind the replayed ones */
	uint64_t next_seq;              /* where the next chunk starts; 0: the end was reached */
	unsigned left;                  /* events this chunk may still look at */
};

static const char *
utc(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	return buf;
}

static void
rq_add(struct replay *r, const uint8_t id[CID_LEN], uint8_t leg, uint32_t qid)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->rq = xrealloc(r->rq, r->cap * sizeof(*r->rq));
	}
	memset(&r->rq[r->n], 0, sizeof(r->rq[r->n]));
	memcpy(r->rq[r->n].key.id, id, CID_LEN);
	r->rq[r->n].key.leg = leg;
	r->rq[r->n].qid = qid;
	r->n++;
}

/* ------------------------------------------------- which packets (thread) */

/* Ends the chunk after SCAN_CHUNK events (1: stop, the next starts after ev). */
static int
chunk_full(struct replay *r, const struct jevent *ev)
{
	if (--r->left > 0 && !node->stopping)
		return 0;
	r->next_seq = ev->seq + 1;
	return 1;
}

static int
forwarded_on(const struct jevent *ev, void *arg)
{
	struct replay *r = arg;

	if (ev->type == JEV_FORWARDED && ev->time_ms >= r->since_ms &&
	    ev->time_ms <= r->until_ms && strcmp(ev->peer, r->qname) == 0)
		rq_add(r, ev->id, ev->leg, r->qid);
	return chunk_full(r, ev);
}

struct pos {
	struct jkey k;
	size_t i;
};

static int
pos_cmp(const void *a, const void *b)
{
	const struct pos *x = a, *y = b;
	int c = memcmp(x->k.id, y->k.id, CID_LEN);

	if (c == 0)
		c = (int)x->k.leg - (int)y->k.leg;
	if (c == 0)
		c = x->i < y->i ? -1 : x->i > y->i;
	return c;
}

/* Keeps the first of each (id, leg), in event order. */
static void
rq_unique(struct replay *r)
{
	struct pos *p;
	char *dup;
	size_t i, n = 0;

	if (r->n < 2)
		return;
	p = xcalloc(r->n, sizeof(*p));
	dup = xcalloc(r->n, 1);
	for (i = 0; i < r->n; i++) {
		p[i].k = r->rq[i].key;
		p[i].i = i;
	}
	qsort(p, r->n, sizeof(*p), pos_cmp);
	for (i = 1; i < r->n; i++)
		if (memcmp(p[i].k.id, p[i - 1].k.id, CID_LEN) == 0 && p[i].k.leg == p[i - 1].k.leg)
			dup[p[i].i] = 1;
	for (i = 0; i < r->n; i++)
		if (!dup[i])
			r->rq[n++] = r->rq[i];
	r->n = n;
	free(p);
	free(dup);
}

static int
about_id(const struct jevent *ev, void *arg)
{
	struct replay *r = arg;

	if (memcmp(ev->id, r->id, CID_LEN) != 0)
		return chunk_full(r, ev);
	r->had_events = 1;
	r->next_seq = 0;
	return 1;
}

/* journal_events in chunks of SCAN_CHUNK, each its own read transaction. */
static int
events_chunked(struct journal *j, struct replay *r, int (*fn)(const struct jevent *, void *))
{
	uint64_t from = 1;
	int rc;

	do {
		r->next_seq = 0;
		r->left = SCAN_CHUNK;
		if ((rc = journal_events(j, from, fn, r)) != 0)
			return rc;
		from = r->next_seq;
	} while (from != 0 && !node->stopping);
	return 0;
}

/*
 * --id: the leg held here nearest its destination (down before up), into
 * each queue of its record it no longer waits in (a leg whose body is gone
 * gets one entry, whose result says so).
 */
static int
find_one(struct journal *j, struct replay *r)
{
	struct jwhere w;
	struct jkey k;
	int leg, rc, any = 0;
	unsigned i;

	memcpy(k.id, r->id, CID_LEN);
	for (leg = JLEG_DOWN; leg >= JLEG_UP && r->n == 0; leg--) {
		k.leg = (uint8_t)leg;
		if ((rc = journal_packet_where(j, &k, &w)) == JOURNAL_NOT_FOUND)
			continue;
		if (rc != 0)
			return rc;
		any = 1;
		for (i = 0; i < w.nq; i++)
			if (!w.waiting[i] || w.pruned || w.body == NULL)
				rq_add(r, r->id, (uint8_t)leg, w.qid[i]);
		if (r->n == 0 && w.nq > 0)      /* waits everywhere: say where */
			rq_add(r, r->id, (uint8_t)leg, w.qid[0]);
		free(w.body);
	}
	if (any && r->n == 0)
		r->no_queue = 1;
	if (!any)
		return events_chunked(j, r, about_id);
	return 0;
}

static void scan_done(void *);

/* The scan's thread: what to requeue (read-only), then back to the loop. */
static void *
scan_main(void *arg)
{
	struct replay *r = arg;

	if (r->one)
		r->scan_rc = find_one(node->j, r);
	else {
		r->scan_rc = events_chunked(node->j, r, forwarded_on);
		rq_unique(r);
	}
	if (r->scan_rc != 0)
		snprintf(r->scan_err, sizeof(r->scan_err), "%s", journal_errmsg(node->j));
	loop_post(scan_done, r);
	return NULL;
}

/*
 * What already waited toward the link (seq below before) goes behind the
 * replayed packets, which are older: so a flow keeps its order, but for
 * what a link may have sent already (in flight), which stays in front.
 */
static int
move_waiting(struct journal *j, struct replay *r, const struct jqueue_info *qi,
    uint64_t before, int64_t now)
{
	struct jrequeue mv[JREQUEUE_MAX];
	struct jkey *keys;
	unsigned n = 0, i, k, m;
	int rc;

	if (qi->depth == 0 || before <= qi->acked_seq + 1)
		return 0;
	keys = xcalloc(qi->depth, sizeof(*keys));
	rc = journal_queue_keys(j, r->qid, qi->acked_seq + 1, before - 1, keys,
	    (unsigned)qi->depth, &n);
	for (i = 0; rc == 0 && i < n; i += m) {
		m = n - i < JREQUEUE_MAX ? n - i : JREQUEUE_MAX;
		for (k = 0; k < m; k++) {
			memset(&mv[k], 0, sizeof(mv[k]));
			mv[k].key = keys[i + k];
			mv[k].qid = r->qid;
			mv[k].move = 1;
		}
		if ((rc = journal_requeue(j, mv, m, "", now)) == 0)
			for (k = 0; k < m; k++)
				r->moved += mv[k].result == JRQ_MOVED;
	}
	free(keys);
	return rc;
}

/* The requeues, on the journal thread. */
static int
replay_run(struct journal *j, struct jjob *job)
{
	struct replay *r = (struct replay *)job;
	size_t i, n, named = 0, counts[JRQ_GONE + 1] = { 0 };
	char note[1024], a[32], b[32], idt[CID_TEXT_LEN];
	int64_t now = cnow_ms();
	struct jqueue_info qi;
	struct jevent ev;
	int rc;

	if (!r->one && (rc = journal_queue_info(j, r->qid, &qi)) != 0)
		return rc;
	for (i = 0; i < r->n; i += n) {
		n = r->n - i < JREQUEUE_MAX ? r->n - i : JREQUEUE_MAX;
		if ((rc = journal_requeue(j, r->rq + i, (unsigned)n, r->what, now)) != 0)
			return rc;
	}
	if (r->one)
		return 0;
	if ((rc = move_waiting(j, r, &qi, qi.next_seq, now)) != 0)
		return rc;
	for (i = 0; i < r->n; i++)
		counts[r->rq[i].result]++;
	n = (size_t)snprintf(note, sizeof(note), "replay toward %s (%s) by %s, forwarded %s to "
	    "%s: %zu requeued, %zu pruned, %zu expired, %zu still waiting; %llu waiting moved "
	    "behind them", r->link, r->qname, r->who, utc(r->since_ms, a, sizeof(a)),
	    utc(r->until_ms, b, sizeof(b)), counts[JRQ_REQUEUED],
	    counts[JRQ_ABSENT] + counts[JRQ_PRUNED], counts[JRQ_EXPIRED], counts[JRQ_WAITING],
	    (unsigned long long)r->moved);
	/* each id adds at most 64 bytes: stop while 80 are left */
	for (i = 0; i < r->n && n + 80 < sizeof(note); i++) {
		if (r->rq[i].result != JRQ_ABSENT && r->rq[i].result != JRQ_PRUNED)
			continue;
		if (named++ == NOTE_IDS) {
			n += (size_t)snprintf(note + n, sizeof(note) - n, " ...");
			break;
		}
		n += (size_t)snprintf(note + n, sizeof(note) - n, "%s %s", named == 1 ?
		    "; not replayable (body gone):" : ",", cid_format(r->rq[i].key.id, idt));
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = JEV_NOTE;
	ev.time_ms = now;
	ev.peer = r->qname;
	ev.src = ev.dst = "";
	ev.text = note;
	/* the packets went, each with its own event: a missing summary is no failure */
	if ((rc = journal_log(j, &ev)) != 0)
		log_warnx("control: replay toward %s: its note was not journaled: %s", r->link,
		    journal_errmsg(j));
	return 0;
}

/* -------------------------------------------------------- answer (loop) */

static void
ids_add(char ***v, size_t *n, const uint8_t id[CID_LEN])
{
	char idt[CID_TEXT_LEN];

	if (*n >= IDS_MAX)
		return;
	if (*n % 64 == 0)
		*v = xrealloc(*v, (*n + 64) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(cid_format(id, idt));
}

static void
one_done(struct replay *r, Cascade__CtlReply *rep)
{
	const struct jrequeue *q = r->n > 0 ? &r->rq[0] : NULL;
	char why[512], idt[CID_TEXT_LEN], qn[96];
	size_t i, len = 0;

	cid_format(r->id, idt);
	for (i = 0; i < r->n && len < sizeof(why); i++)
		if (r->rq[i].result == JRQ_REQUEUED)
			len += (size_t)snprintf(why + len, sizeof(why) - len, "%s %s (seq %llu)",
			    len == 0 ? "requeued to" : ",", queue_name(r->rq[i].qid, qn, sizeof(qn)),
			    (unsigned long long)r->rq[i].seq);
	if (len > 0) {
		char text[600];

		snprintf(text, sizeof(text), "packet %s %s", idt, why);
		reply_set(rep, rep->result, NULL, text);
		log_info("control: %s; asked by %s", text, r->who);
		return;
	}
	if (q == NULL && r->no_queue)
		snprintf(why, sizeof(why), "packet %s went into no queue at %s (taken by the node "
		    "itself): nothing to replay", idt, node->id);
	else if (q == NULL && r->had_events)
		snprintf(why, sizeof(why), "packet %s cannot be replayed: retention pruned it "
		    "from the journal of %s (its events remain: cascadectl audit show %s)", idt,
		    node->id, idt);
	else if (q == NULL) {
		snprintf(why, sizeof(why), "packet %s is not in the journal of %s (never here)",
		    idt, node->id);
		reply_set(rep, CTL(NOT_FOUND), why, NULL);
		return;
	} else if (q->result == JRQ_ABSENT || q->result == JRQ_PRUNED)
		snprintf(why, sizeof(why), "packet %s cannot be replayed: its body is gone from "
		    "the journal of %s (pruned for disk room, cancelled or expired; its record and "
		    "events remain: cascadectl audit show %s)", idt, node->id, idt);
	else if (q->result == JRQ_EXPIRED)
		snprintf(why, sizeof(why), "packet %s cannot be replayed: its ttl has run out",
		    idt);
	else {
		snprintf(why, sizeof(why), "packet %s still waits in %s: nothing to replay, it "
		    "goes when that link or client takes it", idt, queue_name(q->qid, qn,
		    sizeof(qn)));
		reply_set(rep, rep->result, NULL, why);
		return;
	}
	reply_set(rep, CTL(FAILED), why, NULL);
}

static void
link_done(struct replay *r, Cascade__CtlReply *rep)
{
	Cascade__CtlReplay *c = xcalloc(1, sizeof(*c));
	char text[512], a[32], b[32];
	size_t i;

	cascade__ctl_replay__init(c);
	c->queue = xstrdup(r->qname);
	c->who = xstrdup(r->who);
	for (i = 0; i < r->n; i++) {
		const struct jrequeue *q = &r->rq[i];

		switch (q->result) {
		case JRQ_REQUEUED:
			c->requeued++;
			ids_add(&c->requeued_ids, &c->n_requeued_ids, q->key.id);
			break;
		case JRQ_ABSENT:
		case JRQ_PRUNED:
			c->pruned++;
			ids_add(&c->pruned_ids, &c->n_pruned_ids, q->key.id);
			break;
		case JRQ_EXPIRED:
			c->expired++;
			ids_add(&c->expired_ids, &c->n_expired_ids, q->key.id);
			break;
		default:
			c->waiting++;
		}
	}
	c->moved = r->moved;
	rep->replay = c;
	snprintf(text, sizeof(text), "replay toward %s (%s), forwarded %s to %s: %llu requeued, "
	    "%llu not replayable (body gone), %llu expired, %llu still waiting; %llu that waited "
	    "moved behind them", r->link, r->qname, utc(r->since_ms, a, sizeof(a)),
	    utc(r->until_ms, b, sizeof(b)), (unsigned long long)c->requeued,
	    (unsigned long long)c->pruned, (unsigned long long)c->expired,
	    (unsigned long long)c->waiting, (unsigned long long)c->moved);
	reply_set(rep, rep->result, NULL, text);
	log_info("control: %s; asked by %s", text, r->who);
}

static void
replay_done(struct jjob *job)
{
	struct replay *r = (struct replay *)job;
	size_t i;

	if (job->rc != 0)
		reply_set(r->rep, CTL(FAILED), job->rc == JOURNAL_FULL ? "the journal is full: replay "
		    "when it has room again" : job->err, NULL);
	else {
		for (i = 0; i < r->n; i++)
			if (r->rq[i].result == JRQ_REQUEUED &&
			    (i == 0 || r->rq[i].qid != r->rq[i - 1].qid))
				queue_wake(r->rq[i].qid);
		origin_expiry_at(0);    /* their deadlines are indexed again */
		if (r->one)
			one_done(r, r->rep);
		else
			link_done(r, r->rep);
	}
	reply_send(r->rep);
	free(r->rq);
	free(r);
}

/* On the loop: the scan is over; the requeues go to the journal thread. */
static void
scan_done(void *arg)
{
	struct replay *r = arg;

	if (scan_running) {
		pthread_join(scan_thread, NULL);
		scan_running = 0;
	}
	if (r->scan_rc != 0 || node->stopping) {
		reply_set(r->rep, CTL(FAILED), node->stopping ? "cascaded is stopping: nothing was "
		    "replayed" : r->scan_err, NULL);
		reply_send(r->rep);
		free(r->rq);
		free(r);
		return;
	}
	jthread_submit(&r->job);
}

void
ctl_replay_stop(void)
{
	/* node->stopping ends the scan at its next event */
	if (scan_running) {
		pthread_join(scan_thread, NULL);
		scan_running = 0;
	}
}

/* ------------------------------------------------------------- request */

/* The queue of link name: the parent's ("up") or a child's. */
static int
link_queue(const char *name, struct replay *r, char *why, size_t len)
{
	struct peer *p;

	if (node->up != NULL && strcmp(name, node->conf->parent->id) == 0) {
		r->qid = node->q_up;
		snprintf(r->qname, sizeof(r->qname), "up");
		return 0;
	}
	if ((p = routes_child_for(node, name)) != NULL && strcmp(p->name, name) == 0) {
		r->qid = p->qid;
		queue_name(p->qid, r->qname, sizeof(r->qname));
		return 0;
	}
	if (p != NULL)
		snprintf(why, len, "no link %.63s at %s: it lies below child %.63s (replay "
		    "toward %.63s, or on %.63s itself)", name, node->id, p->name, p->name, p->name);
	else
		snprintf(why, len, "no link %.63s at %s: give the parent's id%s%s or a child's",
		    name, node->id, node->up != NULL ? " " : "", node->up != NULL ?
		    node->conf->parent->id : "");
	return -1;
}

void
ctl_replay(const Cascade__CtlRequest *req, Cascade__CtlReply *rep, const char *who)
{
	struct replay *r = xcalloc(1, sizeof(*r));
	char why[320], a[32], b[32], idt[CID_TEXT_LEN];
	int rc;

	r->rep = rep;
	snprintf(r->who, sizeof(r->who), "%s", who);
	if (req->link[0] == '\0') {
		if (cid_parse(req->arg, r->id) != 0) {
			snprintf(why, sizeof(why), "replay: \"%.64s\" is not a packet id (12 hex "
			    "digits, '-', 20 hex digits)", req->arg);
			goto bad;
		}
		r->one = 1;
		snprintf(r->what, sizeof(r->what), "replay --id %s by %s", cid_format(r->id, idt),
		    who);
	} else {
		r->since_ms = req->since_ms;
		r->until_ms = req->until_ms != 0 ? req->until_ms : cnow_ms();
		if (r->since_ms <= 0 || r->since_ms > r->until_ms) {
			snprintf(why, sizeof(why), "replay: the window is empty (since %lld, until "
			    "%lld)", (long long)r->since_ms, (long long)r->until_ms);
			goto bad;
		}
		if (strlen(req->link) >= sizeof(r->link) ||
		    link_queue(req->link, r, why, sizeof(why)) != 0) {
			if (strlen(req->link) >= sizeof(r->link))
				snprintf(why, sizeof(why), "replay: no link \"%.64s...\"", req->link);
			free(r);
			reply_set(rep, CTL(NOT_FOUND), why, NULL);
			reply_send(rep);
			return;
		}
		snprintf(r->link, sizeof(r->link), "%s", req->link);
		snprintf(r->what, sizeof(r->what), "replay --link %s (forwarded %s to %s) by %s",
		    r->link, utc(r->since_ms, a, sizeof(a)), utc(r->until_ms, b, sizeof(b)), who);
	}
	r->job.run = replay_run;
	r->job.done = replay_done;
	/* one request at a time (control.c): no other scan runs */
	if ((rc = pthread_create(&scan_thread, NULL, scan_main, r)) != 0) {
		log_warnx("control: replay: pthread_create: %s", strerror(rc));
		free(r);
		reply_set(rep, CTL(FAILED), "cannot start the replay's scan (out of threads?): see "
		    "the log", NULL);
		reply_send(rep);
		return;
	}
	scan_running = 1;
	return;
bad:
	free(r);
	reply_set(rep, CTL(BAD_REQUEST), why, NULL);
	reply_send(rep);
}
