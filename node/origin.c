/*
 * origin.c — the packets this node originates: notices to a packet's
 * source (delivered, undeliverable, rejected, expired, cancelled, delayed),
 * audit copies, the answer to a cancel, and the expiry sweep. Each is a
 * local packet (FROM_LOCAL): route.c decides where it goes, the journal
 * thread commits it, queue.c wakes whoever waits on its queues. Calls go
 * one way, downward: nothing here calls back into the listening side, the
 * uplink or the custody code that calls origin_*.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "origin.h"
#include "queue.h"
#include "rules.h"

#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x
#define REASON(x) CASCADE__REASON__REASON_##x

static struct event *expiry_timer;

/* ------------------------------------------------------- local packets */

struct local_job {
	struct jjob job;
	struct jbatch b;
	struct jitem *items;
	Cascade__Packet **pkts;
	char (*texts)[256];
	unsigned n;
};

/* What a local packet is about, for the log: "the delivered notice about packet ID". */
static const char *
local_about(const Cascade__Packet *n, char *buf, size_t len)
{
	char idt[CID_TEXT_LEN];

	snprintf(buf, len, "the %s %s about packet %s", n->command,
	    n->kind == KIND(AUDIT) ? "audit copy" : "notice",
	    n->ref_id.len == CID_LEN ? cid_format(n->ref_id.data, idt) : "?");
	return buf;
}

void
origin_local_committed(const struct jitem *it)
{
	char about[128];
	unsigned k;

	/* a local packet is a notice or an audit copy, never a cancel: waking its queues is all */
	if (it->result == JR_ACCEPTED) {
		for (k = 0; k < it->nqueues; k++)
			queue_wake(it->queues[k]);
		origin_expiry_at(it->deadline_ms);
	} else if (it->result == JR_FULL)
		log_warnx("origin: journal full: %s to %s is lost",
		    local_about(it->pkt, about, sizeof(about)), it->pkt->dst);
	else if (it->result == JR_REJECTED)
		log_warnx("origin: %s to %s rejected: %s", local_about(it->pkt, about, sizeof(about)),
		    it->pkt->dst, it->reject_text ? it->reject_text : "");
}

/*
 * route.c's decision for a local packet. It is a notice or an audit copy,
 * of which no audit copy is ever due (mrule_audit_copy_due: data only), so
 * the decision is all there is to do: no call back into custody.
 */
static void
local_route(Cascade__Packet *p, struct jitem *it, char *text, size_t textlen)
{
	struct route_acts acts;

	route_packet(node, p, FROM_LOCAL, NULL, cnow_ms(), it, text, textlen, &acts);
}

static void
local_done(struct jjob *job)
{
	struct local_job *lj = (struct local_job *)job;
	unsigned i;

	for (i = 0; i < lj->n; i++) {
		origin_local_committed(&lj->items[i]);
		cpkt_free(lj->pkts[i]);
	}
	free(lj->items);
	free(lj->pkts);
	free(lj->texts);
	free(lj);
}

void
origin_submit_local(Cascade__Packet *p)
{
	struct local_job *lj = xcalloc(1, sizeof(*lj));

	lj->n = 1;
	lj->items = xcalloc(1, sizeof(struct jitem));
	lj->pkts = xcalloc(1, sizeof(Cascade__Packet *));
	lj->texts = xcalloc(1, sizeof(*lj->texts));
	lj->pkts[0] = p;
	local_route(p, &lj->items[0], lj->texts[0], sizeof(lj->texts[0]));
	lj->b.peer = "";
	lj->b.items = lj->items;
	lj->b.n = 1;
	lj->job.batch = &lj->b;
	lj->job.done = local_done;
	jthread_submit(&lj->job);
}

/*
 * A new packet from this node. NULL when no id can be made (the system's
 * randomness failed): the caller logs what is lost and goes on, as the
 * node keeps serving everyone else.
 */
static Cascade__Packet *
packet_new(const char *dst, uint32_t kind, const char *command)
{
	Cascade__Packet *n = xcalloc(1, sizeof(*n));

	cascade__packet__init(n);
	n->version = CPKT_VERSION;
	n->id.data = xmalloc(CID_LEN);
	n->id.len = CID_LEN;
	if (cid_next(n->id.data) != 0) {
		cpkt_free(n);
		return NULL;
	}
	n->src = xstrdup(node->id);
	n->dst = xstrdup(dst);
	n->kind = kind;
	n->command = xstrdup(command);
	n->flags = FLAG(NO_TTL);
	return n;
}

static void
bytes_copy(ProtobufCBinaryData *to, const ProtobufCBinaryData *from)
{
	to->len = from->len;
	to->data = xmalloc(from->len ? from->len : 1);
	memcpy(to->data, from->data, from->len);
}

