/*
 * cascadectl.c — the operator's tool: asks a running cascaded over its
 * control socket (control.c) and prints the answer as a table for people
 * or, with --json, as JSON for scripts.
 *
 *   cascadectl [-j] [-f config | -s socket] command [argument]
 *
 * Exit codes (cascadectl(8)): 0 done, 1 the command failed, 2 usage,
 * 3 the daemon is not running (no socket, nobody listening), 4 permission
 * denied on the socket, 5 cascadectl and cascaded speak different control
 * protocol versions, 6 a replay that could not send every packet again.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "cascadectl.h"
#include "conf.h"
#include "journal.h"
#include "log.h"
#include "packets.h"

#define CMD(x) CASCADE__CTL_COMMAND__CTL_##x
#define CTL(x) CASCADE__CTL_RESULT__CTL_##x
#define ANSWER_WAIT_MS 5000

int json;
int ask_wait_ms = ANSWER_WAIT_MS;
const char *opt_limit, *opt_after;     /* queue --limit, --after */

static const struct command {
	const char *name;
	uint32_t cmd;
	const char *arg;        /* its argument, or NULL */
} commands[] = {
	{ "status", CMD(STATUS), NULL },
	{ "links", CMD(LINKS), NULL },
	{ "clients", CMD(CLIENTS), NULL },
	{ "show", CMD(SHOW), "ID" },
	{ "cancel", CMD(CANCEL), "ID" },
	{ "pause", CMD(PAUSE), "LINK" },
	{ "resume", CMD(RESUME), "LINK" },
	{ "retry", CMD(RETRY), "LINK" },
	{ "check", CMD(CHECK), NULL },
	{ "reload", CMD(RELOAD), NULL },
};

static void usage(FILE *f, int status) __attribute__((noreturn));

static void
usage(FILE *f, int status)
{
	fprintf(f,
	    "usage: cascadectl [-j] [-f file | -s socket] command [argument]\n"
	    "  -f file     the node's configuration: its control socket (default\n"
	    "              " SYSCONFDIR "/cascade/cascade.conf)\n"
	    "  -s socket   the control socket itself\n"
	    "  -j, --json  JSON for scripts instead of tables\n"
	    "  -h, --help  this help; the manual is cascadectl(8)\n"
	    "commands:\n"
	    "  status        the node, its journal and counters\n"
	    "  links         the link to the parent and to each child\n"
	    "  clients       the clients and their inboxes\n"
	    "  show ID       where packet ID is at this node\n"
	    "  cancel ID     cancels packet ID here; its source is told\n"
	    "  pause LINK    stops sending and pulling on the parent link\n"
	    "  resume LINK   starts it again\n"
	    "  retry LINK    redials the parent now, the backoff reset\n"
	    "  queue [LINK|CLIENT] [--limit N] [--after SEQ]\n"
	    "                the queues, or the packets waiting in one\n"
	    "  trace ID      where packet ID is, node by node up its route\n"
	    "  top           a live view of the node (q quits)\n"
	    "  audit [export] [--since T] [--until T] [--src ADDR] [--dst ADDR]\n"
	    "        [--command C] [--type TYPE] [--id ID] [--limit N] [--journal DIR]\n"
	    "        [--scan] [--format jsonl|csv]\n"
	    "                the event log, read from the journal itself\n"
	    "  audit verify [--since T] [--anchor HASH] [--journal DIR]\n"
	    "                walks the hash chain (through HASH)\n"
	    "  audit anchor  the daemon writes and logs the chain's head now\n"
	    "  replay --link LINK --since T [--until T] | replay --id ID\n"
	    "                requeues the packets forwarded over LINK in the window\n"
	    "                (for a peer that lost its disk), or one packet\n"
	    "  check         what a reload of the config on disk would change\n"
	    "  reload        applies the config on disk (as SIGHUP)\n"
	    "exit: 0 ok, 1 failed, 2 usage, 3 not running, 4 permission, 5 version,\n"
	    "      6 replay: some packets could not be replayed (bodies gone)\n");
	exit(status);
}

