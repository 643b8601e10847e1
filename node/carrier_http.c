/*
 * carrier_http.c — the http carrier: the link protocol as POST bodies over
 * http:// and https://.
 *
 * Server: one libevent evhttp per http or https listen url (https through
 * libevent_openssl), all on the loop's event base. Each message type has
 * its endpoint, PREFIX/v1/hello, /auth, /push, /pull and /routes (PREFIX:
 * the listen url's path); the body is the same protobuf Request the tcp
 * carrier carries, Content-Type application/x-protobuf. The reply body is
 * always the protobuf Reply; its status sets the HTTP status (200 for OK,
 * 4xx/5xx otherwise, with the reason in an X-Cascade-Error header). What
 * never reaches server.c gets a one-line text/plain answer and a log line:
 * an unknown path 404, another method than POST 405, another content type
 * 415. libevent answers by itself an oversized body (413), a garbage
 * request (400), and closes a connection that stalls for the request
 * timeout: half-sent requests and idle keep-alive connections.
 * libevent 2.1 stops reading a connection while its request is in hand, so
 * a child that gives up on a held pull is noticed when the reply is written
 * (and fails); if the connection goes first (evhttp_free at stop), its
 * close callback forgets the request and the server's later reply only
 * frees what is ours.
 * Every connection is looked at once libevent has made it (hs_bevcb, then
 * hs_sweep): over http-max-conns or http-max-conns-per-address it is closed
 * at once; otherwise each request on it must be in whole within
 * http-request-timeout (libevent's own timeout restarts with every byte),
 * and a Hello or Auth may announce 64K at most (the per-connection body
 * limit is set when its headers are in, so libevent answers 413 before
 * reading the body).
 * An http session is bound to no connection: it ends when no request came
 * for session-idle (server_expire_idle, on a timer here).
 *
 * Client: carrier_http_client.c. carrier_http.h has what the two share.
 */

#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cascaded.h"
#include "carrier_http.h"
#include "hashtab.h"

#define STATUS(x) CASCADE__STATUS__STATUS_##x
#define HTTP_BODY_MAX (16u << 20)       /* the largest request body, whatever the limits */
#define HTTP_HEADERS_MAX (16u << 10)
#define HTTP_TIMEOUT_MIN_S 5            /* request read / idle connection timeout: */
#define HTTP_TIMEOUT_MAX_S 30           /* session-idle / 2 within these */

/* ================================================================ server */

/*
 * One listen url. A reload that drops it stops accepting on it and closes
 * the connections it accepted (https_unlisten), as a closed tcp listener
 * does, but keeps its evhttp (connections just accepted may still be on
 * their way to hs_sweep, and point at it); https_stop frees them all. The
 * http sessions of those connections end when idle, as always.
 */
struct hlisten {
	struct evhttp *http;
	struct evhttp_bound_socket *bound;   /* NULL once closed by a reload */
	char *url;                      /* as written */
	int tls;
	char prefix[256];               /* the url's path without its trailing '/' */
};

/* A request handed to server.c; sreq first, so the reply function finds us. */
struct hreq {
	struct sreq r;
	struct evhttp_request *req;     /* NULL once its connection is gone */
	struct hconn *hc;               /* its connection (NULL then too) */
	const struct endpoint *ep;
	TAILQ_ENTRY(hreq) entry;
};

/*
 * A connection to one of our listeners, from its first request on: counted
 * against http-max-conns and its address's http-max-conns-per-address, and
 * the request it is receiving must be in whole within http-request-timeout
 * (libevent's own timeout restarts with every byte). Its close callback is
 * ours; it tells the request in hand, if any.
 */
struct hconn {
	struct evhttp_connection *evcon;
	struct hlisten *hl;             /* the listener that accepted it */
	struct bufferevent *bev;
	char ip[48];
	char peer[64];
	struct event *deadline;
	struct hreq *h;                 /* the request in hand, or NULL */
	int in_headers;                 /* hconn_input looks for the end of the headers */
	size_t scanned;                 /* bytes of them already looked at */
	TAILQ_ENTRY(hconn) entry;
	struct hnode by_evcon, by_ip;   /* every request finds its connection by evcon */
};

