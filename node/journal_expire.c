/*
 * journal_expire.c — packets past their deadline leave their queues (the
 * sweep hands them back for the expiry notices), and retention deletes old
 * records no queue holds.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "log.h"

#define JSWEEP_CHUNK    128

/* --------------------------------------------------------------- expiry */

static int
sweep_try(struct journal *j, int64_t now_ms, unsigned max, struct jexpired *out,
    unsigned *n, int *more)
{
	MDB_cursor *c = NULL;
	uint8_t xk[JXKEY_LEN], pkey[JKEY_LEN];
	unsigned removed;
	struct jrec r;
	uint8_t skipk[JXKEY_LEN];
	struct wtx w;
	MDB_val k, v;
	int rc, queued, skipped = 0;

	*n = 0;
	*more = 0;
	/*
	 * A packet sent on a link and not acked yet may already be stored at the
	 * peer: expiring it here too would give it two outcomes (delivered and
	 * expired). It keeps its deadline until the ack removes it or the resumed
	 * session says the peer never got it (journal_sent_set). sentmu is held
	 * to the commit so no link reads a packet this sweep is removing.
	 */
	pthread_mutex_lock(&j->sentmu);
	if ((rc = jwtx_begin(j, &w)) != 0) {
		pthread_mutex_unlock(&j->sentmu);
		return rc;
	}
	if ((rc = mdb_cursor_open(w.txn, j->expiry, &c)) != 0)
		goto fail;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = skipped ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) :
	    mdb_cursor_get(c, &k, &v, MDB_FIRST)) {
		if (skipped && k.mv_size == JXKEY_LEN && memcmp(k.mv_data, skipk, JXKEY_LEN) == 0 &&
		    (rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) != 0)
			break;
		if (k.mv_size != JXKEY_LEN) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		if ((int64_t)get64(k.mv_data) > now_ms)
			break;
		if (*n == max) {
			*more = 1;
			break;
		}
		memcpy(xk, k.mv_data, JXKEY_LEN);
		memcpy(pkey, xk + 8, JKEY_LEN);
		rc = jrec_get(j, w.txn, pkey, &r);
		if (rc == 0 && jrec_in_flight(j, &r)) {
			/* left indexed; the next lookup starts after it */
			memcpy(skipk, xk, JXKEY_LEN);
			k.mv_size = JXKEY_LEN;
			k.mv_data = skipk;
			skipped = 1;
			continue;
		}
		if (rc != 0 && rc != JOURNAL_NOT_FOUND)
			goto fail;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			goto fail;
		if (skipped) {
			k.mv_size = JXKEY_LEN;
			k.mv_data = skipk;
		}
		if (jrec_get(j, w.txn, pkey, &r) != 0)
			continue;       /* JOURNAL_NOT_FOUND above */
		if ((rc = jrec_queued(j, w.txn, &r, 0, 0, &queued)) != 0)
			goto fail;
		if (!queued)
			continue;       /* left every queue already */
		out[*n].key.leg = pkey[CID_LEN];
		memcpy(out[*n].key.id, pkey, CID_LEN);
		if ((rc = jrec_body_dup(j, &r, pkey, &out[*n].bytes, &out[*n].len)) != 0)
			goto fail;
		(*n)++;
		if ((rc = jev_about(&w, &r, pkey, JEV_EXPIRED, "", now_ms, "")) != 0)
			goto fail;
		if ((rc = jrec_unqueue(j, w.txn, &r, &removed)) != 0)
			goto fail;
		/* The notice has its copy (out); the journal keeps no body. */
		if ((rc = jrec_drop_body(j, w.txn, &r, pkey, out[*n - 1].bytes,
		    out[*n - 1].len)) != 0)
			goto fail;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(c);
	rc = jwtx_commit(&w);
	pthread_mutex_unlock(&j->sentmu);
	if (rc == 0)
		return 0;
	goto freeout;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jwtx_abort(&w);
	pthread_mutex_unlock(&j->sentmu);
freeout:
	while (*n > 0) {
		(*n)--;
		free(out[*n].bytes);
		out[*n].bytes = NULL;
	}
	return rc;
}

