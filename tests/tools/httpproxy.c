/*
 * httpproxy.c — a small HTTP forward proxy for the tests: it takes requests
 * in absolute form ("POST http://host:port/path HTTP/1.1"), forwards each on
 * its own connection to host:port and relays the answer (status, headers,
 * body). Every request it carried is logged on stdout as
 *
 *	httpproxy: #N METHOD http://host:port/path -> STATUS (UP bytes up, DOWN down)
 *
 * and SIGUSR1 prints "httpproxy: stats requests=N forwarded=N failed=N".
 * No CONNECT (501), no cache; long-polls are held as long as the origin
 * holds them (120 s at most).
 *
 *   httpproxy -l HOST:PORT [-p PORTFILE]
 *       PORT 0 picks a free port; PORTFILE gets the port actually bound.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#define UPSTREAM_TIMEOUT_S 120

struct fwd {
	TAILQ_ENTRY(fwd) link;          /* in fwds while its origin has not answered */
	struct evhttp_request *down;    /* the client's request */
	struct evhttp_connection *up;
	unsigned long n;
	char *uri;
	const char *method;
	size_t upbytes;
};

static struct event_base *base;
/* the requests still out: their upstream connections are ours to free at exit */
static TAILQ_HEAD(, fwd) fwds = TAILQ_HEAD_INITIALIZER(fwds);
static unsigned long nrequests, nforwarded, nfailed;

static const char *
method_str(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "?";
}

/* Hop-by-hop headers stay with their hop; evhttp sets the framing ones. */
static int
hop_header(const char *k)
{
	static const char *hop[] = { "Connection", "Proxy-Connection", "Keep-Alive",
	    "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
	    "Content-Length", "Host" };
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strcasecmp(k, hop[i]) == 0)
			return 1;
	return 0;
}

static void
copy_headers(struct evkeyvalq *from, struct evkeyvalq *to)
{
	struct evkeyval *kv;

	TAILQ_FOREACH(kv, from, next)
		if (!hop_header(kv->key))
			evhttp_add_header(to, kv->key, kv->value);
}

static void
fail(struct evhttp_request *req, int code, const char *reason, const char *what)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "httpproxy: %s\n", what);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void
upstream_done(struct evhttp_request *resp, void *arg)
{
	struct fwd *f = arg;
	int code = resp != NULL ? evhttp_request_get_response_code(resp) : 0;
	size_t down = 0;

	if (code == 0) {
		nfailed++;
		printf("httpproxy: #%lu %s %s -> upstream failed\n", f->n, f->method, f->uri);
		fail(f->down, 502, "Bad Gateway", "the origin did not answer");
	} else {
		struct evbuffer *body = evhttp_request_get_input_buffer(resp);

		nforwarded++;
		down = evbuffer_get_length(body);
		copy_headers(evhttp_request_get_input_headers(resp),
		    evhttp_request_get_output_headers(f->down));
		evhttp_send_reply(f->down, code, evhttp_request_get_response_code_line(resp),
		    body);
		printf("httpproxy: #%lu %s %s -> %d (%zu bytes up, %zu down)\n", f->n, f->method,
		    f->uri, code, f->upbytes, down);
	}
	fflush(stdout);
	TAILQ_REMOVE(&fwds, f, link);
	free(f->uri);
	free(f);
}

