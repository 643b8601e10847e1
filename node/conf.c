/*
 * conf.c — reads cascade.conf(5) into a struct conf: the directives' table and
 * their handlers, values, errors and the API (conf_load is in conf_read.c).
 *
 * A hand-written line parser rather than a yacc grammar: the format is one
 * directive per line, blocks open at the end of a line and close with a "}"
 * of their own, so a line is the unit of both parsing and error recovery.
 * Every error is collected as "file:line: message" and parsing goes on; the
 * load fails at the end when anything was reported (as OpenSMTPD's parse.y).
 *
 * Plain malloc, no fatal(): the loader also serves live reloads, where a bad
 * new config must leave the running one alone.
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

static dir_fn d_node, d_role, d_path, d_key, d_size, d_bool, d_dur, d_uint,
    d_delivery, d_listen, d_block, d_url, d_transport, d_secret, d_proxy,
    d_reconnect, d_carriers, d_prefer, d_claim, d_advertise, d_metrics, d_journal_key;
static dir_fn d_notify_url, d_notify_after, d_audit_sink;

#define C(f) offsetof(struct conf, f)
#define P(f) offsetof(struct conf_parent, f)
#define CL(f) offsetof(struct conf_client, f)
#define DAY (86400LL * 1000)

const struct dir conf_dirs[] = {
	{ "node", CTX_TOP, 1, 1, 0, 0, "ID", d_node, C(node), 0, 0 },
	{ "role", CTX_TOP, 1, 1, 0, 0, "node|master", d_role, 0, 0, 0 },
	{ "data-dir", CTX_TOP, 1, 1, 0, 0, "PATH", d_path, C(data_dir), 0, 0 },
	{ "journal-map-size", CTX_TOP, 1, 1, 0, 0, "SIZE", d_size, C(journal_map_size),
	    1LL << 20, 1LL << 50 },
	{ "journal-max-size", CTX_TOP, 1, 1, 0, 0, "SIZE", d_size, C(journal_max_size),
	    0, 1LL << 50 },
	{ "journal-disk-floor", CTX_TOP, 1, 1, 0, 0, "SIZE", d_size, C(journal_disk_floor),
	    0, 1LL << 50 },
	{ "journal-key", CTX_TOP, 1, JCRYPT_MAX_KEYS, 0, 0, "FILE [OLD-FILE ...]", d_journal_key,
	    0, 0, 0 },
	{ "sync", CTX_TOP, 1, 1, 0, 0, "yes|no", d_bool, C(sync), 0, 0 },
	{ "retention", CTX_TOP, 1, 1, 0, 0, "DURATION", d_dur, C(retention_ms),
	    1000, 100 * 365 * DAY },
	{ "local-delivery", CTX_TOP, 1, 1, 0, 0, "via-master|direct", d_delivery, 0, 0, 0 },
	{ "audit-copy", CTX_TOP, 1, 1, 0, 0, "yes|no", d_bool, C(audit_copy), 0, 0 },
	{ "audit-index", CTX_TOP, 1, 1, 0, 0, "yes|no", d_bool, C(audit_index), 0, 0 },
	{ "audit-anchor-interval", CTX_TOP, 1, 1, 0, 0, "DURATION", d_dur,
	    C(audit_anchor_ms), 0, 366 * DAY },
	{ "listen", CTX_TOP, 1, 1, 1, 0, "URL", d_listen, 0, 0, 0 },
	{ "allow-plain", CTX_TOP, 1, 1, 0, 0, "yes|no", d_bool, C(allow_plain), 0, 0 },
	{ "tls-cert", CTX_TOP, 1, 1, 0, 0, "PATH", d_path, C(tls_cert), 1, 0 },
	{ "tls-key", CTX_TOP, 1, 1, 0, 0, "PATH", d_key, C(tls_key), 1, 0 },
	{ "tls-ca", CTX_TOP, 1, 1, 0, 0, "PATH", d_path, C(tls_ca), 1, 0 },
	{ "control", CTX_TOP, 1, 1, 0, 0, "PATH", d_path, C(control), 0, 0 },
	{ "metrics-listen", CTX_TOP, 1, 1, 0, 0, "ADDR:PORT", d_metrics, 0, 0, 0 },
	{ "max-packet", CTX_TOP, 1, 1, 0, 0, "SIZE", d_size, C(max_packet),
	    1, 1LL << 30 },
	{ "max-batch", CTX_TOP, 1, 1, 0, 0, "N", d_uint, C(max_batch), 1, 100000 },
	{ "queue-window", CTX_TOP, 1, 1, 0, 0, "N", d_uint, C(queue_window), 1, 10000000 },
	{ "pull-wait", CTX_TOP, 1, 1, 0, 0, "DURATION", d_dur, C(pull_wait_ms),
	    1, DAY },
	{ "session-idle", CTX_TOP, 1, 1, 0, 0, "DURATION", d_dur, C(session_idle_ms),
	    1, DAY },
	{ "auth-fail-max", CTX_TOP, 1, 1, 0, 0, "N", d_uint, C(auth_fail_max), 1, 1000000 },
	{ "push-rate", CTX_TOP, 1, 1, 0, 0, "N", d_uint, C(push_rate), 0, 1000000 },
	{ "quota-packets", CTX_TOP, 1, 1, 0, 0, "N", d_uint, C(quota_packets), 0, 100000000 },
	{ "quota-bytes", CTX_TOP, 1, 1, 0, 0, "SIZE", d_size, C(quota_bytes), 0, 1LL << 50 },
	{ "http-max-conns", CTX_TOP, 1, 1, 0, 0, "N", d_uint, C(http_max_conns), 1, 1000000 },
	{ "http-max-conns-per-address", CTX_TOP, 1, 1, 0, 0, "N", d_uint,
	    C(http_max_conns_addr), 1, 1000000 },
	{ "http-request-timeout", CTX_TOP, 1, 1, 0, 0, "DURATION", d_dur,
	    C(http_request_timeout_ms), 100, DAY },
	/* offline notices and delay warnings */
	{ "offline-notify-url", CTX_TOP, 1, 1, 0, 0, "URL", d_notify_url, 0, 0, 0 },
	{ "offline-notify-after", CTX_TOP | CTX_CLIENT, 1, 1, 0, 0, "DURATION", d_notify_after,
	    C(offline_notify_after_ms), 100, 30 * DAY },
	{ "delay-warning-after", CTX_TOP, 1, 1, 0, 0, "DURATION", d_dur,
	    C(delay_warning_after_ms), 0, 30 * DAY },
	/* the PostgreSQL audit sink (audit_sink.c) */
	{ "audit-sink", CTX_TOP, 1, 1, 0, 0, "postgresql://...", d_audit_sink, 0, 0, 0 },
	{ "parent", CTX_TOP, 1, 1, 0, 1, "ID {", d_block, 0, 0, 0 },
	{ "child", CTX_TOP, 1, 1, 1, 1, "ID {", d_block, 0, 0, 0 },
	{ "client", CTX_TOP, 1, 1, 1, 1, "ID {", d_block, 0, 0, 0 },
	{ "include", CTX_TOP, 1, 1, 1, 0, "PATH", d_include, 0, 0, 0 },
	{ "url", CTX_PARENT, 1, 1, 1, 0, "URL", d_url, 0, 0, 0 },
	{ "transport", CTX_PARENT, 1, 1, 0, 0, "tcp|http|auto", d_transport, 0, 0, 0 },
	{ "secret", CTX_PARENT | CTX_CHILD | CTX_CLIENT, 1, 1, 0, 0, "PATH", d_secret, 0, 0, 0 },
	{ "ca", CTX_PARENT, 1, 1, 0, 0, "PATH", d_path, P(ca), 1, 0 },
	{ "cert", CTX_PARENT, 1, 1, 0, 0, "PATH", d_path, P(cert), 1, 0 },
	{ "key", CTX_PARENT, 1, 1, 0, 0, "PATH", d_key, P(key), 1, 0 },
	{ "proxy", CTX_PARENT, 1, 1, 0, 0, "URL", d_proxy, 0, 0, 0 },
	{ "reconnect", CTX_PARENT, 2, 2, 0, 0, "MIN MAX", d_reconnect, 0, 1, DAY },
	{ "dead-timeout", CTX_PARENT, 1, 1, 0, 0, "DURATION", d_dur, P(dead_timeout_ms),
	    100, DAY },
	{ "push-window", CTX_PARENT, 1, 1, 0, 0, "N", d_uint, P(push_window), 1, 64 },
	{ "carriers", CTX_CHILD | CTX_CLIENT, 1, 2, 0, 0, "tcp|http ...", d_carriers, 0, 0, 0 },
	{ "prefer", CTX_CHILD, 1, 1, 0, 0, "tcp|http", d_prefer, 0, 0, 0 },
	{ "claim", CTX_CHILD, 1, -1, 1, 0, "PATTERN ...", d_claim, 0, 0, 0 },
	{ "advertise", CTX_CHILD, 1, -1, 1, 0, "URL ...", d_advertise, 0, 0, 0 },
};
const size_t conf_ndirs = sizeof(conf_dirs) / sizeof(conf_dirs[0]);

