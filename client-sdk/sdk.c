/*
 * sdk.c — libcascade's small public entry points: error strings, version,
 * ids and addresses, the options object, and the accessors of received
 * packets. The handle itself lives in session.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cascade.h"
#include "sdk_int.h"

const char *
cascade_strerror(int code)
{
	switch (code) {
	case CASCADE_OK: return "success";
	case CASCADE_EINVAL: return "invalid argument";
	case CASCADE_ENOMEM: return "out of memory";
	case CASCADE_EADDRESS: return "not a valid cascade address";
	case CASCADE_EQUEUE_FULL: return "send queue full";
	case CASCADE_ETIMEDOUT: return "timed out";
	case CASCADE_ECLOSED: return "handle closed";
	case CASCADE_ESECRET: return "secret file missing, malformed or readable by others";
	case CASCADE_EAUTH: return "the node refused our credentials";
	case CASCADE_ECARRIER: return "no usable carrier for the node's url";
	case CASCADE_ESTATE: return "state directory unusable";
	case CASCADE_ETOOBIG: return "payload too large";
	case CASCADE_EINTERNAL: return "internal error";
	case CASCADE_ECALLBACK: return "not allowed inside a callback of the same handle";
	case CASCADE_ENOTFOUND: return "no such packet";
	case CASCADE_EUNDELIVERABLE: return "undeliverable: no route to the destination";
	case CASCADE_EEXPIRED: return "expired before delivery";
	case CASCADE_EREJECTED: return "rejected by a node";
	case CASCADE_ECANCELLED: return "cancelled before delivery";
	case CASCADE_EBUSY: return "state directory in use by another process or handle";
	}
	return "unknown error";
}

const char *
cascade_version(int *number)
{
	if (number != NULL)
		*number = CASCADE_VERSION_NUMBER;
	return PACKAGE_VERSION;
}

int
cascade_id_new(uint8_t id[CASCADE_ID_LEN])
{
	if (id == NULL)
		return CASCADE_EINVAL;
	return cid_next(id) == 0 ? CASCADE_OK : CASCADE_EINTERNAL;
}

int
cascade_id_format(const uint8_t id[CASCADE_ID_LEN], char *text, size_t len)
{
	if (id == NULL || text == NULL || len < CASCADE_ID_TEXT_LEN)
		return CASCADE_EINVAL;
	cid_format(id, text);
	return CASCADE_OK;
}

int
cascade_id_parse(const char *text, uint8_t id[CASCADE_ID_LEN])
{
	if (text == NULL || id == NULL)
		return CASCADE_EINVAL;
	return cid_parse(text, id) == 0 ? CASCADE_OK : CASCADE_EINVAL;
}

int
cascade_address_check(const char *address)
{
	struct caddr a;

	if (address == NULL)
		return CASCADE_EINVAL;
	return caddr_parse(address, &a) == CADDR_OK ? CASCADE_OK : CASCADE_EADDRESS;
}

const char *
cascade_reason_str(uint32_t reason)
{
	return creason_str(reason);
}

int
sdk_notice_status(uint32_t notice)
{
	switch (notice) {
	case CASCADE__NOTICE_CODE__NOTICE_EXPIRED: return CASCADE_EEXPIRED;
	case CASCADE__NOTICE_CODE__NOTICE_UNDELIVERABLE: return CASCADE_EUNDELIVERABLE;
	case CASCADE__NOTICE_CODE__NOTICE_REJECTED: return CASCADE_EREJECTED;
	case CASCADE__NOTICE_CODE__NOTICE_CANCELLED: return CASCADE_ECANCELLED;
	}
	return 0;
}

int
sdk_notice_from_node(const Cascade__Packet *p)
{
	struct caddr a;

	return p->src != NULL && caddr_parse(p->src, &a) == CADDR_OK && a.client[0] == '\0';
}

/* ------------------------------------------------------------- options */

int
cascade_options_new(cascade_options_t **opts)
{
	cascade_options_t *o;

	if (opts == NULL)
		return CASCADE_EINVAL;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		*opts = NULL;
		return CASCADE_ENOMEM;
	}
	o->carrier = CASCADE_CARRIER_AUTO;
	o->log_level = CASCADE_LOG_WARN;
	o->state_size = SDK_DEF_STATE_SIZE;
	o->queue_max = SDK_DEF_QUEUE_MAX;
	o->timeout_ms = SDK_DEF_TIMEOUT_MS;
	o->reply_ttl_ms = SDK_DEF_REPLY_TTL_MS;
	o->reconnect_min_ms = SDK_DEF_RECONNECT_MIN_MS;
	o->reconnect_max_ms = SDK_DEF_RECONNECT_MAX_MS;
	o->dead_ms = SDK_DEF_DEAD_MS;
	*opts = o;
	return CASCADE_OK;
}

