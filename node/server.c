/*
 * server.c — the parent side of the link protocol, whatever the carrier:
 * Hello / Auth sessions, Push (custody upward), Pull (long-poll downward),
 * Routes. Carriers hand requests in as struct sreq and get the reply bytes
 * back through sreq->reply.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "custody.h"

#define STATUS(x) CASCADE__STATUS__STATUS_##x
#define MSG(x) CASCADE__MSG_TYPE__MSG_##x
#define NONCE_TTL_MS 30000
#define NONCES_MAX 4096
#define PUSH_HOLD_MS 50                 /* an early push waits this long for its predecessor */
#define PUSH_HOLD_MAX 16
#define SEQ_WINDOW 256                  /* request counters remembered per session */

struct session {
	uint64_t id;
	struct peer *peer;
	int carrier;
	uint64_t conn;
	int tls;
	uint8_t key[SESSION_KEY_LEN];
	struct sreq *held;              /* a held pull */
	uint64_t push_epoch, push_next; /* where the next push should start */
	TAILQ_HEAD(, held_push) held_pushes; /* pushes that arrived early, by first_seq */
	unsigned nheld_pushes;
	struct event *push_timer;
	int64_t last_ms;
	uint64_t seq_top;               /* the highest request counter seen */
	uint64_t seq_seen[SEQ_WINDOW / 64]; /* and which of the SEQ_WINDOW below it */
	uint64_t up_epoch;              /* its first upward stream: who it is */
	uint64_t handed_epoch, handed_before; /* what others were handed before it began */
	TAILQ_ENTRY(session) entry;
};

struct nonce {
	uint8_t n[CNONCE_LEN];
	struct peer *peer;
	char peeraddr[64];              /* counted against its address (limits.c) */
	int carrier;
	uint64_t conn;
	int64_t expires;
	TAILQ_ENTRY(nonce) entry;
};

static TAILQ_HEAD(, session) sessions = TAILQ_HEAD_INITIALIZER(sessions);
static TAILQ_HEAD(, nonce) nonces = TAILQ_HEAD_INITIALIZER(nonces);
static size_t nnonces;

static const char *
carrier_name(int c)
{
	return c == CASCADE__CARRIER__CARRIER_HTTP ? "http" : "tcp";
}

static int
carrier_bit(int c)
{
	return c == CASCADE__CARRIER__CARRIER_HTTP ? CONF_CARRIER_HTTP : CONF_CARRIER_TCP;
}

/* ------------------------------------------------------------- replies */

static void
sreq_free_state(struct sreq *r)
{
	/* every reply comes here: a held pull answered stops waiting before r is freed */
	queue_unwait(&r->wait);
	if (r->timer != NULL) {
		event_free(r->timer);
		r->timer = NULL;
	}
	if (r->req != NULL) {
		cascade__request__free_unpacked(r->req, NULL);
		r->req = NULL;
	}
	free(r->buf);
	r->buf = NULL;
}

/* Answers r (body may be NULL) and hands it back to its carrier. */
static void
sreply(struct sreq *r, uint32_t status, const char *error, const uint8_t *body, size_t bodylen)
{
	uint32_t type = r->req != NULL ? r->req->type : 0;
	uint64_t session = r->req != NULL ? r->req->session : 0, seq = r->req != NULL ? r->req->seq : 0;
	uint8_t *buf;
	size_t len;

	buf = cenv_reply_pack(type, status, error, session, seq, body, bodylen,
	    r->keyed ? r->key : NULL, &len);
	explicit_bzero(r->key, sizeof(r->key));
	if (buf == NULL)
		fatalx("server: out of memory packing a reply");
	node->stat_bytes_out += len;
	if (r->peer != NULL)
		r->peer->bytes_out += len;
	sreq_free_state(r);
	if (r->reply == NULL) {
		/* its carrier stopped (tcps_stop): nobody to answer */
		free(buf);
		free(r);
		return;
	}
	r->reply(r, buf, len);
}

static void
sreply_msg(struct sreq *r, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *body = xmalloc(len ? len : 1);

	protobuf_c_message_pack(m, body);
	sreply(r, STATUS(OK), NULL, body, len);
	free(body);
}

static void
sfail(struct sreq *r, uint32_t status, const char *fmt, ...) PRINTF(3, 4);

static void
sfail(struct sreq *r, uint32_t status, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->peer != NULL)
		log_warnx("server: %s (%s): %s", r->peer->name, r->peeraddr, msg);
	else
		log_warnx("server: %s: %s", r->peeraddr, msg);
	sreply(r, status, msg, NULL, 0);
}

/* ------------------------------------------------------------ sessions */

static void pull_reply_empty(struct sreq *r);
static void push_submit(struct session *, struct sreq *, Cascade__Push *);
static void push_hold(struct session *, struct sreq *, Cascade__Push *);
static void push_release(struct session *, int);

static void
session_end(struct session *s, const char *why)
{
	char sid[CSESSION_SHORT_LEN];

	log_info("server: %s: session %s ended: %s", s->peer->name, csession_short(s->id, sid),
	    why);
	if (s->held != NULL) {
		struct sreq *r = s->held;

		s->held = NULL;
		pull_reply_empty(r);
	}
	push_release(s, 1);     /* the journal answers them (the replies go nowhere) */
	if (s->push_timer != NULL)
		event_free(s->push_timer);
	if (s->peer->sess == s)
		s->peer->sess = NULL;
	TAILQ_REMOVE(&sessions, s, entry);
	explicit_bzero(s->key, sizeof(s->key));
	free(s);
}

static struct session *
session_find(uint64_t id)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->id == id)
			return s;
	return NULL;
}

void
server_conn_gone(int carrier, uint64_t conn)
{
	struct session *s, *t;

	TAILQ_FOREACH_SAFE(s, &sessions, entry, t)
		if (s->carrier == carrier && s->conn == conn)
			session_end(s, "connection closed");
}

/*
 * Ends the sessions of carrier that saw no request for idle_ms (http: no
 * connection tells when a child is gone). A held pull is activity.
 */
void
server_expire_idle(int carrier, int64_t idle_ms)
{
	struct session *s, *t;
	int64_t now = cmono_ms();

	TAILQ_FOREACH_SAFE(s, &sessions, entry, t) {
		if (s->carrier != carrier)
			continue;
		if (s->held != NULL)
			s->last_ms = now;
		else if (now - s->last_ms > idle_ms) {
			char why[64];

			snprintf(why, sizeof(why), "no request for %lld ms (session-idle)",
			    (long long)(now - s->last_ms));
			session_end(s, why);
		}
	}
}

static struct peer *
peer_find(const char *name, uint32_t kind)
{
	size_t i;

	for (i = 0; i < node->npeers; i++)
		if (node->peers[i].kind == (int)kind && !node->peers[i].removed &&
		    strcmp(node->peers[i].name, name) == 0)
			return &node->peers[i];
	return NULL;
}

