/*
 * cli.c — cascade(1), the command-line client: send, listen, request and
 * cancel for scripts and operators, on libcascade's public API only.
 *
 *	cascade [options] send [--receipt | --wait-reply] [--ttl MS] [--urgent]
 *	    DST COMMAND [PAYLOAD | --file F | --stdin]
 *	cascade [options] listen [--count N] [--reply-with CMD]
 *	cascade [options] request [--ttl MS] DST COMMAND [PAYLOAD | --file F | --stdin]
 *	cascade [options] cancel ID
 *
 * One handle per run. The main thread issues the calls and waits on a
 * condition variable; the callbacks (on the SDK's thread) record what
 * happened under the same mutex. Every wait is bounded by -T and ends early
 * when the node refuses us (exit 3): the SDK itself would retry slowly
 * forever, which is right for a daemon but not for a script.
 *
 * Caveat, from the SDK's design: a handle with a packet callback takes
 * every packet queued for its address. send --receipt / --wait-reply,
 * request and cancel therefore use one, and say on stderr what else they
 * took; run them under another client address than a listener's (a second
 * session for the same address would also take the listener's over).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cascade.h"

/* Exit codes (cascade(1), EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,            /* bad command line */
	EXIT_CONFIG = 2,           /* url, address, secret, CA, state directory */
	EXIT_REFUSED = 3,          /* the node refused us (credentials, carrier) */
	EXIT_TIMEOUT = 4,          /* -T ran out first */
	EXIT_DELIVERY = 5,         /* undeliverable, expired, rejected, cancelled, too late */
	EXIT_INTERNAL = 6,
};

#define NEVER INT64_MAX
#define DEFAULT_TIMEOUT_MS 30000
#define INPUT_MAX (64u << 20)   /* payloads above the node's limit fail later anyway */
#define SETTLE_QUIET_MS 50      /* listen: quiet time before closing (the ack's pull) */
#define SETTLE_MAX_MS 300       /* listen: and at most this long, between callbacks */

extern char **environ;

struct cli {
	/* settings */
	const char *url, *addr, *secret, *ca, *state, *cert, *key;
	int json, verbose;
	int64_t timeout_ms;             /* -T in ms; -1 unset; 0 no limit */
	int64_t deadline;               /* monotonic ms, NEVER without a limit */
	cascade_t *h;

	/* what the callbacks saw: under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refused;
	char refused_why[512];
	int last_state;
	char last_detail[512];
	char open_why[512];             /* the library's last error line */
};

static struct cli C = {
	.timeout_ms = -1,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static volatile sig_atomic_t stop_signal;
static int stdout_closed;               /* we started without a standard output */
static char last_error[512];            /* the last fail() message, for JSON output */

static void usage_text(FILE *f);

/* ------------------------------------------------------------ helpers */

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "cascade: MESSAGE" on stderr and returns code. Main thread only. */
static int
fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cascade: %s\n", last_error);
	return code;
}

/* A warning from a callback: one line on stderr, last_error untouched. */
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
warn(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cascade: %s\n", line);
}

static int
usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("cascade: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (cascade -h for help)\n", stderr);
	return EXIT_USAGE;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before the deadline, for SDK calls (0 when passed). */
static int32_t
left_ms(void)
{
	int64_t l;

	if (C.deadline == NEVER)
		return INT32_MAX;
	l = C.deadline - mono_ms();
	return l <= 0 ? 0 : l > INT32_MAX ? INT32_MAX : (int32_t)l;
}

static char *
id_text(const uint8_t *id, char buf[CASCADE_ID_TEXT_LEN])
{
	if (id == NULL || cascade_id_format(id, buf, CASCADE_ID_TEXT_LEN) != 0)
		snprintf(buf, CASCADE_ID_TEXT_LEN, "-");
	return buf;
}

static int
same_id(const uint8_t *a, const uint8_t *b)
{
	return a != NULL && b != NULL && memcmp(a, b, CASCADE_ID_LEN) == 0;
}

/* The sender's clock when it made the id: its first 48 bits (cascade_id_new()). */
static int64_t
id_time_ms(const uint8_t *id)
{
	int64_t ms = 0;
	int i;

	for (i = 0; i < 6; i++)
		ms = ms << 8 | id[i];
	return ms;
}

/* Parses a non-negative integer option; returns -1 when it is not one. */
static long long
parse_num(const char *s, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		return -1;
	return v;
}

/* -T SECONDS, fractions allowed ("0.5"). */
static int
parse_timeout(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 86400.0 * 365)
		return usage_fail("-T %s: not a number of seconds", s);
	C.timeout_ms = (int64_t)(v * 1000 + 0.5);
	if (v > 0 && C.timeout_ms == 0)
		C.timeout_ms = 1;
	return 0;
}

static const char *
state_name(int s)
{
	switch (s) {
	case CASCADE_STATE_CONNECTING: return "connecting";
	case CASCADE_STATE_UP: return "up";
	case CASCADE_STATE_DOWN: return "down";
	case CASCADE_STATE_TAKEN_OVER: return "taken over";
	case CASCADE_STATE_REFUSED: return "refused";
	case CASCADE_STATE_CLOSED: return "closed";
	case CASCADE_STATE_HELD: return "held";
	}
	return "unknown";
}

static const char *
notice_name(int n)
{
	switch (n) {
	case CASCADE_NOTICE_DELIVERED: return "delivered";
	case CASCADE_NOTICE_EXPIRED: return "expired";
	case CASCADE_NOTICE_UNDELIVERABLE: return "undeliverable";
	case CASCADE_NOTICE_REJECTED: return "rejected";
	case CASCADE_NOTICE_CANCELLED: return "cancelled";
	case CASCADE_NOTICE_CANCEL_TOO_LATE: return "too-late";
	case CASCADE_NOTICE_DELAYED: return "delayed";
	}
	return "none";
}