static void
request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *host = u ? evhttp_uri_get_host(u) : NULL, *path, *q, *uri;
	struct evhttp_request *out;
	struct fwd *f;
	char *target;
	int port;
	size_t tlen;

	nrequests++;
	uri = evhttp_request_get_uri(req);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_CONNECT) {
		printf("httpproxy: CONNECT %s refused\n", uri);
		fflush(stdout);
		fail(req, 501, "Not Implemented", "CONNECT is not supported");
		return;
	}
	if (host == NULL || u == NULL || evhttp_uri_get_scheme(u) == NULL ||
	    strcasecmp(evhttp_uri_get_scheme(u), "http") != 0) {
		printf("httpproxy: %s %s: not an absolute http uri\n",
		    method_str(evhttp_request_get_command(req)), uri);
		fflush(stdout);
		fail(req, 400, "Bad Request", "a proxy request needs an absolute http:// uri");
		return;
	}
	port = evhttp_uri_get_port(u);
	if (port < 0)
		port = 80;
	path = evhttp_uri_get_path(u);
	q = evhttp_uri_get_query(u);
	tlen = strlen(path ? path : "/") + (q ? strlen(q) + 1 : 0) + 1;
	target = malloc(tlen + 1);
	snprintf(target, tlen + 1, "%s%s%s", path && *path ? path : "/", q ? "?" : "", q ? q : "");

	f = calloc(1, sizeof(*f));
	f->down = req;
	f->n = nrequests;
	f->uri = strdup(uri);
	f->method = method_str(evhttp_request_get_command(req));
	f->upbytes = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	f->up = evhttp_connection_base_new(base, NULL, host, (ev_uint16_t)port);
	evhttp_connection_set_timeout(f->up, UPSTREAM_TIMEOUT_S);
	evhttp_connection_free_on_completion(f->up);
	out = evhttp_request_new(upstream_done, f);
	copy_headers(evhttp_request_get_input_headers(req), evhttp_request_get_output_headers(out));
	{
		char hh[300];

		snprintf(hh, sizeof(hh), "%s:%d", host, port);
		evhttp_add_header(evhttp_request_get_output_headers(out), "Host", hh);
	}
	evhttp_add_header(evhttp_request_get_output_headers(out), "Connection", "close");
	evbuffer_add_buffer(evhttp_request_get_output_buffer(out),
	    evhttp_request_get_input_buffer(req));
	if (evhttp_make_request(f->up, out, evhttp_request_get_command(req), target) != 0) {
		nfailed++;
		fail(req, 502, "Bad Gateway", "cannot forward");
		free(f->uri);
		free(f);
	} else
		TAILQ_INSERT_TAIL(&fwds, f, link);
	free(target);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGUSR1) {
		printf("httpproxy: stats requests=%lu forwarded=%lu failed=%lu\n", nrequests,
		    nforwarded, nfailed);
		fflush(stdout);
		return;
	}
	event_base_loopexit(base, NULL);
}

int
main(int argc, char **argv)
{
	const char *listen = NULL, *portfile = NULL;
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct evhttp *http;
	struct event *sigs[3];
	char host[256], *colon;
	int ch, port;

	while ((ch = getopt(argc, argv, "l:p:")) != -1) {
		switch (ch) {
		case 'l': listen = optarg; break;
		case 'p': portfile = optarg; break;
		default:
			fprintf(stderr, "usage: httpproxy -l HOST:PORT [-p PORTFILE]\n");
			return 2;
		}
	}
	if (listen == NULL || strlen(listen) >= sizeof(host) ||
	    (colon = strrchr(strcpy(host, listen), ':')) == NULL) {
		fprintf(stderr, "usage: httpproxy -l HOST:PORT [-p PORTFILE]\n");
		return 2;
	}
	*colon = '\0';
	port = atoi(colon + 1);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_timeout(http, UPSTREAM_TIMEOUT_S);
	evhttp_set_gencb(http, request, NULL);
	if ((bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port)) == NULL) {
		fprintf(stderr, "httpproxy: cannot listen on %s\n", listen);
		return 1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
		port = ss.ss_family == AF_INET6 ?
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
		    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	printf("httpproxy: listening on %s:%d\n", host, port);
	fflush(stdout);
	if (portfile != NULL) {
		char tmp[1024];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%d\n", port) < 0 ||
		    fclose(f) != 0 || rename(tmp, portfile) != 0) {
			fprintf(stderr, "httpproxy: cannot write %s\n", portfile);
			return 1;
		}
	}
	sigs[0] = evsignal_new(base, SIGTERM, on_signal, NULL);
	sigs[1] = evsignal_new(base, SIGINT, on_signal, NULL);
	sigs[2] = evsignal_new(base, SIGUSR1, on_signal, NULL);
	for (ch = 0; ch < 3; ch++)
		evsignal_add(sigs[ch], NULL);
	event_base_dispatch(base);
	for (ch = 0; ch < 3; ch++)
		event_free(sigs[ch]);
	/*
	 * Long polls the origin still holds: their upstream connections are
	 * not the server's (evhttp_free leaves them), so they go first;
	 * evhttp_connection_free drops their requests without a callback.
	 */
	while (!TAILQ_EMPTY(&fwds)) {
		struct fwd *f = TAILQ_FIRST(&fwds);

		TAILQ_REMOVE(&fwds, f, link);
		evhttp_connection_free(f->up);
		free(f->uri);
		free(f);
	}
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
