/*
 * tlink.c — the test tools' blocking link client (tlink.h): the requests
 * are built and the replies checked by packets/link.c; this file only adds
 * the nng req socket and a tool's way with errors (die, or a note).
 */
#include "config.h"

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

Cascade__Reply *
tlink_rpc_raw(struct tlink *t, const uint8_t *buf, size_t len)
{
	Cascade__Reply *rep;
	uint8_t *rbuf = NULL;
	size_t rlen;
	int rc;

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
	nng_close(t->sock);
	free(t);
}
