/*
 * journal_lane.c — priority between flows (FLAG_URGENT): when a packet is
 * numbered in a queue, the lanes it waits in until then, and taking an
 * entry out of its queues (expiry, cancel).
 *
 * A seq is what the receiver sees, and once numbered a packet is sent in
 * that order: priority can only act on packets not numbered yet. So a
 * queue numbers at most j->qwindow of its waiting packets (enough to keep
 * a link's pushes or a client's pulls busy) and lets the rest wait
 * unnumbered, in a lane (journal.h, JSEQ_LANE). Entries are numbered in
 * the transactions that make room (an ack, an expiry, a cancel, or a
 * commit that finds room), urgent lane first, each lane in arrival order:
 * no extra transaction or fsync, and nothing at all while no queue has a
 * backlog of more than the window.
 *
 * Order within a flow: an urgent packet whose (src, dst) flow has a packet
 * waiting in the routine lane goes to the routine lane behind it (it keeps
 * its flow's order rather than promoting the flow). The routine lane's
 * entries per (queue, flow) are counted in meta "qf:" keys, updated in the
 * same transactions. A flow is 8 bytes of SHA-256(src NUL dst): two flows
 * sharing one only make an urgent packet wait in the routine lane.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "log.h"

#define JFLOW_KEY_LEN   (3 + 4 + JFLOW_LEN)     /* "qf:" qid flow */

static void
flow_of(const Cascade__Packet *p, uint8_t *flow)
{
	uint8_t h[CSHA256_LEN];
	const char *src = nz(p->src), *dst = nz(p->dst);

	csha256_2(src, strlen(src) + 1, dst, strlen(dst), h);
	memcpy(flow, h, JFLOW_LEN);
}

