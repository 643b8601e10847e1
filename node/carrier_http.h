/*
 * carrier_http.h — what the http carrier's two halves share: the server
 * (carrier_http.c) and the client (carrier_http_client.c).
 */
#ifndef CASCADE_CARRIER_HTTP_H
#define CASCADE_CARRIER_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "carrier.h"

#define PROTOBUF_TYPE "application/x-protobuf"
#ifndef MSG
#define MSG(x) CASCADE__MSG_TYPE__MSG_##x
#endif

/* The endpoints, one per message type. */
static const struct endpoint {
	const char *name;
	uint32_t type;
} endpoints[] = {
	{ "hello", MSG(HELLO) },
	{ "auth", MSG(AUTH) },
	{ "push", MSG(PUSH) },
	{ "pull", MSG(PULL) },
	{ "routes", MSG(ROUTES) },
	{ "trace", MSG(TRACE) },        /* ops: cascadectl trace */
};
#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

static inline const char *
type_name(uint32_t type)
{
	size_t i;

	for (i = 0; i < NENDPOINTS; i++)
		if (endpoints[i].type == type)
			return endpoints[i].name;
	return "none";
}

/* A Content-Type of application/x-protobuf, parameters allowed (both sides check it). */
static inline int
content_type_ok(const char *ct)
{
	size_t n = strlen(PROTOBUF_TYPE);

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return strncasecmp(ct, PROTOBUF_TYPE, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* The dialing side (carrier_http_client.c); carrier_http holds it. */
extern const struct cclient_ops http_client_ops;

#endif /* CASCADE_CARRIER_HTTP_H */
