/*
 * sdk_test.c — unit tests for libcascade (client-sdk/): option validation,
 * every error code of the API and cascade_strerror(), the state
 * directory's records and persistence, the memory outbox, request/reply
 * correlation, the id map, packet accessors, and queue-full behaviour.
 * No node runs here: handles point at a port nobody listens on, so every
 * packet stays in the outbox (tests/integration/sdk.sh covers the wire).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#undef CU_TEST
#include "cu.h"
#include "sdk_int.h"

/* A url where nothing listens (port 1 on loopback is never ours). */
#define DEAD_URL "tcp://127.0.0.1:1"

static char *tmp;

static char *
path_in(const char *dir, const char *name)
{
	char *p;

	CU_ASSERT_FATAL(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static char *
write_secret(const char *name, mode_t mode)
{
	char *p = path_in(tmp, name);
	const char *hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex));
	close(fd);
	CU_ASSERT_FATAL(chmod(p, mode) == 0);
	return p;
}

static void
nop_packet(void *arg, cascade_t *h, const cascade_packet_t *p)
{
}

static void
nop_request(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
}

/* Options for DEAD_URL as fj-a/alice with a good secret. */
static cascade_options_t *
base_options(void)
{
	cascade_options_t *o;
	char *sec = write_secret("alice.secret", 0600);

	CHECK_RC(cascade_options_new(&o), cascade_strerror);
	CHECK_RC(cascade_options_set_url(o, DEAD_URL), cascade_strerror);
	CHECK_RC(cascade_options_set_client(o, "fj-a/alice"), cascade_strerror);
	CHECK_RC(cascade_options_set_secret_file(o, sec), cascade_strerror);
	free(sec);
	return o;
}

/* ------------------------------------------------------------- errors */

