/*
 * route_test.c — node/route.c's decision and node/routes.c's table on a node
 * built on the stack: province fj-p1 under fj, with children fj-p1-xm
 * (claims fj-p1-xm*) and fj-p1-fz (claims fj-p1-fz*) and one client,
 * fj-p1/alice. The subtrees are set by routes_set_subtree, which reads the
 * global node; route_packet runs with the global node NULL, so a read of it
 * behind the parameter crashes the test.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#undef CU_TEST
#include "cu.h"
#include "cupkt.h"
#include "cascaded.h"

#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x
#define REASON(x) CASCADE__REASON__REASON_##x

enum { Q_UP = 1, Q_XM = 2, Q_FZ = 3, Q_ALICE = 4 };
#define NOW 1700000000000LL

static struct conf tconf;
static struct conf_child xm_conf, fz_conf;
static struct peer tpeers[3];
static struct node tn;
static struct peer *xm = &tpeers[0], *fz = &tpeers[1], *alice = &tpeers[2];
static int hook_calls;

static void
hook(void *arg)
{
	hook_calls += *(int *)arg;
}

static void
set_subtree(struct peer *p, char **ids, size_t n)
{
	node = &tn;
	free(routes_set_subtree(p, ids, n, NULL, NULL));
	node = NULL;
}

/* A fresh node: via-master, no audit copies, not the master. */
static void
setup(void)
{
	static char *xm_claims[] = { "fj-p1-xm*" }, *fz_claims[] = { "fj-p1-fz*" };
	char *xm_ids[] = { "fj-p1-xm-a", "fj-p1-xm-b" }, *fz_ids[] = { "fj-p1-fz-c" };

	memset(&tconf, 0, sizeof(tconf));
	memset(tpeers, 0, sizeof(tpeers));
	memset(&tn, 0, sizeof(tn));
	xm_conf.claims = xm_claims;
	xm_conf.nclaims = 1;
	fz_conf.claims = fz_claims;
	fz_conf.nclaims = 1;
	tn.conf = &tconf;
	tn.id = "fj-p1";
	tn.q_up = Q_UP;
	tn.peers = tpeers;
	tn.npeers = 3;
	xm->kind = fz->kind = CASCADE__PEER_KIND__PEER_NODE;
	alice->kind = CASCADE__PEER_KIND__PEER_CLIENT;
	strcpy(xm->name, "fj-p1-xm");
	strcpy(fz->name, "fj-p1-fz");
	strcpy(alice->name, "fj-p1/alice");
	xm->child = &xm_conf;
	fz->child = &fz_conf;
	xm->qid = Q_XM;
	fz->qid = Q_FZ;
	alice->qid = Q_ALICE;
	set_subtree(xm, xm_ids, 2);
	set_subtree(fz, fz_ids, 1);
}

static void
teardown(void)
{
	size_t i, k;

	for (i = 0; i < 3; i++) {
		for (k = 0; k < tpeers[i].nsubtree; k++)
			free(tpeers[i].subtree[k]);
		free(tpeers[i].subtree);
	}
	node = NULL;
}

#define pkt(src, dst, kind, flags) cu_packet(src, dst, kind, flags)

static void
add_hop(Cascade__Packet *p, const char *nodeid, uint32_t leg)
{
	Cascade__Hop *h = calloc(1, sizeof(*h));

	cascade__hop__init(h);
	h->node = strdup(nodeid);
	h->leg = leg;
	h->arrived_ms = NOW - 10;
	p->trace = realloc(p->trace, (p->n_trace + 1) * sizeof(*p->trace));
	p->trace[p->n_trace++] = h;
}

struct decision {
	struct jitem it;
	struct route_acts acts;
	char text[256];
};

static void
decide(Cascade__Packet *p, enum origin from, const struct peer *peer, struct decision *d)
{
	CU_ASSERT_PTR_NULL_FATAL(node);        /* the decision gets the node as n only */
	route_packet(&tn, p, from, peer, NOW, &d->it, d->text, sizeof(d->text), &d->acts);
}

/* Refused with reason, and the text says why (has needle). */
static void
check_refused(const struct decision *d, uint32_t reason, const char *needle)
{
	CHECK_EQ(d->it.reject, reason);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d->it.reject_text);
	if (strstr(d->it.reject_text, needle) == NULL)
		fprintf(stderr, "reject text \"%s\" lacks \"%s\"\n", d->it.reject_text, needle);
	CU_ASSERT_PTR_NOT_NULL(strstr(d->it.reject_text, needle));
}

