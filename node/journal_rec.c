/*
 * journal_rec.c — the journal's records (their layout is described in
 * journal.c): packet records and their bodies, sealed or clear, the queue
 * entries and queue states, the deadline index. Used inside the callers'
 * transactions; calls only journal_txn.c.
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

#define JQSTATE_VERSION 2
#define JQSTATE_HDR_V1  48              /* version 1: no lanes */
#define JQSTATE_HDR     64

/* -------------------------------------------------------- packet records */

void
jkey_pack(uint8_t *out, const uint8_t *id, uint8_t leg)
{
	memcpy(out, id, CID_LEN);
	out[CID_LEN] = leg;
}

int
jrec_parse(const MDB_val *v, struct jrec *r)
{
	const uint8_t *p = v->mv_data;
	size_t hdr;
	unsigned i;

	if (v->mv_size < JREC_HDR || p[0] == 0 || p[0] > JREC_VERSION)
		return JOURNAL_CORRUPT;
	r->version = p[0];
	r->flags = p[1];
	r->nq = p[2];
	if (r->nq > JMAX_QUEUES)
		return JOURNAL_CORRUPT;
	hdr = JREC_HDR + (size_t)r->nq * JREC_QENT;
	if (v->mv_size < hdr)
		return JOURNAL_CORRUPT;
	r->accepted_ms = (int64_t)get64(p + 4);
	r->deadline_ms = (int64_t)get64(p + 12);
	memcpy(r->sha, p + 20, CSHA256_LEN);
	for (i = 0; i < r->nq; i++) {
		r->qid[i] = get32(p + JREC_HDR + i * JREC_QENT);
		r->qseq[i] = get64(p + JREC_HDR + i * JREC_QENT + 4);
	}
	r->body = p + hdr;
	r->bodylen = v->mv_size - hdr;
	if ((r->flags & JREC_SEALED) &&
	    (r->version < JREC_V_SEALED || r->bodylen < JCRYPT_OVERHEAD))
		return JOURNAL_CORRUPT;
	if (r->flags & JREC_SEALED)
		memcpy(r->kid, r->body, JCRYPT_KID_LEN);
	return 0;
}

/* The length of r's clear body. */
size_t
jrec_plainlen(const struct jrec *r)
{
	return (r->flags & JREC_SEALED) ? r->bodylen - JCRYPT_OVERHEAD : r->bodylen;
}

/*
 * Copies the clear body of r (key pkey) to out (rec_plainlen bytes),
 * opening it when sealed: JOURNAL_NO_KEY when its key is not configured,
 * JOURNAL_CORRUPT when it does not authenticate (tampered or moved).
 */
static int
rec_body_copy(const struct journal *j, const struct jrec *r, const uint8_t *pkey, uint8_t *out)
{
	int rc;

	if (!(r->flags & JREC_SEALED)) {
		memcpy(out, r->body, r->bodylen);
		return 0;
	}
	rc = jcrypt_open(&j->keys, pkey, JKEY_LEN, r->body, r->bodylen, out);
	if (rc == JCRYPT_NO_KEY)
		return JOURNAL_NO_KEY;
	return rc ? JOURNAL_CORRUPT : 0;
}

/* The same into a malloc'd buffer (*out, at least one byte) the caller frees. */
int
jrec_body_dup(const struct journal *j, const struct jrec *r, const uint8_t *pkey, uint8_t **out,
    size_t *len)
{
	size_t n = jrec_plainlen(r);
	int rc;

	if ((*out = malloc(n ? n : 1)) == NULL)
		return ENOMEM;
	if ((rc = rec_body_copy(j, r, pkey, *out)) != 0) {
		free(*out);
		*out = NULL;
		return rc;
	}
	*len = n;
	return 0;
}

/*
 * Writer only: r's clear body, decoded (NULL when pruned, empty or not
 * readable). Sealed bodies are opened into the writer's scratch buffer.
 */
Cascade__Packet *
jrec_decode(struct journal *j, const struct jrec *r, const uint8_t *pkey)
{
	size_t n = jrec_plainlen(r);

	if (((r->flags & JREC_PRUNED) && !(r->flags & JREC_STUB)) || r->bodylen == 0)
		return NULL;
	if (!(r->flags & JREC_SEALED))
		return cascade__packet__unpack(NULL, r->bodylen, r->body);
	if (jgrow_buf(&j->dbuf, &j->dbufsz, n ? n : 1) == NULL ||
	    rec_body_copy(j, r, pkey, j->dbuf) != 0)
		return NULL;
	return cascade__packet__unpack(NULL, n, j->dbuf);
}

