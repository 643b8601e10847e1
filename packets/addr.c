/* addr.c — node ids, client ids and "node/client" addresses. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "packets.h"

static int
is_lower_digit(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Checks the n bytes at s as a node id: [a-z0-9][a-z0-9-]{0,62}. Works on a
 * length so that caddr_parse can check the part before '/' in place.
 */
static enum caddr_err
check_node(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return CADDR_NODE_EMPTY;
	if (n > CADDR_NODE_MAX)
		return CADDR_NODE_TOO_LONG;
	if (!is_lower_digit((unsigned char)s[0]))
		return CADDR_NODE_BAD_CHAR;
	for (i = 1; i < n; i++)
		if (!is_lower_digit((unsigned char)s[i]) && s[i] != '-')
			return CADDR_NODE_BAD_CHAR;
	return CADDR_OK;
}

/* The same for a client id: [a-z0-9][a-z0-9._-]{0,62}. */
static enum caddr_err
check_client(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return CADDR_CLIENT_EMPTY;
	if (n > CADDR_CLIENT_MAX)
		return CADDR_CLIENT_TOO_LONG;
	if (!is_lower_digit((unsigned char)s[0]))
		return CADDR_CLIENT_BAD_CHAR;
	for (i = 1; i < n; i++)
		if (!is_lower_digit((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return CADDR_CLIENT_BAD_CHAR;
	return CADDR_OK;
}

enum caddr_err
caddr_check_node(const char *node)
{
	if (node == NULL)
		return CADDR_NODE_EMPTY;
	/* A NUL inside the id cannot happen in C strings; strlen is the id. */
	return check_node(node, strlen(node));
}

enum caddr_err
caddr_check_client(const char *client)
{
	if (client == NULL)
		return CADDR_CLIENT_EMPTY;
	return check_client(client, strlen(client));
}

/*
 * The parts are checked left to right, so "a//b" is reported as an empty
 * client id (the first fault a reader meets) and "a/b/c" as too many parts.
 */
enum caddr_err
caddr_parse(const char *text, struct caddr *a)
{
	const char *slash, *client, *end;
	enum caddr_err e;
	size_t nlen, clen;

	if (a != NULL)
		memset(a, 0, sizeof(*a));
	if (text == NULL || *text == '\0')
		return CADDR_EMPTY;
	slash = strchr(text, '/');
	nlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if ((e = check_node(text, nlen)) != CADDR_OK)
		return e;
	if (slash == NULL) {
		if (a != NULL)
			memcpy(a->node, text, nlen);
		return CADDR_OK;
	}
	client = slash + 1;
	end = strchr(client, '/');
	clen = end != NULL ? (size_t)(end - client) : strlen(client);
	if ((e = check_client(client, clen)) != CADDR_OK)
		return e;
	if (end != NULL)
		return CADDR_TOO_MANY_PARTS;
	if (a != NULL) {
		memcpy(a->node, text, nlen);
		memcpy(a->client, client, clen);
	}
	return CADDR_OK;
}

char *
caddr_format(const struct caddr *a, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (a->client[0] != '\0')
		snprintf(buf, len, "%s/%s", a->node, a->client);
	else
		snprintf(buf, len, "%s", a->node);
	return buf;
}

const char *
caddr_strerror(enum caddr_err e)
{
	switch (e) {
	case CADDR_OK:
		return "valid address";
	case CADDR_EMPTY:
		return "address is empty";
	case CADDR_NODE_EMPTY:
		return "node id is empty";
	case CADDR_NODE_TOO_LONG:
		return "node id is longer than 63 characters";
	case CADDR_NODE_BAD_CHAR:
		return "node id has a character outside [a-z0-9-] or starts with '-'";
	case CADDR_CLIENT_EMPTY:
		return "client id is empty";
	case CADDR_CLIENT_TOO_LONG:
		return "client id is longer than 63 characters";
	case CADDR_CLIENT_BAD_CHAR:
		return "client id has a character outside [a-z0-9._-] or starts with '.', '_' or '-'";
	case CADDR_TOO_MANY_PARTS:
		return "address has more than two parts (node/client)";
	}
	return "unknown address error";
}
