/* packets_test.c — unit tests for packets/: ids, addresses, packets, crypto, envelopes, link. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * CUnit defines its own CU_TEST assertion, which cu.h redefines as a table
 * entry; drop CUnit's first so the redefinition does not warn.
 */
#include <CUnit/Basic.h>
#undef CU_TEST
#include "cu.h"
#include "packets.h"

/* ---------------------------------------------------------------- helpers */

/* A small deterministic PRNG (xorshift64*) so that fuzz failures repeat. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void
hex_to_bytes(const char *hex, uint8_t *out)
{
	size_t i;

	for (i = 0; hex[2 * i] != '\0'; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* Writes content to dir/name with the given mode; returns the malloc'd path. */
static char *
write_file(const char *dir, const char *name, const char *content, mode_t mode)
{
	char *path;
	int fd;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	close(fd);
	CU_ASSERT_FATAL(chmod(path, mode) == 0);
	return path;
}

/*
 * A packet with storage for everything it points at. fixture_init builds a
 * valid data packet; fixture_full a valid notice with every field set and a
 * trace of 3 hops.
 */
struct fixture {
	Cascade__Packet p;
	Cascade__Hop hops[CPKT_TRACE_MAX + 1];
	Cascade__Hop *hopp[CPKT_TRACE_MAX + 1];
	uint8_t id[CID_LEN], reply_to[CID_LEN], ref_id[CID_LEN];
	uint8_t payload[64];
	char text[CPKT_TEXT_MAX + 2];
	char command[CPKT_COMMAND_MAX + 2];
};

static void
fixture_init(struct fixture *f)
{
	Cascade__Packet p = CASCADE__PACKET__INIT;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->p = p;
	for (i = 0; i <= CPKT_TRACE_MAX; i++) {
		Cascade__Hop h = CASCADE__HOP__INIT;

		f->hops[i] = h;
		f->hops[i].node = (char *)"fj-xm";
		f->hopp[i] = &f->hops[i];
	}
	CU_ASSERT_FATAL(cid_next(f->id) == 0);
	f->p.version = CPKT_VERSION;
	f->p.id.data = f->id;
	f->p.id.len = CID_LEN;
	f->p.src = (char *)"fj-xm-siming/dr-lin";
	f->p.dst = (char *)"fj/expert.desk_1";
	strcpy(f->command, "consult.request");
	f->p.command = f->command;
	f->p.ttl_ms = 60000;
	f->p.flags = CASCADE__PACKET_FLAG__FLAG_RECEIPT | CASCADE__PACKET_FLAG__FLAG_NOTIFY;
	f->p.trace = f->hopp;
}

static void
fixture_full(struct fixture *f)
{
	size_t i;

	fixture_init(f);
	for (i = 0; i < sizeof(f->payload); i++)
		f->payload[i] = (uint8_t)(i * 7 + 1);
	memset(f->reply_to, 0xab, CID_LEN);
	memset(f->ref_id, 0xcd, CID_LEN);
	strcpy(f->text, "fj-xm-siming: dst \"x\" has no route");
	f->p.payload.data = f->payload;
	f->p.payload.len = sizeof(f->payload);
	f->p.ttl_ms = 123456789012LL;
	f->p.flags = CASCADE__PACKET_FLAG__FLAG_RECEIPT | CASCADE__PACKET_FLAG__FLAG_DOWN |
	    CASCADE__PACKET_FLAG__FLAG_URGENT | CASCADE__PACKET_FLAG__FLAG_NOTIFY;
	f->p.reply_to.data = f->reply_to;
	f->p.reply_to.len = CID_LEN;
	f->p.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
	f->p.ref_id.data = f->ref_id;
	f->p.ref_id.len = CID_LEN;
	f->p.notice = CASCADE__NOTICE_CODE__NOTICE_REJECTED;
	f->p.reason = CASCADE__REASON__REASON_UNROUTABLE;
	f->p.text = f->text;
	f->p.n_trace = 3;
	f->hops[0].node = (char *)"fj-xm-siming";
	f->hops[0].leg = 0;
	f->hops[0].arrived_ms = 1700000000000LL;
	f->hops[0].held_ms = 5;
	f->hops[1].node = (char *)"fj-xm";
	f->hops[1].leg = 0;
	f->hops[1].arrived_ms = 1700000000010LL;
	f->hops[1].held_ms = 70000;
	f->hops[2].node = (char *)"fj";
	f->hops[2].leg = 1;
	f->hops[2].arrived_ms = 1700000000123LL;
	f->hops[2].held_ms = 0;
}

static int
bin_equal(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int
str_equal(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static int
packet_equal(const Cascade__Packet *a, const Cascade__Packet *b)
{
	size_t i;

	if (a->version != b->version || !bin_equal(&a->id, &b->id) ||
	    !str_equal(a->src, b->src) || !str_equal(a->dst, b->dst) ||
	    !str_equal(a->command, b->command) || !bin_equal(&a->payload, &b->payload) ||
	    a->ttl_ms != b->ttl_ms || a->flags != b->flags ||
	    !bin_equal(&a->reply_to, &b->reply_to) || a->kind != b->kind ||
	    !bin_equal(&a->ref_id, &b->ref_id) || a->notice != b->notice ||
	    a->reason != b->reason || !str_equal(a->text, b->text) || a->n_trace != b->n_trace)
		return 0;
	for (i = 0; i < a->n_trace; i++)
		if (!str_equal(a->trace[i]->node, b->trace[i]->node) ||
		    a->trace[i]->leg != b->trace[i]->leg ||
		    a->trace[i]->arrived_ms != b->trace[i]->arrived_ms ||
		    a->trace[i]->held_ms != b->trace[i]->held_ms)
			return 0;
	return 1;
}

/* -------------------------------------------------------------------- ids */

#define ID_COUNT 100000

static void
TEST_id_increasing(void)
{
	static uint8_t ids[ID_COUNT][CID_LEN];
	int i, bad = 0, same_ms = 0;

	for (i = 0; i < ID_COUNT; i++)
		CU_ASSERT_FATAL(cid_next(ids[i]) == 0);
	for (i = 1; i < ID_COUNT; i++)
		if (memcmp(ids[i - 1], ids[i], CID_LEN) >= 0)
			bad++;
	CHECK_EQ(bad, 0);
	/* Many ids shared a millisecond: the tail, not the clock, kept them apart. */
	for (i = 1; i < ID_COUNT; i++)
		if (cid_time_ms(ids[i - 1]) == cid_time_ms(ids[i]))
			same_ms++;
	CU_ASSERT(same_ms > 0);
	CU_ASSERT(cid_time_ms(ids[ID_COUNT - 1]) >= cid_time_ms(ids[0]));
	CU_ASSERT(cid_time_ms(ids[ID_COUNT - 1]) - cid_time_ms(ids[0]) < 60000);
}

#define THREAD_IDS 50000

struct id_thread {
	uint8_t (*ids)[CID_LEN];
	int rc, unordered;
};

static void *
id_thread_main(void *arg)
{
	struct id_thread *t = arg;
	int i;

	for (i = 0; i < THREAD_IDS; i++)
		if (cid_next(t->ids[i]) != 0)
			t->rc = -1;
	for (i = 1; i < THREAD_IDS; i++)
		if (memcmp(t->ids[i - 1], t->ids[i], CID_LEN) >= 0)
			t->unordered++;
	return NULL;
}

static int
id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CID_LEN);
}

static void
TEST_id_threads(void)
{
	static uint8_t ids[2 * THREAD_IDS][CID_LEN];
	struct id_thread t[2];
	pthread_t th[2];
	int i, dups = 0;

	for (i = 0; i < 2; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].ids = ids + i * THREAD_IDS;
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, id_thread_main, &t[i]) == 0);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(t[i].rc, 0);
		CHECK_EQ(t[i].unordered, 0);
	}
	qsort(ids, 2 * THREAD_IDS, CID_LEN, id_cmp);
	for (i = 1; i < 2 * THREAD_IDS; i++)
		if (memcmp(ids[i - 1], ids[i], CID_LEN) == 0)
			dups++;
	CHECK_EQ(dups, 0);
}

static void
TEST_id_time(void)
{
	uint8_t id[CID_LEN];
	int64_t before, after, t;

	before = cnow_ms();
	CU_ASSERT_FATAL(cid_next(id) == 0);
	after = cnow_ms();
	t = cid_time_ms(id);
	CU_ASSERT(t >= before);
	CU_ASSERT(t <= after + 1);
	/* A plausible wall clock: after 2020-01-01. */
	CU_ASSERT(before > 1577836800000LL);
	CU_ASSERT(cmono_ms() >= 0);
}

