/*
 * router.c — what happens to a packet when this node takes it: checks
 * (validation, anti-spoofing, loops, ttl), the route (up, down to a child,
 * into a local client's inbox, or consumed here), notices to the source,
 * audit copies, the subtree table, and the expiry sweep.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cascaded.h"

#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x
#define REASON(x) CASCADE__REASON__REASON_##x

static struct event *expiry_timer;

/* ------------------------------------------------------------ subtrees */

static int
peer_has_node(const struct peer *p, const char *nodeid)
{
	size_t i;

	if (p->kind != CASCADE__PEER_KIND__PEER_NODE)
		return 0;
	if (strcmp(p->name, nodeid) == 0)
		return 1;
	for (i = 0; i < p->nsubtree; i++)
		if (strcmp(p->subtree[i], nodeid) == 0)
			return 1;
	return 0;
}

struct peer *
router_child_for(const char *nodeid)
{
	size_t i;

	for (i = 0; i < node->npeers; i++)
		if (peer_has_node(&node->peers[i], nodeid))
			return &node->peers[i];
	return NULL;
}

uint32_t
router_local_queue(const char *addr)
{
	size_t i;

	for (i = 0; i < node->npeers; i++)
		if (node->peers[i].kind == CASCADE__PEER_KIND__PEER_CLIENT &&
		    !node->peers[i].removed && strcmp(node->peers[i].name, addr) == 0)
			return node->peers[i].qid;
	return 0;
}

static void
subtree_free(struct peer *p)
{
	size_t i;

	for (i = 0; i < p->nsubtree; i++)
		free(p->subtree[i]);
	free(p->subtree);
	p->subtree = NULL;
	p->nsubtree = 0;
}

/*
 * Keeps the ids the config lets p claim; the others go to *refused (borrowed
 * from ids). Returns the kept list as text ("id\n" each, malloc'd) for the
 * caller to save under router_routes_key() in the journal's writer.
 */
char *
router_set_subtree(struct peer *p, char **ids, size_t n, char ***refused, size_t *nrefused)
{
	char *joined;
	size_t i, len = 0;

	subtree_free(p);
	p->subtree = xcalloc(n ? n : 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (caddr_check_node(ids[i]) == CADDR_OK && strcmp(ids[i], node->id) != 0 &&
		    conf_child_may_claim(p->child, ids[i])) {
			p->subtree[p->nsubtree++] = xstrdup(ids[i]);
			len += strlen(ids[i]) + 1;
		} else if (refused != NULL) {
			*refused = xrealloc(*refused, (*nrefused + 1) * sizeof(char *));
			(*refused)[(*nrefused)++] = ids[i];
		}
	}
	joined = xcalloc(1, len + 1);
	for (i = 0; i < p->nsubtree; i++) {
		strcat(joined, p->subtree[i]);
		strcat(joined, "\n");
	}
	if (node->up != NULL)
		uplink_routes_changed(node->up);
	return joined;
}

void
router_routes_key(const struct peer *p, char *key, size_t len)
{
	snprintf(key, len, "routes:%s", p->name);
}

/* Every node id below this node: what it announces to its parent. */
char **
router_my_subtree(size_t *n)
{
	char **ids = NULL;
	size_t i, k;

	*n = 0;
	for (i = 0; i < node->npeers; i++) {
		struct peer *p = &node->peers[i];

		if (p->kind != CASCADE__PEER_KIND__PEER_NODE)
			continue;
		ids = xrealloc(ids, (*n + 1 + p->nsubtree) * sizeof(char *));
		ids[(*n)++] = p->name;
		for (k = 0; k < p->nsubtree; k++)
			ids[(*n)++] = p->subtree[k];
	}
	return ids;
}

void
router_load_routes(void)
{
	/* runs before the uplink exists: router_set_subtree announces nothing */
	char key[160], *s, *line, *save;
	void *val;
	size_t i, len;

	for (i = 0; i < node->npeers; i++) {
		struct peer *p = &node->peers[i];
		char **ids = NULL;
		size_t n = 0;

		if (p->kind != CASCADE__PEER_KIND__PEER_NODE)
			continue;
		router_routes_key(p, key, sizeof(key));
		if (journal_meta_get(node->j, key, &val, &len) != 0)
			continue;
		s = xcalloc(1, len + 1);
		memcpy(s, val, len);
		free(val);
		for (line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
			ids = xrealloc(ids, (n + 1) * sizeof(char *));
			ids[n++] = line;
		}
		/* the same filter as a live claim: the config may have changed since */
		free(router_set_subtree(p, ids, n, NULL, NULL));
		free(ids);
		free(s);
		log_debug("router: %s: %zu node ids below it (from the journal)", p->name, p->nsubtree);
	}
}

