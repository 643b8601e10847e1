/*
 * wire.c — looking at encoded protobuf without decoding it, and decoding
 * within a memory budget.
 *
 * protobuf-c's unpack allocates one structure per repeated entry and one
 * per unknown field: a few bytes on the wire can cost a hundred in memory
 * and a malloc each. What a peer sends is therefore looked at first (sizes,
 * counts: a walk over the bytes that allocates nothing) and decoded with a
 * budget allocator that fails the unpack once it has handed out more than
 * its limit.
 */
#include "config.h"

#include <stdlib.h>

#include "packets.h"

int
pbw_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	int shift;

	for (shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

void
pbw_start(struct pbw *w, const uint8_t *buf, size_t len)
{
	/* NULL + 0 is undefined behaviour in C (UBSan, found by fuzz_request) */
	w->p = buf;
	w->end = buf != NULL ? buf + len : buf;
}

int
pbw_next(struct pbw *w, unsigned *field, uint64_t *v, const uint8_t **data, size_t *dlen)
{
	uint64_t key, n;

	if (w->p >= w->end)
		return 0;
	if (pbw_varint(&w->p, w->end, &key) != 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -1;
	*field = (unsigned)(key >> 3);
	*v = 0;
	*data = NULL;
	*dlen = 0;
	switch (key & 7) {
	case 0:
		return pbw_varint(&w->p, w->end, v) == 0 ? 1 : -1;
	case 1:         /* fixed64, little-endian */
		if (w->end - w->p < 8)
			return -1;
		for (n = 0; n < 8; n++)
			*v |= (uint64_t)w->p[n] << (8 * n);
		w->p += 8;
		return 1;
	case 2:
		if (pbw_varint(&w->p, w->end, &n) != 0 || n > (uint64_t)(w->end - w->p))
			return -1;
		*data = w->p;
		*dlen = (size_t)n;
		w->p += n;
		return 1;
	case 5:         /* fixed32 */
		if (w->end - w->p < 4)
			return -1;
		for (n = 0; n < 4; n++)
			*v |= (uint64_t)w->p[n] << (8 * n);
		w->p += 4;
		return 1;
	}
	return -1;
}

int
pbw_field(const uint8_t *buf, size_t len, unsigned field, uint64_t *v,
    const uint8_t **data, size_t *dlen)
{
	struct pbw w;
	const uint8_t *d;
	uint64_t n;
	size_t dl;
	unsigned f;
	int rc, found = -1;

	pbw_start(&w, buf, len);
	while ((rc = pbw_next(&w, &f, &n, &d, &dl)) > 0) {
		if (f != field)
			continue;
		if (d == NULL && v != NULL) {
			*v = n;
			found = 0;
		} else if (d != NULL && data != NULL) {
			*data = d;
			*dlen = dl;
			found = 0;
		}
	}
	return rc < 0 ? -1 : found;
}

long
pbw_count(const uint8_t *buf, size_t len, unsigned field)
{
	struct pbw w;
	const uint8_t *d;
	uint64_t v;
	size_t dl;
	unsigned f;
	long n = 0;
	int rc;

	pbw_start(&w, buf, len);
	while ((rc = pbw_next(&w, &f, &v, &d, &dl)) > 0)
		n += f == field;
	return rc < 0 ? -1 : n;
}

/* --------------------------------------------------------- the budget */

/* what malloc keeps per block beside the bytes asked for (glibc: 16) */
#define PBW_MALLOC_OVERHEAD 16

static void *
budget_alloc(void *data, size_t size)
{
	struct pbw_budget *b = data;
	size_t cost = size + PBW_MALLOC_OVERHEAD;

	if (cost > b->limit - b->used) {
		b->exceeded = 1;
		return NULL;
	}
	b->used += cost;
	return malloc(size);
}

static void
budget_free(void *data, void *p)
{
	free(p);
}

ProtobufCAllocator *
pbw_budget_init(struct pbw_budget *b, size_t limit)
{
	b->a.alloc = budget_alloc;
	b->a.free = budget_free;
	b->a.allocator_data = b;
	b->limit = limit;
	b->used = 0;
	b->exceeded = 0;
	return &b->a;
}
