/*
 * notify.c — offline notices: when a packet has waited in the inbox of a
 * client that is offline for longer than offline-notify-after, POST a small
 * JSON notice (client, packet id, src, command, age; never the payload) to
 * offline-notify-url, the way hospital IM servers woke a phone through a
 * push service. Once per (packet, client), retried with backoff.
 *
 * Shape
 * - What is due needs no index of its own: the client's inbox is journaled,
 *   and a scan (a timer on the loop) reads the old entries of offline
 *   clients' inboxes. A per-inbox cursor skips what was already handled, so
 *   a long backlog is read once, not every second.
 * - What was sent is journaled: after the receiver's 2xx the journal thread
 *   writes the meta key "nf:o:<packet id>:<client>". A scan skips an entry
 *   with that key, so a restart neither loses a notice (the entry still
 *   waits, its key absent: it is sent) nor repeats one that was recorded.
 * - A crash after the 2xx and before that write sends the notice again:
 *   at-least-once. Each POST carries the packet id as its Idempotency-Key
 *   header so the receiver can drop the repeat. cascade.conf(5) says so.
 * - The POSTs run on a thread of their own with curl's easy interface, one
 *   at a time: the loop never waits on a receiver, custody never waits on
 *   a notice. Results come back to the loop through loop_post.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cascaded.h"

#define NT_SCAN_MS      1000            /* how often inboxes are looked at */
#define NT_PEEK         64              /* entries read per inbox and scan */
#define NT_PENDING_MAX  256             /* notices waiting for a 2xx, at most */
#define NT_TIMEOUT_MS   10000           /* one POST, at most */
#define NT_BACKOFF_MIN  1000
#define NT_BACKOFF_MAX  (5 * 60 * 1000)

struct ntask {
	TAILQ_ENTRY(ntask) entry;       /* pending list (loop thread) */
	TAILQ_ENTRY(ntask) wentry;      /* worker queue (under nt_mu) */
	struct jkey key;
	uint32_t qid;                   /* the client's inbox */
	char client[CADDR_TEXT_MAX + 1];
	char idt[CID_TEXT_LEN];
	char *body;                     /* the JSON notice */
	unsigned attempts;
	int64_t next_ms;                /* when to try again (wall clock) */
	int busy;                       /* with the worker or the journal */
	/* the worker's result */
	long status;                    /* HTTP status, 0: no answer */
	char err[CURL_ERROR_SIZE];
};

static TAILQ_HEAD(, ntask) nt_pending = TAILQ_HEAD_INITIALIZER(nt_pending);
static unsigned nt_npending;
static struct event *nt_timer;
static struct qcursors nt_cursors;      /* per queue id: next inbox seq to look at */
static char *nt_url;                    /* a copy: a reload does not move it under the worker */
static uint64_t nt_sent, nt_failures;

static pthread_t nt_thread;
static pthread_mutex_t nt_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nt_cv = PTHREAD_COND_INITIALIZER;
static TAILQ_HEAD(, ntask) nt_work = TAILQ_HEAD_INITIALIZER(nt_work);
static volatile int nt_stop;
static int nt_running;

static void
mark_key(const struct ntask *t, char *buf, size_t len)
{
	snprintf(buf, len, "nf:o:%s:%s", t->idt, t->client);
}

/* ------------------------------------------------------------ worker */

static size_t
discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	(void)arg;
	return size * nmemb;
}

/* Aborts a transfer in progress when the daemon stops. */
static int
progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	return nt_stop;
}

/* One POST on the worker's handle e, which keeps its connection alive between them. */
static void
post_one(CURL *e, struct ntask *t)
{
	struct curl_slist *h = NULL;
	char idem[64 + CID_TEXT_LEN];
	CURLcode res;

	t->status = 0;
	t->err[0] = '\0';
	if (e == NULL) {
		snprintf(t->err, sizeof(t->err), "curl_easy_init failed");
		return;
	}
	curl_easy_reset(e);
	snprintf(idem, sizeof(idem), "Idempotency-Key: %s", t->idt);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, idem);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, nt_url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)NT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->err);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cascaded/" PACKAGE_VERSION);
	if ((res = curl_easy_perform(e)) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t->status);
	else if (t->err[0] == '\0')
		snprintf(t->err, sizeof(t->err), "%s", curl_easy_strerror(res));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
}

