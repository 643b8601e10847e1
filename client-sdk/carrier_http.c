/*
 * carrier_http.c — libcascade's http carrier: each request of the link
 * protocol is one POST to the node's endpoint for its message type,
 * URL/v1/hello, /auth, /push, /pull (the body is the protobuf Request,
 * Content-Type application/x-protobuf; the answer the protobuf Reply, with
 * status 200 or, when the node refuses, an error status). See
 * cascade.conf(5) and node/carrier_http.c for the server.
 *
 * Threads
 * - libcurl's multi interface runs on a thread of the carrier's own (the
 *   "http thread"); it owns the multi handle and every transfer. HTTP/1.1
 *   without pipelining: each request in flight (the push window, the held
 *   pull) has a connection to itself, and connections are kept alive
 *   between requests (up to HTTP_MAX_CONNS idle ones).
 * - call() (the SDK thread) prepares the easy handle and queues it under
 *   t->mu, then wakes the http thread (curl_multi_wakeup, which may be used
 *   from any thread; t->mu keeps the multi handle from being replaced
 *   meanwhile by a reset). reply_fn and state_fn run on the http thread.
 * - Log lines: cascade.h promises the log callback runs on the SDK thread
 *   (or inside cascade_open / cascade_close), so the http thread only
 *   queues them; call(), reset() and close(), which run there, pass them
 *   on. A failure's line therefore comes with the SDK's next request, which
 *   a failure always brings (the SDK says hello again after a backoff).
 * - close() sets closing and wakes the http thread, which answers every
 *   call with CASCADE_ECLOSED, then cleans up curl and ends; close() joins
 *   it. Nothing in that loop blocks: transfers are non-blocking and
 *   CURLOPT_QUICK_EXIT keeps curl from waiting for a resolver thread.
 *
 * There are no lasting connections to speak of: state_fn(1) is said once,
 * when the http thread starts, and every reply comes with conn 1.
 * reset() fails the calls in flight (CASCADE_ECARRIER) and replaces the
 * multi handle, which drops every connection it kept.
 *
 * curl_global_init runs once per process (pthread_once), with
 * CURL_GLOBAL_DEFAULT, and curl_global_cleanup never: another part of the
 * program may use curl too. cascade.h asks such programs to call
 * curl_global_init themselves before starting threads.
 * Signals: CURLOPT_NOSIGNAL, and the http thread blocks every signal (an
 * EPIPE stays an error, never a SIGPIPE).
 */
#include "config.h"

#include <sys/queue.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cascade.h"
#include "sdk_int.h"

#define HTTP_CONN 1                     /* the conn id of every reply */
#define HTTP_TYPE "application/x-protobuf"
#define HTTP_MAX_CONNS 32L              /* connections kept alive (window 16 + the pull) */
#define HTTP_CONNECT_MAX_MS 10000       /* connecting takes at most this (or the timeout) */
#define HTTP_DEF_TIMEOUT_MS 30000       /* for a call given no timeout */
#define HTTP_DEF_MAX_REPLY (64u << 20)  /* for params without max_reply */
#define HTTP_POLL_MS 1000               /* the longest sleep between two looks at curl */
#define HTTP_LOG_QUEUE 16               /* log lines waiting for the SDK thread */
#define HTTP_LOG_LEN 480
#define HTTP_LOG_REPEAT_MS 30000        /* the same failure is a warning again after this */
#define HTTP_FAIL_STATUS 100000         /* hlog_fail: HTTP statuses, apart from CURLcodes */

/* The endpoints, indexed by message type (Cascade__MsgType). */
static const char *const endpoints[] = { NULL, "hello", "auth", "push", "pull", "routes" };
#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

struct hcall {
	TAILQ_ENTRY(hcall) entry;       /* t->queued, then the http thread's active list */
	CURL *easy;
	uint8_t *req;                   /* the request body (curl does not copy it) */
	uint8_t *resp;                  /* the reply body so far */
	size_t resplen, respcap, max;
	int too_big, nomem;
	uint32_t type;
	carrier_reply_fn fn;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
};

TAILQ_HEAD(hcalls, hcall);

