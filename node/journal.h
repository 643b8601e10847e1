/*
 * journal.h — the node's LMDB journal: every packet, every queue, every
 * stream mark and the hash-chained event log.
 *
 * Caveats
 * - One writer. Every function that writes (all but the journal_read_* and
 *   journal_*_get / peek / stats / verify / events functions) must be called
 *   from one thread at a time: the daemon's journal thread, or a test's main
 *   thread. Readers may run on any thread at the same time (MDB_NOTLS).
 * - Durability: with sync on (the default) every commit has reached the disk
 *   (LMDB's fdatasync plus its O_DSYNC meta-page write) before the call
 *   returns. journal_open refuses MDB_NOSYNC, MDB_NOMETASYNC and
 *   MDB_MAPASYNC unless sync is off. No MDB_WRITEMAP.
 * - Full disk is backpressure, not loss: see journal_commit_batch and
 *   JOURNAL_FULL. Acks, trims, expiry and prunes commit in transactions of
 *   their own, apart from inserts, so they go through when inserts cannot.
 *   The one exception, journal_ack_with, puts the receipts an ack produces
 *   in the ack's transaction, and commits them apart again when the
 *   journal is full.
 * - Times are wall-clock milliseconds (cnow_ms()); callers pass "now" so
 *   tests can drive time.
 * - Functions return 0 on success or a JOURNAL_* code (negative) or an LMDB
 *   code (positive, mdb_strerror()); journal_errmsg() has the message of the
 *   calling thread's last failure (a thread-local buffer: another thread's
 *   failure never replaces it, and a message read on another thread than
 *   the one whose call failed is not that call's; the daemon's journal
 *   thread copies a job's message into the job, struct jjob's err).
 *
 * Layout (named databases in one environment)
 *   meta     "format" -> u32 version; "node" -> node id; "q:<name>" -> queue
 *            id; "qn:<id>" -> queue state; "jk:<kid[8]>" -> u64
 *            bodies sealed under that key id; other keys: journal_meta_put.
 *   packets  (id[16], leg) -> record header + encoded Packet, sealed with
 *            AES-256-GCM when a journal key is configured (journal_crypt.h)
 *   queues   (queue id BE32, seq BE64) -> packet key
 *   marks    (epoch BE64, peer) -> highest committed seq (BE64)
 *   expiry   (deadline ms BE64, packet key) -> ""
 *   events   (event seq BE64) -> hash[32] + encoded event record
 *   (queues also hold a queue's priority lanes: keys from JSEQ_LANE, below)
 *
 * Words (the journal's short struct names)
 *   jitem    one packet offered to a commit, and what became of it
 *   jbatch   the jitems that arrived together from one sender's stream,
 *            committed in one transaction (group commit: several at once)
 *   jentry   one queue entry read back for sending or listing (peek)
 *   jqueue_info  a queue's state: name, kind, next and acked seq, depth
 *   jrec     a packet record's parsed header (journal_int.h)
 *   wtx      a write transaction with the event chain's head (journal_int.h)
 *   jjob     a job for the daemon's journal thread (cascaded.h, jthread.c):
 *            run there, then done on the loop
 */
#ifndef CASCADE_JOURNAL_H
#define CASCADE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "packets.h"

#define JOURNAL_FORMAT 1             /* on-disk format this cascade writes */

/* Negative codes; positive codes are LMDB's. */
#define JOURNAL_FULL        (-30)    /* no room: refuse new packets, retry later */
#define JOURNAL_FORMAT_NEWER (-31)   /* written by a newer cascade */
#define JOURNAL_BAD_NODE    (-32)    /* belongs to another node id */
#define JOURNAL_BAD_OPTS    (-33)    /* e.g. NOSYNC flags with sync on */
#define JOURNAL_OUT_OF_ORDER (-34)   /* batch starts above mark + 1: not stored */
#define JOURNAL_RANGE       (-35)    /* ack above the highest assigned seq */
#define JOURNAL_NOT_FOUND   (-36)
#define JOURNAL_CORRUPT     (-37)    /* a record that does not decode */
#define JOURNAL_SYS         (-38)    /* a system call failed: errno is in the message */
#define JOURNAL_NOT_YOURS   (-39)    /* cancel: the packet has another source */
#define JOURNAL_NO_KEY      (-40)    /* a body sealed under a journal key not configured */
#define JOURNAL_NO_INDEX    (-41)    /* no complete event indexes: scan instead */

