/*
 * listen.c — cascade listen: prints incoming packets, and answers requests
 * with --reply-with's command.
 *
 *	cascade [options] listen [--count N] [--reply-with CMD]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define SETTLE_QUIET_MS 50      /* quiet time before closing (the ack's pull) */
#define SETTLE_MAX_MS 300       /* and at most this long, between callbacks */

extern char **environ;

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

int
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