/* The directive called name in the table, or NULL. */
const struct dir *
cp_dir_find(const char *name)
{
	size_t i;

	for (i = 0; i < conf_ndirs; i++)
		if (strcmp(conf_dirs[i].name, name) == 0)
			return &conf_dirs[i];
	return NULL;
}

/* ------------------------------------------------------------ errors */

char *
cp_str_dup(struct parser *p, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		p->oom = 1;
	return d;
}

int
cp_errs_add(struct conf_errors *e, const char *file, int line, const char *msg)
{
	struct conf_error *er;
	size_t len;

	if (e->n >= CONF_MAX_ERRORS) {
		e->dropped++;
		return -1;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		void *v = realloc(e->v, cap * sizeof(*e->v));

		if (v == NULL) {
			e->dropped++;
			return -1;
		}
		e->v = v;
		e->cap = cap;
	}
	er = &e->v[e->n];
	memset(er, 0, sizeof(*er));
	len = strlen(file) + strlen(msg) + 16;
	er->file = strdup(file);
	er->msg = strdup(msg);
	er->text = malloc(len);
	if (er->file == NULL || er->msg == NULL || er->text == NULL) {
		free(er->file);
		free(er->msg);
		free(er->text);
		e->dropped++;
		return -1;
	}
	er->line = line;
	if (line > 0)
		snprintf(er->text, len, "%s:%d: %s", file, line, msg);
	else if (strncmp(msg, file, strlen(file)) == 0 && msg[strlen(file)] == ':')
		snprintf(er->text, len, "%s", msg);    /* it names the file already */
	else
		snprintf(er->text, len, "%s: %s", file, msg);
	e->n++;
	return 0;
}

