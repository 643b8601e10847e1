/*
 * route.c — what happens to one packet here: the checks (validation,
 * anti-spoofing, loops, ttl), the route (up, down to a child, into a local
 * client's inbox, or consumed here) and the re-encoding for the next hop.
 * Pure: no I/O, no journal, no globals; the node and the time are passed in,
 * and what the caller must do next (an audit copy) comes back in acts.
 * Unit-tested in tests/unit/route_test.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cascaded.h"
#include "rules.h"

#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x
#define REASON(x) CASCADE__REASON__REASON_##x

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
		if (p->trace[i]->leg != 0 || !routes_peer_has(child, p->trace[i]->node))
			return p->trace[i];
	return NULL;
}

static void
hop_append(Cascade__Packet *p, const char *nodeid, uint32_t leg, int64_t now)
{
	Cascade__Hop *h = xmalloc(sizeof(*h));

	cascade__hop__init(h);
	h->node = xstrdup(nodeid);
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
route_down(const struct node *n, const Cascade__Packet *p, const struct caddr *dst,
    struct jitem *it, char *text, size_t textlen)
{
	struct peer *child;

	if (strcmp(dst->node, n->id) == 0) {
		if (dst->client[0] == '\0')
			return;                 /* for this node itself: consumed here */
		if ((it->queues[0] = routes_local_queue(n, p->dst)) == 0)
			REJECT(REASON(UNROUTABLE), "unknown client %s at node %s (decided by %s)",
			    dst->client, n->id, n->id);
		it->nqueues = 1;
		return;
	}
	if ((child = routes_child_for(n, dst->node)) == NULL)
		REJECT(REASON(UNROUTABLE), "unknown node %s (decided by %s: not below it)",
		    dst->node, n->id);
	it->queues[0] = child->qid;
	it->nqueues = 1;
}

void
route_packet(const struct node *n, Cascade__Packet *p, enum origin from,
    const struct peer *peer, int64_t now, struct jitem *it, char *text, size_t textlen,
    struct route_acts *acts)
{
	struct caddr src, dst;
	const Cascade__Hop *bad;
	enum cpkt_err e;
	uint32_t leg;
	int turned = 0, direct;

	memset(it, 0, sizeof(*it));
	memset(acts, 0, sizeof(*acts));
	it->pkt = p;
	text[0] = '\0';
	if ((e = cpkt_validate(p, n->conf->max_packet, text, textlen)) != CPKT_OK) {
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
		if (!routes_peer_has(peer, src.node))
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

	direct = n->conf->local_delivery == CONF_DELIVERY_DIRECT;
	if (p->kind == KIND(AUDIT)) {
		/* audit copies climb to the master, which keeps them */
		leg = 0;
		if (!mrule_audit_kept_here(n->master)) {
			it->queues[0] = n->q_up;
			it->nqueues = 1;
		}
	} else if (p->flags & FLAG(DOWN)) {
		leg = 1;
		route_down(n, p, &dst, it, text, textlen);
	} else if (mrule_turns_here(n->master, direct, direct && routes_in_subtree(n, dst.node))) {
		/* this node turns the packet downward */
		leg = 1;
		turned = 1;
		route_down(n, p, &dst, it, text, textlen);
	} else {
		leg = 0;
		it->queues[0] = n->q_up;
		it->nqueues = 1;
	}
	if (it->reject)
		return;
	if (trace_has(p, n->id, leg))
		REJECT(REASON(LOOP), "node %s already in the trace on the %s leg (a config loop)",
		    n->id, leg ? "down" : "up");
	if (turned)
		p->flags |= FLAG(DOWN);
	it->leg = (uint8_t)leg;
	hop_append(p, n->id, leg, now);
	if (!(p->flags & FLAG(NO_TTL)))
		it->deadline_ms = cpkt_deadline(now, p->ttl_ms);
	acts->turned = turned;
	acts->audit_copy = mrule_audit_copy_due(n->master, n->conf->audit_copy, turned, p->kind);
	/* a cancel ends at the destination's node: it never reaches the application */
	if (p->kind == KIND(CANCEL) && strcmp(dst.node, n->id) == 0)
		it->nqueues = 0;
}

Cascade__Packet *
route_outgoing(const struct jentry *e, int64_t now)
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
