/*
 * journal_crypt_test.c — patient payloads at rest: the AES-256-GCM seal and
 * open of a stored body (wrong key, tampered byte, swapped AAD), journal key
 * files, and a journal with keys (nothing clear on disk, refused without its
 * key, rotation, cancelled bodies dropped).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#undef CU_TEST
#include "cu.h"
#include "jtest.h"
#include "journal_crypt.h"

#define RC(expr) CHECK_RC(expr, journal_strerror)

static const char MARKER[] = "PATIENT-MARKER-7f3a9c-Zhang-San-ECG";

/* Writes a key file of nbytes random hex bytes with mode; returns its malloc'd path. */
static char *
key_file(const char *dir, const char *name, size_t nbytes, mode_t mode)
{
	char hex[2 * 64 + 1], *path;
	FILE *f;

	CU_ASSERT_FATAL(nbytes <= 64);
	CU_ASSERT_FATAL(csecret_generate(nbytes, hex, sizeof(hex)) == 0);
	CU_ASSERT_FATAL(asprintf(&path, "%s/%s", dir, name) > 0);
	CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
	fprintf(f, "# journal key for a test\n%s\n", hex);
	fclose(f);
	chmod(path, mode);
	return path;
}

static void
ring_of(struct jkeyring *r, const char *a, const char *b)
{
	char msg[512];

	memset(r, 0, sizeof(*r));
	if (a != NULL)
		CU_ASSERT_EQUAL_FATAL(jcrypt_ring_add(r, a, msg, sizeof(msg)), 0);
	if (b != NULL)
		CU_ASSERT_EQUAL_FATAL(jcrypt_ring_add(r, b, msg, sizeof(msg)), 0);
}

/* A ring of one key made from fixed bytes. */
static void
ring_fixed(struct jkeyring *r, uint8_t fill)
{
	uint8_t sha[CSHA256_LEN];

	memset(r, 0, sizeof(*r));
	r->n = 1;
	memset(r->keys[0].key, fill, JCRYPT_KEY_LEN);
	csha256(r->keys[0].key, JCRYPT_KEY_LEN, sha);
	memcpy(r->keys[0].kid, sha, JCRYPT_KID_LEN);
}

static const uint8_t PKEY[17] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0 };

static void
TEST_seal_open(void)
{
	struct jkeyring r;
	uint8_t box[sizeof(MARKER) + JCRYPT_OVERHEAD], out[sizeof(MARKER)], box2[sizeof(box)];

	ring_fixed(&r, 0x11);
	CHECK_EQ(jcrypt_seal(&r, PKEY, sizeof(PKEY), (const uint8_t *)MARKER, sizeof(MARKER), box), 0);
	CU_ASSERT(memcmp(box, r.keys[0].kid, JCRYPT_KID_LEN) == 0);
	CU_ASSERT(memmem(box, sizeof(box), "PATIENT", 7) == NULL);
	CHECK_EQ(jcrypt_open(&r, PKEY, sizeof(PKEY), box, sizeof(box), out), 0);
	CU_ASSERT(memcmp(out, MARKER, sizeof(MARKER)) == 0);
	/* a fresh nonce each time: the same text never seals the same way */
	CHECK_EQ(jcrypt_seal(&r, PKEY, sizeof(PKEY), (const uint8_t *)MARKER, sizeof(MARKER), box2), 0);
	CU_ASSERT(memcmp(box + JCRYPT_KID_LEN, box2 + JCRYPT_KID_LEN, JCRYPT_NONCE_LEN) != 0);
	CU_ASSERT(memcmp(box + JCRYPT_HEAD, box2 + JCRYPT_HEAD, sizeof(MARKER)) != 0);
	/* in place, as the journal does it */
	memcpy(box + JCRYPT_HEAD, MARKER, sizeof(MARKER));
	CHECK_EQ(jcrypt_seal(&r, PKEY, sizeof(PKEY), box + JCRYPT_HEAD, sizeof(MARKER), box), 0);
	CHECK_EQ(jcrypt_open(&r, PKEY, sizeof(PKEY), box, sizeof(box), box + JCRYPT_HEAD), 0);
	CU_ASSERT(memcmp(box + JCRYPT_HEAD, MARKER, sizeof(MARKER)) == 0);
	/* no key, no seal */
	memset(&r, 0, sizeof(r));
	CU_ASSERT(jcrypt_seal(&r, PKEY, sizeof(PKEY), (const uint8_t *)MARKER, sizeof(MARKER), box) != 0);
}

