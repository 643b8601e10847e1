/*
 * journal.c — the node's LMDB journal (see journal.h for the contract and
 * DESIGN.md "Journal (LMDB)" / "Custody" for the why).
 *
 * Records (all integers big-endian, every record starts with its version):
 *
 *   packet   u8 version, u8 flags (JREC_PRUNED), u8 nq, u8 0,
 *            i64 accepted_ms, i64 deadline_ms, payload sha256[32],
 *            nq x (u32 qid, u64 seq), then the encoded Packet (absent when
 *            pruned). Acks never rewrite it: the packet is still queued
 *            while one of its (qid, seq) entries exists in "queues".
 *            Version 2 (JREC_SEALED): the Packet is sealed with a journal
 *            key, kid || nonce || AES-256-GCM text || tag (journal_crypt.h);
 *            the header stays clear (the expiry, prune and queue walks and
 *            the audit need it, and it holds no patient data but the
 *            payload's SHA-256). A cascade without this reads version 1 only,
 *            so it refuses a sealed record instead of misreading it.
 *            A cancelled or expired packet's record keeps its header and, as
 *            its body, the Packet without its payload (JREC_PRUNED |
 *            JREC_STUB), in clear like the event log's metadata (so the
 *            "jk:" counts are payloads only, and a rotation completes when
 *            the old key's last payload leaves): a repeated cancel is still
 *            checked against its source and `cascadectl show` still tells
 *            its src, dst and command, but the payload is gone.
 *   key ids  meta "jk:" kid[8] -> u64 sealed bodies under that key, kept in
 *            the transaction that seals or drops one, so journal_open can
 *            name a missing key without reading every record.
 *   queue    key (u32 qid, u64 seq) -> packet key[17], u32 stored length
 *   qstate   meta "qn:%08x" -> u8 version, 3 x 0, u32 kind, u64 epoch,
 *            next_seq, acked_seq, depth, bytes, then the name
 *   event    see eventlog.c
 *
 * Transactions: the writer uses struct wtx (journal_int.h), which carries
 * the tail of the event chain so an aborted transaction leaves the cached
 * tail untouched.
 * Read transactions hold j->rw shared; growing the map takes it exclusively
 * because mdb_env_set_mapsize() needs every transaction of the process
 * closed.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <lmdb.h>
#include <openssl/crypto.h>

#include "journal.h"
#include "journal_int.h"
#include "log.h"

#define JREC_VERSION    2               /* the newest record version read */
#define JREC_V_CLEAR    1
#define JREC_V_SEALED   2
#define JREC_PRUNED     0x01
#define JREC_SEALED     0x02            /* the body is sealed (version 2) */
#define JREC_STUB       0x04            /* pruned: the body is the Packet minus its payload */
#define JKID_KEY_LEN    (3 + JCRYPT_KID_LEN)    /* meta "jk:" kid */
#define JREC_HDR        52              /* fixed part of a packet record */
#define JREC_QENT       12              /* one (qid, seq) in a packet record */
#define JQKEY_LEN       12              /* queue key: qid, seq */
#define JQVAL_LEN       (JKEY_LEN + 4)  /* queue value: packet key, length */
#define JXKEY_LEN       (8 + JKEY_LEN)  /* expiry key: deadline, packet key */
#define JQSTATE_VERSION 1
#define JQSTATE_HDR     48

#define JDEFAULT_MAP    (64ULL * 1024 * 1024)
#define JDEFAULT_SOFT   80
#define JHYST_PCT       3       /* full clears this far below the soft limit */
#define JRECOUNT_EVERY  8       /* commits between free-page counts near the limit */
#define JACK_CHUNK      512     /* entries per ack / trim transaction */
#define JSWEEP_CHUNK    128
#define JBODY_MIN       512     /* smaller bodies are not dropped early */
#define JBODY_CHUNK     64      /* bodies pruned per transaction */
#define JSCAN_MAX       4096    /* records looked at per transaction */
#define JGROW_WAIT_MS   200     /* how long growth waits for readers */

/* What a nested transaction (savepoint) restores when aborted. */
struct wsave {
	MDB_txn *parent;
	uint64_t ev_seq;
	uint8_t ev_hash[CSHA256_LEN];
};

/* A packet record, parsed. body points into the map: valid until the next put. */
struct jrec {
	unsigned version, flags, nq;
	int64_t accepted_ms, deadline_ms;
	uint8_t sha[CSHA256_LEN];
	uint32_t qid[JMAX_QUEUES];
	uint64_t qseq[JMAX_QUEUES];
	const uint8_t *body;
	size_t bodylen;
	uint8_t kid[JCRYPT_KID_LEN];    /* sealed: its key id (copied: body moves on puts) */
};

static void usage_check(struct journal *, int);

/* ------------------------------------------------------------ helpers */

const char *
journal_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "success";
	case JOURNAL_FULL:
		return "journal full";
	case JOURNAL_FORMAT_NEWER:
		return "journal written by a newer cascade";
	case JOURNAL_BAD_NODE:
		return "journal belongs to another node";
	case JOURNAL_BAD_OPTS:
		return "bad journal options";
	case JOURNAL_OUT_OF_ORDER:
		return "batch out of order";
	case JOURNAL_RANGE:
		return "sequence out of range";
	case JOURNAL_NOT_FOUND:
		return "not found";
	case JOURNAL_CORRUPT:
		return "journal record corrupt";
	case JOURNAL_SYS:
		return "system error";
	case JOURNAL_NOT_YOURS:
		return "not the packet's source";
	case JOURNAL_NO_KEY:
		return "sealed under a journal key that is not configured";
	case JOURNAL_NO_INDEX:
		return "no complete event indexes";
	}
	return mdb_strerror(rc);
}

/* Records the message of a failure (prefixed with the directory); returns rc. */
int
jfail(struct journal *j, int rc, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&j->errmu);
	snprintf(j->err, sizeof(j->err), "journal %s: %s: %s", j->dir, msg,
	    journal_strerror(rc));
	pthread_mutex_unlock(&j->errmu);
	return rc;
}

const char *
journal_errmsg(const struct journal *j)
{
	if (j == NULL)
		return "journal: not open";
	return j->err[0] ? j->err : "no error";
}

void *
jgrow_buf(uint8_t **buf, size_t *sz, size_t need)
{
	uint8_t *p;
	size_t n;

	if (need <= *sz)
		return *buf;
	n = *sz ? *sz : 4096;
	while (n < need)
		n *= 2;
	if ((p = realloc(*buf, n)) == NULL)
		return NULL;
	*buf = p;
	*sz = n;
	return p;
}

/* ---------------------------------------------------------- transactions */

int
jrd_begin(struct journal *j, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&j->rw);
	rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, txn);
	if (rc)
		pthread_rwlock_unlock(&j->rw);
	return rc;
}

void
jrd_end(struct journal *j, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&j->rw);
}

int
jwtx_begin(struct journal *j, struct wtx *w)
{
	w->j = j;
	w->ev_seq = j->ev_seq;
	memcpy(w->ev_hash, j->ev_hash, CSHA256_LEN);
	return mdb_txn_begin(j->env, NULL, 0, &w->txn);
}

void
jwtx_abort(struct wtx *w)
{
	if (w->txn != NULL)
		mdb_txn_abort(w->txn);
	w->txn = NULL;
}

/*
 * Whether a failed commit failed for want of disk: ENOSPC, or EIO, which
 * LMDB returns for a short write (mdb_page_flush) when the data file could
 * only partly grow. Another file can fill the disk under a map that still
 * had room; that is a full journal (refuse new packets, keep serving), not
 * an error. An EIO with room on the disk stays an I/O error.
 */
