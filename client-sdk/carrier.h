/*
 * carrier.h — how libcascade moves request bytes to its node and reply
 * bytes back, whatever the wire: tcp (nng req/rep, carrier_tcp.c) or http
 * (POST bodies, carrier_http.c). The SDK thread (session.c) speaks the
 * link protocol above this interface; a carrier knows nothing of it.
 *
 * Contract of every carrier
 * - open() starts connecting in the background and returns at once; it
 *   fails only on bad parameters (a url it cannot parse, an unusable CA).
 * - call() sends one request and returns 0, after which reply_fn runs
 *   exactly once (with the reply, or an error); or it returns an error and
 *   reply_fn never runs for that call. Several calls may be in flight.
 * - reply_fn and state_fn run on the carrier's own threads (never inside
 *   call()); they must only hand their arguments over (a mutex, a
 *   condition) and must not call back into the carrier.
 * - A reply buffer passed to reply_fn belongs to the callee (free()).
 * - conn identifies the connection a reply came over (tcp: the nng pipe
 *   id, never 0); a tcp session is bound to one connection. The SDK takes a
 *   NO_SESSION reply that came over the session's own connection while it
 *   is still up for a takeover by another program, and any other for a
 *   lost session. Carriers without lasting connections (http) pass 1 for
 *   every reply.
 * - state_fn(arg, 1, conn) says requests can be tried now (tcp: a
 *   connection is up; http: once, after open); state_fn(arg, 0, conn) that
 *   connection conn is gone. The SDK sends its Hello on a state_fn(1).
 * - reset() drops the current connection and dials again (a dead link:
 *   a request went unanswered for the dead-link timeout).
 * - close() ends every call in flight (their reply_fn runs with
 *   CASCADE_ECLOSED) and returns after the last callback returned; no
 *   callback runs after it.
 * - Errors given to reply_fn: CASCADE_ETIMEDOUT (no reply within the
 *   timeout), CASCADE_ECARRIER (the connection failed), CASCADE_ECLOSED,
 *   CASCADE_ENOMEM.
 * - Nothing here prints; carriers report through log_fn when it is set.
 */
#ifndef CASCADE_CARRIER_H
#define CASCADE_CARRIER_H

#include <stddef.h>
#include <stdint.h>

struct carrier;

typedef void (*carrier_reply_fn)(void *arg, int err, uint8_t *buf, size_t len, uint64_t conn);
typedef void (*carrier_state_fn)(void *arg, int up, uint64_t conn);
typedef void (*carrier_log_fn)(void *arg, int level, const char *msg);

struct carrier_params {
	const char *url;
	const char *ca_file;            /* tls+tcp://, https://: verify the node against it */
	const char *cert_file, *key_file; /* our certificate for mutual TLS, or NULL */
	const char *proxy;              /* http: an http:// forward proxy, or NULL */
	int reconnect_min_ms;           /* dialing backoff */
	int reconnect_max_ms;
	size_t max_reply;               /* the largest reply accepted, in bytes */
	carrier_state_fn state_fn;
	carrier_log_fn log_fn;          /* may be NULL */
	void *arg;                      /* for state_fn and log_fn */
};

struct carrier_ops {
	const char *name;               /* "tcp", "http" */
	int (*open)(const struct carrier_params *p, void **impl, char *err, size_t errlen);
	int (*call)(void *impl, const uint8_t *buf, size_t len, int timeout_ms,
	    carrier_reply_fn fn, void *arg);
	void (*reset)(void *impl);
	void (*close)(void *impl);
};

/* carrier_tcp.c */
extern const struct carrier_ops carrier_tcp_ops;

/* carrier_http.c */
extern const struct carrier_ops carrier_http_ops;

/* carrier.c */
/*
 * Which carrier serves url under preference pref (enum cascade_carrier):
 * returns the CASCADE_CARRIER_* value, or CASCADE_ECARRIER with err set
 * ("http:// needs the http carrier, which this build lacks", "carrier tcp
 * asked for, but the url is http://"). CASCADE_EINVAL for a url with no
 * known scheme.
 */
int carrier_pick(const char *url, int pref, char *err, size_t errlen);
/* Whether url uses TLS (tls+tcp://, https://). */
int carrier_url_tls(const char *url);
/*
 * Opens the carrier for url (see carrier_pick). Returns 0, CASCADE_ECARRIER,
 * CASCADE_EINVAL or CASCADE_ENOMEM, with err set.
 */
int carrier_open(const struct carrier_params *p, int pref, struct carrier **c,
    char *err, size_t errlen);
int carrier_call(struct carrier *c, const uint8_t *buf, size_t len, int timeout_ms,
    carrier_reply_fn fn, void *arg);
void carrier_reset(struct carrier *c);
void carrier_close(struct carrier *c);
const char *carrier_name(const struct carrier *c);

#endif /* CASCADE_CARRIER_H */
