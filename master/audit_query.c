/*
 * audit_query.c — time parsing, filters and the event-log queries behind
 * `cascadectl audit` (see audit_query.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_query.h"

static const char *const type_names[] = { "?", "accepted", "forwarded", "delivered",
    "rejected", "expired", "cancelled", "replayed", "duplicate", "body-pruned",
    "config-loaded", "started", "stopped", "note", "payload-read", "anchor" };
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *
aq_type_name(uint32_t t)
{
	return t < NTYPES ? type_names[t] : "?";
}

uint32_t
aq_type_parse(const char *name)
{
	uint32_t t;

	for (t = 1; t < NTYPES; t++)
		if (strcmp(name, type_names[t]) == 0)
			return t;
	return 0;
}

/* Local midnight of the day now_ms falls in, minus days. */
static int64_t
midnight(int64_t now_ms, int days)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	tm.tm_mday -= days;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * 1000;
}

int
aq_parse_time(const char *s, int64_t now_ms, int64_t *out, char *err, size_t errlen)
{
	struct tm tm;
	char *end;
	int n = 0, utc = 0;

	if (strcmp(s, "now") == 0) {
		*out = now_ms;
		return 0;
	}
	if (strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0) {
		*out = midnight(now_ms, s[0] == 'y');
		return 0;
	}
	if (s[0] == '-' && isdigit((unsigned char)s[1])) {
		long long v = strtoll(s + 1, &end, 10);
		int64_t unit = 0;

		if (strcmp(end, "s") == 0)
			unit = 1000;
		else if (strcmp(end, "m") == 0)
			unit = 60 * 1000;
		else if (strcmp(end, "h") == 0)
			unit = 3600 * 1000;
		else if (strcmp(end, "d") == 0)
			unit = 86400 * 1000;
		if (unit != 0 && v <= 100LL * 366 * 86400) {
			*out = now_ms - (int64_t)v * unit;
			return 0;
		}
	} else {
		memset(&tm, 0, sizeof(tm));
		/* YYYY-MM-DD, then optionally THH:MM, :SS, Z (a space for T too) */
		if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) == 3 &&
		    n == 10) {
			const char *p = s + n;
			int m = 0;

			if ((*p == 'T' || *p == ' ') &&
			    sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &m) == 2 && m == 5) {
				p += 1 + m;
				if (*p == ':' && sscanf(p + 1, "%2d%n", &tm.tm_sec, &m) == 1 && m == 2)
					p += 3;
			}
			if (*p == 'Z') {
				utc = 1;
				p++;
			}
			if (*p == '\0' && tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 &&
			    tm.tm_mday <= 31 && tm.tm_hour < 24 && tm.tm_min < 60 && tm.tm_sec < 61) {
				tm.tm_year -= 1900;
				tm.tm_mon -= 1;
				tm.tm_isdst = -1;
				*out = (int64_t)(utc ? timegm(&tm) : mktime(&tm)) * 1000;
				return 0;
			}
		}
	}
	snprintf(err, errlen, "%s: not a time: give ISO 8601 (2026-12-03T10:00, a trailing Z "
	    "for UTC), -30m, -1h, -2d, today or yesterday", s);
	return -1;
}

int
aq_addr_match(const char *want, const char *addr)
{
	size_t n = strlen(want);

	if (strchr(want, '/') != NULL)
		return strcmp(want, addr) == 0;
	return strncmp(want, addr, n) == 0 && (addr[n] == '\0' || addr[n] == '/');
}

struct scan {
	struct journal *j;
	const struct aq_filter *f;
	int (*fn)(const struct aq_row *, void *);
	void *arg;
	uint64_t n;
};

