/*
 * audit_sink.c — audit-sink postgresql://... (cascade.conf(5)): streams the
 * event log, every record in chain order, into the PostgreSQL table
 * cascade_events, on a thread of its own with its own blocking libpq
 * connection.
 *
 * - What is confirmed lives in the database: max(pos) of this node's rows,
 *   read at every connect, so a restart of cascaded or of the database
 *   resumes right after the last committed batch. (node, pos) is the
 *   primary key, so no position is ever stored twice: a batch that tried
 *   would fail whole, and the sink would reconnect and read max(pos) again.
 * - A batch is one COPY, which is one transaction: all of it or none.
 * - It never holds up custody: it only reads the journal, one short read
 *   transaction per batch with no nested reads (so map growth never waits
 *   long for it), and nothing waits for it. While the database is away it
 *   lags; the lag is in cascadectl status and the metrics. Its connection
 *   is non-blocking (as_wait): a hung server is an outage after AS_IO_MS,
 *   and stopping cascaded never waits for the server.
 * - Before resuming it checks that the table's last row has the hash the
 *   journal has at that position: a table fed from another chain (a journal
 *   made again under the same node id) is refused, never extended.
 * - Retention prunes packet bodies, never event records, so nothing the
 *   sink has yet to send can be pruned under it. A hole in the positions
 *   (a record deleted from the journal: `cascadectl audit verify` reports
 *   it) is logged loudly, counted, and left as a hole in the table too.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "audit_query.h"
#include "cascaded.h"

#define AS_BATCH_ROWS      4000         /* records in one COPY, at most */
#define AS_BATCH_BYTES     (4u << 20)   /* and about this many bytes */
#define AS_POLL_MS         100          /* a look at the log when caught up */
#define AS_BACKOFF_MIN_MS  500
#define AS_BACKOFF_MAX_MS  30000
#define AS_CONNECT_MS      10000        /* a connect, at most */
#define AS_IO_MS           60000        /* no progress from the server that long: an outage */

static const char as_schema[] =
    "CREATE TABLE IF NOT EXISTS cascade_events ("
    " node text NOT NULL,"
    " pos bigint NOT NULL,"
    " hash bytea NOT NULL,"
    " record bytea NOT NULL,"
    " time timestamptz NOT NULL,"
    " type text NOT NULL,"
    " id text,"
    " leg smallint NOT NULL,"
    " src text NOT NULL,"
    " dst text NOT NULL,"
    " peer text NOT NULL,"
    " reason integer NOT NULL,"
    " text text NOT NULL,"
    " trace text[] NOT NULL,"
    " payload_sha bytea NOT NULL,"
    " PRIMARY KEY (node, pos));"
    "CREATE INDEX IF NOT EXISTS cascade_events_time ON cascade_events (time);";

static const char as_copy[] =
    "COPY cascade_events (node, pos, hash, record, time, type, id, leg, src, dst, peer, "
    "reason, text, trace, payload_sha) FROM STDIN (FORMAT binary)";

/* One COPY's worth of rows, in COPY's binary format. Sink thread only. */
struct batch {
	char *buf;
	size_t len, cap;
	unsigned n;
	uint64_t expect;                /* the position the next record should have */
	uint64_t last;
	uint64_t gap_from, gap_to;      /* a hole met: [from, to) missing */
	int64_t first_ms;
};

static struct {
	pthread_t thread;
	int running;
	char *url;
	int stopfd[2];                  /* audit_sink_stop writes: every wait ends */
	pthread_mutex_t mu;
	/* under mu */
	int stop;
	char where[256];                /* user@host:port/db */
	char error[512];                /* "" while streaming */
	uint64_t confirmed;             /* max(pos) committed in the table */
	uint64_t records, outages, gaps;
	uint64_t first_pos;             /* the first unconfirmed record's position */
	int64_t first_ms;               /* and its time (0: not known) */
} as = { .stopfd = { -1, -1 }, .mu = PTHREAD_MUTEX_INITIALIZER };

/* ------------------------------------------------------------ COPY binary */

