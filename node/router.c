/*
 * router.c — what follows a route decision for a packet taken from a
 * carrier: router_route (the decision of route.c, then the audit copy it
 * asks for), and router_accepted after the journal commit (wake the
 * packet's queues, act on a cancel). The packets this node originates are
 * origin.c's; the subtree table is routes.c's.
 */
#include "config.h"

#include "cascaded.h"
#include "origin.h"
#include "queue.h"

#define KIND(x) CASCADE__PACKET_KIND__KIND_##x

/* ------------------------------------------------------------- routing */

/*
 * The decision is route_packet's (route.c, pure); what it asks for next is
 * done here, at the same moment as the decision, so the audit copy's
 * journal submission keeps its place right after its original's.
 */
void
router_route(Cascade__Packet *p, enum origin from, const struct peer *peer,
    struct jitem *it, char *text, size_t textlen)
{
	struct route_acts acts;

	route_packet(node, p, from, peer, cnow_ms(), it, text, textlen, &acts);
	if (acts.audit_copy)
		origin_audit_copy(p);
}

/* A packet this node just took custody of: wake its queues, act on its kind. */
void
router_accepted(const struct jitem *it)
{
	unsigned k;

	for (k = 0; k < it->nqueues; k++)
		router_wake(it->queues[k]);
	if (it->pkt->kind == KIND(CANCEL))
		origin_cancel(it->pkt);
}

/* ------------------------------------------------------------- sending */

/* whoever waits on the queue is queue.c's business */
void
router_wake(uint32_t qid)
{
	queue_wake(qid);
}
