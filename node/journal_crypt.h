/*
 * journal_crypt.h — patient payloads encrypted at rest: the journal keys
 * (journal-key in cascade.conf(5)) and AES-256-GCM seal/open of one stored
 * packet body. Used by the journal (journal*.c) only (and conf.c to load the keys).
 *
 * A sealed body is  kid[8] || nonce[12] || ciphertext || tag[16]:
 *   kid    the first 8 bytes of SHA-256(key): which key sealed it, so old
 *          records stay readable after a rotation while their key is listed;
 *   nonce  fresh random 96 bits per record (never reused under one key:
 *          2^32 records per key keep the collision odds below 2^-32);
 *   AAD    kid || the packet key (id, leg), so a record cannot be moved to
 *          another packet's key or passed off under another key id.
 * The ciphertext has the length of the plain body (GCM is a stream mode).
 */
#ifndef CASCADE_JOURNAL_CRYPT_H
#define CASCADE_JOURNAL_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#define JCRYPT_KEY_LEN     32
#define JCRYPT_KID_LEN     8
#define JCRYPT_NONCE_LEN   12
#define JCRYPT_TAG_LEN     16
#define JCRYPT_HEAD        (JCRYPT_KID_LEN + JCRYPT_NONCE_LEN)
#define JCRYPT_OVERHEAD    (JCRYPT_HEAD + JCRYPT_TAG_LEN)
#define JCRYPT_MAX_KEYS    8
#define JCRYPT_KID_TEXT    (2 * JCRYPT_KID_LEN + 1)

/* The configured keys: keys[0] seals new records, all of them open. */
struct jkeyring {
	unsigned n;
	struct {
		uint8_t kid[JCRYPT_KID_LEN];
		uint8_t key[JCRYPT_KEY_LEN];
	} keys[JCRYPT_MAX_KEYS];
};

/*
 * Reads a key file (the secret-file format: hex, '#' comments, refused when
 * group or others may read or write it) holding exactly 32 bytes, and adds
 * it to ring (a key already listed is refused too). Returns 0, or -1 with
 * msg set, e.g. "/etc/cascade/journal.key: key of 16 bytes, need 32".
 */
int jcrypt_ring_add(struct jkeyring *ring, const char *path, char *msg, size_t msglen);
/* Wipes the keys. */
void jcrypt_ring_clear(struct jkeyring *ring);
/* The key of kid, or NULL when ring does not hold it. */
const uint8_t *jcrypt_ring_find(const struct jkeyring *ring, const uint8_t kid[JCRYPT_KID_LEN]);
/* kid as 16 hex digits. */
char *jcrypt_kid_text(const uint8_t kid[JCRYPT_KID_LEN], char out[JCRYPT_KID_TEXT]);

/*
 * Seals len bytes at plain under ring->keys[0] into out (len +
 * JCRYPT_OVERHEAD bytes). plain may be out + JCRYPT_HEAD (in place: the
 * caller packs the body there and no copy is made). pkey: the packet key
 * (pkeylen bytes), bound as AAD. Returns 0, or -1 (no key, OpenSSL failure).
 * One cipher context per thread, reused.
 */
int jcrypt_seal(const struct jkeyring *ring, const uint8_t *pkey, size_t pkeylen,
    const uint8_t *plain, size_t len, uint8_t *out);

#define JCRYPT_NO_KEY   1       /* sealed under a key id ring does not hold */
#define JCRYPT_BAD      2       /* too short, tampered, or not this packet's */

/*
 * Opens a sealed body (inlen bytes) bound to pkey into out (inlen -
 * JCRYPT_OVERHEAD bytes; out may be in + JCRYPT_HEAD). Returns 0,
 * JCRYPT_NO_KEY or JCRYPT_BAD; on failure out holds nothing usable (wiped).
 */
int jcrypt_open(const struct jkeyring *ring, const uint8_t *pkey, size_t pkeylen,
    const uint8_t *in, size_t inlen, uint8_t *out);

#endif /* CASCADE_JOURNAL_CRYPT_H */
