/*
 * libFuzzer target: cascade.conf(5) text through conf_load, the parser that
 * cascaded -n and start-up run. The input goes to a file of its own (the
 * parser reads a path); relative paths in it resolve next to that file.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct conf *c = NULL;
	struct conf_errors errs = { 0 };
	FILE *f;
	int fd;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/cascade-fuzz-conf.XXXXXX");
		if ((fd = mkstemp(path)) == -1)
			abort();
		close(fd);
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