static void
TEST_id_text(void)
{
	static const char *bad[] = {
		"",
		"0123456789ab-0123456789abcdef012",        /* one digit short */
		"0123456789ab-0123456789abcdef01234",      /* one digit too many */
		"0123456789a-b0123456789abcdef0123",       /* dash in the wrong place */
		"0123456789abx0123456789abcdef0123",       /* no dash */
		"0123456789ab-0123456789abcdef012g",       /* not hex */
		"0123456789ab-0123456789abcdef012 ",
		" 123456789ab-0123456789abcdef0123",
		"+123456789ab-0123456789abcdef0123",       /* sscanf would take a sign */
		"0123456789ab-0123456789abcdef0123-",
		NULL,
	};
	uint8_t id[CID_LEN], back[CID_LEN];
	char text[CID_TEXT_LEN], upper[CID_TEXT_LEN];
	int i;

	for (i = 0; i < 100; i++) {
		CU_ASSERT_FATAL(cid_next(id) == 0);
		cid_format(id, text);
		CHECK_EQ(strlen(text), CID_TEXT_LEN - 1);
		CHECK_EQ(text[12], '-');
		CU_ASSERT_FATAL(cid_parse(text, back) == 0);
		CU_ASSERT(memcmp(id, back, CID_LEN) == 0);
	}
	/* The text form sorts like the ids do and carries the ms up front. */
	hex_to_bytes("0123456789abcdef0123456789abcdef", id);
	CU_ASSERT_STRING_EQUAL(cid_format(id, text), "0123456789ab-cdef0123456789abcdef");
	CHECK_EQ(cid_time_ms(id), 0x0123456789abLL);
	strcpy(upper, "0123456789AB-CDEF0123456789ABCDEF");
	CU_ASSERT_FATAL(cid_parse(upper, back) == 0);
	CU_ASSERT(memcmp(id, back, CID_LEN) == 0);
	for (i = 0; bad[i] != NULL; i++) {
		if (cid_parse(bad[i], back) == 0)
			fprintf(stderr, "cid_parse accepted \"%s\"\n", bad[i]);
		CU_ASSERT(cid_parse(bad[i], back) == -1);
	}
	CU_ASSERT(cid_parse(NULL, back) == -1);
}

/* -------------------------------------------------------------- addresses */

static void
TEST_addr_valid(void)
{
	static const struct {
		const char *text, *node, *client;
	} ok[] = {
		{ "fj", "fj", "" },
		{ "0", "0", "" },
		{ "fj-xm-siming", "fj-xm-siming", "" },
		{ "fj-xm-", "fj-xm-", "" },
		{ "fj-xm-siming/dr-lin", "fj-xm-siming", "dr-lin" },
		{ "fj/expert.desk_1", "fj", "expert.desk_1" },
		{ "a/9._-", "a", "9._-" },
		{ NULL, NULL, NULL },
	};
	char node63[64], client63[64], text[CADDR_TEXT_MAX + 1], buf[CADDR_TEXT_MAX + 1];
	struct caddr a;
	int i;

	for (i = 0; ok[i].text != NULL; i++) {
		CHECK_EQ(caddr_parse(ok[i].text, &a), CADDR_OK);
		CU_ASSERT_STRING_EQUAL(a.node, ok[i].node);
		CU_ASSERT_STRING_EQUAL(a.client, ok[i].client);
		CU_ASSERT_STRING_EQUAL(caddr_format(&a, buf, sizeof(buf)), ok[i].text);
	}
	memset(node63, 'n', 63);
	node63[63] = '\0';
	memset(client63, 'c', 63);
	client63[63] = '\0';
	snprintf(text, sizeof(text), "%s/%s", node63, client63);
	CHECK_EQ(strlen(text), CADDR_TEXT_MAX);
	CHECK_EQ(caddr_parse(text, &a), CADDR_OK);
	CU_ASSERT_STRING_EQUAL(a.node, node63);
	CU_ASSERT_STRING_EQUAL(a.client, client63);
	CU_ASSERT_STRING_EQUAL(caddr_format(&a, buf, sizeof(buf)), text);
	CHECK_EQ(caddr_check_node(node63), CADDR_OK);
	CHECK_EQ(caddr_check_client(client63), CADDR_OK);
	CHECK_EQ(caddr_check_client("dr.lin_2-x"), CADDR_OK);
	/* A short buffer truncates instead of overflowing. */
	caddr_format(&a, buf, 5);
	CU_ASSERT_STRING_EQUAL(buf, "nnnn");
}

static void
TEST_addr_errors(void)
{
	static const struct {
		const char *text;
		enum caddr_err want;
	} cases[] = {
		{ "", CADDR_EMPTY },
		{ "/dr-lin", CADDR_NODE_EMPTY },
		{ "/", CADDR_NODE_EMPTY },
		{ "n123456789012345678901234567890123456789012345678901234567890123",
		    CADDR_NODE_TOO_LONG },
		{ "n123456789012345678901234567890123456789012345678901234567890123/x",
		    CADDR_NODE_TOO_LONG },
		{ "Fj", CADDR_NODE_BAD_CHAR },
		{ "-fj", CADDR_NODE_BAD_CHAR },
		{ "fj_xm", CADDR_NODE_BAD_CHAR },
		{ "fj.xm/a", CADDR_NODE_BAD_CHAR },
		{ "fj xm", CADDR_NODE_BAD_CHAR },
		{ "fj\xc3\xa9", CADDR_NODE_BAD_CHAR },
		{ "fj/", CADDR_CLIENT_EMPTY },
		{ "a//b", CADDR_CLIENT_EMPTY },
		{ "fj/c123456789012345678901234567890123456789012345678901234567890123",
		    CADDR_CLIENT_TOO_LONG },
		{ "fj/Dr", CADDR_CLIENT_BAD_CHAR },
		{ "fj/.lin", CADDR_CLIENT_BAD_CHAR },
		{ "fj/_lin", CADDR_CLIENT_BAD_CHAR },
		{ "fj/-lin", CADDR_CLIENT_BAD_CHAR },
		{ "fj/dr lin", CADDR_CLIENT_BAD_CHAR },
		{ "fj/dr:lin", CADDR_CLIENT_BAD_CHAR },
		{ "a/b/c", CADDR_TOO_MANY_PARTS },
		{ "a/b/", CADDR_TOO_MANY_PARTS },
		{ NULL, CADDR_OK },
	};
	int seen[CADDR_TOO_MANY_PARTS + 1] = { 0 };
	struct caddr a;
	int i, j;

	for (i = 0; cases[i].text != NULL; i++) {
		enum caddr_err e = caddr_parse(cases[i].text, &a);

		if (e != cases[i].want)
			fprintf(stderr, "caddr_parse(\"%s\") = %d (%s), want %d\n", cases[i].text,
			    e, caddr_strerror(e), cases[i].want);
		CU_ASSERT(e == cases[i].want);
		/* A failed parse leaves nothing half-filled behind. */
		CU_ASSERT(a.node[0] == '\0' && a.client[0] == '\0');
		seen[cases[i].want] = 1;
	}
	for (i = CADDR_EMPTY; i <= CADDR_TOO_MANY_PARTS; i++) {
		CU_ASSERT(seen[i]);
		CU_ASSERT(strlen(caddr_strerror(i)) > 0);
		for (j = CADDR_OK; j < i; j++)
			CU_ASSERT(strcmp(caddr_strerror(i), caddr_strerror(j)) != 0);
	}
	CHECK_EQ(caddr_parse(NULL, &a), CADDR_EMPTY);
	CHECK_EQ(caddr_check_node(""), CADDR_NODE_EMPTY);
	CHECK_EQ(caddr_check_node("fj/x"), CADDR_NODE_BAD_CHAR);
	CHECK_EQ(caddr_check_client(""), CADDR_CLIENT_EMPTY);
	CHECK_EQ(caddr_check_client("a/b"), CADDR_CLIENT_BAD_CHAR);
	CU_ASSERT(strstr(caddr_strerror(CADDR_NODE_BAD_CHAR), "[a-z0-9-]") != NULL);
}

/* ---------------------------------------------------------------- packets */

static char long_command[CPKT_COMMAND_MAX + 2];
static char long_text[CPKT_TEXT_MAX + 2];