/* A connection just accepted, until hs_sweep sees its evcon. */
struct hnew {
	struct bufferevent *bev;
	struct hlisten *hl;
	TAILQ_ENTRY(hnew) entry;
};

static struct hlisten **hls;
static size_t nhls;
static SSL_CTX *hs_ssl;
static struct event *hs_idle_ev;       /* the session-idle sweep, while http sessions are */
static struct timeval hs_idle_tv;
static void hs_idle_arm(void);
static TAILQ_HEAD(, hreq) hs_reqs = TAILQ_HEAD_INITIALIZER(hs_reqs);
static TAILQ_HEAD(, hconn) hs_conns = TAILQ_HEAD_INITIALIZER(hs_conns);
static struct htab hs_by_evcon = HTAB_INITIALIZER, hs_by_ip = HTAB_INITIALIZER;
static unsigned hs_nconns;
static int64_t hs_idle_ms;
static uint64_t hs_body_max;            /* of a request after Auth */
static TAILQ_HEAD(, hnew) hs_new = TAILQ_HEAD_INITIALIZER(hs_new);
static struct event *hs_sweep_ev;

static const char *
method_str(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "?";
}

static void
peer_str(struct evhttp_connection *evcon, char *buf, size_t len)
{
	const struct sockaddr *sa = evcon != NULL ? evhttp_connection_get_addr(evcon) : NULL;
	char ip[INET6_ADDRSTRLEN];

	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else
		snprintf(buf, len, "?");
}

/* A one-line text/plain answer for what never reaches server.c, and its log line. */
static void
hs_text(struct evhttp_request *req, const char *peer, int code, const char *reason,
    const char *fmt, ...) PRINTF(5, 6);

static void
hs_text(struct evhttp_request *req, const char *peer, int code, const char *reason,
    const char *fmt, ...)
{
	struct evbuffer *out = evbuffer_new();
	const char *uri = evhttp_request_get_uri(req);
	char msg[512], shown[201];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* the peer chose these bytes: nothing unprintable goes to the log */
	for (i = 0; uri != NULL && uri[i] != '\0' && i < sizeof(shown) - 1; i++)
		shown[i] = uri[i] > 0x20 && uri[i] < 0x7f ? uri[i] : '?';
	shown[i] = '\0';
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	log_warnx("http: %s: %s %s: %d %s", peer, method_str(evhttp_request_get_command(req)),
	    uri != NULL ? shown : "?", code, msg);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; charset=utf-8");
	if (out != NULL)
		evbuffer_add_printf(out, "%s\n", msg);
	evhttp_send_reply(req, code, reason, out);
	if (out != NULL)
		evbuffer_free(out);
}

/* HTTP status of a Reply status. */
static int
http_status(uint64_t status, const char **reason)
{
	switch (status) {
	case STATUS(OK):
		*reason = "OK";
		return 200;
	case STATUS(BAD_REQUEST):
	case STATUS(VERSION):
		*reason = "Bad Request";
		return 400;
	case STATUS(NO_SESSION):
	case STATUS(BAD_MAC):
	case STATUS(REPLAYED):
		*reason = "Unauthorized";
		return 401;
	case STATUS(UNKNOWN_PEER):
	case STATUS(AUTH_FAILED):
	case STATUS(CARRIER_REFUSED):
	case STATUS(NOT_ALLOWED):
		*reason = "Forbidden";
		return 403;
	case STATUS(TOO_LARGE):
		*reason = "Payload Too Large";
		return 413;
	case STATUS(BUSY):
		*reason = "Service Unavailable";
		return 503;
	}
	*reason = "Internal Server Error";
	return 500;
}

static void
buf_free_cb(const void *data, size_t len, void *arg)
{
	free((void *)(uintptr_t)data);
}

/* A log line for a refusal that may come in floods: 5 a second, then a count. */
struct hs_limited {
	int64_t window_ms;
	unsigned n, suppressed;
};

static void
hs_warn_limited(struct hs_limited *l, const char *fmt, ...) PRINTF(2, 3);

static void
hs_warn_limited(struct hs_limited *l, const char *fmt, ...)
{
	char msg[256];
	int64_t now = cmono_ms();
	va_list ap;

	if (now - l->window_ms >= 1000) {
		l->window_ms = now;
		l->n = 0;
	}
	if (l->n++ >= 5) {
		l->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->suppressed > 0)
		log_warnx("http: %s (and %u more like it before)", msg, l->suppressed);
	else
		log_warnx("http: %s", msg);
	l->suppressed = 0;
}

