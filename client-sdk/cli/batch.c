/*
 * batch.c — cascade batch: many packets through one session. Reads JSON
 * lines of operations on stdin (send, request, reply, cancel, flush) and
 * writes JSON lines on stdout: one result per input line, in input order,
 * and events (incoming packets, replies, receipts, notices, custody,
 * connection states) as they happen.
 *
 *	cascade [options] batch [--wait-replies SECONDS]
 *
 * Threads: the main thread reads stdin, makes the SDK calls and tracks
 * custody; the SDK's thread runs the callbacks. Both put their lines under
 * one mutex (B.mu), whole, into outq.c's queue, whose thread writes them
 * out in that order: reading stdin never waits for our reader. The main
 * thread holds B.mu across an SDK call and the putting of its result, so
 * every event about a packet comes after the packet's result line
 * (callbacks run without the SDK's locks, so a callback waiting for B.mu
 * blocks nobody else). A callback that hands over a packet waits until
 * its line is written, so the SDK acknowledges only packets shown.
 *
 * Custody per packet: the SDK's outbox is one numbered stream that the
 * node acknowledges in order, and cascade_pending() says how many are not
 * acknowledged yet. So with base (packets of an earlier run, ahead of ours
 * in a state directory) and sent (ours), base + sent - pending of them are
 * acknowledged, oldest first: a FIFO of our packets tells which.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define REPLY_RING 10000        /* received packets a reply line may name */
#define LINE_MAX_BYTES INPUT_MAX
#define RETRY (-1)              /* op_run(): the outbox is full, call again */
#define OUTQ_MAX (64u << 20)    /* output not read yet: stop reading input above */

/* One of our packets waiting for the node's custody. */
struct pend {
	uint8_t id[CASCADE_ID_LEN];
	long long line;
	json_t *tag;            /* a reference, or NULL */
};

/* A request waiting for its answer: the request callback's arg. */
struct breq {
	long long line;
	json_t *tag;
	int64_t t0;
};

struct batch {
	pthread_mutex_t mu;             /* stdout, and everything below marked (mu) */
	pthread_cond_t cv;
	int64_t wait_replies_ms;        /* after EOF; -1: until every request has its answer */

	/* (mu) */
	long long open_requests;        /* requests whose callback has not run */
	uint8_t (*receipts)[CASCADE_ID_LEN];    /* sends whose receipt has not come */
	size_t n_receipts, cap_receipts;
	cascade_packet_t *ring[REPLY_RING];     /* received packets one may reply to */
	size_t ring_next;
	int worst;                      /* the exit status so far */

	/* main thread only */
	struct pend *pend;              /* FIFO: pend[head .. n) wait for custody */
	size_t head, n, cap;
	uint64_t base, sent, acked;     /* see the top of the file */
	long long lineno;
};

static struct batch B = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.wait_replies_ms = -1,
};

/* Raises the exit status to x unless a worse one is there already (mu). */
static void
worsen(int x)
{
	if (x > B.worst)
		B.worst = x;
}

/* Puts o as one line of stdout and frees it (mu held); its outq number. */
static uint64_t
emit(json_t *o)
{
	uint64_t seq = outq_put(o);

	json_decref(o);
	return seq;
}

/* {"event":KIND} or {"line":N,"op":OP} with the tag, for the fields to follow. */
static json_t *
line_obj(long long line, const char *op, json_t *tag)
{
	json_t *o = json_object();

	json_object_set_new(o, "line", json_integer(line));
	if (op != NULL)
		json_object_set_new(o, "op", json_string(op));
	if (tag != NULL)
		json_object_set(o, "tag", tag);
	return o;
}

static json_t *
event_obj(const char *kind)
{
	json_t *o = json_object();

	json_object_set_new(o, "event", json_string(kind));
	return o;
}

/*
 * Adds "ok":false, "error" (cascade_strerror(code); code 0: "bad input",
 * the line itself is wrong), "code" (the SDK's, when there is one) and
 * "text" (what happened, for people) to o.
 */
static void
set_error(json_t *o, int code, const char *text)
{
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "error", json_string(code != 0 ? cascade_strerror(code) :
	    "bad input"));
	if (code != 0)
		json_object_set_new(o, "code", json_integer(code));
	json_object_set_new(o, "text", json_string(text));
}

