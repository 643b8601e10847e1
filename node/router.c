/*
 * router.c — the packets this node originates and what follows a decision:
 * local packets (notices to the source, audit copies), cancel and the
 * expiry sweep. The decision and the wake of a queue's reader are
 * custody.c's, the subtree table is routes.c's.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "custody.h"
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

void
router_local_committed(const struct jitem *it)
{
	if (it->result == JR_ACCEPTED)
		custody_accepted(it);
	else if (it->result == JR_FULL)
		log_warnx("router: journal full: notice %s lost", it->pkt->command);
	else if (it->result == JR_REJECTED)
		log_warnx("router: local packet to %s rejected: %s", it->pkt->dst,
		    it->reject_text ? it->reject_text : "");
}

static void
local_done(struct jjob *job)
{
	struct local_job *lj = (struct local_job *)job;
	unsigned i;

	for (i = 0; i < lj->n; i++) {
		router_local_committed(&lj->items[i]);
		cpkt_free(lj->pkts[i]);
	}
	free(lj->items);
	free(lj->pkts);
	free(lj->texts);
	free(lj);
}

void
router_submit_local(Cascade__Packet *p)
{
	struct local_job *lj = xcalloc(1, sizeof(*lj));

	lj->n = 1;
	lj->items = xcalloc(1, sizeof(struct jitem));
	lj->pkts = xcalloc(1, sizeof(Cascade__Packet *));
	lj->texts = xcalloc(1, sizeof(*lj->texts));
	lj->pkts[0] = p;
	custody_route(p, FROM_LOCAL, NULL, &lj->items[0], lj->texts[0], sizeof(lj->texts[0]));
	lj->b.peer = "";
	lj->b.items = lj->items;
	lj->b.n = 1;
	lj->job.batch = &lj->b;
	lj->job.done = local_done;
	jthread_submit(&lj->job);
}

static Cascade__Packet *
packet_new(const char *dst, uint32_t kind, const char *command)
{
	Cascade__Packet *n = xcalloc(1, sizeof(*n));

	cascade__packet__init(n);
	n->version = CPKT_VERSION;
	n->id.data = xmalloc(CID_LEN);
	n->id.len = CID_LEN;
	if (cid_next(n->id.data) != 0)
		fatalx("router: no randomness for packet ids");
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
	Cascade__Packet *n;
	struct caddr a;

	if (p->kind == KIND(NOTICE) || p->kind == KIND(AUDIT) || to == NULL ||
	    caddr_parse(to, &a) != CADDR_OK || p->id.len != CID_LEN)
		return NULL;            /* never a notice about a notice */
	n = packet_new(to, KIND(NOTICE), code < sizeof(names) / sizeof(names[0]) ? names[code] : "notice");
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
		router_submit_local(n);
}

void
router_notice(const Cascade__Packet *p, uint32_t code, uint32_t reason, const char *text)
{
	notice_to(p, p->src, 0, code, reason, text);
}

Cascade__Packet *
router_notice_routed(const Cascade__Packet *p, uint32_t code, uint32_t reason, const char *text,
    struct jitem *it, char *why, size_t whylen)
{
	Cascade__Packet *n = notice_new(p, p->src, 0, code, reason, text);

