/*
 * journal_int.h — what the journal's files share: the journal's state, its
 * records, transactions and byte helpers, and their prototypes grouped by
 * file. Private to node/.
 *
 * Each file calls only files listed below it, so none calls back into a
 * file that called it:
 *
 *   journal.c          open, close, meta, stats     -> flight, eventlog, evindex, txn
 *   journal_expire.c   deadlines, retention         -> flight, lane, eventlog, rec, txn
 *   journal_notify.c   notification marks' cleanup  -> commit, txn
 *   journal_commit.c   batches, ack with receipts,  -> queue, lane, eventlog, rec, txn
 *                      packet get/where
 *   journal_flight.c   in flight, cancel, requeue   -> queue, lane, eventlog, rec, txn
 *   journal_queue.c    queues, peek, acks, marks    -> lane, space, eventlog, rec, txn
 *   journal_lane.c     priority lanes, numbering,   -> rec, txn
 *                      unqueue
 *   journal_space.c    early prune when full        -> eventlog, rec, txn
 *   eventlog.c         the event log                -> evindex, rec, txn
 *   evindex.c          the event indexes
 *   journal_rec.c      the record layout            -> txn
 *   journal_txn.c      errors, transactions, the map's size
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

/* packet records (layout in journal.c) */
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
#define JQVAL_LANE_LEN  (JQVAL_LEN + 8) /* in a lane: then the (src, dst) flow */
#define JFLOW_LEN       8               /* a flow: SHA-256(src NUL dst), truncated */
#define JXKEY_LEN       (8 + JKEY_LEN)  /* expiry key: deadline, packet key */
#define JSCAN_MAX       4096            /* records looked at per transaction */

struct journal {
	MDB_env *env;
	MDB_dbi meta, packets, queues, marks, expiry, events;
	MDB_dbi evidx;                  /* the event indexes (evindex.c), if has_evidx */
	int has_evidx;                  /* the database exists */
	int ix_on;                      /* the writer keeps them (not audit-index no) */
	int ix_ok;                      /* complete: queries may use them */
	pthread_rwlock_t rw;            /* read txns shared, map growth exclusive */
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
	uint8_t *lbuf;                  /* scratch for a record renumbered (journal_lane.c) */
	size_t lbufsz;
	unsigned qwindow;               /* numbered entries a queue keeps waiting, at most */

	struct jkeyring keys;           /* journal-key: keys[0] seals new records */

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

/* journal_txn.c */
int jfail(struct journal *, int, const char *, ...) PRINTF(3, 4);
void *jgrow_buf(uint8_t **, size_t *, size_t);
int jrd_begin(struct journal *, MDB_txn **);
void jrd_end(struct journal *, MDB_txn *);
int jwtx_begin(struct journal *, struct wtx *);
int jwtx_commit(struct wtx *);
void jwtx_abort(struct wtx *);
int jwtx_sub_begin(struct wtx *, struct wsave *);
void jwtx_sub_abort(struct wtx *, struct wsave *);
int jwtx_sub_commit(struct wtx *, struct wsave *);
int jput_append(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *, unsigned);
uint64_t jmono_us(void);
void jhist_add(struct jhist *, uint64_t);
int jcount_free(MDB_txn *, uint64_t *);
int jmap_grow(struct journal *);
void jusage_check(struct journal *, int);

/* journal_rec.c */
void jkey_pack(uint8_t *, const uint8_t *, uint8_t);
int jrec_parse(const MDB_val *, struct jrec *);
size_t jrec_plainlen(const struct jrec *);
int jrec_body_dup(const struct journal *, const struct jrec *, const uint8_t *, uint8_t **,
    size_t *);
Cascade__Packet *jrec_decode(struct journal *, const struct jrec *, const uint8_t *);
int jkid_count(struct journal *, MDB_txn *, const uint8_t *, int);
size_t jrec_header(const struct jrec *, uint8_t *);
int jrec_get(struct journal *, MDB_txn *, const uint8_t *, struct jrec *);
int jrec_drop_body(struct journal *, MDB_txn *, struct jrec *, const uint8_t *,
    const uint8_t *, size_t);
void jqkey_pack(uint8_t *, uint32_t, uint64_t);
int jqentry_put(struct journal *, MDB_txn *, uint32_t, uint64_t, const uint8_t *, size_t,
    unsigned);
int jrec_queued(struct journal *, MDB_txn *, const struct jrec *, uint32_t, uint64_t, int *);
int jexpiry_put(struct journal *, MDB_txn *, int64_t, const uint8_t *);
int jexpiry_del(struct journal *, MDB_txn *, int64_t, const uint8_t *);
int jqstate_parse(const MDB_val *, uint32_t, struct jqueue_info *);
int jqstate_get(struct journal *, MDB_txn *, uint32_t, struct jqueue_info *);
int jqstate_put(struct journal *, MDB_txn *, const struct jqueue_info *);

/* journal_lane.c */
int jlane_enqueue(struct journal *, MDB_txn *, struct jqueue_info *, const uint8_t *, size_t,
    const Cascade__Packet *, uint64_t *);
int jlane_fill(struct journal *, MDB_txn *, struct jqueue_info *);
int jrec_unqueue(struct journal *, MDB_txn *, const struct jrec *, unsigned *);

/* journal_space.c */
int jprune_bodies(struct journal *, int64_t, unsigned, unsigned *, int *);

/* journal_queue.c */
int jack_body(struct journal *, struct wtx *, uint32_t, uint64_t, int64_t, unsigned,
    unsigned *, int *);
int jmark_read(struct journal *, MDB_txn *, const char *, uint64_t, uint64_t *);
int jmark_write(struct journal *, MDB_txn *, const char *, uint64_t, uint64_t);

/* journal_flight.c */
uint64_t jsent_upto(const struct journal *, uint32_t);
int jsent_restore(struct journal *);
int jrec_in_flight(const struct journal *, const struct jrec *);

/* eventlog.c */
int jev_append(struct wtx *, struct jevent *);
void jev_set_packet(struct jevent *, const Cascade__Packet *, const char **);
int jev_about_why(struct wtx *, const struct jrec *, const uint8_t *, uint32_t, const char *,
    int64_t, uint32_t, const char *);
int jev_about(struct wtx *, const struct jrec *, const uint8_t *, uint32_t, const char *,
    int64_t, const char *);
void jev_index_build(struct journal *);

/* evindex.c */
int jix_open(struct journal *, MDB_txn *, const struct journal_opts *, char *, size_t);
int jix_put(struct journal *, MDB_txn *, const struct jevent *);
int jix_has(struct journal *, MDB_txn *, uint64_t, int64_t);
int jix_collect(struct journal *, MDB_txn *, const struct jev_where *, uint64_t **, size_t *);
int jix_progress(struct journal *, MDB_txn *, uint64_t *);
int jix_progress_set(struct journal *, MDB_txn *, uint64_t);

#endif /* CASCADE_JOURNAL_INT_H */
