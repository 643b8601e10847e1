/*
 * uplink.c — the child side of the link to the parent: Hello / Auth, the
 * push window (custody upward), the long-poll pull (custody downward) and
 * Routes, over the carrier the parent decides.
 *
 * A session lives only until its carrier connection goes or a request
 * times out; then everything starts over with Hello and resumes at the
 * parent's mark + 1. Replies from an earlier session are recognised by
 * their generation number and dropped.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "custody.h"
#include "origin.h"

#define STATUS(x) CASCADE__STATUS__STATUS_##x
#define PUSH_MAX_BYTES (1u << 20)
#define FALLBACK_AFTER 3                /* consecutive tcp failures before http (auto) */
#define PROBE_MIN_MS 5000               /* how often tcp is tried again meanwhile */

enum ul_state { UL_DOWN, UL_HELLO, UL_AUTH, UL_UP };

struct uplink {
	const struct conf_parent *pc;
	const struct cclient_ops *ops;  /* the carrier in use */
	void *cc;
	const struct conf_url *url;     /* its url */
	const struct conf_url *tcp_url, *http_url;
	int tcp_failures;               /* in a row, for transport auto */
	int fallen_back;                /* on http because tcp kept failing */
	void *probe;                    /* a tcp client trying tcp again meanwhile */
	struct event *probe_timer;
	enum ul_state state;
	uint64_t gen;                   /* session generation */
	int connected;
	uint64_t session;
	uint64_t seq;                   /* the session's last request counter */
	uint8_t key[SESSION_KEY_LEN];
	int keyed;                      /* plain carrier: requests carry a mac */
	struct clink_auth ca;           /* the last Auth: its nonces give the session key */
	char peername[CADDR_NODE_MAX + 8]; /* stream name of the parent for marks */
	/* up stream */
	uint64_t epoch;
	uint64_t next_send, acked;
	unsigned inflight, window, max_batch;
	int64_t hold_until;             /* the parent refused (journal full): wait */
	/* down stream */
	uint64_t down_epoch, down_mark;
	int pulling;
	int routes_dirty, routes_inflight;
	struct event *timer;
	struct event *watchdog;         /* armed while the link is not up: see watchdog_fire */
	int rebuilds;                   /* carrier rebuilds in this outage */
	int rebuilding;                 /* carrier_use called by the watchdog */
	int unconnected_fires;          /* timer fires in a row without a connection */
	int64_t backoff_ms;
	char last_error[256];
	int64_t last_error_ms;          /* wall clock */
	const char *why;                /* why this carrier (a literal) */
	int paused;                     /* by the operator: no connection, no timers */
	int started;                    /* uplink_start is done: a failure is no longer fatal */
	uint64_t ups, rebuilds_total;   /* sessions up, carrier rebuilds, since start */
	struct tls_probe *tp;           /* a probe running, or NULL */
	struct event *tp_done;
	char tp_said[512];              /* what the last probe said (logged once) */
	struct qwaiter wait;            /* on the up queue from start to stop: push_more */
};

/*
 * Why a tls link does not come up: nng does not say, so a thread makes one
 * handshake with OpenSSL (ctls_probe) and the loop logs what it found.
 */
struct tls_probe {
	char host[256], ca[4096];
	unsigned port;
	int timeout_ms, rc;
	char msg[512];
	struct event *done;
};

static void hello(struct uplink *u);
static void carrier_failed(struct uplink *u);
static void carrier_use(struct uplink *u, const struct conf_url *url, const char *why);
static void push_more(struct uplink *u);
static void pull(struct uplink *u);
static void send_routes(struct uplink *u);
static void uplink_set_conf(struct uplink *u, const struct conf_parent *pc);

/* A request in flight: the session generation it belongs to. */
struct ucall {
	struct uplink *u;
	uint64_t gen;
	uint64_t first, last;           /* push range */
	uint32_t type;
	uint64_t session, seq;          /* what the reply's mac must name */
	int authentic;                  /* the reply is the parent's: mac or tls */
	uplink_trace_cb *trace_cb;      /* MSG_TRACE: who waits for the answer */
	void *trace_arg;
};

static struct ucall *
ucall_new(struct uplink *u)
{
	struct ucall *c = xcalloc(1, sizeof(*c));

	c->u = u;
	c->gen = u->gen;
	return c;
}

static void
timer_arm(struct uplink *u, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(u->timer, &tv);
}

/*
 * The watchdog: while the link is not up, every event from the carrier (a
 * connection, a reply, a timeout) re-arms it for reconnect max + dead
 * timeout. When it fires the carrier has said nothing for that long, which
 * nng's own redialing never allows: the carrier is rebuilt (issue 17).
 */
static void
watchdog_arm(struct uplink *u)
{
	int64_t ms = u->pc->reconnect_max_ms + u->pc->dead_timeout_ms;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(u->watchdog, &tv);
}

/* The session is gone: start over with Hello after a backoff. */
static void
session_lost(struct uplink *u, int redial, const char *fmt, ...) PRINTF(3, 4);

static void
session_lost(struct uplink *u, int redial, const char *fmt, ...)
{
	va_list ap;
	int failed;

	va_start(ap, fmt);
	vsnprintf(u->last_error, sizeof(u->last_error), fmt, ap);
	va_end(ap);
	u->last_error_ms = cnow_ms();
	if (u->state == UL_UP)
		log_warnx("link %s: session lost: %s", u->pc->id, u->last_error);
	else
		log_warnx("link %s: %s", u->pc->id, u->last_error);
	failed = u->state != UL_UP;
	u->gen++;
	u->state = UL_DOWN;
	u->inflight = 0;
	u->pulling = 0;
	u->routes_inflight = 0;
	if (redial && u->cc != NULL) {
		/* a dead or wedged connection: drop it, nng dials again with backoff */
		u->ops->redial(u->cc);
		u->connected = 0;
	}
	timer_arm(u, u->backoff_ms);
	watchdog_arm(u);
	u->backoff_ms *= 2;
	if (u->backoff_ms > u->pc->reconnect_max_ms)
		u->backoff_ms = u->pc->reconnect_max_ms;
	if (failed)
		carrier_failed(u);
}

