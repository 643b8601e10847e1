/*
 * cascadectl_audit.c — `cascadectl audit`: the event log of a node's
 * journal read directly (a read-only LMDB transaction beside the running
 * daemon, or the journal of a stopped node), not over the control socket.
 *
 *   cascadectl audit [filters] [--json]       matching events
 *   cascadectl audit verify [--since T] [--anchor HASH]   the hash chain
 *   cascadectl audit anchor                   the daemon writes an anchor now
 *   cascadectl audit export --since T --format jsonl|csv
 *   cascadectl audit show ID [--payload]      one packet: record, trace, events
 *
 * The queries are master/audit_query.c's: through the journal's event
 * indexes when the filter allows (node/evindex.c), else (or with --scan)
 * reading the whole log. --journal takes the journal directory or the
 * data-dir holding it, so this also reads the journal of a stopped node
 * (it replaced the separate cascade-audit tool).
 *
 * A payload can hold patient data: show --payload asks the daemon for it
 * over the control socket, which journals the access first (a payload-read
 * event: who, when, which packet). Only with --journal DIR, for a stopped
 * node, is it read here directly, and then the access can only go to
 * syslog: the journal is opened read-only, outside its writer.
 */
#include "config.h"

#include <sys/stat.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

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
	hex(ev->hash, CSHA256_LEN, h);
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
	hex(ev->hash, CSHA256_LEN, h);
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

/* HASH of --anchor: 64 hex digits. */
static void
anchor_opt(const char *s, uint8_t out[CSHA256_LEN])
{
	unsigned i, x;

	if (strlen(s) != 2 * CSHA256_LEN || strspn(s, "0123456789abcdefABCDEF") != strlen(s))
		die(EX_USAGE, "--anchor %s: not a chain hash (64 hex digits, as audit anchor or "
		    "audit verify printed it)", s);
	for (i = 0; i < CSHA256_LEN; i++) {
		sscanf(s + 2 * i, "%2x", &x);
		out[i] = (uint8_t)x;
	}
}

/*
 * The whole chain, or from the first record at or after since_ms (trusting
 * the stored hash of the one before it, which is said); with anchor, whether
 * the chain passes through it: not passing is a failure (exit 1).
 */
