/*
 * carrier_tcp.c — the persistent tcp carrier: nng req/rep over tcp:// and
 * tls+tcp://.
 *
 * Server: one rep0 socket on every tcp listen url. Requests are received on
 * a pool of contexts; a context stays busy until its request is answered
 * (a held pull may take long), so a new one is opened whenever the number of
 * receiving contexts falls below TCPS_IDLE_MIN, and spare ones are closed.
 *
 * Client: one req0 socket dialing the parent, a context per request (the
 * push window and the pull run side by side). NNG_OPT_REQ_RESENDTIME is
 * infinite: nng's own resend would replay a Push on a new connection before
 * the Hello; custody does its own resending.
 *
 * nng completes aios on its threads; everything here only posts to the loop.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "cascaded.h"

#define TCPS_IDLE_MIN 8
#define TCPS_IDLE_MAX 32
#define TCP_RECV_MAX (64u << 20)        /* largest message nng accepts (then drops the pipe) */
#define TCP_STOP_WAIT_MS 2000           /* at shutdown: how long a socket's close may take */

/* ------------------------------------------------------------- helpers */

static void
sockaddr_str(const nng_sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (sa->s_family) {
	case NNG_AF_INET:
		inet_ntop(AF_INET, &sa->s_in.sa_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sa->s_in.sa_port));
		break;
	case NNG_AF_INET6:
		inet_ntop(AF_INET6, sa->s_in6.sa_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sa->s_in6.sa_port));
		break;
	default:
		snprintf(buf, len, "?");
	}
}

