/*
 * origin_test.c — node/origin.c's notices on a node built on the stack:
 * province fj-p1 under fj, with one child fj-p1-xm (its subtree
 * fj-p1-xm-a). origin_notice_routed makes the notice and routes it (no
 * journal, no loop), so what it returns and the jitem it fills are the
 * whole result. It reads the global node, which the tests point at theirs.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#undef CU_TEST
#include "cu.h"
#include "cupkt.h"
#include "cascaded.h"
#include "origin.h"

#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x
#define NOTICE(x) CASCADE__NOTICE_CODE__NOTICE_##x

enum { Q_UP = 1, Q_XM = 2 };

static struct conf tconf;
static struct conf_child xm_conf;
static struct peer xm;
static struct node tn;

/* A fresh node (via-master, not the master), the global node pointing at it. */
static void
setup(void)
{
	static char *claims[] = { "fj-p1-xm*" };
	char *ids[] = { "fj-p1-xm-a" };

	memset(&tconf, 0, sizeof(tconf));
	memset(&xm, 0, sizeof(xm));
	memset(&tn, 0, sizeof(tn));
	xm_conf.claims = claims;
	xm_conf.nclaims = 1;
	tn.conf = &tconf;
	tn.id = "fj-p1";
	tn.q_up = Q_UP;
	tn.peers = &xm;
	tn.npeers = 1;
	xm.kind = CASCADE__PEER_KIND__PEER_NODE;
	strcpy(xm.name, "fj-p1-xm");
	xm.child = &xm_conf;
	xm.qid = Q_XM;
	node = &tn;
	free(routes_set_subtree(&xm, ids, 1, NULL, NULL));
}

static void
teardown(void)
{
	size_t k;

	for (k = 0; k < xm.nsubtree; k++)
		free(xm.subtree[k]);
	free(xm.subtree);
	node = NULL;
}

#define pkt(src, dst, kind) cu_packet(src, dst, kind, 0)

/*
 * A notice about a notice (or about an audit copy) is never made: the
 * answer to an answer would answer back without end. The jitem is left as
 * it was. A data packet from the same source does get one, so the NULLs
 * are the kind's doing, not the address's.
 */
static void
TEST_no_notice_about_notice(void)
{
	static const uint32_t kinds[] = { KIND(NOTICE), KIND(AUDIT) };
	struct jitem it, before;
	char why[256];
	size_t i;
	Cascade__Packet *p, *n;

	setup();
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		p = pkt("fj-p1-xm-a", "fj-p2/bob", kinds[i]);
		memset(&it, 0xa5, sizeof(it));
		memcpy(&before, &it, sizeof(it));
		n = origin_notice_routed(p, NOTICE(UNDELIVERABLE), 0, "x", &it, why, sizeof(why));
		CU_ASSERT_PTR_NULL(n);
		CU_ASSERT(memcmp(&it, &before, sizeof(it)) == 0);
		cpkt_free(n);
		cpkt_free(p);
	}
	p = pkt("fj-p1-xm-a/alice", "fj-p2/bob", KIND(DATA));
	n = origin_notice_routed(p, NOTICE(UNDELIVERABLE), 0, "x", &it, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(n);
	cpkt_free(n);
	cpkt_free(p);
	teardown();
}

/*
 * Routes the delivered notice about a packet from src and checks it is a
 * notice from this node to src about p, taken into queue q on leg.
 */
static void
check_notice_route(const char *src, uint32_t q, unsigned leg)
{
	Cascade__Packet *p = pkt(src, "fj-p2/bob", KIND(DATA)), *n;
	struct jitem it;
	char why[256];

	n = origin_notice_routed(p, NOTICE(DELIVERED), 0, NULL, &it, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	if (it.reject)
		fprintf(stderr, "notice to %s refused: %s\n", src, it.reject_text);
	CHECK_EQ(it.reject, 0);
	CU_ASSERT_PTR_EQUAL(it.pkt, n);
	CHECK_EQ(n->kind, KIND(NOTICE));
	CHECK_EQ(n->notice, NOTICE(DELIVERED));
	CU_ASSERT_STRING_EQUAL(n->src, "fj-p1");
	CU_ASSERT_STRING_EQUAL(n->dst, src);
	CHECK_EQ(n->ref_id.len, CID_LEN);
	CU_ASSERT(memcmp(n->ref_id.data, p->id.data, CID_LEN) == 0);
	CHECK_EQ(it.nqueues, 1);
	CHECK_EQ(it.queues[0], q);
	CHECK_EQ(it.leg, leg);
	CHECK_EQ(!!(n->flags & FLAG(DOWN)), leg);
	cpkt_free(n);
	cpkt_free(p);
}

/*
 * A notice goes back to the packet's source: down to the child when the
 * source is in this node's subtree and this node turns packets (local
 * delivery direct, or the master), up otherwise; with via-master a source
 * in the subtree too is reached through the master, like any packet.
 */
static void
TEST_notice_routed_to_source(void)
{
	setup();
	tconf.local_delivery = CONF_DELIVERY_DIRECT;
	check_notice_route("fj-p1-xm-a/alice", Q_XM, 1);
	check_notice_route("fj-p2-zz/carol", Q_UP, 0);
	tconf.local_delivery = CONF_DELIVERY_VIA_MASTER;
	check_notice_route("fj-p1-xm-a/alice", Q_UP, 0);
	tn.master = 1;
	tn.q_up = 0;
	check_notice_route("fj-p1-xm-a/alice", Q_XM, 1);
	teardown();
}

#define T(f) static void f##_(void) { f(); }
T(TEST_no_notice_about_notice)
T(TEST_notice_routed_to_source)
#undef T

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		{ "no_notice_about_notice", TEST_no_notice_about_notice_ },
		{ "notice_routed_to_source", TEST_notice_routed_to_source_ },
		CU_END
	};

	return cu_main("origin", tests, argc, argv);
}
