/*
 * routes.c — the route table: which node ids live below which child (the
 * subtrees children claim at Auth and in Routes requests, filtered by the
 * config and kept in the journal), and which client inbox is which address.
 * Loop thread. A change is announced through one registered hook (the
 * uplink's, which tells the parent), so this file calls nobody above it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cascaded.h"
#include "hashtab.h"

static void (*change_fn)(void *);
static void *change_arg;

/*
 * The index every packet and login is looked up in: each peer by kind and
 * name, and each node id a child is or claimed, by hash, instead of walking
 * every peer and every subtree. Rebuilt on the first lookup after a change:
 * a subtree set (routes_set_subtree: an Auth, a Routes request, a reload),
 * a peer added (npeers grows; the array never moves and a peer's name and
 * kind never change), or another node (the unit tests make their own).
 */
struct rent {
	struct hnode hn;
	struct peer *p;
	const char *key;                /* its name, or a node id it has below it */
};

static struct {
	const struct node *n;
	const struct peer *peers;
	size_t npeers;
	int stale;
	struct rent *e;
	struct htab by_name, by_id;
} rix = { .stale = 1 };

static uint64_t
name_hash(int kind, const char *name)
{
	return ht_hash_u64(ht_hash_str(name) + (uint64_t)kind);
}

static void
rix_entry(struct htab *t, struct rent *e, struct peer *p, const char *key, uint64_t hash)
{
	e->p = p;
	e->key = key;
	ht_add(t, &e->hn, hash);
}

static void
rix_build(const struct node *n)
{
	size_t i, k, ne = n->npeers;
	struct rent *e;

	ht_clear(&rix.by_name);
	ht_clear(&rix.by_id);
	free(rix.e);
	for (i = 0; i < n->npeers; i++)
		if (n->peers[i].kind == CASCADE__PEER_KIND__PEER_NODE)
			ne += 1 + n->peers[i].nsubtree;
	rix.e = e = xcalloc(ne ? ne : 1, sizeof(*e));
	for (i = 0; i < n->npeers; i++) {
		struct peer *p = &n->peers[i];

		rix_entry(&rix.by_name, e++, p, p->name, name_hash(p->kind, p->name));
		if (p->kind != CASCADE__PEER_KIND__PEER_NODE)
			continue;
		rix_entry(&rix.by_id, e++, p, p->name, ht_hash_str(p->name));
		for (k = 0; k < p->nsubtree; k++)
			rix_entry(&rix.by_id, e++, p, p->subtree[k], ht_hash_str(p->subtree[k]));
	}
	rix.n = n;
	rix.peers = n->peers;
	rix.npeers = n->npeers;
	rix.stale = 0;
}

void
routes_peers_changed(void)
{
	rix.stale = 1;
}

static void
rix_fresh(const struct node *n)
{
	if (rix.stale || rix.n != n || rix.peers != n->peers || rix.npeers != n->npeers)
		rix_build(n);
}

int
routes_peer_has(const struct peer *p, const char *nodeid)
{
	size_t i;

	if (p->kind != CASCADE__PEER_KIND__PEER_NODE)
		return 0;
	if (strcmp(p->name, nodeid) == 0)
		return 1;
	for (i = 0; i < p->nsubtree; i++)
		if (strcmp(p->subtree[i], nodeid) == 0)
			return 1;
	return 0;
}

/* Two children with one id below them: the first in the array has it, as ever. */
struct peer *
routes_child_for(const struct node *n, const char *nodeid)
{
	struct peer *best = NULL;
	struct hnode *h;

	rix_fresh(n);
	for (h = ht_first(&rix.by_id, ht_hash_str(nodeid)); h != NULL; h = ht_next(h)) {
		struct rent *e = HT_ENTRY(h, struct rent, hn);

		if (strcmp(e->key, nodeid) == 0 && (best == NULL || e->p < best))
			best = e->p;
	}
	return best;
}

struct peer *
routes_peer_named(const struct node *n, int kind, const char *name, int with_removed)
{
	struct peer *best = NULL;
	struct hnode *h;

	rix_fresh(n);
	for (h = ht_first(&rix.by_name, name_hash(kind, name)); h != NULL; h = ht_next(h)) {
		struct rent *e = HT_ENTRY(h, struct rent, hn);

		if (e->p->kind == kind && strcmp(e->key, name) == 0 &&
		    (with_removed || !e->p->removed) && (best == NULL || e->p < best))
			best = e->p;
	}
	return best;
}