/* Whether the node refused us (or another program took our address over). */
static int
refused(char *why, size_t len)
{
	int r;

	pthread_mutex_lock(&C.mu);
	r = C.refused;
	if (r && why != NULL)
		snprintf(why, len, "%s: %s", C.addr, C.refused_why);
	pthread_mutex_unlock(&C.mu);
	return r;
}

/* The exit status an SDK error of a call stands for. */
static int
call_status(int rc)
{
	switch (rc) {
	case CASCADE_EINVAL:
	case CASCADE_EADDRESS:
	case CASCADE_ENOTFOUND:
		return EXIT_USAGE;
	case CASCADE_ETOOBIG:
		return EXIT_DELIVERY;
	case CASCADE_ESTATE:
		return EXIT_CONFIG;
	}
	return EXIT_INTERNAL;
}

/* ---------------------------------------------------------- callbacks */

/* A request's outcome: its reply, the notice that ended it, or a timeout. */
static void
request_cb(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
	struct breq *q = arg;
	char idt[CASCADE_ID_TEXT_LEN], text[600];
	uint64_t seq;
	json_t *o;

	pthread_mutex_lock(&B.mu);
	o = event_obj("reply");
	json_object_set_new(o, "line", json_integer(q->line));
	if (q->tag != NULL)
		json_object_set(o, "tag", q->tag);
	json_object_set_new(o, "id", json_string(id_text(id, idt)));
	if (status == CASCADE_OK)
		json_object_set_new(o, "ok", json_true());
	else {
		if (reply != NULL && cascade_packet_kind(reply) == CASCADE_KIND_NOTICE)
			snprintf(text, sizeof(text), "request %s: %s (%s%s%s)", idt,
			    cascade_strerror(status), cascade_reason_str(cascade_packet_reason(reply)),
			    cascade_packet_text(reply)[0] != '\0' ? ": " : "",
			    cascade_packet_text(reply));
		else if (status == CASCADE_ETIMEDOUT)
			snprintf(text, sizeof(text), "request %s: no reply within its timeout", idt);
		else
			snprintf(text, sizeof(text), "request %s: %s", idt, cascade_strerror(status));
		set_error(o, status, text);
		/* cancelled: what a cancel line asked for, no failure */
		if (status != CASCADE_ECANCELLED)
			worsen(status == CASCADE_ETIMEDOUT || status == CASCADE_ECLOSED ?
			    EXIT_TIMEOUT : EXIT_DELIVERY);
	}
	json_object_set_new(o, "rtt_ms", json_integer((json_int_t)(mono_ms() - q->t0)));
	if (reply != NULL)
		json_object_set_new(o, "packet", packet_json(reply));
	seq = emit(o);
	B.open_requests--;
	pthread_cond_broadcast(&B.cv);
	pthread_mutex_unlock(&B.mu);
	json_decref(q->tag);
	free(q);
	/* the reply is acknowledged when we return: once it is written */
	if (reply != NULL)
		outq_wait(seq);
}

/* A send with a receipt waits for it at EOF (mu held); 0 or -1. */
static int
receipt_add(const uint8_t *id)
{
	void *nr;
	size_t cap;

	if (B.n_receipts == B.cap_receipts) {
		cap = B.cap_receipts ? B.cap_receipts * 2 : 64;
		if ((nr = realloc(B.receipts, cap * sizeof(*B.receipts))) == NULL)
			return -1;
		B.receipts = nr;
		B.cap_receipts = cap;
	}
	memcpy(B.receipts[B.n_receipts++], id, CASCADE_ID_LEN);
	return 0;
}

/* The outcome of a send with a receipt came (mu held). */
static void
receipt_done(const uint8_t *ref)
{
	size_t i;

	for (i = 0; ref != NULL && i < B.n_receipts; i++)
		if (same_id(B.receipts[i], ref)) {
			memcpy(B.receipts[i], B.receipts[--B.n_receipts], CASCADE_ID_LEN);
			pthread_cond_broadcast(&B.cv);
			return;
		}
}

