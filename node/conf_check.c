/*
 * conf_check.c — the whole-config checks and defaults, once every file was
 * read: what a role needs, url security, the derived defaults.
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

/* ------------------------------------------------------------ checks */

static void
werr(struct parser *p, const struct conf_where *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
werr(struct parser *p, const struct conf_where *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cp_errs_add(p->errs, w->file, w->line, msg);
}

static void
check_url_security(struct parser *p, const struct conf_url *u, const char *what)
{
	if (!u->tls && !p->c->allow_plain)
		werr(p, &u->where, "%s %s: plain %s needs \"allow-plain yes\" (use %s)", what,
		    u->url, u->scheme == CONF_URL_TCP ? "tcp://" : "http://",
		    u->scheme == CONF_URL_TCP ? "tls+tcp://" : "https://");
}

/* Whole-config checks and defaults, after every file was read. */
void
cp_finish(struct parser *p)
{
	struct conf *c = p->c;
	const struct conf_where *mw = &p->main_where;
	size_t i, j;

	if (c->node == NULL && p->seen_top[cp_dir_find("node") - conf_dirs].file == NULL)
		werr(p, mw, "no node id: \"node ID\" is required");
	if (c->data_dir == NULL && p->seen_top[cp_dir_find("data-dir") - conf_dirs].file == NULL)
		werr(p, mw, "no data directory: \"data-dir PATH\" is required");
	if (c->role == CONF_ROLE_MASTER && c->parent != NULL)
		werr(p, &c->parent->where, "parent %s: the master (role master at %s:%d) has "
		    "no parent", c->parent->id, p->role_where.file, p->role_where.line);
	if (c->role == CONF_ROLE_NODE && c->parent == NULL)
		werr(p, p->role_where.file ? &p->role_where : mw, "a node with role node needs "
		    "a parent block (or set \"role master\")");
	if (c->audit_index < 0)
		c->audit_index = c->role == CONF_ROLE_MASTER;
	if (c->audit_anchor_ms < 0)
		c->audit_anchor_ms = c->role == CONF_ROLE_MASTER ? CONF_DEF_ANCHOR_MS : 0;
	if (c->audit_copy && c->local_delivery != CONF_DELIVERY_DIRECT)
		werr(p, &p->seen_top[cp_dir_find("audit-copy") - conf_dirs], "audit-copy yes only "
		    "applies with \"local-delivery direct\"");
	if (c->journal_max_size && c->journal_max_size < c->journal_map_size)
		werr(p, &p->seen_top[cp_dir_find("journal-max-size") - conf_dirs], "journal-max-size "
		    "(%llu bytes) is below journal-map-size (%llu bytes)",
		    (unsigned long long)c->journal_max_size,
		    (unsigned long long)c->journal_map_size);

	for (i = 0; i < c->nlisten; i++) {
		const struct conf_url *u = &c->listen[i];

		check_url_security(p, u, "listen");
		if (u->tls && (c->tls_cert == NULL || c->tls_key == NULL))
			werr(p, &u->where, "listen %s: TLS needs tls-cert and tls-key", u->url);
	}

	if (c->parent != NULL) {
		struct conf_parent *pa = c->parent;
		int carriers = 0;

		if (c->node && pa->id && strcmp(c->node, pa->id) == 0)
			werr(p, &pa->where, "parent %s: a node cannot be its own parent", pa->id);
		if (pa->nurls == 0)
			werr(p, &pa->where, "parent %s: no url (\"url URL\" is required)", pa->id);
		if (pa->secret.path == NULL)
			werr(p, &pa->where, "parent %s: no secret (\"secret PATH\" is required)",
			    pa->id);
		for (i = 0; i < pa->nurls; i++) {
			check_url_security(p, &pa->urls[i], "url");
			if (pa->urls[i].tls && pa->ca == NULL)
				werr(p, &pa->urls[i].where, "url %s: TLS needs \"ca PATH\" in the "
				    "parent block to verify the parent", pa->urls[i].url);
			carriers |= pa->urls[i].carrier;
		}
		if ((pa->cert == NULL) != (pa->key == NULL))
			werr(p, &pa->where, "parent %s: \"cert\" and \"key\" (the client "
			    "certificate for mutual TLS) go together", pa->id);
		if (pa->nurls && pa->transport == CONF_TRANSPORT_TCP &&
		    !(carriers & CONF_CARRIER_TCP))
			werr(p, &pa->where, "parent %s: transport tcp but no tcp:// or tls+tcp:// "
			    "url", pa->id);
		if (pa->nurls && pa->transport == CONF_TRANSPORT_HTTP &&
		    !(carriers & CONF_CARRIER_HTTP))
			werr(p, &pa->where, "parent %s: transport http but no http:// or https:// "
			    "url", pa->id);
	}

	for (i = 0; i < c->nchildren; i++) {
		struct conf_child *ch = &c->children[i];

		if (ch->secret.path == NULL)
			werr(p, &ch->where, "child %s: no secret (\"secret PATH\" is required)",
			    ch->id);
		if (c->node && strcmp(ch->id, c->node) == 0)
			werr(p, &ch->where, "child %s: that is this node's own id", ch->id);
		if (c->parent && c->parent->id && strcmp(ch->id, c->parent->id) == 0)
			werr(p, &ch->where, "child %s: that is the parent's id", ch->id);
		if (ch->carriers == 0)
			ch->carriers = CONF_CARRIER_TCP | CONF_CARRIER_HTTP;
		if (ch->prefer == 0)
			ch->prefer = ch->carriers & CONF_CARRIER_TCP ? CONF_CARRIER_TCP :
			    CONF_CARRIER_HTTP;
		else if (!(ch->prefer & ch->carriers))
			werr(p, &ch->where, "child %s: prefer %s is not among its carriers (%s)",
			    ch->id, conf_carriers_str(ch->prefer), conf_carriers_str(ch->carriers));
		if (ch->nclaims == 0) {
			char **slot = cp_grow(p, &ch->claims, &ch->nclaims, sizeof(*slot));

			if (slot != NULL)
				*slot = cp_str_dup(p, ch->id);
		}
		if (ch->nadvertise == 0 && c->nlisten > 0) {
			if ((ch->advertise = calloc(c->nlisten, sizeof(*ch->advertise))) == NULL) {
				p->oom = 1;
				continue;
			}
			for (j = 0; j < c->nlisten; j++) {
				if (cp_url_copy(&ch->advertise[j], &c->listen[j])) {
					p->oom = 1;
					break;
				}
				ch->nadvertise++;
			}
		}
	}
	for (i = 0; i < c->nclients; i++) {
		struct conf_client *cl = &c->clients[i];

		if (cl->secret.path == NULL)
			werr(p, &cl->where, "client %s: no secret (\"secret PATH\" is required)",
			    cl->id);
		if (cl->carriers == 0)
			cl->carriers = CONF_CARRIER_TCP | CONF_CARRIER_HTTP;
	}
	if (c->nlisten == 0 && (c->nchildren || c->nclients)) {
		const struct conf_where *w = c->nchildren ? &c->children[0].where :
		    &c->clients[0].where;

		werr(p, w, "%s %s: nothing listens for it (add \"listen URL\")",
		    c->nchildren ? "child" : "client",
		    c->nchildren ? c->children[0].id : c->clients[0].id);
	}
	if (c->control == NULL && c->data_dir != NULL) {
		if ((c->control = malloc(strlen(c->data_dir) + sizeof("/control.sock"))) == NULL)
			p->oom = 1;
		else
			sprintf(c->control, "%s/control.sock", c->data_dir);
	}
}