/*
 * PostgreSQL's binary COPY format: a header, then per row a field count and
 * per field its length (-1: NULL) and bytes in the type's binary form, all
 * integers big-endian; -1 as the field count ends it. Cheaper for the
 * server than text (no hex to decode, no timestamps to parse), which is the
 * side that limits the sink.
 */
static const uint8_t copy_header[19] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n',
    0, 0, 0, 0, 0, 0, 0, 0, 0 };        /* signature, flags 0, no extension */
#define PG_EPOCH_MS   946684800000LL    /* 2000-01-01 UTC, the timestamps' zero */
#define TEXT_OID      25
#define NFIELDS       15

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint8_t *
b_reserve(struct batch *b, size_t n)
{
	if (b->len + n > b->cap) {
		while (b->len + n > b->cap)
			b->cap = b->cap ? b->cap * 2 : 1 << 16;
		b->buf = xrealloc(b->buf, b->cap);
	}
	return (uint8_t *)b->buf + b->len;
}

static void
b_u16(struct batch *b, uint16_t v)
{
	uint8_t *p = b_reserve(b, 2);

	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	b->len += 2;
}

static void
b_u32(struct batch *b, uint32_t v)
{
	wr32(b_reserve(b, 4), v);
	b->len += 4;
}

static void
b_u64(struct batch *b, uint64_t v)
{
	uint8_t *p = b_reserve(b, 8);

	wr32(p, (uint32_t)(v >> 32));
	wr32(p + 4, (uint32_t)v);
	b->len += 8;
}

/* One field of n bytes. */
static void
b_field(struct batch *b, const void *p, size_t n)
{
	b_u32(b, (uint32_t)n);
	memcpy(b_reserve(b, n), p, n);
	b->len += n;
}

/* Bytes of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4;
	else
		return 0;
	if (n < k)
		return 0;
	for (i = 1; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return k;
}

/*
 * A text field. The server refuses a COPY holding invalid UTF-8, which would
 * stop the sink at that record for good: such bytes become '?' here (the
 * record column keeps the exact bytes, so the copy still verifies).
 */
static void
b_str(struct batch *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i, k, at;
	uint8_t *o;

	for (i = 0; i < n; i += k)
		if ((k = utf8_len(p + i, n - i)) == 0)
			break;
	if (i == n) {
		b_field(b, s, n);
		return;
	}
	b_u32(b, (uint32_t)n);          /* the same length: one '?' per bad byte */
	at = b->len;
	o = b_reserve(b, n);
	memcpy(o, s, n);
	for (; i < n; i += k)
		if ((k = utf8_len(p + i, n - i)) == 0) {
			o[i] = '?';
			k = 1;
		}
	b->len = at + n;
}

/* The hop trace as a one-dimensional text[] (no dimension when empty). */
static void
b_trace(struct batch *b, const struct jevent *ev)
{
	size_t at = b->len, n;
	unsigned i;

	b_u32(b, 0);                    /* the field's length, filled in below */
	b_u32(b, ev->ntrace > 0);       /* dimensions */
	b_u32(b, 0);                    /* no NULLs */
	b_u32(b, TEXT_OID);
	if (ev->ntrace > 0) {
		b_u32(b, ev->ntrace);
		b_u32(b, 1);            /* lower bound */
	}
	for (i = 0; i < ev->ntrace; i++)
		b_str(b, ev->trace[i]);
	n = b->len - at - 4;
	wr32((uint8_t *)b->buf + at, (uint32_t)n);
}

static int
has_id(const struct jevent *ev)
{
	static const uint8_t zero[CID_LEN];

	return memcmp(ev->id, zero, CID_LEN) != 0;
}