/* Reads all of fd (at most INPUT_MAX bytes) into a new buffer. */
static int
read_all(int fd, const char *what, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap), *nb;
	ssize_t r;

	if (b == NULL)
		return fail(EXIT_INTERNAL, "out of memory");
	for (;;) {
		if (n == cap) {
			if (cap >= INPUT_MAX) {
				free(b);
				return fail(EXIT_USAGE, "%s: more than %u bytes", what, INPUT_MAX);
			}
			if ((nb = realloc(b, cap * 2)) == NULL) {
				free(b);
				return fail(EXIT_INTERNAL, "out of memory");
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(b);
			return fail(EXIT_USAGE, "%s: %s", what, strerror(errno));
		}
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* Whether buf is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static int
utf8_clean(const unsigned char *s, size_t len)
{
	size_t i = 0, k, n;
	uint32_t c;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			c = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			c = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			c = s[i] & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* Standard base64 with padding; returns a new string or NULL. */
static char *
base64(const unsigned char *s, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;
	uint32_t v;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (i < len) {
		v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
		*o++ = tab[v >> 18];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* ------------------------------------------------------ packet output */

static json_t *
flags_json(uint32_t f)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ CASCADE_FLAG_RECEIPT, "receipt" },
		{ CASCADE_FLAG_NO_TTL, "no-ttl" },
		{ CASCADE_FLAG_DOWN, "down" },
		{ CASCADE_FLAG_URGENT, "urgent" },
		{ CASCADE_FLAG_NOTIFY, "notify" },
		{ CASCADE_FLAG_LATE, "late" },
		{ CASCADE_FLAG_REDELIVERY, "redelivery" },
	};
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

/* The flags as a word for the text form: "urgent,late" or "-". */
static void
flags_text(uint32_t f, char *buf, size_t len)
{
	json_t *a = flags_json(f);
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < json_array_size(a); i++)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", i ? "," : "",
		    json_string_value(json_array_get(a, i)));
	if (o == 0)
		snprintf(buf, len, "-");
	json_decref(a);
}

static json_t *
trace_json(const cascade_packet_t *p)
{
	json_t *a = json_array(), *hop;
	const char *node;
	int64_t arrived;
	uint32_t held;
	size_t i;
	int down;

	for (i = 0; i < cascade_packet_hops(p); i++) {
		if (cascade_packet_hop(p, i, &node, &down, &arrived, &held) != 0)
			break;
		hop = json_pack("{s:s, s:s, s:I, s:I}", "node", node, "leg", down ? "down" : "up",
		    "arrived_ms", (json_int_t)arrived, "held_ms", (json_int_t)held);
		json_array_append_new(a, hop);
	}
	return a;
}

/*
 * A received packet as one JSON object: the fields cascade(1) documents.
 * The payload is a string when it is UTF-8, else base64
 * ("payload_encoding" says which).
 */
static json_t *
packet_json(const cascade_packet_t *p)
{
	char idt[CASCADE_ID_TEXT_LEN];
	const uint8_t *ref;
	const char *pl;
	size_t len;
	json_t *o;
	char *b64;
	int kind = cascade_packet_kind(p), notice = cascade_packet_notice(p);

	o = json_object();
	json_object_set_new(o, "id", json_string(id_text(cascade_packet_id(p), idt)));
	json_object_set_new(o, "src", json_string(cascade_packet_src(p)));
	json_object_set_new(o, "dst", json_string(cascade_packet_dst(p)));
	json_object_set_new(o, "command", json_string(cascade_packet_command(p)));
	json_object_set_new(o, "kind", json_string(kind == CASCADE_KIND_NOTICE ? "notice" : "data"));
	json_object_set_new(o, "flags", flags_json(cascade_packet_flags(p)));
	json_object_set_new(o, "notice", kind == CASCADE_KIND_NOTICE ?
	    json_string(notice_name(notice)) : json_null());
	ref = cascade_packet_ref_id(p);
	json_object_set_new(o, "ref_id", ref != NULL ? json_string(id_text(ref, idt)) : json_null());
	ref = cascade_packet_reply_to(p);
	json_object_set_new(o, "reply_to", ref != NULL ? json_string(id_text(ref, idt)) :
	    json_null());
	if (notice == CASCADE_NOTICE_REJECTED || notice == CASCADE_NOTICE_UNDELIVERABLE ||
	    notice == CASCADE_NOTICE_EXPIRED)
		json_object_set_new(o, "reason",
		    json_string(cascade_reason_str(cascade_packet_reason(p))));
	if (kind == CASCADE_KIND_NOTICE)
		json_object_set_new(o, "text", json_string(cascade_packet_text(p)));
	pl = cascade_packet_payload(p, &len);
	json_object_set_new(o, "size", json_integer((json_int_t)len));
	if (utf8_clean((const unsigned char *)pl, len)) {
		json_object_set_new(o, "payload", json_stringn(pl, len));
		json_object_set_new(o, "payload_encoding", json_string("utf-8"));
	} else {
		b64 = base64((const unsigned char *)pl, len);
		json_object_set_new(o, "payload", b64 != NULL ? json_string(b64) : json_null());
		json_object_set_new(o, "payload_encoding", json_string("base64"));
		free(b64);
	}
	json_object_set_new(o, "ttl_ms", json_integer((json_int_t)cascade_packet_ttl(p)));
	json_object_set_new(o, "sent_ms",
	    json_integer((json_int_t)id_time_ms(cascade_packet_id(p))));
	json_object_set_new(o, "received_ms", json_integer((json_int_t)wall_ms()));
	json_object_set_new(o, "trace", trace_json(p));
	return o;
}

/* Prints s with backslash escapes for what would break a line: \n, \t, \\, \xNN. */
static void
put_escaped(FILE *f, const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\')
			fputs("\\\\", f);
		else if (s[i] == '\n')
			fputs("\\n", f);
		else if (s[i] == '\t')
			fputs("\\t", f);
		else if (s[i] == '\r')
			fputs("\\r", f);
		else if (s[i] < 0x20 || s[i] == 0x7f)
			fprintf(f, "\\x%02x", s[i]);
		else
			fputc(s[i], f);
	}
}

/*
 * The text form, one line: ID SRC COMMAND FLAGS REF PAYLOAD. A notice has
 * "notice:NAME" as its command, the packet it is about as REF and its text
 * as payload; REF of a reply is the request's id; "-" stands for none.
 * Payloads that are not UTF-8 print as "base64:...".
 */
static void
packet_text(FILE *f, const cascade_packet_t *p)
{
	char idt[CASCADE_ID_TEXT_LEN], reft[CASCADE_ID_TEXT_LEN], fl[96];
	const uint8_t *ref;
	const char *pl;
	size_t len;
	char *b64;

	flags_text(cascade_packet_flags(p), fl, sizeof(fl));
	id_text(cascade_packet_id(p), idt);
	if (cascade_packet_kind(p) == CASCADE_KIND_NOTICE) {
		ref = cascade_packet_ref_id(p);
		fprintf(f, "%s %s notice:%s %s %s ", idt, cascade_packet_src(p),
		    notice_name(cascade_packet_notice(p)), fl, id_text(ref, reft));
		pl = cascade_packet_text(p);
		len = strlen(pl);
	} else {
		ref = cascade_packet_reply_to(p);
		fprintf(f, "%s %s %s %s %s ", idt, cascade_packet_src(p),
		    cascade_packet_command(p)[0] != '\0' ? cascade_packet_command(p) : "-", fl,
		    id_text(ref, reft));
		pl = cascade_packet_payload(p, &len);
	}
	if (utf8_clean((const unsigned char *)pl, len))
		put_escaped(f, (const unsigned char *)pl, len);
	else if ((b64 = base64((const unsigned char *)pl, len)) != NULL) {
		fprintf(f, "base64:%s", b64);
		free(b64);
	}
	fputc('\n', f);
}

/* Prints a JSON value on one line of stdout. */
static void
json_line(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
	fflush(stdout);
}

/*
 * A packet for our address that the waiting command did not ask for: the
 * handle took it from the node, so say so rather than lose it silently.
 */
static void
stray(const cascade_packet_t *p)
{
	fprintf(stderr, "cascade: %s: took a packet meant for this address: ", C.addr);
	packet_text(stderr, p);
}

/* ------------------------------------------------------------- the handle */

static void
log_cb(void *arg, int level, const char *msg)
{
	static const char *lv[] = { "error", "warn", "info", "debug" };

	if (C.verbose)
		fprintf(stderr, "cascade: sdk %s: %s\n", level >= 0 && level <= 3 ? lv[level] : "?",
		    msg);
	if (level == CASCADE_LOG_ERROR) {
		/* why cascade_open() failed: the error code alone does not say */
		pthread_mutex_lock(&C.mu);
		snprintf(C.open_why, sizeof(C.open_why), "%s",
		    strncmp(msg, "cascade: ", 9) == 0 ? msg + 9 : msg);
		pthread_mutex_unlock(&C.mu);
	}
}

