/*
 * faultproxy: a TCP proxy that integration tests put between a child node
 * and its parent to inject faults on demand.
 *
 *	faultproxy -l ADDR:PORT -t ADDR:PORT [-c ADDR:PORT] [-p PORTFILE]
 *
 * Every connection accepted on -l gets its own connection to the target -t,
 * and bytes are forwarded both ways.  A line protocol on the control port -c
 * (default 127.0.0.1:0) switches faults on and off; each command line gets
 * one reply line, "ok ..." or "error ...":
 *
 *	pass		normal forwarding: clears cut, blackhole, delay and
 *			reset-after.  Connections that were blackholed are
 *			closed (their streams lost bytes, so resuming them
 *			would hand the peers a corrupt stream).
 *	cut		close every connection now, both sides, and accept
 *			then close at once every new one, until pass.
 *	blackhole	forward nothing: stop reading both sides of every
 *			connection and drop what the proxy holds; new
 *			connections are accepted but never reach the target.
 *	delay MS	forward each chunk MS milliseconds after it was read,
 *			in order, in both directions (delay 0 turns it off).
 *	reset-after N	each connection, current or new, is reset (RST) once
 *			it has forwarded N more bytes, counted over both
 *			directions; the Nth byte may fall mid-frame.  Stays
 *			armed for new connections until pass or reset-after 0.
 *	synhole		close every connection now, and answer no new SYN:
 *			the proxy stops accepting and fills its own accept
 *			queue, so the kernel drops further SYNs and a client's
 *			connect() hangs in SYN_SENT (a firewall that drops,
 *			rather than refuses), until pass.
 *	stats		ok conns=N total_conns=N up=BYTES down=BYTES
 *			(total_conns counts every accepted connection, those
 *			refused by cut included; up is client->target).
 *	show		ok mode=M delay=MS reset_after=N resets=N refused=N
 *	quit		reply, then exit 0.
 *
 * With -p the listen and control ports are written as "LISTEN CTL\n" to
 * PORTFILE (through a temporary file and rename) once both are listening,
 * so a shell test can pick port 0 and read what it got.
 *
 * One line per connection event goes to stderr.  SIGTERM and SIGINT exit 0.
 * Single-threaded: everything runs in the libevent loop.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

/* Stop reading a side once this much waits to be written to the other. */
#define HIWAT		(256 * 1024)
/* Longest control line accepted. */
#define CTL_LINE_MAX	1024
/* The listen backlog, small so that synhole can fill the accept queue. */
#define LISTEN_BACKLOG	4
#define SYNHOLE_FILL	(LISTEN_BACKLOG + 4)
/* A reset waits this long at most for forwarded bytes to leave the host. */
#define RESET_POLL_MS	10
#define RESET_POLL_MAX	200

#ifndef TAILQ_FOREACH_SAFE	/* glibc lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

enum mode { MODE_PASS, MODE_CUT, MODE_BLACKHOLE, MODE_SYNHOLE };
static const char *mode_names[] = { "pass", "cut", "blackhole", "synhole" };

enum { DIR_UP, DIR_DOWN };	/* client->target, target->client */
static const char *dir_names[] = { "up", "down" };

struct chunk {
	TAILQ_ENTRY(chunk)	 entry;
	struct evbuffer		*buf;
	struct timespec		 due;
};
TAILQ_HEAD(chunkq, chunk);

struct conn;

/* One direction of a connection: bytes read from src are written to dst. */
struct dir {
	struct conn		*conn;
	int			 idx;
	struct bufferevent	*src;
	struct bufferevent	*dst;
	struct chunkq		 queue;		/* delayed chunks, oldest first */
	size_t			 queued;	/* bytes in queue */
	struct event		*timer;		/* fires when the head is due */
	int			 eof;		/* src sent EOF */
	int			 shut;		/* EOF passed on to dst */
	uint64_t		 bytes;		/* forwarded */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	unsigned long		 id;
	char			 peer[INET6_ADDRSTRLEN + 8];
	struct bufferevent	*cli;
	struct bufferevent	*tgt;		/* NULL if accepted in blackhole */
	struct dir		 dir[2];
	int			 connected;	/* to the target */
	int			 blackholed;
	int			 resetting;
	long long		 reset_left;	/* -1: no reset armed */
	struct event		*reset_timer;
	int			 reset_polls;
};
TAILQ_HEAD(connq, conn);

