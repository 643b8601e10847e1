/*
 * custody_test.c — node/custody.c's outbound, custody_take_out, on a real
 * journal in a temporary directory: it takes at most max entries and about
 * max_bytes (at least one), in queue order, skips nothing when read on from
 * the last sequence it returned, and re-encodes each for the next hop (held
 * time in this node's hop, ttl less the time held). The intake is tested
 * with real daemons (tests/integration/tree.sh, quota.sh, cancel.sh, ...):
 * it needs the loop and the journal thread.
 */
#include "config.h"

#include <string.h>

#include "cu.h"
#include "custody.h"
#include "jtest.h"

#define RC(expr) CHECK_RC(expr, journal_strerror)
#define NPKT 10
#define PAYLEN 1000

static struct node nd;

/* A journal with NPKT packets in one queue, accepted held_ms ago. */
static struct journal *
setup(const char *dir, uint32_t *q, int64_t held_ms)
{
	struct journal *j = jt_open(dir);

	RC(journal_queue(j, "client:city-b/dr-wang", JQ_CLIENT, q));
	RC(jt_insert(j, *q, NPKT, PAYLEN, cnow_ms() - held_ms, 0, NULL));
	memset(&nd, 0, sizeof(nd));
	nd.j = j;
	node = &nd;
	return j;
}

/* The stored size of the packet at seq (what max_bytes counts). */
static size_t
body_len(struct journal *j, uint32_t q, uint64_t seq)
{
	struct jentry e;
	unsigned n;
	size_t len;

	RC(journal_peek(j, q, seq, 1, 1 << 20, &e, &n));
	CHECK_EQ(n, 1);
	len = e.len;
	journal_entries_free(&e, n);
	return len;
}

static void
TEST_take_out_respects_max_and_bytes(void)
{
	char *dir = cu_tmpdir("custody");
	struct custody_out out;
	struct journal *j;
	uint32_t q;
	size_t one;

	j = setup(dir, &q, 0);
	one = body_len(j, q, 1);

	RC(custody_take_out(q, 1, 4, 1 << 20, "test", &out));
	CHECK_EQ(out.entries, 4);
	CHECK_EQ(out.n, 4);
	CHECK_EQ(out.seqs[0], 1);
	CHECK_EQ(out.seqs[3], 4);
	CHECK_EQ(out.last_seq, 4);
	custody_out_free(&out);
	CU_ASSERT_PTR_NULL(out.pkts);

	/* two and a half packets' worth of bytes: two */
	RC(custody_take_out(q, 5, 16, one * 2 + one / 2, "test", &out));
	CHECK_EQ(out.n, 2);
	CHECK_EQ(out.seqs[0], 5);
	CHECK_EQ(out.last_seq, 6);
	custody_out_free(&out);

	/* fewer bytes than one packet: still one, or a big packet never leaves */
	RC(custody_take_out(q, 7, 16, 1, "test", &out));
	CHECK_EQ(out.n, 1);
	CHECK_EQ(out.seqs[0], 7);
	custody_out_free(&out);

	/* the rest, then nothing */
	RC(custody_take_out(q, 8, 16, 1 << 20, "test", &out));
	CHECK_EQ(out.n, 3);
	CHECK_EQ(out.last_seq, NPKT);
	custody_out_free(&out);
	RC(custody_take_out(q, NPKT + 1, 16, 1 << 20, "test", &out));
	CHECK_EQ(out.entries, 0);
	CHECK_EQ(out.n, 0);
	custody_out_free(&out);

	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* Read on from where the last take ended, every packet comes once, in order. */
static void
TEST_take_out_skips_nothing(void)
{
	char *dir = cu_tmpdir("custody");
	struct custody_out out;
	struct jentry e[NPKT];
	struct journal *j;
	uint64_t from = 1, expect = 1;
	unsigned n, i, max = 1, takes = 0;
	uint32_t q;
	size_t one;

	j = setup(dir, &q, 0);
	one = body_len(j, q, 1);
	RC(journal_peek(j, q, 1, NPKT, 1 << 20, e, &n));
	CHECK_EQ(n, NPKT);
	for (;;) {
		/* windows of 1, 2, 3 entries and 1..2 packets' bytes by turns */
		RC(custody_take_out(q, from, max, one * (1 + takes % 2), "test", &out));
		if (out.entries == 0) {
			custody_out_free(&out);
			break;
		}
		CU_ASSERT(out.n <= max);
		for (i = 0; i < out.n; i++) {
			CHECK_EQ(out.seqs[i], expect);
			CU_ASSERT_FATAL(expect <= NPKT);
			/* the packet stored under that seq */
			CU_ASSERT(out.pkts[i]->id.len == CID_LEN &&
			    memcmp(out.pkts[i]->id.data, e[expect - 1].key.id, CID_LEN) == 0);
			expect++;
		}
		from = out.last_seq + 1;
		custody_out_free(&out);
		max = max % 3 + 1;
		CU_ASSERT_FATAL(++takes < 2 * NPKT);
	}
	CHECK_EQ(expect, NPKT + 1);
	journal_entries_free(e, n);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

/* Each packet goes out as the next hop should get it: held time, ttl left. */
static void
TEST_take_out_reencodes(void)
{
	char *dir = cu_tmpdir("custody");
	struct custody_out out;
	struct journal *j;
	const Cascade__Hop *h;
	uint32_t q;

	j = setup(dir, &q, 5000);
	RC(custody_take_out(q, 1, 1, 1 << 20, "test", &out));
	CHECK_EQ(out.n, 1);
	CU_ASSERT_FATAL(out.pkts[0]->n_trace == 1);
	h = out.pkts[0]->trace[0];
	CU_ASSERT(h->held_ms >= 5000 && h->held_ms < 60000);
	CU_ASSERT(out.pkts[0]->ttl_ms <= 60000 - 5000 && out.pkts[0]->ttl_ms > 0);
	custody_out_free(&out);
	journal_close(j);
	cu_rmtree(dir);
	free(dir);
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_take_out_respects_max_and_bytes),
		CU_TEST(TEST_take_out_skips_nothing),
		CU_TEST(TEST_take_out_reencodes),
		CU_END
	};

	return cu_main("custody", tests, argc, argv);
}
