/*
 * carrier_http_client.c — the http carrier's dialing side (carrier.h):
 * the link protocol as POST bodies to a parent's http:// or https:// url.
 *
 * libcurl's multi interface driven by the loop (socket and timer
 * callbacks become libevent events; no thread, no blocking call). One multi
 * handle per link keeps its connections alive between requests; redial
 * drops it with every connection. Completed calls go through a queue that a
 * libevent event drains, so a callback may call, redial or close freely.
 */

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cascaded.h"
#include "carrier_http.h"

#define HTTP_REPLY_MAX (64u << 20)      /* the largest reply body the client takes */
#define HTTP_LOG_REPEAT_MS 30000        /* the same client error is logged again after this */

struct hclient;

/* A socket curl asked us to watch. */
struct hsock {
	struct event *ev;
	struct hclient *c;
	curl_socket_t fd;
	LIST_ENTRY(hsock) entry;
};

struct hcall {
	TAILQ_ENTRY(hcall) entry;       /* its client's calls, then the done queue */
	struct hclient *c;              /* NULL once done */
	CURL *easy;
	struct curl_slist *hdrs;
	uint8_t *req;
	size_t reqlen;
	uint8_t *resp;
	size_t resplen, respcap;
	int err;
	cclient_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
};

struct hclient {
	const struct conf_parent *pc;
	const struct conf_url *url;
	char *base;                     /* the url without trailing '/' */
	struct cclient_events ev;
	CURLM *multi;
	struct event *timer;            /* curl's timeout */
	struct event *connect_ev;       /* tells the uplink it may send */
	int64_t backoff_ms;             /* before the next "connected" after a redial */
	TAILQ_HEAD(, hcall) calls;
	LIST_HEAD(, hsock) socks;
	char lasterr[256];
	int64_t lasterr_ms;
};

static TAILQ_HEAD(, hcall) hc_done = TAILQ_HEAD_INITIALIZER(hc_done);
static struct event *hc_done_ev;

static void
hcall_free(struct hcall *hc)
{
	if (hc->easy != NULL)
		curl_easy_cleanup(hc->easy);
	curl_slist_free_all(hc->hdrs);
	free(hc->req);
	free(hc->resp);
	free(hc);
}

/* Runs the callbacks of finished calls, one by one: a callback may do anything. */
static void
hc_drain(evutil_socket_t fd, short what, void *arg)
{
	struct hcall *hc;

	while ((hc = TAILQ_FIRST(&hc_done)) != NULL) {
		TAILQ_REMOVE(&hc_done, hc, entry);
		hc->cb(hc->arg, hc->err, hc->err ? NULL : hc->resp, hc->err ? 0 : hc->resplen);
		hcall_free(hc);
	}
}

/* Moves hc (out of its multi already) to the done queue. */
static void
hc_complete(struct hcall *hc, int err)
{
	if (hc->c != NULL)
		TAILQ_REMOVE(&hc->c->calls, hc, entry);
	hc->c = NULL;
	hc->err = err;
	TAILQ_INSERT_TAIL(&hc_done, hc, entry);
	event_active(hc_done_ev, 0, 0);
}

/* A failure worth a log line; the same one again only now and then. */
static void
hc_failed(struct hclient *c, const char *fmt, ...) PRINTF(2, 3);

static void
hc_failed(struct hclient *c, const char *fmt, ...)
{
	char msg[256];
	int64_t now = cmono_ms();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, c->lasterr) == 0 && now - c->lasterr_ms < HTTP_LOG_REPEAT_MS) {
		log_debug("link %s: %s", c->pc->id, msg);
		return;
	}
	snprintf(c->lasterr, sizeof(c->lasterr), "%s", msg);
	c->lasterr_ms = now;
	log_warnx("link %s: %s", c->pc->id, msg);
}

/* curl finished hc: a reply to hand over (err 0), or none. */
static void
hc_finished(struct hclient *c, struct hcall *hc, CURLcode res)
{
	Cascade__Reply *rep;
	char *url = NULL, *ct = NULL;
	long code = 0;
	size_t i;

	curl_easy_getinfo(hc->easy, CURLINFO_EFFECTIVE_URL, &url);
	if (res != CURLE_OK) {
		if (c->url->tls && (res == CURLE_PEER_FAILED_VERIFICATION ||
		    res == CURLE_SSL_CACERT_BADFILE))
			hc_failed(c, "http: %s: the parent's certificate does not verify against "
			    "ca %s: %s", url, c->pc->ca, hc->errbuf[0] ? hc->errbuf :
			    curl_easy_strerror(res));
		else
			hc_failed(c, "http: %s: %s", url, hc->errbuf[0] ? hc->errbuf :
			    curl_easy_strerror(res));
		hc_complete(hc, -1);
		return;
	}
	c->backoff_ms = c->pc->reconnect_min_ms;
	curl_easy_getinfo(hc->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code == 200) {
		hc_complete(hc, 0);
		return;
	}
	/* an error status still carries a Reply, unless it comes from elsewhere (a proxy) */
	curl_easy_getinfo(hc->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (content_type_ok(ct) &&
	    (rep = cascade__reply__unpack(NULL, hc->resplen, hc->resp)) != NULL) {
		cascade__reply__free_unpacked(rep, NULL);
		hc_complete(hc, 0);
		return;
	}
	for (i = 0; i < hc->resplen && i < 160; i++)
		if (hc->resp[i] < 0x20 || hc->resp[i] >= 0x7f)
			break;
	hc_failed(c, "http: %s: status %ld without a protobuf reply%s%.*s", url, code,
	    i ? ": " : "", (int)i, hc->resp ? (const char *)hc->resp : "");
	hc_complete(hc, -1);
}

static void
hc_check(struct hclient *c)
{
	struct hcall *hc;
	CURLMsg *m;
	CURLcode res;
	CURL *e;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		e = m->easy_handle;
		res = m->data.result;
		hc = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&hc);
		curl_multi_remove_handle(c->multi, e);
		if (hc != NULL)
			hc_finished(c, hc, res);
	}
}

