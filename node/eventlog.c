/*
 * eventlog.c — the journal's typed, hash-chained event log.
 *
 * A record: u8 version, u8 leg, u16 type, u32 reason, u64 seq, i64 time,
 * id[16], payload sha256[32], (u16 len, bytes) for peer, src, dst, text,
 * u8 ntrace and (u16 len, bytes) per hop; all integers big-endian. A newer
 * version may only append fields, so an older reader decodes the prefix.
 * Stored under key u64 seq as hash[32] || record, where hash =
 * SHA-256(previous hash || record) and the first previous hash is 32 zero
 * bytes. The event's index entries (evindex.c) go in with it, in the same
 * transaction.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "journal.h"
#include "journal_int.h"

#define JEV_VERSION     1
#define JEV_HDR         72

static size_t
ev_reclen(const struct jevent *ev)
{
	size_t n = JEV_HDR + 4 * 2 + 1;
	unsigned i;

	n += strlen(nz(ev->peer)) + strlen(nz(ev->src)) + strlen(nz(ev->dst)) +
	    strlen(nz(ev->text));
	for (i = 0; i < ev->ntrace && i < JEV_MAXTRACE; i++)
		n += 2 + strlen(nz(ev->trace[i]));
	return n;
}

static uint8_t *
ev_putstr(uint8_t *p, const char *s)
{
	size_t n = strlen(nz(s));

	if (n > UINT16_MAX)
		n = UINT16_MAX;
	put16(p, (uint16_t)n);
	memcpy(p + 2, nz(s), n);
	return p + 2 + n;
}

/* Encodes ev (seq already set) at out; returns the record length. */
static size_t
ev_encode(const struct jevent *ev, uint8_t *out)
{
	unsigned i, nt = ev->ntrace < JEV_MAXTRACE ? ev->ntrace : JEV_MAXTRACE;
	uint8_t *p;

	out[0] = JEV_VERSION;
	out[1] = ev->leg;
	put16(out + 2, (uint16_t)ev->type);
	put32(out + 4, ev->reason);
	put64(out + 8, ev->seq);
	put64(out + 16, (uint64_t)ev->time_ms);
	memcpy(out + 24, ev->id, CID_LEN);
	memcpy(out + 40, ev->payload_sha, CSHA256_LEN);
	p = out + JEV_HDR;
	p = ev_putstr(p, ev->peer);
	p = ev_putstr(p, ev->src);
	p = ev_putstr(p, ev->dst);
	p = ev_putstr(p, ev->text);
	*p++ = (uint8_t)nt;
	for (i = 0; i < nt; i++)
		p = ev_putstr(p, ev->trace[i]);
	return (size_t)(p - out);
}

/* Decoding scratch: strings get their NULs here, the trace its pointers. */
struct evdec {
	uint8_t *str;
	size_t strsz;
	const char *trace[JEV_MAXTRACE];
};

static int
ev_getstr(const uint8_t **p, const uint8_t *end, char **out, char **strp)
{
	size_t n;

	if (end - *p < 2)
		return -1;
	n = get16(*p);
	if ((size_t)(end - *p - 2) < n)
		return -1;
	memcpy(*strp, *p + 2, n);
	(*strp)[n] = '\0';
	*out = *strp;
	*strp += n + 1;
	*p += 2 + n;
	return 0;
}