/* ------------------------------------------------------------- routing */

static int
in_my_subtree(const char *nodeid)
{
	return strcmp(nodeid, node->id) == 0 || router_child_for(nodeid) != NULL;
}

static int
trace_has(const Cascade__Packet *p, const char *nodeid, uint32_t leg)
{
	size_t i;

	for (i = 0; i < p->n_trace; i++)
		if (p->trace[i]->leg == leg && strcmp(p->trace[i]->node, nodeid) == 0)
			return 1;
	return 0;
}

/*
 * A packet coming up from a child has been held only below it, and only on
 * its up leg (nothing turned downward climbs again): the first hop of its
 * trace that says otherwise, or NULL.
 */
static const Cascade__Hop *
trace_foreign(const Cascade__Packet *p, const struct peer *child)
{
	size_t i;

	for (i = 0; i < p->n_trace; i++)
		if (p->trace[i]->leg != 0 || !peer_has_node(child, p->trace[i]->node))
			return p->trace[i];
	return NULL;
}

static void
hop_append(Cascade__Packet *p, uint32_t leg, int64_t now)
{
	Cascade__Hop *h = xmalloc(sizeof(*h));

	cascade__hop__init(h);
	h->node = xstrdup(node->id);
	h->leg = leg;
	h->arrived_ms = now;
	p->trace = xrealloc(p->trace, (p->n_trace + 1) * sizeof(*p->trace));
	p->trace[p->n_trace++] = h;
}

#define REJECT(r, ...) do {                                                    \
	it->reject = (r);                                                      \
	snprintf(text, textlen, __VA_ARGS__);                                  \
	it->reject_text = text;                                                \
	return;                                                                \
} while (0)

/* Where a packet on its down leg goes from here. */
static void
route_down(const Cascade__Packet *p, const struct caddr *dst, struct jitem *it,
    char *text, size_t textlen)
{
	struct peer *child;

	if (strcmp(dst->node, node->id) == 0) {
		if (dst->client[0] == '\0')
			return;                 /* for this node itself: consumed here */
		if ((it->queues[0] = router_local_queue(p->dst)) == 0)
			REJECT(REASON(UNROUTABLE), "unknown client %s at node %s (decided by %s)",
			    dst->client, node->id, node->id);
		it->nqueues = 1;
		return;
	}
	if ((child = router_child_for(dst->node)) == NULL)
		REJECT(REASON(UNROUTABLE), "unknown node %s (decided by %s: not below it)",
		    dst->node, node->id);
	it->queues[0] = child->qid;
	it->nqueues = 1;
}

static void make_audit_copy(const Cascade__Packet *p);

void
router_route(Cascade__Packet *p, enum origin from, const struct peer *peer,
    struct jitem *it, char *text, size_t textlen)
{
	struct caddr src, dst;
	const Cascade__Hop *bad;
	enum cpkt_err e;
	int64_t now = cnow_ms();
	uint32_t leg;
	int turned = 0;

	memset(it, 0, sizeof(*it));
	it->pkt = p;
	text[0] = '\0';
	if ((e = cpkt_validate(p, node->conf->max_packet, text, textlen)) != CPKT_OK) {
		it->reject = cpkt_reason(e);
		it->reject_text = text;
		return;
	}
	caddr_parse(p->src, &src);
	caddr_parse(p->dst, &dst);

	switch (from) {
	case FROM_CLIENT:
		if (strcmp(p->src, peer->name) != 0)
			REJECT(REASON(SPOOFED), "src %s is not this client (%s)", p->src, peer->name);
		if (p->flags & FLAG(DOWN))
			REJECT(REASON(NOT_ALLOWED), "a client cannot send on the down leg");
		if (p->kind == KIND(NOTICE) || p->kind == KIND(AUDIT))
			REJECT(REASON(NOT_ALLOWED), "a client cannot send %s (only nodes do)",
			    p->kind == KIND(NOTICE) ? "notices" : "audit copies");
		/* the trace records the nodes that held the packet: none has yet */
		if (p->n_trace > 0)
			REJECT(REASON(SPOOFED), "a client's packet carries a hop trace (%zu hops, "
			    "first %s)", p->n_trace, p->trace[0]->node);
		break;
	case FROM_CHILD:
		if (!peer_has_node(peer, src.node))
			REJECT(REASON(SPOOFED), "src %s is not below child %s", p->src, peer->name);
		if (p->flags & FLAG(DOWN))
			REJECT(REASON(NOT_ALLOWED), "a child cannot send on the down leg");
		if ((p->kind == KIND(NOTICE) || p->kind == KIND(AUDIT)) && src.client[0] != '\0')
			REJECT(REASON(NOT_ALLOWED), "%s come only from nodes, not from client %s",
			    p->kind == KIND(NOTICE) ? "notices" : "audit copies", p->src);
		if ((bad = trace_foreign(p, peer)) != NULL)
			REJECT(REASON(SPOOFED), "trace hop %s (%s leg) is not below child %s",
			    bad->node, bad->leg ? "down" : "up", peer->name);
		break;
	case FROM_PARENT:
		if (!(p->flags & FLAG(DOWN)))
			REJECT(REASON(NOT_ALLOWED), "the parent sent a packet on the up leg");
		break;
	case FROM_LOCAL:
		break;
	}

