/*
 * consult.c — a township clinic asks a provincial expert for a
 * consultation, over cascade. An example of libcascade (public API only).
 *
 *   consult expert -u URL -a ADDR -s SECRET [-c CA] [-S STATEDIR] [-n N] [-T SECONDS] [-v]
 *	answers each "consult.request" with a "consult.answer" (an opinion in
 *	JSON that echoes the case id) and prints, for each: the case, who
 *	asked, when it arrived, the hop trace with the time held at each
 *	node, and how long the answer took. Stops after N requests, on
 *	SIGTERM/SIGINT, or after SECONDS.
 *
 *   consult clinic -u URL -a ADDR -s SECRET -t EXPERT [-c CA] [-S STATEDIR] [-n N]
 *	    [-p K] [-w SECONDS] [-T SECONDS] [--quiet] [-v]
 *	sends N consultation requests (a patient summary; the images stay on
 *	the clinic's file server and travel as URL + SHA-256), K at a time
 *	(default 1), waits for each answer (cascade_request(), at most -w
 *	SECONDS each, default 30), and prints per case: the round trip time,
 *	the answer, and, for the first, the way the answer came with the time
 *	held at each node. Ends with "sent N answered N lost N late N" and
 *	exits 0 only when every case was answered in time.
 *
 * Build outside the tree:
 *	cc -o consult consult.c $(pkg-config --cflags --libs libcascade jansson libcrypto) -pthread
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#define _POSIX_C_SOURCE 200809L
#endif

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cascade.h"

#define REQUEST_CMD "consult.request"
#define ANSWER_CMD "consult.answer"
#define NEVER INT64_MAX

static const char *url, *addr, *secret, *cafile, *statedir, *expert;
static long count;
static int verbose, quiet, window = 1;
static int64_t timeout_ms, wait_ms = 30000;
static volatile sig_atomic_t stopped;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int refused;                     /* under mu */
static char refused_why[512];

/* ------------------------------------------------------------- helpers */

static void
die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("consult: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
mono_msf(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "10:15:02.318", local time */
static char *
clock_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	snprintf(buf, len, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(ms % 1000));
	return buf;
}

/* "2024-11-23T10:15:02.318Z" */
static char *
iso_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return buf;
}

/* When the sender made the id: its first 48 bits are milliseconds since the epoch. */
static int64_t
id_time_ms(const uint8_t *id)
{
	int64_t ms = 0;
	int i;

	for (i = 0; i < 6; i++)
		ms = ms << 8 | id[i];
	return ms;
}

static void
on_signal(int sig)
{
	stopped = sig;
}

/*
 * The hop trace of p, one node per line: where it was, on which leg, when
 * it arrived (ms after the sender made the packet) and how long it waited.
 */
static void
print_trace(const cascade_packet_t *p, const char *indent)
{
	int64_t sent = id_time_ms(cascade_packet_id(p)), arrived;
	const char *node;
	uint32_t held;
	size_t i, n = cascade_packet_hops(p);
	int down;

	printf("%s%-4s %-14s %-5s %9s %9s\n", indent, "hop", "node", "leg", "arrived", "held");
	/* arrived: ms after the sender made the packet; held: how long that node kept it */
	for (i = 0; i < n; i++) {
		if (cascade_packet_hop(p, i, &node, &down, &arrived, &held) != 0)
			break;
		printf("%s%-4zu %-14s %-5s %+6lld ms %6u ms\n", indent, i + 1, node,
		    down ? "down" : "up", (long long)(arrived - sent), held);
	}
}

static void
log_cb(void *arg, int level, const char *msg)
{
	fprintf(stderr, "consult: sdk: %s\n", msg);
}

