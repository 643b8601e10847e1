/*
 * carrier.c — picks the carrier for a url and dispatches to it; see
 * carrier.h. A new carrier adds its ops to the table below.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascade.h"
#include "sdk_int.h"

struct carrier {
	const struct carrier_ops *ops;
	void *impl;
};

static const struct {
	const char *prefix;
	int carrier;
	int tls;
	const struct carrier_ops *ops;  /* NULL: not in this build */
} schemes[] = {
	{ "tcp://", CASCADE_CARRIER_TCP, 0, &carrier_tcp_ops },
	{ "tls+tcp://", CASCADE_CARRIER_TCP, 1, &carrier_tcp_ops },
	{ "http://", CASCADE_CARRIER_HTTP, 0, &carrier_http_ops },
	{ "https://", CASCADE_CARRIER_HTTP, 1, &carrier_http_ops },
};

static int
scheme_find(const char *url)
{
	size_t i;

	if (url == NULL)
		return -1;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			return (int)i;
	return -1;
}

int
sdk_url_check(const char *url, char *host, size_t hostlen, int *port)
{
	const char *p, *end, *colon;
	char *ep;
	long v;
	int s;

	if ((s = scheme_find(url)) < 0 || strlen(url) > SDK_URL_MAX)
		return CASCADE_EINVAL;
	p = url + strlen(schemes[s].prefix);
	end = p + strcspn(p, "/?#");
	if (*p == '[') {
		/* [v6 address]:port */
		if ((colon = memchr(p, ']', (size_t)(end - p))) == NULL)
			return CASCADE_EINVAL;
		colon++;
		if (colon == p + 2 || (colon < end && *colon != ':'))
			return CASCADE_EINVAL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL)
			colon = end;
	}
	if (colon == p || (size_t)(colon - p) >= (host != NULL ? hostlen : SDK_URL_MAX))
		return CASCADE_EINVAL;
	if (host != NULL) {
		memcpy(host, p, (size_t)(colon - p));
		host[colon - p] = '\0';
	}
	if (colon == end) {
		/* http may leave the port out; tcp may not */
		if (schemes[s].carrier == CASCADE_CARRIER_TCP)
			return CASCADE_EINVAL;
		v = schemes[s].tls ? 443 : 80;
	} else {
		if (colon[1] < '0' || colon[1] > '9')
			return CASCADE_EINVAL;
		v = strtol(colon + 1, &ep, 10);
		if (ep != end || v < 1 || v > 65535)
			return CASCADE_EINVAL;
	}
	if (schemes[s].carrier == CASCADE_CARRIER_TCP && *end != '\0')
		return CASCADE_EINVAL;      /* nng's tcp urls have no path */
	if (port != NULL)
		*port = (int)v;
	return CASCADE_OK;
}

int
carrier_url_tls(const char *url)
{
	int s = scheme_find(url);

	return s >= 0 && schemes[s].tls;
}

int
carrier_pick(const char *url, int pref, char *err, size_t errlen)
{
	int s = scheme_find(url);

	if (s < 0) {
		snprintf(err, errlen, "%s: not a cascade url (tcp://, tls+tcp://, http://, https://)",
		    url != NULL ? url : "(null)");
		return CASCADE_EINVAL;
	}
	if (pref != CASCADE_CARRIER_AUTO && pref != schemes[s].carrier) {
		snprintf(err, errlen, "carrier %s asked for, but the url is %s",
		    pref == CASCADE_CARRIER_TCP ? "tcp" : "http", schemes[s].prefix);
		return CASCADE_ECARRIER;
	}
	if (schemes[s].ops == NULL) {
		snprintf(err, errlen, "%s needs the http carrier, which this build of libcascade "
		    "lacks", schemes[s].prefix);
		return CASCADE_ECARRIER;
	}
	return schemes[s].carrier;
}

int
carrier_open(const struct carrier_params *p, int pref, struct carrier **cp, char *err,
    size_t errlen)
{
	struct carrier *c;
	int rc, s;

	*cp = NULL;
	if ((rc = carrier_pick(p->url, pref, err, errlen)) < 0)
		return rc;
	s = scheme_find(p->url);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CASCADE_ENOMEM;
	}
	c->ops = schemes[s].ops;
	if ((rc = c->ops->open(p, &c->impl, err, errlen)) != 0) {
		free(c);
		return rc;
	}
	*cp = c;
	return CASCADE_OK;
}

int
carrier_call(struct carrier *c, const uint8_t *buf, size_t len, int timeout_ms,
    carrier_reply_fn fn, void *arg)
{
	return c->ops->call(c->impl, buf, len, timeout_ms, fn, arg);
}

void
carrier_reset(struct carrier *c)
{
	c->ops->reset(c->impl);
}

void
carrier_close(struct carrier *c)
{
	if (c == NULL)
		return;
	c->ops->close(c->impl);
	free(c);
}

const char *
carrier_name(const struct carrier *c)
{
	return c->ops->name;
}
