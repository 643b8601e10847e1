/*
 * nngref.c — the raw transport references of BENCH.md, measured in the same
 * run as the chain: what nng alone does on tcp://127.0.0.1, with no journal,
 * no protobuf and no daemon.
 *
 *	nngref rtt    [-n COUNT] [-z BYTES]
 *	    req/rep, one request at a time, BYTES each way: round trips/s and
 *	    the round trip's p50 / p99 / p99.9.
 *	nngref window [-n COUNT] [-z BYTES] [-w WINDOW]
 *	    req/rep with WINDOW requests in flight (one nng context and aio
 *	    each, as the daemon's push window does), BYTES requests and 16-byte
 *	    replies: requests/s, i.e. the one-way throughput of the carrier the
 *	    chain uses.
 *	nngref oneway [-n COUNT] [-z BYTES] [-B BUFFER]
 *	    pair1, one way, no replies: messages/s. -B sets NNG_OPT_SENDBUF /
 *	    NNG_OPT_RECVBUF in messages (0: nng's defaults), as BENCH.md's
 *	    "nng pair1 over tcp loopback" figures.
 *
 * The server side runs in a child process (forked before nng starts a
 * thread), listening on port 0; it hands its port to the parent through a
 * pipe. Each mode prints one line of key=value words, e.g.
 * "nngref rtt size=1024 count=10000 per_s=5800.1 p50_us=160.2 ...".
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#define WINDOW_MAX 256
#define REPLY_BYTES 16

static long count = 10000;
static size_t size = 1024;
static int window = 8, qbuf;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "nngref: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

#define NCK(what, x) do {                                                      \
	int _rc = (x);                                                         \
	if (_rc != 0)                                                          \
		die("%s: %s", (what), nng_strerror(_rc));                      \
} while (0)

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of sorted v[0..n-1] (nearest rank). */
static double
quantile(const double *v, long n, double q)
{
	long i = (long)(q * (double)n);

	if (n == 0)
		return 0;
	return v[i >= n ? n - 1 : i];
}

/* ---------------------------------------------------------------- server */

/* Listens on tcp://127.0.0.1:0 and returns the port the kernel chose. */
static int
listen_any(nng_socket s)
{
	nng_listener l;
	nng_sockaddr sa;

	NCK("listen", nng_listen(s, "tcp://127.0.0.1:0", &l, 0));
	NCK("listener address", nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa));
	return ntohs(sa.s_in.sa_port);
}

static void
tell_port(int fd, int port)
{
	if (write(fd, &port, sizeof(port)) != (ssize_t)sizeof(port))
		die("pipe: %s", strerror(errno));
	close(fd);
}

/* rep: answers every request, with the request itself (rtt) or 16 bytes. */
struct srv_ctx {
	nng_socket s;
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
	int echo;
};

