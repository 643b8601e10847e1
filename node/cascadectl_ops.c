/*
 * cascadectl_ops.c — cascadectl's queue command (and the operator views
 * that follow it): what it asks cascaded and how it prints the answer.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascadectl.h"

#define CMD(x) CASCADE__CTL_COMMAND__CTL_##x

static uint64_t
number_opt(const char *name, const char *v, uint64_t lo, uint64_t hi)
{
	unsigned long long n;
	char *e;

	errno = 0;
	n = strtoull(v, &e, 10);
	if (errno != 0 || e == v || *e != '\0' || v[0] == '-' || n < lo || n > hi) {
		fprintf(stderr, "cascadectl: --%s %s: expected a number from %" PRIu64 " to %"
		    PRIu64 "\n", name, v, lo, hi);
		exit(EX_USAGE);
	}
	return n;
}

static void
print_queues(const Cascade__CtlReply *rep)
{
	char a[32], b[32];
	size_t i;

	printf("%-32s %-24s %9s %10s %8s\n", "QUEUE", "TO", "WAITING", "BYTES", "OLDEST");
	for (i = 0; i < rep->n_queues; i++) {
		const Cascade__CtlQueueSummary *q = rep->queues[i];

		printf("%-32s %-24s %9" PRIu64 " %10s %8s\n", q->name, q->peer[0] ? q->peer : "-",
		    q->depth, bytes_h(q->bytes, a, sizeof(a)), age(q->oldest_age_ms, b, sizeof(b)));
	}
}

static void
print_page(const Cascade__CtlQueuePage *pg, const char *arg)
{
	int64_t now = cnow_ms();
	char a[32];
	size_t i;

	printf("queue %s: %" PRIu64 " waiting", pg->name, pg->depth);
	if (pg->n_entries > 0)
		printf(", seq %" PRIu64 " to %" PRIu64 " shown", pg->entries[0]->seq,
		    pg->entries[pg->n_entries - 1]->seq);
	printf("\n");
	if (pg->n_entries == 0)
		return;
	printf("%-10s %-33s %-22s %-22s %-16s %8s %s\n", "SEQ", "ID", "SRC", "DST", "COMMAND",
	    "AGE", "URGENT");
	for (i = 0; i < pg->n_entries; i++) {
		const Cascade__CtlQueueEntry *e = pg->entries[i];

		printf("%-10" PRIu64 " %-33s %-22s %-22s %-16s %8s %s\n", e->seq, e->id, e->src,
		    e->dst, e->command, age(now - e->accepted_ms, a, sizeof(a)),
		    e->urgent ? "yes" : "-");
	}
	if (pg->next_after != 0)
		printf("more: cascadectl queue %s --after %" PRIu64 "\n", arg, pg->next_after);
}

static int
cmd_queue(const char *sock, int argc, char **argv)
{
	Cascade__CtlRequest req = CASCADE__CTL_REQUEST__INIT;
	Cascade__CtlReply *rep;

	if (argc > 2) {
		fprintf(stderr, "cascadectl: queue [LINK|CLIENT] [--limit N] [--after SEQ]\n");
		exit(EX_USAGE);
	}
	req.command = CMD(QUEUE);
	req.arg = argc == 2 ? argv[1] : "";
	if (opt_limit != NULL)
		req.limit = (uint32_t)number_opt("limit", opt_limit, 1, 1000);
	if (opt_after != NULL)
		req.after = number_opt("after", opt_after, 0, UINT64_MAX);
	rep = ask_req(sock, &req);
	if (json) {
		if (rep->page != NULL)
			json_print(to_json(&rep->page->base));
		else
			json_print(json_list((ProtobufCMessage **)rep->queues, rep->n_queues));
	} else if (rep->page != NULL)
		print_page(rep->page, req.arg);
	else
		print_queues(rep);
	cascade__ctl_reply__free_unpacked(rep, NULL);
	return EX_OK;
}

static const struct {
	const char *name;
	int (*run)(const char *sock, int argc, char **argv);
} ops[] = {
	{ "queue", cmd_queue },
};

int
ops_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(name, ops[i].name) == 0)
			return 1;
	return 0;
}

int
ops_run(char *path, int argc, char **argv)
{
	size_t i;
	int rc = EX_USAGE;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(argv[0], ops[i].name) == 0)
			rc = ops[i].run(path, argc, argv);
	free(path);
	return rc;
}
