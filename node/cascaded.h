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
	/* the session a newer one took over: its "no session" replies are
	 * signed with its key, so its owner can tell a takeover from a forgery */
	uint64_t old_sess;
	uint8_t old_key[SESSION_KEY_LEN];
};

struct node {
	struct conf *conf;
	const char *id;
	int master;
	struct event_base *base;
	struct journal *j;
	uint32_t q_up;                  /* toward the parent (not on the master) */
	struct peer *peers;             /* children then clients */
	size_t npeers;
	struct uplink *up;              /* NULL on the master */
	volatile int stopping;
	uint64_t stat_accepted, stat_rejected, stat_duplicates, stat_delivered;
};

extern struct node *node;

/* ------------------------------------------------------------- loop.c */
/* Runs fn(arg) on the loop thread soon; callable from any thread. */
void loop_init(struct event_base *base);
void loop_post(void (*fn)(void *), void *arg);
void loop_shutdown(void);

/* ---------------------------------------------------------- jthread.c */
/*
 * One unit of journal work, done() on the loop afterwards: either run() on
 * the journal thread, or (run NULL) the commit of batch, which the journal
 * thread groups with the batches queued after it into one transaction and
 * one fsync (group commit). rc gets what run() or the commit returned.
 */
struct jjob {
	TAILQ_ENTRY(jjob) entry;
	int (*run)(struct journal *, struct jjob *);
	struct jbatch *batch;
	void (*done)(struct jjob *);
	int rc;
};
void jthread_start(struct journal *j);
void jthread_submit(struct jjob *job);
/* Waits for every submitted job to finish, then stops the thread. */
void jthread_stop(void);

/* ----------------------------------------------------------- router.c */
/* Where a packet came from. */
enum origin { FROM_LOCAL = 0, FROM_CHILD, FROM_CLIENT, FROM_PARENT };

/*
 * Checks and routes one incoming packet (decoded, owned by the caller):
 * validates, rejects spoofed src and loops, subtracts nothing (the sender
 * already sent its remaining ttl), appends this node's hop, sets the leg,
 * and fills it (queues, leg, deadline, or reject + text).
 */
void router_route(Cascade__Packet *p, enum origin from, const struct peer *peer,
    struct jitem *it, char *text, size_t textlen);
/* The peer whose subtree holds node id, or NULL. */
struct peer *router_child_for(const char *nodeid);
/* Queue id that delivers to addr here (client inbox), or 0. */
uint32_t router_local_queue(const char *addr);
/*
 * Sends a notice about p to p's src (as a local-origin packet): code is a
 * NoticeCode, reason/text for rejects. Nothing for notices themselves.
 */
void router_notice(const Cascade__Packet *p, uint32_t code, uint32_t reason, const char *text);
/* A packet this node just took custody of: wakes its queues, acts on its kind. */
void router_accepted(const struct jitem *it);
/* Tells whoever waits on queue qid that it has new packets. */
void router_wake(uint32_t qid);
/* Commits local-origin packets (notices, audit copies): ownership taken. */
void router_submit_local(Cascade__Packet *p);
/* Re-encodes a stored packet for sending: remaining ttl, held time of our hop. */
Cascade__Packet *router_outgoing(const struct jentry *e, int64_t now_ms);
/* Loads subtrees from the journal at start. */
void router_load_routes(void);
char *router_set_subtree(struct peer *p, char **ids, size_t n, char ***refused, size_t *nrefused);
void router_routes_key(const struct peer *p, char *key, size_t len);
char **router_my_subtree(size_t *n);
/* Periodic expiry sweep (timer). */
void router_start_timers(void);

/* ----------------------------------------------------------- server.c */
/* A request as a carrier hands it to the server (parent side). */
struct sreq {
	int carrier;                    /* CASCADE__CARRIER__CARRIER_TCP / _HTTP */
	uint64_t conn;                  /* tcp: the nng pipe id; http: 0 */
	int tls;                        /* arrived over TLS: no envelope mac needed */
	char peeraddr[64];              /* remote address, for log lines */
	uint8_t *buf;                   /* the request bytes (owned) */
	size_t len;
	/* the carrier's reply function: sends buf (ownership passes) and frees r */
	void (*reply)(struct sreq *r, uint8_t *buf, size_t len);
	void *cctx;                     /* carrier context */
	/* server state while handled */
	Cascade__Request *req;
	struct peer *peer;              /* the session's peer (peers outlive requests) */
	uint8_t key[SESSION_KEY_LEN];   /* session key for the reply's mac */
	int keyed;
	struct event *timer;            /* a held pull's wait */
	uint64_t pull_epoch, pull_from; /* a pull in progress */
	uint32_t pull_max, pull_max_bytes;
};
void server_init(void);
void server_request(struct sreq *r);
/* The carrier connection conn is gone: its sessions end, held pulls are released. */
void server_conn_gone(int carrier, uint64_t conn);
/* Ends the sessions of carrier without a request for idle_ms (a held pull counts). */
void server_expire_idle(int carrier, int64_t idle_ms);
/* Queue qid has new packets: answer a held pull waiting on it. */
void server_wake(uint32_t qid);
void server_shutdown(void);

/* ---------------------------------------------------------- uplink.c */
struct uplink;
struct uplink *uplink_new(const struct conf_parent *pc);
void uplink_start(struct uplink *u);
void uplink_wake(struct uplink *u);             /* the up queue has new packets */
void uplink_routes_changed(struct uplink *u);
void uplink_stop(struct uplink *u);

/* ----------------------------------------------------- carrier_tcp.c */
/* Server side: nng rep0 on the tcp:// and tls+tcp:// listen urls. */
int tcps_start(const struct conf *c);
void tcps_stop(void);

/* ---------------------------------------------------- carrier_http.c */
/* Server side: evhttp on the http:// and https:// listen urls; curl_global_init. */
int https_start(const struct conf *c);
void https_stop(void);

/*
 * The child side of a carrier, as the uplink uses it. Replies and events
 * arrive on the loop thread. err in a reply callback: 0, or non-zero when
 * no reply came (connection failed, timed out, closed).
 */
typedef void (*cclient_cb)(void *arg, int err, uint8_t *buf, size_t len);
struct cclient_events {
	void (*connected)(void *arg);   /* a connection is up: requests can flow */
	void (*disconnected)(void *arg);/* it went away: the session is gone */
	void *arg;
};
struct cclient_ops {
	const char *name;               /* "tcp", "http" */
	int carrier;                    /* CASCADE__CARRIER__CARRIER_* */
	/* Starts connecting to url; NULL with err set on a config-level failure. */
	void *(*open)(const struct conf_parent *pc, const struct conf_url *url,
	    const struct cclient_events *ev, char *err, size_t errlen);
	/* Sends buf (copied); cb gets the reply bytes or an error, on the loop. */
	void (*call)(void *c, const uint8_t *buf, size_t len, int timeout_ms,
	    cclient_cb cb, void *arg);
	/* Drops the connection and connects again (a dead link). */
	void (*redial)(void *c);
	/* Closes; calls still in flight complete with an error or never. */
	void (*close)(void *c);
};
extern const struct cclient_ops tcp_client_ops;
extern const struct cclient_ops http_client_ops;   /* carrier_http.c */

#endif /* CASCADE_CASCADED_H */
