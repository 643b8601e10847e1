/*
 * log.h — the daemon's logging, after OpenSMTPD: log_warn and fatal append
 * strerror(errno), log_warnx and fatalx don't. Messages start with their
 * subsystem ("journal: ...", "link fj-xm: ..."). Foreground (-d) logs go to
 * stderr with a timestamp; a daemon logs to syslog. fatal only at start-up,
 * and out of memory at any time (xmalloc below, and the few allocations
 * that are not xmalloc's: packing a reply, notify.c's buffers); a run-time
 * failure of one peer is logged and returned, and the daemon keeps serving.
 */
#ifndef CASCADE_LOG_H
#define CASCADE_LOG_H

#include <stdarg.h>

#define PRINTF(f, a) __attribute__((format(printf, f, a)))

void log_init(int foreground, int verbose, const char *ident);
void log_setverbose(int verbose);
void log_warn(const char *, ...) PRINTF(1, 2);
void log_warnx(const char *, ...) PRINTF(1, 2);
void log_info(const char *, ...) PRINTF(1, 2);
void log_debug(const char *, ...) PRINTF(1, 2);
/*
 * Warnings and errors repeated word for word within a minute are counted
 * instead of logged; the count follows as "<line> ... N more in the last
 * minute" once the minute is over. log_flush writes the counts of minutes
 * that are over and returns the ms until the next is due, -1 when no count
 * is held. log_on_held(fn): fn() runs (on the logging thread, no lock held)
 * when a window first holds a line back, so the loop arms its flush timer
 * then and not every few seconds. NULL: none.
 */
#include <stdint.h>
int64_t log_flush(void);
void log_on_held(void (*fn)(void));
/* Tests: log lines to out (not stderr) and take the time from now_ms. */
#include <stdint.h>
#include <stdio.h>
void log_test_hooks(FILE *out, int64_t (*now_ms)(void));
void fatal(const char *, ...) PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *, ...) PRINTF(1, 2) __attribute__((noreturn));

/* Memory that dies on exhaustion, so callers don't check for NULL (daemon only). */
#include <stddef.h>
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);
int xasprintf(char **, const char *, ...) PRINTF(2, 3);

#endif
