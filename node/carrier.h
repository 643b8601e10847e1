/*
 * carrier.h — how the daemon moves link-protocol bytes, whatever the wire.
 *
 * Two carriers: tcp (nng req/rep over tcp:// and tls+tcp://, carrier_tcp.c)
 * and http (evhttp serving, libcurl dialing http:// and https://,
 * carrier_http.c). Each is one struct ncarrier in carriers[]; main.c,
 * reload.c and uplink.c look a carrier up there and never name one.
 *
 * Contract of every carrier (daemon side)
 * - All calls and callbacks run on the loop thread; a carrier's own threads
 *   (nng aio) only loop_post() and never touch node, server or uplink.
 * - listen(c, u) opens one url (start-up, reload): -1 with err set, nothing
 *   changed. unlisten(url) closes it and its connections (a no-op for a url
 *   not its own); stop() closes all.
 * - Inbound: the carrier fills a struct sreq of its own (buf owned,
 *   carrier, conn, tls, peeraddr, reply) and calls server_request(r).
 *   reply(r, buf, len) runs exactly once per request, maybe much later (a
 *   held pull), takes buf and frees r. server_conn_gone() when a connection goes;
 *   server_expire_idle() for http.
 * - Dialing: open() connects in the background (NULL only on a config
 *   error). call() copies buf and returns 0, then cb runs exactly once on
 *   the loop (a reply, or err: timeout, failed, closed); or it returns -1
 *   and cb never runs. redial() drops the connection and dials again.
 *   close() returns at once; calls in flight complete with an error or never.
 * - No exit after start-up: failures are return codes or err in cb. Only
 *   out of memory stays fatal (xmalloc, log.h).
 */
#ifndef CASCADE_CARRIER_H
#define CASCADE_CARRIER_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "packets.h"
#include "queue.h"

struct event;
struct peer;

/* ------------------------------------------------- inbound (server side) */
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
	uint8_t key[CSHA256_LEN];       /* session key for the reply's mac */
	int keyed;
	struct event *timer;            /* a held pull's wait */
	struct qwaiter wait;            /* a held pull waiting on its peer's queue */
	uint64_t pull_epoch, pull_from; /* a pull in progress */
	uint32_t pull_max, pull_max_bytes;
};
/* server.c: takes r; r->reply runs once, now or later. */
void server_request(struct sreq *r);
/* server_session.c: the carrier connection conn is gone: its sessions end, held pulls
 * are released. */
void server_conn_gone(int carrier, uint64_t conn);
/* Ends the sessions of carrier without a request for idle_ms (a held pull counts);
 * returns how many of its sessions are left. */
unsigned server_expire_idle(int carrier, int64_t idle_ms);

/* -------------------------------------------------- dialing (child side) */
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
	/*
	 * Sends buf (copied). 0: cb runs once, later, on the loop, with the
	 * reply bytes or an error. -1 (logged): the request could not be
	 * made, and cb never runs.
	 */
	int (*call)(void *c, const uint8_t *buf, size_t len, int timeout_ms,
	    cclient_cb cb, void *arg);
	/* Drops the connection and connects again (a dead link). */
	void (*redial)(void *c);
	/* Closes; calls still in flight complete with an error or never. */
	void (*close)(void *c);
};

/* ------------------------------------------------------------ the table */
struct ncarrier {
	const char *name;               /* "tcp", "http" */
	int carrier;                    /* CASCADE__CARRIER__CARRIER_* */
	int conf_carrier;               /* CONF_CARRIER_*: which urls are its */
	/* Opens the config's listen urls that are its (start-up: exits when one cannot be). */
	int (*start)(const struct conf *c);
	/* A reload's listeners: one more (-1 with err set: nothing changed) / one fewer. */
	int (*listen)(const struct conf *c, const struct conf_url *u, char *err, size_t errlen);
	void (*unlisten)(const char *url);
	void (*stop)(void);
	const struct cclient_ops *dial;
};
extern const struct ncarrier carrier_tcp;       /* carrier_tcp.c */
extern const struct ncarrier carrier_http;      /* carrier_http.c */
/* carrier.c: every carrier, NULL-terminated, in start order. */
extern const struct ncarrier *const carriers[];
/* The carrier of u's scheme (never NULL: conf.c accepts no other). */
const struct ncarrier *carrier_for_url(const struct conf_url *u);

#endif /* CASCADE_CARRIER_H */