/* By file, then line, then the order they were found in (qsort is not stable). */
static int
cmp_error(const void *a, const void *b)
{
	const struct conf_error *x = *(const struct conf_error * const *)a;
	const struct conf_error *y = *(const struct conf_error * const *)b;
	int c = strcmp(x->file, y->file);

	if (c != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x < y ? -1 : x > y;
}

void
cp_perr(struct parser *p, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cp_errs_add(p->errs, file, line, msg);
	p->file_errors++;
}

void
conf_errors_free(struct conf_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].msg);
		free(e->v[i].text);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

void
conf_errors_print(const struct conf_errors *e, FILE *f)
{
	const struct conf_error **sorted;
	size_t i;

	if ((sorted = calloc(e->n + 1, sizeof(*sorted))) == NULL) {
		for (i = 0; i < e->n; i++)
			fprintf(f, "%s\n", e->v[i].text);
	} else {
		for (i = 0; i < e->n; i++)
			sorted[i] = &e->v[i];
		qsort(sorted, e->n, sizeof(*sorted), cmp_error);
		for (i = 0; i < e->n; i++)
			fprintf(f, "%s\n", sorted[i]->text);
		free(sorted);
	}
	if (e->dropped)
		fprintf(f, "(%zu more errors not shown)\n", e->dropped);
}

/* ------------------------------------------------------------ values */

/* A path relative to the directory of the file that names it. */
char *
cp_resolve(struct parser *p, const char *file, const char *path)
{
	const char *slash = strrchr(file, '/');
	size_t dlen;
	char *r;

	if (path[0] == '/' || slash == NULL)
		return cp_str_dup(p, path);
	dlen = (size_t)(slash - file);
	if ((r = malloc(dlen + 1 + strlen(path) + 1)) == NULL) {
		p->oom = 1;
		return NULL;
	}
	memcpy(r, file, dlen);
	r[dlen] = '/';
	strcpy(r + dlen + 1, path);
	return r;
}

static int
parse_number(const char *s, unsigned long long *v, const char **end)
{
	unsigned long long n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (ULLONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (unsigned long long)(*s - '0');
	}
	*v = n;
	*end = s;
	return 0;
}

/* SIZE: a number of bytes with an optional K, M, G or T suffix (powers of 1024). */
static int
parse_size(const char *s, unsigned long long *v)
{
	unsigned long long n, mul = 1;
	const char *e;

	if (parse_number(s, &n, &e))
		return -1;
	switch (*e) {
	case '\0':
		break;
	case 'k': case 'K': mul = 1ULL << 10; e++; break;
	case 'm': case 'M': mul = 1ULL << 20; e++; break;
	case 'g': case 'G': mul = 1ULL << 30; e++; break;
	case 't': case 'T': mul = 1ULL << 40; e++; break;
	default:
		return -1;
	}
	if (*e == 'b' || *e == 'B')
		e++;
	if (*e != '\0' || (n != 0 && mul > ULLONG_MAX / n))
		return -1;
	*v = n * mul;
	return 0;
}