struct hlogline {
	int level;
	char msg[HTTP_LOG_LEN];
};

struct http {
	struct carrier_params p;
	char *url;                      /* as given */
	char *ca_file;                  /* https: verify the node against it */
	char *cert_file, *key_file;     /* https: ours for mutual TLS, or NULL */
	char *proxy;                    /* NULL: straight to the node */
	char *ep_url[NENDPOINTS];       /* url (no trailing '/') + "/v1/" + endpoint */
	int tls;
	struct curl_slist *hdrs;        /* every request's headers (read only) */
	pthread_t thr;

	pthread_mutex_t mu;
	/* under mu */
	CURLM *multi;                   /* the http thread's; wakeups take mu */
	struct hcalls queued;           /* calls the http thread has not taken yet */
	int closing;
	int resetting;
	struct hlogline logq[HTTP_LOG_QUEUE];
	unsigned nlog, lostlog;

	/* http thread */
	struct hcalls active;           /* calls in the multi handle */
	int lastfail;                   /* what failed last (see hlog_fail) */
	int64_t lastfail_ms;
};

/* ------------------------------------------------------------ curl's init */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ----------------------------------------------------------------- logging */

static void
hlog_now(struct http *t, int level, const char *fmt, ...) SDK_PRINTF(3, 4);

/* Logs at once: only on the SDK thread or the one in cascade_open. */
static void
hlog_now(struct http *t, int level, const char *fmt, ...)
{
	char msg[HTTP_LOG_LEN];
	va_list ap;

	if (t->p.log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->p.log_fn(t->p.arg, level, msg);
}

static void
hlog_queue(struct http *t, int level, const char *msg)
{
	pthread_mutex_lock(&t->mu);
	if (t->nlog < HTTP_LOG_QUEUE) {
		t->logq[t->nlog].level = level;
		snprintf(t->logq[t->nlog].msg, sizeof(t->logq[t->nlog].msg), "%s", msg);
		t->nlog++;
	} else
		t->lostlog++;
	pthread_mutex_unlock(&t->mu);
}

static void
hlog_fail(struct http *t, int level, int what, const char *fmt, ...) SDK_PRINTF(4, 5);

/*
 * A failure seen on the http thread, queued for the SDK thread. what names
 * the kind of failure (a CURLcode, or an HTTP status + HTTP_FAIL_STATUS):
 * the same kind again within HTTP_LOG_REPEAT_MS is only a debug line (a
 * node that is down fails every hello the same way; curl's text varies
 * with timings).
 */
static void
hlog_fail(struct http *t, int level, int what, const char *fmt, ...)
{
	char msg[HTTP_LOG_LEN];
	int64_t now = cmono_ms();
	va_list ap;

	if (t->p.log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level < CASCADE_LOG_DEBUG) {
		if (what == t->lastfail && now - t->lastfail_ms < HTTP_LOG_REPEAT_MS)
			level = CASCADE_LOG_DEBUG;
		else {
			t->lastfail = what;
			t->lastfail_ms = now;
		}
	}
	hlog_queue(t, level, msg);
}

/* Passes the queued lines on (SDK thread, no lock held). */
static void
hlog_flush(struct http *t)
{
	struct hlogline q[HTTP_LOG_QUEUE];
	unsigned n, lost, i;

	if (t->p.log_fn == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	n = t->nlog;
	lost = t->lostlog;
	if (n > 0)
		memcpy(q, t->logq, n * sizeof(q[0]));
	t->nlog = t->lostlog = 0;
	pthread_mutex_unlock(&t->mu);
	for (i = 0; i < n; i++)
		t->p.log_fn(t->p.arg, q[i].level, q[i].msg);
	if (lost > 0)
		hlog_now(t, CASCADE_LOG_WARN, "http: %u more log lines about %s dropped", lost,
		    t->url);
}

/* ------------------------------------------------------------------- calls */

/*
 * The type (field 2) of an encoded Request, read without decoding the rest
 * (a push may be a megabyte); 0 when absent or not a message.
 */
static uint32_t
req_type(const uint8_t *buf, size_t len)
{
	uint64_t v;

	if (pbw_field(buf, len, CPBF_REQUEST_TYPE, &v, NULL, NULL) != 0 || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

static void
hcall_free(struct hcall *c)
{
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	free(c->req);
	free(c->resp);
	free(c);
}

/* Calls reply_fn (http thread) and frees c, which is out of every list and multi. */
static void
hcall_answer(struct hcall *c, int err)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (err == 0) {
		if (c->resp == NULL && (c->resp = malloc(1)) == NULL)
			err = CASCADE_ENOMEM;
		else {
			buf = c->resp;
			len = c->resplen;
			c->resp = NULL;
		}
	}
	c->fn(c->arg, err, buf, len, HTTP_CONN);
	hcall_free(c);
}

static size_t
hcall_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct hcall *c = arg;
	size_t n = size * nmemb, cap;
	uint8_t *r;

	if (c->resplen + n > c->max) {
		c->too_big = 1;
		return 0;               /* curl fails the transfer: CURLE_WRITE_ERROR */
	}
	if (c->resplen + n + 1 > c->respcap) {
		cap = (c->resplen + n + 1) * 2;
		if (cap < 4096)
			cap = 4096;
		if (cap > c->max + 1)
			cap = c->max + 1;
		if ((r = realloc(c->resp, cap)) == NULL) {
			c->nomem = 1;
			return 0;
		}
		c->resp = r;
		c->respcap = cap;
	}
	memcpy(c->resp + c->resplen, data, n);
	c->resplen += n;
	c->resp[c->resplen] = '\0';     /* a text body prints as a string */
	return n;
}

static int
content_type_ok(const char *ct)
{
	size_t n = sizeof(HTTP_TYPE) - 1;

	return ct != NULL && strncasecmp(ct, HTTP_TYPE, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Whether res says the node's certificate (or our CA file) is the trouble. */
static int
tls_verify_failed(CURLcode res)
{
	switch (res) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* curl finished c (removed from the multi already): what to answer. */
static void
hcall_finished(struct http *t, struct hcall *c, CURLcode res)
{
	const char *url = t->ep_url[c->type];
	const char *why = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(res);
	char *ct = NULL;
	long code = 0;
	size_t i;
	int err = 0;

	if (res == CURLE_OK) {
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct);
		/* every answer of the node carries a Reply, whatever the status; a proxy's does not */
		if (!content_type_ok(ct)) {
			for (i = 0; i < c->resplen && i < 160; i++)
				if (c->resp[i] < 0x20 || c->resp[i] >= 0x7f)
					break;
			hlog_fail(t, CASCADE_LOG_WARN, HTTP_FAIL_STATUS + (int)code, "http: %s: "
			    "status %ld without a protobuf reply%s%.*s", url, code, i ? ": " : "",
			    (int)i, c->resp != NULL ? (const char *)c->resp : "");
			err = CASCADE_ECARRIER;
		}
	} else if (res == CURLE_OPERATION_TIMEDOUT) {
		hlog_fail(t, CASCADE_LOG_DEBUG, (int)res, "http: %s: %s", url, why);
		err = CASCADE_ETIMEDOUT;
	} else if (c->nomem || res == CURLE_OUT_OF_MEMORY) {
		err = CASCADE_ENOMEM;
	} else if (c->too_big) {
		hlog_fail(t, CASCADE_LOG_WARN, (int)res, "http: %s: a reply larger than %zu bytes; "
		    "dropped", url, c->max);
		err = CASCADE_ECARRIER;
	} else if (t->tls && tls_verify_failed(res)) {
		hlog_fail(t, CASCADE_LOG_ERROR, (int)res, "https: %s: the node's certificate does "
		    "not verify against CA file %s: %s", url, t->ca_file, why);
		err = CASCADE_ECARRIER;
	} else {
		hlog_fail(t, CASCADE_LOG_WARN, (int)res, "http: %s%s%s: %s", url,
		    t->proxy != NULL ? " through proxy " : "", t->proxy != NULL ? t->proxy : "", why);
		err = CASCADE_ECARRIER;
	}
	if (err == 0)
		t->lastfail = 0;        /* the next failure is news */
	hcall_answer(c, err);
}

/* Takes what curl finished (http thread). */
static void
http_check(struct http *t, CURLM *multi)
{
	struct hcall *c;
	CURLMsg *m;
	CURLcode res;
	CURL *e;
	char *priv;
	int left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		e = m->easy_handle;
		res = m->data.result;
		priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		curl_multi_remove_handle(multi, e);
		if ((c = (struct hcall *)(void *)priv) == NULL)
			continue;
		TAILQ_REMOVE(&t->active, c, entry);
		hcall_finished(t, c, res);
	}
}

/* Builds the transfer of one request (any thread: c is nobody else's yet). */
static int
hcall_setup(struct http *t, struct hcall *c, int timeout_ms)
{
	CURL *e;
	int rc = 0;

	if ((c->easy = e = curl_easy_init()) == NULL)
		return CASCADE_ENOMEM;
#define SET(opt, val) do { if (curl_easy_setopt(e, opt, val) != CURLE_OK) rc = -1; } while (0)
	SET(CURLOPT_URL, t->ep_url[c->type]);
	SET(CURLOPT_PRIVATE, (void *)c);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, (void *)c->req);
	SET(CURLOPT_HTTPHEADER, t->hdrs);
	SET(CURLOPT_WRITEFUNCTION, hcall_write);
	SET(CURLOPT_WRITEDATA, (void *)c);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < HTTP_CONNECT_MAX_MS ? timeout_ms :
	    HTTP_CONNECT_MAX_MS));
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	/* the proxy asked for, or none: never one from the environment */
	SET(CURLOPT_PROXY, t->proxy != NULL ? t->proxy : "");
	if (t->proxy != NULL)
		SET(CURLOPT_NOPROXY, "");       /* and no_proxy does not bypass it either */
#if LIBCURL_VERSION_NUM >= 0x075700
	SET(CURLOPT_QUICK_EXIT, 1L);    /* cleanup never waits for a resolver thread */
#endif
	if (t->tls) {
		/* the node's certificate is verified against the CA file, and only that */
		SET(CURLOPT_CAINFO, t->ca_file);
		SET(CURLOPT_CAPATH, NULL);
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
		SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		if (t->cert_file != NULL) {
			SET(CURLOPT_SSLCERT, t->cert_file);
			SET(CURLOPT_SSLKEY, t->key_file);
		}
	}
#undef SET
	return rc == 0 ? 0 : CASCADE_ENOMEM;
}

