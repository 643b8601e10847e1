/*
 * store.c — the handle's state behind one interface (sdk_int.h): the
 * dispatch, and the memory backend used without a state directory.
 *
 * The memory outbox is a ring of the packets from the last acked sequence
 * + 1 on, bounded by queue_max (cascade_send() then says
 * CASCADE_EQUEUE_FULL); it grows by doubling, so an idle handle holds
 * little. Delivered and sent ids are kept in bounded maps (SDK_MEM_IDS).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_int.h"

int
store_open(struct store **sp, const char *dir, uint64_t mapsize, uint32_t queue_max,
    char *err, size_t errlen)
{
	struct store *s;
	int rc;

	*sp = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CASCADE_ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->queue_max = queue_max;
	s->be = dir != NULL ? &store_lmdb_backend : &store_mem_backend;
	if ((rc = s->be->open(s, dir, mapsize, err, errlen)) != 0) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return rc;
	}
	*sp = s;
	return CASCADE_OK;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	s->be->close(s);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int
store_put(struct store *s, const uint8_t id[CID_LEN], const char *dst, const uint8_t *pkt,
    size_t len, int64_t now_ms, uint64_t *seq)
{
	return s->be->put(s, id, dst, pkt, len, now_ms, seq);
}

int
store_peek(struct store *s, uint64_t from, unsigned max, size_t maxbytes, struct sentry *e,
    unsigned *n)
{
	*n = 0;
	return s->be->peek(s, from, max, maxbytes, e, n);
}

void
store_entries_free(struct sentry *e, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		free(e[i].buf);
		e[i].buf = NULL;
	}
}

int
store_ack(struct store *s, uint64_t upto)
{
	return s->be->ack(s, upto);
}

int
store_skip(struct store *s, uint64_t next)
{
	return s->be->skip(s, next);
}

int
store_seen_get(struct store *s, const uint8_t id[CID_LEN], int *state)
{
	*state = SEEN_NONE;
	return s->be->seen_get(s, id, state);
}

int
store_seen_put(struct store *s, const uint8_t *delivered, const uint8_t *handing,
    int64_t now_ms)
{
	if (delivered == NULL && handing == NULL)
		return CASCADE_OK;
	return s->be->seen_put(s, delivered, handing, now_ms);
}

int
store_sent_dst(struct store *s, const uint8_t id[CID_LEN], char *dst, size_t dstlen)
{
	return s->be->sent_dst(s, id, dst, dstlen);
}

int
store_prune(struct store *s, int64_t before_ms)
{
	return s->be->prune(s, before_ms);
}

void
store_counters(struct store *s, uint64_t *last_seq, uint64_t *acked)
{
	pthread_mutex_lock(&s->mu);
	if (last_seq != NULL)
		*last_seq = s->last_seq;
	if (acked != NULL)
		*acked = s->acked;
	pthread_mutex_unlock(&s->mu);
}

/* -------------------------------------------------------------- memory */

struct memq {
	struct sentry *ring;
	size_t cap, head, count;        /* ring[head] has sequence acked + 1 */
	struct idmap *seen;             /* id -> (void *)state */
	struct idmap *sent;             /* id -> strdup'd dst */
};

static int
mem_open(struct store *s, const char *dir, uint64_t mapsize, char *err, size_t errlen)
{
	struct memq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    idmap_new(&q->seen, SDK_MEM_IDS, NULL) != 0 ||
	    idmap_new(&q->sent, SDK_MEM_IDS, free) != 0) {
		if (q != NULL) {
			idmap_free(q->seen);
			free(q);
		}
		snprintf(err, errlen, "out of memory");
		return CASCADE_ENOMEM;
	}
	/* a new stream each time: nothing of it survives the process */
	s->epoch = crandom64();
	s->impl = q;
	return CASCADE_OK;
}

static void
mem_close(struct store *s)
{
	struct memq *q = s->impl;
	size_t i;

	for (i = 0; i < q->count; i++)
		free(q->ring[(q->head + i) % q->cap].buf);
	free(q->ring);
	idmap_free(q->seen);
	idmap_free(q->sent);
	free(q);
}

/* Makes room for one more entry; s->mu held. */
static int
mem_grow(struct memq *q)
{
	struct sentry *n;
	size_t cap = q->cap ? q->cap * 2 : 64, i;

	if ((n = calloc(cap, sizeof(*n))) == NULL)
		return CASCADE_ENOMEM;
	for (i = 0; i < q->count; i++)
		n[i] = q->ring[(q->head + i) % q->cap];
	free(q->ring);
	q->ring = n;
	q->cap = cap;
	q->head = 0;
	return CASCADE_OK;
}

