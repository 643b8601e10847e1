/*
 * cascaded.h — the daemon's private header: its state and the prototypes of
 * each module, grouped by file.
 *
 * Threads: the libevent loop thread owns every structure here. nng calls
 * back on its own threads; those callbacks only post work to the loop
 * (loop_post). The journal has one writer, the journal thread (jthread.c);
 * the loop thread reads the journal directly (LMDB readers never block).
 */
#ifndef CASCADE_CASCADED_H
#define CASCADE_CASCADED_H

#include <sys/queue.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "journal.h"
#include "log.h"
#include "packets.h"
#include "queue.h"            /* struct qwaiter: who waits on a queue */
#include "carrier.h"          /* struct sreq, the carriers' table */

#define SESSION_KEY_LEN CSHA256_LEN

/* glibc's sys/queue.h lacks the _SAFE iterators */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                      \
	for ((var) = TAILQ_FIRST((head));                               \
	    (var) && ((tvar) = TAILQ_NEXT((var), field), 1);            \
	    (var) = (tvar))
#endif

struct session;
struct sreq;

/* A child node or a local client, as this node's server sees it. */
struct peer {
	int kind;                       /* CASCADE__PEER_KIND__PEER_NODE / _CLIENT */
	char name[CADDR_TEXT_MAX + 1];  /* node id, or "node/client" */
	const struct conf_child *child; /* one of these two */
	const struct conf_client *client;
	const uint8_t *secret;
	size_t secretlen;
	int carriers;                   /* CONF_CARRIER_* allowed */
	int prefer;
	uint32_t qid;                   /* its inbox: what flows down to it */
	char **subtree;                 /* node ids it claimed and may claim (children) */
	size_t nsubtree;
	struct session *sess;           /* current session, or NULL */
	unsigned challenges;            /* Hello challenges pending (limits.c) */
	double rate_tokens;             /* push-rate bucket (limits.c) */
	int64_t rate_ms;
	int64_t rate_logged_ms;
	uint64_t q_packets, q_bytes;    /* its packets held here (limits.c quotas) */
	uint64_t bytes_in, bytes_out;   /* requests and replies of its sessions (metrics) */
	int64_t quota_logged_ms;
	/* the session a newer one took over: its "no session" replies are
	 * signed with its key, so its owner can tell a takeover from a forgery */
	uint64_t old_sess;
	uint8_t old_key[SESSION_KEY_LEN];
	/* the highest sequence of its inbox (stream handed_epoch) put in a pull
	 * reply since this daemon started, and the upward stream epoch of the
	 * session it went to (which names that session's SDK state): what a
	 * newer session from other state may get again */
	uint64_t handed_epoch, handed_seq, handed_owner;
	int64_t seen_ms;                /* wall clock of its last request, 0: none yet */
	int removed;                    /* dropped by a reload: its queue stays, no logins */
	uint64_t logins;                /* sessions up since start (reconnects: the ones after the first) */
	uint64_t receipts_upto;         /* its inbox seq up to which receipts are built (server.c) */
};

struct node {
	struct conf *conf;
	const char *id;
	int master;
	struct event_base *base;
	struct journal *j;
	uint32_t q_up;                  /* toward the parent (not on the master) */
	struct peer *peers;             /* children then clients, then peers reloads added */
	size_t npeers, peers_cap;       /* never reallocated: sessions point into it */
	struct uplink *up;              /* NULL on the master */
	volatile int stopping;
	uint64_t stat_accepted, stat_rejected, stat_duplicates, stat_delivered;
	uint64_t stat_sent;             /* packets acked by the next hop or client */
	uint64_t stat_refused_rate, stat_refused_quota, stat_refused_size, stat_auth_failed;
	/* bytes on the wire (envelopes): served to children and clients, and to the parent */
	uint64_t stat_bytes_in, stat_bytes_out, stat_up_bytes_in, stat_up_bytes_out;
};

extern struct node *node;

/* ------------------------------------------------------------- loop.c */
/* Runs fn(arg) on the loop thread soon; callable from any thread. */
void loop_init(struct event_base *base);
void loop_post(void (*fn)(void *), void *arg);
void loop_shutdown(void);