static struct hconn *
hconn_find(struct evhttp_connection *evcon)
{
	struct hnode *n;

	for (n = ht_first(&hs_by_evcon, ht_hash_u64((uintptr_t)evcon)); n != NULL;
	    n = ht_next(n)) {
		struct hconn *hc = HT_ENTRY(n, struct hconn, by_evcon);

		if (hc->evcon == evcon)
			return hc;
	}
	return NULL;
}

/* Connections open from ip (a chain of at most http-max-conns-per-address). */
static unsigned
hconn_count_ip(const char *ip)
{
	struct hnode *n;
	unsigned same = 0;

	for (n = ht_first(&hs_by_ip, ht_hash_str(ip)); n != NULL; n = ht_next(n))
		same += strcmp(HT_ENTRY(n, struct hconn, by_ip)->ip, ip) == 0;
	return same;
}

static void hconn_input(struct evbuffer *, const struct evbuffer_cb_info *, void *);

static void
hconn_free(struct hconn *hc)
{
	if (hc->bev != NULL)
		evbuffer_remove_cb(bufferevent_get_input(hc->bev), hconn_input, hc);
	TAILQ_REMOVE(&hs_conns, hc, entry);
	ht_del(&hs_by_evcon, &hc->by_evcon);
	ht_del(&hs_by_ip, &hc->by_ip);
	hs_nconns--;
	event_free(hc->deadline);
	free(hc);
}

/*
 * The connection goes (closed, failed, cut, or evhttp_free). The request in
 * hand, if any, is forgotten: libevent detaches a request it has not
 * answered from a connection that failed, and leaves it to us; when the
 * connection goes for another reason (evhttp_free) it frees the request
 * itself right after this.
 */
static void
hconn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct hconn *hc = arg;
	struct hreq *h = hc->h;

	if (h != NULL && h->req != NULL) {
		if (evhttp_request_get_connection(h->req) == NULL)
			evhttp_request_free(h->req);
		h->req = NULL;
		h->hc = NULL;
		log_debug("http: %s: connection closed before the %s reply", h->r.peeraddr,
		    h->ep->name);
	}
	hconn_free(hc);
}

static void
hconn_deadline(evutil_socket_t fd, short what, void *arg)
{
	static struct hs_limited lim;
	struct hconn *hc = arg;

	hs_warn_limited(&lim, "%s: request not received whole within %lld ms "
	    "(http-request-timeout): connection closed", hc->peer,
	    (long long)node->conf->http_request_timeout_ms);
	evhttp_connection_free(hc->evcon);      /* hconn_closed frees hc */
}

/* A new connection, if the caps allow it; NULL (logged) when they do not. */
static struct hconn *
hconn_new(struct evhttp_connection *evcon)
{
	static struct hs_limited lim_all, lim_addr;
	struct hconn *hc;
	char *host = NULL;
	ev_uint16_t port = 0;
	unsigned same = 0;

	evhttp_connection_get_peer(evcon, &host, &port);
	if (hs_nconns >= node->conf->http_max_conns) {
		hs_warn_limited(&lim_all, "%s:%u: connection refused: %u open "
		    "(http-max-conns)", host ? host : "?", port, hs_nconns);
		return NULL;
	}
	if (host != NULL)
		same = hconn_count_ip(host);
	if (same >= node->conf->http_max_conns_addr) {
		hs_warn_limited(&lim_addr, "%s:%u: connection refused: %u open from "
		    "this address (http-max-conns-per-address)", host ? host : "?", port, same);
		return NULL;
	}
	hc = xcalloc(1, sizeof(*hc));
	hc->evcon = evcon;
	snprintf(hc->ip, sizeof(hc->ip), "%s", host ? host : "?");
	snprintf(hc->peer, sizeof(hc->peer), "%s:%u", host ? host : "?", port);
	if ((hc->deadline = evtimer_new(node->base, hconn_deadline, hc)) == NULL) {
		/* this connection is dropped; the node keeps serving the others */
		log_warnx("http: %s: connection dropped: no timer for it (event_new failed)",
		    hc->peer);
		free(hc);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&hs_conns, hc, entry);
	ht_add(&hs_by_evcon, &hc->by_evcon, ht_hash_u64((uintptr_t)hc->evcon));
	ht_add(&hs_by_ip, &hc->by_ip, ht_hash_str(hc->ip));
	hs_nconns++;
	evhttp_connection_set_closecb(evcon, hconn_closed, hc);
	return hc;
}

