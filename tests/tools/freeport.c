/*
 * freeport: prints free TCP ports on 127.0.0.1, one a line, for tests that
 * must tell a daemon which port to listen on.
 *
 *	freeport [-n COUNT] [-b BASE -s SPAN]
 *
 * -b and -s draw from BASE..BASE+SPAN-1 only: integration tests running in
 * parallel each get a block of their own (lib.sh derives it from the test's
 * name), so one never picks a port another picked and has not bound yet.
 *
 * A port is free if binding 127.0.0.1:PORT without SO_REUSEADDR succeeds,
 * which also rules out ports held by a wildcard listener or a connection in
 * TIME_WAIT.  Ports are drawn at random below the kernel's ephemeral range
 * (ip_local_port_range): the ports that connect() hands out to outgoing
 * connections, ours included, are never chosen, so a port printed here stays
 * free until a test binds it unless another program binds it on purpose.
 * The COUNT ports printed are distinct: each stays bound until all are found.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COUNT_MAX	64
#define TRIES		2000

static int
try_bind(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Lowest port of the ephemeral range, or 0 if unknown. */
static int
ephemeral_low(void)
{
	FILE	*f;
	int	 lo = 0, hi = 0;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) == NULL)
		return 0;
	if (fscanf(f, "%d %d", &lo, &hi) != 2)
		lo = 0;
	fclose(f);
	return lo;
}

/* Fallback: let the kernel pick (from the ephemeral range). */
static int
any_port(int *fdp)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;

	if ((fd = try_bind(0)) == -1)
		return -1;
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	*fdp = fd;
	return ntohs(sin.sin_port);
}

int
main(int argc, char *argv[])
{
	struct timespec	 ts;
	int		 fds[COUNT_MAX], ports[COUNT_MAX];
	int		 ch, count = 1, found = 0, tries, lo, base = 0, span = 0, i;

	while ((ch = getopt(argc, argv, "n:b:s:")) != -1) {
		switch (ch) {
		case 'n':
			count = atoi(optarg);
			break;
		case 'b':
			base = atoi(optarg);
			break;
		case 's':
			span = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || count < 1 || count > COUNT_MAX)
		goto usage;

	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned)(ts.tv_nsec ^ (getpid() << 16) ^ ts.tv_sec));
	lo = ephemeral_low();
	if (base <= 0 || span <= 0 || base + span > lo) {
		/* Below the ephemeral range, above the well-known and common ports. */
		base = 20000;
		span = lo - base;
	}
	for (tries = 0; found < count && span >= 10 && tries < TRIES;
	    tries++) {
		int port = base + (int)(random() % span);

		for (i = 0; i < found; i++)
			if (ports[i] == port)
				break;
		if (i < found || (fds[found] = try_bind(port)) == -1)
			continue;
		ports[found++] = port;
	}
	while (found < count) {
		if ((ports[found] = any_port(&fds[found])) == -1) {
			fprintf(stderr, "freeport: bind: %s\n", strerror(errno));
			return 1;
		}
		found++;
	}
	for (i = 0; i < found; i++) {
		printf("%d\n", ports[i]);
		close(fds[i]);
	}
	return 0;
usage:
	fprintf(stderr, "usage: freeport [-n COUNT]\n");
	return 2;
}
