/*
 * sdk_send: libcascade's local throughput, sends per second to custody:
 * N cascade_send() calls of SIZE bytes, then cascade_flush(); the time from
 * the first send to the flush's return. The C reference of make bench-sdk
 * (tests/bench/sdk.sh), beside sdk_send.py and SdkSend.java, which do the
 * same through the bindings.
 *
 *	sdk_send -u URL -a ADDR -s SECRET -t DST [-n N] [-z SIZE]
 *
 * Prints one line: "c N SECONDS SENDS_PER_S". It waits for the session to
 * be up before the clock starts, so the dial and sign-in are not counted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cascade.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *addr = NULL, *secret = NULL, *dst = NULL;
	long n = 20000, size = 100, i;
	cascade_options_t *o;
	cascade_t *h;
	char *payload;
	double t0, t;
	int ch, rc, w;

	while ((ch = getopt(argc, argv, "u:a:s:t:n:z:")) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'a': addr = optarg; break;
		case 's': secret = optarg; break;
		case 't': dst = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'z': size = atol(optarg); break;
		default: goto usage;
		}
	}
	if (url == NULL || addr == NULL || secret == NULL || dst == NULL || n < 1 || size < 0)
		goto usage;
	if ((payload = calloc(1, (size_t)size + 1)) == NULL)
		return 1;
	memset(payload, 'x', (size_t)size);
	if (cascade_options_new(&o) != 0 || cascade_options_set_url(o, url) != 0 ||
	    cascade_options_set_client(o, addr) != 0 ||
	    cascade_options_set_secret_file(o, secret) != 0 ||
	    cascade_options_set_queue_max(o, 10000000) != 0) {
		fprintf(stderr, "sdk_send: bad options\n");
		return 2;
	}
	if ((rc = cascade_open(o, &h)) != 0) {
		fprintf(stderr, "sdk_send: opening %s at %s: %s\n", addr, url, cascade_strerror(rc));
		return 1;
	}
	cascade_options_free(o);
	for (w = 0; cascade_state(h) != CASCADE_STATE_UP && w < 1000; w++)
		usleep(10000);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if ((rc = cascade_send(h, dst, "bench.data", payload, (size_t)size, 600000, 0,
		    NULL)) != 0) {
			fprintf(stderr, "sdk_send: send %ld: %s\n", i + 1, cascade_strerror(rc));
			return 1;
		}
	if ((rc = cascade_flush(h, 120000)) != 0) {
		fprintf(stderr, "sdk_send: flush: %s\n", cascade_strerror(rc));
		return 1;
	}
	t = now_s() - t0;
	printf("c %ld %.3f %.0f\n", n, t, (double)n / t);
	cascade_close(h);
	free(payload);
	return 0;
usage:
	fprintf(stderr, "usage: sdk_send -u URL -a ADDR -s SECRET -t DST [-n N] [-z SIZE]\n");
	return 2;
}