static int
verify(struct journal *j, int64_t since_ms, const uint8_t *anchor)
{
	char h[2 * CSHA256_LEN + 1], sh[2 * CSHA256_LEN + 1], ah[2 * CSHA256_LEN + 1];
	char t[48], t2[48], from[256] = "";
	struct jverify v;
	int rc = journal_verify_from(j, since_ms, anchor, &v), ok;

	hex(v.head, CSHA256_LEN, h);
	hex(v.start_hash, CSHA256_LEN, sh);
	if (anchor != NULL)
		hex(anchor, CSHA256_LEN, ah);
	if (rc != 0 && v.bad_seq == 0)
		die(EX_FAILED, "verify: %s", journal_errmsg(j));
	if (since_ms != 0 && v.first_seq == 0 && rc == 0) {
		if (json)
			json_print(json_pack("{s:b, s:I, s:s}", "intact", 1, "verified",
			    (json_int_t)0, "what", "no record at or after --since"));
		else
			printf("no record at or after %s: nothing verified\n",
			    local_time(since_ms, t, sizeof(t)));
		return anchor != NULL ? EX_FAILED : EX_OK;
	}
	if (since_ms != 0)
		snprintf(from, sizeof(from), " from record %" PRIu64 " (%s), hooked on the stored "
		    "hash %s of the record before it,", v.first_seq,
		    local_time(v.first_time_ms, t2, sizeof(t2)), sh);
	ok = rc == 0 && (anchor == NULL || v.anchor_found);
	if (json) {
		json_t *o = json_pack("{s:b, s:I, s:s}", "intact", rc == 0, "verified",
		    (json_int_t)v.count, "head", h);

		if (since_ms != 0) {
			json_object_set_new(o, "first_seq", json_integer((json_int_t)v.first_seq));
			json_object_set_new(o, "start_hash", json_string(sh));
		}
		if (anchor != NULL) {
			json_object_set_new(o, "anchor", json_string(ah));
			json_object_set_new(o, "anchor_found", json_boolean(v.anchor_found));
			if (v.anchor_found)
				json_object_set_new(o, "anchor_seq",
				    json_integer((json_int_t)v.anchor_seq));
		}
		if (rc != 0) {
			json_object_set_new(o, "broken_at", json_integer((json_int_t)v.bad_seq));
			json_object_set_new(o, "missing", json_boolean(v.missing));
			json_object_set_new(o, "time", json_string(v.bad_time_ms ?
			    iso_utc(v.bad_time_ms, t, sizeof(t)) : ""));
			json_object_set_new(o, "what", json_string(v.what));
		}
		json_print(o);
	} else if (rc == 0) {
		printf("%" PRIu64 " records verified,%s chain intact, head %s\n", v.count, from, h);
		if (anchor != NULL && v.anchor_found)
			printf("the chain passes through anchor %s at record %" PRIu64 " (%s)\n", ah,
			    v.anchor_seq, local_time(v.anchor_time_ms, t, sizeof(t)));
		else if (anchor != NULL)
			printf("anchor %s not found: no record%s has that hash (the log was rewritten "
			    "since, or the hash is from another node's log)\n", ah, since_ms != 0 ?
			    " verified (none at or after --since, nor the one it hooks on)" : "");
	} else
		printf("chain broken at record %" PRIu64 " (%s %s): %s; %" PRIu64 " records before "
		    "it verified%s, last good hash %s%s\n", v.bad_seq, v.missing ? "after" : "at",
		    v.bad_time_ms ? local_time(v.bad_time_ms, t, sizeof(t)) : "unknown time",
		    v.what, v.count, from, h, anchor == NULL ? "" : v.anchor_found ?
		    "; the anchor was passed before the break" : "; the anchor was not reached");
	return ok ? EX_OK : EX_FAILED;
}

/* audit anchor: the daemon writes one (the one writer of its chain) and says which. */
static int
anchor(const char *conffile, const char *sock)
{
	char *path = sock != NULL ? strdup(sock) : socket_from_config(conffile);
	Cascade__CtlReply *rep = ask(path, CASCADE__CTL_COMMAND__CTL_AUDIT_ANCHOR, "");
	char t[48];

	free(path);
	if (rep->anchor == NULL)
		die(EX_FAILED, "audit anchor: the daemon's answer has no anchor (an older "
		    "cascaded?)");
	if (json)
		json_print(json_pack("{s:I, s:s, s:s, s:I}", "seq", (json_int_t)rep->anchor->seq,
		    "head", rep->anchor->head, "time", iso_utc(rep->anchor->time_ms, t, sizeof(t)),
		    "anchor_seq", (json_int_t)rep->anchor->anchor_seq));
	else
		printf("anchor %s: chain head at record %" PRIu64 " is %s (%s); check later with "
		    "cascadectl audit verify --anchor %s\n", "written", rep->anchor->seq,
		    rep->anchor->head, local_time(rep->anchor->time_ms, t, sizeof(t)),
		    rep->anchor->head);
	cascade__ctl_reply__free_unpacked(rep, NULL);
	return EX_OK;
}

/* ----------------------------------------------------------- audit show */

static const char *const notice_names[] = { "", "delivered", "expired", "undeliverable",
    "rejected", "cancelled", "cancel-too-late", "delayed" };

static const char *
leg_name(unsigned leg)
{
	return leg == JLEG_DOWN ? "down" : "up";
}

