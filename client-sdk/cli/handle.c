/*
 * handle.c — the one libcascade handle of a run: opening it with the
 * common settings, the log and state callbacks, waiting (bounded by -T,
 * ended early by a refusal) and custody.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "cli.h"

static void
log_cb(void *arg, int level, const char *msg)
{
	static const char *lv[] = { "error", "warn", "info", "debug" };

	if (C.verbose)
		fprintf(stderr, "cascade: sdk %s: %s\n", level >= 0 && level <= 3 ? lv[level] : "?",
		    msg);
	if (level == CASCADE_LOG_ERROR) {
		/* why cascade_open() failed: the error code alone does not say */
		pthread_mutex_lock(&C.mu);
		snprintf(C.open_why, sizeof(C.open_why), "%s",
		    strncmp(msg, "cascade: ", 9) == 0 ? msg + 9 : msg);
		pthread_mutex_unlock(&C.mu);
	}
}

static void
state_cb(void *arg, cascade_t *h, int state, const char *detail)
{
	int first_takeover;

	pthread_mutex_lock(&C.mu);
	first_takeover = state == CASCADE_STATE_TAKEN_OVER && C.last_state != state;
	C.last_state = state;
	snprintf(C.last_detail, sizeof(C.last_detail), "%s", detail);
	/* a handle taken over never reconnects: waiting on would wait for nothing */
	if ((state == CASCADE_STATE_REFUSED || state == CASCADE_STATE_TAKEN_OVER) && !C.refused) {
		C.refused = 1;
		snprintf(C.refused_why, sizeof(C.refused_why), "%s", detail);
	}
	pthread_cond_broadcast(&C.cv);
	pthread_mutex_unlock(&C.mu);
	if (C.verbose)
		fprintf(stderr, "cascade: state %s: %s\n", state_name(state), detail);
	else if (state == CASCADE_STATE_HELD)
		/* a temporary refusal: the sender hears it while it waits */
		fprintf(stderr, "cascade: %s; waiting\n", detail);
	else if (first_takeover)
		fprintf(stderr, "cascade: %s: another program uses this address: %s\n", C.addr,
		    detail);
	if (C.on_state != NULL)
		C.on_state(state, detail);
}

/*
 * A failed cascade_open(), in words: the library's last error line says why
 * (the code alone does not). The message names what failed (label thing)
 * once, whether or not the library's line does.
 */
static int
open_say(int code, const char *label, const char *thing, int rc)
{
	char why[512];
	size_t n = strlen(thing);

	pthread_mutex_lock(&C.mu);
	snprintf(why, sizeof(why), "%s", C.open_why);
	pthread_mutex_unlock(&C.mu);
	if (why[0] == '\0')
		return fail(code, "%s %s: %s", label, thing, cascade_strerror(rc));
	if (strncmp(why, thing, n) == 0 && strncmp(why + n, ": ", 2) == 0)
		return fail(code, "%s %s", label, why);
	if (n > 0 && strstr(why, thing) != NULL)
		return fail(code, "%s", why);
	return fail(code, "%s %s: %s", label, thing, why);
}

/* Maps an error of cascade_open() to an exit code and a message. */
static int
open_fail(int rc)
{
	switch (rc) {
	case CASCADE_ESECRET:
		return open_say(EXIT_CONFIG, "secret file", C.secret, rc);
	case CASCADE_ESTATE:
	case CASCADE_EBUSY:
		return open_say(EXIT_CONFIG, "state directory", C.state, rc);
	case CASCADE_ECARRIER:
		if (C.ca == NULL && (strncmp(C.url, "tls+", 4) == 0 ||
		    strncmp(C.url, "https:", 6) == 0))
			return fail(EXIT_CONFIG, "node %s: needs the CA file that signed its "
			    "certificate (-c FILE or CASCADE_CA)", C.url);
		return open_say(EXIT_CONFIG, "node", C.url, rc);
	case CASCADE_ENOMEM:
	case CASCADE_EINTERNAL:
		return open_say(EXIT_INTERNAL, "handle for", C.addr, rc);
	}
	return open_say(EXIT_CONFIG, "handle for", C.addr, rc);
}

/*
 * Opens C.h with the common settings and pcb as its packet callback (NULL:
 * send-only, packets for the address stay with the node). Returns an exit code.
 */