static uint64_t
disk_avail(struct journal *j)
{
	struct statvfs sv;

	if (statvfs(j->dir, &sv) == -1)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Room beyond the floor for a few commits (a commit that reuses free pages needs none). */
static int
disk_has_room(struct journal *j)
{
	uint64_t avail = disk_avail(j);

	return avail > j->disk_floor && avail >= 64 * (uint64_t)j->psize;
}

static int
commit_disk_full(struct journal *j, int rc)
{
	uint64_t avail;

	if (rc != ENOSPC && rc != EDQUOT && rc != EIO)
		return 0;
	if (rc == EIO && disk_has_room(j))
		return 0;
	avail = disk_avail(j);
	if (!j->disk_full)
		log_warnx("journal %s: the disk is full (%s, %llu KiB free): refusing new "
		    "packets until there is room", j->dir, mdb_strerror(rc),
		    (unsigned long long)(avail / 1024));
	j->disk_full = 1;
	return 1;
}

const uint64_t jhist_bounds_us[JHIST_BUCKETS] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000
};

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
jhist_add(struct jhist *h, uint64_t since_us)
{
	uint64_t us = mono_us() - since_us;
	unsigned i;

	for (i = 0; i < JHIST_BUCKETS; i++)
		if (us <= jhist_bounds_us[i])
			__atomic_fetch_add(&h->le[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_us, us, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

static void
jhist_copy(struct jhist *to, const struct jhist *from)
{
	unsigned i;

	/* count last: a reader never sees more in a bucket than in count */
	to->count = __atomic_load_n(&from->count, __ATOMIC_RELAXED);
	to->sum_us = __atomic_load_n(&from->sum_us, __ATOMIC_RELAXED);
	for (i = 0; i < JHIST_BUCKETS; i++) {
		to->le[i] = __atomic_load_n(&from->le[i], __ATOMIC_RELAXED);
		if (to->le[i] > to->count)
			to->le[i] = to->count;
	}
}

void
journal_latency(struct journal *j, struct jhist *commit, struct jhist *sync)
{
	jhist_copy(commit, &j->h_commit);
	jhist_copy(sync, &j->h_sync);
}

/*
 * Commits (the disk sync happens here when sync is on), then re-evaluates
 * the map. A disk that is full reports MDB_MAP_FULL: the callers' careful
 * retries for a full map apply, down to "journal full" for new packets.
 */
int
jwtx_commit(struct wtx *w)
{
	struct journal *j = w->j;
	uint64_t t0 = mono_us();
	int rc;

	rc = mdb_txn_commit(w->txn);
	jhist_add(&j->h_sync, t0);
	w->txn = NULL;
	if (rc)
		return commit_disk_full(j, rc) ? MDB_MAP_FULL : rc;
	if (j->disk_full && disk_has_room(j)) {
		log_info("journal %s: the disk has room again", j->dir);
		j->disk_full = 0;
	}
	j->ev_seq = w->ev_seq;
	memcpy(j->ev_hash, w->ev_hash, CSHA256_LEN);
	usage_check(j, 0);
	return 0;
}

static int
wtx_sub_begin(struct wtx *w, struct wsave *s)
{
	MDB_txn *child;
	int rc;

	s->parent = w->txn;
	s->ev_seq = w->ev_seq;
	memcpy(s->ev_hash, w->ev_hash, CSHA256_LEN);
	rc = mdb_txn_begin(w->j->env, w->txn, 0, &child);
	if (rc == 0)
		w->txn = child;
	return rc;
}

static void
wtx_sub_abort(struct wtx *w, struct wsave *s)
{
	mdb_txn_abort(w->txn);
	w->txn = s->parent;
	w->ev_seq = s->ev_seq;
	memcpy(w->ev_hash, s->ev_hash, CSHA256_LEN);
}

static int
wtx_sub_commit(struct wtx *w, struct wsave *s)
{
	int rc;

	rc = mdb_txn_commit(w->txn);    /* a failed child is aborted by LMDB */
	w->txn = s->parent;
	if (rc) {
		w->ev_seq = s->ev_seq;
		memcpy(w->ev_hash, s->ev_hash, CSHA256_LEN);
	}
	return rc;
}

/* --------------------------------------------------------- packet records */

static void
jkey_pack(uint8_t *out, const uint8_t *id, uint8_t leg)
{
	memcpy(out, id, CID_LEN);
	out[CID_LEN] = leg;
}

static int
rec_parse(const MDB_val *v, struct jrec *r)
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
static size_t
rec_plainlen(const struct jrec *r)
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
static int
rec_body_dup(const struct journal *j, const struct jrec *r, const uint8_t *pkey, uint8_t **out,
    size_t *len)
{
	size_t n = rec_plainlen(r);
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
static Cascade__Packet *
rec_decode(struct journal *j, const struct jrec *r, const uint8_t *pkey)
{
	size_t n = rec_plainlen(r);

	if (((r->flags & JREC_PRUNED) && !(r->flags & JREC_STUB)) || r->bodylen == 0)
		return NULL;
	if (!(r->flags & JREC_SEALED))
		return cascade__packet__unpack(NULL, r->bodylen, r->body);
	if (jgrow_buf(&j->dbuf, &j->dbufsz, n ? n : 1) == NULL ||
	    rec_body_copy(j, r, pkey, j->dbuf) != 0)
		return NULL;
	return cascade__packet__unpack(NULL, n, j->dbuf);
}

/*
 * The packet stored under pkey, decoded, or NULL (gone, pruned, sealed
 * under a key not configured). For the event indexes' build (eventlog.c).
 */
Cascade__Packet *
jpkt_load(struct journal *j, MDB_txn *txn, const uint8_t *pkey)
{
	struct jrec r;
	MDB_val k, v;

	k.mv_size = JKEY_LEN;
	k.mv_data = (void *)pkey;
	if (mdb_get(txn, j->packets, &k, &v) != 0 || rec_parse(&v, &r) != 0)
		return NULL;
	return rec_decode(j, &r, pkey);
}

/* Adds delta to the count of bodies sealed under kid (meta "jk:" kid). */
static int
kid_count(struct journal *j, MDB_txn *txn, const uint8_t *kid, int delta)
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
static size_t
rec_header(const struct jrec *r, uint8_t *out)
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

static int
rec_get(struct journal *j, MDB_txn *txn, const uint8_t *key, struct jrec *r)
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
	return rec_parse(&v, r);
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
static int
rec_drop_body(struct journal *j, MDB_txn *txn, struct jrec *r, const uint8_t *pkey,
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
	rec_header(r, j->buf);
	k.mv_size = JKEY_LEN;
	k.mv_data = (void *)pkey;
	v.mv_size = hdr + len;
	v.mv_data = j->buf;
	if ((rc = mdb_put(txn, j->packets, &k, &v, 0)) != 0)
		return rc;
	r->body = NULL;
	r->bodylen = 0;
	return was_sealed ? kid_count(j, txn, r->kid, -1) : 0;
}

static void
qkey_pack(uint8_t *out, uint32_t qid, uint64_t seq)
{
	put32(out, qid);
	put64(out + 4, seq);
}

/* Whether one of r's queue entries other than (skip_qid, skip_seq) remains. */
static int
rec_queued(struct journal *j, MDB_txn *txn, const struct jrec *r, uint32_t skip_qid,
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
		qkey_pack(qk, r->qid[i], r->qseq[i]);
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

static int
expiry_put(struct journal *j, MDB_txn *txn, int64_t deadline, const uint8_t *pkey)
{
	uint8_t xk[JXKEY_LEN];
	MDB_val k = { sizeof(xk), xk }, v = { 0, "" };

	expiry_key(xk, deadline, pkey);
	return mdb_put(txn, j->expiry, &k, &v, 0);
}

static int
expiry_del(struct journal *j, MDB_txn *txn, int64_t deadline, const uint8_t *pkey)
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

/* ----------------------------------------------------------------- queues */

static void
qstate_key(char *buf, size_t len, uint32_t qid)
{
	snprintf(buf, len, "qn:%08x", qid);
}

static int
qstate_parse(const MDB_val *v, uint32_t qid, struct jqueue_info *q)
{
	const uint8_t *p = v->mv_data;
	size_t n;

	if (v->mv_size < JQSTATE_HDR || p[0] == 0 || p[0] > JQSTATE_VERSION)
		return JOURNAL_CORRUPT;
	memset(q, 0, sizeof(*q));
	q->qid = qid;
	q->kind = get32(p + 4);
	q->epoch = get64(p + 8);
	q->next_seq = get64(p + 16);
	q->acked_seq = get64(p + 24);
	q->depth = get64(p + 32);
	q->bytes = get64(p + 40);
	n = v->mv_size - JQSTATE_HDR;
	if (n >= sizeof(q->name))
		n = sizeof(q->name) - 1;
	memcpy(q->name, p + JQSTATE_HDR, n);
	return 0;
}

static int
qstate_get(struct journal *j, MDB_txn *txn, uint32_t qid, struct jqueue_info *q)
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
	return qstate_parse(&v, qid, q);
}

static int
qstate_put(struct journal *j, MDB_txn *txn, const struct jqueue_info *q)
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
	memcpy(buf + JQSTATE_HDR, q->name, n);
	qstate_key(key, sizeof(key), q->qid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	v.mv_size = JQSTATE_HDR + n;
	v.mv_data = buf;
	return mdb_put(txn, j->meta, &k, &v, 0);
}

/*
 * Removes packet r (key pkey) from every queue it still waits in, fixing
 * each queue's depth and bytes (acked_seq stays: the stream keeps its
 * numbering). *removed gets how many entries went.
 */
static int
rec_unqueue(struct journal *j, MDB_txn *txn, const struct jrec *r, unsigned *removed)
{
	struct jqueue_info q;
	uint8_t qk[JQKEY_LEN];
	MDB_val k, v;
	uint32_t len;
	unsigned i;
	int rc;

	*removed = 0;
	for (i = 0; i < r->nq; i++) {
		qkey_pack(qk, r->qid[i], r->qseq[i]);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		rc = mdb_get(txn, j->queues, &k, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		len = v.mv_size >= JQVAL_LEN ? get32((const uint8_t *)v.mv_data + JKEY_LEN) : 0;
		if ((rc = mdb_del(txn, j->queues, &k, NULL)) != 0)
			return rc;
		if ((rc = qstate_get(j, txn, r->qid[i], &q)) != 0)
			return rc;
		q.depth = q.depth > 0 ? q.depth - 1 : 0;
		q.bytes = q.bytes >= len ? q.bytes - len : 0;
		if ((rc = qstate_put(j, txn, &q)) != 0)
			return rc;
		(*removed)++;
	}
	return 0;
}

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
	if ((rc = qstate_put(j, w.txn, &q)) != 0)
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
	rc = qstate_get(j, txn, qid, out);
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
		if ((rc = qstate_parse(&v, (uint32_t)strtoul(hex, NULL, 16), &q)) != 0)
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
	int rc;

	*n = 0;
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "peek %u: begin", qid);
	if ((rc = mdb_cursor_open(txn, j->queues, &c)) != 0)
		goto fail;
	qkey_pack(qk, qid, from_seq);
	k.mv_size = sizeof(qk);
	k.mv_data = qk;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && *n < max;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct jentry *e = &out[*n];

		if (k.mv_size != JQKEY_LEN || get32(k.mv_data) != qid)
			break;
		if (v.mv_size < JQVAL_LEN) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		pv.mv_size = JKEY_LEN;
		pv.mv_data = v.mv_data;
		if ((rc = mdb_get(txn, j->packets, &pv, &pv)) != 0 ||
		    (rc = rec_parse(&pv, &r)) != 0)
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
		if ((rc = rec_body_dup(j, &r, v.mv_data, &e->bytes, &e->len)) != 0)
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
	qkey_pack(qk, qid, from_seq);
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

/*
 * Logs an event about stored packet r (the body decoded for its src, dst
 * and trace). The body must be readable: call before any put in the txn.
 */
static int
ev_about_why(struct wtx *w, const struct jrec *r, const uint8_t *pkey, uint32_t type,
    const char *peer, int64_t now_ms, uint32_t reason, const char *text)
{
	const char *trace[JEV_MAXTRACE];
	Cascade__Packet *p = NULL;
	struct jevent ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.reason = reason;
	ev.time_ms = now_ms;
	memcpy(ev.id, pkey, CID_LEN);
	ev.leg = pkey[CID_LEN];
	ev.peer = nz(peer);
	ev.text = nz(text);
	memcpy(ev.payload_sha, r->sha, CSHA256_LEN);
	p = rec_decode(w->j, r, pkey);
	jev_set_packet(&ev, p, trace);
	memcpy(ev.id, pkey, CID_LEN);
	rc = jev_append(w, &ev);
	if (p != NULL)
		cascade__packet__free_unpacked(p, NULL);
	return rc;
}

static int
ev_about(struct wtx *w, const struct jrec *r, const uint8_t *pkey, uint32_t type,
    const char *peer, int64_t now_ms, const char *text)
{
	return ev_about_why(w, r, pkey, type, peer, now_ms, 0, text);
}

/*
 * The ack's work inside transaction w: removes up to chunk entries with
 * seq <= upto. *done is set when nothing with seq <= upto is left. Returns
 * 0, or an error (the caller aborts w).
 */
static int
ack_body(struct journal *j, struct wtx *wp, uint32_t qid, uint64_t upto, int64_t now_ms,
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
	if ((rc = qstate_get(j, w.txn, qid, &q)) != 0)
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
	qkey_pack(qk, qid, 0);
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
		if (rc || (rc = rec_parse(&pv, &r)) != 0)
			goto fail;
		if ((rc = ev_about(&w, &r, pkey, type, q.name, now_ms, "")) != 0)
			goto fail;
		if ((rc = rec_queued(j, w.txn, &r, qid, seq, &queued)) != 0)
			goto fail;
		if (!queued && (rc = expiry_del(j, w.txn, r.deadline_ms, pkey)) != 0)
			goto fail;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(c);
	c = NULL;
	q.acked_seq = *done ? upto : last;
	if ((rc = qstate_put(j, w.txn, &q)) != 0)
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
	if ((rc = ack_body(j, &w, qid, upto, now_ms, chunk, nacked, done)) != 0) {
		jwtx_abort(&w);
		return rc;
	}
	if ((rc = jwtx_commit(&w)) != 0)
		*nacked = 0;
	return rc;
}

static int map_grow(struct journal *);
static int prune_bodies(struct journal *, int64_t, unsigned, unsigned *, int *);

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
			if (!grew && map_grow(j) == 0)
				grew = 1;
			else if (chunk > 1)
				chunk /= 2;
			else if (!pruned++ && prune_bodies(j, (int64_t)now_ms, 8, &n, &end) == 0 &&
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

/*
 * The ack and the local packets it produces (receipts) in one transaction:
 * a crash cannot leave the ack committed and its receipts lost. Only when
 * that transaction does not fit (a full journal or map, or an ack too long
 * for one transaction) do they commit one after the other, the ack first,
 * as journal_ack and journal_commit_batch would; *together (may be NULL)
 * says which way it went. b's item results are as journal_commit_batch's;
 * returns journal_ack's codes.
 */
static int batch_body(struct journal *, struct wtx *, struct jbatch *, int, unsigned,
    unsigned *, uint64_t *);

int
journal_ack_with(struct journal *j, uint32_t qid, uint64_t upto, uint64_t now_ms,
    struct jbatch *b, unsigned *nacked, int *together)
{
	struct wtx w;
	uint64_t newmark = 0;
	unsigned n = 0, stop;
	int rc, done = 0;

	if (together != NULL)
		*together = 0;
	if (b == NULL || b->n == 0)
		return journal_ack(j, qid, upto, now_ms, nacked);
	if (b->items == NULL)
		return jfail(j, EINVAL, "ack queue %u: a batch without items", qid);
	if (!j->full && (rc = jwtx_begin(j, &w)) == 0) {
		b->mark = 0;
		rc = ack_body(j, &w, qid, upto, (int64_t)now_ms, UINT_MAX, &n, &done);
		if (rc == 0 && done)
			rc = batch_body(j, &w, b, 0, b->n, &stop, &newmark);
		else if (rc == 0)
			rc = MDB_MAP_FULL;      /* not whole: go the long way */
		if (rc == 0)
			rc = jwtx_commit(&w);
		else
			jwtx_abort(&w);
		if (rc == 0) {
			b->mark = newmark;
			if (nacked != NULL)
				*nacked = n;
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

static int
mark_read(struct journal *j, MDB_txn *txn, const char *peer, uint64_t epoch, uint64_t *mark)
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

static int
mark_write(struct journal *j, MDB_txn *txn, const char *peer, uint64_t epoch, uint64_t mark)
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
	rc = mark_read(j, w.txn, peer, epoch, &m);
	if (rc == 0) {
		jwtx_abort(&w);
		*mark = m;
		return 0;
	}
	if (rc != JOURNAL_NOT_FOUND)
		goto fail;
	m = lowest_unacked > 0 ? lowest_unacked - 1 : 0;
	if ((rc = mark_write(j, w.txn, peer, epoch, m)) != 0)
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
	rc = mark_read(j, txn, peer, epoch, mark);
	jrd_end(j, txn);
	if (rc)
		return jfail(j, rc, "mark %s epoch %016llx", nz(peer), (unsigned long long)epoch);
	return 0;
}

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
	uint8_t pkey[JKEY_LEN], qk[JQKEY_LEN], qv[JQVAL_LEN];
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
		if ((rc = kid_count(j, w->txn, j->keys.keys[0].kid, 1)) != 0)
			return rc;
	}

	for (i = 0; i < it->nqueues; i++) {
		if ((rc = qstate_get(j, w->txn, it->queues[i], &q)) != 0)
			return rc;
		r.qid[i] = q.qid;
		r.qseq[i] = q.next_seq++;
		q.depth++;
		q.bytes += len;
		if ((rc = qstate_put(j, w->txn, &q)) != 0)
			return rc;
		qkey_pack(qk, q.qid, r.qseq[i]);
		memcpy(qv, pkey, JKEY_LEN);
		put32(qv + JKEY_LEN, (uint32_t)len);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		v.mv_size = sizeof(qv);
		v.mv_data = qv;
		if ((rc = mdb_put(w->txn, j->queues, &k, &v, 0)) != 0)
			return rc;
	}
	rec_header(&r, j->buf);
	k.mv_size = JKEY_LEN;
	k.mv_data = pkey;
	v.mv_size = hdr + stored;
	v.mv_data = j->buf;
	if ((rc = mdb_put(w->txn, j->packets, &k, &v, 0)) != 0)
		return rc;
	/* Only what waits in a queue can expire from one. */
	if (it->deadline_ms != 0 && it->nqueues > 0 &&
	    (rc = expiry_put(j, w->txn, it->deadline_ms, pkey)) != 0)
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
		rc = mark_read(j, w->txn, b->peer, b->epoch, &mark);
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
		if (nested && (rc = mark_write(j, w->txn, b->peer, b->epoch, mark)) != 0)
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
		if (nested && (rc = wtx_sub_begin(w, &s)) != 0)
			return rc;
		rc = item_commit(w, b, it, j->full);
		if (rc == 0 && nested)
			rc = wtx_sub_commit(w, &s);
		else if (rc != 0 && nested)
			wtx_sub_abort(w, &s);
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
		    (rc = mark_write(j, w->txn, b->peer, b->epoch, newmark)) != 0)
			return rc;
	}
	*newmarkp = newmark;
	return *stop < b->n ? JOURNAL_FULL : 0;
}

/*
 * One attempt at a batch. nested: each item in a savepoint, so a full map
 * stops the batch at the item that did not fit; items from index limit on
 * are not tried (JR_FULL). Returns 0, JOURNAL_FULL (committed up to *stop),
 * JOURNAL_OUT_OF_ORDER, or an error with nothing committed (MDB_MAP_FULL:
 * the caller retries differently).
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
 * Group commit: every batch in one transaction and one fsync. Anything but
 * plain success or an out-of-order batch (a full journal, a full map, an
 * error) sends every batch through journal_commit_batch on its own, whose
 * careful retries then apply.
 */
static int commit_batches(struct journal *, struct jbatch **, unsigned, int *);

int
journal_commit_batches(struct journal *j, struct jbatch **bs, unsigned n, int *rcs)
{
	uint64_t t0 = mono_us();
	int rc;

	rc = commit_batches(j, bs, n, rcs);
	if (n > 0)
		jhist_add(&j->h_commit, t0);
	return rc;
}

static int
commit_batches(struct journal *j, struct jbatch **bs, unsigned n, int *rcs)
{
	uint64_t marks[JGROUP_MAX];
	unsigned i, stop;
	struct wtx w;
	int rc;

	if (n == 0)
		return 0;
	if (n == 1 || n > JGROUP_MAX || j->full)
		goto one_by_one;
	if ((rc = jwtx_begin(j, &w)) != 0)
		goto one_by_one;
	for (i = 0; i < n; i++) {
		if (bs[i]->n > 0 && bs[i]->items == NULL) {
			jwtx_abort(&w);
			goto one_by_one;
		}
		rc = batch_body(j, &w, bs[i], 0, bs[i]->n, &stop, &marks[i]);
		if (rc != 0 && rc != JOURNAL_OUT_OF_ORDER) {
			jwtx_abort(&w);
			goto one_by_one;
		}
		rcs[i] = rc;
	}
	if (jwtx_commit(&w) != 0)
		goto one_by_one;
	for (i = 0; i < n; i++)
		if (rcs[i] == 0)
			bs[i]->mark = marks[i];
	return 0;
one_by_one:
	for (i = 0; i < n; i++)
		rcs[i] = journal_commit_batch(j, bs[i]);
	return 0;
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
		if (!nested && !grew && map_grow(j) == 0) {
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
			if (mark_read(j, txn, b->peer, b->epoch, &mark) != 0)
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
	rc = rec_get(j, txn, pkey, &r);
	if (rc == 0 && (r.flags & JREC_PRUNED))
		rc = JOURNAL_NOT_FOUND;
	if (rc == 0 && (rc = rec_body_dup(j, &r, pkey, bytes, len)) == 0 &&
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
	if ((rc = rec_get(j, txn, pkey, &r)) != 0)
		goto done;
	out->accepted_ms = r.accepted_ms;
	out->deadline_ms = r.deadline_ms;
	memcpy(out->sha, r.sha, CSHA256_LEN);
	out->pruned = (r.flags & JREC_PRUNED) != 0;
	/* A cancelled or expired packet shows its stub: all but the payload. */
	if ((!out->pruned || (r.flags & JREC_STUB)) && r.bodylen > 0 &&
	    (rc = rec_body_dup(j, &r, pkey, &out->body, &out->bodylen)) != 0)
		goto done;
	out->nq = r.nq;
	for (i = 0; i < r.nq; i++) {
		out->qid[i] = r.qid[i];
		out->qseq[i] = r.qseq[i];
		qkey_pack(qk, r.qid[i], r.qseq[i]);
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

/* --------------------------------------------------------------- in flight */

/* Under sentmu. A linear scan: there is one entry per link with a session. */
static uint64_t
sent_upto(const struct journal *j, uint32_t qid)
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
	if (rc == 0 && *n > 0 && out[*n - 1].seq > sent_upto(j, qid))
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

static int
sent_restore(struct journal *j)
{
	int rc;

	pthread_mutex_lock(&j->sentmu);
	rc = journal_queues(j, sent_restore_one, j);
	pthread_mutex_unlock(&j->sentmu);
	return rc;
}

/* Whether one of r's queue entries is in flight on a link. Under sentmu. */
static int
rec_in_flight(const struct journal *j, const struct jrec *r)
{
	unsigned i;

	for (i = 0; i < r->nq; i++)
		if (r->qseq[i] <= sent_upto(j, r->qid[i]))
			return 1;
	return 0;
}

/* Whether the stored packet r names src as its source. -1: unknown (no body). */
static int
rec_src_is(struct journal *j, const struct jrec *r, const uint8_t *pkey, const char *src)
{
	Cascade__Packet *p;
	int same;

	if ((p = rec_decode(j, r, pkey)) == NULL)
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
	if ((rc = rec_get(j, w.txn, pkey, &r)) != 0)
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
		if ((rc = ev_about_why(&w, &r, pkey, JEV_REJECTED, src, (int64_t)now_ms,
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
	if (rec_in_flight(j, &r)) {
		jwtx_abort(&w);
		pthread_mutex_unlock(&j->sentmu);
		return 0;
	}
	/* Copied and logged first: the record's body is only readable before the puts. */
	if (!(r.flags & JREC_PRUNED) && (rc = rec_body_dup(j, &r, pkey, &plain, &plainlen)) != 0)
		goto fail;
	if ((rc = ev_about(&w, &r, pkey, JEV_CANCELLED, src, (int64_t)now_ms, "")) != 0)
		goto fail;
	if ((rc = rec_unqueue(j, w.txn, &r, &removed)) != 0)
		goto fail;
	if ((rc = expiry_del(j, w.txn, r.deadline_ms, pkey)) != 0)
		goto fail;
	/* Its source wants it gone: the body goes, the header and events stay. */
	if ((rc = rec_drop_body(j, w.txn, &r, pkey, plain, plainlen)) != 0)
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
	uint8_t pkey[JKEY_LEN], qk[JQKEY_LEN], qv[JQVAL_LEN];
	char evtext[512];
	struct jqueue_info q;
	struct jrec r;
	MDB_val k, v;
	size_t hdr, len;
	unsigned i, slot;
	uint64_t oldseq = 0;
	int rc, queued;

	jkey_pack(pkey, rq->key.id, rq->key.leg);
	if ((rc = rec_get(j, w->txn, pkey, &r)) == JOURNAL_NOT_FOUND) {
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
		qkey_pack(qk, r.qid[i], r.qseq[i]);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		if ((rc = mdb_get(w->txn, j->queues, &k, &v)) == 0) {
			/* a link may have sent it already: it stays where it is */
			if (!rq->move || r.qseq[i] <= sent_upto(j, rq->qid)) {
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
		if ((rc = rec_queued(j, w->txn, &one, 0, 0, &queued)) != 0)
			return rc;
		if (!queued)
			slot = i;
	}
	if (slot == JMAX_QUEUES)
		return EINVAL;  /* it waits in JMAX_QUEUES other queues: cannot be */
	if ((rc = qstate_get(j, w->txn, rq->qid, &q)) != 0)
		return rc;
	if (slot == r.nq)
		r.nq++;
	r.qid[slot] = rq->qid;
	r.qseq[slot] = q.next_seq;
	rq->seq = q.next_seq++;
	len = rec_plainlen(&r);
	q.depth++;
	q.bytes += len;

	/* The new value first: r.body points into the map until the first put. */
	hdr = JREC_HDR + (size_t)r.nq * JREC_QENT;
	if (jgrow_buf(&j->buf, &j->bufsz, hdr + r.bodylen) == NULL)
		return ENOMEM;
	memmove(j->buf + hdr, r.body, r.bodylen);
	rec_header(&r, j->buf);
	r.body = j->buf + hdr;
	if (oldseq != 0) {
		/* moved: its old place goes (no event: it was never sent) */
		qkey_pack(qk, q.qid, oldseq);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		if ((rc = mdb_del(w->txn, j->queues, &k, NULL)) != 0)
			return rc;
		q.depth--;
		q.bytes = q.bytes >= len ? q.bytes - len : 0;
	} else {
		snprintf(evtext, sizeof(evtext), "seq %llu: %s", (unsigned long long)rq->seq,
		    nz(text));
		if ((rc = ev_about(w, &r, pkey, JEV_REPLAYED, q.name, now_ms, evtext)) != 0)
			return rc;
	}
	k.mv_size = JKEY_LEN;
	k.mv_data = pkey;
	v.mv_size = hdr + r.bodylen;
	v.mv_data = j->buf;
	if ((rc = mdb_put(w->txn, j->packets, &k, &v, 0)) != 0)
		return rc;
	if ((rc = qstate_put(j, w->txn, &q)) != 0)
		return rc;
	qkey_pack(qk, q.qid, rq->seq);
	memcpy(qv, pkey, JKEY_LEN);
	put32(qv + JKEY_LEN, (uint32_t)len);
	k.mv_size = sizeof(qk);
	k.mv_data = qk;
	v.mv_size = sizeof(qv);
	v.mv_data = qv;
	if ((rc = mdb_put(w->txn, j->queues, &k, &v, MDB_NOOVERWRITE)) != 0)
		return rc;
	/* its deadline left the index when it last left a queue */
	if (r.deadline_ms != 0 && (rc = expiry_put(j, w->txn, r.deadline_ms, pkey)) != 0)
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
		rc = rec_get(j, w.txn, pkey, &r);
		if (rc == 0 && rec_in_flight(j, &r)) {
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
		if (rec_get(j, w.txn, pkey, &r) != 0)
			continue;       /* JOURNAL_NOT_FOUND above */
		if ((rc = rec_queued(j, w.txn, &r, 0, 0, &queued)) != 0)
			goto fail;
		if (!queued)
			continue;       /* left every queue already */
		out[*n].key.leg = pkey[CID_LEN];
		memcpy(out[*n].key.id, pkey, CID_LEN);
		if ((rc = rec_body_dup(j, &r, pkey, &out[*n].bytes, &out[*n].len)) != 0)
			goto fail;
		(*n)++;
		if ((rc = ev_about(&w, &r, pkey, JEV_EXPIRED, "", now_ms, "")) != 0)
			goto fail;
		if ((rc = rec_unqueue(j, w.txn, &r, &removed)) != 0)
			goto fail;
		/* The notice has its copy (out); the journal keeps no body. */
		if ((rc = rec_drop_body(j, w.txn, &r, pkey, out[*n - 1].bytes,
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
		if (k.mv_size != JKEY_LEN || (rc = rec_parse(&v, &r)) != 0) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		if (r.accepted_ms >= cutoff_ms)
			continue;
		if ((rc = rec_queued(j, w.txn, &r, 0, 0, &queued)) != 0)
			goto fail;
		if (queued)
			continue;
		memcpy(pkey, k.mv_data, JKEY_LEN);
		if ((r.flags & JREC_SEALED) && (rc = kid_count(j, w.txn, r.kid, -1)) != 0)
			goto fail;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			goto fail;
		if ((rc = expiry_del(j, w.txn, r.deadline_ms, pkey)) != 0)
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

/* ------------------------------------------------- full disk: the map */

/* Pages in the free list, read inside txn (the free DB is dbi 0). */
static int
count_free(MDB_txn *txn, uint64_t *nfree)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t cnt;
	int rc;

	*nfree = 0;
	if ((rc = mdb_cursor_open(txn, 0, &c)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		/* each value: a count of pgno_t, then the page numbers */
		if (v.mv_size >= sizeof(cnt)) {
			memcpy(&cnt, v.mv_data, sizeof(cnt));
			*nfree += cnt;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static uint64_t
soft_pages(const struct journal *j)
{
	return j->map_size / j->psize * j->soft_pct / 100;
}

static uint64_t
hyst_pages(const struct journal *j)
{
	return j->map_size / j->psize * JHYST_PCT / 100;
}

/*
 * Grows the map by half while map_max and the free-disk floor allow.
 * Returns 0 when it grew, JOURNAL_FULL when it may not, EBUSY when readers
 * kept it from happening now.
 */
static int
map_grow(struct journal *j)
{
	uint64_t want, need, avail, fsize = 0;
	struct statvfs sv;
	struct timespec ts;
	struct stat st;
	MDB_envinfo info;
	char path[PATH_MAX];
	int rc;

	want = j->map_size + j->map_size / 2;
	want = (want + j->psize - 1) / j->psize * j->psize;
	if (j->map_max != 0 && want > j->map_max)
		want = j->map_max / j->psize * j->psize;
	if (want <= j->map_size)
		return JOURNAL_FULL;
	if (statvfs(j->dir, &sv) == -1) {
		log_warn("journal %s: statvfs", j->dir);
		return JOURNAL_FULL;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", j->dir);
	if (stat(path, &st) == 0)
		fsize = (uint64_t)st.st_size;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	need = want > fsize ? want - fsize : 0;
	if (avail < need || avail - need < j->disk_floor)
		return JOURNAL_FULL;

	/* mdb_env_set_mapsize needs every transaction in this process closed. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)JGROW_WAIT_MS * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	if (pthread_rwlock_timedwrlock(&j->rw, &ts) != 0) {
		log_warnx("journal %s: readers kept the map from growing", j->dir);
		return EBUSY;
	}
	rc = mdb_env_set_mapsize(j->env, (size_t)want);
	if (rc == 0 && mdb_env_info(j->env, &info) == 0)
		j->map_size = info.me_mapsize;
	pthread_rwlock_unlock(&j->rw);
	if (rc) {
		log_warnx("journal %s: growing the map: %s", j->dir, mdb_strerror(rc));
		return rc;
	}
	j->grows++;
	log_info("journal %s: map grown to %llu KiB", j->dir,
	    (unsigned long long)(j->map_size / 1024));
	return 0;
}

/*
 * Re-evaluates pages in use after a commit. The last page number alone is
 * an upper bound: while it is under the soft limit nothing else is needed.
 * Near the limit the free list is counted (every JRECOUNT_EVERY commits,
 * or every time once over it). Over the limit the map grows, or the
 * journal is full; full clears JHYST_PCT below the limit.
 */
static void
usage_check(struct journal *j, int force)
{
	uint64_t upper, soft, hyst, nfree;
	MDB_envinfo info;
	MDB_txn *txn;

	if (mdb_env_info(j->env, &info) != 0)
		return;
	upper = (uint64_t)info.me_last_pgno + 1;
	soft = soft_pages(j);
	hyst = hyst_pages(j);
	j->since_count++;
	if (!force && !j->full && upper < soft) {
		j->used_pages = upper > j->free_pages ? upper - j->free_pages : 0;
		return;
	}
	if (!force && !j->full && j->since_count < JRECOUNT_EVERY &&
	    upper - (upper > j->free_pages ? j->free_pages : 0) + hyst < soft)
		return;
	if (jrd_begin(j, &txn) != 0)
		return;
	if (mdb_env_info(j->env, &info) == 0)
		upper = (uint64_t)info.me_last_pgno + 1;
	if (count_free(txn, &nfree) != 0)
		nfree = 0;
	jrd_end(j, txn);
	j->free_pages = nfree;
	j->used_pages = upper > nfree ? upper - nfree : 0;
	j->since_count = 0;

	if (j->used_pages >= soft) {
		/* tried again while full: the disk may have room again */
		if (map_grow(j) == 0) {
			if (j->full)
				log_info("journal %s: no longer full: the map grew", j->dir);
			j->full = 0;
			return;
		}
		if (!j->full)
			log_warnx("journal %s: full: %llu of %llu pages in use; refusing new packets",
			    j->dir, (unsigned long long)j->used_pages,
			    (unsigned long long)(j->map_size / j->psize));
		j->full = 1;
	} else if (j->full && j->used_pages + hyst < soft) {
		j->full = 0;
		log_info("journal %s: no longer full: %llu of %llu pages in use", j->dir,
		    (unsigned long long)j->used_pages,
		    (unsigned long long)(j->map_size / j->psize));
	}
}

/*
 * Drops the bodies of up to max packets that no queue holds, oldest id
 * first, from where the last call stopped. *end is set after the last record.
 */
static int
prune_bodies(struct journal *j, int64_t now_ms, unsigned max, unsigned *npruned, int *end)
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
		if (k.mv_size != JKEY_LEN || rec_parse(&v, &r) != 0)
			continue;
		/*
		 * A body smaller than what its drop logs (a BODY_PRUNED record of
		 * some 150 bytes and its index entries) frees nothing: dropping it
		 * would make a full journal fuller.
		 */
		if ((r.flags & JREC_PRUNED) || r.bodylen < JBODY_MIN)
			continue;
		if ((rc = rec_queued(j, w.txn, &r, 0, 0, &queued)) != 0)
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
		if ((rc = rec_get(j, w.txn, keys[i], &r)) != 0)
			goto fail;
		if ((rc = ev_about(&w, &r, keys[i], JEV_BODY_PRUNED, "", now_ms,
		    "journal full: body dropped early")) != 0)
			goto fail;
		if ((rc = rec_drop_body(j, w.txn, &r, keys[i], NULL, 0)) != 0)
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

	usage_check(j, 1);
	while (j->full) {
		rc = prune_bodies(j, now_ms, chunk, &n, &end);
		if (rc == MDB_MAP_FULL && chunk > 1) {
			chunk /= 2;
			continue;
		}
		if (rc)
			break;
		total += n;
		usage_check(j, 1);
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

/* ----------------------------------------------------------- meta, stats */

static int
meta_reserved(const char *key)
{
	return strcmp(key, "format") == 0 || strcmp(key, "node") == 0 ||
	    strcmp(key, "qlast") == 0 || strncmp(key, "q:", 2) == 0 ||
	    strncmp(key, "qn:", 3) == 0 || strncmp(key, "jk:", 3) == 0;
}

int
journal_meta_put(struct journal *j, const char *key, const void *val, size_t len)
{
	struct wtx w;
	MDB_val k, v;
	int rc;

	if (key == NULL || *key == '\0' || strlen(key) > 400 || meta_reserved(key))
		return jfail(j, EINVAL, "meta \"%s\": reserved or bad key", nz(key));
	if ((rc = jwtx_begin(j, &w)) != 0)
		return jfail(j, rc, "meta %s: begin", key);
	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	v.mv_size = len;
	v.mv_data = (void *)val;
	if ((rc = mdb_put(w.txn, j->meta, &k, &v, 0)) != 0) {
		jwtx_abort(&w);
		return jfail(j, rc, "meta %s", key);
	}
	if ((rc = jwtx_commit(&w)) != 0)
		return jfail(j, rc, "meta %s: commit", key);
	return 0;
}

int
journal_meta_get(struct journal *j, const char *key, void **val, size_t *len)
{
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	*val = NULL;
	*len = 0;
	if (key == NULL || *key == '\0')
		return jfail(j, EINVAL, "meta: empty key");
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "meta %s: begin", key);
	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	rc = mdb_get(txn, j->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		rc = JOURNAL_NOT_FOUND;
	if (rc == 0) {
		if ((*val = malloc(v.mv_size ? v.mv_size : 1)) == NULL)
			rc = ENOMEM;
		else {
			memcpy(*val, v.mv_data, v.mv_size);
			*len = v.mv_size;
		}
	}
	jrd_end(j, txn);
	if (rc)
		return jfail(j, rc, "meta %s", key);
	return 0;
}

int
journal_stats(struct journal *j, struct jstats *st)
{
	MDB_envinfo info;
	MDB_stat ms;
	MDB_txn *txn;
	uint64_t nfree = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "stats: begin");
	if ((rc = mdb_env_info(j->env, &info)) != 0 || (rc = count_free(txn, &nfree)) != 0)
		goto fail;
	st->format = j->format;
	st->map_size = info.me_mapsize;
	st->page_size = j->psize;
	st->pages_total = info.me_mapsize / j->psize;
	st->pages_used = info.me_last_pgno + 1 > nfree ? info.me_last_pgno + 1 - nfree : 0;
	if ((rc = mdb_stat(txn, j->packets, &ms)) != 0)
		goto fail;
	st->packets = ms.ms_entries;
	if ((rc = mdb_stat(txn, j->queues, &ms)) != 0)
		goto fail;
	st->queued = ms.ms_entries;
	if ((rc = mdb_stat(txn, j->events, &ms)) != 0)
		goto fail;
	st->events = ms.ms_entries;
	st->indexed = j->ix_ok;
	if ((rc = mdb_stat(txn, j->expiry, &ms)) != 0)
		goto fail;
	st->expiring = ms.ms_entries;
	st->full = j->full;
	st->grows = j->grows;
	st->body_prunes = j->body_prunes;
fail:
	jrd_end(j, txn);
	if (rc)
		return jfail(j, rc, "stats");
	return 0;
}

/* ------------------------------------------------------------ open, close */

static int
open_dbs(struct journal *j, const struct journal_opts *o, char *err, size_t errlen)
{
	static const char *names[] = { "meta", "packets", "queues", "marks", "expiry", "events" };
	MDB_dbi *dbis[] = { &j->meta, &j->packets, &j->queues, &j->marks, &j->expiry, &j->events };
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t fmt[4];
	unsigned i;
	int rc;

	if ((rc = mdb_txn_begin(j->env, NULL, o->readonly ? MDB_RDONLY : 0, &txn)) != 0) {
		snprintf(err, errlen, "journal %s: begin: %s", j->dir, mdb_strerror(rc));
		return rc;
	}
	for (i = 0; i < 6; i++) {
		if ((rc = mdb_dbi_open(txn, names[i], o->readonly ? 0 : MDB_CREATE, dbis[i])) != 0) {
			snprintf(err, errlen, "journal %s: database %s: %s", j->dir, names[i],
			    mdb_strerror(rc));
			goto fail;
		}
	}

	k.mv_size = 6;
	k.mv_data = "format";
	rc = mdb_get(txn, j->meta, &k, &v);
	if (rc == MDB_NOTFOUND && o->readonly) {
		rc = JOURNAL_CORRUPT;
		snprintf(err, errlen, "journal %s: no format record: not a cascade journal", j->dir);
		goto fail;
	} else if (rc == MDB_NOTFOUND) {
		/* A new journal: it belongs to this node from now on. */
		if (o->node_id == NULL || *o->node_id == '\0') {
			rc = JOURNAL_BAD_NODE;
			snprintf(err, errlen, "journal %s: a new journal needs a node id", j->dir);
			goto fail;
		}
		put32(fmt, JOURNAL_FORMAT);
		v.mv_size = 4;
		v.mv_data = fmt;
		if ((rc = mdb_put(txn, j->meta, &k, &v, 0)) != 0)
			goto lmdbfail;
		k.mv_size = 4;
		k.mv_data = "node";
		v.mv_size = strlen(o->node_id);
		v.mv_data = (void *)o->node_id;
		if ((rc = mdb_put(txn, j->meta, &k, &v, 0)) != 0)
			goto lmdbfail;
		j->format = JOURNAL_FORMAT;
	} else if (rc) {
		goto lmdbfail;
	} else {
		if (v.mv_size != 4) {
			rc = JOURNAL_CORRUPT;
			snprintf(err, errlen, "journal %s: format record of %zu bytes", j->dir,
			    v.mv_size);
			goto fail;
		}
		j->format = get32(v.mv_data);
		if (j->format > JOURNAL_FORMAT) {
			rc = JOURNAL_FORMAT_NEWER;
			snprintf(err, errlen, "journal %s: format %u was written by a newer "
			    "cascade (this one reads up to %u); run the newer cascaded", j->dir,
			    j->format, JOURNAL_FORMAT);
			goto fail;
		}
		k.mv_size = 4;
		k.mv_data = "node";
		if ((rc = mdb_get(txn, j->meta, &k, &v)) != 0) {
			if (rc == MDB_NOTFOUND)
				rc = JOURNAL_CORRUPT;
			snprintf(err, errlen, "journal %s: no node id recorded", j->dir);
			goto fail;
		}
		if (o->node_id != NULL && *o->node_id != '\0' &&
		    (v.mv_size != strlen(o->node_id) ||
		    memcmp(v.mv_data, o->node_id, v.mv_size) != 0)) {
			rc = JOURNAL_BAD_NODE;
			snprintf(err, errlen, "journal %s: belongs to node \"%.*s\", not \"%s\"",
			    j->dir, (int)(v.mv_size > 63 ? 63 : v.mv_size),
			    (const char *)v.mv_data, o->node_id);
			goto fail;
		}
	}

	/* The tail of the event chain, where the next record hooks on. */
	if ((rc = mdb_cursor_open(txn, j->events, &c)) != 0)
		goto lmdbfail;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8 && v.mv_size >= CSHA256_LEN) {
		j->ev_seq = get64(k.mv_data);
		memcpy(j->ev_hash, v.mv_data, CSHA256_LEN);
	} else if (rc == 0) {
		rc = JOURNAL_CORRUPT;
	} else if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(c);
	if (rc) {
		snprintf(err, errlen, "journal %s: last event: %s", j->dir, journal_strerror(rc));
		goto fail;
	}
	if ((rc = jix_open(j, txn, o, err, errlen)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "journal %s: commit: %s", j->dir, mdb_strerror(rc));
		return rc;
	}
	return 0;
lmdbfail:
	snprintf(err, errlen, "journal %s: %s", j->dir, mdb_strerror(rc));
fail:
	mdb_txn_abort(txn);
	return rc;
}

/*
 * Refuses a journal holding bodies sealed under a key id the configured
 * keys lack: started anyway, it could neither send nor show them. Reads the
 * "jk:" counters, not the records, so it costs the same for any journal.
 */
static int
keys_check(struct journal *j, char *err, size_t errlen)
{
	char kt[JCRYPT_KID_TEXT], have[JCRYPT_MAX_KEYS * JCRYPT_KID_TEXT + 8];
	uint64_t n, total = 0, missing = 0;
	uint8_t miss_kid[JCRYPT_KID_LEN];
	unsigned i, nmiss = 0;
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if ((rc = jrd_begin(j, &txn)) != 0)
		goto lmdbfail;
	if ((rc = mdb_cursor_open(txn, j->meta, &c)) != 0) {
		jrd_end(j, txn);
		goto lmdbfail;
	}
	k.mv_size = 3;
	k.mv_data = "jk:";
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 3 || memcmp(k.mv_data, "jk:", 3) != 0)
			break;
		if (k.mv_size != JKID_KEY_LEN || v.mv_size != 8)
			continue;
		n = get64(v.mv_data);
		total += n;
		if (jcrypt_ring_find(&j->keys, (const uint8_t *)k.mv_data + 3) == NULL) {
			if (nmiss++ == 0)
				memcpy(miss_kid, (const uint8_t *)k.mv_data + 3, JCRYPT_KID_LEN);
			missing += n;
		}
	}
	mdb_cursor_close(c);
	jrd_end(j, txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto lmdbfail;
	if (nmiss == 0)
		return 0;
	jcrypt_kid_text(miss_kid, kt);
	if (j->keys.n == 0) {
		snprintf(err, errlen, "journal %s: %llu packet bodies are encrypted (key id %s%s) "
		    "and no journal-key is configured: add \"journal-key FILE\" naming that key "
		    "file to the config (see cascade.conf(5)); refusing to start", j->dir,
		    (unsigned long long)total, kt, nmiss > 1 ? " and others" : "");
		return JOURNAL_NO_KEY;
	}
	have[0] = '\0';
	for (i = 0; i < j->keys.n; i++) {
		char t[JCRYPT_KID_TEXT];

		strcat(have, i ? ", " : "");
		strcat(have, jcrypt_kid_text(j->keys.keys[i].kid, t));
	}
	snprintf(err, errlen, "journal %s: %llu packet bodies are encrypted under journal key "
	    "id %s%s, which journal-key does not list (it lists %s): add that key file after "
	    "the current one (\"journal-key NEW OLD\", see cascade.conf(5)); refusing to start",
	    j->dir, (unsigned long long)missing, kt, nmiss > 1 ? " and other ids" : "", have);
	return JOURNAL_NO_KEY;
lmdbfail:
	snprintf(err, errlen, "journal %s: key ids: %s", j->dir, mdb_strerror(rc));
	return rc;
}

int
journal_open(struct journal **jp, const struct journal_opts *o, char *err, size_t errlen)
{
	const unsigned nosync = MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC;
	char ebuf[512];
	struct journal *j;
	MDB_envinfo info;
	pthread_rwlockattr_t rwa;
	MDB_stat ms;
	unsigned flags;
	size_t want;
	int rc, dead;

	*jp = NULL;
	if (err == NULL || errlen == 0) {
		err = ebuf;
		errlen = sizeof(ebuf);
	}
	err[0] = '\0';
	if (o == NULL || o->dir == NULL || *o->dir == '\0') {
		snprintf(err, errlen, "journal: no directory");
		return JOURNAL_BAD_OPTS;
	}
	if (o->sync && (o->env_flags & nosync)) {
		snprintf(err, errlen, "journal %s: MDB_NOSYNC, MDB_NOMETASYNC and MDB_MAPASYNC "
		    "are refused while sync is on", o->dir);
		return JOURNAL_BAD_OPTS;
	}
	if (o->env_flags & (MDB_WRITEMAP | MDB_NOSUBDIR | MDB_RDONLY)) {
		snprintf(err, errlen, "journal %s: MDB_WRITEMAP, MDB_NOSUBDIR and MDB_RDONLY "
		    "are refused", o->dir);
		return JOURNAL_BAD_OPTS;
	}
	if (o->soft_pct > 99) {
		snprintf(err, errlen, "journal %s: soft limit %u%% above 99%%", o->dir,
		    o->soft_pct);
		return JOURNAL_BAD_OPTS;
	}
	if (!o->readonly && mkdir(o->dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "journal %s: mkdir: %s", o->dir, strerror(errno));
		return JOURNAL_SYS;
	}

	if ((j = calloc(1, sizeof(*j))) == NULL || (j->dir = strdup(o->dir)) == NULL) {
		free(j);
		snprintf(err, errlen, "journal %s: out of memory", o->dir);
		return ENOMEM;
	}
	/*
	 * Writer preference, so a steady stream of readers cannot keep the map
	 * from growing; growth waits JGROW_WAIT_MS at most, so a reader that
	 * nests read calls (a journal_events callback reading a packet) is held
	 * up that long at worst, never deadlocked.
	 */
	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&j->rw, &rwa);
	pthread_rwlockattr_destroy(&rwa);
	pthread_mutex_init(&j->errmu, NULL);
	pthread_mutex_init(&j->sentmu, NULL);
	j->sync = o->sync;
	j->map_max = o->map_max;
	j->disk_floor = o->disk_floor;
	j->soft_pct = o->soft_pct ? o->soft_pct : JDEFAULT_SOFT;

	if ((rc = mdb_env_create(&j->env)) != 0) {
		snprintf(err, errlen, "journal %s: %s", o->dir, mdb_strerror(rc));
		goto fail;
	}
	mdb_env_set_maxdbs(j->env, 8);
	/* MDB_NOTLS: read transactions are not tied to threads (see journal.h). */
	flags = MDB_NOTLS | o->env_flags | (o->sync ? 0 : MDB_NOSYNC) |
	    (o->readonly ? MDB_RDONLY : 0);
	if ((rc = mdb_env_open(j->env, o->dir, flags, 0600)) != 0) {
		snprintf(err, errlen, "journal %s: open: %s", o->dir, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_env_get_flags(j->env, &flags)) != 0)
		goto fail;
	if (o->sync && (flags & nosync)) {
		snprintf(err, errlen, "journal %s: environment has a no-sync flag with sync on",
		    o->dir);
		rc = JOURNAL_BAD_OPTS;
		goto fail;
	}
	/*
	 * The map size is set after opening: an existing journal then keeps the
	 * size it grew to (set before, a smaller size would shrink the map to
	 * the data file and leave the journal full at once).
	 */
	mdb_env_info(j->env, &info);
	want = o->map_size ? o->map_size : JDEFAULT_MAP;
	if (!o->readonly && info.me_mapsize < want &&
	    (rc = mdb_env_set_mapsize(j->env, want)) != 0) {
		snprintf(err, errlen, "journal %s: map size: %s", o->dir, mdb_strerror(rc));
		goto fail;
	}
	/* Reader slots left by a crashed process would pin old pages forever. */
	mdb_reader_check(j->env, &dead);
	if ((rc = open_dbs(j, o, err, errlen)) != 0)
		goto fail;
	if (o->keys != NULL)
		j->keys = *o->keys;
	if (!o->readonly && (rc = keys_check(j, err, errlen)) != 0)
		goto fail;
	mdb_env_stat(j->env, &ms);
	mdb_env_info(j->env, &info);
	j->psize = ms.ms_psize;
	j->map_size = info.me_mapsize;
	if (!o->readonly)
		usage_check(j, 1);
	if (!o->readonly && (rc = sent_restore(j)) != 0) {
		snprintf(err, errlen, "%s", j->err);
		goto fail;
	}
	/* after the keys: an old journal's build reads the packets' commands */
	if (!o->readonly && !o->no_index)
		jev_index_build(j);
	else if (!o->readonly)
		j->ix_ok = 0;   /* complete now, but this writer will not keep them */
	*jp = j;
	return 0;
fail:
	jcrypt_ring_clear(&j->keys);
	if (j->env != NULL)
		mdb_env_close(j->env);
	pthread_rwlock_destroy(&j->rw);
	pthread_mutex_destroy(&j->errmu);
	pthread_mutex_destroy(&j->sentmu);
	free(j->sent);
	free(j->dir);
	free(j);
	return rc;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	mdb_env_close(j->env);
	pthread_rwlock_destroy(&j->rw);
	pthread_mutex_destroy(&j->errmu);
	pthread_mutex_destroy(&j->sentmu);
	free(j->sent);
	free(j->buf);
	free(j->ebuf);
	if (j->dbuf != NULL)
		OPENSSL_cleanse(j->dbuf, j->dbufsz);
	free(j->dbuf);
	jcrypt_ring_clear(&j->keys);
	free(j->dir);
	free(j);
}
