/*
 * journal_queue.c — queues (create, list, peek), acks, and the stream marks
 * of the peers that push to this node.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "log.h"

#define JACK_CHUNK      512     /* entries per ack / trim transaction */

/* ---------------------------------------------------------------- queues */

int
journal_queue(struct journal *j, const char *name, uint32_t kind, uint32_t *qid)
{
	struct jqueue_info q;
	struct wtx w;
	char key[8 + sizeof(q.name)];
	uint8_t val[4];
	MDB_val k, v;
	uint32_t id = 0;
	int rc;

	if (name == NULL || *name == '\0' || strlen(name) >= sizeof(q.name) ||
	    (kind != JQ_LINK && kind != JQ_CLIENT))
		return jfail(j, EINVAL, "queue \"%s\"", nz(name));
	snprintf(key, sizeof(key), "q:%s", name);
	if ((rc = jwtx_begin(j, &w)) != 0)
		return jfail(j, rc, "queue %s: begin", name);
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_get(w.txn, j->meta, &k, &v);
	if (rc == 0 && v.mv_size == 4) {
		*qid = get32(v.mv_data);
		jwtx_abort(&w);
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		goto fail;

	k.mv_size = 5;
	k.mv_data = "qlast";
	rc = mdb_get(w.txn, j->meta, &k, &v);
	if (rc == 0 && v.mv_size == 4)
		id = get32(v.mv_data);
	else if (rc != MDB_NOTFOUND)
		goto fail;
	id++;
	put32(val, id);
	v.mv_size = 4;
	v.mv_data = val;
	if ((rc = mdb_put(w.txn, j->meta, &k, &v, 0)) != 0)
		goto fail;
	k.mv_size = strlen(key);
	k.mv_data = key;
	if ((rc = mdb_put(w.txn, j->meta, &k, &v, 0)) != 0)
		goto fail;
	memset(&q, 0, sizeof(q));
	q.qid = id;
	q.kind = kind;
	snprintf(q.name, sizeof(q.name), "%s", name);
	q.epoch = crandom64();
	q.next_seq = 1;
	if ((rc = jqstate_put(j, w.txn, &q)) != 0)
		goto fail;
	if ((rc = jwtx_commit(&w)) != 0)
		return jfail(j, rc, "queue %s: commit", name);
	*qid = id;
	return 0;
fail:
	jwtx_abort(&w);
	return jfail(j, rc, "queue %s", name);
}

int
journal_queue_info(struct journal *j, uint32_t qid, struct jqueue_info *out)
{
	MDB_txn *txn;
	int rc;

	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "queue %u: begin", qid);
	rc = jqstate_get(j, txn, qid, out);
	jrd_end(j, txn);
	if (rc)
		return jfail(j, rc, "queue %u", qid);
	return 0;
}

int
journal_queues(struct journal *j, int (*fn)(const struct jqueue_info *, void *), void *arg)
{
	struct jqueue_info q;
	MDB_cursor *c = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	char hex[9];
	int rc;

	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "queues: begin");
	if ((rc = mdb_cursor_open(txn, j->meta, &c)) != 0)
		goto fail;
	k.mv_size = 3;
	k.mv_data = "qn:";
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 11 || memcmp(k.mv_data, "qn:", 3) != 0)
			break;
		memcpy(hex, (const char *)k.mv_data + 3, 8);
		hex[8] = '\0';
		if ((rc = jqstate_parse(&v, (uint32_t)strtoul(hex, NULL, 16), &q)) != 0)
			goto fail;
		if (fn(&q, arg) != 0)
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jrd_end(j, txn);
	if (rc)
		return jfail(j, rc, "queues");
	return 0;
}

int
journal_peek(struct journal *j, uint32_t qid, uint64_t from_seq, unsigned max,
    size_t max_bytes, struct jentry *out, unsigned *n)
{
	MDB_cursor *c = NULL;
	MDB_txn *txn;
	MDB_val k, v, pv;
	uint8_t qk[JQKEY_LEN];
	struct jrec r;
	size_t total = 0;
	int rc, lanes = from_seq >= JSEQ_LANE;  /* the region read: lanes or numbered */

	*n = 0;
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "peek %u: begin", qid);
	if ((rc = mdb_cursor_open(txn, j->queues, &c)) != 0)
		goto fail;
	jqkey_pack(qk, qid, from_seq);
	k.mv_size = sizeof(qk);
	k.mv_data = qk;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && *n < max;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct jentry *e = &out[*n];

		if (k.mv_size != JQKEY_LEN || get32(k.mv_data) != qid ||
		    (get64((const uint8_t *)k.mv_data + 4) >= JSEQ_LANE) != lanes)
			break;
		if (v.mv_size < JQVAL_LEN) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		pv.mv_size = JKEY_LEN;
		pv.mv_data = v.mv_data;
		if ((rc = mdb_get(txn, j->packets, &pv, &pv)) != 0 ||
		    (rc = jrec_parse(&pv, &r)) != 0)
			goto fail;
		if (r.flags & JREC_PRUNED) {
			rc = JOURNAL_CORRUPT;   /* a queued packet never loses its body */
			goto fail;
		}
		if (*n > 0 && total + r.bodylen > max_bytes)
			break;
		memset(e, 0, sizeof(*e));
		e->seq = get64((const uint8_t *)k.mv_data + 4);
		memcpy(e->key.id, v.mv_data, CID_LEN);
		e->key.leg = ((const uint8_t *)v.mv_data)[CID_LEN];
		e->accepted_ms = r.accepted_ms;
		e->deadline_ms = r.deadline_ms;
		if ((rc = jrec_body_dup(j, &r, v.mv_data, &e->bytes, &e->len)) != 0)
			goto fail;
		total += r.bodylen;
		(*n)++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jrd_end(j, txn);
	if (rc) {
		journal_entries_free(out, *n);
		*n = 0;
		return jfail(j, rc, "peek queue %u", qid);
	}
	return 0;
}