static int
scan_one(const struct jevent *ev, void *arg)
{
	static const uint8_t zero[CID_LEN];
	static const char *kinds[] = { "data", "notice", "cancel", "audit" };
	struct scan *s = arg;
	const struct aq_filter *f = s->f;
	Cascade__Packet *p = NULL;
	struct aq_row r;
	int rc;

	if ((f->since_ms && ev->time_ms < f->since_ms) || (f->until_ms && ev->time_ms >= f->until_ms))
		return 0;
	if (f->type && ev->type != f->type)
		return 0;
	if ((f->src && !aq_addr_match(f->src, ev->src)) || (f->dst && !aq_addr_match(f->dst, ev->dst)))
		return 0;
	memset(&r, 0, sizeof(r));
	r.ev = ev;
	r.command = r.kind = "";
	if (memcmp(ev->id, zero, CID_LEN) != 0) {
		struct jkey k;
		uint8_t *bytes;
		size_t len;
		int64_t at;

		memcpy(k.id, ev->id, CID_LEN);
		k.leg = ev->leg;
		if (journal_packet_get(s->j, &k, &bytes, &len, &at) == 0) {
			p = cpkt_decode(bytes, len);
			free(bytes);
		}
	}
	if (p != NULL) {
		r.command = p->command != NULL ? p->command : "";
		r.kind = p->kind < 4 ? kinds[p->kind] : "?";
		if (p->ref_id.len == CID_LEN) {
			r.has_ref = 1;
			memcpy(r.ref, p->ref_id.data, CID_LEN);
		}
		if (p->reply_to.len == CID_LEN) {
			r.has_reply_to = 1;
			memcpy(r.reply_to, p->reply_to.data, CID_LEN);
		}
		r.notice = p->notice;
	}
	/* --id: the packet itself, and notices, cancels and audit copies about it */
	if ((f->has_id && memcmp(ev->id, f->id, CID_LEN) != 0 &&
	    (!r.has_ref || memcmp(r.ref, f->id, CID_LEN) != 0)) ||
	    (f->command && strcmp(f->command, r.command) != 0)) {
		cpkt_free(p);
		return 0;
	}
	rc = s->fn(&r, s->arg);
	cpkt_free(p);
	if (rc != 0)
		return rc;
	return f->limit && ++s->n >= f->limit;
}

/*
 * The index a filter narrows best: the packet id (a handful of events),
 * then an address or the command, each bounded by the time window; the
 * window alone when nothing else is indexed. --type has no index.
 */
void
aq_where(const struct aq_filter *f, struct jev_where *w)
{
	memset(w, 0, sizeof(*w));
	w->since_ms = f->since_ms;
	w->until_ms = f->until_ms;
	if (f->has_id) {
		w->field = JIX_ID;
		w->val = f->id;
		w->vlen = CID_LEN;
	} else if (f->src != NULL || f->dst != NULL) {
		const char *a = f->src != NULL ? f->src : f->dst;

		w->field = f->src != NULL ? JIX_SRC : JIX_DST;
		w->val = a;
		w->vlen = strlen(a);
		w->with_clients = strchr(a, '/') == NULL;
	} else if (f->command != NULL) {
		w->field = JIX_COMMAND;
		w->val = f->command;
		w->vlen = strlen(f->command);
	}
}

int
aq_scan_mode(struct journal *j, const struct aq_filter *f, int mode,
    int (*fn)(const struct aq_row *, void *), void *arg)
{
	struct scan s = { j, f, fn, arg, 0 };
	struct jev_where w;
	int rc;

	if (mode != AQ_SCAN) {
		/* the indexes only choose which events to look at: scan_one decides */
		aq_where(f, &w);
		rc = journal_events_where(j, &w, scan_one, &s);
		if (rc != JOURNAL_NO_INDEX || mode == AQ_INDEX)
			return rc;
	}
	return journal_events(j, 1, scan_one, &s);
}

int
aq_scan(struct journal *j, const struct aq_filter *f,
    int (*fn)(const struct aq_row *, void *), void *arg)
{
	return aq_scan_mode(j, f, AQ_AUTO, fn, arg);
}
