/*
 * server_push.c — Push: custody upward from a child or client. Refused for
 * now over the peer's push-rate or quota before it is unpacked, checked,
 * held a moment when it arrives before its predecessor, then handed to
 * custody (custody_intake) and answered with the stream's mark and what
 * was refused here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define PUSH_HOLD_MS 50                 /* an early push waits this long for its predecessor */
#define PUSH_HOLD_MAX 16

static void push_submit(struct session *, struct sreq *, Cascade__Push *);
static void push_hold(struct session *, struct sreq *, Cascade__Push *);

/* ---------------------------------------------------------------- push */

/* A push on its way into custody (custody.c), and the request it answers. */
struct push_job {
	struct custody_batch cb;        /* first: custody.c hands it back */
	struct sreq *r;
	Cascade__Push *push;
};

/* The push is in (or not): counts, the reply with what was refused here. */
static void
push_done(struct custody_batch *cb, void *arg)
{
	struct push_job *pj = arg;
	struct peer *peer = cb->peer;
	int rc = cb->job.rc;
	Cascade__PushReply pr = CASCADE__PUSH_REPLY__INIT;
	Cascade__Reject *rej = NULL, **rejp = NULL;
	unsigned i, nrej = 0;
	char idt[CID_TEXT_LEN];

	if (rc != 0 && rc != JOURNAL_OUT_OF_ORDER && rc != JOURNAL_FULL) {
		sfail(pj->r, STATUS(BUSY), "journal: %s", journal_strerror(rc));
		goto done;
	}
	rej = xcalloc(cb->b.n + 1, sizeof(*rej));
	rejp = xcalloc(cb->b.n + 1, sizeof(*rejp));
	for (i = 0; rc != JOURNAL_OUT_OF_ORDER && i < cb->b.n; i++) {
		struct jitem *it = &cb->items[i];
		Cascade__Packet *p = pj->push->packets[i];

		switch (it->result) {
		case JR_ACCEPTED:
			node->stat_accepted++;
			break;
		case JR_DUPLICATE:
			node->stat_duplicates++;
			break;
		case JR_REJECTED:
			node->stat_rejected++;
			cascade__reject__init(&rej[nrej]);
			rej[nrej].seq = it->seq;
			rej[nrej].id = p->id;
			rej[nrej].reason = it->reject;
			rej[nrej].text = (char *)(it->reject_text ? it->reject_text : "");
			rejp[nrej] = &rej[nrej];
			nrej++;
			log_warnx("server: %s: packet %s rejected: %s: %s", peer->name,
			    p->id.len == CID_LEN ? cid_format(p->id.data, idt) : "(no id)",
			    creason_str(it->reject), it->reject_text ? it->reject_text : "");
			break;
		}
	}
	pr.acked_seq = cb->b.mark;
	pr.rejects = rejp;
	pr.n_rejects = nrej;
	if (rc == JOURNAL_FULL) {
		pr.refused = CASCADE__REASON__REASON_JOURNAL_FULL;
		pr.text = "journal full";
		log_warnx("server: %s: push refused: journal full", peer->name);
	}
	sreply_msg(pj->r, &pr.base);
done:
	free(rej);
	free(rejp);
	cascade__push__free_unpacked(pj->push, NULL);
	custody_batch_free(cb);
	free(pj);
}

/*
 * A push over the peer's push-rate or quota is refused for now, before
 * anything is unpacked: the reply acks nothing new (the mark as it is) and
 * says why (reason), so the sender keeps its packets and sends them again
 * later. Logged once a second per peer and reason.
 */
static void
push_refuse(struct sreq *r, struct session *s, uint32_t reason, const char *why)
{
	Cascade__PushReply pr = CASCADE__PUSH_REPLY__INIT;
	uint64_t epoch = 0, first = 0, mark = 0;
	int64_t now = cmono_ms(), *logged;
	const uint8_t *body = r->req->body.data;
	size_t blen = r->req->body.len;

	pbw_field(body, blen, CPBF_PUSH_EPOCH, &epoch, NULL, NULL);
	pbw_field(body, blen, CPBF_PUSH_FIRST_SEQ, &first, NULL, NULL);
	if (journal_mark_get(node->j, s->peer->name, epoch, &mark) != 0)
		mark = first > 0 ? first - 1 : 0;
	if (reason == CASCADE__REASON__REASON_RATE_LIMIT) {
		node->stat_refused_rate++;
		logged = &s->peer->rate_logged_ms;
	} else {
		node->stat_refused_quota++;
		logged = &s->peer->quota_logged_ms;
	}
	if (now - *logged >= 1000) {
		log_warnx("server: %s (%s): push refused: %s", s->peer->name, r->peeraddr, why);
		*logged = now;
	}
	pr.acked_seq = mark;
	pr.refused = reason;
	pr.text = (char *)creason_str(reason);
	sreply_msg(r, &pr.base);
}