static void
hc_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct hsock *hs = arg;
	struct hclient *c = hs->c;      /* hs may be freed by the action */
	int running, action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, fd, action, &running);
	hc_check(c);
}

static void
hc_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct hclient *c = arg;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	hc_check(c);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants. */
static int
hc_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct hclient *c = userp;
	struct hsock *hs = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_free(hs->ev);
			LIST_REMOVE(hs, entry);
			free(hs);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (hs == NULL) {
		hs = xcalloc(1, sizeof(*hs));
		hs->c = c;
		hs->fd = s;
		if ((hs->ev = event_new(node->base, s, kind, hc_sock_event, hs)) == NULL) {
			/* -1: curl (7.85 on) fails every transfer of this multi, each call
			 * with an err; an older one ignores it, and the call times out */
			hc_failed(c, "http: no event for a socket (event_new failed)");
			free(hs);
			return -1;
		}
		LIST_INSERT_HEAD(&c->socks, hs, entry);
		curl_multi_assign(c->multi, s, hs);
	} else {
		event_del(hs->ev);
		event_assign(hs->ev, node->base, s, kind, hc_sock_event, hs);
	}
	event_add(hs->ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: never act from inside curl; the loop calls back. */
static int
hc_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct hclient *c = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
	return 0;
}

/*
 * 0, or -1 when curl has no multi handle for us: c->multi stays NULL, and
 * each call fails (curl_multi_add_handle) until a redial makes one.
 */
static int
hc_multi_new(struct hclient *c)
{
	if ((c->multi = curl_multi_init()) == NULL) {
		hc_failed(c, "http: curl_multi_init failed");
		return -1;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, hc_sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, hc_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* the pull and a window of pushes, each on its kept-alive connection */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 16L);
	return 0;
}

/* Ends every call in flight with an error, and drops the connections. */
static void
hc_multi_drop(struct hclient *c)
{
	struct hcall *hc;
	struct hsock *hs;

	while ((hc = TAILQ_FIRST(&c->calls)) != NULL) {
		curl_multi_remove_handle(c->multi, hc->easy);
		hc_complete(hc, -1);
	}
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	if (c->timer != NULL)
		evtimer_del(c->timer);
	/* sockets curl did not say goodbye to */
	while ((hs = LIST_FIRST(&c->socks)) != NULL) {
		event_free(hs->ev);
		LIST_REMOVE(hs, entry);
		free(hs);
	}
}

static size_t
hc_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct hcall *hc = arg;
	size_t n = size * nmemb;

	if (hc->resplen + n > HTTP_REPLY_MAX)
		return 0;       /* curl fails the transfer */
	if (hc->resplen + n + 1 > hc->respcap) {
		hc->respcap = (hc->resplen + n + 1) * 2;
		hc->resp = xrealloc(hc->resp, hc->respcap);
	}
	memcpy(hc->resp + hc->resplen, data, n);
	hc->resplen += n;
	hc->resp[hc->resplen] = '\0';   /* text bodies print as strings */
	return n;
}

