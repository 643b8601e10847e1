/*
 * audit_index_test.c — the event indexes (node/evindex.c) give the same
 * answers as the scan. A journal is written through the real commit path
 * (batches, rejects, duplicates, notices referring to packets, acks, a
 * clock that steps back), then every filter is asked both ways
 * (aq_scan_mode AQ_SCAN and AQ_INDEX) and the event lists compared. Also:
 * a journal written without indexes is indexed at its next open by a
 * writer, and read only it is scanned; index bytes per event stay under the
 * figure cascade.conf(5) gives. Anchors and journal_verify_from too.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "audit_query.h"
#include "jtest.h"

#define RC(expr) CHECK_RC(expr, journal_strerror)

#define T0      1796292000000LL         /* 2026-12-03T10:00:00Z */
#define NBATCH  120
#define PERB    12

static const char *const srcs[] = { "cy-a/dr1", "cy-a/dr2", "cy-a", "cy-ab/x", "cy-b/dr3",
    "cy-a/dr1/odd" };
static const char *const dsts[] = { "city/expert", "city", "cy-a/dr2", "master/audit" };
static const char *const cmds[] = { "consult.request", "image.get", "x" };

static uint8_t ids[NBATCH * PERB][CID_LEN];
static unsigned nids;

struct seqlist {
	uint64_t v[NBATCH * PERB * 4 + 64];
	size_t n;
};

static int
collect(const struct aq_row *r, void *arg)
{
	struct seqlist *l = arg;

	if (l->n < sizeof(l->v) / sizeof(l->v[0]))
		l->v[l->n++] = r->ev->seq;
	return 0;
}

/* Writes the journal: NBATCH batches of PERB packets, a minute apart but one step back. */
static void
gen(struct journal *j, uint32_t q)
{
	struct tpkt t[PERB];
	struct jitem it[PERB];
	struct jbatch b;
	struct jevent ev;
	unsigned i, k, n, x = 7;
	int64_t now = T0;

	nids = 0;
	for (k = 0; k < NBATCH; k++) {
		memset(it, 0, sizeof(it));
		for (i = 0; i < PERB; i++) {
			x = x * 1103515245 + 12345;
			tpkt_init(&t[i], srcs[(x >> 8) % 6], dsts[(x >> 12) % 4], 16);
			t[i].p.command = (char *)cmds[(x >> 16) % 3];
			/* every fifth a notice about an earlier packet */
			if (i % 5 == 4 && nids > 0) {
				t[i].p.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
				t[i].p.ref_id.data = ids[(x >> 4) % nids];
				t[i].p.ref_id.len = CID_LEN;
			}
			it[i].pkt = &t[i].p;
			it[i].queues[0] = q;
			it[i].nqueues = 1;
			if (i == 3 && k % 4 == 0)
				it[i].reject = 2;       /* refused for good: REJECTED, not stored */
			memcpy(ids[nids++], t[i].id, CID_LEN);
		}
		/* the clock steps back ten minutes once */
		now = k == NBATCH / 2 ? now - 10 * 60000 : now + 61000 + (int64_t)(x % 3000);
		memset(&b, 0, sizeof(b));
		b.peer = "cy-a";
		b.items = it;
		b.n = PERB;
		b.now_ms = now;
		RC(journal_commit_batch(j, &b));
		if (k % 3 == 0)         /* a duplicate of the batch's first */
			RC(journal_commit_batch(j, &(struct jbatch){ .peer = "cy-a", .items = it,
			    .n = 1, .now_ms = now + 5 }));
		for (i = 0; i < PERB; i++)
			tpkt_free(&t[i]);
		if (k % 2 == 1) {       /* acks: FORWARDED, about stored packets */
			struct jqueue_info qi;

			RC(journal_queue_info(j, q, &qi));
			RC(journal_ack(j, q, qi.next_seq - 1, (uint64_t)now + 20, &n));
		}
		if (k % 10 == 0) {      /* events about no packet */
			memset(&ev, 0, sizeof(ev));
			ev.type = JEV_NOTE;
			ev.time_ms = now + 30;
			ev.peer = ev.src = ev.dst = ev.text = "";
			RC(journal_log(j, &ev));
		}
	}
}

/* The same filter both ways: the same events. */
static void
same(struct journal *j, const struct aq_filter *f, const char *what)
{
	static struct seqlist a, b;
	int rc;

	a.n = b.n = 0;
	RC(aq_scan_mode(j, f, AQ_SCAN, collect, &a));
	rc = aq_scan_mode(j, f, AQ_INDEX, collect, &b);
	if (rc == JOURNAL_NO_INDEX && !f->since_ms && !f->until_ms && !f->src && !f->dst &&
	    !f->command && !f->has_id)
		return;         /* nothing to narrow: the scan is the answer */
	CHECK_RC(rc, journal_strerror);
	if (a.n != b.n || memcmp(a.v, b.v, a.n * sizeof(a.v[0])) != 0)
		fprintf(stderr, "%s: scan %zu events, index %zu\n", what, a.n, b.n);
	CHECK_EQ(b.n, a.n);
	CU_ASSERT(memcmp(a.v, b.v, a.n * sizeof(a.v[0])) == 0);
}

