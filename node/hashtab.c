/*
 * hashtab.c — the chained hash table of hashtab.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hashtab.h"
#include "log.h"

#define HT_MIN 64                       /* buckets of a table's first array */

static size_t
bucket(const struct htab *t, uint64_t hash)
{
	return (size_t)(hash & (t->nb - 1));
}

/* Moves every node to an array of nb buckets (the hashes are in the nodes). */
static void
rehash(struct htab *t, size_t nb)
{
	struct hnode **old = t->b, *n, *next;
	size_t i, oldnb = t->nb;

	t->b = xcalloc(nb, sizeof(*t->b));
	t->nb = nb;
	for (i = 0; i < oldnb; i++)
		for (n = old[i]; n != NULL; n = next) {
			next = n->next;
			n->next = t->b[bucket(t, n->hash)];
			t->b[bucket(t, n->hash)] = n;
		}
	free(old);
}

void
ht_add(struct htab *t, struct hnode *n, uint64_t hash)
{
	struct hnode **head;

	if (t->b == NULL)
		rehash(t, HT_MIN);
	else if (t->n >= t->nb)         /* load factor 1: chains of one or two */
		rehash(t, t->nb * 2);
	n->hash = hash;
	head = &t->b[bucket(t, hash)];
	n->next = *head;
	*head = n;
	t->n++;
}

void
ht_del(struct htab *t, struct hnode *n)
{
	struct hnode **pp;

	if (t->b == NULL)
		return;
	for (pp = &t->b[bucket(t, n->hash)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			t->n--;
			return;
		}
}

struct hnode *
ht_first(const struct htab *t, uint64_t hash)
{
	struct hnode *n;

	if (t->b == NULL)
		return NULL;
	for (n = t->b[bucket(t, hash)]; n != NULL && n->hash != hash; n = n->next)
		;
	return n;
}

struct hnode *
ht_next(const struct hnode *n)
{
	struct hnode *m;

	for (m = n->next; m != NULL && m->hash != n->hash; m = m->next)
		;
	return m;
}

void
ht_clear(struct htab *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

/* splitmix64's finalizer: sequential numbers and aligned pointers spread over all bits. */
uint64_t
ht_hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* FNV-1a, then mixed: the low bits pick the bucket. */
uint64_t
ht_hash_bytes(const void *p, size_t len)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return ht_hash_u64(h);
}

uint64_t
ht_hash_str(const char *s)
{
	return ht_hash_bytes(s, strlen(s));
}