/* DURATION: a number with an optional ms, s, m, h or d suffix; bare means seconds. */
static int
parse_duration(const char *s, long long *ms)
{
	unsigned long long n, mul;
	const char *e;

	if (parse_number(s, &n, &e))
		return -1;
	if (strcmp(e, "ms") == 0)
		mul = 1;
	else if (*e == '\0' || strcmp(e, "s") == 0)
		mul = 1000;
	else if (strcmp(e, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(e, "h") == 0)
		mul = 3600 * 1000;
	else if (strcmp(e, "d") == 0)
		mul = 86400 * 1000;
	else
		return -1;
	if (n > (unsigned long long)LLONG_MAX / mul)
		return -1;
	*ms = (long long)(n * mul);
	return 0;
}

static int
parse_yesno(const char *s)
{
	if (strcmp(s, "yes") == 0)
		return 1;
	if (strcmp(s, "no") == 0)
		return 0;
	return -1;
}

static int
parse_carrier(const char *s)
{
	if (strcmp(s, "tcp") == 0)
		return CONF_CARRIER_TCP;
	if (strcmp(s, "http") == 0)
		return CONF_CARRIER_HTTP;
	return 0;
}

/*
 * scheme://host:port[/path]. host may be an [IPv6] literal; an empty host
 * (all addresses) only when empty_host is set (listeners). Returns 0, or -1
 * with msg set.
 */
static int
url_parse(const char *s, struct conf_url *u, int empty_host, char *msg, size_t len)
{
	static const struct { const char *prefix; enum conf_scheme scheme; int carrier, tls; }
	    schemes[] = {
		{ "tcp://", CONF_URL_TCP, CONF_CARRIER_TCP, 0 },
		{ "tls+tcp://", CONF_URL_TLS_TCP, CONF_CARRIER_TCP, 1 },
		{ "http://", CONF_URL_HTTP, CONF_CARRIER_HTTP, 0 },
		{ "https://", CONF_URL_HTTPS, CONF_CARRIER_HTTP, 1 },
	};
	const char *h, *he, *ps, *pe;
	unsigned long long port;
	size_t i, si, hlen;

	memset(u, 0, sizeof(*u));
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(s, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			break;
	if (i == sizeof(schemes) / sizeof(schemes[0])) {
		snprintf(msg, len, "bad url \"%s\" (expected tcp://, tls+tcp://, http:// or "
		    "https:// then host:port)", s);
		return -1;
	}
	si = i;
	h = s + strlen(schemes[si].prefix);
	if (*h == '[') {
		if ((he = strchr(h, ']')) == NULL) {
			snprintf(msg, len, "bad url \"%s\": no ']' after the IPv6 address", s);
			return -1;
		}
		ps = he + 1;
		h++;
	} else {
		he = h + strcspn(h, ":/");
		ps = he;
	}
	hlen = (size_t)(he - h);
	for (i = 0; i < hlen; i++) {
		unsigned char ch = (unsigned char)h[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' ||
		    ch == ':')) {
			snprintf(msg, len, "bad url \"%s\": bad character in the host", s);
			return -1;
		}
	}
	if (hlen == 0 && !empty_host) {
		snprintf(msg, len, "bad url \"%s\": no host", s);
		return -1;
	}
	if (*ps != ':' || parse_number(ps + 1, &port, &pe) || port == 0 || port > 65535) {
		snprintf(msg, len, "bad url \"%s\": expected :PORT (1-65535) after the host", s);
		return -1;
	}
	if (*pe != '\0' && *pe != '/') {
		snprintf(msg, len, "bad url \"%s\": junk after the port", s);
		return -1;
	}
	u->scheme = schemes[si].scheme;
	u->carrier = schemes[si].carrier;
	u->tls = schemes[si].tls;
	if (u->carrier == CONF_CARRIER_TCP && *pe != '\0') {
		snprintf(msg, len, "bad url \"%s\": tcp urls take no path", s);
		return -1;
	}
	u->port = (uint16_t)port;
	u->url = strdup(s);
	u->host = strndup(h, hlen);
	u->path = strdup(*pe ? pe : (u->carrier == CONF_CARRIER_HTTP ? "/" : ""));
	if (u->url == NULL || u->host == NULL || u->path == NULL) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	return 0;
}

static void
url_free(struct conf_url *u)
{
	free(u->url);
	free(u->host);
	free(u->path);
}

int
cp_url_copy(struct conf_url *d, const struct conf_url *s)
{
	*d = *s;
	d->url = strdup(s->url);
	d->host = strdup(s->host);
	d->path = strdup(s->path);
	if (d->url == NULL || d->host == NULL || d->path == NULL) {
		url_free(d);
		memset(d, 0, sizeof(*d));
		return -1;
	}
	return 0;
}

/* Appends one element of size sz to *v (count *n); returns it zeroed or NULL. */
void *
cp_grow(struct parser *p, void *vp, size_t *n, size_t sz)
{
	void **v = vp;
	char *nv = realloc(*v, (*n + 1) * sz);

	if (nv == NULL) {
		p->oom = 1;
		return NULL;
	}
	*v = nv;
	memset(nv + *n * sz, 0, sz);
	return nv + (*n)++ * sz;
}

/* ------------------------------------------------------------ directives */

static void *
field(struct parser *p, const struct dir *d)
{
	if (p->blk == BLK_PARENT)
		return (char *)p->c->parent + d->off;
	if (p->blk == BLK_CLIENT)
		return (char *)&p->c->clients[p->blk_idx] + d->off;
	return (char *)p->c + d->off;
}

static struct conf_child *
cur_child(struct parser *p)
{
	return &p->c->children[p->blk_idx];
}

static struct conf_client *
cur_client(struct parser *p)
{
	return &p->c->clients[p->blk_idx];
}

static void
d_node(struct parser *p, const struct stmt *s, const struct dir *d)
{
	enum caddr_err e = caddr_check_node(s->argv[1]);

	if (e != CADDR_OK) {
		SERR(p, s, "node: bad id \"%s\": %s (expected [a-z0-9][a-z0-9-]{0,62})",
		    s->argv[1], caddr_strerror(e));
		return;
	}
	free(p->c->node);
	p->c->node = cp_str_dup(p, s->argv[1]);
}

static void
d_role(struct parser *p, const struct stmt *s, const struct dir *d)
{
	if (strcmp(s->argv[1], "node") == 0)
		p->c->role = CONF_ROLE_NODE;
	else if (strcmp(s->argv[1], "master") == 0)
		p->c->role = CONF_ROLE_MASTER;
	else {
		SERR(p, s, "role: bad value \"%s\" (expected node or master)", s->argv[1]);
		return;
	}
	p->role_where.file = s->file;
	p->role_where.line = s->line;
}

/* A path; d->lo set means the file must exist and be readable now. */
static void
d_path(struct parser *p, const struct stmt *s, const struct dir *d)
{
	char **f = field(p, d);
	char *r;

	if (s->argv[1][0] == '\0') {
		SERR(p, s, "%s: empty path", d->name);
		return;
	}
	if ((r = cp_resolve(p, s->file, s->argv[1])) == NULL)
		return;
	if (d->lo && access(r, R_OK) == -1)
		SERR(p, s, "%s: %s: %s", d->name, r, strerror(errno));
	free(*f);
	*f = r;
}

/* A private key: a path, refused like a secret file when others may read it. */
static void
d_key(struct parser *p, const struct stmt *s, const struct dir *d)
{
	char **f = field(p, d);
	char *r, msg[512];

	if (s->argv[1][0] == '\0') {
		SERR(p, s, "%s: empty path", d->name);
		return;
	}
	if ((r = cp_resolve(p, s->file, s->argv[1])) == NULL)
		return;
	if (cfile_private(r, msg, sizeof(msg)) != 0)
		SERR(p, s, "%s: %s", d->name, msg);
	free(*f);
	*f = r;
}

static void
d_size(struct parser *p, const struct stmt *s, const struct dir *d)
{
	unsigned long long v;

	if (parse_size(s->argv[1], &v)) {
		SERR(p, s, "%s: bad size \"%s\" (expected a number with an optional K, M or G "
		    "suffix)", d->name, s->argv[1]);
		return;
	}
	if (v < (unsigned long long)d->lo || v > (unsigned long long)d->hi) {
		SERR(p, s, "%s: %s is out of range (%lld to %lld bytes)", d->name, s->argv[1],
		    d->lo, d->hi);
		return;
	}
	*(uint64_t *)field(p, d) = v;
}

static void
d_bool(struct parser *p, const struct stmt *s, const struct dir *d)
{
	int v = parse_yesno(s->argv[1]);

	if (v < 0) {
		SERR(p, s, "%s: bad value \"%s\" (expected yes or no)", d->name, s->argv[1]);
		return;
	}
	*(int *)field(p, d) = v;
}

static void
d_dur(struct parser *p, const struct stmt *s, const struct dir *d)
{
	long long v;

	if (parse_duration(s->argv[1], &v)) {
		SERR(p, s, "%s: bad duration \"%s\" (expected a number with an optional ms, s, "
		    "m, h or d suffix)", d->name, s->argv[1]);
		return;
	}
	if (v < d->lo || v > d->hi) {
		SERR(p, s, "%s: %s is out of range (%lldms to %lldms)", d->name, s->argv[1],
		    d->lo, d->hi);
		return;
	}
	*(int64_t *)field(p, d) = v;
}

/* offline-notify-after: the node's, or in a client block that client's own */
static void
d_notify_after(struct parser *p, const struct stmt *s, const struct dir *d)
{
	struct dir cd = *d;

	if (p->blk == BLK_CLIENT)
		cd.off = CL(offline_notify_after_ms);
	d_dur(p, s, &cd);
}

static void
d_uint(struct parser *p, const struct stmt *s, const struct dir *d)
{
	unsigned long long v;
	const char *e;

	if (parse_number(s->argv[1], &v, &e) || *e != '\0' ||
	    v < (unsigned long long)d->lo || v > (unsigned long long)d->hi) {
		SERR(p, s, "%s: bad value \"%s\" (expected a number from %lld to %lld)",
		    d->name, s->argv[1], d->lo, d->hi);
		return;
	}
	*(unsigned *)field(p, d) = (unsigned)v;
}

/* offline-notify-url: where notify.c POSTs its notices; http or https only. */
static void
d_notify_url(struct parser *p, const struct stmt *s, const struct dir *d)
{
	const char *u = s->argv[1];

	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
		SERR(p, s, "%s: \"%s\" is not an http:// or https:// URL", d->name, u);
		return;
	}
	free(p->c->offline_notify_url);
	p->c->offline_notify_url = cp_str_dup(p, u);
}