static void
hconn_arm(struct hconn *hc, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(hc->deadline, &tv);
}

/*
 * The headers of a request are in, its body is not: a Hello or Auth (before
 * any session) may be 64K at most, and libevent answers a larger
 * Content-Length with its 413 without reading the body. Other requests take
 * the full body size.
 */
static void
hconn_headers(struct hconn *hc, const char *hdr, size_t len)
{
	static struct hs_limited lim;
	const char *sp = memchr(hdr, ' ', len), *end, *p;
	unsigned long long cl = 0;
	size_t n = 0;
	int pre;

	if (sp != NULL && (end = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - hdr))) != NULL) {
		for (p = sp + 1; p < end && *p != '?'; p++)
			;
		n = (size_t)(p - sp - 1);
	}
	pre = (n >= 9 && strncmp(sp + 1 + n - 9, "/v1/hello", 9) == 0) ||
	    (n >= 8 && strncmp(sp + 1 + n - 8, "/v1/auth", 8) == 0);
	evhttp_connection_set_max_body_size(hc->evcon, pre ? LIM_PRESESSION_MAX : hs_body_max);
	for (p = hdr; pre && (p = memchr(p, '\n', len - (size_t)(p - hdr))) != NULL; p++)
		if ((size_t)(hdr + len - p) > 16 && strncasecmp(p + 1, "content-length:", 15) == 0)
			cl = strtoull(p + 16, NULL, 10);
	if (pre && cl > LIM_PRESESSION_MAX)
		hs_warn_limited(&lim, "%s: POST %.*s: Content-Length %llu over %u "
		    "before a session exists: 413", hc->peer, (int)(n < 80 ? n : 80), sp + 1, cl,
		    LIM_PRESESSION_MAX);
}

/* Bytes came in on hc: at the end of a request's headers, their look (above). */
static void
hconn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct hconn *hc = arg;
	struct evbuffer_ptr at;
	size_t len;
	char *hdr;

	if (!hc->in_headers || info->n_added == 0)
		return;
	/* search on from where the last look ended: a trickle costs no more than a burst */
	if (evbuffer_ptr_set(buf, &at, hc->scanned > 3 ? hc->scanned - 3 : 0,
	    EVBUFFER_PTR_SET) != 0)
		return;
	at = evbuffer_search(buf, "\r\n\r\n", 4, &at);
	if (at.pos < 0) {
		hc->scanned = evbuffer_get_length(buf);
		return;
	}
	hc->in_headers = 0;
	len = (size_t)at.pos + 4 < HTTP_HEADERS_MAX ? (size_t)at.pos + 4 : HTTP_HEADERS_MAX;
	hdr = xmalloc(len);
	if (evbuffer_copyout(buf, hdr, len) == (ev_ssize_t)len)
		hconn_headers(hc, hdr, len);
	free(hdr);
}

/*
 * Connections accepted since the last sweep: libevent made their evcon
 * (the callback argument of their bufferevent) after hs_bevcb. Each is
 * counted, or closed when over the caps.
 */
static void
hs_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct hnew *n;
	struct hconn *hc;
	void *evcon;

	while ((n = TAILQ_FIRST(&hs_new)) != NULL) {
		TAILQ_REMOVE(&hs_new, n, entry);
		evcon = NULL;
		bufferevent_getcb(n->bev, NULL, NULL, NULL, &evcon);
		if (evcon != NULL && hconn_find(evcon) == NULL) {
			if (n->hl->bound == NULL) {
				/* its listener was closed by a reload meanwhile */
				evhttp_connection_free(evcon);
			} else if ((hc = hconn_new(evcon)) == NULL) {
				evhttp_connection_free(evcon);
			} else {
				hc->bev = n->bev;
				hc->hl = n->hl;
				hc->in_headers = 1;
				evbuffer_add_cb(bufferevent_get_input(n->bev), hconn_input, hc);
				hconn_arm(hc, node->conf->http_request_timeout_ms);
			}
		}
		free(n);
	}
}