/* Decodes a record (without its hash) into ev; strings live in d. */
static int
ev_decode(const uint8_t *rec, size_t len, struct jevent *ev, struct evdec *d)
{
	const uint8_t *p = rec + JEV_HDR, *end = rec + len;
	char *s, *peer, *src, *dst, *text, *hop;
	unsigned i, nt;

	/* Newer versions may only append: the known prefix still decodes. */
	if (len < JEV_HDR + 9 || rec[0] == 0)
		return JOURNAL_CORRUPT;
	/* each string grows by its NUL but loses its 2-byte length: len is enough */
	if (jgrow_buf(&d->str, &d->strsz, len + 8) == NULL)
		return ENOMEM;
	s = (char *)d->str;
	memset(ev, 0, sizeof(*ev));
	ev->leg = rec[1];
	ev->type = get16(rec + 2);
	ev->reason = get32(rec + 4);
	ev->seq = get64(rec + 8);
	ev->time_ms = (int64_t)get64(rec + 16);
	memcpy(ev->id, rec + 24, CID_LEN);
	memcpy(ev->payload_sha, rec + 40, CSHA256_LEN);
	if (ev_getstr(&p, end, &peer, &s) || ev_getstr(&p, end, &src, &s) ||
	    ev_getstr(&p, end, &dst, &s) || ev_getstr(&p, end, &text, &s) || p >= end)
		return JOURNAL_CORRUPT;
	nt = *p++;
	for (i = 0; i < nt; i++) {
		if (ev_getstr(&p, end, &hop, &s))
			return JOURNAL_CORRUPT;
		d->trace[i] = hop;
	}
	ev->peer = peer;
	ev->src = src;
	ev->dst = dst;
	ev->text = text;
	ev->trace = d->trace;
	ev->ntrace = nt;
	return 0;
}

/* Appends ev to the chain inside w; fills ev->seq and ev->hash. */
int
jev_append(struct wtx *w, struct jevent *ev)
{
	struct journal *j = w->j;
	uint8_t key[8], hash[CSHA256_LEN];
	MDB_val k, v;
	size_t len;
	int rc;

	if (jgrow_buf(&j->ebuf, &j->ebufsz, CSHA256_LEN + ev_reclen(ev)) == NULL)
		return ENOMEM;
	ev->seq = w->ev_seq + 1;
	len = ev_encode(ev, j->ebuf + CSHA256_LEN);
	csha256_2(w->ev_hash, CSHA256_LEN, j->ebuf + CSHA256_LEN, len, hash);
	memcpy(j->ebuf, hash, CSHA256_LEN);
	put64(key, ev->seq);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	v.mv_size = CSHA256_LEN + len;
	v.mv_data = j->ebuf;
	rc = mdb_put(w->txn, j->events, &k, &v, MDB_APPEND);
	if (rc)
		return rc;
	if (j->ix_on && (rc = jix_put(j, w->txn, ev)) != 0)
		return rc;
	memcpy(ev->hash, hash, CSHA256_LEN);
	w->ev_seq = ev->seq;
	memcpy(w->ev_hash, hash, CSHA256_LEN);
	return 0;
}

/* Fills the packet part of an event (src, dst, trace, id) from p. */
void
jev_set_packet(struct jevent *ev, const Cascade__Packet *p, const char **trace)
{
	size_t i, n;

	if (p == NULL)
		return;
	if (p->id.len == CID_LEN && p->id.data != NULL)
		memcpy(ev->id, p->id.data, CID_LEN);
	/*
	 * An audit copy's dst is the original's; its src is the node that made
	 * it (the one the router checked), so the original's src, carried
	 * beside it, is what the auditor sees: who sent what to whom.
	 */
	if (p->kind == CASCADE__PACKET_KIND__KIND_AUDIT && p->orig_src != NULL &&
	    *p->orig_src != '\0')
		ev->src = p->orig_src;
	else
		ev->src = nz(p->src);
	ev->dst = nz(p->dst);
	ev->command = nz(p->command);
	ev->ref = p->ref_id.len == CID_LEN ? p->ref_id.data : NULL;
	n = p->n_trace < JEV_MAXTRACE ? p->n_trace : JEV_MAXTRACE;
	for (i = 0; i < n; i++)
		trace[i] = p->trace[i] != NULL ? nz(p->trace[i]->node) : "";
	ev->trace = trace;
	ev->ntrace = (unsigned)n;
}

/*
 * Logs an event about stored packet r (the body decoded for its src, dst
 * and trace). The body must be readable: call before any put in the txn.
 */