/*
 * audit-sink postgresql://[user@]host[:port]/db[?param=value...] (node/audit_sink.c):
 * a libpq connection URI, checked here by libpq's own parser. Only in a
 * cascaded built with libpq.
 */
static void
d_audit_sink(struct parser *p, const struct stmt *s, const struct dir *d)
{
	const char *u = s->argv[1];

	if (strncmp(u, "postgresql://", 13) != 0 && strncmp(u, "postgres://", 11) != 0) {
		SERR(p, s, "%s: \"%s\" is not a postgresql:// URL", d->name, u);
		return;
	}
#ifdef HAVE_LIBPQ
	{
		PQconninfoOption *o;
		char *err = NULL;

		if ((o = PQconninfoParse(u, &err)) == NULL) {
			SERR(p, s, "%s: bad URL: %s", d->name, err != NULL ? err : "out of memory");
			PQfreemem(err);
			return;
		}
		PQconninfoFree(o);
	}
#else
	SERR(p, s, "%s: this cascaded was built without libpq: install libpq-dev "
	    "(apt-get install -y libpq-dev), run ./configure and make again", d->name);
	return;
#endif
	free(p->c->audit_sink);
	p->c->audit_sink = cp_str_dup(p, u);
	p->c->audit_sink_where.file = s->file;
	p->c->audit_sink_where.line = s->line;
}