/* journal_events callback: one record as one COPY row; 1 when the batch is full. */
static int
b_row(const struct jevent *ev, void *arg)
{
	struct batch *b = arg;
	char idt[CID_TEXT_LEN];

	if (ev->seq != b->expect && b->gap_to == 0) {
		b->gap_from = b->expect;
		b->gap_to = ev->seq;
	}
	b->expect = ev->seq + 1;
	if (b->len == 0) {
		memcpy(b_reserve(b, sizeof(copy_header)), copy_header, sizeof(copy_header));
		b->len += sizeof(copy_header);
	}
	b_u16(b, NFIELDS);
	b_str(b, node->id);
	b_u32(b, 8);
	b_u64(b, ev->seq);
	b_field(b, ev->hash, CSHA256_LEN);
	b_field(b, ev->rec, ev->reclen);
	b_u32(b, 8);                    /* microseconds since 2000-01-01 UTC */
	b_u64(b, (uint64_t)((ev->time_ms - PG_EPOCH_MS) * 1000));
	b_str(b, aq_type_name(ev->type));
	if (has_id(ev))
		b_str(b, cid_format(ev->id, idt));
	else
		b_u32(b, UINT32_MAX);   /* -1: NULL */
	b_u32(b, 2);
	b_u16(b, ev->leg);
	b_str(b, ev->src);
	b_str(b, ev->dst);
	b_str(b, ev->peer);
	b_u32(b, 4);
	b_u32(b, ev->reason);
	b_str(b, ev->text);
	b_trace(b, ev);
	b_field(b, ev->payload_sha, CSHA256_LEN);
	if (b->n++ == 0)
		b->first_ms = ev->time_ms;
	b->last = ev->seq;
	return b->n >= AS_BATCH_ROWS || b->len >= AS_BATCH_BYTES;
}

/* Ends the COPY data of a batch b_row filled. */
static void
b_end(struct batch *b)
{
	b_u16(b, UINT16_MAX);           /* -1: no more rows */
}

/* ------------------------------------------------------------ the thread */

/* Sleeps ms, or less when stopped. Returns 1 when stopping. */
static int
as_sleep(int64_t ms)
{
	struct pollfd p = { as.stopfd[0], POLLIN, 0 };

	while (poll(&p, 1, (int)ms) < 0 && errno == EINTR)
		;
	return p.revents != 0;
}

static int
as_stopping(void)
{
	int stop;

	pthread_mutex_lock(&as.mu);
	stop = as.stop;
	pthread_mutex_unlock(&as.mu);
	return stop;
}

/* libpq's message, one line (it ends with a newline, may hold more lines). */
static const char *
pg_err(const char *msg, char *buf, size_t len)
{
	const char *s = msg != NULL && *msg ? msg : "no message from libpq";
	size_t o = 0;

	/* newlines and tabs become one space each run */
	for (; *s && o + 1 < len; s++) {
		if (*s == '\n' || *s == '\t' || *s == '\r') {
			if (o > 0 && buf[o - 1] != ' ')
				buf[o++] = ' ';
		} else
			buf[o++] = *s;
	}
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
	return buf;
}

struct conn {
	PGconn *pg;
	int outage;                     /* down since outage_ms, logged once */
	int64_t outage_ms;
	int ever_up;
};

static void
as_close(struct conn *c)
{
	if (c->pg != NULL)
		PQfinish(c->pg);
	c->pg = NULL;
}

/* The sink is down (or refuses): why, in status; in the log once per outage. */
static void
as_down(struct conn *c, const char *what, const char *why, const char *todo)
{
	char where[256];

	pthread_mutex_lock(&as.mu);
	snprintf(as.error, sizeof(as.error), "%s: %s", what, why);
	snprintf(where, sizeof(where), "%s", as.where);
	if (!c->outage)
		as.outages++;
	pthread_mutex_unlock(&as.mu);
	if (!c->outage)
		log_warnx("audit-sink %s: %s: %s; the sink lags (cascadectl status) while custody "
		    "goes on, and retries every %d s at most: %s", where, what, why,
		    AS_BACKOFF_MAX_MS / 1000, todo);
	if (!c->outage) {
		c->outage = 1;
		c->outage_ms = cnow_ms();
	}
	as_close(c);
}