static void
state_cb(void *arg, cascade_t *h, int state, const char *detail)
{
	int first_takeover;

	pthread_mutex_lock(&C.mu);
	first_takeover = state == CASCADE_STATE_TAKEN_OVER && C.last_state != state;
	C.last_state = state;
	snprintf(C.last_detail, sizeof(C.last_detail), "%s", detail);
	/* a handle taken over never reconnects: waiting on would wait for nothing */
	if ((state == CASCADE_STATE_REFUSED || state == CASCADE_STATE_TAKEN_OVER) && !C.refused) {
		C.refused = 1;
		snprintf(C.refused_why, sizeof(C.refused_why), "%s", detail);
	}
	pthread_cond_broadcast(&C.cv);
	pthread_mutex_unlock(&C.mu);
	if (C.verbose)
		fprintf(stderr, "cascade: state %s: %s\n", state_name(state), detail);
	else if (state == CASCADE_STATE_HELD)
		/* a temporary refusal: the sender hears it while it waits */
		fprintf(stderr, "cascade: %s; waiting\n", detail);
	else if (first_takeover)
		fprintf(stderr, "cascade: %s: another program uses this address: %s\n", C.addr,
		    detail);
}

/*
 * A failed cascade_open(), in words: the library's last error line says why
 * (the code alone does not). The message names what failed (label thing)
 * once, whether or not the library's line does.
 */
static int
open_say(int code, const char *label, const char *thing, int rc)
{
	char why[512];
	size_t n = strlen(thing);

	pthread_mutex_lock(&C.mu);
	snprintf(why, sizeof(why), "%s", C.open_why);
	pthread_mutex_unlock(&C.mu);
	if (why[0] == '\0')
		return fail(code, "%s %s: %s", label, thing, cascade_strerror(rc));
	if (strncmp(why, thing, n) == 0 && strncmp(why + n, ": ", 2) == 0)
		return fail(code, "%s %s", label, why);
	if (n > 0 && strstr(why, thing) != NULL)
		return fail(code, "%s", why);
	return fail(code, "%s %s: %s", label, thing, why);
}

/* Maps an error of cascade_open() to an exit code and a message. */
static int
open_fail(int rc)
{
	switch (rc) {
	case CASCADE_ESECRET:
		return open_say(EXIT_CONFIG, "secret file", C.secret, rc);
	case CASCADE_ESTATE:
	case CASCADE_EBUSY:
		return open_say(EXIT_CONFIG, "state directory", C.state, rc);
	case CASCADE_ECARRIER:
		if (C.ca == NULL && (strncmp(C.url, "tls+", 4) == 0 ||
		    strncmp(C.url, "https:", 6) == 0))
			return fail(EXIT_CONFIG, "node %s: needs the CA file that signed its "
			    "certificate (-c FILE or CASCADE_CA)", C.url);
		return open_say(EXIT_CONFIG, "node", C.url, rc);
	case CASCADE_ENOMEM:
	case CASCADE_EINTERNAL:
		return open_say(EXIT_INTERNAL, "handle for", C.addr, rc);
	}
	return open_say(EXIT_CONFIG, "handle for", C.addr, rc);
}

/*
 * Opens C.h with the common settings and pcb as its packet callback (NULL:
 * send-only, packets for the address stay with the node). Returns an exit code.
 */
static int
cli_open(cascade_packet_cb pcb)
{
	cascade_options_t *o = NULL;
	int rc, x = EXIT_OK;

	if (C.url == NULL)
		return fail(EXIT_CONFIG, "no node url: give -u URL or set CASCADE_URL");
	if (C.addr == NULL)
		return fail(EXIT_CONFIG, "no client address: give -a NODE/CLIENT or set CASCADE_ADDRESS");
	if (C.secret == NULL)
		return fail(EXIT_CONFIG, "no secret file: give -s FILE or set CASCADE_SECRET");
	if ((rc = cascade_options_new(&o)) != 0)
		return fail(EXIT_INTERNAL, "options: %s", cascade_strerror(rc));
	if ((rc = cascade_options_set_url(o, C.url)) != 0) {
		x = fail(EXIT_CONFIG, "url %s: %s", C.url, rc == CASCADE_EINVAL ? "not a node url "
		    "(tcp://, tls+tcp://, http:// or https://, then HOST:PORT)" : cascade_strerror(rc));
		goto done;
	}
	if ((rc = cascade_options_set_client(o, C.addr)) != 0) {
		x = fail(EXIT_CONFIG, "address %s: %s (NODE/CLIENT)", C.addr, cascade_strerror(rc));
		goto done;
	}
	if ((rc = cascade_options_set_secret_file(o, C.secret)) != 0) {
		x = fail(EXIT_CONFIG, "secret file %s: %s", C.secret, cascade_strerror(rc));
		goto done;
	}
	if (C.ca != NULL && (rc = cascade_options_set_ca_file(o, C.ca)) != 0) {
		x = fail(EXIT_CONFIG, "CA file %s: %s", C.ca, cascade_strerror(rc));
		goto done;
	}
	if ((C.cert != NULL) != (C.key != NULL)) {
		x = fail(EXIT_CONFIG, "--cert and --key go together");
		goto done;
	}
	if (C.cert != NULL && (rc = cascade_options_set_client_cert(o, C.cert, C.key)) != 0) {
		x = fail(EXIT_CONFIG, "client certificate %s: %s", C.cert, cascade_strerror(rc));
		goto done;
	}
	if (C.state != NULL && (rc = cascade_options_set_state_dir(o, C.state)) != 0) {
		x = fail(EXIT_CONFIG, "state directory %s: %s", C.state, cascade_strerror(rc));
		goto done;
	}
	/* a command-line run is short: come back quickly after a lost connection */
	if ((rc = cascade_options_set_reconnect(o, 50, 1000)) != 0 ||
	    (rc = cascade_options_set_state_cb(o, state_cb, NULL)) != 0 ||
	    (rc = cascade_options_set_log_cb(o, log_cb, NULL,
	    C.verbose ? CASCADE_LOG_DEBUG : CASCADE_LOG_WARN)) != 0 ||
	    (pcb != NULL && (rc = cascade_options_set_packet_cb(o, pcb, NULL)) != 0)) {
		x = fail(EXIT_INTERNAL, "options: %s", cascade_strerror(rc));
		goto done;
	}
	if ((rc = cascade_open(o, &C.h)) != 0) {
		C.h = NULL;
		x = open_fail(rc);
	}
done:
	cascade_options_free(o);
	return x;
}

/*
 * Waits (C.mu held) until ready() holds, the node refused us, a signal
 * came (listen only installs handlers) or the deadline passed.
 * Returns EXIT_OK (ready), EXIT_REFUSED, EXIT_TIMEOUT or -1 (signal).
 */
static int
wait_locked(int (*ready)(void))
{
	struct timespec ts;
	int64_t now, until;

	for (;;) {
		if (ready())
			return EXIT_OK;
		if (C.refused)
			return EXIT_REFUSED;
		if (stop_signal)
			return -1;
		now = mono_ms();
		if (C.deadline != NEVER && now >= C.deadline)
			return EXIT_TIMEOUT;
		/* short slices: a signal does not wake a condition variable */
		until = now + 100;
		if (C.deadline != NEVER && C.deadline < until)
			until = C.deadline;
		clock_gettime(CLOCK_REALTIME, &ts);
		until -= now;
		ts.tv_sec += until / 1000;
		ts.tv_nsec += (long)(until % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&C.cv, &C.mu, &ts);
	}
}

static int
refused_fail(void)
{
	char why[sizeof(C.refused_why)];

	pthread_mutex_lock(&C.mu);
	snprintf(why, sizeof(why), "%s", C.refused_why);
	pthread_mutex_unlock(&C.mu);
	return fail(EXIT_REFUSED, "%s: %s", C.addr, why);
}

/* What the connection was doing, for a timeout message. */
static void
conn_story(char *buf, size_t len)
{
	pthread_mutex_lock(&C.mu);
	if (C.last_state == CASCADE_STATE_UP)
		snprintf(buf, len, "the session with %s is up", C.url);
	else if (C.last_state == CASCADE_STATE_HELD)
		/* detail: "the node at URL refuses packets for now: REASON" */
		snprintf(buf, len, "the session is up, but %s", C.last_detail);
	else
		snprintf(buf, len, "connection %s: %s", state_name(C.last_state),
		    C.last_detail[0] != '\0' ? C.last_detail : "no news");
	pthread_mutex_unlock(&C.mu);
}

