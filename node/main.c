/*
 * main.c — cascaded: flags, start-up, signals, shutdown.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "cascaded.h"
#include "origin.h"

/* At shutdown: how long the nng sockets may take to close, in all. */
#define SHUTDOWN_CLOSE_MS 2000

static void usage(FILE *f, int status) __attribute__((noreturn));

static void
usage(FILE *f, int status)
{
	fprintf(f,
	    "usage: cascaded [-dhnv] [-f file]\n"
	    "       cascaded [-f file] -g id [-k child|client] [-o dir]\n"
	    "  -f file   configuration (default " SYSCONFDIR "/cascade/cascade.conf)\n"
	    "  -n        check the configuration and exit\n"
	    "  -d        stay in the foreground, log to stderr\n"
	    "  -v        verbose (debug) logging\n"
	    "  -g id     generate a secret for child node (or client, with -k client) id\n"
	    "            into dir (default .) and print the config lines for both sides\n"
	    "  -h        this help; the manual is cascaded(8)\n");
	exit(status);
}

/* 2 000 clients need more than the usual 1 024 descriptors. */
static void
raise_nofile(const struct conf *c)
{
	struct rlimit rl;
	rlim_t need = 64 + 4 * (rlim_t)(c->nchildren + c->nclients);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("rlimit: getrlimit");
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("rlimit: raising open files to %llu", (unsigned long long)rl.rlim_max);
	}
	if (rl.rlim_cur < need)
		log_warnx("rlimit: open files limited to %llu; %zu children and %zu clients want "
		    "about %llu (raise the hard limit, e.g. LimitNOFILE= in the unit)",
		    (unsigned long long)rl.rlim_cur, c->nchildren, c->nclients,
		    (unsigned long long)need);
}

static void
daemonize(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0)
		_exit(0);
	if (setsid() == -1)
		fatal("setsid");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0)
		_exit(0);
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > 2)
			close(fd);
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("cascaded: %s: finishing the transaction in hand and stopping",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		node->stopping = 1;
		event_base_loopexit(node->base, NULL);
		break;
	case SIGHUP:
	{
		char *text = NULL;

		/* reload_run logs what it applied or why it refused */
		(void)reload_run(0, &text);
		free(text);
		break;
	}
	}
}

static uint32_t
queue_or_die(const char *name, uint32_t kind)
{
	uint32_t qid;

	if (journal_queue(node->j, name, kind, &qid) != 0)
		fatalx("journal: queue %s: %s", name, journal_errmsg(node->j));
	return qid;
}

static void
peers_init(void)
{
	const struct conf *c = node->conf;
	char err[256];
	size_t i;

	/* room for the peers later reloads add: the array never moves, as
	 * sessions and requests point into it (reload.c) */
	node->peers_cap = c->nchildren + c->nclients + RELOAD_SPARE_PEERS;
	node->peers = xcalloc(node->peers_cap + 1, sizeof(struct peer));
	for (i = 0; i < c->nchildren; i++)
		if (peer_add_child(&c->children[i], err, sizeof(err)) == NULL)
			fatalx("%s", err);
	for (i = 0; i < c->nclients; i++)
		if (peer_add_client(&c->clients[i], err, sizeof(err)) == NULL)
			fatalx("%s", err);
}

/*
 * The data directory, made with its missing parents (mode 0700, like the
 * systemd unit's StateDirectoryMode). It holds patient data: one that group
 * or others can enter is refused.
 */
static void
data_dir_make(const struct conf *c)
{
	char *path = xstrdup(c->data_dir), *p;
	struct stat st;

	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p[-1] != '/') {
			char save = *p;

			*p = '\0';
			if (mkdir(path, 0700) == -1 && errno != EEXIST)
				fatal("%s: data-dir %s: cannot make %s", c->path, c->data_dir, path);
			*p = save;
		}
		if (*p == '\0')
			break;
	}
	free(path);
	if (stat(c->data_dir, &st) == -1)
		fatal("%s: data-dir %s", c->path, c->data_dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s: data-dir %s is not a directory", c->path, c->data_dir);
	if (st.st_mode & 077)
		fatalx("%s: data-dir %s is open to group or others (mode %04o): it holds "
		    "patient data; chmod 700 %s", c->path, c->data_dir, (unsigned)(st.st_mode & 07777), c->data_dir);
}

