/*
 * sdk_http_test.c — unit tests for libcascade's http carrier
 * (client-sdk/carrier_http.c), driven through the carrier interface
 * (carrier.h) against a small HTTP/1.1 server in this process: the
 * endpoint paths and headers, replies handed over byte for byte, several
 * requests in flight on their own kept-alive connections, the per-call
 * timeout, error statuses with and without a protobuf body, a reply over
 * the size limit, a refused connection, reset dropping the connections,
 * close answering calls in flight with CASCADE_ECLOSED without hanging, no
 * SIGPIPE when the server hangs up on a large request, no output without a
 * log callback; and the proxy option's validation.
 * tests/integration/sdk_http.sh covers https, proxies and real nodes.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#undef CU_TEST
#include "cu.h"
#include "sdk_int.h"

#define MSG(x) CASCADE__MSG_TYPE__MSG_##x

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------ the test server */

enum smode {
	S_ECHO,         /* 200, protobuf, the request body back */
	S_HOLD,         /* like S_ECHO, once hold_n requests are in hand together */
	S_SILENT,       /* never answers */
	S_HTML,         /* 502 text/html, as a proxy would */
	S_PBERR,        /* 401 protobuf: the node refusing */
	S_BIG,          /* 200 protobuf, 5000 bytes */
	S_HANGUP,       /* closes the connection after the request's head */
};

#define SRV_MAXCONN 64
#define SRV_MAXPATH 64

struct srv {
	int lfd, port;
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	int stop;
	enum smode mode;
	int hold_n, held;
	int conns, reqs;
	char paths[SRV_MAXPATH][64];
	int npaths;
	char ctype[128], accept[128];
	int expect_seen;
	pthread_t cthr[SRV_MAXCONN];
	int ncthr;
};

static struct srv S;

static int
srv_stopping(void)
{
	int s;

	pthread_mutex_lock(&S.mu);
	s = S.stop;
	pthread_mutex_unlock(&S.mu);
	return s;
}

/* Reads into buf until it holds want bytes or the head ends; -1 on EOF or stop. */
static ssize_t
srv_read(int fd, char *buf, size_t cap, size_t have, int head)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;

	for (;;) {
		if (head && have >= 4 && memmem(buf, have, "\r\n\r\n", 4) != NULL)
			return (ssize_t)have;
		if (!head && have >= cap)
			return (ssize_t)have;
		if (srv_stopping())
			return -1;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (have >= cap)
			return -1;
		n = read(fd, buf + have, cap - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
}

static int
srv_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
srv_answer(int fd, int status, const char *reason, const char *ctype, const void *body,
    size_t len)
{
	char head[256];

	snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n\r\n", status, reason, ctype, len);
	if (srv_write(fd, head, strlen(head)) != 0)
		return -1;
	return srv_write(fd, body, len);
}

static void
header_value(const char *head, const char *name, char *out, size_t outlen)
{
	const char *p = head;
	size_t nl = strlen(name), n;

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			n = strcspn(p, "\r\n");
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return;
		}
	}
}

