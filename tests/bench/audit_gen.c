/*
 * audit_gen.c — make bench-audit's journal: N ACCEPTED events, one every
 * STEP ms ending now, from 1000 clinics fj-cNNN/dr to fj/expert, written
 * through journal_log (the real chain) with sync off. No packet bodies: the
 * queries' filters on time, src and dst need none.
 *
 *   audit_gen DIR N STEP_MS [noindex]
 *
 * noindex: the journal without its event indexes (audit-index no), for the
 * comparison. Prints the events/s of the writing on stdout.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

int
main(int argc, char **argv)
{
	struct journal_opts o;
	struct journal *j;
	char err[512], src[64];
	long n, step, i;
	int64_t t0, w0;

	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "noindex") == 0)) {
		fprintf(stderr, "usage: audit_gen DIR N STEP_MS [noindex]\n");
		return 2;
	}
	n = atol(argv[2]);
	step = atol(argv[3]);
	t0 = cnow_ms() - (int64_t)n * step;
	memset(&o, 0, sizeof(o));
	o.dir = argv[1];
	o.node_id = "fj";
	o.sync = 0;
	o.map_size = 1ull << 30;
	o.no_index = argc == 5;
	if (journal_open(&j, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "audit_gen: %s\n", err);
		return 1;
	}
	w0 = cmono_ms();
	for (i = 0; i < n; i++) {
		struct jevent ev;

		memset(&ev, 0, sizeof(ev));
		snprintf(src, sizeof(src), "fj-c%03ld/dr", i % 1000);
		ev.type = JEV_ACCEPTED;
		ev.time_ms = t0 + (int64_t)i * step;
		/* as an origin makes them: 48-bit ms, then a counter (DESIGN.md) */
		ev.id[0] = (uint8_t)(ev.time_ms >> 40);
		ev.id[1] = (uint8_t)(ev.time_ms >> 32);
		ev.id[2] = (uint8_t)(ev.time_ms >> 24);
		ev.id[3] = (uint8_t)(ev.time_ms >> 16);
		ev.id[4] = (uint8_t)(ev.time_ms >> 8);
		ev.id[5] = (uint8_t)ev.time_ms;
		memcpy(ev.id + 8, &i, sizeof(i));
		ev.peer = "fj-c";
		ev.src = src;
		ev.dst = "fj/expert";
		ev.command = i % 10 ? "consult" : "image";   /* indexed, as a packet's is */
		ev.text = "";
		if (journal_log(j, &ev) != 0) {
			fprintf(stderr, "audit_gen: %s\n", journal_errmsg(j));
			return 1;
		}
	}
	printf("%.0f\n", (double)n * 1000 / (double)(cmono_ms() - w0 > 0 ? cmono_ms() - w0 : 1));
	journal_close(j);
	return 0;
}