/*
 * The connection is non-blocking and every wait goes through here, so a
 * server that hangs (or a network that drops everything) ends in an outage
 * after AS_IO_MS, and audit_sink_stop ends any wait at once.
 * Waits for the server's socket or the stop pipe: 0 ready, -1 with err.
 */
static int
as_wait(struct conn *c, int rd, int wr, int ms, char *err, size_t len)
{
	struct pollfd p[2];
	int rc;

	p[0].fd = PQsocket(c->pg);
	p[0].events = (short)((rd ? POLLIN : 0) | (wr ? POLLOUT : 0));
	p[0].revents = 0;
	p[1].fd = as.stopfd[0];
	p[1].events = POLLIN;
	p[1].revents = 0;
	while ((rc = poll(p, 2, ms)) < 0 && errno == EINTR)
		;
	if (p[1].revents != 0)
		snprintf(err, len, "stopping");
	else if (rc == 0)
		snprintf(err, len, "no answer from the server in %d s (hung, or a network "
		    "that drops everything?)", ms / 1000);
	else if (rc < 0)
		snprintf(err, len, "poll: %s", strerror(errno));
	else
		return 0;
	return -1;
}

/* Sends what libpq holds for the server. */
static int
as_flush(struct conn *c, char *err, size_t len)
{
	int rc;

	while ((rc = PQflush(c->pg)) == 1) {
		/* the server may be writing to us meanwhile: read too */
		if (as_wait(c, 1, 1, AS_IO_MS, err, len) != 0)
			return -1;
		if (!PQconsumeInput(c->pg))
			break;
	}
	if (rc != 0) {
		pg_err(PQerrorMessage(c->pg), err, len);
		return -1;
	}
	return 0;
}

/* The next result of the command in flight (*r NULL at its end). */
static int
as_result(struct conn *c, PGresult **r, char *err, size_t len)
{
	*r = NULL;
	while (PQisBusy(c->pg)) {
		if (as_wait(c, 1, 0, AS_IO_MS, err, len) != 0)
			return -1;
		if (!PQconsumeInput(c->pg)) {
			pg_err(PQerrorMessage(c->pg), err, len);
			return -1;
		}
	}
	*r = PQgetResult(c->pg);
	return 0;
}

/* A command sent: its first result (NULL with err on failure), the rest drained. */
static PGresult *
as_reply(struct conn *c, int sent, char *err, size_t len)
{
	PGresult *r, *more;

	if (!sent) {
		pg_err(PQerrorMessage(c->pg), err, len);
		return NULL;
	}
	if (as_flush(c, err, len) != 0 || as_result(c, &r, err, len) != 0)
		return NULL;
	for (;;) {
		if (as_result(c, &more, err, len) != 0) {
			PQclear(r);
			return NULL;
		}
		if (more == NULL)
			break;
		PQclear(more);
	}
	if (r == NULL)
		pg_err(PQerrorMessage(c->pg), err, len);
	return r;
}

/* libpq's message for a failed result r (NULL: the connection's). */
static const char *
res_err(struct conn *c, const PGresult *r, char *err, size_t len)
{
	const char *m = r != NULL ? PQresultErrorMessage(r) : "";

	return pg_err(*m ? m : PQerrorMessage(c->pg), err, len);
}

/* CREATE TABLE ... and the other statements of as_schema; 0 or -1. */
static int
as_exec(struct conn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = as_reply(c, PQsendQuery(c->pg, sql), err, errlen);
	int ok = r != NULL && (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK);

	if (r != NULL && !ok)
		res_err(c, r, err, errlen);
	PQclear(r);
	return ok ? 0 : -1;
}

struct found {
	uint64_t seq;
	uint8_t hash[CSHA256_LEN];
};

static int
found_one(const struct jevent *ev, void *arg)
{
	struct found *f = arg;

	f->seq = ev->seq;
	memcpy(f->hash, ev->hash, CSHA256_LEN);
	return 1;
}