/* One line on stderr (and, with --json, {"error", "exit"} on stdout). */
void
die(int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cascadectl: %s\n", msg);
	if (json) {
		json_t *o = json_pack("{s:s, s:i}", "error", msg, "exit", status);

		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	}
	exit(status);
}

/* ------------------------------------------------------------ the socket */

/* The socket from the config's control directive. */
char *
socket_from_config(const char *file)
{
	struct conf_errors errs;
	struct conf *c = NULL;
	char *path;

	memset(&errs, 0, sizeof(errs));
	if (conf_load(file, &c, &errs) != 0) {
		conf_errors_print(&errs, stderr);
		conf_errors_free(&errs);
		die(EX_FAILED, "%s: cannot read the configuration for its control socket; "
		    "name the socket with -s", file);
	}
	conf_errors_free(&errs);
	path = strdup(c->control);
	conf_free(c);
	return path;
}

/* Says why path cannot be used before nng is asked, which would only say "refused". */
static void
socket_check(const char *path)
{
	struct stat st;
	struct passwd *pw;

	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			die(EX_NOT_RUNNING, "%s: no such file: cascaded is not running (or its "
			    "control directive names another socket)", path);
		if (errno == EACCES)
			die(EX_PERMISSION, "%s: permission denied: a directory on the way is closed "
			    "to you; run cascadectl as the daemon's user or root", path);
		die(EX_FAILED, "%s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		die(EX_FAILED, "%s: not a socket: check the control directive", path);
	if (access(path, R_OK | W_OK) == -1 && errno == EACCES) {
		pw = getpwuid(st.st_uid);
		die(EX_PERMISSION, "%s: permission denied (mode %04o, owner %s): run cascadectl as "
		    "that user or root", path, (unsigned)(st.st_mode & 07777),
		    pw != NULL ? pw->pw_name : "?");
	}
}

/*
 * Who runs us, for the daemon's audit events beside the uid it sees: sudo's
 * caller when run as root through sudo, else our login.
 */
static const char *
ctl_user(void)
{
	struct passwd *pw;
	const char *s;

	if (getuid() == 0 && (s = getenv("SUDO_USER")) != NULL && *s)
		return s;
	if ((pw = getpwuid(getuid())) != NULL)
		return pw->pw_name;
	return (s = getenv("LOGNAME")) != NULL ? s : "";
}

Cascade__CtlReply *
ask(const char *path, uint32_t cmd, const char *arg)
{
	Cascade__CtlRequest req = CASCADE__CTL_REQUEST__INIT;

	req.command = cmd;
	req.arg = (char *)(arg != NULL ? arg : "");
	return ask_req(path, &req);
}

Cascade__CtlReply *
ask_req(const char *path, Cascade__CtlRequest *rq)
{
	Cascade__CtlRequest req = *rq;
	Cascade__CtlReply *rep;
	nng_socket s;
	nng_msg *m;
	char url[1100];
	int rc;

	socket_check(path);
	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rc = nng_req0_open(&s)) != 0)
		die(EX_FAILED, "nng: %s", nng_strerror(rc));
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, ask_wait_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, ask_wait_ms);
	/* answers may be large: replay's id lists, a payload (nng's default is 1 MiB) */
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 64u << 20);
	if ((rc = nng_dial(s, url, NULL, 0)) != 0) {
		if (rc == NNG_ECONNREFUSED || rc == NNG_ENOENT)
			die(EX_NOT_RUNNING, "%s: nobody listens: cascaded is not running (the "
			    "socket is left from an earlier run)", path);
		if (rc == NNG_EPERM)
			die(EX_PERMISSION, "%s: permission denied: run cascadectl as the daemon's "
			    "user or root", path);
		die(EX_FAILED, "%s: %s", path, nng_strerror(rc));
	}
	req.version = CASCADE__CTL_VERSION__CTL_VERSION_CURRENT;
	if (req.user == NULL || *req.user == '\0')
		req.user = (char *)ctl_user();
	/* for tests of the version check: speak as another version would */
	if (getenv("CASCADECTL_PROTOCOL") != NULL)
		req.version = (uint32_t)strtoul(getenv("CASCADECTL_PROTOCOL"), NULL, 10);
	if ((rc = nng_msg_alloc(&m, cascade__ctl_request__get_packed_size(&req))) != 0)
		die(EX_FAILED, "nng: %s", nng_strerror(rc));
	cascade__ctl_request__pack(&req, nng_msg_body(m));
	if ((rc = nng_sendmsg(s, m, 0)) != 0 || (rc = nng_recvmsg(s, &m, 0)) != 0)
		die(rc == NNG_ETIMEDOUT ? EX_FAILED : EX_NOT_RUNNING, "%s: %s%s%d%s", path,
		    nng_strerror(rc), rc == NNG_ETIMEDOUT ? ": cascaded did not answer within " :
		    ": cascaded went away", rc == NNG_ETIMEDOUT ? ask_wait_ms / 1000 : 0,
		    rc == NNG_ETIMEDOUT ? " s (wedged? see its log)" : "");
	rep = cascade__ctl_reply__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	nng_close(s);
	if (rep == NULL)
		die(EX_VERSION, "%s: the answer does not decode: not a cascaded of this version?",
		    path);
	if (rep->version != CASCADE__CTL_VERSION__CTL_VERSION_CURRENT || rep->result ==
	    CTL(BAD_VERSION))
		die(EX_VERSION, "version mismatch: this cascadectl (%s) speaks control protocol "
		    "%u, cascaded speaks %u%s%s", PACKAGE_VERSION,
		    CASCADE__CTL_VERSION__CTL_VERSION_CURRENT, rep->version,
		    rep->error[0] ? ": " : "", rep->error);
	if (rep->result == CTL(DENIED))
		die(EX_PERMISSION, "%s: %s", path, rep->error);
	if (rep->result != CTL(OK))
		die(EX_FAILED, "%s", rep->error);
	return rep;
}