/* Breaks one field of a valid packet; case n of the table in TEST_pkt_errors. */
static void
break_packet(int n, struct fixture *f)
{
	switch (n) {
	case 0: f->p.version = 0; break;
	case 1: f->p.version = 2; break;
	case 2: f->p.id.len = 15; break;
	case 3: f->p.id.len = 0; break;
	case 4: f->p.src = (char *)""; break;
	case 5: f->p.src = (char *)"a//b"; break;
	case 6: f->p.src = (char *)"fj\nxm"; break;
	case 7: f->p.dst = (char *)"Fj"; break;
	case 8: f->p.dst = (char *)"a/b/c"; break;
	case 9: f->p.dst = NULL; break;
	case 10: f->p.command = (char *)""; break;
	case 11: f->p.command = (char *)"consult request"; break;
	case 12: f->p.command = long_command; break;
	case 13: f->p.payload.len = 11; f->p.payload.data = f->payload; break;
	case 14: f->p.ttl_ms = 0; break;
	case 15: f->p.ttl_ms = -5; break;
	case 16: f->p.flags |= CASCADE__PACKET_FLAG__FLAG_LATE; break;
	case 17: f->p.flags |= CASCADE__PACKET_FLAG__FLAG_REDELIVERY; break;
	case 18: f->p.flags |= 0x80; break;
	case 19: f->p.flags |= 0x80000000u; break;
	case 20: f->p.kind = 4; break;
	case 21: f->p.reply_to.len = 8; f->p.reply_to.data = f->reply_to; break;
	case 22: f->p.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
		f->p.notice = CASCADE__NOTICE_CODE__NOTICE_DELIVERED; break;
	case 23: f->p.kind = CASCADE__PACKET_KIND__KIND_CANCEL; break;
	case 24: f->p.kind = CASCADE__PACKET_KIND__KIND_AUDIT;
		f->p.ref_id.len = 15; f->p.ref_id.data = f->ref_id; break;
	case 25: f->p.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
		f->p.ref_id.len = CID_LEN; f->p.ref_id.data = f->ref_id; f->p.notice = 0; break;
	case 26: f->p.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
		f->p.ref_id.len = CID_LEN; f->p.ref_id.data = f->ref_id; f->p.notice = 8; break;  /* 7 is DELAYED */
	case 27: f->p.n_trace = CPKT_TRACE_MAX + 1; break;
	case 28: f->p.n_trace = 3; f->hops[1].node = (char *)""; break;
	case 29: f->p.n_trace = 3; f->hops[1].node = (char *)"-fj"; break;
	case 30: f->p.n_trace = 3; f->hops[1].leg = 2; break;
	case 31: f->p.text = long_text; break;
	}
}

static void
TEST_pkt_errors(void)
{
	static const struct {
		enum cpkt_err want;
		size_t limit;
		const char *field;        /* the message must name it */
	} cases[] = {
		{ CPKT_BAD_VERSION, 0, "version 0" },
		{ CPKT_BAD_VERSION, 0, "version 2" },
		{ CPKT_BAD_ID, 0, "id: 15 bytes" },
		{ CPKT_BAD_ID, 0, "id: 0 bytes" },
		{ CPKT_BAD_SRC, 0, "src: missing" },
		{ CPKT_BAD_SRC, 0, "src \"a//b\": client id is empty" },
		{ CPKT_BAD_SRC, 0, "src \"fj\\x0axm\"" },
		{ CPKT_BAD_DST, 0, "dst \"Fj\"" },
		{ CPKT_BAD_DST, 0, "dst \"a/b/c\"" },
		{ CPKT_BAD_DST, 0, "dst: missing" },
		{ CPKT_BAD_COMMAND, 0, "command: missing" },
		{ CPKT_BAD_COMMAND, 0, "command \"consult request\"" },
		{ CPKT_BAD_COMMAND, 0, "command \"xxxx" },
		{ CPKT_PAYLOAD_TOO_LARGE, 10, "payload: 11 bytes" },
		{ CPKT_EXPIRED, 0, "ttl_ms 0" },
		{ CPKT_EXPIRED, 0, "ttl_ms -5" },
		{ CPKT_BAD_FLAGS, 0, "FLAG_LATE" },
		{ CPKT_BAD_FLAGS, 0, "FLAG_REDELIVERY" },
		{ CPKT_BAD_FLAGS, 0, "flags 0x91" },
		{ CPKT_BAD_FLAGS, 0, "flags 0x80000011" },
		{ CPKT_BAD_KIND, 0, "kind 4" },
		{ CPKT_BAD_REPLY_TO, 0, "reply_to: 8 bytes" },
		{ CPKT_BAD_REF, 0, "ref_id: 0 bytes" },
		{ CPKT_BAD_REF, 0, "ref_id: 0 bytes" },
		{ CPKT_BAD_REF, 0, "ref_id: 15 bytes" },
		{ CPKT_BAD_NOTICE, 0, "notice 0" },
		{ CPKT_BAD_NOTICE, 0, "notice 8" },
		{ CPKT_TRACE_TOO_LONG, 0, "trace: 33 hops" },
		{ CPKT_BAD_TRACE, 0, "trace[1] node \"\"" },
		{ CPKT_BAD_TRACE, 0, "trace[1] node \"-fj\"" },
		{ CPKT_BAD_TRACE, 0, "trace[1] leg 2" },
		{ CPKT_TEXT_TOO_LONG, 0, "text: 257 bytes" },
	};
	int seen[CPKT_MALFORMED + 1] = { 0 };
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff };
	struct fixture f;
	char msg[512];
	size_t i;
	int j;
	enum cpkt_err e;

	memset(long_command, 'x', CPKT_COMMAND_MAX + 1);
	memset(long_text, 't', CPKT_TEXT_MAX + 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fixture_init(&f);
		CHECK_EQ(cpkt_validate(&f.p, 0, NULL, 0), CPKT_OK);
		break_packet((int)i, &f);
		strcpy(msg, "stale");
		e = cpkt_validate(&f.p, cases[i].limit, msg, sizeof(msg));
		if (e != cases[i].want || strstr(msg, cases[i].field) == NULL)
			fprintf(stderr, "case %zu: got %d \"%s\", want %d naming \"%s\"\n", i, e,
			    msg, cases[i].want, cases[i].field);
		CHECK_EQ(e, cases[i].want);
		CU_ASSERT(strstr(msg, cases[i].field) != NULL);
		CU_ASSERT(strchr(msg, '\n') == NULL);
		/* Without a message buffer the code is the same. */
		CHECK_EQ(cpkt_validate(&f.p, cases[i].limit, NULL, 0), cases[i].want);
		seen[cases[i].want] = 1;
	}

	/* Bytes that do not decode: the caller validates the NULL it gets. */
	CU_ASSERT(cpkt_decode(garbage, sizeof(garbage)) == NULL);
	e = cpkt_validate(cpkt_decode(garbage, sizeof(garbage)), 0, msg, sizeof(msg));
	CHECK_EQ(e, CPKT_MALFORMED);
	CU_ASSERT(strstr(msg, "packet") != NULL);
	seen[e] = 1;

	for (j = CPKT_BAD_VERSION; j <= CPKT_MALFORMED; j++) {
		if (!seen[j])
			fprintf(stderr, "cpkt_err %d (%s) not produced\n", j, cpkt_strerror(j));
		CU_ASSERT(seen[j]);
		CU_ASSERT(strlen(cpkt_strerror(j)) > 0);
		CU_ASSERT(strcmp(cpkt_strerror(j), cpkt_strerror(j - 1)) != 0);
	}
}

/* Packets on the edges of the limits are still valid. */
static void
TEST_pkt_valid_edges(void)
{
	static uint8_t *big;
	struct fixture f;
	char msg[512];
	size_t i;

	fixture_full(&f);
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);

	fixture_init(&f);
	f.p.ttl_ms = 0;
	f.p.flags |= CASCADE__PACKET_FLAG__FLAG_NO_TTL;
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);
	f.p.ttl_ms = -1000;
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);

	fixture_init(&f);
	f.p.payload.data = f.payload;
	f.p.payload.len = 10;
	CHECK_RC(cpkt_validate(&f.p, 10, msg, sizeof(msg)), cpkt_strerror);

	/* 0 means the default limit, exactly. */
	big = calloc(1, CPKT_DEFAULT_MAX_PAYLOAD + 1);
	CU_ASSERT_FATAL(big != NULL);
	f.p.payload.data = big;
	f.p.payload.len = CPKT_DEFAULT_MAX_PAYLOAD;
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);
	f.p.payload.len = CPKT_DEFAULT_MAX_PAYLOAD + 1;
	CHECK_EQ(cpkt_validate(&f.p, 0, msg, sizeof(msg)), CPKT_PAYLOAD_TOO_LARGE);
	CHECK_RC(cpkt_validate(&f.p, CPKT_DEFAULT_MAX_PAYLOAD + 1, msg, sizeof(msg)),
	    cpkt_strerror);
	free(big);

	fixture_init(&f);
	memset(f.command, 'c', CPKT_COMMAND_MAX);
	f.command[CPKT_COMMAND_MAX] = '\0';
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);
	strcpy(f.command, "org.example:consult@v2");
	CHECK_EQ(cpkt_validate(&f.p, 0, msg, sizeof(msg)), CPKT_BAD_COMMAND);
	CU_ASSERT(strstr(msg, "character 20") != NULL);
	strcpy(f.command, "consult\xc3\xa9");
	CHECK_EQ(cpkt_validate(&f.p, 0, msg, sizeof(msg)), CPKT_BAD_COMMAND);
	CU_ASSERT(strstr(msg, "\"consult\\xc3\\xa9\"") != NULL);
	strcpy(f.command, "org.example:Consult/v2-request_X9");
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);

	fixture_init(&f);
	memset(f.text, 't', CPKT_TEXT_MAX);
	f.text[CPKT_TEXT_MAX] = '\0';
	f.p.text = f.text;
	f.p.n_trace = CPKT_TRACE_MAX;
	for (i = 0; i < CPKT_TRACE_MAX; i++)
		f.hops[i].leg = (uint32_t)(i & 1);
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);

	/* Notices, cancels and audits need no command; every flag a peer may send. */
	fixture_init(&f);
	f.p.command = (char *)"";
	f.p.ref_id.data = f.ref_id;
	f.p.ref_id.len = CID_LEN;
	f.p.kind = CASCADE__PACKET_KIND__KIND_CANCEL;
	f.p.flags = 31;
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);
	f.p.kind = CASCADE__PACKET_KIND__KIND_AUDIT;
	CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);
	f.p.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
	for (i = CASCADE__NOTICE_CODE__NOTICE_DELIVERED;
	    i <= CASCADE__NOTICE_CODE__NOTICE_DELAYED; i++) {
		f.p.notice = (uint32_t)i;
		CHECK_RC(cpkt_validate(&f.p, 0, msg, sizeof(msg)), cpkt_strerror);
	}
	CU_ASSERT(cpkt_validate(NULL, 0, NULL, 0) == CPKT_MALFORMED);
}

