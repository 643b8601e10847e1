/*
 * hashtab_test.c — node/hashtab.c: every element added is found by its key
 * and only by it, across the table's growth; removed ones are gone; elements
 * sharing a key (or only a hash) are all walked; the hashes spread
 * sequential keys over the buckets.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "hashtab.h"

#define N 10000

struct elem {
	uint64_t key;
	int gone;
	struct hnode hn;
};

static struct elem *
find(const struct htab *t, uint64_t key)
{
	struct hnode *n;

	for (n = ht_first(t, ht_hash_u64(key)); n != NULL; n = ht_next(n)) {
		struct elem *e = HT_ENTRY(n, struct elem, hn);

		if (e->key == key)
			return e;
	}
	return NULL;
}

/* 10 000 keys through many doublings: each found, removed ones (every third) not. */
static void
TEST_add_find_del_across_growth(void)
{
	struct htab t = HTAB_INITIALIZER;
	struct elem *e = calloc(N, sizeof(*e));
	unsigned i, bad = 0;

	CU_ASSERT_PTR_NULL(find(&t, 1));        /* empty, no buckets yet */
	for (i = 0; i < N; i++) {
		e[i].key = (uint64_t)i * 7 + 1;
		ht_add(&t, &e[i].hn, ht_hash_u64(e[i].key));
	}
	CHECK_EQ(t.n, N);
	CU_ASSERT(t.nb >= N);
	CU_ASSERT((t.nb & (t.nb - 1)) == 0);
	for (i = 0; i < N; i += 3) {
		ht_del(&t, &e[i].hn);
		e[i].gone = 1;
	}
	for (i = 0; i < N; i++)
		bad += find(&t, e[i].key) != (e[i].gone ? NULL : &e[i]);
	CHECK_EQ(bad, 0);
	CU_ASSERT_PTR_NULL(find(&t, 0));        /* never added */
	CU_ASSERT_PTR_NULL(find(&t, (uint64_t)N * 7 + 1));
	CHECK_EQ(t.n, N - (N + 2) / 3);
	ht_clear(&t);
	CHECK_EQ(t.n, 0);
	CU_ASSERT_PTR_NULL(find(&t, e[1].key));
	free(e);
}

/* Elements with one key and ones whose hash collides: ht_next walks exactly those of the hash. */
static void
TEST_same_hash_walked(void)
{
	struct htab t = HTAB_INITIALIZER;
	struct elem a = { .key = 5 }, b = { .key = 5 }, c = { .key = 6 }, d = { .key = 7 };
	struct hnode *n;
	int seen = 0;

	ht_add(&t, &a.hn, 42);
	ht_add(&t, &b.hn, 42);
	ht_add(&t, &c.hn, 42);                   /* another key, same hash */
	ht_add(&t, &d.hn, 42 + 64);              /* same bucket, another hash */
	for (n = ht_first(&t, 42); n != NULL; n = ht_next(n)) {
		struct elem *e = HT_ENTRY(n, struct elem, hn);

		CU_ASSERT(e == &a || e == &b || e == &c);
		seen++;
	}
	CHECK_EQ(seen, 3);
	ht_del(&t, &b.hn);
	seen = 0;
	for (n = ht_first(&t, 42); n != NULL; n = ht_next(n))
		seen++;
	CHECK_EQ(seen, 2);
	CU_ASSERT_PTR_EQUAL(ht_first(&t, 42 + 64), &d.hn);
	ht_del(&t, &b.hn);                       /* not in it any more: no change */
	CHECK_EQ(t.n, 3);
	ht_clear(&t);
}

/* Sequential numbers and strings differing in one byte fill a table's buckets evenly. */
static void
TEST_hashes_spread(void)
{
	enum { NB = 1024 };
	unsigned cnt[NB], i, max = 0;
	char s[32];

	memset(cnt, 0, sizeof(cnt));
	for (i = 0; i < NB * 4; i++)
		cnt[ht_hash_u64(i) & (NB - 1)]++;
	for (i = 0; i < NB; i++)
		max = cnt[i] > max ? cnt[i] : max;
	CU_ASSERT(max <= 16);                    /* mean 4 */
	memset(cnt, 0, sizeof(cnt));
	max = 0;
	for (i = 0; i < NB * 4; i++) {
		snprintf(s, sizeof(s), "county1/client%u", i);
		cnt[ht_hash_str(s) & (NB - 1)]++;
	}
	for (i = 0; i < NB; i++)
		max = cnt[i] > max ? cnt[i] : max;
	CU_ASSERT(max <= 16);
	CU_ASSERT(ht_hash_str("a") != ht_hash_str("b"));
	CU_ASSERT(ht_hash_bytes("ab", 2) == ht_hash_str("ab"));
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_add_find_del_across_growth),
		CU_TEST(TEST_same_hash_walked),
		CU_TEST(TEST_hashes_spread),
		CU_END
	};

	return cu_main("hashtab", tests, argc, argv);
}