enum jleg { JLEG_UP = 0, JLEG_DOWN = 1 };

/* The key of a stored packet: the same id may be stored once per leg. */
struct jkey {
	uint8_t id[CID_LEN];
	uint8_t leg;
};

enum jqueue_kind {
	JQ_LINK = 1,        /* toward the parent or a child node: acks log 'forwarded' */
	JQ_CLIENT = 2,      /* a client's inbox: acks log 'delivered' */
};

enum jev_type {
	JEV_ACCEPTED = 1,   /* custody taken */
	JEV_FORWARDED,      /* the next hop acked it */
	JEV_DELIVERED,      /* the destination client acked it */
	JEV_REJECTED,       /* refused for good, with reason */
	JEV_EXPIRED,
	JEV_CANCELLED,
	JEV_REPLAYED,
	JEV_DUPLICATE,      /* a copy of a packet already held (not stored again) */
	JEV_BODY_PRUNED,    /* the body of a delivered packet was dropped early (disk full) */
	JEV_CONFIG_LOADED,
	JEV_STARTED,
	JEV_STOPPED,
	JEV_NOTE,           /* free text from the daemon (e.g. "sync off") */
	JEV_PAYLOAD_READ,   /* an operator read the payload (peer: who; cascadectl audit show --payload) */
	JEV_ANCHOR,         /* the chain's head, noted for auditors (text: its hash) */
};

/* One event record. Strings are borrowed (not copied) by journal_event_* and
 * owned by the journal's iterator buffer in journal_events(). */
struct jevent {
	uint64_t seq;               /* out: position in the log, from 1 */
	uint32_t type;              /* jev_type */
	int64_t time_ms;
	uint8_t id[CID_LEN];        /* all zero when not about a packet */
	uint8_t leg;
	const char *peer;           /* the link or client concerned, or "" */
	const char *src, *dst;      /* of the packet, or "" */
	const char *const *trace;   /* node ids of the hop trace */
	unsigned ntrace;
	uint8_t payload_sha[CSHA256_LEN]; /* SHA-256 of the stored payload bytes */
	uint32_t reason;            /* Reason for REJECTED */
	const char *text;           /* detail, or "" */
	uint8_t hash[CSHA256_LEN];  /* out: SHA-256(previous hash || record) */
	/* out (journal_events): the encoded record as hashed, in the map
	 * (valid until fn returns), for copies that must stay verifiable */
	const uint8_t *rec;
	size_t reclen;
	/*
	 * In, for the indexes only (not part of the record, NULL when unknown):
	 * the packet's command and the id it refers to (a notice, cancel or
	 * audit copy). jev_set_packet fills them.
	 */
	const char *command;
	const uint8_t *ref;
};

struct jkeyring;   /* journal_crypt.h */

struct journal_opts {
	const char *dir;            /* directory, created if missing */
	const char *node_id;        /* recorded at creation, checked at open */
	uint64_t map_size;          /* initial map size in bytes (default 64 MiB) */
	uint64_t map_max;           /* never grow beyond (0 = no limit but the floor) */
	uint64_t disk_floor;        /* free bytes the filesystem must keep: growth stops there */
	unsigned soft_pct;          /* grow / prune when pages in use reach this % (default 80) */
	int sync;                   /* 1 durable (default for the daemon), 0 no fsync */
	unsigned env_flags;         /* extra MDB_* flags (tests); NOSYNC kinds refused with sync */
	int readonly;               /* read only (MDB_RDONLY), e.g. an audit beside the daemon:
	                               LMDB lets readers run while the daemon writes */
	const struct jkeyring *keys; /* journal-key (copied): NULL or none = bodies stored
	                               in clear; keys[0] seals new ones, all open old ones */
	int no_index;               /* do not keep the event indexes (audit-index no): queries
	                               then scan; a writer without it builds missing ones */
	unsigned queue_window;      /* numbered entries a queue keeps waiting before new ones
	                               wait in its lanes (0: JQ_WINDOW_DEFAULT) */
};

