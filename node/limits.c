/*
 * limits.c — how much work a peer can make this node do, checked as cheaply
 * as possible before the work is done:
 * - sizes and repeated-field counts of a request, on its encoded bytes
 *   (nothing is unpacked before), then unpacking within a memory budget;
 * - pending Hello challenges per source address;
 * - failed logins per source address (a lockout, and its log lines);
 * - pushes per second per peer (a token bucket);
 * - packets and bytes of each peer's held here (quota-packets, quota-bytes):
 *   a table of the packets taken from a peer, by journal key, until the
 *   first queue gives them up (acked, expired, cancelled). It starts empty:
 *   packets held from before a restart do not count.
 * Source addresses are the IP without the port; the table of them is
 * bounded (the least recently seen goes first).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cascaded.h"
#include "hashtab.h"

#define STATUS(x) CASCADE__STATUS__STATUS_##x
#define BUDGET_FACTOR 16                /* unpacked bytes per encoded byte, at most */
#define BUDGET_SLACK 4096
#define ADDRS_MAX 4096                  /* source addresses remembered */
#define AUTH_FAIL_WINDOW_MS 60000
#define AUTH_FAIL_LOGGED 5              /* failures logged one by one, per window */

struct addrent {
	char ip[48];
	unsigned challenges;            /* Hello challenges pending */
	unsigned fails;                 /* failed logins in this window */
	int64_t window_ms;              /* start of the window */
	unsigned suppressed;            /* failures not logged one by one */
	TAILQ_ENTRY(addrent) entry;     /* seen most recently first */
	struct hnode hn;                /* by ip: every Hello and Auth looks its address up */
};

static TAILQ_HEAD(addrent_q, addrent) addrs = TAILQ_HEAD_INITIALIZER(addrs);
static struct htab addrs_by = HTAB_INITIALIZER;
static size_t naddrs;

/* ------------------------------------------------------------ decoding */

void *
lim_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, int *exceeded)
{
	struct pbw_budget b;
	ProtobufCAllocator *a = pbw_budget_init(&b, len * BUDGET_FACTOR + BUDGET_SLACK);
	ProtobufCMessage *m = protobuf_c_message_unpack(d, a, len, buf);

	*exceeded = m == NULL && b.exceeded;
	return m;
}

/* Elements of a repeated scalar field: packed (one length-delimited run) or not. */
static long
count_scalars(const uint8_t *buf, size_t len, unsigned field)
{
	struct pbw w;
	const uint8_t *d;
	uint64_t v;
	size_t dl, i;
	unsigned f;
	long n = 0;
	int rc;

	pbw_start(&w, buf, len);
	while ((rc = pbw_next(&w, &f, &v, &d, &dl)) > 0) {
		if (f != field)
			continue;
		if (d == NULL)
			n++;
		else
			for (i = 0; i < dl; i++)
				n += !(d[i] & 0x80);    /* the last byte of each varint */
	}
	return rc < 0 ? -1 : n;
}

int
lim_request_peek(const uint8_t *buf, size_t len, uint32_t *type, uint64_t *session)
{
	uint64_t t = 0, s = 0;

	if (pbw_count(buf, len, CPBF_REQUEST_VERSION) < 0)
		return -1;
	pbw_field(buf, len, CPBF_REQUEST_TYPE, &t, NULL, NULL);
	pbw_field(buf, len, CPBF_REQUEST_SESSION, &s, NULL, NULL);
	*type = (uint32_t)t;
	*session = s;
	return 0;
}

int
lim_auth_check(const uint8_t *body, size_t len, char *why, size_t whylen)
{
	long streams = pbw_count(body, len, CPBF_AUTH_STREAMS);
	long subtree = pbw_count(body, len, CPBF_AUTH_SUBTREE);

	if (streams < 0) {
		snprintf(why, whylen, "undecodable Auth");
		return STATUS(BAD_REQUEST);
	}
	if (streams > LIM_AUTH_STREAMS_MAX || subtree > LIM_AUTH_SUBTREE_MAX) {
		snprintf(why, whylen, "Auth with %ld streams and %ld subtree ids "
		    "(at most %d and %d)", streams, subtree, LIM_AUTH_STREAMS_MAX,
		    LIM_AUTH_SUBTREE_MAX);
		return STATUS(TOO_LARGE);
	}
	return 0;
}

