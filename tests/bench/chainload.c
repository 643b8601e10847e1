/*
 * chainload.c — the load generator of the chain benchmark (tests/bench/
 * chain.sh): a producer client that pushes timestamped packets into one
 * node, and a consumer client that pulls them out of another and measures
 * one-way latency, loss and duplicates. Both speak the link protocol as a
 * client session over nng req (tests/tools/tlink.c), on the same machine,
 * so send and receive times share one clock (CLOCK_REALTIME).
 *
 *   chainload produce -u URL -a NODE/CLIENT -s SECRET -t DST -n COUNT
 *                     [-z BYTES] [-b BATCH] [-w WINDOW] [-r RATE] [-W SECONDS]
 *       Pushes COUNT packets of BYTES (default 1024) payload to DST, at most
 *       BATCH (default 256) per push and WINDOW (default 4) pushes in flight,
 *       each on its own nng context and aio. Without -r: as fast as the node
 *       acks; each packet is stamped when it first goes into a push. With
 *       -r RATE: packet n is due at start + n / RATE seconds and is stamped
 *       with that due time, so time spent waiting for the window counts in
 *       its latency (no coordinated omission). Keeps every packet until the
 *       node acks it: pushes that were not stored (overtaken by a later one,
 *       or refused for now) are sent again from the node's mark + 1, and a
 *       lost session starts over with Hello. Exits 0 when all are acked.
 *   chainload consume -u URL -a NODE/CLIENT -s SECRET -n COUNT
 *                     [-W SECONDS] [-k SKIP] [-o FILE]
 *       Pulls until COUNT distinct benchmark packets arrived or SECONDS
 *       (default 300) passed, then acks them. Latency = receive time of the
 *       pull reply - the stamp in the payload; the first SKIP packets (by
 *       index) are left out of the latency figures (warm-up). -o writes
 *       "n latency_us" lines. Exits 0 when COUNT arrived, none twice.
 *
 * Payload: magic "CHNB", the packet's index n (0-based, u64), its stamp (ns
 * since the epoch, i64), then 'x' up to BYTES. The consumer counts an index
 * seen again in a new stream position as a duplicate; a resend of a stream
 * position it has already taken (seq <= its ack) is the protocol's own
 * retransmission and only counted as "resent".
 *
 * Each mode ends with one line of key=value words on stdout, e.g.
 *   chainload produce count=100000 acked=100000 secs=2.1 per_s=47000.0 ... cpu_s=0.9
 *   chainload consume count=100000 received=100000 lost=0 dup=0 e2e_per_s=...
 *       p50_us=... p99_us=... p999_us=... max_us=...
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

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "benchutil.h"
#include "packets.h"
#include "tlink.h"

#define STATUS(x) CASCADE__STATUS__STATUS_##x
#define MAGIC "CHNB"
#define HDR_LEN 20              /* magic, n, stamp */
#define WINDOW_MAX 64

static const char *url, *addr, *secretfile, *dst, *outfile;
static long count = 1;
static int batch = 256, window = 4, size = 1024, waitsec = 300;
static long skip;
static double rate;
static uint8_t secret[64];
static size_t secretlen;
static struct tlink *tl;                /* the session, on one nng req socket */
static uint64_t up_epoch;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "chainload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void
note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "chainload %s: ", addr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* ------------------------------------------------------------ session */

/* Packs a request of the session around m into a new nng message; *seq gets its counter. */
static nng_msg *
request_msg(uint32_t type, const ProtobufCMessage *m, int keyed, uint64_t *seq)
{
	uint8_t *buf;
	size_t len;
	nng_msg *msg;
	int rc;

	/* only the main thread sends: the counter needs no lock */
	*seq = tl->seq = tl->session != 0 ? tl->seq + 1 : 0;
	if ((buf = clink_request(type, tl->session, *seq, m, keyed ? tl->key : NULL, &len)) == NULL)
		die("out of memory");
	if ((rc = nng_msg_alloc(&msg, 0)) != 0 || (rc = nng_msg_append(msg, buf, len)) != 0)
		die("nng_msg: %s", nng_strerror(rc));
	free(buf);
	return msg;
}

/* Decodes a reply to request seq and checks its mac when keyed; NULL if undecodable. */
static Cascade__Reply *
reply_decode(nng_msg *msg, int keyed, uint64_t seq)
{
	Cascade__Reply *rep;

	rep = cascade__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (rep == NULL) {
		note("undecodable reply");
		return NULL;
	}
	if (keyed && rep->status == STATUS(OK) &&
	    cenv_reply_verify(rep, tl->session, seq, tl->key) != 0)
		die("reply mac does not match the session key");
	return rep;
}