static int
http_call(void *impl, const uint8_t *buf, size_t len, int timeout_ms, carrier_reply_fn fn,
    void *arg)
{
	struct http *t = impl;
	struct hcall *c;
	uint32_t type;
	int rc;

	hlog_flush(t);
	type = req_type(buf, len);
	if (type == 0 || type >= NENDPOINTS)
		return CASCADE_EINVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CASCADE_ENOMEM;
	c->type = type;
	c->fn = fn;
	c->arg = arg;
	c->max = t->p.max_reply;
	if ((c->req = malloc(len ? len : 1)) == NULL) {
		free(c);
		return CASCADE_ENOMEM;
	}
	memcpy(c->req, buf, len);
	if ((rc = hcall_setup(t, c, timeout_ms > 0 ? timeout_ms : HTTP_DEF_TIMEOUT_MS)) != 0 ||
	    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK) {
		hcall_free(c);
		return rc != 0 ? rc : CASCADE_ENOMEM;
	}
	pthread_mutex_lock(&t->mu);
	if (t->closing) {
		pthread_mutex_unlock(&t->mu);
		hcall_free(c);
		return CASCADE_ECLOSED;
	}
	TAILQ_INSERT_TAIL(&t->queued, c, entry);
	curl_multi_wakeup(t->multi);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* ------------------------------------------------------------- the thread */

static CURLM *
multi_new(void)
{
	CURLM *m;

	if ((m = curl_multi_init()) == NULL)
		return NULL;
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, HTTP_MAX_CONNS);
	return m;
}

