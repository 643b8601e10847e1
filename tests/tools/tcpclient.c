/*
 * tcpclient: a TCP client for shell tests that need exact byte counts and
 * to tell a reset from a close.
 *
 *	tcpclient [-s STRING | -n BYTES] [-e BYTES] [-t MS] [-w MS] [-o FILE]
 *	    PORT
 *
 * Connects to 127.0.0.1:PORT, waits -w MS (default 0), sends STRING or BYTES bytes of a fixed pattern
 * while reading whatever comes back, and stops when it has received -e BYTES,
 * at EOF, at a reset or error, or -t MS (default 5000) after connecting (the
 * wait included).
 * Then prints one line:
 *
 *	sent=N recv=N end=done|eof|reset|error|timeout ms=N match=0|1
 *
 * ms counts from the connect to the end; match=1 if the bytes received are
 * a prefix of the bytes sent (what an echo returns).  -o writes the bytes
 * received to FILE.  Exits 0 once connected, whatever the end; 1 if the
 * connect failed; 2 on a usage error.
 *
 *	tcpclient -c CONNS -d MS [-s STRING] [-b ADDR] [-t MS] PORT
 *
 * Trickle: opens CONNS connections from ADDR (default 127.0.0.1) and sends
 * STRING (default an unfinished http request) on each, one byte every -d
 * MS, for -t MS.  Then prints
 *
 *	conns=N refused=N cut=N open=N last_cut_ms=N
 *
 * refused: closed by the server within 500 ms of the connect (or the
 * connect failed); cut: closed later, the latest at last_cut_ms after the
 * start; open: still open at the end.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char pattern[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tcpclient [-s STRING | -n BYTES] [-e BYTES] "
	    "[-t MS] [-w MS] [-o FILE] PORT\n");
	exit(2);
}

static int
trickle(int conns, long drip, const char *str, const char *from, int port, long timeout)
{
	struct sockaddr_in	 sin, src;
	struct pollfd		*pfd = calloc((size_t)conns, sizeof(*pfd));
	long long		*opened = calloc((size_t)conns, sizeof(long long));
	size_t			*sent = calloc((size_t)conns, sizeof(size_t));
	long long		 start = now_ms(), next = start, last_cut = 0, t;
	int			 i, refused = 0, cut = 0, open = 0;
	char			 buf[4096];

	if (pfd == NULL || opened == NULL || sent == NULL)
		return 1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	if (inet_pton(AF_INET, from, &src.sin_addr) != 1)
		usage();
	for (i = 0; i < conns; i++) {
		pfd[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (pfd[i].fd == -1 || bind(pfd[i].fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
		    connect(pfd[i].fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			if (pfd[i].fd != -1)
				close(pfd[i].fd);
			pfd[i].fd = -1;
			refused++;
			continue;
		}
		opened[i] = now_ms();
		pfd[i].events = POLLIN;
	}
	while ((t = now_ms()) < start + timeout) {
		if (t >= next) {
			for (i = 0; i < conns; i++)
				if (pfd[i].fd != -1 && sent[i] < strlen(str) &&
				    send(pfd[i].fd, str + sent[i], 1, MSG_NOSIGNAL) == 1)
					sent[i]++;
			next = t + drip;
		}
		if (poll(pfd, (nfds_t)conns, (int)(next - t > 0 ? next - t : 1)) == -1 &&
		    errno != EINTR)
			return 1;
		for (i = 0; i < conns; i++) {
			if (pfd[i].fd == -1 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				continue;       /* an answer: the close follows */
			if (now_ms() - opened[i] < 500) {
				refused++;
			} else {
				cut++;
				last_cut = now_ms() - start;
			}
			close(pfd[i].fd);
			pfd[i].fd = -1;
		}
	}
	for (i = 0; i < conns; i++)
		if (pfd[i].fd != -1) {
			open++;
			close(pfd[i].fd);
		}
	printf("conns=%d refused=%d cut=%d open=%d last_cut_ms=%lld\n", conns, refused, cut,
	    open, last_cut);
	free(pfd);
	free(opened);
	free(sent);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd;
	const char		*str = NULL, *outfile = NULL, *end = "timeout";
	char			*data = NULL, buf[65536];
	long long		 start, left;
	long			 nbytes = -1, expect = -1, timeout = 5000;
	long			 pause = 0;
	size_t			 len = 0, sent = 0, recvd = 0, i;
	ssize_t			 n;
	FILE			*out = NULL;
	int			 ch, fd, port, match = 1, conns = 0;
	long			 drip = 0;
	const char		*from = "127.0.0.1";

	while ((ch = getopt(argc, argv, "s:n:e:t:w:o:c:d:b:")) != -1) {
		switch (ch) {
		case 'c':
			conns = atoi(optarg);
			break;
		case 'd':
			drip = atol(optarg);
			break;
		case 'b':
			from = optarg;
			break;
		case 's':
			str = optarg;
			break;
		case 'n':
			nbytes = atol(optarg);
			break;
		case 'e':
			expect = atol(optarg);
			break;
		case 't':
			timeout = atol(optarg);
			break;
		case 'w':
			pause = atol(optarg);
			break;
		case 'o':
			outfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || (str && nbytes >= 0) || timeout < 0 ||
	    pause < 0)
		usage();
	port = atoi(argv[optind]);
	if (port <= 0 || port > 65535)
		usage();
	if (conns > 0)
		return trickle(conns, drip > 0 ? drip : 500, str ? str :
		    "POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
		    "Content-Length: 100000\r\n\r\n", from, port, timeout);

	if (str) {
		len = strlen(str);
		data = strdup(str);
	} else if (nbytes > 0) {
		len = (size_t)nbytes;
		if ((data = malloc(len)) != NULL)
			for (i = 0; i < len; i++)
				data[i] = pattern[i % (sizeof(pattern) - 1)];
	}
	if (len > 0 && data == NULL) {
		fprintf(stderr, "tcpclient: out of memory\n");
		return 1;
	}
	if (outfile && (out = fopen(outfile, "w")) == NULL) {
		fprintf(stderr, "tcpclient: %s: %s\n", outfile, strerror(errno));
		return 1;
	}

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		printf("connect failed: %s\n", strerror(errno));
		return 1;
	}
	start = now_ms();
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

	for (;;) {
		if (expect >= 0 && recvd >= (size_t)expect) {
			end = "done";
			break;
		}
		left = start + timeout - now_ms();
		if (left <= 0)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (sent < len && now_ms() >= start + pause)
			pfd.events |= POLLOUT;
		else if (sent < len && start + pause - now_ms() < left)
			left = start + pause - now_ms();
		if (left <= 0)
			left = 1;
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			end = "error";
			break;
		}
		if (pfd.revents & POLLOUT) {
			n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				end = errno == ECONNRESET || errno == EPIPE ?
				    "reset" : "error";
				break;
			}
			if (n > 0)
				sent += (size_t)n;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n == 0) {
				end = "eof";
				break;
			}
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				end = errno == ECONNRESET ? "reset" : "error";
				break;
			}
			if (recvd + (size_t)n > len ||
			    memcmp(buf, data + recvd, (size_t)n) != 0)
				match = 0;
			if (out)
				fwrite(buf, 1, (size_t)n, out);
			recvd += (size_t)n;
		}
	}
	printf("sent=%zu recv=%zu end=%s ms=%lld match=%d\n", sent, recvd, end,
	    now_ms() - start, match);
	if (out)
		fclose(out);
	close(fd);
	free(data);
	return 0;
}
