/* sdk.c — libcascade's public entry points. */
#include "config.h"

#include <string.h>

#include "cascade.h"
#include "packets.h"

const char *
cascade_strerror(int code)
{
	switch (code) {
	case CASCADE_OK: return "success";
	case CASCADE_EINVAL: return "invalid argument";
	case CASCADE_ENOMEM: return "out of memory";
	case CASCADE_EADDRESS: return "not a valid cascade address";
	case CASCADE_EQUEUE_FULL: return "send queue full (no state directory)";
	case CASCADE_ETIMEDOUT: return "timed out";
	case CASCADE_ECLOSED: return "handle closed";
	case CASCADE_ESECRET: return "secret file missing, malformed or readable by others";
	case CASCADE_EAUTH: return "the node refused our credentials";
	case CASCADE_ECARRIER: return "the node refused the carrier";
	case CASCADE_ESTATE: return "state directory unusable";
	case CASCADE_ETOOBIG: return "payload too large";
	case CASCADE_EINTERNAL: return "internal error";
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