/* Fails every call in flight with err and removes it from multi (http thread). */
static void
http_fail_active(struct http *t, CURLM *multi, int err)
{
	struct hcall *c;

	while ((c = TAILQ_FIRST(&t->active)) != NULL) {
		TAILQ_REMOVE(&t->active, c, entry);
		curl_multi_remove_handle(multi, c->easy);
		hcall_answer(c, err);
	}
}

/* reset(): every call in flight fails, every connection goes with the old multi. */
static CURLM *
http_drop(struct http *t, CURLM *multi)
{
	CURLM *fresh;

	http_fail_active(t, multi, CASCADE_ECARRIER);
	if ((fresh = multi_new()) == NULL)
		return multi;           /* no memory: keep the connections */
	pthread_mutex_lock(&t->mu);
	t->multi = fresh;
	pthread_mutex_unlock(&t->mu);
	curl_multi_cleanup(multi);
	return fresh;
}

static void *
http_main(void *arg)
{
	struct http *t = arg;
	struct hcalls batch = TAILQ_HEAD_INITIALIZER(batch);
	struct hcall *c;
	CURLM *multi;
	int closing, resetting, running;

	pthread_mutex_lock(&t->mu);
	multi = t->multi;
	if (!t->closing)
		t->p.state_fn(t->p.arg, 1, HTTP_CONN);  /* http: requests may be tried now */
	pthread_mutex_unlock(&t->mu);
	for (;;) {
		pthread_mutex_lock(&t->mu);
		TAILQ_CONCAT(&batch, &t->queued, entry);
		closing = t->closing;
		resetting = t->resetting;
		t->resetting = 0;
		pthread_mutex_unlock(&t->mu);
		if (closing)
			break;
		/* calls queued before the reset came are new ones: they stay */
		if (resetting)
			multi = http_drop(t, multi);
		while ((c = TAILQ_FIRST(&batch)) != NULL) {
			TAILQ_REMOVE(&batch, c, entry);
			if (curl_multi_add_handle(multi, c->easy) != CURLM_OK) {
				hlog_fail(t, CASCADE_LOG_WARN, -1, "http: %s: cannot start a request",
				    t->ep_url[c->type]);
				hcall_answer(c, CASCADE_ECARRIER);
				continue;
			}
			TAILQ_INSERT_TAIL(&t->active, c, entry);
		}
		curl_multi_perform(multi, &running);
		http_check(t, multi);
		/* sleeps until a socket is ready, curl's next timeout, or a wakeup */
		curl_multi_poll(multi, NULL, 0, HTTP_POLL_MS, NULL);
	}

	/* closing: call() takes nothing more; everything gets ECLOSED, then curl goes */
	http_fail_active(t, multi, CASCADE_ECLOSED);
	pthread_mutex_lock(&t->mu);
	TAILQ_CONCAT(&batch, &t->queued, entry);
	t->multi = NULL;
	pthread_mutex_unlock(&t->mu);
	while ((c = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, c, entry);
		hcall_answer(c, CASCADE_ECLOSED);
	}
	curl_multi_cleanup(multi);
	return NULL;
}

