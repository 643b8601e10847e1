/*
 * cascade.h — libcascade, the client SDK of cascade.
 *
 * Caveats
 * - Plain C ABI: opaque handles, no structs passed by value, so programs in
 *   C#, Java or Python can bind to it.
 * - Every function returns 0 (CASCADE_OK) or a negative cascade_err code;
 *   cascade_strerror() names each one.
 * - The library never aborts the process, never raises SIGPIPE and never
 *   writes to stdout or stderr.
 *
 * This version carries the error codes, version macros and packet-id helpers;
 * the session API (cascade_open, cascade_send, ...) arrives with the client
 * SDK work and keeps these.
 */
#ifndef CASCADE_H
#define CASCADE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CASCADE_VERSION_MAJOR 0
#define CASCADE_VERSION_MINOR 1
#define CASCADE_VERSION_PATCH 0
#define CASCADE_VERSION_NUMBER \
	(CASCADE_VERSION_MAJOR * 10000 + CASCADE_VERSION_MINOR * 100 + CASCADE_VERSION_PATCH)

/* The length of a packet id, and of its text form with the NUL. */
#define CASCADE_ID_LEN 16
#define CASCADE_ID_TEXT_LEN 34

enum cascade_err {
	CASCADE_OK = 0,
	CASCADE_EINVAL = -1,        /* an argument is out of range or NULL */
	CASCADE_ENOMEM = -2,        /* out of memory */
	CASCADE_EADDRESS = -3,      /* not a valid address (node or node/client) */
	CASCADE_EQUEUE_FULL = -4,   /* the bounded memory queue is full and there is no state directory */
	CASCADE_ETIMEDOUT = -5,     /* the wait ended before the condition was met */
	CASCADE_ECLOSED = -6,       /* the handle is closing or closed */
	CASCADE_ESECRET = -7,       /* the secret file is missing, malformed or readable by others */
	CASCADE_EAUTH = -8,         /* the node refused our credentials */
	CASCADE_ECARRIER = -9,      /* the node refused the carrier asked for */
	CASCADE_ESTATE = -10,       /* the state directory could not be opened or written */
	CASCADE_ETOOBIG = -11,      /* payload above the node's limit */
	CASCADE_EINTERNAL = -12,    /* a bug: please report it */
};

/*
 * Returns a fixed English description of code (never NULL; unknown codes
 * give "unknown error"). Thread-safe; the string is static.
 */
const char *cascade_strerror(int code);

/*
 * Returns the library's version as "major.minor.patch" (static string), and
 * if number is not NULL stores CASCADE_VERSION_NUMBER of the built library.
 */
const char *cascade_version(int *number);

/*
 * Writes a new packet id into id: 48-bit milliseconds since the epoch then
 * 80 bits that keep ids strictly increasing within the process.
 * Returns CASCADE_OK, CASCADE_EINVAL (id NULL) or CASCADE_EINTERNAL (no
 * randomness). Thread-safe.
 */
int cascade_id_new(uint8_t id[CASCADE_ID_LEN]);

/*
 * Writes the text form of id ("0193f6c2a1b0-" followed by 20 hex digits)
 * into text, which must hold CASCADE_ID_TEXT_LEN bytes.
 * Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_id_format(const uint8_t id[CASCADE_ID_LEN], char *text, size_t len);

/* Parses the text form. Returns CASCADE_OK or CASCADE_EINVAL. */
int cascade_id_parse(const char *text, uint8_t id[CASCADE_ID_LEN]);

/*
 * Checks an address: "node" or "node/client", node ids [a-z0-9][a-z0-9-]{0,62},
 * client ids [a-z0-9][a-z0-9._-]{0,62}. Returns CASCADE_OK or CASCADE_EADDRESS.
 */
int cascade_address_check(const char *address);

#ifdef __cplusplus
}
#endif

#endif /* CASCADE_H */