/* Taken into exactly queue q (0: none) on leg, this node's hop last in the trace. */
static void
check_taken(const struct decision *d, const Cascade__Packet *p, uint32_t q, unsigned leg)
{
	if (d->it.reject)
		fprintf(stderr, "refused: %s\n", d->it.reject_text);
	CHECK_EQ(d->it.reject, 0);
	CHECK_EQ(d->it.nqueues, q != 0);
	if (q != 0)
		CHECK_EQ(d->it.queues[0], q);
	CHECK_EQ(d->it.leg, leg);
	CU_ASSERT_PTR_EQUAL(d->it.pkt, p);
	CU_ASSERT_FATAL(p->n_trace > 0);
	CU_ASSERT_STRING_EQUAL(p->trace[p->n_trace - 1]->node, "fj-p1");
	CHECK_EQ(p->trace[p->n_trace - 1]->leg, leg);
	CHECK_EQ(p->trace[p->n_trace - 1]->arrived_ms, NOW);
	CHECK_EQ(!!(p->flags & FLAG(DOWN)), leg);
}

/* ---------------------------------------------------------------- table */

static void
TEST_routes_claims_filtered_and_hook(void)
{
	char *ids[] = { "fj-p1-xm-a", "fj-p1-fz-c", "fj-p1", "Bad Id", "fj-p1-xm-d" };
	char **refused = NULL, *joined, key[64];
	size_t nrefused = 0, n;
	int one = 1;

	/* the other child's id, this node's own and a malformed one are refused */
	node = &tn;
	routes_on_change(hook, &one);
	hook_calls = 0;
	joined = routes_set_subtree(xm, ids, 5, &refused, &nrefused);
	CU_ASSERT_STRING_EQUAL(joined, "fj-p1-xm-a\nfj-p1-xm-d\n");
	CHECK_EQ(nrefused, 3);
	CU_ASSERT_PTR_EQUAL(refused[0], ids[1]);
	CU_ASSERT_PTR_EQUAL(refused[1], ids[2]);
	CU_ASSERT_PTR_EQUAL(refused[2], ids[3]);
	CHECK_EQ(hook_calls, 1);
	routes_on_change(NULL, NULL);
	free(routes_set_subtree(fz, ids + 1, 1, NULL, NULL));
	CHECK_EQ(hook_calls, 1);                /* cleared: not called again */
	free(joined);
	free(refused);

	CU_ASSERT_PTR_EQUAL(routes_child_for(&tn, "fj-p1-xm-d"), xm);
	CU_ASSERT_PTR_EQUAL(routes_child_for(&tn, "fj-p1-xm"), xm);
	CU_ASSERT_PTR_EQUAL(routes_child_for(&tn, "fj-p1-fz-c"), fz);
	CU_ASSERT_PTR_NULL(routes_child_for(&tn, "fj-p1-xm-b"));  /* no longer claimed */
	CU_ASSERT_PTR_NULL(routes_child_for(&tn, "fj-p1/alice")); /* a client is no child */
	CHECK_EQ(routes_in_subtree(&tn, "fj-p1"), 1);
	CHECK_EQ(routes_in_subtree(&tn, "fj-p2"), 0);
	CHECK_EQ(routes_local_queue(&tn, "fj-p1/alice"), Q_ALICE);
	CHECK_EQ(routes_local_queue(&tn, "fj-p1/bob"), 0);
	alice->removed = 1;
	CHECK_EQ(routes_local_queue(&tn, "fj-p1/alice"), 0);
	alice->removed = 0;

	/* what this node announces: each child and what it claimed */
	{
		char **mine = routes_mine(&n);

		CHECK_EQ(n, 5);
		CU_ASSERT_STRING_EQUAL(mine[0], "fj-p1-xm");
		CU_ASSERT_STRING_EQUAL(mine[3], "fj-p1-fz");
		CU_ASSERT_STRING_EQUAL(mine[4], "fj-p1-fz-c");
		free(mine);
	}
	routes_key(xm, key, sizeof(key));
	CU_ASSERT_STRING_EQUAL(key, "routes:fj-p1-xm");
	node = NULL;
}

/* ------------------------------------------------------------- decision */

