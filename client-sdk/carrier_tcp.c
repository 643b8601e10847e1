/*
 * carrier_tcp.c — libcascade's tcp carrier: one nng req0 socket dialing
 * the node over tcp:// or tls+tcp://, a context per request so the push
 * window and the held pull run side by side.
 *
 * NNG_OPT_REQ_RESENDTIME is infinite: nng's own resend would replay a
 * request on a new connection before the Hello; the SDK does its own
 * resending above (sequence numbers make it harmless).
 *
 * nng completes aios on its own threads. The reply callback runs there,
 * with tcp->mu held, so that close() can tell which calls were answered:
 * every call gets exactly one reply_fn, from nng or, for an aio nng
 * stopped without calling back, from close() itself.
 */
#include "config.h"

#include <sys/queue.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "cascade.h"
#include "sdk_int.h"

/* How long cascade_close waits for nng_close (see closer_main). */
#define TCP_CLOSE_WAIT_S 3
#define TCP_CLOSE_WAIT_STR "3"

struct tcall {
	struct tcp *t;
	nng_ctx ctx;
	nng_aio *aio;
	int sent;                       /* the request is out: now receiving */
	int notified;                   /* reply_fn ran */
	carrier_reply_fn fn;
	void *arg;
	TAILQ_ENTRY(tcall) entry;
};

struct tcp {
	nng_socket sock;
	nng_dialer dialer;
	nng_tls_config *tls;
	char *url;
	struct carrier_params p;
	pthread_mutex_t mu;
	int closing;
	nng_pipe pipe;                  /* the connection up now, if any */
	int have_pipe;
	TAILQ_HEAD(, tcall) calls;      /* every call not yet freed */
};

static void
tlog(struct tcp *t, int level, const char *fmt, ...) SDK_PRINTF(3, 4);

static void
tlog(struct tcp *t, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (t->p.log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->p.log_fn(t->p.arg, level, msg);
}

static int
map_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case NNG_ETIMEDOUT:
		return CASCADE_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return CASCADE_ECLOSED;
	case NNG_ENOMEM:
		return CASCADE_ENOMEM;
	default:
		return CASCADE_ECARRIER;
	}
}

/* Calls reply_fn once; t->mu held. */
static void
tcall_notify(struct tcall *c, int err, uint8_t *buf, size_t len, uint64_t conn)
{
	if (c->notified) {
		free(buf);
		return;
	}
	c->notified = 1;
	c->fn(c->arg, err, buf, len, conn);
}

static void
tcall_aio_cb(void *arg)
{
	struct tcall *c = arg;
	struct tcp *t = c->t;
	int rc = nng_aio_result(c->aio), err;
	nng_msg *m;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t conn = 0;

	pthread_mutex_lock(&t->mu);
	if (rc == 0 && !c->sent) {
		/* the request is out; now wait for its reply (same timeout) */
		c->sent = 1;
		if (!t->closing) {
			nng_ctx_recv(c->ctx, c->aio);
			pthread_mutex_unlock(&t->mu);
			return;
		}
		rc = NNG_ECLOSED;
	} else if (rc != 0 && !c->sent) {
		/* a failed send leaves the message with us */
		if ((m = nng_aio_get_msg(c->aio)) != NULL)
			nng_msg_free(m);
	}
	err = map_err(rc);
	if (rc == 0) {
		m = nng_aio_get_msg(c->aio);
		len = nng_msg_len(m);
		conn = (uint64_t)nng_pipe_id(nng_msg_get_pipe(m));
		if ((buf = malloc(len ? len : 1)) == NULL)
			err = CASCADE_ENOMEM;
		else
			memcpy(buf, nng_msg_body(m), len);
		nng_msg_free(m);
	}
	tcall_notify(c, err, buf, err == 0 ? len : 0, conn);
	pthread_mutex_unlock(&t->mu);
}

static void
tcall_free(struct tcall *c)
{
	nng_aio_free(c->aio);
	nng_ctx_close(c->ctx);          /* NNG_ECLOSED if closed already: fine */
	free(c);
}

/* Frees the calls that are answered; called outside nng's threads. */
static void
sweep(struct tcp *t)
{
	struct tcall *c, *n;
	TAILQ_HEAD(, tcall) done = TAILQ_HEAD_INITIALIZER(done);

	pthread_mutex_lock(&t->mu);
	for (c = TAILQ_FIRST(&t->calls); c != NULL; c = n) {
		n = TAILQ_NEXT(c, entry);
		if (c->notified) {
			TAILQ_REMOVE(&t->calls, c, entry);
			TAILQ_INSERT_TAIL(&done, c, entry);
		}
	}
	pthread_mutex_unlock(&t->mu);
	/* nng_aio_free waits for a callback still finishing */
	while ((c = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, c, entry);
		tcall_free(c);
	}
}

