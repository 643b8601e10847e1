/*
 * journal_crypt.c — AES-256-GCM for stored packet bodies (see
 * journal_crypt.h for the record layout and why the AAD holds what it does).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "packets.h"
#include "journal_crypt.h"

/*
 * As for SHA-256 in packets/crypto.c: fetch the cipher once (OpenSSL 3
 * looks it up by name otherwise) and keep one context per thread (the
 * journal thread seals, readers on other threads open), freed with it.
 */
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;
static pthread_key_t gcm_key;
static EVP_CIPHER *gcm_cipher;

static void
gcm_ctx_free(void *ctx)
{
	EVP_CIPHER_CTX_free(ctx);
}

static void
gcm_init(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	pthread_key_create(&gcm_key, gcm_ctx_free);
}

static EVP_CIPHER_CTX *
gcm_ctx(void)
{
	EVP_CIPHER_CTX *ctx;

	pthread_once(&gcm_once, gcm_init);
	if (gcm_cipher == NULL)
		return NULL;
	if ((ctx = pthread_getspecific(gcm_key)) == NULL) {
		if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
			return NULL;
		pthread_setspecific(gcm_key, ctx);
	}
	return ctx;
}

int
jcrypt_ring_add(struct jkeyring *ring, const char *path, char *msg, size_t msglen)
{
	uint8_t key[JCRYPT_KEY_LEN + 1], sha[CSHA256_LEN], kid[JCRYPT_KID_LEN];
	char kt[JCRYPT_KID_TEXT];
	int n;

	if (ring->n == JCRYPT_MAX_KEYS) {
		snprintf(msg, msglen, "%s: more than %d journal keys", path, JCRYPT_MAX_KEYS);
		return -1;
	}
	/* One byte of room more than a key: a longer file is refused, not cut. */
	if ((n = csecret_load(path, key, sizeof(key), msg, msglen)) < 0)
		return -1;
	if (n != JCRYPT_KEY_LEN) {
		OPENSSL_cleanse(key, sizeof(key));
		snprintf(msg, msglen, "%s: key of %s%d bytes, need %d (make one with "
		    "\"openssl rand -hex 32\")", path, n > JCRYPT_KEY_LEN ? "over " : "",
		    n > JCRYPT_KEY_LEN ? JCRYPT_KEY_LEN : n, JCRYPT_KEY_LEN);
		return -1;
	}
	csha256(key, JCRYPT_KEY_LEN, sha);
	memcpy(kid, sha, JCRYPT_KID_LEN);
	if (jcrypt_ring_find(ring, kid) != NULL) {
		OPENSSL_cleanse(key, sizeof(key));
		snprintf(msg, msglen, "%s: key id %s is listed twice", path,
		    jcrypt_kid_text(kid, kt));
		return -1;
	}
	memcpy(ring->keys[ring->n].kid, kid, JCRYPT_KID_LEN);
	memcpy(ring->keys[ring->n].key, key, JCRYPT_KEY_LEN);
	ring->n++;
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}

void
jcrypt_ring_clear(struct jkeyring *ring)
{
	OPENSSL_cleanse(ring, sizeof(*ring));
}

const uint8_t *
jcrypt_ring_find(const struct jkeyring *ring, const uint8_t kid[JCRYPT_KID_LEN])
{
	unsigned i;

	for (i = 0; ring != NULL && i < ring->n; i++)
		if (memcmp(ring->keys[i].kid, kid, JCRYPT_KID_LEN) == 0)
			return ring->keys[i].key;
	return NULL;
}

char *
jcrypt_kid_text(const uint8_t kid[JCRYPT_KID_LEN], char out[JCRYPT_KID_TEXT])
{
	unsigned i;

	for (i = 0; i < JCRYPT_KID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", kid[i]);
	return out;
}

int
jcrypt_seal(const struct jkeyring *ring, const uint8_t *pkey, size_t pkeylen,
    const uint8_t *plain, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t *ct = out + JCRYPT_HEAD;
	int n, fin;

	if (ring == NULL || ring->n == 0 || len > INT32_MAX || (ctx = gcm_ctx()) == NULL)
		return -1;
	memcpy(out, ring->keys[0].kid, JCRYPT_KID_LEN);
	if (crandom(out + JCRYPT_KID_LEN, JCRYPT_NONCE_LEN) != 0)
		return -1;
	/* The default GCM IV length is 96 bits: no EVP_CTRL_GCM_SET_IVLEN needed. */
	if (EVP_EncryptInit_ex2(ctx, gcm_cipher, ring->keys[0].key, out + JCRYPT_KID_LEN,
	    NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, out, JCRYPT_KID_LEN) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, pkey, (int)pkeylen) != 1 ||
	    EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, JCRYPT_TAG_LEN, ct + len) != 1)
		return -1;
	return 0;
}

int
jcrypt_open(const struct jkeyring *ring, const uint8_t *pkey, size_t pkeylen,
    const uint8_t *in, size_t inlen, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	const uint8_t *key;
	size_t len;
	uint8_t tag[JCRYPT_TAG_LEN];
	int n, fin;

	if (inlen < JCRYPT_OVERHEAD || inlen - JCRYPT_OVERHEAD > INT32_MAX)
		return JCRYPT_BAD;
	if ((key = jcrypt_ring_find(ring, in)) == NULL)
		return JCRYPT_NO_KEY;
	if ((ctx = gcm_ctx()) == NULL)
		return JCRYPT_BAD;
	len = inlen - JCRYPT_OVERHEAD;
	/* Copied first: out may overlap in, and the tag sits after the text. */
	memcpy(tag, in + JCRYPT_HEAD + len, JCRYPT_TAG_LEN);
	if (EVP_DecryptInit_ex2(ctx, gcm_cipher, key, in + JCRYPT_KID_LEN, NULL) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, in, JCRYPT_KID_LEN) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, pkey, (int)pkeylen) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, in + JCRYPT_HEAD, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, JCRYPT_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
		OPENSSL_cleanse(out, len);
		return JCRYPT_BAD;
	}
	return 0;
}
