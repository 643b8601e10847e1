/*
 * idmap.c — a bounded map from packet ids to pointers: a chained hash
 * table plus a list in insertion order, so the oldest entry goes first
 * when the map is full. Ids end in 80 bits of counter and randomness, so
 * their last bytes hash well as they are.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "sdk_int.h"

struct ident {
	uint8_t id[CID_LEN];
	void *val;
	struct ident *chain;            /* same bucket */
	struct ident *older, *newer;    /* insertion order */
};

struct idmap {
	struct ident **buckets;
	size_t nbuckets;                /* a power of two */
	size_t count, max;
	struct ident *oldest, *newest;
	void (*freeval)(void *);
};

static size_t
bucket_of(const struct idmap *m, const uint8_t id[CID_LEN])
{
	uint64_t h;

	memcpy(&h, id + CID_LEN - 8, 8);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (size_t)h & (m->nbuckets - 1);
}

int
idmap_new(struct idmap **mp, size_t max, void (*freeval)(void *))
{
	struct idmap *m;
	size_t n = 16;

	*mp = NULL;
	if (max == 0)
		return CASCADE_EINVAL;
	while (n < max && n < ((size_t)1 << 20))
		n <<= 1;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CASCADE_ENOMEM;
	if ((m->buckets = calloc(n, sizeof(*m->buckets))) == NULL) {
		free(m);
		return CASCADE_ENOMEM;
	}
	m->nbuckets = n;
	m->max = max;
	m->freeval = freeval;
	*mp = m;
	return CASCADE_OK;
}

static struct ident **
find(const struct idmap *m, const uint8_t id[CID_LEN])
{
	struct ident **pp = &m->buckets[bucket_of(m, id)];

	while (*pp != NULL && memcmp((*pp)->id, id, CID_LEN) != 0)
		pp = &(*pp)->chain;
	return pp;
}

/* Unlinks the entry *pp points at from both lists; returns it. */
static struct ident *
unlink_at(struct idmap *m, struct ident **pp)
{
	struct ident *e = *pp;

	*pp = e->chain;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		m->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		m->newest = e->older;
	m->count--;
	return e;
}

int
idmap_put(struct idmap *m, const uint8_t id[CID_LEN], void *val)
{
	struct ident **pp = find(m, id), *e;

	if (*pp != NULL) {
		e = unlink_at(m, pp);
		if (m->freeval != NULL && e->val != val && e->val != NULL)
			m->freeval(e->val);
	} else {
		if (m->count >= m->max) {
			struct ident *old = unlink_at(m, find(m, m->oldest->id));

			if (m->freeval != NULL && old->val != NULL)
				m->freeval(old->val);
			free(old);
		}
		if ((e = malloc(sizeof(*e))) == NULL)
			return CASCADE_ENOMEM;
		memcpy(e->id, id, CID_LEN);
	}
	e->val = val;
	e->chain = m->buckets[bucket_of(m, id)];
	m->buckets[bucket_of(m, id)] = e;
	e->newer = NULL;
	e->older = m->newest;
	if (m->newest != NULL)
		m->newest->newer = e;
	else
		m->oldest = e;
	m->newest = e;
	m->count++;
	return CASCADE_OK;
}

int
idmap_get(const struct idmap *m, const uint8_t id[CID_LEN], void **val)
{
	struct ident **pp = find(m, id);

	if (*pp == NULL)
		return 0;
	if (val != NULL)
		*val = (*pp)->val;
	return 1;
}

int
idmap_take(struct idmap *m, const uint8_t id[CID_LEN], void **val)
{
	struct ident **pp = find(m, id), *e;

	if (*pp == NULL)
		return 0;
	e = unlink_at(m, pp);
	if (val != NULL)
		*val = e->val;
	free(e);
	return 1;
}

size_t
idmap_count(const struct idmap *m)
{
	return m->count;
}

void
idmap_free(struct idmap *m)
{
	struct ident *e, *n;

	if (m == NULL)
		return;
	for (e = m->oldest; e != NULL; e = n) {
		n = e->newer;
		if (m->freeval != NULL && e->val != NULL)
			m->freeval(e->val);
		free(e);
	}
	free(m->buckets);
	free(m);
}
