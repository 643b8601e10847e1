/*
 * sdkpeer.c — a client built only on libcascade's public API, for the SDK's
 * integration tests (tests/integration/sdk.sh).
 *
 *   sdkpeer send    -u URL -a ADDR -s SECRET -t DST -n N [-S DIR] [-i MS] [-R] [-o FILE]
 *       sends N packets ("n=<i> src=<addr>"), -i MS apart, then flushes; with
 *       -R (receipts) it also waits for N DELIVERED notices. -o appends
 *       "sent ID n" per packet. -Z K:BYTES pads the K-th packet's payload
 *       to BYTES. After the flush it prints "rejected ID REASON WHY" for
 *       each packet the node refused for good (cascade_flush_rejected()).
 *       Exits 0 once the node has custody of all (and, with -R, all
 *       receipts came).
 *   sdkpeer recv    -u URL -a ADDR -s SECRET -n N -o FILE [-S DIR] [-K K] [-E]
 *                   [-D MS] [-Q]
 *       appends "ID SRC n FLAGS KIND NOTICE" for every packet the callback
 *       gets (FLAGS: R redelivery, L late, - none), until FILE holds N
 *       distinct data ids (counting lines from earlier runs). -K K dies by
 *       SIGKILL inside the callback of the K-th data packet of this run,
 *       after writing its line. -E answers each data packet (echo). -D MS
 *       sleeps in the callback after writing each line (a slow application).
 *       -Q closes the handle at once when done (no pause to let the SDK
 *       acknowledge first), as a program that exits right away does.
 *   sdkpeer echo    -u URL -a ADDR -s SECRET -n N [-D MS]
 *       answers N requests with their payload (command "echo.reply"),
 *       sleeping -D MS in the callback first; then waits 1 s and exits 0.
 *   sdkpeer request -u URL -a ADDR -s SECRET -t DST -n N [-T MS] [-e MS] [-L | -X | -Y]
 *       sends N requests one after the other and checks each reply (its
 *       reply_to, its payload); prints "replies R timeouts T late L other O".
 *       Exits 0 when all N were answered in time; with -L when all timed out
 *       and all N answers came later, flagged late; with -X when all N ended
 *       CASCADE_EUNDELIVERABLE (dst unknown to the network); with -Y when all
 *       N ended CASCADE_EEXPIRED (an EXPIRED notice about the request). -e MS
 *       gives the requests a ttl of their own (cascade_request_ttl()).
 *   sdkpeer swarm   -u URL -N NODE -d SECRETDIR -c COUNT -n N
 *       opens COUNT handles NODE/c001.. (secrets DIR/c001.secret ...); each
 *       sends N packets to the next one and must receive N from the previous.
 *   sdkpeer takeover -u URL -a ADDR -s SECRET
 *       opens the address twice: the first handle must be told it was taken
 *       over, and must not take the session back within 2 s.
 *   sdkpeer cancel  -u URL -a ADDR -s SECRET -t DST [-L]
 *       sends one packet (with a receipt) and cancels it: the answer must be
 *       a CANCELLED notice about it; with -L it first waits for the receipt
 *       and expects CANCEL_TOO_LATE. Every notice is logged to stderr as
 *       "sdkpeer: notice CODE id ID ref REF_ID about the packet: TEXT".
 *   sdkpeer refused -u URL -a ADDR -s SECRET
 *       expects CASCADE_STATE_REFUSED (wrong secret or unknown client).
 *
 * Common: -W SECONDS overall deadline (default 60), -C CAFILE for
 * tls+tcp:// and https:// urls, -P PROXY an http forward proxy for http(s)://
 * urls, -v logs the SDK's lines to stderr. Every state change is logged to stderr as
 * "sdkpeer ADDR: state N: DETAIL", followed for states other than
 * connecting, up and closed by "sdkpeer ADDR: last error: TEXT"
 * (cascade_last_error()). Exit status 0 on success, 1 on a failed check, 2 on usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cascade.h"

static const char *url, *addr, *secret, *dst, *outfile, *statedir, *node, *secretdir, *cafile,
    *proxy;
static int count = 1, interval_ms, receipts, crash_at, echo, delay_ms, timeout_ms = 5000,
    expect_late, expect_undeliverable, expect_expired, nclients = 10, waitsec = 60, verbose, quick_close;
static int64_t req_ttl_ms = -1;
static int big_at, big_bytes;           /* -Z K:BYTES */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "sdkpeer: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
log_cb(void *arg, int level, const char *msg)
{
	fprintf(stderr, "sdk %s [%d]: %s\n", arg != NULL ? (const char *)arg : "", level, msg);
}