/* ---------------------------------------------------------------- JSON */

#define STATE(x) CASCADE__CTL_LINK_STATE__CTL_LINK_##x
#define PLACE(x) CASCADE__CTL_PLACE__CTL_PLACE_##x

const char *
state_name(uint32_t s)
{
	static const char *names[] = { [STATE(UP)] = "up", [STATE(CONNECTING)] = "connecting",
	    [STATE(DOWN)] = "down", [STATE(PAUSED)] = "paused" };

	return s < sizeof(names) / sizeof(names[0]) && names[s] != NULL ? names[s] : "?";
}

const char *
place_name(uint32_t p)
{
	static const char *names[] = { [PLACE(QUEUED)] = "queued",
	    [PLACE(FORWARDED)] = "forwarded", [PLACE(DELIVERED)] = "delivered",
	    [PLACE(EXPIRED)] = "expired", [PLACE(CANCELLED)] = "cancelled" };

	return p < sizeof(names) / sizeof(names[0]) && names[p] != NULL ? names[p] : "?";
}

void
hex(const uint8_t *b, size_t n, char *out)
{
	chex(b, n, out);
}

/*
 * A reply message as JSON, field by field from its descriptor: the names
 * are cascade.proto's. Enumerations (state, place) by name, bytes in hex.
 */
