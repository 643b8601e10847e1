/*
 * options.c — the options every command takes, the payload (argument,
 * --file or --stdin) and the checks of DST and COMMAND.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* A bad option ('?' unknown, ':' without its argument), as one usage line. */
int
opt_fail(int ch, char **argv, const char *cmd)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	/* a long option's optopt is its value, not a letter: name it as given */
	const char *what = optopt > ' ' && optopt < 127 ? opt : argv[optind - 1];

	if (ch == ':')
		return usage_fail("%s%soption %s needs an argument", cmd ? cmd : "", cmd ? ": " : "",
		    what);
	return usage_fail("%s%sunknown option %s", cmd ? cmd : "", cmd ? ": " : "", what);
}

/* Handles a common option; returns -1 if ch is not one, else an exit code (0 ok). */
int
common_opt(int ch, const char *arg)
{
	switch (ch) {
	case 'u': C.url = arg; return 0;
	case 'a': C.addr = arg; return 0;
	case 's': C.secret = arg; return 0;
	case 'c': C.ca = arg; return 0;
	case O_CERT: C.cert = arg; return 0;
	case O_KEY: C.key = arg; return 0;
	case 'S': C.state = arg; return 0;
	case 'j': C.json = 1; return 0;
	case 'v': C.verbose = 1; return 0;
	case 'T': return parse_timeout(arg);
	case 'h':
		usage_text(stdout);
		exit(EXIT_OK);
	}
	return -1;
}

int
payload_load(struct payload *pl)
{
	int fd, x;

	if ((pl->arg != NULL) + (pl->file != NULL) + pl->use_stdin > 1)
		return usage_fail("give the payload once: PAYLOAD, --file or --stdin");
	if (pl->arg != NULL) {
		pl->len = strlen(pl->arg);
		if ((pl->buf = malloc(pl->len + 1)) == NULL)
			return fail(EXIT_INTERNAL, "out of memory");
		memcpy(pl->buf, pl->arg, pl->len + 1);
		return 0;
	}
	if (pl->use_stdin)
		return read_all(0, "stdin", &pl->buf, &pl->len);
	if (pl->file != NULL) {
		if ((fd = open(pl->file, O_RDONLY | O_CLOEXEC)) == -1)
			return fail(EXIT_USAGE, "payload file %s: %s", pl->file, strerror(errno));
		x = read_all(fd, pl->file, &pl->buf, &pl->len);
		close(fd);
		return x;
	}
	pl->buf = NULL;
	pl->len = 0;
	return 0;
}

/* Checks DST and COMMAND before opening anything. */
int
check_dst_command(const char *dst, const char *command)
{
	const char *c;

	if (cascade_address_check(dst) != 0)
		return usage_fail("destination %s: %s (NODE or NODE/CLIENT)", dst,
		    cascade_strerror(CASCADE_EADDRESS));
	for (c = command; *c != '\0'; c++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-",
		    *c) == NULL)
			break;
	if (*command == '\0' || *c != '\0' || strlen(command) > CASCADE_COMMAND_MAX)
		return usage_fail("command %s: 1 to %d of A-Z a-z 0-9 . _ : / -", command,
		    CASCADE_COMMAND_MAX);
	return 0;
}
