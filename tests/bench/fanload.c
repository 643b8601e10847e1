/*
 * fanload.c — the many clients of the fan-in benchmark (tests/bench/
 * fanin.sh) in one process: a thread per client, each with its own session
 * on its own connection (tcp: an nng req socket; http: one keep-alive
 * connection, tests/tools/tlink.c), so the node holds as many sessions as
 * real clinics would give it without 2 000 processes.
 *
 *   fanload -u URL -a NODE -p PREFIX -s SECRET -f FIRST -c COUNT -t DST
 *           -T START -r RATE -n PER_CLIENT
 *
 * Clients NODE/PREFIX<FIRST> .. NODE/PREFIX<FIRST+COUNT-1> (one secret for
 * all) sign in, then each holds a pull (a long poll, as an idle SDK does)
 * until START (unix seconds): the idle phase, when the node's memory per
 * client is measured. From START each pushes PER_CLIENT packets, one every
 * 1/RATE s (clients spread evenly over that interval), each stamped with its
 * due time (so a late send counts in its latency) in chainload's payload
 * format with index client*PER_CLIENT + j, for chainload consume to count
 * and time. A push the node did not store is sent again; a lost session
 * signs in again and resends from the node's mark.
 *
 * Ends with one line: "fanload clients=N up=N pushed=N resent=N failed=N
 * secs=S cpu_s=C", and exits 0 when every packet was stored.
 */
#include "config.h"

#include <sys/resource.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "packets.h"
#include "tlink.h"

#define STATUS(x) CASCADE__STATUS__STATUS_##x
#define MAGIC "CHNB"
#define SIZE 256                /* payload bytes: a clinic's command, not a file */

static const char *url, *node, *prefix, *dst;
static long first, count, per_client = 100;
static double rate = 10, start_s;
static uint8_t secret[64];
static size_t secretlen;
static atomic_long n_up, n_pushed, n_resent, n_failed;