/* The bytes of an encoded Packet's payloads (a repeat is merged by protobuf). */
static size_t
payload_bytes(const uint8_t *pkt, size_t len)
{
	struct pbw w;
	const uint8_t *d;
	uint64_t v;
	size_t dl, n = 0;
	unsigned f;

	pbw_start(&w, pkt, len);
	while (pbw_next(&w, &f, &v, &d, &dl) > 0)
		if (f == CPBF_PACKET_PAYLOAD && d != NULL)
			n += dl;
	return n;
}

/*
 * A packet above max-packet only by its payload is no reason to refuse the
 * push: the router rejects that one packet for good (oversize, in the
 * reply's rejects[]) and takes the others, so a sender that did not know
 * the limit yet does not resend the whole push forever. Its payload costs
 * one copy to unpack, within the request's budget. A packet whose other
 * fields are that large (a bomb of empty hops) still refuses the push.
 */
int
lim_push_check(const uint8_t *body, size_t len, char *why, size_t whylen)
{
	struct pbw w;
	const uint8_t *d;
	uint64_t v, pktmax = node->conf->max_packet + LIM_PACKET_OVERHEAD;
	size_t dl;
	unsigned f;
	long npk = 0, nseqs, hops;
	int rc;

	pbw_start(&w, body, len);
	while ((rc = pbw_next(&w, &f, &v, &d, &dl)) > 0) {
		if (f != CPBF_PUSH_PACKETS)
			continue;
		if (d == NULL) {
			rc = -1;
			break;
		}
		npk++;
		if (dl > pktmax && dl - payload_bytes(d, dl) > LIM_PACKET_OVERHEAD) {
			snprintf(why, whylen, "packet %ld of the batch has %zu bytes (max-packet is "
			    "%llu)", npk, dl, (unsigned long long)node->conf->max_packet);
			return STATUS(TOO_LARGE);
		}
		if ((hops = pbw_count(d, dl, CPBF_PACKET_TRACE)) > CPKT_TRACE_MAX) {
			snprintf(why, whylen, "packet %ld of the batch has %ld hops (at most %d)",
			    npk, hops, CPKT_TRACE_MAX);
			return STATUS(TOO_LARGE);
		}
	}
	if (rc < 0 || (nseqs = count_scalars(body, len, CPBF_PUSH_SEQS)) < 0) {
		snprintf(why, whylen, "undecodable Push");
		return STATUS(BAD_REQUEST);
	}
	if (npk > (long)node->conf->max_batch || nseqs > (long)node->conf->max_batch) {
		snprintf(why, whylen, "batch of %ld packets (max-batch is %u)",
		    npk > nseqs ? npk : nseqs, node->conf->max_batch);
		return STATUS(TOO_LARGE);
	}
	return 0;
}

/* ---------------------------------------------------- source addresses */

/* "1.2.3.4:56" -> "1.2.3.4", "[::1]:56" -> "::1" */
static void
addr_ip(const char *peeraddr, char *ip, size_t len)
{
	const char *end;
	size_t n;

	if (peeraddr[0] == '[' && (end = strchr(peeraddr, ']')) != NULL)
		peeraddr++;
	else if ((end = strrchr(peeraddr, ':')) == NULL)
		end = peeraddr + strlen(peeraddr);
	n = (size_t)(end - peeraddr);
	if (n >= len)
		n = len - 1;
	memcpy(ip, peeraddr, n);
	ip[n] = '\0';
}

static struct addrent *
addr_find(const char *ip)
{
	struct hnode *n;

	for (n = ht_first(&addrs_by, ht_hash_str(ip)); n != NULL; n = ht_next(n)) {
		struct addrent *a = HT_ENTRY(n, struct addrent, hn);

		if (strcmp(a->ip, ip) == 0)
			return a;
	}
	return NULL;
}