void
server_peer_end(struct peer *p, const char *why)
{
	if (p->sess != NULL)
		session_end(p->sess, why);
}

/* --------------------------------------------------------------- hello */

static void
nonce_free(struct nonce *n)
{
	TAILQ_REMOVE(&nonces, n, entry);
	nnonces--;
	n->peer->challenges--;
	lim_challenge_drop(n->peeraddr);
	free(n);
}

static void
nonces_expire(int64_t now)
{
	struct nonce *n, *t;

	TAILQ_FOREACH_SAFE(n, &nonces, entry, t)
		if (n->expires <= now)
			nonce_free(n);
}

/*
 * A new challenge for p, within the bounds: a peer has a few pending (a new
 * Hello drops its oldest), an address a few hundred, the node NONCES_MAX; a
 * flood from one place never evicts anyone else's. NULL with r answered
 * when refused.
 */
static struct nonce *
nonce_new(struct sreq *r, struct peer *p)
{
	struct nonce *n;

	nonces_expire(cmono_ms());
	if (p->challenges >= LIM_CHALLENGES_PER_PEER)
		TAILQ_FOREACH(n, &nonces, entry)
			if (n->peer == p) {
				nonce_free(n);
				break;
			}
	if (nnonces >= NONCES_MAX) {
		sfail(r, STATUS(BUSY), "%zu Hello challenges pending: try again later", nnonces);
		return NULL;
	}
	if (lim_challenge_take(r->peeraddr) != 0) {
		sfail(r, STATUS(BUSY), "too many Hello challenges pending for this address "
		    "(at most %d): try again later", LIM_CHALLENGES_PER_ADDR);
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	if (crandom(n->n, CNONCE_LEN) != 0) {
		/* ours, not the peer's: it may try again, the node keeps serving */
		lim_challenge_drop(r->peeraddr);
		free(n);
		sfail(r, STATUS(BUSY), "no randomness for a challenge: try again later");
		return NULL;
	}
	n->peer = p;
	snprintf(n->peeraddr, sizeof(n->peeraddr), "%s", r->peeraddr);
	n->carrier = r->carrier;
	n->conn = r->conn;
	n->expires = cmono_ms() + NONCE_TTL_MS;
	TAILQ_INSERT_TAIL(&nonces, n, entry);
	nnonces++;
	p->challenges++;
	return n;
}

/*
 * A Hello from a name this node does not know gets a challenge like any
 * other (a random one, kept nowhere), so nobody can probe for peer names:
 * its Auth fails as a wrong secret would. Logged, a few a minute.
 */
static void
hello_unknown(struct sreq *r, const Cascade__Hello *h)
{
	static int64_t window_ms;
	static unsigned nlogged, suppressed;
	Cascade__HelloReply hr = CASCADE__HELLO_REPLY__INIT;
	uint8_t fake[CNONCE_LEN];
	int64_t now = cmono_ms();

	if (now - window_ms >= 60000) {
		if (suppressed > 0)
			log_warnx("server: %u more Hellos from unknown peers in the last minute",
			    suppressed);
		window_ms = now;
		nlogged = suppressed = 0;
	}
	if (nlogged++ < 10)
		log_warnx("server: %s: Hello from unknown %s \"%.80s\" (answered like a known "
		    "one)", r->peeraddr, h->kind == CASCADE__PEER_KIND__PEER_CLIENT ? "client" :
		    "child node", h->peer);
	else
		suppressed++;
	if (crandom(fake, sizeof(fake)) != 0) {
		/* answered like a known peer's Hello would be (nonce_new) */
		sfail(r, STATUS(BUSY), "no randomness for a challenge: try again later");
		return;
	}
	hr.nonce.data = fake;
	hr.nonce.len = CNONCE_LEN;
	hr.node = (char *)node->id;
	sreply_msg(r, &hr.base);
}

static void
do_hello(struct sreq *r)
{
	Cascade__Hello *h;
	Cascade__HelloReply hr = CASCADE__HELLO_REPLY__INIT;
	struct peer *p;
	struct nonce *n;
	int exceeded;

	if (r->req->body.len > LIM_HELLO_MAX) {
		sfail(r, STATUS(TOO_LARGE), "Hello of %zu bytes (at most %d)", r->req->body.len,
		    LIM_HELLO_MAX);
		return;
	}
	h = lim_unpack(&cascade__hello__descriptor, r->req->body.data, r->req->body.len,
	    &exceeded);
	if (h == NULL) {
		sfail(r, STATUS(BAD_REQUEST), "undecodable Hello");
		return;
	}
	if (h->version != CASCADE_PROTOCOL_VERSION) {
		sfail(r, STATUS(VERSION), "protocol version %u not spoken (this node speaks %d)",
		    h->version, CASCADE_PROTOCOL_VERSION);
		goto done;
	}
	if ((p = peer_find(h->peer, h->kind)) == NULL) {
		hello_unknown(r, h);
		goto done;
	}
	r->peer = p;
	if (!(p->carriers & carrier_bit(r->carrier))) {
		sfail(r, STATUS(CARRIER_REFUSED), "carrier %s refused: this node allows %s for %s",
		    carrier_name(r->carrier), conf_carriers_str(p->carriers), p->name);
		goto done;
	}
	if ((n = nonce_new(r, p)) == NULL)
		goto done;
	hr.nonce.data = n->n;
	hr.nonce.len = CNONCE_LEN;
	hr.node = (char *)node->id;
	sreply_msg(r, &hr.base);
done:
	cascade__hello__free_unpacked(h, NULL);
}

/* ---------------------------------------------------------------- auth */

struct auth_job {
	struct jjob job;
	struct sreq *r;
	struct session *s;              /* not yet visible to other requests */
	Cascade__Auth *a;
	uint64_t *marks;
	char *routes;                   /* to save, or NULL */
	char routes_key[160];
	char **refused;
	size_t nrefused;
};

static int
auth_run(struct journal *j, struct jjob *job)
{
	struct auth_job *aj = (struct auth_job *)job;
	size_t i;
	int rc;

	for (i = 0; i < aj->a->n_streams; i++) {
		Cascade__StreamPos *sp = aj->a->streams[i];
		uint64_t low = sp->seq ? sp->seq : 1;

		rc = journal_mark_resolve(j, aj->s->peer->name, sp->epoch, low, &aj->marks[i]);
		if (rc != 0)
			return rc;
	}
	if (aj->routes != NULL)
		return journal_meta_put(j, aj->routes_key, aj->routes, strlen(aj->routes));
	return 0;
}

static void
auth_done(struct jjob *job)
{
	struct auth_job *aj = (struct auth_job *)job;
	struct sreq *r = aj->r;
	struct session *s = aj->s;
	struct peer *p = s->peer;
	Cascade__AuthReply ar = CASCADE__AUTH_REPLY__INIT;
	Cascade__Limits lim = CASCADE__LIMITS__INIT;
	Cascade__StreamPos *sp, **spp;
	char **urls = NULL;
	char sid[CSESSION_SHORT_LEN];
	size_t i, nurls = 0;

	/* every reply to Auth, this one too, travels under the new session key:
	 * it is the parent's proof and covers the whole reply (marks, carrier, ...) */
	memcpy(r->key, s->key, sizeof(r->key));
	r->keyed = 1;
	if (job->rc != 0) {
		sfail(r, STATUS(BUSY), "journal: %s", journal_strerror(job->rc));
		explicit_bzero(s->key, sizeof(s->key));
		free(s);
		goto done;
	}
	/* a new Auth from the same peer takes over its session */
	if (p->sess != NULL) {
		p->old_sess = p->sess->id;
		memcpy(p->old_key, p->sess->key, sizeof(p->old_key));
		session_end(p->sess, "taken over by a new session");
	}
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	p->sess = s;
	/*
	 * Packets handed to a session from other state (another program, or one
	 * without its state directory) may have reached that application; a
	 * session from the same state knows itself what it delivered.
	 */
	s->up_epoch = aj->a->n_streams > 0 ? aj->a->streams[0]->epoch : 0;
	s->handed_epoch = p->handed_epoch;
	s->handed_before = p->handed_owner != s->up_epoch ? p->handed_seq : 0;

	ar.session = s->id;
	ar.carrier = r->carrier;
	if (aj->a->carrier != 0 && (p->carriers & carrier_bit(aj->a->carrier)))
		ar.carrier = aj->a->carrier;
	else if (aj->a->carrier == 0 && p->prefer)
		ar.carrier = p->prefer == CONF_CARRIER_HTTP ? CASCADE__CARRIER__CARRIER_HTTP :
		    CASCADE__CARRIER__CARRIER_TCP;
	if (p->child != NULL) {
		urls = xcalloc(p->child->nadvertise + 1, sizeof(char *));
		for (i = 0; i < p->child->nadvertise; i++)
			urls[nurls++] = p->child->advertise[i].url;
	}
	ar.urls = urls;
	ar.n_urls = nurls;
	lim.max_batch = node->conf->max_batch;
	lim.max_batch_bytes = 4u << 20;
	lim.max_packet_bytes = (uint32_t)node->conf->max_packet;
	lim.pull_wait_ms = (uint32_t)node->conf->pull_wait_ms;
	lim.idle_timeout_ms = (uint32_t)node->conf->session_idle_ms;
	lim.window = 4;
	ar.limits = &lim;
	spp = xcalloc(aj->a->n_streams + 1, sizeof(*spp));
	sp = xcalloc(aj->a->n_streams + 1, sizeof(*sp));
	for (i = 0; i < aj->a->n_streams; i++) {
		cascade__stream_pos__init(&sp[i]);
		sp[i].epoch = aj->a->streams[i]->epoch;
		sp[i].seq = aj->marks[i];
		spp[i] = &sp[i];
	}
	ar.marks = spp;
	ar.n_marks = aj->a->n_streams;
	ar.refused_subtree = aj->refused;
	ar.n_refused_subtree = aj->nrefused;
	log_info("server: %s: session %s up over %s from %s%s", p->name,
	    csession_short(s->id, sid), carrier_name(r->carrier), r->peeraddr,
	    r->tls ? " (tls)" : "");
	p->logins++;
	for (i = 0; i < aj->nrefused; i++)
		log_warnx("server: %s: claims node id %s, which its child block does not allow",
		    p->name, aj->refused[i]);
	sreply_msg(r, &ar.base);
	free(spp);
	free(sp);
	free(urls);
	if (s->peer->qid != 0)
		queue_wake(s->peer->qid);
done:
	cascade__auth__free_unpacked(aj->a, NULL);
	free(aj->marks);
	free(aj->routes);
	free(aj->refused);
	free(aj);
}

/*
 * A failed login: counted against its address (limits.c), logged with the
 * address and the detail here (the first few of a minute one by one), and
 * answered with no detail, the same for every cause.
 */
static void
auth_refuse(struct sreq *r, const char *name, const char *fmt, ...) PRINTF(3, 4);

static void
auth_refuse(struct sreq *r, const char *name, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	node->stat_auth_failed++;
	if (lim_auth_failed(r->peeraddr))
		log_warnx("server: %.80s (%s): login refused: %s", name, r->peeraddr, msg);
	else
		log_debug("server: %.80s (%s): login refused: %s", name, r->peeraddr, msg);
	sreply(r, STATUS(AUTH_FAILED), "authentication failed", NULL, 0);
}

/* What an Auth may cost before it is unpacked: its address not locked out, its counts. */
static int
auth_precheck(struct sreq *r)
{
	char why[160];
	int64_t locked;
	int st;

	if ((locked = lim_auth_locked(r->peeraddr)) > 0) {
		log_debug("server: %s: Auth refused: too many failed logins", r->peeraddr);
		sreply(r, STATUS(BUSY), "too many failed logins from this address: try again "
		    "later", NULL, 0);
		return -1;
	}
	if ((st = lim_auth_check(r->req->body.data, r->req->body.len, why, sizeof(why))) != 0) {
		sfail(r, (uint32_t)st, "%s", why);
		return -1;
	}
	return 0;
}

static void
do_auth(struct sreq *r)
{
	Cascade__Auth *a;
	struct nonce *n;
	struct peer *p = NULL;
	struct session *s;
	struct auth_job *aj;
	uint8_t mac[CSHA256_LEN];
	int exceeded;

	if (auth_precheck(r) != 0)
		return;
	a = lim_unpack(&cascade__auth__descriptor, r->req->body.data, r->req->body.len,
	    &exceeded);
	if (a == NULL) {
		sfail(r, exceeded ? STATUS(TOO_LARGE) : STATUS(BAD_REQUEST), "%s",
		    exceeded ? "Auth decodes to more than its budget" : "undecodable Auth");
		return;
	}
	if (a->nonce.len != CNONCE_LEN || a->server_nonce.len != CNONCE_LEN ||
	    a->mac.len != CSHA256_LEN) {
		sfail(r, STATUS(BAD_REQUEST), "Auth with malformed nonces or proof");
		goto fail;
	}
	nonces_expire(cmono_ms());
	TAILQ_FOREACH(n, &nonces, entry)
		if (cequal(n->n, a->server_nonce.data, CNONCE_LEN) == 0)
			break;
	/* single use, bound to the peer and the connection of its Hello: a replayed Auth fails */
	if (n == NULL || strcmp(n->peer->name, a->peer) != 0 || n->carrier != r->carrier ||
	    (r->carrier == CASCADE__CARRIER__CARRIER_TCP && n->conn != r->conn)) {
		auth_refuse(r, a->peer, "Auth without a matching Hello (replayed, expired, "
		    "from another connection, or an unknown peer)");
		goto fail;
	}
	p = n->peer;
	r->peer = p;
	nonce_free(n);
	/*
	 * A reload removed the peer after its Hello: its secret is gone
	 * (secretlen 0), and a proof under an empty key is anyone's to make.
	 */
	if (p->removed || p->secretlen == 0) {
		auth_refuse(r, p->name, "removed from the configuration by a reload since its Hello");
		goto fail;
	}
	cauth_mac(p->secret, p->secretlen, p->name, a->server_nonce.data, a->nonce.data, mac);
	if (cequal(mac, a->mac.data, CSHA256_LEN) != 0) {
		/*
		 * Not signed (sreply without a session key): the proof may have
		 * been altered on the way, and a signed refusal would look final
		 * to the peer. The path is for our log only.
		 */
		auth_refuse(r, p->name, "wrong secret (proof does not match %s)",
		    p->kind == CASCADE__PEER_KIND__PEER_NODE ? p->child->secret.path :
		    p->client->secret.path);
		goto fail;
	}
	s = xcalloc(1, sizeof(*s));
	TAILQ_INIT(&s->held_pushes);
	s->id = crandom64();
	s->peer = p;
	s->carrier = r->carrier;
	s->conn = r->conn;
	s->tls = r->tls;
	s->last_ms = cmono_ms();
	s->peer->seen_ms = cnow_ms();
	csession_key(p->secret, p->secretlen, p->name, a->server_nonce.data, a->nonce.data, s->key);

	aj = xcalloc(1, sizeof(*aj));
	aj->r = r;
	aj->s = s;
	aj->a = a;
	aj->marks = xcalloc(a->n_streams + 1, sizeof(uint64_t));
	if (p->kind == CASCADE__PEER_KIND__PEER_NODE) {
		aj->routes = routes_set_subtree(p, a->subtree, a->n_subtree, &aj->refused,
		    &aj->nrefused);
		routes_key(p, aj->routes_key, sizeof(aj->routes_key));
	}
	aj->job.run = auth_run;
	aj->job.done = auth_done;
	jthread_submit(&aj->job);
	return;
fail:
	cascade__auth__free_unpacked(a, NULL);
}

/* ---------------------------------------------------------------- push */

/* A push on its way into custody (custody.c), and the request it answers. */
struct push_job {
	struct custody_batch cb;        /* first: custody.c hands it back */
	struct sreq *r;
	Cascade__Push *push;
};

/* The push is in (or not): counts, the reply with what was refused here. */
static void
push_done(struct custody_batch *cb, void *arg)
{
	struct push_job *pj = arg;
	struct peer *peer = cb->peer;
	int rc = cb->job.rc;
	Cascade__PushReply pr = CASCADE__PUSH_REPLY__INIT;
	Cascade__Reject *rej = NULL, **rejp = NULL;
	unsigned i, nrej = 0;
	char idt[CID_TEXT_LEN];

	if (rc != 0 && rc != JOURNAL_OUT_OF_ORDER && rc != JOURNAL_FULL) {
		sfail(pj->r, STATUS(BUSY), "journal: %s", journal_strerror(rc));
		goto done;
	}
	rej = xcalloc(cb->b.n + 1, sizeof(*rej));
	rejp = xcalloc(cb->b.n + 1, sizeof(*rejp));
	for (i = 0; rc != JOURNAL_OUT_OF_ORDER && i < cb->b.n; i++) {
		struct jitem *it = &cb->items[i];
		Cascade__Packet *p = pj->push->packets[i];

		switch (it->result) {
		case JR_ACCEPTED:
			node->stat_accepted++;
			break;
		case JR_DUPLICATE:
			node->stat_duplicates++;
			break;
		case JR_REJECTED:
			node->stat_rejected++;
			cascade__reject__init(&rej[nrej]);
			rej[nrej].seq = it->seq;
			rej[nrej].id = p->id;
			rej[nrej].reason = it->reject;
			rej[nrej].text = (char *)(it->reject_text ? it->reject_text : "");
			rejp[nrej] = &rej[nrej];
			nrej++;
			log_warnx("server: %s: packet %s rejected: %s: %s", peer->name,
			    p->id.len == CID_LEN ? cid_format(p->id.data, idt) : "(no id)",
			    creason_str(it->reject), it->reject_text ? it->reject_text : "");
			break;
		}
	}
	pr.acked_seq = cb->b.mark;
	pr.rejects = rejp;
	pr.n_rejects = nrej;
	if (rc == JOURNAL_FULL) {
		pr.refused = CASCADE__REASON__REASON_JOURNAL_FULL;
		pr.text = "journal full";
		log_warnx("server: %s: push refused: journal full", peer->name);
	}
	sreply_msg(pj->r, &pr.base);
done:
	free(rej);
	free(rejp);
	cascade__push__free_unpacked(pj->push, NULL);
	custody_batch_free(cb);
	free(pj);
}

/*
 * A push over the peer's push-rate or quota is refused for now, before
 * anything is unpacked: the reply acks nothing new (the mark as it is) and
 * says why (reason), so the sender keeps its packets and sends them again
 * later. Logged once a second per peer and reason.
 */
static void
push_refuse(struct sreq *r, struct session *s, uint32_t reason, const char *why)
{
	Cascade__PushReply pr = CASCADE__PUSH_REPLY__INIT;
	uint64_t epoch = 0, first = 0, mark = 0;
	int64_t now = cmono_ms(), *logged;
	const uint8_t *body = r->req->body.data;
	size_t blen = r->req->body.len;

	pbw_field(body, blen, CPBF_PUSH_EPOCH, &epoch, NULL, NULL);
	pbw_field(body, blen, CPBF_PUSH_FIRST_SEQ, &first, NULL, NULL);
	if (journal_mark_get(node->j, s->peer->name, epoch, &mark) != 0)
		mark = first > 0 ? first - 1 : 0;
	if (reason == CASCADE__REASON__REASON_RATE_LIMIT) {
		node->stat_refused_rate++;
		logged = &s->peer->rate_logged_ms;
	} else {
		node->stat_refused_quota++;
		logged = &s->peer->quota_logged_ms;
	}
	if (now - *logged >= 1000) {
		log_warnx("server: %s (%s): push refused: %s", s->peer->name, r->peeraddr, why);
		*logged = now;
	}
	pr.acked_seq = mark;
	pr.refused = reason;
	pr.text = (char *)creason_str(reason);
	sreply_msg(r, &pr.base);
}

/* 0, or -1 when the push was refused for the peer's rate or quota. */
static int
push_admit(struct sreq *r, struct session *s)
{
	char why[160];
	long npk;

	if (lim_push_rate(s->peer) != 0) {
		snprintf(why, sizeof(why), "rate limit (push-rate %u a second)",
		    node->conf->push_rate);
		push_refuse(r, s, CASCADE__REASON__REASON_RATE_LIMIT, why);
		return -1;
	}
	if (lim_quota_on() &&
	    (npk = pbw_count(r->req->body.data, r->req->body.len, CPBF_PUSH_PACKETS)) > 0 &&
	    lim_quota_check(s->peer, npk, r->req->body.len, why, sizeof(why)) != 0) {
		push_refuse(r, s, CASCADE__REASON__REASON_QUOTA, why);
		return -1;
	}
	return 0;
}

/* Counts and sizes checked on the encoded Push, then unpacked within a budget. */
static Cascade__Push *
push_unpack(struct sreq *r)
{
	Cascade__Push *push;
	char why[192];
	int st, exceeded;

	if ((st = lim_push_check(r->req->body.data, r->req->body.len, why, sizeof(why))) != 0) {
		node->stat_refused_size++;
		sfail(r, (uint32_t)st, "%s", why);
		return NULL;
	}
	push = lim_unpack(&cascade__push__descriptor, r->req->body.data, r->req->body.len,
	    &exceeded);
	if (push == NULL) {
		node->stat_refused_size += exceeded;
		sfail(r, exceeded ? STATUS(TOO_LARGE) : STATUS(BAD_REQUEST), "%s",
		    exceeded ? "Push decodes to more than its budget" : "undecodable Push");
	}
	return push;
}

static void
do_push(struct sreq *r, struct session *s)
{
	Cascade__Push *push;
	char why[80];

	if (push_admit(r, s) != 0)
		return;
	if ((push = push_unpack(r)) == NULL)
		return;
	if (clink_push_check(push, why, sizeof(why)) != 0) {
		sfail(r, STATUS(BAD_REQUEST), "%s", why);
		goto fail;
	}
	/*
	 * Pushes of one session can reach us out of order (nng hands requests
	 * to the loop from several threads): one that starts above where the
	 * last one ended waits a moment for the push in between, instead of
	 * being refused and resent with everything after it.
	 */
	if (s->push_epoch == push->epoch && s->push_next != 0 &&
	    push->first_seq > s->push_next && s->nheld_pushes < PUSH_HOLD_MAX) {
		push_hold(s, r, push);
		return;
	}
	push_submit(s, r, push);
	push_release(s, 0);
	return;
fail:
	cascade__push__free_unpacked(push, NULL);
}

/* Hands a push's packets to custody (routed, then committed). */
static void
push_submit(struct session *s, struct sreq *r, Cascade__Push *push)
{
	struct push_job *pj = xcalloc(1, sizeof(*pj));

	pj->r = r;
	pj->push = push;
	pj->cb.b.peer = s->peer->name;
	pj->cb.b.epoch = push->epoch;
	pj->cb.b.first_seq = push->first_seq;
	pj->cb.b.last_seq = push->last_seq;
	custody_intake(&pj->cb, push->packets, push->seqs, push->n_packets,
	    s->peer->kind == CASCADE__PEER_KIND__PEER_NODE ? FROM_CHILD : FROM_CLIENT, s->peer,
	    push_done, pj);
	s->push_epoch = push->epoch;
	if (push->last_seq + 1 > s->push_next)
		s->push_next = push->last_seq + 1;
}

struct held_push {
	struct sreq *r;
	Cascade__Push *push;
	TAILQ_ENTRY(held_push) entry;
};

static void
push_hold_timeout(evutil_socket_t fd, short what, void *arg)
{
	push_release(arg, 1);
}

static void
push_hold(struct session *s, struct sreq *r, Cascade__Push *push)
{
	struct held_push *h = xcalloc(1, sizeof(*h)), *at;
	struct timeval tv = { 0, PUSH_HOLD_MS * 1000 };

	h->r = r;
	h->push = push;
	TAILQ_FOREACH(at, &s->held_pushes, entry)
		if (at->push->first_seq > push->first_seq)
			break;
	if (at != NULL)
		TAILQ_INSERT_BEFORE(at, h, entry);
	else
		TAILQ_INSERT_TAIL(&s->held_pushes, h, entry);
	s->nheld_pushes++;
	if (s->push_timer == NULL)
		s->push_timer = evtimer_new(node->base, push_hold_timeout, s);
	if (!evtimer_pending(s->push_timer, NULL))
		evtimer_add(s->push_timer, &tv);
}

/* Submits held pushes that now follow on (or all of them, when all is set). */
static void
push_release(struct session *s, int all)
{
	struct held_push *h;

	while ((h = TAILQ_FIRST(&s->held_pushes)) != NULL &&
	    (all || h->push->epoch != s->push_epoch || h->push->first_seq <= s->push_next)) {
		TAILQ_REMOVE(&s->held_pushes, h, entry);
		s->nheld_pushes--;
		push_submit(s, h->r, h->push);
		free(h);
	}
	if (TAILQ_EMPTY(&s->held_pushes) && s->push_timer != NULL)
		evtimer_del(s->push_timer);
}

/* ---------------------------------------------------------------- pull */

static void
pull_reply_empty(struct sreq *r)
{
	Cascade__PullReply pr = CASCADE__PULL_REPLY__INIT;

	pr.epoch = r->pull_epoch;
	pr.first_seq = r->pull_from;
	pr.last_seq = r->pull_from - 1;
	sreply_msg(r, &pr.base);
}

static void
pull_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sreq *r = arg;

	if (r->peer->sess != NULL && r->peer->sess->held == r)
		r->peer->sess->held = NULL;
	pull_reply_empty(r);
}

