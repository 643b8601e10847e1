/*
 * journal_commit.c — taking packets into custody: batch and group commits,
 * an ack with its receipts in one transaction, and reading one packet back.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "log.h"

/* ---------------------------------------------------------- batch commit */

/*
 * Takes one item inside w. Returns 0 with it->result set, JOURNAL_FULL when
 * the item needs storing and full is set, or an error (MDB_MAP_FULL among
 * them) that poisons w's innermost transaction.
 */
static int
item_commit(struct wtx *w, const struct jbatch *b, struct jitem *it, int full)
{
	struct journal *j = w->j;
	const char *trace[JEV_MAXTRACE];
	const Cascade__Packet *p = it->pkt;
	struct jqueue_info q;
	struct jevent ev;
	struct jrec r;
	uint8_t pkey[JKEY_LEN];
	size_t hdr, len, stored;
	MDB_val k, v;
	unsigned i;
	int rc, sealed = j->keys.n > 0;

	memset(&ev, 0, sizeof(ev));
	ev.time_ms = b->now_ms;
	ev.leg = it->leg;
	ev.peer = nz(b->peer);
	ev.text = "";
	jev_set_packet(&ev, p, trace);
	if (p != NULL && p->payload.len > 0)
		csha256(p->payload.data, p->payload.len, ev.payload_sha);
	else
		csha256("", 0, ev.payload_sha);

	if (it->reject) {
		ev.type = JEV_REJECTED;
		ev.reason = it->reject;
		ev.text = nz(it->reject_text);
		if ((rc = jev_append(w, &ev)) != 0)
			return rc;
		it->result = JR_REJECTED;
		return 0;
	}
	if (p == NULL || p->id.len != CID_LEN || it->nqueues > JMAX_QUEUES)
		return EINVAL;

	jkey_pack(pkey, p->id.data, it->leg);
	k.mv_size = JKEY_LEN;
	k.mv_data = pkey;
	rc = mdb_get(w->txn, j->packets, &k, &v);
	if (rc == 0) {
		ev.type = JEV_DUPLICATE;
		if ((rc = jev_append(w, &ev)) != 0)
			return rc;
		it->result = JR_DUPLICATE;
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	if (full)
		return JOURNAL_FULL;

	memset(&r, 0, sizeof(r));
	r.nq = it->nqueues;
	r.accepted_ms = b->now_ms;
	r.deadline_ms = it->deadline_ms;
	memcpy(r.sha, ev.payload_sha, CSHA256_LEN);
	hdr = JREC_HDR + (size_t)r.nq * JREC_QENT;
	len = cascade__packet__get_packed_size(p);
	stored = len + (sealed ? JCRYPT_OVERHEAD : 0);
	if (jgrow_buf(&j->buf, &j->bufsz, hdr + stored) == NULL)
		return ENOMEM;
	/* Sealed in place: packed where the ciphertext goes, no copy, no malloc. */
	cascade__packet__pack(p, j->buf + hdr + (sealed ? JCRYPT_HEAD : 0));
	if (sealed) {
		if (jcrypt_seal(&j->keys, pkey, JKEY_LEN, j->buf + hdr + JCRYPT_HEAD, len,
		    j->buf + hdr) != 0)
			return jfail(j, JOURNAL_SYS, "seal: AES-256-GCM failed in OpenSSL");
		r.flags |= JREC_SEALED;
		if ((rc = jkid_count(j, w->txn, j->keys.keys[0].kid, 1)) != 0)
			return rc;
	}

	for (i = 0; i < it->nqueues; i++) {
		if ((rc = jqstate_get(j, w->txn, it->queues[i], &q)) != 0)
			return rc;
		r.qid[i] = q.qid;
		if ((rc = jlane_enqueue(j, w->txn, &q, pkey, len, p, &r.qseq[i])) != 0)
			return rc;
		if ((rc = jqstate_put(j, w->txn, &q)) != 0)
			return rc;
	}
	jrec_header(&r, j->buf);
	k.mv_size = JKEY_LEN;
	k.mv_data = pkey;
	v.mv_size = hdr + stored;
	v.mv_data = j->buf;
	if ((rc = jput_append(w->txn, j->packets, &k, &v, 0)) != 0)
		return rc;
	/* Only what waits in a queue can expire from one. */
	if (it->deadline_ms != 0 && it->nqueues > 0 &&
	    (rc = jexpiry_put(j, w->txn, it->deadline_ms, pkey)) != 0)
		return rc;
	ev.type = JEV_ACCEPTED;
	if ((rc = jev_append(w, &ev)) != 0)
		return rc;
	for (i = 0; i < it->nqueues; i++)
		it->qseq[i] = r.qseq[i];
	it->result = JR_ACCEPTED;
	return 0;
}

/*
 * One attempt at a batch. nested: each item in a savepoint, so a full map
 * stops the batch at the item that did not fit; items from index limit on
 * are not tried (JR_FULL). Returns 0, JOURNAL_FULL (committed up to *stop),
 * JOURNAL_OUT_OF_ORDER, or an error with nothing committed (MDB_MAP_FULL:
 * the caller retries differently).
 */
static int
batch_body(struct journal *j, struct wtx *w, struct jbatch *b, int nested, unsigned limit,
    unsigned *stop, uint64_t *newmarkp)
{
	struct wsave s;
	struct jitem *it;
	uint64_t mark = 0, newmark;
	unsigned i;
	int rc, known = 0;

	b->accepted = b->duplicates = b->rejected = b->full = 0;
	for (i = 0; i < b->n; i++) {
		b->items[i].result = 0;
		memset(b->items[i].qseq, 0, sizeof(b->items[i].qseq));
	}
	*stop = b->n;
	if (b->epoch != 0) {
		rc = jmark_read(j, w->txn, b->peer, b->epoch, &mark);
		if (rc == 0)
			known = 1;
		else if (rc == JOURNAL_NOT_FOUND)
			mark = b->first_seq > 0 ? b->first_seq - 1 : 0;
		else
			return rc;
		b->mark = mark;
		if (b->first_seq > mark + 1)
			return JOURNAL_OUT_OF_ORDER;    /* nothing written for this batch */
		/*
		 * Touch the mark first: its final put then rewrites a page
		 * already dirty in this transaction and cannot hit a full map.
		 */
		if (nested && (rc = jmark_write(j, w->txn, b->peer, b->epoch, mark)) != 0)
			return rc;
	}

	for (i = 0; i < b->n; i++) {
		it = &b->items[i];
		if (b->epoch != 0 && it->seq != 0 && it->seq <= mark) {
			it->result = JR_SKIPPED;
			continue;
		}
		if (i >= limit) {
			*stop = i;
			break;
		}
		if (nested && (rc = jwtx_sub_begin(w, &s)) != 0)
			return rc;
		rc = item_commit(w, b, it, j->full);
		if (rc == 0 && nested)
			rc = jwtx_sub_commit(w, &s);
		else if (rc != 0 && nested)
			jwtx_sub_abort(w, &s);
		if (rc == JOURNAL_FULL || (nested && rc == MDB_MAP_FULL)) {
			it->result = 0;
			*stop = i;
			break;
		}
		if (rc)
			return rc;
		if (it->result == JR_ACCEPTED)
			b->accepted++;
		else if (it->result == JR_DUPLICATE)
			b->duplicates++;
		else if (it->result == JR_REJECTED)
			b->rejected++;
	}
	for (i = *stop; i < b->n; i++) {
		b->items[i].result = JR_FULL;
		memset(b->items[i].qseq, 0, sizeof(b->items[i].qseq));
		b->full++;
	}

	newmark = mark;
	if (b->epoch != 0) {
		if (*stop == b->n) {
			if (b->last_seq > newmark)
				newmark = b->last_seq;
		} else if (b->items[*stop].seq > 0 && b->items[*stop].seq - 1 > newmark)
			newmark = b->items[*stop].seq - 1;
		if ((newmark != mark || !known) &&
		    (rc = jmark_write(j, w->txn, b->peer, b->epoch, newmark)) != 0)
			return rc;
	}
	*newmarkp = newmark;
	return *stop < b->n ? JOURNAL_FULL : 0;
}

/*
 * batch_body in a transaction of its own, committed unless it failed
 * (JOURNAL_FULL commits what fit).
 */
static int
batch_try(struct journal *j, struct jbatch *b, int nested, unsigned limit, unsigned *stop)
{
	struct wtx w;
	uint64_t newmark = 0;
	int rc;

	if ((rc = jwtx_begin(j, &w)) != 0)
		return rc;
	rc = batch_body(j, &w, b, nested, limit, stop, &newmark);
	if (rc != 0 && rc != JOURNAL_FULL) {
		jwtx_abort(&w);
		return rc;
	}
	if ((rc = jwtx_commit(&w)) != 0)
		return rc;
	b->mark = newmark;
	return *stop < b->n ? JOURNAL_FULL : 0;
}

/*
 * Group commit: every batch and ack in one transaction and one fsync.
 * Anything but plain success or an out-of-order batch (a full journal, a
 * full map, an ack out of range or too long, an error) sends every piece
 * through journal_commit_batch or journal_ack_with on its own, whose
 * careful retries (and messages) then apply.
 */
static void commit_group(struct journal *, struct jwork *, unsigned);

int
journal_commit_group(struct journal *j, struct jwork *ws, unsigned n)
{
	uint64_t t0 = jmono_us();
	unsigned i;

	commit_group(j, ws, n);
	/* h_commit times what packets wait for: groups with a batch in them */
	for (i = 0; i < n; i++)
		if (ws[i].batch != NULL) {
			jhist_add(&j->h_commit, t0);
			break;
		}
	return 0;
}

int
journal_commit_batches(struct journal *j, struct jbatch **bs, unsigned n, int *rcs)
{
	struct jwork ws[JGROUP_MAX];
	unsigned i;

	if (n > JGROUP_MAX) {
		for (i = 0; i < n; i++)
			rcs[i] = journal_commit_batch(j, bs[i]);
		return 0;
	}
	for (i = 0; i < n; i++) {
		ws[i].batch = bs[i];
		ws[i].ack = NULL;
	}
	journal_commit_group(j, ws, n);
	for (i = 0; i < n; i++)
		rcs[i] = ws[i].rc;
	return 0;
}

/* An ack and its local packets inside w, whole; 0 or an error (abort w). */
static int
ack_in(struct journal *j, struct wtx *w, struct jack *a)
{
	uint64_t newmark;
	unsigned stop;
	int rc, done = 0;

	a->nacked = 0;
	a->together = 0;
	rc = jack_body(j, w, a->qid, a->upto, (int64_t)a->now_ms, UINT_MAX, &a->nacked, &done);
	if (rc == 0 && !done)
		rc = MDB_MAP_FULL;      /* not whole: go the long way */
	if (rc == 0 && a->with != NULL && a->with->n > 0) {
		if (a->with->items == NULL)
			return EINVAL;
		a->with->mark = 0;
		rc = batch_body(j, w, a->with, 0, a->with->n, &stop, &newmark);
		a->together = 1;
	}
	return rc;
}

static void
commit_group(struct journal *j, struct jwork *ws, unsigned n)
{
	uint64_t marks[JGROUP_MAX];
	unsigned i, stop;
	struct wtx w;
	int rc;

	if (n == 0)
		return;
	if (n == 1 || n > JGROUP_MAX || j->full)
		goto one_by_one;
	if ((rc = jwtx_begin(j, &w)) != 0)
		goto one_by_one;
	for (i = 0; i < n; i++) {
		struct jbatch *b = ws[i].batch;

		if (ws[i].ack != NULL) {
			if ((rc = ack_in(j, &w, ws[i].ack)) != 0)
				goto abort;
			ws[i].rc = 0;
			continue;
		}
		if (b->n > 0 && b->items == NULL)
			goto abort;
		rc = batch_body(j, &w, b, 0, b->n, &stop, &marks[i]);
		if (rc != 0 && rc != JOURNAL_OUT_OF_ORDER)
			goto abort;
		ws[i].rc = rc;
	}
	if (jwtx_commit(&w) != 0)
		goto one_by_one;
	for (i = 0; i < n; i++)
		if (ws[i].batch != NULL && ws[i].rc == 0)
			ws[i].batch->mark = marks[i];
	return;
abort:
	jwtx_abort(&w);
one_by_one:
	for (i = 0; i < n; i++) {
		struct jack *a = ws[i].ack;

		if (a != NULL) {
			/* not what the aborted attempt counted: some errors set none */
			a->nacked = 0;
			a->together = 0;
			ws[i].rc = journal_ack_with(j, a->qid, a->upto, a->now_ms, a->with,
			    &a->nacked, &a->together);
		} else
			ws[i].rc = journal_commit_batch(j, ws[i].batch);
	}
}

int
journal_commit_batch(struct journal *j, struct jbatch *b)
{
	unsigned limit = b->n, stop = 0, i;
	int rc, nested = 0, grew = 0;
	uint64_t mark = 0;
	MDB_txn *txn;

	if (b->n > 0 && b->items == NULL)
		return jfail(j, EINVAL, "batch from %s: no items", nz(b->peer));
	b->mark = 0;
	for (;;) {
		rc = batch_try(j, b, nested, limit, &stop);
		if (rc != MDB_MAP_FULL)
			break;
		if (!nested && !grew && jmap_grow(j) == 0) {
			grew = 1;
			continue;
		}
		if (!nested) {
			nested = 1;
			continue;
		}
		if (limit == 0)
			break;
		/* The commit itself did not fit: take fewer items. */
		limit = stop / 2;
	}

	switch (rc) {
	case 0:
		return 0;
	case JOURNAL_FULL:
		return jfail(j, rc, "batch from %s: %u of %u items did not fit", nz(b->peer),
		    b->full, b->n);
	case JOURNAL_OUT_OF_ORDER:
		return jfail(j, rc, "batch from %s epoch %016llx starts at %llu, mark is %llu",
		    nz(b->peer), (unsigned long long)b->epoch,
		    (unsigned long long)b->first_seq, (unsigned long long)b->mark);
	case MDB_MAP_FULL:
		/* Not even an empty batch commits: everything waits. */
		j->full = 1;
		if (b->epoch != 0 && jrd_begin(j, &txn) == 0) {
			if (jmark_read(j, txn, b->peer, b->epoch, &mark) != 0)
				mark = b->first_seq > 0 ? b->first_seq - 1 : 0;
			jrd_end(j, txn);
		}
		b->accepted = b->duplicates = b->rejected = b->full = 0;
		for (i = 0; i < b->n; i++) {
			if (b->epoch != 0 && b->items[i].seq != 0 && b->items[i].seq <= mark)
				b->items[i].result = JR_SKIPPED;
			else {
				b->items[i].result = JR_FULL;
				b->full++;
			}
		}
		b->mark = mark;
		return jfail(j, JOURNAL_FULL, "batch from %s: map full", nz(b->peer));
	}
	return jfail(j, rc, "batch from %s", nz(b->peer));
}

/*
 * The ack and the local packets it produces (receipts) in one transaction:
 * a crash cannot leave the ack committed and its receipts lost. Only when
 * that transaction does not fit (a full journal or map, or an ack too long
 * for one transaction) do they commit one after the other, the ack first,
 * as journal_ack and journal_commit_batch would; *together (may be NULL)
 * says which way it went. b's item results are as journal_commit_batch's;
 * returns journal_ack's codes.
 */

int
journal_ack_with(struct journal *j, uint32_t qid, uint64_t upto, uint64_t now_ms,
    struct jbatch *b, unsigned *nacked, int *together)
{
	struct jack a = { .qid = qid, .upto = upto, .now_ms = now_ms, .with = b };
	struct wtx w;
	int rc;

	if (together != NULL)
		*together = 0;
	if (b == NULL || b->n == 0)
		return journal_ack(j, qid, upto, now_ms, nacked);
	if (b->items == NULL)
		return jfail(j, EINVAL, "ack queue %u: a batch without items", qid);
	if (!j->full && (rc = jwtx_begin(j, &w)) == 0) {
		if ((rc = ack_in(j, &w, &a)) == 0)
			rc = jwtx_commit(&w);
		else
			jwtx_abort(&w);
		if (rc == 0) {
			if (nacked != NULL)
				*nacked = a.nacked;
			if (together != NULL)
				*together = 1;
			return 0;
		}
		if (rc == JOURNAL_RANGE)
			return jfail(j, rc, "ack queue %u up to %llu: above the highest seq", qid,
			    (unsigned long long)upto);
		if (rc != MDB_MAP_FULL && rc != JOURNAL_FULL)
			return jfail(j, rc, "ack queue %u up to %llu with %u local packets", qid,
			    (unsigned long long)upto, b->n);
	}
	if ((rc = journal_ack(j, qid, upto, now_ms, nacked)) != 0)
		return rc;
	/* the ack stands; b's items say what became of each (JR_FULL: lost) */
	(void)journal_commit_batch(j, b);
	return 0;
}

/* ------------------------------------------------------ packets, cancel */

int
journal_packet_get(struct journal *j, const struct jkey *kk, uint8_t **bytes, size_t *len,
    int64_t *accepted_ms)
{
	uint8_t pkey[JKEY_LEN];
	MDB_txn *txn;
	struct jrec r;
	int rc;

	*bytes = NULL;
	*len = 0;
	jkey_pack(pkey, kk->id, kk->leg);
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "packet: begin");
	rc = jrec_get(j, txn, pkey, &r);
	if (rc == 0 && (r.flags & JREC_PRUNED))
		rc = JOURNAL_NOT_FOUND;
	if (rc == 0 && (rc = jrec_body_dup(j, &r, pkey, bytes, len)) == 0 &&
	    accepted_ms != NULL)
		*accepted_ms = r.accepted_ms;
	jrd_end(j, txn);
	if (rc) {
		char id[CID_TEXT_LEN];

		return jfail(j, rc, "packet %s leg %u", cid_format(kk->id, id), kk->leg);
	}
	return 0;
}

