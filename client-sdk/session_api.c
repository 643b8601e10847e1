/*
 * session_api.c — the public calls of a handle: cascade_open() and
 * cascade_close(), sending, flush, and the state the application may ask
 * for. They check their arguments, take the handle's lock around what it
 * guards, copy results out, and hand work to the SDK thread (session.c)
 * by setting a flag and signalling h->cv; they never speak to the node.
 * The threads and locks are described at the top of session.c.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cascade.h"
#include "sdk_int.h"

#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x

#define SEND_FLAGS (CASCADE_FLAG_RECEIPT | CASCADE_FLAG_NO_TTL | CASCADE_FLAG_URGENT | \
	CASCADE_FLAG_NOTIFY)

/* ---------------------------------------------------------- open, close */

static void
handle_free(struct cascade *h)
{
	store_close(h->st);
	reqs_fini(&h->reqs);
	pthread_cond_destroy(&h->cv);
	pthread_cond_destroy(&h->flush_cv);
	pthread_mutex_destroy(&h->mu);
	explicit_bzero(h->secret, sizeof(h->secret));
	explicit_bzero(h->key, sizeof(h->key));
	free(h->url);
	free(h->client);
	free(h->ca_file);
	free(h->cert_file);
	free(h->key_file);
	free(h->state_dir);
	free(h->proxy);
	free(h);
}

static char *
dup_or_null(const char *s, int *fail)
{
	char *c;

	if (s == NULL)
		return NULL;
	if ((c = strdup(s)) == NULL)
		*fail = 1;
	return c;
}