/* The node's last row in the table, checked against the journal; sets as.confirmed. */
static int
as_resume(struct conn *c)
{
	const char *params[1] = { node->id };
	char err[512];
	struct found f = { 0, { 0 } };
	uint64_t pos = 0;
	PGresult *r;

	/* binary results: pos as 8 bytes big-endian, hash as its 32 bytes */
	r = as_reply(c, PQsendQueryParams(c->pg, "SELECT pos, hash FROM cascade_events "
	    "WHERE node = $1 ORDER BY pos DESC LIMIT 1", 1, NULL, params, NULL, NULL, 1),
	    err, sizeof(err));
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (r != NULL)
			res_err(c, r, err, sizeof(err));
		if (!as_stopping())
			as_down(c, "reading the last position in cascade_events", err,
			    "check that this URL's user may read and write cascade_events");
		else
			as_close(c);
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) == 1) {
		const uint8_t *pv = (const uint8_t *)PQgetvalue(r, 0, 0);
		unsigned i;

		for (i = 0; i < 8 && PQgetlength(r, 0, 0) == 8; i++)
			pos = pos << 8 | pv[i];
		if (journal_events(node->j, pos, found_one, &f) != 0) {
			as_down(c, "reading the journal", journal_errmsg(node->j),
			    "see the journal's messages above");
			PQclear(r);
			return -1;
		}
		if (f.seq != pos) {
			snprintf(err, sizeof(err), "the table holds positions up to %" PRIu64 " for "
			    "node %s but this journal's event log has no record %" PRIu64, pos,
			    node->id, pos);
			as_down(c, "refusing to resume", err, "this is another journal than the one "
			    "that fed the table (made again?): move this node's rows aside, or "
			    "give audit-sink another database or schema, and restart cascaded");
			PQclear(r);
			return -1;
		}
		if (PQgetlength(r, 0, 1) != CSHA256_LEN ||
		    memcmp(PQgetvalue(r, 0, 1), f.hash, CSHA256_LEN) != 0) {
			snprintf(err, sizeof(err), "row %" PRIu64 " of node %s has another hash than "
			    "this journal's record %" PRIu64, pos, node->id, pos);
			as_down(c, "refusing to resume: the table holds another chain", err,
			    "move this node's rows aside, or give audit-sink another database or "
			    "schema, and restart cascaded");
			PQclear(r);
			return -1;
		}
	}
	PQclear(r);
	pthread_mutex_lock(&as.mu);
	as.confirmed = pos;
	pthread_mutex_unlock(&as.mu);
	return 0;
}

static void
as_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;      /* "relation already exists, skipping": not for the log */
}

static int
as_connect(struct conn *c)
{
	/* client_encoding: what b_str sends, whatever the database's own encoding */
	const char *kw[] = { "application_name", "keepalives", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "dbname", "client_encoding", NULL };
	const char *val[] = { "cascaded", "1", "30", "10", "3", as.url, "UTF8", NULL };
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
	char err[512];
	uint64_t pos;

	/* the URL comes before client_encoding: what it says wins over the rest */
	c->pg = PQconnectStartParams(kw, val, 1);
	if (c->pg == NULL) {
		as_down(c, "connecting", "out of memory", "restart cascaded");
		return -1;
	}
	while (PQstatus(c->pg) != CONNECTION_BAD && ps != PGRES_POLLING_OK &&
	    ps != PGRES_POLLING_FAILED) {
		if (as_wait(c, ps == PGRES_POLLING_READING, ps == PGRES_POLLING_WRITING,
		    AS_CONNECT_MS, err, sizeof(err)) != 0)
			goto fail;
		ps = PQconnectPoll(c->pg);
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		pg_err(PQerrorMessage(c->pg), err, sizeof(err));
		goto fail;
	}
	PQsetNoticeProcessor(c->pg, as_notice, NULL);
	if (PQsetnonblocking(c->pg, 1) != 0) {
		pg_err(PQerrorMessage(c->pg), err, sizeof(err));
		goto fail;
	}
	pthread_mutex_lock(&as.mu);
	snprintf(as.where, sizeof(as.where), "%s@%s:%s/%s", PQuser(c->pg),
	    PQhost(c->pg), PQport(c->pg), PQdb(c->pg));
	pthread_mutex_unlock(&as.mu);
	if (as_exec(c, as_schema, err, sizeof(err)) != 0) {
		if (as_stopping()) {
			as_close(c);
			return -1;
		}
		as_down(c, "creating the table cascade_events", err,
		    "let this URL's user create tables in its schema, or create the table "
		    "as cascade.conf(5) shows");
		return -1;
	}
	if (as_resume(c) != 0)
		return -1;
	pthread_mutex_lock(&as.mu);
	pos = as.confirmed;
	as.error[0] = '\0';
	pthread_mutex_unlock(&as.mu);
	if (c->outage)
		log_info("audit-sink %s: connected again after %" PRId64 " s; resuming after "
		    "position %" PRIu64, as.where, (cnow_ms() - c->outage_ms) / 1000, pos);
	else if (!c->ever_up)
		log_info("audit-sink %s: streaming the event log into cascade_events after "
		    "position %" PRIu64, as.where, pos);
	c->outage = 0;
	c->ever_up = 1;
	return 0;
fail:
	if (as_stopping())
		as_close(c);
	else
		as_down(c, "connecting", err, "check that the server runs and lets this URL's "
		    "user into its database (its log says why not)");
	return -1;
}