void
cascade_options_free(cascade_options_t *o)
{
	if (o == NULL)
		return;
	free(o->url);
	free(o->client);
	free(o->secret_file);
	free(o->ca_file);
	free(o->cert_file);
	free(o->key_file);
	free(o->state_dir);
	free(o->proxy);
	free(o);
}

/* Replaces *slot by a copy of s. */
static int
set_str(char **slot, const char *s)
{
	char *c;

	if ((c = strdup(s)) == NULL)
		return CASCADE_ENOMEM;
	free(*slot);
	*slot = c;
	return CASCADE_OK;
}

static int
path_ok(const char *path)
{
	return path != NULL && path[0] != '\0' && strlen(path) <= SDK_PATH_MAX;
}

int
cascade_options_set_url(cascade_options_t *o, const char *url)
{
	if (o == NULL || url == NULL || sdk_url_check(url, NULL, 0, NULL) != CASCADE_OK)
		return CASCADE_EINVAL;
	return set_str(&o->url, url);
}

int
cascade_options_set_client(cascade_options_t *o, const char *address)
{
	struct caddr a;

	if (o == NULL || address == NULL)
		return CASCADE_EINVAL;
	if (caddr_parse(address, &a) != CADDR_OK || a.client[0] == '\0')
		return CASCADE_EADDRESS;
	return set_str(&o->client, address);
}

int
cascade_options_set_secret_file(cascade_options_t *o, const char *path)
{
	if (o == NULL || !path_ok(path))
		return CASCADE_EINVAL;
	return set_str(&o->secret_file, path);
}

int
cascade_options_set_ca_file(cascade_options_t *o, const char *path)
{
	if (o == NULL || !path_ok(path))
		return CASCADE_EINVAL;
	return set_str(&o->ca_file, path);
}

int
cascade_options_set_client_cert(cascade_options_t *o, const char *cert_file,
    const char *key_file)
{
	int rc;

	if (o == NULL || !path_ok(cert_file) || !path_ok(key_file))
		return CASCADE_EINVAL;
	if ((rc = set_str(&o->cert_file, cert_file)) != CASCADE_OK)
		return rc;
	return set_str(&o->key_file, key_file);
}

int
cascade_options_set_proxy(cascade_options_t *o, const char *url)
{
	if (o == NULL)
		return CASCADE_EINVAL;
	if (url == NULL) {
		free(o->proxy);
		o->proxy = NULL;
		return CASCADE_OK;
	}
	if (strncmp(url, "http://", 7) != 0 || sdk_url_check(url, NULL, 0, NULL) != CASCADE_OK)
		return CASCADE_EINVAL;
	return set_str(&o->proxy, url);
}

int
cascade_options_set_carrier(cascade_options_t *o, int carrier)
{
	if (o == NULL || carrier < CASCADE_CARRIER_AUTO || carrier > CASCADE_CARRIER_HTTP)
		return CASCADE_EINVAL;
	o->carrier = carrier;
	return CASCADE_OK;
}

int
cascade_options_set_packet_cb(cascade_options_t *o, cascade_packet_cb cb, void *arg)
{
	if (o == NULL)
		return CASCADE_EINVAL;
	o->packet_cb = cb;
	o->packet_arg = arg;
	return CASCADE_OK;
}

int
cascade_options_set_state_cb(cascade_options_t *o, cascade_state_cb cb, void *arg)
{
	if (o == NULL)
		return CASCADE_EINVAL;
	o->state_cb = cb;
	o->state_arg = arg;
	return CASCADE_OK;
}

int
cascade_options_set_log_cb(cascade_options_t *o, cascade_log_cb cb, void *arg, int max_level)
{
	if (o == NULL || max_level < CASCADE_LOG_ERROR || max_level > CASCADE_LOG_DEBUG)
		return CASCADE_EINVAL;
	o->log_cb = cb;
	o->log_arg = arg;
	o->log_level = max_level;
	return CASCADE_OK;
}

int
cascade_options_set_state_dir(cascade_options_t *o, const char *path)
{
	if (o == NULL || !path_ok(path))
		return CASCADE_EINVAL;
	return set_str(&o->state_dir, path);
}

int
cascade_options_set_state_size(cascade_options_t *o, uint64_t bytes)
{
	if (o == NULL || bytes < SDK_MIN_STATE_SIZE || bytes > ((uint64_t)SIZE_MAX >> 1))
		return CASCADE_EINVAL;
	o->state_size = bytes;
	return CASCADE_OK;
}

int
cascade_options_set_queue_max(cascade_options_t *o, uint32_t packets)
{
	if (o == NULL || packets == 0 || packets > SDK_MAX_QUEUE_MAX)
		return CASCADE_EINVAL;
	o->queue_max = packets;
	return CASCADE_OK;
}

int
cascade_options_set_timeout(cascade_options_t *o, int32_t ms)
{
	if (o == NULL || ms < 1 || ms > SDK_MAX_TIMEOUT_MS)
		return CASCADE_EINVAL;
	o->timeout_ms = ms;
	return CASCADE_OK;
}