json_t *
to_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();
	unsigned i;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *p = (const char *)m + f->offset;
		json_t *v = NULL;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset), k;
			ProtobufCMessage *const *sub = *(ProtobufCMessage *const *const *)p;

			if (f->type != PROTOBUF_C_TYPE_MESSAGE)
				continue;
			v = json_array();
			for (k = 0; k < n; k++)
				json_array_append_new(v, to_json(sub[k]));
			json_object_set_new(o, f->name, v);
			continue;
		}
		switch (f->type) {
		case PROTOBUF_C_TYPE_STRING:
			v = json_string(*(char *const *)p);
			break;
		case PROTOBUF_C_TYPE_BOOL:
			v = json_boolean(*(const protobuf_c_boolean *)p);
			break;
		case PROTOBUF_C_TYPE_UINT32:
			if (strcmp(f->name, "state") == 0)
				v = json_string(state_name(*(const uint32_t *)p));
			else if (strcmp(f->name, "place") == 0)
				v = json_string(place_name(*(const uint32_t *)p));
			else
				v = json_integer(*(const uint32_t *)p);
			break;
		case PROTOBUF_C_TYPE_UINT64:
			v = json_integer((json_int_t)*(const uint64_t *)p);
			break;
		case PROTOBUF_C_TYPE_INT64:
			v = json_integer(*(const int64_t *)p);
			break;
		case PROTOBUF_C_TYPE_BYTES: {
			const ProtobufCBinaryData *b = (const ProtobufCBinaryData *)p;
			char *h = malloc(2 * b->len + 1);

			hex(b->data, b->len, h);
			v = json_string(h);
			free(h);
			break;
		}
		case PROTOBUF_C_TYPE_MESSAGE:
			if (*(ProtobufCMessage *const *)p != NULL)
				v = to_json(*(ProtobufCMessage *const *)p);
			break;
		default:
			break;
		}
		if (v != NULL)
			json_object_set_new(o, f->name, v);
	}
	return o;
}

void
json_print(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(v);
}

json_t *
json_list(ProtobufCMessage **m, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, to_json(m[i]));
	return a;
}

/* -------------------------------------------------------------- tables */

/* "3h 12m", "45s", "-" for 0 */
const char *
age(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (ms <= 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%" PRId64 ".%" PRId64 "s", s, (ms % 1000) / 100);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 "h %02" PRId64 "m", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%" PRId64 "d %02" PRId64 "h", s / 86400, (s % 86400) / 3600);
	return buf;
}

const char *
when(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
	return buf;
}

const char *
bytes_h(uint64_t b, char *buf, size_t len)
{
	if (b < 10u << 10)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else if (b < 10u << 20)
		snprintf(buf, len, "%.1f KiB", b / 1024.0);
	else
		snprintf(buf, len, "%.1f MiB", b / 1048576.0);
	return buf;
}

static void
print_status(const Cascade__CtlStatus *st)
{
	char a[64], b[64];

	printf("node      %s (%s), cascaded %s\n", st->node, st->role, st->version);
	printf("uptime    %s (since %s)\n", age(st->uptime_ms, a, sizeof(a)),
	    when(st->started_ms, b, sizeof(b)));
	printf("config    %s (loaded %s)\n", st->config, when(st->config_loaded_ms, a, sizeof(a)));
	if (st->reload_failed_ms != 0)
		printf("reload    refused %s:\n%s\n", when(st->reload_failed_ms, a, sizeof(a)),
		    st->reload_failed_text);
	printf("journal   %s: %s used of a %s map%s\n", st->journal,
	    bytes_h(st->journal_used_bytes, a, sizeof(a)), bytes_h(st->journal_map_bytes, b,
	    sizeof(b)), st->journal_full ? ", FULL: refusing new packets" : "");
	printf("queued    %" PRIu64 " packet entries waiting\n", st->queued);
	printf("packets   in %" PRIu64 ", out %" PRIu64 ", rejected %" PRIu64 ", duplicates %"
	    PRIu64 " since start\n", st->packets_in, st->packets_out, st->packets_rejected,
	    st->duplicates);
	printf("sync      %s\n", st->sync ? "yes" : "NO (commits not flushed: tests only)");
	if (st->notify_sent || st->notify_failures || st->notify_pending || st->delayed_sent)
		printf("notices   offline: %" PRIu64 " sent, %" PRIu64 " failed attempts, %" PRIu64
		    " pending; delayed: %" PRIu64 " sent, since start\n", st->notify_sent,
		    st->notify_failures, st->notify_pending, st->delayed_sent);
	if (st->audit_sink[0] != '\0') {
		printf("audit     sink %s: %s; confirmed %" PRIu64 ", lag %" PRIu64 " records",
		    st->audit_sink, st->audit_sink_error[0] ? "DOWN" : "streaming",
		    st->audit_sink_confirmed, st->audit_sink_lag_records);
		printf(st->audit_sink_lag_records ? " (oldest %s)\n" : "\n",
		    age(st->audit_sink_lag_ms, a, sizeof(a)));
		if (st->audit_sink_error[0])
			printf("          %s\n", st->audit_sink_error);
	}
}