/*
 * Hello + Auth, announcing the up stream (when there is one) at its lowest
 * unacked sequence. Returns the node's mark for it, or -1 (retry later).
 */
static int64_t
login(uint64_t lowest_unacked)
{
	uint32_t status;
	int64_t mark;

	mark = tlink_login(tl, addr, CASCADE__PEER_KIND__PEER_CLIENT, secret, secretlen, up_epoch,
	    lowest_unacked, &status);
	if (mark < 0 && (status == STATUS(UNKNOWN_PEER) || status == STATUS(AUTH_FAILED)))
		die("login: %s", cstatus_str(status));
	return mark;
}

/* Waits until login succeeds or the deadline passes. */
static int64_t
login_retry(uint64_t lowest_unacked, int64_t deadline_ns)
{
	int64_t mark;

	while ((mark = login(lowest_unacked)) < 0) {
		if (mono_ns() > deadline_ns)
			die("no session with %s before the deadline", url);
		usleep(200000);
	}
	return mark;
}

/* ------------------------------------------------------------ produce */

/*
 * A push in flight. nng calls slot_cb on its own threads; it only moves the
 * slot to the done list. The main thread does everything else.
 */
struct slot {
	nng_ctx ctx;
	nng_aio *aio;
	int busy, sent, rc;
	uint64_t first, last;           /* the stream range it covers */
	uint64_t reqseq;                /* its request counter */
	nng_msg *reply;
	struct slot *next_done;
};

static pthread_mutex_t p_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t p_cond;
static struct slot slots[WINDOW_MAX], *p_done;

static uint8_t (*ids)[CID_LEN];
static int64_t *stamps;                 /* ns since the epoch; 0: not yet sent */