/*
 * Sends b as one COPY, without waiting for the server's answer (as_finish):
 * the sink reads and formats the next batch meanwhile. 0, or -1 (down).
 */
static int
as_start(struct conn *c, struct batch *b)
{
	char err[512];
	PGresult *r = NULL;
	size_t off, n;
	int rc;

	if (!PQsendQuery(c->pg, as_copy)) {
		pg_err(PQerrorMessage(c->pg), err, sizeof(err));
		goto fail;
	}
	if (as_flush(c, err, sizeof(err)) != 0 || as_result(c, &r, err, sizeof(err)) != 0)
		goto fail;
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		res_err(c, r, err, sizeof(err));
		goto fail;
	}
	PQclear(r);
	r = NULL;
	b_end(b);
	/* in pieces, so libpq's buffer stays small; 0: its buffer is full, wait */
	for (off = 0; off < b->len; off += n) {
		n = b->len - off < (1u << 16) ? b->len - off : 1u << 16;
		while ((rc = PQputCopyData(c->pg, b->buf + off, (int)n)) == 0)
			if (as_flush(c, err, sizeof(err)) != 0)
				goto fail;
		if (rc < 0) {
			pg_err(PQerrorMessage(c->pg), err, sizeof(err));
			goto fail;
		}
	}
	while ((rc = PQputCopyEnd(c->pg, NULL)) == 0)
		if (as_flush(c, err, sizeof(err)) != 0)
			goto fail;
	if (rc < 0) {
		pg_err(PQerrorMessage(c->pg), err, sizeof(err));
		goto fail;
	}
	if (as_flush(c, err, sizeof(err)) != 0)
		goto fail;
	return 0;
fail:
	PQclear(r);
	if (!as_stopping())
		as_down(c, "writing records", err, "check the server's log; the sink resumes "
		    "after the last position the table holds");
	return -1;
}

/* The answer to the COPY as_start sent: 0 when the server committed it. */
static int
as_finish(struct conn *c)
{
	char err[512];
	PGresult *r = as_reply(c, 1, err, sizeof(err));
	int ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;

	if (r != NULL && !ok)
		res_err(c, r, err, sizeof(err));
	PQclear(r);
	if (ok)
		return 0;
	if (!as_stopping())
		as_down(c, "writing records", err, "check the server's log; the sink resumes "
		    "after the last position the table holds");
	return -1;
}

/*
 * Reads the batch of records from position from on; -1 on a journal error.
 * first: from is the first unconfirmed record (its time makes the lag).
 */
