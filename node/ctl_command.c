/*
 * ctl_command.c — what each cascadectl(8) command does. control.c receives
 * a request, checks who asks and the protocol version, and hands it here
 * through the handler main.c started it with (control_start(c,
 * ctl_command)). A command answers now (the caller sends rep) or later, when
 * its journal job is done (it calls reply_send itself).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascaded.h"
#include "origin.h"

#define CTL(x) CASCADE__CTL_RESULT__CTL_##x
#define CMD(x) CASCADE__CTL_COMMAND__CTL_##x

static int
link_check(const char *name, Cascade__CtlReply *rep)
{
	char why[256];

	if (node->up != NULL && strcmp(name, node->conf->parent->id) == 0)
		return 0;
	if (routes_child_for(node, name) != NULL)
		snprintf(why, sizeof(why), "%s is a child: a child's link is driven from its own "
		    "node (cascadectl on %s)", name, name);
	else if (node->up == NULL)
		snprintf(why, sizeof(why), "no link %s: this node (%s) is the master and has no "
		    "parent", name, node->id);
	else
		snprintf(why, sizeof(why), "no link %s: the parent of %s is %s", name, node->id,
		    node->conf->parent->id);
	reply_set(rep, CTL(NOT_FOUND), why, NULL);
	return -1;
}

static void
do_link_op(uint32_t cmd, const char *name, Cascade__CtlReply *rep)
{
	char text[256];

	if (link_check(name, rep) != 0)
		return;
	switch (cmd) {
	case CMD(PAUSE):
		if (uplink_pause(node->up) != 0) {
			reply_set(rep, CTL(FAILED), "the link is paused already", NULL);
			return;
		}
		snprintf(text, sizeof(text), "link %s paused: nothing is sent or pulled until "
		    "resume", name);
		break;
	case CMD(RESUME):
		if (uplink_resume(node->up) != 0) {
			reply_set(rep, CTL(FAILED), "the link is not paused", NULL);
			return;
		}
		snprintf(text, sizeof(text), "link %s resumed: connecting", name);
		break;
	default:        /* RETRY */
		if (uplink_retry(node->up) != 0) {
			reply_set(rep, CTL(FAILED), "the link is paused: resume it first", NULL);
			return;
		}
		snprintf(text, sizeof(text), "link %s: redialing now", name);
	}
	log_info("control: %s", text);
	reply_set(rep, CTL(OK), NULL, text);
}

static int
id_arg(const char *arg, uint8_t id[CID_LEN], Cascade__CtlReply *rep)
{
	char why[256];

	if (cid_parse(arg, id) == 0)
		return 0;
	snprintf(why, sizeof(why), "\"%.64s\" is not a packet id (12 hex digits, '-', 20 hex "
	    "digits)", arg);
	reply_set(rep, CTL(BAD_REQUEST), why, NULL);
	return -1;
}

static Cascade__CtlPacket *
packet_shown(const uint8_t id[CID_LEN], unsigned leg, struct jwhere *w)
{
	Cascade__CtlPacket *cp = xcalloc(1, sizeof(*cp));
	Cascade__Packet *p = NULL;
	char idt[CID_TEXT_LEN];
	unsigned i;

	cascade__ctl_packet__init(cp);
	cp->id = xstrdup(cid_format(id, idt));
	cp->leg = leg;
	if (w->body != NULL)
		p = cpkt_decode(w->body, w->bodylen);
	cp->src = xstrdup(p != NULL ? p->src : "");
	cp->dst = xstrdup(p != NULL ? p->dst : "");
	cp->command = xstrdup(p != NULL ? p->command : "");
	cp->payload_size = p != NULL ? p->payload.len : 0;
	cpkt_free(p);
	cp->accepted_ms = w->accepted_ms;
	cp->deadline_ms = w->deadline_ms;
	cp->pruned = w->pruned;
	cp->payload_sha256.data = xmalloc(CSHA256_LEN);
	memcpy(cp->payload_sha256.data, w->sha, CSHA256_LEN);
	cp->payload_sha256.len = CSHA256_LEN;
	cp->places = xcalloc(w->nq + 1, sizeof(*cp->places));
	for (i = 0; i < w->nq; i++)
		cp->places[cp->n_places++] = ctl_place(w, i);
	return cp;
}

static void
do_show(const char *arg, Cascade__CtlReply *rep)
{
	uint8_t id[CID_LEN];
	struct jwhere w;
	struct jkey k;
	unsigned leg;
	char why[256];
	int rc;

	if (id_arg(arg, id, rep) != 0)
		return;
	rep->packets = xcalloc(2, sizeof(*rep->packets));
	memcpy(k.id, id, CID_LEN);
	for (leg = JLEG_UP; leg <= JLEG_DOWN; leg++) {
		k.leg = (uint8_t)leg;
		if ((rc = journal_packet_where(node->j, &k, &w)) == JOURNAL_NOT_FOUND)
			continue;
		if (rc != 0) {
			reply_set(rep, CTL(FAILED), journal_errmsg(node->j), NULL);
			return;
		}
		rep->packets[rep->n_packets++] = packet_shown(id, leg, &w);
		free(w.body);
	}
	if (rep->n_packets == 0) {
		snprintf(why, sizeof(why), "packet %s is not in the journal of %s (never here, or "
		    "pruned after its retention)", arg, node->id);
		reply_set(rep, CTL(NOT_FOUND), why, NULL);
	}
}

/*
 * cancel: the operator acts for the packet's source (journal_cancel checks
 * the source; here it is read from the packet itself), at this node only.
 * The source hears "cancelled" as when it cancels itself.
 */
