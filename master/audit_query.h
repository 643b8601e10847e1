/*
 * audit_query.h — the event-log queries of `cascadectl audit`: time
 * parsing, filters, and the query itself, which narrows the events it reads
 * with the journal's indexes (node/evindex.c) when the filter allows and
 * reads the whole log otherwise. Both ways give the same answer: the
 * indexes only pick candidates, every filter is applied to each.
 */
#ifndef CASCADE_AUDIT_QUERY_H
#define CASCADE_AUDIT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

/*
 * A time for --since/--until, in ms since the epoch: ISO 8601 local time
 * "2026-12-03", "2026-12-03T10:00", "2026-12-03T10:00:30", with a trailing
 * "Z" UTC; relative to now "-1h", "-30m", "-45s", "-2d"; "now", "today",
 * "yesterday" (local midnight). Returns 0, or -1 with a message in err.
 */
int aq_parse_time(const char *s, int64_t now_ms, int64_t *out_ms, char *err, size_t errlen);

/* The event type's name ("accepted", ...) and back (0 when unknown). */
const char *aq_type_name(uint32_t type);
uint32_t aq_type_parse(const char *name);

/* ADDR "node" matches the node and all its clients; "node/client" exactly. */
int aq_addr_match(const char *want, const char *addr);

struct aq_filter {
	int64_t since_ms, until_ms;     /* [since, until); 0 = open */
	const char *src, *dst;          /* aq_addr_match, NULL = any */
	const char *command;            /* exact, NULL = any */
	uint32_t type;                  /* jev_type, 0 = any */
	int has_id;
	uint8_t id[CID_LEN];            /* the packet and packets referring to it */
	uint64_t limit;                 /* 0 = no limit */
};

/* One matching event with what the packet record adds (when still journaled). */
struct aq_row {
	const struct jevent *ev;
	const char *command;            /* "" when the body is gone */
	const char *kind;               /* data, notice, cancel, audit, or "" */
	int has_ref;
	uint8_t ref[CID_LEN];
	int has_reply_to;               /* a reply: the packet it answers */
	uint8_t reply_to[CID_LEN];
	uint32_t notice;                /* NoticeCode of a notice, else 0 */
};

/*
 * Calls fn, in log order, for each event of j that f matches (at most
 * f->limit); fn returning non-zero stops. Uses the indexes when the journal
 * has complete ones and f has a time window, an id, an address or a
 * command; else reads the whole log. Returns 0 or the journal's error
 * (journal_errmsg); with AQ_INDEX, JOURNAL_NO_INDEX when it cannot.
 */
int aq_scan(struct journal *j, const struct aq_filter *f,
    int (*fn)(const struct aq_row *, void *), void *arg);

/* aq_scan's choice made by the caller (tests, the benchmark). */
enum { AQ_AUTO, AQ_SCAN, AQ_INDEX };
int aq_scan_mode(struct journal *j, const struct aq_filter *f, int mode,
    int (*fn)(const struct aq_row *, void *), void *arg);

/* The index query for f (what aq_scan narrows with). */
void aq_where(const struct aq_filter *f, struct jev_where *w);

#endif
