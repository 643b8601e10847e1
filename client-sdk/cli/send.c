/*
 * send.c — cascade send and cascade request: one packet, then custody,
 * its receipt or its reply.
 *
 *	cascade [options] send [--receipt | --wait-reply] [--ttl MS] [--urgent]
 *	    DST COMMAND [PAYLOAD | --file F | --stdin]
 *	cascade [options] request [--ttl MS] DST COMMAND [PAYLOAD | --file F | --stdin]
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct sendop {
	/* request: print only the reply; send: the id (and the reply) */
	int request, receipt, wait_reply, urgent;
	int64_t ttl_ms;                 /* -1: default */
	const char *dst, *command;
	struct payload pl;

	/* under C.mu: what the callbacks saw */
	uint8_t id[CASCADE_ID_LEN];
	int have_id;
	int done, status;               /* receipt or reply: CASCADE_OK or an error */
	cascade_packet_t *answer;       /* the reply or the notice (a copy) */
	int64_t t0, rtt_ms;
};

static struct sendop S;

static int
send_ready(void)
{
	return S.done;
}

static void
send_request_cb(void *arg, cascade_t *h, int status, const uint8_t id[CASCADE_ID_LEN],
    const cascade_packet_t *reply)
{
	pthread_mutex_lock(&C.mu);
	S.status = status;
	if (reply != NULL && cascade_packet_dup(reply, &S.answer) != 0)
		S.answer = NULL;
	S.rtt_ms = mono_ms() - S.t0;
	S.done = 1;
	pthread_cond_broadcast(&C.cv);
	pthread_mutex_unlock(&C.mu);
}

/* send --receipt, and everything a request's handle gets besides its reply. */
static void
send_packet_cb(void *arg, cascade_t *h, const cascade_packet_t *p)
{
	int st;

	pthread_mutex_lock(&C.mu);
	if (S.receipt && !S.done && S.have_id &&
	    cascade_packet_kind(p) == CASCADE_KIND_NOTICE &&
	    same_id(cascade_packet_ref_id(p), S.id) &&
	    (st = notice_status(cascade_packet_notice(p))) <= 0) {
		S.status = st;
		if (cascade_packet_dup(p, &S.answer) != 0)
			S.answer = NULL;
		S.rtt_ms = mono_ms() - S.t0;
		S.done = 1;
		pthread_cond_broadcast(&C.cv);
		pthread_mutex_unlock(&C.mu);
		return;
	}
	pthread_mutex_unlock(&C.mu);
	stray(p);
}

/* Writes a reply's payload raw to stdout (a newline added on a terminal). */
static void
print_payload(const cascade_packet_t *p)
{
	size_t len;
	const char *pl = cascade_packet_payload(p, &len);

	fwrite(pl, 1, len, stdout);
	if (isatty(STDOUT_FILENO) && (len == 0 || pl[len - 1] != '\n'))
		fputc('\n', stdout);
	fflush(stdout);
}

/* Why a reply, receipt or notice wait ended badly, for the message. */
static const char *
answer_detail(char *buf, size_t len)
{
	const char *t;

	if (S.answer == NULL || cascade_packet_kind(S.answer) != CASCADE_KIND_NOTICE) {
		buf[0] = '\0';
		return buf;
	}
	t = cascade_packet_text(S.answer);
	snprintf(buf, len, " (%s%s%s)", cascade_reason_str(cascade_packet_reason(S.answer)),
	    t[0] != '\0' ? ": " : "", t);
	return buf;
}

