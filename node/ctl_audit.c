/*
 * ctl_audit.c — chain anchors: the event log's head written as an "anchor"
 * event and logged (syslog when a daemon), every audit-anchor-interval and
 * on `cascadectl audit anchor`, so an auditor can note the hash outside the
 * system; `cascadectl audit verify --anchor HASH` later checks that the
 * chain still passes through it (cascadectl_audit.c).
 *
 * The anchor is written by the journal thread (the one writer), so it hooks
 * on the chain between two commits like any event.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascaded.h"

struct anchor_job {
	struct jjob job;
	Cascade__CtlReply *rep;         /* NULL: the periodic one */
	int64_t now_ms;
	uint64_t seq, anchor_seq;
	uint8_t head[CSHA256_LEN];
};

static struct event *anchor_ev;

static int
anchor_run(struct journal *j, struct jjob *job)
{
	struct anchor_job *a = (struct anchor_job *)job;
	int rc;

	rc = journal_anchor(j, a->now_ms, &a->seq, a->head);
	if (rc == 0)
		a->anchor_seq = a->seq + 1;
	return rc;
}

static void
anchor_done(struct jjob *job)
{
	struct anchor_job *a = (struct anchor_job *)job;
	Cascade__CtlReply *rep = a->rep;
	char h[2 * CSHA256_LEN + 1], text[600];

	chex(a->head, CSHA256_LEN, h);
	if (job->rc != 0) {
		log_warnx("audit: anchor: %s (the next one is tried at the next interval)",
		    job->err);
		if (rep != NULL) {
			snprintf(text, sizeof(text), "anchor: %s", job->err);
			reply_set(rep, CASCADE__CTL_RESULT__CTL_FAILED, text, NULL);
		}
	} else {
		/* the line an auditor copies: node, position, hash */
		log_info("audit: anchor of %s: chain head at record %llu is %s%s", node->id,
		    (unsigned long long)a->seq, h, rep != NULL ? " (cascadectl audit anchor)" : "");
		if (rep != NULL) {
			Cascade__CtlAnchor *an = xcalloc(1, sizeof(*an));

			cascade__ctl_anchor__init(an);
			an->seq = a->seq;
			an->head = xstrdup(h);
			an->time_ms = a->now_ms;
			an->anchor_seq = a->anchor_seq;
			rep->anchor = an;
			snprintf(text, sizeof(text), "anchor of %s: chain head at record %llu is %s",
			    node->id, (unsigned long long)a->seq, h);
			reply_set(rep, rep->result, NULL, text);
		}
	}
	if (rep != NULL)
		reply_send(rep);
	free(a);
}

static void
anchor_submit(Cascade__CtlReply *rep)
{
	struct anchor_job *a = xcalloc(1, sizeof(*a));

	a->rep = rep;
	a->now_ms = cnow_ms();
	a->job.run = anchor_run;
	a->job.done = anchor_done;
	jthread_submit(&a->job);
}

void
ctl_audit_anchor(Cascade__CtlReply *rep)
{
	anchor_submit(rep);
}

static void
anchor_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	anchor_submit(NULL);
}

void
anchor_start(void)
{
	int64_t ms = node->conf->audit_anchor_ms;
	struct timeval tv;

	if (ms <= 0)
		return;
	if ((anchor_ev = event_new(node->base, -1, EV_PERSIST, anchor_tick, NULL)) == NULL)
		fatalx("audit: event_new failed");
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(anchor_ev, &tv);
	log_info("audit: an anchor (the event log's head) every %lld s", (long long)(ms / 1000));
}

void
anchor_stop(void)
{
	if (anchor_ev != NULL)
		event_free(anchor_ev);
	anchor_ev = NULL;
}