static void
TEST_pkt_reasons(void)
{
	int i;

	CHECK_EQ(cpkt_reason(CPKT_BAD_SRC), CASCADE__REASON__REASON_BAD_ADDRESS);
	CHECK_EQ(cpkt_reason(CPKT_BAD_DST), CASCADE__REASON__REASON_BAD_ADDRESS);
	CHECK_EQ(cpkt_reason(CPKT_PAYLOAD_TOO_LARGE), CASCADE__REASON__REASON_OVERSIZE);
	CHECK_EQ(cpkt_reason(CPKT_EXPIRED), CASCADE__REASON__REASON_EXPIRED);
	CHECK_EQ(cpkt_reason(CPKT_OK), CASCADE__REASON__REASON_NONE);
	for (i = CPKT_BAD_VERSION; i <= CPKT_MALFORMED; i++) {
		uint32_t r = cpkt_reason(i);

		if (i == CPKT_BAD_SRC || i == CPKT_BAD_DST || i == CPKT_PAYLOAD_TOO_LARGE ||
		    i == CPKT_EXPIRED)
			continue;
		CHECK_EQ(r, CASCADE__REASON__REASON_MALFORMED);
		/* Validation faults are permanent: the packet is acked and reported. */
		CU_ASSERT(!creason_temporary(r));
	}
	CU_ASSERT_STRING_EQUAL(creason_str(CASCADE__REASON__REASON_JOURNAL_FULL), "journal full");
	CU_ASSERT_STRING_EQUAL(creason_str(CASCADE__REASON__REASON_BAD_ADDRESS), "bad address");
	CU_ASSERT(strcmp(creason_str(CASCADE__REASON__REASON_QUOTA),
	    creason_str(CASCADE__REASON__REASON_RATE_LIMIT)) != 0);
	CU_ASSERT(strstr(creason_str(55), "unknown") != NULL);
	CU_ASSERT(creason_temporary(CASCADE__REASON__REASON_JOURNAL_FULL));
	CU_ASSERT(creason_temporary(CASCADE__REASON__REASON_RATE_LIMIT));
	CU_ASSERT(creason_temporary(100));
	CU_ASSERT(!creason_temporary(99));
	CU_ASSERT(!creason_temporary(CASCADE__REASON__REASON_NOT_ALLOWED));
}

static void
TEST_pkt_roundtrip(void)
{
	struct fixture f;
	Cascade__Packet *d;
	uint8_t *buf, *again;
	size_t len, len2;

	fixture_full(&f);
	buf = cpkt_encode(&f.p, &len);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT(len > 100);
	d = cpkt_decode(buf, len);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT(packet_equal(&f.p, d));
	CHECK_EQ(d->n_trace, 3);
	CU_ASSERT_STRING_EQUAL(d->trace[2]->node, "fj");
	CHECK_EQ(d->trace[2]->leg, 1);
	CHECK_EQ(d->trace[1]->held_ms, 70000);
	CHECK_EQ(d->ttl_ms, 123456789012LL);
	CHECK_EQ(d->reason, CASCADE__REASON__REASON_UNROUTABLE);
	CHECK_RC(cpkt_validate(d, 0, NULL, 0), cpkt_strerror);
	again = cpkt_encode(d, &len2);
	CU_ASSERT_FATAL(again != NULL);
	CU_ASSERT(len2 == len && memcmp(buf, again, len) == 0);
	/* Negative ttl is sint64: it survives the trip too. */
	d->ttl_ms = -42;
	free(again);
	again = cpkt_encode(d, &len2);
	cpkt_free(d);
	d = cpkt_decode(again, len2);
	CU_ASSERT_FATAL(d != NULL);
	CHECK_EQ(d->ttl_ms, -42);
	cpkt_free(d);
	free(again);
	free(buf);

	/* An empty buffer decodes to an all-zero packet that validation refuses. */
	d = cpkt_decode((const uint8_t *)"", 0);
	CU_ASSERT_FATAL(d != NULL);
	CHECK_EQ(cpkt_validate(d, 0, NULL, 0), CPKT_BAD_VERSION);
	cpkt_free(d);
	CU_ASSERT(cpkt_decode(NULL, 5) == NULL);
	cpkt_free(NULL);
}

/*
 * Every prefix of an encoded packet fails to decode, or decodes to a packet
 * that validation refuses, or is itself a whole message made of the first
 * fields (then re-encoding gives exactly the prefix back).
 */
static void
TEST_pkt_truncation(void)
{
	struct fixture f;
	Cascade__Packet *d;
	uint8_t *buf, *again;
	size_t len, cut, len2;
	int undecodable = 0, refused = 0, prefix_valid = 0;

	fixture_full(&f);
	buf = cpkt_encode(&f.p, &len);
	CU_ASSERT_FATAL(buf != NULL);
	for (cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut > 0 ? cut : 1);

		/* An exact-size copy lets valgrind see any read past the cut. */
		CU_ASSERT_FATAL(copy != NULL);
		memcpy(copy, buf, cut);
		d = cpkt_decode(copy, cut);
		if (d == NULL)
			undecodable++;
		else if (cpkt_validate(d, 0, NULL, 0) != CPKT_OK)
			refused++;
		else {
			prefix_valid++;
			again = cpkt_encode(d, &len2);
			CU_ASSERT_FATAL(again != NULL);
			if (len2 != cut || memcmp(again, buf, cut) != 0)
				fprintf(stderr, "prefix %zu: valid but re-encodes to %zu bytes\n",
				    cut, len2);
			CU_ASSERT(len2 == cut && memcmp(again, buf, cut) == 0);
			CU_ASSERT(!packet_equal(d, &f.p));
			free(again);
		}
		cpkt_free(d);
		free(copy);
	}
	CHECK_EQ(undecodable + refused + prefix_valid, len);
	CU_ASSERT(undecodable > 0);
	CU_ASSERT(refused > 0);
	/* Cut after the trace: a data packet without kind, ref_id, notice... */
	CU_ASSERT(prefix_valid > 0);
	free(buf);
}

static void
TEST_pkt_garbage(void)
{
	struct fixture f;
	Cascade__Packet *d;
	uint8_t *valid, *buf, *again;
	size_t vlen, len, i, len2;
	int n, decoded = 0;

	fixture_full(&f);
	valid = cpkt_encode(&f.p, &vlen);
	CU_ASSERT_FATAL(valid != NULL);
	rng_state = 0x1234567887654321ULL;
	for (n = 0; n < 10000; n++) {
		if (n % 2 == 0) {
			/* Random bytes of random length. */
			len = (size_t)(rng() % 300);
			buf = malloc(len > 0 ? len : 1);
			CU_ASSERT_FATAL(buf != NULL);
			for (i = 0; i < len; i++)
				buf[i] = (uint8_t)rng();
		} else {
			/* A valid packet with a few bytes changed: gets past the first tags. */
			len = vlen;
			buf = malloc(len);
			CU_ASSERT_FATAL(buf != NULL);
			memcpy(buf, valid, len);
			for (i = 0; i < 1 + rng() % 4; i++)
				buf[rng() % len] = (uint8_t)rng();
		}
		d = cpkt_decode(buf, len);
		if (d != NULL) {
			char msg[512];

			decoded++;
			(void)cpkt_validate(d, 0, msg, sizeof(msg));
			CU_ASSERT(strchr(msg, '\n') == NULL);
			again = cpkt_encode(d, &len2);
			CU_ASSERT(again != NULL);
			free(again);
			cpkt_free(d);
		}
		free(buf);
	}
	/* The mutated half mostly decodes: the fuzzing reached the fields. */
	CU_ASSERT(decoded > 1000);
	free(valid);
}