/* ---------------------------------------------------------- jthread.c */
/*
 * One unit of journal work, done() on the loop afterwards: run() on the
 * journal thread; or (run NULL) the commit of batch or of ack, which the
 * journal thread puts in one transaction and one fsync with the batches and
 * acks queued next to it (group commit; journal_commit_group). An ack's
 * prep() (may be NULL) runs first on the journal thread, outside the
 * transaction; when it fails, rc is its code and the ack is not made. rc
 * gets what run(), prep() or the commit returned, err (when rc is not 0)
 * the journal's message for it: journal_errmsg() is per thread, so done()
 * must read err, not journal_errmsg(). A group's failed pieces get the
 * group's last message.
 */
struct jjob {
	TAILQ_ENTRY(jjob) entry;
	int (*run)(struct journal *, struct jjob *);
	struct jbatch *batch;
	struct jack *ack;
	int (*prep)(struct journal *, struct jjob *);
	void (*done)(struct jjob *);
	int rc;
	char err[512];
};
void jthread_start(struct journal *j);
void jthread_submit(struct jjob *job);
/* Waits for every submitted job to finish, then stops the thread. */
void jthread_stop(void);

/* ----------------------------------------------------------- routes.c */
/* Which node ids live below which child (loop thread). */
/* Whether child node p is node id nodeid or claimed it (0 for a client). */
int routes_peer_has(const struct peer *p, const char *nodeid);
/* The peer whose subtree holds node id, or NULL. */
struct peer *routes_child_for(const struct node *n, const char *nodeid);
/* Queue id that delivers to addr here (client inbox), or 0. */
uint32_t routes_local_queue(const struct node *n, const char *addr);
/* The peer of that kind and name (one a reload removed only when with_removed), or NULL. */
struct peer *routes_peer_named(const struct node *n, int kind, const char *name,
    int with_removed);
/* A peer's entry was (re)filled: the index is rebuilt on its next use. */
void routes_peers_changed(void);
/* Whether nodeid is this node or lies below one of its children. */
int routes_in_subtree(const struct node *n, const char *nodeid);
/*
 * Sets child p's subtree to the ids of ids[] the config lets it claim (the
 * others appended to *refused, borrowed, when refused is not NULL); returns
 * the kept list as "id\n" text (malloc'd) to save under routes_key, and
 * runs the change hook.
 */
char *routes_set_subtree(struct peer *p, char **ids, size_t n, char ***refused, size_t *nrefused);
/* The journal meta key of p's subtree. */
void routes_key(const struct peer *p, char *key, size_t len);
/* Every node id below this node (borrowed strings; the array malloc'd). */
char **routes_mine(size_t *n);
/* Loads subtrees from the journal at start (before the hook is set). */
void routes_load(void);
/* fn(arg) after every subtree change; one slot (uplink_start sets it, uplink_stop clears it). */
void routes_on_change(void (*fn)(void *), void *arg);

/* ------------------------------------------------------------ route.c */
/* Where a packet came from. */
enum origin { FROM_LOCAL = 0, FROM_CHILD, FROM_CLIENT, FROM_PARENT };
/* What the caller of route_packet must do next. */
struct route_acts {
	unsigned audit_copy:1;          /* submit an audit copy of the packet */
	unsigned turned:1;              /* this node turned it downward */
};
/*
 * What happens to packet p here (decoded, owned by the caller). Pure: no
 * I/O, no journal, no globals; reads only n and its conf (max_packet,
 * local_delivery, audit_copy). Validates, rejects spoofed src and loops,
 * subtracts nothing (the sender already sent its remaining ttl), appends
 * n's hop arrived at now_ms, sets the leg, and fills it (queues, leg,
 * deadline, or reject + text) and acts.
 */
void route_packet(const struct node *n, Cascade__Packet *p, enum origin from,
    const struct peer *peer, int64_t now_ms, struct jitem *it, char *text, size_t textlen,
    struct route_acts *acts);
/* Re-decodes a stored packet for sending: remaining ttl (at least 1 ms), held time of our hop. */
Cascade__Packet *route_outgoing(const struct jentry *e, int64_t now_ms);