/* sreq->reply: sends the Reply bytes (ours now) with the HTTP status of their status. */
static void
hs_reply(struct sreq *r, uint8_t *buf, size_t len)
{
	struct hreq *h = (struct hreq *)r;
	struct evkeyvalq *hdr;
	struct evbuffer *out;
	const char *reason;
	const uint8_t *err = NULL;
	uint64_t status = 0;
	size_t errlen = 0, i;
	char line[256];
	int code;

	TAILQ_REMOVE(&hs_reqs, h, entry);
	if (h->req == NULL) {
		/* its connection is gone (or we are stopping): nobody to answer */
		free(buf);
		free(h);
		return;
	}
	if (h->hc != NULL) {
		/* the next request on the connection: its own deadline, after this reply's time */
		h->hc->h = NULL;
		h->hc->in_headers = 1;
		h->hc->scanned = 0;
		hconn_arm(h->hc, node->conf->http_request_timeout_ms + (int64_t)(len >> 6));
	}
	pbw_field(buf, len, CPBF_REPLY_STATUS, &status, NULL, NULL);
	code = http_status(status, &reason);
	hdr = evhttp_request_get_output_headers(h->req);
	evhttp_add_header(hdr, "Content-Type", PROTOBUF_TYPE);
	if (code != 200) {
		pbw_field(buf, len, CPBF_REPLY_ERROR, NULL, &err, &errlen);
		if (errlen >= sizeof(line))
			errlen = sizeof(line) - 1;
		for (i = 0; i < errlen; i++)
			line[i] = err[i] >= 0x20 && err[i] < 0x7f ? (char)err[i] : ' ';
		line[errlen] = '\0';
		evhttp_add_header(hdr, "X-Cascade-Error", errlen ? line : cstatus_str(status));
	}
	out = evhttp_request_get_output_buffer(h->req);
	if (evbuffer_add_reference(out, buf, len, buf_free_cb, NULL) != 0) {
		evbuffer_add(out, buf, len);
		free(buf);
	}
	evhttp_send_reply(h->req, code, reason, NULL);
	free(h);
}

static void
hs_request(struct evhttp_request *req, void *arg)
{
	struct hlisten *hl = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL, *ct;
	const struct endpoint *ep = NULL;
	struct evbuffer *in;
	struct bufferevent *bev;
	struct hreq *h;
	char peer[64];
	uint64_t type;
	size_t i, plen = strlen(hl->prefix), len;
	int one = 1;

	peer_str(evcon, peer, sizeof(peer));
	/* replies are single writes; don't let Nagle hold one back */
	if (evcon != NULL && (bev = evhttp_connection_get_bufferevent(evcon)) != NULL &&
	    bufferevent_getfd(bev) >= 0)
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (path != NULL && strncmp(path, hl->prefix, plen) == 0 &&
	    strncmp(path + plen, "/v1/", 4) == 0)
		for (i = 0; i < NENDPOINTS; i++)
			if (strcmp(path + plen + 4, endpoints[i].name) == 0)
				ep = &endpoints[i];
	if (ep == NULL) {
		hs_text(req, peer, 404, "Not Found", "no such endpoint: %.200s (this node serves "
		    "POST %s/v1/hello, auth, push, pull, routes)", path ? path : "?", hl->prefix);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		hs_text(req, peer, 405, "Method Not Allowed", "method %s not allowed: use POST",
		    method_str(evhttp_request_get_command(req)));
		return;
	}
	ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (!content_type_ok(ct)) {
		hs_text(req, peer, 415, "Unsupported Media Type", "content type %.80s not taken: "
		    "the body is a protobuf Request, Content-Type " PROTOBUF_TYPE,
		    ct ? ct : "(none)");
		return;
	}

	h = xcalloc(1, sizeof(*h));
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	h->r.buf = xmalloc(len ? len : 1);
	h->r.len = len;
	evbuffer_remove(in, h->r.buf, len);
	h->r.carrier = CASCADE__CARRIER__CARRIER_HTTP;
	h->r.conn = 0;
	h->r.tls = hl->tls;
	snprintf(h->r.peeraddr, sizeof(h->r.peeraddr), "%s", peer);
	h->r.reply = hs_reply;
	h->r.cctx = h;
	h->req = req;
	h->ep = ep;
	TAILQ_INSERT_TAIL(&hs_reqs, h, entry);
	hs_idle_arm();
	if ((h->hc = hconn_find(evcon)) != NULL) {
		/* in whole: an answer may take long (a held pull) */
		h->hc->h = h;
		evtimer_del(h->hc->deadline);
	}

	/* the path names the message: a body of another type is refused */
	if (pbw_field(h->r.buf, len, CPBF_REQUEST_TYPE, &type, NULL, NULL) == 0 && type != ep->type) {
		uint8_t *rb;
		size_t rlen;
		char msg[128];

		snprintf(msg, sizeof(msg), "%s/v1/%s carries a %s request", hl->prefix, ep->name,
		    type_name((uint32_t)type));
		log_warnx("http: %s: %s", peer, msg);
		free(h->r.buf);
		h->r.buf = NULL;
		if ((rb = cenv_reply_pack((uint32_t)type, STATUS(BAD_REQUEST), msg, 0, 0, NULL, 0,
		    NULL, &rlen)) == NULL)
			fatalx("http: out of memory packing a reply");
		hs_reply(&h->r, rb, rlen);
		return;
	}
	server_request(&h->r);
}

