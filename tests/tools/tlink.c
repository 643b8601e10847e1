/*
 * tlink.c — the test tools' blocking link client (tlink.h): the requests
 * are built and the replies checked by packets/link.c; this file only adds
 * the nng req socket and a tool's way with errors (die, or a note).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlink.h"

#include <nng/protocol/reqrep0/req.h>

static void
tdie(struct tlink *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", t->who);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void
tnote(struct tlink *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s %s: ", t->who, t->peer != NULL ? t->peer : "");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

struct tlink *
tlink_open(const char *url, int timeout_ms, const char *who)
{
	struct tlink *t = calloc(1, sizeof(*t));
	int rc;

	if (t == NULL) {
		fprintf(stderr, "%s: out of memory\n", who);
		exit(1);
	}
	t->url = url;
	t->who = who;
	t->fd = -1;
	if (strncmp(url, "http://", 7) == 0) {
		const char *hp = url + 7, *colon = strchr(hp, ':'), *slash = strchr(hp, '/');

		if (colon == NULL || (size_t)(colon - hp) >= sizeof(t->host))
			tdie(t, "%s: want http://IP:PORT[/PREFIX]", url);
		memcpy(t->host, hp, (size_t)(colon - hp));
		t->port = atoi(colon + 1);
		snprintf(t->prefix, sizeof(t->prefix), "%s", slash != NULL ? slash : "");
		if (t->prefix[0] != '\0' && t->prefix[strlen(t->prefix) - 1] == '/')
			t->prefix[strlen(t->prefix) - 1] = '\0';
		t->http = 1;
		t->timeout_ms = timeout_ms;
		return t;
	}
	if ((rc = nng_req0_open(&t->sock)) != 0)
		tdie(t, "req0: %s", nng_strerror(rc));
	/* custody resends, not nng: its resend would replay a Push before the Hello */
	nng_socket_set_ms(t->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(t->sock, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(t->sock, NNG_OPT_RECONNMAXT, 500);
	nng_socket_set_ms(t->sock, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(t->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	if ((rc = nng_dial(t->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		tdie(t, "dial %s: %s", url, nng_strerror(rc));
	return t;
}

/* ---------------------------------------------------------------- http */

static const char *
http_endpoint(uint32_t type)
{
	switch (type) {
	case CASCADE__MSG_TYPE__MSG_HELLO: return "hello";
	case CASCADE__MSG_TYPE__MSG_AUTH: return "auth";
	case CASCADE__MSG_TYPE__MSG_PUSH: return "push";
	case CASCADE__MSG_TYPE__MSG_PULL: return "pull";
	default: return "routes";
	}
}

static int
http_connect(struct tlink *t)
{
	struct sockaddr_in sa;
	struct timeval tv = { t->timeout_ms / 1000, (t->timeout_ms % 1000) * 1000 };
	int one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)t->port);
	if (inet_pton(AF_INET, t->host, &sa.sin_addr) != 1)
		tdie(t, "%s: not an IPv4 address", t->host);
	if ((t->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		tdie(t, "socket: %s", strerror(errno));
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(t->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(t->fd);
		t->fd = -1;
		return -1;
	}
	return 0;
}

static int
http_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One POST and its response's body (malloc'd), on the kept-alive connection. */
static uint8_t *
http_rpc(struct tlink *t, const uint8_t *buf, size_t len, size_t *rlen)
{
	char hdr[512], in[4096], *end, *cl;
	size_t have = 0, want, hl;
	uint8_t *body;
	ssize_t n;
	int hn;

	if (t->fd < 0 && http_connect(t) != 0)
		return NULL;
	hn = snprintf(hdr, sizeof(hdr), "POST %s/v1/%s HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
	    t->prefix, http_endpoint(t->type), t->host, t->port, len);
	if (http_write_all(t->fd, hdr, (size_t)hn) != 0 || http_write_all(t->fd, buf, len) != 0)
		goto fail;
	for (;;) {
		if (have == sizeof(in) - 1)
			goto fail;
		if ((n = recv(t->fd, in + have, sizeof(in) - 1 - have, 0)) <= 0)
			goto fail;
		have += (size_t)n;
		in[have] = '\0';
		if ((end = strstr(in, "\r\n\r\n")) != NULL)
			break;
	}
	hl = (size_t)(end + 4 - in);
	if ((cl = strcasestr(in, "\r\nContent-Length:")) == NULL || cl > end)
		goto fail;
	want = (size_t)strtoul(cl + 17, NULL, 10);
	if ((body = malloc(want ? want : 1)) == NULL)
		tdie(t, "out of memory");
	memcpy(body, in + hl, have - hl < want ? have - hl : want);
	for (have -= hl; have < want; have += (size_t)n)
		if ((n = recv(t->fd, body + have, want - have, 0)) <= 0) {
			free(body);
			goto fail;
		}
	*rlen = want;
	return body;
fail:
	close(t->fd);
	t->fd = -1;
	return NULL;
}

Cascade__Reply *
tlink_rpc_raw(struct tlink *t, const uint8_t *buf, size_t len)
{
	Cascade__Reply *rep;
	uint8_t *rbuf = NULL;
	size_t rlen;
	int rc;

	if (t->http) {
		if ((rbuf = http_rpc(t, buf, len, &rlen)) == NULL) {
			t->err = NNG_ECLOSED;
			tnote(t, "http: no response from %s", t->url);
			return NULL;
		}
		t->err = 0;
		rep = cascade__reply__unpack(NULL, rlen, rbuf);
		free(rbuf);
		if (rep == NULL)
			tnote(t, "undecodable reply");
		return rep;
	}
	if ((t->err = rc = nng_send(t->sock, (void *)buf, len, 0)) != 0) {
		tnote(t, "send: %s", nng_strerror(rc));
		return NULL;
	}
	if ((t->err = rc = nng_recv(t->sock, &rbuf, &rlen, NNG_FLAG_ALLOC)) != 0) {
		tnote(t, "recv: %s", nng_strerror(rc));
		return NULL;
	}
	rep = cascade__reply__unpack(NULL, rlen, rbuf);
	nng_free(rbuf, rlen);
	if (rep == NULL)
		tnote(t, "undecodable reply");
	return rep;
}

Cascade__Reply *
tlink_rpc(struct tlink *t, uint32_t type, const ProtobufCMessage *m, int keyed)
{
	Cascade__Reply *rep;
	uint8_t *buf;
	size_t len;

	t->seq = t->session != 0 ? t->seq + 1 : 0;
	t->type = type;
	if ((buf = clink_request(type, t->session, t->seq, m, keyed ? t->key : NULL, &len)) == NULL)
		tdie(t, "out of memory");
	rep = tlink_rpc_raw(t, buf, len);
	free(buf);
	if (rep != NULL && keyed && rep->status == 0 &&
	    cenv_reply_verify(rep, t->session, t->seq, t->key) != 0)
		tdie(t, "reply mac does not match the session key");
	return rep;
}

/* An OK reply of type's, or NULL with *status (0: transport) and a note. */
static Cascade__Reply *
ok_reply(struct tlink *t, const char *what, Cascade__Reply *rep, uint32_t *status)
{
	*status = 0;
	if (rep == NULL)
		return NULL;
	if ((*status = rep->status) != 0) {
		tnote(t, "%s: %s: %s", what, cstatus_str(rep->status), rep->error);
		cascade__reply__free_unpacked(rep, NULL);
		return NULL;
	}
	return rep;
}

int64_t
tlink_login(struct tlink *t, const char *peer, uint32_t kind, const uint8_t *secret,
    size_t secretlen, uint64_t epoch, uint64_t lowest_unacked, uint32_t *status)
{
	Cascade__Hello h;
	Cascade__Reply *rep;
	Cascade__HelloReply *hr;
	Cascade__AuthReply *ar;
	uint64_t mark;

	t->session = 0;
	t->seq = 0;
	t->keyed = 0;
	t->peer = peer;
	clink_hello(&h, peer, kind, CASCADE__CARRIER__CARRIER_TCP);
	if ((rep = ok_reply(t, "hello", tlink_rpc(t, CASCADE__MSG_TYPE__MSG_HELLO, &h.base, 0),
	    status)) == NULL)
		return -1;
	hr = cascade__hello_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	/* a tool does not know the node's name: only the nonce is checked */
	if (hr == NULL || hr->nonce.len != CNONCE_LEN)
		tdie(t, "bad hello reply");
	if (t->auth_delay_ms > 0)
		usleep((useconds_t)t->auth_delay_ms * 1000);
	if (clink_auth(&t->ca, secret, secretlen, peer, hr->nonce.data, epoch, lowest_unacked,
	    NULL, 0, 0) != 0)
		tdie(t, "no randomness");
	cascade__hello_reply__free_unpacked(hr, NULL);
	rep = tlink_rpc(t, CASCADE__MSG_TYPE__MSG_AUTH, &t->ca.a.base, 0);
	/* the Auth reply comes under the session key: the node's proof */
	clink_session_key(&t->ca, secret, secretlen, peer, t->key);
	if (rep != NULL && rep->status == 0 && cenv_reply_verify(rep, 0, 0, t->key) != 0)
		tdie(t, "the node did not prove the secret");
	if ((rep = ok_reply(t, "auth", rep, status)) == NULL)
		return -1;
	ar = cascade__auth_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (ar == NULL)
		tdie(t, "bad auth reply");
	t->session = ar->session;
	t->keyed = 1;
	/* a tool reports whatever mark the node gives, even one beyond what it sent */
	clink_auth_mark(ar, epoch, UINT64_MAX - 1, &mark);
	cascade__auth_reply__free_unpacked(ar, NULL);
	return (int64_t)mark;
}

int
tlink_push(struct tlink *t, uint64_t epoch, uint64_t first, uint64_t last,
    Cascade__Packet **pkts, uint64_t *seqs, size_t n, uint32_t *status,
    Cascade__PushReply **out)
{
	Cascade__Push push;
	Cascade__Reply *rep;

	*out = NULL;
	clink_push(&push, epoch, first, last, pkts, seqs, n);
	if ((rep = ok_reply(t, "push", tlink_rpc(t, CASCADE__MSG_TYPE__MSG_PUSH, &push.base, 1),
	    status)) == NULL)
		return *status != 0 ? -2 : -1;
	*out = cascade__push_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (*out == NULL)
		tdie(t, "bad push reply");
	return 0;
}

int
tlink_pull(struct tlink *t, uint64_t epoch, uint64_t acked, uint32_t wait_ms, uint32_t max,
    uint32_t *status, Cascade__PullReply **out)
{
	Cascade__Pull pl;
	Cascade__Reply *rep;

	*out = NULL;
	clink_pull(&pl, epoch, acked, wait_ms, max, 0);
	if ((rep = ok_reply(t, "pull", tlink_rpc(t, CASCADE__MSG_TYPE__MSG_PULL, &pl.base, 1),
	    status)) == NULL)
		return *status != 0 ? -2 : -1;
	*out = cascade__pull_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (*out == NULL)
		tdie(t, "bad pull reply");
	return 0;
}

void
tlink_close(struct tlink *t)
{
	if (t == NULL)
		return;
	if (t->http) {
		if (t->fd >= 0)
			close(t->fd);
	} else
		nng_close(t->sock);
	free(t);
}
