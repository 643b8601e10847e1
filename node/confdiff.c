/*
 * confdiff.c — conf_diff: the list of changes between two configurations.
 * See confdiff.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confdiff.h"

static void
add(struct conf_changes *ch, enum conf_change_kind kind, const struct conf_where *w,
    const char *fmt, ...)
{
	struct conf_change *c;
	va_list ap;
	int n = 0;

	ch->v = realloc(ch->v, (ch->n + 1) * sizeof(*ch->v));
	if (ch->v == NULL)
		abort();
	c = &ch->v[ch->n++];
	c->kind = kind;
	if (kind != CONF_CHANGE_LIVE)
		ch->nrefused++;
	if (w != NULL && w->file != NULL && w->line > 0)
		n = snprintf(c->text, sizeof(c->text), "%s:%d: ", w->file, w->line);
	else if (w != NULL && w->file != NULL)      /* top-level settings keep no line */
		n = snprintf(c->text, sizeof(c->text), "%s: ", w->file);
	va_start(ap, fmt);
	vsnprintf(c->text + n, sizeof(c->text) - (size_t)n, fmt, ap);
	va_end(ap);
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

static int
claims_ne(const struct conf_child *a, const struct conf_child *b)
{
	size_t i;

	if (a->nclaims != b->nclaims)
		return 1;
	for (i = 0; i < a->nclaims; i++)
		if (strcmp(a->claims[i], b->claims[i]) != 0)
			return 1;
	return 0;
}

#define RESTART_WHY "not applied live by this version: restart cascaded"

static void
diff_children(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	size_t i;

	for (i = 0; i < n->nchildren; i++) {
		const struct conf_child *nc = &n->children[i], *oc = conf_child_find(o, nc->id);

		if (oc == NULL) {
			add(ch, CONF_CHANGE_RESTART, &nc->where, "child %s: added (" RESTART_WHY ")",
			    nc->id);
			continue;
		}
		if (secret_ne(&oc->secret, &nc->secret))
			add(ch, CONF_CHANGE_RESTART, &nc->where, "child %s: secret changed ("
			    RESTART_WHY ")", nc->id);
		if (oc->carriers != nc->carriers || oc->prefer != nc->prefer)
			add(ch, CONF_CHANGE_RESTART, &nc->where, "child %s: carriers %s -> %s ("
			    RESTART_WHY ")", nc->id, conf_carriers_str(oc->carriers),
			    conf_carriers_str(nc->carriers));
		if (claims_ne(oc, nc))
			add(ch, CONF_CHANGE_RESTART, &nc->where, "child %s: claims changed ("
			    RESTART_WHY ")", nc->id);
	}
	for (i = 0; i < o->nchildren; i++)
		if (conf_child_find(n, o->children[i].id) == NULL)
			add(ch, CONF_CHANGE_RESTART, &o->children[i].where,
			    "child %s: removed (" RESTART_WHY ")", o->children[i].id);
}

static void
diff_clients(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	size_t i;

	for (i = 0; i < n->nclients; i++) {
		const struct conf_client *nc = &n->clients[i], *oc = conf_client_find(o, nc->id);

		if (oc == NULL) {
			add(ch, CONF_CHANGE_LIVE, &nc->where, "client %s: added", nc->id);
			continue;
		}
		if (secret_ne(&oc->secret, &nc->secret))
			add(ch, CONF_CHANGE_LIVE, &nc->where,
			    "client %s: secret changed (its session is closed: it logs in again)",
			    nc->id);
		if (oc->carriers != nc->carriers)
			add(ch, CONF_CHANGE_LIVE, &nc->where, "client %s: carriers %s -> %s",
			    nc->id, conf_carriers_str(oc->carriers), conf_carriers_str(nc->carriers));
		if (oc->offline_notify_after_ms != nc->offline_notify_after_ms)
			add(ch, CONF_CHANGE_LIVE, &nc->where, "client %s: offline-notify-after changed",
			    nc->id);
	}
	for (i = 0; i < o->nclients; i++)
		if (conf_client_find(n, o->clients[i].id) == NULL)
			add(ch, CONF_CHANGE_LIVE, &o->clients[i].where,
			    "client %s: removed (its queue stays in the journal)", o->clients[i].id);
}

static void
diff_parent(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	const struct conf_parent *op = o->parent, *np = n->parent;

	if (op == NULL && np == NULL)
		return;
	if (op == NULL || np == NULL || strcmp(op->id, np->id) != 0) {
		add(ch, CONF_CHANGE_RESTART, np != NULL ? &np->where : &op->where,
		    "parent: changed from %s to %s (" RESTART_WHY ")",
		    op != NULL ? op->id : "none", np != NULL ? np->id : "none");
		return;
	}
	if (urls_ne(op->urls, op->nurls, np->urls, np->nurls))
		add(ch, CONF_CHANGE_RESTART, &np->where, "parent %s: url changed (" RESTART_WHY ")",
		    np->id);
	if (secret_ne(&op->secret, &np->secret))
		add(ch, CONF_CHANGE_RESTART, &np->where, "parent %s: secret changed ("
		    RESTART_WHY ")", np->id);
	if (op->transport != np->transport)
		add(ch, CONF_CHANGE_RESTART, &np->where, "parent %s: transport changed ("
		    RESTART_WHY ")", np->id);
}

size_t
conf_diff(const struct conf *o, const struct conf *n, struct conf_changes *ch)
{
	struct conf_where nw = { n->path, 0 };

	if (strcmp(o->node, n->node) != 0)
		add(ch, CONF_CHANGE_IMMUTABLE, &nw, "node: %s -> %s cannot change live: "
		    "restart cascaded", o->node, n->node);
	if (o->role != n->role)
		add(ch, CONF_CHANGE_IMMUTABLE, &nw, "role cannot change live: restart cascaded");
	if (strcmp(o->data_dir, n->data_dir) != 0)
		add(ch, CONF_CHANGE_IMMUTABLE, &nw, "data-dir: %s -> %s cannot change live: "
		    "restart cascaded", o->data_dir, n->data_dir);
	if (urls_ne(o->listen, o->nlisten, n->listen, n->nlisten))
		add(ch, CONF_CHANGE_RESTART, &nw, "listen: changed (" RESTART_WHY ")");
	if (str_ne(o->control, n->control))
		add(ch, CONF_CHANGE_RESTART, &nw, "control: changed (" RESTART_WHY ")");
	if (o->audit_index != n->audit_index)
		add(ch, CONF_CHANGE_RESTART, &nw, "audit-index: %s -> %s (read when the journal "
		    "opens: restart cascaded)", o->audit_index ? "yes" : "no",
		    n->audit_index ? "yes" : "no");
	if (o->audit_anchor_ms != n->audit_anchor_ms)
		add(ch, CONF_CHANGE_RESTART, &nw, "audit-anchor-interval: changed (read at start: "
		    "restart cascaded)");
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