static const char *hs_cert;            /* tls-cert, for log lines */

/* A new connection's bufferevent (TLS on an https listener); hs_sweep looks at it next. */
static struct bufferevent *
hs_bevcb(struct event_base *base, void *arg)
{
	struct hlisten *hl = arg;
	struct bufferevent *bev;
	struct hnew *n;
	SSL *ssl;

	if (hl->tls) {
		if ((ssl = SSL_new(hs_ssl)) == NULL) {
			log_warnx("http: tls: SSL_new: %s", ERR_error_string(ERR_get_error(), NULL));
			return NULL;
		}
		bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL) {
			SSL_free(ssl);
			return NULL;
		}
		/* clients that close without close_notify are common; not an error */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	} else if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->bev = bev;
	n->hl = hl;
	TAILQ_INSERT_TAIL(&hs_new, n, entry);
	event_active(hs_sweep_ev, 0, 0);
	return bev;
}

/*
 * A failed https handshake gets a log line with the client's address (taken
 * when the handshake starts: by the alert the client may be gone), since
 * evhttp just drops the connection: one we refuse (the alert we send, e.g.
 * no client certificate under tls-ca), and one the client refuses (the
 * alert it sends, "unknown CA": it does not accept our certificate).
 */
static int hs_addr_idx = -1;

static void
hs_addr_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	free(ptr);
}

static void
hs_tls_info(const SSL *ssl, int where, int ret)
{
	static struct hs_limited lim;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *addr;
	char buf[INET6_ADDRSTRLEN + 8];
	long vr;
	int fd;

	if ((where & SSL_CB_HANDSHAKE_START) && SSL_get_ex_data(ssl, hs_addr_idx) == NULL &&
	    (fd = SSL_get_fd(ssl)) >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, buf, sizeof(buf), NULL, 0,
	    NI_NUMERICHOST) == 0)
		SSL_set_ex_data((SSL *)ssl, hs_addr_idx, xstrdup(buf));
	if (!(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL || SSL_is_init_finished(ssl))
		return;
	if ((addr = SSL_get_ex_data(ssl, hs_addr_idx)) == NULL)
		addr = "an unknown address";
	if (where & SSL_CB_WRITE) {
		vr = SSL_get_verify_result(ssl);
		hs_warn_limited(&lim, "%s: tls handshake refused: %s%s%s", addr,
		    SSL_alert_desc_string_long(ret), vr != X509_V_OK ? ": " : "",
		    vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
	} else
		hs_warn_limited(&lim, "tls handshake from %s failed: it sent the alert \"%s\" "
		    "(it does not accept our certificate %s?)", addr,
		    SSL_alert_desc_string_long(ret), hs_cert);
}

/* The https listeners' TLS context, or NULL with err set. */
static SSL_CTX *
tls_server_ctx(const struct conf *c, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "http: tls: %s", ERR_error_string(ERR_get_error(), NULL));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		snprintf(err, errlen, "http: tls-cert %s: %s", c->tls_cert,
		    ERR_error_string(ERR_get_error(), NULL));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "http: tls-key %s: %s", c->tls_key,
		    ERR_error_string(ERR_get_error(), NULL));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "http: tls-key %s does not match tls-cert %s", c->tls_key,
		    c->tls_cert);
		goto fail;
	}
	/* with tls-ca, mutual TLS: the name is not compared with the peer id (the secret is) */
	if (c->tls_ca != NULL) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->tls_ca);

		if (names == NULL || SSL_CTX_load_verify_locations(ctx, c->tls_ca, NULL) != 1) {
			snprintf(err, errlen, "http: tls-ca %s: %s", c->tls_ca,
			    ERR_error_string(ERR_get_error(), NULL));
			if (names != NULL)
				sk_X509_NAME_pop_free(names, X509_NAME_free);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		log_info("http: https listeners require a client certificate signed by %s",
		    c->tls_ca);
	}
	hs_cert = c->tls_cert;
	if (hs_addr_idx < 0)
		hs_addr_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, hs_addr_free);
	SSL_CTX_set_info_callback(ctx, hs_tls_info);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void
