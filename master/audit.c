/*
 * audit.c — cascade-audit: reads a node's journal beside the running daemon
 * (a read-only LMDB transaction; LMDB lets readers run while the daemon
 * writes) and prints its event log, one event per line:
 *   seq time type id=... leg=... [kind=... ref=...] peer=... src=... dst=... reason=... text=...
 *
 *   cascade-audit [-i ID] JOURNAL_DIR   events (about packet ID: the packet
 *                                       itself and packets referring to it)
 *   cascade-audit -v JOURNAL_DIR        walks the hash chain; exit 1 if broken
 *
 * `cascadectl audit` (node/cascadectl_audit.c) is the operator's version with
 * filters, verify and export; both share master/audit_query.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit_query.h"
#include "journal.h"

static struct journal *j;

static int
print_event(const struct aq_row *r, void *arg)
{
	static const uint8_t zero[CID_LEN];
	const struct jevent *ev = r->ev;
	char idt[CID_TEXT_LEN], reft[CID_TEXT_LEN], when[32];
	time_t secs = (time_t)(ev->time_ms / 1000);
	struct tm tm;

	(void)arg;
	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%llu %s.%03d %s", (unsigned long long)ev->seq, when, (int)(ev->time_ms % 1000),
	    aq_type_name(ev->type));
	if (memcmp(ev->id, zero, CID_LEN) != 0) {
		printf(" id=%s leg=%u", cid_format(ev->id, idt), ev->leg);
		if (*r->kind)
			printf(" kind=%s", r->kind);
		if (r->has_ref)
			printf(" ref=%s", cid_format(r->ref, reft));
	}
	printf(" peer=%s src=%s dst=%s reason=%u text=%s\n", ev->peer, ev->src, ev->dst,
	    ev->reason, ev->text);
	return 0;
}

int
main(int argc, char **argv)
{
	struct journal_opts o;
	char err[512];
	struct aq_filter f;
	uint64_t count = 0, bad = 0;
	int verify = 0, rc, ch;

	memset(&f, 0, sizeof(f));

	for (ch = 1; ch < argc && strcmp(argv[ch], "--") != 0; ch++)
		if (strcmp(argv[ch], "--help") == 0 || strcmp(argv[ch], "-h") == 0) {
			printf("usage: cascade-audit [-v] [-i ID] JOURNAL_DIR\n"
			    "  -v      verify the event log's hash chain\n"
			    "  -i ID   only the events of packet ID\n"
			    "  -h      this help\n");
			return 0;
		}
	while ((ch = getopt(argc, argv, "vi:")) != -1) {
		switch (ch) {
		case 'v':
			verify = 1;
			break;
		case 'i':
			if (cid_parse(optarg, f.id) != 0) {
				fprintf(stderr, "cascade-audit: %s: not a packet id\n", optarg);
				return 2;
			}
			f.has_id = 1;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind - 1;
	if (argc != 1) {
usage:
		fprintf(stderr, "usage: cascade-audit [-v] [-i ID] JOURNAL_DIR\n");
		return 2;
	}
	memset(&o, 0, sizeof(o));
	o.dir = argv[1];
	o.sync = 1;
	o.readonly = 1;         /* may run beside the daemon */
	if (journal_open(&j, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "cascade-audit: %s\n", err);
		return 1;
	}
	if (verify) {
		rc = journal_verify(j, &count, &bad);
		printf("%llu records, chain %s", (unsigned long long)count, rc == 0 ? "intact\n" : "");
		if (rc != 0)
			printf("broken at record %llu: %s\n", (unsigned long long)bad, journal_errmsg(j));
	} else
		rc = aq_scan(j, &f, print_event, NULL);
	journal_close(j);
	return rc == 0 ? 0 : 1;
}