static void post_done(void *);

static void *
worker(void *unused)
{
	CURL *e = curl_easy_init();
	struct ntask *t;

	(void)unused;
	pthread_mutex_lock(&nt_mu);
	for (;;) {
		while (TAILQ_EMPTY(&nt_work) && !nt_stop)
			pthread_cond_wait(&nt_cv, &nt_mu);
		if (nt_stop)
			break;
		t = TAILQ_FIRST(&nt_work);
		TAILQ_REMOVE(&nt_work, t, wentry);
		pthread_mutex_unlock(&nt_mu);
		post_one(e, t);
		if (!nt_stop)
			loop_post(post_done, t);
		pthread_mutex_lock(&nt_mu);
	}
	pthread_mutex_unlock(&nt_mu);
	if (e != NULL)
		curl_easy_cleanup(e);
	return NULL;
}

/* ------------------------------------------------------- loop thread */

static void
task_free(struct ntask *t)
{
	TAILQ_REMOVE(&nt_pending, t, entry);
	nt_npending--;
	free(t->body);
	free(t);
}

struct mark_job {
	struct jjob job;
	struct ntask *t;
};

static int
mark_run(struct journal *j, struct jjob *job)
{
	struct mark_job *mj = (struct mark_job *)job;
	char key[128 + CADDR_TEXT_MAX];

	mark_key(mj->t, key, sizeof(key));
	return journal_meta_put(j, key, "", 0);
}

static void
mark_done(struct jjob *job)
{
	struct mark_job *mj = (struct mark_job *)job;

	if (job->rc != 0) {     /* the inbox is read again: no key, so it is sent again */
		log_warnx("notify: packet %s for %s: cannot record the notice as sent: %s",
		    mj->t->idt, mj->t->client, journal_strerror(job->rc));
		*qcursor_at(&nt_cursors, mj->t->qid) = 0;
	}
	task_free(mj->t);
	free(mj);
}

static void
post_done(void *arg)
{
	struct ntask *t = arg;
	struct mark_job *mj;
	int64_t wait;

	if (t->status >= 200 && t->status < 300) {
		nt_sent++;
		log_info("notify: packet %s for offline %s: notice accepted (HTTP %ld)",
		    t->idt, t->client, t->status);
		mj = xcalloc(1, sizeof(*mj));
		mj->t = t;
		mj->job.run = mark_run;
		mj->job.done = mark_done;
		jthread_submit(&mj->job);
		return;
	}
	nt_failures++;
	t->attempts++;
	/* 1 s, 2 s, 4 s ... up to 5 minutes */
	wait = (int64_t)NT_BACKOFF_MIN << (t->attempts - 1 < 20 ? t->attempts - 1 : 20);
	if (wait > NT_BACKOFF_MAX)
		wait = NT_BACKOFF_MAX;
	t->next_ms = cnow_ms() + wait;
	t->busy = 0;
	if (t->status != 0)
		log_warnx("notify: %s answered HTTP %ld for the notice of packet %s (attempt %u); "
		    "retrying in %lld ms", nt_url, t->status, t->idt,
		    t->attempts, (long long)wait);
	else
		log_warnx("notify: %s: %s (notice of packet %s, attempt %u); retrying in %lld ms",
		    nt_url, t->err, t->idt, t->attempts, (long long)wait);
}

static struct ntask *
task_find(const struct jkey *k, const char *client)
{
	struct ntask *t;

	TAILQ_FOREACH(t, &nt_pending, entry)
		if (memcmp(&t->key, k, sizeof(*k)) == 0 && strcmp(t->client, client) == 0)
			return t;
	return NULL;
}

/* The notice: who waits for what since when. Never the payload. */
static char *
notice_json(const struct peer *p, const struct jentry *e, const Cascade__Packet *pk,
    const char *idt, int64_t now)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "event", json_string("offline"));
	json_object_set_new(o, "node", json_string(node->id));
	json_object_set_new(o, "client", json_string(p->name));
	json_object_set_new(o, "packet", json_string(idt));
	json_object_set_new(o, "src", json_string(pk->src));
	json_object_set_new(o, "command", json_string(pk->command));
	json_object_set_new(o, "age_ms", json_integer(now - e->accepted_ms));
	json_object_set_new(o, "accepted_ms", json_integer(e->accepted_ms));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		fatalx("notify: out of memory");
	return s;
}