static void
d_delivery(struct parser *p, const struct stmt *s, const struct dir *d)
{
	if (strcmp(s->argv[1], "via-master") == 0)
		p->c->local_delivery = CONF_DELIVERY_VIA_MASTER;
	else if (strcmp(s->argv[1], "direct") == 0)
		p->c->local_delivery = CONF_DELIVERY_DIRECT;
	else
		SERR(p, s, "local-delivery: bad value \"%s\" (expected via-master or direct)",
		    s->argv[1]);
}

/*
 * metrics-listen ADDR:PORT (ops: node/metrics.c): where /metrics is served.
 * ADDR is an IPv4 address, a name, or [IPv6]; PORT 1-65535.
 */
static void
d_metrics(struct parser *p, const struct stmt *s, const struct dir *d)
{
	const char *w = s->argv[1], *colon = strrchr(w, ':'), *e;
	unsigned long long port;
	size_t hlen;

	if (colon == NULL || colon == w || parse_number(colon + 1, &port, &e) || *e != '\0' ||
	    port < 1 || port > 65535) {
		SERR(p, s, "metrics-listen: bad address \"%s\" (expected ADDR:PORT, e.g. "
		    "127.0.0.1:9464)", w);
		return;
	}
	hlen = (size_t)(colon - w);
	if (w[0] == '[' && hlen >= 2 && w[hlen - 1] == ']') {
		w++;
		hlen -= 2;
	}
	free(p->c->metrics_host);
	if ((p->c->metrics_host = malloc(hlen + 1)) == NULL) {
		p->oom = 1;
		return;
	}
	memcpy(p->c->metrics_host, w, hlen);
	p->c->metrics_host[hlen] = '\0';
	p->c->metrics_port = (int)port;
}

/* Parses one url word into a new element of *v; checks duplicates in the list. */
static void
add_url(struct parser *p, const struct stmt *s, const char *word, struct conf_url **v,
    size_t *n, int empty_host, const char *what)
{
	struct conf_url u, *nu;
	char msg[512];
	size_t i;

	if (url_parse(word, &u, empty_host, msg, sizeof(msg))) {
		url_free(&u);
		SERR(p, s, "%s: %s", what, msg);
		return;
	}
	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].url, u.url) == 0) {
			SERR(p, s, "%s %s: already given at %s:%d", what, u.url,
			    (*v)[i].where.file, (*v)[i].where.line);
			url_free(&u);
			return;
		}
	if ((nu = cp_grow(p, v, n, sizeof(**v))) == NULL) {
		url_free(&u);
		return;
	}
	u.where.file = s->file;
	u.where.line = s->line;
	*nu = u;
}

static void
d_listen(struct parser *p, const struct stmt *s, const struct dir *d)
{
	add_url(p, s, s->argv[1], &p->c->listen, &p->c->nlisten, 1, "listen");
}

static void
d_url(struct parser *p, const struct stmt *s, const struct dir *d)
{
	struct conf_parent *pa = p->c->parent;

	add_url(p, s, s->argv[1], &pa->urls, &pa->nurls, 0, "url");
}

static void
d_transport(struct parser *p, const struct stmt *s, const struct dir *d)
{
	struct conf_parent *pa = p->c->parent;

	if (strcmp(s->argv[1], "auto") == 0)
		pa->transport = CONF_TRANSPORT_AUTO;
	else if (strcmp(s->argv[1], "tcp") == 0)
		pa->transport = CONF_TRANSPORT_TCP;
	else if (strcmp(s->argv[1], "http") == 0)
		pa->transport = CONF_TRANSPORT_HTTP;
	else
		SERR(p, s, "transport: bad value \"%s\" (expected tcp, http or auto)",
		    s->argv[1]);
}

static void
d_secret(struct parser *p, const struct stmt *s, const struct dir *d)
{
	struct conf_secret *sec;
	char msg[512];
	int n;

	if (p->blk == BLK_PARENT)
		sec = &p->c->parent->secret;
	else if (p->blk == BLK_CHILD)
		sec = &cur_child(p)->secret;
	else
		sec = &cur_client(p)->secret;
	free(sec->path);
	if ((sec->path = cp_resolve(p, s->file, s->argv[1])) == NULL)
		return;
	n = csecret_load(sec->path, sec->key, sizeof(sec->key), msg, sizeof(msg));
	if (n < 0) {
		SERR(p, s, "secret: %s", msg);
		return;
	}
	sec->len = (size_t)n;
}

