/*
 * conf.h — cascaded's configuration: the parsed form of cascade.conf(5).
 *
 * Caveats
 * - conf_load never prints, logs or aborts: it collects every error as
 *   "file:line: message" in a list the caller prints, and fails at the end.
 *   A failed load leaves nothing behind, so a live reload can keep the old
 *   config running and say why the new one was refused.
 * - Every element keeps the file and line it was defined at (struct
 *   conf_where) so later messages can name it. The file names are owned by
 *   the struct conf (conf->files) and live as long as it.
 * - Secret files are read at load time (csecret_load): the struct holds the
 *   secret bytes, not only the path, so the daemon never rereads them behind
 *   a reload's back.
 * - Relative paths in any directive (include, secret, data-dir, tls-*, ca,
 *   control) are resolved against the directory of the file naming them;
 *   the struct holds the resolved paths.
 * - Config files must not be writable by group or others and must belong
 *   to root or to the effective uid; otherwise they are refused.
 * - Defaults are filled in: after a successful load every field has its
 *   final value (control path, claims, advertised urls included).
 * - Not thread-safe while loading; a loaded conf is read-only and may be
 *   read from any thread.
 */
#ifndef CASCADE_CONF_H
#define CASCADE_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "journal_crypt.h"

#define CONF_SECRET_MAX 64           /* bytes of secret, at most */
#define CONF_SECRET_GEN_LEN 32       /* bytes of secret conf_gen_secret writes */

/* Defaults, as documented in cascade.conf(5). */
#define CONF_DEF_MAP_SIZE      (64ULL << 20)
#define CONF_DEF_DISK_FLOOR    (256ULL << 20)
#define CONF_DEF_RETENTION_MS  (30LL * 86400 * 1000)
#define CONF_DEF_ANCHOR_MS     (60LL * 60 * 1000)   /* audit-anchor-interval, master */
#define CONF_DEF_MAX_PACKET    (1ULL << 20)
#define CONF_DEF_MAX_BATCH     256
#define CONF_DEF_QUEUE_WINDOW  2048    /* JQ_WINDOW_DEFAULT */
#define CONF_DEF_PULL_WAIT_MS  25000
#define CONF_DEF_SESSION_IDLE_MS 60000
#define CONF_DEF_RECONNECT_MIN_MS 1000
#define CONF_DEF_RECONNECT_MAX_MS 60000
#define CONF_DEF_DEAD_TIMEOUT_MS 30000
#define CONF_DEF_PUSH_WINDOW   4
#define CONF_DEF_AUTH_FAIL_MAX 10
#define CONF_DEF_PUSH_RATE     500
#define CONF_DEF_QUOTA_PACKETS 20000
#define CONF_DEF_QUOTA_BYTES   (256ULL << 20)
#define CONF_DEF_HTTP_MAX_CONNS 1024
#define CONF_DEF_HTTP_MAX_CONNS_ADDR 64
#define CONF_DEF_HTTP_REQUEST_TIMEOUT_MS 10000
#define CONF_DEF_OFFLINE_NOTIFY_AFTER_MS (5LL * 60 * 1000)

/* Where something was defined; file points into conf->files. */
struct conf_where {
	const char *file;
	int line;
};

enum conf_role { CONF_ROLE_NODE = 0, CONF_ROLE_MASTER };
enum conf_delivery { CONF_DELIVERY_VIA_MASTER = 0, CONF_DELIVERY_DIRECT };
enum conf_transport { CONF_TRANSPORT_AUTO = 0, CONF_TRANSPORT_TCP, CONF_TRANSPORT_HTTP };

/* Carriers, as a bit set (child/client "carriers") or one value ("prefer"). */
#define CONF_CARRIER_TCP  0x1
#define CONF_CARRIER_HTTP 0x2

enum conf_scheme {
	CONF_URL_TCP = 1,        /* tcp://host:port        carrier tcp, plain */
	CONF_URL_TLS_TCP,        /* tls+tcp://host:port    carrier tcp, TLS */
	CONF_URL_HTTP,           /* http://host:port[/path] carrier http, plain */
	CONF_URL_HTTPS,          /* https://host:port[/path] carrier http, TLS */
};

