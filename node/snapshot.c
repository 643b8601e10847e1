/*
 * snapshot.c — the node's state as the control socket shows it (and, later,
 * the metrics): node, journal, counters, links and clients.
 *
 * Read on the loop thread and never waits: queue depths come from the
 * queues' own state records, the oldest age from one peeked entry, journal
 * use from LMDB's statistics. Nothing here scans a queue, so the answer
 * takes the same time with a backlog of a million packets or a held pull.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cascaded.h"

int64_t node_started_ms;

static char *
dup_or_empty(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

/* Depth of queue qid and the age of its oldest packet (0 when empty). */
static void
queue_depth(uint32_t qid, uint64_t *depth, int64_t *oldest_age_ms)
{
	struct jqueue_info qi;
	struct jentry e;
	unsigned n = 0;

	*depth = 0;
	*oldest_age_ms = 0;
	if (journal_queue_info(node->j, qid, &qi) != 0)
		return;
	*depth = qi.depth;
	if (qi.depth == 0)
		return;
	/* one entry, its bytes only (max_bytes 1 still returns the first) */
	if (journal_peek(node->j, qid, qi.acked_seq + 1, 1, 1, &e, &n) == 0 && n == 1) {
		*oldest_age_ms = cnow_ms() - e.accepted_ms;
		if (*oldest_age_ms < 0)
			*oldest_age_ms = 0;
		journal_entries_free(&e, n);
	}
}

Cascade__CtlStatus *
snapshot_status(void)
{
	const struct conf *c = node->conf;
	Cascade__CtlStatus *st = xcalloc(1, sizeof(*st));
	struct jstats js = { 0 };
	char *dir;

	cascade__ctl_status__init(st);
	st->node = dup_or_empty(node->id);
	st->role = dup_or_empty(node->master ? "master" : "node");
	st->version = dup_or_empty(PACKAGE_VERSION);
	st->started_ms = node_started_ms;
	st->uptime_ms = cnow_ms() - node_started_ms;
	st->config = dup_or_empty(c->path);
	st->config_loaded_ms = reload_loaded_ms;
	st->reload_failed_ms = reload_failed_ms;
	st->reload_failed_text = dup_or_empty(reload_failed_text);
	xasprintf(&dir, "%s/journal", c->data_dir);
	st->journal = dir;
	if (journal_stats(node->j, &js) == 0) {
		st->journal_map_bytes = js.map_size;
		st->journal_used_bytes = js.pages_used * js.page_size;
		st->journal_full = js.full != 0;
		st->queued = js.queued;
	}
	st->audit_sink = dup_or_empty("");
	st->audit_sink_error = dup_or_empty("");
	audit_sink_status(st, js.events);
	st->packets_in = node->stat_accepted;
	st->packets_out = node->stat_sent;
	st->packets_rejected = node->stat_rejected;
	st->duplicates = node->stat_duplicates;
	st->sync = c->sync != 0;
	{       /* notify.c, delaywarn.c */
		unsigned pending;

		notify_stats(&st->notify_sent, &st->notify_failures, &pending);
		st->notify_pending = pending;
		st->delayed_sent = delaywarn_sent();
	}
	return st;
}

static Cascade__CtlLink *
link_new(const char *name, const char *direction)
{
	Cascade__CtlLink *l = xcalloc(1, sizeof(*l));

	cascade__ctl_link__init(l);
	l->name = dup_or_empty(name);
	l->direction = dup_or_empty(direction);
	return l;
}

static Cascade__CtlLink *
link_parent(void)
{
	static const uint32_t states[] = {
		[UPLINK_UP] = CASCADE__CTL_LINK_STATE__CTL_LINK_UP,
		[UPLINK_CONNECTING] = CASCADE__CTL_LINK_STATE__CTL_LINK_CONNECTING,
		[UPLINK_DOWN] = CASCADE__CTL_LINK_STATE__CTL_LINK_DOWN,
		[UPLINK_PAUSED] = CASCADE__CTL_LINK_STATE__CTL_LINK_PAUSED,
	};
	struct uplink_info ui;
	Cascade__CtlLink *l;

	uplink_info(node->up, &ui);
	l = link_new(ui.id, "parent");
	l->state = states[ui.state];
	l->carrier = dup_or_empty(ui.state == UPLINK_PAUSED ? "" : ui.carrier);
	l->carrier_why = dup_or_empty(ui.why);
	l->url = dup_or_empty(ui.url);
	l->last_error = dup_or_empty(ui.last_error);
	l->last_error_ms = ui.last_error_ms;
	l->reconnects = ui.reconnects;
	l->rebuilds = ui.rebuilds;
	queue_depth(node->q_up, &l->depth, &l->oldest_age_ms);
	return l;
}

/* A child's link as this node's server sees it: a session or none. */
static Cascade__CtlLink *
link_child(const struct peer *p)
{
	const char *carrier = server_peer_carrier(p);
	Cascade__CtlLink *l = link_new(p->name, "child");

	l->state = carrier != NULL ? CASCADE__CTL_LINK_STATE__CTL_LINK_UP :
	    CASCADE__CTL_LINK_STATE__CTL_LINK_DOWN;
	l->carrier = dup_or_empty(carrier);
	l->carrier_why = dup_or_empty("");
	l->url = dup_or_empty("");
	l->last_error = dup_or_empty("");
	queue_depth(p->qid, &l->depth, &l->oldest_age_ms);
	/* as for the parent: every session after its first is a reconnect */
	l->reconnects = p->logins > 0 ? p->logins - 1 : 0;
	return l;
}

void
snapshot_links(Cascade__CtlLink ***out, size_t *n)
{
	size_t i;

	*out = xcalloc(node->npeers + 2, sizeof(**out));
	*n = 0;
	if (node->up != NULL)
		(*out)[(*n)++] = link_parent();
	for (i = 0; i < node->npeers; i++)
		if (node->peers[i].kind == CASCADE__PEER_KIND__PEER_NODE)
			(*out)[(*n)++] = link_child(&node->peers[i]);
}

void
snapshot_clients(Cascade__CtlClient ***out, size_t *n)
{
	size_t i;

	*out = xcalloc(node->npeers + 1, sizeof(**out));
	*n = 0;
	for (i = 0; i < node->npeers; i++) {
		const struct peer *p = &node->peers[i];
		const char *carrier;
		Cascade__CtlClient *cl;

		/* a removed client's queue is still listed by cascadectl queue */
		if (p->kind != CASCADE__PEER_KIND__PEER_CLIENT || p->removed)
			continue;
		carrier = server_peer_carrier(p);
		cl = xcalloc(1, sizeof(*cl));
		cascade__ctl_client__init(cl);
		cl->name = dup_or_empty(p->name);
		cl->online = carrier != NULL;
		cl->last_seen_ms = p->seen_ms;
		cl->carrier = dup_or_empty(carrier);
		queue_depth(p->qid, &cl->depth, &cl->oldest_age_ms);
		(*out)[(*n)++] = cl;
	}
}
