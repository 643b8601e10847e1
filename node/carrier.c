/*
 * carrier.c — the daemon's table of carriers (carrier.h): the one place
 * that knows which carriers exist and which urls belong to which.
 */
#include "config.h"

#include <stddef.h>

#include "carrier.h"

/* Start order: tcp before http, as main.c always started them. */
const struct ncarrier *const carriers[] = { &carrier_tcp, &carrier_http, NULL };

const struct ncarrier *
carrier_for_url(const struct conf_url *u)
{
	size_t i;

	for (i = 0; carriers[i] != NULL; i++)
		if (carriers[i]->conf_carrier == u->carrier)
			return carriers[i];
	return carriers[0];     /* conf.c sets carrier for every url it accepts */
}