/*
 * Looks at one offline client's inbox from its cursor; queues the notices
 * now due. The cursor passes every entry decided: recorded as sent, or now
 * a task (which ends recorded, or dropped with its packet gone).
 */
static void
scan_client(const struct peer *p, int64_t now)
{
	uint64_t *cur = qcursor_at(&nt_cursors, p->qid);
	int64_t after = p->client != NULL && p->client->offline_notify_after_ms > 0 ?
	    p->client->offline_notify_after_ms : node->conf->offline_notify_after_ms;
	struct jentry e[NT_PEEK];
	struct jqueue_info qi;
	unsigned n, i, more = 1;
	char key[128 + CADDR_TEXT_MAX];
	struct ntask *t;
	void *v;
	size_t vl;

	if (journal_queue_info(node->j, p->qid, &qi) != 0 || qi.depth == 0)
		return;
	if (*cur <= qi.acked_seq)
		*cur = qi.acked_seq + 1;
	while (more && nt_npending < NT_PENDING_MAX &&
	    journal_peek(node->j, p->qid, *cur, NT_PEEK, 1 << 20, e, &n) == 0) {
		more = n == NT_PEEK;
		for (i = 0; i < n; i++) {
			Cascade__Packet *pk;
			char idt[CID_TEXT_LEN];

			if (now - e[i].accepted_ms < after || nt_npending >= NT_PENDING_MAX) {
				more = 0;       /* an inbox is in acceptance order: the rest is younger */
				break;
			}
			*cur = e[i].seq + 1;
			cid_format(e[i].key.id, idt);
			if (task_find(&e[i].key, p->name) != NULL)
				continue;
			snprintf(key, sizeof(key), "nf:o:%s:%s", idt, p->name);
			if (journal_meta_get(node->j, key, &v, &vl) == 0) {
				free(v);        /* sent before */
				continue;
			}
			if ((pk = cpkt_decode(e[i].bytes, e[i].len)) == NULL)
				continue;
			t = xcalloc(1, sizeof(*t));
			t->key = e[i].key;
			t->qid = p->qid;
			snprintf(t->client, sizeof(t->client), "%s", p->name);
			memcpy(t->idt, idt, sizeof(t->idt));
			t->body = notice_json(p, &e[i], pk, idt, now);
			t->next_ms = now;
			TAILQ_INSERT_TAIL(&nt_pending, t, entry);
			nt_npending++;
			cpkt_free(pk);
			log_debug("notify: packet %s has waited %lld ms for offline %s: notice due",
			    idt, (long long)(now - e[i].accepted_ms), p->name);
		}
		journal_entries_free(e, n);
	}
}

/* Whether t's packet still waits in some queue here (read only). */
static int
still_queued(const struct ntask *t)
{
	struct jwhere w;
	unsigned i;
	int waiting = 0;

	if (journal_packet_where(node->j, &t->key, &w) != 0)
		return 0;
	for (i = 0; i < w.nq; i++)
		waiting |= w.waiting[i];
	free(w.body);
	return waiting;
}

static void
nt_fire(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { NT_SCAN_MS / 1000, (NT_SCAN_MS % 1000) * 1000 };
	int64_t now = cnow_ms();
	struct ntask *t, *tn;
	size_t i;

	(void)fd, (void)what, (void)arg;
	for (i = 0; i < node->npeers; i++)
		if (node->peers[i].kind == CASCADE__PEER_KIND__PEER_CLIENT &&
		    !node->peers[i].removed && node->peers[i].sess == NULL && node->peers[i].qid != 0)
			scan_client(&node->peers[i], now);
	/* a retry of a packet delivered, expired or cancelled meanwhile is moot */
	TAILQ_FOREACH_SAFE(t, &nt_pending, entry, tn)
		if (!t->busy && t->attempts > 0 && t->next_ms <= now && !still_queued(t)) {
			log_info("notify: packet %s for %s waits no more: its notice is dropped",
			    t->idt, t->client);
			task_free(t);
		}
	pthread_mutex_lock(&nt_mu);
	TAILQ_FOREACH(t, &nt_pending, entry)
		if (!t->busy && t->next_ms <= now) {
			t->busy = 1;
			TAILQ_INSERT_TAIL(&nt_work, t, wentry);
		}
	pthread_cond_signal(&nt_cv);
	pthread_mutex_unlock(&nt_mu);
	evtimer_add(nt_timer, &tv);
}