struct ctl_cancel {
	struct jjob job;
	uint8_t id[CID_LEN];
	Cascade__Packet *orig;          /* the packet as stored, for the notice */
	int known, was_queued;
	Cascade__CtlReply *rep;
};

static int
cancel_run(struct journal *j, struct jjob *job)
{
	struct ctl_cancel *cc = (struct ctl_cancel *)job;
	struct jwhere w;
	struct jkey k;
	int leg, wq, rc;

	memcpy(k.id, cc->id, CID_LEN);
	for (leg = JLEG_UP; leg <= JLEG_DOWN; leg++) {
		Cascade__Packet *p;

		k.leg = (uint8_t)leg;
		if ((rc = journal_packet_where(j, &k, &w)) == JOURNAL_NOT_FOUND)
			continue;
		if (rc != 0)
			return rc;
		p = w.body != NULL ? cpkt_decode(w.body, w.bodylen) : NULL;
		free(w.body);
		if (p == NULL)
			continue;       /* pruned: delivered long ago, waits nowhere */
		cc->known = 1;
		wq = 0;
		rc = journal_cancel(j, &k, p->src, (uint64_t)cnow_ms(), &wq);
		if (rc != 0) {
			cpkt_free(p);
			return rc;
		}
		cc->was_queued |= wq;
		if (cc->orig == NULL)
			cc->orig = p;
		else
			cpkt_free(p);
	}
	return 0;
}

static void
cancel_done(struct jjob *job)
{
	struct ctl_cancel *cc = (struct ctl_cancel *)job;
	char idt[CID_TEXT_LEN], text[256];

	cid_format(cc->id, idt);
	if (job->rc != 0)
		reply_set(cc->rep, CTL(FAILED), journal_strerror(job->rc), NULL);
	else if (!cc->known) {
		snprintf(text, sizeof(text), "packet %s is not in the journal of %s", idt, node->id);
		reply_set(cc->rep, CTL(NOT_FOUND), text, NULL);
	} else if (!cc->was_queued) {
		snprintf(text, sizeof(text), "packet %s waits nowhere here: it left (see "
		    "cascadectl show %s)", idt, idt);
		reply_set(cc->rep, CTL(FAILED), text, NULL);
	} else {
		origin_cancel_release(cc->id);
		log_info("control: packet %s (from %s) cancelled by the operator", idt,
		    cc->orig->src);
		origin_notice(cc->orig, CASCADE__NOTICE_CODE__NOTICE_CANCELLED, 0,
		    "cancelled by the operator of the node");
		snprintf(text, sizeof(text), "packet %s cancelled; a \"cancelled\" notice goes to %s",
		    idt, cc->orig->src);
		reply_set(cc->rep, CTL(OK), NULL, text);
	}
	cpkt_free(cc->orig);
	reply_send(cc->rep);
	free(cc);
}

/* 1 when the reply goes later (the journal thread has the command). */
static int
do_cancel(const char *arg, Cascade__CtlReply *rep)
{
	struct ctl_cancel *cc;
	uint8_t id[CID_LEN];

	if (id_arg(arg, id, rep) != 0)
		return 0;
	cc = xcalloc(1, sizeof(*cc));
	memcpy(cc->id, id, CID_LEN);
	cc->rep = rep;
	cc->job.run = cancel_run;
	cc->job.done = cancel_done;
	jthread_submit(&cc->job);
	return 1;
}

/*
 * Does what req asks. Returns 0 when rep is the answer (the caller sends
 * it), 1 when the command sends rep itself (now or when its job is done).
 * who: the asking process, for the events of audited commands. req stays
 * the caller's.
 */
int
ctl_command(const Cascade__CtlRequest *req, Cascade__CtlReply *rep, const char *who)
{
	char why[256];

	switch (req->command) {
	case CMD(STATUS):
		rep->status = snapshot_status();
		break;
	case CMD(LINKS):
		snapshot_links(&rep->links, &rep->n_links);
		break;
	case CMD(CLIENTS):
		snapshot_clients(&rep->clients, &rep->n_clients);
		break;
	case CMD(SHOW):
		do_show(req->arg, rep);
		break;
	case CMD(CANCEL):
		return do_cancel(req->arg, rep);
	case CMD(PAUSE):
	case CMD(RESUME):
	case CMD(RETRY):
		do_link_op(req->command, req->arg, rep);
		break;
	case CMD(QUEUE): ctl_queue(req, rep); break;
	case CMD(CHECK):
	case CMD(RELOAD): {
		char *text = NULL;

		if (reload_run(req->command == CMD(CHECK), &text) != 0)
			reply_set(rep, CTL(FAILED), text, NULL);
		else
			reply_set(rep, CTL(OK), NULL, text);
		free(text);
		break;
	}
	case CMD(TRACE): ctl_trace(req->arg, rep); return 1;
	case CMD(REPLAY):
	case CMD(PAYLOAD):
		/* answered once the journal thread has done it (and journaled who asked) */
		if (req->command == CMD(REPLAY))
			ctl_replay(req, rep, who);
		else
			ctl_payload(req->arg, rep, who);
		return 1;
	case CMD(AUDIT_ANCHOR):
		ctl_audit_anchor(rep);
		return 1;
	default:
		snprintf(why, sizeof(why), "unknown command %u (a newer cascadectl?)", req->command);
		log_warnx("control: request refused: %s", why);
		reply_set(rep, CTL(BAD_REQUEST), why, NULL);
	}
	return 0;
}
