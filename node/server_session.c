/*
 * server_session.c — the sessions of children and clients: found by id,
 * ended (its held pull answered, its held pushes given to the journal),
 * when the connection goes, when idle, on takeover or by a reload.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "server_int.h"

static TAILQ_HEAD(, session) sessions = TAILQ_HEAD_INITIALIZER(sessions);
/* every request names its session, every closed connection ends its own: both by hash */
static struct htab by_id = HTAB_INITIALIZER, by_conn = HTAB_INITIALIZER;

static uint64_t
conn_hash(int carrier, uint64_t conn)
{
	return ht_hash_u64(conn ^ ((uint64_t)carrier << 56));
}

void
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
	ht_del(&by_id, &s->by_id);
	ht_del(&by_conn, &s->by_conn);
	explicit_bzero(s->key, sizeof(s->key));
	free(s);
}

struct session *
session_find(uint64_t id)
{
	struct hnode *n;

	for (n = ht_first(&by_id, ht_hash_u64(id)); n != NULL; n = ht_next(n)) {
		struct session *s = HT_ENTRY(n, struct session, by_id);

		if (s->id == id)
			return s;
	}
	return NULL;
}

void
server_conn_gone(int carrier, uint64_t conn)
{
	struct hnode *n, *next;

	for (n = ht_first(&by_conn, conn_hash(carrier, conn)); n != NULL; n = next) {
		struct session *s = HT_ENTRY(n, struct session, by_conn);

		next = ht_next(n);      /* session_end frees s */
		if (s->carrier == carrier && s->conn == conn)
			session_end(s, "connection closed");
	}
}

/*
 * Ends the sessions of carrier that saw no request for idle_ms (http: no
 * connection tells when a child is gone). A held pull is activity. Returns
 * how many sessions of carrier are left: none, and the caller's sweep need
 * not run again until a request comes.
 */
unsigned
server_expire_idle(int carrier, int64_t idle_ms)
{
	struct session *s, *t;
	int64_t now = cmono_ms();
	unsigned left = 0;

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
			continue;
		}
		left++;
	}
	return left;
}

struct peer *
peer_find(const char *name, uint32_t kind)
{
	return routes_peer_named(node, (int)kind, name, 0);
}

void
server_peer_end(struct peer *p, const char *why)
{
	if (p->sess != NULL)
		session_end(p->sess, why);
}


/* A session just authenticated: visible to requests from now on. */
void
session_add(struct session *s)
{
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	ht_add(&by_id, &s->by_id, ht_hash_u64(s->id));
	ht_add(&by_conn, &s->by_conn, conn_hash(s->carrier, s->conn));
}

void
sessions_end_all(const char *why)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&sessions)) != NULL)
		session_end(s, why);
	ht_clear(&by_id);
	ht_clear(&by_conn);
}

const char *
server_peer_carrier(const struct peer *p)
{
	return p->sess != NULL ? carrier_name(p->sess->carrier) : NULL;
}