int
journal_queue_keys(struct journal *j, uint32_t qid, uint64_t from_seq, uint64_t upto_seq,
    struct jkey *out, unsigned max, unsigned *n)
{
	MDB_cursor *c = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t qk[JQKEY_LEN];
	int rc;

	*n = 0;
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "queue keys %u: begin", qid);
	if ((rc = mdb_cursor_open(txn, j->queues, &c)) != 0)
		goto fail;
	jqkey_pack(qk, qid, from_seq);
	k.mv_size = sizeof(qk);
	k.mv_data = qk;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && *n < max;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != JQKEY_LEN || get32(k.mv_data) != qid ||
		    get64((const uint8_t *)k.mv_data + 4) > upto_seq)
			break;
		if (v.mv_size < JQVAL_LEN) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		memcpy(out[*n].id, v.mv_data, CID_LEN);
		out[*n].leg = ((const uint8_t *)v.mv_data)[CID_LEN];
		(*n)++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jrd_end(j, txn);
	if (rc) {
		*n = 0;
		return jfail(j, rc, "queue keys %u", qid);
	}
	return 0;
}

void
journal_entries_free(struct jentry *e, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		free(e[i].bytes);
		e[i].bytes = NULL;
	}
}

/* ------------------------------------------------------------------ acks */

/*
 * The ack's work inside transaction w: removes up to chunk entries with
 * seq <= upto. *done is set when nothing with seq <= upto is left. Returns
 * 0, or an error (the caller aborts w).
 */
int
jack_body(struct journal *j, struct wtx *wp, uint32_t qid, uint64_t upto, int64_t now_ms,
    unsigned chunk, unsigned *nacked, int *done)
{
	struct jqueue_info q;
	MDB_cursor *c = NULL;
	struct wtx w = *wp;             /* written back at the end: ev_about moves the chain */
	MDB_val k, v, pv;
	uint8_t qk[JQKEY_LEN], pkey[JKEY_LEN];
	uint64_t seq, last = 0;
	uint32_t len, type;
	struct jrec r;
	int rc, queued;

	*nacked = 0;
	*done = 1;
	if ((rc = jqstate_get(j, w.txn, qid, &q)) != 0)
		goto fail;
	if (upto >= q.next_seq) {
		rc = JOURNAL_RANGE;
		goto fail;
	}
	if (upto <= q.acked_seq)
		return 0;
	type = q.kind == JQ_CLIENT ? JEV_DELIVERED : JEV_FORWARDED;
	if ((rc = mdb_cursor_open(w.txn, j->queues, &c)) != 0)
		goto fail;
	jqkey_pack(qk, qid, 0);
	k.mv_size = sizeof(qk);
	k.mv_data = qk;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != JQKEY_LEN || get32(k.mv_data) != qid)
			break;
		seq = get64((const uint8_t *)k.mv_data + 4);
		if (seq > upto)
			break;
		if (*nacked == chunk) {
			*done = 0;
			break;
		}
		if (v.mv_size < JQVAL_LEN) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		memcpy(pkey, v.mv_data, JKEY_LEN);
		len = get32((const uint8_t *)v.mv_data + JKEY_LEN);
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			goto fail;
		q.depth = q.depth > 0 ? q.depth - 1 : 0;
		q.bytes = q.bytes >= len ? q.bytes - len : 0;
		last = seq;
		(*nacked)++;

		pv.mv_size = JKEY_LEN;
		pv.mv_data = pkey;
		rc = mdb_get(w.txn, j->packets, &pv, &pv);
		if (rc == MDB_NOTFOUND)
			continue;       /* pruned by hand: nothing left to log */
		if (rc || (rc = jrec_parse(&pv, &r)) != 0)
			goto fail;
		if ((rc = jev_about(&w, &r, pkey, type, q.name, now_ms, "")) != 0)
			goto fail;
		if ((rc = jrec_queued(j, w.txn, &r, qid, seq, &queued)) != 0)
			goto fail;
		if (!queued && (rc = jexpiry_del(j, w.txn, r.deadline_ms, pkey)) != 0)
			goto fail;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(c);
	c = NULL;
	q.acked_seq = *done ? upto : last;
	/* the room the ack made goes to the lanes, urgent first */
	if ((rc = jlane_fill(j, w.txn, &q)) != 0 || (rc = jqstate_put(j, w.txn, &q)) != 0)
		goto fail;
	*wp = w;
	return 0;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	*nacked = 0;
	return rc;
}