static int state_seen[8];
static int state_ups;

static void
state_cb(void *arg, cascade_t *h, int state, const char *detail)
{
	pthread_mutex_lock(&mu);
	if (state > 0 && state < 8)
		state_seen[state]++;
	if (state == CASCADE_STATE_UP)
		state_ups++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	fprintf(stderr, "sdkpeer %s: state %d: %s\n", arg != NULL ? (const char *)arg : "",
	    state, detail);
	if (state != CASCADE_STATE_UP && state != CASCADE_STATE_CONNECTING &&
	    state != CASCADE_STATE_CLOSED) {
		char err[512];

		if (cascade_last_error(h, err, sizeof(err)) == CASCADE_OK)
			fprintf(stderr, "sdkpeer %s: last error: %s\n",
			    arg != NULL ? (const char *)arg : "", err);
	}
}

static cascade_t *
open_handle(const char *a, const char *sec, const char *dir, cascade_packet_cb pcb,
    void *parg, int with_state_cb)
{
	cascade_options_t *o;
	cascade_t *h;
	int rc;

	if ((rc = cascade_options_new(&o)) != 0 ||
	    (rc = cascade_options_set_url(o, url)) != 0 ||
	    (rc = cascade_options_set_client(o, a)) != 0 ||
	    (rc = cascade_options_set_secret_file(o, sec)) != 0 ||
	    (rc = cascade_options_set_reconnect(o, 50, 500)) != 0 ||
	    (rc = cascade_options_set_dead_timeout(o, 4000)) != 0)
		die("options: %s", cascade_strerror(rc));
	if (cafile != NULL && (rc = cascade_options_set_ca_file(o, cafile)) != 0)
		die("ca file: %s", cascade_strerror(rc));
	if (proxy != NULL && (rc = cascade_options_set_proxy(o, proxy)) != 0)
		die("proxy: %s", cascade_strerror(rc));
	if (dir != NULL && (rc = cascade_options_set_state_dir(o, dir)) != 0)
		die("state dir: %s", cascade_strerror(rc));
	if (pcb != NULL)
		cascade_options_set_packet_cb(o, pcb, parg);
	if (with_state_cb)
		cascade_options_set_state_cb(o, state_cb, (void *)a);
	if (verbose)
		cascade_options_set_log_cb(o, log_cb, (void *)a, CASCADE_LOG_DEBUG);
	if ((rc = cascade_open(o, &h)) != 0)
		die("open %s: %s", a, cascade_strerror(rc));
	cascade_options_free(o);
	return h;
}

static int
payload_n(const cascade_packet_t *p)
{
	size_t len;
	const char *pl = cascade_packet_payload(p, &len);
	char buf[64];

	if (len == 0)
		return -1;
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, pl, len);
	buf[len] = '\0';
	return strncmp(buf, "n=", 2) == 0 ? atoi(buf + 2) : -1;
}

/* -------------------------------------------------------------- send */

static int receipts_got;

static void
send_pkt_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	if (cascade_packet_kind(p) == CASCADE_KIND_NOTICE &&
	    cascade_packet_notice(p) == CASCADE_NOTICE_DELIVERED) {
		pthread_mutex_lock(&mu);
		receipts_got++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
}

