/*
 * reload.c — live reload (SIGHUP, cascadectl reload) and its dry run
 * (cascadectl check).
 *
 * The file is parsed by the one loader (conf_load) into a fresh struct conf
 * and compared with the running one by conf_diff (confdiff.c). A config with
 * errors, or one changing what cannot change live, is refused as a whole:
 * the old one keeps running and status shows the refusal.
 *
 * What this version applies live: clients added, removed, secret or carriers
 * changed. A removed client's peer entry stays (marked removed: no logins,
 * nothing routed to it) so its journal queue stays and is shown by
 * cascadectl queue; adding it back revives the same entry and queue.
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
	return p;
}

/* At start-up only (before the journal thread runs). */
struct peer *
peer_add_client(const struct conf_client *cl, char *err, size_t errlen)
{
	char qname[CADDR_TEXT_MAX + 16];
	struct peer *p;

	if (node->npeers >= node->peers_cap) {
		snprintf(err, errlen, "%s:%d: client %s: no room for more clients before a "
		    "restart", cl->where.file, cl->where.line, cl->id);
		return NULL;
	}
	p = peer_fill_client(&node->peers[node->npeers], cl);
	snprintf(qname, sizeof(qname), "client:%s", cl->id);
	if (journal_queue(node->j, qname, JQ_CLIENT, &p->qid) != 0) {
		snprintf(err, errlen, "journal: queue %s: %s", qname, journal_errmsg(node->j));
		return NULL;
	}
	node->npeers++;
	return p;
}

static struct peer *
client_peer(const char *id)
{
	char name[CADDR_TEXT_MAX + 1];
	size_t i;

	snprintf(name, sizeof(name), "%s/%s", node->id, id);
	for (i = 0; i < node->npeers; i++)
		if (node->peers[i].kind == CASCADE__PEER_KIND__PEER_CLIENT &&
		    strcmp(node->peers[i].name, name) == 0)
			return &node->peers[i];
	return NULL;
}

/* A new client's queue, made on the journal thread (the journal's one writer). */
struct addjob {
	struct jjob job;
	const struct conf_client *cl;
	uint32_t qid;
	char err[256];
};

static int
addjob_run(struct journal *j, struct jjob *job)
{
	struct addjob *a = (struct addjob *)job;
	char qname[CADDR_TEXT_MAX + 16];

	snprintf(qname, sizeof(qname), "client:%s", a->cl->id);
	if (journal_queue(j, qname, JQ_CLIENT, &a->qid) != 0) {
		snprintf(a->err, sizeof(a->err), "journal: queue %s: %s", qname, journal_errmsg(j));
		return -1;
	}
	return 0;
}

static void
addjob_done(struct jjob *job)
{
	struct addjob *a = (struct addjob *)job;
	const struct conf_client *cl;
	struct peer *p;

	/* a later reload may have changed or removed it meanwhile: the running
	 * config's block decides */
	if ((cl = conf_client_find(node->conf, a->cl->id)) == NULL) {
		free(a);
		return;
	}
	a->cl = cl;
	if (job->rc != 0) {
		log_warnx("reload: client %s not added: %s", a->cl->id, a->err);
	} else if ((p = client_peer(a->cl->id)) != NULL) {
		/* two reloads in a row added it: one entry, the running block */
		peer_fill_client(p, a->cl);
	} else if (node->npeers >= node->peers_cap) {
		log_warnx("reload: client %s not added: no room for more clients before a "
		    "restart", a->cl->id);
	} else {
		p = peer_fill_client(&node->peers[node->npeers], a->cl);
		p->qid = a->qid;
		node->npeers++;
		log_info("reload: client %s added", p->name);
	}
	free(a);
}

static void
apply_clients(const struct conf *o, const struct conf *n)
{
	size_t i;

	for (i = 0; i < n->nclients; i++) {
		const struct conf_client *cl = &n->clients[i];
		const struct conf_client *ocl = conf_client_find(o, cl->id);
		struct peer *p = client_peer(cl->id);

		if (p == NULL) {
			struct addjob *a = xcalloc(1, sizeof(*a));

			a->cl = cl;
			a->job.run = addjob_run;
			a->job.done = addjob_done;
			jthread_submit(&a->job);
			continue;
		}
		if (ocl == NULL)
			log_info("reload: client %s added back: its queue is served again", p->name);
		else if (ocl->secret.len != cl->secret.len ||
		    memcmp(ocl->secret.key, cl->secret.key, cl->secret.len) != 0)
			server_peer_end(p, "secret changed by a reload: log in again");
		peer_fill_client(p, cl);
	}
	for (i = 0; i < o->nclients; i++) {
		struct peer *p;

		if (conf_client_find(n, o->clients[i].id) != NULL)
			continue;
		if ((p = client_peer(o->clients[i].id)) == NULL || p->removed)
			continue;
		server_peer_end(p, "removed by a reload");
		p->removed = 1;
		p->secretlen = 0;
		log_info("reload: client %s removed; its queue stays in the journal", p->name);
	}
}

/* Children are unchanged (conf_diff refused any change): point at the new blocks. */
static void
repoint_children(const struct conf *n)
{
	size_t i;

	for (i = 0; i < node->npeers; i++) {
		struct peer *p = &node->peers[i];
		const struct conf_child *ch;

		if (p->kind != CASCADE__PEER_KIND__PEER_NODE ||
		    (ch = conf_child_find(n, p->name)) == NULL)
			continue;
		p->child = ch;
		p->secret = ch->secret.key;
	}
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
	for (i = 0; i < ch.n; i++)
		log_info("reload: %s", ch.v[i].text);
	apply_clients(node->conf, n);
	repoint_children(n);
	retired = realloc(retired, (nretired + 1) * sizeof(*retired));
	if (retired == NULL)
		fatal("realloc");
	retired[nretired++] = node->conf;
	node->conf = n;
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
