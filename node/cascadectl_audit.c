/*
 * cascadectl_audit.c — `cascadectl audit`: the event log of a node's
 * journal read directly (a read-only LMDB transaction beside the running
 * daemon, or the journal of a stopped node), not over the control socket.
 *
 *   cascadectl audit [filters] [--json]       matching events
 *   cascadectl audit verify                   the hash chain
 *   cascadectl audit export --since T --format jsonl|csv
 *
 * The queries are master/audit_query.c's, shared with cascade-audit. No
 * indexes yet: every query scans the whole log.
 */
#include "config.h"

#include <sys/stat.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit_query.h"
#include "cascadectl.h"
#include "conf.h"
#include "journal.h"

enum { OUT_TABLE, OUT_JSONL, OUT_CSV };

struct out {
	int fmt;
	uint64_t n;
	uint64_t first_seq, last_seq;
	uint8_t first_hash[CSHA256_LEN], last_hash[CSHA256_LEN];
};

static void
hexs(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* local time with its zone, to the millisecond */
static const char *
local_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	localtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, len - n, ".%03d", (int)(ms % 1000));
	if (n < len)
		strftime(buf + n, len - n, " %z", &tm);
	return buf;
}

static const char *
iso_utc(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char a[32];

	strftime(a, sizeof(a), "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
	snprintf(buf, len, "%s.%03dZ", a, (int)(ms % 1000));
	return buf;
}

static int
has_id(const struct jevent *ev)
{
	static const uint8_t zero[CID_LEN];

	return memcmp(ev->id, zero, CID_LEN) != 0;
}

static json_t *
row_json(const struct aq_row *r)
{
	const struct jevent *ev = r->ev;
	char idt[CID_TEXT_LEN], t[40], h[2 * CSHA256_LEN + 1];
	json_t *o = json_object(), *tr = json_array();
	unsigned i;

	json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(o, "time", json_string(iso_utc(ev->time_ms, t, sizeof(t))));
	json_object_set_new(o, "time_ms", json_integer(ev->time_ms));
	json_object_set_new(o, "type", json_string(aq_type_name(ev->type)));
	json_object_set_new(o, "id", json_string(has_id(ev) ? cid_format(ev->id, idt) : ""));
	json_object_set_new(o, "leg", json_integer(ev->leg));
	json_object_set_new(o, "kind", json_string(r->kind));
	json_object_set_new(o, "ref", json_string(r->has_ref ? cid_format(r->ref, idt) : ""));
	json_object_set_new(o, "command", json_string(r->command));
	json_object_set_new(o, "src", json_string(ev->src));
	json_object_set_new(o, "dst", json_string(ev->dst));
	json_object_set_new(o, "peer", json_string(ev->peer));
	json_object_set_new(o, "reason", json_integer(ev->reason));
	json_object_set_new(o, "text", json_string(ev->text));
	for (i = 0; i < ev->ntrace; i++)
		json_array_append_new(tr, json_string(ev->trace[i]));
	json_object_set_new(o, "trace", tr);
	hexs(ev->hash, CSHA256_LEN, h);
	json_object_set_new(o, "hash", json_string(h));
	return o;
}

static void
csv_field(const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n") != NULL) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else
		fputs(s, stdout);
	putchar(last ? '\n' : ',');
}

static const char csv_header[] =
    "seq,time,type,id,leg,kind,ref,command,src,dst,peer,reason,text,trace,hash\n";

static void
row_csv(const struct aq_row *r)
{
	const struct jevent *ev = r->ev;
	char idt[CID_TEXT_LEN], t[40], h[2 * CSHA256_LEN + 1], num[24], trace[1024] = "";
	unsigned i;

	snprintf(num, sizeof(num), "%" PRIu64, ev->seq);
	csv_field(num, 0);
	csv_field(iso_utc(ev->time_ms, t, sizeof(t)), 0);
	csv_field(aq_type_name(ev->type), 0);
	csv_field(has_id(ev) ? cid_format(ev->id, idt) : "", 0);
	snprintf(num, sizeof(num), "%u", ev->leg);
	csv_field(num, 0);
	csv_field(r->kind, 0);
	csv_field(r->has_ref ? cid_format(r->ref, idt) : "", 0);
	csv_field(r->command, 0);
	csv_field(ev->src, 0);
	csv_field(ev->dst, 0);
	csv_field(ev->peer, 0);
	snprintf(num, sizeof(num), "%u", ev->reason);
	csv_field(num, 0);
	csv_field(ev->text, 0);
	for (i = 0; i < ev->ntrace; i++) {     /* hops joined by spaces */
		if (i > 0)
			strncat(trace, " ", sizeof(trace) - strlen(trace) - 1);
		strncat(trace, ev->trace[i], sizeof(trace) - strlen(trace) - 1);
	}
	csv_field(trace, 0);
	hexs(ev->hash, CSHA256_LEN, h);
	csv_field(h, 1);
}

static void
row_table(const struct aq_row *r)
{
	const struct jevent *ev = r->ev;
	char idt[CID_TEXT_LEN], t[48];

	printf("%7" PRIu64 "  %-29s %-10s %-33s %-22s %-22s %-14s %s", ev->seq,
	    local_time(ev->time_ms, t, sizeof(t)), aq_type_name(ev->type),
	    has_id(ev) ? cid_format(ev->id, idt) : "-", *ev->src ? ev->src : "-",
	    *ev->dst ? ev->dst : "-", *r->command ? r->command : "-", *ev->peer ? ev->peer : "-");
	if (ev->reason)
		printf(" reason=%u", ev->reason);
	if (*ev->text)
		printf(" %s", ev->text);
	putchar('\n');
}

static int
print_row(const struct aq_row *r, void *arg)
{
	struct out *o = arg;

	if (o->n == 0) {
		o->first_seq = r->ev->seq;
		memcpy(o->first_hash, r->ev->hash, CSHA256_LEN);
	}
	o->last_seq = r->ev->seq;
	memcpy(o->last_hash, r->ev->hash, CSHA256_LEN);
	o->n++;
	if (o->fmt == OUT_JSONL) {
		json_t *j = row_json(r);

		json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	} else if (o->fmt == OUT_CSV)
		row_csv(r);
	else
		row_table(r);
	return 0;
}

/* --journal DIR (a journal, or a data-dir holding one) or the config's data-dir/journal. */
static char *
journal_dir(const char *given, const char *conffile)
{
	struct conf_errors errs;
	struct conf *c = NULL;
	struct stat st;
	char *dir, probe[4200];

	if (given != NULL) {
		snprintf(probe, sizeof(probe), "%s/data.mdb", given);
		if (stat(probe, &st) == 0)
			return strdup(given);
		snprintf(probe, sizeof(probe), "%s/journal/data.mdb", given);
		if (stat(probe, &st) == 0) {
			snprintf(probe, sizeof(probe), "%s/journal", given);
			return strdup(probe);
		}
		die(EX_FAILED, "%s: no journal here (no data.mdb in it or in %s/journal): give "
		    "the node's journal directory or its data-dir", given, given);
	}
	memset(&errs, 0, sizeof(errs));
	if (conf_load(conffile, &c, &errs) != 0) {
		conf_errors_print(&errs, stderr);
		conf_errors_free(&errs);
		die(EX_FAILED, "%s: cannot read the configuration for its data-dir; name the "
		    "journal with --journal DIR", conffile);
	}
	conf_errors_free(&errs);
	if (asprintf(&dir, "%s/journal", c->data_dir) < 0)
		die(EX_FAILED, "out of memory");
	conf_free(c);
	return dir;
}

static void
time_opt(const char *s, int64_t *out)
{
	char err[256];

	if (aq_parse_time(s, cnow_ms(), out, err, sizeof(err)) != 0)
		die(EX_USAGE, "%s", err);
}

static int
verify(struct journal *j)
{
	char h[2 * CSHA256_LEN + 1], t[48];
	struct jverify v;
	int rc = journal_verify_ex(j, &v);

	hexs(v.head, CSHA256_LEN, h);
	if (rc != 0 && v.bad_seq == 0)
		die(EX_FAILED, "verify: %s", journal_errmsg(j));
	if (json) {
		json_t *o = json_pack("{s:b, s:I, s:s}", "intact", rc == 0, "verified",
		    (json_int_t)v.count, "head", h);

		if (rc != 0) {
			json_object_set_new(o, "broken_at", json_integer((json_int_t)v.bad_seq));
			json_object_set_new(o, "missing", json_boolean(v.missing));
			json_object_set_new(o, "time", json_string(v.bad_time_ms ?
			    iso_utc(v.bad_time_ms, t, sizeof(t)) : ""));
			json_object_set_new(o, "what", json_string(v.what));
		}
		json_print(o);
	} else if (rc == 0)
		printf("%" PRIu64 " records verified, chain intact, head %s\n", v.count, h);
	else
		printf("chain broken at record %" PRIu64 " (%s %s): %s; %" PRIu64 " records before "
		    "it verified, last good hash %s\n", v.bad_seq, v.missing ? "after" : "at",
		    v.bad_time_ms ? local_time(v.bad_time_ms, t, sizeof(t)) : "unknown time",
		    v.what, v.count, h);
	return rc == 0 ? EX_OK : EX_FAILED;
}

static const char audit_usage_text[] =
    "usage: cascadectl audit [verify | export] [--journal DIR] [--since T] "
    "[--until T] [--src ADDR] [--dst ADDR] [--command C] [--type TYPE] [--id ID] "
    "[--limit N] [--json] [--format jsonl|csv]; see cascadectl(8), AUDIT";

static void
audit_usage(void)
{
	die(EX_USAGE, "%s", audit_usage_text);
}

int
audit_run(const char *conffile, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'J' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' },
		{ "command", required_argument, NULL, 'c' },
		{ "type", required_argument, NULL, 't' },
		{ "id", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *given = NULL, *sub = NULL, *format = NULL;
	struct aq_filter f;
	struct journal_opts jo;
	struct journal *j;
	struct out o;
	char err[512], *dir, *end;
	int ch, rc, since = 0;

	memset(&f, 0, sizeof(f));
	if (argc > 1 && (strcmp(argv[1], "verify") == 0 || strcmp(argv[1], "export") == 0)) {
		sub = argv[1];
		argc--;
		argv++;
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'J': given = optarg; break;
		case 'S': time_opt(optarg, &f.since_ms); since = 1; break;
		case 'U': time_opt(optarg, &f.until_ms); break;
		case 's': f.src = optarg; break;
		case 'd': f.dst = optarg; break;
		case 'c': f.command = optarg; break;
		case 'j': json = 1; break;
		case 'F': format = optarg; break;
		case 'h':
			printf("%s\n", audit_usage_text);
			exit(EX_OK);
		case 't':
			if ((f.type = aq_type_parse(optarg)) == 0)
				die(EX_USAGE, "--type %s: not an event type (accepted, forwarded, "
				    "delivered, rejected, expired, cancelled, replayed, duplicate, "
				    "body-pruned, config-loaded, started, stopped, note)", optarg);
			break;
		case 'i':
			if (cid_parse(optarg, f.id) != 0)
				die(EX_USAGE, "--id %s: not a packet id (32 hex digits)", optarg);
			f.has_id = 1;
			break;
		case 'n':
			f.limit = strtoull(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || f.limit == 0)
				die(EX_USAGE, "--limit %s: not a positive number", optarg);
			break;
		default:
			audit_usage();
		}
	}
	if (optind != argc)
		audit_usage();
	if (f.since_ms && f.until_ms && f.since_ms >= f.until_ms)
		die(EX_USAGE, "--since is not before --until: no event can match");
	/* verify walks the whole chain: a filter would only look like it applied */
	if (sub != NULL && strcmp(sub, "verify") == 0 && (since || f.until_ms || f.src || f.dst ||
	    f.command || f.type || f.has_id || f.limit || format != NULL))
		die(EX_USAGE, "audit verify takes no filters: it always walks the whole chain");
	memset(&o, 0, sizeof(o));
	o.fmt = json ? OUT_JSONL : OUT_TABLE;
	if (sub != NULL && strcmp(sub, "export") == 0) {
		if (!since)
			die(EX_USAGE, "audit export needs --since T (--since 1970-01-01 for all)");
		if (format == NULL || (strcmp(format, "jsonl") != 0 && strcmp(format, "csv") != 0))
			die(EX_USAGE, "audit export needs --format jsonl or --format csv");
		o.fmt = strcmp(format, "csv") == 0 ? OUT_CSV : OUT_JSONL;
	} else if (format != NULL)
		die(EX_USAGE, "--format is for audit export");
	dir = journal_dir(given, conffile);
	memset(&jo, 0, sizeof(jo));
	jo.dir = dir;
	jo.sync = 1;
	jo.readonly = 1;        /* beside the running daemon: LMDB readers never block it */
	if (journal_open(&j, &jo, err, sizeof(err)) != 0)
		die(EX_FAILED, "%s", err);
	if (sub != NULL && strcmp(sub, "verify") == 0) {
		rc = verify(j);
		journal_close(j);
		free(dir);
		return rc;
	}
	if (o.fmt == OUT_CSV)
		fputs(csv_header, stdout);
	else if (o.fmt == OUT_TABLE)
		printf("%7s  %-29s %-10s %-33s %-22s %-22s %-14s %s\n", "SEQ", "TIME", "TYPE", "ID",
		    "SRC", "DST", "COMMAND", "PEER / DETAIL");
	rc = aq_scan(j, &f, print_row, &o);
	if (rc != 0) {
		snprintf(err, sizeof(err), "%s", journal_errmsg(j));
		journal_close(j);
		die(EX_FAILED, "%s: %s", dir, err);
	}
	if (sub != NULL) {      /* export: what lets the export itself be checked */
		char a[2 * CSHA256_LEN + 1], b[2 * CSHA256_LEN + 1];

		hexs(o.first_hash, CSHA256_LEN, a);
		hexs(o.last_hash, CSHA256_LEN, b);
		if (o.n == 0)
			fprintf(stderr, "cascadectl: export: 0 records\n");
		else
			fprintf(stderr, "cascadectl: export: %" PRIu64 " records, first seq %" PRIu64
			    " hash %s, last seq %" PRIu64 " hash %s\n", o.n, o.first_seq, a,
			    o.last_seq, b);
	}
	fflush(stdout);
	journal_close(j);
	free(dir);
	return EX_OK;
}