static void
print_links(Cascade__CtlReply *rep)
{
	char a[32], b[64];
	size_t i;

	printf("%-16s %-6s %-10s %-7s %7s %8s %5s  %s\n", "LINK", "DIR", "STATE", "CARRIER",
	    "QUEUE", "OLDEST", "RECON", "LAST ERROR");
	for (i = 0; i < rep->n_links; i++) {
		const Cascade__CtlLink *l = rep->links[i];

		printf("%-16s %-6s %-10s %-7s %7" PRIu64 " %8s %5" PRIu64 "  ", l->name,
		    l->direction, state_name(l->state), l->carrier[0] ? l->carrier : "-", l->depth,
		    age(l->oldest_age_ms, a, sizeof(a)), l->reconnects);
		if (l->last_error[0])
			printf("%s (%s ago)\n", l->last_error, age(cnow_ms() - l->last_error_ms, b,
			    sizeof(b)));
		else
			printf("-\n");
		if (strcmp(l->direction, "parent") == 0 && l->url[0])
			printf("%-16s   %s, %s\n", "", l->url, l->carrier_why);
	}
}

static void
print_clients(Cascade__CtlReply *rep)
{
	char a[32], b[64];
	size_t i;

	printf("%-28s %-8s %-7s %7s %8s  %s\n", "CLIENT", "STATE", "CARRIER", "INBOX", "OLDEST",
	    "LAST SEEN");
	for (i = 0; i < rep->n_clients; i++) {
		const Cascade__CtlClient *c = rep->clients[i];

		printf("%-28s %-8s %-7s %7" PRIu64 " %8s  %s\n", c->name,
		    c->online ? "online" : "offline", c->carrier[0] ? c->carrier : "-", c->depth,
		    age(c->oldest_age_ms, a, sizeof(a)), c->online ? "now" :
		    when(c->last_seen_ms, b, sizeof(b)));
	}
}

static void
print_packet(const Cascade__CtlPacket *p)
{
	char a[64], b[32], h[2 * CSHA256_LEN + 1];
	size_t i;

	printf("packet    %s (%s leg)\n", p->id, p->leg == JLEG_UP ? "up" : "down");
	if (p->pruned && *p->src == '\0')
		printf("          body pruned after delivery: src, dst, size no longer known\n");
	else {
		printf("src       %s\n", p->src);
		printf("dst       %s\n", p->dst);
		printf("command   %s\n", p->command);
	}
	printf("accepted  %s (%s ago)\n", when(p->accepted_ms, a, sizeof(a)),
	    age(cnow_ms() - p->accepted_ms, b, sizeof(b)));
	printf("deadline  %s\n", p->deadline_ms ? when(p->deadline_ms, a, sizeof(a)) : "none");
	hex(p->payload_sha256.data, p->payload_sha256.len < CSHA256_LEN ?
	    p->payload_sha256.len : CSHA256_LEN, h);
	if (!p->pruned)
		printf("payload   %" PRIu64 " bytes, sha256 %s\n", p->payload_size, h);
	else if (*p->src != '\0')      /* cancelled or expired: the journal dropped it */
		printf("payload   dropped from the journal (sha256 was %s)\n", h);
	for (i = 0; i < p->n_places; i++)
		printf("%-9s %s (seq %" PRIu64 "): %s\n", i == 0 ? "queues" : "",
		    p->places[i]->queue, p->places[i]->seq, place_name(p->places[i]->place));
	if (p->n_places == 0)
		printf("queues    none (taken in, in no queue)\n");
}

