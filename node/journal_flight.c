/*
 * journal_flight.c — what a link has sent and its peer has not yet answered
 * for (never expired, cancelled or moved meanwhile), a source's cancel, and
 * the requeue behind a replay.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "log.h"

/* --------------------------------------------------------------- in flight */

/* Under sentmu. A linear scan: there is one entry per link with a session. */
uint64_t
jsent_upto(const struct journal *j, uint32_t qid)
{
	unsigned i;

	for (i = 0; i < j->nsent; i++)
		if (j->sent[i].qid == qid)
			return j->sent[i].upto;
	return 0;
}

static void
sent_put(struct journal *j, uint32_t qid, uint64_t upto)
{
	unsigned i;

	for (i = 0; i < j->nsent; i++)
		if (j->sent[i].qid == qid)
			break;
	if (i == j->nsent) {
		if (upto == 0)
			return;
		j->sent = xrealloc(j->sent, (j->nsent + 1) * sizeof(*j->sent));
		j->nsent++;
	}
	j->sent[i].qid = qid;
	j->sent[i].upto = upto;
}

void
journal_sent_set(struct journal *j, uint32_t qid, uint64_t upto)
{
	pthread_mutex_lock(&j->sentmu);
	sent_put(j, qid, upto);
	pthread_mutex_unlock(&j->sentmu);
}

int
journal_peek_sent(struct journal *j, uint32_t qid, uint64_t from_seq, unsigned max,
    size_t max_bytes, struct jentry *out, unsigned *n)
{
	int rc;

	pthread_mutex_lock(&j->sentmu);
	rc = journal_peek(j, qid, from_seq, max, max_bytes, out, n);
	if (rc == 0 && *n > 0 && out[*n - 1].seq > jsent_upto(j, qid))
		sent_put(j, qid, out[*n - 1].seq);
	pthread_mutex_unlock(&j->sentmu);
	return rc;
}

/*
 * After a restart nobody knows what the last run sent: a kill -9 between a
 * send and its ack leaves a packet at the peer that is still queued here.
 * So at open every entry still queued counts as in flight, up to the
 * queue's last seq, until the link's next session resolves it (the
 * parent's mark in Auth, a puller's ack in Pull: journal_sent_set lowers
 * it). Until the peer is heard from, none of it expires or is cancelled
 * here, so it never gets two outcomes. Packets queued after the open are
 * above that seq and expire as usual. Nothing is written on the send path
 * for this: the price is that a peer gone for good keeps what was queued
 * for it at the restart (as it keeps what it was sent before).
 */
static int
sent_restore_one(const struct jqueue_info *q, void *arg)
{
	struct journal *j = arg;

	if (q->next_seq > q->acked_seq + 1)
		sent_put(j, q->qid, q->next_seq - 1);
	return 0;
}

int
jsent_restore(struct journal *j)
{
	int rc;

	pthread_mutex_lock(&j->sentmu);
	rc = journal_queues(j, sent_restore_one, j);
	pthread_mutex_unlock(&j->sentmu);
	return rc;
}