static unsigned nchecked;

static void
all_filters(struct journal *j)
{
	static const char *const addrs[] = { "cy-a", "cy-a/dr1", "cy-a/dr2", "cy-ab", "cy-ab/x",
	    "cy-b", "city", "city/expert", "master", "nobody", "cy-a/dr1/odd" };
	struct aq_filter f;
	unsigned i, w;
	char what[128];

	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		for (w = 0; w < 4; w++) {
			memset(&f, 0, sizeof(f));
			f.src = addrs[i];
			if (w & 1)
				f.since_ms = T0 + 30 * 60000 + 17;
			if (w & 2)
				f.until_ms = T0 + 75 * 60000 + 3;
			snprintf(what, sizeof(what), "--src %s window %u", addrs[i], w);
			same(j, &f, what);
			f.src = NULL;
			f.dst = addrs[i];
			snprintf(what, sizeof(what), "--dst %s window %u", addrs[i], w);
			same(j, &f, what);
			f.src = addrs[i];
			f.type = JEV_FORWARDED;
			same(j, &f, "src, dst and type");
			nchecked += 3;
		}
	}
	for (i = 0; i < 3; i++) {
		memset(&f, 0, sizeof(f));
		f.command = cmds[i];
		same(j, &f, cmds[i]);
		f.since_ms = T0 + 50 * 60000;
		f.until_ms = T0 + 51 * 60000;
		same(j, &f, "command, one minute");
		f.limit = 3;
		same(j, &f, "command, limit 3");
		nchecked += 3;
	}
	for (i = 0; i < nids; i += 7) {
		memset(&f, 0, sizeof(f));
		f.has_id = 1;
		memcpy(f.id, ids[i], CID_LEN);
		same(j, &f, "--id");
		nchecked++;
	}
	/* windows alone, across the step back and past both ends */
	for (w = 0; w < 40; w++) {
		memset(&f, 0, sizeof(f));
		f.since_ms = T0 - 3600000 + (int64_t)w * 5 * 60000 + w;
		f.until_ms = f.since_ms + (int64_t)(w % 7 + 1) * 11 * 60000;
		if (w % 9 == 0)
			f.until_ms = 0;
		same(j, &f, "window");
		f.type = JEV_ACCEPTED;
		same(j, &f, "window and type");
		nchecked += 2;
	}
}

static void
TEST_index_equals_scan(void)
{
	char *dir = cu_tmpdir("auditix");
	struct journal *j = jt_open(dir);
	struct jstats st;
	uint32_t q;

	RC(journal_queue(j, "up", JQ_LINK, &q));
	gen(j, q);
	CU_ASSERT(journal_indexed(j));
	nchecked = 0;
	all_filters(j);
	CU_ASSERT(nchecked > 150);
	RC(journal_stats(j, &st));
	CU_ASSERT(st.indexed);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* Written without indexes: scanned read only, indexed by the next writer. */
static void
TEST_build_at_open(void)
{
	char *dir = cu_tmpdir("auditix");
	struct journal_opts o;
	struct journal *j;
	struct aq_filter f;
	struct seqlist *l = calloc(1, sizeof(*l));
	char err[512];
	uint32_t q;

	jt_opts(&o, dir);
	o.no_index = 1;
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));
	gen(j, q);
	CU_ASSERT(!journal_indexed(j));
	journal_close(j);

	o.no_index = 0;
	o.readonly = 1;
	RC(journal_open(&j, &o, err, sizeof(err)));
	CU_ASSERT(!journal_indexed(j));
	memset(&f, 0, sizeof(f));
	f.src = "cy-a";
	CHECK_EQ(aq_scan_mode(j, &f, AQ_INDEX, collect, l), JOURNAL_NO_INDEX);
	RC(aq_scan(j, &f, collect, l));         /* the scan answers */
	CU_ASSERT(l->n > 100);
	journal_close(j);

	o.readonly = 0;
	RC(journal_open(&j, &o, err, sizeof(err)));
	CU_ASSERT(journal_indexed(j));
	all_filters(j);
	journal_close(j);
	free(l);
	cu_rmtree(dir);
	free(dir);
}

/*
 * Indexed, then a stretch without (audit-index no, or an older cascaded):
 * incomplete, so read only it scans; the next writer catches up on the
 * stretch alone and the answers are the scan's again.
 */
