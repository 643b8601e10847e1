/*
 * journal_space.c — a full journal: dropping delivered bodies early to make
 * room (their events stay), between jobs and when an ack does not fit.
 */
#include "config.h"

#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"
#include "log.h"

#define JBODY_MIN       512     /* smaller bodies are not dropped early */
#define JBODY_CHUNK     64      /* bodies pruned per transaction */

/*
 * Drops the bodies of up to max packets that no queue holds, oldest id
 * first, from where the last call stopped. *end is set after the last record.
 */
int
jprune_bodies(struct journal *j, int64_t now_ms, unsigned max, unsigned *npruned, int *end)
{
	uint8_t keys[JBODY_CHUNK][JKEY_LEN];
	MDB_cursor *c = NULL;
	unsigned i, nk = 0, scanned = 0;
	struct jrec r;
	struct wtx w;
	MDB_val k, v;
	int rc, queued;

	*npruned = 0;
	*end = 1;
	if (max > JBODY_CHUNK)
		max = JBODY_CHUNK;
	if ((rc = jwtx_begin(j, &w)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(w.txn, j->packets, &c)) != 0)
		goto fail;
	k.mv_size = JKEY_LEN;
	k.mv_data = j->prune_next;
	rc = mdb_cursor_get(c, &k, &v, j->prune_has_next ? MDB_SET_RANGE : MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (nk == max || scanned == JSCAN_MAX) {
			memcpy(j->prune_next, k.mv_data, JKEY_LEN);
			*end = 0;
			break;
		}
		scanned++;
		if (k.mv_size != JKEY_LEN || jrec_parse(&v, &r) != 0)
			continue;
		/*
		 * A body smaller than what its drop logs (a BODY_PRUNED record of
		 * some 150 bytes and its index entries) frees nothing: dropping it
		 * would make a full journal fuller.
		 */
		if ((r.flags & JREC_PRUNED) || r.bodylen < JBODY_MIN)
			continue;
		if ((rc = jrec_queued(j, w.txn, &r, 0, 0, &queued)) != 0)
			goto fail;
		if (!queued)
			memcpy(keys[nk++], k.mv_data, JKEY_LEN);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(c);
	c = NULL;
	j->prune_has_next = !*end;

	for (i = 0; i < nk; i++) {
		if ((rc = jrec_get(j, w.txn, keys[i], &r)) != 0)
			goto fail;
		if ((rc = jev_about(&w, &r, keys[i], JEV_BODY_PRUNED, "", now_ms,
		    "journal full: body dropped early")) != 0)
			goto fail;
		if ((rc = jrec_drop_body(j, w.txn, &r, keys[i], NULL, 0)) != 0)
			goto fail;
	}
	if (nk == 0) {
		jwtx_abort(&w);
		return 0;
	}
	if ((rc = jwtx_commit(&w)) != 0)
		return rc;
	*npruned = nk;
	j->body_prunes += nk;
	return 0;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jwtx_abort(&w);
	return rc;
}

int
journal_maintain(struct journal *j, int64_t now_ms)
{
	unsigned chunk = JBODY_CHUNK, n, total = 0, wraps = 0;
	int rc = 0, end;

	jusage_check(j, 1);
	while (j->full) {
		rc = jprune_bodies(j, now_ms, chunk, &n, &end);
		if (rc == MDB_MAP_FULL && chunk > 1) {
			chunk /= 2;
			continue;
		}
		if (rc)
			break;
		total += n;
		jusage_check(j, 1);
		/* Past the end once: start over from the oldest, then stop. */
		if (end && n == 0 && wraps++ > 0)
			break;
	}
	if (total > 0)
		log_warnx("journal %s: dropped %u delivered bodies early (disk full); "
		    "their events stay", j->dir, total);
	if (rc)
		return jfail(j, rc, "maintain");
	return 0;
}

int
journal_is_full(const struct journal *j)
{
	return j->full;
}