static void pull_woken(void *arg, uint32_t qid);

/* Answers r with what its peer's queue holds from r->pull_from, or holds it. */
static void
pull_continue(struct sreq *r)
{
	struct peer *p = r->peer;
	struct jqueue_info qi;
	struct custody_out out;
	Cascade__PullReply pr = CASCADE__PULL_REPLY__INIT;
	char who[CADDR_TEXT_MAX + 16];
	int rc;

	if (p->sess == NULL || p->sess->id != r->req->session) {
		/* its session was taken over (or ended) while its ack was being
		 * committed: the ack counts, but what is queued belongs to the newer
		 * session now */
		pull_reply_empty(r);
		return;
	}
	if ((rc = journal_queue_info(node->j, p->qid, &qi)) != 0) {
		sfail(r, STATUS(INTERNAL), "journal: %s", journal_strerror(rc));
		return;
	}
	if (r->pull_epoch != qi.epoch || r->pull_from <= qi.acked_seq)
		r->pull_from = qi.acked_seq + 1;
	r->pull_epoch = qi.epoch;
	snprintf(who, sizeof(who), "server: %s", p->name);
	rc = custody_take_out(p->qid, r->pull_from, r->pull_max, r->pull_max_bytes, who, &out);
	if (rc != 0) {
		sfail(r, STATUS(INTERNAL), "journal: %s", journal_strerror(rc));
		return;
	}
	if (out.entries == 0 && qi.next_seq <= r->pull_from) {
		custody_out_free(&out);
		if (p->sess != NULL && r->timer != NULL) {
			/* nothing yet: hold the pull until packets come or the wait ends */
			if (p->sess->held != NULL && p->sess->held != r) {
				struct sreq *old = p->sess->held;

				p->sess->held = NULL;
				pull_reply_empty(old);
			}
			p->sess->held = r;
			r->wait.qid = p->qid;
			r->wait.fn = pull_woken;
			r->wait.arg = r;
			queue_wait(&r->wait);
			return;
		}
		pull_reply_empty(r);
		return;
	}
	pr.epoch = qi.epoch;
	pr.first_seq = r->pull_from;
	/* the reply covers sequences the sweep removed, so the stream has no gaps */
	pr.last_seq = out.entries > 0 ? out.last_seq : qi.next_seq - 1;
	pr.packets = out.pkts;
	pr.n_packets = out.n;
	pr.seqs = out.seqs;
	pr.n_seqs = out.n;
	/*
	 * What an earlier session was handed may have reached its application
	 * before this one took over (its ack never came): say so, so the new
	 * session's SDK flags it as a possible redelivery, not as new.
	 */
	if (p->sess->handed_epoch == qi.epoch && p->sess->handed_before >= pr.first_seq)
		pr.handed_upto = p->sess->handed_before;
	if (out.entries > 0 && (p->handed_epoch != qi.epoch || p->handed_seq < out.last_seq)) {
		p->handed_epoch = qi.epoch;
		p->handed_seq = out.last_seq;
	}
	if (out.entries > 0)
		p->handed_owner = p->sess->up_epoch;
	if (p->sess->held == r)
		p->sess->held = NULL;
	sreply_msg(r, &pr.base);
	custody_out_free(&out);
}

