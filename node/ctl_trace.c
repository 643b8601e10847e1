/*
 * ctl_trace.c — cascadectl trace ID: where a packet is in the tree now,
 * asked node by node up its route (after ION's bptrace).
 *
 * Each node answers for itself from its journal (the packet's places, as
 * cascadectl show gives them) and, when it forwarded the packet to its
 * parent (or does not have it: it may be on its way down), asks the parent
 * over the link (MSG_TRACE) and puts the parent's hops after its own. A node answers a child only about packets whose src
 * or dst lies in that child's subtree: a county cannot learn the traffic
 * of its neighbours through its city. The trace goes up only: a parent
 * cannot call its children (they dial it), so a packet sent down shows as
 * forwarded to child:ID at the last node that had it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cascaded.h"

#define CTL(x) CASCADE__CTL_RESULT__CTL_##x
#define PLACE(x) CASCADE__CTL_PLACE__CTL_PLACE_##x

static Cascade__CtlTraceHop *
hop_new(const char *answer)
{
	Cascade__CtlTraceHop *h = xcalloc(1, sizeof(*h));

	cascade__ctl_trace_hop__init(h);
	h->node = xstrdup(node->id);
	h->answer = xstrdup(answer);
	return h;
}

/* Whether address (node or node/client) is in the subtree of child p. */
static int
in_subtree(const char *addr, const struct peer *p)
{
	char id[128];
	size_t n = strcspn(addr, "/");

	if (n == 0 || n >= sizeof(id))
		return 0;
	memcpy(id, addr, n);
	id[n] = '\0';
	return routes_child_for(node, id) == p;
}

/*
 * This node's hop for packet id, asked by child asker (NULL: the operator
 * here). *up: the packet went on to the parent, whom to ask next.
 */
static Cascade__CtlTraceHop *
hop_here(const uint8_t id[CID_LEN], const struct peer *asker, int *up)
{
	Cascade__CtlTraceHop *h = NULL;
	char answer[256];
	int allowed = asker == NULL, found = 0;
	struct jwhere w[2];
	struct jkey k;
	unsigned leg, i;

	*up = 0;
	memset(w, 0, sizeof(w));
	memcpy(k.id, id, CID_LEN);
	for (leg = JLEG_UP; leg <= JLEG_DOWN; leg++) {
		int rc;

		k.leg = (uint8_t)leg;
		w[leg].nq = 0;
		if ((rc = journal_packet_where(node->j, &k, &w[leg])) == JOURNAL_NOT_FOUND) {
			w[leg].nq = 0;
			w[leg].body = NULL;
			continue;
		}
		if (rc != 0) {
			snprintf(answer, sizeof(answer), "journal error: %s", journal_errmsg(node->j));
			h = hop_new(answer);
			goto out;
		}
		found |= 1u << leg;
		if (!allowed && w[leg].body != NULL) {
			Cascade__Packet *p = cpkt_decode(w[leg].body, w[leg].bodylen);

			allowed = p != NULL && (in_subtree(p->src, asker) || in_subtree(p->dst, asker));
			cpkt_free(p);
		}
	}
	if (!found) {
		/* perhaps on its way down to us, or it went up before its record was
		 * pruned here: the parent may know */
		h = hop_new("not in the journal here (never here, or pruned after its retention)");
		*up = node->up != NULL;
		goto out;
	}
	if (!allowed) {
		/* the same words whether pruned or someone else's: nothing leaks */
		snprintf(answer, sizeof(answer), "refused: not a packet of %s's subtree",
		    asker->name);
		log_warnx("trace: %s asked about a packet outside its subtree: refused", asker->name);
		h = hop_new(answer);
		goto out;
	}
	h = hop_new("");
	for (leg = JLEG_UP; leg <= JLEG_DOWN; leg++) {
		if (!(found & (1u << leg)))
			continue;
		if (h->accepted_ms == 0)
			h->accepted_ms = w[leg].accepted_ms;
		h->places = xrealloc(h->places, (h->n_places + w[leg].nq + 1) * sizeof(*h->places));
		for (i = 0; i < w[leg].nq; i++) {
			Cascade__CtlQueuePlace *qp = ctl_place(&w[leg], i);

			if (w[leg].qid[i] == node->q_up && node->up != NULL &&
			    qp->place == PLACE(FORWARDED))
				*up = 1;
			h->places[h->n_places++] = qp;
		}
	}
out:
	free(w[0].body);
	free(w[1].body);
	return h;
}

struct trace {
	trace_done_cb *cb;
	void *arg;
	Cascade__CtlTraceHop *here;
	uint8_t id[CID_LEN];
};

static void
trace_finish(struct trace *t, Cascade__CtlTraceHop **more, size_t nmore)
{
	Cascade__CtlTraceHop **hops = xcalloc(nmore + 1, sizeof(*hops));

	hops[0] = t->here;
	if (nmore > 0)
		memcpy(hops + 1, more, nmore * sizeof(*hops));
	t->cb(t->arg, hops, nmore + 1);         /* the hops are the callback's now */
	free(t);
}

/* The parent's answer (error NULL, body its TraceReply) or why there is none. */
static void
trace_up_done(void *arg, const char *error, const uint8_t *body, size_t len)
{
	struct trace *t = arg;
	const char *parent = node->conf->parent->id;
	Cascade__TraceReply *tr = NULL;
	Cascade__CtlTraceHop *h;
	char answer[320];

	if (error == NULL && (tr = cascade__trace_reply__unpack(NULL, len, body)) == NULL)
		error = "undecodable answer";
	if (error != NULL) {
		snprintf(answer, sizeof(answer), "no answer: %s", error);
		h = hop_new(answer);
		free(h->node);
		h->node = xstrdup(parent);
		trace_finish(t, &h, 1);
		return;
	}
	/* the hops move into our answer; the reply's shell is freed alone */
	trace_finish(t, tr->hops, tr->n_hops);
	tr->n_hops = 0;
	free(tr->hops);
	tr->hops = NULL;
	cascade__trace_reply__free_unpacked(tr, NULL);
}

void
trace_ask(const uint8_t id[CID_LEN], const struct peer *asker, trace_done_cb *cb, void *arg)
{
	struct trace *t = xcalloc(1, sizeof(*t));
	int up;

	t->cb = cb;
	t->arg = arg;
	memcpy(t->id, id, CID_LEN);
	t->here = hop_here(id, asker, &up);
	if (!up) {
		trace_finish(t, NULL, 0);
		return;
	}
	uplink_trace(node->up, id, trace_up_done, t);
}

/* ----------------------------------------------------- the control side */

static void
ctl_trace_done(void *arg, Cascade__CtlTraceHop **hops, size_t n)
{
	Cascade__CtlReply *rep = arg;

	rep->trace = hops;
	rep->n_trace = n;
	reply_send(rep);
}

void
ctl_trace(const char *arg, Cascade__CtlReply *rep)
{
	uint8_t id[CID_LEN];
	char why[256];

	if (cid_parse(arg, id) != 0) {
		snprintf(why, sizeof(why), "\"%.64s\" is not a packet id (12 hex digits, '-', 20 "
		    "hex digits)", arg);
		reply_set(rep, CTL(BAD_REQUEST), why, NULL);
		reply_send(rep);
		return;
	}
	trace_ask(id, NULL, ctl_trace_done, rep);
}