static int
do_send(void)
{
	cascade_t *h;
	uint8_t id[CASCADE_ID_LEN];
	char idt[CASCADE_ID_TEXT_LEN], pl[192], line[160], why[256];
	int64_t deadline = mono_ms() + waitsec * 1000LL;
	int i, rc, fd = -1, ok;
	uint32_t reason, k;
	char *big = NULL;
	size_t len;

	h = open_handle(addr, secret, statedir, receipts ? send_pkt_cb : NULL, NULL, 1);
	if (outfile != NULL && (fd = open(outfile, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1)
		die("%s: %s", outfile, strerror(errno));
	for (i = 1; i <= count; i++) {
		snprintf(pl, sizeof(pl), "n=%d src=%s", i, addr);
		len = strlen(pl);
		if (i == big_at && (size_t)big_bytes > len) {
			if ((big = malloc((size_t)big_bytes)) == NULL)
				die("out of memory");
			memset(big, 'x', (size_t)big_bytes);
			memcpy(big, pl, len);
			big[len] = ' ';
			len = (size_t)big_bytes;
		}
		while ((rc = cascade_send(h, dst, "test.data", big != NULL ? big : pl, len, 0,
		    receipts ? CASCADE_FLAG_RECEIPT : 0, id)) == CASCADE_EQUEUE_FULL &&
		    mono_ms() < deadline)
			usleep(10000);
		free(big);
		big = NULL;
		if (rc != 0) {
			fprintf(stderr, "sdkpeer: send %d: %s\n", i, cascade_strerror(rc));
			return 1;
		}
		if (fd != -1) {
			cascade_id_format(id, idt, sizeof(idt));
			snprintf(line, sizeof(line), "sent %s %d\n", idt, i);
			if (write(fd, line, strlen(line)) < 0)
				die("write: %s", strerror(errno));
		}
		if (interval_ms > 0)
			usleep((useconds_t)interval_ms * 1000);
	}
	rc = cascade_flush(h, (int32_t)(deadline - mono_ms()));
	printf("flush %s\n", cascade_strerror(rc));
	for (k = 0; cascade_flush_rejected(h, k, id, &reason, why, sizeof(why)) == CASCADE_OK; k++) {
		cascade_id_format(id, idt, sizeof(idt));
		printf("rejected %s %u %s\n", idt, reason, why);
	}
	ok = rc == 0;
	if (ok && receipts) {
		pthread_mutex_lock(&mu);
		while (receipts_got < count && mono_ms() < deadline) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&cv, &mu, &ts);
		}
		ok = receipts_got >= count;
		pthread_mutex_unlock(&mu);
		printf("receipts %d of %d\n", receipts_got, count);
	}
	cascade_close(h);
	printf("sent %d %s\n", count, ok ? "ok" : "incomplete");
	return ok ? 0 : 1;
}

/* -------------------------------------------------------------- recv */

struct seen {
	char (*ids)[CASCADE_ID_TEXT_LEN];
	size_t n, cap;
};

static struct seen seen;
static int recv_fd = -1, run_data;

static int
seen_add(const char *idt)
{
	size_t i;

	for (i = 0; i < seen.n; i++)
		if (strcmp(seen.ids[i], idt) == 0)
			return 0;
	if (seen.n == seen.cap) {
		seen.cap = seen.cap ? seen.cap * 2 : 256;
		if ((seen.ids = realloc(seen.ids, seen.cap * sizeof(*seen.ids))) == NULL)
			die("out of memory");
	}
	strcpy(seen.ids[seen.n++], idt);
	return 1;
}