/* A notice about p to address to (NULL: none is due); down: on the down leg from here. */
static Cascade__Packet *
notice_new(const Cascade__Packet *p, const char *to, int down, uint32_t code, uint32_t reason,
    const char *text)
{
	static const char *names[] = { "", "delivered", "expired", "undeliverable",
	    "rejected", "cancelled", "cancel-too-late", "delayed" };
	const char *name = code < sizeof(names) / sizeof(names[0]) ? names[code] : "notice";
	Cascade__Packet *n;
	struct caddr a;
	char idt[CID_TEXT_LEN];

	if (p->kind == KIND(NOTICE) || p->kind == KIND(AUDIT) || to == NULL ||
	    caddr_parse(to, &a) != CADDR_OK || p->id.len != CID_LEN)
		return NULL;            /* never a notice about a notice */
	if ((n = packet_new(to, KIND(NOTICE), name)) == NULL) {
		log_warnx("origin: no randomness for a packet id: the %s notice about packet %s "
		    "to %s is lost", name, cid_format(p->id.data, idt), to);
		return NULL;
	}
	if (down)
		n->flags |= FLAG(DOWN);
	bytes_copy(&n->ref_id, &p->id);
	bytes_copy(&n->reply_to, &p->id);
	n->notice = code;
	n->reason = reason;
	if (text != NULL)
		n->text = strndup(text, CPKT_TEXT_MAX);
	return n;
}

static void
notice_to(const Cascade__Packet *p, const char *to, int down, uint32_t code, uint32_t reason,
    const char *text)
{
	Cascade__Packet *n = notice_new(p, to, down, code, reason, text);

	if (n != NULL)
		origin_submit_local(n);
}

void
origin_notice(const Cascade__Packet *p, uint32_t code, uint32_t reason, const char *text)
{
	notice_to(p, p->src, 0, code, reason, text);
}

Cascade__Packet *
origin_notice_routed(const Cascade__Packet *p, uint32_t code, uint32_t reason, const char *text,
    struct jitem *it, char *why, size_t whylen)
{
	Cascade__Packet *n = notice_new(p, p->src, 0, code, reason, text);

	if (n != NULL)
		local_route(n, it, why, whylen);
	return n;
}

/* The notice a refused packet earns, if any: the bounce policy is master/rules.c's. */
static void
reject_notice(const Cascade__Packet *p, const char *to, int down, uint32_t reason,
    const char *text)
{
	uint32_t code = mrule_bounce_code(reason, p->flags, p->kind);

	if (code != 0)
		notice_to(p, to, down, code, reason, text);
}

void
origin_rejected_from_client(const Cascade__Packet *p, const struct peer *client,
    uint32_t reason, const char *text)
{
	/* the session's own address: the src it claimed may be someone else's */
	reject_notice(p, client->name, 0, reason, text);
}

void
origin_rejected_above(const Cascade__Reject *r)
{
	Cascade__Packet *p;
	struct caddr src;
	struct jkey k;
	uint8_t *bytes;
	size_t len;
	char idt[CID_TEXT_LEN];

	if (r->id.len != CID_LEN)
		return;
	memcpy(k.id, r->id.data, CID_LEN);
	k.leg = JLEG_UP;                /* the up queue holds up-leg packets only */
	if (journal_packet_get(node->j, &k, &bytes, &len, NULL) != 0) {
		log_warnx("origin: packet %s rejected above: not in the journal (%s); its source "
		    "is not told", cid_format(k.id, idt), journal_errmsg(node->j));
		return;
	}
	p = cpkt_decode(bytes, len);
	free(bytes);
	if (p == NULL)
		return;
	/*
	 * The src was checked when this node took the packet, so it lies in
	 * this subtree: a notice down from here reaches it even when nobody
	 * above can route it (a src the parent refused as spoofed).
	 */
	if (caddr_parse(p->src, &src) == CADDR_OK && routes_in_subtree(node, src.node))
		reject_notice(p, p->src, 1, r->reason, r->text);
	cpkt_free(p);
}

/*
 * A notice about a packet waiting here (delaywarn.c): to a source in this
 * subtree it goes down from here, so it does not wait behind the very link
 * that delays the packet; to a source elsewhere, up as usual.
 */
void
origin_notice_here(const Cascade__Packet *p, uint32_t code, const char *text)
{
	struct caddr src;

	notice_to(p, p->src, caddr_parse(p->src, &src) == CADDR_OK && routes_in_subtree(node, src.node),
	    code, 0, text);
}