int
jev_about_why(struct wtx *w, const struct jrec *r, const uint8_t *pkey, uint32_t type,
    const char *peer, int64_t now_ms, uint32_t reason, const char *text)
{
	const char *trace[JEV_MAXTRACE];
	Cascade__Packet *p = NULL;
	struct jevent ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.reason = reason;
	ev.time_ms = now_ms;
	memcpy(ev.id, pkey, CID_LEN);
	ev.leg = pkey[CID_LEN];
	ev.peer = nz(peer);
	ev.text = nz(text);
	memcpy(ev.payload_sha, r->sha, CSHA256_LEN);
	p = jrec_decode(w->j, r, pkey);
	jev_set_packet(&ev, p, trace);
	memcpy(ev.id, pkey, CID_LEN);
	rc = jev_append(w, &ev);
	if (p != NULL)
		cascade__packet__free_unpacked(p, NULL);
	return rc;
}

int
jev_about(struct wtx *w, const struct jrec *r, const uint8_t *pkey, uint32_t type,
    const char *peer, int64_t now_ms, const char *text)
{
	return jev_about_why(w, r, pkey, type, peer, now_ms, 0, text);
}

int
journal_log(struct journal *j, struct jevent *ev)
{
	struct wtx w;
	int rc;

	if ((rc = jwtx_begin(j, &w)) != 0)
		return jfail(j, rc, "log: begin");
	if ((rc = jev_append(&w, ev)) != 0) {
		jwtx_abort(&w);
		return jfail(j, rc, "log event %u", ev->type);
	}
	if ((rc = jwtx_commit(&w)) != 0)
		return jfail(j, rc, "log event %u: commit", ev->type);
	return 0;
}

int
journal_events(struct journal *j, uint64_t from, int (*fn)(const struct jevent *, void *),
    void *arg)
{
	struct evdec d = { 0 };
	struct jevent ev;
	MDB_cursor *c = NULL;
	uint8_t key[8];
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "events: begin");
	if ((rc = mdb_cursor_open(txn, j->events, &c)) != 0)
		goto fail;
	put64(key, from);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size < CSHA256_LEN) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		rc = ev_decode((const uint8_t *)v.mv_data + CSHA256_LEN,
		    v.mv_size - CSHA256_LEN, &ev, &d);
		if (rc)
			goto fail;
		ev.seq = get64(k.mv_data);
		memcpy(ev.hash, v.mv_data, CSHA256_LEN);
		ev.rec = (const uint8_t *)v.mv_data + CSHA256_LEN;
		ev.reclen = v.mv_size - CSHA256_LEN;
		if (fn(&ev, arg) != 0)
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jrd_end(j, txn);
	free(d.str);
	if (rc)
		return jfail(j, rc, "events from %llu", (unsigned long long)from);
	return 0;
}

/* The time of a stored record (hash || record), or 0 when too short to say. */
static int64_t
val_time(const MDB_val *v)
{
	return v->mv_size >= CSHA256_LEN + 24 ?
	    (int64_t)get64((const uint8_t *)v->mv_data + CSHA256_LEN + 16) : 0;
}

int
journal_verify_from(struct journal *j, int64_t since_ms, const uint8_t *anchor,
    struct jverify *vr)
{
	uint8_t prev[CSHA256_LEN] = { 0 }, h[CSHA256_LEN];
	struct evdec d = { 0 };
	struct jevent ev;
	MDB_cursor *c = NULL;
	uint64_t expect = 1, seq = 0;
	int64_t last_ms = 0;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, drc;