/* 0: cb runs once, on the loop; -1 (said here): no request made, cb never runs. */
static int
hc_call(void *cp, const uint8_t *buf, size_t len, int timeout_ms, cclient_cb cb, void *arg)
{
	struct hclient *c = cp;
	struct hcall *hc = xcalloc(1, sizeof(*hc));
	uint64_t type = 0;
	static const char *const hdr[] = {
		"Content-Type: " PROTOBUF_TYPE,
		"Accept: " PROTOBUF_TYPE,
		"Expect:",              /* no 100-continue round trip */
	};
	struct curl_slist *hdrs;
	char *url;
	CURL *e;
	size_t i;

	hc->cb = cb;
	hc->arg = arg;
	hc->req = xmalloc(len ? len : 1);
	memcpy(hc->req, buf, len);
	hc->reqlen = len;
	pbw_field(buf, len, CPBF_REQUEST_TYPE, &type, NULL, NULL);
	xasprintf(&url, "%s/v1/%s", c->base, type_name((uint32_t)type));
	if ((hc->easy = e = curl_easy_init()) == NULL) {
		log_warnx("link %s: http: cannot make a request: curl_easy_init failed",
		    c->pc->id);
		goto fail;
	}
	/* an append that fails returns NULL and leaves the list as it was */
	for (i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
		if ((hdrs = curl_slist_append(hc->hdrs, hdr[i])) == NULL) {
			log_warnx("link %s: http: cannot make a request: out of memory",
			    c->pc->id);
			goto fail;
		}
		hc->hdrs = hdrs;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, hc);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, hc->req);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hc->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, hc_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, hc);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, hc->errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 10000 ? timeout_ms :
	    10000));
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* the configured proxy, or none: never one from the environment */
	curl_easy_setopt(e, CURLOPT_PROXY, c->pc->proxy != NULL ? c->pc->proxy : "");
	if (c->url->tls) {
		/* the parent's certificate is verified against its ca, and only that */
		curl_easy_setopt(e, CURLOPT_CAINFO, c->pc->ca);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		if (c->pc->cert != NULL) {
			/* ours, for a parent that asks for one (mutual TLS) */
			curl_easy_setopt(e, CURLOPT_SSLCERT, c->pc->cert);
			curl_easy_setopt(e, CURLOPT_SSLKEY, c->pc->key);
		}
	}
	free(url);
	hc->c = c;
	TAILQ_INSERT_TAIL(&c->calls, hc, entry);
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		hc_failed(c, "http: cannot start a request");
		hc_complete(hc, -1);    /* cb runs later, on the loop, all the same */
	}
	return 0;
fail:
	free(url);
	hcall_free(hc);
	return -1;
}

static void
hc_connect_event(evutil_socket_t fd, short what, void *arg)
{
	struct hclient *c = arg;

	c->ev.connected(c->ev.arg);
}

/* http has no standing connection: "connected" means "go ahead", after ms. */
static void
hc_post_connected(struct hclient *c, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(c->connect_ev, &tv);
}

static void hc_close(void *cp);

static void *
hc_open(const struct conf_parent *pc, const struct conf_url *url,
    const struct cclient_events *ev, char *err, size_t errlen)
{
	struct hclient *c;
	size_t n;

	if (url->carrier != CONF_CARRIER_HTTP) {
		snprintf(err, errlen, "%s is not an http:// or https:// url", url->url);
		return NULL;
	}
	if (url->tls && pc->ca == NULL) {
		snprintf(err, errlen, "%s: https needs a ca to verify the parent", url->url);
		return NULL;
	}
	if (hc_done_ev == NULL)
		hc_done_ev = event_new(node->base, -1, 0, hc_drain, NULL);
	c = xcalloc(1, sizeof(*c));
	c->pc = pc;
	c->url = url;
	c->ev = *ev;
	c->base = xstrdup(url->url);
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->backoff_ms = pc->reconnect_min_ms;
	TAILQ_INIT(&c->calls);
	LIST_INIT(&c->socks);
	c->timer = evtimer_new(node->base, hc_timer_event, c);
	c->connect_ev = evtimer_new(node->base, hc_connect_event, c);
	if (c->timer == NULL || c->connect_ev == NULL || hc_done_ev == NULL ||
	    hc_multi_new(c) != 0) {
		snprintf(err, errlen, "%s: http: no event or curl handle for it", url->url);
		hc_close(c);
		return NULL;
	}
	if (pc->proxy != NULL)
		log_info("link %s: http requests to %s go through proxy %s", pc->id, url->url,
		    pc->proxy);
	hc_post_connected(c, 0);
	return c;
}

/*
 * A dead link: every call in flight ends (the uplink has moved on to a new
 * session), the kept-alive connections are dropped, and the uplink may try
 * again after a backoff, as a redialing tcp carrier would let it.
 */
static void
hc_redial(void *cp)
{
	struct hclient *c = cp;

	hc_multi_drop(c);
	(void)hc_multi_new(c);          /* on failure (said) calls fail until the next redial */
	hc_post_connected(c, c->backoff_ms);
	c->backoff_ms *= 2;
	if (c->backoff_ms > c->pc->reconnect_max_ms)
		c->backoff_ms = c->pc->reconnect_max_ms;
}

static void
hc_close(void *cp)
{
	struct hclient *c = cp;

	if (c == NULL)
		return;
	hc_multi_drop(c);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->connect_ev != NULL)
		event_free(c->connect_ev);
	free(c->base);
	free(c);
}

const struct cclient_ops http_client_ops = {
	.name = "http",
	.carrier = CASCADE__CARRIER__CARRIER_HTTP,
	.open = hc_open,
	.call = hc_call,
	.redial = hc_redial,
	.close = hc_close,
};