static void
TEST_wrong_key(void)
{
	struct jkeyring a, b;
	uint8_t box[sizeof(MARKER) + JCRYPT_OVERHEAD], out[sizeof(MARKER)];

	ring_fixed(&a, 0x11);
	ring_fixed(&b, 0x22);
	CHECK_EQ(jcrypt_seal(&a, PKEY, sizeof(PKEY), (const uint8_t *)MARKER, sizeof(MARKER), box), 0);
	CHECK_EQ(jcrypt_open(&b, PKEY, sizeof(PKEY), box, sizeof(box), out), JCRYPT_NO_KEY);
	/* another key under a's key id (a forged id): the tag does not match */
	memcpy(b.keys[0].kid, a.keys[0].kid, JCRYPT_KID_LEN);
	memset(out, 0x5a, sizeof(out));
	CHECK_EQ(jcrypt_open(&b, PKEY, sizeof(PKEY), box, sizeof(box), out), JCRYPT_BAD);
	CU_ASSERT(memmem(out, sizeof(out), "PATIENT", 7) == NULL);
	/* too short to be a sealed body */
	CHECK_EQ(jcrypt_open(&a, PKEY, sizeof(PKEY), box, JCRYPT_OVERHEAD - 1, out), JCRYPT_BAD);
}

static void
TEST_tampered_byte(void)
{
	struct jkeyring r;
	uint8_t box[sizeof(MARKER) + JCRYPT_OVERHEAD], out[sizeof(MARKER)];
	size_t i;
	int rc;

	ring_fixed(&r, 0x33);
	CHECK_EQ(jcrypt_seal(&r, PKEY, sizeof(PKEY), (const uint8_t *)MARKER, sizeof(MARKER), box), 0);
	/* every byte: key id, nonce, text, tag */
	for (i = 0; i < sizeof(box); i++) {
		box[i] ^= 0x01;
		rc = jcrypt_open(&r, PKEY, sizeof(PKEY), box, sizeof(box), out);
		if (rc != (i < JCRYPT_KID_LEN ? JCRYPT_NO_KEY : JCRYPT_BAD))
			fprintf(stderr, "byte %zu flipped: open returned %d\n", i, rc);
		CU_ASSERT(rc == (i < JCRYPT_KID_LEN ? JCRYPT_NO_KEY : JCRYPT_BAD));
		box[i] ^= 0x01;
	}
	CHECK_EQ(jcrypt_open(&r, PKEY, sizeof(PKEY), box, sizeof(box), out), 0);
}

static void
TEST_swapped_aad(void)
{
	struct jkeyring r;
	uint8_t box[sizeof(MARKER) + JCRYPT_OVERHEAD], out[sizeof(MARKER)], other[17];

	ring_fixed(&r, 0x44);
	CHECK_EQ(jcrypt_seal(&r, PKEY, sizeof(PKEY), (const uint8_t *)MARKER, sizeof(MARKER), box), 0);
	/* the same body under another packet id, or the other leg */
	memcpy(other, PKEY, sizeof(other));
	other[3] ^= 0x80;
	CHECK_EQ(jcrypt_open(&r, other, sizeof(other), box, sizeof(box), out), JCRYPT_BAD);
	memcpy(other, PKEY, sizeof(other));
	other[16] = 1;
	CHECK_EQ(jcrypt_open(&r, other, sizeof(other), box, sizeof(box), out), JCRYPT_BAD);
	CHECK_EQ(jcrypt_open(&r, PKEY, sizeof(PKEY), box, sizeof(box), out), 0);
}