static void
TEST_strerror_every_code(void)
{
	static const int codes[] = { CASCADE_OK, CASCADE_EINVAL, CASCADE_ENOMEM,
	    CASCADE_EADDRESS, CASCADE_EQUEUE_FULL, CASCADE_ETIMEDOUT, CASCADE_ECLOSED,
	    CASCADE_ESECRET, CASCADE_EAUTH, CASCADE_ECARRIER, CASCADE_ESTATE, CASCADE_ETOOBIG,
	    CASCADE_EINTERNAL, CASCADE_ECALLBACK, CASCADE_ENOTFOUND, CASCADE_EUNDELIVERABLE,
	    CASCADE_EEXPIRED, CASCADE_EREJECTED, CASCADE_ECANCELLED, CASCADE_EBUSY };
	size_t n = sizeof(codes) / sizeof(codes[0]), i, k;

	/* the codes are 0, -1, -2, ... without holes, and each has its own text */
	for (i = 0; i < n; i++) {
		const char *s = cascade_strerror(codes[i]);

		CHECK_EQ(codes[i], -(int)i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT(strcmp(s, "unknown error") != 0);
		for (k = 0; k < i; k++)
			CU_ASSERT(strcmp(s, cascade_strerror(codes[k])) != 0);
	}
	CU_ASSERT_STRING_EQUAL(cascade_strerror(-(int)n), "unknown error");
	CU_ASSERT_STRING_EQUAL(cascade_strerror(1), "unknown error");
	CU_ASSERT_STRING_EQUAL(cascade_strerror(CASCADE_EQUEUE_FULL), "send queue full");
}

static void
TEST_version_and_ids(void)
{
	uint8_t a[CASCADE_ID_LEN], b[CASCADE_ID_LEN], c[CASCADE_ID_LEN];
	char t[CASCADE_ID_TEXT_LEN];
	int n = 0;

	CU_ASSERT_STRING_EQUAL(cascade_version(&n), PACKAGE_VERSION);
	CHECK_EQ(n, CASCADE_VERSION_NUMBER);
	CHECK_RC(cascade_id_new(a), cascade_strerror);
	CHECK_RC(cascade_id_new(b), cascade_strerror);
	CU_ASSERT(memcmp(a, b, CASCADE_ID_LEN) < 0);
	CHECK_EQ(cascade_id_new(NULL), CASCADE_EINVAL);
	CHECK_RC(cascade_id_format(b, t, sizeof(t)), cascade_strerror);
	CHECK_EQ(cascade_id_format(b, t, sizeof(t) - 1), CASCADE_EINVAL);
	CHECK_RC(cascade_id_parse(t, c), cascade_strerror);
	CU_ASSERT(memcmp(b, c, CASCADE_ID_LEN) == 0);
	CHECK_EQ(cascade_id_parse("nonsense", c), CASCADE_EINVAL);
	CHECK_EQ(cascade_address_check("fj-a/alice"), CASCADE_OK);
	CHECK_EQ(cascade_address_check("fj-a"), CASCADE_OK);
	CHECK_EQ(cascade_address_check("FJ/alice"), CASCADE_EADDRESS);
	CHECK_EQ(cascade_address_check(NULL), CASCADE_EINVAL);
	CU_ASSERT_STRING_EQUAL(cascade_reason_str(100), "journal full");
}

/* ------------------------------------------------------------ options */

static void
TEST_options_validation(void)
{
	static const char *good[] = { "tcp://127.0.0.1:7400", "tls+tcp://county.example:7401",
	    "tcp://[::1]:7400", "http://county.example", "https://county.example:8443/cascade",
	    "http://10.0.0.1:80/" };
	static const char *bad[] = { "", "county:7400", "ftp://x:1", "tcp://county",
	    "tcp://:7400", "tcp://h:0", "tcp://h:65536", "tcp://h:12x", "tcp://h:7400/path",
	    "tcp://[::1:7400", "tcp://[]:7400", "http://", "tls+tcp://h:" };
	cascade_options_t *o;
	char longurl[1100];
	size_t i;

	CHECK_EQ(cascade_options_new(NULL), CASCADE_EINVAL);
	CHECK_RC(cascade_options_new(&o), cascade_strerror);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (cascade_options_set_url(o, good[i]) != CASCADE_OK)
			fprintf(stderr, "refused good url %s\n", good[i]);
		CHECK_EQ(cascade_options_set_url(o, good[i]), CASCADE_OK);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cascade_options_set_url(o, bad[i]) != CASCADE_EINVAL)
			fprintf(stderr, "took bad url %s\n", bad[i]);
		CHECK_EQ(cascade_options_set_url(o, bad[i]), CASCADE_EINVAL);
	}
	memset(longurl, 'a', sizeof(longurl));
	memcpy(longurl, "tcp://", 6);
	memcpy(longurl + sizeof(longurl) - 6, ":7400", 6);
	CHECK_EQ(cascade_options_set_url(o, longurl), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_url(o, NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_url(NULL, good[0]), CASCADE_EINVAL);

	CHECK_EQ(cascade_options_set_client(o, "fj-a/alice"), CASCADE_OK);
	CHECK_EQ(cascade_options_set_client(o, "fj-a"), CASCADE_EADDRESS);   /* no client part */
	CHECK_EQ(cascade_options_set_client(o, "fj-a/Alice"), CASCADE_EADDRESS);
	CHECK_EQ(cascade_options_set_client(o, "a/b/c"), CASCADE_EADDRESS);
	CHECK_EQ(cascade_options_set_client(o, NULL), CASCADE_EINVAL);

	CHECK_EQ(cascade_options_set_secret_file(o, ""), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_secret_file(o, NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_secret_file(o, "/etc/cascade/x.secret"), CASCADE_OK);
	CHECK_EQ(cascade_options_set_ca_file(o, ""), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_ca_file(o, "/etc/cascade/ca.pem"), CASCADE_OK);
	CHECK_EQ(cascade_options_set_state_dir(o, ""), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_state_dir(o, "/var/lib/x"), CASCADE_OK);

	CHECK_EQ(cascade_options_set_carrier(o, CASCADE_CARRIER_AUTO), CASCADE_OK);
	CHECK_EQ(cascade_options_set_carrier(o, CASCADE_CARRIER_HTTP), CASCADE_OK);
	CHECK_EQ(cascade_options_set_carrier(o, 3), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_carrier(o, -1), CASCADE_EINVAL);

	CHECK_EQ(cascade_options_set_packet_cb(o, nop_packet, NULL), CASCADE_OK);
	CHECK_EQ(cascade_options_set_packet_cb(NULL, nop_packet, NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_state_cb(NULL, NULL, NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_log_cb(o, NULL, NULL, CASCADE_LOG_DEBUG), CASCADE_OK);
	CHECK_EQ(cascade_options_set_log_cb(o, NULL, NULL, CASCADE_LOG_DEBUG + 1), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_log_cb(o, NULL, NULL, -1), CASCADE_EINVAL);

	CHECK_EQ(cascade_options_set_queue_max(o, 0), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_queue_max(o, 10000001), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_queue_max(o, 1), CASCADE_OK);
	CHECK_EQ(cascade_options_set_state_size(o, (1u << 20) - 1), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_state_size(o, 1u << 20), CASCADE_OK);
	CHECK_EQ(cascade_options_set_timeout(o, 0), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_timeout(o, 86400001), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_timeout(o, 1), CASCADE_OK);
	CHECK_EQ(cascade_options_set_reply_ttl(o, -1), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_reply_ttl(o, 0), CASCADE_OK);
	CHECK_EQ(cascade_options_set_reconnect(o, 9, 100), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_reconnect(o, 200, 100), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_reconnect(o, 100, 600001), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_reconnect(o, 10, 10), CASCADE_OK);
	CHECK_EQ(cascade_options_set_dead_timeout(o, 999), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_dead_timeout(o, 600001), CASCADE_EINVAL);
	CHECK_EQ(cascade_options_set_dead_timeout(o, 1000), CASCADE_OK);
	cascade_options_free(o);
	cascade_options_free(NULL);
}

/* -------------------------------------------------------- open errors */

static void
TEST_open_errors(void)
{
	cascade_options_t *o = base_options();
	cascade_t *h = (cascade_t *)&h, *h2;
	char *loose = write_secret("loose.secret", 0644);
	char *missing = path_in(tmp, "missing.secret");
	char *file = path_in(tmp, "plainfile");
	char *state = path_in(tmp, "state-open");
	int fd;

	CHECK_EQ(cascade_open(NULL, &h), CASCADE_EINVAL);
	CHECK_EQ(cascade_open(o, NULL), CASCADE_EINVAL);

	/* required settings */
	{
		cascade_options_t *e;

		CHECK_RC(cascade_options_new(&e), cascade_strerror);
		CHECK_EQ(cascade_open(e, &h), CASCADE_EINVAL);
		CU_ASSERT_PTR_NULL(h);
		cascade_options_set_url(e, DEAD_URL);
		CHECK_EQ(cascade_open(e, &h), CASCADE_EINVAL);
		cascade_options_set_client(e, "fj-a/alice");
		CHECK_EQ(cascade_open(e, &h), CASCADE_EINVAL);  /* no secret file */
		cascade_options_free(e);
	}

	/* secrets */
	CHECK_RC(cascade_options_set_secret_file(o, loose), cascade_strerror);
	CHECK_EQ(cascade_open(o, &h), CASCADE_ESECRET);
	CHECK_RC(cascade_options_set_secret_file(o, missing), cascade_strerror);
	CHECK_EQ(cascade_open(o, &h), CASCADE_ESECRET);
	free(loose);
	loose = write_secret("good.secret", 0600);
	CHECK_RC(cascade_options_set_secret_file(o, loose), cascade_strerror);

	/* carriers */
	CHECK_RC(cascade_options_set_url(o, "https://127.0.0.1:1"), cascade_strerror);
	CHECK_EQ(cascade_open(o, &h), CASCADE_ECARRIER);    /* https without a CA file */
	CHECK_RC(cascade_options_set_url(o, DEAD_URL), cascade_strerror);
	CHECK_RC(cascade_options_set_carrier(o, CASCADE_CARRIER_HTTP), cascade_strerror);
	CHECK_EQ(cascade_open(o, &h), CASCADE_ECARRIER);    /* asks http, url is tcp */
	CHECK_RC(cascade_options_set_carrier(o, CASCADE_CARRIER_TCP), cascade_strerror);
	CHECK_RC(cascade_options_set_url(o, "tls+tcp://127.0.0.1:1"), cascade_strerror);
	CHECK_EQ(cascade_open(o, &h), CASCADE_ECARRIER);    /* tls without a CA file */
	CHECK_RC(cascade_options_set_url(o, DEAD_URL), cascade_strerror);

	/* state directories */
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CHECK_RC(cascade_options_set_state_dir(o, file), cascade_strerror);
	CHECK_EQ(cascade_open(o, &h), CASCADE_ESTATE);      /* a file, not a directory */
	CHECK_RC(cascade_options_set_state_dir(o, state), cascade_strerror);
	CHECK_RC(cascade_open(o, &h), cascade_strerror);
	CHECK_EQ(cascade_open(o, &h2), CASCADE_EBUSY);      /* in use by the first handle */
	CHECK_EQ(cascade_state(h), CASCADE_STATE_CONNECTING);   /* nobody listens */
	CHECK_RC(cascade_close(h), cascade_strerror);
	CHECK_RC(cascade_open(o, &h2), cascade_strerror);   /* free again */
	CHECK_RC(cascade_close(h2), cascade_strerror);
	CHECK_EQ(cascade_close(NULL), CASCADE_EINVAL);
	cascade_options_free(o);
	free(loose);
	free(missing);
	free(file);
	free(state);
}

/* ------------------------------------------------------ send errors */

static void
TEST_send_errors(void)
{
	cascade_options_t *o = base_options();
	cascade_t *h, *hn;
	uint8_t id[CASCADE_ID_LEN], cid[CASCADE_ID_LEN], unknown[CASCADE_ID_LEN];
	static uint8_t big[(1 << 20) + 1];
	uint64_t pending;
	struct cascade_packet notice, data;
	Cascade__Packet np = CASCADE__PACKET__INIT, dp = CASCADE__PACKET__INIT;

	CHECK_RC(cascade_open(o, &hn), cascade_strerror);   /* no packet callback */
	CHECK_RC(cascade_options_set_packet_cb(o, nop_packet, NULL), cascade_strerror);
	CHECK_RC(cascade_open(o, &h), cascade_strerror);

	CHECK_EQ(cascade_send(NULL, "fj-b/bob", "x", "p", 1, 0, 0, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, NULL, "x", "p", 1, 0, 0, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, "fj-b/bob", NULL, "p", 1, 0, 0, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, "fj-b/bob", "x", NULL, 1, 0, 0, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, "fj-b/bob", "x", "p", 1, -1, 0, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, "fj-b/bob", "x", "p", 1, 0, CASCADE_FLAG_LATE, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, "fj-b/bob", "x", "p", 1, 0, CASCADE_FLAG_DOWN, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, "fj-b/Bob", "x", "p", 1, 0, 0, id), CASCADE_EADDRESS);
	CHECK_EQ(cascade_send(h, "", "x", "p", 1, 0, 0, id), CASCADE_EADDRESS);
	CHECK_EQ(cascade_send(h, "fj-b/bob", "bad command", "p", 1, 0, 0, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, "fj-b/bob", "", "p", 1, 0, 0, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_send(h, "fj-b/bob", "x", big, sizeof(big), 0, 0, id), CASCADE_ETOOBIG);
	CHECK_RC(cascade_pending(h, &pending), cascade_strerror);
	CHECK_EQ(pending, 0);                               /* nothing went in */

	CHECK_RC(cascade_send(h, "fj-b/bob", "consult.ask", "p", 1, 60000,
	    CASCADE_FLAG_RECEIPT | CASCADE_FLAG_NOTIFY | CASCADE_FLAG_URGENT, id), cascade_strerror);
	CHECK_RC(cascade_send(h, "fj-b", "x", NULL, 0, 0, CASCADE_FLAG_NO_TTL, NULL),
	    cascade_strerror);
	CHECK_RC(cascade_pending(h, &pending), cascade_strerror);
	CHECK_EQ(pending, 2);
	CHECK_EQ(cascade_pending(h, NULL), CASCADE_EINVAL);

	/* requests need a way back */
	CHECK_EQ(cascade_request(hn, "fj-b/bob", "q", "p", 1, 1000, nop_request,
	    NULL, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_request(h, "fj-b/bob", "q", "p", 1, 1000, NULL, NULL, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_request(h, "fj-b/bob", "q", "p", 1, -1, nop_request,
	    NULL, id), CASCADE_EINVAL);

	/* replies answer data packets only */
	cid_next(unknown);
	np.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
	np.id.data = unknown;
	np.id.len = CID_LEN;
	np.src = "fj-b";
	notice.p = &np;
	notice.local_flags = 0;
	CHECK_EQ(cascade_reply(h, &notice, "r", "p", 1, NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_reply(h, NULL, "r", "p", 1, NULL), CASCADE_EINVAL);
	dp.kind = CASCADE__PACKET_KIND__KIND_DATA;
	dp.id.data = unknown;
	dp.id.len = CID_LEN;
	dp.src = "fj-b/bob";
	data.p = &dp;
	data.local_flags = 0;
	CHECK_RC(cascade_reply(h, &data, "r", "p", 1, cid), cascade_strerror);

	/* cancel needs a packet this handle sent */
	CHECK_EQ(cascade_cancel(h, unknown, cid), CASCADE_ENOTFOUND);
	CHECK_EQ(cascade_cancel(h, NULL, cid), CASCADE_EINVAL);
	CHECK_RC(cascade_cancel(h, id, cid), cascade_strerror);
	CU_ASSERT(memcmp(id, cid, CASCADE_ID_LEN) != 0);
	CHECK_RC(cascade_pending(h, &pending), cascade_strerror);
	CHECK_EQ(pending, 4);

	/* nobody listens: flush times out, and says so soon */
	CHECK_EQ(cascade_flush(h, 100), CASCADE_ETIMEDOUT);
	CHECK_EQ(cascade_flush(NULL, 100), CASCADE_EINVAL);
	CHECK_EQ(cascade_state(NULL), CASCADE_EINVAL);
	CHECK_RC(cascade_close(h), cascade_strerror);
	CHECK_RC(cascade_close(hn), cascade_strerror);
	cascade_options_free(o);
}

/* ----------------------------------------------- calls inside callbacks */

struct cbcheck {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int called, close_rc, flush_rc, send_rc, closed_seen;
};

static void
state_calls_back(void *arg, cascade_t *h, int state, const char *detail)
{
	struct cbcheck *c = arg;

	pthread_mutex_lock(&c->mu);
	if (state == CASCADE_STATE_CONNECTING && !c->called) {
		c->close_rc = cascade_close(h);
		c->flush_rc = cascade_flush(h, 10);
		c->send_rc = cascade_send(h, "fj-b/bob", "x", "p", 1, 0, 0, NULL);
		c->called = 1;
		pthread_cond_broadcast(&c->cv);
	}
	if (state == CASCADE_STATE_CLOSED)
		c->closed_seen++;
	pthread_mutex_unlock(&c->mu);
}

static int pending_closed;

static void
request_closed(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
	if (status == CASCADE_ECLOSED && reply == NULL && memcmp(id, arg, CASCADE_ID_LEN) == 0)
		pending_closed++;
}

static void
TEST_callback_rules(void)
{
	cascade_options_t *o = base_options();
	struct cbcheck c;
	cascade_t *h;
	uint8_t id[CASCADE_ID_LEN];

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	CHECK_RC(cascade_options_set_state_cb(o, state_calls_back, &c), cascade_strerror);
	CHECK_RC(cascade_options_set_packet_cb(o, nop_packet, NULL), cascade_strerror);
	CHECK_RC(cascade_open(o, &h), cascade_strerror);
	pthread_mutex_lock(&c.mu);
	while (!c.called)
		pthread_cond_wait(&c.cv, &c.mu);
	pthread_mutex_unlock(&c.mu);
	CHECK_EQ(c.close_rc, CASCADE_ECALLBACK);
	CHECK_EQ(c.flush_rc, CASCADE_ECALLBACK);
	CHECK_EQ(c.send_rc, CASCADE_OK);                    /* sending is allowed */
	/* a pending request ends with ECLOSED when the handle closes */
	pending_closed = 0;
	CHECK_RC(cascade_request(h, "fj-b/bob", "q", "p", 1, 60000, request_closed, id, id),
	    cascade_strerror);
	CHECK_RC(cascade_close(h), cascade_strerror);
	CHECK_EQ(pending_closed, 1);
	CHECK_EQ(c.closed_seen, 1);
	cascade_options_free(o);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
}

/* A request whose timeout passes with no node: ETIMEDOUT on the SDK thread. */
struct tcheck {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int status, done;
	uint8_t id[CASCADE_ID_LEN];
};

static void
request_timed_out(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
	struct tcheck *t = arg;

	pthread_mutex_lock(&t->mu);
	t->status = reply == NULL ? status : 999;
	memcpy(t->id, id, CASCADE_ID_LEN);
	t->done++;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static void
TEST_request_timeout(void)
{
	cascade_options_t *o = base_options();
	struct tcheck t;
	cascade_t *h;
	uint8_t id[CASCADE_ID_LEN];
	int64_t t0;

	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	CHECK_RC(cascade_options_set_packet_cb(o, nop_packet, NULL), cascade_strerror);
	CHECK_RC(cascade_open(o, &h), cascade_strerror);
	t0 = cmono_ms();
	CHECK_RC(cascade_request(h, "fj-b/bob", "q", "p", 1, 150, request_timed_out, &t, id),
	    cascade_strerror);
	pthread_mutex_lock(&t.mu);
	while (!t.done && cmono_ms() - t0 < 5000) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec++;
		pthread_cond_timedwait(&t.cv, &t.mu, &ts);
	}
	pthread_mutex_unlock(&t.mu);
	CHECK_EQ(t.done, 1);
	CHECK_EQ(t.status, CASCADE_ETIMEDOUT);
	CU_ASSERT(memcmp(t.id, id, CASCADE_ID_LEN) == 0);
	CU_ASSERT(cmono_ms() - t0 >= 150);
	CHECK_RC(cascade_close(h), cascade_strerror);
	CHECK_EQ(t.done, 1);                                /* not called again at close */
	cascade_options_free(o);
	pthread_mutex_destroy(&t.mu);
	pthread_cond_destroy(&t.cv);
}

/* --------------------------------------------------------- queue full */

static void
TEST_queue_full(void)
{
	cascade_options_t *o = base_options();
	char *state = path_in(tmp, "state-full");
	static uint8_t chunk[200 * 1024];
	cascade_t *h;
	uint64_t pending;
	int i, rc;

	/* memory: the bound holds */
	CHECK_RC(cascade_options_set_queue_max(o, 5), cascade_strerror);
	CHECK_RC(cascade_open(o, &h), cascade_strerror);
	for (i = 0; i < 5; i++)
		CHECK_RC(cascade_send(h, "fj-b/bob", "x", "p", 1, 0, 0, NULL), cascade_strerror);
	CHECK_EQ(cascade_send(h, "fj-b/bob", "x", "p", 1, 0, 0, NULL), CASCADE_EQUEUE_FULL);
	CHECK_EQ(cascade_request(h, "fj-b/bob", "x", "p", 1, 0, request_closed, NULL, NULL),
	    CASCADE_EINVAL);                                /* no packet callback */
	CHECK_RC(cascade_pending(h, &pending), cascade_strerror);
	CHECK_EQ(pending, 5);
	CHECK_RC(cascade_close(h), cascade_strerror);

	/* a state directory is not bound by queue_max, only by its map */
	CHECK_RC(cascade_options_set_state_dir(o, state), cascade_strerror);
	CHECK_RC(cascade_options_set_state_size(o, 1u << 20), cascade_strerror);
	CHECK_RC(cascade_open(o, &h), cascade_strerror);
	for (i = 0; i < 20; i++)
		CHECK_RC(cascade_send(h, "fj-b/bob", "x", "p", 1, 0, 0, NULL), cascade_strerror);
	for (i = 0, rc = 0; i < 20 && rc == 0; i++)
		rc = cascade_send(h, "fj-b/bob", "x", chunk, sizeof(chunk), 0, 0, NULL);
	CHECK_EQ(rc, CASCADE_EQUEUE_FULL);                  /* the 1 MiB map is full */
	CU_ASSERT(i > 1 && i < 8);
	CHECK_RC(cascade_pending(h, &pending), cascade_strerror);
	CHECK_EQ(pending, 20 + (uint64_t)i - 1);
	CHECK_RC(cascade_close(h), cascade_strerror);
	/* what went in is still there for the next handle */
	CHECK_RC(cascade_open(o, &h), cascade_strerror);
	CHECK_RC(cascade_pending(h, &pending), cascade_strerror);
	CHECK_EQ(pending, 20 + (uint64_t)i - 1);
	CHECK_RC(cascade_close(h), cascade_strerror);
	cascade_options_free(o);
	free(state);
}

/* ------------------------------------------------------ state records */

static void
TEST_state_records(void)
{
	uint8_t buf[64], u[8];
	const uint8_t *pkt;
	char dst[CADDR_TEXT_MAX + 1];
	size_t len, n;
	int64_t ms;
	int state;

	srec_u64_put(u, 0x0102030405060708ULL);
	CU_ASSERT(u[0] == 1 && u[7] == 8);          /* big-endian: keys sort by number */
	CU_ASSERT(srec_u64_get(u) == 0x0102030405060708ULL);

	n = srec_outbox_encode(buf, 1700000000123LL, (const uint8_t *)"packet", 6);
	CHECK_EQ(n, SREC_OUTBOX_HDR + 6);
	CHECK_EQ(buf[0], SREC_VERSION);
	CHECK_RC(srec_outbox_decode(buf, n, &ms, &pkt, &len), cascade_strerror);
	CHECK_EQ(ms, 1700000000123LL);
	CHECK_EQ(len, 6);
	CU_ASSERT(memcmp(pkt, "packet", 6) == 0);
	n = srec_outbox_encode(buf, 5, NULL, 0);    /* an empty packet is still a record */
	CHECK_RC(srec_outbox_decode(buf, n, &ms, &pkt, &len), cascade_strerror);
	CHECK_EQ(len, 0);
	CHECK_EQ(srec_outbox_decode(buf, SREC_OUTBOX_HDR - 1, &ms, &pkt, &len), CASCADE_ESTATE);
	buf[0] = SREC_VERSION + 1;                  /* from a newer libcascade */
	CHECK_EQ(srec_outbox_decode(buf, n, &ms, &pkt, &len), CASCADE_ESTATE);
	buf[0] = 0;
	CHECK_EQ(srec_outbox_decode(buf, n, &ms, &pkt, &len), CASCADE_ESTATE);

	srec_seen_encode(buf, SEEN_HANDING, 42);
	CHECK_RC(srec_seen_decode(buf, SREC_SEEN_LEN, &state, &ms), cascade_strerror);
	CHECK_EQ(state, SEEN_HANDING);
	CHECK_EQ(ms, 42);
	srec_seen_encode(buf, SEEN_DELIVERED, -7);
	CHECK_RC(srec_seen_decode(buf, SREC_SEEN_LEN, &state, &ms), cascade_strerror);
	CHECK_EQ(state, SEEN_DELIVERED);
	CHECK_EQ(ms, -7);
	CHECK_EQ(srec_seen_decode(buf, SREC_SEEN_LEN - 1, &state, &ms), CASCADE_ESTATE);
	buf[1] = 9;                                 /* no such state */
	CHECK_EQ(srec_seen_decode(buf, SREC_SEEN_LEN, &state, &ms), CASCADE_ESTATE);

	n = srec_sent_encode(buf, "fj-b/bob");
	CHECK_EQ(n, 9);
	CHECK_RC(srec_sent_decode(buf, n, dst, sizeof(dst)), cascade_strerror);
	CU_ASSERT_STRING_EQUAL(dst, "fj-b/bob");
	CHECK_EQ(srec_sent_decode(buf, n, dst, 8), CASCADE_ESTATE);   /* no room for the NUL */
	CHECK_EQ(srec_sent_decode(buf, 1, dst, sizeof(dst)), CASCADE_ESTATE);
	buf[3] = '\0';
	CHECK_EQ(srec_sent_decode(buf, n, dst, sizeof(dst)), CASCADE_ESTATE);
}

/* Makes an id born at ms (milliseconds since the epoch). */
static void
id_at(uint8_t id[CID_LEN], int64_t ms, uint8_t tail)
{
	int i;

	memset(id, tail, CID_LEN);
	for (i = 5; i >= 0; i--) {
		id[i] = (uint8_t)ms;
		ms >>= 8;
	}
}

/* The same checks on both backends. */
static void
store_roundtrip(const char *dir)
{
	struct store *s;
	struct sentry e[8];
	uint8_t id1[CID_LEN], id2[CID_LEN], id3[CID_LEN], old[CID_LEN];
	char err[256], dst[64];
	uint64_t seq, last, acked, epoch;
	unsigned n;
	int state;

	cid_next(id1);
	cid_next(id2);
	cid_next(id3);
	CHECK_RC(store_open(&s, dir, 1u << 20, 100, err, sizeof(err)), cascade_strerror);
	CU_ASSERT(s->epoch != 0);
	epoch = s->epoch;
	CHECK_RC(store_put(s, id1, "fj-b/bob", (const uint8_t *)"one", 3, 1000, &seq),
	    cascade_strerror);
	CHECK_EQ(seq, 1);
	CHECK_RC(store_put(s, id2, "fj-c/carol", (const uint8_t *)"two", 3, 2000, &seq),
	    cascade_strerror);
	CHECK_EQ(seq, 2);
	CHECK_RC(store_put(s, id3, "fj-b", (const uint8_t *)"three", 5, 3000, &seq),
	    cascade_strerror);
	CHECK_EQ(seq, 3);
	store_counters(s, &last, &acked);
	CHECK_EQ(last, 3);
	CHECK_EQ(acked, 0);

	CHECK_RC(store_peek(s, 2, 8, 1 << 20, e, &n), cascade_strerror);
	CHECK_EQ(n, 2);
	CHECK_EQ(e[0].seq, 2);
	CHECK_EQ(e[0].enq_ms, 2000);
	CU_ASSERT(e[0].len == 3 && memcmp(e[0].buf, "two", 3) == 0);
	CHECK_EQ(e[1].seq, 3);
	store_entries_free(e, n);
	CHECK_RC(store_peek(s, 1, 8, 4, e, &n), cascade_strerror);
	CHECK_EQ(n, 1);                             /* maxbytes: at least one, then the limit */
	store_entries_free(e, n);
	CHECK_RC(store_peek(s, 4, 8, 1 << 20, e, &n), cascade_strerror);
	CHECK_EQ(n, 0);

	CHECK_RC(store_ack(s, 2), cascade_strerror);
	store_counters(s, &last, &acked);
	CHECK_EQ(acked, 2);
	CHECK_RC(store_peek(s, 1, 8, 1 << 20, e, &n), cascade_strerror);
	CHECK_EQ(n, 1);                             /* acked entries are gone */
	CHECK_EQ(e[0].seq, 3);
	store_entries_free(e, n);

	CHECK_RC(store_seen_get(s, id1, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_NONE);
	CHECK_RC(store_seen_put(s, NULL, id1, 10), cascade_strerror);
	CHECK_RC(store_seen_get(s, id1, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_HANDING);
	CHECK_RC(store_seen_put(s, id1, id2, 11), cascade_strerror);
	CHECK_RC(store_seen_get(s, id1, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_DELIVERED);
	CHECK_RC(store_seen_get(s, id2, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_HANDING);

	CHECK_RC(store_sent_dst(s, id2, dst, sizeof(dst)), cascade_strerror);
	CU_ASSERT_STRING_EQUAL(dst, "fj-c/carol");
	cid_next(old);
	CHECK_EQ(store_sent_dst(s, old, dst, sizeof(dst)), CASCADE_ENOTFOUND);

	if (dir == NULL) {
		store_close(s);
		return;
	}
	/* everything survives a close and open */
	store_close(s);
	CHECK_RC(store_open(&s, dir, 1u << 20, 100, err, sizeof(err)), cascade_strerror);
	CU_ASSERT(s->epoch == epoch);
	store_counters(s, &last, &acked);
	CHECK_EQ(last, 3);
	CHECK_EQ(acked, 2);
	CHECK_RC(store_peek(s, 3, 8, 1 << 20, e, &n), cascade_strerror);
	CHECK_EQ(n, 1);
	CU_ASSERT(e[0].seq == 3 && e[0].enq_ms == 3000 && e[0].len == 5 &&
	    memcmp(e[0].buf, "three", 5) == 0);
	store_entries_free(e, n);
	CHECK_RC(store_seen_get(s, id1, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_DELIVERED);
	CHECK_RC(store_seen_get(s, id2, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_HANDING);
	CHECK_RC(store_sent_dst(s, id3, dst, sizeof(dst)), cascade_strerror);
	CU_ASSERT_STRING_EQUAL(dst, "fj-b");

	/* the node's mark beyond our numbering: numbering continues after it */
	CHECK_RC(store_skip(s, 11), cascade_strerror);
	CHECK_RC(store_ack(s, 10), cascade_strerror);
	CHECK_RC(store_put(s, id1, "fj-b/bob", (const uint8_t *)"x", 1, 4000, &seq),
	    cascade_strerror);
	CHECK_EQ(seq, 11);

	/* pruning forgets old ids only */
	id_at(old, cnow_ms() - SDK_KEEP_IDS_MS - 1000, 0x11);
	CHECK_RC(store_seen_put(s, old, NULL, 5), cascade_strerror);
	CHECK_RC(store_seen_get(s, old, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_DELIVERED);
	CHECK_RC(store_prune(s, cnow_ms() - SDK_KEEP_IDS_MS), cascade_strerror);
	CHECK_RC(store_seen_get(s, old, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_NONE);
	CHECK_RC(store_seen_get(s, id1, &state), cascade_strerror);
	CHECK_EQ(state, SEEN_DELIVERED);
	store_close(s);
}

static void
TEST_state_dir_roundtrip(void)
{
	char *dir = path_in(tmp, "state-rt"), *dir2 = path_in(tmp, "state-rt2");
	struct store *a, *b;
	char err[256];

	store_roundtrip(dir);
	/* a new directory is a new stream */
	CHECK_RC(store_open(&a, dir, 1u << 20, 100, err, sizeof(err)), cascade_strerror);
	CHECK_RC(store_open(&b, dir2, 1u << 20, 100, err, sizeof(err)), cascade_strerror);
	CU_ASSERT(a->epoch != b->epoch);
	store_close(b);
	/* one user at a time */
	CHECK_EQ(store_open(&b, dir, 1u << 20, 100, err, sizeof(err)), CASCADE_EBUSY);
	CU_ASSERT(strstr(err, "in use by another handle in this process") != NULL);
	store_close(a);
	free(dir);
	free(dir2);
}

static void
TEST_memory_store(void)
{
	struct store *s;
	struct sentry e[4];
	uint8_t id[CID_LEN];
	char err[256];
	uint64_t seq, last, acked;
	unsigned n;
	int i;

	store_roundtrip(NULL);
	CHECK_RC(store_open(&s, NULL, 0, 100, err, sizeof(err)), cascade_strerror);
	/* the ring grows past its first size and keeps order across the wrap */
	for (i = 1; i <= 100; i++) {
		cid_next(id);
		CHECK_RC(store_put(s, id, "fj-b/bob", (const uint8_t *)&i, sizeof(i), i, &seq),
		    cascade_strerror);
		CHECK_EQ(seq, (uint64_t)i);
	}
	cid_next(id);
	CHECK_EQ(store_put(s, id, "fj-b/bob", (const uint8_t *)"x", 1, 0, &seq), CASCADE_EQUEUE_FULL);
	CHECK_RC(store_ack(s, 60), cascade_strerror);
	for (i = 101; i <= 150; i++)
		CHECK_RC(store_put(s, id, "fj-b/bob", (const uint8_t *)&i, sizeof(i), i, &seq),
		    cascade_strerror);
	CHECK_RC(store_peek(s, 99, 4, 1 << 20, e, &n), cascade_strerror);
	CHECK_EQ(n, 4);
	for (i = 0; i < 4; i++) {
		int v;

		memcpy(&v, e[i].buf, sizeof(v));
		CHECK_EQ(e[i].seq, 99 + (uint64_t)i);
		CHECK_EQ(v, 99 + i);
	}
	store_entries_free(e, n);
	CHECK_RC(store_ack(s, 1000), cascade_strerror);     /* beyond: capped at the last */
	store_counters(s, &last, &acked);
	CHECK_EQ(last, 150);
	CHECK_EQ(acked, 150);
	store_close(s);
}

/* ------------------------------------------------------ correlation */

static int cb_hits;

static void
count_cb(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
	cb_hits++;
}

static void
TEST_request_correlation(void)
{
	struct reqs r;
	struct preq *q;
	uint8_t a[CID_LEN], b[CID_LEN], c[CID_LEN], d[CID_LEN], other[CID_LEN];
	Cascade__Packet p = CASCADE__PACKET__INIT;
	int status, late, foreign;
	char longdst[CADDR_TEXT_MAX + 2];

	cid_next(a);
	cid_next(b);
	cid_next(c);
	cid_next(d);
	cid_next(other);
	CHECK_RC(reqs_init(&r, 2), cascade_strerror);
	CHECK_EQ(reqs_next_deadline(&r), INT64_MAX);
	/* deadlines out of order: the list keeps them sorted */
	CHECK_RC(reqs_add(&r, a, "n1/bob", 300, count_cb, NULL), cascade_strerror);
	CHECK_RC(reqs_add(&r, b, "n1/bob", 100, count_cb, NULL), cascade_strerror);
	CHECK_RC(reqs_add(&r, c, "n1/bob", 200, count_cb, NULL), cascade_strerror);
	CHECK_RC(reqs_add(&r, d, "n1/bob", 400, count_cb, NULL), cascade_strerror);
	CHECK_EQ(reqs_add(&r, a, "n1/bob", 500, count_cb, NULL), CASCADE_EINVAL);    /* pending already */
	CHECK_EQ(reqs_count(&r), 4);
	CHECK_EQ(reqs_next_deadline(&r), 100);

	/* a reply matches by reply_to, and only from the request's dst */
	p.kind = CASCADE__PACKET_KIND__KIND_DATA;
	p.reply_to.data = c;
	p.reply_to.len = CID_LEN;
	p.src = "n1/eve";
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	CHECK_EQ(foreign, 1);
	p.src = "n1";
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	CHECK_EQ(foreign, 1);
	CHECK_EQ(reqs_count(&r), 4);                /* still waiting for bob */
	p.src = "n1/bob";
	q = reqs_match(&r, &p, &status, &late, &foreign);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT(memcmp(q->id, c, CID_LEN) == 0);
	CHECK_EQ(status, CASCADE_OK);
	CHECK_EQ(late, 0);
	CHECK_EQ(foreign, 0);
	free(q);
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));     /* answered once only */
	CHECK_EQ(late, 0);
	/* a packet that answers nothing we asked, or nothing at all */
	p.reply_to.data = other;
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	p.reply_to.len = 0;
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	p.reply_to.data = a;
	p.reply_to.len = 8;                         /* malformed: not an id */
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));

	/* a receipt does not end a request; an undeliverable notice does */
	memset(&p, 0, sizeof(p));
	cascade__packet__init(&p);
	p.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
	p.notice = CASCADE__NOTICE_CODE__NOTICE_DELIVERED;
	p.ref_id.data = a;
	p.ref_id.len = CID_LEN;
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	CHECK_EQ(reqs_count(&r), 3);
	p.notice = CASCADE__NOTICE_CODE__NOTICE_UNDELIVERABLE;
	q = reqs_match(&r, &p, &status, &late, &foreign);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT(memcmp(q->id, a, CID_LEN) == 0);
	CHECK_EQ(status, CASCADE_EUNDELIVERABLE);
	free(q);
	CHECK_EQ(sdk_notice_status(CASCADE__NOTICE_CODE__NOTICE_EXPIRED), CASCADE_EEXPIRED);
	CHECK_EQ(sdk_notice_status(CASCADE__NOTICE_CODE__NOTICE_REJECTED), CASCADE_EREJECTED);
	CHECK_EQ(sdk_notice_status(CASCADE__NOTICE_CODE__NOTICE_CANCELLED), CASCADE_ECANCELLED);
	CHECK_EQ(sdk_notice_status(CASCADE__NOTICE_CODE__NOTICE_CANCEL_TOO_LATE), 0);
	/* a delay warning is news: the request keeps waiting */
	CHECK_EQ(sdk_notice_status(CASCADE__NOTICE_CODE__NOTICE_DELAYED), 0);
	/* notices are believed only from a bare node address */
	p.src = "n1";
	CHECK_EQ(sdk_notice_from_node(&p), 1);
	p.src = "n1/eve";
	CHECK_EQ(sdk_notice_from_node(&p), 0);
	p.src = "N1//x";
	CHECK_EQ(sdk_notice_from_node(&p), 0);
	p.src = NULL;
	CHECK_EQ(sdk_notice_from_node(&p), 0);
	memset(longdst, 'a', sizeof(longdst) - 1);
	longdst[sizeof(longdst) - 1] = '\0';
	CHECK_EQ(reqs_add(&r, other, longdst, 1, count_cb, NULL), CASCADE_EINVAL);

	/* timeouts, earliest first; their answers are late */
	CU_ASSERT_PTR_NULL(reqs_expired(&r, 99));
	q = reqs_expired(&r, 250);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT(memcmp(q->id, b, CID_LEN) == 0);
	free(q);
	CU_ASSERT_PTR_NULL(reqs_expired(&r, 250));
	CHECK_EQ(reqs_next_deadline(&r), 400);
	memset(&p, 0, sizeof(p));
	cascade__packet__init(&p);
	p.kind = CASCADE__PACKET_KIND__KIND_DATA;
	p.reply_to.data = b;
	p.reply_to.len = CID_LEN;
	p.src = "n1/eve";                           /* not late: not an answer at all */
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	CHECK_EQ(late, 0);
	CHECK_EQ(foreign, 1);
	p.src = "n1/bob";
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	CHECK_EQ(late, 1);
	/* the late set is bounded (2 here): the oldest is forgotten */
	q = reqs_expired(&r, 1000);
	free(q);
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	CHECK_EQ(late, 1);
	CHECK_EQ(reqs_count(&r), 0);
	CHECK_RC(reqs_add(&r, a, "n1/bob", 10, count_cb, NULL), cascade_strerror);
	q = reqs_expired(&r, 10);
	free(q);
	CU_ASSERT_PTR_NULL(reqs_match(&r, &p, &status, &late, &foreign));
	CHECK_EQ(late, 0);                          /* b fell out of the late set */

	/* removal, and pop for close */
	CHECK_RC(reqs_add(&r, c, "n1/bob", 10, count_cb, NULL), cascade_strerror);
	CHECK_RC(reqs_add(&r, d, "n1/bob", 5, count_cb, NULL), cascade_strerror);
	q = reqs_remove(&r, c);
	CU_ASSERT(q != NULL && memcmp(q->id, c, CID_LEN) == 0);
	free(q);
	CU_ASSERT_PTR_NULL(reqs_remove(&r, c));
	q = reqs_pop(&r);
	CU_ASSERT(q != NULL && memcmp(q->id, d, CID_LEN) == 0);
	free(q);
	CU_ASSERT_PTR_NULL(reqs_pop(&r));
	CHECK_RC(reqs_add(&r, c, "n1/bob", 10, count_cb, NULL), cascade_strerror);
	reqs_fini(&r);                              /* frees what is left, calls nobody */
	CHECK_EQ(cb_hits, 0);
}

/* ---------------------------------------------------------------- idmap */

static void
TEST_idmap_bounded(void)
{
	struct idmap *m;
	uint8_t ids[6][CID_LEN];
	void *v;
	int i;

	CHECK_EQ(idmap_new(&m, 0, NULL), CASCADE_EINVAL);
	CHECK_RC(idmap_new(&m, 4, free), cascade_strerror);
	for (i = 0; i < 6; i++)
		cid_next(ids[i]);
	for (i = 0; i < 4; i++)
		CHECK_RC(idmap_put(m, ids[i], strdup("v")), cascade_strerror);
	CHECK_EQ(idmap_count(m), 4);
	/* replacing makes it the newest: ids[0] survives the next eviction */
	CHECK_RC(idmap_put(m, ids[0], strdup("w")), cascade_strerror);
	CHECK_EQ(idmap_count(m), 4);
	CHECK_RC(idmap_put(m, ids[4], strdup("x")), cascade_strerror);
	CHECK_EQ(idmap_count(m), 4);
	CU_ASSERT(!idmap_get(m, ids[1], NULL));     /* the oldest went */
	CU_ASSERT(idmap_get(m, ids[0], &v));
	CU_ASSERT_STRING_EQUAL(v, "w");
	CU_ASSERT(idmap_take(m, ids[2], &v));
	free(v);
	CU_ASSERT(!idmap_take(m, ids[2], &v));
	CHECK_EQ(idmap_count(m), 3);
	CHECK_RC(idmap_put(m, ids[5], NULL), cascade_strerror);
	CU_ASSERT(idmap_get(m, ids[5], &v) && v == NULL);
	idmap_free(m);                              /* frees the values left */
}

/* ----------------------------------------------------- packet accessors */

static void
TEST_packet_accessors(void)
{
	Cascade__Packet p = CASCADE__PACKET__INIT;
	Cascade__Hop h1 = CASCADE__HOP__INIT, h2 = CASCADE__HOP__INIT, *hops[2] = { &h1, &h2 };
	struct cascade_packet pk = { &p, CASCADE_FLAG_REDELIVERY };
	cascade_packet_t *copy;
	uint8_t id[CID_LEN], ref[CID_LEN];
	const char *node;
	size_t len;
	int64_t at;
	uint32_t held;
	int down;

	cid_next(id);
	cid_next(ref);
	p.version = 1;
	p.id.data = id;
	p.id.len = CID_LEN;
	p.src = "fj-b";
	p.dst = "fj-a/alice";
	p.kind = CASCADE__PACKET_KIND__KIND_NOTICE;
	p.notice = CASCADE__NOTICE_CODE__NOTICE_REJECTED;
	p.reason = 5;
	p.text = "too big";
	p.ref_id.data = ref;
	p.ref_id.len = CID_LEN;
	p.flags = CASCADE__PACKET_FLAG__FLAG_DOWN | CASCADE__PACKET_FLAG__FLAG_NO_TTL;
	p.ttl_ms = 1234;
	h1.node = "fj-b";
	h1.arrived_ms = 1000;
	h1.held_ms = 3;
	h2.node = "fj";
	h2.leg = 1;
	h2.arrived_ms = 1005;
	p.trace = hops;
	p.n_trace = 2;

	CU_ASSERT(memcmp(cascade_packet_id(&pk), id, CID_LEN) == 0);
	CU_ASSERT_STRING_EQUAL(cascade_packet_src(&pk), "fj-b");
	CU_ASSERT_STRING_EQUAL(cascade_packet_dst(&pk), "fj-a/alice");
	CU_ASSERT_STRING_EQUAL(cascade_packet_command(&pk), "");
	CU_ASSERT_PTR_NOT_NULL(cascade_packet_payload(&pk, &len));
	CHECK_EQ(len, 0);
	CHECK_EQ(cascade_packet_flags(&pk), CASCADE_FLAG_DOWN | CASCADE_FLAG_NO_TTL |
	    CASCADE_FLAG_REDELIVERY);
	CHECK_EQ(cascade_packet_kind(&pk), CASCADE_KIND_NOTICE);
	CHECK_EQ(cascade_packet_notice(&pk), CASCADE_NOTICE_REJECTED);
	CHECK_EQ(cascade_packet_reason(&pk), 5);
	CU_ASSERT_STRING_EQUAL(cascade_reason_str(cascade_packet_reason(&pk)), creason_str(5));
	CU_ASSERT_STRING_EQUAL(cascade_packet_text(&pk), "too big");
	CU_ASSERT(memcmp(cascade_packet_ref_id(&pk), ref, CID_LEN) == 0);
	CU_ASSERT_PTR_NULL(cascade_packet_reply_to(&pk));
	CHECK_EQ(cascade_packet_ttl(&pk), 0);       /* NO_TTL */
	CHECK_EQ(cascade_packet_hops(&pk), 2);
	CHECK_RC(cascade_packet_hop(&pk, 1, &node, &down, &at, &held), cascade_strerror);
	CU_ASSERT_STRING_EQUAL(node, "fj");
	CHECK_EQ(down, 1);
	CHECK_EQ(at, 1005);
	CHECK_RC(cascade_packet_hop(&pk, 0, NULL, &down, NULL, &held), cascade_strerror);
	CHECK_EQ(down, 0);
	CHECK_EQ(held, 3);
	CHECK_EQ(cascade_packet_hop(&pk, 2, &node, NULL, NULL, NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_packet_hop(NULL, 0, &node, NULL, NULL, NULL), CASCADE_EINVAL);
	CU_ASSERT_PTR_NULL(cascade_packet_id(NULL));
	CHECK_EQ(cascade_packet_flags(NULL), 0);

	/* a copy outlives the original and keeps the local flags */
	CHECK_RC(cascade_packet_dup(&pk, &copy), cascade_strerror);
	p.text = "changed";
	CU_ASSERT_STRING_EQUAL(cascade_packet_text(copy), "too big");
	CHECK_EQ(cascade_packet_flags(copy), cascade_packet_flags(&pk));
	CHECK_EQ(cascade_packet_hops(copy), 2);
	CU_ASSERT(memcmp(cascade_packet_ref_id(copy), ref, CID_LEN) == 0);
	cascade_packet_free(copy);
	cascade_packet_free(NULL);
	CHECK_EQ(cascade_packet_dup(NULL, &copy), CASCADE_EINVAL);

	p.kind = CASCADE__PACKET_KIND__KIND_DATA;
	p.flags = 0;
	p.payload.data = (uint8_t *)"hello";
	p.payload.len = 5;
	CHECK_EQ(cascade_packet_notice(&pk), 0);    /* data packets carry no notice */
	CHECK_EQ(cascade_packet_ttl(&pk), 1234);
	CU_ASSERT(memcmp(cascade_packet_payload(&pk, &len), "hello", 5) == 0);
	CHECK_EQ(len, 5);
}

/* ------------------------------------ last error, request flags, pause */

static void
TEST_last_error_flags_pause(void)
{
	cascade_options_t *o = base_options();
	cascade_t *h;
	char why[512], small[8];
	uint8_t id[CASCADE_ID_LEN];

	CHECK_RC(cascade_options_set_packet_cb(o, nop_packet, NULL), cascade_strerror);
	CHECK_RC(cascade_open(o, &h), cascade_strerror);
	cascade_options_free(o);
	CHECK_EQ(cascade_last_error(NULL, why, sizeof(why)), CASCADE_EINVAL);
	CHECK_EQ(cascade_last_error(h, NULL, sizeof(why)), CASCADE_EINVAL);
	CHECK_EQ(cascade_last_error(h, why, 0), CASCADE_EINVAL);
	CHECK_RC(cascade_last_error(h, why, sizeof(why)), cascade_strerror);
	/* the detail behind EADDRESS names the destination */
	CHECK_EQ(cascade_send(h, "Not An/Address", "x", NULL, 0, 1000, 0, id), CASCADE_EADDRESS);
	CHECK_RC(cascade_last_error(h, why, sizeof(why)), cascade_strerror);
	CU_ASSERT(strstr(why, "\"Not An/Address\" is not a valid address") != NULL);
	/* truncated to fit, NUL-terminated */
	CHECK_RC(cascade_last_error(h, small, sizeof(small)), cascade_strerror);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	/* a success does not clear it */
	CHECK_RC(cascade_send(h, "fj-b/bob", "x", NULL, 0, 1000, 0, id), cascade_strerror);
	CHECK_RC(cascade_last_error(h, small, sizeof(small)), cascade_strerror);
	CU_ASSERT(strncmp(small, "destina", 7) == 0);

	/* request flags: the send flags, nothing else */
	CHECK_RC(cascade_request_flags(h, "fj-b/bob", "ask", "q", 1, 5000, 5000,
	    CASCADE_FLAG_URGENT | CASCADE_FLAG_RECEIPT, nop_request, NULL, id), cascade_strerror);
	CHECK_RC(cascade_request_flags(h, "fj-b/bob", "ask", "q", 1, 5000, 5000,
	    CASCADE_FLAG_NO_TTL, nop_request, NULL, id), cascade_strerror);
	CHECK_EQ(cascade_request_flags(h, "fj-b/bob", "ask", "q", 1, 5000, 5000,
	    CASCADE_FLAG_LATE, nop_request, NULL, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_request_flags(h, "fj-b/bob", "ask", "q", 1, 5000, -1,
	    0, nop_request, NULL, id), CASCADE_EINVAL);
	CHECK_EQ(cascade_request_flags(h, "fj-b/bob", "ask", "q", 1, 5000, 5000,
	    0, NULL, NULL, id), CASCADE_EINVAL);

	/* no push refusals yet (nothing reached a node) */
	CHECK_EQ(cascade_flush_rejected(NULL, 0, id, NULL, NULL, 0), CASCADE_EINVAL);
	CHECK_EQ(cascade_flush_rejected(h, 0, id, NULL, NULL, 5), CASCADE_EINVAL);
	CHECK_EQ(cascade_flush_rejected(h, 0, id, NULL, why, sizeof(why)), CASCADE_ENOTFOUND);

	/* pause / resume: idempotent, visible through cascade_paused() */
	CHECK_EQ(cascade_pause(NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_resume(NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_paused(NULL), CASCADE_EINVAL);
	CHECK_EQ(cascade_paused(h), 0);
	CHECK_RC(cascade_pause(h), cascade_strerror);
	CHECK_RC(cascade_pause(h), cascade_strerror);
	CHECK_EQ(cascade_paused(h), 1);
	CHECK_RC(cascade_resume(h), cascade_strerror);
	CHECK_RC(cascade_resume(h), cascade_strerror);
	CHECK_EQ(cascade_paused(h), 0);
	CHECK_RC(cascade_close(h), cascade_strerror);
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_strerror_every_code),
		CU_TEST(TEST_version_and_ids),
		CU_TEST(TEST_options_validation),
		CU_TEST(TEST_open_errors),
		CU_TEST(TEST_send_errors),
		CU_TEST(TEST_callback_rules),
		CU_TEST(TEST_request_timeout),
		CU_TEST(TEST_queue_full),
		CU_TEST(TEST_state_records),
		CU_TEST(TEST_state_dir_roundtrip),
		CU_TEST(TEST_memory_store),
		CU_TEST(TEST_request_correlation),
		CU_TEST(TEST_idmap_bounded),
		CU_TEST(TEST_packet_accessors),
		CU_TEST(TEST_last_error_flags_pause),
		CU_END
	};
	int rc;

	tmp = cu_tmpdir("sdk");
	rc = cu_main("sdk", tests, argc, argv);
	cu_rmtree(tmp);
	free(tmp);
	return rc;
}