struct journal;

/*
 * Opens or creates the journal in o->dir. Checks the recorded format
 * (JOURNAL_FORMAT_NEWER when newer than this build; older formats are read)
 * and node id (JOURNAL_BAD_NODE). Unless read only, refuses (JOURNAL_NO_KEY)
 * a journal holding bodies sealed under a key id o->keys does not list,
 * naming the key id and how many records need it; clear bodies of a
 * journal that had no key stay readable. Read only, it opens anyway and a
 * body it cannot open is JOURNAL_NO_KEY (events and metadata still read). On failure *jp is NULL and err (if not
 * NULL) holds a message naming the directory.
 */
int journal_open(struct journal **jp, const struct journal_opts *o, char *err, size_t errlen);
/* Closes; no transaction may be open. NULL is allowed. */
void journal_close(struct journal *j);
/*
 * The message of the calling thread's last failure (never NULL; valid until
 * that thread's next failing call). NULL j: "journal: not open".
 */
const char *journal_errmsg(const struct journal *j);
const char *journal_strerror(int rc);

/* ------------------------------------------------------------- queues */

/*
 * Priority lanes. A queue numbers a packet (gives it the stream's next seq)
 * at once while fewer than the window's count of numbered packets wait in
 * it and nothing waits unnumbered; otherwise the packet waits unnumbered in
 * a lane: the urgent lane (FLAG_URGENT, unless its (src, dst) flow has a
 * packet waiting in the routine lane) or the routine lane. Lane entries
 * have keys above every real seq, urgent below routine, each lane in
 * arrival order, so the queue's key order is the send order. As acks (or
 * an expiry or cancel) make room, lane entries are numbered, urgent first,
 * in the same transaction. Only numbered entries are sent; lanes are in
 * the journal, so a restart keeps them. The lanes' keys stay below 2^53,
 * so they are exact as JSON numbers (cascadectl queue --json, --after); a
 * stream's seqs may reach 2^52 (a million packets a second for 140 years).
 */
#define JSEQ_LANE           (1ULL << 52)    /* seqs from here: lane entries */
#define JSEQ_ROUTINE        (JSEQ_LANE + (1ULL << 51)) /* the routine lane (below: urgent) */
#define JQ_WINDOW_DEFAULT   2048            /* 2 x push-window 4 x max-batch 256 */

struct jqueue_info {
	uint32_t qid;
	uint32_t kind;              /* jqueue_kind */
	char name[96];              /* e.g. "up", "child:fj-xm", "client:fj-xm/dr-lin" */
	uint64_t epoch;             /* this stream's random epoch, never 0 */
	uint64_t next_seq;          /* the seq the next numbered packet gets (from 1) */
	uint64_t acked_seq;         /* highest seq acked by the receiver (0: none) */
	uint64_t depth;             /* packets waiting (numbered and in lanes) */
	uint64_t bytes;             /* their stored bytes */
	uint64_t lanes;             /* of depth, those waiting unnumbered in a lane */
	uint64_t lane_next;         /* arrival counter of the lanes' keys */
};

/* Finds the queue called name or creates it with a new random epoch. */
int journal_queue(struct journal *j, const char *name, uint32_t kind, uint32_t *qid);
int journal_queue_info(struct journal *j, uint32_t qid, struct jqueue_info *out);
/* Calls fn for every queue; stops when fn returns non-zero. */
int journal_queues(struct journal *j, int (*fn)(const struct jqueue_info *, void *), void *arg);

/* One queued packet as read back. bytes is the encoded Packet, malloc'd:
 * the caller frees it (or calls journal_entries_free). */