static void
TEST_key_files(void)
{
	char *dir = cu_tmpdir("jcrypt"), msg[512], kt[JCRYPT_KID_TEXT];
	char *good = key_file(dir, "good.key", 32, 0600);
	char *open_ = key_file(dir, "open.key", 32, 0644);
	char *shrt = key_file(dir, "short.key", 16, 0600);
	char *lng = key_file(dir, "long.key", 33, 0600);
	struct jkeyring r;

	memset(&r, 0, sizeof(r));
	CU_ASSERT(jcrypt_ring_add(&r, open_, msg, sizeof(msg)) != 0);
	CU_ASSERT(strstr(msg, "chmod 600") != NULL);
	CU_ASSERT(jcrypt_ring_add(&r, shrt, msg, sizeof(msg)) != 0);
	CU_ASSERT(strstr(msg, "16 bytes, need 32") != NULL);
	CU_ASSERT(jcrypt_ring_add(&r, lng, msg, sizeof(msg)) != 0);
	CU_ASSERT(strstr(msg, "need 32") != NULL);
	CHECK_EQ(r.n, 0);
	CHECK_EQ(jcrypt_ring_add(&r, good, msg, sizeof(msg)), 0);
	CHECK_EQ(r.n, 1);
	CU_ASSERT(jcrypt_ring_add(&r, good, msg, sizeof(msg)) != 0);
	CU_ASSERT(strstr(msg, "listed twice") != NULL);
	CHECK_EQ(r.n, 1);
	CU_ASSERT(jcrypt_ring_find(&r, r.keys[0].kid) == r.keys[0].key);
	CHECK_EQ(strlen(jcrypt_kid_text(r.keys[0].kid, kt)), 16);
	jcrypt_ring_clear(&r);
	CHECK_EQ(r.n, 0);
	free(good);
	free(open_);
	free(shrt);
	free(lng);
	cu_rmtree(dir);
	free(dir);
}

/* How often s occurs in the file at path. */
static int
file_count(const char *path, const char *s)
{
	static uint8_t buf[16 << 20];
	size_t n, len = strlen(s);
	const uint8_t *p;
	int fd, count = 0;

	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = (size_t)read(fd, buf, sizeof(buf));
	close(fd);
	for (p = buf; (p = memmem(p, n - (size_t)(p - buf), s, len)) != NULL; p++)
		count++;
	return count;
}

static int
open_with(struct journal **j, const char *dir, const struct jkeyring *r, int readonly,
    char *err, size_t errlen)
{
	struct journal_opts o;

	jt_opts(&o, dir);
	o.keys = r;
	o.readonly = readonly;
	return journal_open(j, &o, err, errlen);
}

/* Commits one packet carrying MARKER into qid; its key in *k. */
static void
put_marker(struct journal *j, uint32_t qid, struct jkey *k)
{
	struct tpkt t;
	struct jitem it;
	struct jbatch b;

	tpkt_init(&t, "county-a/dr-lin", "city-b/dr-wang", 0);
	t.p.payload.data = (uint8_t *)MARKER;
	t.p.payload.len = sizeof(MARKER) - 1;
	memset(&it, 0, sizeof(it));
	it.pkt = &t.p;
	it.queues[0] = qid;
	it.nqueues = 1;
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = &it;
	b.n = 1;
	RC(journal_commit_batch(j, &b));
	CHECK_EQ(it.result, JR_ACCEPTED);
	memcpy(k->id, t.id, CID_LEN);
	k->leg = JLEG_UP;
	tpkt_free(&t);
}

/* The payload of stored packet k is MARKER. */
static int
has_marker(struct journal *j, const struct jkey *k)
{
	Cascade__Packet *p;
	uint8_t *bytes;
	size_t len;
	int ok;

	if (journal_packet_get(j, k, &bytes, &len, NULL) != 0)
		return 0;
	p = cascade__packet__unpack(NULL, len, bytes);
	free(bytes);
	ok = p != NULL && p->payload.len == sizeof(MARKER) - 1 &&
	    memcmp(p->payload.data, MARKER, p->payload.len) == 0;
	if (p != NULL)
		cascade__packet__free_unpacked(p, NULL);
	return ok;
}

