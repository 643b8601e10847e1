/*
 * server_auth.c — logging in: Hello (a challenge, within bounds per peer,
 * address and node, and answered alike for names this node does not know)
 * and Auth (the proof checked against the peer's secret, the stream marks
 * and the subtree saved, then the session made, taking over an older one).
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define NONCE_TTL_MS 30000
#define NONCES_MAX 4096

struct nonce {
	uint8_t n[CNONCE_LEN];
	struct peer *peer;
	char peeraddr[64];              /* counted against its address (limits.c) */
	int carrier;
	uint64_t conn;
	int64_t expires;
	TAILQ_ENTRY(nonce) entry;       /* oldest first: expires ascending (one TTL) */
	struct hnode hn;                /* by its bytes, for the Auth that answers it */
};

static TAILQ_HEAD(, nonce) nonces = TAILQ_HEAD_INITIALIZER(nonces);
static struct htab nonces_by = HTAB_INITIALIZER;
static size_t nnonces;

/* --------------------------------------------------------------- hello */

static void
nonce_free(struct nonce *n)
{
	TAILQ_REMOVE(&nonces, n, entry);
	ht_del(&nonces_by, &n->hn);
	nnonces--;
	n->peer->challenges--;
	lim_challenge_drop(n->peeraddr);
	free(n);
}

static void
nonces_expire(int64_t now)
{
	struct nonce *n;

	while ((n = TAILQ_FIRST(&nonces)) != NULL && n->expires <= now)
		nonce_free(n);
}

/*
 * The pending challenge with those bytes, or NULL. Ours are random, so the
 * bucket (their first bytes' hash) says nothing of another's; the bytes
 * are compared in constant time all the same.
 */
static struct nonce *
nonce_find(const uint8_t *bytes)
{
	struct hnode *h;

	for (h = ht_first(&nonces_by, ht_hash_bytes(bytes, CNONCE_LEN)); h != NULL;
	    h = ht_next(h)) {
		struct nonce *n = HT_ENTRY(h, struct nonce, hn);

		if (cequal(n->n, bytes, CNONCE_LEN) == 0)
			return n;
	}
	return NULL;
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
	ht_add(&nonces_by, &n->hn, ht_hash_bytes(n->n, CNONCE_LEN));
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

void
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
	session_add(s);
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

void
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
	n = nonce_find(a->server_nonce.data);
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


/* Forgets every pending challenge (server_shutdown). */
void
auth_shutdown(void)
{
	struct nonce *n;

	while ((n = TAILQ_FIRST(&nonces)) != NULL)
		nonce_free(n);
	ht_clear(&nonces_by);
}
