/*
 * master_rules_test.c — master/rules.c: where packets turn, where audit
 * copies end, and which refusals earn which notice (the bounce policy).
 */
#include "config.h"

#include <CUnit/Basic.h>
#undef CU_TEST
#include "cu.h"
#include "cascade.pb-c.h"
#include "rules.h"

#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x
#define REASON(x) CASCADE__REASON__REASON_##x
#define NOTICE(x) CASCADE__NOTICE_CODE__NOTICE_##x

static void
TEST_turns_here(void)
{
	int below;

	for (below = 0; below <= 1; below++) {
		/* the root turns everything, whatever its delivery */
		CHECK_EQ(mrule_turns_here(1, 0, below), 1);
		CHECK_EQ(mrule_turns_here(1, 1, below), 1);
		/* via-master: a node below the root never turns */
		CHECK_EQ(mrule_turns_here(0, 0, below), 0);
	}
	/* direct: at the lowest node whose subtree holds dst */
	CHECK_EQ(mrule_turns_here(0, 1, 1), 1);
	CHECK_EQ(mrule_turns_here(0, 1, 0), 0);
}

static void
TEST_audit_kept_and_due(void)
{
	CHECK_EQ(mrule_audit_kept_here(1), 1);
	CHECK_EQ(mrule_audit_kept_here(0), 0);

	CHECK_EQ(mrule_audit_copy_due(0, 1, 1, KIND(DATA)), 1);
	/* the master saw the packet itself */
	CHECK_EQ(mrule_audit_copy_due(1, 1, 1, KIND(DATA)), 0);
	/* not configured, not turned here (it climbs past the master), not data */
	CHECK_EQ(mrule_audit_copy_due(0, 0, 1, KIND(DATA)), 0);
	CHECK_EQ(mrule_audit_copy_due(0, 1, 0, KIND(DATA)), 0);
	CHECK_EQ(mrule_audit_copy_due(0, 1, 1, KIND(CANCEL)), 0);
	CHECK_EQ(mrule_audit_copy_due(0, 1, 1, KIND(NOTICE)), 0);
	CHECK_EQ(mrule_audit_copy_due(0, 1, 1, KIND(AUDIT)), 0);
}

static void
TEST_bounce_code(void)
{
	/* unroutable: always told, notify or not */
	CHECK_EQ(mrule_bounce_code(REASON(UNROUTABLE), 0, KIND(DATA)), NOTICE(UNDELIVERABLE));
	CHECK_EQ(mrule_bounce_code(REASON(UNROUTABLE), FLAG(NOTIFY), KIND(CANCEL)),
	    NOTICE(UNDELIVERABLE));
	/* the others only when asked for */
	CHECK_EQ(mrule_bounce_code(REASON(EXPIRED), 0, KIND(DATA)), 0);
	CHECK_EQ(mrule_bounce_code(REASON(EXPIRED), FLAG(NOTIFY), KIND(DATA)), NOTICE(EXPIRED));
	CHECK_EQ(mrule_bounce_code(REASON(SPOOFED), 0, KIND(DATA)), 0);
	CHECK_EQ(mrule_bounce_code(REASON(SPOOFED), FLAG(NOTIFY), KIND(DATA)), NOTICE(REJECTED));
	CHECK_EQ(mrule_bounce_code(REASON(LOOP), FLAG(NOTIFY) | FLAG(URGENT), KIND(DATA)),
	    NOTICE(REJECTED));
	/* never a notice about a notice or an audit copy */
	CHECK_EQ(mrule_bounce_code(REASON(UNROUTABLE), FLAG(NOTIFY), KIND(NOTICE)), 0);
	CHECK_EQ(mrule_bounce_code(REASON(UNROUTABLE), FLAG(NOTIFY), KIND(AUDIT)), 0);
	CHECK_EQ(mrule_bounce_code(REASON(EXPIRED), FLAG(NOTIFY), KIND(NOTICE)), 0);
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_turns_here),
		CU_TEST(TEST_audit_kept_and_due),
		CU_TEST(TEST_bounce_code),
		CU_END
	};

	return cu_main("master_rules", tests, argc, argv);
}