static void
TEST_journal_sealed(void)
{
	char *dir = cu_tmpdir("jcrypt"), *jdir, *mdb, err[1024], kt[JCRYPT_KID_TEXT];
	char *ka, *kb;
	struct jkeyring ra, rba, rb;
	struct journal *j = NULL;
	struct jentry e[4];
	struct jwhere w;
	struct jkey k1, k2, k0;
	uint32_t q;
	unsigned n;
	int was;

	CU_ASSERT_FATAL(asprintf(&jdir, "%s/journal", dir) > 0);
	CU_ASSERT_FATAL(asprintf(&mdb, "%s/data.mdb", jdir) > 0);
	ka = key_file(dir, "a.key", 32, 0600);
	kb = key_file(dir, "b.key", 32, 0600);
	ring_of(&ra, ka, NULL);
	ring_of(&rba, kb, ka);
	ring_of(&rb, kb, NULL);

	/* a clear packet first: a key added later leaves it readable */
	RC(open_with(&j, jdir, NULL, 0, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));
	put_marker(j, q, &k0);
	journal_close(j);
	CU_ASSERT(file_count(mdb, MARKER) > 0);     /* the check below can fail */

	RC(open_with(&j, jdir, &ra, 0, err, sizeof(err)));
	CU_ASSERT(has_marker(j, &k0));
	/* what was queued at the open is in flight until a session says the
	 * peer has none of it (journal_sent_set): then it can be cancelled */
	journal_sent_set(j, q, 0);
	RC(journal_cancel(j, &k0, "county-a/dr-lin", 5, &was));
	put_marker(j, q, &k1);
	CU_ASSERT(has_marker(j, &k1));
	RC(journal_peek(j, q, 1, 4, 1 << 20, e, &n));
	CHECK_EQ(n, 1);
	CU_ASSERT(n == 1 && memmem(e[0].bytes, e[0].len, MARKER, sizeof(MARKER) - 1) != NULL);
	journal_entries_free(e, n);
	journal_close(j);

	/* without the key: refused, naming the key id and the count */
	CHECK_EQ(open_with(&j, jdir, NULL, 0, err, sizeof(err)), JOURNAL_NO_KEY);
	CU_ASSERT(j == NULL);
	CU_ASSERT(strstr(err, jcrypt_kid_text(ra.keys[0].kid, kt)) != NULL);
	CU_ASSERT(strstr(err, "1 packet bodies are encrypted") != NULL);
	CU_ASSERT(strstr(err, "no journal-key") != NULL);
	CHECK_EQ(open_with(&j, jdir, &rb, 0, err, sizeof(err)), JOURNAL_NO_KEY);
	CU_ASSERT(strstr(err, "does not list") != NULL);
	CU_ASSERT(strstr(err, kt) != NULL);

	/* read only (an audit), no key: events read, the body does not */
	RC(open_with(&j, jdir, NULL, 1, err, sizeof(err)));
	CU_ASSERT(jt_events(j, JEV_ACCEPTED) == 2);
	CU_ASSERT(jt_events(j, JEV_CANCELLED) == 1);
	CHECK_EQ(journal_packet_where(j, &k1, &w), JOURNAL_NO_KEY);
	journal_close(j);

	/* rotated: b seals new records, a still opens the old one */
	RC(open_with(&j, jdir, &rba, 0, err, sizeof(err)));
	CU_ASSERT(has_marker(j, &k1));
	put_marker(j, q, &k2);
	CU_ASSERT(has_marker(j, &k2));
	journal_close(j);
	/*
	 * Both sealed copies are unreadable on disk; only a freed page of the
	 * cancelled clear record may still hold the marker until LMDB reuses it.
	 */
	CU_ASSERT(file_count(mdb, MARKER) <= 1);

	/* b alone: still refused, a's record is there */
	CHECK_EQ(open_with(&j, jdir, &rb, 0, err, sizeof(err)), JOURNAL_NO_KEY);
	CU_ASSERT(strstr(err, kt) != NULL);
	/* once a's last record is cancelled, b alone opens */
	RC(open_with(&j, jdir, &rba, 0, err, sizeof(err)));
	journal_sent_set(j, q, 0);
	RC(journal_cancel(j, &k1, "county-a/dr-lin", 6, &was));
	CHECK_EQ(was, 1);
	RC(journal_packet_where(j, &k1, &w));
	CHECK_EQ(w.pruned, 1);
	/* what is left is the packet without its payload, in clear (metadata) */
	CU_ASSERT_FATAL(w.body != NULL);
	{
		Cascade__Packet *p = cascade__packet__unpack(NULL, w.bodylen, w.body);

		CU_ASSERT_FATAL(p != NULL);
		CHECK_EQ(p->payload.len, 0);
		CU_ASSERT(strcmp(p->src, "county-a/dr-lin") == 0);
		CU_ASSERT(strcmp(p->command, "consult.request") == 0);
		cascade__packet__free_unpacked(p, NULL);
	}
	CU_ASSERT(memmem(w.body, w.bodylen, "PATIENT", 7) == NULL);
	free(w.body);
	/* a repeated cancel is still checked against the source */
	CHECK_EQ(journal_cancel(j, &k1, "county-a/eve", 7, &was), JOURNAL_NOT_YOURS);
	RC(journal_cancel(j, &k1, "county-a/dr-lin", 7, &was));
	CHECK_EQ(was, 0);
	journal_close(j);
	RC(open_with(&j, jdir, &rb, 0, err, sizeof(err)));
	CU_ASSERT(has_marker(j, &k2));
	CU_ASSERT(!has_marker(j, &k1));
	{
		uint64_t count, bad;

		RC(journal_verify(j, &count, &bad));
	}
	journal_close(j);

	jcrypt_ring_clear(&ra);
	jcrypt_ring_clear(&rba);
	jcrypt_ring_clear(&rb);
	free(ka);
	free(kb);
	free(mdb);
	free(jdir);
	cu_rmtree(dir);
	free(dir);
}