static double
timeout_s(void)
{
	return (double)C.timeout_ms / 1000.0;
}

/*
 * Waits until the node has custody of everything sent (cascade_flush() in
 * slices, so that a refusal or the deadline ends it). Returns an exit code;
 * what names the packet in messages.
 */
static int
custody(const char *what)
{
	char story[600];
	int rc;

	for (;;) {
		rc = cascade_flush(C.h, left_ms() < 100 ? left_ms() : 100);
		if (rc == CASCADE_OK)
			return EXIT_OK;
		if (rc != CASCADE_ETIMEDOUT)
			return fail(EXIT_INTERNAL, "%s: flush: %s", what, cascade_strerror(rc));
		pthread_mutex_lock(&C.mu);
		rc = C.refused;
		pthread_mutex_unlock(&C.mu);
		if (rc)
			return refused_fail();
		if (left_ms() == 0) {
			conn_story(story, sizeof(story));
			return fail(EXIT_TIMEOUT, "%s: node %s has not taken custody within %g s (%s)",
			    what, C.url, timeout_s(), story);
		}
	}
}

/* The reason the node gave when it refused id at push, or NULL. */
static const char *
rejected_why(const uint8_t *id, char *buf, size_t len)
{
	uint8_t rid[CASCADE_ID_LEN];
	char why[256];
	const char *r = NULL;
	uint32_t i;

	for (i = 0; cascade_flush_rejected(C.h, i, rid, NULL, why, sizeof(why)) == 0; i++)
		if (same_id(rid, id)) {
			snprintf(buf, len, "%s", why);
			r = buf;
		}
	return r;
}

/* -------------------------------------------------------------- options */

enum {
	O_CERT = 200, O_KEY,
	O_RECEIPT = 256, O_WAIT_REPLY, O_TTL, O_URGENT, O_FILE, O_STDIN, O_COUNT, O_REPLY_WITH,
};

/* Options every command takes, also before the command. */
#define COMMON_OPTS \
	{ "url", required_argument, NULL, 'u' }, \
	{ "address", required_argument, NULL, 'a' }, \
	{ "secret", required_argument, NULL, 's' }, \
	{ "ca", required_argument, NULL, 'c' }, \
	{ "cert", required_argument, NULL, O_CERT }, \
	{ "key", required_argument, NULL, O_KEY }, \
	{ "state", required_argument, NULL, 'S' }, \
	{ "json", no_argument, NULL, 'j' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "timeout", required_argument, NULL, 'T' }, \
	{ "help", no_argument, NULL, 'h' }
/* ':' first: getopt stays quiet and opt_fail() words the error */
#define CMD_SHORT ":u:a:s:c:S:jvT:h"    /* after the command: options may follow arguments */
#define COMMON_SHORT "+" CMD_SHORT      /* before it: stop at the command */

/* A bad option ('?' unknown, ':' without its argument), as one usage line. */
static int
opt_fail(int ch, char **argv, const char *cmd)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	/* a long option's optopt is its value, not a letter: name it as given */
	const char *what = optopt > ' ' && optopt < 127 ? opt : argv[optind - 1];

	if (ch == ':')
		return usage_fail("%s%soption %s needs an argument", cmd ? cmd : "", cmd ? ": " : "",
		    what);
	return usage_fail("%s%sunknown option %s", cmd ? cmd : "", cmd ? ": " : "", what);
}

/* Handles a common option; returns -1 if ch is not one, else an exit code (0 ok). */
static int
common_opt(int ch, const char *arg)
{
	switch (ch) {
	case 'u': C.url = arg; return 0;
	case 'a': C.addr = arg; return 0;
	case 's': C.secret = arg; return 0;
	case 'c': C.ca = arg; return 0;
	case O_CERT: C.cert = arg; return 0;
	case O_KEY: C.key = arg; return 0;
	case 'S': C.state = arg; return 0;
	case 'j': C.json = 1; return 0;
	case 'v': C.verbose = 1; return 0;
	case 'T': return parse_timeout(arg);
	case 'h':
		usage_text(stdout);
		exit(EXIT_OK);
	}
	return -1;
}

/* The payload: the PAYLOAD argument, --file F or --stdin (at most one). */
struct payload {
	const char *arg, *file;
	int use_stdin;
	char *buf;
	size_t len;
};

static int
payload_load(struct payload *pl)
{
	int fd, x;

	if ((pl->arg != NULL) + (pl->file != NULL) + pl->use_stdin > 1)
		return usage_fail("give the payload once: PAYLOAD, --file or --stdin");
	if (pl->arg != NULL) {
		pl->len = strlen(pl->arg);
		if ((pl->buf = malloc(pl->len + 1)) == NULL)
			return fail(EXIT_INTERNAL, "out of memory");
		memcpy(pl->buf, pl->arg, pl->len + 1);
		return 0;
	}
	if (pl->use_stdin)
		return read_all(0, "stdin", &pl->buf, &pl->len);
	if (pl->file != NULL) {
		if ((fd = open(pl->file, O_RDONLY | O_CLOEXEC)) == -1)
			return fail(EXIT_USAGE, "payload file %s: %s", pl->file, strerror(errno));
		x = read_all(fd, pl->file, &pl->buf, &pl->len);
		close(fd);
		return x;
	}
	pl->buf = NULL;
	pl->len = 0;
	return 0;
}

/* Checks DST and COMMAND before opening anything. */
static int
check_dst_command(const char *dst, const char *command)
{
	const char *c;

	if (cascade_address_check(dst) != 0)
		return usage_fail("destination %s: %s (NODE or NODE/CLIENT)", dst,
		    cascade_strerror(CASCADE_EADDRESS));
	for (c = command; *c != '\0'; c++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-",
		    *c) == NULL)
			break;
	if (*command == '\0' || *c != '\0' || strlen(command) > CASCADE_COMMAND_MAX)
		return usage_fail("command %s: 1 to %d of A-Z a-z 0-9 . _ : / -", command,
		    CASCADE_COMMAND_MAX);
	return 0;
}

/* -------------------------------------------------- send, request */

struct sendop {
	/* request: print only the reply; send: the id (and the reply) */
	int request, receipt, wait_reply, urgent;
	int64_t ttl_ms;                 /* -1: default */
	const char *dst, *command;
	struct payload pl;

	/* under C.mu: what the callbacks saw */
	uint8_t id[CASCADE_ID_LEN];
	int have_id;
	int done, status;               /* receipt or reply: CASCADE_OK or an error */
	cascade_packet_t *answer;       /* the reply or the notice (a copy) */
	int64_t t0, rtt_ms;
};

static struct sendop S;

static int
send_ready(void)
{
	return S.done;
}

static void
send_request_cb(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
	pthread_mutex_lock(&C.mu);
	S.status = status;
	if (reply != NULL && cascade_packet_dup(reply, &S.answer) != 0)
		S.answer = NULL;
	S.rtt_ms = mono_ms() - S.t0;
	S.done = 1;
	pthread_cond_broadcast(&C.cv);
	pthread_mutex_unlock(&C.mu);
}

static int
notice_status(int notice)
{
	switch (notice) {
	case CASCADE_NOTICE_DELIVERED: return CASCADE_OK;
	case CASCADE_NOTICE_EXPIRED: return CASCADE_EEXPIRED;
	case CASCADE_NOTICE_UNDELIVERABLE: return CASCADE_EUNDELIVERABLE;
	case CASCADE_NOTICE_REJECTED: return CASCADE_EREJECTED;
	case CASCADE_NOTICE_CANCELLED: return CASCADE_ECANCELLED;
	}
	return 1;
}

