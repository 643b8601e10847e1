/*
 * ctl_reply.c — the control socket's replies as the commands build them: a
 * new reply, its result and texts, a queue's name and a packet's place in a
 * queue. No socket here: control.c sends (reply_send), so the commands
 * (ctl_*.c) and control.c both use this file and neither calls back into
 * the other.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascaded.h"

Cascade__CtlReply *
reply_new(void)
{
	Cascade__CtlReply *rep = xcalloc(1, sizeof(*rep));

	cascade__ctl_reply__init(rep);
	rep->version = CASCADE__CTL_VERSION__CTL_VERSION_CURRENT;
	rep->error = xstrdup("");
	rep->text = xstrdup("");
	return rep;
}

void
reply_set(Cascade__CtlReply *rep, uint32_t result, const char *error, const char *text)
{
	rep->result = result;
	if (error != NULL) {
		free(rep->error);
		rep->error = xstrdup(error);
	}
	if (text != NULL) {
		free(rep->text);
		rep->text = xstrdup(text);
	}
}

const char *
queue_name(uint32_t qid, char *buf, size_t len)
{
	struct jqueue_info qi;

	if (journal_queue_info(node->j, qid, &qi) != 0)
		snprintf(buf, len, "queue %u", qid);
	else
		snprintf(buf, len, "%s", qi.name);
	return buf;
}

/*
 * Where a queue entry stands: waiting, or gone, and then why: the
 * receiver's ack covers it (forwarded or delivered), or it left before
 * (its deadline passed: expired; otherwise cancelled).
 */
static uint32_t
place_of(const struct jwhere *w, unsigned i)
{
	struct jqueue_info qi;

	if (w->waiting[i])
		return CASCADE__CTL_PLACE__CTL_PLACE_QUEUED;
	if (journal_queue_info(node->j, w->qid[i], &qi) == 0 && w->qseq[i] <= qi.acked_seq)
		return qi.kind == JQ_CLIENT ? CASCADE__CTL_PLACE__CTL_PLACE_DELIVERED :
		    CASCADE__CTL_PLACE__CTL_PLACE_FORWARDED;
	if (w->deadline_ms != 0 && w->deadline_ms <= cnow_ms())
		return CASCADE__CTL_PLACE__CTL_PLACE_EXPIRED;
	return CASCADE__CTL_PLACE__CTL_PLACE_CANCELLED;
}

/* The i-th queue place of w, for a reply (freed with it). */
Cascade__CtlQueuePlace *
ctl_place(const struct jwhere *w, unsigned i)
{
	Cascade__CtlQueuePlace *qp = xcalloc(1, sizeof(*qp));
	char qn[96];

	cascade__ctl_queue_place__init(qp);
	qp->queue = xstrdup(queue_name(w->qid[i], qn, sizeof(qn)));
	qp->seq = w->qseq[i];
	qp->place = place_of(w, i);
	return qp;
}
