/*
 * envelope.c — the Request / Reply envelope around every link message.
 *
 * On plain carriers the envelope carries an HMAC-SHA256 under the session key
 * (CSHA256_LEN bytes) over a 12-byte header and the body:
 *   request: type (4 bytes big-endian) || session (8 bytes big-endian) || body
 *   reply:   type (4 bytes big-endian) || status  (8 bytes big-endian) || body
 * A reply has no session field, so its status takes the session's place: a
 * man in the middle can then neither change the body nor turn an error into
 * OK or the reverse. The error text is for people and is not covered.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "packets.h"

#define ENV_HDR_LEN 12

static void
env_header(uint32_t type, uint64_t word, uint8_t hdr[ENV_HDR_LEN])
{
	int i;

	for (i = 3; i >= 0; i--, type >>= 8)
		hdr[i] = (uint8_t)type;
	for (i = 11; i >= 4; i--, word >>= 8)
		hdr[i] = (uint8_t)word;
}

/*
 * HMAC-SHA256(key, hdr || body) without copying the body, which may be a
 * whole batch of packets. Returns 0 or -1 when OpenSSL fails.
 */
static int
env_mac(const uint8_t *key, const uint8_t hdr[ENV_HDR_LEN], const uint8_t *body,
    size_t bodylen, uint8_t out[CSHA256_LEN])
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
	if (!EVP_MAC_update(ctx, hdr, ENV_HDR_LEN))
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

/* 0 when mac is the right HMAC of hdr || body under key, -1 otherwise. */
static int
env_check(const uint8_t *key, const uint8_t hdr[ENV_HDR_LEN], const ProtobufCBinaryData *body,
    const ProtobufCBinaryData *mac)
{
	uint8_t want[CSHA256_LEN];

	if (key == NULL || mac->len != CSHA256_LEN || mac->data == NULL)
		return -1;
	if (env_mac(key, hdr, body->data, body->len, want) != 0)
		return -1;
	return cequal(want, mac->data, CSHA256_LEN);
}

uint8_t *
cenv_request_pack(uint32_t type, uint64_t session, const uint8_t *body, size_t bodylen,
    const uint8_t *key, size_t *len)
{
	Cascade__Request r = CASCADE__REQUEST__INIT;
	uint8_t hdr[ENV_HDR_LEN], mac[CSHA256_LEN], *buf;
	size_t n;

	r.version = CASCADE_PROTOCOL_VERSION;
	r.type = type;
	r.session = session;
	r.body.data = (uint8_t *)body;
	r.body.len = body != NULL ? bodylen : 0;
	if (key != NULL) {
		env_header(type, session, hdr);
		if (env_mac(key, hdr, body, r.body.len, mac) != 0)
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
cenv_reply_pack(uint32_t type, uint32_t status, const char *error, const uint8_t *body,
    size_t bodylen, const uint8_t *key, size_t *len)
{
	Cascade__Reply r = CASCADE__REPLY__INIT;
	uint8_t hdr[ENV_HDR_LEN], mac[CSHA256_LEN], *buf;
	size_t n;

	r.version = CASCADE_PROTOCOL_VERSION;
	r.type = type;
	r.status = status;
	if (error != NULL)
		r.error = (char *)error;
	r.body.data = (uint8_t *)body;
	r.body.len = body != NULL ? bodylen : 0;
	if (key != NULL) {
		env_header(type, status, hdr);
		if (env_mac(key, hdr, body, r.body.len, mac) != 0)
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
	uint8_t hdr[ENV_HDR_LEN];

	if (r == NULL)
		return -1;
	env_header(r->type, r->session, hdr);
	return env_check(key, hdr, &r->body, &r->mac);
}

int
cenv_reply_verify(const Cascade__Reply *r, const uint8_t *key)
{
	uint8_t hdr[ENV_HDR_LEN];

	if (r == NULL)
		return -1;
	env_header(r->type, r->status, hdr);
	return env_check(key, hdr, &r->body, &r->mac);
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
	}
	return "unknown status";
}
