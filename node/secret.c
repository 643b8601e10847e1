/*
 * secret.c — cascaded -g: a new link secret for a child or a client, written
 * to DIR/ID.secret (mode 0600, never over an existing file), and the config
 * lines both sides need, printed. See conf.h for the contract.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "packets.h"
#include "conf.h"

int
conf_gen_secret(const char *kind, const char *id, const char *outdir, FILE *out,
    char *err, size_t errlen)
{
	return conf_gen_secret_for(NULL, kind, id, outdir, out, err, errlen);
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int
conf_gen_secret_for(const struct conf *c, const char *kind, const char *id,
    const char *outdir, FILE *out, char *err, size_t errlen)
{
	char hex[2 * CONF_SECRET_GEN_LEN + 1], dir[PATH_MAX], *path = NULL, *text = NULL;
	const char *node = c && c->node ? c->node : "NODE-ID";
	int child, fd = -1, rc = -1, len;
	enum caddr_err e;
	time_t now = time(NULL);
	struct tm tm;
	char date[32];
	size_t i;

	if (kind == NULL || id == NULL || outdir == NULL || out == NULL) {
		snprintf(err, errlen, "secret: missing argument");
		return -1;
	}
	if (strcmp(kind, "child") == 0)
		child = 1;
	else if (strcmp(kind, "client") == 0)
		child = 0;
	else {
		snprintf(err, errlen, "secret: bad kind \"%s\" (expected child or client)", kind);
		return -1;
	}
	e = child ? caddr_check_node(id) : caddr_check_client(id);
	if (e != CADDR_OK) {
		snprintf(err, errlen, "secret: bad %s id \"%s\": %s", kind, id,
		    caddr_strerror(e));
		return -1;
	}
	if (realpath(outdir, dir) == NULL) {
		snprintf(err, errlen, "secret: %s: %s", outdir, strerror(errno));
		return -1;
	}
	if (csecret_generate(CONF_SECRET_GEN_LEN, hex, sizeof(hex)) != 0) {
		snprintf(err, errlen, "secret: no randomness from OpenSSL");
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (asprintf(&path, "%s/%s.secret", dir, id) < 0) {
		path = NULL;
		snprintf(err, errlen, "secret: out of memory");
		goto fail;
	}
	if ((len = asprintf(&text, "# cascade secret for %s %s below %s, made %s\n%s\n",
	    kind, id, node, date, hex)) < 0) {
		text = NULL;
		snprintf(err, errlen, "secret: out of memory");
		goto fail;
	}
	/* O_EXCL: an existing secret is never replaced behind a running link. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
		snprintf(err, errlen, "secret: %s: %s%s", path, strerror(errno),
		    errno == EEXIST ? "; refusing to overwrite it" : "");
		goto fail;
	}
	if (fchmod(fd, 0600) == -1 || write_all(fd, text, (size_t)len) == -1 ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "secret: %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		fd = -1;
		goto fail;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "secret: %s: %s", path, strerror(errno));
		unlink(path);
		fd = -1;
		goto fail;
	}
	fd = -1;

	if (child) {
		fprintf(out, "# On %s, in its config (or links.d/%s.conf):\n", node, id);
		fprintf(out, "child %s {\n\tsecret %s\n\tclaim %s\n}\n\n", id, path, id);
		fprintf(out, "# On %s, in its config; copy %s there with mode 0600:\n", id, path);
		fprintf(out, "parent %s {\n", node);
		if (c && c->nlisten) {
			for (i = 0; i < c->nlisten; i++)
				fprintf(out, "\turl %s\n", c->listen[i].url);
		} else
			fprintf(out, "\turl tls+tcp://PARENT-HOST:4700\n");
		fprintf(out, "\tsecret %s\n", path);
		fprintf(out, "\tca %s\n}\n", c && c->tls_ca ? c->tls_ca : "/etc/cascade/ca.pem");
	} else {
		fprintf(out, "# On %s, in its config (or links.d/clients.conf):\n", node);
		fprintf(out, "client %s {\n\tsecret %s\n}\n\n", id, path);
		fprintf(out, "# For the application (libcascade); copy %s there with mode 0600:\n",
		    path);
		fprintf(out, "#   address  %s/%s\n", node, id);
		fprintf(out, "#   secret   %s\n", path);
		if (c && c->nlisten) {
			for (i = 0; i < c->nlisten; i++)
				fprintf(out, "#   url      %s\n", c->listen[i].url);
		} else
			fprintf(out, "#   url      tls+tcp://NODE-HOST:4700\n");
	}
	if (fflush(out) == EOF || ferror(out)) {
		snprintf(err, errlen, "secret: could not print the config lines");
		goto fail;
	}
	rc = 0;
fail:
	explicit_bzero(hex, sizeof(hex));
	if (text)
		explicit_bzero(text, strlen(text));
	free(text);
	free(path);
	return rc;
}