static char *
file_read(const char *path, char *err, size_t errlen)
{
	char *buf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xcalloc(1, 1 << 20);
	n = read(fd, buf, (1 << 20) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "%s: %s", path, n == 0 ? "empty" : strerror(errno));
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * A message for nng to send, a copy of buf: a request (tcpc_call) or a reply
 * (tcps_reply). NULL with *rcp set if nng has no memory for it.
 *
 * Its own function, never inlined, because tests/lsan.supp names it: nng
 * 1.5.2 now and then loses such a message after taking it. A send that
 * races the close of its pipe hands the message to the pipe after
 * rep0_pipe_close / req0_pipe_close closed the pipe's send aio and before
 * they take the socket lock (rep.c:329-332, req.c:210-213, v1.5.2); the
 * transport's send then fails nni_aio_begin and returns without freeing it
 * (tcptran_pipe_send, tcp.c:503-505; tls.c:493-495 alike), and the pipe's
 * teardown does not free it either (rep0_pipe_fini, req0_pipe_fini). Our
 * send completed without error, so the message was nng's, not ours. nng
 * issue 1713, fixed in 1.10.0 (759a2e9d). It costs one message per such
 * race, on a pipe that is going away (a reset or closed connection).
 */
static __attribute__((noinline)) nng_msg *
tcp_msg_new(const uint8_t *buf, size_t len, int *rcp)
{
	nng_msg *m;

	if ((*rcp = nng_msg_alloc(&m, len)) != 0)
		return NULL;
	memcpy(nng_msg_body(m), buf, len);
	return m;
}

/* ---------------------------------------------------------------- server */

struct tctx {
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
	struct sreq *r;
	TAILQ_ENTRY(tctx) entry;
};

static nng_socket tcps_sock = NNG_SOCKET_INITIALIZER;
static int tcps_open, tcps_idle, tcps_busy;
static TAILQ_HEAD(, tctx) tcps_ctxs = TAILQ_HEAD_INITIALIZER(tcps_ctxs);
static nng_tls_config *tcps_tls;

static int tcps_tls_ids[16], tcps_ntls;

/*
 * A tls listener's failed handshakes: nng 1.5.2 (mbedTLS) has no event and
 * no reason for them, only the listener's error counters, which a timer
 * reads (TLS_WATCH_MS) and logs when they grow.
 */
#define TLS_WATCH_MS 5000
#define TLS_SAY_MS 60000                /* at most one line a minute per listener */
static struct tls_watch {
	nng_listener l;
	const char *url;
	uint64_t failed;                /* the counters' sum when last logged */
	int64_t said_ms;
} tcps_watch[16];
static struct event *tcps_watch_timer;

static uint64_t
stat_value(nng_stat *parent, const char *name)
{
	nng_stat *st;

	for (st = nng_stat_child(parent); st != NULL; st = nng_stat_next(st))
		if (strcmp(nng_stat_name(st), name) == 0)
			return nng_stat_value(st);
	return 0;
}

static void
tls_watch_fire(evutil_socket_t fd, short what, void *arg)
{
	static const char *names[] = { "auth", "proto", "timeout", "other" };
	struct timeval tv = { TLS_WATCH_MS / 1000, 0 };
	nng_stat *all, *ls;
	int i, k;

	if (nng_stats_get(&all) != 0)
		goto again;
	for (i = 0; i < tcps_ntls; i++) {
		struct tls_watch *w = &tcps_watch[i];
		uint64_t sum = 0, v;
		char detail[128] = "";
		size_t off = 0;

		if ((ls = nng_stat_find_listener(all, w->l)) == NULL)
			continue;
		for (k = 0; k < 4; k++) {
			sum += v = stat_value(ls, names[k]);
			if (v > 0 && off < sizeof(detail))
				off += (size_t)snprintf(detail + off, sizeof(detail) - off, "%s%s %llu",
				    off ? ", " : "", names[k], (unsigned long long)v);
		}
		if (sum > w->failed && (w->said_ms == 0 || cmono_ms() - w->said_ms >= TLS_SAY_MS)) {
			log_warnx("tcp: %s: %llu tls handshake(s) or connection set-up(s) failed "
			    "(nng's counters: %s); nng's tls does not say why or from where: the "
			    "child's log does", w->url, (unsigned long long)(sum - w->failed), detail);
			w->failed = sum;
			w->said_ms = cmono_ms();
		}
	}
	nng_stats_free(all);
again:
	evtimer_add(tcps_watch_timer, &tv);
}

static void tctx_loop(void *arg);

static int
tcps_is_tls(nng_listener l)
{
	int i, id = nng_listener_id(l);

	for (i = 0; i < tcps_ntls; i++)
		if (tcps_tls_ids[i] == id)
			return 1;
	return 0;
}

static void
tctx_aio_cb(void *arg)
{
	loop_post(tctx_loop, arg);   /* nng thread: hand over to the loop */
}

static void
tctx_free(struct tctx *t)
{
	TAILQ_REMOVE(&tcps_ctxs, t, entry);
	nng_ctx_close(t->ctx);
	nng_aio_free(t->aio);
	free(t);
}

static int
tctx_new(void)
{
	struct tctx *t = xcalloc(1, sizeof(*t));
	int rc;

	if ((rc = nng_aio_alloc(&t->aio, tctx_aio_cb, t)) != 0 ||
	    (rc = nng_ctx_open(&t->ctx, tcps_sock)) != 0) {
		log_warnx("tcp: opening a context: %s", nng_strerror(rc));
		if (t->aio != NULL)
			nng_aio_free(t->aio);
		free(t);
		return -1;
	}
	TAILQ_INSERT_TAIL(&tcps_ctxs, t, entry);
	tcps_idle++;
	nng_ctx_recv(t->ctx, t->aio);
	return 0;
}

static void
tcps_reply(struct sreq *r, uint8_t *buf, size_t len)
{
	struct tctx *t = r->cctx;
	nng_msg *m;
	int rc;

	free(r);
	t->r = NULL;
	if ((m = tcp_msg_new(buf, len, &rc)) == NULL) {
		log_warnx("tcp: reply: %s", nng_strerror(rc));
		free(buf);
		return;
	}
	free(buf);
	t->sending = 1;
	nng_aio_set_msg(t->aio, m);
	nng_ctx_send(t->ctx, t->aio);
}

static void
tctx_loop(void *arg)
{
	struct tctx *t = arg;
	struct sreq *r;
	nng_msg *m;
	nng_sockaddr sa;
	int rc = nng_aio_result(t->aio);

	if (t->sending && rc != 0) {
		/* a reply nng could not send is still ours, also once we are closing */
		nng_msg_free(nng_aio_get_msg(t->aio));
		nng_aio_set_msg(t->aio, NULL);
	}
	if (!tcps_open)
		return;
	if (t->sending) {
		/* the reply went out (or its pipe is gone: nothing to do then) */
		t->sending = 0;
		tcps_busy--;
		if (tcps_idle >= TCPS_IDLE_MAX) {
			tctx_free(t);
			return;
		}
		tcps_idle++;
		nng_ctx_recv(t->ctx, t->aio);
		return;
	}
	if (rc != 0) {
		if (rc == NNG_ECLOSED)
			return;
		log_warnx("tcp: receive: %s", nng_strerror(rc));
		nng_ctx_recv(t->ctx, t->aio);
		return;
	}
	tcps_idle--;
	tcps_busy++;
	m = nng_aio_get_msg(t->aio);
	r = xcalloc(1, sizeof(*r));
	r->carrier = CASCADE__CARRIER__CARRIER_TCP;
	r->conn = (uint64_t)nng_pipe_id(nng_msg_get_pipe(m));
	r->tls = tcps_is_tls(nng_pipe_listener(nng_msg_get_pipe(m)));
	if (nng_pipe_get_addr(nng_msg_get_pipe(m), NNG_OPT_REMADDR, &sa) == 0)
		sockaddr_str(&sa, r->peeraddr, sizeof(r->peeraddr));
	r->len = nng_msg_len(m);
	r->buf = xmalloc(r->len ? r->len : 1);
	memcpy(r->buf, nng_msg_body(m), r->len);
	nng_msg_free(m);
	nng_aio_set_msg(t->aio, NULL);  /* tcps_stop frees what an aio still holds */
	r->reply = tcps_reply;
	r->cctx = t;
	t->r = r;
	/* keep enough contexts receiving while this one is busy */
	while (tcps_idle < TCPS_IDLE_MIN)
		if (tctx_new() != 0)
			break;
	server_request(r);
}

struct pipe_gone {
	uint64_t id;
};

static void
tcps_pipe_gone(void *arg)
{
	struct pipe_gone *pg = arg;

	if (tcps_open)
		server_conn_gone(CASCADE__CARRIER__CARRIER_TCP, pg->id);
	free(pg);
}

static void
tcps_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct pipe_gone *pg = xmalloc(sizeof(*pg));

	pg->id = (uint64_t)nng_pipe_id(p);
	loop_post(tcps_pipe_gone, pg);
}

