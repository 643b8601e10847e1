/*
 * custody.h — taking packets into custody and handing them on, once for
 * every side (node/custody.c). Loop thread only.
 *
 * Intake: a batch from a child or client (server.c) or from the parent
 * (uplink.c) is routed packet by packet (custody_route), committed by the
 * journal thread, and on the loop again each accepted packet wakes its
 * queues (custody_accepted) and each refused one earns the notice its
 * origin's bounce policy gives it; then the caller's done runs, for what
 * only its side does (stats, the reply, the logs, its stream marks).
 *
 * Outbound: custody_take_out reads a queue from a sequence on and re-encodes
 * each entry for the next hop (route_outgoing); server.c puts the result in
 * a pull reply, uplink.c in a push.
 */
#ifndef CASCADE_CUSTODY_H
#define CASCADE_CUSTODY_H

#include "cascaded.h"

struct custody_batch;
typedef void custody_done_cb(struct custody_batch *cb, void *arg);

/*
 * One batch on its way into custody. The caller owns it (usually embedded
 * first in its own job), sets b's stream fields (peer, epoch, first_seq,
 * last_seq, mark) and, for journal work that must come before the commit
 * (a new down epoch's mark), job.run, which then commits b itself
 * (journal_commit_batch); with job.run NULL the batch goes into the journal
 * thread's group commit. custody_intake fills items, texts, b.items, b.n.
 */
struct custody_batch {
	struct jjob job;
	struct jbatch b;
	struct jitem *items;            /* one per packet */
	char (*texts)[256];             /* their reject texts */
	enum origin from;
	struct peer *peer;              /* the child or client; NULL from the parent */
	custody_done_cb *done;
	void *arg;
};

/*
 * Routes pkts[0..n) (borrowed until done; seqs their stream sequences) from
 * peer and submits their commit. After it, on the loop: accepted packets are
 * counted against peer's quota when they wait in a queue here, and
 * custody_accepted; refused ones get their notice (a client's: the client is
 * told; the parent's: the source is told when it is unroutable here; a
 * child's: none, it hears of them in the reply). Then done(cb, arg), which
 * must custody_batch_free(cb) and may free cb. Nothing per item when the
 * batch was not committed (job.rc neither 0, JOURNAL_FULL nor
 * JOURNAL_OUT_OF_ORDER, whose items stay unset).
 */
void custody_intake(struct custody_batch *cb, Cascade__Packet **pkts, const uint64_t *seqs,
    size_t n, enum origin from, struct peer *peer, custody_done_cb *done, void *arg);
/* Frees what custody_intake allocated in cb (not cb itself, not the packets). */
void custody_batch_free(struct custody_batch *cb);

/*
 * route_packet for this node now, then the audit copy it asks for (submitted
 * to the journal thread at once, after its original's decision).
 */
void custody_route(Cascade__Packet *p, enum origin from, const struct peer *peer,
    struct jitem *it, char *text, size_t textlen);
/* A packet this node just took custody of: wakes its queues, acts on its kind (a cancel). */
void custody_accepted(const struct jitem *it);

/* What custody_take_out read: packets re-encoded for the next hop. */
struct custody_out {
	Cascade__Packet **pkts;         /* n of them, with seqs[] */
	uint64_t *seqs;
	size_t n;
	unsigned entries;               /* entries read, undecodable ones included */
	uint64_t last_seq;              /* the last one's sequence (entries > 0) */
};
/*
 * Reads queue qid from from_seq on, at most max entries and about max_bytes
 * (at least one), marking them sent (journal_peek_sent), and re-encodes each
 * (route_outgoing, at now). An entry that does not decode is logged under
 * who ("server: PEER", "link ID") and left out; the others keep their order.
 * Returns 0 (out filled, free it with custody_out_free) or the journal's
 * error code (out empty).
 */
int custody_take_out(uint32_t qid, uint64_t from_seq, unsigned max, size_t max_bytes,
    const char *who, struct custody_out *out);
void custody_out_free(struct custody_out *out);

#endif