/* ----------------------------------------------------------------- crypto */

static void
TEST_sha256(void)
{
	uint8_t out[CSHA256_LEN], want[CSHA256_LEN], two[CSHA256_LEN];

	hex_to_bytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
	csha256("abc", 3, out);
	CU_ASSERT(memcmp(out, want, CSHA256_LEN) == 0);
	csha256_2("a", 1, "bc", 2, two);
	CU_ASSERT(memcmp(two, want, CSHA256_LEN) == 0);
	hex_to_bytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
	csha256("", 0, out);
	CU_ASSERT(memcmp(out, want, CSHA256_LEN) == 0);
}

static void
TEST_hmac_rfc4231(void)
{
	uint8_t key[20], out[CSHA256_LEN], want[CSHA256_LEN];

	/* RFC 4231 test case 1. */
	memset(key, 0x0b, sizeof(key));
	hex_to_bytes("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want);
	chmac_sha256(key, sizeof(key), "Hi There", 8, out);
	CU_ASSERT(memcmp(out, want, CSHA256_LEN) == 0);
	/* Test case 2: a key shorter than the block. */
	hex_to_bytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want);
	chmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out);
	CU_ASSERT(memcmp(out, want, CSHA256_LEN) == 0);
	CHECK_EQ(cequal(out, want, CSHA256_LEN), 0);
	out[31] ^= 1;
	CHECK_EQ(cequal(out, want, CSHA256_LEN), -1);
}

static void
TEST_random(void)
{
	uint8_t a[32], b[32];
	int i;

	CHECK_EQ(crandom(a, sizeof(a)), 0);
	CHECK_EQ(crandom(b, sizeof(b)), 0);
	CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	for (i = 0; i < 1000; i++)
		CU_ASSERT(crandom64() != 0);
	CU_ASSERT(crandom64() != crandom64());
}

static void
TEST_auth_mac(void)
{
	static const uint8_t secret[] = "0123456789abcdef0123456789abcdef";
	uint8_t sn[CNONCE_LEN], cn[CNONCE_LEN], c1[CSHA256_LEN], c2[CSHA256_LEN];
	uint8_t other[CSHA256_LEN], key[CSHA256_LEN];

	memset(sn, 1, sizeof(sn));
	memset(cn, 2, sizeof(cn));
	cauth_mac(secret, 32, "fj-xm", sn, cn, c1);
	cauth_mac(secret, 32, "fj-xm", sn, cn, c2);
	CU_ASSERT(memcmp(c1, c2, CSHA256_LEN) == 0);
	cn[31] ^= 1;
	cauth_mac(secret, 32, "fj-xm", sn, cn, other);
	CU_ASSERT(memcmp(c1, other, CSHA256_LEN) != 0);
	cn[31] ^= 1;
	sn[0] ^= 1;
	cauth_mac(secret, 32, "fj-xm", sn, cn, other);
	CU_ASSERT(memcmp(c1, other, CSHA256_LEN) != 0);
	sn[0] ^= 1;
	cauth_mac(secret, 32, "fj-xn", sn, cn, other);
	CU_ASSERT(memcmp(c1, other, CSHA256_LEN) != 0);
	cauth_mac(secret, 31, "fj-xm", sn, cn, other);
	CU_ASSERT(memcmp(c1, other, CSHA256_LEN) != 0);
	csession_key(secret, 32, "fj-xm", sn, cn, key);
	CU_ASSERT(memcmp(key, c1, CSHA256_LEN) != 0);
}

static void
TEST_secret_files(void)
{
	static const uint8_t want[] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
	};
	char *dir = cu_tmpdir("packets"), *path, msg[512], hex[2 * 32 + 1], file[128];
	uint8_t out[64];
	int n;

	CU_ASSERT_FATAL(dir != NULL);
	/* Good: comments, blank lines, upper case, whitespace between bytes. */
	path = write_file(dir, "good.secret",
	    "# link secret for fj-xm\n\n  00112233 44556677 8899AABBccddeeff01 # trailing\n"
	    "# end\n", 0600);
	n = csecret_load(path, out, sizeof(out), msg, sizeof(msg));
	if (n < 0)
		fprintf(stderr, "%s\n", msg);
	CHECK_EQ(n, (int)sizeof(want));
	CU_ASSERT(memcmp(out, want, sizeof(want)) == 0);
	/* The same file readable by others is refused, saying how to fix it. */
	CU_ASSERT_FATAL(chmod(path, 0644) == 0);
	msg[0] = '\0';
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), -1);
	CU_ASSERT(strstr(msg, "chmod 600") != NULL);
	CU_ASSERT(strstr(msg, "0644") != NULL);
	CU_ASSERT(strstr(msg, path) != NULL);
	CU_ASSERT_FATAL(chmod(path, 0620) == 0);
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), -1);
	CU_ASSERT(strstr(msg, "chmod 600") != NULL);
	CU_ASSERT_FATAL(chmod(path, 0400) == 0);
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), (int)sizeof(want));
	/* A buffer too small for the secret. */
	CHECK_EQ(csecret_load(path, out, 8, msg, sizeof(msg)), -1);
	CU_ASSERT(strstr(msg, "longer") != NULL);
	free(path);

	path = write_file(dir, "short.secret", "00112233445566778899aabbccddee\n", 0600);
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), -1);
	CU_ASSERT(strstr(msg, "too short") != NULL);
	free(path);
	path = write_file(dir, "odd.secret", "00112233445566778899aabbccddeeff0\n", 0600);
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), -1);
	CU_ASSERT(strstr(msg, "odd") != NULL);
	free(path);
	path = write_file(dir, "split.secret", "00112233445566778899aabbccddeeff0 1\n", 0600);
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), -1);
	free(path);
	path = write_file(dir, "nothex.secret", "00112233445566778899aabbccddeefg\n", 0600);
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), -1);
	CU_ASSERT(strstr(msg, "'g'") != NULL);
	free(path);
	path = write_file(dir, "empty.secret", "# nothing here\n", 0600);
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), -1);
	free(path);
	/* A secret after a long comment is still found (the file is read whole). */
	{
		char big[3000];

		memset(big, 'c', sizeof(big));
		big[0] = '#';
		memcpy(big + sizeof(big) - 36, "\n00112233445566778899aabbccddeeff01\n", 36);
		big[sizeof(big) - 1] = '\0';
		path = write_file(dir, "long.secret", big, 0600);
		CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), 17);
		free(path);
	}
	snprintf(file, sizeof(file), "%s/missing.secret", dir);
	CHECK_EQ(csecret_load(file, out, sizeof(out), msg, sizeof(msg)), -1);
	CU_ASSERT(strstr(msg, "missing.secret") != NULL);
	CHECK_EQ(csecret_load(dir, out, sizeof(out), msg, sizeof(msg)), -1);

	/* A generated secret loads back to the same bytes. */
	CHECK_EQ(csecret_generate(32, hex, sizeof(hex)), 0);
	CHECK_EQ(strlen(hex), 64);
	CHECK_EQ(csecret_generate(32, hex, sizeof(hex) - 1), -1);
	path = write_file(dir, "gen.secret", hex, 0600);
	CHECK_EQ(csecret_load(path, out, sizeof(out), msg, sizeof(msg)), 32);
	{
		char back[65];
		int i;

		for (i = 0; i < 32; i++)
			snprintf(back + 2 * i, 3, "%02x", out[i]);
		CU_ASSERT_STRING_EQUAL(back, hex);
	}
	free(path);
	cu_rmtree(dir);
	free(dir);
}

/* --------------------------------------------------------------- envelope */