/* The tls config of the tls+tcp listeners, or NULL with err set. */
static nng_tls_config *
tls_server_config(const struct conf *c, char *err, size_t errlen)
{
	nng_tls_config *cfg;
	char *cert, *key = NULL;
	int rc;

	if ((cert = file_read(c->tls_cert, err, errlen)) == NULL ||
	    (key = file_read(c->tls_key, err, errlen)) == NULL) {
		free(cert);
		return NULL;
	}
	if ((rc = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0) {
		snprintf(err, errlen, "tls: %s", nng_strerror(rc));
		cfg = NULL;
		goto done;
	}
	if ((rc = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		snprintf(err, errlen, "tls: %s / %s: %s (nng's mbedTLS takes RSA or P-256 keys)",
		    c->tls_cert, c->tls_key, nng_strerror(rc));
		goto fail;
	}
	/*
	 * With tls-ca the child must present a certificate signed by it (mutual
	 * TLS); its name is not compared with the peer id: the link secret says
	 * who the peer is, the certificate only lets it reach the protocol.
	 */
	if (c->tls_ca != NULL) {
		if ((rc = nng_tls_config_ca_file(cfg, c->tls_ca)) != 0) {
			snprintf(err, errlen, "tls-ca %s: %s", c->tls_ca, nng_strerror(rc));
			goto fail;
		}
		nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
		log_info("tcp: tls+tcp listeners require a client certificate signed by %s",
		    c->tls_ca);
	} else
		nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
	goto done;
fail:
	nng_tls_config_free(cfg);
	cfg = NULL;
done:
	explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	return cfg;
}

/*
 * The listeners, by url as written: a reload opens new ones (tcps_listen)
 * before it closes old ones (tcps_unlisten). Closing a listener closes the
 * connections it accepted (nng_listener_close): their sessions end and the
 * children dial the urls of their new config.
 */
static struct tlisten {
	nng_listener l;
	char *url;
} *tcps_ls;
static size_t tcps_nls;

/* The rep socket and its receiving contexts, on the first tcp listener. */
static int
tcps_sock_open(char *err, size_t errlen)
{
	int rc, i;

	if (tcps_open)
		return 0;
	if ((rc = nng_rep0_open(&tcps_sock)) != 0) {
		snprintf(err, errlen, "tcp: rep socket: %s", nng_strerror(rc));
		return -1;
	}
	nng_socket_set_size(tcps_sock, NNG_OPT_RECVMAXSZ, TCP_RECV_MAX);
	nng_pipe_notify(tcps_sock, NNG_PIPE_EV_REM_POST, tcps_pipe_cb, NULL);
	tcps_open = 1;
	for (i = 0; i < TCPS_IDLE_MIN; i++)
		tctx_new();
	return 0;
}

static int
tcps_listen(const struct conf *c, const struct conf_url *u, char *err, size_t errlen)
{
	nng_listener l;
	int rc;

	if (tcps_sock_open(err, errlen) != 0)
		return -1;
	if ((rc = nng_listener_create(&l, tcps_sock, u->url)) != 0) {
		snprintf(err, errlen, "%s:%d: listen %s: %s", u->where.file, u->where.line, u->url,
		    nng_strerror(rc));
		return -1;
	}
	if (u->tls) {
		if (tcps_tls == NULL && (tcps_tls = tls_server_config(c, err, errlen)) == NULL) {
			nng_listener_close(l);
			return -1;
		}
		nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tcps_tls);
	}
	if ((rc = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "%s:%d: listen %s: %s", u->where.file, u->where.line, u->url,
		    nng_strerror(rc));
		nng_listener_close(l);
		return -1;
	}
	if (u->tls) {
		if (tcps_ntls < 16) {
			tcps_watch[tcps_ntls].l = l;
			tcps_watch[tcps_ntls].url = u->url;
			tcps_tls_ids[tcps_ntls++] = nng_listener_id(l);
		}
		if (tcps_watch_timer == NULL) {
			tcps_watch_timer = evtimer_new(node->base, tls_watch_fire, NULL);
			tls_watch_fire(-1, 0, NULL);
		}
	} else
		log_warnx("tcp: listening on plain %s (allow-plain yes): traffic is "
		    "authenticated but not encrypted", u->url);
	tcps_ls = xrealloc(tcps_ls, (tcps_nls + 1) * sizeof(*tcps_ls));
	tcps_ls[tcps_nls].l = l;
	tcps_ls[tcps_nls++].url = xstrdup(u->url);
	log_info("tcp: listening on %s", u->url);
	return 0;
}

static void
tcps_unlisten(const char *url)
{
	size_t i;
	int k;

	for (i = 0; i < tcps_nls; i++) {
		if (strcmp(tcps_ls[i].url, url) != 0)
			continue;
		/* a tls listener's counters go with it; its id is never reused */
		for (k = 0; k < tcps_ntls; k++)
			if (tcps_tls_ids[k] == nng_listener_id(tcps_ls[i].l)) {
				tcps_watch[k].url = "(closed)";
				tcps_watch[k].l = (nng_listener)NNG_LISTENER_INITIALIZER;
			}
		nng_listener_close(tcps_ls[i].l);
		log_info("tcp: no longer listening on %s", url);
		free(tcps_ls[i].url);
		tcps_ls[i] = tcps_ls[--tcps_nls];
		return;
	}
}

static int
tcps_start(const struct conf *c)
{
	char err[512];
	size_t i;

	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].carrier == CONF_CARRIER_TCP &&
		    tcps_listen(c, &c->listen[i], err, sizeof(err)) != 0)
			fatalx("%s", err);
	return 0;
}