static int
tcp_call(void *impl, const uint8_t *buf, size_t len, int timeout_ms, carrier_reply_fn fn,
    void *arg)
{
	struct tcp *t = impl;
	struct tcall *c;
	nng_msg *m = NULL;
	int rc;

	sweep(t);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CASCADE_ENOMEM;
	c->t = t;
	c->fn = fn;
	c->arg = arg;
	if ((rc = nng_aio_alloc(&c->aio, tcall_aio_cb, c)) != 0) {
		free(c);
		return map_err(rc);
	}
	if ((rc = nng_ctx_open(&c->ctx, t->sock)) != 0) {
		nng_aio_free(c->aio);
		free(c);
		return map_err(rc);
	}
	if ((rc = nng_msg_alloc(&m, 0)) != 0 || (rc = nng_msg_append(m, buf, len)) != 0) {
		if (m != NULL)
			nng_msg_free(m);
		tcall_free(c);
		return map_err(rc);
	}
	nng_ctx_set_ms(c->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_aio_set_timeout(c->aio, timeout_ms > 0 ? timeout_ms : NNG_DURATION_DEFAULT);
	nng_aio_set_msg(c->aio, m);
	pthread_mutex_lock(&t->mu);
	if (t->closing) {
		pthread_mutex_unlock(&t->mu);
		nng_msg_free(m);
		tcall_free(c);
		return CASCADE_ECLOSED;
	}
	TAILQ_INSERT_TAIL(&t->calls, c, entry);
	nng_ctx_send(c->ctx, c->aio);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

static void
tcp_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct tcp *t = arg;

	pthread_mutex_lock(&t->mu);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		t->pipe = p;
		t->have_pipe = 1;
	} else if (t->have_pipe && nng_pipe_id(t->pipe) == nng_pipe_id(p))
		t->have_pipe = 0;
	if (!t->closing)
		t->p.state_fn(t->p.arg, ev == NNG_PIPE_EV_ADD_POST, (uint64_t)nng_pipe_id(p));
	pthread_mutex_unlock(&t->mu);
}