int
journal_packet_where(struct journal *j, const struct jkey *kk, struct jwhere *out)
{
	uint8_t pkey[JKEY_LEN], qk[JQKEY_LEN];
	MDB_txn *txn;
	MDB_val k, v;
	struct jrec r;
	unsigned i;
	int rc;

	memset(out, 0, sizeof(*out));
	jkey_pack(pkey, kk->id, kk->leg);
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "where: begin");
	if ((rc = jrec_get(j, txn, pkey, &r)) != 0)
		goto done;
	out->accepted_ms = r.accepted_ms;
	out->deadline_ms = r.deadline_ms;
	memcpy(out->sha, r.sha, CSHA256_LEN);
	out->pruned = (r.flags & JREC_PRUNED) != 0;
	/* A cancelled or expired packet shows its stub: all but the payload. */
	if ((!out->pruned || (r.flags & JREC_STUB)) && r.bodylen > 0 &&
	    (rc = jrec_body_dup(j, &r, pkey, &out->body, &out->bodylen)) != 0)
		goto done;
	out->nq = r.nq;
	for (i = 0; i < r.nq; i++) {
		out->qid[i] = r.qid[i];
		out->qseq[i] = r.qseq[i];
		jqkey_pack(qk, r.qid[i], r.qseq[i]);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		rc = mdb_get(txn, j->queues, &k, &v);
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto done;
		out->waiting[i] = rc == 0;
		rc = 0;
	}
done:
	jrd_end(j, txn);
	if (rc != 0) {
		free(out->body);
		out->body = NULL;
		if (rc == JOURNAL_NOT_FOUND)
			return rc;      /* not an error worth a message */
		return jfail(j, rc, "where");
	}
	return 0;
}
