/* log.c — stderr or syslog logging for the daemon, and x* allocators. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "packets.h"

static int log_foreground = 1;
static int log_verbose;
static FILE *log_out;                   /* NULL: stderr (tests set a file) */
static int64_t (*log_clock)(void);      /* NULL: CLOCK_MONOTONIC (tests set theirs) */

/*
 * Rate limit: a warning or error whose text was logged in the last minute
 * is counted, not logged; when its minute is over, one line says how many
 * were held back ("... 37 more in the last minute"). A flapping link that
 * fails every 100 ms then logs two lines a minute, not 600, and the first
 * one still arrives at once. A few slots: the busiest repeated lines are
 * few; a new text takes the slot least recently used.
 */
#define RL_SLOTS 16
#define RL_WINDOW_MS 60000
#define RL_TEXT 512

struct rl_slot {
	uint64_t hash;          /* 0: free */
	int pri;
	int64_t since_ms;       /* the window started with the line logged */
	int64_t last_ms;
	unsigned held;          /* identical lines not logged since */
	char text[RL_TEXT];
};

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rl_slot rl_slots[RL_SLOTS];
static void (*rl_held_fn)(void);        /* log_on_held */

void
log_init(int foreground, int verbose, const char *ident)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

void
log_test_hooks(FILE *out, int64_t (*now_ms)(void))
{
	log_out = out;
	log_clock = now_ms;
	memset(rl_slots, 0, sizeof(rl_slots));
}

static int64_t
rl_now(void)
{
	return log_clock != NULL ? log_clock() : cmono_ms();
}

static uint64_t
rl_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

static void
emit(int pri, const char *msg)
{
	if (log_foreground) {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		/* one fprintf: lines from several threads do not interleave */
		fprintf(log_out != NULL ? log_out : stderr, "%s.%03ld %s%s\n", when,
		    ts.tv_nsec / 1000000,
		    pri <= LOG_ERR ? "error: " : pri <= LOG_WARNING ? "warning: " : "", msg);
	} else
		syslog(pri, "%s", msg);
}

/* The "more" line of a slot whose window is over; the slot is freed. Under rl_lock. */
static void
rl_close(struct rl_slot *sl)
{
	char line[RL_TEXT + 64];

	if (sl->held > 0) {
		snprintf(line, sizeof(line), "%s ... %u more in the last minute", sl->text,
		    sl->held);
		emit(sl->pri, line);
	}
	sl->hash = 0;
}

/* Windows over by now end with their count. Under rl_lock. */
static void
rl_expire(int64_t now)
{
	unsigned i;

	for (i = 0; i < RL_SLOTS; i++)
		if (rl_slots[i].hash != 0 && now - rl_slots[i].since_ms >= RL_WINDOW_MS)
			rl_close(&rl_slots[i]);
}

int64_t
log_flush(void)
{
	int64_t now = rl_now(), due = -1, left;
	unsigned i;

	pthread_mutex_lock(&rl_lock);
	rl_expire(now);
	for (i = 0; i < RL_SLOTS; i++)
		if (rl_slots[i].hash != 0 && rl_slots[i].held > 0) {
			left = rl_slots[i].since_ms + RL_WINDOW_MS - now;
			if (due < 0 || left < due)
				due = left;
		}
	pthread_mutex_unlock(&rl_lock);
	return due;
}

void
log_on_held(void (*fn)(void))
{
	pthread_mutex_lock(&rl_lock);
	rl_held_fn = fn;
	pthread_mutex_unlock(&rl_lock);
}

/*
 * 1 when msg repeats a line logged in the last minute: counted, not logged
 * (2 when it is the first held back in its window). Under rl_lock.
 */
static int
rl_hold(int pri, const char *msg, int64_t now)
{
	uint64_t h = rl_hash(msg);
	struct rl_slot *sl, *lru = &rl_slots[0];
	unsigned i;

	for (i = 0; i < RL_SLOTS; i++) {
		sl = &rl_slots[i];
		if (sl->hash == h && sl->pri == pri && strncmp(sl->text, msg, RL_TEXT - 1) == 0) {
			sl->last_ms = now;
			return sl->held++ == 0 ? 2 : 1;
		}
		if (sl->hash == 0 || (lru->hash != 0 && sl->last_ms < lru->last_ms))
			lru = sl;
	}
	if (lru->hash != 0)
		rl_close(lru);          /* evicted early: its count is not lost */
	lru->hash = h;
	lru->pri = pri;
	lru->since_ms = lru->last_ms = now;
	lru->held = 0;
	snprintf(lru->text, sizeof(lru->text), "%s", msg);
	return 0;
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[2048];
	int saved = errno;
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (pri <= LOG_WARNING && pri != LOG_CRIT) {
		int64_t now = rl_now();
		void (*fn)(void) = NULL;
		int held;

		pthread_mutex_lock(&rl_lock);
		rl_expire(now);
		held = rl_hold(pri, msg, now);
		if (!held)
			emit(pri, msg);
		else if (held == 2)
			fn = rl_held_fn;
		pthread_mutex_unlock(&rl_lock);
		if (fn != NULL)
			fn();           /* outside the lock: it may log */
	} else
		emit(pri, msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, 1);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("xmalloc %zu", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("xcalloc %zu x %zu", n, size);
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (p == NULL)
		fatal("xrealloc %zu", n);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("xstrdup");
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("xasprintf");
	return n;
}