/* Adds delta to the routine-lane count of (qid, flow); *count gets the new one. */
static int
flow_add(struct journal *j, MDB_txn *txn, uint32_t qid, const uint8_t *flow, int delta,
    uint64_t *count)
{
	uint8_t key[JFLOW_KEY_LEN], val[8];
	MDB_val k = { sizeof(key), key }, v;
	uint64_t n = 0;
	int rc;

	memcpy(key, "qf:", 3);
	put32(key + 3, qid);
	memcpy(key + 7, flow, JFLOW_LEN);
	rc = mdb_get(txn, j->meta, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		n = get64(v.mv_data);
	else if (rc == 0)
		return JOURNAL_CORRUPT;
	else if (rc != MDB_NOTFOUND)
		return rc;
	if (delta < 0 && n < (uint64_t)-delta)
		n = 0;
	else
		n += (uint64_t)(int64_t)delta;
	if (count != NULL)
		*count = n;
	if (delta == 0)
		return 0;
	if (n == 0) {
		rc = mdb_del(txn, j->meta, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	put64(val, n);
	v.mv_size = sizeof(val);
	v.mv_data = val;
	return mdb_put(txn, j->meta, &k, &v, 0);
}

/* Whether q may number one more packet now. */
static int
has_room(const struct journal *j, const struct jqueue_info *q)
{
	return q->depth - q->lanes < j->qwindow;
}

/*
 * Puts packet p (key pkey, stored length len) into queue q inside txn:
 * numbered at once when q has room and nothing waits in its lanes, else in
 * a lane. *seq gets its key's seq; q is updated (the caller puts it).
 */
int
jlane_enqueue(struct journal *j, MDB_txn *txn, struct jqueue_info *q, const uint8_t *pkey,
    size_t len, const Cascade__Packet *p, uint64_t *seq)
{
	uint8_t qk[JQKEY_LEN], qv[JQVAL_LANE_LEN], flow[JFLOW_LEN];
	int urgent = (p->flags & CASCADE__PACKET_FLAG__FLAG_URGENT) != 0;
	uint64_t waiting;
	MDB_val k, v;
	int rc;

	if (q->next_seq >= JSEQ_LANE || q->lane_next >= JSEQ_ROUTINE - JSEQ_LANE)
		return JOURNAL_RANGE;   /* 2^52 packets in one stream: see journal.h */
	if (q->lanes > 0 && has_room(j, q) && (rc = jlane_fill(j, txn, q)) != 0)
		return rc;
	if (q->lanes == 0 && has_room(j, q)) {
		*seq = q->next_seq++;
		if ((rc = jqentry_put(j, txn, q->qid, *seq, pkey, len, 0)) != 0)
			return rc;
	} else {
		flow_of(p, flow);
		if (urgent) {
			if ((rc = flow_add(j, txn, q->qid, flow, 0, &waiting)) != 0)
				return rc;
			urgent = waiting == 0;
		}
		*seq = (urgent ? JSEQ_LANE : JSEQ_ROUTINE) + q->lane_next++;
		if (!urgent && (rc = flow_add(j, txn, q->qid, flow, 1, NULL)) != 0)
			return rc;
		jqkey_pack(qk, q->qid, *seq);
		memcpy(qv, pkey, JKEY_LEN);
		put32(qv + JKEY_LEN, (uint32_t)len);
		memcpy(qv + JQVAL_LEN, flow, JFLOW_LEN);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		v.mv_size = sizeof(qv);
		v.mv_data = qv;
		if ((rc = mdb_put(txn, j->queues, &k, &v, 0)) != 0)
			return rc;
		q->lanes++;
	}
	q->depth++;
	q->bytes += len;
	return 0;
}

/* Packet pkey's record: its entry (qid, from) becomes (qid, to). */
static int
renumber(struct journal *j, MDB_txn *txn, const uint8_t *pkey, uint32_t qid, uint64_t from,
    uint64_t to)
{
	MDB_val k = { JKEY_LEN, (void *)pkey }, v;
	struct jrec r;
	size_t hdr;
	unsigned i;
	int rc;

	if ((rc = mdb_get(txn, j->packets, &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? JOURNAL_CORRUPT : rc;
	if ((rc = jrec_parse(&v, &r)) != 0)
		return rc;
	for (i = 0; i < r.nq; i++)
		if (r.qid[i] == qid && r.qseq[i] == from)
			break;
	if (i == r.nq)
		return JOURNAL_CORRUPT;
	r.qseq[i] = to;
	/* r.body points into the map: copied out before the put */
	hdr = JREC_HDR + (size_t)r.nq * JREC_QENT;
	if (jgrow_buf(&j->lbuf, &j->lbufsz, hdr + r.bodylen) == NULL)
		return ENOMEM;
	memcpy(j->lbuf + hdr, r.body, r.bodylen);
	jrec_header(&r, j->lbuf);
	v.mv_size = hdr + r.bodylen;
	v.mv_data = j->lbuf;
	return mdb_put(txn, j->packets, &k, &v, 0);
}

/*
 * Numbers q's lane entries, urgent lane first, while q has room; q is
 * updated (the caller puts it). The records get their new seqs.
 */
int
jlane_fill(struct journal *j, MDB_txn *txn, struct jqueue_info *q)
{
	uint8_t qk[JQKEY_LEN], pkey[JKEY_LEN], flow[JFLOW_LEN];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint64_t seq, to;
	uint32_t len;
	int rc = 0;

	if (q->lanes == 0 || !has_room(j, q))
		return 0;
	if ((rc = mdb_cursor_open(txn, j->queues, &c)) != 0)
		return rc;
	while (q->lanes > 0 && has_room(j, q)) {
		jqkey_pack(qk, q->qid, JSEQ_LANE);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0 ||
		    k.mv_size != JQKEY_LEN || get32(k.mv_data) != q->qid ||
		    v.mv_size < JQVAL_LANE_LEN) {
			/* the count says an entry waits: the queue disagrees */
			rc = rc != 0 && rc != MDB_NOTFOUND ? rc : JOURNAL_CORRUPT;
			break;
		}
		seq = get64((const uint8_t *)k.mv_data + 4);
		memcpy(pkey, v.mv_data, JKEY_LEN);
		len = get32((const uint8_t *)v.mv_data + JKEY_LEN);
		memcpy(flow, (const uint8_t *)v.mv_data + JQVAL_LEN, JFLOW_LEN);
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		if (seq >= JSEQ_ROUTINE && (rc = flow_add(j, txn, q->qid, flow, -1, NULL)) != 0)
			break;
		to = q->next_seq++;
		if ((rc = jqentry_put(j, txn, q->qid, to, pkey, len, MDB_NOOVERWRITE)) != 0 ||
		    (rc = renumber(j, txn, pkey, q->qid, seq, to)) != 0)
			break;
		q->lanes--;
	}
	mdb_cursor_close(c);
	return rc;
}

/*
 * Removes packet r (key pkey) from every queue it still waits in, fixing
 * each queue's depth and bytes (acked_seq stays: the stream keeps its
 * numbering) and, when the packet waited in a lane, its counts. The room
 * that makes is filled from the lanes. *removed gets how many entries went.
 */
int
jrec_unqueue(struct journal *j, MDB_txn *txn, const struct jrec *r, unsigned *removed)
{
	struct jqueue_info q;
	uint8_t qk[JQKEY_LEN], flow[JFLOW_LEN];
	MDB_val k, v;
	uint32_t len;
	unsigned i;
	int rc, routine;

	*removed = 0;
	for (i = 0; i < r->nq; i++) {
		jqkey_pack(qk, r->qid[i], r->qseq[i]);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		rc = mdb_get(txn, j->queues, &k, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		len = v.mv_size >= JQVAL_LEN ? get32((const uint8_t *)v.mv_data + JKEY_LEN) : 0;
		routine = r->qseq[i] >= JSEQ_ROUTINE && v.mv_size >= JQVAL_LANE_LEN;
		if (routine)
			memcpy(flow, (const uint8_t *)v.mv_data + JQVAL_LEN, JFLOW_LEN);
		if ((rc = mdb_del(txn, j->queues, &k, NULL)) != 0)
			return rc;
		if (routine && (rc = flow_add(j, txn, r->qid[i], flow, -1, NULL)) != 0)
			return rc;
		if ((rc = jqstate_get(j, txn, r->qid[i], &q)) != 0)
			return rc;
		q.depth = q.depth > 0 ? q.depth - 1 : 0;
		q.bytes = q.bytes >= len ? q.bytes - len : 0;
		if (r->qseq[i] >= JSEQ_LANE && q.lanes > 0)
			q.lanes--;
		if ((rc = jlane_fill(j, txn, &q)) != 0 || (rc = jqstate_put(j, txn, &q)) != 0)
			return rc;
		(*removed)++;
	}
	return 0;
}
