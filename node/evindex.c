/*
 * evindex.c — the event log's indexes: database "evidx", MDB_DUPSORT |
 * MDB_DUPFIXED, written in the transaction that appends the event.
 *
 *   key  u8 field, value        data  u64 seq (big-endian, 8 bytes)
 *
 *   'T' u64 minute (time_ms / 60000)       every event
 *   'S' src address ("node" or "node/client")
 *   'D' dst address
 *   'C' the packet's command
 *   'I' 8 bytes of the packet id (its 48-bit ms, then its last 2 bytes);
 *       also of the id it refers to (ref)
 *
 * Why this shape: a value's events are one sorted list of 8-byte seqs. Seqs
 * only grow, so every put is an MDB_APPENDDUP at the end of its list, and
 * LMDB keeps lists of many items in LEAF2 pages without per-item headers:
 * about 8 bytes per entry once a value has a few dozen events (src, dst,
 * command, minute), more for a packet id's few (its key and a sub-page
 * header are shared by 2-4 events): some 70-90 bytes per event in all
 * (tests/unit/audit_index_test, make bench-audit). A query seeks one list, bounded by the
 * seqs the time window's minutes hold: the 'T' entries cover whole minutes
 * and the clock may step back, so the bounds are a superset and the caller
 * filters exactly (audit_query.c re-applies every filter).
 *
 * A packet id has few events, so its key is paid for by them alone: 8 bytes
 * of it instead of 16 keep it small, and two ids that share them (the same
 * millisecond and low 16 bits) only add a candidate the caller drops.
 *
 * "node" also means its clients: their keys sort together as "node/...", a
 * prefix range. Events are append-only (retention prunes packet bodies, never
 * events), so no entry is ever deleted; whoever prunes events one day must
 * delete their entries in the same transaction.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"

#define JIX_MAXVAL  400         /* longer values are cut (LMDB keys: 511 bytes) */
#define JIX_KEYMAX  (1 + JIX_MAXVAL)

static uint64_t
minute_of(int64_t ms)
{
	return ms > 0 ? (uint64_t)ms / 60000 : 0;
}

static size_t
key_make(uint8_t *out, int field, const void *val, size_t n)
{
	if (n > JIX_MAXVAL)
		n = JIX_MAXVAL;
	out[0] = (uint8_t)field;
	memcpy(out + 1, val, n);
	return 1 + n;
}

/* The 'I' key of a packet id: its time (sorting with it) and its last 2 bytes. */
static size_t
key_id(uint8_t *out, const uint8_t id[CID_LEN])
{
	out[0] = JIX_ID;
	memcpy(out + 1, id, 6);
	memcpy(out + 7, id + CID_LEN - 2, 2);
	return 9;
}

static size_t
key_time(uint8_t *out, int64_t ms)
{
	out[0] = 'T';
	put64(out + 1, minute_of(ms));
	return 9;
}

int
jix_open(struct journal *j, MDB_txn *txn, const struct journal_opts *o, char *err,
    size_t errlen)
{
	unsigned flags = MDB_DUPSORT | MDB_DUPFIXED;
	MDB_val k, v;
	uint8_t key[8];
	int rc;

	j->has_evidx = j->ix_on = j->ix_ok = 0;
	if (!o->readonly && !o->no_index)
		flags |= MDB_CREATE;
	rc = mdb_dbi_open(txn, "evidx", flags, &j->evidx);
	if (rc == MDB_NOTFOUND)
		return 0;       /* a journal from before the indexes, or kept without */
	if (rc) {
		snprintf(err, errlen, "journal %s: database evidx: %s", j->dir, mdb_strerror(rc));
		return rc;
	}
	j->has_evidx = 1;
	if (j->ev_seq == 0) {
		j->ix_ok = 1;
		return 0;
	}
	/* complete when the last event is in: entries are only ever missing at the end */
	put64(key, j->ev_seq);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	if ((rc = mdb_get(txn, j->events, &k, &v)) != 0 || v.mv_size < CSHA256_LEN + 24) {
		snprintf(err, errlen, "journal %s: last event %llu: %s", j->dir,
		    (unsigned long long)j->ev_seq, rc ? mdb_strerror(rc) : "too short");
		return rc ? rc : JOURNAL_CORRUPT;
	}
	rc = jix_has(j, txn, j->ev_seq,
	    (int64_t)get64((const uint8_t *)v.mv_data + CSHA256_LEN + 16));
	if (rc < 0)
		return rc;
	j->ix_ok = rc;
	return 0;
}

