/*
 * main.c — cascade(1), the command-line client: send, listen, request and
 * cancel for scripts and operators, batch for many packets in one session;
 * on libcascade's public API only.
 *
 *	cascade [options] send [--receipt | --wait-reply] [--ttl MS] [--urgent]
 *	    DST COMMAND [PAYLOAD | --file F | --stdin]
 *	cascade [options] listen [--count N] [--reply-with CMD]
 *	cascade [options] request [--ttl MS] DST COMMAND [PAYLOAD | --file F | --stdin]
 *	cascade [options] cancel ID
 *	cascade [options] batch [--wait-replies SECONDS]
 *
 * One file per command (cli.h lists them), main.c only dispatches. One
 * handle per run. The main thread issues the calls and waits on a condition
 * variable; the callbacks (on the SDK's thread) record what happened under
 * the same mutex. Every wait is bounded by -T and ends early
 * when the node refuses us (exit 3): the SDK itself would retry slowly
 * forever, which is right for a daemon but not for a script.
 *
 * Caveat, from the SDK's design: a handle with a packet callback takes
 * every packet queued for its address. send --receipt / --wait-reply,
 * request and cancel therefore use one, and say on stderr what else they
 * took; run them under another client address than a listener's (a second
 * session for the same address would also take the listener's over).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void
usage_text(FILE *f)
{
	fputs(
	    "usage: cascade [options] command [command options] [arguments]\n"
	    "\n"
	    "  send [--receipt | --wait-reply] [--ttl MS] [--urgent]\n"
	    "       DST COMMAND [PAYLOAD | --file F | --stdin]\n"
	    "                    queue a packet; exit 0 once the node has custody\n"
	    "  listen [--count N] [--reply-with CMD]\n"
	    "                    print incoming packets (text, or JSON lines with -j)\n"
	    "  request [--ttl MS] DST COMMAND [PAYLOAD | --file F | --stdin]\n"
	    "                    send and print the reply\n"
	    "  cancel ID         cancel a packet sent with the same -S state directory\n"
	    "  batch [--wait-replies SECONDS]\n"
	    "                    one session for many packets: JSON lines of operations on\n"
	    "                    stdin, results and incoming packets as JSON lines on stdout\n"
	    "\n"
	    "options (also from CASCADE_URL, CASCADE_ADDRESS, CASCADE_SECRET, CASCADE_CA,\n"
	    "CASCADE_STATE):\n"
	    "  -u URL            the node (tcp://, tls+tcp://, http://, https://)\n"
	    "  -a NODE/CLIENT    our address\n"
	    "  -s FILE           our secret file (mode 0600)\n"
	    "  -c FILE           CA certificate for tls+tcp:// and https://\n"
	    "  --cert FILE --key FILE\n"
	    "                    our certificate, for a node that asks for one (mutual TLS)\n"
	    "  -S DIR            state directory (outbox and delivered ids survive restarts)\n"
	    "  -j, --json        JSON output\n"
	    "  -v                the SDK's log on stderr\n"
	    "  -T SECONDS        overall timeout (default 30; listen: none; 0: none;\n"
	    "                    batch: each wait for custody, and its requests' timeout)\n"
	    "\n"
	    "exit: 0 ok, 1 usage, 2 config or secret, 3 refused by the node, 4 timeout,\n"
	    "      5 delivery failed, 6 internal error. See cascade(1).\n", f);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd, *e;
	int ch, x, fd;

	/* a reply command that does not read its stdin must not kill us */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * With 0, 1 or 2 closed, the state directory or the node's socket
	 * would get that descriptor and our output would land in it.
	 */
	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
				return EXIT_INTERNAL;
			if (fd == STDOUT_FILENO)
				stdout_closed = 1;
		}
	while ((ch = getopt_long(argc, argv, COMMON_SHORT "V", opts, NULL)) != -1) {
		if ((x = common_opt(ch, optarg)) > 0)
			return x;
		if (x == 0)
			continue;
		if (ch == 'V') {
			printf("cascade %s\n", cascade_version(NULL));
			return EXIT_OK;
		}
		return opt_fail(ch, argv, NULL);
	}
	if (optind >= argc) {
		usage_text(stderr);
		return EXIT_USAGE;
	}
	/* the environment fills in what the command line left out */
	if (C.url == NULL && (e = getenv("CASCADE_URL")) != NULL && *e != '\0')
		C.url = e;
	if (C.addr == NULL && (e = getenv("CASCADE_ADDRESS")) != NULL && *e != '\0')
		C.addr = e;
	if (C.secret == NULL && (e = getenv("CASCADE_SECRET")) != NULL && *e != '\0')
		C.secret = e;
	if (C.ca == NULL && (e = getenv("CASCADE_CA")) != NULL && *e != '\0')
		C.ca = e;
	if (C.state == NULL && (e = getenv("CASCADE_STATE")) != NULL && *e != '\0')
		C.state = e;
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;             /* getopt starts over on the command's arguments */
	if (strcmp(cmd, "send") == 0)
		return cmd_send(argc, argv, 0);
	if (strcmp(cmd, "request") == 0)
		return cmd_send(argc, argv, 1);
	if (strcmp(cmd, "listen") == 0)
		return cmd_listen(argc, argv);
	if (strcmp(cmd, "cancel") == 0)
		return cmd_cancel(argc, argv);
	if (strcmp(cmd, "batch") == 0)
		return cmd_batch(argc, argv);
	if (strcmp(cmd, "help") == 0) {
		usage_text(stdout);
		return EXIT_OK;
	}
	return usage_fail("unknown command %s (send, listen, request, cancel, batch)", cmd);
}