/* ---------------------------------------------------------- custody.c */
/* custody_intake, custody_take_out, custody_route, custody_accepted: custody.h */
/* The packets this node originates (notices, audit copies, cancel, expiry): origin.h */

/* ----------------------------------------------------------- limits.c */
#define LIM_PRESESSION_MAX (64u << 10)  /* a Hello or Auth request, at most */
#define LIM_HELLO_MAX 1024              /* a Hello body */
#define LIM_AUTH_STREAMS_MAX 64
#define LIM_AUTH_SUBTREE_MAX 4096
#define LIM_PACKET_OVERHEAD (16u << 10) /* a packet's fields beside its payload */
#define LIM_CHALLENGES_PER_PEER 4       /* a new Hello drops the peer's oldest */
#define LIM_CHALLENGES_PER_ADDR 256     /* then Hellos from the address are refused */
/*
 * Unpacks a message a peer sent within a memory budget (a multiple of its
 * size). NULL when it does not decode; *exceeded then tells whether it
 * decoded to more than the budget. Free it with the usual free_unpacked(m, NULL).
 */
void *lim_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
    int *exceeded);
/* The type and session of an encoded Request; -1 when it is not a message. */
int lim_request_peek(const uint8_t *buf, size_t len, uint32_t *type, uint64_t *session);
/*
 * Counts and sizes of an encoded Auth / Push against the limits, before it
 * is unpacked: 0, or a Status with why set.
 */
int lim_auth_check(const uint8_t *body, size_t len, char *why, size_t whylen);
int lim_push_check(const uint8_t *body, size_t len, char *why, size_t whylen);
/* A pending challenge for the address of peeraddr: 0, or -1 when it has too many. */
int lim_challenge_take(const char *peeraddr);
void lim_challenge_drop(const char *peeraddr);
/* Milliseconds logins from peeraddr stay refused (auth-fail-max reached), or 0. */
int64_t lim_auth_locked(const char *peeraddr);
/* Counts a failed login; 1 when it should be logged one by one, 0 when summed up later. */
int lim_auth_failed(const char *peeraddr);
/* Forgets every address's failed logins (a reload added a peer or changed a secret). */
void lim_auth_forgive(void);
/* Takes one push from p's push-rate bucket: 0, or -1 when over the rate. */
int lim_push_rate(struct peer *p);
/*
 * Quotas (quota-packets, quota-bytes) of packets held here per peer. check:
 * whether npk more packets of about bytes fit p's quota (-1 with why set
 * when not); take: a packet from p was taken into custody (its journal key);
 * release: these keys left a queue. lim_quota_keys (any thread; the journal
 * thread before an ack) lists the keys an ack of qid up to upto removes.
 */
int lim_quota_on(void);
int lim_quota_check(const struct peer *p, long npk, size_t bytes, char *why, size_t whylen);
void lim_quota_take(struct peer *p, const uint8_t id[CID_LEN], uint8_t leg, size_t bytes);
void lim_quota_release(const struct jkey *k, unsigned n);
int lim_quota_keys(struct journal *j, uint32_t qid, uint64_t upto, struct jkey **keys,
    unsigned *n);
void lim_shutdown(void);

/* ----------------------------------------------------------- server.c */
/* server_request, server_conn_gone, server_expire_idle: carrier.h. The
 * server's own files (server_*.c) share node/server_int.h. */
void server_init(void);
void server_shutdown(void);
/* server_session.c: the carrier name of p's session ("tcp", "http"), or NULL. */
const char *server_peer_carrier(const struct peer *p);
/* Ends p's session, if any (reload.c: a removed peer or a changed secret). */
void server_peer_end(struct peer *p, const char *why);

/* ---------------------------------------------------------- uplink.c */
struct uplink;
struct uplink *uplink_new(const struct conf_parent *pc);
void uplink_start(struct uplink *u);
void uplink_stop(struct uplink *u);
/* A reload changed the parent block (not its id): the link is rebuilt under pc. */
void uplink_reconfigure(struct uplink *u, const struct conf_parent *pc);
/*
 * The operator's hands on the link (control.c): pause closes the connection
 * and stops every timer until resume; retry redials now with a new carrier
 * and the backoff reset. -1 when already paused / not paused / paused.
 */