struct jentry {
	uint64_t seq;
	struct jkey key;
	int64_t accepted_ms;        /* when this node took custody */
	int64_t deadline_ms;        /* 0: no ttl */
	uint8_t *bytes;
	size_t len;
};

/*
 * Reads up to max entries (and about max_bytes, at least one entry) of queue
 * qid with seq >= from_seq, in seq order. *n gets the count. Read-only.
 * One region at a time: from_seq below JSEQ_LANE reads numbered entries
 * only (what may be sent), from JSEQ_LANE on the lanes' entries.
 */
int journal_peek(struct journal *j, uint32_t qid, uint64_t from_seq, unsigned max,
    size_t max_bytes, struct jentry *out, unsigned *n);
void journal_entries_free(struct jentry *e, unsigned n);
/*
 * journal_peek for a link about to send what it reads: the entries read are
 * marked in flight (see journal_sent_set) in the same step.
 */
int journal_peek_sent(struct journal *j, uint32_t qid, uint64_t from_seq, unsigned max,
    size_t max_bytes, struct jentry *out, unsigned *n);
/*
 * Entries of qid with seq <= upto may be at the peer: the expiry sweep leaves
 * them until the peer's ack removes them or the link lowers upto (a resumed
 * session learns the peer's mark). 0: nothing of qid is in flight.
 */
void journal_sent_set(struct journal *j, uint32_t qid, uint64_t upto);
/* The keys of up to max entries of qid with from_seq <= seq <= upto_seq. Read-only. */
int journal_queue_keys(struct journal *j, uint32_t qid, uint64_t from_seq, uint64_t upto_seq,
    struct jkey *out, unsigned max, unsigned *n);

/*
 * Cumulative ack: removes every entry of qid with seq <= upto and logs one
 * event per packet (FORWARDED for JQ_LINK, DELIVERED for JQ_CLIENT, peer =
 * the queue's name). upto below the current ack is a no-op; above the
 * highest assigned seq is JOURNAL_RANGE and changes nothing. Its own
 * transaction. *nacked (may be NULL) gets the number removed.
 */
int journal_ack(struct journal *j, uint32_t qid, uint64_t upto, uint64_t now_ms, unsigned *nacked);
/*
 * journal_ack, and b (local packets it produces, e.g. receipts) committed
 * in the same transaction, so a crash cannot keep the one and lose the
 * other. When they do not fit in one transaction (a full journal or map)
 * the ack commits first and b after it, as journal_ack and
 * journal_commit_batch do; *together (may be NULL) gets 1 when they went
 * in one transaction. b NULL or empty: journal_ack. Returns journal_ack's
 * codes; b's items tell what became of each (JR_FULL: not stored).
 */
struct jbatch;
int journal_ack_with(struct journal *j, uint32_t qid, uint64_t upto, uint64_t now_ms,
    struct jbatch *b, unsigned *nacked, int *together);

/* ------------------------------------------------------ streams / marks */

/*
 * The receiver's mark for (peer, epoch). When the epoch is unknown, records
 * lowest_unacked - 1 as its mark first (a restarted sender or a receiver
 * that lost its disk never wedges the link). *mark gets the mark.
 */
int journal_mark_resolve(struct journal *j, const char *peer, uint64_t epoch,
    uint64_t lowest_unacked, uint64_t *mark);
/* The mark, or JOURNAL_NOT_FOUND for an unknown (peer, epoch). Read-only. */
int journal_mark_get(struct journal *j, const char *peer, uint64_t epoch, uint64_t *mark);

/* --------------------------------------------------------- batch commit */

#define JMAX_QUEUES 4   /* queues one packet can be put in at once */

enum jresult {
	JR_ACCEPTED = 1,    /* stored and queued */
	JR_DUPLICATE,       /* (id, leg) already held: not stored again, counts as taken */
	JR_REJECTED,        /* refused for good: not stored, REJECTED event logged */
	JR_FULL,            /* not stored: journal full (temporary) */
	JR_SKIPPED,         /* seq <= mark: already committed from this stream */
};