int
cascade_open(const cascade_options_t *o, cascade_t **hp)
{
	struct cascade *h;
	struct carrier_params cp;
	struct caddr a;
	pthread_condattr_t ca;
	sigset_t all, old;
	char err[512];
	int rc, n, fail = 0;

	if (hp != NULL)
		*hp = NULL;
	if (o == NULL || hp == NULL || o->url == NULL || o->client == NULL ||
	    o->secret_file == NULL)
		return CASCADE_EINVAL;
	if (caddr_parse(o->client, &a) != CADDR_OK || a.client[0] == '\0')
		return CASCADE_EADDRESS;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return CASCADE_ENOMEM;
	h->log_cb = o->log_cb;
	h->log_arg = o->log_arg;
	h->log_level = o->log_level;
	h->url = dup_or_null(o->url, &fail);
	h->client = dup_or_null(o->client, &fail);
	h->ca_file = dup_or_null(o->ca_file, &fail);
	h->cert_file = dup_or_null(o->cert_file, &fail);
	h->key_file = dup_or_null(o->key_file, &fail);
	h->state_dir = dup_or_null(o->state_dir, &fail);
	h->proxy = dup_or_null(o->proxy, &fail);
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_cond_init(&h->flush_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (fail || reqs_init(&h->reqs, SDK_MEM_IDS) != 0) {
		handle_free(h);
		return CASCADE_ENOMEM;
	}
	strcpy(h->node, a.node);
	h->packet_cb = o->packet_cb;
	h->packet_arg = o->packet_arg;
	h->state_cb = o->state_cb;
	h->state_arg = o->state_arg;
	h->timeout_ms = o->timeout_ms;
	h->reply_ttl_ms = o->reply_ttl_ms;
	h->reconnect_min_ms = o->reconnect_min_ms;
	h->reconnect_max_ms = o->reconnect_max_ms;
	h->dead_ms = o->dead_ms;
	h->max_packet = CPKT_DEFAULT_MAX_PAYLOAD;
	h->backoff_ms = h->reconnect_min_ms;
	h->timer_at = SDK_NEVER;
	h->prune_at = SDK_NEVER;
	h->max_batch = SDK_DEF_MAX_BATCH;
	h->window = 1;
	h->pub_state = 0;               /* the SDK thread says CONNECTING first */

	if ((rc = carrier_pick(h->url, o->carrier, err, sizeof(err))) < 0) {
		sdk_log(h, CASCADE_LOG_ERROR, "cascade: %s", err);
		handle_free(h);
		return rc;
	}
	h->carrier_kind = rc;
	h->tls = carrier_url_tls(h->url);
	h->nag_at = cmono_ms() + sdk_first_nag_ms(h);
	if ((n = csecret_load(o->secret_file, h->secret, sizeof(h->secret), err, sizeof(err))) < 0) {
		sdk_log(h, CASCADE_LOG_ERROR, "cascade: %s", err);
		handle_free(h);
		return CASCADE_ESECRET;
	}
	h->secretlen = (size_t)n;
	if (h->key_file != NULL && cfile_private(h->key_file, err, sizeof(err)) != 0) {
		sdk_log(h, CASCADE_LOG_ERROR, "cascade: client certificate key %s", err);
		handle_free(h);
		return CASCADE_ESECRET;
	}
	if ((rc = store_open(&h->st, h->state_dir, o->state_size, o->queue_max, err,
	    sizeof(err))) != 0) {
		sdk_log(h, CASCADE_LOG_ERROR, "cascade: %s", err);
		handle_free(h);
		return rc;
	}
	if (h->state_dir != NULL)
		h->prune_at = cmono_ms() + 10000;
	memset(&cp, 0, sizeof(cp));
	cp.url = h->url;
	cp.ca_file = h->ca_file;
	cp.cert_file = h->cert_file;    /* they live as long as h, longer than the carrier */
	cp.key_file = h->key_file;
	cp.proxy = h->proxy;
	cp.reconnect_min_ms = h->reconnect_min_ms;
	cp.reconnect_max_ms = h->reconnect_max_ms;
	cp.max_reply = SDK_MAX_REPLY;
	cp.state_fn = sdk_conn_event;
	cp.log_fn = sdk_carrier_log;
	cp.arg = h;
	h->cp = cp;                     /* to rebuild it (carrier_rebuild) */
	h->carrier_pref = o->carrier;
	h->unconnected_since = cmono_ms();
	if ((rc = carrier_open(&cp, o->carrier, &h->car, err, sizeof(err))) != 0) {
		sdk_log(h, CASCADE_LOG_ERROR, "cascade: %s", err);
		handle_free(h);
		return rc == CASCADE_ENOMEM ? rc : CASCADE_ECARRIER;
	}
	/* the SDK thread takes no signals: they stay with the application's threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&h->thr, NULL, sdk_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		sdk_log(h, CASCADE_LOG_ERROR, "cascade: starting the SDK thread: %s", strerror(rc));
		carrier_close(h->car);
		handle_free(h);
		return CASCADE_ENOMEM;
	}
	h->thr_started = 1;
	*hp = h;
	return CASCADE_OK;
}

int
cascade_close(cascade_t *h)
{
	if (h == NULL)
		return CASCADE_EINVAL;
	if (sdk_on_thread(h))
		return CASCADE_ECALLBACK;
	pthread_mutex_lock(&h->mu);
	h->closing = 1;
	pthread_cond_signal(&h->cv);
	pthread_cond_broadcast(&h->flush_cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thr, NULL);
	handle_free(h);
	return CASCADE_OK;
}

/* ------------------------------------------------------------- sending */

struct out {
	uint32_t kind;
	const char *dst;
	const char *command;
	const void *payload;
	size_t len;
	int64_t ttl_ms;
	uint32_t flags;
	const uint8_t *reply_to;
	const uint8_t *ref_id;
	/* a request */
	cascade_request_cb cb;
	void *arg;
	int32_t timeout_ms;
};

/*
 * Builds, checks and queues one packet; id gets its id, and so does id_out
 * (if not NULL) before the packet can leave: a callback about it may run
 * before enqueue returns.
 */
static int
enqueue(struct cascade *h, const struct out *o, uint8_t id[CID_LEN], uint8_t *id_out)
{
	Cascade__Packet p = CASCADE__PACKET__INIT;
	struct preq *q;
	enum cpkt_err e;
	uint8_t *buf;
	uint64_t seq;
	uint32_t maxp;
	size_t len;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = h->closing ? CASCADE_ECLOSED : 0;
	maxp = h->max_packet;
	pthread_mutex_unlock(&h->mu);
	if (rc != 0)
		return rc;
	if (cid_next(id) != 0)
		return CASCADE_EINTERNAL;
	if (id_out != NULL)
		memcpy(id_out, id, CID_LEN);
	p.version = CPKT_VERSION;
	p.id.data = id;
	p.id.len = CID_LEN;
	p.src = h->client;
	p.dst = (char *)o->dst;
	p.command = (char *)(o->command != NULL ? o->command : "");
	p.payload.data = (uint8_t *)o->payload;
	p.payload.len = o->len;
	p.kind = o->kind;
	p.flags = o->flags;
	if (o->ttl_ms == 0)
		p.flags |= FLAG(NO_TTL);
	else
		p.ttl_ms = o->ttl_ms;
	if (o->reply_to != NULL) {
		p.reply_to.data = (uint8_t *)o->reply_to;
		p.reply_to.len = CID_LEN;
	}
	if (o->ref_id != NULL) {
		p.ref_id.data = (uint8_t *)o->ref_id;
		p.ref_id.len = CID_LEN;
	}
	switch ((e = cpkt_validate(&p, maxp, NULL, 0))) {
	case CPKT_OK:
		break;
	case CPKT_BAD_DST:
		sdk_set_error(h, "destination \"%.130s\" is not a valid address (node or node/client)",
		    o->dst);
		return CASCADE_EADDRESS;
	case CPKT_PAYLOAD_TOO_LARGE:
		sdk_set_error(h, "payload of %zu bytes is above the node's limit of %u bytes", o->len,
		    (unsigned)maxp);
		return CASCADE_ETOOBIG;
	default:
		sdk_set_error(h, "packet to %.130s, command \"%.70s\": %s", o->dst, p.command,
		    cpkt_strerror(e));
		return CASCADE_EINVAL;
	}
	if ((buf = cpkt_encode(&p, &len)) == NULL)
		return CASCADE_ENOMEM;
	if (o->cb != NULL) {
		/* registered before the packet can leave, so no reply can beat it */
		pthread_mutex_lock(&h->mu);
		rc = reqs_add(&h->reqs, id, o->dst, cmono_ms() + o->timeout_ms, o->cb, o->arg);
		pthread_cond_signal(&h->cv);        /* a new deadline to wait for */
		pthread_mutex_unlock(&h->mu);
		if (rc != 0) {
			free(buf);
			return rc;
		}
	}
	rc = store_put(h->st, id, o->dst, buf, len, cnow_ms(), &seq);
	free(buf);
	if (rc == CASCADE_EQUEUE_FULL)
		sdk_set_error(h, "the outbox is full (%s); try again after the node took some",
		    h->state_dir != NULL ? "the state directory's map" : "queue-max packets");
	else if (rc != 0)
		sdk_set_error(h, "outbox: %s%s%s", cascade_strerror(rc), h->state_dir != NULL ?
		    " in state directory " : "", h->state_dir != NULL ? h->state_dir : "");
	pthread_mutex_lock(&h->mu);
	if (rc != 0 && o->cb != NULL && (q = reqs_remove(&h->reqs, id)) != NULL)
		free(q);
	if (rc == 0) {
		h->wake = 1;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int
cascade_send(cascade_t *h, const char *dst, const char *command, const void *payload,
    size_t len, int64_t ttl_ms, uint32_t flags, uint8_t id_out[CASCADE_ID_LEN])
{
	struct out o;
	uint8_t id[CID_LEN];

	if (h == NULL || dst == NULL || command == NULL || (payload == NULL && len > 0) ||
	    ttl_ms < 0 || (flags & ~SEND_FLAGS) != 0)
		return CASCADE_EINVAL;
	memset(&o, 0, sizeof(o));
	o.kind = KIND(DATA);
	o.dst = dst;
	o.command = command;
	o.payload = payload;
	o.len = len;
	o.ttl_ms = (flags & CASCADE_FLAG_NO_TTL) ? 0 : ttl_ms;
	o.flags = flags;
	return enqueue(h, &o, id, id_out);
}

int
cascade_request(cascade_t *h, const char *dst, const char *command, const void *payload,
    size_t len, int32_t timeout_ms, cascade_request_cb cb, void *arg,
    uint8_t id_out[CASCADE_ID_LEN])
{
	if (h == NULL || timeout_ms < 0)
		return CASCADE_EINVAL;
	/* the ttl is the timeout: the timeout ends the request, an EXPIRED notice comes late */
	return cascade_request_ttl(h, dst, command, payload, len, timeout_ms,
	    timeout_ms > 0 ? timeout_ms : h->timeout_ms, cb, arg, id_out);
}

int
cascade_request_ttl(cascade_t *h, const char *dst, const char *command, const void *payload,
    size_t len, int32_t timeout_ms, int64_t ttl_ms, cascade_request_cb cb, void *arg,
    uint8_t id_out[CASCADE_ID_LEN])
{
	return cascade_request_flags(h, dst, command, payload, len, timeout_ms, ttl_ms, 0, cb,
	    arg, id_out);
}

int
cascade_request_flags(cascade_t *h, const char *dst, const char *command, const void *payload,
    size_t len, int32_t timeout_ms, int64_t ttl_ms, uint32_t flags, cascade_request_cb cb,
    void *arg, uint8_t id_out[CASCADE_ID_LEN])
{
	struct out o;
	uint8_t id[CID_LEN];

	if (h == NULL || dst == NULL || command == NULL || (payload == NULL && len > 0) ||
	    cb == NULL || timeout_ms < 0 || ttl_ms < 0 || h->packet_cb == NULL ||
	    (flags & ~SEND_FLAGS) != 0)
		return CASCADE_EINVAL;
	memset(&o, 0, sizeof(o));
	o.kind = KIND(DATA);
	o.dst = dst;
	o.command = command;
	o.payload = payload;
	o.len = len;
	o.timeout_ms = timeout_ms > 0 ? timeout_ms : h->timeout_ms;
	/* 0: never expires (enqueue sets FLAG_NO_TTL) */
	o.ttl_ms = (flags & CASCADE_FLAG_NO_TTL) ? 0 : ttl_ms;
	o.flags = flags | FLAG(NOTIFY);        /* a request always hears why it failed */
	o.cb = cb;
	o.arg = arg;
	return enqueue(h, &o, id, id_out);
}

int
cascade_reply(cascade_t *h, const cascade_packet_t *received, const char *command,
    const void *payload, size_t len, uint8_t id_out[CASCADE_ID_LEN])
{
	struct out o;
	uint8_t id[CID_LEN];

	if (h == NULL || received == NULL || received->p == NULL || command == NULL ||
	    (payload == NULL && len > 0) || received->p->kind != KIND(DATA) ||
	    received->p->id.len != CID_LEN || received->p->src == NULL)
		return CASCADE_EINVAL;
	memset(&o, 0, sizeof(o));
	o.kind = KIND(DATA);
	o.dst = received->p->src;
	o.command = command;
	o.payload = payload;
	o.len = len;
	o.ttl_ms = h->reply_ttl_ms;
	o.reply_to = received->p->id.data;
	return enqueue(h, &o, id, id_out);
}

int
cascade_cancel(cascade_t *h, const uint8_t id[CASCADE_ID_LEN], uint8_t id_out[CASCADE_ID_LEN])
{
	struct out o;
	char dst[CADDR_TEXT_MAX + 1];
	uint8_t cid[CID_LEN];
	int rc;

	if (h == NULL || id == NULL)
		return CASCADE_EINVAL;
	if ((rc = store_sent_dst(h->st, id, dst, sizeof(dst))) != 0)
		return rc;
	memset(&o, 0, sizeof(o));
	o.kind = KIND(CANCEL);
	o.dst = dst;
	o.command = "cascade.cancel";
	o.ttl_ms = h->reply_ttl_ms;
	o.ref_id = id;
	return enqueue(h, &o, cid, id_out);
}

int
cascade_flush(cascade_t *h, int32_t timeout_ms)
{
	struct timespec ts;
	uint64_t target, acked;
	int64_t deadline;
	int rc = CASCADE_OK;

	if (h == NULL)
		return CASCADE_EINVAL;
	if (sdk_on_thread(h))
		return CASCADE_ECALLBACK;
	store_counters(h->st, &target, NULL);
	deadline = timeout_ms < 0 ? SDK_NEVER : cmono_ms() + timeout_ms;
	ts = sdk_abs_time(deadline);
	pthread_mutex_lock(&h->mu);
	for (;;) {
		if (h->closing) {
			rc = CASCADE_ECLOSED;
			break;
		}
		store_counters(h->st, NULL, &acked);
		if (acked >= target)
			break;
		if (deadline != SDK_NEVER && cmono_ms() >= deadline) {
			rc = CASCADE_ETIMEDOUT;
			break;
		}
		if (deadline == SDK_NEVER)
			pthread_cond_wait(&h->flush_cv, &h->mu);
		else
			pthread_cond_timedwait(&h->flush_cv, &h->mu, &ts);
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int
cascade_state(cascade_t *h)
{
	int s;

	if (h == NULL)
		return CASCADE_EINVAL;
	pthread_mutex_lock(&h->mu);
	s = h->pub_state;
	pthread_mutex_unlock(&h->mu);
	return s != 0 ? s : CASCADE_STATE_CONNECTING;
}

int
cascade_pending(cascade_t *h, uint64_t *unacked)
{
	uint64_t last, acked;

	if (h == NULL || unacked == NULL)
		return CASCADE_EINVAL;
	store_counters(h->st, &last, &acked);
	*unacked = last > acked ? last - acked : 0;
	return CASCADE_OK;
}

/* pause or resume receiving; the SDK thread is woken to act on it */
static void
set_paused(cascade_t *h, int paused)
{
	pthread_mutex_lock(&h->mu);
	if (h->paused != paused) {
		h->paused = paused;
		h->poke = 1;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
}

int
cascade_pause(cascade_t *h)
{
	if (h == NULL)
		return CASCADE_EINVAL;
	set_paused(h, 1);
	return CASCADE_OK;
}

int
cascade_resume(cascade_t *h)
{
	if (h == NULL)
		return CASCADE_EINVAL;
	set_paused(h, 0);
	return CASCADE_OK;
}

int
cascade_paused(cascade_t *h)
{
	if (h == NULL)
		return CASCADE_EINVAL;
	return sdk_paused(h);
}

int
cascade_last_error(cascade_t *h, char *buf, size_t len)
{
	if (h == NULL || buf == NULL || len == 0)
		return CASCADE_EINVAL;
	pthread_mutex_lock(&h->mu);
	snprintf(buf, len, "%s", h->last_err);
	pthread_mutex_unlock(&h->mu);
	return CASCADE_OK;
}

int
cascade_flush_rejected(cascade_t *h, uint32_t i, uint8_t id[CASCADE_ID_LEN], uint32_t *reason,
    char *why, size_t whylen)
{
	const struct rejected *r;
	uint64_t first;
	int rc = CASCADE_OK;

	if (h == NULL || (why == NULL && whylen > 0))
		return CASCADE_EINVAL;
	pthread_mutex_lock(&h->mu);
	first = h->nrejected > SDK_MAX_REJECTED ? h->nrejected - SDK_MAX_REJECTED : 0;
	if (first + i >= h->nrejected)
		rc = CASCADE_ENOTFOUND;
	else {
		r = &h->rejected[(first + i) % SDK_MAX_REJECTED];
		if (id != NULL)
			memcpy(id, r->id, CID_LEN);
		if (reason != NULL)
			*reason = r->reason;
		if (whylen > 0)
			snprintf(why, whylen, "%s", r->why);
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}