/*
 * Held pull r's queue has new packets (queue_wake; r no longer waits). A
 * held pull is its session's, and one queue is one peer's, so this answers
 * at most one pull per wake.
 */
static void
pull_woken(void *arg, uint32_t qid)
{
	struct sreq *r = arg;

	(void)qid;
	if (r->peer->sess != NULL && r->peer->sess->held == r)
		r->peer->sess->held = NULL;
	if (r->timer != NULL)
		evtimer_del(r->timer);
	pull_continue(r);
}

/*
 * Acknowledging a peer's inbox. A client's ack produces the receipts
 * (DELIVERED notices) its packets asked for: they are built and routed here
 * on the main thread, and committed in the ack's own transaction
 * (journal_ack_with), so a crash cannot keep the ack and lose a receipt.
 */
struct ack_job {
	struct jjob job;
	struct sreq *r;
	uint32_t qid;
	uint64_t from, upto;
	struct jbatch b;                /* the receipts */
	struct jitem *items;
	char (*why)[256];
	size_t nreceipts;
	struct jkey *keys;              /* what the ack removes, for the quotas */
	unsigned nkeys, nacked;
	int together;                   /* receipts and ack went in one transaction */
	struct timeval wait;            /* the pull's wait starts once the ack is in */
};

/* The receipts due for what a client acks (from..upto of its inbox), routed. */
static void
ack_receipts(struct ack_job *aj, const char *client)
{
	struct jentry e[64];
	uint64_t at = aj->from;
	unsigned n, i;
	Cascade__Packet *p;

	while (at <= aj->upto) {
		if (journal_peek(node->j, aj->qid, at, 64, 1u << 30, e, &n) != 0) {
			log_warnx("server: %s: reading the inbox for receipts: %s", client,
			    journal_errmsg(node->j));
			return;
		}
		for (i = 0; i < n && e[i].seq <= aj->upto; i++) {
			p = cpkt_decode(e[i].bytes, e[i].len);
			if (p != NULL && (p->flags & CASCADE__PACKET_FLAG__FLAG_RECEIPT) &&
			    p->kind == CASCADE__PACKET_KIND__KIND_DATA) {
				aj->items = xrealloc(aj->items, (aj->nreceipts + 1) * sizeof(*aj->items));
				aj->why = xrealloc(aj->why, (aj->nreceipts + 1) * sizeof(*aj->why));
				/* the receipt is its item's pkt (custody_route keeps it there) */
				if (router_notice_routed(p, CASCADE__NOTICE_CODE__NOTICE_DELIVERED, 0,
				    client, &aj->items[aj->nreceipts], aj->why[aj->nreceipts],
				    sizeof(aj->why[0])) != NULL)
					aj->nreceipts++;
			}
			cpkt_free(p);
		}
		journal_entries_free(e, n);
		if (n < 64)
			break;
		at = e[n - 1].seq + 1;
	}
	aj->b.peer = "";
	aj->b.items = aj->items;
	aj->b.n = (unsigned)aj->nreceipts;
}

