/*
 * common.c — cascade(1)'s shared state and small helpers: messages on
 * stderr, clocks, packet ids, numbers, UTF-8 and base64.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct cli C = {
	.timeout_ms = -1,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

volatile sig_atomic_t stop_signal;
int stdout_closed;
char last_error[512];

/* Prints "cascade: MESSAGE" on stderr and returns code. Main thread only. */
int
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
void
warn(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cascade: %s\n", line);
}

int
usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int
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

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before the deadline, for SDK calls (0 when passed). */
int32_t
left_ms(void)
{
	int64_t l;

	if (C.deadline == NEVER)
		return INT32_MAX;
	l = C.deadline - mono_ms();
	return l <= 0 ? 0 : l > INT32_MAX ? INT32_MAX : (int32_t)l;
}

char *
id_text(const uint8_t *id, char buf[CASCADE_ID_TEXT_LEN])
{
	if (id == NULL || cascade_id_format(id, buf, CASCADE_ID_TEXT_LEN) != 0)
		snprintf(buf, CASCADE_ID_TEXT_LEN, "-");
	return buf;
}

int
same_id(const uint8_t *a, const uint8_t *b)
{
	return a != NULL && b != NULL && memcmp(a, b, CASCADE_ID_LEN) == 0;
}

/* The sender's clock when it made the id: its first 48 bits (cascade_id_new()). */
int64_t
id_time_ms(const uint8_t *id)
{
	int64_t ms = 0;
	int i;

	for (i = 0; i < 6; i++)
		ms = ms << 8 | id[i];
	return ms;
}

/* Parses a non-negative integer option; returns -1 when it is not one. */
long long
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
int
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

const char *
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
	case CASCADE_STATE_NEW_SESSION: return "new session";
	case CASCADE_STATE_UNTRUSTED: return "untrusted";
	}
	return "unknown";
}

const char *
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
int
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
int
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
char *
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

/* A notice as the status its request or receipt ends with; 1: not an outcome. */
int
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