struct ctl {
	TAILQ_ENTRY(ctl)	 entry;
	struct bufferevent	*bev;
};
TAILQ_HEAD(ctlq, ctl);

static struct {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct evconnlistener	*ctl_listener;
	struct sockaddr_storage	 target;
	int			 target_len;
	const char		*target_name;
	struct connq		 conns;
	struct ctlq		 ctls;
	enum mode		 mode;
	unsigned long		 delay_ms;
	long long		 reset_after;	/* 0: off */
	unsigned long		 next_id;
	unsigned long		 nconns;
	unsigned long		 total_conns;
	unsigned long		 resets;
	unsigned long		 refused;
	uint64_t		 up;
	uint64_t		 down;
	int			 quitting;
	evutil_socket_t		 fill[SYNHOLE_FILL];	/* synhole: our own queued connects */
	int			 fill_port[SYNHOLE_FILL];
	int			 nfill;
} px;

static void	conn_free(struct conn *, const char *);
static void	conn_reset_poll(evutil_socket_t, short, void *);
static void	dir_release(evutil_socket_t, short, void *);

static void __attribute__((format(printf, 1, 2)))
logmsg(const char *fmt, ...)
{
	char		 msg[512], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;
	va_list		 ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ld faultproxy: %s\n", stamp,
	    ts.tv_nsec / 1000000, msg);
}

static struct timespec
mono_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static void
sockaddr_name(const struct sockaddr *sa, char *buf, size_t len)
{
	char		 host[INET6_ADDRSTRLEN];
	unsigned	 port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else
		snprintf(buf, len, "?");
}

static int
listener_port(struct evconnlistener *l)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss,
	    &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