void
origin_audit_copy(const Cascade__Packet *p)
{
	Cascade__Packet *n = packet_new(p->dst, KIND(AUDIT), p->command);
	size_t len;
	char idt[CID_TEXT_LEN];

	if (n == NULL) {
		log_warnx("origin: no randomness for a packet id: the audit copy of packet %s "
		    "(from %s to %s) is not made", p->id.len == CID_LEN ?
		    cid_format(p->id.data, idt) : "?", p->src, p->dst);
		return;
	}
	bytes_copy(&n->ref_id, &p->id);
	/* who sent it: the auditor's src is the original's, not this node's */
	n->orig_src = xstrdup(p->src);
	/* the whole original, so the master's audit holds what passed */
	n->payload.data = cpkt_encode(p, &len);
	n->payload.len = len;
	origin_submit_local(n);
}

/* -------------------------------------------------------------- cancel */

/*
 * A cancel for packet X travels the same flow (src, dst) as X, so it never
 * overtakes it. Every node on the way removes X if X still waits there, but
 * only the destination's node answers, once: "cancelled" when X waits there
 * or never came (removed upstream: it will never come now, the cancel being
 * behind it), "too late" when X was delivered. An upstream node cannot
 * answer: X may be in flight from it, taken by the next node whose ack was
 * lost (a cut link, a kill -9); the next node then holds X too and both
 * would say "cancelled", or X is delivered downstream while this node says
 * "cancelled" (issue 14's chaos test saw a source told "cancelled" twice).
 * Only X's source may cancel X: the cancel's src was checked like any
 * packet's when this node took it, and the journal compares it with X's
 * (journal_cancel); any other cancel is refused at every node it passes,
 * logged and journaled as spoofing, and at the destination's node answered
 * like an id it never saw, so that the answer tells a prober nothing.
 */
struct cancel_job {
	struct jjob job;
	Cascade__Packet *p;
	int here, was_queued, known, refused;
};

static int
cancel_run(struct journal *j, struct jjob *job)
{
	struct cancel_job *cj = (struct cancel_job *)job;
	struct jwhere w;
	struct jkey k;
	int leg, wq, rc;

	memcpy(k.id, cj->p->ref_id.data, CID_LEN);
	for (leg = 0; leg <= 1; leg++) {
		k.leg = (uint8_t)leg;
		wq = 0;
		rc = journal_cancel(j, &k, cj->p->src, (uint64_t)cnow_ms(), &wq);
		if (rc == 0) {
			cj->known = 1;
			cj->was_queued |= wq;
		} else if (rc == JOURNAL_NOT_YOURS)
			cj->refused = 1;
		else if (rc != JOURNAL_NOT_FOUND)
			return rc;
		else if (cj->here && journal_packet_where(j, &k, &w) == 0) {
			/* its body pruned: delivered long ago */
			free(w.body);
			cj->known = 1;
		}
	}
	return 0;
}

static void
cancel_done(struct jjob *job)
{
	struct cancel_job *cj = (struct cancel_job *)job;
	Cascade__Packet orig = *cj->p;
	char idt[CID_TEXT_LEN];

	/* notices about the original: its id, sent to the cancel's source */
	orig.id = cj->p->ref_id;
	orig.kind = KIND(DATA);
	if (job->rc == 0 && cj->was_queued)
		origin_cancel_release(cj->p->ref_id.data);
	if (job->rc != 0)
		log_warnx("origin: cancel of %s: %s", cid_format(orig.id.data, idt),
		    journal_strerror(job->rc));
	else {
		if (cj->refused)
			log_warnx("origin: %s: cancel of packet %s refused: spoofed: only the "
			    "packet's source may cancel it", cj->p->src,
			    cid_format(orig.id.data, idt));
		else if (cj->was_queued)
			log_info("origin: packet %s cancelled by %s%s",
			    cid_format(orig.id.data, idt), cj->p->src,
			    cj->here ? "" : " (the destination's node answers)");
		/* "too late" only for a genuine cancel of a packet delivered here */
		if (cj->here && !cj->refused && !cj->was_queued && cj->known)
			origin_notice(&orig, CASCADE__NOTICE_CODE__NOTICE_CANCEL_TOO_LATE, 0,
			    "already delivered");
		else if (cj->here)
			origin_notice(&orig, CASCADE__NOTICE_CODE__NOTICE_CANCELLED, 0,
			    "cancelled before delivery");
	}
	cpkt_free(cj->p);
	free(cj);
}

void
origin_cancel(const Cascade__Packet *p)
{
	struct cancel_job *cj;
	struct caddr dst;
	uint8_t *buf;
	size_t len;

	if (p->ref_id.len != CID_LEN || (buf = cpkt_encode(p, &len)) == NULL)
		return;
	cj = xcalloc(1, sizeof(*cj));
	cj->p = cpkt_decode(buf, len);      /* our own copy: p goes with its batch */
	free(buf);
	if (cj->p == NULL) {
		free(cj);
		return;
	}
	cj->here = caddr_parse(p->dst, &dst) == CADDR_OK && strcmp(dst.node, node->id) == 0;
	cj->job.run = cancel_run;
	cj->job.done = cancel_done;
	jthread_submit(&cj->job);
}

