/*
 * cascadectl_ops.c — cascadectl's queue command (and the operator views
 * that follow it): what it asks cascaded and how it prints the answer.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascadectl.h"
#include "journal.h"

#define CMD(x) CASCADE__CTL_COMMAND__CTL_##x

static uint64_t
number_opt(const char *name, const char *v, uint64_t lo, uint64_t hi)
{
	unsigned long long n;
	char *e;

	errno = 0;
	n = strtoull(v, &e, 10);
	if (errno != 0 || e == v || *e != '\0' || v[0] == '-' || n < lo || n > hi) {
		fprintf(stderr, "cascadectl: --%s %s: expected a number from %" PRIu64 " to %"
		    PRIu64 "\n", name, v, lo, hi);
		exit(EX_USAGE);
	}
	return n;
}

static void
print_queues(const Cascade__CtlReply *rep)
{
	char a[32], b[32];
	size_t i;

	printf("%-32s %-24s %9s %10s %8s\n", "QUEUE", "TO", "WAITING", "BYTES", "OLDEST");
	for (i = 0; i < rep->n_queues; i++) {
		const Cascade__CtlQueueSummary *q = rep->queues[i];

		printf("%-32s %-24s %9" PRIu64 " %10s %8s\n", q->name, q->peer[0] ? q->peer : "-",
		    q->depth, bytes_h(q->bytes, a, sizeof(a)), age(q->oldest_age_ms, b, sizeof(b)));
	}
}

/*
 * A queue entry's seq; one not numbered yet waits in a priority lane
 * (journal.h): "u+N" urgent, "r+N" routine, N its place in arrival order.
 */
static const char *
seq_text(uint64_t seq, char *buf, size_t len)
{
	if (seq >= JSEQ_ROUTINE)
		snprintf(buf, len, "r+%" PRIu64, (uint64_t)(seq - JSEQ_ROUTINE));
	else if (seq >= JSEQ_LANE)
		snprintf(buf, len, "u+%" PRIu64, (uint64_t)(seq - JSEQ_LANE));
	else
		snprintf(buf, len, "%" PRIu64, seq);
	return buf;
}

static void
print_page(const Cascade__CtlQueuePage *pg, const char *arg)
{
	int64_t now = cnow_ms();
	char a[32], s1[32], s2[32];
	size_t i;

	printf("queue %s: %" PRIu64 " waiting", pg->name, pg->depth);
	if (pg->n_entries > 0)
		printf(", seq %s to %s shown", seq_text(pg->entries[0]->seq, s1, sizeof(s1)),
		    seq_text(pg->entries[pg->n_entries - 1]->seq, s2, sizeof(s2)));
	printf("\n");
	if (pg->n_entries == 0)
		return;
	printf("%-10s %-33s %-22s %-22s %-16s %8s %s\n", "SEQ", "ID", "SRC", "DST", "COMMAND",
	    "AGE", "URGENT");
	for (i = 0; i < pg->n_entries; i++) {
		const Cascade__CtlQueueEntry *e = pg->entries[i];

		printf("%-10s %-33s %-22s %-22s %-16s %8s %s\n", seq_text(e->seq, s1, sizeof(s1)),
		    e->id, e->src,
		    e->dst, e->command, age(now - e->accepted_ms, a, sizeof(a)),
		    e->urgent ? "yes" : "-");
	}
	if (pg->next_after != 0)
		printf("more: cascadectl queue %s --after %" PRIu64 "\n", arg, pg->next_after);
}

static int
cmd_queue(const char *sock, int argc, char **argv)
{
	Cascade__CtlRequest req = CASCADE__CTL_REQUEST__INIT;
	Cascade__CtlReply *rep;

	if (argc > 2) {
		fprintf(stderr, "cascadectl: queue [LINK|CLIENT] [--limit N] [--after SEQ]\n");
		exit(EX_USAGE);
	}
	req.command = CMD(QUEUE);
	req.arg = argc == 2 ? argv[1] : "";
	if (opt_limit != NULL)
		req.limit = (uint32_t)number_opt("limit", opt_limit, 1, 1000);
	if (opt_after != NULL)
		req.after = number_opt("after", opt_after, 0, UINT64_MAX);
	rep = ask_req(sock, &req);
	if (json) {
		if (rep->page != NULL)
			json_print(to_json(&rep->page->base));
		else
			json_print(json_list((ProtobufCMessage **)rep->queues, rep->n_queues));
	} else if (rep->page != NULL)
		print_page(rep->page, req.arg);
	else
		print_queues(rep);
	cascade__ctl_reply__free_unpacked(rep, NULL);
	return EX_OK;
}

