/*
 * session.c — the engine of a handle: its SDK thread, which speaks the
 * link protocol to the node as a client session (Hello, Auth, the push
 * window upward, the long-poll pull downward) and runs every callback.
 * The public calls that hand it work are in session_api.c; struct
 * cascade, which both share, is in sdk_int.h.
 *
 * Threads and locks
 * - The SDK thread owns the protocol state (the fields marked "SDK thread"
 *   below) and runs every callback. It sleeps on h->cv until a carrier
 *   reply, a connection event, a new packet in the outbox, a timer or
 *   close wakes it.
 * - API calls from other threads touch only what h->mu guards (the event
 *   queue, pending requests, the published state) and the store, which is
 *   thread-safe on its own.
 * - Lock order: carrier's lock -> h->mu -> store's lock. No callback runs
 *   with a lock held, and the SDK thread never calls into the carrier
 *   with h->mu held.
 *
 * Custody upward mirrors the node's uplink: every packet is numbered in
 * the outbox before it is sent; Auth announces our lowest unacked
 * sequence and the node answers with its mark; we resume at mark + 1.
 * A session is bound to one tcp connection; when it goes, we start over
 * with Hello after a backoff.
 *
 * Delivery downward: for each pulled packet, in order, the id is recorded
 * HANDING, the callback runs, then the id is recorded DELIVERED (in the
 * same transaction as the next packet's HANDING). Only after the whole
 * batch does the next Pull acknowledge it to the node. An id found
 * DELIVERED is a duplicate and is skipped; one found HANDING was being
 * handed over when the program died, and is handed over again with
 * CASCADE_FLAG_REDELIVERY. So is one at or below the pull reply's
 * handed_upto: the node had handed it to an earlier session from other
 * state (a program we took over from), which may have given it out.
 * cascade_close() acks what was delivered with one last Pull (close_ack).
 *
 * Taken over (a "no session" signed under our key): we stop for good
 * (P_TAKEN) rather than take the session back and forth with the other.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cascade.h"
#include "sdk_int.h"

#define STATUS(x) CASCADE__STATUS__STATUS_##x
#define MSG(x) CASCADE__MSG_TYPE__MSG_##x
#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x

#define NEVER SDK_NEVER
#define PUSH_MAX_BYTES (1u << 20)
#define PULL_MAX_BYTES (4u << 20)
#define DEF_MAX_BATCH SDK_DEF_MAX_BATCH
#define MAX_BATCH 1024
#define MAX_WINDOW 16
#define REFUSED_MIN_MS 5000
#define CLOSE_ACK_MS 2000               /* the longest cascade_close() waits for its last ack */
#define UNAUTH_REFUSALS 3               /* unsigned refusals in a row taken as one */
#define NAG_TLS_MS 3000                 /* no tls connection this long: find out why */
#define PRUNE_EVERY_MS (3600LL * 1000)

/* ------------------------------------------------------------- logging */

