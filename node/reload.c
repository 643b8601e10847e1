/*
 * reload.c — live reload (SIGHUP, cascadectl reload) and its dry run
 * (cascadectl check).
 *
 * The file is parsed by the one loader (conf_load) into a fresh struct conf
 * and compared with the running one by conf_diff (confdiff.c). A config with
 * errors, or one changing what cannot change live, is refused as a whole:
 * the old one keeps running and status shows the refusal.
 *
 * What applies live (confdiff.c decides what changed, this file acts on
 * its list): clients and children added, removed, or changed (secret,
 * carriers, claims, ...: the peer's session is closed, it logs in again
 * under the new block; peers not changed are left alone); the parent block
 * but its id (the link is rebuilt, uplink_reconfigure); listen urls (the
 * new ones are opened first: one that cannot be bound refuses the whole
 * reload, and only then are the old ones closed). A removed client's or
 * child's peer entry stays (marked removed: no logins; a client gets
 * nothing routed to it, a child keeps its routes, so packets for its subtree
 * wait in its queue) so its journal queue stays and is shown by cascadectl
 * queue; adding it back revives the same entry and queue.
 *
 * Handover of the config (why old configs are never freed): peers point
 * into the struct conf (secrets, child and client blocks), the uplink holds
 * its parent block, and other threads (the http carrier, notify) read
 * node->conf without a lock. Rather than a refcount in every reader, a
 * replaced config is kept until exit: node->conf is swapped on the loop
 * thread only, and whoever read the old pointer still reads valid memory.
 * A reload costs one config's memory, a few kilobytes.
 */
#include <stdlib.h>
#include <string.h>

#include "cascaded.h"
#include "confdiff.h"

int64_t reload_loaded_ms, reload_failed_ms;
char *reload_failed_text;

static struct conf **retired;   /* replaced configs, kept (see above) */
static size_t nretired;

/* The peer entry of a client; queue ids come from the journal thread. */
static struct peer *
peer_fill_client(struct peer *p, const struct conf_client *cl)
{
	p->kind = CASCADE__PEER_KIND__PEER_CLIENT;
	snprintf(p->name, sizeof(p->name), "%s/%s", node->id, cl->id);
	p->client = cl;
	p->secret = cl->secret.key;
	p->secretlen = cl->secret.len;
	p->carriers = cl->carriers;
	p->removed = 0;
	routes_peers_changed();  /* named now: the index may have it nameless */
	return p;
}

/* The same for a child node (its subtree stays: routes.c). */
static struct peer *
peer_fill_child(struct peer *p, const struct conf_child *ch)
{
	p->kind = CASCADE__PEER_KIND__PEER_NODE;
	snprintf(p->name, sizeof(p->name), "%s", ch->id);
	p->child = ch;
	p->secret = ch->secret.key;
	p->secretlen = ch->secret.len;
	p->carriers = ch->carriers;
	p->prefer = ch->prefer;
	p->removed = 0;
	routes_peers_changed();  /* named now: the index may have it nameless */
	return p;
}

static void
queue_name_of(int kind, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%s", kind == CASCADE__PEER_KIND__PEER_NODE ? "child" : "client",
	    id);
}

/* At start-up only (before the journal thread runs). */
static struct peer *
peer_add(int kind, const char *id, const struct conf_where *w, char *err, size_t errlen)
{
	char qname[CADDR_TEXT_MAX + 16];
	struct peer *p;

	if (node->npeers >= node->peers_cap) {
		snprintf(err, errlen, "%s:%d: %s %s: no room for more peers before a restart",
		    w->file, w->line, kind == CASCADE__PEER_KIND__PEER_NODE ? "child" : "client", id);
		return NULL;
	}
	p = &node->peers[node->npeers];
	queue_name_of(kind, id, qname, sizeof(qname));
	if (journal_queue(node->j, qname, kind == CASCADE__PEER_KIND__PEER_NODE ? JQ_LINK :
	    JQ_CLIENT, &p->qid) != 0) {
		snprintf(err, errlen, "journal: queue %s: %s", qname, journal_errmsg(node->j));
		return NULL;
	}
	node->npeers++;
	return p;
}