set_nodelay(evutil_socket_t fd)
{
	int	one = 1;

	/* Small frames go out at once: a reset must not strand them. */
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * Chunks and directions.
 */

static void
dir_drop_queue(struct dir *d)
{
	struct chunk	*ch;

	while ((ch = TAILQ_FIRST(&d->queue)) != NULL) {
		TAILQ_REMOVE(&d->queue, ch, entry);
		evbuffer_free(ch->buf);
		free(ch);
	}
	d->queued = 0;
	if (d->timer)
		evtimer_del(d->timer);
}

static size_t
dir_pending(struct dir *d)
{
	return d->queued + evbuffer_get_length(bufferevent_get_output(d->dst));
}

/* Read from src only while forwarding is on and dst keeps up. */
static void
dir_update_read(struct dir *d)
{
	struct conn	*c = d->conn;

	if (c->connected && !c->blackholed && !c->resetting && !d->eof &&
	    dir_pending(d) < HIWAT)
		bufferevent_enable(d->src, EV_READ);
	else
		bufferevent_disable(d->src, EV_READ);
}

static void
dir_schedule(struct dir *d)
{
	struct chunk	*ch;
	struct timespec	 now;
	struct timeval	 tv;
	long long	 ms;

	if ((ch = TAILQ_FIRST(&d->queue)) == NULL)
		return;
	now = mono_now();
	ms = (ch->due.tv_sec - now.tv_sec) * 1000LL +
	    (ch->due.tv_nsec - now.tv_nsec + 999999) / 1000000;
	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(d->timer, &tv);
}

static void
conn_reset_start(struct conn *c)
{
	int	i;

	c->resetting = 1;
	c->reset_left = -1;
	for (i = 0; i < 2; i++) {
		dir_drop_queue(&c->dir[i]);
		bufferevent_disable(c->dir[i].src, EV_READ);
		evbuffer_drain(bufferevent_get_input(c->dir[i].src),
		    evbuffer_get_length(bufferevent_get_input(c->dir[i].src)));
	}
	/* Let what was forwarded reach the peer, then reset: see poll. */
	conn_reset_poll(-1, 0, c);
}

/*
 * Moves up to n bytes from buf to dst.  Returns 1 if the reset budget ran out
 * and the connection is being reset (the caller must stop forwarding).
 */
static int
dir_forward(struct dir *d, struct evbuffer *buf, size_t n)
{
	struct conn	*c = d->conn;
	int		 reset = 0;
	int		 moved;

	if (c->reset_left >= 0 && (long long)n >= c->reset_left) {
		n = (size_t)c->reset_left;
		reset = 1;
	}
	moved = evbuffer_remove_buffer(buf, bufferevent_get_output(d->dst), n);
	if (moved > 0) {
		d->bytes += (uint64_t)moved;
		if (d->idx == DIR_UP)
			px.up += (uint64_t)moved;
		else
			px.down += (uint64_t)moved;
		if (c->reset_left > 0)
			c->reset_left -= moved;
	}
	if (reset) {
		logmsg("conn %lu: reset budget spent after %d %s bytes of this "
		    "chunk, resetting", c->id, moved, dir_names[d->idx]);
		conn_reset_start(c);
	}
	return reset;
}

/*
 * Passes EOF on once everything before it was written, and closes the
 * connection when both directions are done.  Returns 1 if c was freed.
 */
static int
dir_check_eof(struct dir *d)
{
	struct conn	*c = d->conn;

	if (!d->eof || d->shut || dir_pending(d) > 0)
		return 0;
	shutdown(bufferevent_getfd(d->dst), SHUT_WR);
	d->shut = 1;
	if (c->dir[DIR_UP].shut && c->dir[DIR_DOWN].shut) {
		conn_free(c, "closed by both peers");
		return 1;
	}
	return 0;
}

static void
dir_read(struct dir *d)
{
	struct conn	*c = d->conn;
	struct evbuffer	*in = bufferevent_get_input(d->src);
	struct chunk	*ch;
	size_t		 n = evbuffer_get_length(in);

	if (n == 0)
		return;
	if (c->blackholed || c->resetting) {
		evbuffer_drain(in, n);
		return;
	}
	if (px.delay_ms == 0 && TAILQ_EMPTY(&d->queue)) {
		if (dir_forward(d, in, n))
			return;
	} else {
		if ((ch = calloc(1, sizeof(*ch))) == NULL ||
		    (ch->buf = evbuffer_new()) == NULL) {
			free(ch);
			conn_free(c, "closed: out of memory");
			return;
		}
		evbuffer_remove_buffer(in, ch->buf, n);
		ch->due = mono_now();
		ch->due.tv_sec += px.delay_ms / 1000;
		ch->due.tv_nsec += (long)(px.delay_ms % 1000) * 1000000;
		if (ch->due.tv_nsec >= 1000000000) {
			ch->due.tv_sec++;
			ch->due.tv_nsec -= 1000000000;
		}
		TAILQ_INSERT_TAIL(&d->queue, ch, entry);
		d->queued += n;
		if (TAILQ_FIRST(&d->queue) == ch)
			dir_schedule(d);
	}
	dir_update_read(d);
}

/* Timer: forwards every chunk that is due, oldest first. */
static void
dir_release(evutil_socket_t fd, short ev, void *arg)
{
	struct dir	*d = arg;
	struct chunk	*ch;
	struct timespec	 now = mono_now();
	size_t		 n;
	int		 reset;

	while ((ch = TAILQ_FIRST(&d->queue)) != NULL) {
		if (ch->due.tv_sec > now.tv_sec || (ch->due.tv_sec ==
		    now.tv_sec && ch->due.tv_nsec > now.tv_nsec))
			break;
		TAILQ_REMOVE(&d->queue, ch, entry);
		n = evbuffer_get_length(ch->buf);
		d->queued -= n;
		reset = dir_forward(d, ch->buf, n);
		evbuffer_free(ch->buf);
		free(ch);
		if (reset)
			return;
	}
	dir_schedule(d);
	if (dir_check_eof(d))
		return;
	dir_update_read(d);
}

/*
 * Connections.
 */

static void
conn_free(struct conn *c, const char *why)
{
	int	i;

	logmsg("conn %lu: %s (up=%" PRIu64 " down=%" PRIu64 ")", c->id, why,
	    c->dir[DIR_UP].bytes, c->dir[DIR_DOWN].bytes);
	for (i = 0; i < 2; i++) {
		dir_drop_queue(&c->dir[i]);
		if (c->dir[i].timer)
			event_free(c->dir[i].timer);
	}
	if (c->reset_timer)
		event_free(c->reset_timer);
	if (c->cli)
		bufferevent_free(c->cli);
	if (c->tgt)
		bufferevent_free(c->tgt);
	TAILQ_REMOVE(&px.conns, c, entry);
	px.nconns--;
	free(c);
}

static long
sock_unsent(struct bufferevent *bev)
{
#ifdef SIOCOUTQ
	int	n = 0;

	if (bev && bufferevent_getfd(bev) >= 0 &&
	    ioctl(bufferevent_getfd(bev), SIOCOUTQ, &n) == 0)
		return n;
#endif
	return 0;
}

/*
 * A reset (SO_LINGER 0 then close) throws away whatever the kernel has not
 * sent yet, so wait until the forwarded bytes left both our buffers and the
 * socket's send queue; give up waiting after RESET_POLL_MAX polls.
 */
static void
conn_reset_poll(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;
	struct linger	 lg = { 1, 0 };
	struct timeval	 tv = { 0, RESET_POLL_MS * 1000 };
	struct bufferevent *bevs[2] = { c->cli, c->tgt };
	size_t		 left = 0;
	int		 i;

	for (i = 0; i < 2; i++)
		if (bevs[i])
			left += evbuffer_get_length(
			    bufferevent_get_output(bevs[i])) +
			    (size_t)sock_unsent(bevs[i]);
	if (left > 0 && c->reset_polls++ < RESET_POLL_MAX) {
		if (c->reset_timer == NULL)
			c->reset_timer = evtimer_new(px.base, conn_reset_poll, c);
		if (c->reset_timer) {
			evtimer_add(c->reset_timer, &tv);
			return;
		}
	}
	for (i = 0; i < 2; i++)
		if (bevs[i] && bufferevent_getfd(bevs[i]) >= 0)
			setsockopt(bufferevent_getfd(bevs[i]), SOL_SOCKET,
			    SO_LINGER, &lg, sizeof(lg));
	px.resets++;
	conn_free(c, "reset (both sides)");
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	dir_read(&c->dir[bev == c->cli ? DIR_UP : DIR_DOWN]);
}

/* Output drained: resume reading the other side, pass on a pending EOF. */
static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct dir	*d = &c->dir[bev == c->cli ? DIR_DOWN : DIR_UP];

	if (c->resetting || c->blackholed)
		return;
	if (dir_check_eof(d))
		return;
	dir_update_read(d);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct dir	*d = &c->dir[bev == c->cli ? DIR_UP : DIR_DOWN];
	char		 why[160];
	int		 err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		c->connected = 1;
		set_nodelay(bufferevent_getfd(c->tgt));
		logmsg("conn %lu: connected to target %s", c->id,
		    px.target_name);
		dir_update_read(&c->dir[DIR_UP]);
		dir_update_read(&c->dir[DIR_DOWN]);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (bev == c->tgt && !c->connected)
			snprintf(why, sizeof(why), "target connect failed: %s",
			    evutil_socket_error_to_string(err));
		else
			snprintf(why, sizeof(why), "closed: %s side error: %s",
			    bev == c->cli ? "client" : "target",
			    evutil_socket_error_to_string(err));
		conn_free(c, why);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		logmsg("conn %lu: EOF from %s", c->id,
		    bev == c->cli ? "client" : "target");
		d->eof = 1;
		if (c->resetting || c->blackholed)
			return;
		bufferevent_disable(bev, EV_READ);
		/* Bytes read before the EOF may still wait in the queue. */
		dir_check_eof(d);
	}
}