static void
journal_start(void)
{
	const struct conf *c = node->conf;
	struct journal_opts o;
	struct jevent ev;
	char err[512], *dir, text[256];

	xasprintf(&dir, "%s/journal", c->data_dir);
	data_dir_make(c);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node_id = c->node;
	o.map_size = c->journal_map_size;
	o.map_max = c->journal_max_size;
	o.disk_floor = c->journal_disk_floor;
	o.sync = c->sync;
	o.no_index = !c->audit_index;
	o.queue_window = c->queue_window;
	o.keys = &c->journal_keys;
	if (journal_open(&node->j, &o, err, sizeof(err)) != 0)
		fatalx("journal: %s", err);
	if (c->journal_keys.n > 0) {
		char kt[JCRYPT_KID_TEXT];

		log_info("journal: packet bodies encrypted at rest under key id %s (%u older "
		    "key%s still read)", jcrypt_kid_text(c->journal_keys.keys[0].kid, kt),
		    c->journal_keys.n - 1, c->journal_keys.n == 2 ? "" : "s");
	}
	if (!c->sync)
		log_warnx("journal: sync no: commits are NOT flushed to disk before acks; "
		    "a power loss can lose accepted packets. For tests only.");
	memset(&ev, 0, sizeof(ev));
	ev.type = JEV_STARTED;
	ev.time_ms = cnow_ms();
	ev.peer = "";
	snprintf(text, sizeof(text), "cascaded %s started as %s %s (config %s)", PACKAGE_VERSION,
	    node->master ? "master" : "node", node->id, c->path);
	ev.text = text;
	if (journal_log(node->j, &ev) != 0)
		fatalx("journal: %s", journal_errmsg(node->j));
	free(dir);
}