static int
ack_run(struct journal *j, struct jjob *job)
{
	struct ack_job *aj = (struct ack_job *)job;
	int rc;

	if ((rc = lim_quota_keys(j, aj->qid, aj->upto, &aj->keys, &aj->nkeys)) != 0)
		return rc;
	return journal_ack_with(j, aj->qid, aj->upto, cnow_ms(), &aj->b, &aj->nacked,
	    &aj->together);
}

static void
ack_done(struct jjob *job)
{
	struct ack_job *aj = (struct ack_job *)job;
	size_t i;

	if (job->rc != 0) {
		log_warnx("server: %s: ack up to %llu: %s", aj->r->peer->name,
		    (unsigned long long)aj->upto, journal_strerror(job->rc));
		/* not acked: the next ack builds these receipts again */
		if (aj->r->peer->receipts_upto == aj->upto)
			aj->r->peer->receipts_upto = aj->from - 1;
	}
	/*
	 * A failed ack may still have committed its first chunks (journal_ack
	 * commits JACK_CHUNK entries a transaction, and counts them in nacked):
	 * those packets left the inbox, in seq order, so the first nacked keys
	 * are released too, or they would be held against the quota for good.
	 */
	lim_quota_release(aj->keys, job->rc == 0 || aj->nacked > aj->nkeys ? aj->nkeys :
	    aj->nacked);
	node->stat_sent += aj->nacked;
	if (aj->nreceipts > 0 && !aj->together)
		log_warnx("server: %s: journal full: %zu receipt%s committed after the ack, "
		    "not with it", aj->r->peer->name, aj->nreceipts, aj->nreceipts == 1 ? "" : "s");
	free(aj->keys);
	for (i = 0; i < aj->nreceipts; i++) {
		router_local_committed(&aj->items[i]);
		cpkt_free((Cascade__Packet *)aj->items[i].pkt);	/* ours: router_notice_routed made it */
	}
	free(aj->items);
	free(aj->why);
	if (aj->r->timer != NULL)
		evtimer_add(aj->r->timer, &aj->wait);
	pull_continue(aj->r);
	free(aj);
}

