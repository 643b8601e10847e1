/*
 * cu.h — the shared CUnit runner for cascade's unit tests.
 *
 * A test file defines static void TEST_<case>(void) functions, lists them in
 * a struct cu_test table and calls cu_main(). The runner prints CUnit's own
 * summary, then "RESULT: N passed, N failed" (summed by `make summary` and
 * .ci/run), and exits non-zero when any test failed.
 */
#ifndef CASCADE_CU_H
#define CASCADE_CU_H

#include <stdio.h>

#include <CUnit/Basic.h>

struct cu_test {
	const char *name;
	void (*fn)(void);
};

#undef CU_TEST     /* CUnit has its own; ours names a table entry */
#define CU_TEST(f) { #f, f }
#define CU_END { NULL, NULL }

int cu_main(const char *suite, const struct cu_test *tests, int argc, char **argv);

/*
 * CHECK_RC(expr, strerror_fn): asserts that expr returns 0; on failure prints
 * the expression, file:line and the error string, then fails the test.
 */
#define CHECK_RC(expr, strerr) do {                                            \
	int cu_rc_ = (expr);                                                   \
	if (cu_rc_ != 0)                                                       \
		fprintf(stderr, "%s:%d: %s returned %d (%s)\n", __FILE__,      \
		    __LINE__, #expr, cu_rc_, strerr(cu_rc_));                  \
	CU_ASSERT_EQUAL_FATAL(cu_rc_, 0);                                      \
} while (0)

/* CHECK_EQ(a, b): integer equality that prints both values when it fails. */
#define CHECK_EQ(a, b) do {                                                    \
	long long cu_a_ = (long long)(a), cu_b_ = (long long)(b);              \
	if (cu_a_ != cu_b_)                                                    \
		fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",      \
		    __FILE__, __LINE__, #a, #b, cu_a_, cu_b_);                 \
	CU_ASSERT_EQUAL(cu_a_, cu_b_);                                         \
} while (0)

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); removed by cu_rmtree. */
char *cu_tmpdir(const char *tag);
void cu_rmtree(const char *path);

#endif
