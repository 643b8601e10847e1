/*
 * journal_int.h — what journal.c and eventlog.c share: the journal's state,
 * its transactions and byte helpers. Private to node/.
 */
#ifndef CASCADE_JOURNAL_INT_H
#define CASCADE_JOURNAL_INT_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_crypt.h"
#include "log.h"

#define JKEY_LEN        (CID_LEN + 1)   /* packet key: id, leg */
#define JEV_MAXTRACE    255             /* hops an event record keeps */

struct journal {
	MDB_env *env;
	MDB_dbi meta, packets, queues, marks, expiry, events;
	MDB_dbi evidx;                  /* the event indexes (evindex.c), if has_evidx */
	int has_evidx;                  /* the database exists */
	int ix_on;                      /* the writer keeps them (not audit-index no) */
	int ix_ok;                      /* complete: queries may use them */
	pthread_rwlock_t rw;            /* read txns shared, map growth exclusive */
	pthread_mutex_t errmu;
	/*
	 * Per queue, the highest seq a link has sent whose fate its peer has not
	 * told yet (journal_peek_sent, journal_sent_set). sentmu also spans the
	 * expiry sweep's transaction, so a packet is never expired between being
	 * read for sending and being marked sent.
	 */
	pthread_mutex_t sentmu;
	struct jsent { uint32_t qid; uint64_t upto; } *sent;
	unsigned nsent;
	char *dir;
	uint32_t format;
	int sync;
	uint64_t map_max, disk_floor;
	unsigned soft_pct;
	size_t psize;
	uint64_t map_size;

	/* writer-only state */
	uint64_t ev_seq;                /* last committed event */
	uint8_t ev_hash[CSHA256_LEN];
	uint64_t free_pages;            /* at the last count */
	uint64_t used_pages;
	unsigned since_count;           /* commits since that count */
	int full;
	int disk_full;                  /* the last commit failed for want of disk */
	uint64_t grows, body_prunes;
	uint8_t prune_next[JKEY_LEN];   /* where the next body prune starts */
	int prune_has_next;
	uint8_t *buf, *ebuf;            /* scratch for packet and event records */
	size_t bufsz, ebufsz;
	uint8_t *dbuf;                  /* scratch for an opened (decrypted) body */
	size_t dbufsz;

	struct jkeyring keys;           /* journal-key: keys[0] seals new records */

	char err[512];

	/* latencies for the metrics: written by the writer, read by anyone (atomics) */
	struct jhist h_commit, h_sync;
};

/* A write transaction and the event-chain tail as seen inside it. */
struct wtx {
	struct journal *j;
	MDB_txn *txn;
	uint64_t ev_seq;
	uint8_t ev_hash[CSHA256_LEN];
};

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, (uint32_t)v);
}

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static inline const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* journal.c */
int jfail(struct journal *, int, const char *, ...) PRINTF(3, 4);
void *jgrow_buf(uint8_t **, size_t *, size_t);
int jrd_begin(struct journal *, MDB_txn **);
void jrd_end(struct journal *, MDB_txn *);
int jwtx_begin(struct journal *, struct wtx *);
int jwtx_commit(struct wtx *);
void jwtx_abort(struct wtx *);
Cascade__Packet *jpkt_load(struct journal *, MDB_txn *, const uint8_t *);

/* eventlog.c */
int jev_append(struct wtx *, struct jevent *);
void jev_set_packet(struct jevent *, const Cascade__Packet *, const char **);
void jev_index_build(struct journal *);

/* evindex.c */
int jix_open(struct journal *, MDB_txn *, const struct journal_opts *, char *, size_t);
int jix_put(struct journal *, MDB_txn *, const struct jevent *);
int jix_has(struct journal *, MDB_txn *, uint64_t, int64_t);
int jix_collect(struct journal *, MDB_txn *, const struct jev_where *, uint64_t **, size_t *);
int jix_progress(struct journal *, MDB_txn *, uint64_t *);
int jix_progress_set(struct journal *, MDB_txn *, uint64_t);

#endif /* CASCADE_JOURNAL_INT_H */