/* ---------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "limit", required_argument, NULL, 'L' },      /* queue */
		{ "after", required_argument, NULL, 'A' },      /* queue */
		{ NULL, 0, NULL, 0 },
	};
	const char *conffile = SYSCONFDIR "/cascade/cascade.conf", *sock = NULL;
	const struct command *cmd = NULL;
	Cascade__CtlReply *rep;
	char *path;
	size_t i;
	int ch, audit_argc = 0, full_argc = argc;

	/*
	 * audit has options of its own (--since -1h ...): main's options are
	 * only those before the word audit, the rest are cascadectl_audit.c's.
	 */
	for (i = 1; i < (size_t)argc && argv[i][0] == '-'; i++)
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "-s") == 0)
			i++;
	if (i < (size_t)argc && (strcmp(argv[i], "audit") == 0 ||
	    strcmp(argv[i], "replay") == 0)) {
		audit_argc = (int)i;
		argc = (int)i;
	}
	while ((ch = getopt_long(argc, argv, "jhf:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'f': conffile = optarg; break;
		case 's': sock = optarg; break;
		case 'L': opt_limit = optarg; break;
		case 'A': opt_after = optarg; break;
		case 'h': usage(stdout, EX_OK);
		default: usage(stderr, EX_USAGE);
		}
	}
	if (audit_argc && strcmp(argv[audit_argc], "replay") == 0)
		return replay_run(conffile, sock, full_argc - audit_argc, argv + audit_argc);
	if (audit_argc)
		return audit_run(conffile, sock, full_argc - audit_argc, argv + audit_argc);
	if (optind >= argc)
		usage(stderr, EX_USAGE);
	if (ops_command(argv[optind]))          /* queue, trace, top: cascadectl_ops.c */
		return ops_run(sock != NULL ? strdup(sock) : socket_from_config(conffile),
		    argc - optind, argv + optind);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		fprintf(stderr, "cascadectl: unknown command \"%s\"\n", argv[optind]);
		usage(stderr, EX_USAGE);
	}
	if (argc - optind != (cmd->arg != NULL ? 2 : 1)) {
		fprintf(stderr, "cascadectl: %s %s\n", cmd->name, cmd->arg != NULL ?
		    cmd->arg : "takes no argument");
		usage(stderr, EX_USAGE);
	}
	path = sock != NULL ? strdup(sock) : socket_from_config(conffile);
	rep = ask(path, cmd->cmd, cmd->arg != NULL ? argv[optind + 1] : NULL);
	switch (cmd->cmd) {
	case CMD(STATUS):
		if (json)
			json_print(to_json(&rep->status->base));
		else
			print_status(rep->status);
		break;
	case CMD(LINKS):
		if (json)
			json_print(json_list((ProtobufCMessage **)rep->links, rep->n_links));
		else
			print_links(rep);
		break;
	case CMD(CLIENTS):
		if (json)
			json_print(json_list((ProtobufCMessage **)rep->clients, rep->n_clients));
		else
			print_clients(rep);
		break;
	case CMD(SHOW):
		if (json)
			json_print(json_list((ProtobufCMessage **)rep->packets, rep->n_packets));
		else
			for (i = 0; i < rep->n_packets; i++) {
				if (i > 0)
					putchar('\n');
				print_packet(rep->packets[i]);
			}
		break;
	default:
		if (json)
			json_print(json_pack("{s:b, s:s}", "ok", 1, "text", rep->text));
		else
			printf("%s\n", rep->text);
	}
	cascade__ctl_reply__free_unpacked(rep, NULL);
	free(path);
	return EX_OK;
}