int
cli_open(cascade_packet_cb pcb)
{
	cascade_options_t *o = NULL;
	int rc, x = EXIT_OK;

	if (C.url == NULL)
		return fail(EXIT_CONFIG, "no node url: give -u URL or set CASCADE_URL");
	if (C.addr == NULL)
		return fail(EXIT_CONFIG, "no client address: give -a NODE/CLIENT or set CASCADE_ADDRESS");
	if (C.secret == NULL)
		return fail(EXIT_CONFIG, "no secret file: give -s FILE or set CASCADE_SECRET");
	if ((rc = cascade_options_new(&o)) != 0)
		return fail(EXIT_INTERNAL, "options: %s", cascade_strerror(rc));
	if ((rc = cascade_options_set_url(o, C.url)) != 0) {
		x = fail(EXIT_CONFIG, "url %s: %s", C.url, rc == CASCADE_EINVAL ? "not a node url "
		    "(tcp://, tls+tcp://, http:// or https://, then HOST:PORT)" : cascade_strerror(rc));
		goto done;
	}
	if ((rc = cascade_options_set_client(o, C.addr)) != 0) {
		x = fail(EXIT_CONFIG, "address %s: %s (NODE/CLIENT)", C.addr, cascade_strerror(rc));
		goto done;
	}
	if ((rc = cascade_options_set_secret_file(o, C.secret)) != 0) {
		x = fail(EXIT_CONFIG, "secret file %s: %s", C.secret, cascade_strerror(rc));
		goto done;
	}
	if (C.ca != NULL && (rc = cascade_options_set_ca_file(o, C.ca)) != 0) {
		x = fail(EXIT_CONFIG, "CA file %s: %s", C.ca, cascade_strerror(rc));
		goto done;
	}
	if ((C.cert != NULL) != (C.key != NULL)) {
		x = fail(EXIT_CONFIG, "--cert and --key go together");
		goto done;
	}
	if (C.cert != NULL && (rc = cascade_options_set_client_cert(o, C.cert, C.key)) != 0) {
		x = fail(EXIT_CONFIG, "client certificate %s: %s", C.cert, cascade_strerror(rc));
		goto done;
	}
	if (C.state != NULL && (rc = cascade_options_set_state_dir(o, C.state)) != 0) {
		x = fail(EXIT_CONFIG, "state directory %s: %s", C.state, cascade_strerror(rc));
		goto done;
	}
	/* a command-line run is short: come back quickly after a lost connection */
	if ((rc = cascade_options_set_reconnect(o, 50, 1000)) != 0 ||
	    (rc = cascade_options_set_state_cb(o, state_cb, NULL)) != 0 ||
	    (rc = cascade_options_set_log_cb(o, log_cb, NULL,
	    C.verbose ? CASCADE_LOG_DEBUG : CASCADE_LOG_WARN)) != 0 ||
	    (pcb != NULL && (rc = cascade_options_set_packet_cb(o, pcb, NULL)) != 0)) {
		x = fail(EXIT_INTERNAL, "options: %s", cascade_strerror(rc));
		goto done;
	}
	if ((rc = cascade_open(o, &C.h)) != 0) {
		C.h = NULL;
		x = open_fail(rc);
	}
done:
	cascade_options_free(o);
	return x;
}

/*
 * Waits (C.mu held) until ready() holds, the node refused us, a signal
 * came (listen only installs handlers) or the deadline passed.
 * Returns EXIT_OK (ready), EXIT_REFUSED, EXIT_TIMEOUT or -1 (signal).
 */
int
wait_locked(int (*ready)(void))
{
	struct timespec ts;
	int64_t now, until;

	for (;;) {
		if (ready())
			return EXIT_OK;
		if (C.refused)
			return EXIT_REFUSED;
		if (stop_signal)
			return -1;
		now = mono_ms();
		if (C.deadline != NEVER && now >= C.deadline)
			return EXIT_TIMEOUT;
		/* short slices: a signal does not wake a condition variable */
		until = now + 100;
		if (C.deadline != NEVER && C.deadline < until)
			until = C.deadline;
		clock_gettime(CLOCK_REALTIME, &ts);
		until -= now;
		ts.tv_sec += until / 1000;
		ts.tv_nsec += (long)(until % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&C.cv, &C.mu, &ts);
	}
}

int
refused_fail(void)
{
	char why[sizeof(C.refused_why)];

	pthread_mutex_lock(&C.mu);
	snprintf(why, sizeof(why), "%s", C.refused_why);
	pthread_mutex_unlock(&C.mu);
	return fail(EXIT_REFUSED, "%s: %s", C.addr, why);
}

/* What the connection was doing, for a timeout message. */
void
conn_story(char *buf, size_t len)
{
	pthread_mutex_lock(&C.mu);
	if (C.last_state == CASCADE_STATE_UP)
		snprintf(buf, len, "the session with %s is up", C.url);
	else if (C.last_state == CASCADE_STATE_HELD)
		/* detail: "the node at URL refuses packets for now: REASON" */
		snprintf(buf, len, "the session is up, but %s", C.last_detail);
	else
		snprintf(buf, len, "connection %s: %s", state_name(C.last_state),
		    C.last_detail[0] != '\0' ? C.last_detail : "no news");
	pthread_mutex_unlock(&C.mu);
}

double
timeout_s(void)
{
	return (double)C.timeout_ms / 1000.0;
}

/*
 * Waits until the node has custody of everything sent (cascade_flush() in
 * slices, so that a refusal or the deadline ends it). Returns an exit code;
 * what names the packet in messages.
 */
int
custody(const char *what)
{
	char story[600];
	int rc;

	for (;;) {
		rc = cascade_flush(C.h, left_ms() < 100 ? left_ms() : 100);
		if (rc == CASCADE_OK)
			return EXIT_OK;
		if (rc != CASCADE_ETIMEDOUT)
			return fail(EXIT_INTERNAL, "%s: flush: %s", what, cascade_strerror(rc));
		pthread_mutex_lock(&C.mu);
		rc = C.refused;
		pthread_mutex_unlock(&C.mu);
		if (rc)
			return refused_fail();
		if (left_ms() == 0) {
			conn_story(story, sizeof(story));
			return fail(EXIT_TIMEOUT, "%s: node %s has not taken custody within %g s (%s)",
			    what, C.url, timeout_s(), story);
		}
	}
}

/* The reason the node gave when it refused id at push, or NULL. */
const char *
rejected_why(const uint8_t *id, char *buf, size_t len)
{
	uint8_t rid[CASCADE_ID_LEN];
	uint32_t i;

	/*
	 * Ids are unique: the first match is the one, and only its reason is
	 * copied. Fetched again with the id, in case a newer refusal pushed the
	 * oldest out of the SDK's ring in between (then the search starts over).
	 */
	for (i = 0; cascade_flush_rejected(C.h, i, rid, NULL, NULL, 0) == 0; i++) {
		if (!same_id(rid, id))
			continue;
		if (cascade_flush_rejected(C.h, i, rid, NULL, buf, len) == 0 && same_id(rid, id))
			return buf;
		i = (uint32_t)-1;
	}
	return NULL;
}