uint32_t
routes_local_queue(const struct node *n, const char *addr)
{
	struct peer *p = routes_peer_named(n, CASCADE__PEER_KIND__PEER_CLIENT, addr, 0);

	return p != NULL ? p->qid : 0;
}

int
routes_in_subtree(const struct node *n, const char *nodeid)
{
	return strcmp(nodeid, n->id) == 0 || routes_child_for(n, nodeid) != NULL;
}

static void
subtree_free(struct peer *p)
{
	size_t i;

	for (i = 0; i < p->nsubtree; i++)
		free(p->subtree[i]);
	free(p->subtree);
	p->subtree = NULL;
	p->nsubtree = 0;
	rix.stale = 1;          /* the index points at these ids */
}

/*
 * Keeps the ids the config lets p claim; the others go to *refused (borrowed
 * from ids). Returns the kept list as text ("id\n" each, malloc'd) for the
 * caller to save under routes_key() in the journal's writer.
 */
char *
routes_set_subtree(struct peer *p, char **ids, size_t n, char ***refused, size_t *nrefused)
{
	char *joined;
	size_t i, len = 0;

	subtree_free(p);
	p->subtree = xcalloc(n ? n : 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (caddr_check_node(ids[i]) == CADDR_OK && strcmp(ids[i], node->id) != 0 &&
		    conf_child_may_claim(p->child, ids[i])) {
			p->subtree[p->nsubtree++] = xstrdup(ids[i]);
			len += strlen(ids[i]) + 1;
		} else if (refused != NULL) {
			*refused = xrealloc(*refused, (*nrefused + 1) * sizeof(char *));
			(*refused)[(*nrefused)++] = ids[i];
		}
	}
	rix.stale = 1;
	joined = xcalloc(1, len + 1);
	for (i = 0; i < p->nsubtree; i++) {
		strcat(joined, p->subtree[i]);
		strcat(joined, "\n");
	}
	if (change_fn != NULL)
		change_fn(change_arg);
	return joined;
}

void
routes_on_change(void (*fn)(void *), void *arg)
{
	change_fn = fn;
	change_arg = arg;
}

void
routes_key(const struct peer *p, char *key, size_t len)
{
	snprintf(key, len, "routes:%s", p->name);
}

/* Every node id below this node: what it announces to its parent. */
char **
routes_mine(size_t *n)
{
	char **ids = NULL;
	size_t i, k;

	*n = 0;
	for (i = 0; i < node->npeers; i++) {
		struct peer *p = &node->peers[i];

		if (p->kind != CASCADE__PEER_KIND__PEER_NODE)
			continue;
		ids = xrealloc(ids, (*n + 1 + p->nsubtree) * sizeof(char *));
		ids[(*n)++] = p->name;
		for (k = 0; k < p->nsubtree; k++)
			ids[(*n)++] = p->subtree[k];
	}
	return ids;
}

void
routes_load(void)
{
	/* runs before the uplink exists: no hook yet, routes_set_subtree announces nothing */
	char key[160], *s, *line, *save;
	void *val;
	size_t i, len;

	for (i = 0; i < node->npeers; i++) {
		struct peer *p = &node->peers[i];
		char **ids = NULL;
		size_t n = 0;

		if (p->kind != CASCADE__PEER_KIND__PEER_NODE)
			continue;
		routes_key(p, key, sizeof(key));
		if (journal_meta_get(node->j, key, &val, &len) != 0)
			continue;
		s = xcalloc(1, len + 1);
		memcpy(s, val, len);
		free(val);
		for (line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
			ids = xrealloc(ids, (n + 1) * sizeof(char *));
			ids[n++] = line;
		}
		/* the same filter as a live claim: the config may have changed since */
		free(routes_set_subtree(p, ids, n, NULL, NULL));
		free(ids);
		free(s);
		log_debug("router: %s: %zu node ids below it (from the journal)", p->name, p->nsubtree);
	}
}
