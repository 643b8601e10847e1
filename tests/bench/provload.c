/*
 * provload.c — the many-clients load of the province benchmark
 * (tests/bench/province.sh): one process holds a few hundred client
 * sessions through libcascade (tcp:// or http:// as each client's url
 * says), so 2 000 clients need a handful of processes, not 2 000.
 *
 * The clients of the whole province are listed in one file, one a line,
 * in a fixed order (the line number is the client's index):
 *
 *	URL ADDRESS SECRET_FILE COUNTY
 *
 *   provload load -c FILE -f FIRST -l LAST -n COUNT [-S SEED] [-z BYTES] [-W SECONDS]
 *       Opens the clients FIRST..LAST (indexes, inclusive) and waits until
 *       each session is up. Packet k (0 <= k < COUNT) goes from client
 *       src(k) to client dst(k), both drawn from every client in FILE by
 *       SEED (the same in every process: no process needs to tell another
 *       what it sent). Sends the packets whose src is its own, flushes
 *       them into the nodes' custody, and waits until every packet whose
 *       dst is its own arrived or SECONDS (default 600) passed. Payload:
 *       magic "PRVB", k (u64), the send stamp (ns, CLOCK_REALTIME), 'x' up
 *       to BYTES (default 1024). A packet is checked at its receiver by k:
 *       it must be addressed to that client and come once.
 *   provload probe -c FILE -T START_NS [-W SECONDS]
 *       Route convergence: client 0 sends one packet to the first client of
 *       every other county, each of which answers client 0 as it arrives.
 *       Done when every answer is back: every county reached client 0 and
 *       was reached by it. Reports the time from START_NS (the start of the
 *       first node) to the last answer.
 *
 * Each mode ends with one line of key=value words on stdout, e.g.
 *   provload load clients=200 sent=10000 expected=10000 received=10000 lost=0 dup=0 ...
 * and exits 0 only when nothing was lost, duplicated, misaddressed or
 * answered by a notice.
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "cascade.h"

#define MAGIC "PRVB"
#define HDR_LEN 20              /* magic, k, stamp */

struct client {
	char *url, *addr, *secret, *county;
	cascade_t *h;
};

static struct client *cl;
static long ncl;
static long first, last, count = 1000;
static uint64_t seed = 13;
static int size = 1024, waitsec = 600;
static long long start_ns;

/* What the packet callbacks found; they run on every handle's own thread. */
static pthread_mutex_t r_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *seen;
static int64_t *lat;                    /* ns, by k; only own packets */
static long got, dups, notices, foreign, nlat;
static int64_t last_recv;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "provload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* splitmix64: the same pairs in every process for one seed */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static long
src_of(long k)
{
	return (long)(mix(seed ^ ((uint64_t)k << 1)) % (uint64_t)ncl);
}

/* never src_of(k) itself */
static long
dst_of(long k)
{
	return (src_of(k) + 1 + (long)(mix(seed ^ ((uint64_t)k << 1 | 1)) % (uint64_t)(ncl - 1))) %
	    ncl;
}

static void
read_clients(const char *file)
{
	FILE *f;
	char line[1024], u[256], a[256], s[512], c[128];
	long cap = 0;

	if ((f = fopen(file, "r")) == NULL)
		die("%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%255s %255s %511s %127s", u, a, s, c) != 4)
			die("%s:%ld: want URL ADDRESS SECRET_FILE COUNTY", file, ncl + 1);
		if (ncl == cap && (cl = realloc(cl, (size_t)(cap = cap ? cap * 2 : 256) *
		    sizeof(*cl))) == NULL)
			die("out of memory");
		cl[ncl].url = strdup(u);
		cl[ncl].addr = strdup(a);
		cl[ncl].secret = strdup(s);
		cl[ncl].county = strdup(c);
		cl[ncl].h = NULL;
		if (!cl[ncl].url || !cl[ncl].addr || !cl[ncl].secret || !cl[ncl].county)
			die("out of memory");
		ncl++;
	}
	fclose(f);
	if (ncl < 2)
		die("%s: at least two clients", file);
}

static void
client_open(long i, cascade_packet_cb cb)
{
	cascade_options_t *o;
	int rc;

	if (cascade_options_new(&o) != 0 || cascade_options_set_url(o, cl[i].url) != 0 ||
	    cascade_options_set_client(o, cl[i].addr) != 0 ||
	    cascade_options_set_secret_file(o, cl[i].secret) != 0 ||
	    cascade_options_set_queue_max(o, 10000000) != 0 ||
	    cascade_options_set_reconnect(o, 50, 500) != 0 ||
	    cascade_options_set_packet_cb(o, cb, (void *)(intptr_t)i) != 0)
		die("bad options for %s", cl[i].addr);
	if ((rc = cascade_open(o, &cl[i].h)) != 0)
		die("opening %s at %s: %s", cl[i].addr, cl[i].url, cascade_strerror(rc));
	cascade_options_free(o);
}