struct jitem {
	/* in */
	const Cascade__Packet *pkt; /* decoded, validated, as it will be stored
	                               (this node's hop already in its trace) */
	uint64_t seq;               /* its sequence in the sender's stream (0: none) */
	uint8_t leg;                /* enum jleg it is stored under */
	int64_t deadline_ms;        /* absolute local expiry, 0 = no ttl */
	uint32_t queues[JMAX_QUEUES];
	unsigned nqueues;           /* 0: taken without queueing (e.g. consumed locally) */
	uint32_t reject;            /* 0, or a Reason: not stored, REJECTED logged */
	const char *reject_text;
	/* out */
	uint32_t result;            /* enum jresult */
	uint64_t qseq[JMAX_QUEUES]; /* the seq assigned in each queue */
};

struct jbatch {
	const char *peer;           /* who sent it (for marks and events); "" for local */
	uint64_t epoch;             /* sender's stream epoch; 0: no stream (local origin) */
	uint64_t first_seq, last_seq; /* the stream range this batch covers */
	struct jitem *items;
	unsigned n;
	int64_t now_ms;
	/* out */
	uint64_t mark;              /* the stream's mark after the commit: ack this */
	unsigned accepted, duplicates, rejected, full;
};

/*
 * Commits a batch in one transaction: for each item (in order) stores the
 * packet under (id, leg) unless already held, puts it in its queues with
 * the next seq of each, indexes its deadline, logs ACCEPTED (or
 * DUPLICATE / REJECTED), and advances the (peer, epoch) mark to last_seq.
 *
 * Returns JOURNAL_OUT_OF_ORDER (nothing stored, b->mark = current mark) when
 * first_seq > mark + 1. Items with seq <= mark are JR_SKIPPED. When the
 * journal is full (or the map fills during the batch) the items from the
 * first that did not fit get JR_FULL, the mark stops before it, and the
 * call returns JOURNAL_FULL after committing the items before it.
 */
int journal_commit_batch(struct journal *j, struct jbatch *b);

#define JGROUP_MAX 64     /* batches in one group commit */

/*
 * Group commit: commits n batches (at most JGROUP_MAX) in one transaction
 * and one fsync, as if each had gone through journal_commit_batch in
 * order; rcs[i] gets what that call would have returned for bs[i]. When
 * the group cannot commit whole (a full journal or map, an error), each
 * batch is committed on its own instead. Returns 0.
 */
int journal_commit_batches(struct journal *j, struct jbatch **bs, unsigned n, int *rcs);

/*
 * An ack for a group commit: journal_ack_with's work (qid up to upto, with
 * the local packets of with, which may be NULL: receipts).
 */
struct jack {
	uint32_t qid;
	uint64_t upto;
	uint64_t now_ms;
	struct jbatch *with;
	/* out */
	unsigned nacked;
	int together;               /* with went in the ack's transaction */
};

/* One piece of a group commit: a batch or an ack (the other NULL). */
struct jwork {
	struct jbatch *batch;
	struct jack *ack;
	int rc;                     /* out: what its call on its own would return */
};

/*
 * journal_commit_batches for batches and acks: n pieces (at most
 * JGROUP_MAX) in one transaction and one fsync, in order, as if each had
 * gone through journal_commit_batch or journal_ack_with on its own. An ack
 * of packets the previous hop sent costs no commit of its own then. When
 * the group cannot commit whole (a full journal or map, an ack out of
 * range, an error), each piece goes on its own instead, with those calls'
 * retries and messages. Returns 0.
 */
int journal_commit_group(struct journal *j, struct jwork *ws, unsigned n);

/* ----------------------------------------------------- packets, cancel */

/* Reads a stored packet (bytes malloc'd, caller frees). JOURNAL_NOT_FOUND if absent. */
int journal_packet_get(struct journal *j, const struct jkey *k, uint8_t **bytes, size_t *len,
    int64_t *accepted_ms);