/* The operator's cancel (control.c) and a packet's cancel give the quota back alike. */
void
origin_cancel_release(const uint8_t id[CID_LEN])
{
	struct jkey k[2];

	memcpy(k[0].id, id, CID_LEN);
	memcpy(k[1].id, id, CID_LEN);
	k[0].leg = JLEG_UP;
	k[1].leg = JLEG_DOWN;
	lim_quota_release(k, 2);
}

/* -------------------------------------------------------------- expiry */

struct sweep_job {
	struct jjob job;
	struct jexpired out[64];
	unsigned n;
};

static int
sweep_run(struct journal *j, struct jjob *job)
{
	struct sweep_job *sj = (struct sweep_job *)job;

	return journal_sweep_expired(j, cnow_ms(), 64, sj->out, &sj->n);
}

static void schedule_expiry(void);
static int64_t expiry_at;               /* wall clock the timer is armed for, 0: not armed */
static int sweeping;                    /* a sweep is on the journal thread */

static void
sweep_done(struct jjob *job)
{
	struct sweep_job *sj = (struct sweep_job *)job;
	unsigned i, more = sj->n == 64;

	if (job->rc != 0)
		log_warnx("origin: expiry sweep: %s", journal_strerror(job->rc));
	for (i = 0; i < sj->n; i++) {
		Cascade__Packet *p = cpkt_decode(sj->out[i].bytes, sj->out[i].len);
		char idt[CID_TEXT_LEN];

		lim_quota_release(&sj->out[i].key, 1);
		if (p != NULL) {
			log_info("origin: packet %s from %s to %s expired",
			    cid_format(sj->out[i].key.id, idt), p->src, p->dst);
			if (p->flags & FLAG(NOTIFY))
				origin_notice(p, CASCADE__NOTICE_CODE__NOTICE_EXPIRED, REASON(EXPIRED),
				    "ttl ran out while waiting");
			cpkt_free(p);
		}
		free(sj->out[i].bytes);
	}
	free(sj);
	if (more) {
		sj = xcalloc(1, sizeof(*sj));
		sj->job.run = sweep_run;
		sj->job.done = sweep_done;
		jthread_submit(&sj->job);
	} else {
		sweeping = 0;
		schedule_expiry();
	}
}

static void
expiry_fire(evutil_socket_t fd, short what, void *arg)
{
	struct sweep_job *sj = xcalloc(1, sizeof(*sj));

	expiry_at = 0;
	sweeping = 1;
	sj->job.run = sweep_run;
	sj->job.done = sweep_done;
	jthread_submit(&sj->job);
}

/*
 * The sweep is armed for the earliest deadline in the index and not at all
 * while none is (an idle node does not wake for it). Whatever indexes a
 * deadline says so (origin_expiry_at), which brings an armed sweep forward.
 * At most EXPIRY_RECHECK_MS ahead: deadlines are wall-clock times and
 * libevent's timers are not, so a clock set forward is noticed within it.
 */
#define EXPIRY_RECHECK_MS 60000

static void
arm_expiry(int64_t at)
{
	int64_t wait = at - cnow_ms();
	struct timeval tv;

	/*
	 * Past due after a sweep: a packet in flight on a link, left for the
	 * link's ack or resume to decide; look again a little later.
	 */
	if (wait <= 0)
		wait = 200;
	else if (wait < 10)
		wait = 10;
	if (wait > EXPIRY_RECHECK_MS)
		wait = EXPIRY_RECHECK_MS;
	tv.tv_sec = wait / 1000;
	tv.tv_usec = (wait % 1000) * 1000;
	evtimer_add(expiry_timer, &tv);
	expiry_at = at;
}

static void
schedule_expiry(void)
{
	int64_t next = journal_next_deadline(node->j);

	if (next > 0)
		arm_expiry(next);
	else {
		evtimer_del(expiry_timer);
		expiry_at = 0;
	}
}

void
origin_expiry_at(int64_t deadline_ms)
{
	if (expiry_timer == NULL || sweeping)   /* the sweep's end reads the index */
		return;
	if (deadline_ms == 0)
		schedule_expiry();
	else if (expiry_at == 0 || deadline_ms < expiry_at)
		arm_expiry(deadline_ms);
}

void
origin_start_timers(void)
{
	expiry_timer = evtimer_new(node->base, expiry_fire, NULL);
	schedule_expiry();
}
