/*
 * metrics.c — Prometheus text exposition (format 0.0.4) at /metrics on the
 * metrics-listen address of cascade.conf(5).
 *
 * Served by libevent's evhttp on the daemon's own event base, as the http
 * carrier is (carrier_http.c), on a listener of its own: the metrics
 * address is usually a private one (127.0.0.1, a management network) while
 * the carrier faces the children. Everything comes from the same snapshot
 * the control socket shows (snapshot.c: no queue scans, no waiting), so a
 * scrape costs the same with a backlog of a million packets.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cascaded.h"

static struct evhttp *mx_http;

/* A label value: backslash, double quote and newline escaped. */
static const char *
lv(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; s != NULL && *s != '\0' && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	return buf;
}

static void
head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(struct evbuffer *b, const char *name, const char *type, const char *help, uint64_t v)
{
	head(b, name, type, help);
	evbuffer_add_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void
histogram(struct evbuffer *b, const char *name, const char *help, const struct jhist *h)
{
	unsigned i;

	head(b, name, "histogram", help);
	for (i = 0; i < JHIST_BUCKETS; i++)
		evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
		    (double)jhist_bounds_us[i] / 1e6, h->le[i]);
	evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
	evbuffer_add_printf(b, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
	    (double)h->sum_us / 1e6, name, h->count);
}

/* audit-sink (audit_sink.c), when configured */
static void
sink_metrics(struct evbuffer *b, const Cascade__CtlStatus *st)
{
	uint64_t records, outages, gaps;

	audit_sink_counters(&records, &outages, &gaps);
	one(b, "cascade_audit_sink_up", "gauge",
	    "1 while the audit sink streams the event log into PostgreSQL.",
	    st->audit_sink_error[0] == '\0');
	one(b, "cascade_audit_sink_confirmed_position", "gauge",
	    "The last event-log position the database has committed.", st->audit_sink_confirmed);
	one(b, "cascade_audit_sink_lag_records", "gauge",
	    "Event records not yet in the database.", st->audit_sink_lag_records);
	head(b, "cascade_audit_sink_lag_seconds", "gauge",
	    "Age of the oldest event record not yet in the database, 0 when none.");
	evbuffer_add_printf(b, "cascade_audit_sink_lag_seconds %.3f\n",
	    (double)st->audit_sink_lag_ms / 1e3);
	one(b, "cascade_audit_sink_records_total", "counter",
	    "Event records written to the database since start.", records);
	one(b, "cascade_audit_sink_outages_total", "counter",
	    "Times the database was lost (or refused) since start.", outages);
	one(b, "cascade_audit_sink_gaps_total", "counter",
	    "Holes met in the event log's positions since start (see cascadectl audit verify).",
	    gaps);
}

static void
node_metrics(struct evbuffer *b, const Cascade__CtlStatus *st)
{
	char n[160], v[64];
	struct jhist commit, sync;
	struct jstats js;

	head(b, "cascade_info", "gauge", "This node: its id, role and cascaded's version.");
	evbuffer_add_printf(b, "cascade_info{node=\"%s\",role=\"%s\",version=\"%s\"} 1\n",
	    lv(st->node, n, sizeof(n)), st->role, lv(st->version, v, sizeof(v)));
	head(b, "cascade_uptime_seconds", "gauge", "Seconds since cascaded started.");
	evbuffer_add_printf(b, "cascade_uptime_seconds %.3f\n", (double)st->uptime_ms / 1e3);
	one(b, "cascade_packets_in_total", "counter",
	    "Packets taken into custody since start.", st->packets_in);
	one(b, "cascade_packets_out_total", "counter",
	    "Packets acked by the next hop or the client since start.", st->packets_out);
	one(b, "cascade_packets_duplicate_total", "counter",
	    "Packets received again and acked without a second copy.", st->duplicates);
	head(b, "cascade_packets_rejected_total", "counter",
	    "Packets or pushes refused, by reason: route (the router rejected it), "
	    "rate (push-rate), quota (quota-packets, quota-bytes), size (max-packet, max-batch).");
	evbuffer_add_printf(b, "cascade_packets_rejected_total{reason=\"route\"} %" PRIu64 "\n"
	    "cascade_packets_rejected_total{reason=\"rate\"} %" PRIu64 "\n"
	    "cascade_packets_rejected_total{reason=\"quota\"} %" PRIu64 "\n"
	    "cascade_packets_rejected_total{reason=\"size\"} %" PRIu64 "\n",
	    node->stat_rejected, node->stat_refused_rate, node->stat_refused_quota,
	    node->stat_refused_size);
	one(b, "cascade_auth_failures_total", "counter",
	    "Failed authentications of children and clients since start.", node->stat_auth_failed);
	head(b, "cascade_received_bytes_total", "counter",
	    "Bytes received: requests from children and clients (side=\"served\"), "
	    "replies from the parent (side=\"parent\").");
	evbuffer_add_printf(b, "cascade_received_bytes_total{side=\"served\"} %" PRIu64 "\n"
	    "cascade_received_bytes_total{side=\"parent\"} %" PRIu64 "\n",
	    node->stat_bytes_in, node->stat_up_bytes_in);
	head(b, "cascade_sent_bytes_total", "counter",
	    "Bytes sent: replies to children and clients (side=\"served\"), requests to the "
	    "parent (side=\"parent\").");
	evbuffer_add_printf(b, "cascade_sent_bytes_total{side=\"served\"} %" PRIu64 "\n"
	    "cascade_sent_bytes_total{side=\"parent\"} %" PRIu64 "\n",
	    node->stat_bytes_out, node->stat_up_bytes_out);
	one(b, "cascade_journal_map_bytes", "gauge", "Size of the journal's LMDB map.",
	    st->journal_map_bytes);
	one(b, "cascade_journal_used_bytes", "gauge", "Bytes of the map in use.",
	    st->journal_used_bytes);
	one(b, "cascade_journal_full", "gauge",
	    "1 while the journal refuses new packets (journal-max-size, journal-disk-floor).",
	    st->journal_full);
	one(b, "cascade_journal_queued_packets", "gauge",
	    "Queue entries waiting, all queues.", st->queued);
	if (journal_stats(node->j, &js) == 0)
		one(b, "cascade_journal_grows_total", "counter",
		    "Times the map grew since start.", js.grows);
	if (st->audit_sink[0] != '\0')
		sink_metrics(b, st);
	journal_latency(node->j, &commit, &sync);
	histogram(b, "cascade_journal_commit_seconds",
	    "Group commits of incoming packets: from the first batch to the answer.", &commit);
	histogram(b, "cascade_journal_sync_seconds",
	    "LMDB commits: the write and, with sync yes, the fsync.", &sync);
}

