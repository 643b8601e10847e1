/*
 * server.c — the parent side of the link protocol, whatever the carrier:
 * carriers hand requests in as struct sreq (server_request) and get the
 * reply bytes back through sreq->reply. Here: the checks every request
 * passes (size before a session, the session, its mac and counter), the
 * dispatch to server_auth.c, server_push.c and server_pull.c, and Routes
 * and Trace. The call map is in server_int.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "server_int.h"

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
	sessions_end_all("shutting down");
	log_info("server: refused since start: %llu pushes over push-rate, %llu over quota, "
	    "%llu requests too large, %llu failed logins",
	    (unsigned long long)node->stat_refused_rate,
	    (unsigned long long)node->stat_refused_quota,
	    (unsigned long long)node->stat_refused_size,
	    (unsigned long long)node->stat_auth_failed);
	auth_shutdown();
	lim_shutdown();
}

