/*
 * confdiff.c — conf_diff: the list of changes between two configurations.
 * See confdiff.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confdiff.h"

static struct conf_change *
add(struct conf_changes *ch, enum conf_change_kind kind, enum conf_change_what what,
    const char *id, const struct conf_where *w, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static struct conf_change *
add(struct conf_changes *ch, enum conf_change_kind kind, enum conf_change_what what,
    const char *id, const struct conf_where *w, const char *fmt, ...)
{
	struct conf_change *c;
	va_list ap;
	int n = 0;

	ch->v = realloc(ch->v, (ch->n + 1) * sizeof(*ch->v));
	if (ch->v == NULL)
		abort();
	c = &ch->v[ch->n++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->what = kind == CONF_CHANGE_LIVE ? what : CONF_CHG_OTHER;
	c->id = id;
	if (kind != CONF_CHANGE_LIVE)
		ch->nrefused++;
	if (w != NULL && w->file != NULL && w->line > 0)
		n = snprintf(c->text, sizeof(c->text), "%s:%d: ", w->file, w->line);
	else if (w != NULL && w->file != NULL)      /* top-level settings keep no line */
		n = snprintf(c->text, sizeof(c->text), "%s: ", w->file);
	va_start(ap, fmt);
	vsnprintf(c->text + n, sizeof(c->text) - (size_t)n, fmt, ap);
	va_end(ap);
	return c;
}

static int
str_ne(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static int
secret_ne(const struct conf_secret *a, const struct conf_secret *b)
{
	return a->len != b->len || memcmp(a->key, b->key, a->len) != 0;
}

static int
urls_ne(const struct conf_url *a, size_t na, const struct conf_url *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 1;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].url, b[i].url) != 0)
			return 1;
	return 0;
}

static const struct conf_url *
url_find(const struct conf_url *v, size_t n, const char *url)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].url, url) == 0)
			return &v[i];
	return NULL;
}

static int
strs_ne(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 1;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 1;
	return 0;
}

#define RESTART_WHY "not applied live by this version: restart cascaded"
#define RELOGIN " (its session is closed: it logs in again)"

/*
 * Children apply live (reload.c): added, removed (its queue and routes
 * stay), or changed, which closes its session so it logs in again under the
 * new block. A child neither added nor changed is left alone.
 */
static void
diff_children(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	size_t i;

	for (i = 0; i < n->nchildren; i++) {
		const struct conf_child *nc = &n->children[i], *oc = conf_child_find(o, nc->id);

		if (oc == NULL) {
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CHILD_ADDED, nc->id, &nc->where,
			    "child %s: added", nc->id);
			continue;
		}
		if (secret_ne(&oc->secret, &nc->secret))
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CHILD_CHANGED, nc->id, &nc->where,
			    "child %s: secret changed" RELOGIN, nc->id)->end_sessions = 1;
		if (oc->carriers != nc->carriers)
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CHILD_CHANGED, nc->id, &nc->where,
			    "child %s: carriers %s -> %s" RELOGIN, nc->id,
			    conf_carriers_str(oc->carriers),
			    conf_carriers_str(nc->carriers))->end_sessions = 1;
		if (oc->prefer != nc->prefer)
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CHILD_CHANGED, nc->id, &nc->where,
			    "child %s: prefer %s -> %s" RELOGIN, nc->id, conf_carriers_str(oc->prefer),
			    conf_carriers_str(nc->prefer))->end_sessions = 1;
		if (strs_ne(oc->claims, oc->nclaims, nc->claims, nc->nclaims))
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CHILD_CHANGED, nc->id, &nc->where,
			    "child %s: claims changed" RELOGIN, nc->id)->end_sessions = 1;
		/*
		 * The advertised urls (by default the listen urls) are told at
		 * login: the child learns new ones at its next, no need to close
		 * its session. The defaults following a listen change are not
		 * named once per child.
		 */
		if (urls_ne(oc->advertise, oc->nadvertise, nc->advertise, nc->nadvertise) &&
		    (urls_ne(oc->advertise, oc->nadvertise, o->listen, o->nlisten) ||
		    urls_ne(nc->advertise, nc->nadvertise, n->listen, n->nlisten)))
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CHILD_CHANGED, nc->id, &nc->where,
			    "child %s: advertised urls changed (told at its next login)", nc->id);
	}
	for (i = 0; i < o->nchildren; i++)
		if (conf_child_find(n, o->children[i].id) == NULL)
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CHILD_REMOVED, o->children[i].id,
			    &o->children[i].where, "child %s: removed (its session is closed; its "
			    "queue and routes stay in the journal)", o->children[i].id);
}

