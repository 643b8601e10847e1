/*
 * journal_bench.c — the journal module alone (BENCH.md "journal"): durable
 * commits of 1 KiB packets through journal_commit_batch beside raw LMDB
 * puts of the same size and batching, then the full cycle (commit + ack)
 * beside a raw "journal-shaped" writer, then the ceiling of this machine:
 * four journal-shaped writers at once. Everything is measured in the same
 * run, interleaved, and the median of the runs is reported, with ratios.
 *
 *   raw put      one mdb_put of 1 KiB per packet (16-byte increasing key),
 *                one durable commit per batch
 *   raw shaped   per packet: the 1 KiB put, an event record chained with
 *                SHA-256 (hash of previous hash || payload) and a queue
 *                entry; one durable commit per batch, then a second durable
 *                transaction deleting the batch's queue entries
 *   journal      journal_commit_batch of 1 KiB packets, each into one queue
 *                (packet record, queue entry, ACCEPTED event); "+ ack" adds
 *                journal_ack of the batch (FORWARDED events), its own commit
 *   ceiling      four processes each running "raw shaped" at batch 256 on
 *                the same disk, started together
 *
 * Beside the rates: bytes handed to write(2) and CPU time per packet, so a
 * gap can be told apart as I/O or CPU (then profile with BENCH_ONLY).
 *
 * Environment: BENCH_SECS (seconds per measurement, default 2), BENCH_RUNS
 * (default 3), BENCH_DIR (where the databases go; default $TMPDIR, else
 * /var/tmp: a real disk, not tmpfs), BENCH_ONLY=journal (only the journal
 * at batch 256, e.g. under perf record), BENCH_NOINDEX=1 (the journal
 * without its event indexes, as with audit-index no).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "journal.h"
#include "packets.h"

#define PAYLOAD         1024
#define MAXBATCH        256
#define MAXRUNS         9
#define CEIL_PROCS      4
#define CEIL_BATCH      256
#define RAW_MAP         (8ULL << 30)
#define JOURNAL_MAP     (4ULL << 30)

static const unsigned batches[] = { 1, 64, 256 };
#define NBATCH (sizeof(batches) / sizeof(batches[0]))

static double run_secs = 2.0;
static unsigned nruns = 3;
static char *base;              /* this run's directory */
static unsigned ndirs;

/* --------------------------------------------------------------- helpers */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn))
die(const char *what, int rc)
{
	fprintf(stderr, "journal_bench: %s: %s\n", what,
	    rc > 0 ? mdb_strerror(rc) : journal_strerror(rc));
	exit(1);
}

static char *
fresh_dir(const char *tag)
{
	char *dir;

	if (asprintf(&dir, "%s/%s-%u", base, tag, ndirs++) < 0)
		die("asprintf", ENOMEM);
	if (mkdir(dir, 0700) == -1)
		die(dir, errno);
	return dir;
}