static void
slot_cb(void *arg)
{
	struct slot *s = arg;
	int rc = nng_aio_result(s->aio);

	if (rc == 0 && !s->sent) {
		/* the request is out; now its reply */
		s->sent = 1;
		nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	pthread_mutex_lock(&p_lock);
	s->rc = rc;
	if (rc == 0)
		s->reply = nng_aio_get_msg(s->aio);
	else if (!s->sent)
		nng_msg_free(nng_aio_get_msg(s->aio));
	s->next_done = p_done;
	p_done = s;
	pthread_cond_signal(&p_cond);
	pthread_mutex_unlock(&p_lock);
}

/* Builds and sends the push of stream positions first..last (seq = n + 1). */
static void
push_start(struct slot *s, uint64_t first, uint64_t last)
{
	Cascade__Push push;
	Cascade__Packet *pk, **pkp;
	uint64_t *seqs, seq;
	uint8_t *pl;
	size_t i, n = (size_t)(last - first + 1);
	int64_t now = real_ns();
	nng_msg *msg;

	pk = calloc(n, sizeof(*pk));
	pkp = calloc(n, sizeof(*pkp));
	seqs = calloc(n, sizeof(*seqs));
	pl = malloc(n * (size_t)size);
	if (pk == NULL || pkp == NULL || seqs == NULL || pl == NULL)
		die("out of memory");
	for (i = 0, seq = first; seq <= last; i++, seq++) {
		long k = (long)seq - 1;
		uint8_t *p = pl + i * (size_t)size;

		if (stamps[k] == 0)
			stamps[k] = now;
		memset(p, 'x', (size_t)size);
		memcpy(p, MAGIC, 4);
		put64(p + 4, (uint64_t)k);
		put64(p + 12, (uint64_t)stamps[k]);
		cascade__packet__init(&pk[i]);
		pk[i].version = CPKT_VERSION;
		pk[i].id.data = ids[k];
		pk[i].id.len = CID_LEN;
		pk[i].src = (char *)addr;
		pk[i].dst = (char *)dst;
		pk[i].command = "bench.chain";
		pk[i].payload.data = p;
		pk[i].payload.len = (size_t)size;
		pk[i].flags = CASCADE__PACKET_FLAG__FLAG_NO_TTL;
		pkp[i] = &pk[i];
		seqs[i] = seq;
	}
	clink_push(&push, up_epoch, first, last, pkp, seqs, n);
	msg = request_msg(CASCADE__MSG_TYPE__MSG_PUSH, &push.base, 1, &s->reqseq);
	free(pk);
	free(pkp);
	free(seqs);
	free(pl);
	s->busy = 1;
	s->sent = 0;
	s->rc = 0;
	s->reply = NULL;
	s->first = first;
	s->last = last;
	nng_aio_set_msg(s->aio, msg);
	nng_ctx_send(s->ctx, s->aio);
}

static int
do_produce(void)
{
	pthread_condattr_t ca;
	struct slot *s, *done;
	uint64_t next_send, acked, total = (uint64_t)count, limit;
	uint64_t pushes = 0, pushed_pkts = 0, resent = 0, not_stored = 0, relogins = 0;
	int64_t t0, t0_real, deadline, hold_until = 0, mark, first_send = 0;
	int inflight = 0, relogin = 0, i;
	long k;
	double el;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p_cond, &ca);
	ids = calloc((size_t)count, CID_LEN);
	stamps = calloc((size_t)count, sizeof(*stamps));
	if (ids == NULL || stamps == NULL)
		die("out of memory");
	for (k = 0; k < count; k++)
		if (cid_next(ids[k]) != 0)
			die("cid_next failed");
	for (i = 0; i < window; i++) {
		int rc;

		if ((rc = nng_aio_alloc(&slots[i].aio, slot_cb, &slots[i])) != 0 ||
		    (rc = nng_ctx_open(&slots[i].ctx, tl->sock)) != 0)
			die("context: %s", nng_strerror(rc));
		nng_ctx_set_ms(slots[i].ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_aio_set_timeout(slots[i].aio, 60000);
	}
	up_epoch = crandom64();
	deadline = mono_ns() + (int64_t)waitsec * 1000000000;
	mark = login_retry(1, deadline);
	acked = (uint64_t)mark;
	next_send = acked + 1;
	t0 = mono_ns();
	t0_real = real_ns();
	if (rate > 0)
		/* the due time is the stamp: packet n is due at t0 + n / rate */
		for (k = 0; k < count; k++)
			stamps[k] = t0_real + (int64_t)((double)k * 1e9 / rate);

	pthread_mutex_lock(&p_lock);
	while (acked < total) {
		int64_t now = mono_ns(), wake;
		struct timespec ts;

		if (now > deadline)
			die("%llu of %ld acked after %d s", (unsigned long long)acked, count, waitsec);
		/* replies */
		done = p_done;
		p_done = NULL;
		pthread_mutex_unlock(&p_lock);
		for (; done != NULL; done = s) {
			Cascade__Reply *rep;
			Cascade__PushReply *pr;

			s = done->next_done;
			done->busy = 0;
			inflight--;
			if (done->rc != 0) {
				note("push %llu..%llu: %s", (unsigned long long)done->first,
				    (unsigned long long)done->last, nng_strerror(done->rc));
				relogin = 1;
				continue;
			}
			if ((rep = reply_decode(done->reply, 1, done->reqseq)) == NULL) {
				relogin = 1;
				continue;
			}
			if (rep->status != STATUS(OK)) {
				note("push: %s: %s", cstatus_str(rep->status), rep->error);
				cascade__reply__free_unpacked(rep, NULL);
				relogin = 1;
				continue;
			}
			pr = cascade__push_reply__unpack(NULL, rep->body.len, rep->body.data);
			cascade__reply__free_unpacked(rep, NULL);
			if (pr == NULL)
				die("bad push reply");
			if (pr->n_rejects > 0)
				die("%zu packets rejected, the first: %s: %s", pr->n_rejects,
				    creason_str(pr->rejects[0]->reason), pr->rejects[0]->text);
			if (pr->acked_seq > acked)
				acked = pr->acked_seq;
			if (acked < done->last) {
				/* not stored: overtaken by a later push, or refused for now */
				not_stored++;
				if (next_send > acked + 1) {
					resent += next_send - (acked + 1);
					next_send = acked + 1;
				}
				if (pr->refused != 0) {
					note("refused for now: %s", creason_str(pr->refused));
					hold_until = mono_ns() + 100000000;
				}
			}
			cascade__push_reply__free_unpacked(pr, NULL);
		}
		if (relogin && inflight == 0) {
			relogins++;
			mark = login_retry(acked + 1, deadline);
			if ((uint64_t)mark > acked)
				acked = (uint64_t)mark;
			if (next_send > acked + 1)
				resent += next_send - (acked + 1);
			next_send = acked + 1;
			relogin = 0;
		}
		/* new pushes */
		now = mono_ns();
		limit = total;
		if (rate > 0) {
			uint64_t due = (uint64_t)((double)(now - t0) * rate / 1e9) + 1;

			if (due < limit)
				limit = due;
		}
		for (i = 0; !relogin && now >= hold_until && inflight < window &&
		    next_send <= limit && i < window; i++) {
			uint64_t last = next_send + (uint64_t)batch - 1;

			if (slots[i].busy)
				continue;
			if (last > limit)
				last = limit;
			if (first_send == 0)
				first_send = real_ns();
			push_start(&slots[i], next_send, last);
			pushes++;
			pushed_pkts += last - next_send + 1;
			next_send = last + 1;
			inflight++;
		}
		/* sleep until a reply, the next due packet, or the end of a hold */
		wake = now + 1000000000;
		if (rate > 0 && limit < total && next_send > limit)
			wake = t0 + (int64_t)((double)limit * 1e9 / rate) + 1;
		if (hold_until > now && hold_until < wake)
			wake = hold_until;
		ts.tv_sec = wake / 1000000000;
		ts.tv_nsec = wake % 1000000000;
		pthread_mutex_lock(&p_lock);
		if (p_done == NULL && acked < total)
			pthread_cond_timedwait(&p_cond, &p_lock, &ts);
	}
	pthread_mutex_unlock(&p_lock);
	el = (double)(mono_ns() - t0) / 1e9;
	printf("chainload produce count=%ld acked=%llu secs=%.3f per_s=%.1f pushes=%llu "
	    "avg_batch=%.1f not_stored=%llu resent=%llu relogins=%llu first_send_ns=%lld "
	    "cpu_s=%.2f\n",
	    count, (unsigned long long)acked, el, (double)count / el,
	    (unsigned long long)pushes, pushes ? (double)pushed_pkts / (double)pushes : 0.0,
	    (unsigned long long)not_stored, (unsigned long long)resent,
	    (unsigned long long)relogins, (long long)first_send, cpu_s());
	/* the replies of pushes still in flight (resends) do not matter now */
	for (i = 0; i < window; i++) {
		nng_aio_stop(slots[i].aio);
		nng_ctx_close(slots[i].ctx);
		nng_aio_free(slots[i].aio);
	}
	return 0;
}

/* ------------------------------------------------------------ consume */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double
quantile_us(const int64_t *v, long n, double q)
{
	long i = (long)(q * (double)n);

	if (n == 0)
		return 0;
	return (double)v[i >= n ? n - 1 : i] / 1e3;
}

static int
do_consume(void)
{
	uint8_t *seen = calloc((size_t)count, 1);
	int64_t *lat = calloc((size_t)count, sizeof(*lat)), *sorted;
	int64_t deadline = mono_ns() + (int64_t)waitsec * 1000000000;
	int64_t first_stamp = 0, last_recv = 0, t_recv;
	uint64_t epoch = 0, acked = 0, pulls = 0, pkts = 0, resent = 0;
	long got = 0, dup = 0, foreign = 0, nlat = 0, k;
	int logged_in = 0;
	FILE *out = NULL;
	double span;

	if (seen == NULL || lat == NULL)
		die("out of memory");
	if (outfile != NULL && (out = fopen(outfile, "w")) == NULL)
		die("%s: %s", outfile, strerror(errno));
	while (got < count && mono_ns() < deadline) {
		Cascade__Pull pl;
		Cascade__PullReply *pr;
		Cascade__Reply *rep;
		char why[80];
		size_t i;

		if (!logged_in) {
			login_retry(1, deadline);
			logged_in = 1;
		}
		/* max 0: the node's max-batch */
		clink_pull(&pl, epoch, acked, 1000, 0, 0);
		rep = tlink_rpc(tl, CASCADE__MSG_TYPE__MSG_PULL, &pl.base, 1);
		t_recv = real_ns();     /* before the reply's unpack, as before tlink */
		if (rep == NULL) {
			logged_in = 0;
			continue;
		}
		if (rep->status != STATUS(OK)) {
			note("pull: %s: %s", cstatus_str(rep->status), rep->error);
			cascade__reply__free_unpacked(rep, NULL);
			logged_in = 0;
			usleep(100000);
			continue;
		}
		pr = cascade__pull_reply__unpack(NULL, rep->body.len, rep->body.data);
		cascade__reply__free_unpacked(rep, NULL);
		if (clink_pull_reply_check(pr, why, sizeof(why)) != 0)
			die("pull: %s", why);
		pulls++;
		if (pr->epoch != epoch) {
			/* a new stream: the node's lowest unacked starts it */
			epoch = pr->epoch;
			acked = pr->first_seq - 1;
		}
		for (i = 0; i < pr->n_packets; i++) {
			Cascade__Packet *p = pr->packets[i];
			const uint8_t *b = p->payload.data;
			int64_t stamp;

			if (pr->seqs[i] <= acked) {
				resent++;       /* already taken: the node sent it again */
				continue;
			}
			pkts++;
			if (p->kind != CASCADE__PACKET_KIND__KIND_DATA || p->payload.len < HDR_LEN ||
			    memcmp(b, MAGIC, 4) != 0 || (k = (long)get64(b + 4)) < 0 || k >= count) {
				foreign++;
				continue;
			}
			if (seen[k]) {
				dup++;
				continue;
			}
			seen[k] = 1;
			got++;
			last_recv = t_recv;
			stamp = (int64_t)get64(b + 12);
			if (first_stamp == 0 || stamp < first_stamp)
				first_stamp = stamp;
			if (k >= skip)
				lat[nlat++] = t_recv - stamp;
			if (out != NULL)
				fprintf(out, "%ld %.1f\n", k, (double)(t_recv - stamp) / 1e3);
		}
		if (pr->last_seq >= pr->first_seq && pr->last_seq > acked)
			acked = pr->last_seq;   /* taken: acked with the next pull */
		cascade__pull_reply__free_unpacked(pr, NULL);
	}
	/* one last pull acknowledges what we took */
	if (logged_in) {
		Cascade__PullReply *pr;
		uint32_t status;

		if (tlink_pull(tl, epoch, acked, 0, 1, &status, &pr) == 0)
			cascade__pull_reply__free_unpacked(pr, NULL);
	}
	if (out != NULL)
		fclose(out);
	sorted = lat;
	qsort(sorted, (size_t)nlat, sizeof(*sorted), cmp_i64);
	span = last_recv > first_stamp ? (double)(last_recv - first_stamp) / 1e9 : 0;
	printf("chainload consume count=%ld received=%ld lost=%ld dup=%ld foreign=%ld resent=%llu "
	    "pulls=%llu avg_batch=%.1f first_stamp_ns=%lld last_recv_ns=%lld secs=%.3f "
	    "e2e_per_s=%.1f lat_n=%ld p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
	    "cpu_s=%.2f\n",
	    count, got, count - got, dup, foreign, (unsigned long long)resent,
	    (unsigned long long)pulls, pulls ? (double)pkts / (double)pulls : 0.0,
	    (long long)first_stamp, (long long)last_recv, span,
	    span > 0 ? (double)got / span : 0.0, nlat, quantile_us(sorted, nlat, 0.5),
	    quantile_us(sorted, nlat, 0.99), quantile_us(sorted, nlat, 0.999),
	    nlat ? (double)sorted[nlat - 1] / 1e3 : 0.0, cpu_s());
	free(seen);
	free(lat);
	return got == count && dup == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *mode;
	char msg[256];
	int ch, n;

	if (argc < 2)
		die("usage: chainload produce|consume -u URL -a NODE/CLIENT -s SECRET [options]");
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "u:a:s:t:n:z:b:w:r:W:k:o:")) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'a': addr = optarg; break;
		case 's': secretfile = optarg; break;
		case 't': dst = optarg; break;
		case 'n': count = atol(optarg); break;
		case 'z': size = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'W': waitsec = atoi(optarg); break;
		case 'k': skip = atol(optarg); break;
		case 'o': outfile = optarg; break;
		default: die("bad option");
		}
	}
	if (url == NULL || addr == NULL || secretfile == NULL)
		die("-u, -a and -s are required");
	if (count < 1 || size < HDR_LEN || batch < 1 || window < 1 || window > WINDOW_MAX)
		die("-n >= 1, -z >= %d, -b >= 1, 1 <= -w <= %d", HDR_LEN, WINDOW_MAX);
	if ((n = csecret_load(secretfile, secret, sizeof(secret), msg, sizeof(msg))) < 0)
		die("%s", msg);
	secretlen = (size_t)n;
	tl = tlink_open(url, 40000, "chainload");
	tl->peer = addr;
	nng_socket_set_size(tl->sock, NNG_OPT_RECVMAXSZ, 64u << 20);
	if (strcmp(mode, "produce") == 0) {
		if (dst == NULL)
			die("produce needs -t DST");
		return do_produce();
	}
	if (strcmp(mode, "consume") == 0)
		return do_consume();
	die("unknown mode %s", mode);
	return 2;
}