static void
TEST_spoofed_src_from_child(void)
{
	struct decision d;
	Cascade__Packet *p;

	/* a src below the other child */
	p = pkt("fj-p1-fz-c/carol", "fj/x", KIND(DATA), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_refused(&d, REASON(SPOOFED), "src fj-p1-fz-c/carol is not below child fj-p1-xm");
	CHECK_EQ(p->n_trace, 0);                /* nothing appended to a refused packet */
	cpkt_free(p);

	/* a src outside this subtree altogether */
	p = pkt("gd-p1/eve", "fj/x", KIND(DATA), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_refused(&d, REASON(SPOOFED), "is not below child");
	cpkt_free(p);

	/* a right src whose trace names a node outside the child */
	p = pkt("fj-p1-xm-a/bob", "fj/x", KIND(DATA), 0);
	add_hop(p, "fj-p1-xm-a", 0);
	add_hop(p, "fj-p1-fz", 0);
	decide(p, FROM_CHILD, xm, &d);
	check_refused(&d, REASON(SPOOFED), "trace hop fj-p1-fz (up leg) is not below child fj-p1-xm");
	cpkt_free(p);

	/* a notice from a child's client: only nodes send notices */
	p = pkt("fj-p1-xm-a/bob", "fj/x", KIND(NOTICE), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_refused(&d, REASON(NOT_ALLOWED), "notices come only from nodes");
	cpkt_free(p);

	/* the genuine one climbs: via-master */
	p = pkt("fj-p1-xm-a/bob", "fj-p1-fz-c/carol", KIND(DATA), 0);
	add_hop(p, "fj-p1-xm-a", 0);
	add_hop(p, "fj-p1-xm", 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, Q_UP, 0);
	CHECK_EQ(p->n_trace, 3);
	CHECK_EQ(d.it.deadline_ms, NOW + 60000);
	CHECK_EQ(d.acts.turned, 0);
	CHECK_EQ(d.acts.audit_copy, 0);
	cpkt_free(p);
}

static void
TEST_loop_in_trace(void)
{
	struct decision d;
	Cascade__Packet *p;

	/* this node already held it on the down leg: a config loop */
	p = pkt("fj-p2/x", "fj-p1-xm-a/bob", KIND(DATA), FLAG(DOWN));
	add_hop(p, "fj", 1);
	add_hop(p, "fj-p1", 1);
	add_hop(p, "fj-p1-xm", 1);
	decide(p, FROM_PARENT, NULL, &d);
	check_refused(&d, REASON(LOOP), "node fj-p1 already in the trace on the down leg");
	CHECK_EQ(p->n_trace, 3);
	cpkt_free(p);

	/* having held it on the up leg is no loop on the down leg */
	p = pkt("fj-p1-xm-a/bob", "fj-p1-fz-c/carol", KIND(DATA), FLAG(DOWN));
	add_hop(p, "fj-p1", 0);
	add_hop(p, "fj", 1);
	decide(p, FROM_PARENT, NULL, &d);
	check_taken(&d, p, Q_FZ, 1);
	cpkt_free(p);

	/* a local packet that passed here upward once already */
	p = pkt("fj-p1", "fj/x", KIND(DATA), 0);
	add_hop(p, "fj-p1", 0);
	decide(p, FROM_LOCAL, NULL, &d);
	check_refused(&d, REASON(LOOP), "on the up leg");
	cpkt_free(p);
}

static void
TEST_turn_at_lca_direct(void)
{
	struct decision d;
	Cascade__Packet *p;

	tconf.local_delivery = CONF_DELIVERY_DIRECT;
	tconf.audit_copy = 1;
	/* xm-a to fz-c: fj-p1 is their lowest common ancestor and turns it */
	p = pkt("fj-p1-xm-a/bob", "fj-p1-fz-c/carol", KIND(DATA), 0);
	add_hop(p, "fj-p1-xm-a", 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, Q_FZ, 1);
	CHECK_EQ(d.acts.turned, 1);
	CHECK_EQ(d.acts.audit_copy, 1);         /* the master sees what it did not route */
	cpkt_free(p);

	/* to a client of this node: into its inbox */
	p = pkt("fj-p1-xm-a/bob", "fj-p1/alice", KIND(DATA), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, Q_ALICE, 1);
	CHECK_EQ(d.acts.turned, 1);
	cpkt_free(p);

	/* a cancel is no data: turned, but no audit copy */
	p = pkt("fj-p1-xm-a/bob", "fj-p1-fz-c/carol", KIND(CANCEL), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, Q_FZ, 1);
	CHECK_EQ(d.acts.audit_copy, 0);
	cpkt_free(p);

	/* outside the subtree: up, as ever */
	p = pkt("fj-p1-xm-a/bob", "fj-p2/x", KIND(DATA), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, Q_UP, 0);
	CHECK_EQ(d.acts.turned, 0);
	CHECK_EQ(d.acts.audit_copy, 0);
	cpkt_free(p);

	/* via-master: even the sibling's packet climbs */
	tconf.local_delivery = CONF_DELIVERY_VIA_MASTER;
	p = pkt("fj-p1-xm-a/bob", "fj-p1-fz-c/carol", KIND(DATA), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, Q_UP, 0);
	CHECK_EQ(d.acts.turned, 0);
	cpkt_free(p);
}

static void
TEST_audit_copy_stops_at_master(void)
{
	struct decision d;
	Cascade__Packet *p;

	tconf.audit_copy = 1;
	/* below the root an audit copy climbs, on the up leg */
	p = pkt("fj-p1-xm", "fj-p1-xm-b/dan", KIND(AUDIT), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, Q_UP, 0);
	cpkt_free(p);

	/* the master keeps it: taken, in no queue */
	tn.master = 1;
	tn.id = "fj-p1";
	p = pkt("fj-p1-xm", "fj-p1-xm-b/dan", KIND(AUDIT), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, 0, 0);
	cpkt_free(p);

	/* and turns every packet without asking for a copy of its own */
	p = pkt("fj-p1-xm-a/bob", "fj-p1-fz-c/carol", KIND(DATA), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_taken(&d, p, Q_FZ, 1);
	CHECK_EQ(d.acts.turned, 1);
	CHECK_EQ(d.acts.audit_copy, 0);
	cpkt_free(p);

	/* a master with nothing below by that name: unroutable */
	p = pkt("fj-p1-xm-a/bob", "gd/x", KIND(DATA), 0);
	decide(p, FROM_CHILD, xm, &d);
	check_refused(&d, REASON(UNROUTABLE), "unknown node gd (decided by fj-p1: not below it)");
	cpkt_free(p);
	tn.master = 0;
}

static void
TEST_cancel_consumed_at_dst_node(void)
{
	struct decision d;
	Cascade__Packet *p;

	/* for a client here: taken, never queued for the application */
	p = pkt("fj-p2/x", "fj-p1/alice", KIND(CANCEL), FLAG(DOWN));
	add_hop(p, "fj", 1);
	decide(p, FROM_PARENT, NULL, &d);
	check_taken(&d, p, 0, 1);
	cpkt_free(p);

	/* passing through: on to the child */
	p = pkt("fj-p2/x", "fj-p1-xm-b/dan", KIND(CANCEL), FLAG(DOWN));
	decide(p, FROM_PARENT, NULL, &d);
	check_taken(&d, p, Q_XM, 1);
	cpkt_free(p);

	/* a data packet for this node itself is consumed here too */
	p = pkt("fj-p2/x", "fj-p1", KIND(DATA), FLAG(DOWN));
	decide(p, FROM_PARENT, NULL, &d);
	check_taken(&d, p, 0, 1);
	cpkt_free(p);
}

static void
TEST_client_trace_refused(void)
{
	struct decision d;
	Cascade__Packet *p;

	p = pkt("fj-p1/alice", "fj/x", KIND(DATA), 0);
	add_hop(p, "fj-p1", 0);
	decide(p, FROM_CLIENT, alice, &d);
	check_refused(&d, REASON(SPOOFED), "a client's packet carries a hop trace (1 hops, first fj-p1)");
	cpkt_free(p);

	p = pkt("fj-p1/mallory", "fj/x", KIND(DATA), 0);
	decide(p, FROM_CLIENT, alice, &d);
	check_refused(&d, REASON(SPOOFED), "src fj-p1/mallory is not this client (fj-p1/alice)");
	cpkt_free(p);

	p = pkt("fj-p1/alice", "fj/x", KIND(DATA), FLAG(DOWN));
	decide(p, FROM_CLIENT, alice, &d);
	check_refused(&d, REASON(NOT_ALLOWED), "down leg");
	cpkt_free(p);

	p = pkt("fj-p1/alice", "fj/x", KIND(AUDIT), 0);
	decide(p, FROM_CLIENT, alice, &d);
	check_refused(&d, REASON(NOT_ALLOWED), "a client cannot send audit copies");
	cpkt_free(p);

	/* the clean one: up, with a deadline; without a ttl, none */
	p = pkt("fj-p1/alice", "fj/x", KIND(DATA), FLAG(NO_TTL));
	decide(p, FROM_CLIENT, alice, &d);
	check_taken(&d, p, Q_UP, 0);
	CHECK_EQ(d.it.deadline_ms, 0);
	cpkt_free(p);
}

static void
TEST_parent_up_leg_refused(void)
{
	struct decision d;
	Cascade__Packet *p = pkt("fj-p2/x", "fj-p1/alice", KIND(DATA), 0);

	decide(p, FROM_PARENT, NULL, &d);
	check_refused(&d, REASON(NOT_ALLOWED), "the parent sent a packet on the up leg");
	cpkt_free(p);

	/* an invalid packet is refused before any of it is looked at */
	p = pkt("fj-p2/x", "fj-p1/alice", KIND(DATA), FLAG(DOWN));
	p->ttl_ms = 0;
	decide(p, FROM_PARENT, NULL, &d);
	check_refused(&d, REASON(EXPIRED), "ttl_ms 0");
	cpkt_free(p);
}

static void
TEST_unknown_client_unroutable(void)
{
	struct decision d;
	Cascade__Packet *p = pkt("fj-p2/x", "fj-p1/nobody", KIND(DATA), FLAG(DOWN));

	decide(p, FROM_PARENT, NULL, &d);
	check_refused(&d, REASON(UNROUTABLE), "unknown client nobody at node fj-p1 (decided by fj-p1)");
	cpkt_free(p);

	p = pkt("fj-p2/x", "fj-p1-zz/y", KIND(DATA), FLAG(DOWN));
	decide(p, FROM_PARENT, NULL, &d);
	check_refused(&d, REASON(UNROUTABLE), "unknown node fj-p1-zz");
	cpkt_free(p);

	/* a removed client's inbox takes nothing new */
	alice->removed = 1;
	p = pkt("fj-p2/x", "fj-p1/alice", KIND(DATA), FLAG(DOWN));
	decide(p, FROM_PARENT, NULL, &d);
	check_refused(&d, REASON(UNROUTABLE), "unknown client alice");
	cpkt_free(p);
	alice->removed = 0;
}

/* ------------------------------------------------------------- outgoing */

static Cascade__Packet *
outgoing(Cascade__Packet *p, int64_t held)
{
	struct jentry e;
	Cascade__Packet *out;

	memset(&e, 0, sizeof(e));
	e.bytes = cpkt_encode(p, &e.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e.bytes);
	e.accepted_ms = NOW - held;
	out = route_outgoing(&e, NOW);
	free(e.bytes);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	return out;
}

static void
TEST_outgoing_ttl_floor_1ms(void)
{
	Cascade__Packet *p = pkt("fj-p1/alice", "fj/x", KIND(DATA), 0), *o;

	p->ttl_ms = 1000;
	add_hop(p, "fj-p1", 0);
	/* held 400 ms: 600 left, our hop says 400 */
	o = outgoing(p, 400);
	CHECK_EQ(o->ttl_ms, 600);
	CHECK_EQ(o->trace[0]->held_ms, 400);
	cpkt_free(o);
	/* held past its ttl: 1 ms, so the next node expires it and tells the source */
	o = outgoing(p, 5000);
	CHECK_EQ(o->ttl_ms, 1);
	CHECK_EQ(o->trace[0]->held_ms, 5000);
	cpkt_free(o);
	/* a clock stepped back: held 0, nothing taken off */
	o = outgoing(p, -3000);
	CHECK_EQ(o->ttl_ms, 1000);
	CHECK_EQ(o->trace[0]->held_ms, 0);
	cpkt_free(o);
	/* without a ttl, the ttl field is left alone */
	p->flags |= FLAG(NO_TTL);
	p->ttl_ms = 0;
	o = outgoing(p, 5000);
	CHECK_EQ(o->ttl_ms, 0);
	cpkt_free(o);
	cpkt_free(p);
}

/*
 * The index routes.c keeps of the peers (by kind and name) and of the ids
 * below each child follows every change: a peer added (npeers grows), one
 * filled anew (routes_peers_changed), a subtree set; a removed peer is found
 * only when asked for with removed ones; two children with one id: the first.
 */
static void
TEST_index_follows_changes(void)
{
	char *ids[] = { "fj-p1-xm-z" };

	tn.npeers = 2;                          /* alice not there yet */
	CHECK_EQ(routes_local_queue(&tn, "fj-p1/alice"), 0);
	CU_ASSERT_PTR_EQUAL(routes_child_for(&tn, "fj-p1-fz-c"), fz);
	tn.npeers = 3;                          /* added (reload.c) */
	CHECK_EQ(routes_local_queue(&tn, "fj-p1/alice"), Q_ALICE);
	CU_ASSERT_PTR_EQUAL(routes_peer_named(&tn, CASCADE__PEER_KIND__PEER_CLIENT,
	    "fj-p1/alice", 0), alice);
	CU_ASSERT_PTR_NULL(routes_peer_named(&tn, CASCADE__PEER_KIND__PEER_NODE,
	    "fj-p1/alice", 1));                 /* another kind */
	alice->removed = 1;
	CU_ASSERT_PTR_NULL(routes_peer_named(&tn, CASCADE__PEER_KIND__PEER_CLIENT,
	    "fj-p1/alice", 0));
	CU_ASSERT_PTR_EQUAL(routes_peer_named(&tn, CASCADE__PEER_KIND__PEER_CLIENT,
	    "fj-p1/alice", 1), alice);
	alice->removed = 0;
	strcpy(alice->name, "fj-p1/carol");     /* a slot filled anew */
	routes_peers_changed();
	CHECK_EQ(routes_local_queue(&tn, "fj-p1/alice"), 0);
	CHECK_EQ(routes_local_queue(&tn, "fj-p1/carol"), Q_ALICE);
	/* a new subtree: the old ids are gone from the index, the new one is in */
	CU_ASSERT_PTR_EQUAL(routes_child_for(&tn, "fj-p1-xm-a"), xm);
	set_subtree(xm, ids, 1);
	CU_ASSERT_PTR_NULL(routes_child_for(&tn, "fj-p1-xm-a"));
	CU_ASSERT_PTR_EQUAL(routes_child_for(&tn, "fj-p1-xm-z"), xm);
	/* fz's own name claimed below xm too: xm, the first in the array, has it */
	strcpy(xm->subtree[0], "fj-p1-fz");
	routes_peers_changed();
	CU_ASSERT_PTR_EQUAL(routes_child_for(&tn, "fj-p1-fz"), xm);
}

#define T(f) static void f##_(void) { setup(); f(); teardown(); }
T(TEST_routes_claims_filtered_and_hook)
T(TEST_spoofed_src_from_child)
T(TEST_loop_in_trace)
T(TEST_turn_at_lca_direct)
T(TEST_audit_copy_stops_at_master)
T(TEST_cancel_consumed_at_dst_node)
T(TEST_client_trace_refused)
T(TEST_parent_up_leg_refused)
T(TEST_unknown_client_unroutable)
T(TEST_outgoing_ttl_floor_1ms)
T(TEST_index_follows_changes)
#undef T

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		{ "routes_claims_filtered_and_hook", TEST_routes_claims_filtered_and_hook_ },
		{ "spoofed_src_from_child", TEST_spoofed_src_from_child_ },
		{ "loop_in_trace", TEST_loop_in_trace_ },
		{ "turn_at_lca_direct", TEST_turn_at_lca_direct_ },
		{ "audit_copy_stops_at_master", TEST_audit_copy_stops_at_master_ },
		{ "cancel_consumed_at_dst_node", TEST_cancel_consumed_at_dst_node_ },
		{ "client_trace_refused", TEST_client_trace_refused_ },
		{ "parent_up_leg_refused", TEST_parent_up_leg_refused_ },
		{ "unknown_client_unroutable", TEST_unknown_client_unroutable_ },
		{ "outgoing_ttl_floor_1ms", TEST_outgoing_ttl_floor_1ms_ },
		{ "index_follows_changes", TEST_index_follows_changes_ },
		CU_END
	};

	return cu_main("route", tests, argc, argv);
}