/* ---------------------------------------------------------------- trace */

/* One line per node, this one first: its places of the packet, or its answer. */
static int
cmd_trace(const char *sock, int argc, char **argv)
{
	Cascade__CtlReply *rep;
	char a[64], line[1024];
	size_t i, k, o;

	if (argc != 2) {
		fprintf(stderr, "cascadectl: trace ID\n");
		exit(EX_USAGE);
	}
	rep = ask(sock, CMD(TRACE), argv[1]);
	if (json)
		json_print(json_list((ProtobufCMessage **)rep->trace, rep->n_trace));
	else
		for (i = 0; i < rep->n_trace; i++) {
			const Cascade__CtlTraceHop *h = rep->trace[i];

			o = 0;
			line[0] = '\0';
			for (k = 0; k < h->n_places && o < sizeof(line) - 1; k++)
				o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s %s", k ? ", " : "",
				    h->places[k]->queue, place_name(h->places[k]->place));
			printf("%-20s %s%s%s\n", h->node, h->answer[0] ? h->answer : line,
			    h->accepted_ms ? "; taken in " : "",
			    h->accepted_ms ? when(h->accepted_ms, a, sizeof(a)) : "");
		}
	cascade__ctl_reply__free_unpacked(rep, NULL);
	return EX_OK;
}

/* ------------------------------------------------------------------ top */

/*
 * A full-screen view redrawn every second with plain ANSI escapes (clear,
 * home, reverse video for the header): the node, its rates (packets in and
 * out per second over the last second), links and clients. Lines are cut
 * to the terminal's width and the list to its height (80x24 at least
 * fits). q (or Ctrl-C, or the end of input) quits and gives the terminal
 * back as it was.
 */
static struct termios top_saved;
static int top_raw;

static void
top_restore(void)
{
	if (top_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &top_saved);
		top_raw = 0;
	}
	fputs("\033[0m\033[?25h\n", stdout);    /* attributes off, cursor shown */
	fflush(stdout);
}