static void
state_cb(void *arg, cascade_t *h, int state, const char *detail)
{
	pthread_mutex_lock(&mu);
	if (state == CASCADE_STATE_REFUSED) {
		refused = 1;
		snprintf(refused_why, sizeof(refused_why), "%s", detail);
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	if (verbose)
		fprintf(stderr, "consult: connection: %s\n", detail);
}

static cascade_t *
open_handle(cascade_packet_cb pcb)
{
	cascade_options_t *o;
	cascade_t *h;
	int rc;

	if ((rc = cascade_options_new(&o)) != 0)
		die(1, "options: %s", cascade_strerror(rc));
	if ((rc = cascade_options_set_url(o, url)) != 0)
		die(2, "url %s: %s", url, cascade_strerror(rc));
	if ((rc = cascade_options_set_client(o, addr)) != 0)
		die(2, "address %s: %s", addr, cascade_strerror(rc));
	if ((rc = cascade_options_set_secret_file(o, secret)) != 0)
		die(2, "secret file %s: %s", secret, cascade_strerror(rc));
	if (cafile != NULL && (rc = cascade_options_set_ca_file(o, cafile)) != 0)
		die(2, "CA file %s: %s", cafile, cascade_strerror(rc));
	if (statedir != NULL && (rc = cascade_options_set_state_dir(o, statedir)) != 0)
		die(2, "state directory %s: %s", statedir, cascade_strerror(rc));
	cascade_options_set_packet_cb(o, pcb, NULL);
	cascade_options_set_state_cb(o, state_cb, NULL);
	cascade_options_set_reconnect(o, 50, 1000);
	if (verbose)
		cascade_options_set_log_cb(o, log_cb, NULL, CASCADE_LOG_INFO);
	if ((rc = cascade_open(o, &h)) != 0)
		die(2, "cannot attach to %s as %s: %s", url, addr, cascade_strerror(rc));
	cascade_options_free(o);
	return h;
}

/* Waits on cv (mu held) up to 100 ms: short, so signals and deadlines are seen. */
static void
wait_a_little(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&cv, &mu, &ts);
}

/* ------------------------------------------------------------- the expert */

/* What the expert says, by what the complaint mentions. */
static const struct opinion {
	const char *keyword, *urgency, *text;
} opinions[] = {
	{ "cough", "soon",
	  "Right lower lobe pneumonia is likely. CURB-65 is 0-1: treat at the clinic with "
	  "oral amoxicillin and review in 48 h; refer if SpO2 falls below 92% or she becomes "
	  "confused." },
	{ "chest pain", "soon",
	  "Exertional pain with these ECG changes fits stable angina. Start aspirin and refer to "
	  "cardiology within a week; send him to the county hospital at once if pain comes at "
	  "rest or lasts over 15 minutes." },
	{ "pregnan", "urgent",
	  "Treat as severe pre-eclampsia. Transfer today to the county maternity unit; give "
	  "magnesium sulfate per protocol before transport and keep BP under 160/110." },
	{ "rash", "soon",
	  "High fever with a maculopapular rash: measles is the first concern this season. "
	  "Isolate, give fluids and paracetamol, check for conjunctivitis and bleeding; refer "
	  "if he becomes lethargic." },
	{ "ulcer", "soon",
	  "Infected diabetic foot ulcer; the X-ray should be read for osteomyelitis. Start oral "
	  "antibiotics, off-load the foot and check glucose; surgical clinic this week." },
	{ "weakness", "urgent",
	  "Acute stroke until proven otherwise, still inside the thrombolysis window. Transfer "
	  "now to the city stroke centre, note the time of onset, no aspirin before the CT." },
};

static long answered;                   /* under mu */
static int64_t last_answer_ms;          /* under mu */

static void
expert_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	double t0 = mono_msf(), took;
	int64_t arrived = wall_ms(), sent = id_time_ms(cascade_packet_id(p));
	const struct opinion *op = NULL;
	const char *complaint = "", *case_id = "?", *pl;
	char at[32], iso[80];
	json_t *req, *ans;
	json_error_t err;
	size_t len, i, nimages = 0;
	char *body;
	int rc;

	if (cascade_packet_kind(p) != CASCADE_KIND_DATA ||
	    strcmp(cascade_packet_command(p), REQUEST_CMD) != 0) {
		if (verbose)
			fprintf(stderr, "consult: ignoring a %s from %s\n",
			    cascade_packet_kind(p) == CASCADE_KIND_NOTICE ? "notice" :
			    cascade_packet_command(p), cascade_packet_src(p));
		return;
	}
	pl = cascade_packet_payload(p, &len);
	if ((req = json_loadb(pl, len, 0, &err)) == NULL) {
		fprintf(stderr, "consult: request from %s is not JSON: %s\n", cascade_packet_src(p),
		    err.text);
		return;
	}
	json_unpack(req, "{s?s, s?{s?s}}", "case", &case_id, "patient", "complaint", &complaint);
	nimages = json_array_size(json_object_get(req, "images"));
	for (i = 0; i < sizeof(opinions) / sizeof(opinions[0]); i++)
		if (strstr(complaint, opinions[i].keyword) != NULL) {
			op = &opinions[i];
			break;
		}
	ans = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}",
	    "case", case_id,
	    "expert", addr,
	    "urgency", op != NULL ? op->urgency : "routine",
	    "opinion", op != NULL ? op->text :
	    "Not enough to go on: please send the history, an examination and the vital signs.",
	    "images_seen", (int)nimages,
	    "answered_at", iso_text(wall_ms(), iso, sizeof(iso)));
	body = json_dumps(ans, JSON_COMPACT | JSON_PRESERVE_ORDER);
	rc = body != NULL ? cascade_reply(h, p, ANSWER_CMD, body, strlen(body), NULL) :
	    CASCADE_ENOMEM;
	took = mono_msf() - t0;
	if (rc != 0)
		fprintf(stderr, "consult: answering case %s: %s\n", case_id, cascade_strerror(rc));
	printf("case %s from %s\n", case_id, cascade_packet_src(p));
	printf("    arrived %s, %lld ms after the clinic sent it; answered in %.2f ms\n",
	    clock_text(arrived, at, sizeof(at)), (long long)(arrived - sent), took);
	print_trace(p, "    ");
	fflush(stdout);
	free(body);
	json_decref(ans);
	json_decref(req);
	if (rc == 0) {
		pthread_mutex_lock(&mu);
		answered++;
		last_answer_ms = mono_ms();
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
}