static void
do_pull(struct sreq *r, struct session *s)
{
	Cascade__Pull *pl;
	struct jqueue_info qi;
	struct timeval tv = { 0, 0 };
	int64_t wait;
	int rc, exceeded, acks;

	pl = lim_unpack(&cascade__pull__descriptor, r->req->body.data, r->req->body.len,
	    &exceeded);
	if (pl == NULL) {
		sfail(r, STATUS(BAD_REQUEST), "undecodable Pull");
		return;
	}
	/* a new Pull replaces a held one */
	if (s->held != NULL) {
		struct sreq *old = s->held;

		s->held = NULL;
		pull_reply_empty(old);
	}
	r->pull_epoch = pl->epoch;
	r->pull_from = pl->acked_seq + 1;
	r->pull_max = pl->max == 0 || pl->max > node->conf->max_batch ? node->conf->max_batch : pl->max;
	r->pull_max_bytes = pl->max_bytes == 0 || pl->max_bytes > (4u << 20) ? 4u << 20 : pl->max_bytes;
	wait = pl->wait_ms;
	if (wait > node->conf->pull_wait_ms)
		wait = node->conf->pull_wait_ms;
	/* armed when the pull may be held: not while an ack job still runs (the
	 * timer's reply would free r under it) */
	if (wait > 0) {
		r->timer = evtimer_new(node->base, pull_timeout, r);
		tv.tv_sec = wait / 1000;
		tv.tv_usec = (wait % 1000) * 1000;
	}
	if ((rc = journal_queue_info(node->j, s->peer->qid, &qi)) != 0) {
		cascade__pull__free_unpacked(pl, NULL);
		sfail(r, STATUS(INTERNAL), "journal: %s", journal_strerror(rc));
		return;
	}
	/* The puller holds up to its ack; anything sent above it never arrived
	 * and may expire again (journal_sent_set). */
	acks = pl->epoch == qi.epoch && pl->acked_seq > qi.acked_seq;
	journal_sent_set(node->j, s->peer->qid, acks && pl->acked_seq < qi.next_seq ?
	    pl->acked_seq : qi.acked_seq);
	if (acks) {
		if (pl->acked_seq >= qi.next_seq) {
			log_warnx("server: %s: ack %llu beyond the last sequence sent (%llu); ignored",
			    s->peer->name, (unsigned long long)pl->acked_seq,
			    (unsigned long long)(qi.next_seq - 1));
		} else {
			struct ack_job *aj = xcalloc(1, sizeof(*aj));

			aj->r = r;
			aj->qid = s->peer->qid;
			aj->from = qi.acked_seq + 1;
			aj->upto = pl->acked_seq;
			/*
			 * Receipts are for what clients take; a child node's acks need no
			 * look. An ack still in flight has built those up to its own upto.
			 */
			if (s->peer->receipts_upto >= aj->from && s->peer->receipts_upto < qi.next_seq)
				aj->from = s->peer->receipts_upto + 1;
			if (s->peer->kind == CASCADE__PEER_KIND__PEER_CLIENT && aj->from <= aj->upto) {
				ack_receipts(aj, s->peer->name);
				s->peer->receipts_upto = aj->upto;
			}
			aj->job.run = ack_run;
			aj->job.done = ack_done;
			if (r->timer != NULL)
				aj->wait = tv;
			cascade__pull__free_unpacked(pl, NULL);
			jthread_submit(&aj->job);
			return;
		}
	}
	cascade__pull__free_unpacked(pl, NULL);
	if (r->timer != NULL)
		evtimer_add(r->timer, &tv);
	pull_continue(r);
}

