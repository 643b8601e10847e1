/*
 * conf_read.c — reading cascade.conf(5): a file split into lines and words,
 * each line a statement dispatched through the directives' table (conf.c),
 * includes, and conf_load, which reads the main file and runs the checks
 * (conf_check.c). See conf.c for why a line parser.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBPQ
#include <libpq-fe.h>
#endif

#include "packets.h"
#include "conf.h"
#include "conf_int.h"

/* ------------------------------------------------------------ include */

static int
has_glob_magic(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.conf in a directory, sorted by name; hidden files are skipped. */
static void
include_dir(struct parser *p, const struct stmt *s, const char *dir)
{
	struct dirent *de;
	struct stat st;
	char **names = NULL, *path;
	size_t n = 0, i, len;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL) {
		SERR(p, s, "include: %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		char **slot;

		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".conf"))
			continue;
		if ((slot = cp_grow(p, &names, &n, sizeof(*slot))) == NULL)
			break;
		if ((*slot = cp_str_dup(p, de->d_name)) == NULL) {
			n--;
			break;
		}
	}
	closedir(dp);
	if (n > 0)      /* no .conf there: names is NULL, and qsort's base must not be */
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		if ((path = malloc(strlen(dir) + strlen(names[i]) + 2)) == NULL) {
			p->oom = 1;
			break;
		}
		sprintf(path, "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			cp_parse_file(p, path, s);
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
include_one(struct parser *p, const struct stmt *s, const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		SERR(p, s, "include: %s: %s", path, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode))
		include_dir(p, s, path);
	else if (S_ISREG(st.st_mode))
		cp_parse_file(p, path, s);
	else
		SERR(p, s, "include: %s: not a file or a directory", path);
}

void
d_include(struct parser *p, const struct stmt *s, const struct dir *d)
{
	char *path;
	glob_t g;
	size_t i;
	int rc;

	if ((path = cp_resolve(p, s->file, s->argv[1])) == NULL)
		return;
	if (!has_glob_magic(path)) {
		include_one(p, s, path);
		free(path);
		return;
	}
	/* A pattern that matches nothing is no error: an empty links.d/ is normal. */
	rc = glob(path, 0, NULL, &g);
	if (rc == 0) {
		for (i = 0; i < g.gl_pathc; i++)
			include_one(p, s, g.gl_pathv[i]);
	} else if (rc != GLOB_NOMATCH)
		SERR(p, s, "include: %s: %s", path, rc == GLOB_NOSPACE ? "out of memory" :
		    "cannot read a directory of the pattern");
	if (rc != GLOB_NOMATCH)
		globfree(&g);
	free(path);
}

/* ------------------------------------------------------------ lines */

static const char *
ctx_name(int ctx)
{
	switch (ctx) {
	case CTX_TOP:
		return "at the top level, outside blocks";
	case CTX_PARENT:
		return "inside a parent block";
	case CTX_CHILD | CTX_CLIENT:
		return "inside a child or client block";
	case CTX_CHILD:
		return "inside a child block";
	case CTX_TOP | CTX_CLIENT:
		return "at the top level or inside a client block";
	default:
		return "inside a parent, child or client block";
	}
}

static int
cur_ctx(const struct parser *p)
{
	switch (p->blk) {
	case BLK_PARENT:
		return CTX_PARENT;
	case BLK_CHILD:
		return CTX_CHILD;
	case BLK_CLIENT:
		return CTX_CLIENT;
	default:
		return CTX_TOP;
	}
}

static void
close_block(struct parser *p, const struct stmt *s)
{
	if (p->skip > 0)
		p->skip--;
	else if (p->blk == BLK_NONE)
		SERR(p, s, "\"}\" without a block to close");
	else
		p->blk = BLK_NONE;
}

