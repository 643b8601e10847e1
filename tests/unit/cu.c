/* cu.c — the shared CUnit runner (see cu.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cu.h"

int
cu_main(const char *suite_name, const struct cu_test *tests, int argc, char **argv)
{
	CU_pSuite suite;
	unsigned passed, failed;
	const struct cu_test *t;
	const char *only = argc > 1 ? argv[1] : NULL;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite(suite_name, NULL, NULL);
	for (t = tests; t->name != NULL; t++)
		if (only == NULL || strstr(t->name, only) != NULL)
			CU_add_test(suite, t->name, t->fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	passed = CU_get_number_of_tests_run() - failed;
	printf("\nRESULT: %u passed, %u failed\n", passed, failed);
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}

char *
cu_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/cascade-%s-XXXXXX", base, tag) < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

void
cu_rmtree(const char *path)
{
	char *cmd;

	if (path == NULL || asprintf(&cmd, "rm -rf '%s'", path) < 0)
		return;
	if (system(cmd) != 0)
		fprintf(stderr, "cu: could not remove %s\n", path);
	free(cmd);
}
