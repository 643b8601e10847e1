/*
 * link.c — the child side of the link protocol written once: building Hello,
 * Auth, Push and Pull and checking their replies, for the uplink, the SDK and
 * the test tools; and the parent's check of a Push's range. No I/O, no
 * printing: every check returns -1 with the reason in why.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packets.h"

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void
clink_hello(Cascade__Hello *h, const char *peer, uint32_t kind, uint32_t carrier)
{
	cascade__hello__init(h);
	h->version = CASCADE_PROTOCOL_VERSION;
	h->peer = (char *)peer;
	h->kind = kind;
	h->carrier = carrier;
}

int
clink_hello_reply_check(const Cascade__HelloReply *hr, const char *expect_node,
    char *why, size_t whylen)
{
	if (hr == NULL || hr->nonce.len != CNONCE_LEN) {
		fail(why, whylen, "malformed reply");
		return CLINK_MALFORMED;
	}
	/* protobuf-c gives an absent string as "", but a hand-built reply may hold NULL */
	if (hr->node == NULL || strcmp(hr->node, expect_node) != 0) {
		fail(why, whylen, "answers as node \"%.64s\", not %s",
		    hr->node != NULL ? hr->node : "", expect_node);
		return CLINK_WRONG_NODE;
	}
	return 0;
}

int
clink_auth(struct clink_auth *ca, const uint8_t *secret, size_t secretlen, const char *peer,
    const uint8_t snonce[CNONCE_LEN], uint64_t epoch, uint64_t lowest_unacked,
    char **subtree, size_t nsubtree, uint32_t carrier)
{
	uint8_t cnonce[CNONCE_LEN];

	if (crandom(cnonce, CNONCE_LEN) != 0)
		return -1;
	clink_auth_nonce(ca, secret, secretlen, peer, snonce, cnonce, epoch, lowest_unacked,
	    subtree, nsubtree, carrier);
	return 0;
}

void
clink_auth_nonce(struct clink_auth *ca, const uint8_t *secret, size_t secretlen,
    const char *peer, const uint8_t snonce[CNONCE_LEN], const uint8_t cnonce[CNONCE_LEN],
    uint64_t epoch, uint64_t lowest_unacked, char **subtree, size_t nsubtree,
    uint32_t carrier)
{
	memcpy(ca->snonce, snonce, CNONCE_LEN);
	memcpy(ca->cnonce, cnonce, CNONCE_LEN);
	cauth_mac(secret, secretlen, peer, ca->snonce, ca->cnonce, ca->mac);
	cascade__auth__init(&ca->a);
	cascade__stream_pos__init(&ca->sp);
	ca->a.peer = (char *)peer;
	ca->a.nonce.data = ca->cnonce;
	ca->a.nonce.len = CNONCE_LEN;
	ca->a.server_nonce.data = ca->snonce;
	ca->a.server_nonce.len = CNONCE_LEN;
	ca->a.mac.data = ca->mac;
	ca->a.mac.len = CSHA256_LEN;
	ca->sp.epoch = epoch;
	ca->sp.seq = lowest_unacked;
	ca->spp = &ca->sp;
	ca->a.streams = &ca->spp;
	ca->a.n_streams = epoch != 0;   /* epochs are never 0: none is a receiver only */
	ca->a.subtree = subtree;
	ca->a.n_subtree = nsubtree;
	ca->a.carrier = carrier;
}

void
clink_session_key(const struct clink_auth *ca, const uint8_t *secret, size_t len,
    const char *peer, uint8_t key[CSHA256_LEN])
{
	csession_key(secret, len, peer, ca->snonce, ca->cnonce, key);
}

int
clink_auth_mark(const Cascade__AuthReply *ar, uint64_t epoch, uint64_t last_numbered,
    uint64_t *mark)
{
	uint64_t m = 0;
	size_t i;

	for (i = 0; i < ar->n_marks; i++)
		if (ar->marks[i] != NULL && ar->marks[i]->epoch == epoch)
			m = ar->marks[i]->seq;
	*mark = m;
	/* acking beyond what we numbered would drop packets the parent never had */
	return clink_mark_beyond(m, last_numbered) ? -1 : 0;
}

int
clink_mark_beyond(uint64_t mark, uint64_t last_numbered)
{
	return mark > last_numbered || mark == UINT64_MAX;
}

/* Every seq in [first, last] and strictly ascending (a Push, a Pull reply). */
static int
seqs_in_range(const uint64_t *seqs, size_t n, uint64_t first, uint64_t last)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (seqs[i] < first || seqs[i] > last || (i > 0 && seqs[i] <= seqs[i - 1]))
			return 0;
	return 1;
}

void
clink_push(Cascade__Push *p, uint64_t epoch, uint64_t first, uint64_t last,
    Cascade__Packet **pkts, uint64_t *seqs, size_t n)
{
	cascade__push__init(p);
	p->epoch = epoch;
	p->first_seq = first;
	p->last_seq = last;
	p->packets = pkts;
	p->n_packets = n;
	p->seqs = seqs;
	p->n_seqs = n;
}

int
clink_push_check(const Cascade__Push *p, char *why, size_t whylen)
{
	if (p->n_seqs != p->n_packets || p->epoch == 0 || p->first_seq == 0 ||
	    p->last_seq + 1 < p->first_seq)
		return fail(why, whylen, "inconsistent Push (epoch, sequence range)");
	if (!seqs_in_range(p->seqs, p->n_seqs, p->first_seq, p->last_seq))
		return fail(why, whylen, "Push sequences out of range or order");
	return 0;
}

void
clink_pull(Cascade__Pull *p, uint64_t epoch, uint64_t acked, uint32_t wait_ms, uint32_t max,
    uint32_t max_bytes)
{
	cascade__pull__init(p);
	p->epoch = epoch;
	p->acked_seq = acked;
	p->wait_ms = wait_ms;
	p->max = max;
	p->max_bytes = max_bytes;
}

int
clink_pull_reply_check(const Cascade__PullReply *pr, char *why, size_t whylen)
{
	if (pr == NULL || pr->n_seqs != pr->n_packets || pr->epoch == 0)
		return fail(why, whylen, "malformed reply");
	if (!seqs_in_range(pr->seqs, pr->n_seqs, pr->first_seq, pr->last_seq))
		return fail(why, whylen, "malformed reply (sequences out of range or order)");
	return 0;
}

uint8_t *
clink_request(uint32_t type, uint64_t session, uint64_t seq, const ProtobufCMessage *m,
    const uint8_t *key, size_t *len)
{
	size_t blen = protobuf_c_message_get_packed_size(m);
	uint8_t *body, *buf;

	if ((body = malloc(blen ? blen : 1)) == NULL)
		return NULL;
	protobuf_c_message_pack(m, body);
	buf = cenv_request_pack(type, session, seq, body, blen, key, len);
	free(body);
	return buf;
}