/* Everything else for our address: packets, late replies, receipts, notices. */
static void
packet_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	char idt[CASCADE_ID_TEXT_LEN];
	const uint8_t *ref;
	cascade_packet_t *dup;
	uint64_t seq;
	json_t *o;
	int n;

	pthread_mutex_lock(&B.mu);
	if (cascade_packet_kind(p) == CASCADE_KIND_NOTICE) {
		n = cascade_packet_notice(p);
		o = event_obj(n == CASCADE_NOTICE_DELIVERED ? "receipt" : "notice");
		ref = cascade_packet_ref_id(p);
		json_object_set_new(o, "id", ref != NULL ? json_string(id_text(ref, idt)) :
		    json_null());
		json_object_set_new(o, "notice", json_string(notice_name(n)));
		if (notice_status(n) < 0 && n != CASCADE_NOTICE_CANCELLED)
			worsen(EXIT_DELIVERY);
		if (notice_status(n) <= 0)
			receipt_done(ref);
	} else if ((ref = cascade_packet_reply_to(p)) != NULL) {
		/* the answer to a request of an earlier run, or one that timed out */
		o = event_obj("reply");
		json_object_set_new(o, "id", json_string(id_text(ref, idt)));
		json_object_set_new(o, "ok", json_true());
	} else {
		o = event_obj("packet");
		json_object_set_new(o, "id", json_string(id_text(cascade_packet_id(p), idt)));
		/* kept, so that a reply line can answer it */
		if (cascade_packet_dup(p, &dup) == 0) {
			cascade_packet_free(B.ring[B.ring_next]);
			B.ring[B.ring_next] = dup;
			B.ring_next = (B.ring_next + 1) % REPLY_RING;
		}
	}
	json_object_set_new(o, "packet", packet_json(p));
	seq = emit(o);
	pthread_mutex_unlock(&B.mu);
	/* the SDK acknowledges p when we return: once it is written */
	outq_wait(seq);
}

/* Connection states as events; a held state is also on stderr (handle.c). */
static void
state_hook(int state, const char *detail)
{
	json_t *o;

	pthread_mutex_lock(&B.mu);
	o = event_obj("state");
	json_object_set_new(o, "state", json_string(state_name(state)));
	json_object_set_new(o, "detail", json_string(detail));
	emit(o);
	pthread_cond_broadcast(&B.cv);
	pthread_mutex_unlock(&B.mu);
}

/* ------------------------------------------------------------ custody */

static int
pend_push(const uint8_t *id, long long line, json_t *tag)
{
	struct pend *np;

	if (B.head > 0 && B.head == B.n) {
		B.head = B.n = 0;
	} else if (B.n == B.cap) {
		if (B.head > B.cap / 2) {
			memmove(B.pend, B.pend + B.head, (B.n - B.head) * sizeof(*B.pend));
			B.n -= B.head;
			B.head = 0;
		} else {
			if ((np = realloc(B.pend, (B.cap ? B.cap * 2 : 1024) * sizeof(*np))) == NULL)
				return -1;
			B.pend = np;
			B.cap = B.cap ? B.cap * 2 : 1024;
		}
	}
	memcpy(B.pend[B.n].id, id, CASCADE_ID_LEN);
	B.pend[B.n].line = line;
	B.pend[B.n].tag = tag != NULL ? json_incref(tag) : NULL;
	B.n++;
	B.sent++;
	return 0;
}

/* The custody event of pend entry e; why non-NULL: it failed (mu held). */
static void
custody_event(struct pend *e, int code, const char *why)
{
	char idt[CASCADE_ID_TEXT_LEN];
	json_t *o = event_obj("custody");

	json_object_set_new(o, "line", json_integer(e->line));
	if (e->tag != NULL)
		json_object_set(o, "tag", e->tag);
	json_object_set_new(o, "id", json_string(id_text(e->id, idt)));
	if (why == NULL)
		json_object_set_new(o, "ok", json_true());
	else
		set_error(o, code, why);
	emit(o);
	json_decref(e->tag);
	e->tag = NULL;
}

/*
 * Tells the custody of our packets the node acknowledged since the last
 * call: "ok", or the reason it refused one for good at push. Main thread.
 */
static void
custody_update(void)
{
	uint64_t pending, acked;
	char why[300], text[400], idt[CASCADE_ID_TEXT_LEN];
	struct pend *e;
	int any;

	if (B.head == B.n || cascade_pending(C.h, &pending) != 0)
		return;
	acked = B.base + B.sent > pending ? B.base + B.sent - pending : 0;
	acked = acked > B.base ? acked - B.base : 0;
	if (acked <= B.acked)
		return;
	/* rejected packets count as acknowledged: the SDK keeps the last 256 */
	any = cascade_flush_rejected(C.h, 0, NULL, NULL, NULL, 0) == 0;
	pthread_mutex_lock(&B.mu);
	for (; B.acked < acked && B.head < B.n; B.acked++, B.head++) {
		e = &B.pend[B.head];
		if (any && rejected_why(e->id, why, sizeof(why)) != NULL) {
			snprintf(text, sizeof(text), "packet %s: rejected by node %s: %s",
			    id_text(e->id, idt), C.url, why);
			custody_event(e, CASCADE_EREJECTED, text);
			worsen(EXIT_DELIVERY);
		} else
			custody_event(e, 0, NULL);
	}
	pthread_mutex_unlock(&B.mu);
}

