/*
 * reqs.c — correlating replies and notices with pending requests.
 *
 * A reply is a data packet whose reply_to is the request's id and whose src
 * is the request's dst: anyone may name an id in reply_to, and request ids
 * are guessable. A notice (kind NOTICE, ref_id = the request's id) that the
 * request expired, was rejected, undeliverable or cancelled ends it too; a
 * DELIVERED receipt does not. Answers to requests that already timed out
 * are flagged late.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_int.h"

int
reqs_init(struct reqs *r, size_t late_max)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = idmap_new(&r->pending, SDK_MAX_QUEUE_MAX, NULL)) != 0)
		return rc;
	if ((rc = idmap_new(&r->late, late_max, free)) != 0) {
		idmap_free(r->pending);
		r->pending = NULL;
		return rc;
	}
	return CASCADE_OK;
}

void
reqs_fini(struct reqs *r)
{
	struct preq *q;

	while ((q = reqs_pop(r)) != NULL)
		free(q);
	idmap_free(r->pending);
	idmap_free(r->late);
	r->pending = r->late = NULL;
}

static void
list_remove(struct reqs *r, struct preq *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->head = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	else
		r->tail = q->prev;
	q->next = q->prev = NULL;
}

int
reqs_add(struct reqs *r, const uint8_t id[CID_LEN], const char *dst, int64_t deadline,
    cascade_request_cb cb, void *arg)
{
	struct preq *q, *at;
	int rc;

	if (idmap_get(r->pending, id, NULL) || strlen(dst) >= sizeof(q->dst))
		return CASCADE_EINVAL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return CASCADE_ENOMEM;
	memcpy(q->id, id, CID_LEN);
	strcpy(q->dst, dst);
	q->deadline = deadline;
	q->cb = cb;
	q->arg = arg;
	if ((rc = idmap_put(r->pending, id, q)) != 0) {
		free(q);
		return rc;
	}
	/* most requests share one timeout: the new one usually goes last */
	for (at = r->tail; at != NULL && at->deadline > deadline; at = at->prev)
		;
	q->prev = at;
	q->next = at != NULL ? at->next : r->head;
	if (q->next != NULL)
		q->next->prev = q;
	else
		r->tail = q;
	if (at != NULL)
		at->next = q;
	else
		r->head = q;
	return CASCADE_OK;
}

struct preq *
reqs_remove(struct reqs *r, const uint8_t id[CID_LEN])
{
	void *v;

	if (!idmap_take(r->pending, id, &v))
		return NULL;
	list_remove(r, v);
	return v;
}

/* Whether data packet p may answer a request sent to dst. */
static int
from_dst(const Cascade__Packet *p, const char *dst)
{
	return p->kind != CASCADE__PACKET_KIND__KIND_DATA ||
	    (p->src != NULL && strcmp(p->src, dst) == 0);
}

struct preq *
reqs_match(struct reqs *r, const Cascade__Packet *p, int *status, int *late, int *foreign)
{
	const ProtobufCBinaryData *ref;
	struct preq *q;
	void *v;
	int st;

	*status = 0;
	*late = 0;
	*foreign = 0;
	if (p->kind == CASCADE__PACKET_KIND__KIND_DATA) {
		ref = &p->reply_to;
		st = CASCADE_OK;
	} else if (p->kind == CASCADE__PACKET_KIND__KIND_NOTICE) {
		ref = &p->ref_id;
		st = sdk_notice_status(p->notice);
	} else
		return NULL;
	if (ref->len != CID_LEN)
		return NULL;
	if (idmap_get(r->late, ref->data, &v)) {
		if (v != NULL && !from_dst(p, v))
			*foreign = 1;
		else
			*late = 1;
		return NULL;
	}
	if (p->kind == CASCADE__PACKET_KIND__KIND_NOTICE && st == 0)
		return NULL;            /* a receipt: the request still waits for its reply */
	if (!idmap_get(r->pending, ref->data, &v))
		return NULL;
	if (!from_dst(p, ((struct preq *)v)->dst)) {
		*foreign = 1;
		return NULL;
	}
	q = reqs_remove(r, ref->data);
	*status = st;
	return q;
}

struct preq *
reqs_expired(struct reqs *r, int64_t now)
{
	struct preq *q = r->head;
	char *dst;

	if (q == NULL || q->deadline > now)
		return NULL;
	reqs_remove(r, q->id);
	/*
	 * A full late set forgets its oldest: that answer is then merely
	 * unexpected. Without memory for the dst, any answer is flagged late.
	 */
	dst = strdup(q->dst);
	if (idmap_put(r->late, q->id, dst) != 0)
		free(dst);
	return q;
}

struct preq *
reqs_pop(struct reqs *r)
{
	struct preq *q = r->head;

	if (q != NULL)
		reqs_remove(r, q->id);
	return q;
}

int64_t
reqs_next_deadline(const struct reqs *r)
{
	return r->head != NULL ? r->head->deadline : INT64_MAX;
}

size_t
reqs_count(const struct reqs *r)
{
	return r->pending != NULL ? idmap_count(r->pending) : 0;
}