static int
as_fill(struct batch *b, uint64_t from, int first)
{
	b->len = 0;
	b->n = 0;
	b->expect = from;
	b->gap_from = b->gap_to = 0;
	if (journal_events(node->j, from, b_row, b) != 0) {
		log_warnx("audit-sink: reading the event log after %" PRIu64 ": %s", from - 1,
		    journal_errmsg(node->j));
		return -1;
	}
	if (b->gap_to != 0) {
		log_warnx("audit-sink: the journal's event log has no records %" PRIu64 " to %"
		    PRIu64 " (deleted? `cascadectl audit verify` says): the table gets the same "
		    "hole", b->gap_from, b->gap_to - 1);
		pthread_mutex_lock(&as.mu);
		as.gaps++;
		pthread_mutex_unlock(&as.mu);
	}
	if (first && b->n > 0) {
		pthread_mutex_lock(&as.mu);
		as.first_pos = from;
		as.first_ms = b->first_ms;
		pthread_mutex_unlock(&as.mu);
	}
	return 0;
}

static uint64_t
as_confirmed(void)
{
	uint64_t v;

	pthread_mutex_lock(&as.mu);
	v = as.confirmed;
	pthread_mutex_unlock(&as.mu);
	return v;
}

static int64_t
as_backoff(int64_t ms)
{
	return ms * 2 > AS_BACKOFF_MAX_MS ? AS_BACKOFF_MAX_MS : ms * 2;
}

/*
 * Two batches: while the server works on one (sent, its answer not read),
 * the next is read from the journal and formatted. A failure drops both:
 * the next connect reads max(pos) and goes on from there.
 */
static void *
as_main(void *unused)
{
	struct conn c = { NULL, 0, 0, 0 };
	struct batch bs[2], *cur = &bs[0], *next = &bs[1], *t;
	int64_t backoff = AS_BACKOFF_MIN_MS;
	int inflight = 0;

	memset(bs, 0, sizeof(bs));
	while (!as_stopping()) {
		/*
		 * A failed connect or COPY waits, doubling up to the maximum; only
		 * a committed batch (or nothing left to send) resets the wait, so
		 * a server that takes the connection but refuses the rows is not
		 * hammered either.
		 */
		if (c.pg == NULL) {
			inflight = 0;
			if (as_connect(&c) != 0) {
				if (as_sleep(backoff))
					break;
				backoff = as_backoff(backoff);
				continue;
			}
		}
		if (!inflight) {
			if (as_fill(cur, as_confirmed() + 1, 1) != 0) {
				if (as_sleep(1000))
					break;
				continue;
			}
			if (cur->n == 0) {
				backoff = AS_BACKOFF_MIN_MS;
				if (as_sleep(AS_POLL_MS))
					break;
				continue;
			}
			if (as_start(&c, cur) != 0)
				goto failed;
			inflight = 1;
		}
		/* the next batch while the server works on cur */
		if (as_fill(next, cur->last + 1, 0) != 0)
			next->n = 0;
		if (as_finish(&c) != 0)
			goto failed;
		pthread_mutex_lock(&as.mu);
		as.confirmed = cur->last;
		as.records += cur->n;
		if (next->n > 0) {
			as.first_pos = cur->last + 1;
			as.first_ms = next->first_ms;
		}
		pthread_mutex_unlock(&as.mu);
		backoff = AS_BACKOFF_MIN_MS;
		inflight = 0;
		if (next->n > 0) {
			if (as_start(&c, next) != 0)
				goto failed;
			inflight = 1;
			t = cur;
			cur = next;
			next = t;
		}
		continue;
failed:
		inflight = 0;
		if (as_sleep(backoff))
			break;
		backoff = as_backoff(backoff);
	}
	as_close(&c);
	free(bs[0].buf);
	free(bs[1].buf);
	return NULL;
}

/* ------------------------------------------------------------ the daemon's side */