/*
 * Where stored packet k stands here, for the control socket: its record
 * header and, per queue it was put in, whether it still waits there.
 * body is a malloc'd copy of the stored packet (NULL when pruned for disk
 * room; the packet minus its payload, pruned set, when cancelled or
 * expired). Read-only.
 */
struct jwhere {
	int64_t accepted_ms, deadline_ms;
	uint8_t sha[CSHA256_LEN];
	int pruned;
	uint8_t *body;
	size_t bodylen;
	unsigned nq;
	uint32_t qid[JMAX_QUEUES];
	uint64_t qseq[JMAX_QUEUES];
	int waiting[JMAX_QUEUES];
};
int journal_packet_where(struct journal *j, const struct jkey *k, struct jwhere *out);

/*
 * A cancel from src (the cancel packet's own source, "node/client" or
 * "node"): removes packet k from every queue it still waits in and logs
 * CANCELLED. *was_queued gets 1 if it was still waiting anywhere, 0
 * otherwise. Only the packet's source may cancel it: for any other src
 * nothing is removed, a REJECTED event (reason SPOOFED, peer = src) is
 * logged and the call returns JOURNAL_NOT_YOURS. The packet's payload is
 * dropped (its header, the rest of the packet and its events stay, see
 * journal_packet_where): a cancelled packet's payload is no longer in what
 * the journal returns.
 * JOURNAL_NOT_FOUND when k is not held, or its body was pruned for disk
 * room (its source is then unknown, and it waits nowhere).
 */
int journal_cancel(struct journal *j, const struct jkey *k, const char *src, uint64_t now_ms,
    int *was_queued);

/* --------------------------------------------------------------- replay */

enum jrq_result {
	JRQ_REQUEUED = 1,   /* a new entry at the end of the queue, REPLAYED logged */
	JRQ_ABSENT,         /* no record here (retention pruned it, or never here) */
	JRQ_PRUNED,         /* the record without its body: pruned for disk room,
	                       cancelled or expired */
	JRQ_EXPIRED,        /* its deadline has passed: not sent again */
	JRQ_WAITING,        /* it still waits in that queue: it goes anyway */
	JRQ_MOVED,          /* move: taken from its place in the queue to the end */
	JRQ_GONE,           /* move: it no longer waits there */
};

struct jrequeue {
	struct jkey key;            /* in: the stored packet */
	uint32_t qid;               /* in: the queue it goes to again */
	int move;                   /* in: it waits in qid: move it to the end, unless a
	                               link may have sent it (then JRQ_WAITING) */
	uint32_t result;            /* out: enum jrq_result */
	uint64_t seq;               /* out: its new seq there (REQUEUED, MOVED) */
};

/*
 * Replay: puts each stored packet rq[i].key (n at most JREQUEUE_MAX) in
 * queue rq[i].qid again, at the end, as a new entry of that stream (the
 * receiver's (id, leg) dedup drops it if it still holds it), and logs
 * REPLAYED (peer = the queue's name, text "seq N: " then text) for each,
 * all in one transaction. The record's queue list gets the new (qid, seq)
 * in place of its old entry for qid (acked), so cancel, expiry, retention
 * and `show` see it waiting there; its deadline is indexed again. Packets
 * that cannot go again are left as they are, with their result. With
 * move set, a packet still waiting in qid (and not in flight: see
 * journal_sent_set) leaves its place for the end of the queue instead,
 * without an event: replay puts what already waited behind the packets it
 * sends again, so a flow keeps its order. Returns JOURNAL_FULL (nothing
 * done) while the journal is full.
 */
#define JREQUEUE_MAX 256
int journal_requeue(struct journal *j, struct jrequeue *rq, unsigned n, const char *text,
    int64_t now_ms);

/* --------------------------------------------------------------- expiry */

struct jexpired {
	struct jkey key;
	uint8_t *bytes;             /* the packet as stored (malloc'd; caller frees) */
	size_t len;
};

