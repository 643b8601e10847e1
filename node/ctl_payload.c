/*
 * ctl_payload.c — the payload of a packet for `cascadectl audit show ID
 * --payload`, read by the daemon, which first journals the access: a
 * payload-read event (who, when, which packet and leg, the payload's
 * SHA-256) in the hash chain, like the PHI-access log a hospital
 * integration engine keeps. The event commits before the payload leaves;
 * an access that cannot be recorded (a full journal) is refused.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascaded.h"

#define CTL(x) CASCADE__CTL_RESULT__CTL_##x
#define TRACE_MAX 64            /* hops named in the event */

struct payload_read {
	struct jjob job;
	Cascade__CtlReply *rep;
	uint8_t id[CID_LEN];
	char who[320];
	int held;                       /* a record of some leg is here */
	Cascade__CtlPayload *out[2];
	unsigned nout;
};

/* Records the access to leg's payload p, then keeps a copy for the reply. */
static int
read_leg(struct journal *j, struct payload_read *pr, unsigned leg, const Cascade__Packet *p,
    const uint8_t sha[CSHA256_LEN])
{
	const char *trace[TRACE_MAX];
	Cascade__CtlPayload *o;
	char text[160], idt[CID_TEXT_LEN];
	struct jevent ev;
	size_t i;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.type = JEV_PAYLOAD_READ;
	ev.time_ms = cnow_ms();
	memcpy(ev.id, pr->id, CID_LEN);
	ev.leg = (uint8_t)leg;
	ev.peer = pr->who;
	ev.src = p->src != NULL ? p->src : "";
	ev.dst = p->dst != NULL ? p->dst : "";
	for (i = 0; i < p->n_trace && i < TRACE_MAX; i++)
		trace[i] = p->trace[i] != NULL && p->trace[i]->node != NULL ? p->trace[i]->node : "";
	ev.trace = trace;
	ev.ntrace = (unsigned)i;
	memcpy(ev.payload_sha, sha, CSHA256_LEN);
	snprintf(text, sizeof(text), "payload of %zu bytes read over the control socket "
	    "(cascadectl audit show --payload)", p->payload.len);
	ev.text = text;
	if ((rc = journal_log(j, &ev)) != 0)
		return rc;
	log_info("control: payload of packet %s (leg %s, %zu bytes) read by %s: event %llu",
	    cid_format(pr->id, idt), leg == JLEG_DOWN ? "down" : "up", p->payload.len, pr->who,
	    (unsigned long long)ev.seq);
	o = xcalloc(1, sizeof(*o));
	cascade__ctl_payload__init(o);
	o->id = xstrdup(idt);
	o->leg = leg;
	o->payload.len = p->payload.len;
	o->payload.data = xmalloc(p->payload.len ? p->payload.len : 1);
	if (p->payload.len > 0)
		memcpy(o->payload.data, p->payload.data, p->payload.len);
	o->event_seq = ev.seq;
	o->who = xstrdup(pr->who);
	pr->out[pr->nout++] = o;
	return 0;
}

static int
payload_run(struct journal *j, struct jjob *job)
{
	struct payload_read *pr = (struct payload_read *)job;
	Cascade__Packet *p;
	struct jwhere w;
	struct jkey k;
	unsigned leg;
	int rc;

	memcpy(k.id, pr->id, CID_LEN);
	for (leg = JLEG_UP; leg <= JLEG_DOWN; leg++) {
		k.leg = (uint8_t)leg;
		if ((rc = journal_packet_where(j, &k, &w)) == JOURNAL_NOT_FOUND)
			continue;
		if (rc != 0)
			return rc;
		pr->held = 1;
		/* a cancelled or expired packet keeps its header, not its payload */
		p = !w.pruned && w.body != NULL ? cpkt_decode(w.body, w.bodylen) : NULL;
		free(w.body);
		if (p == NULL)
			continue;
		rc = read_leg(j, pr, leg, p, w.sha);
		cpkt_free(p);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * No payload to give (not held, or gone) is an answer, not a failure:
 * `audit show` still shows the record and events. An access that could not
 * be recorded is refused.
 */
static void
payload_done(struct jjob *job)
{
	struct payload_read *pr = (struct payload_read *)job;
	Cascade__CtlReply *rep = pr->rep;
	char why[700], idt[CID_TEXT_LEN];
	unsigned i;

	cid_format(pr->id, idt);
	if (job->rc != 0) {
		snprintf(why, sizeof(why), "the access to the payload of %s could not be recorded "
		    "in the journal (%s): refused", idt, job->err);
		log_warnx("control: %s", why);
		reply_set(rep, CTL(FAILED), why, NULL);
		for (i = 0; i < pr->nout; i++)
			protobuf_c_message_free_unpacked(&pr->out[i]->base, NULL);
	} else {
		if (!pr->held)
			snprintf(why, sizeof(why), "packet %s is not in the journal of %s (never "
			    "here, or pruned after its retention)", idt, node->id);
		else if (pr->nout == 0)
			snprintf(why, sizeof(why), "the payload of %s is no longer in the journal "
			    "of %s (cancelled, expired or pruned)", idt, node->id);
		else
			snprintf(why, sizeof(why), "payload of %s read: access recorded", idt);
		reply_set(rep, rep->result, NULL, why);
		rep->payloads = xcalloc(pr->nout + 1, sizeof(*rep->payloads));
		for (i = 0; i < pr->nout; i++)
			rep->payloads[rep->n_payloads++] = pr->out[i];
	}
	reply_send(rep);
	free(pr);
}

void
ctl_payload(const char *arg, Cascade__CtlReply *rep, const char *who)
{
	struct payload_read *pr = xcalloc(1, sizeof(*pr));
	char why[256];

	if (cid_parse(arg, pr->id) != 0) {
		free(pr);
		snprintf(why, sizeof(why), "\"%.64s\" is not a packet id (12 hex digits, '-', 20 "
		    "hex digits)", arg);
		reply_set(rep, CTL(BAD_REQUEST), why, NULL);
		reply_send(rep);
		return;
	}
	pr->rep = rep;
	snprintf(pr->who, sizeof(pr->who), "%s", who);
	pr->job.run = payload_run;
	pr->job.done = payload_done;
	jthread_submit(&pr->job);
}