void
audit_sink_start(void)
{
	PQconninfoOption *o, *opt;
	const char *host = "", *port = "", *db = "", *user = "";
	int rc;

	if (node->conf->audit_sink == NULL)
		return;
	as.url = xstrdup(node->conf->audit_sink);
	/* where, for status and messages before the first connect: never the password */
	if ((o = PQconninfoParse(as.url, NULL)) != NULL) {
		for (opt = o; opt->keyword != NULL; opt++) {
			if (opt->val == NULL)
				continue;
			if (strcmp(opt->keyword, "host") == 0)
				host = opt->val;
			else if (strcmp(opt->keyword, "port") == 0)
				port = opt->val;
			else if (strcmp(opt->keyword, "dbname") == 0)
				db = opt->val;
			else if (strcmp(opt->keyword, "user") == 0)
				user = opt->val;
		}
		snprintf(as.where, sizeof(as.where), "%s%s%s%s%s/%s", user, *user ? "@" : "",
		    *host ? host : "localhost", *port ? ":" : "", port, db);
		PQconninfoFree(o);
	}
	snprintf(as.error, sizeof(as.error), "not connected yet");
	if (pipe(as.stopfd) != 0) {
		rc = errno;
		goto fail;
	}
	fcntl(as.stopfd[0], F_SETFD, FD_CLOEXEC);
	fcntl(as.stopfd[1], F_SETFD, FD_CLOEXEC);
	if ((rc = pthread_create(&as.thread, NULL, as_main, NULL)) != 0) {
fail:
		log_warnx("audit-sink %s: cannot start its thread: %s; the sink is off until "
		    "cascaded restarts", as.where, strerror(rc));
		snprintf(as.error, sizeof(as.error), "no thread: %s", strerror(rc));
		return;
	}
	as.running = 1;
}

void
audit_sink_stop(void)
{
	ssize_t n;

	if (!as.running)
		return;
	pthread_mutex_lock(&as.mu);
	as.stop = 1;
	pthread_mutex_unlock(&as.mu);
	/* ends the sink's wait, on the server or between batches, at once */
	do
		n = write(as.stopfd[1], "x", 1);
	while (n < 0 && errno == EINTR);
	pthread_join(as.thread, NULL);
	as.running = 0;
	close(as.stopfd[0]);
	close(as.stopfd[1]);
	as.stopfd[0] = as.stopfd[1] = -1;
	free(as.url);
	as.url = NULL;
}

/* The time of the record at pos (0 when absent). */
struct first {
	uint64_t pos;
	int64_t ms;
};

static int
first_one(const struct jevent *ev, void *arg)
{
	struct first *f = arg;

	if (ev->seq == f->pos)
		f->ms = ev->time_ms;
	return 1;
}

void
audit_sink_status(Cascade__CtlStatus *st, uint64_t head)
{
	struct first f = { 0, 0 };
	uint64_t confirmed;

	if (as.url == NULL)     /* no sink running (a reload cannot add one) */
		return;
	pthread_mutex_lock(&as.mu);
	free(st->audit_sink);
	free(st->audit_sink_error);
	st->audit_sink = xstrdup(as.where);
	st->audit_sink_error = xstrdup(as.error);
	confirmed = as.confirmed;
	if (as.first_pos == confirmed + 1)
		f.ms = as.first_ms;
	pthread_mutex_unlock(&as.mu);
	st->audit_sink_confirmed = confirmed;
	st->audit_sink_lag_records = head > confirmed ? head - confirmed : 0;
	if (st->audit_sink_lag_records == 0)
		return;
	if (f.ms == 0) {
		/* one record, read here: the sink has not reached it (down, or busy) */
		f.pos = confirmed + 1;
		if (journal_events(node->j, f.pos, first_one, &f) == 0 && f.ms != 0) {
			pthread_mutex_lock(&as.mu);
			if (as.confirmed == confirmed) {
				as.first_pos = f.pos;
				as.first_ms = f.ms;
			}
			pthread_mutex_unlock(&as.mu);
		}
	}
	if (f.ms != 0)
		st->audit_sink_lag_ms = cnow_ms() - f.ms > 0 ? cnow_ms() - f.ms : 0;
}

void
audit_sink_counters(uint64_t *records, uint64_t *outages, uint64_t *gaps)
{
	pthread_mutex_lock(&as.mu);
	*records = as.records;
	*outages = as.outages;
	*gaps = as.gaps;
	pthread_mutex_unlock(&as.mu);
}