	memset(vr, 0, sizeof(*vr));
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "verify: begin");
	if ((rc = mdb_cursor_open(txn, j->events, &c)) != 0)
		goto fail;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	/*
	 * --since: the first record at or after it (the clock may step back, so
	 * by position, not by a search on time); the one before it gives the
	 * hash the rest hooks on, taken as stored.
	 */
	for (; since_ms != 0 && rc == 0 && val_time(&v) < since_ms;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size < CSHA256_LEN) {
			seq = k.mv_size == 8 ? get64(k.mv_data) : 0;
			snprintf(vr->what, sizeof(vr->what), "a malformed key or value");
			goto corrupt;
		}
		memcpy(prev, v.mv_data, CSHA256_LEN);
		expect = get64(k.mv_data) + 1;
		last_ms = val_time(&v);
	}
	if (rc == 0) {
		vr->first_seq = k.mv_size == 8 ? get64(k.mv_data) : expect;
		vr->first_time_ms = val_time(&v);
		if (since_ms != 0)
			expect = vr->first_seq;
	}
	memcpy(vr->start_hash, prev, CSHA256_LEN);
	if (anchor != NULL && vr->first_seq > 1 && memcmp(prev, anchor, CSHA256_LEN) == 0) {
		vr->anchor_found = 1;
		vr->anchor_seq = vr->first_seq - 1;
		vr->anchor_time_ms = last_ms;
	}
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), expect++) {
		const uint8_t *rec = (const uint8_t *)v.mv_data + CSHA256_LEN;
		size_t len = v.mv_size - CSHA256_LEN;

		seq = k.mv_size == 8 ? get64(k.mv_data) : expect;
		vr->bad_time_ms = last_ms;
		if (k.mv_size != 8 || v.mv_size < CSHA256_LEN) {
			snprintf(vr->what, sizeof(vr->what), "a malformed key or value");
			goto corrupt;
		}
		if (seq != expect) {
			/* a hole: the first missing position is the broken one */
			snprintf(vr->what, sizeof(vr->what), "missing: the log jumps from %llu to "
			    "%llu (deleted)", (unsigned long long)expect - 1, (unsigned long long)seq);
			vr->missing = 1;
			seq = expect;
			goto corrupt;
		}
		/* decoded once: its time names a broken record, its seq is checked below */
		if ((drc = ev_decode(rec, len, &ev, &d)) == 0)
			vr->bad_time_ms = ev.time_ms;
		csha256_2(prev, CSHA256_LEN, rec, len, h);
		if (memcmp(h, v.mv_data, CSHA256_LEN) != 0) {
			snprintf(vr->what, sizeof(vr->what), "its content does not match its hash "
			    "(changed after it was written)");
			goto corrupt;
		}
		if (drc != 0 || ev.seq != seq) {
			snprintf(vr->what, sizeof(vr->what), "%s", ev.seq != seq ? "its recorded "
			    "position differs from its key" : "it does not decode");
			goto corrupt;
		}
		last_ms = ev.time_ms;
		memcpy(prev, h, CSHA256_LEN);
		if (anchor != NULL && !vr->anchor_found && memcmp(h, anchor, CSHA256_LEN) == 0) {
			vr->anchor_found = 1;
			vr->anchor_seq = seq;
			vr->anchor_time_ms = ev.time_ms;
		}
		vr->count++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	vr->bad_time_ms = 0;
	memcpy(vr->head, prev, CSHA256_LEN);
	goto fail;
corrupt:
	vr->bad_seq = seq;
	memcpy(vr->head, prev, CSHA256_LEN);
	rc = JOURNAL_CORRUPT;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jrd_end(j, txn);
	free(d.str);
	if (rc == JOURNAL_CORRUPT)
		return jfail(j, rc, "event %llu breaks the hash chain: %s",
		    (unsigned long long)vr->bad_seq, vr->what);
	if (rc)
		return jfail(j, rc, "verify");
	return 0;
}

int
journal_verify_ex(struct journal *j, struct jverify *vr)
{
	return journal_verify_from(j, 0, NULL, vr);
}

int
journal_anchor(struct journal *j, int64_t now_ms, uint64_t *seq, uint8_t head[CSHA256_LEN])
{
	char text[2 * CSHA256_LEN + 64];
	struct jevent ev;
	struct wtx w;
	size_t n;
	int rc;

	if ((rc = jwtx_begin(j, &w)) != 0)
		return jfail(j, rc, "anchor: begin");
	*seq = w.ev_seq;
	memcpy(head, w.ev_hash, CSHA256_LEN);
	n = (size_t)snprintf(text, sizeof(text), "chain head at record %llu: ",
	    (unsigned long long)w.ev_seq);
	chex(head, CSHA256_LEN, text + n);
	memset(&ev, 0, sizeof(ev));
	ev.type = JEV_ANCHOR;
	ev.time_ms = now_ms;
	ev.peer = ev.src = ev.dst = "";
	ev.text = text;
	if ((rc = jev_append(&w, &ev)) != 0) {
		jwtx_abort(&w);
		return jfail(j, rc, "anchor: log");
	}
	if ((rc = jwtx_commit(&w)) != 0)
		return jfail(j, rc, "anchor: commit");
	return 0;
}

