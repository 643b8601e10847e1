/*
 * cli.h — what the files of cascade(1) share: exit codes, the one handle
 * and its callbacks' state, and the helpers, grouped by the file that has
 * them. Each command lives in a file of its own (send.c, listen.c, ...)
 * and exports one cmd_NAME(argc, argv) that main.c dispatches to.
 */
#ifndef CASCADE_CLI_H
#define CASCADE_CLI_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
	/* a command's own state callback, run after the common one (NULL: none) */
	void (*on_state)(int state, const char *detail);
};

extern struct cli C;
extern volatile sig_atomic_t stop_signal;
extern int stdout_closed;               /* we started without a standard output */
extern char last_error[512];            /* the last fail() message, for JSON output */

/* main.c */
void usage_text(FILE *f);

/* common.c: messages, clocks, ids, numbers, text */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t mono_ms(void);
int64_t wall_ms(void);
int32_t left_ms(void);
char *id_text(const uint8_t *id, char buf[CASCADE_ID_TEXT_LEN]);
int same_id(const uint8_t *a, const uint8_t *b);
int64_t id_time_ms(const uint8_t *id);
long long parse_num(const char *s, long long max);
int parse_timeout(const char *s);
const char *state_name(int s);
const char *notice_name(int n);
int notice_status(int notice);
int read_all(int fd, const char *what, char **buf, size_t *len);
int utf8_clean(const unsigned char *s, size_t len);
char *base64(const unsigned char *s, size_t len);

/* output.c: received packets as JSON or text, stdout one line at a time */
json_t *packet_json(const cascade_packet_t *p);
void packet_text(FILE *f, const cascade_packet_t *p);
void json_line(json_t *o);
void stray(const cascade_packet_t *p);

/* outq.c: stdout through a queue and a writer thread (batch) */
int outq_start(void);
uint64_t outq_put(json_t *o);
void outq_wait(uint64_t seq);
void outq_wait_below(size_t bytes);
void outq_close(void);

/* handle.c: the one handle, waiting on it, custody */
int cli_open(cascade_packet_cb pcb);
int wait_locked(int (*ready)(void));
int refused_fail(void);
void conn_story(char *buf, size_t len);
double timeout_s(void);
int custody(const char *what);
const char *rejected_why(const uint8_t *id, char *buf, size_t len);

/* options.c: the options every command takes, payloads, addresses */
enum {
	O_CERT = 200, O_KEY,
	O_RECEIPT = 256, O_WAIT_REPLY, O_TTL, O_URGENT, O_FILE, O_STDIN, O_COUNT, O_REPLY_WITH,
	O_WAIT_REPLIES,
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

/* The payload: the PAYLOAD argument, --file F or --stdin (at most one). */
struct payload {
	const char *arg, *file;
	int use_stdin;
	char *buf;
	size_t len;
};

int opt_fail(int ch, char **argv, const char *cmd);
int common_opt(int ch, const char *arg);
int payload_load(struct payload *pl);
int check_dst_command(const char *dst, const char *command);

/* one file each */
int cmd_send(int argc, char **argv, int request);       /* send.c: send, request */
int cmd_listen(int argc, char **argv);                  /* listen.c */
int cmd_cancel(int argc, char **argv);                  /* cancel.c */
int cmd_batch(int argc, char **argv);                   /* batch.c */

#endif
