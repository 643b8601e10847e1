/*
 * server_pull.c — Pull: custody downward to a child or client. The ack it
 * carries goes to the journal thread (with the receipts a client's packets
 * asked for, in the ack's transaction); meanwhile, without waiting for that
 * commit, the pull is answered with what the peer's queue holds above the
 * ack (custody_take_out), or held until packets come (queue_wait) or its
 * wait ends.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "origin.h"

/* ---------------------------------------------------------------- pull */

void
pull_reply_empty(struct sreq *r)
{
	Cascade__PullReply pr = CASCADE__PULL_REPLY__INIT;

	pr.epoch = r->pull_epoch;
	pr.first_seq = r->pull_from;
	pr.last_seq = r->pull_from - 1;
	sreply_msg(r, &pr.base);
}

static void
pull_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sreq *r = arg;

	if (r->peer->sess != NULL && r->peer->sess->held == r)
		r->peer->sess->held = NULL;
	pull_reply_empty(r);
}

static void pull_woken(void *arg, uint32_t qid);

/* Answers r with what its peer's queue holds from r->pull_from, or holds it. */
static void
pull_continue(struct sreq *r)
{
	struct peer *p = r->peer;
	struct jqueue_info qi;
	struct custody_out out;
	Cascade__PullReply pr = CASCADE__PULL_REPLY__INIT;
	char who[CADDR_TEXT_MAX + 16];
	int rc;

	if (p->sess == NULL || p->sess->id != r->req->session) {
		/* its session was taken over (or ended) while it was held: what is
		 * queued belongs to the newer session now */
		pull_reply_empty(r);
		return;
	}
	if ((rc = journal_queue_info(node->j, p->qid, &qi)) != 0) {
		sfail(r, STATUS(INTERNAL), "journal: %s", journal_strerror(rc));
		return;
	}
	if (r->pull_epoch != qi.epoch || r->pull_from <= qi.acked_seq)
		r->pull_from = qi.acked_seq + 1;
	r->pull_epoch = qi.epoch;
	snprintf(who, sizeof(who), "server: %s", p->name);
	rc = custody_take_out(p->qid, r->pull_from, r->pull_max, r->pull_max_bytes, who, &out);
	if (rc != 0) {
		sfail(r, STATUS(INTERNAL), "journal: %s", journal_strerror(rc));
		return;
	}
	if (out.entries == 0 && qi.next_seq <= r->pull_from) {
		custody_out_free(&out);
		if (p->sess != NULL && r->timer != NULL) {
			/* nothing yet: hold the pull until packets come or the wait ends */
			if (p->sess->held != NULL && p->sess->held != r) {
				struct sreq *old = p->sess->held;

				p->sess->held = NULL;
				pull_reply_empty(old);
			}
			p->sess->held = r;
			r->wait.qid = p->qid;
			r->wait.fn = pull_woken;
			r->wait.arg = r;
			queue_wait(&r->wait);
			return;
		}
		pull_reply_empty(r);
		return;
	}
	pr.epoch = qi.epoch;
	pr.first_seq = r->pull_from;
	/* the reply covers sequences the sweep removed, so the stream has no gaps */
	pr.last_seq = out.entries > 0 ? out.last_seq : qi.next_seq - 1;
	pr.packets = out.pkts;
	pr.n_packets = out.n;
	pr.seqs = out.seqs;
	pr.n_seqs = out.n;
	/*
	 * What an earlier session was handed may have reached its application
	 * before this one took over (its ack never came): say so, so the new
	 * session's SDK flags it as a possible redelivery, not as new.
	 */
	if (p->sess->handed_epoch == qi.epoch && p->sess->handed_before >= pr.first_seq)
		pr.handed_upto = p->sess->handed_before;
	if (out.entries > 0 && (p->handed_epoch != qi.epoch || p->handed_seq < out.last_seq)) {
		p->handed_epoch = qi.epoch;
		p->handed_seq = out.last_seq;
	}
	if (out.entries > 0)
		p->handed_owner = p->sess->up_epoch;
	if (p->sess->held == r)
		p->sess->held = NULL;
	sreply_msg(r, &pr.base);
	custody_out_free(&out);
}

/*
 * Held pull r's queue has new packets (queue_wake; r no longer waits). A
 * held pull is its session's, and one queue is one peer's, so this answers
 * at most one pull per wake. Its timer runs on: a wake that finds nothing
 * new (an ack's, which may have numbered nothing) holds it again until the
 * same end.
 */