static void
recv_pkt_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	char idt[CASCADE_ID_TEXT_LEN], line[512], fl[4];
	uint32_t f = cascade_packet_flags(p);
	int k = 0;

	cascade_id_format(cascade_packet_id(p), idt, sizeof(idt));
	if (f & CASCADE_FLAG_REDELIVERY)
		fl[k++] = 'R';
	if (f & CASCADE_FLAG_LATE)
		fl[k++] = 'L';
	if (k == 0)
		fl[k++] = '-';
	fl[k] = '\0';
	snprintf(line, sizeof(line), "%s %s %d %s %d %d\n", idt, cascade_packet_src(p),
	    payload_n(p), fl, cascade_packet_kind(p), cascade_packet_notice(p));
	/* one write per line: it survives a SIGKILL right after */
	if (write(recv_fd, line, strlen(line)) < 0)
		die("write: %s", strerror(errno));
	if (cascade_packet_kind(p) != CASCADE_KIND_DATA)
		return;
	if (delay_ms > 0)
		usleep((useconds_t)delay_ms * 1000);
	if (echo) {
		size_t len;
		const void *pl = cascade_packet_payload(p, &len);
		int rc = cascade_reply(h, p, "echo.reply", pl, len, NULL);

		if (rc != 0)
			fprintf(stderr, "sdkpeer: reply: %s\n", cascade_strerror(rc));
	}
	pthread_mutex_lock(&mu);
	seen_add(idt);
	run_data++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	if (crash_at > 0 && run_data == crash_at)
		raise(SIGKILL);         /* inside the callback, before the SDK records delivery */
}