hs_idle(evutil_socket_t fd, short what, void *arg)
{
	/* no http session left: no sweep until a request comes (hs_idle_arm) */
	if (server_expire_idle(CASCADE__CARRIER__CARRIER_HTTP, hs_idle_ms) > 0)
		evtimer_add(hs_idle_ev, &hs_idle_tv);
}

/* Every request: a session may follow from it, and it may idle out. */
static void
hs_idle_arm(void)
{
	if (hs_idle_ev != NULL && !evtimer_pending(hs_idle_ev, NULL))
		evtimer_add(hs_idle_ev, &hs_idle_tv);
}

/* What every http listener shares, set up with the first one. */
static int
hs_init(const struct conf *c)
{
	uint64_t body;
	int64_t t;

	if (hs_sweep_ev != NULL)
		return 0;
	if ((hs_sweep_ev = event_new(node->base, -1, 0, hs_sweep, NULL)) == NULL)
		return -1;
	/* a push holds at most max-batch packets of max-packet bytes, and its envelope */
	body = (uint64_t)c->max_packet * c->max_batch + (64u << 10);
	if (body > HTTP_BODY_MAX)
		body = HTTP_BODY_MAX;
	hs_body_max = body;
	/* http sessions are bound to no connection: they end when idle */
	hs_idle_ms = c->session_idle_ms;
	t = hs_idle_ms / 4;
	if (t > 5000)
		t = 5000;
	if (t < 100)
		t = 100;
	hs_idle_tv.tv_sec = t / 1000;
	hs_idle_tv.tv_usec = (t % 1000) * 1000;
	hs_idle_ev = evtimer_new(node->base, hs_idle, NULL);
	return 0;
}

