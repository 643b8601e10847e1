/*
 * cascadectl_replay.c — `cascadectl replay`: asks cascaded (ctl_replay.c)
 * to send journaled packets over a link again, for a peer that lost its
 * disk, or one packet again toward where it went.
 *
 *   cascadectl replay --link LINK --since T [--until T] [--json]
 *   cascadectl replay --id ID [--json]
 *
 * Exit: 0 done, 1 failed (no such link or packet, a packet whose body is
 * gone), 6 the replay went but some packets of the window could not go
 * again (bodies gone: their ids are listed); the rest as cascadectl(8).
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_query.h"
#include "cascadectl.h"

#define CMD(x) CASCADE__CTL_COMMAND__CTL_##x
#define REPLAY_WAIT_MS (10 * 60 * 1000)        /* it scans the whole event log */

static const char replay_usage_text[] =
    "usage: cascadectl replay --link LINK --since T [--until T] [--json]\n"
    "       cascadectl replay --id ID [--json]\n"
    "  LINK: the parent's or a child's node id; T as for audit (-1h, today,\n"
    "  2026-03-01T08:00:00Z, ...); see cascadectl(8)";

static json_t *
ids_json(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void
ids_print(const char *what, char **v, size_t n, uint64_t total)
{
	size_t i;

	if (n == 0)
		return;
	printf("%s:\n", what);
	for (i = 0; i < n; i++)
		printf("  %s\n", v[i]);
	if (total > n)
		printf("  ... and %" PRIu64 " more (cascadectl audit --type note names the replay)\n",
		    total - n);
}

static int
print_replay(const Cascade__CtlReply *rep, const char *link, int64_t since, int64_t until)
{
	const Cascade__CtlReplay *r = rep->replay;

	if (r == NULL)
		die(EX_FAILED, "the answer has no replay: not a cascaded of this version?");
	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "link", json_string(link));
		json_object_set_new(o, "queue", json_string(r->queue));
		json_object_set_new(o, "since_ms", json_integer(since));
		json_object_set_new(o, "until_ms", json_integer(until));
		json_object_set_new(o, "requeued", json_integer((json_int_t)r->requeued));
		json_object_set_new(o, "pruned", json_integer((json_int_t)r->pruned));
		json_object_set_new(o, "expired", json_integer((json_int_t)r->expired));
		json_object_set_new(o, "waiting", json_integer((json_int_t)r->waiting));
		json_object_set_new(o, "moved", json_integer((json_int_t)r->moved));
		json_object_set_new(o, "requeued_ids", ids_json(r->requeued_ids, r->n_requeued_ids));
		json_object_set_new(o, "pruned_ids", ids_json(r->pruned_ids, r->n_pruned_ids));
		json_object_set_new(o, "expired_ids", ids_json(r->expired_ids, r->n_expired_ids));
		json_object_set_new(o, "who", json_string(r->who));
		json_object_set_new(o, "text", json_string(rep->text));
		json_print(o);
	} else {
		printf("%s\n", rep->text);
		ids_print("not replayable, the body is gone (retention, disk room, cancel)",
		    r->pruned_ids, r->n_pruned_ids, r->pruned);
		ids_print("expired, not sent again", r->expired_ids, r->n_expired_ids, r->expired);
		if (r->requeued > 0)
			printf("recorded in the event log as \"replayed\" events by %s "
			    "(cascadectl audit --type replayed)\n", r->who);
	}
	if (r->pruned > 0)
		fprintf(stderr, "cascadectl: replay: %" PRIu64 " packet%s of the window could not "
		    "be replayed: %s body is gone from the journal\n", r->pruned,
		    r->pruned == 1 ? "" : "s", r->pruned == 1 ? "its" : "their");
	return r->pruned > 0 ? EX_PARTIAL : EX_OK;
}

static void
time_opt(const char *opt, const char *s, int64_t *out)
{
	char err[256];

	if (aq_parse_time(s, cnow_ms(), out, err, sizeof(err)) != 0)
		die(EX_USAGE, "%s %s: %s", opt, s, err);
}

int
replay_run(const char *conffile, const char *sock, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "link", required_argument, NULL, 'l' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "id", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Cascade__CtlRequest req = CASCADE__CTL_REQUEST__INIT;
	const char *link = NULL, *id = NULL;
	Cascade__CtlReply *rep;
	int64_t since = 0, until = 0;
	uint8_t idb[CID_LEN];
	char *path;
	int ch, rc = EX_OK;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': link = optarg; break;
		case 'S': time_opt("--since", optarg, &since); break;
		case 'U': time_opt("--until", optarg, &until); break;
		case 'i': id = optarg; break;
		case 'j': json = 1; break;
		case 'h':
			printf("%s\n", replay_usage_text);
			exit(EX_OK);
		default:
			die(EX_USAGE, "%s", replay_usage_text);
		}
	}
	if (optind != argc || (link == NULL) == (id == NULL))
		die(EX_USAGE, "%s", replay_usage_text);
	if (id != NULL && (since || until))
		die(EX_USAGE, "replay --id ID takes no window: it replays that one packet");
	if (id != NULL && cid_parse(id, idb) != 0)
		die(EX_USAGE, "--id %s: not a packet id (12 hex digits, '-', 20 hex digits)", id);
	if (link != NULL && since == 0)
		die(EX_USAGE, "replay --link %s needs --since T: the packets forwarded over it "
		    "since then go again (e.g. --since -1h)", link);
	if (link != NULL && until == 0)
		until = cnow_ms();
	if (link != NULL && since >= until)
		die(EX_USAGE, "--since is not before --until: no packet can match");
	req.command = CMD(REPLAY);
	req.link = (char *)(link != NULL ? link : "");
	req.arg = (char *)(id != NULL ? id : "");
	req.since_ms = since;
	req.until_ms = until;
	ask_wait_ms = REPLAY_WAIT_MS;
	path = sock != NULL ? strdup(sock) : socket_from_config(conffile);
	rep = ask_req(path, &req);
	if (link != NULL)
		rc = print_replay(rep, link, since, until);
	else if (json)
		json_print(json_pack("{s:b, s:s}", "ok", 1, "text", rep->text));
	else
		printf("%s\n", rep->text);
	cascade__ctl_reply__free_unpacked(rep, NULL);
	free(path);
	return rc;
}
