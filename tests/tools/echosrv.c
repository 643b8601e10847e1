/*
 * echosrv: a TCP echo server for the proxy's own tests.
 *
 *	echosrv [-P PORT] [-p PORTFILE]
 *
 * Listens on 127.0.0.1:PORT (default 0, any free port), writes the port it got to PORTFILE
 * as "PORT\n" (through a temporary file and rename), and sends back every
 * byte it reads.  A client's EOF is passed on once the echo is flushed.
 * Logs one line per connection to stderr; SIGTERM and SIGINT exit 0.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define HIWAT	(256 * 1024)

struct echo {
	struct bufferevent	*bev;
	unsigned long		 id;
	size_t			 bytes;
	int			 eof;
};

static struct event_base	*base;
static unsigned long		 next_id;

static void
echo_free(struct echo *e, const char *why)
{
	fprintf(stderr, "echosrv: conn %lu: %s after %zu bytes\n", e->id, why,
	    e->bytes);
	bufferevent_free(e->bev);
	free(e);
}

static void
echo_readcb(struct bufferevent *bev, void *arg)
{
	struct echo	*e = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	e->bytes += evbuffer_get_length(in);
	evbuffer_add_buffer(bufferevent_get_output(bev), in);
	/* A client that doesn't read must not make us buffer without end. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) >= HIWAT)
		bufferevent_disable(bev, EV_READ);
}

static void
echo_writecb(struct bufferevent *bev, void *arg)
{
	struct echo	*e = arg;

	if (e->eof) {
		echo_free(e, "closed");
		return;
	}
	bufferevent_enable(bev, EV_READ);
}

static void
echo_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct echo	*e = arg;

	if (what & BEV_EVENT_ERROR) {
		echo_free(e, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (what & BEV_EVENT_EOF) {
		e->eof = 1;
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			echo_free(e, "closed");
	}
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct echo	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		fprintf(stderr, "echosrv: cannot set up a connection\n");
		free(e);
		evutil_closesocket(fd);
		return;
	}
	e->id = ++next_id;
	fprintf(stderr, "echosrv: conn %lu: accepted\n", e->id);
	bufferevent_setcb(e->bev, echo_readcb, echo_writecb, echo_eventcb, e);
	bufferevent_enable(e->bev, EV_READ | EV_WRITE);
}

static void
signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	event_base_loopbreak(base);
}

int
main(int argc, char *argv[])
{
	const char		*portfile = NULL;
	struct sockaddr_in	 sin;
	socklen_t		 sslen;
	struct evconnlistener	*l;
	struct event		*sigterm, *sigint;
	char			 tmp[4096];
	FILE			*f;
	int			 ch, port = 0;

	while ((ch = getopt(argc, argv, "P:p:")) != -1) {
		switch (ch) {
		case 'P':
			port = atoi(optarg);
			break;
		case 'p':
			portfile = optarg;
			break;
		default:
			fprintf(stderr, "usage: echosrv [-P PORT] "
			    "[-p PORTFILE]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((base = event_base_new()) == NULL)
		return 1;
	l = evconnlistener_new_bind(base, accept_cb, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    -1, (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL) {
		fprintf(stderr, "echosrv: listen on port %d: %s\n", port,
		    strerror(errno));
		return 1;
	}
	sslen = sizeof(sin);
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &sslen);
	port = ntohs(sin.sin_port);
	if (portfile) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if ((f = fopen(tmp, "w")) == NULL ||
		    fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
		    rename(tmp, portfile) == -1) {
			fprintf(stderr, "echosrv: portfile %s: %s\n", portfile,
			    strerror(errno));
			return 1;
		}
	}
	sigterm = evsignal_new(base, SIGTERM, signal_cb, NULL);
	sigint = evsignal_new(base, SIGINT, signal_cb, NULL);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	fprintf(stderr, "echosrv: listening on port %d\n", port);
	event_base_dispatch(base);
	fprintf(stderr, "echosrv: exiting\n");
	event_free(sigterm);
	event_free(sigint);
	evconnlistener_free(l);
	event_base_free(base);
	return 0;
}