static void
tcps_stop(void)
{
	struct tctx *t;

	if (!tcps_open)
		return;
	tcps_open = 0;
	if (tcps_watch_timer != NULL) {
		event_free(tcps_watch_timer);
		tcps_watch_timer = NULL;
	}
	if (!cnng_close_bounded(tcps_sock, TCP_STOP_WAIT_MS, NULL, NULL)) {
		/* a wedged nng: leave its contexts to it, the process is ending */
		log_warnx("tcp: closing the listening socket took longer than %d ms "
		    "(nng wedged); stopping without it", TCP_STOP_WAIT_MS);
		return;
	}
	while ((t = TAILQ_FIRST(&tcps_ctxs)) != NULL) {
		nng_aio_stop(t->aio);
		/*
		 * A request received while closing (its tctx_loop came after
		 * tcps_open went 0) or a reply whose send was stopped is still
		 * ours: nng_aio_free does not free an aio's message.
		 */
		if (nng_aio_get_msg(t->aio) != NULL)
			nng_msg_free(nng_aio_get_msg(t->aio));
		if (t->r != NULL) {
			/* a request still being handled keeps its sreq; it will never be answered */
			t->r->reply = NULL;
		}
		TAILQ_REMOVE(&tcps_ctxs, t, entry);
		nng_aio_free(t->aio);
		free(t);
	}
	if (tcps_tls != NULL)
		nng_tls_config_free(tcps_tls);
	while (tcps_nls > 0)
		free(tcps_ls[--tcps_nls].url);
	free(tcps_ls);
	tcps_ls = NULL;
}