/* An LMDB directory holds data.mdb and lock.mdb only. */
static void
drop_dir(char *dir)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(const double *v, unsigned n)
{
	double s[MAXRUNS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * What a side of a measurement cost besides time: bytes handed to write(2)
 * and CPU time (user + system), from /proc/self/io and getrusage.
 */
struct cost {
	unsigned long long wchar;
	double cpu;
};

static unsigned long long
wchar_now(void)
{
	unsigned long long v = 0;
	char line[128];
	FILE *f;

	if ((f = fopen("/proc/self/io", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void
cost_now(struct cost *c)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	c->wchar = wchar_now();
	c->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* acc += now - start */
static void
cost_add(struct cost *acc, const struct cost *start)
{
	struct cost c;

	cost_now(&c);
	acc->wchar += c.wchar - start->wchar;
	acc->cpu += c.cpu - start->cpu;
}

/* ------------------------------------------------------------- raw LMDB */

struct raw {
	MDB_env *env;
	MDB_dbi pk, ev, q;
	char *dir;
	uint8_t val[PAYLOAD];
	uint8_t hash[CSHA256_LEN];
	uint64_t seq, evseq;
};

#define CK(what, expr) do { int ck_ = (expr); if (ck_) die(what, ck_); } while (0)

static void
raw_open(struct raw *r, const char *tag)
{
	MDB_txn *txn;

	memset(r, 0, sizeof(*r));
	r->dir = fresh_dir(tag);
	memset(r->val, 'p', sizeof(r->val));
	CK("mdb_env_create", mdb_env_create(&r->env));
	CK("mdb_env_set_mapsize", mdb_env_set_mapsize(r->env, RAW_MAP));
	CK("mdb_env_set_maxdbs", mdb_env_set_maxdbs(r->env, 4));
	/* default flags: fdatasync of the data, O_DSYNC meta page, like the journal */
	CK("mdb_env_open", mdb_env_open(r->env, r->dir, 0, 0600));
	CK("mdb_txn_begin", mdb_txn_begin(r->env, NULL, 0, &txn));
	CK("mdb_dbi_open", mdb_dbi_open(txn, "packets", MDB_CREATE, &r->pk));
	CK("mdb_dbi_open", mdb_dbi_open(txn, "events", MDB_CREATE, &r->ev));
	CK("mdb_dbi_open", mdb_dbi_open(txn, "queue", MDB_CREATE, &r->q));
	CK("mdb_txn_commit", mdb_txn_commit(txn));
}

static void
raw_close(struct raw *r)
{
	mdb_env_close(r->env);
	drop_dir(r->dir);
}

/* One put per packet, one durable commit per batch. */
static void
raw_batch(struct raw *r, unsigned n)
{
	uint8_t key[16];
	MDB_txn *txn;
	MDB_val k, v;
	unsigned i;

	CK("mdb_txn_begin", mdb_txn_begin(r->env, NULL, 0, &txn));
	for (i = 0; i < n; i++) {
		put_be64(key, ++r->seq);
		memset(key + 8, 'k', 8);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		v.mv_size = PAYLOAD;
		v.mv_data = r->val;
		CK("mdb_put", mdb_put(txn, r->pk, &k, &v, 0));
	}
	CK("mdb_txn_commit", mdb_txn_commit(txn));
}

/*
 * The journal's shape without the journal: packet, chained event record and
 * queue entry per packet in one durable commit, then the queue entries
 * trimmed in a second one.
 */
static void
raw_shaped(struct raw *r, unsigned n)
{
	uint8_t key[16], qk[8], ek[8], rec[16 + CSHA256_LEN], h[CSHA256_LEN];
	uint64_t first = r->seq + 1;
	MDB_txn *txn;
	MDB_val k, v;
	unsigned i;

	CK("mdb_txn_begin", mdb_txn_begin(r->env, NULL, 0, &txn));
	for (i = 0; i < n; i++) {
		put_be64(key, ++r->seq);
		memset(key + 8, 'k', 8);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		v.mv_size = PAYLOAD;
		v.mv_data = r->val;
		CK("mdb_put", mdb_put(txn, r->pk, &k, &v, 0));

		csha256_2(r->hash, CSHA256_LEN, r->val, PAYLOAD, h);
		memcpy(r->hash, h, CSHA256_LEN);
		memcpy(rec, key, 16);
		memcpy(rec + 16, h, CSHA256_LEN);
		put_be64(ek, ++r->evseq);
		k.mv_size = sizeof(ek);
		k.mv_data = ek;
		v.mv_size = sizeof(rec);
		v.mv_data = rec;
		CK("mdb_put", mdb_put(txn, r->ev, &k, &v, MDB_APPEND));

		put_be64(qk, r->seq);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		v.mv_size = sizeof(key);
		v.mv_data = key;
		CK("mdb_put", mdb_put(txn, r->q, &k, &v, MDB_APPEND));
	}
	CK("mdb_txn_commit", mdb_txn_commit(txn));

	CK("mdb_txn_begin", mdb_txn_begin(r->env, NULL, 0, &txn));
	for (i = 0; i < n; i++) {
		put_be64(qk, first + i);
		k.mv_size = sizeof(qk);
		k.mv_data = qk;
		CK("mdb_del", mdb_del(txn, r->q, &k, NULL));
	}
	CK("mdb_txn_commit", mdb_txn_commit(txn));
}

/* -------------------------------------------------------------- journal */

struct tp {
	Cascade__Packet p;
	Cascade__Hop hop;
	Cascade__Hop *hops[1];
	uint8_t id[CID_LEN];
};

static uint8_t payload[PAYLOAD];

static void
tp_init(struct tp *t)
{
	Cascade__Packet p = CASCADE__PACKET__INIT;
	Cascade__Hop h = CASCADE__HOP__INIT;

	t->p = p;
	t->hop = h;
	t->p.version = 1;
	t->p.id.data = t->id;
	t->p.id.len = CID_LEN;
	t->p.src = "county-a/dr-lin";
	t->p.dst = "master/dr-wang";
	t->p.command = "consult.request";
	t->p.payload.data = payload;
	t->p.payload.len = PAYLOAD;
	t->p.ttl_ms = 600000;
	t->hop.node = "county-a";
	t->hop.arrived_ms = cnow_ms();
	t->hops[0] = &t->hop;
	t->p.trace = t->hops;
	t->p.n_trace = 1;
}

/* A journal being written to, batch after batch. */
struct jside {
	struct journal *j;
	char *dir;
	uint32_t qid;
	uint8_t idbase[CID_LEN];
	uint64_t idseq;
	struct tp t[MAXBATCH];
	struct jitem it[MAXBATCH];
};

static struct jside *
jside_open(void)
{
	struct journal_opts o;
	struct jside *s;
	char err[512];
	unsigned i;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		die("calloc", ENOMEM);
	s->dir = fresh_dir("journal");
	memset(&o, 0, sizeof(o));
	o.dir = s->dir;
	o.node_id = "county-a";
	o.map_size = JOURNAL_MAP;
	o.sync = 1;
	/* BENCH_NOINDEX=1: without the event indexes (audit-index no) */
	o.no_index = getenv("BENCH_NOINDEX") != NULL && *getenv("BENCH_NOINDEX") == '1';
	if ((rc = journal_open(&s->j, &o, err, sizeof(err))) != 0) {
		fprintf(stderr, "journal_bench: %s\n", err);
		exit(1);
	}
	if ((rc = journal_queue(s->j, "child:city-b", JQ_LINK, &s->qid)) != 0)
		die(journal_errmsg(s->j), rc);
	for (i = 0; i < MAXBATCH; i++)
		tp_init(&s->t[i]);
	/*
	 * Ids: one from cid_next, then a counter in its low bytes. Ids come
	 * with the packets (the daemon receives them); cid_next's RAND_bytes
	 * per packet would bill the journal for the sender's work.
	 */
	if (cid_next(s->idbase) != 0)
		die("cid_next", EIO);
	return s;
}

static void
jside_close(struct jside *s)
{
	journal_close(s->j);
	drop_dir(s->dir);
	free(s);
}

/*
 * One journal_commit_batch of n packets (then journal_ack of the batch when
 * ack); with ttl every packet has a deadline (an expiry index entry more).
 */
static void
jside_batch(struct jside *s, unsigned n, int ack, int ttl)
{
	struct jbatch b;
	unsigned i, nacked;
	int rc;

	memset(s->it, 0, n * sizeof(s->it[0]));
	for (i = 0; i < n; i++) {
		memcpy(s->t[i].id, s->idbase, 8);
		put_be64(s->t[i].id + 8, ++s->idseq);
		s->it[i].pkt = &s->t[i].p;
		s->it[i].queues[0] = s->qid;
		s->it[i].nqueues = 1;
		s->it[i].deadline_ms = ttl ? cnow_ms() + 600000 : 0;
	}
	memset(&b, 0, sizeof(b));
	b.peer = "";
	b.items = s->it;
	b.n = n;
	b.now_ms = cnow_ms();
	if ((rc = journal_commit_batch(s->j, &b)) != 0)
		die(journal_errmsg(s->j), rc);
	if (b.accepted != n)
		die("batch not accepted whole", EIO);
	if (ack) {
		rc = journal_ack(s->j, s->qid, s->it[n - 1].qseq[0], (uint64_t)cnow_ms(), &nacked);
		if (rc)
			die(journal_errmsg(s->j), rc);
		if (nacked != n)
			die("ack did not take the batch", EIO);
	}
}

/* ---------------------------------------------------------------- pairs */

/* One side of a pair: what it did and what it took. */
struct side {
	uint64_t packets;
	double secs;
	struct cost cost;
};

static double
side_rate(const struct side *d)
{
	return d->secs > 0 ? (double)d->packets / d->secs : 0;
}

static double
side_wbytes(const struct side *d)
{
	return d->packets ? (double)d->cost.wchar / (double)d->packets : 0;
}

static double
side_cpu_us(const struct side *d)
{
	return d->packets ? d->cost.cpu * 1e6 / (double)d->packets : 0;
}

/*
 * Raw LMDB (raw_batch, or raw_shaped when cycle) and the journal (commit,
 * plus ack when cycle) at batch n, in alternating slices of SLICE_SECS for
 * 2 x run_secs in all: both see the same disk and the same neighbours, so
 * their ratio holds even on a noisy machine.
 */
#define SLICE_SECS 0.05

static void
pair(unsigned n, int cycle, int ttl, struct side *raw, struct side *jr)
{
	struct jside *js = jside_open();
	struct cost c0;
	struct raw r;
	double t0, t;

	memset(raw, 0, sizeof(*raw));
	memset(jr, 0, sizeof(*jr));
	raw_open(&r, cycle ? "shaped" : "raw");
	while (raw->secs + jr->secs < 2 * run_secs) {
		cost_now(&c0);
		t0 = now_s();
		do {
			if (cycle)
				raw_shaped(&r, n);
			else
				raw_batch(&r, n);
			raw->packets += n;
		} while ((t = now_s()) - t0 < SLICE_SECS);
		raw->secs += t - t0;
		cost_add(&raw->cost, &c0);
		cost_now(&c0);
		t0 = now_s();
		do {
			jside_batch(js, n, cycle, ttl);
			jr->packets += n;
		} while ((t = now_s()) - t0 < SLICE_SECS);
		jr->secs += t - t0;
		cost_add(&jr->cost, &c0);
	}
	raw_close(&r);
	jside_close(js);
}

/* ------------------------------------------------------------- ceiling */

/*
 * CEIL_PROCS processes, each with its own environment on the same disk,
 * run raw_shaped at CEIL_BATCH from the same moment; per[] gets each one's
 * packets/s.
 */
static void
ceiling(double *per)
{
	int res[2], go[2], status;
	pid_t pids[CEIL_PROCS];
	unsigned i;
	ssize_t got;
	char c;

	if (pipe(res) == -1 || pipe(go) == -1)
		die("pipe", errno);
	fflush(NULL);
	for (i = 0; i < CEIL_PROCS; i++) {
		if ((pids[i] = fork()) == -1)
			die("fork", errno);
		if (pids[i] == 0) {
			struct raw r;
			uint64_t done = 0;
			double t0, t, rate;
			char tag[32];

			close(res[0]);
			close(go[1]);
			snprintf(tag, sizeof(tag), "ceiling%u", i);   /* ndirs is per process */
			raw_open(&r, tag);
			if (read(go[0], &c, 1) < 0)     /* EOF: everyone is ready */
				_exit(1);
			t0 = now_s();
			do {
				raw_shaped(&r, CEIL_BATCH);
				done += CEIL_BATCH;
			} while ((t = now_s()) - t0 < run_secs);
			rate = (double)done / (t - t0);
			raw_close(&r);
			if (write(res[1], &rate, sizeof(rate)) != (ssize_t)sizeof(rate))
				_exit(1);
			_exit(0);
		}
	}
	close(res[1]);
	close(go[0]);
	usleep(100000);                 /* let them open their environments */
	close(go[1]);
	for (i = 0; i < CEIL_PROCS; i++) {
		got = read(res[0], &per[i], sizeof(per[i]));
		if (got != (ssize_t)sizeof(per[i]))
			die("a ceiling writer failed", EIO);
	}
	close(res[0]);
	for (i = 0; i < CEIL_PROCS; i++)
		while (waitpid(pids[i], &status, 0) == -1 && errno == EINTR)
			;
}

/* ----------------------------------------------------------------- main */

static void
fmt_rate(char *buf, size_t len, double v)
{
	if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
}

int
main(void)
{
	/* [batch][run]: commit pairs, cycle pairs; the ttl pair at batch 256 */
	struct side craw[NBATCH][MAXRUNS], cj[NBATCH][MAXRUNS];
	struct side yraw[NBATCH][MAXRUNS], yj[NBATCH][MAXRUNS], traw[MAXRUNS], tj[MAXRUNS];
	double v[MAXRUNS], w[MAXRUNS], per[CEIL_PROCS], ceil_per[MAXRUNS], ceil_tot[MAXRUNS];
	double ceil_ratio[MAXRUNS], raw256[MAXRUNS], cyc256[MAXRUNS];
	double lo = 1e30, hi = 0, t0 = now_s(), m_per;
	const char *env, *root;
	char a[32], b[32], c[32];
	unsigned run, i, k;

	if ((env = getenv("BENCH_SECS")) != NULL && atof(env) > 0)
		run_secs = atof(env);
	if ((env = getenv("BENCH_RUNS")) != NULL && atoi(env) > 0)
		nruns = (unsigned)atoi(env) > MAXRUNS ? MAXRUNS : (unsigned)atoi(env);
	if ((root = getenv("BENCH_DIR")) == NULL || *root == '\0')
		if ((root = getenv("TMPDIR")) == NULL || *root == '\0')
			root = "/var/tmp";
	if (asprintf(&base, "%s/cascade-jbench-XXXXXX", root) < 0 || mkdtemp(base) == NULL) {
		fprintf(stderr, "journal_bench: %s: %s\n", root, strerror(errno));
		return 1;
	}
	memset(payload, 'p', sizeof(payload));
	printf("journal bench: 1 KiB packets, every commit durable (fdatasync + O_DSYNC meta "
	    "page);\nraw and journal alternate in %.0f ms slices, %.1f s each per measurement; "
	    "median of %u runs;\nin %s\n", SLICE_SECS * 1000, run_secs, nruns, base);
	fflush(stdout);

	/* BENCH_ONLY=journal: journal commits at batch 256 alone, to profile them */
	if ((env = getenv("BENCH_ONLY")) != NULL && strcmp(env, "journal") == 0) {
		for (run = 0; run < nruns; run++) {
			struct jside *js = jside_open();
			struct side d;
			struct cost c0;
			double ts;

			memset(&d, 0, sizeof(d));
			cost_now(&c0);
			ts = now_s();
			do {
				jside_batch(js, 256, 0, 0);
				d.packets += 256;
			} while ((d.secs = now_s() - ts) < run_secs);
			cost_add(&d.cost, &c0);
			jside_close(js);
			fmt_rate(a, sizeof(a), side_rate(&d));
			printf("journal batch 256: %s pkt/s, %.0f B written and %.1f us CPU per "
			    "packet\n", a, side_wbytes(&d), side_cpu_us(&d));
		}
		rmdir(base);
		free(base);
		return 0;
	}

	for (run = 0; run < nruns; run++) {
		for (i = 0; i < NBATCH; i++) {
			pair(batches[i], 0, 0, &craw[i][run], &cj[i][run]);
			pair(batches[i], 1, 0, &yraw[i][run], &yj[i][run]);
			if (batches[i] == 256) {
				raw256[run] = side_rate(&craw[i][run]);
				cyc256[run] = side_rate(&yj[i][run]);
			}
		}
		pair(256, 0, 1, &traw[run], &tj[run]);
		ceiling(per);
		ceil_tot[run] = 0;
		for (k = 0; k < CEIL_PROCS; k++) {
			ceil_tot[run] += per[k];
			lo = per[k] < lo ? per[k] : lo;
			hi = per[k] > hi ? per[k] : hi;
		}
		ceil_per[run] = median(per, CEIL_PROCS);
		/* against raw at 256 of the same run: the two are minutes apart at most */
		ceil_ratio[run] = raw256[run] > 0 ? ceil_per[run] / raw256[run] : 0;
		fprintf(stderr, "  run %u of %u done (%.0f s)\n", run + 1, nruns, now_s() - t0);
	}

	printf("\ncommit          raw LMDB put/s   journal pkt/s   journal/raw\n");
	for (i = 0; i < NBATCH; i++) {
		for (run = 0; run < nruns; run++) {
			v[run] = side_rate(&craw[i][run]);
			w[run] = side_rate(&cj[i][run]) / v[run];
		}
		fmt_rate(a, sizeof(a), median(v, nruns));
		for (run = 0; run < nruns; run++)
			v[run] = side_rate(&cj[i][run]);
		fmt_rate(b, sizeof(b), median(v, nruns));
		printf("batch %-4u      %14s  %14s   %10.2fx%s\n", batches[i], a, b,
		    median(w, nruns), batches[i] == 256 ? "   (target >= 0.50x)" : "");
	}
	for (run = 0; run < nruns; run++) {
		v[run] = side_rate(&tj[run]);
		w[run] = v[run] / side_rate(&traw[run]);
	}
	fmt_rate(b, sizeof(b), median(v, nruns));
	printf("batch 256 + ttl                  %14s   %10.2fx   (with an expiry index entry)\n",
	    b, median(w, nruns));

	printf("\nper packet      written raw / journal    CPU us raw / journal\n");
	for (i = 0; i < NBATCH; i++) {
		double m[4];

		for (k = 0; k < 4; k++) {
			for (run = 0; run < nruns; run++) {
				const struct side *d = k % 2 ? &cj[i][run] : &craw[i][run];

				v[run] = k < 2 ? side_wbytes(d) : side_cpu_us(d);
			}
			m[k] = median(v, nruns);
		}
		printf("batch %-4u      %7.0f B / %7.0f B   %8.1f / %8.1f\n", batches[i], m[0],
		    m[1], m[2], m[3]);
	}

	printf("\ncommit + ack    raw shaped pkt/s journal pkt/s   journal/shaped\n");
	for (i = 0; i < NBATCH; i++) {
		for (run = 0; run < nruns; run++) {
			v[run] = side_rate(&yraw[i][run]);
			w[run] = side_rate(&yj[i][run]) / v[run];
		}
		fmt_rate(a, sizeof(a), median(v, nruns));
		for (run = 0; run < nruns; run++)
			v[run] = side_rate(&yj[i][run]);
		fmt_rate(b, sizeof(b), median(v, nruns));
		printf("batch %-4u      %14s  %14s   %10.2fx\n", batches[i], a, b, median(w, nruns));
	}

	m_per = median(ceil_per, nruns);
	fmt_rate(a, sizeof(a), m_per);
	fmt_rate(b, sizeof(b), median(ceil_tot, nruns));
	printf("\nceiling: %d journal-shaped writers at once, batch %d: %s pkt/s each "
	    "(total %s)\n", CEIL_PROCS, CEIL_BATCH, a, b);
	fmt_rate(a, sizeof(a), lo);
	fmt_rate(c, sizeof(c), hi);
	printf("  one writer of the four = %.2fx raw LMDB at batch 256 (BENCH.md: 0.21-0.25x); "
	    "writers ranged %s..%s\n", median(ceil_ratio, nruns), a, c);
	for (run = 0; run < nruns; run++)
		v[run] = ceil_per[run] > 0 ? cyc256[run] / ceil_per[run] : 0;
	printf("  journal commit + ack alone at batch 256 = %.2fx one ceiling writer\n",
	    median(v, nruns));
	printf("\n(%.0f s)\n", now_s() - t0);
	rmdir(base);
	free(base);
	return 0;
}