static int
send_run(void)
{
	char idt[CASCADE_ID_TEXT_LEN], why[256], detail[512], story[600];
	uint32_t flags = 0;
	uint64_t unacked = 1;
	int rc, x, w;
	json_t *out = NULL;

	if ((x = payload_load(&S.pl)) != 0)
		return x;
	if ((x = cli_open(S.receipt || S.wait_reply ? send_packet_cb : NULL)) != 0)
		goto done;
	if (S.urgent)
		flags |= CASCADE_FLAG_URGENT;
	if (S.receipt)
		flags |= CASCADE_FLAG_RECEIPT | CASCADE_FLAG_NOTIFY;
	/* the callbacks compare with S.id: it is set before they can look */
	pthread_mutex_lock(&C.mu);
	S.t0 = mono_ms();
	if (S.wait_reply) {
		/* the wait is -T, the ttl --ttl (by default -T): a shorter ttl ends in
		 * the expired notice, within the wait */
		int64_t t = C.timeout_ms > 0 ? C.timeout_ms : S.ttl_ms > 0 ? S.ttl_ms :
		    DEFAULT_TIMEOUT_MS;

		if (t > INT32_MAX)
			t = INT32_MAX;
		rc = cascade_request_flags(C.h, S.dst, S.command, S.pl.buf, S.pl.len, (int32_t)t,
		    S.ttl_ms >= 0 ? S.ttl_ms : t, S.urgent ? CASCADE_FLAG_URGENT : 0,
		    send_request_cb, NULL, S.id);
	} else
		rc = cascade_send(C.h, S.dst, S.command, S.pl.buf, S.pl.len,
		    S.ttl_ms > 0 ? S.ttl_ms : 0, flags, S.id);
	S.have_id = rc == 0;
	pthread_mutex_unlock(&C.mu);
	switch (rc) {
	case CASCADE_OK:
		break;
	case CASCADE_EADDRESS:
		x = usage_fail("destination %s: %s", S.dst, cascade_strerror(rc));
		goto done;
	case CASCADE_EINVAL:
		x = usage_fail("send to %s: %s", S.dst, cascade_strerror(rc));
		goto done;
	case CASCADE_ETOOBIG:
		x = fail(EXIT_DELIVERY, "send to %s: %s (%zu bytes)", S.dst, cascade_strerror(rc),
		    S.pl.len);
		goto done;
	case CASCADE_ESTATE:
	case CASCADE_EQUEUE_FULL:
		x = fail(EXIT_CONFIG, "send to %s: %s", S.dst, cascade_strerror(rc));
		goto done;
	default:
		x = fail(EXIT_INTERNAL, "send to %s: %s", S.dst, cascade_strerror(rc));
		goto done;
	}
	id_text(S.id, idt);
	if (C.json) {
		out = json_pack("{s:s, s:s, s:s}", "id", idt, "dst", S.dst, "command", S.command);
		json_object_set_new(out, "custody", json_false());
	}

	/* a request's reply implies custody; a plain send waits for it */
	if (!S.request) {
		snprintf(detail, sizeof(detail), "send %s", idt);
		if ((x = custody(detail)) != 0)
			goto done;
		if (rejected_why(S.id, why, sizeof(why)) != NULL) {
			x = fail(EXIT_DELIVERY, "send %s: rejected by node %s: %s", idt, C.url, why);
			goto done;
		}
		if (out != NULL)
			json_object_set(out, "custody", json_true());
		else {
			printf("%s\n", idt);
			fflush(stdout);
		}
	}
	if (!S.receipt && !S.wait_reply)
		goto done;

	pthread_mutex_lock(&C.mu);
	w = wait_locked(send_ready);
	pthread_mutex_unlock(&C.mu);
	if (w == EXIT_REFUSED) {
		x = refused_fail();
		goto done;
	}
	if (w != EXIT_OK) {
		cascade_pending(C.h, &unacked);
		conn_story(story, sizeof(story));
		if (unacked > 0)
			x = fail(EXIT_TIMEOUT, "%s %s: node %s has not taken custody within %g s (%s)",
			    S.request ? "request" : "send", idt, C.url, timeout_s(), story);
		else
			x = fail(EXIT_TIMEOUT, "%s %s: no %s from %s within %g s", S.request ?
			    "request" : "send", idt, S.receipt ? "receipt" : "reply", S.dst,
			    timeout_s());
		goto done;
	}
	if (out != NULL) {
		json_object_set_new(out, "rtt_ms", json_integer((json_int_t)S.rtt_ms));
		if (S.answer != NULL)
			json_object_set_new(out, S.receipt || S.status != CASCADE_OK ? "notice" :
			    "reply", packet_json(S.answer));
		if (S.receipt && S.status == CASCADE_OK)
			json_object_set_new(out, "delivered", json_true());
		if (S.status == CASCADE_OK || S.answer != NULL)
			json_object_set(out, "custody", json_true());
	}
	switch (S.status) {
	case CASCADE_OK:
		if (S.wait_reply && out == NULL)
			print_payload(S.answer);
		break;
	case CASCADE_ETIMEDOUT:
		x = fail(EXIT_TIMEOUT, "%s %s: no reply from %s within its ttl", S.request ? "request" :
		    "send", idt, S.dst);
		break;
	case CASCADE_EUNDELIVERABLE:
	case CASCADE_EEXPIRED:
	case CASCADE_EREJECTED:
	case CASCADE_ECANCELLED:
		x = fail(EXIT_DELIVERY, "%s %s to %s: %s%s", S.request ? "request" : "send", idt, S.dst,
		    cascade_strerror(S.status), answer_detail(detail, sizeof(detail)));
		break;
	default:
		x = fail(EXIT_INTERNAL, "%s %s: %s", S.request ? "request" : "send", idt,
		    cascade_strerror(S.status));
	}
done:
	if (out != NULL) {
		if (x != EXIT_OK) {
			json_object_set_new(out, "exit", json_integer(x));
			json_object_set_new(out, "error", json_string(last_error));
		}
		json_line(out);
		json_decref(out);
	}
	if (C.h != NULL)
		cascade_close(C.h);
	C.h = NULL;
	cascade_packet_free(S.answer);
	free(S.pl.buf);
	return x;
}