/* One ack transaction: ack_body, committed. */
static int
ack_try(struct journal *j, uint32_t qid, uint64_t upto, int64_t now_ms, unsigned chunk,
    unsigned *nacked, int *done)
{
	struct wtx w;
	int rc;

	if ((rc = jwtx_begin(j, &w)) != 0)
		return rc;
	if ((rc = jack_body(j, &w, qid, upto, now_ms, chunk, nacked, done)) != 0) {
		jwtx_abort(&w);
		return rc;
	}
	if ((rc = jwtx_commit(&w)) != 0)
		*nacked = 0;
	return rc;
}

int
journal_ack(struct journal *j, uint32_t qid, uint64_t upto, uint64_t now_ms, unsigned *nacked)
{
	unsigned chunk = JACK_CHUNK, n, total = 0;
	int rc, done, grew = 0, pruned = 0, end;

	for (;;) {
		rc = ack_try(j, qid, upto, (int64_t)now_ms, chunk, &n, &done);
		if (rc == MDB_MAP_FULL) {
			/*
			 * Trims alone, smaller, until one fits; last, make room
			 * by dropping a few delivered bodies (their events stay).
			 */
			j->full = 1;
			if (!grew && jmap_grow(j) == 0)
				grew = 1;
			else if (chunk > 1)
				chunk /= 2;
			else if (!pruned++ && jprune_bodies(j, (int64_t)now_ms, 8, &n, &end) == 0 &&
			    n > 0)
				log_warnx("journal %s: map full: dropped %u delivered bodies to "
				    "commit an ack", j->dir, n);
			else
				break;
			continue;
		}
		if (rc)
			break;
		total += n;
		if (done)
			break;
	}
	if (nacked != NULL)
		*nacked = total;
	if (rc == JOURNAL_RANGE)
		return jfail(j, rc, "ack queue %u up to %llu: above the highest seq", qid,
		    (unsigned long long)upto);
	if (rc)
		return jfail(j, rc, "ack queue %u up to %llu", qid, (unsigned long long)upto);
	return 0;
}

/* ---------------------------------------------------------------- marks */

static void
mark_key(uint8_t *buf, size_t *len, const char *peer, uint64_t epoch)
{
	size_t n = strlen(nz(peer));

	if (n > 255)
		n = 255;
	put64(buf, epoch);
	memcpy(buf + 8, nz(peer), n);
	*len = 8 + n;
}

int
jmark_read(struct journal *j, MDB_txn *txn, const char *peer, uint64_t epoch, uint64_t *mark)
{
	uint8_t key[8 + 256];
	MDB_val k, v;
	int rc;

	mark_key(key, &k.mv_size, peer, epoch);
	k.mv_data = key;
	rc = mdb_get(txn, j->marks, &k, &v);
	if (rc == MDB_NOTFOUND)
		return JOURNAL_NOT_FOUND;
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return JOURNAL_CORRUPT;
	*mark = get64(v.mv_data);
	return 0;
}

int
jmark_write(struct journal *j, MDB_txn *txn, const char *peer, uint64_t epoch, uint64_t mark)
{
	uint8_t key[8 + 256], val[8];
	MDB_val k, v;

	mark_key(key, &k.mv_size, peer, epoch);
	k.mv_data = key;
	put64(val, mark);
	v.mv_size = 8;
	v.mv_data = val;
	return mdb_put(txn, j->marks, &k, &v, 0);
}

int
journal_mark_resolve(struct journal *j, const char *peer, uint64_t epoch,
    uint64_t lowest_unacked, uint64_t *mark)
{
	struct wtx w;
	uint64_t m;
	int rc;

	if ((rc = jwtx_begin(j, &w)) != 0)
		return jfail(j, rc, "mark %s: begin", nz(peer));
	rc = jmark_read(j, w.txn, peer, epoch, &m);
	if (rc == 0) {
		jwtx_abort(&w);
		*mark = m;
		return 0;
	}
	if (rc != JOURNAL_NOT_FOUND)
		goto fail;
	m = lowest_unacked > 0 ? lowest_unacked - 1 : 0;
	if ((rc = jmark_write(j, w.txn, peer, epoch, m)) != 0)
		goto fail;
	if ((rc = jwtx_commit(&w)) != 0)
		return jfail(j, rc, "mark %s: commit", nz(peer));
	*mark = m;
	return 0;
fail:
	jwtx_abort(&w);
	return jfail(j, rc, "mark %s epoch %016llx", nz(peer), (unsigned long long)epoch);
}

int
journal_mark_get(struct journal *j, const char *peer, uint64_t epoch, uint64_t *mark)
{
	MDB_txn *txn;
	int rc;

	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "mark %s: begin", nz(peer));
	rc = jmark_read(j, txn, peer, epoch, mark);
	jrd_end(j, txn);
	if (rc)
		return jfail(j, rc, "mark %s epoch %016llx", nz(peer), (unsigned long long)epoch);
	return 0;
}
