/*
 * store_lmdb.c — the state directory: one LMDB environment (MDB_NOTLS, so
 * any thread may read; durable commits) with four databases, their record
 * formats in sdk_int.h:
 *
 *   meta    the up stream's epoch, the next sequence to assign, the last
 *           one the node acked, and the format version
 *   outbox  packets not yet acked by the node, by sequence: a sequence is
 *           assigned in the transaction that stores the packet, so a
 *           restart never renumbers
 *   seen    ids of packets handed to the application: HANDING before the
 *           callback, DELIVERED after it (duplicates, redelivery flag)
 *   sent    destinations of packets sent, for cancel
 *
 * seen and sent are keyed by packet id, whose first six bytes are the
 * milliseconds of its birth, so pruning old ids walks from the start.
 *
 * A lock file (flock) keeps a second handle, in this process or another,
 * out of the directory: two outboxes on one stream would break custody.
 * The holder writes its pid into it, so the one refused can say who has it.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "sdk_int.h"

#define PRUNE_BATCH 1000

struct lstore {
	MDB_env *env;
	MDB_dbi meta, outbox, seen, sent;
	int lockfd;
};

/* ------------------------------------------------------------- records */

void
srec_u64_put(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
srec_u64_get(const uint8_t in[8])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

size_t
srec_outbox_encode(uint8_t *out, int64_t enq_ms, const uint8_t *pkt, size_t len)
{
	out[0] = SREC_VERSION;
	srec_u64_put(out + 1, (uint64_t)enq_ms);
	if (len > 0)
		memcpy(out + SREC_OUTBOX_HDR, pkt, len);
	return SREC_OUTBOX_HDR + len;
}

int
srec_outbox_decode(const uint8_t *rec, size_t reclen, int64_t *enq_ms, const uint8_t **pkt,
    size_t *len)
{
	if (reclen < SREC_OUTBOX_HDR || rec[0] == 0 || rec[0] > SREC_VERSION)
		return CASCADE_ESTATE;
	*enq_ms = (int64_t)srec_u64_get(rec + 1);
	*pkt = rec + SREC_OUTBOX_HDR;
	*len = reclen - SREC_OUTBOX_HDR;
	return CASCADE_OK;
}

void
srec_seen_encode(uint8_t out[SREC_SEEN_LEN], int state, int64_t ms)
{
	out[0] = SREC_VERSION;
	out[1] = (uint8_t)state;
	srec_u64_put(out + 2, (uint64_t)ms);
}

int
srec_seen_decode(const uint8_t *rec, size_t reclen, int *state, int64_t *ms)
{
	if (reclen < SREC_SEEN_LEN || rec[0] == 0 || rec[0] > SREC_VERSION ||
	    (rec[1] != SEEN_HANDING && rec[1] != SEEN_DELIVERED))
		return CASCADE_ESTATE;
	*state = rec[1];
	*ms = (int64_t)srec_u64_get(rec + 2);
	return CASCADE_OK;
}

size_t
srec_sent_encode(uint8_t *out, const char *dst)
{
	size_t n = strlen(dst);

	out[0] = SREC_VERSION;
	memcpy(out + 1, dst, n);
	return n + 1;
}

int
srec_sent_decode(const uint8_t *rec, size_t reclen, char *dst, size_t dstlen)
{
	if (reclen < 2 || rec[0] == 0 || rec[0] > SREC_VERSION || reclen - 1 >= dstlen ||
	    memchr(rec + 1, '\0', reclen - 1) != NULL)
		return CASCADE_ESTATE;
	memcpy(dst, rec + 1, reclen - 1);
	dst[reclen - 1] = '\0';
	return CASCADE_OK;
}

/* ------------------------------------------------------------- helpers */

static int
lmdb_err(int rc)
{
	if (rc == 0)
		return CASCADE_OK;
	if (rc == MDB_MAP_FULL)
		return CASCADE_EQUEUE_FULL;
	if (rc == ENOMEM)
		return CASCADE_ENOMEM;
	return CASCADE_ESTATE;
}

static int
meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *v, int *found)
{
	MDB_val k = { strlen(key), (void *)key }, d;
	int rc;

	*found = 0;
	if ((rc = mdb_get(txn, dbi, &k, &d)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (d.mv_size == 8)
		*v = srec_u64_get(d.mv_data);
	else if (d.mv_size == 4)
		*v = (uint64_t)((const uint8_t *)d.mv_data)[0] << 24 |
		    (uint64_t)((const uint8_t *)d.mv_data)[1] << 16 |
		    (uint64_t)((const uint8_t *)d.mv_data)[2] << 8 |
		    ((const uint8_t *)d.mv_data)[3];
	else
		return MDB_CORRUPTED;
	*found = 1;
	return 0;
}

static int
meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v)
{
	MDB_val k = { strlen(key), (void *)key }, d;
	uint8_t b[8];

	srec_u64_put(b, v);
	d.mv_size = 8;
	d.mv_data = b;
	return mdb_put(txn, dbi, &k, &d, 0);
}

/* -------------------------------------------------------------- backend */

static void lmdb_close(struct store *s);

static int
lmdb_open(struct store *s, const char *dir, uint64_t mapsize, char *err, size_t errlen)
{
	struct lstore *l;
	MDB_txn *txn = NULL;
	char path[SDK_PATH_MAX + 16];
	uint64_t format = 0, epoch = 0, next = 1, acked = 0;
	int rc, found;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CASCADE_ENOMEM;
	}
	l->lockfd = -1;
	s->impl = l;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/lock", dir);
	if ((l->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "state directory %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(l->lockfd, LOCK_EX | LOCK_NB) == -1) {
		char pid[24];
		ssize_t n = errno == EWOULDBLOCK ? pread(l->lockfd, pid, sizeof(pid) - 1, 0) : -1;
		long holder = 0;

		if (n > 0) {
			pid[n] = '\0';
			holder = strtol(pid, NULL, 10);
		}
		if (holder == (long)getpid())
			snprintf(err, errlen, "state directory %s is in use by another handle in this "
			    "process (%ld)", dir, holder);
		else if (holder > 0)
			snprintf(err, errlen, "state directory %s is in use by process %ld", dir, holder);
		else
			snprintf(err, errlen, "state directory %s is in use by another process (%s)", dir,
			    errno == EWOULDBLOCK ? "its pid unknown" : strerror(errno));
		lmdb_close(s);
		return CASCADE_EBUSY;
	}
	/* who holds it, for the next one refused (the lock, not this, is what counts) */
	if (ftruncate(l->lockfd, 0) == 0) {
		char pid[24];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

		if (pwrite(l->lockfd, pid, (size_t)n, 0) != n)
			(void)0;        /* only a hint */
	}
	if ((rc = mdb_env_create(&l->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(l->env, 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(l->env, (size_t)mapsize)) != 0 ||
	    (rc = mdb_env_open(l->env, dir, MDB_NOTLS, 0600)) != 0) {
		snprintf(err, errlen, "state directory %s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &l->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &l->outbox)) != 0 ||
	    (rc = mdb_dbi_open(txn, "seen", MDB_CREATE, &l->seen)) != 0 ||
	    (rc = mdb_dbi_open(txn, "sent", MDB_CREATE, &l->sent)) != 0 ||
	    (rc = meta_get(txn, l->meta, "format", &format, &found)) != 0)
		goto lmdb_fail;
	if (!found) {
		/* a new state: a new up stream */
		format = SREC_VERSION;
		if ((epoch = crandom64()) == 0) {
			snprintf(err, errlen, "no randomness for the stream epoch");
			goto fail;
		}
		if ((rc = meta_put(txn, l->meta, "epoch", epoch)) != 0 ||
		    (rc = meta_put(txn, l->meta, "next", next)) != 0 ||
		    (rc = meta_put(txn, l->meta, "acked", acked)) != 0 ||
		    (rc = meta_put(txn, l->meta, "format", format)) != 0)
			goto lmdb_fail;
	} else {
		if (format > SREC_VERSION) {
			snprintf(err, errlen, "state directory %s was written by a newer libcascade "
			    "(format %llu, this one reads %d)", dir, (unsigned long long)format,
			    SREC_VERSION);
			goto fail;
		}
		if ((rc = meta_get(txn, l->meta, "epoch", &epoch, &found)) != 0 || !found ||
		    (rc = meta_get(txn, l->meta, "next", &next, &found)) != 0 || !found ||
		    (rc = meta_get(txn, l->meta, "acked", &acked, &found)) != 0 || !found) {
			snprintf(err, errlen, "state directory %s: meta records missing or damaged",
			    dir);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		goto lmdb_fail;
	}
	txn = NULL;
	if (epoch == 0 || next == 0 || acked >= next) {
		snprintf(err, errlen, "state directory %s: inconsistent stream position "
		    "(epoch %016llx, next %llu, acked %llu)", dir, (unsigned long long)epoch,
		    (unsigned long long)next, (unsigned long long)acked);
		goto fail;
	}
	s->epoch = epoch;
	s->last_seq = next - 1;
	s->acked = acked;
	return CASCADE_OK;
lmdb_fail:
	snprintf(err, errlen, "state directory %s: %s", dir, mdb_strerror(rc));
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	lmdb_close(s);
	return CASCADE_ESTATE;
}

static void
lmdb_close(struct store *s)
{
	struct lstore *l = s->impl;

	if (l == NULL)
		return;
	if (l->env != NULL)
		mdb_env_close(l->env);
	if (l->lockfd != -1)
		close(l->lockfd);       /* releases the flock */
	free(l);
	s->impl = NULL;
}

static int
lmdb_put(struct store *s, const uint8_t id[CID_LEN], const char *dst, const uint8_t *pkt,
    size_t len, int64_t now_ms, uint64_t *seq)
{
	struct lstore *l = s->impl;
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t key[8], *rec, *srec;
	uint64_t next;
	int rc, found;

	if ((rec = malloc(SREC_OUTBOX_HDR + len)) == NULL)
		return CASCADE_ENOMEM;
	if ((srec = malloc(strlen(dst) + 1)) == NULL) {
		free(rec);
		return CASCADE_ENOMEM;
	}
	/* the write transaction serialises senders: numbering is theirs alone */
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0)
		goto out;
	if ((rc = meta_get(txn, l->meta, "next", &next, &found)) != 0 || !found) {
		rc = rc ? rc : MDB_CORRUPTED;
		goto abort;
	}
	srec_u64_put(key, next);
	k.mv_size = 8;
	k.mv_data = key;
	d.mv_size = srec_outbox_encode(rec, now_ms, pkt, len);
	d.mv_data = rec;
	if ((rc = mdb_put(txn, l->outbox, &k, &d, MDB_APPEND)) != 0)
		goto abort;
	k.mv_size = CID_LEN;
	k.mv_data = (void *)id;
	d.mv_size = srec_sent_encode(srec, dst);
	d.mv_data = srec;
	if ((rc = mdb_put(txn, l->sent, &k, &d, 0)) != 0 ||
	    (rc = meta_put(txn, l->meta, "next", next + 1)) != 0)
		goto abort;
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto out;
	pthread_mutex_lock(&s->mu);
	s->last_seq = next;
	pthread_mutex_unlock(&s->mu);
	*seq = next;
	goto out;
abort:
	mdb_txn_abort(txn);
out:
	free(rec);
	free(srec);
	return lmdb_err(rc);
}

static int
lmdb_peek(struct store *s, uint64_t from, unsigned max, size_t maxbytes, struct sentry *out,
    unsigned *n)
{
	struct lstore *l = s->impl;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	uint8_t key[8];
	const uint8_t *pkt;
	size_t bytes = 0, len;
	int64_t enq;
	int rc;

	if ((rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_err(rc);
	if ((rc = mdb_cursor_open(txn, l->outbox, &cur)) != 0)
		goto out;
	srec_u64_put(key, from);
	k.mv_size = 8;
	k.mv_data = key;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && *n < max;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 8 || srec_outbox_decode(d.mv_data, d.mv_size, &enq, &pkt, &len)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (*n > 0 && bytes + len > maxbytes)
			break;
		out[*n].seq = srec_u64_get(k.mv_data);
		out[*n].enq_ms = enq;
		out[*n].len = len;
		if ((out[*n].buf = malloc(len ? len : 1)) == NULL) {
			rc = ENOMEM;
			break;
		}
		memcpy(out[*n].buf, pkt, len);
		bytes += len;
		(*n)++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
out:
	mdb_txn_abort(txn);
	if (rc != 0) {
		store_entries_free(out, *n);
		*n = 0;
	}
	return lmdb_err(rc);
}

static int
lmdb_ack(struct store *s, uint64_t upto)
{
	struct lstore *l = s->impl;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	uint64_t last;
	int rc;

	pthread_mutex_lock(&s->mu);
	last = s->last_seq;
	if (upto > last)
		upto = last;
	if (upto <= s->acked) {
		pthread_mutex_unlock(&s->mu);
		return CASCADE_OK;
	}
	pthread_mutex_unlock(&s->mu);
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0)
		return lmdb_err(rc);
	if ((rc = mdb_cursor_open(txn, l->outbox, &cur)) != 0)
		goto abort;
	while ((rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST)) == 0 && k.mv_size == 8 &&
	    srec_u64_get(k.mv_data) <= upto)
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto abort;
	if ((rc = meta_put(txn, l->meta, "acked", upto)) != 0)
		goto abort;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return lmdb_err(rc);
	pthread_mutex_lock(&s->mu);
	if (upto > s->acked)
		s->acked = upto;
	pthread_mutex_unlock(&s->mu);
	return CASCADE_OK;
abort:
	mdb_txn_abort(txn);
	return lmdb_err(rc);
}

static int
lmdb_skip(struct store *s, uint64_t next)
{
	struct lstore *l = s->impl;
	MDB_txn *txn;
	uint64_t cur;
	int rc, found;

	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0)
		return lmdb_err(rc);
	if ((rc = meta_get(txn, l->meta, "next", &cur, &found)) != 0 || !found) {
		mdb_txn_abort(txn);
		return lmdb_err(rc ? rc : MDB_CORRUPTED);
	}
	if (next <= cur) {
		mdb_txn_abort(txn);
		return CASCADE_OK;
	}
	if ((rc = meta_put(txn, l->meta, "next", next)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_err(rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return lmdb_err(rc);
	pthread_mutex_lock(&s->mu);
	s->last_seq = next - 1;
	pthread_mutex_unlock(&s->mu);
	return CASCADE_OK;
}

static int
lmdb_seen_get(struct store *s, const uint8_t id[CID_LEN], int *state)
{
	struct lstore *l = s->impl;
	MDB_txn *txn;
	MDB_val k = { CID_LEN, (void *)id }, d;
	int64_t ms;
	int rc;

	if ((rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_err(rc);
	rc = mdb_get(txn, l->seen, &k, &d);
	if (rc == 0 && srec_seen_decode(d.mv_data, d.mv_size, state, &ms) != 0)
		rc = MDB_CORRUPTED;
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? CASCADE_OK : lmdb_err(rc);
}

static int
lmdb_seen_put(struct store *s, const uint8_t *delivered, const uint8_t *handing, int64_t now_ms)
{
	struct lstore *l = s->impl;
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t rec[SREC_SEEN_LEN];
	int rc;

	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0)
		return lmdb_err(rc);
	k.mv_size = CID_LEN;
	d.mv_size = SREC_SEEN_LEN;
	d.mv_data = rec;
	if (delivered != NULL) {
		k.mv_data = (void *)delivered;
		srec_seen_encode(rec, SEEN_DELIVERED, now_ms);
		if ((rc = mdb_put(txn, l->seen, &k, &d, 0)) != 0)
			goto abort;
	}
	if (handing != NULL) {
		k.mv_data = (void *)handing;
		srec_seen_encode(rec, SEEN_HANDING, now_ms);
		if ((rc = mdb_put(txn, l->seen, &k, &d, 0)) != 0)
			goto abort;
	}
	return lmdb_err(mdb_txn_commit(txn));
abort:
	mdb_txn_abort(txn);
	return lmdb_err(rc);
}

static int
lmdb_sent_dst(struct store *s, const uint8_t id[CID_LEN], char *dst, size_t dstlen)
{
	struct lstore *l = s->impl;
	MDB_txn *txn;
	MDB_val k = { CID_LEN, (void *)id }, d;
	int rc;

	if ((rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_err(rc);
	rc = mdb_get(txn, l->sent, &k, &d);
	if (rc == 0)
		rc = srec_sent_decode(d.mv_data, d.mv_size, dst, dstlen) == 0 ? 0 : MDB_CORRUPTED;
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? CASCADE_ENOTFOUND : lmdb_err(rc);
}

/* Deletes up to PRUNE_BATCH ids older than before_ms from dbi; *more when some are left. */
static int
prune_db(struct lstore *l, MDB_dbi dbi, int64_t before_ms, int *more)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, n = 0;

	*more = 0;
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	while ((rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST)) == 0) {
		if (k.mv_size == CID_LEN && cid_time_ms(k.mv_data) >= before_ms)
			break;
		if (n == PRUNE_BATCH) {
			*more = 1;
			break;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return rc;
	}
	if (n == 0) {
		mdb_txn_abort(txn);
		return 0;
	}
	return mdb_txn_commit(txn);
}

static int
lmdb_prune(struct store *s, int64_t before_ms)
{
	struct lstore *l = s->impl;
	int rc, more;

	/* small transactions: senders wait for the write lock meanwhile */
	do {
		if ((rc = prune_db(l, l->seen, before_ms, &more)) != 0)
			return lmdb_err(rc);
	} while (more);
	do {
		if ((rc = prune_db(l, l->sent, before_ms, &more)) != 0)
			return lmdb_err(rc);
	} while (more);
	return CASCADE_OK;
}

const struct store_backend store_lmdb_backend = {
	"lmdb",
	lmdb_open,
	lmdb_close,
	lmdb_put,
	lmdb_peek,
	lmdb_ack,
	lmdb_skip,
	lmdb_seen_get,
	lmdb_seen_put,
	lmdb_sent_dst,
	lmdb_prune,
};