static int
do_recv(void)
{
	cascade_t *h;
	FILE *f;
	char line[512], idt[64];
	int64_t deadline = mono_ms() + waitsec * 1000LL;
	int ok, kind;

	/* ids from earlier runs count */
	if ((f = fopen(outfile, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "%63s %*s %*d %*s %d", idt, &kind) == 2 && kind == 0)
				seen_add(idt);
		fclose(f);
	}
	if ((recv_fd = open(outfile, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1)
		die("%s: %s", outfile, strerror(errno));
	h = open_handle(addr, secret, statedir, recv_pkt_cb, NULL, 1);
	pthread_mutex_lock(&mu);
	while ((int)seen.n < count && mono_ms() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	ok = (int)seen.n >= count;
	pthread_mutex_unlock(&mu);
	/* give the SDK a moment to acknowledge the last batch to the node */
	if (!quick_close)
		usleep(300000);
	if (echo)
		cascade_flush(h, 5000);
	cascade_close(h);
	printf("received %zu of %d\n", seen.n, count);
	return ok ? 0 : 1;
}

/* -------------------------------------------------------------- echo */

static int answered;

static void
echo_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	size_t len;
	const void *pl;
	int rc;

	if (cascade_packet_kind(p) != CASCADE_KIND_DATA)
		return;
	if (delay_ms > 0)
		usleep((useconds_t)delay_ms * 1000);
	pl = cascade_packet_payload(p, &len);
	if ((rc = cascade_reply(h, p, "echo.reply", pl, len, NULL)) != 0)
		fprintf(stderr, "sdkpeer: reply: %s\n", cascade_strerror(rc));
	pthread_mutex_lock(&mu);
	answered++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static int
do_echo(void)
{
	cascade_t *h = open_handle(addr, secret, statedir, echo_cb, NULL, 1);
	int64_t deadline = mono_ms() + waitsec * 1000LL;
	int ok;

	pthread_mutex_lock(&mu);
	while (answered < count && mono_ms() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	ok = answered >= count;
	pthread_mutex_unlock(&mu);
	cascade_flush(h, 10000);
	sleep(1);
	cascade_close(h);
	printf("answered %d\n", answered);
	return ok ? 0 : 1;
}

/* ----------------------------------------------------------- request */

struct rq {
	int done, status, n;
	uint8_t id[CASCADE_ID_LEN];
	char payload[128];
};

static int replies, timeouts, lates, others, undeliverables, expireds;

static void
req_cb(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
	struct rq *r = arg;
	size_t len;
	const char *pl;

	pthread_mutex_lock(&mu);
	r->status = status;
	if (memcmp(id, r->id, CASCADE_ID_LEN) != 0) {
		fprintf(stderr, "sdkpeer: request callback with the wrong id\n");
		others++;
	} else if (status == CASCADE_OK) {
		pl = cascade_packet_payload(reply, &len);
		if (cascade_packet_reply_to(reply) == NULL ||
		    memcmp(cascade_packet_reply_to(reply), r->id, CASCADE_ID_LEN) != 0 ||
		    len != strlen(r->payload) || memcmp(pl, r->payload, len) != 0 ||
		    strcmp(cascade_packet_command(reply), "echo.reply") != 0) {
			fprintf(stderr, "sdkpeer: reply %d does not match its request\n", r->n);
			others++;
		} else
			replies++;
	} else if (status == CASCADE_ETIMEDOUT)
		timeouts++;
	else if (status == CASCADE_EUNDELIVERABLE && reply != NULL &&
	    cascade_packet_notice(reply) == CASCADE_NOTICE_UNDELIVERABLE &&
	    memcmp(cascade_packet_ref_id(reply), r->id, CASCADE_ID_LEN) == 0)
		undeliverables++;
	else if (status == CASCADE_EEXPIRED && reply != NULL &&
	    cascade_packet_notice(reply) == CASCADE_NOTICE_EXPIRED &&
	    memcmp(cascade_packet_ref_id(reply), r->id, CASCADE_ID_LEN) == 0)
		expireds++;
	else {
		fprintf(stderr, "sdkpeer: request %d: %s\n", r->n, cascade_strerror(status));
		others++;
	}
	r->done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void
late_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	if (cascade_packet_kind(p) != CASCADE_KIND_DATA)
		return;
	pthread_mutex_lock(&mu);
	if (cascade_packet_flags(p) & CASCADE_FLAG_LATE)
		lates++;
	else {
		/* say what it was: a stray packet is the clue to a second outcome */
		char idt[2 * CASCADE_ID_LEN + 1];
		const uint8_t *id = cascade_packet_id(p);
		int i;

		for (i = 0; i < CASCADE_ID_LEN; i++)
			snprintf(idt + 2 * i, 3, "%02x", id[i]);
		fprintf(stderr, "sdkpeer: an unexpected packet %s from %s, command %s, flags %#x%s\n",
		    idt, cascade_packet_src(p), cascade_packet_command(p),
		    (unsigned)cascade_packet_flags(p), cascade_packet_reply_to(p) != NULL ?
		    ", a reply to no request of this process" : "");
		others++;
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static int
do_request(void)
{
	cascade_t *h = open_handle(addr, secret, statedir, late_cb, NULL, 1);
	int64_t deadline = mono_ms() + waitsec * 1000LL, t0, sum = 0;
	struct rq *rs = calloc((size_t)count, sizeof(*rs));
	int i, rc, ok;

	for (i = 0; i < count; i++) {
		struct rq *r = &rs[i];

		r->n = i + 1;
		snprintf(r->payload, sizeof(r->payload), "n=%d question from %s", i + 1, addr);
		t0 = mono_ms();
		/* hold the lock: the callback must not run before r->id is set */
		pthread_mutex_lock(&mu);
		if (req_ttl_ms >= 0)
			rc = cascade_request_ttl(h, dst, "echo.ask", r->payload, strlen(r->payload),
			    timeout_ms, req_ttl_ms, req_cb, r, r->id);
		else
			rc = cascade_request(h, dst, "echo.ask", r->payload, strlen(r->payload),
			    timeout_ms, req_cb, r, r->id);
		if (rc != 0) {
			pthread_mutex_unlock(&mu);
			fprintf(stderr, "sdkpeer: request: %s\n", cascade_strerror(rc));
			return 1;
		}
		while (!r->done && mono_ms() < deadline) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&cv, &mu, &ts);
		}
		pthread_mutex_unlock(&mu);
		sum += mono_ms() - t0;
	}
	if (expect_late) {
		pthread_mutex_lock(&mu);
		while (lates < count && mono_ms() < deadline) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&cv, &mu, &ts);
		}
		pthread_mutex_unlock(&mu);
	}
	cascade_close(h);
	printf("replies %d timeouts %d late %d undeliverable %d expired %d other %d mean_ms %lld\n",
	    replies, timeouts, lates, undeliverables, expireds, others,
	    (long long)(count ? sum / count : 0));
	if (expect_expired)
		ok = expireds == count && others == 0;
	else if (expect_undeliverable)
		ok = undeliverables == count && others == 0;
	else if (expect_late)
		ok = timeouts == count && lates == count && others == 0;
	else
		ok = replies == count && others == 0;
	free(rs);
	return ok ? 0 : 1;
}

/* ------------------------------------------------------------- swarm */

struct member {
	cascade_t *h;
	char addr[128];
	char secret[4096];
	int got, bad;
	char from[128];
};

static struct member *members;

static void
swarm_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	struct member *m = arg;

	if (cascade_packet_kind(p) != CASCADE_KIND_DATA)
		return;
	pthread_mutex_lock(&mu);
	if (strcmp(cascade_packet_src(p), m->from) == 0 &&
	    strcmp(cascade_packet_dst(p), m->addr) == 0)
		m->got++;
	else
		m->bad++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static int
swarm_done(void)
{
	int i;

	for (i = 0; i < nclients; i++)
		if (members[i].got < count)
			return 0;
	return 1;
}

static int
do_swarm(void)
{
	int64_t deadline = mono_ms() + waitsec * 1000LL;
	int i, k, rc, ok, got = 0, bad = 0, ups;
	char pl[192];

	members = calloc((size_t)nclients, sizeof(*members));
	for (i = 0; i < nclients; i++) {
		snprintf(members[i].addr, sizeof(members[i].addr), "%.100s/c%03d", node, i + 1);
		snprintf(members[i].secret, sizeof(members[i].secret), "%.3900s/c%03d.secret",
		    secretdir, i + 1);
		snprintf(members[i].from, sizeof(members[i].from), "%.100s/c%03d", node,
		    (i + nclients - 1) % nclients + 1);
	}
	for (i = 0; i < nclients; i++)
		members[i].h = open_handle(members[i].addr, members[i].secret, NULL, swarm_cb,
		    &members[i], 0);
	for (k = 1; k <= count; k++)
		for (i = 0; i < nclients; i++) {
			snprintf(pl, sizeof(pl), "n=%d src=%s", k, members[i].addr);
			rc = cascade_send(members[i].h, members[(i + 1) % nclients].addr, "test.swarm",
			    pl, strlen(pl), 0, 0, NULL);
			if (rc != 0) {
				fprintf(stderr, "sdkpeer: %s: send: %s\n", members[i].addr,
				    cascade_strerror(rc));
				return 1;
			}
		}
	pthread_mutex_lock(&mu);
	while (!swarm_done() && mono_ms() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	ok = swarm_done();
	pthread_mutex_unlock(&mu);
	for (i = ups = 0; i < nclients; i++)
		ups += cascade_state(members[i].h) == CASCADE_STATE_UP;
	usleep(300000);
	for (i = 0; i < nclients; i++)
		cascade_close(members[i].h);
	for (i = 0; i < nclients; i++) {
		got += members[i].got;
		bad += members[i].bad;
		if (members[i].got != count)
			fprintf(stderr, "sdkpeer: %s received %d of %d\n", members[i].addr,
			    members[i].got, count);
	}
	printf("swarm clients %d up %d received %d of %d bad %d\n", nclients, ups, got,
	    nclients * count, bad);
	return ok && bad == 0 && got == nclients * count ? 0 : 1;
}

/* ---------------------------------------------------------- takeover */

static int
wait_state(int state, int n, int64_t deadline)
{
	int ok;

	pthread_mutex_lock(&mu);
	while (state_seen[state] < n && mono_ms() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	ok = state_seen[state] >= n;
	pthread_mutex_unlock(&mu);
	return ok;
}

static int first_taken, second_taken;

static void
first_state(void *arg, cascade_t *h, int state, const char *detail)
{
	pthread_mutex_lock(&mu);
	if (state == CASCADE_STATE_TAKEN_OVER)
		first_taken++;
	state_seen[state]++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	fprintf(stderr, "sdkpeer first: state %d: %s\n", state, detail);
}

static void
second_state(void *arg, cascade_t *h, int state, const char *detail)
{
	pthread_mutex_lock(&mu);
	if (state == CASCADE_STATE_TAKEN_OVER)
		second_taken++;
	state_seen[state]++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	fprintf(stderr, "sdkpeer second: state %d: %s\n", state, detail);
}

static void
nop_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
}

static int
do_takeover(void)
{
	cascade_options_t *o;
	cascade_t *a, *b;
	int64_t deadline = mono_ms() + waitsec * 1000LL;
	int ok, rc, ft, st;

	cascade_options_new(&o);
	cascade_options_set_url(o, url);
	cascade_options_set_client(o, addr);
	cascade_options_set_secret_file(o, secret);
	cascade_options_set_reconnect(o, 50, 500);
	cascade_options_set_packet_cb(o, nop_cb, NULL);
	if (verbose)
		cascade_options_set_log_cb(o, log_cb, "x", CASCADE_LOG_DEBUG);
	cascade_options_set_state_cb(o, first_state, NULL);
	if ((rc = cascade_open(o, &a)) != 0)
		die("open: %s", cascade_strerror(rc));
	if (!wait_state(CASCADE_STATE_UP, 1, deadline)) {
		fprintf(stderr, "sdkpeer: the first handle never came up\n");
		return 1;
	}
	cascade_options_set_state_cb(o, second_state, NULL);
	if ((rc = cascade_open(o, &b)) != 0)
		die("open: %s", cascade_strerror(rc));
	cascade_options_free(o);
	ok = wait_state(CASCADE_STATE_UP, 2, deadline) &&
	    wait_state(CASCADE_STATE_TAKEN_OVER, 1, deadline);
	/* the displaced one waits (1 s, then 2 s...): no tight fight */
	sleep(2);
	pthread_mutex_lock(&mu);
	ft = first_taken;
	st = second_taken;
	pthread_mutex_unlock(&mu);
	printf("takeover first_taken %d second_taken %d ups %d\n", ft, st,
	    state_seen[CASCADE_STATE_UP]);
	ok = ok && ft >= 1 && ft + st <= 3;
	cascade_close(b);
	cascade_close(a);
	return ok ? 0 : 1;
}

static uint8_t cancel_id[CASCADE_ID_LEN];
static int cancel_receipt, cancel_notice;

static void
cancel_pkt_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	const uint8_t *ref = cascade_packet_ref_id(p);

	if (cascade_packet_kind(p) != CASCADE_KIND_NOTICE || ref == NULL)
		return;
	pthread_mutex_lock(&mu);
	if (memcmp(ref, cancel_id, CASCADE_ID_LEN) == 0) {
		if (cascade_packet_notice(p) == CASCADE_NOTICE_DELIVERED)
			cancel_receipt = 1;
		else
			cancel_notice = cascade_packet_notice(p);
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	{
		char nid[40], rid[40];

		cascade_id_format(cascade_packet_id(p), nid, sizeof(nid));
		cascade_id_format(ref, rid, sizeof(rid));
		/* both ids, so a test can count the notices about one packet */
		fprintf(stderr, "sdkpeer: notice %d id %s ref %s about the packet: %s\n",
		    cascade_packet_notice(p), nid, rid, cascade_packet_text(p));
	}
}

static int
wait_flag(int *flag, int64_t deadline)
{
	int v;

	pthread_mutex_lock(&mu);
	while (*flag == 0 && mono_ms() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	v = *flag;
	pthread_mutex_unlock(&mu);
	return v;
}

static int
do_cancel(void)
{
	cascade_t *h = open_handle(addr, secret, statedir, cancel_pkt_cb, NULL, 1);
	int64_t deadline = mono_ms() + waitsec * 1000LL;
	uint8_t cid[CASCADE_ID_LEN];
	int rc, want = expect_late ? CASCADE_NOTICE_CANCEL_TOO_LATE : CASCADE_NOTICE_CANCELLED;
	int got;

	pthread_mutex_lock(&mu);
	rc = cascade_send(h, dst, "test.cancel", "cancel me", 9, 0,
	    CASCADE_FLAG_RECEIPT | CASCADE_FLAG_NOTIFY, cancel_id);
	pthread_mutex_unlock(&mu);
	if (rc != 0)
		die("send: %s", cascade_strerror(rc));
	if (cascade_flush(h, (int32_t)(deadline - mono_ms())) != 0)
		die("flush timed out");
	if (expect_late && !wait_flag(&cancel_receipt, deadline)) {
		fprintf(stderr, "sdkpeer: no receipt before the cancel\n");
		return 1;
	}
	if ((rc = cascade_cancel(h, cancel_id, cid)) != 0)
		die("cancel: %s", cascade_strerror(rc));
	got = wait_flag(&cancel_notice, deadline);
	printf("cancel notice %d (want %d) receipt %d\n", got, want, cancel_receipt);
	cascade_close(h);
	return got == want && (expect_late || !cancel_receipt) ? 0 : 1;
}

static int
do_refused(void)
{
	cascade_t *h = open_handle(addr, secret, NULL, NULL, NULL, 1);
	int ok = wait_state(CASCADE_STATE_REFUSED, 1, mono_ms() + waitsec * 1000LL);

	printf("refused %s; up %d\n", ok ? "yes" : "no", state_seen[CASCADE_STATE_UP]);
	cascade_close(h);
	return ok && state_seen[CASCADE_STATE_UP] == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *mode;
	int ch;

	if (argc < 2)
		die("usage: sdkpeer send|recv|echo|request|swarm|takeover|cancel|refused [options]");
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "u:a:s:t:n:S:i:Ro:K:ED:T:LXN:d:c:C:P:W:vQe:YZ:")) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'a': addr = optarg; break;
		case 's': secret = optarg; break;
		case 't': dst = optarg; break;
		case 'n': count = atoi(optarg); break;
		case 'S': statedir = optarg; break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'R': receipts = 1; break;
		case 'o': outfile = optarg; break;
		case 'K': crash_at = atoi(optarg); break;
		case 'E': echo = 1; break;
		case 'D': delay_ms = atoi(optarg); break;
		case 'T': timeout_ms = atoi(optarg); break;
		case 'L': expect_late = 1; break;
		case 'X': expect_undeliverable = 1; break;
		case 'N': node = optarg; break;
		case 'd': secretdir = optarg; break;
		case 'c': nclients = atoi(optarg); break;
		case 'C': cafile = optarg; break;
		case 'P': proxy = optarg; break;
		case 'W': waitsec = atoi(optarg); break;
		case 'v': verbose = 1; break;
		case 'Q': quick_close = 1; break;
		case 'e': req_ttl_ms = atoll(optarg); break;
		case 'Y': expect_expired = 1; break;
		case 'Z':
			if (sscanf(optarg, "%d:%d", &big_at, &big_bytes) != 2 || big_at < 1 ||
			    big_bytes < 1)
				die("-Z K:BYTES: %s", optarg);
			break;
		default: die("bad option");
		}
	}
	if (url == NULL)
		die("-u URL is required");
	if (strcmp(mode, "swarm") == 0) {
		if (node == NULL || secretdir == NULL || nclients < 2)
			die("swarm needs -N NODE -d SECRETDIR -c COUNT (>= 2)");
		return do_swarm();
	}
	if (addr == NULL || secret == NULL)
		die("-a ADDR and -s SECRET are required");
	if (strcmp(mode, "send") == 0) {
		if (dst == NULL)
			die("send needs -t DST");
		return do_send();
	}
	if (strcmp(mode, "recv") == 0) {
		if (outfile == NULL)
			die("recv needs -o FILE");
		return do_recv();
	}
	if (strcmp(mode, "echo") == 0)
		return do_echo();
	if (strcmp(mode, "request") == 0) {
		if (dst == NULL)
			die("request needs -t DST");
		return do_request();
	}
	if (strcmp(mode, "takeover") == 0)
		return do_takeover();
	if (strcmp(mode, "refused") == 0)
		return do_refused();
	if (strcmp(mode, "cancel") == 0) {
		if (dst == NULL)
			die("cancel needs -t DST");
		return do_cancel();
	}
	die("unknown mode %s", mode);
	return 2;
}