/* ---------------------------------------------------------------- client */

struct tcpc {
	nng_socket sock;
	nng_dialer dialer;
	pthread_mutex_t lock;           /* guards pipe (nng's threads set it) */
	nng_pipe pipe;                  /* the connection now, for redial */
	uint32_t up_pipe;               /* loop thread: the pipe the link was told is up */
	int closed;                     /* events still queued for the loop are dropped */
	/*
	 * Calls and pipe events handed to the loop and not run yet: each still
	 * reads t there, so t is freed only when the last of them has run (an
	 * aborted call's completion can reach the loop after the socket's close
	 * did). Changed under lock; freed is set on the loop once nng_close is done.
	 */
	unsigned pending;
	int freed;
	char *url;
	const struct conf_parent *pc;
	struct cclient_events ev;
	nng_tls_config *tls;
	char host[256];
};

struct tcall {
	struct tcpc *t;
	nng_ctx ctx;
	nng_aio *aio;
	int sent;
	int rc;
	cclient_cb cb;
	void *arg;
};

static void tcpc_free(void *tp);

/* On the loop: one queued call or event has run; the last one frees a closed t. */
static void
tcpc_unref(struct tcpc *t)
{
	int last;

	pthread_mutex_lock(&t->lock);
	last = --t->pending == 0 && t->freed;
	pthread_mutex_unlock(&t->lock);
	if (last)
		tcpc_free(t);
}

static void
tcall_loop(void *arg)
{
	struct tcall *c = arg;
	nng_msg *m = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (c->rc == 0) {
		m = nng_aio_get_msg(c->aio);
		len = nng_msg_len(m);
		buf = xmalloc(len ? len : 1);
		memcpy(buf, nng_msg_body(m), len);
		nng_msg_free(m);
	}
	/*
	 * A closed client's socket is being closed on another thread, which
	 * closes its contexts: closing one here at the same time panics
	 * nng 1.5.2 (pthread_mutex_unlock: Invalid argument), as a carrier
	 * rebuilt while a call was in flight showed (cascadectl retry).
	 */
	if (!c->t->closed)
		nng_ctx_close(c->ctx);
	nng_aio_free(c->aio);
	c->cb(c->arg, c->rc, buf, len);
	free(buf);
	tcpc_unref(c->t);
	free(c);
}

static void
tcall_aio_cb(void *arg)
{
	struct tcall *c = arg;
	int rc = nng_aio_result(c->aio);

	if (rc == 0 && !c->sent) {
		/* the request is out; now wait for its reply (same timeout) */
		c->sent = 1;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rc != 0 && !c->sent)
		nng_msg_free(nng_aio_get_msg(c->aio));
	c->rc = rc;
	loop_post(tcall_loop, c);
}

