/*
 * server_int.h — what the server's files share: a session, the reply
 * helpers, and their prototypes grouped by file. Private to node/.
 *
 * Each file calls only files listed below it, so none calls back into a
 * file that called it (a held pull's wake comes through queue_wait, a
 * journal job's done through jthread, a held push's timer through libevent):
 *
 *   server.c           dispatch, Routes, Trace     -> auth, session, push, pull, reply
 *   server_auth.c      Hello, Auth, nonces         -> session, reply
 *   server_session.c   sessions: find, add, end    -> push, pull
 *   server_push.c      Push, early pushes held     -> reply (custody.c: the intake)
 *   server_pull.c      Pull, acks, receipts, held  -> reply (custody.c: the outbound)
 *                      pulls
 *   server_reply.c     replies and failures        (the carrier's sreq->reply)
 *
 * The carriers call server.c (server_request) and server_session.c
 * (server_conn_gone, server_expire_idle): carrier.h; reload.c and
 * snapshot.c call server_session.c (server_peer_end, server_peer_carrier):
 * cascaded.h.
 */
#ifndef CASCADE_SERVER_INT_H
#define CASCADE_SERVER_INT_H

#include "custody.h"
#include "hashtab.h"

#define STATUS(x) CASCADE__STATUS__STATUS_##x
#define MSG(x) CASCADE__MSG_TYPE__MSG_##x
#define SEQ_WINDOW 256                  /* request counters remembered per session */

/*
 * A child's or client's login, from Auth until it ends (server_session.c):
 * the parent's side of a session of the link protocol. The child's side of
 * the same session is the uplink's (uplink.c, u->session) or the SDK's
 * (client-sdk/session.c); "link" is the connection that carries sessions,
 * one after another.
 */
struct session {
	uint64_t id;
	struct peer *peer;
	int carrier;
	uint64_t conn;
	int tls;
	uint8_t key[SESSION_KEY_LEN];
	struct sreq *held;              /* a held pull */
	uint64_t push_epoch, push_next; /* where the next push should start */
	TAILQ_HEAD(, held_push) held_pushes; /* pushes that arrived early, by first_seq */
	unsigned nheld_pushes;
	struct event *push_timer;
	int64_t last_ms;
	uint64_t seq_top;               /* the highest request counter seen */
	uint64_t seq_seen[SEQ_WINDOW / 64]; /* and which of the SEQ_WINDOW below it */
	uint64_t up_epoch;              /* its first upward stream: who it is */
	uint64_t handed_epoch, handed_before; /* what others were handed before it began */
	TAILQ_ENTRY(session) entry;     /* all sessions (the idle sweep, ending them all) */
	struct hnode by_id, by_conn;    /* found by id, by (carrier, conn) */
};


static inline const char *
carrier_name(int c)
{
	return c == CASCADE__CARRIER__CARRIER_HTTP ? "http" : "tcp";
}

/* The CONF_CARRIER_* bit of a Carrier. */
static inline int
carrier_bit(int c)
{
	return c == CASCADE__CARRIER__CARRIER_HTTP ? CONF_CARRIER_HTTP : CONF_CARRIER_TCP;
}

/* ------------------------------------------------------ server_auth.c */
void do_hello(struct sreq *r);
void do_auth(struct sreq *r);
/* Forgets every pending challenge (server_shutdown). */
void auth_shutdown(void);

/* --------------------------------------------------- server_session.c */
/* Ends s: its held pull answered empty, its held pushes submitted; frees it. */
void session_end(struct session *s, const char *why);
struct session *session_find(uint64_t id);
/* A session just authenticated: visible to requests from now on. */
void session_add(struct session *s);
void sessions_end_all(const char *why);
/* The configured peer of that name and kind (not one a reload removed), or NULL. */
struct peer *peer_find(const char *name, uint32_t kind);

/* ------------------------------------------------------ server_push.c */
void do_push(struct sreq *r, struct session *s);
/* Submits held pushes that now follow on (or all of them, when all is set). */
void push_release(struct session *s, int all);

/* ------------------------------------------------------ server_pull.c */
void do_pull(struct sreq *r, struct session *s);
/* Answers pull r with no packets, from where it asked. */
void pull_reply_empty(struct sreq *r);

/* ----------------------------------------------------- server_reply.c */
/* Answers r (body may be NULL) and hands it back to its carrier; r is gone after. */
void sreply(struct sreq *r, uint32_t status, const char *error, const uint8_t *body,
    size_t bodylen);
/* Answers r with status OK and m packed as the body. */
void sreply_msg(struct sreq *r, const ProtobufCMessage *m);
/* Logs why r fails, naming its peer and address, and answers it with status and that text. */
void sfail(struct sreq *r, uint32_t status, const char *fmt, ...) PRINTF(3, 4);

#endif
