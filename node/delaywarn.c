/*
 * delaywarn.c — delay warnings, like an MTA's "not delivered yet": a packet
 * that asked for notices (FLAG_NOTIFY) and has waited in a queue of this
 * node longer than delay-warning-after gets one `delayed` notice to its
 * source. The packet itself is untouched: it keeps waiting and is delivered
 * (once) when its way opens; the notice is a packet of its own.
 *
 * Once per packet and node: before the notice is sent the journal thread
 * records the meta key "nf:d:<packet id>"; a packet with that key is never
 * warned about again here, after a restart either. A crash between that
 * write and the notice's commit loses the warning: at most once, which is
 * what a warning (news, not custody) should be. A timer on the loop scans
 * every queue from a per-queue cursor, so each entry is looked at once.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascaded.h"
#include "origin.h"

#define DW_SCAN_MS      1000
#define DW_PEEK         64
#define DW_QUEUES_MAX   4096            /* queues looked at per scan */

static struct event *dw_timer;
static struct qcursors dw_cursors;      /* per queue id: next seq to look at */
static uint64_t dw_sent;

struct dw_job {
	struct jjob job;
	Cascade__Packet *p;
	char key[8 + CID_TEXT_LEN];
	char text[160];
};

/* Journal thread: records the warning unless an earlier job did (the same
 * packet may wait in two queues here). 1: already warned. */
static int
dw_run(struct journal *j, struct jjob *job)
{
	struct dw_job *dj = (struct dw_job *)job;
	void *v;
	size_t len;

	if (journal_meta_get(j, dj->key, &v, &len) == 0) {
		free(v);
		return 1;
	}
	return journal_meta_put(j, dj->key, "", 0);
}

static void
dw_done(struct jjob *job)
{
	struct dw_job *dj = (struct dw_job *)job;

	if (job->rc == 0) {
		dw_sent++;
		log_info("delaywarn: packet %s from %s to %s %s: delayed notice sent",
		    dj->key + 5, dj->p->src, dj->p->dst, dj->text);
		origin_notice_here(dj->p, CASCADE__NOTICE_CODE__NOTICE_DELAYED, dj->text);
	} else if (job->rc != 1)
		log_warnx("delaywarn: packet %s: cannot record the warning, none sent: %s",
		    dj->key + 5, journal_strerror(job->rc));
	cpkt_free(dj->p);
	free(dj);
}

static void
warn_one(const struct jentry *e, const struct jqueue_info *q, int64_t now)
{
	char idt[CID_TEXT_LEN], key[8 + CID_TEXT_LEN];
	Cascade__Packet *p;
	struct dw_job *dj;
	void *v;
	size_t len;

	cid_format(e->key.id, idt);
	snprintf(key, sizeof(key), "nf:d:%s", idt);
	if (journal_meta_get(node->j, key, &v, &len) == 0) {
		free(v);
		return;
	}
	if ((p = cpkt_decode(e->bytes, e->len)) == NULL)
		return;
	if (p->kind != CASCADE__PACKET_KIND__KIND_DATA ||
	    !(p->flags & CASCADE__PACKET_FLAG__FLAG_NOTIFY)) {
		cpkt_free(p);
		return;
	}
	dj = xcalloc(1, sizeof(*dj));
	dj->p = p;
	memcpy(dj->key, key, sizeof(key));
	snprintf(dj->text, sizeof(dj->text), "waiting %lld s at %s (queue %s)",
	    (long long)((now - e->accepted_ms) / 1000), node->id, q->name);
	dj->job.run = dw_run;
	dj->job.done = dw_done;
	jthread_submit(&dj->job);
}

struct qlist {
	struct jqueue_info *v;
	size_t n;
};

static int
collect(const struct jqueue_info *q, void *arg)
{
	struct qlist *l = arg;

	if (q->depth == 0)
		return 0;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = *q;
	return l->n >= DW_QUEUES_MAX;
}

static void
scan_queue(const struct jqueue_info *q, int64_t now)
{
	int64_t after = node->conf->delay_warning_after_ms;
	uint64_t *cur = qcursor_at(&dw_cursors, q->qid);
	struct jentry e[DW_PEEK];
	unsigned n, i;

	if (*cur <= q->acked_seq)
		*cur = q->acked_seq + 1;
	if (journal_peek(node->j, q->qid, *cur, DW_PEEK, 1 << 20, e, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		if (now - e[i].accepted_ms < after)
			break;          /* a queue is in acceptance order: the rest is younger */
		*cur = e[i].seq + 1;
		warn_one(&e[i], q, now);
	}
	journal_entries_free(e, n);
}

static void
dw_fire(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { DW_SCAN_MS / 1000, (DW_SCAN_MS % 1000) * 1000 };
	struct qlist l = { NULL, 0 };
	int64_t now = cnow_ms();
	size_t i;

	(void)fd, (void)what, (void)arg;
	if (node->conf->delay_warning_after_ms > 0) {  /* a reload may turn it off */
		journal_queues(node->j, collect, &l);
		for (i = 0; i < l.n; i++)
			scan_queue(&l.v[i], now);
		free(l.v);
	}
	evtimer_add(dw_timer, &tv);
}

void
delaywarn_start(void)
{
	struct timeval tv = { DW_SCAN_MS / 1000, (DW_SCAN_MS % 1000) * 1000 };

	if (node->conf->delay_warning_after_ms <= 0)
		return;
	dw_timer = evtimer_new(node->base, dw_fire, NULL);
	evtimer_add(dw_timer, &tv);
	log_info("delaywarn: delayed notices after %lld ms",
	    (long long)node->conf->delay_warning_after_ms);
}

void
delaywarn_stop(void)
{
	if (dw_timer != NULL)
		event_free(dw_timer);
	dw_timer = NULL;
	qcursors_free(&dw_cursors);
}

uint64_t
delaywarn_sent(void)
{
	return dw_sent;
}