/* 0: cb runs once, on the loop; -1 (said here): no request made, cb never runs. */
static int
tcpc_call(void *tp, const uint8_t *buf, size_t len, int timeout_ms, cclient_cb cb, void *arg)
{
	struct tcpc *t = tp;
	struct tcall *c = xcalloc(1, sizeof(*c));
	nng_msg *m = NULL;
	int rc, ctx_open = 0;

	c->t = t;
	c->cb = cb;
	c->arg = arg;
	if ((rc = nng_aio_alloc(&c->aio, tcall_aio_cb, c)) != 0)
		goto fail;
	if ((rc = nng_ctx_open(&c->ctx, t->sock)) != 0)
		goto fail;
	ctx_open = 1;
	if ((m = tcp_msg_new(buf, len, &rc)) == NULL)
		goto fail;
	nng_ctx_set_ms(c->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_aio_set_timeout(c->aio, timeout_ms);
	nng_aio_set_msg(c->aio, m);
	pthread_mutex_lock(&t->lock);
	t->pending++;                   /* until tcall_loop has run */
	pthread_mutex_unlock(&t->lock);
	nng_ctx_send(c->ctx, c->aio);
	return 0;
fail:
	log_warnx("link %s: tcp: cannot make a request: %s", t->pc->id, nng_strerror(rc));
	if (m != NULL)
		nng_msg_free(m);
	if (ctx_open)
		nng_ctx_close(c->ctx);
	if (c->aio != NULL)
		nng_aio_free(c->aio);
	free(c);
	return -1;
}

/* A pipe event, carried to the loop with the pipe it is about. */
struct tcpc_pipe_ev {
	struct tcpc *t;
	uint32_t pipe;
	int up;
};

/*
 * On the loop: the link hears "connected" for each new pipe and
 * "disconnected" only for the pipe it was last told is up. nng runs the
 * two callbacks on different threads, so the end of an earlier pipe may
 * reach the loop after the next pipe came up; taken as the end of the
 * current one, it would leave the link waiting for a connection that is
 * already there.
 */
static void
tcpc_pipe_event(void *arg)
{
	struct tcpc_pipe_ev *pe = arg;
	struct tcpc *t = pe->t;

	if (t->closed)
		;
	else if (pe->up) {
		t->up_pipe = pe->pipe;
		t->ev.connected(t->ev.arg);
	} else if (pe->pipe == t->up_pipe) {
		t->up_pipe = 0;
		t->ev.disconnected(t->ev.arg);
	} else
		log_debug("tcp: %s: the end of connection %u, not the current one (%u), "
		    "came late; ignored", t->url, pe->pipe, t->up_pipe);
	free(pe);
	tcpc_unref(t);
}

static void
tcpc_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct tcpc *t = arg;
	struct tcpc_pipe_ev *pe = xmalloc(sizeof(*pe));

	pthread_mutex_lock(&t->lock);
	if (ev == NNG_PIPE_EV_ADD_POST)
		t->pipe = p;
	else if (nng_pipe_id(t->pipe) == nng_pipe_id(p))
		t->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
	t->pending++;                   /* until tcpc_pipe_event has run */
	pthread_mutex_unlock(&t->lock);
	pe->t = t;
	pe->pipe = (uint32_t)nng_pipe_id(p);
	pe->up = ev == NNG_PIPE_EV_ADD_POST;
	loop_post(tcpc_pipe_event, pe);
}