int
journal_verify(struct journal *j, uint64_t *count, uint64_t *bad_seq)
{
	struct jverify v;
	int rc = journal_verify_ex(j, &v);

	*count = v.count;
	*bad_seq = v.bad_seq;
	return rc;
}

/* ------------------------------------------------------------ indexes */

int
journal_indexed(struct journal *j)
{
	return j->ix_ok;
}

int
journal_has_index(struct journal *j)
{
	return j->has_evidx;
}

int
journal_events_where(struct journal *j, const struct jev_where *w,
    int (*fn)(const struct jevent *, void *), void *arg)
{
	struct evdec d = { 0 };
	struct jevent ev;
	uint64_t *seqs = NULL;
	uint8_t key[8];
	size_t i, n = 0;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if (!j->ix_ok)
		return JOURNAL_NO_INDEX;
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "events: begin");
	if ((rc = jix_collect(j, txn, w, &seqs, &n)) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		put64(key, seqs[i]);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		/*
		 * An entry whose event is gone: a record deleted behind the
		 * journal's back (audit verify names it). Shown as the scan shows
		 * it: not at all. (A record altered in place decodes to what it now
		 * says, for both; only verify can tell.)
		 */
		if ((rc = mdb_get(txn, j->events, &k, &v)) == MDB_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc)
			goto fail;
		if (v.mv_size < CSHA256_LEN) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		rc = ev_decode((const uint8_t *)v.mv_data + CSHA256_LEN,
		    v.mv_size - CSHA256_LEN, &ev, &d);
		if (rc)
			goto fail;
		ev.seq = seqs[i];
		memcpy(ev.hash, v.mv_data, CSHA256_LEN);
		if (fn(&ev, arg) != 0)
			break;
	}
fail:
	jrd_end(j, txn);
	free(seqs);
	free(d.str);
	if (rc == JOURNAL_NO_INDEX)
		return rc;
	if (rc)
		return jfail(j, rc, "indexed events");
	return 0;
}

/* The time of event seq, or -1 when it cannot be read. */
static int64_t
ev_time(struct journal *j, MDB_txn *txn, uint64_t seq)
{
	uint8_t key[8];
	MDB_val k, v;

	put64(key, seq);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	if (mdb_get(txn, j->events, &k, &v) != 0 || v.mv_size < CSHA256_LEN + 24)
		return -1;
	return (int64_t)get64((const uint8_t *)v.mv_data + CSHA256_LEN + 16);
}

/*
 * The first event not indexed. Indexed events are always a prefix of the
 * log (appends index in their own transaction, the build goes in order and
 * the suffix appended without indexes, by an older cascaded or with
 * audit-index no, is what a build catches up on), so a binary search finds it.
 */
static int
first_unindexed(struct journal *j, uint64_t *first)
{
	uint64_t lo = 1, hi = j->ev_seq + 1, mid;
	MDB_txn *txn;
	int64_t t;
	int rc = 0;

	if ((rc = jrd_begin(j, &txn)) != 0)
		return rc;
	while (lo < hi) {       /* invariant: all < lo indexed, all >= hi not */
		mid = lo + (hi - lo) / 2;
		if ((t = ev_time(j, txn, mid)) < 0) {
			rc = JOURNAL_CORRUPT;
			break;
		}
		if ((rc = jix_has(j, txn, mid, t)) < 0)
			break;
		if (rc == 1)
			lo = mid + 1;
		else
			hi = mid;
		rc = 0;
	}
	jrd_end(j, txn);
	*first = lo;
	return rc;
}

/*
 * The packet stored under pkey, decoded, or NULL (gone, pruned, sealed
 * under a key not configured). For the event indexes' build.
 */
static Cascade__Packet *
jpkt_load(struct journal *j, MDB_txn *txn, const uint8_t *pkey)
{
	struct jrec r;
	MDB_val k, v;

	k.mv_size = JKEY_LEN;
	k.mv_data = (void *)pkey;
	if (mdb_get(txn, j->packets, &k, &v) != 0 || jrec_parse(&v, &r) != 0)
		return NULL;
	return jrec_decode(j, &r, pkey);
}