static void
conn_blackhole(struct conn *c)
{
	struct bufferevent	*bevs[2] = { c->cli, c->tgt };
	int			 i;

	if (c->resetting || c->blackholed)
		return;
	c->blackholed = 1;
	for (i = 0; i < 2; i++) {
		dir_drop_queue(&c->dir[i]);
		if (bevs[i] == NULL)
			continue;
		bufferevent_disable(bevs[i], EV_READ);
		evbuffer_drain(bufferevent_get_input(bevs[i]),
		    evbuffer_get_length(bufferevent_get_input(bevs[i])));
		evbuffer_drain(bufferevent_get_output(bevs[i]),
		    evbuffer_get_length(bufferevent_get_output(bevs[i])));
	}
	logmsg("conn %lu: blackholed", c->id);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct conn	*c;
	char		 peer[INET6_ADDRSTRLEN + 8];
	int		 i;

	sockaddr_name(sa, peer, sizeof(peer));
	for (i = 0; i < px.nfill; i++)
		if (sa->sa_family == AF_INET &&
		    ntohs(((struct sockaddr_in *)sa)->sin_port) == px.fill_port[i]) {
			/* one of synhole's own fillers, drained after pass */
			px.fill_port[i] = -1;
			evutil_closesocket(fd);
			return;
		}
	px.total_conns++;
	if (px.mode == MODE_CUT) {
		px.refused++;
		logmsg("conn %lu: refused (cut) from %s", ++px.next_id, peer);
		evutil_closesocket(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		logmsg("accept: out of memory, dropping %s", peer);
		evutil_closesocket(fd);
		return;
	}
	c->id = ++px.next_id;
	c->reset_left = px.reset_after > 0 ? px.reset_after : -1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	TAILQ_INSERT_TAIL(&px.conns, c, entry);
	px.nconns++;
	set_nodelay(fd);

	c->cli = bufferevent_socket_new(px.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->cli == NULL) {
		evutil_closesocket(fd);
		conn_free(c, "closed: bufferevent_socket_new failed");
		return;
	}
	if (px.mode == MODE_BLACKHOLE) {
		/* Never reaches the target; never read.  Closed on pass. */
		c->blackholed = 1;
		logmsg("conn %lu: accepted from %s (blackhole: kept silent)",
		    c->id, peer);
		return;
	}
	c->tgt = bufferevent_socket_new(px.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->tgt == NULL) {
		conn_free(c, "closed: bufferevent_socket_new failed");
		return;
	}
	for (i = 0; i < 2; i++) {
		c->dir[i].conn = c;
		c->dir[i].idx = i;
		TAILQ_INIT(&c->dir[i].queue);
		c->dir[i].src = i == DIR_UP ? c->cli : c->tgt;
		c->dir[i].dst = i == DIR_UP ? c->tgt : c->cli;
		c->dir[i].timer = evtimer_new(px.base, dir_release, &c->dir[i]);
		if (c->dir[i].timer == NULL) {
			conn_free(c, "closed: evtimer_new failed");
			return;
		}
	}
	bufferevent_setcb(c->cli, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_setcb(c->tgt, conn_readcb, conn_writecb, conn_eventcb, c);
	logmsg("conn %lu: accepted from %s%s", c->id, peer,
	    c->reset_left > 0 ? " (reset armed)" : "");
	if (bufferevent_socket_connect(c->tgt, (struct sockaddr *)&px.target,
	    px.target_len) == -1) {
		conn_free(c, "target connect failed");
		return;
	}
}

/* synhole: stop accepting and fill the accept queue with our own connects. */
static int
synhole_start(void)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	int			i, fd, port = listener_port(px.listener);

	evconnlistener_disable(px.listener);
	px.nfill = 0;
	for (i = 0; i < SYNHOLE_FILL; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			break;
		evutil_make_socket_nonblocking(fd);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((unsigned short)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
		    errno != EINPROGRESS) {
			close(fd);
			break;
		}
		slen = sizeof(sin);
		getsockname(fd, (struct sockaddr *)&sin, &slen);
		px.fill[px.nfill] = fd;
		px.fill_port[px.nfill++] = ntohs(sin.sin_port);
	}
	return px.nfill;
}

static void
synhole_end(void)
{
	int	i;

	/* the fillers are accepted (and closed) once the listener runs again */
	for (i = 0; i < px.nfill; i++)
		evutil_closesocket(px.fill[i]);
	evconnlistener_enable(px.listener);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	int	err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: log and keep serving. */
	logmsg("accept: %s", evutil_socket_error_to_string(err));
}

/*
 * Control protocol.
 */

static int
parse_num(const char *s, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
ctl_command(char *line, char *reply, size_t len)
{
	struct conn	*c, *next;
	char		*cmd, *arg, *extra, *save = NULL;
	long long	 v;
	unsigned long	 n = 0;

	cmd = strtok_r(line, " \t\r", &save);
	arg = strtok_r(NULL, " \t\r", &save);
	extra = strtok_r(NULL, " \t\r", &save);
	if (cmd == NULL) {
		snprintf(reply, len, "error empty command");
		return;
	}
	if (extra != NULL) {
		snprintf(reply, len, "error too many arguments");
		return;
	}
	if (strcmp(cmd, "pass") == 0 && arg == NULL) {
		if (px.mode == MODE_SYNHOLE)
			synhole_end();
		px.mode = MODE_PASS;
		px.delay_ms = 0;
		px.reset_after = 0;
		TAILQ_FOREACH_SAFE(c, &px.conns, entry, next) {
			if (c->blackholed) {
				conn_free(c, "closed (blackhole ended)");
				n++;
			} else if (!c->resetting)
				c->reset_left = -1;
		}
		snprintf(reply, len, "ok pass closed=%lu", n);
	} else if (strcmp(cmd, "cut") == 0 && arg == NULL) {
		px.mode = MODE_CUT;
		TAILQ_FOREACH_SAFE(c, &px.conns, entry, next) {
			conn_free(c, "closed (cut)");
			n++;
		}
		snprintf(reply, len, "ok cut closed=%lu", n);
	} else if (strcmp(cmd, "synhole") == 0 && arg == NULL) {
		if (px.mode != MODE_SYNHOLE && px.mode != MODE_PASS) {
			snprintf(reply, len, "error synhole only from pass");
			return;
		}
		px.mode = MODE_SYNHOLE;
		TAILQ_FOREACH_SAFE(c, &px.conns, entry, next) {
			conn_free(c, "closed (synhole)");
			n++;
		}
		snprintf(reply, len, "ok synhole closed=%lu fillers=%d", n, synhole_start());
	} else if (strcmp(cmd, "blackhole") == 0 && arg == NULL) {
		px.mode = MODE_BLACKHOLE;
		TAILQ_FOREACH(c, &px.conns, entry) {
			conn_blackhole(c);
			n++;
		}
		snprintf(reply, len, "ok blackhole conns=%lu", n);
	} else if (strcmp(cmd, "delay") == 0) {
		if (parse_num(arg, 3600 * 1000, &v) == -1) {
			snprintf(reply, len, "error usage: delay MS");
			return;
		}
		px.delay_ms = (unsigned long)v;
		snprintf(reply, len, "ok delay %lu", px.delay_ms);
	} else if (strcmp(cmd, "reset-after") == 0) {
		if (parse_num(arg, LLONG_MAX / 2, &v) == -1) {
			snprintf(reply, len, "error usage: reset-after BYTES");
			return;
		}
		px.reset_after = v;
		TAILQ_FOREACH(c, &px.conns, entry) {
			if (c->resetting || c->blackholed)
				continue;
			c->reset_left = v > 0 ? v : -1;
			n++;
		}
		snprintf(reply, len, "ok reset-after %lld armed=%lu", v,
		    v > 0 ? n : 0);
	} else if (strcmp(cmd, "stats") == 0 && arg == NULL) {
		snprintf(reply, len, "ok conns=%lu total_conns=%lu up=%" PRIu64
		    " down=%" PRIu64, px.nconns, px.total_conns, px.up, px.down);
	} else if (strcmp(cmd, "show") == 0 && arg == NULL) {
		snprintf(reply, len, "ok mode=%s delay=%lu reset_after=%lld "
		    "resets=%lu refused=%lu", mode_names[px.mode], px.delay_ms,
		    px.reset_after, px.resets, px.refused);
	} else if (strcmp(cmd, "quit") == 0 && arg == NULL) {
		px.quitting = 1;
		snprintf(reply, len, "ok quit");
	} else if (strcmp(cmd, "pass") == 0 || strcmp(cmd, "cut") == 0 ||
	    strcmp(cmd, "blackhole") == 0 || strcmp(cmd, "synhole") == 0 ||
	    strcmp(cmd, "stats") == 0 ||
	    strcmp(cmd, "show") == 0 || strcmp(cmd, "quit") == 0) {
		snprintf(reply, len, "error %s takes no argument", cmd);
	} else
		snprintf(reply, len, "error unknown command '%.64s'", cmd);
}

static void
ctl_free(struct ctl *ctl)
{
	TAILQ_REMOVE(&px.ctls, ctl, entry);
	bufferevent_free(ctl->bev);
	free(ctl);
}

static void
ctl_readcb(struct bufferevent *bev, void *arg)
{
	struct ctl	*ctl = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line, reply[256], shown[CTL_LINE_MAX + 1];
	size_t		 n;

	while (!px.quitting &&
	    (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		/* ctl_command() cuts the line into words: log a copy. */
		snprintf(shown, sizeof(shown), "%s", line);
		ctl_command(line, reply, sizeof(reply));
		logmsg("control: %.200s -> %s", shown[0] ? shown : "(empty)",
		    reply);
		free(line);
		bufferevent_write(bev, reply, strlen(reply));
		bufferevent_write(bev, "\n", 1);
	}
	if (evbuffer_get_length(in) > CTL_LINE_MAX) {
		logmsg("control: line too long, closing");
		ctl_free(ctl);
	}
}

static void
ctl_writecb(struct bufferevent *bev, void *arg)
{
	/* The quit reply is out: now leave. */
	if (px.quitting)
		event_base_loopbreak(px.base);
}

static void
ctl_eventcb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		ctl_free(arg);
		/* Gone before reading the quit reply: leave anyway. */
		if (px.quitting)
			event_base_loopbreak(px.base);
	}
}

static void
ctl_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ctl	*ctl;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->bev = bufferevent_socket_new(px.base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		logmsg("control: cannot set up a client");
		free(ctl);
		evutil_closesocket(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&px.ctls, ctl, entry);
	bufferevent_setcb(ctl->bev, ctl_readcb, ctl_writecb, ctl_eventcb, ctl);
	bufferevent_enable(ctl->bev, EV_READ | EV_WRITE);
}

static void
signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	logmsg("exiting on signal %d", (int)sig);
	event_base_loopbreak(px.base);
}