static void
TEST_catch_up(void)
{
	char *dir = cu_tmpdir("auditix");
	struct journal_opts o;
	struct journal *j;
	char err[512];
	uint32_t q;

	jt_opts(&o, dir);
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));
	gen(j, q);
	journal_close(j);
	o.no_index = 1;
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));
	gen(j, q);
	journal_close(j);
	o.no_index = 0;
	o.readonly = 1;
	RC(journal_open(&j, &o, err, sizeof(err)));
	CU_ASSERT(!journal_indexed(j));
	journal_close(j);
	o.readonly = 0;
	RC(journal_open(&j, &o, err, sizeof(err)));
	CU_ASSERT(journal_indexed(j));
	all_filters(j);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/*
 * What the indexes cost, per event: the same packets, accepted then
 * forwarded (two events each, ids increasing as origins make them), into a
 * journal with them and one without; the pages in use (free ones not
 * counted) differ by the indexes. cascade.conf(5) (JOURNAL SIZE) says about
 * 80 bytes per event (87 measured here), the records themselves some 160.
 */
static double
bytes_per_event(int no_index, uint64_t *events)
{
	char *dir = cu_tmpdir("auditix");
	struct journal_opts o;
	struct journal *j;
	struct jbatch b;
	struct jstats st;
	char err[512];
	unsigned i, n;
	uint32_t q;

	jt_opts(&o, dir);
	o.map_size = 64 * 1024 * 1024;
	o.no_index = no_index;
	RC(journal_open(&j, &o, err, sizeof(err)));
	RC(journal_queue(j, "up", JQ_LINK, &q));
	for (i = 0; i < 200; i++) {
		RC(jt_insert(j, q, 50, 200, T0 + i * 1000, 0, &b));
		RC(journal_ack(j, q, (uint64_t)(i + 1) * 50, (uint64_t)(T0 + i * 1000 + 500), &n));
	}
	RC(journal_stats(j, &st));
	*events = st.events;
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
	return (double)st.pages_used * (double)st.page_size;
}

static void
TEST_bytes_per_event(void)
{
	uint64_t ev_ix, ev_no;
	double with = bytes_per_event(0, &ev_ix), without = bytes_per_event(1, &ev_no);
	double per = (with - without) / (double)ev_ix;

	CHECK_EQ(ev_ix, ev_no);
	CU_ASSERT(ev_ix >= 20000);
	fprintf(stderr, "%llu events: %.0f bytes in use with the indexes, %.0f without: "
	    "%.1f bytes per event for them, %.1f for the rest\n", (unsigned long long)ev_ix,
	    with, without, per, without / (double)ev_ix);
	CU_ASSERT(per > 0);
	CU_ASSERT(per <= 100);
}

/* An anchor is the head at its time; verify_from finds it, and starts at --since. */
static void
TEST_anchor_verify_from(void)
{
	char *dir = cu_tmpdir("auditix");
	struct journal *j = jt_open(dir);
	uint8_t head[CSHA256_LEN], other[CSHA256_LEN];
	struct jverify v;
	struct jbatch b;
	uint64_t seq;
	uint32_t q;
	unsigned i;

	RC(journal_queue(j, "up", JQ_LINK, &q));
	for (i = 0; i < 10; i++)
		RC(jt_insert(j, q, 3, 10, T0 + i * 1000, 0, &b));
	RC(journal_anchor(j, T0 + 10500, &seq, head));
	CHECK_EQ(seq, 30);
	for (i = 11; i < 20; i++)
		RC(jt_insert(j, q, 3, 10, T0 + i * 1000, 0, &b));
	RC(journal_verify_from(j, 0, head, &v));
	CU_ASSERT(v.anchor_found);
	CHECK_EQ(v.anchor_seq, 30);
	CHECK_EQ(v.count, 31 + 27);
	CHECK_EQ(jt_events(j, JEV_ANCHOR), 1);
	memset(other, 0xab, sizeof(other));
	RC(journal_verify_from(j, 0, other, &v));
	CU_ASSERT(!v.anchor_found);
	/* from 15 s on: records 47.. (the anchor is 31) */
	RC(journal_verify_from(j, T0 + 15000, head, &v));
	CHECK_EQ(v.first_seq, 31 + 3 * 4 + 1);
	CHECK_EQ(v.count, 3 * 5);
	CU_ASSERT(!v.anchor_found);             /* before the start: not walked */
	/* starting right after the anchored record: the hash it hooks on is the anchor */
	RC(journal_verify_from(j, T0 + 10500, head, &v));
	CHECK_EQ(v.first_seq, 31);
	CU_ASSERT(memcmp(v.start_hash, head, CSHA256_LEN) == 0);
	CU_ASSERT(v.anchor_found);
	CHECK_EQ(v.anchor_seq, 30);
	RC(journal_verify_from(j, T0 + 99000, NULL, &v));
	CHECK_EQ(v.first_seq, 0);
	CHECK_EQ(v.count, 0);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_anchor_verify_from),
	CU_TEST(TEST_index_equals_scan),
	CU_TEST(TEST_build_at_open),
	CU_TEST(TEST_catch_up),
	CU_TEST(TEST_bytes_per_event),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("audit_index", tests, argc, argv);
}
