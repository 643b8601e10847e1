/*
 * linkmitm.c — a man in the middle on a plain tcp:// link, for the tests
 * that attack the link protocol. It relays nng's SP-over-TCP between a
 * child (or client) and its parent and rewrites the parent's replies:
 *
 *   linkmitm -l PORT -t HOST:PORT [-n COUNT] [-a ADD] [-c CARRIER]
 *            [-e TYPE:STATUS]
 *
 *   -l  listen on 127.0.0.1:PORT
 *   -t  the parent
 *   -a  Auth replies: add ADD to every marks[].seq (the parent "holds more")
 *   -c  Auth replies: set the carrier (1 tcp, 2 http)
 *   -e  replace the reply to a request of MsgType TYPE by an error envelope
 *       of STATUS (no body, no mac), as if the parent refused it
 *   -n  tamper with the first COUNT matching replies only (default 1), then
 *       relay faithfully, so a protocol that notices can recover
 *
 * Each tampering is reported on stderr as "linkmitm: tampered ...".
 *
 * SP over TCP: each side first sends an 8-byte header (0 'S' 'P' 0, the
 * protocol, 0 0), relayed unchanged; then every message is an 8-byte
 * big-endian length and the message. A rep's message starts with the
 * request id (4 bytes, high bit set) that its req put before the body.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "packets.h"

#define SP_HDR 8
#define MAX_MSG (64u << 20)

static struct sockaddr_in target;
static int64_t add_mark;
static int set_carrier = -1;
static int err_type = -1, err_status;
static int remaining = 1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "linkmitm: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* Takes one tampering from the budget: 1 if allowed. */
static int
take(void)
{
	int ok;

	pthread_mutex_lock(&mu);
	ok = remaining > 0;
	if (ok)
		remaining--;
	pthread_mutex_unlock(&mu);
	return ok;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
read_all(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = read(fd, p, n)) <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
send_frame(int fd, const uint8_t *msg, size_t len)
{
	uint8_t hdr[8];
	uint64_t l = len;
	int i;

	for (i = 7; i >= 0; i--, l >>= 8)
		hdr[i] = (uint8_t)l;
	return write_all(fd, hdr, 8) == 0 && write_all(fd, msg, len) == 0 ? 0 : -1;
}

/* Rewrites an Auth reply's body in place of rep; 1 if it changed. */
static int
tamper_auth(Cascade__Reply *rep, uint8_t **newbody, size_t *newlen)
{
	Cascade__AuthReply *ar;
	size_t i;

	if (rep->status != 0 || (add_mark == 0 && set_carrier < 0))
		return 0;
	if ((ar = cascade__auth_reply__unpack(NULL, rep->body.len, rep->body.data)) == NULL)
		return 0;
	if (!take()) {
		cascade__auth_reply__free_unpacked(ar, NULL);
		return 0;
	}
	for (i = 0; i < ar->n_marks; i++) {
		fprintf(stderr, "linkmitm: tampered auth reply: mark of epoch %016llx %llu -> %llu\n",
		    (unsigned long long)ar->marks[i]->epoch, (unsigned long long)ar->marks[i]->seq,
		    (unsigned long long)(ar->marks[i]->seq + (uint64_t)add_mark));
		ar->marks[i]->seq += (uint64_t)add_mark;
	}
	if (set_carrier >= 0) {
		fprintf(stderr, "linkmitm: tampered auth reply: carrier %u -> %d\n", ar->carrier,
		    set_carrier);
		ar->carrier = (uint32_t)set_carrier;
	}
	*newlen = cascade__auth_reply__get_packed_size(ar);
	*newbody = malloc(*newlen + 1);
	cascade__auth_reply__pack(ar, *newbody);
	cascade__auth_reply__free_unpacked(ar, NULL);
	return 1;
}

/*
 * One message from the parent: msg is the request id and a Reply. Writes
 * the (maybe rewritten) message to the child.
 */
static int
relay_reply(int to, uint8_t *msg, size_t len)
{
	Cascade__Reply *rep;
	uint8_t *body = NULL, *out;
	size_t blen = 0, olen;
	int changed = 0, rc;

	if (len < 4 || (rep = cascade__reply__unpack(NULL, len - 4, msg + 4)) == NULL)
		return send_frame(to, msg, len);
	if (rep->type == CASCADE__MSG_TYPE__MSG_AUTH && tamper_auth(rep, &body, &blen)) {
		rep->body.data = body;
		rep->body.len = blen;
		changed = 1;
	} else if ((int)rep->type == err_type && take()) {
		fprintf(stderr, "linkmitm: tampered reply to request type %u: status %u -> %d (%s)\n",
		    rep->type, rep->status, err_status, cstatus_str((uint32_t)err_status));
		rep->status = (uint32_t)err_status;
		rep->error = "refused by the man in the middle";
		rep->body.len = 0;
		rep->mac.len = 0;
		changed = 1;
	}
	if (!changed) {
		cascade__reply__free_unpacked(rep, NULL);
		return send_frame(to, msg, len);
	}
	olen = 4 + cascade__reply__get_packed_size(rep);
	out = malloc(olen);
	memcpy(out, msg, 4);
	cascade__reply__pack(rep, out + 4);
	/* the fields pointed into our buffers: detach them before freeing */
	rep->body.data = NULL;
	rep->body.len = 0;
	rep->error = NULL;
	rep->mac.len = 0;
	rc = send_frame(to, out, olen);
	free(out);
	free(body);
	cascade__reply__free_unpacked(rep, NULL);
	return rc;
}

/* Copies frames from one side to the other; parent replies go through relay_reply. */
struct pipe_dir {
	int from, to, replies;
};

static void *
pump(void *arg)
{
	struct pipe_dir *d = arg;
	uint8_t hdr[8], *msg;
	uint64_t len;
	int i;

	if (read_all(d->from, hdr, SP_HDR) != 0 || write_all(d->to, hdr, SP_HDR) != 0)
		goto out;
	for (;;) {
		if (read_all(d->from, hdr, 8) != 0)
			break;
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | hdr[i];
		if (len > MAX_MSG || (msg = malloc(len + 1)) == NULL)
			break;
		if (read_all(d->from, msg, len) != 0) {
			free(msg);
			break;
		}
		i = d->replies ? relay_reply(d->to, msg, len) : send_frame(d->to, msg, len);
		free(msg);
		if (i != 0)
			break;
	}
out:
	shutdown(d->to, SHUT_RDWR);
	shutdown(d->from, SHUT_RDWR);
	return NULL;
}

static void *
conn(void *arg)
{
	int child = (int)(intptr_t)arg, parent;
	struct pipe_dir up, down;
	pthread_t t;

	if ((parent = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(parent, (struct sockaddr *)&target, sizeof(target)) != 0) {
		close(child);
		if (parent >= 0)
			close(parent);
		return NULL;
	}
	up.from = child;
	up.to = parent;
	up.replies = 0;
	down.from = parent;
	down.to = child;
	down.replies = 1;
	pthread_create(&t, NULL, pump, &up);
	pump(&down);
	pthread_join(t, NULL);
	close(child);
	close(parent);
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *tgt = NULL;
	struct sockaddr_in sa;
	char host[64];
	int ch, ls, port, lport = -1, one = 1;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "l:t:n:a:c:e:")) != -1) {
		switch (ch) {
		case 'l': lport = atoi(optarg); break;
		case 't': tgt = optarg; break;
		case 'n': remaining = atoi(optarg); break;
		case 'a': add_mark = atoll(optarg); break;
		case 'c': set_carrier = atoi(optarg); break;
		case 'e':
			if (sscanf(optarg, "%d:%d", &err_type, &err_status) != 2)
				die("-e TYPE:STATUS");
			break;
		default: die("usage: linkmitm -l PORT -t HOST:PORT [-n N] [-a ADD] [-c C] "
			    "[-e TYPE:STATUS]");
		}
	}
	if (lport < 0 || tgt == NULL || sscanf(tgt, "%63[^:]:%d", host, &port) != 2)
		die("-l PORT and -t HOST:PORT are required");
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &target.sin_addr) != 1)
		die("bad host %s", host);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)lport);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket: %s", strerror(errno));
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 16) != 0)
		die("listen on 127.0.0.1:%d: %s", lport, strerror(errno));
	for (;;) {
		int c = accept(ls, NULL, NULL);
		pthread_t t;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("accept: %s", strerror(errno));
		}
		pthread_create(&t, NULL, conn, (void *)(intptr_t)c);
		pthread_detach(t);
	}
}