static void
link_metrics(struct evbuffer *b)
{
	static const char *states[] = { "none", "up", "connecting", "down", "paused" };
	Cascade__CtlLink **ls;
	size_t i, k, nl;
	char n[160];

	snapshot_links(&ls, &nl);
	head(b, "cascade_link_up", "gauge", "1 when the link has a session.");
	for (i = 0; i < nl; i++)
		evbuffer_add_printf(b, "cascade_link_up{link=\"%s\",direction=\"%s\"} %d\n",
		    lv(ls[i]->name, n, sizeof(n)), ls[i]->direction,
		    ls[i]->state == CASCADE__CTL_LINK_STATE__CTL_LINK_UP);
	head(b, "cascade_link_state", "gauge", "1 for the link's state (up, connecting, down, "
	    "paused).");
	for (i = 0; i < nl; i++)
		for (k = 1; k < sizeof(states) / sizeof(states[0]); k++)
			evbuffer_add_printf(b, "cascade_link_state{link=\"%s\",state=\"%s\"} %d\n",
			    lv(ls[i]->name, n, sizeof(n)), states[k], ls[i]->state == k);
	head(b, "cascade_link_carrier", "gauge", "1 for the carrier the link's session uses.");
	for (i = 0; i < nl; i++)
		if (ls[i]->carrier[0] != '\0')
			evbuffer_add_printf(b, "cascade_link_carrier{link=\"%s\",carrier=\"%s\"} 1\n",
			    lv(ls[i]->name, n, sizeof(n)), ls[i]->carrier);
	head(b, "cascade_link_queue_packets", "gauge", "Packets waiting to go over the link.");
	for (i = 0; i < nl; i++)
		evbuffer_add_printf(b, "cascade_link_queue_packets{link=\"%s\"} %" PRIu64 "\n",
		    lv(ls[i]->name, n, sizeof(n)), ls[i]->depth);
	head(b, "cascade_link_queue_oldest_age_seconds", "gauge",
	    "Age of the oldest packet waiting for the link, 0 when none.");
	for (i = 0; i < nl; i++)
		evbuffer_add_printf(b, "cascade_link_queue_oldest_age_seconds{link=\"%s\"} %.3f\n",
		    lv(ls[i]->name, n, sizeof(n)), (double)ls[i]->oldest_age_ms / 1e3);
	head(b, "cascade_link_reconnects_total", "counter",
	    "Sessions of the link (to the parent, or a child's to this node) made again "
	    "since start.");
	for (i = 0; i < nl; i++)
		evbuffer_add_printf(b, "cascade_link_reconnects_total{link=\"%s\",direction=\"%s\"} %"
		    PRIu64 "\n", lv(ls[i]->name, n, sizeof(n)), ls[i]->direction, ls[i]->reconnects);
	for (i = 0; i < nl; i++)
		protobuf_c_message_free_unpacked(&ls[i]->base, NULL);
	free(ls);
}