/*
 * Waits until the node has custody of all our packets, the node refused
 * us, or -T ran out: then every packet still waiting gets a failed custody
 * event saying why (the session's state: "the node ... refuses packets for
 * now: journal full"). Returns EXIT_OK, EXIT_REFUSED or EXIT_TIMEOUT and
 * fills text with the failure.
 */
static int
custody_wait(char *text, size_t len)
{
	char story[600];
	int64_t deadline = C.timeout_ms > 0 ? mono_ms() + C.timeout_ms : NEVER;
	int rc = CASCADE_OK;

	for (;;) {
		custody_update();
		if (B.head == B.n)
			return EXIT_OK;
		if (refused(text, len))
			return EXIT_REFUSED;
		if (deadline != NEVER && mono_ms() >= deadline)
			break;
		rc = cascade_flush(C.h, 100);
		if (rc != CASCADE_OK && rc != CASCADE_ETIMEDOUT)
			break;
	}
	conn_story(story, sizeof(story));
	if (rc != CASCADE_OK && rc != CASCADE_ETIMEDOUT)
		snprintf(text, len, "flush: %s (%s)", cascade_strerror(rc), story);
	else
		snprintf(text, len, "node %s has not taken custody within %g s (%s)", C.url,
		    timeout_s(), story);
	warn("batch: %zu packets: %s", B.n - B.head, text);
	pthread_mutex_lock(&B.mu);
	for (; B.head < B.n; B.head++, B.acked++)
		custody_event(&B.pend[B.head], CASCADE_ETIMEDOUT, text);
	worsen(EXIT_TIMEOUT);
	pthread_mutex_unlock(&B.mu);
	/* those were told: from now on count only what follows */
	B.base += B.sent;
	B.sent = 0;
	B.acked = 0;
	if (cascade_pending(C.h, &B.base) != 0)
		B.base = 0;
	return EXIT_TIMEOUT;
}

/* -------------------------------------------------------------- input */