/*
 * Removes packets whose deadline is <= now from every queue (except those
 * in flight on a link: see journal_sent_set), logs EXPIRED
 * for each, drops their bodies (as journal_cancel does), and returns up to max of them in out (*n) so the caller can send
 * notices. Small transactions of its own; call again while *n == max.
 */
int journal_sweep_expired(struct journal *j, int64_t now_ms, unsigned max,
    struct jexpired *out, unsigned *n);
/* The earliest deadline still indexed, or 0 when none. Read-only. */
int64_t journal_next_deadline(struct journal *j);

/* ------------------------------------------------- retention, disk full */

/*
 * Deletes packets accepted before cutoff_ms that no queue holds any more
 * (their event records stay), in transactions of at most max_per_txn.
 * *npruned gets the count.
 */
int journal_prune(struct journal *j, int64_t cutoff_ms, unsigned max_per_txn, uint64_t *npruned);

/*
 * The full-disk state, re-evaluated after commits: at soft_pct of the map
 * in use (free pages counted) the map grows by half while map_max and
 * disk_floor allow (every read transaction of this process closed first);
 * when it cannot, the bodies of delivered packets are dropped oldest first
 * (BODY_PRUNED logged) and, while still over the limit, journal_is_full()
 * is true and new packets get JR_FULL. Called by the writer; cheap.
 */
int journal_maintain(struct journal *j, int64_t now_ms);
int journal_is_full(const struct journal *j);

/* --------------------------------------------------------- event log */

/* Appends one event in its own transaction (config loaded, started...). */
int journal_log(struct journal *j, struct jevent *ev);

/*
 * Calls fn for events with seq >= from in order (read-only; the strings in
 * the jevent live until fn returns). Stops when fn returns non-zero.
 */
int journal_events(struct journal *j, uint64_t from,
    int (*fn)(const struct jevent *, void *), void *arg);

/*
 * What journal_events_where can narrow with the event indexes (evindex.c):
 * a time window and at most one field. Events outside it may still be
 * passed to fn (the window is covered by whole minutes, and an address
 * "node" also means its clients): the caller filters exactly.
 */
enum jix_field {
	JIX_NONE = 0,
	JIX_SRC = 'S',              /* the event's src address */
	JIX_DST = 'D',              /* its dst address */
	JIX_COMMAND = 'C',          /* the packet's command */
	JIX_ID = 'I',               /* the packet id, or the id it refers to */
};
struct jev_where {
	int64_t since_ms, until_ms; /* [since, until), 0 = open */
	int field;                  /* jix_field */
	const void *val;            /* its value (JIX_ID: CID_LEN bytes) */
	size_t vlen;
	int with_clients;           /* JIX_SRC/DST "node": also "node/..." */
};

/*
 * Calls fn in seq order for the events w may match, found through the
 * indexes. Returns JOURNAL_NO_INDEX (nothing called) when the journal has no
 * complete indexes or w narrows nothing: scan with journal_events instead.
 */
int journal_events_where(struct journal *j, const struct jev_where *w,
    int (*fn)(const struct jevent *, void *), void *arg);

/*
 * Whether queries can use the indexes (complete up to the last event), and
 * whether the journal has any (a node with audit-index no never had them).
 */
int journal_indexed(struct journal *j);
int journal_has_index(struct journal *j);

/*
 * Walks the whole chain recomputing every hash. Returns 0 when intact;
 * JOURNAL_CORRUPT with *bad_seq = the first record that does not match.
 * *count gets the number of records checked.
 */
int journal_verify(struct journal *j, uint64_t *count, uint64_t *bad_seq);

/*
 * journal_verify with what an auditor needs: the head hash when intact,
 * else the first bad position, its time (for a missing record, the time of
 * the last good one before it) and what is wrong, for people.
 */