static void
diff_clients(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	size_t i;

	for (i = 0; i < n->nclients; i++) {
		const struct conf_client *nc = &n->clients[i], *oc = conf_client_find(o, nc->id);

		if (oc == NULL) {
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CLIENT_ADDED, nc->id, &nc->where,
			    "client %s: added", nc->id);
			continue;
		}
		if (secret_ne(&oc->secret, &nc->secret))
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CLIENT_CHANGED, nc->id, &nc->where,
			    "client %s: secret changed" RELOGIN, nc->id)->end_sessions = 1;
		if (oc->carriers != nc->carriers)
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CLIENT_CHANGED, nc->id, &nc->where,
			    "client %s: carriers %s -> %s" RELOGIN, nc->id,
			    conf_carriers_str(oc->carriers),
			    conf_carriers_str(nc->carriers))->end_sessions = 1;
		if (oc->offline_notify_after_ms != nc->offline_notify_after_ms)
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CLIENT_CHANGED, nc->id, &nc->where,
			    "client %s: offline-notify-after changed", nc->id);
	}
	for (i = 0; i < o->nclients; i++)
		if (conf_client_find(n, o->clients[i].id) == NULL)
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_CLIENT_REMOVED, o->clients[i].id,
			    &o->clients[i].where, "client %s: removed (its queue stays in the journal)",
			    o->clients[i].id);
}

/*
 * The parent block applies live but for its id: any change rebuilds the
 * link (uplink_reconfigure): the up queue stays, what was in flight is sent
 * again and the parent's marks keep it once. One change line per setting.
 */
#define REBUILD " (the link is rebuilt)"

static void
diff_parent(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	const struct conf_parent *op = o->parent, *np = n->parent;
	const char *id;

	if (op == NULL && np == NULL)
		return;
	if (op == NULL || np == NULL || strcmp(op->id, np->id) != 0) {
		add(ch, CONF_CHANGE_RESTART, CONF_CHG_OTHER, NULL,
		    np != NULL ? &np->where : &op->where,
		    "parent: changed from %s to %s (" RESTART_WHY ")",
		    op != NULL ? op->id : "none", np != NULL ? np->id : "none");
		return;
	}
	id = np->id;
#define PCHG(cond, ...) do {                                                    \
	if (cond)                                                               \
		add(ch, CONF_CHANGE_LIVE, CONF_CHG_PARENT, id, &np->where, __VA_ARGS__); \
} while (0)
	PCHG(urls_ne(op->urls, op->nurls, np->urls, np->nurls),
	    "parent %s: url %s -> %s%s" REBUILD, id, op->urls[0].url, np->urls[0].url,
	    op->nurls > 1 || np->nurls > 1 ? " (and more)" : "");
	PCHG(secret_ne(&op->secret, &np->secret), "parent %s: secret changed" REBUILD, id);
	PCHG(op->transport != np->transport, "parent %s: transport changed" REBUILD, id);
	PCHG(str_ne(op->ca, np->ca), "parent %s: ca changed" REBUILD, id);
	PCHG(str_ne(op->cert, np->cert) || str_ne(op->key, np->key),
	    "parent %s: client certificate changed" REBUILD, id);
	PCHG(str_ne(op->proxy, np->proxy), "parent %s: proxy changed" REBUILD, id);
	PCHG(op->reconnect_min_ms != np->reconnect_min_ms ||
	    op->reconnect_max_ms != np->reconnect_max_ms, "parent %s: reconnect changed" REBUILD, id);
	PCHG(op->dead_timeout_ms != np->dead_timeout_ms, "parent %s: dead-timeout changed"
	    REBUILD, id);
	PCHG(op->push_window != np->push_window, "parent %s: push-window changed" REBUILD, id);
#undef PCHG
}

/*
 * Listen urls, by the url as written: a new one is opened before an old one
 * closes (reload.c refuses the reload when it cannot be bound).
 */
static void
diff_listen(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	struct conf_where nw = { n->path, 0 }, ow = { o->path, 0 };
	size_t i;

	for (i = 0; i < n->nlisten; i++)
		if (url_find(o->listen, o->nlisten, n->listen[i].url) == NULL)
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_LISTEN_ADDED, n->listen[i].url,
			    n->listen[i].where.file != NULL ? &n->listen[i].where : &nw,
			    "listen %s: added", n->listen[i].url);
	for (i = 0; i < o->nlisten; i++)
		if (url_find(n->listen, n->nlisten, o->listen[i].url) == NULL)
			add(ch, CONF_CHANGE_LIVE, CONF_CHG_LISTEN_REMOVED, o->listen[i].url,
			    o->listen[i].where.file != NULL ? &o->listen[i].where : &ow,
			    "listen %s: removed (its connections are closed)", o->listen[i].url);
}

/*
 * Global settings the daemon reads at each use (limits.c, server.c,
 * route.c, the http carrier): a new value applies at once. Named so that
 * check and the log say so; nothing to do beyond the new config.
 */