static void
top_signal(int sig)
{
	top_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Appends one line to the screen, cut to width columns; false when the screen is full. */
struct screen {
	char buf[16384];
	size_t len;
	int rows, cols, used;
};

static int scr_line(struct screen *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
scr_line(struct screen *sc, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (sc->used >= sc->rows)
		return 0;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	if (n > sc->cols)
		n = sc->cols;
	sc->len += (size_t)snprintf(sc->buf + sc->len, sizeof(sc->buf) - sc->len,
	    "%s%.*s\033[K", sc->used > 0 ? "\r\n" : "", n, line);
	sc->used++;
	return 1;
}

static double
per_s(uint64_t now, uint64_t before, int64_t ms)
{
	return ms > 0 && now >= before ? (double)(now - before) * 1000.0 / (double)ms : 0.0;
}

static void
top_draw(const char *sock, uint64_t *in0, uint64_t *out0, int64_t *t0)
{
	Cascade__CtlReply *st = ask(sock, CMD(STATUS), NULL), *ls = ask(sock, CMD(LINKS), NULL),
	    *cs = ask(sock, CMD(CLIENTS), NULL);
	const Cascade__CtlStatus *s = st->status;
	struct screen sc = { .len = 0, .rows = 24, .cols = 80, .used = 0 };
	int64_t now = cnow_ms(), dt = *t0 ? now - *t0 : 0;
	char a[32], b[32], clock[16];
	struct winsize ws;
	time_t tt = (time_t)(now / 1000);
	struct tm tm;
	size_t i, online = 0;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		sc.rows = ws.ws_row;
		sc.cols = ws.ws_col < 500 ? ws.ws_col : 500;
	}
	strftime(clock, sizeof(clock), "%H:%M:%S", gmtime_r(&tt, &tm));
	for (i = 0; i < cs->n_clients; i++)
		online += cs->clients[i]->online;
	sc.len = (size_t)snprintf(sc.buf, sizeof(sc.buf), "\033[H\033[7m");
	scr_line(&sc, "cascade top: %s (%s) up %s, %s UTC%*s", s->node, s->role,
	    age(s->uptime_ms, a, sizeof(a)), clock, 12, "q: quit");
	sc.len += (size_t)snprintf(sc.buf + sc.len, sizeof(sc.buf) - sc.len, "\033[0m");
	scr_line(&sc, "packets  in %" PRIu64 " (%.1f/s)  out %" PRIu64 " (%.1f/s)  rejected %"
	    PRIu64, s->packets_in, per_s(s->packets_in, *in0, dt), s->packets_out,
	    per_s(s->packets_out, *out0, dt), s->packets_rejected);
	scr_line(&sc, "journal  %s of %s used%s, %" PRIu64 " queued; clients %zu of %zu online",
	    bytes_h(s->journal_used_bytes, a, sizeof(a)), bytes_h(s->journal_map_bytes, b,
	    sizeof(b)), s->journal_full ? " FULL" : "", s->queued, online, cs->n_clients);
	scr_line(&sc, "%s", "");
	scr_line(&sc, "%-20s %-6s %-10s %-7s %8s %8s %5s", "LINK", "DIR", "STATE", "CARRIER",
	    "QUEUE", "OLDEST", "RECON");
	for (i = 0; i < ls->n_links; i++) {
		const Cascade__CtlLink *l = ls->links[i];

		if (sc.used == sc.rows - 1 && i + 1 < ls->n_links) {
			scr_line(&sc, "... %zu more links (cascadectl links)", ls->n_links - i);
			break;
		}
		scr_line(&sc, "%-20s %-6s %-10s %-7s %8" PRIu64 " %8s %5" PRIu64, l->name,
		    l->direction, state_name(l->state), l->carrier[0] ? l->carrier : "-", l->depth,
		    age(l->oldest_age_ms, a, sizeof(a)), l->reconnects);
	}
	if (sc.used + 3 <= sc.rows && cs->n_clients > 0) {
		scr_line(&sc, "%s", "");
		scr_line(&sc, "%-28s %-8s %-7s %8s %8s", "CLIENT", "STATE", "CARRIER", "INBOX",
		    "OLDEST");
		for (i = 0; i < cs->n_clients; i++) {
			const Cascade__CtlClient *c = cs->clients[i];

			if (sc.used == sc.rows - 1 && i + 1 < cs->n_clients) {
				scr_line(&sc, "... %zu more clients (cascadectl clients)",
				    cs->n_clients - i);
				break;
			}
			scr_line(&sc, "%-28s %-8s %-7s %8" PRIu64 " %8s", c->name,
			    c->online ? "online" : "offline", c->carrier[0] ? c->carrier : "-",
			    c->depth, age(c->oldest_age_ms, a, sizeof(a)));
		}
	}
	/* the rest of the screen cleared */
	snprintf(sc.buf + sc.len, sizeof(sc.buf) - sc.len, "\033[J");
	fputs(sc.buf, stdout);
	fflush(stdout);
	*in0 = s->packets_in;
	*out0 = s->packets_out;
	*t0 = now;
	cascade__ctl_reply__free_unpacked(st, NULL);
	cascade__ctl_reply__free_unpacked(ls, NULL);
	cascade__ctl_reply__free_unpacked(cs, NULL);
}

static int
cmd_top(const char *sock, int argc, char **argv)
{
	uint64_t in0 = 0, out0 = 0;
	int64_t t0 = 0, next;
	struct termios raw;

	if (argc != 1) {
		fprintf(stderr, "cascadectl: top takes no argument\n");
		exit(EX_USAGE);
	}
	if (json) {
		fprintf(stderr, "cascadectl: top is for a terminal; scripts use status, links, "
		    "clients --json\n");
		exit(EX_USAGE);
	}
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &top_saved) == 0) {
		raw = top_saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			top_raw = 1;
	}
	atexit(top_restore);    /* also when ask() dies: the daemon went away */
	signal(SIGINT, top_signal);
	signal(SIGTERM, top_signal);
	signal(SIGHUP, top_signal);
	fputs("\033[?25l\033[2J", stdout);       /* cursor hidden, screen cleared */
	for (;;) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		int64_t wait;
		char c;

		top_draw(sock, &in0, &out0, &t0);
		next = t0 + 1000;
		while ((wait = next - cnow_ms()) > 0) {
			if (poll(&pfd, 1, (int)wait) <= 0)
				continue;
			if (read(STDIN_FILENO, &c, 1) != 1)
				return EX_OK;           /* end of input */
			if (c == 'q' || c == 'Q')
				return EX_OK;
		}
	}
}

static const struct {
	const char *name;
	int (*run)(const char *sock, int argc, char **argv);
} ops[] = {
	{ "queue", cmd_queue },
	{ "top", cmd_top },
	{ "trace", cmd_trace },
};

int
ops_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(name, ops[i].name) == 0)
			return 1;
	return 0;
}

int
ops_run(char *path, int argc, char **argv)
{
	size_t i;
	int rc = EX_USAGE;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(argv[0], ops[i].name) == 0)
			rc = ops[i].run(path, argc, argv);
	free(path);
	return rc;
}