static int
write_portfile(const char *path, int port, int ctl_port)
{
	char	 tmp[4096];
	FILE	*f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(f, "%d %d\n", port, ctl_port);
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * Parses HOST:PORT (HOST an IPv4 address or a bracketed IPv6 one).  Unlike
 * evutil_parse_sockaddr_port() it takes port 0, "any free port".
 */
static int
parse_addr(const char *s, struct sockaddr_storage *ss, int *len)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	char			 host[INET6_ADDRSTRLEN + 2], *end;
	const char		*colon = strrchr(s, ':');
	size_t			 hlen;
	long			 port;

	if (colon == NULL || (hlen = (size_t)(colon - s)) >= sizeof(host))
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || port < 0 ||
	    port > 65535)
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*s6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -1;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((unsigned short)port);
	*len = sizeof(*s4);
	return 0;
}

static struct evconnlistener *
listen_on(const char *addr, evconnlistener_cb cb)
{
	struct sockaddr_storage	ss;
	int			len;

	if (parse_addr(addr, &ss, &len) == -1) {
		errno = EINVAL;
		logmsg("bad address '%s' (want HOST:PORT)", addr);
		return NULL;
	}
	return evconnlistener_new_bind(px.base, cb, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    LISTEN_BACKLOG, (struct sockaddr *)&ss, len);
}

