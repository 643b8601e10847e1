/*
 * envelope.c — the Request / Reply envelope around every link message.
 *
 * A mac is HMAC-SHA256 under the session key (CSHA256_LEN bytes) over a
 * 29-byte header, then the error text (replies), then the body:
 *   direction 'Q' or 'R' (1 byte) || type (4) || status (4, 0 in requests)
 *   || session (8) || seq (8) || length of the error text (4), big-endian.
 * A reply carries the session and seq of the request it answers, not its
 * own: so a man in the middle can neither move a reply to another request
 * (an old PullReply for a new Pull), nor change its status or text, nor
 * reflect a request as a reply. Requests carry a per-session counter (seq)
 * that the parent refuses to see twice: a replayed request fails.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "packets.h"

#define ENV_HDR_LEN 29

struct env_hdr {
	uint8_t b[ENV_HDR_LEN];
};

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void
env_header(char dir, uint32_t type, uint32_t status, uint64_t session, uint64_t seq,
    size_t errlen, struct env_hdr *h)
{
	h->b[0] = (uint8_t)dir;
	put_be(h->b + 1, type, 4);
	put_be(h->b + 5, status, 4);
	put_be(h->b + 9, session, 8);
	put_be(h->b + 17, seq, 8);
	put_be(h->b + 25, errlen, 4);
}

/*
 * HMAC-SHA256(key, hdr || err || body) without copying the body, which may
 * be a whole batch of packets. Returns 0 or -1 when OpenSSL fails.
 */
static int
env_mac(const uint8_t *key, const struct env_hdr *h, const char *err, size_t errlen,
    const uint8_t *body, size_t bodylen, uint8_t out[CSHA256_LEN])
{
	OSSL_PARAM params[2];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	size_t outlen = 0;
	int rc = -1;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		goto fail;
	if ((ctx = EVP_MAC_CTX_new(mac)) == NULL)
		goto fail;
	if (!EVP_MAC_init(ctx, key, CSHA256_LEN, params))
		goto fail;
	if (!EVP_MAC_update(ctx, h->b, ENV_HDR_LEN))
		goto fail;
	if (errlen > 0 && !EVP_MAC_update(ctx, (const unsigned char *)err, errlen))
		goto fail;
	if (bodylen > 0 && !EVP_MAC_update(ctx, body, bodylen))
		goto fail;
	if (!EVP_MAC_final(ctx, out, &outlen, CSHA256_LEN) || outlen != CSHA256_LEN)
		goto fail;
	rc = 0;
fail:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

/* 0 when mac is the right HMAC of hdr || err || body under key, -1 otherwise. */
static int
env_check(const uint8_t *key, const struct env_hdr *h, const char *err, size_t errlen,
    const ProtobufCBinaryData *body, const ProtobufCBinaryData *mac)
{
	uint8_t want[CSHA256_LEN];

	if (key == NULL || mac->len != CSHA256_LEN || mac->data == NULL)
		return -1;
	if (env_mac(key, h, err, errlen, body->data, body->len, want) != 0)
		return -1;
	return cequal(want, mac->data, CSHA256_LEN);
}

uint8_t *
cenv_request_pack(uint32_t type, uint64_t session, uint64_t seq, const uint8_t *body,
    size_t bodylen, const uint8_t *key, size_t *len)
{
	Cascade__Request r = CASCADE__REQUEST__INIT;
	struct env_hdr h;
	uint8_t mac[CSHA256_LEN], *buf;
	size_t n;

	r.version = CASCADE_PROTOCOL_VERSION;
	r.type = type;
	r.session = session;
	r.seq = seq;
	r.body.data = (uint8_t *)body;
	r.body.len = body != NULL ? bodylen : 0;
	if (key != NULL) {
		env_header('Q', type, 0, session, seq, 0, &h);
		if (env_mac(key, &h, NULL, 0, body, r.body.len, mac) != 0)
			return NULL;
		r.mac.data = mac;
		r.mac.len = CSHA256_LEN;
	}
	n = cascade__request__get_packed_size(&r);
	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		return NULL;
	*len = cascade__request__pack(&r, buf);
	return buf;
}

uint8_t *
cenv_reply_pack(uint32_t type, uint32_t status, const char *error, uint64_t session,
    uint64_t seq, const uint8_t *body, size_t bodylen, const uint8_t *key, size_t *len)
{
	Cascade__Reply r = CASCADE__REPLY__INIT;
	struct env_hdr h;
	uint8_t mac[CSHA256_LEN], *buf;
	size_t n, errlen = error != NULL ? strlen(error) : 0;

	r.version = CASCADE_PROTOCOL_VERSION;
	r.type = type;
	r.status = status;
	if (error != NULL)
		r.error = (char *)error;
	r.body.data = (uint8_t *)body;
	r.body.len = body != NULL ? bodylen : 0;
	if (key != NULL) {
		env_header('R', type, status, session, seq, errlen, &h);
		if (env_mac(key, &h, error, errlen, body, r.body.len, mac) != 0)
			return NULL;
		r.mac.data = mac;
		r.mac.len = CSHA256_LEN;
	}
	n = cascade__reply__get_packed_size(&r);
	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		return NULL;
	*len = cascade__reply__pack(&r, buf);
	return buf;
}

int
cenv_request_verify(const Cascade__Request *r, const uint8_t *key)
{
	struct env_hdr h;

	if (r == NULL)
		return -1;
	env_header('Q', r->type, 0, r->session, r->seq, 0, &h);
	return env_check(key, &h, NULL, 0, &r->body, &r->mac);
}

int
cenv_reply_verify(const Cascade__Reply *r, uint64_t session, uint64_t seq, const uint8_t *key)
{
	struct env_hdr h;
	size_t errlen;

	if (r == NULL)
		return -1;
	errlen = r->error != NULL ? strlen(r->error) : 0;
	env_header('R', r->type, r->status, session, seq, errlen, &h);
	return env_check(key, &h, r->error, errlen, &r->body, &r->mac);
}

char *
csession_short(uint64_t session, char buf[CSESSION_SHORT_LEN])
{
	/* enough to tell sessions apart in a log, too little to use one */
	snprintf(buf, CSESSION_SHORT_LEN, "%04llx...", (unsigned long long)(session >> 48));
	return buf;
}

const char *
cstatus_str(uint32_t status)
{
	switch (status) {
	case CASCADE__STATUS__STATUS_OK:
		return "ok";
	case CASCADE__STATUS__STATUS_BAD_REQUEST:
		return "bad request";
	case CASCADE__STATUS__STATUS_VERSION:
		return "protocol version not spoken";
	case CASCADE__STATUS__STATUS_UNKNOWN_PEER:
		return "unknown peer";
	case CASCADE__STATUS__STATUS_AUTH_FAILED:
		return "authentication failed";
	case CASCADE__STATUS__STATUS_NO_SESSION:
		return "no session";
	case CASCADE__STATUS__STATUS_BAD_MAC:
		return "bad mac";
	case CASCADE__STATUS__STATUS_CARRIER_REFUSED:
		return "carrier refused";
	case CASCADE__STATUS__STATUS_TOO_LARGE:
		return "too large";
	case CASCADE__STATUS__STATUS_BUSY:
		return "busy";
	case CASCADE__STATUS__STATUS_INTERNAL:
		return "internal error";
	case CASCADE__STATUS__STATUS_NOT_ALLOWED:
		return "not allowed";
	case CASCADE__STATUS__STATUS_REPLAYED:
		return "replayed request";
	}
	return "unknown status";
}