static struct addrent *
addr_get(const char *peeraddr)
{
	struct addrent *a;
	char ip[48];

	addr_ip(peeraddr, ip, sizeof(ip));
	a = addr_find(ip);
	if (a != NULL) {
		TAILQ_REMOVE(&addrs, a, entry);
	} else if (naddrs >= ADDRS_MAX) {
		/* forget the address seen least recently, unless it still has challenges */
		TAILQ_FOREACH_REVERSE(a, &addrs, addrent_q, entry)
			if (a->challenges == 0)
				break;
		if (a == NULL)
			return NULL;
		TAILQ_REMOVE(&addrs, a, entry);
		ht_del(&addrs_by, &a->hn);
		memset(a, 0, sizeof(*a));
		snprintf(a->ip, sizeof(a->ip), "%s", ip);
		ht_add(&addrs_by, &a->hn, ht_hash_str(a->ip));
	} else {
		a = xcalloc(1, sizeof(*a));
		snprintf(a->ip, sizeof(a->ip), "%s", ip);
		ht_add(&addrs_by, &a->hn, ht_hash_str(a->ip));
		naddrs++;
	}
	TAILQ_INSERT_HEAD(&addrs, a, entry);
	return a;
}

int
lim_challenge_take(const char *peeraddr)
{
	struct addrent *a = addr_get(peeraddr);

	if (a == NULL || a->challenges >= LIM_CHALLENGES_PER_ADDR)
		return -1;
	a->challenges++;
	return 0;
}

void
lim_challenge_drop(const char *peeraddr)
{
	struct addrent *a = addr_get(peeraddr);

	if (a != NULL && a->challenges > 0)
		a->challenges--;
}

static void
fail_window(struct addrent *a, int64_t now)
{
	if (now - a->window_ms < AUTH_FAIL_WINDOW_MS)
		return;
	if (a->suppressed > 0)
		log_warnx("server: %s: %u more failed logins in the last %d s (not logged one "
		    "by one)", a->ip, a->suppressed, AUTH_FAIL_WINDOW_MS / 1000);
	a->window_ms = now;
	a->fails = 0;
	a->suppressed = 0;
}

int64_t
lim_auth_locked(const char *peeraddr)
{
	struct addrent *a = addr_get(peeraddr);
	int64_t now = cmono_ms();

	if (a == NULL)
		return 0;
	fail_window(a, now);
	if (a->fails < node->conf->auth_fail_max)
		return 0;
	return a->window_ms + AUTH_FAIL_WINDOW_MS - now;
}

/*
 * A reload added a peer or changed a secret: failed logins counted so far
 * were judged by the old config (a removed child keeps dialing and fails
 * until it is added back), so they are forgotten.
 */
void
lim_auth_forgive(void)
{
	struct addrent *a;

	TAILQ_FOREACH(a, &addrs, entry)
		a->fails = 0;
}

int
lim_auth_failed(const char *peeraddr)
{
	struct addrent *a = addr_get(peeraddr);
	int64_t now = cmono_ms();

	if (a == NULL)
		return 1;
	fail_window(a, now);
	if (++a->fails == node->conf->auth_fail_max)
		log_warnx("server: %s: %u failed logins within %d s: logins from this address "
		    "refused for %lld s", a->ip, a->fails, AUTH_FAIL_WINDOW_MS / 1000,
		    (long long)(a->window_ms + AUTH_FAIL_WINDOW_MS - now) / 1000);
	if (a->fails <= AUTH_FAIL_LOGGED)
		return 1;
	a->suppressed++;
	return 0;
}

/* ---------------------------------------------------------- push rate */

int
lim_push_rate(struct peer *p)
{
	int64_t now = cmono_ms();
	double rate = node->conf->push_rate, burst = rate;

	if (rate <= 0)
		return 0;
	if (p->rate_ms == 0)
		p->rate_tokens = burst;
	else
		p->rate_tokens += (double)(now - p->rate_ms) * rate / 1000.0;
	if (p->rate_tokens > burst)
		p->rate_tokens = burst;
	p->rate_ms = now;
	if (p->rate_tokens < 1.0)
		return -1;
	p->rate_tokens -= 1.0;
	return 0;
}

