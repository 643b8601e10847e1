/*
 * cancel.c — cascade cancel: cancels a packet sent with the same state
 * directory and reports the outcome.
 *
 *	cascade [options] cancel ID
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct cancelop {
	uint8_t id[CASCADE_ID_LEN], cid[CASCADE_ID_LEN];
	int have_cid, done, notice;
	cascade_packet_t *answer;
};

static struct cancelop K;

static int
cancel_ready(void)
{
	return K.done;
}

static void
cancel_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	int n = cascade_packet_notice(p);
	const uint8_t *ref = cascade_packet_ref_id(p);

	pthread_mutex_lock(&C.mu);
	if (!K.done && cascade_packet_kind(p) == CASCADE_KIND_NOTICE &&
	    ((same_id(ref, K.id) && (n == CASCADE_NOTICE_CANCELLED ||
	    n == CASCADE_NOTICE_CANCEL_TOO_LATE)) ||
	    (K.have_cid && same_id(ref, K.cid) && n != CASCADE_NOTICE_DELIVERED))) {
		/* the outcome, or news that the cancel itself went nowhere */
		K.notice = n;
		if (cascade_packet_dup(p, &K.answer) != 0)
			K.answer = NULL;
		K.done = 1;
		pthread_cond_broadcast(&C.cv);
		pthread_mutex_unlock(&C.mu);
		return;
	}
	pthread_mutex_unlock(&C.mu);
	stray(p);
}

int
cmd_cancel(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	char idt[CASCADE_ID_TEXT_LEN], cidt[CASCADE_ID_TEXT_LEN], detail[80];
	int ch, x, w, rc;
	json_t *out = NULL;

	while ((ch = getopt_long(argc, argv, CMD_SHORT, opts, NULL)) != -1) {
		if ((x = common_opt(ch, optarg)) > 0)
			return x;
		if (x != 0)
			return opt_fail(ch, argv, "cancel");
	}
	if (optind + 1 != argc)
		return usage_fail("usage: cascade cancel [options] ID");
	if (cascade_id_parse(argv[optind], K.id) != 0)
		return usage_fail("cancel %s: not a packet id", argv[optind]);
	if (C.state == NULL)
		/* only the state directory remembers where a packet of an earlier run went */
		return usage_fail("cancel needs the state directory the packet was sent with "
		    "(-S DIR or CASCADE_STATE)");
	if (C.timeout_ms < 0)
		C.timeout_ms = DEFAULT_TIMEOUT_MS;
	C.deadline = C.timeout_ms > 0 ? mono_ms() + C.timeout_ms : NEVER;
	id_text(K.id, idt);
	if ((x = cli_open(cancel_cb)) != 0)
		return x;
	pthread_mutex_lock(&C.mu);
	rc = cascade_cancel(C.h, K.id, K.cid);
	K.have_cid = rc == 0;
	pthread_mutex_unlock(&C.mu);
	if (rc == CASCADE_ENOTFOUND) {
		x = fail(EXIT_CONFIG, "cancel %s: not a packet %s sent with state directory %s", idt,
		    C.addr, C.state);
		goto done;
	}
	if (rc != 0) {
		x = fail(rc == CASCADE_ESTATE ? EXIT_CONFIG : EXIT_INTERNAL, "cancel %s: %s", idt,
		    cascade_strerror(rc));
		goto done;
	}
	id_text(K.cid, cidt);
	if (C.json)
		out = json_pack("{s:s, s:s}", "id", idt, "cancel_id", cidt);
	snprintf(detail, sizeof(detail), "cancel %s", idt);
	if ((x = custody(detail)) != 0)
		goto done;
	pthread_mutex_lock(&C.mu);
	w = wait_locked(cancel_ready);
	pthread_mutex_unlock(&C.mu);
	if (w == EXIT_REFUSED) {
		x = refused_fail();
		goto done;
	}
	if (w != EXIT_OK) {
		x = fail(EXIT_TIMEOUT, "cancel %s: no outcome within %g s", idt, timeout_s());
		goto done;
	}
	if (out != NULL) {
		json_object_set_new(out, "outcome", json_string(notice_name(K.notice)));
		if (K.answer != NULL)
			json_object_set_new(out, "notice", packet_json(K.answer));
	} else
		printf("%s %s\n", idt, notice_name(K.notice));
	if (K.notice == CASCADE_NOTICE_CANCELLED)
		x = EXIT_OK;
	else if (K.notice == CASCADE_NOTICE_CANCEL_TOO_LATE)
		x = fail(EXIT_DELIVERY, "cancel %s: too late: it was delivered already", idt);
	else
		x = fail(EXIT_DELIVERY, "cancel %s: the cancel itself is %s: %s", idt,
		    notice_name(K.notice), K.answer != NULL ? cascade_packet_text(K.answer) : "");
done:
	if (out != NULL) {
		if (x != EXIT_OK) {
			json_object_set_new(out, "exit", json_integer(x));
			json_object_set_new(out, "error", json_string(last_error));
		}
		json_line(out);
		json_decref(out);
	}
	cascade_close(C.h);
	C.h = NULL;
	cascade_packet_free(K.answer);
	return x;
}