/* Standard base64 (padding optional, no line breaks); 0 or -1. */
static int
unbase64(const char *s, char **out, size_t *outlen)
{
	size_t n = strlen(s), i, o = 0;
	uint32_t v = 0;
	int bits = 0, c;
	char *b;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if ((b = malloc(n * 3 / 4 + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c -= 'A';
		else if (c >= 'a' && c <= 'z')
			c = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			c = c - '0' + 52;
		else if (c == '+')
			c = 62;
		else if (c == '/')
			c = 63;
		else {
			free(b);
			return -1;
		}
		v = v << 6 | (uint32_t)c;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			b[o++] = (char)(v >> bits & 0xff);
		}
	}
	if (bits >= 6) {                /* one lone character: not base64 */
		free(b);
		return -1;
	}
	*out = b;
	*outlen = o;
	return 0;
}

/* An operation's fields, taken from its JSON object. */
struct op {
	const char *op, *dst, *command, *to, *id;
	char *payload;                  /* malloc'd (may be NULL with len 0) */
	size_t len;
	int urgent, receipt;
	int64_t ttl_ms, timeout_ms;     /* -1: not given */
	json_t *tag;
};

/* A field of the wrong type, or a value out of range: its message in err. */
static int
bad_field(char *err, size_t len, const char *field, const char *want)
{
	snprintf(err, len, "\"%s\" must be %s", field, want);
	return -1;
}

static int
get_str(json_t *o, const char *k, const char **v, char *err, size_t len)
{
	json_t *f = json_object_get(o, k);

	*v = NULL;
	if (f == NULL || json_is_null(f))
		return 0;
	if (!json_is_string(f))
		return bad_field(err, len, k, "a string");
	*v = json_string_value(f);
	return 0;
}

static int
get_bool(json_t *o, const char *k, int *v, char *err, size_t len)
{
	json_t *f = json_object_get(o, k);

	*v = 0;
	if (f == NULL || json_is_null(f))
		return 0;
	if (!json_is_boolean(f))
		return bad_field(err, len, k, "true or false");
	*v = json_is_true(f);
	return 0;
}

static int
get_ms(json_t *o, const char *k, int64_t max, int64_t *v, char *err, size_t len)
{
	json_t *f = json_object_get(o, k);

	*v = -1;
	if (f == NULL || json_is_null(f))
		return 0;
	if (!json_is_integer(f) || json_integer_value(f) < 0 || json_integer_value(f) > max)
		return bad_field(err, len, k, "a number of milliseconds");
	*v = json_integer_value(f);
	return 0;
}

/* Fills op from object o; -1 with the reason in err. */
static int
op_parse(json_t *o, struct op *op, char *err, size_t len)
{
	const char *pl, *b64;

	memset(op, 0, sizeof(*op));
	if (!json_is_object(o)) {
		snprintf(err, len, "not a JSON object");
		return -1;
	}
	op->tag = json_object_get(o, "tag");
	if (get_str(o, "op", &op->op, err, len) || get_str(o, "dst", &op->dst, err, len) ||
	    get_str(o, "command", &op->command, err, len) || get_str(o, "to", &op->to, err, len) ||
	    get_str(o, "id", &op->id, err, len) || get_str(o, "payload", &pl, err, len) ||
	    get_str(o, "payload_b64", &b64, err, len) ||
	    get_bool(o, "urgent", &op->urgent, err, len) ||
	    get_bool(o, "receipt", &op->receipt, err, len) ||
	    get_ms(o, "ttl", INT64_MAX / 2, &op->ttl_ms, err, len) ||
	    get_ms(o, "timeout", INT32_MAX, &op->timeout_ms, err, len))
		return -1;
	if (op->op == NULL) {
		snprintf(err, len, "no \"op\" (send, request, reply, cancel or flush)");
		return -1;
	}
	if (pl != NULL && b64 != NULL) {
		snprintf(err, len, "give \"payload\" or \"payload_b64\", not both");
		return -1;
	}
	if (pl != NULL) {
		op->len = json_string_length(json_object_get(o, "payload"));
		if ((op->payload = malloc(op->len + 1)) == NULL) {
			snprintf(err, len, "out of memory");
			return -1;
		}
		memcpy(op->payload, pl, op->len);
	} else if (b64 != NULL && unbase64(b64, &op->payload, &op->len) != 0) {
		snprintf(err, len, "\"payload_b64\" is not base64");
		return -1;
	}
	return 0;
}

/* "send to DST: WHY", with the SDK's detail when it has one. */
static void
call_text(char *text, size_t len, const char *what, int rc)
{
	char why[600];

	if (cascade_last_error(C.h, why, sizeof(why)) != 0 || why[0] == '\0')
		snprintf(why, sizeof(why), "%s", cascade_strerror(rc));
	snprintf(text, len, "%s: %s", what, why);
}

/*
 * The reply command for a received packet with none given: COMMAND.reply,
 * as listen --reply-with does.
 */
static void
reply_command(const cascade_packet_t *p, char *buf, size_t len)
{
	const char *c = cascade_packet_command(p);

	if (c[0] != '\0' && strlen(c) + 6 <= CASCADE_COMMAND_MAX)
		snprintf(buf, len, "%s.reply", c);
	else
		snprintf(buf, len, "reply");
}

/* The received packet with id idt, kept for replies (mu held), or NULL. */
static cascade_packet_t *
ring_find(const uint8_t *id, size_t *slot)
{
	size_t i, k;

	for (i = 0; i < REPLY_RING; i++) {
		k = (B.ring_next + REPLY_RING - 1 - i) % REPLY_RING;
		if (B.ring[k] != NULL && same_id(cascade_packet_id(B.ring[k]), id)) {
			*slot = k;
			return B.ring[k];
		}
	}
	return NULL;
}

/*
 * Calls the SDK for op and writes its result line (mu held: see the top).
 * Returns the exit status the line stands for, or RETRY: the memory outbox
 * is full, the caller waits for the node to take some and calls again.
 */
static int
op_run(struct op *op, json_t *res)
{
	uint8_t id[CASCADE_ID_LEN], ref[CASCADE_ID_LEN];
	char idt[CASCADE_ID_TEXT_LEN], text[1024], what[300], cmd[CASCADE_COMMAND_MAX + 1];
	cascade_packet_t *rp;
	struct breq *q = NULL;
	uint32_t flags = (op->urgent ? CASCADE_FLAG_URGENT : 0) |
	    (op->receipt ? CASCADE_FLAG_RECEIPT | CASCADE_FLAG_NOTIFY : 0);
	int64_t t;
	size_t slot = 0;
	int rc;

	if (strcmp(op->op, "send") == 0 || strcmp(op->op, "request") == 0) {
		if (op->dst == NULL || op->command == NULL) {
			set_error(res, 0, "\"dst\" and \"command\" are needed");
			return EXIT_USAGE;
		}
		snprintf(what, sizeof(what), "%s to %.130s", op->op, op->dst);
		if (op->op[0] == 's')
			rc = cascade_send(C.h, op->dst, op->command, op->payload, op->len,
			    op->ttl_ms > 0 ? op->ttl_ms : 0, flags, id);
		else {
			t = op->timeout_ms > 0 ? op->timeout_ms : C.timeout_ms > 0 ? C.timeout_ms :
			    DEFAULT_TIMEOUT_MS;
			if (t > INT32_MAX)
				t = INT32_MAX;
			if (op->ttl_ms == 0) {
				set_error(res, 0, "\"ttl\" 0 (never expires) makes no sense for a request");
				return EXIT_USAGE;
			}
			if ((q = calloc(1, sizeof(*q))) == NULL) {
				set_error(res, CASCADE_ENOMEM, "out of memory");
				return EXIT_INTERNAL;
			}
			q->line = B.lineno;
			q->tag = op->tag != NULL ? json_incref(op->tag) : NULL;
			q->t0 = mono_ms();
			rc = cascade_request_flags(C.h, op->dst, op->command, op->payload, op->len,
			    (int32_t)t, op->ttl_ms > 0 ? op->ttl_ms : t,
			    flags & ~(uint32_t)CASCADE_FLAG_NOTIFY, request_cb, q, id);
			if (rc != 0) {
				json_decref(q->tag);
				free(q);
			} else
				B.open_requests++;
		}
	} else if (strcmp(op->op, "reply") == 0) {
		if (op->to == NULL || cascade_id_parse(op->to, ref) != 0) {
			set_error(res, 0, "\"to\" must be the id of a packet received in this session");
			return EXIT_USAGE;
		}
		if ((rp = ring_find(ref, &slot)) == NULL) {
			snprintf(text, sizeof(text), "reply to %s: not one of the last %d packets "
			    "received in this session, or answered already", op->to, REPLY_RING);
			set_error(res, CASCADE_ENOTFOUND, text);
			return EXIT_USAGE;
		}
		if (op->command == NULL)
			reply_command(rp, cmd, sizeof(cmd));
		snprintf(what, sizeof(what), "reply to %s from %.130s", op->to,
		    cascade_packet_src(rp));
		rc = cascade_reply(C.h, rp, op->command != NULL ? op->command : cmd, op->payload,
		    op->len, id);
		if (rc == 0) {
			/* one reply per packet: a second one is a script's bug */
			cascade_packet_free(rp);
			B.ring[slot] = NULL;
		}
	} else if (strcmp(op->op, "cancel") == 0) {
		if (op->id == NULL || cascade_id_parse(op->id, ref) != 0) {
			set_error(res, 0, "\"id\" must be a packet id");
			return EXIT_USAGE;
		}
		snprintf(what, sizeof(what), "cancel %s", op->id);
		rc = cascade_cancel(C.h, ref, id);
	} else {
		snprintf(text, sizeof(text), "unknown op \"%.40s\" (send, request, reply, cancel or "
		    "flush)", op->op);
		set_error(res, 0, text);
		return EXIT_USAGE;
	}
	if (rc == CASCADE_EQUEUE_FULL)
		return RETRY;
	if (rc != 0) {
		call_text(text, sizeof(text), what, rc);
		set_error(res, rc, text);
		return call_status(rc);
	}
	json_object_set_new(res, "ok", json_true());
	json_object_set_new(res, "id", json_string(id_text(id, idt)));
	json_object_set_new(res, "state", json_string("queued"));
	if (pend_push(id, B.lineno, op->tag) != 0 ||
	    (op->receipt && op->op[0] == 's' && receipt_add(id) != 0)) {
		set_error(res, CASCADE_ENOMEM, "out of memory");
		return EXIT_INTERNAL;
	}
	return EXIT_OK;
}

/* One input line: its result line, and the exit status it stands for. */
static int
line_run(const char *buf, size_t len)
{
	char err[300], text[1000], story[600];
	json_error_t je;
	struct op op;
	json_t *o, *res;
	int64_t until;
	int x;

	if ((o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		snprintf(text, sizeof(text), "stdin line %lld: not JSON: %s (column %d)", B.lineno,
		    je.text, je.column);
		fprintf(stderr, "cascade: batch: %s\n", text);
		pthread_mutex_lock(&B.mu);
		res = line_obj(B.lineno, NULL, NULL);
		set_error(res, 0, text);
		emit(res);
		worsen(EXIT_USAGE);
		pthread_mutex_unlock(&B.mu);
		return EXIT_USAGE;
	}
	if (op_parse(o, &op, err, sizeof(err)) != 0) {
		snprintf(text, sizeof(text), "stdin line %lld: %s", B.lineno, err);
		fprintf(stderr, "cascade: batch: %s\n", text);
		pthread_mutex_lock(&B.mu);
		res = line_obj(B.lineno, op.op, op.tag);
		set_error(res, 0, text);
		emit(res);
		worsen(EXIT_USAGE);
		pthread_mutex_unlock(&B.mu);
		free(op.payload);
		json_decref(o);
		return EXIT_USAGE;
	}
	if (strcmp(op.op, "flush") == 0) {
		x = custody_wait(text, sizeof(text));
		pthread_mutex_lock(&B.mu);
		res = line_obj(B.lineno, op.op, op.tag);
		if (x == EXIT_OK) {
			json_object_set_new(res, "ok", json_true());
			json_object_set_new(res, "state", json_string("custody"));
		} else if (x == EXIT_TIMEOUT)
			set_error(res, CASCADE_ETIMEDOUT, text);
		else {
			set_error(res, 0, text);
			json_object_set_new(res, "error", json_string("refused"));
		}
		emit(res);
		pthread_mutex_unlock(&B.mu);
	} else {
		/* a full outbox holds the input back until the node takes some, -T at most */
		until = C.timeout_ms > 0 ? mono_ms() + C.timeout_ms : NEVER;
		for (;;) {
			pthread_mutex_lock(&B.mu);
			res = line_obj(B.lineno, op.op, op.tag);
			if ((x = op_run(&op, res)) != RETRY)
				break;
			json_decref(res);
			pthread_mutex_unlock(&B.mu);
			if (refused(NULL, 0) || (until != NEVER && mono_ms() >= until)) {
				conn_story(story, sizeof(story));
				snprintf(text, sizeof(text), "%s: the outbox is full and node %s took "
				    "none within %g s (%s)", op.op, C.url, timeout_s(), story);
				pthread_mutex_lock(&B.mu);
				res = line_obj(B.lineno, op.op, op.tag);
				set_error(res, CASCADE_EQUEUE_FULL, text);
				x = EXIT_TIMEOUT;
				break;
			}
			cascade_flush(C.h, 100);
			custody_update();
		}
		emit(res);
		if (x != EXIT_OK)
			worsen(x);
		pthread_mutex_unlock(&B.mu);
	}
	free(op.payload);
	json_decref(o);
	return x;
}

/*
 * Reads stdin line by line (poll with a short timeout, so that custody is
 * told while the input is idle) until EOF or a refusal. Returns 0 at EOF,
 * EXIT_REFUSED or EXIT_INTERNAL.
 */
static int
read_lines(void)
{
	size_t cap = 65536, len = 0, start, i;
	char *buf = malloc(cap), *nb;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	ssize_t r;
	int eof = 0, x = 0;

	if (buf == NULL)
		return fail(EXIT_INTERNAL, "batch: out of memory");
	while (!eof) {
		if (refused(NULL, 0)) {
			x = EXIT_REFUSED;
			break;
		}
		if (poll(&pfd, 1, 100) <= 0) {
			custody_update();
			continue;
		}
		if (len == cap) {
			if (cap >= LINE_MAX_BYTES) {
				x = fail(EXIT_USAGE, "batch: stdin line %lld: longer than %u bytes",
				    B.lineno + 1, LINE_MAX_BYTES);
				break;
			}
			if ((nb = realloc(buf, cap * 2)) == NULL) {
				x = fail(EXIT_INTERNAL, "batch: out of memory");
				break;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(STDIN_FILENO, buf + len, cap - len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			x = fail(EXIT_INTERNAL, "batch: stdin: %s", strerror(errno));
			break;
		}
		if (r == 0) {
			eof = 1;
			if (len > 0)            /* a last line without its newline */
				buf[len++] = '\n';
		}
		len += (size_t)r;
		for (start = 0, i = 0; i < len; i++) {
			if (buf[i] != '\n')
				continue;
			B.lineno++;
			/* blank lines are skipped; a CR before the newline too */
			if (i > start && buf[i - 1] == '\r')
				buf[i - 1] = ' ';
			if (strspn(buf + start, " \t\r") < i - start) {
				/* a reader that takes nothing for long: wait for it */
				outq_wait_below(OUTQ_MAX);
				line_run(buf + start, i - start);
			}
			start = i + 1;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		custody_update();
	}
	free(buf);
	return x;
}

/*
 * After EOF: until every request has its answer and every receipt asked
 * for came, --wait-replies ran out or the node refused us.
 */
static void
replies_wait(void)
{
	int64_t deadline = B.wait_replies_ms >= 0 ? mono_ms() + B.wait_replies_ms : NEVER;
	struct timespec ts;

	pthread_mutex_lock(&B.mu);
	while (B.open_requests > 0 || B.n_receipts > 0) {
		if (refused(NULL, 0) || (deadline != NEVER && mono_ms() >= deadline))
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&B.cv, &B.mu, &ts);
	}
	pthread_mutex_unlock(&B.mu);
}

int
cmd_batch(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		{ "wait-replies", required_argument, NULL, O_WAIT_REPLIES },
		{ NULL, 0, NULL, 0 },
	};
	char text[800];
	double v;
	char *end;
	int ch, x, r;
	size_t i;

	while ((ch = getopt_long(argc, argv, CMD_SHORT, opts, NULL)) != -1) {
		if ((x = common_opt(ch, optarg)) > 0)
			return x;
		if (x == 0)
			continue;
		if (ch != O_WAIT_REPLIES)
			return opt_fail(ch, argv, "batch");
		errno = 0;
		v = strtod(optarg, &end);
		if (errno != 0 || end == optarg || *end != '\0' || !(v >= 0) || v > 86400.0 * 365)
			return usage_fail("--wait-replies %s: not a number of seconds", optarg);
		B.wait_replies_ms = (int64_t)(v * 1000 + 0.5);
	}
	if (optind != argc)
		return usage_fail("usage: cascade batch [options] [--wait-replies SECONDS]");
	if (stdout_closed)
		return fail(EXIT_INTERNAL, "batch: standard output is closed");
	/* -T bounds each wait for custody (a flush line, and the one at EOF) */
	if (C.timeout_ms < 0)
		C.timeout_ms = DEFAULT_TIMEOUT_MS;
	C.deadline = NEVER;
	C.on_state = state_hook;
	if (outq_start() != 0)
		return fail(EXIT_INTERNAL, "batch: cannot start the output thread");
	if ((x = cli_open(packet_cb)) != 0) {
		outq_close();
		return x;
	}
	if (cascade_pending(C.h, &B.base) != 0)
		B.base = 0;
	x = read_lines();
	if (x == EXIT_OK) {
		/* EOF: custody of everything, then the answers */
		if ((r = custody_wait(text, sizeof(text))) != EXIT_OK)
			x = r == EXIT_REFUSED ? r : x;
		replies_wait();
	}
	if (refused(text, sizeof(text)))
		x = EXIT_REFUSED;
	/* acknowledges what was delivered; open requests end with "closed" */
	cascade_close(C.h);
	C.h = NULL;
	if (x == EXIT_REFUSED)
		x = fail(EXIT_REFUSED, "%s", text);
	pthread_mutex_lock(&B.mu);
	if (B.n_receipts > 0) {
		warn("batch: %zu receipts did not come", B.n_receipts);
		worsen(EXIT_TIMEOUT);
	}
	if (B.worst > x && x != EXIT_REFUSED)
		x = B.worst;
	for (i = 0; i < REPLY_RING; i++)
		cascade_packet_free(B.ring[i]);
	free(B.receipts);
	pthread_mutex_unlock(&B.mu);
	for (i = B.head; i < B.n; i++)
		json_decref(B.pend[i].tag);
	free(B.pend);
	outq_close();           /* everything written */
	return x;
}