static void *
tls_probe_run(void *arg)
{
	struct tls_probe *tp = arg;

	tp->rc = ctls_probe(tp->host, tp->port, tp->ca[0] ? tp->ca : NULL, tp->timeout_ms,
	    tp->msg, sizeof(tp->msg));
	event_active(tp->done, EV_READ, 0);
	return NULL;
}

static void
tls_probe_start(struct uplink *u)
{
	struct tls_probe *tp;
	pthread_t t;

	if (u->tp != NULL)
		return;
	tp = xcalloc(1, sizeof(*tp));
	snprintf(tp->host, sizeof(tp->host), "%s", u->url->host);
	snprintf(tp->ca, sizeof(tp->ca), "%s", u->pc->ca != NULL ? u->pc->ca : "");
	tp->port = u->url->port;
	tp->timeout_ms = (int)(u->pc->dead_timeout_ms < 5000 ? u->pc->dead_timeout_ms : 5000);
	tp->done = u->tp_done;
	u->tp = tp;
	if (pthread_create(&t, NULL, tls_probe_run, tp) != 0) {
		u->tp = NULL;
		free(tp);
		return;
	}
	pthread_detach(t);
}

static void
tls_probe_done(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	struct tls_probe *tp = u->tp;

	if (tp == NULL)
		return;
	u->tp = NULL;
	if (!u->connected && u->url->tls && strcmp(tp->msg, u->tp_said) != 0) {
		/* each new reason once, not at every retry */
		if (tp->rc == 0)
			log_warnx("link %s: %s: no tls connection yet, though %s with ca %s: nng's "
			    "tls (mbedTLS) refuses it without saying why", u->pc->id, u->url->url,
			    tp->msg, u->pc->ca);
		else
			log_warnx("link %s: %s: no tls connection: %s", u->pc->id, u->url->url,
			    tp->msg);
		snprintf(u->tp_said, sizeof(u->tp_said), "%s", tp->msg);
	}
	free(tp);
}

static void
timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;

	if (u->paused)
		return;
	if (u->cc == NULL)              /* its carrier could not be opened (carrier_use) */
		carrier_use(u, u->url, u->why);
	else if (u->state == UL_DOWN && u->connected)
		hello(u);
	else if (u->state == UL_DOWN) {
		/* still no connection: nng keeps dialing; say (once a dead-link timeout
		 * has passed) why it may fail */
		if (u->unconnected_fires++ == 0 && u->backoff_ms < u->pc->dead_timeout_ms)
			;
		else if (u->url->tls)
			tls_probe_start(u);     /* it says why, once per reason */
		else
			log_warnx("link %s: no connection to %s yet: the parent is unreachable",
			    u->pc->id, u->url->url);
		timer_arm(u, u->pc->dead_timeout_ms);
		if (u->unconnected_fires > 1)
			carrier_failed(u);
	} else if (u->state == UL_UP) {
		/*
		 * The parent refused for now (push_reply's hold). libevent times
		 * from the time it cached when this loop turn began, which may be
		 * earlier than hold_until's cmono_ms(): the timer can fire a little
		 * before hold_until, and push_more would return with nothing left
		 * to call it again but a new packet in the up queue (a stalled
		 * link once the sender is done).
		 */
		int64_t left = u->hold_until - cmono_ms();

		if (left > 0)
			timer_arm(u, left + 1);
		else
			push_more(u);
	}
}

/* Sends one request; cb gets the decoded reply (or NULL with err / status). */
typedef void (*ureply_cb)(struct uplink *, struct ucall *, int err, Cascade__Reply *);

struct upending {
	struct ucall *c;
	ureply_cb cb;
};

static void
call_done(void *arg, int err, uint8_t *buf, size_t len)
{
	struct upending *p = arg;
	struct ucall *c = p->c;
	struct uplink *u = c->u;
	Cascade__Reply *rep = NULL;

	if (err == 0)
		node->stat_up_bytes_in += len;
	if (c->gen != u->gen) {         /* from an earlier session */
		if (c->trace_cb != NULL)        /* someone waits for it all the same */
			c->trace_cb(c->trace_arg, "the session to the parent was lost", NULL, 0);
		goto done;
	}
	if (err == 0) {
		rep = cascade__reply__unpack(NULL, len, buf);
		if (rep == NULL) {
			session_lost(u, 1, "undecodable reply from the parent (%zu bytes)", len);
			goto done;
		}
		/* tls vouches for the parent; on a plain carrier only the mac does
		 * (auth_reply checks an Auth reply under the key it derives) */
		c->authentic = u->url->tls;
		if (u->keyed && c->type != CASCADE__MSG_TYPE__MSG_AUTH) {
			c->authentic = cenv_reply_verify(rep, c->session, c->seq, u->key) == 0;
			if (!c->authentic && rep->status == STATUS(OK)) {
				session_lost(u, 1, "reply mac does not match the session key");
				goto done;
			}
		}
	}
	p->cb(u, c, err, rep);
done:
	if (rep != NULL)
		cascade__reply__free_unpacked(rep, NULL);
	free(c);
	free(p);
}

/*
 * The carrier could not make the request (it said why): it ends like one
 * with no reply, later on the loop, so no caller of call() runs its reply
 * callback before call() has returned.
 */
static void
call_failed(void *arg)
{
	call_done(arg, -1, NULL, 0);
}

static void
call(struct uplink *u, struct ucall *c, uint32_t type, const ProtobufCMessage *m,
    int timeout_ms, ureply_cb cb)
{
	struct upending *p = xmalloc(sizeof(*p));
	size_t len;
	uint8_t *buf;

	c->type = type;
	c->session = u->session;
	c->seq = u->session != 0 ? ++u->seq : 0;
	buf = clink_request(type, c->session, c->seq, m, u->keyed ? u->key : NULL, &len);
	if (buf == NULL)
		fatalx("link %s: out of memory", u->pc->id);
	p->c = c;
	p->cb = cb;
	node->stat_up_bytes_out += len;
	if (u->ops->call(u->cc, buf, len, timeout_ms, call_done, p) != 0)
		loop_post(call_failed, p);
	free(buf);
}