static void
sleep_until(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

struct client {
	long i;
	char addr[CADDR_TEXT_MAX + 1];
	struct tlink *t;
	uint64_t epoch;
	int64_t mark;                   /* the node's mark of our stream, -1: signed out */
};

/* Signs in (Hello + Auth) until it works: many at once meet the per-address bounds. */
static void
login(struct client *c, uint64_t lowest_unacked)
{
	uint32_t status;
	int tries;

	for (tries = 0; ; tries++) {
		c->mark = tlink_login(c->t, c->addr, CASCADE__PEER_KIND__PEER_CLIENT, secret,
		    secretlen, c->epoch, lowest_unacked, &status);
		if (c->mark >= 0)
			return;
		if (status == STATUS(UNKNOWN_PEER) || status == STATUS(AUTH_FAILED) || tries > 200) {
			fprintf(stderr, "fanload: %s: no login (%s)\n", c->addr, cstatus_str(status));
			exit(2);
		}
		usleep(20000 + (useconds_t)(rand() % 200000));
	}
}

/* Pushes packet j (stream seq j + 1) until the node stored it. */
static void
push_one(struct client *c, long j, int64_t due)
{
	Cascade__Packet pk, *pkp = &pk;
	Cascade__PushReply *pr;
	uint8_t payload[SIZE], id[CID_LEN];
	uint64_t seq = (uint64_t)j + 1;
	uint32_t status;
	int tries;

	if (cid_next(id) != 0)
		exit(2);
	memset(payload, 'x', sizeof(payload));
	memcpy(payload, MAGIC, 4);
	put64(payload + 4, (uint64_t)(c->i * per_client + j));
	put64(payload + 12, (uint64_t)due);
	cascade__packet__init(&pk);
	pk.version = CPKT_VERSION;
	pk.id.data = id;
	pk.id.len = CID_LEN;
	pk.src = c->addr;
	pk.dst = (char *)dst;
	pk.command = "bench.fanin";
	pk.payload.data = payload;
	pk.payload.len = sizeof(payload);
	pk.flags = CASCADE__PACKET_FLAG__FLAG_NO_TTL;
	for (tries = 0; tries < 100; tries++) {
		if (tries > 0) {
			atomic_fetch_add(&n_resent, 1);
			usleep(50000);
		}
		if (c->mark < 0)
			login(c, seq);
		if ((uint64_t)c->mark >= seq)
			return;         /* stored before the session was lost */
		switch (tlink_push(c->t, c->epoch, seq, seq, &pkp, &seq, 1, &status, &pr)) {
		case 0:
			if (pr->acked_seq >= seq) {
				c->mark = (int64_t)pr->acked_seq;
				cascade__push_reply__free_unpacked(pr, NULL);
				atomic_fetch_add(&n_pushed, 1);
				return;
			}
			cascade__push_reply__free_unpacked(pr, NULL);
			break;
		case -2:
			if (status == STATUS(NO_SESSION))
				c->mark = -1;
			break;
		default:
			c->mark = -1;   /* transport: a new connection, a new session */
		}
	}
	atomic_fetch_add(&n_failed, 1);
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	int64_t start = (int64_t)(start_s * 1e9), step = (int64_t)(1e9 / rate), now, due;
	Cascade__PullReply *pr;
	uint32_t status;
	long j;

	c->t = tlink_open(url, 30000, "fanload");
	c->epoch = crandom64();
	login(c, 1);
	atomic_fetch_add(&n_up, 1);
	/* idle: a held pull, as long as the node holds it, until the start */
	while ((now = real_ns()) < start - 200000000) {
		int64_t wait = (start - now) / 1000000 - 100;

		if (tlink_pull(c->t, 0, 0, (uint32_t)(wait > 25000 ? 25000 : wait), 1, &status,
		    &pr) == 0)
			cascade__pull_reply__free_unpacked(pr, NULL);
		else if (c->t->err != 0 || status == STATUS(NO_SESSION))
			login(c, 1);
	}
	/* spread over one interval: clients do not all send at once */
	start += step * (c->i - first) / (count > 0 ? count : 1);
	for (j = 0; j < per_client; j++) {
		due = start + j * step;
		sleep_until(due);
		push_one(c, j, due);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *secretfile = NULL;
	struct client *cs;
	pthread_attr_t attr;
	pthread_t *th;
	struct rusage ru;
	char msg[256];
	int64_t t0;
	long i;
	int ch, n;

	while ((ch = getopt(argc, argv, "u:a:p:s:f:c:t:T:r:n:")) != -1)
		switch (ch) {
		case 'u': url = optarg; break;
		case 'a': node = optarg; break;
		case 'p': prefix = optarg; break;
		case 's': secretfile = optarg; break;
		case 'f': first = atol(optarg); break;
		case 'c': count = atol(optarg); break;
		case 't': dst = optarg; break;
		case 'T': start_s = atof(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'n': per_client = atol(optarg); break;
		default: goto usage;
		}
	if (url == NULL || node == NULL || prefix == NULL || secretfile == NULL || dst == NULL ||
	    count <= 0 || rate <= 0 || start_s <= 0)
		goto usage;
	if ((n = csecret_load(secretfile, secret, sizeof(secret), msg, sizeof(msg))) < 0) {
		fprintf(stderr, "fanload: %s\n", msg);
		return 2;
	}
	secretlen = (size_t)n;
	cs = calloc((size_t)count, sizeof(*cs));
	th = calloc((size_t)count, sizeof(*th));
	if (cs == NULL || th == NULL)
		return 2;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 << 10);
	t0 = real_ns();
	for (i = 0; i < count; i++) {
		cs[i].i = first + i;
		snprintf(cs[i].addr, sizeof(cs[i].addr), "%s/%s%ld", node, prefix, first + i);
		if (pthread_create(&th[i], &attr, client_main, &cs[i]) != 0) {
			fprintf(stderr, "fanload: thread %ld: cannot start\n", i);
			return 2;
		}
	}
	for (i = 0; i < count; i++)
		pthread_join(th[i], NULL);
	getrusage(RUSAGE_SELF, &ru);
	printf("fanload clients=%ld up=%ld pushed=%ld resent=%ld failed=%ld secs=%.1f cpu_s=%.2f\n",
	    count, atomic_load(&n_up), atomic_load(&n_pushed), atomic_load(&n_resent),
	    atomic_load(&n_failed), (double)(real_ns() - t0) / 1e9,
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return atomic_load(&n_failed) == 0 && atomic_load(&n_pushed) == count * per_client ? 0 : 1;
usage:
	fprintf(stderr, "usage: fanload -u URL -a NODE -p PREFIX -s SECRET -f FIRST -c COUNT "
	    "-t DST -T START -r RATE -n PER_CLIENT\n");
	return 2;
}
