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
 * The seed of `cascadectl audit`, which will query the master's indexes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

static struct journal *j;
static uint8_t want_id[CID_LEN];
static int want;

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
	char idt[CID_TEXT_LEN], reft[CID_TEXT_LEN], when[32];
	Cascade__Packet *p = NULL;
	time_t secs = (time_t)(ev->time_ms / 1000);
	struct tm tm;

	if (memcmp(ev->id, zero, CID_LEN) != 0) {
		struct jkey k;
		uint8_t *bytes;
		size_t len;
		int64_t at;

		memcpy(k.id, ev->id, CID_LEN);
		k.leg = ev->leg;
		if (journal_packet_get(j, &k, &bytes, &len, &at) == 0) {
			p = cpkt_decode(bytes, len);
			free(bytes);
		}
	}
	/* -i: the packet itself, and notices, cancels and audit copies about it */
	if (want && memcmp(ev->id, want_id, CID_LEN) != 0 &&
	    (p == NULL || p->ref_id.len != CID_LEN || memcmp(p->ref_id.data, want_id, CID_LEN) != 0)) {
		cpkt_free(p);
		return 0;
	}
	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%llu %s.%03d %s", (unsigned long long)ev->seq, when, (int)(ev->time_ms % 1000),
	    type_name(ev->type));
	if (memcmp(ev->id, zero, CID_LEN) != 0) {
		printf(" id=%s leg=%u", cid_format(ev->id, idt), ev->leg);
		if (p != NULL) {
			printf(" kind=%s", p->kind < 4 ? kinds[p->kind] : "?");
			if (p->ref_id.len == CID_LEN)
				printf(" ref=%s", cid_format(p->ref_id.data, reft));
		}
	}
	cpkt_free(p);
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
	int verify = 0, rc, ch;


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
			if (cid_parse(optarg, want_id) != 0) {
				fprintf(stderr, "cascade-audit: %s: not a packet id\n", optarg);
				return 2;
			}
			want = 1;
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
		rc = journal_events(j, 1, print_event, NULL);
	journal_close(j);
	return rc == 0 ? 0 : 1;
}