/* Whether one of r's queue entries is in flight on a link. Under sentmu. */
int
jrec_in_flight(const struct journal *j, const struct jrec *r)
{
	unsigned i;

	for (i = 0; i < r->nq; i++)
		if (r->qseq[i] <= jsent_upto(j, r->qid[i]))
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- cancel */

/* Whether the stored packet r names src as its source. -1: unknown (no body). */
static int
rec_src_is(struct journal *j, const struct jrec *r, const uint8_t *pkey, const char *src)
{
	Cascade__Packet *p;
	int same;

	if ((p = jrec_decode(j, r, pkey)) == NULL)
		return -1;
	same = p->src != NULL && strcmp(p->src, src) == 0;
	cascade__packet__free_unpacked(p, NULL);
	return same;
}

int
journal_cancel(struct journal *j, const struct jkey *kk, const char *src, uint64_t now_ms,
    int *was_queued)
{
	char idtext[CID_TEXT_LEN], text[CADDR_TEXT_MAX + 64];
	uint8_t pkey[JKEY_LEN];
	unsigned removed;
	struct jrec r;
	struct wtx w;
	uint8_t *plain = NULL;
	size_t plainlen = 0;
	int rc, mine;

	*was_queued = 0;
	jkey_pack(pkey, kk->id, kk->leg);
	cid_format(kk->id, idtext);
	/* sentmu to the commit: no link reads it for sending meanwhile */
	pthread_mutex_lock(&j->sentmu);
	if ((rc = jwtx_begin(j, &w)) != 0) {
		pthread_mutex_unlock(&j->sentmu);
		return jfail(j, rc, "cancel %s: begin", idtext);
	}
	if ((rc = jrec_get(j, w.txn, pkey, &r)) != 0)
		goto fail;
	/*
	 * Only the packet's source may cancel it. A pruned body (delivered
	 * long ago) cannot say whose it was: nothing waits to be removed, so
	 * it is treated as unknown rather than as a spoofed cancel.
	 */
	if ((mine = rec_src_is(j, &r, pkey, nz(src))) < 0) {
		rc = JOURNAL_NOT_FOUND;
		goto fail;
	}
	if (!mine) {
		snprintf(text, sizeof(text), "cancel from %s refused: not the packet's source", nz(src));
		if ((rc = jev_about_why(&w, &r, pkey, JEV_REJECTED, src, (int64_t)now_ms,
		    CASCADE__REASON__REASON_SPOOFED, text)) != 0)
			goto fail;
		rc = jwtx_commit(&w);
		pthread_mutex_unlock(&j->sentmu);
		if (rc != 0)
			return jfail(j, rc, "cancel %s: commit", idtext);
		return jfail(j, JOURNAL_NOT_YOURS, "cancel %s from %s: not the packet's source",
		    idtext, nz(src));
	}
	/*
	 * Sent on a link and not acked: the peer may have it already, so this
	 * node can no longer take it back; like a packet gone on (not queued),
	 * it stays as it is and the cancel is too late here.
	 */
	if (jrec_in_flight(j, &r)) {
		jwtx_abort(&w);
		pthread_mutex_unlock(&j->sentmu);
		return 0;
	}
	/* Copied and logged first: the record's body is only readable before the puts. */
	if (!(r.flags & JREC_PRUNED) && (rc = jrec_body_dup(j, &r, pkey, &plain, &plainlen)) != 0)
		goto fail;
	if ((rc = jev_about(&w, &r, pkey, JEV_CANCELLED, src, (int64_t)now_ms, "")) != 0)
		goto fail;
	if ((rc = jrec_unqueue(j, w.txn, &r, &removed)) != 0)
		goto fail;
	if ((rc = jexpiry_del(j, w.txn, r.deadline_ms, pkey)) != 0)
		goto fail;
	/* Its source wants it gone: the body goes, the header and events stay. */
	if ((rc = jrec_drop_body(j, w.txn, &r, pkey, plain, plainlen)) != 0)
		goto fail;
	free(plain);
	plain = NULL;
	rc = jwtx_commit(&w);
	pthread_mutex_unlock(&j->sentmu);
	if (rc != 0)
		return jfail(j, rc, "cancel %s: commit", idtext);
	*was_queued = removed > 0;
	return 0;
fail:
	free(plain);
	jwtx_abort(&w);
	pthread_mutex_unlock(&j->sentmu);
	return jfail(j, rc, "cancel %s leg %u", idtext, kk->leg);
}

/* --------------------------------------------------------------- replay */

/*
 * One packet of journal_requeue inside w (sentmu held). r's queue list
 * gets (qid, seq) in place of its entry for qid, or of one whose entry is
 * gone, or after the others; the record is rewritten with its body as it
 * is (a sealed body is bound to its key, not to the header).
 */
static int
requeue_one(struct wtx *w, struct jrequeue *rq, const char *text, int64_t now_ms)
{
	struct journal *j = w->j;
	uint8_t pkey[JKEY_LEN], qk[JQKEY_LEN];
	char evtext[512];
	struct jqueue_info q;
	struct jrec r;
	MDB_val k, v;
	size_t hdr, len;
	unsigned i, slot;
	uint64_t oldseq = 0;
	int rc, queued;

	jkey_pack(pkey, rq->key.id, rq->key.leg);
	if ((rc = jrec_get(j, w->txn, pkey, &r)) == JOURNAL_NOT_FOUND) {
		rq->result = JRQ_ABSENT;
		return 0;
	}
	if (rc)
		return rc;
	if ((r.flags & JREC_PRUNED) || r.bodylen == 0) {
		rq->result = JRQ_PRUNED;
		return 0;
	}
	if (r.deadline_ms != 0 && r.deadline_ms <= now_ms) {
		rq->result = JRQ_EXPIRED;
		return 0;
	}
	slot = r.nq;
	for (i = 0; i < r.nq; i++) {
		if (r.qid[i] != rq->qid)
			continue;
		jqkey_pack(qk, r.qid[i], r.qseq[i]);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		if ((rc = mdb_get(w->txn, j->queues, &k, &v)) == 0) {
			/*
			 * a link may have sent it already: it stays where it
			 * is; so does one in a lane (it is numbered in turn)
			 */
			if (!rq->move || r.qseq[i] <= jsent_upto(j, rq->qid) ||
			    r.qseq[i] >= JSEQ_LANE) {
				rq->result = JRQ_WAITING;
				return 0;
			}
			oldseq = r.qseq[i];
		} else if (rc != MDB_NOTFOUND)
			return rc;
		slot = i;
	}
	if (rq->move && oldseq == 0) {
		rq->result = JRQ_GONE;  /* it left meanwhile: nothing to move */
		return 0;
	}
	/* no entry for qid: a free place, else one whose entry has left */
	for (i = 0; slot == r.nq && r.nq == JMAX_QUEUES && i < r.nq; i++) {
		struct jrec one = r;

		one.nq = 1;
		one.qid[0] = r.qid[i];
		one.qseq[0] = r.qseq[i];
		if ((rc = jrec_queued(j, w->txn, &one, 0, 0, &queued)) != 0)
			return rc;
		if (!queued)
			slot = i;
	}
	if (slot == JMAX_QUEUES)
		return EINVAL;  /* it waits in JMAX_QUEUES other queues: cannot be */
	if ((rc = jqstate_get(j, w->txn, rq->qid, &q)) != 0)
		return rc;
	if (slot == r.nq)
		r.nq++;
	r.qid[slot] = rq->qid;
	r.qseq[slot] = q.next_seq;
	rq->seq = q.next_seq++;
	len = jrec_plainlen(&r);
	q.depth++;
	q.bytes += len;

	/* The new value first: r.body points into the map until the first put. */
	hdr = JREC_HDR + (size_t)r.nq * JREC_QENT;
	if (jgrow_buf(&j->buf, &j->bufsz, hdr + r.bodylen) == NULL)
		return ENOMEM;
	memmove(j->buf + hdr, r.body, r.bodylen);
	jrec_header(&r, j->buf);
	r.body = j->buf + hdr;
	if (oldseq != 0) {
		/* moved: its old place goes (no event: it was never sent) */
		jqkey_pack(qk, q.qid, oldseq);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		if ((rc = mdb_del(w->txn, j->queues, &k, NULL)) != 0)
			return rc;
		q.depth--;
		q.bytes = q.bytes >= len ? q.bytes - len : 0;
	} else {
		snprintf(evtext, sizeof(evtext), "seq %llu: %s", (unsigned long long)rq->seq,
		    nz(text));
		if ((rc = jev_about(w, &r, pkey, JEV_REPLAYED, q.name, now_ms, evtext)) != 0)
			return rc;
	}
	k.mv_size = JKEY_LEN;
	k.mv_data = pkey;
	v.mv_size = hdr + r.bodylen;
	v.mv_data = j->buf;
	if ((rc = mdb_put(w->txn, j->packets, &k, &v, 0)) != 0)
		return rc;
	if ((rc = jqstate_put(j, w->txn, &q)) != 0)
		return rc;
	if ((rc = jqentry_put(j, w->txn, q.qid, rq->seq, pkey, len, MDB_NOOVERWRITE)) != 0)
		return rc;
	/* its deadline left the index when it last left a queue */
	if (r.deadline_ms != 0 && (rc = jexpiry_put(j, w->txn, r.deadline_ms, pkey)) != 0)
		return rc;
	rq->result = oldseq != 0 ? JRQ_MOVED : JRQ_REQUEUED;
	return 0;
}

int
journal_requeue(struct journal *j, struct jrequeue *rq, unsigned n, const char *text,
    int64_t now_ms)
{
	struct wtx w;
	unsigned i;
	int rc;

	if (n > JREQUEUE_MAX)
		return jfail(j, EINVAL, "requeue: %u packets in one call (at most %u)", n,
		    JREQUEUE_MAX);
	if (j->full)
		return jfail(j, JOURNAL_FULL, "requeue: the journal is full: replay when it has "
		    "room again");
	/* sentmu to the commit: no link reads a moved entry for sending meanwhile */
	pthread_mutex_lock(&j->sentmu);
	if ((rc = jwtx_begin(j, &w)) != 0) {
		pthread_mutex_unlock(&j->sentmu);
		return jfail(j, rc, "requeue: begin");
	}
	for (i = 0; i < n; i++) {
		rq[i].result = 0;
		rq[i].seq = 0;
		if ((rc = requeue_one(&w, &rq[i], text, now_ms)) != 0) {
			char id[CID_TEXT_LEN];

			jwtx_abort(&w);
			pthread_mutex_unlock(&j->sentmu);
			return jfail(j, rc, "requeue %s leg %u to queue %u",
			    cid_format(rq[i].key.id, id), rq[i].key.leg, rq[i].qid);
		}
	}
	rc = jwtx_commit(&w);
	pthread_mutex_unlock(&j->sentmu);
	if (rc != 0)
		return jfail(j, rc, "requeue: commit");
	return 0;
}