	if (p->kind == KIND(AUDIT)) {
		/* audit copies climb to the master, which keeps them */
		leg = 0;
		if (!node->master) {
			it->queues[0] = node->q_up;
			it->nqueues = 1;
		}
	} else if (p->flags & FLAG(DOWN)) {
		leg = 1;
		route_down(p, &dst, it, text, textlen);
	} else if (node->master ||
	    (node->conf->local_delivery == CONF_DELIVERY_DIRECT && in_my_subtree(dst.node))) {
		/* this node turns the packet downward */
		leg = 1;
		turned = 1;
		route_down(p, &dst, it, text, textlen);
	} else {
		leg = 0;
		it->queues[0] = node->q_up;
		it->nqueues = 1;
	}
	if (it->reject)
		return;
	if (trace_has(p, node->id, leg))
		REJECT(REASON(LOOP), "node %s already in the trace on the %s leg (a config loop)",
		    node->id, leg ? "down" : "up");
	if (turned)
		p->flags |= FLAG(DOWN);
	it->leg = (uint8_t)leg;
	hop_append(p, leg, now);
	if (!(p->flags & FLAG(NO_TTL)))
		it->deadline_ms = cpkt_deadline(now, p->ttl_ms);
	if (turned && !node->master && node->conf->audit_copy && p->kind == KIND(DATA))
		make_audit_copy(p);
	/* a cancel ends at the destination's node: it never reaches the application */
	if (p->kind == KIND(CANCEL) && strcmp(dst.node, node->id) == 0)
		it->nqueues = 0;
}

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
		router_accepted(it);
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
	router_route(p, FROM_LOCAL, NULL, &lj->items[0], lj->texts[0], sizeof(lj->texts[0]));
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
		router_route(n, FROM_LOCAL, NULL, it, why, whylen);
	return n;
}

static void
reject_notice(const Cascade__Packet *p, const char *to, int down, uint32_t reason,
    const char *text)
{
	if (reason == REASON(UNROUTABLE))
		notice_to(p, to, down, CASCADE__NOTICE_CODE__NOTICE_UNDELIVERABLE, reason, text);
	else if (p->flags & FLAG(NOTIFY))
		notice_to(p, to, down, reason == REASON(EXPIRED) ? CASCADE__NOTICE_CODE__NOTICE_EXPIRED :
		    CASCADE__NOTICE_CODE__NOTICE_REJECTED, reason, text);
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
	if (caddr_parse(p->src, &src) == CADDR_OK && in_my_subtree(src.node))
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

	notice_to(p, p->src, caddr_parse(p->src, &src) == CADDR_OK && in_my_subtree(src.node),
	    code, 0, text);
}

static void
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

static void
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

/* A packet this node just took custody of: wake its queues, act on its kind. */
void
router_accepted(const struct jitem *it)
{
	unsigned k;

	for (k = 0; k < it->nqueues; k++)
		router_wake(it->queues[k]);
	if (it->pkt->kind == KIND(CANCEL))
		cancel_start(it->pkt);
}

/* ------------------------------------------------------------- sending */

void
router_wake(uint32_t qid)
{
	if (node->up != NULL && qid == node->q_up)
		uplink_wake(node->up);
	else
		server_wake(qid);
}

Cascade__Packet *
router_outgoing(const struct jentry *e, int64_t now)
{
	Cascade__Packet *p = cpkt_decode(e->bytes, e->len);
	int64_t held = now - e->accepted_ms;

	if (p == NULL)
		return NULL;
	if (held < 0)
		held = 0;
	if (p->n_trace > 0)
		p->trace[p->n_trace - 1]->held_ms = (uint32_t)(held > UINT32_MAX ? UINT32_MAX : held);
	if (!(p->flags & FLAG(NO_TTL))) {
		p->ttl_ms -= held;
		/*
		 * Ran out while held here (between sweeps, or in flight on a
		 * session that ended: see journal_sent_set). The next node would
		 * refuse ttl <= 0 as malformed and tell no one; 1 ms left, it
		 * takes the packet and expires it with the source's notice.
		 */
		if (p->ttl_ms < 1)
			p->ttl_ms = 1;
	}
	return p;
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