static void
TEST_envelope_request(void)
{
	static const uint8_t body[] = "an encoded Push";
	uint8_t key[CSHA256_LEN], wrong[CSHA256_LEN], *buf;
	Cascade__Request *r;
	size_t len;

	memset(key, 0x5a, sizeof(key));
	memset(wrong, 0x5a, sizeof(wrong));
	wrong[0] ^= 0x80;

	buf = cenv_request_pack(CASCADE__MSG_TYPE__MSG_PUSH, 0x0102030405060708ULL, 9, body,
	    sizeof(body), key, &len);
	CU_ASSERT_FATAL(buf != NULL);
	r = cascade__request__unpack(NULL, len, buf);
	CU_ASSERT_FATAL(r != NULL);
	CHECK_EQ(r->version, CASCADE_PROTOCOL_VERSION);
	CHECK_EQ(r->type, CASCADE__MSG_TYPE__MSG_PUSH);
	CU_ASSERT(r->session == 0x0102030405060708ULL);
	CU_ASSERT(r->seq == 9);
	CU_ASSERT(r->body.len == sizeof(body) && memcmp(r->body.data, body, sizeof(body)) == 0);
	CHECK_EQ(r->mac.len, CSHA256_LEN);
	CHECK_EQ(cenv_request_verify(r, key), 0);
	CHECK_EQ(cenv_request_verify(r, wrong), -1);
	CHECK_EQ(cenv_request_verify(r, NULL), -1);
	r->body.data[3] ^= 1;                       /* tampered body */
	CHECK_EQ(cenv_request_verify(r, key), -1);
	r->body.data[3] ^= 1;
	r->session ^= 1;                            /* replayed into another session */
	CHECK_EQ(cenv_request_verify(r, key), -1);
	r->session ^= 1;
	r->seq = 10;                                /* replayed under another counter */
	CHECK_EQ(cenv_request_verify(r, key), -1);
	r->seq = 9;
	r->type = CASCADE__MSG_TYPE__MSG_PULL;      /* replayed as another message */
	CHECK_EQ(cenv_request_verify(r, key), -1);
	r->type = CASCADE__MSG_TYPE__MSG_PUSH;
	r->body.len--;                              /* truncated body */
	CHECK_EQ(cenv_request_verify(r, key), -1);
	r->body.len++;
	r->mac.len--;                               /* short mac */
	CHECK_EQ(cenv_request_verify(r, key), -1);
	r->mac.len++;
	CHECK_EQ(cenv_request_verify(r, key), 0);
	cascade__request__free_unpacked(r, NULL);
	free(buf);

	/* The mac is the documented HMAC over 'Q' type status session seq errlen || body. */
	{
		uint8_t in[29 + sizeof(body)], want[CSHA256_LEN];

		memcpy(in, "Q\x00\x00\x00\x03\x00\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08"
		    "\x00\x00\x00\x00\x00\x00\x00\x09\x00\x00\x00\x00", 29);
		memcpy(in + 29, body, sizeof(body));
		chmac_sha256(key, sizeof(key), in, sizeof(in), want);
		buf = cenv_request_pack(3, 0x0102030405060708ULL, 9, body, sizeof(body), key, &len);
		r = cascade__request__unpack(NULL, len, buf);
		CU_ASSERT_FATAL(r != NULL);
		CU_ASSERT(r->mac.len == CSHA256_LEN && memcmp(r->mac.data, want, CSHA256_LEN) == 0);
		cascade__request__free_unpacked(r, NULL);
		free(buf);
	}

	/* Without a key: no mac, and verification fails. */
	buf = cenv_request_pack(CASCADE__MSG_TYPE__MSG_HELLO, 0, 0, body, sizeof(body), NULL, &len);
	CU_ASSERT_FATAL(buf != NULL);
	r = cascade__request__unpack(NULL, len, buf);
	CU_ASSERT_FATAL(r != NULL);
	CHECK_EQ(r->type, CASCADE__MSG_TYPE__MSG_HELLO);
	CU_ASSERT(r->body.len == sizeof(body) && memcmp(r->body.data, body, sizeof(body)) == 0);
	CHECK_EQ(r->mac.len, 0);
	CHECK_EQ(cenv_request_verify(r, key), -1);
	cascade__request__free_unpacked(r, NULL);
	free(buf);

	/* An empty body is fine. */
	buf = cenv_request_pack(CASCADE__MSG_TYPE__MSG_PULL, 7, 1, NULL, 0, key, &len);
	CU_ASSERT_FATAL(buf != NULL);
	r = cascade__request__unpack(NULL, len, buf);
	CU_ASSERT_FATAL(r != NULL);
	CHECK_EQ(r->body.len, 0);
	CHECK_EQ(cenv_request_verify(r, key), 0);
	cascade__request__free_unpacked(r, NULL);
	free(buf);
}