static void
pull_woken(void *arg, uint32_t qid)
{
	struct sreq *r = arg;

	(void)qid;
	if (r->peer->sess != NULL && r->peer->sess->held == r)
		r->peer->sess->held = NULL;
	pull_continue(r);
}

/*
 * Acknowledging a peer's inbox. A client's ack produces the receipts
 * (DELIVERED notices) its packets asked for: they are built and routed here
 * on the main thread, and committed in the ack's own transaction (a commit
 * job: journal_commit_group, journal_ack_with), so a crash cannot keep the
 * ack and lose a receipt, and no receipt leaves before its ack is durable.
 *
 * A pull that may wait for packets is answered without waiting for the
 * ack's commit: what it takes out lies above the ack, and a crash before
 * the commit only sends the acked packets again after the restart, which
 * the receiver drops (a node by its mark, the SDK by its delivered ids and
 * its ack), as after a crash during the commit. The ack then shares the
 * transaction of the batch commits queued with it. A pull that asks for an
 * answer at once (wait 0: the SDK's close_ack, a paused SDK) is answered
 * once its ack is committed: that answer confirms the ack.
 */
struct ack_job {
	struct jjob job;
	struct jack ack;
	struct peer *peer;              /* peers are never freed */
	struct sreq *r;                 /* the pull answered after the commit, or NULL */
	uint64_t from;
	struct jbatch b;                /* the receipts */
	struct jitem *items;
	char (*why)[256];
	size_t nreceipts;
	struct jkey *keys;              /* what the ack removes, for the quotas */
	unsigned nkeys;
};

/* The receipts due for what a client acks (from..upto of its inbox), routed. */
static void
ack_receipts(struct ack_job *aj, const char *client)
{
	struct jentry e[64];
	uint64_t at = aj->from, upto = aj->ack.upto;
	unsigned n, i;
	Cascade__Packet *p;

	while (at <= upto) {
		if (journal_peek(node->j, aj->ack.qid, at, 64, 1u << 30, e, &n) != 0) {
			log_warnx("server: %s: reading the inbox for receipts: %s", client,
			    journal_errmsg(node->j));
			return;
		}
		for (i = 0; i < n && e[i].seq <= upto; i++) {
			p = cpkt_decode(e[i].bytes, e[i].len);
			if (p != NULL && (p->flags & CASCADE__PACKET_FLAG__FLAG_RECEIPT) &&
			    p->kind == CASCADE__PACKET_KIND__KIND_DATA) {
				aj->items = xrealloc(aj->items, (aj->nreceipts + 1) * sizeof(*aj->items));
				aj->why = xrealloc(aj->why, (aj->nreceipts + 1) * sizeof(*aj->why));
				/* the receipt is its item's pkt (custody_route keeps it there) */
				if (origin_notice_routed(p, CASCADE__NOTICE_CODE__NOTICE_DELIVERED, 0,
				    client, &aj->items[aj->nreceipts], aj->why[aj->nreceipts],
				    sizeof(aj->why[0])) != NULL)
					aj->nreceipts++;
			}
			cpkt_free(p);
		}
		journal_entries_free(e, n);
		if (n < 64)
			break;
		at = e[n - 1].seq + 1;
	}
	aj->b.peer = "";
	aj->b.items = aj->items;
	aj->b.n = (unsigned)aj->nreceipts;
}

static int
ack_prep(struct journal *j, struct jjob *job)
{
	struct ack_job *aj = (struct ack_job *)job;

	return lim_quota_keys(j, aj->ack.qid, aj->ack.upto, &aj->keys, &aj->nkeys);
}

static void
ack_done(struct jjob *job)
{
	struct ack_job *aj = (struct ack_job *)job;
	struct peer *p = aj->peer;
	unsigned nacked = aj->ack.nacked;
	size_t i;

	if (job->rc != 0) {
		log_warnx("server: %s: ack up to %llu: %s", p->name,
		    (unsigned long long)aj->ack.upto, journal_strerror(job->rc));
		/* not acked: the next ack builds these receipts again */
		if (p->receipts_upto == aj->ack.upto)
			p->receipts_upto = aj->from - 1;
	}
	/*
	 * A failed ack may still have committed its first chunks (journal_ack
	 * commits JACK_CHUNK entries a transaction, and counts them in nacked):
	 * those packets left the inbox, in seq order, so the first nacked keys
	 * are released too, or they would be held against the quota for good.
	 */
	lim_quota_release(aj->keys, job->rc == 0 || nacked > aj->nkeys ? aj->nkeys : nacked);
	node->stat_sent += nacked;
	if (aj->nreceipts > 0 && !aj->ack.together)
		log_warnx("server: %s: journal full: %zu receipt%s committed after the ack, "
		    "not with it", p->name, aj->nreceipts, aj->nreceipts == 1 ? "" : "s");
	free(aj->keys);
	for (i = 0; i < aj->nreceipts; i++) {
		origin_local_committed(&aj->items[i]);
		cpkt_free((Cascade__Packet *)aj->items[i].pkt);	/* ours: origin_notice_routed made it */
	}
	free(aj->items);
	free(aj->why);
	/* the room the ack made may have numbered packets waiting in a lane */
	if (nacked > 0)
		queue_wake(aj->ack.qid);
	if (aj->r != NULL)
		pull_continue(aj->r);
	free(aj);
}