static int
run_expert(void)
{
	int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : NEVER;
	cascade_t *h;
	long n;
	int ok;

	printf("expert %s at %s: answering consultations%s\n", addr, url,
	    count > 0 ? "" : " until stopped");
	fflush(stdout);
	h = open_handle(expert_cb);
	pthread_mutex_lock(&mu);
	while (!stopped && !refused && (count == 0 || answered < count) && mono_ms() < deadline)
		wait_a_little();
	/* the last answer's batch is acknowledged with the next pull: give it a moment */
	while (!refused && mono_ms() - last_answer_ms < 300)
		wait_a_little();
	n = answered;
	pthread_mutex_unlock(&mu);
	if (refused)
		die(3, "%s: %s", addr, refused_why);
	ok = cascade_flush(h, 10000) == CASCADE_OK;
	cascade_close(h);
	printf("expert %s: answered %ld\n", addr, n);
	if (!ok)
		fprintf(stderr, "consult: the node has not taken all answers\n");
	return ok && (count == 0 || n >= count) ? 0 : 1;
}

/* ------------------------------------------------------------- the clinic */

/* Made-up patients: what a township clinic would ask about. */
static const struct patient {
	int age;
	const char *sex, *complaint, *history;
	double temp_c;
	int pulse, resp, spo2;
	const char *bp, *question;
	struct {
		const char *file, *media_type, *label;
	} images[2];
} patients[] = {
	{ 34, "F", "productive cough and fever for 4 days", "no chronic illness; non-smoker",
	  38.9, 104, 24, 93, "118/76", "Pneumonia? Can we treat her here?",
	  { { "chest-pa.jpg", "image/jpeg", "chest X-ray, PA" } } },
	{ 61, "M", "chest pain on exertion for 2 weeks", "hypertension; smokes 20 a day",
	  36.8, 88, 16, 97, "152/94", "Angina? How urgent is the referral?",
	  { { "ecg-12-lead.pdf", "application/pdf", "12-lead ECG" } } },
	{ 27, "F", "pregnant, 32 weeks; headache and blurred vision since this morning",
	  "second pregnancy; no previous hypertension",
	  36.9, 96, 18, 98, "158/104", "Transfer now or observe?",
	  { { "urine-dipstick.jpg", "image/jpeg", "urine dipstick: protein 2+" } } },
	{ 6, "M", "fever for 3 days, then a rash on face and trunk", "vaccination record incomplete",
	  39.2, 132, 30, 96, "", "Measles?",
	  { { "rash-trunk.jpg", "image/jpeg", "rash, trunk" },
	    { "rash-face.jpg", "image/jpeg", "rash, face" } } },
	{ 52, "M", "foot ulcer not healing for 3 weeks", "type 2 diabetes for 10 years",
	  37.6, 92, 16, 98, "138/86", "Osteomyelitis? Antibiotics here?",
	  { { "foot-ulcer.jpg", "image/jpeg", "plantar ulcer, left foot" },
	    { "foot-xray.jpg", "image/jpeg", "X-ray, left foot" } } },
	{ 73, "F", "sudden weakness of the left arm and slurred speech for 1 hour",
	  "atrial fibrillation, no anticoagulant",
	  36.7, 84, 16, 97, "178/96", "Stroke: where do we send her?", { { NULL, NULL, NULL } } },
};