/* journal-key CURRENT [OLD ...]: keys in the secret-file format (journal_crypt.h). */
static void
d_journal_key(struct parser *p, const struct stmt *s, const struct dir *d)
{
	struct conf *c = p->c;
	char msg[512], *path;
	int i, n = 0;

	(void)d;
	jcrypt_ring_clear(&c->journal_keys);
	for (i = 0; c->journal_key_files != NULL && c->journal_key_files[i] != NULL; i++)
		free(c->journal_key_files[i]);
	free(c->journal_key_files);
	if ((c->journal_key_files = calloc((size_t)s->argc, sizeof(char *))) == NULL) {
		p->oom = 1;
		return;
	}
	for (i = 1; i < s->argc; i++) {
		if ((path = cp_resolve(p, s->file, s->argv[i])) == NULL)
			continue;
		c->journal_key_files[n++] = path;
		if (jcrypt_ring_add(&c->journal_keys, path, msg, sizeof(msg)) != 0)
			SERR(p, s, "journal-key: %s", msg);
	}
}

static void
d_proxy(struct parser *p, const struct stmt *s, const struct dir *d)
{
	const char *v = s->argv[1];

	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
		SERR(p, s, "proxy: bad url \"%s\" (expected http://host:port)", v);
		return;
	}
	free(p->c->parent->proxy);
	p->c->parent->proxy = cp_str_dup(p, v);
}

static void
d_reconnect(struct parser *p, const struct stmt *s, const struct dir *d)
{
	long long lo, hi;

	if (parse_duration(s->argv[1], &lo) || parse_duration(s->argv[2], &hi) ||
	    lo < d->lo || hi > d->hi) {
		SERR(p, s, "reconnect: bad durations \"%s %s\" (expected MIN MAX, e.g. 1s 60s)",
		    s->argv[1], s->argv[2]);
		return;
	}
	if (lo > hi) {
		SERR(p, s, "reconnect: MIN %s is above MAX %s", s->argv[1], s->argv[2]);
		return;
	}
	p->c->parent->reconnect_min_ms = lo;
	p->c->parent->reconnect_max_ms = hi;
}

static void
d_carriers(struct parser *p, const struct stmt *s, const struct dir *d)
{
	int i, bits = 0, b;

	for (i = 1; i < s->argc; i++) {
		if ((b = parse_carrier(s->argv[i])) == 0) {
			SERR(p, s, "carriers: bad value \"%s\" (expected tcp, http or both)",
			    s->argv[i]);
			return;
		}
		bits |= b;
	}
	if (p->blk == BLK_CHILD)
		cur_child(p)->carriers = bits;
	else
		cur_client(p)->carriers = bits;
}

static void
d_prefer(struct parser *p, const struct stmt *s, const struct dir *d)
{
	int b = parse_carrier(s->argv[1]);

	if (b == 0) {
		SERR(p, s, "prefer: bad value \"%s\" (expected tcp or http)", s->argv[1]);
		return;
	}
	cur_child(p)->prefer = b;
}