/* Waits until the sessions of clients lo..hi are up; dies at the deadline. */
static void
wait_up(long lo, long hi, int64_t deadline)
{
	long i;

	for (i = lo; i <= hi; i++) {
		if (cl[i].h == NULL)
			continue;
		while (cascade_state(cl[i].h) != CASCADE_STATE_UP) {
			char err[256] = "";

			if (real_ns() > deadline) {
				cascade_last_error(cl[i].h, err, sizeof(err));
				die("%s: no session with %s within %d s (state %d: %s)", cl[i].addr,
				    cl[i].url, waitsec, cascade_state(cl[i].h), err);
			}
			usleep(10000);
		}
	}
}

/* Fills a payload of size bytes for packet k. */
static void
payload_fill(uint8_t *p, long k)
{
	memset(p, 'x', (size_t)size);
	memcpy(p, MAGIC, 4);
	put64(p + 4, (uint64_t)k);
	put64(p + 12, (uint64_t)real_ns());
}

/* The index k of a benchmark payload, or -1. */
static long
payload_k(const cascade_packet_t *p, int64_t *stamp)
{
	size_t len;
	const uint8_t *b = cascade_packet_payload(p, &len);
	uint64_t k;

	if (cascade_packet_kind(p) != CASCADE_KIND_DATA || len < HDR_LEN ||
	    memcmp(b, MAGIC, 4) != 0)
		return -1;
	k = get64(b + 4);
	if (stamp != NULL)
		*stamp = (int64_t)get64(b + 12);
	return k < (uint64_t)count ? (long)k : -1;
}

/* ------------------------------------------------------------ load */

