/*
 * server_reply.c — how the server answers a request (struct sreq): the
 * reply envelope, signed with the session key when the carrier is plain,
 * handed back to its carrier; and the failures, logged with the peer.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

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
void
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

void
sreply_msg(struct sreq *r, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *body = xmalloc(len ? len : 1);

	protobuf_c_message_pack(m, body);
	sreply(r, STATUS(OK), NULL, body, len);
	free(body);
}

void
sfail(struct sreq *r, uint32_t status, const char *fmt, ...) PRINTF(3, 4);

void
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