/* send --receipt, and everything a request's handle gets besides its reply. */
static void
send_packet_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	int st;

	pthread_mutex_lock(&C.mu);
	if (S.receipt && !S.done && S.have_id &&
	    cascade_packet_kind(p) == CASCADE_KIND_NOTICE &&
	    same_id(cascade_packet_ref_id(p), S.id) &&
	    (st = notice_status(cascade_packet_notice(p))) <= 0) {
		S.status = st;
		if (cascade_packet_dup(p, &S.answer) != 0)
			S.answer = NULL;
		S.rtt_ms = mono_ms() - S.t0;
		S.done = 1;
		pthread_cond_broadcast(&C.cv);
		pthread_mutex_unlock(&C.mu);
		return;
	}
	pthread_mutex_unlock(&C.mu);
	stray(p);
}

/* Writes a reply's payload raw to stdout (a newline added on a terminal). */
static void
print_payload(const cascade_packet_t *p)
{
	size_t len;
	const char *pl = cascade_packet_payload(p, &len);

	fwrite(pl, 1, len, stdout);
	if (isatty(STDOUT_FILENO) && (len == 0 || pl[len - 1] != '\n'))
		fputc('\n', stdout);
	fflush(stdout);
}

/* Why a reply, receipt or notice wait ended badly, for the message. */
static const char *
answer_detail(char *buf, size_t len)
{
	const char *t;

	if (S.answer == NULL || cascade_packet_kind(S.answer) != CASCADE_KIND_NOTICE) {
		buf[0] = '\0';
		return buf;
	}
	t = cascade_packet_text(S.answer);
	snprintf(buf, len, " (%s%s%s)", cascade_reason_str(cascade_packet_reason(S.answer)),
	    t[0] != '\0' ? ": " : "", t);
	return buf;
}

static int
send_run(void)
{
	char idt[CASCADE_ID_TEXT_LEN], why[256], detail[512], story[600];
	uint32_t flags = 0;
	uint64_t unacked = 1;
	int rc, x, w;
	json_t *out = NULL;

	if ((x = payload_load(&S.pl)) != 0)
		return x;
	if ((x = cli_open(S.receipt || S.wait_reply ? send_packet_cb : NULL)) != 0)
		goto done;
	if (S.urgent)
		flags |= CASCADE_FLAG_URGENT;
	if (S.receipt)
		flags |= CASCADE_FLAG_RECEIPT | CASCADE_FLAG_NOTIFY;
	/* the callbacks compare with S.id: it is set before they can look */
	pthread_mutex_lock(&C.mu);
	S.t0 = mono_ms();
	if (S.wait_reply) {
		/* the wait is -T, the ttl --ttl (by default -T): a shorter ttl ends in
		 * the expired notice, within the wait */
		int64_t t = C.timeout_ms > 0 ? C.timeout_ms : S.ttl_ms > 0 ? S.ttl_ms :
		    DEFAULT_TIMEOUT_MS;

		if (t > INT32_MAX)
			t = INT32_MAX;
		rc = cascade_request_flags(C.h, S.dst, S.command, S.pl.buf, S.pl.len, (int32_t)t,
		    S.ttl_ms >= 0 ? S.ttl_ms : t, S.urgent ? CASCADE_FLAG_URGENT : 0,
		    send_request_cb, NULL, S.id);
	} else
		rc = cascade_send(C.h, S.dst, S.command, S.pl.buf, S.pl.len,
		    S.ttl_ms > 0 ? S.ttl_ms : 0, flags, S.id);
	S.have_id = rc == 0;
	pthread_mutex_unlock(&C.mu);
	switch (rc) {
	case CASCADE_OK:
		break;
	case CASCADE_EADDRESS:
		x = usage_fail("destination %s: %s", S.dst, cascade_strerror(rc));
		goto done;
	case CASCADE_EINVAL:
		x = usage_fail("send to %s: %s", S.dst, cascade_strerror(rc));
		goto done;
	case CASCADE_ETOOBIG:
		x = fail(EXIT_DELIVERY, "send to %s: %s (%zu bytes)", S.dst, cascade_strerror(rc),
		    S.pl.len);
		goto done;
	case CASCADE_ESTATE:
	case CASCADE_EQUEUE_FULL:
		x = fail(EXIT_CONFIG, "send to %s: %s", S.dst, cascade_strerror(rc));
		goto done;
	default:
		x = fail(EXIT_INTERNAL, "send to %s: %s", S.dst, cascade_strerror(rc));
		goto done;
	}
	id_text(S.id, idt);
	if (C.json) {
		out = json_pack("{s:s, s:s, s:s}", "id", idt, "dst", S.dst, "command", S.command);
		json_object_set_new(out, "custody", json_false());
	}

	/* a request's reply implies custody; a plain send waits for it */
	if (!S.request) {
		snprintf(detail, sizeof(detail), "send %s", idt);
		if ((x = custody(detail)) != 0)
			goto done;
		if (rejected_why(S.id, why, sizeof(why)) != NULL) {
			x = fail(EXIT_DELIVERY, "send %s: rejected by node %s: %s", idt, C.url, why);
			goto done;
		}
		if (out != NULL)
			json_object_set(out, "custody", json_true());
		else {
			printf("%s\n", idt);
			fflush(stdout);
		}
	}
	if (!S.receipt && !S.wait_reply)
		goto done;

	pthread_mutex_lock(&C.mu);
	w = wait_locked(send_ready);
	pthread_mutex_unlock(&C.mu);
	if (w == EXIT_REFUSED) {
		x = refused_fail();
		goto done;
	}
	if (w != EXIT_OK) {
		cascade_pending(C.h, &unacked);
		conn_story(story, sizeof(story));
		if (unacked > 0)
			x = fail(EXIT_TIMEOUT, "%s %s: node %s has not taken custody within %g s (%s)",
			    S.request ? "request" : "send", idt, C.url, timeout_s(), story);
		else
			x = fail(EXIT_TIMEOUT, "%s %s: no %s from %s within %g s", S.request ?
			    "request" : "send", idt, S.receipt ? "receipt" : "reply", S.dst,
			    timeout_s());
		goto done;
	}
	if (out != NULL) {
		json_object_set_new(out, "rtt_ms", json_integer((json_int_t)S.rtt_ms));
		if (S.answer != NULL)
			json_object_set_new(out, S.receipt || S.status != CASCADE_OK ? "notice" :
			    "reply", packet_json(S.answer));
		if (S.receipt && S.status == CASCADE_OK)
			json_object_set_new(out, "delivered", json_true());
		if (S.status == CASCADE_OK || S.answer != NULL)
			json_object_set(out, "custody", json_true());
	}
	switch (S.status) {
	case CASCADE_OK:
		if (S.wait_reply && out == NULL)
			print_payload(S.answer);
		break;
	case CASCADE_ETIMEDOUT:
		x = fail(EXIT_TIMEOUT, "%s %s: no reply from %s within its ttl", S.request ? "request" :
		    "send", idt, S.dst);
		break;
	case CASCADE_EUNDELIVERABLE:
	case CASCADE_EEXPIRED:
	case CASCADE_EREJECTED:
	case CASCADE_ECANCELLED:
		x = fail(EXIT_DELIVERY, "%s %s to %s: %s%s", S.request ? "request" : "send", idt, S.dst,
		    cascade_strerror(S.status), answer_detail(detail, sizeof(detail)));
		break;
	default:
		x = fail(EXIT_INTERNAL, "%s %s: %s", S.request ? "request" : "send", idt,
		    cascade_strerror(S.status));
	}
done:
	if (out != NULL) {
		if (x != EXIT_OK) {
			json_object_set_new(out, "exit", json_integer(x));
			json_object_set_new(out, "error", json_string(last_error));
		}
		json_line(out);
		json_decref(out);
	}
	if (C.h != NULL)
		cascade_close(C.h);
	C.h = NULL;
	cascade_packet_free(S.answer);
	free(S.pl.buf);
	return x;
}