static int
mem_put(struct store *s, const uint8_t id[CID_LEN], const char *dst, const uint8_t *pkt,
    size_t len, int64_t now_ms, uint64_t *seq)
{
	struct memq *q = s->impl;
	struct sentry *e;
	uint8_t *copy;
	char *d;
	int rc = CASCADE_OK;

	if ((copy = malloc(len ? len : 1)) == NULL)
		return CASCADE_ENOMEM;
	memcpy(copy, pkt, len);
	d = strdup(dst);
	pthread_mutex_lock(&s->mu);
	if (q->count >= s->queue_max) {
		rc = CASCADE_EQUEUE_FULL;
		goto fail;
	}
	if (q->count == q->cap && (rc = mem_grow(q)) != 0)
		goto fail;
	e = &q->ring[(q->head + q->count) % q->cap];
	e->seq = ++s->last_seq;
	e->enq_ms = now_ms;
	e->buf = copy;
	e->len = len;
	q->count++;
	*seq = e->seq;
	/* cancel needs the destination; without memory for it, cancel says ENOTFOUND */
	if (d != NULL && idmap_put(q->sent, id, d) != 0)
		free(d);
	pthread_mutex_unlock(&s->mu);
	return CASCADE_OK;
fail:
	pthread_mutex_unlock(&s->mu);
	free(copy);
	free(d);
	return rc;
}

static int
mem_peek(struct store *s, uint64_t from, unsigned max, size_t maxbytes, struct sentry *out,
    unsigned *n)
{
	struct memq *q = s->impl;
	size_t i, bytes = 0;
	int rc = CASCADE_OK;

	pthread_mutex_lock(&s->mu);
	if (from <= s->acked)
		from = s->acked + 1;
	for (i = (size_t)(from - (s->acked + 1)); i < q->count && *n < max; i++) {
		struct sentry *e = &q->ring[(q->head + i) % q->cap];

		if (*n > 0 && bytes + e->len > maxbytes)
			break;
		out[*n] = *e;
		if ((out[*n].buf = malloc(e->len ? e->len : 1)) == NULL) {
			rc = CASCADE_ENOMEM;
			break;
		}
		memcpy(out[*n].buf, e->buf, e->len);
		bytes += e->len;
		(*n)++;
	}
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		store_entries_free(out, *n);
		*n = 0;
	}
	return rc;
}

static int
mem_ack(struct store *s, uint64_t upto)
{
	struct memq *q = s->impl;

	pthread_mutex_lock(&s->mu);
	if (upto > s->last_seq)
		upto = s->last_seq;
	while (q->count > 0 && q->ring[q->head].seq <= upto) {
		free(q->ring[q->head].buf);
		q->ring[q->head].buf = NULL;
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	if (upto > s->acked)
		s->acked = upto;
	pthread_mutex_unlock(&s->mu);
	return CASCADE_OK;
}

static int
mem_skip(struct store *s, uint64_t next)
{
	pthread_mutex_lock(&s->mu);
	if (next > s->last_seq + 1)
		s->last_seq = next - 1;
	pthread_mutex_unlock(&s->mu);
	return CASCADE_OK;
}

static int
mem_seen_get(struct store *s, const uint8_t id[CID_LEN], int *state)
{
	struct memq *q = s->impl;
	void *v;

	pthread_mutex_lock(&s->mu);
	if (idmap_get(q->seen, id, &v))
		*state = (int)(uintptr_t)v;
	pthread_mutex_unlock(&s->mu);
	return CASCADE_OK;
}

static int
mem_seen_put(struct store *s, const uint8_t *delivered, const uint8_t *handing, int64_t now_ms)
{
	struct memq *q = s->impl;
	int rc = CASCADE_OK;

	pthread_mutex_lock(&s->mu);
	if (delivered != NULL)
		rc = idmap_put(q->seen, delivered, (void *)(uintptr_t)SEEN_DELIVERED);
	if (rc == 0 && handing != NULL)
		rc = idmap_put(q->seen, handing, (void *)(uintptr_t)SEEN_HANDING);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
mem_sent_dst(struct store *s, const uint8_t id[CID_LEN], char *dst, size_t dstlen)
{
	struct memq *q = s->impl;
	void *v;
	int rc = CASCADE_ENOTFOUND;

	pthread_mutex_lock(&s->mu);
	if (idmap_get(q->sent, id, &v) && strlen(v) < dstlen) {
		strcpy(dst, v);
		rc = CASCADE_OK;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
mem_prune(struct store *s, int64_t before_ms)
{
	return CASCADE_OK;              /* the maps are bounded already */
}

const struct store_backend store_mem_backend = {
	"memory",
	mem_open,
	mem_close,
	mem_put,
	mem_peek,
	mem_ack,
	mem_skip,
	mem_seen_get,
	mem_seen_put,
	mem_sent_dst,
	mem_prune,
};