/* 0, or -1 when the push was refused for the peer's rate or quota. */
static int
push_admit(struct sreq *r, struct session *s)
{
	char why[160];
	long npk;

	if (lim_push_rate(s->peer) != 0) {
		snprintf(why, sizeof(why), "rate limit (push-rate %u a second)",
		    node->conf->push_rate);
		push_refuse(r, s, CASCADE__REASON__REASON_RATE_LIMIT, why);
		return -1;
	}
	if (lim_quota_on() &&
	    (npk = pbw_count(r->req->body.data, r->req->body.len, CPBF_PUSH_PACKETS)) > 0 &&
	    lim_quota_check(s->peer, npk, r->req->body.len, why, sizeof(why)) != 0) {
		push_refuse(r, s, CASCADE__REASON__REASON_QUOTA, why);
		return -1;
	}
	return 0;
}

/* Counts and sizes checked on the encoded Push, then unpacked within a budget. */
static Cascade__Push *
push_unpack(struct sreq *r)
{
	Cascade__Push *push;
	char why[192];
	int st, exceeded;

	if ((st = lim_push_check(r->req->body.data, r->req->body.len, why, sizeof(why))) != 0) {
		node->stat_refused_size++;
		sfail(r, (uint32_t)st, "%s", why);
		return NULL;
	}
	push = lim_unpack(&cascade__push__descriptor, r->req->body.data, r->req->body.len,
	    &exceeded);
	if (push == NULL) {
		node->stat_refused_size += exceeded;
		sfail(r, exceeded ? STATUS(TOO_LARGE) : STATUS(BAD_REQUEST), "%s",
		    exceeded ? "Push decodes to more than its budget" : "undecodable Push");
	}
	return push;
}

void
do_push(struct sreq *r, struct session *s)
{
	Cascade__Push *push;
	char why[80];

	if (push_admit(r, s) != 0)
		return;
	if ((push = push_unpack(r)) == NULL)
		return;
	if (clink_push_check(push, why, sizeof(why)) != 0) {
		sfail(r, STATUS(BAD_REQUEST), "%s", why);
		goto fail;
	}
	/*
	 * Pushes of one session can reach us out of order (nng hands requests
	 * to the loop from several threads): one that starts above where the
	 * last one ended waits a moment for the push in between, instead of
	 * being refused and resent with everything after it.
	 */
	if (s->push_epoch == push->epoch && s->push_next != 0 &&
	    push->first_seq > s->push_next && s->nheld_pushes < PUSH_HOLD_MAX) {
		push_hold(s, r, push);
		return;
	}
	push_submit(s, r, push);
	push_release(s, 0);
	return;
fail:
	cascade__push__free_unpacked(push, NULL);
}

/* Hands a push's packets to custody (routed, then committed). */
static void
push_submit(struct session *s, struct sreq *r, Cascade__Push *push)
{
	struct push_job *pj = xcalloc(1, sizeof(*pj));

	pj->r = r;
	pj->push = push;
	pj->cb.b.peer = s->peer->name;
	pj->cb.b.epoch = push->epoch;
	pj->cb.b.first_seq = push->first_seq;
	pj->cb.b.last_seq = push->last_seq;
	custody_intake(&pj->cb, push->packets, push->seqs, push->n_packets,
	    s->peer->kind == CASCADE__PEER_KIND__PEER_NODE ? FROM_CHILD : FROM_CLIENT, s->peer,
	    push_done, pj);
	s->push_epoch = push->epoch;
	if (push->last_seq + 1 > s->push_next)
		s->push_next = push->last_seq + 1;
}

struct held_push {
	struct sreq *r;
	Cascade__Push *push;
	TAILQ_ENTRY(held_push) entry;
};

static void
push_hold_timeout(evutil_socket_t fd, short what, void *arg)
{
	push_release(arg, 1);
}

static void
push_hold(struct session *s, struct sreq *r, Cascade__Push *push)
{
	struct held_push *h = xcalloc(1, sizeof(*h)), *at;
	struct timeval tv = { 0, PUSH_HOLD_MS * 1000 };

	h->r = r;
	h->push = push;
	TAILQ_FOREACH(at, &s->held_pushes, entry)
		if (at->push->first_seq > push->first_seq)
			break;
	if (at != NULL)
		TAILQ_INSERT_BEFORE(at, h, entry);
	else
		TAILQ_INSERT_TAIL(&s->held_pushes, h, entry);
	s->nheld_pushes++;
	if (s->push_timer == NULL)
		s->push_timer = evtimer_new(node->base, push_hold_timeout, s);
	if (!evtimer_pending(s->push_timer, NULL))
		evtimer_add(s->push_timer, &tv);
}

/* Submits held pushes that now follow on (or all of them, when all is set). */
void
push_release(struct session *s, int all)
{
	struct held_push *h;

	while ((h = TAILQ_FIRST(&s->held_pushes)) != NULL &&
	    (all || h->push->epoch != s->push_epoch || h->push->first_seq <= s->push_next)) {
		TAILQ_REMOVE(&s->held_pushes, h, entry);
		s->nheld_pushes--;
		push_submit(s, h->r, h->push);
		free(h);
	}
	if (TAILQ_EMPTY(&s->held_pushes) && s->push_timer != NULL)
		evtimer_del(s->push_timer);
}

