/*
 * custody.c — the one intake and the one outbound of the daemon's packets
 * (custody.h): carrier -> session (server.c, uplink.c) -> custody_intake
 * (route.c's decision, the journal commit) -> the queues -> custody_take_out
 * -> session -> carrier. What follows a decision (an audit copy, a cancel,
 * a notice) is origin.c's.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "custody.h"
#include "origin.h"

#define KIND(x) CASCADE__PACKET_KIND__KIND_##x
#define REASON(x) CASCADE__REASON__REASON_##x

/* -------------------------------------------------------------- intake */

/*
 * The decision is route_packet's (route.c, pure); what it asks for next is
 * done here, at the same moment as the decision, so the audit copy's
 * journal submission keeps its place right after its original's.
 */
void
custody_route(Cascade__Packet *p, enum origin from, const struct peer *peer,
    struct jitem *it, char *text, size_t textlen)
{
	struct route_acts acts;

	route_packet(node, p, from, peer, cnow_ms(), it, text, textlen, &acts);
	if (acts.audit_copy)
		origin_audit_copy(p);
}

void
custody_accepted(const struct jitem *it)
{
	unsigned k;

	/* whoever waits on the queue is queue.c's business */
	for (k = 0; k < it->nqueues; k++)
		queue_wake(it->queues[k]);
	if (it->deadline_ms != 0)
		origin_expiry_at(it->deadline_ms);
	if (it->pkt->kind == KIND(CANCEL))
		origin_cancel(it->pkt);
}

/* The notice a packet refused here earns, by where it came from. */
static void
custody_bounce(const struct custody_batch *cb, const struct jitem *it)
{
	switch (cb->from) {
	case FROM_CLIENT:
		origin_rejected_from_client(it->pkt, cb->peer, it->reject, it->reject_text);
		break;
	case FROM_PARENT:
		if (it->reject == REASON(UNROUTABLE))
			origin_notice(it->pkt, CASCADE__NOTICE_CODE__NOTICE_UNDELIVERABLE,
			    it->reject, it->reject_text);
		break;
	case FROM_CHILD:
		/*
		 * A child hears of it in rejects[] and tells the source
		 * itself (origin_rejected_above): a src refused here as
		 * spoofed may be one nobody above it can route.
		 */
	case FROM_LOCAL:
		break;
	}
}

static void
intake_done(struct jjob *job)
{
	struct custody_batch *cb = (struct custody_batch *)job;
	unsigned i;

	if (job->rc == 0 || job->rc == JOURNAL_FULL || job->rc == JOURNAL_OUT_OF_ORDER) {
		for (i = 0; i < cb->b.n; i++) {
			struct jitem *it = &cb->items[i];

			if (it->result == JR_ACCEPTED) {
				if (cb->peer != NULL && it->nqueues > 0) /* what waits in a queue here */
					lim_quota_take(cb->peer, it->pkt->id.data, it->leg,
					    protobuf_c_message_get_packed_size(&it->pkt->base));
				custody_accepted(it);
			} else if (it->result == JR_REJECTED)
				custody_bounce(cb, it);
		}
	}
	cb->done(cb, cb->arg);
}

void
custody_intake(struct custody_batch *cb, Cascade__Packet **pkts, const uint64_t *seqs,
    size_t n, enum origin from, struct peer *peer, custody_done_cb *done, void *arg)
{
	size_t i;

	cb->from = from;
	cb->peer = peer;
	cb->done = done;
	cb->arg = arg;
	cb->items = xcalloc(n + 1, sizeof(*cb->items));
	cb->texts = xcalloc(n + 1, sizeof(*cb->texts));
	for (i = 0; i < n; i++) {
		custody_route(pkts[i], from, peer, &cb->items[i], cb->texts[i],
		    sizeof(cb->texts[i]));
		cb->items[i].seq = seqs[i];
	}
	cb->b.items = cb->items;
	cb->b.n = (unsigned)n;
	if (cb->job.run == NULL)
		cb->job.batch = &cb->b;
	cb->job.done = intake_done;
	jthread_submit(&cb->job);
}

void
custody_batch_free(struct custody_batch *cb)
{
	free(cb->items);
	free(cb->texts);
	cb->items = NULL;
	cb->texts = NULL;
}

/* ------------------------------------------------------------ outbound */

int
custody_take_out(uint32_t qid, uint64_t from_seq, unsigned max, size_t max_bytes,
    const char *who, struct custody_out *out)
{
	struct jentry *e;
	unsigned n = 0, i;
	int64_t now = cnow_ms();
	int rc;

	memset(out, 0, sizeof(*out));
	e = xcalloc(max ? max : 1, sizeof(*e));
	if ((rc = journal_peek_sent(node->j, qid, from_seq, max, max_bytes, e, &n)) != 0) {
		free(e);
		return rc;
	}
	out->pkts = xcalloc(n + 1, sizeof(*out->pkts));
	out->seqs = xcalloc(n + 1, sizeof(*out->seqs));
	for (i = 0; i < n; i++) {
		if ((out->pkts[out->n] = route_outgoing(&e[i], now)) == NULL) {
			log_warnx("%s: stored packet at seq %llu does not decode; skipped", who,
			    (unsigned long long)e[i].seq);
			continue;
		}
		out->seqs[out->n++] = e[i].seq;
	}
	out->entries = n;
	if (n > 0)
		out->last_seq = e[n - 1].seq;
	journal_entries_free(e, n);
	free(e);
	return 0;
}

void
custody_out_free(struct custody_out *out)
{
	size_t i;

	for (i = 0; i < out->n; i++)
		cpkt_free(out->pkts[i]);
	free(out->pkts);
	free(out->seqs);
	memset(out, 0, sizeof(*out));
}