/* 1 when event seq (at time ms) is indexed, 0 when not, or an LMDB error (< 0). */
int
jix_has(struct journal *j, MDB_txn *txn, uint64_t seq, int64_t ms)
{
	uint8_t key[9], d[8];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (!j->has_evidx)
		return 0;
	if ((rc = mdb_cursor_open(txn, j->evidx, &c)) != 0)
		return rc;
	k.mv_size = key_time(key, ms);
	k.mv_data = key;
	put64(d, seq);
	v.mv_size = sizeof(d);
	v.mv_data = d;
	rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : rc;
}

static int
put1(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, uint8_t *d)
{
	MDB_val k, v;

	k.mv_size = klen;
	k.mv_data = (void *)key;
	v.mv_size = 8;
	v.mv_data = d;
	/* seqs only grow: always the end of the value's list */
	return mdb_put(txn, dbi, &k, &v, MDB_APPENDDUP);
}

/* Puts ev's entries (ev->seq set) in txn. */
int
jix_put(struct journal *j, MDB_txn *txn, const struct jevent *ev)
{
	static const uint8_t zero[CID_LEN];
	uint8_t key[JIX_KEYMAX], d[8];
	int rc;

	put64(d, ev->seq);
	if ((rc = put1(txn, j->evidx, key, key_time(key, ev->time_ms), d)) != 0)
		return rc;
	if (ev->src != NULL && *ev->src != '\0' &&
	    (rc = put1(txn, j->evidx, key, key_make(key, JIX_SRC, ev->src, strlen(ev->src)),
	    d)) != 0)
		return rc;
	if (ev->dst != NULL && *ev->dst != '\0' &&
	    (rc = put1(txn, j->evidx, key, key_make(key, JIX_DST, ev->dst, strlen(ev->dst)),
	    d)) != 0)
		return rc;
	if (ev->command != NULL && *ev->command != '\0' &&
	    (rc = put1(txn, j->evidx, key, key_make(key, JIX_COMMAND, ev->command,
	    strlen(ev->command)), d)) != 0)
		return rc;
	if (memcmp(ev->id, zero, CID_LEN) != 0 &&
	    (rc = put1(txn, j->evidx, key, key_id(key, ev->id), d)) != 0)
		return rc;
	if (ev->ref != NULL && memcmp(ev->ref, zero, CID_LEN) != 0 &&
	    memcmp(ev->ref, ev->id, CID_LEN) != 0 &&
	    (rc = put1(txn, j->evidx, key, key_id(key, ev->ref), d)) != 0)
		return rc;
	return 0;
}

/* ------------------------------------------------------------ queries */

struct seqs {
	uint64_t *v;
	size_t n, cap;
};

static int
seqs_add(struct seqs *s, uint64_t seq)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = seq;
	return 0;
}

static int
cmp_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Adds the current key's seqs within [lo, hi] (c is on the key). DUPFIXED
 * lists come a page at a time (MDB_GET_MULTIPLE), the cheap way to read many.
 */