int
cmd_send(int argc, char **argv, int request)
{
	static const struct option send_opts[] = {
		COMMON_OPTS,
		{ "receipt", no_argument, NULL, O_RECEIPT },
		{ "wait-reply", no_argument, NULL, O_WAIT_REPLY },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "urgent", no_argument, NULL, O_URGENT },
		{ "file", required_argument, NULL, O_FILE },
		{ "stdin", no_argument, NULL, O_STDIN },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option request_opts[] = {
		COMMON_OPTS,
		{ "ttl", required_argument, NULL, O_TTL },
		{ "file", required_argument, NULL, O_FILE },
		{ "stdin", no_argument, NULL, O_STDIN },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = request ? "request" : "send";
	long long v;
	int ch, x;

	S.request = request;
	S.wait_reply = request;
	S.ttl_ms = -1;
	while ((ch = getopt_long(argc, argv, CMD_SHORT, request ? request_opts : send_opts,
	    NULL)) != -1) {
		if ((x = common_opt(ch, optarg)) > 0)
			return x;
		if (x == 0)
			continue;
		switch (ch) {
		case O_RECEIPT: S.receipt = 1; break;
		case O_WAIT_REPLY: S.wait_reply = 1; break;
		case O_URGENT: S.urgent = 1; break;
		case O_FILE: S.pl.file = optarg; break;
		case O_STDIN: S.pl.use_stdin = 1; break;
		case O_TTL:
			if ((v = parse_num(optarg, INT32_MAX)) < 0)
				return usage_fail("--ttl %s: not a number of milliseconds", optarg);
			S.ttl_ms = v;
			break;
		default:
			return opt_fail(ch, argv, name);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc > 3)
		return usage_fail("usage: cascade %s [options] DST COMMAND [PAYLOAD | --file F | "
		    "--stdin]", name);
	S.dst = argv[0];
	S.command = argv[1];
	S.pl.arg = argc == 3 ? argv[2] : NULL;
	if (S.wait_reply && S.receipt)
		/* the reply is what --wait-reply waits for; a receipt would not end it */
		return usage_fail("--wait-reply cannot be combined with --receipt");
	if (S.wait_reply && S.ttl_ms == 0)
		return usage_fail("--ttl 0 (never expires) makes no sense for a request");
	if ((x = check_dst_command(S.dst, S.command)) != 0)
		return x;
	if (C.timeout_ms < 0)
		C.timeout_ms = DEFAULT_TIMEOUT_MS;
	C.deadline = C.timeout_ms > 0 ? mono_ms() + C.timeout_ms : NEVER;
	return send_run();
}