struct conf_url {
	char *url;               /* as written (nng takes tcp:// and tls+tcp:// as is) */
	enum conf_scheme scheme;
	int carrier;             /* CONF_CARRIER_TCP or CONF_CARRIER_HTTP */
	int tls;                 /* 1 for tls+tcp:// and https:// */
	char *host;              /* without [] around an IPv6 address; "" (listen only): every address */
	uint16_t port;
	char *path;              /* "/" when none was given (http and https only) */
	struct conf_where where;
};

struct conf_secret {
	char *path;              /* as resolved (relative to the config file) */
	uint8_t key[CONF_SECRET_MAX];
	size_t len;              /* > 0 after a successful load */
};

struct conf_parent {
	char *id;                               /* node id of the parent */
	struct conf_url *urls;                  /* one per carrier, in order written */
	size_t nurls;
	enum conf_transport transport;          /* [auto] */
	struct conf_secret secret;              /* required */
	char *ca;                               /* NULL unless given; required for tls urls */
	char *proxy;                            /* http proxy url for the http carrier, or NULL */
	int64_t reconnect_min_ms, reconnect_max_ms;   /* [1s 60s] */
	int64_t dead_timeout_ms;                /* [30s] */
	unsigned push_window;                   /* [4] */
	char *cert, *key;                       /* client certificate for mutual TLS, or NULL */
	struct conf_where where;                /* the "parent ID {" line */
};

struct conf_child {
	char *id;
	struct conf_secret secret;
	int carriers;                           /* CONF_CARRIER_* bits [tcp http] */
	int prefer;                             /* CONF_CARRIER_TCP or _HTTP [tcp] */
	char **claims;                          /* fnmatch(3) patterns [the child's id] */
	size_t nclaims;
	struct conf_url *advertise;             /* [copies of the node's listen urls] */
	size_t nadvertise;
	struct conf_where where;
};

struct conf_client {
	char *id;                               /* client id: caddr_check_client */
	struct conf_secret secret;
	int carriers;                           /* [tcp http] */
	int64_t offline_notify_after_ms;        /* [0: the node's offline-notify-after] */
	struct conf_where where;
};

struct conf {
	char *path;                             /* the main file, as given to conf_load */
	char **files;                           /* every file read, main file first */
	size_t nfiles;

	char *node;                             /* required */
	enum conf_role role;                    /* [node] */
	char *data_dir;                         /* required */
	uint64_t journal_map_size;              /* [64M] */
	uint64_t journal_max_size;              /* [0 = no limit but the floor] */
	uint64_t journal_disk_floor;            /* [256M] */
	struct jkeyring journal_keys;           /* [none: bodies in clear]; [0] current */
	char **journal_key_files;               /* their paths, as given */
	int sync;                               /* [1] */
	int64_t retention_ms;                   /* [30d] */
	enum conf_delivery local_delivery;      /* [via-master] */
	int audit_copy;                         /* [0] */
	int audit_index;                        /* [1 on the master, else 0] event indexes */
	int64_t audit_anchor_ms;                /* [60m on the master, else 0 = off] */
	struct conf_url *listen;                /* repeatable */
	size_t nlisten;
	int allow_plain;                        /* [0] */
	char *tls_cert, *tls_key, *tls_ca;      /* NULL unless given */
	char *control;                          /* [<data-dir>/control.sock] */
	char *metrics_host;                     /* metrics-listen, NULL: no /metrics */
	int metrics_port;
	uint64_t max_packet;                    /* [1M] */
	unsigned max_batch;                     /* [256] */
	unsigned queue_window;                  /* [2048] numbered waiting per queue */
	int64_t pull_wait_ms;                   /* [25s] */
	int64_t session_idle_ms;                /* [60s] */
	unsigned auth_fail_max;                 /* [10] failed logins per address a minute */
	unsigned push_rate;                     /* [500] pushes a second per peer, 0: none */
	unsigned quota_packets;                 /* [20000] held here per peer, 0: none */
	uint64_t quota_bytes;                   /* [256M] held here per peer, 0: none */
	unsigned http_max_conns;                /* [1024] */
	unsigned http_max_conns_addr;           /* [64] per source address */
	int64_t http_request_timeout_ms;        /* [10s] to receive a whole request */
	/* offline notices and delay warnings (notify.c, delaywarn.c) */
	char *offline_notify_url;               /* http(s) URL to POST to, NULL: off */
	int64_t offline_notify_after_ms;        /* [5m] */
	int64_t delay_warning_after_ms;         /* [0 = off] */
	/* the PostgreSQL audit sink (audit_sink.c) */
	char *audit_sink;                       /* postgresql:// URL, NULL: off */
	struct conf_where audit_sink_where;