static void
TEST_envelope_reply(void)
{
	static const uint8_t body[] = "an encoded PushReply";
	uint8_t key[CSHA256_LEN], wrong[CSHA256_LEN], *buf;
	Cascade__Reply *r;
	size_t len;

	crandom(key, sizeof(key));
	memcpy(wrong, key, sizeof(key));
	wrong[31] ^= 1;

	buf = cenv_reply_pack(CASCADE__MSG_TYPE__MSG_PUSH, CASCADE__STATUS__STATUS_OK, NULL,
	    0x77, 5, body, sizeof(body), key, &len);
	CU_ASSERT_FATAL(buf != NULL);
	r = cascade__reply__unpack(NULL, len, buf);
	CU_ASSERT_FATAL(r != NULL);
	CHECK_EQ(r->version, CASCADE_PROTOCOL_VERSION);
	CHECK_EQ(r->type, CASCADE__MSG_TYPE__MSG_PUSH);
	CHECK_EQ(r->status, CASCADE__STATUS__STATUS_OK);
	CU_ASSERT_STRING_EQUAL(r->error, "");
	CU_ASSERT(r->body.len == sizeof(body) && memcmp(r->body.data, body, sizeof(body)) == 0);
	CHECK_EQ(cenv_reply_verify(r, 0x77, 5, key), 0);
	CHECK_EQ(cenv_reply_verify(r, 0x77, 5, wrong), -1);
	CHECK_EQ(cenv_reply_verify(r, 0x77, 4, key), -1);   /* the reply to another request */
	CHECK_EQ(cenv_reply_verify(r, 0x78, 5, key), -1);   /* ... of another session */
	r->body.data[0] ^= 0x20;
	CHECK_EQ(cenv_reply_verify(r, 0x77, 5, key), -1);
	r->body.data[0] ^= 0x20;
	r->status = CASCADE__STATUS__STATUS_BUSY;   /* the status is covered too */
	CHECK_EQ(cenv_reply_verify(r, 0x77, 5, key), -1);
	r->status = CASCADE__STATUS__STATUS_OK;
	CHECK_EQ(cenv_reply_verify(r, 0x77, 5, key), 0);
	cascade__reply__free_unpacked(r, NULL);
	free(buf);

	/* an error reply is covered, its text too */
	buf = cenv_reply_pack(CASCADE__MSG_TYPE__MSG_PULL, CASCADE__STATUS__STATUS_NO_SESSION,
	    "no such session", 0x77, 6, NULL, 0, key, &len);
	r = cascade__reply__unpack(NULL, len, buf);
	CU_ASSERT_FATAL(r != NULL);
	CHECK_EQ(cenv_reply_verify(r, 0x77, 6, key), 0);
	r->error[0] = 'N';
	CHECK_EQ(cenv_reply_verify(r, 0x77, 6, key), -1);
	cascade__reply__free_unpacked(r, NULL);
	free(buf);

	/* a request's mac never passes as a reply's (the direction byte) */
	{
		Cascade__Request *q;

		buf = cenv_request_pack(CASCADE__MSG_TYPE__MSG_PULL, 0x77, 6, body, sizeof(body), key,
		    &len);
		q = cascade__request__unpack(NULL, len, buf);
		CU_ASSERT_FATAL(q != NULL);
		{
			Cascade__Reply fake = CASCADE__REPLY__INIT;

			fake.type = q->type;
			fake.body = q->body;
			fake.mac = q->mac;
			CHECK_EQ(cenv_reply_verify(&fake, 0x77, 6, key), -1);
		}
		cascade__request__free_unpacked(q, NULL);
		free(buf);
	}

	buf = cenv_reply_pack(CASCADE__MSG_TYPE__MSG_AUTH, CASCADE__STATUS__STATUS_AUTH_FAILED,
	    "auth: bad proof for fj-xm", 0, 0, NULL, 0, NULL, &len);
	CU_ASSERT_FATAL(buf != NULL);
	r = cascade__reply__unpack(NULL, len, buf);
	CU_ASSERT_FATAL(r != NULL);
	CHECK_EQ(r->status, CASCADE__STATUS__STATUS_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(r->error, "auth: bad proof for fj-xm");
	CHECK_EQ(r->mac.len, 0);
	CHECK_EQ(cenv_reply_verify(r, 0, 0, key), -1);
	cascade__reply__free_unpacked(r, NULL);
	free(buf);

	CU_ASSERT_STRING_EQUAL(cstatus_str(CASCADE__STATUS__STATUS_NO_SESSION), "no session");
	CU_ASSERT_STRING_EQUAL(cstatus_str(CASCADE__STATUS__STATUS_REPLAYED), "replayed request");
	CU_ASSERT_STRING_EQUAL(cstatus_str(CASCADE__STATUS__STATUS_OK), "ok");
	CU_ASSERT(strstr(cstatus_str(999), "unknown") != NULL);
	CU_ASSERT(strcmp(cstatus_str(CASCADE__STATUS__STATUS_BUSY),
	    cstatus_str(CASCADE__STATUS__STATUS_INTERNAL)) != 0);
}

/* A deadline saturates instead of wrapping (UBSan found now + ttl near INT64_MAX). */
static void
TEST_pkt_deadline(void)
{
	int64_t now = 1764633600000LL;      /* 2025-12-02 */

	CHECK_EQ(cpkt_deadline(now, 60000), now + 60000);
	CHECK_EQ(cpkt_deadline(now, 0), now);
	CHECK_EQ(cpkt_deadline(now, -5), now - 5);
	CHECK_EQ(cpkt_deadline(now, INT64_MAX), INT64_MAX);
	CHECK_EQ(cpkt_deadline(now, INT64_MAX - now), INT64_MAX);
	CHECK_EQ(cpkt_deadline(now, INT64_MAX - now + 1), INT64_MAX);
	CHECK_EQ(cpkt_deadline(now, 9223372036854775000LL), INT64_MAX);
	CHECK_EQ(cpkt_deadline(-now, INT64_MIN), INT64_MIN);
	CHECK_EQ(cpkt_deadline(0, INT64_MIN), INT64_MIN);
}

/* ------------------------------------------------------------------ wire */

static void
TEST_wire_walk(void)
{
	Cascade__Push push = CASCADE__PUSH__INIT;
	Cascade__Packet pk[3], *pkts[3];
	Cascade__Hop hop = CASCADE__HOP__INIT, *hops[2] = { &hop, &hop };
	uint64_t seqs[3] = { 5, 6, 300 }, v = 0;
	uint8_t buf[1024];
	const uint8_t *d = NULL;
	size_t len, dl = 0, i;

	for (i = 0; i < 3; i++) {
		cascade__packet__init(&pk[i]);
		pk[i].command = "x";
		pkts[i] = &pk[i];
	}
	hop.node = "fj";
	pk[1].trace = hops;
	pk[1].n_trace = 2;
	push.epoch = 0x0102030405060708ULL;
	push.first_seq = 5;
	push.packets = pkts;
	push.n_packets = 3;
	push.seqs = seqs;
	push.n_seqs = 3;
	len = cascade__push__pack(&push, buf);
	CHECK_EQ(pbw_count(buf, len, 4), 3);
	CHECK_EQ(pbw_field(buf, len, 1, &v, NULL, NULL), 0);    /* fixed64 */
	CU_ASSERT(v == 0x0102030405060708ULL);
	CHECK_EQ(pbw_field(buf, len, 2, &v, NULL, NULL), 0);
	CHECK_EQ(v, 5);
	CHECK_EQ(pbw_field(buf, len, 9, &v, NULL, NULL), -1);   /* absent */
	/* the last packet field is pk[2]; the second holds two hops */
	CHECK_EQ(pbw_field(buf, len, 4, NULL, &d, &dl), 0);
	CHECK_EQ(pbw_count(d, dl, 10), 0);
	CHECK_EQ(pbw_count(buf, 3, 4), -1);                     /* truncated */
	buf[0] = 0x07;                                          /* wire type 7 */
	CHECK_EQ(pbw_count(buf, len, 4), -1);
}

static void
TEST_wire_budget(void)
{
	static uint8_t bomb[200000];
	struct pbw_budget b;
	Cascade__Auth *a;
	size_t i;

	/* 100 000 empty streams entries: 200 KB on the wire, megabytes unpacked */
	for (i = 0; i < sizeof(bomb); i += 2) {
		bomb[i] = 0x2a;
		bomb[i + 1] = 0;
	}
	a = cascade__auth__unpack(pbw_budget_init(&b, 16 * sizeof(bomb)), sizeof(bomb), bomb);
	CU_ASSERT(a == NULL);
	CU_ASSERT(b.exceeded);
	CU_ASSERT(b.used <= b.limit);
	/* within a generous budget it decodes, and frees as usual */
	a = cascade__auth__unpack(pbw_budget_init(&b, 64u << 20), sizeof(bomb), bomb);
	CU_ASSERT_FATAL(a != NULL);
	CHECK_EQ(a->n_streams, 100000);
	CU_ASSERT(!b.exceeded);
	cascade__auth__free_unpacked(a, NULL);
}

/* ---------------------------------------------------------------- link.c */

/* The field numbers walkers use by name are those of cascade.proto. */
static void
TEST_field_numbers_match_proto(void)
{
	static const struct {
		const ProtobufCMessageDescriptor *d;
		const char *name;
		unsigned id;
	} f[] = {
		{ &cascade__request__descriptor, "version", CPBF_REQUEST_VERSION },
		{ &cascade__request__descriptor, "type", CPBF_REQUEST_TYPE },
		{ &cascade__request__descriptor, "session", CPBF_REQUEST_SESSION },
		{ &cascade__reply__descriptor, "status", CPBF_REPLY_STATUS },
		{ &cascade__reply__descriptor, "error", CPBF_REPLY_ERROR },
		{ &cascade__push__descriptor, "epoch", CPBF_PUSH_EPOCH },
		{ &cascade__push__descriptor, "first_seq", CPBF_PUSH_FIRST_SEQ },
		{ &cascade__push__descriptor, "packets", CPBF_PUSH_PACKETS },
		{ &cascade__push__descriptor, "seqs", CPBF_PUSH_SEQS },
		{ &cascade__routes__descriptor, "subtree", CPBF_ROUTES_SUBTREE },
		{ &cascade__auth__descriptor, "streams", CPBF_AUTH_STREAMS },
		{ &cascade__auth__descriptor, "subtree", CPBF_AUTH_SUBTREE },
		{ &cascade__packet__descriptor, "payload", CPBF_PACKET_PAYLOAD },
		{ &cascade__packet__descriptor, "trace", CPBF_PACKET_TRACE },
	};
	const ProtobufCFieldDescriptor *fd;
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		fd = protobuf_c_message_descriptor_get_field_by_name(f[i].d, f[i].name);
		CU_ASSERT_FATAL(fd != NULL);
		if (fd->id != f[i].id)
			fprintf(stderr, "%s.%s is field %u in cascade.proto, packets.h says %u\n",
			    f[i].d->name, f[i].name, fd->id, f[i].id);
		CHECK_EQ(fd->id, f[i].id);
	}
}

/* What clink_auth builds passes the parent's check (server.c do_auth) after the wire. */
static void
TEST_clink_auth_mac_matches_server(void)
{
	static const uint8_t secret[20] = "0123456789abcdefghij";
	char *subtree[2] = { "fj-xm", "fj-qz" };
	struct clink_auth ca;
	uint8_t snonce[CNONCE_LEN], mac[CSHA256_LEN], k1[CSHA256_LEN], k2[CSHA256_LEN];
	uint8_t *buf;
	size_t len;
	Cascade__Auth *a;

	memset(snonce, 0x5a, sizeof(snonce));
	CHECK_EQ(clink_auth(&ca, secret, sizeof(secret), "fj", snonce, 77, 5, subtree, 2, 0), 0);
	len = cascade__auth__get_packed_size(&ca.a);
	buf = malloc(len);
	CU_ASSERT_FATAL(buf != NULL);
	cascade__auth__pack(&ca.a, buf);
	a = cascade__auth__unpack(NULL, len, buf);
	free(buf);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_STRING_EQUAL(a->peer, "fj");
	CHECK_EQ(a->nonce.len, CNONCE_LEN);
	CHECK_EQ(a->server_nonce.len, CNONCE_LEN);
	CU_ASSERT(memcmp(a->server_nonce.data, snonce, CNONCE_LEN) == 0);
	CHECK_EQ(a->n_streams, 1);
	CU_ASSERT(a->streams[0]->epoch == 77);
	CHECK_EQ(a->streams[0]->seq, 5);
	CHECK_EQ(a->n_subtree, 2);
	CU_ASSERT_STRING_EQUAL(a->subtree[1], "fj-qz");
	CHECK_EQ(a->carrier, 0);
	/* the parent's computation, from what arrived */
	cauth_mac(secret, sizeof(secret), "fj", a->server_nonce.data, a->nonce.data, mac);
	CHECK_EQ(a->mac.len, CSHA256_LEN);
	CHECK_EQ(cequal(mac, a->mac.data, CSHA256_LEN), 0);
	csession_key(secret, sizeof(secret), "fj", a->server_nonce.data, a->nonce.data, k1);
	clink_session_key(&ca, secret, sizeof(secret), "fj", k2);
	CHECK_EQ(cequal(k1, k2, CSHA256_LEN), 0);
	/* another peer name or secret does not pass */
	cauth_mac(secret, sizeof(secret), "fk", a->server_nonce.data, a->nonce.data, mac);
	CU_ASSERT(cequal(mac, a->mac.data, CSHA256_LEN) != 0);
	cascade__auth__free_unpacked(a, NULL);
	/* two Auths never share a client nonce */
	{
		struct clink_auth cb;

		CHECK_EQ(clink_auth(&cb, secret, sizeof(secret), "fj", snonce, 77, 5, NULL, 0, 2), 0);
		CU_ASSERT(memcmp(ca.cnonce, cb.cnonce, CNONCE_LEN) != 0);
		CHECK_EQ(cb.a.carrier, 2);
		/* epoch 0: a receiver only, no stream stated */
		CHECK_EQ(clink_auth(&cb, secret, sizeof(secret), "fj", snonce, 0, 1, NULL, 0, 0), 0);
		CHECK_EQ(cb.a.n_streams, 0);
	}
}