static void *
srv_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(1 << 16), *body = NULL, path[64], cl[32], ct[128], ac[128], ex[32];
	ssize_t have = 0, n;
	size_t headlen, blen;
	enum smode mode;
	char *end;

	while (buf != NULL) {
		if ((n = srv_read(fd, buf, 1 << 16, (size_t)have, 1)) < 0)
			break;
		have = n;
		end = memmem(buf, (size_t)have, "\r\n\r\n", 4);
		headlen = (size_t)(end - buf) + 4;
		*end = '\0';
		if (sscanf(buf, "POST %63s HTTP/1.1", path) != 1)
			break;
		header_value(buf, "Content-Length", cl, sizeof(cl));
		header_value(buf, "Content-Type", ct, sizeof(ct));
		header_value(buf, "Accept", ac, sizeof(ac));
		header_value(buf, "Expect", ex, sizeof(ex));
		blen = (size_t)strtoul(cl, NULL, 10);
		pthread_mutex_lock(&S.mu);
		S.reqs++;
		if (S.npaths < SRV_MAXPATH)
			snprintf(S.paths[S.npaths++], sizeof(S.paths[0]), "%s", path);
		snprintf(S.ctype, sizeof(S.ctype), "%s", ct);
		snprintf(S.accept, sizeof(S.accept), "%s", ac);
		if (ex[0] != '\0')
			S.expect_seen = 1;
		mode = S.mode;
		pthread_mutex_unlock(&S.mu);
		if (mode == S_HANGUP)
			break;
		free(body);
		if ((body = malloc(blen ? blen : 1)) == NULL)
			break;
		/* what came with the head, then the rest */
		n = have - (ssize_t)headlen;
		if ((size_t)n > blen)
			n = (ssize_t)blen;
		memcpy(body, buf + headlen, (size_t)n);
		if (srv_read(fd, body, blen, (size_t)n, 0) < 0)
			break;
		memmove(buf, buf + headlen + (size_t)n, (size_t)have - headlen - (size_t)n);
		have -= (ssize_t)headlen + n;

		if (mode == S_HOLD || mode == S_SILENT) {
			pthread_mutex_lock(&S.mu);
			S.held++;
			pthread_cond_broadcast(&S.cv);
			while (!S.stop && S.mode == mode && (mode == S_SILENT || S.held < S.hold_n))
				pthread_cond_wait(&S.cv, &S.mu);
			n = S.stop;
			pthread_mutex_unlock(&S.mu);
			if (n)
				break;
		}
		if (mode == S_HTML)
			n = srv_answer(fd, 502, "Bad Gateway", "text/html",
			    "<html>bad gateway</html>", 24);
		else if (mode == S_PBERR)
			n = srv_answer(fd, 401, "Unauthorized", "application/x-protobuf", "\x18\x05",
			    2);
		else if (mode == S_BIG) {
			char big[5000];

			memset(big, 'b', sizeof(big));
			n = srv_answer(fd, 200, "OK", "application/x-protobuf", big, sizeof(big));
		} else
			n = srv_answer(fd, 200, "OK", "application/x-protobuf; proto=test", body,
			    blen);
		if (n != 0)
			break;
	}
	free(body);
	free(buf);
	close(fd);              /* unread data left: the client sees a reset */
	return NULL;
}

static void *
srv_main(void *arg)
{
	struct pollfd pfd = { S.lfd, POLLIN, 0 };
	int fd;

	while (!srv_stopping()) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((fd = accept(S.lfd, NULL, NULL)) < 0)
			continue;
		pthread_mutex_lock(&S.mu);
		if (S.ncthr == SRV_MAXCONN ||
		    pthread_create(&S.cthr[S.ncthr], NULL, srv_conn, (void *)(intptr_t)fd) != 0) {
			pthread_mutex_unlock(&S.mu);
			close(fd);
			continue;
		}
		S.ncthr++;
		S.conns++;
		pthread_mutex_unlock(&S.mu);
	}
	return NULL;
}