int
cascade_options_set_reply_ttl(cascade_options_t *o, int64_t ms)
{
	if (o == NULL || ms < 0)
		return CASCADE_EINVAL;
	o->reply_ttl_ms = ms;
	return CASCADE_OK;
}

int
cascade_options_set_reconnect(cascade_options_t *o, int32_t min_ms, int32_t max_ms)
{
	if (o == NULL || min_ms < 10 || max_ms < min_ms || max_ms > 600000)
		return CASCADE_EINVAL;
	o->reconnect_min_ms = min_ms;
	o->reconnect_max_ms = max_ms;
	return CASCADE_OK;
}

int
cascade_options_set_dead_timeout(cascade_options_t *o, int32_t ms)
{
	if (o == NULL || ms < 1000 || ms > 600000)
		return CASCADE_EINVAL;
	o->dead_ms = ms;
	return CASCADE_OK;
}

/* ------------------------------------------------------ received packets */

const uint8_t *
cascade_packet_id(const cascade_packet_t *p)
{
	return p != NULL && p->p->id.len == CID_LEN ? p->p->id.data : NULL;
}

static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

const char *
cascade_packet_src(const cascade_packet_t *p)
{
	return p != NULL ? str_or_empty(p->p->src) : NULL;
}

const char *
cascade_packet_dst(const cascade_packet_t *p)
{
	return p != NULL ? str_or_empty(p->p->dst) : NULL;
}

const char *
cascade_packet_command(const cascade_packet_t *p)
{
	return p != NULL ? str_or_empty(p->p->command) : NULL;
}

const void *
cascade_packet_payload(const cascade_packet_t *p, size_t *len)
{
	static const uint8_t empty[1];

	if (p == NULL) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = p->p->payload.len;
	return p->p->payload.data != NULL ? p->p->payload.data : empty;
}

uint32_t
cascade_packet_flags(const cascade_packet_t *p)
{
	return p != NULL ? p->p->flags | p->local_flags : 0;
}

int
cascade_packet_kind(const cascade_packet_t *p)
{
	return p != NULL ? (int)p->p->kind : 0;
}

int
cascade_packet_notice(const cascade_packet_t *p)
{
	return p != NULL && p->p->kind == CASCADE__PACKET_KIND__KIND_NOTICE ? (int)p->p->notice : 0;
}

uint32_t
cascade_packet_reason(const cascade_packet_t *p)
{
	return p != NULL ? p->p->reason : 0;
}

const char *
cascade_packet_text(const cascade_packet_t *p)
{
	return p != NULL ? str_or_empty(p->p->text) : NULL;
}

const uint8_t *
cascade_packet_ref_id(const cascade_packet_t *p)
{
	return p != NULL && p->p->ref_id.len == CID_LEN ? p->p->ref_id.data : NULL;
}

const uint8_t *
cascade_packet_reply_to(const cascade_packet_t *p)
{
	return p != NULL && p->p->reply_to.len == CID_LEN ? p->p->reply_to.data : NULL;
}

int64_t
cascade_packet_ttl(const cascade_packet_t *p)
{
	if (p == NULL || (p->p->flags & CASCADE__PACKET_FLAG__FLAG_NO_TTL))
		return 0;
	return p->p->ttl_ms;
}

size_t
cascade_packet_hops(const cascade_packet_t *p)
{
	return p != NULL ? p->p->n_trace : 0;
}

int
cascade_packet_hop(const cascade_packet_t *p, size_t i, const char **node, int *down,
    int64_t *arrived_ms, uint32_t *held_ms)
{
	const Cascade__Hop *hop;

	if (p == NULL || i >= p->p->n_trace || p->p->trace[i] == NULL)
		return CASCADE_EINVAL;
	hop = p->p->trace[i];
	if (node != NULL)
		*node = str_or_empty(hop->node);
	if (down != NULL)
		*down = hop->leg != 0;
	if (arrived_ms != NULL)
		*arrived_ms = hop->arrived_ms;
	if (held_ms != NULL)
		*held_ms = hop->held_ms;
	return CASCADE_OK;
}

int
cascade_packet_dup(const cascade_packet_t *p, cascade_packet_t **copy)
{
	cascade_packet_t *c;
	uint8_t *buf;
	size_t len;

	if (p == NULL || copy == NULL)
		return CASCADE_EINVAL;
	*copy = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CASCADE_ENOMEM;
	if ((buf = cpkt_encode(p->p, &len)) == NULL) {
		free(c);
		return CASCADE_ENOMEM;
	}
	c->p = cpkt_decode(buf, len);
	free(buf);
	if (c->p == NULL) {
		free(c);
		return CASCADE_ENOMEM;
	}
	c->local_flags = p->local_flags;
	*copy = c;
	return CASCADE_OK;
}

void
cascade_packet_free(cascade_packet_t *p)
{
	if (p == NULL)
		return;
	cpkt_free(p->p);
	free(p);
}