static int
https_listen(const struct conf *c, const struct conf_url *u, char *err, size_t errlen)
{
	struct hlisten *hl;
	size_t plen;
	int64_t t;

	if (hs_init(c) != 0) {
		snprintf(err, errlen, "http: event_new failed");
		return -1;
	}
	if (u->tls && hs_ssl == NULL && (hs_ssl = tls_server_ctx(c, err, errlen)) == NULL)
		return -1;
	hl = xcalloc(1, sizeof(*hl));
	hl->tls = u->tls;
	snprintf(hl->prefix, sizeof(hl->prefix), "%s", u->path);
	plen = strlen(hl->prefix);
	while (plen > 0 && hl->prefix[plen - 1] == '/')
		hl->prefix[--plen] = '\0';
	if ((hl->http = evhttp_new(node->base)) == NULL) {
		snprintf(err, errlen, "http: evhttp_new failed");
		free(hl);
		return -1;
	}
	/*
	 * No byte for this long ends a connection: a stalled request, an idle
	 * keep-alive connection. A held pull is not cut: libevent does not read
	 * (nor time out) a connection whose request is in hand.
	 */
	t = c->session_idle_ms / 2000;
	if (t < HTTP_TIMEOUT_MIN_S)
		t = HTTP_TIMEOUT_MIN_S;
	if (t > HTTP_TIMEOUT_MAX_S)
		t = HTTP_TIMEOUT_MAX_S;
	evhttp_set_max_body_size(hl->http, (ev_ssize_t)hs_body_max);
	evhttp_set_max_headers_size(hl->http, HTTP_HEADERS_MAX);
	evhttp_set_timeout(hl->http, (int)t);
	/* every method reaches us, so the answer to a wrong one is ours (405) */
	evhttp_set_allowed_methods(hl->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	    EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(hl->http, hs_request, hl);
	evhttp_set_bevcb(hl->http, hs_bevcb, hl);
	if ((hl->bound = evhttp_bind_socket_with_handle(hl->http, u->host[0] ? u->host :
	    "0.0.0.0", u->port)) == NULL) {
		snprintf(err, errlen, "%s:%d: listen %s: %s", u->where.file, u->where.line, u->url,
		    strerror(errno));
		evhttp_free(hl->http);
		free(hl);
		return -1;
	}
	if (!u->tls)
		log_warnx("http: listening on plain %s (allow-plain yes): traffic is "
		    "authenticated but not encrypted", u->url);
	hl->url = xstrdup(u->url);
	hls = xrealloc(hls, (nhls + 1) * sizeof(*hls));
	hls[nhls++] = hl;
	log_info("http: listening on %s (endpoints %s/v1/...)", u->url, hl->prefix);
	return 0;
}

static void
https_unlisten(const char *url)
{
	size_t i;

	struct hconn *hc, *t;
	unsigned n = 0;

	for (i = 0; i < nhls; i++)
		if (hls[i]->bound != NULL && strcmp(hls[i]->url, url) == 0) {
			evhttp_del_accept_socket(hls[i]->http, hls[i]->bound);
			hls[i]->bound = NULL;
			/* hconn_closed (the close callback) forgets a request in hand */
			TAILQ_FOREACH_SAFE(hc, &hs_conns, entry, t)
				if (hc->hl == hls[i]) {
					evhttp_connection_free(hc->evcon);
					n++;
				}
			log_info("http: no longer listening on %s (%u connection%s closed)", url, n,
			    n == 1 ? "" : "s");
			return;
		}
}

static int
https_start(const struct conf *c)
{
	char err[512];
	size_t i;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("http: curl_global_init failed");
	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].carrier == CONF_CARRIER_HTTP &&
		    https_listen(c, &c->listen[i], err, sizeof(err)) != 0)
			fatalx("%s", err);
	return 0;
}

static void
https_stop(void)
{
	struct hreq *h;
	struct hconn *hc;
	struct hnew *n;
	size_t i;

	/* requests still in hand: evhttp_free frees them; a later reply only frees ours */
	TAILQ_FOREACH(h, &hs_reqs, entry) {
		h->req = NULL;
		h->hc = NULL;
	}
	while ((hc = TAILQ_FIRST(&hs_conns)) != NULL) {
		evhttp_connection_set_closecb(hc->evcon, NULL, NULL);
		hconn_free(hc);
	}
	ht_clear(&hs_by_evcon);
	ht_clear(&hs_by_ip);
	while ((n = TAILQ_FIRST(&hs_new)) != NULL) {
		TAILQ_REMOVE(&hs_new, n, entry);
		free(n);
	}
	if (hs_sweep_ev != NULL)
		event_free(hs_sweep_ev);
	hs_sweep_ev = NULL;
	for (i = 0; i < nhls; i++) {
		evhttp_free(hls[i]->http);
		free(hls[i]->url);
		free(hls[i]);
	}
	free(hls);
	hls = NULL;
	nhls = 0;
	if (hs_idle_ev != NULL)
		event_free(hs_idle_ev);
	hs_idle_ev = NULL;
	if (hs_ssl != NULL)
		SSL_CTX_free(hs_ssl);
	hs_ssl = NULL;
	curl_global_cleanup();
}

const struct ncarrier carrier_http = {
	.name = "http",
	.carrier = CASCADE__CARRIER__CARRIER_HTTP,
	.conf_carrier = CONF_CARRIER_HTTP,
	.start = https_start,
	.listen = https_listen,
	.unlisten = https_unlisten,
	.stop = https_stop,
	.dial = &http_client_ops,
};