static void
srv_ctx_cb(void *arg)
{
	struct srv_ctx *c = arg;
	nng_msg *m;
	int rc = nng_aio_result(c->aio);

	if (rc != 0) {
		if (c->sending)
			nng_msg_free(nng_aio_get_msg(c->aio));
		if (rc == NNG_ECLOSED)
			return;
		c->sending = 0;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (c->sending) {
		c->sending = 0;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	m = nng_aio_get_msg(c->aio);
	if (!c->echo)
		nng_msg_chop(m, nng_msg_len(m) - REPLY_BYTES);
	c->sending = 1;
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
}

static void
serve_rep(int fd, int echo)
{
	struct srv_ctx c[WINDOW_MAX];
	nng_socket s;
	int i;

	NCK("rep0", nng_rep0_open(&s));
	tell_port(fd, listen_any(s));
	for (i = 0; i < window; i++) {
		c[i].s = s;
		c[i].sending = 0;
		c[i].echo = echo;
		NCK("aio", nng_aio_alloc(&c[i].aio, srv_ctx_cb, &c[i]));
		NCK("ctx", nng_ctx_open(&c[i].ctx, s));
		nng_ctx_recv(c[i].ctx, c[i].aio);
	}
	/* the client's last word is a closed connection; a pause ends us too */
	for (;;)
		pause();
}

static void
serve_pair(int fd)
{
	nng_socket s;
	nng_msg *m;
	long got = 0;
	int rc;

	NCK("pair1", nng_pair1_open(&s));
	if (qbuf > 0) {
		NCK("recvbuf", nng_socket_set_int(s, NNG_OPT_RECVBUF, qbuf));
		NCK("sendbuf", nng_socket_set_int(s, NNG_OPT_SENDBUF, qbuf));
	}
	tell_port(fd, listen_any(s));
	NCK("recvtimeo", nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 20000));
	while (got < count) {
		if ((rc = nng_recvmsg(s, &m, 0)) != 0)
			die("oneway server: receive after %ld: %s", got, nng_strerror(rc));
		nng_msg_free(m);
		got++;
	}
	/* one message back: the sender stops its clock when it arrives */
	NCK("alloc", nng_msg_alloc(&m, 1));
	NCK("send", nng_sendmsg(s, m, 0));
	usleep(200000);
	exit(0);
}

/* Forks the server; returns its pid, *url gets where to dial. */
static pid_t
start_server(const char *mode, char *url, size_t urllen)
{
	int fds[2], port;
	pid_t pid;

	if (pipe(fds) == -1)
		die("pipe: %s", strerror(errno));
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		if (strcmp(mode, "oneway") == 0)
			serve_pair(fds[1]);
		serve_rep(fds[1], strcmp(mode, "rtt") == 0);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &port, sizeof(port)) != (ssize_t)sizeof(port))
		die("the server did not start");
	close(fds[0]);
	snprintf(url, urllen, "tcp://127.0.0.1:%d", port);
	return pid;
}

/* ---------------------------------------------------------------- client */

static nng_msg *
new_msg(void)
{
	nng_msg *m;

	NCK("alloc", nng_msg_alloc(&m, size));
	memset(nng_msg_body(m), 'x', size);
	return m;
}

static void
run_rtt(const char *url)
{
	double *lat = calloc((size_t)count, sizeof(double)), t0 = now_s(), t1, el;
	nng_socket s;
	nng_msg *m;
	long i, warm = count / 20;

	if (lat == NULL)
		die("out of memory");
	NCK("req0", nng_req0_open(&s));
	NCK("dial", nng_dial(s, url, NULL, 0));
	NCK("recvtimeo", nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000));
	/* a few round trips first: connection set-up is not what we measure */
	for (i = -warm; i < count; i++) {
		if (i == 0)
			t0 = now_s();
		t1 = now_s();
		NCK("send", nng_sendmsg(s, new_msg(), 0));
		NCK("recv", nng_recvmsg(s, &m, 0));
		if (nng_msg_len(m) != size)
			die("rtt: reply of %zu bytes", nng_msg_len(m));
		nng_msg_free(m);
		if (i >= 0)
			lat[i] = (now_s() - t1) * 1e6;
	}
	el = now_s() - t0;
	qsort(lat, (size_t)count, sizeof(double), cmp_double);
	printf("nngref rtt size=%zu count=%ld per_s=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f\n",
	    size, count, (double)count / el, quantile(lat, count, 0.5),
	    quantile(lat, count, 0.99), quantile(lat, count, 0.999));
	nng_close(s);
	free(lat);
}

/* The window: each context sends again as soon as its reply is in. */
static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cond = PTHREAD_COND_INITIALIZER;
static long w_sent, w_done;
static int w_err;

struct cli_ctx {
	nng_ctx ctx;
	nng_aio *aio;
	int sent;
};

/* Starts the next request on c if any is left; called with w_lock held. */
static void
cli_next(struct cli_ctx *c)
{
	if (w_sent >= count)
		return;
	w_sent++;
	c->sent = 0;
	nng_aio_set_msg(c->aio, new_msg());
	nng_ctx_send(c->ctx, c->aio);
}