static int
tcp_dial(struct tcp *t, char *err, size_t errlen)
{
	int rc;

	if ((rc = nng_dialer_create(&t->dialer, t->sock, t->url)) != 0) {
		snprintf(err, errlen, "%s: %s", t->url, nng_strerror(rc));
		return map_err(rc) == CASCADE_ENOMEM ? CASCADE_ENOMEM : CASCADE_ECARRIER;
	}
	nng_dialer_set_ms(t->dialer, NNG_OPT_RECONNMINT, t->p.reconnect_min_ms);
	nng_dialer_set_ms(t->dialer, NNG_OPT_RECONNMAXT, t->p.reconnect_max_ms);
	if (t->tls != NULL)
		nng_dialer_set_ptr(t->dialer, NNG_OPT_TLS_CONFIG, t->tls);
	/* non-blocking: a node that is down now is redialed in the background */
	if ((rc = nng_dialer_start(t->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, errlen, "%s: %s", t->url, nng_strerror(rc));
		return CASCADE_ECARRIER;
	}
	return 0;
}

static void tcp_close(void *impl);

/* A whole PEM file, NUL-terminated (malloc'd), or NULL with err set. */
static char *
pem_read(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0;

	if (f == NULL || (buf = calloc(1, 1 << 16)) == NULL ||
	    (n = fread(buf, 1, (1 << 16) - 1, f)) == 0) {
		snprintf(err, errlen, "%s: %s", path, f == NULL ? strerror(errno) : "empty");
		free(buf);
		buf = NULL;
	}
	if (f != NULL)
		fclose(f);
	return buf;
}

/* Our certificate for a node that asks for one (mutual TLS). */
static int
tcp_own_cert(nng_tls_config *cfg, const struct carrier_params *p, char *err, size_t errlen)
{
	char *cert, *key = NULL;
	int rc = -1, nrc;

	if ((cert = pem_read(p->cert_file, err, errlen)) != NULL &&
	    (key = pem_read(p->key_file, err, errlen)) != NULL) {
		if ((nrc = nng_tls_config_own_cert(cfg, cert, key, NULL)) == 0)
			rc = 0;
		else
			snprintf(err, errlen, "client certificate %s / key %s: %s", p->cert_file,
			    p->key_file, nng_strerror(nrc));
	}
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	return rc;
}

static int
tcp_open(const struct carrier_params *p, void **impl, char *err, size_t errlen)
{
	struct tcp *t;
	char host[256];
	int rc, tls = carrier_url_tls(p->url);

	*impl = NULL;
	if (sdk_url_check(p->url, host, sizeof(host), NULL) != 0) {
		snprintf(err, errlen, "%s: not a tcp:// or tls+tcp:// url with host and port", p->url);
		return CASCADE_EINVAL;
	}
	if (tls && (p->ca_file == NULL || p->ca_file[0] == '\0')) {
		snprintf(err, errlen, "%s: tls+tcp needs a CA file (cascade_options_set_ca_file)",
		    p->url);
		return CASCADE_ECARRIER;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->url = strdup(p->url)) == NULL) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return CASCADE_ENOMEM;
	}
	t->p = *p;
	t->p.url = t->url;
	t->p.ca_file = NULL;
	t->p.cert_file = t->p.key_file = NULL;
	pthread_mutex_init(&t->mu, NULL);
	TAILQ_INIT(&t->calls);
	if ((rc = nng_req0_open(&t->sock)) != 0) {
		snprintf(err, errlen, "req socket: %s", nng_strerror(rc));
		free(t->url);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return map_err(rc) == CASCADE_ENOMEM ? CASCADE_ENOMEM : CASCADE_ECARRIER;
	}
	nng_socket_set_ms(t->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(t->sock, NNG_OPT_RECVMAXSZ, p->max_reply);
	nng_pipe_notify(t->sock, NNG_PIPE_EV_ADD_POST, tcp_pipe_cb, t);
	nng_pipe_notify(t->sock, NNG_PIPE_EV_REM_POST, tcp_pipe_cb, t);
	if (tls) {
		if ((rc = nng_tls_config_alloc(&t->tls, NNG_TLS_MODE_CLIENT)) != 0 ||
		    (rc = nng_tls_config_ca_file(t->tls, p->ca_file)) != 0 ||
		    (rc = nng_tls_config_server_name(t->tls, host)) != 0 ||
		    (rc = nng_tls_config_auth_mode(t->tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
			snprintf(err, errlen, "tls with CA file %s: %s", p->ca_file, nng_strerror(rc));
			tcp_close(t);
			return CASCADE_ECARRIER;
		}
		if (p->cert_file != NULL && tcp_own_cert(t->tls, p, err, errlen) != 0) {
			tcp_close(t);
			return CASCADE_ECARRIER;
		}
	}
	if ((rc = tcp_dial(t, err, errlen)) != 0) {
		tcp_close(t);
		return rc;
	}
	tlog(t, CASCADE_LOG_DEBUG, "tcp: dialing %s", t->url);
	*impl = t;
	return 0;
}

/* Drops the connection; the dialer dials again by itself. */
static void
tcp_reset(void *impl)
{
	struct tcp *t = impl;
	nng_pipe p;
	int have;

	pthread_mutex_lock(&t->mu);
	p = t->pipe;
	have = t->have_pipe;
	pthread_mutex_unlock(&t->mu);
	if (have && nng_pipe_close(p) == 0)
		tlog(t, CASCADE_LOG_INFO, "tcp: dropped the connection to %s; dialing again", t->url);
}

/*
 * The end of a close, after nng_close returned (on cnng_close_bounded's
 * thread): every call has had its reply callback and no callback reaches
 * the SDK any more, so a close left to finish in the background leaks this
 * carrier's memory and a thread, nothing worse.
 */
static void
tcp_free(void *impl)
{
	struct tcp *t = impl;
	struct tcall *c;

	while ((c = TAILQ_FIRST(&t->calls)) != NULL) {
		TAILQ_REMOVE(&t->calls, c, entry);
		tcall_free(c);
	}
	if (t->tls != NULL)
		nng_tls_config_free(t->tls);
	pthread_mutex_destroy(&t->mu);
	free(t->url);
	free(t);
}

static void
tcp_close(void *impl)
{
	struct tcp *t = impl;
	struct tcall *c;
	carrier_log_fn log_fn;
	void *log_arg;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->closing = 1;
	pthread_mutex_unlock(&t->mu);
	/*
	 * Calls first: stopping each aio aborts its operation and waits for
	 * its callback (which starts nothing new once closing is set); then
	 * every call that got no answer gets ECLOSED. After this no callback
	 * of ours reaches the SDK.
	 */
	TAILQ_FOREACH(c, &t->calls, entry)
		nng_aio_stop(c->aio);
	TAILQ_FOREACH(c, &t->calls, entry)
		nng_ctx_close(c->ctx);
	pthread_mutex_lock(&t->mu);
	TAILQ_FOREACH(c, &t->calls, entry)
		tcall_notify(c, CASCADE_ECLOSED, NULL, 0, 0);
	pthread_mutex_unlock(&t->mu);

	log_fn = t->p.log_fn;
	log_arg = t->p.arg;
	if (!cnng_close_bounded(t->sock, TCP_CLOSE_WAIT_S * 1000, tcp_free, t) && log_fn != NULL)
		log_fn(log_arg, CASCADE_LOG_WARN, "tcp: nng_close did not return within "
		    TCP_CLOSE_WAIT_STR " s (a known nng 1.5 hang with tls); left to finish in the "
		    "background");
}

const struct carrier_ops carrier_tcp_ops = {
	"tcp",
	tcp_open,
	tcp_call,
	tcp_reset,
	tcp_close,
};