static int
cmd_send(int argc, char **argv, int request)
{
	static const struct option send_opts[] = {
		COMMON_OPTS,
		{ "receipt", no_argument, NULL, O_RECEIPT },
		{ "wait-reply", no_argument, NULL, O_WAIT_REPLY },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "urgent", no_argument, NULL, O_URGENT },
		{ "file", required_argument, NULL, O_FILE },
		{ "stdin", no_argument, NULL, O_STDIN },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option request_opts[] = {
		COMMON_OPTS,
		{ "ttl", required_argument, NULL, O_TTL },
		{ "file", required_argument, NULL, O_FILE },
		{ "stdin", no_argument, NULL, O_STDIN },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = request ? "request" : "send";
	long long v;
	int ch, x;

	S.request = request;
	S.wait_reply = request;
	S.ttl_ms = -1;
	while ((ch = getopt_long(argc, argv, CMD_SHORT, request ? request_opts : send_opts,
	    NULL)) != -1) {
		if ((x = common_opt(ch, optarg)) > 0)
			return x;
		if (x == 0)
			continue;
		switch (ch) {
		case O_RECEIPT: S.receipt = 1; break;
		case O_WAIT_REPLY: S.wait_reply = 1; break;
		case O_URGENT: S.urgent = 1; break;
		case O_FILE: S.pl.file = optarg; break;
		case O_STDIN: S.pl.use_stdin = 1; break;
		case O_TTL:
			if ((v = parse_num(optarg, INT32_MAX)) < 0)
				return usage_fail("--ttl %s: not a number of milliseconds", optarg);
			S.ttl_ms = v;
			break;
		default:
			return opt_fail(ch, argv, name);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc > 3)
		return usage_fail("usage: cascade %s [options] DST COMMAND [PAYLOAD | --file F | "
		    "--stdin]", name);
	S.dst = argv[0];
	S.command = argv[1];
	S.pl.arg = argc == 3 ? argv[2] : NULL;
	if (S.wait_reply && S.receipt)
		/* the reply is what --wait-reply waits for; a receipt would not end it */
		return usage_fail("--wait-reply cannot be combined with --receipt");
	if (S.wait_reply && S.ttl_ms == 0)
		return usage_fail("--ttl 0 (never expires) makes no sense for a request");
	if ((x = check_dst_command(S.dst, S.command)) != 0)
		return x;
	if (C.timeout_ms < 0)
		C.timeout_ms = DEFAULT_TIMEOUT_MS;
	C.deadline = C.timeout_ms > 0 ? mono_ms() + C.timeout_ms : NEVER;
	return send_run();
}

/* ---------------------------------------------------------------- listen */

struct listenop {
	long long count;                /* 0: until a signal or -T */
	const char *reply_with;
	long long seen;                 /* under C.mu */
	int in_cb;                      /* under C.mu: a callback runs */
	int64_t last_cb_ms;             /* under C.mu: when the last callback ended */
	int64_t settle_ms;              /* under C.mu: when listen began to wind down */
	int replied;
};

static struct listenop L;

static int
listen_ready(void)
{
	return L.count > 0 && L.seen >= L.count;
}

/*
 * Winding down: no callback runs (cascade_close() would wait for it), and
 * either a short quiet time passed, in which the SDK sends the pull that
 * acknowledges the last batch, or packets keep coming and we stop anyway.
 */
static int
listen_settled(void)
{
	int64_t now = mono_ms();

	return !L.in_cb && (now - L.last_cb_ms >= SETTLE_QUIET_MS ||
	    now - L.settle_ms >= SETTLE_MAX_MS);
}

/*
 * An environment for --reply-with's command: ours plus the packet's
 * CASCADE_* facts, which start at (*own) and are freed by reply_env_free().
 */
static char **
reply_env(const cascade_packet_t *p, size_t *own)
{
	static const char *names[] = { "CASCADE_ID=", "CASCADE_SRC=", "CASCADE_DST=",
	    "CASCADE_COMMAND=" };
	char idt[CASCADE_ID_TEXT_LEN];
	const char *vals[4];
	size_t n, i, k, j, len;
	char **env;

	vals[0] = id_text(cascade_packet_id(p), idt);
	vals[1] = cascade_packet_src(p);
	vals[2] = cascade_packet_dst(p);
	vals[3] = cascade_packet_command(p);
	for (n = 0; environ[n] != NULL; n++)
		;
	if ((env = calloc(n + 5, sizeof(*env))) == NULL)
		return NULL;
	for (i = k = 0; i < n; i++) {
		for (j = 0; j < 4; j++)
			if (strncmp(environ[i], names[j], strlen(names[j])) == 0)
				break;
		if (j == 4)             /* ours replace inherited ones */
			env[k++] = environ[i];
	}
	*own = k;
	for (j = 0; j < 4; j++) {
		len = strlen(names[j]) + strlen(vals[j]) + 1;
		if ((env[k] = malloc(len)) == NULL)
			break;
		snprintf(env[k++], len, "%s%s", names[j], vals[j]);
	}
	return env;
}

static void
reply_env_free(char **env, size_t own)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = own; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/*
 * Runs cmd under /bin/sh -c with in on its stdin; *out gets its stdout
 * (at most INPUT_MAX bytes), *status its wait status. Returns 0 or -1
 * (errno: it could not run).
 */
static int
run_cmd(const char *cmd, char **env, const char *in, size_t inlen, char **out, size_t *outlen,
    int *status)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { "sh", "-c", (char *)cmd, NULL }, *b = NULL, *nb;
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, rc = -1, e;
	size_t off = 0, n = 0, cap = 0;
	struct pollfd fds[2];
	pid_t pid;
	ssize_t r;

	if (pipe2(pin, O_CLOEXEC) == -1 || pipe2(pout, O_CLOEXEC) == -1)
		goto fail;
	if ((e = posix_spawn_file_actions_init(&fa)) != 0) {
		errno = e;
		goto fail;
	}
	posix_spawn_file_actions_adddup2(&fa, pin[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pout[1], STDOUT_FILENO);
	e = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (e != 0) {
		errno = e;
		goto fail;
	}
	close(pin[0]);
	close(pout[1]);
	pin[0] = pout[1] = -1;
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	if (inlen == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	/* feed stdin and drain stdout together: either may fill its pipe */
	while (pout[0] != -1) {
		fds[0].fd = pout[0];
		fds[0].events = POLLIN;
		fds[1].fd = pin[1];
		fds[1].events = POLLOUT;
		if (poll(fds, pin[1] != -1 ? 2 : 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pin[1] != -1 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			r = write(pin[1], in + off, inlen - off);
			if (r > 0)
				off += (size_t)r;
			/* EPIPE: it does not read its stdin (SIGPIPE is ignored) */
			if (off == inlen || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
			if (n == cap) {
				if (cap >= INPUT_MAX || (nb = realloc(b, cap ? cap * 2 : 4096)) == NULL) {
					close(pout[0]);
					pout[0] = -1;
					break;
				}
				b = nb;
				cap = cap ? cap * 2 : 4096;
			}
			r = read(pout[0], b + n, cap - n);
			if (r > 0)
				n += (size_t)r;
			else if (r == 0 || errno != EINTR) {
				close(pout[0]);
				pout[0] = -1;
			}
		}
	}
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
	*out = b;
	*outlen = n;
	b = NULL;
	rc = 0;
fail:
	e = errno;
	if (pin[0] != -1)
		close(pin[0]);
	if (pin[1] != -1)
		close(pin[1]);
	if (pout[0] != -1)
		close(pout[0]);
	if (pout[1] != -1)
		close(pout[1]);
	free(b);
	errno = e;
	return rc;
}

/* --reply-with: runs the command for request p and sends back its output. */
static void
answer(cascade_t *h, const cascade_packet_t *p)
{
	char idt[CASCADE_ID_TEXT_LEN], cmd[CASCADE_COMMAND_MAX + 1], *out = NULL, **env;
	const char *pl, *suffix;
	size_t len, outlen = 0, own;
	int status = 0, rc;

	id_text(cascade_packet_id(p), idt);
	pl = cascade_packet_payload(p, &len);
	if ((env = reply_env(p, &own)) == NULL) {
		warn("listen: %s: out of memory; not answered", idt);
		return;
	}
	rc = run_cmd(L.reply_with, env, pl, len, &out, &outlen, &status);
	reply_env_free(env, own);
	if (rc != 0) {
		warn("listen: %s: cannot run /bin/sh: %s; not answered", idt, strerror(errno));
		return;
	}
	suffix = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ".reply" : ".error";
	if (strcmp(suffix, ".error") == 0) {
		if (WIFEXITED(status))
			warn("listen: %s: reply command exited %d", idt, WEXITSTATUS(status));
		else
			warn("listen: %s: reply command killed by signal %d", idt,
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	if (strlen(cascade_packet_command(p)) + strlen(suffix) <= CASCADE_COMMAND_MAX &&
	    cascade_packet_command(p)[0] != '\0')
		snprintf(cmd, sizeof(cmd), "%s%s", cascade_packet_command(p), suffix);
	else
		snprintf(cmd, sizeof(cmd), "%s", suffix + 1);
	if ((rc = cascade_reply(h, p, cmd, out, outlen, NULL)) != 0)
		warn("listen: reply to %s from %s: %s", idt, cascade_packet_src(p),
		    cascade_strerror(rc));
	else {
		pthread_mutex_lock(&C.mu);
		L.replied++;
		pthread_mutex_unlock(&C.mu);
	}
	free(out);
}

static void
listen_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	char idt[CASCADE_ID_TEXT_LEN];
	json_t *o;

	pthread_mutex_lock(&C.mu);
	L.in_cb = 1;
	pthread_mutex_unlock(&C.mu);
	if (C.json) {
		o = packet_json(p);
		json_line(o);
		json_decref(o);
	} else {
		packet_text(stdout, p);
		fflush(stdout);
	}
	if (ferror(stdout)) {
		/*
		 * Nobody reads us any more (cascade listen | head), or the disk
		 * is full. Die here, inside the callback, as SIGPIPE would have
		 * made us: the library then hands this packet over again to the
		 * next run (flagged as a redelivery with -S) instead of losing it.
		 */
		fprintf(stderr, "cascade: listen: standard output: %s; packet %s stays with the "
		    "node\n", strerror(errno), id_text(cascade_packet_id(p), idt));
		_exit(EXIT_INTERNAL);
	}
	/* requests: data packets that answer nothing themselves */
	if (L.reply_with != NULL && cascade_packet_kind(p) == CASCADE_KIND_DATA &&
	    cascade_packet_reply_to(p) == NULL)
		answer(h, p);
	pthread_mutex_lock(&C.mu);
	L.seen++;
	L.in_cb = 0;
	L.last_cb_ms = mono_ms();
	pthread_cond_broadcast(&C.cv);
	pthread_mutex_unlock(&C.mu);
}

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static int
cmd_listen(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		{ "count", required_argument, NULL, O_COUNT },
		{ "reply-with", required_argument, NULL, O_REPLY_WITH },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa;
	int ch, x, w, rc, replied;
	char story[600];

	while ((ch = getopt_long(argc, argv, CMD_SHORT, opts, NULL)) != -1) {
		if ((x = common_opt(ch, optarg)) > 0)
			return x;
		if (x == 0)
			continue;
		switch (ch) {
		case O_COUNT:
			if ((L.count = parse_num(optarg, LLONG_MAX)) <= 0)
				return usage_fail("--count %s: not a positive number", optarg);
			break;
		case O_REPLY_WITH:
			L.reply_with = optarg;
			break;
		default:
			return opt_fail(ch, argv, "listen");
		}
	}
	if (optind != argc)
		return usage_fail("usage: cascade listen [options] [--count N] [--reply-with CMD]");
	if (stdout_closed)
		return fail(EXIT_INTERNAL, "listen: standard output is closed");
	/* listen runs until --count, -T or a signal: no default timeout */
	C.deadline = C.timeout_ms > 0 ? mono_ms() + C.timeout_ms : NEVER;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if ((x = cli_open(listen_cb)) != 0)
		return x;
	pthread_mutex_lock(&C.mu);
	w = wait_locked(listen_ready);
	/*
	 * Let the batch in progress end: each packet the node handed over is
	 * printed (a batch may hold more than --count), and the SDK acknowledges
	 * a batch with its next pull, which must leave before we close.
	 */
	if (w != EXIT_REFUSED) {
		int64_t saved = C.deadline;

		C.deadline = mono_ms() + 2000;
		L.settle_ms = mono_ms();
		stop_signal = 0;
		wait_locked(listen_settled);
		C.deadline = saved;
	}
	replied = L.replied;
	pthread_mutex_unlock(&C.mu);
	if (replied > 0 && w != EXIT_REFUSED &&
	    (rc = cascade_flush(C.h, left_ms() > 10000 ? left_ms() : 10000)) != 0)
		x = fail(EXIT_TIMEOUT, "listen: the node has not taken custody of %d replies: %s",
		    replied, cascade_strerror(rc));
	if (w == EXIT_REFUSED)
		x = refused_fail();
	else if (w == EXIT_TIMEOUT && L.count > 0 && L.seen < L.count) {
		conn_story(story, sizeof(story));
		x = fail(EXIT_TIMEOUT, "listen: %lld of %lld packets within %g s (%s)", L.seen, L.count,
		    timeout_s(), story);
	}
	cascade_close(C.h);
	C.h = NULL;
	return x;
}

/* ---------------------------------------------------------------- cancel */

struct cancelop {
	uint8_t id[CASCADE_ID_LEN], cid[CASCADE_ID_LEN];
	int have_cid, done, notice;
	cascade_packet_t *answer;
};

static struct cancelop K;

static int
cancel_ready(void)
{
	return K.done;
}

static void
cancel_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	int n = cascade_packet_notice(p);
	const uint8_t *ref = cascade_packet_ref_id(p);

	pthread_mutex_lock(&C.mu);
	if (!K.done && cascade_packet_kind(p) == CASCADE_KIND_NOTICE &&
	    ((same_id(ref, K.id) && (n == CASCADE_NOTICE_CANCELLED ||
	    n == CASCADE_NOTICE_CANCEL_TOO_LATE)) ||
	    (K.have_cid && same_id(ref, K.cid) && n != CASCADE_NOTICE_DELIVERED))) {
		/* the outcome, or news that the cancel itself went nowhere */
		K.notice = n;
		if (cascade_packet_dup(p, &K.answer) != 0)
			K.answer = NULL;
		K.done = 1;
		pthread_cond_broadcast(&C.cv);
		pthread_mutex_unlock(&C.mu);
		return;
	}
	pthread_mutex_unlock(&C.mu);
	stray(p);
}

static int
cmd_cancel(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	char idt[CASCADE_ID_TEXT_LEN], cidt[CASCADE_ID_TEXT_LEN], detail[80];
	int ch, x, w, rc;
	json_t *out = NULL;

	while ((ch = getopt_long(argc, argv, CMD_SHORT, opts, NULL)) != -1) {
		if ((x = common_opt(ch, optarg)) > 0)
			return x;
		if (x != 0)
			return opt_fail(ch, argv, "cancel");
	}
	if (optind + 1 != argc)
		return usage_fail("usage: cascade cancel [options] ID");
	if (cascade_id_parse(argv[optind], K.id) != 0)
		return usage_fail("cancel %s: not a packet id", argv[optind]);
	if (C.state == NULL)
		/* only the state directory remembers where a packet of an earlier run went */
		return usage_fail("cancel needs the state directory the packet was sent with "
		    "(-S DIR or CASCADE_STATE)");
	if (C.timeout_ms < 0)
		C.timeout_ms = DEFAULT_TIMEOUT_MS;
	C.deadline = C.timeout_ms > 0 ? mono_ms() + C.timeout_ms : NEVER;
	id_text(K.id, idt);
	if ((x = cli_open(cancel_cb)) != 0)
		return x;
	pthread_mutex_lock(&C.mu);
	rc = cascade_cancel(C.h, K.id, K.cid);
	K.have_cid = rc == 0;
	pthread_mutex_unlock(&C.mu);
	if (rc == CASCADE_ENOTFOUND) {
		x = fail(EXIT_CONFIG, "cancel %s: not a packet %s sent with state directory %s", idt,
		    C.addr, C.state);
		goto done;
	}
	if (rc != 0) {
		x = fail(rc == CASCADE_ESTATE ? EXIT_CONFIG : EXIT_INTERNAL, "cancel %s: %s", idt,
		    cascade_strerror(rc));
		goto done;
	}
	id_text(K.cid, cidt);
	if (C.json)
		out = json_pack("{s:s, s:s}", "id", idt, "cancel_id", cidt);
	snprintf(detail, sizeof(detail), "cancel %s", idt);
	if ((x = custody(detail)) != 0)
		goto done;
	pthread_mutex_lock(&C.mu);
	w = wait_locked(cancel_ready);
	pthread_mutex_unlock(&C.mu);
	if (w == EXIT_REFUSED) {
		x = refused_fail();
		goto done;
	}
	if (w != EXIT_OK) {
		x = fail(EXIT_TIMEOUT, "cancel %s: no outcome within %g s", idt, timeout_s());
		goto done;
	}
	if (out != NULL) {
		json_object_set_new(out, "outcome", json_string(notice_name(K.notice)));
		if (K.answer != NULL)
			json_object_set_new(out, "notice", packet_json(K.answer));
	} else
		printf("%s %s\n", idt, notice_name(K.notice));
	if (K.notice == CASCADE_NOTICE_CANCELLED)
		x = EXIT_OK;
	else if (K.notice == CASCADE_NOTICE_CANCEL_TOO_LATE)
		x = fail(EXIT_DELIVERY, "cancel %s: too late: it was delivered already", idt);
	else
		x = fail(EXIT_DELIVERY, "cancel %s: the cancel itself is %s: %s", idt,
		    notice_name(K.notice), K.answer != NULL ? cascade_packet_text(K.answer) : "");
done:
	if (out != NULL) {
		if (x != EXIT_OK) {
			json_object_set_new(out, "exit", json_integer(x));
			json_object_set_new(out, "error", json_string(last_error));
		}
		json_line(out);
		json_decref(out);
	}
	cascade_close(C.h);
	C.h = NULL;
	cascade_packet_free(K.answer);
	return x;
}

/* ------------------------------------------------------------------ main */

static void
usage_text(FILE *f)
{
	fputs(
	    "usage: cascade [options] command [command options] [arguments]\n"
	    "\n"
	    "  send [--receipt | --wait-reply] [--ttl MS] [--urgent]\n"
	    "       DST COMMAND [PAYLOAD | --file F | --stdin]\n"
	    "                    queue a packet; exit 0 once the node has custody\n"
	    "  listen [--count N] [--reply-with CMD]\n"
	    "                    print incoming packets (text, or JSON lines with -j)\n"
	    "  request [--ttl MS] DST COMMAND [PAYLOAD | --file F | --stdin]\n"
	    "                    send and print the reply\n"
	    "  cancel ID         cancel a packet sent with the same -S state directory\n"
	    "\n"
	    "options (also from CASCADE_URL, CASCADE_ADDRESS, CASCADE_SECRET, CASCADE_CA,\n"
	    "CASCADE_STATE):\n"
	    "  -u URL            the node (tcp://, tls+tcp://, http://, https://)\n"
	    "  -a NODE/CLIENT    our address\n"
	    "  -s FILE           our secret file (mode 0600)\n"
	    "  -c FILE           CA certificate for tls+tcp:// and https://\n"
	    "  --cert FILE --key FILE\n"
	    "                    our certificate, for a node that asks for one (mutual TLS)\n"
	    "  -S DIR            state directory (outbox and delivered ids survive restarts)\n"
	    "  -j, --json        JSON output\n"
	    "  -v                the SDK's log on stderr\n"
	    "  -T SECONDS        overall timeout (default 30; listen: none; 0: none)\n"
	    "\n"
	    "exit: 0 ok, 1 usage, 2 config or secret, 3 refused by the node, 4 timeout,\n"
	    "      5 delivery failed, 6 internal error. See cascade(1).\n", f);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd, *e;
	int ch, x, fd;

	/* a reply command that does not read its stdin must not kill us */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * With 0, 1 or 2 closed, the state directory or the node's socket
	 * would get that descriptor and our output would land in it.
	 */
	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
				return EXIT_INTERNAL;
			if (fd == STDOUT_FILENO)
				stdout_closed = 1;
		}
	while ((ch = getopt_long(argc, argv, COMMON_SHORT "V", opts, NULL)) != -1) {
		if ((x = common_opt(ch, optarg)) > 0)
			return x;
		if (x == 0)
			continue;
		if (ch == 'V') {
			printf("cascade %s\n", cascade_version(NULL));
			return EXIT_OK;
		}
		return opt_fail(ch, argv, NULL);
	}
	if (optind >= argc) {
		usage_text(stderr);
		return EXIT_USAGE;
	}
	/* the environment fills in what the command line left out */
	if (C.url == NULL && (e = getenv("CASCADE_URL")) != NULL && *e != '\0')
		C.url = e;
	if (C.addr == NULL && (e = getenv("CASCADE_ADDRESS")) != NULL && *e != '\0')
		C.addr = e;
	if (C.secret == NULL && (e = getenv("CASCADE_SECRET")) != NULL && *e != '\0')
		C.secret = e;
	if (C.ca == NULL && (e = getenv("CASCADE_CA")) != NULL && *e != '\0')
		C.ca = e;
	if (C.state == NULL && (e = getenv("CASCADE_STATE")) != NULL && *e != '\0')
		C.state = e;
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;             /* getopt starts over on the command's arguments */
	if (strcmp(cmd, "send") == 0)
		return cmd_send(argc, argv, 0);
	if (strcmp(cmd, "request") == 0)
		return cmd_send(argc, argv, 1);
	if (strcmp(cmd, "listen") == 0)
		return cmd_listen(argc, argv);
	if (strcmp(cmd, "cancel") == 0)
		return cmd_cancel(argc, argv);
	if (strcmp(cmd, "help") == 0) {
		usage_text(stdout);
		return EXIT_OK;
	}
	return usage_fail("unknown command %s (send, listen, request, cancel)", cmd);
}