/* Per peer served here (children and clients): session bytes, packets held here. */
static void
peer_bytes(struct evbuffer *b)
{
	char n[160];
	size_t i;

	head(b, "cascade_peer_received_bytes_total", "counter",
	    "Bytes of requests from a child or client since start.");
	for (i = 0; i < node->npeers; i++)
		evbuffer_add_printf(b, "cascade_peer_received_bytes_total{peer=\"%s\"} %" PRIu64
		    "\n", lv(node->peers[i].name, n, sizeof(n)), node->peers[i].bytes_in);
	head(b, "cascade_peer_sent_bytes_total", "counter",
	    "Bytes of replies to a child or client since start.");
	for (i = 0; i < node->npeers; i++)
		evbuffer_add_printf(b, "cascade_peer_sent_bytes_total{peer=\"%s\"} %" PRIu64 "\n",
		    lv(node->peers[i].name, n, sizeof(n)), node->peers[i].bytes_out);
	/* what quota-packets and quota-bytes are checked against (limits.c) */
	head(b, "cascade_peer_held_packets", "gauge",
	    "Packets from a child or client held here for its quota (taken since start, "
	    "not yet acknowledged further, expired or cancelled).");
	for (i = 0; i < node->npeers; i++)
		evbuffer_add_printf(b, "cascade_peer_held_packets{peer=\"%s\"} %" PRIu64 "\n",
		    lv(node->peers[i].name, n, sizeof(n)), node->peers[i].q_packets);
	head(b, "cascade_peer_held_bytes", "gauge",
	    "Encoded bytes of those packets (quota-bytes).");
	for (i = 0; i < node->npeers; i++)
		evbuffer_add_printf(b, "cascade_peer_held_bytes{peer=\"%s\"} %" PRIu64 "\n",
		    lv(node->peers[i].name, n, sizeof(n)), node->peers[i].q_bytes);
}

static void
client_metrics(struct evbuffer *b)
{
	Cascade__CtlClient **cs;
	size_t i, nc, online = 0;
	char n[160];

	snapshot_clients(&cs, &nc);
	for (i = 0; i < nc; i++)
		online += cs[i]->online;
	one(b, "cascade_clients_online", "gauge", "Clients with a session.", online);
	head(b, "cascade_client_online", "gauge", "1 when the client has a session.");
	for (i = 0; i < nc; i++)
		evbuffer_add_printf(b, "cascade_client_online{client=\"%s\"} %d\n",
		    lv(cs[i]->name, n, sizeof(n)), cs[i]->online);
	head(b, "cascade_client_queue_packets", "gauge", "Packets waiting in the client's inbox.");
	for (i = 0; i < nc; i++)
		evbuffer_add_printf(b, "cascade_client_queue_packets{client=\"%s\"} %" PRIu64 "\n",
		    lv(cs[i]->name, n, sizeof(n)), cs[i]->depth);
	head(b, "cascade_client_queue_oldest_age_seconds", "gauge",
	    "Age of the oldest packet in the client's inbox, 0 when none.");
	for (i = 0; i < nc; i++)
		evbuffer_add_printf(b, "cascade_client_queue_oldest_age_seconds{client=\"%s\"} "
		    "%.3f\n", lv(cs[i]->name, n, sizeof(n)), (double)cs[i]->oldest_age_ms / 1e3);
	for (i = 0; i < nc; i++)
		protobuf_c_message_free_unpacked(&cs[i]->base, NULL);
	free(cs);
}

static void
mx_request(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	Cascade__CtlStatus *st;
	struct evbuffer *b;

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics here");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, HTTP_BADMETHOD, "GET /metrics");
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	st = snapshot_status();
	node_metrics(b, st);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	link_metrics(b);
	client_metrics(b);
	peer_bytes(b);
	evhttp_add_header(out, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

int
metrics_start(const struct conf *c)
{
	if (c->metrics_host == NULL)
		return 0;
	if ((mx_http = evhttp_new(node->base)) == NULL)
		fatalx("metrics: evhttp_new failed");
	evhttp_set_allowed_methods(mx_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_timeout(mx_http, 10);
	evhttp_set_gencb(mx_http, mx_request, NULL);
	if (evhttp_bind_socket_with_handle(mx_http, c->metrics_host,
	    (ev_uint16_t)c->metrics_port) == NULL)
		fatal("metrics-listen %s:%d: cannot listen (another program on the port?)",
		    c->metrics_host, c->metrics_port);
	log_info("metrics: serving http://%s:%d/metrics", c->metrics_host, c->metrics_port);
	return 0;
}

void
metrics_stop(void)
{
	if (mx_http != NULL) {
		evhttp_free(mx_http);
		mx_http = NULL;
	}
}