/* ------------------------------------------------------------ open, close */

static void
http_free(struct http *t)
{
	size_t i;

	curl_slist_free_all(t->hdrs);
	for (i = 0; i < NENDPOINTS; i++)
		free(t->ep_url[i]);
	free(t->url);
	free(t->ca_file);
	free(t->cert_file);
	free(t->key_file);
	free(t->proxy);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Checks that the CA file can be read: a typo should fail open, not every request. */
static int
ca_readable(const char *path, char *err, size_t errlen)
{
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "CA file %s: %s", path, strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

static int
http_open(const struct carrier_params *p, void **impl, char *err, size_t errlen)
{
	struct http *t;
	struct curl_slist *h;
	sigset_t all, old;
	size_t i, n;
	int rc, fail = 0;

	*impl = NULL;
	if (sdk_url_check(p->url, NULL, 0, NULL) != 0 || strpbrk(p->url, "?#") != NULL) {
		snprintf(err, errlen, "%s: not an http:// or https:// url with a host", p->url);
		return CASCADE_EINVAL;
	}
	if (p->proxy != NULL && (strncmp(p->proxy, "http://", 7) != 0 ||
	    sdk_url_check(p->proxy, NULL, 0, NULL) != 0)) {
		snprintf(err, errlen, "proxy %s: not an http:// url with a host", p->proxy);
		return CASCADE_EINVAL;
	}
	if (carrier_url_tls(p->url)) {
		if (p->ca_file == NULL || p->ca_file[0] == '\0') {
			snprintf(err, errlen, "%s: https needs a CA file (cascade_options_set_ca_file)",
			    p->url);
			return CASCADE_ECARRIER;
		}
		if (ca_readable(p->ca_file, err, errlen) != 0)
			return CASCADE_ECARRIER;
	}
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
		return CASCADE_ECARRIER;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CASCADE_ENOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	TAILQ_INIT(&t->queued);
	TAILQ_INIT(&t->active);
	t->p = *p;
	if (t->p.max_reply == 0)
		t->p.max_reply = HTTP_DEF_MAX_REPLY;
	t->tls = carrier_url_tls(p->url);
	if ((t->url = strdup(p->url)) == NULL ||
	    (t->tls && (t->ca_file = strdup(p->ca_file)) == NULL) ||
	    (t->tls && p->cert_file != NULL && ((t->cert_file = strdup(p->cert_file)) == NULL ||
	    (t->key_file = strdup(p->key_file)) == NULL)) ||
	    (p->proxy != NULL && (t->proxy = strdup(p->proxy)) == NULL))
		fail = 1;
	t->p.url = t->url;
	t->p.ca_file = t->ca_file;
	t->p.cert_file = t->cert_file;
	t->p.key_file = t->key_file;
	t->p.proxy = t->proxy;
	/* the endpoints below the url's path */
	n = t->url != NULL ? strlen(t->url) : 0;
	while (n > 0 && t->url[n - 1] == '/')
		n--;
	for (i = 1; i < NENDPOINTS && !fail; i++) {
		size_t len = n + strlen("/v1/") + strlen(endpoints[i]) + 1;

		if ((t->ep_url[i] = malloc(len)) == NULL)
			fail = 1;
		else
			snprintf(t->ep_url[i], len, "%.*s/v1/%s", (int)n, t->url, endpoints[i]);
	}
	/* Expect: none, so a large push goes without a 100-continue round trip */
	if (!fail) {
		const char *hv[] = { "Content-Type: " HTTP_TYPE, "Accept: " HTTP_TYPE, "Expect:" };

		for (i = 0; i < sizeof(hv) / sizeof(hv[0]) && !fail; i++) {
			if ((h = curl_slist_append(t->hdrs, hv[i])) == NULL)
				fail = 1;
			else
				t->hdrs = h;
		}
	}
	if (fail || (t->multi = multi_new()) == NULL) {
		http_free(t);
		snprintf(err, errlen, "out of memory");
		return CASCADE_ENOMEM;
	}
	/* the http thread takes no signals: they stay with the application's threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t->thr, NULL, http_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		curl_multi_cleanup(t->multi);
		http_free(t);
		snprintf(err, errlen, "starting the http thread: %s", strerror(rc));
		return CASCADE_ENOMEM;
	}
	if (t->proxy != NULL)
		hlog_now(t, CASCADE_LOG_INFO, "http: requests to %s go through proxy %s", t->url,
		    t->proxy);
	hlog_now(t, CASCADE_LOG_DEBUG, "http: requests go to %s and its siblings", t->ep_url[1]);
	*impl = t;
	return 0;
}

static void
http_reset(void *impl)
{
	struct http *t = impl;

	hlog_flush(t);
	pthread_mutex_lock(&t->mu);
	t->resetting = 1;
	curl_multi_wakeup(t->multi);
	pthread_mutex_unlock(&t->mu);
	hlog_now(t, CASCADE_LOG_INFO, "http: dropped the connections to %s; connecting again",
	    t->url);
}

static void
http_close(void *impl)
{
	struct http *t = impl;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->closing = 1;
	if (t->multi != NULL)
		curl_multi_wakeup(t->multi);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thr, NULL);
	hlog_flush(t);
	http_free(t);
}

const struct carrier_ops carrier_http_ops = {
	"http",
	http_open,
	http_call,
	http_reset,
	http_close,
};