struct peer *
peer_add_client(const struct conf_client *cl, char *err, size_t errlen)
{
	struct peer *p = peer_add(CASCADE__PEER_KIND__PEER_CLIENT, cl->id, &cl->where, err,
	    errlen);

	return p != NULL ? peer_fill_client(p, cl) : NULL;
}

struct peer *
peer_add_child(const struct conf_child *ch, char *err, size_t errlen)
{
	struct peer *p = peer_add(CASCADE__PEER_KIND__PEER_NODE, ch->id, &ch->where, err,
	    errlen);

	return p != NULL ? peer_fill_child(p, ch) : NULL;
}

/* The peer entry of a child or client id, removed ones too. */
static struct peer *
peer_of(int kind, const char *id)
{
	char name[CADDR_TEXT_MAX + 1];

	if (kind == CASCADE__PEER_KIND__PEER_CLIENT)
		snprintf(name, sizeof(name), "%s/%s", node->id, id);
	else
		snprintf(name, sizeof(name), "%s", id);
	return routes_peer_named(node, kind, name, 1);
}

/*
 * Fills p from the running config's block for it: 0, or -1 when that config
 * no longer has one (a later reload removed it meanwhile).
 */
static int
peer_fill_running(struct peer *p, int kind, const char *id)
{
	const struct conf_client *cl;
	const struct conf_child *ch;

	if (kind == CASCADE__PEER_KIND__PEER_CLIENT) {
		if ((cl = conf_client_find(node->conf, id)) == NULL)
			return -1;
		peer_fill_client(p, cl);
	} else {
		if ((ch = conf_child_find(node->conf, id)) == NULL)
			return -1;
		peer_fill_child(p, ch);
	}
	return 0;
}

/* A new peer's queue, made on the journal thread (the journal's one writer). */
struct addjob {
	struct jjob job;
	int kind;
	char id[CADDR_TEXT_MAX + 1];
	uint32_t qid;
	char err[256];
};

static int
addjob_run(struct journal *j, struct jjob *job)
{
	struct addjob *a = (struct addjob *)job;
	char qname[CADDR_TEXT_MAX + 16];

	queue_name_of(a->kind, a->id, qname, sizeof(qname));
	if (journal_queue(j, qname, a->kind == CASCADE__PEER_KIND__PEER_NODE ? JQ_LINK :
	    JQ_CLIENT, &a->qid) != 0) {
		snprintf(a->err, sizeof(a->err), "journal: queue %s: %s", qname, journal_errmsg(j));
		return -1;
	}
	return 0;
}

static void
addjob_done(struct jjob *job)
{
	struct addjob *a = (struct addjob *)job;
	const char *what = a->kind == CASCADE__PEER_KIND__PEER_NODE ? "child" : "client";
	struct peer *p;

	if (job->rc != 0) {
		log_warnx("reload: %s %s not added: %s", what, a->id, a->err);
	} else if ((p = peer_of(a->kind, a->id)) != NULL) {
		/* two reloads in a row added it: one entry, the running block */
		(void)peer_fill_running(p, a->kind, a->id);
	} else if (node->npeers >= node->peers_cap) {
		log_warnx("reload: %s %s not added: no room for more peers before a restart "
		    "(%d spare)", what, a->id, RELOAD_SPARE_PEERS);
	} else {
		p = &node->peers[node->npeers];
		memset(p, 0, sizeof(*p));
		/* a later reload may have removed it meanwhile: the running config decides */
		if (peer_fill_running(p, a->kind, a->id) == 0) {
			p->qid = a->qid;
			node->npeers++;
			log_info("reload: %s %s added", what, p->name);
		}
	}
	free(a);
}

static void
peer_added(int kind, const char *id)
{
	struct peer *p = peer_of(kind, id);
	struct addjob *a;

	if (p != NULL) {
		if (peer_fill_running(p, kind, id) == 0)
			log_info("reload: %s %s added back: its queue is served again",
			    kind == CASCADE__PEER_KIND__PEER_NODE ? "child" : "client", p->name);
		return;
	}
	a = xcalloc(1, sizeof(*a));
	a->kind = kind;
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->job.run = addjob_run;
	a->job.done = addjob_done;
	jthread_submit(&a->job);
}

