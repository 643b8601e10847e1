/*
 * audit_query_test.c — master/audit_query.c's time parser, type names and
 * address matching. The queries over a real event log: audit_ctl.sh.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cu.h"
#include "audit_query.h"

/* 2026-12-03T10:00:00Z, a Thursday */
#define NOW_MS 1796292000000LL

static int64_t
t(const char *s)
{
	char err[256];
	int64_t v = -1;

	if (aq_parse_time(s, NOW_MS, &v, err, sizeof(err)) != 0)
		return -1;
	return v;
}

static void
TEST_relative(void)
{
	CHECK_EQ(t("-1h"), NOW_MS - 3600000);
	CHECK_EQ(t("-30m"), NOW_MS - 1800000);
	CHECK_EQ(t("-45s"), NOW_MS - 45000);
	CHECK_EQ(t("-2d"), NOW_MS - 2 * 86400000LL);
	CHECK_EQ(t("now"), NOW_MS);
}

static void
TEST_iso_utc(void)
{
	CHECK_EQ(t("2026-12-03T10:00Z"), NOW_MS);
	CHECK_EQ(t("2026-12-03T10:00:30Z"), NOW_MS + 30000);
	CHECK_EQ(t("2026-12-03Z"), NOW_MS - 10 * 3600000LL);
}

/* local times: in a fixed zone, Asia/Shanghai (UTC+8, no DST) */
static void
TEST_iso_local(void)
{
	setenv("TZ", "Asia/Shanghai", 1);
	tzset();
	CHECK_EQ(t("2026-12-03T18:00"), NOW_MS);
	CHECK_EQ(t("2026-12-03 18:00:01"), NOW_MS + 1000);
	/* NOW is 18:00 in Shanghai: today began 18 h ago, yesterday 42 h */
	CHECK_EQ(t("today"), NOW_MS - 18 * 3600000LL);
	CHECK_EQ(t("yesterday"), NOW_MS - 42 * 3600000LL);
	setenv("TZ", "UTC", 1);
	tzset();
	CHECK_EQ(t("2026-12-03T10:00"), NOW_MS);
	CHECK_EQ(t("yesterday"), NOW_MS - 34 * 3600000LL);
}

static void
TEST_bad(void)
{
	char err[256] = "";
	int64_t v;
	static const char *bad[] = { "", "-", "-1", "-1x", "1h", "2026-13-01", "2026-12-03T25:00",
	    "2026-12-03T10", "2026-12-03T10:00+08", "tomorrow", "2026-1-3", "-1hh" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(aq_parse_time(bad[i], NOW_MS, &v, err, sizeof(err)), -1);
	/* the message says what would do */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "ISO 8601"));
}

static void
TEST_types_addrs(void)
{
	CHECK_EQ(aq_type_parse("accepted"), JEV_ACCEPTED);
	CHECK_EQ(aq_type_parse("delivered"), JEV_DELIVERED);
	CHECK_EQ(aq_type_parse("rejected"), JEV_REJECTED);
	CHECK_EQ(aq_type_parse("note"), JEV_NOTE);
	CHECK_EQ(aq_type_parse("nope"), 0);
	CU_ASSERT_STRING_EQUAL(aq_type_name(JEV_EXPIRED), "expired");
	CU_ASSERT(aq_addr_match("fj-xm", "fj-xm"));
	CU_ASSERT(aq_addr_match("fj-xm", "fj-xm/alice"));
	CU_ASSERT(!aq_addr_match("fj-xm", "fj-xm-a/alice"));     /* another node */
	CU_ASSERT(aq_addr_match("fj-xm/alice", "fj-xm/alice"));
	CU_ASSERT(!aq_addr_match("fj-xm/alice", "fj-xm/alice2"));
	CU_ASSERT(!aq_addr_match("fj-xm/alice", "fj-xm"));
}

static const struct cu_test tests[] = {
	CU_TEST(TEST_relative),
	CU_TEST(TEST_iso_utc),
	CU_TEST(TEST_iso_local),
	CU_TEST(TEST_bad),
	CU_TEST(TEST_types_addrs),
	CU_END
};

int
main(int argc, char **argv)
{
	return cu_main("audit_query", tests, argc, argv);
}