/* Fake image bytes (an xorshift stream) and their SHA-256, as the file server would hold. */
static size_t
fake_image(uint64_t seed, unsigned char md[32])
{
	size_t len = 40000 + (size_t)(seed % 200000), i;
	unsigned char *b = malloc(len);
	unsigned int mdlen = 32;
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	if (b == NULL)
		die(1, "out of memory");
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (unsigned char)x;
	}
	if (EVP_Digest(b, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		die(1, "SHA-256 failed");
	free(b);
	return len;
}

/* The request's payload: the patient summary with the images by reference. */
static char *
case_payload(const char *case_id, long n)
{
	const struct patient *pt = &patients[(n - 1) % (long)(sizeof(patients) / sizeof(patients[0]))];
	char iso[80], hex[65], urlbuf[512], node[64];
	unsigned char md[32];
	json_t *o, *images;
	const char *slash;
	size_t i, k, len;
	char *s;

	/* the clinic's file server is named after its node */
	slash = strchr(addr, '/');
	snprintf(node, sizeof(node), "%.*s", slash != NULL ? (int)(slash - addr) : 63, addr);
	images = json_array();
	for (i = 0; i < 2 && pt->images[i].file != NULL; i++) {
		len = fake_image((uint64_t)n * 31 + i + (uint64_t)strlen(case_id), md);
		for (k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", md[k]);
		snprintf(urlbuf, sizeof(urlbuf), "https://files.%s.example/cases/%s/%s", node,
		    case_id, pt->images[i].file);
		json_array_append_new(images, json_pack("{s:s, s:s, s:s, s:s, s:I}",
		    "label", pt->images[i].label, "url", urlbuf, "sha256", hex,
		    "media_type", pt->images[i].media_type, "bytes", (json_int_t)len));
	}
	o = json_pack("{s:s, s:s, s:s, s:{s:i, s:s, s:s, s:s, s:{s:f, s:i, s:i, s:i, s:s}}, s:o, s:s}",
	    "case", case_id,
	    "clinic", addr,
	    "asked_at", iso_text(wall_ms(), iso, sizeof(iso)),
	    "patient",
	      "age", pt->age, "sex", pt->sex, "complaint", pt->complaint, "history", pt->history,
	      "vitals", "temp_c", pt->temp_c, "pulse_bpm", pt->pulse, "resp_per_min", pt->resp,
	        "spo2_pct", pt->spo2, "bp_mmhg", pt->bp,
	    "images", images,
	    "question", pt->question);
	if (o == NULL)
		die(1, "building the request failed");
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s == NULL)
		die(1, "out of memory");
	return s;
}

enum { C_UNSENT, C_PENDING, C_ANSWERED, C_TIMEDOUT, C_LATE, C_FAILED };

struct ccase {
	long n;
	char case_id[48];
	uint8_t id[CASCADE_ID_LEN];
	int state, status, sent;
	double t0, rtt;
	cascade_packet_t *answer;       /* a copy: printed by the main thread */
	struct ccase *next_done;
};

static struct ccase *cases;
static struct ccase *done_head, **done_tail = &done_head;      /* under mu */
static long late_count;                                         /* under mu */

static void
clinic_request_cb(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
	struct ccase *c = arg;
	double now = mono_msf();

	pthread_mutex_lock(&mu);
	c->status = status;
	c->rtt = now - c->t0;
	if (status == CASCADE_OK) {
		c->state = C_ANSWERED;
		if (cascade_packet_dup(reply, &c->answer) != 0)
			c->answer = NULL;
	} else
		c->state = status == CASCADE_ETIMEDOUT ? C_TIMEDOUT : C_FAILED;
	*done_tail = c;
	done_tail = &c->next_done;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/*
 * After a request timed out, its answer may still come (flagged late), or
 * the notice that it expired on the way: both arrive here.
 */
static void
clinic_packet_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	const uint8_t *re = cascade_packet_kind(p) == CASCADE_KIND_DATA ?
	    cascade_packet_reply_to(p) : cascade_packet_ref_id(p);
	long i;

	if (re == NULL)
		return;
	pthread_mutex_lock(&mu);
	for (i = 0; i < count; i++)
		if (cases[i].state == C_TIMEDOUT && memcmp(cases[i].id, re, CASCADE_ID_LEN) == 0) {
			if (cascade_packet_kind(p) == CASCADE_KIND_DATA) {
				cases[i].state = C_LATE;
				late_count++;
			} else if (cascade_packet_notice(p) != CASCADE_NOTICE_DELIVERED)
				cases[i].state = C_FAILED;      /* expired: no answer will come */
			pthread_cond_broadcast(&cv);
			break;
		}
	pthread_mutex_unlock(&mu);
}

/* Prints text after lead, wrapped at width columns, later lines indented like the first. */
static void
print_wrapped(const char *lead, const char *text, size_t width)
{
	size_t indent = strlen(lead), room = width > indent + 20 ? width - indent : 20, n, cut;

	fputs(lead, stdout);
	if (*text == '\0')
		fputc('\n', stdout);
	while (*text != '\0') {
		n = strlen(text);
		cut = n;
		if (n > room) {
			for (cut = room; cut > 0 && text[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = room;
		}
		printf("%.*s\n", (int)cut, text);
		text += cut;
		while (*text == ' ')
			text++;
		if (*text != '\0')
			printf("%*s", (int)indent, "");
	}
}

/* One line per case: id, round trip, urgency, the opinion (cut to fit a terminal). */
static void
print_case(struct ccase *c, int detail)
{
	const char *opinion = "", *urgency = "", *pl;
	char idt[CASCADE_ID_TEXT_LEN], aidt[CASCADE_ID_TEXT_LEN];
	json_t *a = NULL;
	size_t len;

	if (c->state != C_ANSWERED) {
		printf("%-13s %9s   %-7s %s\n", c->case_id, "-", "-",
		    c->status == CASCADE_ETIMEDOUT ? "no answer in time" : cascade_strerror(c->status));
		return;
	}
	if (c->answer != NULL) {
		pl = cascade_packet_payload(c->answer, &len);
		if ((a = json_loadb(pl, len, 0, NULL)) != NULL)
			json_unpack(a, "{s?s, s?s}", "opinion", &opinion, "urgency", &urgency);
	}
	if (strlen(opinion) <= 64)
		printf("%-13s %6.1f ms   %-7s %s\n", c->case_id, c->rtt, urgency, opinion);
	else
		printf("%-13s %6.1f ms   %-7s %.61s...\n", c->case_id, c->rtt, urgency, opinion);
	if (detail && c->answer != NULL) {
		cascade_id_format(c->id, idt, sizeof(idt));
		cascade_id_format(cascade_packet_id(c->answer), aidt, sizeof(aidt));
		printf("    request %s\n    answer  %s from %s\n", idt, aidt,
		    cascade_packet_src(c->answer));
		print_wrapped("    opinion ", opinion, 76);
		printf("    the answer's way back (arrived: ms after it left the expert):\n");
		print_trace(c->answer, "      ");
	}
	json_decref(a);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
run_clinic(void)
{
	int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : NEVER, until;
	long next = 0, sent = 0, inflight = 0, answered_n = 0, lost, late, i, nr = 0;
	char prefix[16], *body;
	struct ccase *c, *list;
	double *rtts;
	cascade_t *h;
	struct tm tm;
	time_t now = time(NULL);
	int rc, first = 1;

	if ((cases = calloc((size_t)count, sizeof(*cases))) == NULL ||
	    (rtts = calloc((size_t)count, sizeof(*rtts))) == NULL)
		die(1, "out of memory");
	/* case ids: T (township), the time of day, a number */
	localtime_r(&now, &tm);
	snprintf(prefix, sizeof(prefix), "T%02d%02d%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	for (i = 0; i < count; i++) {
		cases[i].n = i + 1;
		snprintf(cases[i].case_id, sizeof(cases[i].case_id), "%s-%04ld", prefix, i + 1);
	}
	h = open_handle(clinic_packet_cb);
	if (!quiet) {
		printf("clinic %s asks %s: %ld case%s\n", addr, expert, count, count == 1 ? "" : "s");
		printf("%-13s %9s   %-7s %s\n", "case", "rtt", "urgency", "answer");
		fflush(stdout);
	}
	pthread_mutex_lock(&mu);
	while ((next < count || inflight > 0) && !stopped && !refused && mono_ms() < deadline) {
		while (inflight < window && next < count) {
			c = &cases[next++];
			body = case_payload(c->case_id, c->n);
			c->t0 = mono_msf();
			c->state = C_PENDING;
			/* mu is held: the callback cannot look at c before c->id is set */
			rc = cascade_request(h, expert, REQUEST_CMD, body, strlen(body),
			    (int32_t)wait_ms, clinic_request_cb, c, c->id);
			free(body);
			if (rc != 0) {
				c->state = C_FAILED;
				c->status = rc;
				*done_tail = c;
				done_tail = &c->next_done;
				fprintf(stderr, "consult: case %s: %s\n", c->case_id, cascade_strerror(rc));
				continue;
			}
			c->sent = 1;
			sent++;
			inflight++;
		}
		if (done_head == NULL)
			wait_a_little();
		list = done_head;
		done_head = NULL;
		done_tail = &done_head;
		pthread_mutex_unlock(&mu);
		for (c = list; c != NULL; c = c->next_done) {
			if (c->sent)
				inflight--;
			if (c->state == C_ANSWERED)
				rtts[nr++] = c->rtt;
			if (!quiet)
				print_case(c, first && c->state == C_ANSWERED);
			if (c->state == C_ANSWERED)
				first = 0;
		}
		if (!quiet)
			fflush(stdout);
		pthread_mutex_lock(&mu);
	}
	/* answers that missed their time may still come: wait a little for them */
	until = mono_ms() + wait_ms;
	if (until > deadline)
		until = deadline;
	for (;;) {
		int waiting = 0;

		for (i = 0; i < count; i++)
			waiting += cases[i].state == C_TIMEDOUT;
		if (waiting == 0 || stopped || refused || mono_ms() >= until)
			break;
		wait_a_little();
	}
	late = late_count;
	for (i = 0; i < count; i++)
		answered_n += cases[i].state == C_ANSWERED;
	pthread_mutex_unlock(&mu);
	if (refused)
		fprintf(stderr, "consult: %s: %s\n", addr, refused_why);
	cascade_close(h);
	lost = sent - answered_n - late;
	if (!quiet && nr > 0) {
		qsort(rtts, (size_t)nr, sizeof(*rtts), cmp_double);
		printf("rtt ms: min %.1f  median %.1f  p99 %.1f  max %.1f\n", rtts[0], rtts[nr / 2],
		    rtts[(nr * 99) / 100 < nr ? (nr * 99) / 100 : nr - 1], rtts[nr - 1]);
	}
	printf("sent %ld answered %ld lost %ld late %ld\n", sent, answered_n, lost, late);
	for (i = 0; i < count; i++)
		cascade_packet_free(cases[i].answer);
	free(cases);
	free(rtts);
	return answered_n == count ? 0 : 1;
}

/* ------------------------------------------------------------------ main */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: consult expert -u URL -a ADDR -s SECRET [-c CA] [-S STATEDIR] [-n N] "
	    "[-T SECONDS] [-v]\n"
	    "       consult clinic -u URL -a ADDR -s SECRET -t EXPERT [-c CA] [-S STATEDIR] "
	    "[-n N]\n"
	    "                      [-p K] [-w SECONDS] [-T SECONDS] [--quiet] [-v]\n");
	exit(2);
}

static int64_t
seconds(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0) || v > 86400)
		usage();
	return (int64_t)(v * 1000);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa;
	const char *role;
	char *end;
	int ch;

	if (argc < 2)
		usage();
	role = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "u:a:s:c:S:t:n:p:w:T:qv", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'a': addr = optarg; break;
		case 's': secret = optarg; break;
		case 'c': cafile = optarg; break;
		case 'S': statedir = optarg; break;
		case 't': expert = optarg; break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count <= 0 || count > 1000000)
				usage();
			break;
		case 'p':
			window = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || window <= 0 || window > 1000)
				usage();
			break;
		case 'w': wait_ms = seconds(optarg); break;
		case 'T': timeout_ms = seconds(optarg); break;
		case 'q': quiet = 1; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc || url == NULL || addr == NULL || secret == NULL)
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (strcmp(role, "expert") == 0)
		return run_expert();
	if (strcmp(role, "clinic") == 0) {
		if (expert == NULL)
			usage();
		if (count == 0)
			count = 1;
		if (wait_ms <= 0)
			wait_ms = 1;
		return run_clinic();
	}
	usage();
	return 2;
}