void
do_pull(struct sreq *r, struct session *s)
{
	Cascade__Pull *pl;
	struct jqueue_info qi;
	struct timeval tv = { 0, 0 };
	int64_t wait;
	int rc, exceeded, acks;

	pl = lim_unpack(&cascade__pull__descriptor, r->req->body.data, r->req->body.len,
	    &exceeded);
	if (pl == NULL) {
		sfail(r, STATUS(BAD_REQUEST), "undecodable Pull");
		return;
	}
	/* a new Pull replaces a held one */
	if (s->held != NULL) {
		struct sreq *old = s->held;

		s->held = NULL;
		pull_reply_empty(old);
	}
	r->pull_epoch = pl->epoch;
	r->pull_from = pl->acked_seq + 1;
	r->pull_max = pl->max == 0 || pl->max > node->conf->max_batch ? node->conf->max_batch : pl->max;
	r->pull_max_bytes = pl->max_bytes == 0 || pl->max_bytes > (4u << 20) ? 4u << 20 : pl->max_bytes;
	wait = pl->wait_ms;
	if (wait > node->conf->pull_wait_ms)
		wait = node->conf->pull_wait_ms;
	if (wait > 0) {
		r->timer = evtimer_new(node->base, pull_timeout, r);
		tv.tv_sec = wait / 1000;
		tv.tv_usec = (wait % 1000) * 1000;
	}
	if ((rc = journal_queue_info(node->j, s->peer->qid, &qi)) != 0) {
		cascade__pull__free_unpacked(pl, NULL);
		sfail(r, STATUS(INTERNAL), "journal: %s", journal_strerror(rc));
		return;
	}
	/* The puller holds up to its ack; anything sent above it never arrived
	 * and may expire again (journal_sent_set). */
	acks = pl->epoch == qi.epoch && pl->acked_seq > qi.acked_seq;
	journal_sent_set(node->j, s->peer->qid, acks && pl->acked_seq < qi.next_seq ?
	    pl->acked_seq : qi.acked_seq);
	if (acks) {
		if (pl->acked_seq >= qi.next_seq) {
			log_warnx("server: %s: ack %llu beyond the last sequence sent (%llu); ignored",
			    s->peer->name, (unsigned long long)pl->acked_seq,
			    (unsigned long long)(qi.next_seq - 1));
		} else {
			struct ack_job *aj = xcalloc(1, sizeof(*aj));

			aj->peer = s->peer;
			aj->ack.qid = s->peer->qid;
			aj->ack.upto = pl->acked_seq;
			aj->from = qi.acked_seq + 1;
			/*
			 * Receipts are for what clients take; a child node's acks need no
			 * look. An ack still in flight has built those up to its own upto.
			 */
			if (s->peer->receipts_upto >= aj->from && s->peer->receipts_upto < qi.next_seq)
				aj->from = s->peer->receipts_upto + 1;
			if (s->peer->kind == CASCADE__PEER_KIND__PEER_CLIENT &&
			    aj->from <= aj->ack.upto) {
				ack_receipts(aj, s->peer->name);
				s->peer->receipts_upto = aj->ack.upto;
				aj->ack.with = &aj->b;
			}
			aj->job.ack = &aj->ack;
			aj->job.prep = ack_prep;
			aj->job.done = ack_done;
			/* wait 0: no timer that could answer and free r meanwhile */
			aj->r = r->timer == NULL ? r : NULL;
			jthread_submit(&aj->job);
			if (r->timer == NULL) {
				cascade__pull__free_unpacked(pl, NULL);
				return;
			}
		}
	}
	cascade__pull__free_unpacked(pl, NULL);
	if (r->timer != NULL)
		evtimer_add(r->timer, &tv);
	pull_continue(r);
}