static void
statement(struct parser *p, const struct stmt *s)
{
	const struct dir *d;
	struct conf_where *seen;
	int nargs = s->argc - 1;

	if (s->argc == 0 && s->opens) {
		/* "{" alone: a block header on the line above it (Allman style). */
		SERR(p, s, "\"{\" alone on a line: a block opens at the end of its first line, "
		    "as in \"child ID {\"");
		if (p->blk == BLK_NONE && p->skip == 0) {
			p->blk = BLK_SKIP;
			p->blk_where.file = s->file;
			p->blk_where.line = s->line;
		} else
			p->skip++;
		return;
	}
	if (p->blk == BLK_SKIP || p->skip > 0) {
		if (s->opens)
			p->skip++;
		return;
	}
	d = cp_dir_find(s->argv[0]);
	if (s->opens && p->blk != BLK_NONE) {
		SERR(p, s, "blocks do not nest: close the block opened at %s:%d first",
		    p->blk_where.file, p->blk_where.line);
		p->skip++;
		return;
	}
	if (s->opens && (d == NULL || !d->block)) {
		if (d == NULL)
			SERR(p, s, "unknown directive \"%s\"", s->argv[0]);
		else
			SERR(p, s, "%s does not open a block", d->name);
		p->blk = BLK_SKIP;
		p->blk_where.file = s->file;
		p->blk_where.line = s->line;
		return;
	}
	if (d == NULL) {
		SERR(p, s, "unknown directive \"%s\"", s->argv[0]);
		return;
	}
	if (d->block && !s->opens) {
		SERR(p, s, "%s: expected \"{\" at the end of the line, as in \"%s %s\"",
		    d->name, d->name, d->usage);
		return;
	}
	if (!(d->ctx & cur_ctx(p))) {
		SERR(p, s, "%s is only allowed %s", d->name, ctx_name(d->ctx));
		return;
	}
	if (nargs < d->minargs || (d->maxargs >= 0 && nargs > d->maxargs)) {
		SERR(p, s, "%s: %s (usage: %s %s)", d->name, nargs < d->minargs ?
		    "missing argument" : "too many arguments", d->name, d->usage);
		if (d->block) {
			p->blk = BLK_SKIP;
			p->blk_where.file = s->file;
			p->blk_where.line = s->line;
		}
		return;
	}
	seen = (p->blk == BLK_NONE ? p->seen_top : p->seen_blk) + (d - conf_dirs);
	if (!d->repeat && seen->file != NULL) {
		SERR(p, s, "%s: already set at %s:%d", d->name, seen->file, seen->line);
		if (d->block) {
			p->blk = BLK_SKIP;
			p->blk_where.file = s->file;
			p->blk_where.line = s->line;
		}
		return;
	}
	seen->file = s->file;
	seen->line = s->line;
	if (d->block) {
		memset(p->seen_blk, 0, conf_ndirs * sizeof(*p->seen_blk));
		p->blk_where.file = s->file;
		p->blk_where.line = s->line;
	}
	d->fn(p, s, d);
}

/*
 * Splits one line into words: blanks separate, "#" starts a comment,
 * "..." quotes (with \" and \\), "{" and "}" are words of their own.
 * buf gets the unquoted words. Returns 0, or -1 after reporting an error.
 */
static int
split(struct parser *p, struct stmt *s, const char *line, size_t len, char *buf)
{
	int lbrace = -1, rbrace = -1, nbrace = 0;
	size_t i = 0;
	char *o = buf;

	s->argc = 0;
	s->opens = 0;
	while (i < len) {
		char ch = line[i];

		if (ch == ' ' || ch == '\t' || ch == '\r') {
			i++;
			continue;
		}
		if (ch == '#')
			break;
		if (s->argc + nbrace >= MAX_WORDS) {
			SERR(p, s, "too many words on one line (more than %d)", MAX_WORDS);
			return -1;
		}
		if (ch == '{' || ch == '}') {
			if (ch == '{')
				lbrace = s->argc + nbrace;
			else
				rbrace = s->argc + nbrace;
			nbrace++;
			i++;
			continue;
		}
		if (nbrace) {
			SERR(p, s, "text after \"%c\": a block opens at the end of its first "
			    "line and closes with a \"}\" on a line of its own",
			    lbrace >= 0 ? '{' : '}');
			return -1;
		}
		s->argv[s->argc++] = o;
		if (ch == '"') {
			for (i++; i < len && line[i] != '"'; i++) {
				if (line[i] == '\\' && i + 1 < len &&
				    (line[i + 1] == '"' || line[i + 1] == '\\'))
					i++;
				*o++ = line[i];
			}
			if (i == len) {
				SERR(p, s, "unterminated quoted string");
				return -1;
			}
			i++;
		} else {
			while (i < len && !strchr(" \t\r#{}\"", line[i]))
				*o++ = line[i++];
			if (i < len && line[i] == '"') {
				SERR(p, s, "unexpected quote inside a word");
				return -1;
			}
		}
		*o++ = '\0';
	}
	if (nbrace > 1) {
		SERR(p, s, "one brace per line: \"{\" ends a block's first line, \"}\" "
		    "stands on a line of its own");
		return -1;
	}
	if (rbrace >= 0) {
		/* "secret x }": the line is dropped, but the block still closes. */
		if (s->argc > 0)
			SERR(p, s, "\"}\" must stand on a line of its own");
		close_block(p, s);
		return -1;
	}
	s->opens = lbrace >= 0;
	return 0;
}