/*
 * Common checks of a reply: 0 when it is an OK reply to work with. An error
 * the parent did not sign may come from anyone on the path: it only makes
 * us start over, whatever it says.
 */
static int
reply_ok(struct uplink *u, struct ucall *c, const char *what, int err, Cascade__Reply *rep)
{
	if (err != 0) {
		session_lost(u, 1, "%s: no reply from %s (%s)", what, u->url->url,
		    !u->connected ? "not connected" : "timed out or connection lost");
		return -1;
	}
	if (rep->status != STATUS(OK) && !c->authentic) {
		session_lost(u, 0, "%s: \"%s\" from %s is not authenticated (%.100s); starting over",
		    what, cstatus_str(rep->status), u->url->url, rep->error);
		return -1;
	}
	if (rep->status == STATUS(NO_SESSION)) {
		session_lost(u, 0, "%s: the parent no longer knows the session", what);
		return -1;
	}
	if (rep->status != STATUS(OK)) {
		session_lost(u, 0, "%s refused by %s: %s: %s", what, u->pc->id,
		    cstatus_str(rep->status), rep->error);
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------- hello, auth */

static void auth_reply(struct uplink *u, struct ucall *c, int err, Cascade__Reply *rep);

static void
hello_reply(struct uplink *u, struct ucall *c, int err, Cascade__Reply *rep)
{
	Cascade__HelloReply *hr;
	struct jqueue_info qi;
	char **subtree, why[160];
	size_t nsubtree;
	uint32_t carrier;
	int rc;

	if (reply_ok(u, c, "hello", err, rep) != 0)
		return;
	hr = cascade__hello_reply__unpack(NULL, rep->body.len, rep->body.data);
	if ((rc = clink_hello_reply_check(hr, u->pc->id, why, sizeof(why))) == CLINK_MALFORMED) {
		session_lost(u, 1, "hello: %s", why);
		goto done;
	}
	if (rc != 0) {
		session_lost(u, 0, "%s answers as node \"%.64s\", but the config says parent %s "
		    "(%s:%d)", u->url->url, hr->node != NULL ? hr->node : "", u->pc->id,
		    u->pc->where.file, u->pc->where.line);
		goto done;
	}
	/* a run-time failure of ours: this session ends, the link tries again */
	if ((rc = journal_queue_info(node->j, node->q_up, &qi)) != 0) {
		session_lost(u, 1, "hello: journal: %s", journal_strerror(rc));
		goto done;
	}
	u->epoch = qi.epoch;
	/* auto lets the parent decide, unless tcp failed us and we ask for http */
	if (u->pc->transport == CONF_TRANSPORT_AUTO && !u->fallen_back)
		carrier = 0;
	else
		carrier = (uint32_t)u->ops->carrier;
	subtree = routes_mine(&nsubtree);
	/* stream position: our lowest unacked */
	if (clink_auth(&u->ca, u->pc->secret.key, u->pc->secret.len, node->id, hr->nonce.data,
	    qi.epoch, qi.acked_seq + 1, subtree, nsubtree, carrier) != 0) {
		free(subtree);
		u->ca.a.subtree = NULL;
		u->ca.a.n_subtree = 0;
		session_lost(u, 1, "hello: no randomness for a nonce");
		goto done;
	}
	u->state = UL_AUTH;
	u->routes_dirty = 0;
	watchdog_arm(u);
	call(u, ucall_new(u), CASCADE__MSG_TYPE__MSG_AUTH, &u->ca.a.base,
	    (int)u->pc->dead_timeout_ms, auth_reply);
	/* packed: only the nonces are kept (for the session key), not the borrowed list */
	free(subtree);
	u->ca.a.subtree = NULL;
	u->ca.a.n_subtree = 0;
done:
	if (hr != NULL)
		cascade__hello_reply__free_unpacked(hr, NULL);
}

static void
hello(struct uplink *u)
{
	Cascade__Hello h;

	u->state = UL_HELLO;
	u->session = 0;
	u->seq = 0;
	u->keyed = 0;
	clink_hello(&h, node->id, CASCADE__PEER_KIND__PEER_NODE, (uint32_t)u->ops->carrier);
	call(u, ucall_new(u), CASCADE__MSG_TYPE__MSG_HELLO, &h.base, (int)u->pc->dead_timeout_ms,
	    hello_reply);
}

struct upack_job {
	struct jjob job;
	struct jack ack;
	struct jkey *keys;              /* what the ack removes, for the quotas */
	unsigned nkeys;
};

static int
upack_prep(struct journal *j, struct jjob *job)
{
	struct upack_job *aj = (struct upack_job *)job;

	return lim_quota_keys(j, aj->ack.qid, aj->ack.upto, &aj->keys, &aj->nkeys);
}

static void
upack_done(struct jjob *job)
{
	struct upack_job *aj = (struct upack_job *)job;
	unsigned nacked = aj->ack.nacked;

	if (job->rc != 0 && job->rc != JOURNAL_RANGE)
		log_warnx("link: ack up to %llu: %s", (unsigned long long)aj->ack.upto,
		    journal_strerror(job->rc));
	/* what a failed ack committed before it failed: as server.c ack_done */
	lim_quota_release(aj->keys, job->rc == 0 || nacked > aj->nkeys ? aj->nkeys : nacked);
	node->stat_sent += nacked;
	/* the ack may have numbered packets that waited in a priority lane */
	if (nacked > 0)
		queue_wake(aj->ack.qid);
	free(aj->keys);
	free(aj);
}

/* The parent holds everything up to seq: drop it from the up queue. */
static void
ack_up_to(struct uplink *u, uint64_t seq)
{
	struct upack_job *aj;

	if (seq <= u->acked)
		return;
	u->acked = seq;
	aj = xcalloc(1, sizeof(*aj));
	aj->ack.qid = node->q_up;
	aj->ack.upto = seq;
	/* a commit job: it shares the transaction of the batches queued with it */
	aj->job.ack = &aj->ack;
	aj->job.prep = upack_prep;
	aj->job.done = upack_done;
	jthread_submit(&aj->job);
}

/*
 * The parent cannot hold more of our stream than we ever numbered: a mark
 * beyond that (or one whose + 1 wraps) would make us drop packets it never
 * had. Refuses the session then; 1 if so.
 */
static int
mark_beyond(struct uplink *u, const char *what, uint64_t mark, const struct jqueue_info *qi)
{
	if (!clink_mark_beyond(mark, qi->next_seq - 1))
		return 0;
	session_lost(u, 1, "%s: the parent's mark %llu is beyond the last sequence we numbered "
	    "(%llu): refused", what, (unsigned long long)mark,
	    (unsigned long long)(qi->next_seq - 1));
	return 1;
}

static void
auth_reply(struct uplink *u, struct ucall *c, int err, Cascade__Reply *rep)
{
	char sid[CSESSION_SHORT_LEN];
	Cascade__AuthReply *ar;
	struct jqueue_info qi;
	uint64_t mark = 0;
	size_t i;
	int jrc;

	/* the whole reply travels under the session key: the parent's proof */
	clink_session_key(&u->ca, u->pc->secret.key, u->pc->secret.len, node->id, u->key);
	if (err == 0)
		c->authentic = cenv_reply_verify(rep, 0, 0, u->key) == 0;
	if (reply_ok(u, c, "auth", err, rep) != 0)
		return;
	if (!c->authentic) {
		session_lost(u, 1, "auth: the reply from %s is not authenticated (its mac does not "
		    "match the key secret %s gives): a man in the middle, or not our parent",
		    u->url->url, u->pc->secret.path);
		return;
	}
	ar = cascade__auth_reply__unpack(NULL, rep->body.len, rep->body.data);
	if (ar == NULL) {
		session_lost(u, 1, "auth: malformed reply");
		return;
	}
	if ((jrc = journal_queue_info(node->j, node->q_up, &qi)) != 0) {
		session_lost(u, 1, "auth: journal: %s", journal_strerror(jrc));
		goto done;
	}
	if (clink_auth_mark(ar, u->epoch, qi.next_seq - 1, &mark) != 0 &&
	    mark_beyond(u, "auth", mark, &qi))
		goto done;
	if (ar->carrier != 0 && ar->carrier != (uint32_t)u->ops->carrier) {
		const struct conf_url *other = ar->carrier == CASCADE__CARRIER__CARRIER_HTTP ?
		    u->http_url : u->tcp_url;

		if (u->pc->transport == CONF_TRANSPORT_AUTO && other != NULL) {
			carrier_use(u, other, ar->carrier == CASCADE__CARRIER__CARRIER_HTTP ?
			    "the parent prefers http" : "the parent prefers tcp");
			goto done;
		}
		log_warnx("link %s: the parent wants carrier %s, but %s (%s:%d); staying on %s",
		    u->pc->id, ar->carrier == CASCADE__CARRIER__CARRIER_HTTP ? "http" : "tcp",
		    other == NULL ? "this link has no url for it" : "the transport is set",
		    u->pc->where.file, u->pc->where.line, u->ops->name);
	}
	for (i = 0; i < ar->n_refused_subtree; i++)
		log_warnx("link %s: the parent refuses our claim of node id %s (its child block "
		    "does not allow it)", u->pc->id, ar->refused_subtree[i]);
	u->session = ar->session;
	u->keyed = !u->url->tls;
	if (ar->limits != NULL && ar->limits->max_batch > 0)
		u->max_batch = ar->limits->max_batch;
	if (u->max_batch > node->conf->max_batch)
		u->max_batch = node->conf->max_batch;
	u->state = UL_UP;
	u->ups++;
	evtimer_del(u->watchdog);
	if (u->rebuilds > 0)
		log_info("link %s: up again after %d carrier rebuild%s", u->pc->id, u->rebuilds,
		    u->rebuilds == 1 ? "" : "s");
	u->rebuilds = 0;
	if (u->ops->carrier == CASCADE__CARRIER__CARRIER_TCP)
		u->tcp_failures = 0;
	u->backoff_ms = u->pc->reconnect_min_ms;
	u->last_error[0] = '\0';
	/* resume at the parent's mark + 1 */
	if (mark < u->acked)
		log_warnx("link %s: the parent's mark %llu is below what it acked before (%llu): "
		    "its journal was reset?", u->pc->id, (unsigned long long)mark,
		    (unsigned long long)u->acked);
	/*
	 * The fate of what the last session sent is known now: up to the mark
	 * the parent has it (acked here), above it never arrived and may expire.
	 */
	journal_sent_set(node->j, node->q_up, mark);
	ack_up_to(u, mark);
	u->next_send = mark + 1;
	log_info("link %s: session %s up over %s to %s; resuming up stream at %llu",
	    u->pc->id, csession_short(u->session, sid), u->ops->name, u->url->url,
	    (unsigned long long)u->next_send);
	push_more(u);
	pull(u);
	if (u->routes_dirty)
		send_routes(u);
done:
	cascade__auth_reply__free_unpacked(ar, NULL);
}

/* ---------------------------------------------------------------- push */

static void
push_reply(struct uplink *u, struct ucall *c, int err, Cascade__Reply *rep)
{
	Cascade__PushReply *pr;
	struct jqueue_info qi;
	char idt[CID_TEXT_LEN];
	size_t i;
	int jrc;

	u->inflight--;
	if (reply_ok(u, c, "push", err, rep) != 0)
		return;
	pr = cascade__push_reply__unpack(NULL, rep->body.len, rep->body.data);
	if (pr == NULL) {
		session_lost(u, 1, "push: malformed reply");
		return;
	}
	if ((jrc = journal_queue_info(node->j, node->q_up, &qi)) != 0) {
		session_lost(u, 1, "push: journal: %s", journal_strerror(jrc));
		cascade__push_reply__free_unpacked(pr, NULL);
		return;
	}
	if (mark_beyond(u, "push", pr->acked_seq, &qi)) {
		cascade__push_reply__free_unpacked(pr, NULL);
		return;
	}
	for (i = 0; i < pr->n_rejects; i++) {
		log_warnx("link %s: packet %s (seq %llu) rejected by the parent: %s: %s", u->pc->id,
		    pr->rejects[i]->id.len == CID_LEN ? cid_format(pr->rejects[i]->id.data, idt) : "?",
		    (unsigned long long)pr->rejects[i]->seq, creason_str(pr->rejects[i]->reason),
		    pr->rejects[i]->text);
		origin_rejected_above(pr->rejects[i]);
	}
	ack_up_to(u, pr->acked_seq);
	if (pr->acked_seq < c->last && u->next_send > pr->acked_seq + 1) {
		/* not stored (overtaken, or refused for now): resend from the mark */
		u->next_send = pr->acked_seq + 1;
		if (pr->refused != 0) {
			log_warnx("link %s: the parent refuses packets for now: %s; retrying in 1s",
			    u->pc->id, creason_str(pr->refused));
			u->hold_until = cmono_ms() + 1000;
			timer_arm(u, 1000);
		}
	}
	cascade__push_reply__free_unpacked(pr, NULL);
	push_more(u);
}

static void
push_more(struct uplink *u)
{
	char who[CADDR_NODE_MAX + 8];

	if (u->state != UL_UP || u->hold_until > cmono_ms())
		return;
	snprintf(who, sizeof(who), "link %s", u->pc->id);
	while (u->inflight < u->window) {
		Cascade__Push push;
		struct custody_out out;
		struct ucall *c;

		if (custody_take_out(node->q_up, u->next_send, u->max_batch, PUSH_MAX_BYTES, who,
		    &out) != 0) {
			log_warnx("link %s: journal: %s", u->pc->id, journal_errmsg(node->j));
			break;
		}
		if (out.entries == 0) {
			custody_out_free(&out);
			break;
		}
		clink_push(&push, u->epoch, u->next_send, out.last_seq, out.pkts, out.seqs, out.n);
		c = ucall_new(u);
		c->first = push.first_seq;
		c->last = push.last_seq;
		u->next_send = push.last_seq + 1;
		u->inflight++;
		call(u, c, CASCADE__MSG_TYPE__MSG_PUSH, &push.base, (int)u->pc->dead_timeout_ms,
		    push_reply);
		custody_out_free(&out);
	}
}

/* The up queue has new packets (queue_wake): push them when the link is up. */
static void
up_woken(void *arg, uint32_t qid)
{
	(void)qid;
	push_more(arg);
}

/* ---------------------------------------------------------------- pull */

/* Packets pulled from the parent on their way into custody (custody.c). */
struct down_job {
	struct custody_batch cb;        /* first: down_run gets the job back */
	struct uplink *u;
	uint64_t gen;
	Cascade__PullReply *pr;
};

/* A new down epoch: its mark first, then the batch (the job's run). */
static int
down_run(struct journal *j, struct jjob *job)
{
	struct down_job *dj = (struct down_job *)job;
	uint64_t mark;
	int rc;

	/* an epoch we don't know: the parent's lowest unacked starts it */
	rc = journal_mark_resolve(j, dj->u->peername, dj->pr->epoch, dj->pr->first_seq, &mark);
	if (rc == 0)
		rc = journal_meta_put(j, "uplink:down-epoch", &dj->pr->epoch,
		    sizeof(dj->pr->epoch));
	if (rc != 0)
		return rc;
	dj->cb.b.mark = mark;
	if (dj->cb.b.n == 0 && dj->pr->last_seq < dj->pr->first_seq)
		return 0;
	dj->cb.b.now_ms = cnow_ms();
	return journal_commit_batch(j, &dj->cb.b);
}

/* The pulled packets are in (or not): the down stream's mark, the next pull. */
static void
down_done(struct custody_batch *cb, void *arg)
{
	struct down_job *dj = arg;
	struct uplink *u = dj->u;
	uint64_t gen;
	unsigned i;
	int rc = cb->job.rc;

	if (rc != 0 && rc != JOURNAL_OUT_OF_ORDER && rc != JOURNAL_FULL)
		log_warnx("link %s: storing pulled packets: %s", u->pc->id, journal_strerror(rc));
	else {
		u->down_epoch = dj->pr->epoch;
		u->down_mark = cb->b.mark;
		for (i = 0; i < cb->b.n; i++) {
			struct jitem *it = &cb->items[i];

			if (it->result == JR_REJECTED)
				log_warnx("link %s: packet from the parent rejected: %s: %s",
				    u->pc->id, creason_str(it->reject),
				    it->reject_text ? it->reject_text : "");
		}
	}
	gen = dj->gen;
	cascade__pull_reply__free_unpacked(dj->pr, NULL);
	custody_batch_free(cb);
	free(dj);
	if (gen == u->gen) {
		u->pulling = 0;
		pull(u);
	}
}

static void
pull_reply(struct uplink *u, struct ucall *c, int err, Cascade__Reply *rep)
{
	Cascade__PullReply *pr;
	struct down_job *dj;
	char why[80];

	if (reply_ok(u, c, "pull", err, rep) != 0)
		return;
	pr = cascade__pull_reply__unpack(NULL, rep->body.len, rep->body.data);
	if (clink_pull_reply_check(pr, why, sizeof(why)) != 0) {
		if (pr != NULL)
			cascade__pull_reply__free_unpacked(pr, NULL);
		session_lost(u, 1, "pull: %s", why);
		return;
	}
	dj = xcalloc(1, sizeof(*dj));
	dj->u = u;
	dj->gen = u->gen;
	dj->pr = pr;
	dj->cb.b.peer = u->peername;
	dj->cb.b.epoch = pr->epoch;
	dj->cb.b.first_seq = pr->first_seq;
	dj->cb.b.last_seq = pr->last_seq;
	dj->cb.b.mark = u->down_mark;
	/* a known stream goes into the group commit; a new epoch needs its mark first */
	if (pr->epoch != u->down_epoch)
		dj->cb.job.run = down_run;
	custody_intake(&dj->cb, pr->packets, pr->seqs, pr->n_packets, FROM_PARENT, NULL,
	    down_done, dj);
}

static void
pull(struct uplink *u)
{
	Cascade__Pull p;
	int64_t wait = node->conf->pull_wait_ms;

	if (u->state != UL_UP || u->pulling)
		return;
	/* the held pull doubles as the keepalive: shorter than the dead-link timeout */
	if (wait > u->pc->dead_timeout_ms / 2)
		wait = u->pc->dead_timeout_ms / 2;
	clink_pull(&p, u->down_epoch, u->down_mark, (uint32_t)wait, u->max_batch, 4u << 20);
	u->pulling = 1;
	call(u, ucall_new(u), CASCADE__MSG_TYPE__MSG_PULL, &p.base,
	    (int)(wait + u->pc->dead_timeout_ms), pull_reply);
}

/* -------------------------------------------------------------- routes */

static void
routes_reply(struct uplink *u, struct ucall *c, int err, Cascade__Reply *rep)
{
	Cascade__RoutesReply *rr;
	size_t i;

	u->routes_inflight = 0;
	if (reply_ok(u, c, "routes", err, rep) != 0)
		return;
	if ((rr = cascade__routes_reply__unpack(NULL, rep->body.len, rep->body.data)) != NULL) {
		for (i = 0; i < rr->n_refused; i++)
			log_warnx("link %s: the parent refuses our claim of node id %s",
			    u->pc->id, rr->refused[i]);
		cascade__routes_reply__free_unpacked(rr, NULL);
	}
	if (u->routes_dirty)
		send_routes(u);
}

static void
send_routes(struct uplink *u)
{
	Cascade__Routes r = CASCADE__ROUTES__INIT;
	char **ids;
	size_t n;

	if (u->state != UL_UP || u->routes_inflight)
		return;
	ids = routes_mine(&n);
	r.subtree = ids;
	r.n_subtree = n;
	u->routes_dirty = 0;
	u->routes_inflight = 1;
	call(u, ucall_new(u), CASCADE__MSG_TYPE__MSG_ROUTES, &r.base, (int)u->pc->dead_timeout_ms,
	    routes_reply);
	free(ids);
}

/* routes.c's change hook: a child's subtree changed, tell the parent. */
static void
routes_changed(void *arg)
{
	struct uplink *u = arg;

	u->routes_dirty = 1;
	send_routes(u);
}

/* --------------------------------------------------------------- trace */

#define TRACE_WAIT_MS 3000

/* Not reply_ok: a trace that fails says so to the operator; the session stays. */
static void
trace_reply(struct uplink *u, struct ucall *c, int err, Cascade__Reply *rep)
{
	char why[320];

	if (err != 0)
		c->trace_cb(c->trace_arg, "no reply (timed out or connection lost)", NULL, 0);
	else if (rep->status != STATUS(OK)) {
		snprintf(why, sizeof(why), "%s: %.200s", cstatus_str(rep->status), rep->error);
		c->trace_cb(c->trace_arg, why, NULL, 0);
	} else
		c->trace_cb(c->trace_arg, NULL, rep->body.data, rep->body.len);
}

void
uplink_trace(struct uplink *u, const uint8_t id[CID_LEN], uplink_trace_cb *cb, void *arg)
{
	Cascade__Trace t = CASCADE__TRACE__INIT;
	struct ucall *c;

	if (u->state != UL_UP) {
		cb(arg, "the link to the parent is not up", NULL, 0);
		return;
	}
	t.id.data = (uint8_t *)id;
	t.id.len = CID_LEN;
	c = ucall_new(u);
	c->trace_cb = cb;
	c->trace_arg = arg;
	/*
	 * Not the dead-timeout: the control socket answers one request at a
	 * time and cascadectl waits 5 s; a parent slow to answer is a line of
	 * the trace, not a wedged cascadectl.
	 */
	call(u, c, CASCADE__MSG_TYPE__MSG_TRACE, &t.base,
	    u->pc->dead_timeout_ms < TRACE_WAIT_MS ? (int)u->pc->dead_timeout_ms : TRACE_WAIT_MS,
	    trace_reply);
}

/* ------------------------------------------------------------ carriers */

static void
connected(void *arg)
{
	struct uplink *u = arg;

	if (u->paused)                  /* posted before the carrier closed */
		return;
	u->connected = 1;
	u->unconnected_fires = 0;
	watchdog_arm(u);
	u->tp_said[0] = '\0';
	log_debug("link %s: connected to %s", u->pc->id, u->url->url);
	if (u->state == UL_DOWN)
		hello(u);
}

static void
disconnected(void *arg)
{
	struct uplink *u = arg;

	u->connected = 0;
	if (u->state != UL_DOWN)
		session_lost(u, 0, "connection to %s closed", u->url->url);
}

/*
 * Moves the link to the carrier of url. Sessions, custody and sequence
 * numbers live above the carrier: the next Hello resumes at the mark.
 */
static void
carrier_use(struct uplink *u, const struct conf_url *url, const char *why)
{
	struct cclient_events ev = { connected, disconnected, u };
	char err[256];

	if (u->cc != NULL) {
		u->ops->close(u->cc);
		u->cc = NULL;
	}
	u->gen++;
	u->state = UL_DOWN;
	u->connected = 0;
	u->inflight = 0;
	u->pulling = 0;
	u->routes_inflight = 0;
	u->ops = carrier_for_url(url)->dial;
	u->url = url;
	u->why = why;
	u->rebuilds_total++;
	if ((u->cc = u->ops->open(u->pc, url, &ev, err, sizeof(err))) == NULL) {
		if (!u->started)
			fatalx("%s:%d: parent %s: %s", url->where.file, url->where.line, u->pc->id,
			    err);
		/* at run time (a fallback, a rebuild, a resume): down, and timer_fire
		 * opens it again after a backoff */
		log_warnx("%s:%d: parent %s: %s: the link stays down; trying again in %lld ms",
		    url->where.file, url->where.line, u->pc->id, err, (long long)u->backoff_ms);
		snprintf(u->last_error, sizeof(u->last_error), "%s", err);
		u->last_error_ms = cnow_ms();
		timer_arm(u, u->backoff_ms);
		u->backoff_ms *= 2;
		if (u->backoff_ms > u->pc->reconnect_max_ms)
			u->backoff_ms = u->pc->reconnect_max_ms;
		return;
	}
	if (u->rebuilding && u->rebuilds > 1)   /* the watchdog again in one outage: said once */
		log_debug("link %s: carrier %s, %s (%s)", u->pc->id, u->ops->name, url->url, why);
	else {
		if (!url->tls)
			log_warnx("link %s: plain %s (allow-plain yes): authenticated, not encrypted",
			    u->pc->id, url->url);
		log_info("link %s: carrier %s, %s (%s)", u->pc->id, u->ops->name, url->url, why);
	}
	u->unconnected_fires = 1;
	timer_arm(u, u->pc->dead_timeout_ms);
	watchdog_arm(u);
}

/*
 * The carrier has been silent for reconnect max + dead timeout while the
 * link is down: no connection, no reply, no timeout. (nng 1.5.2 as Debian
 * ships it was seen to stop redialing after a pipe close, for good.) A new
 * socket and dialer; the old one is closed off the loop. Said once per
 * outage; the line that says the link is up again counts them.
 */
static void
watchdog_fire(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;

	if (u->state == UL_UP || u->paused)
		return;
	if (u->rebuilds++ == 0)
		log_warnx("link %s: no connection and no word from the %s carrier for %lld ms "
		    "(reconnect max + dead timeout; the parent unreachable, or the carrier "
		    "wedged) while the link is down: rebuilding it with a new connection",
		    u->pc->id, u->ops->name,
		    (long long)(u->pc->reconnect_max_ms + u->pc->dead_timeout_ms));
	else
		log_debug("link %s: rebuilding the %s carrier again (%d in this outage)",
		    u->pc->id, u->ops->name, u->rebuilds);
	u->rebuilding = 1;
	carrier_use(u, u->url, "rebuilt: no connection came");
	u->rebuilding = 0;
}

static void
probe_stop(struct uplink *u)
{
	if (u->probe != NULL) {
		carrier_for_url(u->tcp_url)->dial->close(u->probe);
		u->probe = NULL;
	}
	evtimer_del(u->probe_timer);
}

/* The tcp probe connected while we were on http: tcp works again. */
static void
probe_connected(void *arg)
{
	struct uplink *u = arg;

	if (!u->fallen_back || u->paused)
		return;
	probe_stop(u);
	u->fallen_back = 0;
	u->tcp_failures = 0;
	carrier_use(u, u->tcp_url, "tcp works again");
}

static void
probe_disconnected(void *arg)
{
}

static void
probe_fire(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	struct cclient_events ev = { probe_connected, probe_disconnected, u };
	struct timeval tv;
	int64_t every = u->pc->reconnect_max_ms > PROBE_MIN_MS ? u->pc->reconnect_max_ms :
	    PROBE_MIN_MS;
	char err[256];

	if (!u->fallen_back || u->paused)
		return;
	if (u->probe != NULL)
		carrier_for_url(u->tcp_url)->dial->close(u->probe);
	u->probe = carrier_for_url(u->tcp_url)->dial->open(u->pc, u->tcp_url, &ev, err, sizeof(err));
	tv.tv_sec = every / 1000;
	tv.tv_usec = (every % 1000) * 1000;
	evtimer_add(u->probe_timer, &tv);
}

/* transport auto: after FALLBACK_AFTER tcp failures in a row, use http. */
static void
carrier_failed(struct uplink *u)
{
	if (u->pc->transport != CONF_TRANSPORT_AUTO || u->ops->carrier !=
	    CASCADE__CARRIER__CARRIER_TCP || u->http_url == NULL)
		return;
	if (++u->tcp_failures < FALLBACK_AFTER)
		return;
	u->fallen_back = 1;
	carrier_use(u, u->http_url, "tcp failed " "3 times in a row; trying tcp again now and then");
	probe_fire(-1, 0, u);
}

/* ---------------------------------------------------------------- set-up */

struct uplink *
uplink_new(const struct conf_parent *pc)
{
	struct uplink *u = xcalloc(1, sizeof(*u));

	uplink_set_conf(u, pc);
	u->rebuilds_total = (uint64_t)-1;       /* the first carrier_use is no rebuild */
	snprintf(u->peername, sizeof(u->peername), "parent:%s", pc->id);
	u->max_batch = node->conf->max_batch;
	u->timer = evtimer_new(node->base, timer_fire, u);
	u->watchdog = evtimer_new(node->base, watchdog_fire, u);
	u->probe_timer = evtimer_new(node->base, probe_fire, u);
	u->tp_done = event_new(node->base, -1, 0, tls_probe_done, u);
	return u;
}

/* The url the transport setting starts on. */
static const struct conf_url *
first_url(const struct uplink *u)
{
	switch (u->pc->transport) {
	case CONF_TRANSPORT_TCP:
		return u->tcp_url;
	case CONF_TRANSPORT_HTTP:
		return u->http_url;
	default:
		return u->tcp_url != NULL ? u->tcp_url : u->http_url;
	}
}

/* What uplink_new and uplink_reconfigure take from the parent block. */
static void
uplink_set_conf(struct uplink *u, const struct conf_parent *pc)
{
	size_t i;

	u->pc = pc;
	u->tcp_url = u->http_url = NULL;
	for (i = 0; i < pc->nurls; i++) {
		if (pc->urls[i].carrier == CONF_CARRIER_TCP && u->tcp_url == NULL)
			u->tcp_url = &pc->urls[i];
		if (pc->urls[i].carrier == CONF_CARRIER_HTTP && u->http_url == NULL)
			u->http_url = &pc->urls[i];
	}
	u->window = pc->push_window ? pc->push_window : 1;
	u->backoff_ms = pc->reconnect_min_ms;
}

/*
 * A reload changed the parent block (same parent id): the carrier is
 * closed and opened again under pc, as a carrier switch does. Custody lives
 * above the carrier: the up queue stays, the new session resumes at the
 * parent's mark + 1, so pushes in flight are sent again and the parent's
 * mark keeps them once; the down stream resumes at our mark. A paused link
 * takes the new block and stays paused. pc must outlive the link (reload.c
 * never frees a replaced config).
 */
void
uplink_reconfigure(struct uplink *u, const struct conf_parent *pc)
{
	const struct conf_url *url;

	probe_stop(u);
	u->fallen_back = 0;
	u->tcp_failures = 0;
	u->rebuilds = 0;
	u->hold_until = 0;
	uplink_set_conf(u, pc);
	if ((url = first_url(u)) == NULL) {     /* conf.c refuses such a config */
		log_warnx("%s:%d: parent %s: no url for its transport; the link stays as it was",
		    pc->where.file, pc->where.line, pc->id);
		return;
	}
	if (u->paused) {
		u->url = url;
		u->ops = carrier_for_url(url)->dial;
		log_info("link %s: reconfigured by a reload; still paused", pc->id);
		return;
	}
	u->rebuilds_total--;            /* a reload is no rebuild */
	if (u->state == UL_UP)
		log_info("link %s: reconfigured by a reload: closing the session; the new one "
		    "resumes at the parent's mark", pc->id);
	carrier_use(u, url, "reconfigured by a reload");
}

void
uplink_start(struct uplink *u)
{
	const struct conf_url *url;
	struct jqueue_info qi;
	void *val;
	size_t len;

	if (journal_queue_info(node->j, node->q_up, &qi) != 0)
		fatalx("link %s: journal: %s", u->pc->id, journal_errmsg(node->j));
	u->acked = qi.acked_seq;
	u->next_send = qi.acked_seq + 1;
	/* where the down stream stood when we stopped */
	if (journal_meta_get(node->j, "uplink:down-epoch", &val, &len) == 0) {
		if (len == sizeof(u->down_epoch)) {
			memcpy(&u->down_epoch, val, len);
			if (journal_mark_get(node->j, u->peername, u->down_epoch, &u->down_mark) != 0)
				u->down_epoch = 0;
		}
		free(val);
	}
	if ((url = first_url(u)) == NULL)        /* conf.c refuses such a config; be safe */
		fatalx("%s:%d: parent %s: no url for its transport", u->pc->where.file,
		    u->pc->where.line, u->pc->id);
	routes_on_change(routes_changed, u);
	u->wait.qid = node->q_up;
	u->wait.fn = up_woken;
	u->wait.arg = u;
	u->wait.persistent = 1;
	queue_wait(&u->wait);
	carrier_use(u, url, u->pc->transport == CONF_TRANSPORT_AUTO ? "transport auto" :
	    "transport set in the config");
	u->started = 1;
}

void
uplink_stop(struct uplink *u)
{
	if (u == NULL)
		return;
	routes_on_change(NULL, NULL);
	queue_unwait(&u->wait);
	u->gen++;
	u->state = UL_DOWN;
	evtimer_del(u->watchdog);
	probe_stop(u);
	if (u->cc != NULL)
		u->ops->close(u->cc);
	u->cc = NULL;
}

/* ------------------------------------------------------------ operator */

/*
 * Pause drops the connection and stops every timer: nothing is sent or
 * pulled. Custody does not move: unacked pushes are sent again and the
 * parent keeps what it has not seen us ack, so resume (a fresh carrier and
 * Hello, resuming at the marks) loses and repeats nothing.
 */
int
uplink_pause(struct uplink *u)
{
	if (u->paused)
		return -1;
	u->paused = 1;
	u->gen++;
	u->state = UL_DOWN;
	u->connected = 0;
	u->inflight = 0;
	u->pulling = 0;
	u->routes_inflight = 0;
	evtimer_del(u->timer);
	evtimer_del(u->watchdog);
	probe_stop(u);
	u->ops->close(u->cc);
	u->cc = NULL;
	log_info("link %s: paused by the operator: nothing is sent or pulled until "
	    "cascadectl resume %s", u->pc->id, u->pc->id);
	return 0;
}

int
uplink_resume(struct uplink *u)
{
	if (!u->paused)
		return -1;
	u->paused = 0;
	u->backoff_ms = u->pc->reconnect_min_ms;
	u->rebuilds_total--;            /* a resume is no rebuild either */
	log_info("link %s: resumed by the operator", u->pc->id);
	carrier_use(u, u->url, "resumed by the operator");
	return 0;
}

/* Redial now with a new carrier (the watchdog's rebuild), the backoff reset. */
int
uplink_retry(struct uplink *u)
{
	if (u->paused)
		return -1;
	u->backoff_ms = u->pc->reconnect_min_ms;
	u->rebuilds = 0;
	log_info("link %s: retry by the operator: redialing %s now", u->pc->id, u->url->url);
	carrier_use(u, u->url, "redialed by the operator");
	return 0;
}

void
uplink_info(const struct uplink *u, struct uplink_info *out)
{
	memset(out, 0, sizeof(*out));
	out->id = u->pc->id;
	if (u->paused)
		out->state = UPLINK_PAUSED;
	else if (u->state == UL_UP)
		out->state = UPLINK_UP;
	else if (u->last_error[0] != '\0')
		out->state = UPLINK_DOWN;       /* it failed since it was last up */
	else
		out->state = UPLINK_CONNECTING;
	out->carrier = u->ops != NULL ? u->ops->name : "";
	out->why = u->why != NULL ? u->why : "";
	out->url = u->url != NULL ? u->url->url : "";
	out->last_error = u->last_error;
	out->last_error_ms = u->last_error_ms;
	out->reconnects = u->ups > 0 ? u->ups - 1 : 0;
	out->rebuilds = u->rebuilds_total;
}