/* Valid UTF-8 with no control characters but tab, CR and LF: shown as text. */
static int
printable_utf8(const uint8_t *b, size_t n)
{
	size_t i = 0, k, more;

	while (i < n) {
		uint8_t c = b[i];
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, cp = c & 0x07;
		else
			return 0;
		if (n - i <= more)      /* truncated */
			return 0;
		for (k = 1; k <= more; k++) {
			if ((b[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (b[i + k] & 0x3f);
		}
		/* overlong, surrogate, beyond U+10FFFF, or a C1 control */
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += more + 1;
	}
	return 1;
}

static json_t *
flags_json(uint32_t flags)
{
	static const char *const names[] = { "receipt", "no-ttl", "down", "urgent", "notify",
	    "late", "redelivery" };
	json_t *a = json_array();
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & (1u << i))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

/*
 * Reading a payload directly (--journal DIR) is a PHI access the journal
 * cannot record (opened read-only, outside its writer): it goes to syslog
 * (authpriv) and standard error, saying so.
 */
static void
log_payload_access(const char *idt, const char *dir)
{
	char t[40];

	iso_utc(cnow_ms(), t, sizeof(t));
	openlog("cascadectl", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_NOTICE, "payload access: uid %ld read the payload of packet %s at %s "
	    "(journal %s, read directly: not recorded in its event log)", (long)getuid(), idt, t,
	    dir);
	closelog();
	fprintf(stderr, "cascadectl: payload access: uid %ld read the payload of packet %s at "
	    "%s (journal %s); read directly, the access could not be recorded in the journal's "
	    "event chain: logged to syslog (authpriv) only\n", (long)getuid(), idt, t, dir);
}

/* The daemon recorded the access (ctl_payload.c): say where. */
static void
say_payload_recorded(const Cascade__CtlPayload *cp)
{
	char t[40];

	fprintf(stderr, "cascadectl: payload access: uid %ld read the payload of packet %s "
	    "(leg %s) at %s; recorded in the node's event log as event %" PRIu64
	    " (payload-read, by %s)\n", (long)getuid(), cp->id, cp->leg == JLEG_DOWN ? "down" :
	    "up", iso_utc(cnow_ms(), t, sizeof(t)), cp->event_seq, cp->who);
}

static void
payload_json(json_t *o, const uint8_t *b, size_t n)
{
	if (printable_utf8(b, n))
		json_object_set_new(o, "payload_text", json_stringn((const char *)b, n));
	else {
		char *x = malloc(2 * n + 1);

		if (x == NULL)
			die(EX_FAILED, "out of memory");
		hex(b, n, x);
		json_object_set_new(o, "payload_hex", json_string(x));
		free(x);
	}
}

/*
 * The stored record of one leg as JSON, or NULL when this leg holds none.
 * The payload: given (from the daemon, which recorded the access), or with
 * direct, read here (logged to syslog only).
 */
static json_t *
record_json(struct journal *j, const uint8_t id[CID_LEN], unsigned leg,
    const Cascade__CtlPayload *given, int direct, int *payload_shown, const char *dir)
{
	static const char *const kinds[] = { "data", "notice", "cancel", "audit" };
	char idt[CID_TEXT_LEN], t[40], h[2 * CSHA256_LEN + 1];
	uint8_t sha[CSHA256_LEN];
	struct jwhere w;
	struct jkey k;
	Cascade__Packet *p = NULL;
	json_t *o, *tr;
	unsigned i, waiting = 0;
	size_t n;

	memcpy(k.id, id, CID_LEN);
	k.leg = (uint8_t)leg;
	if (journal_packet_where(j, &k, &w) != 0)
		return NULL;
	o = json_object();
	json_object_set_new(o, "leg", json_string(leg_name(leg)));
	json_object_set_new(o, "accepted", json_string(iso_utc(w.accepted_ms, t, sizeof(t))));
	json_object_set_new(o, "accepted_ms", json_integer(w.accepted_ms));
	json_object_set_new(o, "deadline", json_string(w.deadline_ms > 0 ?
	    iso_utc(w.deadline_ms, t, sizeof(t)) : ""));
	for (i = 0; i < w.nq; i++)
		waiting += w.waiting[i] != 0;
	json_object_set_new(o, "queues", json_integer(w.nq));
	json_object_set_new(o, "waiting", json_integer(waiting));
	json_object_set_new(o, "body", json_boolean(w.body != NULL));
	if (w.body != NULL)
		p = cpkt_decode(w.body, w.bodylen);
	if (p != NULL) {
		json_object_set_new(o, "src", json_string(p->src ? p->src : ""));
		json_object_set_new(o, "dst", json_string(p->dst ? p->dst : ""));
		json_object_set_new(o, "command", json_string(p->command ? p->command : ""));
		json_object_set_new(o, "kind", json_string(p->kind < 4 ? kinds[p->kind] : "?"));
		json_object_set_new(o, "flags", flags_json(p->flags));
		json_object_set_new(o, "ttl_ms", json_integer(p->ttl_ms));
		json_object_set_new(o, "reply_to", json_string(p->reply_to.len == CID_LEN ?
		    cid_format(p->reply_to.data, idt) : ""));
		json_object_set_new(o, "ref", json_string(p->ref_id.len == CID_LEN ?
		    cid_format(p->ref_id.data, idt) : ""));
		json_object_set_new(o, "notice", json_string(p->notice < 8 ?
		    notice_names[p->notice] : "?"));
		if (p->orig_src != NULL && *p->orig_src)
			json_object_set_new(o, "orig_src", json_string(p->orig_src));
		if (p->text != NULL && *p->text)
			json_object_set_new(o, "text", json_string(p->text));
		tr = json_array();
		for (i = 0; i < p->n_trace; i++) {
			const Cascade__Hop *hp = p->trace[i];

			json_array_append_new(tr, json_pack("{s:s, s:s, s:s, s:I, s:I}", "node",
			    hp->node ? hp->node : "", "leg", leg_name(hp->leg), "arrived",
			    hp->arrived_ms ? iso_utc(hp->arrived_ms, t, sizeof(t)) : "",
			    "arrived_ms", (json_int_t)hp->arrived_ms, "held_ms",
			    (json_int_t)hp->held_ms));
		}
		json_object_set_new(o, "trace", tr);
	}
	/* a cancelled, expired or pruned packet keeps only the stored hash of its payload */
	if (p != NULL && !w.pruned) {
		n = p->payload.len;
		csha256(p->payload.data, n, sha);
		json_object_set_new(o, "payload_size", json_integer((json_int_t)n));
	} else {
		memcpy(sha, w.sha, CSHA256_LEN);
		json_object_set_new(o, "payload_size", json_null());
	}
	hex(sha, CSHA256_LEN, h);
	json_object_set_new(o, "payload_sha256", json_string(h));
	json_object_set_new(o, "payload_gone", json_boolean(p == NULL || w.pruned));
	if (given != NULL) {
		say_payload_recorded(given);
		*payload_shown = 1;
		payload_json(o, given->payload.data, given->payload.len);
	} else if (direct && p != NULL && !w.pruned) {
		log_payload_access(cid_format(id, idt), dir);
		*payload_shown = 1;
		payload_json(o, p->payload.data, p->payload.len);
	}
	cpkt_free(p);
	free(w.body);
	return o;
}

struct show {
	uint8_t id[CID_LEN];
	json_t *events, *related;
};

static int
show_row(const struct aq_row *r, void *arg)
{
	struct show *s = arg;
	const struct jevent *ev = r->ev;
	char idt[CID_TEXT_LEN], t[40];
	const char *rel = NULL;
	json_t *o;

	if (memcmp(ev->id, s->id, CID_LEN) != 0) {
		if (r->has_ref && memcmp(r->ref, s->id, CID_LEN) == 0)
			rel = r->kind;
		else if (r->has_reply_to && memcmp(r->reply_to, s->id, CID_LEN) == 0)
			rel = "reply";
		else
			return 0;
	}
	o = json_object();
	json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(o, "time", json_string(iso_utc(ev->time_ms, t, sizeof(t))));
	json_object_set_new(o, "time_ms", json_integer(ev->time_ms));
	json_object_set_new(o, "type", json_string(aq_type_name(ev->type)));
	json_object_set_new(o, "leg", json_string(leg_name(ev->leg)));
	json_object_set_new(o, "peer", json_string(ev->peer));
	json_object_set_new(o, "reason", json_integer(ev->reason));
	json_object_set_new(o, "reason_name", json_string(ev->reason ? creason_str(ev->reason) : ""));
	json_object_set_new(o, "text", json_string(ev->text));
	if (rel != NULL) {
		json_object_set_new(o, "relation", json_string(rel));
		json_object_set_new(o, "id", json_string(cid_format(ev->id, idt)));
		json_object_set_new(o, "kind", json_string(r->kind));
		json_object_set_new(o, "notice", json_string(r->notice < 8 ?
		    notice_names[r->notice] : "?"));
		json_object_set_new(o, "command", json_string(r->command));
		json_object_set_new(o, "src", json_string(ev->src));
		json_object_set_new(o, "dst", json_string(ev->dst));
		json_array_append_new(s->related, o);
	} else
		json_array_append_new(s->events, o);
	return 0;
}

static const char *
js(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL && *v ? v : "-";
}

static void
show_event_line(json_t *e, int related)
{
	char t[48];

	printf("  %7" JSON_INTEGER_FORMAT "  %-29s %-10s", json_integer_value(json_object_get(e,
	    "seq")), local_time(json_integer_value(json_object_get(e, "time_ms")), t, sizeof(t)),
	    js(e, "type"));
	if (related)
		printf(" %s %s %s (%s) %s -> %s", js(e, "relation"), js(e, "id"), js(e, "kind"),
		    strcmp(js(e, "kind"), "notice") == 0 ? js(e, "notice") : js(e, "command"),
		    js(e, "src"), js(e, "dst"));
	else
		printf(" leg %-4s %s", js(e, "leg"), js(e, "peer"));
	if (json_integer_value(json_object_get(e, "reason")))
		printf(" reason=%" JSON_INTEGER_FORMAT " (%s)",
		    json_integer_value(json_object_get(e, "reason")), js(e, "reason_name"));
	if (strcmp(js(e, "text"), "-") != 0)
		printf(" %s", js(e, "text"));
	putchar('\n');
}

static void
show_text(json_t *all)
{
	json_t *recs = json_object_get(all, "records"), *r, *h, *e;
	size_t i, k;
	char t[48], f[128];

	printf("packet %s\n", js(all, "id"));
	if (json_array_size(recs) == 0)
		printf("record: none at this node (its body is gone: retention)\n");
	json_array_foreach(recs, i, r) {
		printf("record (leg %s): accepted %s", js(r, "leg"), local_time(json_integer_value(
		    json_object_get(r, "accepted_ms")), t, sizeof(t)));
		printf(", waiting in %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " queues\n",
		    json_integer_value(json_object_get(r, "waiting")),
		    json_integer_value(json_object_get(r, "queues")));
		if (json_is_true(json_object_get(r, "body"))) {
			f[0] = '\0';
			json_array_foreach(json_object_get(r, "flags"), k, e) {
				if (k > 0)
					strncat(f, ",", sizeof(f) - strlen(f) - 1);
				strncat(f, json_string_value(e), sizeof(f) - strlen(f) - 1);
			}
			printf("  src %s  dst %s  command %s  kind %s  flags %s  ttl %"
			    JSON_INTEGER_FORMAT " ms\n", js(r, "src"), js(r, "dst"), js(r, "command"),
			    js(r, "kind"), *f ? f : "-",
			    json_integer_value(json_object_get(r, "ttl_ms")));
			if (strcmp(js(r, "reply_to"), "-") != 0)
				printf("  reply to %s\n", js(r, "reply_to"));
			if (strcmp(js(r, "ref"), "-") != 0)
				printf("  refers to %s (notice %s)\n", js(r, "ref"), js(r, "notice"));
			printf("  hop trace:\n");
			json_array_foreach(json_object_get(r, "trace"), k, h)
				printf("    %zu. %-22s leg %-4s arrived %s, held %" JSON_INTEGER_FORMAT
				    " ms\n", k + 1, js(h, "node"), js(h, "leg"),
				    local_time(json_integer_value(json_object_get(h, "arrived_ms")), t,
				    sizeof(t)), json_integer_value(json_object_get(h, "held_ms")));
		} else
			printf("  body: gone from the journal (pruned for disk room)\n");
		if (json_is_null(json_object_get(r, "payload_size")))
			printf("  payload: gone (cancelled, expired or pruned), sha256 %s\n",
			    js(r, "payload_sha256"));
		else
			printf("  payload: %" JSON_INTEGER_FORMAT " bytes, sha256 %s\n",
			    json_integer_value(json_object_get(r, "payload_size")),
			    js(r, "payload_sha256"));
		if (json_object_get(r, "payload_text") != NULL)
			printf("  payload (text):\n%s\n", json_string_value(json_object_get(r,
			    "payload_text")));
		else if (json_object_get(r, "payload_hex") != NULL)
			printf("  payload (hex):\n%s\n", js(r, "payload_hex"));
	}
	printf("events here:\n");
	json_array_foreach(json_object_get(all, "events"), i, e)
		show_event_line(e, 0);
	if (json_array_size(json_object_get(all, "related")) > 0) {
		printf("related packets (notices, cancels, audit copies, replies):\n");
		json_array_foreach(json_object_get(all, "related"), i, e)
			show_event_line(e, 1);
	}
}

/*
 * The payloads of packet id from the daemon on socket path, which records
 * the access first. A stopped node has no one to record it: then only
 * --journal DIR reads it (and says it could not be recorded).
 */
static Cascade__CtlReply *
payload_ask(const char *path, const char *idarg)
{
	struct stat st;

	if (stat(path, &st) == -1)
		die(EX_NOT_RUNNING, "%s: no control socket: cascaded is not running, so the payload "
		    "access cannot be recorded in its journal; for a stopped node's journal give "
		    "--journal DIR (the access then goes to syslog only)", path);
	return ask(path, CASCADE__CTL_COMMAND__CTL_PAYLOAD, idarg);
}

/*
 * Whether a cascaded listens on control socket path: an nng dial (a bare
 * connect() that hangs up before nng's handshake held up the daemon's
 * answers for seconds).
 */
static int
socket_alive(const char *path)
{
	struct stat st;
	nng_socket s;
	char url[1100];
	int ok;

	if (stat(path, &st) == -1 || !S_ISSOCK(st.st_mode) || nng_req0_open(&s) != 0)
		return 0;
	snprintf(url, sizeof(url), "ipc://%s", path);
	ok = nng_dial(s, url, NULL, 0) == 0;
	nng_close(s);
	return ok;
}

/*
 * Where --payload asks for the payload: -s, else the config's socket; with
 * --journal DIR, -s, else the default socket beside that journal
 * (data-dir/control.sock) when its node runs, else nobody (NULL: read
 * directly, unrecorded). A running node always gets to record the access.
 */
static char *
payload_socket(const char *sock, const char *conffile, const char *given, const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char *probe;

	if (sock != NULL)
		return strdup(sock);
	if (given == NULL)
		return socket_from_config(conffile);
	if (asprintf(&probe, "%.*s/control.sock", slash != NULL ? (int)(slash - dir) : 1,
	    slash != NULL ? dir : ".") < 0)
		die(EX_FAILED, "out of memory");
	if (socket_alive(probe)) {
		fprintf(stderr, "cascadectl: %s: the node of this journal runs: the payload comes "
		    "from it, which records the access\n", probe);
		return probe;
	}
	free(probe);
	return NULL;
}

/* audit show ID: exit 0 found, 1 not found. sock: where to ask for the payload (NULL: none). */
static int
show(struct journal *j, const char *idarg, int with_payload, const char *sock, const char *dir)
{
	Cascade__CtlReply *prep = NULL;
	const Cascade__CtlPayload *given[2] = { NULL, NULL };
	struct aq_filter f;
	struct show s;
	json_t *all, *recs, *r;
	char idt[CID_TEXT_LEN], err[512];
	int shown = 0;
	unsigned leg;
	size_t i;

	if (cid_parse(idarg, s.id) != 0)
		die(EX_USAGE, "audit show %s: not a packet id (32 hex digits)", idarg);
	/* first: the scan below then lists this access among the events */
	if (with_payload && sock != NULL) {
		prep = payload_ask(sock, idarg);
		for (i = 0; i < prep->n_payloads; i++)
			if (prep->payloads[i]->leg <= JLEG_DOWN)
				given[prep->payloads[i]->leg] = prep->payloads[i];
	}
	s.events = json_array();
	s.related = json_array();
	recs = json_array();
	for (leg = JLEG_UP; leg <= JLEG_DOWN; leg++)
		if ((r = record_json(j, s.id, leg, given[leg], with_payload && sock == NULL, &shown,
		    dir)) != NULL)
			json_array_append_new(recs, r);
	if (prep != NULL)
		cascade__ctl_reply__free_unpacked(prep, NULL);
	memset(&f, 0, sizeof(f));
	if (aq_scan(j, &f, show_row, &s) != 0) {
		snprintf(err, sizeof(err), "%s", journal_errmsg(j));
		die(EX_FAILED, "%s: %s", dir, err);
	}
	if (json_array_size(recs) == 0 && json_array_size(s.events) == 0) {
		json_decref(recs);
		json_decref(s.events);
		json_decref(s.related);
		die(EX_FAILED, "audit show %s: not found: no record and no event of this packet "
		    "in %s", cid_format(s.id, idt), dir);
	}
	if (with_payload && !shown)
		fprintf(stderr, "cascadectl: %s: the payload is no longer in the journal\n",
		    cid_format(s.id, idt));
	all = json_pack("{s:s, s:o, s:o, s:o}", "id", cid_format(s.id, idt), "records", recs,
	    "events", s.events, "related", s.related);
	if (json)
		json_print(all);
	else {
		show_text(all);
		json_decref(all);
	}
	return EX_OK;
}

static const char audit_usage_text[] =
    "usage: cascadectl audit [export] [--journal DIR] [--since T] "
    "[--until T] [--src ADDR] [--dst ADDR] [--command C] [--type TYPE] [--id ID] "
    "[--limit N] [--scan] [--json] [--format jsonl|csv]\n"
    "       cascadectl audit verify [--since T] [--anchor HASH] [--journal DIR] [--json]\n"
    "       cascadectl audit anchor [--json]\n"
    "       cascadectl audit show ID [--journal DIR] [--payload] [--json]; "
    "see cascadectl(8), AUDIT";

static void
audit_usage(void)
{
	die(EX_USAGE, "%s", audit_usage_text);
}

int
audit_run(const char *conffile, const char *sock, int argc, char **argv)
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
		{ "payload", no_argument, NULL, 'P' },
		{ "scan", no_argument, NULL, 'X' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *given = NULL, *sub = NULL, *format = NULL;
	struct aq_filter f;
	struct journal_opts jo;
	struct journal *j;
	struct out o;
	char err[512], *dir, *end;
	int ch, rc, since = 0, payload = 0, mode = AQ_AUTO, has_anchor = 0;
	uint8_t anchor_hash[CSHA256_LEN];

	memset(&f, 0, sizeof(f));
	if (argc > 1 && (strcmp(argv[1], "verify") == 0 || strcmp(argv[1], "export") == 0 ||
	    strcmp(argv[1], "show") == 0 || strcmp(argv[1], "anchor") == 0)) {
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
		case 'P': payload = 1; break;
		case 'X': mode = AQ_SCAN; break;
		case 'a': anchor_opt(optarg, anchor_hash); has_anchor = 1; break;
		case 'h':
			printf("%s\n", audit_usage_text);
			exit(EX_OK);
		case 't':
			if ((f.type = aq_type_parse(optarg)) == 0)
				die(EX_USAGE, "--type %s: not an event type (accepted, forwarded, "
				    "delivered, rejected, expired, cancelled, replayed, duplicate, "
				    "body-pruned, config-loaded, started, stopped, note, "
				    "payload-read, anchor)", optarg);
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
	if (sub != NULL && strcmp(sub, "show") == 0) {
		if (optind != argc - 1 || since || f.until_ms || f.src || f.dst || f.command ||
		    f.type || f.has_id || f.limit || format != NULL)
			die(EX_USAGE, "usage: cascadectl audit show ID [--journal DIR] [--payload] "
			    "[--json] (no filters)");
	} else if (payload)
		die(EX_USAGE, "--payload is for audit show ID");
	else if (optind != argc)
		audit_usage();
	if (f.since_ms && f.until_ms && f.since_ms >= f.until_ms)
		die(EX_USAGE, "--since is not before --until: no event can match");
	/* verify walks the chain (from --since on): a filter would only look like it applied */
	if (sub != NULL && strcmp(sub, "verify") == 0 && (f.until_ms || f.src || f.dst ||
	    f.command || f.type || f.has_id || f.limit || format != NULL || mode != AQ_AUTO))
		die(EX_USAGE, "audit verify takes only --since T and --anchor HASH: it walks the "
		    "chain to its head");
	if (has_anchor && (sub == NULL || strcmp(sub, "verify") != 0))
		die(EX_USAGE, "--anchor is for audit verify");
	if (sub != NULL && strcmp(sub, "anchor") == 0) {
		if (optind != argc || since || f.until_ms || f.src || f.dst || f.command || f.type ||
		    f.has_id || f.limit || format != NULL || given != NULL || mode != AQ_AUTO)
			die(EX_USAGE, "usage: cascadectl audit anchor (the daemon writes it: no "
			    "options)");
		return anchor(conffile, sock);
	}
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
	if (sub != NULL && strcmp(sub, "show") == 0) {
		char *path = NULL;

		/* the payload through the daemon, which records the access; a stopped node's: directly */
		if (payload)
			path = payload_socket(sock, conffile, given, dir);
		rc = show(j, argv[optind], payload, path, dir);
		free(path);
		journal_close(j);
		free(dir);
		return rc;
	}
	if (sub != NULL && strcmp(sub, "verify") == 0) {
		rc = verify(j, f.since_ms, has_anchor ? anchor_hash : NULL);
		journal_close(j);
		free(dir);
		return rc;
	}
	if (o.fmt == OUT_CSV)
		fputs(csv_header, stdout);
	else if (o.fmt == OUT_TABLE)
		printf("%7s  %-29s %-10s %-33s %-22s %-22s %-14s %s\n", "SEQ", "TIME", "TYPE", "ID",
		    "SRC", "DST", "COMMAND", "PEER / DETAIL");
	if (mode == AQ_AUTO && journal_has_index(j) && !journal_indexed(j) && (since ||
	    f.until_ms || f.src || f.dst || f.command || f.has_id))
		fprintf(stderr, "cascadectl: %s: the event indexes lack the latest events "
		    "(written with audit-index no or by an older cascaded; cascaded completes them "
		    "at its next start with audit-index yes): reading the whole log\n", dir);
	rc = aq_scan_mode(j, &f, mode, print_row, &o);
	if (rc != 0) {
		snprintf(err, sizeof(err), "%s", journal_errmsg(j));
		journal_close(j);
		die(EX_FAILED, "%s: %s", dir, err);
	}
	if (sub != NULL) {      /* export: what lets the export itself be checked */
		char a[2 * CSHA256_LEN + 1], b[2 * CSHA256_LEN + 1];

		hex(o.first_hash, CSHA256_LEN, a);
		hex(o.last_hash, CSHA256_LEN, b);
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