static void
srv_start(enum smode mode)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int one = 1;

	memset(&S, 0, sizeof(S));
	pthread_mutex_init(&S.mu, NULL);
	pthread_cond_init(&S.cv, NULL);
	S.mode = mode;
	S.lfd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(S.lfd >= 0);
	setsockopt(S.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(S.lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CU_ASSERT_FATAL(listen(S.lfd, 64) == 0);
	CU_ASSERT_FATAL(getsockname(S.lfd, (struct sockaddr *)&sin, &sl) == 0);
	S.port = ntohs(sin.sin_port);
	CU_ASSERT_FATAL(pthread_create(&S.thr, NULL, srv_main, NULL) == 0);
}

static void
srv_mode(enum smode mode, int hold_n)
{
	pthread_mutex_lock(&S.mu);
	S.mode = mode;
	S.hold_n = hold_n;
	S.held = 0;
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
}

static int
srv_get(const int *field)
{
	int v;

	pthread_mutex_lock(&S.mu);
	v = *field;
	pthread_mutex_unlock(&S.mu);
	return v;
}

static void
srv_stop(void)
{
	int i;

	pthread_mutex_lock(&S.mu);
	S.stop = 1;
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
	pthread_join(S.thr, NULL);
	for (i = 0; i < S.ncthr; i++)
		pthread_join(S.cthr[i], NULL);
	close(S.lfd);
	pthread_mutex_destroy(&S.mu);
	pthread_cond_destroy(&S.cv);
}

/* ------------------------------------------------------- the carrier's side */

struct slot {
	int done, err;
	uint8_t *buf;
	size_t len;
	uint64_t conn;
	int on_caller;                  /* reply_fn ran on the thread that called */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t caller;
static int ups, downs, upconn, answers;
static char logs[64][512];
static int nlogs;

static void
reply_fn(void *arg, int err, uint8_t *buf, size_t len, uint64_t conn)
{
	struct slot *s = arg;

	pthread_mutex_lock(&mu);
	s->err = err;
	s->buf = buf;
	s->len = len;
	s->conn = conn;
	s->on_caller = pthread_equal(pthread_self(), caller);
	s->done++;
	answers++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void
state_fn(void *arg, int up, uint64_t conn)
{
	pthread_mutex_lock(&mu);
	if (up)
		ups++;
	else
		downs++;
	upconn = (int)conn;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void
log_fn(void *arg, int level, const char *msg)
{
	pthread_mutex_lock(&mu);
	if (nlogs < 64)
		snprintf(logs[nlogs++], sizeof(logs[0]), "[%d] %s", level, msg);
	pthread_mutex_unlock(&mu);
}

static int
logged_quiet(const char *s)
{
	int i, found = 0;

	pthread_mutex_lock(&mu);
	for (i = 0; i < nlogs && !found; i++)
		found = strstr(logs[i], s) != NULL;
	pthread_mutex_unlock(&mu);
	return found;
}

/* Whether a log line so far holds s (if not, shows them all). */
static int
logged(const char *s)
{
	int i, found = logged_quiet(s);

	if (!found)
		for (i = 0; i < nlogs; i++)
			fprintf(stderr, "  log: %s\n", logs[i]);
	return found;
}

static void
reset_counters(void)
{
	pthread_mutex_lock(&mu);
	ups = downs = upconn = answers = nlogs = 0;
	pthread_mutex_unlock(&mu);
	caller = pthread_self();
}

/* Waits until n slots are done; 1 if they all are within ms. */
static int
wait_slots(struct slot *s, int n, int ms)
{
	int64_t deadline = mono_ms() + ms;
	int i, all = 0;

	pthread_mutex_lock(&mu);
	while (mono_ms() < deadline) {
		for (i = 0, all = 1; i < n; i++)
			if (!s[i].done)
				all = 0;
		if (all)
			break;
		{
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&cv, &mu, &ts);
		}
	}
	pthread_mutex_unlock(&mu);
	return all;
}

static int
wait_ups(int n, int ms)
{
	int64_t deadline = mono_ms() + ms;
	int v;

	for (;;) {
		pthread_mutex_lock(&mu);
		v = ups;
		pthread_mutex_unlock(&mu);
		if (v >= n || mono_ms() >= deadline)
			return v >= n;
		usleep(5000);
	}
}

static void
slots_free(struct slot *s, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(s[i].buf);
		memset(&s[i], 0, sizeof(s[i]));
	}
}

/* An encoded Request of type with a body of len bytes of c. */
static uint8_t *
request(uint32_t type, size_t len, int c, size_t *outlen)
{
	uint8_t *body = malloc(len ? len : 1), *r;

	CU_ASSERT_FATAL(body != NULL);
	memset(body, c, len);
	r = cenv_request_pack(type, 0x1122334455667788ull, 1, body, len, NULL, outlen);
	free(body);
	CU_ASSERT_FATAL(r != NULL);
	return r;
}

static int
call(struct carrier *c, uint32_t type, size_t len, int timeout_ms, struct slot *s)
{
	size_t n;
	uint8_t *r = request(type, len, 'a' + (int)type, &n);
	int rc = carrier_call(c, r, n, timeout_ms, reply_fn, s);

	free(r);
	return rc;
}

static struct carrier *
open_url(const char *url, size_t max_reply, int with_log)
{
	struct carrier_params p;
	struct carrier *c = NULL;
	char err[256];
	int rc;

	memset(&p, 0, sizeof(p));
	p.url = url;
	p.reconnect_min_ms = 10;
	p.reconnect_max_ms = 100;
	p.max_reply = max_reply;
	p.state_fn = state_fn;
	p.log_fn = with_log ? log_fn : NULL;
	rc = carrier_open(&p, CASCADE_CARRIER_AUTO, &c, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "carrier_open %s: %s\n", url, err);
	CU_ASSERT_FATAL(rc == 0 && c != NULL);
	return c;
}

static struct carrier *
open_srv(const char *path, size_t max_reply)
{
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", S.port, path);
	return open_url(url, max_reply, 1);
}

/* ---------------------------------------------------------------- tests */

static void
TEST_proxy_option(void)
{
	cascade_options_t *o;
	char *longurl;

	CHECK_EQ(cascade_options_set_proxy(NULL, "http://proxy:3128"), CASCADE_EINVAL);
	CHECK_RC(cascade_options_new(&o), cascade_strerror);
	CHECK_RC(cascade_options_set_proxy(o, "http://proxy.example:3128"), cascade_strerror);
	CU_ASSERT_STRING_EQUAL(o->proxy, "http://proxy.example:3128");
	CHECK_RC(cascade_options_set_proxy(o, "http://10.0.0.1"), cascade_strerror);
	CHECK_RC(cascade_options_set_proxy(o, "http://[::1]:8080/"), cascade_strerror);
	CU_ASSERT_STRING_EQUAL(o->proxy, "http://[::1]:8080/");
	/* refused ones leave the last good value */
	CHECK_EQ(cascade_options_set_proxy(o, "https://proxy:3128"), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_proxy(o, "socks5://proxy:1080"), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_proxy(o, "tcp://proxy:3128"), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_proxy(o, "proxy:3128"), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_proxy(o, "http://"), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_proxy(o, "http://proxy:0"), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_proxy(o, "http://proxy:65536"), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_proxy(o, "http://proxy:x"), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_proxy(o, ""), CASCADE_EINVAL);
	longurl = malloc(SDK_URL_MAX + 2);
	CU_ASSERT_FATAL(longurl != NULL);
	memset(longurl, 'a', SDK_URL_MAX + 1);
	memcpy(longurl, "http://", 7);
	longurl[SDK_URL_MAX + 1] = '\0';
	CHECK_EQ(cascade_options_set_proxy(o, longurl), CASCADE_EINVAL);
	free(longurl);
	CU_ASSERT_STRING_EQUAL(o->proxy, "http://[::1]:8080/");
	/* NULL removes it */
	CHECK_RC(cascade_options_set_proxy(o, NULL), cascade_strerror);
	CU_ASSERT_PTR_NULL(o->proxy);
	CHECK_RC(cascade_options_set_proxy(o, "http://proxy:3128"), cascade_strerror);
	cascade_options_free(o);        /* frees the proxy too (valgrind / asan tell) */
}

static void
TEST_open_errors(void)
{
	struct carrier_params p;
	struct carrier *c = (struct carrier *)&p;
	char err[256], *dir, *ca;
	int fd;

	memset(&p, 0, sizeof(p));
	p.max_reply = 1 << 20;
	p.state_fn = state_fn;
	CHECK_EQ(carrier_pick("http://h:1", CASCADE_CARRIER_AUTO, err, sizeof(err)),
	    CASCADE_CARRIER_HTTP);
	CHECK_EQ(carrier_pick("https://h", CASCADE_CARRIER_HTTP, err, sizeof(err)),
	    CASCADE_CARRIER_HTTP);
	CHECK_EQ(carrier_pick("https://h", CASCADE_CARRIER_TCP, err, sizeof(err)),
	    CASCADE_ECARRIER);

	p.url = "https://127.0.0.1:1";
	CHECK_EQ(carrier_open(&p, CASCADE_CARRIER_AUTO, &c, err, sizeof(err)), CASCADE_ECARRIER);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(strstr(err, "needs a CA file") != NULL);
	p.ca_file = "/nonexistent/ca.pem";
	CHECK_EQ(carrier_open(&p, CASCADE_CARRIER_AUTO, &c, err, sizeof(err)), CASCADE_ECARRIER);
	CU_ASSERT(strstr(err, "/nonexistent/ca.pem") != NULL);

	/* a readable CA file is enough to open (the handshake checks it) */
	dir = cu_tmpdir("sdkhttp");
	CU_ASSERT_FATAL(asprintf(&ca, "%s/ca.pem", dir) > 0);
	fd = open(ca, O_WRONLY | O_CREAT, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	p.ca_file = ca;
	reset_counters();
	CHECK_RC(carrier_open(&p, CASCADE_CARRIER_AUTO, &c, err, sizeof(err)), cascade_strerror);
	CU_ASSERT_STRING_EQUAL(carrier_name(c), "http");
	carrier_close(c);
	cu_rmtree(dir);
	free(dir);
	free(ca);

	p.ca_file = NULL;
	p.url = "http://127.0.0.1:1/x?y";
	CHECK_EQ(carrier_open(&p, CASCADE_CARRIER_AUTO, &c, err, sizeof(err)), CASCADE_EINVAL);
	p.url = "http://127.0.0.1:1";
	p.proxy = "https://p:1";
	CHECK_EQ(carrier_open(&p, CASCADE_CARRIER_AUTO, &c, err, sizeof(err)), CASCADE_EINVAL);
	CU_ASSERT(strstr(err, "proxy") != NULL);
}

/* Paths, headers, replies byte for byte, conn 1, keep-alive, callback threads. */
static void
TEST_echo_paths_keepalive(void)
{
	static const uint32_t types[] = { MSG(HELLO), MSG(AUTH), MSG(PUSH), MSG(PULL),
	    MSG(ROUTES) };
	static const char *paths[] = { "/base/v1/hello", "/base/v1/auth", "/base/v1/push",
	    "/base/v1/pull", "/base/v1/routes" };
	struct slot s[21];
	struct carrier *c;
	uint8_t *r;
	size_t n;
	int i;

	memset(s, 0, sizeof(s));
	srv_start(S_ECHO);
	reset_counters();
	c = open_srv("/base//", 4u << 20);
	CU_ASSERT(wait_ups(1, 2000));
	CHECK_EQ(upconn, 1);
	for (i = 0; i < 5; i++) {
		CHECK_RC(call(c, types[i], 100 + (size_t)i, 5000, &s[i]), cascade_strerror);
		CU_ASSERT_FATAL(wait_slots(&s[i], 1, 5000));
		CHECK_EQ(s[i].err, 0);
		CHECK_EQ(s[i].conn, 1);
		CHECK_EQ(s[i].on_caller, 0);
		r = request(types[i], 100 + (size_t)i, 'a' + (int)types[i], &n);
		CHECK_EQ(s[i].len, n);
		CU_ASSERT(s[i].buf != NULL && memcmp(s[i].buf, r, n) == 0);
		free(r);
		pthread_mutex_lock(&S.mu);
		CU_ASSERT_STRING_EQUAL(S.paths[i], paths[i]);
		pthread_mutex_unlock(&S.mu);
	}
	pthread_mutex_lock(&S.mu);
	CU_ASSERT_STRING_EQUAL(S.ctype, "application/x-protobuf");
	CU_ASSERT_STRING_EQUAL(S.accept, "application/x-protobuf");
	pthread_mutex_unlock(&S.mu);
	/* one request after the other: one connection, kept alive */
	for (i = 5; i < 20; i++) {
		CHECK_RC(call(c, MSG(PUSH), 10, 5000, &s[i]), cascade_strerror);
		CU_ASSERT_FATAL(wait_slots(&s[i], 1, 5000));
		CHECK_EQ(s[i].err, 0);
	}
	/* 2 MB: curl would ask "Expect: 100-continue" (a round trip) unless told not to */
	CHECK_RC(call(c, MSG(PUSH), 2u << 20, 5000, &s[20]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(&s[20], 1, 5000));
	CHECK_EQ(s[20].err, 0);
	r = request(MSG(PUSH), 2u << 20, 'a' + MSG(PUSH), &n);
	CHECK_EQ(s[20].len, n);
	CU_ASSERT(s[20].buf != NULL && memcmp(s[20].buf, r, n) == 0);
	free(r);
	CHECK_EQ(srv_get(&S.conns), 1);
	CHECK_EQ(srv_get(&S.reqs), 21);
	CHECK_EQ(srv_get(&S.expect_seen), 0);   /* no 100-continue */
	/* not a Request: refused at once, no callback */
	CHECK_EQ(carrier_call(c, (const uint8_t *)"\xff\xff", 2, 1000, reply_fn, &s[0]),
	    CASCADE_EINVAL);
	carrier_close(c);
	CHECK_EQ(ups, 1);               /* said once */
	CHECK_EQ(downs, 0);
	CHECK_EQ(answers, 21);
	slots_free(s, 21);
	srv_stop();
}

/* The push window and the held pull: all in flight together, each on a connection. */
static void
TEST_in_flight(void)
{
	struct slot s[6];
	struct carrier *c;
	int i;

	memset(s, 0, sizeof(s));
	srv_start(S_HOLD);
	srv_mode(S_HOLD, 5);
	reset_counters();
	c = open_srv("", 1 << 20);
	for (i = 0; i < 4; i++)
		CHECK_RC(call(c, MSG(PUSH), 1000, 5000, &s[i]), cascade_strerror);
	CHECK_RC(call(c, MSG(PULL), 10, 5000, &s[4]), cascade_strerror);
	/* the server answers none before it holds all five */
	CU_ASSERT(wait_slots(s, 5, 4000));
	for (i = 0; i < 5; i++)
		CHECK_EQ(s[i].err, 0);
	CHECK_EQ(srv_get(&S.conns), 5);
	/* the next one takes a connection kept alive */
	srv_mode(S_ECHO, 0);
	CHECK_RC(call(c, MSG(PUSH), 10, 5000, &s[5]), cascade_strerror);
	CU_ASSERT(wait_slots(&s[5], 1, 3000));
	CHECK_EQ(s[5].err, 0);
	CHECK_EQ(srv_get(&S.conns), 5);
	carrier_close(c);
	slots_free(s, 6);
	srv_stop();
}

static void
TEST_timeout(void)
{
	struct slot s[2];
	struct carrier *c;
	int64_t t0, took;

	memset(s, 0, sizeof(s));
	srv_start(S_SILENT);
	reset_counters();
	c = open_srv("", 1 << 20);
	t0 = mono_ms();
	CHECK_RC(call(c, MSG(PULL), 10, 300, &s[0]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(s, 1, 3000));
	took = mono_ms() - t0;
	CHECK_EQ(s[0].err, CASCADE_ETIMEDOUT);
	CU_ASSERT(took >= 250 && took < 2000);
	CU_ASSERT_PTR_NULL(s[0].buf);
	/* the next call, after the timed-out one, works (on another connection) */
	srv_mode(S_ECHO, 0);
	CHECK_RC(call(c, MSG(PUSH), 10, 3000, &s[1]), cascade_strerror);
	CU_ASSERT(wait_slots(&s[1], 1, 3000));
	CHECK_EQ(s[1].err, 0);
	carrier_close(c);
	slots_free(s, 2);
	srv_stop();
}

/* A refusing node's protobuf answer is a reply; a proxy's html page is not. */
static void
TEST_error_statuses(void)
{
	struct slot s[4];
	struct carrier *c;

	memset(s, 0, sizeof(s));
	srv_start(S_PBERR);
	reset_counters();
	c = open_srv("", 1000);
	CHECK_RC(call(c, MSG(PUSH), 10, 3000, &s[0]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(&s[0], 1, 3000));
	CHECK_EQ(s[0].err, 0);
	CHECK_EQ(s[0].len, 2);
	CU_ASSERT(s[0].buf != NULL && memcmp(s[0].buf, "\x18\x05", 2) == 0);

	srv_mode(S_HTML, 0);
	CHECK_RC(call(c, MSG(PUSH), 10, 3000, &s[1]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(&s[1], 1, 3000));
	CHECK_EQ(s[1].err, CASCADE_ECARRIER);
	CU_ASSERT_PTR_NULL(s[1].buf);

	/* over max_reply (1000 bytes) */
	srv_mode(S_BIG, 0);
	CHECK_RC(call(c, MSG(PULL), 10, 3000, &s[2]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(&s[2], 1, 3000));
	CHECK_EQ(s[2].err, CASCADE_ECARRIER);
	/* log lines reach log_fn on the SDK's thread: with the next call, or close */
	CU_ASSERT(logged("[1] http: http://127.0.0.1:"));
	CU_ASSERT(logged("/v1/push: status 502 without a protobuf reply: <html>bad gateway</html>"));
	CU_ASSERT(!logged_quiet("a reply larger than"));
	carrier_close(c);
	CU_ASSERT(logged("/v1/pull: a reply larger than 1000 bytes"));
	slots_free(s, 4);
	srv_stop();
}

static void
TEST_refused(void)
{
	struct slot s[3];
	struct carrier *c;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	char url[64];
	int fd, i;

	/* a port that was free a moment ago */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sin, &sl) == 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sin.sin_port));
	memset(s, 0, sizeof(s));
	reset_counters();
	c = open_url(url, 1 << 20, 1);
	CU_ASSERT(wait_ups(1, 2000));   /* http: up once, whatever the node */
	for (i = 0; i < 3; i++) {
		CHECK_RC(call(c, MSG(HELLO), 10, 3000, &s[i]), cascade_strerror);
		CU_ASSERT_FATAL(wait_slots(&s[i], 1, 3000));
		CHECK_EQ(s[i].err, CASCADE_ECARRIER);
	}
	carrier_close(c);
	CHECK_EQ(downs, 0);
	CU_ASSERT(logged("/v1/hello: Failed to connect"));
	/* the same failure again soon is only a debug line */
	CU_ASSERT(logged("[3] http: "));
}

/* reset fails what is in flight and drops the kept connections. */
static void
TEST_reset(void)
{
	struct slot s[5];
	struct carrier *c;
	int64_t t0;

	memset(s, 0, sizeof(s));
	srv_start(S_ECHO);
	reset_counters();
	c = open_srv("", 1 << 20);
	CHECK_RC(call(c, MSG(PUSH), 10, 3000, &s[0]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(&s[0], 1, 3000));
	CHECK_EQ(srv_get(&S.conns), 1);
	carrier_reset(c);
	CHECK_RC(call(c, MSG(PUSH), 10, 3000, &s[1]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(&s[1], 1, 3000));
	CHECK_EQ(s[1].err, 0);
	CHECK_EQ(srv_get(&S.conns), 2);         /* the kept one went with the reset */

	srv_mode(S_HOLD, 1000);                 /* holds for good */
	CHECK_RC(call(c, MSG(PUSH), 10, 20000, &s[2]), cascade_strerror);
	CHECK_RC(call(c, MSG(PULL), 10, 20000, &s[3]), cascade_strerror);
	while (srv_get(&S.held) < 2)
		usleep(5000);
	t0 = mono_ms();
	carrier_reset(c);
	CU_ASSERT(wait_slots(&s[2], 2, 2000));
	CU_ASSERT(mono_ms() - t0 < 1000);
	CHECK_EQ(s[2].err, CASCADE_ECARRIER);
	CHECK_EQ(s[3].err, CASCADE_ECARRIER);
	srv_mode(S_ECHO, 0);
	CHECK_RC(call(c, MSG(PUSH), 10, 3000, &s[4]), cascade_strerror);
	CU_ASSERT(wait_slots(&s[4], 1, 3000));
	CHECK_EQ(s[4].err, 0);
	carrier_close(c);
	CU_ASSERT(logged("[2] http: dropped the connections to http://127.0.0.1:"));
	CHECK_EQ(ups, 1);
	slots_free(s, 5);
	srv_stop();
}

/* close: every call in flight gets ECLOSED, at once, and nothing after. */
static void
TEST_close_in_flight(void)
{
	struct slot s[4];
	struct carrier *c;
	int64_t t0;
	int i, n;

	memset(s, 0, sizeof(s));
	srv_start(S_SILENT);
	reset_counters();
	c = open_srv("", 1 << 20);
	for (i = 0; i < 4; i++)
		CHECK_RC(call(c, i == 3 ? MSG(PULL) : MSG(PUSH), 10, 60000, &s[i]),
		    cascade_strerror);
	while (srv_get(&S.held) < 3)    /* the fourth may still be queued or connecting */
		usleep(5000);
	t0 = mono_ms();
	carrier_close(c);
	CU_ASSERT(mono_ms() - t0 < 1000);
	pthread_mutex_lock(&mu);
	n = answers;
	pthread_mutex_unlock(&mu);
	CHECK_EQ(n, 4);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(s[i].done, 1);
		CHECK_EQ(s[i].err, CASCADE_ECLOSED);
	}
	usleep(100000);
	CHECK_EQ(answers, 4);           /* no callback after close */
	slots_free(s, 4);
	srv_stop();

	/* closed right after open, before the thread ran: no hang, no state after */
	reset_counters();
	srv_start(S_ECHO);
	for (i = 0; i < 20; i++) {
		c = open_srv("", 1 << 20);
		carrier_close(c);
	}
	pthread_mutex_lock(&mu);
	n = ups;
	pthread_mutex_unlock(&mu);
	usleep(50000);
	CHECK_EQ(ups, n);
	srv_stop();
}

/* A server hanging up on an 8 MB request: an error, not a SIGPIPE. */
static void
TEST_no_sigpipe(void)
{
	struct sigaction sa, old;
	struct slot s[2];
	struct carrier *c;
	sigset_t set;

	memset(s, 0, sizeof(s));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;        /* a SIGPIPE would end this test program */
	sigaction(SIGPIPE, &sa, &old);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	srv_start(S_HANGUP);
	reset_counters();
	c = open_srv("", 1 << 20);
	CHECK_RC(call(c, MSG(PUSH), 8u << 20, 5000, &s[0]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(s, 1, 5000));
	CHECK_EQ(s[0].err, CASCADE_ECARRIER);
	CHECK_RC(call(c, MSG(PUSH), 8u << 20, 5000, &s[1]), cascade_strerror);
	CU_ASSERT_FATAL(wait_slots(&s[1], 1, 5000));
	CHECK_EQ(s[1].err, CASCADE_ECARRIER);
	carrier_close(c);
	srv_stop();
	sigaction(SIGPIPE, &old, NULL);
	slots_free(s, 2);
}

/* Without a log callback nothing is written to stdout or stderr. */
static void
TEST_silent_without_log(void)
{
	struct slot s[3];
	struct carrier *c;
	struct stat st;
	char *dir, *out;
	char url[64];
	int fd, o1, o2;

	memset(s, 0, sizeof(s));
	dir = cu_tmpdir("sdkhttp");
	CU_ASSERT_FATAL(asprintf(&out, "%s/out", dir) > 0);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	fflush(stdout);
	fflush(stderr);
	o1 = dup(1);
	o2 = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	srv_start(S_HTML);
	reset_counters();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", S.port);
	c = open_url(url, 1 << 20, 0);
	call(c, MSG(PUSH), 10, 3000, &s[0]);
	wait_slots(&s[0], 1, 3000);
	srv_mode(S_SILENT, 0);
	call(c, MSG(PUSH), 10, 200, &s[1]);
	wait_slots(&s[1], 1, 3000);
	carrier_reset(c);
	call(c, MSG(PUSH), 10, 3000, &s[2]);
	carrier_close(c);
	srv_stop();
	fflush(stdout);
	fflush(stderr);
	dup2(o1, 1);
	dup2(o2, 2);
	close(o1);
	close(o2);
	close(fd);
	CHECK_EQ(s[0].err, CASCADE_ECARRIER);
	CHECK_EQ(s[1].err, CASCADE_ETIMEDOUT);
	CHECK_EQ(s[2].err, CASCADE_ECLOSED);
	CU_ASSERT_FATAL(stat(out, &st) == 0);
	CHECK_EQ(st.st_size, 0);
	cu_rmtree(dir);
	free(dir);
	free(out);
	slots_free(s, 3);
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_proxy_option),
		CU_TEST(TEST_open_errors),
		CU_TEST(TEST_echo_paths_keepalive),
		CU_TEST(TEST_in_flight),
		CU_TEST(TEST_timeout),
		CU_TEST(TEST_error_statuses),
		CU_TEST(TEST_refused),
		CU_TEST(TEST_reset),
		CU_TEST(TEST_close_in_flight),
		CU_TEST(TEST_no_sigpipe),
		CU_TEST(TEST_silent_without_log),
		CU_END
	};

	return cu_main("sdk_http", tests, argc, argv);
}