static void
cli_ctx_cb(void *arg)
{
	struct cli_ctx *c = arg;
	int rc = nng_aio_result(c->aio);

	if (rc == 0 && !c->sent) {
		c->sent = 1;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	pthread_mutex_lock(&w_lock);
	if (rc != 0) {
		if (!c->sent)
			nng_msg_free(nng_aio_get_msg(c->aio));
		w_err = rc;
	} else {
		nng_msg_free(nng_aio_get_msg(c->aio));
		w_done++;
		cli_next(c);
	}
	pthread_cond_signal(&w_cond);
	pthread_mutex_unlock(&w_lock);
}

static void
run_window(const char *url)
{
	struct cli_ctx c[WINDOW_MAX];
	nng_socket s;
	nng_msg *m;
	double t0, el;
	int i;

	NCK("req0", nng_req0_open(&s));
	NCK("resend", nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE));
	NCK("dial", nng_dial(s, url, NULL, 0));
	/* one round trip first, so the connection is up before the clock starts */
	NCK("send", nng_sendmsg(s, new_msg(), 0));
	NCK("recv", nng_recvmsg(s, &m, 0));
	nng_msg_free(m);
	for (i = 0; i < window; i++) {
		NCK("aio", nng_aio_alloc(&c[i].aio, cli_ctx_cb, &c[i]));
		NCK("ctx", nng_ctx_open(&c[i].ctx, s));
		nng_aio_set_timeout(c[i].aio, 20000);
	}
	t0 = now_s();
	pthread_mutex_lock(&w_lock);
	for (i = 0; i < window; i++)
		cli_next(&c[i]);
	while (w_done < count && w_err == 0)
		pthread_cond_wait(&w_cond, &w_lock);
	pthread_mutex_unlock(&w_lock);
	el = now_s() - t0;
	if (w_err != 0)
		die("window: %s after %ld", nng_strerror(w_err), w_done);
	printf("nngref window size=%zu count=%ld window=%d per_s=%.1f\n", size, count, window,
	    (double)count / el);
	for (i = 0; i < window; i++) {
		nng_aio_stop(c[i].aio);
		nng_ctx_close(c[i].ctx);
		nng_aio_free(c[i].aio);
	}
	nng_close(s);
}

static void
run_oneway(const char *url)
{
	nng_socket s;
	nng_msg *m;
	double t0, el;
	long i;

	NCK("pair1", nng_pair1_open(&s));
	if (qbuf > 0) {
		NCK("sendbuf", nng_socket_set_int(s, NNG_OPT_SENDBUF, qbuf));
		NCK("recvbuf", nng_socket_set_int(s, NNG_OPT_RECVBUF, qbuf));
	}
	NCK("dial", nng_dial(s, url, NULL, 0));
	NCK("recvtimeo", nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 20000));
	t0 = now_s();
	for (i = 0; i < count; i++)
		NCK("send", nng_sendmsg(s, new_msg(), 0));
	NCK("final recv", nng_recvmsg(s, &m, 0));
	el = now_s() - t0;
	nng_msg_free(m);
	printf("nngref oneway size=%zu count=%ld buf=%d per_s=%.1f\n", size, count, qbuf,
	    (double)count / el);
	nng_close(s);
}

int
main(int argc, char **argv)
{
	const char *mode;
	char url[64];
	pid_t pid;
	int ch, st;

	if (argc < 2)
		die("usage: nngref rtt|window|oneway [-n COUNT] [-z BYTES] [-w WINDOW] [-B BUF]");
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "n:z:w:B:")) != -1) {
		switch (ch) {
		case 'n': count = atol(optarg); break;
		case 'z': size = (size_t)atol(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'B': qbuf = atoi(optarg); break;
		default: die("bad option");
		}
	}
	if (count < 1 || size < REPLY_BYTES || window < 1 || window > WINDOW_MAX)
		die("-n >= 1, -z >= %d, 1 <= -w <= %d", REPLY_BYTES, WINDOW_MAX);
	if (strcmp(mode, "rtt") != 0 && strcmp(mode, "window") != 0 &&
	    strcmp(mode, "oneway") != 0)
		die("unknown mode %s", mode);
	pid = start_server(mode, url, sizeof(url));
	if (strcmp(mode, "rtt") == 0)
		run_rtt(url);
	else if (strcmp(mode, "window") == 0)
		run_window(url);
	else
		run_oneway(url);
	fflush(stdout);
	if (strcmp(mode, "oneway") != 0)
		kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) == -1)
		die("waitpid: %s", strerror(errno));
	return 0;
}