static int
add_dups(MDB_cursor *c, uint64_t lo, uint64_t hi, struct seqs *s)
{
	uint8_t d[8];
	MDB_val k, v;
	size_t i;
	int rc;

	if ((rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT)) != 0)
		return rc;
	put64(d, lo);
	v.mv_size = sizeof(d);
	v.mv_data = d;
	if ((rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	/*
	 * MDB_GET_MULTIPLE gives the whole page the cursor is on (items before
	 * lo too), and leaves v alone for a key with a single item: v then
	 * still holds the item MDB_GET_BOTH_RANGE found.
	 */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_GET_MULTIPLE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_MULTIPLE)) {
		for (i = 0; i + 8 <= v.mv_size; i += 8) {
			uint64_t seq = get64((const uint8_t *)v.mv_data + i);

			if (seq < lo)
				continue;
			if (seq > hi)
				return 0;
			if ((rc = seqs_add(s, seq)) != 0)
				return rc;
		}
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * The seqs of the events w may match, sorted, without repeats (*out to
 * free), or JOURNAL_NO_INDEX when w narrows nothing or there are no
 * complete indexes.
 */
int
jix_collect(struct journal *j, MDB_txn *txn, const struct jev_where *w, uint64_t **out,
    size_t *nout)
{
	uint8_t key[JIX_KEYMAX + 1];
	struct seqs s = { NULL, 0, 0 };
	uint64_t lo = 0, hi = UINT64_MAX, last_min = UINT64_MAX, m;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	size_t i, n, plen;
	int rc = 0, timed = w->since_ms != 0 || w->until_ms != 0, any = 0;

	*out = NULL;
	*nout = 0;
	if (!j->ix_ok || (w->field == JIX_NONE && !timed))
		return JOURNAL_NO_INDEX;
	if ((rc = mdb_cursor_open(txn, j->evidx, &c)) != 0)
		return rc;
	if (timed) {
		if (w->until_ms != 0)
			last_min = minute_of(w->until_ms - 1);
		k.mv_size = key_time(key, w->since_ms);
		k.mv_data = key;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
		    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP)) {
			if (k.mv_size != 9 || ((const uint8_t *)k.mv_data)[0] != 'T' ||
			    (m = get64((const uint8_t *)k.mv_data + 1)) > last_min)
				break;
			if (w->field == JIX_NONE) {
				if ((rc = add_dups(c, 0, UINT64_MAX, &s)) != 0)
					goto fail;
				continue;
			}
			/* the window's events lie between its minutes' first and last seqs */
			if ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST_DUP)) != 0)
				goto fail;
			m = get64(v.mv_data);
			if (!any || m < lo)
				lo = m;
			if ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST_DUP)) != 0)
				goto fail;
			m = get64(v.mv_data);
			if (!any || m > hi)
				hi = m;
			any = 1;
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto fail;
		rc = 0;
		if (w->field != JIX_NONE && !any)
			goto done;      /* nothing in the window */
	}
	if (w->field != JIX_NONE) {
		if (w->field == JIX_ID && w->vlen == CID_LEN)
			k.mv_size = key_id(key, w->val);
		else
			k.mv_size = key_make(key, w->field, w->val, w->vlen);
		k.mv_data = key;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
		if (rc == 0)
			rc = add_dups(c, lo, hi, &s);
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto fail;
		rc = 0;
		if (w->with_clients && w->vlen < JIX_MAXVAL) {
			/* "node/...": the keys of the node's clients sort together */
			plen = key_make(key, w->field, w->val, w->vlen);
			key[plen++] = '/';
			k.mv_size = plen;
			k.mv_data = key;
			for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
			    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP)) {
				if (k.mv_size < plen || memcmp(k.mv_data, key, plen) != 0)
					break;
				if ((rc = add_dups(c, lo, hi, &s)) != 0)
					goto fail;
			}
			if (rc != 0 && rc != MDB_NOTFOUND)
				goto fail;
			rc = 0;
		}
	}
done:
	if (s.n > 0)	/* qsort(NULL, 0, ...) is undefined (UBSan) */
		qsort(s.v, s.n, sizeof(*s.v), cmp_seq);
	for (i = n = 0; i < s.n; i++)
		if (n == 0 || s.v[i] != s.v[n - 1])
			s.v[n++] = s.v[i];
	mdb_cursor_close(c);
	*out = s.v;
	*nout = n;
	return 0;
fail:
	mdb_cursor_close(c);
	free(s.v);
	return rc;
}
