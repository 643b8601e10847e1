/* crypto.c — hashes, HMAC, randomness and secrets, all through OpenSSL. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "packets.h"

/*
 * OpenSSL 3 looks an algorithm up by name on every EVP_sha256() use: fetch
 * SHA-256 once, and keep one digest context per thread (freed with the
 * thread), since the journal hashes every packet and every event record.
 */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha_key;
static EVP_MD *sha_md;

static void
sha_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void
sha_init(void)
{
	sha_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	pthread_key_create(&sha_key, sha_ctx_free);
}

static EVP_MD_CTX *
sha_ctx(void)
{
	EVP_MD_CTX *ctx;

	pthread_once(&sha_once, sha_init);
	if (sha_md == NULL)
		return NULL;
	if ((ctx = pthread_getspecific(sha_key)) == NULL) {
		if ((ctx = EVP_MD_CTX_new()) == NULL)
			return NULL;
		pthread_setspecific(sha_key, ctx);
	}
	return EVP_DigestInit_ex(ctx, sha_md, NULL) == 1 ? ctx : NULL;
}

void
csha256(const void *buf, size_t len, uint8_t out[CSHA256_LEN])
{
	csha256_2(buf, len, NULL, 0, out);
}

void
csha256_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[CSHA256_LEN])
{
	EVP_MD_CTX *ctx = sha_ctx();
	unsigned int n = CSHA256_LEN;

	if (ctx == NULL) {
		memset(out, 0, CSHA256_LEN);
		return;
	}
	EVP_DigestUpdate(ctx, a, alen);
	if (blen > 0)
		EVP_DigestUpdate(ctx, b, blen);
	EVP_DigestFinal_ex(ctx, out, &n);
}

void
chmac_sha256(const void *key, size_t keylen, const void *buf, size_t len, uint8_t out[CSHA256_LEN])
{
	unsigned int n = CSHA256_LEN;

	if (HMAC(EVP_sha256(), key, (int)keylen, buf, len, out, &n) == NULL)
		memset(out, 0, CSHA256_LEN);
}

int
crandom(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

uint64_t
crandom64(void)
{
	uint64_t v = 0;

	while (v == 0) {
		if (crandom(&v, sizeof(v)) != 0)
			v = (uint64_t)cmono_ms() * 0x9e3779b97f4a7c15ULL;  /* OpenSSL failed: still never 0 */
	}
	return v;
}

int
cequal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0 ? 0 : -1;
}

/* HMAC over: label 0 peer 0 server_nonce client_nonce */
static void
mac_labelled(const uint8_t *secret, size_t secretlen, const char *label, const char *peer,
    const uint8_t sn[CNONCE_LEN], const uint8_t cn[CNONCE_LEN], uint8_t out[CSHA256_LEN])
{
	unsigned char buf[64 + CADDR_TEXT_MAX + 2 + 2 * CNONCE_LEN];
	size_t ll = strlen(label), pl = strnlen(peer, CADDR_TEXT_MAX), off = 0;

	memcpy(buf + off, label, ll);
	off += ll;
	buf[off++] = 0;
	memcpy(buf + off, peer, pl);
	off += pl;
	buf[off++] = 0;
	memcpy(buf + off, sn, CNONCE_LEN);
	off += CNONCE_LEN;
	memcpy(buf + off, cn, CNONCE_LEN);
	off += CNONCE_LEN;
	chmac_sha256(secret, secretlen, buf, off, out);
}

void
cauth_mac(const uint8_t *secret, size_t secretlen, const char *peer,
    const uint8_t server_nonce[CNONCE_LEN], const uint8_t client_nonce[CNONCE_LEN],
    uint8_t out[CSHA256_LEN])
{
	mac_labelled(secret, secretlen, "cascade-auth-v1", peer, server_nonce, client_nonce, out);
}

void
csession_key(const uint8_t *secret, size_t secretlen, const char *peer,
    const uint8_t server_nonce[CNONCE_LEN], const uint8_t client_nonce[CNONCE_LEN],
    uint8_t key[CSHA256_LEN])
{
	mac_labelled(secret, secretlen, "cascade-session-key-v1", peer, server_nonce,
	    client_nonce, key);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* fd (opened from path) is a regular file no one but its owner may read or write. */
static int
fd_private(int fd, const char *path, char *msg, size_t msglen)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "%s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(msg, msglen, "%s: readable or writable by group or others (mode %04o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int
cfile_private(const char *path, char *msg, size_t msglen)
{
	int fd, rc;

	/* O_NONBLOCK: a FIFO planted at the path must not hang the caller. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = fd_private(fd, path, msg, msglen);
	close(fd);
	return rc;
}

/*
 * The file is read whole (it is small: a secret and a few comment lines), so
 * that a long comment cannot push the secret past a short read unnoticed.
 * Copies of the secret on the stack are wiped before returning.
 */
int
csecret_load(const char *path, uint8_t *out, size_t outlen, char *msg, size_t msglen)
{
	char buf[4096];
	ssize_t r;
	size_t n = 0, i, got = 0;
	int fd, incomment = 0, hi = -1, rc = -1;

	/* O_NONBLOCK: a FIFO planted at the path must not hang the caller. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fd_private(fd, path, msg, msglen) != 0) {
		close(fd);
		return -1;
	}
	for (;;) {
		r = read(fd, buf + got, sizeof(buf) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (got += (size_t)r) == sizeof(buf))
			break;
	}
	close(fd);
	if (r < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (got == sizeof(buf)) {
		snprintf(msg, msglen, "%s: too large for a secret file (%zu bytes or more)", path,
		    sizeof(buf));
		goto done;
	}
	for (i = 0; i < got; i++) {
		int c = (unsigned char)buf[i], v;

		if (incomment) {
			incomment = c != '\n';
			continue;
		}
		if (c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			/* Whitespace may separate bytes, never the two digits of one. */
			if (hi >= 0) {
				snprintf(msg, msglen, "%s: odd number of hex digits", path);
				goto done;
			}
			incomment = c == '#';
			continue;
		}
		if ((v = hexval(c)) < 0) {
			snprintf(msg, msglen, "%s: not a hex secret (character '%c')", path,
			    c >= 32 && c < 127 ? c : '?');
			goto done;
		}
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == outlen) {
			snprintf(msg, msglen, "%s: secret longer than %zu bytes", path, outlen);
			goto done;
		}
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0) {
		snprintf(msg, msglen, "%s: odd number of hex digits", path);
		goto done;
	}
	if (n < CSECRET_MIN) {
		snprintf(msg, msglen, "%s: secret too short (%zu bytes, need %d)", path, n,
		    CSECRET_MIN);
		goto done;
	}
	rc = (int)n;
done:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc < 0)
		OPENSSL_cleanse(out, n);
	return rc;
}

int
csecret_generate(size_t len, char *hex, size_t hexlen)
{
	uint8_t raw[256];
	size_t i;

	if (len > sizeof(raw) || hex == NULL || hexlen < 2 * len + 1 || crandom(raw, len) != 0)
		return -1;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[2 * len] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

void
chex(const uint8_t *b, size_t n, char *out)
{
	static const char xd[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = xd[b[i] >> 4];
		out[2 * i + 1] = xd[b[i] & 15];
	}
	out[2 * n] = '\0';
}