/* Adds delta to the count of bodies sealed under kid (meta "jk:" kid). */
int
jkid_count(struct journal *j, MDB_txn *txn, const uint8_t *kid, int delta)
{
	uint8_t key[JKID_KEY_LEN], cnt[8];
	uint64_t n = 0;
	MDB_val k, v;
	int rc;

	memcpy(key, "jk:", 3);
	memcpy(key + 3, kid, JCRYPT_KID_LEN);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	rc = mdb_get(txn, j->meta, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		n = get64(v.mv_data);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	n = delta < 0 ? (n >= (uint64_t)-delta ? n - (uint64_t)-delta : 0) : n + (uint64_t)delta;
	if (n == 0)
		return rc == 0 ? mdb_del(txn, j->meta, &k, NULL) : 0;
	put64(cnt, n);
	v.mv_size = sizeof(cnt);
	v.mv_data = cnt;
	return mdb_put(txn, j->meta, &k, &v, 0);
}

/* Writes the header of r at out; returns its length. */
size_t
jrec_header(const struct jrec *r, uint8_t *out)
{
	unsigned i;

	out[0] = (r->flags & JREC_SEALED) ? JREC_V_SEALED : JREC_V_CLEAR;
	out[1] = (uint8_t)r->flags;
	out[2] = (uint8_t)r->nq;
	out[3] = 0;
	put64(out + 4, (uint64_t)r->accepted_ms);
	put64(out + 12, (uint64_t)r->deadline_ms);
	memcpy(out + 20, r->sha, CSHA256_LEN);
	for (i = 0; i < r->nq; i++) {
		put32(out + JREC_HDR + i * JREC_QENT, r->qid[i]);
		put64(out + JREC_HDR + i * JREC_QENT + 4, r->qseq[i]);
	}
	return JREC_HDR + (size_t)r->nq * JREC_QENT;
}

int
jrec_get(struct journal *j, MDB_txn *txn, const uint8_t *key, struct jrec *r)
{
	MDB_val k, v;
	int rc;

	k.mv_size = JKEY_LEN;
	k.mv_data = (void *)key;
	rc = mdb_get(txn, j->packets, &k, &v);
	if (rc == MDB_NOTFOUND)
		return JOURNAL_NOT_FOUND;
	if (rc)
		return rc;
	return jrec_parse(&v, r);
}

/*
 * Drops the payload of stored packet r (key pkey): the record keeps its
 * header, flagged JREC_PRUNED, and, when plain (r's clear body, a copy
 * taken before any put) is given, the Packet minus its payload (JREC_STUB,
 * in clear: metadata only) for a repeated cancel and `cascadectl show`.
 * r->body is not valid afterwards. Uses the writer's scratch buffer.
 * LMDB copies on write, so the old page keeps the old bytes until it is
 * reused: dropping a clear body hides it from cascade, not from the disk; a
 * sealed one is unreadable either way.
 */
int
jrec_drop_body(struct journal *j, MDB_txn *txn, struct jrec *r, const uint8_t *pkey,
    const uint8_t *plain, size_t plainlen)
{
	int rc, was_sealed = (r->flags & JREC_SEALED) != 0;
	Cascade__Packet *p = NULL;
	size_t hdr, len = 0, paylen;
	MDB_val k, v;

	if (r->flags & JREC_PRUNED)
		return 0;
	if (plain != NULL && (p = cascade__packet__unpack(NULL, plainlen, plain)) == NULL)
		return JOURNAL_CORRUPT;
	r->flags = (r->flags | JREC_PRUNED) & ~(unsigned)(JREC_SEALED | JREC_STUB);
	hdr = JREC_HDR + (size_t)r->nq * JREC_QENT;
	if (p != NULL) {
		paylen = p->payload.len;
		p->payload.len = 0;
		len = cascade__packet__get_packed_size(p);
		if (jgrow_buf(&j->buf, &j->bufsz, hdr + len) == NULL) {
			p->payload.len = paylen;
			cascade__packet__free_unpacked(p, NULL);
			return ENOMEM;
		}
		cascade__packet__pack(p, j->buf + hdr);
		p->payload.len = paylen;
		cascade__packet__free_unpacked(p, NULL);
		r->flags |= JREC_STUB;
	} else if (jgrow_buf(&j->buf, &j->bufsz, hdr) == NULL)
		return ENOMEM;
	jrec_header(r, j->buf);
	k.mv_size = JKEY_LEN;
	k.mv_data = (void *)pkey;
	v.mv_size = hdr + len;
	v.mv_data = j->buf;
	if ((rc = mdb_put(txn, j->packets, &k, &v, 0)) != 0)
		return rc;
	r->body = NULL;
	r->bodylen = 0;
	return was_sealed ? jkid_count(j, txn, r->kid, -1) : 0;
}

void
jqkey_pack(uint8_t *out, uint32_t qid, uint64_t seq)
{
	put32(out, qid);
	put64(out + 4, seq);
}

/* Queue entry (qid, seq) -> (packet key, stored length); flags for mdb_put. */
int
jqentry_put(struct journal *j, MDB_txn *txn, uint32_t qid, uint64_t seq, const uint8_t *pkey,
    size_t len, unsigned flags)
{
	uint8_t qk[JQKEY_LEN], qv[JQVAL_LEN];
	MDB_val k, v;

	jqkey_pack(qk, qid, seq);
	memcpy(qv, pkey, JKEY_LEN);
	put32(qv + JKEY_LEN, (uint32_t)len);
	k.mv_size = sizeof(qk);
	k.mv_data = qk;
	v.mv_size = sizeof(qv);
	v.mv_data = qv;
	return jput_append(txn, j->queues, &k, &v, flags);
}

/* Whether one of r's queue entries other than (skip_qid, skip_seq) remains. */
int
jrec_queued(struct journal *j, MDB_txn *txn, const struct jrec *r, uint32_t skip_qid,
    uint64_t skip_seq, int *queued)
{
	uint8_t qk[JQKEY_LEN];
	MDB_val k, v;
	unsigned i;
	int rc;

	*queued = 0;
	for (i = 0; i < r->nq; i++) {
		if (r->qid[i] == skip_qid && r->qseq[i] == skip_seq)
			continue;
		jqkey_pack(qk, r->qid[i], r->qseq[i]);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		rc = mdb_get(txn, j->queues, &k, &v);
		if (rc == 0) {
			*queued = 1;
			return 0;
		}
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

/* the deadline index: key = big-endian deadline, then the packet's key */
static void
expiry_key(uint8_t *xk, int64_t deadline, const uint8_t *pkey)
{
	put64(xk, (uint64_t)deadline);
	memcpy(xk + 8, pkey, JKEY_LEN);
}

int
jexpiry_put(struct journal *j, MDB_txn *txn, int64_t deadline, const uint8_t *pkey)
{
	uint8_t xk[JXKEY_LEN];
	MDB_val k = { sizeof(xk), xk }, v = { 0, "" };

	expiry_key(xk, deadline, pkey);
	return jput_append(txn, j->expiry, &k, &v, 0);
}

int
jexpiry_del(struct journal *j, MDB_txn *txn, int64_t deadline, const uint8_t *pkey)
{
	uint8_t xk[JXKEY_LEN];
	MDB_val k;
	int rc;

	if (deadline == 0)
		return 0;
	expiry_key(xk, deadline, pkey);
	k.mv_size = sizeof(xk);
	k.mv_data = xk;
	rc = mdb_del(txn, j->expiry, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---------------------------------------------------------- queue states */

static void
qstate_key(char *buf, size_t len, uint32_t qid)
{
	snprintf(buf, len, "qn:%08x", qid);
}

int
jqstate_parse(const MDB_val *v, uint32_t qid, struct jqueue_info *q)
{
	const uint8_t *p = v->mv_data;
	size_t n, hdr;

	if (v->mv_size < 1 || p[0] == 0 || p[0] > JQSTATE_VERSION)
		return JOURNAL_CORRUPT;
	hdr = p[0] == 1 ? JQSTATE_HDR_V1 : JQSTATE_HDR;
	if (v->mv_size < hdr)
		return JOURNAL_CORRUPT;
	memset(q, 0, sizeof(*q));
	q->qid = qid;
	q->kind = get32(p + 4);
	q->epoch = get64(p + 8);
	q->next_seq = get64(p + 16);
	q->acked_seq = get64(p + 24);
	q->depth = get64(p + 32);
	q->bytes = get64(p + 40);
	if (hdr >= JQSTATE_HDR) {
		q->lanes = get64(p + 48);
		q->lane_next = get64(p + 56);
	}
	n = v->mv_size - hdr;
	if (n >= sizeof(q->name))
		n = sizeof(q->name) - 1;
	memcpy(q->name, p + hdr, n);
	return 0;
}

int
jqstate_get(struct journal *j, MDB_txn *txn, uint32_t qid, struct jqueue_info *q)
{
	char key[16];
	MDB_val k, v;
	int rc;

	qstate_key(key, sizeof(key), qid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_get(txn, j->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		return JOURNAL_NOT_FOUND;
	if (rc)
		return rc;
	return jqstate_parse(&v, qid, q);
}

int
jqstate_put(struct journal *j, MDB_txn *txn, const struct jqueue_info *q)
{
	uint8_t buf[JQSTATE_HDR + sizeof(q->name)];
	size_t n = strnlen(q->name, sizeof(q->name) - 1);
	char key[16];
	MDB_val k, v;

	memset(buf, 0, JQSTATE_HDR);
	buf[0] = JQSTATE_VERSION;
	put32(buf + 4, q->kind);
	put64(buf + 8, q->epoch);
	put64(buf + 16, q->next_seq);
	put64(buf + 24, q->acked_seq);
	put64(buf + 32, q->depth);
	put64(buf + 40, q->bytes);
	put64(buf + 48, q->lanes);
	put64(buf + 56, q->lane_next);
	memcpy(buf + JQSTATE_HDR, q->name, n);
	qstate_key(key, sizeof(key), q->qid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	v.mv_size = JQSTATE_HDR + n;
	v.mv_data = buf;
	return mdb_put(txn, j->meta, &k, &v, 0);
}