#define JIX_BUILD_TXN   20000   /* events indexed per transaction of the build */

/* Indexes events from..to in one transaction; *at gets the next to do. */
static int
build_some(struct journal *j, uint64_t from, uint64_t to, uint64_t *at)
{
	struct evdec d = { 0 };
	struct jevent ev;
	MDB_cursor *c = NULL;
	uint8_t key[8], pkey[JKEY_LEN];
	struct wtx w;
	MDB_val k, v;
	int rc;

	*at = from;
	if ((rc = jwtx_begin(j, &w)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(w.txn, j->events, &c)) != 0)
		goto fail;
	put64(key, from);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Cascade__Packet *p = NULL;
		static const uint8_t zero[CID_LEN];

		if (k.mv_size != 8 || v.mv_size < CSHA256_LEN) {
			rc = JOURNAL_CORRUPT;
			goto fail;
		}
		if ((ev.seq = get64(k.mv_data)) > to)
			break;
		if ((rc = ev_decode((const uint8_t *)v.mv_data + CSHA256_LEN,
		    v.mv_size - CSHA256_LEN, &ev, &d)) != 0)
			goto fail;
		ev.seq = get64(k.mv_data);
		/* records carry no command: the packet has it while it is journaled */
		if (memcmp(ev.id, zero, CID_LEN) != 0) {
			memcpy(pkey, ev.id, CID_LEN);
			pkey[CID_LEN] = ev.leg;
			if ((p = jpkt_load(j, w.txn, pkey)) != NULL) {
				ev.command = p->command;
				ev.ref = p->ref_id.len == CID_LEN ? p->ref_id.data : NULL;
			}
		}
		rc = jix_put(j, w.txn, &ev);
		if (p != NULL)
			cascade__packet__free_unpacked(p, NULL);
		if (rc)
			goto fail;
		*at = ev.seq + 1;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(c);
	free(d.str);
	return jwtx_commit(&w);
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	jwtx_abort(&w);
	free(d.str);
	*at = from;
	return rc;
}

/*
 * Brings the indexes up to the last event: nothing to do for a journal that
 * always had them; a journal from before them (or kept with audit-index no
 * for a while) is indexed here, once, with progress in the log. A failure
 * leaves the journal serving without indexes (queries scan); the next
 * start tries again.
 */
void
jev_index_build(struct journal *j)
{
	uint64_t first, at, total, next_pct = 10;
	time_t t0 = time(NULL);
	int rc;

	j->ix_on = 0;
	if (!j->has_evidx)
		return;
	if (!j->ix_ok) {
		if ((rc = first_unindexed(j, &first)) != 0)
			goto fail;
		total = j->ev_seq - first + 1;
		log_info("journal %s: indexing events %llu to %llu for audit queries (once, for "
		    "a journal written without indexes); queries scan until it is done", j->dir,
		    (unsigned long long)first, (unsigned long long)j->ev_seq);
		for (at = first; at <= j->ev_seq;) {
			uint64_t to = at + JIX_BUILD_TXN - 1;

			if ((rc = build_some(j, at, to < j->ev_seq ? to : j->ev_seq, &at)) != 0)
				goto fail;
			if ((at - first) * 100 >= next_pct * total && at <= j->ev_seq) {
				log_info("journal %s: indexing events: %llu%% (%llu of %llu)", j->dir,
				    (unsigned long long)((at - first) * 100 / total),
				    (unsigned long long)(at - first), (unsigned long long)total);
				next_pct = (at - first) * 100 / total + 10;
			}
		}
		log_info("journal %s: %llu events indexed in %lld s", j->dir,
		    (unsigned long long)total, (long long)(time(NULL) - t0));
		j->ix_ok = 1;
	}
	j->ix_on = 1;
	return;
fail:
	log_warnx("journal %s: indexing events: %s; audit queries scan the log instead, the "
	    "next start tries again", j->dir, journal_strerror(rc));
	j->ix_ok = 0;
}