/* -------------------------------------------------------------- routes */

struct routes_job {
	struct jjob job;
	char key[160];
	char *routes;
};

static int
routes_run(struct journal *j, struct jjob *job)
{
	struct routes_job *rj = (struct routes_job *)job;

	return journal_meta_put(j, rj->key, rj->routes, strlen(rj->routes));
}

static void
routes_done(struct jjob *job)
{
	struct routes_job *rj = (struct routes_job *)job;

	if (job->rc != 0)
		log_warnx("server: saving routes %s: %s", rj->key, journal_strerror(job->rc));
	free(rj->routes);
	free(rj);
}

static void
do_routes(struct sreq *r, struct session *s)
{
	Cascade__Routes *rt;
	Cascade__RoutesReply rr = CASCADE__ROUTES_REPLY__INIT;
	struct routes_job *rj;
	char **refused = NULL;
	size_t nrefused = 0, i;
	int exceeded;

	if (s->peer->kind != CASCADE__PEER_KIND__PEER_NODE) {
		sfail(r, STATUS(NOT_ALLOWED), "a client has no subtree");
		return;
	}
	if (pbw_count(r->req->body.data, r->req->body.len, CPBF_ROUTES_SUBTREE) >
	    LIM_AUTH_SUBTREE_MAX) {
		sfail(r, STATUS(TOO_LARGE), "Routes with more than %d ids", LIM_AUTH_SUBTREE_MAX);
		return;
	}
	rt = lim_unpack(&cascade__routes__descriptor, r->req->body.data, r->req->body.len,
	    &exceeded);
	if (rt == NULL) {
		sfail(r, STATUS(BAD_REQUEST), "undecodable Routes");
		return;
	}
	rj = xcalloc(1, sizeof(*rj));
	rj->routes = routes_set_subtree(s->peer, rt->subtree, rt->n_subtree, &refused, &nrefused);
	routes_key(s->peer, rj->key, sizeof(rj->key));
	rj->job.run = routes_run;
	rj->job.done = routes_done;
	jthread_submit(&rj->job);
	for (i = 0; i < nrefused; i++)
		log_warnx("server: %s: claims node id %s, which its child block does not allow",
		    s->peer->name, refused[i]);
	rr.refused = refused;
	rr.n_refused = nrefused;
	sreply_msg(r, &rr.base);
	free(refused);
	cascade__routes__free_unpacked(rt, NULL);
}

/* --------------------------------------------------------------- trace */

static void
trace_served(void *arg, Cascade__CtlTraceHop **hops, size_t n)
{
	Cascade__TraceReply tr = CASCADE__TRACE_REPLY__INIT;
	size_t i;

	tr.hops = hops;
	tr.n_hops = n;
	sreply_msg(arg, &tr.base);
	for (i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&hops[i]->base, NULL);
	free(hops);
}

/* A child asks where a packet is (ctl_trace.c answers, asking up if need be). */
static void
do_trace(struct sreq *r, struct session *s)
{
	Cascade__Trace *t;
	int exceeded;

	if (s->peer->kind != CASCADE__PEER_KIND__PEER_NODE) {
		sfail(r, STATUS(NOT_ALLOWED), "a client may not trace packets (cascadectl trace "
		    "is for the operators of nodes)");
		return;
	}
	t = lim_unpack(&cascade__trace__descriptor, r->req->body.data, r->req->body.len,
	    &exceeded);
	if (t == NULL || t->id.len != CID_LEN) {
		if (t != NULL)
			cascade__trace__free_unpacked(t, NULL);
		sfail(r, STATUS(BAD_REQUEST), "undecodable Trace");
		return;
	}
	trace_ask(t->id.data, s->peer, trace_served, r);
	cascade__trace__free_unpacked(t, NULL);
}

/* ------------------------------------------------------------ dispatch */