static void
on_load(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	long me = (long)(intptr_t)arg, k;
	int64_t stamp = 0, now = real_ns();

	(void)h;
	k = payload_k(p, &stamp);
	pthread_mutex_lock(&r_lock);
	if (cascade_packet_kind(p) == CASCADE_KIND_NOTICE) {
		notices++;
		fprintf(stderr, "provload %s: notice %d (%s) about a packet sent\n", cl[me].addr,
		    cascade_packet_notice(p), cascade_packet_text(p));
	} else if (k < 0 || dst_of(k) != me) {
		foreign++;
	} else if (seen[k]) {
		dups++;
	} else {
		seen[k] = 1;
		got++;
		lat[nlat++] = now - stamp;
		last_recv = now;
	}
	pthread_mutex_unlock(&r_lock);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double
q_ms(long n, double q)
{
	long i = (long)(q * (double)n);

	return n == 0 ? 0 : (double)lat[i >= n ? n - 1 : i] / 1e6;
}

static int
do_load(void)
{
	int64_t t_open, t_up, first_send, t_flushed, deadline;
	long i, k, sent = 0, expected = 0, g;
	uint8_t *buf;
	int rc;

	if (first < 0 || last < first || last >= ncl)
		die("-f %ld -l %ld: not within the %ld clients", first, last, ncl);
	if ((seen = calloc((size_t)count, 1)) == NULL ||
	    (lat = calloc((size_t)count, sizeof(*lat))) == NULL ||
	    (buf = malloc((size_t)size)) == NULL)
		die("out of memory");
	for (k = 0; k < count; k++)
		if (dst_of(k) >= first && dst_of(k) <= last)
			expected++;
	t_open = real_ns();
	deadline = t_open + (int64_t)waitsec * 1000000000;
	for (i = first; i <= last; i++)
		client_open(i, on_load);
	wait_up(first, last, deadline);
	t_up = real_ns();
	first_send = real_ns();
	for (k = 0; k < count; k++) {
		long s = src_of(k);

		if (s < first || s > last)
			continue;
		payload_fill(buf, k);
		if ((rc = cascade_send(cl[s].h, cl[dst_of(k)].addr, "bench.province", buf,
		    (size_t)size, 0, 0, NULL)) != 0)
			die("%s: send %ld: %s", cl[s].addr, k, cascade_strerror(rc));
		sent++;
	}
	for (i = first; i <= last; i++)
		if ((rc = cascade_flush(cl[i].h, (int32_t)((deadline - real_ns()) / 1000000))) != 0)
			die("%s: flush: %s", cl[i].addr, cascade_strerror(rc));
	t_flushed = real_ns();
	for (;;) {
		pthread_mutex_lock(&r_lock);
		g = got;
		pthread_mutex_unlock(&r_lock);
		if (g >= expected || real_ns() > deadline)
			break;
		usleep(10000);
	}
	/* a late duplicate has a moment to show */
	usleep(200000);
	for (i = first; i <= last; i++)
		cascade_close(cl[i].h);
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_i64);
	printf("provload load clients=%ld sent=%ld expected=%ld received=%ld lost=%ld dup=%ld "
	    "notices=%ld foreign=%ld up_ms=%.0f flush_ms=%.0f first_send_ns=%lld "
	    "last_recv_ns=%lld p50_ms=%.1f p99_ms=%.1f max_ms=%.1f cpu_s=%.2f\n",
	    last - first + 1, sent, expected, got, expected - got, dups, notices, foreign,
	    (double)(t_up - t_open) / 1e6, (double)(t_flushed - first_send) / 1e6,
	    (long long)first_send, (long long)last_recv, q_ms(nlat, 0.5), q_ms(nlat, 0.99),
	    nlat ? (double)lat[nlat - 1] / 1e6 : 0.0, cpu_s());
	return got == expected && dups == 0 && notices == 0 && foreign == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ probe */

static long probe_want;                 /* answers client 0 waits for */
static uint8_t *answered;               /* by client index */

static void
on_probe(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	long me = (long)(intptr_t)arg;
	int rc;

	if (cascade_packet_kind(p) != CASCADE_KIND_DATA) {
		pthread_mutex_lock(&r_lock);
		notices++;
		pthread_mutex_unlock(&r_lock);
		fprintf(stderr, "provload %s: notice %d (%s)\n", cl[me].addr,
		    cascade_packet_notice(p), cascade_packet_text(p));
		return;
	}
	if (me != 0) {
		/* a county's first client: answer client 0 */
		if ((rc = cascade_send(h, cl[0].addr, "bench.probe.answer", &me, sizeof(me), 0, 0,
		    NULL)) != 0)
			fprintf(stderr, "provload %s: answer: %s\n", cl[me].addr,
			    cascade_strerror(rc));
		return;
	} else {
		size_t len;
		const long *from = cascade_packet_payload(p, &len);

		pthread_mutex_lock(&r_lock);
		if (len != sizeof(*from) || *from <= 0 || *from >= ncl)
			foreign++;
		else if (answered[*from]++)
			dups++;
		else {
			got++;
			last_recv = real_ns();
		}
		pthread_mutex_unlock(&r_lock);
	}
}

static int
do_probe(void)
{
	int64_t deadline = real_ns() + (int64_t)waitsec * 1000000000, t0 = real_ns();
	long i, j, g;
	int rc;

	if ((answered = calloc((size_t)ncl, 1)) == NULL)
		die("out of memory");
	client_open(0, on_probe);
	/* the first client of every county but client 0's */
	for (i = 1; i < ncl; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(cl[j].county, cl[i].county) == 0)
				break;
		if (j < i)
			continue;
		client_open(i, on_probe);
		probe_want++;
	}
	for (i = 1; i < ncl; i++)
		if (cl[i].h != NULL && (rc = cascade_send(cl[0].h, cl[i].addr, "bench.probe",
		    "?", 1, 0, 0, NULL)) != 0)
			die("probe to %s: %s", cl[i].addr, cascade_strerror(rc));
	for (;;) {
		pthread_mutex_lock(&r_lock);
		g = got;
		pthread_mutex_unlock(&r_lock);
		if (g >= probe_want || real_ns() > deadline)
			break;
		usleep(5000);
	}
	for (i = 0; i < ncl; i++)
		if (cl[i].h != NULL) {
			cascade_flush(cl[i].h, 5000);
			cascade_close(cl[i].h);
		}
	printf("provload probe counties=%ld answered=%ld dup=%ld notices=%ld foreign=%ld "
	    "probe_ms=%.0f converge_ms=%.0f\n",
	    probe_want + 1, got, dups, notices, foreign, (double)(last_recv - t0) / 1e6,
	    start_ns > 0 && last_recv > 0 ? (double)(last_recv - start_ns) / 1e6 : -1.0);
	if (got < probe_want)
		for (i = 1; i < ncl; i++)
			if (cl[i].h != NULL && !answered[i])
				fprintf(stderr, "provload: no answer from %s\n", cl[i].addr);
	return got == probe_want && dups == 0 && notices == 0 && foreign == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *mode, *file = NULL;
	int ch;

	if (argc < 2)
		die("usage: provload load|probe -c FILE [options] (see provload.c)");
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "c:f:l:n:S:z:W:T:")) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'f': first = atol(optarg); break;
		case 'l': last = atol(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'z': size = atoi(optarg); break;
		case 'W': waitsec = atoi(optarg); break;
		case 'T': start_ns = atoll(optarg); break;
		default: die("bad option");
		}
	}
	if (file == NULL)
		die("-c FILE is required");
	if (count < 1 || size < HDR_LEN)
		die("-n >= 1, -z >= %d", HDR_LEN);
	read_clients(file);
	if (strcmp(mode, "load") == 0)
		return do_load();
	if (strcmp(mode, "probe") == 0)
		return do_probe();
	die("unknown mode %s", mode);
	return 2;
}