static int
tcpc_dial(struct tcpc *t, char *err, size_t errlen)
{
	int rc;

	if ((rc = nng_dialer_create(&t->dialer, t->sock, t->url)) != 0) {
		snprintf(err, errlen, "%s: %s", t->url, nng_strerror(rc));
		return -1;
	}
	nng_dialer_set_ms(t->dialer, NNG_OPT_RECONNMINT, (nng_duration)t->pc->reconnect_min_ms);
	nng_dialer_set_ms(t->dialer, NNG_OPT_RECONNMAXT, (nng_duration)t->pc->reconnect_max_ms);
	if (t->tls != NULL)
		nng_dialer_set_ptr(t->dialer, NNG_OPT_TLS_CONFIG, t->tls);
	/* non-blocking: a parent that is down now is redialed in the background */
	if ((rc = nng_dialer_start(t->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, errlen, "%s: %s", t->url, nng_strerror(rc));
		return -1;
	}
	return 0;
}

static void tcpc_close(void *tp);

/* The parent block's cert and key: the child's certificate for mutual TLS. */
static int
tcpc_own_cert(struct tcpc *t, const struct conf_parent *pc, char *err, size_t errlen)
{
	char *cert, *key = NULL;
	int rc = -1, nrc;

	if ((cert = file_read(pc->cert, err, errlen)) == NULL ||
	    (key = file_read(pc->key, err, errlen)) == NULL)
		goto done;
	if ((nrc = nng_tls_config_own_cert(t->tls, cert, key, NULL)) != 0) {
		snprintf(err, errlen, "cert %s / key %s: %s (nng's mbedTLS takes RSA or P-256 "
		    "keys)", pc->cert, pc->key, nng_strerror(nrc));
		goto done;
	}
	rc = 0;
done:
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	return rc;
}

static void *
tcpc_open(const struct conf_parent *pc, const struct conf_url *url,
    const struct cclient_events *ev, char *err, size_t errlen)
{
	struct tcpc *t = xcalloc(1, sizeof(*t));
	int rc;

	t->pc = pc;
	t->url = xstrdup(url->url);
	t->ev = *ev;
	pthread_mutex_init(&t->lock, NULL);
	if ((rc = nng_req0_open(&t->sock)) != 0) {
		snprintf(err, errlen, "req socket: %s", nng_strerror(rc));
		goto fail;
	}
	nng_socket_set_ms(t->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(t->sock, NNG_OPT_RECVMAXSZ, TCP_RECV_MAX);
	nng_pipe_notify(t->sock, NNG_PIPE_EV_ADD_POST, tcpc_pipe_cb, t);
	nng_pipe_notify(t->sock, NNG_PIPE_EV_REM_POST, tcpc_pipe_cb, t);
	if (url->tls) {
		if ((rc = nng_tls_config_alloc(&t->tls, NNG_TLS_MODE_CLIENT)) != 0 ||
		    (rc = nng_tls_config_ca_file(t->tls, pc->ca)) != 0 ||
		    (rc = nng_tls_config_server_name(t->tls, url->host)) != 0 ||
		    (rc = nng_tls_config_auth_mode(t->tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
			snprintf(err, errlen, "tls with ca %s: %s", pc->ca, nng_strerror(rc));
			goto fail;
		}
		if (pc->cert != NULL && tcpc_own_cert(t, pc, err, errlen) != 0)
			goto fail;
	}
	if (tcpc_dial(t, err, errlen) != 0)
		goto fail;
	return t;
fail:
	tcpc_close(t);
	return NULL;
}

/*
 * A dead or wedged connection: close it and let the dialer dial again with
 * its backoff. (Closing the pipe, not the dialer: nng 1.5's close paths
 * around a closing dialer can wedge on tls+tcp.)
 */
static void
tcpc_redial(void *tp)
{
	struct tcpc *t = tp;
	nng_pipe p;

	pthread_mutex_lock(&t->lock);
	p = t->pipe;
	pthread_mutex_unlock(&t->lock);
	if (nng_pipe_id(p) > 0)
		nng_pipe_close(p);
}

/*
 * On the loop, once nng_close is done (tcpc_closed) and again from the
 * last queued call or event: frees t when nothing queued still reads it.
 */
static void
tcpc_free(void *tp)
{
	struct tcpc *t = tp;
	int later;

	pthread_mutex_lock(&t->lock);
	t->freed = 1;
	later = t->pending > 0;
	pthread_mutex_unlock(&t->lock);
	if (later)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->url);
	free(t);
}

/* After nng_close returned (on its own thread): hand the memory to the loop. */
static void
tcpc_closed(void *tp)
{
	struct tcpc *t = tp;

	if (t->tls != NULL)
		nng_tls_config_free(t->tls);
	loop_post(tcpc_free, t);
}

/*
 * Never blocks the loop: nng_close runs on a thread of its own, since
 * nng 1.5's close paths can wedge (see packets/nngclose.c). Events nng
 * posted before the close may still wait in the loop's queue: they see
 * closed and do nothing, and the memory goes after them.
 */
static void
tcpc_close(void *tp)
{
	struct tcpc *t = tp;

	if (t == NULL)
		return;
	t->closed = 1;
	cnng_close_bounded(t->sock, 0, tcpc_closed, t);
}

static const struct cclient_ops tcp_client_ops = {
	.name = "tcp",
	.carrier = CASCADE__CARRIER__CARRIER_TCP,
	.open = tcpc_open,
	.call = tcpc_call,
	.redial = tcpc_redial,
	.close = tcpc_close,
};

const struct ncarrier carrier_tcp = {
	.name = "tcp",
	.carrier = CASCADE__CARRIER__CARRIER_TCP,
	.conf_carrier = CONF_CARRIER_TCP,
	.start = tcps_start,
	.listen = tcps_listen,
	.unlisten = tcps_unlisten,
	.stop = tcps_stop,
	.dial = &tcp_client_ops,
};