static void
TEST_clink_hello_reply_null_node(void)
{
	Cascade__HelloReply hr = CASCADE__HELLO_REPLY__INIT;
	uint8_t nonce[CNONCE_LEN] = { 0 };
	char why[128];

	hr.nonce.data = nonce;
	hr.nonce.len = CNONCE_LEN;
	hr.node = NULL;
	CHECK_EQ(clink_hello_reply_check(&hr, "fj", why, sizeof(why)), CLINK_WRONG_NODE);
	CU_ASSERT(strstr(why, "\"\"") != NULL);
	hr.node = "fk";
	CHECK_EQ(clink_hello_reply_check(&hr, "fj", why, sizeof(why)), CLINK_WRONG_NODE);
	CU_ASSERT(strstr(why, "fk") != NULL);
	hr.node = "fj";
	CHECK_EQ(clink_hello_reply_check(&hr, "fj", why, sizeof(why)), 0);
	hr.nonce.len = CNONCE_LEN - 1;
	CHECK_EQ(clink_hello_reply_check(&hr, "fj", why, sizeof(why)), CLINK_MALFORMED);
	CU_ASSERT_STRING_EQUAL(why, "malformed reply");
	CHECK_EQ(clink_hello_reply_check(NULL, "fj", why, sizeof(why)), CLINK_MALFORMED);
}

static void
TEST_clink_auth_mark_beyond(void)
{
	Cascade__AuthReply ar = CASCADE__AUTH_REPLY__INIT;
	Cascade__StreamPos m1 = CASCADE__STREAM_POS__INIT, m2 = CASCADE__STREAM_POS__INIT;
	Cascade__StreamPos *marks[2] = { &m1, &m2 };
	uint64_t mark = 99;

	/* no mark for our epoch: 0 */
	CHECK_EQ(clink_auth_mark(&ar, 7, 10, &mark), 0);
	CHECK_EQ(mark, 0);
	m1.epoch = 6;
	m1.seq = 1000;
	m2.epoch = 7;
	m2.seq = 10;
	ar.marks = marks;
	ar.n_marks = 2;
	CHECK_EQ(clink_auth_mark(&ar, 7, 10, &mark), 0);        /* at the last numbered */
	CHECK_EQ(mark, 10);
	CHECK_EQ(clink_auth_mark(&ar, 7, 9, &mark), -1);        /* beyond it */
	CHECK_EQ(mark, 10);
	m2.seq = UINT64_MAX;                                    /* + 1 wraps */
	CHECK_EQ(clink_auth_mark(&ar, 7, UINT64_MAX, &mark), -1);
	CHECK_EQ(clink_mark_beyond(0, 0), 0);
	CHECK_EQ(clink_mark_beyond(1, 0), 1);
}

static void
TEST_clink_push_check_order(void)
{
	Cascade__Push p;
	Cascade__Packet pk[3], *pkts[3] = { &pk[0], &pk[1], &pk[2] };
	uint64_t seqs[3] = { 5, 6, 8 };
	char why[128];

	clink_push(&p, 9, 5, 8, pkts, seqs, 3);
	CHECK_EQ(clink_push_check(&p, why, sizeof(why)), 0);
	seqs[1] = 8;                                            /* repeated */
	CHECK_EQ(clink_push_check(&p, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "Push sequences out of range or order");
	seqs[1] = 4;                                            /* below first */
	CHECK_EQ(clink_push_check(&p, why, sizeof(why)), -1);
	seqs[1] = 6;
	seqs[2] = 9;                                            /* above last */
	CHECK_EQ(clink_push_check(&p, why, sizeof(why)), -1);
	seqs[2] = 8;
	p.epoch = 0;
	CHECK_EQ(clink_push_check(&p, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "inconsistent Push (epoch, sequence range)");
	clink_push(&p, 9, 5, 3, NULL, NULL, 0);                 /* last + 1 < first */
	CHECK_EQ(clink_push_check(&p, why, sizeof(why)), -1);
	clink_push(&p, 9, 5, 4, NULL, NULL, 0);                 /* empty, in order */
	CHECK_EQ(clink_push_check(&p, why, sizeof(why)), 0);
}

static void
TEST_clink_pull_reply_check(void)
{
	Cascade__PullReply pr = CASCADE__PULL_REPLY__INIT;
	Cascade__Packet pk[2], *pkts[2] = { &pk[0], &pk[1] };
	uint64_t seqs[2] = { 3, 4 };
	char why[128];

	pr.epoch = 1;
	pr.first_seq = 3;
	pr.last_seq = 4;
	pr.packets = pkts;
	pr.n_packets = 2;
	pr.seqs = seqs;
	pr.n_seqs = 2;
	CHECK_EQ(clink_pull_reply_check(&pr, why, sizeof(why)), 0);
	seqs[0] = 5;
	CHECK_EQ(clink_pull_reply_check(&pr, why, sizeof(why)), -1);
	seqs[0] = 3;
	pr.n_seqs = 1;
	CHECK_EQ(clink_pull_reply_check(&pr, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "malformed reply");
	pr.n_seqs = 2;
	pr.epoch = 0;
	CHECK_EQ(clink_pull_reply_check(&pr, why, sizeof(why)), -1);
	CHECK_EQ(clink_pull_reply_check(NULL, why, sizeof(why)), -1);
}

/* A request built by clink_request opens and verifies like any envelope. */
static void
TEST_clink_request(void)
{
	Cascade__Pull p;
	Cascade__Request *r;
	Cascade__Pull *q;
	uint8_t key[CSHA256_LEN], *buf;
	size_t len;

	memset(key, 3, sizeof(key));
	clink_pull(&p, 11, 12, 1000, 64, 4096);
	buf = clink_request(CASCADE__MSG_TYPE__MSG_PULL, 42, 7, &p.base, key, &len);
	CU_ASSERT_FATAL(buf != NULL);
	r = cascade__request__unpack(NULL, len, buf);
	free(buf);
	CU_ASSERT_FATAL(r != NULL);
	CHECK_EQ(r->type, CASCADE__MSG_TYPE__MSG_PULL);
	CU_ASSERT(r->session == 42);
	CHECK_EQ(r->seq, 7);
	CHECK_EQ(cenv_request_verify(r, key), 0);
	q = cascade__pull__unpack(NULL, r->body.len, r->body.data);
	CU_ASSERT_FATAL(q != NULL);
	CU_ASSERT(q->epoch == 11);
	CHECK_EQ(q->acked_seq, 12);
	CHECK_EQ(q->wait_ms, 1000);
	CHECK_EQ(q->max, 64);
	CHECK_EQ(q->max_bytes, 4096);
	cascade__pull__free_unpacked(q, NULL);
	cascade__request__free_unpacked(r, NULL);
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_id_increasing),
		CU_TEST(TEST_id_threads),
		CU_TEST(TEST_id_time),
		CU_TEST(TEST_id_text),
		CU_TEST(TEST_addr_valid),
		CU_TEST(TEST_addr_errors),
		CU_TEST(TEST_pkt_errors),
		CU_TEST(TEST_pkt_valid_edges),
		CU_TEST(TEST_pkt_reasons),
		CU_TEST(TEST_pkt_roundtrip),
		CU_TEST(TEST_pkt_truncation),
		CU_TEST(TEST_pkt_garbage),
		CU_TEST(TEST_pkt_deadline),
		CU_TEST(TEST_sha256),
		CU_TEST(TEST_hmac_rfc4231),
		CU_TEST(TEST_random),
		CU_TEST(TEST_auth_mac),
		CU_TEST(TEST_secret_files),
		CU_TEST(TEST_envelope_request),
		CU_TEST(TEST_envelope_reply),
		CU_TEST(TEST_wire_walk),
		CU_TEST(TEST_wire_budget),
		CU_TEST(TEST_field_numbers_match_proto),
		CU_TEST(TEST_clink_auth_mac_matches_server),
		CU_TEST(TEST_clink_hello_reply_null_node),
		CU_TEST(TEST_clink_auth_mark_beyond),
		CU_TEST(TEST_clink_push_check_order),
		CU_TEST(TEST_clink_pull_reply_check),
		CU_TEST(TEST_clink_request),
		CU_END,
	};

	return cu_main("packets", tests, argc, argv);
}