/* ------------------------------------------------------------- quotas */

#define QBUCKETS 16384

struct qent {
	struct jkey k;
	struct peer *p;
	uint32_t bytes;
	struct qent *next;
};

static struct qent **qtab;              /* allocated when first used */

static unsigned
qhash(const struct jkey *k)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < CID_LEN; i++)
		h = (h ^ k->id[i]) * 16777619u;
	return (h ^ k->leg) % QBUCKETS;
}

int
lim_quota_on(void)
{
	return node->conf->quota_packets > 0 || node->conf->quota_bytes > 0;
}

int
lim_quota_check(const struct peer *p, long npk, size_t bytes, char *why, size_t whylen)
{
	const struct conf *c = node->conf;

	/* nothing held: a push always goes in, however big (it could never fit otherwise) */
	if (c->quota_packets > 0 && p->q_packets > 0 &&
	    p->q_packets + (uint64_t)npk > c->quota_packets) {
		snprintf(why, whylen, "quota: %llu packets held here (quota-packets %u)",
		    (unsigned long long)p->q_packets, c->quota_packets);
		return -1;
	}
	if (c->quota_bytes > 0 && p->q_packets > 0 && p->q_bytes + bytes > c->quota_bytes) {
		snprintf(why, whylen, "quota: %llu bytes held here (quota-bytes %llu)",
		    (unsigned long long)p->q_bytes, (unsigned long long)c->quota_bytes);
		return -1;
	}
	return 0;
}

void
lim_quota_take(struct peer *p, const uint8_t id[CID_LEN], uint8_t leg, size_t bytes)
{
	struct qent *e;
	unsigned h;

	if (!lim_quota_on())
		return;
	if (qtab == NULL)
		qtab = xcalloc(QBUCKETS, sizeof(*qtab));
	e = xcalloc(1, sizeof(*e));
	memcpy(e->k.id, id, CID_LEN);
	e->k.leg = leg;
	e->p = p;
	e->bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
	h = qhash(&e->k);
	e->next = qtab[h];
	qtab[h] = e;
	p->q_packets++;
	p->q_bytes += e->bytes;
}

void
lim_quota_release(const struct jkey *k, unsigned n)
{
	struct qent **ep, *e;
	unsigned i;

	for (i = 0; qtab != NULL && i < n; i++)
		for (ep = &qtab[qhash(&k[i])]; (e = *ep) != NULL; ep = &e->next)
			if (e->k.leg == k[i].leg && memcmp(e->k.id, k[i].id, CID_LEN) == 0) {
				*ep = e->next;
				e->p->q_packets--;
				e->p->q_bytes -= e->bytes;
				free(e);
				break;
			}
}

int
lim_quota_keys(struct journal *j, uint32_t qid, uint64_t upto, struct jkey **keys,
    unsigned *n)
{
	struct jqueue_info qi;
	uint64_t want;
	int rc;

	*keys = NULL;
	*n = 0;
	if (!lim_quota_on() || (rc = journal_queue_info(j, qid, &qi)) != 0 ||
	    upto <= qi.acked_seq)
		return 0;
	want = upto - qi.acked_seq;
	if (want > 1000000)
		want = 1000000;
	*keys = xcalloc(want, sizeof(**keys));
	return journal_queue_keys(j, qid, qi.acked_seq + 1, upto, *keys, (unsigned)want, n);
}

void
lim_shutdown(void)
{
	struct addrent *a;
	struct qent *e;
	size_t i;

	for (i = 0; qtab != NULL && i < QBUCKETS; i++)
		while ((e = qtab[i]) != NULL) {
			qtab[i] = e->next;
			free(e);
		}
	free(qtab);
	qtab = NULL;

	while ((a = TAILQ_FIRST(&addrs)) != NULL) {
		TAILQ_REMOVE(&addrs, a, entry);
		free(a);
	}
	ht_clear(&addrs_by);
	naddrs = 0;
}