/*
 * Before anything is unpacked: a Hello or Auth (no session yet) is small,
 * and a larger request is looked at only when it names a live session.
 */
static int
request_precheck(struct sreq *r)
{
	uint32_t type;
	uint64_t sid;

	if (lim_request_peek(r->buf, r->len, &type, &sid) != 0) {
		sfail(r, STATUS(BAD_REQUEST), "undecodable request (%zu bytes)", r->len);
		return -1;
	}
	if (r->len <= LIM_PRESESSION_MAX)
		return 0;
	if (type == MSG(HELLO) || type == MSG(AUTH)) {
		node->stat_refused_size++;
		sfail(r, STATUS(TOO_LARGE), "%s of %zu bytes before a session exists (at most %u)",
		    type == MSG(HELLO) ? "Hello" : "Auth", r->len, LIM_PRESESSION_MAX);
		return -1;
	}
	if (session_find(sid) == NULL) {
		sreply(r, STATUS(NO_SESSION), "no such session", NULL, 0);
		return -1;
	}
	return 0;
}


/*
 * Records a request counter: 0 when it is new, -1 for one seen before or
 * SEQ_WINDOW or more below the highest (requests in flight together, at
 * most push-window 64 + a pull + routes, can arrive out of order, never
 * that far apart). Counters start at 1. seq_seen is a ring: bit n % W.
 */
static int
seq_fresh(struct session *s, uint64_t seq)
{
	uint64_t n;

	if (seq == 0 || (s->seq_top >= SEQ_WINDOW && seq <= s->seq_top - SEQ_WINDOW))
		return -1;
	if (seq > s->seq_top) {
		/* forget what the ring held for the counters we skip to */
		if (seq - s->seq_top >= SEQ_WINDOW)
			memset(s->seq_seen, 0, sizeof(s->seq_seen));
		else
			for (n = s->seq_top + 1; n < seq; n++)
				s->seq_seen[n % SEQ_WINDOW / 64] &= ~(1ULL << (n % 64));
		s->seq_top = seq;
	} else if (s->seq_seen[seq % SEQ_WINDOW / 64] & (1ULL << (seq % 64)))
		return -1;
	s->seq_seen[seq % SEQ_WINDOW / 64] |= 1ULL << (seq % 64);
	return 0;
}

/*
 * The child starts over with Hello. A session a newer one took over answers
 * under its own key, so its owner can trust that it was taken over.
 */
static void
no_session(struct sreq *r)
{
	size_t i;

	for (i = 0; i < node->npeers && r->req->session != 0; i++)
		if (node->peers[i].old_sess == r->req->session) {
			memcpy(r->key, node->peers[i].old_key, sizeof(r->key));
			r->keyed = 1;
			sreply(r, STATUS(NO_SESSION), "taken over by a newer session", NULL, 0);
			return;
		}
	sreply(r, STATUS(NO_SESSION), "no such session", NULL, 0);
}

void
server_request(struct sreq *r)
{
	struct session *s;
	int exceeded;

	node->stat_bytes_in += r->len;
	if (request_precheck(r) != 0)
		return;
	r->req = lim_unpack(&cascade__request__descriptor, r->buf, r->len, &exceeded);
	if (r->req == NULL) {
		sfail(r, exceeded ? STATUS(TOO_LARGE) : STATUS(BAD_REQUEST), exceeded ?
		    "request decodes to more than its budget (%zu bytes)" :
		    "undecodable request (%zu bytes)", r->len);
		return;
	}
	if (r->req->version != CASCADE_PROTOCOL_VERSION) {
		sfail(r, STATUS(VERSION), "protocol version %u not spoken (this node speaks %d)",
		    r->req->version, CASCADE_PROTOCOL_VERSION);
		return;
	}
	switch (r->req->type) {
	case CASCADE__MSG_TYPE__MSG_HELLO:
		do_hello(r);
		return;
	case CASCADE__MSG_TYPE__MSG_AUTH:
		do_auth(r);
		return;
	case CASCADE__MSG_TYPE__MSG_PUSH:
	case CASCADE__MSG_TYPE__MSG_PULL:
	case CASCADE__MSG_TYPE__MSG_ROUTES:
	case CASCADE__MSG_TYPE__MSG_TRACE:
		break;
	default:
		sfail(r, STATUS(BAD_REQUEST), "unknown request type %u", r->req->type);
		return;
	}
	s = session_find(r->req->session);
	if (s == NULL || s->carrier != r->carrier ||
	    (r->carrier == CASCADE__CARRIER__CARRIER_TCP && s->conn != r->conn)) {
		no_session(r);
		return;
	}
	r->peer = s->peer;
	s->peer->bytes_in += r->len;
	if (s->tls != r->tls) {
		/* an https session's id must not open the plain listener, where no mac
		 * is asked for a session made over tls, nor the other way round */
		char sid[CSESSION_SHORT_LEN];

		sfail(r, STATUS(NO_SESSION), "session %s is bound to %s; this request came over %s",
		    csession_short(s->id, sid), s->tls ? "https" : "plain http",
		    r->tls ? "https" : "plain http");
		return;
	}
	if (!r->tls) {
		memcpy(r->key, s->key, sizeof(r->key));
		r->keyed = 1;
		if (cenv_request_verify(r->req, s->key) != 0) {
			sfail(r, STATUS(BAD_MAC), "request mac does not match the session key");
			return;
		}
	}
	if (seq_fresh(s, r->req->seq) != 0) {
		sfail(r, STATUS(REPLAYED), "replayed request (counter %llu seen before, or too old)",
		    (unsigned long long)r->req->seq);
		return;
	}
	s->last_ms = cmono_ms();
	s->peer->seen_ms = cnow_ms();
	switch (r->req->type) {
	case CASCADE__MSG_TYPE__MSG_PUSH:
		do_push(r, s);
		break;
	case CASCADE__MSG_TYPE__MSG_PULL:
		do_pull(r, s);
		break;
	case CASCADE__MSG_TYPE__MSG_ROUTES:
		do_routes(r, s);
		break;
	case CASCADE__MSG_TYPE__MSG_TRACE:
		do_trace(r, s);
		break;
	}
}

void
server_init(void)
{
}

void
server_shutdown(void)
{
	struct session *s;
	struct nonce *n;

	while ((s = TAILQ_FIRST(&sessions)) != NULL)
		session_end(s, "shutting down");
	log_info("server: refused since start: %llu pushes over push-rate, %llu over quota, "
	    "%llu requests too large, %llu failed logins",
	    (unsigned long long)node->stat_refused_rate,
	    (unsigned long long)node->stat_refused_quota,
	    (unsigned long long)node->stat_refused_size,
	    (unsigned long long)node->stat_auth_failed);
	while ((n = TAILQ_FIRST(&nonces)) != NULL)
		nonce_free(n);
	lim_shutdown();
}

const char *
server_peer_carrier(const struct peer *p)
{
	return p->sess != NULL ? carrier_name(p->sess->carrier) : NULL;
}