int uplink_pause(struct uplink *u);
int uplink_resume(struct uplink *u);
int uplink_retry(struct uplink *u);
enum uplink_state { UPLINK_UP = 1, UPLINK_CONNECTING, UPLINK_DOWN, UPLINK_PAUSED };
/* What the link is doing; the strings live as long as the link. */
struct uplink_info {
	const char *id;
	enum uplink_state state;        /* DOWN: failed since it was last up */
	const char *carrier, *why, *url, *last_error;
	int64_t last_error_ms;          /* wall clock, 0: never */
	uint64_t reconnects;            /* sessions up after the first */
	uint64_t rebuilds;              /* carriers rebuilt (watchdog, retry, fallback) */
};
void uplink_info(const struct uplink *u, struct uplink_info *out);
/*
 * MSG_TRACE to the parent about packet id: cb gets the reply's body (a
 * TraceReply) or, error set, why there is none (the link down, no reply).
 */
typedef void uplink_trace_cb(void *arg, const char *error, const uint8_t *body, size_t len);
void uplink_trace(struct uplink *u, const uint8_t id[CID_LEN], uplink_trace_cb *cb, void *arg);

/* ----------------------------------------------------------- notify.c */
/*
 * Offline notices (offline-notify-url): POSTs a JSON notice for a packet
 * that waited longer than offline-notify-after for an offline client, on a
 * thread of its own; at least once per (packet, client), journaled.
 */
void notify_start(void);
void notify_stop(void);
void notify_stats(uint64_t *sent, uint64_t *failures, unsigned *pending);

/* -------------------------------------------------------- delaywarn.c */
/*
 * Delay warnings (delay-warning-after): one `delayed` notice to the source
 * of a packet (that asked for notices) still waiting here after that long;
 * at most once per packet and node, journaled.
 */
void delaywarn_start(void);
void delaywarn_stop(void);
uint64_t delaywarn_sent(void);

/* -------------------------------------------------------- audit_sink.c */
/*
 * audit-sink postgresql://...: the event log streamed into PostgreSQL on a
 * thread of its own (nothing when unset). audit_sink_status fills the
 * audit_sink_* fields of st, head being the number of records in the log;
 * loop thread. Without libpq (configure) they do nothing: conf.c refuses
 * the directive.
 */
#ifdef HAVE_LIBPQ
void audit_sink_start(void);
void audit_sink_stop(void);
void audit_sink_status(Cascade__CtlStatus *st, uint64_t head);
void audit_sink_counters(uint64_t *records, uint64_t *outages, uint64_t *gaps);
#else
static inline void audit_sink_start(void) {}
static inline void audit_sink_stop(void) {}
static inline void audit_sink_status(Cascade__CtlStatus *st, uint64_t head) { (void)st; (void)head; }
static inline void audit_sink_counters(uint64_t *r, uint64_t *o, uint64_t *g) { *r = *o = *g = 0; }
#endif

/* ---------------------------------------------------------- control.c */
/*
 * The control socket (cascadectl): nng rep0 on ipc://<control>, mode 0600.
 * Each request, once its peer and version are checked, goes to handler:
 * 0 back means rep is the answer (sent at once), 1 that the handler sends
 * rep itself (reply_send) now or later. req stays control.c's.
 */
typedef int ctl_handler_fn(const Cascade__CtlRequest *req, Cascade__CtlReply *rep,
    const char *who);
int control_start(const struct conf *c, ctl_handler_fn *handler);
void control_stop(void);
/* Sends rep (freed) on the control socket; the commands' way to answer. */
void reply_send(Cascade__CtlReply *rep);

/* ---------------------------------------------------------- ctl_reply.c */
/* A new reply (result OK, empty texts). */
Cascade__CtlReply *reply_new(void);
/* Sets rep's result, and its error and text unless NULL (copied). */
void reply_set(Cascade__CtlReply *rep, uint32_t result, const char *error, const char *text);
/* A queue's name (its peer's), or "queue N". */
const char *queue_name(uint32_t qid, char *buf, size_t len);
/* The i-th queue place of a packet's record, for a reply (freed with it). */
Cascade__CtlQueuePlace *ctl_place(const struct jwhere *w, unsigned i);

