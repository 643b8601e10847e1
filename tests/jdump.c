/*
 * jdump.c — prints a node's journal events (read-only: the daemon may run), one per line, for the
 * integration tests (the seed of `cascadectl audit`):
 *   seq type id=... peer=... src=... dst=... [kind=... ref=...] text=...
 * jdump -v DIR walks the hash chain instead and exits 1 if it is broken.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

static struct journal *j;

static const char *
type_name(uint32_t t)
{
	static const char *names[] = { "?", "accepted", "forwarded", "delivered", "rejected",
	    "expired", "cancelled", "replayed", "duplicate", "body-pruned", "config-loaded",
	    "started", "stopped", "note" };

	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static int
print_event(const struct jevent *ev, void *arg)
{
	static const uint8_t zero[CID_LEN];
	static const char *kinds[] = { "data", "notice", "cancel", "audit" };
	char idt[CID_TEXT_LEN], reft[CID_TEXT_LEN];

	printf("%llu %s", (unsigned long long)ev->seq, type_name(ev->type));
	if (memcmp(ev->id, zero, CID_LEN) != 0) {
		struct jkey k;
		uint8_t *bytes;
		size_t len;
		int64_t at;

		printf(" id=%s leg=%u", cid_format(ev->id, idt), ev->leg);
		memcpy(k.id, ev->id, CID_LEN);
		k.leg = ev->leg;
		if (journal_packet_get(j, &k, &bytes, &len, &at) == 0) {
			Cascade__Packet *p = cpkt_decode(bytes, len);

			if (p != NULL) {
				printf(" kind=%s", p->kind < 4 ? kinds[p->kind] : "?");
				if (p->ref_id.len == CID_LEN)
					printf(" ref=%s", cid_format(p->ref_id.data, reft));
				cpkt_free(p);
			}
			free(bytes);
		}
	}
	printf(" peer=%s src=%s dst=%s reason=%u text=%s\n", ev->peer ? ev->peer : "",
	    ev->src ? ev->src : "", ev->dst ? ev->dst : "", ev->reason, ev->text ? ev->text : "");
	return 0;
}

int
main(int argc, char **argv)
{
	struct journal_opts o;
	char err[512];
	uint64_t count = 0, bad = 0;
	int verify = 0, rc;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verify = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: jdump [-v] JOURNAL_DIR\n");
		return 2;
	}
	memset(&o, 0, sizeof(o));
	o.dir = argv[1];
	o.sync = 1;
	o.readonly = 1;         /* may run beside the daemon */
	if (journal_open(&j, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "jdump: %s\n", err);
		return 1;
	}
	if (verify) {
		rc = journal_verify(j, &count, &bad);
		printf("%llu records, chain %s", (unsigned long long)count, rc == 0 ? "intact\n" : "");
		if (rc != 0)
			printf("broken at record %llu: %s\n", (unsigned long long)bad, journal_errmsg(j));
	} else
		rc = journal_events(j, 1, print_event, NULL);
	journal_close(j);
	return rc == 0 ? 0 : 1;
}