struct jverify {
	uint64_t count;             /* records verified */
	uint8_t head[CSHA256_LEN];  /* the last good record's hash */
	uint64_t bad_seq;           /* 0 when intact */
	int missing;                /* bad_seq is absent (deleted), not altered */
	int64_t bad_time_ms;
	char what[160];
	/* journal_verify_from: where it started, and the anchor */
	uint64_t first_seq;         /* the first record checked (0: none at or after since) */
	int64_t first_time_ms;
	uint8_t start_hash[CSHA256_LEN]; /* the hash it hooks on (first_seq - 1's, or zeros) */
	int anchor_found;
	uint64_t anchor_seq;        /* the record whose hash the anchor is */
	int64_t anchor_time_ms;
};
int journal_verify_ex(struct journal *j, struct jverify *v);

/*
 * journal_verify_ex from the first record at or after since_ms (0: from
 * the first), trusting the stored hash of the record before it (stated in
 * start_hash); with anchor (CSHA256_LEN bytes, or NULL) also whether a
 * record checked, or the one it hooks on, has that hash. A missing anchor
 * is not an error here: the caller says what it means.
 */
int journal_verify_from(struct journal *j, int64_t since_ms, const uint8_t *anchor,
    struct jverify *v);

/*
 * Appends an ANCHOR event holding the chain's head (the hash of the last
 * record before it) in its own transaction: *seq gets that record's
 * position, head its hash (all zero for an empty log).
 */
int journal_anchor(struct journal *j, int64_t now_ms, uint64_t *seq,
    uint8_t head[CSHA256_LEN]);

/* ------------------------------------------------------- meta, stats */

/* Small named values (e.g. "routes:<child>") in the meta database. */
int journal_meta_put(struct journal *j, const char *key, const void *val, size_t len);
/* *val malloc'd (caller frees); JOURNAL_NOT_FOUND if absent. */
int journal_meta_get(struct journal *j, const char *key, void **val, size_t *len);

struct jstats {
	uint32_t format;            /* format of this journal on disk */
	uint64_t map_size;
	uint64_t pages_total;       /* map size / page size */
	uint64_t pages_used;        /* last page in use - free pages */
	uint64_t page_size;
	uint64_t packets;           /* records in packets (bodies or not) */
	uint64_t queued;            /* entries in queues */
	uint64_t events;
	int indexed;                /* they are complete (journal_indexed) */
	uint64_t expiring;          /* entries in the expiry index */
	int full;
	uint64_t grows, body_prunes;
};
int journal_stats(struct journal *j, struct jstats *st);

/*
 * Latency histograms (Prometheus-style cumulative buckets, upper bounds in
 * jhist_bounds_us): commit, a group commit from its first batch to its
 * last answer; sync, the LMDB commit itself (the write and, with sync on,
 * the fsync). Kept with relaxed atomics: any thread may copy them.
 */
#define JHIST_BUCKETS 12
extern const uint64_t jhist_bounds_us[JHIST_BUCKETS];
struct jhist {
	uint64_t le[JHIST_BUCKETS];     /* observations <= jhist_bounds_us[i] */
	uint64_t count;
	uint64_t sum_us;
};
void journal_latency(struct journal *j, struct jhist *commit, struct jhist *sync);

/* ------------------------------------- notify marks (journal_notify.c) */

/*
 * The marks of notify.c and delaywarn.c ("nf:..." meta keys): deletes, of
 * the next max marks after from (a key, "" at first), those whose packet
 * waits in no queue here any more. from (fromlen bytes) gets where the
 * next call goes on, "" when the end was reached. *ndeleted gets the count.
 * A writer; read transaction, then one write transaction.
 */
int journal_notify_gc(struct journal *j, char *from, size_t fromlen, unsigned max,
    unsigned *ndeleted);

/*
 * Scan cursors of notify.c and delaywarn.c: per queue id, the next seq a
 * scan looks at (grown on demand: queue ids are small). Loop thread only.
 */
struct qcursors {
	uint64_t *v;
	size_t n;
};
uint64_t *qcursor_at(struct qcursors *c, uint32_t qid);
void qcursors_free(struct qcursors *c);

#endif /* CASCADE_JOURNAL_H */