static void
d_claim(struct parser *p, const struct stmt *s, const struct dir *d)
{
	struct conf_child *ch = cur_child(p);
	char **slot;
	int i;

	for (i = 1; i < s->argc; i++) {
		const char *w = s->argv[i];

		if (w[strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789-*?[]!")] != '\0') {
			SERR(p, s, "claim: bad pattern \"%s\" (expected node ids with *, ? or [...] "
			    "wildcards)", w);
			continue;
		}
		if ((slot = cp_grow(p, &ch->claims, &ch->nclaims, sizeof(*slot))) == NULL)
			return;
		*slot = cp_str_dup(p, w);
	}
}

static void
d_advertise(struct parser *p, const struct stmt *s, const struct dir *d)
{
	struct conf_child *ch = cur_child(p);
	int i;

	for (i = 1; i < s->argc; i++)
		add_url(p, s, s->argv[i], &ch->advertise, &ch->nadvertise, 0, "advertise");
}

/* Opens "parent ID {", "child ID {" or "client ID {". */
static void
d_block(struct parser *p, const struct stmt *s, const struct dir *d)
{
	const char *id = s->argv[1];
	enum caddr_err e;
	size_t i;

	if (strcmp(d->name, "parent") == 0) {
		if ((e = caddr_check_node(id)) != CADDR_OK)
			SERR(p, s, "parent: bad node id \"%s\": %s", id, caddr_strerror(e));
		if ((p->c->parent = calloc(1, sizeof(*p->c->parent))) == NULL) {
			p->oom = 1;
			p->blk = BLK_SKIP;
			return;
		}
		p->c->parent->id = cp_str_dup(p, id);
		p->c->parent->transport = CONF_TRANSPORT_AUTO;
		p->c->parent->reconnect_min_ms = CONF_DEF_RECONNECT_MIN_MS;
		p->c->parent->reconnect_max_ms = CONF_DEF_RECONNECT_MAX_MS;
		p->c->parent->dead_timeout_ms = CONF_DEF_DEAD_TIMEOUT_MS;
		p->c->parent->push_window = CONF_DEF_PUSH_WINDOW;
		p->c->parent->where.file = s->file;
		p->c->parent->where.line = s->line;
		p->blk = BLK_PARENT;
	} else if (strcmp(d->name, "child") == 0) {
		struct conf_child *ch;

		if ((e = caddr_check_node(id)) != CADDR_OK)
			SERR(p, s, "child: bad node id \"%s\": %s", id, caddr_strerror(e));
		for (i = 0; i < p->c->nchildren; i++)
			if (strcmp(p->c->children[i].id, id) == 0)
				SERR(p, s, "child %s: defined twice (first at %s:%d)", id,
				    p->c->children[i].where.file, p->c->children[i].where.line);
		if ((ch = cp_grow(p, &p->c->children, &p->c->nchildren, sizeof(*ch))) == NULL ||
		    (ch->id = cp_str_dup(p, id)) == NULL) {
			if (ch != NULL)
				p->c->nchildren--;
			p->blk = BLK_SKIP;
			return;
		}
		ch->where.file = s->file;
		ch->where.line = s->line;
		p->blk_idx = p->c->nchildren - 1;
		p->blk = BLK_CHILD;
	} else {
		struct conf_client *cl;

		if ((e = caddr_check_client(id)) != CADDR_OK)
			SERR(p, s, "client: bad client id \"%s\": %s (expected "
			    "[a-z0-9][a-z0-9._-]{0,62})", id, caddr_strerror(e));
		for (i = 0; i < p->c->nclients; i++)
			if (strcmp(p->c->clients[i].id, id) == 0)
				SERR(p, s, "client %s: defined twice (first at %s:%d)", id,
				    p->c->clients[i].where.file, p->c->clients[i].where.line);
		if ((cl = cp_grow(p, &p->c->clients, &p->c->nclients, sizeof(*cl))) == NULL ||
		    (cl->id = cp_str_dup(p, id)) == NULL) {
			if (cl != NULL)
				p->c->nclients--;
			p->blk = BLK_SKIP;
			return;
		}
		cl->where.file = s->file;
		cl->where.line = s->line;
		p->blk_idx = p->c->nclients - 1;
		p->blk = BLK_CLIENT;
	}
}

/* ------------------------------------------------------------ api */
static void
secret_free(struct conf_secret *s)
{
	free(s->path);
	explicit_bzero(s->key, sizeof(s->key));
}

void
conf_free(struct conf *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	free(c->path);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	free(c->node);
	free(c->data_dir);
	jcrypt_ring_clear(&c->journal_keys);
	for (i = 0; c->journal_key_files != NULL && c->journal_key_files[i] != NULL; i++)
		free(c->journal_key_files[i]);
	free(c->journal_key_files);
	for (i = 0; i < c->nlisten; i++)
		url_free(&c->listen[i]);
	free(c->listen);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	free(c->control);
	free(c->metrics_host);
	free(c->offline_notify_url);
	free(c->audit_sink);
	if (c->parent) {
		free(c->parent->id);
		for (i = 0; i < c->parent->nurls; i++)
			url_free(&c->parent->urls[i]);
		free(c->parent->urls);
		secret_free(&c->parent->secret);
		free(c->parent->ca);
		free(c->parent->cert);
		free(c->parent->key);
		free(c->parent->proxy);
		free(c->parent);
	}
	for (i = 0; i < c->nchildren; i++) {
		struct conf_child *ch = &c->children[i];

		free(ch->id);
		secret_free(&ch->secret);
		for (j = 0; j < ch->nclaims; j++)
			free(ch->claims[j]);
		free(ch->claims);
		for (j = 0; j < ch->nadvertise; j++)
			url_free(&ch->advertise[j]);
		free(ch->advertise);
	}
	free(c->children);
	for (i = 0; i < c->nclients; i++) {
		free(c->clients[i].id);
		secret_free(&c->clients[i].secret);
	}
	free(c->clients);
	free(c);
}

const struct conf_child *
conf_child_find(const struct conf *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->nchildren; i++)
		if (strcmp(c->children[i].id, id) == 0)
			return &c->children[i];
	return NULL;
}

const struct conf_client *
conf_client_find(const struct conf *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->nclients; i++)
		if (strcmp(c->clients[i].id, id) == 0)
			return &c->clients[i];
	return NULL;
}

int
conf_child_may_claim(const struct conf_child *ch, const char *node)
{
	size_t i;

	for (i = 0; i < ch->nclaims; i++)
		if (fnmatch(ch->claims[i], node, 0) == 0)
			return 1;
	return 0;
}

const char *
conf_carriers_str(int carriers)
{
	switch (carriers & (CONF_CARRIER_TCP | CONF_CARRIER_HTTP)) {
	case CONF_CARRIER_TCP:
		return "tcp";
	case CONF_CARRIER_HTTP:
		return "http";
	case CONF_CARRIER_TCP | CONF_CARRIER_HTTP:
		return "tcp http";
	default:
		return "none";
	}
}