/* Expiry drops the body too (and counts it off its key id). */
static void
TEST_expired_dropped(void)
{
	char *dir = cu_tmpdir("jcrypt"), *ka, err[1024];
	struct jkeyring ra;
	struct journal *j = NULL;
	struct jexpired x[4];
	struct jwhere w;
	uint32_t q;
	unsigned n, i;

	ka = key_file(dir, "a.key", 32, 0600);
	ring_of(&ra, ka, NULL);
	RC(open_with(&j, dir, &ra, 0, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));
	RC(jt_insert(j, q, 2, 40, 1, 100, NULL));
	RC(journal_sweep_expired(j, 200, 4, x, &n));
	CHECK_EQ(n, 2);
	for (i = 0; i < n; i++) {
		Cascade__Packet *p = cascade__packet__unpack(NULL, x[i].len, x[i].bytes);

		CU_ASSERT(p != NULL && p->payload.len == 40);  /* the notice has it */
		if (p != NULL)
			cascade__packet__free_unpacked(p, NULL);
		RC(journal_packet_where(j, &x[i].key, &w));
		CHECK_EQ(w.pruned, 1);
		p = w.body != NULL ? cascade__packet__unpack(NULL, w.bodylen, w.body) : NULL;
		CU_ASSERT(p != NULL && p->payload.len == 0);
		if (p != NULL)
			cascade__packet__free_unpacked(p, NULL);
		free(w.body);
		free(x[i].bytes);
	}
	journal_close(j);
	/* no sealed body left: the journal opens without a key */
	RC(open_with(&j, dir, NULL, 0, err, sizeof(err)));
	journal_close(j);
	jcrypt_ring_clear(&ra);
	free(ka);
	cu_rmtree(dir);
	free(dir);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_seal_open),
	CU_TEST(TEST_wrong_key),
	CU_TEST(TEST_tampered_byte),
	CU_TEST(TEST_swapped_aad),
	CU_TEST(TEST_key_files),
	CU_TEST(TEST_journal_sealed),
	CU_TEST(TEST_expired_dropped),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("journal_crypt", tests, argc, argv);
}