static int
file_register(struct parser *p, const char *path, const char **name)
{
	struct conf *c = p->c;
	char **slot;
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		if (strcmp(c->files[i], path) == 0) {
			*name = c->files[i];
			return 0;
		}
	if ((slot = cp_grow(p, &c->files, &c->nfiles, sizeof(*slot))) == NULL)
		return -1;
	if ((*slot = cp_str_dup(p, path)) == NULL) {
		c->nfiles--;
		return -1;
	}
	*name = *slot;
	return 0;
}

/* Reads the file at path; from is the include line (NULL for the main file). */
void
cp_parse_file(struct parser *p, const char *path, const struct stmt *from)
{
	const char *efile = from ? from->file : path, *name;
	int eline = from ? from->line : 0, fd = -1, i, saved_errors = p->file_errors;
	char *data = NULL, *words = NULL;
	size_t size, off, lineno = 0;
	struct stat st;
	ssize_t r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		cp_perr(p, efile, eline, "%s%s: %s", from ? "include: " : "", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		cp_perr(p, efile, eline, "%s: not a regular file", path);
		goto done;
	}
	/* Whoever can write the config can make the daemon trust any peer. */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		cp_perr(p, efile, eline, "%s: writable by group or others (mode %04o); refused, "
		    "chmod go-w it", path, (unsigned)(st.st_mode & 07777));
		goto done;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		cp_perr(p, efile, eline, "%s: owned by uid %u, neither root nor uid %u; refused",
		    path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto done;
	}
	for (i = 0; i < p->depth; i++)
		if (p->stack[i].dev == st.st_dev && p->stack[i].ino == st.st_ino) {
			cp_perr(p, efile, eline, "include loop: %s is already being read", path);
			goto done;
		}
	if (p->depth > CONF_MAX_INCLUDE_DEPTH) {
		cp_perr(p, efile, eline, "include: %s: includes nested more than %d deep", path,
		    CONF_MAX_INCLUDE_DEPTH);
		goto done;
	}
	if (st.st_size > CONF_MAX_FILE) {
		cp_perr(p, efile, eline, "%s: too large for a config file (%lld bytes, at most %d)",
		    path, (long long)st.st_size, CONF_MAX_FILE);
		goto done;
	}
	size = (size_t)st.st_size;
	if ((data = malloc(size + 1)) == NULL || (words = malloc(CONF_MAX_LINE + 1)) == NULL) {
		p->oom = 1;
		goto done;
	}
	for (off = 0; off < size; off += (size_t)r) {
		if ((r = read(fd, data + off, size - off)) <= 0) {
			cp_perr(p, efile, eline, "%s: %s", path, r == 0 ? "file shrank while read" :
			    strerror(errno));
			goto done;
		}
	}
	if (file_register(p, path, &name))
		goto done;
	p->stack[p->depth].dev = st.st_dev;
	p->stack[p->depth].ino = st.st_ino;
	p->depth++;
	p->file_errors = 0;

	/* Editors on Windows start UTF-8 files with a byte order mark. */
	off = size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	for (; off < size && p->file_errors < MAX_FILE_ERRORS; ) {
		char *nl = memchr(data + off, '\n', size - off);
		size_t len = (nl ? (size_t)(nl - (data + off)) : size - off), j;
		const char *line = data + off;
		struct stmt s;

		off += len + 1;
		s.file = name;
		s.line = (int)++lineno;
		if (len > CONF_MAX_LINE) {
			SERR(p, &s, "line too long (%zu bytes, at most %d)", len, CONF_MAX_LINE);
			continue;
		}
		for (j = 0; j < len; j++) {
			unsigned char ch = (unsigned char)line[j];

			if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f)
				break;
		}
		if (j < len) {
			if (line[j] == '\0') {
				SERR(p, &s, "NUL byte: this is not a text file; the rest is skipped");
				break;
			}
			SERR(p, &s, "control character 0x%02x in column %zu", (unsigned)line[j],
			    j + 1);
			continue;
		}
		if (split(p, &s, line, len, words) == 0 && (s.argc > 0 || s.opens))
			statement(p, &s);
	}
	if (p->file_errors >= MAX_FILE_ERRORS && off < size)
		cp_perr(p, name, (int)lineno, "too many errors; the rest of this file is skipped");
	if (p->blk != BLK_NONE) {
		/* Blocks never span files. */
		cp_perr(p, p->blk_where.file, p->blk_where.line,
		    "block opened here is never closed (missing \"}\")");
		p->blk = BLK_NONE;
		p->skip = 0;
	}
	p->depth--;