void
sdk_log(struct cascade *h, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (h == NULL || h->log_cb == NULL || level > h->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->log_cb(h->log_arg, level, msg);
}

/*
 * Records the detail behind the latest error for cascade_last_error()
 * (any thread; copied under the handle's lock).
 */
void
sdk_set_error(struct cascade *h, const char *fmt, ...)
{
	char msg[sizeof(h->last_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&h->mu);
	memcpy(h->last_err, msg, sizeof(msg));
	pthread_mutex_unlock(&h->mu);
}

int
sdk_paused(struct cascade *h)
{
	int p;

	pthread_mutex_lock(&h->mu);
	p = h->paused;
	pthread_mutex_unlock(&h->mu);
	return p;
}

void
sdk_carrier_log(void *arg, int level, const char *msg)
{
	sdk_log(arg, level, "%s", msg);
}

/* The handle whose SDK thread this is (NULL on other threads). */
static _Thread_local struct cascade *sdk_self;

int
sdk_on_thread(struct cascade *h)
{
	return sdk_self == h;
}

/* The state published last (as cascade_state reads it, without the default). */
static int
pub_state(struct cascade *h)
{
	int s;

	pthread_mutex_lock(&h->mu);
	s = h->pub_state;
	pthread_mutex_unlock(&h->mu);
	return s;
}

/* Publishes a connection state and tells the application (SDK thread). */
static void
set_state(struct cascade *h, int state, const char *fmt, ...) SDK_PRINTF(3, 4);

static void
set_state(struct cascade *h, int state, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	int old;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&h->mu);
	old = h->pub_state;
	h->pub_state = state;
	pthread_mutex_unlock(&h->mu);
	if (old == state)
		return;
	if (state != CASCADE_STATE_UP && state != CASCADE_STATE_CONNECTING &&
	    state != CASCADE_STATE_CLOSED)
		sdk_set_error(h, "%s", detail);
	sdk_log(h, state == CASCADE_STATE_DOWN || state == CASCADE_STATE_HELD ||
	    state == CASCADE_STATE_TAKEN_OVER || state == CASCADE_STATE_REFUSED ||
	    state == CASCADE_STATE_NEW_SESSION || state == CASCADE_STATE_UNTRUSTED ?
	    CASCADE_LOG_WARN : CASCADE_LOG_INFO,
	    "cascade %s: %s", h->client, detail);
	if (h->state_cb != NULL)
		h->state_cb(h->state_arg, h, state, detail);
}

/* ------------------------------------------------------- carrier events */

static void
call_answered(void *arg, int err, uint8_t *buf, size_t len, uint64_t conn)
{
	struct call *c = arg;
	struct cascade *h = c->h;

	c->err = err;
	c->buf = buf;
	c->len = len;
	c->conn = conn;
	pthread_mutex_lock(&h->mu);
	if (h->ev_tail != NULL)
		h->ev_tail->next = c;
	else
		h->ev_head = c;
	h->ev_tail = c;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

void
sdk_conn_event(void *arg, int up, uint64_t conn)
{
	struct cascade *h = arg;

	pthread_mutex_lock(&h->mu);
	h->conn_up = up;
	if (!up)
		h->conn_down_seen = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static int64_t
now_ms(void)
{
	return cmono_ms();
}

static void
timer_arm(struct cascade *h, int64_t in_ms)
{
	h->timer_at = now_ms() + in_ms;
}

/* --------------------------------------------------------------- calls */

static void session_lost(struct cascade *h, int redial, const char *fmt, ...) SDK_PRINTF(3, 4);
static void session_retry(struct cascade *h, int redial);
static void tls_why(struct cascade *h);

/* Sends one request of the session; 0, or the session is lost. */
static int
call(struct cascade *h, uint32_t type, const ProtobufCMessage *m, int timeout_ms,
    uint64_t first, uint64_t last)
{
	struct call *c;
	size_t len;
	uint8_t *buf;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		session_lost(h, 0, "out of memory for a request");
		return CASCADE_ENOMEM;
	}
	c->session = h->session;
	c->seq = h->session != 0 ? ++h->seq : 0;
	buf = clink_request(type, c->session, c->seq, m, h->keyed ? h->key : NULL, &len);
	if (buf == NULL) {
		free(c);
		session_lost(h, 0, "out of memory for a request");
		return CASCADE_ENOMEM;
	}
	c->h = h;
	c->gen = h->gen;
	c->type = type;
	c->first = first;
	c->last = last;
	rc = h->car != NULL ? carrier_call(h->car, buf, len, timeout_ms, call_answered, c) :
	    CASCADE_ECARRIER;
	free(buf);
	if (rc != 0) {
		free(c);
		session_lost(h, 0, "%s carrier: %s", h->car != NULL ? carrier_name(h->car) : "no",
		    cascade_strerror(rc));
		return rc;
	}
	return CASCADE_OK;
}

/* --------------------------------------------------------------- session */

/* The session is gone: replies still coming for it are of an earlier generation. */
static void
session_drop(struct cascade *h)
{
	h->gen++;
	h->ps = P_DOWN;
	h->session = 0;
	h->sess_conn = 0;
	h->keyed = 0;
	h->inflight = 0;
	h->pulling = 0;
}

static void
session_lost(struct cascade *h, int redial, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (h->ps == P_UP)
		set_state(h, CASCADE_STATE_DOWN, "session lost: %s", why);
	else
		sdk_log(h, CASCADE_LOG_INFO, "cascade %s: %s", h->client, why);
	session_retry(h, redial);
}

/* The session is gone: start over with Hello after the backoff. */
static void
session_retry(struct cascade *h, int redial)
{
	session_drop(h);
	if (redial) {
		/* a dead or wedged connection: drop it, the carrier dials again */
		if (h->car != NULL)
			carrier_reset(h->car);
		h->connected = 0;
	}
	timer_arm(h, h->backoff_ms);
	h->backoff_ms *= 2;
	if (h->backoff_ms > h->reconnect_max_ms)
		h->backoff_ms = h->reconnect_max_ms;
}

/*
 * The node answered "no session" without our session key: it does not know
 * the session (it restarted, or an http session idled out). That is no
 * refusal and no takeover, only a reason to start over: a new session at
 * once (after the usual backoff), said as CASCADE_STATE_NEW_SESSION. An
 * unsigned "no session" proves nothing, but believing it costs no more than
 * a Hello and an Auth.
 */
static void
session_unknown(struct cascade *h, const char *what, const Cascade__Reply *rep)
{
	char sid[CSESSION_SHORT_LEN];

	if (h->ps == P_UP)
		set_state(h, CASCADE_STATE_NEW_SESSION, "the node at %s no longer knows session %s "
		    "(%s: %.100s): it restarted, or the session idled out; starting a new session",
		    h->url, csession_short(h->session, sid), what,
		    rep->error != NULL && rep->error[0] ? rep->error : "no session");
	else
		sdk_log(h, CASCADE_LOG_INFO, "cascade %s: %s: the node no longer knows the session; "
		    "starting over", h->client, what);
	session_retry(h, 0);
}

/*
 * Another program took our session. We step back for good instead of
 * fighting (two programs taking the session from each other would each see
 * part of the inbox): the handle stays TAKEN_OVER until the application
 * closes it; sends still go to the outbox, for whoever opens it next.
 */
static void
taken_over(struct cascade *h)
{
	set_state(h, CASCADE_STATE_TAKEN_OVER, "another program attached as %s took over the "
	    "session; not reconnecting (close this handle; a new one takes the session back)",
	    h->client);
	h->gen++;
	h->ps = P_TAKEN;
	h->session = 0;
	h->sess_conn = 0;
	h->keyed = 0;
	h->inflight = 0;
	h->pulling = 0;
	h->timer_at = NEVER;
}

/* The node refused us for good (as far as we can tell): retry slowly. */
static void
refused(struct cascade *h, const char *fmt, ...) SDK_PRINTF(2, 3);

static void
refused(struct cascade *h, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	int64_t wait = h->reconnect_max_ms > REFUSED_MIN_MS ? h->reconnect_max_ms : REFUSED_MIN_MS;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	set_state(h, CASCADE_STATE_REFUSED, "%s", why);
	h->gen++;
	h->ps = P_DOWN;
	h->session = 0;
	h->keyed = 0;
	h->inflight = 0;
	h->pulling = 0;
	timer_arm(h, wait);
}

/*
 * A reply the node did not sign: an error (or an Auth reply) that anyone on
 * a plain path could have written. It only makes us start over; only when
 * the node says the same UNAUTH_REFUSALS times in a row (a wrong secret
 * cannot check the node's signature either) do we take it as a refusal.
 */
static void
unauthenticated(struct cascade *h, const char *what, const Cascade__Reply *rep)
{
	const char *said = rep->status == STATUS(OK) ? "an Auth reply that does not prove our "
	    "secret" : cstatus_str(rep->status);

	if (++h->unauth_refusals >= UNAUTH_REFUSALS) {
		refused(h, "node at %s: %s: %s%s%s%.100s (not authenticated, %d times in a row)",
		    h->url, what, rep->status == STATUS(AUTH_FAILED) ? "refused our credentials: " :
		    "", said, rep->error != NULL && rep->error[0] ? ": " : "",
		    rep->error != NULL ? rep->error : "", h->unauth_refusals);
		return;
	}
	sdk_log(h, CASCADE_LOG_WARN, "cascade %s: %s: \"%s\" from %s is not authenticated (%.100s); "
	    "starting over", h->client, what, said, h->url, rep->error ? rep->error : "");
	session_lost(h, 0, "%s: unauthenticated %s", what, said);
}

/* Common checks of a reply: the decoded envelope, or NULL (the session was dealt with). */
static Cascade__Reply *
reply_open(struct cascade *h, struct call *c, const char *what)
{
	Cascade__Reply *rep;

	if (c->err != 0) {
		/*
		 * https is "connected" at once (curl dials per request): a Hello
		 * that fails there is where a certificate that does not verify
		 * shows. Ask why, as nag does for tls+tcp, at most as often.
		 */
		if (c->err == CASCADE_ECARRIER && c->type == MSG(HELLO) && h->tls &&
		    h->carrier_kind == CASCADE_CARRIER_HTTP && now_ms() >= h->nag_at) {
			h->nag_at = now_ms() + 4 * (int64_t)h->dead_ms;
			tls_why(h);
		}
		session_lost(h, c->err == CASCADE_ETIMEDOUT, "%s: %s", what,
		    c->err == CASCADE_ETIMEDOUT ? "no answer from the node within the dead-link "
		    "timeout" : c->err == CASCADE_ECARRIER ? "the connection failed" :
		    c->err == CASCADE_ECLOSED ? "the connection closed" : cascade_strerror(c->err));
		return NULL;
	}
	if ((rep = cascade__reply__unpack(NULL, c->len, c->buf)) == NULL) {
		session_lost(h, 1, "%s: undecodable reply (%zu bytes)", what, c->len);
		return NULL;
	}
	/*
	 * tls vouches for the node; on a plain carrier only the mac does. The
	 * Auth reply comes under the key the nonces and our secret give.
	 */
	c->authentic = h->tls;
	if (c->type == MSG(AUTH)) {
		clink_session_key(&h->ca, h->secret, h->secretlen, h->client, h->key);
		c->authentic = cenv_reply_verify(rep, 0, 0, h->key) == 0;
	} else if (h->keyed) {
		c->authentic = cenv_reply_verify(rep, c->session, c->seq, h->key) == 0;
		if (!c->authentic && rep->status == STATUS(OK)) {
			session_lost(h, 1, "%s: reply mac does not match the session key", what);
			goto fail;
		}
	}
	if (rep->status == STATUS(NO_SESSION) && c->type != MSG(HELLO) && c->type != MSG(AUTH)) {
		/*
		 * Only the node can sign under our session key, and it does so only
		 * when a newer session took ours over; any other "no session" (an
		 * http session that idled out, a restarted node) means start over,
		 * signed or not: the node cannot sign for a session it forgot.
		 */
		if (c->session != 0 && cenv_reply_verify(rep, c->session, c->seq, h->key) == 0)
			taken_over(h);
		else
			session_unknown(h, what, rep);
		goto fail;
	}
	if (!c->authentic && (rep->status != STATUS(OK) || c->type == MSG(AUTH))) {
		unauthenticated(h, what, rep);
		goto fail;
	}
	if (rep->status != STATUS(OK)) {
		switch (rep->status) {
		case STATUS(UNKNOWN_PEER):
			refused(h, "node at %s does not know client %s: %s", h->url, h->client,
			    rep->error);
			break;
		case STATUS(AUTH_FAILED):
			refused(h, "node at %s refused our credentials: %s", h->url, rep->error);
			break;
		case STATUS(CARRIER_REFUSED):
			refused(h, "node at %s refused carrier %s: %s", h->url, carrier_name(h->car),
			    rep->error);
			break;
		case STATUS(VERSION):
			refused(h, "node at %s does not speak our protocol: %s", h->url, rep->error);
			break;
		default:
			session_lost(h, 0, "%s refused: %s: %s", what, cstatus_str(rep->status),
			    rep->error);
		}
		goto fail;
	}
	return rep;
fail:
	cascade__reply__free_unpacked(rep, NULL);
	return NULL;
}

static void
hello(struct cascade *h)
{
	Cascade__Hello m;

	h->ps = P_HELLO;
	h->session = 0;
	h->seq = 0;
	h->keyed = 0;
	clink_hello(&m, h->client, CASCADE__PEER_KIND__PEER_CLIENT,
	    h->carrier_kind == CASCADE_CARRIER_HTTP ? CASCADE__CARRIER__CARRIER_HTTP :
	    CASCADE__CARRIER__CARRIER_TCP);
	call(h, MSG(HELLO), &m.base, h->dead_ms, 0, 0);
}

static void
hello_reply(struct cascade *h, struct call *c)
{
	Cascade__Reply *rep;
	Cascade__HelloReply *hr = NULL;
	uint64_t acked;
	char why[160];
	int rc;

	if ((rep = reply_open(h, c, "hello")) == NULL)
		return;
	hr = cascade__hello_reply__unpack(NULL, rep->body.len, rep->body.data);
	if ((rc = clink_hello_reply_check(hr, h->node, why, sizeof(why))) == CLINK_MALFORMED) {
		session_lost(h, 1, "hello: %s", why);
		goto done;
	}
	if (rc != 0) {
		refused(h, "%s answers as node \"%.64s\", but the client address is %s", h->url,
		    hr->node != NULL ? hr->node : "", h->client);
		goto done;
	}
	store_counters(h->st, NULL, &acked);
	/* stream position: our lowest unacked */
	if (clink_auth(&h->ca, h->secret, h->secretlen, h->client, hr->nonce.data, h->st->epoch,
	    acked + 1, NULL, 0, h->carrier_kind == CASCADE_CARRIER_HTTP ?
	    CASCADE__CARRIER__CARRIER_HTTP : CASCADE__CARRIER__CARRIER_TCP) != 0) {
		session_lost(h, 0, "no randomness for the client nonce");
		goto done;
	}
	h->ps = P_AUTH;
	call(h, MSG(AUTH), &h->ca.a.base, h->dead_ms, 0, 0);
done:
	if (hr != NULL)
		cascade__hello_reply__free_unpacked(hr, NULL);
	cascade__reply__free_unpacked(rep, NULL);
}

static void push_more(struct cascade *h);
static void pull(struct cascade *h);

/* The node holds everything up to seq: drop it from the outbox, wake flushers. */
static void
ack_up_to(struct cascade *h, uint64_t seq)
{
	int rc;

	if ((rc = store_ack(h->st, seq)) != 0)
		sdk_log(h, CASCADE_LOG_ERROR, "cascade %s: outbox: acknowledging up to %llu: %s",
		    h->client, (unsigned long long)seq, cascade_strerror(rc));
	pthread_mutex_lock(&h->mu);
	pthread_cond_broadcast(&h->flush_cv);
	pthread_mutex_unlock(&h->mu);
}

static void
auth_reply(struct cascade *h, struct call *c)
{
	Cascade__Reply *rep;
	Cascade__AuthReply *ar;
	char sid[CSESSION_SHORT_LEN];
	uint64_t mark = 0, last;

	if ((rep = reply_open(h, c, "auth")) == NULL)
		return;
	ar = cascade__auth_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (ar == NULL) {
		session_lost(h, 1, "auth: malformed reply");
		return;
	}
	store_counters(h->st, &last, NULL);
	if (clink_auth_mark(ar, h->st->epoch, last, &mark) != 0) {
		/* acking it would drop packets the node never had (a restored outbox?) */
		refused(h, "the node's mark %llu is beyond our last sequence %llu: refused",
		    (unsigned long long)mark, (unsigned long long)last);
		goto done;
	}
	h->session = ar->session;
	h->sess_conn = c->conn;
	h->unauth_refusals = 0;
	h->keyed = !h->tls;
	h->max_batch = DEF_MAX_BATCH;
	h->window = 4;
	h->pull_wait_ms = 20000;
	pthread_mutex_lock(&h->mu);
	h->max_packet = CPKT_DEFAULT_MAX_PAYLOAD;
	if (ar->limits != NULL) {
		if (ar->limits->max_batch > 0)
			h->max_batch = ar->limits->max_batch > MAX_BATCH ? MAX_BATCH :
			    ar->limits->max_batch;
		if (ar->limits->window > 0)
			h->window = ar->limits->window > MAX_WINDOW ? MAX_WINDOW : ar->limits->window;
		if (ar->limits->max_packet_bytes > 0)
			h->max_packet = ar->limits->max_packet_bytes;
		if (ar->limits->pull_wait_ms > 0 && ar->limits->pull_wait_ms < h->pull_wait_ms)
			h->pull_wait_ms = ar->limits->pull_wait_ms;
	}
	pthread_mutex_unlock(&h->mu);
	if (h->pull_wait_ms > (uint32_t)h->dead_ms / 2)
		h->pull_wait_ms = (uint32_t)h->dead_ms / 2;
	if (ar->carrier != 0 && ar->carrier != (h->carrier_kind == CASCADE_CARRIER_HTTP ?
	    CASCADE__CARRIER__CARRIER_HTTP : CASCADE__CARRIER__CARRIER_TCP))
		sdk_log(h, CASCADE_LOG_INFO, "cascade %s: the node prefers carrier %u; staying on %s",
		    h->client, ar->carrier, carrier_name(h->car));
	ack_up_to(h, mark);
	h->next_send = mark + 1;
	h->ps = P_UP;
	if (h->rebuilds > 0)
		sdk_log(h, CASCADE_LOG_INFO, "cascade %s: up again after %d carrier rebuild%s",
		    h->client, h->rebuilds, h->rebuilds == 1 ? "" : "s");
	h->rebuilds = 0;
	h->backoff_ms = h->reconnect_min_ms;
	h->down_acked_up = h->down_acked;
	h->down_acked_sent = h->down_acked;
	h->hold_until = 0;
	set_state(h, CASCADE_STATE_UP, "session %s up with node %s over %s; resuming at %llu",
	    csession_short(h->session, sid), h->node, carrier_name(h->car),
	    (unsigned long long)h->next_send);
	push_more(h);
	pull(h);
done:
	cascade__auth_reply__free_unpacked(ar, NULL);
}

/* ---------------------------------------------------------------- push */

/* A packet the node refused for good at push, for cascade_flush_rejected(). */
static void
remember_rejected(struct cascade *h, const uint8_t *id, uint32_t reason, const char *text)
{
	struct rejected *r;

	pthread_mutex_lock(&h->mu);
	r = &h->rejected[h->nrejected % SDK_MAX_REJECTED];
	memcpy(r->id, id, CID_LEN);
	r->reason = reason;
	snprintf(r->why, sizeof(r->why), "%s: %s", creason_str(reason), text != NULL ? text : "");
	h->nrejected++;
	pthread_mutex_unlock(&h->mu);
}

static void
push_reply(struct cascade *h, struct call *c)
{
	Cascade__Reply *rep;
	Cascade__PushReply *pr;
	char idt[CID_TEXT_LEN];
	uint64_t last;
	size_t i;

	h->inflight--;
	if ((rep = reply_open(h, c, "push")) == NULL)
		return;
	pr = cascade__push_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (pr == NULL) {
		session_lost(h, 1, "push: malformed reply");
		return;
	}
	store_counters(h->st, &last, NULL);
	if (pr->acked_seq > last) {
		session_lost(h, 1, "push: the node acks %llu, beyond our last sequence %llu",
		    (unsigned long long)pr->acked_seq, (unsigned long long)last);
		cascade__push_reply__free_unpacked(pr, NULL);
		return;
	}
	for (i = 0; i < pr->n_rejects; i++) {
		sdk_log(h, CASCADE_LOG_WARN, "cascade %s: packet %s (seq %llu) rejected by the node: "
		    "%s: %s", h->client, pr->rejects[i]->id.len == CID_LEN ?
		    cid_format(pr->rejects[i]->id.data, idt) : "?",
		    (unsigned long long)pr->rejects[i]->seq, creason_str(pr->rejects[i]->reason),
		    pr->rejects[i]->text);
		sdk_set_error(h, "packet %s rejected by the node: %s: %s", pr->rejects[i]->id.len ==
		    CID_LEN ? cid_format(pr->rejects[i]->id.data, idt) : "?",
		    creason_str(pr->rejects[i]->reason), pr->rejects[i]->text);
		if (pr->rejects[i]->id.len == CID_LEN)
			remember_rejected(h, pr->rejects[i]->id.data, pr->rejects[i]->reason,
			    pr->rejects[i]->text);
	}
	ack_up_to(h, pr->acked_seq);
	if (pr->refused == 0 && pr->acked_seq >= c->first && h->ps == P_UP &&
	    pub_state(h) == CASCADE_STATE_HELD)
		set_state(h, CASCADE_STATE_UP, "the node at %s takes packets again", h->url);
	if (pr->acked_seq < c->last && h->next_send > pr->acked_seq + 1) {
		/* not stored (overtaken by another push, or refused for now): resend from the mark */
		h->next_send = pr->acked_seq + 1;
		if (pr->refused != 0) {
			sdk_log(h, CASCADE_LOG_DEBUG, "cascade %s: the node refuses packets for now: %s; "
			    "retrying in 1 s", h->client, creason_str(pr->refused));
			/* the state callback and cascade_last_error() say it, once per refusal */
			set_state(h, CASCADE_STATE_HELD, "the node at %s refuses packets for now: %s",
			    h->url, creason_str(pr->refused));
			h->hold_until = now_ms() + 1000;
			timer_arm(h, 1000);
		}
	}
	cascade__push_reply__free_unpacked(pr, NULL);
	push_more(h);
}

static void
push_more(struct cascade *h)
{
	struct sentry *e;
	unsigned n, i, k;
	int64_t now;
	int rc;

	if (h->ps != P_UP || h->hold_until > now_ms())
		return;
	if ((e = calloc(h->max_batch, sizeof(*e))) == NULL)
		return;                 /* the next wake-up tries again */
	while (h->ps == P_UP && h->inflight < h->window) {
		Cascade__Push push;
		Cascade__Packet **pkts;
		uint64_t *seqs;

		if ((rc = store_peek(h->st, h->next_send, h->max_batch, PUSH_MAX_BYTES, e, &n)) != 0) {
			sdk_log(h, CASCADE_LOG_ERROR, "cascade %s: outbox: %s", h->client,
			    cascade_strerror(rc));
			break;
		}
		if (n == 0)
			break;
		pkts = calloc(n, sizeof(*pkts));
		seqs = calloc(n, sizeof(*seqs));
		if (pkts == NULL || seqs == NULL) {
			free(pkts);
			free(seqs);
			store_entries_free(e, n);
			break;
		}
		now = cnow_ms();
		for (i = k = 0; i < n; i++) {
			if ((pkts[k] = cpkt_decode(e[i].buf, e[i].len)) == NULL) {
				/* covered by the range without a packet: the stream keeps no gap */
				sdk_log(h, CASCADE_LOG_ERROR, "cascade %s: outbox entry %llu does not "
				    "decode; skipped", h->client, (unsigned long long)e[i].seq);
				continue;
			}
			/* ttl is what remains: subtract the time spent in our outbox */
			if (!(pkts[k]->flags & FLAG(NO_TTL)) && now > e[i].enq_ms)
				pkts[k]->ttl_ms -= now - e[i].enq_ms;
			seqs[k++] = e[i].seq;
		}
		clink_push(&push, h->st->epoch, h->next_send, e[n - 1].seq, pkts, seqs, k);
		h->next_send = push.last_seq + 1;
		h->inflight++;
		rc = call(h, MSG(PUSH), &push.base, h->dead_ms, push.first_seq, push.last_seq);
		for (i = 0; i < k; i++)
			cpkt_free(pkts[i]);
		free(pkts);
		free(seqs);
		store_entries_free(e, n);
		if (rc != 0)
			break;
	}
	free(e);
}

/* ---------------------------------------------------------------- pull */

static void
pull(struct cascade *h)
{
	Cascade__Pull p;

	if (h->ps != P_UP || h->pulling || h->packet_cb == NULL)
		return;
	if (sdk_paused(h)) {
		/* paused: only carry the ack of what was delivered; the rest stays with the node */
		if (h->down_acked <= h->down_acked_sent)
			return;
		/* max 1: what it brings back is not delivered */
		clink_pull(&p, h->down_epoch, h->down_acked, 0, 1, PULL_MAX_BYTES);
	} else
		clink_pull(&p, h->down_epoch, h->down_acked, h->pull_wait_ms, h->max_batch,
		    PULL_MAX_BYTES);
	h->pulling = 1;
	if (call(h, MSG(PULL), &p.base, (int)p.wait_ms + h->dead_ms, 0, 0) == 0)
		h->down_acked_sent = h->down_acked;
}

static int
closing(struct cascade *h)
{
	int c;

	pthread_mutex_lock(&h->mu);
	c = h->closing;
	pthread_mutex_unlock(&h->mu);
	return c;
}

/*
 * Hands one packet to the application. handing is the id of the packet
 * handed over before, still to be recorded DELIVERED (or NULL): that and
 * HANDING for this packet go in one commit. handed_before: the node says an
 * earlier session of our address was handed this packet (it goes out
 * flagged as a possible redelivery). Returns 0 (handed over), 1 (a
 * duplicate: nothing done) or a CASCADE_* error (nothing handed over, and
 * handing not recorded).
 */
static int
deliver(struct cascade *h, Cascade__Packet *p, const uint8_t *handing, int handed_before)
{
	struct cascade_packet pk;
	struct preq *q;
	int state, rc, status, late, foreign;
	char idt[CID_TEXT_LEN];

	if ((rc = store_seen_get(h->st, p->id.data, &state)) != 0)
		return rc;
	if (state == SEEN_DELIVERED)
		return 1;
	if ((rc = store_seen_put(h->st, handing, p->id.data, cnow_ms())) != 0)
		return rc;
	pk.p = p;
	/* HANDING: we died handing it over; handed_before: an earlier session
	 * (another program, maybe) was handed it and may have given it out */
	pk.local_flags = state == SEEN_HANDING || handed_before ? CASCADE_FLAG_REDELIVERY : 0;
	pthread_mutex_lock(&h->mu);
	q = reqs_match(&h->reqs, p, &status, &late, &foreign);
	pthread_mutex_unlock(&h->mu);
	if (foreign)
		sdk_log(h, CASCADE_LOG_WARN, "cascade %s: packet %s from %s names one of our "
		    "requests in reply_to, but the request went elsewhere: not taken as its reply",
		    h->client, cid_format(p->id.data, idt), p->src);
	if (late)
		pk.local_flags |= CASCADE_FLAG_LATE;
	if (q != NULL) {
		q->cb(q->arg, h, status, q->id, &pk);
		free(q);
	} else
		h->packet_cb(h->packet_arg, h, &pk);
	return 0;
}

static void
pull_reply(struct cascade *h, struct call *c)
{
	Cascade__Reply *rep;
	Cascade__PullReply *pr;
	const uint8_t *handing = NULL;
	size_t i, stop, handing_i = 0;
	char idt[CID_TEXT_LEN], why[80];
	int rc = 0;

	if ((rep = reply_open(h, c, "pull")) == NULL)
		return;
	pr = cascade__pull_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (clink_pull_reply_check(pr, why, sizeof(why)) != 0) {
		if (pr != NULL)
			cascade__pull_reply__free_unpacked(pr, NULL);
		session_lost(h, 1, "pull: %s", why);
		return;
	}
	if (pr->epoch != h->down_epoch) {
		/* a stream we don't know: the node's lowest unacked starts it */
		h->down_epoch = pr->epoch;
		h->down_acked = pr->first_seq > 0 ? pr->first_seq - 1 : 0;
	}
	/* stop: the first packet not safely recorded; the ack stays below it */
	stop = pr->n_packets;
	for (i = 0; i < pr->n_packets; i++) {
		Cascade__Packet *p = pr->packets[i];

		if (pr->seqs[i] <= h->down_acked)
			continue;       /* committed already: a resend */
		if (closing(h)) {
			rc = CASCADE_ECLOSED;
			stop = i;
			break;
		}
		if (sdk_paused(h)) {
			/* not delivered, not acked: the node keeps it for after cascade_resume() */
			stop = i;
			break;
		}
		if (p->id.len != CID_LEN || (p->kind != KIND(DATA) && p->kind != KIND(NOTICE))) {
			sdk_log(h, CASCADE_LOG_WARN, "cascade %s: skipping a packet of kind %u at "
			    "seq %llu (not for applications)", h->client, p->kind,
			    (unsigned long long)pr->seqs[i]);
			continue;
		}
		if (p->kind == KIND(NOTICE) && !sdk_notice_from_node(p)) {
			sdk_log(h, CASCADE_LOG_WARN, "cascade %s: skipping a notice from %s at seq %llu "
			    "(notices come only from nodes)", h->client, p->src,
			    (unsigned long long)pr->seqs[i]);
			continue;
		}
		rc = deliver(h, p, handing, pr->seqs[i] <= pr->handed_upto);
		if (rc == 0) {
			handing = p->id.data;
			handing_i = i;
		} else if (rc == 1) {
			sdk_log(h, CASCADE_LOG_DEBUG, "cascade %s: packet %s delivered before; "
			    "skipped", h->client, cid_format(p->id.data, idt));
			rc = 0;
		} else {
			sdk_log(h, CASCADE_LOG_ERROR, "cascade %s: state: recording packet %s: %s; "
			    "it stays with the node", h->client, cid_format(p->id.data, idt),
			    cascade_strerror(rc));
			stop = i;
			break;
		}
	}
	/* the last packet handed over: DELIVERED before the next Pull acknowledges it */
	if (handing != NULL && store_seen_put(h->st, handing, NULL, cnow_ms()) != 0) {
		sdk_log(h, CASCADE_LOG_ERROR, "cascade %s: state: cannot record packet %s as "
		    "delivered; the node will send it again", h->client, cid_format(handing, idt));
		stop = handing_i;
		if (rc == 0)
			rc = CASCADE_ESTATE;
	}
	if (stop == pr->n_packets) {
		if (pr->last_seq >= pr->first_seq && pr->last_seq > h->down_acked)
			h->down_acked = pr->last_seq;
	} else if (pr->seqs[stop] - 1 > h->down_acked)
		h->down_acked = pr->seqs[stop] - 1;
	cascade__pull_reply__free_unpacked(pr, NULL);
	h->pulling = 0;
	if (rc == CASCADE_ECLOSED)
		return;
	if (rc != 0) {
		/* the state directory failed: pull again later, not in a tight loop */
		h->hold_until = now_ms() + 1000;
		timer_arm(h, 1000);
		return;
	}
	pull(h);
}

/* ------------------------------------------------------------ the thread */

static void
handle_event(struct cascade *h, struct call *c)
{
	if (c->gen != h->gen)
		return;                 /* from an earlier session */
	switch (c->type) {
	case MSG(HELLO):
		hello_reply(h, c);
		break;
	case MSG(AUTH):
		auth_reply(h, c);
		break;
	case MSG(PUSH):
		push_reply(h, c);
		break;
	case MSG(PULL):
		pull_reply(h, c);
		break;
	}
}

static void
timer_fire(struct cascade *h)
{
	h->timer_at = NEVER;
	if (h->ps == P_DOWN) {
		if (h->connected)
			hello(h);
		/* else the carrier keeps dialing: its connection event starts the Hello */
	} else if (h->ps == P_UP) {
		push_more(h);
		pull(h);
	}
}

static void
expire_requests(struct cascade *h)
{
	struct preq *q;

	for (;;) {
		pthread_mutex_lock(&h->mu);
		q = reqs_expired(&h->reqs, now_ms());
		pthread_mutex_unlock(&h->mu);
		if (q == NULL)
			break;
		q->cb(q->arg, h, CASCADE_ETIMEDOUT, q->id, NULL);
		free(q);
	}
}

static void
prune(struct cascade *h)
{
	int rc;

	h->prune_at = now_ms() + PRUNE_EVERY_MS;
	if ((rc = store_prune(h->st, cnow_ms() - SDK_KEEP_IDS_MS)) != 0)
		sdk_log(h, CASCADE_LOG_WARN, "cascade %s: state: pruning old ids: %s", h->client,
		    cascade_strerror(rc));
}

/* A tls failure is there at once: ask why soon (the first handshake with OpenSSL). */
int64_t
sdk_first_nag_ms(const struct cascade *h)
{
	return h->tls && h->dead_ms > NAG_TLS_MS ? NAG_TLS_MS : h->dead_ms;
}

/*
 * Why tls does not come up: nng's tls does not tell why a handshake fails,
 * and curl's reason reaches only the log, so one handshake with OpenSSL
 * finds out (blocking this thread, which has nothing else to do without a
 * session, for at most a few seconds). A certificate that does not verify
 * (another CA, a name not on it, expired) is CASCADE_STATE_UNTRUSTED; any
 * other reason is told in the state the handle is in. Either way
 * cascade_last_error() has it, and the state callback hears each new
 * reason once.
 */
static void
tls_why(struct cascade *h)
{
	char host[256], msg[512];
	int port = 0, state, rc = 0;

	if (sdk_url_check(h->url, host, sizeof(host), &port) == CASCADE_OK)
		rc = ctls_probe(host, (unsigned)port, h->ca_file,
		    h->dead_ms < 3000 ? h->dead_ms : 3000, msg, sizeof(msg));
	if (rc == 0)
		snprintf(msg, sizeof(msg), "no tls connection to %s yet, though a handshake with "
		    "OpenSSL verifies against CA file %s", h->url, h->ca_file);
	if (strcmp(msg, h->tls_said) == 0)
		return;
	snprintf(h->tls_said, sizeof(h->tls_said), "%s", msg);
	state = pub_state(h);
	if (rc == CTLS_UNVERIFIED && state != CASCADE_STATE_UNTRUSTED) {
		set_state(h, CASCADE_STATE_UNTRUSTED, "%s: %s; not trusting the node (dialing on)",
		    h->url, msg);
		return;
	}
	sdk_log(h, CASCADE_LOG_WARN, "cascade %s: %s: %s", h->client, h->url, msg);
	sdk_set_error(h, "%s: %s", h->url, msg);
	if (h->state_cb != NULL)
		h->state_cb(h->state_arg, h, state, msg);
}

/*
 * No connection for a while: say why (the carrier keeps dialing), through
 * tls_why on a tls url.
 */
static void
nag(struct cascade *h)
{
	h->nag_at = now_ms() + 4 * (int64_t)h->dead_ms;
	if (!h->tls) {
		sdk_log(h, CASCADE_LOG_WARN, "cascade %s: no connection to %s yet: the node is "
		    "unreachable", h->client, h->url);
		return;
	}
	tls_why(h);
}

struct timespec
sdk_abs_time(int64_t mono_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(mono_ms / 1000);
	ts.tv_nsec = (long)(mono_ms % 1000) * 1000000L;
	return ts;
}

/* How long no connection may last before the carrier is rebuilt. */
static int64_t
rebuild_after_ms(const struct cascade *h)
{
	return (int64_t)h->reconnect_max_ms + h->dead_ms;
}

/*
 * No connection for reconnect max + dead timeout, although the carrier
 * redials within reconnect max: nng 1.5.2 as Debian ships it can stop
 * redialing for good (cascade issue 17). A new carrier, said once per
 * outage; the line that says the session is up again counts them. Calls
 * in flight on the old one end with ECLOSED and, being of an earlier
 * generation, are dropped.
 */
static void
carrier_rebuild(struct cascade *h)
{
	char err[512];
	int rc;

	if (h->rebuilds++ == 0)
		sdk_log(h, CASCADE_LOG_WARN, "cascade %s: no connection to %s for %lld ms (reconnect "
		    "max + dead timeout): rebuilding the carrier", h->client, h->url,
		    (long long)rebuild_after_ms(h));
	session_drop(h);
	carrier_close(h->car);
	h->car = NULL;
	pthread_mutex_lock(&h->mu);
	h->conn_up = 0;
	h->conn_down_seen = 0;
	pthread_mutex_unlock(&h->mu);
	h->unconnected_since = now_ms();
	if ((rc = carrier_open(&h->cp, h->carrier_pref, &h->car, err, sizeof(err))) != 0) {
		sdk_log(h, CASCADE_LOG_ERROR, "cascade %s: rebuilding the carrier: %s; trying "
		    "again in %lld ms", h->client, err, (long long)rebuild_after_ms(h));
		h->car = NULL;
	}
}

/*
 * cascade_close() on an up session: packets handed to the application since
 * the last Pull are not acknowledged yet, and the node would hand them to
 * the next session of our address. One last Pull (wait 0) carries the ack;
 * its answer means the node committed it. Bounded by CLOSE_ACK_MS.
 */
static void
close_ack(struct cascade *h)
{
	Cascade__Pull p = CASCADE__PULL__INIT;
	struct call *evs, *c;
	int64_t deadline;
	int32_t wait = h->dead_ms < CLOSE_ACK_MS ? h->dead_ms : CLOSE_ACK_MS;
	uint64_t seq;
	int done = 0;

	if (h->ps != P_UP || h->packet_cb == NULL || h->down_acked <= h->down_acked_up)
		return;
	p.epoch = h->down_epoch;
	p.acked_seq = h->down_acked;
	p.wait_ms = 0;
	p.max = 1;                      /* what it brings back stays with the node */
	if (call(h, MSG(PULL), &p.base, wait, 0, 0) != 0)
		return;
	seq = h->seq;
	deadline = now_ms() + wait;
	pthread_mutex_lock(&h->mu);
	while (!done && now_ms() < deadline) {
		struct timespec ts = sdk_abs_time(deadline);

		if (h->ev_head == NULL)
			pthread_cond_timedwait(&h->cv, &h->mu, &ts);
		evs = h->ev_head;
		h->ev_head = h->ev_tail = NULL;
		while ((c = evs) != NULL) {
			evs = c->next;
			if (c->gen == h->gen && c->type == MSG(PULL) && c->seq == seq)
				done = c->err == 0 ? 1 : -1;
			free(c->buf);
			free(c);
		}
	}
	pthread_mutex_unlock(&h->mu);
	if (done == 1)
		sdk_log(h, CASCADE_LOG_DEBUG, "cascade %s: close: acknowledged up to %llu", h->client,
		    (unsigned long long)h->down_acked);
	else
		sdk_log(h, CASCADE_LOG_WARN, "cascade %s: close: the node did not confirm the ack "
		    "of the last packets delivered (up to %llu) within %d ms; it may hand them to "
		    "the next session again", h->client, (unsigned long long)h->down_acked, wait);
}

void *
sdk_main(void *arg)
{
	struct cascade *h = arg;
	struct call *evs, *c;
	struct preq *q;
	int64_t next, t;
	int wake, poke, went_down, up;

	sdk_self = h;
	set_state(h, CASCADE_STATE_CONNECTING, "dialing %s", h->url);
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->closing && h->ev_head == NULL && !h->wake && !h->poke &&
		    !h->conn_down_seen && h->conn_up == h->connected) {
			next = h->timer_at;
			if ((t = reqs_next_deadline(&h->reqs)) < next)
				next = t;
			if (h->prune_at < next)
				next = h->prune_at;
			if (!h->connected && h->nag_at < next)
				next = h->nag_at;
			if (!h->connected && h->unconnected_since != 0 && h->ps != P_TAKEN &&
			    h->unconnected_since + rebuild_after_ms(h) < next)
				next = h->unconnected_since + rebuild_after_ms(h);
			if (next <= now_ms())
				break;
			if (next == NEVER)
				pthread_cond_wait(&h->cv, &h->mu);
			else {
				struct timespec ts = sdk_abs_time(next);

				pthread_cond_timedwait(&h->cv, &h->mu, &ts);
			}
		}
		if (h->closing)
			break;
		evs = h->ev_head;
		h->ev_head = h->ev_tail = NULL;
		wake = h->wake;
		h->wake = 0;
		poke = h->poke;
		h->poke = 0;
		went_down = h->conn_down_seen;
		h->conn_down_seen = 0;
		up = h->conn_up;
		pthread_mutex_unlock(&h->mu);

		if (went_down) {
			if (h->connected || h->unconnected_since == 0)
				h->unconnected_since = now_ms();
			h->connected = 0;
			h->nag_at = now_ms() + sdk_first_nag_ms(h);
					if (h->ps != P_DOWN && h->ps != P_TAKEN)
				session_lost(h, 0, "connection to %s closed", h->url);
		}
		if (up && !h->connected) {
			h->connected = 1;
			h->unconnected_since = 0;
			h->tls_said[0] = '\0';
			sdk_log(h, CASCADE_LOG_DEBUG, "cascade %s: connected to %s", h->client, h->url);
			if (h->ps == P_DOWN && h->timer_at == NEVER)
				hello(h);
		} else if (!up) {
			if (h->connected)
				h->unconnected_since = now_ms();
			h->connected = 0;
		}
		while ((c = evs) != NULL) {
			evs = c->next;
			handle_event(h, c);
			free(c->buf);
			free(c);
		}
		if (h->timer_at <= now_ms())
			timer_fire(h);
		if (wake)
			push_more(h);
		if (poke)
			pull(h);        /* resumed: pull again; paused: send the ack owed */
		expire_requests(h);
		if (h->prune_at <= now_ms())
			prune(h);
		if (!h->connected && h->nag_at <= now_ms())
			nag(h);
		/* taken over: we stay down on purpose, and a rebuild would dial */
		if (!h->connected && h->unconnected_since != 0 && h->ps != P_TAKEN &&
		    now_ms() - h->unconnected_since >= rebuild_after_ms(h))
			carrier_rebuild(h);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);

	close_ack(h);
	/* closing: no more calls; the carrier answers what is in flight with ECLOSED */
	carrier_close(h->car);
	h->car = NULL;
	pthread_mutex_lock(&h->mu);
	evs = h->ev_head;
	h->ev_head = h->ev_tail = NULL;
	pthread_mutex_unlock(&h->mu);
	while ((c = evs) != NULL) {
		evs = c->next;
		free(c->buf);
		free(c);
	}
	for (;;) {
		pthread_mutex_lock(&h->mu);
		q = reqs_pop(&h->reqs);
		pthread_mutex_unlock(&h->mu);
		if (q == NULL)
			break;
		q->cb(q->arg, h, CASCADE_ECLOSED, q->id, NULL);
		free(q);
	}
	set_state(h, CASCADE_STATE_CLOSED, "closed");
	return NULL;
}