	if (n != NULL)
		custody_route(n, FROM_LOCAL, NULL, it, why, whylen);
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
router_rejected_from_client(const Cascade__Packet *p, const struct peer *client,
    uint32_t reason, const char *text)
{
	/* the session's own address: the src it claimed may be someone else's */
	reject_notice(p, client->name, 0, reason, text);
}

void
router_rejected_above(const Cascade__Reject *r)
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
		log_warnx("router: packet %s rejected above: not in the journal (%s); its source "
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
router_notice_here(const Cascade__Packet *p, uint32_t code, const char *text)
{
	struct caddr src;

	notice_to(p, p->src, caddr_parse(p->src, &src) == CADDR_OK && routes_in_subtree(node, src.node),
	    code, 0, text);
}

void
make_audit_copy(const Cascade__Packet *p)
{
	Cascade__Packet *n = packet_new(p->dst, KIND(AUDIT), p->command);
	size_t len;

	bytes_copy(&n->ref_id, &p->id);
	/* who sent it: the auditor's src is the original's, not this node's */
	n->orig_src = xstrdup(p->src);
	/* the whole original, so the master's audit holds what passed */
	n->payload.data = cpkt_encode(p, &len);
	n->payload.len = len;
	router_submit_local(n);
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
	if (job->rc == 0 && cj->was_queued) {
		struct jkey k[2];

		memcpy(k[0].id, cj->p->ref_id.data, CID_LEN);
		memcpy(k[1].id, cj->p->ref_id.data, CID_LEN);
		k[0].leg = 0;
		k[1].leg = 1;
		lim_quota_release(k, 2);
	}
	if (job->rc != 0)
		log_warnx("router: cancel of %s: %s", cid_format(orig.id.data, idt),
		    journal_strerror(job->rc));
	else {
		if (cj->refused)
			log_warnx("router: %s: cancel of packet %s refused: spoofed: only the "
			    "packet's source may cancel it", cj->p->src,
			    cid_format(orig.id.data, idt));
		else if (cj->was_queued)
			log_info("router: packet %s cancelled by %s%s",
			    cid_format(orig.id.data, idt), cj->p->src,
			    cj->here ? "" : " (the destination's node answers)");
		/* "too late" only for a genuine cancel of a packet delivered here */
		if (cj->here && !cj->refused && !cj->was_queued && cj->known)
			router_notice(&orig, CASCADE__NOTICE_CODE__NOTICE_CANCEL_TOO_LATE, 0,
			    "already delivered");
		else if (cj->here)
			router_notice(&orig, CASCADE__NOTICE_CODE__NOTICE_CANCELLED, 0,
			    "cancelled before delivery");
	}
	cpkt_free(cj->p);
	free(cj);
}

void
cancel_start(const Cascade__Packet *p)
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

static void
sweep_done(struct jjob *job)
{
	struct sweep_job *sj = (struct sweep_job *)job;
	unsigned i, more = sj->n == 64;

	if (job->rc != 0)
		log_warnx("router: expiry sweep: %s", journal_strerror(job->rc));
	for (i = 0; i < sj->n; i++) {
		Cascade__Packet *p = cpkt_decode(sj->out[i].bytes, sj->out[i].len);
		char idt[CID_TEXT_LEN];

		lim_quota_release(&sj->out[i].key, 1);
		if (p != NULL) {
			log_info("router: packet %s from %s to %s expired",
			    cid_format(sj->out[i].key.id, idt), p->src, p->dst);
			if (p->flags & FLAG(NOTIFY))
				router_notice(p, CASCADE__NOTICE_CODE__NOTICE_EXPIRED, REASON(EXPIRED),
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
	} else
		schedule_expiry();
}

static void
expiry_fire(evutil_socket_t fd, short what, void *arg)
{
	struct sweep_job *sj = xcalloc(1, sizeof(*sj));

	sj->job.run = sweep_run;
	sj->job.done = sweep_done;
	jthread_submit(&sj->job);
}

/* Next sweep at the earliest deadline, at most a second away. */
static void
schedule_expiry(void)
{
	int64_t next = journal_next_deadline(node->j), wait = 1000;
	struct timeval tv;

	if (next > 0) {
		wait = next - cnow_ms();
		/*
		 * Past due after a sweep: a packet in flight on a link, left for
		 * the link's ack or resume to decide; look again a little later.
		 */
		if (wait <= 0)
			wait = 200;
		else if (wait < 10)
			wait = 10;
		if (wait > 1000)
			wait = 1000;
	}
	tv.tv_sec = wait / 1000;
	tv.tv_usec = (wait % 1000) * 1000;
	evtimer_add(expiry_timer, &tv);
}

void
router_start_timers(void)
{
	expiry_timer = evtimer_new(node->base, expiry_fire, NULL);
	schedule_expiry();
}