/* ---------------------------------------------- the marks' housekeeping */

#define NT_GC_MS        (10 * 60 * 1000)
#define NT_GC_BATCH     256

static struct event *nt_gc_timer;
static char nt_gc_from[512];

struct gc_job {
	struct jjob job;
	unsigned deleted;
};

static int
gc_run(struct journal *j, struct jjob *job)
{
	struct gc_job *gj = (struct gc_job *)job;

	return journal_notify_gc(j, nt_gc_from, sizeof(nt_gc_from), NT_GC_BATCH, &gj->deleted);
}

static void
gc_done(struct jjob *job)
{
	struct gc_job *gj = (struct gc_job *)job;
	struct timeval tv = { NT_GC_MS / 1000, 0 }, soon = { 0, 100 * 1000 };
	int more = job->rc == 0 && nt_gc_from[0] != '\0';

	if (job->rc != 0)
		log_warnx("notify: %s", job->err);
	else if (gj->deleted > 0)
		log_debug("notify: %u marks of packets gone from the queues deleted", gj->deleted);
	free(gj);
	if (nt_gc_timer != NULL)        /* go on through the marks, or wait for the next round */
		evtimer_add(nt_gc_timer, more ? &soon : &tv);
}

static void
gc_fire(evutil_socket_t fd, short what, void *arg)
{
	struct gc_job *gj = xcalloc(1, sizeof(*gj));

	(void)fd, (void)what, (void)arg;
	gj->job.run = gc_run;
	gj->job.done = gc_done;
	jthread_submit(&gj->job);
}

/* Marks of both kinds (offline notices, delay warnings) are swept while either is on. */
static void
gc_start(void)
{
	struct timeval tv = { 60, 0 };

	if (nt_gc_timer != NULL)
		return;
	nt_gc_timer = evtimer_new(node->base, gc_fire, NULL);
	evtimer_add(nt_gc_timer, &tv);
}

void
notify_start(void)
{
	struct timeval tv = { NT_SCAN_MS / 1000, (NT_SCAN_MS % 1000) * 1000 };
	int rc;

	if (node->conf->offline_notify_url != NULL || node->conf->delay_warning_after_ms > 0)
		gc_start();
	if (node->conf->offline_notify_url == NULL)
		return;
	nt_url = xstrdup(node->conf->offline_notify_url);
	if ((rc = pthread_create(&nt_thread, NULL, worker, NULL)) != 0) {
		log_warnx("notify: cannot start the notice thread: %s; offline notices are off",
		    strerror(rc));
		return;
	}
	nt_running = 1;
	nt_timer = evtimer_new(node->base, nt_fire, NULL);
	evtimer_add(nt_timer, &tv);
	log_info("notify: offline notices to %s after %lld ms", nt_url,
	    (long long)node->conf->offline_notify_after_ms);
}

/* Stops the thread (a POST in flight is aborted); unsent notices stay due in the journal. */
void
notify_stop(void)
{
	struct ntask *t, *tn;

	if (nt_gc_timer != NULL)
		event_free(nt_gc_timer);
	nt_gc_timer = NULL;
	if (!nt_running)
		return;
	pthread_mutex_lock(&nt_mu);
	nt_stop = 1;
	pthread_cond_signal(&nt_cv);
	pthread_mutex_unlock(&nt_mu);
	pthread_join(nt_thread, NULL);
	nt_running = 0;
	if (nt_timer != NULL)
		event_free(nt_timer);
	nt_timer = NULL;
	/* a busy task is the worker's (never coming back now) or a mark job's */
	TAILQ_FOREACH_SAFE(t, &nt_pending, entry, tn)
		if (!t->busy)
			task_free(t);
	qcursors_free(&nt_cursors);
}

void
notify_stats(uint64_t *sent, uint64_t *failures, unsigned *pending)
{
	*sent = nt_sent;
	*failures = nt_failures;
	*pending = nt_npending;
}