static void
peer_removed(int kind, const char *id)
{
	struct peer *p = peer_of(kind, id);

	if (p == NULL || p->removed)
		return;
	server_peer_end(p, "removed by a reload");
	p->removed = 1;
	p->secretlen = 0;
	log_info("reload: %s %s removed; its queue stays in the journal",
	    kind == CASCADE__PEER_KIND__PEER_NODE ? "child" : "client", p->name);
}

/* A child's claims may have narrowed: keep only what the new block allows. */
static void
child_refilter(struct peer *p)
{
	char **ids;
	size_t i, n = p->nsubtree;

	if (n == 0)
		return;
	ids = xcalloc(n, sizeof(*ids));
	for (i = 0; i < n; i++)
		ids[i] = xstrdup(p->subtree[i]);
	free(routes_set_subtree(p, ids, n, NULL, NULL));
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* Every peer still configured points at its block in the new config. */
static void
repoint_peers(void)
{
	size_t i;

	for (i = 0; i < node->npeers; i++) {
		struct peer *p = &node->peers[i];

		if (p->removed)
			continue;
		if (p->kind == CASCADE__PEER_KIND__PEER_CLIENT)
			(void)peer_fill_running(p, p->kind, p->name + strlen(node->id) + 1);
		else
			(void)peer_fill_running(p, p->kind, p->name);
	}
}

/*
 * Closes the listener of url, whichever carrier has it: a change names only
 * the url as written, and a carrier ignores a url that is not its own.
 */
static void
unlisten(const char *url)
{
	size_t i;

	for (i = 0; carriers[i] != NULL; i++)
		carriers[i]->unlisten(url);
}

/*
 * Opens the listeners the new config adds: 0, or -1 with err set (and the
 * ones opened here closed again) when one cannot be bound.
 */
static int
listen_open(const struct conf *n, const struct conf_changes *ch, char *err, size_t errlen)
{
	size_t i, k;

	for (i = 0; i < ch->n; i++) {
		const struct conf_url *u = NULL;
		int rc;

		if (ch->v[i].what != CONF_CHG_LISTEN_ADDED)
			continue;
		for (k = 0; k < n->nlisten; k++)
			if (strcmp(n->listen[k].url, ch->v[i].id) == 0)
				u = &n->listen[k];
		if (u == NULL)
			continue;
		rc = carrier_for_url(u)->listen(n, u, err, errlen);
		if (rc == 0)
			continue;
		while (i-- > 0)
			if (ch->v[i].what == CONF_CHG_LISTEN_ADDED)
				unlisten(ch->v[i].id);
		return -1;
	}
	return 0;
}

/* Acts on the list of changes; node->conf is the new config already. */
static void
apply(const struct conf_changes *ch)
{
	int parent = 0;
	size_t i;

	for (i = 0; i < ch->n; i++) {
		const struct conf_change *c = &ch->v[i];
		int kind = c->what == CONF_CHG_CHILD_ADDED || c->what == CONF_CHG_CHILD_REMOVED ||
		    c->what == CONF_CHG_CHILD_CHANGED ? CASCADE__PEER_KIND__PEER_NODE :
		    CASCADE__PEER_KIND__PEER_CLIENT;
		struct peer *p;

		switch (c->what) {
		case CONF_CHG_CLIENT_ADDED:
		case CONF_CHG_CHILD_ADDED:
			peer_added(kind, c->id);
			break;
		case CONF_CHG_CLIENT_REMOVED:
		case CONF_CHG_CHILD_REMOVED:
			peer_removed(kind, c->id);
			break;
		case CONF_CHG_CLIENT_CHANGED:
		case CONF_CHG_CHILD_CHANGED:
			if ((p = peer_of(kind, c->id)) == NULL || p->removed)
				break;
			if (c->end_sessions)
				server_peer_end(p, "its block was changed by a reload: log in again");
			break;
		case CONF_CHG_PARENT:
			parent = 1;
			break;
		case CONF_CHG_LISTEN_REMOVED:
			unlisten(c->id);
			break;
		case CONF_CHG_LISTEN_ADDED:     /* opened before (listen_open) */
		case CONF_CHG_OTHER:
			break;
		}
	}
	repoint_peers();
	for (i = 0; i < ch->n; i++)
		if (ch->v[i].what == CONF_CHG_CLIENT_ADDED || ch->v[i].what == CONF_CHG_CHILD_ADDED ||
		    ch->v[i].end_sessions) {
			lim_auth_forgive();
			break;
		}
	for (i = 0; i < ch->n; i++) {
		struct peer *p;

		if (ch->v[i].what == CONF_CHG_CHILD_CHANGED &&
		    (p = peer_of(CASCADE__PEER_KIND__PEER_NODE, ch->v[i].id)) != NULL &&
		    !p->removed)
			child_refilter(p);
	}
	if (parent && node->up != NULL && node->conf->parent != NULL)
		uplink_reconfigure(node->up, node->conf->parent);
}

static void
retire(struct conf *c)
{
	retired = xrealloc(retired, (nretired + 1) * sizeof(*retired));
	retired[nretired++] = c;
}

static int
refuse(char *text, char **out)
{
	free(reload_failed_text);
	reload_failed_text = text;
	reload_failed_ms = cnow_ms();
	*out = xstrdup(text);
	return -1;
}

int
reload_run(int dry_run, char **text)
{
	struct conf_errors errs;
	struct conf_changes ch;
	struct conf *n = NULL;
	const char *path = node->conf->path;
	size_t i;

	*text = NULL;
	memset(&errs, 0, sizeof(errs));
	if (conf_load(path, &n, &errs) != 0) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		if (f == NULL)
			fatal("open_memstream");
		conf_errors_print(&errs, f);
		fprintf(f, "%s: %s (%zu error%s); the running configuration stays", path,
		    dry_run ? "configuration has errors" : "reload refused",
		    errs.n + errs.dropped, errs.n + errs.dropped == 1 ? "" : "s");
		fclose(f);
		for (i = 0; i < errs.n; i++)
			log_warnx("reload: %s", errs.v[i].text);
		conf_errors_free(&errs);
		log_warnx("reload: %s: refused: the running configuration stays", path);
		if (dry_run) {
			*text = buf;
			return -1;
		}
		return refuse(buf, text);
	}
	memset(&ch, 0, sizeof(ch));
	conf_diff(node->conf, n, &ch);
	if (dry_run || ch.nrefused > 0) {
		char *s = conf_changes_text(&ch), *buf;
		size_t len = strlen(s) + strlen(path) + 128;
		int rc = ch.nrefused > 0 ? -1 : 0;

		buf = xcalloc(1, len);
		if (ch.n == 0)
			snprintf(buf, len, "%s: no changes", path);
		else if (rc != 0)
			snprintf(buf, len, "%s\n%s: %s: %zu change%s cannot be made live; the "
			    "running configuration stays", s, path, dry_run ? "a reload would be "
			    "refused" : "reload refused", ch.nrefused, ch.nrefused == 1 ? "" : "s");
		else
			snprintf(buf, len, "%s\n%s: %zu change%s a reload would apply", s, path,
			    ch.n, ch.n == 1 ? "" : "s");
		free(s);
		conf_changes_free(&ch);
		conf_free(n);
		if (!dry_run) {
			log_warnx("reload: %s", buf);
			return refuse(buf, text);
		}
		*text = buf;
		return rc;
	}
	{
		char err[512];

		if (listen_open(n, &ch, err, sizeof(err)) != 0) {
			char *buf;

			xasprintf(&buf, "%s\n%s: reload refused: a new listener cannot be opened; "
			    "the running configuration stays", err, path);
			log_warnx("reload: %s", buf);
			conf_changes_free(&ch);
			/* kept, not freed: a listener opened and closed again
			 * above may have pointed into it (its tls set-up) */
			retire(n);
			return refuse(buf, text);
		}
	}
	for (i = 0; i < ch.n; i++)
		log_info("reload: %s", ch.v[i].text);
	retire(node->conf);
	node->conf = n;
	apply(&ch);
	reload_loaded_ms = cnow_ms();
	{
		char *s = conf_changes_text(&ch);
		size_t len = strlen(s) + strlen(path) + 64;

		*text = xcalloc(1, len);
		snprintf(*text, len, "%s%s%s: reloaded (%zu change%s)", s, ch.n ? "\n" : "", path,
		    ch.n, ch.n == 1 ? "" : "s");
		free(s);
	}
	log_info("reload: %s: reloaded (%zu change%s)", path, ch.n, ch.n == 1 ? "" : "s");
	conf_changes_free(&ch);
	return 0;
}
