/*
 * libFuzzer target: cascade.conf(5) text through conf_load, the parser that
 * cascaded -n and start-up run. The input goes to a file of its own (the
 * parser reads a path); relative paths in it resolve next to that file, in
 * a directory of its own with one empty subdirectory, conf.d: "include *"
 * then reads those, not whatever /tmp holds (slow, and different on every
 * machine).
 */
#include "config.h"

#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct conf *c = NULL;
	struct conf_errors errs = { 0 };
	FILE *f;

	if (path[0] == '\0') {
		char dir[] = "/tmp/cascade-fuzz-conf.XXXXXX";

		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/conf.d", dir);
		if (mkdir(path, 0700) == -1)
			abort();
		/* not *.conf: a conf.d/ include would read the input again */
		snprintf(path, sizeof(path), "%s/input", dir);
	}
	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (conf_load(path, &c, &errs) == 0)
		conf_free(c);
	conf_errors_free(&errs);
	return 0;
}
