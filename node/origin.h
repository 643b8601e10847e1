/*
 * origin.h — the packets this node originates (node/origin.c): notices to
 * a packet's source, audit copies, the answer to a cancel, the expiry
 * sweep. A header of its own so that who makes packets of the node's own
 * is one grep away (#include "origin.h"): the listening side, the uplink,
 * the control socket, delay warnings and main.c; origin.c itself calls
 * only downward (route.c, queue.c, the journal thread, limits.c).
 */
#ifndef CASCADE_ORIGIN_H
#define CASCADE_ORIGIN_H

#include "cascaded.h"

/*
 * Sends a notice about p to p's src (as a local-origin packet): code is a
 * NoticeCode, reason/text for rejects. Nothing for notices and audit
 * copies themselves (a notice about a notice could loop).
 */
void origin_notice(const Cascade__Packet *p, uint32_t code, uint32_t reason, const char *text);
/*
 * The notice origin_notice would send, routed into it but not committed:
 * the caller commits it (in its own transaction, e.g. with the ack that
 * produces a receipt), then calls origin_local_committed(it), and frees the
 * packet returned. NULL: no notice is due, or none could be made (logged);
 * it untouched.
 */
Cascade__Packet *origin_notice_routed(const Cascade__Packet *p, uint32_t code, uint32_t reason,
    const char *text, struct jitem *it, char *why, size_t whylen);
/* After a local packet's commit: wakes its queues if accepted, else says why it is lost. */
void origin_local_committed(const struct jitem *it);
/* origin_notice for news about p waiting here: down from here when p's src is in this subtree. */
void origin_notice_here(const Cascade__Packet *p, uint32_t code, const char *text);
/*
 * Packet p from a client session was refused for good: tells that client
 * (its own address, whatever src p claims) "undeliverable", or "expired" /
 * "rejected" when p asked for notices (master/rules.c's bounce policy).
 */
void origin_rejected_from_client(const Cascade__Packet *p, const struct peer *client,
    uint32_t reason, const char *text);
/*
 * The parent refused a packet this node pushed (a rejects[] entry of the
 * push reply): this node took it from its sender, so it tells the source,
 * down from here, as above. The parent never notifies for a child's packets.
 */
void origin_rejected_above(const Cascade__Reject *r);
/* Commits a local-origin packet (a notice, an audit copy): ownership taken. */
void origin_submit_local(Cascade__Packet *p);
/* The audit copy of p, which this node just turned (route_acts.audit_copy). */
void origin_audit_copy(const Cascade__Packet *p);
/*
 * A cancel this node just took custody of: removes the packet it names
 * from this node's queues, and at the destination's node answers its
 * source, once ("cancelled" or "too late").
 */
void origin_cancel(const Cascade__Packet *p);
/* Both legs of packet id left their queues by a cancel: their quota goes back. */
void origin_cancel_release(const uint8_t id[CID_LEN]);
/* Starts the expiry sweep (a timer on node->base, armed for the earliest deadline). */
void origin_start_timers(void);
/*
 * A deadline was indexed (a packet taken in, a notice made, a replay): the
 * sweep runs by then. 0: some deadline, unknown; the index is read again.
 */
void origin_expiry_at(int64_t deadline_ms);

#endif