	struct conf_parent *parent;             /* NULL for the master */
	struct conf_child *children;
	size_t nchildren;
	struct conf_client *clients;
	size_t nclients;
};

/*
 * One error; text is "file:line: msg", ready to print, or "file: msg" (line
 * 0) when it concerns a file as a whole: a missing required directive, an
 * unreadable main file.
 */
struct conf_error {
	char *file;
	int line;
	char *msg;
	char *text;
};

struct conf_errors {
	struct conf_error *v;
	size_t n, cap;
	size_t dropped;          /* errors lost to the cap or to memory exhaustion */
};

#define CONF_MAX_ERRORS 100          /* after that: "too many errors" */
#define CONF_MAX_INCLUDE_DEPTH 16
#define CONF_MAX_LINE 4096           /* bytes in one line */
#define CONF_MAX_FILE (1 << 20)      /* bytes in one config file */

/*
 * Loads the configuration in path (and everything it includes).
 * Parameters
 *   path   the main file; relative includes resolve against each file's dir.
 *   confp  out: the new config (free with conf_free), NULL on failure.
 *   errs   in/out: errors are appended (zero it first; free with
 *          conf_errors_free). Every error is reported, not only the first.
 * Returns 0 on success (errs unchanged), -1 when any error was found.
 */
int conf_load(const char *path, struct conf **confp, struct conf_errors *errs);

/* Frees a config; NULL is allowed. */
void conf_free(struct conf *c);

/* Frees the messages in errs and zeroes it. */
void conf_errors_free(struct conf_errors *errs);

/*
 * Prints every error of errs to f, one per line, then a line saying how many
 * were dropped, if any.
 */
void conf_errors_print(const struct conf_errors *errs, FILE *f);

/* Lookups by id; NULL when not configured. */
const struct conf_child *conf_child_find(const struct conf *c, const char *id);
const struct conf_client *conf_client_find(const struct conf *c, const char *id);

/*
 * Whether child may claim node id below it (its claims, matched with
 * fnmatch(3)). Returns 1 or 0.
 */
int conf_child_may_claim(const struct conf_child *child, const char *node);

/* "tcp", "http" or "tcp http" for a carrier bit set; a static string. */
const char *conf_carriers_str(int carriers);

/*
 * Generates a secret for a child node or a client (cascaded -g ID; secret.c).
 * Parameters
 *   kind    "child" or "client".
 *   id      the child's node id or the client's id (checked).
 *   outdir  where ID.secret is written (mode 0600; an existing file is
 *           never overwritten).
 *   out     gets the lines to paste into both sides' configs.
 *   err     a message on failure.
 * Returns 0, or -1 with err set.
 * conf_gen_secret_for does the same with the node's own config at hand, so
 * the printed lines name the node and its urls instead of placeholders;
 * c may be NULL.
 */
int conf_gen_secret(const char *kind, const char *id, const char *outdir, FILE *out,
    char *err, size_t errlen);
int conf_gen_secret_for(const struct conf *c, const char *kind, const char *id,
    const char *outdir, FILE *out, char *err, size_t errlen);

#endif /* CASCADE_CONF_H */
