/*
 * conf_int.h — what the config reader's files share (private to node/):
 * the parser's state, the directives' table and the helpers. conf_read.c
 * calls conf.c and conf_check.c; conf_check.c calls conf.c; conf.c calls
 * neither (its table names d_include, a handler in conf_read.c, which the
 * reader calls back through the table).
 */
#ifndef CASCADE_CONF_INT_H
#define CASCADE_CONF_INT_H

#include <sys/types.h>

#include <stddef.h>

#include "conf.h"

#define MAX_WORDS 32                 /* words on one line */
#define MAX_FILE_ERRORS 20           /* then the rest of a file is skipped */

enum ctx { CTX_TOP = 1, CTX_PARENT = 2, CTX_CHILD = 4, CTX_CLIENT = 8 };
enum blk { BLK_NONE = 0, BLK_PARENT, BLK_CHILD, BLK_CLIENT, BLK_SKIP };

/* One line, split into words. */
struct stmt {
	const char *file;
	int line;
	int argc;                        /* words, directive name first */
	char *argv[MAX_WORDS];
	int opens;                       /* the line ended with "{" */
};

struct parser;
struct dir;
typedef void dir_fn(struct parser *, const struct stmt *, const struct dir *);

struct dir {
	const char *name;
	int ctx;                         /* CTX_* where it is allowed */
	int minargs, maxargs;            /* words after the name; maxargs -1: any */
	int repeat;                      /* may be given more than once */
	int block;                       /* opens a block */
	const char *usage;               /* its arguments, for messages */
	dir_fn *fn;
	size_t off;                      /* field in struct conf, conf_parent or conf_client */
	long long lo, hi;                /* range of a number, size or duration */
};

struct parser {
	struct conf *c;
	struct conf_errors *errs;
	int oom;
	int file_errors;                 /* errors in the file being read */
	int depth;                       /* files open */
	struct { dev_t dev; ino_t ino; } stack[CONF_MAX_INCLUDE_DEPTH + 1];
	enum blk blk;
	int skip;                        /* nested braces being skipped */
	struct conf_where blk_where;
	size_t blk_idx;                  /* index in children / clients */
	struct conf_where *seen_top;     /* per directive: where it was set */
	struct conf_where *seen_blk;
	struct conf_where role_where;
	struct conf_where main_where;    /* the main file, line 0 */
};

/* conf.c: the table, errors, values */
extern const struct dir conf_dirs[];
extern const size_t conf_ndirs;
const struct dir *cp_dir_find(const char *name);
char *cp_str_dup(struct parser *, const char *);
int cp_errs_add(struct conf_errors *, const char *, int, const char *);
void cp_perr(struct parser *, const char *, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
#define SERR(p, s, ...) cp_perr((p), (s)->file, (s)->line, __VA_ARGS__)
char *cp_resolve(struct parser *, const char *, const char *);
void *cp_grow(struct parser *, void *, size_t *, size_t);
int cp_url_copy(struct conf_url *, const struct conf_url *);

/* conf_read.c */
void cp_parse_file(struct parser *, const char *, const struct stmt *);
dir_fn d_include;

/* conf_check.c */
void cp_finish(struct parser *);

#endif /* CASCADE_CONF_INT_H */