static void
diff_limits(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	struct conf_where nw = { n->path, 0 };

#define LIM(field, name) do {                                                   	if (o->field != n->field)                                               		add(ch, CONF_CHANGE_LIVE, CONF_CHG_OTHER, NULL, &nw,            		    "%s: %llu -> %llu (applies at once)", name,                 		    (unsigned long long)o->field, (unsigned long long)n->field); } while (0)
#define LIM_MS(field, name) do {                                                	if (o->field != n->field)                                               		add(ch, CONF_CHANGE_LIVE, CONF_CHG_OTHER, NULL, &nw,            		    "%s: %lld ms -> %lld ms (applies at once)", name,           		    (long long)o->field, (long long)n->field);                  } while (0)
	LIM(push_rate, "push-rate");
	LIM(quota_packets, "quota-packets");
	LIM(quota_bytes, "quota-bytes");
	LIM(auth_fail_max, "auth-fail-max");
	LIM(http_max_conns, "http-max-conns");
	LIM(http_max_conns_addr, "http-max-conns-per-address");
	LIM_MS(http_request_timeout_ms, "http-request-timeout");
	LIM_MS(pull_wait_ms, "pull-wait");
#undef LIM
#undef LIM_MS
	if (o->local_delivery != n->local_delivery)
		add(ch, CONF_CHANGE_LIVE, CONF_CHG_OTHER, NULL, &nw, "local-delivery: changed "
		    "(applies to packets routed from now on)");
	if (o->audit_copy != n->audit_copy)
		add(ch, CONF_CHANGE_LIVE, CONF_CHG_OTHER, NULL, &nw, "audit-copy: changed "
		    "(applies to packets routed from now on)");
}

size_t
conf_diff(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	struct conf_where nw = { n->path, 0 };

	if (strcmp(o->node, n->node) != 0)
		add(ch, CONF_CHANGE_IMMUTABLE, CONF_CHG_OTHER, NULL, &nw, "node: %s -> %s cannot "
		    "change live: restart cascaded", o->node, n->node);
	if (o->role != n->role)
		add(ch, CONF_CHANGE_IMMUTABLE, CONF_CHG_OTHER, NULL, &nw, "role cannot change "
		    "live: restart cascaded");
	if (strcmp(o->data_dir, n->data_dir) != 0)
		add(ch, CONF_CHANGE_IMMUTABLE, CONF_CHG_OTHER, NULL, &nw, "data-dir: %s -> %s "
		    "cannot change live: restart cascaded", o->data_dir, n->data_dir);
	if (str_ne(o->control, n->control))
		add(ch, CONF_CHANGE_RESTART, CONF_CHG_OTHER, NULL, &nw, "control: changed ("
		    RESTART_WHY ")");
	if (str_ne(o->audit_sink, n->audit_sink))
		add(ch, CONF_CHANGE_RESTART, CONF_CHG_OTHER, NULL,
		    n->audit_sink != NULL ? &n->audit_sink_where : &nw,
		    "audit-sink: changed (" RESTART_WHY ")");
	/* the tls listeners' certificate is loaded once */
	if (str_ne(o->tls_cert, n->tls_cert) || str_ne(o->tls_key, n->tls_key) ||
	    str_ne(o->tls_ca, n->tls_ca))
		add(ch, CONF_CHANGE_RESTART, CONF_CHG_OTHER, NULL, &nw, "tls-cert, tls-key or "
		    "tls-ca: changed (" RESTART_WHY ")");
	diff_limits(o, n, ch);
	diff_listen(o, n, ch);
	if (o->audit_index != n->audit_index)
		add(ch, CONF_CHANGE_RESTART, CONF_CHG_OTHER, NULL, &nw, "audit-index: %s -> %s "
		    "(read when the journal opens: restart cascaded)",
		    o->audit_index ? "yes" : "no", n->audit_index ? "yes" : "no");
	if (o->queue_window != n->queue_window)
		add(ch, CONF_CHANGE_RESTART, CONF_CHG_OTHER, NULL, &nw, "queue-window: %u -> %u "
		    "(read when the journal opens: restart cascaded)", o->queue_window,
		    n->queue_window);
	if (o->audit_anchor_ms != n->audit_anchor_ms)
		add(ch, CONF_CHANGE_RESTART, CONF_CHG_OTHER, NULL, &nw, "audit-anchor-interval: "
		    "changed (read at start: restart cascaded)");
	diff_parent(o, n, ch);
	diff_children(o, n, ch);
	diff_clients(o, n, ch);
	return ch->n;
}

void
conf_changes_free(struct conf_changes *ch)
{
	free(ch->v);
	memset(ch, 0, sizeof(*ch));
}

char *
conf_changes_text(const struct conf_changes *ch)
{
	size_t i, len = 1;
	char *s, *p;

	for (i = 0; i < ch->n; i++)
		len += strlen(ch->v[i].text) + 12;
	if ((s = p = malloc(len)) == NULL)
		abort();
	*p = '\0';
	for (i = 0; i < ch->n; i++)
		p += sprintf(p, "%s%s%s", i > 0 ? "\n" : "",
		    ch->v[i].kind == CONF_CHANGE_LIVE ? "" : "REFUSED: ", ch->v[i].text);
	return s;
}