/* -------------------------------------------------------- ctl_command.c */
/* What each command does: control.c's handler (main.c starts it with this). */
int ctl_command(const Cascade__CtlRequest *req, Cascade__CtlReply *rep, const char *who);

/* ---------------------------------------------------------- ctl_queue.c */
/* cascadectl queue [LINK|CLIENT]: every queue, or one page of one (--limit, --after). */
void ctl_queue(const Cascade__CtlRequest *req, Cascade__CtlReply *rep);

/* ---------------------------------------------------------- ctl_audit.c */
/* Chain anchors: every audit-anchor-interval (started with the loop) and now. */
void anchor_start(void);
void anchor_stop(void);
/* cascadectl audit anchor: writes one; answers rep (reply_send) when it is in. */
void ctl_audit_anchor(Cascade__CtlReply *rep);

/* ---------------------------------------------------------- ctl_trace.c */
/*
 * Where packet id is: this node's hop (asked by child asker, or NULL for
 * the operator: a child hears only of packets of its subtree), then the
 * parent's hops when it went up. cb gets the hops (malloc'd, its own).
 */
typedef void trace_done_cb(void *arg, Cascade__CtlTraceHop **hops, size_t n);
void trace_ask(const uint8_t id[CID_LEN], const struct peer *asker, trace_done_cb *cb,
    void *arg);
/* cascadectl trace ID: answers rep (reply_send) when the hops are in. */
void ctl_trace(const char *arg, Cascade__CtlReply *rep);

/* --------------------------------------------------------- ctl_replay.c */
/*
 * cascadectl replay: --link (req->link, since_ms, until_ms) requeues toward
 * that link every packet forwarded over it in the window; --id (req->arg)
 * one packet toward where it went from here. who names the operator in the
 * events. Answers rep (reply_send) when the journal thread is done.
 */
void ctl_replay(const Cascade__CtlRequest *req, Cascade__CtlReply *rep, const char *who);
/* Waits for a replay's scan still running (control_stop, with node->stopping set). */
void ctl_replay_stop(void);

/* -------------------------------------------------------- ctl_payload.c */
/* cascadectl audit show ID --payload: the payload, its access journaled first. */
void ctl_payload(const char *arg, Cascade__CtlReply *rep, const char *who);

/* ---------------------------------------------------------- metrics.c */
/* Prometheus text at http://<metrics-listen>/metrics (nothing when unset). */
int metrics_start(const struct conf *c);
void metrics_stop(void);

/* --------------------------------------------------------- snapshot.c */
/*
 * The node's state, read on the loop thread without waiting on anything:
 * journal counts come from queue states and LMDB's own statistics (no
 * scans), so they answer at once with a large backlog or a held pull.
 * Everything is malloc'd, as protobuf_c_message_free_unpacked(m, NULL) frees it.
 */
Cascade__CtlStatus *snapshot_status(void);
void snapshot_links(Cascade__CtlLink ***out, size_t *n);
void snapshot_clients(Cascade__CtlClient ***out, size_t *n);
extern int64_t node_started_ms;         /* main.c: wall clock at start */

/* ----------------------------------------------------------- reload.c */
#define RELOAD_SPARE_PEERS 256          /* children and clients reloads may add before a restart */
/* Config times and the last refused reload, for status (snapshot.c). */
extern int64_t reload_loaded_ms;        /* wall clock the running config was loaded */
extern int64_t reload_failed_ms;        /* last refused reload, 0: none */
extern char *reload_failed_text;        /* its errors, one a line, or NULL */
/*
 * Loads node->conf->path again and applies it (SIGHUP, cascadectl reload),
 * or with dry_run only says what would change (cascadectl check). Returns 0
 * when applied (or, dry, when it would be), -1 when refused; *text (malloc'd)
 * gets the changes or every error.
 */
int reload_run(int dry_run, char **text);
/* Adds the journal queue and peer entry of a client or child (main.c, at start). */
struct peer *peer_add_client(const struct conf_client *cl, char *err, size_t errlen);
struct peer *peer_add_child(const struct conf_child *ch, char *err, size_t errlen);

#endif /* CASCADE_CASCADED_H */