int
journal_sweep_expired(struct journal *j, int64_t now_ms, unsigned max, struct jexpired *out,
    unsigned *n)
{
	unsigned chunk = JSWEEP_CHUNK, got;
	int rc = 0, more;

	*n = 0;
	while (*n < max) {
		if (chunk > max - *n)
			chunk = max - *n;
		rc = sweep_try(j, now_ms, chunk, out + *n, &got, &more);
		if (rc == MDB_MAP_FULL && chunk > 1) {
			chunk /= 2;
			continue;
		}
		if (rc)
			break;
		*n += got;
		if (!more)
			break;
	}
	if (rc)
		return jfail(j, rc, "expiry sweep");
	return 0;
}

int64_t
journal_next_deadline(struct journal *j)
{
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	int64_t d = 0;

	if (jrd_begin(j, &txn) != 0)
		return 0;
	if (mdb_cursor_open(txn, j->expiry, &c) == 0) {
		if (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 && k.mv_size >= 8)
			d = (int64_t)get64(k.mv_data);
		mdb_cursor_close(c);
	}
	jrd_end(j, txn);
	return d;
}

/* ------------------------------------------------------------ retention */

/*
 * One pass of at most max deletions (and JSCAN_MAX looks) from key from
 * (NULL: the start). *next gets where to go on; *end is set at the end.
 */
static int
prune_try(struct journal *j, int64_t cutoff_ms, unsigned max, const uint8_t *from,
    uint8_t *next, int *end, unsigned *npruned)
{
	MDB_cursor *c = NULL;
	uint8_t pkey[JKEY_LEN];
	unsigned scanned = 0;
	struct jrec r;
	struct wtx w;
	MDB_val k, v;
	int rc, queued;

	*npruned = 0;
	*end = 1;
	if ((rc = jwtx_begin(j, &w)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(w.txn, j->packets, &c)) != 0)
		goto fail;
	k.mv_size = JKEY_LEN;
	k.mv_data = (void *)from;
	rc = mdb_cursor_get(c, &k, &v, from != NULL ? MDB_SET_RANGE : MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (*npruned == max || scanned == JSCAN_MAX) {
			memcpy(next, k.mv_data, JKEY_LEN);
			*end = 0;
			break;
		}
		scanned++;
		if (k.mv_size != JKEY_LEN || (rc = jrec_parse(&v, &r)) != 0) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		if (r.accepted_ms >= cutoff_ms)
			continue;
		if ((rc = jrec_queued(j, w.txn, &r, 0, 0, &queued)) != 0)
			goto fail;
		if (queued)
			continue;
		memcpy(pkey, k.mv_data, JKEY_LEN);
		if ((r.flags & JREC_SEALED) && (rc = jkid_count(j, w.txn, r.kid, -1)) != 0)
			goto fail;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			goto fail;
		if ((rc = jexpiry_del(j, w.txn, r.deadline_ms, pkey)) != 0)
			goto fail;
		(*npruned)++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(c);
	if (*npruned == 0) {
		jwtx_abort(&w);
		return 0;
	}
	return jwtx_commit(&w);
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jwtx_abort(&w);
	*npruned = 0;
	return rc;
}

int
journal_prune(struct journal *j, int64_t cutoff_ms, unsigned max_per_txn, uint64_t *npruned)
{
	uint8_t from[JKEY_LEN], next[JKEY_LEN];
	unsigned n, max = max_per_txn ? max_per_txn : 256;
	int rc, end, started = 0;

	if (npruned != NULL)
		*npruned = 0;
	for (;;) {
		rc = prune_try(j, cutoff_ms, max, started ? from : NULL, next, &end, &n);
		if (rc == MDB_MAP_FULL && max > 1) {
			max /= 2;
			continue;
		}
		if (rc)
			return jfail(j, rc, "prune");
		if (npruned != NULL)
			*npruned += n;
		if (end)
			break;
		memcpy(from, next, JKEY_LEN);
		started = 1;
	}
	return 0;
}