done:
	if (fd != -1)
		close(fd);
	free(data);
	free(words);
	p->file_errors = saved_errors;
}

/* ------------------------------------------------------------ load */

int
conf_load(const char *path, struct conf **confp, struct conf_errors *errs)
{
	struct parser p;
	size_t before = errs->n + errs->dropped;
	struct conf *c;

	*confp = NULL;
	memset(&p, 0, sizeof(p));
	p.errs = errs;
	p.seen_top = calloc(conf_ndirs, sizeof(*p.seen_top));
	p.seen_blk = calloc(conf_ndirs, sizeof(*p.seen_blk));
	if ((c = calloc(1, sizeof(*c))) == NULL || p.seen_top == NULL ||
	    p.seen_blk == NULL || (c->path = strdup(path)) == NULL) {
		free(p.seen_top);
		free(p.seen_blk);
		conf_free(c);
		cp_errs_add(errs, path, 0, "out of memory");
		return -1;
	}
	p.c = c;
	c->role = CONF_ROLE_NODE;
	c->journal_map_size = CONF_DEF_MAP_SIZE;
	c->journal_disk_floor = CONF_DEF_DISK_FLOOR;
	c->sync = 1;
	c->retention_ms = CONF_DEF_RETENTION_MS;
	c->audit_index = -1;            /* these two by role, once the role is known */
	c->audit_anchor_ms = -1;
	c->local_delivery = CONF_DELIVERY_VIA_MASTER;
	c->max_packet = CONF_DEF_MAX_PACKET;
	c->max_batch = CONF_DEF_MAX_BATCH;
	c->queue_window = CONF_DEF_QUEUE_WINDOW;
	c->pull_wait_ms = CONF_DEF_PULL_WAIT_MS;
	c->session_idle_ms = CONF_DEF_SESSION_IDLE_MS;
	c->auth_fail_max = CONF_DEF_AUTH_FAIL_MAX;
	c->push_rate = CONF_DEF_PUSH_RATE;
	c->quota_packets = CONF_DEF_QUOTA_PACKETS;
	c->quota_bytes = CONF_DEF_QUOTA_BYTES;
	c->offline_notify_after_ms = CONF_DEF_OFFLINE_NOTIFY_AFTER_MS;
	c->http_max_conns = CONF_DEF_HTTP_MAX_CONNS;
	c->http_max_conns_addr = CONF_DEF_HTTP_MAX_CONNS_ADDR;
	c->http_request_timeout_ms = CONF_DEF_HTTP_REQUEST_TIMEOUT_MS;

	cp_parse_file(&p, path, NULL);
	p.main_where.file = c->nfiles ? c->files[0] : c->path;
	p.main_where.line = 0;
	/* Without a readable main file every other complaint would be noise. */
	if (c->nfiles > 0)
		cp_finish(&p);
	if (p.oom)
		cp_errs_add(errs, path, 0, "out of memory");
	free(p.seen_top);
	free(p.seen_blk);
	if (p.oom || errs->n + errs->dropped > before) {
		conf_free(c);
		return -1;
	}
	*confp = c;
	return 0;
}
