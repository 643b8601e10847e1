/*
 * hashtab.h — a chained hash table for finding the daemon's objects by key
 * on a per-request path (sessions by id and by connection, peers by name,
 * Hello challenges by nonce, http connections by evcon) instead of walking
 * a list of them all.
 *
 * Intrusive: the element embeds a struct hnode, the caller gives the 64-bit
 * hash of its key and compares keys itself while walking the nodes of that
 * hash (ht_first, ht_next); several elements may share a key. Nothing here
 * knows the element's type, and only the bucket array is allocated. Grows
 * by doubling from the hashes kept in the nodes; never shrinks.
 *
 * The keys are chosen by this node (its session ids and connection numbers,
 * configured names, its own random nonces, its pointers): no one outside
 * picks what goes in, so a plain unkeyed hash cannot be flooded into one
 * chain. Loop thread only, like its users.
 */
#ifndef CASCADE_HASHTAB_H
#define CASCADE_HASHTAB_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode *next;             /* in its bucket */
	uint64_t hash;
};

struct htab {
	struct hnode **b;               /* NULL until the first ht_add */
	size_t nb, n;                   /* buckets (a power of two), elements */
};

#define HTAB_INITIALIZER { NULL, 0, 0 }
/* The element that embeds node n as field. */
#define HT_ENTRY(n, type, field) ((type *)(void *)((char *)(n) - offsetof(type, field)))

void ht_add(struct htab *t, struct hnode *n, uint64_t hash);
/* Takes n (added before, not removed since) out of t. */
void ht_del(struct htab *t, struct hnode *n);
/* The first node with that hash, or NULL; ht_next the one after it. */
struct hnode *ht_first(const struct htab *t, uint64_t hash);
struct hnode *ht_next(const struct hnode *n);
/* Frees the buckets (not the elements); t is empty and usable after. */
void ht_clear(struct htab *t);

uint64_t ht_hash_u64(uint64_t key);
uint64_t ht_hash_bytes(const void *p, size_t len);
uint64_t ht_hash_str(const char *s);

#endif