static void
usage(void)
{
	fprintf(stderr, "usage: faultproxy -l ADDR:PORT -t ADDR:PORT "
	    "[-c ADDR:PORT] [-p PORTFILE]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*laddr = NULL, *caddr = "127.0.0.1:0", *portfile = NULL;
	struct event	*sigterm = NULL, *sigint = NULL;
	struct conn	*c;
	struct ctl	*ctl;
	int		 ch, rc = 1, port, ctl_port;

	while ((ch = getopt(argc, argv, "l:t:c:p:h")) != -1) {
		switch (ch) {
		case 'l':
			laddr = optarg;
			break;
		case 't':
			px.target_name = optarg;
			break;
		case 'c':
			caddr = optarg;
			break;
		case 'p':
			portfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (laddr == NULL || px.target_name == NULL || optind != argc)
		usage();

	if (parse_addr(px.target_name, &px.target, &px.target_len) == -1) {
		logmsg("bad target address '%s' (want HOST:PORT)",
		    px.target_name);
		return 2;
	}
	TAILQ_INIT(&px.conns);
	TAILQ_INIT(&px.ctls);
	signal(SIGPIPE, SIG_IGN);
	if ((px.base = event_base_new()) == NULL) {
		logmsg("event_base_new failed");
		return 1;
	}
	if ((px.listener = listen_on(laddr, accept_cb)) == NULL) {
		logmsg("listen on %s: %s", laddr, strerror(errno));
		goto done;
	}
	evconnlistener_set_error_cb(px.listener, accept_error_cb);
	if ((px.ctl_listener = listen_on(caddr, ctl_accept_cb)) == NULL) {
		logmsg("control: listen on %s: %s", caddr, strerror(errno));
		goto done;
	}
	sigterm = evsignal_new(px.base, SIGTERM, signal_cb, NULL);
	sigint = evsignal_new(px.base, SIGINT, signal_cb, NULL);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL)) {
		logmsg("cannot install signal handlers");
		goto done;
	}
	port = listener_port(px.listener);
	ctl_port = listener_port(px.ctl_listener);
	if (portfile && write_portfile(portfile, port, ctl_port) == -1) {
		logmsg("portfile %s: %s", portfile, strerror(errno));
		goto done;
	}
	logmsg("listening on port %d, control on port %d, target %s", port,
	    ctl_port, px.target_name);

	if (event_base_dispatch(px.base) == -1) {
		logmsg("event loop failed");
		goto done;
	}
	rc = 0;
	logmsg("exiting: %lu connections open, %lu accepted in all",
	    px.nconns, px.total_conns);
done:
	while ((c = TAILQ_FIRST(&px.conns)) != NULL)
		conn_free(c, "closed (exit)");
	while ((ctl = TAILQ_FIRST(&px.ctls)) != NULL)
		ctl_free(ctl);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (px.listener)
		evconnlistener_free(px.listener);
	if (px.ctl_listener)
		evconnlistener_free(px.ctl_listener);
	event_base_free(px.base);
	return rc;
}
