/*
 * journal_txn.c — the journal's errors, its transactions, and the map's size
 * (growth, the soft limit, a full disk), which every commit re-evaluates.
 * The lowest layer of the journal: it calls none of the other journal files.
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

#include "journal.h"
#include "journal_int.h"
#include "log.h"

#define JHYST_PCT       3       /* full clears this far below the soft limit */
#define JRECOUNT_EVERY  8       /* commits between free-page counts near the limit */
#define JGROW_WAIT_MS   200     /* how long growth waits for readers */

/* ---------------------------------------------------------------- errors */

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

/*
 * The message of the calling thread's last failure. Per thread, so a
 * failure on one thread (a reader, the journal thread) never replaces the
 * message another thread is about to read for its own failed call; a
 * message that has to cross threads is copied (struct jjob's err).
 */
static _Thread_local char jerr[512];

/* Records the message of a failure (prefixed with the directory); returns rc. */
int
jfail(struct journal *j, int rc, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(jerr, sizeof(jerr), "journal %s: %s: %s", j->dir, msg, journal_strerror(rc));
	return rc;
}

const char *
journal_errmsg(const struct journal *j)
{
	if (j == NULL)
		return "journal: not open";
	return jerr[0] ? jerr : "no error";
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

uint64_t
jmono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
jhist_add(struct jhist *h, uint64_t since_us)
{
	uint64_t us = jmono_us() - since_us;
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
	uint64_t t0 = jmono_us();
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
	jusage_check(j, 0);
	return 0;
}

int
jwtx_sub_begin(struct wtx *w, struct wsave *s)
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

void
jwtx_sub_abort(struct wtx *w, struct wsave *s)
{
	mdb_txn_abort(w->txn);
	w->txn = s->parent;
	w->ev_seq = s->ev_seq;
	memcpy(w->ev_hash, s->ev_hash, CSHA256_LEN);
}

int
jwtx_sub_commit(struct wtx *w, struct wsave *s)
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

/*
 * mdb_put of a key that is most likely above every key in dbi (packet ids
 * and queue seqs grow, deadlines mostly do): MDB_APPEND, so when the last
 * page is full the key starts a new page and the full one stays full.
 * Without it LMDB splits a page so that its left half keeps at most n-1 of
 * its n records; with packet records of ~1.2 KiB (3 fit a 4 KiB page) that
 * leaves 2 a page, 2 KiB on disk per 1 KiB packet. A key not above the last
 * one (ids from several sources interleave, a requeued seq, an earlier
 * deadline) goes in by a normal put with the same flags: LMDB refuses the
 * append with MDB_KEYEXIST before it changes anything. Not for MDB_DUPSORT
 * databases (MDB_APPENDDUP there).
 */
int
jput_append(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v, unsigned flags)
{
	int rc;

	rc = mdb_put(txn, dbi, k, v, flags | MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_put(txn, dbi, k, v, flags);
	return rc;
}

/* ------------------------------------------------- full disk: the map */

/* Pages in the free list, read inside txn (the free DB is dbi 0). */
int
jcount_free(MDB_txn *txn, uint64_t *nfree)
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
int
jmap_grow(struct journal *j)
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
void
jusage_check(struct journal *j, int force)
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
	if (jcount_free(txn, &nfree) != 0)
		nfree = 0;
	jrd_end(j, txn);
	j->free_pages = nfree;
	j->used_pages = upper > nfree ? upper - nfree : 0;
	j->since_count = 0;

	if (j->used_pages >= soft) {
		/* tried again while full: the disk may have room again */
		if (jmap_grow(j) == 0) {
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