int
main(int argc, char **argv)
{
	const char *conffile = SYSCONFDIR "/cascade/cascade.conf", *genid = NULL;
	const char *genkind = "child", *gendir = ".";
	struct conf_errors errs;
	struct conf *c = NULL;
	struct event *sigs[4];
	int ch, check = 0, foreground = 0, verbose = 0, i;
	int64_t stop_ms;
	char err[512];

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			usage(stdout, 0);
	while ((ch = getopt(argc, argv, "dnvhf:g:k:o:")) != -1) {
		switch (ch) {
		case 'd': foreground = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose++; break;
		case 'f': conffile = optarg; break;
		case 'g': genid = optarg; break;
		case 'k': genkind = optarg; break;
		case 'o': gendir = optarg; break;
		case 'h': usage(stdout, 0);
		default: usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	log_init(1, verbose, "cascaded");

	if (genid != NULL) {
		struct conf *gc = NULL;

		memset(&errs, 0, sizeof(errs));
		if (access(conffile, R_OK) == 0 && conf_load(conffile, &gc, &errs) != 0)
			gc = NULL;      /* placeholders in the printed lines then */
		conf_errors_free(&errs);
		if (conf_gen_secret_for(gc, genkind, genid, gendir, stdout, err, sizeof(err)) != 0) {
			fprintf(stderr, "cascaded: %s\n", err);
			return 1;
		}
		conf_free(gc);
		return 0;
	}

	memset(&errs, 0, sizeof(errs));
	if (conf_load(conffile, &c, &errs) != 0) {
		conf_errors_print(&errs, stderr);
		fprintf(stderr, "cascaded: %s: configuration not loaded (%zu error%s)\n", conffile,
		    errs.n + errs.dropped, errs.n + errs.dropped == 1 ? "" : "s");
		conf_errors_free(&errs);
		return 1;
	}
	if (check) {
		fprintf(stderr, "cascaded: %s: configuration OK (%s %s, %zu children, %zu clients)\n",
		    conffile, c->role == CONF_ROLE_MASTER ? "master" : "node", c->node,
		    c->nchildren, c->nclients);
		conf_free(c);
		return 0;
	}

	node = xcalloc(1, sizeof(*node));
	node->conf = c;
	node->id = c->node;
	node->master = c->role == CONF_ROLE_MASTER;
	raise_nofile(c);
	signal(SIGPIPE, SIG_IGN);
	/* before any library starts a thread */
	if (!foreground) {
		daemonize();
		log_init(0, verbose, "cascaded");
	}
	if (evthread_use_pthreads() != 0)
		fatalx("libevent: no pthreads support");
	if ((node->base = event_base_new()) == NULL)
		fatalx("libevent: event_base_new failed");
	loop_init(node->base);

	node_started_ms = cnow_ms();
	reload_loaded_ms = node_started_ms;
	journal_start();
	if (!node->master)
		node->q_up = queue_or_die("up", JQ_LINK);
	peers_init();
	routes_load();
	jthread_start(node->j);
	server_init();
	for (i = 0; carriers[i] != NULL; i++)
		carriers[i]->start(c);
	if (c->parent != NULL) {
		node->up = uplink_new(c->parent);
		uplink_start(node->up);
	}
	origin_start_timers();
	notify_start();
	delaywarn_start();
	audit_sink_start();
	anchor_start();
	control_start(c, ctl_command);
	metrics_start(c);

	sigs[0] = evsignal_new(node->base, SIGTERM, on_signal, NULL);
	sigs[1] = evsignal_new(node->base, SIGINT, on_signal, NULL);
	sigs[2] = evsignal_new(node->base, SIGHUP, on_signal, NULL);
	for (i = 0; i < 3; i++)
		evsignal_add(sigs[i], NULL);
	log_info("cascaded: %s %s running (journal %s/journal%s)",
	    node->master ? "master" : "node", node->id, c->data_dir, c->sync ? "" : ", sync no");

	event_base_dispatch(node->base);

	stop_ms = cmono_ms();
	notify_stop();
	delaywarn_stop();
	audit_sink_stop();
	anchor_stop();
	ctl_replay_stop();              /* a replay's journal scan, before the socket goes */
	control_stop();
	metrics_stop();
	uplink_stop(node->up);         /* before its carriers stop */
	for (i = 0; carriers[i] != NULL; i++)
		carriers[i]->stop();
	server_shutdown();
	/*
	 * The link's carriers close on threads of their own (cnng_close_bounded):
	 * let them finish, so the process does not exit with a socket half
	 * closed (LeakSanitizer saw its dialer leak), but never hang on nng.
	 * One budget for the whole stop, the tcp carrier's stop wait included: a wedged
	 * nng costs it once, so SIGTERM still ends the daemon within seconds.
	 */
	stop_ms = SHUTDOWN_CLOSE_MS - (cmono_ms() - stop_ms);
	if (!cnng_close_drain(stop_ms > 0 ? (int)stop_ms : 0))
		log_warnx("cascaded: an nng socket was still closing %d ms into the stop (nng "
		    "wedged); stopping without it", SHUTDOWN_CLOSE_MS);
	/*
	 * Every socket closed: nng's reaper may still hold what a dialer had
	 * (a connect hanging in SYN_SENT behind a firewall that drops), which
	 * LeakSanitizer counted as leaked at exit (chaos.sh, the auto link's
	 * county). nng_fini stops its threads and frees it; bounded, as ever.
	 */
#ifdef __SANITIZE_ADDRESS__
	/*
	 * Only under AddressSanitizer: nng_fini frees nothing a stopping process
	 * needs freed, and beside the uplink's dialer still reconnecting to a
	 * dead parent it now and then aborted the daemon at SIGTERM (exit 134,
	 * shutdown.sh in a full make check); production stops without it.
	 * Not reproduced since; the likely cause, read in nng 1.5.2's source:
	 * nng_close returns before nng has finished with the socket (a dialer
	 * is taken off the socket's list, then destroyed on the reaper thread;
	 * aborted aios' callbacks, ours too, run later on its task threads),
	 * and nni_fini frees the aio expire queues and the socket and dialer
	 * locks before it stops those threads, so a callback still running
	 * locks a freed mutex and nng panics (abort). nng 1.5.2 also loses a
	 * connection caught in its SP handshake when the listener closes: the
	 * handshake's next step is dropped on the closed aio and the pipe pins
	 * its listener, which LeakSanitizer then reports (metrics.sh, a node
	 * stopped ~100 ms after its start; nng fixed it in 5183093c, 2.0 only).
	 */
	else if (!cnng_fini_bounded(1000))
		log_warnx("cascaded: nng_fini did not return within 1000 ms; stopping without it");
#endif
	jthread_stop();
	{
		struct jevent ev;

		memset(&ev, 0, sizeof(ev));
		ev.type = JEV_STOPPED;
		ev.time_ms = cnow_ms();
		ev.peer = "";
		ev.text = "stopped";
		journal_log(node->j, &ev);
	}
	journal_close(node->j);
	log_info("cascaded: %s stopped", node->id);
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	return 0;
}
